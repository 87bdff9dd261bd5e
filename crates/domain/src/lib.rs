//! The session model and the sliding-session policy of Tessera.
//!
//! Everything here is a pure function of (state, now, input): no IO, no clock reads,
//! no randomness. The application layer gathers the state, asks this crate for a
//! decision and performs it.

mod device;
mod ids;
mod policy;
mod refresh;
mod session;
mod throttle;
mod user;

pub use device::device_label;
pub use ids::{RefreshTokenId, SessionId, UserId};
pub use policy::{InvalidSetting, IpChangePolicy, SessionPolicy, SessionPolicySettings};
pub use refresh::{RefreshAction, RefreshAttempt, RefreshDecision, RefreshRefusal, RefreshToken};
pub use session::{ClientContext, RevocationReason, Session};
pub use throttle::{
    Attempt, BucketState, FailedLogins, Limited, LoginBackoff, Take, ThrottlePolicy,
    ThrottleSettings, TokenBucket,
};
pub use user::{EmailAddress, InvalidInput, Password, PasswordHash, Role, User, UserStanding};

/// Instants are UTC wall-clock times; durations are signed so that subtraction of two
/// instants never panics.
pub type Instant = chrono::DateTime<chrono::Utc>;
pub use chrono::TimeDelta;
