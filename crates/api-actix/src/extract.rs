//! Extractors: who is calling (`ClientInfo`) and whether they hold a valid access
//! token (`Authenticated`).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use tessera_application::{AuthService, Principal};
use tessera_domain::ClientContext;

use crate::{ApiError, BrowserSettings};

/// Longest User-Agent kept: it is stored with the session and shown in session lists.
const MAX_USER_AGENT: usize = 512;

/// The caller's address and User-Agent.
#[derive(Debug, Clone)]
pub struct ClientInfo(pub ClientContext);

impl FromRequest for ClientInfo {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(Self(client_context(request))))
    }
}

pub(crate) fn client_context(request: &HttpRequest) -> ClientContext {
    let user_agent = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .map(|agent| agent.chars().take(MAX_USER_AGENT).collect());
    ClientContext {
        // Behind a trusted reverse proxy, the address it forwarded for.
        ip: match request.app_data::<web::Data<crate::TrustedProxies>>() {
            Some(proxies) => proxies.client_ip(request),
            None => request.peer_addr().map(|addr| addr.ip()),
        },
        user_agent,
    }
}

/// A request with a valid access token of a live session — from `Authorization:
/// Bearer`, or from the access cookie when `TESSERA_ACCESS_COOKIE` is on (then a state
/// change must also pass the CSRF check). Extracting it records the session's activity.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    pub client: ClientContext,
}

impl Authenticated {
    /// Whether the request carries an access token at all (header or cookie).
    pub(crate) fn is_presented(request: &HttpRequest, browser: &BrowserSettings) -> bool {
        request.headers().contains_key(header::AUTHORIZATION)
            || browser.access_cookie(request).is_some()
    }
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let service = request.app_data::<web::Data<AuthService>>().cloned();
        let token = access_token(request);
        let client = client_context(request);
        Box::pin(async move {
            let token = token?;
            let service = service.ok_or_else(|| {
                ApiError::Application(tessera_application::Error::unexpected(
                    "AuthService missing from app data",
                ))
            })?;
            let principal = service.authenticate(&token, &client).await?;
            Ok(Self { principal, client })
        })
    }
}

/// The access token of the request: the `Authorization` header wins; without one,
/// the access cookie, if that transport is on.
fn access_token(request: &HttpRequest) -> Result<String, ApiError> {
    if request.headers().contains_key(header::AUTHORIZATION) {
        return bearer_token(request);
    }
    let browser = request.app_data::<web::Data<BrowserSettings>>();
    let Some((browser, token)) =
        browser.and_then(|browser| Some((browser, browser.access_cookie(request)?)))
    else {
        return Err(ApiError::unauthorized("an access token is required"));
    };
    if !looks_like_jwt(&token) {
        return Err(ApiError::unauthorized(
            "the access cookie does not hold a token",
        ));
    }
    if BrowserSettings::needs_csrf_check(request) {
        browser.check_state_change(request)?;
    }
    Ok(token)
}

/// The token of an `Authorization: Bearer <jwt>` header; anything else is refused
/// before any verification work.
fn bearer_token(request: &HttpRequest) -> Result<String, ApiError> {
    let refuse = || ApiError::unauthorized("the Authorization header must be `Bearer <jwt>`");
    let value = request
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("an access token is required"))?
        .to_str()
        .map_err(|_| refuse())?;
    let token = bearer_credentials(value).ok_or_else(refuse)?;
    if !looks_like_jwt(token) {
        return Err(refuse());
    }
    Ok(token.to_owned())
}

/// The credentials of an `Authorization: Bearer …` value (RFC 9110 §11.1: the scheme
/// in any case; RFC 6750: one or more spaces after it).
pub(crate) fn bearer_credentials(value: &str) -> Option<&str> {
    let (scheme, credentials) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credentials.trim())
}

fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}
