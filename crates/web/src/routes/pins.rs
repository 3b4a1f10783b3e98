//! The signing PIN's JSON API: one's own PIN (status, set, change) and, for administrators,
//! a user's PIN (status, set or change, unlock after repeated wrong PINs, reset when forgotten:
//! revokes the PIN-bound certificate and starts its free re-issue).

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::app::AppState;
use crate::error::{ApiError, AsSigner, ForUser, HttpFailure};
use crate::routes::extract::{ApiActing, ApiJson};
use crate::routes::schemas::{PinChange, PinStatus, ResetOutcome};
use domain::pins;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/me/pin", get(own_status).put(own_set))
        .route("/api/users/{id}/pin", get(own_status).put(own_set))
        .route("/api/users/{id}/pin/unlock", post(user_unlock))
        .route("/api/users/{id}/pin/reset", post(user_reset))
}

/// Whether the caller has a signing PIN and whether signing is locked.
#[utoipa::path(get, path = "/api/me/pin", tag = "pin",
    security(("session" = [])),
    responses(
        (status = 200, description = "Status", body = PinStatus),
        AsSigner,
    ))]
pub async fn own_status(
    State(state): State<AppState>,
    ApiActing(acting): ApiActing,
) -> Result<Json<pins::PinStatus>, HttpFailure> {
    let acting = acting.admit(pins::holder)?;
    let status = pins::status(&state.db, state.clock.now(), &acting.user().id);
    Ok(Json(status.await?))
}

/// Sets the caller's signing PIN, or changes it (`current` needed). A wrong `current` counts
/// towards the lock like a wrong PIN at signing.
#[utoipa::path(put, path = "/api/me/pin", tag = "pin",
    request_body = PinChange,
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "Set or changed", body = PinStatus),
        (status = 400, description = "A PIN that is not 8-64 letters and digits, a mismatch, a wrong or missing current PIN, or malformed JSON", body = ApiError),
        AsSigner,
        (status = 409, description = "Changed meanwhile by another request", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
        (status = 423, description = "Locked after repeated wrong PINs", body = ApiError),
    ))]
pub async fn own_set(
    State(state): State<AppState>,
    ApiActing(acting): ApiActing,
    ApiJson(change): ApiJson<pins::PinChange>,
) -> Result<Json<pins::PinStatus>, HttpFailure> {
    let acting = acting.admit(pins::holder)?;
    let ca = &state.ca;
    let now = state.clock.now();
    Ok(Json(pins::set(&state.db, now, ca, &acting, &change).await?))
}

/// The paths these handlers serve for the caller; each also serves `/api/users/{id}/…`.
pub const MIRRORED: &[&str] = &["/api/me/pin"];

/// Lifts the lock after repeated wrong PINs (an administrator).
#[utoipa::path(post, path = "/api/users/{id}/pin/unlock", tag = "pin",
    params(("id" = String, Path, description = "The user's id")),
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "Unlocked", body = PinStatus),
        (status = 400, description = "The user has no PIN", body = ApiError),
        ForUser,
    ))]
pub async fn user_unlock(
    State(state): State<AppState>,
    ApiActing(acting): ApiActing,
) -> Result<Json<pins::PinStatus>, HttpFailure> {
    let unlocked = pins::unlock(&state.db, state.clock.now(), &acting);
    Ok(Json(unlocked.await?))
}

/// Resets a forgotten PIN (an administrator): the certificates whose keys it protected are
/// revoked and a free re-issue is ordered, issued when the user sets a new PIN.
#[utoipa::path(post, path = "/api/users/{id}/pin/reset", tag = "pin",
    params(("id" = String, Path, description = "The user's id")),
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "Reset", body = ResetOutcome),
        (status = 400, description = "The user has no PIN", body = ApiError),
        ForUser,
    ))]
pub async fn user_reset(
    State(state): State<AppState>,
    ApiActing(acting): ApiActing,
) -> Result<Json<pins::ResetOutcome>, HttpFailure> {
    let ca = &state.ca;
    let reset = pins::reset(&state.db, state.clock.now(), ca, &acting);
    Ok(Json(reset.await?))
}
