//! `GET /.well-known/jwks.json`: the public keys that verify access tokens, so a
//! resource server can check them without calling Tessera. Never an HS256 secret.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use tessera_application::{AuthService, PublicKeyParams, PublicSigningKey, SigningAlgorithm};
use utoipa::ToSchema;

/// A JSON Web Key Set (RFC 7517 §5).
#[derive(Serialize, ToSchema)]
pub(crate) struct JwkSet {
    keys: Vec<Jwk>,
}

/// One public key: `OKP`/`Ed25519` (RFC 8037), `EC`/`P-256` or `RSA` (RFC 7518 §6).
/// Every value is base64url without padding; integers are big-endian unsigned.
#[derive(Serialize, ToSchema)]
pub(crate) struct Jwk {
    /// `OKP`, `EC` or `RSA`
    #[schema(example = "OKP")]
    kty: &'static str,
    /// `Ed25519` or `P-256` (absent for RSA)
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "Ed25519")]
    crv: Option<&'static str>,
    /// The public key (OKP), or the x coordinate (EC).
    #[serde(skip_serializing_if = "Option::is_none")]
    x: Option<String>,
    /// The y coordinate (EC only).
    #[serde(skip_serializing_if = "Option::is_none")]
    y: Option<String>,
    /// The modulus (RSA only).
    #[serde(skip_serializing_if = "Option::is_none")]
    n: Option<String>,
    /// The public exponent (RSA only).
    #[serde(skip_serializing_if = "Option::is_none")]
    e: Option<String>,
    /// The `kid` in the header of tokens this key verifies.
    kid: String,
    /// `EdDSA`, `ES256` or `RS256`
    #[schema(example = "EdDSA")]
    alg: &'static str,
    /// `sig`
    #[serde(rename = "use")]
    #[schema(example = "sig")]
    usage: &'static str,
}

impl Jwk {
    fn from_key(key: PublicSigningKey) -> Option<Self> {
        if !key.algorithm.is_asymmetric() {
            return None;
        }
        let b64 = |bytes: &[u8]| Some(URL_SAFE_NO_PAD.encode(bytes));
        let mut jwk = Self {
            kty: "",
            crv: None,
            x: None,
            y: None,
            n: None,
            e: None,
            kid: key.kid,
            alg: key.algorithm.as_str(),
            usage: "sig",
        };
        match (key.algorithm, &key.public_key) {
            (SigningAlgorithm::EdDsa, PublicKeyParams::Okp { x }) => {
                jwk.kty = "OKP";
                jwk.crv = Some("Ed25519");
                jwk.x = b64(x);
            }
            (SigningAlgorithm::Es256, PublicKeyParams::Ec { x, y }) => {
                jwk.kty = "EC";
                jwk.crv = Some("P-256");
                jwk.x = b64(x);
                jwk.y = b64(y);
            }
            (SigningAlgorithm::Rs256, PublicKeyParams::Rsa { n, e }) => {
                jwk.kty = "RSA";
                jwk.n = b64(n);
                jwk.e = b64(e);
            }
            // A symmetric key, or parameters that do not fit the algorithm.
            _ => return None,
        }
        Some(jwk)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn jwk(algorithm: SigningAlgorithm, public_key: PublicKeyParams) -> Option<serde_json::Value> {
        Jwk::from_key(PublicSigningKey {
            kid: "k".to_owned(),
            algorithm,
            public_key,
        })
        .map(|jwk| serde_json::to_value(jwk).unwrap())
    }

    #[test]
    fn each_asymmetric_key_is_its_rfc_7518_or_8037_jwk() {
        let ed = jwk(
            SigningAlgorithm::EdDsa,
            PublicKeyParams::Okp { x: vec![0xfb; 32] },
        );
        assert_eq!(
            ed,
            Some(serde_json::json!({
                "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode([0xfb; 32]),
                "kid": "k", "alg": "EdDSA", "use": "sig"
            }))
        );
        let ec = jwk(
            SigningAlgorithm::Es256,
            PublicKeyParams::Ec {
                x: vec![1; 32],
                y: vec![2; 32],
            },
        );
        assert_eq!(
            ec,
            Some(serde_json::json!({
                "kty": "EC", "crv": "P-256",
                "x": URL_SAFE_NO_PAD.encode([1; 32]), "y": URL_SAFE_NO_PAD.encode([2; 32]),
                "kid": "k", "alg": "ES256", "use": "sig"
            }))
        );
        let rsa = jwk(
            SigningAlgorithm::Rs256,
            PublicKeyParams::Rsa {
                n: vec![0xc3; 256],
                e: vec![1, 0, 1],
            },
        );
        assert_eq!(
            rsa,
            Some(serde_json::json!({
                "kty": "RSA", "n": URL_SAFE_NO_PAD.encode([0xc3; 256]), "e": "AQAB",
                "kid": "k", "alg": "RS256", "use": "sig"
            }))
        );
    }

    #[test]
    fn hs256_and_mismatched_parameters_are_never_published() {
        let okp = || PublicKeyParams::Okp { x: vec![9; 32] };
        assert_eq!(jwk(SigningAlgorithm::Hs256, okp()), None);
        assert_eq!(jwk(SigningAlgorithm::Rs256, okp()), None);
        assert_eq!(jwk(SigningAlgorithm::Es256, okp()), None);
    }
}
