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
}
