//! The revocation list in Redis: a revocation on one node reaches every node at once.
//!
//! Redis may lose its contents (a restart without persistence, a flush). A list that
//! silently lost entries would let revoked sessions back in, so the list is trusted
//! only while its *restored* marker is there: a node sets it after copying the
//! database's recent revocations in (at start, and whenever the periodic sync finds it
//! missing). Without the marker, [`RevocationList::contains`] answers `Unavailable`
//! and authentication checks the database instead.

use ::redis::Script;
use async_trait::async_trait;
use tessera_application::Error;
use tessera_application::ports::RevocationList;
use tessera_domain::{Instant, SessionId};

use super::{RedisConnection, keep_latest, millis};

/// Revoked sessions in Redis, each key expiring at its deadline (`PXAT`; the nodes'
/// and Redis's clocks are assumed NTP-synchronised, the clock leeway covers the rest).
pub struct RedisRevocationList {
    connection: RedisConnection,
    keep_latest: Script,
}

impl std::fmt::Debug for RedisRevocationList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRevocationList")
            .field("connection", &self.connection)
            .finish_non_exhaustive()
    }
}

impl RedisRevocationList {
    pub fn new(connection: RedisConnection) -> Self {
        Self {
            connection,
            keep_latest: keep_latest(),
        }
    }

    fn key(&self, session: SessionId) -> String {
        self.connection.key("revoked", session)
    }

    fn marker(&self) -> String {
        self.connection.key("revocations", "restored")
    }

    /// Whether the list holds every recent revocation (its marker is there).
    ///
    /// # Errors
    /// `Unavailable` when Redis cannot be reached.
    pub async fn is_restored(&self) -> Result<bool, Error> {
        let exists: i64 = self
            .connection
            .query(::redis::cmd("EXISTS").arg(self.marker()))
            .await?;
        Ok(exists > 0)
    }

    /// Records that the list is complete: call after copying the database's recent
    /// revocations in.
    ///
    /// # Errors
    /// `Unavailable` when Redis cannot be reached.
    pub async fn mark_restored(&self) -> Result<(), Error> {
        let _: () = self
            .connection
            .query(::redis::cmd("SET").arg(self.marker()).arg(1))
            .await?;
        Ok(())
    }
}

#[async_trait]
impl RevocationList for RedisRevocationList {
    async fn insert(&self, session: SessionId, until: Instant) -> Result<(), Error> {
        let key = self.key(session);
        let mut invocation = self.keep_latest.prepare_invoke();
        // Revoking again never shortens it; the key expires at the deadline itself.
        invocation
            .key(&key)
            .arg(millis(until))
            .arg("PXAT")
            .arg(millis(until));
        let _: i64 = self.connection.invoke(&invocation).await?;
        Ok(())
    }

    async fn contains(&self, session: SessionId, now: Instant) -> Result<bool, Error> {
        let (restored, until): (Option<i64>, Option<i64>) = self
            .connection
            .query(
                ::redis::cmd("MGET")
                    .arg(self.marker())
                    .arg(self.key(session)),
            )
            .await?;
        if restored.is_none() {
            return Err(Error::Unavailable(
                "the Redis revocation list has lost its contents and is not restored yet".into(),
            ));
        }
        Ok(until.is_some_and(|until| millis(now) < until))
    }
}
