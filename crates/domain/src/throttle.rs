//! Throttling policy (SPEC §4 "per-IP and per-account throttling"): a token bucket per
//! caller IP, and exponential backoff per account after failed logins, capped so that
//! an attacker can never lock a real user out for longer than the cap.
//!
//! Pure: each rule takes the stored state and `now` and answers the new state or a
//! refusal with how long to wait. The application layer reads and writes the state.

use crate::{Instant, InvalidSetting, TimeDelta};

/// A refusal by a throttle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited<S> {
    /// How long until a retry can succeed; always longer than zero.
    pub retry_after: TimeDelta,
    /// `Some` for the first refusal of an episode (since the bucket last gained a
    /// token, or since the last failed login): store this state and report the refusal.
    /// `None` when that has been done already, so a flood of refused requests costs no
    /// writes and is reported once.
    pub report: Option<S>,
}

/// The stored state of one token bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketState {
    /// Tokens left, at most the bucket's capacity.
    pub tokens: u32,
    /// When `tokens` was last brought up to date; refills count from here.
    pub updated_at: Instant,
    /// Whether a request has been refused since the bucket last gained a token.
    pub refusing: bool,
}

/// What taking a token from a bucket gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// Let the request through and store this state.
    Allowed(BucketState),
    /// The bucket is empty.
    Limited(Limited<BucketState>),
}

/// A token bucket: at most `capacity` requests at once, then one more every
/// `refill_interval`. An absent state is a full bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenBucket {
    capacity: u32,
    /// Whole milliseconds, at least one: refills are counted in integers, so no rounding
    /// ever adds a token.
    refill_millis: i64,
}

impl TokenBucket {
    /// `per_minute` tokens a minute, up to `burst` at once.
    ///
    /// # Errors
    /// Names `rate_setting` when `per_minute` is not from 1 to 60 000, and
    /// `burst_setting` when `burst` is not from 1 to 100 000.
    pub fn per_minute(
        per_minute: u32,
        burst: u32,
        rate_setting: &'static str,
        burst_setting: &'static str,
    ) -> Result<Self, InvalidSetting> {
        if !(1..=60_000).contains(&per_minute) {
            return Err(InvalidSetting::new(
                rate_setting,
                "must be a number from 1 to 60000",
            ));
        }
        if !(1..=100_000).contains(&burst) {
            return Err(InvalidSetting::new(
                burst_setting,
                "must be a number from 1 to 100000",
            ));
        }
        Ok(Self {
            capacity: burst,
            refill_millis: 60_000 / i64::from(per_minute),
        })
    }

    /// The most requests let through at once.
    pub const fn capacity(&self) -> u32 {
        self.capacity
    }

    /// How long one token takes to come back.
    pub const fn refill_interval(&self) -> TimeDelta {
        TimeDelta::milliseconds(self.refill_millis)
    }

    /// Takes one token for a request at `now`.
    pub fn take(&self, state: Option<BucketState>, now: Instant) -> Take {
        let state = self.refilled(state, now);
        if state.tokens > 0 {
            return Take::Allowed(BucketState {
                tokens: state.tokens - 1,
                ..state
            });
        }
        // Empty, so not full: `updated_at` is less than one interval before `now` (or
        // after it, when another node's clock is ahead): the next token is due later.
        let retry_after =
            (state.updated_at + self.refill_interval() - now).max(TimeDelta::milliseconds(1));
        Take::Limited(Limited {
            retry_after,
            report: (!state.refusing).then_some(BucketState {
                refusing: true,
                ..state
            }),
        })
    }

    /// When `state` is a full bucket again, and so may be forgotten: an absent state
    /// means the same.
    pub fn full_again_at(&self, state: &BucketState) -> Instant {
        let missing = i64::from(self.capacity.saturating_sub(state.tokens));
        state.updated_at + TimeDelta::milliseconds(self.refill_millis.saturating_mul(missing))
    }

    /// `state` with the tokens earned by `now` added.
    fn refilled(&self, state: Option<BucketState>, now: Instant) -> BucketState {
        let full = BucketState {
            tokens: self.capacity,
            updated_at: now,
            refusing: false,
        };
        let Some(state) = state else {
            return full;
        };
        // A clock behind the one that wrote the state earns nothing, and loses nothing.
        let elapsed = (now - state.updated_at).num_milliseconds().max(0);
        let earned = elapsed / self.refill_millis;
        let tokens = i64::from(state.tokens.min(self.capacity)) + earned;
        if tokens >= i64::from(self.capacity) {
            return full;
        }
        if earned == 0 {
            return BucketState {
                tokens: state.tokens.min(self.capacity),
                ..state
            };
        }
        BucketState {
            // Below capacity, so it fits.
            tokens: u32::try_from(tokens).unwrap_or(self.capacity),
            updated_at: state.updated_at + TimeDelta::milliseconds(earned * self.refill_millis),
            refusing: false,
        }
    }
}

/// The stored state of one account's failed logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailedLogins {
    /// Failures in a row, none further apart than the backoff's window.
    pub failures: u32,
    pub last_failure_at: Instant,
    /// Whether an attempt has been refused since the last failure.
    pub refusing: bool,
}

/// Whether a login attempt may be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    Allowed,
    /// The account is backing off: answer without checking the password.
    Limited(Limited<FailedLogins>),
}

/// Exponential backoff after failed logins: `free_failures` cost nothing; then each
/// failure makes the next attempt wait `base`, `2·base`, `4·base`, … but never more
/// than `max`. Failures are forgotten `window` after the last one, and a successful
/// login clears them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginBackoff {
    free_failures: u32,
    base: TimeDelta,
    max: TimeDelta,
    window: TimeDelta,
}

impl LoginBackoff {
    /// Longest cap accepted: beyond a day, backoff is a lockout.
    const LONGEST: TimeDelta = TimeDelta::days(1);

    /// # Errors
    /// Names the setting: `login_backoff_free_failures` above 1 000,
    /// `login_backoff_base` not longer than zero, `login_backoff_max` shorter than the
    /// base or longer than a day, `login_backoff_window` shorter than the cap.
    pub fn new(
        free_failures: u32,
        base: TimeDelta,
        max: TimeDelta,
        window: TimeDelta,
    ) -> Result<Self, InvalidSetting> {
        if free_failures > 1000 {
            return Err(InvalidSetting::new(
                "login_backoff_free_failures",
                "must be a number from 0 to 1000",
            ));
        }
        if base <= TimeDelta::zero() {
            return Err(InvalidSetting::new(
                "login_backoff_base",
                "must be longer than zero",
            ));
        }
        if max < base {
            return Err(InvalidSetting::new(
                "login_backoff_max",
                "must not be shorter than login_backoff_base",
            ));
        }
        if max > Self::LONGEST {
            return Err(InvalidSetting::new(
                "login_backoff_max",
                "must be at most 1d: longer is a lockout an attacker can impose",
            ));
        }
        // A record forgotten while its wait still runs would end the wait early.
        if window < max {
            return Err(InvalidSetting::new(
                "login_backoff_window",
                "must not be shorter than login_backoff_max",
            ));
        }
        Ok(Self {
            free_failures,
            base,
            max,
            window,
        })
    }

    /// The cap: the longest wait any number of failures imposes.
    pub const fn max(&self) -> TimeDelta {
        self.max
    }

    /// How long the next attempt waits after `failures` failures in a row.
    pub fn delay_after(&self, failures: u32) -> TimeDelta {
        let Some(doublings) = failures.checked_sub(self.free_failures + 1) else {
            return TimeDelta::zero();
        };
        if doublings >= 30 {
            return self.max;
        }
        self.base
            .checked_mul(1_i32 << doublings)
            .map_or(self.max, |delay| delay.min(self.max))
    }

    /// Whether an attempt at `now` may be checked, given the account's failures.
    pub fn check(&self, state: Option<FailedLogins>, now: Instant) -> Attempt {
        let Some(state) = self.live(state, now) else {
            return Attempt::Allowed;
        };
        let next_attempt = state.last_failure_at + self.delay_after(state.failures);
        if now >= next_attempt {
            return Attempt::Allowed;
        }
        Attempt::Limited(Limited {
            retry_after: next_attempt - now,
            report: (!state.refusing).then_some(FailedLogins {
                refusing: true,
                ..state
            }),
        })
    }

    /// The account's state after a failed attempt at `now`.
    pub fn record_failure(&self, state: Option<FailedLogins>, now: Instant) -> FailedLogins {
        let failures = self
            .live(state, now)
            .map_or(1, |state| state.failures.saturating_add(1));
        FailedLogins {
            failures,
            last_failure_at: now,
            refusing: false,
        }
    }

    /// When `state` may be forgotten: `window` after the last failure.
    pub fn forget_at(&self, state: &FailedLogins) -> Instant {
        state.last_failure_at + self.window
    }

    fn live(&self, state: Option<FailedLogins>, now: Instant) -> Option<FailedLogins> {
        state.filter(|state| now < self.forget_at(state))
    }
}

/// Unvalidated throttling values, as read from configuration. `Default` gives the
/// documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleSettings {
    /// Per IP: login, the password grant, registration and password change.
    pub login_per_minute: u32,
    pub login_burst: u32,
    /// Per IP: refresh (both transports and the refresh-token grant) and introspection.
    pub refresh_per_minute: u32,
    pub refresh_burst: u32,
    pub login_backoff_free_failures: u32,
    pub login_backoff_base: TimeDelta,
    pub login_backoff_max: TimeDelta,
    pub login_backoff_window: TimeDelta,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            login_per_minute: 10,
            login_burst: 20,
            refresh_per_minute: 60,
            refresh_burst: 30,
            login_backoff_free_failures: 5,
            login_backoff_base: TimeDelta::seconds(1),
            login_backoff_max: TimeDelta::minutes(15),
            login_backoff_window: TimeDelta::hours(1),
        }
    }
}

/// A validated throttling policy. `Default` is [`ThrottleSettings::default`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Requests that check or set a password, per IP.
    pub credentials: TokenBucket,
    /// Refresh and introspection, per IP.
    pub tokens: TokenBucket,
    /// Per account, after failed logins.
    pub login_backoff: LoginBackoff,
}

impl TryFrom<ThrottleSettings> for ThrottlePolicy {
    type Error = InvalidSetting;

    fn try_from(settings: ThrottleSettings) -> Result<Self, Self::Error> {
        Ok(Self {
            credentials: TokenBucket::per_minute(
                settings.login_per_minute,
                settings.login_burst,
                "rate_limit_login_per_minute",
                "rate_limit_login_burst",
            )?,
            tokens: TokenBucket::per_minute(
                settings.refresh_per_minute,
                settings.refresh_burst,
                "rate_limit_refresh_per_minute",
                "rate_limit_refresh_burst",
            )?,
            login_backoff: LoginBackoff::new(
                settings.login_backoff_free_failures,
                settings.login_backoff_base,
                settings.login_backoff_max,
                settings.login_backoff_window,
            )?,
        })
    }
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        let settings = ThrottleSettings::default();
        // The defaults are valid (a test pins it); spelled out so `Default` cannot fail.
        Self {
            credentials: TokenBucket {
                capacity: settings.login_burst,
                refill_millis: 60_000 / i64::from(settings.login_per_minute),
            },
            tokens: TokenBucket {
                capacity: settings.refresh_burst,
                refill_millis: 60_000 / i64::from(settings.refresh_per_minute),
            },
            login_backoff: LoginBackoff {
                free_failures: settings.login_backoff_free_failures,
                base: settings.login_backoff_base,
                max: settings.login_backoff_max,
                window: settings.login_backoff_window,
            },
        }
    }
}
