//! Use cases for operators: see and end a user's sessions, disable or re-enable a
//! user. Admins act through the API; the `tessera` command acts as the operator.

use tessera_domain::{ClientContext, EmailAddress, RevocationReason, Role, User, UserId};

use crate::sessions::SessionOverview;
use crate::{AuthEvent, AuthEventKind, AuthService, Error, Principal};

/// Who performs an operator action.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    /// A user with the `admin` role, through the API.
    Admin(&'a Principal),
    /// Whoever runs the `tessera` command on the server.
    Operator,
}

impl Actor<'_> {
    /// The acting user's id for the audit trail, once the role is checked. Adapters
    /// call it to refuse a non-admin before anything else (e.g. parsing a path).
    ///
    /// # Errors
    /// `Forbidden("admin")` for a user without the `admin` role.
    pub fn authorize(self) -> Result<Option<UserId>, Error> {
        match self {
            Self::Admin(principal) if principal.has_role(&Role::admin()) => {
                Ok(Some(principal.user_id))
            }
            Self::Admin(_) => Err(Error::Forbidden("admin")),
            Self::Operator => Ok(None),
        }
    }
}

impl AuthService {
    /// The user with this e-mail (operators name users by address).
    ///
    /// # Errors
    /// `NotFound("user")`; infrastructure errors.
    pub async fn user_by_email(&self, email: &EmailAddress) -> Result<User, Error> {
        self.ports
            .users
            .find_by_email(email)
            .await?
            .ok_or(Error::NotFound("user"))
    }

    /// Looks a user up by e-mail for an admin.
    ///
    /// # Errors
    /// `Forbidden` for a non-admin; `NotFound("user")`; infrastructure errors.
    pub async fn find_user(&self, actor: Actor<'_>, email: &EmailAddress) -> Result<User, Error> {
        actor.authorize()?;
        self.user_by_email(email).await
    }

    /// A user's active sessions.
    ///
    /// # Errors
    /// `Forbidden` for a non-admin; `NotFound("user")`; infrastructure errors.
    pub async fn sessions_of_user(
        &self,
        actor: Actor<'_>,
        user: UserId,
    ) -> Result<Vec<SessionOverview>, Error> {
        actor.authorize()?;
        self.existing_user(user).await?;
        self.active_sessions(user, None).await
    }

    /// Ends every session of a user. Returns how many.
    ///
    /// # Errors
    /// `Forbidden` for a non-admin; `NotFound("user")`; infrastructure errors.
    pub async fn revoke_sessions_of_user(
        &self,
        actor: Actor<'_>,
        user: UserId,
        client: &ClientContext,
    ) -> Result<usize, Error> {
        let actor_id = actor.authorize()?;
        self.existing_user(user).await?;
        let now = self.ports.clock.now();
        let ended = self
            .end_sessions_of(user, None, RevocationReason::Admin, now)
            .await?;
        self.record_audit(AuthEvent {
            at: now,
            kind: AuthEventKind::LogoutAll,
            user_id: Some(user),
            session_id: None,
            client: client.clone(),
            code: Some("admin"),
            actor: actor_id,
        })
        .await;
        Ok(ended)
    }

    /// Disables a user (every session ends, refresh answers `user_disabled`, login is
    /// refused) or re-enables them (they log in again; ended sessions stay ended).
    ///
    /// # Errors
    /// `Forbidden` for a non-admin; `NotFound("user")`; infrastructure errors.
    pub async fn set_user_disabled(
        &self,
        actor: Actor<'_>,
        user: UserId,
        disabled: bool,
        client: &ClientContext,
    ) -> Result<(), Error> {
        let actor_id = actor.authorize()?;
        let now = self.ports.clock.now();
        self.ports
            .users
            .set_disabled(user, disabled.then_some(now))
            .await?;
        let kind = if disabled {
            self.end_sessions_of(user, None, RevocationReason::UserDisabled, now)
                .await?;
            AuthEventKind::UserDisabled
        } else {
            AuthEventKind::UserEnabled
        };
        self.record_audit(AuthEvent {
            at: now,
            kind,
            user_id: Some(user),
            session_id: None,
            client: client.clone(),
            code: None,
            actor: actor_id,
        })
        .await;
        Ok(())
    }

    async fn existing_user(&self, user: UserId) -> Result<User, Error> {
        self.ports
            .users
            .find_by_id(user)
            .await?
            .ok_or(Error::NotFound("user"))
    }
}
