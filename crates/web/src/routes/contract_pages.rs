//! The contracts' screens, minimal for now: the list with a new draft's form (document managers;
//! administrators see the organisation's contracts), and a contract's page (parties and their
//! statuses, documents with their downloads, the certificate of completion, history) with the
//! sender's actions: send, remind, cancel. Preparing on the rendered page arrives with the
//! contract screens issue; parties sign on their own page (`party_pages`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::context;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::error::HttpStatus as _;
use crate::routes::extract::{CsrfForm, PageSession, RequestVia};
use crate::routes::pages::{error_page, form_errors, frame, merge, render, shown_on_form};
use domain::auth::Session;
use domain::contracts::{self, flow};
use domain::error::Failure;
use domain::i18n::Lang;
use domain::permissions::{allows, Action};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/contracts", get(list).post(create))
        .route("/contracts/{contract}", get(one))
        .route("/contracts/{contract}/send", post(send))
        .route("/contracts/{contract}/remind", post(remind))
        .route("/contracts/{contract}/cancel", post(cancel))
}

#[derive(Debug, Deserialize)]
struct NewDraft {
    #[serde(default)]
    title: String,
}

async fn list_page(
    state: &AppState,
    session: &Session,
    lang: Lang,
    status: StatusCode,
    title: &str,
    errors: minijinja::Value,
) -> Response {
    match contracts::list(&state.db, &session.user).await {
        Ok(list) => render(
            state,
            status,
            "contracts.html",
            lang,
            context! {
                contracts => list,
                can_create => allows(session.user.roles, Action::ManageContracts),
                title => title,
                ..merge([errors, frame(session, lang, None)])
            },
        ),
        Err(f) => error_page(state, Some(session), lang, &f),
    }
}

async fn list(State(state): State<AppState>, PageSession(session, lang): PageSession) -> Response {
    list_page(
        &state,
        &session,
        lang,
        StatusCode::OK,
        "",
        minijinja::Value::from(()),
    )
    .await
}

/// 「作成する」: a new draft, then its page.
async fn create(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    CsrfForm(form): CsrfForm<NewDraft>,
) -> Response {
    let now = state.clock.now();
    match contracts::create_draft(&state.db, now, &session.user, &form.title).await {
        Ok(draft) => Redirect::to(&format!("/contracts/{}", draft.id)).into_response(),
        Err(f) if shown_on_form(&f) => {
            let errors = form_errors(&f, lang);
            list_page(&state, &session, lang, f.status(), &form.title, errors).await
        }
        Err(f) => error_page(&state, Some(&session), lang, &f),
    }
}

/// A document as its row shows it.
#[derive(Debug, Serialize)]
struct DocumentRow {
    id: String,
    name: String,
    pages: i64,
    fields: usize,
    original_sha256: String,
}

async fn one(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let contract = contracts::get(&state.db, &session.user, &id).await?;
        let documents = contracts::documents(&state.db, &session.user, &id).await?;
        let fields = contracts::fields(&state.db, &session.user, &id).await?;
        let events = contracts::events(&state.db, &session.user, &id).await?;
        let rows: Vec<DocumentRow> = documents
            .into_iter()
            .map(|d| DocumentRow {
                fields: fields.iter().filter(|f| f.document_id == d.id).count(),
                id: d.id,
                name: d.name,
                pages: d.pages,
                original_sha256: d.original_sha256,
            })
            .collect();
        Ok::<_, Failure>((contract, rows, events))
    }
    .await;
    match result {
        Ok((contract, documents, events)) => render(
            &state,
            StatusCode::OK,
            "contract.html",
            lang,
            context! {
                may_change => contract.created_by == session.user.id
                    && allows(session.user.roles, Action::ManageContracts),
                contract => contract,
                documents => documents,
                events => events,
                ..frame(&session, lang, None)
            },
        ),
        Err(f) => error_page(&state, Some(&session), lang, &f),
    }
}

#[derive(Debug, Deserialize)]
struct Reason {
    #[serde(default)]
    reason: String,
}

/// Where a sender's action leads: back to the contract, or the error page saying why.
fn outcome<T>(
    state: &AppState,
    session: &Session,
    lang: Lang,
    id: &str,
    result: Result<T, Failure>,
) -> Response {
    match result {
        Ok(_) => Redirect::to(&format!("/contracts/{id}")).into_response(),
        Err(f) => error_page(state, Some(session), lang, &f),
    }
}

/// 「送信する」
async fn send(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    RequestVia(via): RequestVia,
    Path(id): Path<String>,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Response {
    let now = state.clock.now();
    let result = flow::send(&state.desk, now, &session.user, &via, &id).await;
    outcome(&state, &session, lang, &id, result)
}

/// 「リマインド」
async fn remind(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    RequestVia(via): RequestVia,
    Path(id): Path<String>,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Response {
    let now = state.clock.now();
    let result = flow::remind(&state.desk, now, &session.user, &via, &id).await;
    outcome(&state, &session, lang, &id, result)
}

/// 「取り消す」, with a reason.
async fn cancel(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    RequestVia(via): RequestVia,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<Reason>,
) -> Response {
    let now = state.clock.now();
    let result = flow::cancel(&state.desk, now, &session.user, &via, &id, &form.reason).await;
    outcome(&state, &session, lang, &id, result)
}

/// A form with nothing but its CSRF token.
#[derive(Debug, Deserialize)]
struct Empty {}
