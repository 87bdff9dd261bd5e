//! `AuditSink` over the `auth_events` table, and its retention.

use async_trait::async_trait;
use diesel::prelude::*;
use tessera_application::ports::AuditSink;
use tessera_application::{AuthEvent, Error};
use tessera_domain::Instant;

use crate::Database;
use crate::error::query_error;
use crate::rows::{NewAuthEventRow, to_db_time};
use crate::schema::auth_events;

const ENTITY: &str = "audit event";

/// Audit events in the database.
#[derive(Debug, Clone)]
pub struct DieselAuditSink {
    database: Database,
}

impl DieselAuditSink {
    pub const fn new(database: Database) -> Self {
        Self { database }
    }

    /// Deletes events older than `cutoff` (the configured retention, SPEC §6) and
    /// returns how many.
    ///
    /// # Errors
    /// Only infrastructure errors.
    pub async fn purge_before(&self, cutoff: Instant) -> Result<usize, Error> {
        self.database
            .run(move |connection| {
                diesel::delete(auth_events::table)
                    .filter(auth_events::at.lt(to_db_time(cutoff)))
                    .execute(connection)
                    .map_err(|error| query_error(error, ENTITY))
            })
            .await
    }
}

#[async_trait]
impl AuditSink for DieselAuditSink {
    #[tracing::instrument(level = "debug", skip_all, fields(kind = event.kind.as_str()))]
    async fn record(&self, event: &AuthEvent) -> Result<(), Error> {
        let row = NewAuthEventRow::from(event);
        self.database
            .run(move |connection| {
                diesel::insert_into(auth_events::table)
                    .values(&row)
                    .execute(connection)
                    .map_err(|error| query_error(error, ENTITY))?;
                Ok(())
            })
            .await
    }
}
