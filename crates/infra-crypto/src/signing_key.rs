//! New signing keys from the OS CSPRNG: Ed25519, P-256 and RSA-2048 key pairs (kid =
//! RFC 7638 JWK thumbprint) and HS256 secrets (random kid, so the kid reveals nothing
//! of the secret).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::EncodePrivateKey as _;
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use rand_core::{OsRng, RngCore};
use rsa::pkcs1::{EncodeRsaPrivateKey as _, EncodeRsaPublicKey as _};
use rsa::traits::PublicKeyParts as _;
use sha2::{Digest as _, Sha256};
use tessera_application::ports::SigningKeyGenerator;
use tessera_application::{Error, SigningAlgorithm, SigningKey, SigningKeyMaterial};
use tessera_domain::Instant;

/// Length of a new HS256 secret: the SHA-256 output length (RFC 7518 §3.2).
const HMAC_SECRET_BYTES: usize = 32;
/// RSA modulus size of new RS256 keys.
const RSA_BITS: usize = 2048;
/// Random kids carry 128 bits.
const RANDOM_KID_BYTES: usize = 16;

/// [`SigningKeyGenerator`] drawing from `OsRng`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomSigningKeyGenerator;

impl SigningKeyGenerator for RandomSigningKeyGenerator {
    fn generate(&self, algorithm: SigningAlgorithm, now: Instant) -> Result<SigningKey, Error> {
        match algorithm {
            SigningAlgorithm::EdDsa => {
                let key = ed25519_dalek::SigningKey::generate(&mut OsRng);
                let der = key
                    .to_pkcs8_der()
                    .map_err(|error| Error::unexpected(format!("Ed25519 PKCS#8: {error}")))?;
                let public_key = key.verifying_key().to_bytes();
                Ok(SigningKey {
                    kid: ed25519_thumbprint(&public_key),
                    algorithm,
                    private_key: SigningKeyMaterial::new(der.as_bytes().to_vec()),
                    public_key: public_key.to_vec(),
                    created_at: now,
                    retired_at: None,
                })
            }
            SigningAlgorithm::Es256 => {
                let secret = p256::SecretKey::random(&mut OsRng);
                let der = p256::pkcs8::EncodePrivateKey::to_pkcs8_der(&secret)
                    .map_err(|error| Error::unexpected(format!("P-256 PKCS#8: {error}")))?;
                // SEC1 uncompressed point `04 || x || y`: what `DecodingKey::from_ec_der`
                // verifies with.
                let point = secret.public_key().to_encoded_point(false);
                let (Some(x), Some(y)) = (point.x(), point.y()) else {
                    return Err(Error::unexpected("P-256 public key is the identity"));
                };
                Ok(SigningKey {
                    kid: p256_thumbprint(x, y),
                    algorithm,
                    private_key: SigningKeyMaterial::new(der.as_bytes().to_vec()),
                    public_key: point.as_bytes().to_vec(),
                    created_at: now,
                    retired_at: None,
                })
            }
            SigningAlgorithm::Rs256 => {
                let private = rsa::RsaPrivateKey::new(&mut OsRng, RSA_BITS)
                    .map_err(|error| Error::unexpected(format!("RSA key generation: {error}")))?;
                // PKCS#1 DER for both halves: what `EncodingKey::from_rsa_der` and
                // `DecodingKey::from_rsa_der` parse.
                let der = private
                    .to_pkcs1_der()
                    .map_err(|error| Error::unexpected(format!("RSA PKCS#1: {error}")))?;
                let public = private.to_public_key();
                let public_der = public
                    .to_pkcs1_der()
                    .map_err(|error| Error::unexpected(format!("RSA PKCS#1: {error}")))?;
                Ok(SigningKey {
                    kid: rsa_thumbprint(&public.n().to_bytes_be(), &public.e().to_bytes_be()),
                    algorithm,
                    private_key: SigningKeyMaterial::new(der.as_bytes().to_vec()),
                    public_key: public_der.as_bytes().to_vec(),
                    created_at: now,
                    retired_at: None,
                })
            }
            SigningAlgorithm::Hs256 => {
                let mut secret = vec![0_u8; HMAC_SECRET_BYTES];
                OsRng.fill_bytes(&mut secret);
                Ok(SigningKey {
                    kid: random_kid(),
                    algorithm,
                    private_key: SigningKeyMaterial::new(secret),
                    public_key: Vec::new(),
                    created_at: now,
                    retired_at: None,
                })
            }
        }
    }
}

/// RFC 7638 thumbprint of the Ed25519 public JWK (RFC 8037): SHA-256 of the required
/// members in lexicographic order, without whitespace, as unpadded base64url.
pub fn ed25519_thumbprint(public_key: &[u8; 32]) -> String {
    let jwk = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public_key)
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(jwk.as_bytes()))
}

/// RFC 7638 thumbprint of a P-256 public JWK (`x`, `y`: the 32-byte big-endian
/// affine coordinates).
pub fn p256_thumbprint(x: &[u8], y: &[u8]) -> String {
    let jwk = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(x),
        URL_SAFE_NO_PAD.encode(y)
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(jwk.as_bytes()))
}

/// RFC 7638 thumbprint of an RSA public JWK (`n`, `e`: big-endian unsigned, no
/// leading zeros).
pub fn rsa_thumbprint(n: &[u8], e: &[u8]) -> String {
    let jwk = format!(
        r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(e),
        URL_SAFE_NO_PAD.encode(n)
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(jwk.as_bytes()))
}

fn random_kid() -> String {
    let mut kid = [0_u8; RANDOM_KID_BYTES];
    OsRng.fill_bytes(&mut kid);
    URL_SAFE_NO_PAD.encode(kid)
}
