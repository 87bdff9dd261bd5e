//! The hottest reads on PostgreSQL without the blocking pool: the session and user
//! behind `GET /v1/auth/me`, the refresh token with its session and user that starts
//! every refresh, and the user a login names.
//!
//! Diesel is synchronous: every query is handed to a blocking thread and its answer
//! handed back, two thread wake-ups per query on top of the round trip; the profile of
//! `me` showed the kernel waking threads as half its CPU (docs/performance.md). Here
//! each thread that serves requests keeps one tokio-postgres connection of its own: the
//! query is written from that thread, and the queries of concurrent requests on it are
//! pipelined on the one connection, so PostgreSQL also wakes up less often.
//!
//! Only where the pool's connections are unencrypted anyway (`sslmode=disable`, or a
//! Unix socket): tokio-postgres is built here without a TLS backend, and a read path
//! must not quietly drop the encryption libpq would negotiate. Elsewhere the read goes
//! through the pool like every other query. So it does when PostgreSQL refuses these
//! connections (say the password comes from libpq's `PGPASSWORD` or `.pgpass`, which
//! tokio-postgres does not read, or `max_connections` is reached): a warning is logged
//! and the reads use the pool for a minute before trying again.

use std::cell::RefCell;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tessera_application::Error;
use tessera_domain::{RefreshTokenId, SessionId};
use tokio::sync::OnceCell;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, Config, NoTls, Row, Statement};

use crate::rows::{RefreshTokenRow, SessionRow, UserRow};

/// The columns of `SessionRow` and then `UserRow`, in their field order.
const SESSION_WITH_USER: &str = "SELECT s.id, s.user_id, s.created_at, s.absolute_expires_at, \
     s.last_refreshed_at, s.revoked_at, s.revocation_reason, s.ip, s.user_agent, \
     u.id, u.email, u.password_hash, u.roles, u.created_at, u.disabled_at \
     FROM sessions s LEFT JOIN users u ON u.id = s.user_id WHERE s.id = $1";

/// The columns of `RefreshTokenRow`, then as above.
const TOKEN_WITH_SESSION: &str = "SELECT t.id, t.session_id, t.generation, t.token_hash, \
     t.issued_at, t.used_at, t.sealed_successor, \
     s.id, s.user_id, s.created_at, s.absolute_expires_at, \
     s.last_refreshed_at, s.revoked_at, s.revocation_reason, s.ip, s.user_agent, \
     u.id, u.email, u.password_hash, u.roles, u.created_at, u.disabled_at \
     FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id \
     LEFT JOIN users u ON u.id = s.user_id WHERE t.id = $1";

/// The columns of `UserRow`.
const USER_BY_EMAIL: &str = "SELECT id, email, password_hash, roles, created_at, disabled_at \
     FROM users WHERE email = $1";

type SessionAndUser = (SessionRow, Option<UserRow>);
type TokenWithSession = (RefreshTokenRow, SessionRow, Option<UserRow>);

/// Where the session's columns start in a row of `TOKEN_WITH_SESSION`.
const TOKEN_COLUMNS: usize = 7;

/// Gives up on a connection as the pool does on a checkout: a dead database must give
/// a fast 503.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a pipelined read may take before its connection is given up (a half-open
/// TCP connection would otherwise hold every read of the thread until the kernel gives
/// up, minutes later); set `statement_timeout` below it (docs/deployment.md).
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// `application_name` of the pipelined connections, unless the URL names one.
pub(crate) const APPLICATION_NAME: &str = "tessera-pipelined";

/// How long reads use the pool after PostgreSQL refused a pipelined connection.
const REST_AFTER_REFUSAL: Duration = Duration::from_secs(60);

/// Tells the per-thread connections of different databases apart (tests open many).
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// One connection per thread and database, opened on first use and replaced once it
/// is closed. The cell lets concurrent requests on a thread wait for one connect
/// instead of each opening a connection of its own.
type Slot = Arc<OnceCell<Arc<ReadConnection>>>;

thread_local! {
    static CONNECTIONS: RefCell<HashMap<u64, Slot>> = RefCell::new(HashMap::new());
}

/// Pipelined reads on one PostgreSQL database.
pub(crate) struct PipelinedReads {
    id: u64,
    config: Config,
    /// Until when the reads go through the pool, after a refused connection.
    resting_until: Mutex<Option<Instant>>,
}

/// Why a query on a connection failed.
enum QueryFailure {
    Postgres(tokio_postgres::Error),
    /// Already the caller's error: timed out (the connection given up), or no new
    /// connection for the retry.
    Unavailable(Error),
}

/// Why no connection could be had.
enum ConnectFailure {
    /// The server is down, unreachable or starting: the pool could do no better.
    Unavailable(Error),
    /// The server answered with a refusal (authentication, no such database, too many
    /// connections): the pool, with libpq's ways, may still get in.
    Refused(tokio_postgres::Error),
}

impl std::fmt::Debug for PipelinedReads {
    // The config holds the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelinedReads").finish_non_exhaustive()
    }
}

#[derive(Clone, Copy)]
enum Query {
    SessionWithUser,
    TokenWithSession,
    UserByEmail,
}

struct ReadConnection {
    client: Client,
    session_with_user: Statement,
    token_with_session: Statement,
    user_by_email: Statement,
}

impl ReadConnection {
    async fn query_opt(
        &self,
        query: Query,
        id: &str,
    ) -> Result<Option<Row>, tokio_postgres::Error> {
        let statement = match query {
            Query::SessionWithUser => &self.session_with_user,
            Query::TokenWithSession => &self.token_with_session,
            Query::UserByEmail => &self.user_by_email,
        };
        self.client.query_opt(statement, &[&id]).await
    }
}

impl PipelinedReads {
    /// Reads for the libpq `url`, or `None` when its connections would be encrypted
    /// (or tokio-postgres does not understand the URL): then the pool serves them.
    pub(crate) fn for_url(url: &str) -> Option<Self> {
        let mut config = Config::from_str(url).ok()?;
        // Without a host libpq would use its default socket; tokio-postgres cannot.
        if config.get_hosts().is_empty() {
            return None;
        }
        // A `hostaddr` is TCP even where the host names a socket.
        let sockets_only = config.get_hostaddrs().is_empty()
            && config
                .get_hosts()
                .iter()
                .all(|host| matches!(host, Host::Unix(_)));
        if config.get_ssl_mode() != SslMode::Disable && !sockets_only {
            return None;
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            // Tells these connections apart in `pg_stat_activity`.
            config.application_name(APPLICATION_NAME);
        }
        Some(Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            config,
            resting_until: Mutex::new(None),
        })
    }

    // Each read answers `None` when it must go through the pool instead.

    /// The session with this id and its user (`None` when the user row is gone).
    pub(crate) async fn session_with_user(
        &self,
        id: SessionId,
    ) -> Option<Result<Option<SessionAndUser>, Error>> {
        let row = self
            .query_opt(Query::SessionWithUser, &id.to_string())
            .await?;
        Some(row.and_then(|row| {
            row.map(|row| session_and_user(&row, 0))
                .transpose()
                .map_err(read_error)
        }))
    }

    /// The refresh token with this id, its session and the session's user.
    pub(crate) async fn token_with_session(
        &self,
        id: RefreshTokenId,
    ) -> Option<Result<Option<TokenWithSession>, Error>> {
        let row = self
            .query_opt(Query::TokenWithSession, &id.to_string())
            .await?;
        Some(row.and_then(|row| {
            row.map(|row| {
                let token = RefreshTokenRow {
                    id: row.try_get(0)?,
                    session_id: row.try_get(1)?,
                    generation: row.try_get(2)?,
                    token_hash: row.try_get(3)?,
                    issued_at: row.try_get(4)?,
                    used_at: row.try_get(5)?,
                    sealed_successor: row.try_get(6)?,
                };
                let (session, user) = session_and_user(&row, TOKEN_COLUMNS)?;
                Ok((token, session, user))
            })
            .transpose()
            .map_err(read_error)
        }))
    }

    /// The user with this e-mail address.
    pub(crate) async fn user_by_email(
        &self,
        email: &str,
    ) -> Option<Result<Option<UserRow>, Error>> {
        let row = self.query_opt(Query::UserByEmail, email).await?;
        Some(row.and_then(|row| {
            row.map(|row| user_at(&row, 0))
                .transpose()
                .map_err(read_error)
        }))
    }

    async fn query_opt(&self, query: Query, id: &str) -> Option<Result<Option<Row>, Error>> {
        if self.resting() {
            return None;
        }
        let connection = match self.connection().await {
            Ok(connection) => connection,
            Err(ConnectFailure::Unavailable(error)) => return Some(Err(error)),
            Err(ConnectFailure::Refused(error)) => {
                self.rest(&error);
                return None;
            }
        };
        let outcome = match self.timed_query(&connection, query, id).await {
            // The server closed it since the last read (a restart, an idle timeout):
            // a read is safe to repeat once, on a new connection.
            Err(QueryFailure::Postgres(error))
                if connection.client.is_closed() || is_connection_lost(&error) =>
            {
                tracing::debug!(error = %error, "pipelined read connection lost; reconnecting");
                self.forget(&connection);
                match self.connection().await {
                    Ok(connection) => self.timed_query(&connection, query, id).await,
                    Err(ConnectFailure::Unavailable(error)) => {
                        Err(QueryFailure::Unavailable(error))
                    }
                    Err(ConnectFailure::Refused(error)) => {
                        self.rest(&error);
                        return None;
                    }
                }
            }
            outcome => outcome,
        };
        Some(outcome.map_err(|failure| match failure {
            QueryFailure::Postgres(error) => read_error(error),
            QueryFailure::Unavailable(error) => error,
        }))
    }

    /// The query, bounded by [`QUERY_TIMEOUT`]; a connection that does not answer in
    /// time is given up for the next reads.
    async fn timed_query(
        &self,
        connection: &Arc<ReadConnection>,
        query: Query,
        id: &str,
    ) -> Result<Option<Row>, QueryFailure> {
        match tokio::time::timeout(QUERY_TIMEOUT, connection.query_opt(query, id)).await {
            Ok(outcome) => outcome.map_err(QueryFailure::Postgres),
            Err(elapsed) => {
                self.forget(connection);
                Err(QueryFailure::Unavailable(Error::Unavailable(
                    elapsed.into(),
                )))
            }
        }
    }

    fn resting(&self) -> bool {
        let mut resting_until = lock(&self.resting_until);
        match *resting_until {
            Some(until) if Instant::now() < until => true,
            Some(_) => {
                *resting_until = None;
                false
            }
            None => false,
        }
    }

    fn rest(&self, refusal: &tokio_postgres::Error) {
        let mut resting_until = lock(&self.resting_until);
        if resting_until.is_none() {
            tracing::warn!(
                error = %refusal,
                "PostgreSQL refused the pipelined read connection; reads use the pool for {} s",
                REST_AFTER_REFUSAL.as_secs()
            );
        }
        *resting_until = Some(Instant::now() + REST_AFTER_REFUSAL);
    }

    /// Drops this thread's connection if it is still `lost`, so the next read opens a
    /// new one even before the client has noticed that it is closed.
    fn forget(&self, lost: &Arc<ReadConnection>) {
        CONNECTIONS.with(|connections| {
            let mut connections = connections.borrow_mut();
            if let Some(slot) = connections.get_mut(&self.id)
                && slot.get().is_some_and(|current| Arc::ptr_eq(current, lost))
            {
                *slot = Slot::default();
            }
        });
    }

    async fn connection(&self) -> Result<Arc<ReadConnection>, ConnectFailure> {
        let slot = CONNECTIONS.with(|connections| {
            let mut connections = connections.borrow_mut();
            let slot = connections.entry(self.id).or_default();
            if slot
                .get()
                .is_some_and(|connection| connection.client.is_closed())
            {
                *slot = Slot::default();
            }
            Arc::clone(slot)
        });
        // Bounded as a whole: requests queued behind a failing connect must not each
        // wait out their own timeout in turn.
        let connection =
            tokio::time::timeout(CONNECT_TIMEOUT, slot.get_or_try_init(|| self.connect()))
                .await
                .map_err(|elapsed| {
                    ConnectFailure::Unavailable(Error::Unavailable(elapsed.into()))
                })??;
        Ok(Arc::clone(connection))
    }

    async fn connect(&self) -> Result<Arc<ReadConnection>, ConnectFailure> {
        let (client, connection) = self.config.connect(NoTls).await.map_err(|error| {
            // Unavailable: a server that does not answer (IO, timeout), or one starting
            // or stopping (57P03, 57P01). Refused: any other answer (authentication, no
            // such database, too many connections), and a failure before asking (a
            // password only libpq would find, `channel_binding=require`): the pool,
            // with libpq's ways, may still get in.
            let unavailable = match error.code() {
                Some(state) => state.code().starts_with("57"),
                None => is_connection_lost(&error),
            };
            if unavailable {
                ConnectFailure::Unavailable(Error::Unavailable(error.into()))
            } else {
                ConnectFailure::Refused(error)
            }
        })?;
        // The connection's IO runs on this thread's runtime; it ends when the client is
        // dropped or the server goes away, and the next read then connects again.
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::warn!(error = %error, "pipelined read connection closed");
            }
        });
        let session_with_user = prepare(&client, SESSION_WITH_USER).await?;
        let token_with_session = prepare(&client, TOKEN_WITH_SESSION).await?;
        let user_by_email = prepare(&client, USER_BY_EMAIL).await?;
        Ok(Arc::new(ReadConnection {
            client,
            session_with_user,
            token_with_session,
            user_by_email,
        }))
    }
}

async fn prepare(client: &Client, sql: &str) -> Result<Statement, ConnectFailure> {
    client
        .prepare(sql)
        .await
        .map_err(|error| ConnectFailure::Unavailable(read_error(error)))
}

/// A lock that outlives a panic elsewhere: the value is a plain instant.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A `SessionRow` and an optional `UserRow` from the columns at `start`.
fn session_and_user(row: &Row, start: usize) -> Result<SessionAndUser, tokio_postgres::Error> {
    let session = SessionRow {
        id: row.try_get(start)?,
        user_id: row.try_get(start + 1)?,
        created_at: row.try_get(start + 2)?,
        absolute_expires_at: row.try_get(start + 3)?,
        last_refreshed_at: row.try_get(start + 4)?,
        revoked_at: row.try_get(start + 5)?,
        revocation_reason: row.try_get(start + 6)?,
        ip: row.try_get(start + 7)?,
        user_agent: row.try_get(start + 8)?,
    };
    // A left join: no user id, no user.
    let user = match row.try_get::<_, Option<String>>(start + 9)? {
        None => None,
        Some(_) => Some(user_at(row, start + 9)?),
    };
    Ok((session, user))
}

/// A `UserRow` from the columns at `start`.
fn user_at(row: &Row, start: usize) -> Result<UserRow, tokio_postgres::Error> {
    Ok(UserRow {
        id: row.try_get(start)?,
        email: row.try_get(start + 1)?,
        password_hash: row.try_get(start + 2)?,
        roles: row.try_get(start + 3)?,
        created_at: row.try_get(start + 4)?,
        disabled_at: row.try_get(start + 5)?,
    })
}

/// As the pool's queries: a lost or unreachable server, or one that refuses work for
/// now (SQLSTATE classes 08 and 57: connection exceptions, shutdown, cancelled by
/// `statement_timeout`), is `Unavailable`; anything else is unexpected.
fn read_error(error: tokio_postgres::Error) -> Error {
    let transient = match error.code() {
        Some(state) => ["08", "57"]
            .iter()
            .any(|class| state.code().starts_with(class)),
        None => is_connection_lost(&error),
    };
    if transient {
        Error::Unavailable(error.into())
    } else {
        Error::Unexpected(error.into())
    }
}

/// The connection is gone: closed, broken IO, a connection exception (08) or the
/// server shutting it down (57P01 to 57P03; not 57014, a statement cancelled by
/// `statement_timeout`, which a retry would only repeat).
fn is_connection_lost(error: &tokio_postgres::Error) -> bool {
    use std::error::Error as _;
    match error.code() {
        Some(state) => {
            let code = state.code();
            code.starts_with("08") || code.starts_with("57P")
        }
        None => {
            error.is_closed()
                || error
                    .source()
                    .is_some_and(|source| source.is::<std::io::Error>())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PipelinedReads;

    #[test]
    fn only_connections_that_libpq_would_not_encrypt_are_pipelined() {
        for url in [
            "postgres://u@127.0.0.1:5432/db?sslmode=disable",
            "postgresql://u:secret@db.internal/db?sslmode=disable&connect_timeout=2",
            "postgres://u@%2Fvar%2Frun%2Fpostgresql/db",
        ] {
            assert!(PipelinedReads::for_url(url).is_some(), "{url}");
        }
        for url in [
            "postgres://u@127.0.0.1:5432/db",
            "postgres://u@127.0.0.1:5432/db?sslmode=prefer",
            "postgres://u@db.internal/db?sslmode=require",
            // No host: libpq's default socket, which tokio-postgres does not know.
            "postgres:///db?sslmode=disable",
            // A socket host with a TCP address: TCP, encrypted by libpq's default.
            "postgres://u@%2Fvar%2Frun%2Fpostgresql/db?hostaddr=10.0.0.5",
            "not a url",
        ] {
            assert!(PipelinedReads::for_url(url).is_none(), "{url}");
        }
    }

    /// `table.column` names of a `SELECT … FROM` list, with the aliases of the SQL above
    /// (`s`, `t`, `u`) or `table` for unqualified names.
    fn selected(sql: &str, table: &str) -> Vec<String> {
        let start = sql.find("SELECT ").map_or(0, |at| at + 7);
        let end = sql.find(" FROM ").unwrap_or(sql.len());
        sql[start..end]
            .split(',')
            .map(|column| {
                let column = column.trim().replace('"', "");
                match column.split_once('.') {
                    Some(("s", name)) => format!("sessions.{name}"),
                    Some(("t", name)) => format!("refresh_tokens.{name}"),
                    Some(("u", name)) => format!("users.{name}"),
                    Some(_) => column,
                    None => format!("{table}.{column}"),
                }
            })
            .collect()
    }

    /// The hand-written column lists follow the row structs field by field, as the
    /// pool's queries do (`as_select`): the rows are read by position.
    #[test]
    fn the_reads_select_the_row_structs_columns_in_their_order() {
        use diesel::pg::Pg;
        use diesel::prelude::*;

        use super::{SESSION_WITH_USER, TOKEN_WITH_SESSION, USER_BY_EMAIL};
        use crate::rows::{RefreshTokenRow, SessionRow, UserRow};
        use crate::schema::{refresh_tokens, sessions, users};

        let session_with_user = sessions::table
            .left_join(users::table)
            .select((SessionRow::as_select(), Option::<UserRow>::as_select()));
        let token_with_session = refresh_tokens::table
            .inner_join(sessions::table.left_join(users::table))
            .select((
                RefreshTokenRow::as_select(),
                SessionRow::as_select(),
                Option::<UserRow>::as_select(),
            ));
        let user = users::table.select(UserRow::as_select());
        for (pipelined, diesel) in [
            (
                SESSION_WITH_USER,
                diesel::debug_query::<Pg, _>(&session_with_user).to_string(),
            ),
            (
                TOKEN_WITH_SESSION,
                diesel::debug_query::<Pg, _>(&token_with_session).to_string(),
            ),
            (
                USER_BY_EMAIL,
                diesel::debug_query::<Pg, _>(&user).to_string(),
            ),
        ] {
            assert_eq!(
                selected(pipelined, "users"),
                selected(&diesel, "users"),
                "{pipelined}"
            );
        }
    }

    #[test]
    fn debug_output_hides_the_password() {
        let reads = PipelinedReads::for_url("postgres://u:hunter2@127.0.0.1/db?sslmode=disable");
        assert!(!format!("{reads:?}").contains("hunter2"));
    }
}

#[cfg(all(test, feature = "testing"))]
mod against_postgres {
    use tessera_domain::SessionId;

    use super::PipelinedReads;
    use crate::testing::TestDatabase;

    fn some_session() -> SessionId {
        // Any id will do: the table is empty.
        SessionId::from_uuid(uuid::Uuid::nil())
    }

    /// A server that refuses the connection (here: no such role; in production a
    /// password only libpq knows, or `max_connections`) sends the reads to the pool,
    /// and keeps them there for a while instead of trying again on every request.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_connection_sends_the_reads_to_the_pool_for_a_while() {
        let Some(db) = TestDatabase::postgres() else {
            return;
        };
        let Some(mut refused) = PipelinedReads::for_url(&db.url) else {
            panic!("the test database is reached without TLS");
        };
        refused.config.user("tessera_no_such_role");
        assert!(!refused.resting());
        assert!(refused.session_with_user(some_session()).await.is_none());
        assert!(refused.resting());
        assert!(refused.user_by_email("a@example.com").await.is_none());

        let Some(accepted) = PipelinedReads::for_url(&db.url) else {
            panic!("the test database is reached without TLS");
        };
        assert!(matches!(
            accepted.session_with_user(some_session()).await,
            Some(Ok(None))
        ));
        assert!(!accepted.resting());
    }
}
