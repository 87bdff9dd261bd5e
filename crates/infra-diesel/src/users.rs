//! `UserRepository` over the `users` table.

use async_trait::async_trait;
use diesel::prelude::*;
use tessera_application::Error;
use tessera_application::ports::UserRepository;
use tessera_domain::{EmailAddress, Instant, PasswordHash, User, UserId};

use crate::Database;
use crate::connection::{AnyConnection, MultiBackend};
use crate::error::query_error;
use crate::rows::{UserRow, to_db_time};
use crate::schema::users;

const ENTITY: &str = "user";

type UserQuery = users::BoxedQuery<'static, MultiBackend>;

/// User accounts in the database.
#[derive(Debug, Clone)]
pub struct DieselUserRepository {
    database: Database,
}

impl DieselUserRepository {
    pub const fn new(database: Database) -> Self {
        Self { database }
    }

    /// The one user `filter` selects, if any.
    fn find(
        connection: &mut AnyConnection,
        filter: impl FnOnce(UserQuery) -> UserQuery,
    ) -> Result<Option<User>, Error> {
        filter(users::table.into_boxed())
            .select(UserRow::as_select())
            .first(connection)
            .optional()
            .map_err(|error| query_error(error, ENTITY))?
            .map(User::try_from)
            .transpose()
    }
}

#[async_trait]
impl UserRepository for DieselUserRepository {
    #[tracing::instrument(level = "debug", skip_all, fields(user = %user.id))]
    async fn insert(&self, user: &User) -> Result<(), Error> {
        let row = UserRow::from(user);
        self.database
            .run(move |connection| {
                diesel::insert_into(users::table)
                    .values(&row)
                    .execute(connection)
                    .map_err(|error| query_error(error, ENTITY))?;
                Ok(())
            })
            .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn find_by_email(&self, email: &EmailAddress) -> Result<Option<User>, Error> {
        let address = email.as_str().to_owned();
        self.database
            .read(
                |reads| async move {
                    let found = reads.user_by_email(email.as_str()).await?;
                    Some(found.and_then(|row| row.map(User::try_from).transpose()))
                },
                move |connection| {
                    Self::find(connection, |query| query.filter(users::email.eq(address)))
                },
            )
            .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user = %id))]
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, Error> {
        self.database
            .run(move |connection| {
                Self::find(connection, |query| {
                    query.filter(users::id.eq(id.to_string()))
                })
            })
            .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user = %id))]
    async fn update_password_hash(&self, id: UserId, hash: &PasswordHash) -> Result<(), Error> {
        let hash = hash.as_str().to_owned();
        self.database
            .run(move |connection| {
                let changed = diesel::update(users::table)
                    .filter(users::id.eq(id.to_string()))
                    .set(users::password_hash.eq(hash))
                    .execute(connection)
                    .map_err(|error| query_error(error, ENTITY))?;
                if changed == 0 {
                    Err(Error::NotFound(ENTITY))
                } else {
                    Ok(())
                }
            })
            .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user = %id, disabled = disabled_at.is_some()))]
    async fn set_disabled(&self, id: UserId, disabled_at: Option<Instant>) -> Result<(), Error> {
        self.database
            .run(move |connection| {
                // Both backends count a matched row as changed even when the value
                // stays the same, so zero rows means no such user.
                let changed = diesel::update(users::table)
                    .filter(users::id.eq(id.to_string()))
                    .set(users::disabled_at.eq(disabled_at.map(to_db_time)))
                    .execute(connection)
                    .map_err(|error| query_error(error, ENTITY))?;
                if changed == 0 {
                    Err(Error::NotFound(ENTITY))
                } else {
                    Ok(())
                }
            })
            .await
    }
}
