//! Throttling policy: the per-IP token bucket and the per-account login backoff, with
//! an injected clock. Properties: a bucket never lets through more than its capacity
//! at once plus what it earned since; a refusal always says to wait longer than zero;
//! the backoff grows monotonically and never beyond its cap.

#![allow(
    clippy::expect_used,
    reason = "a fixture that cannot be built is a failed test"
)]

use proptest::prelude::*;
use tessera_domain::{
    Attempt, BucketState, Instant, Limited, LoginBackoff, Take, ThrottlePolicy, ThrottleSettings,
    TimeDelta, TokenBucket,
};

fn t0() -> Instant {
    Instant::from_timestamp(1_735_689_600, 0).expect("a valid instant")
}

fn seconds(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

fn millis(n: i64) -> TimeDelta {
    TimeDelta::milliseconds(n)
}

fn bucket(per_minute: u32, burst: u32) -> TokenBucket {
    TokenBucket::per_minute(per_minute, burst, "rate", "burst").expect("a valid bucket")
}

/// Takes a token at `now`, storing the new state as an application would: the allowed
/// state, or the reported one.
fn take(bucket: &TokenBucket, state: &mut Option<BucketState>, now: Instant) -> Take {
    let taken = bucket.take(*state, now);
    match taken {
        Take::Allowed(new) => *state = Some(new),
        Take::Limited(Limited {
            report: Some(new), ..
        }) => *state = Some(new),
        Take::Limited(_) => {}
    }
    taken
}

fn backoff(free: u32, base: TimeDelta, max: TimeDelta) -> LoginBackoff {
    LoginBackoff::new(free, base, max, TimeDelta::hours(1)).expect("a valid backoff")
}

// ---------------------------------------------------------------------------------
// Token bucket
// ---------------------------------------------------------------------------------

#[test]
fn a_full_bucket_lets_a_burst_through_then_refuses_until_a_token_is_earned() {
    // 6 a minute: one token every 10 s, 3 at once.
    let bucket = bucket(6, 3);
    let mut state = None;
    for _ in 0..3 {
        assert!(matches!(take(&bucket, &mut state, t0()), Take::Allowed(_)));
    }
    let Take::Limited(limited) = take(&bucket, &mut state, t0() + seconds(4)) else {
        panic!("the fourth request at once is refused");
    };
    assert_eq!(limited.retry_after, seconds(6));
    assert!(matches!(
        take(&bucket, &mut state, t0() + seconds(10)),
        Take::Allowed(_)
    ));
    assert!(matches!(
        take(&bucket, &mut state, t0() + seconds(11)),
        Take::Limited(_)
    ));
}

#[test]
fn an_idle_bucket_is_full_again_and_may_be_forgotten_then() {
    let bucket = bucket(6, 3);
    let mut state = None;
    take(&bucket, &mut state, t0());
    take(&bucket, &mut state, t0());
    let state = state.expect("a stored state");
    assert_eq!(state.tokens, 1);
    assert_eq!(bucket.full_again_at(&state), t0() + seconds(20));
    // Forgetting it then changes nothing: an absent bucket is a full one.
    let later = t0() + seconds(20);
    assert_eq!(bucket.take(Some(state), later), bucket.take(None, later));
}

#[test]
fn only_the_first_refusal_of_an_episode_is_reported() {
    let bucket = bucket(6, 1);
    let mut state = None;
    take(&bucket, &mut state, t0());
    let first = take(&bucket, &mut state, t0() + seconds(1));
    assert!(
        matches!(
            first,
            Take::Limited(Limited {
                report: Some(_),
                ..
            })
        ),
        "{first:?}"
    );
    let second = take(&bucket, &mut state, t0() + seconds(2));
    assert!(
        matches!(second, Take::Limited(Limited { report: None, .. })),
        "{second:?}"
    );
    // A token earned ends the episode; the next refusal is reported again.
    take(&bucket, &mut state, t0() + seconds(10));
    let next = take(&bucket, &mut state, t0() + seconds(11));
    assert!(
        matches!(
            next,
            Take::Limited(Limited {
                report: Some(_),
                ..
            })
        ),
        "{next:?}"
    );
}

#[test]
fn a_clock_behind_the_stored_state_earns_nothing_and_still_says_when() {
    let bucket = bucket(6, 1);
    let mut state = None;
    take(&bucket, &mut state, t0());
    let Take::Limited(limited) = bucket.take(state, t0() - seconds(3)) else {
        panic!("no token was earned");
    };
    assert_eq!(limited.retry_after, seconds(13));
}

#[test]
fn a_state_stored_under_a_larger_capacity_is_clamped() {
    let bucket = bucket(6, 2);
    let stored = BucketState {
        tokens: 50,
        updated_at: t0(),
        refusing: false,
    };
    let Take::Allowed(after) = bucket.take(Some(stored), t0()) else {
        panic!("tokens are left");
    };
    assert_eq!(after.tokens, 1);
}

#[test]
fn bucket_settings_are_validated_with_their_names() {
    let error = TokenBucket::per_minute(0, 5, "rate", "burst").expect_err("zero rate");
    assert_eq!(error.setting(), "rate");
    let error = TokenBucket::per_minute(5, 0, "rate", "burst").expect_err("zero burst");
    assert_eq!(error.setting(), "burst");
    let error = TokenBucket::per_minute(60_001, 5, "rate", "burst").expect_err("too fast");
    assert_eq!(error.setting(), "rate");
}

proptest! {
    /// Over any sequence of requests, the tokens granted never exceed the capacity
    /// plus what was earned over the time covered; a refusal always says to wait;
    /// and the stored tokens never exceed the capacity.
    #[test]
    fn a_bucket_never_grants_more_than_capacity_plus_refill(
        per_minute in 1_u32..=600,
        burst in 1_u32..=50,
        gaps in proptest::collection::vec(0_i64..5_000, 1..200),
    ) {
        let bucket = bucket(per_minute, burst);
        let interval = bucket.refill_interval().num_milliseconds();
        let mut state = None;
        let mut now = t0();
        let mut granted: i64 = 0;
        for gap in gaps {
            now += millis(gap);
            match take(&bucket, &mut state, now) {
                Take::Allowed(new) => {
                    granted += 1;
                    prop_assert!(new.tokens < bucket.capacity());
                }
                Take::Limited(limited) => {
                    prop_assert!(limited.retry_after > TimeDelta::zero());
                    prop_assert!(limited.retry_after <= bucket.refill_interval());
                }
            }
            let earned = (now - t0()).num_milliseconds() / interval;
            prop_assert!(granted <= i64::from(bucket.capacity()) + earned,
                "granted {granted} with capacity {} and {earned} earned", bucket.capacity());
            if let Some(state) = state {
                prop_assert!(state.tokens <= bucket.capacity());
            }
        }
    }

    /// Waiting the `retry_after` a refusal gives is always enough.
    #[test]
    fn waiting_retry_after_is_enough(
        per_minute in 1_u32..=600,
        burst in 1_u32..=10,
        extra in 0_u32..10,
    ) {
        let bucket = bucket(per_minute, burst);
        let mut state = None;
        let mut refusal = None;
        for _ in 0..(burst + 1 + extra) {
            if let Take::Limited(limited) = take(&bucket, &mut state, t0()) {
                refusal = Some(limited);
            }
        }
        let limited = refusal.expect("more requests than the burst are refused");
        prop_assert!(matches!(
            bucket.take(state, t0() + limited.retry_after),
            Take::Allowed(_)
        ));
    }
}

// ---------------------------------------------------------------------------------
// Login backoff
// ---------------------------------------------------------------------------------

#[test]
fn free_failures_cost_nothing_then_the_wait_doubles_up_to_the_cap() {
    let backoff = backoff(3, seconds(1), seconds(10));
    let delays: Vec<i64> = (0..=9)
        .map(|failures| backoff.delay_after(failures).num_seconds())
        .collect();
    assert_eq!(delays, [0, 0, 0, 0, 1, 2, 4, 8, 10, 10]);
    assert_eq!(backoff.delay_after(u32::MAX), seconds(10));
}

#[test]
fn an_attempt_during_the_wait_is_refused_until_it_ends() {
    let backoff = backoff(0, seconds(2), seconds(60));
    let mut state = None;
    state = Some(backoff.record_failure(state, t0()));
    state = Some(backoff.record_failure(state, t0() + seconds(5)));
    // Two failures: wait 4 s after the second.
    let Attempt::Limited(limited) = backoff.check(state, t0() + seconds(6)) else {
        panic!("inside the wait");
    };
    assert_eq!(limited.retry_after, seconds(3));
    assert!(limited.report.is_some());
    assert_eq!(backoff.check(state, t0() + seconds(9)), Attempt::Allowed);
}

#[test]
fn refused_attempts_do_not_extend_the_wait_and_are_reported_once() {
    let backoff = backoff(0, seconds(2), seconds(60));
    let state = Some(backoff.record_failure(None, t0()));
    let Attempt::Limited(first) = backoff.check(state, t0() + seconds(1)) else {
        panic!("inside the wait");
    };
    let reported = first.report.expect("the first refusal is reported");
    let Attempt::Limited(second) = backoff.check(Some(reported), t0() + seconds(1)) else {
        panic!("still inside the wait");
    };
    assert_eq!(second.report, None);
    assert_eq!(second.retry_after, first.retry_after);
    assert_eq!(
        backoff.check(Some(reported), t0() + seconds(2)),
        Attempt::Allowed
    );
}

#[test]
fn failures_are_forgotten_a_window_after_the_last_one() {
    let backoff = LoginBackoff::new(0, seconds(1), seconds(60), TimeDelta::hours(1))
        .expect("a valid backoff");
    let mut state = None;
    for n in 0..10 {
        state = Some(backoff.record_failure(state, t0() + seconds(n)));
    }
    let last = state.expect("a state");
    assert_eq!(last.failures, 10);
    assert_eq!(
        backoff.forget_at(&last),
        t0() + seconds(9) + TimeDelta::hours(1)
    );
    let later = backoff.forget_at(&last);
    assert_eq!(backoff.check(state, later), Attempt::Allowed);
    assert_eq!(backoff.record_failure(state, later).failures, 1);
}

#[test]
fn backoff_settings_are_validated_with_their_names() {
    let hour = TimeDelta::hours(1);
    let cases = [
        (
            LoginBackoff::new(0, TimeDelta::zero(), seconds(1), hour),
            "login_backoff_base",
        ),
        (
            LoginBackoff::new(0, seconds(2), seconds(1), hour),
            "login_backoff_max",
        ),
        (
            LoginBackoff::new(0, seconds(1), TimeDelta::days(2), TimeDelta::days(2)),
            "login_backoff_max",
        ),
        (
            LoginBackoff::new(0, seconds(1), seconds(60), seconds(59)),
            "login_backoff_window",
        ),
        (
            LoginBackoff::new(1001, seconds(1), seconds(60), hour),
            "login_backoff_free_failures",
        ),
    ];
    for (result, setting) in cases {
        let error = result.expect_err(setting);
        assert_eq!(error.setting(), setting, "{error}");
        assert!(error.to_string().starts_with(setting), "{error}");
    }
}

#[test]
fn the_default_throttle_settings_are_valid_and_are_the_default_policy() {
    let policy =
        ThrottlePolicy::try_from(ThrottleSettings::default()).expect("the defaults are valid");
    assert_eq!(policy, ThrottlePolicy::default());
    assert_eq!(policy.login_backoff.max(), TimeDelta::minutes(15));
    assert_eq!(policy.credentials.capacity(), 20);
    assert_eq!(policy.credentials.refill_interval(), seconds(6));
    assert_eq!(policy.tokens.capacity(), 30);
    assert_eq!(policy.tokens.refill_interval(), seconds(1));
}

proptest! {
    /// More failures never mean a shorter wait, and no number of failures means a
    /// wait longer than the cap.
    #[test]
    fn backoff_is_monotone_and_capped(
        free in 0_u32..10,
        base_ms in 1_i64..120_000,
        cap_factor in 1_i64..1_000,
        failures in 0_u32..200,
    ) {
        let base = millis(base_ms);
        let max = (base * i32::try_from(cap_factor).expect("small")).min(TimeDelta::days(1));
        prop_assume!(max >= base);
        let backoff = LoginBackoff::new(free, base, max, TimeDelta::days(1))
            .expect("a valid backoff");
        let now = backoff.delay_after(failures);
        let next = backoff.delay_after(failures + 1);
        prop_assert!(now <= next, "{failures}: {now} then {next}");
        prop_assert!(next <= max);
        prop_assert!(now >= TimeDelta::zero());
    }

    /// Whatever an attacker does — any number of failed attempts at any times — a
    /// real user is never kept waiting longer than the cap after the last failure,
    /// and a refusal always says to wait longer than zero.
    #[test]
    fn no_sequence_of_failures_locks_an_account_beyond_the_cap(
        gaps in proptest::collection::vec(0_i64..120_000, 1..100),
        probe in 0_i64..3_600_000,
    ) {
        let backoff = LoginBackoff::new(2, seconds(1), seconds(30), TimeDelta::hours(1))
            .expect("a valid backoff");
        let mut state = None;
        let mut now = t0();
        for gap in gaps {
            now += millis(gap);
            match backoff.check(state, now) {
                Attempt::Allowed => state = Some(backoff.record_failure(state, now)),
                Attempt::Limited(limited) => {
                    prop_assert!(limited.retry_after > TimeDelta::zero());
                    prop_assert!(limited.retry_after <= backoff.max());
                    if let Some(reported) = limited.report {
                        state = Some(reported);
                    }
                }
            }
        }
        let at = now + millis(probe);
        if let Attempt::Limited(limited) = backoff.check(state, at) {
            prop_assert!(at + limited.retry_after <= now + backoff.max());
        }
        prop_assert_eq!(backoff.check(state, now + backoff.max()), Attempt::Allowed);
    }
}
