//! Builders for the use-case tests: one mock per port, a fixed clock, fixed ids, and
//! sample users, sessions and tokens that are valid unless a test changes them.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{TimeZone, Utc};
use tessera_domain::{
    ClientContext, EmailAddress, Instant, Password, PasswordHash, RefreshToken, RefreshTokenId,
    Role, Session, SessionId, SessionPolicy, SessionPolicySettings, TimeDelta, User, UserId,
};
use uuid::Uuid;

use crate::ports::{
    MockAccessTokenCodec, MockActivityStore, MockAuditSink, MockClock, MockIdGenerator,
    MockLegacyTokenVerifier, MockPasswordHasher, MockRefreshTokenCodec, MockRevocationList,
    MockSessionRepository, MockThrottleStore, MockUserRepository, RefreshTokenRecord,
};
use crate::{
    AccessClaims, AccessToken, AuthEvent, AuthEventKind, AuthService, Error, GrantSecrets,
    MintedRefreshToken, PlainRefreshToken, Ports, PresentedRefreshToken, Principal,
    RefreshTokenHash, SealedGrant, ServiceOptions,
};

pub const USER_ID: UserId = UserId::from_uuid(Uuid::from_u128(0x000A_11CE));
pub const SESSION_ID: SessionId = SessionId::from_uuid(Uuid::from_u128(0x5E55_1011));
pub const TOKEN_ID: Uuid = Uuid::from_u128(0x0007_0CE1);
/// The refresh token the client presents.
pub const PARENT_ID: RefreshTokenId = RefreshTokenId::from_uuid(Uuid::from_u128(0x009A_4E17));
/// The refresh token a rotation (or a login) mints.
pub const MINTED_ID: RefreshTokenId = RefreshTokenId::from_uuid(Uuid::from_u128(0x004E_3711));
pub const PRESENTED: &str = "parent.secret";
/// An administrator, and the session their access token belongs to.
pub const ADMIN_ID: UserId = UserId::from_uuid(Uuid::from_u128(0x0AD3_1110));
pub const ADMIN_SESSION_ID: SessionId = SessionId::from_uuid(Uuid::from_u128(0x0AD3_5E55));

/// The instant every mocked clock reads.
pub fn now() -> Instant {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 30, 0).unwrap()
}

pub fn minutes(n: i64) -> TimeDelta {
    TimeDelta::minutes(n)
}

pub fn days(n: i64) -> TimeDelta {
    TimeDelta::days(n)
}

/// The default policy (SPEC §2) with some settings changed.
pub fn policy_with(change: impl FnOnce(&mut SessionPolicySettings)) -> SessionPolicy {
    let mut settings = SessionPolicySettings::default();
    change(&mut settings);
    SessionPolicy::try_from(settings).unwrap()
}

/// What an adapter answers when its backing service is down.
pub fn unavailable() -> Error {
    Error::Unavailable("connection refused".into())
}

pub fn email() -> EmailAddress {
    EmailAddress::parse("alice@example.com").unwrap()
}

pub fn password() -> Password {
    Password::new("correct horse battery").unwrap()
}

pub fn stored_password_hash() -> PasswordHash {
    PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$stored".to_owned())
}

pub fn new_password_hash() -> PasswordHash {
    PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$fresh".to_owned())
}

pub fn role(name: &str) -> Role {
    Role::parse(name).unwrap()
}

/// An active user with two roles, so claims show that roles are carried over.
pub fn alice() -> User {
    User {
        id: USER_ID,
        email: email(),
        password_hash: stored_password_hash(),
        roles: vec![Role::user(), role("billing:admin")],
        created_at: now() - days(90),
        disabled_at: None,
    }
}

pub fn client() -> ClientContext {
    ClientContext {
        ip: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10))),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64)".to_owned()),
    }
}

/// A live session from `client()`, two days old, refreshed an hour ago.
pub fn live_session() -> Session {
    let created_at = now() - days(2);
    Session {
        id: SESSION_ID,
        user_id: USER_ID,
        created_at,
        absolute_expires_at: created_at + days(30),
        last_refreshed_at: now() - minutes(60),
        revoked_at: None,
        revocation_reason: None,
        client: client(),
    }
}

/// The unused fourth generation of the session's family.
pub fn parent_token() -> RefreshToken {
    RefreshToken {
        id: PARENT_ID,
        session_id: SESSION_ID,
        generation: 4,
        issued_at: now() - minutes(60),
        used_at: None,
    }
}

pub fn parent_hash() -> RefreshTokenHash {
    RefreshTokenHash::new(b"parent-hash".to_vec())
}

/// The stored state behind `PRESENTED`: unused, live session, active user.
pub fn record() -> RefreshTokenRecord {
    RefreshTokenRecord {
        token: parent_token(),
        hash: parent_hash(),
        sealed_successor: None,
        session: live_session(),
        user: Some(alice()),
    }
}

/// `record()` after a rotation `ago` before now, with the sealed response stored.
pub fn rotated_record(ago: TimeDelta) -> RefreshTokenRecord {
    let mut record = record();
    record.token.used_at = Some(now() - ago);
    record.sealed_successor = Some(sealed());
    record
}

pub fn presented() -> PresentedRefreshToken {
    PresentedRefreshToken {
        id: PARENT_ID,
        plain: PlainRefreshToken::new(PRESENTED.to_owned()),
    }
}

pub fn minted() -> MintedRefreshToken {
    MintedRefreshToken {
        id: MINTED_ID,
        plain: PlainRefreshToken::new("minted.secret".to_owned()),
        hash: RefreshTokenHash::new(b"minted-hash".to_vec()),
    }
}

pub fn sealed() -> SealedGrant {
    SealedGrant::new(b"sealed-under-parent".to_vec())
}

pub fn access_token(jwt: &str) -> AccessToken {
    AccessToken::new(jwt.to_owned())
}

/// The response a first refresh got, as stored sealed for duplicates.
pub fn winners_secrets(issued_at: Instant) -> GrantSecrets {
    GrantSecrets {
        access_token: access_token("access.winner"),
        access_expires_at: issued_at + minutes(15),
        refresh_token: PlainRefreshToken::new("winner.secret".to_owned()),
    }
}

pub fn claims() -> AccessClaims {
    AccessClaims {
        user_id: USER_ID,
        session_id: SESSION_ID,
        token_id: TOKEN_ID,
        issued_at: now() - minutes(5),
        expires_at: now() + minutes(10),
        roles: alice().roles,
    }
}

pub fn principal() -> Principal {
    Principal {
        user_id: USER_ID,
        session_id: Some(SESSION_ID),
        roles: alice().roles,
        access_expires_at: now() + minutes(10),
    }
}

/// The access token of an administrator (roles `user` and `admin`).
pub fn admin() -> Principal {
    Principal {
        user_id: ADMIN_ID,
        session_id: Some(ADMIN_SESSION_ID),
        roles: vec![Role::user(), Role::admin()],
        access_expires_at: now() + minutes(10),
    }
}

/// How long a session ended now stays in the revocation list under the defaults:
/// the longest an access token lives (15 min) plus the clock leeway (30 s).
pub fn barred_until() -> Instant {
    now() + minutes(15) + TimeDelta::seconds(30)
}

/// A session id other than `SESSION_ID`.
pub fn session_id(n: u128) -> SessionId {
    SessionId::from_uuid(Uuid::from_u128(n))
}

/// `live_session()` with another id and device, so lists can tell sessions apart.
pub fn phone_session(id: SessionId) -> Session {
    Session {
        id,
        client: ClientContext {
            ip: Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 4))),
            user_agent: Some(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 \
                 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
                    .to_owned(),
            ),
        },
        ..live_session()
    }
}

/// The audit events the service wrote, in order.
#[derive(Debug, Clone, Default)]
pub struct AuditTrail(Arc<Mutex<Vec<AuthEvent>>>);

impl AuditTrail {
    pub fn events(&self) -> Vec<AuthEvent> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn kinds(&self) -> Vec<AuthEventKind> {
        self.events().iter().map(|event| event.kind).collect()
    }

    /// The one event written; fails the test if there were none or several.
    pub fn only(&self) -> AuthEvent {
        let events = self.events();
        assert_eq!(events.len(), 1, "expected one audit event, got {events:?}");
        events[0].clone()
    }
}

/// One mock per port, set up by each test, then turned into an [`AuthService`].
/// Clock and ids are built by [`Mocks::build`]: the clock reads `now` and ids are the
/// constants above. Audit events written land in an [`AuditTrail`].
pub struct Mocks {
    pub users: MockUserRepository,
    pub sessions: MockSessionRepository,
    pub activity: MockActivityStore,
    pub revocations: MockRevocationList,
    pub access_tokens: MockAccessTokenCodec,
    pub refresh_tokens: MockRefreshTokenCodec,
    pub passwords: MockPasswordHasher,
    /// For reads and purges; `record` is set up by [`Mocks::build`].
    pub audit: MockAuditSink,
    pub now: Instant,
    pub policy: SessionPolicy,
    pub options: ServiceOptions,
    /// Whether the audit sink fails every write (it still records them).
    pub audit_fails: bool,
    /// A legacy-token verifier, when the test configures one.
    pub legacy: Option<MockLegacyTokenVerifier>,
    /// Throttling with this store and `throttle_policy`, when the test turns it on.
    pub throttle: Option<MockThrottleStore>,
    pub throttle_policy: tessera_domain::ThrottlePolicy,
}

impl Mocks {
    /// No expectations yet: any port call a test did not set up fails it.
    pub fn new() -> Self {
        Self {
            users: MockUserRepository::new(),
            sessions: MockSessionRepository::new(),
            activity: MockActivityStore::new(),
            revocations: MockRevocationList::new(),
            access_tokens: MockAccessTokenCodec::new(),
            refresh_tokens: MockRefreshTokenCodec::new(),
            passwords: MockPasswordHasher::new(),
            audit: MockAuditSink::new(),
            now: now(),
            policy: SessionPolicy::default(),
            options: ServiceOptions::default(),
            audit_fails: false,
            legacy: None,
            throttle: None,
            throttle_policy: tessera_domain::ThrottlePolicy::default(),
        }
    }

    pub fn build(self) -> (AuthService, AuditTrail) {
        let trail = AuditTrail::default();
        let mut audit = self.audit;
        let (events, fails) = (trail.0.clone(), self.audit_fails);
        audit.expect_record().returning(move |event| {
            events
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(event.clone());
            if fails { Err(unavailable()) } else { Ok(()) }
        });
        let mut clock = MockClock::new();
        clock.expect_now().return_const(self.now);
        let mut ids = MockIdGenerator::new();
        ids.expect_user_id().return_const(USER_ID);
        ids.expect_session_id().return_const(SESSION_ID);
        ids.expect_token_id().return_const(TOKEN_ID);
        let ports = Ports {
            users: Arc::new(self.users),
            sessions: Arc::new(self.sessions),
            activity: Arc::new(self.activity),
            revocations: Arc::new(self.revocations),
            access_tokens: Arc::new(self.access_tokens),
            refresh_tokens: Arc::new(self.refresh_tokens),
            passwords: Arc::new(self.passwords),
            audit: Arc::new(audit),
            clock: Arc::new(clock),
            ids: Arc::new(ids),
            legacy_tokens: self
                .legacy
                .map(|legacy| Arc::new(legacy) as Arc<dyn crate::ports::LegacyTokenVerifier>),
        };
        let mut service = AuthService::new(ports, self.policy, self.options);
        if let Some(store) = self.throttle {
            service = service.with_throttling(crate::Throttling {
                store: Arc::new(store),
                policy: self.throttle_policy,
            });
        }
        (service, trail)
    }
}

impl Mocks {
    /// Each of `ids` is barred in the revocation list until `until` and its activity
    /// dropped, once; no other session is.
    pub fn expect_sessions_forgotten(&mut self, ids: &[SessionId], until: Instant) {
        for &expected in ids {
            self.revocations
                .expect_insert()
                .withf(move |id, at| *id == expected && *at == until)
                .times(1)
                .returning(|_, _| Ok(()));
            self.activity
                .expect_forget()
                .withf(move |id| *id == expected)
                .times(1)
                .returning(|_| Ok(()));
        }
        if ids.is_empty() {
            self.revocations.expect_insert().never();
            self.activity.expect_forget().never();
        }
    }
}
