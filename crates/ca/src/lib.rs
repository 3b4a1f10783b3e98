//! Inkan's certificate authority as a library: key storage, a root and issuing CA, signer
//! certificates, CRLs, an OCSP responder and an RFC 3161 timestamp authority. No HTTP and no
//! database: bytes, a [`keystore::KeyStore`] and a [`certstore::CertStore`] in, bytes out.

pub mod application;
pub mod authority;
pub mod certstore;
pub mod clock;
pub mod crl;
pub mod error;
pub mod external;
pub mod keystore;
pub mod ocsp;
pub mod pin;
pub mod tsa;
mod x509;

pub use error::{CaError, Result};
