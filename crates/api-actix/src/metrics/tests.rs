//! The page `GET /metrics` serves: names, labels and values.

use tessera_application::AuthEvent;
use tessera_application::ports::{MockAuditSink, PoolUsage};
use tessera_domain::ClientContext;

use super::*;

fn event(kind: AuthEventKind, code: Option<&'static str>) -> AuthEvent {
    AuthEvent {
        at: chrono::DateTime::<chrono::Utc>::MIN_UTC,
        kind,
        user_id: None,
        session_id: None,
        client: ClientContext::default(),
        code,
        actor: None,
    }
}

/// The value of the sample line that starts with `series ` exactly.
fn value(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
}

#[actix_web::test]
async fn audit_events_become_the_auth_counters_and_still_reach_the_sink() {
    let metrics = Metrics::new();
    let mut inner = MockAuditSink::new();
    inner.expect_record().times(5).returning(|_| Ok(()));
    let sink = metrics.counting(Arc::new(inner));
    for (kind, code) in [
        (AuthEventKind::LoginSucceeded, None),
        (AuthEventKind::LoginFailed, None),
        (AuthEventKind::RefreshRefused, Some("session_idle_timeout")),
        (AuthEventKind::ReuseDetected, Some("refresh_token_reused")),
        (AuthEventKind::Refreshed, Some("ip_changed")),
    ] {
        sink.record(&event(kind, code)).await.unwrap();
    }
    let page = metrics.render().await;
    for (series, expected) in [
        ("tessera_logins_total{outcome=\"succeeded\"}", 1.0),
        ("tessera_logins_total{outcome=\"failed\"}", 1.0),
        ("tessera_refreshes_total{outcome=\"rotated\"}", 1.0),
        ("tessera_refreshes_total{outcome=\"repeated\"}", 0.0),
        (
            "tessera_refresh_refusals_total{code=\"session_idle_timeout\"}",
            1.0,
        ),
        (
            "tessera_refresh_refusals_total{code=\"refresh_token_reused\"}",
            1.0,
        ),
        (
            "tessera_refresh_refusals_total{code=\"client_mismatch\"}",
            0.0,
        ),
        ("tessera_refresh_reuse_detected_total", 1.0),
        ("tessera_auth_events_total{kind=\"login_failed\"}", 1.0),
        (
            "tessera_auth_events_total{kind=\"refreshed\",code=\"ip_changed\"}",
            1.0,
        ),
    ] {
        assert_eq!(value(&page, series), Some(expected), "{series} in\n{page}");
    }
}

#[actix_web::test]
async fn a_failing_sink_does_not_lose_the_count() {
    let metrics = Metrics::new();
    let mut inner = MockAuditSink::new();
    inner
        .expect_record()
        .returning(|_| Err(tessera_application::Error::Unavailable("down".into())));
    let sink = metrics.counting(Arc::new(inner));
    assert!(
        sink.record(&event(AuthEventKind::LoginSucceeded, None))
            .await
            .is_err()
    );
    let page = metrics.render().await;
    assert_eq!(
        value(&page, "tessera_logins_total{outcome=\"succeeded\"}"),
        Some(1.0)
    );
}

#[actix_web::test]
async fn requests_are_measured_by_route_method_and_status_class() {
    let metrics = Metrics::new();
    let route = "/v1/auth/sessions/{id}";
    metrics.observe_request(
        route,
        &Method::DELETE,
        StatusCode::NO_CONTENT,
        Duration::from_millis(3),
    );
    metrics.observe_request(
        route,
        &Method::from_bytes(b"BREW").unwrap(),
        StatusCode::NOT_FOUND,
        Duration::from_millis(30),
    );
    metrics.observe_request(
        "/v1/auth/login",
        &Method::POST,
        StatusCode::TOO_MANY_REQUESTS,
        Duration::from_millis(1),
    );
    let page = metrics.render().await;
    let latency = "tessera_http_request_duration_seconds";
    assert_eq!(
        value(
            &page,
            &format!("{latency}_count{{route=\"{route}\",method=\"DELETE\",status=\"2xx\"}}")
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &page,
            &format!(
                "{latency}_bucket{{route=\"{route}\",method=\"other\",status=\"4xx\",le=\"0.025\"}}"
            )
        ),
        Some(0.0)
    );
    assert_eq!(
        value(
            &page,
            "tessera_http_rate_limited_total{route=\"/v1/auth/login\"}"
        ),
        Some(1.0)
    );
    assert!(page.contains("# TYPE tessera_http_request_duration_seconds histogram\n"));
}

#[actix_web::test]
async fn gauges_report_live_sessions_and_the_pool() {
    let mut statistics = tessera_application::ports::MockStatistics::new();
    statistics.expect_live_sessions().returning(|_, _| Ok(4));
    statistics.expect_pool().returning(|| PoolUsage {
        connections: 3,
        idle: 2,
        max: 10,
    });
    let mut clock = tessera_application::ports::MockClock::new();
    clock
        .expect_now()
        .returning(|| chrono::DateTime::<chrono::Utc>::MIN_UTC + TimeDelta::days(400));
    let metrics =
        Metrics::with_statistics(Arc::new(statistics), Arc::new(clock), TimeDelta::days(7));
    let page = metrics.render().await;
    assert_eq!(value(&page, "tessera_sessions_active"), Some(4.0));
    assert_eq!(value(&page, "tessera_db_pool_connections"), Some(3.0));
    assert_eq!(value(&page, "tessera_db_pool_idle_connections"), Some(2.0));
    assert_eq!(value(&page, "tessera_db_pool_max_connections"), Some(10.0));
}

#[test]
fn a_token_protects_the_page_only_when_set() {
    assert!(Metrics::new().allows(None));
    let protected = Metrics::new().protected_by("s3cret-scrape-token");
    assert!(!protected.allows(None));
    assert!(!protected.allows(Some(&HeaderValue::from_static("Bearer wrong"))));
    assert!(!protected.allows(Some(&HeaderValue::from_static("s3cret-scrape-token"))));
    assert!(protected.allows(Some(&HeaderValue::from_static(
        "Bearer s3cret-scrape-token"
    ))));
}
