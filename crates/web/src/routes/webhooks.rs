//! The webhooks' JSON API for an organisation's administrators: register an endpoint for
//! contract events (its signing secret is answered once), list and delete them, read an
//! endpoint's delivery log, and send it a `ping` to check the receiver. What is delivered, and
//! how it is signed and retried, is `domain::webhooks`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};

use crate::app::AppState;
use crate::error::{ApiError, HttpFailure};
use crate::routes::extract::{ApiJson, ApiSession};
use crate::routes::schemas::{
    CreatedWebhookEndpoint, NewWebhookEndpoint, WebhookDelivery, WebhookEndpoint,
};
use domain::webhooks::{self, NewEndpoint};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/webhooks", get(list).post(create))
        .route("/api/webhooks/{webhook}", delete(remove))
        .route("/api/webhooks/{webhook}/deliveries", get(deliveries))
        .route("/api/webhooks/{webhook}/test", post(test))
}

/// Registers an endpoint (an administrator): deliveries of the chosen events are POSTed to it,
/// signed with the secret in the answer — the only time the secret is shown.
#[utoipa::path(post, path = "/api/webhooks", tag = "webhooks",
    request_body = NewWebhookEndpoint,
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 201, description = "The endpoint, with its signing secret", body = CreatedWebhookEndpoint),
        (status = 400, description = "Field problems (every one named): not an http(s) URL, too long, no event or an unknown one; or a malformed body", body = ApiError),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "Not an administrator, or CSRF token wrong", body = ApiError),
        (status = 409, description = "The organisation has 20 endpoints already", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
    ))]
pub async fn create(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    ApiJson(new): ApiJson<NewEndpoint>,
) -> Result<(StatusCode, Json<webhooks::CreatedEndpoint>), HttpFailure> {
    let now = state.clock.now();
    let created = webhooks::create(&state.db, now, &session.user, &new).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The organisation's endpoints, oldest first, without their secrets (an administrator).
#[utoipa::path(get, path = "/api/webhooks", tag = "webhooks",
    security(("session" = [])),
    responses(
        (status = 200, description = "The endpoints", body = Vec<WebhookEndpoint>),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "Not an administrator", body = ApiError),
    ))]
pub async fn list(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
) -> Result<Json<Vec<webhooks::Endpoint>>, HttpFailure> {
    Ok(Json(webhooks::list(&state.db, &session.user).await?))
}

/// Deletes an endpoint (an administrator): nothing more is sent to it, and its pending
/// deliveries fail.
#[utoipa::path(delete, path = "/api/webhooks/{webhook}", tag = "webhooks",
    params(("webhook" = String, Path, description = "The endpoint's id")),
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "Not an administrator, or CSRF token wrong", body = ApiError),
        (status = 404, description = "No such endpoint in the caller's organisation", body = ApiError),
    ))]
pub async fn remove(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
) -> Result<StatusCode, HttpFailure> {
    let now = state.clock.now();
    webhooks::delete(&state.db, now, &session.user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An endpoint's delivery log, newest first (the newest 200; an administrator).
#[utoipa::path(get, path = "/api/webhooks/{webhook}/deliveries", tag = "webhooks",
    params(("webhook" = String, Path, description = "The endpoint's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "The deliveries", body = Vec<WebhookDelivery>),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "Not an administrator", body = ApiError),
        (status = 404, description = "No such endpoint in the caller's organisation", body = ApiError),
    ))]
pub async fn deliveries(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
) -> Result<Json<Vec<webhooks::Delivery>>, HttpFailure> {
    Ok(Json(
        webhooks::deliveries(&state.db, &session.user, &id).await?,
    ))
}

/// Sends a `ping` event to the endpoint (an administrator checking their receiver); the answer
/// is the queued delivery, whose progress the delivery log shows.
#[utoipa::path(post, path = "/api/webhooks/{webhook}/test", tag = "webhooks",
    params(("webhook" = String, Path, description = "The endpoint's id")),
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 202, description = "The ping is queued", body = WebhookDelivery),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "Not an administrator, or CSRF token wrong", body = ApiError),
        (status = 404, description = "No such endpoint in the caller's organisation", body = ApiError),
    ))]
pub async fn test(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<webhooks::Delivery>), HttpFailure> {
    let now = state.clock.now();
    let delivery = webhooks::ping(&state.db, now, &session.user, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}
