//! The contracts' JSON API for their senders: a document manager drafts a contract (documents,
//! parties, fields, options), sends it, reminds, cancels, and downloads the signed documents and
//! the certificate of completion; the organisation's administrators read every contract. The
//! parties' own API (through their personal links) is [`super::party`].

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use futures_util::TryStreamExt;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::error::{ApiError, AsReader, AsSender, HttpFailure};
use crate::routes::extract::{ApiJson, ApiSession, RequestVia};
use crate::routes::schemas::{
    Candidate, Contract, ContractCounts, ContractDocument, ContractEvent, ContractField,
    ContractOptions, FieldChangeBody, NewFieldBody, NewPartyBody, Party, PartyChangeBody,
};
use domain::contracts::{self, flow, ListQuery, NewParty};
use domain::error::Failure;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/contracts", get(list).post(create))
        .route("/api/contracts/counts", get(counts))
        .route("/api/people", get(people))
        .route("/api/contracts/{contract}", get(one).patch(set_options))
        .route("/api/contracts/{contract}/parties", post(add_party))
        .route("/api/contracts/{contract}/events", get(events))
        .route(
            "/api/contracts/{contract}/fields",
            get(fields).post(add_field),
        )
        .route("/api/contracts/{contract}/cancel", post(cancel))
        .route("/api/contracts/{contract}/send", post(send))
        .route("/api/contracts/{contract}/remind", post(remind))
        .route("/api/contracts/{contract}/certificate", get(certificate))
        .route(
            "/api/contracts/{contract}/parties/{party}",
            delete(remove_party).patch(change_party),
        )
        .route(
            "/api/contracts/{contract}/documents/{document}",
            delete(remove_document),
        )
        .route(
            "/api/contracts/{contract}/fields/{field}",
            delete(remove_field).patch(change_field),
        )
        .route(
            "/api/contracts/{contract}/documents/{document}/pdf",
            get(document_pdf),
        )
        // The document store stops reading at its own limit (50 MB).
        .merge(
            Router::new()
                .route(
                    "/api/contracts/{contract}/documents",
                    get(documents).post(add_document),
                )
                .layer(DefaultBodyLimit::disable()),
        )
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

/// A list's parameters, as the query string gives them (checked by the domain, every problem
/// at once).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only contracts in this status: `draft`, `sent`, `completed`, `declined`, `cancelled` or
    /// `expired`.
    pub status: Option<String>,
    /// Words of the title, or of a party's name or email address (any case), up to 100
    /// characters.
    pub q: Option<String>,
    /// `true`: the contracts in progress where it is the caller's turn as a party (of any
    /// organisation), instead of those they sent or administer. Anyone but the instance
    /// operator may ask.
    pub waiting: Option<String>,
    /// `created` (newest first, the default) or `updated` (the last change first).
    pub sort: Option<String>,
    /// From 1 (the default).
    pub page: Option<String>,
    /// Contracts per page: 1 to 100 (20).
    pub limit: Option<String>,
}

fn list_params(raw: Option<&str>) -> Result<ListParams, Failure> {
    serde_urlencoded::from_str(raw.unwrap_or_default())
        .map_err(|e| Failure::BadQuery(e.to_string()))
}

impl ListParams {
    pub fn query(&self) -> Result<ListQuery, Failure> {
        ListQuery::parse(
            self.status.as_deref(),
            self.q.as_deref(),
            self.waiting.as_deref(),
            self.sort.as_deref(),
            self.page.as_deref(),
            self.limit.as_deref(),
        )
    }
}

/// The caller's contracts, or (an administrator) the organisation's, or (`waiting=true`) those
/// where it is the caller's turn; filtered, searched, sorted and one page at a time. The
/// answer's `X-Total-Count` says how many there are on every page, and its `Link` header names
/// the `next` and `prev` pages.
#[utoipa::path(get, path = "/api/contracts", tag = "contracts",
    params(ListParams),
    security(("session" = [])),
    responses(
        (status = 200, description = "The contracts", body = Vec<Contract>,
            headers(
                ("X-Total-Count" = i64, description = "The contracts on every page"),
                ("Link" = String, description = "The next and previous pages (rel=\"next\", rel=\"prev\"), when there are"),
            )),
        (status = 400, description = "A parameter is wrong (every one named)", body = ApiError),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "Neither a document manager nor an administrator (or, for `waiting`, the instance operator)", body = ApiError),
    ))]
pub async fn list(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    RawQuery(raw): RawQuery,
) -> Result<Response, HttpFailure> {
    let params = list_params(raw.as_deref())?;
    let query = params.query()?;
    let page = contracts::list_page(&state.db, &session.user, &query).await?;
    let link = |n: i64| {
        let number = n.to_string();
        let pairs: Vec<(&str, &str)> = [
            ("status", params.status.as_deref()),
            ("q", params.q.as_deref()),
            ("waiting", params.waiting.as_deref()),
            ("sort", params.sort.as_deref()),
            ("limit", params.limit.as_deref()),
            ("page", Some(number.as_str())),
        ]
        .into_iter()
        .filter_map(|(key, value)| Some((key, value.filter(|v| !v.is_empty())?)))
        .collect();
        format!(
            "</api/contracts?{}>",
            serde_urlencoded::to_string(pairs).unwrap_or_default()
        )
    };
    let mut links = Vec::new();
    if page.page < page.pages() {
        links.push(format!("{}; rel=\"next\"", link(page.page + 1)));
    }
    if page.page > 1 {
        links.push(format!(
            "{}; rel=\"prev\"",
            link((page.page - 1).min(page.pages()))
        ));
    }
    let mut response = Json(&page.contracts).into_response();
    let headers = response.headers_mut();
    headers.insert("x-total-count", HeaderValue::from(page.total));
    if !links.is_empty() {
        if let Ok(value) = HeaderValue::from_str(&links.join(", ")) {
            headers.insert(header::LINK, value);
        }
    }
    Ok(response)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CountParams {
    /// The list's search (see `GET /api/contracts`).
    pub q: Option<String>,
}

/// How many contracts the caller sees in each status (with the list's search), and how many
/// wait for them as a party. Statuses are null for a caller who lists no contracts (neither a
/// document manager nor an administrator): they have only their turns.
#[utoipa::path(get, path = "/api/contracts/counts", tag = "contracts",
    params(CountParams),
    security(("session" = [])),
    responses(
        (status = 200, description = "The counts", body = ContractCounts),
        (status = 400, description = "The search is too long", body = ApiError),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "The instance operator, or the password must be changed first", body = ApiError),
    ))]
pub async fn counts(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    RawQuery(raw): RawQuery,
) -> Result<Json<contracts::Counts>, HttpFailure> {
    let params = list_params(raw.as_deref())?;
    let query = params.query()?;
    Ok(Json(
        contracts::counts(&state.db, &session.user, &query.search).await?,
    ))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeopleParams {
    /// Part of a name or email address (any case; empty: the first ones by name), up to 100
    /// characters.
    pub q: Option<String>,
    /// At most this many (1 to 20; 10).
    pub limit: Option<String>,
}

/// Users of the caller's organisation to name as parties (a document manager's type-ahead):
/// active users whose name or address contains `q`, by name, each with whether a certificate
/// signature (当事者型) is available to them and, if not, why.
#[utoipa::path(get, path = "/api/people", tag = "contracts",
    params(PeopleParams),
    security(("session" = [])),
    responses(
        (status = 200, description = "The users found", body = Vec<Candidate>),
        (status = 400, description = "The search is too long, or the limit not a number from 1 to 20", body = ApiError),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "Not a document manager", body = ApiError),
    ))]
pub async fn people(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<contracts::Candidate>>, HttpFailure> {
    let params: PeopleParams = serde_urlencoded::from_str(raw.as_deref().unwrap_or_default())
        .map_err(|e| Failure::BadQuery(e.to_string()))?;
    let limit = match params
        .limit
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        None => 10,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=20).contains(n))
            .ok_or_else(|| Failure::invalid("limit", "error.list_limit"))?,
    };
    let now = state.clock.now();
    let q = params.q.unwrap_or_default();
    Ok(Json(
        contracts::candidates(&state.db, now, &session.user, &q, limit).await?,
    ))
}

/// One contract with its parties (its sender, or an administrator of its organisation).
#[utoipa::path(get, path = "/api/contracts/{contract}", tag = "contracts",
    params(("contract" = String, Path, description = "The contract's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "The contract", body = Contract),
        AsReader,
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
        AsSender,
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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DocumentName {
    /// The file name (shown without `.pdf`).
    pub name: Option<String>,
}

/// Adds a PDF to a draft (its sender): the request body is the PDF (`application/pdf`), at most
/// 50 MB; it is checked by its content — not a PDF, encrypted or unreadable is refused.
#[utoipa::path(post, path = "/api/contracts/{contract}/documents", tag = "contracts",
    params(("contract" = String, Path, description = "The contract's id"), DocumentName),
    request_body(content((crate::routes::schemas::FileBytes = "application/pdf"), (crate::routes::schemas::FileBytes = "application/octet-stream")), description = "The PDF (sent as application/pdf or application/octet-stream)"),
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 201, description = "The document", body = ContractDocument),
        (status = 400, description = "Not a PDF, encrypted or unreadable (the message says why), or no name", body = ApiError),
        AsSender,
        (status = 409, description = "The contract was sent already", body = ApiError),
        (status = 413, description = "Larger than 50 MB", body = ApiError),
    ))]
pub async fn add_document(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
    Query(query): Query<DocumentName>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<contracts::Document>), HttpFailure> {
    // A declared length over the limit is refused before a byte of the body is read.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > contracts::MAX_DOCUMENT_BYTES) {
        return Err(Failure::TooLarge(contracts::MAX_DOCUMENT_BYTES).into());
    }
    let stream = body
        .into_data_stream()
        .map_err(|e| std::io::Error::other(e.to_string()));
    let reader = tokio_util::io::StreamReader::new(stream);
    let name = query.name.unwrap_or_default();
    let now = state.clock.now();
    let document = contracts::add_document(
        &state.db,
        &state.documents,
        now,
        &session.user,
        &id,
        &name,
        reader,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(document)))
}

/// The documents of a contract, in order.
#[utoipa::path(get, path = "/api/contracts/{contract}/documents", tag = "contracts",
    params(("contract" = String, Path, description = "The contract's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "The documents", body = Vec<ContractDocument>),
        AsReader,
    ))]
pub async fn documents(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
) -> Result<Json<Vec<contracts::Document>>, HttpFailure> {
    Ok(Json(
        contracts::documents(&state.db, &session.user, &id).await?,
    ))
}

/// Places a field on a draft's document for one of its parties (its sender): a signature for a
/// signer; dates, text, checkboxes and names for signers and approvers. The rectangle (PDF
/// points, origin at the page's lower left) must lie on the page.
#[utoipa::path(post, path = "/api/contracts/{contract}/fields", tag = "contracts",
    params(("contract" = String, Path, description = "The contract's id")),
    request_body = NewFieldBody,
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 201, description = "The field", body = ContractField),
        (status = 400, description = "Field problems (every one named): kind, party, document, page, outside the page, too small", body = ApiError),
        AsSender,
        (status = 409, description = "The contract was sent already", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
    ))]
pub async fn add_field(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
    ApiJson(new): ApiJson<contracts::NewField>,
) -> Result<(StatusCode, Json<contracts::Field>), HttpFailure> {
    let now = state.clock.now();
    let field =
        contracts::add_field(&state.db, &state.documents, now, &session.user, &id, &new).await?;
    Ok((StatusCode::CREATED, Json(field)))
}

/// The fields of a contract.
#[utoipa::path(get, path = "/api/contracts/{contract}/fields", tag = "contracts",
    params(("contract" = String, Path, description = "The contract's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "The fields, by document and page", body = Vec<ContractField>),
        AsReader,
    ))]
pub async fn fields(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
) -> Result<Json<Vec<contracts::Field>>, HttpFailure> {
    Ok(Json(
        contracts::fields(&state.db, &session.user, &id).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Cancellation {
    /// Why (1 to 1000 characters); recorded in the history.
    #[serde(default)]
    pub reason: String,
}

/// Cancels a draft or a contract in progress (its sender), with a reason.
#[utoipa::path(post, path = "/api/contracts/{contract}/cancel", tag = "contracts",
    params(("contract" = String, Path, description = "The contract's id")),
    request_body = Cancellation,
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "Cancelled", body = Contract),
        (status = 400, description = "No reason, or too long", body = ApiError),
        AsSender,
        (status = 409, description = "Completed, declined, expired or cancelled already", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
    ))]
pub async fn cancel(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    RequestVia(via): RequestVia,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Cancellation>,
) -> Result<Json<contracts::Contract>, HttpFailure> {
    let now = state.clock.now();
    let contract = flow::cancel(&state.desk, now, &session.user, &via, &id, &body.reason).await?;
    Ok(Json(contract))
}

/// Sends a draft (its sender): every field and the contract ID are written into the
/// documents, and the parties of the first step are mailed their links. Every problem that
/// stops it is named at once.
#[utoipa::path(post, path = "/api/contracts/{contract}/send", tag = "contracts",
    params(("contract" = String, Path, description = "The contract's id")),
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "Sent", body = Contract),
        (status = 400, description = "A document pdf-sign cannot prepare", body = ApiError),
        AsSender,
        (status = 409, description = "Not a draft, or not complete: no document, no party who \
            signs or approves, a signer without a signature field, a certificate signer without \
            a valid certificate", body = ApiError),
    ))]
pub async fn send(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    RequestVia(via): RequestVia,
    Path(id): Path<String>,
) -> Result<Json<contracts::Contract>, HttpFailure> {
    let now = state.clock.now();
    Ok(Json(
        flow::send(&state.desk, now, &session.user, &via, &id).await?,
    ))
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Reminded {
    /// How many parties were mailed a new link.
    pub reminded: usize,
}

/// Reminds the parties whose turn it is (its sender): each is mailed a new link.
#[utoipa::path(post, path = "/api/contracts/{contract}/remind", tag = "contracts",
    params(("contract" = String, Path, description = "The contract's id")),
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "Reminded", body = Reminded),
        AsSender,
        (status = 409, description = "The contract is not in progress", body = ApiError),
    ))]
pub async fn remind(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    RequestVia(via): RequestVia,
    Path(id): Path<String>,
) -> Result<Json<Reminded>, HttpFailure> {
    let now = state.clock.now();
    let reminded = flow::remind(&state.desk, now, &session.user, &via, &id).await?;
    Ok(Json(Reminded { reminded }))
}

/// The certificate of completion (PDF, signed by the organisation's platform certificate) of
/// a completed contract.
#[utoipa::path(get, path = "/api/contracts/{contract}/certificate", tag = "contracts",
    params(("contract" = String, Path, description = "The contract's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "The certificate of completion", content_type = "application/pdf", body = crate::routes::schemas::FileBytes),
        AsReader,
        (status = 409, description = "Not completed", body = ApiError),
    ))]
pub async fn certificate(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
) -> Result<Response, HttpFailure> {
    let download =
        contracts::certificate_pdf(&state.db, &state.documents, &session.user, &id).await?;
    Ok(pdf_response("certificate-of-completion", download))
}

#[derive(Debug, Deserialize)]
pub struct PartyPath {
    contract: String,
    party: String,
}

/// Removes a party from a draft, with their fields (its sender).
#[utoipa::path(delete, path = "/api/contracts/{contract}/parties/{party}", tag = "contracts",
    params(("contract" = String, Path, description = "The contract's id"),
        ("party" = String, Path, description = "The party's id")),
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 204, description = "Removed"),
        AsSender,
        (status = 409, description = "The contract was sent already", body = ApiError),
    ))]
pub async fn remove_party(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(PartyPath { contract, party }): Path<PartyPath>,
) -> Result<StatusCode, HttpFailure> {
    let now = state.clock.now();
    contracts::remove_party(&state.db, now, &session.user, &contract, &party).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Changes a draft's party (its sender): role, step, signature kind, name. A party who no
/// longer signs loses their fields.
#[utoipa::path(patch, path = "/api/contracts/{contract}/parties/{party}", tag = "contracts",
    params(("contract" = String, Path, description = "The contract's id"),
        ("party" = String, Path, description = "The party's id")),
    request_body = PartyChangeBody,
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "The party", body = Party),
        (status = 400, description = "Field problems (every one named), or who signs how", body = ApiError),
        AsSender,
        (status = 409, description = "The contract was sent already", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
    ))]
pub async fn change_party(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(PartyPath { contract, party }): Path<PartyPath>,
    ApiJson(change): ApiJson<contracts::PartyChange>,
) -> Result<Json<contracts::Party>, HttpFailure> {
    let now = state.clock.now();
    let party =
        contracts::change_party(&state.db, now, &session.user, &contract, &party, &change).await?;
    Ok(Json(party))
}

#[derive(Debug, Deserialize)]
pub struct DocumentPath {
    contract: String,
    document: String,
}

/// Removes a document from a draft, with its fields (its sender).
#[utoipa::path(delete, path = "/api/contracts/{contract}/documents/{document}", tag = "contracts",
    params(("contract" = String, Path, description = "The contract's id"),
        ("document" = String, Path, description = "The document's id")),
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 204, description = "Removed"),
        AsSender,
        (status = 409, description = "The contract was sent already", body = ApiError),
    ))]
pub async fn remove_document(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(DocumentPath { contract, document }): Path<DocumentPath>,
) -> Result<StatusCode, HttpFailure> {
    let now = state.clock.now();
    let (db, store) = (&state.db, &state.documents);
    contracts::remove_document(db, store, now, &session.user, &contract, &document).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub struct FieldPath {
    contract: String,
    field: String,
}

/// Removes a field from a draft (its sender).
#[utoipa::path(delete, path = "/api/contracts/{contract}/fields/{field}", tag = "contracts",
    params(("contract" = String, Path, description = "The contract's id"),
        ("field" = String, Path, description = "The field's id")),
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 204, description = "Removed"),
        AsSender,
        (status = 409, description = "The contract was sent already", body = ApiError),
    ))]
pub async fn remove_field(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(FieldPath { contract, field }): Path<FieldPath>,
) -> Result<StatusCode, HttpFailure> {
    let now = state.clock.now();
    contracts::remove_field(&state.db, now, &session.user, &contract, &field).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Moves, resizes or relabels a field of a draft (its sender); the rectangle (PDF points) must
/// still lie on the page.
#[utoipa::path(patch, path = "/api/contracts/{contract}/fields/{field}", tag = "contracts",
    params(("contract" = String, Path, description = "The contract's id"),
        ("field" = String, Path, description = "The field's id")),
    request_body = FieldChangeBody,
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "The field", body = ContractField),
        (status = 400, description = "Field problems (every one named): outside the page, too small, label too long", body = ApiError),
        AsSender,
        (status = 409, description = "The contract was sent already", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
    ))]
pub async fn change_field(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(FieldPath { contract, field }): Path<FieldPath>,
    ApiJson(change): ApiJson<contracts::FieldChange>,
) -> Result<Json<contracts::Field>, HttpFailure> {
    let now = state.clock.now();
    let (db, store) = (&state.db, &state.documents);
    let field =
        contracts::change_field(db, store, now, &session.user, &contract, &field, &change).await?;
    Ok(Json(field))
}

/// A document's PDF as it stands (streamed, never loaded whole).
#[utoipa::path(get, path = "/api/contracts/{contract}/documents/{document}/pdf", tag = "contracts",
    params(("contract" = String, Path, description = "The contract's id"),
        ("document" = String, Path, description = "The document's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "The PDF", content_type = "application/pdf", body = crate::routes::schemas::FileBytes),
        AsReader,
    ))]
pub async fn document_pdf(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(DocumentPath { contract, document }): Path<DocumentPath>,
) -> Result<Response, HttpFailure> {
    let (db, store) = (&state.db, &state.documents);
    let (name, download) =
        contracts::document_pdf(db, store, &session.user, &contract, &document).await?;
    Ok(pdf_response(&name, download))
}

/// A stored PDF as a download named `name`.pdf, streamed.
pub fn pdf_response(name: &str, download: domain::storage::Download) -> Response {
    pdf_with_disposition(name, download, "attachment")
}

/// A stored PDF named `name`.pdf, streamed, shown by the browser (`inline`) or saved
/// (`attachment`).
pub fn pdf_with_disposition(
    name: &str,
    download: domain::storage::Download,
    disposition: &str,
) -> Response {
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let body = Body::from_stream(
        download
            .bytes
            .map_err(|e| std::io::Error::other(e.to_string())),
    );
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (header::CONTENT_LENGTH, download.size.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("{disposition}; filename=\"document.pdf\"; filename*=UTF-8''{encoded}.pdf"),
            ),
            (header::CACHE_CONTROL, "private, no-cache".to_owned()),
        ],
        body,
    )
        .into_response()
}

/// Changes a draft's title, reminders or forwarding (its sender); absent fields stay.
#[utoipa::path(patch, path = "/api/contracts/{contract}", tag = "contracts",
    params(("contract" = String, Path, description = "The contract's id")),
    request_body = ContractOptions,
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "The draft", body = Contract),
        (status = 400, description = "Field problems (every one named)", body = ApiError),
        AsSender,
        (status = 409, description = "The contract was sent already", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
    ))]
pub async fn set_options(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
    ApiJson(options): ApiJson<contracts::Options>,
) -> Result<Json<contracts::Contract>, HttpFailure> {
    let now = state.clock.now();
    let contract = contracts::set_options(&state.db, now, &session.user, &id, &options).await?;
    Ok(Json(contract))
}

/// The contract's history, oldest first.
#[utoipa::path(get, path = "/api/contracts/{contract}/events", tag = "contracts",
    params(("contract" = String, Path, description = "The contract's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "The events", body = Vec<ContractEvent>),
        AsReader,
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
