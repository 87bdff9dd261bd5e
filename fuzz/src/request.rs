//! The input format of `request_decoding`: a small HTTP/1-like text, so the seeds are
//! readable and libFuzzer's mutations stay meaningful.
//!
//! ```text
//! POST /v1/auth/login
//! content-type: application/json
//!
//! {"email":"ada@example.com","password":"correct horse battery staple"}
//! ```
//!
//! The first line is the method and the request target; header lines follow up to an
//! empty line; the rest is the body. Lines end in `\n` or `\r\n`. An input whose first
//! line is not a method and a URI is skipped, and so is a header line that is not a
//! valid header — an HTTP client could not send either. `Content-Length` is the
//! body's; `Content-Length` and `Transfer-Encoding` lines are skipped, since the
//! request is built whole and there is no framing to get wrong.

use actix_web::http::Method;
use actix_web::http::header::{CONTENT_LENGTH, HeaderName, HeaderValue, TRANSFER_ENCODING};
use actix_web::http::uri::Uri;
use actix_web::test::TestRequest;

/// The request `input` describes, or `None` when its first line is unusable.
pub fn parse(input: &[u8]) -> Option<TestRequest> {
    let mut rest = input;
    let first = next_line(&mut rest);
    let space = first.iter().position(|&b| b == b' ')?;
    let method = Method::from_bytes(&first[..space]).ok()?;
    let target = std::str::from_utf8(&first[space + 1..]).ok()?;
    // `TestRequest::uri` unwraps the same parse.
    Uri::try_from(target).ok()?;
    let mut request = TestRequest::default().method(method).uri(target);
    while !rest.is_empty() {
        let line = next_line(&mut rest);
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = header(line) {
            request = request.append_header((name, value));
        }
    }
    if !rest.is_empty() {
        request = request.set_payload(rest.to_vec());
    }
    Some(request)
}

/// The next line without its `\n` or `\r\n`; `rest` moves past it.
fn next_line<'a>(rest: &mut &'a [u8]) -> &'a [u8] {
    let (line, after) = match rest.iter().position(|&b| b == b'\n') {
        Some(end) => (&rest[..end], &rest[end + 1..]),
        None => (*rest, &[][..]),
    };
    *rest = after;
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn header(line: &[u8]) -> Option<(HeaderName, HeaderValue)> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = HeaderName::from_bytes(line[..colon].trim_ascii()).ok()?;
    if name == CONTENT_LENGTH || name == TRANSFER_ENCODING {
        return None;
    }
    let value = HeaderValue::from_bytes(line[colon + 1..].trim_ascii()).ok()?;
    Some((name, value))
}
