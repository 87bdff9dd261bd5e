//! Token revocation (RFC 7009): a genuine token ends its session as logout does;
//! anything else is answered `Ok` and changes nothing.

use tessera_domain::{RevocationReason, SessionId};

use super::support::{
    Mocks, PARENT_ID, PRESENTED, SESSION_ID, USER_ID, barred_until, claims, client, days,
    live_session, minutes, now, presented, record, rotated_record, unavailable,
};
use crate::{
    AccessDenial, AuthEventKind, Error, PublicKeyParams, PublicSigningKey, SigningAlgorithm,
};

const ACCESS_TOKEN: &str = "header.claims.signature";

fn refresh_token_recognised(mocks: &mut Mocks) {
    mocks
        .refresh_tokens
        .expect_parse()
        .withf(|token| token == PRESENTED)
        .returning(|_| Some(presented()));
}

fn not_a_refresh_token(mocks: &mut Mocks) {
    mocks.refresh_tokens.expect_parse().returning(|_| None);
}

fn stored(mocks: &mut Mocks, stored: Option<crate::ports::RefreshTokenRecord>) {
    mocks
        .sessions
        .expect_find_refresh_token()
        .withf(|id| *id == PARENT_ID)
        .times(1)
        .return_once(move |_| Ok(stored));
}

fn hash_matches(mocks: &mut Mocks, matches: bool) {
    mocks
        .refresh_tokens
        .expect_matches()
        .times(1)
        .return_const(matches);
}

fn revoked_for_logout(mocks: &mut Mocks, id: SessionId) {
    mocks
        .sessions
        .expect_revoke()
        .withf(move |revoked, reason, at| {
            *revoked == id && *reason == RevocationReason::Logout && *at == now()
        })
        .times(1)
        .returning(|_, _, _| Ok(true));
    mocks.expect_sessions_forgotten(&[id], barred_until());
}

fn nothing_revoked(mocks: &mut Mocks) {
    mocks.sessions.expect_revoke().never();
    mocks.expect_sessions_forgotten(&[], now());
}

#[tokio::test]
async fn a_genuine_refresh_token_ends_its_session_like_a_logout() {
    let mut mocks = Mocks::new();
    refresh_token_recognised(&mut mocks);
    stored(&mut mocks, Some(record()));
    hash_matches(&mut mocks, true);
    revoked_for_logout(&mut mocks, SESSION_ID);
    let (service, audit) = mocks.build();

    service.revoke_token(PRESENTED, &client()).await.unwrap();

    let event = audit.only();
    assert_eq!(event.kind, AuthEventKind::Logout);
    assert_eq!(event.user_id, Some(USER_ID));
    assert_eq!(event.session_id, Some(SESSION_ID));
    assert_eq!(event.code, Some("token_revoked"));
    assert_eq!(event.client, client());
}

#[tokio::test]
async fn an_already_rotated_refresh_token_of_the_family_also_ends_the_session() {
    let mut mocks = Mocks::new();
    refresh_token_recognised(&mut mocks);
    stored(&mut mocks, Some(rotated_record(minutes(5))));
    hash_matches(&mut mocks, true);
    revoked_for_logout(&mut mocks, SESSION_ID);
    let (service, audit) = mocks.build();

    service.revoke_token(PRESENTED, &client()).await.unwrap();

    assert_eq!(audit.kinds(), vec![AuthEventKind::Logout]);
}

#[tokio::test]
async fn a_refresh_token_whose_secret_does_not_match_revokes_nothing() {
    let mut mocks = Mocks::new();
    refresh_token_recognised(&mut mocks);
    stored(&mut mocks, Some(record()));
    hash_matches(&mut mocks, false);
    nothing_revoked(&mut mocks);
    let (service, audit) = mocks.build();

    service.revoke_token(PRESENTED, &client()).await.unwrap();

    assert!(audit.events().is_empty());
}

#[tokio::test]
async fn an_unknown_refresh_token_is_ok_and_revokes_nothing() {
    let mut mocks = Mocks::new();
    refresh_token_recognised(&mut mocks);
    stored(&mut mocks, None);
    mocks.refresh_tokens.expect_matches().never();
    nothing_revoked(&mut mocks);
    let (service, audit) = mocks.build();

    service.revoke_token(PRESENTED, &client()).await.unwrap();

    assert!(audit.events().is_empty());
}

#[tokio::test]
async fn a_session_that_already_ended_is_not_revoked_or_audited_again() {
    let mut ended = record();
    ended.session.revoked_at = Some(now() - minutes(1));
    ended.session.revocation_reason = Some(RevocationReason::Logout);
    let mut past_its_end = record();
    past_its_end.session.absolute_expires_at = now() - days(1);
    for stored_record in [ended, past_its_end] {
        let mut mocks = Mocks::new();
        refresh_token_recognised(&mut mocks);
        stored(&mut mocks, Some(stored_record));
        hash_matches(&mut mocks, true);
        nothing_revoked(&mut mocks);
        let (service, audit) = mocks.build();

        service.revoke_token(PRESENTED, &client()).await.unwrap();

        assert!(audit.events().is_empty());
    }
}

#[tokio::test]
async fn an_access_token_of_ours_ends_its_session() {
    let mut mocks = Mocks::new();
    not_a_refresh_token(&mut mocks);
    mocks
        .access_tokens
        .expect_verify()
        .withf(|token, at| token == ACCESS_TOKEN && *at == now())
        .times(1)
        .returning(|_, _| Ok(claims()));
    mocks
        .sessions
        .expect_find_session()
        .withf(|id| *id == SESSION_ID)
        .times(1)
        .returning(|_| Ok(Some(live_session())));
    revoked_for_logout(&mut mocks, SESSION_ID);
    let (service, audit) = mocks.build();

    service.revoke_token(ACCESS_TOKEN, &client()).await.unwrap();

    let event = audit.only();
    assert_eq!(event.kind, AuthEventKind::Logout);
    assert_eq!(event.session_id, Some(SESSION_ID));
    assert_eq!(event.code, Some("token_revoked"));
}

#[tokio::test]
async fn garbage_and_expired_access_tokens_are_ok_without_a_database_read() {
    for denial in [AccessDenial::Invalid, AccessDenial::Expired] {
        let mut mocks = Mocks::new();
        not_a_refresh_token(&mut mocks);
        mocks
            .access_tokens
            .expect_verify()
            .times(1)
            .returning(move |_, _| Err(denial));
        mocks.sessions.expect_find_session().never();
        mocks.sessions.expect_find_refresh_token().never();
        nothing_revoked(&mut mocks);
        let (service, audit) = mocks.build();

        service.revoke_token("garbage", &client()).await.unwrap();

        assert!(audit.events().is_empty());
    }
}

#[tokio::test]
async fn an_unreachable_database_is_an_error_not_a_silent_ok() {
    let mut mocks = Mocks::new();
    refresh_token_recognised(&mut mocks);
    mocks
        .sessions
        .expect_find_refresh_token()
        .returning(|_| Err(unavailable()));
    nothing_revoked(&mut mocks);
    let (service, _audit) = mocks.build();

    let result = service.revoke_token(PRESENTED, &client()).await;

    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
}

#[tokio::test]
async fn a_failed_revocation_write_is_an_error() {
    let mut mocks = Mocks::new();
    refresh_token_recognised(&mut mocks);
    stored(&mut mocks, Some(record()));
    hash_matches(&mut mocks, true);
    mocks
        .sessions
        .expect_revoke()
        .returning(|_, _, _| Err(unavailable()));
    mocks.expect_sessions_forgotten(&[], now());
    let (service, audit) = mocks.build();

    let result = service.revoke_token(PRESENTED, &client()).await;

    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
    assert!(audit.events().is_empty());
}

#[test]
fn only_asymmetric_keys_are_ever_published() {
    let key = |kid: &str, algorithm| PublicSigningKey {
        kid: kid.to_owned(),
        algorithm,
        public_key: PublicKeyParams::Okp { x: vec![9; 32] },
    };
    let mut mocks = Mocks::new();
    mocks.access_tokens.expect_public_keys().return_const(vec![
        key("ed-new", SigningAlgorithm::EdDsa),
        key("hs", SigningAlgorithm::Hs256),
        key("ed-old", SigningAlgorithm::EdDsa),
    ]);
    let (service, _audit) = mocks.build();

    let published: Vec<String> = service
        .public_signing_keys()
        .into_iter()
        .map(|key| key.kid)
        .collect();

    assert_eq!(published, ["ed-new", "ed-old"]);
}

#[tokio::test]
async fn a_browser_logout_with_its_refresh_cookie_ends_the_session_as_a_plain_logout() {
    let mut mocks = Mocks::new();
    refresh_token_recognised(&mut mocks);
    stored(&mut mocks, Some(record()));
    hash_matches(&mut mocks, true);
    revoked_for_logout(&mut mocks, SESSION_ID);
    let (service, audit) = mocks.build();

    service
        .logout_with_refresh_token(PRESENTED, &client())
        .await
        .unwrap();

    let event = audit.only();
    assert_eq!(event.kind, AuthEventKind::Logout);
    assert_eq!(event.session_id, Some(SESSION_ID));
    // Not told apart from `/v1/auth/logout` with a bearer token: it is that logout.
    assert_eq!(event.code, None);
}

#[tokio::test]
async fn a_browser_logout_with_a_forged_or_garbage_cookie_ends_nothing() {
    let mut mocks = Mocks::new();
    refresh_token_recognised(&mut mocks);
    stored(&mut mocks, Some(record()));
    hash_matches(&mut mocks, false);
    nothing_revoked(&mut mocks);
    let (service, audit) = mocks.build();
    service
        .logout_with_refresh_token(PRESENTED, &client())
        .await
        .unwrap();
    assert!(audit.events().is_empty());

    let mut mocks = Mocks::new();
    not_a_refresh_token(&mut mocks);
    mocks.sessions.expect_find_refresh_token().never();
    nothing_revoked(&mut mocks);
    let (service, audit) = mocks.build();
    service
        .logout_with_refresh_token("not-a-token", &client())
        .await
        .unwrap();
    assert!(audit.events().is_empty());
}
