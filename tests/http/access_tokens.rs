//! What is refused where an access token is expected: expired, tampered or forged
//! tokens, refresh tokens, other schemes — always 401, never 5xx.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::time::{Instant, sleep_until};

use crate::helpers::{Backend, base64url_encode, jwt_segment, spawn_app};

on_both_backends!(
    an_expired_access_token_is_refused,
    a_tampered_or_forged_access_token_is_refused,
    a_refresh_token_or_another_scheme_is_not_an_access_token,
    a_token_for_another_issuer_or_audience_is_refused,
    tokens_signed_before_a_switch_of_signing_algorithm_stay_valid,
);

async fn an_expired_access_token_is_refused(backend: Backend) {
    // `exp` has whole-second precision: a 2 s token lives between 1 and 2 s.
    let Some(app) = spawn_app(
        backend,
        &[
            ("TESSERA_ACCESS_TTL", "2s"),
            ("TESSERA_REUSE_GRACE", "1s"),
            ("TESSERA_CLOCK_LEEWAY", "0s"),
        ],
    )
    .await
    else {
        return;
    };
    let pair = app.new_session().await;
    let issued = Instant::now();
    assert_eq!(app.me(&pair.access_token).await.status, StatusCode::OK);

    sleep_until(issued + Duration::from_millis(2100)).await;

    let me = app.me(&pair.access_token).await;
    me.assert_problem(401, "unauthorized");
    assert_eq!(me.header("www-authenticate"), Some("Bearer"));
    app.logout(&pair.access_token)
        .await
        .assert_problem(401, "unauthorized");
    // The session itself is fine: the refresh token gets a working access token.
    let fresh = app.refresh(&pair.refresh_token).await.token_pair();
    assert_eq!(app.me(&fresh.access_token).await.status, StatusCode::OK);
}

/// `token` with the character at `index` replaced by another of the same alphabet.
fn flip(token: &str, index: usize) -> String {
    let mut bytes = token.as_bytes().to_vec();
    bytes[index] = if bytes[index] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

async fn a_tampered_or_forged_access_token_is_refused(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let pair = app.new_session().await;
    let token = &pair.access_token;
    assert_eq!(app.me(token).await.status, StatusCode::OK);
    let [header, payload, signature]: [&str; 3] =
        token.split('.').collect::<Vec<_>>().try_into().unwrap();

    // One character changed in the payload, then in the middle of the signature.
    let in_payload = flip(token, header.len() + 1 + payload.len() / 2);
    let in_signature = flip(
        token,
        header.len() + payload.len() + 2 + signature.len() / 2,
    );
    // Claims rewritten (an admin role) with the original signature kept.
    let mut claims = jwt_segment(token, 1);
    claims["roles"] = json!(["admin"]);
    let forged_claims = format!(
        "{header}.{}.{signature}",
        base64url_encode(claims.to_string().as_bytes())
    );
    // The classic: `alg: none` and no signature.
    let unsigned = format!(
        "{}.{payload}.",
        base64url_encode(br#"{"alg":"none","typ":"at+jwt"}"#)
    );
    // HS256 "signed" with nothing the server knows.
    let other_alg = format!(
        "{}.{payload}.{signature}",
        base64url_encode(br#"{"alg":"HS256","typ":"at+jwt"}"#)
    );

    for (what, bad) in [
        ("payload changed", in_payload),
        ("signature changed", in_signature),
        ("claims forged", forged_claims),
        ("alg none", unsigned),
        ("alg switched", other_alg),
    ] {
        let me = app.me(&bad).await;
        assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{what}: {me:?}");
        me.assert_problem(401, "unauthorized");
        app.logout(&bad).await.assert_problem(401, "unauthorized");
    }
    // None of that touched the session.
    assert_eq!(app.me(token).await.status, StatusCode::OK);
}

async fn a_refresh_token_or_another_scheme_is_not_an_access_token(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let pair = app.new_session().await;
    let me_with = |authorization: Option<String>| {
        let mut request = app.client.get(app.url("/v1/auth/me"));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        app.send(request)
    };

    let cases = [
        ("no header", None),
        (
            "refresh token as bearer",
            Some(format!("Bearer {}", pair.refresh_token)),
        ),
        ("basic", Some("Basic dXNlcjpwYXNzd29yZA==".to_owned())),
        (
            "access token under basic",
            Some(format!("Basic {}", pair.access_token)),
        ),
        ("bearer without token", Some("Bearer".to_owned())),
        ("bearer and a space", Some("Bearer ".to_owned())),
        ("two segments", Some("Bearer a.b".to_owned())),
        ("three junk segments", Some("Bearer a.b.c".to_owned())),
        ("not base64", Some("Bearer !!!.???.***".to_owned())),
        ("token alone", Some(pair.access_token.clone())),
        ("long junk", Some(format!("Bearer {}", "x.".repeat(4000)))),
    ];
    for (what, authorization) in cases {
        let me = me_with(authorization).await;
        assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{what}: {me:?}");
        me.assert_problem(401, "unauthorized");
    }
    // The scheme is case-insensitive (RFC 9110 §11.1).
    let me = me_with(Some(format!("bearer {}", pair.access_token))).await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    // The refresh token still does its own job.
    app.refresh(&pair.refresh_token).await.token_pair();
}

async fn a_token_for_another_issuer_or_audience_is_refused(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let pair = app.new_session().await;
    // Same database, so the same keys: only `iss` or `aud` differ.
    let app = app
        .restart(&[("TESSERA_ISSUER", "https://someone-else.example")])
        .await;
    app.me(&pair.access_token)
        .await
        .assert_problem(401, "unauthorized");
    let app = app.restart(&[("TESSERA_AUDIENCE", "another-api")]).await;
    app.me(&pair.access_token)
        .await
        .assert_problem(401, "unauthorized");
    // The settings it was issued under accept it again.
    let app = app.restart(&[]).await;
    assert_eq!(app.me(&pair.access_token).await.status, StatusCode::OK);
}

async fn tokens_signed_before_a_switch_of_signing_algorithm_stay_valid(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let before = app.new_session().await;
    assert_eq!(jwt_segment(&before.access_token, 0)["alg"], "EdDSA");

    let app = app.restart(&[("TESSERA_SIGNING_ALG", "HS256")]).await;
    let after = app.new_session().await;
    let header = jwt_segment(&after.access_token, 0);
    assert_eq!(header["alg"], "HS256");
    assert_eq!(header["typ"], "at+jwt");
    assert_ne!(header["kid"], jwt_segment(&before.access_token, 0)["kid"]);
    assert_eq!(app.me(&after.access_token).await.status, StatusCode::OK);
    assert_eq!(app.me(&before.access_token).await.status, StatusCode::OK);
    // Refresh under the new algorithm signs with it.
    let rotated = app.refresh(&before.refresh_token).await.token_pair();
    assert_eq!(jwt_segment(&rotated.access_token, 0)["alg"], "HS256");

    // And back: both generations of keys still verify.
    let app = app.restart(&[]).await;
    let again = app.new_session().await;
    assert_eq!(jwt_segment(&again.access_token, 0)["alg"], "EdDSA");
    for token in [
        &before.access_token,
        &after.access_token,
        &again.access_token,
    ] {
        assert_eq!(app.me(token).await.status, StatusCode::OK);
    }
}
