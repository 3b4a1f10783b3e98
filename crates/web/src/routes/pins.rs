//! The signing PIN's JSON API: one's own PIN (status, set, change) and, for administrators,
//! a user's PIN (status, set or change, unlock after repeated wrong PINs, reset when forgotten:
//! revokes the PIN-bound certificate and starts its free re-issue).

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::app::AppState;
use crate::error::{ApiError, AsSigner, ForUser, HttpFailure};
use crate::routes::certificates::managed_user;
use crate::routes::extract::{ApiJson, ApiSession};
use domain::error::Failure;
use domain::permissions::{require, Action};
use domain::pins::{self, PinCa, PinChange, PinStatus, ResetOutcome};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/me/pin", get(own_status).put(own_set))
        .route("/api/users/{id}/pin", get(user_status).put(user_set))
        .route("/api/users/{id}/pin/unlock", post(user_unlock))
        .route("/api/users/{id}/pin/reset", post(user_reset))
}

fn pin_ca(state: &AppState) -> Result<PinCa, Failure> {
    state.pin_ca().ok_or(Failure::BadRequest("error.no_ca"))
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
    ApiSession(session): ApiSession,
) -> Result<Json<PinStatus>, HttpFailure> {
    require(session.user.roles, Action::OwnSealsAndCertificate)?;
    Ok(Json(
        pins::status(&state.db, state.clock.now(), &session.user.id).await?,
    ))
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
    ApiSession(session): ApiSession,
    ApiJson(change): ApiJson<PinChange>,
) -> Result<Json<PinStatus>, HttpFailure> {
    require(session.user.roles, Action::OwnSealsAndCertificate)?;
    let ca = pin_ca(&state)?;
    let now = state.clock.now();
    Ok(Json(
        pins::set(&state.db, now, &ca, &session.user, &session.user, &change).await?,
    ))
}

/// A user's signing PIN status (an administrator).
#[utoipa::path(get, path = "/api/users/{id}/pin", tag = "pin",
    params(("id" = String, Path, description = "The user's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "Status", body = PinStatus),
        ForUser,
    ))]
pub async fn user_status(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
) -> Result<Json<PinStatus>, HttpFailure> {
    let user = managed_user(&state, &session.user, &id).await?;
    Ok(Json(
        pins::status(&state.db, state.clock.now(), &user.id).await?,
    ))
}

/// Sets a user's first PIN, or changes it with the current one (an administrator).
#[utoipa::path(put, path = "/api/users/{id}/pin", tag = "pin",
    request_body = PinChange,
    params(("id" = String, Path, description = "The user's id")),
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "Set or changed", body = PinStatus),
        (status = 400, description = "A bad PIN, a mismatch, a wrong or missing current PIN, the user is not a signer, or malformed JSON", body = ApiError),
        ForUser,
        (status = 409, description = "Changed meanwhile by another request", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
        (status = 423, description = "Locked after repeated wrong PINs", body = ApiError),
    ))]
pub async fn user_set(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
    ApiJson(change): ApiJson<PinChange>,
) -> Result<Json<PinStatus>, HttpFailure> {
    let user = managed_user(&state, &session.user, &id).await?;
    let ca = pin_ca(&state)?;
    let now = state.clock.now();
    Ok(Json(
        pins::set(&state.db, now, &ca, &session.user, &user, &change).await?,
    ))
}

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
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
) -> Result<Json<PinStatus>, HttpFailure> {
    let user = managed_user(&state, &session.user, &id).await?;
    Ok(Json(
        pins::unlock(&state.db, state.clock.now(), &session.user, &user).await?,
    ))
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
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
) -> Result<Json<ResetOutcome>, HttpFailure> {
    let user = managed_user(&state, &session.user, &id).await?;
    let ca = pin_ca(&state)?;
    Ok(Json(
        pins::reset(&state.db, state.clock.now(), &ca, &session.user, &user).await?,
    ))
}
