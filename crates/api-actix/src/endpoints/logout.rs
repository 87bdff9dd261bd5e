//! `POST /v1/auth/logout`: end the caller's session, and clear its cookies.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, post, web};
use tessera_application::AuthService;

use crate::extract::ClientInfo;
use crate::problem::Problem;
use crate::{ApiError, Authenticated, BrowserSettings};

/// Revoke the current session: its refresh token stops at once and its access tokens
/// are refused from the next request on. A browser in cookie transport may instead
/// send only its refresh cookie, with `X-CSRF-Token` from an allowed `Origin`. Session
/// cookies the request carries are cleared either way.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    params(
        ("X-CSRF-Token" = Option<String>, Header, description = "Cookie transport without a bearer token: the value of the CSRF cookie"),
    ),
    responses(
        (status = 204, description = "Session revoked"),
        (status = 401, description = "`unauthorized` or `session_revoked`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_failed`: the refresh or access cookie without the matching `X-CSRF-Token`, or from a foreign origin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: a legacy access token, which belongs to no session", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "`internal_error`: an unexpected error (logged, never shown)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/auth/logout")]
pub(crate) async fn logout(
    service: web::Data<AuthService>,
    browser: web::Data<BrowserSettings>,
    client: ClientInfo,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let cookie_only = !Authenticated::is_presented(&request, &browser);
    let ended = match browser.refresh_cookie(&request) {
        Some(token) if cookie_only => {
            browser.check_state_change(&request)?;
            service
                .logout_with_refresh_token(&token, &client.0)
                .await
                .map_err(ApiError::from)
        }
        _ => match Authenticated::from_request(&request, &mut Payload::None).await {
            Ok(caller) => service
                .logout(&caller.principal, &caller.client)
                .await
                .map_err(ApiError::from),
            Err(refused) => Err(refused),
        },
    };
    let response = match ended {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(error) => error.error_response(),
    };
    Ok(browser.clear_if_session_over(&request, response))
}
