use chrono::TimeDelta;
use tessera_application::ports::RefreshTokenCodec;
use tessera_application::{AccessToken, GrantSecrets, PlainRefreshToken, SealedGrant};
use tessera_infra_crypto::{HmacRefreshTokenCodec, Pepper};

use crate::at;

fn codec() -> HmacRefreshTokenCodec {
    HmacRefreshTokenCodec::new(Pepper::new([7_u8; 32]).unwrap())
}

fn other_pepper_codec() -> HmacRefreshTokenCodec {
    HmacRefreshTokenCodec::new(Pepper::new([8_u8; 32]).unwrap())
}

fn secrets(codec: &HmacRefreshTokenCodec) -> GrantSecrets {
    GrantSecrets {
        access_token: AccessToken::new("eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln".to_owned()),
        access_expires_at: at(1_700_000_900) + TimeDelta::microseconds(123_456),
        refresh_token: codec.mint().plain,
    }
}

#[test]
fn minted_token_parses_and_matches_its_hash() {
    let codec = codec();
    let minted = codec.mint();
    let presented = codec.parse(minted.plain.expose()).unwrap();
    assert_eq!(presented.id, minted.id);
    assert!(codec.matches(&presented, &minted.hash));
}

#[test]
fn minted_token_is_a_base64url_id_a_dot_and_a_256_bit_secret() {
    let minted = codec().mint();
    let token = minted.plain.expose();
    assert_eq!(token.len(), 66);
    let (id, secret) = token.split_once('.').unwrap();
    assert_eq!((id.len(), secret.len()), (22, 43));
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    );
    assert_eq!(minted.hash.as_bytes().len(), 32);
    assert_eq!(minted.id.as_uuid().get_version_num(), 4);
}

#[test]
fn two_minted_tokens_differ() {
    let codec = codec();
    let (a, b) = (codec.mint(), codec.mint());
    assert_ne!(a.id, b.id);
    assert_ne!(a.plain, b.plain);
    assert_ne!(a.hash, b.hash);
}

#[test]
fn a_tampered_secret_does_not_match() {
    let codec = codec();
    let minted = codec.mint();
    let token = minted.plain.expose();
    // The first secret character carries six full bits: any other letter stays canonical.
    let first = token.as_bytes()[23];
    let replacement = if first == b'A' { 'B' } else { 'A' };
    let tampered = format!("{}{}{}", &token[..23], replacement, &token[24..]);
    let presented = codec.parse(&tampered).unwrap();
    assert_eq!(presented.id, minted.id);
    assert!(!codec.matches(&presented, &minted.hash));
}

#[test]
fn another_tokens_hash_does_not_match() {
    let codec = codec();
    let (a, b) = (codec.mint(), codec.mint());
    let presented = codec.parse(a.plain.expose()).unwrap();
    assert!(!codec.matches(&presented, &b.hash));
}

#[test]
fn a_hash_of_another_length_does_not_match() {
    let codec = codec();
    let minted = codec.mint();
    let presented = codec.parse(minted.plain.expose()).unwrap();
    let truncated =
        tessera_application::RefreshTokenHash::new(minted.hash.as_bytes()[..31].to_vec());
    assert!(!codec.matches(&presented, &truncated));
    assert!(!codec.matches(
        &presented,
        &tessera_application::RefreshTokenHash::new(Vec::new())
    ));
}

#[test]
fn a_wrong_pepper_does_not_match() {
    let minted = codec().mint();
    let other = other_pepper_codec();
    let presented = other.parse(minted.plain.expose()).unwrap();
    assert!(!other.matches(&presented, &minted.hash));
}

#[test]
fn garbage_strings_are_not_parsed() {
    let codec = codec();
    let valid = codec.mint().plain.expose().to_owned();
    let (id, secret) = valid.split_once('.').unwrap();
    let garbage = [
        String::new(),
        ".".to_owned(),
        "refresh".to_owned(),
        " ".repeat(66),
        ".".repeat(66),
        format!("{valid}x"),
        valid[..65].to_owned(),
        format!(" {}", &valid[1..]),
        format!("{}\n", &valid[..65]),
        format!("{id}{secret}x"),
        format!("{id}.{secret}.x"),
        format!("{}.{}{}", &id[..21], &id[21..], secret),
        format!("{id}.+{}", &secret[1..]),
        format!("/{}.{secret}", &id[1..]),
        format!("{}=.{}", &id[..21], secret),
        format!("{id}.{}=", &secret[..42]),
        format!("{}é.{secret}", &id[..20]),
        format!("{id}:{secret}"),
        // 21 + 1 + 44: the right length, the dot in the wrong place.
        format!("{}.{}A", &id[..21], secret),
        // Non-zero trailing bits: a second spelling of the same bytes.
        format!("{}B.{secret}", "A".repeat(21)),
        format!("{id}.{}B", "A".repeat(42)),
        "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl".to_owned(),
        "00000000-0000-0000-0000-000000000000.0000000000000000000000000000000000000000000"
            .to_owned(),
        "\u{0}".repeat(66),
    ];
    for text in &garbage {
        assert!(codec.parse(text).is_none(), "parsed {text:?}");
    }
}

#[test]
fn an_all_zero_token_of_the_right_shape_parses() {
    let token = format!("{}.{}", "A".repeat(22), "A".repeat(43));
    let presented = codec().parse(&token).unwrap();
    assert!(presented.id.as_uuid().is_nil());
}

#[test]
fn a_short_pepper_is_refused_by_name() {
    let error = Pepper::new([1_u8; 31]).unwrap_err();
    assert_eq!(error.setting(), "token_pepper");
    assert!(Pepper::new([1_u8; 32]).is_ok());
}

#[test]
fn a_pepper_reads_from_base64_in_either_alphabet() {
    let standard = "+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/"; // 33 bytes
    let url_safe = standard.replace('+', "-").replace('/', "_");
    assert!(Pepper::from_base64(standard).is_ok());
    assert!(Pepper::from_base64(&url_safe).is_ok());
    assert_eq!(
        Pepper::from_base64("not base64!").unwrap_err().setting(),
        "token_pepper"
    );
    assert_eq!(
        Pepper::from_base64("c2hvcnQ=").unwrap_err().setting(),
        "token_pepper"
    );
}

#[test]
fn the_same_pepper_from_base64_gives_the_same_hashes() {
    let bytes = [9_u8; 32];
    use base64::Engine as _;
    let text = base64::engine::general_purpose::STANDARD.encode(bytes);
    let a = HmacRefreshTokenCodec::new(Pepper::new(bytes).unwrap());
    let b = HmacRefreshTokenCodec::new(Pepper::from_base64(&text).unwrap());
    let minted = a.mint();
    assert!(b.matches(&b.parse(minted.plain.expose()).unwrap(), &minted.hash));
}

#[test]
fn sealed_grant_opens_with_its_parent() {
    let codec = codec();
    let parent = codec.mint().plain;
    let secrets = secrets(&codec);
    let sealed = codec.seal(&parent, &secrets).unwrap();
    assert_eq!(codec.open(&parent, &sealed), Some(secrets));
}

#[test]
fn sealed_grant_keeps_microseconds_and_long_tokens() {
    let codec = codec();
    let parent = codec.mint().plain;
    let secrets = GrantSecrets {
        access_token: AccessToken::new("x".repeat(70_000)),
        access_expires_at: at(-5) + TimeDelta::nanoseconds(999_999_999),
        refresh_token: PlainRefreshToken::new(String::new()),
    };
    let sealed = codec.seal(&parent, &secrets).unwrap();
    assert_eq!(codec.open(&parent, &sealed), Some(secrets));
}

#[test]
fn sealed_grant_does_not_open_with_another_parent() {
    let codec = codec();
    let parent = codec.mint().plain;
    let sealed = codec.seal(&parent, &secrets(&codec)).unwrap();
    assert_eq!(codec.open(&codec.mint().plain, &sealed), None);
}

#[test]
fn sealed_grant_does_not_open_under_another_pepper() {
    let codec = codec();
    let parent = codec.mint().plain;
    let sealed = codec.seal(&parent, &secrets(&codec)).unwrap();
    assert_eq!(other_pepper_codec().open(&parent, &sealed), None);
}

#[test]
fn sealing_twice_gives_different_blobs() {
    let codec = codec();
    let parent = codec.mint().plain;
    let secrets = secrets(&codec);
    let a = codec.seal(&parent, &secrets).unwrap();
    let b = codec.seal(&parent, &secrets).unwrap();
    assert_ne!(a, b);
}

#[test]
fn any_flipped_bit_makes_the_sealed_grant_unopenable() {
    let codec = codec();
    let parent = codec.mint().plain;
    let sealed = codec.seal(&parent, &secrets(&codec)).unwrap();
    for index in 0..sealed.as_bytes().len() {
        for bit in [0x01_u8, 0x80] {
            let mut bytes = sealed.as_bytes().to_vec();
            bytes[index] ^= bit;
            assert_eq!(
                codec.open(&parent, &SealedGrant::new(bytes)),
                None,
                "byte {index}"
            );
        }
    }
}

#[test]
fn a_truncated_or_extended_sealed_grant_does_not_open() {
    let codec = codec();
    let parent = codec.mint().plain;
    let sealed = codec.seal(&parent, &secrets(&codec)).unwrap();
    let bytes = sealed.as_bytes();
    for len in 0..bytes.len() {
        assert_eq!(
            codec.open(&parent, &SealedGrant::new(bytes[..len].to_vec())),
            None
        );
    }
    let mut longer = bytes.to_vec();
    longer.push(0);
    assert_eq!(codec.open(&parent, &SealedGrant::new(longer)), None);
}

#[test]
fn a_sealed_grant_of_an_unknown_version_does_not_open() {
    let codec = codec();
    let parent = codec.mint().plain;
    let sealed = codec.seal(&parent, &secrets(&codec)).unwrap();
    assert_eq!(sealed.as_bytes()[0], 1);
    for version in [0_u8, 2, 255] {
        let mut bytes = sealed.as_bytes().to_vec();
        bytes[0] = version;
        assert_eq!(codec.open(&parent, &SealedGrant::new(bytes)), None);
    }
}

#[test]
fn sealed_grant_contains_no_plaintext() {
    let codec = codec();
    let parent = codec.mint().plain;
    let secrets = secrets(&codec);
    let sealed = codec.seal(&parent, &secrets).unwrap();
    let haystack = String::from_utf8_lossy(sealed.as_bytes());
    assert!(!haystack.contains(secrets.access_token.expose()));
    assert!(!haystack.contains(secrets.refresh_token.expose()));
}
