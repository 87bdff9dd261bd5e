//! Use case: end the current session, everywhere, at once.

use tessera_domain::{ClientContext, Instant, RevocationReason, Session, SessionId, TimeDelta};

use crate::{AccessDenial, AuthEventKind, AuthService, Error, Principal};

impl AuthService {
    /// Revokes the caller's session: its refresh tokens stop at once, and its access
    /// tokens are refused on the next request through the revocation list.
    ///
    /// # Errors
    /// `NotFound("session")` when the session does not exist; infrastructure errors.
    pub async fn logout(&self, principal: &Principal, client: &ClientContext) -> Result<(), Error> {
        let session = self
            .ports
            .sessions
            .find_session(principal.session_id.ok_or(Error::NotFound("session"))?)
            .await?
            .ok_or(Error::NotFound("session"))?;
        let now = self.ports.clock.now();
        // The token may have passed the revocation list (e.g. one refilled after a
        // restart); the database has the last word.
        if !session.is_live_at(now) {
            return Err(AccessDenial::SessionRevoked.into());
        }
        self.end_session(&session, RevocationReason::Logout, now)
            .await?;
        self.audit(
            AuthEventKind::Logout,
            now,
            Some(session.user_id),
            Some(session.id),
            client,
            None,
        )
        .await;
        Ok(())
    }

    /// Revokes `session` in storage, then in the revocation list and the activity
    /// store. The database write is the one that must succeed; the caches are best
    /// effort because authentication falls back to the database when they fail.
    pub(crate) async fn end_session(
        &self,
        session: &Session,
        reason: RevocationReason,
        now: Instant,
    ) -> Result<(), Error> {
        self.ports.sessions.revoke(session.id, reason, now).await?;
        // No access token of this session is accepted past this instant.
        let until = session.access_expires_at(now, &self.policy) + self.options.clock_leeway;
        self.forget_session(session.id, until).await;
        Ok(())
    }

    /// After a revocation is stored: bar the session's access tokens until `until`
    /// and drop its activity. Both are caches, so failures are logged, not fatal:
    /// authentication falls back to the database when the list cannot answer.
    pub(crate) async fn forget_session(&self, id: SessionId, until: Instant) {
        if let Err(error) = self.ports.revocations.insert(id, until).await {
            tracing::warn!(session = %id, error = %error, "revocation not cached");
        }
        if let Err(error) = self.ports.activity.forget(id).await {
            tracing::warn!(session = %id, error = %error, "activity not cleared");
        }
    }
}

impl AuthService {
    /// Refills the revocation list from the database at start: every session revoked
    /// recently enough that one of its access tokens may still be unexpired. Without
    /// this a restart (or a new node) would accept them again.
    ///
    /// # Errors
    /// Infrastructure errors of the database or the revocation list.
    pub async fn restore_revocations(&self) -> Result<usize, Error> {
        self.sync_revocations(self.policy.access_ttl() + self.options.clock_leeway)
            .await
    }

    /// Copies into the revocation list the sessions revoked in the last `window` —
    /// by this node, another node, or the operator's `tessera user disable`. Run
    /// periodically with a window a little longer than the period, it bounds how long
    /// a revocation made elsewhere takes to reach this node's list, even without a
    /// shared store. Returns how many entries it (re)wrote.
    ///
    /// # Errors
    /// Infrastructure errors of the database or the revocation list.
    pub async fn sync_revocations(&self, window: TimeDelta) -> Result<usize, Error> {
        let now = self.ports.clock.now();
        // Older revocations cannot bar a live token any more.
        let window = window.min(self.policy.access_ttl() + self.options.clock_leeway);
        let revoked = self.ports.sessions.revoked_since(now - window).await?;
        let mut restored = 0;
        for session in &revoked {
            let Some(revoked_at) = session.revoked_at else {
                continue;
            };
            let until =
                session.access_expires_at(revoked_at, &self.policy) + self.options.clock_leeway;
            if until > now {
                self.ports.revocations.insert(session.id, until).await?;
                restored += 1;
            }
        }
        Ok(restored)
    }
}
