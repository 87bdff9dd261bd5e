#![no_main]
//! Refresh-token parsing and the sealed grant of the grace window (SPEC §3), with the
//! production codec and a fixed pepper. Each input is used three ways:
//!
//! 1. as a presented refresh token: only the minted shape parses, its id has one
//!    spelling, and it matches no other token's hash;
//! 2. as a sealed blob: without the key no blob opens;
//! 3. as the plaintext of a blob sealed under the parent token's key (derived here as
//!    the codec derives it), so the layout parser behind the AEAD is reached: what
//!    opens seals and opens again to the same grant.

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;
use tessera_application::ports::RefreshTokenCodec as _;
use tessera_application::{
    AccessToken, GrantSecrets, MintedRefreshToken, PlainRefreshToken, SealedGrant,
};
use tessera_fuzz::keys;
use tessera_infra_crypto::HmacRefreshTokenCodec;

/// Copied from `infra-crypto/src/refresh_token.rs`; `FIXTURE` checks it still holds.
const SEAL_DOMAIN: &[u8] = b"tessera seal v1\0";
const SEAL_VERSION: u8 = 1;
const NONCE: [u8; 12] = [7; 12];

struct Fixture {
    codec: HmacRefreshTokenCodec,
    minted: MintedRefreshToken,
    parent: PlainRefreshToken,
    cipher: ChaCha20Poly1305,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let codec = keys::refresh_token_codec();
    let parent = codec.mint().plain;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(keys::PEPPER).expect("any key length");
    mac.update(SEAL_DOMAIN);
    mac.update(parent.expose().as_bytes());
    let key: [u8; 32] = mac.finalize().into_bytes().into();
    let fixture = Fixture {
        minted: codec.mint(),
        cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
        codec,
        parent,
    };
    let probe = GrantSecrets {
        access_token: AccessToken::new("a.b.c".to_owned()),
        access_expires_at: keys::now(),
        refresh_token: fixture.minted.plain.clone(),
    };
    let sealed = fixture
        .codec
        .seal(&fixture.parent, &probe)
        .expect("sealing works");
    assert!(
        fixture
            .cipher
            .decrypt(
                Nonce::from_slice(&sealed.as_bytes()[1..13]),
                Payload {
                    msg: &sealed.as_bytes()[13..],
                    aad: &[SEAL_VERSION]
                },
            )
            .is_ok(),
        "the seal key derivation copied into this target no longer matches the codec's"
    );
    fixture
});

fn same(a: &GrantSecrets, b: &GrantSecrets) -> bool {
    a.access_token.expose() == b.access_token.expose()
        && a.access_expires_at == b.access_expires_at
        && a.refresh_token.expose() == b.refresh_token.expose()
}

fuzz_target!(
    init: {
        LazyLock::force(&FIXTURE);
    },
    |data: &[u8]| check(data)
);

fn check(data: &[u8]) {
    let fixture = &*FIXTURE;
    let codec = &fixture.codec;

    if let Ok(text) = std::str::from_utf8(data)
        && let Some(presented) = codec.parse(text)
    {
        assert_eq!(text.len(), 66, "parsed a token of another length");
        assert_eq!(presented.plain.expose(), text);
        assert_eq!(
            URL_SAFE_NO_PAD.encode(presented.id.as_uuid().as_bytes()),
            text[..22],
            "parsed an id with a second spelling"
        );
        assert!(
            !codec.matches(&presented, &fixture.minted.hash),
            "matched another token's hash"
        );
    }

    let sealed = SealedGrant::new(data.to_vec());
    assert!(
        codec.open(&fixture.parent, &sealed).is_none(),
        "opened a blob that was never sealed"
    );

    let ciphertext = fixture
        .cipher
        .encrypt(
            Nonce::from_slice(&NONCE),
            Payload {
                msg: data,
                aad: &[SEAL_VERSION],
            },
        )
        .expect("encryption works");
    let mut blob = vec![SEAL_VERSION];
    blob.extend_from_slice(&NONCE);
    blob.extend_from_slice(&ciphertext);
    if let Some(secrets) = codec.open(&fixture.parent, &SealedGrant::new(blob)) {
        let resealed = codec
            .seal(&fixture.parent, &secrets)
            .expect("sealing works");
        let reopened = codec
            .open(&fixture.parent, &resealed)
            .expect("a grant sealed by the codec opens");
        assert!(
            same(&secrets, &reopened),
            "the grant changed between seal and open"
        );
    }
}
