//! `GET /v1/auth/verify`: forward authentication for gateways (nginx `auth_request`,
//! Traefik ForwardAuth, Envoy ext_authz).

use actix_web::http::header::{self, HeaderName};
use actix_web::{HttpResponse, get};

use crate::problem::Problem;
use crate::{ApiError, Authenticated};

/// The user id of the caller.
pub(crate) const AUTH_USER: HeaderName = HeaderName::from_static("x-auth-user");
/// The session id; empty for a legacy token, which belongs to no session.
pub(crate) const AUTH_SESSION: HeaderName = HeaderName::from_static("x-auth-session");
/// The roles of the access token, comma-separated.
pub(crate) const AUTH_ROLES: HeaderName = HeaderName::from_static("x-auth-roles");

/// Check an access token for a gateway: its signature, expiry and session revocation,
/// recording the session's activity, with no database round trip. The identity comes
/// back in headers for the gateway to pass upstream; the body is empty.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Valid; identity in `X-Auth-User`, `X-Auth-Session` (empty for a legacy token) and `X-Auth-Roles` (comma-separated)",
            headers(
                ("X-Auth-User" = String, description = "The user id"),
                ("X-Auth-Session" = String, description = "The session id"),
                ("X-Auth-Roles" = String, description = "Roles, comma-separated"),
            )),
        (status = 401, description = "`unauthorized` (missing, malformed or expired token) or `session_revoked`", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "`internal_error`: an unexpected error (logged, never shown)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable, when it is needed: for a legacy token's user, or for a session while the revocation list is down", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/auth/verify")]
pub(crate) async fn verify(caller: Authenticated) -> Result<HttpResponse, ApiError> {
    let principal = &caller.principal;
    let roles = principal
        .roles
        .iter()
        .map(|role| role.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let session = principal
        .session_id
        .map(|id| id.to_string())
        .unwrap_or_default();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((AUTH_USER, principal.user_id.to_string()))
        .insert_header((AUTH_SESSION, session))
        .insert_header((AUTH_ROLES, roles))
        .finish())
}
