//! One module per endpoint, and the one route list the app and the OpenAPI document
//! are both built from.

mod fallback;
mod health;
mod login;
mod logout;
mod me;
mod refresh;
mod register;

use utoipa_actix_web::service_config::ServiceConfig;

pub(crate) use fallback::unrouted;

pub(crate) fn configure(config: &mut ServiceConfig<'_>) {
    config
        .service(register::register)
        .service(login::login)
        .service(refresh::refresh)
        .service(logout::logout)
        .service(me::me)
        .service(health::healthz)
        .service(health::readyz);
}

/// Token responses must never be cached (RFC 6749 §5.1).
fn token_response(grant: tessera_application::TokenGrant) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .insert_header((actix_web::http::header::PRAGMA, "no-cache"))
        .json(crate::dto::TokenResponse::from(grant))
}
