//! Token material as the use cases see it. Secrets are types whose `Debug` prints
//! nothing secret; only keyed hashes and sealed blobs are ever stored.

use std::fmt;

use tessera_domain::{Instant, RefreshTokenId, Role, SessionId, TimeDelta, UserId};
use uuid::Uuid;

macro_rules! redacted_debug {
    ($name:ident) => {
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

/// A refresh token as the client holds it. Never stored, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainRefreshToken(String);
redacted_debug!(PlainRefreshToken);

impl PlainRefreshToken {
    /// Wraps the client's string.
    pub const fn new(token: String) -> Self {
        Self(token)
    }

    /// The secret itself, to hand to the client or to the codec.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The keyed hash (HMAC-SHA-256 with the server pepper) of a whole refresh token:
/// the only form in which a refresh token is at rest.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshTokenHash(Vec<u8>);
redacted_debug!(RefreshTokenHash);

impl RefreshTokenHash {
    pub const fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A freshly minted refresh token: the plaintext for the client, the hash for storage.
#[derive(Debug, Clone)]
pub struct MintedRefreshToken {
    pub id: RefreshTokenId,
    pub plain: PlainRefreshToken,
    pub hash: RefreshTokenHash,
}

/// A presented refresh token that is well-formed; whether it is genuine is decided
/// by comparing its hash with the stored one.
#[derive(Debug, Clone)]
pub struct PresentedRefreshToken {
    pub id: RefreshTokenId,
    pub plain: PlainRefreshToken,
}

/// A signed access token (a JWT). A bearer credential, so never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);
redacted_debug!(AccessToken);

impl AccessToken {
    pub const fn new(jwt: String) -> Self {
        Self(jwt)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The claims Tessera puts in an access token; `iss`, `aud`, `typ` and `nbf` (= `iat`)
/// are added by the codec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    /// `sub`
    pub user_id: UserId,
    /// `sid`
    pub session_id: SessionId,
    /// `jti`
    pub token_id: Uuid,
    /// `iat` and `nbf`
    pub issued_at: Instant,
    /// `exp`
    pub expires_at: Instant,
    /// `roles`: the user's roles when the token was issued.
    pub roles: Vec<Role>,
}

/// The secret part of a refresh response: what a duplicate inside the grace window
/// must receive again, byte for byte.
#[derive(Clone, PartialEq, Eq)]
pub struct GrantSecrets {
    pub access_token: AccessToken,
    pub access_expires_at: Instant,
    pub refresh_token: PlainRefreshToken,
}
redacted_debug!(GrantSecrets);

/// [`GrantSecrets`] sealed (AEAD) under a key derived from the parent refresh token:
/// only a holder of the parent can open it. Stored with the parent until the grace
/// window ends.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedGrant(Vec<u8>);
redacted_debug!(SealedGrant);

impl SealedGrant {
    pub const fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// What a successful login or refresh gives the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub access_token: AccessToken,
    /// Seconds until the access token expires, as of the response.
    pub expires_in: TimeDelta,
    pub refresh_token: PlainRefreshToken,
    /// The worst case from now: `min(idle_timeout, absolute_expires_at - now)`.
    pub refresh_expires_in: TimeDelta,
}

/// JWS algorithms an access token can be signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SigningAlgorithm {
    #[default]
    EdDsa,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    Hs256,
}

impl SigningAlgorithm {
    /// Whether a verification key of this algorithm can be public: an HS256 secret
    /// both signs and verifies, so it must never leave the server.
    pub const fn is_asymmetric(self) -> bool {
        match self {
            Self::EdDsa | Self::Es256 | Self::Rs256 => true,
            Self::Hs256 => false,
        }
    }

    /// The JOSE `alg` name, also the configuration spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::EdDsa => "EdDSA",
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
            Self::Hs256 => "HS256",
        }
    }
}

impl std::str::FromStr for SigningAlgorithm {
    type Err = tessera_domain::InvalidSetting;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "EdDSA" => Ok(Self::EdDsa),
            "ES256" => Ok(Self::Es256),
            "RS256" => Ok(Self::Rs256),
            "HS256" => Ok(Self::Hs256),
            _ => Err(tessera_domain::InvalidSetting::new(
                "signing_alg",
                "must be EdDSA, ES256, RS256 or HS256",
            )),
        }
    }
}

/// The private half of a signing key: a PKCS#8 DER key (Ed25519, P-256), a PKCS#1
/// DER key (RSA), or an HMAC secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyMaterial(Vec<u8>);
redacted_debug!(SigningKeyMaterial);

impl SigningKeyMaterial {
    pub const fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

/// A signing key as stored in the database, shared by every node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// The JWS `kid`.
    pub kid: String,
    pub algorithm: SigningAlgorithm,
    pub private_key: SigningKeyMaterial,
    /// The public key in the form the codec verifies with (raw 32 bytes for Ed25519;
    /// the 65-byte SEC1 uncompressed point for P-256; PKCS#1 DER for RSA; empty for
    /// HS256, whose secret is symmetric).
    pub public_key: Vec<u8>,
    pub created_at: Instant,
    /// When `tessera keys rotate` replaced it: a retired key no longer signs, and
    /// verifies only while a token it signed can still be live.
    pub retired_at: Option<Instant>,
}

/// The public half of a signing key: what a resource server needs to verify access
/// tokens on its own (published as a JWK at `/.well-known/jwks.json`). Only
/// asymmetric keys have one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicSigningKey {
    /// The JWS `kid` tokens signed with this key carry.
    pub kid: String,
    pub algorithm: SigningAlgorithm,
    /// The key's public parameters, as a JWK carries them.
    pub public_key: PublicKeyParams,
}

/// The public parameters of an asymmetric key, as raw bytes (the JWK encodes them as
/// unpadded base64url).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKeyParams {
    /// Ed25519 (RFC 8037): the 32-byte point `x`.
    Okp { x: Vec<u8> },
    /// P-256 (RFC 7518 §6.2): the affine coordinates, 32 bytes each, big-endian.
    Ec { x: Vec<u8>, y: Vec<u8> },
    /// RSA (RFC 7518 §6.3): modulus and public exponent, big-endian unsigned, no
    /// leading zero bytes.
    Rsa { n: Vec<u8>, e: Vec<u8> },
}
