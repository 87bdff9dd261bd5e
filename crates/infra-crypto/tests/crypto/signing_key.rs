use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::DecodePrivateKey as _;
use tessera_application::SigningAlgorithm;
use tessera_application::ports::SigningKeyGenerator;
use tessera_infra_crypto::{RandomSigningKeyGenerator, ed25519_thumbprint};

use crate::at;

#[test]
fn an_ed25519_key_is_pkcs8_private_raw_public_with_a_thumbprint_kid() {
    let key = RandomSigningKeyGenerator
        .generate(SigningAlgorithm::EdDsa, at(1_700_000_000))
        .unwrap();
    assert_eq!(key.algorithm, SigningAlgorithm::EdDsa);
    assert_eq!(key.created_at, at(1_700_000_000));
    let private = ed25519_dalek::SigningKey::from_pkcs8_der(key.private_key.expose()).unwrap();
    assert_eq!(
        private.verifying_key().as_bytes().as_slice(),
        key.public_key.as_slice()
    );
    let public: [u8; 32] = key.public_key.clone().try_into().unwrap();
    assert_eq!(key.kid, ed25519_thumbprint(&public));
    assert_eq!(key.kid.len(), 43);
}

#[test]
fn the_thumbprint_matches_rfc_8037_appendix_a3() {
    let x = URL_SAFE_NO_PAD
        .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
        .unwrap();
    let public: [u8; 32] = x.try_into().unwrap();
    assert_eq!(
        ed25519_thumbprint(&public),
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );
}

#[test]
fn an_hs256_key_is_a_32_byte_secret_with_a_random_kid_and_no_public_half() {
    let a = RandomSigningKeyGenerator
        .generate(SigningAlgorithm::Hs256, at(0))
        .unwrap();
    let b = RandomSigningKeyGenerator
        .generate(SigningAlgorithm::Hs256, at(0))
        .unwrap();
    assert_eq!(a.algorithm, SigningAlgorithm::Hs256);
    assert_eq!(a.private_key.expose().len(), 32);
    assert!(a.public_key.is_empty());
    assert_eq!(a.kid.len(), 22);
    assert_ne!(a.kid, b.kid);
    assert_ne!(a.private_key, b.private_key);
}

#[test]
fn two_ed25519_keys_differ() {
    let a = RandomSigningKeyGenerator
        .generate(SigningAlgorithm::EdDsa, at(0))
        .unwrap();
    let b = RandomSigningKeyGenerator
        .generate(SigningAlgorithm::EdDsa, at(0))
        .unwrap();
    assert_ne!(a.kid, b.kid);
    assert_ne!(a.private_key, b.private_key);
}
