//! Requests the API must refuse clearly: a 4xx `application/problem+json` with a
//! stable code, never a 5xx.

use std::sync::Arc;
use std::time::Instant;

use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::sync::Barrier;

use crate::helpers::{Backend, PASSWORD, Reply, TestApp, spawn_app, unique_email};

on_both_backends!(
    malformed_bodies_are_refused_with_a_clear_4xx,
    invalid_e_mail_addresses_and_passwords_are_refused_at_registration,
    a_body_over_64_kib_is_refused_with_413,
    an_unknown_route_is_a_problem_404,
    a_known_route_with_another_method_is_a_problem_405,
    a_wrong_password_and_an_unknown_e_mail_get_the_same_answer,
    a_wrong_password_and_an_unknown_e_mail_take_comparable_time,
    registering_an_address_twice_is_a_conflict,
    concurrent_registrations_of_one_address_create_one_user,
    closed_registration_is_forbidden,
    a_garbage_or_altered_refresh_token_is_invalid,
);

async fn post_raw(app: &TestApp, path: &str, content_type: &str, body: &str) -> Reply {
    app.send(
        app.client
            .post(app.url(path))
            .header("content-type", content_type)
            .body(body.to_owned()),
    )
    .await
}

async fn malformed_bodies_are_refused_with_a_clear_4xx(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let email = unique_email();
    for path in ["/v1/auth/register", "/v1/auth/login", "/v1/auth/refresh"] {
        let json = "application/json";
        post_raw(&app, path, json, r#"{"email": "a@b.c", "#)
            .await
            .assert_problem(400, "validation_failed");
        // No body at all is how a browser in cookie transport refreshes: without the
        // cookie, that is no refresh token.
        let (status, code) = if path == "/v1/auth/refresh" {
            (401, "refresh_token_invalid")
        } else {
            (400, "validation_failed")
        };
        post_raw(&app, path, json, "")
            .await
            .assert_problem(status, code);
        post_raw(&app, path, json, "[]")
            .await
            .assert_problem(400, "validation_failed");
        post_raw(&app, path, "text/plain", r#"{"refresh_token": "x"}"#)
            .await
            .assert_problem(415, "unsupported_media_type");
        app.send(
            app.client
                .post(app.url(path))
                .body(r#"{"refresh_token": "x"}"#),
        )
        .await
        .assert_problem(415, "unsupported_media_type");
        post_raw(&app, path, json, r#"{"password": "correct horse"}"#)
            .await
            .assert_problem(400, "validation_failed");
        post_raw(&app, path, json, r#"{"email": 42, "password": null}"#)
            .await
            .assert_problem(400, "validation_failed");
    }
    // Missing and extra fields name the field.
    let missing = app
        .post_json("/v1/auth/register", &json!({ "email": email }))
        .await;
    missing.assert_problem(400, "validation_failed");
    assert!(
        missing.json["detail"]
            .as_str()
            .unwrap()
            .contains("password"),
        "{missing:?}"
    );
    let extra = app
        .post_json(
            "/v1/auth/register",
            &json!({ "email": email, "password": PASSWORD, "roles": ["admin"] }),
        )
        .await;
    extra.assert_problem(400, "validation_failed");
    assert!(
        extra.json["detail"].as_str().unwrap().contains("roles"),
        "{extra:?}"
    );
    app.post_json(
        "/v1/auth/refresh",
        &json!({ "refresh_token": "x", "session_id": "y" }),
    )
    .await
    .assert_problem(400, "validation_failed");
    // None of it created the user.
    assert_eq!(
        app.register(&email, PASSWORD).await.status,
        StatusCode::CREATED
    );
}

async fn invalid_e_mail_addresses_and_passwords_are_refused_at_registration(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    for not_an_email in ["", "ada", "ada@", "@example.com", "ada example@example.com"] {
        app.register(not_an_email, PASSWORD)
            .await
            .assert_problem(400, "validation_failed");
    }
    let email = unique_email();
    app.register(&email, &"p".repeat(7))
        .await
        .assert_problem(400, "validation_failed");
    app.register(&email, &"p".repeat(129))
        .await
        .assert_problem(400, "validation_failed");
    // The limits themselves are accepted.
    assert_eq!(
        app.register(&email, &"p".repeat(8)).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.register(&unique_email(), &"p".repeat(128)).await.status,
        StatusCode::CREATED
    );
    // Characters, not bytes: 7 two-byte characters are too few, 128 are fine.
    app.register(&unique_email(), &"é".repeat(7))
        .await
        .assert_problem(400, "validation_failed");
    let accented = unique_email();
    let long_password = "é".repeat(128);
    assert_eq!(
        app.register(&accented, &long_password).await.status,
        StatusCode::CREATED
    );
    app.login(&accented, &long_password).await;
}

/// A JSON body of exactly `size` bytes.
fn body_of(size: usize) -> String {
    let frame = r#"{"email":"ada@example.com","password":""}"#;
    let body = frame.replace(
        r#""password":"""#,
        &format!(r#""password":"{}""#, "p".repeat(size - frame.len())),
    );
    assert_eq!(body.len(), size);
    body
}

async fn a_body_over_64_kib_is_refused_with_413(backend: Backend) {
    const LIMIT: usize = 64 * 1024;
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    for path in ["/v1/auth/register", "/v1/auth/login"] {
        // At the limit the body is read, and refused for what it says.
        post_raw(&app, path, "application/json", &body_of(LIMIT))
            .await
            .assert_problem(400, "validation_failed");
        post_raw(&app, path, "application/json", &body_of(LIMIT + 1))
            .await
            .assert_problem(413, "payload_too_large");
        post_raw(&app, path, "application/json", &body_of(1024 * 1024))
            .await
            .assert_problem(413, "payload_too_large");
    }
    let token = "t".repeat(LIMIT);
    app.refresh(&token)
        .await
        .assert_problem(413, "payload_too_large");
    // The server is still fine afterwards.
    app.new_session().await;
}

async fn an_unknown_route_is_a_problem_404(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    app.get("/v1/auth/nope")
        .await
        .assert_problem(404, "not_found");
    app.get("/").await.assert_problem(404, "not_found");
    app.post_json("/v1/auth/refresh/extra", &json!({}))
        .await
        .assert_problem(404, "not_found");
    // An empty segment where a route takes an id is no route at all (not a 405 whose
    // `Allow` names the very method used).
    for path in ["/v1/auth/sessions/", "/v1/admin/users//sessions"] {
        app.send(app.client.delete(app.url(path)))
            .await
            .assert_problem(404, "not_found");
    }
}

/// RFC 9110 §15.5.6: the resource exists, the method does not; say which do, in
/// `Allow`. `method_not_allowed` is one of the documented problem codes.
async fn a_known_route_with_another_method_is_a_problem_405(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    for (method, path, allowed) in [
        (Method::GET, "/v1/auth/login", "POST"),
        (Method::PUT, "/v1/auth/register", "POST"),
        (Method::GET, "/v1/auth/refresh", "POST"),
        (Method::GET, "/v1/auth/logout", "POST"),
        (Method::POST, "/v1/auth/me", "GET"),
        (Method::DELETE, "/healthz", "GET"),
    ] {
        let reply = app
            .send(app.client.request(method.clone(), app.url(path)))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {reply:?}"
        );
        reply.assert_problem(405, "method_not_allowed");
        assert!(
            reply
                .header("allow")
                .is_some_and(|allow| allow.contains(allowed)),
            "{method} {path}: {reply:?}"
        );
    }
}

async fn a_wrong_password_and_an_unknown_e_mail_get_the_same_answer(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let email = app.new_user().await;

    let wrong_password = app.try_login(&email, "not the password").await;
    let unknown_email = app.try_login(&unique_email(), "not the password").await;
    wrong_password.assert_problem(401, "invalid_credentials");
    unknown_email.assert_problem(401, "invalid_credentials");
    assert_eq!(wrong_password.json, unknown_email.json);
    assert_eq!(
        wrong_password.header("www-authenticate"),
        unknown_email.header("www-authenticate")
    );
}

/// No account enumeration by timing: an unknown address costs a password hash too.
/// Medians of alternating attempts, with a wide margin; skipping the hash for unknown
/// addresses makes them several times faster.
async fn a_wrong_password_and_an_unknown_e_mail_take_comparable_time(backend: Backend) {
    const ROUNDS: usize = 7;
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let email = app.new_user().await;
    let unknown = unique_email();
    let mut known_times = Vec::new();
    let mut unknown_times = Vec::new();
    for _ in 0..ROUNDS {
        for (address, times) in [(&email, &mut known_times), (&unknown, &mut unknown_times)] {
            let started = Instant::now();
            app.try_login(address, "not the password")
                .await
                .assert_problem(401, "invalid_credentials");
            times.push(started.elapsed());
        }
    }
    known_times.sort_unstable();
    unknown_times.sort_unstable();
    let (known, unknown) = (known_times[ROUNDS / 2], unknown_times[ROUNDS / 2]);
    assert!(
        unknown * 3 > known && known * 3 > unknown,
        "median wrong password {known:?}, median unknown e-mail {unknown:?}"
    );
}

async fn registering_an_address_twice_is_a_conflict(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let email = app.new_user().await;
    app.register(&email, PASSWORD)
        .await
        .assert_problem(409, "conflict");
    // Addresses are compared case-insensitively.
    app.register(&email.to_lowercase(), "another password")
        .await
        .assert_problem(409, "conflict");
    // The first registration's password is the one that works.
    app.login(&email, PASSWORD).await;
    app.try_login(&email, "another password")
        .await
        .assert_problem(401, "invalid_credentials");
}

async fn concurrent_registrations_of_one_address_create_one_user(backend: Backend) {
    const CALLERS: usize = 6;
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let app = Arc::new(app);
    let email = unique_email();
    let start = Arc::new(Barrier::new(CALLERS));
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (app, start, email) = (Arc::clone(&app), Arc::clone(&start), email.clone());
            tokio::spawn(async move {
                start.wait().await;
                app.register(&email, PASSWORD).await
            })
        })
        .collect();
    let mut created = 0;
    for caller in callers {
        let reply = caller.await.unwrap();
        if reply.status == StatusCode::CREATED {
            created += 1;
        } else {
            reply.assert_problem(409, "conflict");
        }
    }
    assert_eq!(created, 1, "exactly one registration wins");
    app.login(&email, PASSWORD).await;
}

async fn closed_registration_is_forbidden(backend: Backend) {
    let Some(app) = spawn_app(backend, &[("TESSERA_REGISTRATION", "closed")]).await else {
        return;
    };
    let email = unique_email();
    app.register(&email, PASSWORD)
        .await
        .assert_problem(403, "forbidden");
    app.try_login(&email, PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
}

async fn a_garbage_or_altered_refresh_token_is_invalid(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let pair = app.new_session().await;
    let (id, secret) = pair
        .refresh_token
        .split_once('.')
        .expect("a refresh token of the form <id>.<secret>");
    let other_secret = format!(
        "{id}.{}{}",
        if secret.starts_with('A') { 'B' } else { 'A' },
        &secret[1..]
    );
    for garbage in [
        "",
        "garbage",
        "a.b",
        pair.access_token.as_str(),
        &"x".repeat(10_000),
        &other_secret,
    ] {
        app.refresh(garbage)
            .await
            .assert_problem(401, "refresh_token_invalid");
    }
    // Guessing did not hurt the real token.
    app.refresh(&pair.refresh_token).await.token_pair();
}
