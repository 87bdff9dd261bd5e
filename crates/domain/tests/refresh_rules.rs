//! SPEC §2 refresh rules 1–8, each at its boundaries and in its order, with a fixed
//! injected `now`; plus the session and token helpers the rules rely on.

#![allow(
    clippy::expect_used,
    reason = "a fixture that cannot be built is a failed test"
)]

use std::net::{IpAddr, Ipv4Addr};

use tessera_domain::{
    ClientContext, Instant, IpChangePolicy, RefreshAction, RefreshAttempt, RefreshDecision,
    RefreshRefusal, RefreshToken, RefreshTokenId, RevocationReason, Session, SessionId,
    SessionPolicy, SessionPolicySettings, TimeDelta, UserId, UserStanding,
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

fn policy_with(edit: impl FnOnce(&mut SessionPolicySettings)) -> SessionPolicy {
    let mut settings = short_settings();
    edit(&mut settings);
    SessionPolicy::try_from(settings).expect("a valid test policy")
}

fn short_policy() -> SessionPolicy {
    policy_with(|_| {})
}

fn laptop() -> ClientContext {
    ClientContext {
        ip: Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7))),
        user_agent: Some("Mozilla/5.0 Firefox/128.0".to_owned()),
    }
}

fn laptop_on_another_network() -> ClientContext {
    ClientContext {
        ip: Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 23))),
        ..laptop()
    }
}

fn other_browser() -> ClientContext {
    ClientContext {
        user_agent: Some("curl/8.5.0".to_owned()),
        ..laptop()
    }
}

fn session_id(n: u128) -> SessionId {
    SessionId::from_uuid(Uuid::from_u128(n))
}

fn token_id(n: u128) -> RefreshTokenId {
    RefreshTokenId::from_uuid(Uuid::from_u128(n))
}

/// One refresh request against one session, every input explicit.
struct Scenario {
    policy: SessionPolicy,
    session: Session,
    token: RefreshToken,
    user: UserStanding,
    recorded_activity: Option<Instant>,
    client: ClientContext,
    now: Instant,
}

impl Scenario {
    /// A session of the short policy started at `t0` from the laptop; its first token,
    /// unused, presented from the same laptop one minute later by an active user.
    fn new() -> Self {
        Self::with_policy(short_policy())
    }

    fn with_policy(policy: SessionPolicy) -> Self {
        let session = Session::start(
            session_id(1),
            UserId::from_uuid(Uuid::from_u128(7)),
            laptop(),
            t0(),
            &policy,
        );
        let token = RefreshToken::first(token_id(1), session.id, t0());
        Self {
            policy,
            session,
            token,
            user: UserStanding::Active,
            recorded_activity: None,
            client: laptop(),
            now: t0() + minutes(1),
        }
    }

    fn at(mut self, now: Instant) -> Self {
        self.now = now;
        self
    }

    fn activity_recorded_at(mut self, seen: Instant) -> Self {
        self.recorded_activity = Some(seen);
        self
    }

    fn last_refreshed_at(mut self, at: Instant) -> Self {
        self.session.last_refreshed_at = at;
        self
    }

    fn revoked(mut self, reason: RevocationReason) -> Self {
        self.session.revoke(reason, t0() + minutes(1));
        self
    }

    fn token_used_at(mut self, used_at: Instant) -> Self {
        self.token.used_at = Some(used_at);
        self
    }

    fn token_of_session(mut self, other: SessionId) -> Self {
        self.token.session_id = other;
        self
    }

    fn user(mut self, standing: UserStanding) -> Self {
        self.user = standing;
        self
    }

    fn requested_from(mut self, client: ClientContext) -> Self {
        self.client = client;
        self
    }

    fn decide(&self) -> Result<RefreshDecision, RefreshRefusal> {
        self.policy.decide_refresh(Some(RefreshAttempt {
            token: &self.token,
            session: &self.session,
            user: self.user,
            recorded_activity: self.recorded_activity,
            client: &self.client,
            now: self.now,
        }))
    }

    fn refusal(&self) -> RefreshRefusal {
        match self.decide() {
            Err(refusal) => refusal,
            Ok(decision) => panic!("expected a refusal, got {decision:?}"),
        }
    }

    fn action(&self) -> RefreshAction {
        match self.decide() {
            Ok(decision) => decision.action,
            Err(refusal) => panic!("expected an accepted refresh, got {refusal:?}"),
        }
    }

    fn absolute_end(&self) -> Instant {
        self.session.absolute_expires_at
    }
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
// Rule 1: unknown token
// ---------------------------------------------------------------------------------

#[test]
fn an_unknown_token_is_refused_as_invalid() {
    assert_eq!(
        short_policy().decide_refresh(None),
        Err(RefreshRefusal::TokenInvalid)
    );
}

#[test]
fn a_token_of_another_session_is_refused_as_invalid() {
    let scenario = Scenario::new().token_of_session(session_id(2));
    assert_eq!(scenario.refusal(), RefreshRefusal::TokenInvalid);
}

#[test]
fn a_fresh_token_of_its_own_session_is_rotated() {
    assert_eq!(
        Scenario::new().decide(),
        Ok(RefreshDecision {
            action: RefreshAction::Rotate,
            ip_changed: false,
        })
    );
}

// ---------------------------------------------------------------------------------
// Rule 2: revoked session
// ---------------------------------------------------------------------------------

#[test]
fn a_session_revoked_for_any_reason_is_refused() {
    for reason in ALL_REASONS {
        let scenario = Scenario::new().revoked(reason);
        assert_eq!(
            scenario.refusal(),
            RefreshRefusal::SessionRevoked,
            "revoked for {reason:?}"
        );
    }
}

#[test]
fn a_session_ended_by_disabling_its_user_says_user_disabled_while_the_user_stays_disabled() {
    let disabled = Scenario::new()
        .revoked(RevocationReason::UserDisabled)
        .user(UserStanding::Disabled);
    assert_eq!(disabled.refusal(), RefreshRefusal::UserDisabled);
    // Re-enabled: the ended session stays ended, and says so.
    let re_enabled = Scenario::new()
        .revoked(RevocationReason::UserDisabled)
        .user(UserStanding::Active);
    assert_eq!(re_enabled.refusal(), RefreshRefusal::SessionRevoked);
    // A session ended for another reason is revoked, whatever the user's standing.
    let logged_out = Scenario::new()
        .revoked(RevocationReason::Logout)
        .user(UserStanding::Disabled);
    assert_eq!(logged_out.refusal(), RefreshRefusal::SessionRevoked);
}

#[test]
fn recent_activity_does_not_revive_a_revoked_session() {
    let scenario = Scenario::new()
        .revoked(RevocationReason::Logout)
        .activity_recorded_at(t0() + minutes(1));
    assert_eq!(scenario.refusal(), RefreshRefusal::SessionRevoked);
}

// ---------------------------------------------------------------------------------
// Rule 3: absolute lifetime
// ---------------------------------------------------------------------------------

#[test]
fn session_start_fixes_the_absolute_end_at_login_plus_absolute_lifetime() {
    let scenario = Scenario::new();
    assert_eq!(scenario.session.created_at, t0());
    assert_eq!(scenario.absolute_end(), t0() + TimeDelta::hours(1));
    assert_eq!(scenario.session.last_refreshed_at, t0());
    assert_eq!(scenario.session.revoked_at, None);
    assert_eq!(scenario.session.revocation_reason, None);
    assert_eq!(scenario.session.client, laptop());
}

#[test]
fn refresh_exactly_at_the_absolute_end_is_refused() {
    let end = Scenario::new().absolute_end();
    let scenario = Scenario::new()
        .activity_recorded_at(end - minutes(1))
        .at(end);
    assert_eq!(scenario.refusal(), RefreshRefusal::LifetimeExceeded);
}

#[test]
fn refresh_one_microsecond_before_the_absolute_end_is_accepted() {
    let end = Scenario::new().absolute_end();
    let scenario = Scenario::new()
        .activity_recorded_at(end - minutes(1))
        .at(end - micros(1));
    assert_eq!(scenario.action(), RefreshAction::Rotate);
}

#[test]
fn refresh_long_after_the_absolute_end_is_refused_even_with_activity_in_the_future() {
    let end = Scenario::new().absolute_end();
    let scenario = Scenario::new()
        .last_refreshed_at(end + minutes(5))
        .activity_recorded_at(end + TimeDelta::days(1))
        .at(end + minutes(10));
    assert_eq!(scenario.refusal(), RefreshRefusal::LifetimeExceeded);
}

#[test]
fn a_longer_absolute_lifetime_configured_later_does_not_extend_a_running_session() {
    let end = Scenario::new().absolute_end();
    let mut scenario = Scenario::new()
        .activity_recorded_at(end - minutes(1))
        .at(end);
    scenario.policy = policy_with(|s| s.absolute_lifetime = TimeDelta::hours(5));
    assert_eq!(scenario.refusal(), RefreshRefusal::LifetimeExceeded);
}

// ---------------------------------------------------------------------------------
// Rule 4: idle timeout
// ---------------------------------------------------------------------------------

#[test]
fn refresh_exactly_at_last_activity_plus_idle_timeout_is_refused() {
    let scenario = Scenario::new().at(t0() + minutes(10));
    assert_eq!(scenario.refusal(), RefreshRefusal::IdleTimeout);
}

#[test]
fn refresh_one_microsecond_before_the_idle_timeout_is_accepted() {
    let scenario = Scenario::new().at(t0() + minutes(10) - micros(1));
    assert_eq!(scenario.action(), RefreshAction::Rotate);
}

#[test]
fn without_an_activity_record_the_idle_timeout_runs_from_the_last_refresh() {
    let refreshed = t0() + minutes(20);
    let before = Scenario::new()
        .last_refreshed_at(refreshed)
        .at(refreshed + minutes(10) - micros(1));
    let at = Scenario::new()
        .last_refreshed_at(refreshed)
        .at(refreshed + minutes(10));
    assert_eq!(before.action(), RefreshAction::Rotate);
    assert_eq!(at.refusal(), RefreshRefusal::IdleTimeout);
}

#[test]
fn an_activity_record_older_than_the_last_refresh_does_not_shorten_the_idle_window() {
    let refreshed = t0() + minutes(20);
    let stale = Scenario::new()
        .last_refreshed_at(refreshed)
        .activity_recorded_at(t0() + minutes(1));
    let before = stale.at(refreshed + minutes(10) - micros(1));
    assert_eq!(before.action(), RefreshAction::Rotate);
    let at = Scenario::new()
        .last_refreshed_at(refreshed)
        .activity_recorded_at(t0() + minutes(1))
        .at(refreshed + minutes(10));
    assert_eq!(at.refusal(), RefreshRefusal::IdleTimeout);
}

#[test]
fn an_activity_record_newer_than_the_last_refresh_extends_the_idle_window() {
    let refreshed = t0() + minutes(20);
    let seen = t0() + minutes(25);
    let before = Scenario::new()
        .last_refreshed_at(refreshed)
        .activity_recorded_at(seen)
        .at(seen + minutes(10) - micros(1));
    let at = Scenario::new()
        .last_refreshed_at(refreshed)
        .activity_recorded_at(seen)
        .at(seen + minutes(10));
    assert_eq!(before.action(), RefreshAction::Rotate);
    assert_eq!(at.refusal(), RefreshRefusal::IdleTimeout);
}

#[test]
fn last_activity_is_the_later_of_the_record_and_the_last_refresh() {
    let session = Scenario::new()
        .last_refreshed_at(t0() + minutes(20))
        .session;
    assert_eq!(session.last_activity(None), t0() + minutes(20));
    assert_eq!(
        session.last_activity(Some(t0() + minutes(5))),
        t0() + minutes(20)
    );
    assert_eq!(
        session.last_activity(Some(t0() + minutes(30))),
        t0() + minutes(30)
    );
}

// ---------------------------------------------------------------------------------
// Rule 5: user standing
// ---------------------------------------------------------------------------------

#[test]
fn a_disabled_user_cannot_refresh() {
    let scenario = Scenario::new().user(UserStanding::Disabled);
    assert_eq!(scenario.refusal(), RefreshRefusal::UserDisabled);
}

// ---------------------------------------------------------------------------------
// Rule 6: client binding
// ---------------------------------------------------------------------------------

#[test]
fn with_user_agent_binding_another_user_agent_is_a_client_mismatch() {
    let scenario = Scenario::with_policy(policy_with(|s| s.bind_user_agent = true))
        .requested_from(other_browser());
    assert_eq!(scenario.refusal(), RefreshRefusal::ClientMismatch);
}

#[test]
fn with_user_agent_binding_a_missing_user_agent_is_a_client_mismatch() {
    let scenario = Scenario::with_policy(policy_with(|s| s.bind_user_agent = true)).requested_from(
        ClientContext {
            user_agent: None,
            ..laptop()
        },
    );
    assert_eq!(scenario.refusal(), RefreshRefusal::ClientMismatch);
}

#[test]
fn with_user_agent_binding_the_same_user_agent_is_accepted() {
    let scenario =
        Scenario::with_policy(policy_with(|s| s.bind_user_agent = true)).requested_from(laptop());
    assert_eq!(scenario.action(), RefreshAction::Rotate);
}

#[test]
fn without_user_agent_binding_another_user_agent_is_accepted() {
    let scenario = Scenario::new().requested_from(other_browser());
    assert_eq!(scenario.action(), RefreshAction::Rotate);
}

#[test]
fn ip_change_allow_accepts_another_ip_without_flagging_it() {
    let scenario = Scenario::new().requested_from(laptop_on_another_network());
    assert_eq!(
        scenario.decide(),
        Ok(RefreshDecision {
            action: RefreshAction::Rotate,
            ip_changed: false,
        })
    );
}

#[test]
fn ip_change_audit_accepts_another_ip_and_flags_it() {
    let scenario = Scenario::with_policy(policy_with(|s| s.ip_change = IpChangePolicy::Audit))
        .requested_from(laptop_on_another_network());
    assert_eq!(
        scenario.decide(),
        Ok(RefreshDecision {
            action: RefreshAction::Rotate,
            ip_changed: true,
        })
    );
}

#[test]
fn ip_change_audit_does_not_flag_the_same_ip() {
    let scenario = Scenario::with_policy(policy_with(|s| s.ip_change = IpChangePolicy::Audit));
    assert_eq!(
        scenario.decide(),
        Ok(RefreshDecision {
            action: RefreshAction::Rotate,
            ip_changed: false,
        })
    );
}

#[test]
fn ip_change_audit_flags_another_ip_on_a_repeat_within_grace_too() {
    let used = t0() + minutes(1);
    let scenario = Scenario::with_policy(policy_with(|s| s.ip_change = IpChangePolicy::Audit))
        .token_used_at(used)
        .at(used + TimeDelta::seconds(1))
        .requested_from(laptop_on_another_network());
    assert_eq!(
        scenario.decide(),
        Ok(RefreshDecision {
            action: RefreshAction::RepeatWithinGrace,
            ip_changed: true,
        })
    );
}

#[test]
fn ip_change_deny_refuses_another_ip() {
    let scenario = Scenario::with_policy(policy_with(|s| s.ip_change = IpChangePolicy::Deny))
        .requested_from(laptop_on_another_network());
    assert_eq!(scenario.refusal(), RefreshRefusal::ClientMismatch);
}

#[test]
fn ip_change_deny_accepts_the_same_ip() {
    let scenario = Scenario::with_policy(policy_with(|s| s.ip_change = IpChangePolicy::Deny));
    assert_eq!(scenario.action(), RefreshAction::Rotate);
}

// ---------------------------------------------------------------------------------
// Rule 7: a token that was already rotated
// ---------------------------------------------------------------------------------

#[test]
fn replay_one_microsecond_inside_the_grace_window_repeats_the_first_response() {
    let used = t0() + minutes(1);
    let scenario = Scenario::new()
        .token_used_at(used)
        .at(used + TimeDelta::seconds(10) - micros(1));
    assert_eq!(scenario.action(), RefreshAction::RepeatWithinGrace);
}

#[test]
fn replay_at_the_same_instant_as_the_rotation_repeats_the_first_response() {
    let used = t0() + minutes(1);
    let scenario = Scenario::new().token_used_at(used).at(used);
    assert_eq!(scenario.action(), RefreshAction::RepeatWithinGrace);
}

#[test]
fn replay_exactly_when_the_grace_window_ends_is_reuse() {
    let used = t0() + minutes(1);
    let scenario = Scenario::new()
        .token_used_at(used)
        .at(used + TimeDelta::seconds(10));
    assert_eq!(scenario.refusal(), RefreshRefusal::Reused);
}

#[test]
fn replay_after_grace_revokes_the_family() {
    let used = t0() + minutes(1);
    let refusal = Scenario::new()
        .token_used_at(used)
        .at(used + minutes(2))
        .refusal();
    assert_eq!(refusal, RefreshRefusal::Reused);
    assert!(refusal.revokes_session());
}

#[test]
fn with_zero_grace_any_replay_is_reuse() {
    let policy = policy_with(|s| s.reuse_grace = TimeDelta::zero());
    let used = t0() + minutes(1);
    for later in [TimeDelta::zero(), micros(1), TimeDelta::seconds(1)] {
        let scenario = Scenario::with_policy(policy.clone())
            .token_used_at(used)
            .at(used + later);
        assert_eq!(
            scenario.refusal(),
            RefreshRefusal::Reused,
            "replayed {later} after rotation"
        );
    }
}

// ---------------------------------------------------------------------------------
// Rule 8: rotation
// ---------------------------------------------------------------------------------

#[test]
fn an_unused_token_of_a_live_session_is_rotated_even_long_after_it_was_issued() {
    let scenario = Scenario::new()
        .activity_recorded_at(t0() + minutes(55))
        .at(t0() + minutes(59));
    assert_eq!(scenario.action(), RefreshAction::Rotate);
}

// ---------------------------------------------------------------------------------
// Order of the rules
// ---------------------------------------------------------------------------------

#[test]
fn a_foreign_token_is_invalid_before_its_session_is_found_revoked() {
    let scenario = Scenario::new()
        .revoked(RevocationReason::Admin)
        .token_of_session(session_id(2));
    assert_eq!(scenario.refusal(), RefreshRefusal::TokenInvalid);
}

#[test]
fn revoked_and_expired_is_reported_as_revoked() {
    let end = Scenario::new().absolute_end();
    let scenario = Scenario::new().revoked(RevocationReason::Logout).at(end);
    assert_eq!(scenario.refusal(), RefreshRefusal::SessionRevoked);
}

#[test]
fn expired_and_idle_is_reported_as_lifetime_exceeded() {
    let end = Scenario::new().absolute_end();
    // Last activity is the login, 1 h before: idle as well.
    let scenario = Scenario::new().at(end);
    assert_eq!(scenario.refusal(), RefreshRefusal::LifetimeExceeded);
}

#[test]
fn idle_and_disabled_is_reported_as_idle_timeout() {
    let scenario = Scenario::new()
        .user(UserStanding::Disabled)
        .at(t0() + minutes(10));
    assert_eq!(scenario.refusal(), RefreshRefusal::IdleTimeout);
}

#[test]
fn disabled_and_client_mismatch_is_reported_as_user_disabled() {
    let scenario = Scenario::with_policy(policy_with(|s| s.bind_user_agent = true))
        .user(UserStanding::Disabled)
        .requested_from(other_browser());
    assert_eq!(scenario.refusal(), RefreshRefusal::UserDisabled);
}

#[test]
fn client_mismatch_and_reuse_is_reported_as_client_mismatch() {
    let used = t0() + minutes(1);
    let scenario = Scenario::with_policy(policy_with(|s| s.ip_change = IpChangePolicy::Deny))
        .token_used_at(used)
        .at(used + minutes(2))
        .requested_from(laptop_on_another_network());
    assert_eq!(scenario.refusal(), RefreshRefusal::ClientMismatch);
}

#[test]
fn each_rule_is_reached_only_when_every_earlier_rule_passes() {
    let policy = policy_with(|s| {
        s.bind_user_agent = true;
        s.ip_change = IpChangePolicy::Deny;
    });
    let end = Scenario::with_policy(policy.clone()).absolute_end();
    // Every rule would refuse this one.
    let mut scenario = Scenario::with_policy(policy)
        .token_of_session(session_id(2))
        .revoked(RevocationReason::Admin)
        .at(end)
        .user(UserStanding::Disabled)
        .requested_from(ClientContext {
            ip: laptop_on_another_network().ip,
            user_agent: other_browser().user_agent,
        })
        .token_used_at(t0() + minutes(1));
    assert_eq!(scenario.refusal(), RefreshRefusal::TokenInvalid);

    scenario.token.session_id = scenario.session.id;
    assert_eq!(scenario.refusal(), RefreshRefusal::SessionRevoked);

    scenario.session.revoked_at = None;
    scenario.session.revocation_reason = None;
    assert_eq!(scenario.refusal(), RefreshRefusal::LifetimeExceeded);

    scenario.now = end - micros(1);
    assert_eq!(scenario.refusal(), RefreshRefusal::IdleTimeout);

    scenario.recorded_activity = Some(end - minutes(1));
    assert_eq!(scenario.refusal(), RefreshRefusal::UserDisabled);

    scenario.user = UserStanding::Active;
    assert_eq!(scenario.refusal(), RefreshRefusal::ClientMismatch);

    scenario.client.user_agent = laptop().user_agent;
    assert_eq!(scenario.refusal(), RefreshRefusal::ClientMismatch);

    scenario.client.ip = laptop().ip;
    assert_eq!(scenario.refusal(), RefreshRefusal::Reused);

    scenario.token.used_at = None;
    assert_eq!(scenario.action(), RefreshAction::Rotate);
}

// ---------------------------------------------------------------------------------
// Refusal codes
// ---------------------------------------------------------------------------------

#[test]
fn every_refusal_has_the_stable_code_of_the_spec() {
    let expected = [
        (RefreshRefusal::TokenInvalid, "refresh_token_invalid"),
        (RefreshRefusal::SessionRevoked, "session_revoked"),
        (
            RefreshRefusal::LifetimeExceeded,
            "session_lifetime_exceeded",
        ),
        (RefreshRefusal::IdleTimeout, "session_idle_timeout"),
        (RefreshRefusal::UserDisabled, "user_disabled"),
        (RefreshRefusal::ClientMismatch, "client_mismatch"),
        (RefreshRefusal::Reused, "refresh_token_reused"),
    ];
    for (refusal, code) in expected {
        assert_eq!(refusal.code(), code, "{refusal:?}");
    }
}

#[test]
fn only_reuse_revokes_the_session() {
    let all = [
        RefreshRefusal::TokenInvalid,
        RefreshRefusal::SessionRevoked,
        RefreshRefusal::LifetimeExceeded,
        RefreshRefusal::IdleTimeout,
        RefreshRefusal::UserDisabled,
        RefreshRefusal::ClientMismatch,
        RefreshRefusal::Reused,
    ];
    let revoking: Vec<_> = all
        .into_iter()
        .filter(|refusal| refusal.revokes_session())
        .collect();
    assert_eq!(revoking, vec![RefreshRefusal::Reused]);
}

#[test]
fn every_refusal_has_its_own_human_readable_message() {
    // The Display text is for people; it must say something, and differ per refusal.
    let messages: std::collections::BTreeSet<String> = [
        RefreshRefusal::TokenInvalid,
        RefreshRefusal::SessionRevoked,
        RefreshRefusal::LifetimeExceeded,
        RefreshRefusal::IdleTimeout,
        RefreshRefusal::UserDisabled,
        RefreshRefusal::ClientMismatch,
        RefreshRefusal::Reused,
    ]
    .into_iter()
    .map(|refusal| refusal.to_string())
    .collect();
    assert_eq!(messages.len(), 7);
    assert!(messages.iter().all(|message| message.contains(' ')));
}

// ---------------------------------------------------------------------------------
// Session helpers
// ---------------------------------------------------------------------------------

#[test]
fn refresh_expires_in_is_the_idle_timeout_while_the_absolute_end_is_far() {
    let scenario = Scenario::new();
    assert_eq!(
        scenario
            .session
            .refresh_expires_in(t0() + minutes(1), &scenario.policy),
        minutes(10)
    );
}

#[test]
fn refresh_expires_in_shrinks_to_the_time_left_before_the_absolute_end() {
    let scenario = Scenario::new();
    let end = scenario.absolute_end();
    let expires_in = |now| scenario.session.refresh_expires_in(now, &scenario.policy);
    assert_eq!(expires_in(end - minutes(10)), minutes(10));
    assert_eq!(expires_in(end - minutes(3)), minutes(3));
    assert_eq!(expires_in(end - micros(1)), micros(1));
}

#[test]
fn refresh_expires_in_is_never_negative() {
    let scenario = Scenario::new();
    let end = scenario.absolute_end();
    let expires_in = |now| scenario.session.refresh_expires_in(now, &scenario.policy);
    assert_eq!(expires_in(end), TimeDelta::zero());
    assert_eq!(expires_in(end + TimeDelta::days(3)), TimeDelta::zero());
}

#[test]
fn access_tokens_live_for_access_ttl() {
    let scenario = Scenario::new();
    let now = t0() + minutes(5);
    assert_eq!(
        scenario.session.access_expires_at(now, &scenario.policy),
        now + TimeDelta::seconds(60)
    );
}

#[test]
fn access_tokens_never_outlive_the_session() {
    let scenario = Scenario::new();
    let end = scenario.absolute_end();
    let expires_at = |now| scenario.session.access_expires_at(now, &scenario.policy);
    assert_eq!(expires_at(end - TimeDelta::seconds(60)), end);
    assert_eq!(expires_at(end - TimeDelta::seconds(20)), end);
    assert_eq!(
        expires_at(end - TimeDelta::seconds(61)),
        end - TimeDelta::seconds(1)
    );
}

#[test]
fn a_session_is_live_until_its_absolute_end_or_revocation() {
    let scenario = Scenario::new();
    let end = scenario.absolute_end();
    assert!(scenario.session.is_live_at(end - micros(1)));
    assert!(!scenario.session.is_live_at(end));
    let revoked = Scenario::new().revoked(RevocationReason::Logout).session;
    assert!(!revoked.is_live_at(t0() + minutes(2)));
}

#[test]
fn revoking_twice_keeps_the_first_reason_and_time() {
    let mut session = Scenario::new().session;
    session.revoke(RevocationReason::Reuse, t0() + minutes(3));
    session.revoke(RevocationReason::Logout, t0() + minutes(4));
    assert_eq!(session.revoked_at, Some(t0() + minutes(3)));
    assert_eq!(session.revocation_reason, Some(RevocationReason::Reuse));
}

#[test]
fn rotation_numbers_generations_one_two_three() {
    let session = session_id(1);
    let first = RefreshToken::first(token_id(1), session, t0());
    let second = first.successor(token_id(2), t0() + minutes(1));
    let third = second.successor(token_id(3), t0() + minutes(2));
    assert_eq!(
        [first.generation, second.generation, third.generation],
        [1, 2, 3]
    );
    assert_eq!(third.id, token_id(3));
    assert_eq!(third.session_id, session);
    assert_eq!(third.issued_at, t0() + minutes(2));
    assert_eq!(third.used_at, None);
    assert_eq!(first.issued_at, t0());
    assert_eq!(first.used_at, None);
}

#[test]
fn a_successor_is_unused_even_when_its_parent_is_used() {
    let mut parent = RefreshToken::first(token_id(1), session_id(1), t0());
    parent.used_at = Some(t0() + minutes(1));
    let child = parent.successor(token_id(2), t0() + minutes(1));
    assert_eq!(child.used_at, None);
    assert_eq!(child.session_id, parent.session_id);
}
