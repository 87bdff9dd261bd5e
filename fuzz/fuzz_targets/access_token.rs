#![no_main]
//! Arbitrary text as an access token, into the production JWT codec (every algorithm's
//! key known by a fixed kid) and the legacy HS256 verifier.
//!
//! Beyond "never panics": the legacy verifier, whose secret no seed uses, refuses
//! every input; and the codec accepts only a token it would have issued byte for
//! byte, so no mutation of a valid token (base64 trailing bits, JSON whitespace,
//! header spelling) is also valid.

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use tessera_application::ports::{AccessTokenCodec as _, LegacyTokenVerifier as _};
use tessera_fuzz::keys;
use tessera_infra_crypto::{HmacLegacyTokenVerifier, JwtAccessTokenCodec};

static CODEC: LazyLock<JwtAccessTokenCodec> =
    LazyLock::new(|| keys::access_token_codec(keys::signing_keys(true)));
static LEGACY: LazyLock<HmacLegacyTokenVerifier> = LazyLock::new(keys::legacy_verifier);

fuzz_target!(
    init: {
        // Key generation (RSA: seconds) before the clock starts.
        LazyLock::force(&CODEC);
        LazyLock::force(&LEGACY);
    },
    |data: &[u8]| check(data)
);

fn check(data: &[u8]) {
    // A header value that is not UTF-8 never reaches the codec (`to_str` refuses it).
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let now = keys::now();
    assert!(
        LEGACY.verify(token, now).is_err(),
        "the legacy verifier accepted a token no one signed"
    );
    if let Ok(claims) = CODEC.verify(token, now) {
        let reissued = CODEC.issue(&claims).expect("issuing verified claims works");
        assert_eq!(
            reissued.expose(),
            token,
            "the codec accepted a token it would not have issued"
        );
    }
}
