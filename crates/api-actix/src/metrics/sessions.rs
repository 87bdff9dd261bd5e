//! The live-session gauge: one indexed count in the database, cached so that scrapes
//! (or a flood of them) do not each scan the table. A login or logout on this node
//! marks the cache stale, so it is recounted at the next scrape; changes made on
//! other nodes, and sessions ageing out, show within [`FRESH_FOR`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use tessera_application::ports::{Clock, PoolUsage, Statistics};

use super::lock;

/// How long a count is used when nothing on this node changed.
const FRESH_FOR: Duration = Duration::from_secs(15);
/// The least time between two counts, however often sessions change.
const AT_MOST_EVERY: Duration = Duration::from_secs(1);

pub(super) struct LiveSessions {
    statistics: Arc<dyn Statistics>,
    clock: Arc<dyn Clock>,
    idle_timeout: TimeDelta,
    fresh_for: Duration,
    at_most_every: Duration,
    /// The last count (`None` when it failed) and when it was made.
    cached: Mutex<Option<(Instant, Option<u64>)>>,
    stale: AtomicBool,
}

impl LiveSessions {
    pub(super) fn new(
        statistics: Arc<dyn Statistics>,
        clock: Arc<dyn Clock>,
        idle_timeout: TimeDelta,
    ) -> Self {
        Self {
            statistics,
            clock,
            idle_timeout,
            fresh_for: FRESH_FOR,
            at_most_every: AT_MOST_EVERY,
            cached: Mutex::new(None),
            stale: AtomicBool::new(false),
        }
    }

    pub(super) fn mark_stale(&self) {
        self.stale.store(true, Ordering::Relaxed);
    }

    pub(super) fn pool(&self) -> PoolUsage {
        self.statistics.pool()
    }

    /// The number of live sessions, or `None` when it cannot be counted (the gauge
    /// is then left out of the page rather than reported wrong).
    pub(super) async fn current(&self) -> Option<u64> {
        let cached = *lock(&self.cached);
        if let Some((counted_at, count)) = cached {
            let age = counted_at.elapsed();
            let stale = self.stale.load(Ordering::Relaxed);
            if age < self.at_most_every || (age < self.fresh_for && !stale) {
                return count;
            }
        }
        // Cleared before counting: a change during the count marks it again.
        self.stale.store(false, Ordering::Relaxed);
        let now = self.clock.now();
        let active_since = now
            .checked_sub_signed(self.idle_timeout)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let count = match self.statistics.live_sessions(now, active_since).await {
            Ok(count) => Some(count),
            Err(error) => {
                tracing::warn!(error = %error, "live sessions could not be counted for /metrics");
                None
            }
        };
        *lock(&self.cached) = Some((Instant::now(), count));
        count
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use tessera_application::Error;
    use tessera_application::ports::{MockClock, MockStatistics};

    use super::*;

    fn gauge(statistics: MockStatistics, at_most_every: Duration) -> LiveSessions {
        let mut clock = MockClock::new();
        clock
            .expect_now()
            .returning(|| Utc.with_ymd_and_hms(2026, 3, 2, 9, 30, 0).unwrap());
        LiveSessions {
            at_most_every,
            ..LiveSessions::new(Arc::new(statistics), Arc::new(clock), TimeDelta::days(7))
        }
    }

    #[tokio::test]
    async fn a_count_is_reused_until_something_changes() {
        let mut statistics = MockStatistics::new();
        statistics
            .expect_live_sessions()
            .withf(|now, active_since| *now - *active_since == TimeDelta::days(7))
            .times(2)
            .returning(|_, _| Ok(3));
        let gauge = gauge(statistics, Duration::ZERO);
        assert_eq!(gauge.current().await, Some(3));
        assert_eq!(gauge.current().await, Some(3));
        gauge.mark_stale();
        assert_eq!(gauge.current().await, Some(3));
        assert_eq!(gauge.current().await, Some(3));
    }

    #[tokio::test]
    async fn changes_do_not_recount_more_often_than_the_floor() {
        let mut statistics = MockStatistics::new();
        statistics
            .expect_live_sessions()
            .times(1)
            .returning(|_, _| Ok(1));
        let gauge = gauge(statistics, Duration::from_secs(3600));
        assert_eq!(gauge.current().await, Some(1));
        gauge.mark_stale();
        assert_eq!(gauge.current().await, Some(1));
    }

    #[tokio::test]
    async fn a_failed_count_leaves_the_gauge_out() {
        let mut statistics = MockStatistics::new();
        statistics
            .expect_live_sessions()
            .returning(|_, _| Err(Error::Unavailable("database down".into())));
        assert_eq!(gauge(statistics, Duration::ZERO).current().await, None);
    }
}
