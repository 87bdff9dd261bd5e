//! The rotation's two `UPDATE`s as statements diesel prepares once per connection.
//!
//! diesel 2.3 never caches an `UPDATE` built with its DSL (`UpdateStatement::walk_ast`
//! marks it unsafe to cache), so PostgreSQL parsed and planned both on every refresh —
//! the largest difference between a refresh and the same statements replayed prepared
//! by pgbench (docs/performance.md). Written out here with a static query id, they are
//! prepared on first use and reused. Same SQL on both backends; the placeholders are
//! the backend's own (`push_bind_param`).

use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{Binary, HasSqlType, Text, Timestamp};
use diesel::{QueryResult, RunQueryDsl};

/// Marks the parent token used and stores the sealed successor — only if it is unused
/// and its session is live (not revoked, before its absolute end at `now`): the
/// compare-and-swap that spends a refresh token at most once.
#[derive(Debug, QueryId)]
pub(crate) struct SpendParent {
    pub now: NaiveDateTime,
    pub sealed_successor: Vec<u8>,
    pub parent: String,
    pub session: String,
}

/// Slides the session to `now`, unless it was revoked meanwhile.
#[derive(Debug, QueryId)]
pub(crate) struct SlideSession {
    pub now: NaiveDateTime,
    pub session: String,
}

impl<DB> QueryFragment<DB> for SpendParent
where
    DB: Backend + HasSqlType<Timestamp> + HasSqlType<Binary> + HasSqlType<Text>,
    NaiveDateTime: ToSql<Timestamp, DB>,
    Vec<u8>: ToSql<Binary, DB>,
    String: ToSql<Text, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("UPDATE refresh_tokens SET used_at = ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(", sealed_successor = ");
        out.push_bind_param::<Binary, _>(&self.sealed_successor)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<Text, _>(&self.parent)?;
        out.push_sql(" AND used_at IS NULL AND session_id IN (SELECT id FROM sessions WHERE id = ");
        out.push_bind_param::<Text, _>(&self.session)?;
        out.push_sql(" AND revoked_at IS NULL AND absolute_expires_at > ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(")");
        Ok(())
    }
}

impl<DB> QueryFragment<DB> for SlideSession
where
    DB: Backend + HasSqlType<Timestamp> + HasSqlType<Text>,
    NaiveDateTime: ToSql<Timestamp, DB>,
    String: ToSql<Text, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("UPDATE sessions SET last_refreshed_at = ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<Text, _>(&self.session)?;
        out.push_sql(" AND revoked_at IS NULL");
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for SpendParent {}
impl<Conn> RunQueryDsl<Conn> for SlideSession {}
