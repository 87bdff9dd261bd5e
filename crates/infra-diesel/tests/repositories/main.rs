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
