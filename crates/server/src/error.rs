//! What can go wrong in a request, independent of how it is shown: [`Failure`] is returned by the
//! domain functions and the handlers; the JSON API renders it as
//! `{"error": CODE, "message": TEXT, "fields": {FIELD: {"code", "message"}}}` with a 4xx/5xx
//! status, and the web pages show the same messages next to the fields, in the user's language.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::openapi::RefOr;

use crate::i18n::{self, Lang};

/// One field's problem: the form field's name and the message key (see [`crate::i18n`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub key: &'static str,
}

impl FieldError {
    pub fn new(field: &'static str, key: &'static str) -> Self {
        Self { field, key }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// 400: some fields are missing or wrong; nothing was stored.
    #[error("invalid input: {0:?}")]
    Invalid(Vec<FieldError>),
    /// 400: the request itself is malformed (the key says how).
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// 400: the body could not be read (the text says why).
    #[error("malformed body: {0}")]
    Malformed(String),
    /// 400: an uploaded PDF cannot be signed (the text says why).
    #[error("unreadable PDF: {0}")]
    UnreadablePdf(String),
    /// 400, or 413 when the file is too large: an uploaded image was refused. `field` names the
    /// form field and the message key; `detail` is the precise English reason for the API.
    #[error("image refused: {detail}")]
    Image {
        field: FieldError,
        detail: String,
        too_large: bool,
    },
    /// 401: no valid session.
    #[error("not logged in")]
    Unauthenticated,
    /// 403: the session must set a new password first.
    #[error("a new password must be set first")]
    PasswordChangeRequired,
    /// 403: the CSRF token is missing or wrong.
    #[error("CSRF token missing or wrong")]
    Csrf,
    /// 403: the role does not allow it.
    #[error("forbidden")]
    Forbidden,
    /// 404: no such thing in the caller's organisation (also for other organisations' things).
    #[error("not found")]
    NotFound,
    /// 409: conflicts with what is stored (a duplicate email, say).
    #[error("conflict: {0:?}")]
    Conflict(Vec<FieldError>),
    /// 413
    #[error("body too large")]
    TooLarge,
    /// 429: login locked after repeated failures.
    #[error("locked")]
    Locked,
    /// 423: signing locked after repeated wrong PINs, until then (Unix seconds).
    #[error("signing locked until {0}")]
    PinLocked(i64),
    /// 500: logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::Internal(e.into())
    }
}

impl Failure {
    pub fn invalid(field: &'static str, key: &'static str) -> Self {
        Failure::Invalid(vec![FieldError::new(field, key)])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Failure::Invalid(_)
            | Failure::BadRequest(_)
            | Failure::Malformed(_)
            | Failure::UnreadablePdf(_) => StatusCode::BAD_REQUEST,
            Failure::Image { too_large, .. } => {
                if *too_large {
                    StatusCode::PAYLOAD_TOO_LARGE
                } else {
                    StatusCode::BAD_REQUEST
                }
            }
            Failure::Unauthenticated => StatusCode::UNAUTHORIZED,
            Failure::PasswordChangeRequired | Failure::Csrf | Failure::Forbidden => {
                StatusCode::FORBIDDEN
            }
            Failure::NotFound => StatusCode::NOT_FOUND,
            Failure::Conflict(_) => StatusCode::CONFLICT,
            Failure::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Failure::Locked => StatusCode::TOO_MANY_REQUESTS,
            Failure::PinLocked(_) => StatusCode::LOCKED,
            Failure::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message key of the whole failure.
    pub fn key(&self) -> &'static str {
        match self {
            Failure::Invalid(_) => "error.validation",
            Failure::BadRequest(key) => key,
            Failure::Malformed(_) => "error.json",
            Failure::UnreadablePdf(_) => "error.pdf",
            Failure::Image { field, .. } => field.key,
            Failure::Unauthenticated => "error.unauthenticated",
            Failure::PasswordChangeRequired => "error.password_change_required",
            Failure::Csrf => "error.csrf",
            Failure::Forbidden => "error.forbidden",
            Failure::NotFound => "error.not_found",
            Failure::Conflict(fields) => fields.first().map_or("error.validation", |f| f.key),
            Failure::TooLarge => "error.body_too_large",
            Failure::Locked => "error.locked",
            Failure::PinLocked(_) => "error.pin_locked",
            Failure::Internal(_) => "error.internal",
        }
    }

    /// The field errors, if any.
    pub fn fields(&self) -> &[FieldError] {
        match self {
            Failure::Invalid(f) | Failure::Conflict(f) => f,
            Failure::Image { field, .. } => std::slice::from_ref(field),
            _ => &[],
        }
    }

    /// The machine-readable code: the message key without its `error.` prefix.
    pub fn code(&self) -> &'static str {
        let key = self.key();
        key.strip_prefix("error.").unwrap_or(key)
    }

    /// Logs a server-side failure (once, where it is turned into a response).
    pub fn log(&self) {
        if let Failure::Internal(e) = self {
            tracing::error!(error = format!("{e:#}"), "request failed");
        }
    }
}

/// The JSON body of an error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiError {
    /// A stable code, e.g. `validation`, `unauthenticated`, `email_taken`.
    pub error: String,
    /// The English message.
    pub message: String,
    /// Per-field problems (for `validation` and conflicts).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    #[schema(value_type = Option<std::collections::BTreeMap<String, FieldProblem>>)]
    pub fields: std::collections::BTreeMap<String, FieldProblem>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FieldProblem {
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn from_failure(f: &Failure) -> Self {
        let mut fields: std::collections::BTreeMap<String, FieldProblem> = f
            .fields()
            .iter()
            .map(|fe| {
                (
                    fe.field.to_owned(),
                    FieldProblem {
                        code: fe.key.strip_prefix("error.").unwrap_or(fe.key).to_owned(),
                        message: i18n::t(Lang::En, fe.key).to_owned(),
                    },
                )
            })
            .collect();
        let mut message = i18n::t(Lang::En, f.key()).to_owned();
        if let Failure::PinLocked(until) = f {
            message = format!("{message}: until {} (JST)", crate::web::jst(*until));
        }
        if let Failure::Malformed(detail) | Failure::UnreadablePdf(detail) = f {
            message = format!("{message}: {detail}");
        }
        if let Failure::Image { field, detail, .. } = f {
            // The precise reason (sizes, the decoder's words) rather than the general text.
            message = capitalised(detail);
            if let Some(problem) = fields.get_mut(field.field) {
                problem.message.clone_from(&message);
            }
        }
        Self {
            error: f.code().to_owned(),
            message,
            fields,
        }
    }
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        self.log();
        let mut response = (self.status(), Json(ApiError::from_failure(&self))).into_response();
        if matches!(self, Failure::Locked) {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("900"),
            );
        }
        response
    }
}

/// Maps a unique-constraint violation to `conflict`, anything else to an internal failure.
pub fn unique_violation(e: sqlx::Error, conflict: FieldError) -> Failure {
    let is_unique = e
        .as_database_error()
        .is_some_and(|d| d.kind() == sqlx::error::ErrorKind::UniqueViolation);
    if is_unique {
        Failure::Conflict(vec![conflict])
    } else {
        Failure::Internal(e.into())
    }
}

/// The refusals an API endpoint documents for callers who may not use it, by audience, so each
/// endpoint's OpenAPI entry lists only its own answers besides (`responses(..., AsSigner)`).
fn refusals(entries: &[(&str, &str)]) -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    entries
        .iter()
        .map(|(status, description)| {
            let content = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ApiError")))
                .build();
            let response = ResponseBuilder::new()
                .description(*description)
                .content("application/json", content)
                .build();
            ((*status).to_owned(), RefOr::T(response))
        })
        .collect()
}

const NOT_LOGGED_IN: (&str, &str) = ("401", "Not logged in");

/// 401 and 403 for endpoints of signers (their own seals, PIN, certificate).
pub struct AsSigner;

impl utoipa::IntoResponses for AsSigner {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        refusals(&[
            NOT_LOGGED_IN,
            (
                "403",
                "Not a signer, or CSRF token wrong (state-changing requests)",
            ),
        ])
    }
}

/// 401, 403 and 404 for an administrator acting for a user of the organisation
/// (`/api/users/{id}/…`).
pub struct ForUser;

impl utoipa::IntoResponses for ForUser {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        refusals(&[
            NOT_LOGGED_IN,
            (
                "403",
                "Not an administrator, the user may not hold what is asked for, or CSRF token \
                 wrong (state-changing requests)",
            ),
            (
                "404",
                "No such user in the caller's organisation, or no such item of theirs",
            ),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_key_is_translated() {
        let failures = [
            Failure::Invalid(vec![]),
            Failure::BadRequest("error.json"),
            Failure::Unauthenticated,
            Failure::PasswordChangeRequired,
            Failure::Csrf,
            Failure::Forbidden,
            Failure::NotFound,
            Failure::TooLarge,
            Failure::Locked,
            Failure::PinLocked(0),
            Failure::Internal(anyhow::anyhow!("x")),
        ];
        for f in failures {
            assert!(i18n::known(f.key()), "{}", f.key());
        }
    }
}
