//! `POST /oauth/introspect` (RFC 7662): a configured resource server asks whether a
//! token is active. Asking changes nothing: no rotation, no revocation, no reuse
//! detection.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, Reply, TestApp, base64url_encode, percent_encode, spawn_app};

on_both_backends!(
    an_access_token_is_active_with_its_claims,
    the_access_token_of_a_revoked_session_is_inactive,
    an_expired_access_token_is_inactive,
    a_refresh_token_is_active_until_rotated_and_introspection_never_trips_reuse_detection,
    wrong_or_unknown_client_credentials_are_invalid_client,
    garbage_is_inactive_and_a_missing_token_is_invalid_request,
);

const CLIENT_ID: &str = "orders-api";
const CLIENT_SECRET: &str = "resource-server-secret-for-tests";
/// `echo resource-server-secret-for-tests | tessera clients hash-secret`
const CLIENT_SECRET_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$Bg0xM3czuGFmaTGBQlquXw$3lEpKTAwf/UHUIGvvWrWbAEpAiIOPlYFuwlJm5f/3CQ";

async fn app_with_client(backend: Backend, overrides: &[(&str, &str)]) -> Option<TestApp> {
    let clients = format!("{CLIENT_ID}:{CLIENT_SECRET_HASH}");
    let mut settings = vec![("TESSERA_INTROSPECTION_CLIENTS", clients.as_str())];
    settings.extend_from_slice(overrides);
    spawn_app(backend, &settings).await
}

/// `Basic base64(id:secret)`, standard alphabet with padding.
fn basic(id: &str, secret: &str) -> String {
    let url_safe = base64url_encode(format!("{id}:{secret}").as_bytes());
    let mut standard = url_safe.replace('-', "+").replace('_', "/");
    while !standard.len().is_multiple_of(4) {
        standard.push('=');
    }
    format!("Basic {standard}")
}

impl TestApp {
    async fn introspect_as(&self, id: &str, secret: &str, body: &str) -> Reply {
        self.send(
            self.client
                .post(self.url("/oauth/introspect"))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("authorization", basic(id, secret))
                .body(body.to_owned()),
        )
        .await
    }

    /// Introspects `token` as the configured client; asserts a 200 not to be cached.
    async fn introspect(&self, token: &str) -> Value {
        let reply = self
            .introspect_as(
                CLIENT_ID,
                CLIENT_SECRET,
                &format!("token={}", percent_encode(token)),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        reply.json
    }
}

fn assert_inactive(body: &Value) {
    assert_eq!(body, &serde_json::json!({ "active": false }));
}

async fn an_access_token_is_active_with_its_claims(backend: Backend) {
    let Some(app) = app_with_client(backend, &[]).await else {
        return;
    };
    let pair = app.new_session().await;
    let body = app.introspect(&pair.access_token).await;
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["client_id"], "tessera");
    assert_eq!(body["iss"], "http://tessera.test");
    assert_eq!(body["sid"], pair.session_id.to_string());
    assert!(body["sub"].is_string());
    assert!(body["exp"].as_i64().unwrap() > body["iat"].as_i64().unwrap());
    assert_eq!(body["roles"], serde_json::json!(["user"]));
}

async fn the_access_token_of_a_revoked_session_is_inactive(backend: Backend) {
    let Some(app) = app_with_client(backend, &[]).await else {
        return;
    };
    let pair = app.new_session().await;
    assert_eq!(
        app.logout(&pair.access_token).await.status,
        StatusCode::NO_CONTENT
    );
    assert_inactive(&app.introspect(&pair.access_token).await);
    assert_inactive(&app.introspect(&pair.refresh_token).await);
}

async fn an_expired_access_token_is_inactive(backend: Backend) {
    let Some(app) = app_with_client(
        backend,
        &[
            ("TESSERA_ACCESS_TTL", "1s"),
            ("TESSERA_REUSE_GRACE", "500ms"),
            ("TESSERA_CLOCK_LEEWAY", "0s"),
        ],
    )
    .await
    else {
        return;
    };
    let pair = app.new_session().await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_inactive(&app.introspect(&pair.access_token).await);
}

async fn a_refresh_token_is_active_until_rotated_and_introspection_never_trips_reuse_detection(
    backend: Backend,
) {
    let Some(app) = app_with_client(backend, &[("TESSERA_REUSE_GRACE", "500ms")]).await else {
        return;
    };
    let first = app.new_session().await;
    let body = app.introspect(&first.refresh_token).await;
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["token_type"], "refresh_token");
    assert_eq!(body["sid"], first.session_id.to_string());
    assert!(body["exp"].is_i64());
    // Introspecting did not rotate it: it still refreshes, once.
    let second = app.refresh(&first.refresh_token).await.token_pair();
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // Used beyond the grace window: inactive — and asking does not revoke the family.
    assert_inactive(&app.introspect(&first.refresh_token).await);
    assert_inactive(&app.introspect(&first.refresh_token).await);
    assert_eq!(app.me(&second.access_token).await.status, StatusCode::OK);
    assert_eq!(app.introspect(&second.access_token).await["active"], true);
    let third = app.refresh(&second.refresh_token).await.token_pair();
    assert_eq!(app.introspect(&third.refresh_token).await["active"], true);
}

async fn wrong_or_unknown_client_credentials_are_invalid_client(backend: Backend) {
    let Some(app) = app_with_client(backend, &[]).await else {
        return;
    };
    let pair = app.new_session().await;
    let body = format!("token={}", percent_encode(&pair.access_token));
    for (id, secret) in [
        (CLIENT_ID, "not-the-right-secret"),
        ("someone-else", CLIENT_SECRET),
        (CLIENT_ID, ""),
    ] {
        let reply = app.introspect_as(id, secret, &body).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{id}: {reply:?}");
        assert_eq!(reply.json["error"], "invalid_client");
        assert!(
            reply
                .header("www-authenticate")
                .unwrap()
                .starts_with("Basic")
        );
        assert_eq!(reply.header("cache-control"), Some("no-store"));
    }
    // No credentials at all.
    let reply = app
        .send(
            app.client
                .post(app.url("/oauth/introspect"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.json["error"], "invalid_client");
}

async fn garbage_is_inactive_and_a_missing_token_is_invalid_request(backend: Backend) {
    let Some(app) = app_with_client(backend, &[]).await else {
        return;
    };
    for garbage in ["garbage", "a.b.c", "x.y", "eyJhbGciOiJub25lIn0.e30."] {
        assert_inactive(&app.introspect(garbage).await);
    }
    let reply = app
        .introspect_as(CLIENT_ID, CLIENT_SECRET, "token_type_hint=access_token")
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
    assert_eq!(reply.json["error"], "invalid_request");
}
