//! The parts of the OpenAPI document that no endpoint declares: info, tags, the
//! bearer security scheme. Paths and schemas come from the endpoints themselves.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tessera",
        description = "Sessions for API clients: short-lived JWT access tokens, rotating refresh tokens, sliding sessions with idle and absolute limits, reuse detection.",
        license(name = "Apache-2.0")
    ),
    tags(
        (name = "auth", description = "Register, log in, refresh, log out"),
        (name = "sessions", description = "The caller's sessions and password"),
        (name = "admin", description = "Operators: look users up, end their sessions, disable them (role `admin`)"),
        (name = "operations", description = "Health and readiness")
    ),
    modifiers(&BearerScheme)
)]
struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

pub(crate) fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
