//! Adapters for token material: refresh tokens (minting, keyed hashing, sealing), JWT
//! access tokens, signing-key generation, Argon2id password hashing, and the system
//! clock and id generator.
//!
//! Every type here that holds a secret prints nothing secret in `Debug`.

mod access_token;
mod legacy;
mod password;
mod refresh_token;
mod signing_key;
mod system;

pub use access_token::{AccessTokenSettings, JwtAccessTokenCodec};
pub use legacy::HmacLegacyTokenVerifier;
pub use password::{
    Argon2Params, Argon2PasswordHasher, PasswordHashingSettings, check_argon2id_hash,
    generate_client_secret,
};
pub use refresh_token::{HmacRefreshTokenCodec, Pepper};
pub use signing_key::{
    RandomSigningKeyGenerator, ed25519_thumbprint, p256_thumbprint, rsa_thumbprint,
};
pub use system::{RandomIds, SystemClock};
