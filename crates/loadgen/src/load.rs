//! Runs groups of virtual users against a server for a warm-up and then a measured
//! window, and reports what the window showed: throughput, latency percentiles from
//! an HDR histogram, errors by kind, and the CPU and memory of the server.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::procfs;
use crate::vu::{Outcome, VirtualUser};

/// What a group of users does in a loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    Verify,
    Me,
    Refresh,
    Login,
    /// 95 % `me`, 5 % `refresh`.
    Mixed,
    /// `me`'s request, sent to the ceiling server.
    Ceiling,
}

impl Scenario {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::Me => "me",
            Self::Refresh => "refresh",
            Self::Login => "login",
            Self::Mixed => "mixed",
            Self::Ceiling => "http ceiling",
        }
    }
}

/// One request a user sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Verify,
    Me,
    Refresh,
    Login,
    Ceiling,
}

/// How long to warm up (not measured: connections open, caches fill) and to measure.
#[derive(Debug, Clone, Copy)]
pub struct Phases {
    pub warmup: Duration,
    pub measure: Duration,
}

/// Users doing one scenario together.
#[derive(Debug)]
pub struct Group {
    pub scenario: Scenario,
    pub users: Vec<VirtualUser>,
}

/// What one group did in the measured window.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub scenario: Scenario,
    pub users: usize,
    pub requests: u64,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub errors: u64,
    /// e.g. `503×2 io×1`.
    pub error_kinds: String,
    /// CPU the monitored server used, in cores (1.0 = one core busy).
    pub server_cores: Option<f64>,
    /// Its resident memory at the end of the window.
    pub server_rss_mib: Option<f64>,
    /// CPU this load generator used, in cores.
    pub client_cores: f64,
    /// CPU the whole machine used, in cores: the server, this load generator,
    /// PostgreSQL, and whatever else runs on the machine.
    pub machine_cores: Option<f64>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    measure_from: Instant,
    end: Instant,
}

#[derive(Debug)]
struct Tally {
    latency_us: Histogram<u64>,
    errors: BTreeMap<String, u64>,
}

impl Tally {
    fn new() -> Result<Self, String> {
        Ok(Self {
            // 1 µs to 60 s at 3 significant digits.
            latency_us: Histogram::new_with_bounds(1, 60_000_000, 3)
                .map_err(|error| error.to_string())?,
            errors: BTreeMap::new(),
        })
    }

    fn record(&mut self, elapsed: Duration, outcome: Outcome) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.latency_us.saturating_record(micros.max(1));
        if outcome != Outcome::Ok {
            *self.errors.entry(outcome.label()).or_default() += 1;
        }
    }
}

/// A small deterministic generator for the mixed scenario's choice.
#[derive(Debug)]
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn pick(scenario: Scenario, random: &mut XorShift) -> Action {
    match scenario {
        Scenario::Verify => Action::Verify,
        Scenario::Me => Action::Me,
        Scenario::Refresh => Action::Refresh,
        Scenario::Login => Action::Login,
        Scenario::Ceiling => Action::Ceiling,
        Scenario::Mixed if random.next() % 100 < 5 => Action::Refresh,
        Scenario::Mixed => Action::Me,
    }
}

/// One user's loop: requests back to back until the window ends; those started inside
/// the measured part are recorded.
async fn drive(
    mut user: VirtualUser,
    scenario: Scenario,
    window: Window,
    seed: u64,
) -> Result<(VirtualUser, Tally), String> {
    let mut tally = Tally::new()?;
    let mut random = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    loop {
        let started = Instant::now();
        if started >= window.end {
            break;
        }
        let action = pick(scenario, &mut random);
        let outcome = match action {
            Action::Verify => user.verify().await,
            Action::Me => user.me().await,
            Action::Refresh => user.refresh().await,
            Action::Login => user.login().await,
            Action::Ceiling => user.ceiling().await,
        };
        if started >= window.measure_from {
            tally.record(started.elapsed(), outcome);
        }
        // A broken chain (e.g. the server refused the token) ends the session: log in
        // again, as a real client would, outside the measurement.
        if action == Action::Refresh && outcome != Outcome::Ok {
            let _relogin = user.login().await;
        }
    }
    Ok((user, tally))
}

/// Runs every group at once for `phases`, watching `server` (a pid) if given.
/// Returns the groups (their users keep their state) and one cell per group.
///
/// # Errors
/// A user task failed.
pub async fn run(
    groups: Vec<Group>,
    phases: Phases,
    server: Option<u32>,
    ticks_per_second: f64,
) -> Result<(Vec<Group>, Vec<Cell>), String> {
    let start = Instant::now();
    let window = Window {
        measure_from: start + phases.warmup,
        end: start + phases.warmup + phases.measure,
    };
    let mut running = Vec::new();
    let mut seed = 0_u64;
    for group in groups {
        let mut tasks = Vec::with_capacity(group.users.len());
        for user in group.users {
            seed += 1;
            tasks.push(tokio::spawn(drive(user, group.scenario, window, seed)));
        }
        running.push((group.scenario, tasks));
    }
    let me = std::process::id();
    tokio::time::sleep_until(window.measure_from.into()).await;
    let server_before = server.and_then(|pid| procfs::sample(pid).ok());
    let client_before = procfs::sample(me).ok();
    let machine_before = procfs::machine_ticks();
    tokio::time::sleep_until(window.end.into()).await;
    let server_after = server.and_then(|pid| procfs::sample(pid).ok());
    let client_after = procfs::sample(me).ok();
    let machine_after = procfs::machine_ticks();
    let seconds = phases.measure.as_secs_f64();
    let cores = |before: Option<procfs::ProcessSample>, after: Option<procfs::ProcessSample>| {
        before.zip(after).map(|(before, after)| {
            after.cpu_ticks.saturating_sub(before.cpu_ticks) as f64 / ticks_per_second / seconds
        })
    };
    let server_cores = cores(server_before, server_after);
    let client_cores = cores(client_before, client_after).unwrap_or(0.0);
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let machine_cores = machine_before
        .zip(machine_after)
        .and_then(|(before, after)| {
            let total = after.1.saturating_sub(before.1);
            (total > 0)
                .then(|| after.0.saturating_sub(before.0) as f64 / total as f64 * cpus as f64)
        });
    let server_rss_mib = server_after.map(|sample| sample.rss_kib as f64 / 1024.0);

    let mut groups = Vec::new();
    let mut cells = Vec::new();
    for (scenario, tasks) in running {
        let mut users = Vec::with_capacity(tasks.len());
        let mut total = Tally::new()?;
        for task in tasks {
            let (user, tally) = task.await.map_err(|error| error.to_string())??;
            total
                .latency_us
                .add(&tally.latency_us)
                .map_err(|error| error.to_string())?;
            for (kind, count) in tally.errors {
                *total.errors.entry(kind).or_default() += count;
            }
            users.push(user);
        }
        let requests = total.latency_us.len();
        let quantile_ms =
            |quantile: f64| total.latency_us.value_at_quantile(quantile) as f64 / 1000.0;
        let mut error_kinds = String::new();
        for (kind, count) in &total.errors {
            let _infallible = write!(
                error_kinds,
                "{}{kind}×{count}",
                if error_kinds.is_empty() { "" } else { " " }
            );
        }
        cells.push(Cell {
            scenario,
            users: users.len(),
            requests,
            requests_per_second: requests as f64 / seconds,
            p50_ms: quantile_ms(0.5),
            p99_ms: quantile_ms(0.99),
            p999_ms: quantile_ms(0.999),
            errors: total.errors.values().sum(),
            error_kinds,
            server_cores,
            server_rss_mib,
            client_cores,
            machine_cores,
        });
        groups.push(Group { scenario, users });
    }
    Ok((groups, cells))
}
