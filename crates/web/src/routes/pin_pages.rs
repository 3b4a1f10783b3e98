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
use crate::routes::cert_pages::target;
use crate::routes::extract::{same_token, PageForm, PageSession};
use crate::routes::pages::{error_page, form_errors, frame, merge, render};
use domain::accounts::User;
use domain::auth::Session;
use domain::error::Failure;
use domain::i18n::Lang;
use domain::permissions::{require, Action};
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
    csrf: String,
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
async fn whose(state: &AppState, session: &Session, user: Option<&str>) -> Result<User, Failure> {
    let user = target(state, session, user).await?;
    if user.id == session.user.id {
        require(session.user.roles, Action::OwnSealsAndCertificate)?;
    }
    Ok(user)
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
        Ok(user) => view(&state, &session, lang, &user, StatusCode::OK, None).await,
        Err(f) => error_page(&state, Some(&session), lang, &f),
    }
}

async fn pin_submit(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    PageForm(form): PageForm<PinForm>,
) -> Response {
    let user = match whose(&state, &session, Some(&form.user)).await {
        Ok(u) => u,
        Err(f) => return error_page(&state, Some(&session), lang, &f),
    };
    let result = async {
        if !same_token(&form.csrf, &session.csrf_token) {
            return Err(Failure::Csrf);
        }
        let ca = state.pin_ca().ok_or(Failure::BadRequest("error.no_ca"))?;
        let change = PinChange {
            current: Some(form.current.clone()),
            pin: form.pin.clone(),
            confirm: form.confirm.clone(),
        };
        pins::set(
            &state.db,
            state.clock.now(),
            &ca,
            &session.user,
            &user,
            &change,
        )
        .await
    }
    .await;
    match result {
        Ok(_) => Redirect::to(&back(&session, &user, "pin.saved")).into_response(),
        Err(f @ Failure::Internal(_)) => error_page(&state, Some(&session), lang, &f),
        Err(f) => view(&state, &session, lang, &user, f.status(), Some(&f)).await,
    }
}

#[derive(Debug, Deserialize, Default)]
struct AdminPost {
    #[serde(default)]
    csrf: String,
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
    F: FnOnce(AppState, Session, User) -> Fut,
    Fut: std::future::Future<Output = Result<(), Failure>>,
{
    let result = async {
        if !same_token(&post.csrf, &session.csrf_token) {
            return Err(Failure::Csrf);
        }
        require(session.user.roles, Action::OthersSealsAndCertificates)?;
        let user = target(&state, &session, Some(&post.user)).await?;
        act(state.clone(), session.clone(), user.clone()).await?;
        Ok(user)
    }
    .await;
    match result {
        Ok(user) => Redirect::to(&back(&session, &user, msg)).into_response(),
        Err(f) => error_page(&state, Some(&session), lang, &f),
    }
}

async fn unlock(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    PageForm(post): PageForm<AdminPost>,
) -> Response {
    admin_action(
        state,
        lang,
        session,
        post,
        "pin.unlocked",
        |state, session, user| async move {
            pins::unlock(&state.db, state.clock.now(), &session.user, &user).await?;
            Ok(())
        },
    )
    .await
}

async fn reset(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    PageForm(post): PageForm<AdminPost>,
) -> Response {
    let understood = post.understood == "yes";
    admin_action(
        state,
        lang,
        session,
        post,
        "pin.reset_done",
        move |state, session, user| async move {
            if !understood {
                return Err(Failure::BadRequest("error.pin_reset_unconfirmed"));
            }
            let ca = state.pin_ca().ok_or(Failure::BadRequest("error.no_ca"))?;
            pins::reset(&state.db, state.clock.now(), &ca, &session.user, &user).await?;
            Ok(())
        },
    )
    .await
}
