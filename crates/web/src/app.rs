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
    let app = app.fallback_service(axum::routing::any(routes::pages::not_found).with_state(state));
    app.layer(axum::middleware::from_fn(security_headers))
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

/// Adds the Content-Security-Policy (and the referrer policy: a party's link carries its token)
/// to every HTML response.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if is_html(response.headers()) {
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
    }
    response
}

fn is_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("text/html"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::response::{Html, IntoResponse};
    use axum::routing::get;
    use tower::ServiceExt as _;

    fn headers_of(app: &Router, path: &str) -> HeaderMap {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let request = axum::http::Request::get(path)
            .body(Body::empty())
            .expect("request");
        rt.block_on(app.clone().oneshot(request))
            .expect("response")
            .headers()
            .clone()
    }

    #[test]
    fn html_responses_carry_the_content_security_policy() {
        let app = Router::new()
            .route("/page", get(|| async { Html("<p>page</p>") }))
            .route("/json", get(|| async { axum::Json(1) }))
            .route(
                "/error",
                get(|| async {
                    (axum::http::StatusCode::NOT_FOUND, Html("<p>no</p>")).into_response()
                }),
            )
            .layer(axum::middleware::from_fn(security_headers));
        for path in ["/page", "/error"] {
            let h = headers_of(&app, path);
            assert_eq!(
                h[header::CONTENT_SECURITY_POLICY],
                CONTENT_SECURITY_POLICY,
                "{path}"
            );
            assert_eq!(h[header::REFERRER_POLICY], "same-origin");
        }
        assert!(headers_of(&app, "/json")
            .get(header::CONTENT_SECURITY_POLICY)
            .is_none());
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
