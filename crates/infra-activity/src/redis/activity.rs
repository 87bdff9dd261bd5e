//! Last activity per session in Redis, shared by every node, each key expiring
//! `idle_timeout` after its last write (an older record cannot keep a session alive).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use ::redis::Script;
use async_trait::async_trait;
use tessera_application::Error;
use tessera_application::ports::ActivityStore;
use tessera_domain::{Instant, SessionId, TimeDelta};

use super::{RedisConnection, instant, keep_latest, millis, positive_millis};

/// Sweep the local map once it has grown by this many since the last sweep.
const SWEEP_EVERY: usize = 1024;

/// The instants this node last wrote, per session.
#[derive(Debug, Default)]
struct Written {
    at: HashMap<SessionId, Instant>,
    size_after_last_sweep: usize,
}

/// Activity records in Redis. Writes are coalesced per node (SPEC §5): a session this
/// node wrote less than `write_interval` ago is not written again, so a busy session
/// costs each node at most one Redis write per interval, and reads stay one `GET`.
pub struct RedisActivityStore {
    connection: RedisConnection,
    write_interval: TimeDelta,
    idle_timeout: TimeDelta,
    written: Mutex<Written>,
    keep_latest: Script,
}

impl std::fmt::Debug for RedisActivityStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisActivityStore")
            .field("connection", &self.connection)
            .field("write_interval", &self.write_interval)
            .field("idle_timeout", &self.idle_timeout)
            .finish_non_exhaustive()
    }
}

impl RedisActivityStore {
    pub fn new(
        connection: RedisConnection,
        write_interval: TimeDelta,
        idle_timeout: TimeDelta,
    ) -> Self {
        Self {
            connection,
            write_interval,
            idle_timeout,
            written: Mutex::default(),
            keep_latest: keep_latest(),
        }
    }

    fn key(&self, session: SessionId) -> String {
        self.connection.key("activity", session)
    }

    /// A poisoned lock only means a panic while updating a map of instants.
    fn written(&self) -> MutexGuard<'_, Written> {
        self.written.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Claims the write of `at` for `session` unless this node wrote recently; the
    /// claim is what makes concurrent requests of one session write once.
    fn claim(&self, session: SessionId, at: Instant) -> bool {
        let mut written = self.written();
        if written
            .at
            .get(&session)
            .is_some_and(|last| at < *last + self.write_interval)
        {
            return false;
        }
        written.at.insert(session, at);
        if written.at.len() >= written.size_after_last_sweep + SWEEP_EVERY {
            let horizon = at - self.write_interval;
            written.at.retain(|_, last| *last > horizon);
            written.size_after_last_sweep = written.at.len();
        }
        true
    }

    /// Gives a claim back after a failed write, so the next request tries again.
    fn release(&self, session: SessionId, at: Instant) {
        let mut written = self.written();
        if written.at.get(&session) == Some(&at) {
            written.at.remove(&session);
        }
    }
}

#[async_trait]
impl ActivityStore for RedisActivityStore {
    async fn record(&self, session: SessionId, at: Instant) -> Result<(), Error> {
        if !self.claim(session, at) {
            return Ok(());
        }
        let key = self.key(session);
        let mut invocation = self.keep_latest.prepare_invoke();
        invocation
            .key(&key)
            .arg(millis(at))
            .arg("PX")
            .arg(positive_millis(self.idle_timeout));
        let written: Result<i64, Error> = self.connection.invoke(&invocation).await;
        if let Err(error) = written {
            self.release(session, at);
            return Err(error);
        }
        Ok(())
    }

    async fn last_seen(&self, session: SessionId) -> Result<Option<Instant>, Error> {
        let seen: Option<i64> = self
            .connection
            .query(::redis::cmd("GET").arg(self.key(session)))
            .await?;
        seen.map(instant).transpose()
    }

    async fn forget(&self, session: SessionId) -> Result<(), Error> {
        self.written().at.remove(&session);
        let _: i64 = self
            .connection
            .query(::redis::cmd("DEL").arg(self.key(session)))
            .await?;
        Ok(())
    }
}
