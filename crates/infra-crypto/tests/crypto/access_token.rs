use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::TimeDelta;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tessera_application::ports::{AccessTokenCodec, RefreshTokenCodec, SigningKeyGenerator};
use tessera_application::{AccessClaims, AccessDenial, SigningAlgorithm, SigningKey};
use tessera_domain::{Role, SessionId, UserId};
use tessera_infra_crypto::{
    AccessTokenSettings, HmacRefreshTokenCodec, JwtAccessTokenCodec, Pepper,
    RandomSigningKeyGenerator,
};
use uuid::Uuid;

use crate::at;

const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "tessera";
const IAT: i64 = 1_700_000_000;
const EXP: i64 = IAT + 900;

fn key(algorithm: SigningAlgorithm) -> SigningKey {
    RandomSigningKeyGenerator
        .generate(algorithm, at(IAT))
        .unwrap()
}

fn settings(algorithm: SigningAlgorithm) -> AccessTokenSettings {
    AccessTokenSettings::new(algorithm, ISSUER, AUDIENCE).unwrap()
}

fn codec(keys: Vec<SigningKey>) -> JwtAccessTokenCodec {
    let algorithm = keys[0].algorithm;
    JwtAccessTokenCodec::new(keys, settings(algorithm)).unwrap()
}

fn claims() -> AccessClaims {
    AccessClaims {
        user_id: UserId::from_uuid(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001)),
        session_id: SessionId::from_uuid(Uuid::from_u128(
            0x0190_0000_0000_7000_8000_0000_0000_0002,
        )),
        token_id: Uuid::from_u128(0x1234_5678_9abc_4def_8123_4567_89ab_cdef),
        issued_at: at(IAT),
        expires_at: at(EXP),
        roles: vec![Role::user(), Role::parse("admin").unwrap()],
    }
}

/// The JSON payload our codec would write for `claims()`.
fn payload() -> Value {
    let claims = claims();
    json!({
        "iss": ISSUER,
        "sub": claims.user_id.to_string(),
        "aud": AUDIENCE,
        "exp": EXP,
        "nbf": IAT,
        "iat": IAT,
        "jti": claims.token_id.to_string(),
        "client_id": "tessera",
        "sid": claims.session_id.to_string(),
        "roles": ["user", "admin"],
    })
}

fn encoding_key(key: &SigningKey) -> EncodingKey {
    match key.algorithm {
        SigningAlgorithm::EdDsa => EncodingKey::from_ed_der(key.private_key.expose()),
        SigningAlgorithm::Es256 => EncodingKey::from_ec_der(key.private_key.expose()),
        SigningAlgorithm::Rs256 => EncodingKey::from_rsa_der(key.private_key.expose()),
        SigningAlgorithm::Hs256 => EncodingKey::from_secret(key.private_key.expose()),
    }
}

fn header(key: &SigningKey) -> Header {
    let mut header = Header::new(match key.algorithm {
        SigningAlgorithm::EdDsa => Algorithm::EdDSA,
        SigningAlgorithm::Es256 => Algorithm::ES256,
        SigningAlgorithm::Rs256 => Algorithm::RS256,
        SigningAlgorithm::Hs256 => Algorithm::HS256,
    });
    header.typ = Some("at+jwt".to_owned());
    header.kid = Some(key.kid.clone());
    header
}

/// A token signed with `key`'s real private material, with a chosen header and payload.
fn forge(key: &SigningKey, edit: impl FnOnce(&mut Header), payload: &Value) -> String {
    let mut header = header(key);
    edit(&mut header);
    jsonwebtoken::encode(&header, payload, &encoding_key(key)).unwrap()
}

fn b64(json: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(json).unwrap())
}

fn at_now() -> tessera_domain::Instant {
    at(IAT + 60)
}

#[test]
fn issued_token_verifies_back_to_its_claims() {
    let codec = codec(vec![key(SigningAlgorithm::EdDsa)]);
    let token = codec.issue(&claims()).unwrap();
    assert_eq!(codec.verify(token.expose(), at_now()), Ok(claims()));
}

#[test]
fn sub_second_times_are_written_as_whole_seconds() {
    let codec = codec(vec![key(SigningAlgorithm::EdDsa)]);
    let mut precise = claims();
    precise.issued_at += TimeDelta::milliseconds(999);
    precise.expires_at += TimeDelta::milliseconds(999);
    let token = codec.issue(&precise).unwrap();
    assert_eq!(codec.verify(token.expose(), at_now()), Ok(claims()));
}

#[test]
fn header_has_typ_at_jwt_kid_and_the_keys_alg() {
    let key = key(SigningAlgorithm::EdDsa);
    let codec = codec(vec![key.clone()]);
    let token = codec.issue(&claims()).unwrap();
    let header = jsonwebtoken::decode_header(token.expose()).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.kid.as_deref(), Some(key.kid.as_str()));
    assert_eq!(header.alg, Algorithm::EdDSA);
    assert_eq!(codec.signing_kid(), key.kid);
}

#[test]
fn payload_has_the_rfc_9068_claims() {
    let codec = codec(vec![key(SigningAlgorithm::EdDsa)]);
    let token = codec.issue(&claims()).unwrap();
    let body: Value = jsonwebtoken::dangerous::insecure_decode_claims(token.expose()).unwrap();
    assert_eq!(body, payload());
}

#[test]
fn a_token_is_expired_at_exactly_exp_plus_leeway() {
    let codec = codec(vec![key(SigningAlgorithm::EdDsa)]);
    let token = codec.issue(&claims()).unwrap();
    let boundary = at(EXP) + AccessTokenSettings::DEFAULT_LEEWAY;
    assert_eq!(
        codec.verify(token.expose(), boundary),
        Err(AccessDenial::Expired)
    );
    assert_eq!(
        codec.verify(token.expose(), boundary + TimeDelta::days(1)),
        Err(AccessDenial::Expired)
    );
}

#[test]
fn a_token_just_inside_the_leeway_after_exp_is_accepted() {
    let codec = codec(vec![key(SigningAlgorithm::EdDsa)]);
    let token = codec.issue(&claims()).unwrap();
    let boundary = at(EXP) + AccessTokenSettings::DEFAULT_LEEWAY;
    assert!(
        codec
            .verify(token.expose(), boundary - TimeDelta::microseconds(1))
            .is_ok()
    );
    assert!(codec.verify(token.expose(), at(EXP)).is_ok());
}

#[test]
fn a_configured_leeway_of_zero_expires_at_exp() {
    let key = key(SigningAlgorithm::EdDsa);
    let settings = settings(SigningAlgorithm::EdDsa)
        .with_leeway(TimeDelta::zero())
        .unwrap();
    let codec = JwtAccessTokenCodec::new(vec![key], settings).unwrap();
    let token = codec.issue(&claims()).unwrap();
    assert!(codec.verify(token.expose(), at(EXP - 1)).is_ok());
    assert_eq!(
        codec.verify(token.expose(), at(EXP)),
        Err(AccessDenial::Expired)
    );
}

#[test]
fn a_token_before_nbf_beyond_the_leeway_is_not_yet_valid() {
    let codec = codec(vec![key(SigningAlgorithm::EdDsa)]);
    let token = codec.issue(&claims()).unwrap();
    let earliest = at(IAT) - AccessTokenSettings::DEFAULT_LEEWAY;
    assert_eq!(
        codec.verify(token.expose(), earliest - TimeDelta::microseconds(1)),
        Err(AccessDenial::Expired)
    );
    assert!(codec.verify(token.expose(), earliest).is_ok());
}

#[test]
fn a_token_without_nbf_is_not_valid_before_its_iat() {
    let key = key(SigningAlgorithm::EdDsa);
    let codec = codec(vec![key.clone()]);
    let mut body = payload();
    body.as_object_mut().unwrap().remove("nbf");
    let token = forge(&key, |_| {}, &body);
    assert!(codec.verify(&token, at_now()).is_ok());
    assert_eq!(
        codec.verify(&token, at(IAT - 31)),
        Err(AccessDenial::Expired)
    );
}

#[test]
fn a_wrong_issuer_is_invalid() {
    let key = key(SigningAlgorithm::EdDsa);
    let token = codec(vec![key.clone()]).issue(&claims()).unwrap();
    let other = AccessTokenSettings::new(SigningAlgorithm::EdDsa, "https://evil.example", AUDIENCE)
        .unwrap();
    let codec = JwtAccessTokenCodec::new(vec![key], other).unwrap();
    assert_eq!(
        codec.verify(token.expose(), at_now()),
        Err(AccessDenial::Invalid)
    );
}

#[test]
fn a_wrong_audience_is_invalid() {
    let key = key(SigningAlgorithm::EdDsa);
    let token = codec(vec![key.clone()]).issue(&claims()).unwrap();
    let other = AccessTokenSettings::new(SigningAlgorithm::EdDsa, ISSUER, "billing").unwrap();
    let codec = JwtAccessTokenCodec::new(vec![key], other).unwrap();
    assert_eq!(
        codec.verify(token.expose(), at_now()),
        Err(AccessDenial::Invalid)
    );
}

#[test]
fn missing_iss_aud_sub_sid_or_exp_is_invalid() {
    let key = key(SigningAlgorithm::EdDsa);
    let codec = codec(vec![key.clone()]);
    for claim in ["iss", "aud", "sub", "sid", "exp", "iat", "jti", "roles"] {
        let mut body = payload();
        body.as_object_mut().unwrap().remove(claim);
        let token = forge(&key, |_| {}, &body);
        assert_eq!(
            codec.verify(&token, at_now()),
            Err(AccessDenial::Invalid),
            "{claim}"
        );
    }
}

#[test]
fn an_audience_array_containing_ours_is_accepted() {
    let key = key(SigningAlgorithm::EdDsa);
    let codec = codec(vec![key.clone()]);
    let mut body = payload();
    body["aud"] = json!(["billing", AUDIENCE]);
    assert!(codec.verify(&forge(&key, |_| {}, &body), at_now()).is_ok());
    body["aud"] = json!(["billing"]);
    assert_eq!(
        codec.verify(&forge(&key, |_| {}, &body), at_now()),
        Err(AccessDenial::Invalid)
    );
}

#[test]
fn a_wrong_or_missing_typ_is_invalid() {
    let key = key(SigningAlgorithm::EdDsa);
    let codec = codec(vec![key.clone()]);
    for typ in [
        Some("JWT"),
        Some("jwt"),
        Some("at+jwt "),
        Some("application/jwt"),
        None,
    ] {
        let token = forge(
            &key,
            |header| header.typ = typ.map(str::to_owned),
            &payload(),
        );
        assert_eq!(
            codec.verify(&token, at_now()),
            Err(AccessDenial::Invalid),
            "{typ:?}"
        );
    }
}

#[test]
fn the_full_media_type_and_other_cases_of_typ_are_accepted() {
    let key = key(SigningAlgorithm::EdDsa);
    let codec = codec(vec![key.clone()]);
    for typ in ["application/at+jwt", "AT+JWT"] {
        let token = forge(&key, |header| header.typ = Some(typ.to_owned()), &payload());
        assert_eq!(codec.verify(&token, at_now()), Ok(claims()), "{typ}");
    }
}

#[test]
fn an_unknown_or_missing_kid_is_invalid() {
    let known = key(SigningAlgorithm::EdDsa);
    let stranger = key(SigningAlgorithm::EdDsa);
    let codec = codec(vec![known.clone()]);
    let foreign = forge(&stranger, |_| {}, &payload());
    assert_eq!(codec.verify(&foreign, at_now()), Err(AccessDenial::Invalid));
    // A stranger's signature under a known kid fails the signature check.
    let impostor = forge(
        &stranger,
        |header| header.kid = Some(known.kid.clone()),
        &payload(),
    );
    assert_eq!(
        codec.verify(&impostor, at_now()),
        Err(AccessDenial::Invalid)
    );
    let anonymous = forge(&known, |header| header.kid = None, &payload());
    assert_eq!(
        codec.verify(&anonymous, at_now()),
        Err(AccessDenial::Invalid)
    );
}

#[test]
fn an_alg_none_token_is_invalid() {
    let key = key(SigningAlgorithm::EdDsa);
    let codec = codec(vec![key.clone()]);
    for alg in ["none", "None", "NONE"] {
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": key.kid});
        for signature in ["", "c2ln"] {
            let token = format!("{}.{}.{signature}", b64(&header), b64(&payload()));
            assert_eq!(
                codec.verify(&token, at_now()),
                Err(AccessDenial::Invalid),
                "{alg}"
            );
        }
    }
}

#[test]
fn an_hs256_token_keyed_with_the_ed25519_public_key_is_invalid() {
    let key = key(SigningAlgorithm::EdDsa);
    let codec = codec(vec![key.clone()]);
    let mut header = header(&key);
    header.alg = Algorithm::HS256;
    for secret in [
        key.public_key.clone(),
        URL_SAFE_NO_PAD.encode(&key.public_key).into_bytes(),
    ] {
        let token =
            jsonwebtoken::encode(&header, &payload(), &EncodingKey::from_secret(&secret)).unwrap();
        assert_eq!(codec.verify(&token, at_now()), Err(AccessDenial::Invalid));
    }
}

#[test]
fn a_token_whose_alg_differs_from_its_keys_is_invalid() {
    let ed = key(SigningAlgorithm::EdDsa);
    let hs = key(SigningAlgorithm::Hs256);
    let codec = codec(vec![ed.clone(), hs.clone()]);
    // Signed correctly with the HS256 secret, but claiming the EdDSA key's kid.
    let token = forge(&hs, |header| header.kid = Some(ed.kid.clone()), &payload());
    assert_eq!(codec.verify(&token, at_now()), Err(AccessDenial::Invalid));
    assert!(
        codec
            .verify(&forge(&hs, |_| {}, &payload()), at_now())
            .is_ok()
    );
}

#[test]
fn a_tampered_payload_is_invalid() {
    let codec = codec(vec![key(SigningAlgorithm::EdDsa)]);
    let token = codec.issue(&claims()).unwrap();
    let parts: Vec<&str> = token.expose().split('.').collect();
    let mut body = payload();
    body["roles"] = json!(["user", "admin", "superuser"]);
    let tampered = format!("{}.{}.{}", parts[0], b64(&body), parts[2]);
    assert_eq!(
        codec.verify(&tampered, at_now()),
        Err(AccessDenial::Invalid)
    );
    let mut later = payload();
    later["exp"] = json!(EXP + 86_400);
    let extended = format!("{}.{}.{}", parts[0], b64(&later), parts[2]);
    assert_eq!(
        codec.verify(&extended, at_now()),
        Err(AccessDenial::Invalid)
    );
}

#[test]
fn a_tampered_signature_is_invalid() {
    let codec = codec(vec![key(SigningAlgorithm::EdDsa)]);
    let token = codec.issue(&claims()).unwrap().expose().to_owned();
    let (message, signature) = token.rsplit_once('.').unwrap();
    let mut raw = URL_SAFE_NO_PAD.decode(signature).unwrap();
    raw[10] ^= 1;
    let flipped = format!("{message}.{}", URL_SAFE_NO_PAD.encode(&raw));
    assert_eq!(codec.verify(&flipped, at_now()), Err(AccessDenial::Invalid));
    assert_eq!(
        codec.verify(&format!("{message}."), at_now()),
        Err(AccessDenial::Invalid)
    );
}

#[test]
fn claims_that_are_not_our_types_are_invalid() {
    let key = key(SigningAlgorithm::EdDsa);
    let codec = codec(vec![key.clone()]);
    let edits: [(&str, Value); 8] = [
        ("sub", json!("alice@example.com")),
        ("sid", json!("not-a-session")),
        ("jti", json!(42)),
        ("roles", json!(["Admin!"])),
        ("roles", json!("admin")),
        ("exp", json!("tomorrow")),
        ("exp", json!(i64::MAX)),
        ("iat", json!(1.5)),
    ];
    for (claim, value) in edits {
        let mut body = payload();
        body[claim] = value.clone();
        let token = forge(&key, |_| {}, &body);
        assert_eq!(
            codec.verify(&token, at_now()),
            Err(AccessDenial::Invalid),
            "{claim}: {value}"
        );
    }
}

#[test]
fn a_critical_header_parameter_is_invalid() {
    let key = key(SigningAlgorithm::EdDsa);
    let codec = codec(vec![key.clone()]);
    let token = forge(
        &key,
        |header| header.crit = Some(vec!["exp".to_owned()]),
        &payload(),
    );
    assert_eq!(codec.verify(&token, at_now()), Err(AccessDenial::Invalid));
}

#[test]
fn a_refresh_token_is_not_an_access_token() {
    let codec = codec(vec![key(SigningAlgorithm::EdDsa)]);
    let refresh = HmacRefreshTokenCodec::new(Pepper::new([3_u8; 32]).unwrap()).mint();
    assert_eq!(
        codec.verify(refresh.plain.expose(), at_now()),
        Err(AccessDenial::Invalid)
    );
}

#[test]
fn random_strings_are_invalid() {
    let codec = codec(vec![key(SigningAlgorithm::EdDsa)]);
    let junk = [
        String::new(),
        ".".to_owned(),
        "..".to_owned(),
        "a.b.c".to_owned(),
        "Bearer x".to_owned(),
        "\u{0}\u{1}\u{fffd}".to_owned(),
        URL_SAFE_NO_PAD.encode([0xff_u8; 64]),
        format!("{}.{}.{}", b64(&json!([])), b64(&json!({})), "AA"),
        format!("{}.{}.", b64(&json!({"alg": "EdDSA"})), "!!!"),
        "e".repeat(100_000),
        format!(
            "{}.{}.{}",
            "e".repeat(5000),
            "e".repeat(5000),
            "e".repeat(5000)
        ),
    ];
    for text in &junk {
        assert_eq!(codec.verify(text, at_now()), Err(AccessDenial::Invalid));
    }
}

#[test]
fn a_token_of_an_older_key_still_verifies_while_that_key_is_listed() {
    let old = key(SigningAlgorithm::EdDsa);
    let token = codec(vec![old.clone()]).issue(&claims()).unwrap();
    let new = key(SigningAlgorithm::EdDsa);
    let rotated = codec(vec![new.clone(), old]);
    assert_eq!(rotated.signing_kid(), new.kid);
    assert_eq!(rotated.verify(token.expose(), at_now()), Ok(claims()));
    let retired = codec(vec![new]);
    assert_eq!(
        retired.verify(token.expose(), at_now()),
        Err(AccessDenial::Invalid)
    );
}

#[test]
fn reload_lets_a_running_codec_verify_a_new_key() {
    let old = key(SigningAlgorithm::EdDsa);
    let new = key(SigningAlgorithm::EdDsa);
    let running = codec(vec![old.clone()]);
    let token = codec(vec![new.clone(), old.clone()])
        .issue(&claims())
        .unwrap();
    assert_eq!(
        running.verify(token.expose(), at_now()),
        Err(AccessDenial::Invalid)
    );
    running.reload(vec![new.clone(), old]).unwrap();
    assert_eq!(running.verify(token.expose(), at_now()), Ok(claims()));
    assert_eq!(running.signing_kid(), new.kid);
    assert!(running.reload(Vec::new()).is_err());
    assert_eq!(
        running.signing_kid(),
        new.kid,
        "a failed reload keeps the old set"
    );
}

/// The codec remembers tokens it has verified; what it remembers never outlives the
/// clock checks or the key that signed them.
#[test]
fn a_remembered_token_still_expires_and_leaves_with_its_key() {
    let old = key(SigningAlgorithm::EdDsa);
    let new = key(SigningAlgorithm::EdDsa);
    let running = codec(vec![old.clone()]);
    let token = running.issue(&claims()).unwrap();
    for _ in 0..3 {
        assert_eq!(running.verify(token.expose(), at_now()), Ok(claims()));
    }
    assert_eq!(
        running.verify(token.expose(), at(EXP + 30)),
        Err(AccessDenial::Expired),
        "past exp + leeway, remembered or not"
    );
    assert_eq!(
        running.verify(token.expose(), at(IAT - 31)),
        Err(AccessDenial::Expired),
        "before nbf - leeway, remembered or not"
    );
    // A reload with the same keys keeps them; one without the old key drops its tokens.
    running.reload(vec![old.clone()]).unwrap();
    assert_eq!(running.verify(token.expose(), at_now()), Ok(claims()));
    running.reload(vec![new]).unwrap();
    assert_eq!(
        running.verify(token.expose(), at_now()),
        Err(AccessDenial::Invalid)
    );
    // One altered byte of a remembered token is another token.
    let mut altered = token.expose().to_owned();
    altered.push('A');
    let fresh = codec(vec![old]);
    assert_eq!(fresh.verify(token.expose(), at_now()), Ok(claims()));
    assert_eq!(fresh.verify(&altered, at_now()), Err(AccessDenial::Invalid));
}

#[test]
fn hs256_mode_issues_and_verifies() {
    let key = key(SigningAlgorithm::Hs256);
    let codec = codec(vec![key.clone()]);
    let token = codec.issue(&claims()).unwrap();
    let header = jsonwebtoken::decode_header(token.expose()).unwrap();
    assert_eq!(header.alg, Algorithm::HS256);
    assert_eq!(header.kid.as_deref(), Some(key.kid.as_str()));
    assert_eq!(codec.verify(token.expose(), at_now()), Ok(claims()));
    let stranger = codec_of(SigningAlgorithm::Hs256);
    assert_eq!(
        stranger.verify(token.expose(), at_now()),
        Err(AccessDenial::Invalid)
    );
}

fn codec_of(algorithm: SigningAlgorithm) -> JwtAccessTokenCodec {
    codec(vec![key(algorithm)])
}

#[test]
fn the_newest_key_of_the_configured_algorithm_signs() {
    let hs = key(SigningAlgorithm::Hs256);
    let ed_new = key(SigningAlgorithm::EdDsa);
    let ed_old = key(SigningAlgorithm::EdDsa);
    let keys = vec![hs.clone(), ed_new.clone(), ed_old];
    let codec = JwtAccessTokenCodec::new(keys, settings(SigningAlgorithm::EdDsa)).unwrap();
    assert_eq!(codec.signing_kid(), ed_new.kid);
    let hs_token = forge(&hs, |_| {}, &payload());
    assert_eq!(codec.verify(&hs_token, at_now()), Ok(claims()));
}

#[test]
fn without_a_key_of_the_configured_algorithm_construction_fails() {
    let keys = vec![key(SigningAlgorithm::Hs256)];
    assert!(JwtAccessTokenCodec::new(keys, settings(SigningAlgorithm::EdDsa)).is_err());
    assert!(JwtAccessTokenCodec::new(Vec::new(), settings(SigningAlgorithm::EdDsa)).is_err());
}

#[test]
fn a_broken_signing_key_fails_construction() {
    let mut mismatched = key(SigningAlgorithm::EdDsa);
    mismatched.public_key = key(SigningAlgorithm::EdDsa).public_key;
    assert!(JwtAccessTokenCodec::new(vec![mismatched], settings(SigningAlgorithm::EdDsa)).is_err());
    let mut garbage = key(SigningAlgorithm::EdDsa);
    garbage.private_key = tessera_application::SigningKeyMaterial::new(vec![1, 2, 3]);
    assert!(JwtAccessTokenCodec::new(vec![garbage], settings(SigningAlgorithm::EdDsa)).is_err());
    let mut short = key(SigningAlgorithm::Hs256);
    short.private_key = tessera_application::SigningKeyMaterial::new(vec![7; 16]);
    assert!(JwtAccessTokenCodec::new(vec![short], settings(SigningAlgorithm::Hs256)).is_err());
}

#[test]
fn a_broken_older_key_is_skipped_and_its_tokens_refused_without_panic() {
    let signer = key(SigningAlgorithm::EdDsa);
    let mut broken = key(SigningAlgorithm::EdDsa);
    let token = forge(&broken, |_| {}, &payload());
    for public_key in [vec![], vec![9; 16], vec![9; 44]] {
        broken.public_key = public_key;
        let codec = codec(vec![signer.clone(), broken.clone()]);
        assert_eq!(codec.verify(&token, at_now()), Err(AccessDenial::Invalid));
    }
}

#[test]
fn settings_refuse_bad_values_by_name() {
    let empty_issuer = AccessTokenSettings::new(SigningAlgorithm::EdDsa, " ", AUDIENCE);
    assert_eq!(empty_issuer.unwrap_err().setting(), "issuer");
    let empty_audience = AccessTokenSettings::new(SigningAlgorithm::EdDsa, ISSUER, "");
    assert_eq!(empty_audience.unwrap_err().setting(), "audience");
    for leeway in [TimeDelta::seconds(-1), TimeDelta::minutes(6)] {
        let error = settings(SigningAlgorithm::EdDsa)
            .with_leeway(leeway)
            .unwrap_err();
        assert_eq!(error.setting(), "clock_leeway");
    }
    assert_eq!(
        settings(SigningAlgorithm::EdDsa).leeway(),
        TimeDelta::seconds(30)
    );
}

// ES256 and RS256.

const ASYMMETRIC_NON_ED: [SigningAlgorithm; 2] = [SigningAlgorithm::Es256, SigningAlgorithm::Rs256];

#[test]
fn es256_and_rs256_issue_and_verify_with_the_keys_alg_in_the_header() {
    for algorithm in ASYMMETRIC_NON_ED {
        let key = key(algorithm);
        let codec = codec(vec![key.clone()]);
        let token = codec.issue(&claims()).unwrap();
        assert_eq!(codec.verify(token.expose(), at_now()), Ok(claims()));
        let header = jsonwebtoken::decode_header(token.expose()).unwrap();
        let expected = match algorithm {
            SigningAlgorithm::Es256 => Algorithm::ES256,
            _ => Algorithm::RS256,
        };
        assert_eq!(header.alg, expected);
        assert_eq!(header.kid.as_deref(), Some(key.kid.as_str()));
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    }
}

#[test]
fn tampered_es256_and_rs256_tokens_are_invalid() {
    for algorithm in ASYMMETRIC_NON_ED {
        let codec = codec(vec![key(algorithm)]);
        let token = codec.issue(&claims()).unwrap().expose().to_owned();
        let parts: Vec<&str> = token.split('.').collect();
        let mut body = payload();
        body["roles"] = json!(["user", "admin", "superuser"]);
        let tampered = format!("{}.{}.{}", parts[0], b64(&body), parts[2]);
        assert_eq!(
            codec.verify(&tampered, at_now()),
            Err(AccessDenial::Invalid),
            "{algorithm:?} payload"
        );
        let mut raw = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        raw[10] ^= 1;
        let flipped = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(&raw));
        assert_eq!(
            codec.verify(&flipped, at_now()),
            Err(AccessDenial::Invalid),
            "{algorithm:?} signature"
        );
    }
}

#[test]
fn an_hs256_token_keyed_with_an_rs256_or_es256_public_key_is_invalid() {
    for algorithm in ASYMMETRIC_NON_ED {
        let key = key(algorithm);
        let codec = codec(vec![key.clone()]);
        let mut header = header(&key);
        header.alg = Algorithm::HS256;
        for secret in [
            key.public_key.clone(),
            URL_SAFE_NO_PAD.encode(&key.public_key).into_bytes(),
        ] {
            let token =
                jsonwebtoken::encode(&header, &payload(), &EncodingKey::from_secret(&secret))
                    .unwrap();
            assert_eq!(
                codec.verify(&token, at_now()),
                Err(AccessDenial::Invalid),
                "{algorithm:?}"
            );
        }
    }
}

#[test]
fn a_token_of_one_asymmetric_key_claiming_anothers_kid_is_invalid() {
    let es = key(SigningAlgorithm::Es256);
    let rs = key(SigningAlgorithm::Rs256);
    let codec = codec(vec![es.clone(), rs.clone()]);
    let token = forge(&es, |header| header.kid = Some(rs.kid.clone()), &payload());
    assert_eq!(codec.verify(&token, at_now()), Err(AccessDenial::Invalid));
    // The same token under its own kid verifies.
    assert!(
        codec
            .verify(&forge(&es, |_| {}, &payload()), at_now())
            .is_ok()
    );
    // The other key's older token also verifies while its key is listed.
    assert!(
        codec
            .verify(&forge(&rs, |_| {}, &payload()), at_now())
            .is_ok()
    );
}

#[test]
fn an_es256_or_rs256_key_whose_halves_do_not_match_fails_construction() {
    for algorithm in ASYMMETRIC_NON_ED {
        let mut broken = key(algorithm);
        broken.public_key = key(algorithm).public_key;
        let error = JwtAccessTokenCodec::new(vec![broken], settings(algorithm)).unwrap_err();
        assert!(
            format!("{error:?}").contains("does not match"),
            "{algorithm:?}: {error}"
        );
        let mut garbage = key(algorithm);
        garbage.private_key = tessera_application::SigningKeyMaterial::new(vec![1; 64]);
        assert!(JwtAccessTokenCodec::new(vec![garbage], settings(algorithm)).is_err());
    }
}
