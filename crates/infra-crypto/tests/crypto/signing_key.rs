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

#[test]
fn an_es256_key_is_pkcs8_private_sec1_public_with_a_thumbprint_kid() {
    use p256::elliptic_curve::sec1::ToEncodedPoint as _;
    use p256::pkcs8::DecodePrivateKey as _;
    let key = RandomSigningKeyGenerator
        .generate(SigningAlgorithm::Es256, at(0))
        .unwrap();
    assert_eq!(key.algorithm, SigningAlgorithm::Es256);
    let private = p256::SecretKey::from_pkcs8_der(key.private_key.expose()).unwrap();
    let point = private.public_key().to_encoded_point(false);
    assert_eq!(point.as_bytes(), key.public_key.as_slice());
    assert_eq!(key.public_key.len(), 65);
    assert_eq!(
        key.kid,
        tessera_infra_crypto::p256_thumbprint(point.x().unwrap(), point.y().unwrap())
    );
    assert_eq!(key.kid.len(), 43);
}

#[test]
fn an_rs256_key_is_2048_bit_pkcs1_with_a_thumbprint_kid() {
    use rsa::pkcs1::{DecodeRsaPrivateKey as _, DecodeRsaPublicKey as _};
    use rsa::traits::PublicKeyParts as _;
    let key = RandomSigningKeyGenerator
        .generate(SigningAlgorithm::Rs256, at(0))
        .unwrap();
    assert_eq!(key.algorithm, SigningAlgorithm::Rs256);
    let private = rsa::RsaPrivateKey::from_pkcs1_der(key.private_key.expose()).unwrap();
    let public = rsa::RsaPublicKey::from_pkcs1_der(&key.public_key).unwrap();
    assert_eq!(private.to_public_key(), public);
    assert_eq!(public.size() * 8, 2048);
    assert_eq!(
        key.kid,
        tessera_infra_crypto::rsa_thumbprint(&public.n().to_bytes_be(), &public.e().to_bytes_be())
    );
}

#[test]
fn the_rsa_thumbprint_matches_rfc_7638_section_3_1() {
    let n = URL_SAFE_NO_PAD
        .decode(concat!(
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP",
            "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Q",
            "vzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6",
            "WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        ))
        .unwrap();
    let e = URL_SAFE_NO_PAD.decode("AQAB").unwrap();
    assert_eq!(
        tessera_infra_crypto::rsa_thumbprint(&n, &e),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}
