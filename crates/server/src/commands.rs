//! The subcommands of `tessera`.

use std::io::BufRead;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use tessera_domain::{ClientContext, EmailAddress, Password, Role};

use crate::settings::Sources;
use crate::startup::{Application, Components};
use crate::telemetry;

/// Tessera: sessions for API clients with rotating refresh tokens.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about)]
pub struct Cli {
    /// A TOML file of settings; `TESSERA_*` environment variables override it.
    #[arg(long, global = true, env = "TESSERA_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply migrations and serve the HTTP API.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from the first line of standard input.
    Create(CreateUser),
}

#[derive(Debug, Args)]
pub struct CreateUser {
    #[arg(long)]
    pub email: String,
    /// A role to grant; repeat for several. Default: user.
    #[arg(long = "role")]
    pub roles: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the settings and print them (secrets redacted).
    Check,
}

/// What went wrong, and the process exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("invalid configuration: {0}")]
    Config(#[from] tessera_domain::InvalidSetting),
    #[error("invalid input: {0}")]
    Input(#[from] tessera_domain::InvalidInput),
    #[error("{0}")]
    Failed(String),
}

impl CommandError {
    pub const fn exit_code(&self) -> i32 {
        match self {
            Self::Config(_) | Self::Input(_) => 2,
            Self::Failed(_) => 1,
        }
    }
}

fn failed(error: impl std::fmt::Display) -> CommandError {
    CommandError::Failed(error.to_string())
}

/// Runs one subcommand to completion.
///
/// # Errors
/// Invalid settings or input, or a failed operation.
pub async fn run(cli: Cli) -> Result<(), CommandError> {
    let sources = Sources::load(cli.config.as_deref(), std::env::vars())?;
    let settings = sources.settings()?;
    match cli.command {
        Command::Config(ConfigCommand::Check) => {
            #[allow(clippy::print_stdout)]
            {
                println!("{settings:#?}");
                println!("configuration is valid");
            }
            Ok(())
        }
        Command::Serve => {
            telemetry::init(settings.log_format);
            let application = Application::build(&settings).await.map_err(failed)?;
            let base = format!("http://{}:{}", settings.bind.ip(), application.port());
            tracing::info!(api = %base, docs = %format!("{base}/docs/"), "tessera is serving");
            #[allow(clippy::print_stdout)]
            {
                println!("Tessera API:  {base}/v1/auth/...");
                println!("API docs:     {base}/docs/");
            }
            application.run_until_stopped().await.map_err(failed)
        }
        Command::Migrate => {
            telemetry::init(settings.log_format);
            let database = tessera_infra_diesel::Database::connect(
                settings.database_url.expose(),
                settings.database_pool_size,
            )
            .map_err(failed)?;
            let applied = database.run_pending_migrations().await.map_err(failed)?;
            #[allow(clippy::print_stdout)]
            {
                println!("{} migration(s) applied", applied.len());
            }
            Ok(())
        }
        Command::User(UserCommand::Create(create)) => {
            telemetry::init(settings.log_format);
            let email = EmailAddress::parse(&create.email)?;
            let roles = if create.roles.is_empty() {
                vec![Role::user()]
            } else {
                create
                    .roles
                    .iter()
                    .map(|role| Role::parse(role))
                    .collect::<Result<_, _>>()?
            };
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(failed)?;
            let password = Password::new(line.trim_end_matches(['\r', '\n']))?;
            let components = Components::build(&settings).await.map_err(failed)?;
            let operator = ClientContext {
                ip: None,
                user_agent: Some("tessera user create".to_owned()),
            };
            let user = components
                .service
                .create_user(email, password, roles, &operator)
                .await
                .map_err(failed)?;
            #[allow(clippy::print_stdout)]
            {
                println!("created user {} ({})", user.id, user.email);
            }
            Ok(())
        }
    }
}
