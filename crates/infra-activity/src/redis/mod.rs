//! Redis adapters for several nodes: activity records, the revocation list and the
//! throttle counters live in one Redis that every node shares, under a key prefix per
//! deployment. Every key expires on its own; Redis persistence is not needed.
//!
//! Redis is a cache here, never the source of truth: every command has a short
//! timeout, any failure is `Error::Unavailable`, and the use cases fall back (the idle
//! check to `last_refreshed_at`, the revocation check to the database, throttling
//! fails open). After a failure the adapters stop asking Redis for
//! [`PAUSE_AFTER_FAILURE`], so an unreachable Redis costs one timeout a second instead
//! of one per request; the connection manager reconnects by itself, and the `/readyz`
//! probe ([`RedisHealth`]) ends the pause as soon as Redis answers again.

mod activity;
mod revocation;
mod throttle;

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant as MonotonicInstant};

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Cmd, FromRedisValue, RedisError, Script, ScriptInvocation};
use async_trait::async_trait;
use tessera_application::Error;
use tessera_application::ports::HealthCheck;

pub use activity::RedisActivityStore;
pub use revocation::RedisRevocationList;
pub use throttle::RedisThrottleStore;

/// How long one command may take before the caller gets `Unavailable`. Redis answers
/// in well under a millisecond on a healthy network; a request must not stall on a
/// dead one.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_millis(300);

/// How long the adapters skip Redis after a command failed for want of it.
pub const PAUSE_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// The key prefix when none is configured.
pub const DEFAULT_PREFIX: &str = "tessera:";

/// Checks a `redis_url` without connecting: `redis://[user:password@]host[:port][/db]`
/// or `redis+unix:///path` / `unix:///path`. `rediss://` (TLS) is refused: this build
/// has no TLS stack.
///
/// # Errors
/// Why the URL is unusable, without repeating it (it may hold a password).
pub fn check_redis_url(url: &str) -> Result<(), String> {
    let url = url.trim();
    if url.starts_with("rediss://") {
        return Err("uses TLS (rediss://), which this build does not support; \
                    reach Redis over a private network or a local TLS tunnel"
            .to_owned());
    }
    if !(url.starts_with("redis://")
        || url.starts_with("redis+unix://")
        || url.starts_with("unix://"))
    {
        return Err("must start with redis://, redis+unix:// or unix://".to_owned());
    }
    ::redis::Client::open(url)
        .map(drop)
        .map_err(|error| format!("is not a valid Redis URL ({})", error.category()))
}

/// Checks a key prefix: 1 to 64 printable ASCII characters, no spaces.
///
/// # Errors
/// Why the prefix is unusable.
pub fn check_redis_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() || prefix.len() > 64 || !prefix.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("must be 1 to 64 printable characters without spaces".to_owned());
    }
    Ok(())
}

/// One multiplexed connection to Redis, shared by the adapters (cheap to clone), and
/// the key prefix of this deployment.
#[derive(Clone)]
pub struct RedisConnection {
    inner: Arc<Inner>,
}

struct Inner {
    manager: ConnectionManager,
    prefix: String,
    timeout: Duration,
    /// Until when commands are not even tried, after a failure.
    paused_until: Mutex<Option<MonotonicInstant>>,
}

impl fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password: only the prefix is shown.
        f.debug_struct("RedisConnection")
            .field("prefix", &self.inner.prefix)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisConnection {
    /// A connection to `url` with keys under `prefix`. It connects lazily, so Tessera
    /// starts (degraded) while Redis is down, and reconnects by itself. Must be called
    /// inside a Tokio runtime.
    ///
    /// # Errors
    /// `Unexpected` when the URL or the prefix is invalid.
    pub fn open(url: &str, prefix: &str, timeout: Duration) -> Result<Self, Error> {
        check_redis_url(url).map_err(|why| Error::unexpected(format!("redis_url {why}")))?;
        check_redis_prefix(prefix)
            .map_err(|why| Error::unexpected(format!("redis_prefix {why}")))?;
        let client = ::redis::Client::open(url.trim())
            .map_err(|error| Error::unexpected(format!("redis_url: {}", error.category())))?;
        // One connection attempt per command at most: a refused connection fails at
        // once instead of sleeping through a retry schedule while a request waits.
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        let manager = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|error| Error::unexpected(format!("redis: {}", error.category())))?;
        Ok(Self {
            inner: Arc::new(Inner {
                manager,
                prefix: prefix.to_owned(),
                timeout,
                paused_until: Mutex::new(None),
            }),
        })
    }

    /// The prefix every key of this connection starts with.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// `<prefix><kind>:<name>`.
    pub(crate) fn key(&self, kind: &str, name: impl fmt::Display) -> String {
        format!("{}{kind}:{name}", self.inner.prefix)
    }

    /// Runs one command, unless Redis failed moments ago.
    pub(crate) async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, Error> {
        self.check_not_paused()?;
        let mut connection = self.inner.manager.clone();
        self.finish(cmd.query_async(&mut connection)).await
    }

    /// Runs a Lua script (`EVALSHA`, loading it again after a Redis restart).
    pub(crate) async fn invoke<T: FromRedisValue>(
        &self,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<T, Error> {
        self.check_not_paused()?;
        let mut connection = self.inner.manager.clone();
        self.finish(invocation.invoke_async(&mut connection)).await
    }

    /// `PING`, regardless of a pause; an answer ends the pause.
    async fn ping(&self) -> Result<(), Error> {
        let mut connection = self.inner.manager.clone();
        let pong: String = self
            .finish(::redis::cmd("PING").query_async(&mut connection))
            .await?;
        if pong != "PONG" {
            return Err(Error::unexpected(format!(
                "redis answered PING with {pong}"
            )));
        }
        *self.paused() = None;
        Ok(())
    }

    async fn finish<T>(
        &self,
        command: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, Error> {
        let outcome = match tokio::time::timeout(self.inner.timeout, command).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(error)) => error,
            Err(_) => {
                self.pause();
                return Err(Error::Unavailable(
                    format!("redis did not answer within {:?}", self.inner.timeout).into(),
                ));
            }
        };
        if is_outage(&outcome) {
            self.pause();
            Err(Error::Unavailable(Box::new(outcome)))
        } else {
            Err(Error::Unexpected(Box::new(outcome)))
        }
    }

    fn check_not_paused(&self) -> Result<(), Error> {
        let mut paused = self.paused();
        match *paused {
            Some(until) if MonotonicInstant::now() < until => Err(Error::Unavailable(
                "redis failed moments ago; not asked again yet".into(),
            )),
            Some(_) => {
                *paused = None;
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn pause(&self) {
        *self.paused() = Some(MonotonicInstant::now() + PAUSE_AFTER_FAILURE);
    }

    /// A poisoned lock only means a panic while writing an `Option<Instant>`.
    fn paused(&self) -> std::sync::MutexGuard<'_, Option<MonotonicInstant>> {
        self.inner
            .paused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether Redis could not be reached or could not serve (as opposed to a bug of ours,
/// such as a script error or a value of the wrong type, which must not be hidden as
/// an outage).
fn is_outage(error: &RedisError) -> bool {
    use ::redis::{ErrorKind, ServerErrorKind};
    !matches!(
        error.kind(),
        ErrorKind::Parse
            | ErrorKind::UnexpectedReturnType
            | ErrorKind::Server(ServerErrorKind::ResponseError | ServerErrorKind::ExecAbort)
    )
}

/// Writes `ARGV[1]` (an instant in ms) unless the key holds a later one already
/// (another node, or an earlier call, wrote a newer one), with the expiry `ARGV[2]`
/// (`PX` or `PXAT`) set to `ARGV[3]`: activity and revocations both only move forward.
const KEEP_LATEST: &str = r"
local current = redis.call('GET', KEYS[1])
if current and tonumber(current) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], ARGV[2], ARGV[3])
return 1
";

/// The script of [`KEEP_LATEST`].
pub(crate) fn keep_latest() -> Script {
    Script::new(KEEP_LATEST)
}

/// `/readyz`'s view of Redis: not essential, because every use of it has a fallback,
/// so an outage shows as `degraded` while the node keeps serving.
#[derive(Debug, Clone)]
pub struct RedisHealth {
    connection: RedisConnection,
}

impl RedisHealth {
    pub const fn new(connection: RedisConnection) -> Self {
        Self { connection }
    }
}

#[async_trait]
impl HealthCheck for RedisHealth {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn essential(&self) -> bool {
        false
    }

    async fn check(&self) -> Result<(), Error> {
        self.connection.ping().await
    }
}

/// Milliseconds since the Unix epoch, the form instants take in Redis values.
pub(crate) fn millis(at: tessera_domain::Instant) -> i64 {
    at.timestamp_millis()
}

/// The instant of `millis`, or `Unexpected` for a value no adapter wrote.
pub(crate) fn instant(millis: i64) -> Result<tessera_domain::Instant, Error> {
    chrono::DateTime::from_timestamp_millis(millis)
        .ok_or_else(|| Error::unexpected(format!("redis holds an invalid instant {millis}")))
}

/// A positive number of milliseconds for `PX`, at least 1.
pub(crate) fn positive_millis(duration: chrono::TimeDelta) -> i64 {
    duration.num_milliseconds().max(1)
}
