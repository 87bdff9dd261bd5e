//! The whole run of `make bench`: users, every scenario at every level, the three
//! ceilings, the login flood, the large-table comparison and memory, in one process
//! so every ratio compares figures of the same run.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::load::{self, Cell, Group, Phases, Scenario};
use crate::procfs::{self, Machine};
use crate::sql::{PgbenchResult, Postgres};
use crate::vu::{Endpoints, Outcome, VirtualUser};
use crate::{ceiling, report};

/// Everything `make bench` passes in.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Tessera's base URL.
    #[arg(long)]
    pub target: String,
    /// Tessera's process id, for its CPU time and memory.
    #[arg(long)]
    pub server_pid: u32,
    /// The ceiling server's base URL (`tessera-loadgen ceiling-server`).
    #[arg(long)]
    pub ceiling: String,
    /// The ceiling server's process id.
    #[arg(long)]
    pub ceiling_pid: u32,
    /// Tessera's database, for pgbench and the bulk sessions.
    #[arg(long)]
    pub database_url: String,
    #[arg(long, default_value = "psql")]
    pub psql: String,
    #[arg(long, default_value = "pgbench")]
    pub pgbench: String,
    /// Concurrent users per measurement.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32,128")]
    pub levels: Vec<usize>,
    /// Measured time per scenario and level.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "5s")]
    pub duration: Duration,
    /// Unmeasured time before it.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1s")]
    pub warmup: Duration,
    /// A smoke run: 1 s windows and 50,000 bulk sessions.
    #[arg(long)]
    pub quick: bool,
    /// Users calling `me` in the login-flood comparison.
    #[arg(long, default_value_t = 8)]
    pub flood_me_users: usize,
    /// Users logging in meanwhile.
    #[arg(long, default_value_t = 32)]
    pub flood_login_users: usize,
    /// Sessions inserted for the large-table comparison.
    #[arg(long, default_value_t = 1_000_000)]
    pub bulk_sessions: usize,
    /// Users refreshing in the large-table comparison.
    #[arg(long, default_value_t = 8)]
    pub bulk_users: usize,
    /// pgbench connections at most (PostgreSQL's `max_connections` is shared).
    #[arg(long, default_value_t = 32)]
    pub pgbench_max_clients: usize,
    /// When the run started, for the report (`date -u`).
    #[arg(long, default_value = "")]
    pub run_date: String,
    /// How tessera was configured, for the report.
    #[arg(long, default_value = "")]
    pub server_settings: String,
    /// Where `report.md` and `results.json` go.
    #[arg(long, default_value = "target/bench")]
    pub out: PathBuf,
}

/// Raw Argon2id throughput: the best of 1 to `nproc` hashing threads (Argon2 with
/// 19 MiB per hash is bound by memory bandwidth too, so more threads are not always
/// faster).
#[derive(Debug, Clone, Serialize)]
pub struct Argon2Ceiling {
    /// Hashes per second with 1, 2, … threads.
    pub by_threads: Vec<(usize, f64)>,
    /// The thread count of the best.
    pub threads: usize,
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    pub hashes_per_second: f64,
}

/// `me` alone, then `me` while other users log in.
#[derive(Debug, Clone, Serialize)]
pub struct Flood {
    pub alone: Cell,
    pub me: Cell,
    pub login: Cell,
}

/// `refresh` before and after the bulk insert.
#[derive(Debug, Clone, Serialize)]
pub struct Bulk {
    pub sessions_before: u64,
    pub sessions_after: u64,
    pub insert_seconds: f64,
    pub before: Cell,
    pub after: Cell,
}

/// Everything measured, as `results.json` holds it.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    pub machine: Machine,
    pub run_date: String,
    pub quick: bool,
    pub levels: Vec<usize>,
    pub warmup_seconds: f64,
    pub measure_seconds: f64,
    pub server_settings: String,
    pub verify_available: bool,
    pub scenarios: Vec<Cell>,
    pub http_ceiling: Vec<Cell>,
    pub db_ceiling: Vec<PgbenchResult>,
    pub argon2: Argon2Ceiling,
    pub flood: Flood,
    pub bulk: Bulk,
    pub load_average_start: f64,
    pub load_average_end: f64,
    pub idle_rss_start_mib: f64,
    pub idle_rss_end_mib: f64,
    pub peak_rss_mib: f64,
    pub wall_seconds: f64,
}

const PASSWORD: &str = "bench-password-not-secret";
const DOMAIN: &str = "bench.example.com";

fn progress(line: &str) {
    eprintln!("[bench] {line}");
}

fn describe(cell: &Cell) -> String {
    format!(
        "{:<13} {:>3} users {:>9.1} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  p99.9 {:>7.2} ms  errors {}{}",
        cell.scenario.name(),
        cell.users,
        cell.requests_per_second,
        cell.p50_ms,
        cell.p99_ms,
        cell.p999_ms,
        cell.errors,
        if cell.error_kinds.is_empty() {
            String::new()
        } else {
            format!(" ({})", cell.error_kinds)
        }
    )
}

/// Runs `scenario` with the first `count` users of `pool`, who come back with their
/// state.
async fn measure(
    pool: &mut Vec<VirtualUser>,
    scenario: Scenario,
    count: usize,
    phases: Phases,
    pid: u32,
    ticks: f64,
) -> Result<Cell, String> {
    let users: Vec<VirtualUser> = pool.drain(..count.min(pool.len())).collect();
    let (groups, cells) =
        load::run(vec![Group { scenario, users }], phases, Some(pid), ticks).await?;
    for group in groups.into_iter().rev() {
        pool.splice(0..0, group.users);
    }
    let cell = cells
        .into_iter()
        .next()
        .ok_or_else(|| "a run returned no cell".to_owned())?;
    progress(&describe(&cell));
    Ok(cell)
}

fn rss_mib(pid: u32) -> Result<f64, String> {
    procfs::sample(pid)
        .map(|sample| sample.rss_kib as f64 / 1024.0)
        .map_err(|error| format!("cannot read /proc/{pid}: {error}"))
}

/// The whole run.
///
/// # Errors
/// A step that cannot go on: users cannot be created, a ceiling cannot be measured,
/// the report cannot be written.
pub async fn run(mut args: BenchArgs) -> Result<Results, String> {
    let started = Instant::now();
    if args.quick {
        args.duration = Duration::from_secs(1);
        args.warmup = Duration::from_millis(500);
        args.bulk_sessions = args.bulk_sessions.min(50_000);
    }
    let phases = Phases {
        warmup: args.warmup,
        measure: args.duration,
    };
    let ticks = procfs::clock_ticks_per_second();
    let pid = args.server_pid;
    let postgres = Postgres {
        url: args.database_url.clone(),
        psql: args.psql.clone(),
        pgbench: args.pgbench.clone(),
    };
    let idle_rss_start_mib = rss_mib(pid)?;
    let load_average_start = procfs::load_average();

    // Users: one account and one session each, created before anything is measured.
    let max_level = args.levels.iter().copied().max().unwrap_or(1);
    let needed = max_level
        .max(args.flood_me_users + args.flood_login_users)
        .max(args.bulk_users);
    let endpoints = Arc::new(Endpoints::new(&args.target, Some(&args.ceiling)));
    progress(&format!("registering and logging in {needed} users"));
    let mut pool = Vec::with_capacity(needed);
    // A few at a time: each registration and each login costs one Argon2 hash.
    for first in (0..needed).step_by(8) {
        let mut tasks = Vec::new();
        for index in first..(first + 8).min(needed) {
            let mut user = VirtualUser::new(endpoints.clone(), DOMAIN, index, PASSWORD)
                .map_err(|error| error.to_string())?;
            tasks.push(tokio::spawn(async move {
                let registered = user.register().await;
                if registered != Outcome::Ok {
                    return Err(format!("registration failed: {}", registered.label()));
                }
                match user.login().await {
                    Outcome::Ok => Ok(user),
                    other => Err(format!("login failed: {}", other.label())),
                }
            }));
        }
        for task in tasks {
            pool.push(task.await.map_err(|error| error.to_string())??);
        }
    }

    // `GET /v1/auth/verify` may not exist yet on this build of the server.
    let verify_available = match pool.first() {
        Some(user) => user.verify().await != Outcome::Status(404),
        None => false,
    };
    if !verify_available {
        progress("verify: the server answers 404, scenario not available");
    }

    // Each scenario runs right after its ceiling, so that both see the same
    // neighbours on a shared machine.
    let mut scenarios = Vec::new();
    progress("HTTP ceiling: the same requests to a handler that does no work");
    let mut http_ceiling = Vec::new();
    for &level in &args.levels {
        http_ceiling.push(
            measure(
                &mut pool,
                Scenario::Ceiling,
                level,
                phases,
                args.ceiling_pid,
                ticks,
            )
            .await?,
        );
    }

    for scenario in [Scenario::Verify, Scenario::Me, Scenario::Mixed] {
        if scenario == Scenario::Verify && !verify_available {
            continue;
        }
        for &level in &args.levels {
            scenarios.push(measure(&mut pool, scenario, level, phases, pid, ticks).await?);
        }
    }

    progress("database ceiling: one refresh's statements replayed by pgbench");
    std::fs::create_dir_all(&args.out)
        .map_err(|error| format!("cannot create {}: {error}", args.out.display()))?;
    let script = args.out.join("rotation.sql");
    std::fs::write(&script, crate::sql::rotation_script())
        .map_err(|error| format!("cannot write {}: {error}", script.display()))?;
    let mut db_ceiling = Vec::new();
    let mut clients: Vec<usize> = args
        .levels
        .iter()
        .map(|level| (*level).min(args.pgbench_max_clients))
        .collect();
    clients.dedup();
    postgres.prepare_rotation(clients.iter().copied().max().unwrap_or(1))?;
    for &count in &clients {
        let result = postgres.pgbench(&script, count, args.duration.max(Duration::from_secs(1)))?;
        progress(&format!(
            "pgbench       {:>3} conns {:>9.1} tx/s   avg {:>6.2} ms  failed {}",
            result.clients,
            result.transactions_per_second,
            result.latency_average_ms,
            result.failed
        ));
        db_ceiling.push(result);
    }

    for scenario in [Scenario::Refresh] {
        if scenario == Scenario::Verify && !verify_available {
            continue;
        }
        for &level in &args.levels {
            scenarios.push(measure(&mut pool, scenario, level, phases, pid, ticks).await?);
        }
    }

    progress("Argon2 ceiling: raw hashes, 1 to nproc threads");
    let params = argon2::Params::default();
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let duration = args.duration.max(Duration::from_secs(1));
    let mut by_threads = Vec::new();
    for threads in 1..=cpus {
        let hash_params = params.clone();
        let rate = tokio::task::spawn_blocking(move || {
            ceiling::argon2_hashes_per_second(hash_params, threads, duration)
        })
        .await
        .map_err(|error| error.to_string())??;
        progress(&format!(
            "argon2        {threads} threads {rate:.1} hashes/s"
        ));
        by_threads.push((threads, rate));
    }
    let (threads, hashes_per_second) = by_threads
        .iter()
        .copied()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((1, 0.0));
    let argon2 = Argon2Ceiling {
        by_threads,
        threads,
        memory_kib: params.m_cost(),
        iterations: params.t_cost(),
        parallelism: params.p_cost(),
        hashes_per_second,
    };

    for scenario in [Scenario::Login] {
        if scenario == Scenario::Verify && !verify_available {
            continue;
        }
        for &level in &args.levels {
            scenarios.push(measure(&mut pool, scenario, level, phases, pid, ticks).await?);
        }
    }

    progress("login flood: me alone, then me while users log in");
    let alone = measure(
        &mut pool,
        Scenario::Me,
        args.flood_me_users,
        phases,
        pid,
        ticks,
    )
    .await?;
    let me_users: Vec<VirtualUser> = pool.drain(..args.flood_me_users.min(pool.len())).collect();
    let login_users: Vec<VirtualUser> = pool
        .drain(..args.flood_login_users.min(pool.len()))
        .collect();
    let (groups, cells) = load::run(
        vec![
            Group {
                scenario: Scenario::Me,
                users: me_users,
            },
            Group {
                scenario: Scenario::Login,
                users: login_users,
            },
        ],
        phases,
        Some(pid),
        ticks,
    )
    .await?;
    for group in groups.into_iter().rev() {
        pool.splice(0..0, group.users);
    }
    let mut cells = cells.into_iter();
    let (Some(me), Some(login)) = (cells.next(), cells.next()) else {
        return Err("the flood returned no cells".to_owned());
    };
    progress(&format!("{} (during the flood)", describe(&me)));
    progress(&describe(&login));
    let flood = Flood { alone, me, login };

    progress(&format!(
        "large table: refresh before and after inserting {} sessions",
        args.bulk_sessions
    ));
    let sessions_before = postgres.count("sessions")?;
    let before = measure(
        &mut pool,
        Scenario::Refresh,
        args.bulk_users,
        phases,
        pid,
        ticks,
    )
    .await?;
    let insert = postgres.bulk_sessions(args.bulk_sessions)?;
    let sessions_after = postgres.count("sessions")?;
    progress(&format!(
        "inserted {} sessions in {:.1} s ({sessions_after} now)",
        args.bulk_sessions,
        insert.as_secs_f64()
    ));
    let after = measure(
        &mut pool,
        Scenario::Refresh,
        args.bulk_users,
        phases,
        pid,
        ticks,
    )
    .await?;
    let bulk = Bulk {
        sessions_before,
        sessions_after,
        insert_seconds: insert.as_secs_f64(),
        before,
        after,
    };

    // Idle again: let connections close and the blocking pool's threads retire.
    drop(pool);
    tokio::time::sleep(Duration::from_secs(if args.quick { 2 } else { 12 })).await;
    let end = procfs::sample(pid).map_err(|error| format!("cannot read /proc/{pid}: {error}"))?;

    let results = Results {
        machine: procfs::machine(),
        run_date: args.run_date.clone(),
        quick: args.quick,
        levels: args.levels.clone(),
        warmup_seconds: phases.warmup.as_secs_f64(),
        measure_seconds: phases.measure.as_secs_f64(),
        server_settings: args.server_settings.clone(),
        verify_available,
        scenarios,
        http_ceiling,
        db_ceiling,
        argon2,
        flood,
        bulk,
        load_average_start,
        load_average_end: procfs::load_average(),
        idle_rss_start_mib,
        idle_rss_end_mib: end.rss_kib as f64 / 1024.0,
        peak_rss_mib: end.peak_rss_kib as f64 / 1024.0,
        wall_seconds: started.elapsed().as_secs_f64(),
    };
    let markdown = report::markdown(&results);
    let report_path = args.out.join("report.md");
    std::fs::write(&report_path, &markdown)
        .map_err(|error| format!("cannot write {}: {error}", report_path.display()))?;
    let json = serde_json::to_string_pretty(&results).map_err(|error| error.to_string())?;
    let json_path = args.out.join("results.json");
    std::fs::write(&json_path, json)
        .map_err(|error| format!("cannot write {}: {error}", json_path.display()))?;
    progress(&format!(
        "wrote {} and {}",
        report_path.display(),
        json_path.display()
    ));
    Ok(results)
}
