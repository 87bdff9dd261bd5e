//! `Statistics` for the metrics endpoint: counts over `sessions` and the pool's state.

use async_trait::async_trait;
use diesel::prelude::*;
use tessera_application::Error;
use tessera_application::ports::{PoolUsage, Statistics};
use tessera_domain::Instant;

use crate::Database;
use crate::error::query_error;
use crate::rows::to_db_time;
use crate::schema::sessions;

/// Counts in the database, for gauges.
#[derive(Debug, Clone)]
pub struct DieselStatistics {
    database: Database,
}

impl DieselStatistics {
    pub const fn new(database: Database) -> Self {
        Self { database }
    }
}

#[async_trait]
impl Statistics for DieselStatistics {
    /// One `COUNT(*)`; `sessions_absolute_expires_at_idx` bounds the rows it reads to
    /// sessions not yet past their absolute end (the purge deletes the others).
    async fn live_sessions(&self, now: Instant, active_since: Instant) -> Result<u64, Error> {
        let count: i64 = self
            .database
            .run(move |connection| {
                sessions::table
                    .filter(sessions::revoked_at.is_null())
                    .filter(sessions::absolute_expires_at.gt(to_db_time(now)))
                    .filter(sessions::last_refreshed_at.ge(to_db_time(active_since)))
                    .count()
                    .get_result(connection)
                    .map_err(|error| query_error(error, "session"))
            })
            .await?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    fn pool(&self) -> PoolUsage {
        self.database.pool_usage()
    }
}
