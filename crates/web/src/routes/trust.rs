//! The public page that lets a reader trust Inkan's signatures (`/trust`, no login needed): the
//! root certificate to download (DER from the CA's own `/root.crt`, PEM from `/root.pem`), its
//! fingerprints to compare, and step by step how to add it to Adobe Acrobat's trusted
//! certificates and to the Windows and macOS stores. The completion mail, a completed
//! contract's downloads and `/sign` link here.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use ca::authority::paths;
use minijinja::context;

use crate::app::AppState;
use crate::routes::extract::{page_lang, session_of};
use crate::routes::pages::{error_page, frame, render};
use domain::error::Failure;

/// Where the page is.
pub const PATH: &str = "/trust";

pub fn router() -> Router<AppState> {
    Router::new().route(PATH, get(page))
}

/// The page, in the visitor's language; a logged-in visitor keeps their menu.
async fn page(State(state): State<AppState>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let session = session_of(&parts, &state).await.ok().flatten();
    let lang = page_lang(&parts.headers, session.as_ref());
    match state.ca.root_certificate() {
        Ok(root) => render(
            &state,
            StatusCode::OK,
            "trust.html",
            lang,
            context! {
                root => root,
                der_url => format!("/{}", paths::ROOT_CERT),
                pem_url => format!("/{}", paths::ROOT_CERT_PEM),
                ..session.as_ref().map(|s| frame(s, lang, None)).unwrap_or_default()
            },
        ),
        Err(e) => error_page(&state, session.as_ref(), lang, &Failure::Internal(e)),
    }
}
