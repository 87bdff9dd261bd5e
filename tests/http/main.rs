//! HTTP-level tests: each starts the real server (`Application::build`) on a free port
//! with a database of its own, and talks to it over HTTP like a client would. Every
//! scenario runs on SQLite and on PostgreSQL.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed unwrap is a failed test"
)]

/// Turns each scenario `async fn name(backend: Backend)` of the calling module into two
/// tests, `sqlite::name` and `postgres::name`. The PostgreSQL one returns early (with a
/// SKIPPED notice) only when PostgreSQL is unreachable and `CI` is unset.
macro_rules! on_both_backends {
    ($($scenario:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(crate::helpers::Backend::Sqlite).await;
                }
            )+
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(crate::helpers::Backend::Postgres).await;
                }
            )+
        }
    };
}

mod access_tokens;
mod attacks;
mod bad_input;
mod browser_transport;
mod client_binding;
mod contract;
mod database_outage;
mod docs_and_health;
mod helpers;
mod introspection;
mod key_rotation;
mod legacy_tokens;
mod login_hardening;
mod oauth;
mod observability;
mod redis_outage;
mod refresh_rotation;
mod session_lifecycle;
mod session_limits;
mod session_management;
mod tcp_forwarder;
mod throttling;
