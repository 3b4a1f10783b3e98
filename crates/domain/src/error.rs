//! What can go wrong in a domain call, independent of how it is shown: [`Failure`] names the case
//! and its message key (see [`crate::i18n`]); the web crate maps it to an HTTP status and body in
//! one place, and shows the same messages next to the fields, in the user's language.

#[cfg(test)]
use crate::i18n;

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
    /// 400: the JSON body could not be read (the text says why).
    #[error("malformed body: {0}")]
    Malformed(String),
    /// 400: the query string (or a path parameter) could not be read (the text says why).
    #[error("malformed query: {0}")]
    BadQuery(String),
    /// 400: an uploaded form (multipart) could not be read (the text says why).
    #[error("malformed upload: {0}")]
    BadUpload(String),
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
    TooLarge(u64),
    /// 429: login locked after repeated failures.
    #[error("locked")]
    Locked,
    /// 423: signing locked after repeated wrong PINs, until then (Unix seconds).
    #[error("signing locked until {0}")]
    PinLocked(i64),
    /// 502: a service reached over HTTP failed (an organisation's external timestamp authority,
    /// another CA's OCSP responder or CRL): `key` says which, `detail` where and why.
    #[error("{key}: {detail}")]
    Upstream { key: &'static str, detail: String },
    /// 500: logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::Internal(e.into())
    }
}

impl From<crate::storage::StorageError> for Failure {
    fn from(e: crate::storage::StorageError) -> Self {
        Failure::Internal(e.into())
    }
}

impl From<tokio::task::JoinError> for Failure {
    fn from(e: tokio::task::JoinError) -> Self {
        Failure::Internal(e.into())
    }
}

impl Failure {
    pub fn invalid(field: &'static str, key: &'static str) -> Self {
        Failure::Invalid(vec![FieldError::new(field, key)])
    }

    /// The message key of the whole failure.
    pub fn key(&self) -> &'static str {
        match self {
            Failure::Invalid(_) => "error.validation",
            Failure::BadRequest(key) => key,
            Failure::Malformed(_) => "error.json",
            Failure::BadQuery(_) => "error.query",
            Failure::BadUpload(_) => "error.upload",
            Failure::UnreadablePdf(_) => "error.pdf",
            Failure::Image { field, .. } => field.key,
            Failure::Unauthenticated => "error.unauthenticated",
            Failure::PasswordChangeRequired => "error.password_change_required",
            Failure::Csrf => "error.csrf",
            Failure::Forbidden => "error.forbidden",
            Failure::NotFound => "error.not_found",
            Failure::Conflict(fields) => fields.first().map_or("error.validation", |f| f.key),
            Failure::TooLarge(_) => "error.body_too_large",
            Failure::Locked => "error.locked",
            Failure::PinLocked(_) => "error.pin_locked",
            Failure::Upstream { key, .. } => key,
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
        match self {
            Failure::Internal(e) => tracing::error!(error = format!("{e:#}"), "request failed"),
            Failure::Upstream { detail, .. } => {
                tracing::warn!(error = detail.as_str(), "a service over HTTP failed")
            }
            _ => {}
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_key_is_translated() {
        let failures = [
            Failure::Invalid(vec![]),
            Failure::BadRequest("error.json"),
            Failure::BadQuery(String::new()),
            Failure::BadUpload(String::new()),
            Failure::Unauthenticated,
            Failure::PasswordChangeRequired,
            Failure::Csrf,
            Failure::Forbidden,
            Failure::NotFound,
            Failure::TooLarge(1),
            Failure::Locked,
            Failure::PinLocked(0),
            Failure::Upstream {
                key: "error.tsa_unavailable",
                detail: "x".into(),
            },
            Failure::Internal(anyhow::anyhow!("x")),
        ];
        for f in failures {
            assert!(i18n::known(f.key()), "{}", f.key());
        }
    }
}
