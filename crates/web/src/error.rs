//! Domain failures as HTTP answers, in one place: [`HttpFailure`] wraps a [`Failure`] so handlers
//! can return it; the JSON API renders it as
//! `{"error": CODE, "message": TEXT, "fields": {FIELD: {"code", "message"}}}` with a 4xx/5xx
//! status (the pages render the same messages through their own templates).

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::error::Failure;
use domain::i18n::{self, Lang};
use serde::Serialize;
use utoipa::openapi::RefOr;

/// A domain failure on its way to becoming an HTTP answer.
#[derive(Debug)]
pub struct HttpFailure(pub Failure);

impl From<Failure> for HttpFailure {
    fn from(f: Failure) -> Self {
        Self(f)
    }
}

impl From<sqlx::Error> for HttpFailure {
    fn from(e: sqlx::Error) -> Self {
        Self(e.into())
    }
}

impl From<anyhow::Error> for HttpFailure {
    fn from(e: anyhow::Error) -> Self {
        Self(e.into())
    }
}

/// The HTTP status of a failure (the pages answer with it too).
pub trait HttpStatus {
    fn status(&self) -> StatusCode;
}

impl HttpStatus for Failure {
    fn status(&self) -> StatusCode {
        status(self)
    }
}

fn status(failure: &Failure) -> StatusCode {
    match failure {
        Failure::Invalid(_)
        | Failure::BadRequest(_)
        | Failure::Malformed(_)
        | Failure::BadQuery(_)
        | Failure::BadUpload(_)
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
        Failure::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        Failure::Locked => StatusCode::TOO_MANY_REQUESTS,
        Failure::PinLocked(_) => StatusCode::LOCKED,
        Failure::Upstream { .. } => StatusCode::BAD_GATEWAY,
        Failure::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
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

/// A failure's general message in `lang`, with the limit a body went over.
pub fn failure_text(lang: Lang, f: &Failure) -> String {
    let text = i18n::t(lang, f.key());
    match f {
        Failure::TooLarge(limit) => format!("{text}{}", i18n::at_most(lang, *limit)),
        _ => text.to_owned(),
    }
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
        let mut message = failure_text(Lang::En, f);
        if let Failure::PinLocked(until) = f {
            message = format!("{message}: until {} (JST)", domain::clock::jst(*until));
        }
        if let Failure::Malformed(detail)
        | Failure::BadQuery(detail)
        | Failure::BadUpload(detail)
        | Failure::UnreadablePdf(detail)
        | Failure::Upstream { detail, .. } = f
        {
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
#[derive(Debug)]
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
#[derive(Debug)]
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

impl IntoResponse for HttpFailure {
    fn into_response(self) -> Response {
        let failure = self.0;
        failure.log();
        let mut response =
            (status(&failure), Json(ApiError::from_failure(&failure))).into_response();
        if matches!(failure, Failure::Locked) {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("900"),
            );
        }
        response
    }
}

/// 401, 403 and 404 for the sender's changes to a contract (`/api/contracts/{contract}/…`).
#[derive(Debug)]
pub struct AsSender;

impl utoipa::IntoResponses for AsSender {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        refusals(&[
            NOT_LOGGED_IN,
            (
                "403",
                "Not a document manager, not the sender, or CSRF token wrong",
            ),
            (
                "404",
                "No such contract the caller may see, or no such item of it",
            ),
        ])
    }
}

/// 401, 403 and 404 for reading a contract (its sender, or an administrator of its
/// organisation).
#[derive(Debug)]
pub struct AsReader;

impl utoipa::IntoResponses for AsReader {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        refusals(&[
            NOT_LOGGED_IN,
            ("403", "The password must be changed first"),
            (
                "404",
                "No such contract the caller may see, or no such item of it",
            ),
        ])
    }
}
