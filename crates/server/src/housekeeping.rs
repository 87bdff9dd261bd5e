//! The background purge `serve` runs, so ended sessions and old audit events do not
//! pile up without an outside scheduler. The rule of what may go is
//! [`AuthService::purge`](tessera_application::AuthService::purge)'s; this only
//! schedules it.

use std::convert::Infallible;
use std::time::Duration;

use tessera_application::{Error, PurgeReport};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

/// The running purge task; dropping it stops the task, so it ends with the server.
#[derive(Debug)]
pub struct PurgeTask(JoinHandle<Infallible>);

impl Drop for PurgeTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `purge` every `interval`, the first time one interval from now. A failure is
/// logged and the next interval tries again; nothing stops the task but dropping the
/// returned handle. A task of its own, so that even a panic in a purge leaves the
/// server serving.
pub fn spawn<F, Fut>(interval: Duration, purge: F) -> PurgeTask
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<PurgeReport, Error>> + Send + 'static,
{
    PurgeTask(tokio::spawn(purge_every(interval, purge)))
}

async fn purge_every<F, Fut>(interval: Duration, mut purge: F) -> Infallible
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<PurgeReport, Error>>,
{
    let mut ticks = tokio::time::interval_at(Instant::now() + interval, interval);
    // After a slow purge (or a suspended host) wait a whole interval, not a burst.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match purge().await {
            Ok(report) => tracing::info!(
                sessions = report.sessions,
                audit_events = report.audit_events,
                "purged ended sessions and old audit events"
            ),
            Err(error) => tracing::warn!(
                error = %error_chain(&error),
                "purge failed; the next interval tries again"
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
