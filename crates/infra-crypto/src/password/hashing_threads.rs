//! The threads that run Argon2, and how the scheduler treats them.
//!
//! Why not tokio's blocking pool: a hash there lands on whichever of up to 512 threads
//! is free, each with its own allocator arena, and every one of them ends up holding a
//! freed 19 MiB buffer (measured: 1.4 GiB resident after a login load,
//! docs/performance.md); here at most one working memory per thread is kept
//! (`ARGON2_MEMORY`), and given back when idle.
//!
//! Why `SCHED_IDLE`: under a login flood the CPU must go first to the requests that need
//! little of it (`me`, `refresh`, `verify`), whose latency is what users feel. At nice 10
//! a request thread that wakes still waits for a hash's time slice now and then: `me`'s
//! p99 rose 3.5–4.5× during a login flood. Under `SCHED_IDLE` any other thread that
//! wakes takes the CPU at once (2.2× in the same test), and the hashes get the idle
//! time, which on a server not at its limit is plenty: logins went on at 60–75 per
//! second during that flood.
//!
//! The price: while other work keeps every CPU busy, an idle-policy thread gets next to
//! nothing, and an unprivileged thread cannot leave that policy again. So one more
//! thread, the *rescuer*, stays at nice 10 and takes a waiting hash when the idle-policy
//! threads have started or finished none for [`STARVED_AFTER`]: a saturated server still logs
//! users in, one hash at a time, at the share nice 10 gets — the worst case is the old
//! behaviour with one thread, not a lockout.
//!
//! Dropping the hasher closes the queue, which ends the threads once they have finished
//! what they hold.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use tessera_application::Error;

pub(super) type Job = Box<dyn FnOnce() + Send>;

/// How long the idle-policy threads may start or finish no hash while one waits before
/// the rescuer takes it. A hash takes 15–70 ms here (one per CPU, OWASP parameters);
/// much slower parameters only make the rescuer help more often.
const STARVED_AFTER: Duration = Duration::from_millis(250);

/// Nice value of the rescuer (0 is normal, 19 the lowest): the scheduler's weight at 10
/// is about a tenth of normal's.
const RESCUER_NICENESS: i32 = 10;

/// Working memory a thread keeps is given back after this long without work.
const IDLE_MEMORY_RELEASE: Duration = Duration::from_secs(10);

/// Thread names (Linux keeps 15 bytes): `tessera-hash-0`… and `tessera-hash-r`.
const THREAD_NAME_PREFIX: &str = "tessera-hash-";

/// The sending end of the queue. Sending takes no lock: a request thread must never
/// wait for a lock that a preempted idle-policy thread holds.
pub(super) struct HashingThreads {
    jobs: Sender<Job>,
}

/// When an idle-policy thread last started or finished a hash, in milliseconds since
/// `start`: written by them, read by the rescuer, without a lock for the same reason.
struct Progress {
    start: Instant,
    last: AtomicU64,
}

impl Progress {
    fn now(&self) {
        self.last.store(millis_since(self.start), Ordering::Relaxed);
    }

    fn stalled_for(&self) -> Duration {
        let last = self.last.load(Ordering::Relaxed);
        Duration::from_millis(millis_since(self.start).saturating_sub(last))
    }
}

fn millis_since(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl HashingThreads {
    /// `count` idle-policy threads and the rescuer. Threads that cannot be started are
    /// logged; fewer threads still hash, just slower, and with none at all a submit
    /// fails.
    pub(super) fn start(count: usize, release_memory: fn()) -> Self {
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        let progress = Arc::new(Progress {
            start: Instant::now(),
            last: AtomicU64::new(0),
        });
        for index in 0..count {
            let (queue, progress) = (queue.clone(), Arc::clone(&progress));
            spawn(format!("{THREAD_NAME_PREFIX}{index}"), move || {
                enter_idle_policy();
                serve_as_idle_thread(&queue, &progress, release_memory);
            });
        }
        spawn(format!("{THREAD_NAME_PREFIX}r"), move || {
            lower_this_threads_priority(RESCUER_NICENESS);
            serve_as_rescuer(&queue, &progress);
        });
        Self { jobs }
    }

    pub(super) fn submit(&self, job: Job) -> Result<(), Error> {
        // Fails only when every thread has gone (or none could start).
        self.jobs
            .send(job)
            .map_err(|_| Error::unexpected("no password hashing thread is running"))
    }
}

fn serve_as_idle_thread(queue: &Receiver<Job>, progress: &Progress, release_memory: fn()) {
    loop {
        match queue.recv_timeout(IDLE_MEMORY_RELEASE) {
            Ok(job) => {
                progress.now();
                run(job);
                progress.now();
            }
            Err(RecvTimeoutError::Timeout) => release_memory(),
            // The hasher was dropped.
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Looks at the queue twice per [`STARVED_AFTER`]; while the idle-policy threads are
/// making progress it leaves every waiting job to them.
fn serve_as_rescuer(queue: &Receiver<Job>, progress: &Progress) {
    loop {
        std::thread::sleep(STARVED_AFTER / 2);
        if progress.stalled_for() < STARVED_AFTER && !queue.is_empty() {
            continue;
        }
        // Starved (or the queue is empty, which this also tells apart from a closed one).
        match queue.try_recv() {
            Ok(job) => {
                tracing::debug!("password hashing threads starved; the rescuer takes a hash");
                run(job);
            }
            Err(TryRecvError::Empty) => {}
            // The hasher was dropped.
            Err(TryRecvError::Disconnected) => return,
        }
    }
}

fn run(job: Job) {
    // A panicking job drops its answer (its caller gets an error); the thread lives on
    // for the next one.
    let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
}

fn spawn(name: String, body: impl FnOnce() + Send + 'static) {
    if let Err(error) = std::thread::Builder::new().name(name).spawn(body) {
        tracing::warn!(%error, "could not start a password hashing thread");
    }
}

/// `SCHED_IDLE` for this thread (Linux); elsewhere, or if refused, nice 19.
fn enter_idle_policy() {
    // First the nice value: if the policy is refused, the thread still yields.
    lower_this_threads_priority(19);
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
            set_thread_priority_and_policy, thread_native_id,
        };
        // For `SCHED_IDLE` the crate also sets the nice value to 0, which an
        // unprivileged thread may not do after the step above: that error comes after
        // the policy is in place and changes nothing under it.
        if let Err(error) = set_thread_priority_and_policy(
            thread_native_id(),
            ThreadPriority::Min,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
        ) {
            tracing::debug!(
                ?error,
                "SCHED_IDLE for a password hashing thread: partly refused"
            );
        }
    }
}

/// Linux keeps a nice value per thread; elsewhere the threads keep the normal priority.
fn lower_this_threads_priority(niceness: i32) {
    #[cfg(target_os = "linux")]
    if let Err(error) =
        rustix::process::setpriority_process(Some(rustix::thread::gettid()), niceness)
    {
        tracing::debug!(%error, "could not lower the priority of a password hashing thread");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = niceness;
}
