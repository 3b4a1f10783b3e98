//! `pdf-sign`: Inkan's PDF signing core. It reads real-world PDFs piece by piece (classic and
//! stream cross-references, object streams, incremental updates, damaged files), signs them with
//! PAdES signatures written as incremental updates (filling a party's form fields in the same
//! update), prepares contract forms before the first signature ([`form`]), and verifies
//! signatures and what changed after them. No HTTP, no database: callers hand in bytes or a
//! file and a [`Signer`].

pub mod appearance;
pub mod cms;
pub mod document;
pub mod error;
pub mod form;
pub mod keys;
pub mod ltv;
pub mod object;
pub mod pades;
pub mod repair;
pub mod revocation;
pub mod sign;
pub mod source;
pub mod verify;

pub use document::Document;
pub use error::{PdfError, Result};
pub use form::{
    prepare, FieldFill, FieldKind, FillValue, FormField, PrepareOptions, PrepareReport,
};
pub use keys::{HashAlgorithm, KeySigner, SignatureScheme, Signer};
pub use ltv::{RevocationTransport, TsaTransport};
pub use pades::{sign_at_level, Level, MemoryScratch, Scratch, Services};
pub use sign::{
    sign, sign_timestamped, timestamp_document, Certify, Placement, SignOptions, SignReport,
};
pub use source::{FileSource, Source};
pub use verify::{verify, Report, Status, VerifyOptions};
