//! Introspection: client authentication, and reads that never write.

use tessera_domain::PasswordHash;

use super::support::*;
use crate::ports::PasswordCheck;
use crate::{Error, Introspection, IntrospectionClients};

fn clients() -> IntrospectionClients {
    IntrospectionClients::default().with(
        "orders-api",
        PasswordHash::new("$argon2id$client".to_owned()),
    )
}

fn secret_matches(mocks: &mut Mocks, check: PasswordCheck) {
    mocks
        .passwords
        .expect_verify()
        .times(1)
        .returning(move |_, _| Ok(check));
}

#[tokio::test]
async fn an_unknown_client_runs_the_hasher_and_is_invalid_client() {
    let mut mocks = Mocks::new();
    mocks
        .passwords
        .expect_verify()
        .withf(|_, hash| hash.is_none())
        .times(1)
        .returning(|_, _| Ok(PasswordCheck::Mismatch));
    let (service, trail) = mocks.build();
    let service = service.with_introspection_clients(clients());
    let error = service
        .introspect("stranger", "whatever-secret", "token", &client())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidClient), "{error:?}");
    assert!(trail.events().is_empty());
}

#[tokio::test]
async fn a_wrong_secret_is_invalid_client() {
    let mut mocks = Mocks::new();
    secret_matches(&mut mocks, PasswordCheck::Mismatch);
    let (service, _) = mocks.build();
    let service = service.with_introspection_clients(clients());
    let error = service
        .introspect("orders-api", "wrong-secret", "token", &client())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidClient));
}

#[tokio::test]
async fn an_access_token_is_active_without_recording_activity() {
    let mut mocks = Mocks::new();
    secret_matches(&mut mocks, PasswordCheck::Match);
    mocks.refresh_tokens.expect_parse().returning(|_| None);
    mocks
        .access_tokens
        .expect_verify()
        .returning(|_, _| Ok(claims()));
    mocks
        .revocations
        .expect_contains()
        .returning(|_, _| Ok(false));
    // No `activity.record` expectation: a call would fail the test.
    let (service, _) = mocks.build();
    let service = service.with_introspection_clients(clients());
    let answer = service
        .introspect("orders-api", "right-secret", "access.jwt", &client())
        .await
        .unwrap();
    let Introspection::Access(token) = answer else {
        panic!("not active: {answer:?}");
    };
    assert_eq!(token.session_id, SESSION_ID);
    assert_eq!(token.expires_at, claims().expires_at);
}

#[tokio::test]
async fn a_revoked_sessions_access_token_is_inactive() {
    let mut mocks = Mocks::new();
    secret_matches(&mut mocks, PasswordCheck::Match);
    mocks.refresh_tokens.expect_parse().returning(|_| None);
    mocks
        .access_tokens
        .expect_verify()
        .returning(|_, _| Ok(claims()));
    mocks
        .revocations
        .expect_contains()
        .returning(|_, _| Ok(true));
    let (service, _) = mocks.build();
    let service = service.with_introspection_clients(clients());
    let answer = service
        .introspect("orders-api", "right-secret", "access.jwt", &client())
        .await
        .unwrap();
    assert_eq!(answer, Introspection::Inactive);
}

#[tokio::test]
async fn a_refresh_token_used_beyond_the_grace_window_is_inactive_and_nothing_is_revoked() {
    let mut mocks = Mocks::new();
    secret_matches(&mut mocks, PasswordCheck::Match);
    mocks
        .refresh_tokens
        .expect_parse()
        .returning(|_| Some(presented()));
    mocks.refresh_tokens.expect_matches().returning(|_, _| true);
    mocks
        .sessions
        .expect_find_refresh_token()
        .returning(|_| Ok(Some(rotated_record(minutes(5)))));
    mocks.activity.expect_last_seen().returning(|_| Ok(None));
    // No `sessions.revoke`, `rotate` or revocation-list expectation: any call fails.
    let (service, trail) = mocks.build();
    let service = service.with_introspection_clients(clients());
    let answer = service
        .introspect("orders-api", "right-secret", PRESENTED, &client())
        .await
        .unwrap();
    assert_eq!(answer, Introspection::Inactive);
    assert!(trail.events().is_empty());
}

#[tokio::test]
async fn an_unused_refresh_token_is_active_until_the_sessions_end() {
    let mut mocks = Mocks::new();
    secret_matches(&mut mocks, PasswordCheck::Match);
    mocks
        .refresh_tokens
        .expect_parse()
        .returning(|_| Some(presented()));
    mocks.refresh_tokens.expect_matches().returning(|_, _| true);
    mocks
        .sessions
        .expect_find_refresh_token()
        .returning(|_| Ok(Some(record())));
    mocks.activity.expect_last_seen().returning(|_| Ok(None));
    let (service, _) = mocks.build();
    let service = service.with_introspection_clients(clients());
    let answer = service
        .introspect("orders-api", "right-secret", PRESENTED, &client())
        .await
        .unwrap();
    let Introspection::Refresh(token) = answer else {
        panic!("not active: {answer:?}");
    };
    assert_eq!(token.expires_at, live_session().absolute_expires_at);
}
