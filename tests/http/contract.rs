//! The contract test (issue 8, item 6): every answer the HTTP tests get from the running
//! server is checked against the OpenAPI document — its status is documented for the
//! operation, its content type is one documented, its JSON body matches the schema —
//! so the documentation cannot drift from the code. [`TestApp::send`] calls [`check`].
//!
//! The schemas are checked by the small validator below rather than the `jsonschema`
//! crate: utoipa emits a handful of keywords, the crate would add a dozen crates or
//! more (regex engines, IDNA, a `referencing` resolver), none of them in this build yet,
//! to a test build on slow machines, and a hand-written validator can be stricter where
//! the contract needs it. It fails
//! closed: a keyword it does not know is a failure ("teach the checker"), never a
//! silent pass. And it is stricter than JSON Schema in one place on purpose: an object
//! schema that lists `properties` and says nothing of `additionalProperties` is closed,
//! because a field the server sends that the document does not name is drift too.
//!
//! [`TestApp::send`]: crate::helpers::TestApp::send

use std::sync::OnceLock;

use serde_json::{Map, Value};

/// Paths that are not part of the API contract: their answers are checked only in that
/// a problem+json body must still be a `Problem`.
/// - `/openapi.json`, `/docs`, `/docs/…`: the document itself and Swagger UI's assets
///   (`docs_and_health.rs` checks them);
/// - `/demo`, `/demo/…`: the demo page and its scripts (`browser_transport.rs`).
const OUTSIDE_THE_CONTRACT: [&str; 3] = ["/openapi.json", "/docs", "/demo"];

/// The document the server publishes, from the same route list as the app.
fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        serde_json::to_value(tessera_api_actix::openapi_document())
            .expect("the OpenAPI document serialises to JSON")
    })
}

/// Panics, naming the request and the answer, when the answer to `method path` is not
/// what the OpenAPI document says. `content_type` is the header as sent (parameters
/// are ignored); a query string on `path` is ignored.
#[track_caller]
pub fn check(method: &str, path: &str, status: u16, content_type: &str, body: &str) {
    if let Err(violation) = verify(document(), method, path, status, content_type, body) {
        const SHOWN: usize = 2_000;
        let shown: String = body.chars().take(SHOWN).collect();
        let cut = if shown.len() < body.len() { "…" } else { "" };
        panic!(
            "OpenAPI contract: {method} {path} answered {status} ({content_type}): \
             {violation}\nbody: {shown}{cut}"
        );
    }
}

fn verify(
    document: &Value,
    method: &str,
    path: &str,
    status: u16,
    content_type: &str,
    body: &str,
) -> Result<(), String> {
    let path = path.split('?').next().unwrap_or(path);
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let answer = Answer {
        status,
        media_type: &media_type,
        body,
    };
    let outside = OUTSIDE_THE_CONTRACT
        .iter()
        .any(|prefix| path == *prefix || path.starts_with(&format!("{prefix}/")));
    // CORS preflights are answered by the CORS middleware before any route; OpenAPI
    // describes operations, not preflights.
    if outside || method.eq_ignore_ascii_case("OPTIONS") {
        return answer.problem_if_any(document);
    }
    let item = path_item(document, path);
    let operation = item.and_then(|item| item.get(method.to_ascii_lowercase()));
    let Some(operation) = operation else {
        return answer.unrouted(document, item.is_some());
    };
    let responses = operation["responses"]
        .as_object()
        .ok_or("the operation documents no responses")?;
    let code = status.to_string();
    let range = format!("{}XX", status / 100);
    let response = [code.as_str(), range.as_str(), "default"]
        .into_iter()
        .find_map(|key| responses.get(key))
        .ok_or_else(|| {
            format!(
                "status {status} is not documented (documented: {})",
                responses.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })?;
    answer.documented(document, resolve(document, response)?)
}

/// The path item whose template matches `path`: `{name}` matches one non-empty
/// segment; of several matches, the one with the most literal segments wins.
fn path_item<'a>(document: &'a Value, path: &str) -> Option<&'a Value> {
    let segments: Vec<&str> = path.split('/').collect();
    document["paths"]
        .as_object()?
        .iter()
        .filter_map(|(template, item)| {
            let template: Vec<&str> = template.split('/').collect();
            let matches = template.len() == segments.len()
                && template.iter().zip(&segments).all(|(expected, actual)| {
                    if expected.starts_with('{') {
                        !actual.is_empty()
                    } else {
                        expected == actual
                    }
                });
            let literals = template
                .iter()
                .filter(|part| !part.starts_with('{'))
                .count();
            matches.then_some((literals, item))
        })
        .max_by_key(|(literals, _)| *literals)
        .map(|(_, item)| item)
}

/// A response, or the one it refers to (`{"$ref": "#/components/responses/…"}`).
fn resolve<'a>(document: &'a Value, value: &'a Value) -> Result<&'a Value, String> {
    match value.get("$ref") {
        Some(reference) => pointed(document, reference),
        None => Ok(value),
    }
}

/// What a `$ref` inside the document (`#/components/…`) points at.
fn pointed<'a>(document: &'a Value, reference: &Value) -> Result<&'a Value, String> {
    reference
        .as_str()
        .and_then(|reference| reference.strip_prefix('#'))
        .and_then(|pointer| document.pointer(pointer))
        .ok_or_else(|| format!("unresolvable $ref {reference}"))
}

fn is_json(media_type: &str) -> bool {
    media_type == "application/json" || media_type.ends_with("+json")
}

struct Answer<'a> {
    status: u16,
    media_type: &'a str,
    body: &'a str,
}

impl Answer<'_> {
    fn json(&self) -> Result<Value, String> {
        serde_json::from_str(self.body).map_err(|error| format!("the body is not JSON: {error}"))
    }

    /// An answer as documented by `response`: no body where none is documented, else
    /// a documented content type and, for JSON, a body that matches the schema.
    fn documented(&self, document: &Value, response: &Value) -> Result<(), String> {
        let content = response
            .get("content")
            .and_then(Value::as_object)
            .filter(|content| !content.is_empty());
        let Some(content) = content else {
            return if self.body.is_empty() {
                Ok(())
            } else {
                Err("the document says there is no body".to_owned())
            };
        };
        let media = content.get(self.media_type).ok_or_else(|| {
            format!(
                "content type {:?} is not documented (documented: {})",
                self.media_type,
                content.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })?;
        if !is_json(self.media_type) {
            return Ok(());
        }
        let value = self.json()?;
        let errors = Validator { document }.errors(&media["schema"], &value);
        if !errors.is_empty() {
            return Err(format!(
                "the body does not match the schema:\n  {}",
                errors.join("\n  ")
            ));
        }
        self.problem_if_any(document)
    }

    /// Every problem+json answer, documented or not, is a `Problem` whose `status` is
    /// the HTTP status and whose `type` names its `code` (as the schema describes).
    fn problem_if_any(&self, document: &Value) -> Result<(), String> {
        if self.media_type != "application/problem+json" {
            return Ok(());
        }
        let value = self.json()?;
        let schema = serde_json::json!({ "$ref": "#/components/schemas/Problem" });
        let errors = Validator { document }.errors(&schema, &value);
        if !errors.is_empty() {
            return Err(format!("not a Problem:\n  {}", errors.join("\n  ")));
        }
        if value["status"] != self.status {
            return Err("the problem's `status` is not the HTTP status".to_owned());
        }
        let code = value["code"].as_str().unwrap_or_default();
        if value["type"] != format!("urn:tessera:problem:{code}") {
            return Err("the problem's `type` is not `urn:tessera:problem:<code>`".to_owned());
        }
        Ok(())
    }

    /// No documented operation takes the request: the router's fallback
    /// (`endpoints/fallback.rs`) must answer it, a 405 `method_not_allowed` for a
    /// documented path, a 404 `not_found` otherwise. OpenAPI has no place for answers
    /// to operations that do not exist, so they are checked here, against the one
    /// `Problem` schema, rather than documented on every path.
    fn unrouted(&self, document: &Value, known_path: bool) -> Result<(), String> {
        let (status, code) = if known_path {
            (405, "method_not_allowed")
        } else {
            (404, "not_found")
        };
        if self.status != status || self.media_type != "application/problem+json" {
            return Err(format!(
                "no documented operation: expected the router's {status} {code} problem"
            ));
        }
        self.problem_if_any(document)?;
        if self.json()?["code"] != code {
            return Err(format!("no documented operation: expected the code {code}"));
        }
        Ok(())
    }
}

/// The JSON Schema 2020-12 keywords utoipa emits, and only those.
struct Validator<'a> {
    document: &'a Value,
}

/// Keywords that only describe: nothing to check.
const ANNOTATIONS: [&str; 11] = [
    "description",
    "title",
    "example",
    "examples",
    "default",
    "deprecated",
    "readOnly",
    "writeOnly",
    "$comment",
    "discriminator",
    "externalDocs",
];

impl Validator<'_> {
    fn errors(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        self.validate(schema, value, "", true, &mut errors);
        errors
    }

    /// Appends to `errors` why `value` (at JSON pointer `at`) does not match `schema`.
    /// `closed`: whether an object schema with `properties` refuses other fields (not
    /// inside `allOf`, whose branches each name only some of them).
    fn validate(
        &self,
        schema: &Value,
        value: &Value,
        at: &str,
        closed: bool,
        errors: &mut Vec<String>,
    ) {
        let here = if at.is_empty() { "(root)" } else { at };
        let schema = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => return errors.push(format!("{here}: nothing is allowed")),
            Value::Object(schema) => schema,
            _ => return errors.push(format!("{here}: the schema is not a schema: {schema}")),
        };
        for (keyword, argument) in schema {
            match keyword.as_str() {
                "$ref" => match pointed(self.document, argument) {
                    Ok(target) => self.validate(target, value, at, closed, errors),
                    Err(error) => errors.push(format!("{here}: {error}")),
                },
                "type" => {
                    let types: Vec<&str> = match argument {
                        Value::String(one) => vec![one.as_str()],
                        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                        _ => vec![],
                    };
                    if !types.iter().any(|kind| has_type(value, kind)) {
                        errors.push(format!("{here}: {value} is not of type {argument}"));
                    }
                }
                "enum" => {
                    if !argument.as_array().is_some_and(|all| all.contains(value)) {
                        errors.push(format!("{here}: {value} is not one of {argument}"));
                    }
                }
                "const" => {
                    if argument != value {
                        errors.push(format!("{here}: {value} is not {argument}"));
                    }
                }
                "format" => {
                    if let Some(error) = format_error(argument.as_str().unwrap_or_default(), value)
                    {
                        errors.push(format!("{here}: {error}"));
                    }
                }
                "properties" | "required" | "additionalProperties" | "propertyNames" => {
                    // All four together, once, below.
                }
                "items" => {
                    if let Some(items) = value.as_array() {
                        for (index, item) in items.iter().enumerate() {
                            self.validate(argument, item, &format!("{at}/{index}"), true, errors);
                        }
                    }
                }
                "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" => {
                    if let (Some(number), Some(limit)) = (value.as_f64(), argument.as_f64()) {
                        let within = match keyword.as_str() {
                            "minimum" => number >= limit,
                            "maximum" => number <= limit,
                            "exclusiveMinimum" => number > limit,
                            _ => number < limit,
                        };
                        if !within {
                            errors.push(format!("{here}: {value} breaks {keyword} {argument}"));
                        }
                    }
                }
                "minLength" | "maxLength" | "minItems" | "maxItems" => {
                    let length = match keyword.as_str() {
                        "minLength" | "maxLength" => value.as_str().map(|s| s.chars().count()),
                        _ => value.as_array().map(Vec::len),
                    };
                    if let (Some(length), Some(limit)) = (length, argument.as_u64()) {
                        let within = if keyword.starts_with("min") {
                            length as u64 >= limit
                        } else {
                            length as u64 <= limit
                        };
                        if !within {
                            errors.push(format!(
                                "{here}: length {length} breaks {keyword} {argument}"
                            ));
                        }
                    }
                }
                "allOf" | "anyOf" | "oneOf" => {
                    let branches = argument.as_array().map_or(&[][..], Vec::as_slice);
                    let failures: Vec<Vec<String>> = branches
                        .iter()
                        .map(|branch| {
                            let mut branch_errors = Vec::new();
                            let closed = keyword != "allOf";
                            self.validate(branch, value, at, closed, &mut branch_errors);
                            branch_errors
                        })
                        .collect();
                    let matching = failures.iter().filter(|errors| errors.is_empty()).count();
                    let fine = match keyword.as_str() {
                        "allOf" => matching == branches.len(),
                        "anyOf" => matching >= 1,
                        _ => matching == 1,
                    };
                    if !fine {
                        errors.push(format!(
                            "{here}: {matching} of {} {keyword} branches match: {}",
                            branches.len(),
                            failures.concat().join("; ")
                        ));
                    }
                }
                known if ANNOTATIONS.contains(&known) => {}
                unknown => errors.push(format!(
                    "{here}: the contract checker does not know the keyword {unknown:?}; \
                     teach it (tests/http/contract.rs)"
                )),
            }
        }
        if let Some(object) = value.as_object() {
            self.validate_object(schema, object, at, closed, errors);
        }
    }

    fn validate_object(
        &self,
        schema: &Map<String, Value>,
        object: &Map<String, Value>,
        at: &str,
        closed: bool,
        errors: &mut Vec<String>,
    ) {
        let here = if at.is_empty() { "(root)" } else { at };
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(name) {
                errors.push(format!("{here}: the required field `{name}` is missing"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, field) in object {
            let field_at = format!("{at}/{name}");
            if let Some(names) = schema.get("propertyNames") {
                self.validate(names, &Value::String(name.clone()), &field_at, true, errors);
            }
            if let Some(property) = properties.and_then(|properties| properties.get(name)) {
                self.validate(property, field, &field_at, true, errors);
                continue;
            }
            match schema.get("additionalProperties") {
                Some(additional) => self.validate(additional, field, &field_at, true, errors),
                None if closed && properties.is_some() => {
                    errors.push(format!("{here}: the field `{name}` is not documented"));
                }
                None => {}
            }
        }
    }
}

fn has_type(value: &Value, kind: &str) -> bool {
    match kind {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        // 2020-12: 1.0 is an integer too.
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|n| n.fract() == 0.0)
        }
        _ => false,
    }
}

/// Why `value` breaks `format`, if it does. Only strings and integers carry the formats
/// utoipa emits; an unknown format fails closed like an unknown keyword.
fn format_error(format: &str, value: &Value) -> Option<String> {
    match format {
        "uuid" => value
            .as_str()
            .filter(|text| text.len() != 36 || uuid::Uuid::try_parse(text).is_err())
            .map(|text| format!("{text:?} is not a hyphenated UUID")),
        "date-time" => value
            .as_str()
            .filter(|text| chrono::DateTime::parse_from_rfc3339(text).is_err())
            .map(|text| format!("{text:?} is not an RFC 3339 date-time")),
        "int32" | "int64" => {
            let fits = match format {
                "int32" => value.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
                _ => value.is_i64(),
            };
            (value.is_number() && !fits).then(|| format!("{value} is not an {format}"))
        }
        other => Some(format!(
            "the contract checker does not know the format {other:?}; teach it \
             (tests/http/contract.rs)"
        )),
    }
}

#[cfg(test)]
mod tests {
    //! The checker can fail: each way a drift shows is fed to it directly.

    use serde_json::json;

    use super::check;

    const JSON: &str = "application/json";
    const PROBLEM: &str = "application/problem+json";

    fn user() -> serde_json::Value {
        json!({
            "id": "0f8fad5b-d9cb-469f-a165-70867728950e",
            "email": "ada@example.com",
            "roles": ["user"],
            "created_at": "2026-01-01T00:00:00Z",
        })
    }

    fn problem(status: u16, code: &str) -> String {
        json!({
            "type": format!("urn:tessera:problem:{code}"),
            "title": "Error",
            "status": status,
            "detail": "",
            "code": code,
        })
        .to_string()
    }

    #[test]
    fn documented_answers_pass() {
        check("POST", "/v1/auth/register", 201, JSON, &user().to_string());
        check(
            "DELETE",
            "/v1/auth/sessions/not-a-uuid?x=1",
            404,
            "application/problem+json; charset=utf-8",
            &problem(404, "not_found"),
        );
        check("POST", "/v1/auth/logout", 204, "", "");
        check(
            "GET",
            "/no/such/route",
            404,
            PROBLEM,
            &problem(404, "not_found"),
        );
        check(
            "PUT",
            "/v1/auth/register",
            405,
            PROBLEM,
            &problem(405, "method_not_allowed"),
        );
        check("GET", "/docs/index.css", 200, "text/css", "body{}");
    }

    #[test]
    #[should_panic(expected = "status 418 is not documented")]
    fn an_undocumented_status_fails() {
        check(
            "POST",
            "/v1/auth/register",
            418,
            PROBLEM,
            &problem(418, "x"),
        );
    }

    #[test]
    #[should_panic(expected = "the required field `email` is missing")]
    fn a_body_without_a_required_field_fails() {
        let mut body = user();
        body.as_object_mut().unwrap().remove("email");
        check("POST", "/v1/auth/register", 201, JSON, &body.to_string());
    }

    #[test]
    #[should_panic(expected = "/roles: \"user\" is not of type \"array\"")]
    fn a_field_of_the_wrong_type_fails() {
        let mut body = user();
        body["roles"] = json!("user");
        check("POST", "/v1/auth/register", 201, JSON, &body.to_string());
    }

    #[test]
    #[should_panic(expected = "the field `password_hash` is not documented")]
    fn an_undocumented_field_fails() {
        let mut body = user();
        body["password_hash"] = json!("$argon2id$…");
        check("POST", "/v1/auth/register", 201, JSON, &body.to_string());
    }

    #[test]
    #[should_panic(expected = "is not a hyphenated UUID")]
    fn a_malformed_uuid_fails() {
        let mut body = user();
        body["id"] = json!("42");
        check("POST", "/v1/auth/register", 201, JSON, &body.to_string());
    }

    #[test]
    #[should_panic(expected = "content type \"text/plain\" is not documented")]
    fn an_undocumented_content_type_fails() {
        check(
            "POST",
            "/v1/auth/register",
            400,
            "text/plain",
            "bad request",
        );
    }

    #[test]
    #[should_panic(expected = "the document says there is no body")]
    fn a_body_where_none_is_documented_fails() {
        check("POST", "/v1/auth/logout", 204, JSON, "{}");
    }

    #[test]
    #[should_panic(expected = "expected the router's 404 not_found problem")]
    fn an_unknown_route_must_be_the_routers_404() {
        check("GET", "/no/such/route", 200, JSON, "{}");
    }

    #[test]
    #[should_panic(expected = "the problem's `status` is not the HTTP status")]
    fn a_problem_with_another_status_fails() {
        check(
            "POST",
            "/v1/auth/register",
            409,
            PROBLEM,
            &problem(400, "conflict"),
        );
    }
}
