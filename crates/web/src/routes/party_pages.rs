//! The page a party opens from their mail (`/sign/{token}`): what the link leads to now — log
//! in, confirm the one-time code, not yet your turn, the documents rendered in the page with the
//! party's fields on them (guided one by one with 「次へ」), their seal, PIN and 「署名する」, or
//! approve / decline, then the downloads. The page's script (`static/js/party.mjs`, on
//! `pdfpages.mjs`) calls the parties' JSON API ([`super::party`]).

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
use domain::contracts::flow::{self, PartyView, Stage, Visitor};
use domain::contracts::{FieldKind, SignatureKind};
use domain::i18n::{self, Lang};

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
    let view = match flow::view(&state.desk, now, &token, &visitor, &via).await {
        Ok(view) => view,
        Err(f) => return error_page(&state, session.as_ref(), lang, &f),
    };
    // A certificate signer (a user of the instance, logged in) stamps one of their seals and
    // confirms with their PIN when they have set one.
    let (seals, pin) = match &visitor.user {
        Some(user)
            if view.stage == Stage::Act
                && view.party.signature_kind == Some(SignatureKind::Certificate) =>
        {
            (
                domain::seals::list(&state.db, user)
                    .await
                    .unwrap_or_default(),
                domain::pins::status(&state.db, now, &user.id).await.ok(),
            )
        }
        _ => (Vec::new(), None),
    };
    // The sender's message, once the party sees the documents.
    let message = if view.documents.is_empty() {
        String::new()
    } else {
        domain::contracts::message_for_parties(&state.db, &view.contract_id)
            .await
            .unwrap_or_default()
    };
    let message: Vec<&str> = message.lines().collect();
    render(
        &state,
        StatusCode::OK,
        "party.html",
        lang,
        context! {
            steps => steps(&view, lang, now),
            view => view,
            token => token,
            seals => seals,
            pin => pin,
            message => message,
            messages => serde_json::to_string(&messages(lang)).unwrap_or_default(),
            me => visitor.user.as_ref().map(|u| context! { display_name => u.display_name }),
            csrf => session.as_ref().map(|s| s.csrf_token.clone()),
        },
    )
}

/// The party's fields in the order they are guided through: by document, page, from the top of
/// the page down, then left to right; each with its number, its document's name and what it
/// will show (the name and the date are filled by Inkan when they sign).
fn steps(view: &PartyView, lang: Lang, now: i64) -> Vec<minijinja::Value> {
    let position = |document: &str| {
        view.documents
            .iter()
            .position(|d| d.id == document)
            .unwrap_or(usize::MAX)
    };
    let mut fields: Vec<_> = view.fields.iter().collect();
    fields.sort_by(|a, b| {
        (position(&a.document_id), a.page)
            .cmp(&(position(&b.document_id), b.page))
            .then((b.y + b.height).total_cmp(&(a.y + a.height)))
            .then(a.x.total_cmp(&b.x))
    });
    fields
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            let preview = match f.kind {
                FieldKind::Name => view.party.name.clone(),
                FieldKind::DateSigned => domain::clock::jst_date(now),
                _ => String::new(),
            };
            let label = match f.label.trim() {
                "" => i18n::t(lang, &format!("party.field_kind.{}", f.kind.as_str())).to_owned(),
                label => label.to_owned(),
            };
            context! {
                number => i + 1,
                field => f,
                kind => f.kind.as_str(),
                label => label,
                preview => preview,
                document => view.documents.iter().find(|d| d.id == f.document_id).map(|d| d.name.clone()),
            }
        })
        .collect()
}

/// The refusals the page's script may meet, by the code the API answers with (the API's own
/// messages are English), and the few texts it writes itself, in the page's language.
fn messages(lang: Lang) -> std::collections::BTreeMap<String, String> {
    const CODES: &[&str] = &[
        "code_expired",
        "code_not_needed",
        "code_used_up",
        "code_wrong",
        "contract_closed",
        "contract_completed",
        "csrf",
        "email_ascii",
        "email_domain",
        "email_local",
        "email_no_at",
        "email_too_long",
        "field_checkbox",
        "field_not_yours",
        "field_required",
        "forbidden",
        "forward_to_self",
        "internal",
        "json",
        "not_a_signer",
        "not_an_approver",
        "not_found",
        "not_your_turn",
        "party_already_acted",
        "party_without_certificate",
        "pin_changed_meanwhile",
        "pin_locked",
        "pin_required",
        "pin_wrong",
        "required",
        "seal_unknown",
        "signature_in_progress",
        "too_long",
        "unauthenticated",
        "validation",
    ];
    let mut texts: std::collections::BTreeMap<String, String> = CODES
        .iter()
        .filter(|code| i18n::known(&format!("error.{code}")))
        .map(|code| {
            (
                (*code).to_owned(),
                i18n::t(lang, &format!("error.{code}")).to_owned(),
            )
        })
        .collect();
    for key in [
        "party.error",
        "party.loading_failed",
        "party.page_of",
        "party.signing",
        "party.to_sign",
    ] {
        texts.insert(key.to_owned(), i18n::t(lang, key).to_owned());
    }
    texts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page renders at every stage (the template's mistakes show only when a page is asked
    /// for), and the signer's stage has its guide, inputs and script.
    #[test]
    fn the_page_renders_at_every_stage() {
        let pages = crate::view::Pages::new().expect("templates");
        for stage in [
            "login",
            "code",
            "not_your_turn",
            "act",
            "signing",
            "done",
            "completed",
            "closed",
        ] {
            for role in ["signer", "approver"] {
                let documents = serde_json::json!([{ "id": "d1", "position": 1, "name": "契約書",
                    "original_sha256": "00", "original_size": 1, "pages": 2 }]);
                let field = |id: &str, kind: &str, y: f64| {
                    serde_json::json!({ "id": id, "document_id": "d1", "party_id": "p1",
                        "kind": kind, "page": 1, "x": 60.0, "y": y, "width": 100.0,
                        "height": 40.0, "label": "", "value": null })
                };
                let ctx = context! {
                    view => serde_json::json!({
                        "contract_id": "c1", "title": "業務委託契約書", "status": "sent",
                        "sender": "文書 管理", "organisation": "株式会社テスト", "expires_at": 0,
                        "party": { "id": "p1", "position": 1, "step": 1, "role": role,
                            "signature_kind": if role == "signer" { Some("certificate") } else { None },
                            "user_id": "u1", "name": "山田 太郎", "email": "t@example.jp",
                            "status": "opened" },
                        "stage": stage, "documents": documents,
                        "fields": [field("f1", "signature", 60.0), field("f2", "text", 500.0),
                                   field("f3", "checkbox", 400.0)],
                        "failed": null, "allow_forwarding": true,
                    }),
                    steps => vec![
                        context! { number => 1, field => field("f2", "text", 500.0), kind => "text",
                            label => "住所", preview => "", document => "契約書" },
                        context! { number => 2, field => field("f1", "signature", 60.0),
                            kind => "signature", label => "署名", preview => "", document => "契約書" },
                    ],
                    token => "t0k3n",
                    seals => Vec::<String>::new(),
                    pin => context! { set => true },
                    messages => serde_json::to_string(&messages(Lang::Ja)).expect("JSON"),
                    csrf => "c",
                };
                let html = pages
                    .html("party.html", Lang::Ja, ctx)
                    .unwrap_or_else(|e| panic!("{stage} {role}: {e:#}"));
                let signing = stage == "act" && role == "signer";
                assert_eq!(
                    html.contains("id=\"guide-next\""),
                    signing,
                    "{stage} {role}"
                );
                assert_eq!(html.contains("id=\"f-f2\""), signing, "{stage} {role}");
                assert_eq!(html.contains("id=\"pin\""), signing, "{stage} {role}");
                assert!(html.contains("/static/js/party.mjs?v="), "{stage} {role}");
                assert!(html.contains("data-messages=\"{&quot;"), "{stage} {role}");
            }
        }
    }
}
