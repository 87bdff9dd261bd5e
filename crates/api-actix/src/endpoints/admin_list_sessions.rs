//! `GET /v1/admin/users/{user_id}/sessions`: an admin sees a user's sessions.

use actix_web::{HttpResponse, get, web};
use tessera_application::{Actor, AuthService};

use crate::dto::SessionList;
use crate::problem::Problem;
use crate::{ApiError, Authenticated};

/// A user's active sessions (admins only; `current` is always `false`).
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "Active sessions", body = SessionList),
        (status = 401, description = "`unauthorized` or `session_revoked`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller lacks the `admin` role", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "`internal_error`: an unexpected error (logged, never shown)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/admin/users/{user_id}/sessions")]
pub(crate) async fn list_user_sessions(
    service: web::Data<AuthService>,
    caller: Authenticated,
    user_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = super::admin_path_user(&caller, &user_id)?;
    let sessions = service
        .sessions_of_user(Actor::Admin(&caller.principal), user)
        .await?;
    Ok(super::private_json(SessionList::from(sessions)))
}
