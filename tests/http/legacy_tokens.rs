//! Legacy access tokens (SPEC §3): during a migration, HS256 tokens of the former
//! system, without `sid`, stay valid until their own `exp` — and nothing more.

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, spawn_app, unique_email};

const LEGACY_SECRET: &str = "the secret of the system tessera replaces";

fn legacy_token(claims: &Value, secret: &str) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// A token's `exp` as the former system would have written it, from the real clock.
#[allow(
    clippy::disallowed_methods,
    reason = "the server under test reads the same clock"
)]
fn seconds_from_now(seconds: i64) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    i64::try_from(now).unwrap() + seconds
}

async fn a_legacy_token_works_until_its_exp_and_nothing_more(backend: Backend) {
    let Some(app) = spawn_app(
        backend,
        &[
            ("TESSERA_LEGACY_JWT_SECRET", LEGACY_SECRET),
            ("TESSERA_CLOCK_LEEWAY", "0s"),
        ],
    )
    .await
    else {
        return;
    };
    let email = unique_email();
    let registered = app.register(&email, PASSWORD).await;
    assert_eq!(registered.status, StatusCode::CREATED, "{registered:?}");
    let user_id = registered.json["id"].as_str().unwrap().to_owned();

    let valid = legacy_token(
        &json!({"sub": user_id, "exp": seconds_from_now(60), "roles": ["user"]}),
        LEGACY_SECRET,
    );
    let me = app.me(&valid).await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    assert_eq!(me.json["user"]["id"], user_id.as_str());
    assert_eq!(
        me.json["session"],
        Value::Null,
        "a legacy token has no session"
    );

    // A forged `roles` claim grants nothing: roles come from the stored user.
    let claiming_admin = legacy_token(
        &json!({"sub": user_id, "exp": seconds_from_now(60), "roles": ["admin"]}),
        LEGACY_SECRET,
    );
    app.bearer(
        reqwest::Method::GET,
        &format!(
            "/v1/admin/users?email={}",
            crate::helpers::percent_encode(&email)
        ),
        &claiming_admin,
    )
    .await
    .assert_problem(403, "forbidden");
    // A legacy token of a user who does not exist is refused.
    let nobody = legacy_token(
        &json!({"sub": "00000000-0000-4000-8000-000000000000", "exp": seconds_from_now(60)}),
        LEGACY_SECRET,
    );
    app.me(&nobody).await.assert_problem(401, "unauthorized");

    // It cannot be refreshed (it is no refresh token) nor logged out (no session).
    app.refresh(&valid)
        .await
        .assert_problem(401, "refresh_token_invalid");
    app.logout(&valid).await.assert_problem(404, "not_found");

    let expired = legacy_token(
        &json!({"sub": user_id, "exp": seconds_from_now(-5)}),
        LEGACY_SECRET,
    );
    app.me(&expired).await.assert_problem(401, "unauthorized");

    let forged = legacy_token(
        &json!({"sub": user_id, "exp": seconds_from_now(60)}),
        "another secret entirely",
    );
    app.me(&forged).await.assert_problem(401, "unauthorized");

    // A token that names a session is never a legacy token, even with the old secret.
    let with_session = legacy_token(
        &json!({"sub": user_id, "sid": user_id, "exp": seconds_from_now(60)}),
        LEGACY_SECRET,
    );
    app.me(&with_session)
        .await
        .assert_problem(401, "unauthorized");
}

async fn without_the_legacy_secret_old_tokens_are_refused(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let email = unique_email();
    let registered = app.register(&email, PASSWORD).await;
    let user_id = registered.json["id"].as_str().unwrap().to_owned();
    let token = legacy_token(
        &json!({"sub": user_id, "exp": seconds_from_now(60)}),
        LEGACY_SECRET,
    );
    app.me(&token).await.assert_problem(401, "unauthorized");
}

on_both_backends!(
    a_legacy_token_works_until_its_exp_and_nothing_more,
    without_the_legacy_secret_old_tokens_are_refused,
);
