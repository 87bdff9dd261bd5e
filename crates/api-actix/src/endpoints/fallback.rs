//! Requests no route takes: 405 with `Allow` for a known path and another method,
//! 404 otherwise — both as problem+json, like every other error.

use std::sync::OnceLock;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};

use crate::problem::problem_response;

/// Each documented path, as segments (`{id}` matches any one segment), with its
/// methods. Taken from the OpenAPI document, which comes from the one route list.
fn known_routes() -> &'static [(Vec<String>, Vec<String>)] {
    static ROUTES: OnceLock<Vec<(Vec<String>, Vec<String>)>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        crate::openapi_document()
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let segments = path.split('/').map(str::to_owned).collect();
                let methods = serde_json::to_value(item)
                    .ok()
                    .and_then(|item| item.as_object().cloned())
                    .map(|item| {
                        item.keys()
                            .filter(|key| {
                                ["get", "post", "put", "patch", "delete"].contains(&key.as_str())
                            })
                            .map(|key| key.to_ascii_uppercase())
                            .collect()
                    })
                    .unwrap_or_default();
                (segments, methods)
            })
            .collect()
    })
}

fn matches(template: &[String], path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').collect();
    template.len() == segments.len()
        && template
            .iter()
            .zip(segments)
            // actix's `{id}` takes one or more characters: an empty segment is no match.
            .all(|(expected, actual)| {
                if expected.starts_with('{') {
                    !actual.is_empty()
                } else {
                    expected == actual
                }
            })
}

pub(crate) async fn unrouted(request: HttpRequest) -> HttpResponse {
    let path = request.path();
    if let Some((_, methods)) = known_routes()
        .iter()
        .find(|(template, _)| matches(template, path))
    {
        let mut response = problem_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{path} does not accept {}", request.method()),
        );
        if let Ok(allow) = header::HeaderValue::from_str(&methods.join(", ")) {
            response.headers_mut().insert(header::ALLOW, allow);
        }
        return response;
    }
    problem_response(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no route for {} {path}", request.method()),
    )
}
