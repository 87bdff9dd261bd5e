//! `POST /v1/auth/refresh`: rotate a refresh token.

use actix_web::{HttpResponse, post, web};
use serde::Deserialize;
use tessera_application::AuthService;
use utoipa::ToSchema;

use crate::ApiError;
use crate::dto::TokenResponse;
use crate::extract::ClientInfo;
use crate::problem::Problem;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefreshRequest {
    /// The refresh token of the last token pair.
    refresh_token: String,
}

/// Exchange a refresh token for a new pair. The old refresh token stops working; a
/// duplicate of this request within the grace window gets the same answer.
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "Rotated (or the same answer again for a duplicate inside the grace window)", body = TokenResponse),
        (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Refused; `code` is one of refresh_token_invalid, session_revoked, session_lifetime_exceeded, session_idle_timeout, user_disabled, client_mismatch, refresh_token_reused", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/auth/refresh")]
pub(crate) async fn refresh(
    service: web::Data<AuthService>,
    client: ClientInfo,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let grant = service.refresh(&body.refresh_token, &client.0).await?;
    Ok(super::token_response(grant))
}
