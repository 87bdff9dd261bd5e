//! Settings: a TOML file plus `TESSERA_*` environment variables (the environment
//! wins), parsed once and validated into types. Every error names its setting.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use chrono::TimeDelta;
use tessera_application::{IntrospectionClients, SigningAlgorithm};
use tessera_domain::{
    InvalidSetting, IpChangePolicy, SessionPolicy, SessionPolicySettings, ThrottlePolicy,
    ThrottleSettings,
};

/// Every setting Tessera reads, with its default. The TOML key is the name; the
/// environment variable is `TESSERA_` + the name in upper case.
const SETTINGS: &[(&str, Option<&str>)] = &[
    ("bind", Some("127.0.0.1:8080")),
    ("database_url", Some("sqlite://data/tessera.db")),
    ("database_pool_size", Some("10")),
    ("redis_url", None),
    ("redis_prefix", Some("tessera:")),
    ("access_ttl", Some("15m")),
    ("idle_timeout", Some("7d")),
    ("absolute_lifetime", Some("30d")),
    ("reuse_grace", Some("10s")),
    ("issuer", Some("http://127.0.0.1:8080")),
    ("audience", Some("tessera")),
    ("registration", Some("open")),
    ("log_format", Some("pretty")),
    ("signing_alg", Some("EdDSA")),
    ("clock_leeway", Some("30s")),
    ("bind_user_agent", Some("false")),
    ("ip_change", Some("allow")),
    ("activity_write_interval", Some("60s")),
    ("rate_limit", Some("on")),
    ("rate_limit_login_per_minute", Some("10")),
    ("rate_limit_login_burst", Some("20")),
    ("rate_limit_refresh_per_minute", Some("60")),
    ("rate_limit_refresh_burst", Some("30")),
    ("login_backoff_free_failures", Some("5")),
    ("login_backoff_base", Some("1s")),
    ("login_backoff_max", Some("15m")),
    ("login_backoff_window", Some("1h")),
    ("trusted_proxies", None),
    ("token_pepper", None),
    ("legacy_jwt_secret", None),
    ("shutdown_timeout", Some("30s")),
    ("purge_interval", Some("1h")),
    ("revocation_sync_interval", Some("5s")),
    ("signing_key_reload_interval", Some("30s")),
    ("audit_retention", Some("90d")),
    ("introspection_clients", None),
    ("metrics", Some("on")),
    ("metrics_token", None),
    ("cookie_secure", Some("true")),
    ("allowed_origins", None),
    ("access_cookie", Some("false")),
];

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// A secret setting: kept out of `Debug` and logs.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Validated settings, passed down by value.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: SocketAddr,
    /// May carry a password, hence secret.
    pub database_url: SecretString,
    pub database_pool_size: u32,
    /// The shared store of activity, revocations and throttle counters for several
    /// nodes; `None` → in memory, for one node.
    pub redis: Option<RedisSettings>,
    pub policy: SessionPolicy,
    pub issuer: String,
    pub audience: String,
    pub registration_open: bool,
    pub log_format: LogFormat,
    pub signing_alg: SigningAlgorithm,
    pub clock_leeway: TimeDelta,
    pub activity_write_interval: TimeDelta,
    /// Per-IP buckets and per-account login backoff; `None` when `rate_limit = off`.
    pub throttle: Option<ThrottlePolicy>,
    /// Reverse proxies whose `X-Forwarded-For` names the client; none by default.
    pub trusted_proxies: tessera_api_actix::TrustedProxies,
    /// The server pepper for refresh-token hashes; `None` → one kept in the database.
    pub token_pepper: Option<SecretString>,
    /// The former system's HS256 secret: its tokens stay valid until their `exp`.
    pub legacy_jwt_secret: Option<SecretString>,
    pub shutdown_timeout: std::time::Duration,
    /// How often `serve` deletes ended sessions and old audit events; `None` (`0s`)
    /// leaves it to `tessera sessions purge`, e.g. from cron on one node.
    pub purge_interval: Option<std::time::Duration>,
    /// How often revocations stored by other nodes or by `tessera user disable` are
    /// copied into this node's revocation list; `None` (`0s`) turns it off.
    pub revocation_sync_interval: Option<std::time::Duration>,
    /// How often `serve` reloads the signing keys from the database, to sign with a
    /// key `tessera keys rotate` added and drop keys no live token can carry; `None`
    /// (`0s`) turns it off.
    pub signing_key_reload_interval: Option<std::time::Duration>,
    /// How long audit events are kept; longer than zero.
    pub audit_retention: TimeDelta,
    /// Resource servers that may call `/oauth/introspect`, with their secrets' hashes.
    pub introspection_clients: IntrospectionClients,
    /// `GET /metrics` is served (`on`) or answers 404 (`off`).
    pub metrics: bool,
    /// When set, `GET /metrics` wants it as a bearer token.
    pub metrics_token: Option<SecretString>,
    /// `Secure` session cookies (off only for local http).
    pub cookie_secure: bool,
    /// Origins of other sites' pages that may call the API with credentials (CORS).
    pub allowed_origins: Vec<String>,
    /// Cookie transport also carries the access token, in an `HttpOnly` cookie.
    pub access_cookie: bool,
}

/// Where the nodes' shared Redis is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// May carry a password, hence secret.
    pub url: SecretString,
    /// Every key starts with it (`tessera:` by default).
    pub prefix: String,
}

/// Where settings come from: the file's values and the environment's.
#[derive(Debug, Default)]
pub struct Sources {
    values: BTreeMap<String, String>,
}

impl Sources {
    /// Reads `path` (if any) and then the given environment variables on top.
    ///
    /// # Errors
    /// An unreadable file, invalid TOML, or an unknown key in the file.
    pub fn load(
        path: Option<&Path>,
        environment: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, InvalidSetting> {
        let mut values = BTreeMap::new();
        if let Some(path) = path {
            let text = std::fs::read_to_string(path).map_err(|error| {
                InvalidSetting::new("config", format!("cannot read {}: {error}", path.display()))
            })?;
            let table: toml::Table = text.parse().map_err(|error| {
                InvalidSetting::new("config", format!("is not valid TOML: {error}"))
            })?;
            for (key, value) in table {
                let Some(name) = known(&key) else {
                    return Err(InvalidSetting::new(
                        "config",
                        format!("has an unknown setting `{key}`"),
                    ));
                };
                let text = match value {
                    toml::Value::String(text) => text,
                    toml::Value::Array(items) => items
                        .iter()
                        .map(|item| {
                            item.as_str()
                                .map_or_else(|| item.to_string(), str::to_owned)
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                    other => other.to_string(),
                };
                values.insert(name.to_owned(), text);
            }
        }
        for (key, value) in environment {
            let Some(rest) = key.strip_prefix("TESSERA_") else {
                continue;
            };
            if let Some(name) = known(&rest.to_ascii_lowercase()) {
                values.insert(name.to_owned(), value);
            }
        }
        Ok(Self { values })
    }

    fn raw(&self, name: &'static str) -> Option<&str> {
        self.values.get(name).map(String::as_str).or_else(|| {
            SETTINGS
                .iter()
                .find(|(key, _)| *key == name)
                .and_then(|(_, default)| *default)
        })
    }

    fn required(&self, name: &'static str) -> Result<&str, InvalidSetting> {
        self.raw(name)
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| InvalidSetting::new(name, "must be set"))
    }

    fn duration(&self, name: &'static str) -> Result<TimeDelta, InvalidSetting> {
        let text = self.required(name)?;
        let duration = humantime::parse_duration(text).map_err(|error| {
            InvalidSetting::new(
                name,
                format!("must be a duration such as 15m, 7d or 10s ({error})"),
            )
        })?;
        // Far beyond any sensible lifetime, and far from where instant arithmetic
        // overflows (a panic at the first login, not an error at start).
        const LONGEST: TimeDelta = TimeDelta::days(36_500);
        TimeDelta::from_std(duration)
            .ok()
            .filter(|duration| *duration <= LONGEST)
            .ok_or_else(|| InvalidSetting::new(name, "must be at most 100 years (36500d)"))
    }

    fn boolean(&self, name: &'static str) -> Result<bool, InvalidSetting> {
        match self.required(name)?.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(InvalidSetting::new(
                name,
                "must be true or false (or on/off)",
            )),
        }
    }

    /// A whole number, `name` in the error when it is not one.
    fn count(&self, name: &'static str) -> Result<u32, InvalidSetting> {
        self.required(name)?
            .parse()
            .map_err(|_| InvalidSetting::new(name, "must be a whole number"))
    }

    /// `rate_limit` (`on`/`off`) and the throttling tunables, validated either way so
    /// that `config check` finds a bad value before someone turns throttling on.
    fn throttle(&self) -> Result<Option<ThrottlePolicy>, InvalidSetting> {
        let policy = ThrottlePolicy::try_from(ThrottleSettings {
            login_per_minute: self.count("rate_limit_login_per_minute")?,
            login_burst: self.count("rate_limit_login_burst")?,
            refresh_per_minute: self.count("rate_limit_refresh_per_minute")?,
            refresh_burst: self.count("rate_limit_refresh_burst")?,
            login_backoff_free_failures: self.count("login_backoff_free_failures")?,
            login_backoff_base: self.duration("login_backoff_base")?,
            login_backoff_max: self.duration("login_backoff_max")?,
            login_backoff_window: self.duration("login_backoff_window")?,
        })?;
        Ok(self.boolean("rate_limit")?.then_some(policy))
    }

    /// `introspection_clients`: comma-separated `client_id:<Argon2id PHC hash>`.
    fn introspection_clients(&self) -> Result<IntrospectionClients, InvalidSetting> {
        const NAME: &str = "introspection_clients";
        let mut clients = IntrospectionClients::default();
        let Some(text) = self.raw(NAME) else {
            return Ok(clients);
        };
        // A PHC hash has commas of its own (`m=19456,t=2,p=1`): a piece without a `:`
        // continues the entry before it.
        let mut entries: Vec<String> = Vec::new();
        for piece in text.split(',') {
            match entries.last_mut() {
                Some(entry) if !piece.contains(':') => {
                    entry.push(',');
                    entry.push_str(piece);
                }
                _ => entries.push(piece.to_owned()),
            }
        }
        for entry in entries
            .iter()
            .map(|entry| entry.trim())
            .filter(|entry| !entry.is_empty())
        {
            let Some((id, hash)) = entry.split_once(':') else {
                return Err(InvalidSetting::new(
                    NAME,
                    "must be a comma-separated list of client_id:<Argon2id PHC hash> \
                     (see `tessera clients hash-secret`)",
                ));
            };
            let id = id.trim();
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            {
                return Err(InvalidSetting::new(
                    NAME,
                    "client ids must be non-empty and use only letters, digits, -, _ and .",
                ));
            }
            if clients.ids().any(|known| known == id) {
                return Err(InvalidSetting::new(
                    NAME,
                    format!("names client `{id}` twice"),
                ));
            }
            let hash = hash.trim();
            tessera_infra_crypto::check_argon2id_hash(hash).map_err(|reason| {
                InvalidSetting::new(
                    NAME,
                    format!("has an unusable secret hash for client `{id}`: {reason}"),
                )
            })?;
            clients = clients.with(id, tessera_domain::PasswordHash::new(hash.to_owned()));
        }
        Ok(clients)
    }

    /// `allowed_origins`: comma-separated `scheme://host[:port]`.
    fn allowed_origins(&self) -> Result<Vec<String>, InvalidSetting> {
        const NAME: &str = "allowed_origins";
        let Some(text) = self.raw(NAME) else {
            return Ok(Vec::new());
        };
        text.split(',')
            .filter(|origin| !origin.trim().is_empty())
            .map(|origin| {
                tessera_api_actix::parse_origin(origin).map_err(|why| {
                    InvalidSetting::new(NAME, format!("has `{}`: {why}", origin.trim()))
                })
            })
            .collect()
    }

    /// `redis_url` (unset → in memory) and `redis_prefix`, the prefix of every key, so
    /// that several deployments can share one Redis.
    fn redis(&self) -> Result<Option<RedisSettings>, InvalidSetting> {
        let prefix = self.required("redis_prefix")?;
        tessera_infra_activity::check_redis_prefix(prefix)
            .map_err(|why| InvalidSetting::new("redis_prefix", why))?;
        match self.raw("redis_url").map(str::trim) {
            None | Some("") => Ok(None),
            Some(url) => {
                tessera_infra_activity::check_redis_url(url)
                    .map_err(|why| InvalidSetting::new("redis_url", why))?;
                Ok(Some(RedisSettings {
                    url: SecretString(url.to_owned()),
                    prefix: prefix.to_owned(),
                }))
            }
        }
    }

    /// `metrics_token`: unset, or a bearer token scrapes must send.
    fn metrics_token(&self) -> Result<Option<SecretString>, InvalidSetting> {
        match self.raw("metrics_token").map(str::trim) {
            None | Some("") => Ok(None),
            Some(token) if token.len() >= 16 && token.bytes().all(|b| b.is_ascii_graphic()) => {
                Ok(Some(SecretString(token.to_owned())))
            }
            Some(_) => Err(InvalidSetting::new(
                "metrics_token",
                "must be at least 16 printable characters without spaces",
            )),
        }
    }

    /// Validates every setting into [`Settings`].
    ///
    /// # Errors
    /// The first invalid setting, by name.
    pub fn settings(&self) -> Result<Settings, InvalidSetting> {
        let policy = SessionPolicy::try_from(SessionPolicySettings {
            access_ttl: self.duration("access_ttl")?,
            idle_timeout: self.duration("idle_timeout")?,
            absolute_lifetime: self.duration("absolute_lifetime")?,
            reuse_grace: self.duration("reuse_grace")?,
            bind_user_agent: self.boolean("bind_user_agent")?,
            ip_change: self.required("ip_change")?.parse::<IpChangePolicy>()?,
        })?;
        let redis = self.redis()?;
        let activity_write_interval = self.duration("activity_write_interval")?;
        if activity_write_interval >= policy.idle_timeout() {
            return Err(InvalidSetting::new(
                "activity_write_interval",
                "must be shorter than idle_timeout",
            ));
        }
        let token_pepper = match self.raw("token_pepper").map(str::trim) {
            None | Some("") => None,
            Some(pepper) if pepper.len() < 32 => {
                return Err(InvalidSetting::new(
                    "token_pepper",
                    "must be at least 32 characters",
                ));
            }
            Some(pepper) => Some(SecretString(pepper.to_owned())),
        };
        let introspection_clients = self.introspection_clients()?;
        let throttle = self.throttle()?;
        Ok(Settings {
            redis,
            introspection_clients,
            metrics: self.boolean("metrics")?,
            metrics_token: self.metrics_token()?,
            cookie_secure: self.boolean("cookie_secure")?,
            allowed_origins: self.allowed_origins()?,
            access_cookie: self.boolean("access_cookie")?,
            bind: self.required("bind")?.parse().map_err(|_| {
                InvalidSetting::new("bind", "must be an address such as 127.0.0.1:8080")
            })?,
            database_url: {
                let url = self.required("database_url")?;
                tessera_infra_diesel::Database::check_url(url)?;
                SecretString(url.to_owned())
            },
            database_pool_size: self
                .required("database_pool_size")?
                .parse()
                .ok()
                .filter(|size| (1..=1000).contains(size))
                .ok_or_else(|| {
                    InvalidSetting::new("database_pool_size", "must be a number from 1 to 1000")
                })?,
            policy,
            issuer: self.required("issuer")?.to_owned(),
            audience: self.required("audience")?.to_owned(),
            registration_open: match self.required("registration")? {
                "open" => true,
                "closed" => false,
                _ => {
                    return Err(InvalidSetting::new(
                        "registration",
                        "must be open or closed",
                    ));
                }
            },
            log_format: match self.required("log_format")? {
                "pretty" => LogFormat::Pretty,
                "json" => LogFormat::Json,
                _ => return Err(InvalidSetting::new("log_format", "must be pretty or json")),
            },
            signing_alg: self.required("signing_alg")?.parse()?,
            clock_leeway: match self.duration("clock_leeway")? {
                leeway if leeway <= TimeDelta::minutes(5) => leeway,
                _ => {
                    return Err(InvalidSetting::new(
                        "clock_leeway",
                        "must be at most 5m: longer is a misconfiguration, not clock skew",
                    ));
                }
            },
            activity_write_interval,
            throttle,
            trusted_proxies: tessera_api_actix::TrustedProxies::parse(
                self.raw("trusted_proxies").unwrap_or_default(),
            )
            .map_err(|why| InvalidSetting::new("trusted_proxies", format!("has {why}")))?,
            token_pepper,
            legacy_jwt_secret: self
                .raw("legacy_jwt_secret")
                .map(str::trim)
                .filter(|secret| !secret.is_empty())
                .map(|secret| SecretString(secret.to_owned())),
            shutdown_timeout: self
                .duration("shutdown_timeout")?
                .to_std()
                .map_err(|_| InvalidSetting::new("shutdown_timeout", "must not be negative"))?,
            purge_interval: Some(
                self.duration("purge_interval")?
                    .to_std()
                    .map_err(|_| InvalidSetting::new("purge_interval", "must not be negative"))?,
            )
            .filter(|interval| !interval.is_zero()),
            revocation_sync_interval: Some(
                self.duration("revocation_sync_interval")?
                    .to_std()
                    .map_err(|_| {
                        InvalidSetting::new("revocation_sync_interval", "must not be negative")
                    })?,
            )
            .filter(|interval| !interval.is_zero()),
            signing_key_reload_interval: Some(
                self.duration("signing_key_reload_interval")?
                    .to_std()
                    .map_err(|_| {
                        InvalidSetting::new("signing_key_reload_interval", "must not be negative")
                    })?,
            )
            .filter(|interval| !interval.is_zero()),
            audit_retention: match self.duration("audit_retention")? {
                retention if retention > TimeDelta::zero() => retention,
                _ => {
                    return Err(InvalidSetting::new(
                        "audit_retention",
                        "must be longer than zero",
                    ));
                }
            },
        })
    }
}

fn known(key: &str) -> Option<&'static str> {
    SETTINGS
        .iter()
        .map(|(name, _)| *name)
        .find(|name| *name == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, InvalidSetting> {
        Sources::load(None, env(pairs))?.settings()
    }

    #[test]
    fn defaults_need_no_setup() {
        let settings = settings(&[]).unwrap();
        assert_eq!(settings.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(settings.database_url.expose(), "sqlite://data/tessera.db");
        assert_eq!(settings.policy, SessionPolicy::default());
        assert!(settings.registration_open);
        assert_eq!(settings.signing_alg, SigningAlgorithm::EdDsa);
        assert_eq!(settings.clock_leeway, TimeDelta::seconds(30));
        assert_eq!(
            settings.purge_interval,
            Some(std::time::Duration::from_secs(3600))
        );
        assert_eq!(settings.audit_retention, TimeDelta::days(90));
    }

    #[test]
    fn throttling_is_on_by_default_and_its_settings_are_validated_by_name() {
        assert_eq!(
            settings(&[]).unwrap().throttle,
            Some(ThrottlePolicy::default())
        );
        let off = settings(&[("TESSERA_RATE_LIMIT", "off")]).unwrap();
        assert_eq!(off.throttle, None);
        let tuned = settings(&[
            ("TESSERA_RATE_LIMIT_LOGIN_PER_MINUTE", "120"),
            ("TESSERA_RATE_LIMIT_LOGIN_BURST", "3"),
            ("TESSERA_LOGIN_BACKOFF_BASE", "500ms"),
            ("TESSERA_LOGIN_BACKOFF_MAX", "2s"),
        ])
        .unwrap()
        .throttle
        .unwrap();
        assert_eq!(tuned.credentials.capacity(), 3);
        assert_eq!(
            tuned.credentials.refill_interval(),
            TimeDelta::milliseconds(500)
        );
        assert_eq!(tuned.login_backoff.max(), TimeDelta::seconds(2));
        for (variable, value, setting) in [
            ("TESSERA_RATE_LIMIT", "sometimes", "rate_limit"),
            (
                "TESSERA_RATE_LIMIT_LOGIN_PER_MINUTE",
                "0",
                "rate_limit_login_per_minute",
            ),
            (
                "TESSERA_RATE_LIMIT_LOGIN_BURST",
                "lots",
                "rate_limit_login_burst",
            ),
            (
                "TESSERA_RATE_LIMIT_REFRESH_PER_MINUTE",
                "-1",
                "rate_limit_refresh_per_minute",
            ),
            (
                "TESSERA_RATE_LIMIT_REFRESH_BURST",
                "0",
                "rate_limit_refresh_burst",
            ),
            (
                "TESSERA_LOGIN_BACKOFF_FREE_FAILURES",
                "5000",
                "login_backoff_free_failures",
            ),
            ("TESSERA_LOGIN_BACKOFF_BASE", "0s", "login_backoff_base"),
            ("TESSERA_LOGIN_BACKOFF_MAX", "2d", "login_backoff_max"),
            ("TESSERA_LOGIN_BACKOFF_WINDOW", "1m", "login_backoff_window"),
        ] {
            let error = settings(&[(variable, value)]).unwrap_err();
            assert_eq!(error.setting(), setting, "{variable}={value}: {error}");
            // Checked even with throttling off, so `config check` catches it.
            let error = settings(&[("TESSERA_RATE_LIMIT", "off"), (variable, value)]);
            if variable != "TESSERA_RATE_LIMIT" {
                assert!(error.is_err(), "{variable}={value}");
            }
        }
    }

    #[test]
    fn trusted_proxies_are_none_by_default_and_a_bad_entry_is_named() {
        assert!(settings(&[]).unwrap().trusted_proxies.is_empty());
        let proxies = settings(&[("TESSERA_TRUSTED_PROXIES", "10.0.0.0/8, ::1")])
            .unwrap()
            .trusted_proxies;
        assert_eq!(proxies.to_string(), "10.0.0.0/8,::1/128");
        let error = settings(&[("TESSERA_TRUSTED_PROXIES", "10.0.0.0/8,lb.internal")]).unwrap_err();
        assert_eq!(error.setting(), "trusted_proxies");
        assert!(error.to_string().contains("lb.internal"), "{error}");
    }

    #[test]
    fn housekeeping_settings_are_read_from_the_environment() {
        let settings = settings(&[
            ("TESSERA_PURGE_INTERVAL", "200ms"),
            ("TESSERA_AUDIT_RETENTION", "30d"),
        ])
        .unwrap();
        assert_eq!(
            settings.purge_interval,
            Some(std::time::Duration::from_millis(200))
        );
        assert_eq!(settings.audit_retention, TimeDelta::days(30));
    }

    #[test]
    fn a_zero_purge_interval_disables_the_background_purge() {
        let settings = settings(&[("TESSERA_PURGE_INTERVAL", "0s")]).unwrap();
        assert_eq!(settings.purge_interval, None);
    }

    #[test]
    fn housekeeping_errors_name_their_setting() {
        let error = settings(&[("TESSERA_PURGE_INTERVAL", "hourly")]).unwrap_err();
        assert_eq!(error.setting(), "purge_interval");
        let error = settings(&[("TESSERA_AUDIT_RETENTION", "0s")]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "audit_retention must be longer than zero"
        );
        let error = settings(&[("TESSERA_AUDIT_RETENTION", "forever")]).unwrap_err();
        assert_eq!(error.setting(), "audit_retention");
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let dir = std::env::temp_dir().join(format!("tessera-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("tessera.toml");
        std::fs::write(
            &file,
            "access_ttl = \"5m\"\nidle_timeout = \"1h\"\nregistration = \"closed\"\n",
        )
        .unwrap();
        let sources = Sources::load(Some(&file), env(&[("TESSERA_ACCESS_TTL", "2m")])).unwrap();
        let settings = sources.settings().unwrap();
        assert_eq!(settings.policy.access_ttl(), TimeDelta::minutes(2));
        assert_eq!(settings.policy.idle_timeout(), TimeDelta::hours(1));
        assert!(!settings.registration_open);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn errors_name_the_setting() {
        let error = settings(&[("TESSERA_ACCESS_TTL", "8d")]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "access_ttl must be shorter than idle_timeout"
        );
        let error = settings(&[("TESSERA_IDLE_TIMEOUT", "soon")]).unwrap_err();
        assert_eq!(error.setting(), "idle_timeout");
        let error = settings(&[("TESSERA_BIND", "everywhere")]).unwrap_err();
        assert_eq!(error.setting(), "bind");
        let error = settings(&[("TESSERA_IP_CHANGE", "maybe")]).unwrap_err();
        assert_eq!(error.setting(), "ip_change");
        let error = settings(&[("TESSERA_SIGNING_ALG", "none")]).unwrap_err();
        assert_eq!(error.setting(), "signing_alg");
        let error = settings(&[("TESSERA_TOKEN_PEPPER", "short")]).unwrap_err();
        assert_eq!(error.setting(), "token_pepper");
    }

    #[test]
    fn durations_past_a_century_and_bad_urls_are_refused_at_start() {
        for (variable, setting) in [
            ("TESSERA_ABSOLUTE_LIFETIME", "absolute_lifetime"),
            ("TESSERA_AUDIT_RETENTION", "audit_retention"),
            ("TESSERA_PURGE_INTERVAL", "purge_interval"),
        ] {
            let error = settings(&[(variable, "300000000d")]).unwrap_err();
            assert_eq!(error.setting(), setting, "{error}");
        }
        let error = settings(&[("TESSERA_CLOCK_LEEWAY", "10m")]).unwrap_err();
        assert_eq!(error.setting(), "clock_leeway");
        let error = settings(&[("TESSERA_DATABASE_URL", "mysql://u:pw@h/x")]).unwrap_err();
        assert_eq!(error.setting(), "database_url");
        assert!(!error.to_string().contains("pw@"), "{error}");
    }

    /// The PHC hash of `client-secret-for-tests`.
    const SECRET_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$Bg0xM3czuGFmaTGBQlquXw$3lEpKTAwf/UHUIGvvWrWbAEpAiIOPlYFuwlJm5f/3CQ";

    #[test]
    fn introspection_clients_are_parsed_and_validated() {
        assert!(settings(&[]).unwrap().introspection_clients.is_empty());
        let both = format!("api:{SECRET_HASH}, billing-rs:{SECRET_HASH}");
        let parsed = settings(&[("TESSERA_INTROSPECTION_CLIENTS", &both)]).unwrap();
        assert_eq!(
            parsed.introspection_clients.ids().collect::<Vec<_>>(),
            ["api", "billing-rs"]
        );
        for bad in [
            "api".to_owned(),
            "api:plaintext-secret".to_owned(),
            format!(":{SECRET_HASH}"),
            format!("api:{SECRET_HASH},api:{SECRET_HASH}"),
            "api:$argon2i$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g".to_owned(),
        ] {
            let error = settings(&[("TESSERA_INTROSPECTION_CLIENTS", &bad)]).unwrap_err();
            assert_eq!(error.setting(), "introspection_clients", "{bad}: {error}");
            assert!(!error.to_string().contains("plaintext"), "{error}");
        }
    }

    #[test]
    fn redis_is_off_by_default_and_its_url_and_prefix_are_validated() {
        assert_eq!(settings(&[]).unwrap().redis, None);
        let redis = settings(&[("TESSERA_REDIS_URL", "redis://:s3cret@cache.internal:6380/2")])
            .unwrap()
            .redis
            .unwrap();
        assert_eq!(redis.url.expose(), "redis://:s3cret@cache.internal:6380/2");
        assert_eq!(redis.prefix, "tessera:");
        assert!(!format!("{redis:?}").contains("s3cret"));
        let prefixed = settings(&[
            ("TESSERA_REDIS_URL", "redis://127.0.0.1"),
            ("TESSERA_REDIS_PREFIX", "staging:"),
        ])
        .unwrap();
        assert_eq!(prefixed.redis.unwrap().prefix, "staging:");
        for (variable, value, setting) in [
            ("TESSERA_REDIS_URL", "http://127.0.0.1:6379", "redis_url"),
            (
                "TESSERA_REDIS_URL",
                "rediss://:s3cret@cache:6380",
                "redis_url",
            ),
            ("TESSERA_REDIS_URL", "redis://", "redis_url"),
            ("TESSERA_REDIS_PREFIX", "two words", "redis_prefix"),
        ] {
            let error = settings(&[(variable, value)]).unwrap_err();
            assert_eq!(error.setting(), setting, "{value}: {error}");
            assert!(!error.to_string().contains("s3cret"), "{error}");
        }
    }

    #[test]
    fn an_unknown_key_in_the_file_is_refused() {
        let dir =
            std::env::temp_dir().join(format!("tessera-settings-unknown-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("tessera.toml");
        std::fs::write(&file, "acess_ttl = \"5m\"\n").unwrap();
        let error = Sources::load(Some(&file), Vec::new()).unwrap_err();
        assert!(error.to_string().contains("acess_ttl"), "{error}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let settings = settings(&[
            (
                "TESSERA_DATABASE_URL",
                "postgres://tessera:hunter2@db/tessera",
            ),
            (
                "TESSERA_TOKEN_PEPPER",
                "0123456789abcdef0123456789abcdef-pepper",
            ),
            ("TESSERA_LEGACY_JWT_SECRET", "the-old-systems-secret"),
        ])
        .unwrap();
        assert!(settings.legacy_jwt_secret.is_some());
        let debug = format!("{settings:?}");
        assert!(!debug.contains("hunter2"));
        assert!(!debug.contains("0123456789abcdef"), "{debug}");
        assert!(!debug.contains("old-systems"), "{debug}");
    }

    #[test]
    fn metrics_are_on_by_default_and_can_be_turned_off_or_protected() {
        let defaults = settings(&[]).unwrap();
        assert!(defaults.metrics);
        assert_eq!(defaults.metrics_token, None);
        assert!(!settings(&[("TESSERA_METRICS", "off")]).unwrap().metrics);
        let protected = settings(&[("TESSERA_METRICS_TOKEN", "scrape-token-0123456789")]).unwrap();
        assert!(!format!("{protected:?}").contains("scrape-token"));
        for (variable, value, setting) in [
            ("TESSERA_METRICS", "public", "metrics"),
            ("TESSERA_METRICS_TOKEN", "short", "metrics_token"),
            (
                "TESSERA_METRICS_TOKEN",
                "has spaces in it, sixteen+",
                "metrics_token",
            ),
        ] {
            let error = settings(&[(variable, value)]).unwrap_err();
            assert_eq!(error.setting(), setting, "{error}");
        }
    }
}
