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
//! threads have finished none for [`STARVED_AFTER`]: a saturated server still logs
//! users in, one hash at a time, at the share nice 10 gets — the worst case is the old
//! behaviour with one thread, not a lockout.
//!
//! Dropping the last handle closes the queue, which ends the threads once they have
//! finished what they hold.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tessera_application::Error;

pub(super) type Job = Box<dyn FnOnce() + Send>;

/// How long the idle-policy threads may finish no hash while one waits before the
/// rescuer takes it. A hash takes 15–70 ms here (one per CPU, OWASP parameters); much
/// slower parameters only make the rescuer help more often.
pub(super) const STARVED_AFTER: Duration = Duration::from_millis(250);

/// Nice value of the rescuer (0 is normal, 19 the lowest): the scheduler's weight at 10
/// is about a tenth of normal's.
const RESCUER_NICENESS: i32 = 10;

/// Working memory a thread keeps is given back after this long without work.
const IDLE_MEMORY_RELEASE: Duration = Duration::from_secs(10);

/// Thread names (Linux keeps 15 bytes): `tessera-hash-0`… and `tessera-hash-r`.
pub(super) const THREAD_NAME_PREFIX: &str = "tessera-hash-";

pub(super) struct HashingThreads {
    queue: Arc<Queue>,
}

struct Queue {
    state: Mutex<State>,
    /// Signalled when a job arrives and when the queue closes.
    changed: Condvar,
}

struct State {
    waiting: VecDeque<Waiting>,
    open: bool,
    /// When an idle-policy thread last started or finished a hash.
    idle_threads_progressed: Instant,
}

struct Waiting {
    job: Job,
    since: Instant,
}

impl HashingThreads {
    /// `count` idle-policy threads and the rescuer. Threads that cannot be started are
    /// logged; fewer threads still hash, just slower.
    pub(super) fn start(count: usize, release_memory: fn()) -> Self {
        let queue = Arc::new(Queue {
            state: Mutex::new(State {
                waiting: VecDeque::new(),
                open: true,
                idle_threads_progressed: Instant::now(),
            }),
            changed: Condvar::new(),
        });
        for index in 0..count {
            let queue = Arc::clone(&queue);
            spawn(format!("{THREAD_NAME_PREFIX}{index}"), move || {
                enter_idle_policy();
                queue.serve_as_idle_thread(release_memory);
            });
        }
        let rescuer = Arc::clone(&queue);
        spawn(format!("{THREAD_NAME_PREFIX}r"), move || {
            lower_this_threads_priority(RESCUER_NICENESS);
            rescuer.serve_as_rescuer(release_memory);
        });
        Self { queue }
    }

    pub(super) fn submit(&self, job: Job) -> Result<(), Error> {
        let mut state = self.queue.lock();
        if !state.open {
            return Err(Error::unexpected("no password hashing thread is running"));
        }
        state.waiting.push_back(Waiting {
            job,
            since: Instant::now(),
        });
        drop(state);
        // All: the rescuer waits on the same signal and leaves fresh jobs alone.
        self.queue.changed.notify_all();
        Ok(())
    }
}

impl Drop for HashingThreads {
    fn drop(&mut self) {
        self.queue.lock().open = false;
        self.queue.changed.notify_all();
    }
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking job runs outside the lock: poison only means a bug here, and the
        // state stays usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn serve_as_idle_thread(&self, release_memory: fn()) {
        let mut state = self.lock();
        loop {
            if let Some(waiting) = state.waiting.pop_front() {
                state.idle_threads_progressed = Instant::now();
                drop(state);
                run(waiting.job);
                state = self.lock();
                state.idle_threads_progressed = Instant::now();
                continue;
            }
            if !state.open {
                return;
            }
            let (next, wait) = self
                .changed
                .wait_timeout(state, IDLE_MEMORY_RELEASE)
                .unwrap_or_else(PoisonError::into_inner);
            state = next;
            if wait.timed_out() && state.waiting.is_empty() {
                drop(state);
                release_memory();
                state = self.lock();
            }
        }
    }

    fn serve_as_rescuer(&self, release_memory: fn()) {
        let mut state = self.lock();
        let mut last_work = Instant::now();
        loop {
            let starved = state.waiting.front().is_some_and(|waiting| {
                waiting.since.elapsed() >= STARVED_AFTER
                    && state.idle_threads_progressed.elapsed() >= STARVED_AFTER
            });
            if starved && let Some(waiting) = state.waiting.pop_front() {
                drop(state);
                tracing::debug!("password hashing threads starved; the rescuer takes a hash");
                run(waiting.job);
                last_work = Instant::now();
                state = self.lock();
                continue;
            }
            if !state.open && state.waiting.is_empty() {
                return;
            }
            // Woken by every arrival, and often enough to see a job grow old.
            let (next, _) = self
                .changed
                .wait_timeout(state, STARVED_AFTER / 4)
                .unwrap_or_else(PoisonError::into_inner);
            state = next;
            if last_work.elapsed() >= IDLE_MEMORY_RELEASE {
                drop(state);
                release_memory();
                last_work = Instant::now();
                state = self.lock();
            }
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
