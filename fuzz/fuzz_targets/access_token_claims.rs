#![no_main]
//! Access tokens with a fuzzed header and payload, signed with the real keys, so the
//! codec's checks after the signature are reached: `typ`, `crit`, kid and algorithm
//! pinning, `iss`, `aud`, the clock (`exp`, `nbf`, `iat` with leeway, near the ends of
//! time) and the claims' own types.
//!
//! Whenever the codec accepts, the token must say what an access token of ours says:
//! the right `typ`, kid and algorithm, our issuer and audience, a window that holds
//! `now`, and claims equal to what was signed.

use std::sync::LazyLock;

use arbitrary::Arbitrary;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};
use tessera_application::SigningKey;
use tessera_application::ports::AccessTokenCodec as _;
use tessera_fuzz::keys;
use tessera_infra_crypto::JwtAccessTokenCodec;
use uuid::Uuid;

const SUB: &str = "01900000-0000-7000-8000-000000000001";
const SID: &str = "01900000-0000-7000-8000-000000000002";
const JTI: &str = "12345678-9abc-4def-8123-456789abcdef";

struct Fixture {
    keys: Vec<SigningKey>,
    codec: JwtAccessTokenCodec,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let keys = keys::signing_keys(true);
    Fixture {
        codec: keys::access_token_codec(keys.clone()),
        keys,
    }
});

/// A header member or claim: the value a real token carries, or something else.
#[derive(Arbitrary, Debug)]
enum Field<'a> {
    Valid,
    Absent,
    Null,
    Bool(bool),
    Int(i64),
    /// Seconds from the fixed `now` (for the time claims).
    Shift(i32),
    Float(f64),
    Text(&'a str),
    List(Vec<&'a str>),
}

#[derive(Arbitrary, Debug)]
enum Signer {
    Hs256,
    Ed25519,
    P256,
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    signer: Signer,
    alg: Field<'a>,
    typ: Field<'a>,
    /// `Valid`: the signer's kid; `Int(n)`: the kid of key `n` (any algorithm).
    kid: Field<'a>,
    crit: Field<'a>,
    iss: Field<'a>,
    sub: Field<'a>,
    aud: Field<'a>,
    exp: Field<'a>,
    nbf: Field<'a>,
    iat: Field<'a>,
    jti: Field<'a>,
    client_id: Field<'a>,
    sid: Field<'a>,
    roles: Field<'a>,
    /// One more payload member, appended to the JSON text: it may repeat a claim.
    extra: Option<(&'a str, Field<'a>)>,
    /// Seconds from the fixed `now` at which the token is verified.
    now: i32,
}

fn build(field: &Field<'_>, valid: Value) -> Option<Value> {
    Some(match field {
        Field::Valid => valid,
        Field::Absent => return None,
        Field::Null => Value::Null,
        Field::Bool(b) => json!(b),
        Field::Int(n) => json!(n),
        Field::Shift(s) => json!(keys::NOW_SECONDS + i64::from(*s)),
        Field::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Field::Text(text) => json!(text),
        Field::List(items) => json!(items),
    })
}

fn object(members: &[(&str, Option<Value>)]) -> Map<String, Value> {
    members
        .iter()
        .filter_map(|(name, value)| Some(((*name).to_owned(), value.clone()?)))
        .collect()
}

/// `value` is `wanted`, or a list holding it (jsonwebtoken accepts both for `iss`
/// and `aud`).
fn names(value: Option<&Value>, wanted: &str) -> bool {
    match value {
        Some(Value::String(text)) => text == wanted,
        Some(Value::Array(items)) => items.iter().any(|item| item == wanted),
        _ => false,
    }
}

fuzz_target!(
    init: {
        // Key generation (RSA: seconds) before the clock starts.
        LazyLock::force(&FIXTURE);
    },
    |input: Input<'_>| check(&input)
);

fn check(input: &Input<'_>) {
    let fixture = &*FIXTURE;
    let signer = &fixture.keys[match input.signer {
        Signer::Hs256 => 0,
        Signer::Ed25519 => 1,
        Signer::P256 => 2,
    }];
    let algorithm = keys::jose_algorithm(signer.algorithm);
    let kid = match &input.kid {
        Field::Int(n) => {
            let count = fixture.keys.len() as u64;
            let index = usize::try_from(n.unsigned_abs() % count).unwrap_or_default();
            Some(json!(fixture.keys[index].kid))
        }
        other => build(other, json!(signer.kid)),
    };
    let header = object(&[
        ("alg", build(&input.alg, json!(algorithm))),
        ("typ", build(&input.typ, json!("at+jwt"))),
        ("kid", kid),
        ("crit", build(&input.crit, json!(["exp"]))),
    ]);
    let payload = object(&[
        ("iss", build(&input.iss, json!(keys::ISSUER))),
        ("sub", build(&input.sub, json!(SUB))),
        ("aud", build(&input.aud, json!(keys::AUDIENCE))),
        ("exp", build(&input.exp, json!(keys::NOW_SECONDS + 600))),
        ("nbf", build(&input.nbf, json!(keys::NOW_SECONDS - 60))),
        ("iat", build(&input.iat, json!(keys::NOW_SECONDS - 60))),
        ("jti", build(&input.jti, json!(JTI))),
        ("client_id", build(&input.client_id, json!("tessera"))),
        ("sid", build(&input.sid, json!(SID))),
        ("roles", build(&input.roles, json!(["user", "admin"]))),
    ]);
    let mut payload_text = Value::Object(payload.clone()).to_string();
    // What the assertions read: the payload with the extra member, unless it repeats one
    // (a repeated claim must not verify at all).
    let mut signed = payload.clone();
    if let Some((name, field)) = &input.extra
        && let Some(value) = build(field, Value::Null)
    {
        payload_text.pop();
        let comma = if payload.is_empty() { "" } else { "," };
        payload_text.push_str(&format!("{comma}{}:{value}}}", json!(name)));
        signed.entry(*name).or_insert(value);
    }
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(Value::Object(header.clone()).to_string()),
        URL_SAFE_NO_PAD.encode(&payload_text)
    );
    let Ok(signature) =
        jsonwebtoken::crypto::sign(message.as_bytes(), &keys::encoding_key(signer), algorithm)
    else {
        return;
    };
    let token = format!("{message}.{signature}");
    let now_seconds = keys::NOW_SECONDS + i64::from(input.now);
    let now = keys::at(now_seconds).expect("within chrono's range");

    let Ok(claims) = fixture.codec.verify(&token, now) else {
        return;
    };

    // The header of an access token of ours, signed by the key it names.
    let typ = header
        .get("typ")
        .and_then(Value::as_str)
        .unwrap_or_default();
    assert!(
        typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt"),
        "accepted typ {typ:?}"
    );
    assert!(
        header.get("crit").is_none_or(Value::is_null),
        "accepted crit"
    );
    assert_eq!(
        header.get("kid"),
        Some(&json!(signer.kid)),
        "accepted another key's kid"
    );
    assert_eq!(
        header.get("alg"),
        Some(&json!(algorithm)),
        "accepted another alg"
    );
    // Our issuer and audience.
    assert!(
        names(signed.get("iss"), keys::ISSUER),
        "accepted iss {:?}",
        signed.get("iss")
    );
    assert!(
        names(signed.get("aud"), keys::AUDIENCE),
        "accepted aud {:?}",
        signed.get("aud")
    );
    // A window that holds `now`, leeway included.
    let leeway = keys::LEEWAY.num_seconds();
    let exp = signed
        .get("exp")
        .and_then(Value::as_i64)
        .expect("accepted without an integer exp");
    let iat = signed
        .get("iat")
        .and_then(Value::as_i64)
        .expect("accepted without an integer iat");
    let nbf = signed.get("nbf").and_then(Value::as_i64).unwrap_or(iat);
    assert!(
        now_seconds < exp.saturating_add(leeway),
        "accepted after exp + leeway"
    );
    assert!(
        now_seconds >= nbf.saturating_sub(leeway),
        "accepted before nbf - leeway"
    );
    // The claims are the ones signed.
    assert_eq!(claims.expires_at.timestamp(), exp);
    assert_eq!(claims.issued_at.timestamp(), iat);
    let uuid = |name: &str| {
        signed
            .get(name)
            .and_then(Value::as_str)
            .and_then(|text| Uuid::parse_str(text).ok())
    };
    assert_eq!(Some(claims.user_id.as_uuid()), uuid("sub"));
    assert_eq!(Some(claims.session_id.as_uuid()), uuid("sid"));
    assert_eq!(Some(claims.token_id), uuid("jti"));
    let roles: Vec<&str> = claims.roles.iter().map(|role| role.as_str()).collect();
    assert_eq!(Some(&json!(roles)), signed.get("roles"));
}
