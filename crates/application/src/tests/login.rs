//! Login: the password check, the first session and its token pair.

use tessera_domain::{PasswordHash, RefreshRefusal, RefreshToken, Session, User};

use super::support::{
    MINTED_ID, Mocks, SESSION_ID, TOKEN_ID, USER_ID, access_token, alice, client, days, email,
    minted, minutes, new_password_hash, now, password, policy_with, stored_password_hash,
    unavailable,
};
use crate::ports::PasswordCheck;
use crate::{AccessClaims, AuthEventKind, Error, RefreshTokenHash};

/// `find_by_email(alice@example.com)` answers `user`.
fn user_lookup(mocks: &mut Mocks, user: Option<User>) {
    mocks
        .users
        .expect_find_by_email()
        .withf(|given| *given == email())
        .times(1)
        .return_once(move |_| Ok(user));
}

/// The hasher is asked once, about `password()` against `hash`, and answers `check`.
fn password_check(mocks: &mut Mocks, hash: Option<PasswordHash>, check: PasswordCheck) {
    mocks
        .passwords
        .expect_verify()
        .withf(move |given, stored| given.expose() == password().expose() && *stored == hash)
        .times(1)
        .returning(move |_, _| Ok(check));
}

/// A correct password for `alice()`.
fn alice_logs_in(mocks: &mut Mocks, check: PasswordCheck) {
    user_lookup(mocks, Some(alice()));
    password_check(mocks, Some(stored_password_hash()), check);
}

/// A session is started: token minted, access token issued, session stored, activity
/// recorded.
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
    mocks
        .activity
        .expect_record()
        .times(1)
        .returning(|_, _| Ok(()));
}

fn no_session_starts(mocks: &mut Mocks) {
    mocks.refresh_tokens.expect_mint().never();
    mocks.access_tokens.expect_issue().never();
    mocks.sessions.expect_create().never();
    mocks.activity.expect_record().never();
}

#[tokio::test]
async fn a_correct_password_stores_a_new_session_with_the_first_token_of_its_family() {
    let mut mocks = Mocks::new();
    alice_logs_in(&mut mocks, PasswordCheck::Match);
    mocks
        .refresh_tokens
        .expect_mint()
        .times(1)
        .returning(minted);
    mocks
        .access_tokens
        .expect_issue()
        .returning(|_| Ok(access_token("access.login")));
    mocks
        .sessions
        .expect_create()
        .withf(
            |session: &Session, first: &RefreshToken, hash: &RefreshTokenHash| {
                *session
                    == Session {
                        id: SESSION_ID,
                        user_id: USER_ID,
                        created_at: now(),
                        absolute_expires_at: now() + days(30),
                        last_refreshed_at: now(),
                        revoked_at: None,
                        revocation_reason: None,
                        client: client(),
                    }
                    && *first == RefreshToken::first(MINTED_ID, SESSION_ID, now())
                    && first.generation == 1
                    && *hash == minted().hash
            },
        )
        .times(1)
        .returning(|_, _, _| Ok(()));
    mocks
        .activity
        .expect_record()
        .withf(|session, at| *session == SESSION_ID && *at == now())
        .times(1)
        .returning(|_, _| Ok(()));
    let (service, audit) = mocks.build();

    let grant = service
        .login(&email(), &password(), &client())
        .await
        .unwrap();

    assert_eq!(grant.user_id, USER_ID);
    assert_eq!(grant.session_id, SESSION_ID);
    assert_eq!(grant.refresh_token, minted().plain);
    assert_eq!(grant.access_token, access_token("access.login"));
    let event = audit.only();
    assert_eq!(event.kind, AuthEventKind::LoginSucceeded);
    assert_eq!(event.user_id, Some(USER_ID));
    assert_eq!(event.session_id, Some(SESSION_ID));
    assert_eq!(event.code, None);
}

#[tokio::test]
async fn the_access_token_of_a_login_names_user_session_and_roles_and_expires_after_access_ttl() {
    let mut mocks = Mocks::new();
    alice_logs_in(&mut mocks, PasswordCheck::Match);
    mocks.refresh_tokens.expect_mint().returning(minted);
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
                    roles: alice().roles,
                }
        })
        .times(1)
        .returning(|_| Ok(access_token("access.login")));
    mocks.sessions.expect_create().returning(|_, _, _| Ok(()));
    mocks.activity.expect_record().returning(|_, _| Ok(()));
    let (service, _audit) = mocks.build();

    let grant = service
        .login(&email(), &password(), &client())
        .await
        .unwrap();

    assert_eq!(grant.access_token, access_token("access.login"));
}

#[tokio::test]
async fn a_login_grant_tells_access_ttl_and_the_refresh_worst_case_of_idle_and_absolute() {
    let mut mocks = Mocks::new();
    mocks.policy = policy_with(|settings| {
        settings.access_ttl = minutes(5);
        settings.idle_timeout = days(2);
        settings.absolute_lifetime = days(3);
    });
    alice_logs_in(&mut mocks, PasswordCheck::Match);
    session_starts(&mut mocks);
    let (service, _audit) = mocks.build();

    let grant = service
        .login(&email(), &password(), &client())
        .await
        .unwrap();

    assert_eq!(grant.expires_in, minutes(5));
    assert_eq!(grant.refresh_expires_in, days(2));
}

#[tokio::test]
async fn when_idle_timeout_equals_the_absolute_lifetime_the_refresh_lifetime_is_that_lifetime() {
    let mut mocks = Mocks::new();
    mocks.policy = policy_with(|settings| {
        settings.idle_timeout = days(1);
        settings.absolute_lifetime = days(1);
    });
    alice_logs_in(&mut mocks, PasswordCheck::Match);
    session_starts(&mut mocks);
    let (service, _audit) = mocks.build();

    let grant = service
        .login(&email(), &password(), &client())
        .await
        .unwrap();

    assert_eq!(grant.refresh_expires_in, days(1));
    assert_eq!(grant.expires_in, minutes(15));
}

#[tokio::test]
async fn an_unknown_email_still_runs_the_password_check_and_gets_the_wrong_password_answer() {
    let mut mocks = Mocks::new();
    user_lookup(&mut mocks, None);
    password_check(&mut mocks, None, PasswordCheck::Mismatch);
    no_session_starts(&mut mocks);
    let (service, audit) = mocks.build();

    let result = service.login(&email(), &password(), &client()).await;

    assert!(
        matches!(result, Err(Error::InvalidCredentials)),
        "{result:?}"
    );
    let event = audit.only();
    assert_eq!(event.kind, AuthEventKind::LoginFailed);
    assert_eq!(event.user_id, None);
    assert_eq!(event.session_id, None);
}

#[tokio::test]
async fn a_wrong_password_is_invalid_credentials_and_starts_no_session() {
    let mut mocks = Mocks::new();
    alice_logs_in(&mut mocks, PasswordCheck::Mismatch);
    no_session_starts(&mut mocks);
    mocks.users.expect_update_password_hash().never();
    let (service, audit) = mocks.build();

    let result = service.login(&email(), &password(), &client()).await;

    assert!(
        matches!(result, Err(Error::InvalidCredentials)),
        "{result:?}"
    );
    let event = audit.only();
    assert_eq!(event.kind, AuthEventKind::LoginFailed);
    assert_eq!(event.user_id, Some(USER_ID));
    assert_eq!(event.code, None);
}

#[tokio::test]
async fn a_disabled_user_with_the_right_password_is_refused_as_user_disabled() {
    let mut mocks = Mocks::new();
    let mut user = alice();
    user.disabled_at = Some(now() - days(1));
    user_lookup(&mut mocks, Some(user));
    password_check(
        &mut mocks,
        Some(stored_password_hash()),
        PasswordCheck::Match,
    );
    no_session_starts(&mut mocks);
    let (service, audit) = mocks.build();

    let result = service.login(&email(), &password(), &client()).await;

    assert!(
        matches!(result, Err(Error::Refused(RefreshRefusal::UserDisabled))),
        "{result:?}"
    );
    let event = audit.only();
    assert_eq!(event.kind, AuthEventKind::LoginFailed);
    assert_eq!(event.code, Some("user_disabled"));
}

#[tokio::test]
async fn a_disabled_user_with_a_wrong_password_learns_nothing_about_the_account() {
    let mut mocks = Mocks::new();
    let mut user = alice();
    user.disabled_at = Some(now() - days(1));
    user_lookup(&mut mocks, Some(user));
    password_check(
        &mut mocks,
        Some(stored_password_hash()),
        PasswordCheck::Mismatch,
    );
    no_session_starts(&mut mocks);
    let (service, _audit) = mocks.build();

    let result = service.login(&email(), &password(), &client()).await;

    assert!(
        matches!(result, Err(Error::InvalidCredentials)),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_outdated_hash_is_replaced_after_a_successful_login() {
    let mut mocks = Mocks::new();
    alice_logs_in(&mut mocks, PasswordCheck::MatchNeedsRehash);
    mocks
        .passwords
        .expect_hash()
        .withf(|given| given.expose() == password().expose())
        .times(1)
        .returning(|_| Ok(new_password_hash()));
    mocks
        .users
        .expect_update_password_hash()
        .withf(|id, hash| *id == USER_ID && *hash == new_password_hash())
        .times(1)
        .returning(|_, _| Ok(()));
    session_starts(&mut mocks);
    let (service, audit) = mocks.build();

    let grant = service
        .login(&email(), &password(), &client())
        .await
        .unwrap();

    assert_eq!(grant.session_id, SESSION_ID);
    assert_eq!(audit.kinds(), vec![AuthEventKind::LoginSucceeded]);
}

#[tokio::test]
async fn a_failed_hash_update_does_not_fail_the_login() {
    let mut mocks = Mocks::new();
    alice_logs_in(&mut mocks, PasswordCheck::MatchNeedsRehash);
    mocks
        .passwords
        .expect_hash()
        .returning(|_| Ok(new_password_hash()));
    mocks
        .users
        .expect_update_password_hash()
        .times(1)
        .returning(|_, _| Err(unavailable()));
    session_starts(&mut mocks);
    let (service, audit) = mocks.build();

    let result = service.login(&email(), &password(), &client()).await;

    assert_eq!(result.unwrap().session_id, SESSION_ID);
    assert_eq!(audit.kinds(), vec![AuthEventKind::LoginSucceeded]);
}

#[tokio::test]
async fn a_failed_rehash_does_not_fail_the_login_and_keeps_the_old_hash() {
    let mut mocks = Mocks::new();
    alice_logs_in(&mut mocks, PasswordCheck::MatchNeedsRehash);
    mocks
        .passwords
        .expect_hash()
        .times(1)
        .returning(|_| Err(unavailable()));
    mocks.users.expect_update_password_hash().never();
    session_starts(&mut mocks);
    let (service, _audit) = mocks.build();

    let result = service.login(&email(), &password(), &client()).await;

    assert_eq!(result.unwrap().session_id, SESSION_ID);
}

#[tokio::test]
async fn an_unreachable_activity_store_does_not_fail_the_login() {
    let mut mocks = Mocks::new();
    alice_logs_in(&mut mocks, PasswordCheck::Match);
    mocks.refresh_tokens.expect_mint().returning(minted);
    mocks
        .access_tokens
        .expect_issue()
        .returning(|_| Ok(access_token("access.login")));
    mocks
        .sessions
        .expect_create()
        .times(1)
        .returning(|_, _, _| Ok(()));
    mocks
        .activity
        .expect_record()
        .times(1)
        .returning(|_, _| Err(unavailable()));
    let (service, audit) = mocks.build();

    let result = service.login(&email(), &password(), &client()).await;

    assert_eq!(result.unwrap().refresh_token, minted().plain);
    assert_eq!(audit.kinds(), vec![AuthEventKind::LoginSucceeded]);
}

#[tokio::test]
async fn an_audit_sink_failure_does_not_fail_the_login() {
    let mut mocks = Mocks::new();
    mocks.audit_fails = true;
    alice_logs_in(&mut mocks, PasswordCheck::Match);
    session_starts(&mut mocks);
    let (service, audit) = mocks.build();

    let result = service.login(&email(), &password(), &client()).await;

    assert_eq!(result.unwrap().session_id, SESSION_ID);
    assert_eq!(audit.kinds(), vec![AuthEventKind::LoginSucceeded]);
}

#[tokio::test]
async fn a_session_store_failure_fails_the_login_and_no_success_is_audited() {
    let mut mocks = Mocks::new();
    alice_logs_in(&mut mocks, PasswordCheck::Match);
    mocks.refresh_tokens.expect_mint().returning(minted);
    mocks
        .access_tokens
        .expect_issue()
        .returning(|_| Ok(access_token("access.login")));
    mocks
        .sessions
        .expect_create()
        .times(1)
        .returning(|_, _, _| Err(unavailable()));
    mocks.activity.expect_record().never();
    let (service, audit) = mocks.build();

    let result = service.login(&email(), &password(), &client()).await;

    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
    assert!(audit.events().is_empty());
}

#[tokio::test]
async fn a_signing_failure_fails_the_login_before_a_session_is_stored() {
    let mut mocks = Mocks::new();
    alice_logs_in(&mut mocks, PasswordCheck::Match);
    mocks.refresh_tokens.expect_mint().returning(minted);
    mocks
        .access_tokens
        .expect_issue()
        .times(1)
        .returning(|_| Err(Error::unexpected("no signing key")));
    mocks.sessions.expect_create().never();
    mocks.activity.expect_record().never();
    let (service, audit) = mocks.build();

    let result = service.login(&email(), &password(), &client()).await;

    assert!(matches!(result, Err(Error::Unexpected(_))), "{result:?}");
    assert!(audit.events().is_empty());
}
