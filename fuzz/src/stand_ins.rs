//! Ports for `request_decoding`: the real token codecs, a fixed clock, and a database
//! that is down. A request that gets past decoding and authentication ends at the
//! first repository call with a 503 — decoding is what this target is about, and no
//! input can panic a port.

use std::sync::Arc;

use async_trait::async_trait;
use tessera_api_actix::{ApiState, BrowserSettings};
use tessera_application::ports::{
    ActivityStore, AuditSink, Clock, PasswordCheck, PasswordHasher, RefreshTokenRecord,
    RevocationList, Rotation, RotationOutcome, SessionRepository, UserRepository,
};
use tessera_application::{
    AuditQuery, AuditRecord, AuthEvent, AuthService, Error, Ports, RefreshTokenHash, ServiceOptions,
};
use tessera_domain::{
    EmailAddress, Instant, Password, PasswordHash, RefreshToken, RefreshTokenId, RevocationReason,
    Session, SessionId, SessionPolicy, SessionPolicySettings, User, UserId,
};
use tessera_infra_crypto::RandomIds;

use crate::keys;

/// The origin of a page allowed to use cookie transport.
pub const ALLOWED_ORIGIN: &str = "https://app.example.com";

/// The state the app is built from: every transport and check switched on (cookies
/// without the `__Host-` prefixes, the access cookie, legacy tokens).
pub fn api_state() -> ApiState {
    let ports = Ports {
        users: Arc::new(DatabaseDown),
        sessions: Arc::new(DatabaseDown),
        activity: Arc::new(EmptyStores),
        revocations: Arc::new(EmptyStores),
        access_tokens: Arc::new(keys::access_token_codec(keys::signing_keys(false))),
        refresh_tokens: Arc::new(keys::refresh_token_codec()),
        passwords: Arc::new(NoHashing),
        audit: Arc::new(EmptyStores),
        clock: Arc::new(FixedClock),
        ids: Arc::new(RandomIds),
        legacy_tokens: Some(Arc::new(keys::legacy_verifier())),
    };
    let policy = SessionPolicy::try_from(SessionPolicySettings::default())
        .expect("the default policy is valid");
    ApiState {
        service: AuthService::new(ports, policy, ServiceOptions::default()),
        health_checks: Vec::new(),
        issuer: keys::ISSUER.to_owned(),
        browser: BrowserSettings {
            cookie_secure: false,
            allowed_origins: vec![ALLOWED_ORIGIN.to_owned()],
            access_cookie: true,
            own_origin: Some(keys::ISSUER.to_owned()),
        },
        metrics: Some(tessera_api_actix::Metrics::new()),
    }
}

fn down() -> Error {
    Error::Unavailable("the fuzzing database is down".into())
}

/// Always 2026-03-02T09:30:00Z.
struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> Instant {
        keys::now()
    }
}

/// Users and sessions: every call fails as if the database were unreachable.
struct DatabaseDown;

#[async_trait]
impl UserRepository for DatabaseDown {
    async fn insert(&self, _: &User) -> Result<(), Error> {
        Err(down())
    }

    async fn find_by_email(&self, _: &EmailAddress) -> Result<Option<User>, Error> {
        Err(down())
    }

    async fn find_by_id(&self, _: UserId) -> Result<Option<User>, Error> {
        Err(down())
    }

    async fn update_password_hash(&self, _: UserId, _: &PasswordHash) -> Result<(), Error> {
        Err(down())
    }

    async fn set_disabled(&self, _: UserId, _: Option<Instant>) -> Result<(), Error> {
        Err(down())
    }
}

#[async_trait]
impl SessionRepository for DatabaseDown {
    async fn create(
        &self,
        _: &Session,
        _: &RefreshToken,
        _: &RefreshTokenHash,
    ) -> Result<(), Error> {
        Err(down())
    }

    async fn find_refresh_token(
        &self,
        _: RefreshTokenId,
    ) -> Result<Option<RefreshTokenRecord>, Error> {
        Err(down())
    }

    async fn rotate(&self, _: Rotation) -> Result<RotationOutcome, Error> {
        Err(down())
    }

    async fn revoke(&self, _: SessionId, _: RevocationReason, _: Instant) -> Result<bool, Error> {
        Err(down())
    }

    async fn find_session(&self, _: SessionId) -> Result<Option<Session>, Error> {
        Err(down())
    }

    async fn find_session_with_user(
        &self,
        _: SessionId,
    ) -> Result<Option<(Session, Option<User>)>, Error> {
        Err(down())
    }

    async fn list_active_for_user(&self, _: UserId, _: Instant) -> Result<Vec<Session>, Error> {
        Err(down())
    }

    async fn revoke_all_for_user(
        &self,
        _: UserId,
        _: Option<SessionId>,
        _: RevocationReason,
        _: Instant,
    ) -> Result<Vec<SessionId>, Error> {
        Err(down())
    }

    async fn revoked_since(&self, _: Instant) -> Result<Vec<Session>, Error> {
        Err(down())
    }

    async fn purge(&self, _: Instant, _: Instant) -> Result<usize, Error> {
        Err(down())
    }
}

/// Password hashing is never reached before a repository call fails; if it is, it
/// answers like an unknown account.
struct NoHashing;

#[async_trait]
impl PasswordHasher for NoHashing {
    async fn hash(&self, _: &Password) -> Result<PasswordHash, Error> {
        Err(down())
    }

    async fn verify(&self, _: &Password, _: Option<PasswordHash>) -> Result<PasswordCheck, Error> {
        Ok(PasswordCheck::Mismatch)
    }
}

/// Activity, revocations and audit: reachable and empty, so a valid access token
/// gets through authentication to the endpoint's own decoding.
struct EmptyStores;

#[async_trait]
impl ActivityStore for EmptyStores {
    async fn record(&self, _: SessionId, _: Instant) -> Result<(), Error> {
        Ok(())
    }

    async fn last_seen(&self, _: SessionId) -> Result<Option<Instant>, Error> {
        Ok(None)
    }

    async fn forget(&self, _: SessionId) -> Result<(), Error> {
        Ok(())
    }
}

#[async_trait]
impl RevocationList for EmptyStores {
    async fn insert(&self, _: SessionId, _: Instant) -> Result<(), Error> {
        Ok(())
    }

    async fn contains(&self, _: SessionId, _: Instant) -> Result<bool, Error> {
        Ok(false)
    }
}

#[async_trait]
impl AuditSink for EmptyStores {
    async fn record(&self, _: &AuthEvent) -> Result<(), Error> {
        Ok(())
    }

    async fn events(&self, _: AuditQuery) -> Result<Vec<AuditRecord>, Error> {
        Ok(Vec::new())
    }

    async fn purge_before(&self, _: Instant) -> Result<usize, Error> {
        Ok(0)
    }
}
