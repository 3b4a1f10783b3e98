//! The certificate of completion (合意締結証明書) of a contract, as a PDF.
//!
//! [`render`] turns a [`Completion`] — what the domain knows about a completed contract, with
//! every time and localized word already in the certificate's language — into the bytes of a
//! PDF: A4 portrait, a summary, the documents with their SHA-256 before the first and after the
//! last signature, the parties and the contract's history. No HTTP, no database, no signing:
//! the caller signs the result afterwards (pdf-sign, as an incremental update).
//!
//! # How the PDF is made
//!
//! [krilla](https://docs.rs/krilla) (MIT OR Apache-2.0) writes the PDF. It is made for
//! exactly this: a page is drawn with paths and glyph runs, and krilla subsets and embeds the
//! font (a CID-keyed TrueType font with a ToUnicode map, so the text is real, selectable text),
//! compresses the content streams and writes a classic cross-reference table, the document
//! information and XMP metadata. Doing the same with `pdf-writer` and `subsetter` (which krilla
//! is built on) would mean writing the font embedding, the ToUnicode CMap and the resource
//! bookkeeping here. krilla does no line breaking, and its text shaping (rustybuzz) is not
//! used: this crate places one glyph per character from IPAGothic's `cmap` and `hmtx`, read
//! with `ab_glyph`, so the widths that break the lines are exactly those drawn.
//!
//! The text is set in IPAGothic, the font already bundled with pdf-sign (IPA Font License),
//! which covers Japanese and Latin text; its Latin letters are half-width, which keeps a
//! SHA-256 on one line of its column.
//!
//! # Determinism
//!
//! The same [`Completion`] renders to the same bytes: krilla makes the file identifier (`/ID`)
//! from hashes, not random numbers (its first half from the contract ID, its second from the
//! file's content; the XMP document and instance IDs are the same two), and the creation date
//! is [`Completion::issued_at`], never the clock.

#![forbid(unsafe_code)]

mod certificate;
mod labels;
mod layout;
mod pdf;
mod text;

/// The language of the certificate's own labels. The caller's texts (roles, event kinds,
/// outcomes, times) must already be in this language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Ja,
    En,
}

/// Everything a certificate of completion shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub language: Language,
    /// The contract's UUID.
    pub contract_id: String,
    /// The number people quote, e.g. `C-2026-000123`; also in every page's footer.
    pub contract_number: String,
    pub title: String,
    /// The sender's organisation.
    pub organisation: String,
    /// `Name <email>`.
    pub sender: String,
    /// Times as the certificate shows them, e.g. `2026-11-30 14:05:09 JST`.
    pub created_at: String,
    pub sent_at: String,
    pub completed_at: String,
    pub documents: Vec<DocumentEntry>,
    /// In the order of the signing steps.
    pub parties: Vec<PartyEntry>,
    /// The contract's history, oldest first.
    pub events: Vec<EventEntry>,
    /// Who issues the certificate, e.g. `Inkan (https://inkan.example.com)`.
    pub issued_by: String,
    /// When the certificate is issued: printed under the title (with its UTC offset) and the
    /// PDF's creation date.
    pub issued_at: chrono::DateTime<chrono::FixedOffset>,
}

/// One PDF of the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentEntry {
    pub name: String,
    pub pages: u32,
    /// The size in bytes of the PDF as uploaded.
    pub size_before: u64,
    /// SHA-256 of the PDF as uploaded, before the first signature: 64 hexadecimal digits.
    pub sha256_before: String,
    /// SHA-256 of the PDF after the last signature: 64 hexadecimal digits.
    pub sha256_after: String,
}

/// One party of the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyEntry {
    /// Parties with the same step act in parallel.
    pub step: u32,
    /// Localized, e.g. `署名者`.
    pub role: String,
    /// Localized, e.g. `当事者型（証明書）`; none for approvers and copy recipients.
    pub signature_kind: Option<String>,
    pub name: String,
    pub email: String,
    pub organisation: Option<String>,
    /// Localized, e.g. `ログイン + PIN`, `メール認証コード`.
    pub authentication: String,
    /// Localized, e.g. `署名済み`.
    pub outcome: String,
    /// When the outcome happened, formatted.
    pub at: Option<String>,
}

/// One entry of the contract's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventEntry {
    /// Formatted, e.g. `2026-11-30 14:05:09 JST`.
    pub at: String,
    /// Localized, e.g. `署名`.
    pub kind: String,
    /// `Name <email>`.
    pub actor: String,
    /// The IP address the action came from.
    pub address: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
}

/// Why a certificate could not be rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// A document's digest is not 64 hexadecimal digits (`document` counts from 0).
    #[error("document {document}: {which} is not a SHA-256 in hexadecimal: {value:?}")]
    InvalidDigest {
        document: usize,
        which: &'static str,
        value: String,
    },
    /// The bundled font could not be read (a broken build).
    #[error("the bundled font could not be read")]
    Font,
    /// The PDF writer refused the document.
    #[error("the PDF could not be written: {0}")]
    Pdf(String),
}

/// Renders the certificate of completion as a PDF (1.7, unencrypted, A4).
pub fn render(c: &Completion) -> Result<Vec<u8>, ReportError> {
    for (document, d) in c.documents.iter().enumerate() {
        for (which, value) in [
            ("sha256_before", &d.sha256_before),
            ("sha256_after", &d.sha256_after),
        ] {
            if value.len() != 64 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ReportError::InvalidDigest {
                    document,
                    which,
                    value: value.clone(),
                });
            }
        }
    }
    let metrics = text::Metrics::load()?;
    let pages = certificate::lay_out(c, &metrics);
    debug_assert!(pages.iter().all(|p| layout::within_margins(p, &metrics)));
    let l = labels::labels(c.language);
    pdf::write(
        &pages,
        &metrics,
        pdf::Info {
            title: format!("{} {}", l.title, c.contract_number),
            subject: c.title.clone(),
            language: l.lang,
            created: c.issued_at,
            document_id: c.contract_id.clone(),
        },
    )
}
