//! The parties' JSON API, through their personal links (`/api/party/{token}/…`): what the link
//! leads to, an outside party's one-time code, the documents, signing, approving, declining,
//! and the certificate of completion. A user party acts logged in as that user (the session
//! cookie, with the CSRF header on state-changing requests); an outside party acts with the
//! session the code gave them (the `x-inkan-party` header or the `inkan_party` cookie).

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::app::AppState;
use crate::error::{ApiError, HttpFailure};
use crate::routes::contracts::pdf_response;
use crate::routes::extract::{set_cookie, ApiJson, PartyVisitor, RequestVia, PARTY_COOKIE};
use crate::routes::schemas::{
    CodeBody, ForwardBody, PartySession, PartyView, ReasonBody, SignBody, SignatureOutcome,
};
use domain::contracts::flow;
use domain::contracts::signature::{self, SignatureStatus};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/party/{token}", get(view))
        .route("/api/party/{token}/code", post(send_code))
        .route("/api/party/{token}/code/confirm", post(confirm_code))
        .route("/api/party/{token}/sign", post(sign))
        .route("/api/party/{token}/approve", post(approve))
        .route("/api/party/{token}/decline", post(decline))
        .route("/api/party/{token}/forward", post(forward))
        .route("/api/party/{token}/certificate", get(certificate))
        .route("/api/party/{token}/documents/{document}/pdf", get(document))
}

/// What the party's link leads to now; the first authenticated view in their turn records
/// that they opened it.
#[utoipa::path(get, path = "/api/party/{token}", tag = "parties",
    params(("token" = String, Path, description = "The token of the party's link")),
    security((), ("session" = []), ("party" = [])),
    responses(
        (status = 200, description = "The party's view", body = PartyView),
        (status = 404, description = "No such link, or it has lapsed", body = ApiError),
    ))]
pub async fn view(
    State(state): State<AppState>,
    PartyVisitor(visitor): PartyVisitor,
    RequestVia(via): RequestVia,
    Path(token): Path<String>,
) -> Result<Json<flow::PartyView>, HttpFailure> {
    let now = state.clock.now();
    Ok(Json(
        flow::view(&state.desk, now, &token, &visitor, &via).await?,
    ))
}

/// Mails an outside party a new one-time code (valid 10 minutes, 5 tries).
#[utoipa::path(post, path = "/api/party/{token}/code", tag = "parties",
    params(("token" = String, Path, description = "The token of the party's link")),
    responses(
        (status = 204, description = "Sent"),
        (status = 400, description = "The party is a user of the instance: they log in", body = ApiError),
        (status = 404, description = "No such link, or it has lapsed", body = ApiError),
        (status = 409, description = "The contract was declined, cancelled or expired", body = ApiError),
    ))]
pub async fn send_code(
    State(state): State<AppState>,
    RequestVia(via): RequestVia,
    Path(token): Path<String>,
) -> Result<StatusCode, HttpFailure> {
    let now = state.clock.now();
    flow::send_code(&state.desk, now, &token, &via).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub struct Code {
    #[serde(default)]
    code: String,
}

/// Confirms an outside party's one-time code; answers their session (also set as a cookie).
#[utoipa::path(post, path = "/api/party/{token}/code/confirm", tag = "parties",
    params(("token" = String, Path, description = "The token of the party's link")),
    request_body = CodeBody,
    responses(
        (status = 200, description = "The party's session", body = PartySession),
        (status = 400, description = "Wrong code (counted), used up after 5 wrong ones, or expired", body = ApiError),
        (status = 404, description = "No such link, or it has lapsed", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
    ))]
pub async fn confirm_code(
    State(state): State<AppState>,
    RequestVia(via): RequestVia,
    Path(token): Path<String>,
    ApiJson(body): ApiJson<Code>,
) -> Result<Response, HttpFailure> {
    let now = state.clock.now();
    let session = flow::confirm_code(&state.desk, now, &token, &body.code, &via).await?;
    let cookie = set_cookie(&state, PARTY_COOKIE, &session, Some(2 * 3600));
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(serde_json::json!({ "session": session })),
    )
        .into_response())
}

/// Signs (a signer in their turn): their fields' values, their seal and PIN (certificate
/// signers). The signature is carried out at once; 202 when it is still going on (ask the
/// view again), 200 when done. Asking again while one is pending answers that one.
#[utoipa::path(post, path = "/api/party/{token}/sign", tag = "parties",
    params(("token" = String, Path, description = "The token of the party's link")),
    request_body = SignBody,
    security(("session" = [], "csrf" = []), ("party" = [])),
    responses(
        (status = 200, description = "Signed", body = SignatureOutcome),
        (status = 202, description = "Being carried out", body = SignatureOutcome),
        (status = 400, description = "A field's value, the seal, or the PIN (wrong: counted)", body = ApiError),
        (status = 401, description = "A user party who is not logged in", body = ApiError),
        (status = 403, description = "Not this party (another user, no code session), or CSRF token wrong", body = ApiError),
        (status = 404, description = "No such link, or it has lapsed", body = ApiError),
        (status = 409, description = "Not their turn yet, done already, or the contract is not in progress", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
        (status = 423, description = "Signing locked after repeated wrong PINs", body = ApiError),
    ))]
pub async fn sign(
    State(state): State<AppState>,
    PartyVisitor(visitor): PartyVisitor,
    RequestVia(via): RequestVia,
    Path(token): Path<String>,
    ApiJson(body): ApiJson<signature::SignRequest>,
) -> Result<Response, HttpFailure> {
    let now = state.clock.now();
    let asked = signature::request(&state.desk, now, &token, &visitor, &body, &via).await?;
    if let Some(job) = asked.job {
        // Carried out now; a failure is retried by the runners and shown in the outcome.
        let id = job.id().to_owned();
        if let Err(e) = state.jobs.run_claim(job).await {
            tracing::warn!(error = %format!("{e:#}"), job = id, "running a signature at once");
        }
    }
    let outcome = signature::outcome(&state.db, &asked.signature).await?;
    let status = match outcome.status {
        SignatureStatus::Done => StatusCode::OK,
        SignatureStatus::Pending | SignatureStatus::Failed => StatusCode::ACCEPTED,
    };
    Ok((status, Json(outcome)).into_response())
}

/// Approves (an approver in their turn).
#[utoipa::path(post, path = "/api/party/{token}/approve", tag = "parties",
    params(("token" = String, Path, description = "The token of the party's link")),
    security(("session" = [], "csrf" = []), ("party" = [])),
    responses(
        (status = 204, description = "Approved"),
        (status = 400, description = "Not an approver", body = ApiError),
        (status = 401, description = "A user party who is not logged in", body = ApiError),
        (status = 403, description = "Not this party, or CSRF token wrong", body = ApiError),
        (status = 404, description = "No such link, or it has lapsed", body = ApiError),
        (status = 409, description = "Not their turn yet, done already, or the contract is not in progress", body = ApiError),
    ))]
pub async fn approve(
    State(state): State<AppState>,
    PartyVisitor(visitor): PartyVisitor,
    RequestVia(via): RequestVia,
    Path(token): Path<String>,
) -> Result<StatusCode, HttpFailure> {
    let now = state.clock.now();
    flow::approve(&state.desk, now, &token, &visitor, &via).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub struct Reason {
    #[serde(default)]
    reason: String,
}

/// Declines with a reason (a signer or approver in their turn): the contract stops and its
/// sender is mailed.
#[utoipa::path(post, path = "/api/party/{token}/decline", tag = "parties",
    params(("token" = String, Path, description = "The token of the party's link")),
    request_body = ReasonBody,
    security(("session" = [], "csrf" = []), ("party" = [])),
    responses(
        (status = 204, description = "Declined"),
        (status = 400, description = "No reason, or too long", body = ApiError),
        (status = 401, description = "A user party who is not logged in", body = ApiError),
        (status = 403, description = "Not this party, or CSRF token wrong", body = ApiError),
        (status = 404, description = "No such link, or it has lapsed", body = ApiError),
        (status = 409, description = "Not their turn yet, done already, a signature in progress, or the contract is not in progress", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
    ))]
pub async fn decline(
    State(state): State<AppState>,
    PartyVisitor(visitor): PartyVisitor,
    RequestVia(via): RequestVia,
    Path(token): Path<String>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<StatusCode, HttpFailure> {
    let now = state.clock.now();
    flow::decline(&state.desk, now, &token, &visitor, &body.reason, &via).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Forwards the party's place to someone else (when the sender allowed it): they are mailed a
/// link, and this party's links stop working.
#[utoipa::path(post, path = "/api/party/{token}/forward", tag = "parties",
    params(("token" = String, Path, description = "The token of the party's link")),
    request_body = ForwardBody,
    security(("session" = [], "csrf" = []), ("party" = [])),
    responses(
        (status = 204, description = "Forwarded"),
        (status = 400, description = "No or a bad email, oneself, a name too long; a certificate signature to someone who is not a signer with a valid certificate", body = ApiError),
        (status = 401, description = "A user party who is not logged in", body = ApiError),
        (status = 403, description = "Not this party, forwarding not allowed, or CSRF token wrong", body = ApiError),
        (status = 404, description = "No such link, or it has lapsed", body = ApiError),
        (status = 409, description = "Not their turn yet, done already, a signature in progress, or the contract is not in progress", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
    ))]
pub async fn forward(
    State(state): State<AppState>,
    PartyVisitor(visitor): PartyVisitor,
    RequestVia(via): RequestVia,
    Path(token): Path<String>,
    ApiJson(body): ApiJson<flow::Forward>,
) -> Result<StatusCode, HttpFailure> {
    let now = state.clock.now();
    flow::forward(&state.desk, now, &token, &visitor, &body, &via).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub struct DocumentPath {
    token: String,
    document: String,
}

/// A document as it stands now (the party, in or after their turn).
#[utoipa::path(get, path = "/api/party/{token}/documents/{document}/pdf", tag = "parties",
    params(("token" = String, Path, description = "The token of the party's link"),
           ("document" = String, Path, description = "The document's id")),
    security(("session" = []), ("party" = [])),
    responses(
        (status = 200, description = "The PDF", content_type = "application/pdf", body = crate::routes::schemas::FileBytes),
        (status = 403, description = "Not this party, or not their turn yet", body = ApiError),
        (status = 404, description = "No such link or document", body = ApiError),
    ))]
pub async fn document(
    State(state): State<AppState>,
    PartyVisitor(visitor): PartyVisitor,
    Path(DocumentPath { token, document }): Path<DocumentPath>,
) -> Result<Response, HttpFailure> {
    let now = state.clock.now();
    let (name, download) =
        flow::party_document(&state.desk, now, &token, &visitor, &document).await?;
    Ok(pdf_response(&name, download))
}

/// The certificate of completion (a party of a completed contract).
#[utoipa::path(get, path = "/api/party/{token}/certificate", tag = "parties",
    params(("token" = String, Path, description = "The token of the party's link")),
    security(("session" = []), ("party" = [])),
    responses(
        (status = 200, description = "The certificate of completion", content_type = "application/pdf", body = crate::routes::schemas::FileBytes),
        (status = 403, description = "Not this party", body = ApiError),
        (status = 404, description = "No such link, or it has lapsed", body = ApiError),
        (status = 409, description = "Not completed", body = ApiError),
    ))]
pub async fn certificate(
    State(state): State<AppState>,
    PartyVisitor(visitor): PartyVisitor,
    Path(token): Path<String>,
) -> Result<Response, HttpFailure> {
    let now = state.clock.now();
    let download = flow::party_certificate(&state.desk, now, &token, &visitor).await?;
    Ok(pdf_response("certificate-of-completion", download))
}
