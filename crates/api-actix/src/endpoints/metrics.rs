//! `GET /metrics`: the Prometheus text format. Off with `TESSERA_METRICS=off` (404);
//! behind a bearer token when `TESSERA_METRICS_TOKEN` is set.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, web};

use crate::metrics::{CONTENT_TYPE, Metrics};
use crate::problem::{Problem, problem_response};

/// The metrics, in the Prometheus text format.
///
/// Counters of logins, refreshes and refusals by code, reuse detections and 429s;
/// request latency histograms by route pattern; gauges of live sessions and of the
/// database pool. `docs/observability.md` names each one.
#[utoipa::path(
    tag = "operations",
    security((), ("metrics" = [])),
    responses(
        (status = 200, description = "Prometheus text format, version 0.0.4", body = String, content_type = "text/plain"),
        (status = 401, description = "`unauthorized`: `TESSERA_METRICS_TOKEN` is set and the bearer token is not it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: metrics are off (`TESSERA_METRICS=off`)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/metrics")]
pub(crate) async fn metrics(
    request: HttpRequest,
    metrics: web::Data<Option<Metrics>>,
) -> HttpResponse {
    let Some(metrics) = metrics.as_ref() else {
        return problem_response(
            StatusCode::NOT_FOUND,
            "not_found",
            "metrics are turned off".to_owned(),
        );
    };
    if !metrics.allows(request.headers().get(header::AUTHORIZATION)) {
        return problem_response(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the metrics need the bearer token configured as TESSERA_METRICS_TOKEN".to_owned(),
        );
    }
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(metrics.render().await)
}
