//! The OpenAPI document is part of the contract: a change to it must be a visible diff
//! of `openapi.snapshot.json`, and every API operation documents its errors.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed unwrap is a failed test"
)]

use std::path::Path;

use serde_json::Value;

const SNAPSHOT: &str = "openapi.snapshot.json";

fn document() -> Value {
    serde_json::to_value(tessera_api_actix::openapi_document()).unwrap()
}

#[test]
fn the_document_matches_the_committed_snapshot() {
    let current = serde_json::to_string_pretty(&document()).unwrap() + "\n";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SNAPSHOT);
    if std::env::var_os("UPDATE_OPENAPI_SNAPSHOT").is_some() {
        std::fs::write(&path, &current).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == current,
        "the OpenAPI document changed; review it and run \
         `UPDATE_OPENAPI_SNAPSHOT=1 cargo test -p tessera-api-actix --test openapi` \
         to accept the change into crates/api-actix/{SNAPSHOT}"
    );
}

#[test]
fn every_endpoint_of_the_contract_is_documented() {
    let document = document();
    let paths = document["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/auth/register", "post"),
        ("/v1/auth/login", "post"),
        ("/v1/auth/refresh", "post"),
        ("/v1/auth/logout", "post"),
        ("/v1/auth/logout-all", "post"),
        ("/v1/auth/me", "get"),
        ("/v1/auth/sessions", "get"),
        ("/v1/auth/sessions/{id}", "delete"),
        ("/v1/auth/password", "post"),
        ("/v1/admin/users", "get"),
        ("/v1/admin/users/{user_id}/sessions", "get"),
        ("/v1/admin/users/{user_id}/sessions", "delete"),
        ("/v1/admin/users/{user_id}/disable", "post"),
        ("/v1/admin/users/{user_id}/enable", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/oauth/token", "post"),
        ("/oauth/revoke", "post"),
        ("/.well-known/oauth-authorization-server", "get"),
        ("/.well-known/jwks.json", "get"),
    ] {
        assert!(
            paths[path][method].is_object(),
            "{method} {path} is not documented"
        );
    }
}

#[test]
fn every_auth_operation_documents_its_problem_responses() {
    let document = document();
    for (path, item) in document["paths"].as_object().unwrap() {
        if !path.starts_with("/v1/") {
            continue;
        }
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            let problems: Vec<_> = responses
                .iter()
                .filter(|(status, _)| status.starts_with('4') || status.starts_with('5'))
                .collect();
            assert!(!problems.is_empty(), "{method} {path} documents no error");
            for (status, response) in problems {
                let schema = &response["content"]["application/problem+json"]["schema"]["$ref"];
                assert_eq!(
                    schema, "#/components/schemas/Problem",
                    "{method} {path} {status} must answer with the Problem body"
                );
            }
        }
    }
}

#[test]
fn protected_operations_declare_the_bearer_scheme() {
    let document = document();
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    for (path, method) in [
        ("/v1/auth/logout", "post"),
        ("/v1/auth/logout-all", "post"),
        ("/v1/auth/me", "get"),
        ("/v1/auth/sessions", "get"),
        ("/v1/auth/sessions/{id}", "delete"),
        ("/v1/auth/password", "post"),
    ]
    .into_iter()
    .chain(ADMIN_OPERATIONS)
    {
        let security = &document["paths"][path][method]["security"];
        assert!(
            security.to_string().contains("bearer"),
            "{method} {path}: {security}"
        );
    }
}

const ADMIN_OPERATIONS: [(&str, &str); 5] = [
    ("/v1/admin/users", "get"),
    ("/v1/admin/users/{user_id}/sessions", "get"),
    ("/v1/admin/users/{user_id}/sessions", "delete"),
    ("/v1/admin/users/{user_id}/disable", "post"),
    ("/v1/admin/users/{user_id}/enable", "post"),
];

#[test]
fn admin_operations_are_tagged_admin_and_document_forbidden() {
    let document = document();
    for (path, method) in ADMIN_OPERATIONS {
        let operation = &document["paths"][path][method];
        assert_eq!(operation["tags"][0], "admin", "{method} {path}");
        assert!(
            operation["responses"]["403"].is_object(),
            "{method} {path} must document 403"
        );
    }
}

#[test]
fn path_ids_are_documented_as_path_parameters() {
    let document = document();
    for (path, method, name) in [
        ("/v1/auth/sessions/{id}", "delete", "id"),
        ("/v1/admin/users/{user_id}/sessions", "get", "user_id"),
        ("/v1/admin/users/{user_id}/sessions", "delete", "user_id"),
        ("/v1/admin/users/{user_id}/disable", "post", "user_id"),
        ("/v1/admin/users/{user_id}/enable", "post", "user_id"),
    ] {
        let parameters = document["paths"][path][method]["parameters"]
            .as_array()
            .unwrap();
        assert!(
            parameters
                .iter()
                .any(|parameter| parameter["name"] == name && parameter["in"] == "path"),
            "{method} {path}: {parameters:?}"
        );
    }
}

const OAUTH_OPERATIONS: [(&str, &str); 4] = [
    ("/oauth/token", "post"),
    ("/oauth/revoke", "post"),
    ("/.well-known/oauth-authorization-server", "get"),
    ("/.well-known/jwks.json", "get"),
];

#[test]
fn oauth_operations_are_tagged_oauth() {
    let document = document();
    for (path, method) in OAUTH_OPERATIONS {
        assert_eq!(
            document["paths"][path][method]["tags"][0], "oauth",
            "{method} {path}"
        );
    }
}

#[test]
fn oauth_endpoints_take_forms_and_answer_errors_in_rfc_6749_form() {
    let document = document();
    for path in ["/oauth/token", "/oauth/revoke"] {
        let operation = &document["paths"][path]["post"];
        assert!(
            operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
                .is_object(),
            "{path} must take a form"
        );
        for status in ["400", "500", "503"] {
            assert_eq!(
                operation["responses"][status]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/OAuthErrorBody",
                "{path} {status}"
            );
        }
    }
}

#[test]
fn swagger_ui_can_authorize_with_the_password_flow_on_every_protected_operation() {
    let document = document();
    let flow = &document["components"]["securitySchemes"]["oauth2"]["flows"]["password"];
    assert_eq!(flow["tokenUrl"], "/oauth/token");
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let security = operation["security"].to_string();
            assert_eq!(
                security.contains("bearer"),
                security.contains("oauth2"),
                "{method} {path}: {security}"
            );
        }
    }
}
