//! `POST /oauth/token` (RFC 6749): the password and refresh-token grants, through the
//! same use cases as `/v1/auth/login` and `/v1/auth/refresh` — same policy, same
//! audit trail — answered in OAuth's shape.

use actix_web::http::header;
use actix_web::{HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use tessera_application::{AuthService, TokenGrant};
use tessera_domain::{EmailAddress, Password};
use utoipa::ToSchema;

use crate::extract::ClientInfo;
use crate::oauth::{OAuthError, OAuthErrorBody, present};

/// A token request, form-encoded. Unknown parameters (e.g. `client_secret`) are
/// ignored (RFC 6749 §3.2); a repeated one is `invalid_request`.
#[derive(Deserialize, ToSchema)]
pub(crate) struct TokenRequest {
    /// `password` or `refresh_token`.
    #[schema(required = true, value_type = String, example = "password")]
    grant_type: Option<String>,
    /// The user's e-mail address (password grant).
    #[schema(example = "ada@example.com")]
    username: Option<String>,
    /// Password grant.
    #[schema(example = "correct horse battery staple")]
    password: Option<String>,
    /// The refresh token of the last response (refresh_token grant).
    refresh_token: Option<String>,
    /// Optional. Tessera does not narrow access by scope (tokens carry the user's
    /// roles); a requested scope is echoed in the response.
    scope: Option<String>,
    /// Optional; clients are public (authentication method `none`).
    client_id: Option<String>,
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Serialize, ToSchema)]
pub(crate) struct OAuthTokenResponse {
    /// A JWT (`typ: at+jwt`) to send as `Authorization: Bearer <token>`.
    access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    expires_in: i64,
    /// Opaque; rotates on every use.
    refresh_token: String,
    /// The scope the request asked for, echoed; absent when it asked for none.
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

/// Issue tokens: `grant_type=password` (`username`, `password`) starts a session;
/// `grant_type=refresh_token` rotates, exactly as `/v1/auth/refresh` does (a duplicate
/// inside the grace window gets the same answer; a replay after it revokes the
/// session).
#[utoipa::path(
    tag = "oauth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Tokens issued (`Cache-Control: no-store`)", body = OAuthTokenResponse),
        (status = 400, description = "`invalid_grant` (wrong credentials, a disabled user, every refusal of the refresh policy), `unsupported_grant_type`, `invalid_scope`, or `invalid_request` (missing or repeated parameter, body not form-encoded or over 64 KiB)", body = OAuthErrorBody),
        (status = 429, description = "`temporarily_unavailable`: too many requests from this address, or too many failed logins for this username (password grant)", body = OAuthErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
        (status = 500, description = "`server_error`", body = OAuthErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the database is down", body = OAuthErrorBody),
    )
)]
#[post("/oauth/token")]
pub(crate) async fn token(
    service: web::Data<AuthService>,
    client: ClientInfo,
    form: web::Form<TokenRequest>,
) -> Result<HttpResponse, OAuthError> {
    let request = form.into_inner();
    // Clients are public (`none`): a client id identifies nothing to check.
    let _ = request.client_id;
    let scope = present(request.scope);
    if let Some(scope) = &scope
        && !is_scope(scope)
    {
        return Err(OAuthError::invalid_scope(
            "scope is malformed (RFC 6749 §3.3)",
        ));
    }
    let grant_type = present(request.grant_type)
        .ok_or_else(|| OAuthError::invalid_request("grant_type is missing"))?;
    let grant = match grant_type.as_str() {
        "password" => {
            let username = present(request.username)
                .ok_or_else(|| OAuthError::invalid_request("username is missing"))?;
            let password = present(request.password)
                .ok_or_else(|| OAuthError::invalid_request("password is missing"))?;
            // Credentials that cannot be valid get the answer wrong ones get.
            let email =
                EmailAddress::parse(&username).map_err(|_| OAuthError::invalid_credentials())?;
            let password =
                Password::new(password).map_err(|_| OAuthError::invalid_credentials())?;
            service.login(&email, &password, &client.0).await?
        }
        "refresh_token" => {
            let refresh_token = present(request.refresh_token)
                .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing"))?;
            service.refresh(&refresh_token, &client.0).await?
        }
        other => return Err(OAuthError::unsupported_grant_type(other)),
    };
    Ok(response(grant, scope))
}

fn response(grant: TokenGrant, scope: Option<String>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(OAuthTokenResponse {
            access_token: grant.access_token.expose().to_owned(),
            token_type: "Bearer",
            expires_in: grant.expires_in.num_seconds(),
            refresh_token: grant.refresh_token.expose().to_owned(),
            scope,
        })
}

/// RFC 6749 §3.3: space-separated tokens of printable ASCII without `"` and `\`.
fn is_scope(scope: &str) -> bool {
    scope.len() <= 1024
        && scope.split(' ').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
        })
}

#[cfg(test)]
mod tests {
    use super::is_scope;

    #[test]
    fn scopes_follow_rfc_6749_syntax() {
        assert!(is_scope("openid"));
        assert!(is_scope("read:sessions write"));
        for malformed in [" read", "read  write", "read ", "a\"b", "a\\b", "é"] {
            assert!(!is_scope(malformed), "{malformed:?}");
        }
    }
}
