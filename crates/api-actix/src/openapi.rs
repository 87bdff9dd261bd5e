//! The parts of the OpenAPI document that no endpoint declares: info, tags, the
//! security schemes (a bearer token, or one obtained with the OAuth password flow so
//! Swagger UI's Authorize button can log in). Paths and schemas come from the
//! endpoints themselves.

use utoipa::openapi::security::{
    Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityRequirement,
    SecurityScheme,
};
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
        (name = "oauth", description = "OAuth 2.0: token, revocation and introspection endpoints, server metadata, the public signing keys"),
        (name = "operations", description = "Health, readiness and metrics")
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
        components.add_security_scheme(
            BASIC,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "A resource server's client id and secret (`TESSERA_INTROSPECTION_CLIENTS`)",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            METRICS,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The scrape token `TESSERA_METRICS_TOKEN`, when one is set",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            OAUTH2,
            SecurityScheme::OAuth2(OAuth2::with_description(
                [Flow::Password(Password::with_refresh_url(
                    "/oauth/token",
                    Scopes::new(),
                    "/oauth/token",
                ))],
                "Log in with e-mail (as username) and password; the access token is sent as a bearer token. Leave client_id and client_secret empty.",
            )),
        );
    }
}

/// The name of the HTTP Basic scheme of resource-server clients.
const BASIC: &str = "basic";

/// The name of the scheme of `GET /metrics` scrapes.
const METRICS: &str = "metrics";

/// The name of the OAuth password-flow scheme.
const OAUTH2: &str = "oauth2";

pub(crate) fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// Completes the document once the endpoints have added their paths: every operation
/// that takes a bearer token also accepts one from the password flow, so a token got
/// through Swagger UI's Authorize button is sent to it.
pub(crate) fn finish(mut api: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    for item in api.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            // Only operations that take a bearer token: client (Basic) authentication
            // is not something a password-flow token can stand in for.
            let takes_bearer = operation.security.as_ref().is_some_and(|security| {
                serde_json::to_value(security)
                    .is_ok_and(|value| value.to_string().contains("\"bearer\""))
            });
            if let Some(security) = &mut operation.security
                && takes_bearer
            {
                security.push(SecurityRequirement::new(OAUTH2, Vec::<String>::new()));
            }
        }
    }
    api
}
