//! Throttling (SPEC §4): a token bucket per caller IP for each kind of request that
//! checks a password or spends a token, and backoff per account after failed logins.
//! The rules are [`tessera_domain::ThrottlePolicy`]'s; this module reads and writes
//! their state through the [`ThrottleStore`] port.
//!
//! Throttling fails open: when the store cannot answer, the request goes on (with a
//! warning in the log). A throttle guards capacity; refusing every login because a
//! counter is unreachable would turn a cache outage into an auth outage.

use std::net::IpAddr;
use std::sync::Arc;

use tessera_domain::{
    Attempt, ClientContext, EmailAddress, FailedLogins, Instant, Take, ThrottlePolicy, TimeDelta,
};

use crate::ports::{ThrottleRecord, ThrottleStore};
use crate::{AuthEventKind, AuthService, Error};

/// A lost compare-and-swap means another request changed the record in between; read
/// again. More losses than this in a row and the request is refused as limited: a
/// flood is what makes them, and it must not get through by making them.
const MAX_SWAP_ATTEMPTS: usize = 4;

/// The policy, and the store its counters live in. A service without one (setting
/// `rate_limit = off`) throttles nothing.
#[derive(Clone)]
pub struct Throttling {
    pub store: Arc<dyn ThrottleStore>,
    pub policy: ThrottlePolicy,
}

impl std::fmt::Debug for Throttling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttling")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// What a per-IP bucket guards. Each has a bucket of its own per IP, so registering
/// does not eat into logging in; the first three share the `credentials` limits, the
/// last two the `tokens` limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Guarded {
    /// `/v1/auth/login` and the password grant.
    Login,
    Register,
    PasswordChange,
    /// `/v1/auth/refresh` and the refresh-token grant.
    Refresh,
    Introspection,
}

impl Guarded {
    const fn name(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Register => "register",
            Self::PasswordChange => "password",
            Self::Refresh => "refresh",
            Self::Introspection => "introspect",
        }
    }
}

/// The store key of `action`'s bucket for `ip`. An IPv6 caller is keyed by its /64:
/// one subscriber usually holds a whole /64, and per-address buckets would give them
/// 2^64 of them.
pub(crate) fn ip_key(action: Guarded, ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(ip) => format!("ip:{}:{ip}", action.name()),
        IpAddr::V6(ip) => {
            let prefix = u128::from(ip) & !((1_u128 << 64) - 1);
            format!(
                "ip:{}:{}/64",
                action.name(),
                std::net::Ipv6Addr::from(prefix)
            )
        }
    }
}

/// The store key of an account's failed logins: the normalised e-mail, whether or
/// not an account has it, so backing off tells nothing about which addresses exist.
pub(crate) fn account_key(email: &EmailAddress) -> String {
    format!("account:{}", email.as_str())
}

impl AuthService {
    /// The service with throttling on.
    #[must_use]
    pub fn with_throttling(mut self, throttling: Throttling) -> Self {
        self.throttling = Some(throttling);
        self
    }

    /// Takes a token from the caller's bucket for `action`.
    ///
    /// # Errors
    /// `RateLimited` when the bucket is empty. A store failure is logged and lets the
    /// request through; a caller without a known IP is not throttled.
    pub(crate) async fn throttle_ip(
        &self,
        action: Guarded,
        client: &ClientContext,
        now: Instant,
    ) -> Result<(), Error> {
        let (Some(throttling), Some(ip)) = (&self.throttling, client.ip) else {
            return Ok(());
        };
        let bucket = match action {
            Guarded::Login | Guarded::Register | Guarded::PasswordChange => {
                throttling.policy.credentials
            }
            Guarded::Refresh | Guarded::Introspection => throttling.policy.tokens,
        };
        let key = ip_key(action, ip);
        let store = throttling.store.as_ref();
        for _ in 0..MAX_SWAP_ATTEMPTS {
            let stored = match store.get(&key, now).await {
                Ok(Some(ThrottleRecord::Bucket(state))) => Some(state),
                // Another kind of record under a bucket key is not ours to trust.
                Ok(Some(ThrottleRecord::FailedLogins(_)) | None) => None,
                Err(error) => {
                    fail_open(&key, &error);
                    return Ok(());
                }
            };
            let (new, refusal) = match bucket.take(stored, now) {
                Take::Allowed(new) => (Some(new), None),
                Take::Limited(limited) => (limited.report, Some(limited.retry_after)),
            };
            let Some(new) = new else {
                // Refused, and this episode has been reported: nothing to write.
                tracing::debug!(key, "rate limited");
                return Err(rate_limited(refusal));
            };
            let expected = stored.map(ThrottleRecord::Bucket);
            let swapped = store
                .compare_and_swap(
                    &key,
                    expected,
                    ThrottleRecord::Bucket(new),
                    bucket.full_again_at(&new),
                    now,
                )
                .await;
            match swapped {
                Ok(true) => {}
                Ok(false) => continue,
                Err(error) => {
                    fail_open(&key, &error);
                    return Ok(());
                }
            }
            let Some(retry_after) = refusal else {
                return Ok(());
            };
            self.audit(
                AuthEventKind::RateLimited,
                now,
                None,
                None,
                client,
                Some(action.name()),
            )
            .await;
            return Err(Error::RateLimited { retry_after });
        }
        Err(rate_limited(None))
    }

    /// Whether a login for `email` may be checked at `now`. Returns the account's
    /// failures (to clear them on success), `None` when there are none or the store
    /// did not answer.
    ///
    /// # Errors
    /// `RateLimited` while the account backs off.
    pub(crate) async fn check_login_backoff(
        &self,
        email: &EmailAddress,
        client: &ClientContext,
        now: Instant,
    ) -> Result<Option<FailedLogins>, Error> {
        let Some(throttling) = &self.throttling else {
            return Ok(None);
        };
        let backoff = throttling.policy.login_backoff;
        let key = account_key(email);
        let store = throttling.store.as_ref();
        let stored = match store.get(&key, now).await {
            Ok(Some(ThrottleRecord::FailedLogins(state))) => state,
            Ok(Some(ThrottleRecord::Bucket(_)) | None) => return Ok(None),
            Err(error) => {
                fail_open(&key, &error);
                return Ok(None);
            }
        };
        let Attempt::Limited(limited) = backoff.check(Some(stored), now) else {
            return Ok(Some(stored));
        };
        if let Some(reported) = limited.report {
            // A lost swap means another attempt is reporting this episode, or a new
            // failure (or success) changed it; either way this one need not.
            let swapped = store
                .compare_and_swap(
                    &key,
                    Some(ThrottleRecord::FailedLogins(stored)),
                    ThrottleRecord::FailedLogins(reported),
                    backoff.forget_at(&reported),
                    now,
                )
                .await;
            if let Err(error) = &swapped {
                tracing::warn!(key, error = %error, "throttle store unavailable");
            }
            if swapped.unwrap_or(false) {
                self.audit(
                    AuthEventKind::RateLimited,
                    now,
                    None,
                    None,
                    client,
                    Some("account"),
                )
                .await;
            }
        }
        Err(Error::RateLimited {
            retry_after: limited.retry_after,
        })
    }

    /// Counts a failed login for `email`. Best effort: a store failure is logged.
    pub(crate) async fn record_login_failure(&self, email: &EmailAddress, now: Instant) {
        let Some(throttling) = &self.throttling else {
            return;
        };
        let backoff = throttling.policy.login_backoff;
        let key = account_key(email);
        let store = throttling.store.as_ref();
        for _ in 0..MAX_SWAP_ATTEMPTS {
            let stored = match store.get(&key, now).await {
                Ok(Some(ThrottleRecord::FailedLogins(state))) => Some(state),
                Ok(Some(ThrottleRecord::Bucket(_)) | None) => None,
                Err(error) => {
                    fail_open(&key, &error);
                    return;
                }
            };
            let new = backoff.record_failure(stored, now);
            let swapped = store
                .compare_and_swap(
                    &key,
                    stored.map(ThrottleRecord::FailedLogins),
                    ThrottleRecord::FailedLogins(new),
                    backoff.forget_at(&new),
                    now,
                )
                .await;
            match swapped {
                Ok(true) => return,
                Ok(false) => {}
                Err(error) => {
                    fail_open(&key, &error);
                    return;
                }
            }
        }
        tracing::warn!(key, "failed login not counted: the record kept changing");
    }

    /// Forgets the failed logins of `email` after a successful login.
    pub(crate) async fn clear_login_failures(&self, email: &EmailAddress) {
        let Some(throttling) = &self.throttling else {
            return;
        };
        let key = account_key(email);
        if let Err(error) = throttling.store.remove(&key).await {
            fail_open(&key, &error);
        }
    }
}

/// Logs a store failure; the request goes on as if nothing were recorded.
fn fail_open(key: &str, error: &Error) {
    tracing::warn!(key, error = %error, "throttle store unavailable; not throttling");
}

/// A refusal without a known wait (a reported episode always has one) waits a second.
fn rate_limited(retry_after: Option<TimeDelta>) -> Error {
    Error::RateLimited {
        retry_after: retry_after.unwrap_or(TimeDelta::seconds(1)),
    }
}
