//! Use case: accept or refuse an access token, and record the session's activity.

use tessera_domain::{
    ClientContext, Instant, Role, Session, SessionId, User, UserId, UserStanding,
};

use crate::{AccessDenial, AuthEventKind, AuthService, Error};

/// The caller behind a valid access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    /// `None` for a legacy access token (SPEC §3), which belongs to no session.
    pub session_id: Option<SessionId>,
    pub roles: Vec<Role>,
    pub access_expires_at: Instant,
}

impl Principal {
    /// Whether the access token carried `role`.
    pub fn has_role(&self, role: &Role) -> bool {
        self.roles.contains(role)
    }
}

impl AuthService {
    /// Verifies `token`, refuses it if its session was revoked, and records activity.
    /// No database read unless the revocation list is unreachable.
    ///
    /// # Errors
    /// `Unauthorized` with the reason; infrastructure errors only when both the
    /// revocation list and the database are unreachable.
    pub async fn authenticate(
        &self,
        token: &str,
        client: &ClientContext,
    ) -> Result<Principal, Error> {
        let now = self.ports.clock.now();
        let claims = match self.ports.access_tokens.verify(token, now) {
            Ok(claims) => claims,
            Err(AccessDenial::Invalid) if self.ports.legacy_tokens.is_some() => {
                return self.authenticate_legacy(token, now, client).await;
            }
            Err(denial) => return Err(denial.into()),
        };
        if self.is_revoked(claims.session_id, now).await? {
            return Err(AccessDenial::SessionRevoked.into());
        }
        if let Err(error) = self.ports.activity.record(claims.session_id, now).await {
            tracing::warn!(session = %claims.session_id, error = %error, "activity not recorded");
        }
        Ok(Principal {
            user_id: claims.user_id,
            session_id: Some(claims.session_id),
            roles: claims.roles,
            access_expires_at: claims.expires_at,
        })
    }

    /// A token of the former system, valid until its own `exp` during a migration.
    /// It has no session, so nothing can revoke or refresh it; every use is audited.
    /// The token only says who; the user must exist and be active, and the roles are
    /// the stored ones — a forged `roles` claim grants nothing.
    async fn authenticate_legacy(
        &self,
        token: &str,
        now: Instant,
        client: &ClientContext,
    ) -> Result<Principal, Error> {
        let Some(legacy) = &self.ports.legacy_tokens else {
            return Err(AccessDenial::Invalid.into());
        };
        let claims = legacy.verify(token, now)?;
        let user = self
            .ports
            .users
            .find_by_id(claims.user_id)
            .await?
            .filter(|user| user.standing() == UserStanding::Active)
            .ok_or(AccessDenial::Invalid)?;
        self.audit(
            AuthEventKind::LegacyToken,
            now,
            Some(user.id),
            None,
            client,
            None,
        )
        .await;
        Ok(Principal {
            user_id: user.id,
            session_id: None,
            roles: user.roles,
            access_expires_at: claims.expires_at,
        })
    }

    /// The revocation list, or the database when the list cannot answer: a cache
    /// outage must not let revoked sessions back in.
    pub(crate) async fn is_revoked(
        &self,
        session_id: SessionId,
        now: Instant,
    ) -> Result<bool, Error> {
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

    /// The caller's user and session (`GET /v1/auth/me`); no session for a legacy
    /// token.
    ///
    /// # Errors
    /// `Unauthorized(SessionRevoked)` when the session ended in the meantime;
    /// `NotFound("user")`; infrastructure errors.
    pub async fn current_user(
        &self,
        principal: &Principal,
    ) -> Result<(User, Option<Session>), Error> {
        let Some(session_id) = principal.session_id else {
            // A legacy token has no session.
            let user = self
                .ports
                .users
                .find_by_id(principal.user_id)
                .await?
                .ok_or(Error::NotFound("user"))?;
            return Ok((user, None));
        };
        let (session, user) = self
            .ports
            .sessions
            .find_session_with_user(session_id)
            .await?
            // A session of another user than the token names is as good as none.
            .filter(|(session, _)| {
                session.is_live_at(self.ports.clock.now()) && session.user_id == principal.user_id
            })
            .ok_or(AccessDenial::SessionRevoked)?;
        let user = user.ok_or(Error::NotFound("user"))?;
        let session = Some(session);
        Ok((user, session))
    }
}
