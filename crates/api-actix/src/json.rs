//! How JSON bodies are read: size limit, content type, and a problem+json answer for
//! every way a body can be wrong.

use actix_web::error::JsonPayloadError;
use actix_web::http::StatusCode;
use actix_web::web;

use crate::{ApiError, MAX_BODY_BYTES};

pub(crate) fn config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_BODY_BYTES)
        .error_handler(|error, _request| into_problem(error).into())
}

fn into_problem(error: JsonPayloadError) -> ApiError {
    match error {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            ApiError::request(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body must be at most {MAX_BODY_BYTES} bytes"),
            )
        }
        JsonPayloadError::ContentType => ApiError::request(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be application/json",
        ),
        // serde's message names the field and the problem ("missing field `email`",
        // "unknown field `admin`") without echoing long input.
        JsonPayloadError::Deserialize(error) => ApiError::validation(truncate(error.to_string())),
        other => ApiError::validation(truncate(other.to_string())),
    }
}

pub(crate) fn truncate(mut message: String) -> String {
    const MAX: usize = 200;
    if message.len() > MAX {
        let cut = (0..=MAX)
            .rev()
            .find(|&i| message.is_char_boundary(i))
            .unwrap_or(0);
        message.truncate(cut);
        message.push('…');
    }
    message
}

/// A JSON body that may be left out: no body at all is `None`; a body that is there is
/// read, limited and refused exactly like `web::Json`.
#[derive(Debug)]
pub(crate) struct OptionalJson<T>(pub Option<T>);

impl<T: serde::de::DeserializeOwned + 'static> actix_web::FromRequest for OptionalJson<T> {
    type Error = actix_web::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(
        request: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        use actix_web::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
        let headers = request.headers();
        let no_body = match headers.get(CONTENT_LENGTH) {
            Some(length) => length.as_bytes() == b"0",
            None => !headers.contains_key(TRANSFER_ENCODING),
        };
        if no_body {
            return Box::pin(std::future::ready(Ok(Self(None))));
        }
        let body = web::Json::<T>::from_request(request, payload);
        Box::pin(async move { Ok(Self(Some(body.await?.into_inner()))) })
    }
}
