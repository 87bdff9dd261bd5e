//! The database going away and coming back, on PostgreSQL: the app answers 503
//! `service_unavailable` (not 500) quickly, says it is not ready, and recovers by
//! itself. The shared server is never touched: the app reaches it through a forwarder
//! that the test switches off and on.

use std::time::Duration;

use reqwest::StatusCode;
use tokio::time::Instant;

use crate::helpers::{Backend, PASSWORD, Reply, TestApp, spawn_app_on, test_database};
use crate::tcp_forwarder::TcpForwarder;

/// How long a request may take to say "unavailable": the pool waits about 2 s for a
/// connection.
const PROMPT: Duration = Duration::from_secs(6);

/// `url` with its `host:port` replaced by `127.0.0.1:<port>`, and the `host:port` it had.
fn through(url: &str, port: u16) -> (String, String) {
    let authority_start = url.find("://").unwrap() + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?'])
        .map_or(url.len(), |end| authority_start + end);
    let authority = &url[authority_start..authority_end];
    let (user, host) = authority
        .rsplit_once('@')
        .map_or(("", authority), |(user, host)| (user, host));
    let upstream = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    };
    let user = if user.is_empty() {
        String::new()
    } else {
        format!("{user}@")
    };
    let rewritten = format!(
        "{}{user}127.0.0.1:{port}{}",
        &url[..authority_start],
        &url[authority_end..]
    );
    (rewritten, upstream)
}

async fn timed<F: std::future::Future<Output = Reply>>(request: F) -> (Reply, Duration) {
    let started = Instant::now();
    let reply = request.await;
    (reply, started.elapsed())
}

async fn ready_within(app: &TestApp, limit: Duration) -> Reply {
    let deadline = Instant::now() + limit;
    loop {
        let ready = app.get("/readyz").await;
        if ready.status == StatusCode::OK || Instant::now() > deadline {
            return ready;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_answers_503_and_the_app_recovers_without_a_restart() {
    let Some(database) = test_database(Backend::Postgres).await else {
        return;
    };
    let (_, upstream) = through(&database.url, 0);
    let forwarder = TcpForwarder::start(upstream).await;
    let (url, _) = through(&database.url, forwarder.port());
    let app = spawn_app_on(database, &url, &[]).await;
    let email = app.new_user().await;
    let before = app.login(&email, PASSWORD).await;

    forwarder.set_on(false);

    let (login, took) = timed(app.try_login(&email, PASSWORD)).await;
    login.assert_problem(503, "service_unavailable");
    assert!(took < PROMPT, "login took {took:?} to give up");
    assert_eq!(login.header("retry-after"), Some("1"));
    // The cause is logged, not shown: no host, port or driver message.
    for leak in [
        "127.0.0.1",
        &forwarder.port().to_string(),
        "connection",
        "r2d2",
    ] {
        assert!(!login.text.contains(leak), "{leak:?} in {}", login.text);
    }
    let (refresh, took) = timed(app.refresh(&before.refresh_token)).await;
    refresh.assert_problem(503, "service_unavailable");
    assert!(took < PROMPT, "refresh took {took:?} to give up");
    let (register, _) = timed(app.register(&crate::helpers::unique_email(), PASSWORD)).await;
    register.assert_problem(503, "service_unavailable");
    // Authenticated requests too: the token is fine, the session cannot be read.
    app.me(&before.access_token)
        .await
        .assert_problem(503, "service_unavailable");
    let (ready, took) = timed(app.get("/readyz")).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE, "{ready:?}");
    assert_eq!(ready.json["status"], "unavailable");
    assert_eq!(ready.json["checks"]["database"], "unavailable");
    assert!(took < PROMPT, "/readyz took {took:?}");
    // Liveness is about the process, which is fine.
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);

    forwarder.set_on(true);

    let ready = ready_within(&app, Duration::from_secs(10)).await;
    assert_eq!(ready.status, StatusCode::OK, "not ready again: {ready:?}");
    assert_eq!(ready.json["checks"]["database"], "ok");
    let after = app.login(&email, PASSWORD).await;
    assert_eq!(app.me(&after.access_token).await.status, StatusCode::OK);
    // The session from before the outage survived it.
    app.refresh(&before.refresh_token).await.token_pair();
}

/// Migrations run at start; without a database the app must say so promptly instead
/// of hanging (or silently falling back to something else).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_the_app_does_not_start_without_its_database_and_says_why() {
    let Some(database) = test_database(Backend::Postgres).await else {
        return;
    };
    let (_, upstream) = through(&database.url, 0);
    let forwarder = TcpForwarder::start(upstream).await;
    forwarder.set_on(false);
    let (url, _) = through(&database.url, forwarder.port());
    let settings = tessera_server::Sources::load(
        None,
        [
            ("TESSERA_BIND", "127.0.0.1:0"),
            ("TESSERA_DATABASE_URL", url.as_str()),
        ]
        .map(|(key, value)| (key.to_owned(), value.to_owned())),
    )
    .and_then(|sources| sources.settings())
    .unwrap();

    let started = Instant::now();
    let error = tessera_server::Application::build(&settings)
        .await
        .expect_err("no database, no server");
    assert!(started.elapsed() < PROMPT, "took {:?}", started.elapsed());
    let message = error.to_string().to_lowercase();
    assert!(message.contains("unavailable"), "{message}");
    drop(database);
}

#[test]
fn the_url_is_rewritten_to_the_forwarder() {
    assert_eq!(
        through("postgres://postgres@127.0.0.1:5432/t1?connect_timeout=2", 9),
        (
            "postgres://postgres@127.0.0.1:9/t1?connect_timeout=2".to_owned(),
            "127.0.0.1:5432".to_owned()
        )
    );
    assert_eq!(
        through("postgres://u:p@db/t2", 7),
        (
            "postgres://u:p@127.0.0.1:7/t2".to_owned(),
            "db:5432".to_owned()
        )
    );
}
