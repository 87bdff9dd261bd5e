//! `tessera-loadgen`: the load generator of `make bench` (issue 9), the minimal
//! actix-web server that is the HTTP ceiling, and the Argon2 ceiling.

mod bench;
mod ceiling;
mod load;
mod procfs;
mod report;
mod sql;
mod vu;

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::load::{Group, Phases, Scenario};
use crate::vu::{Endpoints, Outcome, VirtualUser};

#[derive(Debug, Parser)]
// A flag given twice takes its last value, so `make bench BENCH_ARGS=...` can override
// what scripts/bench.sh passes.
#[command(
    version,
    about = "Load generator and ceilings for Tessera's benchmark",
    args_override_self = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The whole benchmark against a running tessera (what `make bench` runs).
    Bench(Box<bench::BenchArgs>),
    /// One scenario at one level, e.g. under a profiler.
    Drive {
        #[arg(long)]
        target: String,
        #[arg(long, value_enum)]
        scenario: Scenario,
        #[arg(long, default_value_t = 8)]
        users: usize,
        #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
        duration: Duration,
        #[arg(long, value_parser = humantime::parse_duration, default_value = "1s")]
        warmup: Duration,
        /// The server's process id, for its CPU time and memory.
        #[arg(long)]
        server_pid: Option<u32>,
        /// The ceiling server's base URL (scenario `ceiling`).
        #[arg(long)]
        ceiling: Option<String>,
    },
    /// The HTTP ceiling: a minimal actix-web handler; prints the bound address.
    CeilingServer {
        #[arg(long, default_value = "127.0.0.1:0")]
        bind: SocketAddr,
    },
    /// The login ceiling: raw Argon2id hashes per second at the default parameters.
    Argon2 {
        #[arg(long)]
        threads: Option<usize>,
        #[arg(long, value_parser = humantime::parse_duration, default_value = "5s")]
        duration: Duration,
    },
    /// Prints a free loopback port.
    FreePort,
}

/// This binary's result goes to stdout; progress goes to stderr.
fn print(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        stdout.write_all(b"\n")?;
    }
    stdout.flush()
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())
}

async fn drive(
    target: &str,
    scenario: Scenario,
    users: usize,
    phases: Phases,
    server_pid: Option<u32>,
    ceiling: Option<&str>,
) -> Result<String, String> {
    let endpoints = Arc::new(Endpoints::new(target, ceiling));
    let mut pool = Vec::with_capacity(users);
    for index in 0..users {
        let mut user = VirtualUser::new(
            endpoints.clone(),
            "drive.example.com",
            index,
            "drive-password",
        )
        .map_err(|error| error.to_string())?;
        if user.register().await != Outcome::Ok || user.login().await != Outcome::Ok {
            return Err(format!("user {index} could not register and log in"));
        }
        pool.push(user);
    }
    let ticks = procfs::clock_ticks_per_second();
    let (_groups, cells) = load::run(
        vec![Group {
            scenario,
            users: pool,
        }],
        phases,
        server_pid,
        ticks,
    )
    .await?;
    serde_json::to_string_pretty(&cells).map_err(|error| error.to_string())
}

fn execute(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Bench(args) => {
            let results = runtime()?.block_on(bench::run(*args))?;
            print(&report::markdown(&results)).map_err(|error| error.to_string())
        }
        Command::Drive {
            target,
            scenario,
            users,
            duration,
            warmup,
            server_pid,
            ceiling,
        } => {
            let phases = Phases {
                warmup,
                measure: duration,
            };
            let json = runtime()?.block_on(drive(
                &target,
                scenario,
                users,
                phases,
                server_pid,
                ceiling.as_deref(),
            ))?;
            print(&json).map_err(|error| error.to_string())
        }
        Command::CeilingServer { bind } => ceiling::serve(bind).map_err(|error| error.to_string()),
        Command::Argon2 { threads, duration } => {
            let threads = threads.unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
            });
            let rate =
                ceiling::argon2_hashes_per_second(argon2::Params::default(), threads, duration)?;
            print(&format!("{rate:.1} hashes/s on {threads} threads"))
                .map_err(|error| error.to_string())
        }
        Command::FreePort => {
            let listener =
                std::net::TcpListener::bind("127.0.0.1:0").map_err(|error| error.to_string())?;
            let port = listener
                .local_addr()
                .map_err(|error| error.to_string())?
                .port();
            print(&port.to_string()).map_err(|error| error.to_string())
        }
    }
}

fn main() -> ExitCode {
    match execute(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tessera-loadgen: {error}");
            ExitCode::FAILURE
        }
    }
}
