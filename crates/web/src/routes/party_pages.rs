//! The page a party opens from their mail (`/sign/{token}`): what the link leads to now — log
//! in, confirm the one-time code, not yet your turn, the documents with the party's fields and
//! the sign / approve / decline actions, or the finished contract's downloads. Minimal here
//! (the contract screens issue renders the pages and places the fields on them); its actions
//! call the parties' JSON API ([`super::party`]).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use minijinja::context;

use crate::app::AppState;
use crate::routes::contracts::pdf_with_disposition;
use crate::routes::extract::{cookie, page_lang, RequestVia, PARTY_COOKIE};
use crate::routes::pages::{error_page, render};
use domain::auth::{self, SESSION_COOKIE};
use domain::contracts::flow::{self, Visitor};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sign/{token}", get(page))
        .route("/sign/{token}/documents/{document}", get(document))
}

/// Who opened the page: the logged-in user (a GET needs no CSRF token) and an outside party's
/// session cookie; and the session, for the page's frame.
async fn visitor(state: &AppState, headers: &HeaderMap) -> (Visitor, Option<auth::Session>) {
    let session = match cookie(headers, SESSION_COOKIE) {
        Some(t) => auth::session(&state.db, state.clock.now(), t)
            .await
            .ok()
            .flatten(),
        None => None,
    };
    let visitor = Visitor {
        user: session
            .as_ref()
            .filter(|s| !s.user.must_change_password)
            .map(|s| s.user.clone()),
        session: cookie(headers, PARTY_COOKIE).map(str::to_owned),
    };
    (visitor, session)
}

/// A document shown in the browser's own PDF viewer (the page frames it), for the party in or
/// after their turn.
async fn document(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((token, document)): Path<(String, String)>,
) -> Response {
    let now = state.clock.now();
    let (visitor, session) = visitor(&state, &headers).await;
    let lang = page_lang(&headers, session.as_ref());
    match flow::party_document(&state.desk, now, &token, &visitor, &document).await {
        Ok((name, download)) => pdf_with_disposition(&name, download, "inline"),
        Err(f) => error_page(&state, session.as_ref(), lang, &f),
    }
}

async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestVia(via): RequestVia,
    Path(token): Path<String>,
) -> Response {
    let now = state.clock.now();
    let (visitor, session) = visitor(&state, &headers).await;
    let lang = page_lang(&headers, session.as_ref());
    match flow::view(&state.desk, now, &token, &visitor, &via).await {
        Ok(view) => render(
            &state,
            StatusCode::OK,
            "party.html",
            lang,
            context! {
                view => view,
                token => token,
                me => visitor.user.as_ref().map(|u| context! { display_name => u.display_name }),
                csrf => session.as_ref().map(|s| s.csrf_token.clone()),
            },
        ),
        Err(f) => error_page(&state, session.as_ref(), lang, &f),
    }
}
