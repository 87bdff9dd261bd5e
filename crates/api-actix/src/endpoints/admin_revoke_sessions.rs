//! `DELETE /v1/admin/users/{user_id}/sessions`: an admin ends every session of a user.

use actix_web::{HttpResponse, delete, web};
use tessera_application::{Actor, AuthService};

use crate::dto::Revoked;
use crate::problem::Problem;
use crate::{ApiError, Authenticated};

/// Revoke every session of a user (admins only). The user can log in again.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "Sessions revoked; how many", body = Revoked),
        (status = 401, description = "`unauthorized` or `session_revoked`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: the caller lacks the `admin` role; or `csrf_failed`: authenticated by the access cookie, without the matching `X-CSRF-Token` or from a foreign origin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "`internal_error`: an unexpected error (logged, never shown)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/v1/admin/users/{user_id}/sessions")]
pub(crate) async fn revoke_user_sessions(
    service: web::Data<AuthService>,
    caller: Authenticated,
    user_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = super::admin_path_user(&caller, &user_id)?;
    let revoked = service
        .revoke_sessions_of_user(Actor::Admin(&caller.principal), user, &caller.client)
        .await?;
    Ok(HttpResponse::Ok().json(Revoked { revoked }))
}
