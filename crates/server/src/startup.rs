//! Wiring: adapters built from settings, plugged into the use cases and the HTTP API.
//! Nothing here decides anything.

use std::net::TcpListener;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix_web::HttpServer;
use actix_web::dev::Server;
use tessera_api_actix::{ApiState, BrowserSettings};
use tessera_application::ports::{ActivityStore, RevocationList, ThrottleStore};
use tessera_application::ports::{Clock, HealthCheck, LegacyTokenVerifier};
use tessera_application::{
    AuthService, Error, Ports, ServiceOptions, ensure_signing_key, keys_still_verifying,
    verification_keys,
};
use tessera_domain::{SessionPolicy, TimeDelta};
use tessera_infra_activity::{
    DEFAULT_COMMAND_TIMEOUT, MemoryActivityStore, MemoryRevocationList, MemoryThrottleStore,
    RedisActivityStore, RedisConnection, RedisHealth, RedisRevocationList, RedisThrottleStore,
};
use tessera_infra_crypto::{
    AccessTokenSettings, Argon2PasswordHasher, HmacLegacyTokenVerifier, HmacRefreshTokenCodec,
    JwtAccessTokenCodec, PasswordHashingSettings, Pepper, RandomIds, RandomSigningKeyGenerator,
    SystemClock,
};
use tessera_infra_diesel::{
    Database, DieselAuditSink, DieselServerSecrets, DieselSessionRepository,
    DieselSigningKeyRepository, DieselStatistics, DieselUserRepository, TOKEN_PEPPER,
};

use crate::housekeeping;
use crate::settings::Settings;

/// The adapters and the service, built from settings; shared by `serve` and the
/// operator subcommands.
#[derive(Debug, Clone)]
pub struct Components {
    pub database: Database,
    pub service: AuthService,
    /// The codec the service holds, kept concrete so its key set can be reloaded.
    pub access_tokens: Arc<JwtAccessTokenCodec>,
    /// Counts the service's audit events; `GET /metrics` reports them.
    pub metrics: tessera_api_actix::Metrics,
    /// The nodes' shared Redis (`redis_url`), if any, for `/readyz`.
    pub redis: Option<RedisConnection>,
    /// The revocation list in that Redis, kept concrete for its *restored* marker.
    pub shared_revocations: Option<Arc<RedisRevocationList>>,
}

impl Components {
    /// Connects to the database, applies migrations, loads (or creates) the signing
    /// key and the token pepper, and builds the service.
    ///
    /// # Errors
    /// The database cannot be reached or migrated, or a key cannot be loaded.
    pub async fn build(settings: &Settings) -> Result<Self, Error> {
        let database =
            Database::connect(settings.database_url.expose(), settings.database_pool_size)?;
        database.run_pending_migrations().await?;
        let clock = Arc::new(SystemClock);
        let keys = ensure_signing_key(
            &DieselSigningKeyRepository::new(database.clone()),
            &RandomSigningKeyGenerator,
            settings.signing_alg,
            clock.now(),
        )
        .await?;
        let access_settings = AccessTokenSettings::new(
            settings.signing_alg,
            settings.issuer.clone(),
            settings.audience.clone(),
        )
        .and_then(|access| access.with_leeway(settings.clock_leeway))
        .map_err(|error| Error::unexpected(error.to_string()))?;
        let pepper = match &settings.token_pepper {
            Some(pepper) => Pepper::new(pepper.expose().as_bytes()),
            None => Pepper::new(
                DieselServerSecrets::new(database.clone())
                    .get_or_insert(TOKEN_PEPPER, Pepper::generate_bytes(), clock.now())
                    .await?,
            ),
        }
        .map_err(|error| Error::unexpected(error.to_string()))?;
        let hasher = Argon2PasswordHasher::new(PasswordHashingSettings::default())
            .map_err(|error| Error::unexpected(error.to_string()))?;
        let policy = settings.policy.clone();
        let keys = keys_still_verifying(keys, &policy, settings.clock_leeway, clock.now());
        let access_tokens = Arc::new(JwtAccessTokenCodec::new(keys, access_settings)?);
        let metrics = tessera_api_actix::Metrics::with_statistics(
            Arc::new(DieselStatistics::new(database.clone())),
            clock.clone(),
            policy.idle_timeout(),
        );
        // Several nodes share activity, revocations and throttle counters through Redis;
        // one node keeps them in memory. The connection is lazy: a node starts (degraded)
        // while Redis is down.
        let redis = settings
            .redis
            .as_ref()
            .map(|redis| {
                RedisConnection::open(redis.url.expose(), &redis.prefix, DEFAULT_COMMAND_TIMEOUT)
            })
            .transpose()?;
        let shared_revocations = redis
            .as_ref()
            .map(|redis| Arc::new(RedisRevocationList::new(redis.clone())));
        let activity: Arc<dyn ActivityStore> = match &redis {
            Some(redis) => Arc::new(RedisActivityStore::new(
                redis.clone(),
                settings.activity_write_interval,
                policy.idle_timeout(),
            )),
            None => Arc::new(MemoryActivityStore::new(
                settings.activity_write_interval,
                policy.idle_timeout(),
            )),
        };
        let revocations: Arc<dyn RevocationList> = match &shared_revocations {
            Some(list) => list.clone(),
            None => Arc::new(MemoryRevocationList::new()),
        };
        let ports = Ports {
            users: Arc::new(DieselUserRepository::new(database.clone())),
            sessions: Arc::new(DieselSessionRepository::new(database.clone())),
            activity,
            revocations,
            access_tokens: access_tokens.clone(),
            refresh_tokens: Arc::new(HmacRefreshTokenCodec::new(pepper)),
            passwords: Arc::new(hasher),
            audit: metrics.counting(Arc::new(DieselAuditSink::new(database.clone()))),
            clock,
            ids: Arc::new(RandomIds),
            // `TESSERA_LEGACY_JWT_SECRET` is not wired yet (README: not in this version).
            legacy_tokens: match &settings.legacy_jwt_secret {
                Some(secret) => Some(Arc::new(
                    HmacLegacyTokenVerifier::new(secret.expose().as_bytes(), settings.clock_leeway)
                        .map_err(|error| Error::unexpected(error.to_string()))?,
                ) as Arc<dyn LegacyTokenVerifier>),
                None => None,
            },
        };
        let options = ServiceOptions {
            registration_open: settings.registration_open,
            clock_leeway: settings.clock_leeway,
            audit_retention: settings.audit_retention,
        };
        let mut service = AuthService::new(ports, policy, options)
            .with_introspection_clients(settings.introspection_clients.clone());
        if let Some(policy) = settings.throttle {
            let store: Arc<dyn ThrottleStore> = match &redis {
                Some(redis) => Arc::new(RedisThrottleStore::new(redis.clone())),
                None => Arc::new(MemoryThrottleStore::default()),
            };
            service = service.with_throttling(tessera_application::Throttling { store, policy });
        }
        match (service.restore_revocations().await, &shared_revocations) {
            (Ok(restored), shared) => {
                tracing::info!(sessions = restored, "revocation list restored");
                if let Some(list) = shared
                    && let Err(error) = list.mark_restored().await
                {
                    tracing::warn!(error = %error, "revocation list restored but not marked so");
                }
            }
            // The database answered a moment ago, so Redis failed: start degraded.
            // Authentication checks the database until the sync restores the list.
            (Err(error), Some(_)) => tracing::warn!(
                error = %error,
                "revocation list not restored; Redis unavailable, checking the database meanwhile"
            ),
            (Err(error), None) => return Err(error),
        }
        Ok(Self {
            database,
            service,
            access_tokens,
            metrics,
            redis,
            shared_revocations,
        })
    }
}

/// Reloads the codec's key set from the database: the newest key signs, and keys
/// retired longer ago than a token lives are dropped (see
/// [`verification_keys`]). Returns the number of keys loaded.
#[derive(Debug, Clone)]
struct KeyReload {
    repository: Arc<DieselSigningKeyRepository>,
    codec: Arc<JwtAccessTokenCodec>,
    policy: SessionPolicy,
    clock_leeway: TimeDelta,
}

impl KeyReload {
    async fn run(&self) -> Result<usize, Error> {
        let keys = verification_keys(
            self.repository.as_ref(),
            &self.policy,
            self.clock_leeway,
            SystemClock.now(),
        )
        .await?;
        let count = keys.len();
        self.codec.reload(keys)?;
        Ok(count)
    }
}

/// A running HTTP server, and the housekeeping it runs while it serves.
pub struct Application {
    port: u16,
    server: Server,
    service: AuthService,
    purge_interval: Option<Duration>,
    revocation_sync_interval: Option<Duration>,
    key_reload: Option<(Duration, KeyReload)>,
    shared_revocations: Option<Arc<RedisRevocationList>>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Builds everything and binds `settings.bind` (port 0 picks a free port).
    ///
    /// # Errors
    /// As [`Components::build`], or the address cannot be bound.
    pub async fn build(settings: &Settings) -> Result<Self, Error> {
        let components = Components::build(settings).await?;
        let listener =
            TcpListener::bind(settings.bind).map_err(|error| Error::Unexpected(Box::new(error)))?;
        let port = listener
            .local_addr()
            .map_err(|error| Error::Unexpected(Box::new(error)))?
            .port();
        let service = components.service.clone();
        let shared_revocations = components.shared_revocations.clone();
        let mut health_checks = vec![Arc::new(components.database.clone()) as Arc<dyn HealthCheck>];
        if let Some(redis) = &components.redis {
            health_checks.push(Arc::new(RedisHealth::new(redis.clone())));
        }
        let key_reload = settings.signing_key_reload_interval.map(|interval| {
            let reload = KeyReload {
                repository: Arc::new(DieselSigningKeyRepository::new(components.database.clone())),
                codec: components.access_tokens.clone(),
                policy: settings.policy.clone(),
                clock_leeway: settings.clock_leeway,
            };
            (interval, reload)
        });
        let state = ApiState {
            service: components.service,
            health_checks,
            issuer: settings.issuer.clone(),
            browser: BrowserSettings {
                cookie_secure: settings.cookie_secure,
                allowed_origins: settings.allowed_origins.clone(),
                access_cookie: settings.access_cookie,
                own_origin: tessera_api_actix::origin_of_url(&settings.issuer),
            },
            metrics: settings.metrics.then(|| match &settings.metrics_token {
                Some(token) => components.metrics.clone().protected_by(token.expose()),
                None => components.metrics.clone(),
            }),
        };
        let proxies = actix_web::web::Data::new(settings.trusted_proxies.clone());
        let server = HttpServer::new(move || {
            tessera_api_actix::app(state.clone()).app_data(proxies.clone())
        })
        .listen(listener)
        .map_err(|error| Error::Unexpected(Box::new(error)))?
        // In-flight requests finish on SIGTERM/SIGINT before the process exits.
        .shutdown_timeout(settings.shutdown_timeout.as_secs())
        .run();
        Ok(Self {
            port,
            server,
            service,
            purge_interval: settings.purge_interval,
            revocation_sync_interval: settings.revocation_sync_interval,
            key_reload,
            shared_revocations,
        })
    }

    /// The bound port.
    pub const fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM or SIGINT, then drains in-flight requests. Meanwhile
    /// purges every `purge_interval` and copies revocations made elsewhere into the
    /// revocation list every `revocation_sync_interval`, and reloads the signing keys
    /// every `signing_key_reload_interval` (each unless it is `0s`).
    ///
    /// # Errors
    /// The server fails.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let service = self.service;
        let _key_reload = self.key_reload.map(|(interval, reload)| {
            housekeeping::BackgroundTask::every(interval, "signing key reload", move || {
                let reload = reload.clone();
                async move { reload.run().await }
            })
        });
        // Held for as long as the server runs: dropped (the task stopped) when the
        // server returns, or when this future is dropped instead.
        let _revocation_sync = self.revocation_sync_interval.map(|interval| {
            let service = service.clone();
            let shared = self.shared_revocations.clone();
            // Each run reads back to the start of the last run that succeeded, plus a
            // margin for revocations whose commit was in flight then: a database
            // outage delays revocations reaching this node, it never loses them.
            let synced_from = Arc::new(Mutex::new(std::time::Instant::now()));
            housekeeping::BackgroundTask::every(interval, "revocation sync", move || {
                let (service, synced_from) = (service.clone(), synced_from.clone());
                let shared = shared.clone();
                async move {
                    let started = std::time::Instant::now();
                    let last = *synced_from.lock().unwrap_or_else(PoisonError::into_inner);
                    let mut window = chrono::TimeDelta::from_std(
                        started
                            .duration_since(last)
                            .saturating_add(Duration::from_secs(10)),
                    )
                    .unwrap_or(chrono::TimeDelta::MAX);
                    // A shared list that lost its contents (Redis restarted empty) is
                    // refilled with every revocation that can still bar a token.
                    let refill = match &shared {
                        Some(list) => !list.is_restored().await?,
                        None => false,
                    };
                    if refill {
                        window = chrono::TimeDelta::MAX;
                    }
                    let synced = service.sync_revocations(window).await?;
                    if let (true, Some(list)) = (refill, &shared) {
                        list.mark_restored().await?;
                        tracing::info!(sessions = synced, "shared revocation list refilled");
                    }
                    *synced_from.lock().unwrap_or_else(PoisonError::into_inner) = started;
                    Ok(synced)
                }
            })
        });
        let _purge = self.purge_interval.map(|interval| {
            housekeeping::spawn(interval, move || {
                let service = service.clone();
                async move { service.purge().await }
            })
        });
        self.server.await
    }
}
