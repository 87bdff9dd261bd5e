//! Authentication of access tokens, and the caller's user and session.

use tessera_domain::{RevocationReason, Session, User};

use super::support::{
    Mocks, SESSION_ID, USER_ID, alice, claims, live_session, minutes, now, principal, unavailable,
};
use crate::{AccessDenial, Error};

const JWT: &str = "header.payload.signature";

/// The codec accepts `JWT` at `now` with `claims()`.
fn token_verifies(mocks: &mut Mocks) {
    mocks
        .access_tokens
        .expect_verify()
        .withf(|token, at| token == JWT && *at == now())
        .times(1)
        .returning(|_, _| Ok(claims()));
}

fn revocation_list_says(mocks: &mut Mocks, revoked: bool) {
    mocks
        .revocations
        .expect_contains()
        .withf(|id, at| *id == SESSION_ID && *at == now())
        .times(1)
        .returning(move |_, _| Ok(revoked));
}

fn revocation_list_down(mocks: &mut Mocks) {
    mocks
        .revocations
        .expect_contains()
        .times(1)
        .returning(|_, _| Err(unavailable()));
}

/// The database answers `session` when asked about `SESSION_ID`.
fn database_has(mocks: &mut Mocks, session: Option<Session>) {
    mocks
        .sessions
        .expect_find_session()
        .withf(|id| *id == SESSION_ID)
        .times(1)
        .return_once(move |_| Ok(session));
}

fn activity_recorded(mocks: &mut Mocks) {
    mocks
        .activity
        .expect_record()
        .withf(|id, at| *id == SESSION_ID && *at == now())
        .times(1)
        .returning(|_, _| Ok(()));
}

async fn authenticate(mocks: Mocks) -> Result<crate::Principal, Error> {
    let (service, _audit) = mocks.build();
    service.authenticate(JWT, &super::support::client()).await
}

fn assert_unauthorized(result: Result<crate::Principal, Error>, denial: AccessDenial) {
    match result {
        Err(Error::Unauthorized(actual)) => assert_eq!(actual, denial),
        other => panic!("expected Unauthorized({denial:?}), got {other:?}"),
    }
}

#[tokio::test]
async fn a_valid_token_gives_its_principal_and_records_activity_without_a_database_read() {
    let mut mocks = Mocks::new();
    token_verifies(&mut mocks);
    revocation_list_says(&mut mocks, false);
    activity_recorded(&mut mocks);
    mocks.sessions.expect_find_session().never();

    let principal = authenticate(mocks).await.unwrap();

    assert_eq!(principal, super::support::principal());
    assert_eq!(principal.roles, alice().roles);
    assert_eq!(principal.access_expires_at, now() + minutes(10));
}

#[tokio::test]
async fn a_token_the_codec_refuses_is_unauthorized_and_nothing_else_is_asked() {
    for denial in [AccessDenial::Invalid, AccessDenial::Expired] {
        let mut mocks = Mocks::new();
        mocks
            .access_tokens
            .expect_verify()
            .times(1)
            .returning(move |_, _| Err(denial));
        mocks.revocations.expect_contains().never();
        mocks.activity.expect_record().never();

        assert_unauthorized(authenticate(mocks).await, denial);
    }
}

#[tokio::test]
async fn a_token_of_a_revoked_session_is_refused_at_once() {
    let mut mocks = Mocks::new();
    token_verifies(&mut mocks);
    revocation_list_says(&mut mocks, true);
    mocks.activity.expect_record().never();

    assert_unauthorized(authenticate(mocks).await, AccessDenial::SessionRevoked);
}

#[tokio::test]
async fn with_the_revocation_list_down_a_live_session_in_the_database_is_accepted() {
    let mut mocks = Mocks::new();
    token_verifies(&mut mocks);
    revocation_list_down(&mut mocks);
    database_has(&mut mocks, Some(live_session()));
    activity_recorded(&mut mocks);

    let principal = authenticate(mocks).await.unwrap();

    assert_eq!(principal.session_id, Some(SESSION_ID));
}

#[tokio::test]
async fn with_the_revocation_list_down_a_revoked_session_in_the_database_is_refused() {
    let mut session = live_session();
    session.revoke(RevocationReason::Admin, now() - minutes(1));
    let mut mocks = Mocks::new();
    token_verifies(&mut mocks);
    revocation_list_down(&mut mocks);
    database_has(&mut mocks, Some(session));
    mocks.activity.expect_record().never();

    assert_unauthorized(authenticate(mocks).await, AccessDenial::SessionRevoked);
}

#[tokio::test]
async fn with_the_revocation_list_down_a_session_past_its_absolute_end_is_refused() {
    let mut session = live_session();
    session.absolute_expires_at = now();
    let mut mocks = Mocks::new();
    token_verifies(&mut mocks);
    revocation_list_down(&mut mocks);
    database_has(&mut mocks, Some(session));
    mocks.activity.expect_record().never();

    assert_unauthorized(authenticate(mocks).await, AccessDenial::SessionRevoked);
}

#[tokio::test]
async fn with_the_revocation_list_down_a_missing_session_is_refused() {
    let mut mocks = Mocks::new();
    token_verifies(&mut mocks);
    revocation_list_down(&mut mocks);
    database_has(&mut mocks, None);
    mocks.activity.expect_record().never();

    assert_unauthorized(authenticate(mocks).await, AccessDenial::SessionRevoked);
}

#[tokio::test]
async fn with_the_revocation_list_and_the_database_down_the_outage_is_reported() {
    let mut mocks = Mocks::new();
    token_verifies(&mut mocks);
    revocation_list_down(&mut mocks);
    mocks
        .sessions
        .expect_find_session()
        .times(1)
        .returning(|_| Err(unavailable()));
    mocks.activity.expect_record().never();

    let result = authenticate(mocks).await;

    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
}

#[tokio::test]
async fn an_unreachable_activity_store_does_not_refuse_a_valid_token() {
    let mut mocks = Mocks::new();
    token_verifies(&mut mocks);
    revocation_list_says(&mut mocks, false);
    mocks
        .activity
        .expect_record()
        .times(1)
        .returning(|_, _| Err(unavailable()));

    let principal = authenticate(mocks).await.unwrap();

    assert_eq!(principal.user_id, USER_ID);
}

/// The one read of `current_user`: the session and the user it belongs to.
fn session_with_user(mocks: &mut Mocks, found: Option<(Session, Option<User>)>) {
    mocks
        .sessions
        .expect_find_session_with_user()
        .withf(|id| *id == SESSION_ID)
        .times(1)
        .return_once(move |_| Ok(found));
    mocks.sessions.expect_find_session().never();
    mocks.users.expect_find_by_id().never();
}

#[tokio::test]
async fn current_user_returns_the_user_and_the_live_session() {
    let mut mocks = Mocks::new();
    session_with_user(&mut mocks, Some((live_session(), Some(alice()))));
    let (service, _audit) = mocks.build();

    let (user, session) = service.current_user(&principal()).await.unwrap();

    assert_eq!(user, alice());
    assert_eq!(session, Some(live_session()));
}

#[tokio::test]
async fn current_user_of_a_revoked_session_is_unauthorized() {
    let mut session = live_session();
    session.revoke(RevocationReason::Logout, now() - minutes(1));
    let mut mocks = Mocks::new();
    session_with_user(&mut mocks, Some((session, Some(alice()))));
    let (service, _audit) = mocks.build();

    let result = service.current_user(&principal()).await;

    assert!(
        matches!(
            result,
            Err(Error::Unauthorized(AccessDenial::SessionRevoked))
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn current_user_of_a_missing_session_is_unauthorized() {
    let mut mocks = Mocks::new();
    session_with_user(&mut mocks, None);
    let (service, _audit) = mocks.build();

    let result = service.current_user(&principal()).await;

    assert!(
        matches!(
            result,
            Err(Error::Unauthorized(AccessDenial::SessionRevoked))
        ),
        "{result:?}"
    );
}

/// A token naming one user and the session of another is not honoured: the answer is
/// the same as for a session that does not exist.
#[tokio::test]
async fn current_user_of_another_users_session_is_unauthorized() {
    let mut session = live_session();
    session.user_id = "0195a0b4-6c1e-7000-8000-0000000000ff".parse().unwrap();
    let mut mocks = Mocks::new();
    session_with_user(&mut mocks, Some((session, Some(alice()))));
    let (service, _audit) = mocks.build();

    let result = service.current_user(&principal()).await;

    assert!(
        matches!(
            result,
            Err(Error::Unauthorized(AccessDenial::SessionRevoked))
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn current_user_of_a_deleted_user_is_not_found() {
    let mut mocks = Mocks::new();
    session_with_user(&mut mocks, Some((live_session(), None)));
    let (service, _audit) = mocks.build();

    let result = service.current_user(&principal()).await;

    assert!(matches!(result, Err(Error::NotFound("user"))), "{result:?}");
}

mod legacy_tokens {
    use super::super::support::{Mocks, USER_ID, minutes, now};
    use crate::ports::{LegacyClaims, MockLegacyTokenVerifier};
    use crate::{AccessDenial, AuthEventKind, Error};

    fn ours_refuse(mocks: &mut Mocks, denial: AccessDenial) {
        mocks
            .access_tokens
            .expect_verify()
            .times(1)
            .returning(move |_, _| Err(denial));
    }

    fn legacy_answers(result: Result<LegacyClaims, AccessDenial>) -> MockLegacyTokenVerifier {
        let mut legacy = MockLegacyTokenVerifier::new();
        legacy
            .expect_verify()
            .withf(|token, at| token == "legacy.jwt.token" && *at == now())
            .times(1)
            .return_once(move |_, _| result);
        legacy
    }

    fn legacy_claims() -> LegacyClaims {
        LegacyClaims {
            user_id: USER_ID,
            expires_at: now() + minutes(5),
        }
    }

    fn stored_user(mocks: &mut Mocks, user: Option<tessera_domain::User>) {
        mocks
            .users
            .expect_find_by_id()
            .withf(|id| *id == USER_ID)
            .times(1)
            .return_once(move |_| Ok(user));
    }

    #[tokio::test]
    async fn a_legacy_token_authenticates_without_a_session_and_every_use_is_audited() {
        let mut mocks = Mocks::new();
        ours_refuse(&mut mocks, AccessDenial::Invalid);
        mocks.legacy = Some(legacy_answers(Ok(legacy_claims())));
        let alice = super::super::support::alice();
        let stored_roles = alice.roles.clone();
        stored_user(&mut mocks, Some(alice));
        mocks.revocations.expect_contains().never();
        mocks.activity.expect_record().never();
        let (service, audit) = mocks.build();

        let principal = service
            .authenticate("legacy.jwt.token", &super::super::support::client())
            .await
            .unwrap();

        assert_eq!(principal.user_id, USER_ID);
        assert_eq!(principal.session_id, None, "a legacy token has no session");
        assert_eq!(principal.access_expires_at, now() + minutes(5));
        assert_eq!(
            principal.roles, stored_roles,
            "roles come from storage, not the token"
        );
        let event = audit.only();
        assert_eq!(event.kind, AuthEventKind::LegacyToken);
        assert_eq!(event.user_id, Some(USER_ID));
        assert_eq!(
            event.client,
            super::super::support::client(),
            "audited with the caller"
        );
    }

    #[tokio::test]
    async fn a_legacy_token_of_a_disabled_or_missing_user_is_refused() {
        let mut disabled = super::super::support::alice();
        disabled.disabled_at = Some(now() - minutes(1));
        for user in [Some(disabled), None] {
            let mut mocks = Mocks::new();
            ours_refuse(&mut mocks, AccessDenial::Invalid);
            mocks.legacy = Some(legacy_answers(Ok(legacy_claims())));
            stored_user(&mut mocks, user);
            let (service, audit) = mocks.build();

            let result = service
                .authenticate("legacy.jwt.token", &super::super::support::client())
                .await;

            assert!(
                matches!(result, Err(Error::Unauthorized(AccessDenial::Invalid))),
                "{result:?}"
            );
            assert!(audit.events().is_empty());
        }
    }

    #[tokio::test]
    async fn an_expired_legacy_token_is_refused_as_expired() {
        let mut mocks = Mocks::new();
        ours_refuse(&mut mocks, AccessDenial::Invalid);
        mocks.legacy = Some(legacy_answers(Err(AccessDenial::Expired)));
        let (service, audit) = mocks.build();

        let result = service
            .authenticate("legacy.jwt.token", &super::super::support::client())
            .await;

        assert!(
            matches!(result, Err(Error::Unauthorized(AccessDenial::Expired))),
            "{result:?}"
        );
        assert!(audit.events().is_empty());
    }

    #[tokio::test]
    async fn an_expired_token_of_ours_is_never_tried_as_a_legacy_token() {
        let mut mocks = Mocks::new();
        ours_refuse(&mut mocks, AccessDenial::Expired);
        let mut legacy = MockLegacyTokenVerifier::new();
        legacy.expect_verify().never();
        mocks.legacy = Some(legacy);
        let (service, _) = mocks.build();

        let result = service
            .authenticate("legacy.jwt.token", &super::super::support::client())
            .await;

        assert!(
            matches!(result, Err(Error::Unauthorized(AccessDenial::Expired))),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn without_a_legacy_secret_an_unknown_token_is_invalid() {
        let mut mocks = Mocks::new();
        ours_refuse(&mut mocks, AccessDenial::Invalid);
        let (service, _) = mocks.build();

        let result = service
            .authenticate("legacy.jwt.token", &super::super::support::client())
            .await;

        assert!(
            matches!(result, Err(Error::Unauthorized(AccessDenial::Invalid))),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn a_legacy_caller_has_no_session_to_show_or_to_log_out() {
        let mut mocks = Mocks::new();
        mocks
            .users
            .expect_find_by_id()
            .times(1)
            .returning(|_| Ok(Some(super::super::support::alice())));
        mocks.sessions.expect_find_session().never();
        mocks.sessions.expect_find_session_with_user().never();
        let (service, _) = mocks.build();
        let principal = crate::Principal {
            session_id: None,
            ..super::super::support::principal()
        };

        let (user, session) = service.current_user(&principal).await.unwrap();
        assert_eq!(user.id, USER_ID);
        assert_eq!(session, None);
        let logout = service
            .logout(&principal, &super::super::support::client())
            .await;
        assert!(
            matches!(logout, Err(Error::NotFound("session"))),
            "{logout:?}"
        );
    }
}
