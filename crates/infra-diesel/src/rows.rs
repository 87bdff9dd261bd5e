//! Row structs of the tables and their conversions to and from domain types. A stored
//! value that makes no domain value is an `Unexpected` error, never a panic.
//!
//! Every `Insertable` row writes `None` as a bound `NULL` (`treat_none_as_default_value
//! = false`; no nullable column has another default): with diesel's default, `None`
//! becomes the keyword `DEFAULT`, the SQL text then depends on the values, and diesel
//! never prepares such an `INSERT` — PostgreSQL parsed and planned the successor token
//! and audit event of every refresh afresh (docs/performance.md).

use std::net::IpAddr;

use chrono::{NaiveDateTime, SubsecRound};
use diesel::prelude::*;
use tessera_application::{
    AuditRecord, AuthEvent, Error, RefreshTokenHash, SealedGrant, SigningAlgorithm, SigningKey,
    SigningKeyMaterial,
};
use tessera_domain::{
    ClientContext, EmailAddress, Instant, PasswordHash, RefreshToken, RefreshTokenId,
    RevocationReason, Role, Session, SessionId, User, UserId,
};

use crate::connection::MultiBackend;
use crate::error::BadStoredValue;
use crate::schema::{auth_events, refresh_tokens, sessions, signing_keys, users};

/// An instant as stored: UTC without a zone, cut to the microseconds PostgreSQL keeps,
/// so that what is read back equals what was written on both backends.
pub(crate) fn to_db_time(instant: Instant) -> NaiveDateTime {
    instant.trunc_subsecs(6).naive_utc()
}

pub(crate) fn from_db_time(stored: NaiveDateTime) -> Instant {
    stored.and_utc()
}

fn parse_id<T: std::str::FromStr>(column: &'static str, stored: &str) -> Result<T, Error>
where
    T::Err: std::fmt::Display,
{
    stored
        .parse()
        .map_err(|error| BadStoredValue::error(column, error))
}

fn parse_optional_id<T: std::str::FromStr>(
    column: &'static str,
    stored: Option<String>,
) -> Result<Option<T>, Error>
where
    T::Err: std::fmt::Display,
{
    stored.map(|stored| parse_id(column, &stored)).transpose()
}

fn parse_ip(column: &'static str, stored: Option<String>) -> Result<Option<IpAddr>, Error> {
    stored
        .map(|ip| {
            ip.parse()
                .map_err(|error| BadStoredValue::error(column, error))
        })
        .transpose()
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = users, check_for_backend(MultiBackend), treat_none_as_default_value = false)]
pub(crate) struct UserRow {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    /// Space-separated: a role name has no spaces.
    pub roles: String,
    pub created_at: NaiveDateTime,
    pub disabled_at: Option<NaiveDateTime>,
}

impl From<&User> for UserRow {
    fn from(user: &User) -> Self {
        let roles: Vec<&str> = user.roles.iter().map(Role::as_str).collect();
        Self {
            id: user.id.to_string(),
            email: user.email.as_str().to_owned(),
            password_hash: user.password_hash.as_str().to_owned(),
            roles: roles.join(" "),
            created_at: to_db_time(user.created_at),
            disabled_at: user.disabled_at.map(to_db_time),
        }
    }
}

impl TryFrom<UserRow> for User {
    type Error = Error;

    fn try_from(row: UserRow) -> Result<Self, Error> {
        let roles = row
            .roles
            .split_whitespace()
            .map(|role| {
                Role::parse(role).map_err(|error| BadStoredValue::error("users.roles", error))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            id: parse_id("users.id", &row.id)?,
            email: EmailAddress::parse(&row.email)
                .map_err(|error| BadStoredValue::error("users.email", error))?,
            password_hash: PasswordHash::new(row.password_hash),
            roles,
            created_at: from_db_time(row.created_at),
            disabled_at: row.disabled_at.map(from_db_time),
        })
    }
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions, check_for_backend(MultiBackend), treat_none_as_default_value = false)]
pub(crate) struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub created_at: NaiveDateTime,
    pub absolute_expires_at: NaiveDateTime,
    pub last_refreshed_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub revocation_reason: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl From<&Session> for SessionRow {
    fn from(session: &Session) -> Self {
        Self {
            id: session.id.to_string(),
            user_id: session.user_id.to_string(),
            created_at: to_db_time(session.created_at),
            absolute_expires_at: to_db_time(session.absolute_expires_at),
            last_refreshed_at: to_db_time(session.last_refreshed_at),
            revoked_at: session.revoked_at.map(to_db_time),
            revocation_reason: session
                .revocation_reason
                .map(|reason| reason.as_str().to_owned()),
            ip: session.client.ip.map(|ip| ip.to_string()),
            user_agent: session.client.user_agent.clone(),
        }
    }
}

impl TryFrom<SessionRow> for Session {
    type Error = Error;

    fn try_from(row: SessionRow) -> Result<Self, Error> {
        let revocation_reason = row
            .revocation_reason
            .map(|stored| {
                RevocationReason::parse(&stored)
                    .ok_or_else(|| BadStoredValue::error("sessions.revocation_reason", stored))
            })
            .transpose()?;
        Ok(Self {
            id: parse_id::<SessionId>("sessions.id", &row.id)?,
            user_id: parse_id::<UserId>("sessions.user_id", &row.user_id)?,
            created_at: from_db_time(row.created_at),
            absolute_expires_at: from_db_time(row.absolute_expires_at),
            last_refreshed_at: from_db_time(row.last_refreshed_at),
            revoked_at: row.revoked_at.map(from_db_time),
            revocation_reason,
            client: ClientContext {
                ip: parse_ip("sessions.ip", row.ip)?,
                user_agent: row.user_agent,
            },
        })
    }
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens, check_for_backend(MultiBackend), treat_none_as_default_value = false)]
pub(crate) struct RefreshTokenRow {
    pub id: String,
    pub session_id: String,
    pub generation: i32,
    pub token_hash: Vec<u8>,
    pub issued_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub sealed_successor: Option<Vec<u8>>,
}

impl RefreshTokenRow {
    /// A token as written: unused, with nothing sealed yet.
    pub(crate) fn new(token: &RefreshToken, hash: &RefreshTokenHash) -> Result<Self, Error> {
        Ok(Self {
            id: token.id.to_string(),
            session_id: token.session_id.to_string(),
            generation: i32::try_from(token.generation).map_err(|error| {
                Error::Unexpected(format!("generation out of range: {error}").into())
            })?,
            token_hash: hash.as_bytes().to_vec(),
            issued_at: to_db_time(token.issued_at),
            used_at: token.used_at.map(to_db_time),
            sealed_successor: None,
        })
    }

    /// The token, its stored hash and its sealed successor response, if any.
    pub(crate) fn into_parts(
        self,
    ) -> Result<(RefreshToken, RefreshTokenHash, Option<SealedGrant>), Error> {
        let token = RefreshToken {
            id: parse_id::<RefreshTokenId>("refresh_tokens.id", &self.id)?,
            session_id: parse_id::<SessionId>("refresh_tokens.session_id", &self.session_id)?,
            generation: u32::try_from(self.generation)
                .map_err(|error| BadStoredValue::error("refresh_tokens.generation", error))?,
            issued_at: from_db_time(self.issued_at),
            used_at: self.used_at.map(from_db_time),
        };
        Ok((
            token,
            RefreshTokenHash::new(self.token_hash),
            self.sealed_successor.map(SealedGrant::new),
        ))
    }
}

/// `Debug` is written by hand below: the row holds a private key.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys, check_for_backend(MultiBackend), treat_none_as_default_value = false)]
pub(crate) struct SigningKeyRow {
    pub kid: String,
    pub algorithm: String,
    pub private_key: Vec<u8>,
    pub public_key: Vec<u8>,
    pub created_at: NaiveDateTime,
    pub retired_at: Option<NaiveDateTime>,
}

impl std::fmt::Debug for SigningKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRow")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl From<&SigningKey> for SigningKeyRow {
    fn from(key: &SigningKey) -> Self {
        Self {
            kid: key.kid.clone(),
            algorithm: key.algorithm.as_str().to_owned(),
            private_key: key.private_key.expose().to_vec(),
            public_key: key.public_key.clone(),
            created_at: to_db_time(key.created_at),
            retired_at: key.retired_at.map(to_db_time),
        }
    }
}

impl TryFrom<SigningKeyRow> for SigningKey {
    type Error = Error;

    fn try_from(row: SigningKeyRow) -> Result<Self, Error> {
        Ok(Self {
            algorithm: row
                .algorithm
                .parse::<SigningAlgorithm>()
                .map_err(|error| BadStoredValue::error("signing_keys.algorithm", error))?,
            kid: row.kid,
            private_key: SigningKeyMaterial::new(row.private_key),
            public_key: row.public_key,
            created_at: from_db_time(row.created_at),
            retired_at: row.retired_at.map(from_db_time),
        })
    }
}

/// An audit event as written; the id is assigned by the database.
#[derive(Debug, Insertable)]
#[diesel(table_name = auth_events, check_for_backend(MultiBackend), treat_none_as_default_value = false)]
pub(crate) struct NewAuthEventRow {
    pub at: NaiveDateTime,
    pub kind: &'static str,
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub code: Option<&'static str>,
    pub actor_id: Option<String>,
}

impl From<&AuthEvent> for NewAuthEventRow {
    fn from(event: &AuthEvent) -> Self {
        Self {
            at: to_db_time(event.at),
            kind: event.kind.as_str(),
            user_id: event.user_id.map(|id| id.to_string()),
            session_id: event.session_id.map(|id| id.to_string()),
            ip: event.client.ip.map(|ip| ip.to_string()),
            user_agent: event.client.user_agent.clone(),
            code: event.code,
            actor_id: event.actor.map(|id| id.to_string()),
        }
    }
}

/// A stored audit event as read back (the id only orders events of one instant, so
/// it is not selected).
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = auth_events, check_for_backend(MultiBackend))]
pub(crate) struct AuthEventRow {
    pub at: NaiveDateTime,
    pub kind: String,
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub code: Option<String>,
    pub actor_id: Option<String>,
}

impl TryFrom<AuthEventRow> for AuditRecord {
    type Error = Error;

    fn try_from(row: AuthEventRow) -> Result<Self, Error> {
        Ok(Self {
            at: from_db_time(row.at),
            kind: row.kind,
            user_id: parse_optional_id("auth_events.user_id", row.user_id)?,
            session_id: parse_optional_id("auth_events.session_id", row.session_id)?,
            // Stored as text and returned as text: the trail shows what was recorded.
            ip: row.ip,
            user_agent: row.user_agent,
            code: row.code,
            actor: parse_optional_id("auth_events.actor_id", row.actor_id)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn user_row() -> UserRow {
        UserRow {
            id: "0195a0b4-6c1e-7000-8000-000000000001".into(),
            email: "alice@example.com".into(),
            password_hash: "$argon2id$...".into(),
            roles: "user admin".into(),
            created_at: Utc
                .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
                .unwrap()
                .naive_utc(),
            disabled_at: None,
        }
    }

    fn session_row() -> SessionRow {
        let at = Utc
            .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
            .unwrap()
            .naive_utc();
        SessionRow {
            id: "0195a0b4-6c1e-7000-8000-000000000002".into(),
            user_id: "0195a0b4-6c1e-7000-8000-000000000001".into(),
            created_at: at,
            absolute_expires_at: at,
            last_refreshed_at: at,
            revoked_at: None,
            revocation_reason: None,
            ip: Some("192.0.2.1".into()),
            user_agent: None,
        }
    }

    #[test]
    fn a_good_row_makes_a_user_with_its_roles() {
        let user = User::try_from(user_row()).unwrap();
        let roles: Vec<&str> = user.roles.iter().map(Role::as_str).collect();
        assert_eq!(roles, ["user", "admin"]);
        assert_eq!(UserRow::from(&user).roles, "user admin");
    }

    #[test]
    fn bad_stored_values_are_unexpected_errors_not_panics() {
        let bad_users = [
            UserRow {
                id: "not-a-uuid".into(),
                ..user_row()
            },
            UserRow {
                email: "no-at-sign".into(),
                ..user_row()
            },
            UserRow {
                roles: "user Admin!".into(),
                ..user_row()
            },
        ];
        for row in bad_users {
            assert!(matches!(User::try_from(row), Err(Error::Unexpected(_))));
        }
        let bad_sessions = [
            SessionRow {
                ip: Some("300.1.1.1".into()),
                ..session_row()
            },
            SessionRow {
                revocation_reason: Some("bored".into()),
                ..session_row()
            },
            SessionRow {
                user_id: String::new(),
                ..session_row()
            },
        ];
        for row in bad_sessions {
            assert!(matches!(Session::try_from(row), Err(Error::Unexpected(_))));
        }
        let token = RefreshTokenRow {
            id: "0195a0b4-6c1e-7000-8000-000000000003".into(),
            session_id: "0195a0b4-6c1e-7000-8000-000000000002".into(),
            generation: -1,
            token_hash: vec![1],
            issued_at: session_row().created_at,
            used_at: None,
            sealed_successor: None,
        };
        assert!(matches!(token.into_parts(), Err(Error::Unexpected(_))));
        let key = SigningKeyRow {
            kid: "k".into(),
            algorithm: "none".into(),
            private_key: vec![],
            public_key: vec![],
            created_at: session_row().created_at,
            retired_at: None,
        };
        assert!(matches!(
            SigningKey::try_from(key),
            Err(Error::Unexpected(_))
        ));
        let bad_events = [
            AuthEventRow {
                user_id: Some("not-a-uuid".into()),
                ..event_row()
            },
            AuthEventRow {
                session_id: Some(String::new()),
                ..event_row()
            },
            AuthEventRow {
                actor_id: Some("admin".into()),
                ..event_row()
            },
        ];
        for row in bad_events {
            assert!(matches!(
                AuditRecord::try_from(row),
                Err(Error::Unexpected(_))
            ));
        }
    }

    fn event_row() -> AuthEventRow {
        AuthEventRow {
            at: session_row().created_at,
            kind: "logout".into(),
            user_id: Some("0195a0b4-6c1e-7000-8000-000000000001".into()),
            session_id: Some("0195a0b4-6c1e-7000-8000-000000000002".into()),
            ip: Some("192.0.2.1".into()),
            user_agent: None,
            code: None,
            actor_id: Some("0195a0b4-6c1e-7000-8000-000000000003".into()),
        }
    }

    #[test]
    fn a_good_event_row_makes_a_record_with_its_ids() {
        let record = AuditRecord::try_from(event_row()).unwrap();
        assert_eq!(
            record.actor.map(|id| id.to_string()).as_deref(),
            Some("0195a0b4-6c1e-7000-8000-000000000003")
        );
        assert!(record.user_id.is_some() && record.session_id.is_some());
        assert_eq!(record.kind, "logout");
    }

    #[test]
    fn stored_instants_keep_whole_microseconds() {
        let instant = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()
            + chrono::TimeDelta::nanoseconds(1_234_567_891);
        let stored = to_db_time(instant);
        assert_eq!(from_db_time(stored).timestamp_subsec_nanos(), 234_567_000);
    }
}
