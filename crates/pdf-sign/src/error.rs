//! The one error type of this crate: each variant is a case a caller can act on.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    #[error("not a PDF file: {0}")]
    NotPdf(String),
    #[error("the PDF is encrypted; Inkan does not sign or verify encrypted PDFs (remove the password first)")]
    Encrypted,
    #[error("PDF syntax error at byte {offset}: {message}")]
    Syntax { offset: u64, message: String },
    #[error("the PDF is damaged and cannot be read: {0}")]
    Damaged(String),
    #[error("the PDF is damaged (its cross-reference table is broken) and already carries signatures; repairing it would break them, so it is refused")]
    DamagedSigned,
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("key or certificate: {0}")]
    Key(String),
    #[error("signature appearance: {0}")]
    Appearance(String),
    #[error("CMS: {0}")]
    Cms(String),
}

pub type Result<T, E = PdfError> = std::result::Result<T, E>;
