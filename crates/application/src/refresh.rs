//! Use case: rotate a refresh token (SPEC §2), idempotent inside the grace window.

use tessera_domain::{
    ClientContext, Instant, RefreshAction, RefreshAttempt, RefreshRefusal, RevocationReason,
    Session,
};

use crate::ports::{RefreshTokenRecord, Rotation, RotationOutcome};
use crate::{AuthEventKind, AuthService, Error, GrantSecrets, PresentedRefreshToken, TokenGrant};

/// A lost rotation race is followed by a fresh read, which then sees the winner's
/// write. More than a few losses in a row means something else is wrong.
const MAX_ROTATION_ATTEMPTS: usize = 3;

impl AuthService {
    /// Exchanges a refresh token for a new token pair.
    ///
    /// Concurrent calls with the same token are safe: exactly one rotates; the others,
    /// inside the grace window, receive the very same response (opened from the sealed
    /// copy the winner stored). A replay after the window revokes the session.
    ///
    /// # Errors
    /// `RateLimited` (the caller's IP bucket, checked first); `Refused` with the first
    /// rule of SPEC §2 that refuses; infrastructure errors.
    pub async fn refresh(
        &self,
        presented: &str,
        client: &ClientContext,
    ) -> Result<TokenGrant, Error> {
        let arrived = self.ports.clock.now();
        self.throttle_ip(crate::throttle::Guarded::Refresh, client, arrived)
            .await?;
        let Some(presented) = self.ports.refresh_tokens.parse(presented) else {
            let now = self.ports.clock.now();
            return Err(self
                .refused(RefreshRefusal::TokenInvalid, None, now, client)
                .await);
        };
        for _ in 0..MAX_ROTATION_ATTEMPTS {
            if let Some(grant) = self.try_refresh(&presented, client).await? {
                return Ok(grant);
            }
        }
        Err(Error::unexpected(
            "refresh token rotation lost the race repeatedly",
        ))
    }

    /// One read-decide-write round. `Ok(None)` means the write lost a race.
    async fn try_refresh(
        &self,
        presented: &PresentedRefreshToken,
        client: &ClientContext,
    ) -> Result<Option<TokenGrant>, Error> {
        let record = self.genuine_refresh_token(presented).await?;
        let (recorded_activity, activity_unavailable) = match &record {
            Some(record) => self.last_seen(&record.session).await,
            None => (None, false),
        };
        let now = self.ports.clock.now();
        let attempt = record.as_ref().map(|record| RefreshAttempt {
            token: &record.token,
            session: &record.session,
            user: record.user_standing(),
            recorded_activity,
            client,
            now,
        });
        let decision = match self.policy.decide_refresh(attempt) {
            Ok(decision) => decision,
            Err(refusal) => {
                if refusal.revokes_session()
                    && let Some(record) = &record
                {
                    self.revoke_for_reuse(&record.session, now, client).await?;
                    return Err(refusal.into());
                }
                let session = record.as_ref().map(|record| &record.session);
                return Err(self.refused(refusal, session, now, client).await);
            }
        };
        // `decide_refresh` refuses `None`, so a decision always has its record.
        let Some(record) = record else {
            return Err(Error::unexpected("refresh decided without a token record"));
        };
        // The audit trail notes what the decision tolerated.
        let code = decision
            .ip_changed
            .then_some("ip_changed")
            .or(activity_unavailable.then_some("activity_unavailable"));
        let grant = match decision.action {
            RefreshAction::RepeatWithinGrace => {
                let grant = self.repeat(presented, &record, now)?;
                self.audit_refresh(
                    AuthEventKind::RefreshRepeated,
                    &record.session,
                    now,
                    client,
                    code,
                )
                .await;
                grant
            }
            RefreshAction::Rotate => {
                let Some(grant) = self.rotate(presented, &record, now).await? else {
                    return Ok(None);
                };
                self.record_activity(&record.session, now).await;
                self.audit_refresh(AuthEventKind::Refreshed, &record.session, now, client, code)
                    .await;
                grant
            }
        };
        Ok(Some(grant))
    }

    /// The stored record of a genuine refresh token: found by id, then its keyed hash
    /// compared in constant time. A token whose hash does not match is unknown.
    pub(crate) async fn genuine_refresh_token(
        &self,
        presented: &PresentedRefreshToken,
    ) -> Result<Option<RefreshTokenRecord>, Error> {
        Ok(self
            .ports
            .sessions
            .find_refresh_token(presented.id)
            .await?
            .filter(|record| self.ports.refresh_tokens.matches(presented, &record.hash)))
    }

    /// The activity store's record, and whether the store failed. If it is unreachable
    /// the policy falls back to `last_refreshed_at`, which can only make the idle
    /// timeout stricter.
    pub(crate) async fn last_seen(&self, session: &Session) -> (Option<Instant>, bool) {
        match self.ports.activity.last_seen(session.id).await {
            Ok(seen) => (seen, false),
            Err(error) => {
                tracing::warn!(
                    target: "tessera::audit",
                    session = %session.id,
                    error = %error,
                    "activity store unavailable; idle timeout falls back to last_refreshed_at"
                );
                (None, true)
            }
        }
    }

    /// Rule 8. `Ok(None)` when another request rotated the token first.
    async fn rotate(
        &self,
        presented: &PresentedRefreshToken,
        record: &RefreshTokenRecord,
        now: Instant,
    ) -> Result<Option<TokenGrant>, Error> {
        let Some(user) = &record.user else {
            return Err(Error::unexpected("rotation decided for a missing user"));
        };
        let mut session = record.session.clone();
        session.last_refreshed_at = now;
        let minted = self.ports.refresh_tokens.mint();
        let successor = record.token.successor(minted.id, now);
        let secrets = GrantSecrets {
            access_token: self.issue_access_token(user, &session, now)?,
            access_expires_at: self.access_expires_at(&session, now),
            refresh_token: minted.plain,
        };
        let sealed_successor = self.ports.refresh_tokens.seal(&presented.plain, &secrets)?;
        let rotation = Rotation {
            parent: record.token.id,
            session_id: session.id,
            now,
            sealed_successor,
            successor,
            successor_hash: minted.hash,
        };
        match self.ports.sessions.rotate(rotation).await? {
            RotationOutcome::Rotated => Ok(Some(self.grant(&session, secrets, now))),
            RotationOutcome::Lost => Ok(None),
        }
    }

    /// Rule 7 inside the window: the first response, opened with the parent token.
    fn repeat(
        &self,
        presented: &PresentedRefreshToken,
        record: &RefreshTokenRecord,
        now: Instant,
    ) -> Result<TokenGrant, Error> {
        let secrets = record
            .sealed_successor
            .as_ref()
            .and_then(|sealed| self.ports.refresh_tokens.open(&presented.plain, sealed))
            .ok_or_else(|| Error::unexpected("rotated token has no sealed successor to repeat"))?;
        Ok(self.grant(&record.session, secrets, now))
    }

    async fn revoke_for_reuse(
        &self,
        session: &Session,
        now: Instant,
        client: &ClientContext,
    ) -> Result<(), Error> {
        self.end_session(session, RevocationReason::Reuse, now)
            .await?;
        self.audit(
            AuthEventKind::ReuseDetected,
            now,
            Some(session.user_id),
            Some(session.id),
            client,
            Some(RefreshRefusal::Reused.code()),
        )
        .await;
        Ok(())
    }

    async fn refused(
        &self,
        refusal: RefreshRefusal,
        session: Option<&Session>,
        now: Instant,
        client: &ClientContext,
    ) -> Error {
        self.audit(
            AuthEventKind::RefreshRefused,
            now,
            session.map(|session| session.user_id),
            session.map(|session| session.id),
            client,
            Some(refusal.code()),
        )
        .await;
        Error::Refused(refusal)
    }

    async fn audit_refresh(
        &self,
        kind: AuthEventKind,
        session: &Session,
        now: Instant,
        client: &ClientContext,
        code: Option<&'static str>,
    ) {
        self.audit(
            kind,
            now,
            Some(session.user_id),
            Some(session.id),
            client,
            code,
        )
        .await;
    }
}
