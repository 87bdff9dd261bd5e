//! The connection pool every repository shares, with migrations and readiness.

use std::sync::Arc;
use std::time::Duration;

use diesel::migration::MigrationVersion;
use diesel::r2d2::R2D2Connection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use tessera_application::Error;
use tessera_application::ports::HealthCheck;
use tessera_domain::InvalidSetting;

use crate::connection::{AnyConnection, Backend, ConnectionManager, LogConnectionErrors, Target};
use crate::error::{pool_error, query_error};
use crate::pipelined::PipelinedReads;

const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// How long a request waits for a connection: a dead database must give a fast 503,
/// not a request pinned for r2d2's default 30 s.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(2);

/// Serialises migrations of several nodes starting at once against one PostgreSQL
/// database (diesel's harness takes no lock of its own). Any constant will do.
const MIGRATION_LOCK_KEY: i64 = 0x0074_6573_7365_7261; // "tessera" in ASCII

/// A pool of connections to PostgreSQL or SQLite. Cheap to clone: clones share the
/// pool.
#[derive(Clone)]
pub struct Database {
    pool: r2d2::Pool<ConnectionManager>,
    backend: Backend,
    /// The hottest reads without the pool, where the connections are unencrypted.
    pipelined: Option<Arc<PipelinedReads>>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.pool.state();
        f.debug_struct("Database")
            .field("backend", &self.backend)
            .field("connections", &state.connections)
            .field("idle_connections", &state.idle_connections)
            .field("pipelined_reads", &self.pipelined.is_some())
            .finish()
    }
}

impl Database {
    /// A pool for `url` (the `database_url` setting): `postgres://…` or
    /// `postgresql://…` for PostgreSQL, `sqlite://relative/path.db` or
    /// `sqlite:///absolute/path.db` for a SQLite file, whose folder is created.
    ///
    /// Connections are opened in the background and on demand, so the server starts
    /// while the database is down; each call then fails fast (≈ 2 s) with
    /// `Unavailable`, and the pool recovers by itself when the database returns.
    ///
    /// # Errors
    /// `Unexpected` carrying a [`tessera_domain::InvalidSetting`] on `database_url`
    /// when the URL is not usable, or an IO error when the SQLite folder cannot be
    /// created.
    pub fn connect(url: &str, max_size: u32) -> Result<Self, Error> {
        let target = Target::parse(url).map_err(|invalid| Error::Unexpected(invalid.into()))?;
        if let Target::Sqlite(path) = &target
            && let Some(folder) = path
                .parent()
                .filter(|folder| !folder.as_os_str().is_empty())
        {
            std::fs::create_dir_all(folder).map_err(|error| Error::Unexpected(error.into()))?;
        }
        let backend = target.backend();
        let pipelined = match &target {
            Target::Postgres(url) => PipelinedReads::for_url(url).map(Arc::new),
            Target::Sqlite(_) => None,
        };
        let pool = r2d2::Pool::builder()
            .max_size(max_size.max(1))
            .min_idle(Some(1))
            .connection_timeout(CHECKOUT_TIMEOUT)
            .error_handler(Box::new(LogConnectionErrors))
            .build_unchecked(ConnectionManager::new(target));
        Ok(Self {
            pool,
            backend,
            pipelined,
        })
    }

    /// Checks `url` as [`connect`](Self::connect) would, without touching anything:
    /// for settings validation (`tessera config check`).
    ///
    /// # Errors
    /// Why the URL is not usable, on the setting `database_url`.
    pub fn check_url(url: &str) -> Result<Backend, InvalidSetting> {
        Target::parse(url).map(|target| target.backend())
    }

    /// Which database this is.
    pub const fn backend(&self) -> Backend {
        self.backend
    }

    /// `"postgres"` or `"sqlite"`.
    pub const fn backend_name(&self) -> &'static str {
        self.backend.as_str()
    }

    /// Applies the embedded migrations of this backend that have not run yet and
    /// returns their versions. Running it again is harmless.
    ///
    /// # Errors
    /// `Unavailable` when the database cannot be reached; `Unexpected` when a
    /// migration fails.
    pub async fn run_pending_migrations(&self) -> Result<Vec<String>, Error> {
        self.run(migrate).await
    }

    /// Checks that a connection can be had and answers (for `/readyz`).
    ///
    /// # Errors
    /// `Unavailable` when it cannot.
    pub async fn ping(&self) -> Result<(), Error> {
        self.run(|connection| {
            connection
                .ping()
                .map_err(|error| Error::Unavailable(error.into()))
        })
        .await
    }

    /// A read through `pipelined` when this is PostgreSQL without TLS and the
    /// pipelined connection answers (`pipelined.rs`), else through `pooled` on the pool.
    pub(crate) async fn read<'a, T, Pipelined, F>(
        &'a self,
        pipelined: impl FnOnce(&'a PipelinedReads) -> Pipelined,
        pooled: F,
    ) -> Result<T, Error>
    where
        Pipelined: Future<Output = Option<Result<T, Error>>>,
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, Error> + Send + 'static,
    {
        if let Some(reads) = self.pipelined.as_deref()
            && let Some(found) = pipelined(reads).await
        {
            return found;
        }
        self.run(pooled).await
    }

    /// The pool's connections now: open, idle and the most it opens (for metrics).
    pub fn pool_usage(&self) -> tessera_application::ports::PoolUsage {
        let state = self.pool.state();
        tessera_application::ports::PoolUsage {
            connections: state.connections,
            idle: state.idle_connections,
            max: self.pool.max_size(),
        }
    }

    /// Runs blocking Diesel work on the blocking pool, inside the caller's tracing
    /// span, with a pooled connection.
    pub(crate) async fn run<T, F>(&self, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, Error> + Send + 'static,
    {
        let pool = self.pool.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            span.in_scope(|| {
                let mut connection = pool.get().map_err(pool_error)?;
                let outcome = work(&mut connection);
                connection.finished(&outcome);
                outcome
            })
        })
        .await
        .map_err(|join_error| Error::Unexpected(join_error.into()))?
    }

    /// For callers without a runtime (test set-up).
    #[cfg(feature = "testing")]
    pub(crate) fn run_pending_migrations_blocking(&self) -> Result<Vec<String>, Error> {
        let mut connection = self.pool.get().map_err(pool_error)?;
        migrate(&mut connection)
    }
}

fn migrate(connection: &mut AnyConnection) -> Result<Vec<String>, Error> {
    // Versions borrow the connection: turn them into strings while it is borrowed.
    fn versions(versions: Vec<MigrationVersion<'_>>) -> Vec<String> {
        versions.iter().map(ToString::to_string).collect()
    }
    let (backend, applied) = match connection {
        AnyConnection::Postgres(inner) => (
            Backend::Postgres,
            with_pg_advisory_lock(inner, |inner| {
                inner
                    .run_pending_migrations(POSTGRES_MIGRATIONS)
                    .map(versions)
            }),
        ),
        AnyConnection::Sqlite(inner) => (
            Backend::Sqlite,
            inner
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(versions),
        ),
    };
    let applied = applied.map_err(migration_error)?;
    if !applied.is_empty() {
        tracing::info!(backend = backend.as_str(), migrations = ?applied, "migrations applied");
    }
    Ok(applied)
}

/// `/readyz` asks the database through this.
#[async_trait::async_trait]
impl HealthCheck for Database {
    fn name(&self) -> &'static str {
        "database"
    }

    async fn check(&self) -> Result<(), Error> {
        self.ping().await
    }
}

type MigrationResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Holds a session-level advisory lock around `body`, so that nodes starting at once
/// against one PostgreSQL database migrate one after the other.
fn with_pg_advisory_lock<T>(
    connection: &mut diesel::PgConnection,
    body: impl FnOnce(&mut diesel::PgConnection) -> MigrationResult<T>,
) -> MigrationResult<T> {
    use diesel::RunQueryDsl;
    use diesel::sql_types::BigInt;

    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(MIGRATION_LOCK_KEY)
        .execute(connection)?;
    let outcome = body(connection);
    let unlocked = diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(MIGRATION_LOCK_KEY)
        .execute(connection);
    let value = outcome?;
    unlocked?;
    Ok(value)
}

/// The harness boxes its errors; a database error inside keeps its usual mapping so a
/// lost connection still reads as `Unavailable`.
fn migration_error(error: Box<dyn std::error::Error + Send + Sync>) -> Error {
    match error.downcast::<diesel::result::Error>() {
        Ok(error) => query_error(*error, "migration"),
        Err(error) => Error::Unexpected(error),
    }
}

#[cfg(all(test, feature = "testing"))]
// The shared case below is a plain function called by the tests, which clippy's
// `allow-unwrap-in-tests` does not see as a test.
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use diesel::RunQueryDsl;
    use diesel_migrations::MigrationHarness;
    use tessera_application::ports::AuditSink;
    use tessera_application::{AuditQuery, AuthEvent, AuthEventKind};
    use tessera_domain::ClientContext;

    use super::{POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
    use crate::connection::AnyConnection;
    use crate::testing::TestDatabase;
    use crate::{Database, DieselAuditSink};

    /// The version of the migration that added `auth_events.actor_id`.
    const AUDIT_ACTOR: &str = "20251126000000";

    fn revert_last_migration(database: &Database) -> String {
        let mut connection = database.pool.get().unwrap();
        match &mut **connection {
            AnyConnection::Postgres(inner) => inner
                .revert_last_migration(POSTGRES_MIGRATIONS)
                .map(|version| version.to_string()),
            AnyConnection::Sqlite(inner) => inner
                .revert_last_migration(SQLITE_MIGRATIONS)
                .map(|version| version.to_string()),
        }
        .unwrap()
    }

    fn since_2000() -> AuditQuery {
        AuditQuery {
            user_id: None,
            since: chrono::DateTime::UNIX_EPOCH + chrono::TimeDelta::days(365 * 30),
            limit: 100,
        }
    }

    /// A database migrated by the first release (no `actor_id`), holding events, is
    /// upgraded by running the pending migrations; the new migration also reverts
    /// cleanly with data in the table (SQLite refuses to drop an indexed column, so
    /// its down migration drops the index first).
    async fn an_old_database_is_upgraded_and_the_audit_actor_migration_reverts(db: &TestDatabase) {
        let database = &db.database;
        let audit = DieselAuditSink::new(database.clone());
        assert_eq!(revert_last_migration(database), AUDIT_ACTOR);

        // The old schema: no actor column, so the new sink cannot write.
        let event = AuthEvent {
            at: "2025-03-01T12:00:01.5Z".parse().unwrap(),
            kind: AuthEventKind::UserDisabled,
            user_id: Some("0195a0b4-6c1e-7000-8000-00000000000a".parse().unwrap()),
            session_id: None,
            client: ClientContext::default(),
            code: None,
            actor: Some("0195a0b4-6c1e-7000-8000-00000000000b".parse().unwrap()),
        };
        assert!(audit.record(&event).await.is_err());
        // What the old release wrote (literal SQL, the same on both backends).
        let old_user = "0195a0b4-6c1e-7000-8000-000000000001";
        let mut connection = database.pool.get().unwrap();
        diesel::sql_query(format!(
            "INSERT INTO auth_events (at, kind, user_id, code) \
             VALUES ('2025-03-01 12:00:00', 'logout', '{old_user}', NULL)"
        ))
        .execute(&mut **connection)
        .unwrap();
        drop(connection);

        assert_eq!(
            database.run_pending_migrations().await.unwrap(),
            [AUDIT_ACTOR]
        );
        assert!(database.run_pending_migrations().await.unwrap().is_empty());
        audit.record(&event).await.unwrap();
        let records = audit.events(since_2000()).await.unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].actor, event.actor);
        assert_eq!(records[1].kind, "logout");
        assert_eq!(records[1].user_id, Some(old_user.parse().unwrap()));
        assert_eq!(records[1].actor, None);

        // Down with data in the table, then up again.
        assert_eq!(revert_last_migration(database), AUDIT_ACTOR);
        assert_eq!(
            database.run_pending_migrations().await.unwrap(),
            [AUDIT_ACTOR]
        );
        let records = audit.events(since_2000()).await.unwrap();
        assert_eq!(records.len(), 2);
        assert!(records.iter().all(|record| record.actor.is_none()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_an_old_database_is_upgraded_and_the_audit_actor_migration_reverts() {
        an_old_database_is_upgraded_and_the_audit_actor_migration_reverts(&TestDatabase::sqlite())
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_an_old_database_is_upgraded_and_the_audit_actor_migration_reverts() {
        if let Some(db) = TestDatabase::postgres() {
            an_old_database_is_upgraded_and_the_audit_actor_migration_reverts(&db).await;
        }
    }

    #[derive(diesel::QueryableByName)]
    struct PreparedStatement {
        #[diesel(sql_type = diesel::sql_types::Text)]
        statement: String,
    }

    /// Rows with missing values (`None`) are inserted by statements PostgreSQL prepares
    /// once per connection, not parsed and planned on every insert: diesel prepares an
    /// `INSERT` only when its SQL does not depend on the values (`rows.rs`).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn inserts_of_rows_with_missing_values_are_prepared() {
        use tessera_application::ports::UserRepository;
        use tessera_domain::{EmailAddress, PasswordHash, User};

        let Some(db) = TestDatabase::postgres() else {
            return;
        };
        // One connection, so every statement below and the query after share it.
        let database = Database::connect(&db.url, 1).unwrap();
        let audit = DieselAuditSink::new(database.clone());
        let users = crate::DieselUserRepository::new(database.clone());
        for n in 0..2 {
            let event = AuthEvent {
                at: "2025-03-01T12:00:01.5Z".parse().unwrap(),
                kind: AuthEventKind::Logout,
                user_id: None,
                session_id: None,
                client: ClientContext::default(),
                code: None,
                actor: None,
            };
            audit.record(&event).await.unwrap();
            let user = User {
                id: tessera_domain::UserId::from_uuid(uuid::Uuid::from_u128(n + 1)),
                email: EmailAddress::parse(&format!("prepared-{n}@example.com")).unwrap(),
                password_hash: PasswordHash::new(
                    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
                ),
                roles: Vec::new(),
                created_at: "2025-03-01T12:00:00Z".parse().unwrap(),
                disabled_at: None,
            };
            users.insert(&user).await.unwrap();
        }
        let prepared = database
            .run(|connection| {
                diesel::sql_query("SELECT statement FROM pg_prepared_statements")
                    .load::<PreparedStatement>(connection)
                    .map_err(|error| crate::error::query_error(error, "test"))
            })
            .await
            .unwrap();
        for table in ["auth_events", "users"] {
            let inserts = prepared
                .iter()
                .filter(|row| {
                    row.statement
                        .starts_with(&format!("INSERT INTO \"{table}\""))
                })
                .count();
            assert_eq!(
                inserts,
                1,
                "{table}: {:?}",
                prepared
                    .iter()
                    .map(|row| &row.statement)
                    .collect::<Vec<_>>()
            );
        }
    }
}
