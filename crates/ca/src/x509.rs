//! Small X.509 helpers shared by the CA, CRL, OCSP and TSA code: serials, times, extensions,
//! key identifiers, and signing a to-be-signed structure with a [`KeyStore`] key.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use const_oid::AssociatedOid;
use der::asn1::{BitString, GeneralizedTime, Ia5String, OctetString, UtcTime};
use der::{Decode, Encode};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::ext::Extension;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Time;
use x509_cert::{Certificate, TbsCertificate};

use crate::error::{CaError, Result};
use crate::keystore::{KeyHandle, KeyStore};

/// `len` random bytes that read as a positive integer with no leading zero octet: the top bit
/// is cleared and the first byte is never zero.
pub(crate) fn random_positive(len: usize) -> Result<Vec<u8>> {
    let mut b = vec![0u8; len];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| CaError::Crypto("random generator failed".into()))?;
    b[0] &= 0x7f;
    if b[0] == 0 {
        b[0] = 0x40;
    }
    Ok(b)
}

/// A random 128-bit positive certificate serial (16 octets, top bit clear).
pub(crate) fn random_serial() -> Result<SerialNumber> {
    Ok(SerialNumber::new(&random_positive(16)?)?)
}

/// An X.509 time, truncated to whole seconds: UTCTime through 2049 and GeneralizedTime from
/// 2050 (RFC 5280 §4.1.2.5; x509-cert's own conversion always picks GeneralizedTime).
pub(crate) fn x509_time(t: SystemTime) -> Result<Time> {
    let t = whole_seconds(t);
    match UtcTime::from_system_time(t) {
        Ok(u) => Ok(Time::UtcTime(u)),
        Err(_) => Ok(Time::GeneralTime(GeneralizedTime::from_system_time(t)?)),
    }
}

pub(crate) fn whole_seconds(t: SystemTime) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix_seconds(t))
}

pub(crate) fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(crate) fn from_unix_seconds(s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(s)
}

/// An extension from a typed value.
pub(crate) fn extension<T: AssociatedOid + Encode>(value: &T, critical: bool) -> Result<Extension> {
    Ok(Extension {
        extn_id: T::OID,
        critical,
        extn_value: OctetString::new(value.to_der()?)?,
    })
}

pub(crate) fn ia5(s: &str) -> Result<Ia5String> {
    Ia5String::new(s).map_err(|_| CaError::invalid("URL or e-mail", format!("{s:?} is not ASCII")))
}

pub(crate) fn sha1(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, data)
        .as_ref()
        .to_vec()
}

pub(crate) fn sha256(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, data).as_ref().to_vec()
}

/// RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits.
pub(crate) fn key_identifier(spki: &SubjectPublicKeyInfoOwned) -> Vec<u8> {
    sha1(spki.subject_public_key.raw_bytes())
}

pub(crate) fn spki_from_der(der: &[u8]) -> Result<SubjectPublicKeyInfoOwned> {
    Ok(SubjectPublicKeyInfoOwned::from_der(der)?)
}

/// Signs `tbs` with `key` and assembles the certificate.
pub(crate) fn sign_certificate(
    keys: &dyn KeyStore,
    key: &KeyHandle,
    tbs: TbsCertificate,
) -> Result<Certificate> {
    let sig = keys.sign(key, &tbs.to_der()?)?;
    Ok(Certificate {
        signature_algorithm: tbs.signature.clone(),
        tbs_certificate: tbs,
        signature: BitString::from_bytes(&sig)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_switch_to_generalized_in_2050() {
        let y2049 = from_unix_seconds(2_524_607_999); // 2049-12-31T23:59:59Z
        assert!(matches!(x509_time(y2049), Ok(Time::UtcTime(_))));
        assert!(matches!(
            x509_time(y2049 + Duration::from_secs(1)),
            Ok(Time::GeneralTime(_))
        ));
    }

    #[test]
    fn random_serials_are_positive_without_leading_zero() {
        for _ in 0..200 {
            let b = random_positive(16).expect("rand");
            assert!(b[0] != 0 && b[0] < 0x80);
        }
    }
}
