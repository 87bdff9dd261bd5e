//! The subcommands of `tessera`. Operator commands act as [`Actor::Operator`] with the
//! user agent `tessera <command>`, so the audit trail shows where a change came from.
//!
//! Arguments are validated by clap into domain types: a malformed e-mail, duration or
//! number exits with code 2 and names the argument before anything is touched.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use chrono::{SecondsFormat, TimeDelta};
use clap::{Args, Parser, Subcommand};
use tessera_application::ports::Clock;
use tessera_application::{Actor, AuditRecord, Error};
use tessera_domain::{ClientContext, EmailAddress, Password, Role};
use tessera_infra_crypto::SystemClock;

use crate::settings::{Settings, Sources};
use crate::startup::{Application, Components};
use crate::telemetry::{self, LogOutput};

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
    /// Housekeeping of sessions.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Print audit events, newest first.
    ///
    /// One event per line, tab-separated: time (RFC 3339), kind, user id, session id,
    /// IP, code, actor (`-` where there is none).
    Audit(AuditArgs),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Resource-server clients of `/oauth/introspect`.
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Manage the keys that sign access tokens.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a signing key of `signing_alg` and retire the others: nodes sign with the
    /// new key once they reload (every `signing_key_reload_interval`); tokens signed
    /// by a retired key verify until they expire, then the key leaves the JWKS.
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from the first line of standard input.
    Create(CreateUser),
    /// Disable a user: every session ends, refresh answers `user_disabled`, login is
    /// refused.
    Disable(UserByEmail),
    /// Re-enable a disabled user: they can log in again; ended sessions stay ended.
    Enable(UserByEmail),
}

#[derive(Debug, Args)]
pub struct CreateUser {
    #[arg(long, value_parser = email)]
    pub email: EmailAddress,
    /// A role to grant; repeat for several. Default: user.
    #[arg(long = "role", value_parser = role)]
    pub roles: Vec<Role>,
}

#[derive(Debug, Args)]
pub struct UserByEmail {
    /// The user's e-mail address.
    #[arg(value_name = "EMAIL", value_parser = email)]
    pub email: EmailAddress,
}

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// Delete ended sessions (with their refresh tokens) and audit events older than
    /// `audit_retention`, once. `serve` does this every `purge_interval`.
    Purge,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only the events of this user.
    #[arg(long, value_name = "EMAIL", value_parser = email)]
    pub user: Option<EmailAddress>,
    /// How far back to look, as a duration such as 30m, 24h or 7d.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = lookback)]
    pub since: TimeDelta,
    /// At most this many events (the newest).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub limit: u32,
}

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Print the Argon2id hash of a client secret, for `introspection_clients`
    /// (`<client_id>:<hash>`). The secret is the first line of standard input; with
    /// `--generate`, a random 32-byte secret is made and printed first.
    HashSecret(HashSecretArgs),
}

#[derive(Debug, Args)]
pub struct HashSecretArgs {
    /// Generate a random secret instead of reading one.
    #[arg(long)]
    pub generate: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the settings and print them (secrets redacted).
    Check,
}

fn email(text: &str) -> Result<EmailAddress, tessera_domain::InvalidInput> {
    EmailAddress::parse(text)
}

fn role(text: &str) -> Result<Role, tessera_domain::InvalidInput> {
    Role::parse(text)
}

fn lookback(text: &str) -> Result<TimeDelta, String> {
    let duration = humantime::parse_duration(text)
        .map_err(|error| format!("must be a duration such as 30m, 24h or 7d ({error})"))?;
    TimeDelta::from_std(duration).map_err(|_| "is too long".to_owned())
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

/// An unknown user is the operator's mistake, said plainly; other errors as they are.
fn user_error(email: &EmailAddress) -> impl Fn(Error) -> CommandError + '_ {
    move |error| match error {
        Error::NotFound("user") => CommandError::Failed(format!("no user has the e-mail {email}")),
        other => failed(other),
    }
}

/// The client context of an operator command, for the audit trail.
fn operator(command: &str) -> ClientContext {
    ClientContext {
        ip: None,
        user_agent: Some(format!("tessera {command}")),
    }
}

/// Writes the result lines of a command. A closed pipe (`tessera audit | head`) is
/// not an error.
fn print(lines: impl IntoIterator<Item = String>) -> Result<(), CommandError> {
    let mut stdout = std::io::stdout().lock();
    let written = lines
        .into_iter()
        .try_for_each(|line| writeln!(stdout, "{line}"))
        .and_then(|()| stdout.flush());
    match written {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(failed(error)),
        _ => Ok(()),
    }
}

/// Runs one subcommand to completion.
///
/// # Errors
/// Invalid settings or input, or a failed operation.
pub async fn run(cli: Cli) -> Result<(), CommandError> {
    let sources = Sources::load(cli.config.as_deref(), std::env::vars())?;
    let settings = sources.settings()?;
    // Besides `serve`, stdout carries only the command's result; logs go to stderr.
    let output = match cli.command {
        Command::Serve => LogOutput::Stdout,
        _ => LogOutput::Stderr,
    };
    telemetry::init(settings.log_format, output);
    match cli.command {
        Command::Serve => serve(&settings).await,
        Command::Config(ConfigCommand::Check) => print([
            format!("{settings:#?}"),
            "configuration is valid".to_owned(),
        ]),
        Command::Migrate => migrate(&settings).await,
        Command::User(UserCommand::Create(create)) => create_user(&settings, create).await,
        Command::User(UserCommand::Disable(user)) => {
            set_disabled(&settings, &user.email, true).await
        }
        Command::User(UserCommand::Enable(user)) => {
            set_disabled(&settings, &user.email, false).await
        }
        Command::Sessions(SessionsCommand::Purge) => purge(&settings).await,
        Command::Audit(audit) => audit_trail(&settings, audit).await,
        Command::Clients(ClientsCommand::HashSecret(args)) => hash_secret(&args).await,
        Command::Keys(KeysCommand::Rotate) => rotate_keys(&settings).await,
    }
}

async fn serve(settings: &Settings) -> Result<(), CommandError> {
    let application = Application::build(settings).await.map_err(failed)?;
    let base = format!("http://{}:{}", settings.bind.ip(), application.port());
    tracing::info!(api = %base, docs = %format!("{base}/docs/"), "tessera is serving");
    print([
        format!("Tessera API:  {base}/v1/auth/..."),
        format!("API docs:     {base}/docs/"),
        format!("Demo page:    {base}/demo"),
    ])?;
    application.run_until_stopped().await.map_err(failed)
}

async fn hash_secret(args: &HashSecretArgs) -> Result<(), CommandError> {
    use tessera_application::ports::PasswordHasher as _;
    let (secret, generated) = if args.generate {
        (tessera_infra_crypto::generate_client_secret(), true)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(failed)?;
        (line.trim_end_matches(['\r', '\n']).to_owned(), false)
    };
    let secret = Password::new(secret).map_err(|_| {
        CommandError::Input(tessera_domain::InvalidInput {
            field: "secret",
            message: "must be 8 to 128 characters",
        })
    })?;
    let hasher = tessera_infra_crypto::Argon2PasswordHasher::new(
        tessera_infra_crypto::PasswordHashingSettings::default(),
    )?;
    let hash = hasher.hash(&secret).await.map_err(failed)?;
    let mut lines = Vec::new();
    if generated {
        lines.push(secret.expose().to_owned());
    }
    lines.push(hash.as_str().to_owned());
    print(lines)
}

async fn migrate(settings: &Settings) -> Result<(), CommandError> {
    let database = tessera_infra_diesel::Database::connect(
        settings.database_url.expose(),
        settings.database_pool_size,
    )
    .map_err(failed)?;
    let applied = database.run_pending_migrations().await.map_err(failed)?;
    print([format!("{} migration(s) applied", applied.len())])
}

async fn create_user(settings: &Settings, create: CreateUser) -> Result<(), CommandError> {
    let roles = if create.roles.is_empty() {
        vec![Role::user()]
    } else {
        create.roles
    };
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(failed)?;
    let password = Password::new(line.trim_end_matches(['\r', '\n']))?;
    let components = Components::build(settings).await.map_err(failed)?;
    let user = components
        .service
        .create_user(create.email, password, roles, &operator("user create"))
        .await
        .map_err(failed)?;
    print([format!("created user {} ({})", user.id, user.email)])
}

async fn set_disabled(
    settings: &Settings,
    email: &EmailAddress,
    disabled: bool,
) -> Result<(), CommandError> {
    let components = Components::build(settings).await.map_err(failed)?;
    let service = &components.service;
    let user = service
        .user_by_email(email)
        .await
        .map_err(user_error(email))?;
    if disabled {
        let active = service
            .sessions_of_user(Actor::Operator, user.id)
            .await
            .map_err(user_error(email))?
            .len();
        service
            .set_user_disabled(Actor::Operator, user.id, true, &operator("user disable"))
            .await
            .map_err(user_error(email))?;
        print([format!(
            "disabled user {} ({email}): ended {active} active session(s); \
             refresh and login are refused until `tessera user enable`",
            user.id
        )])
    } else {
        service
            .set_user_disabled(Actor::Operator, user.id, false, &operator("user enable"))
            .await
            .map_err(user_error(email))?;
        print([format!(
            "enabled user {} ({email}): they can log in again",
            user.id
        )])
    }
}

async fn rotate_keys(settings: &Settings) -> Result<(), CommandError> {
    let components = Components::build(settings).await.map_err(failed)?;
    let key = tessera_application::rotate_signing_key(
        &tessera_infra_diesel::DieselSigningKeyRepository::new(components.database),
        &tessera_infra_crypto::RandomSigningKeyGenerator,
        settings.signing_alg,
        SystemClock.now(),
    )
    .await
    .map_err(failed)?;
    let retire_after = short_duration(settings.policy.access_ttl() + settings.clock_leeway);
    print([format!(
        "added signing key {} ({}); the previous keys are retired and leave the JWKS \
         {retire_after} from now",
        key.kid,
        key.algorithm.as_str()
    )])
}

async fn purge(settings: &Settings) -> Result<(), CommandError> {
    let components = Components::build(settings).await.map_err(failed)?;
    let report = components.service.purge().await.map_err(failed)?;
    let retention = short_duration(settings.audit_retention);
    print([format!(
        "purged {} ended session(s) and {} audit event(s) (audit_retention {retention})",
        report.sessions, report.audit_events
    )])
}

/// `90d`, `36h`, `15m`, `10s` or `500ms`: the largest unit that divides it, as a
/// setting would be written (humantime would print `2months 29days 2h 52m 48s`).
fn short_duration(duration: TimeDelta) -> String {
    let units = [
        (TimeDelta::days(1), "d"),
        (TimeDelta::hours(1), "h"),
        (TimeDelta::minutes(1), "m"),
        (TimeDelta::seconds(1), "s"),
    ];
    let millis = duration.num_milliseconds();
    units
        .iter()
        .find(|(unit, _)| millis % unit.num_milliseconds() == 0)
        .map_or_else(
            || format!("{millis}ms"),
            |(unit, suffix)| format!("{}{suffix}", millis / unit.num_milliseconds()),
        )
}

async fn audit_trail(settings: &Settings, audit: AuditArgs) -> Result<(), CommandError> {
    let now = SystemClock.now();
    let since = now
        .checked_sub_signed(audit.since)
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
    let components = Components::build(settings).await.map_err(failed)?;
    let limit = usize::try_from(audit.limit).map_err(failed)?;
    let records = match &audit.user {
        Some(email) => components
            .service
            .audit_trail(Some(email), since, limit)
            .await
            .map_err(user_error(email))?,
        None => components
            .service
            .audit_trail(None, since, limit)
            .await
            .map_err(failed)?,
    };
    if records.is_empty() {
        eprintln!(
            "no audit events since {}",
            since.to_rfc3339_opts(SecondsFormat::Secs, true)
        );
    }
    print(records.iter().map(audit_line))
}

/// One event as a tab-separated line; `-` for what is missing.
fn audit_line(record: &AuditRecord) -> String {
    fn or_dash(value: Option<impl ToString>) -> String {
        value.map_or_else(|| "-".to_owned(), |value| value.to_string())
    }
    [
        record.at.to_rfc3339_opts(SecondsFormat::Millis, true),
        record.kind.clone(),
        or_dash(record.user_id),
        or_dash(record.session_id),
        or_dash(record.ip.as_deref()),
        or_dash(record.code.as_deref()),
        or_dash(record.actor),
    ]
    .join("\t")
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use clap::error::ErrorKind;

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("tessera").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn user_disable_and_enable_take_an_email() {
        let cli = parse(&["user", "disable", "Ada@Example.com"]).unwrap();
        let Command::User(UserCommand::Disable(user)) = cli.command else {
            panic!("not user disable: {cli:?}");
        };
        assert_eq!(user.email.to_string(), "ada@example.com");
        let cli = parse(&["user", "enable", "ada@example.com"]).unwrap();
        assert!(matches!(cli.command, Command::User(UserCommand::Enable(_))));
    }

    #[test]
    fn a_malformed_email_is_a_usage_error_that_names_it() {
        let error = parse(&["user", "disable", "not-an-address"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ValueValidation);
        assert_eq!(error.exit_code(), 2);
        assert!(
            error.to_string().contains("must be an e-mail address"),
            "{error}"
        );
        let error = parse(&["audit", "--user", "nobody"]).unwrap_err();
        assert_eq!(error.exit_code(), 2);
    }

    #[test]
    fn audit_defaults_to_the_last_day_and_a_hundred_events() {
        let cli = parse(&["audit"]).unwrap();
        let Command::Audit(audit) = cli.command else {
            panic!("not audit: {cli:?}");
        };
        assert_eq!(audit.user, None);
        assert_eq!(audit.since, TimeDelta::hours(24));
        assert_eq!(audit.limit, 100);
    }

    #[test]
    fn clients_hash_secret_parses_with_and_without_generate() {
        let cli = parse(&["clients", "hash-secret", "--generate"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Clients(ClientsCommand::HashSecret(HashSecretArgs {
                generate: true
            }))
        ));
        let cli = parse(&["clients", "hash-secret"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Clients(ClientsCommand::HashSecret(HashSecretArgs {
                generate: false
            }))
        ));
    }

    #[test]
    fn audit_takes_a_user_a_humantime_since_and_a_limit() {
        let cli = parse(&[
            "audit",
            "--user",
            "ada@example.com",
            "--since",
            "1h 30m",
            "--limit",
            "5",
        ])
        .unwrap();
        let Command::Audit(audit) = cli.command else {
            panic!("not audit: {cli:?}");
        };
        assert_eq!(audit.user.unwrap().to_string(), "ada@example.com");
        assert_eq!(audit.since, TimeDelta::minutes(90));
        assert_eq!(audit.limit, 5);
    }

    #[test]
    fn a_bad_duration_or_limit_is_a_usage_error_that_names_it() {
        let error = parse(&["audit", "--since", "yesterday"]).unwrap_err();
        assert_eq!(error.exit_code(), 2);
        let message = error.to_string();
        assert!(message.contains("--since"), "{message}");
        assert!(message.contains("must be a duration"), "{message}");
        let error = parse(&["audit", "--limit", "0"]).unwrap_err();
        assert_eq!(error.exit_code(), 2);
        assert!(error.to_string().contains("--limit"), "{error}");
    }

    #[test]
    fn keys_rotate_parses() {
        let cli = parse(&["keys", "rotate"]).unwrap();
        assert!(matches!(cli.command, Command::Keys(KeysCommand::Rotate)));
    }

    #[test]
    fn sessions_purge_and_user_create_parse() {
        let cli = parse(&["sessions", "purge"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Sessions(SessionsCommand::Purge)
        ));
        let cli = parse(&[
            "user",
            "create",
            "--email",
            "ops@example.com",
            "--role",
            "admin",
        ])
        .unwrap();
        let Command::User(UserCommand::Create(create)) = cli.command else {
            panic!("not user create: {cli:?}");
        };
        assert_eq!(create.roles, vec![Role::admin()]);
        let error = parse(&["user", "create", "--email", "a@b.c", "--role", "Admin!"]).unwrap_err();
        assert_eq!(error.exit_code(), 2);
    }

    #[test]
    fn an_audit_line_has_seven_tab_separated_columns_with_dashes_for_gaps() {
        let record = AuditRecord {
            at: chrono::DateTime::parse_from_rfc3339("2025-11-26T10:00:00.250Z")
                .unwrap()
                .to_utc(),
            kind: "user_disabled".to_owned(),
            user_id: None,
            session_id: None,
            ip: Some("203.0.113.7".to_owned()),
            user_agent: Some("tessera user disable".to_owned()),
            code: None,
            actor: None,
        };
        assert_eq!(
            audit_line(&record),
            "2025-11-26T10:00:00.250Z\tuser_disabled\t-\t-\t203.0.113.7\t-\t-"
        );
    }

    #[test]
    fn durations_print_as_a_setting_is_written() {
        assert_eq!(short_duration(TimeDelta::days(90)), "90d");
        assert_eq!(short_duration(TimeDelta::hours(36)), "36h");
        assert_eq!(short_duration(TimeDelta::seconds(90)), "90s");
        assert_eq!(short_duration(TimeDelta::milliseconds(1500)), "1500ms");
    }

    #[test]
    fn exit_codes_tell_bad_input_from_failure() {
        let input = CommandError::from(EmailAddress::parse("nope").unwrap_err());
        assert_eq!(input.exit_code(), 2);
        let setting = CommandError::from(tessera_domain::InvalidSetting::new("bind", "is bad"));
        assert_eq!(setting.exit_code(), 2);
        let email = EmailAddress::parse("ghost@example.com").unwrap();
        let unknown = user_error(&email)(Error::NotFound("user"));
        assert_eq!(unknown.exit_code(), 1);
        assert_eq!(
            unknown.to_string(),
            "no user has the e-mail ghost@example.com"
        );
    }
}
