//! Long-term validation: RFC 3161 timestamps (PAdES B-T and the B-LTA document timestamp) and
//! the Document Security Store of certificates, OCSP responses and CRLs (B-LT).
//!
//! This crate does no networking: the caller hands in transports that carry the DER requests
//! (over HTTP in the CLI, in-process in tests or the server).

use std::collections::BTreeSet;
use std::io::Write;

use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use der::asn1::{Int, OctetString};
use der::{Decode, Encode};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{AuthorityInfoAccessSyntax, CrlDistributionPoints};
use x509_cert::Certificate;
use x509_ocsp::{
    BasicOcspResponse, CertId, OcspRequest, OcspResponse, OcspResponseStatus, Request, TbsRequest,
    Version,
};
use x509_tsp::{MessageImprint, TimeStampReq, TimeStampResp, TspVersion, TstInfo};

use crate::cms::ParsedCms;
use crate::document::Document;
use crate::error::{PdfError, Result};
use crate::keys::HashAlgorithm;
use crate::object::{Dict, Object};
use crate::sign::{append_update, Update};
use crate::source::Source;

/// Carries a DER TimeStampReq to a timestamp authority and returns its DER TimeStampResp.
pub trait TsaTransport {
    fn post(&self, request: &[u8]) -> Result<Vec<u8>>;
}

/// Fetches revocation data: an OCSP response for a DER OCSPRequest posted to `url`, or the
/// document at `url` (a CRL).
pub trait RevocationTransport {
    fn ocsp(&self, url: &str, request: &[u8]) -> Result<Vec<u8>>;
    fn get(&self, url: &str) -> Result<Vec<u8>>;
}

const ID_PKIX_OCSP_BASIC: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
const ID_AD_OCSP: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");
const ID_CT_TSTINFO: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");

fn der_err(e: impl std::fmt::Display) -> PdfError {
    PdfError::Cms(e.to_string())
}

/// Asks the TSA for a timestamp over `digest` and returns the TimeStampToken (DER ContentInfo),
/// after checking that it answers this request (status, message imprint, nonce).
pub fn request_timestamp(
    tsa: &dyn TsaTransport,
    hash: HashAlgorithm,
    digest: &[u8],
) -> Result<Vec<u8>> {
    let mut nonce = [0u8; 8];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| PdfError::Cms("no randomness".into()))?;
    // Positive and with a non-zero first octet: DER allows no leading zero byte before an
    // octet below 0x80, and a TSA that parses strictly rejects such a request.
    nonce[0] = (nonce[0] & 0x7f).max(0x01);
    let nonce = Int::new(&nonce).map_err(der_err)?;
    let imprint = MessageImprint {
        hash_algorithm: spki::AlgorithmIdentifier {
            oid: hash.oid(),
            parameters: None,
        },
        hashed_message: OctetString::new(digest).map_err(der_err)?,
    };
    let req = TimeStampReq {
        version: TspVersion::V1,
        message_imprint: imprint.clone(),
        req_policy: None,
        nonce: Some(nonce.clone()),
        cert_req: true,
        extensions: None,
    };
    let resp_der = tsa.post(&req.to_der().map_err(der_err)?)?;
    let resp = TimeStampResp::from_der(&resp_der).map_err(|e| {
        PdfError::Cms(format!(
            "the timestamp authority's answer is not a TimeStampResp: {e}"
        ))
    })?;
    let status = resp.status.status as u32;
    if status > 1 {
        return Err(PdfError::Cms(format!(
            "the timestamp authority refused the request (status {status})"
        )));
    }
    let token = resp
        .time_stamp_token
        .ok_or_else(|| PdfError::Cms("the timestamp authority sent no token".into()))?;
    let token_der = token.to_der().map_err(der_err)?;
    let info = tst_info(&token_der)?;
    if info.message_imprint.hashed_message != imprint.hashed_message
        || info.message_imprint.hash_algorithm.oid != imprint.hash_algorithm.oid
    {
        return Err(PdfError::Cms(
            "the timestamp does not cover the requested digest".into(),
        ));
    }
    if info.nonce.as_ref() != Some(&nonce) {
        return Err(PdfError::Cms(
            "the timestamp's nonce does not match the request".into(),
        ));
    }
    Ok(token_der)
}

/// The TSTInfo inside a TimeStampToken.
pub fn tst_info(token_der: &[u8]) -> Result<TstInfo> {
    let parsed = ParsedCms::parse(token_der)?;
    let encap = &parsed.signed_data.encap_content_info;
    if encap.econtent_type != ID_CT_TSTINFO {
        return Err(PdfError::Cms("the token does not hold a TSTInfo".into()));
    }
    let content = encap
        .econtent
        .as_ref()
        .ok_or_else(|| PdfError::Cms("the token has no TSTInfo".into()))?;
    let os: OctetString = content.decode_as().map_err(der_err)?;
    TstInfo::from_der(os.as_bytes()).map_err(der_err)
}

// ---------------------------------------------------------------------------------------------
// Revocation data

/// Certificates, OCSP responses and CRLs (all DER) for a DSS.
#[derive(Clone, Debug, Default)]
pub struct ValidationData {
    pub certs: Vec<Vec<u8>>,
    pub ocsps: Vec<Vec<u8>>,
    pub crls: Vec<Vec<u8>>,
    /// Certificates (DER) whose revocation data is already here.
    pub covered: Vec<Vec<u8>>,
}

impl ValidationData {
    fn add_cert(&mut self, der: Vec<u8>) {
        if !self.certs.contains(&der) {
            self.certs.push(der);
        }
    }
}

fn sha1(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, data)
        .as_ref()
        .to_vec()
}

/// The OCSP CertID of `cert` (SHA-1, as responders universally accept).
pub fn cert_id(cert: &Certificate, issuer: &Certificate) -> Result<CertId> {
    let name = issuer.tbs_certificate.subject.to_der().map_err(der_err)?;
    let key = issuer
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    Ok(CertId {
        hash_algorithm: AlgorithmIdentifierOwned {
            oid: const_oid::db::rfc5912::ID_SHA_1,
            parameters: Some(der::Any::null()),
        },
        issuer_name_hash: OctetString::new(sha1(&name)).map_err(der_err)?,
        issuer_key_hash: OctetString::new(sha1(key)).map_err(der_err)?,
        serial_number: cert.tbs_certificate.serial_number.clone(),
    })
}

/// The certificate's OCSP responder URL (AIA).
pub fn ocsp_url(c: &Certificate) -> Option<String> {
    let aia: AuthorityInfoAccessSyntax =
        crate::cms::extension(c, const_oid::db::rfc5280::ID_PE_AUTHORITY_INFO_ACCESS)?;
    aia.0
        .iter()
        .find(|ad| ad.access_method == ID_AD_OCSP)
        .and_then(|ad| match &ad.access_location {
            GeneralName::UniformResourceIdentifier(u) => Some(u.to_string()),
            _ => None,
        })
}

/// The certificate's first CRL distribution point URL.
pub fn crl_url(c: &Certificate) -> Option<String> {
    use x509_cert::ext::pkix::name::DistributionPointName;
    let dps: CrlDistributionPoints =
        crate::cms::extension(c, const_oid::db::rfc5280::ID_CE_CRL_DISTRIBUTION_POINTS)?;
    dps.0.iter().find_map(|dp| match &dp.distribution_point {
        Some(DistributionPointName::FullName(names)) => names.iter().find_map(|n| match n {
            GeneralName::UniformResourceIdentifier(u) => Some(u.to_string()),
            _ => None,
        }),
        _ => None,
    })
}

pub(crate) fn is_self_signed(c: &Certificate) -> bool {
    c.tbs_certificate.subject == c.tbs_certificate.issuer
}

/// Builds a DER OCSPRequest for `cert`.
pub fn ocsp_request(cert: &Certificate, issuer: &Certificate) -> Result<Vec<u8>> {
    let req = OcspRequest {
        tbs_request: TbsRequest {
            version: Version::V1,
            requestor_name: None,
            request_list: vec![Request {
                req_cert: cert_id(cert, issuer)?,
                single_request_extensions: None,
            }],
            request_extensions: None,
        },
        optional_signature: None,
    };
    req.to_der().map_err(der_err)
}

/// The BasicOCSPResponse inside a successful OCSPResponse.
pub fn basic_ocsp(response_der: &[u8]) -> Result<BasicOcspResponse> {
    let resp = OcspResponse::from_der(response_der)
        .map_err(|e| PdfError::Cms(format!("bad OCSP response: {e}")))?;
    if resp.response_status != OcspResponseStatus::Successful {
        return Err(PdfError::Cms(format!(
            "the OCSP responder answered {:?}",
            resp.response_status
        )));
    }
    let bytes = resp
        .response_bytes
        .ok_or_else(|| PdfError::Cms("empty OCSP response".into()))?;
    if bytes.response_type != ID_PKIX_OCSP_BASIC {
        return Err(PdfError::Cms("unsupported OCSP response type".into()));
    }
    BasicOcspResponse::from_der(bytes.response.as_bytes()).map_err(der_err)
}

/// Gathers revocation data for every certificate in `pool` that needs it (all but self-signed
/// roots) and that `known` does not cover yet: OCSP first, the CRL when there is no OCSP
/// answer. Certificates named in the answers (OCSP responders) join the certificate list.
///
/// AdES validators take revocation data only when issued after the signature or timestamp it
/// serves, so this runs after signing, and again after a document timestamp.
pub fn collect(
    pool: &[Certificate],
    transport: &dyn RevocationTransport,
    known: &ValidationData,
) -> Result<ValidationData> {
    let mut data = known.clone();
    for c in pool {
        data.add_cert(c.to_der().map_err(der_err)?);
    }
    let mut done = BTreeSet::new();
    for cert in pool {
        if is_self_signed(cert) {
            continue;
        }
        let key = cert.to_der().map_err(der_err)?;
        if data.covered.contains(&key) || !done.insert(key.clone()) {
            continue;
        }
        let issuer = pool
            .iter()
            .find(|i| i.tbs_certificate.subject == cert.tbs_certificate.issuer && *i != cert)
            .ok_or_else(|| {
                PdfError::Invalid(format!(
                    "the issuer of {} is not known",
                    cert.tbs_certificate.subject
                ))
            })?;
        let mut got = false;
        let mut why = String::new();
        if let Some(url) = ocsp_url(cert) {
            match ocsp_request(cert, issuer).and_then(|r| transport.ocsp(&url, &r)) {
                Ok(resp) => match basic_ocsp(&resp) {
                    Ok(basic) => {
                        for c in basic.certs.iter().flatten() {
                            data.add_cert(c.to_der().map_err(der_err)?);
                        }
                        data.ocsps.push(resp);
                        got = true;
                    }
                    Err(e) => why = e.to_string(),
                },
                Err(e) => why = e.to_string(),
            }
        }
        if !got {
            if let Some(url) = crl_url(cert) {
                match transport.get(&url) {
                    Ok(crl) => {
                        if !data.crls.contains(&crl) {
                            data.crls.push(crl);
                        }
                        got = true;
                    }
                    Err(e) => why = e.to_string(),
                }
            }
        }
        if got {
            data.covered.push(key);
        } else {
            return Err(PdfError::Invalid(format!(
                "no revocation data could be obtained for {}{}",
                cert.tbs_certificate.subject,
                if why.is_empty() {
                    " (it names no OCSP responder or CRL)".to_string()
                } else {
                    format!(": {why}")
                }
            )));
        }
    }
    Ok(data)
}

/// The certificates a signature relies on: its CMS's, and those in its signature timestamp.
fn signature_certificates(contents: &[u8]) -> Result<Vec<Certificate>> {
    let parsed = ParsedCms::parse(contents)?;
    let mut certs = parsed.certificates.clone();
    if let Ok(Some(token)) = parsed.unsigned_attr(crate::cms::ID_AA_TIME_STAMP_TOKEN) {
        let token = token.to_der().map_err(der_err)?;
        certs.extend(ParsedCms::parse(&token)?.certificates);
    }
    Ok(certs)
}

/// Adds (or extends) the Document Security Store with validation data for every signature and
/// document timestamp in the file, as an incremental update (PAdES B-LT). `extra` are further
/// certificates to include (e.g. trust anchors, so the chain is complete offline).
pub fn add_dss<S: Source, W: Write>(
    src: S,
    out: W,
    transport: &dyn RevocationTransport,
    extra: &[Certificate],
    known: &ValidationData,
) -> Result<()> {
    let doc = Document::open(src)?;
    if doc.repaired {
        return Err(PdfError::DamagedSigned);
    }
    let root_ref = doc.root_ref()?;
    let mut catalog = doc.catalog()?;
    let mut pool: Vec<Certificate> = extra.to_vec();
    let mut vri_keys = Vec::new();
    for sig in crate::verify::signature_dicts(&doc)? {
        let Some(contents) = sig.get("Contents").and_then(Object::as_string) else {
            continue;
        };
        vri_keys.push(hex_upper(&sha1(contents)));
        for c in signature_certificates(contents)? {
            if !pool.contains(&c) {
                pool.push(c);
            }
        }
    }
    if vri_keys.is_empty() {
        return Err(PdfError::Invalid(
            "the document has no signature to add validation data for".into(),
        ));
    }
    let data = collect(&pool, transport, known)?;

    if doc.size() > u32::MAX - 1024 {
        return Err(PdfError::Damaged(
            "the file has no object numbers left".into(),
        ));
    }
    let mut up = Update {
        next: doc.size(),
        objects: Default::default(),
    };
    let mut dss = match doc.lookup(&catalog, "DSS")? {
        Some(Object::Dict(d)) => d,
        _ => Dict::new(),
    };
    let refs_for =
        |up: &mut Update, key: &str, items: &[Vec<u8>], dss: &mut Dict| -> Result<Vec<Object>> {
            let mut arr = match dss.get(key) {
                Some(o) => match doc.resolve(o)? {
                    Object::Array(a) => a,
                    _ => Vec::new(),
                },
                None => Vec::new(),
            };
            let mut mine = Vec::new();
            for item in items {
                let r = up.alloc();
                let mut d = Dict::new();
                d.set("Filter", Object::name("FlateDecode"));
                up.put_stream(r, &d, &crate::sign::deflate(item));
                arr.push(Object::Ref(r));
                mine.push(Object::Ref(r));
            }
            dss.set(key, arr);
            Ok(mine)
        };
    let certs = refs_for(&mut up, "Certs", &data.certs, &mut dss)?;
    let ocsps = refs_for(&mut up, "OCSPs", &data.ocsps, &mut dss)?;
    let crls = refs_for(&mut up, "CRLs", &data.crls, &mut dss)?;
    let mut vri = match dss.get("VRI") {
        Some(o) => match doc.resolve(o)? {
            Object::Dict(d) => d,
            _ => Dict::new(),
        },
        None => Dict::new(),
    };
    // Existing VRI entries stay as they are: validators treat a changed one as tampering.
    for key in vri_keys {
        if vri.get(&key).is_some() {
            continue;
        }
        let mut entry = Dict::new();
        entry.set("Cert", certs.clone());
        if !ocsps.is_empty() {
            entry.set("OCSP", ocsps.clone());
        }
        if !crls.is_empty() {
            entry.set("CRL", crls.clone());
        }
        vri.set(&key, entry);
    }
    dss.set("VRI", vri);
    let dss_ref = match catalog.get("DSS") {
        Some(Object::Ref(r)) => *r,
        _ => up.alloc(),
    };
    up.put(dss_ref, &Object::Dict(dss));
    if catalog.get("DSS").and_then(Object::as_ref) != Some(dss_ref) {
        catalog.set("DSS", dss_ref);
        up.put(root_ref, &Object::Dict(catalog));
    }
    append_update(&doc, out, &up)?;
    Ok(())
}

fn hex_upper(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use der::Decode;

    use super::*;

    /// A TSA that parses every request strictly (as Inkan's own does) and counts the
    /// unparsable ones, then declines.
    struct StrictTsa {
        requests: Cell<u32>,
        malformed: Cell<u32>,
    }

    impl TsaTransport for StrictTsa {
        fn post(&self, request: &[u8]) -> Result<Vec<u8>> {
            self.requests.set(self.requests.get() + 1);
            if x509_tsp::TimeStampReq::from_der(request).is_err() {
                self.malformed.set(self.malformed.get() + 1);
            }
            Err(PdfError::Invalid("declined".into()))
        }
    }

    /// A random nonce must never start with a zero octet before one below 0x80 (not DER):
    /// before the fix, one request in 256 was malformed, so 3,000 find it almost surely.
    #[test]
    fn every_timestamp_request_is_valid_der() {
        let tsa = StrictTsa {
            requests: Cell::new(0),
            malformed: Cell::new(0),
        };
        for _ in 0..3000 {
            let _ = request_timestamp(&tsa, HashAlgorithm::Sha256, &[7u8; 32]);
        }
        assert_eq!(tsa.requests.get(), 3000);
        assert_eq!(tsa.malformed.get(), 0);
    }
}
