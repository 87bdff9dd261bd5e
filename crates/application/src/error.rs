//! The one error type of the application layer. Adapters map their failures into it
//! (a unique violation into `Conflict`, a lost connection into `Unavailable`); the HTTP
//! layer maps it to responses in one place.

use tessera_domain::{InvalidInput, RefreshRefusal};

/// Any error an adapter wants to carry as a source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why an access token is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AccessDenial {
    /// Not a well-formed, correctly signed access token of ours (wrong `typ`, `iss`,
    /// `aud`, algorithm, signature, or not a JWT at all).
    #[error("the access token is not valid")]
    Invalid,
    /// Past `exp` (with the configured leeway) or before `nbf`.
    #[error("the access token has expired")]
    Expired,
    /// The token's session has been revoked.
    #[error("the session has been revoked")]
    SessionRevoked,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that fails validation.
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// Unknown e-mail or wrong password: the same answer for both.
    #[error("invalid e-mail or password")]
    InvalidCredentials,
    /// A refusal of the session policy.
    #[error(transparent)]
    Refused(#[from] RefreshRefusal),
    /// The access token is missing something or its session ended.
    #[error(transparent)]
    Unauthorized(#[from] AccessDenial),
    /// A client (an introspecting resource server) is unknown or its secret is wrong:
    /// the same answer for both.
    #[error("client authentication failed")]
    InvalidClient,
    /// Registration is closed by configuration.
    #[error("registration is closed")]
    RegistrationClosed,
    /// The caller is authenticated but lacks the role this needs.
    #[error("this needs the {0} role")]
    Forbidden(&'static str),
    /// Too many requests from this IP, or too many failed logins for this account:
    /// try again after `retry_after` (longer than zero).
    #[error("too many requests; try again later")]
    RateLimited {
        retry_after: tessera_domain::TimeDelta,
    },
    /// A uniqueness rule was broken (e.g. the e-mail is already registered).
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The named thing does not exist (or is not the caller's).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A backing service (database, activity store) cannot be reached right now.
    #[error("a backing service is unavailable")]
    Unavailable(#[source] BoxError),
    /// A bug or a broken invariant; details go to the log, not to the client.
    #[error("unexpected error")]
    Unexpected(#[source] BoxError),
}

impl Error {
    /// Wraps an unexpected failure with a message.
    pub fn unexpected(message: impl Into<String>) -> Self {
        Self::Unexpected(message.into().into())
    }
}
