//! Throttle counters in memory, for one node. Each node then throttles on its own
//! (a client spread over N nodes gets up to N times the limits); the Redis adapter that
//! shares them comes with multi-node support.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use tessera_application::Error;
use tessera_application::ports::{ThrottleRecord, ThrottleStore};
use tessera_domain::Instant;

/// Sweep expired records once the map has grown by this many since the last sweep.
const SWEEP_EVERY: usize = 1024;

/// The most records kept by default: about 100 bytes each, so a few tens of MiB at
/// worst, whatever a flood of new addresses and e-mails does.
pub const DEFAULT_MAX_RECORDS: usize = 200_000;

#[derive(Debug, Default)]
struct Records {
    entries: HashMap<String, (ThrottleRecord, Instant)>,
    size_after_last_sweep: usize,
}

impl Records {
    fn live(&self, key: &str, now: Instant) -> Option<ThrottleRecord> {
        self.entries
            .get(key)
            .filter(|(_, expires_at)| now < *expires_at)
            .map(|(record, _)| *record)
    }

    /// Makes room for one more record: drops expired ones when the map has grown,
    /// and if it is still full, one arbitrary record. Losing a record only forgets a
    /// throttle's state early (fail open for that key), never refuses anyone.
    fn make_room(&mut self, now: Instant, max_records: usize) {
        let full = self.entries.len() >= max_records;
        if full || self.entries.len() >= self.size_after_last_sweep + SWEEP_EVERY {
            self.entries.retain(|_, (_, expires_at)| now < *expires_at);
            self.size_after_last_sweep = self.entries.len();
        }
        if self.entries.len() >= max_records
            && let Some(victim) = self.entries.keys().next().cloned()
        {
            self.entries.remove(&victim);
        }
    }
}

/// Throttle records in a map under one lock, each dropped once expired (lazily, as the
/// map grows) and at most `max_records` of them.
#[derive(Debug)]
pub struct MemoryThrottleStore {
    records: Mutex<Records>,
    max_records: usize,
}

impl MemoryThrottleStore {
    /// A store of at most `max_records` records (at least one).
    pub fn new(max_records: usize) -> Self {
        Self {
            records: Mutex::default(),
            max_records: max_records.max(1),
        }
    }

    /// How many records are held, expired or not.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A poisoned lock only means another request panicked mid-update of a map of
    /// plain values; the data is still usable.
    fn lock(&self) -> MutexGuard<'_, Records> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for MemoryThrottleStore {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_RECORDS)
    }
}

#[async_trait]
impl ThrottleStore for MemoryThrottleStore {
    async fn get(&self, key: &str, now: Instant) -> Result<Option<ThrottleRecord>, Error> {
        Ok(self.lock().live(key, now))
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<ThrottleRecord>,
        new: ThrottleRecord,
        expires_at: Instant,
        now: Instant,
    ) -> Result<bool, Error> {
        let mut records = self.lock();
        if records.live(key, now) != expected {
            return Ok(false);
        }
        if let Some(entry) = records.entries.get_mut(key) {
            *entry = (new, expires_at);
        } else {
            records.make_room(now, self.max_records);
            records.entries.insert(key.to_owned(), (new, expires_at));
        }
        Ok(true)
    }

    async fn remove(&self, key: &str) -> Result<(), Error> {
        self.lock().entries.remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone, Utc};
    use tessera_domain::{BucketState, FailedLogins};

    use super::*;

    fn at(seconds: i64) -> Instant {
        Utc.timestamp_opt(1_700_000_000 + seconds, 0)
            .single()
            .unwrap()
    }

    fn bucket(tokens: u32) -> ThrottleRecord {
        ThrottleRecord::Bucket(BucketState {
            tokens,
            updated_at: at(0),
            refusing: false,
        })
    }

    fn failures(failures: u32) -> ThrottleRecord {
        ThrottleRecord::FailedLogins(FailedLogins {
            failures,
            last_failure_at: at(0),
            refusing: false,
        })
    }

    #[tokio::test]
    async fn a_swap_writes_only_over_the_expected_record() {
        let store = MemoryThrottleStore::default();
        assert_eq!(store.get("k", at(0)).await.unwrap(), None);
        assert!(
            store
                .compare_and_swap("k", None, bucket(4), at(60), at(0))
                .await
                .unwrap()
        );
        // Someone else's view is stale: nothing is written.
        assert!(
            !store
                .compare_and_swap("k", None, bucket(9), at(60), at(1))
                .await
                .unwrap()
        );
        assert!(
            !store
                .compare_and_swap("k", Some(bucket(5)), bucket(9), at(60), at(1))
                .await
                .unwrap()
        );
        assert!(
            store
                .compare_and_swap("k", Some(bucket(4)), bucket(3), at(60), at(1))
                .await
                .unwrap()
        );
        assert_eq!(store.get("k", at(2)).await.unwrap(), Some(bucket(3)));
    }

    #[tokio::test]
    async fn a_record_is_gone_at_its_expiry_and_an_expired_one_counts_as_absent() {
        let store = MemoryThrottleStore::default();
        store
            .compare_and_swap("k", None, failures(3), at(60), at(0))
            .await
            .unwrap();
        assert_eq!(store.get("k", at(59)).await.unwrap(), Some(failures(3)));
        assert_eq!(store.get("k", at(60)).await.unwrap(), None);
        assert!(
            store
                .compare_and_swap("k", None, failures(1), at(120), at(60))
                .await
                .unwrap()
        );
        assert_eq!(store.get("k", at(61)).await.unwrap(), Some(failures(1)));
    }

    #[tokio::test]
    async fn remove_forgets_a_record() {
        let store = MemoryThrottleStore::default();
        store
            .compare_and_swap("k", None, failures(3), at(60), at(0))
            .await
            .unwrap();
        store.remove("k").await.unwrap();
        store.remove("never-there").await.unwrap();
        assert_eq!(store.get("k", at(1)).await.unwrap(), None);
    }

    #[tokio::test]
    async fn expired_records_are_swept_as_the_map_grows() {
        let store = MemoryThrottleStore::default();
        store
            .compare_and_swap("old", None, bucket(1), at(10), at(0))
            .await
            .unwrap();
        for n in 0..SWEEP_EVERY {
            store
                .compare_and_swap(&format!("k{n}"), None, bucket(1), at(1_000), at(100))
                .await
                .unwrap();
        }
        assert_eq!(store.len(), SWEEP_EVERY);
        assert_eq!(store.get("k0", at(101)).await.unwrap(), Some(bucket(1)));
    }

    #[tokio::test]
    async fn memory_stays_bounded_under_a_flood_of_new_keys() {
        let store = MemoryThrottleStore::new(100);
        for n in 0..1_000 {
            assert!(
                store
                    .compare_and_swap(
                        &format!("flood{n}"),
                        None,
                        bucket(1),
                        at(0) + TimeDelta::hours(1),
                        at(0)
                    )
                    .await
                    .unwrap()
            );
        }
        assert_eq!(store.len(), 100);
        // The newest record is always kept.
        assert_eq!(store.get("flood999", at(1)).await.unwrap(), Some(bucket(1)));
    }
}
