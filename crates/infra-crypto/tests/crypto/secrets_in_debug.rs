//! Every type that holds a secret prints none of it in `Debug`.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::pkcs8::DecodePrivateKey as _;
use tessera_application::ports::{PasswordHasher, RefreshTokenCodec, SigningKeyGenerator};
use tessera_application::{AccessToken, GrantSecrets, SigningAlgorithm};
use tessera_domain::Password;
use tessera_infra_crypto::{
    AccessTokenSettings, Argon2Params, Argon2PasswordHasher, HmacRefreshTokenCodec,
    JwtAccessTokenCodec, PasswordHashingSettings, Pepper, RandomSigningKeyGenerator,
};

use crate::at;

const PEPPER: &[u8] = b"pepper-that-must-never-be-logged-0123456789";

/// The secret in every spelling a careless `Debug` might use.
fn assert_hidden(debug: &str, secret: &[u8]) {
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let spellings = [
        String::from_utf8_lossy(secret).into_owned(),
        hex,
        STANDARD.encode(secret),
        URL_SAFE_NO_PAD.encode(secret),
        format!("{secret:?}"),
        format!("{:?}", &secret[..4])
            .trim_end_matches(']')
            .to_owned(),
    ];
    for spelling in spellings {
        assert!(!debug.contains(&spelling), "{debug} shows {spelling}");
    }
}

#[test]
fn the_pepper_and_the_refresh_codec_hide_the_pepper() {
    let pepper = Pepper::new(PEPPER).unwrap();
    assert_hidden(&format!("{pepper:?}"), PEPPER);
    assert_hidden(&format!("{pepper:#?}"), PEPPER);
    let codec = HmacRefreshTokenCodec::new(pepper);
    assert_hidden(&format!("{codec:?}"), PEPPER);
}

#[test]
fn minted_presented_and_sealed_refresh_tokens_hide_their_secrets() {
    let codec = HmacRefreshTokenCodec::new(Pepper::new(PEPPER).unwrap());
    let minted = codec.mint();
    let token = minted.plain.expose().to_owned();
    let secret = token.split_once('.').unwrap().1;
    let debug = format!("{minted:?}");
    assert!(!debug.contains(secret));
    assert_hidden(&debug, minted.hash.as_bytes());
    let presented = codec.parse(&token).unwrap();
    assert!(!format!("{presented:?}").contains(secret));
    let secrets = GrantSecrets {
        access_token: AccessToken::new("header.payload.signature".to_owned()),
        access_expires_at: at(0),
        refresh_token: codec.mint().plain,
    };
    let debug = format!("{secrets:?}");
    assert!(!debug.contains("payload") && !debug.contains(secrets.refresh_token.expose()));
    let sealed = codec.seal(&minted.plain, &secrets).unwrap();
    assert_hidden(&format!("{sealed:?}"), &sealed.as_bytes()[13..]);
}

#[test]
fn signing_keys_and_the_access_codec_hide_private_material() {
    for algorithm in [
        SigningAlgorithm::EdDsa,
        SigningAlgorithm::Es256,
        SigningAlgorithm::Rs256,
        SigningAlgorithm::Hs256,
    ] {
        let key = RandomSigningKeyGenerator
            .generate(algorithm, at(0))
            .unwrap();
        let secret = match algorithm {
            SigningAlgorithm::EdDsa => {
                let der = key.private_key.expose();
                ed25519_dalek::SigningKey::from_pkcs8_der(der)
                    .unwrap()
                    .to_bytes()
                    .to_vec()
            }
            SigningAlgorithm::Es256 => {
                use p256::pkcs8::DecodePrivateKey as _;
                p256::SecretKey::from_pkcs8_der(key.private_key.expose())
                    .unwrap()
                    .to_bytes()
                    .to_vec()
            }
            SigningAlgorithm::Rs256 => {
                use rsa::pkcs1::DecodeRsaPrivateKey as _;
                use rsa::traits::PrivateKeyParts as _;
                rsa::RsaPrivateKey::from_pkcs1_der(key.private_key.expose())
                    .unwrap()
                    .d()
                    .to_bytes_be()
            }
            SigningAlgorithm::Hs256 => key.private_key.expose().to_vec(),
        };
        let secret = secret.as_slice();
        assert_hidden(&format!("{key:?}"), secret);
        let settings = AccessTokenSettings::new(algorithm, "https://a.example", "tessera").unwrap();
        let codec = JwtAccessTokenCodec::new(vec![key], settings).unwrap();
        assert_hidden(&format!("{codec:?}"), secret);
    }
}

#[tokio::test]
async fn the_password_hasher_shows_no_hash_or_password() {
    let hasher = Argon2PasswordHasher::new(PasswordHashingSettings {
        params: Argon2Params {
            memory_kib: 256,
            iterations: 1,
            parallelism: 1,
        },
        ..PasswordHashingSettings::default()
    })
    .unwrap();
    let debug = format!("{hasher:?}");
    assert!(!debug.contains("$argon2"), "{debug}");
    let password = Password::new("correct horse").unwrap();
    let hash = hasher.hash(&password).await.unwrap();
    assert!(!format!("{password:?}{hash:?}").contains("horse"));
    assert!(!format!("{hash:?}").contains("$argon2"));
}
