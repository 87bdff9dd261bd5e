//! `tessera keys rotate`: a running node picks up the new key on its next reload,
//! tokens signed by the retired key keep working until they expire, and the JWKS
//! lists exactly the keys that can still verify a live token.

use std::time::Duration;

use reqwest::StatusCode;
use tokio::time::{Instant, sleep};

use crate::helpers::{Backend, TestApp, jwt_segment, spawn_app};

on_both_backends!(
    tokens_from_before_a_rotation_keep_working_and_new_ones_use_the_new_key,
    a_retired_key_leaves_the_jwks_once_its_last_token_has_expired,
);

/// The app reloads its keys this often in these tests.
const RELOAD: &str = "200ms";

fn kid(access_token: &str) -> String {
    jwt_segment(access_token, 0)["kid"]
        .as_str()
        .expect("a kid")
        .to_owned()
}

async fn jwks_kids(app: &TestApp) -> Vec<String> {
    let reply = app.get("/.well-known/jwks.json").await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    reply.json["keys"]
        .as_array()
        .expect("a key list")
        .iter()
        .map(|key| key["kid"].as_str().expect("a kid").to_owned())
        .collect()
}

/// Polls the JWKS until it lists `expected`, for at most 10 s.
async fn wait_for_jwks(app: &TestApp, expected: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let kids = jwks_kids(app).await;
        if kids == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the JWKS lists {kids:?}, not {expected:?}"
        );
        sleep(Duration::from_millis(50)).await;
    }
}

async fn tokens_from_before_a_rotation_keep_working_and_new_ones_use_the_new_key(backend: Backend) {
    let Some(app) = spawn_app(backend, &[("TESSERA_SIGNING_KEY_RELOAD_INTERVAL", RELOAD)]).await
    else {
        return;
    };
    let before = app.new_session().await;
    let old_kid = kid(&before.access_token);
    assert_eq!(jwks_kids(&app).await, std::slice::from_ref(&old_kid));

    let new_kid = app.rotate_signing_key().await;
    assert_ne!(new_kid, old_kid);
    // Newest first: the new key, and the retired one while its tokens live.
    wait_for_jwks(&app, &[new_kid.clone(), old_kid.clone()]).await;

    assert_eq!(app.me(&before.access_token).await.status, StatusCode::OK);
    let after = app.new_session().await;
    assert_eq!(kid(&after.access_token), new_kid);
    assert_eq!(app.me(&after.access_token).await.status, StatusCode::OK);
    // A refresh of a session from before the rotation gets a token of the new key.
    let refreshed = app.refresh(&before.refresh_token).await.token_pair();
    assert_eq!(kid(&refreshed.access_token), new_kid);
    assert_eq!(app.me(&refreshed.access_token).await.status, StatusCode::OK);
}

async fn a_retired_key_leaves_the_jwks_once_its_last_token_has_expired(backend: Backend) {
    let Some(app) = spawn_app(
        backend,
        &[
            ("TESSERA_SIGNING_KEY_RELOAD_INTERVAL", RELOAD),
            ("TESSERA_ACCESS_TTL", "2s"),
            ("TESSERA_REUSE_GRACE", "1s"),
            ("TESSERA_CLOCK_LEEWAY", "0s"),
        ],
    )
    .await
    else {
        return;
    };
    let before = app.new_session().await;
    let old_kid = kid(&before.access_token);
    let new_kid = app.rotate_signing_key().await;
    wait_for_jwks(&app, &[new_kid.clone(), old_kid]).await;

    // access_ttl + clock_leeway after the rotation, no live token carries the old kid.
    wait_for_jwks(&app, std::slice::from_ref(&new_kid)).await;
    let me = app.me(&before.access_token).await;
    me.assert_problem(401, "unauthorized");
    let after = app.new_session().await;
    assert_eq!(kid(&after.access_token), new_kid);
    assert_eq!(app.me(&after.access_token).await.status, StatusCode::OK);
}
