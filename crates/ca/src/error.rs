//! `CaError`: every failure of the CA crate, one variant per case a caller can act on.

/// Result with [`CaError`].
pub type Result<T, E = CaError> = std::result::Result<T, E>;

/// What went wrong in the CA, key storage, CRL, OCSP or TSA.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// The master key is missing, has the wrong length, or does not open a sealed key.
    #[error("master key: {0}")]
    MasterKey(String),
    /// A key store failed (I/O, a sealed key that cannot be read, an HSM error).
    #[error("key store: {0}")]
    KeyStore(String),
    /// No key or certificate with that label/serial.
    #[error("not found: {0}")]
    NotFound(String),
    /// A key or certificate with that label/serial exists already.
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// A field of an application or configuration is not acceptable; the text says which.
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// The certificate was revoked already.
    #[error("certificate {0} is already revoked")]
    AlreadyRevoked(String),
    /// A PKCS#12 file could not be opened (wrong password, no key, no certificate).
    #[error("PKCS#12: {0}")]
    Pkcs12(String),
    /// A signer's PKCS#12 file was refused for import: what is wrong with it.
    #[error("PKCS#12: {0}")]
    Import(crate::external::Refusal),
    /// The operation is not supported by this key store or key type.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A request (OCSP, TSA) could not be parsed. The HTTP layer maps this to 400.
    #[error("malformed request: {0}")]
    MalformedRequest(String),
    /// Encoding or decoding ASN.1 failed where the input was ours.
    #[error("ASN.1: {0}")]
    Asn1(String),
    /// A certificate store failed.
    #[error("certificate store: {0}")]
    CertStore(String),
    /// The signing PIN given does not match.
    #[error("wrong signing PIN")]
    WrongPin,
    /// A signature or key operation failed inside the crypto library.
    #[error("crypto: {0}")]
    Crypto(String),
}

impl From<der::Error> for CaError {
    fn from(e: der::Error) -> Self {
        CaError::Asn1(e.to_string())
    }
}

impl CaError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        CaError::Invalid {
            field,
            reason: reason.into(),
        }
    }
}
