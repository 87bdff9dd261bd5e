//! Users and the values that describe them: e-mail, password, roles.

use std::fmt;

use crate::{Instant, UserId};

/// Input that a user typed and that cannot be accepted, with a message fit for them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidInput {
    pub field: &'static str,
    pub message: &'static str,
}

/// An e-mail address, trimmed and lower-cased so one mailbox is one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    const MAX_LEN: usize = 254;

    /// Accepts `local@domain.tld` with no spaces or control characters.
    ///
    /// # Errors
    /// `InvalidInput` on `email` when the text is not such an address.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let invalid = InvalidInput {
            field: "email",
            message: "must be an e-mail address",
        };
        let email = raw.trim().to_lowercase();
        if email.is_empty() || email.len() > Self::MAX_LEN {
            return Err(invalid);
        }
        if email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'))
        {
            return Err(invalid);
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err(invalid);
        };
        let domain_ok = !domain.contains('@')
            && domain.contains('.')
            && domain
                .split('.')
                .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
        if local.is_empty() || !domain_ok {
            return Err(invalid);
        }
        Ok(Self(email))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A plaintext password on its way to the hasher. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Shortest accepted password, in characters (OWASP ASVS 2.1.1).
    pub const MIN_CHARS: usize = 8;
    /// Longest accepted password, in characters: bounds the hashing work per request.
    pub const MAX_CHARS: usize = 128;

    /// # Errors
    /// `InvalidInput` on `password` outside 8..=128 characters.
    pub fn new(raw: impl Into<String>) -> Result<Self, InvalidInput> {
        let raw = raw.into();
        let chars = raw.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(InvalidInput {
                field: "password",
                message: "must be at least 8 characters",
            });
        }
        if chars > Self::MAX_CHARS {
            return Err(InvalidInput {
                field: "password",
                message: "must be at most 128 characters",
            });
        }
        Ok(Self(raw))
    }

    /// The secret itself, for the hasher only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A stored password hash (PHC string). Not a secret in itself, but an offline
/// guessing target, so it is not printed either.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string produced by the hasher or read from storage.
    pub const fn new(phc: String) -> Self {
        Self(phc)
    }

    /// The PHC string, for storage and verification.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// A role carried in access tokens (`roles` claim).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Role(String);

impl Role {
    /// Every new user gets this role.
    pub fn user() -> Self {
        Self("user".to_owned())
    }

    /// Operators: may see and end other users' sessions and disable users.
    pub fn admin() -> Self {
        Self("admin".to_owned())
    }

    /// Lower-case letters, digits, `_`, `-` and `:`; 1 to 64 characters.
    ///
    /// # Errors
    /// `InvalidInput` on `role` otherwise.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let ok = (1..=64).contains(&raw.len())
            && raw.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | ':')
            });
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidInput {
                field: "role",
                message: "must be 1-64 of a-z, 0-9, _, - or :",
            })
        }
    }

    /// The role's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether a user may still use their sessions (SPEC §2 rule 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStanding {
    Active,
    /// Disabled by an operator, or deleted.
    Disabled,
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: EmailAddress,
    pub password_hash: PasswordHash,
    pub roles: Vec<Role>,
    pub created_at: Instant,
    pub disabled_at: Option<Instant>,
}

impl User {
    /// Whether the user holds `role`.
    pub fn has_role(&self, role: &Role) -> bool {
        self.roles.contains(role)
    }

    /// Whether the user may log in and refresh.
    pub const fn standing(&self) -> UserStanding {
        if self.disabled_at.is_some() {
            UserStanding::Disabled
        } else {
            UserStanding::Active
        }
    }
}
