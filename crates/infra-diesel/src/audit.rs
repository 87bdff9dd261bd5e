//! `AuditSink` over the `auth_events` table: recording, reading back for operators,
//! and retention.

use async_trait::async_trait;
use diesel::prelude::*;
use tessera_application::ports::AuditSink;
use tessera_application::{AuditQuery, AuditRecord, AuthEvent, Error};
use tessera_domain::Instant;

use crate::Database;
use crate::error::query_error;
use crate::rows::{AuthEventRow, NewAuthEventRow, to_db_time};
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

    /// Events at or after `query.since`, of `query.user_id` when given, newest first
    /// (events of one instant by insertion order, latest first), at most
    /// `query.limit`.
    #[tracing::instrument(level = "debug", skip_all, fields(limit = query.limit))]
    async fn events(&self, query: AuditQuery) -> Result<Vec<AuditRecord>, Error> {
        // A limit beyond what SQL can express means "all of them".
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        self.database
            .run(move |connection| {
                let mut select = auth_events::table
                    .filter(auth_events::at.ge(to_db_time(query.since)))
                    .into_boxed();
                if let Some(user) = query.user_id {
                    select = select.filter(auth_events::user_id.eq(user.to_string()));
                }
                select
                    .order((auth_events::at.desc(), auth_events::id.desc()))
                    .limit(limit)
                    .select(AuthEventRow::as_select())
                    .load(connection)
                    .map_err(|error| query_error(error, ENTITY))?
                    .into_iter()
                    .map(AuditRecord::try_from)
                    .collect()
            })
            .await
    }

    /// Deletes events older than `cutoff` (the configured retention, SPEC §6) and
    /// returns how many.
    #[tracing::instrument(level = "debug", skip_all)]
    async fn purge_before(&self, cutoff: Instant) -> Result<usize, Error> {
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
