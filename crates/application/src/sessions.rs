//! Use cases: a user sees their sessions and ends one or all of them.

use tessera_domain::{
    ClientContext, Instant, RevocationReason, Session, SessionId, UserId, device_label,
};

use crate::{AuthEventKind, AuthService, Error, Principal};

/// One active session as its owner (or an admin) sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOverview {
    pub session: Session,
    /// "Firefox on Linux", from the User-Agent at login.
    pub device: String,
    /// The later of the last authenticated request and the last refresh.
    pub last_used_at: Instant,
    /// Whether this is the session of the access token that asked.
    pub current: bool,
}

impl AuthService {
    /// The caller's active sessions (live and not idle), most recent login first.
    ///
    /// # Errors
    /// Infrastructure errors.
    pub async fn list_sessions(
        &self,
        principal: &Principal,
    ) -> Result<Vec<SessionOverview>, Error> {
        self.active_sessions(principal.user_id, principal.session_id)
            .await
    }

    /// Ends one of the caller's sessions. Another user's session is `NotFound`, like
    /// one that does not exist: its existence is not the caller's business. So is one
    /// that has already ended: it is not in the list, and a second revocation would
    /// only audit a revocation that did not happen.
    ///
    /// # Errors
    /// `NotFound("session")`; infrastructure errors.
    pub async fn revoke_session(
        &self,
        principal: &Principal,
        id: SessionId,
        client: &ClientContext,
    ) -> Result<(), Error> {
        let now = self.ports.clock.now();
        let session = self
            .ports
            .sessions
            .find_session(id)
            .await?
            .filter(|session| session.user_id == principal.user_id && session.is_live_at(now))
            .ok_or(Error::NotFound("session"))?;
        self.end_session(&session, RevocationReason::Logout, now)
            .await?;
        self.audit(
            AuthEventKind::SessionRevoked,
            now,
            Some(session.user_id),
            Some(session.id),
            client,
            None,
        )
        .await;
        Ok(())
    }

    /// Ends every session of the caller, this one included. Returns how many.
    ///
    /// # Errors
    /// Infrastructure errors.
    pub async fn logout_all(
        &self,
        principal: &Principal,
        client: &ClientContext,
    ) -> Result<usize, Error> {
        let now = self.ports.clock.now();
        let ended = self
            .end_sessions_of(principal.user_id, None, RevocationReason::LogoutAll, now)
            .await?;
        self.audit(
            AuthEventKind::LogoutAll,
            now,
            Some(principal.user_id),
            principal.session_id,
            client,
            None,
        )
        .await;
        Ok(ended)
    }

    /// The user's sessions that are live and not idle, with the caller's marked.
    pub(crate) async fn active_sessions(
        &self,
        user: UserId,
        current: Option<SessionId>,
    ) -> Result<Vec<SessionOverview>, Error> {
        let now = self.ports.clock.now();
        let sessions = self.ports.sessions.list_active_for_user(user, now).await?;
        let mut overviews = Vec::with_capacity(sessions.len());
        for session in sessions {
            let (recorded, _) = self.last_seen(&session).await;
            if !session.is_active_at(recorded, now, &self.policy) {
                continue;
            }
            overviews.push(SessionOverview {
                device: device_label(session.client.user_agent.as_deref()),
                last_used_at: session.last_activity(recorded),
                current: Some(session.id) == current,
                session,
            });
        }
        Ok(overviews)
    }

    /// Revokes every live session of `user` except `keep`, in storage and in the
    /// caches. Returns how many ended.
    pub(crate) async fn end_sessions_of(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        reason: RevocationReason,
        now: Instant,
    ) -> Result<usize, Error> {
        let ended = self
            .ports
            .sessions
            .revoke_all_for_user(user, keep, reason, now)
            .await?;
        // Without the sessions at hand, bar them for the longest an access token lives.
        let until = now + self.policy.access_ttl() + self.options.clock_leeway;
        for id in &ended {
            self.forget_session(*id, until).await;
        }
        Ok(ended.len())
    }
}
