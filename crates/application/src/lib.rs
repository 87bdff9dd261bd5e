//! Tessera's use cases and the ports they call.
//!
//! [`AuthService`] orchestrates: it reads state through the ports, asks
//! [`tessera_domain`] for a decision and performs it (writes, activity, audit). Adapters
//! implement the traits in [`ports`]; nothing here knows about HTTP or SQL.

mod audit;
mod authenticate;
mod error;
mod keys;
mod login;
mod logout;
pub mod ports;
mod refresh;
mod register;
mod service;
mod tokens;

#[cfg(test)]
mod tests;

pub use audit::{AuthEvent, AuthEventKind};
pub use authenticate::Principal;
pub use error::{AccessDenial, BoxError, Error};
pub use keys::ensure_signing_key;
pub use service::{AuthService, Ports, ServiceOptions};
pub use tokens::{
    AccessClaims, AccessToken, GrantSecrets, MintedRefreshToken, PlainRefreshToken,
    PresentedRefreshToken, RefreshTokenHash, SealedGrant, SigningAlgorithm, SigningKey,
    SigningKeyMaterial, TokenGrant,
};
