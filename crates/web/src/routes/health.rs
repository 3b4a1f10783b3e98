//! `GET /healthz`: 200 when the process serves and its database answers, 503 otherwise (for
//! load balancers and the tests' start-up wait).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::app::AppState;
use domain::db::Backend;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`, or `database unavailable`.
    pub status: String,
    /// `sqlite` or `postgres` (when ok).
    pub database: Option<String>,
}

/// Whether this process serves and its database answers.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses(
        (status = 200, description = "Serving", body = Health),
        (status = 503, description = "The database does not answer", body = Health),
    ))]
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    if state.db.ping().await {
        let database = match state.db.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        };
        (
            StatusCode::OK,
            Json(json!({ "status": "ok", "database": database })),
        )
    } else {
        tracing::error!("health check: the database does not answer");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "database unavailable" })),
        )
    }
}
