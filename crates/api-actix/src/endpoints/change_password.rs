//! `POST /v1/auth/password`: change one's password; every other session ends.

use actix_web::{HttpResponse, post, web};
use serde::Deserialize;
use tessera_application::{AuthService, Error};
use tessera_domain::{InvalidInput, Password};
use utoipa::ToSchema;

use crate::problem::Problem;
use crate::{ApiError, Authenticated};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangePasswordRequest {
    #[schema(example = "correct horse battery staple")]
    current_password: String,
    /// 8 to 128 characters.
    #[schema(
        example = "battery staple horse correct",
        min_length = 8,
        max_length = 128
    )]
    new_password: String,
}

impl ChangePasswordRequest {
    /// `(current, new)`. A current password that could never have been set is simply
    /// wrong: `invalid_credentials`, so that its length tells nothing of the policy.
    fn try_into_domain(self) -> Result<(Password, Password), Error> {
        let new = Password::new(self.new_password).map_err(|invalid| InvalidInput {
            field: "new_password",
            ..invalid
        })?;
        let current =
            Password::new(self.current_password).map_err(|_| Error::InvalidCredentials)?;
        Ok((current, new))
    }
}

/// Change the password. The caller's session stays; every other session of the user
/// ends (whoever held one must log in with the new password).
#[utoipa::path(
    tag = "sessions",
    security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Password changed, other sessions revoked"),
        (status = 400, description = "Malformed request or a new password outside the policy", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_credentials` (wrong current password), `unauthorized` or `session_revoked`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_failed`: authenticated by the access cookie, without the matching `X-CSRF-Token` or from a foreign origin", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many requests from this address", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
        (status = 500, description = "`internal_error`: an unexpected error (logged, never shown)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/auth/password")]
pub(crate) async fn change_password(
    service: web::Data<AuthService>,
    caller: Authenticated,
    body: web::Json<ChangePasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let (current, new) = body.into_inner().try_into_domain()?;
    service
        .change_password(&caller.principal, &current, &new, &caller.client)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
