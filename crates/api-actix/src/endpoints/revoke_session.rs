//! `DELETE /v1/auth/sessions/{id}`: end one of the caller's sessions.

use actix_web::{HttpResponse, delete, web};
use tessera_application::AuthService;
use tessera_domain::SessionId;

use crate::problem::Problem;
use crate::{ApiError, Authenticated};

/// Revoke one of the user's sessions (e.g. a lost device).
#[utoipa::path(
    tag = "sessions",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The session's id")),
    responses(
        (status = 204, description = "Session revoked"),
        (status = 401, description = "`unauthorized` or `session_revoked`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_failed`: authenticated by the access cookie, without the matching `X-CSRF-Token` or from a foreign origin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such session of this user (another user's and a malformed id alike)", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "`internal_error`: an unexpected error (logged, never shown)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/v1/auth/sessions/{id}")]
pub(crate) async fn revoke_session(
    service: web::Data<AuthService>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: SessionId = super::path_id(&id, "session")?;
    service
        .revoke_session(&caller.principal, id, &caller.client)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
