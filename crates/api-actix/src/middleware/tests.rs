//! The request middleware on a small app: ids, headers on every kind of answer, and
//! what it measures.

use actix_web::middleware::from_fn;
use actix_web::test::{self, TestRequest};
use actix_web::{App, HttpResponse};
use tessera_application::Error;

use super::*;
use crate::ApiError;

async fn failing() -> Result<HttpResponse, ApiError> {
    Err(Error::Unexpected("SELECT secret FROM users".into()).into())
}

async fn refused() -> Result<HttpResponse, ApiError> {
    Err(Error::InvalidCredentials.into())
}

async fn own_policy() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_SECURITY_POLICY, "default-src 'self'"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .finish()
}

/// A middleware inside `observe` that fails without a response.
async fn broken_layer(
    _request: ServiceRequest,
    _next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    Err::<ServiceResponse, _>(actix_web::error::ErrorForbidden("origin not allowed"))
}

/// Sends `request` to a test app and returns the answer's status and headers.
async fn answer(metrics: Option<Metrics>, request: TestRequest) -> (StatusCode, HeaderMap) {
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(metrics))
            .route("/ok/{id}", web::get().to(HttpResponse::Ok))
            .route("/fail", web::get().to(failing))
            .route("/refused", web::post().to(refused))
            .route("/demo", web::get().to(own_policy))
            .route("/docs/{_:.*}", web::get().to(HttpResponse::Ok))
            .route("/limited", web::post().to(HttpResponse::TooManyRequests))
            .service(
                web::scope("/guarded")
                    .wrap(from_fn(broken_layer))
                    .route("", web::get().to(HttpResponse::Ok)),
            )
            .wrap(from_fn(observe)),
    )
    .await;
    // An `Err` is what the server turns into the error's response, as here.
    match test::try_call_service(&app, request.to_request()).await {
        Ok(response) => (response.status(), response.headers().clone()),
        Err(error) => {
            let response = error.error_response();
            (response.status(), response.headers().clone())
        }
    }
}

fn request_id(headers: &HeaderMap) -> &str {
    headers
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .expect("an X-Request-Id")
}

#[actix_web::test]
async fn a_well_formed_incoming_request_id_is_answered_back() {
    for id in [
        "3f2c9a4e-1b7d-4f00-9c1e-2a5b6c7d8e9f",
        "01HZX3K8Q2N7V5T4R9W6Y1M0BC",
        "edge:lb-1.req_42",
    ] {
        let (status, headers) = answer(
            None,
            TestRequest::get()
                .uri("/ok/1")
                .insert_header((REQUEST_ID_HEADER, id)),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(request_id(&headers), id);
    }
}

#[actix_web::test]
async fn a_missing_or_malformed_request_id_is_replaced_by_a_new_one() {
    let too_long = "a".repeat(MAX_REQUEST_ID_LEN + 1);
    for incoming in [
        None,
        Some(""),
        Some("two words"),
        Some("id\"><script>"),
        Some("line\\nbreak"),
        Some("ünïcode"),
        Some(too_long.as_str()),
    ] {
        let mut request = TestRequest::get().uri("/ok/1");
        if let Some(incoming) = incoming {
            request = request.insert_header((
                REQUEST_ID_HEADER,
                HeaderValue::from_bytes(incoming.as_bytes()).unwrap(),
            ));
        }
        let (_, headers) = answer(None, request).await;
        let id = request_id(&headers);
        assert_ne!(Some(id), incoming);
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    }
    let (_, first) = answer(None, TestRequest::get().uri("/ok/1")).await;
    let (_, second) = answer(None, TestRequest::get().uri("/ok/1")).await;
    assert_ne!(request_id(&first), request_id(&second));
}

#[actix_web::test]
async fn every_answer_carries_the_request_id_and_the_security_headers() {
    for (request, expected) in [
        (TestRequest::get().uri("/ok/7"), StatusCode::OK),
        (
            TestRequest::post().uri("/refused"),
            StatusCode::UNAUTHORIZED,
        ),
        (TestRequest::get().uri("/nowhere"), StatusCode::NOT_FOUND),
        (
            TestRequest::get().uri("/fail"),
            StatusCode::INTERNAL_SERVER_ERROR,
        ),
        (TestRequest::get().uri("/guarded"), StatusCode::FORBIDDEN),
    ] {
        let (status, headers) =
            answer(None, request.insert_header((REQUEST_ID_HEADER, "req-1"))).await;
        assert_eq!(status, expected);
        assert_eq!(request_id(&headers), "req-1", "{status}");
        assert_eq!(
            headers.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(),
            "nosniff"
        );
        assert_eq!(headers.get(header::X_FRAME_OPTIONS).unwrap(), "DENY");
        assert_eq!(headers.get(header::REFERRER_POLICY).unwrap(), "no-referrer");
        assert_eq!(
            headers.get(header::CONTENT_SECURITY_POLICY).unwrap(),
            API_CONTENT_SECURITY_POLICY,
            "{status}"
        );
    }
}

#[actix_web::test]
async fn headers_a_response_sets_itself_are_kept_and_docs_get_their_own_policy() {
    let (_, demo) = answer(None, TestRequest::get().uri("/demo")).await;
    assert_eq!(
        demo.get(header::CONTENT_SECURITY_POLICY).unwrap(),
        "default-src 'self'"
    );
    assert_eq!(demo.get(header::REFERRER_POLICY).unwrap(), "same-origin");
    assert_eq!(demo.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
    let (_, docs) = answer(None, TestRequest::get().uri("/docs/index.html")).await;
    assert_eq!(
        docs.get(header::CONTENT_SECURITY_POLICY).unwrap(),
        DOCS_CONTENT_SECURITY_POLICY
    );
}

#[actix_web::test]
async fn requests_are_measured_by_route_pattern_and_429s_are_counted() {
    let metrics = Metrics::new();
    for request in [
        TestRequest::get().uri("/ok/123"),
        TestRequest::get().uri("/ok/456?token=secret"),
        TestRequest::get().uri("/no/such/path"),
        TestRequest::post().uri("/limited"),
    ] {
        answer(Some(metrics.clone()), request).await;
    }
    let page = metrics.render().await;
    assert!(
        page.contains(
            "tessera_http_request_duration_seconds_count{route=\"/ok/{id}\",method=\"GET\",status=\"2xx\"} 2\n"
        ),
        "{page}"
    );
    assert!(
        page.contains(
            "tessera_http_request_duration_seconds_count{route=\"unmatched\",method=\"GET\",status=\"4xx\"} 1\n"
        ),
        "{page}"
    );
    assert!(
        page.contains("tessera_http_rate_limited_total{route=\"/limited\"} 1\n"),
        "{page}"
    );
    assert!(
        !page.contains("/ok/123") && !page.contains("secret"),
        "{page}"
    );
}
