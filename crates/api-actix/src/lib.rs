//! Tessera's HTTP API on actix-web: one file per endpoint, the extractors, the one
//! error mapping (`application/problem+json`) and the OpenAPI document, built from the
//! same route list as the app.

mod browser;
mod dto;
mod endpoints;
mod extract;
mod json;
mod metrics;
mod middleware;
mod oauth;
mod openapi;
mod problem;
mod proxies;
mod query;

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, web};
use tessera_application::AuthService;
use tessera_application::ports::HealthCheck;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

pub use browser::{BrowserSettings, CSRF_HEADER, origin_of_url, parse_origin};
pub use extract::Authenticated;
pub use metrics::Metrics;
pub use middleware::{REQUEST_ID_HEADER, observe};
pub use problem::{ApiError, Problem};
pub use proxies::TrustedProxies;

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
    /// Cookie transport, CSRF and CORS.
    pub browser: BrowserSettings,
    /// What `GET /metrics` reports and the request middleware measures; `None` turns
    /// the endpoint off (`TESSERA_METRICS=off`).
    pub metrics: Option<Metrics>,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState").finish_non_exhaustive()
    }
}

/// The whole application: API routes, `/openapi.json`, Swagger UI at `/docs`, the demo
/// page at `/demo`, CORS for the allowed origins, and problem+json answers for unknown
/// routes.
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
    let cors = state.browser.cors();
    let (app, api) = App::new()
        .into_utoipa_app()
        .openapi(openapi::document())
        .app_data(web::Data::new(state.service))
        .app_data(web::Data::new(state.browser))
        .app_data(web::Data::new(state.health_checks))
        .app_data(web::Data::new(state.metrics))
        .app_data(web::Data::new(oauth::Issuer(state.issuer)))
        .app_data(json::config())
        .app_data(oauth::form_config())
        .app_data(query::config())
        .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
        .configure(endpoints::configure)
        .split_for_parts();
    let api = openapi::finish(api);
    app.configure(endpoints::demo_pages)
        .service(web::redirect("/docs", "/docs/"))
        .service(
            SwaggerUi::new("/docs/{_:.*}")
                .url("/openapi.json", api)
                .config(utoipa_swagger_ui::Config::default().validator_url("none")),
        )
        .default_service(web::to(endpoints::unrouted))
        .wrap(cors)
        // Outermost: request ids, security headers, the access log and the metrics
        // cover every answer, CORS refusals included.
        .wrap(actix_web::middleware::from_fn(middleware::observe))
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
