//! Refresh tokens: minting from the OS CSPRNG, recognising the `<id>.<secret>` shape,
//! keyed hashing with the server pepper, and sealing a rotation's response under the
//! parent token (SPEC §3).
//!
//! A token is `<id>.<secret>`: the 16-byte [`RefreshTokenId`] as 22 characters of
//! unpadded base64url, a dot, then 32 random bytes as 43 characters of unpadded
//! base64url — 66 URL-safe characters in all. The id finds the row; only
//! HMAC-SHA-256(pepper, domain || whole token) is stored.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use rand_core::{OsRng, RngCore};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tessera_application::ports::RefreshTokenCodec;
use tessera_application::{
    AccessToken, Error, GrantSecrets, MintedRefreshToken, PlainRefreshToken, PresentedRefreshToken,
    RefreshTokenHash, SealedGrant,
};
use tessera_domain::{Instant, InvalidSetting, RefreshTokenId};
use uuid::Uuid;

/// Domain separation: the pepper keys both the stored hash and the sealing keys.
const HASH_DOMAIN: &[u8] = b"tessera refresh token v1\0";
const SEAL_DOMAIN: &[u8] = b"tessera seal v1\0";

const ID_BYTES: usize = 16;
const SECRET_BYTES: usize = 32;
const ID_CHARS: usize = 22;
const SECRET_CHARS: usize = 43;
/// `<22 chars>.<43 chars>`
const TOKEN_CHARS: usize = ID_CHARS + 1 + SECRET_CHARS;

/// The first byte of a sealed blob, also its associated data: a future format gets a
/// new number and old blobs (which live only for the grace window) stop opening.
const SEAL_VERSION: u8 = 1;
const NONCE_BYTES: usize = 12;
const TAG_BYTES: usize = 16;

/// The server's secret key for refresh-token hashes (`token_pepper`). Without it a
/// leaked database cannot be used to check guessed tokens. Only the keyed HMAC state
/// is kept, and `Debug` prints nothing of it.
#[derive(Clone)]
pub struct Pepper(Hmac<Sha256>);

impl Pepper {
    /// Shortest accepted pepper: as long as the HMAC-SHA-256 output.
    pub const MIN_BYTES: usize = 32;

    /// # Errors
    /// `InvalidSetting` on `token_pepper` when `bytes` is shorter than 32 bytes.
    pub fn new(bytes: impl AsRef<[u8]>) -> Result<Self, InvalidSetting> {
        let bytes = bytes.as_ref();
        if bytes.len() < Self::MIN_BYTES {
            return Err(InvalidSetting::new(
                "token_pepper",
                "must be at least 32 bytes",
            ));
        }
        <Hmac<Sha256> as Mac>::new_from_slice(bytes)
            .map(Self)
            .map_err(|_| InvalidSetting::new("token_pepper", "cannot key HMAC-SHA-256"))
    }

    /// Fresh key material from the OS CSPRNG, for a server that has no pepper yet (it
    /// keeps the bytes where every node finds them, then calls [`Pepper::new`]).
    pub fn generate_bytes() -> Vec<u8> {
        let mut bytes = vec![0; Self::MIN_BYTES];
        OsRng.fill_bytes(&mut bytes);
        bytes
    }

    /// A pepper written in configuration as base64 (standard or URL-safe alphabet,
    /// with or without padding).
    ///
    /// # Errors
    /// `InvalidSetting` on `token_pepper` when `text` is not base64 or decodes to fewer
    /// than 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, InvalidSetting> {
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
        let text = text.trim();
        let bytes = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok())
            .ok_or_else(|| InvalidSetting::new("token_pepper", "must be base64"))?;
        Self::new(bytes)
    }

    /// HMAC-SHA-256 of `domain || message` under the pepper.
    fn mac(&self, domain: &[u8], message: &[u8]) -> [u8; 32] {
        let mut mac = self.0.clone();
        mac.update(domain);
        mac.update(message);
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pepper(<redacted>)")
    }
}

/// [`RefreshTokenCodec`] with HMAC-SHA-256 hashes and ChaCha20-Poly1305 sealing.
#[derive(Clone)]
pub struct HmacRefreshTokenCodec {
    pepper: Pepper,
}

impl HmacRefreshTokenCodec {
    pub const fn new(pepper: Pepper) -> Self {
        Self { pepper }
    }

    fn hash(&self, token: &str) -> RefreshTokenHash {
        RefreshTokenHash::new(self.pepper.mac(HASH_DOMAIN, token.as_bytes()).to_vec())
    }

    /// The AEAD under the key only a holder of `parent` (and the server) can derive.
    fn cipher(&self, parent: &PlainRefreshToken) -> ChaCha20Poly1305 {
        let key = self.pepper.mac(SEAL_DOMAIN, parent.expose().as_bytes());
        ChaCha20Poly1305::new(Key::from_slice(&key))
    }
}

impl fmt::Debug for HmacRefreshTokenCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacRefreshTokenCodec")
            .field("pepper", &self.pepper)
            .finish()
    }
}

impl RefreshTokenCodec for HmacRefreshTokenCodec {
    fn mint(&self) -> MintedRefreshToken {
        let mut id = [0_u8; ID_BYTES];
        let mut secret = [0_u8; SECRET_BYTES];
        OsRng.fill_bytes(&mut id);
        OsRng.fill_bytes(&mut secret);
        // A version-4 UUID from the OS generator; the id is not secret, only unique.
        let id = uuid::Builder::from_random_bytes(id).into_uuid();
        let token = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(id.as_bytes()),
            URL_SAFE_NO_PAD.encode(secret)
        );
        MintedRefreshToken {
            id: RefreshTokenId::from_uuid(id),
            hash: self.hash(&token),
            plain: PlainRefreshToken::new(token),
        }
    }

    fn parse(&self, presented: &str) -> Option<PresentedRefreshToken> {
        let id = parse_token(presented)?;
        Some(PresentedRefreshToken {
            id,
            plain: PlainRefreshToken::new(presented.to_owned()),
        })
    }

    fn matches(&self, presented: &PresentedRefreshToken, stored: &RefreshTokenHash) -> bool {
        let computed = self.hash(presented.plain.expose());
        // `ct_eq` on slices of different lengths is false (and says only that).
        computed.as_bytes().ct_eq(stored.as_bytes()).into()
    }

    fn seal(
        &self,
        parent: &PlainRefreshToken,
        secrets: &GrantSecrets,
    ) -> Result<SealedGrant, Error> {
        let mut nonce = [0_u8; NONCE_BYTES];
        OsRng.fill_bytes(&mut nonce);
        let plaintext = encode_secrets(secrets)?;
        let ciphertext = self
            .cipher(parent)
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &plaintext,
                    aad: &[SEAL_VERSION],
                },
            )
            .map_err(|_| Error::unexpected("sealing the grant failed"))?;
        let mut blob = Vec::with_capacity(1 + NONCE_BYTES + ciphertext.len());
        blob.push(SEAL_VERSION);
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        Ok(SealedGrant::new(blob))
    }

    fn open(&self, parent: &PlainRefreshToken, sealed: &SealedGrant) -> Option<GrantSecrets> {
        let (&version, rest) = sealed.as_bytes().split_first()?;
        if version != SEAL_VERSION || rest.len() < NONCE_BYTES + TAG_BYTES {
            return None;
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_BYTES);
        let plaintext = self
            .cipher(parent)
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &[SEAL_VERSION],
                },
            )
            .ok()?;
        decode_secrets(&plaintext)
    }
}

/// The id of a token of exactly the minted shape; anything else is `None`.
fn parse_token(presented: &str) -> Option<RefreshTokenId> {
    if presented.len() != TOKEN_CHARS {
        return None;
    }
    let (id, secret) = presented.split_once('.')?;
    if id.len() != ID_CHARS || !is_base64url(id) || !is_base64url(secret) {
        return None;
    }
    // The decoder refuses non-zero trailing bits, so each token has one spelling.
    let id: [u8; ID_BYTES] = URL_SAFE_NO_PAD.decode(id).ok()?.try_into().ok()?;
    let secret = URL_SAFE_NO_PAD.decode(secret).ok()?;
    if secret.len() != SECRET_BYTES {
        return None;
    }
    Some(RefreshTokenId::from_uuid(Uuid::from_bytes(id)))
}

fn is_base64url(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `len32 ‖ access token ‖ i64 seconds ‖ u32 nanos ‖ len32 ‖ refresh token`, big
/// endian. The blob's version byte versions this layout too.
fn encode_secrets(secrets: &GrantSecrets) -> Result<Vec<u8>, Error> {
    let access = secrets.access_token.expose().as_bytes();
    let refresh = secrets.refresh_token.expose().as_bytes();
    let mut out = Vec::with_capacity(4 + access.len() + 12 + 4 + refresh.len());
    put_bytes(&mut out, access)?;
    out.extend_from_slice(&secrets.access_expires_at.timestamp().to_be_bytes());
    out.extend_from_slice(
        &secrets
            .access_expires_at
            .timestamp_subsec_nanos()
            .to_be_bytes(),
    );
    put_bytes(&mut out, refresh)?;
    Ok(out)
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), Error> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| Error::unexpected("grant secret too long to seal"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

fn decode_secrets(mut input: &[u8]) -> Option<GrantSecrets> {
    let access_token = take_string(&mut input)?;
    let seconds = i64::from_be_bytes(take_array(&mut input)?);
    let nanos = u32::from_be_bytes(take_array(&mut input)?);
    let refresh_token = take_string(&mut input)?;
    if !input.is_empty() {
        return None;
    }
    let access_expires_at: Instant = chrono::DateTime::from_timestamp(seconds, nanos)?;
    Some(GrantSecrets {
        access_token: AccessToken::new(access_token),
        access_expires_at,
        refresh_token: PlainRefreshToken::new(refresh_token),
    })
}

fn take_array<const N: usize>(input: &mut &[u8]) -> Option<[u8; N]> {
    let (head, rest) = input.split_first_chunk::<N>()?;
    *input = rest;
    Some(*head)
}

fn take_string(input: &mut &[u8]) -> Option<String> {
    let len = usize::try_from(u32::from_be_bytes(take_array(input)?)).ok()?;
    if input.len() < len {
        return None;
    }
    let (text, rest) = input.split_at(len);
    *input = rest;
    String::from_utf8(text.to_vec()).ok()
}
