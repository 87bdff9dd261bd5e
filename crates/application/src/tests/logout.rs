//! Logout: the session ends in storage, in the revocation list and in the activity
//! store.

use tessera_domain::{RevocationReason, Session, TimeDelta};

use super::support::{
    Mocks, SESSION_ID, USER_ID, client, live_session, minutes, now, principal, unavailable,
};
use crate::{AuthEventKind, Error};

fn session_found(mocks: &mut Mocks, session: Option<Session>) {
    mocks
        .sessions
        .expect_find_session()
        .withf(|id| *id == SESSION_ID)
        .times(1)
        .return_once(move |_| Ok(session));
}

fn revoked_for_logout(mocks: &mut Mocks) {
    mocks
        .sessions
        .expect_revoke()
        .withf(|id, reason, at| {
            *id == SESSION_ID && *reason == RevocationReason::Logout && *at == now()
        })
        .times(1)
        .returning(|_, _, _| Ok(true));
}

#[tokio::test]
async fn logout_revokes_the_session_and_bars_its_access_tokens_until_the_last_one_expires() {
    let mut mocks = Mocks::new();
    session_found(&mut mocks, Some(live_session()));
    revoked_for_logout(&mut mocks);
    mocks
        .revocations
        .expect_insert()
        .withf(|id, until| {
            *id == SESSION_ID && *until == now() + minutes(15) + TimeDelta::seconds(30)
        })
        .times(1)
        .returning(|_, _| Ok(()));
    mocks
        .activity
        .expect_forget()
        .withf(|id| *id == SESSION_ID)
        .times(1)
        .returning(|_| Ok(()));
    let (service, audit) = mocks.build();

    service.logout(&principal(), &client()).await.unwrap();

    let event = audit.only();
    assert_eq!(event.kind, AuthEventKind::Logout);
    assert_eq!(event.user_id, Some(USER_ID));
    assert_eq!(event.session_id, Some(SESSION_ID));
    assert_eq!(event.at, now());
}

#[tokio::test]
async fn near_the_session_end_the_revocation_is_kept_only_until_that_end() {
    let mut session = live_session();
    session.absolute_expires_at = now() + minutes(4);
    let mut mocks = Mocks::new();
    session_found(&mut mocks, Some(session));
    revoked_for_logout(&mut mocks);
    mocks
        .revocations
        .expect_insert()
        .withf(|id, until| {
            *id == SESSION_ID && *until == now() + minutes(4) + TimeDelta::seconds(30)
        })
        .times(1)
        .returning(|_, _| Ok(()));
    mocks.activity.expect_forget().returning(|_| Ok(()));
    let (service, _audit) = mocks.build();

    service.logout(&principal(), &client()).await.unwrap();
}

#[tokio::test]
async fn logging_out_of_an_unknown_session_is_not_found_and_revokes_nothing() {
    let mut mocks = Mocks::new();
    session_found(&mut mocks, None);
    mocks.sessions.expect_revoke().never();
    mocks.revocations.expect_insert().never();
    mocks.activity.expect_forget().never();
    let (service, audit) = mocks.build();

    let result = service.logout(&principal(), &client()).await;

    assert!(
        matches!(result, Err(Error::NotFound("session"))),
        "{result:?}"
    );
    assert!(audit.events().is_empty());
}

#[tokio::test]
async fn unreachable_revocation_list_and_activity_store_do_not_fail_logout() {
    let mut mocks = Mocks::new();
    session_found(&mut mocks, Some(live_session()));
    revoked_for_logout(&mut mocks);
    mocks
        .revocations
        .expect_insert()
        .times(1)
        .returning(|_, _| Err(unavailable()));
    mocks
        .activity
        .expect_forget()
        .times(1)
        .returning(|_| Err(unavailable()));
    let (service, audit) = mocks.build();

    service.logout(&principal(), &client()).await.unwrap();

    assert_eq!(audit.kinds(), vec![AuthEventKind::Logout]);
}

#[tokio::test]
async fn a_session_store_failure_fails_logout_before_any_cache_is_touched() {
    let mut mocks = Mocks::new();
    session_found(&mut mocks, Some(live_session()));
    mocks
        .sessions
        .expect_revoke()
        .times(1)
        .returning(|_, _, _| Err(unavailable()));
    mocks.revocations.expect_insert().never();
    mocks.activity.expect_forget().never();
    let (service, audit) = mocks.build();

    let result = service.logout(&principal(), &client()).await;

    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
    assert!(audit.events().is_empty());
}

#[tokio::test]
async fn a_session_store_that_cannot_be_read_fails_logout() {
    let mut mocks = Mocks::new();
    mocks
        .sessions
        .expect_find_session()
        .times(1)
        .returning(|_| Err(unavailable()));
    mocks.sessions.expect_revoke().never();
    let (service, _audit) = mocks.build();

    let result = service.logout(&principal(), &client()).await;

    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
}

#[tokio::test]
async fn logging_out_a_session_that_already_ended_is_refused_and_changes_nothing() {
    let mut mocks = Mocks::new();
    let mut session = live_session();
    session.revoke(RevocationReason::Logout, now() - minutes(1));
    session_found(&mut mocks, Some(session));
    mocks.sessions.expect_revoke().never();
    mocks.revocations.expect_insert().never();
    let (service, audit) = mocks.build();

    let result = service.logout(&principal(), &client()).await;

    assert!(
        matches!(
            result,
            Err(Error::Unauthorized(crate::AccessDenial::SessionRevoked))
        ),
        "{result:?}"
    );
    assert!(audit.events().is_empty());
}

#[tokio::test]
async fn a_restart_refills_the_revocation_list_with_sessions_whose_tokens_may_still_live() {
    let mut mocks = Mocks::new();
    let horizon = minutes(15) + TimeDelta::seconds(30);
    let mut recent = live_session();
    recent.revoke(RevocationReason::Logout, now() - minutes(5));
    let mut lapsed = live_session();
    lapsed.id = tessera_domain::SessionId::from_uuid(uuid::Uuid::from_u128(7));
    // Revoked 16 min ago: its last token died 30 s ago, leeway included.
    lapsed.revoke(RevocationReason::Reuse, now() - minutes(16));
    mocks
        .sessions
        .expect_revoked_since()
        .withf(move |since| *since == now() - horizon)
        .times(1)
        .return_once(move |_| Ok(vec![recent, lapsed]));
    mocks
        .revocations
        .expect_insert()
        .withf(|id, until| {
            *id == SESSION_ID && *until == now() - minutes(5) + minutes(15) + TimeDelta::seconds(30)
        })
        .times(1)
        .returning(|_, _| Ok(()));
    let (service, _) = mocks.build();

    assert_eq!(service.restore_revocations().await.unwrap(), 1);
}

#[tokio::test]
async fn a_restart_that_cannot_read_the_revocations_fails_instead_of_starting_open() {
    let mut mocks = Mocks::new();
    mocks
        .sessions
        .expect_revoked_since()
        .times(1)
        .returning(|_| Err(unavailable()));
    let (service, _) = mocks.build();

    assert!(matches!(
        service.restore_revocations().await,
        Err(Error::Unavailable(_))
    ));
}

#[tokio::test]
async fn a_sync_after_a_long_outage_reads_back_only_as_far_as_a_token_can_live() {
    let mut mocks = Mocks::new();
    mocks
        .sessions
        .expect_revoked_since()
        .withf(|since| *since == now() - minutes(15) - TimeDelta::seconds(30))
        .times(1)
        .returning(|_| Ok(Vec::new()));
    let (service, _) = mocks.build();

    assert_eq!(service.sync_revocations(TimeDelta::MAX).await.unwrap(), 0);
}
