//! SPEC §6's housekeeping through the real running server, on both databases: with
//! short lifetimes, the purge task `serve` runs deletes ended sessions (with their
//! refresh tokens) and old audit events by itself, while a live session stays.
//!
//! The sessions are made through a service of their own on the same database; the
//! test never calls `purge` — only the running `Application` does.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed unwrap is a failed test"
)]

use std::time::Duration;

use diesel::sql_types::BigInt;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};
use tessera_application::Error;
use tessera_domain::{ClientContext, EmailAddress, Password, RefreshRefusal};
use tessera_infra_diesel::testing::TestDatabase;
use tessera_server::{Application, Components, Settings, Sources};

/// Ended sessions become purgeable `access_ttl + clock_leeway` = 1 s after they end
/// (a logout, or the absolute end 4 s after login); the task looks every 200 ms; audit
/// events are kept 3 s.
fn settings(database_url: &str) -> Settings {
    let pairs = [
        ("TESSERA_BIND", "127.0.0.1:0"),
        ("TESSERA_DATABASE_URL", database_url),
        (
            "TESSERA_TOKEN_PEPPER",
            "a pepper for the housekeeping tests, long enough",
        ),
        ("TESSERA_PURGE_INTERVAL", "200ms"),
        ("TESSERA_ACCESS_TTL", "1s"),
        ("TESSERA_IDLE_TIMEOUT", "3s"),
        ("TESSERA_ABSOLUTE_LIFETIME", "4s"),
        ("TESSERA_REUSE_GRACE", "500ms"),
        ("TESSERA_CLOCK_LEEWAY", "0s"),
        ("TESSERA_ACTIVITY_WRITE_INTERVAL", "1s"),
        ("TESSERA_AUDIT_RETENTION", "3s"),
        ("TESSERA_SHUTDOWN_TIMEOUT", "1s"),
    ];
    Sources::load(
        None,
        pairs.map(|(key, value)| (key.to_owned(), value.to_owned())),
    )
    .and_then(|sources| sources.settings())
    .unwrap_or_else(|error| panic!("invalid test settings: {error}"))
}

/// Counts rows with a connection of its own: the repositories have no count, and
/// this must see exactly what is stored.
enum Rows {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

impl Rows {
    fn open(database_url: &str) -> Self {
        match database_url.strip_prefix("sqlite://") {
            Some(path) => Self::Sqlite(SqliteConnection::establish(path).unwrap()),
            None => Self::Postgres(PgConnection::establish(database_url).unwrap()),
        }
    }

    fn count(&mut self, table: &str) -> i64 {
        let query = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"));
        let count: Count = match self {
            Self::Postgres(connection) => query.get_result(connection),
            Self::Sqlite(connection) => query.get_result(connection),
        }
        .unwrap();
        count.n
    }

    /// (sessions, refresh_tokens, auth_events)
    fn counts(&mut self) -> (i64, i64, i64) {
        (
            self.count("sessions"),
            self.count("refresh_tokens"),
            self.count("auth_events"),
        )
    }
}

/// Polls `check` every 50 ms until it holds, or fails after `within`.
async fn eventually(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {within:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn the_running_server_purges_ended_sessions_and_old_events(database: &TestDatabase) {
    let settings = settings(&database.url);
    let application = Application::build(&settings).await.unwrap();
    let server = tokio::spawn(application.run_until_stopped());
    let service = Components::build(&settings).await.unwrap().service;
    let mut rows = Rows::open(&database.url);

    let client = ClientContext::default();
    let email = EmailAddress::parse("tidy@example.com").unwrap();
    let password = Password::new("correct horse battery staple").unwrap();
    service
        .register(email.clone(), password.clone(), &client)
        .await
        .unwrap();
    // Session B: rotated once and still live (its absolute end is 4 s away).
    let live = service.login(&email, &password, &client).await.unwrap();
    let live = service
        .refresh(live.refresh_token.expose(), &client)
        .await
        .unwrap();
    // Session A: rotated once, then logged out; counted at once, before it may go.
    let ended = service.login(&email, &password, &client).await.unwrap();
    let ended = service
        .refresh(ended.refresh_token.expose(), &client)
        .await
        .unwrap();
    let principal = service
        .authenticate(
            ended.access_token.expose(),
            &tessera_domain::ClientContext::default(),
        )
        .await
        .unwrap();
    service.logout(&principal, &client).await.unwrap();

    let (sessions, tokens, events) = rows.counts();
    assert_eq!(
        (sessions, tokens),
        (2, 4),
        "two sessions of two tokens each"
    );
    assert!(
        events >= 6,
        "register, 2 logins, 2 refreshes, logout: {events}"
    );

    // A ended 1 s (access_ttl + leeway) ago at the earliest after this: the task removes
    // it and its tokens, and leaves B alone.
    eventually(
        "the ended session is purged",
        Duration::from_secs(3),
        || rows.count("sessions") == 1,
    )
    .await;
    assert_eq!(
        rows.count("refresh_tokens"),
        2,
        "only the live session's tokens"
    );
    let live = service
        .refresh(live.refresh_token.expose(), &client)
        .await
        .expect("the live session still refreshes");

    // B reaches its absolute end 4 s after login, and is purged 1 s later; by then every
    // audit event is past the 3 s retention too.
    eventually(
        "the expired session and the old audit events are purged",
        Duration::from_secs(7),
        || rows.counts() == (0, 0, 0),
    )
    .await;
    let refused = service
        .refresh(live.refresh_token.expose(), &client)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, Error::Refused(RefreshRefusal::TokenInvalid)),
        "a purged session's token is simply unknown: {refused:?}"
    );

    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_the_running_server_purges_ended_sessions_and_old_events() {
    let database = TestDatabase::sqlite();
    the_running_server_purges_ended_sessions_and_old_events(&database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_the_running_server_purges_ended_sessions_and_old_events() {
    let Some(database) = TestDatabase::postgres() else {
        return;
    };
    the_running_server_purges_ended_sessions_and_old_events(&database).await;
}
