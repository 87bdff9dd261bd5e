//! One module per endpoint, and the one route list the app and the OpenAPI document
//! are both built from.

mod admin_disable_user;
mod admin_enable_user;
mod admin_find_user;
mod admin_list_sessions;
mod admin_revoke_sessions;
mod change_password;
mod demo;
mod fallback;
mod health;
mod jwks;
mod list_sessions;
mod login;
mod logout;
mod logout_all;
mod me;
mod metrics;
mod oauth_introspect;
mod oauth_metadata;
mod oauth_revoke;
mod oauth_token;
mod refresh;
mod register;
mod revoke_session;
mod verify;

use std::str::FromStr;

use actix_web::HttpResponse;
use actix_web::http::header;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::ApiError;

pub(crate) use demo::configure as demo_pages;
pub(crate) use fallback::unrouted;

pub(crate) fn configure(config: &mut ServiceConfig<'_>) {
    config
        .service(register::register)
        .service(login::login)
        .service(refresh::refresh)
        .service(logout::logout)
        .service(logout_all::logout_all)
        .service(me::me)
        .service(verify::verify)
        .service(list_sessions::list_sessions)
        .service(revoke_session::revoke_session)
        .service(change_password::change_password)
        .service(admin_find_user::find_user)
        .service(admin_list_sessions::list_user_sessions)
        .service(admin_revoke_sessions::revoke_user_sessions)
        .service(admin_disable_user::disable_user)
        .service(admin_enable_user::enable_user)
        .service(oauth_token::token)
        .service(oauth_revoke::revoke)
        .service(oauth_introspect::introspect)
        .service(oauth_metadata::metadata)
        .service(jwks::jwks)
        .service(health::healthz)
        .service(health::readyz)
        .service(metrics::metrics);
}

/// Token responses must never be cached (RFC 6749 §5.1).
fn token_response(grant: tessera_application::TokenGrant) -> HttpResponse {
    uncached_tokens().json(crate::dto::TokenResponse::from(grant))
}

/// A token pair in cookie transport: the refresh token (and the access token, when
/// configured) in cookies, the CSRF token in the body and its readable cookie.
fn cookie_token_response(
    grant: tessera_application::TokenGrant,
    browser: &crate::BrowserSettings,
    csrf_token: String,
) -> HttpResponse {
    let mut response = uncached_tokens();
    browser.set_session_cookies(&mut response, &grant, &csrf_token);
    let mut body = crate::dto::TokenResponse::from(grant);
    body.refresh_token = None;
    body.csrf_token = Some(csrf_token);
    response.json(body)
}

fn uncached_tokens() -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    response
}

/// A 200 with a body about someone's sessions or account: no cache may keep it.
fn private_json(body: impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

/// An id from the path. A malformed one is `NotFound` like an unknown one: the path
/// names no resource either way, and a 400 would tell ids apart from other strings.
fn path_id<Id: FromStr>(raw: &str, what: &'static str) -> Result<Id, ApiError> {
    raw.parse()
        .map_err(|_| tessera_application::Error::NotFound(what).into())
}

/// A user id from an admin path. The use case checks the role, but a malformed id
/// never reaches it: a non-admin is answered `forbidden` here too, so nothing under
/// `/v1/admin/` tells them more than that.
fn admin_path_user(
    caller: &crate::Authenticated,
    raw: &str,
) -> Result<tessera_domain::UserId, ApiError> {
    tessera_application::Actor::Admin(&caller.principal).authorize()?;
    raw.parse()
        .map_err(|_| tessera_application::Error::NotFound("user").into())
}
