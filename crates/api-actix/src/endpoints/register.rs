//! `POST /v1/auth/register`: create a user.

use actix_web::{HttpResponse, post, web};
use serde::Deserialize;
use tessera_application::AuthService;
use tessera_domain::{EmailAddress, InvalidInput, Password};
use utoipa::ToSchema;

use crate::ApiError;
use crate::dto::UserView;
use crate::extract::ClientInfo;
use crate::problem::Problem;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterRequest {
    #[schema(example = "ada@example.com")]
    email: String,
    /// 8 to 128 characters.
    #[schema(
        example = "correct horse battery staple",
        min_length = 8,
        max_length = 128
    )]
    password: String,
}

impl RegisterRequest {
    fn try_into_domain(self) -> Result<(EmailAddress, Password), InvalidInput> {
        Ok((
            EmailAddress::parse(&self.email)?,
            Password::new(self.password)?,
        ))
    }
}

/// Create a user (self-service registration; can be closed by configuration).
#[utoipa::path(
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "User created", body = UserView),
        (status = 400, description = "Invalid e-mail or password", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Registration is closed", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The e-mail is already registered", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many requests from this address", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
        (status = 500, description = "`internal_error`: an unexpected error (logged, never shown)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/auth/register")]
pub(crate) async fn register(
    service: web::Data<AuthService>,
    client: ClientInfo,
    body: web::Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let (email, password) = body
        .into_inner()
        .try_into_domain()
        .map_err(tessera_application::Error::from)?;
    let user = service.register(email, password, &client.0).await?;
    Ok(HttpResponse::Created().json(UserView::from(&user)))
}
