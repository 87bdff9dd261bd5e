//! The audit sink decorator that counts auth events for the metrics, then hands them
//! to the real sink: one place sees every auth decision, so no handler counts.

use std::sync::Arc;

use async_trait::async_trait;
use tessera_application::ports::AuditSink;
use tessera_application::{AuditQuery, AuditRecord, AuthEvent, Error};
use tessera_domain::Instant;

use super::Metrics;

pub(super) struct CountingAuditSink {
    inner: Arc<dyn AuditSink>,
    metrics: Metrics,
}

impl CountingAuditSink {
    pub(super) fn new(inner: Arc<dyn AuditSink>, metrics: Metrics) -> Self {
        Self { inner, metrics }
    }
}

#[async_trait]
impl AuditSink for CountingAuditSink {
    async fn record(&self, event: &AuthEvent) -> Result<(), Error> {
        self.metrics.count_event(event);
        self.inner.record(event).await
    }

    async fn events(&self, query: AuditQuery) -> Result<Vec<AuditRecord>, Error> {
        self.inner.events(query).await
    }

    async fn purge_before(&self, cutoff: Instant) -> Result<usize, Error> {
        self.inner.purge_before(cutoff).await
    }
}
