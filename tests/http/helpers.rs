//! Starting the real app for one test (its own port, its own database) and talking to
//! it through typed calls, so scenarios read like the API's documentation.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName};
use serde::Deserialize;
use serde_json::{Value, json};
use tessera_domain::{ClientContext, EmailAddress, Password, Role};
use tessera_infra_diesel::testing::TestDatabase;
use tessera_server::{Application, Components, Settings, Sources};
use uuid::Uuid;

/// Any 32+ characters: tests pin the pepper instead of letting the server store one.
const TEST_PEPPER: &str = "http-test-pepper-0123456789abcdef-0123456789";

/// A password that satisfies the policy (8 to 128 characters).
pub const PASSWORD: &str = "correct horse battery staple";

/// The database a test app runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, migrated database, or `None` when PostgreSQL is unreachable outside CI
/// (`TestDatabase::postgres` has printed the SKIPPED notice).
pub async fn test_database(backend: Backend) -> Option<TestDatabase> {
    tokio::task::spawn_blocking(move || match backend {
        Backend::Sqlite => Some(TestDatabase::sqlite()),
        Backend::Postgres => TestDatabase::postgres(),
    })
    .await
    .expect("creating the test database panicked")
}

/// A running server on a free port with a database of its own, stopped on drop.
#[derive(Debug)]
pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub address: String,
    pub client: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
    database_url: String,
    /// Declared last: the server goes first, then its database. `None` only inside
    /// [`TestApp::restart`].
    database: Option<TestDatabase>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Dropping actix's server future closes the listener and stops its workers.
        self.server.abort();
    }
}

/// Starts the app on a new database of `backend`. `overrides` are `TESSERA_*` pairs
/// applied after the test defaults. `None` only when PostgreSQL is skipped.
pub async fn spawn_app(backend: Backend, overrides: &[(&str, &str)]) -> Option<TestApp> {
    let database = test_database(backend).await?;
    let url = database.url.clone();
    Some(spawn_app_on(database, &url, overrides).await)
}

/// The settings a test app runs with: the test defaults for `database_url`, then
/// `overrides` (`TESSERA_*` pairs).
pub fn test_settings(database_url: &str, overrides: &[(&str, &str)]) -> Settings {
    let mut pairs = vec![
        ("TESSERA_BIND".to_owned(), "127.0.0.1:0".to_owned()),
        ("TESSERA_DATABASE_URL".to_owned(), database_url.to_owned()),
        ("TESSERA_TOKEN_PEPPER".to_owned(), TEST_PEPPER.to_owned()),
        (
            "TESSERA_ISSUER".to_owned(),
            "http://tessera.test".to_owned(),
        ),
        ("TESSERA_SHUTDOWN_TIMEOUT".to_owned(), "1s".to_owned()),
        // Every test logs in from 127.0.0.1; `throttling.rs` turns it back on.
        ("TESSERA_RATE_LIMIT".to_owned(), "off".to_owned()),
    ];
    pairs.extend(
        overrides
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned())),
    );
    Sources::load(None, pairs)
        .and_then(|sources| sources.settings())
        .unwrap_or_else(|error| panic!("invalid test settings: {error}"))
}

/// Starts the app with `database_url` (which may reach `database` another way, e.g.
/// through a forwarder) and keeps `database` alive as long as the app.
pub async fn spawn_app_on(
    database: TestDatabase,
    database_url: &str,
    overrides: &[(&str, &str)],
) -> TestApp {
    let settings = test_settings(database_url, overrides);
    let application = Application::build(&settings)
        .await
        .unwrap_or_else(|error| panic!("the app did not start: {error}"));
    let address = format!("http://127.0.0.1:{}", application.port());
    let server = tokio::spawn(async move {
        // An error here surfaces as failed requests in the test itself.
        let _ = application.run_until_stopped().await;
    });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("a reqwest client");
    TestApp {
        address,
        client,
        server,
        database_url: database_url.to_owned(),
        database: Some(database),
    }
}

/// An address no other test uses, in mixed case to exercise normalisation.
#[allow(
    clippy::disallowed_methods,
    reason = "test data, not an id the product issues"
)]
pub fn unique_email() -> String {
    format!("Ada.{}@Example.COM", Uuid::new_v4().simple())
}

/// A token pair as `login` and `refresh` return it (SPEC §4); unknown fields refused so
/// that an extra field in the contract is a visible failure.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenPair {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub refresh_token: String,
    pub refresh_expires_in: i64,
    pub session_id: Uuid,
}

/// One entry of a session list (`GET /v1/auth/sessions`, and the admin's list of a
/// user's sessions); unknown fields refused, so no secret can slip in unnoticed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionEntry {
    pub id: Uuid,
    /// "Firefox on Linux", from the User-Agent at login.
    pub device: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub absolute_expires_at: DateTime<Utc>,
    /// Whether this is the caller's own session (an admin's list may leave it out).
    #[serde(default)]
    pub current: bool,
}

/// A user as an admin sees it (`GET /v1/admin/users?email=…`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminUser {
    pub id: Uuid,
    pub email: String,
    pub roles: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub disabled: bool,
}

/// One HTTP answer: status, headers and the body (as JSON when it is JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(HeaderName::from_bytes(name.as_bytes()).expect("a header name"))
            .and_then(|value| value.to_str().ok())
    }

    /// The media type without parameters.
    pub fn content_type(&self) -> &str {
        self.header("content-type")
            .and_then(|value| value.split(';').next())
            .map_or("", str::trim)
    }

    /// Asserts a `200` with a token pair and `Cache-Control: no-store`.
    #[track_caller]
    pub fn token_pair(&self) -> TokenPair {
        assert_eq!(
            self.status,
            StatusCode::OK,
            "expected a token pair: {self:?}"
        );
        assert_eq!(self.content_type(), "application/json", "{self:?}");
        assert_eq!(
            self.header("cache-control"),
            Some("no-store"),
            "token responses must not be cached"
        );
        serde_json::from_value(self.json.clone())
            .unwrap_or_else(|error| panic!("not a token pair ({error}): {}", self.text))
    }

    /// Asserts a `200` JSON answer `{"sessions": [...]}` and reads the list.
    #[track_caller]
    pub fn session_list(&self) -> Vec<SessionEntry> {
        assert_eq!(
            self.status,
            StatusCode::OK,
            "expected a session list: {self:?}"
        );
        assert_eq!(self.content_type(), "application/json", "{self:?}");
        let body = self
            .json
            .as_object()
            .unwrap_or_else(|| panic!("a JSON object: {}", self.text));
        assert_eq!(
            body.keys().collect::<Vec<_>>(),
            ["sessions"],
            "{}",
            self.text
        );
        serde_json::from_value(body["sessions"].clone())
            .unwrap_or_else(|error| panic!("not a session list ({error}): {}", self.text))
    }

    /// Asserts a `200` JSON answer `{"revoked": n}` and reads `n`.
    #[track_caller]
    pub fn revoked_count(&self) -> u64 {
        assert_eq!(self.status, StatusCode::OK, "expected a count: {self:?}");
        assert_eq!(self.content_type(), "application/json", "{self:?}");
        assert_eq!(
            self.json.as_object().map(|body| body.len()),
            Some(1),
            "only `revoked`: {}",
            self.text
        );
        self.json["revoked"]
            .as_u64()
            .unwrap_or_else(|| panic!("a count: {}", self.text))
    }

    /// Asserts a `204` with an empty body.
    #[track_caller]
    pub fn assert_no_content(&self) {
        assert_eq!(
            self.status,
            StatusCode::NO_CONTENT,
            "expected 204: {self:?}"
        );
        assert!(self.text.is_empty(), "{self:?}");
    }

    /// Asserts an `application/problem+json` answer with `status` and `code`, in the
    /// documented shape `{type, title, status, detail, code}` and nothing else.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "expected {status} {code}, got {} {}",
            self.status,
            self.text
        );
        assert_eq!(self.content_type(), "application/problem+json", "{self:?}");
        let body = self
            .json
            .as_object()
            .unwrap_or_else(|| panic!("a problem is a JSON object: {}", self.text));
        let mut keys: Vec<&str> = body.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["code", "detail", "status", "title", "type"],
            "{}",
            self.text
        );
        assert_eq!(body["code"], code, "{}", self.text);
        assert_eq!(body["status"], status, "{}", self.text);
        assert_eq!(body["type"], format!("urn:tessera:problem:{code}"));
        assert!(
            body["title"]
                .as_str()
                .is_some_and(|title| !title.is_empty()),
            "{}",
            self.text
        );
        assert!(body["detail"].is_string(), "{}", self.text);
    }
}

impl TestApp {
    /// Stops this server and starts a new one on the same database (new port, empty
    /// in-memory state), as a process restart would.
    pub async fn restart(mut self, overrides: &[(&str, &str)]) -> Self {
        self.server.abort();
        let _ = (&mut self.server).await;
        let database = self.database.take().expect("the app owns its database");
        spawn_app_on(database, &self.database_url.clone(), overrides).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Sends `request`, reads the whole answer and checks it against the OpenAPI
    /// document (`contract.rs`): every answer a test gets must be documented.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        // Built first to know what was asked; the builder's own client, which may not
        // be `self.client`, sends it.
        let (client, request) = request.build_split();
        let request = request.expect("a well-formed request");
        let method = request.method().clone();
        let path = request.url().path().to_owned();
        let response = client
            .execute(request)
            .await
            .expect("the request reached the app");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a readable body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        let reply = Reply {
            status,
            headers,
            text,
            json,
        };
        crate::contract::check(
            method.as_str(),
            &path,
            status.as_u16(),
            reply.header("content-type").unwrap_or_default(),
            &reply.text,
        );
        reply
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.client.get(self.url(path))).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Reply {
        self.send(self.client.post(self.url(path)).json(body)).await
    }

    pub async fn register(&self, email: &str, password: &str) -> Reply {
        self.post_json(
            "/v1/auth/register",
            &json!({ "email": email, "password": password }),
        )
        .await
    }

    pub async fn try_login(&self, email: &str, password: &str) -> Reply {
        self.post_json(
            "/v1/auth/login",
            &json!({ "email": email, "password": password }),
        )
        .await
    }

    /// Logs in and asserts it worked.
    pub async fn login(&self, email: &str, password: &str) -> TokenPair {
        self.try_login(email, password).await.token_pair()
    }

    pub async fn refresh(&self, refresh_token: &str) -> Reply {
        self.post_json(
            "/v1/auth/refresh",
            &json!({ "refresh_token": refresh_token }),
        )
        .await
    }

    pub async fn logout(&self, access_token: &str) -> Reply {
        self.send(
            self.client
                .post(self.url("/v1/auth/logout"))
                .bearer_auth(access_token),
        )
        .await
    }

    pub async fn me(&self, access_token: &str) -> Reply {
        self.send(
            self.client
                .get(self.url("/v1/auth/me"))
                .bearer_auth(access_token),
        )
        .await
    }

    /// Logs in with `user_agent` as the client's User-Agent and asserts it worked.
    pub async fn login_from(&self, email: &str, password: &str, user_agent: &str) -> TokenPair {
        self.send(
            self.client
                .post(self.url("/v1/auth/login"))
                .header(reqwest::header::USER_AGENT, user_agent)
                .json(&json!({ "email": email, "password": password })),
        )
        .await
        .token_pair()
    }

    /// A bearer request without a body.
    pub async fn bearer(&self, method: reqwest::Method, path: &str, access_token: &str) -> Reply {
        self.send(
            self.client
                .request(method, self.url(path))
                .bearer_auth(access_token),
        )
        .await
    }

    pub async fn logout_all(&self, access_token: &str) -> Reply {
        self.bearer(reqwest::Method::POST, "/v1/auth/logout-all", access_token)
            .await
    }

    /// `GET /v1/auth/sessions`.
    pub async fn list_sessions(&self, access_token: &str) -> Reply {
        self.bearer(reqwest::Method::GET, "/v1/auth/sessions", access_token)
            .await
    }

    /// The caller's sessions; asserts a `200` in the documented shape.
    pub async fn sessions(&self, access_token: &str) -> Vec<SessionEntry> {
        self.list_sessions(access_token).await.session_list()
    }

    /// `DELETE /v1/auth/sessions/{id}`; `id` is text so that malformed ids can be sent.
    pub async fn revoke_session(&self, access_token: &str, id: &str) -> Reply {
        self.bearer(
            reqwest::Method::DELETE,
            &format!("/v1/auth/sessions/{id}"),
            access_token,
        )
        .await
    }

    /// `POST /v1/auth/password`.
    pub async fn change_password(&self, access_token: &str, current: &str, new: &str) -> Reply {
        self.send(
            self.client
                .post(self.url("/v1/auth/password"))
                .bearer_auth(access_token)
                .json(&json!({ "current_password": current, "new_password": new })),
        )
        .await
    }

    /// `GET /v1/admin/users?email=…`.
    pub async fn admin_find_user(&self, access_token: &str, email: &str) -> Reply {
        self.bearer(
            reqwest::Method::GET,
            &format!("/v1/admin/users?email={}", percent_encode(email)),
            access_token,
        )
        .await
    }

    /// `GET /v1/admin/users/{user_id}/sessions`.
    pub async fn admin_user_sessions(&self, access_token: &str, user_id: Uuid) -> Reply {
        self.bearer(
            reqwest::Method::GET,
            &format!("/v1/admin/users/{user_id}/sessions"),
            access_token,
        )
        .await
    }

    /// `DELETE /v1/admin/users/{user_id}/sessions`.
    pub async fn admin_revoke_user_sessions(&self, access_token: &str, user_id: Uuid) -> Reply {
        self.bearer(
            reqwest::Method::DELETE,
            &format!("/v1/admin/users/{user_id}/sessions"),
            access_token,
        )
        .await
    }

    /// `POST /v1/admin/users/{user_id}/disable`.
    pub async fn admin_disable_user(&self, access_token: &str, user_id: Uuid) -> Reply {
        self.bearer(
            reqwest::Method::POST,
            &format!("/v1/admin/users/{user_id}/disable"),
            access_token,
        )
        .await
    }

    /// `POST /v1/admin/users/{user_id}/enable`.
    pub async fn admin_enable_user(&self, access_token: &str, user_id: Uuid) -> Reply {
        self.bearer(
            reqwest::Method::POST,
            &format!("/v1/admin/users/{user_id}/enable"),
            access_token,
        )
        .await
    }

    /// Creates a user with the `admin` role and [`PASSWORD`] the way
    /// `tessera user create --role admin` does (no HTTP way exists): through the
    /// service, on this app's database. Returns the address.
    pub async fn new_admin(&self) -> String {
        let email = unique_email();
        let components = Components::build(&test_settings(&self.database_url, &[]))
            .await
            .unwrap_or_else(|error| panic!("the components did not build: {error}"));
        components
            .service
            .create_user(
                EmailAddress::parse(&email).expect("a valid address"),
                Password::new(PASSWORD).expect("a valid password"),
                vec![Role::admin()],
                &ClientContext {
                    ip: None,
                    user_agent: Some("tessera user create".to_owned()),
                },
            )
            .await
            .unwrap_or_else(|error| panic!("the admin was not created: {error}"));
        email
    }

    /// What `tessera keys rotate` does, on this app's database; returns the new `kid`.
    /// The app signs with it after its next key reload.
    #[allow(
        clippy::disallowed_methods,
        reason = "the operator command reads the system clock too"
    )]
    pub async fn rotate_signing_key(&self) -> String {
        let settings = test_settings(&self.database_url, &[]);
        let components = Components::build(&settings)
            .await
            .unwrap_or_else(|error| panic!("the components did not build: {error}"));
        tessera_application::rotate_signing_key(
            &tessera_infra_diesel::DieselSigningKeyRepository::new(components.database),
            &tessera_infra_crypto::RandomSigningKeyGenerator,
            settings.signing_alg,
            chrono::Utc::now(),
        )
        .await
        .unwrap_or_else(|error| panic!("the key was not rotated: {error}"))
        .kid
    }

    /// Registers a new user with [`PASSWORD`] and returns the address.
    pub async fn new_user(&self) -> String {
        let email = unique_email();
        let reply = self.register(&email, PASSWORD).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        email
    }

    /// A new user's first session.
    pub async fn new_session(&self) -> TokenPair {
        let email = self.new_user().await;
        self.login(&email, PASSWORD).await
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, for query values.
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

/// The JSON of a JWT segment (header or payload).
pub fn jwt_segment(token: &str, index: usize) -> Value {
    let segment = token.split('.').nth(index).expect("a JWT segment");
    serde_json::from_slice(&base64url_decode(segment)).expect("a JSON segment")
}

/// Unpadded base64url, as in JWTs (RFC 7515 §2).
pub fn base64url_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, byte)| n | u32::from(*byte) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

pub fn base64url_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => panic!("not base64url: {text}"),
        })
    };
    let mut out = Vec::new();
    for chunk in text.as_bytes().chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, c)| n | value(*c) << (18 - 6 * i));
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i) & 0xff) as u8);
        }
    }
    out
}
