//! The one mapping from errors to HTTP: `application/problem+json` (RFC 9457) with a
//! stable machine-readable `code`. Refusals keep their code; a 5xx logs the error
//! chain and shows a generic body.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use tessera_application::{AccessDenial, Error};
use utoipa::ToSchema;

/// An error response. `code` is stable; `title` and `detail` are for people.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:tessera:problem:session_idle_timeout",
    "title": "Unauthorized",
    "status": 401,
    "detail": "the session has been idle for too long; log in again",
    "code": "session_idle_timeout"
}))]
pub struct Problem {
    /// `urn:tessera:problem:<code>`
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// One of: refresh_token_invalid, session_revoked, session_lifetime_exceeded,
    /// session_idle_timeout, user_disabled, client_mismatch, refresh_token_reused,
    /// invalid_credentials, rate_limited, csrf_failed, validation_failed, unauthorized, forbidden, not_found,
    /// conflict, payload_too_large, unsupported_media_type, method_not_allowed,
    /// service_unavailable, internal_error.
    pub code: String,
}

/// Everything a handler or extractor can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Application(#[from] Error),
    /// A request the API cannot read (bad JSON, wrong content type, bad header...).
    #[error("{detail}")]
    Request {
        status: StatusCode,
        code: &'static str,
        detail: String,
    },
}

impl ApiError {
    pub(crate) fn request(
        status: StatusCode,
        code: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self::Request {
            status,
            code,
            detail: detail.into(),
        }
    }

    pub(crate) fn validation(detail: impl Into<String>) -> Self {
        Self::request(StatusCode::BAD_REQUEST, "validation_failed", detail)
    }

    pub(crate) fn unauthorized(detail: impl Into<String>) -> Self {
        Self::request(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    /// Status, code and the detail a client may see.
    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            Self::Request {
                status,
                code,
                detail,
            } => (*status, code, detail.clone()),
            Self::Application(error) => application_parts(error),
        }
    }
}

fn application_parts(error: &Error) -> (StatusCode, &'static str, String) {
    let shown = |status, code| (status, code, error.to_string());
    match error {
        Error::Invalid(_) => shown(StatusCode::BAD_REQUEST, "validation_failed"),
        Error::InvalidCredentials => shown(StatusCode::UNAUTHORIZED, "invalid_credentials"),
        Error::InvalidClient => shown(StatusCode::UNAUTHORIZED, "unauthorized"),
        Error::Refused(refusal) => shown(StatusCode::UNAUTHORIZED, refusal.code()),
        Error::Unauthorized(AccessDenial::SessionRevoked) => {
            shown(StatusCode::UNAUTHORIZED, "session_revoked")
        }
        Error::Unauthorized(AccessDenial::Invalid | AccessDenial::Expired) => {
            shown(StatusCode::UNAUTHORIZED, "unauthorized")
        }
        Error::RegistrationClosed | Error::Forbidden(_) => {
            shown(StatusCode::FORBIDDEN, "forbidden")
        }
        Error::RateLimited { .. } => shown(StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        Error::Conflict(_) => shown(StatusCode::CONFLICT, "conflict"),
        Error::NotFound(_) => shown(StatusCode::NOT_FOUND, "not_found"),
        Error::Unavailable(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "a backing service is unavailable; try again shortly".to_owned(),
        ),
        Error::Unexpected(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "an unexpected error occurred".to_owned(),
        ),
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code, detail) = self.parts();
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
            tracing::error!(status = status.as_u16(), code, error = %chain, "request failed");
        }
        let mut response = problem_response(status, code, detail);
        if let Self::Application(Error::RateLimited { retry_after }) = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after_header(*retry_after));
        }
        response
    }
}

/// `Retry-After` in whole seconds (RFC 9110 §10.2.3), rounded up so a client that
/// waits that long is not refused again; at least 1.
pub(crate) fn retry_after_header(retry_after: tessera_domain::TimeDelta) -> HeaderValue {
    let millis = u64::try_from(retry_after.num_milliseconds()).unwrap_or(0);
    HeaderValue::from(millis.max(1).div_ceil(1000))
}

/// A problem+json response; also used for routes that do not exist.
pub(crate) fn problem_response(status: StatusCode, code: &str, detail: String) -> HttpResponse {
    let body = Problem {
        kind: format!("urn:tessera:problem:{code}"),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail,
        code: code.to_owned(),
    };
    let mut response = HttpResponse::build(status);
    response
        .content_type("application/problem+json")
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
    if status == StatusCode::UNAUTHORIZED {
        response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
    }
    response.json(body)
}

#[cfg(test)]
mod tests {
    use actix_web::body::to_bytes;
    use tessera_domain::{InvalidInput, RefreshRefusal};

    use super::*;

    async fn answer(error: Error) -> (StatusCode, serde_json::Value) {
        let response = ApiError::from(error).error_response();
        let status = response.status();
        let body = to_bytes(response.into_body()).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[actix_web::test]
    async fn every_refusal_keeps_its_stable_code_with_401() {
        for refusal in [
            RefreshRefusal::TokenInvalid,
            RefreshRefusal::SessionRevoked,
            RefreshRefusal::LifetimeExceeded,
            RefreshRefusal::IdleTimeout,
            RefreshRefusal::UserDisabled,
            RefreshRefusal::ClientMismatch,
            RefreshRefusal::Reused,
        ] {
            let (status, body) = answer(Error::Refused(refusal)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert_eq!(body["code"], refusal.code());
            assert_eq!(body["status"], 401);
            assert_eq!(
                body["type"],
                format!("urn:tessera:problem:{}", refusal.code())
            );
        }
    }

    #[actix_web::test]
    async fn application_errors_map_to_their_status_and_code() {
        let cases = [
            (
                Error::Invalid(InvalidInput {
                    field: "email",
                    message: "must be an e-mail address",
                }),
                StatusCode::BAD_REQUEST,
                "validation_failed",
            ),
            (
                Error::InvalidCredentials,
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
            ),
            (
                Error::Unauthorized(AccessDenial::Invalid),
                StatusCode::UNAUTHORIZED,
                "unauthorized",
            ),
            (
                Error::Unauthorized(AccessDenial::Expired),
                StatusCode::UNAUTHORIZED,
                "unauthorized",
            ),
            (
                Error::Unauthorized(AccessDenial::SessionRevoked),
                StatusCode::UNAUTHORIZED,
                "session_revoked",
            ),
            (
                Error::RegistrationClosed,
                StatusCode::FORBIDDEN,
                "forbidden",
            ),
            (Error::Conflict("user"), StatusCode::CONFLICT, "conflict"),
            (
                Error::NotFound("session"),
                StatusCode::NOT_FOUND,
                "not_found",
            ),
        ];
        for (error, expected_status, expected_code) in cases {
            let (status, body) = answer(error).await;
            assert_eq!(
                (status, body["code"].as_str().unwrap()),
                (expected_status, expected_code)
            );
        }
    }

    #[actix_web::test]
    async fn server_errors_show_a_generic_body_and_no_internals() {
        let secret = "connection to postgres://admin:hunter2@db failed: SELECT * FROM users";
        let (status, body) = answer(Error::Unavailable(secret.into())).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["code"], "service_unavailable");
        assert!(!body.to_string().contains("hunter2"));
        let (status, body) = answer(Error::Unexpected(secret.into())).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["code"], "internal_error");
        assert!(!body.to_string().contains("SELECT"));
    }

    #[actix_web::test]
    async fn rate_limited_is_429_with_retry_after_in_whole_seconds_rounded_up() {
        for (millis, header) in [
            (1, "1"),
            (999, "1"),
            (1_000, "1"),
            (1_001, "2"),
            (15_000, "15"),
        ] {
            let retry_after = tessera_domain::TimeDelta::milliseconds(millis);
            let response = ApiError::from(Error::RateLimited { retry_after }).error_response();
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(
                response.headers().get(header::RETRY_AFTER).unwrap(),
                header,
                "{millis} ms"
            );
            let body: serde_json::Value =
                serde_json::from_slice(&to_bytes(response.into_body()).await.unwrap()).unwrap();
            assert_eq!(body["code"], "rate_limited");
            assert_eq!(body["status"], 429);
        }
    }

    #[actix_web::test]
    async fn problems_are_problem_json_and_never_cached() {
        let response = ApiError::from(Error::InvalidCredentials).error_response();
        let headers = response.headers();
        assert_eq!(
            headers.get(header::CONTENT_TYPE).unwrap(),
            "application/problem+json"
        );
        assert_eq!(headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
        assert_eq!(headers.get(header::WWW_AUTHENTICATE).unwrap(), "Bearer");
        let response = ApiError::from(Error::Unavailable("down".into())).error_response();
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "1");
    }
}
