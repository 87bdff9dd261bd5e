//! The OAuth 2.0 face of Tessera: the token endpoint (password and refresh-token
//! grants) on the same policy as /v1, revocation, server metadata, and a JWKS that a
//! resource server — or an off-the-shelf OAuth client — can use without Tessera code.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use oauth2::basic::BasicClient;
use oauth2::{
    ClientId, ResourceOwnerPassword, ResourceOwnerUsername, RevocationUrl, StandardRevocableToken,
    TokenResponse, TokenUrl,
};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, PASSWORD, Reply, TestApp, percent_encode, spawn_app, unique_email};

on_both_backends!(
    the_password_grant_gives_tokens_that_work_on_the_v1_api,
    the_refresh_token_grant_rotates_like_v1_refresh,
    a_refresh_token_replayed_after_the_grace_window_is_invalid_grant,
    a_wrong_password_is_invalid_grant_with_no_hint_which_part_was_wrong,
    malformed_token_requests_are_refused_in_rfc_6749_form,
    revoking_a_refresh_token_ends_the_session,
    revoking_an_access_token_ends_its_session,
    revoking_an_unknown_token_is_ok_and_a_missing_one_is_invalid_request,
    the_metadata_points_at_the_endpoints_under_the_issuer,
    a_resource_server_verifies_an_access_token_with_only_the_published_jwks,
    an_hs256_secret_is_never_published,
    the_oauth2_crate_logs_in_refreshes_and_revokes,
);

/// `application/x-www-form-urlencoded`, built by hand: our reqwest has no `form`
/// feature, and this way repeated parameters can be sent too.
fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(key, value)| format!("{}={}", percent_encode(key), percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

impl TestApp {
    async fn post_form(&self, path: &str, pairs: &[(&str, &str)]) -> Reply {
        self.send(
            self.client
                .post(self.url(path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(pairs)),
        )
        .await
    }

    async fn password_grant(&self, username: &str, password: &str) -> Reply {
        self.post_form(
            "/oauth/token",
            &[
                ("grant_type", "password"),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }

    async fn refresh_grant(&self, refresh_token: &str) -> Reply {
        self.post_form(
            "/oauth/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await
    }

    async fn revoke(&self, token: &str) -> Reply {
        self.post_form("/oauth/revoke", &[("token", token)]).await
    }
}

/// An RFC 6749 §5.1 answer: `{access_token, token_type, expires_in, refresh_token}`
/// plus `scope` when one was asked for, never cached.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OAuthTokens {
    access_token: String,
    token_type: String,
    expires_in: i64,
    refresh_token: String,
    scope: Option<String>,
}

impl Reply {
    #[track_caller]
    fn oauth_tokens(&self) -> OAuthTokens {
        assert_eq!(self.status, StatusCode::OK, "expected tokens: {self:?}");
        assert_eq!(self.content_type(), "application/json", "{self:?}");
        assert_eq!(self.header("cache-control"), Some("no-store"));
        assert_eq!(self.header("pragma"), Some("no-cache"));
        let tokens: OAuthTokens = serde_json::from_value(self.json.clone())
            .unwrap_or_else(|error| panic!("not an OAuth token response ({error}): {}", self.text));
        assert_eq!(tokens.token_type, "Bearer");
        assert!(
            tokens.expires_in > 0 && tokens.expires_in <= 900,
            "{tokens:?}"
        );
        tokens
    }

    /// Asserts an RFC 6749 §5.2 error: `{error, error_description}` and nothing else.
    #[track_caller]
    fn assert_oauth_error(&self, status: u16, error: &str) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "expected {status} {error}, got {} {}",
            self.status,
            self.text
        );
        assert_eq!(self.content_type(), "application/json", "{self:?}");
        assert_eq!(self.header("cache-control"), Some("no-store"), "{self:?}");
        let body = self
            .json
            .as_object()
            .unwrap_or_else(|| panic!("an OAuth error is a JSON object: {}", self.text));
        let mut keys: Vec<&str> = body.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["error", "error_description"], "{}", self.text);
        assert_eq!(body["error"], error, "{}", self.text);
    }
}

async fn oauth_login(app: &TestApp) -> (String, OAuthTokens) {
    let email = app.new_user().await;
    let tokens = app.password_grant(&email, PASSWORD).await.oauth_tokens();
    (email, tokens)
}

async fn the_password_grant_gives_tokens_that_work_on_the_v1_api(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let (email, tokens) = oauth_login(&app).await;
    assert_eq!(tokens.scope, None, "no scope asked for, none echoed");

    let me = app.me(&tokens.access_token).await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    assert_eq!(me.json["user"]["email"], email.to_lowercase());
    // The refresh token is one of ours: /v1 rotates it.
    app.refresh(&tokens.refresh_token).await.token_pair();

    // A scope (and a client id) may be sent; the scope is echoed.
    let scoped = app
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "password"),
                ("username", &email),
                ("password", PASSWORD),
                ("scope", "profile sessions:read"),
                ("client_id", "swagger-ui"),
            ],
        )
        .await
        .oauth_tokens();
    assert_eq!(scoped.scope.as_deref(), Some("profile sessions:read"));
}

async fn the_refresh_token_grant_rotates_like_v1_refresh(backend: Backend) {
    let Some(app) = spawn_app(backend, &[("TESSERA_REUSE_GRACE", "10s")]).await else {
        return;
    };
    let (_, first) = oauth_login(&app).await;

    let second = app.refresh_grant(&first.refresh_token).await.oauth_tokens();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(app.me(&second.access_token).await.status, StatusCode::OK);
    // A duplicate inside the grace window gets the same answer, as on /v1.
    let again = app.refresh_grant(&first.refresh_token).await.oauth_tokens();
    assert_eq!(again.refresh_token, second.refresh_token);
    assert_eq!(again.access_token, second.access_token);
    // And the successor keeps rotating.
    let third = app
        .refresh_grant(&second.refresh_token)
        .await
        .oauth_tokens();
    assert_ne!(third.refresh_token, second.refresh_token);
}

async fn a_refresh_token_replayed_after_the_grace_window_is_invalid_grant(backend: Backend) {
    let Some(app) = spawn_app(backend, &[("TESSERA_REUSE_GRACE", "500ms")]).await else {
        return;
    };
    let (_, first) = oauth_login(&app).await;
    let second = app.refresh_grant(&first.refresh_token).await.oauth_tokens();
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let replay = app.refresh_grant(&first.refresh_token).await;
    replay.assert_oauth_error(400, "invalid_grant");
    // Reuse revoked the whole family: the successor is refused too.
    app.refresh_grant(&second.refresh_token)
        .await
        .assert_oauth_error(400, "invalid_grant");
    assert_eq!(
        app.me(&second.access_token).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn a_wrong_password_is_invalid_grant_with_no_hint_which_part_was_wrong(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let email = app.new_user().await;

    let wrong_password = app.password_grant(&email, "not the password at all").await;
    let unknown_user = app.password_grant(&unique_email(), PASSWORD).await;
    let malformed_user = app.password_grant("not an address", PASSWORD).await;

    wrong_password.assert_oauth_error(400, "invalid_grant");
    unknown_user.assert_oauth_error(400, "invalid_grant");
    malformed_user.assert_oauth_error(400, "invalid_grant");
    assert_eq!(wrong_password.json, unknown_user.json);
    assert_eq!(wrong_password.json, malformed_user.json);
}

async fn malformed_token_requests_are_refused_in_rfc_6749_form(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let email = app.new_user().await;
    let token = "/oauth/token";

    app.post_form(
        token,
        &[("grant_type", "authorization_code"), ("code", "x")],
    )
    .await
    .assert_oauth_error(400, "unsupported_grant_type");
    app.post_form(token, &[("username", &email), ("password", PASSWORD)])
        .await
        .assert_oauth_error(400, "invalid_request");
    app.post_form(token, &[("grant_type", "password"), ("username", &email)])
        .await
        .assert_oauth_error(400, "invalid_request");
    app.post_form(token, &[("grant_type", "refresh_token")])
        .await
        .assert_oauth_error(400, "invalid_request");
    // Parameters must not repeat (RFC 6749 §3.2).
    app.post_form(
        token,
        &[
            ("grant_type", "password"),
            ("username", &email),
            ("password", PASSWORD),
            ("password", "another one"),
        ],
    )
    .await
    .assert_oauth_error(400, "invalid_request");
    // JSON is not what OAuth clients send.
    app.send(app.client.post(app.url(token)).json(&serde_json::json!({
        "grant_type": "password", "username": email, "password": PASSWORD
    })))
    .await
    .assert_oauth_error(400, "invalid_request");
    app.post_form(
        token,
        &[
            ("grant_type", "password"),
            ("username", &email),
            ("password", PASSWORD),
            ("scope", "a\"b"),
        ],
    )
    .await
    .assert_oauth_error(400, "invalid_scope");
    let huge = "x".repeat(70 * 1024);
    app.post_form(token, &[("grant_type", "password"), ("password", &huge)])
        .await
        .assert_oauth_error(400, "invalid_request");
    // An unknown refresh token is a refused grant, not a malformed request.
    app.refresh_grant("garbage")
        .await
        .assert_oauth_error(400, "invalid_grant");
}

async fn revoking_a_refresh_token_ends_the_session(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let (_, tokens) = oauth_login(&app).await;

    let revoked = app.revoke(&tokens.refresh_token).await;
    assert_eq!(revoked.status, StatusCode::OK, "{revoked:?}");
    assert!(revoked.text.is_empty(), "{revoked:?}");

    app.refresh_grant(&tokens.refresh_token)
        .await
        .assert_oauth_error(400, "invalid_grant");
    app.me(&tokens.access_token)
        .await
        .assert_problem(401, "session_revoked");
    // Revoking again changes nothing and still answers 200.
    assert_eq!(
        app.revoke(&tokens.refresh_token).await.status,
        StatusCode::OK
    );
}

async fn revoking_an_access_token_ends_its_session(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let (_, tokens) = oauth_login(&app).await;

    let revoked = app
        .post_form(
            "/oauth/revoke",
            &[
                ("token", &tokens.access_token),
                ("token_type_hint", "access_token"),
            ],
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{revoked:?}");

    assert_eq!(
        app.me(&tokens.access_token).await.status,
        StatusCode::UNAUTHORIZED
    );
    app.refresh_grant(&tokens.refresh_token)
        .await
        .assert_oauth_error(400, "invalid_grant");
}

async fn revoking_an_unknown_token_is_ok_and_a_missing_one_is_invalid_request(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let (_, tokens) = oauth_login(&app).await;

    for unknown in ["garbage", "a.b.c", &format!("{}x", tokens.refresh_token)] {
        let reply = app.revoke(unknown).await;
        assert_eq!(reply.status, StatusCode::OK, "{unknown}: {reply:?}");
        assert!(reply.text.is_empty());
    }
    app.post_form("/oauth/revoke", &[("token_type_hint", "refresh_token")])
        .await
        .assert_oauth_error(400, "invalid_request");
    app.send(
        app.client
            .post(app.url("/oauth/revoke"))
            .json(&serde_json::json!({ "token": tokens.refresh_token })),
    )
    .await
    .assert_oauth_error(400, "invalid_request");
    // Nothing above touched the real session.
    assert_eq!(app.me(&tokens.access_token).await.status, StatusCode::OK);
}

async fn the_metadata_points_at_the_endpoints_under_the_issuer(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let reply = app.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.content_type(), "application/json");

    let issuer = "http://tessera.test";
    assert_eq!(
        reply.json,
        serde_json::json!({
            "issuer": issuer,
            "token_endpoint": format!("{issuer}/oauth/token"),
            "revocation_endpoint": format!("{issuer}/oauth/revoke"),
            "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
            "grant_types_supported": ["password", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["none"],
            "revocation_endpoint_auth_methods_supported": ["none"],
            "introspection_endpoint": format!("{issuer}/oauth/introspect"),
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
            "response_types_supported": [],
        })
    );
}

async fn a_resource_server_verifies_an_access_token_with_only_the_published_jwks(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let (email, tokens) = oauth_login(&app).await;
    let jwks = app.get("/.well-known/jwks.json").await;
    assert_eq!(jwks.status, StatusCode::OK, "{jwks:?}");
    assert_eq!(jwks.header("cache-control"), Some("public, max-age=300"));

    // What a resource server does, with nothing but the JWKS and jsonwebtoken.
    let header = jsonwebtoken::decode_header(&tokens.access_token).unwrap();
    let kid = header.kid.expect("a kid");
    let jwk = jwks.json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|jwk| jwk["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("kid {kid} not in {}", jwks.text));
    assert_eq!(jwk["kty"], "OKP");
    assert_eq!(jwk["crv"], "Ed25519");
    assert_eq!(jwk["alg"], "EdDSA");
    assert_eq!(jwk["use"], "sig");
    let key = DecodingKey::from_ed_components(jwk["x"].as_str().unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&["http://tessera.test"]);
    validation.set_audience(&["tessera"]);
    let claims = jsonwebtoken::decode::<Value>(&tokens.access_token, &key, &validation)
        .unwrap()
        .claims;

    let me = app.me(&tokens.access_token).await;
    assert_eq!(claims["sub"], me.json["user"]["id"], "{email}");
    // A token from another issuer or audience is refused by the same check.
    let mut other_audience = Validation::new(Algorithm::EdDSA);
    other_audience.set_audience(&["someone-else"]);
    assert!(jsonwebtoken::decode::<Value>(&tokens.access_token, &key, &other_audience).is_err());
}

async fn an_hs256_secret_is_never_published(backend: Backend) {
    let Some(app) = spawn_app(backend, &[("TESSERA_SIGNING_ALG", "HS256")]).await else {
        return;
    };
    let (_, tokens) = oauth_login(&app).await;
    assert_eq!(
        jsonwebtoken::decode_header(&tokens.access_token)
            .unwrap()
            .alg,
        Algorithm::HS256
    );

    let jwks = app.get("/.well-known/jwks.json").await;
    assert_eq!(jwks.status, StatusCode::OK, "{jwks:?}");
    // A fresh database has only the HS256 key: nothing public to show.
    assert_eq!(jwks.json, serde_json::json!({ "keys": [] }));
}

/// oauth2's HTTP hook, over our reqwest. The client insists on an https revocation
/// URL (RFC 7009 §2), so it is configured with https URLs of the issuer and this
/// transport delivers them to the test server, as a TLS-terminating proxy would.
async fn deliver(
    client: reqwest::Client,
    address: String,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, reqwest::Error> {
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |path| path.as_str())
        .to_owned();
    let mut outgoing = client.request(request.method().clone(), format!("{address}{path}"));
    for (name, value) in request.headers() {
        outgoing = outgoing.header(name, value);
    }
    let response = outgoing.body(request.into_body()).send().await?;
    let mut answer = oauth2::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        answer = answer.header(name, value);
    }
    let body = response.bytes().await?.to_vec();
    Ok(answer.body(body).expect("a response"))
}

async fn the_oauth2_crate_logs_in_refreshes_and_revokes(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let email = app.new_user().await;
    let http =
        |request: oauth2::HttpRequest| deliver(app.client.clone(), app.address.clone(), request);
    let oauth = BasicClient::new(ClientId::new("tessera-test".to_owned()))
        .set_token_uri(TokenUrl::new("https://tessera.test/oauth/token".to_owned()).unwrap())
        .set_revocation_url(
            RevocationUrl::new("https://tessera.test/oauth/revoke".to_owned()).unwrap(),
        );

    let login = oauth
        .exchange_password(
            &ResourceOwnerUsername::new(email),
            &ResourceOwnerPassword::new(PASSWORD.to_owned()),
        )
        .request_async(&http)
        .await
        .unwrap();
    assert!(login.expires_in().is_some_and(|ttl| ttl.as_secs() > 0));
    let first_refresh = login.refresh_token().expect("a refresh token").clone();
    assert_eq!(
        app.me(login.access_token().secret()).await.status,
        StatusCode::OK
    );

    let refreshed = oauth
        .exchange_refresh_token(&first_refresh)
        .request_async(&http)
        .await
        .unwrap();
    let second_refresh = refreshed.refresh_token().expect("a refresh token").clone();
    assert_ne!(second_refresh.secret(), first_refresh.secret());

    oauth
        .revoke_token(StandardRevocableToken::RefreshToken(second_refresh.clone()))
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(
        app.me(refreshed.access_token().secret()).await.status,
        StatusCode::UNAUTHORIZED
    );
    let refused = oauth
        .exchange_refresh_token(&second_refresh)
        .request_async(&http)
        .await;
    match refused {
        Err(oauth2::RequestTokenError::ServerResponse(error)) => {
            assert_eq!(error.error().as_ref(), "invalid_grant");
        }
        other => panic!("expected invalid_grant, got {other:?}"),
    }
}
