//! The OAuth endpoints' own error answer: RFC 6749 §5.2 `{error, error_description}`
//! instead of problem+json. Every refusal of the session policy is `invalid_grant`;
//! a 5xx logs the error chain and shows a generic body, as the /v1 mapping does.

use actix_web::error::UrlencodedError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError, web};
use serde::Serialize;
use tessera_application::Error;
use utoipa::ToSchema;

use crate::MAX_BODY_BYTES;
use crate::json::truncate;

/// The issuer (`TESSERA_ISSUER`): the base of every URL the metadata publishes.
#[derive(Debug, Clone)]
pub(crate) struct Issuer(pub String);

impl Issuer {
    /// An absolute URL of this server: the issuer followed by `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.0.trim_end_matches('/'))
    }
}

/// An OAuth 2.0 error response (RFC 6749 §5.2, RFC 7009 §2.2.1).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "error": "invalid_grant",
    "error_description": "the refresh token is not valid"
}))]
pub(crate) struct OAuthErrorBody {
    /// One of: invalid_request, invalid_client, invalid_grant, unsupported_grant_type, invalid_scope,
    /// temporarily_unavailable, server_error.
    pub error: &'static str,
    /// For people; never names which of username and password was wrong.
    pub error_description: String,
}

/// Everything an OAuth endpoint can fail with.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OAuthError {
    /// A refusal or malformed request, answered with its RFC 6749 code.
    #[error("{code}: {description}")]
    Refused {
        status: StatusCode,
        code: &'static str,
        description: String,
    },
    /// The database or another backing service is down: 503.
    #[error("a backing service is unavailable")]
    Unavailable(#[source] Error),
    /// Throttled: 429 with `Retry-After`. RFC 6749 §5.2 has no code for it; the body
    /// says `temporarily_unavailable` (RFC 6749 §4.1.2.1, the code the 503 answer uses
    /// too), which a client treats as "retry later" rather than as a bad request.
    #[error("too many requests")]
    RateLimited {
        retry_after: tessera_domain::TimeDelta,
    },
    /// Anything else: 500 with a generic body.
    #[error("unexpected error")]
    Server(#[source] Error),
}

impl OAuthError {
    fn refused(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        Self::Refused {
            status,
            code,
            description: description.into(),
        }
    }

    pub(crate) fn invalid_request(description: impl Into<String>) -> Self {
        Self::refused(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub(crate) fn invalid_grant(description: impl Into<String>) -> Self {
        Self::refused(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    pub(crate) fn unsupported_grant_type(grant_type: &str) -> Self {
        Self::refused(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            truncate(format!(
                "grant_type `{grant_type}` is not supported; use password or refresh_token"
            )),
        )
    }

    pub(crate) fn invalid_scope(description: impl Into<String>) -> Self {
        Self::refused(StatusCode::BAD_REQUEST, "invalid_scope", description)
    }

    /// Client authentication failed (RFC 6749 §5.2): 401 with a Basic challenge.
    pub(crate) fn invalid_client() -> Self {
        Self::refused(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        )
    }

    /// The same answer for an unknown user and a wrong password.
    pub(crate) fn invalid_credentials() -> Self {
        Self::invalid_grant("invalid username or password")
    }

    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            Self::Refused {
                status,
                code,
                description,
            } => (*status, code, description.clone()),
            Self::RateLimited { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                "temporarily_unavailable",
                format!(
                    "too many requests; retry after {} s",
                    crate::problem::retry_after_header(*retry_after)
                        .to_str()
                        .unwrap_or("1")
                ),
            ),
            Self::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "a backing service is unavailable; try again shortly".to_owned(),
            ),
            Self::Server(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "an unexpected error occurred".to_owned(),
            ),
        }
    }
}

impl From<Error> for OAuthError {
    fn from(error: Error) -> Self {
        match error {
            Error::InvalidCredentials => Self::invalid_credentials(),
            Error::InvalidClient => Self::invalid_client(),
            // SPEC §4: every refusal of rules 1–7 is `invalid_grant`; the description
            // says which, as the /v1 `code` does.
            Error::Refused(refusal) => Self::invalid_grant(refusal.to_string()),
            Error::Unauthorized(denial) => Self::invalid_grant(denial.to_string()),
            Error::Invalid(invalid) => Self::invalid_request(invalid.to_string()),
            Error::Unavailable(_) => Self::Unavailable(error),
            Error::RateLimited { retry_after } => Self::RateLimited { retry_after },
            // No OAuth use case answers these; if one ever does, it is a bug to see.
            Error::RegistrationClosed
            | Error::Forbidden(_)
            | Error::Conflict(_)
            | Error::NotFound(_)
            | Error::Unexpected(_) => Self::Server(error),
        }
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, error, error_description) = self.parts();
        if status.is_server_error() {
            // The chain may name hosts or SQL: log it, never send it.
            let mut chain = String::new();
            let mut source: Option<&dyn std::error::Error> = Some(self);
            while let Some(error) = source {
                if !chain.is_empty() {
                    chain.push_str(": ");
                }
                chain.push_str(&error.to_string());
                source = error.source();
            }
            tracing::error!(status = status.as_u16(), code = error, error = %chain, "request failed");
        }
        let mut response = HttpResponse::build(status);
        response
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")));
        if status == StatusCode::UNAUTHORIZED {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"tessera\", charset=\"UTF-8\""),
            ));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
        }
        if let Self::RateLimited { retry_after } = self {
            response.insert_header((
                header::RETRY_AFTER,
                crate::problem::retry_after_header(*retry_after),
            ));
        }
        response.json(OAuthErrorBody {
            error,
            error_description,
        })
    }
}

/// How form bodies (only the OAuth endpoints read them) are read: 64 KiB at most,
/// and every way a body can be wrong answers `invalid_request`.
pub(crate) fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(MAX_BODY_BYTES)
        .error_handler(|error, _request| {
            let description = match error {
                UrlencodedError::ContentType => {
                    "the body must be application/x-www-form-urlencoded".to_owned()
                }
                UrlencodedError::Overflow { .. } | UrlencodedError::UnknownLength => {
                    format!("the body must be at most {MAX_BODY_BYTES} bytes")
                }
                // serde's message names the field ("duplicate field `scope`").
                other => truncate(other.to_string()),
            };
            OAuthError::invalid_request(description).into()
        })
}

/// A form value, with an empty one treated as absent (RFC 6749 §3.1).
pub(crate) fn present(value: Option<String>) -> Option<String> {
    value.filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use actix_web::body::to_bytes;
    use tessera_domain::RefreshRefusal;

    use super::*;

    async fn answer(error: OAuthError) -> (StatusCode, HttpResponse) {
        let response = error.error_response();
        (response.status(), response)
    }

    async fn json_of(response: HttpResponse) -> serde_json::Value {
        serde_json::from_slice(&to_bytes(response.into_body()).await.unwrap()).unwrap()
    }

    #[actix_web::test]
    async fn every_refusal_of_the_session_policy_is_invalid_grant_with_400() {
        for refusal in [
            RefreshRefusal::TokenInvalid,
            RefreshRefusal::SessionRevoked,
            RefreshRefusal::LifetimeExceeded,
            RefreshRefusal::IdleTimeout,
            RefreshRefusal::UserDisabled,
            RefreshRefusal::ClientMismatch,
            RefreshRefusal::Reused,
        ] {
            let (status, response) = answer(Error::Refused(refusal).into()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
            let body = json_of(response).await;
            assert_eq!(body["error"], "invalid_grant");
            assert_eq!(body["error_description"], refusal.to_string());
            assert_eq!(body.as_object().unwrap().len(), 2);
        }
    }

    #[actix_web::test]
    async fn invalid_credentials_do_not_say_which_part_was_wrong() {
        let (status, response) = answer(Error::InvalidCredentials.into()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let body = json_of(response).await;
        assert_eq!(body["error"], "invalid_grant");
        assert_eq!(body["error_description"], "invalid username or password");
    }

    #[actix_web::test]
    async fn server_errors_are_generic_and_an_outage_is_temporarily_unavailable() {
        let secret = "connection to postgres://admin:hunter2@db failed: SELECT * FROM users";
        let (status, response) = answer(Error::Unavailable(secret.into()).into()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "1");
        let body = json_of(response).await;
        assert_eq!(body["error"], "temporarily_unavailable");
        assert!(!body.to_string().contains("hunter2"));
        let (status, response) = answer(Error::Unexpected(secret.into()).into()).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let body = json_of(response).await;
        assert_eq!(body["error"], "server_error");
        assert!(!body.to_string().contains("SELECT"));
    }

    #[actix_web::test]
    async fn rate_limited_is_429_temporarily_unavailable_with_retry_after() {
        let retry_after = tessera_domain::TimeDelta::milliseconds(2_500);
        let (status, response) = answer(Error::RateLimited { retry_after }.into()).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "3");
        assert_eq!(
            response.headers().get(header::CACHE_CONTROL).unwrap(),
            "no-store"
        );
        let body = json_of(response).await;
        assert_eq!(body["error"], "temporarily_unavailable");
        assert_eq!(
            body["error_description"],
            "too many requests; retry after 3 s"
        );
        assert_eq!(body.as_object().unwrap().len(), 2);
    }

    #[actix_web::test]
    async fn oauth_errors_are_json_and_never_cached() {
        let (_, response) = answer(OAuthError::invalid_request("missing grant_type")).await;
        let headers = response.headers();
        assert_eq!(
            headers.get(header::CONTENT_TYPE).unwrap(),
            "application/json"
        );
        assert_eq!(headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
        assert_eq!(headers.get(header::PRAGMA).unwrap(), "no-cache");
    }

    #[actix_web::test]
    async fn an_invalid_client_is_401_with_a_basic_challenge() {
        let (status, response) = answer(Error::InvalidClient.into()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            response
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("Basic ")
        );
        assert_eq!(json_of(response).await["error"], "invalid_client");
    }

    #[test]
    fn urls_are_built_from_the_issuer_with_or_without_a_trailing_slash() {
        for issuer in ["https://auth.example.com", "https://auth.example.com/"] {
            assert_eq!(
                Issuer(issuer.to_owned()).url("/oauth/token"),
                "https://auth.example.com/oauth/token"
            );
        }
    }
}
