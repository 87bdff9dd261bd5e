//! Browsers (SPEC §4, cookie transport): the refresh token in an `HttpOnly` cookie, a
//! readable CSRF cookie echoed in `X-CSRF-Token`, the `Origin` check, CORS with
//! credentials for the configured origins only, the optional access cookie; and the
//! gateway's `GET /v1/auth/verify` and the `/demo` page.
//!
//! reqwest keeps no cookies here: each test reads `Set-Cookie` and sends `Cookie`
//! itself, the way a browser would.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::header::{COOKIE, ORIGIN, REFERER};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use tokio::time::{Instant, sleep, sleep_until};

use crate::helpers::{Backend, PASSWORD, Reply, TestApp, spawn_app};

on_both_backends!(
    cookie_login_sets_an_httponly_refresh_cookie_and_a_readable_csrf_cookie,
    secure_cookies_carry_the_name_prefixes_and_are_cleared_as_secure,
    body_transport_stays_the_default_and_sets_no_cookie,
    a_cookie_refresh_rotates_the_refresh_cookie_and_keeps_the_csrf_token,
    a_refresh_cookie_replayed_after_the_grace_window_is_reuse_and_clears_the_cookies,
    a_cookie_refresh_without_the_csrf_proof_is_refused_and_consumes_nothing,
    a_referer_of_the_own_origin_stands_in_for_a_missing_origin,
    the_issuers_origin_counts_as_the_services_own,
    an_allowed_origin_gets_cors_with_credentials_and_passes_the_origin_check,
    a_foreign_origin_gets_no_cors_headers_and_cannot_use_the_cookies,
    cookie_login_is_refused_from_a_foreign_origin_and_allowed_without_one,
    a_refresh_with_neither_body_token_nor_cookie_is_refresh_token_invalid,
    a_body_token_wins_over_the_refresh_cookie_and_needs_no_csrf,
    cookie_only_logout_revokes_the_session_and_clears_the_cookies,
    cookie_only_logout_without_the_csrf_proof_is_refused_and_the_session_lives,
    bearer_logout_clears_cookies_only_when_the_request_carries_them,
    a_logout_with_the_cookies_of_an_ended_session_is_refused_and_clears_them,
    the_access_cookie_authenticates_reads_and_csrf_checked_state_changes,
    the_access_cookie_is_ignored_unless_enabled,
    a_garbage_access_cookie_is_a_401_never_a_5xx,
    verify_answers_a_gateway_with_the_identity_in_headers,
    verify_refuses_expired_revoked_and_missing_tokens,
    the_demo_page_and_its_assets_are_served_under_a_strict_csp,
);

/// Cookies without `Secure` (and so without name prefixes), for plain-http tests.
const LOCAL_HTTP: (&str, &str) = ("TESSERA_COOKIE_SECURE", "false");
const REFRESH: &str = "tessera_refresh";
const CSRF: &str = "tessera_csrf";
const ACCESS: &str = "tessera_access";
/// Where the refresh cookie is scoped: refresh and logout, nothing else.
const AUTH_PATH: &str = "/v1/auth";
const CSRF_HEADER: &str = "x-csrf-token";
/// Another site's page, allowed by `TESSERA_ALLOWED_ORIGINS` in some tests.
const PARTNER: &str = "https://app.example.com";
const EVIL: &str = "https://evil.example";

// ---------------------------------------------------------------------------------
// Cookie transport: login

async fn cookie_login_sets_an_httponly_refresh_cookie_and_a_readable_csrf_cookie(backend: Backend) {
    let Some(app) = spawn_app(backend, &[LOCAL_HTTP]).await else {
        return;
    };
    let email = app.new_user().await;

    let reply = cookie_login(&app, &email, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = reply.json.as_object().expect("a JSON object");
    assert!(
        !body.contains_key("refresh_token"),
        "cookie transport keeps the refresh token out of the body: {}",
        reply.text
    );
    assert_eq!(body["token_type"], "Bearer");
    let access_token = body["access_token"].as_str().expect("an access token");
    let csrf_token = body["csrf_token"].as_str().expect("a CSRF token");
    assert!(csrf_token.len() >= 32, "{csrf_token}");
    let refresh_expires_in = body["refresh_expires_in"]
        .as_i64()
        .expect("refresh_expires_in");

    let refresh = set_cookie(&reply, REFRESH);
    assert!(
        refresh.value.len() >= 43,
        "a real refresh token: {refresh:?}"
    );
    assert!(
        !reply.text.contains(&refresh.value),
        "the refresh token must not be readable by scripts"
    );
    assert!(refresh.flag("httponly"), "{refresh:?}");
    assert_eq!(refresh.attribute("samesite"), Some("Strict"), "{refresh:?}");
    assert_eq!(refresh.attribute("path"), Some(AUTH_PATH), "{refresh:?}");
    assert_eq!(refresh.max_age(), Some(refresh_expires_in), "{refresh:?}");
    assert!(!refresh.flag("secure"), "TESSERA_COOKIE_SECURE=false");
    assert_eq!(refresh.attribute("domain"), None, "a host-only cookie");

    let csrf = set_cookie(&reply, CSRF);
    assert_eq!(
        csrf.value, csrf_token,
        "the readable cookie is the body's token"
    );
    assert!(!csrf.flag("httponly"), "scripts must read it: {csrf:?}");
    assert_eq!(csrf.attribute("path"), Some("/"), "{csrf:?}");
    assert_eq!(csrf.attribute("samesite"), Some("Strict"), "{csrf:?}");
    assert_eq!(
        csrf.max_age(),
        Some(refresh_expires_in),
        "the CSRF cookie lives as long as the refresh cookie: {csrf:?}"
    );
    assert!(!csrf.flag("secure"));

    assert_eq!(
        set_cookies(&reply).len(),
        2,
        "no access cookie unless TESSERA_ACCESS_COOKIE: {reply:?}"
    );
    let me = app.me(access_token).await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    assert_eq!(me.json["session"]["id"], body["session_id"]);
}

async fn secure_cookies_carry_the_name_prefixes_and_are_cleared_as_secure(backend: Backend) {
    // The default settings: Secure cookies.
    let Some(app) = spawn_app(backend, &[("TESSERA_ACCESS_COOKIE", "true")]).await else {
        return;
    };
    let email = app.new_user().await;
    let reply = cookie_login(&app, &email, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");

    let mut names: Vec<String> = set_cookies(&reply).into_iter().map(|c| c.name).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "__Host-tessera_access",
            "__Host-tessera_csrf",
            "__Secure-tessera_refresh"
        ]
    );
    let refresh = set_cookie(&reply, "__Secure-tessera_refresh");
    assert!(
        refresh.flag("secure") && refresh.flag("httponly"),
        "{refresh:?}"
    );
    assert_eq!(refresh.attribute("path"), Some(AUTH_PATH));
    assert_eq!(refresh.attribute("samesite"), Some("Strict"));
    // `__Host-` cookies are only accepted with Secure, Path=/ and no Domain.
    for name in ["__Host-tessera_csrf", "__Host-tessera_access"] {
        let cookie = set_cookie(&reply, name);
        assert!(cookie.flag("secure"), "{cookie:?}");
        assert_eq!(cookie.attribute("path"), Some("/"), "{cookie:?}");
        assert_eq!(cookie.attribute("domain"), None, "{cookie:?}");
        assert_eq!(cookie.attribute("samesite"), Some("Strict"), "{cookie:?}");
    }
    assert!(!set_cookie(&reply, "__Host-tessera_csrf").flag("httponly"));
    assert!(set_cookie(&reply, "__Host-tessera_access").flag("httponly"));
    assert_eq!(
        set_cookie(&reply, "__Host-tessera_csrf").value,
        reply.json["csrf_token"]
    );

    // The prefixed cookies are the ones the service reads back.
    let mut jar = Jar::default();
    jar.store(&reply);
    let refreshed = cookie_refresh(&app, &jar).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{refreshed:?}");
    jar.store(&refreshed);

    // A browser drops a prefixed cookie only when the removal is Secure too, with the
    // same path.
    let logout = app
        .send(from_page(
            &app,
            Method::POST,
            "/v1/auth/logout",
            &jar.header(),
            Some(jar.csrf()),
            Some(&app.address),
        ))
        .await;
    logout.assert_no_content();
    assert_cleared(
        &logout,
        &[
            ("__Secure-tessera_refresh", AUTH_PATH),
            ("__Host-tessera_csrf", "/"),
            ("__Host-tessera_access", "/"),
        ],
    );
    for name in [
        "__Secure-tessera_refresh",
        "__Host-tessera_csrf",
        "__Host-tessera_access",
    ] {
        assert!(set_cookie(&logout, name).flag("secure"), "{logout:?}");
    }
}

async fn body_transport_stays_the_default_and_sets_no_cookie(backend: Backend) {
    let Some(app) = spawn_app(backend, &[LOCAL_HTTP]).await else {
        return;
    };
    let email = app.new_user().await;

    // `token_pair` refuses unknown fields: no `csrf_token` either.
    let default = app.try_login(&email, PASSWORD).await;
    let pair = default.token_pair();
    assert!(set_cookies(&default).is_empty(), "{default:?}");
    let explicit = app
        .post_json(
            "/v1/auth/login",
            &json!({ "email": email, "password": PASSWORD, "transport": "body" }),
        )
        .await;
    explicit.token_pair();
    assert!(set_cookies(&explicit).is_empty(), "{explicit:?}");

    let refreshed = app.refresh(&pair.refresh_token).await;
    refreshed.token_pair();
    assert!(set_cookies(&refreshed).is_empty(), "{refreshed:?}");

    app.post_json(
        "/v1/auth/login",
        &json!({ "email": email, "password": PASSWORD, "transport": "pigeon" }),
    )
    .await
    .assert_problem(400, "validation_failed");
}

// ---------------------------------------------------------------------------------
// Cookie transport: refresh

async fn a_cookie_refresh_rotates_the_refresh_cookie_and_keeps_the_csrf_token(backend: Backend) {
    let Some(app) = spawn_app(backend, &[LOCAL_HTTP]).await else {
        return;
    };
    let (mut jar, login) = browser_login(&app).await;
    let csrf_token = jar.csrf().to_owned();
    let first_refresh = jar.get(REFRESH).to_owned();

    // No body at all, as `fetch` sends it.
    let reply = cookie_refresh(&app, &jar).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert!(reply.json.get("refresh_token").is_none(), "{}", reply.text);
    assert_eq!(reply.json["csrf_token"], csrf_token.as_str());
    assert_eq!(reply.json["session_id"], login["session_id"]);
    let rotated = set_cookie(&reply, REFRESH);
    assert_ne!(rotated.value, first_refresh, "rotation");
    assert!(rotated.flag("httponly"));
    assert_eq!(rotated.attribute("path"), Some(AUTH_PATH));
    assert_eq!(rotated.max_age(), reply.json["refresh_expires_in"].as_i64());
    assert_eq!(
        set_cookie(&reply, CSRF).value,
        csrf_token,
        "same CSRF token"
    );
    let access_token = reply.json["access_token"].as_str().expect("a token");
    assert_ne!(access_token, login["access_token"]);
    let me = app.me(access_token).await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    assert_eq!(me.json["session"]["id"], login["session_id"]);
    jar.store(&reply);

    // `{}` works the same; a duplicate inside the grace window (10 s) gets the
    // identical answer, cookies included.
    let before = jar.clone();
    let again = app
        .send(cookie_refresh_request(&app, &jar).json(&json!({})))
        .await;
    assert_eq!(again.status, StatusCode::OK, "{again:?}");
    assert_ne!(set_cookie(&again, REFRESH).value, jar.get(REFRESH));
    let duplicate = cookie_refresh(&app, &before).await;
    assert_eq!(duplicate.status, StatusCode::OK, "{duplicate:?}");
    assert_eq!(
        set_cookie(&duplicate, REFRESH).value,
        set_cookie(&again, REFRESH).value
    );
    assert_eq!(duplicate.json["access_token"], again.json["access_token"]);
    assert_eq!(set_cookie(&duplicate, CSRF).value, csrf_token);
}

async fn a_refresh_cookie_replayed_after_the_grace_window_is_reuse_and_clears_the_cookies(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend, &[LOCAL_HTTP, ("TESSERA_REUSE_GRACE", "1s")]).await else {
        return;
    };
    let (mut jar, _) = browser_login(&app).await;
    let stolen = jar.clone();
    let rotated = cookie_refresh(&app, &jar).await;
    assert_eq!(rotated.status, StatusCode::OK, "{rotated:?}");
    jar.store(&rotated);

    sleep(Duration::from_millis(1500)).await;

    let replay = cookie_refresh(&app, &stolen).await;
    replay.assert_problem(401, "refresh_token_reused");
    assert_cleared(&replay, &[(REFRESH, AUTH_PATH), (CSRF, "/")]);
    // The whole family is dead, and the legitimate browser is told so and cleaned up.
    let current = cookie_refresh(&app, &jar).await;
    current.assert_problem(401, "session_revoked");
    assert_cleared(&current, &[(REFRESH, AUTH_PATH), (CSRF, "/")]);
    let access_token = rotated.json["access_token"].as_str().expect("a token");
    app.me(access_token)
        .await
        .assert_problem(401, "session_revoked");
}

async fn a_cookie_refresh_without_the_csrf_proof_is_refused_and_consumes_nothing(backend: Backend) {
    // No grace: a refresh token consumed by a refused request would show as reuse.
    let Some(app) = spawn_app(backend, &[LOCAL_HTTP, ("TESSERA_REUSE_GRACE", "0s")]).await else {
        return;
    };
    let (jar, _) = browser_login(&app).await;
    let cookies = jar.header();
    let only_refresh = cookie_header(&[(REFRESH, jar.get(REFRESH))]);
    let csrf = jar.csrf();
    let own = app.address.as_str();
    let cases: [(&str, &str, Option<&str>, Option<&str>); 6] = [
        ("no X-CSRF-Token", &cookies, None, Some(own)),
        (
            "a wrong X-CSRF-Token",
            &cookies,
            Some("not-the-token"),
            Some(own),
        ),
        (
            "no CSRF cookie to match",
            &only_refresh,
            Some(csrf),
            Some(own),
        ),
        ("no Origin and no Referer", &cookies, Some(csrf), None),
        ("a foreign Origin", &cookies, Some(csrf), Some(EVIL)),
        ("Origin: null", &cookies, Some(csrf), Some("null")),
    ];
    for (case, cookies, csrf_header, origin) in cases {
        let request = from_page(
            &app,
            Method::POST,
            "/v1/auth/refresh",
            cookies,
            csrf_header,
            origin,
        );
        let reply = app.send(request).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{case}: {reply:?}");
        reply.assert_problem(403, "csrf_failed");
        assert!(
            set_cookies(&reply).is_empty(),
            "{case}: a forged request must not sign the browser out: {reply:?}"
        );
        assert!(!reply.text.contains(csrf), "{case}: leaks the token");
    }
    // A foreign Referer is no better than a foreign Origin.
    let foreign_referer = app
        .send(
            from_page(
                &app,
                Method::POST,
                "/v1/auth/refresh",
                &cookies,
                Some(csrf),
                None,
            )
            .header(REFERER, format!("{EVIL}/page")),
        )
        .await;
    foreign_referer.assert_problem(403, "csrf_failed");

    let good = cookie_refresh(&app, &jar).await;
    assert_eq!(good.status, StatusCode::OK, "not consumed: {good:?}");
}

async fn a_referer_of_the_own_origin_stands_in_for_a_missing_origin(backend: Backend) {
    let Some(app) = spawn_app(backend, &[LOCAL_HTTP]).await else {
        return;
    };
    let (jar, _) = browser_login(&app).await;
    let reply = app
        .send(
            from_page(
                &app,
                Method::POST,
                "/v1/auth/refresh",
                &jar.header(),
                Some(jar.csrf()),
                None,
            )
            .header(REFERER, app.url("/demo/?tab=sessions")),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_ne!(set_cookie(&reply, REFRESH).value, jar.get(REFRESH));
}

async fn the_issuers_origin_counts_as_the_services_own(backend: Backend) {
    // Behind a proxy that rewrites `Host`, pages come from the public address: the
    // test apps' TESSERA_ISSUER.
    let Some(app) = spawn_app(backend, &[LOCAL_HTTP]).await else {
        return;
    };
    let issuer = "http://tessera.test";
    let email = app.new_user().await;
    let login = cookie_login(&app, &email, Some(issuer)).await;
    assert_eq!(login.status, StatusCode::OK, "{login:?}");
    let mut jar = Jar::default();
    jar.store(&login);
    let reply = app
        .send(from_page(
            &app,
            Method::POST,
            "/v1/auth/refresh",
            &jar.header(),
            Some(jar.csrf()),
            Some(issuer),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
}

// ---------------------------------------------------------------------------------
// Origins and CORS

async fn an_allowed_origin_gets_cors_with_credentials_and_passes_the_origin_check(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend, &[LOCAL_HTTP, ("TESSERA_ALLOWED_ORIGINS", PARTNER)]).await
    else {
        return;
    };
    let preflight = app
        .send(
            app.client
                .request(Method::OPTIONS, app.url("/v1/auth/refresh"))
                .header(ORIGIN, PARTNER)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "content-type,x-csrf-token",
                ),
        )
        .await;
    assert!(preflight.status.is_success(), "{preflight:?}");
    assert_cors_for(&preflight, PARTNER);
    let allowed_headers = preflight
        .header("access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(
        allowed_headers.contains(CSRF_HEADER) && allowed_headers.contains("content-type"),
        "{preflight:?}"
    );
    let allowed_methods = preflight
        .header("access-control-allow-methods")
        .unwrap_or_default();
    assert!(allowed_methods.contains("POST"), "{preflight:?}");

    let email = app.new_user().await;
    let login = cookie_login(&app, &email, Some(PARTNER)).await;
    assert_eq!(login.status, StatusCode::OK, "{login:?}");
    assert_cors_for(&login, PARTNER);
    let mut jar = Jar::default();
    jar.store(&login);

    let refreshed = app
        .send(from_page(
            &app,
            Method::POST,
            "/v1/auth/refresh",
            &jar.header(),
            Some(jar.csrf()),
            Some(PARTNER),
        ))
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{refreshed:?}");
    assert_cors_for(&refreshed, PARTNER);

    // The page must be able to read a refusal's code too (to tell the user why).
    let refused = app
        .send(
            app.client
                .post(app.url("/v1/auth/refresh"))
                .header(ORIGIN, PARTNER),
        )
        .await;
    refused.assert_problem(401, "refresh_token_invalid");
    assert_cors_for(&refused, PARTNER);
}

async fn a_foreign_origin_gets_no_cors_headers_and_cannot_use_the_cookies(backend: Backend) {
    let Some(app) = spawn_app(backend, &[LOCAL_HTTP, ("TESSERA_ALLOWED_ORIGINS", PARTNER)]).await
    else {
        return;
    };
    let preflight = app
        .send(
            app.client
                .request(Method::OPTIONS, app.url("/v1/auth/refresh"))
                .header(ORIGIN, EVIL)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "content-type,x-csrf-token",
                ),
        )
        .await;
    assert!(!preflight.status.is_server_error(), "{preflight:?}");
    assert_no_cors(&preflight);

    let (jar, _) = browser_login(&app).await;
    let refresh = app
        .send(from_page(
            &app,
            Method::POST,
            "/v1/auth/refresh",
            &jar.header(),
            Some(jar.csrf()),
            Some(EVIL),
        ))
        .await;
    refresh.assert_problem(403, "csrf_failed");
    assert_no_cors(&refresh);
    let me = app
        .send(app.client.get(app.url("/v1/auth/me")).header(ORIGIN, EVIL))
        .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{me:?}");
    assert_no_cors(&me);
}

async fn cookie_login_is_refused_from_a_foreign_origin_and_allowed_without_one(backend: Backend) {
    let Some(app) = spawn_app(backend, &[LOCAL_HTTP, ("TESSERA_ALLOWED_ORIGINS", PARTNER)]).await
    else {
        return;
    };
    let email = app.new_user().await;

    let foreign = cookie_login(&app, &email, Some(EVIL)).await;
    foreign.assert_problem(403, "csrf_failed");
    assert!(set_cookies(&foreign).is_empty(), "{foreign:?}");
    assert_no_cors(&foreign);

    // A non-browser client sends no Origin; a browser on our page or an allowed one
    // sends its own.
    for origin in [None, Some(app.address.as_str()), Some(PARTNER)] {
        let reply = cookie_login(&app, &email, origin).await;
        assert_eq!(reply.status, StatusCode::OK, "{origin:?}: {reply:?}");
        assert_eq!(set_cookie(&reply, CSRF).value, reply.json["csrf_token"]);
    }
}

#[test]
fn allowed_origins_must_be_plain_origins() {
    let settings = |origins: &str| {
        tessera_server::Sources::load(
            None,
            [
                ("TESSERA_BIND", "127.0.0.1:0"),
                ("TESSERA_DATABASE_URL", "sqlite://unused.db"),
                ("TESSERA_ALLOWED_ORIGINS", origins),
            ]
            .map(|(key, value)| (key.to_owned(), value.to_owned())),
        )
        .and_then(|sources| sources.settings())
    };
    for bad in [
        "*",
        "https://x/path",
        "app.example.com",
        "https://*.example.com",
    ] {
        match settings(bad) {
            Ok(settings) => panic!("{bad:?} accepted: {:?}", settings.allowed_origins),
            Err(error) => {
                let message = error.to_string();
                assert!(message.starts_with("allowed_origins"), "{bad:?}: {message}");
            }
        }
    }
    let good = settings("https://App.Example.com/, http://localhost:5173")
        .unwrap_or_else(|error| panic!("valid origins refused: {error}"));
    assert_eq!(
        good.allowed_origins,
        ["https://app.example.com", "http://localhost:5173"],
        "normalised to what browsers send in Origin"
    );
}

// ---------------------------------------------------------------------------------
// Where the refresh token comes from

async fn a_refresh_with_neither_body_token_nor_cookie_is_refresh_token_invalid(backend: Backend) {
    let Some(app) = spawn_app(backend, &[LOCAL_HTTP]).await else {
        return;
    };
    let (jar, _) = browser_login(&app).await;
    let own = app.address.as_str();
    let only_csrf = cookie_header(&[(CSRF, jar.csrf())]);
    let requests = [
        ("no body", app.client.post(app.url("/v1/auth/refresh"))),
        (
            "{}",
            app.client
                .post(app.url("/v1/auth/refresh"))
                .json(&json!({})),
        ),
        (
            "a null token",
            app.client
                .post(app.url("/v1/auth/refresh"))
                .json(&json!({ "refresh_token": null })),
        ),
        (
            "only the CSRF cookie, with the proof",
            from_page(
                &app,
                Method::POST,
                "/v1/auth/refresh",
                &only_csrf,
                Some(jar.csrf()),
                Some(own),
            ),
        ),
    ];
    for (case, request) in requests {
        let reply = app.send(request).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{case}: {reply:?}");
        reply.assert_problem(401, "refresh_token_invalid");
    }
}

async fn a_body_token_wins_over_the_refresh_cookie_and_needs_no_csrf(backend: Backend) {
    let Some(app) = spawn_app(backend, &[LOCAL_HTTP, ("TESSERA_REUSE_GRACE", "0s")]).await else {
        return;
    };
    let (jar, browser) = browser_login(&app).await;
    let cli = app.new_session().await;

    // The browser's cookies ride along (no CSRF proof, no Origin): the body decides.
    let reply = app
        .send(
            app.client
                .post(app.url("/v1/auth/refresh"))
                .header(COOKIE, jar.header())
                .json(&json!({ "refresh_token": cli.refresh_token })),
        )
        .await;
    let pair = reply.token_pair();
    assert_eq!(pair.session_id, cli.session_id);
    assert_ne!(pair.refresh_token, cli.refresh_token);
    assert!(set_cookies(&reply).is_empty(), "{reply:?}");

    // The cookie's session was not touched (with no grace, a use would show as reuse).
    let cookie = cookie_refresh(&app, &jar).await;
    assert_eq!(cookie.status, StatusCode::OK, "{cookie:?}");
    assert_eq!(cookie.json["session_id"], browser["session_id"]);
}

// ---------------------------------------------------------------------------------
// Logout

async fn cookie_only_logout_revokes_the_session_and_clears_the_cookies(backend: Backend) {
    let Some(app) = spawn_app(backend, &[LOCAL_HTTP]).await else {
        return;
    };
    let (jar, login) = browser_login(&app).await;
    let access_token = login["access_token"].as_str().expect("a token");

    let logout = cookie_logout(&app, &jar).await;
    logout.assert_no_content();
    assert_cleared(&logout, &[(REFRESH, AUTH_PATH), (CSRF, "/")]);

    app.me(access_token)
        .await
        .assert_problem(401, "session_revoked");
    let refresh = cookie_refresh(&app, &jar).await;
    refresh.assert_problem(401, "session_revoked");
    assert_cleared(&refresh, &[(REFRESH, AUTH_PATH), (CSRF, "/")]);

    // A browser still holding the cookies of an ended session can always sign out.
    let again = cookie_logout(&app, &jar).await;
    again.assert_no_content();
    assert_cleared(&again, &[(REFRESH, AUTH_PATH), (CSRF, "/")]);
}

async fn cookie_only_logout_without_the_csrf_proof_is_refused_and_the_session_lives(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend, &[LOCAL_HTTP]).await else {
        return;
    };
    let (jar, login) = browser_login(&app).await;
    let access_token = login["access_token"].as_str().expect("a token");
    let own = app.address.as_str();

    for (case, csrf, origin) in [
        ("no X-CSRF-Token", None, Some(own)),
        ("a wrong X-CSRF-Token", Some("forged"), Some(own)),
        ("a foreign Origin", Some(jar.csrf()), Some(EVIL)),
        ("no Origin", Some(jar.csrf()), None),
    ] {
        let reply = app
            .send(from_page(
                &app,
                Method::POST,
                "/v1/auth/logout",
                &jar.header(),
                csrf,
                origin,
            ))
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{case}: {reply:?}");
        reply.assert_problem(403, "csrf_failed");
        assert!(set_cookies(&reply).is_empty(), "{case}: {reply:?}");
    }

    let me = app.me(access_token).await;
    assert_eq!(me.status, StatusCode::OK, "the session lives: {me:?}");
    let refresh = cookie_refresh(&app, &jar).await;
    assert_eq!(refresh.status, StatusCode::OK, "{refresh:?}");
}

async fn bearer_logout_clears_cookies_only_when_the_request_carries_them(backend: Backend) {
    let Some(app) = spawn_app(backend, &[LOCAL_HTTP]).await else {
        return;
    };
    // A bearer token is no ambient credential: no CSRF proof needed.
    let (jar, login) = browser_login(&app).await;
    let access_token = login["access_token"].as_str().expect("a token");
    let logout = app
        .send(
            app.client
                .post(app.url("/v1/auth/logout"))
                .bearer_auth(access_token)
                .header(COOKIE, jar.header()),
        )
        .await;
    logout.assert_no_content();
    assert_cleared(&logout, &[(REFRESH, AUTH_PATH), (CSRF, "/")]);
    app.me(access_token)
        .await
        .assert_problem(401, "session_revoked");

    let pair = app.new_session().await;
    let plain = app.logout(&pair.access_token).await;
    plain.assert_no_content();
    assert!(set_cookies(&plain).is_empty(), "{plain:?}");
}

async fn a_logout_with_the_cookies_of_an_ended_session_is_refused_and_clears_them(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend, &[LOCAL_HTTP, ("TESSERA_ACCESS_COOKIE", "true")]).await
    else {
        return;
    };
    let (jar, login) = browser_login(&app).await;
    let access_token = login["access_token"].as_str().expect("a token");
    app.logout(access_token).await.assert_no_content();

    // The access cookie names a revoked session: refused, and the browser is told to
    // drop every cookie of it, so it does not keep presenting them.
    let logout = cookie_logout(&app, &jar).await;
    logout.assert_problem(401, "session_revoked");
    assert_cleared(&logout, &[(REFRESH, AUTH_PATH), (CSRF, "/"), (ACCESS, "/")]);
}

// ---------------------------------------------------------------------------------
// The access cookie (TESSERA_ACCESS_COOKIE)

async fn the_access_cookie_authenticates_reads_and_csrf_checked_state_changes(backend: Backend) {
    let Some(app) = spawn_app(backend, &[LOCAL_HTTP, ("TESSERA_ACCESS_COOKIE", "true")]).await
    else {
        return;
    };
    let email = app.new_user().await;
    let other_device = app.login(&email, PASSWORD).await;
    let login = cookie_login(&app, &email, Some(&app.address)).await;
    assert_eq!(login.status, StatusCode::OK, "{login:?}");
    let access = set_cookie(&login, ACCESS);
    assert_eq!(access.value, login.json["access_token"]);
    assert!(access.flag("httponly"), "{access:?}");
    assert_eq!(access.attribute("path"), Some("/"));
    assert_eq!(access.attribute("samesite"), Some("Strict"));
    assert_eq!(access.max_age(), login.json["expires_in"].as_i64());
    let mut jar = Jar::default();
    jar.store(&login);

    // Reads need nothing but the cookie.
    let only_access = cookie_header(&[(ACCESS, jar.get(ACCESS))]);
    let me = app
        .send(
            app.client
                .get(app.url("/v1/auth/me"))
                .header(COOKIE, &only_access),
        )
        .await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    assert_eq!(me.json["session"]["id"], login.json["session_id"]);
    let verify = app
        .send(
            app.client
                .get(app.url("/v1/auth/verify"))
                .header(COOKIE, &only_access),
        )
        .await;
    assert_eq!(verify.status, StatusCode::OK, "{verify:?}");

    // State changes need the CSRF proof from an allowed origin.
    let revoke_other = format!("/v1/auth/sessions/{}", other_device.session_id);
    let own = app.address.as_str();
    let csrf = jar.csrf().to_owned();
    let access_and_csrf = cookie_header(&[(ACCESS, jar.get(ACCESS)), (CSRF, &csrf)]);
    for (case, cookies, csrf_header, origin) in [
        ("only the access cookie", &only_access, None, Some(own)),
        ("no X-CSRF-Token", &access_and_csrf, None, Some(own)),
        (
            "a wrong X-CSRF-Token",
            &access_and_csrf,
            Some("forged"),
            Some(own),
        ),
        (
            "a foreign Origin",
            &access_and_csrf,
            Some(csrf.as_str()),
            Some(EVIL),
        ),
    ] {
        let reply = app
            .send(from_page(
                &app,
                Method::DELETE,
                &revoke_other,
                cookies,
                csrf_header,
                origin,
            ))
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{case}: {reply:?}");
        reply.assert_problem(403, "csrf_failed");
    }
    let still = app.me(&other_device.access_token).await;
    assert_eq!(
        still.status,
        StatusCode::OK,
        "nothing was revoked: {still:?}"
    );
    app.send(from_page(
        &app,
        Method::DELETE,
        &revoke_other,
        &access_and_csrf,
        Some(&csrf),
        Some(own),
    ))
    .await
    .assert_no_content();
    app.me(&other_device.access_token)
        .await
        .assert_problem(401, "session_revoked");

    // A cookie refresh rotates the access cookie with the rest.
    let refreshed = cookie_refresh(&app, &jar).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{refreshed:?}");
    let new_access = set_cookie(&refreshed, ACCESS);
    assert_eq!(new_access.value, refreshed.json["access_token"]);
    assert_ne!(new_access.value, jar.get(ACCESS));
    jar.store(&refreshed);

    let only_access = cookie_header(&[(ACCESS, jar.get(ACCESS))]);
    app.send(
        app.client
            .post(app.url("/v1/auth/logout-all"))
            .header(COOKIE, &only_access)
            .header(ORIGIN, own),
    )
    .await
    .assert_problem(403, "csrf_failed");
    let all = app
        .send(from_page(
            &app,
            Method::POST,
            "/v1/auth/logout-all",
            &jar.header(),
            Some(jar.csrf()),
            Some(own),
        ))
        .await;
    assert_eq!(all.revoked_count(), 1, "{all:?}");
    let me = app
        .send(
            app.client
                .get(app.url("/v1/auth/me"))
                .header(COOKIE, &only_access),
        )
        .await;
    me.assert_problem(401, "session_revoked");
}

async fn the_access_cookie_is_ignored_unless_enabled(backend: Backend) {
    let Some(app) = spawn_app(backend, &[LOCAL_HTTP]).await else {
        return;
    };
    let pair = app.new_session().await;
    let me = app
        .send(
            app.client
                .get(app.url("/v1/auth/me"))
                .header(COOKIE, cookie_header(&[(ACCESS, &pair.access_token)])),
        )
        .await;
    me.assert_problem(401, "unauthorized");
    assert_eq!(app.me(&pair.access_token).await.status, StatusCode::OK);
}

async fn a_garbage_access_cookie_is_a_401_never_a_5xx(backend: Backend) {
    let Some(app) = spawn_app(backend, &[LOCAL_HTTP, ("TESSERA_ACCESS_COOKIE", "true")]).await
    else {
        return;
    };
    let (jar, login) = browser_login(&app).await;
    let token = login["access_token"].as_str().expect("a token");
    let (unsigned, _) = token.rsplit_once('.').expect("a JWT");
    let tampered = format!("{unsigned}.{}", "A".repeat(86));
    let long = "a.".repeat(2000) + "a";
    let garbage = [
        "garbage",
        "a.b.c",
        "..",
        "%00%FF",
        "\"quoted.jwt.value\"",
        unsigned,
        tampered.as_str(),
        long.as_str(),
    ];
    for value in garbage {
        for path in ["/v1/auth/me", "/v1/auth/verify"] {
            let reply = app
                .send(
                    app.client
                        .get(app.url(path))
                        .header(COOKIE, cookie_header(&[(ACCESS, value)])),
                )
                .await;
            assert_eq!(
                reply.status,
                StatusCode::UNAUTHORIZED,
                "{path} with {value:?}: {reply:?}"
            );
            reply.assert_problem(401, "unauthorized");
        }
        // With a full CSRF proof the token itself is what is refused.
        let cookies = cookie_header(&[(ACCESS, value), (CSRF, jar.csrf())]);
        let reply = app
            .send(from_page(
                &app,
                Method::POST,
                "/v1/auth/logout-all",
                &cookies,
                Some(jar.csrf()),
                Some(&app.address),
            ))
            .await;
        reply.assert_problem(401, "unauthorized");
    }
    assert_eq!(app.me(token).await.status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------
// GET /v1/auth/verify

async fn verify_answers_a_gateway_with_the_identity_in_headers(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let pair = app.new_session().await;
    let me = app.me(&pair.access_token).await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");

    let verify = verify(&app, Some(&pair.access_token)).await;
    assert_eq!(verify.status, StatusCode::OK, "{verify:?}");
    assert_eq!(
        verify.header("x-auth-user"),
        me.json["user"]["id"].as_str(),
        "{verify:?}"
    );
    assert_eq!(
        verify.header("x-auth-session"),
        Some(pair.session_id.to_string().as_str())
    );
    assert_eq!(verify.header("x-auth-roles"), Some("user"));
    assert!(verify.text.is_empty(), "{verify:?}");
    assert_eq!(verify.header("cache-control"), Some("no-store"));
}

async fn verify_refuses_expired_revoked_and_missing_tokens(backend: Backend) {
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
    verify(&app, None).await.assert_problem(401, "unauthorized");
    let malformed = app
        .send(
            app.client
                .get(app.url("/v1/auth/verify"))
                .header("authorization", "Bearer not-a-jwt"),
        )
        .await;
    malformed.assert_problem(401, "unauthorized");
    assert!(malformed.header("x-auth-user").is_none(), "{malformed:?}");

    let ended = app.new_session().await;
    app.logout(&ended.access_token).await.assert_no_content();
    let revoked = verify(&app, Some(&ended.access_token)).await;
    revoked.assert_problem(401, "session_revoked");
    assert!(revoked.header("x-auth-user").is_none(), "{revoked:?}");

    let pair = app.new_session().await;
    let issued = Instant::now();
    let fresh = verify(&app, Some(&pair.access_token)).await;
    assert_eq!(fresh.status, StatusCode::OK, "{fresh:?}");
    sleep_until(issued + Duration::from_millis(2100)).await;
    let expired = verify(&app, Some(&pair.access_token)).await;
    expired.assert_problem(401, "unauthorized");
    assert!(expired.header("x-auth-user").is_none(), "{expired:?}");
}

// ---------------------------------------------------------------------------------
// The demo page

async fn the_demo_page_and_its_assets_are_served_under_a_strict_csp(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    for (path, content_type) in [
        ("/demo", "text/html"),
        ("/demo/", "text/html"),
        ("/demo/tessera.js", "text/javascript"),
        ("/demo/demo.js", "text/javascript"),
        ("/demo/demo.css", "text/css"),
    ] {
        let reply = app.get(path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {reply:?}");
        assert_eq!(reply.content_type(), content_type, "{path}");
        assert!(!reply.text.is_empty(), "{path}");
        let policy = reply.header("content-security-policy").unwrap_or_default();
        for directive in ["script-src 'self'", "frame-ancestors 'none'"] {
            assert!(policy.contains(directive), "{path}: {policy:?}");
        }
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        if content_type == "text/html" {
            for scheme in ["http://", "https://"] {
                assert!(
                    !reply.text.contains(scheme),
                    "{path} must load nothing from another site: {}",
                    reply.text
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Helpers: a browser's view of cookies

/// One `Set-Cookie` header: `name=value; Attr; Attr=value…`.
#[derive(Debug, Clone)]
struct SetCookie {
    name: String,
    value: String,
    /// Attribute names in lower case, values as sent.
    attributes: Vec<(String, Option<String>)>,
}

impl SetCookie {
    fn parse(header: &str) -> Self {
        let mut parts = header.split(';').map(str::trim);
        let (name, value) = parts
            .next()
            .and_then(|pair| pair.split_once('='))
            .unwrap_or_else(|| panic!("not a cookie: {header}"));
        let attributes = parts
            .filter(|part| !part.is_empty())
            .map(|part| match part.split_once('=') {
                Some((key, value)) => (key.trim().to_ascii_lowercase(), Some(value.to_owned())),
                None => (part.to_ascii_lowercase(), None),
            })
            .collect();
        Self {
            name: name.trim().to_owned(),
            value: value.trim().to_owned(),
            attributes,
        }
    }

    /// Whether the attribute is there (`HttpOnly`, `Secure`), with or without a value.
    fn flag(&self, name: &str) -> bool {
        self.attributes.iter().any(|(key, _)| key == name)
    }

    /// The value of `name` (lower case).
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .and_then(|(_, value)| value.as_deref())
    }

    fn max_age(&self) -> Option<i64> {
        self.attribute("max-age").map(|age| {
            age.parse()
                .unwrap_or_else(|_| panic!("Max-Age is a number: {self:?}"))
        })
    }
}

fn set_cookies(reply: &Reply) -> Vec<SetCookie> {
    reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|value| SetCookie::parse(value.to_str().expect("an ASCII Set-Cookie")))
        .collect()
}

/// The one `Set-Cookie` of `name` in `reply`.
#[track_caller]
fn set_cookie(reply: &Reply, name: &str) -> SetCookie {
    let mut found: Vec<SetCookie> = set_cookies(reply)
        .into_iter()
        .filter(|cookie| cookie.name == name)
        .collect();
    assert_eq!(found.len(), 1, "one Set-Cookie for {name}: {reply:?}");
    found.remove(0)
}

/// Asserts that `reply` tells the browser to drop each `(name, path)` cookie: empty,
/// `Max-Age=0`, and the path it was set with (or the browser keeps it).
#[track_caller]
fn assert_cleared(reply: &Reply, cookies: &[(&str, &str)]) {
    for (name, path) in cookies {
        let cookie = set_cookie(reply, name);
        assert_eq!(cookie.value, "", "{cookie:?}");
        assert_eq!(cookie.max_age(), Some(0), "{cookie:?}");
        assert_eq!(cookie.attribute("path"), Some(*path), "{cookie:?}");
    }
}

/// The cookies a browser holds for the service.
#[derive(Debug, Clone, Default)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    /// Takes `reply`'s `Set-Cookie`s as a browser would.
    fn store(&mut self, reply: &Reply) {
        for cookie in set_cookies(reply) {
            if cookie.max_age() == Some(0) || cookie.value.is_empty() {
                self.0.remove(&cookie.name);
            } else {
                self.0.insert(cookie.name, cookie.value);
            }
        }
    }

    #[track_caller]
    fn get(&self, name: &str) -> &str {
        self.0
            .get(name)
            .unwrap_or_else(|| panic!("no {name} cookie in {self:?}"))
    }

    /// The CSRF cookie's value, whatever its prefix: what the page echoes.
    #[track_caller]
    fn csrf(&self) -> &str {
        self.0
            .iter()
            .find(|(name, _)| name.ends_with(CSRF))
            .map(|(_, value)| value.as_str())
            .unwrap_or_else(|| panic!("no CSRF cookie in {self:?}"))
    }

    /// A `Cookie` header with all of them.
    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn cookie_header(cookies: &[(&str, &str)]) -> String {
    cookies
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("; ")
}

// ---------------------------------------------------------------------------------
// Helpers: requests

/// `POST /v1/auth/login` with `"transport": "cookie"`, from a page of `origin`.
async fn cookie_login(app: &TestApp, email: &str, origin: Option<&str>) -> Reply {
    let mut request = app.client.post(app.url("/v1/auth/login")).json(&json!({
        "email": email,
        "password": PASSWORD,
        "transport": "cookie",
    }));
    if let Some(origin) = origin {
        request = request.header(ORIGIN, origin);
    }
    app.send(request).await
}

/// A new user signed in by cookie transport on the service's own page: the browser's
/// cookies and the login's body.
async fn browser_login(app: &TestApp) -> (Jar, Value) {
    let email = app.new_user().await;
    let reply = cookie_login(app, &email, Some(&app.address)).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let mut jar = Jar::default();
    jar.store(&reply);
    (jar, reply.json)
}

/// A request as a browser page sends it: `cookies`, `csrf` echoed in `X-CSRF-Token`,
/// and `origin` in `Origin`, each only when given.
fn from_page(
    app: &TestApp,
    method: Method,
    path: &str,
    cookies: &str,
    csrf: Option<&str>,
    origin: Option<&str>,
) -> RequestBuilder {
    let mut request = app.client.request(method, app.url(path));
    if !cookies.is_empty() {
        request = request.header(COOKIE, cookies);
    }
    if let Some(csrf) = csrf {
        request = request.header(CSRF_HEADER, csrf);
    }
    if let Some(origin) = origin {
        request = request.header(ORIGIN, origin);
    }
    request
}

/// A correct cookie refresh from the service's own page, without a body.
fn cookie_refresh_request(app: &TestApp, jar: &Jar) -> RequestBuilder {
    from_page(
        app,
        Method::POST,
        "/v1/auth/refresh",
        &jar.header(),
        Some(jar.csrf()),
        Some(&app.address),
    )
}

async fn cookie_refresh(app: &TestApp, jar: &Jar) -> Reply {
    app.send(cookie_refresh_request(app, jar)).await
}

/// A correct cookie-only logout (no bearer token) from the service's own page.
async fn cookie_logout(app: &TestApp, jar: &Jar) -> Reply {
    app.send(from_page(
        app,
        Method::POST,
        "/v1/auth/logout",
        &jar.header(),
        Some(jar.csrf()),
        Some(&app.address),
    ))
    .await
}

/// `GET /v1/auth/verify`, with `access_token` as a bearer token when given.
async fn verify(app: &TestApp, access_token: Option<&str>) -> Reply {
    let mut request = app.client.get(app.url("/v1/auth/verify"));
    if let Some(token) = access_token {
        request = request.bearer_auth(token);
    }
    app.send(request).await
}

/// Asserts CORS headers that let a page of `origin` read the answer with credentials.
#[track_caller]
fn assert_cors_for(reply: &Reply, origin: &str) {
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some(origin),
        "{reply:?}"
    );
    assert_eq!(
        reply.header("access-control-allow-credentials"),
        Some("true"),
        "{reply:?}"
    );
}

/// Asserts that no page of another origin may read the answer (without
/// `Access-Control-Allow-Origin` the browser hides it, whatever else is there).
#[track_caller]
fn assert_no_cors(reply: &Reply) {
    assert!(
        reply.header("access-control-allow-origin").is_none(),
        "no CORS for a foreign origin: {reply:?}"
    );
}
