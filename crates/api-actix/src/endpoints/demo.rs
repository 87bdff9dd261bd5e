//! `GET /demo`: a small single-page app over `clients/web/tessera.js`, served from
//! the binary (no build step, no external URL), under a strict Content-Security-Policy.
//! Not part of the API, so not in the OpenAPI document.

use actix_web::http::header::{self, ContentType};
use actix_web::{HttpResponse, web};

/// Only this origin's scripts, styles and connections; no framing, no inline code.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'self'";

const INDEX: &str = include_str!("../../../../clients/web/demo/index.html");
const DEMO_JS: &str = include_str!("../../../../clients/web/demo/demo.js");
const DEMO_CSS: &str = include_str!("../../../../clients/web/demo/demo.css");
const CLIENT_JS: &str = include_str!("../../../../clients/web/tessera.js");

pub(crate) fn configure(config: &mut web::ServiceConfig) {
    config
        .route(
            "/demo",
            web::get().to(|| async { page(ContentType::html(), INDEX) }),
        )
        .route(
            "/demo/",
            web::get().to(|| async { page(ContentType::html(), INDEX) }),
        )
        .route(
            "/demo/demo.js",
            web::get().to(|| async { page(javascript(), DEMO_JS) }),
        )
        .route(
            "/demo/tessera.js",
            web::get().to(|| async { page(javascript(), CLIENT_JS) }),
        )
        .route(
            "/demo/demo.css",
            web::get().to(|| async { page(css(), DEMO_CSS) }),
        );
}

fn page(content_type: ContentType, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        // `nosniff` and `X-Frame-Options` come from the middleware, as on every answer.
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        // Always revalidated: a new binary serves a new client at once.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

fn javascript() -> ContentType {
    ContentType(actix_web::mime::TEXT_JAVASCRIPT)
}

fn css() -> ContentType {
    ContentType(actix_web::mime::TEXT_CSS_UTF_8)
}
