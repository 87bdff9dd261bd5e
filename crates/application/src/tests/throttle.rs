//! Throttling: per-IP buckets before any other work, per-account backoff before the
//! password is hashed (the same for unknown and known addresses), failures counted,
//! success clearing them, and a store outage that lets requests through.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use tessera_domain::{
    BucketState, ClientContext, EmailAddress, FailedLogins, Instant, Password, ThrottlePolicy,
    ThrottleSettings, TimeDelta,
};

use super::support::*;
use crate::ports::{MockThrottleStore, PasswordCheck, ThrottleRecord, ThrottleStore};
use crate::throttle::{Guarded, account_key, ip_key};
use crate::{AuthEventKind, Error, IntrospectionClients};

const LOGIN_KEY: &str = "ip:login:192.0.2.10";
const ALICE_KEY: &str = "account:alice@example.com";

fn seconds(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

fn nobody() -> EmailAddress {
    EmailAddress::parse("nobody@example.com").unwrap()
}

/// An empty bucket, already reported: refusals write nothing more.
fn empty_bucket(refusing: bool) -> ThrottleRecord {
    ThrottleRecord::Bucket(BucketState {
        tokens: 0,
        updated_at: now(),
        refusing,
    })
}

/// An account well into its backoff: ten failures, the last one a second ago.
fn backing_off() -> ThrottleRecord {
    ThrottleRecord::FailedLogins(FailedLogins {
        failures: 10,
        last_failure_at: now() - seconds(1),
        refusing: true,
    })
}

/// The store answers `record` for `key`.
fn stored(store: &mut MockThrottleStore, key: &'static str, record: Option<ThrottleRecord>) {
    store
        .expect_get()
        .withf(move |given, at| given == key && *at == now())
        .returning(move |_, _| Ok(record));
}

/// Every swap on `key` succeeds.
fn swaps(store: &mut MockThrottleStore, key: &'static str) {
    store
        .expect_compare_and_swap()
        .withf(move |given, _, _, _, _| given == key)
        .returning(|_, _, _, _, _| Ok(true));
}

/// Mocks with throttling on and nothing else expected.
fn throttled(store: MockThrottleStore) -> Mocks {
    let mut mocks = Mocks::new();
    mocks.throttle = Some(store);
    mocks
}

/// No lookup, no hashing, no session.
fn no_work(mocks: &mut Mocks) {
    mocks.users.expect_find_by_email().never();
    mocks.users.expect_find_by_id().never();
    mocks.passwords.expect_verify().never();
    mocks.passwords.expect_hash().never();
    mocks.sessions.expect_create().never();
}

fn rate_limited(result: Result<impl std::fmt::Debug, Error>) -> TimeDelta {
    match result {
        Err(Error::RateLimited { retry_after }) => retry_after,
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

/// A login that gets through the throttles: `alice()` is looked up (or nobody is),
/// and the hasher answers `check`.
fn login_checks_password(mocks: &mut Mocks, check: PasswordCheck) {
    mocks
        .users
        .expect_find_by_email()
        .returning(|email| Ok((*email == email_alice()).then(alice)));
    mocks
        .passwords
        .expect_verify()
        .times(1)
        .returning(move |_, _| Ok(check));
}

fn email_alice() -> EmailAddress {
    email()
}

fn session_starts(mocks: &mut Mocks) {
    mocks
        .refresh_tokens
        .expect_mint()
        .times(1)
        .returning(minted);
    mocks
        .access_tokens
        .expect_issue()
        .times(1)
        .returning(|_| Ok(access_token("access.login")));
    mocks
        .sessions
        .expect_create()
        .times(1)
        .returning(|_, _, _| Ok(()));
    mocks.activity.expect_record().returning(|_, _| Ok(()));
}

// ---------------------------------------------------------------------------------
// Per-IP buckets
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn an_empty_bucket_refuses_a_login_before_any_lookup_or_hash_work() {
    let mut store = MockThrottleStore::new();
    stored(&mut store, LOGIN_KEY, Some(empty_bucket(true)));
    store.expect_compare_and_swap().never();
    let mut mocks = throttled(store);
    no_work(&mut mocks);
    let (service, trail) = mocks.build();
    let retry_after = rate_limited(service.login(&email(), &password(), &client()).await);
    // The default login bucket earns a token every 6 s.
    assert_eq!(retry_after, seconds(6));
    assert!(trail.events().is_empty(), "an episode is audited once");
}

#[tokio::test]
async fn the_first_refusal_of_an_episode_is_stored_and_audited_as_rate_limited() {
    let mut store = MockThrottleStore::new();
    stored(&mut store, LOGIN_KEY, Some(empty_bucket(false)));
    store
        .expect_compare_and_swap()
        .withf(|key, expected, new, expires_at, at| {
            key == LOGIN_KEY
                && *expected == Some(empty_bucket(false))
                && *new == empty_bucket(true)
                // Full again when all 20 tokens are back, 6 s each.
                && *expires_at == now() + seconds(120)
                && *at == now()
        })
        .times(1)
        .returning(|_, _, _, _, _| Ok(true));
    let mut mocks = throttled(store);
    no_work(&mut mocks);
    let (service, trail) = mocks.build();
    rate_limited(service.login(&email(), &password(), &client()).await);
    let event = trail.only();
    assert_eq!(event.kind, AuthEventKind::RateLimited);
    assert_eq!(event.kind.as_str(), "rate_limited");
    assert_eq!(event.code, Some("login"));
    assert_eq!(event.client, client());
    assert_eq!(event.user_id, None);
}

#[tokio::test]
async fn every_guarded_request_is_refused_by_its_own_empty_bucket_before_any_work() {
    for (guarded, key) in [
        (Guarded::Register, "ip:register:192.0.2.10"),
        (Guarded::Refresh, "ip:refresh:192.0.2.10"),
        (Guarded::PasswordChange, "ip:password:192.0.2.10"),
        (Guarded::Introspection, "ip:introspect:192.0.2.10"),
    ] {
        let mut store = MockThrottleStore::new();
        stored(&mut store, key, Some(empty_bucket(true)));
        let mut mocks = throttled(store);
        no_work(&mut mocks);
        mocks.refresh_tokens.expect_parse().never();
        let (service, _) = mocks.build();
        let service = service.with_introspection_clients(IntrospectionClients::default());
        let result = match guarded {
            Guarded::Register => service
                .register(email(), password(), &client())
                .await
                .map(|_| ()),
            Guarded::Refresh => service.refresh(PRESENTED, &client()).await.map(|_| ()),
            Guarded::PasswordChange => {
                service
                    .change_password(&principal(), &password(), &password(), &client())
                    .await
            }
            Guarded::Introspection => service
                .introspect("orders-api", "a-client-secret", "token", &client())
                .await
                .map(|_| ()),
            Guarded::Login => unreachable!(),
        };
        let retry_after = rate_limited(result);
        assert!(retry_after > TimeDelta::zero(), "{guarded:?}");
    }
}

#[tokio::test]
async fn a_bucket_that_keeps_changing_under_a_flood_refuses_rather_than_lets_through() {
    let mut store = MockThrottleStore::new();
    stored(&mut store, LOGIN_KEY, None);
    store
        .expect_compare_and_swap()
        .returning(|_, _, _, _, _| Ok(false));
    let mut mocks = throttled(store);
    no_work(&mut mocks);
    let (service, _) = mocks.build();
    rate_limited(service.login(&email(), &password(), &client()).await);
}

#[test]
fn ipv6_callers_share_a_bucket_per_64_and_mapped_ipv4_is_ipv4() {
    let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
    let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
    let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
    assert_eq!(ip_key(Guarded::Login, a), "ip:login:2001:db8:1:2::/64");
    assert_eq!(ip_key(Guarded::Login, a), ip_key(Guarded::Login, b));
    assert_ne!(ip_key(Guarded::Login, a), ip_key(Guarded::Login, other));
    let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 10).to_ipv6_mapped());
    assert_eq!(ip_key(Guarded::Refresh, mapped), "ip:refresh:192.0.2.10");
    assert_ne!(
        ip_key(Guarded::Login, IpAddr::V6(Ipv6Addr::LOCALHOST)),
        ip_key(Guarded::Refresh, IpAddr::V6(Ipv6Addr::LOCALHOST))
    );
}

#[test]
fn account_keys_are_the_normalised_address() {
    let shouted = EmailAddress::parse("  ALICE@Example.COM ").unwrap();
    assert_eq!(account_key(&shouted), ALICE_KEY);
}

// ---------------------------------------------------------------------------------
// Per-account backoff
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn an_account_backing_off_is_refused_without_hash_work_known_or_unknown_alike() {
    let mut answers = Vec::new();
    for (address, key) in [
        (email(), ALICE_KEY),
        (nobody(), "account:nobody@example.com"),
    ] {
        let mut store = MockThrottleStore::new();
        stored(&mut store, LOGIN_KEY, None);
        swaps(&mut store, LOGIN_KEY);
        stored(&mut store, key, Some(backing_off()));
        store.expect_remove().never();
        let mut mocks = throttled(store);
        no_work(&mut mocks);
        let (service, trail) = mocks.build();
        let result = service.login(&address, &password(), &client()).await;
        answers.push((format!("{result:?}"), trail.kinds()));
    }
    assert_eq!(answers[0], answers[1], "the same answer for both");
    // 10 failures, 5 free: the wait is 2^4 s after the last failure, a second ago.
    let expected = Error::RateLimited {
        retry_after: seconds(15),
    };
    assert_eq!(answers[0].0, format!("{:?}", Err::<(), _>(expected)));
    assert!(answers[0].1.is_empty(), "reported before: {:?}", answers[0]);
}

#[tokio::test]
async fn the_first_refused_attempt_of_a_backoff_is_audited_with_code_account() {
    let mut store = MockThrottleStore::new();
    stored(&mut store, LOGIN_KEY, None);
    swaps(&mut store, LOGIN_KEY);
    let unreported = ThrottleRecord::FailedLogins(FailedLogins {
        failures: 10,
        last_failure_at: now() - seconds(1),
        refusing: false,
    });
    stored(&mut store, ALICE_KEY, Some(unreported));
    store
        .expect_compare_and_swap()
        .withf(move |key, expected, new, _, _| {
            key == ALICE_KEY && *expected == Some(unreported) && *new == backing_off()
        })
        .times(1)
        .returning(|_, _, _, _, _| Ok(true));
    let mut mocks = throttled(store);
    no_work(&mut mocks);
    let (service, trail) = mocks.build();
    rate_limited(service.login(&email(), &password(), &client()).await);
    let event = trail.only();
    assert_eq!(event.kind, AuthEventKind::RateLimited);
    assert_eq!(event.code, Some("account"));
    assert_eq!(event.user_id, None, "nothing is looked up");
}

#[tokio::test]
async fn a_wrong_password_counts_a_failure_for_the_account_known_or_unknown() {
    for (address, key) in [
        (email(), ALICE_KEY),
        (nobody(), "account:nobody@example.com"),
    ] {
        let mut store = MockThrottleStore::new();
        stored(&mut store, LOGIN_KEY, None);
        swaps(&mut store, LOGIN_KEY);
        stored(&mut store, key, None);
        store
            .expect_compare_and_swap()
            .withf(move |given, expected, new, expires_at, _| {
                given == key
                    && expected.is_none()
                    && *new
                        == ThrottleRecord::FailedLogins(FailedLogins {
                            failures: 1,
                            last_failure_at: now(),
                            refusing: false,
                        })
                    && *expires_at == now() + TimeDelta::hours(1)
            })
            .times(1)
            .returning(|_, _, _, _, _| Ok(true));
        let mut mocks = throttled(store);
        login_checks_password(&mut mocks, PasswordCheck::Mismatch);
        let (service, _) = mocks.build();
        let error = service
            .login(&address, &password(), &client())
            .await
            .unwrap_err();
        assert!(matches!(error, Error::InvalidCredentials), "{error:?}");
    }
}

#[tokio::test]
async fn a_successful_login_clears_the_accounts_failures() {
    let mut store = MockThrottleStore::new();
    stored(&mut store, LOGIN_KEY, None);
    swaps(&mut store, LOGIN_KEY);
    let two_failures = ThrottleRecord::FailedLogins(FailedLogins {
        failures: 2,
        last_failure_at: now() - seconds(30),
        refusing: false,
    });
    stored(&mut store, ALICE_KEY, Some(two_failures));
    store
        .expect_remove()
        .withf(|key| key == ALICE_KEY)
        .times(1)
        .returning(|_| Ok(()));
    let mut mocks = throttled(store);
    login_checks_password(&mut mocks, PasswordCheck::Match);
    session_starts(&mut mocks);
    let (service, _) = mocks.build();
    service
        .login(&email(), &password(), &client())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_successful_login_without_failures_writes_nothing_for_the_account() {
    let mut store = MockThrottleStore::new();
    stored(&mut store, LOGIN_KEY, None);
    swaps(&mut store, LOGIN_KEY);
    stored(&mut store, ALICE_KEY, None);
    store.expect_remove().never();
    let mut mocks = throttled(store);
    login_checks_password(&mut mocks, PasswordCheck::Match);
    session_starts(&mut mocks);
    let (service, _) = mocks.build();
    service
        .login(&email(), &password(), &client())
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unreachable_throttle_store_lets_logins_through_fail_open() {
    for check in [PasswordCheck::Match, PasswordCheck::Mismatch] {
        let mut store = MockThrottleStore::new();
        store.expect_get().returning(|_, _| Err(unavailable()));
        store.expect_compare_and_swap().never();
        store.expect_remove().never();
        let mut mocks = throttled(store);
        login_checks_password(&mut mocks, check);
        if check == PasswordCheck::Match {
            session_starts(&mut mocks);
        }
        let (service, _) = mocks.build();
        let result = service.login(&email(), &password(), &client()).await;
        match check {
            PasswordCheck::Match => assert!(result.is_ok(), "{result:?}"),
            _ => assert!(
                matches!(result, Err(Error::InvalidCredentials)),
                "{result:?}"
            ),
        }
    }
}

#[tokio::test]
async fn a_store_failing_on_write_also_lets_the_request_through() {
    let mut store = MockThrottleStore::new();
    store.expect_get().returning(|_, _| Ok(None));
    store
        .expect_compare_and_swap()
        .returning(|_, _, _, _, _| Err(unavailable()));
    let mut mocks = throttled(store);
    login_checks_password(&mut mocks, PasswordCheck::Mismatch);
    let (service, _) = mocks.build();
    let error = service
        .login(&email(), &password(), &client())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidCredentials), "{error:?}");
}

#[tokio::test]
async fn a_caller_without_a_known_ip_meets_only_the_account_backoff() {
    let mut store = MockThrottleStore::new();
    stored(&mut store, ALICE_KEY, Some(backing_off()));
    store.expect_compare_and_swap().never();
    let mut mocks = throttled(store);
    no_work(&mut mocks);
    let (service, _) = mocks.build();
    let anonymous = ClientContext {
        ip: None,
        user_agent: None,
    };
    rate_limited(service.login(&email(), &password(), &anonymous).await);
}

// ---------------------------------------------------------------------------------
// Several requests against a working store
// ---------------------------------------------------------------------------------

/// A store that keeps records in a map, honouring expiry and compare-and-swap.
#[derive(Debug, Default, Clone)]
struct MapStore(Arc<Mutex<HashMap<String, (ThrottleRecord, Instant)>>>);

impl MapStore {
    fn record(&self, key: &str) -> Option<ThrottleRecord> {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(key).map(|(record, _)| *record)
    }
}

#[async_trait]
impl ThrottleStore for MapStore {
    async fn get(&self, key: &str, now: Instant) -> Result<Option<ThrottleRecord>, Error> {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(map
            .get(key)
            .filter(|(_, expires_at)| now < *expires_at)
            .map(|(record, _)| *record))
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<ThrottleRecord>,
        new: ThrottleRecord,
        expires_at: Instant,
        now: Instant,
    ) -> Result<bool, Error> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let current = map
            .get(key)
            .filter(|(_, at)| now < *at)
            .map(|(record, _)| *record);
        if current != expected {
            return Ok(false);
        }
        map.insert(key.to_owned(), (new, expires_at));
        Ok(true)
    }

    async fn remove(&self, key: &str) -> Result<(), Error> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
        Ok(())
    }
}

fn from(n: u8) -> ClientContext {
    ClientContext {
        ip: Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, n))),
        user_agent: None,
    }
}

/// A service on `store` with 2 free failures, then 1 s doubling up to 4 s.
fn service_on(store: &MapStore, check: PasswordCheck) -> crate::AuthService {
    let mut mocks = Mocks::new();
    mocks
        .users
        .expect_find_by_email()
        .returning(|_| Ok(Some(alice())));
    mocks
        .passwords
        .expect_verify()
        .returning(move |_, _| Ok(check));
    mocks.refresh_tokens.expect_mint().returning(minted);
    mocks
        .access_tokens
        .expect_issue()
        .returning(|_| Ok(access_token("access.login")));
    mocks.sessions.expect_create().returning(|_, _, _| Ok(()));
    mocks.activity.expect_record().returning(|_, _| Ok(()));
    let (service, _) = mocks.build();
    service.with_throttling(crate::Throttling {
        store: Arc::new(store.clone()),
        policy: ThrottlePolicy::try_from(ThrottleSettings {
            login_backoff_free_failures: 2,
            login_backoff_base: seconds(1),
            login_backoff_max: seconds(4),
            ..ThrottleSettings::default()
        })
        .unwrap(),
    })
}

#[tokio::test]
async fn failures_from_different_ips_add_up_for_one_account_and_success_clears_them() {
    let store = MapStore::default();
    let guesser = service_on(&store, PasswordCheck::Mismatch);
    let wrong = Password::new("not the password").unwrap();
    for n in 1..=3 {
        let error = guesser.login(&email(), &wrong, &from(n)).await.unwrap_err();
        assert!(matches!(error, Error::InvalidCredentials), "{n}: {error:?}");
    }
    // Three failures from three addresses: the account waits 1 s, whoever asks.
    let retry_after = rate_limited(guesser.login(&email(), &wrong, &from(4)).await);
    assert_eq!(retry_after, seconds(1));
    let owner = service_on(&store, PasswordCheck::Match);
    rate_limited(owner.login(&email(), &password(), &from(5)).await);
    // Another account is not affected.
    let error = guesser
        .login(&nobody(), &wrong, &from(4))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidCredentials), "{error:?}");
    assert!(matches!(
        store.record("account:nobody@example.com"),
        Some(ThrottleRecord::FailedLogins(FailedLogins {
            failures: 1,
            ..
        }))
    ));
    // With the failures forgotten (as after the wait), the owner logs in and that
    // clears the record.
    let Some(ThrottleRecord::FailedLogins(state)) = store.record(ALICE_KEY) else {
        panic!("alice's failures are recorded");
    };
    assert_eq!(state.failures, 3);
    store
        .compare_and_swap(
            ALICE_KEY,
            Some(ThrottleRecord::FailedLogins(state)),
            ThrottleRecord::FailedLogins(FailedLogins {
                last_failure_at: now() - seconds(5),
                ..state
            }),
            now() + seconds(60),
            now(),
        )
        .await
        .unwrap();
    owner.login(&email(), &password(), &from(5)).await.unwrap();
    assert_eq!(store.record(ALICE_KEY), None);
}

#[tokio::test]
async fn a_burst_from_one_ip_is_cut_at_the_bucket_capacity() {
    let store = MapStore::default();
    let service = service_on(&store, PasswordCheck::Mismatch);
    let wrong = Password::new("not the password").unwrap();
    let mut refused = 0;
    // Different accounts, so only the IP bucket (20 at once by default) limits.
    for n in 0..25 {
        let address = EmailAddress::parse(&format!("user{n}@example.com")).unwrap();
        if let Err(Error::RateLimited { .. }) = service.login(&address, &wrong, &client()).await {
            refused += 1;
        }
    }
    assert_eq!(refused, 5);
}
