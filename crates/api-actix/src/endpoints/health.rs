//! `GET /healthz` (the process answers) and `GET /readyz` (its backing services do).

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use tessera_application::ports::HealthCheck;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub(crate) struct Health {
    /// `ok` (liveness), `ready`, `degraded` (ready, but a service with a fallback such
    /// as Redis is down) or `unavailable`.
    status: &'static str,
    /// Per backing service: `ok`, `degraded` (down, fallback in use) or `unavailable`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    checks: BTreeMap<&'static str, &'static str>,
}

/// Liveness: the process is up.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Alive", body = Health)))]
#[get("/healthz")]
pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        checks: BTreeMap::new(),
    })
}

/// Readiness: the database (and Redis, when configured) answer.
///
/// Redis down is `degraded` with a 200, not a 503: every node shares one Redis, so a
/// 503 would take every node out of the load balancer at once, while each still
/// serves correctly on its fallbacks (SPEC §5).
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Ready, possibly degraded", body = Health),
        (status = 503, description = "A backing service is unavailable", body = Health),
    )
)]
#[get("/readyz")]
pub(crate) async fn readyz(checks: web::Data<Vec<Arc<dyn HealthCheck>>>) -> HttpResponse {
    let mut report = BTreeMap::new();
    let mut ready = true;
    let mut degraded = false;
    for check in checks.iter() {
        let outcome = match check.check().await {
            Ok(()) => "ok",
            Err(error) if !check.essential() => {
                tracing::warn!(check = check.name(), error = %error, "degraded");
                degraded = true;
                "degraded"
            }
            Err(error) => {
                tracing::warn!(check = check.name(), error = %error, "not ready");
                ready = false;
                "unavailable"
            }
        };
        report.insert(check.name(), outcome);
    }
    let body = Health {
        status: match (ready, degraded) {
            (false, _) => "unavailable",
            (true, true) => "degraded",
            (true, false) => "ready",
        },
        checks: report,
    };
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
