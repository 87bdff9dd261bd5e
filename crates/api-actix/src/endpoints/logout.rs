//! `POST /v1/auth/logout`: end the caller's session.

use actix_web::{HttpResponse, post, web};
use tessera_application::AuthService;

use crate::problem::Problem;
use crate::{ApiError, Authenticated};

/// Revoke the current session: its refresh token stops at once and its access tokens
/// are refused from the next request on.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Session revoked"),
        (status = 401, description = "`unauthorized` or `session_revoked`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/auth/logout")]
pub(crate) async fn logout(
    service: web::Data<AuthService>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    service.logout(&caller.principal, &caller.client).await?;
    Ok(HttpResponse::NoContent().finish())
}
