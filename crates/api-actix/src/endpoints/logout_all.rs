//! `POST /v1/auth/logout-all`: end every session of the caller.

use actix_web::{HttpResponse, post, web};
use tessera_application::AuthService;

use crate::dto::Revoked;
use crate::problem::Problem;
use crate::{ApiError, Authenticated};

/// Revoke every session of the user, this one included ("log out everywhere").
#[utoipa::path(
    tag = "sessions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Sessions revoked; how many", body = Revoked),
        (status = 401, description = "`unauthorized` or `session_revoked`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_failed`: authenticated by the access cookie, without the matching `X-CSRF-Token` or from a foreign origin", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "`internal_error`: an unexpected error (logged, never shown)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/auth/logout-all")]
pub(crate) async fn logout_all(
    service: web::Data<AuthService>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let revoked = service
        .logout_all(&caller.principal, &caller.client)
        .await?;
    Ok(HttpResponse::Ok().json(Revoked { revoked }))
}
