//! The ports: what the use cases need from the outside world. Adapters in `infra-*`
//! implement them; tests use the mockall mocks (feature `mock` for other crates).
//!
//! Every fallible method returns [`Error`]: `Unavailable` when a backing service
//! cannot be reached, `Unexpected` for anything else, and the variants named in its
//! own `# Errors` section.

use async_trait::async_trait;
use tessera_domain::{
    BucketState, EmailAddress, FailedLogins, Instant, Password, PasswordHash, RefreshToken,
    RefreshTokenId, RevocationReason, Session, SessionId, User, UserId,
};

use crate::{
    AccessClaims, AccessDenial, AccessToken, AuditQuery, AuditRecord, AuthEvent, Error,
    GrantSecrets, MintedRefreshToken, PlainRefreshToken, PresentedRefreshToken, PublicSigningKey,
    RefreshTokenHash, SealedGrant, SigningAlgorithm, SigningKey,
};

/// The current time. Only this port reads the clock.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
}

/// Random identifiers for new users, sessions and access tokens.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait IdGenerator: Send + Sync {
    fn user_id(&self) -> UserId;
    fn session_id(&self) -> SessionId;
    /// An access token's `jti`.
    fn token_id(&self) -> uuid::Uuid;
}

/// User accounts.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// # Errors
    /// `Conflict("user")` when the e-mail is already registered.
    async fn insert(&self, user: &User) -> Result<(), Error>;

    /// # Errors
    /// Only infrastructure errors.
    async fn find_by_email(&self, email: &EmailAddress) -> Result<Option<User>, Error>;

    /// # Errors
    /// Only infrastructure errors.
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, Error>;

    /// # Errors
    /// `NotFound("user")` when there is no such user.
    async fn update_password_hash(&self, id: UserId, hash: &PasswordHash) -> Result<(), Error>;

    /// Disables the user at `disabled_at`, or re-enables them with `None`.
    ///
    /// # Errors
    /// `NotFound("user")` when there is no such user.
    async fn set_disabled(&self, id: UserId, disabled_at: Option<Instant>) -> Result<(), Error>;
}

/// A stored refresh token with its session and user, read in one round trip.
#[derive(Debug, Clone)]
pub struct RefreshTokenRecord {
    pub token: RefreshToken,
    pub hash: RefreshTokenHash,
    /// The sealed response of this token's rotation, while the grace window lasts.
    pub sealed_successor: Option<SealedGrant>,
    pub session: Session,
    /// `None` when the user has been deleted.
    pub user: Option<User>,
}

impl RefreshTokenRecord {
    /// SPEC §2 rule 5 treats a deleted user like a disabled one.
    pub fn user_standing(&self) -> tessera_domain::UserStanding {
        self.user
            .as_ref()
            .map_or(tessera_domain::UserStanding::Disabled, User::standing)
    }
}

/// One rotation, written atomically by [`SessionRepository::rotate`].
#[derive(Debug, Clone)]
pub struct Rotation {
    pub parent: RefreshTokenId,
    pub session_id: SessionId,
    /// The time of the rotation: the parent's `used_at`, the successor's `issued_at`
    /// and the session's new `last_refreshed_at`.
    pub now: Instant,
    pub sealed_successor: SealedGrant,
    pub successor: RefreshToken,
    pub successor_hash: RefreshTokenHash,
}

/// How a rotation write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationOutcome {
    /// This call rotated the parent.
    Rotated,
    /// Nothing was written: the parent had been used already (a concurrent request won)
    /// or the session is no longer live. Read the record again and decide again.
    Lost,
}

/// Sessions and their refresh-token families.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait SessionRepository: Send + Sync {
    /// Stores a new session with the first token of its family, in one transaction.
    ///
    /// # Errors
    /// Only infrastructure errors.
    async fn create(
        &self,
        session: &Session,
        first_token: &RefreshToken,
        hash: &RefreshTokenHash,
    ) -> Result<(), Error>;

    /// The token with this id, its session and user.
    ///
    /// # Errors
    /// Only infrastructure errors.
    async fn find_refresh_token(
        &self,
        id: RefreshTokenId,
    ) -> Result<Option<RefreshTokenRecord>, Error>;

    /// In one transaction: mark the parent used and store the sealed successor response
    /// — only if the parent is still unused and its session is live at `now` (not
    /// revoked, before its absolute end) — then insert the successor and set the
    /// session's `last_refreshed_at`. No token is ever spent twice.
    ///
    /// # Errors
    /// Only infrastructure errors; a lost race is `Ok(RotationOutcome::Lost)`.
    async fn rotate(&self, rotation: Rotation) -> Result<RotationOutcome, Error>;

    /// Revokes the session (and so every generation of its family). Returns whether
    /// it was live before; revoking twice keeps the first reason.
    ///
    /// # Errors
    /// Only infrastructure errors.
    async fn revoke(
        &self,
        id: SessionId,
        reason: RevocationReason,
        now: Instant,
    ) -> Result<bool, Error>;

    /// # Errors
    /// Only infrastructure errors.
    async fn find_session(&self, id: SessionId) -> Result<Option<Session>, Error>;

    /// The session `id` with the user it belongs to (`None` inside when that user is
    /// gone), in one read: the `me` endpoint's whole database work.
    ///
    /// # Errors
    /// Only infrastructure errors.
    async fn find_session_with_user(
        &self,
        id: SessionId,
    ) -> Result<Option<(Session, Option<User>)>, Error>;

    /// The user's sessions that are not revoked and not past their absolute end at
    /// `now`, most recent login first.
    ///
    /// # Errors
    /// Only infrastructure errors.
    async fn list_active_for_user(&self, user: UserId, now: Instant)
    -> Result<Vec<Session>, Error>;

    /// Revokes every live session of the user except `keep`; returns the ids revoked.
    ///
    /// # Errors
    /// Only infrastructure errors.
    async fn revoke_all_for_user(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        reason: RevocationReason,
        now: Instant,
    ) -> Result<Vec<SessionId>, Error>;

    /// Sessions revoked at or after `since` (to refill the revocation list at start).
    ///
    /// # Errors
    /// Only infrastructure errors.
    async fn revoked_since(&self, since: Instant) -> Result<Vec<Session>, Error>;

    /// Deletes sessions (with their tokens) that ended before `cutoff`, and clears
    /// sealed responses of tokens rotated before `sealed_cutoff`. Returns the number
    /// of sessions deleted.
    ///
    /// # Errors
    /// Only infrastructure errors.
    async fn purge(&self, cutoff: Instant, sealed_cutoff: Instant) -> Result<usize, Error>;
}

/// Signing keys, shared by every node through the database.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait SigningKeyRepository: Send + Sync {
    /// Every stored key, newest first.
    ///
    /// # Errors
    /// Only infrastructure errors.
    async fn list(&self) -> Result<Vec<SigningKey>, Error>;

    /// # Errors
    /// `Conflict("signing key")` when the `kid` exists.
    async fn insert(&self, key: &SigningKey) -> Result<(), Error>;

    /// Marks every key but `keep` that is not retired yet as retired at `at`;
    /// returns how many were marked. Keys retired earlier keep their time.
    ///
    /// # Errors
    /// Only infrastructure errors.
    async fn retire_all_except(&self, keep: &str, at: Instant) -> Result<usize, Error>;
}

/// Makes new signing keys (randomness lives in the adapter).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait SigningKeyGenerator: Send + Sync {
    /// # Errors
    /// `Unexpected` when the key cannot be generated or encoded.
    fn generate(&self, algorithm: SigningAlgorithm, now: Instant) -> Result<SigningKey, Error>;
}

/// The last authenticated request of each session (SPEC §5).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait ActivityStore: Send + Sync {
    /// Records activity at `at`; adapters coalesce writes per session.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    async fn record(&self, session: SessionId, at: Instant) -> Result<(), Error>;

    /// The last recorded activity, if any.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    async fn last_seen(&self, session: SessionId) -> Result<Option<Instant>, Error>;

    /// Drops the session's record (logout).
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    async fn forget(&self, session: SessionId) -> Result<(), Error>;
}

/// Revoked sessions whose access tokens may still be live, so authentication can
/// refuse them without a database read.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait RevocationList: Send + Sync {
    /// Remembers that `session` is revoked until `until` (the latest `exp` an access
    /// token of it can carry).
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    async fn insert(&self, session: SessionId, until: Instant) -> Result<(), Error>;

    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    async fn contains(&self, session: SessionId, now: Instant) -> Result<bool, Error>;
}

/// A throttle's stored state: a per-IP token bucket or an account's failed logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleRecord {
    Bucket(BucketState),
    FailedLogins(FailedLogins),
}

/// Throttle counters, shared by every node that shares the store. Records are small
/// values under string keys, each with an expiry after which it is gone; updates are
/// read, decide (in the domain), then compare-and-swap, so an adapter needs no
/// knowledge of the policy: in memory a map under a lock, in Redis `GET` and a short
/// Lua script that compares the value and `SET`s it with `PX`.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait ThrottleStore: Send + Sync {
    /// The record under `key`, unless it has expired by `now`.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    async fn get(&self, key: &str, now: Instant) -> Result<Option<ThrottleRecord>, Error>;

    /// Stores `new` under `key` until `expires_at`, but only if the record there is
    /// still `expected` (`None`: absent or expired by `now`). Returns whether it wrote;
    /// `false` means another request changed the record first: read again and decide
    /// again.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<ThrottleRecord>,
        new: ThrottleRecord,
        expires_at: Instant,
        now: Instant,
    ) -> Result<bool, Error>;

    /// Removes the record under `key`, if any.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    async fn remove(&self, key: &str) -> Result<(), Error>;
}

/// Signs and verifies access tokens.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait AccessTokenCodec: Send + Sync {
    /// # Errors
    /// `Unexpected` when signing fails.
    fn issue(&self, claims: &AccessClaims) -> Result<AccessToken, Error>;

    /// Checks signature, algorithm, `typ`, `iss`, `aud`, then `exp` and `nbf` against
    /// `now` with the configured leeway.
    ///
    /// # Errors
    /// The reason the token is refused.
    fn verify(&self, token: &str, now: Instant) -> Result<AccessClaims, AccessDenial>;

    /// The public keys of every asymmetric key this codec verifies with, newest
    /// first. A symmetric (HS256) key is never among them: its secret signs too.
    fn public_keys(&self) -> Vec<PublicSigningKey>;
}

/// Mints, recognises, hashes and seals refresh tokens.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait RefreshTokenCodec: Send + Sync {
    /// A new token from a CSPRNG with its id and keyed hash.
    fn mint(&self) -> MintedRefreshToken;

    /// Recognises the token format without touching storage; garbage is `None`.
    fn parse(&self, presented: &str) -> Option<PresentedRefreshToken>;

    /// Whether the presented token's keyed hash equals `stored`, in constant time.
    fn matches(&self, presented: &PresentedRefreshToken, stored: &RefreshTokenHash) -> bool;

    /// Seals `secrets` under a key derived from `parent`.
    ///
    /// # Errors
    /// `Unexpected` when sealing fails.
    fn seal(
        &self,
        parent: &PlainRefreshToken,
        secrets: &GrantSecrets,
    ) -> Result<SealedGrant, Error>;

    /// Opens what [`seal`](Self::seal) made with the same parent; `None` otherwise.
    fn open(&self, parent: &PlainRefreshToken, sealed: &SealedGrant) -> Option<GrantSecrets>;
}

/// The result of checking a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    Match,
    /// The password is right but the hash uses outdated parameters: rehash it.
    MatchNeedsRehash,
    Mismatch,
}

/// Argon2id hashing, off the async workers.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// # Errors
    /// `Unavailable` when the hashing pool is saturated; `Unexpected` otherwise.
    async fn hash(&self, password: &Password) -> Result<PasswordHash, Error>;

    /// Verifies `password` against `hash`. With `None` (unknown account) it does the
    /// same work against a dummy hash and answers `Mismatch`, so both cases take the
    /// same time.
    ///
    /// # Errors
    /// As [`hash`](Self::hash).
    async fn verify(
        &self,
        password: &Password,
        hash: Option<PasswordHash>,
    ) -> Result<PasswordCheck, Error>;
}

/// Where audit events are kept (the `auth_events` table).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait AuditSink: Send + Sync {
    /// # Errors
    /// Infrastructure errors; the caller logs them and carries on.
    async fn record(&self, event: &AuthEvent) -> Result<(), Error>;

    /// Stored events matching `query`, newest first.
    ///
    /// # Errors
    /// Only infrastructure errors.
    async fn events(&self, query: AuditQuery) -> Result<Vec<AuditRecord>, Error>;

    /// Deletes events older than `cutoff` (retention); returns how many.
    ///
    /// # Errors
    /// Only infrastructure errors.
    async fn purge_before(&self, cutoff: Instant) -> Result<usize, Error>;
}

/// A backing service whose health `/readyz` reports (the database, the activity
/// store).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait HealthCheck: Send + Sync {
    /// A short name for the report, e.g. `database`.
    fn name(&self) -> &'static str;

    /// Whether the node cannot serve without it. An essential service that fails makes
    /// the node unready (503); one whose every use has a fallback (Redis: activity,
    /// revocations, throttling) shows as `degraded` while the node stays ready.
    fn essential(&self) -> bool {
        true
    }

    /// # Errors
    /// `Unavailable` when the service cannot be reached.
    async fn check(&self) -> Result<(), Error>;
}

/// What a legacy access token (SPEC §3) says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyClaims {
    /// `sub`: who the token says it is; the user's standing and roles come from storage.
    pub user_id: UserId,
    pub expires_at: Instant,
}

/// Verifies access tokens of the system Tessera replaces: HS256 with the former
/// secret and no `sid`. They stay valid until their own `exp` and are never
/// refreshable.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait LegacyTokenVerifier: Send + Sync {
    /// # Errors
    /// `Invalid` when the token is not a legacy token; `Expired` past its `exp`.
    fn verify(&self, token: &str, now: Instant) -> Result<LegacyClaims, AccessDenial>;
}

/// How many connections a pool holds, for the metrics endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolUsage {
    /// Open connections, in use or idle.
    pub connections: u32,
    pub idle: u32,
    /// The most the pool opens (`database_pool_size`).
    pub max: u32,
}

/// Numbers about the stored state that `GET /metrics` reports as gauges.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait Statistics: Send + Sync {
    /// Sessions that can still be refreshed: not revoked, before their absolute end at
    /// `now`, and refreshed (or started) at or after `active_since` (`now` minus the
    /// idle timeout). One indexed count; callers cache it.
    ///
    /// # Errors
    /// Only infrastructure errors.
    async fn live_sessions(&self, now: Instant, active_since: Instant) -> Result<u64, Error>;

    /// The connection pool as it is now; no IO.
    fn pool(&self) -> PoolUsage;
}
