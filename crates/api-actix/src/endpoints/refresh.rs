//! `POST /v1/auth/refresh`: rotate a refresh token, from the body or the cookie.

use actix_web::{HttpRequest, HttpResponse, ResponseError, post, web};
use serde::Deserialize;
use tessera_application::{AuthService, Error};
use tessera_domain::RefreshRefusal;
use utoipa::ToSchema;

use crate::dto::TokenResponse;
use crate::extract::ClientInfo;
use crate::json::OptionalJson;
use crate::problem::Problem;
use crate::{ApiError, BrowserSettings};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefreshRequest {
    /// The refresh token of the last token pair. Leave it out (or send no body) in
    /// cookie transport: the refresh cookie is used instead.
    refresh_token: Option<String>,
}

/// Exchange a refresh token for a new pair. The old refresh token stops working; a
/// duplicate of this request within the grace window gets the same answer. In cookie
/// transport the request must echo the CSRF cookie in `X-CSRF-Token` and come from an
/// allowed `Origin`; the cookies are rotated, and cleared when the refresh is refused.
#[utoipa::path(
    tag = "auth",
    request_body(content = Option<RefreshRequest>, description = "Body transport: the refresh token. Cookie transport: `{}` or no body."),
    params(
        ("X-CSRF-Token" = Option<String>, Header, description = "Cookie transport: the value of the CSRF cookie (also returned as `csrf_token`)"),
    ),
    responses(
        (status = 200, description = "Rotated (or the same answer again for a duplicate inside the grace window)", body = TokenResponse),
        (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Refused; `code` is one of refresh_token_invalid, session_revoked, session_lifetime_exceeded, session_idle_timeout, user_disabled, client_mismatch, refresh_token_reused", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_failed`: cookie transport without the matching `X-CSRF-Token` or from a foreign origin", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many requests from this address", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
        (status = 500, description = "`internal_error`: an unexpected error (logged, never shown)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/auth/refresh")]
pub(crate) async fn refresh(
    service: web::Data<AuthService>,
    browser: web::Data<BrowserSettings>,
    client: ClientInfo,
    request: HttpRequest,
    body: OptionalJson<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    if let Some(token) = body.0.and_then(|body| body.refresh_token) {
        let grant = service.refresh(&token, &client.0).await?;
        return Ok(super::token_response(grant));
    }
    // No token given at all is an invalid one, so a browser whose cookie has expired
    // hears the same as one whose token was refused.
    let token = browser
        .refresh_cookie(&request)
        .ok_or(Error::Refused(RefreshRefusal::TokenInvalid))?;
    let csrf_token = browser.check_state_change(&request)?;
    Ok(match service.refresh(&token, &client.0).await {
        Ok(grant) => super::cookie_token_response(grant, &browser, csrf_token),
        Err(error) => {
            browser.clear_if_session_over(&request, ApiError::from(error).error_response())
        }
    })
}
