//! Audit events: every auth decision becomes one, in the audit sink and in the log.

use tessera_domain::{ClientContext, Instant, SessionId, UserId};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthEventKind {
    Registered,
    LoginSucceeded,
    LoginFailed,
    Refreshed,
    /// A duplicate inside the grace window got the first response again.
    RefreshRepeated,
    RefreshRefused,
    ReuseDetected,
    Logout,
    LogoutAll,
    /// One session ended by its owner from the session list, or by an admin.
    SessionRevoked,
    PasswordChanged,
    /// A password change refused because the current password was wrong.
    PasswordChangeFailed,
    UserDisabled,
    UserEnabled,
    /// A legacy access token (SPEC §3) was used.
    LegacyToken,
    /// A throttle started refusing: once per episode, not per refused request. The
    /// code says which: `login`, `register`, `password`, `refresh`, `introspect` (the
    /// caller's IP bucket) or `account` (an account's login backoff).
    RateLimited,
}

impl AuthEventKind {
    /// The stored spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::Refreshed => "refreshed",
            Self::RefreshRepeated => "refresh_repeated",
            Self::RefreshRefused => "refresh_refused",
            Self::ReuseDetected => "refresh_token_reused",
            Self::Logout => "logout",
            Self::LogoutAll => "logout_all",
            Self::SessionRevoked => "session_revoked",
            Self::PasswordChanged => "password_changed",
            Self::PasswordChangeFailed => "password_change_failed",
            Self::UserDisabled => "user_disabled",
            Self::UserEnabled => "user_enabled",
            Self::LegacyToken => "legacy_token",
            Self::RateLimited => "rate_limited",
        }
    }
}

/// One audited decision: who, which session, from where, what, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthEvent {
    pub at: Instant,
    pub kind: AuthEventKind,
    pub user_id: Option<UserId>,
    pub session_id: Option<SessionId>,
    pub client: ClientContext,
    /// The refusal code, or a short note (e.g. `ip_changed`, `activity_unavailable`).
    pub code: Option<&'static str>,
    /// Who acted, when it is not the user themself: the admin's id.
    pub actor: Option<UserId>,
}

/// A stored audit event, as read back for operators (`tessera audit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub at: Instant,
    /// [`AuthEventKind::as_str`] of the event.
    pub kind: String,
    pub user_id: Option<UserId>,
    pub session_id: Option<SessionId>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub code: Option<String>,
    pub actor: Option<UserId>,
}

/// Which audit events to read: newest first, at most `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditQuery {
    pub user_id: Option<UserId>,
    pub since: Instant,
    pub limit: usize,
}
