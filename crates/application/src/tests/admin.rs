//! Operator actions: only admins (through the API) and the operator (the `tessera`
//! command) may look users up, end their sessions and disable them; the audit trail
//! names the admin who acted.

use tessera_domain::{RevocationReason, SessionId, User, UserId};

use super::support::{
    ADMIN_ID, Mocks, SESSION_ID, USER_ID, admin, alice, barred_until, client, email, live_session,
    now, phone_session, principal, session_id, unavailable,
};
use crate::{Actor, AuthEvent, AuthEventKind, Error, SessionOverview};

/// `find_by_id(alice)` is asked once and answers `user`.
fn user_found(mocks: &mut Mocks, user: Option<User>) {
    mocks
        .users
        .expect_find_by_id()
        .withf(|id| *id == USER_ID)
        .times(1)
        .return_once(move |_| Ok(user));
}

/// `find_by_email(alice@example.com)` is asked once and answers `user`.
fn user_with_email(mocks: &mut Mocks, user: Option<User>) {
    mocks
        .users
        .expect_find_by_email()
        .withf(|given| *given == email())
        .times(1)
        .return_once(move |_| Ok(user));
}

/// `revoke_all_for_user(alice, None, reason, now)` is asked once and answers `ended`.
fn all_revoked(mocks: &mut Mocks, reason: RevocationReason, ended: Vec<SessionId>) {
    mocks
        .sessions
        .expect_revoke_all_for_user()
        .withf(move |user, keep, given, at| {
            *user == USER_ID && keep.is_none() && *given == reason && *at == now()
        })
        .times(1)
        .return_once(move |_, _, _, _| Ok(ended));
}

/// No port but the clock and the audit sink may be called.
fn no_port_is_called(mocks: &mut Mocks) {
    mocks.users.expect_find_by_email().never();
    mocks.users.expect_find_by_id().never();
    mocks.users.expect_set_disabled().never();
    mocks.sessions.expect_list_active_for_user().never();
    mocks.sessions.expect_revoke_all_for_user().never();
    mocks.expect_sessions_forgotten(&[], barred_until());
}

fn assert_forbidden<T: std::fmt::Debug>(result: Result<T, Error>) {
    assert!(
        matches!(result, Err(Error::Forbidden("admin"))),
        "{result:?}"
    );
}

/// The audit event an operator action on alice writes.
fn event_on_alice(
    kind: AuthEventKind,
    code: Option<&'static str>,
    actor: Option<UserId>,
) -> AuthEvent {
    AuthEvent {
        at: now(),
        kind,
        user_id: Some(USER_ID),
        session_id: None,
        client: client(),
        code,
        actor,
    }
}

// ---------------------------------------------------------------------------------
// Who may act
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_user_without_the_admin_role_is_forbidden_every_operator_action_and_no_port_is_called() {
    let mut mocks = Mocks::new();
    no_port_is_called(&mut mocks);
    let (service, audit) = mocks.build();
    let user = principal();
    let not_admin = Actor::Admin(&user);

    assert_forbidden(service.find_user(not_admin, &email()).await);
    assert_forbidden(service.sessions_of_user(not_admin, USER_ID).await);
    assert_forbidden(
        service
            .revoke_sessions_of_user(not_admin, USER_ID, &client())
            .await,
    );
    assert_forbidden(
        service
            .set_user_disabled(not_admin, USER_ID, true, &client())
            .await,
    );
    assert!(audit.events().is_empty());
}

#[tokio::test]
async fn an_admin_and_the_operator_may_look_a_user_up_by_email() {
    for actor in [Actor::Admin(&admin()), Actor::Operator] {
        let mut mocks = Mocks::new();
        user_with_email(&mut mocks, Some(alice()));
        let (service, audit) = mocks.build();

        assert_eq!(service.find_user(actor, &email()).await.unwrap(), alice());
        assert!(audit.events().is_empty(), "a look-up is not audited");
    }
}

#[tokio::test]
async fn looking_up_an_unknown_email_is_not_found() {
    let mut mocks = Mocks::new();
    user_with_email(&mut mocks, None);
    let (service, _audit) = mocks.build();

    let result = service.find_user(Actor::Operator, &email()).await;

    assert!(matches!(result, Err(Error::NotFound("user"))), "{result:?}");
}

#[tokio::test]
async fn user_by_email_answers_the_user_or_not_found() {
    let mut mocks = Mocks::new();
    user_with_email(&mut mocks, Some(alice()));
    let (service, _audit) = mocks.build();
    assert_eq!(service.user_by_email(&email()).await.unwrap(), alice());

    let mut mocks = Mocks::new();
    user_with_email(&mut mocks, None);
    let (service, _audit) = mocks.build();
    let result = service.user_by_email(&email()).await;
    assert!(matches!(result, Err(Error::NotFound("user"))), "{result:?}");
}

// ---------------------------------------------------------------------------------
// sessions_of_user
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn an_admin_sees_a_users_active_sessions_with_none_marked_current() {
    let phone = phone_session(session_id(2));
    let mut mocks = Mocks::new();
    user_found(&mut mocks, Some(alice()));
    mocks
        .sessions
        .expect_list_active_for_user()
        .withf(|user, at| *user == USER_ID && *at == now())
        .times(1)
        .return_once({
            let phone = phone.clone();
            move |_, _| Ok(vec![live_session(), phone])
        });
    mocks
        .activity
        .expect_last_seen()
        .times(2)
        .returning(|_| Ok(None));
    let (service, audit) = mocks.build();

    let listed = service
        .sessions_of_user(Actor::Admin(&admin()), USER_ID)
        .await
        .unwrap();

    let ids: Vec<SessionId> = listed.iter().map(|overview| overview.session.id).collect();
    assert_eq!(ids, vec![SESSION_ID, phone.id]);
    assert!(listed.iter().all(|overview| !overview.current));
    assert_eq!(
        listed[1],
        SessionOverview {
            device: "Safari on iOS".to_owned(),
            last_used_at: phone.last_refreshed_at,
            current: false,
            session: phone,
        }
    );
    assert!(audit.events().is_empty());
}

#[tokio::test]
async fn the_sessions_of_an_unknown_user_are_not_found_and_not_listed() {
    let mut mocks = Mocks::new();
    user_found(&mut mocks, None);
    mocks.sessions.expect_list_active_for_user().never();
    let (service, _audit) = mocks.build();

    let result = service.sessions_of_user(Actor::Operator, USER_ID).await;

    assert!(matches!(result, Err(Error::NotFound("user"))), "{result:?}");
}

// ---------------------------------------------------------------------------------
// revoke_sessions_of_user
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn an_admin_ends_every_session_of_a_user_and_is_named_in_the_audit_trail() {
    let ended = [SESSION_ID, session_id(2)];
    let mut mocks = Mocks::new();
    user_found(&mut mocks, Some(alice()));
    all_revoked(&mut mocks, RevocationReason::Admin, ended.to_vec());
    mocks.expect_sessions_forgotten(&ended, barred_until());
    let (service, audit) = mocks.build();

    let count = service
        .revoke_sessions_of_user(Actor::Admin(&admin()), USER_ID, &client())
        .await
        .unwrap();

    assert_eq!(count, 2);
    assert_eq!(
        audit.only(),
        event_on_alice(AuthEventKind::LogoutAll, Some("admin"), Some(ADMIN_ID))
    );
}

#[tokio::test]
async fn the_operator_ends_every_session_of_a_user_with_no_actor_in_the_audit_trail() {
    let mut mocks = Mocks::new();
    user_found(&mut mocks, Some(alice()));
    all_revoked(&mut mocks, RevocationReason::Admin, vec![SESSION_ID]);
    mocks.expect_sessions_forgotten(&[SESSION_ID], barred_until());
    let (service, audit) = mocks.build();

    let count = service
        .revoke_sessions_of_user(Actor::Operator, USER_ID, &client())
        .await
        .unwrap();

    assert_eq!(count, 1);
    assert_eq!(
        audit.only(),
        event_on_alice(AuthEventKind::LogoutAll, Some("admin"), None)
    );
}

#[tokio::test]
async fn ending_the_sessions_of_an_unknown_user_is_not_found_and_revokes_nothing() {
    let mut mocks = Mocks::new();
    user_found(&mut mocks, None);
    mocks.sessions.expect_revoke_all_for_user().never();
    mocks.expect_sessions_forgotten(&[], barred_until());
    let (service, audit) = mocks.build();

    let result = service
        .revoke_sessions_of_user(Actor::Admin(&admin()), USER_ID, &client())
        .await;

    assert!(matches!(result, Err(Error::NotFound("user"))), "{result:?}");
    assert!(audit.events().is_empty());
}

// ---------------------------------------------------------------------------------
// set_user_disabled
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn disabling_a_user_stamps_the_time_ends_every_session_and_names_the_admin() {
    let ended = [SESSION_ID, session_id(2)];
    let mut mocks = Mocks::new();
    mocks
        .users
        .expect_set_disabled()
        .withf(|id, at| *id == USER_ID && *at == Some(now()))
        .times(1)
        .returning(|_, _| Ok(()));
    all_revoked(&mut mocks, RevocationReason::UserDisabled, ended.to_vec());
    mocks.expect_sessions_forgotten(&ended, barred_until());
    let (service, audit) = mocks.build();

    service
        .set_user_disabled(Actor::Admin(&admin()), USER_ID, true, &client())
        .await
        .unwrap();

    assert_eq!(
        audit.only(),
        event_on_alice(AuthEventKind::UserDisabled, None, Some(ADMIN_ID))
    );
}

#[tokio::test]
async fn the_operator_disabling_a_user_is_audited_with_no_actor() {
    let mut mocks = Mocks::new();
    mocks
        .users
        .expect_set_disabled()
        .withf(|id, at| *id == USER_ID && *at == Some(now()))
        .times(1)
        .returning(|_, _| Ok(()));
    all_revoked(&mut mocks, RevocationReason::UserDisabled, vec![]);
    mocks.expect_sessions_forgotten(&[], barred_until());
    let (service, audit) = mocks.build();

    service
        .set_user_disabled(Actor::Operator, USER_ID, true, &client())
        .await
        .unwrap();

    assert_eq!(
        audit.only(),
        event_on_alice(AuthEventKind::UserDisabled, None, None)
    );
}

#[tokio::test]
async fn enabling_a_user_clears_the_stamp_and_ends_no_session() {
    for (actor, actor_id) in [
        (Actor::Admin(&admin()), Some(ADMIN_ID)),
        (Actor::Operator, None),
    ] {
        let mut mocks = Mocks::new();
        mocks
            .users
            .expect_set_disabled()
            .withf(|id, at| *id == USER_ID && at.is_none())
            .times(1)
            .returning(|_, _| Ok(()));
        mocks.sessions.expect_revoke_all_for_user().never();
        mocks.expect_sessions_forgotten(&[], barred_until());
        let (service, audit) = mocks.build();

        service
            .set_user_disabled(actor, USER_ID, false, &client())
            .await
            .unwrap();

        assert_eq!(
            audit.only(),
            event_on_alice(AuthEventKind::UserEnabled, None, actor_id)
        );
    }
}

#[tokio::test]
async fn disabling_an_unknown_user_is_not_found_ends_nothing_and_audits_nothing() {
    let mut mocks = Mocks::new();
    mocks
        .users
        .expect_set_disabled()
        .times(1)
        .returning(|_, _| Err(Error::NotFound("user")));
    mocks.sessions.expect_revoke_all_for_user().never();
    mocks.expect_sessions_forgotten(&[], barred_until());
    let (service, audit) = mocks.build();

    let result = service
        .set_user_disabled(Actor::Admin(&admin()), USER_ID, true, &client())
        .await;

    assert!(matches!(result, Err(Error::NotFound("user"))), "{result:?}");
    assert!(audit.events().is_empty());
}

#[tokio::test]
async fn a_session_store_failure_while_disabling_fails_and_is_not_audited_as_done() {
    let mut mocks = Mocks::new();
    mocks
        .users
        .expect_set_disabled()
        .times(1)
        .returning(|_, _| Ok(()));
    mocks
        .sessions
        .expect_revoke_all_for_user()
        .times(1)
        .returning(|_, _, _, _| Err(unavailable()));
    mocks.expect_sessions_forgotten(&[], barred_until());
    let (service, audit) = mocks.build();

    let result = service
        .set_user_disabled(Actor::Operator, USER_ID, true, &client())
        .await;

    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
    assert!(audit.events().is_empty());
}
