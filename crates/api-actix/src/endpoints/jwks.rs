//! `GET /.well-known/jwks.json`: the public keys that verify access tokens, so a
//! resource server can check them without calling Tessera. Never an HS256 secret.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use tessera_application::{AuthService, PublicSigningKey, SigningAlgorithm};
use utoipa::ToSchema;

/// A JSON Web Key Set (RFC 7517 §5).
#[derive(Serialize, ToSchema)]
pub(crate) struct JwkSet {
    keys: Vec<Jwk>,
}

/// One public key (RFC 8037 for Ed25519).
#[derive(Serialize, ToSchema)]
pub(crate) struct Jwk {
    /// `OKP`
    #[schema(example = "OKP")]
    kty: &'static str,
    /// `Ed25519`
    #[schema(example = "Ed25519")]
    crv: &'static str,
    /// The public key, base64url without padding.
    x: String,
    /// The `kid` in the header of tokens this key verifies.
    kid: String,
    /// `EdDSA`
    #[schema(example = "EdDSA")]
    alg: &'static str,
    /// `sig`
    #[serde(rename = "use")]
    #[schema(example = "sig")]
    usage: &'static str,
}

impl Jwk {
    fn from_key(key: PublicSigningKey) -> Option<Self> {
        match key.algorithm {
            SigningAlgorithm::EdDsa => Some(Self {
                kty: "OKP",
                crv: "Ed25519",
                x: URL_SAFE_NO_PAD.encode(&key.public_key),
                kid: key.kid,
                alg: key.algorithm.as_str(),
                usage: "sig",
            }),
            SigningAlgorithm::Hs256 => None,
        }
    }
}

/// The public signing keys, newest first.
#[utoipa::path(
    tag = "oauth",
    responses((status = 200, description = "The key set (cacheable for 5 minutes)", body = JwkSet))
)]
#[get("/.well-known/jwks.json")]
pub(crate) async fn jwks(service: web::Data<AuthService>) -> HttpResponse {
    let keys = service
        .public_signing_keys()
        .into_iter()
        .filter_map(Jwk::from_key)
        .collect();
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(JwkSet { keys })
}
