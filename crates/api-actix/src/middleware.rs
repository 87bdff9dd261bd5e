//! What every request goes through, errors included: a request id (a well-formed
//! incoming `X-Request-Id`, or a new one) in a tracing span around the request and in
//! the response's `X-Request-Id`; the security headers a response lacks; one access
//! log line; and the latency and rate-limit metrics.

use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web;
use rand_core::{OsRng, RngCore};
use tracing::Instrument;

use crate::metrics::{Metrics, UNMATCHED_ROUTE};

/// The request id header, read from the client (or a proxy) and always answered.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest incoming request id kept; a longer one is replaced.
const MAX_REQUEST_ID_LEN: usize = 128;

/// API answers are data, never documents: nothing may load from them, frame them or
/// submit from them.
pub(crate) const API_CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Swagger UI at `/docs`: its scripts, styles and images come from `/docs/` itself
/// (no inline script: its configuration is `swagger-initializer.js`), it fetches
/// `/openapi.json` and sends "Try it out" and "Authorize" requests to this origin, and
/// its icons are `data:` SVGs. React sets element styles through the CSSOM, which
/// `style-src` does not govern; the one inline `<style>` is in the logo's SVG, allowed
/// by its hash (Swagger UI 5.17.14, vendored by utoipa-swagger-ui 9: recheck on an
/// upgrade, see docs/observability.md).
pub(crate) const DOCS_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The middleware (`actix_web::middleware::from_fn(observe)`); reads the metrics from
/// the app data `web::Data<Option<Metrics>>`.
pub async fn observe(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let started = Instant::now();
    let request_id = incoming_request_id(request.headers()).unwrap_or_else(new_request_id);
    let method = request.method().clone();
    let path = request.path();
    let docs = path == "/docs" || path.starts_with("/docs/");
    let metrics = request
        .app_data::<web::Data<Option<Metrics>>>()
        .and_then(|metrics| metrics.as_ref().clone());
    // ERROR, so that no log filter that lets any line of this request through drops the
    // span that carries its request id.
    let span = tracing::error_span!("request", request_id = %request_id, method = %method);

    let answered = next.call(request).instrument(span.clone()).await;

    let request_id = HeaderValue::from_str(&request_id).ok();
    let (route, status, outcome) = match answered {
        Ok(mut response) => {
            let route = response.request().match_pattern();
            let status = response.status();
            finish_headers(response.headers_mut(), request_id, docs);
            (route, status, Ok(response.map_into_left_body()))
        }
        // A middleware inside failed without a response (handlers' errors arrive as
        // responses). Its error response gets the headers too.
        Err(error) => {
            let mut response = error.error_response();
            let status = response.status();
            finish_headers(response.headers_mut(), request_id, docs);
            let error = actix_web::error::InternalError::from_response(error, response);
            (None, status, Err(error.into()))
        }
    };
    let route = route.unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
    let elapsed = started.elapsed();
    span.in_scope(|| access_log(&method, &route, status, elapsed));
    if let Some(metrics) = metrics {
        metrics.observe_request(&route, &method, status, elapsed);
    }
    outcome
}

fn finish_headers(headers: &mut HeaderMap, request_id: Option<HeaderValue>, docs: bool) {
    if let Some(request_id) = request_id {
        headers.insert(REQUEST_ID_HEADER, request_id);
    }
    // Only where absent: `/demo` sets its own policy.
    let content_security_policy = if docs {
        DOCS_CONTENT_SECURITY_POLICY
    } else {
        API_CONTENT_SECURITY_POLICY
    };
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CONTENT_SECURITY_POLICY, content_security_policy),
    ] {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
}

/// Method, route pattern, status and latency: never the path's ids, the query string
/// or a header, which may carry secrets. The request id comes from the span.
fn access_log(method: &Method, route: &str, status: StatusCode, elapsed: std::time::Duration) {
    // Microsecond precision is plenty for a log line.
    let latency_ms = (elapsed.as_secs_f64() * 1_000_000.0).round() / 1000.0;
    let status = status.as_u16();
    // Probes and scrapes arrive every few seconds: only at debug.
    if matches!(route, "/healthz" | "/readyz" | "/metrics") && status < 500 {
        tracing::debug!(target: "tessera::http", %method, route, status, latency_ms, "request");
    } else {
        tracing::info!(target: "tessera::http", %method, route, status, latency_ms, "request");
    }
}

/// The incoming `X-Request-Id` when it is 1 to 128 characters of letters, digits and
/// `-_.:` (UUIDs, ULIDs, hex, most proxies' ids); anything else could forge log lines
/// or headers and is replaced.
fn incoming_request_id(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(REQUEST_ID_HEADER)?.to_str().ok()?;
    let well_formed = (1..=MAX_REQUEST_ID_LEN).contains(&value.len())
        && value
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b':'));
    well_formed.then(|| value.to_owned())
}

/// A random (version 4) UUID.
fn new_request_id() -> String {
    let mut bytes = [0_u8; 16];
    OsRng.fill_bytes(&mut bytes);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

#[cfg(test)]
mod tests;
