//! `GET /.well-known/oauth-authorization-server` (RFC 8414): where OAuth clients find
//! the endpoints, built from the configured issuer.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::oauth::Issuer;

/// Authorization server metadata.
#[derive(Serialize, ToSchema)]
pub(crate) struct AuthorizationServerMetadata {
    /// `TESSERA_ISSUER`, the `iss` of every access token.
    #[schema(example = "https://auth.example.com")]
    issuer: String,
    #[schema(example = "https://auth.example.com/oauth/token")]
    token_endpoint: String,
    #[schema(example = "https://auth.example.com/oauth/revoke")]
    revocation_endpoint: String,
    #[schema(example = "https://auth.example.com/oauth/introspect")]
    introspection_endpoint: String,
    #[schema(example = "https://auth.example.com/.well-known/jwks.json")]
    jwks_uri: String,
    /// `password` and `refresh_token`.
    grant_types_supported: [&'static str; 2],
    /// `none`: clients are public.
    token_endpoint_auth_methods_supported: [&'static str; 1],
    /// `none`: holding the token is enough to revoke it.
    revocation_endpoint_auth_methods_supported: [&'static str; 1],
    /// `client_secret_basic`: resource servers authenticate with HTTP Basic.
    introspection_endpoint_auth_methods_supported: [&'static str; 1],
    /// Empty: there is no authorization endpoint.
    response_types_supported: [&'static str; 0],
}

/// OAuth 2.0 authorization server metadata.
#[utoipa::path(
    tag = "oauth",
    responses((status = 200, description = "Metadata (cacheable for 5 minutes)", body = AuthorizationServerMetadata))
)]
#[get("/.well-known/oauth-authorization-server")]
pub(crate) async fn metadata(issuer: web::Data<Issuer>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(AuthorizationServerMetadata {
            issuer: issuer.0.clone(),
            token_endpoint: issuer.url("/oauth/token"),
            revocation_endpoint: issuer.url("/oauth/revoke"),
            introspection_endpoint: issuer.url("/oauth/introspect"),
            jwks_uri: issuer.url("/.well-known/jwks.json"),
            grant_types_supported: ["password", "refresh_token"],
            token_endpoint_auth_methods_supported: ["none"],
            revocation_endpoint_auth_methods_supported: ["none"],
            introspection_endpoint_auth_methods_supported: ["client_secret_basic"],
            response_types_supported: [],
        })
}
