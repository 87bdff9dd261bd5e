//! `GET /v1/admin/users?email=`: an admin looks a user up by e-mail.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tessera_application::{Actor, AuthService};
use tessera_domain::{EmailAddress, InvalidInput, User};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::problem::Problem;
use crate::{ApiError, Authenticated};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct UserQuery {
    /// The user's e-mail address.
    #[param(example = "ada@example.com")]
    email: String,
}

impl UserQuery {
    fn try_into_domain(self) -> Result<EmailAddress, InvalidInput> {
        EmailAddress::parse(&self.email)
    }
}

/// A user as an admin sees it.
#[derive(Serialize, ToSchema)]
pub(crate) struct AdminUserView {
    id: Uuid,
    email: String,
    roles: Vec<String>,
    created_at: DateTime<Utc>,
    /// Disabled users cannot log in or refresh.
    disabled: bool,
}

impl From<&User> for AdminUserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.as_uuid(),
            email: user.email.as_str().to_owned(),
            roles: user
                .roles
                .iter()
                .map(|role| role.as_str().to_owned())
                .collect(),
            created_at: user.created_at,
            disabled: user.disabled_at.is_some(),
        }
    }
}

/// Find a user by e-mail (admins only).
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    params(UserQuery),
    responses(
        (status = 200, description = "The user", body = AdminUserView),
        (status = 400, description = "Missing or invalid e-mail", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized` or `session_revoked`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller lacks the `admin` role", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No user with this e-mail", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "`internal_error`: an unexpected error (logged, never shown)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/admin/users")]
pub(crate) async fn find_user(
    service: web::Data<AuthService>,
    caller: Authenticated,
    query: web::Query<UserQuery>,
) -> Result<HttpResponse, ApiError> {
    let email = query
        .into_inner()
        .try_into_domain()
        .map_err(tessera_application::Error::from)?;
    let user = service
        .find_user(Actor::Admin(&caller.principal), &email)
        .await?;
    Ok(super::private_json(AdminUserView::from(&user)))
}
