//! `POST /oauth/introspect` (RFC 7662): a resource server, authenticated with HTTP
//! Basic, asks whether a token is active.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, post, web};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use tessera_application::{AuthService, Introspection};
use utoipa::ToSchema;

use crate::extract::ClientInfo;
use crate::oauth::{Issuer, OAuthError, OAuthErrorBody, present};

/// An introspection request, form-encoded.
#[derive(Deserialize, ToSchema)]
pub(crate) struct IntrospectionRequest {
    /// An access token or a refresh token.
    #[schema(required = true, value_type = String)]
    token: Option<String>,
    /// `access_token` or `refresh_token`; optional and not needed: Tessera tells
    /// them apart by their form.
    token_type_hint: Option<String>,
}

/// RFC 7662 §2.2. An inactive token is `{"active": false}` and nothing else.
#[derive(Serialize, ToSchema, Default)]
#[schema(example = json!({
    "active": true,
    "sub": "0f8fad5b-d9cb-469f-a165-70867728950e",
    "sid": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "exp": 1_767_225_600,
    "iat": 1_767_224_700,
    "client_id": "tessera",
    "token_type": "Bearer",
    "iss": "https://auth.example.com",
    "roles": ["user"]
}))]
pub(crate) struct IntrospectionResponse {
    active: bool,
    /// The user id.
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    /// The session id.
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    /// Access token: its `exp`; refresh token: the session's absolute end.
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    /// Access tokens only.
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    /// Access tokens only: `tessera`, the client Tessera issues tokens as.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'static str>,
    /// `Bearer` for an access token, `refresh_token` for a refresh token.
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<&'static str>,
    /// Access tokens only: the issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    /// Access tokens only: the roles the token carries.
    #[serde(skip_serializing_if = "Option::is_none")]
    roles: Option<Vec<String>>,
}

impl IntrospectionResponse {
    fn new(introspection: Introspection, issuer: &Issuer) -> Self {
        match introspection {
            Introspection::Inactive => Self::default(),
            Introspection::Access(token) => Self {
                active: true,
                sub: Some(token.user_id.to_string()),
                sid: Some(token.session_id.to_string()),
                exp: Some(token.expires_at.timestamp()),
                iat: Some(token.issued_at.timestamp()),
                client_id: Some("tessera"),
                token_type: Some("Bearer"),
                iss: Some(issuer.0.clone()),
                roles: Some(
                    token
                        .roles
                        .iter()
                        .map(|role| role.as_str().to_owned())
                        .collect(),
                ),
            },
            Introspection::Refresh(token) => Self {
                active: true,
                sub: Some(token.user_id.to_string()),
                sid: Some(token.session_id.to_string()),
                exp: Some(token.expires_at.timestamp()),
                token_type: Some("refresh_token"),
                ..Self::default()
            },
        }
    }
}

/// Introspect a token (for resource servers configured in
/// `TESSERA_INTROSPECTION_CLIENTS`). An access token is active while it verifies and
/// its session is not revoked; a refresh token while its session would still refresh
/// it. Introspecting changes nothing: no activity, no rotation, no reuse detection.
#[utoipa::path(
    tag = "oauth",
    request_body(content = IntrospectionRequest, content_type = "application/x-www-form-urlencoded"),
    security(("basic" = [])),
    responses(
        (status = 200, description = "Whether the token is active, and about it if it is", body = IntrospectionResponse),
        (status = 400, description = "`invalid_request`: `token` missing or repeated, body not form-encoded or over 64 KiB", body = OAuthErrorBody),
        (status = 401, description = "`invalid_client`: no, unknown or wrong client credentials (HTTP Basic)", body = OAuthErrorBody),
        (status = 429, description = "`temporarily_unavailable`: too many requests from this address", body = OAuthErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
        (status = 500, description = "`server_error`", body = OAuthErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the database is down; try again", body = OAuthErrorBody),
    )
)]
#[post("/oauth/introspect")]
pub(crate) async fn introspect(
    request: HttpRequest,
    service: web::Data<AuthService>,
    issuer: web::Data<Issuer>,
    client: ClientInfo,
    form: web::Form<IntrospectionRequest>,
) -> Result<HttpResponse, OAuthError> {
    let (client_id, client_secret) =
        basic_credentials(&request).ok_or_else(OAuthError::invalid_client)?;
    let form = form.into_inner();
    let _ = form.token_type_hint;
    let token =
        present(form.token).ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    let introspection = service
        .introspect(&client_id, &client_secret, &token, &client.0)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(IntrospectionResponse::new(introspection, &issuer)))
}

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(request: &HttpRequest) -> Option<(String, String)> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((form_decode(id)?, form_decode(secret)?))
}

/// Undoes `application/x-www-form-urlencoded` encoding; `None` when malformed.
fn form_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut input = text.bytes();
    while let Some(byte) = input.next() {
        match byte {
            b'+' => bytes.push(b' '),
            b'%' => {
                let high = char::from(input.next()?).to_digit(16)?;
                let low = char::from(input.next()?).to_digit(16)?;
                bytes.push(u8::try_from(high * 16 + low).ok()?);
            }
            other => bytes.push(other),
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::form_decode;

    #[test]
    fn client_credentials_are_form_decoded() {
        assert_eq!(form_decode("a%3Ab+c").as_deref(), Some("a:b c"));
        assert_eq!(
            form_decode("plain-Secret_1").as_deref(),
            Some("plain-Secret_1")
        );
        assert_eq!(form_decode("bad%4"), None);
    }
}
