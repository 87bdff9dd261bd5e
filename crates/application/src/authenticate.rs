//! Use case: accept or refuse an access token, and record the session's activity.

use tessera_domain::{Instant, Role, Session, SessionId, User, UserId};

use crate::{AccessDenial, AuthService, Error};

/// The caller behind a valid access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub roles: Vec<Role>,
    pub access_expires_at: Instant,
}

impl AuthService {
    /// Verifies `token`, refuses it if its session was revoked, and records activity.
    /// No database read unless the revocation list is unreachable.
    ///
    /// # Errors
    /// `Unauthorized` with the reason; infrastructure errors only when both the
    /// revocation list and the database are unreachable.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, Error> {
        let now = self.ports.clock.now();
        let claims = self.ports.access_tokens.verify(token, now)?;
        if self.is_revoked(claims.session_id, now).await? {
            return Err(AccessDenial::SessionRevoked.into());
        }
        if let Err(error) = self.ports.activity.record(claims.session_id, now).await {
            tracing::warn!(session = %claims.session_id, error = %error, "activity not recorded");
        }
        Ok(Principal {
            user_id: claims.user_id,
            session_id: claims.session_id,
            roles: claims.roles,
            access_expires_at: claims.expires_at,
        })
    }

    /// The revocation list, or the database when the list cannot answer: a cache
    /// outage must not let revoked sessions back in.
    async fn is_revoked(&self, session_id: SessionId, now: Instant) -> Result<bool, Error> {
        match self.ports.revocations.contains(session_id, now).await {
            Ok(revoked) => Ok(revoked),
            Err(error) => {
                tracing::warn!(
                    session = %session_id,
                    error = %error,
                    "revocation list unavailable; checking the database"
                );
                let session = self.ports.sessions.find_session(session_id).await?;
                Ok(!session.is_some_and(|session| session.is_live_at(now)))
            }
        }
    }

    /// The caller's user and session (`GET /v1/auth/me`).
    ///
    /// # Errors
    /// `Unauthorized(SessionRevoked)` when the session ended in the meantime;
    /// `NotFound("user")`; infrastructure errors.
    pub async fn current_user(&self, principal: &Principal) -> Result<(User, Session), Error> {
        let session = self
            .ports
            .sessions
            .find_session(principal.session_id)
            .await?
            .filter(|session| session.is_live_at(self.ports.clock.now()))
            .ok_or(AccessDenial::SessionRevoked)?;
        let user = self
            .ports
            .users
            .find_by_id(principal.user_id)
            .await?
            .ok_or(Error::NotFound("user"))?;
        Ok((user, session))
    }
}
