//! SPEC §2's concurrency invariant, through the real use case and the real adapters on
//! both databases: 16 requests present the same refresh token at once; exactly one
//! rotates, the others get the very same response, and nothing fails.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed unwrap is a failed test"
)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tessera_application::ports::{AuditSink, Clock};
use tessera_application::{
    AuditQuery, AuditRecord, AuthEvent, AuthEventKind, AuthService, Error, Ports, ServiceOptions,
    SigningAlgorithm, TokenGrant, ensure_signing_key,
};
use tessera_domain::{ClientContext, EmailAddress, Instant, Password, SessionPolicy};
use tessera_infra_activity::{MemoryActivityStore, MemoryRevocationList};
use tessera_infra_crypto::{
    AccessTokenSettings, Argon2Params, Argon2PasswordHasher, HmacRefreshTokenCodec,
    JwtAccessTokenCodec, PasswordHashingSettings, Pepper, RandomIds, RandomSigningKeyGenerator,
    SystemClock,
};
use tessera_infra_diesel::testing::TestDatabase;
use tessera_infra_diesel::{
    Database, DieselAuditSink, DieselSessionRepository, DieselSigningKeyRepository,
    DieselUserRepository,
};
use tokio::sync::Barrier;

const CONCURRENT: usize = 16;

/// Stores events in the database like production, and keeps their kinds to count.
struct CountingAudit {
    inner: DieselAuditSink,
    kinds: Mutex<Vec<AuthEventKind>>,
}

#[async_trait]
impl AuditSink for CountingAudit {
    async fn record(&self, event: &AuthEvent) -> Result<(), Error> {
        self.kinds.lock().unwrap().push(event.kind);
        self.inner.record(event).await
    }

    async fn events(&self, query: AuditQuery) -> Result<Vec<AuditRecord>, Error> {
        self.inner.events(query).await
    }

    async fn purge_before(&self, cutoff: Instant) -> Result<usize, Error> {
        self.inner.purge_before(cutoff).await
    }
}

async fn service(database: &Database) -> (AuthService, Arc<CountingAudit>) {
    let clock = Arc::new(SystemClock);
    let keys = ensure_signing_key(
        &DieselSigningKeyRepository::new(database.clone()),
        &RandomSigningKeyGenerator,
        SigningAlgorithm::EdDsa,
        clock.now(),
    )
    .await
    .unwrap();
    let access =
        AccessTokenSettings::new(SigningAlgorithm::EdDsa, "http://tessera.test", "tessera")
            .unwrap();
    let audit = Arc::new(CountingAudit {
        inner: DieselAuditSink::new(database.clone()),
        kinds: Mutex::default(),
    });
    // Cheap Argon2 parameters: this test is about rotation, not hashing cost.
    let hashing = PasswordHashingSettings {
        params: Argon2Params {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        },
        ..PasswordHashingSettings::default()
    };
    let policy = SessionPolicy::default();
    let ports = Ports {
        users: Arc::new(DieselUserRepository::new(database.clone())),
        sessions: Arc::new(DieselSessionRepository::new(database.clone())),
        activity: Arc::new(MemoryActivityStore::new(
            chrono::TimeDelta::seconds(60),
            policy.idle_timeout(),
        )),
        revocations: Arc::new(MemoryRevocationList::new()),
        access_tokens: Arc::new(JwtAccessTokenCodec::new(keys, access).unwrap()),
        refresh_tokens: Arc::new(HmacRefreshTokenCodec::new(
            Pepper::new(b"a test pepper that is long enough!!").unwrap(),
        )),
        passwords: Arc::new(Argon2PasswordHasher::new(hashing).unwrap()),
        audit: audit.clone(),
        clock,
        ids: Arc::new(RandomIds),
        legacy_tokens: None,
    };
    let service = AuthService::new(ports, policy, ServiceOptions::default());
    (service, audit)
}

async fn sixteen_concurrent_refreshes_rotate_once_and_agree(database: &Database) {
    let (service, audit) = service(database).await;
    let client = ClientContext::default();
    let email = EmailAddress::parse("race@example.com").unwrap();
    let password = Password::new("correct horse battery staple").unwrap();
    service
        .register(email.clone(), password.clone(), &client)
        .await
        .unwrap();
    let first = service.login(&email, &password, &client).await.unwrap();
    let presented = first.refresh_token.expose().to_owned();

    let barrier = Arc::new(Barrier::new(CONCURRENT));
    let requests: Vec<_> = (0..CONCURRENT)
        .map(|_| {
            let (service, barrier, presented) =
                (service.clone(), barrier.clone(), presented.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                service.refresh(&presented, &ClientContext::default()).await
            })
        })
        .collect();
    let mut grants: Vec<TokenGrant> = Vec::new();
    for request in requests {
        let outcome = request.await.expect("no request panics");
        grants.push(outcome.unwrap_or_else(|error| panic!("no error leaks: {error:?}")));
    }

    let winner = &grants[0];
    assert_ne!(winner.refresh_token, first.refresh_token);
    for grant in &grants {
        assert_eq!(
            grant.refresh_token, winner.refresh_token,
            "same successor for everyone"
        );
        assert_eq!(
            grant.access_token, winner.access_token,
            "same access token for everyone"
        );
    }
    let kinds = audit.kinds.lock().unwrap().clone();
    let rotations = kinds
        .iter()
        .filter(|kind| **kind == AuthEventKind::Refreshed)
        .count();
    let repeats = kinds
        .iter()
        .filter(|kind| **kind == AuthEventKind::RefreshRepeated)
        .count();
    assert_eq!(rotations, 1, "exactly one rotation: {kinds:?}");
    assert_eq!(repeats, CONCURRENT - 1, "the others repeat it: {kinds:?}");

    // The chain goes on from the one successor.
    let next = service
        .refresh(winner.refresh_token.expose(), &client)
        .await
        .unwrap();
    assert_ne!(next.refresh_token, winner.refresh_token);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_sixteen_concurrent_refreshes_rotate_once_and_agree() {
    let db = TestDatabase::sqlite();
    sixteen_concurrent_refreshes_rotate_once_and_agree(&db.database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_sixteen_concurrent_refreshes_rotate_once_and_agree() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    sixteen_concurrent_refreshes_rotate_once_and_agree(&db.database).await;
}
