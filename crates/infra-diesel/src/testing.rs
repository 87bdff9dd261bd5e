//! Fresh, migrated databases for tests (feature `testing`): one per test and removed
//! on drop, so tests run in parallel with no shared state.

use std::path::PathBuf;

use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::Database;
use crate::connection::with_connect_timeout;

/// Where the PostgreSQL tests connect to create their databases.
pub const DATABASE_URL_VARIABLE: &str = "TESSERA_TEST_DATABASE_URL";
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Enough connections for the concurrency tests to run every caller at once.
const POOL_SIZE: u32 = 16;

/// A migrated database of its own for one test, dropped with it.
///
/// ```ignore
/// let db = TestDatabase::sqlite();
/// let Some(db) = TestDatabase::postgres() else { return }; // skipped, notice printed
/// let users = DieselUserRepository::new(db.database.clone());
/// ```
#[derive(Debug)]
pub struct TestDatabase {
    /// The `database_url` of this database, for tests that start a whole server.
    pub url: String,
    /// A pool on it, migrations applied.
    pub database: Database,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    /// The temporary folder holding the file and its `-wal`/`-shm` companions.
    Sqlite(PathBuf),
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl TestDatabase {
    /// A SQLite file in a new temporary folder (a file, not `:memory:`, so that every
    /// pooled connection sees the same database).
    ///
    /// # Panics
    /// When the database cannot be created or migrated.
    pub fn sqlite() -> Self {
        let folder = std::env::temp_dir().join(format!("tessera-test-{}", random_hex()));
        // `Database::connect` creates the folder.
        let url = format!("sqlite://{}", folder.join("tessera.db").display());
        let database = open(&url);
        Self {
            url,
            database,
            cleanup: Cleanup::Sqlite(folder),
        }
    }

    /// A new database `tessera_test_<random hex>` on the server named by
    /// `TESSERA_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
    /// dropped `WITH (FORCE)` on drop.
    ///
    /// When the server cannot be reached this prints `SKIPPED: PostgreSQL unreachable
    /// ...` and returns `None`, unless the environment variable `CI` is set: then a
    /// test must not pass without running, and this panics.
    ///
    /// # Panics
    /// When the database cannot be created or migrated, or as above in CI.
    pub fn postgres() -> Option<Self> {
        let admin_url = with_connect_timeout(
            &std::env::var(DATABASE_URL_VARIABLE).unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into()),
        );
        let mut admin = match PgConnection::establish(&admin_url) {
            Ok(admin) => admin,
            Err(error) if std::env::var_os("CI").is_some() => {
                panic!("PostgreSQL unreachable (CI is set, so this test fails): {error}")
            }
            Err(error) => {
                eprintln!(
                    "SKIPPED: PostgreSQL unreachable ({error}); set {DATABASE_URL_VARIABLE} \
                     to run the PostgreSQL tests"
                );
                return None;
            }
        };
        let name = format!("tessera_test_{}", random_hex());
        if let Err(error) = diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin)
        {
            panic!("cannot create test database {name}: {error}");
        }
        let url = without_tls(&with_database(&admin_url, &name));
        let database = open(&url);
        Some(Self {
            url,
            database,
            cleanup: Cleanup::Postgres { admin_url, name },
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Sqlite(folder) => {
                if let Err(error) = std::fs::remove_dir_all(folder) {
                    eprintln!("cannot remove test database {}: {error}", folder.display());
                }
            }
            Cleanup::Postgres { admin_url, name } => {
                // FORCE ends the pool's connections, which are still open here.
                let dropped = PgConnection::establish(admin_url)
                    .map_err(|error| error.to_string())
                    .and_then(|mut admin| {
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut admin)
                            .map_err(|error| error.to_string())
                    });
                if let Err(error) = dropped {
                    eprintln!("cannot drop test database {name}: {error}");
                }
            }
        }
    }
}

fn open(url: &str) -> Database {
    let database = match Database::connect(url, POOL_SIZE) {
        Ok(database) => database,
        Err(error) => panic!("cannot open test database: {error:?}"),
    };
    if let Err(error) = database.run_pending_migrations_blocking() {
        panic!("cannot migrate test database: {error:?}");
    }
    database
}

/// `url` with its database name replaced by `name`, keeping user, host and query.
fn with_database(url: &str, name: &str) -> String {
    let authority_start = url.find("://").map_or(0, |index| index + 3);
    let (head, rest) = url.split_at(authority_start);
    let path_start = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_and_query) = rest.split_at(path_start);
    let query = path_and_query
        .find('?')
        .map_or("", |index| &path_and_query[index..]);
    format!("{head}{authority}/{name}{query}")
}

/// `url` with `sslmode=disable` unless it names a mode: a test server on loopback, as
/// in the benchmark and docs/deployment.md, so PostgreSQL tests take the pipelined read
/// path (`pipelined.rs`) that production on a private network takes.
fn without_tls(url: &str) -> String {
    if url.contains("sslmode=") {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}sslmode=disable")
}

#[allow(
    clippy::disallowed_methods,
    reason = "test databases need unique names; this is test support, not a use case"
)]
fn random_hex() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::{with_database, without_tls};

    #[test]
    fn the_database_name_is_replaced_and_the_rest_kept() {
        assert_eq!(
            with_database(
                "postgres://postgres@127.0.0.1:5432/postgres?connect_timeout=2",
                "t1"
            ),
            "postgres://postgres@127.0.0.1:5432/t1?connect_timeout=2"
        );
        assert_eq!(
            with_database("postgres://u:p@h?connect_timeout=2", "t2"),
            "postgres://u:p@h/t2?connect_timeout=2"
        );
        assert_eq!(with_database("postgres://h", "t3"), "postgres://h/t3");
    }

    #[test]
    fn test_databases_connect_without_tls_unless_the_url_says_otherwise() {
        assert_eq!(
            without_tls("postgres://h/t?connect_timeout=2"),
            "postgres://h/t?connect_timeout=2&sslmode=disable"
        );
        assert_eq!(
            without_tls("postgres://h/t"),
            "postgres://h/t?sslmode=disable"
        );
        assert_eq!(
            without_tls("postgres://h/t?sslmode=require"),
            "postgres://h/t?sslmode=require"
        );
    }
}
