//! Use cases that keep storage bounded and let operators read the audit trail.

use tessera_domain::{EmailAddress, Instant};

use crate::{AuditQuery, AuditRecord, AuthService, Error};

/// What one purge deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PurgeReport {
    pub sessions: usize,
    pub audit_events: usize,
}

impl AuthService {
    /// Deletes sessions (with their tokens) that ended long enough ago that none of
    /// their access tokens can still be live — so a restart can still refill the
    /// revocation list — clears sealed responses whose grace window has passed, and
    /// deletes audit events past their retention.
    ///
    /// # Errors
    /// Infrastructure errors.
    pub async fn purge(&self) -> Result<PurgeReport, Error> {
        let now = self.ports.clock.now();
        let ended_before = now - self.policy.access_ttl() - self.options.clock_leeway;
        let sealed_before = now - self.policy.reuse_grace();
        let sessions = self
            .ports
            .sessions
            .purge(ended_before, sealed_before)
            .await?;
        let audit_events = self
            .ports
            .audit
            .purge_before(now - self.options.audit_retention)
            .await?;
        Ok(PurgeReport {
            sessions,
            audit_events,
        })
    }

    /// Audit events since `since`, newest first, of one user when `email` is given.
    ///
    /// # Errors
    /// `NotFound("user")` for an unknown e-mail; infrastructure errors.
    pub async fn audit_trail(
        &self,
        email: Option<&EmailAddress>,
        since: Instant,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, Error> {
        let user_id = match email {
            Some(email) => Some(self.user_by_email(email).await?.id),
            None => None,
        };
        self.ports
            .audit
            .events(AuditQuery {
                user_id,
                since,
                limit,
            })
            .await
    }
}
