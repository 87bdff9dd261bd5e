//! `GET /v1/auth/sessions`: the caller's active sessions.

use actix_web::{HttpResponse, get, web};
use tessera_application::AuthService;

use crate::dto::SessionList;
use crate::problem::Problem;
use crate::{ApiError, Authenticated};

/// The user's active sessions (live and not idle), most recent login first; the
/// caller's own is marked `current`.
#[utoipa::path(
    tag = "sessions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Active sessions", body = SessionList),
        (status = 401, description = "`unauthorized` or `session_revoked`", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "`internal_error`: an unexpected error (logged, never shown)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/auth/sessions")]
pub(crate) async fn list_sessions(
    service: web::Data<AuthService>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let sessions = service.list_sessions(&caller.principal).await?;
    Ok(super::private_json(SessionList::from(sessions)))
}
