//! How query strings are read: a problem+json answer when one is wrong, like a body.

use actix_web::web;

use crate::ApiError;
use crate::json::truncate;

pub(crate) fn config() -> web::QueryConfig {
    // serde_urlencoded's message names the field ("missing field `email`"); an
    // unknown field's name is the client's own, so it is cut short.
    web::QueryConfig::default()
        .error_handler(|error, _request| ApiError::validation(truncate(error.to_string())).into())
}
