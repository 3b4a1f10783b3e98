//! The signing PIN's screens: 「編集」 from the profile (one's own PIN) or from a user's 詳細
//! page (an administrator), and the administrator's unlock and reset buttons on 詳細.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::context;
use serde::Deserialize;

use crate::app::AppState;
use crate::error::HttpStatus as _;
use crate::routes::extract::{CsrfForm, PageSession};
use crate::routes::pages::{error_page, form_errors, frame, merge, render, shown_on_form};
use domain::accounts::User;
use domain::acting::{Acting, Whom};
use domain::auth::Session;
use domain::error::Failure;
use domain::i18n::Lang;
use domain::pins::{self, PinChange};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/pin", get(pin_page).post(pin_submit))
        .route("/pin/unlock", post(unlock))
        .route("/pin/reset", post(reset))
}

#[derive(Debug, Deserialize, Default)]
struct For {
    /// Set when an administrator acts for a user of the organisation.
    #[serde(default)]
    user: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
struct PinForm {
    #[serde(default)]
    user: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    pin: String,
    #[serde(default)]
    confirm: String,
}

/// Whom the PIN screens act for: oneself (a signer) or a user of the organisation.
async fn whose(state: &AppState, session: &Session, user: Option<&str>) -> Result<Acting, Failure> {
    let whom = Whom::from_optional(user);
    Acting::resolve(&state.db, session.user.clone(), whom)
        .await?
        .admit(pins::holder)
}

/// Back to the profile, or to the user's 詳細 page.
fn back(session: &Session, user: &User, msg: &str) -> String {
    if user.id == session.user.id {
        format!("/profile?msg={msg}#pin")
    } else {
        format!("/users/{}?msg={msg}#pin", user.id)
    }
}

async fn view(
    state: &AppState,
    session: &Session,
    lang: Lang,
    user: &User,
    status: StatusCode,
    error: Option<&Failure>,
) -> Response {
    let pin = match pins::status(&state.db, state.clock.now(), &user.id).await {
        Ok(p) => p,
        Err(f) => return error_page(state, Some(session), lang, &f),
    };
    let errors = error.map(|f| form_errors(f, lang)).unwrap_or_default();
    let acting_for = (user.id != session.user.id).then(|| user.id.clone());
    render(
        state,
        status,
        "pin.html",
        lang,
        context! {
            pin => pin,
            acting_for => acting_for,
            target_name => user.display_name.clone(),
            back => back(session, user, "").replace("?msg=", ""),
            ..merge([errors, frame(session, lang, None)])
        },
    )
}

async fn pin_page(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    Query(whom): Query<For>,
) -> Response {
    match whose(&state, &session, whom.user.as_deref()).await {
        Ok(acting) => view(&state, &session, lang, acting.user(), StatusCode::OK, None).await,
        Err(f) => error_page(&state, Some(&session), lang, &f),
    }
}

async fn pin_submit(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    CsrfForm(form): CsrfForm<PinForm>,
) -> Response {
    let acting = match whose(&state, &session, Some(&form.user)).await {
        Ok(acting) => acting,
        Err(f) => return error_page(&state, Some(&session), lang, &f),
    };
    let user = acting.user();
    let result = async {
        let ca = &state.ca;
        let change = PinChange {
            current: Some(form.current.clone()),
            pin: form.pin.clone(),
            confirm: form.confirm.clone(),
        };
        pins::set(&state.db, state.clock.now(), ca, &acting, &change).await
    }
    .await;
    match result {
        Ok(_) => Redirect::to(&back(&session, user, "pin.saved")).into_response(),
        Err(f) if shown_on_form(&f) => {
            view(&state, &session, lang, user, f.status(), Some(&f)).await
        }
        Err(f) => error_page(&state, Some(&session), lang, &f),
    }
}

#[derive(Debug, Deserialize, Default)]
struct AdminPost {
    #[serde(default)]
    user: String,
    /// The reset's "I understand the certificate is revoked" box.
    #[serde(default)]
    understood: String,
}

/// An administrator's action on a user's PIN, back to the user's 詳細 page.
async fn admin_action<F, Fut>(
    state: AppState,
    lang: Lang,
    session: Session,
    post: AdminPost,
    msg: &str,
    act: F,
) -> Response
where
    F: FnOnce(AppState, Acting) -> Fut,
    Fut: std::future::Future<Output = Result<Acting, Failure>>,
{
    let result = async {
        // Only for a user named by id: an administrator's action on someone's PIN.
        let acting =
            Acting::resolve(&state.db, session.user.clone(), Whom::User(&post.user)).await?;
        act(state.clone(), acting).await
    }
    .await;
    match result {
        Ok(acting) => Redirect::to(&back(&session, acting.user(), msg)).into_response(),
        Err(f) => error_page(&state, Some(&session), lang, &f),
    }
}

async fn unlock(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    CsrfForm(post): CsrfForm<AdminPost>,
) -> Response {
    admin_action(
        state,
        lang,
        session,
        post,
        "pin.unlocked",
        |state, acting| async move {
            pins::unlock(&state.db, state.clock.now(), &acting).await?;
            Ok(acting)
        },
    )
    .await
}

async fn reset(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    CsrfForm(post): CsrfForm<AdminPost>,
) -> Response {
    let understood = post.understood == "yes";
    admin_action(
        state,
        lang,
        session,
        post,
        "pin.reset_done",
        move |state, acting| async move {
            if !understood {
                return Err(Failure::BadRequest("error.pin_reset_unconfirmed"));
            }
            let ca = &state.ca;
            pins::reset(&state.db, state.clock.now(), ca, &acting).await?;
            Ok(acting)
        },
    )
    .await
}
