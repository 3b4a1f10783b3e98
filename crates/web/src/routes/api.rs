//! The JSON API under `/api`: session (login, logout), the caller's own account, password
//! reset, users, organisations (the instance operator) and the audit log; and its OpenAPI
//! document at `/api/openapi.json`. Handlers parse, check the permission, call the domain
//! modules and shape the answer; nothing else.
//!
//! Authentication is the session cookie set by `POST /api/session`; state-changing requests
//! also carry the session's CSRF token in `X-CSRF-Token`.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::app::AppState;
use crate::error::{ApiError, HttpFailure};
use crate::routes::extract::{set_cookie, ApiJson, ApiSession, ApiSessionPending, ClientAddr};
use domain::accounts::{self, NewAccount, OrgName, User, UserChange};
use domain::audit;
use domain::auth::{self, Session, SESSION_COOKIE, SESSION_SECONDS};
use domain::error::Failure;
use domain::permissions::{require, Action};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .route("/api/session", post(login).delete(logout))
        .route("/api/me", get(me).patch(update_me))
        .route("/api/me/password", post(change_password))
        .route("/api/password-reset", post(request_reset))
        .route("/api/password-reset/{token}", post(reset_password))
        .route("/api/users", get(list_users).post(create_user))
        .route("/api/users/{id}", get(get_user).patch(update_user))
        .route(
            "/api/organisations",
            get(list_organisations).post(create_organisation),
        )
        .route("/api/audit", get(audit_log))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Inkan",
        description = "The JSON API of Inkan, a self-hostable electronic contract service. \
            Log in with POST /api/session; the answer sets the session cookie and carries the \
            CSRF token to send as X-CSRF-Token on every state-changing request."
    ),
    paths(
        crate::routes::health::healthz,
        login, logout, me, update_me, change_password, request_reset, reset_password,
        list_users, create_user, get_user, update_user,
        list_organisations, create_organisation, audit_log,
        crate::routes::certificates::status, crate::routes::certificates::check_form,
        crate::routes::certificates::place_order, crate::routes::certificates::renew,
        crate::routes::certificates::change, crate::routes::certificates::queue,
        crate::routes::certificates::approve, crate::routes::certificates::reject,
        crate::routes::certificates::billing, crate::routes::certificates::billing_csv,
        crate::routes::certificates::sign,
        crate::routes::certificates::import, crate::routes::certificates::remove_import,
        crate::routes::contracts::create, crate::routes::contracts::list,
        crate::routes::contracts::one, crate::routes::contracts::add_party,
        crate::routes::contracts::events, crate::routes::contracts::add_document,
        crate::routes::contracts::documents, crate::routes::contracts::add_field,
        crate::routes::contracts::fields, crate::routes::contracts::cancel,
        crate::routes::contracts::remove_party, crate::routes::contracts::remove_document,
        crate::routes::contracts::remove_field, crate::routes::contracts::document_pdf,
        crate::routes::contracts::set_options, crate::routes::contracts::send,
        crate::routes::contracts::remind, crate::routes::contracts::certificate,
        crate::routes::contracts::counts, crate::routes::contracts::people,
        crate::routes::contracts::change_party, crate::routes::contracts::change_field,
        crate::routes::party::view, crate::routes::party::send_code,
        crate::routes::party::confirm_code, crate::routes::party::sign,
        crate::routes::party::approve, crate::routes::party::decline,
        crate::routes::party::forward,
        crate::routes::party::document, crate::routes::party::certificate,
        crate::routes::pins::own_status, crate::routes::pins::own_set,
        crate::routes::pins::user_unlock, crate::routes::pins::user_reset,
        crate::routes::seals::upload, crate::routes::seals::discard,
        crate::routes::seals::draft_original, crate::routes::seals::draft_transparent,
        crate::routes::seals::list, crate::routes::seals::save, crate::routes::seals::remove,
        crate::routes::seals::image, crate::routes::seals::original,
        crate::routes::seals::make_default,
        crate::routes::webhooks::create, crate::routes::webhooks::list,
        crate::routes::webhooks::remove, crate::routes::webhooks::deliveries,
        crate::routes::webhooks::test,
        crate::routes::settings::read, crate::routes::settings::change,
    ),
    modifiers(&Security, &MirrorForUsers),
    tags(
        (name = "session", description = "Login, logout and the caller's own account"),
        (name = "users", description = "The organisation's users (administrators)"),
        (name = "organisations", description = "Organisations (the instance operator)"),
        (name = "audit", description = "The hash-chained audit log (administrators)"),
        (name = "certificates", description = "Signing certificates: application, order, identity check, billing"),
        (name = "pin", description = "The signing PIN: set, change, unlock, reset"),
        (name = "seals", description = "Seal images (印影) stamped on visible signatures: upload, preview, save, default, delete"),
        (name = "contracts", description = "Contracts for their senders: drafts, documents, parties, fields, sending, reminders, cancelling, history, downloads"),
        (name = "parties", description = "A contract's parties through their personal links: one-time codes, documents, signing, approving, declining"),
        (name = "webhooks", description = "Webhook endpoints for contract events, their delivery logs and test pings (administrators)"),
        (name = "organisation settings", description = "The organisation's settings: the PAdES level of signatures with a signer's own certificate (administrators)"),
        (name = "health", description = "Liveness for load balancers"),
    )
)]
#[derive(Debug)]
pub struct ApiDoc;

#[derive(Debug)]
struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(SESSION_COOKIE))),
        );
        components.add_security_scheme(
            "csrf",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-CSRF-Token"))),
        );
        components.add_security_scheme(
            "party",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Inkan-Party"))),
        );
    }
}

/// Adds `/api/users/{id}/…` for every `/api/me/…` path whose handler serves both (the caller's
/// own, or an administrator's for a user of the organisation: [`ApiActing`] resolves which). The
/// copy takes the `id` parameter, its own operation id, and the refusals of acting for a user
/// (401, 403, 404) in place of the caller's.
#[derive(Debug)]
struct MirrorForUsers;

impl utoipa::Modify for MirrorForUsers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
        use utoipa::openapi::{ObjectBuilder, Required, Type};
        use utoipa::IntoResponses;

        let refusals = crate::error::ForUser::responses();
        let mirror = |op: &mut Operation| {
            let id = ParameterBuilder::new()
                .name("id")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some("The user's id"))
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build();
            op.parameters.get_or_insert_with(Vec::new).insert(0, id);
            op.operation_id = op.operation_id.take().map(|o| format!("user_{o}"));
            op.description = Some(format!(
                "{} For a user of the organisation (an administrator).",
                op.description.as_deref().unwrap_or_default()
            ));
            op.responses.responses.extend(refusals.clone());
        };
        let mirrored = crate::routes::seals::MIRRORED
            .iter()
            .chain(crate::routes::certificates::MIRRORED)
            .chain(crate::routes::pins::MIRRORED);
        for path in mirrored {
            let Some(mut item) = openapi.paths.paths.get(*path).cloned() else {
                continue;
            };
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                mirror(op);
            }
            let user_path = path.replacen("/api/me/", "/api/users/{id}/", 1);
            openapi.paths.paths.insert(user_path, item);
        }
    }
}

async fn openapi() -> Response {
    match ApiDoc::openapi().to_json() {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => HttpFailure(Failure::Internal(e.into())).into_response(),
    }
}

/// A user as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub display_name: String,
    /// One of: `["administrator"]`, `["administrator","signer"]`, `["document_manager"]`,
    /// `["document_manager","signer"]`, `["signer"]`, `["transaction_agent"]`, `["operator"]`.
    pub roles: Vec<String>,
    pub active: bool,
    /// True until the user has replaced the temporary password.
    pub must_change_password: bool,
    /// `ja` or `en`.
    pub language: String,
    /// Unix seconds.
    pub created_at: i64,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.clone(),
            email: u.email.clone(),
            display_name: u.display_name.clone(),
            roles: u.roles.names().into_iter().map(str::to_owned).collect(),
            active: u.active,
            must_change_password: u.must_change_password,
            language: u.language.as_str().to_owned(),
            created_at: u.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub user: UserView,
    /// Send as `X-CSRF-Token` on POST, PATCH and DELETE.
    pub csrf_token: String,
}

impl From<&Session> for SessionView {
    fn from(s: &Session) -> Self {
        Self {
            user: UserView::from(&s.user),
            csrf_token: s.csrf_token.clone(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub password: String,
}

/// Log in; sets the session cookie.
#[utoipa::path(post, path = "/api/session", tag = "session", request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = SessionView),
        (status = 400, description = "Missing fields or malformed body", body = ApiError),
        (status = 401, description = "Wrong email or password", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
        (status = 429, description = "Too many failed logins: locked for 15 minutes", body = ApiError),
    ))]
async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, HttpFailure> {
    let done = auth::login(
        &state.db,
        state.clock.now(),
        &req.email,
        &req.password,
        &client,
    )
    .await?;
    let cookie = set_cookie(
        &state,
        SESSION_COOKIE,
        done.token.expose(),
        Some(SESSION_SECONDS),
    );
    Ok((
        AppendHeaders([(header::SET_COOKIE, cookie)]),
        Json(SessionView::from(&done.session)),
    )
        .into_response())
}

/// Log out: ends the session.
#[utoipa::path(delete, path = "/api/session", tag = "session",
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "CSRF token missing or wrong", body = ApiError),
    ))]
async fn logout(
    State(state): State<AppState>,
    ApiSessionPending(session): ApiSessionPending,
) -> Result<Response, HttpFailure> {
    auth::logout(&state.db, state.clock.now(), &session).await?;
    let cookie = set_cookie(&state, SESSION_COOKIE, "", Some(0));
    Ok((
        StatusCode::NO_CONTENT,
        AppendHeaders([(header::SET_COOKIE, cookie)]),
    )
        .into_response())
}

/// The logged-in user and the session's CSRF token (also while the first-login password
/// change is pending).
#[utoipa::path(get, path = "/api/me", tag = "session",
    security(("session" = [])),
    responses(
        (status = 200, description = "The caller", body = SessionView),
        (status = 401, description = "Not logged in", body = ApiError),
    ))]
async fn me(ApiSessionPending(session): ApiSessionPending) -> Json<SessionView> {
    Json(SessionView::from(&session))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ProfileChange {
    pub display_name: Option<String>,
    /// `ja` or `en`.
    pub language: Option<String>,
}

/// Change one's own name or language.
#[utoipa::path(patch, path = "/api/me", tag = "session", request_body = ProfileChange,
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "Changed", body = UserView),
        (status = 400, description = "Invalid values", body = ApiError),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "CSRF token wrong, or the password must be changed first", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
    ))]
async fn update_me(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    ApiJson(req): ApiJson<ProfileChange>,
) -> Result<Json<UserView>, HttpFailure> {
    require(session.user.roles, Action::OwnProfile)?;
    let user = accounts::update_profile(
        &state.db,
        &session.user,
        req.display_name.as_deref(),
        req.language.as_deref(),
    )
    .await?;
    Ok(Json(UserView::from(&user)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordChange {
    #[serde(default)]
    pub current_password: String,
    #[serde(default)]
    pub new_password: String,
    #[serde(default)]
    pub new_password_confirmation: String,
}

/// Change one's own password (at the first login, from the temporary one). Other sessions of
/// the user end.
#[utoipa::path(post, path = "/api/me/password", tag = "session", request_body = PasswordChange,
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "Wrong current password, weak or mismatched new password", body = ApiError),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "CSRF token missing or wrong", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
    ))]
async fn change_password(
    State(state): State<AppState>,
    ApiSessionPending(session): ApiSessionPending,
    ApiJson(req): ApiJson<PasswordChange>,
) -> Result<StatusCode, HttpFailure> {
    auth::change_password(
        &state.db,
        state.clock.now(),
        &session,
        &req.current_password,
        &req.new_password,
        &req.new_password_confirmation,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetRequest {
    #[serde(default)]
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    pub message: String,
}

/// Ask for a password reset link by email. The answer is the same whether or not the address
/// is registered.
#[utoipa::path(post, path = "/api/password-reset", tag = "session", request_body = ResetRequest,
    responses(
        (status = 202, description = "If the address is registered, a link was sent", body = Accepted),
        (status = 400, description = "Missing or malformed address", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
    ))]
async fn request_reset(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(req): ApiJson<ResetRequest>,
) -> Result<(StatusCode, Json<Accepted>), HttpFailure> {
    auth::request_reset(
        &state.db,
        state.clock.now(),
        &req.email,
        &state.config.base_url(),
        &client,
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            message: domain::i18n::t(domain::i18n::Lang::En, "reset.sent").to_owned(),
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewPassword {
    #[serde(default)]
    pub new_password: String,
    #[serde(default)]
    pub new_password_confirmation: String,
}

/// Set a new password with the emailed one-time link's token. Every session of the user ends.
#[utoipa::path(post, path = "/api/password-reset/{token}", tag = "session", request_body = NewPassword,
    params(("token" = String, Path, description = "The token from the emailed link")),
    responses(
        (status = 204, description = "Password set"),
        (status = 400, description = "Invalid or expired link, weak or mismatched password", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
    ))]
async fn reset_password(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ApiJson(req): ApiJson<NewPassword>,
) -> Result<StatusCode, HttpFailure> {
    auth::reset_password(
        &state.db,
        state.clock.now(),
        &token,
        &req.new_password,
        &req.new_password_confirmation,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The organisation's users.
#[utoipa::path(get, path = "/api/users", tag = "users",
    security(("session" = [])),
    responses(
        (status = 200, description = "Every user of the caller's organisation", body = Vec<UserView>),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "Not an administrator", body = ApiError),
    ))]
async fn list_users(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
) -> Result<Json<Vec<UserView>>, HttpFailure> {
    require(session.user.roles, Action::ManageUsers)?;
    let users = accounts::list_users(&state.db, &session.user.org_id).await?;
    Ok(Json(users.iter().map(UserView::from).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewUserRequest {
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    pub display_name: String,
    #[serde(default)]
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// A valid combination, e.g. `["document_manager", "signer"]`.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 2)]
    pub roles: Vec<String>,
    /// A temporary password chosen by the administrator (8+ characters with letters and
    /// digits); omitted, one is generated. Either way it is emailed and must be changed at the
    /// first login.
    pub password: Option<String>,
    pub password_confirmation: Option<String>,
}

/// Create a user of the caller's organisation; the user is emailed 「アカウント発行のお知らせ」
/// with the login URL and the temporary password.
#[utoipa::path(post, path = "/api/users", tag = "users", request_body = NewUserRequest,
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 201, description = "Created", body = UserView),
        (status = 400, description = "Missing or invalid fields", body = ApiError),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "Not an administrator, or CSRF token wrong", body = ApiError),
        (status = 409, description = "The email address is already registered", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
    ))]
async fn create_user(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    ApiJson(req): ApiJson<NewUserRequest>,
) -> Result<(StatusCode, Json<UserView>), HttpFailure> {
    require(session.user.roles, Action::ManageUsers)?;
    let account = NewAccount::parse(
        &req.display_name,
        &req.email,
        &req.roles,
        req.password.as_deref(),
        req.password_confirmation.as_deref(),
    )?;
    let created = accounts::create_user(
        &state.db,
        state.clock.now(),
        &session.user,
        &account,
        &state.login_url(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(UserView::from(&created.user))))
}

/// One user (an administrator's 詳細 view, or oneself).
#[utoipa::path(get, path = "/api/users/{id}", tag = "users",
    security(("session" = [])),
    params(("id" = String, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "Not an administrator", body = ApiError),
        (status = 404, description = "No such user in the caller's organisation", body = ApiError),
    ))]
async fn get_user(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
) -> Result<Json<UserView>, HttpFailure> {
    if id != session.user.id {
        require(session.user.roles, Action::ManageUsers)?;
    }
    let user = accounts::get_user(&state.db, &session.user.org_id, &id).await?;
    Ok(Json(UserView::from(&user)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UserPatch {
    pub display_name: Option<String>,
    pub roles: Option<Vec<String>>,
    /// false deactivates (the user's sessions end), true reactivates.
    pub active: Option<bool>,
}

/// Change a user's name, roles or active state. An administrator cannot remove their own
/// administrator role or deactivate themselves.
#[utoipa::path(patch, path = "/api/users/{id}", tag = "users", request_body = UserPatch,
    security(("session" = [], "csrf" = [])),
    params(("id" = String, Path, description = "The user's id")),
    responses(
        (status = 200, description = "Changed", body = UserView),
        (status = 400, description = "Invalid values", body = ApiError),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "Not an administrator, or CSRF token wrong", body = ApiError),
        (status = 404, description = "No such user in the caller's organisation", body = ApiError),
        (status = 409, description = "An administrator cannot demote or deactivate themselves", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
    ))]
async fn update_user(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UserPatch>,
) -> Result<Json<UserView>, HttpFailure> {
    require(session.user.roles, Action::ManageUsers)?;
    let change = UserChange {
        display_name: req.display_name,
        roles: req.roles,
        active: req.active,
    };
    let user =
        accounts::update_user(&state.db, state.clock.now(), &session.user, &id, &change).await?;
    Ok(Json(UserView::from(&user)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganisationView {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub users: i64,
}

/// Every organisation (the instance operator).
#[utoipa::path(get, path = "/api/organisations", tag = "organisations",
    security(("session" = [])),
    responses(
        (status = 200, description = "The organisations", body = Vec<OrganisationView>),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "Not the instance operator", body = ApiError),
    ))]
async fn list_organisations(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
) -> Result<Json<Vec<OrganisationView>>, HttpFailure> {
    require(session.user.roles, Action::ManageOrganisations)?;
    let orgs = accounts::list_organisations(&state.db).await?;
    Ok(Json(
        orgs.into_iter()
            .map(|o| OrganisationView {
                id: o.id,
                name: o.name,
                created_at: o.created_at,
                users: o.users,
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewOrganisation {
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[serde(default)]
    #[schema(format = Email, max_length = 254)]
    pub admin_email: String,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    pub admin_name: String,
}

/// Create an organisation with its first administrator, who is emailed the account notice.
#[utoipa::path(post, path = "/api/organisations", tag = "organisations", request_body = NewOrganisation,
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 201, description = "Created", body = OrganisationView),
        (status = 400, description = "Missing or invalid fields", body = ApiError),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "Not the instance operator, or CSRF token wrong", body = ApiError),
        (status = 409, description = "The name or the email address is taken", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
    ))]
async fn create_organisation(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    ApiJson(req): ApiJson<NewOrganisation>,
) -> Result<(StatusCode, Json<OrganisationView>), HttpFailure> {
    require(session.user.roles, Action::ManageOrganisations)?;
    let (org, admin) = parse_new_organisation(&req.name, &req.admin_name, &req.admin_email)?;
    let now = state.clock.now();
    let created = accounts::create_organisation(
        &state.db,
        now,
        &session.user,
        &org,
        &admin,
        &state.login_url(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(OrganisationView {
            id: created.org_id,
            name: org.as_str().to_owned(),
            created_at: now,
            users: 1,
        }),
    ))
}

/// Checks an operator's new-organisation request, reporting every problem at once.
pub fn parse_new_organisation(
    name: &str,
    admin_name: &str,
    admin_email: &str,
) -> Result<(OrgName, NewAccount), Failure> {
    let org = if name.trim().is_empty() {
        Err(domain::error::FieldError::new("name", "error.required"))
    } else {
        OrgName::parse(name)
            .map_err(|_| domain::error::FieldError::new("name", "error.org_name_invalid"))
    };
    let admin = NewAccount::parse(
        admin_name,
        admin_email,
        &["administrator".to_owned()],
        None,
        None,
    );
    match (org, admin) {
        (Ok(org), Ok(admin)) => Ok((org, admin)),
        (org, admin) => {
            let mut fields = Vec::new();
            if let Err(e) = org {
                fields.push(e);
            }
            if let Err(Failure::Invalid(errs)) = admin {
                fields.extend(errs.into_iter().map(|e| match e.field {
                    "display_name" => domain::error::FieldError::new("admin_name", e.key),
                    "email" => domain::error::FieldError::new("admin_email", e.key),
                    _ => e,
                }));
            }
            Err(Failure::Invalid(fields))
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// At most this many of the newest entries (default 200, at most 1000).
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    /// Whether the whole log's hash chain is intact.
    pub chain_intact: bool,
    pub entries: Vec<AuditEntryView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    pub seq: i64,
    pub at: i64,
    pub actor: Option<String>,
    pub action: String,
    pub detail: serde_json::Value,
    pub hash: String,
}

/// The organisation's audit log, newest first, and whether the chain is intact.
#[utoipa::path(get, path = "/api/audit", tag = "audit",
    security(("session" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "The entries", body = AuditView),
        (status = 400, description = "Bad query", body = ApiError),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "Not an administrator", body = ApiError),
    ))]
async fn audit_log(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AuditView>, HttpFailure> {
    require(session.user.roles, Action::ManageUsers)?;
    let Query(query) = query.map_err(|e| Failure::BadQuery(e.body_text()))?;
    let limit = query.limit.unwrap_or(200).clamp(1, 1000);
    let entries = audit::for_organisation(&state.db, &session.user.org_id, limit.into()).await?;
    let chain_intact = audit::verify_recent(&state.db, state.clock.now())
        .await?
        .is_ok();
    Ok(Json(AuditView {
        chain_intact,
        entries: entries
            .into_iter()
            .map(|e| AuditEntryView {
                seq: e.seq,
                at: e.at,
                actor: e.actor,
                action: e.action,
                detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null),
                hash: e.hash,
            })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every documented parameter is where the router takes it: each `{…}` of a path is a
    /// required path parameter and no path parameter is anything else (a query option
    /// documented as a path parameter once slipped through schemathesis); a raw body (a PDF, a
    /// PNG) is one binary string, not an array of numbers.
    #[test]
    fn documented_parameters_and_bodies_are_where_the_router_takes_them() {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("the document as JSON");
        let paths = doc["paths"].as_object().expect("paths");
        assert!(paths.len() > 50, "{}", paths.len());
        for (path, item) in paths {
            let holes: BTreeSet<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            for (method, op) in item.as_object().expect("operations") {
                let params = op["parameters"].as_array().cloned().unwrap_or_default();
                let in_path: BTreeSet<&str> = params
                    .iter()
                    .filter(|p| p["in"] == "path")
                    .map(|p| p["name"].as_str().expect("name"))
                    .collect();
                assert_eq!(in_path, holes, "{method} {path}: path parameters");
                for p in params.iter().filter(|p| p["in"] == "path") {
                    assert_eq!(p["required"], true, "{method} {path}: {p}");
                }
                let bodies = op["requestBody"]["content"].as_object().into_iter().chain(
                    op["responses"].as_object().into_iter().flat_map(|r| {
                        r.values()
                            .filter_map(|answer| answer["content"].as_object())
                    }),
                );
                for content in bodies {
                    for (kind, media) in content {
                        if kind.contains("json")
                            || kind.starts_with("text/")
                            || kind.starts_with("multipart/")
                        {
                            continue;
                        }
                        let schema = &media["schema"];
                        let schema = match schema["$ref"].as_str() {
                            Some(r) => {
                                &doc["components"]["schemas"]
                                    [r.trim_start_matches("#/components/schemas/")]
                            }
                            None => schema,
                        };
                        assert_eq!(
                            (&schema["type"], &schema["format"]),
                            (&serde_json::json!("string"), &serde_json::json!("binary")),
                            "{method} {path}: {kind} is {schema}"
                        );
                    }
                }
            }
        }
        // The one that was wrong: its options are optional query parameters.
        let sign = &paths["/api/me/sign"]["post"]["parameters"];
        for name in ["level", "visible", "reason", "seal"] {
            let p = sign
                .as_array()
                .and_then(|ps| ps.iter().find(|p| p["name"] == name))
                .unwrap_or_else(|| panic!("{name} in {sign}"));
            assert_eq!(
                (&p["in"], &p["required"]),
                (&serde_json::json!("query"), &serde_json::json!(false)),
                "{p}"
            );
        }
    }
}
