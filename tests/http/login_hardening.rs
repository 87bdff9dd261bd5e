//! Login hardening (issue 8, item 2) where only a running server can show it: Argon2id
//! runs on a bounded blocking pool, so a flood of logins leaves the async workers free
//! for every other endpoint, and a saturated pool answers 503 instead of queueing
//! forever. (Unknown e-mail vs wrong password — same answer, comparable time — is in
//! `bad_input.rs`; rehash on login in `crates/server/tests/login_hardening.rs`.)

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, spawn_app};

on_both_backends!(a_login_flood_does_not_starve_other_endpoints);

async fn a_login_flood_does_not_starve_other_endpoints(backend: Backend) {
    const FLOOD: usize = 150;
    // Throttling is off in tests: the flood reaches the hasher.
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let pair = app.new_session().await;
    let email = app.new_user().await;
    let flood: Vec<_> = (0..FLOOD)
        .map(|_| {
            let request = app
                .client
                .post(app.url("/v1/auth/login"))
                .json(&json!({ "email": email, "password": "a wrong password" }));
            tokio::spawn(async move { request.send().await.map(|reply| reply.status()) })
        })
        .collect();
    // Let the flood fill the hashing pool and queue behind it.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut slowest = Duration::ZERO;
    let mut during_flood = 0;
    for _ in 0..5 {
        let started = Instant::now();
        let verify = app
            .bearer(reqwest::Method::GET, "/v1/auth/verify", &pair.access_token)
            .await;
        assert_eq!(verify.status, StatusCode::OK, "{verify:?}");
        let health = app.get("/healthz").await;
        assert_eq!(health.status, StatusCode::OK, "{health:?}");
        slowest = slowest.max(started.elapsed());
        if flood.iter().any(|task| !task.is_finished()) {
            during_flood += 1;
        }
    }
    assert!(
        during_flood > 0,
        "the flood was over before it was measured"
    );
    assert!(
        slowest < Duration::from_secs(1),
        "other endpoints waited {slowest:?} behind the login flood"
    );
    for task in flood {
        let status = task.await.unwrap().unwrap();
        // A wrong password, or the pool saturated for longer than its wait: never a
        // hang, never anything else.
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::SERVICE_UNAVAILABLE,
            "{status}"
        );
    }
}
