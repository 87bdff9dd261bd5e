//! One module per endpoint, and the one route list the app and the OpenAPI document
//! are both built from.

mod health;
mod login;
mod logout;
mod me;
mod refresh;
mod register;

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::problem::problem_response;

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

/// Unknown paths answer in the same problem+json form as every other error.
pub(crate) async fn not_found(request: HttpRequest) -> actix_web::HttpResponse {
    problem_response(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no route for {} {}", request.method(), request.path()),
    )
}

/// Token responses must never be cached (RFC 6749 §5.1).
fn token_response(grant: tessera_application::TokenGrant) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .insert_header((actix_web::http::header::PRAGMA, "no-cache"))
        .json(crate::dto::TokenResponse::from(grant))
}
