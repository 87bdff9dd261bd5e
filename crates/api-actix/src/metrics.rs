//! What `GET /metrics` reports. Auth counters come from the audit events (every auth
//! decision writes one, so a decorating [`AuditSink`] sees them all); request latency
//! and rate-limit hits come from the request middleware; the gauges of live sessions
//! and of the database pool are read when scraped. Kept in process and written in
//! the Prometheus text format; every label takes values from a fixed set (route
//! patterns, methods, status classes, event kinds and codes), never from user input.

mod audit;
mod exposition;
mod sessions;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix_web::http::header::HeaderValue;
use actix_web::http::{Method, StatusCode};
use chrono::TimeDelta;
use subtle::ConstantTimeEq;
use tessera_application::ports::{AuditSink, Clock, Statistics};
use tessera_application::{AuthEvent, AuthEventKind};
use tessera_domain::RefreshRefusal;

pub(crate) use exposition::CONTENT_TYPE;
use exposition::{Exposition, Histogram};
use sessions::LiveSessions;

/// The label of requests no route matched: their paths are not a bounded set.
pub(crate) const UNMATCHED_ROUTE: &str = "unmatched";

/// Every refusal code, so each series exists (at zero) from the start.
const REFUSAL_CODES: [&str; 7] = [
    RefreshRefusal::TokenInvalid.code(),
    RefreshRefusal::SessionRevoked.code(),
    RefreshRefusal::LifetimeExceeded.code(),
    RefreshRefusal::IdleTimeout.code(),
    RefreshRefusal::UserDisabled.code(),
    RefreshRefusal::ClientMismatch.code(),
    RefreshRefusal::Reused.code(),
];

/// The process's metrics. Cheap to clone: clones share the counters.
#[derive(Clone, Default)]
pub struct Metrics {
    registry: Arc<Registry>,
    /// `TESSERA_METRICS_TOKEN`: when set, scrapes must send it as a bearer token.
    token: Option<Arc<str>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("protected", &self.token.is_some())
            .finish_non_exhaustive()
    }
}

/// Audit events by (kind, code).
type EventCounts = BTreeMap<(&'static str, Option<&'static str>), u64>;
/// Latency by route pattern, then by (method, status class).
type Latencies = BTreeMap<String, BTreeMap<(&'static str, &'static str), Histogram>>;

#[derive(Default)]
struct Registry {
    events: Mutex<EventCounts>,
    latencies: Mutex<Latencies>,
    rate_limited: Mutex<BTreeMap<String, u64>>,
    /// `None`: no gauges (tests of the HTTP layer alone).
    live_sessions: Option<LiveSessions>,
}

impl Metrics {
    /// Counters and histograms, without the gauges that need storage.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counters, histograms, and the gauges read from `statistics`: live sessions
    /// (sessions idle longer than `idle_timeout` do not count), cached between
    /// scrapes, and the connection pool.
    pub fn with_statistics(
        statistics: Arc<dyn Statistics>,
        clock: Arc<dyn Clock>,
        idle_timeout: TimeDelta,
    ) -> Self {
        Self {
            registry: Arc::new(Registry {
                live_sessions: Some(LiveSessions::new(statistics, clock, idle_timeout)),
                ..Registry::default()
            }),
            token: None,
        }
    }

    /// Scrapes must send `Authorization: Bearer <token>`.
    #[must_use]
    pub fn protected_by(mut self, token: &str) -> Self {
        self.token = Some(Arc::from(token));
        self
    }

    /// `sink`, counting every event it is given (whether or not storing it works).
    pub fn counting(&self, sink: Arc<dyn AuditSink>) -> Arc<dyn AuditSink> {
        Arc::new(audit::CountingAuditSink::new(sink, self.clone()))
    }

    fn count_event(&self, event: &AuthEvent) {
        *lock(&self.registry.events)
            .entry((event.kind.as_str(), event.code))
            .or_default() += 1;
        if changes_live_sessions(event.kind)
            && let Some(live_sessions) = &self.registry.live_sessions
        {
            live_sessions.mark_stale();
        }
    }

    /// One answered request: `route` is the matched pattern (or [`UNMATCHED_ROUTE`]).
    pub(crate) fn observe_request(
        &self,
        route: &str,
        method: &Method,
        status: StatusCode,
        elapsed: Duration,
    ) {
        {
            let mut latencies = lock(&self.registry.latencies);
            let by_route = match latencies.get_mut(route) {
                Some(by_route) => by_route,
                None => latencies.entry(route.to_owned()).or_default(),
            };
            by_route
                .entry((method_label(method), status_class(status)))
                .or_default()
                .observe(elapsed.as_secs_f64());
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            *lock(&self.registry.rate_limited)
                .entry(route.to_owned())
                .or_default() += 1;
        }
    }

    /// Whether a scrape with this `Authorization` header may read the metrics.
    pub(crate) fn allows(&self, authorization: Option<&HeaderValue>) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        authorization
            .and_then(|value| value.to_str().ok())
            .and_then(crate::extract::bearer_credentials)
            .is_some_and(|presented| bool::from(presented.as_bytes().ct_eq(token.as_bytes())))
    }

    /// The metrics page.
    pub(crate) async fn render(&self) -> String {
        let gauges = match &self.registry.live_sessions {
            Some(live_sessions) => Some((live_sessions.current().await, live_sessions.pool())),
            None => None,
        };
        let mut page = Exposition::default();
        page.family(
            "tessera_build_info",
            "gauge",
            "Always 1; the version of the running binary.",
        );
        page.sample(
            "tessera_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))],
            1,
        );
        self.render_auth(&mut page);
        self.render_http(&mut page);
        if let Some((live_sessions, pool)) = gauges {
            if let Some(count) = live_sessions {
                page.family(
                    "tessera_sessions_active",
                    "gauge",
                    "Sessions that can still be refreshed: not revoked, before their absolute end, refreshed within the idle timeout.",
                );
                page.sample("tessera_sessions_active", &[], count);
            }
            for (name, help, value) in [
                (
                    "tessera_db_pool_connections",
                    "Open database connections, in use or idle.",
                    pool.connections,
                ),
                (
                    "tessera_db_pool_idle_connections",
                    "Idle database connections.",
                    pool.idle,
                ),
                (
                    "tessera_db_pool_max_connections",
                    "The most connections the pool opens (database_pool_size).",
                    pool.max,
                ),
            ] {
                page.family(name, "gauge", help);
                page.sample(name, &[], value);
            }
        }
        page.finish()
    }

    fn render_auth(&self, page: &mut Exposition) {
        let events = lock(&self.registry.events).clone();
        let total = |kind: AuthEventKind| -> u64 {
            events
                .iter()
                .filter(|((counted, _), _)| *counted == kind.as_str())
                .map(|(_, count)| count)
                .sum()
        };
        let with_code = |kind: AuthEventKind, code: &str| -> u64 {
            events
                .iter()
                .filter(|((counted, counted_code), _)| {
                    *counted == kind.as_str() && *counted_code == Some(code)
                })
                .map(|(_, count)| count)
                .sum()
        };

        page.family(
            "tessera_logins_total",
            "counter",
            "Logins by outcome (succeeded, failed: wrong e-mail or password, or a disabled user).",
        );
        for (outcome, kind) in [
            ("succeeded", AuthEventKind::LoginSucceeded),
            ("failed", AuthEventKind::LoginFailed),
        ] {
            page.sample("tessera_logins_total", &[("outcome", outcome)], total(kind));
        }

        page.family(
            "tessera_refreshes_total",
            "counter",
            "Successful refreshes: rotated, or repeated (a duplicate inside the reuse grace window got the first answer again).",
        );
        for (outcome, kind) in [
            ("rotated", AuthEventKind::Refreshed),
            ("repeated", AuthEventKind::RefreshRepeated),
        ] {
            page.sample(
                "tessera_refreshes_total",
                &[("outcome", outcome)],
                total(kind),
            );
        }

        page.family(
            "tessera_refresh_refusals_total",
            "counter",
            "Refused refreshes by stable code (reuse detections included, as refresh_token_reused).",
        );
        for code in REFUSAL_CODES {
            let count = with_code(AuthEventKind::RefreshRefused, code)
                + with_code(AuthEventKind::ReuseDetected, code);
            page.sample("tessera_refresh_refusals_total", &[("code", code)], count);
        }

        page.family(
            "tessera_refresh_reuse_detected_total",
            "counter",
            "Refresh tokens replayed after the grace window; each revoked its session.",
        );
        page.sample(
            "tessera_refresh_reuse_detected_total",
            &[],
            total(AuthEventKind::ReuseDetected),
        );

        page.family(
            "tessera_auth_events_total",
            "counter",
            "Every audit event by kind and code (the code label is absent when the event has none).",
        );
        for ((kind, code), count) in &events {
            match code {
                Some(code) => page.sample(
                    "tessera_auth_events_total",
                    &[("kind", kind), ("code", code)],
                    count,
                ),
                None => page.sample("tessera_auth_events_total", &[("kind", kind)], count),
            }
        }
    }

    fn render_http(&self, page: &mut Exposition) {
        page.family(
            "tessera_http_rate_limited_total",
            "counter",
            "Requests answered 429 Too Many Requests, by route pattern.",
        );
        for (route, count) in lock(&self.registry.rate_limited).iter() {
            page.sample(
                "tessera_http_rate_limited_total",
                &[("route", route)],
                count,
            );
        }
        page.family(
            "tessera_http_request_duration_seconds",
            "histogram",
            "Time to answer a request (until the response head), by route pattern, method and status class.",
        );
        for (route, by_label) in lock(&self.registry.latencies).iter() {
            for ((method, status), histogram) in by_label {
                page.histogram(
                    "tessera_http_request_duration_seconds",
                    &[("route", route), ("method", method), ("status", status)],
                    histogram,
                );
            }
        }
    }
}

/// Events after which the number of live sessions may differ.
const fn changes_live_sessions(kind: AuthEventKind) -> bool {
    matches!(
        kind,
        AuthEventKind::LoginSucceeded
            | AuthEventKind::ReuseDetected
            | AuthEventKind::Logout
            | AuthEventKind::LogoutAll
            | AuthEventKind::SessionRevoked
            | AuthEventKind::PasswordChanged
            | AuthEventKind::UserDisabled
    )
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Counters stay usable after a panic elsewhere: they hold plain numbers.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
