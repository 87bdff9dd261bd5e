//! Browsers (SPEC §4, cookie transport): the refresh token — and, when configured,
//! the access token — in `HttpOnly`, `SameSite=Strict` cookies, a readable CSRF
//! cookie echoed in `X-CSRF-Token` (double submit), an `Origin` check on every
//! cookie-authenticated state change, and CORS with credentials for the configured
//! origins only.
//!
//! Nothing here decides about sessions: a cookie is only another place a token
//! travels in, and the use cases judge it exactly as they judge a body or a header.

use actix_cors::Cors;
use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core::{OsRng, RngCore};
use subtle::ConstantTimeEq;
use tessera_application::TokenGrant;

use crate::ApiError;

/// The header a cookie-authenticated state change must carry: the CSRF cookie's value.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The path the refresh cookie is scoped to: refresh and logout live under it, and no
/// other request carries the refresh token.
const AUTH_PATH: &str = "/v1/auth";

/// How the service talks to browsers: `TESSERA_COOKIE_SECURE`,
/// `TESSERA_ALLOWED_ORIGINS` and `TESSERA_ACCESS_COOKIE`.
#[derive(Debug, Clone)]
pub struct BrowserSettings {
    /// `Secure` cookies, with the `__Host-`/`__Secure-` name prefixes that stop a
    /// sibling subdomain from planting its own CSRF cookie. Off only for local http.
    pub cookie_secure: bool,
    /// Origins (`scheme://host[:port]`) of other sites' pages that may call the API
    /// with credentials. The service's own origin is always allowed.
    pub allowed_origins: Vec<String>,
    /// Also carry the access token in an `HttpOnly` cookie, for server-rendered apps.
    pub access_cookie: bool,
    /// The origin of `TESSERA_ISSUER`, the public address: behind a proxy that rewrites
    /// `Host` it is how the service recognises its own pages.
    pub own_origin: Option<String>,
}

impl Default for BrowserSettings {
    fn default() -> Self {
        Self {
            cookie_secure: true,
            allowed_origins: Vec::new(),
            access_cookie: false,
            own_origin: None,
        }
    }
}

/// The names of the three cookies; prefixed when they are `Secure`.
struct CookieNames {
    refresh: &'static str,
    csrf: &'static str,
    access: &'static str,
}

impl BrowserSettings {
    const fn names(&self) -> CookieNames {
        if self.cookie_secure {
            CookieNames {
                refresh: "__Secure-tessera_refresh",
                csrf: "__Host-tessera_csrf",
                access: "__Host-tessera_access",
            }
        } else {
            CookieNames {
                refresh: "tessera_refresh",
                csrf: "tessera_csrf",
                access: "tessera_access",
            }
        }
    }

    /// The refresh token of the request's refresh cookie.
    pub(crate) fn refresh_cookie(&self, request: &HttpRequest) -> Option<String> {
        cookie_value(request, self.names().refresh)
    }

    /// The access token of the request's access cookie, when that transport is on.
    pub(crate) fn access_cookie(&self, request: &HttpRequest) -> Option<String> {
        self.access_cookie
            .then(|| cookie_value(request, self.names().access))
            .flatten()
    }

    /// Whether the request carries any of the session cookies (to be cleared at logout).
    fn has_session_cookies(&self, request: &HttpRequest) -> bool {
        let names = self.names();
        [names.refresh, names.csrf, names.access]
            .iter()
            .any(|name| request.cookie(name).is_some())
    }

    /// A login that asks for cookies: a browser's page must be one of ours or an
    /// allowed origin (a request without `Origin` is not a browser's cross-site one).
    ///
    /// # Errors
    /// `403 csrf_failed` for a foreign origin.
    pub(crate) fn check_login_origin(&self, request: &HttpRequest) -> Result<(), ApiError> {
        match request_origin(request) {
            Some(origin) if !self.origin_allowed(request, &origin) => Err(csrf_failed()),
            _ => Ok(()),
        }
    }

    /// A state change authenticated by a cookie: it must come from an allowed origin
    /// and echo the CSRF cookie in `X-CSRF-Token`. Returns the CSRF token, which stays
    /// the same for the whole session.
    ///
    /// # Errors
    /// `403 csrf_failed`.
    pub(crate) fn check_state_change(&self, request: &HttpRequest) -> Result<String, ApiError> {
        let origin = request_origin(request).ok_or_else(csrf_failed)?;
        if !self.origin_allowed(request, &origin) {
            return Err(csrf_failed());
        }
        let cookie = cookie_value(request, self.names().csrf).ok_or_else(csrf_failed)?;
        let echoed = request
            .headers()
            .get(CSRF_HEADER)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(csrf_failed)?;
        if cookie.is_empty() || !bool::from(cookie.as_bytes().ct_eq(echoed.as_bytes())) {
            return Err(csrf_failed());
        }
        Ok(cookie)
    }

    /// Whether a request authenticated by the access cookie needs the CSRF check: every
    /// method that may change state does.
    pub(crate) fn needs_csrf_check(request: &HttpRequest) -> bool {
        !matches!(
            *request.method(),
            Method::GET | Method::HEAD | Method::OPTIONS
        )
    }

    fn origin_allowed(&self, request: &HttpRequest, origin: &str) -> bool {
        let same_host = request
            .headers()
            .get(header::HOST)
            .and_then(|host| host.to_str().ok())
            .zip(origin.split_once("://").map(|(_, authority)| authority))
            .is_some_and(|(host, authority)| host.eq_ignore_ascii_case(authority));
        same_host
            || self.own_origin.as_deref() == Some(origin)
            || self.allowed_origins.iter().any(|allowed| allowed == origin)
    }

    /// Sets the session's cookies on a token response: the refresh token for the auth
    /// path, the CSRF token for the page's scripts, and the access token when
    /// configured. Each lives exactly as long as the token it carries.
    pub(crate) fn set_session_cookies(
        &self,
        response: &mut HttpResponseBuilder,
        grant: &TokenGrant,
        csrf_token: &str,
    ) {
        let names = self.names();
        let refresh_life = time::Duration::seconds(grant.refresh_expires_in.num_seconds());
        response.cookie(
            self.cookie(names.refresh, grant.refresh_token.expose(), AUTH_PATH)
                .http_only(true)
                .max_age(refresh_life)
                .finish(),
        );
        response.cookie(
            self.cookie(names.csrf, csrf_token, "/")
                .http_only(false)
                .max_age(refresh_life)
                .finish(),
        );
        if self.access_cookie {
            response.cookie(
                self.cookie(names.access, grant.access_token.expose(), "/")
                    .http_only(true)
                    .max_age(time::Duration::seconds(grant.expires_in.num_seconds()))
                    .finish(),
            );
        }
    }

    /// The answer to a request that tried to end or continue a session, with the
    /// session's cookies dropped when that session is over: ended now (2xx) or refused
    /// as already ended (401). Any other failure (429, 5xx) keeps them: the session
    /// may well be alive.
    pub(crate) fn clear_if_session_over(
        &self,
        request: &HttpRequest,
        response: HttpResponse,
    ) -> HttpResponse {
        let status = response.status();
        let over = status.is_success() || status == actix_web::http::StatusCode::UNAUTHORIZED;
        if over && self.has_session_cookies(request) {
            self.clear_session_cookies(response)
        } else {
            response
        }
    }

    /// Tells the browser to drop every session cookie.
    fn clear_session_cookies(&self, mut response: HttpResponse) -> HttpResponse {
        let names = self.names();
        for (name, path) in [
            (names.refresh, AUTH_PATH),
            (names.csrf, "/"),
            (names.access, "/"),
        ] {
            let cookie = self.cookie(name, "", path).finish();
            // Only fails for a header value that cannot be built from these constants.
            if let Err(error) = response.add_removal_cookie(&cookie) {
                tracing::warn!(%error, "could not clear a session cookie");
            }
        }
        response
    }

    fn cookie<'c>(
        &self,
        name: &'static str,
        value: &str,
        path: &'static str,
    ) -> actix_web::cookie::CookieBuilder<'c> {
        Cookie::build(name, value.to_owned())
            .path(path)
            .secure(self.cookie_secure)
            .same_site(SameSite::Strict)
    }

    /// CORS with credentials for the configured origins; other origins get no CORS
    /// headers (so their pages cannot read answers), and are not refused here: the
    /// `Origin` check above refuses what matters, and same-origin requests carry an
    /// `Origin` too.
    pub(crate) fn cors(&self) -> Cors {
        let allowed = self.allowed_origins.clone();
        Cors::default()
            .allowed_origin_fn(move |origin, _| {
                origin
                    .to_str()
                    .is_ok_and(|origin| allowed.iter().any(|allowed| allowed == origin))
            })
            .allowed_methods([Method::GET, Method::POST, Method::DELETE])
            .allowed_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT,
                header::HeaderName::from_static(CSRF_HEADER),
            ])
            .expose_headers([header::RETRY_AFTER, header::WWW_AUTHENTICATE])
            .supports_credentials()
            .block_on_origin_mismatch(false)
            .max_age(600)
    }
}

/// A fresh CSRF token: 256 random bits, URL-safe, with no tie to the session (the
/// double-submit pattern needs only that another site can neither read nor set it).
pub(crate) fn new_csrf_token() -> String {
    let mut bytes = [0_u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn cookie_value(request: &HttpRequest, name: &str) -> Option<String> {
    request
        .cookie(name)
        .map(|cookie| cookie.value().to_owned())
        .filter(|value| !value.is_empty())
}

/// The origin of the page that sent the request: `Origin`, or the origin of `Referer`
/// when a browser left `Origin` out.
fn request_origin(request: &HttpRequest) -> Option<String> {
    let headers = request.headers();
    if let Some(origin) = headers.get(header::ORIGIN) {
        return origin.to_str().ok().map(str::to_owned);
    }
    origin_of_url(headers.get(header::REFERER)?.to_str().ok()?)
}

/// The origin (`scheme://host[:port]`, lower case) of an absolute URL.
pub fn origin_of_url(url: &str) -> Option<String> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    (!scheme.is_empty() && !authority.is_empty())
        .then(|| format!("{scheme}://{authority}").to_ascii_lowercase())
}

fn csrf_failed() -> ApiError {
    ApiError::request(
        StatusCode::FORBIDDEN,
        "csrf_failed",
        "a cookie-authenticated request must come from an allowed origin and echo the \
         CSRF cookie in X-CSRF-Token",
    )
}

/// Validates one `TESSERA_ALLOWED_ORIGINS` entry into the form browsers send in
/// `Origin`: `scheme://host[:port]`, no path, no wildcard.
///
/// # Errors
/// Why the entry is not an origin.
pub fn parse_origin(text: &str) -> Result<String, &'static str> {
    let text = text.trim().trim_end_matches('/').to_ascii_lowercase();
    let Some((scheme, authority)) = text.split_once("://") else {
        return Err("each origin must look like https://app.example.com");
    };
    if !matches!(scheme, "http" | "https") {
        return Err("origins must use http or https");
    }
    if authority.is_empty()
        || authority.contains(['/', '?', '#', '@', '*', ' '])
        || !authority.is_ascii()
    {
        return Err("an origin is scheme://host[:port] with no path and no wildcard");
    }
    Ok(format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn settings() -> BrowserSettings {
        BrowserSettings {
            cookie_secure: false,
            allowed_origins: vec!["https://app.example.com".to_owned()],
            access_cookie: false,
            own_origin: Some("https://auth.example.com".to_owned()),
        }
    }

    #[test]
    fn origins_are_normalised_and_garbage_refused() {
        assert_eq!(
            parse_origin(" HTTPS://App.Example.com:8443/ ").as_deref(),
            Ok("https://app.example.com:8443")
        );
        for bad in [
            "app.example.com",
            "https://*.example.com",
            "https://app.example.com/path",
            "ftp://x",
            "https://",
            "null",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_state_change_needs_an_allowed_origin_and_the_echoed_cookie() {
        let browser = settings();
        let good = || {
            TestRequest::post()
                .insert_header((header::HOST, "127.0.0.1:8080"))
                .cookie(Cookie::new("tessera_csrf", "abc"))
        };
        let ok = good()
            .insert_header((header::ORIGIN, "http://127.0.0.1:8080"))
            .insert_header((CSRF_HEADER, "abc"))
            .to_http_request();
        assert_eq!(browser.check_state_change(&ok).ok().as_deref(), Some("abc"));
        let cases = [
            ("no origin", good().insert_header((CSRF_HEADER, "abc"))),
            (
                "foreign origin",
                good()
                    .insert_header((header::ORIGIN, "https://evil.example"))
                    .insert_header((CSRF_HEADER, "abc")),
            ),
            (
                "null origin",
                good()
                    .insert_header((header::ORIGIN, "null"))
                    .insert_header((CSRF_HEADER, "abc")),
            ),
            (
                "no header",
                good().insert_header((header::ORIGIN, "http://127.0.0.1:8080")),
            ),
            (
                "wrong header",
                good()
                    .insert_header((header::ORIGIN, "http://127.0.0.1:8080"))
                    .insert_header((CSRF_HEADER, "abd")),
            ),
        ];
        for (name, request) in cases {
            let error = browser.check_state_change(&request.to_http_request());
            assert!(error.is_err(), "{name}");
        }
        for origin in ["https://app.example.com", "https://auth.example.com"] {
            let request = good()
                .insert_header((header::ORIGIN, origin))
                .insert_header((CSRF_HEADER, "abc"))
                .to_http_request();
            assert!(browser.check_state_change(&request).is_ok(), "{origin}");
        }
        let by_referer = good()
            .insert_header((header::REFERER, "http://127.0.0.1:8080/demo?x=1"))
            .insert_header((CSRF_HEADER, "abc"))
            .to_http_request();
        assert!(browser.check_state_change(&by_referer).is_ok());
    }

    #[test]
    fn secure_cookies_carry_the_prefixes() {
        let secure = BrowserSettings::default();
        let request = TestRequest::post()
            .cookie(Cookie::new("tessera_refresh", "plain"))
            .to_http_request();
        assert_eq!(secure.refresh_cookie(&request), None);
        let request = TestRequest::post()
            .cookie(Cookie::new("__Secure-tessera_refresh", "t"))
            .to_http_request();
        assert_eq!(secure.refresh_cookie(&request).as_deref(), Some("t"));
    }

    #[test]
    fn csrf_tokens_are_long_and_distinct() {
        let (a, b) = (new_csrf_token(), new_csrf_token());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
    }
}
