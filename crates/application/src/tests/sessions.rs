//! The session list, ending one session from it, and logout everywhere.

use tessera_domain::{RevocationReason, Session, SessionId, TimeDelta, UserId, device_label};
use uuid::Uuid;

use super::support::{
    Mocks, SESSION_ID, USER_ID, barred_until, client, days, live_session, minutes, now,
    phone_session, policy_with, principal, session_id, unavailable,
};
use crate::{AuthEventKind, Error, ServiceOptions, SessionOverview};

const PHONE_ID: SessionId = SessionId::from_uuid(Uuid::from_u128(0x0091_0E00));

/// `list_active_for_user(alice, now)` is asked once and answers `sessions`.
fn live_sessions(mocks: &mut Mocks, sessions: Vec<Session>) {
    mocks
        .sessions
        .expect_list_active_for_user()
        .withf(|user, at| *user == USER_ID && *at == now())
        .times(1)
        .return_once(move |_, _| Ok(sessions));
}

/// The activity store is asked once about `id` and answers `seen`.
fn activity_of(mocks: &mut Mocks, id: SessionId, seen: Option<tessera_domain::Instant>) {
    mocks
        .activity
        .expect_last_seen()
        .withf(move |session| *session == id)
        .times(1)
        .returning(move |_| Ok(seen));
}

fn session_found(mocks: &mut Mocks, id: SessionId, session: Option<Session>) {
    mocks
        .sessions
        .expect_find_session()
        .withf(move |given| *given == id)
        .times(1)
        .return_once(move |_| Ok(session));
}

/// A session of alice's, idle since `refreshed` unless activity says otherwise.
fn refreshed_at(n: u128, refreshed: tessera_domain::Instant) -> Session {
    Session {
        id: session_id(n),
        created_at: refreshed - days(1),
        absolute_expires_at: refreshed + days(29),
        last_refreshed_at: refreshed,
        ..live_session()
    }
}

// ---------------------------------------------------------------------------------
// list_sessions
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn the_list_shows_each_active_session_with_its_device_last_use_and_the_current_one() {
    let mut phone = phone_session(PHONE_ID);
    phone.created_at = now() - days(1);
    let mut mocks = Mocks::new();
    live_sessions(&mut mocks, vec![phone.clone(), live_session()]);
    activity_of(&mut mocks, PHONE_ID, None);
    activity_of(&mut mocks, SESSION_ID, Some(now() - minutes(2)));
    let (service, audit) = mocks.build();

    let listed = service.list_sessions(&principal()).await.unwrap();

    assert_eq!(
        listed,
        vec![
            SessionOverview {
                device: "Safari on iOS".to_owned(),
                last_used_at: phone.last_refreshed_at,
                current: false,
                session: phone,
            },
            SessionOverview {
                device: device_label(client().user_agent.as_deref()),
                last_used_at: now() - minutes(2),
                current: true,
                session: live_session(),
            },
        ]
    );
    assert!(audit.events().is_empty(), "reading the list is not audited");
}

#[tokio::test]
async fn idle_sessions_are_left_out_of_the_list_unless_recorded_activity_keeps_them() {
    let idle = refreshed_at(3, now() - days(8));
    let kept_by_activity = refreshed_at(4, now() - days(8));
    let idle_exactly_now = refreshed_at(5, now() - days(7));
    let mut mocks = Mocks::new();
    live_sessions(
        &mut mocks,
        vec![idle, kept_by_activity.clone(), idle_exactly_now],
    );
    activity_of(&mut mocks, session_id(3), None);
    activity_of(&mut mocks, session_id(4), Some(now() - days(1)));
    activity_of(&mut mocks, session_id(5), None);
    let (service, _audit) = mocks.build();

    let listed = service.list_sessions(&principal()).await.unwrap();

    let ids: Vec<SessionId> = listed.iter().map(|overview| overview.session.id).collect();
    assert_eq!(ids, vec![session_id(4)]);
    assert_eq!(listed[0].last_used_at, now() - days(1));
    assert_eq!(listed[0].session, kept_by_activity);
}

#[tokio::test]
async fn the_idle_timeout_of_the_list_is_the_configured_one() {
    let mut mocks = Mocks::new();
    mocks.policy = policy_with(|settings| settings.idle_timeout = minutes(30));
    // Refreshed an hour ago and not seen since: idle under a 30-minute timeout.
    live_sessions(&mut mocks, vec![live_session()]);
    activity_of(&mut mocks, SESSION_ID, None);
    let (service, _audit) = mocks.build();

    assert_eq!(service.list_sessions(&principal()).await.unwrap(), vec![]);
}

#[tokio::test]
async fn last_use_is_the_last_refresh_when_the_activity_record_is_older() {
    let mut mocks = Mocks::new();
    live_sessions(&mut mocks, vec![live_session()]);
    activity_of(&mut mocks, SESSION_ID, Some(now() - minutes(180)));
    let (service, _audit) = mocks.build();

    let listed = service.list_sessions(&principal()).await.unwrap();

    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].last_used_at, live_session().last_refreshed_at);
}

#[tokio::test]
async fn an_unreachable_activity_store_falls_back_to_the_last_refresh_and_fails_closed() {
    let stale = refreshed_at(3, now() - days(8));
    let mut mocks = Mocks::new();
    live_sessions(&mut mocks, vec![live_session(), stale]);
    mocks
        .activity
        .expect_last_seen()
        .times(2)
        .returning(|_| Err(unavailable()));
    let (service, _audit) = mocks.build();

    let listed = service.list_sessions(&principal()).await.unwrap();

    // The stale one may have been used lately, but without the record it is idle.
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].session.id, SESSION_ID);
    assert_eq!(listed[0].last_used_at, live_session().last_refreshed_at);
    assert!(listed[0].current);
}

#[tokio::test]
async fn a_user_without_live_sessions_gets_an_empty_list_and_no_activity_lookups() {
    let mut mocks = Mocks::new();
    live_sessions(&mut mocks, vec![]);
    mocks.activity.expect_last_seen().never();
    let (service, _audit) = mocks.build();

    assert_eq!(service.list_sessions(&principal()).await.unwrap(), vec![]);
}

#[tokio::test]
async fn a_session_store_failure_fails_the_list() {
    let mut mocks = Mocks::new();
    mocks
        .sessions
        .expect_list_active_for_user()
        .times(1)
        .returning(|_, _| Err(unavailable()));
    mocks.activity.expect_last_seen().never();
    let (service, _audit) = mocks.build();

    let result = service.list_sessions(&principal()).await;

    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
}

// ---------------------------------------------------------------------------------
// revoke_session
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn ending_one_of_ones_other_sessions_revokes_it_everywhere_and_audits_it() {
    let mut mocks = Mocks::new();
    session_found(&mut mocks, PHONE_ID, Some(phone_session(PHONE_ID)));
    mocks
        .sessions
        .expect_revoke()
        .withf(|id, reason, at| {
            *id == PHONE_ID && *reason == RevocationReason::Logout && *at == now()
        })
        .times(1)
        .returning(|_, _, _| Ok(true));
    mocks.expect_sessions_forgotten(&[PHONE_ID], barred_until());
    let (service, audit) = mocks.build();

    service
        .revoke_session(&principal(), PHONE_ID, &client())
        .await
        .unwrap();

    let event = audit.only();
    assert_eq!(event.kind, AuthEventKind::SessionRevoked);
    assert_eq!(event.at, now());
    assert_eq!(event.user_id, Some(USER_ID));
    assert_eq!(event.session_id, Some(PHONE_ID));
    assert_eq!(event.client, client());
    assert_eq!(event.code, None);
    assert_eq!(event.actor, None);
}

#[tokio::test]
async fn ending_another_users_session_is_not_found_and_writes_nothing() {
    let mut someone_elses = phone_session(PHONE_ID);
    someone_elses.user_id = UserId::from_uuid(Uuid::from_u128(0xB0B));
    let mut mocks = Mocks::new();
    session_found(&mut mocks, PHONE_ID, Some(someone_elses));
    mocks.sessions.expect_revoke().never();
    mocks.expect_sessions_forgotten(&[], barred_until());
    let (service, audit) = mocks.build();

    let result = service
        .revoke_session(&principal(), PHONE_ID, &client())
        .await;

    assert!(
        matches!(result, Err(Error::NotFound("session"))),
        "{result:?}"
    );
    assert!(audit.events().is_empty());
}

#[tokio::test]
async fn ending_an_unknown_session_is_not_found_and_writes_nothing() {
    let mut mocks = Mocks::new();
    session_found(&mut mocks, PHONE_ID, None);
    mocks.sessions.expect_revoke().never();
    mocks.expect_sessions_forgotten(&[], barred_until());
    let (service, audit) = mocks.build();

    let result = service
        .revoke_session(&principal(), PHONE_ID, &client())
        .await;

    assert!(
        matches!(result, Err(Error::NotFound("session"))),
        "{result:?}"
    );
    assert!(audit.events().is_empty());
}

#[tokio::test]
async fn ending_a_session_that_already_ended_is_not_found_and_writes_nothing() {
    let mut revoked = phone_session(PHONE_ID);
    revoked.revoke(RevocationReason::Reuse, now() - days(1));
    let mut expired = refreshed_at(3, now() - days(31));
    expired.absolute_expires_at = now();
    for ended in [revoked, expired] {
        let id = ended.id;
        let mut mocks = Mocks::new();
        session_found(&mut mocks, id, Some(ended));
        mocks.sessions.expect_revoke().never();
        mocks.expect_sessions_forgotten(&[], barred_until());
        let (service, audit) = mocks.build();

        let result = service.revoke_session(&principal(), id, &client()).await;

        assert!(
            matches!(result, Err(Error::NotFound("session"))),
            "{result:?}"
        );
        assert!(audit.events().is_empty(), "no second revocation is audited");
    }
}

#[tokio::test]
async fn a_session_store_failure_fails_ending_a_session_before_any_cache_or_audit() {
    let mut mocks = Mocks::new();
    session_found(&mut mocks, PHONE_ID, Some(phone_session(PHONE_ID)));
    mocks
        .sessions
        .expect_revoke()
        .times(1)
        .returning(|_, _, _| Err(unavailable()));
    mocks.expect_sessions_forgotten(&[], barred_until());
    let (service, audit) = mocks.build();

    let result = service
        .revoke_session(&principal(), PHONE_ID, &client())
        .await;

    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
    assert!(audit.events().is_empty());
}

// ---------------------------------------------------------------------------------
// logout_all
// ---------------------------------------------------------------------------------

/// `revoke_all_for_user(alice, None, LogoutAll, now)` is asked once and answers `ended`.
fn all_revoked(mocks: &mut Mocks, ended: Vec<SessionId>) {
    mocks
        .sessions
        .expect_revoke_all_for_user()
        .withf(|user, keep, reason, at| {
            *user == USER_ID
                && keep.is_none()
                && *reason == RevocationReason::LogoutAll
                && *at == now()
        })
        .times(1)
        .return_once(move |_, _, _, _| Ok(ended));
}

#[tokio::test]
async fn logout_all_ends_every_session_this_one_included_and_counts_them() {
    let mut mocks = Mocks::new();
    all_revoked(&mut mocks, vec![SESSION_ID, PHONE_ID]);
    mocks.expect_sessions_forgotten(&[SESSION_ID, PHONE_ID], barred_until());
    let (service, audit) = mocks.build();

    let ended = service.logout_all(&principal(), &client()).await.unwrap();

    assert_eq!(ended, 2);
    let event = audit.only();
    assert_eq!(event.kind, AuthEventKind::LogoutAll);
    assert_eq!(event.at, now());
    assert_eq!(event.user_id, Some(USER_ID));
    assert_eq!(event.session_id, Some(SESSION_ID));
    assert_eq!(event.code, None);
    assert_eq!(event.actor, None);
}

#[tokio::test]
async fn logout_all_bars_the_sessions_for_the_configured_access_lifetime_and_leeway() {
    let mut mocks = Mocks::new();
    mocks.policy = policy_with(|settings| settings.access_ttl = minutes(5));
    mocks.options = ServiceOptions {
        clock_leeway: TimeDelta::seconds(90),
        ..ServiceOptions::default()
    };
    all_revoked(&mut mocks, vec![PHONE_ID]);
    mocks.expect_sessions_forgotten(&[PHONE_ID], now() + minutes(5) + TimeDelta::seconds(90));
    let (service, _audit) = mocks.build();

    assert_eq!(
        service.logout_all(&principal(), &client()).await.unwrap(),
        1
    );
}

#[tokio::test]
async fn logout_all_without_live_sessions_ends_none_and_is_still_audited() {
    let mut mocks = Mocks::new();
    all_revoked(&mut mocks, vec![]);
    mocks.expect_sessions_forgotten(&[], barred_until());
    let (service, audit) = mocks.build();

    assert_eq!(
        service.logout_all(&principal(), &client()).await.unwrap(),
        0
    );
    assert_eq!(audit.kinds(), vec![AuthEventKind::LogoutAll]);
}

#[tokio::test]
async fn unreachable_caches_do_not_stop_logout_all_from_reaching_every_session() {
    let mut mocks = Mocks::new();
    all_revoked(&mut mocks, vec![SESSION_ID, PHONE_ID]);
    mocks
        .revocations
        .expect_insert()
        .times(2)
        .returning(|_, _| Err(unavailable()));
    mocks
        .activity
        .expect_forget()
        .times(2)
        .returning(|_| Err(unavailable()));
    let (service, audit) = mocks.build();

    assert_eq!(
        service.logout_all(&principal(), &client()).await.unwrap(),
        2
    );
    assert_eq!(audit.kinds(), vec![AuthEventKind::LogoutAll]);
}

#[tokio::test]
async fn a_session_store_failure_fails_logout_all_before_any_cache_or_audit() {
    let mut mocks = Mocks::new();
    mocks
        .sessions
        .expect_revoke_all_for_user()
        .times(1)
        .returning(|_, _, _, _| Err(unavailable()));
    mocks.expect_sessions_forgotten(&[], barred_until());
    let (service, audit) = mocks.build();

    let result = service.logout_all(&principal(), &client()).await;

    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
    assert!(audit.events().is_empty());
}
