//! Virtual users: each owns an account, its own keep-alive connection and its own
//! refresh-token chain, as a real client does.

use std::sync::Arc;

use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde::{Deserialize, Serialize};

/// The URLs a virtual user calls.
#[derive(Debug)]
pub struct Endpoints {
    register: String,
    login: String,
    me: String,
    refresh: String,
    verify: String,
    /// The ceiling server's `GET /v1/auth/me`, when one runs.
    ceiling: Option<String>,
}

impl Endpoints {
    pub fn new(base: &str, ceiling: Option<&str>) -> Self {
        let base = base.trim_end_matches('/');
        Self {
            register: format!("{base}/v1/auth/register"),
            login: format!("{base}/v1/auth/login"),
            me: format!("{base}/v1/auth/me"),
            refresh: format!("{base}/v1/auth/refresh"),
            verify: format!("{base}/v1/auth/verify"),
            ceiling: ceiling.map(|url| format!("{}/v1/auth/me", url.trim_end_matches('/'))),
        }
    }
}

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer, read to the end (and parsed, where the user needs its tokens).
    Ok,
    /// Any other status.
    Status(u16),
    /// No answer: connection refused or reset, timeout.
    Transport,
    /// A 2xx answer whose body was not the expected token pair.
    BadBody,
}

impl Outcome {
    /// A short name for the error breakdown.
    pub fn label(self) -> String {
        match self {
            Self::Ok => "ok".to_owned(),
            Self::Status(status) => status.to_string(),
            Self::Transport => "io".to_owned(),
            Self::BadBody => "body".to_owned(),
        }
    }
}

#[derive(Deserialize)]
struct TokenPair {
    access_token: String,
    refresh_token: String,
}

#[derive(Serialize)]
struct Credentials<'a> {
    email: &'a str,
    password: &'a str,
}

#[derive(Serialize)]
struct RefreshRequest<'a> {
    refresh_token: &'a str,
}

/// One stateful client.
#[derive(Debug)]
pub struct VirtualUser {
    http: reqwest::Client,
    endpoints: Arc<Endpoints>,
    email: String,
    password: String,
    bearer: Option<HeaderValue>,
    refresh_token: Option<String>,
}

impl VirtualUser {
    /// User number `index` of a run (`vu-<index>@<domain>`), not yet logged in.
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(
        endpoints: Arc<Endpoints>,
        domain: &str,
        index: usize,
        password: &str,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            // Loopback only: an HTTP_PROXY in the environment must not be used.
            .no_proxy()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(1)
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        Ok(Self {
            http,
            endpoints,
            email: format!("vu-{index}@{domain}"),
            password: password.to_owned(),
            bearer: None,
            refresh_token: None,
        })
    }

    /// Creates the account; one that already exists (409) is fine.
    pub async fn register(&self) -> Outcome {
        let response = self
            .http
            .post(&self.endpoints.register)
            .json(&Credentials {
                email: &self.email,
                password: &self.password,
            })
            .send()
            .await;
        match drain(response, false).await {
            (Outcome::Status(409), _) => Outcome::Ok,
            (outcome, _) => outcome,
        }
    }

    /// Starts a new session; the user continues with its token pair.
    pub async fn login(&mut self) -> Outcome {
        let response = self
            .http
            .post(&self.endpoints.login)
            .json(&Credentials {
                email: &self.email,
                password: &self.password,
            })
            .send()
            .await;
        self.take_pair(response).await
    }

    /// Rotates the user's refresh token; the chain continues with the successor.
    pub async fn refresh(&mut self) -> Outcome {
        let Some(token) = self.refresh_token.as_deref() else {
            return Outcome::Status(401);
        };
        let response = self
            .http
            .post(&self.endpoints.refresh)
            .json(&RefreshRequest {
                refresh_token: token,
            })
            .send()
            .await;
        self.take_pair(response).await
    }

    /// `GET /v1/auth/me` with the access token.
    pub async fn me(&self) -> Outcome {
        self.get_with_bearer(&self.endpoints.me).await
    }

    /// `GET /v1/auth/verify` (forward-auth) with the access token.
    pub async fn verify(&self) -> Outcome {
        self.get_with_bearer(&self.endpoints.verify).await
    }

    /// The same request as [`Self::me`], to the ceiling server.
    pub async fn ceiling(&self) -> Outcome {
        match &self.endpoints.ceiling {
            Some(url) => self.get_with_bearer(url).await,
            None => Outcome::Transport,
        }
    }

    async fn get_with_bearer(&self, url: &str) -> Outcome {
        let mut request = self.http.get(url);
        if let Some(bearer) = &self.bearer {
            request = request.header(AUTHORIZATION, bearer.clone());
        }
        drain(request.send().await, false).await.0
    }

    async fn take_pair(&mut self, response: Result<reqwest::Response, reqwest::Error>) -> Outcome {
        let (outcome, body) = drain(response, true).await;
        if outcome != Outcome::Ok {
            return outcome;
        }
        let Some(pair) = body.and_then(|body| serde_json::from_slice::<TokenPair>(&body).ok())
        else {
            return Outcome::BadBody;
        };
        let Ok(bearer) = HeaderValue::from_str(&format!("Bearer {}", pair.access_token)) else {
            return Outcome::BadBody;
        };
        self.bearer = Some(bearer);
        self.refresh_token = Some(pair.refresh_token);
        Outcome::Ok
    }
}

/// Reads the whole answer (so the connection is reused) and classifies it; keeps the
/// body of a 2xx answer when asked.
async fn drain(
    response: Result<reqwest::Response, reqwest::Error>,
    keep_body: bool,
) -> (Outcome, Option<Vec<u8>>) {
    let Ok(response) = response else {
        return (Outcome::Transport, None);
    };
    let status = response.status();
    match response.bytes().await {
        Ok(body) if status.is_success() => (Outcome::Ok, keep_body.then(|| body.to_vec())),
        Ok(_) => (Outcome::Status(status.as_u16()), None),
        Err(_) => (Outcome::Transport, None),
    }
}
