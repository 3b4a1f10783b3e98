//! The organisation's settings page (an administrator's menu: 組織の設定): the PAdES level of
//! the signatures made with a signer's own certificate, chosen from B-T, B-LT and B-LTA.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use minijinja::{context, Value};
use serde::Deserialize;

use crate::app::AppState;
use crate::error::HttpStatus as _;
use crate::routes::extract::{CsrfForm, PageSession};
use crate::routes::pages::{error_page, form_errors, frame, merge, render, shown_on_form, Flash};
use domain::auth::Session;
use domain::i18n::Lang;
use domain::settings;

pub fn router() -> Router<AppState> {
    Router::new().route("/settings", get(page).post(submit))
}

#[derive(Debug, Deserialize)]
struct SettingsForm {
    #[serde(default)]
    pades_level: String,
}

async fn view(
    state: &AppState,
    session: &Session,
    lang: Lang,
    status: StatusCode,
    flash: Option<&str>,
    errors: Value,
) -> Response {
    match settings::for_admin(&state.db, &session.user).await {
        Ok(s) => {
            let levels: Vec<Value> = settings::LEVELS
                .iter()
                .map(|l| {
                    let name = settings::level_name(*l);
                    context! {
                        value => name,
                        id => format!("level-{}", name.to_lowercase()),
                        hint => format!("settings.level.{}", name.to_lowercase()),
                        checked => *l == s.pades_level,
                    }
                })
                .collect();
            render(
                state,
                status,
                "settings.html",
                lang,
                merge([
                    errors,
                    context! { levels => levels },
                    frame(session, lang, flash),
                ]),
            )
        }
        Err(f) => error_page(state, Some(session), lang, &f),
    }
}

async fn page(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    Query(flash): Query<Flash>,
) -> Response {
    view(
        &state,
        &session,
        lang,
        StatusCode::OK,
        flash.key(),
        Value::default(),
    )
    .await
}

async fn submit(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    CsrfForm(form): CsrfForm<SettingsForm>,
) -> Response {
    let change = settings::Change {
        pades_level: Some(form.pades_level),
    };
    match settings::update(&state.db, state.clock.now(), &session.user, &change).await {
        Ok(_) => Redirect::to("/settings?msg=common.saved").into_response(),
        Err(f) if shown_on_form(&f) => {
            let errors = form_errors(&f, lang);
            view(&state, &session, lang, f.status(), None, errors).await
        }
        Err(f) => error_page(&state, Some(&session), lang, &f),
    }
}
