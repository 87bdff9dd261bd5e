//! Use case: e-mail and password in, a new session and its first token pair out.

use chrono::SubsecRound;
use tessera_domain::{
    ClientContext, EmailAddress, Instant, Password, RefreshRefusal, RefreshToken, Session, User,
    UserStanding,
};

use crate::ports::PasswordCheck;
use crate::throttle::Guarded;
use crate::{AccessClaims, AuthEventKind, AuthService, Error, GrantSecrets, TokenGrant};

impl AuthService {
    /// Checks the password (the same work and answer for an unknown e-mail as for a
    /// wrong password), upgrades an outdated hash, and starts a session.
    ///
    /// Throttled first, before any lookup or hashing: the caller's IP bucket, then the
    /// backoff of the account named by `email` — kept for any address, registered or
    /// not, so a refusal tells nothing about which exist. A failure counts towards the
    /// backoff; a success clears it.
    ///
    /// # Errors
    /// `RateLimited`; `InvalidCredentials`; `Refused(UserDisabled)` for a disabled user
    /// who gave the right password; infrastructure errors.
    pub async fn login(
        &self,
        email: &EmailAddress,
        password: &Password,
        client: &ClientContext,
    ) -> Result<TokenGrant, Error> {
        let arrived = self.ports.clock.now();
        self.throttle_ip(Guarded::Login, client, arrived).await?;
        let failures = self.check_login_backoff(email, client, arrived).await?;
        let user = self.ports.users.find_by_email(email).await?;
        let stored_hash = user.as_ref().map(|user| user.password_hash.clone());
        let check = self.ports.passwords.verify(password, stored_hash).await?;
        let now = self.ports.clock.now();
        let user = match (user, check) {
            (Some(user), PasswordCheck::Match | PasswordCheck::MatchNeedsRehash) => user,
            (user, _) => {
                self.record_login_failure(email, now).await;
                let user_id = user.map(|user| user.id);
                self.audit(AuthEventKind::LoginFailed, now, user_id, None, client, None)
                    .await;
                return Err(Error::InvalidCredentials);
            }
        };
        if user.standing() == UserStanding::Disabled {
            let code = Some(RefreshRefusal::UserDisabled.code());
            self.audit(
                AuthEventKind::LoginFailed,
                now,
                Some(user.id),
                None,
                client,
                code,
            )
            .await;
            return Err(RefreshRefusal::UserDisabled.into());
        }
        if check == PasswordCheck::MatchNeedsRehash {
            self.upgrade_password_hash(&user, password).await;
        }
        let grant = self.start_session(&user, client, now).await?;
        if failures.is_some() {
            self.clear_login_failures(email).await;
        }
        self.audit(
            AuthEventKind::LoginSucceeded,
            now,
            Some(user.id),
            Some(grant.session_id),
            client,
            None,
        )
        .await;
        Ok(grant)
    }

    /// A failed upgrade is logged, not fatal: the old hash still verifies.
    async fn upgrade_password_hash(&self, user: &User, password: &Password) {
        let upgraded = match self.ports.passwords.hash(password).await {
            Ok(hash) => self.ports.users.update_password_hash(user.id, &hash).await,
            Err(error) => Err(error),
        };
        if let Err(error) = upgraded {
            tracing::warn!(user = %user.id, error = %error, "password hash not upgraded");
        }
    }

    async fn start_session(
        &self,
        user: &User,
        client: &ClientContext,
        now: Instant,
    ) -> Result<TokenGrant, Error> {
        let session = Session::start(
            self.ports.ids.session_id(),
            user.id,
            client.clone(),
            now,
            &self.policy,
        );
        let minted = self.ports.refresh_tokens.mint();
        let first = RefreshToken::first(minted.id, session.id, now);
        let secrets = GrantSecrets {
            access_token: self.issue_access_token(user, &session, now)?,
            access_expires_at: self.access_expires_at(&session, now),
            refresh_token: minted.plain,
        };
        self.ports
            .sessions
            .create(&session, &first, &minted.hash)
            .await?;
        self.record_activity(&session, now).await;
        Ok(self.grant(&session, secrets, now))
    }

    /// An access token for `user` in `session`, with the user's current roles.
    pub(crate) fn issue_access_token(
        &self,
        user: &User,
        session: &Session,
        now: Instant,
    ) -> Result<crate::AccessToken, Error> {
        let claims = AccessClaims {
            user_id: user.id,
            session_id: session.id,
            token_id: self.ports.ids.token_id(),
            issued_at: now,
            expires_at: self.access_expires_at(session, now),
            roles: user.roles.clone(),
        };
        self.ports.access_tokens.issue(&claims)
    }

    /// When an access token issued at `now` expires, in whole seconds: JWT `exp` is a
    /// whole number of seconds, and `expires_in` must not promise more than `exp` keeps.
    pub(crate) fn access_expires_at(&self, session: &Session, now: Instant) -> Instant {
        session
            .access_expires_at(now, &self.policy)
            .trunc_subsecs(0)
    }

    /// The response for `secrets`, with lifetimes counted from `now`.
    pub(crate) fn grant(
        &self,
        session: &Session,
        secrets: GrantSecrets,
        now: Instant,
    ) -> TokenGrant {
        TokenGrant {
            user_id: session.user_id,
            session_id: session.id,
            expires_in: (secrets.access_expires_at - now).max(tessera_domain::TimeDelta::zero()),
            access_token: secrets.access_token,
            refresh_token: secrets.refresh_token,
            refresh_expires_in: session.refresh_expires_in(now, &self.policy),
        }
    }

    /// Activity is best effort: the refresh path falls back to `last_refreshed_at`.
    pub(crate) async fn record_activity(&self, session: &Session, now: Instant) {
        if let Err(error) = self.ports.activity.record(session.id, now).await {
            tracing::warn!(session = %session.id, error = %error, "activity not recorded");
        }
    }
}
