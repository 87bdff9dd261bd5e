//! Throttling over HTTP (SPEC §4): per-IP token buckets answer `429` with
//! `Retry-After` (problem+json `rate_limited` on /v1, RFC 6749 form on /oauth), a wait
//! of that long is enough, and the per-account login backoff never makes anyone wait
//! longer than its cap. Every request here comes from 127.0.0.1, so per-account backoff
//! across addresses is shown in the application's tests instead.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, PASSWORD, Reply, TestApp, percent_encode, spawn_app, unique_email};

on_both_backends!(
    a_burst_of_logins_over_the_limit_is_429_rate_limited_until_retry_after_has_passed,
    register_refresh_and_password_change_have_buckets_of_their_own,
    the_token_endpoint_answers_429_in_rfc_6749_form_for_both_grants,
    introspection_is_throttled_before_the_client_secret_is_hashed,
    the_login_backoff_is_capped_and_the_same_for_unknown_and_known_addresses,
    with_rate_limit_off_nothing_is_throttled,
    x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy,
    behind_a_trusted_proxy_each_forwarded_client_has_a_bucket_of_its_own,
);

/// Throttling on, with `overrides` on top; the backoff out of the way unless a test
/// sets it.
async fn throttled_app(backend: Backend, overrides: &[(&str, &str)]) -> Option<TestApp> {
    let mut settings = vec![
        ("TESSERA_RATE_LIMIT", "on"),
        ("TESSERA_LOGIN_BACKOFF_FREE_FAILURES", "1000"),
    ];
    settings.extend_from_slice(overrides);
    spawn_app(backend, &settings).await
}

/// Asserts a 429 with a `Retry-After` of whole seconds from 1 to `at_most`; returns it.
#[track_caller]
fn retry_after(reply: &Reply, at_most: u64) -> u64 {
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "expected 429: {reply:?}"
    );
    let seconds: u64 = reply
        .header("retry-after")
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("Retry-After in whole seconds: {reply:?}"));
    assert!((1..=at_most).contains(&seconds), "Retry-After {seconds}");
    assert_eq!(reply.header("cache-control"), Some("no-store"), "{reply:?}");
    seconds
}

/// Asserts the /v1 answer to a throttled request; returns its `Retry-After`.
#[track_caller]
fn assert_rate_limited(reply: &Reply, at_most: u64) -> u64 {
    reply.assert_problem(429, "rate_limited");
    retry_after(reply, at_most)
}

async fn wait(seconds: u64) {
    tokio::time::sleep(Duration::from_secs(seconds)).await;
}

impl TestApp {
    /// A login that claims, in `X-Forwarded-For`, to come from `forwarded_for`.
    async fn login_forwarded(&self, email: &str, forwarded_for: &str) -> Reply {
        self.send(
            self.client
                .post(self.url("/v1/auth/login"))
                .header("x-forwarded-for", forwarded_for)
                .json(&json!({ "email": email, "password": PASSWORD })),
        )
        .await
    }

    async fn form(&self, path: &str, pairs: &[(&str, &str)]) -> Reply {
        let body = pairs
            .iter()
            .map(|(key, value)| format!("{}={}", percent_encode(key), percent_encode(value)))
            .collect::<Vec<_>>()
            .join("&");
        self.send(
            self.client
                .post(self.url(path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await
    }
}

async fn a_burst_of_logins_over_the_limit_is_429_rate_limited_until_retry_after_has_passed(
    backend: Backend,
) {
    // 3 at once, then one a second.
    let Some(app) = throttled_app(
        backend,
        &[
            ("TESSERA_RATE_LIMIT_LOGIN_PER_MINUTE", "60"),
            ("TESSERA_RATE_LIMIT_LOGIN_BURST", "3"),
        ],
    )
    .await
    else {
        return;
    };
    let email = app.new_user().await;
    for _ in 0..3 {
        app.login(&email, PASSWORD).await;
    }
    let refused = app.try_login(&email, PASSWORD).await;
    let seconds = assert_rate_limited(&refused, 1);
    // Refused requests do not eat into the bucket: waiting once is enough.
    assert_rate_limited(&app.try_login(&email, "a wrong password").await, 1);
    wait(seconds).await;
    app.login(&email, PASSWORD).await;
    assert_rate_limited(&app.try_login(&email, PASSWORD).await, 1);
}

async fn register_refresh_and_password_change_have_buckets_of_their_own(backend: Backend) {
    let Some(app) = throttled_app(
        backend,
        &[
            ("TESSERA_RATE_LIMIT_LOGIN_BURST", "2"),
            ("TESSERA_RATE_LIMIT_REFRESH_BURST", "2"),
        ],
    )
    .await
    else {
        return;
    };
    let email = app.new_user().await;
    app.new_user().await;
    assert_rate_limited(&app.register(&unique_email(), PASSWORD).await, 60);
    // Registering used up its own bucket, not the login bucket.
    let pair = app.login(&email, PASSWORD).await;
    let rotated = app.refresh(&pair.refresh_token).await.token_pair();
    app.refresh("not-a-refresh-token")
        .await
        .assert_problem(401, "refresh_token_invalid");
    let seconds = assert_rate_limited(&app.refresh(&rotated.refresh_token).await, 1);
    // A throttled refresh spent nothing: the token rotates once allowed, no reuse.
    wait(seconds).await;
    app.refresh(&rotated.refresh_token).await.token_pair();
    for _ in 0..2 {
        app.change_password(&pair.access_token, "not the password", "a new password!")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    assert_rate_limited(
        &app.change_password(&pair.access_token, PASSWORD, "a new password!")
            .await,
        60,
    );
}

async fn the_token_endpoint_answers_429_in_rfc_6749_form_for_both_grants(backend: Backend) {
    let Some(app) = throttled_app(
        backend,
        &[
            ("TESSERA_RATE_LIMIT_LOGIN_BURST", "2"),
            ("TESSERA_RATE_LIMIT_REFRESH_BURST", "1"),
        ],
    )
    .await
    else {
        return;
    };
    let email = app.new_user().await;
    let password_grant = [
        ("grant_type", "password"),
        ("username", email.as_str()),
        ("password", PASSWORD),
    ];
    // The password grant and /v1/auth/login share the login bucket.
    let first = app.form("/oauth/token", &password_grant).await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    let refresh_token = first.json["refresh_token"].as_str().unwrap().to_owned();
    app.login(&email, PASSWORD).await;
    let refused = app.form("/oauth/token", &password_grant).await;
    retry_after(&refused, 60);
    assert_eq!(refused.content_type(), "application/json");
    assert_eq!(
        refused.json,
        json!({
            "error": "temporarily_unavailable",
            "error_description": format!(
                "too many requests; retry after {} s",
                refused.header("retry-after").unwrap()
            ),
        })
    );
    let refresh_grant = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.as_str()),
    ];
    let rotated = app.form("/oauth/token", &refresh_grant).await;
    assert_eq!(rotated.status, StatusCode::OK, "{rotated:?}");
    let refused = app.form("/oauth/token", &refresh_grant).await;
    retry_after(&refused, 60);
    assert_eq!(refused.json["error"], "temporarily_unavailable");
}

async fn introspection_is_throttled_before_the_client_secret_is_hashed(backend: Backend) {
    let Some(app) = throttled_app(backend, &[("TESSERA_RATE_LIMIT_REFRESH_BURST", "2")]).await
    else {
        return;
    };
    // `stranger:guess` in HTTP Basic: no such client.
    let introspect = || {
        app.send(
            app.client
                .post(app.url("/oauth/introspect"))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("authorization", "Basic c3RyYW5nZXI6Z3Vlc3M=")
                .body("token=abc"),
        )
    };
    for _ in 0..2 {
        let reply = introspect().await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{reply:?}");
        assert_eq!(reply.json["error"], "invalid_client");
    }
    let refused = introspect().await;
    retry_after(&refused, 60);
    assert_eq!(refused.json["error"], "temporarily_unavailable");
}

async fn the_login_backoff_is_capped_and_the_same_for_unknown_and_known_addresses(
    backend: Backend,
) {
    // No free failures; waits of 1 s, 2 s, then never more than the 2 s cap.
    let Some(app) = throttled_app(
        backend,
        &[
            ("TESSERA_LOGIN_BACKOFF_FREE_FAILURES", "0"),
            ("TESSERA_LOGIN_BACKOFF_BASE", "1s"),
            ("TESSERA_LOGIN_BACKOFF_MAX", "2s"),
        ],
    )
    .await
    else {
        return;
    };
    let known = app.new_user().await;
    let unknown = unique_email();
    let wrong = "a wrong password";
    for email in [&known, &unknown] {
        app.try_login(email, wrong)
            .await
            .assert_problem(401, "invalid_credentials");
    }
    // One failure each: both wait a second, and say so alike.
    let known_refusal = app.try_login(&known, wrong).await;
    let unknown_refusal = app.try_login(&unknown, wrong).await;
    assert_rate_limited(&known_refusal, 1);
    assert_rate_limited(&unknown_refusal, 1);
    assert_eq!(known_refusal.json, unknown_refusal.json);
    wait(1).await;
    app.try_login(&known, wrong)
        .await
        .assert_problem(401, "invalid_credentials");
    wait(2).await;
    app.try_login(&known, wrong)
        .await
        .assert_problem(401, "invalid_credentials");
    // Three failures: 4 s uncapped, but the cap is 2 s — even for the right password,
    // which is not checked while the account waits.
    let seconds = assert_rate_limited(&app.try_login(&known, PASSWORD).await, 2);
    wait(seconds).await;
    app.login(&known, PASSWORD).await;
    // The success cleared the failures: a wrong password is checked at once again.
    app.try_login(&known, wrong)
        .await
        .assert_problem(401, "invalid_credentials");
}

async fn with_rate_limit_off_nothing_is_throttled(backend: Backend) {
    // The test default: off.
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let email = app.new_user().await;
    // More than the default burst of 20, and failures far past the free allowance.
    for _ in 0..12 {
        app.try_login(&email, "a wrong password")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    for _ in 0..12 {
        app.login(&email, PASSWORD).await;
    }
}

async fn x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(backend: Backend) {
    let Some(app) = throttled_app(backend, &[("TESSERA_RATE_LIMIT_LOGIN_BURST", "1")]).await else {
        return;
    };
    let email = app.new_user().await;
    app.login_forwarded(&email, "198.51.100.1")
        .await
        .token_pair();
    // Claiming another address does not buy another bucket.
    assert_rate_limited(&app.login_forwarded(&email, "198.51.100.2").await, 60);
}

async fn behind_a_trusted_proxy_each_forwarded_client_has_a_bucket_of_its_own(backend: Backend) {
    let Some(app) = throttled_app(
        backend,
        &[
            ("TESSERA_RATE_LIMIT_LOGIN_BURST", "1"),
            ("TESSERA_TRUSTED_PROXIES", "127.0.0.1, ::1"),
        ],
    )
    .await
    else {
        return;
    };
    let email = app.new_user().await;
    app.login_forwarded(&email, "198.51.100.1")
        .await
        .token_pair();
    assert_rate_limited(&app.login_forwarded(&email, "198.51.100.1").await, 60);
    // The client wrote the first entry itself; the proxy appended the real address.
    let pair = app
        .login_forwarded(&email, "198.51.100.1, 203.0.113.50")
        .await
        .token_pair();
    let sessions = app.sessions(&pair.access_token).await;
    let current = sessions.iter().find(|session| session.current).unwrap();
    assert_eq!(current.ip.as_deref(), Some("203.0.113.50"));
}
