//! The contracts' JSON API: a document manager drafts a contract and names its parties; the
//! sender and the organisation's administrators read it and its history. Documents, fields,
//! sending and signing arrive with the rest of the contracts issue.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::error::{ApiError, HttpFailure};
use crate::routes::extract::{ApiJson, ApiSession};
use crate::routes::schemas::{Contract, ContractEvent, NewPartyBody, Party};
use domain::contracts::{self, NewParty};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/contracts", get(list).post(create))
        .route("/api/contracts/{contract}", get(one))
        .route("/api/contracts/{contract}/parties", post(add_party))
        .route("/api/contracts/{contract}/events", get(events))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewContract {
    /// 1 to 200 characters.
    #[serde(default)]
    pub title: String,
}

/// Starts a draft (a document manager).
#[utoipa::path(post, path = "/api/contracts", tag = "contracts",
    request_body = NewContract,
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 201, description = "The draft", body = Contract),
        (status = 400, description = "No title, or too long", body = ApiError),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "Not a document manager, or CSRF token wrong", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
    ))]
pub async fn create(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    ApiJson(new): ApiJson<NewContract>,
) -> Result<(StatusCode, Json<contracts::Contract>), HttpFailure> {
    let now = state.clock.now();
    let draft = contracts::create_draft(&state.db, now, &session.user, &new.title).await?;
    Ok((StatusCode::CREATED, Json(draft)))
}

/// The caller's contracts, or (an administrator) the organisation's, newest first.
#[utoipa::path(get, path = "/api/contracts", tag = "contracts",
    security(("session" = [])),
    responses(
        (status = 200, description = "The contracts", body = Vec<Contract>),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "Neither a document manager nor an administrator", body = ApiError),
    ))]
pub async fn list(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
) -> Result<Json<Vec<contracts::Contract>>, HttpFailure> {
    Ok(Json(contracts::list(&state.db, &session.user).await?))
}

/// One contract with its parties (its sender, or an administrator of its organisation).
#[utoipa::path(get, path = "/api/contracts/{contract}", tag = "contracts",
    params(("contract" = String, Path, description = "The contract's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "The contract", body = Contract),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "The password must be changed first", body = ApiError),
        (status = 404, description = "No such contract the caller may see", body = ApiError),
    ))]
pub async fn one(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
) -> Result<Json<contracts::Contract>, HttpFailure> {
    Ok(Json(contracts::get(&state.db, &session.user, &id).await?))
}

/// Names a party of a draft (its sender): a user of the instance by email, or an outside party
/// by name and email; their step, role and (signers) signature kind.
#[utoipa::path(post, path = "/api/contracts/{contract}/parties", tag = "contracts",
    params(("contract" = String, Path, description = "The contract's id")),
    request_body = NewPartyBody,
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 201, description = "The party", body = Party),
        (status = 400, description = "Field problems (every one named), or who signs how", body = ApiError),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "Not a document manager, not the sender, or CSRF token wrong", body = ApiError),
        (status = 404, description = "No such contract the caller may see", body = ApiError),
        (status = 409, description = "The contract was sent already", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
    ))]
pub async fn add_party(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
    ApiJson(new): ApiJson<NewParty>,
) -> Result<(StatusCode, Json<contracts::Party>), HttpFailure> {
    let now = state.clock.now();
    let party = contracts::add_party(&state.db, now, &session.user, &id, &new).await?;
    Ok((StatusCode::CREATED, Json(party)))
}

/// The contract's history, oldest first.
#[utoipa::path(get, path = "/api/contracts/{contract}/events", tag = "contracts",
    params(("contract" = String, Path, description = "The contract's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "The events", body = Vec<ContractEvent>),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "The password must be changed first", body = ApiError),
        (status = 404, description = "No such contract the caller may see", body = ApiError),
    ))]
pub async fn events(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
) -> Result<Json<Vec<contracts::Event>>, HttpFailure> {
    Ok(Json(
        contracts::events(&state.db, &session.user, &id).await?,
    ))
}
