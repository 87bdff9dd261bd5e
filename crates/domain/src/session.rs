//! A session: one login on one device, with its lifetimes and its revocation.

use std::net::IpAddr;

use chrono::TimeDelta;

use crate::{Instant, SessionId, SessionPolicy, UserId};

/// Who is calling, as far as the transport can tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientContext {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

/// Why a session ended before its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationReason {
    Logout,
    LogoutAll,
    Admin,
    PasswordChange,
    /// A rotated refresh token was replayed after the grace window.
    Reuse,
    UserDisabled,
}

impl RevocationReason {
    /// The stored spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::LogoutAll => "logout_all",
            Self::Admin => "admin",
            Self::PasswordChange => "password_change",
            Self::Reuse => "reuse",
            Self::UserDisabled => "user_disabled",
        }
    }

    /// Reads the stored spelling back.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Logout,
            Self::LogoutAll,
            Self::Admin,
            Self::PasswordChange,
            Self::Reuse,
            Self::UserDisabled,
        ]
        .into_iter()
        .find(|reason| reason.as_str() == s)
    }
}

/// One login on one device. It owns a family of refresh tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub created_at: Instant,
    /// `created_at + absolute_lifetime`, fixed at login so a later policy change
    /// cannot lengthen a running session.
    pub absolute_expires_at: Instant,
    /// The last successful refresh (the login counts as the first).
    pub last_refreshed_at: Instant,
    pub revoked_at: Option<Instant>,
    pub revocation_reason: Option<RevocationReason>,
    /// The client that logged in, for binding checks and the session list.
    pub client: ClientContext,
}

impl Session {
    /// A new session at login.
    pub fn start(
        id: SessionId,
        user_id: UserId,
        client: ClientContext,
        now: Instant,
        policy: &SessionPolicy,
    ) -> Self {
        Self {
            id,
            user_id,
            created_at: now,
            absolute_expires_at: now + policy.absolute_lifetime(),
            last_refreshed_at: now,
            revoked_at: None,
            revocation_reason: None,
            client,
        }
    }

    /// Whether the session is live and not idle at `now` (rules 2–4 of SPEC §2): what
    /// session lists call "active".
    pub fn is_active_at(
        &self,
        recorded_activity: Option<Instant>,
        now: Instant,
        policy: &SessionPolicy,
    ) -> bool {
        self.is_live_at(now) && now < self.last_activity(recorded_activity) + policy.idle_timeout()
    }

    /// Whether the session may still be used at `now`, idle timeout aside.
    pub fn is_live_at(&self, now: Instant) -> bool {
        self.revoked_at.is_none() && now < self.absolute_expires_at
    }

    /// The later of the activity store's record and the last refresh. A missing record
    /// (store down, or nothing written yet) falls back to the last refresh, never to
    /// "now", so the idle timeout cannot fail open.
    pub fn last_activity(&self, recorded: Option<Instant>) -> Instant {
        recorded.map_or(self.last_refreshed_at, |seen| {
            seen.max(self.last_refreshed_at)
        })
    }

    /// When an access token issued at `now` expires: `access_ttl` later, but never
    /// after the session's absolute end.
    pub fn access_expires_at(&self, now: Instant, policy: &SessionPolicy) -> Instant {
        (now + policy.access_ttl()).min(self.absolute_expires_at)
    }

    /// The worst-case remaining life of a refresh token issued at `now`:
    /// `min(idle_timeout, absolute_expires_at - now)`, never negative. This is the
    /// `refresh_expires_in` clients are told and a refresh cookie's `Max-Age`.
    pub fn refresh_expires_in(&self, now: Instant, policy: &SessionPolicy) -> TimeDelta {
        policy
            .idle_timeout()
            .min(self.absolute_expires_at - now)
            .max(TimeDelta::zero())
    }

    /// Ends the session. The first reason and time are kept: revoking twice changes
    /// nothing.
    pub fn revoke(&mut self, reason: RevocationReason, now: Instant) {
        if self.revoked_at.is_none() {
            self.revoked_at = Some(now);
            self.revocation_reason = Some(reason);
        }
    }
}
