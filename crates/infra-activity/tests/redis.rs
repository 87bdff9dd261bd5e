//! The Redis adapters against a real Redis: the shared one at 127.0.0.1:6379 with a
//! key prefix per test (skipped with a notice when it is unreachable outside CI), and
//! for the outage tests a throwaway `redis-server` of their own that they kill.

#![allow(
    clippy::disallowed_methods,
    reason = "Redis expires keys on its own clock, so these tests use instants near the real now"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed unwrap is a failed test"
)]

use std::time::Duration;

use chrono::{DurationRound, TimeDelta, Utc};
use tessera_application::Error;
use tessera_application::ports::{
    ActivityStore, HealthCheck, RevocationList, ThrottleRecord, ThrottleStore,
};
use tessera_domain::{BucketState, FailedLogins, Instant, SessionId};
use tessera_infra_activity::testing::{RedisServer, TestRedis, spare_port};
use tessera_infra_activity::{
    DEFAULT_COMMAND_TIMEOUT, PAUSE_AFTER_FAILURE, RedisActivityStore, RedisConnection, RedisHealth,
    RedisRevocationList, RedisThrottleStore,
};
use uuid::Uuid;

/// The real now, to the millisecond (what Redis values keep of activity instants).
fn now() -> Instant {
    Utc::now()
        .duration_trunc(TimeDelta::milliseconds(1))
        .unwrap()
}

fn session(n: u128) -> SessionId {
    SessionId::from_uuid(Uuid::from_u128(n))
}

fn activity(redis: &TestRedis) -> RedisActivityStore {
    RedisActivityStore::new(
        redis.connection(),
        TimeDelta::seconds(60),
        TimeDelta::days(7),
    )
}

/// A raw client on the test Redis, to look at what the adapters stored.
fn raw(redis: &TestRedis) -> ::redis::Connection {
    ::redis::Client::open(redis.url.as_str())
        .unwrap()
        .get_connection()
        .unwrap()
}

fn pttl(redis: &TestRedis, key: &str) -> i64 {
    ::redis::cmd("PTTL")
        .arg(format!("{}{key}", redis.prefix))
        .query(&mut raw(redis))
        .unwrap()
}

#[tokio::test]
async fn activity_is_shared_between_nodes_and_expires_after_the_idle_timeout() {
    let Some(redis) = TestRedis::shared() else {
        return;
    };
    let (node_a, node_b) = (activity(&redis), activity(&redis));
    let t0 = now();
    assert_eq!(node_a.last_seen(session(1)).await.unwrap(), None);

    node_a.record(session(1), t0).await.unwrap();
    assert_eq!(node_b.last_seen(session(1)).await.unwrap(), Some(t0));
    let ttl = pttl(&redis, &format!("activity:{}", session(1)));
    let week = TimeDelta::days(7).num_milliseconds();
    assert!(ttl > week - 60_000 && ttl <= week, "PTTL {ttl}");

    // Another node's later write wins; an earlier one never moves the record back.
    node_b
        .record(session(1), t0 + TimeDelta::seconds(5))
        .await
        .unwrap();
    node_a
        .record(session(1), t0 + TimeDelta::seconds(90))
        .await
        .unwrap();
    activity(&redis)
        .record(session(1), t0 + TimeDelta::seconds(30))
        .await
        .unwrap();
    assert_eq!(
        node_b.last_seen(session(1)).await.unwrap(),
        Some(t0 + TimeDelta::seconds(90))
    );
}

#[tokio::test]
async fn a_node_writes_a_session_at_most_once_per_write_interval() {
    let Some(redis) = TestRedis::shared() else {
        return;
    };
    let node = activity(&redis);
    let t0 = now();
    node.record(session(2), t0).await.unwrap();
    // Wipe the record behind the node's back: a coalesced write does not restore it.
    let _: () = ::redis::cmd("DEL")
        .arg(format!("{}activity:{}", redis.prefix, session(2)))
        .query(&mut raw(&redis))
        .unwrap();
    node.record(session(2), t0 + TimeDelta::seconds(59))
        .await
        .unwrap();
    assert_eq!(node.last_seen(session(2)).await.unwrap(), None);
    node.record(session(2), t0 + TimeDelta::seconds(60))
        .await
        .unwrap();
    assert_eq!(
        node.last_seen(session(2)).await.unwrap(),
        Some(t0 + TimeDelta::seconds(60))
    );
}

#[tokio::test]
async fn forgetting_a_session_drops_its_activity_on_every_node() {
    let Some(redis) = TestRedis::shared() else {
        return;
    };
    let (node_a, node_b) = (activity(&redis), activity(&redis));
    let t0 = now();
    node_a.record(session(3), t0).await.unwrap();
    node_a.record(session(4), t0).await.unwrap();
    node_b.forget(session(3)).await.unwrap();
    assert_eq!(node_a.last_seen(session(3)).await.unwrap(), None);
    assert_eq!(node_a.last_seen(session(4)).await.unwrap(), Some(t0));
    // The forgetting node writes again at once, not after the interval.
    node_b.record(session(3), t0).await.unwrap();
    assert_eq!(node_a.last_seen(session(3)).await.unwrap(), Some(t0));
}

#[tokio::test]
async fn the_revocation_list_is_not_trusted_until_it_is_marked_restored() {
    let Some(redis) = TestRedis::shared() else {
        return;
    };
    let list = RedisRevocationList::new(redis.connection());
    assert!(!list.is_restored().await.unwrap());
    let result = list.contains(session(1), now()).await;
    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
    list.mark_restored().await.unwrap();
    assert!(list.is_restored().await.unwrap());
    assert!(!list.contains(session(1), now()).await.unwrap());
}

#[tokio::test]
async fn a_revocation_reaches_every_node_and_lasts_until_its_deadline() {
    let Some(redis) = TestRedis::shared() else {
        return;
    };
    let (node_a, node_b) = (
        RedisRevocationList::new(redis.connection()),
        RedisRevocationList::new(redis.connection()),
    );
    node_a.mark_restored().await.unwrap();
    let t0 = now();
    let deadline = t0 + TimeDelta::minutes(15);
    node_a.insert(session(1), deadline).await.unwrap();
    assert!(node_b.contains(session(1), t0).await.unwrap());
    assert!(
        node_b
            .contains(session(1), deadline - TimeDelta::milliseconds(1))
            .await
            .unwrap()
    );
    assert!(!node_b.contains(session(1), deadline).await.unwrap());
    assert!(!node_b.contains(session(2), t0).await.unwrap());
    // Redis drops the key at the deadline by itself.
    let ttl = pttl(&redis, &format!("revoked:{}", session(1)));
    assert!(ttl > 14 * 60_000 && ttl <= 15 * 60_000, "PTTL {ttl}");

    // Revoking again never shortens the deadline.
    node_b
        .insert(session(1), t0 + TimeDelta::minutes(1))
        .await
        .unwrap();
    assert!(
        node_a
            .contains(session(1), t0 + TimeDelta::minutes(10))
            .await
            .unwrap()
    );
    // A deadline already past stores nothing.
    node_b
        .insert(session(3), t0 - TimeDelta::seconds(1))
        .await
        .unwrap();
    assert!(
        !node_a
            .contains(session(3), t0 - TimeDelta::seconds(2))
            .await
            .unwrap()
    );
}

fn bucket(tokens: u32, at: Instant) -> ThrottleRecord {
    ThrottleRecord::Bucket(BucketState {
        tokens,
        updated_at: at,
        refusing: false,
    })
}

fn failures(failures: u32, at: Instant) -> ThrottleRecord {
    ThrottleRecord::FailedLogins(FailedLogins {
        failures,
        last_failure_at: at,
        refusing: true,
    })
}

#[tokio::test]
async fn a_throttle_swap_writes_only_over_the_expected_record() {
    let Some(redis) = TestRedis::shared() else {
        return;
    };
    let (node_a, node_b) = (
        RedisThrottleStore::new(redis.connection()),
        RedisThrottleStore::new(redis.connection()),
    );
    // Sub-millisecond instants survive the round trip.
    let t0 = Utc::now();
    let expires = t0 + TimeDelta::seconds(60);
    assert_eq!(node_a.get("k", t0).await.unwrap(), None);
    assert!(
        node_a
            .compare_and_swap("k", None, bucket(4, t0), expires, t0)
            .await
            .unwrap()
    );
    // The other node's view is stale: nothing is written.
    assert!(
        !node_b
            .compare_and_swap("k", None, bucket(9, t0), expires, t0)
            .await
            .unwrap()
    );
    assert!(
        !node_b
            .compare_and_swap("k", Some(bucket(5, t0)), bucket(9, t0), expires, t0)
            .await
            .unwrap()
    );
    assert!(
        node_b
            .compare_and_swap("k", Some(bucket(4, t0)), bucket(3, t0), expires, t0)
            .await
            .unwrap()
    );
    assert_eq!(node_a.get("k", t0).await.unwrap(), Some(bucket(3, t0)));
    let ttl = pttl(&redis, "throttle:k");
    assert!(ttl > 55_000 && ttl <= 60_000, "PTTL {ttl}");
    node_a.remove("k").await.unwrap();
    node_a.remove("never-there").await.unwrap();
    assert_eq!(node_b.get("k", t0).await.unwrap(), None);
}

#[tokio::test]
async fn a_throttle_record_counts_as_absent_from_its_expiry_on() {
    let Some(redis) = TestRedis::shared() else {
        return;
    };
    let store = RedisThrottleStore::new(redis.connection());
    let t0 = now();
    let expires = t0 + TimeDelta::seconds(60);
    store
        .compare_and_swap("acct", None, failures(3, t0), expires, t0)
        .await
        .unwrap();
    assert_eq!(
        store
            .get("acct", expires - TimeDelta::milliseconds(1))
            .await
            .unwrap(),
        Some(failures(3, t0))
    );
    assert_eq!(store.get("acct", expires).await.unwrap(), None);
    // Expired by `now`, so "expected none" holds and the swap writes.
    assert!(
        store
            .compare_and_swap(
                "acct",
                None,
                failures(1, expires),
                expires + TimeDelta::seconds(60),
                expires
            )
            .await
            .unwrap()
    );
    assert_eq!(
        store.get("acct", expires).await.unwrap(),
        Some(failures(1, expires))
    );
    // A record that expires at once is not kept at all.
    assert!(
        store
            .compare_and_swap("gone", None, bucket(1, t0), t0, t0)
            .await
            .unwrap()
    );
    assert_eq!(
        store.get("gone", t0 - TimeDelta::seconds(1)).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn concurrent_swaps_on_one_key_have_exactly_one_winner() {
    let Some(redis) = TestRedis::shared() else {
        return;
    };
    let t0 = now();
    let expires = t0 + TimeDelta::seconds(60);
    let mut tasks = Vec::new();
    for tokens in 0..16 {
        let store = RedisThrottleStore::new(redis.connection());
        tasks.push(tokio::spawn(async move {
            store
                .compare_and_swap("race", None, bucket(tokens, t0), expires, t0)
                .await
                .unwrap()
        }));
    }
    let mut winners = 0;
    for task in tasks {
        winners += usize::from(task.await.unwrap());
    }
    assert_eq!(winners, 1);
}

#[tokio::test]
async fn every_key_lives_under_the_prefix() {
    let Some(redis) = TestRedis::shared() else {
        return;
    };
    let t0 = now();
    activity(&redis).record(session(9), t0).await.unwrap();
    let list = RedisRevocationList::new(redis.connection());
    list.insert(session(9), t0 + TimeDelta::minutes(1))
        .await
        .unwrap();
    list.mark_restored().await.unwrap();
    RedisThrottleStore::new(redis.connection())
        .compare_and_swap(
            "ip:login:127.0.0.1",
            None,
            bucket(1, t0),
            t0 + TimeDelta::minutes(1),
            t0,
        )
        .await
        .unwrap();
    assert_eq!(redis.key_count(), 4);
}

/// A connection to a port where nothing listens.
fn nowhere() -> RedisConnection {
    let url = format!("redis://127.0.0.1:{}", spare_port());
    RedisConnection::open(&url, "tessera-test:nowhere:", DEFAULT_COMMAND_TIMEOUT).unwrap()
}

#[tokio::test]
async fn an_unreachable_redis_is_unavailable_at_once_and_then_not_asked_for_a_moment() {
    let connection = nowhere();
    let store = RedisActivityStore::new(
        connection.clone(),
        TimeDelta::seconds(60),
        TimeDelta::days(7),
    );
    let started = std::time::Instant::now();
    let result = store.last_seen(session(1)).await;
    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
    let result = store.record(session(1), now()).await;
    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
    let result = RedisRevocationList::new(connection.clone())
        .contains(session(1), now())
        .await;
    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    let health = RedisHealth::new(connection);
    assert_eq!(health.name(), "redis");
    assert!(
        !health.essential(),
        "Redis has fallbacks: it degrades, never blocks"
    );
    assert!(matches!(health.check().await, Err(Error::Unavailable(_))));
}

#[tokio::test]
async fn the_adapters_recover_by_themselves_when_redis_comes_back() {
    let mut server = RedisServer::start();
    let connection = RedisConnection::open(
        &server.url(),
        "tessera-test:outage:",
        DEFAULT_COMMAND_TIMEOUT,
    )
    .unwrap();
    let store = RedisActivityStore::new(
        connection.clone(),
        TimeDelta::seconds(60),
        TimeDelta::days(7),
    );
    let list = RedisRevocationList::new(connection.clone());
    let health = RedisHealth::new(connection.clone());
    let t0 = now();
    store.record(session(1), t0).await.unwrap();
    list.mark_restored().await.unwrap();
    list.insert(session(2), t0 + TimeDelta::minutes(5))
        .await
        .unwrap();
    health.check().await.unwrap();

    server.kill();
    let started = std::time::Instant::now();
    let result = store.last_seen(session(1)).await;
    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
    let result = list.contains(session(2), t0).await;
    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
    assert!(health.check().await.is_err());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );

    // Back, but empty (no persistence): the list refuses to answer until restored,
    // rather than answer "not revoked" for a revocation it lost.
    server.restart();
    let mut recovered = false;
    for _ in 0..50 {
        if health.check().await.is_ok() {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the health check never saw Redis again");
    assert_eq!(store.last_seen(session(1)).await.unwrap(), None);
    let result = list.contains(session(2), t0).await;
    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
    assert!(!list.is_restored().await.unwrap());
    list.insert(session(2), t0 + TimeDelta::minutes(5))
        .await
        .unwrap();
    list.mark_restored().await.unwrap();
    assert!(list.contains(session(2), t0).await.unwrap());
    // Activity lost with Redis comes back with the session's next write; meanwhile
    // the idle check uses the last refresh.
    store
        .record(session(1), t0 + TimeDelta::seconds(60))
        .await
        .unwrap();
    assert_eq!(
        store.last_seen(session(1)).await.unwrap(),
        Some(t0 + TimeDelta::seconds(60)),
    );
}

#[tokio::test]
async fn a_failed_activity_write_is_retried_by_the_next_request() {
    let mut server = RedisServer::start();
    let connection = RedisConnection::open(
        &server.url(),
        "tessera-test:retry:",
        DEFAULT_COMMAND_TIMEOUT,
    )
    .unwrap();
    let store = RedisActivityStore::new(
        connection.clone(),
        TimeDelta::seconds(60),
        TimeDelta::days(7),
    );
    server.kill();
    let t0 = now();
    assert!(store.record(session(1), t0).await.is_err());
    server.restart();
    tokio::time::sleep(PAUSE_AFTER_FAILURE).await;
    let health = RedisHealth::new(connection);
    for _ in 0..50 {
        if health.check().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    store
        .record(session(1), t0 + TimeDelta::seconds(1))
        .await
        .unwrap();
    assert_eq!(
        store.last_seen(session(1)).await.unwrap(),
        Some(t0 + TimeDelta::seconds(1)),
    );
}
