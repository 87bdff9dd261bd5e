//! Refresh tokens and the refresh decision: SPEC §2 rules 1–8, in that order.

use crate::{
    ClientContext, Instant, IpChangePolicy, RefreshTokenId, RevocationReason, Session, SessionId,
    SessionPolicy, UserStanding,
};

/// One generation of a session's refresh-token family, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub id: RefreshTokenId,
    pub session_id: SessionId,
    /// 1 for the token issued at login, one more for each rotation.
    pub generation: u32,
    pub issued_at: Instant,
    /// When this token was rotated (exchanged for its successor).
    pub used_at: Option<Instant>,
}

impl RefreshToken {
    /// The token issued at login.
    pub const fn first(id: RefreshTokenId, session_id: SessionId, now: Instant) -> Self {
        Self {
            id,
            session_id,
            generation: 1,
            issued_at: now,
            used_at: None,
        }
    }

    /// The token that replaces this one when it is rotated at `now`.
    pub const fn successor(&self, id: RefreshTokenId, now: Instant) -> Self {
        Self {
            id,
            session_id: self.session_id,
            generation: self.generation.saturating_add(1),
            issued_at: now,
            used_at: None,
        }
    }
}

/// Why a refresh is refused. Each has a stable, machine-readable `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum RefreshRefusal {
    #[error("the refresh token is not valid")]
    TokenInvalid,
    #[error("the session has been revoked")]
    SessionRevoked,
    #[error("the session has reached its absolute lifetime; log in again")]
    LifetimeExceeded,
    #[error("the session has been idle for too long; log in again")]
    IdleTimeout,
    #[error("the user is disabled")]
    UserDisabled,
    #[error("the request does not come from the client that owns the session")]
    ClientMismatch,
    #[error("the refresh token was already used; the session has been revoked")]
    Reused,
}

impl RefreshRefusal {
    /// The stable code clients and dashboards rely on (SPEC §2, §4).
    pub const fn code(self) -> &'static str {
        match self {
            Self::TokenInvalid => "refresh_token_invalid",
            Self::SessionRevoked => "session_revoked",
            Self::LifetimeExceeded => "session_lifetime_exceeded",
            Self::IdleTimeout => "session_idle_timeout",
            Self::UserDisabled => "user_disabled",
            Self::ClientMismatch => "client_mismatch",
            Self::Reused => "refresh_token_reused",
        }
    }

    /// Whether this refusal must also revoke the whole session (every generation).
    pub const fn revokes_session(self) -> bool {
        matches!(self, Self::Reused)
    }
}

/// Everything the policy looks at when a known refresh token is presented.
#[derive(Debug, Clone, Copy)]
pub struct RefreshAttempt<'a> {
    pub token: &'a RefreshToken,
    pub session: &'a Session,
    pub user: UserStanding,
    /// The activity store's last record for the session, if it had one.
    pub recorded_activity: Option<Instant>,
    pub client: &'a ClientContext,
    pub now: Instant,
}

/// What to do with an accepted refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshAction {
    /// Rule 8: mark the token used and issue the next generation.
    Rotate,
    /// Rule 7, inside the grace window: answer with the response the first request
    /// got. Nothing changes.
    RepeatWithinGrace,
}

/// An accepted refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshDecision {
    pub action: RefreshAction,
    /// The request came from another IP than the session's and the policy is `audit`:
    /// accept, but say so in the audit trail.
    pub ip_changed: bool,
}

impl SessionPolicy {
    /// Decides a refresh by SPEC §2 rules 1–8, in order. `attempt` is `None` when the
    /// presented token is unknown (no such id, or its secret does not match).
    ///
    /// # Errors
    /// The first rule that refuses. [`RefreshRefusal::revokes_session`] tells whether
    /// the caller must also revoke the session.
    pub fn decide_refresh(
        &self,
        attempt: Option<RefreshAttempt<'_>>,
    ) -> Result<RefreshDecision, RefreshRefusal> {
        // Rule 1.
        let Some(attempt) = attempt else {
            return Err(RefreshRefusal::TokenInvalid);
        };
        let RefreshAttempt {
            token,
            session,
            user,
            recorded_activity,
            client,
            now,
        } = attempt;
        if token.session_id != session.id {
            return Err(RefreshRefusal::TokenInvalid);
        }
        // Rule 2. A session ended because its user was disabled says so while the
        // user stays disabled: "log in again" would not help them.
        if session.revoked_at.is_some() {
            let disabled = session.revocation_reason == Some(RevocationReason::UserDisabled)
                && user == UserStanding::Disabled;
            return Err(if disabled {
                RefreshRefusal::UserDisabled
            } else {
                RefreshRefusal::SessionRevoked
            });
        }
        // Rule 3.
        if now >= session.absolute_expires_at {
            return Err(RefreshRefusal::LifetimeExceeded);
        }
        // Rule 4.
        if now >= session.last_activity(recorded_activity) + self.idle_timeout() {
            return Err(RefreshRefusal::IdleTimeout);
        }
        // Rule 5.
        if user == UserStanding::Disabled {
            return Err(RefreshRefusal::UserDisabled);
        }
        // Rule 6.
        let ip_changed = self.check_binding(session, client)?;
        // Rule 7, then rule 8.
        let action = match token.used_at {
            Some(rotated_at) if now < rotated_at + self.reuse_grace() => {
                RefreshAction::RepeatWithinGrace
            }
            Some(_) => return Err(RefreshRefusal::Reused),
            None => RefreshAction::Rotate,
        };
        Ok(RefreshDecision { action, ip_changed })
    }

    /// Rule 6. Returns whether the IP changed under an `audit` policy.
    fn check_binding(
        &self,
        session: &Session,
        client: &ClientContext,
    ) -> Result<bool, RefreshRefusal> {
        if self.bind_user_agent() && session.client.user_agent != client.user_agent {
            return Err(RefreshRefusal::ClientMismatch);
        }
        let ip_changed = session.client.ip != client.ip;
        match self.ip_change() {
            IpChangePolicy::Allow => Ok(false),
            IpChangePolicy::Audit => Ok(ip_changed),
            IpChangePolicy::Deny if ip_changed => Err(RefreshRefusal::ClientMismatch),
            IpChangePolicy::Deny => Ok(false),
        }
    }
}
