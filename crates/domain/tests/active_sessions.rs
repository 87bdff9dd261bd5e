//! `Session::is_active_at`: what session lists call "active" — live (rules 2–3 of
//! SPEC §2) and not idle (rule 4) — at its boundaries, with a fixed injected `now`.

#![allow(
    clippy::expect_used,
    reason = "a fixture that cannot be built is a failed test"
)]

use std::net::{IpAddr, Ipv4Addr};

use tessera_domain::{
    ClientContext, Instant, IpChangePolicy, RefreshAttempt, RefreshRefusal, RefreshToken,
    RefreshTokenId, RevocationReason, Session, SessionId, SessionPolicy, SessionPolicySettings,
    TimeDelta, UserId, UserStanding,
};
use uuid::Uuid;

// ---------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------

/// Login time of every scenario: 2025-01-01T00:00:00Z.
fn t0() -> Instant {
    Instant::from_timestamp(1_735_689_600, 0).expect("a valid instant")
}

fn micros(n: i64) -> TimeDelta {
    TimeDelta::microseconds(n)
}

fn minutes(n: i64) -> TimeDelta {
    TimeDelta::minutes(n)
}

/// Short lifetimes so boundaries are easy to read: access 60 s, idle 10 min,
/// absolute 1 h, grace 10 s; no binding.
fn short_settings() -> SessionPolicySettings {
    SessionPolicySettings {
        access_ttl: TimeDelta::seconds(60),
        idle_timeout: minutes(10),
        absolute_lifetime: TimeDelta::hours(1),
        reuse_grace: TimeDelta::seconds(10),
        bind_user_agent: false,
        ip_change: IpChangePolicy::Allow,
    }
}

fn short_policy() -> SessionPolicy {
    SessionPolicy::try_from(short_settings()).expect("a valid test policy")
}

fn laptop() -> ClientContext {
    ClientContext {
        ip: Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7))),
        user_agent: Some("Mozilla/5.0 Firefox/128.0".to_owned()),
    }
}

/// A session of the short policy started at `t0`, never refreshed since.
fn session() -> Session {
    Session::start(
        SessionId::from_uuid(Uuid::from_u128(1)),
        UserId::from_uuid(Uuid::from_u128(7)),
        laptop(),
        t0(),
        &short_policy(),
    )
}

fn is_active(session: &Session, recorded: Option<Instant>, now: Instant) -> bool {
    session.is_active_at(recorded, now, &short_policy())
}

const ALL_REASONS: [RevocationReason; 6] = [
    RevocationReason::Logout,
    RevocationReason::LogoutAll,
    RevocationReason::Admin,
    RevocationReason::PasswordChange,
    RevocationReason::Reuse,
    RevocationReason::UserDisabled,
];

// ---------------------------------------------------------------------------------
// Idle timeout
// ---------------------------------------------------------------------------------

#[test]
fn a_session_just_started_is_active() {
    assert!(is_active(&session(), None, t0()));
}

#[test]
fn a_session_exactly_at_its_idle_deadline_is_not_active() {
    assert!(!is_active(&session(), None, t0() + minutes(10)));
}

#[test]
fn a_session_one_microsecond_before_its_idle_deadline_is_active() {
    assert!(is_active(&session(), None, t0() + minutes(10) - micros(1)));
}

#[test]
fn recorded_activity_moves_the_idle_deadline() {
    let seen = t0() + minutes(7);
    let session = session();
    assert!(is_active(&session, Some(seen), t0() + minutes(12)));
    assert!(is_active(
        &session,
        Some(seen),
        seen + minutes(10) - micros(1)
    ));
    assert!(!is_active(&session, Some(seen), seen + minutes(10)));
}

#[test]
fn a_refresh_moves_the_idle_deadline_without_any_recorded_activity() {
    let mut session = session();
    session.last_refreshed_at = t0() + minutes(20);
    assert!(is_active(&session, None, t0() + minutes(30) - micros(1)));
    assert!(!is_active(&session, None, t0() + minutes(30)));
}

#[test]
fn recorded_activity_older_than_the_last_refresh_does_not_shorten_the_idle_window() {
    let mut session = session();
    session.last_refreshed_at = t0() + minutes(20);
    let stale = Some(t0() + minutes(2));
    assert!(is_active(&session, stale, t0() + minutes(25)));
    assert!(!is_active(&session, stale, t0() + minutes(30)));
}

#[test]
fn the_idle_timeout_comes_from_the_policy_it_is_given() {
    let relaxed = SessionPolicy::try_from(SessionPolicySettings {
        idle_timeout: minutes(30),
        ..short_settings()
    })
    .expect("a valid test policy");
    let session = session();
    assert!(session.is_active_at(None, t0() + minutes(20), &relaxed));
    assert!(!session.is_active_at(None, t0() + minutes(20), &short_policy()));
}

// ---------------------------------------------------------------------------------
// Revocation and absolute lifetime
// ---------------------------------------------------------------------------------

#[test]
fn a_revoked_session_is_not_active_whatever_the_reason_or_the_activity() {
    for reason in ALL_REASONS {
        let mut session = session();
        session.revoke(reason, t0() + minutes(1));
        assert!(
            !is_active(&session, Some(t0() + minutes(2)), t0() + minutes(2)),
            "revoked for {reason:?}"
        );
    }
}

#[test]
fn a_session_is_not_active_from_its_absolute_end_on_even_with_fresh_activity() {
    let mut session = session();
    let end = session.absolute_expires_at;
    session.last_refreshed_at = end - minutes(1);
    let fresh = Some(end - micros(1));
    assert!(is_active(&session, fresh, end - micros(1)));
    assert!(!is_active(&session, fresh, end));
    assert!(!is_active(
        &session,
        Some(end + minutes(1)),
        end + minutes(1)
    ));
}

// ---------------------------------------------------------------------------------
// Agreement with the refresh rules
// ---------------------------------------------------------------------------------

/// Whether rules 2–4 let a refresh of the session's fresh token through at `now`.
fn refresh_passes_rules_2_to_4(session: &Session, recorded: Option<Instant>, now: Instant) -> bool {
    let token = RefreshToken::first(
        RefreshTokenId::from_uuid(Uuid::from_u128(1)),
        session.id,
        session.created_at,
    );
    let refusal = short_policy()
        .decide_refresh(Some(RefreshAttempt {
            token: &token,
            session,
            user: UserStanding::Active,
            recorded_activity: recorded,
            client: &laptop(),
            now,
        }))
        .err();
    !matches!(
        refusal,
        Some(
            RefreshRefusal::SessionRevoked
                | RefreshRefusal::LifetimeExceeded
                | RefreshRefusal::IdleTimeout
        )
    )
}

#[test]
fn a_session_is_active_exactly_when_a_refresh_would_pass_rules_2_to_4() {
    let mut revoked = session();
    revoked.revoke(RevocationReason::Logout, t0() + minutes(30));
    let mut refreshed = session();
    refreshed.last_refreshed_at = t0() + minutes(45);
    let sessions = [session(), revoked, refreshed];
    let records = [None, Some(t0() + minutes(5)), Some(t0() + minutes(55))];
    for session in &sessions {
        for recorded in records {
            // Every half minute for 70 minutes, and 1 µs before each: every deadline
            // above falls on a whole minute.
            for now in (0..=140).flat_map(|step| {
                let at = t0() + TimeDelta::seconds(30 * step);
                [at - micros(1), at]
            }) {
                assert_eq!(
                    is_active(session, recorded, now),
                    refresh_passes_rules_2_to_4(session, recorded, now),
                    "{session:?} recorded {recorded:?} at {now}"
                );
            }
        }
    }
}
