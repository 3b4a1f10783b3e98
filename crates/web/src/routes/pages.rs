//! The web UI: login and logout, the forced first password change, password reset, home, the
//! profile, user management (list, 詳細, create, change role, deactivate), organisations for the
//! instance operator, and the audit log. Forms post back to their page (CSRF token in a hidden
//! field); a successful post redirects, a failed one shows the form again with the messages next
//! to the fields and a 4xx status.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use minijinja::{context, Value};
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::error::HttpStatus as _;
use crate::routes::api::parse_new_organisation;
use crate::routes::extract::{
    cookie, page_lang, set_cookie, ClientAddr, CsrfForm, PageSession, PageSessionPending,
    PreLoginForm, FORM_COOKIE, FORM_EXPIRED, LANG_COOKIE,
};
use crate::routes::seal_pages::{self, SealPageQuery};
use domain::accounts::{self, NewAccount, RoleSet, User, UserChange};
use domain::audit;
use domain::auth::{self, new_token, Session, SESSION_COOKIE, SESSION_SECONDS};
use domain::error::Failure;
use domain::i18n::{self, Lang};
use domain::permissions::{allows, require, Action};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/language/{lang}", get(set_language))
        .route("/language", axum::routing::post(set_own_language))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", axum::routing::post(logout))
        .route("/password", get(password_page).post(password_submit))
        .route("/password/reset", get(reset_page).post(reset_submit))
        .route(
            "/password/reset/{token}",
            get(reset_set_page).post(reset_set_submit),
        )
        .route("/profile", get(profile_page).post(profile_submit))
        .route("/users", get(users_page))
        .route("/users/new", get(user_new_page).post(user_new_submit))
        .route("/users/{id}", get(user_page).post(user_submit))
        .route(
            "/organisations",
            get(organisations_page).post(organisations_submit),
        )
        .route("/audit", get(audit_page))
        .route("/audit.csv", get(audit_csv))
}

/// Success messages a redirect may ask a page to show (`?msg=`).
const FLASH: &[&str] = &[
    "cert.import_done",
    "cert.import_removed",
    "cert.ordered",
    FORM_EXPIRED,
    "checks.approved",
    "checks.rejected",
    "common.saved",
    "login.logged_out",
    "orgs.created",
    "password.changed",
    "pin.reset_done",
    "pin.saved",
    "pin.unlocked",
    "reset.done",
    "seals.default_set",
    "seals.deleted",
    "seals.discarded",
    "seals.saved",
    "users.created",
    "users.updated",
];

#[derive(Debug, Deserialize)]
pub(crate) struct Flash {
    msg: Option<String>,
    /// Where to go after logging in (a party's link): a path on this service only.
    next: Option<String>,
}

/// `next` if it is a path on this service (`/…`, never `//host` or a scheme), else `None`.
pub(crate) fn local_path(next: Option<&str>) -> Option<&str> {
    next.filter(|n| {
        n.starts_with('/')
            && !n.starts_with("//")
            && !n.contains('\\')
            && !n.chars().any(char::is_control)
    })
}

impl Flash {
    pub(crate) fn key(&self) -> Option<&'static str> {
        let msg = self.msg.as_deref()?;
        FLASH.iter().copied().find(|k| *k == msg)
    }
}

/// A user as the templates see it.
#[derive(Debug, Serialize)]
struct UserRow {
    id: String,
    email: String,
    display_name: String,
    role_label: String,
    role_value: String,
    active: bool,
    must_change_password: bool,
    created_at: i64,
}

impl UserRow {
    fn new(u: &User, lang: Lang) -> Self {
        Self {
            id: u.id.clone(),
            email: u.email.clone(),
            display_name: u.display_name.clone(),
            role_label: i18n::t(lang, u.roles.label_key()).to_owned(),
            role_value: u.roles.form_value(),
            active: u.active,
            must_change_password: u.must_change_password,
            created_at: u.created_at,
        }
    }
}

/// The role choices of the user forms: (value, label).
fn role_choices(lang: Lang) -> Vec<(String, String)> {
    RoleSet::ASSIGNABLE
        .iter()
        .map(|r| (r.form_value(), i18n::t(lang, r.label_key()).to_owned()))
        .collect()
}

/// What every logged-in page shows: the user (top right) and the side menu.
pub(crate) fn frame(session: &Session, lang: Lang, flash: Option<&str>) -> Value {
    let roles = session.user.roles;
    let mut menu = vec![("/", "menu.home")];
    if allows(roles, Action::ManageUsers) {
        menu.push(("/users", "menu.users"));
        menu.push(("/audit", "menu.audit"));
    }
    if allows(roles, Action::ManageUsers) {
        menu.push(("/billing", "menu.billing"));
        menu.push(("/settings", "menu.org_settings"));
    }
    // Contracts: a document manager's own, an administrator's organisation's, and anyone's
    // turns as a party ("waiting for me"); the operator sees no organisation's business.
    if !roles.has(domain::accounts::Role::Operator) {
        menu.push(("/contracts", "menu.contracts"));
    }
    if allows(roles, Action::ManageOrganisations) {
        menu.push(("/organisations", "menu.organisations"));
    }
    if allows(roles, Action::IdentityChecks) {
        menu.push(("/identity-checks", "menu.checks"));
    }
    if allows(roles, Action::CertificateSignature) {
        menu.push(("/sign", "menu.sign"));
    }
    menu.push(("/profile", "menu.settings"));
    context! {
        me => UserRow::new(&session.user, lang),
        csrf => session.csrf_token.clone(),
        menu => menu,
        flash => flash.map(|k| i18n::t(lang, k).to_owned()),
    }
}

/// The failure's messages for the form: the general one, and one per field.
pub(crate) fn form_errors(f: &Failure, lang: Lang) -> Value {
    let fields: BTreeMap<&str, &str> = f
        .fields()
        .iter()
        .map(|fe| (fe.field, i18n::t(lang, fe.key)))
        .collect();
    context! { error => crate::error::failure_text(lang, f), errors => fields }
}

/// Merges template contexts; the first has precedence.
pub(crate) fn merge<const N: usize>(values: [Value; N]) -> Value {
    minijinja::value::merge_maps(values.into_iter().rev())
}

pub(crate) fn render(
    state: &AppState,
    status: StatusCode,
    template: &str,
    lang: Lang,
    ctx: Value,
) -> Response {
    state.pages.render(status, template, lang, ctx)
}

/// An error page for failures that are not about a form's fields: what happened, and what to do
/// next (by the kind of failure).
pub(crate) fn error_page(
    state: &AppState,
    session: Option<&Session>,
    lang: Lang,
    f: &Failure,
) -> Response {
    error_page_saying(state, session, lang, f, None)
}

/// [`error_page`] with its own advice (`next`, a text key) instead of the kind's.
pub(crate) fn error_page_saying(
    state: &AppState,
    session: Option<&Session>,
    lang: Lang,
    f: &Failure,
    next: Option<&str>,
) -> Response {
    f.log();
    let status = f.status();
    let next = next.unwrap_or(match status.as_u16() {
        401 => "error.next.login",
        403 => "error.next.forbidden",
        404 => "error.next.not_found",
        413 => "error.next.smaller",
        500..=599 => "error.next.server",
        _ => "error.next.retry",
    });
    let frame = session.map(|s| frame(s, lang, None));
    render(
        state,
        status,
        "error.html",
        lang,
        context! {
            message => crate::error::failure_text(lang, f),
            next => i18n::t(lang, next),
            status => status.as_u16(),
            ..frame.unwrap_or_default()
        },
    )
}

/// Any path no route serves: the JSON refusal under `/api/`, else the error page (as the
/// visitor, when logged in, with their menu).
pub async fn not_found(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    if request.uri().path().starts_with("/api/") {
        return crate::error::HttpFailure(Failure::NotFound).into_response();
    }
    let (parts, _) = request.into_parts();
    let session = crate::routes::extract::session_of(&parts, &state)
        .await
        .ok()
        .flatten();
    let lang = page_lang(&parts.headers, session.as_ref());
    error_page(&state, session.as_ref(), lang, &Failure::NotFound)
}

/// Whether a failed form is shown again with its messages (the input was at fault: fields, a
/// conflict, a refused file or PDF, a lock) rather than the error page (the request itself
/// cannot be served: not allowed, not found, a refusal the form cannot fix, a server failure).
pub(crate) fn shown_on_form(f: &Failure) -> bool {
    matches!(
        f,
        Failure::Invalid(_)
            | Failure::Conflict(_)
            | Failure::Image { .. }
            | Failure::Malformed(_)
            | Failure::BadUpload(_)
            | Failure::UnreadablePdf(_)
            | Failure::TooLarge(_)
            | Failure::Locked
            | Failure::PinLocked(_)
            | Failure::Upstream { .. }
    )
}

/// A form's answer, written once: `done` on success; on failure, the form `again` with the
/// messages when [`shown_on_form`], else the error page.
pub(crate) async fn form_outcome<T, Again>(
    state: &AppState,
    session: Option<&Session>,
    lang: Lang,
    result: Result<T, Failure>,
    done: impl FnOnce(T) -> Response,
    again: impl FnOnce(Failure) -> Again,
) -> Response
where
    Again: std::future::Future<Output = Response>,
{
    match result {
        Ok(value) => done(value),
        Err(f) if shown_on_form(&f) => again(f).await,
        Err(f) => error_page(state, session, lang, &f),
    }
}

fn form_cookie_token(headers: &HeaderMap) -> Option<String> {
    cookie(headers, FORM_COOKIE)
        .filter(|t| t.len() == 64)
        .map(str::to_owned)
}

/// The pre-login form token: the cookie's, or a new one to set.
fn pre_login_token(headers: &HeaderMap) -> Result<(String, Option<String>), Failure> {
    match form_cookie_token(headers) {
        Some(t) => Ok((t, None)),
        None => {
            let t = new_token()?;
            Ok((t.clone(), Some(t)))
        }
    }
}

fn with_form_cookie(state: &AppState, set: Option<String>, response: Response) -> Response {
    match set {
        Some(token) => (
            AppendHeaders([(
                header::SET_COOKIE,
                set_cookie(state, FORM_COOKIE, &token, None),
            )]),
            response,
        )
            .into_response(),
        None => response,
    }
}

// --- language -------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct Back {
    back: Option<String>,
}

async fn set_language(
    State(state): State<AppState>,
    Path(lang): Path<String>,
    Query(back): Query<Back>,
) -> Response {
    let Some(lang) = Lang::parse(&lang) else {
        return (StatusCode::NOT_FOUND, "no such language").into_response();
    };
    // Only a path on this site: no open redirect. A control character is no mistake a page
    // makes (browsers drop a tab, turning `/\t/host` into `//host`; CR or LF would split the
    // header): refused.
    if back
        .back
        .as_deref()
        .is_some_and(|b| b.chars().any(char::is_control))
    {
        return (
            StatusCode::BAD_REQUEST,
            "戻り先のアドレスが正しくありません。 / The address to return to is not valid.",
        )
            .into_response();
    }
    let back = local_path(back.back.as_deref()).unwrap_or("/").to_owned();
    (
        AppendHeaders([(
            header::SET_COOKIE,
            set_cookie(&state, LANG_COOKIE, lang.as_str(), Some(365 * 86400)),
        )]),
        Redirect::to(&back),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct LanguageForm {
    #[serde(default)]
    lang: String,
}

/// The header's language switch for a logged-in user: their setting changes (the profile shows
/// it, their mails follow it), then back to the page they were on (its same-origin Referer).
async fn set_own_language(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    headers: HeaderMap,
    CsrfForm(form): CsrfForm<LanguageForm>,
) -> Response {
    let changed = accounts::update_profile(&state.db, &session.user, None, Some(&form.lang)).await;
    if let Err(f) = changed {
        return error_page(&state, Some(&session), lang, &f);
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let back = headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok()?.parse::<axum::http::Uri>().ok())
        .filter(|r| r.authority().map(|a| a.as_str()) == host)
        .and_then(|r| local_path(r.path_and_query().map(|p| p.as_str())).map(str::to_owned))
        .unwrap_or_else(|| "/".to_owned());
    (
        AppendHeaders([(
            header::SET_COOKIE,
            set_cookie(&state, LANG_COOKIE, &form.lang, Some(365 * 86400)),
        )]),
        Redirect::to(&back),
    )
        .into_response()
}

// --- login, logout ---------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
}

async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(flash): Query<Flash>,
) -> Response {
    let lang = page_lang(&headers, None);
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        if let Ok(Some(_)) = auth::session(&state.db, state.clock.now(), token).await {
            return Redirect::to("/").into_response();
        }
    }
    let (csrf, set) = match pre_login_token(&headers) {
        Ok(t) => t,
        Err(f) => return error_page(&state, None, lang, &f),
    };
    let page = render(
        &state,
        StatusCode::OK,
        "login.html",
        lang,
        context! {
            csrf => csrf,
            flash => flash.key().map(|k| i18n::t(lang, k)),
            next => local_path(flash.next.as_deref()),
        },
    );
    with_form_cookie(&state, set, page)
}

async fn login_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    PreLoginForm(form): PreLoginForm<LoginForm>,
) -> Response {
    let lang = page_lang(&headers, None);
    let now = state.clock.now();
    let result = auth::login(&state.db, now, &form.email, &form.password, &client).await;
    match result {
        Ok(done) => {
            let to = if done.session.user.must_change_password {
                "/password"
            } else {
                local_path(form.next.as_deref()).unwrap_or("/")
            };
            (
                AppendHeaders([(
                    header::SET_COOKIE,
                    set_cookie(
                        &state,
                        SESSION_COOKIE,
                        done.token.expose(),
                        Some(SESSION_SECONDS),
                    ),
                )]),
                Redirect::to(to),
            )
                .into_response()
        }
        Err(f) => {
            f.log();
            let key = match &f {
                Failure::Unauthenticated => "error.login_failed",
                other => other.key(),
            };
            let (csrf, set) = match pre_login_token(&headers) {
                Ok(t) => t,
                Err(f) => return error_page(&state, None, lang, &f),
            };
            let mut errors = form_errors(&f, lang);
            errors = context! { error => i18n::t(lang, key), ..errors };
            let page = render(
                &state,
                f.status(),
                "login.html",
                lang,
                context! {
                    csrf => csrf,
                    email => form.email.trim(),
                    next => local_path(form.next.as_deref()),
                    ..errors
                },
            );
            with_form_cookie(&state, set, page)
        }
    }
}

/// A form with nothing but its CSRF token (checked by [`CsrfForm`]).
#[derive(Debug, Deserialize)]
struct Empty {}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageSessionPending(session): PageSessionPending,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Response {
    let lang = page_lang(&headers, Some(&session));
    if let Err(f) = auth::logout(&state.db, state.clock.now(), &session).await {
        return error_page(&state, Some(&session), lang, &f);
    }
    (
        AppendHeaders([(
            header::SET_COOKIE,
            set_cookie(&state, SESSION_COOKIE, "", Some(0)),
        )]),
        Redirect::to("/login?msg=login.logged_out"),
    )
        .into_response()
}

// --- password change and reset ---------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_confirmation: String,
}

async fn password_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageSessionPending(session): PageSessionPending,
) -> Response {
    let lang = page_lang(&headers, Some(&session));
    let forced = session.user.must_change_password;
    render(
        &state,
        StatusCode::OK,
        "password.html",
        lang,
        context! { forced => forced, ..frame(&session, lang, None) },
    )
}

async fn password_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageSessionPending(session): PageSessionPending,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Response {
    let lang = page_lang(&headers, Some(&session));
    let result = auth::change_password(
        &state.db,
        state.clock.now(),
        &session,
        &form.current_password,
        &form.new_password,
        &form.new_password_confirmation,
    )
    .await;
    let done = |()| Redirect::to("/?msg=password.changed").into_response();
    let (state_, session_) = (&state, &session);
    let again = move |f: Failure| async move {
        let ctx = context! {
            forced => session_.user.must_change_password,
            ..merge([form_errors(&f, lang), frame(session_, lang, None)])
        };
        render(state_, f.status(), "password.html", lang, ctx)
    };
    form_outcome(&state, Some(&session), lang, result, done, again).await
}

#[derive(Debug, Deserialize)]
struct ResetForm {
    #[serde(default)]
    email: String,
}

async fn reset_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(flash): Query<Flash>,
) -> Response {
    let lang = page_lang(&headers, None);
    let (csrf, set) = match pre_login_token(&headers) {
        Ok(t) => t,
        Err(f) => return error_page(&state, None, lang, &f),
    };
    let page = render(
        &state,
        StatusCode::OK,
        "reset_request.html",
        lang,
        context! {
            csrf => csrf,
            flash => flash.key().map(|k| i18n::t(lang, k)),
            next => local_path(flash.next.as_deref()),
        },
    );
    with_form_cookie(&state, set, page)
}

async fn reset_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    PreLoginForm(form): PreLoginForm<ResetForm>,
) -> Response {
    let lang = page_lang(&headers, None);
    let base = state.config.base_url();
    let now = state.clock.now();
    let result = auth::request_reset(&state.db, now, &form.email, &base, &client).await;
    let (csrf, set) = match pre_login_token(&headers) {
        Ok(t) => t,
        Err(f) => return error_page(&state, None, lang, &f),
    };
    let sent = |()| {
        let ctx = context! { csrf => &csrf, sent => true };
        render(&state, StatusCode::OK, "reset_request.html", lang, ctx)
    };
    let (state_, csrf_, email) = (&state, &csrf, &form.email);
    let again = move |f: Failure| async move {
        let ctx = context! { csrf => csrf_, email => email, ..form_errors(&f, lang) };
        render(state_, f.status(), "reset_request.html", lang, ctx)
    };
    let page = form_outcome(&state, None, lang, result, sent, again).await;
    with_form_cookie(&state, set, page)
}

#[derive(Debug, Deserialize)]
struct ResetSetForm {
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_confirmation: String,
}

async fn reset_set_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Query(flash): Query<Flash>,
) -> Response {
    let lang = page_lang(&headers, None);
    match auth::reset_valid(&state.db, state.clock.now(), &token).await {
        Ok(true) => {}
        Ok(false) => {
            return error_page(
                &state,
                None,
                lang,
                &Failure::BadRequest("error.reset_invalid"),
            )
        }
        Err(f) => return error_page(&state, None, lang, &f),
    }
    let (csrf, set) = match pre_login_token(&headers) {
        Ok(t) => t,
        Err(f) => return error_page(&state, None, lang, &f),
    };
    let page = render(
        &state,
        StatusCode::OK,
        "reset_set.html",
        lang,
        context! { csrf => csrf, token => token, flash => flash.key().map(|k| i18n::t(lang, k)) },
    );
    with_form_cookie(&state, set, page)
}

async fn reset_set_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    PreLoginForm(form): PreLoginForm<ResetSetForm>,
) -> Response {
    let lang = page_lang(&headers, None);
    let result = auth::reset_password(
        &state.db,
        state.clock.now(),
        &token,
        &form.new_password,
        &form.new_password_confirmation,
    )
    .await;
    // The checked form's token is the cookie's.
    let csrf = form_cookie_token(&headers).unwrap_or_default();
    let done = |()| Redirect::to("/login?msg=reset.done").into_response();
    let (state_, csrf, token) = (&state, &csrf, &token);
    let again = move |f: Failure| async move {
        let ctx = context! { csrf => csrf, token => token, ..form_errors(&f, lang) };
        render(state_, f.status(), "reset_set.html", lang, ctx)
    };
    form_outcome(&state, None, lang, result, done, again).await
}

// --- home and profile ------------------------------------------------------------------------

async fn home(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    Query(flash): Query<Flash>,
) -> Response {
    let org = accounts::organisation_name(&state.db, &session.user.org_id)
        .await
        .map(|o| o.as_str().to_owned())
        .unwrap_or_default();
    render(
        &state,
        StatusCode::OK,
        "home.html",
        lang,
        context! { org => org, ..frame(&session, lang, flash.key()) },
    )
}

#[derive(Debug, Deserialize)]
struct ProfileForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    language: String,
}

async fn profile_context(
    state: &AppState,
    session: &Session,
    lang: Lang,
    seals: &SealPageQuery,
) -> Value {
    let org = accounts::organisation_name(&state.db, &session.user.org_id)
        .await
        .map(|o| o.as_str().to_owned())
        .unwrap_or_default();
    let cert = domain::certificates::overview(&state.db, state.clock.now(), &session.user)
        .await
        .ok();
    let signer = domain::certificates::may_apply(&session.user).is_ok();
    let agent = session.user.roles.has(accounts::Role::TransactionAgent);
    let key = new_token().unwrap_or_default();
    let pin = domain::pins::status(&state.db, state.clock.now(), &session.user.id)
        .await
        .ok();
    context! {
        pin => pin,
        org => org,
        user => UserRow::new(&session.user, lang),
        language => session.user.language.as_str(),
        cert => cert,
        signer => signer,
        agent => agent,
        key => key,
        seals => seal_pages::section(state, &session.user, false, seals).await,
    }
}

/// The profile with the failure of one of its forms (`errors`), or after `flash`.
pub(crate) async fn profile_with(
    state: &AppState,
    session: &Session,
    lang: Lang,
    status: StatusCode,
    seals: &SealPageQuery,
    flash: Option<&str>,
    errors: Value,
) -> Response {
    let ctx = profile_context(state, session, lang, seals).await;
    render(
        state,
        status,
        "profile.html",
        lang,
        merge([errors, ctx, frame(session, lang, flash)]),
    )
}

async fn profile_page(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    Query(flash): Query<Flash>,
    Query(seals): Query<SealPageQuery>,
) -> Response {
    profile_with(
        &state,
        &session,
        lang,
        StatusCode::OK,
        &seals,
        flash.key(),
        Value::default(),
    )
    .await
}

async fn profile_submit(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    CsrfForm(form): CsrfForm<ProfileForm>,
) -> Response {
    let result = accounts::update_profile(
        &state.db,
        &session.user,
        Some(&form.display_name),
        Some(&form.language),
    )
    .await;
    match result {
        Ok(user) => (
            AppendHeaders([(
                header::SET_COOKIE,
                set_cookie(
                    &state,
                    LANG_COOKIE,
                    user.language.as_str(),
                    Some(365 * 86400),
                ),
            )]),
            Redirect::to("/profile?msg=common.saved"),
        )
            .into_response(),
        Err(f) if shown_on_form(&f) => {
            let seals = SealPageQuery::default();
            let errors = form_errors(&f, lang);
            profile_with(&state, &session, lang, f.status(), &seals, None, errors).await
        }
        Err(f) => error_page(&state, Some(&session), lang, &f),
    }
}

// --- user management -------------------------------------------------------------------------

async fn users_page(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
) -> Response {
    let result = async {
        require(session.user.roles, Action::ManageUsers)?;
        accounts::list_users(&state.db, &session.user.org_id).await
    }
    .await;
    match result {
        Ok(users) => {
            let rows: Vec<UserRow> = users.iter().map(|u| UserRow::new(u, lang)).collect();
            render(
                &state,
                StatusCode::OK,
                "users.html",
                lang,
                context! { users => rows, ..frame(&session, lang, None) },
            )
        }
        Err(f) => error_page(&state, Some(&session), lang, &f),
    }
}

#[derive(Debug, Deserialize, Default)]
struct NewUserForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    roles: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirmation: String,
}

fn user_new_form(
    state: &AppState,
    session: &Session,
    lang: Lang,
    status: StatusCode,
    form: &NewUserForm,
    errors: Value,
) -> Response {
    render(
        state,
        status,
        "user_new.html",
        lang,
        context! {
            roles => role_choices(lang),
            display_name => form.display_name,
            email => form.email,
            role => form.roles,
            ..merge([errors, frame(session, lang, None)])
        },
    )
}

async fn user_new_page(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
) -> Response {
    if let Err(f) = require(session.user.roles, Action::ManageUsers) {
        return error_page(&state, Some(&session), lang, &f);
    }
    user_new_form(
        &state,
        &session,
        lang,
        StatusCode::OK,
        &NewUserForm::default(),
        Value::default(),
    )
}

/// The role select's value `document_manager+signer` as role names.
fn role_names(value: &str) -> Vec<String> {
    value
        .split('+')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn user_new_submit(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    CsrfForm(form): CsrfForm<NewUserForm>,
) -> Response {
    if let Err(f) = require(session.user.roles, Action::ManageUsers) {
        return error_page(&state, Some(&session), lang, &f);
    }
    let result = async {
        let account = NewAccount::parse(
            &form.display_name,
            &form.email,
            &role_names(&form.roles),
            Some(&form.password),
            Some(&form.password_confirmation),
        )?;
        accounts::create_user(
            &state.db,
            state.clock.now(),
            &session.user,
            &account,
            &state.login_url(),
        )
        .await
    }
    .await;
    let done = |created: accounts::Created| {
        Redirect::to(&format!("/users/{}?msg=users.created", created.user.id)).into_response()
    };
    let (state_, session_, form_) = (&state, &session, &form);
    let again = move |f: Failure| async move {
        let errors = form_errors(&f, lang);
        user_new_form(state_, session_, lang, f.status(), form_, errors)
    };
    form_outcome(&state, Some(&session), lang, result, done, again).await
}

#[derive(Debug, Deserialize)]
struct UserForm {
    /// `save` (name and role), `deactivate` or `activate`.
    #[serde(default)]
    action: String,
    display_name: Option<String>,
    roles: Option<String>,
}

async fn user_page(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    Path(id): Path<String>,
    Query(flash): Query<Flash>,
    Query(seals): Query<SealPageQuery>,
) -> Response {
    let result = async {
        require(session.user.roles, Action::ManageUsers)?;
        accounts::get_user(&state.db, &session.user.org_id, &id).await
    }
    .await;
    match result {
        Ok(user) => {
            let flash = flash.key();
            let page = UserPage::new(&session, &user, lang, StatusCode::OK);
            user_detail_with(&state, page, &seals, flash, Value::default()).await
        }
        Err(f) => error_page(&state, Some(&session), lang, &f),
    }
}

/// What a user's 詳細 page is rendered for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UserPage<'a> {
    pub session: &'a Session,
    pub user: &'a User,
    pub lang: Lang,
    pub status: StatusCode,
}

impl<'a> UserPage<'a> {
    pub(crate) fn new(
        session: &'a Session,
        user: &'a User,
        lang: Lang,
        status: StatusCode,
    ) -> Self {
        Self {
            session,
            user,
            lang,
            status,
        }
    }
}

/// A user's 詳細 page (an administrator's), with the failure of one of its forms (`errors`), or
/// after `flash`.
pub(crate) async fn user_detail_with(
    state: &AppState,
    page: UserPage<'_>,
    seals: &SealPageQuery,
    flash: Option<&str>,
    errors: Value,
) -> Response {
    let UserPage {
        session,
        user,
        lang,
        status,
    } = page;
    // Only signers hold certificates.
    let cert = if domain::certificates::may_apply(user).is_ok() {
        domain::certificates::overview(&state.db, state.clock.now(), user)
            .await
            .ok()
    } else {
        None
    };
    let pin = match cert {
        Some(_) => domain::pins::status(&state.db, state.clock.now(), &user.id)
            .await
            .ok(),
        None => None,
    };
    let seals = seal_pages::section(state, user, true, seals).await;
    render(
        state,
        status,
        "user_detail.html",
        lang,
        merge([
            errors,
            context! {
                user => UserRow::new(user, lang),
                roles => role_choices(lang),
                is_self => user.id == session.user.id,
                cert => cert,
                pin => pin,
                key => new_token().unwrap_or_default(),
                seals => seals,
            },
            frame(session, lang, flash),
        ]),
    )
}

async fn user_submit(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<UserForm>,
) -> Response {
    let result = async {
        require(session.user.roles, Action::ManageUsers)?;
        let change = match form.action.as_str() {
            "deactivate" => UserChange {
                active: Some(false),
                ..UserChange::default()
            },
            "activate" => UserChange {
                active: Some(true),
                ..UserChange::default()
            },
            _ => UserChange {
                display_name: form.display_name.clone(),
                roles: form.roles.as_deref().map(role_names),
                active: None,
            },
        };
        accounts::update_user(&state.db, state.clock.now(), &session.user, &id, &change).await
    }
    .await;
    let done =
        |user: User| Redirect::to(&format!("/users/{}?msg=users.updated", user.id)).into_response();
    let (state_, session_, id) = (&state, &session, &id);
    let again = move |f: Failure| async move {
        match accounts::get_user(&state_.db, &session_.user.org_id, id).await {
            Ok(user) => {
                let page = UserPage::new(session_, &user, lang, f.status());
                let (seals, errors) = (SealPageQuery::default(), form_errors(&f, lang));
                user_detail_with(state_, page, &seals, None, errors).await
            }
            Err(f) => error_page(state_, Some(session_), lang, &f),
        }
    };
    form_outcome(&state, Some(&session), lang, result, done, again).await
}

// --- organisations (the instance operator) ----------------------------------------------------

#[derive(Debug, Serialize)]
struct OrgRow {
    name: String,
    created_at: i64,
    users: i64,
}

#[derive(Debug, Deserialize, Default)]
struct OrgForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    admin_name: String,
    #[serde(default)]
    admin_email: String,
}

async fn organisations_view(
    state: &AppState,
    session: &Session,
    lang: Lang,
    status: StatusCode,
    flash: Option<&str>,
    form: &OrgForm,
    errors: Value,
) -> Response {
    match accounts::list_organisations(&state.db).await {
        Ok(orgs) => {
            let rows: Vec<OrgRow> = orgs
                .into_iter()
                .map(|o| OrgRow {
                    name: o.name,
                    created_at: o.created_at,
                    users: o.users,
                })
                .collect();
            render(
                state,
                status,
                "organisations.html",
                lang,
                context! {
                    orgs => rows,
                    name => form.name, admin_name => form.admin_name, admin_email => form.admin_email,
                    ..merge([errors, frame(session, lang, flash)])
                },
            )
        }
        Err(f) => error_page(state, Some(session), lang, &f),
    }
}

async fn organisations_page(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    Query(flash): Query<Flash>,
) -> Response {
    if let Err(f) = require(session.user.roles, Action::ManageOrganisations) {
        return error_page(&state, Some(&session), lang, &f);
    }
    organisations_view(
        &state,
        &session,
        lang,
        StatusCode::OK,
        flash.key(),
        &OrgForm::default(),
        Value::default(),
    )
    .await
}

async fn organisations_submit(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    CsrfForm(form): CsrfForm<OrgForm>,
) -> Response {
    if let Err(f) = require(session.user.roles, Action::ManageOrganisations) {
        return error_page(&state, Some(&session), lang, &f);
    }
    let result = async {
        let (org, admin) = parse_new_organisation(&form.name, &form.admin_name, &form.admin_email)?;
        accounts::create_organisation(
            &state.db,
            state.clock.now(),
            &session.user,
            &org,
            &admin,
            &state.login_url(),
        )
        .await
    }
    .await;
    let done = |_| Redirect::to("/organisations?msg=orgs.created").into_response();
    let (state_, session_, form_) = (&state, &session, &form);
    let again = move |f: Failure| async move {
        let errors = form_errors(&f, lang);
        organisations_view(state_, session_, lang, f.status(), None, form_, errors).await
    };
    form_outcome(&state, Some(&session), lang, result, done, again).await
}

// --- audit log -------------------------------------------------------------------------------

/// One entry as the page shows it.
#[derive(Debug, Serialize)]
struct AuditRow {
    seq: i64,
    at: i64,
    /// The actor's name and address (or the system).
    actor: String,
    action: String,
    /// What happened, in the reader's language.
    what: String,
    /// The details, readable.
    detail: String,
    /// The details as stored (JSON).
    raw: String,
}

/// The audit page's filters, as the form sends them.
#[derive(Debug, Default, Deserialize, Serialize)]
struct AuditQueryForm {
    #[serde(default)]
    who: String,
    #[serde(default)]
    what: String,
    /// `YYYY-MM-DD`, in Japan time.
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
}

impl AuditQueryForm {
    /// The filter; a date that is not one is refused by its field.
    fn filter(&self) -> Result<audit::Filter, Failure> {
        let day = |field: &'static str, s: &str| -> Result<Option<i64>, Failure> {
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            domain::clock::jst_day_start(s)
                .map(Some)
                .ok_or_else(|| Failure::invalid(field, "error.date"))
        };
        Ok(audit::Filter {
            actor: Some(self.who.trim().to_owned()).filter(|w| !w.is_empty()),
            kind: audit::Kind::parse(self.what.trim()),
            from: day("from", &self.from)?,
            // The whole last day.
            until: day("until", &self.until)?.map(|t| t + 86400),
        })
    }
}

/// A user as the audit screen names them: `name <address>`.
fn person(u: &User) -> String {
    format!("{} <{}>", u.display_name, u.email)
}

/// The organisation's audit log (administrators): a readable line per entry in the reader's
/// language, filtered by who, what and when; the same as CSV at `/audit.csv`.
async fn audit_entries(
    state: &AppState,
    session: &Session,
    lang: Lang,
    query: &AuditQueryForm,
    limit: i64,
) -> Result<(Vec<AuditRow>, Vec<User>), Failure> {
    require(session.user.roles, Action::ManageUsers)?;
    let filter = query.filter()?;
    let entries = audit::search(&state.db, &session.user.org_id, &filter, limit).await?;
    let users = accounts::list_users(&state.db, &session.user.org_id).await?;
    let name_of = |id: &str| {
        users
            .iter()
            .find(|u| u.id == id)
            .map_or_else(|| id.to_owned(), person)
    };
    let rows = entries
        .into_iter()
        .map(|e| {
            let key = format!("event.{}", e.action);
            AuditRow {
                seq: e.seq,
                at: e.at,
                actor: match e.actor.as_deref() {
                    None | Some("system") => i18n::t(lang, "audit.system").to_owned(),
                    Some(a) => name_of(a),
                },
                what: if i18n::known(&key) {
                    i18n::t(lang, &key).to_owned()
                } else {
                    e.action.clone()
                },
                action: e.action,
                detail: audit::summary(&e.detail),
                raw: e.detail,
            }
        })
        .collect();
    Ok((rows, users))
}

async fn audit_page(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    Query(query): Query<AuditQueryForm>,
) -> Response {
    let result = async {
        let (rows, users) = audit_entries(&state, &session, lang, &query, 200).await?;
        let intact = audit::verify_recent(&state.db, state.clock.now())
            .await?
            .is_ok();
        Ok::<_, Failure>((rows, users, intact))
    };
    match result.await {
        Ok((rows, users, intact)) => {
            let people: Vec<(String, String)> =
                users.iter().map(|u| (u.id.clone(), person(u))).collect();
            let kinds: Vec<(&str, String)> = audit::Kind::ALL
                .iter()
                .map(|k| {
                    let label = i18n::t(lang, &format!("audit.kind.{}", k.as_str())).to_owned();
                    (k.as_str(), label)
                })
                .collect();
            let csv = format!(
                "/audit.csv?{}",
                serde_urlencoded::to_string(&query).unwrap_or_default()
            );
            render(
                &state,
                StatusCode::OK,
                "audit.html",
                lang,
                context! {
                    entries => rows, intact => intact, query => query, people => people,
                    kinds => kinds, csv => csv, ..frame(&session, lang, None)
                },
            )
        }
        Err(f) if shown_on_form(&f) => {
            let errors = form_errors(&f, lang);
            render(
                &state,
                f.status(),
                "audit.html",
                lang,
                merge([
                    errors,
                    context! { entries => Vec::<AuditRow>::new(), intact => true, query => query },
                    frame(&session, lang, None),
                ]),
            )
        }
        Err(f) => error_page(&state, Some(&session), lang, &f),
    }
}

/// The filtered log as CSV (UTF-8 with a BOM, so spreadsheet software reads the Japanese):
/// number, time (JST), who, action code, what, details (JSON as stored).
async fn audit_csv(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    Query(query): Query<AuditQueryForm>,
) -> Response {
    match audit_entries(&state, &session, lang, &query, 100_000).await {
        Ok((rows, _)) => {
            let field = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
            let mut csv = String::from("\u{feff}seq,time_jst,actor,action,what,detail\r\n");
            for r in &rows {
                csv.push_str(&format!(
                    "{},{},{},{},{},{}\r\n",
                    r.seq,
                    field(&domain::clock::jst_slashed(r.at)),
                    field(&r.actor),
                    field(&r.action),
                    field(&r.what),
                    field(&r.raw),
                ));
            }
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"audit.csv\"",
                    ),
                ],
                csv,
            )
                .into_response()
        }
        Err(f) => error_page(&state, Some(&session), lang, &f),
    }
}
