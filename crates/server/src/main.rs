//! `tessera`: the one binary. See `tessera --help`.

use clap::Parser;
use tessera_server::commands::{Cli, run};

#[actix_web::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(error) = run(cli).await {
        eprintln!("error: {error}");
        std::process::exit(error.exit_code());
    }
}
