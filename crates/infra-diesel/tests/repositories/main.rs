//! Repository tests: the contract in `contract.rs` on SQLite (a temporary file) and on
//! PostgreSQL (a fresh database per test), plus connection behaviour.

// The contract cases are plain functions called by the tests, which clippy's
// `allow-unwrap-in-tests` does not see as tests.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod contract;
mod fixtures;

use std::time::{Duration, Instant};

use tessera_application::Error;
use tessera_application::ports::{HealthCheck, UserRepository};
use tessera_infra_diesel::testing::TestDatabase;
use tessera_infra_diesel::{Backend, Database, DieselSessionRepository, DieselUserRepository};

/// One test per contract case and backend: `sqlite::<case>` and `postgres::<case>`.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let db = tessera_infra_diesel::testing::TestDatabase::sqlite();
                    assert_eq!(db.database.backend_name(), "sqlite");
                    crate::contract::$case(&db.database).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let Some(db) = tessera_infra_diesel::testing::TestDatabase::postgres() else {
                        return;
                    };
                    assert_eq!(db.database.backend_name(), "postgres");
                    crate::contract::$case(&db.database).await;
                }
            )*
        }
    };
}

on_both_backends!(
    users_are_found_by_email_and_id_and_emails_are_unique,
    a_password_hash_is_replaced_and_a_missing_user_is_not_found,
    a_user_is_disabled_and_enabled_again_and_a_missing_user_is_not_found,
    a_created_session_is_found_as_written,
    a_refresh_token_is_read_with_its_session_and_user,
    a_session_of_an_unknown_user_is_refused,
    rotation_spends_the_parent_and_stores_the_successor,
    rotating_a_used_parent_is_lost_and_writes_nothing,
    rotating_in_a_revoked_session_is_lost,
    rotating_at_or_past_the_absolute_end_is_lost,
    revoking_twice_keeps_the_first_reason,
    a_users_active_sessions_are_listed_and_revoked_together,
    sessions_revoked_since_an_instant_are_listed,
    purging_deletes_ended_sessions_and_stale_sealed_responses,
    signing_keys_are_listed_newest_first_and_kids_are_unique,
    rotation_retires_every_other_key_once,
    audit_events_are_recorded_and_purged_by_age,
    audit_events_are_read_back_newest_first_filtered_and_limited,
    instants_round_trip_to_the_microsecond,
    migrations_run_again_apply_nothing,
    concurrent_rotations_of_one_token_have_exactly_one_winner,
    a_server_secret_is_made_once_and_then_always_read_back,
);

#[tokio::test]
async fn a_database_that_is_down_is_unavailable_within_seconds() {
    // Nothing listens on port 1: the pool starts anyway and every call fails fast.
    let database = Database::connect("postgres://postgres@127.0.0.1:1/tessera", 2).unwrap();
    assert_eq!(database.backend(), Backend::Postgres);
    let users = DieselUserRepository::new(database.clone());
    let fast = Duration::from_secs(5);

    let started = Instant::now();
    let error = users
        .find_by_id(fixtures::user("down@example.com").id)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Unavailable(_)), "{error:?}");
    assert!(started.elapsed() < fast, "{:?}", started.elapsed());

    let started = Instant::now();
    let ping = HealthCheck::check(&database).await.unwrap_err();
    assert!(matches!(ping, Error::Unavailable(_)), "{ping:?}");
    assert!(started.elapsed() < fast, "{:?}", started.elapsed());

    let migrations = database.run_pending_migrations().await.unwrap_err();
    assert!(
        matches!(migrations, Error::Unavailable(_)),
        "{migrations:?}"
    );
}

#[test]
fn unusable_database_urls_are_refused_naming_the_setting() {
    for url in ["sqlite::memory:", "data/tessera.db", "sqlite:tessera.db"] {
        let error = Database::connect(url, 1).unwrap_err();
        assert!(error.to_string().contains("unexpected"), "{error}");
        let source = std::error::Error::source(&error).unwrap().to_string();
        assert!(source.starts_with("database_url "), "{url}: {source}");
        assert_eq!(
            Database::check_url(url).unwrap_err().setting(),
            "database_url"
        );
    }
    assert_eq!(
        Database::check_url("postgresql://db/tessera"),
        Ok(Backend::Postgres)
    );
    assert_eq!(
        Database::check_url("sqlite://data/tessera.db"),
        Ok(Backend::Sqlite)
    );
}

#[tokio::test]
async fn a_sqlite_database_gets_its_folder_and_survives_a_reopen() {
    let db = TestDatabase::sqlite();
    let users = DieselUserRepository::new(db.database.clone());
    let alice = fixtures::user("alice@example.com");
    users.insert(&alice).await.unwrap();

    // A second pool on the same file, as after a restart, sees the data.
    let reopened = Database::connect(&db.url, 2).unwrap();
    assert!(reopened.run_pending_migrations().await.unwrap().is_empty());
    let found = DieselUserRepository::new(reopened)
        .find_by_email(&alice.email)
        .await
        .unwrap();
    assert_eq!(found.map(|user| user.id), Some(alice.id));
}

/// A revocation that commits while a rotation is in flight wins: the rotation ends
/// `Lost` and leaves nothing behind, so no write resurrects a revoked session. On
/// PostgreSQL the rotation really is between its token update and its session update
/// when the revocation commits; SQLite serialises the two writers.
async fn a_revocation_committed_during_a_rotation_wins(db: &TestDatabase) {
    use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};
    use tessera_application::ports::{RotationOutcome, SessionRepository};

    let users = DieselUserRepository::new(db.database.clone());
    let sessions = DieselSessionRepository::new(db.database.clone());
    let user = fixtures::user("racer@example.com");
    users.insert(&user).await.unwrap();
    let session = fixtures::session(&user, fixtures::at(0));
    let parent = fixtures::first_token(&session);
    sessions
        .create(&session, &parent, &fixtures::hash())
        .await
        .unwrap();

    let revoke = format!(
        "UPDATE sessions SET revoked_at = '2025-03-01 12:00:30', revocation_reason = 'admin' \
         WHERE id = '{}'",
        session.id
    );
    // Hold the revocation uncommitted on a connection of our own.
    enum Raw {
        Pg(PgConnection),
        Sqlite(SqliteConnection),
    }
    let mut raw = match db.database.backend() {
        Backend::Postgres => {
            let mut connection = PgConnection::establish(&db.url).unwrap();
            diesel::sql_query("BEGIN").execute(&mut connection).unwrap();
            diesel::sql_query(&revoke).execute(&mut connection).unwrap();
            Raw::Pg(connection)
        }
        Backend::Sqlite => {
            let path = db.url.trim_start_matches("sqlite://");
            let mut connection = SqliteConnection::establish(path).unwrap();
            diesel::sql_query("BEGIN IMMEDIATE")
                .execute(&mut connection)
                .unwrap();
            diesel::sql_query(&revoke).execute(&mut connection).unwrap();
            Raw::Sqlite(connection)
        }
    };

    let rotation = fixtures::rotation(&parent, fixtures::at(60));
    let successor = rotation.successor.id;
    let rotating = {
        let sessions = sessions.clone();
        tokio::spawn(async move { sessions.rotate(rotation).await })
    };
    match &mut raw {
        Raw::Pg(connection) => {
            // Wait until the rotation is blocked on the session row our revocation holds.
            let started = Instant::now();
            loop {
                #[derive(diesel::QueryableByName)]
                struct Waiting {
                    #[diesel(sql_type = diesel::sql_types::BigInt)]
                    count: i64,
                }
                let waiting: Waiting = diesel::sql_query(
                    "SELECT count(*) AS count FROM pg_stat_activity \
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
                )
                .get_result(connection)
                .unwrap();
                if waiting.count == 1 {
                    break;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(5),
                    "rotation never blocked"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            diesel::sql_query("COMMIT").execute(connection).unwrap();
        }
        Raw::Sqlite(connection) => {
            // The rotation waits for the write lock (busy_timeout); give it time to try.
            tokio::time::sleep(Duration::from_millis(200)).await;
            diesel::sql_query("COMMIT").execute(connection).unwrap();
        }
    }

    assert_eq!(rotating.await.unwrap().unwrap(), RotationOutcome::Lost);
    let record = sessions
        .find_refresh_token(parent.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.token.used_at, None);
    assert!(record.sealed_successor.is_none());
    assert_eq!(
        record.session.last_refreshed_at,
        fixtures::micros(fixtures::at(0))
    );
    assert!(record.session.revoked_at.is_some());
    assert!(
        sessions
            .find_refresh_token(successor)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_revocation_committed_during_a_rotation_wins() {
    a_revocation_committed_during_a_rotation_wins(&TestDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_revocation_committed_during_a_rotation_wins() {
    if let Some(db) = TestDatabase::postgres() {
        a_revocation_committed_during_a_rotation_wins(&db).await;
    }
}

/// The reads of `me`, of a refresh and of a login on PostgreSQL without TLS go
/// pipelined (`pipelined.rs`), with TLS possible through the pool: both answer the
/// same, for a live session, a revoked one with its reason and client, one whose user
/// row is gone, and a missing one; for a fresh token, a spent one with its sealed
/// response, and a missing one; for a stored user and a deleted one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hot_reads_are_the_same_pipelined_and_through_the_pool() {
    use diesel::{Connection, PgConnection, RunQueryDsl};
    use tessera_application::ports::SessionRepository;
    use tessera_domain::RevocationReason;

    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    assert!(format!("{:?}", db.database).contains("pipelined_reads: true"));
    let through_pool =
        Database::connect(&db.url.replace("sslmode=disable", "sslmode=prefer"), 2).unwrap();
    assert!(format!("{through_pool:?}").contains("pipelined_reads: false"));
    let pipelined = DieselSessionRepository::new(db.database.clone());
    let pooled = DieselSessionRepository::new(through_pool);

    let users = DieselUserRepository::new(db.database.clone());
    let user = fixtures::user("reader@example.com");
    users.insert(&user).await.unwrap();
    let mut sessions = Vec::new();
    let mut tokens = Vec::new();
    for _ in 0..3 {
        let session = fixtures::session(&user, fixtures::at(0));
        let token = fixtures::first_token(&session);
        pipelined
            .create(&session, &token, &fixtures::hash())
            .await
            .unwrap();
        sessions.push(session);
        tokens.push(token);
    }
    let rotation = fixtures::rotation(&tokens[0], fixtures::at(1));
    tokens.push(rotation.successor.clone());
    assert!(matches!(
        pipelined.rotate(rotation).await.unwrap(),
        tessera_application::ports::RotationOutcome::Rotated
    ));
    assert!(
        pipelined
            .revoke(sessions[1].id, RevocationReason::Logout, fixtures::at(5))
            .await
            .unwrap()
    );
    let orphan = fixtures::user("orphan@example.com");
    users.insert(&orphan).await.unwrap();
    let orphaned = fixtures::session(&orphan, fixtures::at(0));
    pipelined
        .create(
            &orphaned,
            &fixtures::first_token(&orphaned),
            &fixtures::hash(),
        )
        .await
        .unwrap();
    let mut raw = PgConnection::establish(&db.url).unwrap();
    diesel::sql_query("ALTER TABLE sessions DROP CONSTRAINT IF EXISTS sessions_user_id_fkey")
        .execute(&mut raw)
        .unwrap();
    diesel::sql_query(format!("DELETE FROM users WHERE id = '{}'", orphan.id))
        .execute(&mut raw)
        .unwrap();

    let never_stored = fixtures::session(&user, fixtures::at(0));
    let ids = sessions
        .iter()
        .chain([&orphaned, &never_stored])
        .map(|session| session.id);
    for id in ids {
        let fast = pipelined.find_session_with_user(id).await.unwrap();
        let slow = pooled.find_session_with_user(id).await.unwrap();
        assert_eq!(fast, slow, "{id}");
    }
    let never_stored = fixtures::first_token(&never_stored);
    for id in tokens.iter().chain([&never_stored]).map(|token| token.id) {
        let fast = pipelined.find_refresh_token(id).await.unwrap();
        let slow = pooled.find_refresh_token(id).await.unwrap();
        assert_eq!(fast.map(comparable), slow.map(comparable), "{id}");
    }
    let pooled_users = DieselUserRepository::new(
        Database::connect(&db.url.replace("sslmode=disable", "sslmode=prefer"), 1).unwrap(),
    );
    for email in [&user.email, &orphan.email] {
        let fast = users.find_by_email(email).await.unwrap();
        let slow = pooled_users.find_by_email(email).await.unwrap();
        assert_eq!(fast, slow, "{email:?}");
    }
    let found = users.find_by_email(&user.email).await.unwrap().unwrap();
    assert_eq!((found.id, found.roles), (user.id, user.roles.clone()));
    assert!(users.find_by_email(&orphan.email).await.unwrap().is_none());

    let spent = pipelined
        .find_refresh_token(tokens[0].id)
        .await
        .unwrap()
        .unwrap();
    assert!(spent.token.used_at.is_some());
    assert!(spent.sealed_successor.is_some());

    // The fast side really was pipelined: its connections are open on this database.
    let pipelined_connections = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = 'tessera-pipelined'",
    )
    .get_result::<Count>(&mut raw)
    .unwrap();
    assert!(pipelined_connections.n >= 1);

    let (revoked, owner) = pipelined
        .find_session_with_user(sessions[1].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked.revocation_reason, Some(RevocationReason::Logout));
    assert_eq!(revoked.client, sessions[1].client);
    assert_eq!(owner.map(|owner| owner.id), Some(user.id));
    let (_, gone) = pipelined
        .find_session_with_user(orphaned.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(gone, None);
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

type ComparableRecord = (
    tessera_domain::RefreshToken,
    Vec<u8>,
    Option<Vec<u8>>,
    tessera_domain::Session,
    Option<tessera_domain::User>,
);

fn comparable(record: tessera_application::ports::RefreshTokenRecord) -> ComparableRecord {
    (
        record.token,
        record.hash.as_bytes().to_vec(),
        record
            .sealed_successor
            .map(|sealed| sealed.as_bytes().to_vec()),
        record.session,
        record.user,
    )
}

/// The server closing the pipelined connection (a restart, an idle timeout) costs the
/// next read nothing: it is repeated once on a new connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipelined_read_survives_the_server_closing_its_connection() {
    use diesel::{Connection, PgConnection, RunQueryDsl};
    use tessera_application::ports::SessionRepository;

    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let users = DieselUserRepository::new(db.database.clone());
    let sessions = DieselSessionRepository::new(db.database.clone());
    let user = fixtures::user("survivor@example.com");
    users.insert(&user).await.unwrap();
    let session = fixtures::session(&user, fixtures::at(0));
    sessions
        .create(
            &session,
            &fixtures::first_token(&session),
            &fixtures::hash(),
        )
        .await
        .unwrap();

    let mut admin = PgConnection::establish(&db.url).unwrap();
    for round in 0..3 {
        let found = sessions.find_session_with_user(session.id).await.unwrap();
        assert_eq!(
            found.map(|(found, _)| found.id),
            Some(session.id),
            "{round}"
        );
        // Every other connection to this database, pipelined and pooled alike.
        diesel::sql_query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .execute(&mut admin)
        .unwrap();
    }
}

#[tokio::test]
async fn a_pipelined_read_of_a_database_that_is_down_is_unavailable_within_seconds() {
    use tessera_application::ports::SessionRepository;

    let database =
        Database::connect("postgres://postgres@127.0.0.1:1/tessera?sslmode=disable", 2).unwrap();
    assert!(format!("{database:?}").contains("pipelined_reads: true"));
    let sessions = DieselSessionRepository::new(database);
    let user = fixtures::user("down@example.com");
    for _ in 0..2 {
        let started = Instant::now();
        let error = sessions
            .find_session_with_user(fixtures::session(&user, fixtures::at(0)).id)
            .await
            .unwrap_err();
        assert!(matches!(error, Error::Unavailable(_)), "{error:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
}
