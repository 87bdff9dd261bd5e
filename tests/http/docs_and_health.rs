//! The documentation the server serves (OpenAPI and an offline Swagger UI) and its
//! health endpoints.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, spawn_app};

on_both_backends!(
    the_openapi_document_lists_every_endpoint_with_its_problem_responses,
    swagger_ui_is_served_offline_under_docs,
    health_and_readiness_answer_when_the_database_is_up,
);

const PATHS: [&str; 7] = [
    "/v1/auth/register",
    "/v1/auth/login",
    "/v1/auth/refresh",
    "/v1/auth/logout",
    "/v1/auth/me",
    "/healthz",
    "/readyz",
];

async fn the_openapi_document_lists_every_endpoint_with_its_problem_responses(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let reply = app.get("/openapi.json").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.content_type(), "application/json");
    let document = &reply.json;
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.")),
        "{}",
        reply.text
    );
    let paths = document["paths"].as_object().expect("paths");
    for path in PATHS {
        assert!(paths.contains_key(path), "{path} is not documented");
    }

    for (path, item) in paths {
        let operations = item.as_object().unwrap();
        assert!(!operations.is_empty(), "{path} has no operation");
        for (method, operation) in operations {
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|status| status.starts_with('2')),
                "{method} {path} documents no success"
            );
            // Health endpoints answer with their own `Health` body; everything the
            // API does documents its refusals as problem+json.
            if !path.starts_with("/v1/") {
                continue;
            }
            let problems: Vec<&String> = responses
                .iter()
                .filter(|(status, response)| {
                    status.starts_with('4')
                        && response["content"]["application/problem+json"]["schema"] != Value::Null
                })
                .map(|(status, _)| status)
                .collect();
            assert!(
                !problems.is_empty(),
                "{method} {path} documents no 4XX problem+json response: {responses:?}"
            );
        }
    }
    // The bearer-protected operations say so.
    for path in ["/v1/auth/logout", "/v1/auth/me"] {
        let operation = paths[path].as_object().unwrap().values().next().unwrap();
        assert!(
            operation["security"].to_string().contains("bearer"),
            "{path}: {operation}"
        );
    }
    let problem = &document["components"]["schemas"]["Problem"]["properties"];
    for field in ["type", "title", "status", "detail", "code"] {
        assert!(
            problem[field].is_object(),
            "Problem lacks {field}: {problem}"
        );
    }
}

/// Every `src="..."` and `href="..."` in `html`.
fn references(html: &str) -> Vec<&str> {
    let mut found = Vec::new();
    for attribute in ["src=\"", "href=\"", "src='", "href='"] {
        let quote = &attribute[attribute.len() - 1..];
        let mut rest = html;
        while let Some(start) = rest.find(attribute) {
            rest = &rest[start + attribute.len()..];
            let end = rest.find(quote).unwrap_or(rest.len());
            found.push(&rest[..end]);
            rest = &rest[end..];
        }
    }
    found
}

async fn swagger_ui_is_served_offline_under_docs(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let redirect = app.get("/docs").await;
    assert!(redirect.status.is_redirection(), "{redirect:?}");
    assert!(
        redirect
            .header("location")
            .is_some_and(|location| location.ends_with("/docs/")),
        "{redirect:?}"
    );

    let page = app.get("/docs/").await;
    assert_eq!(page.status, StatusCode::OK, "{page:?}");
    assert_eq!(page.content_type(), "text/html");
    assert!(page.text.contains("swagger-ui"), "{}", page.text);
    let referenced = references(&page.text);
    assert!(!referenced.is_empty(), "{}", page.text);
    for reference in &referenced {
        assert!(
            !reference.starts_with("http:")
                && !reference.starts_with("https:")
                && !reference.starts_with("//"),
            "the docs page loads {reference} from elsewhere"
        );
    }
    // Everything it loads is served here; the initializer points at our spec and
    // turns the external validator off.
    let mut saw_initializer = false;
    for reference in &referenced {
        let path = format!("/docs/{}", reference.trim_start_matches("./"));
        let served = app.get(&path).await;
        assert_eq!(served.status, StatusCode::OK, "{path}");
        if reference.contains("swagger-initializer") {
            saw_initializer = true;
            assert!(served.text.contains("\"/openapi.json\""), "{}", served.text);
            assert!(
                served
                    .text
                    .lines()
                    .any(|line| line.contains("validatorUrl") && line.contains("\"none\"")),
                "{}",
                served.text
            );
            assert!(!served.text.contains("petstore"), "{}", served.text);
        }
    }
    assert!(saw_initializer, "{referenced:?}");
}

async fn health_and_readiness_answer_when_the_database_is_up(backend: Backend) {
    let Some(app) = spawn_app(backend, &[]).await else {
        return;
    };
    let health = app.get("/healthz").await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json["status"], "ok");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::OK, "{ready:?}");
    assert_eq!(ready.json["status"], "ready");
    assert_eq!(ready.json["checks"]["database"], "ok");
}
