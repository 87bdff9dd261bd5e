//! Secrets the server makes once and every node shares, in the `server_secrets` table.

use diesel::prelude::*;
use tessera_application::Error;
use tessera_domain::Instant;

use crate::Database;
use crate::error::query_error;
use crate::rows::to_db_time;
use crate::schema::server_secrets;

const ENTITY: &str = "server secret";

/// The name under which the refresh-token pepper is kept.
pub const TOKEN_PEPPER: &str = "token_pepper";

/// Named secrets in the database.
#[derive(Debug, Clone)]
pub struct DieselServerSecrets {
    database: Database,
}

impl DieselServerSecrets {
    pub const fn new(database: Database) -> Self {
        Self { database }
    }

    /// The stored value of `name`; if there is none, stores `candidate` and returns
    /// it. When two nodes race, the first insert wins and both return its value.
    ///
    /// # Errors
    /// Infrastructure errors.
    pub async fn get_or_insert(
        &self,
        name: &'static str,
        candidate: Vec<u8>,
        now: Instant,
    ) -> Result<Vec<u8>, Error> {
        self.database
            .run(move |connection| {
                let stored = |connection: &mut _| {
                    server_secrets::table
                        .find(name)
                        .select(server_secrets::value)
                        .first::<Vec<u8>>(connection)
                        .optional()
                        .map_err(|error| query_error(error, ENTITY))
                };
                if let Some(value) = stored(connection)? {
                    return Ok(value);
                }
                let inserted = diesel::insert_into(server_secrets::table)
                    .values((
                        server_secrets::name.eq(name),
                        server_secrets::value.eq(&candidate),
                        server_secrets::created_at.eq(to_db_time(now)),
                    ))
                    .execute(connection)
                    .map_err(|error| query_error(error, ENTITY));
                match inserted {
                    Ok(_) => Ok(candidate),
                    Err(Error::Conflict(_)) => stored(connection)?.ok_or_else(|| {
                        Error::unexpected("server secret vanished after a conflict")
                    }),
                    Err(error) => Err(error),
                }
            })
            .await
    }
}
