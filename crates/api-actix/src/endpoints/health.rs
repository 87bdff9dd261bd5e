//! `GET /healthz` (the process answers) and `GET /readyz` (its backing services do).

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use tessera_application::ports::HealthCheck;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub(crate) struct Health {
    /// `ok`, `ready` or `unavailable`.
    status: &'static str,
    /// Per backing service: `ok` or `unavailable`.
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

/// Readiness: the database (and the activity store) answer.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "A backing service is unavailable", body = Health),
    )
)]
#[get("/readyz")]
pub(crate) async fn readyz(checks: web::Data<Vec<Arc<dyn HealthCheck>>>) -> HttpResponse {
    let mut report = BTreeMap::new();
    let mut ready = true;
    for check in checks.iter() {
        let outcome = match check.check().await {
            Ok(()) => "ok",
            Err(error) => {
                tracing::warn!(check = check.name(), error = %error, "not ready");
                ready = false;
                "unavailable"
            }
        };
        report.insert(check.name(), outcome);
    }
    let body = Health {
        status: if ready { "ready" } else { "unavailable" },
        checks: report,
    };
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
