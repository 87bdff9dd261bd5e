//! The background work `serve` runs on a schedule — purging ended sessions and old
//! audit events, copying revocations made elsewhere into this node's revocation list
//! — so none of it needs an outside scheduler. What each run does is the use case's
//! rule ([`AuthService::purge`](tessera_application::AuthService::purge),
//! [`AuthService::sync_revocations`](tessera_application::AuthService::sync_revocations));
//! this only schedules it.

use std::convert::Infallible;
use std::time::Duration;

use tessera_application::{Error, PurgeReport};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

/// A running periodic task; dropping it stops the task, so it ends with the server.
#[derive(Debug)]
pub struct BackgroundTask(JoinHandle<Infallible>);

/// The purge task (kept as a name for what `serve` holds).
pub type PurgeTask = BackgroundTask;

impl Drop for BackgroundTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl BackgroundTask {
    /// Runs `work` every `interval`, the first time one interval from now, and logs
    /// what it returns under `name` (successes at debug). A failure is logged and the
    /// next interval tries again; nothing stops the task but dropping the handle. A
    /// task of its own, so that even a panic in a run leaves the server serving.
    pub fn every<T, F, Fut>(interval: Duration, name: &'static str, work: F) -> Self
    where
        T: std::fmt::Debug + Send + 'static,
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, Error>> + Send + 'static,
    {
        Self::with_report(interval, name, work, |outcome| {
            tracing::debug!(outcome = ?outcome, "background task ran");
        })
    }

    fn with_report<T, F, Fut>(
        interval: Duration,
        name: &'static str,
        work: F,
        report: fn(&T),
    ) -> Self
    where
        T: Send + 'static,
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, Error>> + Send + 'static,
    {
        Self(tokio::spawn(run_every(interval, name, work, report)))
    }
}

/// Runs `purge` every `interval` and logs what it deleted at info.
pub fn spawn<F, Fut>(interval: Duration, purge: F) -> PurgeTask
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<PurgeReport, Error>> + Send + 'static,
{
    BackgroundTask::with_report(interval, "purge", purge, |report: &PurgeReport| {
        tracing::info!(
            sessions = report.sessions,
            audit_events = report.audit_events,
            "purged ended sessions and old audit events"
        );
    })
}

async fn run_every<T, F, Fut>(
    interval: Duration,
    name: &'static str,
    mut work: F,
    report: fn(&T),
) -> Infallible
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut ticks = tokio::time::interval_at(Instant::now() + interval, interval);
    // After a slow run (or a suspended host) wait a whole interval, not a burst.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match work().await {
            Ok(outcome) => report(&outcome),
            Err(error) => tracing::warn!(
                task = name,
                error = %error_chain(&error),
                "background task failed; the next interval tries again"
            ),
        }
    }
}

/// `error: cause: cause…`, since `Unavailable` alone does not say what failed.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    const INTERVAL: Duration = Duration::from_secs(60);

    /// A purge that counts its runs and fails on the runs listed in `failing`.
    fn counting(
        failing: &'static [usize],
    ) -> (
        Arc<AtomicUsize>,
        impl FnMut() -> std::future::Ready<Result<PurgeReport, Error>> + Send + 'static,
    ) {
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = runs.clone();
        let purge = move || {
            let run = counter.fetch_add(1, Ordering::SeqCst) + 1;
            std::future::ready(if failing.contains(&run) {
                Err(Error::unexpected("the database is gone"))
            } else {
                Ok(PurgeReport::default())
            })
        };
        (runs, purge)
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_purge_runs_after_one_interval_then_every_interval() {
        let (runs, purge) = counting(&[]);
        let _task = spawn(INTERVAL, purge);
        tokio::time::sleep(INTERVAL - Duration::from_secs(1)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 0, "nothing at start");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        tokio::time::sleep(INTERVAL * 2).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_purge_does_not_stop_the_next_ones() {
        let (runs, purge) = counting(&[1, 2]);
        let task = spawn(INTERVAL, purge);
        tokio::time::sleep(INTERVAL * 3 + Duration::from_secs(1)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        assert!(!task.0.is_finished());
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_the_task_stops_the_purges() {
        let (runs, purge) = counting(&[]);
        let task = spawn(INTERVAL, purge);
        tokio::time::sleep(INTERVAL + Duration::from_secs(1)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        drop(task);
        tokio::time::sleep(INTERVAL * 5).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_logged_error_carries_its_causes() {
        let error = Error::Unavailable(Box::new(std::io::Error::other("connection refused")));
        assert_eq!(
            error_chain(&error),
            "a backing service is unavailable: connection refused"
        );
    }
}
