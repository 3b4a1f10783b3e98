//! The HTTP routes, one module per resource, each exporting `fn router() -> Router<AppState>`,
//! merged here.

use axum::Router;

use crate::app::AppState;

pub mod health;

/// Every route of the service (the CA's endpoints are added by `app` when configured).
pub fn router() -> Router<AppState> {
    Router::new().merge(health::router())
}
