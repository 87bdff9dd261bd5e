//! One connection type for both backends, chosen from the URL scheme, and the r2d2
//! manager that opens and checks it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::r2d2::R2D2Connection;
use diesel::{Connection, PgConnection, SqliteConnection};
use tessera_domain::InvalidSetting;

/// Every query is written once against this enum; only connection set-up and
/// transaction start know which backend is inside.
#[derive(diesel::MultiConnection)]
pub(crate) enum AnyConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Which database a [`crate::Database`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// A short name for logs and readiness output.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
        }
    }
}

/// Where to connect, parsed from `database_url`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A libpq URL, with `connect_timeout` set.
    Postgres(String),
    /// A database file.
    Sqlite(PathBuf),
}

// The URL may carry a password.
impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Postgres(_) => f.write_str("Postgres(<url>)"),
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
        }
    }
}

const SETTING: &str = "database_url";

/// Seconds libpq waits for a server that accepts but does not answer.
const PG_CONNECT_TIMEOUT_SECS: u32 = 2;

/// `busy_timeout` comes first: switching to WAL needs a lock another connection may
/// hold. SQLite leaves foreign keys off unless asked, per connection.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000;\
     PRAGMA journal_mode = WAL;\
     PRAGMA synchronous = NORMAL;\
     PRAGMA foreign_keys = ON;";

impl Target {
    /// Chooses the backend from the scheme. Diesel's own multi-connection `establish`
    /// tries every backend in turn and discards the errors, so a typo or a database
    /// that is down could silently become a SQLite file: never use it.
    pub(crate) fn parse(url: &str) -> Result<Self, InvalidSetting> {
        let url = url.trim();
        let scheme_end = url.find("://");
        let scheme = scheme_end.map(|end| url[..end].to_ascii_lowercase());
        match scheme.as_deref() {
            Some("postgres" | "postgresql") => Ok(Self::Postgres(with_connect_timeout(url))),
            Some("sqlite") => {
                let rest = scheme_end.map_or("", |end| &url[end + 3..]);
                sqlite_path(rest).map(Self::Sqlite)
            }
            _ if url.to_ascii_lowercase().starts_with("sqlite:") => Err(InvalidSetting::new(
                SETTING,
                "must be sqlite://relative/path.db or sqlite:///absolute/path.db \
                 (an in-memory SQLite database cannot be shared by a connection pool)",
            )),
            Some(_) => Err(InvalidSetting::new(
                SETTING,
                "must start with postgres://, postgresql:// or sqlite://",
            )),
            None => Err(InvalidSetting::new(
                SETTING,
                "must be a URL starting with postgres://, postgresql:// or sqlite://; \
                 for a SQLite file write sqlite://path/to/file.db",
            )),
        }
    }

    pub(crate) const fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }
}

fn sqlite_path(rest: &str) -> Result<PathBuf, InvalidSetting> {
    if rest.is_empty() {
        return Err(InvalidSetting::new(
            SETTING,
            "names no SQLite file: write sqlite://path/to/file.db",
        ));
    }
    if rest.contains(":memory:") || rest.contains("mode=memory") {
        return Err(InvalidSetting::new(
            SETTING,
            "must name a SQLite file: an in-memory database would be a different, \
             empty database for every pooled connection",
        ));
    }
    if rest.contains('?') {
        return Err(InvalidSetting::new(
            SETTING,
            "must not carry query parameters for SQLite: Tessera sets the pragmas itself",
        ));
    }
    Ok(PathBuf::from(rest))
}

pub(crate) fn with_connect_timeout(url: &str) -> String {
    if url.contains("connect_timeout=") {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}connect_timeout={PG_CONNECT_TIMEOUT_SECS}")
}

/// A connection the pool lends out, with what the pool must know beyond libpq's and
/// SQLite's own state: when it last did work, and whether it was found dead.
pub(crate) struct LiveConnection {
    connection: AnyConnection,
    last_used: Instant,
    lost: bool,
}

/// Connections used this recently skip the liveness query at checkout (HikariCP's
/// `aliveBypassWindowMs`, same value): under load a `SELECT 1` before every request
/// would add a round trip to each of them, while a connection idle for longer is
/// checked, so one broken by a database restart is replaced before it is used.
const ALIVE_BYPASS_WINDOW: Duration = Duration::from_millis(500);

impl LiveConnection {
    fn new(connection: AnyConnection) -> Self {
        Self {
            connection,
            last_used: Instant::now(),
            lost: false,
        }
    }

    /// Records the end of a piece of work. Diesel does not notice a connection the
    /// server closed (its `is_broken` looks at the transaction state only), so after
    /// a failure that may mean "gone" one ping decides whether to keep it.
    pub(crate) fn finished<T>(&mut self, outcome: &Result<T, tessera_application::Error>) {
        if matches!(outcome, Err(tessera_application::Error::Unavailable(_)))
            && self.connection.ping().is_err()
        {
            self.lost = true;
        }
        self.last_used = Instant::now();
    }
}

impl std::ops::Deref for LiveConnection {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.connection
    }
}

impl std::ops::DerefMut for LiveConnection {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.connection
    }
}

/// Opens connections for r2d2 and prepares each SQLite connection.
#[derive(Debug)]
pub(crate) struct ConnectionManager {
    target: Target,
}

impl ConnectionManager {
    pub(crate) const fn new(target: Target) -> Self {
        Self { target }
    }

    fn open(&self) -> Result<AnyConnection, diesel::r2d2::Error> {
        match &self.target {
            Target::Postgres(url) => PgConnection::establish(url)
                .map(AnyConnection::Postgres)
                .map_err(diesel::r2d2::Error::ConnectionError),
            Target::Sqlite(path) => {
                let path = path.to_string_lossy();
                let mut connection = SqliteConnection::establish(&path)
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                connection
                    .batch_execute(SQLITE_PRAGMAS)
                    .map_err(diesel::r2d2::Error::QueryError)?;
                Ok(AnyConnection::Sqlite(connection))
            }
        }
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = LiveConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<LiveConnection, Self::Error> {
        self.open().map(LiveConnection::new)
    }

    /// r2d2 asks at every checkout; one that fails is closed and another tried.
    fn is_valid(&self, connection: &mut LiveConnection) -> Result<(), Self::Error> {
        if connection.last_used.elapsed() < ALIVE_BYPASS_WINDOW {
            return Ok(());
        }
        connection
            .connection
            .ping()
            .map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, connection: &mut LiveConnection) -> bool {
        std::thread::panicking() || connection.lost || connection.connection.is_broken()
    }
}

/// Logs what r2d2 would otherwise hand to the `log` crate, which nothing here reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogConnectionErrors;

impl r2d2::HandleError<diesel::r2d2::Error> for LogConnectionErrors {
    fn handle_error(&self, error: diesel::r2d2::Error) {
        tracing::warn!(error = %error, "database connection failed");
    }
}

/// Runs `body` in a transaction that may write. On SQLite it starts with
/// `BEGIN IMMEDIATE`, which takes the write lock up front (waiting up to
/// `busy_timeout`): a deferred transaction that reads first and then writes fails at
/// once with "database is locked" when another writer got in between.
///
/// `immediate_transaction` exists only on `SqliteConnection`, so the transaction is
/// begun on the inner connection and finished through the enum, whose transaction
/// manager is the inner one's.
pub(crate) fn write_transaction<T, E>(
    connection: &mut AnyConnection,
    body: impl FnOnce(&mut AnyConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    match connection {
        AnyConnection::Sqlite(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
        }
        AnyConnection::Postgres(_) => {
            <AnyConnection as TransactionManager<AnyConnection>>::begin_transaction(connection)?
        }
    }
    // As diesel's own `TransactionManager::transaction`.
    match body(connection) {
        Ok(value) => {
            <AnyConnection as TransactionManager<AnyConnection>>::commit_transaction(connection)?;
            Ok(value)
        }
        Err(error) => {
            match <AnyConnection as TransactionManager<AnyConnection>>::rollback_transaction(
                connection,
            ) {
                Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(error),
                Err(rollback_error) => Err(rollback_error.into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_get_a_connect_timeout() {
        assert_eq!(
            Target::parse("postgres://u@h/db").unwrap(),
            Target::Postgres("postgres://u@h/db?connect_timeout=2".into())
        );
        assert_eq!(
            Target::parse("postgresql://u@h/db?sslmode=disable").unwrap(),
            Target::Postgres("postgresql://u@h/db?sslmode=disable&connect_timeout=2".into())
        );
        assert_eq!(
            Target::parse("postgres://u@h/db?connect_timeout=9").unwrap(),
            Target::Postgres("postgres://u@h/db?connect_timeout=9".into())
        );
    }

    #[test]
    fn sqlite_urls_name_relative_and_absolute_files() {
        assert_eq!(
            Target::parse("sqlite://data/tessera.db").unwrap(),
            Target::Sqlite("data/tessera.db".into())
        );
        assert_eq!(
            Target::parse("sqlite:///var/lib/tessera.db").unwrap(),
            Target::Sqlite("/var/lib/tessera.db".into())
        );
    }

    #[test]
    fn unusable_urls_are_refused_naming_the_setting() {
        for url in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite:tessera.db",
            "sqlite://",
            "data/tessera.db",
            "host=localhost dbname=tessera",
            "mysql://u@h/db",
        ] {
            let error = Target::parse(url).unwrap_err();
            assert_eq!(error.setting(), "database_url", "{url}");
        }
    }

    #[test]
    fn a_target_does_not_print_its_password() {
        let target = Target::parse("postgres://u:secret@h/db").unwrap();
        assert!(!format!("{target:?}").contains("secret"));
    }
}
