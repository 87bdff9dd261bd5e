//! `POST /v1/admin/users/{user_id}/enable`: an admin re-enables a user.

use actix_web::{HttpResponse, post, web};
use tessera_application::{Actor, AuthService};

use crate::problem::Problem;
use crate::{ApiError, Authenticated};

/// Re-enable a disabled user (admins only): they can log in again; ended sessions stay ended.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "The user's id")),
    responses(
        (status = 204, description = "User enabled"),
        (status = 401, description = "`unauthorized` or `session_revoked`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: the caller lacks the `admin` role; or `csrf_failed`: authenticated by the access cookie, without the matching `X-CSRF-Token` or from a foreign origin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "`internal_error`: an unexpected error (logged, never shown)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/admin/users/{user_id}/enable")]
pub(crate) async fn enable_user(
    service: web::Data<AuthService>,
    caller: Authenticated,
    user_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = super::admin_path_user(&caller, &user_id)?;
    service
        .set_user_disabled(Actor::Admin(&caller.principal), user, false, &caller.client)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
