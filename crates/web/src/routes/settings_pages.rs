//! The organisation's settings page (an administrator's menu: 組織の設定): the organisation's
//! name and address, the support text of its mails, the PAdES level of the signatures made with
//! a signer's own certificate (B-T, B-LT or B-LTA), the time zone of visible signatures, and an
//! external timestamp authority.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use minijinja::{context, Value};

use crate::app::AppState;
use crate::error::HttpStatus as _;
use crate::routes::extract::{CsrfForm, PageSession};
use crate::routes::pages::{error_page, form_errors, frame, merge, render, shown_on_form, Flash};
use crate::routes::settings::OrganisationSettingsChange;
use domain::auth::Session;
use domain::i18n::Lang;
use domain::settings;

/// The time zones offered first (any IANA name is accepted through the API): Japan, then where
/// Japanese companies most often have offices.
const TIME_ZONES: [&str; 12] = [
    "Asia/Tokyo",
    "Asia/Seoul",
    "Asia/Shanghai",
    "Asia/Taipei",
    "Asia/Singapore",
    "Asia/Bangkok",
    "Asia/Kolkata",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "UTC",
];

pub fn router() -> Router<AppState> {
    Router::new().route("/settings", get(page).post(submit))
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
                    context! {
                        levels => levels,
                        values => context! {
                            name => s.name,
                            mail_footer => s.mail_footer,
                            postal_code => s.address.postal_code,
                            prefecture => s.address.prefecture,
                            city => s.address.city,
                            street => s.address.street,
                            building => s.address.building,
                            time_zone => s.time_zone.name(),
                            tsa_url => s.tsa_url.as_ref().map(|u| u.as_str().to_owned()).unwrap_or_default(),
                        },
                        prefectures => domain::certificates::PREFECTURES.as_slice(),
                        time_zones => TIME_ZONES.as_slice(),
                    },
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
    // The form posts the API's own change (a setting the post leaves out stays as it is).
    CsrfForm(form): CsrfForm<OrganisationSettingsChange>,
) -> Response {
    let typed = context! { typed => &form };
    match settings::update(&state.db, state.clock.now(), &session.user, &form.into()).await {
        Ok(_) => Redirect::to("/settings?msg=common.saved").into_response(),
        Err(f) if shown_on_form(&f) => {
            // The form again as typed, each message next to its field.
            let errors = merge([form_errors(&f, lang), typed]);
            view(&state, &session, lang, f.status(), None, errors).await
        }
        Err(f) => error_page(&state, Some(&session), lang, &f),
    }
}
