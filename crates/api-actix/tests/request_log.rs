//! The request log: every line written while a request is served carries its id, and
//! the access line names the route, never the query string or a header. Its own test
//! binary: tracing's callsite cache is process-wide, and other tests running on other
//! threads without a subscriber would race it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use actix_web::http::{StatusCode, header};
use actix_web::middleware::from_fn;
use actix_web::test::{self, TestRequest};
use actix_web::{App, HttpResponse, web};
use tessera_api_actix::{REQUEST_ID_HEADER, observe};
/// Collects what a JSON subscriber writes.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn logs_inside() -> HttpResponse {
    tracing::warn!(target: "tessera::test", "handler line");
    HttpResponse::Ok().finish()
}

#[actix_web::test]
async fn every_log_line_of_a_request_carries_its_id_and_no_query_string() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = test::init_service(
        App::new()
            .route("/inside", web::get().to(logs_inside))
            .wrap(from_fn(observe)),
    )
    .await;
    let request = TestRequest::get()
        .uri("/inside?refresh_token=secret-value")
        .insert_header((REQUEST_ID_HEADER, "trace-me-42"))
        .insert_header((header::AUTHORIZATION, "Bearer secret-header"))
        .to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status(), StatusCode::OK);

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(lines.len() >= 2, "{text}");
    for line in &lines {
        assert_eq!(line["span"]["request_id"], "trace-me-42", "{line}");
    }
    let access = lines
        .iter()
        .find(|line| line["target"] == "tessera::http")
        .expect("an access log line");
    assert_eq!(access["route"], "/inside");
    assert_eq!(access["method"], "GET");
    assert_eq!(access["status"], 200);
    assert!(access["latency_ms"].is_number(), "{access}");
    assert!(!text.contains("secret"), "{text}");
}
