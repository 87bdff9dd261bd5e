//! A session from registration to logout: the happy path, and what logout ends.

use reqwest::StatusCode;
use uuid::Uuid;

use crate::helpers::{Backend, PASSWORD, jwt_segment, spawn_app, unique_email};

on_both_backends!(
    register_login_me_refresh_and_logout_work_end_to_end,
    logout_ends_the_session_for_its_refresh_and_access_tokens,
    logout_ends_only_the_current_session,
    a_logged_out_session_stays_revoked_after_a_restart,
    access_tokens_of_a_revoked_session_stay_refused_inside_the_clock_leeway,
);

async fn register_login_me_refresh_and_logout_work_end_to_end(backend: Backend) {
    let Some(app) = spawn_app(
        backend,
        &[
            ("TESSERA_ACCESS_TTL", "10m"),
            ("TESSERA_IDLE_TIMEOUT", "1h"),
            ("TESSERA_ABSOLUTE_LIFETIME", "2h"),
        ],
    )
    .await
    else {
        return;
    };
    let email = unique_email();

    // Register: 201, the address normalised, the default role, no secret echoed.
    let registered = app.register(&email, PASSWORD).await;
    assert_eq!(registered.status, StatusCode::CREATED, "{registered:?}");
    assert_eq!(registered.content_type(), "application/json");
    let user_id: Uuid = registered.json["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("a user id: {}", registered.text));
    assert_eq!(registered.json["email"], email.to_lowercase());
    assert_eq!(registered.json["roles"], serde_json::json!(["user"]));
    let lowered = registered.text.to_lowercase();
    for secret in [PASSWORD, "password", "hash", "argon2"] {
        assert!(
            !lowered.contains(secret),
            "{secret:?} in {}",
            registered.text
        );
    }

    // Login (with the address in another case): a token pair in the documented shape.
    let login = app.try_login(&email.to_uppercase(), PASSWORD).await;
    assert_eq!(login.header("pragma"), Some("no-cache"));
    let pair = login.token_pair();
    assert_eq!(pair.token_type, "Bearer");
    // `exp` is whole seconds, so the token lives access_ttl from its `iat` and
    // `expires_in` never promises more than what is left of that.
    let claims = jwt_segment(&pair.access_token, 1);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );
    assert!(
        (599..=600).contains(&pair.expires_in),
        "expires_in is access_ttl, rounded down: {}",
        pair.expires_in
    );
    assert_eq!(
        pair.refresh_expires_in, 3600,
        "min(idle_timeout, absolute_expires_at - now) at login"
    );
    assert!(
        pair.refresh_token.len() >= 43
            && pair
                .refresh_token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
        "an opaque URL-safe refresh token of 256+ bits: {}",
        pair.refresh_token
    );
    let header = jwt_segment(&pair.access_token, 0);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "EdDSA");
    let claims = jwt_segment(&pair.access_token, 1);
    assert_eq!(claims["sub"], user_id.to_string());
    assert_eq!(claims["sid"], pair.session_id.to_string());
    assert_eq!(claims["iss"], "http://tessera.test");
    assert_eq!(claims["aud"], "tessera");
    assert_eq!(claims["roles"], serde_json::json!(["user"]));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );

    // Me: the user and the current session.
    let me = app.me(&pair.access_token).await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    assert_eq!(me.header("cache-control"), Some("no-store"));
    assert_eq!(me.json["user"]["id"], user_id.to_string());
    assert_eq!(me.json["user"]["email"], email.to_lowercase());
    assert_eq!(me.json["user"]["roles"], serde_json::json!(["user"]));
    assert_eq!(me.json["session"]["id"], pair.session_id.to_string());
    assert!(
        me.json["session"]["absolute_expires_at"].is_string(),
        "{me:?}"
    );
    assert!(!me.text.to_lowercase().contains("hash"), "{}", me.text);

    // Refresh: a new pair of the same session; the new access token works.
    let refreshed = app.refresh(&pair.refresh_token).await.token_pair();
    assert_ne!(refreshed.refresh_token, pair.refresh_token, "rotation");
    assert_ne!(refreshed.access_token, pair.access_token);
    assert_eq!(refreshed.session_id, pair.session_id);
    assert_eq!(refreshed.token_type, "Bearer");
    assert!((599..=600).contains(&refreshed.expires_in));
    assert_eq!(refreshed.refresh_expires_in, 3600);
    let me = app.me(&refreshed.access_token).await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    assert_eq!(me.json["session"]["id"], pair.session_id.to_string());

    // Logout: 204, no body.
    let logout = app.logout(&refreshed.access_token).await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT, "{logout:?}");
    assert!(logout.text.is_empty());
}

async fn logout_ends_the_session_for_its_refresh_and_access_tokens(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let login = app.new_session().await;
    let pair = app.refresh(&login.refresh_token).await.token_pair();
    assert_eq!(
        app.logout(&pair.access_token).await.status,
        StatusCode::NO_CONTENT
    );

    app.refresh(&pair.refresh_token)
        .await
        .assert_problem(401, "session_revoked");
    // Inside the grace window the rotated token's duplicate is not answered either:
    // the saved response belongs to a session that has ended.
    app.refresh(&login.refresh_token)
        .await
        .assert_problem(401, "session_revoked");
    let me = app.me(&pair.access_token).await;
    me.assert_problem(401, "session_revoked");
    assert_eq!(me.header("www-authenticate"), Some("Bearer"));
    app.logout(&pair.access_token)
        .await
        .assert_problem(401, "session_revoked");
}

async fn logout_ends_only_the_current_session(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let email = app.new_user().await;
    let laptop = app.login(&email, PASSWORD).await;
    let phone = app.login(&email, PASSWORD).await;
    assert_ne!(laptop.session_id, phone.session_id);

    assert_eq!(
        app.logout(&laptop.access_token).await.status,
        StatusCode::NO_CONTENT
    );

    assert_eq!(app.me(&phone.access_token).await.status, StatusCode::OK);
    let phone = app.refresh(&phone.refresh_token).await.token_pair();
    assert_eq!(app.me(&phone.access_token).await.status, StatusCode::OK);
    app.refresh(&laptop.refresh_token)
        .await
        .assert_problem(401, "session_revoked");
}

async fn a_logged_out_session_stays_revoked_after_a_restart(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let pair = app.new_session().await;
    assert_eq!(
        app.logout(&pair.access_token).await.status,
        StatusCode::NO_CONTENT
    );

    // Same database (keys, sessions), fresh process state.
    let app = app.restart(&[]).await;

    app.refresh(&pair.refresh_token)
        .await
        .assert_problem(401, "session_revoked");
    app.me(&pair.access_token)
        .await
        .assert_problem(401, "session_revoked");
    // Every authenticated request refuses the revoked session, not only those that
    // happen to read it from the database.
    app.logout(&pair.access_token)
        .await
        .assert_problem(401, "session_revoked");
}

/// With a clock leeway, an access token is accepted a while past its `exp`; the
/// revocation must last that long too.
async fn access_tokens_of_a_revoked_session_stay_refused_inside_the_clock_leeway(backend: Backend) {
    let Some(app) = spawn_app(
        backend,
        &[
            ("TESSERA_ACCESS_TTL", "1s"),
            ("TESSERA_REUSE_GRACE", "500ms"),
            ("TESSERA_CLOCK_LEEWAY", "10s"),
        ],
    )
    .await
    else {
        return;
    };
    let pair = app.new_session().await;
    let other = app.new_session().await;
    assert_eq!(
        app.logout(&pair.access_token).await.status,
        StatusCode::NO_CONTENT
    );

    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;

    // Past `exp`, inside the leeway: a live session's token still works...
    assert_eq!(app.me(&other.access_token).await.status, StatusCode::OK);
    // ...and the revoked one's is still refused as revoked, by every endpoint.
    app.logout(&pair.access_token)
        .await
        .assert_problem(401, "session_revoked");
    app.me(&pair.access_token)
        .await
        .assert_problem(401, "session_revoked");
}
