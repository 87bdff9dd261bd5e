//! The service that runs every use case, and the ports it is built from.

use std::sync::Arc;

use tessera_domain::{ClientContext, Instant, SessionId, SessionPolicy, TimeDelta, UserId};

use crate::ports::{
    AccessTokenCodec, ActivityStore, AuditSink, Clock, IdGenerator, LegacyTokenVerifier,
    PasswordHasher, RefreshTokenCodec, RevocationList, SessionRepository, UserRepository,
};
use crate::{AuthEvent, AuthEventKind, IntrospectionClients};

/// Every port the use cases call.
#[derive(Clone)]
pub struct Ports {
    pub users: Arc<dyn UserRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub activity: Arc<dyn ActivityStore>,
    pub revocations: Arc<dyn RevocationList>,
    pub access_tokens: Arc<dyn AccessTokenCodec>,
    pub refresh_tokens: Arc<dyn RefreshTokenCodec>,
    pub passwords: Arc<dyn PasswordHasher>,
    pub audit: Arc<dyn AuditSink>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    /// Set during a migration from a system whose HS256 tokens must keep working.
    pub legacy_tokens: Option<Arc<dyn LegacyTokenVerifier>>,
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ports").finish_non_exhaustive()
    }
}

/// Switches of the service that are not session policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceOptions {
    /// Whether `register` accepts new users.
    pub registration_open: bool,
    /// The clock-skew leeway the access-token codec grants past `exp`. A revoked
    /// session stays in the revocation list that much longer, or its last access token
    /// would work again once the entry lapsed.
    pub clock_leeway: TimeDelta,
    /// How long audit events are kept before housekeeping deletes them.
    pub audit_retention: TimeDelta,
}

impl Default for ServiceOptions {
    /// Registration open, SPEC §3's 30 s leeway, 90 days of audit events.
    fn default() -> Self {
        Self {
            registration_open: true,
            clock_leeway: TimeDelta::seconds(30),
            audit_retention: TimeDelta::days(90),
        }
    }
}

/// Register, login, refresh, logout and authenticate, each in its own module.
#[derive(Debug, Clone)]
pub struct AuthService {
    pub(crate) ports: Ports,
    pub(crate) policy: SessionPolicy,
    pub(crate) options: ServiceOptions,
    /// Resource servers allowed to introspect tokens; none by default.
    pub(crate) introspection_clients: Arc<IntrospectionClients>,
    /// Per-IP and per-account throttling; `None` throttles nothing.
    pub(crate) throttling: Option<crate::Throttling>,
}

impl AuthService {
    pub fn new(ports: Ports, policy: SessionPolicy, options: ServiceOptions) -> Self {
        Self {
            ports,
            policy,
            options,
            introspection_clients: Arc::default(),
            throttling: None,
        }
    }

    /// The policy every lifetime comes from.
    pub const fn policy(&self) -> &SessionPolicy {
        &self.policy
    }

    /// Audits a decision the user made themself (no separate actor).
    pub(crate) async fn audit(
        &self,
        kind: AuthEventKind,
        at: Instant,
        user_id: Option<UserId>,
        session_id: Option<SessionId>,
        client: &ClientContext,
        code: Option<&'static str>,
    ) {
        self.record_audit(AuthEvent {
            at,
            kind,
            user_id,
            session_id,
            client: client.clone(),
            code,
            actor: None,
        })
        .await;
    }

    /// Writes an audit event to the sink and to the log. A failing sink is logged and
    /// does not fail the request: the decision has been made and the log keeps it.
    pub(crate) async fn record_audit(&self, event: AuthEvent) {
        tracing::info!(
            target: "tessera::audit",
            event = event.kind.as_str(),
            user = event.user_id.map(|id| id.to_string()),
            session = event.session_id.map(|id| id.to_string()),
            ip = event.client.ip.map(|ip| ip.to_string()),
            user_agent = event.client.user_agent.as_deref(),
            code = event.code,
            actor = event.actor.map(|id| id.to_string()),
            "auth event"
        );
        if let Err(error) = self.ports.audit.record(&event).await {
            tracing::error!(error = %error, event = event.kind.as_str(), "audit event not stored");
        }
    }
}
