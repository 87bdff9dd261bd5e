//! The connection pool every repository shares, with migrations and readiness.

use std::time::Duration;

use diesel::migration::MigrationVersion;
use diesel::r2d2::R2D2Connection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use tessera_application::Error;
use tessera_application::ports::HealthCheck;
use tessera_domain::InvalidSetting;

use crate::connection::{AnyConnection, Backend, ConnectionManager, LogConnectionErrors, Target};
use crate::error::{pool_error, query_error};

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
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.pool.state();
        f.debug_struct("Database")
            .field("backend", &self.backend)
            .field("connections", &state.connections)
            .field("idle_connections", &state.idle_connections)
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
        let pool = r2d2::Pool::builder()
            .max_size(max_size.max(1))
            .min_idle(Some(1))
            .connection_timeout(CHECKOUT_TIMEOUT)
            .error_handler(Box::new(LogConnectionErrors))
            .build_unchecked(ConnectionManager::new(target));
        Ok(Self { pool, backend })
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
                work(&mut connection)
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
