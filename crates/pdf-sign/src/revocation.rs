//! Revocation checking for verification: OCSP responses and CRLs, taken from the document's DSS
//! (offline) or fetched through a [`RevocationTransport`] (online), each checked against its
//! issuer's key before its word counts.

use chrono::{DateTime, Utc};
use der::{Decode, Encode};
use x509_cert::crl::CertificateList;
use x509_cert::Certificate;
use x509_ocsp::{BasicOcspResponse, CertStatus};

use crate::cms;
use crate::keys::HashAlgorithm;
use crate::ltv::{self, RevocationTransport, ValidationData};

/// What the revocation data says about one certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RevocationStatus {
    Good {
        source: String,
    },
    Revoked {
        at: DateTime<Utc>,
        source: String,
    },
    Unknown(String),
    /// The certificate names neither an OCSP responder nor a CRL: nothing to check.
    NotApplicable,
}

const ID_KP_OCSP_SIGNING: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.9");

fn time_of(t: &der::asn1::GeneralizedTime) -> DateTime<Utc> {
    DateTime::from_timestamp(t.to_unix_duration().as_secs() as i64, 0).unwrap_or_default()
}

fn x509_time(t: &x509_cert::time::Time) -> DateTime<Utc> {
    DateTime::from_timestamp(t.to_unix_duration().as_secs() as i64, 0).unwrap_or_default()
}

pub(crate) fn signed_by(
    tbs_der: &[u8],
    alg: &spki::AlgorithmIdentifierOwned,
    sig: &[u8],
    issuer: &Certificate,
) -> bool {
    cms::verify_with_key(
        &issuer.tbs_certificate.subject_public_key_info,
        alg,
        HashAlgorithm::Sha256,
        tbs_der,
        sig,
    )
    .is_ok()
}

pub(crate) fn cert_signed_by(cert: &Certificate, issuer: &Certificate) -> bool {
    match (cert.tbs_certificate.to_der(), cert.signature.as_bytes()) {
        (Ok(tbs), Some(sig)) => signed_by(&tbs, &cert.signature_algorithm, sig, issuer),
        _ => false,
    }
}

fn has_ocsp_signing(c: &Certificate) -> bool {
    cms::extension::<x509_cert::ext::pkix::ExtendedKeyUsage>(
        c,
        const_oid::db::rfc5280::ID_CE_EXT_KEY_USAGE,
    )
    .is_some_and(|eku| eku.0.contains(&ID_KP_OCSP_SIGNING))
}

/// The status an OCSP response gives `cert`, if it speaks of it and is signed by the issuer or
/// by a responder the issuer authorised.
fn from_ocsp(
    resp_der: &[u8],
    cert: &Certificate,
    issuer: &Certificate,
) -> Option<(CertStatus, DateTime<Utc>)> {
    let basic: BasicOcspResponse = ltv::basic_ocsp(resp_der).ok()?;
    let id = ltv::cert_id(cert, issuer).ok()?;
    let single = basic.tbs_response_data.responses.iter().find(|r| {
        r.cert_id.serial_number == id.serial_number
            && r.cert_id.issuer_name_hash == id.issuer_name_hash
            && r.cert_id.issuer_key_hash == id.issuer_key_hash
    })?;
    let tbs = basic.tbs_response_data.to_der().ok()?;
    let sig = basic.signature.as_bytes()?;
    let responder_ok = signed_by(&tbs, &basic.signature_algorithm, sig, issuer)
        || basic.certs.iter().flatten().any(|r| {
            cert_signed_by(r, issuer)
                && has_ocsp_signing(r)
                && signed_by(&tbs, &basic.signature_algorithm, sig, r)
        });
    if !responder_ok {
        return None;
    }
    Some((single.cert_status, time_of(&single.this_update.0)))
}

/// The status a CRL gives `cert`, if the CRL is the issuer's and signed by it.
fn from_crl(
    crl_der: &[u8],
    cert: &Certificate,
    issuer: &Certificate,
) -> Option<Option<DateTime<Utc>>> {
    let crl = CertificateList::from_der(crl_der).ok()?;
    if crl.tbs_cert_list.issuer != issuer.tbs_certificate.subject {
        return None;
    }
    let tbs = crl.tbs_cert_list.to_der().ok()?;
    if !signed_by(
        &tbs,
        &crl.signature_algorithm,
        crl.signature.as_bytes()?,
        issuer,
    ) {
        return None;
    }
    let revoked = crl
        .tbs_cert_list
        .revoked_certificates
        .iter()
        .flatten()
        .find(|r| r.serial_number == cert.tbs_certificate.serial_number)
        .map(|r| x509_time(&r.revocation_date));
    Some(revoked)
}

/// Checks `cert` (issued by `issuer`) with the data at hand, then online when a transport is
/// given and the data at hand says nothing.
pub fn check(
    cert: &Certificate,
    issuer: &Certificate,
    data: &ValidationData,
    online: Option<&dyn RevocationTransport>,
) -> RevocationStatus {
    let ocsp_url = ltv::ocsp_url(cert);
    let crl_url = ltv::crl_url(cert);
    let judge = |data: &ValidationData, source: &str| -> Option<RevocationStatus> {
        for resp in &data.ocsps {
            if let Some((status, _)) = from_ocsp(resp, cert, issuer) {
                return Some(match status {
                    CertStatus::Good(_) => RevocationStatus::Good {
                        source: format!("OCSP ({source})"),
                    },
                    CertStatus::Revoked(info) => RevocationStatus::Revoked {
                        at: time_of(&info.revocation_time.0),
                        source: format!("OCSP ({source})"),
                    },
                    CertStatus::Unknown(_) => continue,
                });
            }
        }
        for crl in &data.crls {
            if let Some(revoked) = from_crl(crl, cert, issuer) {
                return Some(match revoked {
                    None => RevocationStatus::Good {
                        source: format!("CRL ({source})"),
                    },
                    Some(at) => RevocationStatus::Revoked {
                        at,
                        source: format!("CRL ({source})"),
                    },
                });
            }
        }
        None
    };
    if let Some(s) = judge(data, "embedded") {
        return s;
    }
    if ocsp_url.is_none() && crl_url.is_none() {
        return RevocationStatus::NotApplicable;
    }
    let Some(transport) = online else {
        return RevocationStatus::Unknown(
            "no revocation data in the document and online checking is off".into(),
        );
    };
    let mut fetched = ValidationData::default();
    let mut why = Vec::new();
    if let Some(url) = &ocsp_url {
        match ltv::ocsp_request(cert, issuer).and_then(|r| transport.ocsp(url, &r)) {
            Ok(r) => fetched.ocsps.push(r),
            Err(e) => why.push(e.to_string()),
        }
    }
    if let Some(s) = judge(&fetched, "online") {
        return s;
    }
    if let Some(url) = &crl_url {
        match transport.get(url) {
            Ok(c) => fetched.crls.push(c),
            Err(e) => why.push(e.to_string()),
        }
    }
    judge(&fetched, "online").unwrap_or_else(|| {
        RevocationStatus::Unknown(format!("no usable revocation data: {}", why.join("; ")))
    })
}
