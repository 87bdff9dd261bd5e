//! Use case: token revocation (RFC 7009). A client hands back a refresh token or an
//! access token of ours and the session it belongs to ends, as at logout.

use tessera_domain::{ClientContext, RevocationReason, Session};

use crate::{AuthEventKind, AuthService, Error, PresentedRefreshToken};

/// The audit note that tells a revocation from a `/v1/auth/logout`.
const REVOCATION_NOTE: &str = "token_revoked";

impl AuthService {
    /// Ends the session of `token`, a refresh token (any generation of the family) or
    /// an unexpired access token of ours. Anything else — unknown, garbage, expired, a
    /// session already ended — is `Ok` and changes nothing (RFC 7009 §2.2): the client
    /// wanted the token gone, and it is.
    ///
    /// Tessera's clients are public, so holding the token is the only proof asked for;
    /// whoever holds a refresh token could end its session by replaying it anyway.
    ///
    /// # Errors
    /// Infrastructure errors only.
    pub async fn revoke_token(&self, token: &str, client: &ClientContext) -> Result<(), Error> {
        let session = match self.ports.refresh_tokens.parse(token) {
            Some(presented) => self.session_of_refresh_token(&presented).await?,
            None => self.session_of_access_token(token).await?,
        };
        self.end_live_session(session, client, Some(REVOCATION_NOTE))
            .await
    }

    /// Logout of a browser that holds only its refresh-token cookie: the session of a
    /// genuine refresh token (any generation) ends. An unknown token, garbage or an
    /// ended session is `Ok`: the browser wanted to be signed out, and it is.
    ///
    /// # Errors
    /// Infrastructure errors only.
    pub async fn logout_with_refresh_token(
        &self,
        token: &str,
        client: &ClientContext,
    ) -> Result<(), Error> {
        let session = match self.ports.refresh_tokens.parse(token) {
            Some(presented) => self.session_of_refresh_token(&presented).await?,
            None => None,
        };
        self.end_live_session(session, client, None).await
    }

    /// Ends `session` if it is still live, audited as a logout with `note`.
    async fn end_live_session(
        &self,
        session: Option<Session>,
        client: &ClientContext,
        note: Option<&'static str>,
    ) -> Result<(), Error> {
        let now = self.ports.clock.now();
        let Some(session) = session.filter(|session| session.is_live_at(now)) else {
            return Ok(());
        };
        self.end_session(&session, RevocationReason::Logout, now)
            .await?;
        self.audit(
            AuthEventKind::Logout,
            now,
            Some(session.user_id),
            Some(session.id),
            client,
            note,
        )
        .await;
        Ok(())
    }

    /// The session of a genuine refresh token.
    async fn session_of_refresh_token(
        &self,
        presented: &PresentedRefreshToken,
    ) -> Result<Option<Session>, Error> {
        let record = self.genuine_refresh_token(presented).await?;
        Ok(record.map(|record| record.session))
    }

    /// The session of an access token that verifies now. A legacy token has none, and
    /// an expired one needs no revoking.
    async fn session_of_access_token(&self, token: &str) -> Result<Option<Session>, Error> {
        let now = self.ports.clock.now();
        let Ok(claims) = self.ports.access_tokens.verify(token, now) else {
            return Ok(None);
        };
        self.ports.sessions.find_session(claims.session_id).await
    }
}
