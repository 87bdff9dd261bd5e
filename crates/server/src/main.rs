//! `tessera`: the one binary. See `tessera --help`.

use clap::Parser;
use tessera_server::commands::{Cli, run};

/// jemalloc instead of glibc's malloc. Each Argon2 hash takes 19 MiB; glibc's dynamic
/// mmap threshold moves such blocks into per-thread arenas that keep them, so the
/// server grew to 1.1 GiB resident under a login load and stayed near 400 MiB when
/// idle (docs/performance.md). jemalloc reuses them while busy and returns them after
/// its decay time: 31 MiB after the same load, 29 MiB idle.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[actix_web::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(error) = run(cli).await {
        eprintln!("error: {error}");
        std::process::exit(error.exit_code());
    }
}
