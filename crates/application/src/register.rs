//! Use case: create a user, by self-service registration or by an operator.

use tessera_domain::{ClientContext, EmailAddress, Password, Role, User};

use crate::{AuthEventKind, AuthService, Error};

impl AuthService {
    /// Self-service registration: a user with the default role.
    ///
    /// # Errors
    /// `RegistrationClosed`, `RateLimited` (the caller's IP bucket),
    /// `Conflict("user")` when the e-mail is taken, or infrastructure errors.
    pub async fn register(
        &self,
        email: EmailAddress,
        password: Password,
        client: &ClientContext,
    ) -> Result<User, Error> {
        if !self.options.registration_open {
            return Err(Error::RegistrationClosed);
        }
        let arrived = self.ports.clock.now();
        self.throttle_ip(crate::throttle::Guarded::Register, client, arrived)
            .await?;
        self.create_user(email, password, vec![Role::user()], client)
            .await
    }

    /// Creates a user with the given roles, whether or not registration is open (the
    /// operator's `tessera user create`).
    ///
    /// # Errors
    /// `Conflict("user")` when the e-mail is taken, or infrastructure errors.
    pub async fn create_user(
        &self,
        email: EmailAddress,
        password: Password,
        roles: Vec<Role>,
        client: &ClientContext,
    ) -> Result<User, Error> {
        let password_hash = self.ports.passwords.hash(&password).await?;
        let now = self.ports.clock.now();
        let user = User {
            id: self.ports.ids.user_id(),
            email,
            password_hash,
            roles,
            created_at: now,
            disabled_at: None,
        };
        self.ports.users.insert(&user).await?;
        self.audit(
            AuthEventKind::Registered,
            now,
            Some(user.id),
            None,
            client,
            None,
        )
        .await;
        Ok(user)
    }
}
