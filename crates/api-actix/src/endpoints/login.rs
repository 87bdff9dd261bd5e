//! `POST /v1/auth/login`: e-mail and password for a new session's token pair.

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;
use tessera_application::AuthService;
use tessera_domain::{EmailAddress, InvalidInput, Password};
use utoipa::ToSchema;

use crate::dto::TokenResponse;
use crate::extract::ClientInfo;
use crate::problem::Problem;
use crate::{ApiError, BrowserSettings};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginRequest {
    #[schema(example = "ada@example.com")]
    email: String,
    #[schema(example = "correct horse battery staple")]
    password: String,
    /// Where the refresh token travels: in the body (default), or — for browsers — in
    /// an `HttpOnly` cookie, with a CSRF token in the body and a readable cookie.
    #[serde(default)]
    transport: Transport,
}

#[derive(Deserialize, ToSchema, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Transport {
    #[default]
    Body,
    Cookie,
}

impl LoginRequest {
    fn try_into_domain(self) -> Result<(EmailAddress, Password, Transport), InvalidInput> {
        Ok((
            EmailAddress::parse(&self.email)?,
            Password::new(self.password)?,
            self.transport,
        ))
    }
}

/// Log in: starts a session and returns its first token pair. With
/// `"transport": "cookie"` the refresh token is set as an `HttpOnly` cookie for
/// `/v1/auth` instead of being returned.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Session started", body = TokenResponse),
        (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_credentials` (unknown e-mail and wrong password alike) or `user_disabled`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_failed`: cookie transport asked for by a page of an origin that is not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many requests from this address, or too many failed logins for this e-mail (for any e-mail, registered or not)", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
        (status = 500, description = "`internal_error`: an unexpected error (logged, never shown)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/auth/login")]
pub(crate) async fn login(
    service: web::Data<AuthService>,
    browser: web::Data<BrowserSettings>,
    client: ClientInfo,
    request: HttpRequest,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let (email, password, transport) = body
        .into_inner()
        .try_into_domain()
        .map_err(tessera_application::Error::from)?;
    if transport == Transport::Cookie {
        browser.check_login_origin(&request)?;
    }
    let grant = service.login(&email, &password, &client.0).await?;
    Ok(match transport {
        Transport::Body => super::token_response(grant),
        Transport::Cookie => {
            super::cookie_token_response(grant, &browser, crate::browser::new_csrf_token())
        }
    })
}
