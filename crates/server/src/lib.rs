//! The `tessera` program as a library, so tests start the real server in-process:
//! settings, wiring, the subcommands and the background purge.

pub mod commands;
pub mod housekeeping;
pub mod settings;
pub mod startup;
pub mod telemetry;

pub use settings::{Settings, Sources};
pub use startup::{Application, Components};
