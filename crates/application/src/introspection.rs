//! Use case: token introspection (RFC 7662) for configured resource-server clients.
//! It reads and decides; it never rotates, revokes or records activity.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use tessera_domain::{
    ClientContext, Instant, Password, PasswordHash, RefreshAttempt, Role, SessionId, UserId,
};

use crate::ports::PasswordCheck;
use crate::{AuthService, Error};

/// The resource servers allowed to introspect: client id → Argon2id PHC hash of its
/// secret. The secrets themselves are never configured or kept.
#[derive(Clone, Default)]
pub struct IntrospectionClients {
    clients: BTreeMap<String, PasswordHash>,
}

impl IntrospectionClients {
    /// Adds (or replaces) a client.
    #[must_use]
    pub fn with(mut self, client_id: impl Into<String>, secret_hash: PasswordHash) -> Self {
        self.clients.insert(client_id.into(), secret_hash);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// The configured client ids.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.clients.keys().map(String::as_str)
    }
}

impl fmt::Debug for IntrospectionClients {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.clients.keys()).finish()
    }
}

/// An active access token (RFC 7662 §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveAccessToken {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub issued_at: Instant,
    pub expires_at: Instant,
    pub roles: Vec<Role>,
}

/// An active refresh token: its session would still refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveRefreshToken {
    pub user_id: UserId,
    pub session_id: SessionId,
    /// The session's absolute end: no refresh token of it outlives that.
    pub expires_at: Instant,
}

/// What introspection says about a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Introspection {
    /// Unknown, garbage, expired, revoked, used: the answer gives no reason.
    Inactive,
    Access(ActiveAccessToken),
    Refresh(ActiveRefreshToken),
}

/// Stands in for a secret that cannot be a secret (empty, too long), so the hasher
/// still does its work and the answer takes the same time.
const NOT_A_SECRET: &str = "not-a-client-secret";

impl AuthService {
    /// The service with the resource servers allowed to introspect.
    #[must_use]
    pub fn with_introspection_clients(mut self, clients: IntrospectionClients) -> Self {
        self.introspection_clients = Arc::new(clients);
        self
    }

    /// Authenticates the client, then says whether `token` is active.
    ///
    /// Writes nothing and records no activity: a resource server asking about a token
    /// must not extend its session, rotate it, or trip reuse detection.
    ///
    /// # Errors
    /// `RateLimited` (the caller's IP bucket, checked before the secret is hashed);
    /// `InvalidClient` for an unknown client or a wrong secret (the hasher runs either
    /// way); infrastructure errors.
    pub async fn introspect(
        &self,
        client_id: &str,
        client_secret: &str,
        token: &str,
        client: &ClientContext,
    ) -> Result<Introspection, Error> {
        let arrived = self.ports.clock.now();
        self.throttle_ip(crate::throttle::Guarded::Introspection, client, arrived)
            .await?;
        self.authenticate_client(client_id, client_secret).await?;
        if let Some(presented) = self.ports.refresh_tokens.parse(token) {
            return self.introspect_refresh_token(&presented).await;
        }
        self.introspect_access_token(token).await
    }

    async fn authenticate_client(&self, client_id: &str, secret: &str) -> Result<(), Error> {
        let hash = self.introspection_clients.clients.get(client_id).cloned();
        let (password, well_formed) = match Password::new(secret) {
            Ok(password) => (password, true),
            Err(_) => (Password::new(NOT_A_SECRET)?, false),
        };
        let known = hash.is_some();
        let check = self.ports.passwords.verify(&password, hash).await?;
        match check {
            PasswordCheck::Match | PasswordCheck::MatchNeedsRehash if known && well_formed => {
                Ok(())
            }
            _ => Err(Error::InvalidClient),
        }
    }

    async fn introspect_access_token(&self, token: &str) -> Result<Introspection, Error> {
        let now = self.ports.clock.now();
        let Ok(claims) = self.ports.access_tokens.verify(token, now) else {
            return Ok(Introspection::Inactive);
        };
        if self.is_revoked(claims.session_id, now).await? {
            return Ok(Introspection::Inactive);
        }
        Ok(Introspection::Access(ActiveAccessToken {
            user_id: claims.user_id,
            session_id: claims.session_id,
            issued_at: claims.issued_at,
            expires_at: claims.expires_at,
            roles: claims.roles,
        }))
    }

    async fn introspect_refresh_token(
        &self,
        presented: &crate::PresentedRefreshToken,
    ) -> Result<Introspection, Error> {
        let Some(record) = self.genuine_refresh_token(presented).await? else {
            return Ok(Introspection::Inactive);
        };
        let (recorded_activity, _) = self.last_seen(&record.session).await;
        let now = self.ports.clock.now();
        // The holder's own client context: the resource server asking is not the
        // client the session is bound to, and binding is checked when it refreshes.
        let attempt = RefreshAttempt {
            token: &record.token,
            session: &record.session,
            user: record.user_standing(),
            recorded_activity,
            client: &record.session.client,
            now,
        };
        // The decision only: a refusal (even reuse) changes nothing here.
        if self.policy.decide_refresh(Some(attempt)).is_err() {
            return Ok(Introspection::Inactive);
        }
        Ok(Introspection::Refresh(ActiveRefreshToken {
            user_id: record.session.user_id,
            session_id: record.session.id,
            expires_at: record.session.absolute_expires_at,
        }))
    }
}
