//! What the codec lets the JWKS publish: every Ed25519 verification key, never an
//! HS256 secret, and enough to verify a token without Tessera's code.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use tessera_application::ports::{AccessTokenCodec, SigningKeyGenerator};
use tessera_application::{AccessClaims, SigningAlgorithm, SigningKey};
use tessera_domain::{Role, SessionId, UserId};
use tessera_infra_crypto::{AccessTokenSettings, JwtAccessTokenCodec, RandomSigningKeyGenerator};
use uuid::Uuid;

use crate::at;

const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "tessera";

fn key(algorithm: SigningAlgorithm) -> SigningKey {
    RandomSigningKeyGenerator
        .generate(algorithm, at(0))
        .unwrap()
}

fn codec(keys: Vec<SigningKey>, algorithm: SigningAlgorithm) -> JwtAccessTokenCodec {
    let settings = AccessTokenSettings::new(algorithm, ISSUER, AUDIENCE).unwrap();
    JwtAccessTokenCodec::new(keys, settings).unwrap()
}

#[test]
fn every_ed25519_key_is_public_newest_first_and_no_hs256_secret_is() {
    let (newest, hmac, oldest) = (
        key(SigningAlgorithm::EdDsa),
        key(SigningAlgorithm::Hs256),
        key(SigningAlgorithm::EdDsa),
    );
    let codec = codec(
        vec![newest.clone(), hmac.clone(), oldest.clone()],
        SigningAlgorithm::EdDsa,
    );

    let published = codec.public_keys();

    let kids: Vec<&str> = published.iter().map(|key| key.kid.as_str()).collect();
    assert_eq!(kids, [newest.kid.as_str(), oldest.kid.as_str()]);
    assert_eq!(published[0].algorithm, SigningAlgorithm::EdDsa);
    assert_eq!(published[0].public_key, newest.public_key);
    assert_eq!(published[0].public_key.len(), 32);
    assert!(
        published
            .iter()
            .all(|key| key.public_key != hmac.private_key.expose())
    );
}

#[test]
fn an_hs256_signer_publishes_nothing() {
    let codec = codec(vec![key(SigningAlgorithm::Hs256)], SigningAlgorithm::Hs256);

    assert!(codec.public_keys().is_empty());
}

#[test]
#[allow(
    clippy::disallowed_methods,
    reason = "jsonwebtoken checks `exp` against the system clock"
)]
fn a_published_key_verifies_a_token_with_jsonwebtoken_alone() {
    let codec = codec(vec![key(SigningAlgorithm::EdDsa)], SigningAlgorithm::EdDsa);
    let issued_at = chrono::Utc::now();
    let token = codec
        .issue(&AccessClaims {
            user_id: UserId::from_uuid(Uuid::from_u128(1)),
            session_id: SessionId::from_uuid(Uuid::from_u128(2)),
            token_id: Uuid::from_u128(3),
            issued_at,
            expires_at: issued_at + chrono::TimeDelta::minutes(5),
            roles: vec![Role::user()],
        })
        .unwrap();
    let published = &codec.public_keys()[0];

    let x = URL_SAFE_NO_PAD.encode(&published.public_key);
    let key = DecodingKey::from_ed_components(&x).unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    let header = jsonwebtoken::decode_header(token.expose()).unwrap();
    let verified =
        jsonwebtoken::decode::<serde_json::Value>(token.expose(), &key, &validation).unwrap();

    assert_eq!(header.kid.as_deref(), Some(published.kid.as_str()));
    assert_eq!(
        verified.claims["sid"],
        SessionId::from_uuid(Uuid::from_u128(2)).to_string()
    );
}
