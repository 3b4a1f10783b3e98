//! What every handler can reach ([`AppState`]) and the whole service as one router.

use std::sync::Arc;

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
        .with_state(state);
    match ca {
        // The CA's paths (/ca.crt, /crl, /ocsp, /tsa, …) sit at the root, as under
        // `inkan ca serve`, so a CA whose base URL is this service's works unchanged.
        Some(ca) => app.merge(ca),
        None => app,
    }
}
