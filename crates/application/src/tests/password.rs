//! Changing one's password: the current one is checked, the new one is stored hashed,
//! and every other session ends.

use mockall::Sequence;
use tessera_domain::{Password, RevocationReason, SessionId, User};

use super::support::{
    Mocks, SESSION_ID, USER_ID, alice, barred_until, client, new_password_hash, now, password,
    principal, session_id, stored_password_hash, unavailable,
};
use crate::ports::PasswordCheck;
use crate::{AuthEventKind, Error};

fn new_password() -> Password {
    Password::new("tr0ub4dor and then some").unwrap()
}

/// `find_by_id(alice)` is asked once and answers `user`.
fn user_found(mocks: &mut Mocks, user: Option<User>) {
    mocks
        .users
        .expect_find_by_id()
        .withf(|id| *id == USER_ID)
        .times(1)
        .return_once(move |_| Ok(user));
}

/// `password()` is checked once against the stored hash and found to be `check`.
fn current_password_is(mocks: &mut Mocks, check: PasswordCheck) {
    mocks
        .passwords
        .expect_verify()
        .withf(|given, stored| {
            given.expose() == password().expose() && *stored == Some(stored_password_hash())
        })
        .times(1)
        .returning(move |_, _| Ok(check));
}

/// The new password is hashed once.
fn new_password_hashed(mocks: &mut Mocks, seq: &mut Sequence) {
    mocks
        .passwords
        .expect_hash()
        .withf(|given| given.expose() == new_password().expose())
        .times(1)
        .in_sequence(seq)
        .returning(|_| Ok(new_password_hash()));
}

/// Nothing is hashed, stored or revoked.
fn nothing_changes(mocks: &mut Mocks) {
    mocks.passwords.expect_hash().never();
    mocks.users.expect_update_password_hash().never();
    mocks.sessions.expect_revoke_all_for_user().never();
    mocks.expect_sessions_forgotten(&[], barred_until());
}

#[tokio::test]
async fn a_password_change_ends_every_other_session_then_stores_the_new_hash() {
    let others = [session_id(2), session_id(3)];
    let mut seq = Sequence::new();
    let mut mocks = Mocks::new();
    user_found(&mut mocks, Some(alice()));
    current_password_is(&mut mocks, PasswordCheck::Match);
    new_password_hashed(&mut mocks, &mut seq);
    mocks
        .sessions
        .expect_revoke_all_for_user()
        .withf(|user, keep, reason, at| {
            *user == USER_ID
                && *keep == Some(SESSION_ID)
                && *reason == RevocationReason::PasswordChange
                && *at == now()
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, _, _, _| Ok(others.to_vec()));
    mocks
        .users
        .expect_update_password_hash()
        .withf(|id, hash| *id == USER_ID && *hash == new_password_hash())
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(()));
    mocks.expect_sessions_forgotten(&others, barred_until());
    let (service, audit) = mocks.build();

    service
        .change_password(&principal(), &password(), &new_password(), &client())
        .await
        .unwrap();

    let event = audit.only();
    assert_eq!(event.kind, AuthEventKind::PasswordChanged);
    assert_eq!(event.at, now());
    assert_eq!(event.user_id, Some(USER_ID));
    assert_eq!(event.session_id, Some(SESSION_ID));
    assert_eq!(event.client, client());
    assert_eq!(event.code, None);
    assert_eq!(event.actor, None);
}

#[tokio::test]
async fn a_right_password_with_outdated_parameters_is_right_enough_to_change_it() {
    let mut seq = Sequence::new();
    let mut mocks = Mocks::new();
    user_found(&mut mocks, Some(alice()));
    current_password_is(&mut mocks, PasswordCheck::MatchNeedsRehash);
    new_password_hashed(&mut mocks, &mut seq);
    mocks
        .users
        .expect_update_password_hash()
        .withf(|_, hash| *hash == new_password_hash())
        .times(1)
        .returning(|_, _| Ok(()));
    mocks
        .sessions
        .expect_revoke_all_for_user()
        .times(1)
        .returning(|_, _, _, _| Ok(Vec::<SessionId>::new()));
    let (service, audit) = mocks.build();

    service
        .change_password(&principal(), &password(), &new_password(), &client())
        .await
        .unwrap();

    assert_eq!(audit.kinds(), vec![AuthEventKind::PasswordChanged]);
}

#[tokio::test]
async fn a_wrong_current_password_is_refused_audited_and_changes_nothing() {
    let mut mocks = Mocks::new();
    user_found(&mut mocks, Some(alice()));
    current_password_is(&mut mocks, PasswordCheck::Mismatch);
    nothing_changes(&mut mocks);
    let (service, audit) = mocks.build();

    let result = service
        .change_password(&principal(), &password(), &new_password(), &client())
        .await;

    assert!(
        matches!(result, Err(Error::InvalidCredentials)),
        "{result:?}"
    );
    let event = audit.only();
    assert_eq!(event.kind, AuthEventKind::PasswordChangeFailed);
    assert_eq!(event.code, Some("invalid_credentials"));
    assert_eq!(event.user_id, Some(USER_ID));
    assert_eq!(event.session_id, Some(SESSION_ID));
    assert_eq!(event.at, now());
}

#[tokio::test]
async fn changing_the_password_of_a_deleted_user_is_not_found_and_checks_nothing() {
    let mut mocks = Mocks::new();
    user_found(&mut mocks, None);
    mocks.passwords.expect_verify().never();
    nothing_changes(&mut mocks);
    let (service, audit) = mocks.build();

    let result = service
        .change_password(&principal(), &password(), &new_password(), &client())
        .await;

    assert!(matches!(result, Err(Error::NotFound("user"))), "{result:?}");
    assert!(audit.events().is_empty());
}

#[tokio::test]
async fn a_saturated_hashing_pool_fails_the_change_before_anything_is_written() {
    let mut mocks = Mocks::new();
    user_found(&mut mocks, Some(alice()));
    mocks
        .passwords
        .expect_verify()
        .times(1)
        .returning(|_, _| Err(unavailable()));
    nothing_changes(&mut mocks);
    let (service, audit) = mocks.build();

    let result = service
        .change_password(&principal(), &password(), &new_password(), &client())
        .await;

    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
    assert!(audit.events().is_empty());
}

#[tokio::test]
async fn a_new_hash_that_cannot_be_stored_fails_the_change_after_the_other_sessions_ended() {
    let others = [session_id(2)];
    let mut seq = Sequence::new();
    let mut mocks = Mocks::new();
    user_found(&mut mocks, Some(alice()));
    current_password_is(&mut mocks, PasswordCheck::Match);
    new_password_hashed(&mut mocks, &mut seq);
    mocks
        .sessions
        .expect_revoke_all_for_user()
        .times(1)
        .returning(move |_, _, _, _| Ok(others.to_vec()));
    mocks.expect_sessions_forgotten(&others, barred_until());
    mocks
        .users
        .expect_update_password_hash()
        .times(1)
        .returning(|_, _| Err(unavailable()));
    let (service, audit) = mocks.build();

    let result = service
        .change_password(&principal(), &password(), &new_password(), &client())
        .await;

    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
    assert!(audit.events().is_empty(), "the change did not happen");
}
