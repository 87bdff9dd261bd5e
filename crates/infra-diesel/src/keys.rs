//! `SigningKeyRepository` over the `signing_keys` table.

use async_trait::async_trait;
use diesel::prelude::*;
use tessera_application::ports::SigningKeyRepository;
use tessera_application::{Error, SigningKey};
use tessera_domain::Instant;

use crate::Database;
use crate::error::query_error;
use crate::rows::{SigningKeyRow, to_db_time};
use crate::schema::signing_keys;

const ENTITY: &str = "signing key";

/// Signing keys in the database, shared by every node.
#[derive(Debug, Clone)]
pub struct DieselSigningKeyRepository {
    database: Database,
}

impl DieselSigningKeyRepository {
    pub const fn new(database: Database) -> Self {
        Self { database }
    }
}

#[async_trait]
impl SigningKeyRepository for DieselSigningKeyRepository {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn list(&self) -> Result<Vec<SigningKey>, Error> {
        self.database
            .run(|connection| {
                signing_keys::table
                    // `kid` breaks ties so the order is the same on every node.
                    .order((signing_keys::created_at.desc(), signing_keys::kid.desc()))
                    .select(SigningKeyRow::as_select())
                    .load(connection)
                    .map_err(|error| query_error(error, ENTITY))?
                    .into_iter()
                    .map(SigningKey::try_from)
                    .collect()
            })
            .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(kid = %key.kid))]
    async fn insert(&self, key: &SigningKey) -> Result<(), Error> {
        let row = SigningKeyRow::from(key);
        self.database
            .run(move |connection| {
                diesel::insert_into(signing_keys::table)
                    .values(&row)
                    .execute(connection)
                    .map_err(|error| query_error(error, ENTITY))?;
                Ok(())
            })
            .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(keep = %keep))]
    async fn retire_all_except(&self, keep: &str, at: Instant) -> Result<usize, Error> {
        let keep = keep.to_owned();
        let at = to_db_time(at);
        self.database
            .run(move |connection| {
                diesel::update(
                    signing_keys::table
                        .filter(signing_keys::kid.ne(keep))
                        .filter(signing_keys::retired_at.is_null()),
                )
                .set(signing_keys::retired_at.eq(Some(at)))
                .execute(connection)
                .map_err(|error| query_error(error, ENTITY))
            })
            .await
    }
}
