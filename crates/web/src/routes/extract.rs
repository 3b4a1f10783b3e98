//! Request extractors shared by the routes: the session (for the JSON API with its CSRF header,
//! and for pages with redirects to the login), the client's address, the UI language, and a JSON
//! body whose rejections become clear 4xx messages.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{
    ConnectInfo, FromRequest, FromRequestParts, Multipart, RawPathParams, Request,
};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::app::AppState;
use crate::error::HttpFailure;
use crate::error::HttpStatus as _;
use crate::routes::pages::error_page;
use domain::acting::{Acting, Whom};
use domain::auth::{self, Client, Session, SESSION_COOKIE};
use domain::error::Failure;
use domain::i18n::Lang;

pub const LANG_COOKIE: &str = "inkan_lang";
/// The pre-login CSRF cookie (double submit) of the login and password-reset forms.
pub const FORM_COOKIE: &str = "inkan_form";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The value of cookie `name`.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure when the service is reached
/// over TLS.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age: Option<i64>) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if state.config.base_url().starts_with("https://") {
        c.push_str("; Secure");
    }
    c
}

/// Constant-time comparison of two tokens.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The client's address: the TCP peer, or behind a trusted reverse proxy the address the
/// proxy forwarded (see [`domain::config::client_address`]).
#[derive(Debug, Clone)]
pub struct ClientAddr(pub Client);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(peer) = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
        else {
            return Ok(ClientAddr(Client {
                address: "unknown".to_owned(),
            }));
        };
        let values = |name: header::HeaderName| -> Vec<&str> {
            parts
                .headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect()
        };
        let address = domain::config::client_address(
            peer,
            &state.config.trusted_proxies,
            &values(header::FORWARDED),
            &values(header::HeaderName::from_static("x-forwarded-for")),
        );
        Ok(ClientAddr(Client {
            address: address.to_string(),
        }))
    }
}

/// Where a request came from, for a contract's history: the client's address and user agent.
#[derive(Debug, Clone)]
pub struct RequestVia(pub domain::contracts::Via);

impl FromRequestParts<AppState> for RequestVia {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ClientAddr(client) = ClientAddr::from_request_parts(parts, state).await?;
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(500).collect());
        Ok(RequestVia(domain::contracts::Via {
            address: Some(client.address),
            user_agent,
        }))
    }
}

/// The outside party's session header, and its cookie.
pub const PARTY_HEADER: &str = "x-inkan-party";
pub const PARTY_COOKIE: &str = "inkan_party";

/// Who opened a party's link: the logged-in user (their session counts on a state-changing
/// request only with its CSRF header) and an outside party's session (the `x-inkan-party`
/// header or the `inkan_party` cookie).
#[derive(Debug, Clone)]
pub struct PartyVisitor(pub domain::contracts::flow::Visitor);

impl FromRequestParts<AppState> for PartyVisitor {
    type Rejection = HttpFailure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpFailure> {
        let user = session_of(parts, state)
            .await?
            .filter(|s| csrf_ok(parts, s) && !s.user.must_change_password)
            .map(|s| s.user);
        let session = parts
            .headers
            .get(PARTY_HEADER)
            .and_then(|v| v.to_str().ok())
            .or_else(|| cookie(&parts.headers, PARTY_COOKIE))
            .map(str::to_owned);
        Ok(PartyVisitor(domain::contracts::flow::Visitor {
            user,
            session,
        }))
    }
}

/// The session the request's cookie names, if any.
pub(crate) async fn session_of(
    parts: &Parts,
    state: &AppState,
) -> Result<Option<Session>, Failure> {
    match cookie(&parts.headers, SESSION_COOKIE) {
        Some(token) => auth::session(&state.db, state.clock.now(), token).await,
        None => Ok(None),
    }
}

fn csrf_ok(parts: &Parts, session: &Session) -> bool {
    matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS)
        || parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| same_token(v, &session.csrf_token))
}

/// A JSON API request's session, with the CSRF header checked on state-changing methods and the
/// first-login password change done.
#[derive(Debug)]
pub struct ApiSession(pub Session);

impl FromRequestParts<AppState> for ApiSession {
    type Rejection = HttpFailure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpFailure> {
        let session = ApiSessionPending::from_request_parts(parts, state).await?.0;
        if session.user.must_change_password {
            return Err(Failure::PasswordChangeRequired.into());
        }
        Ok(ApiSession(session))
    }
}

/// Whom a JSON API request acts for: the caller under `/api/me/…`, the user `{id}` under
/// `/api/users/{id}/…` (one handler serves both paths; [`Acting::resolve`] checks that the
/// caller manages that user). The handler then applies its resource's rule with
/// [`Acting::admit`].
#[derive(Debug)]
pub struct ApiActing(pub Acting);

impl FromRequestParts<AppState> for ApiActing {
    type Rejection = HttpFailure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpFailure> {
        let ApiSession(session) = ApiSession::from_request_parts(parts, state).await?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| Failure::BadQuery(e.body_text()))?;
        let id = params
            .iter()
            .find(|(name, _)| *name == "id")
            .map(|(_, id)| id.to_owned());
        let whom = match &id {
            Some(id) => Whom::User(id),
            None => Whom::Caller,
        };
        Ok(ApiActing(
            Acting::resolve(&state.db, session.user, whom).await?,
        ))
    }
}

/// Like [`ApiSession`], but also while the first-login password change is pending (for the
/// password change itself, logout and `GET /api/me`).
#[derive(Debug)]
pub struct ApiSessionPending(pub Session);

impl FromRequestParts<AppState> for ApiSessionPending {
    type Rejection = HttpFailure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpFailure> {
        let session = session_of(parts, state)
            .await?
            .ok_or(Failure::Unauthenticated)?;
        if !csrf_ok(parts, &session) {
            return Err(Failure::Csrf.into());
        }
        Ok(ApiSessionPending(session))
    }
}

/// A page request's session and the language to answer in ([`page_lang`]): without a session,
/// a redirect to the login; with the first-login password change pending, a redirect to it.
/// (A form's CSRF field is checked by [`CsrfForm`].)
#[derive(Debug)]
pub struct PageSession(pub Session, pub Lang);

/// Where a page request without a usable session goes.
#[derive(Debug)]
pub enum PageRejection {
    Login,
    ChangePassword,
    Failed(Failure),
}

impl IntoResponse for PageRejection {
    fn into_response(self) -> Response {
        match self {
            PageRejection::Login => Redirect::to("/login").into_response(),
            PageRejection::ChangePassword => Redirect::to("/password").into_response(),
            PageRejection::Failed(f) => {
                f.log();
                (f.status(), "Internal server error").into_response()
            }
        }
    }
}

impl FromRequestParts<AppState> for PageSession {
    type Rejection = PageRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = PageSessionPending::from_request_parts(parts, state)
            .await?
            .0;
        if session.user.must_change_password {
            return Err(PageRejection::ChangePassword);
        }
        let lang = page_lang(&parts.headers, Some(&session));
        Ok(PageSession(session, lang))
    }
}

/// Like [`PageSession`], also while the first-login password change is pending.
#[derive(Debug)]
pub struct PageSessionPending(pub Session);

impl FromRequestParts<AppState> for PageSessionPending {
    type Rejection = PageRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match session_of(parts, state).await {
            Ok(Some(s)) => {
                // For [`CsrfForm`], which checks the form's token against it.
                parts.extensions.insert(s.clone());
                Ok(PageSessionPending(s))
            }
            Ok(None) => Err(PageRejection::Login),
            Err(f) => Err(PageRejection::Failed(f)),
        }
    }
}

/// The page language: the logged-in user's setting (the one truth the profile, the header's
/// switch and their mails share), else the language cookie a visitor chose, else Japanese.
pub fn page_lang(headers: &HeaderMap, session: Option<&Session>) -> Lang {
    session
        .map(|s| s.user.language)
        .or_else(|| cookie(headers, LANG_COOKIE).and_then(Lang::parse))
        .unwrap_or_default()
}

/// A JSON body; a missing content type, malformed JSON, wrong field types and oversized bodies
/// become 4xx answers that say so.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = HttpFailure;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, HttpFailure> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_failure(&rejection).into()),
        }
    }
}

fn json_failure(rejection: &JsonRejection) -> Failure {
    match rejection {
        _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Failure::TooLarge(crate::app::BODY_LIMIT as u64)
        }
        JsonRejection::MissingJsonContentType(_) => Failure::BadRequest("error.json_content_type"),
        JsonRejection::JsonDataError(e) => Failure::Malformed(e.body_text()),
        JsonRejection::JsonSyntaxError(e) => Failure::Malformed(e.body_text()),
        other => Failure::Malformed(other.body_text()),
    }
}

/// The session a logged-in form is checked against ([`PageSession`] left it in the request) and
/// the language of its error page.
async fn form_session(parts: &mut Parts, state: &AppState) -> Result<(Session, Lang), Response> {
    let session = match parts.extensions.get::<Session>().cloned() {
        Some(session) => session,
        None => {
            PageSession::from_request_parts(parts, state)
                .await
                .map_err(IntoResponse::into_response)?
                .0
        }
    };
    let lang = page_lang(&parts.headers, Some(&session));
    Ok((session, lang))
}

/// The error page of a form whose token did not match.
fn csrf_refused(state: &AppState, session: &Session, lang: Lang) -> Response {
    error_page(state, Some(session), lang, &Failure::Csrf)
}

/// A logged-in page's form (`application/x-www-form-urlencoded`) whose hidden `csrf` field
/// matched the session's token: every state-changing form of a logged-in page takes one, after
/// [`PageSession`]. A wrong or missing token answers the error page (403); an unreadable form
/// a 400 (413 when too large).
#[derive(Debug)]
pub struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let (session, lang) = form_session(&mut parts, state).await?;
        let refused = |f: Failure| error_page(state, Some(&session), lang, &f);
        let bytes = form_body(Request::from_parts(parts, body), state)
            .await
            .map_err(refused)?;
        if !same_token(&csrf_field(&bytes), &session.csrf_token) {
            return Err(csrf_refused(state, &session, lang));
        }
        serde_urlencoded::from_bytes(&bytes)
            .map(CsrfForm)
            .map_err(|e| refused(Failure::BadUpload(e.to_string())))
    }
}

/// A logged-in page's upload form (`multipart/form-data`) whose first field, `csrf`, matched the
/// session's token (the forms put it first, so it is known before any file is read); the rest
/// of the form is the handler's to read. A wrong, missing or misplaced token answers the error
/// page (403); an unreadable body a 400.
#[derive(Debug)]
pub struct CsrfMultipart(pub Multipart);

impl FromRequest<AppState> for CsrfMultipart {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let (session, lang) = form_session(&mut parts, state).await?;
        let refused = |f: Failure| error_page(state, Some(&session), lang, &f);
        let mut multipart = Multipart::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|e| refused(Failure::BadUpload(e.body_text())))?;
        let token = match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("csrf") => field.text().await.ok(),
            Ok(_) => None,
            Err(e) => return Err(refused(Failure::BadUpload(e.body_text()))),
        };
        if !token.is_some_and(|t| same_token(&t, &session.csrf_token)) {
            return Err(csrf_refused(state, &session, lang));
        }
        Ok(CsrfMultipart(multipart))
    }
}

/// A pre-login form (login, password reset) whose hidden `csrf` field matched the pre-login
/// cookie (double submit, [`FORM_COOKIE`]). A stale or missing token sends the visitor back to
/// the same form, fresh, with a message: filling it again is theirs to do, not an error.
#[derive(Debug)]
pub struct PreLoginForm<T>(pub T);

/// The flash message of a form sent back for a stale token.
pub const FORM_EXPIRED: &str = "form.expired";

impl<T: DeserializeOwned> FromRequest<AppState> for PreLoginForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let expected = cookie(req.headers(), FORM_COOKIE)
            .filter(|t| t.len() == 64)
            .map(str::to_owned);
        let back = format!("{}?msg={FORM_EXPIRED}", req.uri().path());
        let lang = page_lang(req.headers(), None);
        let refused = |f: Failure| error_page(state, None, lang, &f);
        let bytes = form_body(req, state).await.map_err(refused)?;
        if !expected.is_some_and(|t| same_token(&t, &csrf_field(&bytes))) {
            return Err(Redirect::to(&back).into_response());
        }
        serde_urlencoded::from_bytes(&bytes)
            .map(PreLoginForm)
            .map_err(|e| refused(Failure::BadUpload(e.to_string())))
    }
}

/// A form's body, refused unless it is `application/x-www-form-urlencoded` and within the
/// route's limit.
async fn form_body(req: Request, state: &AppState) -> Result<Bytes, Failure> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Failure::TooLarge(crate::app::BODY_LIMIT as u64)
        } else {
            Failure::BadUpload(rejection.body_text())
        }
    })?;
    if !is_form {
        return Err(Failure::BadUpload(
            "expected application/x-www-form-urlencoded".to_owned(),
        ));
    }
    Ok(bytes)
}

/// A multipart field that could not be read: over the route's `limit` (413, naming it), or
/// broken (400).
pub fn upload_failure(e: axum::extract::multipart::MultipartError, limit: usize) -> Failure {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Failure::TooLarge(limit as u64)
    } else {
        Failure::BadUpload(e.body_text())
    }
}

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// The form's `csrf` field (empty when missing).
fn csrf_field(bytes: &[u8]) -> String {
    serde_urlencoded::from_bytes::<CsrfField>(bytes)
        .map(|f| f.csrf)
        .unwrap_or_default()
}
