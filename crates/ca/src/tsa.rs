//! The RFC 3161 timestamp authority: DER TimeStampReq in, DER TimeStampResp out. A granted
//! response carries a TimeStampToken: CMS SignedData over a TSTInfo (policy, message imprint,
//! unique serial, genTime, accuracy, the nonce echoed) signed by the TSA key, with the ESS
//! signing-certificate-v2 attribute, and the TSA certificate when the request asks (certReq).
//! Bad requests get a "rejection" response with the RFC 3161 failure bit, never an error.

use std::sync::Arc;
use std::time::Duration;

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use const_oid::db::rfc5911::{
    ID_AA_SIGNING_CERTIFICATE_V_2, ID_CONTENT_TYPE, ID_MESSAGE_DIGEST, ID_SIGNED_DATA,
};
use const_oid::db::rfc5912::{ID_SHA_256, ID_SHA_384, ID_SHA_512};
use const_oid::ObjectIdentifier;
use der::asn1::{BitString, GeneralizedTime, Int, OctetString, SetOfVec, Utf8StringRef};
use der::{Any, Decode, Encode, Sequence};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::serial_number::SerialNumber;
use x509_cert::Certificate;
use x509_tsp::{Accuracy, TimeStampReq, TimeStampResp, TspVersion, TstInfo};

use crate::clock::Clock;
use crate::error::Result;
use crate::keystore::{KeyHandle, KeyStore};
use crate::x509::{random_positive, sha256, whole_seconds};

/// id-ct-TSTInfo (RFC 3161 §2.4.2).
pub const ID_CT_TST_INFO: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
/// Requests larger than this are rejected (a real one is under 200 bytes).
pub const MAX_REQUEST_LEN: usize = 16 * 1024;
/// Nonces longer than this are rejected.
const MAX_NONCE_LEN: usize = 64;

/// SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2 } (RFC 5035).
#[derive(Clone, Debug, Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
}

/// ESSCertIDv2 with the hash algorithm left at its default, SHA-256.
#[derive(Clone, Debug, Sequence)]
struct EssCertIdV2 {
    cert_hash: OctetString,
    issuer_serial: IssuerSerial,
}

#[derive(Clone, Debug, Sequence)]
struct IssuerSerial {
    issuer: Vec<GeneralName>,
    serial_number: SerialNumber,
}

/// PKIStatusInfo written with the failure bit numbered as RFC 3161 §2.4.2 numbers it (the
/// `cmpv2` crate's flag values are not bit positions, so rejections are encoded here).
#[derive(Clone, Debug, Sequence)]
struct RejectionStatus<'a> {
    status: u8,
    status_string: Option<Vec<Utf8StringRef<'a>>>,
    fail_info: Option<BitString>,
}

#[derive(Clone, Debug, Sequence)]
struct RejectionResp<'a> {
    status: RejectionStatus<'a>,
}

/// PKIFailureInfo bits a TSA uses (RFC 3161 §2.4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsaFailure {
    /// Unrecognized or unsupported hash algorithm.
    BadAlg = 0,
    /// Transaction not permitted or supported.
    BadRequest = 2,
    /// The data submitted has the wrong format.
    BadDataFormat = 5,
    /// The requested TSA policy is not supported.
    UnacceptedPolicy = 15,
    /// The requested extension is not supported.
    UnacceptedExtension = 16,
    /// The request cannot be handled due to system failure.
    SystemFailure = 25,
}

/// The rejection response for `failure`, with `text` as its status string.
pub fn rejection(failure: TsaFailure, text: &str) -> Result<Vec<u8>> {
    let bit = failure as usize;
    let mut bytes = vec![0u8; bit / 8 + 1];
    bytes[bit / 8] = 0x80 >> (bit % 8);
    let resp = RejectionResp {
        status: RejectionStatus {
            status: 2, // rejection
            status_string: Some(vec![Utf8StringRef::new(text)?]),
            fail_info: Some(BitString::new((7 - bit % 8) as u8, bytes)?),
        },
    };
    Ok(resp.to_der()?)
}

/// Issues RFC 3161 timestamps.
#[derive(Debug, Clone)]
pub struct TimestampAuthority {
    cert: Certificate,
    chain: Vec<Certificate>,
    key: KeyHandle,
    keys: Arc<dyn KeyStore>,
    clock: Arc<dyn Clock>,
    policy: ObjectIdentifier,
    accuracy: Duration,
    ess: Vec<u8>,
}

impl TimestampAuthority {
    /// A TSA signing as `cert` with `key`, under `policy`, claiming `accuracy`. `chain` (issuer
    /// certificates, nearest first) goes into tokens with the TSA certificate when asked.
    pub fn new(
        cert: Certificate,
        chain: Vec<Certificate>,
        key: KeyHandle,
        keys: Arc<dyn KeyStore>,
        clock: Arc<dyn Clock>,
        policy: ObjectIdentifier,
        accuracy: Duration,
    ) -> Result<Self> {
        let ess = SigningCertificateV2 {
            certs: vec![EssCertIdV2 {
                cert_hash: OctetString::new(sha256(&cert.to_der()?))?,
                issuer_serial: IssuerSerial {
                    issuer: vec![GeneralName::DirectoryName(
                        cert.tbs_certificate.issuer.clone(),
                    )],
                    serial_number: cert.tbs_certificate.serial_number.clone(),
                },
            }],
        }
        .to_der()?;
        Ok(TimestampAuthority {
            cert,
            chain,
            key,
            keys,
            clock,
            policy,
            accuracy,
            ess,
        })
    }

    /// The policy OID put in every TSTInfo.
    pub fn policy(&self) -> ObjectIdentifier {
        self.policy
    }

    /// Answers a DER TimeStampReq. Bad requests get a DER rejection (HTTP 200 with
    /// status "rejection", as RFC 3161 wants); `Err` means the TSA itself failed (HTTP 500).
    pub fn respond(&self, query_der: &[u8]) -> Result<Vec<u8>> {
        if query_der.len() > MAX_REQUEST_LEN {
            return rejection(TsaFailure::BadDataFormat, "request too large");
        }
        let Ok(req) = TimeStampReq::from_der(query_der) else {
            return rejection(TsaFailure::BadDataFormat, "not a DER TimeStampReq");
        };
        let want_len = match req.message_imprint.hash_algorithm.oid {
            ID_SHA_256 => 32,
            ID_SHA_384 => 48,
            ID_SHA_512 => 64,
            _ => return rejection(TsaFailure::BadAlg, "use SHA-256, SHA-384 or SHA-512"),
        };
        if req.message_imprint.hashed_message.as_bytes().len() != want_len {
            return rejection(
                TsaFailure::BadDataFormat,
                "hash length does not match its algorithm",
            );
        }
        if req.req_policy.is_some_and(|p| p != self.policy) {
            return rejection(TsaFailure::UnacceptedPolicy, "unsupported policy");
        }
        if req.extensions.as_ref().is_some_and(|e| !e.is_empty()) {
            return rejection(
                TsaFailure::UnacceptedExtension,
                "no extensions are supported",
            );
        }
        if req
            .nonce
            .as_ref()
            .is_some_and(|n| n.as_bytes().len() > MAX_NONCE_LEN)
        {
            return rejection(TsaFailure::BadDataFormat, "nonce too long");
        }
        let token = self.token(&req)?;
        let resp = TimeStampResp {
            status: cmpv2::status::PkiStatusInfo {
                status: cmpv2::status::PkiStatus::Accepted,
                status_string: None,
                fail_info: None,
            },
            time_stamp_token: Some(token),
        };
        Ok(resp.to_der()?)
    }

    fn token(&self, req: &TimeStampReq) -> Result<ContentInfo> {
        let now = whole_seconds(self.clock.now());
        let acc = self.accuracy;
        let tst = TstInfo {
            version: TspVersion::V1,
            policy: self.policy,
            message_imprint: req.message_imprint.clone(),
            // 128 random bits: unique without shared state between processes.
            serial_number: Int::new(&random_positive(16)?)?,
            gen_time: GeneralizedTime::from_system_time(now)?,
            accuracy: Some(Accuracy {
                seconds: (acc.as_secs() > 0).then_some(acc.as_secs()),
                millis: (acc.subsec_millis() > 0).then_some(acc.subsec_millis() as i16),
                micros: None,
            }),
            ordering: false,
            nonce: req.nonce.clone(),
            tsa: Some(GeneralName::DirectoryName(
                self.cert.tbs_certificate.subject.clone(),
            )),
            extensions: None,
        };
        let tst_der = tst.to_der()?;
        let attr = |oid, value: Any| -> Result<Attribute> {
            Ok(Attribute {
                oid,
                values: SetOfVec::try_from(vec![value])?,
            })
        };
        let signed = SetOfVec::try_from(vec![
            attr(ID_CONTENT_TYPE, Any::encode_from(&ID_CT_TST_INFO)?)?,
            attr(
                ID_MESSAGE_DIGEST,
                Any::encode_from(&OctetString::new(sha256(&tst_der))?)?,
            )?,
            attr(ID_AA_SIGNING_CERTIFICATE_V_2, Any::from_der(&self.ess)?)?,
        ])?;
        let signature = self.keys.sign(&self.key, &signed.to_der()?)?;
        let sha256_id = AlgorithmIdentifierOwned {
            oid: ID_SHA_256,
            parameters: None,
        };
        let info = SignerInfo {
            version: CmsVersion::V1,
            sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: self.cert.tbs_certificate.issuer.clone(),
                serial_number: self.cert.tbs_certificate.serial_number.clone(),
            }),
            digest_alg: sha256_id.clone(),
            signed_attrs: Some(signed),
            signature_algorithm: self.key.algorithm().signature_algorithm(),
            signature: OctetString::new(signature)?,
            unsigned_attrs: None,
        };
        // RFC 3161 §2.4.1: certReq asks for the TSA certificate; its issuers are added so that
        // verifiers holding only the root can build the chain.
        let certificates = if req.cert_req {
            let all = std::iter::once(&self.cert).chain(&self.chain);
            Some(CertificateSet(SetOfVec::try_from(
                all.cloned()
                    .map(CertificateChoices::Certificate)
                    .collect::<Vec<_>>(),
            )?))
        } else {
            None
        };
        let data = SignedData {
            // RFC 5652 §5.1: version 3 when the content type is not id-data.
            version: CmsVersion::V3,
            digest_algorithms: SetOfVec::try_from(vec![sha256_id])?,
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: ID_CT_TST_INFO,
                econtent: Some(Any::encode_from(&OctetString::new(tst_der)?)?),
            },
            certificates,
            crls: None,
            signer_infos: SignerInfos(SetOfVec::try_from(vec![info])?),
        };
        Ok(ContentInfo {
            content_type: ID_SIGNED_DATA,
            content: Any::encode_from(&data)?,
        })
    }
}
