//! What every handler can reach ([`AppState`]) and the whole service as one router, with the
//! security headers every page gets (the Content-Security-Policy).

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use domain::clock::Clock;
use domain::config::Config;
use domain::db::Db;

use crate::routes;
use crate::view;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub clock: Clock,
    pub pages: Arc<view::Pages>,
    /// Inkan's CA (in the database): issues certificates on approval, answers OCSP, CRLs and
    /// timestamps, and keeps the signing PINs' vault.
    pub ca: Arc<domain::ca_store::Ca>,
    /// Document bytes (contracts' PDFs).
    pub documents: Arc<domain::storage::DocumentStore>,
    /// Contracts past their draft: sending, the parties' turns, signatures, completion.
    pub desk: Arc<domain::contracts::Desk>,
    /// The job runner, for a request that runs the job it just enqueued at once (a party's
    /// signature).
    pub jobs: Arc<domain::jobs::Runner<domain::jobs::work::Work>>,
    /// The memory seal uploads may take at once while decoded (`seal_decode_budget_mb`).
    pub seal_budget: Arc<domain::seals::DecodeBudget>,
}

impl AppState {
    /// The login page's address, for emails.
    pub fn login_url(&self) -> String {
        format!("{}/login", self.config.base_url())
    }
}

/// The largest request body the service reads (JSON and forms; uploads get their own limits).
pub const BODY_LIMIT: usize = 64 * 1024;

/// The whole service as one router.
pub fn router(state: AppState, ca: Option<Router>) -> Router {
    let app = routes::router()
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state.clone());
    let app = match ca {
        // The CA's paths (/ca.crt, /crl, /ocsp, /tsa, …) sit at the root, as under
        // `inkan ca serve`, so a CA whose base URL is this service's works unchanged.
        Some(ca) => app.merge(ca),
        None => app,
    };
    let https = state.config.base_url().starts_with("https://");
    let app = app.fallback_service(axum::routing::any(routes::pages::not_found).with_state(state));
    app.layer(axum::middleware::from_fn(move |request, next| {
        security_headers(https, request, next)
    }))
}

/// What a page may load and run: only files of this service, no inline script or style (the
/// templates have none: a test in `view` checks), no plugins, no framing, forms only to here.
/// PDF.js needs no more: its worker is a file of ours (`worker-src`), it fetches the document and
/// its CMaps from here (`connect-src`) and paints into canvases; `blob:` and `data:` images are
/// for the pictures pages make in the browser.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; \
    worker-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; \
    form-action 'self'";

/// What any other answer (JSON, images, the CA's DER) may do as a document: nothing.
pub const NON_HTML_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";
/// A PDF opened in the browser: its own viewer is a plugin to Chromium, which `object-src
/// 'none'` (and so `default-src 'none'`) would block; it may only not be framed.
pub const PDF_POLICY: &str = "frame-ancestors 'none'";

/// HSTS for an https service: a year, subdomains not included (the organisation's other hosts
/// are not ours to pin).
const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";

/// The security headers of every answer: a Content-Security-Policy (the pages' own, or none
/// allowed at all for anything else), no framing (`frame-ancestors` and `X-Frame-Options` for
/// older browsers), no type sniffing, the referrer only to this site (a party's link carries its
/// token), HSTS when the service is reached over https, and `Cache-Control: no-store` on
/// answers to a request carrying a session or a party's cookie, unless the handler chose its
/// own caching (the static files, a contract's PDF).
async fn security_headers(https: bool, request: Request, next: Next) -> Response {
    let authenticated = [domain::auth::SESSION_COOKIE, routes::extract::PARTY_COOKIE]
        .iter()
        .any(|name| routes::extract::cookie(request.headers(), name).is_some())
        || request.headers().contains_key(header::AUTHORIZATION);
    let mut response = next.run(request).await;
    let policy = match content_type(response.headers()) {
        Some(t) if t.starts_with("text/html") => CONTENT_SECURITY_POLICY,
        Some(t) if t.starts_with("application/pdf") => PDF_POLICY,
        _ => NON_HTML_POLICY,
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(policy),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(STRICT_TRANSPORT_SECURITY),
        );
    }
    if authenticated && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::trim_start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::response::{Html, IntoResponse};
    use axum::routing::get;
    use tower::ServiceExt as _;

    fn headers_of(app: &Router, path: &str) -> HeaderMap {
        respond(app, path, None)
    }

    fn respond(app: &Router, path: &str, cookie: Option<&str>) -> HeaderMap {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let mut request = axum::http::Request::get(path);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let request = request.body(Body::empty()).expect("request");
        rt.block_on(app.clone().oneshot(request))
            .expect("response")
            .headers()
            .clone()
    }

    fn test_app(https: bool) -> Router {
        Router::new()
            .route("/page", get(|| async { Html("<p>page</p>") }))
            .route("/json", get(|| async { axum::Json(1) }))
            .route(
                "/error",
                get(|| async {
                    (axum::http::StatusCode::NOT_FOUND, Html("<p>no</p>")).into_response()
                }),
            )
            .route(
                "/pdf",
                get(|| async { ([(header::CONTENT_TYPE, "application/pdf")], "%PDF-") }),
            )
            .route(
                "/cached",
                get(|| async {
                    ([(header::CACHE_CONTROL, "public, max-age=60")], "static").into_response()
                }),
            )
            .layer(axum::middleware::from_fn(move |request, next| {
                security_headers(https, request, next)
            }))
    }

    /// Every answer, page or not, error or not, carries the security headers; pages the pages'
    /// policy, anything else one that allows nothing.
    #[test]
    fn every_answer_carries_the_security_headers() {
        let app = test_app(false);
        for (path, policy) in [
            ("/page", CONTENT_SECURITY_POLICY),
            ("/error", CONTENT_SECURITY_POLICY),
            ("/json", NON_HTML_POLICY),
            ("/pdf", PDF_POLICY),
            ("/cached", NON_HTML_POLICY),
            ("/nonesuch", NON_HTML_POLICY),
        ] {
            let h = headers_of(&app, path);
            assert_eq!(h[header::CONTENT_SECURITY_POLICY], policy, "{path}");
            assert_eq!(h[header::REFERRER_POLICY], "same-origin", "{path}");
            assert_eq!(h[header::X_FRAME_OPTIONS], "DENY", "{path}");
            assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
            assert!(h.get(header::STRICT_TRANSPORT_SECURITY).is_none(), "{path}");
            assert!(h.get(header::CACHE_CONTROL).is_none() || path == "/cached");
        }
        assert!(NON_HTML_POLICY.contains("frame-ancestors 'none'"));
    }

    /// HSTS only when the service is reached over https.
    #[test]
    fn https_services_pin_https() {
        let h = headers_of(&test_app(true), "/page");
        assert_eq!(
            h[header::STRICT_TRANSPORT_SECURITY],
            STRICT_TRANSPORT_SECURITY
        );
    }

    /// An answer to a logged-in user or a party is never stored by a cache, unless the handler
    /// chose its caching itself; anonymous answers are left alone.
    #[test]
    fn authenticated_answers_are_not_stored() {
        let app = test_app(false);
        for cookie in ["inkan_session=abc", "inkan_lang=ja; inkan_party=xyz"] {
            for path in ["/page", "/json", "/error"] {
                let h = respond(&app, path, Some(cookie));
                assert_eq!(h[header::CACHE_CONTROL], "no-store", "{path} {cookie}");
            }
            let h = respond(&app, "/cached", Some(cookie));
            assert_eq!(h[header::CACHE_CONTROL], "public, max-age=60");
        }
        let h = respond(&app, "/page", Some("inkan_lang=ja"));
        assert!(h.get(header::CACHE_CONTROL).is_none());
    }

    #[test]
    fn the_policy_allows_no_inline_code_and_names_every_directive_asked_for() {
        let directives: Vec<&str> = CONTENT_SECURITY_POLICY.split(';').map(str::trim).collect();
        for wanted in [
            "script-src 'self'",
            "style-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
            "worker-src 'self'",
        ] {
            assert!(directives.contains(&wanted), "{wanted}");
        }
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
        assert!(!CONTENT_SECURITY_POLICY.contains("  "));
    }
}
