//! Random input where a token is expected: the access-token codec refuses it and the
//! refresh-token codec never takes it for a token it minted — without panicking, for
//! arbitrary bytes, arbitrary strings, and strings shaped like either kind of token.

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use proptest::prelude::*;
use serde_json::{Value, json};
use tessera_application::ports::{AccessTokenCodec, RefreshTokenCodec, SigningKeyGenerator};
use tessera_application::{MintedRefreshToken, SigningAlgorithm, SigningKey};
use tessera_domain::Instant;
use tessera_infra_crypto::{
    AccessTokenSettings, HmacRefreshTokenCodec, JwtAccessTokenCodec, Pepper,
    RandomSigningKeyGenerator,
};

use crate::at;

const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "tessera";
const IAT: i64 = 1_700_000_000;

/// Codecs built once for every case: key generation (RSA above all) is slow.
struct Fixture {
    /// One key of each algorithm, so a forged header can name any of them.
    keys: Vec<SigningKey>,
    access: JwtAccessTokenCodec,
    refresh: HmacRefreshTokenCodec,
    /// A token the refresh codec minted: no random string may match its hash.
    minted: MintedRefreshToken,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let keys: Vec<SigningKey> = [
        SigningAlgorithm::EdDsa,
        SigningAlgorithm::Es256,
        SigningAlgorithm::Rs256,
        SigningAlgorithm::Hs256,
    ]
    .into_iter()
    .map(|algorithm| {
        RandomSigningKeyGenerator
            .generate(algorithm, at(IAT))
            .unwrap()
    })
    .collect();
    let settings = AccessTokenSettings::new(SigningAlgorithm::EdDsa, ISSUER, AUDIENCE).unwrap();
    let access = JwtAccessTokenCodec::new(keys.clone(), settings).unwrap();
    let refresh = HmacRefreshTokenCodec::new(Pepper::new([7_u8; 32]).unwrap());
    let minted = refresh.mint();
    Fixture {
        keys,
        access,
        refresh,
        minted,
    }
});

/// Inside the lifetime of the claims below, so only the signature can be wrong.
fn now() -> Instant {
    at(IAT + 60)
}

/// Claims the codec would accept, were they signed.
fn valid_claims() -> Value {
    json!({
        "iss": ISSUER,
        "sub": "01900000-0000-7000-8000-000000000001",
        "aud": AUDIENCE,
        "exp": IAT + 900,
        "nbf": IAT,
        "iat": IAT,
        "jti": "12345678-9abc-4def-8123-456789abcdef",
        "client_id": "tessera",
        "sid": "01900000-0000-7000-8000-000000000002",
        "roles": ["user"],
    })
}

fn jose_algorithm(algorithm: SigningAlgorithm) -> Algorithm {
    match algorithm {
        SigningAlgorithm::EdDsa => Algorithm::EdDSA,
        SigningAlgorithm::Es256 => Algorithm::ES256,
        SigningAlgorithm::Rs256 => Algorithm::RS256,
        SigningAlgorithm::Hs256 => Algorithm::HS256,
    }
}

/// The header the codec writes for `key`, encoded.
fn header_of(key: &SigningKey) -> String {
    let header = json!({ "alg": jose_algorithm(key.algorithm), "typ": "at+jwt", "kid": key.kid });
    b64(header.to_string().as_bytes())
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `<22 base64url>.<43 base64url>`: the only shape a refresh token has.
fn has_refresh_shape(text: &str) -> bool {
    text.len() == 66
        && text.char_indices().all(|(index, c)| {
            if index == 22 {
                c == '.'
            } else {
                c.is_ascii_alphanumeric() || c == '-' || c == '_'
            }
        })
}

/// The value of one base64url character.
fn sextet(c: char) -> u8 {
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    u8::try_from(ALPHABET.find(c).unwrap()).unwrap()
}

/// Neither codec accepts `text`, and neither panics: the access codec refuses it, and
/// the refresh codec recognises at most the shape and never matches a real hash.
fn assert_refused(text: &str) -> Result<(), TestCaseError> {
    let fixture = &*FIXTURE;
    prop_assert!(
        fixture.access.verify(text, now()).is_err(),
        "accepted as an access token: {text:?}"
    );
    if let Some(presented) = fixture.refresh.parse(text) {
        prop_assert!(has_refresh_shape(text), "parsed: {text:?}");
        prop_assert!(
            !fixture.refresh.matches(&presented, &fixture.minted.hash),
            "matched a minted token: {text:?}"
        );
    }
    Ok(())
}

/// A random compact JWS whose header is well-formed and names one of the real keys, so
/// verification gets as far as the signature check; the signature has the length of
/// an HS256 (32), EdDSA or ES256 (64) or RS256 (256) one, or any other.
fn forged_jws() -> impl Strategy<Value = String> {
    (
        0..4_usize,
        any::<bool>(),
        prop::collection::vec(any::<u8>(), 0..300),
        prop_oneof![Just(32_usize), Just(64), Just(256), 0..600_usize]
            .prop_flat_map(|len| prop::collection::vec(any::<u8>(), len)),
    )
        .prop_map(|(key, valid_payload, payload, signature)| {
            let key = &FIXTURE.keys[key];
            let payload = if valid_payload {
                serde_json::to_vec(&valid_claims()).unwrap()
            } else {
                payload
            };
            format!("{}.{}.{}", header_of(key), b64(&payload), b64(&signature))
        })
}

/// The control: what `forged_jws` builds, signed for real, verifies; so its tokens are
/// refused for their signatures alone.
#[test]
fn the_same_header_and_claims_signed_for_real_verify() {
    let payload = b64(&serde_json::to_vec(&valid_claims()).unwrap());
    for key in &FIXTURE.keys {
        let private = key.private_key.expose();
        let encoding_key = match key.algorithm {
            SigningAlgorithm::EdDsa => EncodingKey::from_ed_der(private),
            SigningAlgorithm::Es256 => EncodingKey::from_ec_der(private),
            SigningAlgorithm::Rs256 => EncodingKey::from_rsa_der(private),
            SigningAlgorithm::Hs256 => EncodingKey::from_secret(private),
        };
        let input = format!("{}.{payload}", header_of(key));
        let signature = jsonwebtoken::crypto::sign(
            input.as_bytes(),
            &encoding_key,
            jose_algorithm(key.algorithm),
        )
        .unwrap();
        let token = format!("{input}.{signature}");
        assert!(
            FIXTURE.access.verify(&token, now()).is_ok(),
            "{:?}",
            key.algorithm
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_are_no_token(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        assert_refused(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn arbitrary_strings_are_no_token(text in any::<String>()) {
        assert_refused(&text)?;
    }

    #[test]
    fn strings_of_three_base64url_segments_are_no_access_token(
        text in "[A-Za-z0-9_-]{0,300}\\.[A-Za-z0-9_-]{0,600}\\.[A-Za-z0-9_-]{0,400}",
    ) {
        assert_refused(&text)?;
        prop_assert!(FIXTURE.refresh.parse(&text).is_none());
    }

    #[test]
    fn a_real_header_over_random_claims_and_signature_is_refused(token in forged_jws()) {
        assert_refused(&token)?;
    }

    #[test]
    fn strings_of_the_refresh_token_shape_parse_only_in_canonical_form_and_never_match(
        text in "[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}",
    ) {
        assert_refused(&text)?;
        // 22 characters carry 132 bits for a 16-byte id, 43 carry 258 for 32 bytes:
        // the spare low bits must be zero, so that each token has one spelling.
        let (id, secret) = text.split_once('.').unwrap();
        let canonical = sextet(id.chars().last().unwrap()) & 0b1111 == 0
            && sextet(secret.chars().last().unwrap()) & 0b11 == 0;
        let presented = FIXTURE.refresh.parse(&text);
        prop_assert_eq!(presented.is_some(), canonical, "{}", text);
        if let Some(presented) = presented {
            prop_assert_eq!(b64(presented.id.as_uuid().as_bytes()), id);
        }
    }

    #[test]
    fn a_well_formed_guess_of_a_refresh_token_never_matches(
        id in prop::array::uniform16(any::<u8>()),
        secret in prop::array::uniform32(any::<u8>()),
    ) {
        let text = format!("{}.{}", b64(&id), b64(&secret));
        let presented = FIXTURE.refresh.parse(&text);
        prop_assert!(presented.is_some(), "{}", text);
        assert_refused(&text)?;
    }
}
