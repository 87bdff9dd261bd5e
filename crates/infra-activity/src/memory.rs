//! In-memory adapters for one node. State dies with the process, which is fine for
//! activity (the refresh path falls back to `last_refreshed_at`).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use tessera_application::Error;
use tessera_application::ports::{ActivityStore, RevocationList};
use tessera_domain::{Instant, SessionId, TimeDelta};

/// Sweep expired entries once the map has grown by this many since the last sweep,
/// so memory stays bounded by the number of live sessions without a timer task.
const SWEEP_EVERY: usize = 1024;

/// A map whose entries expire, swept lazily on insert.
#[derive(Debug, Default)]
struct ExpiringMap {
    entries: HashMap<SessionId, Instant>,
    size_after_last_sweep: usize,
}

impl ExpiringMap {
    fn sweep_if_grown(&mut self, is_live: impl Fn(&Instant) -> bool) {
        if self.entries.len() >= self.size_after_last_sweep + SWEEP_EVERY {
            self.entries.retain(|_, value| is_live(value));
            self.size_after_last_sweep = self.entries.len();
        }
    }
}

/// A poisoned lock only means another request panicked mid-update of a plain map of
/// instants; the data is still usable.
fn lock(map: &Mutex<ExpiringMap>) -> MutexGuard<'_, ExpiringMap> {
    map.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Last activity per session, with writes coalesced: a record newer than
/// `write_interval` is not rewritten (SPEC §5). Records older than `idle_timeout`
/// are worthless to the policy and are dropped.
#[derive(Debug)]
pub struct MemoryActivityStore {
    write_interval: TimeDelta,
    idle_timeout: TimeDelta,
    seen: Mutex<ExpiringMap>,
}

impl MemoryActivityStore {
    pub fn new(write_interval: TimeDelta, idle_timeout: TimeDelta) -> Self {
        Self {
            write_interval,
            idle_timeout,
            seen: Mutex::default(),
        }
    }
}

#[async_trait]
impl ActivityStore for MemoryActivityStore {
    async fn record(&self, session: SessionId, at: Instant) -> Result<(), Error> {
        let mut seen = lock(&self.seen);
        let fresh_enough = seen
            .entries
            .get(&session)
            .is_some_and(|last| at < *last + self.write_interval);
        if !fresh_enough {
            seen.entries.insert(session, at);
            let horizon = at - self.idle_timeout;
            seen.sweep_if_grown(|last| *last > horizon);
        }
        Ok(())
    }

    async fn last_seen(&self, session: SessionId) -> Result<Option<Instant>, Error> {
        Ok(lock(&self.seen).entries.get(&session).copied())
    }

    async fn forget(&self, session: SessionId) -> Result<(), Error> {
        lock(&self.seen).entries.remove(&session);
        Ok(())
    }
}

/// Revoked sessions until the last access token they could have issued expires.
#[derive(Debug, Default)]
pub struct MemoryRevocationList {
    revoked: Mutex<ExpiringMap>,
}

impl MemoryRevocationList {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl RevocationList for MemoryRevocationList {
    async fn insert(&self, session: SessionId, until: Instant) -> Result<(), Error> {
        let mut revoked = lock(&self.revoked);
        let entry = revoked.entries.entry(session).or_insert(until);
        *entry = (*entry).max(until);
        // Entries are only ever needed until their own `until`; sweep relative to the
        // newest one, which is the best notion of "now" an insert has.
        revoked.sweep_if_grown(|expiry| *expiry > until - TimeDelta::days(1));
        Ok(())
    }

    async fn contains(&self, session: SessionId, now: Instant) -> Result<bool, Error> {
        Ok(lock(&self.revoked)
            .entries
            .get(&session)
            .is_some_and(|until| now < *until))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use uuid::Uuid;

    use super::*;

    fn at(seconds: i64) -> Instant {
        Utc.timestamp_opt(1_700_000_000 + seconds, 0)
            .single()
            .unwrap()
    }

    fn session(n: u128) -> SessionId {
        SessionId::from_uuid(Uuid::from_u128(n))
    }

    fn store() -> MemoryActivityStore {
        MemoryActivityStore::new(TimeDelta::seconds(60), TimeDelta::days(7))
    }

    #[tokio::test]
    async fn an_unknown_session_has_no_activity() {
        assert_eq!(store().last_seen(session(1)).await.unwrap(), None);
    }

    #[tokio::test]
    async fn writes_inside_the_interval_are_coalesced() {
        let store = store();
        store.record(session(1), at(0)).await.unwrap();
        store.record(session(1), at(59)).await.unwrap();
        assert_eq!(store.last_seen(session(1)).await.unwrap(), Some(at(0)));
        store.record(session(1), at(60)).await.unwrap();
        assert_eq!(store.last_seen(session(1)).await.unwrap(), Some(at(60)));
    }

    #[tokio::test]
    async fn sessions_are_tracked_separately_and_forgotten_on_logout() {
        let store = store();
        store.record(session(1), at(0)).await.unwrap();
        store.record(session(2), at(5)).await.unwrap();
        store.forget(session(1)).await.unwrap();
        assert_eq!(store.last_seen(session(1)).await.unwrap(), None);
        assert_eq!(store.last_seen(session(2)).await.unwrap(), Some(at(5)));
    }

    #[tokio::test]
    async fn records_older_than_the_idle_timeout_are_swept() {
        let store = MemoryActivityStore::new(TimeDelta::seconds(1), TimeDelta::seconds(100));
        store.record(session(0), at(0)).await.unwrap();
        for n in 1..=(SWEEP_EVERY as u128) {
            store.record(session(n), at(1_000)).await.unwrap();
        }
        assert_eq!(store.last_seen(session(0)).await.unwrap(), None);
        assert_eq!(store.last_seen(session(1)).await.unwrap(), Some(at(1_000)));
    }

    #[tokio::test]
    async fn a_revoked_session_is_listed_until_its_deadline() {
        let list = MemoryRevocationList::new();
        list.insert(session(1), at(900)).await.unwrap();
        assert!(list.contains(session(1), at(899)).await.unwrap());
        assert!(!list.contains(session(1), at(900)).await.unwrap());
        assert!(!list.contains(session(2), at(0)).await.unwrap());
    }

    #[tokio::test]
    async fn revoking_again_never_shortens_the_deadline() {
        let list = MemoryRevocationList::new();
        list.insert(session(1), at(900)).await.unwrap();
        list.insert(session(1), at(100)).await.unwrap();
        assert!(list.contains(session(1), at(500)).await.unwrap());
    }
}
