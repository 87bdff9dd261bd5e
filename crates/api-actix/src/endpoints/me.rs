//! `GET /v1/auth/me`: the caller's user and session.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use tessera_application::AuthService;
use utoipa::ToSchema;

use crate::dto::{SessionView, UserView};
use crate::problem::Problem;
use crate::{ApiError, Authenticated};

#[derive(Serialize, ToSchema)]
pub(crate) struct MeResponse {
    user: UserView,
    /// `null` for a legacy access token, which belongs to no session.
    session: Option<SessionView>,
}

/// The user behind the access token and the session it belongs to.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = MeResponse),
        (status = 401, description = "`unauthorized` or `session_revoked`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: the user was deleted while the session lived", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "`internal_error`: an unexpected error (logged, never shown)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/auth/me")]
pub(crate) async fn me(
    service: web::Data<AuthService>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let (user, session) = service.current_user(&caller.principal).await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(MeResponse {
            user: UserView::from(&user),
            session: session.as_ref().map(SessionView::from),
        }))
}
