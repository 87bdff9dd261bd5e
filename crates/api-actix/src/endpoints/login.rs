//! `POST /v1/auth/login`: e-mail and password for a new session's token pair.

use actix_web::{HttpResponse, post, web};
use serde::Deserialize;
use tessera_application::AuthService;
use tessera_domain::{EmailAddress, InvalidInput, Password};
use utoipa::ToSchema;

use crate::ApiError;
use crate::dto::TokenResponse;
use crate::extract::ClientInfo;
use crate::problem::Problem;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginRequest {
    #[schema(example = "ada@example.com")]
    email: String,
    #[schema(example = "correct horse battery staple")]
    password: String,
}

impl LoginRequest {
    fn try_into_domain(self) -> Result<(EmailAddress, Password), InvalidInput> {
        Ok((
            EmailAddress::parse(&self.email)?,
            Password::new(self.password)?,
        ))
    }
}

/// Log in: starts a session and returns its first token pair.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Session started", body = TokenResponse),
        (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_credentials` (unknown e-mail and wrong password alike) or `user_disabled`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/auth/login")]
pub(crate) async fn login(
    service: web::Data<AuthService>,
    client: ClientInfo,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let (email, password) = body
        .into_inner()
        .try_into_domain()
        .map_err(tessera_application::Error::from)?;
    let grant = service.login(&email, &password, &client.0).await?;
    Ok(super::token_response(grant))
}
