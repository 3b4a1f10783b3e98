//! Certificate revocation lists (RFC 5280 §5): [`build`] turns the revoked entries of one issuer
//! into a signed DER CRL v2 with thisUpdate/nextUpdate, a CRL number, the authority key
//! identifier and, per entry, the reason code. The authority decides when to rebuild.

use std::time::SystemTime;

use der::asn1::{BitString, OctetString, Uint};
use der::Encode;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, CrlNumber};
use x509_cert::serial_number::SerialNumber;
use x509_cert::{Certificate, Version};

use crate::certstore::{RevocationReason, Serial};
use crate::error::Result;
use crate::keystore::{KeyHandle, KeyStore};
use crate::x509::{extension, key_identifier, x509_time};

/// One revoked certificate on a CRL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedEntry {
    pub serial: Serial,
    pub time: SystemTime,
    pub reason: RevocationReason,
}

/// The issuer of a CRL: its certificate and its key in a key store.
#[derive(Clone, Copy, Debug)]
pub struct CrlIssuer<'a> {
    pub cert: &'a Certificate,
    pub key: &'a KeyHandle,
    pub keys: &'a dyn KeyStore,
}

/// Builds and signs a CRL listing `revoked`, numbered `number`, valid from `this_update` to
/// `next_update`.
pub fn build(
    issuer: CrlIssuer<'_>,
    revoked: &[RevokedEntry],
    number: u64,
    this_update: SystemTime,
    next_update: SystemTime,
) -> Result<Vec<u8>> {
    let mut entries = Vec::with_capacity(revoked.len());
    for r in revoked {
        // RFC 5280 §5.3.1: the reason code "unspecified" SHOULD be absent.
        let exts = if r.reason == RevocationReason::Unspecified {
            None
        } else {
            Some(vec![extension(&r.reason.crl_reason(), false)?])
        };
        entries.push(RevokedCert {
            serial_number: SerialNumber::new(&r.serial.to_bytes())?,
            revocation_date: x509_time(r.time)?,
            crl_entry_extensions: exts,
        });
    }
    let aki = AuthorityKeyIdentifier {
        key_identifier: Some(OctetString::new(key_identifier(
            &issuer.cert.tbs_certificate.subject_public_key_info,
        ))?),
        ..Default::default()
    };
    let tbs = TbsCertList {
        version: Version::V2,
        signature: issuer.key.algorithm().signature_algorithm(),
        issuer: issuer.cert.tbs_certificate.subject.clone(),
        this_update: x509_time(this_update)?,
        next_update: Some(x509_time(next_update)?),
        revoked_certificates: if entries.is_empty() {
            None
        } else {
            Some(entries)
        },
        crl_extensions: Some(vec![
            extension(&aki, false)?,
            extension(&CrlNumber(Uint::new(&number.to_be_bytes())?), false)?,
        ]),
    };
    let sig = issuer.keys.sign(issuer.key, &tbs.to_der()?)?;
    let crl = CertificateList {
        signature_algorithm: tbs.signature.clone(),
        tbs_cert_list: tbs,
        signature: BitString::from_bytes(&sig)?,
    };
    Ok(crl.to_der()?)
}
