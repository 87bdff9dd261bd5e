//! Domain values for the repository tests: fixed instants, random ids.

#![allow(clippy::disallowed_methods, reason = "tests make their own random ids")]

use chrono::{TimeDelta, TimeZone, Utc};
use tessera_application::ports::Rotation;
use tessera_application::{
    AuthEvent, AuthEventKind, RefreshTokenHash, SealedGrant, SigningAlgorithm, SigningKey,
    SigningKeyMaterial,
};
use tessera_domain::{
    ClientContext, EmailAddress, Instant, PasswordHash, RefreshToken, RefreshTokenId, Role,
    Session, SessionId, SessionPolicy, User, UserId,
};
use uuid::Uuid;

/// A fixed start with nanoseconds, so every write exercises the truncation to
/// microseconds.
pub fn t0() -> Instant {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap() + TimeDelta::nanoseconds(123_456_789)
}

pub fn at(seconds: i64) -> Instant {
    t0() + TimeDelta::seconds(seconds)
}

/// What PostgreSQL keeps of an instant.
pub fn micros(instant: Instant) -> Instant {
    use chrono::SubsecRound;
    instant.trunc_subsecs(6)
}

pub fn user(email: &str) -> User {
    User {
        id: UserId::from_uuid(Uuid::new_v4()),
        email: EmailAddress::parse(email).unwrap(),
        password_hash: PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        roles: vec![Role::user(), Role::parse("admin").unwrap()],
        created_at: t0(),
        disabled_at: None,
    }
}

pub fn unique_email() -> String {
    format!("user-{}@example.com", Uuid::new_v4().simple())
}

pub fn session(user: &User, now: Instant) -> Session {
    Session::start(
        SessionId::from_uuid(Uuid::new_v4()),
        user.id,
        ClientContext {
            ip: Some("2001:db8::7".parse().unwrap()),
            user_agent: Some("tests/1.0".into()),
        },
        now,
        &SessionPolicy::default(),
    )
}

pub fn token_id() -> RefreshTokenId {
    RefreshTokenId::from_uuid(Uuid::new_v4())
}

pub fn hash() -> RefreshTokenHash {
    let mut bytes = Uuid::new_v4().as_bytes().to_vec();
    bytes.extend_from_slice(Uuid::new_v4().as_bytes());
    RefreshTokenHash::new(bytes)
}

pub fn first_token(session: &Session) -> RefreshToken {
    RefreshToken::first(token_id(), session.id, session.created_at)
}

/// A rotation of `parent` at `now` with a fresh successor.
pub fn rotation(parent: &RefreshToken, now: Instant) -> Rotation {
    let successor = parent.successor(token_id(), now);
    Rotation {
        parent: parent.id,
        session_id: parent.session_id,
        now,
        sealed_successor: SealedGrant::new(Uuid::new_v4().as_bytes().to_vec()),
        successor,
        successor_hash: hash(),
    }
}

pub fn signing_key(kid: &str, created_at: Instant) -> SigningKey {
    SigningKey {
        kid: kid.into(),
        algorithm: SigningAlgorithm::EdDsa,
        private_key: SigningKeyMaterial::new(vec![1, 2, 3, 0, 255]),
        public_key: vec![9; 32],
        created_at,
        retired_at: None,
    }
}

pub fn event(kind: AuthEventKind, user: Option<&User>, at: Instant) -> AuthEvent {
    AuthEvent {
        at,
        kind,
        user_id: user.map(|user| user.id),
        session_id: None,
        client: ClientContext {
            ip: Some("192.0.2.1".parse().unwrap()),
            user_agent: None,
        },
        code: Some("ip_changed"),
        actor: None,
    }
}
