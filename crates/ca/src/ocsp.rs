//! The OCSP responder (RFC 6960) for certificates of the issuing CA: DER request in, DER
//! response out. Answers good, revoked (time and reason) or unknown per requested certificate,
//! echoes the nonce, and signs with the delegated OCSP-signing certificate (included with the
//! issuing CA certificate so clients can build its chain). A request that does not parse gets
//! the "malformedRequest" response, never an error.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use const_oid::db::rfc5912::{ID_SHA_1, ID_SHA_256};
use const_oid::db::rfc6960::ID_PKIX_OCSP_NONCE;
use der::asn1::{BitString, OctetString};
use der::{Decode, Encode};
use x509_cert::Certificate;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspGeneralizedTime, OcspRequest, OcspResponse,
    ResponderId, ResponseData, RevokedInfo, SingleResponse,
};

use crate::certstore::{CertKind, CertStore, Serial};
use crate::clock::Clock;
use crate::error::{CaError, Result};
use crate::keystore::{KeyHandle, KeyStore};
use crate::x509::{from_unix_seconds, sha1, sha256, whole_seconds};

/// Requests larger than this are refused as malformed (a real one is a few hundred bytes).
pub const MAX_REQUEST_LEN: usize = 16 * 1024;
/// At most this many certificates per request.
pub const MAX_CERTS_PER_REQUEST: usize = 32;
/// Nonces longer than this are refused (RFC 8954 allows 1 to 32 octets).
const MAX_NONCE_EXTENSION_LEN: usize = 34;

/// Answers OCSP requests about certificates issued by one CA.
#[derive(Debug, Clone)]
pub struct OcspResponder {
    /// (hash algorithm, issuer name hash, issuer key hash) for SHA-1 and SHA-256 CertIDs.
    issuer_ids: Vec<(const_oid::ObjectIdentifier, Vec<u8>, Vec<u8>)>,
    certs_out: Vec<Certificate>,
    responder_key_hash: Vec<u8>,
    key: KeyHandle,
    keys: Arc<dyn KeyStore>,
    store: Arc<dyn CertStore>,
    clock: Arc<dyn Clock>,
    validity: Duration,
    /// Which certificates of the store this responder answers for.
    covers: fn(CertKind) -> bool,
}

/// The serial numbers an OCSP request (DER) asks about, whichever CA it names; empty for a
/// malformed request (which [`OcspResponder::respond`] answers as such). A caller keeping its
/// certificates elsewhere loads these before answering.
pub fn requested_serials(request_der: &[u8]) -> Vec<Serial> {
    if request_der.len() > MAX_REQUEST_LEN {
        return Vec::new();
    }
    let Ok(req) = OcspRequest::from_der(request_der) else {
        return Vec::new();
    };
    req.tbs_request
        .request_list
        .iter()
        .take(MAX_CERTS_PER_REQUEST)
        .filter_map(|r| Serial::from_bytes(r.req_cert.serial_number.as_bytes()).ok())
        .collect()
}

/// The serial numbers of a GET request's path segment (see [`OcspResponder::respond_get`]).
pub fn requested_serials_get(encoded: &str) -> Vec<Serial> {
    decode_get(encoded)
        .map(|der| requested_serials(&der))
        .unwrap_or_default()
}

/// The DER request in a GET request's path segment, if it decodes.
pub fn get_request_der(encoded: &str) -> Option<Vec<u8>> {
    decode_get(encoded)
}

impl OcspResponder {
    /// A responder for `issuer`'s certificates, signing as `responder` with `key`; responses are
    /// valid for `validity` after thisUpdate.
    pub fn new(
        issuer: Certificate,
        responder: Certificate,
        key: KeyHandle,
        keys: Arc<dyn KeyStore>,
        store: Arc<dyn CertStore>,
        clock: Arc<dyn Clock>,
        validity: Duration,
    ) -> Result<Self> {
        let name = issuer.tbs_certificate.subject.to_der()?;
        let issuer_key = issuer
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes();
        let issuer_ids = vec![
            (ID_SHA_1, sha1(&name), sha1(issuer_key)),
            (ID_SHA_256, sha256(&name), sha256(issuer_key)),
        ];
        let responder_key_hash = sha1(
            responder
                .tbs_certificate
                .subject_public_key_info
                .subject_public_key
                .raw_bytes(),
        );
        let certs_out = if responder == issuer {
            vec![issuer]
        } else {
            vec![responder, issuer]
        };
        Ok(OcspResponder {
            covers: CertKind::issued_by_issuing_ca,
            issuer_ids,
            certs_out,
            responder_key_hash,
            key,
            keys,
            store,
            clock,
            validity,
        })
    }

    /// A responder for the root's only subordinate, the issuing CA, signing with the root key
    /// itself: validators then get fresh, signed revocation data for the whole chain.
    pub fn for_root(
        root: Certificate,
        key: KeyHandle,
        keys: Arc<dyn KeyStore>,
        store: Arc<dyn CertStore>,
        clock: Arc<dyn Clock>,
        validity: Duration,
    ) -> Result<Self> {
        let mut responder = Self::new(root.clone(), root, key, keys, store, clock, validity)?;
        responder.covers = |kind| kind == CertKind::IssuingCa;
        Ok(responder)
    }

    /// Answers a DER OCSPRequest (POST body). Malformed requests get a DER "malformedRequest"
    /// response; `Err` means the responder itself failed (HTTP 500).
    pub fn respond(&self, request_der: &[u8]) -> Result<Vec<u8>> {
        match self.parse(request_der) {
            Ok(req) => self.answer(&req),
            Err(_) => Ok(OcspResponse::malformed_request().to_der()?),
        }
    }

    /// Answers a GET request: `encoded` is the path segment after `/ocsp/`, the request in
    /// base64, URL-escaped (RFC 6960 appendix A.1).
    pub fn respond_get(&self, encoded: &str) -> Result<Vec<u8>> {
        match decode_get(encoded) {
            Some(der) => self.respond(&der),
            None => Ok(OcspResponse::malformed_request().to_der()?),
        }
    }

    fn parse(&self, der: &[u8]) -> Result<OcspRequest> {
        if der.len() > MAX_REQUEST_LEN {
            return Err(CaError::MalformedRequest("too large".into()));
        }
        let req =
            OcspRequest::from_der(der).map_err(|e| CaError::MalformedRequest(e.to_string()))?;
        let n = req.tbs_request.request_list.len();
        if n == 0 || n > MAX_CERTS_PER_REQUEST {
            return Err(CaError::MalformedRequest(format!("{n} certificates asked")));
        }
        Ok(req)
    }

    fn status(&self, id: &CertId) -> Result<CertStatus> {
        let ours = self.issuer_ids.iter().any(|(alg, name, key)| {
            id.hash_algorithm.oid == *alg
                && id.issuer_name_hash.as_bytes() == name.as_slice()
                && id.issuer_key_hash.as_bytes() == key.as_slice()
        });
        if !ours {
            return Ok(CertStatus::unknown());
        }
        let Ok(serial) = Serial::from_bytes(id.serial_number.as_bytes()) else {
            return Ok(CertStatus::unknown());
        };
        Ok(match self.store.get(&serial)? {
            Some(rec) if (self.covers)(rec.kind) => match rec.revocation {
                Some(rev) => CertStatus::revoked(RevokedInfo {
                    revocation_time: OcspGeneralizedTime::try_from(from_unix_seconds(rev.time))?,
                    revocation_reason: Some(rev.reason.crl_reason()),
                }),
                None => CertStatus::good(),
            },
            _ => CertStatus::unknown(),
        })
    }

    fn answer(&self, req: &OcspRequest) -> Result<Vec<u8>> {
        let nonce = req
            .tbs_request
            .request_extensions
            .iter()
            .flatten()
            .find(|e| e.extn_id == ID_PKIX_OCSP_NONCE)
            .cloned();
        if nonce
            .as_ref()
            .is_some_and(|n| n.extn_value.as_bytes().len() > MAX_NONCE_EXTENSION_LEN)
        {
            return Ok(OcspResponse::malformed_request().to_der()?);
        }
        let now = whole_seconds(self.clock.now());
        let this_update = OcspGeneralizedTime::try_from(now)?;
        let next_update = OcspGeneralizedTime::try_from(now + self.validity)?;
        let mut responses = Vec::with_capacity(req.tbs_request.request_list.len());
        for r in &req.tbs_request.request_list {
            responses.push(SingleResponse {
                cert_id: r.req_cert.clone(),
                cert_status: self.status(&r.req_cert)?,
                this_update,
                next_update: Some(next_update),
                single_extensions: None,
            });
        }
        let data = ResponseData {
            version: Default::default(),
            responder_id: ResponderId::ByKey(OctetString::new(self.responder_key_hash.clone())?),
            produced_at: this_update,
            responses,
            response_extensions: nonce.map(|n| {
                vec![x509_cert::ext::Extension {
                    critical: false,
                    ..n
                }]
            }),
        };
        let sig = self.keys.sign(&self.key, &data.to_der()?)?;
        let basic = BasicOcspResponse {
            tbs_response_data: data,
            signature_algorithm: self.key.algorithm().signature_algorithm(),
            signature: BitString::from_bytes(&sig)?,
            certs: Some(self.certs_out.clone()),
        };
        Ok(OcspResponse::successful(basic)?.to_der()?)
    }
}

/// Decodes the GET form: percent-escapes, then standard base64 (padding optional).
fn decode_get(encoded: &str) -> Option<Vec<u8>> {
    if encoded.len() > MAX_REQUEST_LEN * 2 {
        return None;
    }
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let h = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let text = std::str::from_utf8(&out).ok()?.trim_end_matches('=');
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(text)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_form_decodes_escapes() {
        let plain = decode_get("AAEC/+8=").expect("plain");
        assert_eq!(plain, [0, 1, 2, 0xff, 0xef]);
        assert_eq!(decode_get("AAEC%2F%2B8%3D").expect("escaped"), plain);
        assert_eq!(decode_get("AQID").as_deref(), Some(&[1u8, 2, 3][..]));
        assert!(decode_get("%zz").is_none());
        assert!(decode_get("!!!").is_none());
    }
}
