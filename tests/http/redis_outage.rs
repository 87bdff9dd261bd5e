//! Redis going away and coming back (empty, as a restart without persistence leaves
//! it): the node keeps serving on its fallbacks — refresh on `last_refreshed_at`,
//! revocation checks on the database — says `degraded` on `/readyz` with a 200, and
//! recovers by itself, refilling the revocation list it lost. Each test runs its own
//! `redis-server` on a spare port, killed on drop; the shared Redis is never touched.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use tessera_infra_activity::testing::{RedisServer, unique_prefix};
use tokio::time::Instant;

use crate::helpers::{Backend, Reply, TestApp, spawn_app};

async fn readyz_until(app: &TestApp, status: &str, limit: Duration) -> Reply {
    let deadline = Instant::now() + limit;
    loop {
        let ready = app.get("/readyz").await;
        if ready.json["status"] == status || Instant::now() > deadline {
            return ready;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn raw_redis(server: &RedisServer) -> ::redis::Connection {
    ::redis::Client::open(server.url())
        .unwrap()
        .get_connection()
        .unwrap()
}

fn exists(server: &RedisServer, key: &str) -> bool {
    ::redis::cmd("EXISTS")
        .arg(key)
        .query::<i64>(&mut raw_redis(server))
        .unwrap()
        > 0
}

async fn verify(app: &TestApp, access_token: &str) -> StatusCode {
    app.bearer(Method::GET, "/v1/auth/verify", access_token)
        .await
        .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_the_node_serves_on_fallbacks_and_recovers_when_it_returns() {
    let mut redis = RedisServer::start();
    let prefix = unique_prefix();
    let app = spawn_app(
        Backend::Sqlite,
        &[
            ("TESSERA_REDIS_URL", &redis.url()),
            ("TESSERA_REDIS_PREFIX", &prefix),
            ("TESSERA_REVOCATION_SYNC_INTERVAL", "500ms"),
            ("TESSERA_ACTIVITY_WRITE_INTERVAL", "1s"),
        ],
    )
    .await
    .unwrap();
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::OK, "{ready:?}");
    assert_eq!(
        ready.json,
        json!({"status": "ready", "checks": {"database": "ok", "redis": "ok"}})
    );

    let active = app.new_session().await;
    let revoked_before = app.new_session().await;
    let revoked_during = app.new_session().await;
    assert_eq!(verify(&app, &active.access_token).await, StatusCode::OK);
    assert!(exists(
        &redis,
        &format!("{prefix}activity:{}", active.session_id)
    ));
    app.logout(&revoked_before.access_token)
        .await
        .assert_no_content();
    assert!(exists(
        &redis,
        &format!("{prefix}revoked:{}", revoked_before.session_id)
    ));

    redis.kill();

    let degraded = readyz_until(&app, "degraded", Duration::from_secs(5)).await;
    assert_eq!(degraded.status, StatusCode::OK, "{degraded:?}");
    assert_eq!(
        degraded.json,
        json!({"status": "degraded", "checks": {"database": "ok", "redis": "degraded"}})
    );
    // Refresh falls back to `last_refreshed_at`; the session was refreshed (created)
    // just now, so it rotates.
    let started = Instant::now();
    let rotated = app.refresh(&active.refresh_token).await.token_pair();
    // Not stalled on the dead Redis (commands time out after 300 ms, then pause).
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(verify(&app, &rotated.access_token).await, StatusCode::OK);
    assert_eq!(app.me(&rotated.access_token).await.status, StatusCode::OK);
    // The revocation the dead Redis held is found in the database instead.
    app.me(&revoked_before.access_token)
        .await
        .assert_problem(401, "session_revoked");
    assert_eq!(
        verify(&app, &revoked_before.access_token).await,
        StatusCode::UNAUTHORIZED
    );
    // A logout during the outage ends the session at once all the same.
    app.logout(&revoked_during.access_token)
        .await
        .assert_no_content();
    assert_eq!(
        verify(&app, &revoked_during.access_token).await,
        StatusCode::UNAUTHORIZED
    );

    // Redis is back, empty. No restart of Tessera.
    redis.restart();
    let ready = readyz_until(&app, "ready", Duration::from_secs(10)).await;
    assert_eq!(
        ready.json,
        json!({"status": "ready", "checks": {"database": "ok", "redis": "ok"}}),
        "{ready:?}"
    );
    // The periodic sync sees the list lost its contents and refills it, both
    // revocations included, then marks it complete.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !exists(&redis, &format!("{prefix}revocations:restored")) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for session in [revoked_before.session_id, revoked_during.session_id] {
        assert!(
            exists(&redis, &format!("{prefix}revoked:{session}")),
            "revocation of {session} not refilled"
        );
    }
    assert_eq!(
        verify(&app, &revoked_before.access_token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        verify(&app, &revoked_during.access_token).await,
        StatusCode::UNAUTHORIZED
    );
    // Activity lost with Redis comes back with the session's next write (this node
    // wrote it less than a write interval ago, so at most one interval later).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = app.refresh(&rotated.refresh_token).await.token_pair();
    assert_eq!(verify(&app, &again.access_token).await, StatusCode::OK);
    assert!(exists(
        &redis,
        &format!("{prefix}activity:{}", active.session_id)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_starts_while_redis_is_down_and_uses_it_once_it_is_up() {
    let mut redis = RedisServer::start();
    redis.kill();
    let prefix = unique_prefix();
    let app = spawn_app(
        Backend::Sqlite,
        &[
            ("TESSERA_REDIS_URL", &redis.url()),
            ("TESSERA_REDIS_PREFIX", &prefix),
            ("TESSERA_REVOCATION_SYNC_INTERVAL", "500ms"),
        ],
    )
    .await
    .unwrap();
    let degraded = app.get("/readyz").await;
    assert_eq!(degraded.status, StatusCode::OK, "{degraded:?}");
    assert_eq!(degraded.json["checks"]["redis"], "degraded");
    let session = app.new_session().await;
    app.refresh(&session.refresh_token).await.token_pair();
    let ended = app.new_session().await;
    app.logout(&ended.access_token).await.assert_no_content();
    assert_eq!(
        verify(&app, &ended.access_token).await,
        StatusCode::UNAUTHORIZED
    );

    redis.restart();
    let ready = readyz_until(&app, "ready", Duration::from_secs(10)).await;
    assert_eq!(ready.status, StatusCode::OK, "{ready:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !exists(&redis, &format!("{prefix}revoked:{}", ended.session_id))
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(exists(&redis, &format!("{prefix}revocations:restored")));
    assert!(exists(
        &redis,
        &format!("{prefix}revoked:{}", ended.session_id)
    ));
    assert_eq!(
        verify(&app, &ended.access_token).await,
        StatusCode::UNAUTHORIZED
    );
}
