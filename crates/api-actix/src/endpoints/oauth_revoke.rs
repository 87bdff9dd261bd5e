//! `POST /oauth/revoke` (RFC 7009): hand back a token; its session ends.

use actix_web::http::header;
use actix_web::{HttpResponse, post, web};
use serde::Deserialize;
use tessera_application::AuthService;
use utoipa::ToSchema;

use crate::extract::ClientInfo;
use crate::oauth::{OAuthError, OAuthErrorBody, present};

/// A revocation request, form-encoded.
#[derive(Deserialize, ToSchema)]
pub(crate) struct RevocationRequest {
    /// A refresh token or an access token issued by Tessera.
    #[schema(required = true, value_type = String)]
    token: Option<String>,
    /// `refresh_token` or `access_token`; optional and not needed: Tessera tells
    /// them apart by their form.
    token_type_hint: Option<String>,
}

/// Revoke a token: a refresh token (any generation) or an access token ends its
/// session — every refresh token of it and, from the next request on, every access
/// token. An unknown, expired or already revoked token gets the same 200.
#[utoipa::path(
    tag = "oauth",
    request_body(content = RevocationRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke (empty body)"),
        (status = 400, description = "`invalid_request`: `token` missing or repeated, body not form-encoded or over 64 KiB", body = OAuthErrorBody),
        (status = 500, description = "`server_error`", body = OAuthErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the database is down; try again", body = OAuthErrorBody),
    )
)]
#[post("/oauth/revoke")]
pub(crate) async fn revoke(
    service: web::Data<AuthService>,
    client: ClientInfo,
    form: web::Form<RevocationRequest>,
) -> Result<HttpResponse, OAuthError> {
    let request = form.into_inner();
    // The hint only speeds a lookup up (RFC 7009 §2.1); both kinds are recognised.
    let _ = request.token_type_hint;
    let token =
        present(request.token).ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    service.revoke_token(&token, &client.0).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
