//! Tessera's HTTP API on actix-web: one file per endpoint, the extractors, the one
//! error mapping (`application/problem+json`) and the OpenAPI document, built from the
//! same route list as the app.

mod dto;
mod endpoints;
mod extract;
mod json;
mod oauth;
mod openapi;
mod problem;
mod query;

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, web};
use tessera_application::AuthService;
use tessera_application::ports::HealthCheck;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

pub use extract::Authenticated;
pub use problem::{ApiError, Problem};

/// The largest request body accepted (SPEC/issue: 64 KiB, else 413).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub service: AuthService,
    /// The backing services `/readyz` checks.
    pub health_checks: Vec<Arc<dyn HealthCheck>>,
    /// `TESSERA_ISSUER`: the OAuth metadata's `issuer` and the base of the endpoint
    /// URLs it publishes.
    pub issuer: String,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState").finish_non_exhaustive()
    }
}

/// The whole application: API routes, `/openapi.json`, Swagger UI at `/docs`, and
/// problem+json answers for unknown routes.
pub fn app(
    state: ApiState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let (app, api) = App::new()
        .into_utoipa_app()
        .openapi(openapi::document())
        .app_data(web::Data::new(state.service))
        .app_data(web::Data::new(state.health_checks))
        .app_data(web::Data::new(oauth::Issuer(state.issuer)))
        .app_data(json::config())
        .app_data(oauth::form_config())
        .app_data(query::config())
        .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
        .configure(endpoints::configure)
        .split_for_parts();
    let api = openapi::finish(api);
    app.service(web::redirect("/docs", "/docs/"))
        .service(
            SwaggerUi::new("/docs/{_:.*}")
                .url("/openapi.json", api)
                .config(utoipa_swagger_ui::Config::default().validator_url("none")),
        )
        .default_service(web::to(endpoints::unrouted))
}

/// The OpenAPI document of [`app`], from the same route list.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let (_, api) = App::new()
        .into_utoipa_app()
        .openapi(openapi::document())
        .configure(endpoints::configure)
        .split_for_parts();
    openapi::finish(api)
}
