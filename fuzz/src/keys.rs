//! Fixed keys and the production codecs built from them.
//!
//! The HS256 key signs: its secret is a constant, so the seed tokens in the corpus
//! (and a crash input) verify in every run. The Ed25519, P-256 and RSA keys are fresh
//! each run but carry fixed kids, so any input can name them and reach their
//! signature check; no input can carry a valid signature of theirs.

use jsonwebtoken::EncodingKey;
use tessera_application::ports::SigningKeyGenerator as _;
use tessera_application::{SigningAlgorithm, SigningKey, SigningKeyMaterial};
use tessera_domain::{Instant, TimeDelta};
use tessera_infra_crypto::{
    AccessTokenSettings, HmacLegacyTokenVerifier, HmacRefreshTokenCodec, JwtAccessTokenCodec,
    Pepper, RandomSigningKeyGenerator,
};

pub const ISSUER: &str = "https://auth.example.com";
pub const AUDIENCE: &str = "tessera";

pub const HS256_KID: &str = "fuzz-hs256";
pub const ED25519_KID: &str = "fuzz-ed25519";
pub const P256_KID: &str = "fuzz-p256";
pub const RSA_KID: &str = "fuzz-rsa";

/// The HS256 signing secret of the fuzz runs (32 bytes, the minimum accepted).
pub const HS256_SECRET: &[u8; 32] = b"tessera fuzzing key: not secret!";
/// The former system's secret for legacy tokens; different from ours.
pub const LEGACY_SECRET: &[u8] = b"tessera fuzzing legacy secret";
/// The refresh-token pepper.
pub const PEPPER: &[u8; 32] = b"tessera fuzzing pepper: public!!";

/// 2026-03-02T09:30:00Z: the clock of every target. The seed tokens expire in 2100.
pub const NOW_SECONDS: i64 = 1_772_443_800;

pub fn now() -> Instant {
    at(NOW_SECONDS).unwrap_or_default()
}

/// A whole-second instant, `None` outside chrono's range.
pub fn at(seconds: i64) -> Option<Instant> {
    chrono::DateTime::from_timestamp(seconds, 0)
}

/// Every key, the signer (HS256) first. With `asymmetric` false only the HS256 key
/// (RSA key generation costs a second or two at start).
pub fn signing_keys(asymmetric: bool) -> Vec<SigningKey> {
    let mut keys = vec![SigningKey {
        kid: HS256_KID.to_owned(),
        algorithm: SigningAlgorithm::Hs256,
        private_key: SigningKeyMaterial::new(HS256_SECRET.to_vec()),
        public_key: Vec::new(),
        created_at: now(),
        retired_at: None,
    }];
    if asymmetric {
        for (algorithm, kid) in [
            (SigningAlgorithm::EdDsa, ED25519_KID),
            (SigningAlgorithm::Es256, P256_KID),
            (SigningAlgorithm::Rs256, RSA_KID),
        ] {
            let mut key = RandomSigningKeyGenerator
                .generate(algorithm, now())
                .expect("the key generator works");
            key.kid = kid.to_owned();
            keys.push(key);
        }
    }
    keys
}

/// The production access-token codec over `keys` (the first one signs).
pub fn access_token_codec(keys: Vec<SigningKey>) -> JwtAccessTokenCodec {
    let settings = AccessTokenSettings::new(keys[0].algorithm, ISSUER, AUDIENCE)
        .expect("issuer and audience are set");
    JwtAccessTokenCodec::new(keys, settings).expect("the keys are usable")
}

pub fn legacy_verifier() -> HmacLegacyTokenVerifier {
    HmacLegacyTokenVerifier::new(LEGACY_SECRET, AccessTokenSettings::DEFAULT_LEEWAY)
        .expect("the legacy secret is not empty")
}

pub fn refresh_token_codec() -> HmacRefreshTokenCodec {
    HmacRefreshTokenCodec::new(Pepper::new(PEPPER).expect("the pepper is 32 bytes"))
}

/// The leeway the codec grants on `exp` and `nbf`.
pub const LEEWAY: TimeDelta = AccessTokenSettings::DEFAULT_LEEWAY;

/// What `jsonwebtoken` signs with for `key`, as the codec itself builds it.
pub fn encoding_key(key: &SigningKey) -> EncodingKey {
    let material = key.private_key.expose();
    match key.algorithm {
        SigningAlgorithm::EdDsa => EncodingKey::from_ed_der(material),
        SigningAlgorithm::Es256 => EncodingKey::from_ec_der(material),
        SigningAlgorithm::Rs256 => EncodingKey::from_rsa_der(material),
        SigningAlgorithm::Hs256 => EncodingKey::from_secret(material),
    }
}

pub const fn jose_algorithm(algorithm: SigningAlgorithm) -> jsonwebtoken::Algorithm {
    match algorithm {
        SigningAlgorithm::EdDsa => jsonwebtoken::Algorithm::EdDSA,
        SigningAlgorithm::Es256 => jsonwebtoken::Algorithm::ES256,
        SigningAlgorithm::Rs256 => jsonwebtoken::Algorithm::RS256,
        SigningAlgorithm::Hs256 => jsonwebtoken::Algorithm::HS256,
    }
}
