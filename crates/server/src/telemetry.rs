//! Logging: tracing, pretty for people or JSON for collectors. `RUST_LOG` filters
//! (default `info`). `serve` logs to stdout; the other subcommands log to stderr so
//! that their stdout is only their result (`tessera audit | grep ...`).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

use crate::settings::LogFormat;

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogOutput {
    Stdout,
    Stderr,
}

/// Installs the global subscriber once; later calls (tests) are no-ops.
pub fn init(format: LogFormat, output: LogOutput) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let writer = match output {
        LogOutput::Stdout => BoxMakeWriter::new(std::io::stdout),
        LogOutput::Stderr => BoxMakeWriter::new(std::io::stderr),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let _already_set = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
