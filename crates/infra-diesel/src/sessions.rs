//! `SessionRepository` over `sessions` and `refresh_tokens`, with the rotation
//! transaction that never spends a token twice.

use async_trait::async_trait;
use diesel::prelude::*;
use tessera_application::Error;
use tessera_application::ports::{
    RefreshTokenRecord, Rotation, RotationOutcome, SessionRepository,
};
use tessera_domain::{
    Instant, RefreshToken, RefreshTokenId, RevocationReason, Session, SessionId, User, UserId,
};

use crate::Database;
use crate::connection::{AnyConnection, write_transaction};
use crate::error::{BadStoredValue, query_error};
use crate::prepared::{SlideSession, SpendParent};
use crate::rows::{RefreshTokenRow, SessionRow, UserRow, to_db_time};
use crate::schema::{refresh_tokens, sessions, users};

const ENTITY: &str = "session";

/// Sessions and their refresh-token families in the database.
#[derive(Debug, Clone)]
pub struct DieselSessionRepository {
    database: Database,
}

/// Why a rotation transaction did not commit.
enum RotationAbort {
    /// A condition of the compare-and-swap did not hold: roll back, report `Lost`.
    Lost,
    Failed(Error),
}

impl From<diesel::result::Error> for RotationAbort {
    fn from(error: diesel::result::Error) -> Self {
        Self::Failed(query_error(error, ENTITY))
    }
}

impl DieselSessionRepository {
    pub const fn new(database: Database) -> Self {
        Self { database }
    }
}

/// The rotation transaction. Each statement is conditional, so the outcome is decided
/// by the database and not by what the caller read earlier:
///
/// 1. compare-and-swap on the parent: only an unused parent of a session that is
///    live at `now` is marked used. Under concurrency exactly one caller changes the
///    row; the others see zero rows (PostgreSQL re-checks the condition after waiting
///    for the winner's row lock; SQLite runs one writer at a time).
/// 2. the successor is inserted (the unique indexes also refuse a second unused token
///    or a second token of one generation, should this logic ever be wrong).
/// 3. the session slides only if it is still not revoked. Step 1's subquery does not
///    lock the session row, so on PostgreSQL (read committed) a revocation can commit
///    between steps 1 and 3; it makes this zero rows and the whole rotation is rolled
///    back, so no write ever resurrects a revoked session. (Tested by blocking a
///    rotation behind an uncommitted revocation.)
fn rotate_in_transaction(
    connection: &mut AnyConnection,
    rotation: &Rotation,
    successor: &RefreshTokenRow,
) -> Result<(), RotationAbort> {
    let now = to_db_time(rotation.now);
    let session_id = rotation.session_id.to_string();
    let spent = SpendParent {
        now,
        sealed_successor: rotation.sealed_successor.as_bytes().to_vec(),
        parent: rotation.parent.to_string(),
        session: session_id.clone(),
    }
    .execute(connection)?;
    if spent != 1 {
        return Err(RotationAbort::Lost);
    }
    diesel::insert_into(refresh_tokens::table)
        .values(successor)
        .execute(connection)?;
    let slid = SlideSession {
        now,
        session: session_id,
    }
    .execute(connection)?;
    if slid != 1 {
        return Err(RotationAbort::Lost);
    }
    Ok(())
}

#[async_trait]
impl SessionRepository for DieselSessionRepository {
    #[tracing::instrument(level = "debug", skip_all, fields(session = %session.id))]
    async fn create(
        &self,
        session: &Session,
        first_token: &RefreshToken,
        hash: &tessera_application::RefreshTokenHash,
    ) -> Result<(), Error> {
        if first_token.session_id != session.id {
            return Err(Error::unexpected(
                "the first refresh token belongs to another session",
            ));
        }
        let session_row = SessionRow::from(session);
        let token_row = RefreshTokenRow::new(first_token, hash)?;
        self.database
            .run(move |connection| {
                write_transaction(connection, |connection| {
                    diesel::insert_into(sessions::table)
                        .values(&session_row)
                        .execute(connection)?;
                    diesel::insert_into(refresh_tokens::table)
                        .values(&token_row)
                        .execute(connection)
                })
                .map_err(|error| query_error(error, ENTITY))?;
                Ok(())
            })
            .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(token = %id))]
    async fn find_refresh_token(
        &self,
        id: RefreshTokenId,
    ) -> Result<Option<RefreshTokenRecord>, Error> {
        let found = self
            .database
            .read(
                |reads| reads.token_with_session(id),
                move |connection| {
                    refresh_tokens::table
                        .inner_join(sessions::table.left_join(users::table))
                        .filter(refresh_tokens::id.eq(id.to_string()))
                        .select((
                            RefreshTokenRow::as_select(),
                            SessionRow::as_select(),
                            Option::<UserRow>::as_select(),
                        ))
                        .first::<(RefreshTokenRow, SessionRow, Option<UserRow>)>(connection)
                        .optional()
                        .map_err(|error| query_error(error, ENTITY))
                },
            )
            .await?;
        let Some((token, session, user)) = found else {
            return Ok(None);
        };
        let (token, hash, sealed_successor) = token.into_parts()?;
        Ok(Some(RefreshTokenRecord {
            token,
            hash,
            sealed_successor,
            session: Session::try_from(session)?,
            user: user.map(User::try_from).transpose()?,
        }))
    }

    #[tracing::instrument(
        level = "debug",
        skip_all,
        fields(session = %rotation.session_id, parent = %rotation.parent)
    )]
    async fn rotate(&self, rotation: Rotation) -> Result<RotationOutcome, Error> {
        if rotation.successor.session_id != rotation.session_id {
            return Err(Error::unexpected(
                "the successor refresh token belongs to another session",
            ));
        }
        let successor = RefreshTokenRow::new(&rotation.successor, &rotation.successor_hash)?;
        self.database
            .run(move |connection| {
                match write_transaction(connection, |connection| {
                    rotate_in_transaction(connection, &rotation, &successor)
                }) {
                    Ok(()) => Ok(RotationOutcome::Rotated),
                    Err(RotationAbort::Lost) => Ok(RotationOutcome::Lost),
                    Err(RotationAbort::Failed(error)) => Err(error),
                }
            })
            .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(session = %id, reason = reason.as_str()))]
    async fn revoke(
        &self,
        id: SessionId,
        reason: RevocationReason,
        now: Instant,
    ) -> Result<bool, Error> {
        self.database
            .run(move |connection| {
                let changed = diesel::update(sessions::table)
                    .filter(sessions::id.eq(id.to_string()))
                    .filter(sessions::revoked_at.is_null())
                    .set((
                        sessions::revoked_at.eq(to_db_time(now)),
                        sessions::revocation_reason.eq(reason.as_str()),
                    ))
                    .execute(connection)
                    .map_err(|error| query_error(error, ENTITY))?;
                Ok(changed == 1)
            })
            .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(session = %id))]
    async fn find_session(&self, id: SessionId) -> Result<Option<Session>, Error> {
        self.database
            .run(move |connection| {
                sessions::table
                    .filter(sessions::id.eq(id.to_string()))
                    .select(SessionRow::as_select())
                    .first(connection)
                    .optional()
                    .map_err(|error| query_error(error, ENTITY))?
                    .map(Session::try_from)
                    .transpose()
            })
            .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(session = %id))]
    async fn find_session_with_user(
        &self,
        id: SessionId,
    ) -> Result<Option<(Session, Option<User>)>, Error> {
        let found = self
            .database
            .read(
                |reads| reads.session_with_user(id),
                move |connection| {
                    sessions::table
                        .left_join(users::table)
                        .filter(sessions::id.eq(id.to_string()))
                        .select((SessionRow::as_select(), Option::<UserRow>::as_select()))
                        .first::<(SessionRow, Option<UserRow>)>(connection)
                        .optional()
                        .map_err(|error| query_error(error, ENTITY))
                },
            )
            .await?;
        let Some((session, user)) = found else {
            return Ok(None);
        };
        Ok(Some((
            Session::try_from(session)?,
            user.map(User::try_from).transpose()?,
        )))
    }

    /// The user's sessions that are not revoked and not past their absolute end at
    /// `now`, most recent login first (the session list, SPEC §4).
    #[tracing::instrument(level = "debug", skip_all, fields(user = %user))]
    async fn list_active_for_user(
        &self,
        user: UserId,
        now: Instant,
    ) -> Result<Vec<Session>, Error> {
        self.database
            .run(move |connection| {
                sessions::table
                    .filter(sessions::user_id.eq(user.to_string()))
                    .filter(sessions::revoked_at.is_null())
                    .filter(sessions::absolute_expires_at.gt(to_db_time(now)))
                    .order((sessions::created_at.desc(), sessions::id.desc()))
                    .select(SessionRow::as_select())
                    .load(connection)
                    .map_err(|error| query_error(error, ENTITY))?
                    .into_iter()
                    .map(Session::try_from)
                    .collect()
            })
            .await
    }

    /// Revokes every live session of the user except `keep` (logout-all, password
    /// change, disabling a user) and returns the ids it revoked, for the revocation
    /// list.
    #[tracing::instrument(level = "debug", skip_all, fields(user = %user, reason = reason.as_str()))]
    async fn revoke_all_for_user(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        reason: RevocationReason,
        now: Instant,
    ) -> Result<Vec<SessionId>, Error> {
        self.database
            .run(move |connection| {
                let mut query = diesel::update(sessions::table)
                    .filter(sessions::user_id.eq(user.to_string()))
                    .filter(sessions::revoked_at.is_null())
                    .into_boxed();
                if let Some(keep) = keep {
                    query = query.filter(sessions::id.ne(keep.to_string()));
                }
                let revoked: Vec<String> = query
                    .set((
                        sessions::revoked_at.eq(to_db_time(now)),
                        sessions::revocation_reason.eq(reason.as_str()),
                    ))
                    .returning(sessions::id)
                    .get_results(connection)
                    .map_err(|error| query_error(error, ENTITY))?;
                revoked
                    .iter()
                    .map(|id| {
                        id.parse()
                            .map_err(|error| BadStoredValue::error("sessions.id", error))
                    })
                    .collect()
            })
            .await
    }

    /// Housekeeping (SPEC §6): deletes sessions, with their tokens, that ended before
    /// `cutoff` (absolute end or revocation), and clears sealed responses of tokens
    /// used before `sealed_cutoff` (the grace window has passed, so nobody may open
    /// them again). Returns the number of sessions deleted.
    #[tracing::instrument(level = "debug", skip_all)]
    async fn purge(&self, cutoff: Instant, sealed_cutoff: Instant) -> Result<usize, Error> {
        self.database
            .run(move |connection| {
                let cutoff = to_db_time(cutoff);
                let deleted = diesel::delete(sessions::table)
                    .filter(
                        sessions::absolute_expires_at
                            .lt(cutoff)
                            .or(sessions::revoked_at.lt(cutoff)),
                    )
                    .execute(connection)
                    .map_err(|error| query_error(error, ENTITY))?;
                diesel::update(refresh_tokens::table)
                    .filter(refresh_tokens::sealed_successor.is_not_null())
                    .filter(refresh_tokens::used_at.lt(to_db_time(sealed_cutoff)))
                    .set(refresh_tokens::sealed_successor.eq(None::<Vec<u8>>))
                    .execute(connection)
                    .map_err(|error| query_error(error, ENTITY))?;
                Ok(deleted)
            })
            .await
    }

    /// Sessions revoked at or after `since`, oldest revocation first (the partial
    /// index on `revoked_at` serves it). Refills the revocation list at start.
    #[tracing::instrument(level = "debug", skip_all)]
    async fn revoked_since(&self, since: Instant) -> Result<Vec<Session>, Error> {
        self.database
            .run(move |connection| {
                sessions::table
                    .filter(sessions::revoked_at.ge(to_db_time(since)))
                    .order((sessions::revoked_at.asc(), sessions::id.asc()))
                    .select(SessionRow::as_select())
                    .load(connection)
                    .map_err(|error| query_error(error, ENTITY))?
                    .into_iter()
                    .map(Session::try_from)
                    .collect()
            })
            .await
    }
}
