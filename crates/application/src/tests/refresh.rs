//! Refresh: rotation, the grace window for duplicates, reuse detection, and every
//! refusal of SPEC §2 in the words of the client.

use std::net::{IpAddr, Ipv4Addr};

use tessera_domain::{
    ClientContext, Instant, IpChangePolicy, RefreshRefusal, RevocationReason, TimeDelta,
};

use super::support::{
    MINTED_ID, Mocks, PARENT_ID, PRESENTED, SESSION_ID, TOKEN_ID, USER_ID, access_token, alice,
    client, days, minted, minutes, now, parent_hash, policy_with, presented, record, role,
    rotated_record, sealed, unavailable, winners_secrets,
};
use crate::ports::{RefreshTokenRecord, Rotation, RotationOutcome};
use crate::{AccessClaims, AuthEventKind, Error, GrantSecrets, TokenGrant};

/// `PRESENTED` parses, its id is found once with `record`, and its secret matches.
fn presenting(mocks: &mut Mocks, record: RefreshTokenRecord) {
    presenting_parsed(mocks);
    mocks
        .sessions
        .expect_find_refresh_token()
        .withf(|id| *id == PARENT_ID)
        .times(1)
        .return_once(move |_| Ok(Some(record)));
    mocks
        .refresh_tokens
        .expect_matches()
        .withf(|given, stored| given.id == PARENT_ID && *stored == parent_hash())
        .return_const(true);
}

fn presenting_parsed(mocks: &mut Mocks) {
    mocks
        .refresh_tokens
        .expect_parse()
        .withf(|given| given == PRESENTED)
        .times(1)
        .returning(|_| Some(presented()));
}

/// `client()` calling from another address.
fn client_from(ip: Ipv4Addr) -> ClientContext {
    ClientContext {
        ip: Some(IpAddr::V4(ip)),
        ..client()
    }
}

/// The activity store's answer about the session.
fn activity_seen(mocks: &mut Mocks, seen: Option<Instant>) {
    mocks
        .activity
        .expect_last_seen()
        .withf(|session| *session == SESSION_ID)
        .returning(move |_| Ok(seen));
}

fn activity_store_down(mocks: &mut Mocks) {
    mocks
        .activity
        .expect_last_seen()
        .returning(|_| Err(unavailable()));
}

/// Every access token signed is `access.next`.
fn access_token_signed(mocks: &mut Mocks) {
    mocks
        .access_tokens
        .expect_issue()
        .returning(|_| Ok(access_token("access.next")));
}

/// One rotation is prepared (successor minted, response sealed) and written, ending
/// with `outcome`; the access token is left to the test.
fn rotation_ends(mocks: &mut Mocks, outcome: RotationOutcome) {
    mocks.refresh_tokens.expect_mint().returning(minted);
    mocks
        .refresh_tokens
        .expect_seal()
        .returning(|_, _| Ok(sealed()));
    mocks
        .sessions
        .expect_rotate()
        .times(1)
        .returning(move |_| Ok(outcome));
}

/// The activity of a successful rotation is recorded once, at `now`.
fn activity_recorded(mocks: &mut Mocks) {
    mocks
        .activity
        .expect_record()
        .withf(|session, at| *session == SESSION_ID && *at == now())
        .times(1)
        .returning(|_, _| Ok(()));
}

/// Nothing is minted, signed, sealed, opened or written.
fn nothing_written(mocks: &mut Mocks) {
    nothing_written_but_open(mocks);
    mocks.refresh_tokens.expect_open().never();
}

/// Nothing is minted, signed, sealed or written; a sealed response may be opened.
fn nothing_written_but_open(mocks: &mut Mocks) {
    mocks.refresh_tokens.expect_mint().never();
    mocks.refresh_tokens.expect_seal().never();
    mocks.access_tokens.expect_issue().never();
    mocks.sessions.expect_rotate().never();
    mocks.sessions.expect_revoke().never();
    mocks.revocations.expect_insert().never();
    mocks.activity.expect_record().never();
    mocks.activity.expect_forget().never();
}

/// Presents the token with no writes allowed, and checks the answer is `refusal`,
/// audited once as `RefreshRefused` with the refusal's code, session and user.
async fn assert_refused_without_writes(mut mocks: Mocks, refusal: RefreshRefusal) {
    nothing_written(&mut mocks);
    let (service, audit) = mocks.build();

    let result = service.refresh(PRESENTED, &client()).await;

    match result {
        Err(Error::Refused(actual)) => assert_eq!(actual, refusal),
        other => panic!("expected Refused({refusal:?}), got {other:?}"),
    }
    let event = audit.only();
    assert_eq!(event.kind, AuthEventKind::RefreshRefused);
    assert_eq!(event.code, Some(refusal.code()));
    assert_eq!(event.at, now());
    assert_eq!(event.session_id, Some(SESSION_ID));
    assert_eq!(event.user_id, Some(USER_ID));
    assert_eq!(event.client, client());
}

/// A known token whose stored state is `record`, with no recorded activity.
fn refusing(record: RefreshTokenRecord) -> Mocks {
    let mut mocks = Mocks::new();
    presenting(&mut mocks, record);
    activity_seen(&mut mocks, None);
    mocks
}

#[tokio::test]
async fn garbage_is_refused_as_invalid_without_touching_storage() {
    let mut mocks = Mocks::new();
    mocks
        .refresh_tokens
        .expect_parse()
        .withf(|given| given == "not a token")
        .times(1)
        .returning(|_| None);
    mocks.sessions.expect_find_refresh_token().never();
    mocks.activity.expect_last_seen().never();
    nothing_written(&mut mocks);
    let (service, audit) = mocks.build();

    let result = service.refresh("not a token", &client()).await;

    assert!(
        matches!(result, Err(Error::Refused(RefreshRefusal::TokenInvalid))),
        "{result:?}"
    );
    let event = audit.only();
    assert_eq!(event.kind, AuthEventKind::RefreshRefused);
    assert_eq!(event.code, Some("refresh_token_invalid"));
    assert_eq!(event.session_id, None);
}

#[tokio::test]
async fn an_unknown_token_id_is_refused_as_invalid() {
    let mut mocks = Mocks::new();
    presenting_parsed(&mut mocks);
    mocks
        .sessions
        .expect_find_refresh_token()
        .times(1)
        .returning(|_| Ok(None));
    mocks.refresh_tokens.expect_matches().never();
    nothing_written(&mut mocks);
    let (service, audit) = mocks.build();

    let result = service.refresh(PRESENTED, &client()).await;

    assert!(
        matches!(result, Err(Error::Refused(RefreshRefusal::TokenInvalid))),
        "{result:?}"
    );
    assert_eq!(audit.only().session_id, None);
}

#[tokio::test]
async fn a_token_whose_secret_does_not_match_is_refused_as_invalid_and_nothing_is_written() {
    let mut mocks = Mocks::new();
    presenting_parsed(&mut mocks);
    mocks
        .sessions
        .expect_find_refresh_token()
        .times(1)
        .returning(|_| Ok(Some(record())));
    mocks
        .refresh_tokens
        .expect_matches()
        .times(1)
        .return_const(false);
    nothing_written(&mut mocks);
    let (service, audit) = mocks.build();

    let result = service.refresh(PRESENTED, &client()).await;

    assert!(
        matches!(result, Err(Error::Refused(RefreshRefusal::TokenInvalid))),
        "{result:?}"
    );
    // Nothing about the session is revealed to whoever guessed its token id.
    let event = audit.only();
    assert_eq!(event.session_id, None);
    assert_eq!(event.user_id, None);
}

#[tokio::test]
async fn a_fresh_token_rotates_to_the_next_generation_with_the_response_sealed_under_it() {
    let mut mocks = Mocks::new();
    presenting(&mut mocks, record());
    activity_seen(&mut mocks, Some(now() - minutes(2)));
    mocks
        .refresh_tokens
        .expect_mint()
        .times(1)
        .returning(minted);
    mocks
        .access_tokens
        .expect_issue()
        .times(1)
        .returning(|_| Ok(access_token("access.next")));
    mocks
        .refresh_tokens
        .expect_seal()
        .withf(|parent, secrets: &GrantSecrets| {
            parent.expose() == PRESENTED
                && *secrets
                    == GrantSecrets {
                        access_token: access_token("access.next"),
                        access_expires_at: now() + minutes(15),
                        refresh_token: minted().plain,
                    }
        })
        .times(1)
        .returning(|_, _| Ok(sealed()));
    mocks
        .sessions
        .expect_rotate()
        .withf(|rotation: &Rotation| {
            rotation.parent == PARENT_ID
                && rotation.session_id == SESSION_ID
                && rotation.now == now()
                && rotation.sealed_successor == sealed()
                && rotation.successor.id == MINTED_ID
                && rotation.successor.session_id == SESSION_ID
                && rotation.successor.generation == 5
                && rotation.successor.issued_at == now()
                && rotation.successor.used_at.is_none()
                && rotation.successor_hash == minted().hash
        })
        .times(1)
        .returning(|_| Ok(RotationOutcome::Rotated));
    activity_recorded(&mut mocks);
    mocks.sessions.expect_revoke().never();
    let (service, audit) = mocks.build();

    let grant = service.refresh(PRESENTED, &client()).await.unwrap();

    assert_eq!(
        grant,
        TokenGrant {
            user_id: USER_ID,
            session_id: SESSION_ID,
            access_token: access_token("access.next"),
            expires_in: minutes(15),
            refresh_token: minted().plain,
            refresh_expires_in: days(7),
        }
    );
    let event = audit.only();
    assert_eq!(event.kind, AuthEventKind::Refreshed);
    assert_eq!(event.user_id, Some(USER_ID));
    assert_eq!(event.session_id, Some(SESSION_ID));
    assert_eq!(event.code, None);
}

#[tokio::test]
async fn a_rotated_access_token_carries_the_users_current_roles() {
    let mut record = record();
    let mut user = alice();
    user.roles = vec![role("auditor")];
    record.user = Some(user);
    let mut mocks = Mocks::new();
    presenting(&mut mocks, record);
    activity_seen(&mut mocks, None);
    rotation_ends(&mut mocks, RotationOutcome::Rotated);
    mocks
        .access_tokens
        .expect_issue()
        .withf(|claims: &AccessClaims| {
            *claims
                == AccessClaims {
                    user_id: USER_ID,
                    session_id: SESSION_ID,
                    token_id: TOKEN_ID,
                    issued_at: now(),
                    expires_at: now() + minutes(15),
                    roles: vec![role("auditor")],
                }
        })
        .times(1)
        .returning(|_| Ok(access_token("access.next")));
    activity_recorded(&mut mocks);
    let (service, _audit) = mocks.build();

    let grant = service.refresh(PRESENTED, &client()).await.unwrap();

    assert_eq!(grant.access_token, access_token("access.next"));
}

#[tokio::test]
async fn near_the_absolute_end_both_lifetimes_stop_at_the_session_end() {
    let mut record = record();
    record.session.absolute_expires_at = now() + minutes(5);
    let mut mocks = Mocks::new();
    presenting(&mut mocks, record);
    activity_seen(&mut mocks, None);
    rotation_ends(&mut mocks, RotationOutcome::Rotated);
    mocks
        .access_tokens
        .expect_issue()
        .withf(|claims: &AccessClaims| claims.expires_at == now() + minutes(5))
        .times(1)
        .returning(|_| Ok(access_token("access.next")));
    activity_recorded(&mut mocks);
    let (service, _audit) = mocks.build();

    let grant = service.refresh(PRESENTED, &client()).await.unwrap();

    assert_eq!(grant.expires_in, minutes(5));
    assert_eq!(grant.refresh_expires_in, minutes(5));
}

#[tokio::test]
async fn a_duplicate_inside_the_grace_window_gets_the_first_response_without_a_new_rotation() {
    let rotated_at = now() - TimeDelta::seconds(3);
    let mut mocks = Mocks::new();
    presenting(&mut mocks, rotated_record(TimeDelta::seconds(3)));
    activity_seen(&mut mocks, None);
    mocks
        .refresh_tokens
        .expect_open()
        .withf(|parent, blob| parent.expose() == PRESENTED && *blob == sealed())
        .times(1)
        .returning(move |_, _| Some(winners_secrets(rotated_at)));
    nothing_written_but_open(&mut mocks);
    let (service, audit) = mocks.build();

    let grant = service.refresh(PRESENTED, &client()).await.unwrap();

    assert_eq!(grant.access_token, access_token("access.winner"));
    assert_eq!(
        grant.refresh_token,
        winners_secrets(rotated_at).refresh_token
    );
    // The same access token, so it has three seconds less to live.
    assert_eq!(grant.expires_in, minutes(15) - TimeDelta::seconds(3));
    assert_eq!(grant.session_id, SESSION_ID);
    let event = audit.only();
    assert_eq!(event.kind, AuthEventKind::RefreshRepeated);
    assert_eq!(event.session_id, Some(SESSION_ID));
}

#[tokio::test]
async fn a_request_that_loses_the_rotation_race_gets_the_winners_sealed_response() {
    let mut mocks = Mocks::new();
    presenting_parsed(&mut mocks);
    // First read: unused. The write loses; the second read sees the winner's rotation.
    mocks
        .sessions
        .expect_find_refresh_token()
        .times(1)
        .returning(|_| Ok(Some(record())));
    mocks
        .sessions
        .expect_find_refresh_token()
        .times(1)
        .returning(|_| Ok(Some(rotated_record(TimeDelta::zero()))));
    mocks.refresh_tokens.expect_matches().return_const(true);
    activity_seen(&mut mocks, None);
    access_token_signed(&mut mocks);
    rotation_ends(&mut mocks, RotationOutcome::Lost);
    mocks
        .refresh_tokens
        .expect_open()
        .withf(|parent, blob| parent.expose() == PRESENTED && *blob == sealed())
        .times(1)
        .returning(|_, _| Some(winners_secrets(now())));
    mocks.activity.expect_record().never();
    mocks.sessions.expect_revoke().never();
    let (service, audit) = mocks.build();

    let grant = service.refresh(PRESENTED, &client()).await.unwrap();

    assert_eq!(grant.access_token, access_token("access.winner"));
    assert_eq!(grant.refresh_token, winners_secrets(now()).refresh_token);
    assert_eq!(grant.expires_in, minutes(15));
    assert_eq!(audit.kinds(), vec![AuthEventKind::RefreshRepeated]);
}

#[tokio::test]
async fn losing_the_rotation_race_three_times_is_an_unexpected_error() {
    let mut mocks = Mocks::new();
    presenting_parsed(&mut mocks);
    mocks
        .sessions
        .expect_find_refresh_token()
        .times(3)
        .returning(|_| Ok(Some(record())));
    mocks.refresh_tokens.expect_matches().return_const(true);
    activity_seen(&mut mocks, None);
    access_token_signed(&mut mocks);
    mocks
        .refresh_tokens
        .expect_mint()
        .times(3)
        .returning(minted);
    mocks
        .refresh_tokens
        .expect_seal()
        .times(3)
        .returning(|_, _| Ok(sealed()));
    mocks
        .sessions
        .expect_rotate()
        .times(3)
        .returning(|_| Ok(RotationOutcome::Lost));
    mocks.activity.expect_record().never();
    let (service, audit) = mocks.build();

    let result = service.refresh(PRESENTED, &client()).await;

    assert!(matches!(result, Err(Error::Unexpected(_))), "{result:?}");
    assert!(!audit.kinds().contains(&AuthEventKind::Refreshed));
}

#[tokio::test]
async fn a_replay_after_the_grace_window_revokes_the_session_and_is_refused_as_reused() {
    let mut mocks = Mocks::new();
    presenting(&mut mocks, rotated_record(TimeDelta::seconds(11)));
    activity_seen(&mut mocks, None);
    mocks
        .sessions
        .expect_revoke()
        .withf(|session, reason, at| {
            *session == SESSION_ID && *reason == RevocationReason::Reuse && *at == now()
        })
        .times(1)
        .returning(|_, _, _| Ok(true));
    mocks
        .revocations
        .expect_insert()
        .withf(|session, until| {
            *session == SESSION_ID && *until == now() + minutes(15) + TimeDelta::seconds(30)
        })
        .times(1)
        .returning(|_, _| Ok(()));
    mocks
        .activity
        .expect_forget()
        .withf(|session| *session == SESSION_ID)
        .times(1)
        .returning(|_| Ok(()));
    mocks.refresh_tokens.expect_open().never();
    mocks.refresh_tokens.expect_mint().never();
    mocks.sessions.expect_rotate().never();
    mocks.activity.expect_record().never();
    let (service, audit) = mocks.build();

    let result = service.refresh(PRESENTED, &client()).await;

    assert!(
        matches!(result, Err(Error::Refused(RefreshRefusal::Reused))),
        "{result:?}"
    );
    let events = audit.events();
    let reuse = events
        .iter()
        .find(|event| event.kind == AuthEventKind::ReuseDetected)
        .expect("reuse is audited");
    assert_eq!(reuse.code, Some("refresh_token_reused"));
    assert_eq!(reuse.session_id, Some(SESSION_ID));
    assert_eq!(reuse.user_id, Some(USER_ID));
    assert_eq!(
        audit.kinds(),
        vec![AuthEventKind::ReuseDetected],
        "one event per decision"
    );
}

#[tokio::test]
async fn a_reuse_that_cannot_be_revoked_is_reported_as_an_outage_not_as_a_refusal() {
    let mut mocks = Mocks::new();
    presenting(&mut mocks, rotated_record(TimeDelta::minutes(30)));
    activity_seen(&mut mocks, None);
    mocks
        .sessions
        .expect_revoke()
        .times(1)
        .returning(|_, _, _| Err(unavailable()));
    mocks.revocations.expect_insert().never();
    mocks.activity.expect_forget().never();
    let (service, _audit) = mocks.build();

    let result = service.refresh(PRESENTED, &client()).await;

    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
}

#[tokio::test]
async fn a_revoked_session_is_refused_without_writes() {
    let mut record = record();
    record
        .session
        .revoke(RevocationReason::Logout, now() - minutes(1));
    assert_refused_without_writes(refusing(record), RefreshRefusal::SessionRevoked).await;
}

#[tokio::test]
async fn a_session_at_its_absolute_end_is_refused_without_writes() {
    let mut record = record();
    record.session.absolute_expires_at = now();
    assert_refused_without_writes(refusing(record), RefreshRefusal::LifetimeExceeded).await;
}

#[tokio::test]
async fn a_session_idle_for_the_idle_timeout_is_refused_without_writes() {
    let mut record = record();
    record.session.last_refreshed_at = now() - days(7);
    assert_refused_without_writes(refusing(record), RefreshRefusal::IdleTimeout).await;
}

#[tokio::test]
async fn a_disabled_user_is_refused_without_writes() {
    let mut record = record();
    if let Some(user) = &mut record.user {
        user.disabled_at = Some(now() - minutes(1));
    }
    assert_refused_without_writes(refusing(record), RefreshRefusal::UserDisabled).await;
}

#[tokio::test]
async fn a_deleted_user_is_refused_as_disabled_without_writes() {
    let mut record = record();
    record.user = None;
    assert_refused_without_writes(refusing(record), RefreshRefusal::UserDisabled).await;
}

#[tokio::test]
async fn another_user_agent_is_refused_when_sessions_are_bound_to_it() {
    let mut record = record();
    record.session.client.user_agent = Some("curl/8.5.0".to_owned());
    let mut mocks = refusing(record);
    mocks.policy = policy_with(|settings| settings.bind_user_agent = true);
    assert_refused_without_writes(mocks, RefreshRefusal::ClientMismatch).await;
}

#[tokio::test]
async fn another_ip_is_refused_when_ip_changes_are_denied() {
    let mut record = record();
    record.session.client.ip = Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)));
    let mut mocks = refusing(record);
    mocks.policy = policy_with(|settings| settings.ip_change = IpChangePolicy::Deny);
    assert_refused_without_writes(mocks, RefreshRefusal::ClientMismatch).await;
}

#[tokio::test]
async fn with_the_activity_store_down_a_session_idle_since_its_last_refresh_is_refused() {
    let mut record = record();
    record.session.last_refreshed_at = now() - days(7) - minutes(1);
    let mut mocks = Mocks::new();
    presenting(&mut mocks, record);
    activity_store_down(&mut mocks);
    assert_refused_without_writes(mocks, RefreshRefusal::IdleTimeout).await;
}

#[tokio::test]
async fn with_the_activity_store_down_a_recently_refreshed_session_still_rotates() {
    let mut mocks = Mocks::new();
    presenting(&mut mocks, record());
    activity_store_down(&mut mocks);
    access_token_signed(&mut mocks);
    rotation_ends(&mut mocks, RotationOutcome::Rotated);
    mocks
        .activity
        .expect_record()
        .times(1)
        .returning(|_, _| Err(unavailable()));
    let (service, audit) = mocks.build();

    let grant = service.refresh(PRESENTED, &client()).await.unwrap();

    assert_eq!(grant.refresh_token, minted().plain);
    assert_eq!(audit.kinds(), vec![AuthEventKind::Refreshed]);
    assert_eq!(
        audit.events()[0].code,
        Some("activity_unavailable"),
        "the audit trail says the idle check fell back to the last refresh"
    );
}

#[tokio::test]
async fn recorded_activity_newer_than_the_last_refresh_keeps_the_session_alive() {
    let mut record = record();
    record.session.last_refreshed_at = now() - days(8);
    let mut mocks = Mocks::new();
    presenting(&mut mocks, record);
    activity_seen(&mut mocks, Some(now() - minutes(1)));
    access_token_signed(&mut mocks);
    rotation_ends(&mut mocks, RotationOutcome::Rotated);
    activity_recorded(&mut mocks);
    let (service, _audit) = mocks.build();

    let grant = service.refresh(PRESENTED, &client()).await.unwrap();

    assert_eq!(grant.refresh_token, minted().plain);
}

#[tokio::test]
async fn a_rotated_token_inside_the_window_without_a_sealed_response_is_an_error_not_a_panic() {
    let mut record = rotated_record(TimeDelta::seconds(1));
    record.sealed_successor = None;
    let mut mocks = Mocks::new();
    presenting(&mut mocks, record);
    activity_seen(&mut mocks, None);
    nothing_written(&mut mocks);
    let (service, audit) = mocks.build();

    let result = service.refresh(PRESENTED, &client()).await;

    assert!(matches!(result, Err(Error::Unexpected(_))), "{result:?}");
    assert!(audit.events().is_empty());
}

#[tokio::test]
async fn a_sealed_response_that_does_not_open_with_the_presented_token_is_an_error() {
    let mut mocks = Mocks::new();
    presenting(&mut mocks, rotated_record(TimeDelta::seconds(1)));
    activity_seen(&mut mocks, None);
    mocks
        .refresh_tokens
        .expect_open()
        .times(1)
        .returning(|_, _| None);
    nothing_written_but_open(&mut mocks);
    let (service, _audit) = mocks.build();

    let result = service.refresh(PRESENTED, &client()).await;

    assert!(matches!(result, Err(Error::Unexpected(_))), "{result:?}");
}

#[tokio::test]
async fn with_ip_changes_audited_a_refresh_from_another_ip_rotates_and_says_so() {
    let other_ip = client_from(Ipv4Addr::new(203, 0, 113, 99));
    let mut mocks = Mocks::new();
    mocks.policy = policy_with(|settings| settings.ip_change = IpChangePolicy::Audit);
    presenting(&mut mocks, record());
    activity_seen(&mut mocks, None);
    access_token_signed(&mut mocks);
    rotation_ends(&mut mocks, RotationOutcome::Rotated);
    activity_recorded(&mut mocks);
    let (service, audit) = mocks.build();

    let grant = service.refresh(PRESENTED, &other_ip).await.unwrap();

    assert_eq!(grant.refresh_token, minted().plain);
    let event = audit.only();
    assert_eq!(event.kind, AuthEventKind::Refreshed);
    assert_eq!(event.code, Some("ip_changed"));
    assert_eq!(event.client, other_ip);
}

#[tokio::test]
async fn a_failed_rotation_write_fails_the_refresh_and_records_no_activity() {
    let mut mocks = Mocks::new();
    presenting(&mut mocks, record());
    activity_seen(&mut mocks, None);
    mocks.refresh_tokens.expect_mint().returning(minted);
    mocks
        .access_tokens
        .expect_issue()
        .returning(|_| Ok(access_token("access.next")));
    mocks
        .refresh_tokens
        .expect_seal()
        .returning(|_, _| Ok(sealed()));
    mocks
        .sessions
        .expect_rotate()
        .times(1)
        .returning(|_| Err(unavailable()));
    mocks.activity.expect_record().never();
    let (service, audit) = mocks.build();

    let result = service.refresh(PRESENTED, &client()).await;

    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
    assert!(audit.events().is_empty());
}

#[tokio::test]
async fn a_response_that_cannot_be_sealed_is_never_rotated() {
    let mut mocks = Mocks::new();
    presenting(&mut mocks, record());
    activity_seen(&mut mocks, None);
    mocks.refresh_tokens.expect_mint().returning(minted);
    mocks
        .access_tokens
        .expect_issue()
        .returning(|_| Ok(access_token("access.next")));
    mocks
        .refresh_tokens
        .expect_seal()
        .times(1)
        .returning(|_, _| Err(Error::unexpected("aead failure")));
    mocks.sessions.expect_rotate().never();
    let (service, _audit) = mocks.build();

    let result = service.refresh(PRESENTED, &client()).await;

    assert!(matches!(result, Err(Error::Unexpected(_))), "{result:?}");
}
