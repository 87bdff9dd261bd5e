//! Use case: change one's password, ending every other session.

use tessera_domain::{ClientContext, Password, RevocationReason};

use crate::ports::PasswordCheck;
use crate::{AuthEventKind, AuthService, Error, Principal};

impl AuthService {
    /// Checks the current password, revokes every session of the user but the caller's
    /// (a thief holding another session is out), and stores a hash of the new one.
    ///
    /// # Errors
    /// `RateLimited` (the caller's IP bucket); `InvalidCredentials` when `current` is
    /// wrong; `NotFound("user")`; infrastructure errors.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &Password,
        new: &Password,
        client: &ClientContext,
    ) -> Result<(), Error> {
        let arrived = self.ports.clock.now();
        self.throttle_ip(crate::throttle::Guarded::PasswordChange, client, arrived)
            .await?;
        let user = self
            .ports
            .users
            .find_by_id(principal.user_id)
            .await?
            .ok_or(Error::NotFound("user"))?;
        let check = self
            .ports
            .passwords
            .verify(current, Some(user.password_hash.clone()))
            .await?;
        let now = self.ports.clock.now();
        if check == PasswordCheck::Mismatch {
            self.audit(
                AuthEventKind::PasswordChangeFailed,
                now,
                Some(user.id),
                principal.session_id,
                client,
                Some("invalid_credentials"),
            )
            .await;
            return Err(Error::InvalidCredentials);
        }
        let hash = self.ports.passwords.hash(new).await?;
        // Other sessions end before the new hash is stored: if the store then fails,
        // the user retries with the old password, and no session a thief may hold
        // outlives a password change that did happen.
        self.end_sessions_of(
            user.id,
            principal.session_id,
            RevocationReason::PasswordChange,
            now,
        )
        .await?;
        self.ports
            .users
            .update_password_hash(user.id, &hash)
            .await?;
        self.audit(
            AuthEventKind::PasswordChanged,
            now,
            Some(user.id),
            principal.session_id,
            client,
            None,
        )
        .await;
        Ok(())
    }
}
