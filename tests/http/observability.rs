//! What the service tells operators and what every answer carries: request ids and
//! security headers on success and problem responses, `GET /metrics` in the
//! Prometheus text format with counters that follow the auth decisions, latency by
//! route pattern and a live-session gauge, and 5xx bodies that name no internals.

use std::collections::BTreeMap;
use std::time::Duration;

use diesel::{Connection, RunQueryDsl};
use reqwest::StatusCode;
use tokio::time::Instant;

use crate::helpers::{
    Backend, PASSWORD, Reply, TestApp, spawn_app, spawn_app_on, test_database, unique_email,
};

on_both_backends!(
    every_answer_carries_a_request_id_and_the_security_headers,
    metrics_count_logins_refusals_by_code_and_reuse,
    request_latency_is_measured_by_route_pattern_never_by_raw_path,
    the_active_session_gauge_follows_logins_and_logouts,
    metrics_can_be_turned_off_or_put_behind_a_token,
    a_server_error_names_no_table_query_or_stack,
);

/// One sample of a metrics page.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the Prometheus text format (0.0.4) strictly enough to catch a malformed
/// page: every sample belongs to a family declared by `# TYPE` before it, names and
/// label names are valid, label values are quoted with escapes, values are numbers.
fn parse_metrics(text: &str) -> Vec<Sample> {
    let mut families: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = Vec::new();
    let valid_name = |name: &str| {
        !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix('#') {
            let parts: Vec<&str> = comment.trim_start().splitn(3, ' ').collect();
            if parts[0] == "TYPE" {
                assert!(valid_name(parts[1]), "{line}");
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&parts[2]),
                    "{line}"
                );
                assert!(
                    families
                        .insert(parts[1].to_owned(), parts[2].to_owned())
                        .is_none(),
                    "{} declared twice",
                    parts[1]
                );
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let name_end = line.find(['{', ' ']).expect("a sample has a value");
        let name = &line[..name_end];
        assert!(valid_name(name), "{line}");
        let mut labels = BTreeMap::new();
        let mut rest = &line[name_end..];
        if let Some(inner) = rest.strip_prefix('{') {
            let mut chars = inner.chars();
            loop {
                let mut label = String::new();
                let after_name = loop {
                    match chars
                        .next()
                        .unwrap_or_else(|| panic!("unclosed labels: {line}"))
                    {
                        c @ ('=' | '}') => break c,
                        c => label.push(c),
                    }
                };
                if after_name == '}' {
                    assert!(label.is_empty(), "{line}");
                    break;
                }
                assert!(valid_name(&label), "label {label:?} in {line}");
                assert_eq!(chars.next(), Some('"'), "{line}");
                let mut value = String::new();
                loop {
                    match chars
                        .next()
                        .unwrap_or_else(|| panic!("unclosed value: {line}"))
                    {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some('n') => value.push('\n'),
                            Some(escaped @ ('\\' | '"')) => value.push(escaped),
                            other => panic!("bad escape {other:?} in {line}"),
                        },
                        c => value.push(c),
                    }
                }
                assert!(labels.insert(label, value).is_none(), "{line}");
                match chars.next() {
                    Some(',') => {}
                    Some('}') => break,
                    other => panic!("{other:?} after a label in {line}"),
                }
            }
            rest = chars.as_str();
        }
        let value = rest.trim();
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            _ => value
                .parse()
                .unwrap_or_else(|_| panic!("not a number: {line}")),
        };
        let family = families
            .keys()
            .filter(|family| {
                name == family.as_str()
                    || ["_bucket", "_sum", "_count"]
                        .iter()
                        .any(|suffix| name.strip_suffix(suffix) == Some(family.as_str()))
            })
            .max_by_key(|family| family.len());
        assert!(family.is_some(), "{name} has no # TYPE before it");
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    samples
}

/// The sum of the samples named `name` whose labels include `labels`.
fn total(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|sample| sample.name == name)
        .filter(|sample| {
            labels
                .iter()
                .all(|(key, value)| sample.labels.get(*key).map(String::as_str) == Some(*value))
        })
        .map(|sample| sample.value)
        .sum()
}

impl TestApp {
    async fn metrics(&self) -> Vec<Sample> {
        let reply = self.get("/metrics").await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        assert_eq!(
            reply.header("content-type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        parse_metrics(&reply.text)
    }
}

/// Asserts the response headers every answer carries.
#[track_caller]
fn assert_hardened(reply: &Reply) {
    assert_eq!(
        reply.header("x-content-type-options"),
        Some("nosniff"),
        "{reply:?}"
    );
    assert_eq!(reply.header("x-frame-options"), Some("DENY"), "{reply:?}");
    assert_eq!(
        reply.header("referrer-policy"),
        Some("no-referrer"),
        "{reply:?}"
    );
    let policy = reply.header("content-security-policy").unwrap_or_default();
    assert!(policy.contains("frame-ancestors 'none'"), "{reply:?}");
}

async fn every_answer_carries_a_request_id_and_the_security_headers(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    // A caller's (or proxy's) id comes back as it was.
    let health = app
        .send(
            app.client
                .get(app.url("/healthz"))
                .header("x-request-id", "edge-7f3a.42"),
        )
        .await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.header("x-request-id"), Some("edge-7f3a.42"));
    assert_hardened(&health);
    assert_eq!(
        health.header("content-security-policy"),
        Some("default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
    );

    // Problems get one too: a new id when none (or a malformed one) came in.
    let email = app.new_user().await;
    let refused = app
        .send(
            app.client
                .post(app.url("/v1/auth/login"))
                .header("x-request-id", "not ok\t<script>")
                .json(&serde_json::json!({ "email": email, "password": "wrong password!" })),
        )
        .await;
    refused.assert_problem(401, "invalid_credentials");
    let generated = refused.header("x-request-id").expect("an X-Request-Id");
    assert!(uuid::Uuid::parse_str(generated).is_ok(), "{generated}");
    assert_hardened(&refused);
    let missing = app.get("/no/such/route").await;
    missing.assert_problem(404, "not_found");
    assert_ne!(missing.header("x-request-id"), Some(generated));
    assert!(missing.header("x-request-id").is_some());
    assert_hardened(&missing);

    // Token responses keep `Cache-Control: no-store` (asserted by `token_pair`).
    let login = app.try_login(&email, PASSWORD).await;
    login.token_pair();
    assert_hardened(&login);

    // Swagger UI gets a policy that lets it run from this origin only.
    let docs = app.get("/docs/").await;
    assert_eq!(docs.status, StatusCode::OK);
    let policy = docs.header("content-security-policy").unwrap_or_default();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{directive} in {policy}");
    }
    assert!(!policy.contains("unsafe"), "{policy}");
    assert!(docs.header("x-request-id").is_some());
    // The demo page keeps the policy it sets itself.
    let demo = app.get("/demo").await;
    if demo.status == StatusCode::OK {
        let policy = demo.header("content-security-policy").unwrap_or_default();
        assert!(policy.contains("script-src 'self'"), "{policy}");
        assert!(!policy.starts_with("default-src 'none'"), "{policy}");
    }
}

async fn metrics_count_logins_refusals_by_code_and_reuse(backend: Backend) {
    let Some(app) = spawn_app(backend, &[("TESSERA_REUSE_GRACE", "0s")]).await else {
        return;
    };
    let before = app.metrics().await;
    assert_eq!(
        total(&before, "tessera_logins_total", &[("outcome", "succeeded")]),
        0.0
    );
    assert_eq!(
        total(&before, "tessera_refresh_reuse_detected_total", &[]),
        0.0
    );

    let email = app.new_user().await;
    let login = app.login(&email, PASSWORD).await;
    app.try_login(&email, "not the password")
        .await
        .assert_problem(401, "invalid_credentials");
    app.try_login(&unique_email(), PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    app.refresh("garbage")
        .await
        .assert_problem(401, "refresh_token_invalid");
    let rotated = app.refresh(&login.refresh_token).await.token_pair();
    app.refresh(&login.refresh_token)
        .await
        .assert_problem(401, "refresh_token_reused");
    app.refresh(&rotated.refresh_token)
        .await
        .assert_problem(401, "session_revoked");

    let after = app.metrics().await;
    for (name, labels, expected) in [
        ("tessera_logins_total", vec![("outcome", "succeeded")], 1.0),
        ("tessera_logins_total", vec![("outcome", "failed")], 2.0),
        ("tessera_refreshes_total", vec![("outcome", "rotated")], 1.0),
        (
            "tessera_refresh_refusals_total",
            vec![("code", "refresh_token_invalid")],
            1.0,
        ),
        (
            "tessera_refresh_refusals_total",
            vec![("code", "refresh_token_reused")],
            1.0,
        ),
        (
            "tessera_refresh_refusals_total",
            vec![("code", "session_revoked")],
            1.0,
        ),
        (
            "tessera_refresh_refusals_total",
            vec![("code", "session_idle_timeout")],
            0.0,
        ),
        ("tessera_refresh_reuse_detected_total", vec![], 1.0),
        (
            "tessera_auth_events_total",
            vec![("kind", "registered")],
            1.0,
        ),
    ] {
        assert_eq!(total(&after, name, &labels), expected, "{name}{labels:?}");
    }
}

async fn request_latency_is_measured_by_route_pattern_never_by_raw_path(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let session = app.new_session().await;
    let other_id = uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef).to_string();
    let path = format!("/v1/auth/sessions/{other_id}");
    app.bearer(reqwest::Method::DELETE, &path, &session.access_token)
        .await
        .assert_problem(404, "not_found");
    app.get("/definitely/not/a/route?secret=1").await;

    let samples = app.metrics().await;
    let latency = "tessera_http_request_duration_seconds";
    let count = |route: &str, method: &str, status: &str| {
        total(
            &samples,
            &format!("{latency}_count"),
            &[("route", route), ("method", method), ("status", status)],
        )
    };
    assert_eq!(count("/v1/auth/login", "POST", "2xx"), 1.0);
    assert_eq!(count("/v1/auth/register", "POST", "2xx"), 1.0);
    assert_eq!(count("/v1/auth/sessions/{id}", "DELETE", "4xx"), 1.0);
    assert_eq!(count("unmatched", "GET", "4xx"), 1.0);
    let inf = total(
        &samples,
        &format!("{latency}_bucket"),
        &[("route", "/v1/auth/login"), ("le", "+Inf")],
    );
    assert_eq!(inf, 1.0);
    for sample in &samples {
        for value in sample.labels.values() {
            assert!(
                !value.contains(&other_id)
                    && !value.contains("secret")
                    && !value.contains("definitely"),
                "{sample:?}"
            );
        }
    }
}

/// Scrapes until `tessera_sessions_active` is `expected` (the gauge is recounted at
/// most once a second), and asserts it gets there.
async fn assert_active_sessions(app: &TestApp, expected: f64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let active = total(&app.metrics().await, "tessera_sessions_active", &[]);
        if active == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "tessera_sessions_active stayed {active}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn the_active_session_gauge_follows_logins_and_logouts(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    assert_active_sessions(&app, 0.0).await;
    let email = app.new_user().await;
    let first = app.login(&email, PASSWORD).await;
    assert_active_sessions(&app, 1.0).await;
    let second = app.login(&email, PASSWORD).await;
    assert_active_sessions(&app, 2.0).await;
    app.logout(&first.access_token).await.assert_no_content();
    assert_active_sessions(&app, 1.0).await;
    app.logout(&second.access_token).await.assert_no_content();
    assert_active_sessions(&app, 0.0).await;

    let samples = app.metrics().await;
    let max = total(&samples, "tessera_db_pool_max_connections", &[]);
    let open = total(&samples, "tessera_db_pool_connections", &[]);
    let idle = total(&samples, "tessera_db_pool_idle_connections", &[]);
    assert!(
        max >= 1.0 && open >= 1.0 && open <= max && idle <= open,
        "{samples:?}"
    );
}

async fn metrics_can_be_turned_off_or_put_behind_a_token(backend: Backend) {
    let Some(app) = spawn_app(backend, &[("TESSERA_METRICS", "off")]).await else {
        return;
    };
    app.get("/metrics").await.assert_problem(404, "not_found");
    // Requests are still answered with their ids.
    assert!(app.get("/healthz").await.header("x-request-id").is_some());

    let token = "scrape-token-for-tests-0123456789";
    let app = app
        .restart(&[("TESSERA_METRICS", "on"), ("TESSERA_METRICS_TOKEN", token)])
        .await;
    app.get("/metrics")
        .await
        .assert_problem(401, "unauthorized");
    app.send(
        app.client
            .get(app.url("/metrics"))
            .bearer_auth("scrape-token-for-tests-wrong-one"),
    )
    .await
    .assert_problem(401, "unauthorized");
    let scraped = app
        .send(app.client.get(app.url("/metrics")).bearer_auth(token))
        .await;
    assert_eq!(scraped.status, StatusCode::OK);
    assert!(!parse_metrics(&scraped.text).is_empty());
}

/// Renames `sessions` so that every query on it fails as a bug would.
fn break_sessions_table(backend: Backend, url: &str) {
    let statement = diesel::sql_query("ALTER TABLE sessions RENAME TO sessions_moved_away");
    match backend {
        Backend::Sqlite => {
            let path = url.strip_prefix("sqlite://").expect("a sqlite:// URL");
            let mut connection = diesel::SqliteConnection::establish(path).unwrap();
            statement.execute(&mut connection).unwrap();
        }
        Backend::Postgres => {
            let mut connection = diesel::PgConnection::establish(url).unwrap();
            statement.execute(&mut connection).unwrap();
        }
    }
}

/// What a 5xx body must not contain: SQL, table names, driver or source locations.
#[track_caller]
fn assert_no_internals(reply: &Reply) {
    let body = reply.text.to_ascii_lowercase();
    for leak in [
        "sessions",
        "select",
        "insert",
        "update ",
        "relation",
        "no such table",
        "diesel",
        "sqlite",
        "postgres",
        "panicked",
        ".rs:",
        "backtrace",
    ] {
        assert!(!body.contains(leak), "{leak:?} in {}", reply.text);
    }
}

async fn a_server_error_names_no_table_query_or_stack(backend: Backend) {
    let Some(database) = test_database(backend).await else {
        return;
    };
    let url = database.url.clone();
    let app = spawn_app_on(database, &url, &[]).await;
    let email = app.new_user().await;
    let url_for_break = url.clone();
    tokio::task::spawn_blocking(move || break_sessions_table(backend, &url_for_break))
        .await
        .unwrap();

    let failed = app.try_login(&email, PASSWORD).await;
    failed.assert_problem(500, "internal_error");
    assert_no_internals(&failed);
    assert!(failed.header("x-request-id").is_some());
    assert_hardened(&failed);
    let samples = app.metrics().await;
    assert_eq!(
        total(
            &samples,
            "tessera_http_request_duration_seconds_count",
            &[("route", "/v1/auth/login"), ("status", "5xx")],
        ),
        1.0
    );
}

/// SQLite: a database locked by another writer for longer than `busy_timeout` is a
/// 503 `service_unavailable`, with as little in its body as a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_locked_database_answers_503_without_internals() {
    let database = test_database(Backend::Sqlite).await.unwrap();
    let url = database.url.clone();
    let app = spawn_app_on(database, &url, &[]).await;
    let email = app.new_user().await;
    let path = url.strip_prefix("sqlite://").unwrap().to_owned();
    let mut lock = tokio::task::spawn_blocking(move || {
        let mut connection = diesel::SqliteConnection::establish(&path).unwrap();
        diesel::sql_query("BEGIN EXCLUSIVE")
            .execute(&mut connection)
            .unwrap();
        connection
    })
    .await
    .unwrap();

    let unavailable = app.try_login(&email, PASSWORD).await;
    unavailable.assert_problem(503, "service_unavailable");
    assert_no_internals(&unavailable);
    assert!(unavailable.header("x-request-id").is_some());

    tokio::task::spawn_blocking(move || {
        diesel::sql_query("ROLLBACK").execute(&mut lock).unwrap();
    })
    .await
    .unwrap();
    app.login(&email, PASSWORD).await;
}
