//! A signer's certificate from another CA (a commercial one, say on Adobe's AATL), brought with
//! its key as a PKCS#12 file: opened with its password, checked — the key is ECDSA P-256 or
//! RSA 2048, 3072 or 4096 bits and belongs to the certificate, which is valid now and may sign
//! (its key usage, when it has one, includes digitalSignature or nonRepudiation) — and its key
//! sealed to its owner's signing PIN like the keys Inkan issues ([`crate::pin`]). The chain is
//! the file's (nearest issuer first). Its signatures are kept valid long-term (PAdES B-LT and
//! B-LTA), so every certificate of the chain below the root must name where its revocation
//! status is published (OCSP or a CRL), and the chain must reach its root: in the file, or
//! through a caIssuers address where an issuer the file lacks is published. The password only
//! opens the file: nothing here keeps it, and the opened key is wiped when the [`External`] is
//! dropped.

use const_oid::db::rfc5280::{ID_AD_CA_ISSUERS, ID_AD_OCSP};
use der::{Decode, Encode};
use p12_keystore::{KeyStore as P12, Pkcs12ImportPolicy};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{AuthorityInfoAccessSyntax, CrlDistributionPoints, KeyUsage};
use x509_cert::Certificate;
use zeroize::Zeroizing;

use crate::authority::record;
use crate::certstore::{CertKind, CertRecord};
use crate::error::{CaError, Result};
use crate::keystore::sealed::OpenKey;
use crate::keystore::KeyAlgorithm;
use crate::pin::Recipient;
use crate::x509::unix_seconds;

/// Why a PKCS#12 file cannot be imported; each is something its owner can fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not a PKCS#12 file (or one damaged beyond reading).
    #[error("the file is not a PKCS#12 (.p12/.pfx) file")]
    NotPkcs12,
    /// The password does not open it.
    #[error("the password does not open the file")]
    WrongPassword,
    /// It is encrypted or authenticated with an algorithm this reader does not support.
    #[error("the file is protected with an algorithm that is not supported")]
    Unsupported,
    /// It holds no private key, or no certificate for its key.
    #[error("the file holds no private key with its certificate")]
    NoKey,
    /// The key is neither ECDSA P-256 nor RSA 2048, 3072 or 4096 bits.
    #[error("the key is neither ECDSA P-256 nor RSA 2048, 3072 or 4096 bits")]
    KeyType,
    /// The key is not the certificate's.
    #[error("the private key does not belong to the certificate")]
    KeyMismatch,
    /// The certificate's validity has not begun.
    #[error("the certificate is not valid yet")]
    NotYetValid,
    /// The certificate has expired.
    #[error("the certificate has expired")]
    Expired,
    /// The certificate's key usage allows no signatures (neither digitalSignature nor
    /// nonRepudiation).
    #[error("the certificate is not for signatures (its key usage has neither digitalSignature nor nonRepudiation)")]
    NotForSigning,
    /// A certificate of the chain below the root names neither an OCSP responder nor a CRL.
    #[error("a certificate of the chain names neither an OCSP responder nor a CRL")]
    NoRevocationInfo,
    /// The chain does not reach a root: an issuer is neither in the file nor published at a
    /// caIssuers address of the certificate it issued.
    #[error("the file lacks the certificate's issuers up to the root")]
    IncompleteChain,
}

impl From<Refusal> for CaError {
    fn from(r: Refusal) -> Self {
        CaError::Import(r)
    }
}

/// A signer's certificate and key from a PKCS#12 file, checked.
pub struct External {
    /// The certificate as the CA keeps it: kind [`CertKind::Imported`], no key in the CA's
    /// store, the file's chain.
    pub record: CertRecord,
    /// The issuer's name (RFC 4514).
    pub issuer: String,
    algorithm: KeyAlgorithm,
    pkcs8: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for External {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("External")
            .field("subject", &self.record.subject)
            .field("issuer", &self.issuer)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl External {
    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The key sealed to a signing PIN's wrapping key: the envelope kept instead of the key.
    pub fn seal_to(&self, recipient: &Recipient) -> Result<Vec<u8>> {
        crate::pin::seal_to(recipient, self.algorithm, &self.pkcs8)
    }
}

/// Whether `data` has a PKCS#12 PFX's shape (SEQUENCE { version 3, authSafe, macData? }), and
/// whether it carries a MAC.
fn outline(data: &[u8]) -> std::result::Result<bool, Refusal> {
    let parts = Vec::<der::Any>::from_der(data).map_err(|_| Refusal::NotPkcs12)?;
    let version = parts
        .first()
        .and_then(|v| v.decode_as::<u8>().ok())
        .ok_or(Refusal::NotPkcs12)?;
    if version != 3 || !(2..=3).contains(&parts.len()) {
        return Err(Refusal::NotPkcs12);
    }
    Ok(parts.len() == 3)
}

fn uris(names: &[GeneralName]) -> impl Iterator<Item = &str> + '_ {
    names.iter().filter_map(|n| match n {
        GeneralName::UniformResourceIdentifier(u) => Some(u.as_str()),
        _ => None,
    })
}

/// The addresses `cert`'s authority information access names for `method`.
fn access(cert: &Certificate, method: der::asn1::ObjectIdentifier) -> Vec<String> {
    match cert.tbs_certificate.get::<AuthorityInfoAccessSyntax>() {
        Ok(Some((_, aia))) => aia
            .0
            .iter()
            .filter(|ad| ad.access_method == method)
            .flat_map(|ad| uris(std::slice::from_ref(&ad.access_location)).map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether `cert` names where its revocation status is published: an OCSP responder or a CRL.
fn names_revocation(cert: &Certificate) -> bool {
    let crl = match cert.tbs_certificate.get::<CrlDistributionPoints>() {
        Ok(Some((_, points))) => points.0.iter().any(|p| match &p.distribution_point {
            Some(DistributionPointName::FullName(names)) => uris(names).next().is_some(),
            _ => false,
        }),
        _ => false,
    };
    crl || !access(cert, ID_AD_OCSP).is_empty()
}

/// From `leaf` up: every certificate below the root names its revocation data, and each
/// issuer is in `file` or published at a caIssuers address (from there on the chain is the
/// publisher's, checked when a signature needs it).
fn check_chain(leaf: &Certificate, file: &[Certificate]) -> std::result::Result<(), Refusal> {
    let mut current = leaf;
    // A chain longer than the file is a loop.
    for _ in 0..=file.len() {
        let tbs = &current.tbs_certificate;
        if tbs.subject == tbs.issuer {
            return Ok(());
        }
        if !names_revocation(current) {
            return Err(Refusal::NoRevocationInfo);
        }
        match file
            .iter()
            .find(|c| c.tbs_certificate.subject == tbs.issuer)
        {
            Some(issuer) => current = issuer,
            None if !access(current, ID_AD_CA_ISSUERS).is_empty() => return Ok(()),
            None => return Err(Refusal::IncompleteChain),
        }
    }
    Err(Refusal::IncompleteChain)
}

/// Opens `data` (a PKCS#12 file) with `password` and checks it at `now` (Unix seconds).
pub fn open(data: &[u8], password: &str, now: u64) -> Result<External> {
    let has_mac = outline(data)?;
    let store = P12::from_pkcs12(data, password, Pkcs12ImportPolicy::Relaxed).map_err(|e| {
        use p12_keystore::error::Error;
        match e {
            Error::MacError(_) => Refusal::WrongPassword,
            Error::UnsupportedEncryptionScheme
            | Error::UnsupportedMacAlgorithm
            | Error::UnsupportedContentType
            | Error::UnsupportedCertificateType => Refusal::Unsupported,
            // With a MAC that held, the password was right and the file is damaged; without
            // one, a wrong password shows only as contents that do not decrypt.
            _ if has_mac => Refusal::NotPkcs12,
            _ => Refusal::WrongPassword,
        }
    })?;
    let (_, chain) = store.private_key_chain().ok_or(Refusal::NoKey)?;
    let (leaf, issuers) = chain.certs().split_first().ok_or(Refusal::NoKey)?;
    let cert = Certificate::from_der(leaf.as_der()).map_err(|_| Refusal::NotPkcs12)?;
    let pkcs8 = Zeroizing::new(chain.key().as_der().to_vec());
    let (algorithm, key) = OpenKey::detect(&pkcs8).map_err(|_| Refusal::KeyType)?;
    let ours = SubjectPublicKeyInfoOwned::from_der(&key.spki_der()?)?;
    let theirs = &cert.tbs_certificate.subject_public_key_info;
    if ours.subject_public_key != theirs.subject_public_key {
        return Err(Refusal::KeyMismatch.into());
    }
    let validity = &cert.tbs_certificate.validity;
    if now < unix_seconds(validity.not_before.to_system_time()) {
        return Err(Refusal::NotYetValid.into());
    }
    if now >= unix_seconds(validity.not_after.to_system_time()) {
        return Err(Refusal::Expired.into());
    }
    let usage = cert
        .tbs_certificate
        .get::<KeyUsage>()
        .map_err(|_| Refusal::NotForSigning)?;
    if let Some((_, usage)) = usage {
        if !usage.digital_signature() && !usage.non_repudiation() {
            return Err(Refusal::NotForSigning.into());
        }
    }
    let parsed = issuers
        .iter()
        .map(|c| Certificate::from_der(c.as_der()).map_err(|_| Refusal::NotPkcs12))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    check_chain(&cert, &parsed)?;
    let chain = parsed
        .iter()
        .map(|c| c.to_der())
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let issuer = cert.tbs_certificate.issuer.to_string();
    Ok(External {
        record: record(CertKind::Imported, &cert, None, chain)?,
        issuer,
        algorithm,
        pkcs8,
    })
}
