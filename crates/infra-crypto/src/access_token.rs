//! Access tokens: RFC 9068-style JWTs (`typ: at+jwt`) signed with the newest stored key
//! of the configured algorithm and verified against every stored key, each pinned to
//! its own algorithm, with `exp`/`nbf` checked against the caller's `now`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use chrono::TimeDelta;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tessera_application::ports::AccessTokenCodec;
use tessera_application::{
    AccessClaims, AccessDenial, AccessToken, Error, PublicKeyParams, PublicSigningKey,
    SigningAlgorithm, SigningKey,
};
use tessera_domain::{Instant, InvalidSetting, Role, SessionId, UserId};
use uuid::Uuid;

/// The `typ` we write (RFC 9068 §2.1).
const TOKEN_TYPE: &str = "at+jwt";
/// RFC 9068's `client_id`: the tokens are issued to Tessera's own clients.
const CLIENT_ID: &str = "tessera";
/// Far above any token we issue; refuses oversized input before any parsing.
const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// A leeway longer than this is a misconfiguration (`30m` for `30s`), not clock skew.
const MAX_LEEWAY: TimeDelta = TimeDelta::minutes(5);

/// How access tokens are signed and what verification expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenSettings {
    algorithm: SigningAlgorithm,
    issuer: String,
    audience: String,
    leeway: TimeDelta,
}

impl AccessTokenSettings {
    /// SPEC §3's default tolerance for clock skew.
    pub const DEFAULT_LEEWAY: TimeDelta = TimeDelta::seconds(30);

    /// New tokens are signed with `algorithm`; `iss` and `aud` must equal `issuer` and
    /// `audience`. The leeway is [`DEFAULT_LEEWAY`](Self::DEFAULT_LEEWAY).
    ///
    /// # Errors
    /// `InvalidSetting` on `issuer` or `audience` when empty.
    pub fn new(
        algorithm: SigningAlgorithm,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Self, InvalidSetting> {
        let issuer = issuer.into();
        let audience = audience.into();
        if issuer.trim().is_empty() {
            return Err(InvalidSetting::new("issuer", "must not be empty"));
        }
        if audience.trim().is_empty() {
            return Err(InvalidSetting::new("audience", "must not be empty"));
        }
        Ok(Self {
            algorithm,
            issuer,
            audience,
            leeway: Self::DEFAULT_LEEWAY,
        })
    }

    /// Sets the tolerance for clock skew applied to `exp` and `nbf`.
    ///
    /// # Errors
    /// `InvalidSetting` on `clock_leeway` outside 0 s to 5 min.
    pub fn with_leeway(mut self, leeway: TimeDelta) -> Result<Self, InvalidSetting> {
        if leeway < TimeDelta::zero() || leeway > MAX_LEEWAY {
            return Err(InvalidSetting::new(
                "clock_leeway",
                "must be between 0s and 5m",
            ));
        }
        self.leeway = leeway;
        Ok(self)
    }

    pub const fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    pub const fn leeway(&self) -> TimeDelta {
        self.leeway
    }
}

/// [`AccessTokenCodec`] over `jsonwebtoken`. The key set can be replaced at run time
/// ([`reload`](Self::reload)) so a node learns keys another node added.
pub struct JwtAccessTokenCodec {
    settings: AccessTokenSettings,
    keys: RwLock<Arc<KeySet>>,
}

impl JwtAccessTokenCodec {
    /// `keys` newest first, as the signing-key repository lists them: the first key of
    /// the configured algorithm that is not retired signs, every key verifies its own
    /// tokens (the caller leaves out retired keys no live token can carry).
    ///
    /// # Errors
    /// `Unexpected` when no usable key of the configured algorithm is in `keys`, or
    /// that key's material is broken. Broken older keys are skipped with a warning.
    pub fn new(keys: Vec<SigningKey>, settings: AccessTokenSettings) -> Result<Self, Error> {
        let key_set = KeySet::build(&keys, &settings)?;
        Ok(Self {
            settings,
            keys: RwLock::new(Arc::new(key_set)),
        })
    }

    /// Replaces the key set (after a rotation, or to learn another node's key).
    ///
    /// # Errors
    /// As [`new`](Self::new); the current key set stays in place.
    pub fn reload(&self, keys: Vec<SigningKey>) -> Result<(), Error> {
        // The periodic reload mostly finds the same keys: keep the set, and with it
        // the tokens it has verified.
        if self.key_set().identity == KeySet::identity_of(&keys) {
            return Ok(());
        }
        let key_set = Arc::new(KeySet::build(&keys, &self.settings)?);
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = key_set;
        Ok(())
    }

    /// The `kid` new tokens are signed with.
    pub fn signing_kid(&self) -> String {
        self.key_set().signer.kid.clone()
    }

    fn key_set(&self) -> Arc<KeySet> {
        // The lock only guards an `Arc` swap; a poisoned lock still holds a whole set.
        Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Checks everything but the clock; `now` is checked by the caller.
    fn decode(&self, token: &str) -> Result<PresentedClaims, &'static str> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err("too long");
        }
        let key_set = self.key_set();
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(claims) = key_set.verified.get(&digest) {
            return Ok(claims);
        }
        let claims = Self::decode_with(&key_set, token)?;
        key_set.verified.insert(digest, claims.clone());
        Ok(claims)
    }

    /// The whole verification: header, key, signature, `iss`, `aud`.
    fn decode_with(key_set: &KeySet, token: &str) -> Result<PresentedClaims, &'static str> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| "malformed header")?;
        if !is_access_token_type(header.typ.as_deref()) {
            return Err("typ is not at+jwt");
        }
        if header.crit.is_some() {
            return Err("critical header parameters are not supported");
        }
        let verifier = header
            .kid
            .as_deref()
            .and_then(|kid| key_set.verifier(kid))
            .ok_or("unknown kid")?;
        // Pinned: the key decides the algorithm, never the token.
        if header.alg != verifier.algorithm {
            return Err("alg does not match the key");
        }
        jsonwebtoken::decode::<PresentedClaims>(token, &verifier.key, &verifier.validation)
            .map(|data| data.claims)
            .map_err(|_| "signature or claims refused")
    }

    fn check_time(&self, claims: &PresentedClaims, now: Instant) -> Result<(), AccessDenial> {
        let leeway = self.settings.leeway;
        let expires_at = timestamp(claims.exp)?;
        // A token issued "in the future" is as premature as one not yet valid, whatever
        // its `nbf` says (we write both equal).
        let not_before = timestamp(claims.nbf.unwrap_or(claims.iat).max(claims.iat))?;
        let expired = expires_at
            .checked_add_signed(leeway)
            .is_none_or(|end| now >= end);
        let premature = not_before
            .checked_sub_signed(leeway)
            .is_none_or(|start| now < start);
        if expired || premature {
            return Err(AccessDenial::Expired);
        }
        Ok(())
    }
}

impl fmt::Debug for JwtAccessTokenCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key_set = self.key_set();
        let kids: Vec<&str> = key_set.verifiers.iter().map(|v| v.kid.as_str()).collect();
        f.debug_struct("JwtAccessTokenCodec")
            .field("settings", &self.settings)
            .field("signing_kid", &key_set.signer.kid)
            .field("kids", &kids)
            .finish_non_exhaustive()
    }
}

impl AccessTokenCodec for JwtAccessTokenCodec {
    fn issue(&self, claims: &AccessClaims) -> Result<AccessToken, Error> {
        let key_set = self.key_set();
        let issued_at = claims.issued_at.timestamp();
        let body = IssuedClaims {
            iss: &self.settings.issuer,
            sub: claims.user_id.to_string(),
            aud: &self.settings.audience,
            exp: claims.expires_at.timestamp(),
            nbf: issued_at,
            iat: issued_at,
            jti: claims.token_id.to_string(),
            client_id: CLIENT_ID,
            sid: claims.session_id.to_string(),
            roles: claims.roles.iter().map(Role::as_str).collect(),
        };
        jsonwebtoken::encode(&key_set.signer.header, &body, &key_set.signer.key)
            .map(AccessToken::new)
            .map_err(|error| Error::Unexpected(Box::new(error)))
    }

    fn verify(&self, token: &str, now: Instant) -> Result<AccessClaims, AccessDenial> {
        let claims = self.decode(token).map_err(|reason| {
            tracing::debug!(reason, "access token refused");
            AccessDenial::Invalid
        })?;
        self.check_time(&claims, now)?;
        claims.into_access_claims()
    }

    fn public_keys(&self) -> Vec<PublicSigningKey> {
        self.key_set()
            .verifiers
            .iter()
            .filter_map(|verifier| verifier.public.clone())
            .collect()
    }
}

/// RFC 9068 §4: `at+jwt`, or its full media type; media types ignore case.
fn is_access_token_type(typ: Option<&str>) -> bool {
    typ.is_some_and(|typ| {
        typ.eq_ignore_ascii_case(TOKEN_TYPE) || typ.eq_ignore_ascii_case("application/at+jwt")
    })
}

fn timestamp(seconds: i64) -> Result<Instant, AccessDenial> {
    chrono::DateTime::from_timestamp(seconds, 0).ok_or(AccessDenial::Invalid)
}

#[derive(Serialize)]
struct IssuedClaims<'a> {
    iss: &'a str,
    sub: String,
    aud: &'a str,
    exp: i64,
    nbf: i64,
    iat: i64,
    jti: String,
    client_id: &'a str,
    sid: String,
    roles: Vec<&'a str>,
}

/// What verification reads; `iss` and `aud` are checked by `jsonwebtoken`.
#[derive(Deserialize, Clone)]
struct PresentedClaims {
    /// Read only to refuse anything but one string (RFC 7519 §4.1.1):
    /// `jsonwebtoken` also takes an array that merely contains the issuer.
    #[expect(
        dead_code,
        reason = "its type is the check; the value is checked by jsonwebtoken"
    )]
    iss: String,
    sub: String,
    sid: String,
    jti: String,
    iat: i64,
    nbf: Option<i64>,
    exp: i64,
    roles: Vec<String>,
}

impl PresentedClaims {
    fn into_access_claims(self) -> Result<AccessClaims, AccessDenial> {
        let invalid = |_| AccessDenial::Invalid;
        Ok(AccessClaims {
            user_id: self.sub.parse::<UserId>().map_err(invalid)?,
            session_id: self.sid.parse::<SessionId>().map_err(invalid)?,
            token_id: Uuid::parse_str(&self.jti).map_err(invalid)?,
            issued_at: timestamp(self.iat)?,
            expires_at: timestamp(self.exp)?,
            roles: self
                .roles
                .iter()
                .map(|role| Role::parse(role).map_err(|_| AccessDenial::Invalid))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// The signing key and every verification key, built once per (re)load.
struct KeySet {
    signer: Signer,
    verifiers: Vec<Verifier>,
    /// What the set was built from, to tell whether a reload changes anything.
    identity: Vec<(String, Option<Instant>)>,
    verified: VerifiedTokens,
}

/// Most tokens remembered as verified; past it the memory starts over (a forgotten
/// token costs one verification). About 200 bytes each: a few MiB at most.
const MAX_VERIFIED_TOKENS: usize = 16_384;

/// Tokens this key set has verified, by the SHA-256 of the whole token.
///
/// A client presents the same access token on every request for its whole life, and
/// the signature check (Ed25519, ECDSA or RSA) costs more than everything else
/// authentication does, so the forward-auth path (`/v1/auth/verify`) would spend most
/// of its time proving the same thing again; Envoy's `jwt_authn` keeps such a cache
/// for the same reason. Only what the signature proves is remembered: the clock
/// (`exp`, `nbf`) is checked on every use, and revocation by the caller. The memory
/// belongs to the key set, so a key that leaves the set takes every token it verified
/// with it. Keyed by the whole token, not its signature: a known signature under an
/// altered payload is a different token.
struct VerifiedTokens {
    entries: Mutex<HashMap<[u8; 32], PresentedClaims>>,
}

impl VerifiedTokens {
    fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, digest: &[u8; 32]) -> Option<PresentedClaims> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(digest)
            .cloned()
    }

    fn insert(&self, digest: [u8; 32], claims: PresentedClaims) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_VERIFIED_TOKENS {
            entries.clear();
        }
        entries.insert(digest, claims);
    }
}

struct Signer {
    kid: String,
    header: Header,
    key: EncodingKey,
}

struct Verifier {
    kid: String,
    algorithm: Algorithm,
    key: DecodingKey,
    validation: Validation,
    /// What may be published of the key; `None` for a symmetric key.
    public: Option<PublicSigningKey>,
}

impl KeySet {
    fn build(keys: &[SigningKey], settings: &AccessTokenSettings) -> Result<Self, Error> {
        // A retired key never signs while a current one of the algorithm exists.
        let of_algorithm = |key: &&SigningKey| key.algorithm == settings.algorithm;
        let newest = keys
            .iter()
            .filter(of_algorithm)
            .find(|key| key.retired_at.is_none())
            .or_else(|| keys.iter().find(of_algorithm))
            .ok_or_else(|| {
                Error::unexpected(format!(
                    "no signing key for {} is stored",
                    settings.algorithm.as_str()
                ))
            })?;
        let signer = Signer::build(newest)
            .map_err(|reason| Error::unexpected(format!("signing key {}: {reason}", newest.kid)))?;
        let mut seen = HashSet::new();
        let mut verifiers = Vec::with_capacity(keys.len());
        for key in keys {
            if !seen.insert(key.kid.as_str()) {
                continue;
            }
            match Verifier::build(key, settings) {
                Ok(verifier) => verifiers.push(verifier),
                Err(reason) if key.kid == newest.kid => {
                    return Err(Error::unexpected(format!(
                        "signing key {}: {reason}",
                        key.kid
                    )));
                }
                Err(reason) => {
                    tracing::warn!(kid = %key.kid, reason, "signing key skipped for verification");
                }
            }
        }
        Ok(Self {
            signer,
            verifiers,
            identity: Self::identity_of(keys),
            verified: VerifiedTokens::new(),
        })
    }

    /// A key's material never changes under its `kid`; which keys there are and
    /// which are retired is all a reload can change.
    fn identity_of(keys: &[SigningKey]) -> Vec<(String, Option<Instant>)> {
        keys.iter()
            .map(|key| (key.kid.clone(), key.retired_at))
            .collect()
    }

    fn verifier(&self, kid: &str) -> Option<&Verifier> {
        self.verifiers.iter().find(|verifier| verifier.kid == kid)
    }
}

impl Signer {
    fn build(key: &SigningKey) -> Result<Self, &'static str> {
        let mut header = Header::new(jose_algorithm(key.algorithm));
        header.typ = Some(TOKEN_TYPE.to_owned());
        header.kid = Some(key.kid.clone());
        Ok(Self {
            kid: key.kid.clone(),
            header,
            key: encoding_key(key)?,
        })
    }
}

impl Verifier {
    fn build(key: &SigningKey, settings: &AccessTokenSettings) -> Result<Self, &'static str> {
        let algorithm = jose_algorithm(key.algorithm);
        let mut validation = Validation::new(algorithm);
        // The clock is the caller's `now`, checked in `check_time`.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        validation.validate_aud = true;
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Ok(Self {
            kid: key.kid.clone(),
            algorithm,
            key: decoding_key(key)?,
            validation,
            public: public_key(key),
        })
    }
}

// One function per concern below, each a `match` on the algorithm: a new algorithm
// is a new arm in each, and the compiler lists them.

const fn jose_algorithm(algorithm: SigningAlgorithm) -> Algorithm {
    match algorithm {
        SigningAlgorithm::EdDsa => Algorithm::EdDSA,
        SigningAlgorithm::Es256 => Algorithm::ES256,
        SigningAlgorithm::Rs256 => Algorithm::RS256,
        SigningAlgorithm::Hs256 => Algorithm::HS256,
    }
}

/// Smallest RSA modulus accepted, in bits (RFC 7518 §3.3).
const MIN_RSA_BITS: usize = 2048;
/// A SEC1 uncompressed P-256 point: `04 || x || y`.
const P256_POINT_BYTES: usize = 65;

/// Shortest HS256 secret accepted: the hash output length (RFC 7518 §3.2).
const MIN_HMAC_SECRET: usize = 32;

fn encoding_key(key: &SigningKey) -> Result<EncodingKey, &'static str> {
    match key.algorithm {
        SigningAlgorithm::EdDsa => {
            use ed25519_dalek::pkcs8::DecodePrivateKey as _;
            // `EncodingKey::from_ed_der` does not parse; a broken key would only fail
            // at the first `issue`. Parse it now, and check it matches its public half.
            let private = ed25519_dalek::SigningKey::from_pkcs8_der(key.private_key.expose())
                .map_err(|_| "private key is not an Ed25519 PKCS#8 key")?;
            if private.verifying_key().as_bytes().as_slice() != key.public_key.as_slice() {
                return Err("private key does not match the public key");
            }
            Ok(EncodingKey::from_ed_der(key.private_key.expose()))
        }
        SigningAlgorithm::Es256 => {
            use p256::elliptic_curve::sec1::ToEncodedPoint as _;
            use p256::pkcs8::DecodePrivateKey as _;
            // As for Ed25519: `from_ec_der` does not parse.
            let private = p256::SecretKey::from_pkcs8_der(key.private_key.expose())
                .map_err(|_| "private key is not a P-256 PKCS#8 key")?;
            if private.public_key().to_encoded_point(false).as_bytes() != key.public_key.as_slice()
            {
                return Err("private key does not match the public key");
            }
            Ok(EncodingKey::from_ec_der(key.private_key.expose()))
        }
        SigningAlgorithm::Rs256 => {
            use rsa::pkcs1::DecodeRsaPrivateKey as _;
            // As for Ed25519: `from_rsa_der` does not parse (it wants PKCS#1).
            let private = rsa::RsaPrivateKey::from_pkcs1_der(key.private_key.expose())
                .map_err(|_| "private key is not an RSA PKCS#1 key")?;
            if private.to_public_key() != rsa_public_key(key)? {
                return Err("private key does not match the public key");
            }
            Ok(EncodingKey::from_rsa_der(key.private_key.expose()))
        }
        SigningAlgorithm::Hs256 => {
            hmac_secret(key)?;
            Ok(EncodingKey::from_secret(key.private_key.expose()))
        }
    }
}

fn decoding_key(key: &SigningKey) -> Result<DecodingKey, &'static str> {
    match key.algorithm {
        SigningAlgorithm::EdDsa => {
            // jsonwebtoken slices `[..32]` of the key when verifying and panics on a
            // shorter one: accept exactly a valid 32-byte point.
            let raw: &[u8; 32] = key
                .public_key
                .as_slice()
                .try_into()
                .map_err(|_| "public key is not 32 bytes")?;
            let public = ed25519_dalek::VerifyingKey::from_bytes(raw)
                .map_err(|_| "public key is not an Ed25519 point")?;
            if public.is_weak() {
                return Err("public key is a small-order point");
            }
            Ok(DecodingKey::from_ed_der(raw))
        }
        SigningAlgorithm::Es256 => {
            p256_coordinates(key)?;
            Ok(DecodingKey::from_ec_der(&key.public_key))
        }
        SigningAlgorithm::Rs256 => {
            rsa_public_key(key)?;
            Ok(DecodingKey::from_rsa_der(&key.public_key))
        }
        SigningAlgorithm::Hs256 => Ok(DecodingKey::from_secret(hmac_secret(key)?)),
    }
}

/// The publishable half of a key that `decoding_key` accepted.
fn public_key(key: &SigningKey) -> Option<PublicSigningKey> {
    let public_key = match key.algorithm {
        SigningAlgorithm::EdDsa => PublicKeyParams::Okp {
            x: key.public_key.clone(),
        },
        SigningAlgorithm::Es256 => {
            let (x, y) = p256_coordinates(key).ok()?;
            PublicKeyParams::Ec {
                x: x.to_vec(),
                y: y.to_vec(),
            }
        }
        SigningAlgorithm::Rs256 => {
            use rsa::traits::PublicKeyParts as _;
            let public = rsa_public_key(key).ok()?;
            PublicKeyParams::Rsa {
                n: public.n().to_bytes_be(),
                e: public.e().to_bytes_be(),
            }
        }
        // The secret verifies and signs alike: never published.
        SigningAlgorithm::Hs256 => return None,
    };
    Some(PublicSigningKey {
        kid: key.kid.clone(),
        algorithm: key.algorithm,
        public_key,
    })
}

/// The affine coordinates of a valid P-256 point stored uncompressed (the JWK needs
/// both, so the compressed form is refused).
fn p256_coordinates(key: &SigningKey) -> Result<(&[u8], &[u8]), &'static str> {
    let point = key.public_key.as_slice();
    if point.len() != P256_POINT_BYTES || point[0] != 0x04 {
        return Err("public key is not an uncompressed SEC1 point");
    }
    p256::PublicKey::from_sec1_bytes(point).map_err(|_| "public key is not a P-256 point")?;
    Ok((&point[1..33], &point[33..]))
}

fn rsa_public_key(key: &SigningKey) -> Result<rsa::RsaPublicKey, &'static str> {
    use rsa::pkcs1::DecodeRsaPublicKey as _;
    use rsa::traits::PublicKeyParts as _;
    let public = rsa::RsaPublicKey::from_pkcs1_der(&key.public_key)
        .map_err(|_| "public key is not an RSA PKCS#1 key")?;
    if public.size() * 8 < MIN_RSA_BITS {
        return Err("RSA key is shorter than 2048 bits");
    }
    Ok(public)
}

fn hmac_secret(key: &SigningKey) -> Result<&[u8], &'static str> {
    let secret = key.private_key.expose();
    if secret.len() < MIN_HMAC_SECRET {
        return Err("HMAC secret is shorter than 32 bytes");
    }
    Ok(secret)
}
