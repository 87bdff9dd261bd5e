//! The one place where database failures become application errors.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use tessera_application::Error;

/// Maps a query failure. `entity` names what a unique violation conflicts with
/// (`Conflict("user")`, `Conflict("signing key")`).
pub(crate) fn query_error(error: DieselError, entity: &'static str) -> Error {
    match &error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            Error::Conflict(entity)
        }
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => Error::Unavailable(error.into()),
        DieselError::DatabaseError(_, info) if is_transient(info.message()) => {
            Error::Unavailable(error.into())
        }
        _ => Error::Unexpected(error.into()),
    }
}

/// No connection could be had from the pool in time: the database is down,
/// unreachable or saturated.
pub(crate) fn pool_error(error: r2d2::Error) -> Error {
    Error::Unavailable(error.into())
}

/// Messages of failures that say "not now" rather than "never": a lost server, or a
/// SQLite file still locked by another writer after `busy_timeout`.
fn is_transient(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "connection refused",
        "server closed the connection",
        "terminating connection",
        "database is locked",
        "database table is locked",
        // `statement_timeout`: an overloaded database, as the pipelined reads see it.
        "canceling statement due to statement timeout",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

/// A stored value that does not make a domain value: a bug or a hand-edited row.
#[derive(Debug, thiserror::Error)]
#[error("stored {column} is not valid: {detail}")]
pub(crate) struct BadStoredValue {
    column: &'static str,
    detail: String,
}

impl BadStoredValue {
    /// The application error for a bad value in `column`.
    pub(crate) fn error(column: &'static str, detail: impl ToString) -> Error {
        Error::Unexpected(
            Self {
                column,
                detail: detail.to_string(),
            }
            .into(),
        )
    }
}
