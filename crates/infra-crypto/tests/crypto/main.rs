//! The crypto adapters, tested through the ports they implement.

// `allow-unwrap-in-tests` covers `#[test]` functions only, not this binary's helpers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access_token;
mod password;
mod public_keys;
mod random_tokens;
mod refresh_token;
mod secrets_in_debug;
mod signing_key;
mod system;

use tessera_domain::Instant;

/// A whole-second instant: JWT times are whole seconds.
fn at(seconds: i64) -> Instant {
    chrono::DateTime::from_timestamp(seconds, 0).unwrap()
}
