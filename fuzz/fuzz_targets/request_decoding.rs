#![no_main]
//! Whole requests into the real app (`tessera_api_actix::app`), in process: routing,
//! the JSON and form extractors with their limits and error answers, the request
//! DTOs (`deny_unknown_fields`, e-mail and password rules), path ids and queries,
//! `Authorization: Bearer`/`Basic`, the session cookies and the CSRF check,
//! `X-Forwarded-For` behind a trusted proxy, and the problem+json and OAuth error
//! bodies. The input format is in `tessera_fuzz::request`; the ports are in
//! `tessera_fuzz::stand_ins` (real token codecs, a database that is down).
//!
//! Beyond "never panics": no answer is a 500 (every failure of a request is the
//! client's or the database's), and every JSON body is JSON.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use actix_service::ServiceExt as _;
use actix_service::boxed::{self, BoxService};
use actix_web::body::{BoxBody, to_bytes};
use actix_web::dev::{Service as _, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::rt::SystemRunner;
use actix_web::web;
use libfuzzer_sys::fuzz_target;
use tessera_api_actix::TrustedProxies;
use tessera_fuzz::{request, stand_ins};

/// The address requests come from: a trusted proxy, so `X-Forwarded-For` is read.
const PROXY: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7)), 50_000);

type App = BoxService<actix_http::Request, ServiceResponse<BoxBody>, actix_web::Error>;

thread_local! {
    /// Built once: the app is not `Send`, and libFuzzer runs inputs on one thread.
    static APP: (SystemRunner, App) = build();
}

fn build() -> (SystemRunner, App) {
    let runner = actix_web::rt::System::new();
    let app = runner.block_on(async {
        let proxies = TrustedProxies::parse("10.0.0.0/8, ::1").expect("the proxy list is valid");
        let app = tessera_api_actix::app(stand_ins::api_state()).app_data(web::Data::new(proxies));
        let service = actix_web::test::init_service(app).await;
        boxed::service(service.map(ServiceResponse::map_into_boxed_body))
    });
    (runner, app)
}

fuzz_target!(
    init: {
        // The app, and the fallback's table of known routes, before the first input.
        answer(b"GET /warm-up\n");
    },
    |data: &[u8]| answer(data)
);

/// actix-router leaks the names of a route's path parameters on purpose (`Box::leak`,
/// once per route table: the app's and the fallback's): not a leak to report.
/// (`make fuzz` turns leak checks off for this target anyway; see scripts/fuzz.sh.)
#[unsafe(no_mangle)]
pub extern "C" fn __lsan_default_suppressions() -> *const std::ffi::c_char {
    c"leak:actix_router::resource::ResourceDef\n".as_ptr()
}

/// Without the table of suppressions used after every leak check.
#[unsafe(no_mangle)]
pub extern "C" fn __lsan_default_options() -> *const std::ffi::c_char {
    c"print_suppressions=0".as_ptr()
}

/// Sends the request `data` describes and checks the answer.
fn answer(data: &[u8]) {
    let Some(request) = request::parse(data) else {
        return;
    };
    let request = request.peer_addr(PROXY).to_request();
    APP.with(|(runner, app)| {
        runner.block_on(async {
            let response = match app.call(request).await {
                Ok(response) => response.into_parts().1,
                Err(error) => error.error_response(),
            };
            let status = response.status();
            let json = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .is_some_and(|value| value.contains("json"));
            let body = to_bytes(response.into_body())
                .await
                .unwrap_or_else(|_| panic!("the body of a {status} answer cannot be read"));
            assert_ne!(
                status,
                StatusCode::INTERNAL_SERVER_ERROR,
                "500: {}",
                String::from_utf8_lossy(&body)
            );
            if json && !body.is_empty() {
                assert!(
                    serde_json::from_slice::<serde_json::Value>(&body).is_ok(),
                    "a {status} answer's JSON body is not JSON: {}",
                    String::from_utf8_lossy(&body)
                );
            }
        });
    });
}
