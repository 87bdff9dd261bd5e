//! Tessera's use cases and the ports they call.
//!
//! [`AuthService`] orchestrates: it reads state through the ports, asks
//! [`tessera_domain`] for a decision and performs it (writes, activity, audit). Adapters
//! implement the traits in [`ports`]; nothing here knows about HTTP or SQL.

mod admin;
mod audit;
mod authenticate;
mod error;
mod housekeeping;
mod introspection;
mod keys;
mod login;
mod logout;
mod password;
pub mod ports;
mod refresh;
mod register;
mod revocation;
mod service;
mod sessions;
mod throttle;
mod tokens;

#[cfg(test)]
mod tests;

pub use admin::Actor;
pub use audit::{AuditQuery, AuditRecord, AuthEvent, AuthEventKind};
pub use authenticate::Principal;
pub use error::{AccessDenial, BoxError, Error};
pub use housekeeping::PurgeReport;
pub use introspection::{
    ActiveAccessToken, ActiveRefreshToken, Introspection, IntrospectionClients,
};
pub use keys::{ensure_signing_key, keys_still_verifying, rotate_signing_key, verification_keys};
pub use service::{AuthService, Ports, ServiceOptions};
pub use sessions::SessionOverview;
pub use throttle::Throttling;
pub use tokens::{
    AccessClaims, AccessToken, GrantSecrets, MintedRefreshToken, PlainRefreshToken,
    PresentedRefreshToken, PublicKeyParams, PublicSigningKey, RefreshTokenHash, SealedGrant,
    SigningAlgorithm, SigningKey, SigningKeyMaterial, TokenGrant,
};
