//! What the codec lets the JWKS publish: every Ed25519 verification key, never an
//! HS256 secret, and enough to verify a token without Tessera's code.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use tessera_application::ports::{AccessTokenCodec, SigningKeyGenerator};
use tessera_application::{AccessClaims, PublicKeyParams, SigningAlgorithm, SigningKey};
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
    assert_eq!(
        published[0].public_key,
        PublicKeyParams::Okp {
            x: newest.public_key.clone()
        }
    );
    assert!(published.iter().all(|key| match &key.public_key {
        PublicKeyParams::Okp { x } => x.len() == 32 && x != hmac.private_key.expose(),
        _ => false,
    }));
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

    let PublicKeyParams::Okp { x } = &published.public_key else {
        panic!("not an OKP key: {published:?}");
    };
    let x = URL_SAFE_NO_PAD.encode(x);
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

#[allow(
    clippy::disallowed_methods,
    reason = "jsonwebtoken checks `exp` against the system clock"
)]
fn live_token(codec: &JwtAccessTokenCodec) -> String {
    let issued_at = chrono::Utc::now();
    codec
        .issue(&AccessClaims {
            user_id: UserId::from_uuid(Uuid::from_u128(1)),
            session_id: SessionId::from_uuid(Uuid::from_u128(2)),
            token_id: Uuid::from_u128(3),
            issued_at,
            expires_at: issued_at + chrono::TimeDelta::minutes(5),
            roles: vec![Role::user()],
        })
        .unwrap()
        .expose()
        .to_owned()
}

/// Verifies `token` with `jsonwebtoken` alone, from the published JWK parameters.
fn verify_with_jwk(token: &str, published: &PublicKeyParams, alg: Algorithm) -> bool {
    let key = match published {
        PublicKeyParams::Okp { x } => DecodingKey::from_ed_components(&URL_SAFE_NO_PAD.encode(x)),
        PublicKeyParams::Ec { x, y } => {
            DecodingKey::from_ec_components(&URL_SAFE_NO_PAD.encode(x), &URL_SAFE_NO_PAD.encode(y))
        }
        PublicKeyParams::Rsa { n, e } => {
            DecodingKey::from_rsa_components(&URL_SAFE_NO_PAD.encode(n), &URL_SAFE_NO_PAD.encode(e))
        }
    }
    .unwrap();
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation).is_ok()
}

#[test]
fn an_es256_key_is_published_as_p256_coordinates_that_verify_its_tokens() {
    let key = key(SigningAlgorithm::Es256);
    let codec = codec(vec![key.clone()], SigningAlgorithm::Es256);
    let token = live_token(&codec);
    let published = codec.public_keys();

    assert_eq!(published.len(), 1);
    assert_eq!(published[0].kid, key.kid);
    assert_eq!(published[0].algorithm, SigningAlgorithm::Es256);
    let PublicKeyParams::Ec { x, y } = &published[0].public_key else {
        panic!("not an EC key: {published:?}");
    };
    assert_eq!((x.len(), y.len()), (32, 32));
    assert_eq!(
        tessera_infra_crypto::p256_thumbprint(x, y),
        key.kid,
        "the kid is the RFC 7638 thumbprint of the published JWK"
    );
    assert!(verify_with_jwk(
        &token,
        &published[0].public_key,
        Algorithm::ES256
    ));

    let (message, signature) = token.rsplit_once('.').unwrap();
    let mut raw = URL_SAFE_NO_PAD.decode(signature).unwrap();
    raw[5] ^= 1;
    let tampered = format!("{message}.{}", URL_SAFE_NO_PAD.encode(&raw));
    assert!(!verify_with_jwk(
        &tampered,
        &published[0].public_key,
        Algorithm::ES256
    ));
}

#[test]
fn an_rs256_key_is_published_as_modulus_and_exponent_that_verify_its_tokens() {
    let key = key(SigningAlgorithm::Rs256);
    let codec = codec(vec![key.clone()], SigningAlgorithm::Rs256);
    let token = live_token(&codec);
    let published = codec.public_keys();

    assert_eq!(published.len(), 1);
    assert_eq!(published[0].kid, key.kid);
    assert_eq!(published[0].algorithm, SigningAlgorithm::Rs256);
    let PublicKeyParams::Rsa { n, e } = &published[0].public_key else {
        panic!("not an RSA key: {published:?}");
    };
    assert_eq!(n.len(), 256, "2048-bit modulus, no leading zero byte");
    assert_ne!(n[0], 0);
    assert_eq!(e.as_slice(), [1, 0, 1]);
    assert_eq!(tessera_infra_crypto::rsa_thumbprint(n, e), key.kid);
    assert!(verify_with_jwk(
        &token,
        &published[0].public_key,
        Algorithm::RS256
    ));

    let (message, signature) = token.rsplit_once('.').unwrap();
    let mut raw = URL_SAFE_NO_PAD.decode(signature).unwrap();
    raw[5] ^= 1;
    let tampered = format!("{message}.{}", URL_SAFE_NO_PAD.encode(&raw));
    assert!(!verify_with_jwk(
        &tampered,
        &published[0].public_key,
        Algorithm::RS256
    ));
}
