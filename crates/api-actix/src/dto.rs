//! Response bodies shared by several endpoints.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tessera_application::{SessionOverview, TokenGrant};
use tessera_domain::{Session, User};
use utoipa::ToSchema;
use uuid::Uuid;

/// A token pair (SPEC §4).
// `Debug` is written by hand below: this holds both tokens.
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT (`typ: at+jwt`) to send as `Authorization: Bearer <token>`.
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: i64,
    /// Opaque; rotates on every use. Store it safely. Absent in cookie transport,
    /// where it travels in an `HttpOnly` cookie instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub refresh_token: Option<String>,
    /// Seconds the refresh token stays usable at worst: min(idle timeout, time to the
    /// session's absolute end). Activity extends it.
    #[schema(example = 604_800)]
    pub refresh_expires_in: i64,
    pub session_id: Uuid,
    /// Cookie transport only: the value to echo in `X-CSRF-Token` on refresh and
    /// logout (also in the readable CSRF cookie). The same for the whole session.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub csrf_token: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .field("refresh_expires_in", &self.refresh_expires_in)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

impl From<TokenGrant> for TokenResponse {
    fn from(grant: TokenGrant) -> Self {
        Self {
            access_token: grant.access_token.expose().to_owned(),
            token_type: "Bearer",
            expires_in: grant.expires_in.num_seconds(),
            refresh_token: Some(grant.refresh_token.expose().to_owned()),
            refresh_expires_in: grant.refresh_expires_in.num_seconds(),
            session_id: grant.session_id.as_uuid(),
            csrf_token: None,
        }
    }
}

/// A user as clients see it (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub roles: Vec<String>,
    pub created_at: DateTime<Utc>,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.as_uuid(),
            email: user.email.as_str().to_owned(),
            roles: user
                .roles
                .iter()
                .map(|role| role.as_str().to_owned())
                .collect(),
            created_at: user.created_at,
        }
    }
}

/// A session as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_refreshed_at: DateTime<Utc>,
    /// No refresh at or after this instant, whatever the activity.
    pub absolute_expires_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl From<&Session> for SessionView {
    fn from(session: &Session) -> Self {
        Self {
            id: session.id.as_uuid(),
            created_at: session.created_at,
            last_refreshed_at: session.last_refreshed_at,
            absolute_expires_at: session.absolute_expires_at,
            ip: session.client.ip.map(|ip| ip.to_string()),
            user_agent: session.client.user_agent.clone(),
        }
    }
}

/// One active session in a session list.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionItem {
    pub id: Uuid,
    /// Read from the User-Agent at login.
    #[schema(example = "Firefox on Linux")]
    pub device: String,
    /// The address that logged in.
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The later of the last authenticated request and the last refresh.
    pub last_used_at: DateTime<Utc>,
    /// No refresh at or after this instant, whatever the activity.
    pub absolute_expires_at: DateTime<Utc>,
    /// Whether this is the session of the access token that asked (always `false` in
    /// an admin's view).
    pub current: bool,
}

impl From<SessionOverview> for SessionItem {
    fn from(overview: SessionOverview) -> Self {
        let session = overview.session;
        Self {
            id: session.id.as_uuid(),
            device: overview.device,
            ip: session.client.ip.map(|ip| ip.to_string()),
            user_agent: session.client.user_agent,
            created_at: session.created_at,
            last_used_at: overview.last_used_at,
            absolute_expires_at: session.absolute_expires_at,
            current: overview.current,
        }
    }
}

/// A list of active sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionItem>,
}

impl From<Vec<SessionOverview>> for SessionList {
    fn from(overviews: Vec<SessionOverview>) -> Self {
        Self {
            sessions: overviews.into_iter().map(SessionItem::from).collect(),
        }
    }
}

/// How many sessions a request ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {
    #[schema(example = 3)]
    pub revoked: usize,
}
