//! The session-management and admin endpoints over HTTP, with the ports mocked: what
//! the HTTP layer decides (ids, status codes, bodies, headers). A port called without
//! an expectation fails the test, so "never reaches the use case" is checked too.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed unwrap is a failed test"
)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use actix_web::http::{StatusCode, header};
use actix_web::test::{self, TestRequest};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use serde_json::{Value, json};
use tessera_api_actix::{ApiState, app};
use tessera_application::ports::{
    MockAccessTokenCodec, MockActivityStore, MockAuditSink, MockClock, MockIdGenerator,
    MockPasswordHasher, MockRefreshTokenCodec, MockRevocationList, MockSessionRepository,
    MockUserRepository,
};
use tessera_application::{AccessClaims, AuthService, Error, Ports, ServiceOptions};
use tessera_domain::{
    ClientContext, EmailAddress, PasswordHash, Role, Session, SessionId, SessionPolicy,
    SessionPolicySettings, User, UserId,
};
use uuid::Uuid;

const CALLER: UserId = UserId::from_uuid(Uuid::from_u128(0x000A_11CE));
const CALLER_SESSION: SessionId = SessionId::from_uuid(Uuid::from_u128(0x5E55_1011));
const OTHER: UserId = UserId::from_uuid(Uuid::from_u128(0x0000_B0B0));
const OTHER_SESSION: SessionId = SessionId::from_uuid(Uuid::from_u128(0x5E55_B0B0));

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 30, 0).unwrap()
}

/// The ports a test sets expectations on; the others answer the same every time.
#[derive(Default)]
struct Mocks {
    users: MockUserRepository,
    sessions: MockSessionRepository,
    passwords: MockPasswordHasher,
    revocations: MockRevocationList,
    activity: MockActivityStore,
    audit: MockAuditSink,
}

impl Mocks {
    /// What ending sessions touches besides the repository.
    fn expect_sessions_forgotten(&mut self) {
        self.revocations.expect_insert().returning(|_, _| Ok(()));
        self.activity.expect_forget().returning(|_| Ok(()));
    }

    fn expect_audit(&mut self) {
        self.audit.expect_record().returning(|_| Ok(()));
    }
}

/// Sends `request` with a valid access token of `CALLER` holding `roles`.
async fn send(mut mocks: Mocks, roles: &[&str], request: TestRequest) -> (StatusCode, Value) {
    let (status, _, body) = send_full(&mut mocks, roles, request).await;
    (status, body)
}

async fn send_full(
    mocks: &mut Mocks,
    roles: &[&str],
    request: TestRequest,
) -> (StatusCode, header::HeaderMap, Value) {
    let roles: Vec<Role> = roles
        .iter()
        .map(|role| Role::parse(role).unwrap())
        .collect();
    let mut access_tokens = MockAccessTokenCodec::new();
    access_tokens.expect_verify().returning(move |_, now| {
        Ok(AccessClaims {
            user_id: CALLER,
            session_id: CALLER_SESSION,
            token_id: Uuid::nil(),
            issued_at: now,
            expires_at: now + TimeDelta::minutes(15),
            roles: roles.clone(),
        })
    });
    mocks
        .revocations
        .expect_contains()
        .returning(|_, _| Ok(false));
    mocks.activity.expect_record().returning(|_, _| Ok(()));
    let mut clock = MockClock::new();
    clock.expect_now().returning(now);
    let mocks = std::mem::take(mocks);
    let ports = Ports {
        users: Arc::new(mocks.users),
        sessions: Arc::new(mocks.sessions),
        activity: Arc::new(mocks.activity),
        revocations: Arc::new(mocks.revocations),
        access_tokens: Arc::new(access_tokens),
        refresh_tokens: Arc::new(MockRefreshTokenCodec::new()),
        passwords: Arc::new(mocks.passwords),
        audit: Arc::new(mocks.audit),
        clock: Arc::new(clock),
        ids: Arc::new(MockIdGenerator::new()),
        legacy_tokens: None,
    };
    let policy = SessionPolicy::try_from(SessionPolicySettings::default()).unwrap();
    let state = ApiState {
        service: AuthService::new(ports, policy, ServiceOptions::default()),
        health_checks: Vec::new(),
        issuer: "https://auth.example.com".to_owned(),
        browser: tessera_api_actix::BrowserSettings::default(),
        metrics: None,
    };
    let service = test::init_service(app(state)).await;
    let request = request
        .insert_header((header::AUTHORIZATION, "Bearer header.claims.signature"))
        .peer_addr(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)),
            4711,
        ))
        .to_request();
    let response = test::call_service(&service, request).await;
    let status = response.status();
    let headers = response.headers().clone();
    let body = test::read_body(response).await;
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).unwrap()
    };
    (status, headers, body)
}

fn session(id: SessionId, user_id: UserId) -> Session {
    Session {
        id,
        user_id,
        created_at: now() - TimeDelta::days(2),
        absolute_expires_at: now() + TimeDelta::days(28),
        last_refreshed_at: now() - TimeDelta::hours(1),
        revoked_at: None,
        revocation_reason: None,
        client: ClientContext {
            ip: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10))),
            user_agent: Some(
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0".to_owned(),
            ),
        },
    }
}

fn user(id: UserId) -> User {
    User {
        id,
        email: EmailAddress::parse("bob@example.com").unwrap(),
        password_hash: PasswordHash::new("$argon2id$stored".to_owned()),
        roles: vec![Role::user()],
        created_at: now() - TimeDelta::days(90),
        disabled_at: Some(now() - TimeDelta::days(1)),
    }
}

fn assert_problem(status: StatusCode, body: &Value, expected: StatusCode, code: &str) {
    assert_eq!(
        (status, body["code"].as_str()),
        (expected, Some(code)),
        "{body}"
    );
}

#[actix_web::test]
async fn the_session_list_shows_each_field_and_marks_the_current_one() {
    let mut mocks = Mocks::default();
    mocks
        .sessions
        .expect_list_active_for_user()
        .withf(|user, _| *user == CALLER)
        .returning(|_, _| {
            Ok(vec![
                session(CALLER_SESSION, CALLER),
                session(OTHER_SESSION, CALLER),
            ])
        });
    mocks
        .activity
        .expect_last_seen()
        .returning(|_| Ok(Some(now() - TimeDelta::minutes(5))));
    let (status, headers, body) = send_full(
        &mut mocks,
        &["user"],
        TestRequest::get().uri("/v1/auth/sessions"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
    assert_eq!(
        body["sessions"][0],
        json!({
            "id": CALLER_SESSION.to_string(),
            "device": body["sessions"][0]["device"],
            "ip": "192.0.2.10",
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "created_at": "2026-02-28T09:30:00Z",
            "last_used_at": "2026-03-02T09:25:00Z",
            "absolute_expires_at": "2026-03-30T09:30:00Z",
            "current": true,
        })
    );
    assert!(
        body["sessions"][0]["device"]
            .as_str()
            .is_some_and(|device| !device.is_empty())
    );
    assert_eq!(body["sessions"][1]["current"], false);
}

#[actix_web::test]
async fn logout_all_answers_how_many_sessions_ended() {
    let mut mocks = Mocks::default();
    mocks
        .sessions
        .expect_revoke_all_for_user()
        .withf(|user, keep, _, _| *user == CALLER && keep.is_none())
        .returning(|_, _, _, _| Ok(vec![CALLER_SESSION, OTHER_SESSION]));
    mocks.expect_sessions_forgotten();
    mocks.expect_audit();
    let (status, body) = send(
        mocks,
        &["user"],
        TestRequest::post().uri("/v1/auth/logout-all"),
    )
    .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"revoked": 2})));
}

#[actix_web::test]
async fn revoking_one_of_ones_sessions_answers_204() {
    let mut mocks = Mocks::default();
    mocks
        .sessions
        .expect_find_session()
        .returning(|id| Ok(Some(session(id, CALLER))));
    mocks.sessions.expect_revoke().returning(|_, _, _| Ok(true));
    mocks.expect_sessions_forgotten();
    mocks.expect_audit();
    let uri = format!("/v1/auth/sessions/{OTHER_SESSION}");
    let (status, body) = send(mocks, &["user"], TestRequest::delete().uri(&uri)).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
}

#[actix_web::test]
async fn another_users_session_and_a_malformed_id_are_both_not_found() {
    let mut mocks = Mocks::default();
    mocks
        .sessions
        .expect_find_session()
        .returning(|id| Ok(Some(session(id, OTHER))));
    let uri = format!("/v1/auth/sessions/{OTHER_SESSION}");
    let (status, body) = send(mocks, &["user"], TestRequest::delete().uri(&uri)).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not_found");

    // No expectation on the repository: a malformed id never reaches it.
    let (status, headers, body) = send_full(
        &mut Mocks::default(),
        &["user"],
        TestRequest::delete().uri("/v1/auth/sessions/not-a-uuid"),
    )
    .await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(
        headers.get(header::CONTENT_TYPE).unwrap(),
        "application/problem+json"
    );
}

#[actix_web::test]
async fn another_method_on_a_session_path_is_405_with_allow() {
    let (status, headers, body) = send_full(
        &mut Mocks::default(),
        &["user"],
        TestRequest::get().uri(&format!("/v1/auth/sessions/{OTHER_SESSION}")),
    )
    .await;
    assert_problem(
        status,
        &body,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    assert_eq!(headers.get(header::ALLOW).unwrap(), "DELETE");
}

#[actix_web::test]
async fn a_current_password_that_could_never_be_set_is_invalid_credentials() {
    for current in ["", "short", &"x".repeat(129)] {
        // Neither the user nor the hasher is asked.
        let (status, body) = send(
            Mocks::default(),
            &["user"],
            TestRequest::post().uri("/v1/auth/password").set_json(
                json!({"current_password": current, "new_password": "a long new password"}),
            ),
        )
        .await;
        assert_problem(
            status,
            &body,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        );
    }
}

#[actix_web::test]
async fn a_new_password_outside_the_policy_or_an_unknown_field_is_400() {
    for body in [
        json!({"current_password": "correct horse battery", "new_password": "short"}),
        json!({"current_password": "correct horse battery", "new_password": "x".repeat(129)}),
        json!({"current_password": "correct horse battery", "new_password": "a long new password", "admin": true}),
        json!({"current_password": "correct horse battery"}),
    ] {
        let (status, problem) = send(
            Mocks::default(),
            &["user"],
            TestRequest::post().uri("/v1/auth/password").set_json(&body),
        )
        .await;
        assert_problem(
            status,
            &problem,
            StatusCode::BAD_REQUEST,
            "validation_failed",
        );
    }
}

#[actix_web::test]
async fn a_wrong_current_password_is_401_and_a_right_one_keeps_the_callers_session() {
    use tessera_application::ports::PasswordCheck;

    let request = || {
        TestRequest::post().uri("/v1/auth/password").set_json(
            json!({"current_password": "correct horse battery", "new_password": "a long new password"}),
        )
    };
    let mut mocks = Mocks::default();
    mocks
        .users
        .expect_find_by_id()
        .returning(|id| Ok(Some(user(id))));
    mocks
        .passwords
        .expect_verify()
        .returning(|_, _| Ok(PasswordCheck::Mismatch));
    mocks.expect_audit();
    let (status, body) = send(mocks, &["user"], request()).await;
    assert_problem(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );

    let mut mocks = Mocks::default();
    mocks
        .users
        .expect_find_by_id()
        .returning(|id| Ok(Some(user(id))));
    mocks
        .passwords
        .expect_verify()
        .returning(|_, _| Ok(PasswordCheck::Match));
    mocks
        .passwords
        .expect_hash()
        .returning(|_| Ok(PasswordHash::new("$argon2id$fresh".to_owned())));
    mocks
        .users
        .expect_update_password_hash()
        .returning(|_, _| Ok(()));
    mocks
        .sessions
        .expect_revoke_all_for_user()
        .withf(|user, keep, _, _| *user == CALLER && *keep == Some(CALLER_SESSION))
        .returning(|_, _, _, _| Ok(vec![OTHER_SESSION]));
    mocks.expect_sessions_forgotten();
    mocks.expect_audit();
    let (status, body) = send(mocks, &["user"], request()).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
}

fn admin_requests(user: &str) -> Vec<TestRequest> {
    vec![
        TestRequest::get().uri(&format!("/v1/admin/users/{user}/sessions")),
        TestRequest::delete().uri(&format!("/v1/admin/users/{user}/sessions")),
        TestRequest::post().uri(&format!("/v1/admin/users/{user}/disable")),
        TestRequest::post().uri(&format!("/v1/admin/users/{user}/enable")),
        TestRequest::get().uri("/v1/admin/users?email=bob@example.com"),
    ]
}

#[actix_web::test]
async fn a_non_admin_is_forbidden_everywhere_under_admin_even_with_a_malformed_id() {
    for user in [OTHER.to_string(), "not-a-uuid".to_owned()] {
        for request in admin_requests(&user) {
            let (status, body) = send(Mocks::default(), &["user"], request).await;
            assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
        }
    }
}

#[actix_web::test]
async fn an_admin_gets_not_found_for_a_malformed_or_unknown_user() {
    for request in admin_requests("not-a-uuid").into_iter().take(4) {
        let (status, body) = send(Mocks::default(), &["user", "admin"], request).await;
        assert_problem(status, &body, StatusCode::NOT_FOUND, "not_found");
    }
    let mut mocks = Mocks::default();
    mocks
        .users
        .expect_set_disabled()
        .returning(|_, _| Err(Error::NotFound("user")));
    let (status, body) = send(
        mocks,
        &["admin"],
        TestRequest::post().uri(&format!("/v1/admin/users/{OTHER}/disable")),
    )
    .await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not_found");
}

#[actix_web::test]
async fn an_admin_lists_and_revokes_a_users_sessions_on_one_path() {
    let mut mocks = Mocks::default();
    mocks
        .users
        .expect_find_by_id()
        .returning(|id| Ok(Some(user(id))));
    mocks
        .sessions
        .expect_list_active_for_user()
        .withf(|user, _| *user == OTHER)
        .returning(|_, _| Ok(vec![session(OTHER_SESSION, OTHER)]));
    mocks.activity.expect_last_seen().returning(|_| Ok(None));
    let uri = format!("/v1/admin/users/{OTHER}/sessions");
    let (status, body) = send(mocks, &["admin"], TestRequest::get().uri(&uri)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sessions"][0]["id"], OTHER_SESSION.to_string());
    assert_eq!(body["sessions"][0]["current"], false);

    let mut mocks = Mocks::default();
    mocks
        .users
        .expect_find_by_id()
        .returning(|id| Ok(Some(user(id))));
    mocks
        .sessions
        .expect_revoke_all_for_user()
        .withf(|user, keep, _, _| *user == OTHER && keep.is_none())
        .returning(|_, _, _, _| Ok(vec![OTHER_SESSION]));
    mocks.expect_sessions_forgotten();
    mocks.expect_audit();
    let (status, body) = send(mocks, &["admin"], TestRequest::delete().uri(&uri)).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"revoked": 1})));
}

#[actix_web::test]
async fn an_admin_finds_a_user_by_email_and_sees_whether_they_are_disabled() {
    let mut mocks = Mocks::default();
    mocks
        .users
        .expect_find_by_email()
        .returning(|_| Ok(Some(user(OTHER))));
    let (status, body) = send(
        mocks,
        &["admin"],
        TestRequest::get().uri("/v1/admin/users?email=Bob%40example.com"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({
            "id": OTHER.to_string(),
            "email": "bob@example.com",
            "roles": ["user"],
            "created_at": "2025-12-02T09:30:00Z",
            "disabled": true,
        })
    );
}

#[actix_web::test]
async fn a_missing_or_invalid_email_query_is_a_problem_400() {
    for uri in [
        "/v1/admin/users",
        "/v1/admin/users?email=not-an-address",
        "/v1/admin/users?email=bob@example.com&role=admin",
    ] {
        let (status, headers, body) = send_full(
            &mut Mocks::default(),
            &["admin"],
            TestRequest::get().uri(uri),
        )
        .await;
        assert_problem(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
        assert_eq!(
            headers.get(header::CONTENT_TYPE).unwrap(),
            "application/problem+json"
        );
    }
}

#[actix_web::test]
async fn admins_enable_and_disable_users_with_204() {
    for (action, disabled) in [("disable", true), ("enable", false)] {
        let mut mocks = Mocks::default();
        mocks
            .users
            .expect_set_disabled()
            .withf(move |user, at| *user == OTHER && at.is_some() == disabled)
            .returning(|_, _| Ok(()));
        if disabled {
            mocks
                .sessions
                .expect_revoke_all_for_user()
                .returning(|_, _, _, _| Ok(vec![]));
        }
        mocks.expect_audit();
        let uri = format!("/v1/admin/users/{OTHER}/{action}");
        let (status, body) = send(mocks, &["admin"], TestRequest::post().uri(&uri)).await;
        assert_eq!(
            (status, body),
            (StatusCode::NO_CONTENT, Value::Null),
            "{action}"
        );
    }
}
