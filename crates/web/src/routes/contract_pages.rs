//! The contracts' screens: the list (`/contracts`: the home of document managers, filtered by
//! status with counts, searched, sorted, paged; "waiting for me" for anyone who is a party in
//! turn; the organisation's contracts read-only for administrators), a draft's preparation
//! wizard (documents, parties, fields placed on the rendered pages, review and send; its script
//! `static/js/prepare.mjs` saves every change through the JSON API), and a contract's page
//! (parties with their statuses and times, documents with previews and downloads, the
//! certificate of completion, the history in JST) with the sender's reminders and cancelling.
//! Parties sign on their own page (`party_pages`).

use std::collections::BTreeMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::{context, Value};
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::error::HttpStatus as _;
use crate::routes::contracts::ListParams;
use crate::routes::extract::{CsrfForm, PageSession, RequestVia};
use crate::routes::pages::{error_page, form_errors, frame, merge, render, shown_on_form};
use domain::auth::Session;
use domain::contracts::{
    self, flow, Contract, ContractList, ContractStatus, Counts, ListQuery, ListSort, PartyRole,
};
use domain::error::Failure;
use domain::i18n::{self, Lang};
use domain::permissions::{allows, Action};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/contracts", get(list).post(create))
        .route("/contracts/{contract}", get(one))
        .route("/contracts/{contract}/remind", post(remind))
        .route("/contracts/{contract}/cancel", post(cancel))
        .route("/contracts/{contract}/open", post(open_turn))
}

#[derive(Debug, Deserialize)]
struct NewDraft {
    #[serde(default)]
    title: String,
}

/// Whether `session`'s user lists contracts of their own or of the organisation (else they have
/// only their turns as a party).
fn lists_contracts(session: &Session) -> bool {
    let roles = session.user.roles;
    allows(roles, Action::ManageContracts) || allows(roles, Action::ManageUsers)
}

/// The list's address with `query` (the page left out when it is the first).
fn list_href(query: &ListQuery) -> String {
    let page = query.page.to_string();
    let pairs: Vec<(&str, &str)> = [
        ("waiting", query.waiting.then_some("true")),
        ("status", query.status.map(ContractStatus::as_str)),
        ("q", Some(query.search.as_str()).filter(|q| !q.is_empty())),
        (
            "sort",
            (query.sort == ListSort::Updated).then_some(ListSort::Updated.as_str()),
        ),
        ("page", (query.page > 1).then_some(page.as_str())),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k, v?)))
    .collect();
    let encoded = serde_urlencoded::to_string(pairs).unwrap_or_default();
    if encoded.is_empty() {
        "/contracts".to_owned()
    } else {
        format!("/contracts?{encoded}")
    }
}

/// One tab of the list: a status (or all, or "waiting for me") with its count.
#[derive(Debug, Serialize)]
struct Tab {
    key: &'static str,
    label: String,
    href: String,
    count: i64,
    current: bool,
}

fn tabs(query: &ListQuery, counts: &Counts, lists: bool) -> Vec<Tab> {
    let mut tabs = Vec::new();
    let base = ListQuery {
        search: query.search.clone(),
        sort: query.sort,
        ..ListQuery::default()
    };
    if lists {
        tabs.push(Tab {
            key: "all",
            label: "contracts.tab.all".into(),
            href: list_href(&base),
            count: counts.all.unwrap_or(0),
            current: !query.waiting && query.status.is_none(),
        });
        let statuses = [
            (ContractStatus::Draft, counts.draft),
            (ContractStatus::Sent, counts.sent),
            (ContractStatus::Completed, counts.completed),
            (ContractStatus::Declined, counts.declined),
            (ContractStatus::Cancelled, counts.cancelled),
            (ContractStatus::Expired, counts.expired),
        ];
        for (status, count) in statuses {
            tabs.push(Tab {
                key: status.as_str(),
                label: format!("contracts.tab.{}", status.as_str()),
                href: list_href(&ListQuery {
                    status: Some(status),
                    ..base.clone()
                }),
                count: count.unwrap_or(0),
                current: !query.waiting && query.status == Some(status),
            });
        }
    }
    tabs.push(Tab {
        key: "waiting",
        label: "contracts.tab.waiting".into(),
        href: list_href(&ListQuery {
            waiting: true,
            ..base
        }),
        count: counts.waiting,
        current: query.waiting,
    });
    tabs
}

/// A contract as its row in the list shows it.
#[derive(Debug, Serialize)]
struct Row {
    id: String,
    title: String,
    status: ContractStatus,
    sender_name: String,
    created_at: i64,
    updated_at: i64,
    /// Parties' names, in step order.
    names: String,
    parties: usize,
    /// Signers and approvers, and those of them who have acted.
    acting: usize,
    done: usize,
}

impl Row {
    fn new(c: &Contract) -> Self {
        let acting: Vec<_> = c
            .parties
            .iter()
            .filter(|p| p.role != PartyRole::CopyRecipient)
            .collect();
        let done = acting
            .iter()
            .filter(|p| {
                matches!(
                    p.status,
                    contracts::PartyStatus::Signed | contracts::PartyStatus::Approved
                )
            })
            .count();
        Self {
            id: c.id.clone(),
            title: c.title.clone(),
            status: c.status,
            sender_name: c.sender_name.clone(),
            created_at: c.created_at,
            updated_at: c.updated_at,
            names: c
                .parties
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join("、"),
            parties: c.parties.len(),
            acting: acting.len(),
            done,
        }
    }
}

/// What an empty list says, and what to do next.
fn empty_state(query: &ListQuery, can_create: bool) -> Value {
    let (title, hint) = if query.waiting {
        ("contracts.empty.waiting", "contracts.empty.waiting_hint")
    } else if !query.search.is_empty() || query.status.is_some() {
        ("contracts.empty.search", "contracts.empty.search_hint")
    } else if can_create {
        ("contracts.none", "contracts.empty.create_hint")
    } else {
        ("contracts.none", "")
    };
    context! { title => title, hint => hint }
}

#[allow(clippy::too_many_arguments)]
async fn list_page(
    state: &AppState,
    session: &Session,
    lang: Lang,
    status: StatusCode,
    raw: Option<&str>,
    title: &str,
    errors: Value,
) -> Response {
    let lists = lists_contracts(session);
    let mut query = match serde_urlencoded::from_str::<ListParams>(raw.unwrap_or_default())
        .map_err(|e| Failure::BadQuery(e.to_string()))
        .and_then(|p| p.query())
    {
        Ok(query) => query,
        Err(f) => return error_page(state, Some(session), lang, &f),
    };
    // Those who list no contracts have their turns only.
    if !lists {
        query.waiting = true;
    }
    let result = async {
        let counts = contracts::counts(&state.db, &session.user, &query.search).await?;
        let page = contracts::list_page(&state.db, &session.user, &query).await?;
        Ok::<_, Failure>((counts, page))
    }
    .await;
    let (counts, page): (Counts, ContractList) = match result {
        Ok(found) => found,
        Err(f) => return error_page(state, Some(session), lang, &f),
    };
    let can_create = allows(session.user.roles, Action::ManageContracts);
    let pages = page.pages();
    let at = |n: i64| {
        list_href(&ListQuery {
            page: n,
            ..query.clone()
        })
    };
    let from = if page.total == 0 {
        0
    } else {
        (page.page - 1) * page.limit + 1
    };
    let to = ((page.page - 1) * page.limit + page.contracts.len() as i64).max(from);
    render(
        state,
        status,
        "contracts.html",
        lang,
        context! {
            rows => page.contracts.iter().map(Row::new).collect::<Vec<_>>(),
            tabs => tabs(&query, &counts, lists),
            query => context! {
                status => query.status.map(ContractStatus::as_str),
                search => query.search,
                waiting => query.waiting,
                sort => query.sort.as_str(),
            },
            clear_href => list_href(&ListQuery { search: String::new(), page: 1, ..query.clone() }),
            range => context! { from => from, to => to, total => page.total },
            pager => context! {
                page => page.page,
                pages => pages,
                prev => (page.page > 1).then(|| at((page.page - 1).min(pages))),
                next => (page.page < pages).then(|| at(page.page + 1)),
            },
            empty => empty_state(&query, can_create),
            show_sender => query.waiting || allows(session.user.roles, Action::ManageUsers),
            can_create => can_create,
            title => title,
            ..merge([errors, frame(session, lang, None)])
        },
    )
}

async fn list(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    RawQuery(raw): RawQuery,
) -> Response {
    if session.user.roles.has(domain::accounts::Role::Operator) {
        return error_page(&state, Some(&session), lang, &Failure::Forbidden);
    }
    list_page(
        &state,
        &session,
        lang,
        StatusCode::OK,
        raw.as_deref(),
        "",
        Value::from(()),
    )
    .await
}

/// 「作成する」: a new draft, then its preparation.
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
            let status = f.status();
            list_page(&state, &session, lang, status, None, &form.title, errors).await
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

/// A party as the contract's page shows it, with their colour and times.
#[derive(Debug, Serialize)]
struct PartyRow {
    #[serde(flatten)]
    party: contracts::Party,
    colour: usize,
    notified_at: Option<i64>,
    opened_at: Option<i64>,
    acted_at: Option<i64>,
    reason: Option<String>,
}

/// The colours parties are drawn in, cycled in the parties' order.
const COLOURS: usize = 6;

/// An event as the history shows it: its short detail (a name, a reason, a document).
#[derive(Debug, Serialize)]
struct EventRow {
    at: i64,
    kind: String,
    actor_name: String,
    actor_email: String,
    summary: String,
}

fn event_rows(
    events: Vec<contracts::Event>,
    contract: &Contract,
    documents: &[contracts::Document],
    lang: Lang,
) -> Vec<EventRow> {
    let text =
        |v: &serde_json::Value, key: &str| v.get(key).and_then(|s| s.as_str()).map(str::to_owned);
    events
        .into_iter()
        .map(|e| {
            let d = &e.detail;
            let party = text(d, "party")
                .and_then(|id| contract.parties.iter().find(|p| p.id == id))
                .map(|p| p.name.clone());
            let document = text(d, "document")
                .and_then(|id| documents.iter().find(|doc| doc.id == id))
                .map(|doc| format!("{}.pdf", doc.name));
            let kind =
                text(d, "kind").map(|k| i18n::t(lang, &format!("party.field_kind.{k}")).to_owned());
            let summary = text(d, "reason")
                .or_else(|| text(d, "title").filter(|_| e.kind == "contract.created"))
                .or_else(|| match (&party, &kind) {
                    (Some(p), Some(k)) => Some(format!("{k} · {p}")),
                    _ => None,
                })
                .or(party)
                .or_else(|| {
                    text(d, "name")
                        .map(|n| format!("{n}.pdf"))
                        .filter(|_| e.kind.starts_with("contract.document"))
                })
                .or(document)
                .or_else(|| text(d, "email"))
                .unwrap_or_default();
            EventRow {
                at: e.at,
                kind: e.kind,
                actor_name: e.actor_name,
                actor_email: e.actor_email,
                summary,
            }
        })
        .collect()
}

/// The texts the preparation wizard's script writes (by key prefix), the API's refusals among
/// them.
const PREPARE_TEXTS: &[&str] = &[
    "prepare.",
    "error.",
    "party.role.",
    "party.kind.",
    "party.field_kind.",
    "party.page_of",
    "party.loading_failed",
    "contract.outside",
];

/// The texts the contract page's script writes.
const CONTRACT_TEXTS: &[&str] = &[
    "party.status.",
    "contract.status.",
    "contract.live_updated",
    "party.field_kind.",
    "party.loading_failed",
    "party.page_of",
];

/// The texts a page's script writes itself, by key, in the page's language: those under each
/// prefix (the API's refusals are `error.<code>`).
pub(crate) fn script_texts(lang: Lang, prefixes: &[&str]) -> String {
    let texts: BTreeMap<&str, &str> = i18n::TEXTS
        .iter()
        .filter(|(key, _, _)| prefixes.iter().any(|p| key.starts_with(p)))
        .map(|(key, ja, en)| (*key, if lang == Lang::Ja { *ja } else { *en }))
        .collect();
    serde_json::to_string(&texts).unwrap_or_default()
}

async fn one(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    Path(id): Path<String>,
) -> Response {
    let contract = match contracts::get(&state.db, &session.user, &id).await {
        Ok(c) => c,
        Err(f) => return error_page(&state, Some(&session), lang, &f),
    };
    let may_change = contract.created_by == session.user.id
        && allows(session.user.roles, Action::ManageContracts);
    if may_change && contract.status == ContractStatus::Draft {
        return prepare_page(&state, &session, lang, contract).await;
    }
    detail_page(
        &state,
        &session,
        lang,
        contract,
        may_change,
        StatusCode::OK,
        Value::from(()),
    )
    .await
}

async fn detail_page(
    state: &AppState,
    session: &Session,
    lang: Lang,
    contract: Contract,
    may_change: bool,
    status: StatusCode,
    errors: Value,
) -> Response {
    let id = contract.id.clone();
    let result = async {
        let documents = contracts::documents(&state.db, &session.user, &id).await?;
        let fields = contracts::fields(&state.db, &session.user, &id).await?;
        let events = contracts::events(&state.db, &session.user, &id).await?;
        let progress = contracts::progress(&state.db, &session.user, &id).await?;
        Ok::<_, Failure>((documents, fields, events, progress))
    }
    .await;
    let (documents, fields, events, progress) = match result {
        Ok(found) => found,
        Err(f) => return error_page(state, Some(session), lang, &f),
    };
    let parties: Vec<PartyRow> = contract
        .parties
        .iter()
        .map(|p| {
            let times = progress.iter().find(|t| t.party_id == p.id);
            PartyRow {
                colour: p.position.unsigned_abs() as usize % COLOURS,
                party: p.clone(),
                notified_at: times.and_then(|t| t.notified_at),
                opened_at: times.and_then(|t| t.opened_at),
                acted_at: times.and_then(|t| t.acted_at),
                reason: times.and_then(|t| t.reason.clone()),
            }
        })
        .collect();
    let colours: BTreeMap<&str, usize> = parties
        .iter()
        .map(|p| (p.party.id.as_str(), p.colour))
        .collect();
    let rows: Vec<DocumentRow> = documents
        .iter()
        .map(|d| DocumentRow {
            fields: fields.iter().filter(|f| f.document_id == d.id).count(),
            id: d.id.clone(),
            name: d.name.clone(),
            pages: d.pages,
            original_sha256: d.original_sha256.clone(),
        })
        .collect();
    let events = event_rows(events, &contract, &documents, lang);
    render(
        state,
        status,
        "contract.html",
        lang,
        context! {
            may_change => may_change,
            documents => rows,
            parties => parties,
            events => events,
            fields => serde_json::to_string(&fields).unwrap_or_default(),
            party_colours => serde_json::to_string(&colours).unwrap_or_default(),
            messages => script_texts(lang, CONTRACT_TEXTS),
            contract => contract,
            ..merge([errors, frame(session, lang, None)])
        },
    )
}

/// A party of a draft as the wizard starts with it: with their colour and why a certificate
/// signature is not available to them.
#[derive(Debug, Serialize)]
struct DraftParty {
    #[serde(flatten)]
    party: contracts::Party,
    certificate_refusal: Option<&'static str>,
}

async fn prepare_page(
    state: &AppState,
    session: &Session,
    lang: Lang,
    contract: Contract,
) -> Response {
    let id = contract.id.clone();
    let now = state.clock.now();
    let result = async {
        let documents = contracts::documents(&state.db, &session.user, &id).await?;
        let fields = contracts::fields(&state.db, &session.user, &id).await?;
        let refusals = contracts::certificate_refusals(&state.db, now, &session.user, &id).await?;
        Ok::<_, Failure>((documents, fields, refusals))
    }
    .await;
    let (documents, fields, refusals) = match result {
        Ok(found) => found,
        Err(f) => return error_page(state, Some(session), lang, &f),
    };
    let parties: Vec<DraftParty> = contract
        .parties
        .iter()
        .map(|p| DraftParty {
            party: p.clone(),
            certificate_refusal: refusals
                .iter()
                .find(|(party, _)| *party == p.id)
                .and_then(|(_, why)| *why),
        })
        .collect();
    let draft = serde_json::json!({
        "contract": {
            "id": contract.id, "title": contract.title, "message": contract.message,
            "expiry_days": contract.expiry_days, "reminder_days": contract.reminder_days,
            "max_reminders": contract.max_reminders, "allow_forwarding": contract.allow_forwarding,
        },
        "parties": parties,
        "documents": documents,
        "fields": fields,
    });
    render(
        state,
        StatusCode::OK,
        "contract_prepare.html",
        lang,
        context! {
            state => draft.to_string(),
            messages => script_texts(lang, PREPARE_TEXTS),
            max_bytes => contracts::MAX_DOCUMENT_BYTES,
            contract => contract,
            ..frame(session, lang, None)
        },
    )
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

/// 「リマインドを送る」
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

/// 「取り消す」, with a reason (a missing one is said next to its field).
async fn cancel(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    RequestVia(via): RequestVia,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<Reason>,
) -> Response {
    let now = state.clock.now();
    match flow::cancel(&state.desk, now, &session.user, &via, &id, &form.reason).await {
        Ok(_) => Redirect::to(&format!("/contracts/{id}")).into_response(),
        Err(f @ Failure::Invalid(_)) => {
            let contract = match contracts::get(&state.db, &session.user, &id).await {
                Ok(c) => c,
                Err(other) => return error_page(&state, Some(&session), lang, &other),
            };
            let errors = merge([form_errors(&f, lang), context! { reason => form.reason }]);
            detail_page(&state, &session, lang, contract, true, f.status(), errors).await
        }
        Err(f) => error_page(&state, Some(&session), lang, &f),
    }
}

/// 「開く」 in "waiting for me": a new link to the caller's own turn, then their signing page.
async fn open_turn(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    Path(id): Path<String>,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Response {
    let now = state.clock.now();
    match contracts::my_turn(&state.db, now, &session.user, &id).await {
        Ok(token) => Redirect::to(&format!("/sign/{token}")).into_response(),
        Err(f) => error_page(&state, Some(&session), lang, &f),
    }
}

/// A form with nothing but its CSRF token.
#[derive(Debug, Deserialize)]
struct Empty {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lists_address_names_only_what_differs_from_the_default() {
        assert_eq!(list_href(&ListQuery::default()), "/contracts");
        let query = ListQuery {
            status: Some(ContractStatus::Sent),
            search: "山田 & co".into(),
            sort: ListSort::Updated,
            page: 3,
            ..ListQuery::default()
        };
        assert_eq!(
            list_href(&query),
            "/contracts?status=sent&q=%E5%B1%B1%E7%94%B0+%26+co&sort=updated&page=3"
        );
        let parsed: ListParams =
            serde_urlencoded::from_str(list_href(&query).trim_start_matches("/contracts?"))
                .expect("query");
        assert_eq!(parsed.query().expect("valid"), query);
    }

    #[test]
    fn the_tabs_count_each_status_and_mark_the_current_one() {
        let counts = Counts {
            all: Some(6),
            draft: Some(1),
            sent: Some(2),
            completed: Some(3),
            declined: Some(0),
            cancelled: Some(0),
            expired: Some(0),
            waiting: 4,
        };
        let query = ListQuery {
            status: Some(ContractStatus::Sent),
            search: "x".into(),
            page: 2,
            ..ListQuery::default()
        };
        let all = tabs(&query, &counts, true);
        let keys: Vec<&str> = all.iter().map(|t| t.key).collect();
        assert_eq!(
            keys,
            [
                "all",
                "draft",
                "sent",
                "completed",
                "declined",
                "cancelled",
                "expired",
                "waiting"
            ]
        );
        let current: Vec<&str> = all.iter().filter(|t| t.current).map(|t| t.key).collect();
        assert_eq!(current, ["sent"]);
        // A tab keeps the search, starts at the first page.
        assert_eq!(all[2].href, "/contracts?status=sent&q=x");
        assert_eq!(all[2].count, 2);
        assert_eq!(all[7].href, "/contracts?waiting=true&q=x");
        // Without a list, "waiting for me" alone.
        let only = tabs(&ListQuery::default(), &counts, false);
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].count, 4);
    }

    /// Every text the pages' scripts ask for by a fixed key (`t("…")`, `say("…")`) has both
    /// translations, and is among those the page hands its script.
    #[test]
    fn every_text_the_scripts_name_is_translated_and_handed_to_them() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static/js");
        for (file, prefixes) in [
            ("prepare.mjs", PREPARE_TEXTS),
            ("contract.mjs", CONTRACT_TEXTS),
        ] {
            let source = std::fs::read_to_string(dir.join(file)).expect("script");
            let mut missing = Vec::new();
            for (call, prefix) in [("t(\"", ""), ("say(\"", "error.")] {
                for (at, _) in source.match_indices(call) {
                    if source[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '.')
                    {
                        continue;
                    }
                    let key = source[at + call.len()..]
                        .split('"')
                        .next()
                        .unwrap_or_default();
                    let key = format!("{prefix}{key}");
                    let handed = prefixes.iter().any(|p| key.starts_with(p));
                    if !i18n::known(&key) || !handed {
                        missing.push(key);
                    }
                }
            }
            assert!(missing.is_empty(), "{file}: {missing:?}");
        }
    }

    /// The three pages render with their scripts and without a missing text.
    #[test]
    fn the_list_the_wizard_and_the_contract_page_render() {
        let pages = crate::view::Pages::new().expect("templates");
        let contract = serde_json::json!({
            "id": "c1", "title": "業務委託契約書", "status": "draft", "created_by": "u1",
            "sender_name": "文書 管理", "created_at": 0, "updated_at": 0, "sent_at": null,
            "completed_at": null, "expires_at": null, "expiry_days": 30, "reminder_days": 3,
            "max_reminders": 5, "allow_forwarding": false, "end_reason": null,
            "message": "ご確認ください", "parties": [],
        });
        let html = pages
            .html(
                "contract_prepare.html",
                Lang::Ja,
                context! {
                    contract => contract.clone(),
                    state => "{}",
                    messages => script_texts(Lang::Ja, &["prepare."]),
                    max_bytes => 1,
                    csrf => "c",
                },
            )
            .expect("wizard");
        assert!(html.contains("/static/js/prepare.mjs?v="));
        assert!(html.contains("/static/contracts.css?v="));
        assert!(html.contains("id=\"file-input\""));
        let html = pages
            .html(
                "contract.html",
                Lang::En,
                context! {
                    contract => contract,
                    documents => Vec::<String>::new(),
                    parties => Vec::<String>::new(),
                    events => Vec::<String>::new(),
                    fields => "[]",
                    party_colours => "{}",
                    messages => "{}",
                    may_change => true,
                    csrf => "c",
                },
            )
            .expect("contract page");
        assert!(html.contains("/static/js/contract.mjs?v="));
        assert!(html.contains("id=\"cancel-reason\""));
        let html = pages
            .html(
                "contracts.html",
                Lang::Ja,
                context! {
                    rows => Vec::<String>::new(),
                    tabs => tabs(&ListQuery::default(), &Counts::default(), true),
                    query => context! { status => None::<String>, search => "", waiting => false, sort => "created" },
                    clear_href => "/contracts",
                    range => context! { from => 0, to => 0, total => 0 },
                    pager => context! { page => 1, pages => 1, prev => None::<String>, next => None::<String> },
                    empty => empty_state(&ListQuery::default(), true),
                    show_sender => false,
                    can_create => true,
                    title => "",
                    csrf => "c",
                },
            )
            .expect("list");
        assert!(html.contains("id=\"contracts-none\""));
        assert!(html.contains("id=\"tab-waiting\""));
    }
}
