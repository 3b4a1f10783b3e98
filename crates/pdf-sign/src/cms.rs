//! CMS SignedData for PAdES (ETSI EN 319 122-1 baseline B-B): detached, with content-type,
//! message-digest and ESS signing-certificate-v2 signed attributes and no signing-time.
//!
//! Types come from RustCrypto's `cms` and `x509-cert`; only the ESS attribute is declared here.

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use const_oid::db::rfc5911::{ID_CONTENT_TYPE, ID_DATA, ID_MESSAGE_DIGEST, ID_SIGNED_DATA};
use const_oid::db::rfc5912;
use der::asn1::{Any, ObjectIdentifier, OctetString, SetOfVec};
use der::{Decode, Encode, Sequence};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::serial_number::SerialNumber;
use x509_cert::Certificate;

use crate::error::{PdfError, Result};
use crate::keys::{HashAlgorithm, SignatureScheme, Signer};

pub use cms::content_info::ContentInfo as ContentInfoAlias;

/// id-aa-signingCertificateV2 (RFC 5035).
pub const ID_AA_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
/// id-aa-signatureTimeStampToken (RFC 3161 appendix A).
pub const ID_AA_TIME_STAMP_TOKEN: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.14");
/// id-signingTime: forbidden in PAdES baseline signatures.
pub const ID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
const ID_RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const ID_MGF1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, policies ... OPTIONAL }
#[derive(Clone, Debug, Sequence)]
pub struct SigningCertificateV2 {
    pub certs: Vec<EssCertIdV2>,
}

/// ESSCertIDv2 ::= SEQUENCE { hashAlgorithm DEFAULT sha256, certHash, issuerSerial OPTIONAL }
#[derive(Clone, Debug, Sequence)]
pub struct EssCertIdV2 {
    #[asn1(optional = "true")]
    pub hash_algorithm: Option<AlgorithmIdentifierOwned>,
    pub cert_hash: OctetString,
    #[asn1(optional = "true")]
    pub issuer_serial: Option<IssuerSerial>,
}

#[derive(Clone, Debug, Sequence)]
pub struct IssuerSerial {
    pub issuer: Vec<GeneralName>,
    pub serial_number: SerialNumber,
}

/// RSASSA-PSS-params (RFC 4055), with every field given explicitly.
#[derive(Clone, Debug, Sequence)]
struct PssParams {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    hash: AlgorithmIdentifierOwned,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT")]
    mgf: AlgorithmIdentifierOwned,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT")]
    salt_len: u32,
}

fn cms_err(e: impl std::fmt::Display) -> PdfError {
    PdfError::Cms(e.to_string())
}

fn hash_alg_id(hash: HashAlgorithm) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: hash.oid(),
        parameters: None,
    }
}

fn signature_alg_id(
    scheme: SignatureScheme,
    hash: HashAlgorithm,
) -> Result<AlgorithmIdentifierOwned> {
    let null = Some(Any::null());
    Ok(match scheme {
        SignatureScheme::RsaPkcs1 => AlgorithmIdentifierOwned {
            oid: match hash {
                HashAlgorithm::Sha256 => rfc5912::SHA_256_WITH_RSA_ENCRYPTION,
                HashAlgorithm::Sha384 => rfc5912::SHA_384_WITH_RSA_ENCRYPTION,
                HashAlgorithm::Sha512 => rfc5912::SHA_512_WITH_RSA_ENCRYPTION,
            },
            parameters: null,
        },
        SignatureScheme::RsaPss => {
            let hash_id = AlgorithmIdentifierOwned {
                oid: hash.oid(),
                parameters: null,
            };
            let mgf_param = Any::encode_from(&hash_id).map_err(cms_err)?;
            let params = PssParams {
                hash: hash_id,
                mgf: AlgorithmIdentifierOwned {
                    oid: ID_MGF1,
                    parameters: Some(mgf_param),
                },
                salt_len: hash.output_len() as u32,
            };
            AlgorithmIdentifierOwned {
                oid: ID_RSASSA_PSS,
                parameters: Some(Any::encode_from(&params).map_err(cms_err)?),
            }
        }
        SignatureScheme::EcdsaP256 | SignatureScheme::EcdsaP384 => AlgorithmIdentifierOwned {
            oid: match hash {
                HashAlgorithm::Sha256 => rfc5912::ECDSA_WITH_SHA_256,
                HashAlgorithm::Sha384 => rfc5912::ECDSA_WITH_SHA_384,
                HashAlgorithm::Sha512 => rfc5912::ECDSA_WITH_SHA_512,
            },
            parameters: None,
        },
    })
}

/// The signed attributes of a PAdES signature over a document digest.
fn signed_attributes(
    signer_cert: &Certificate,
    signer_der: &[u8],
    hash: HashAlgorithm,
    document_digest: &[u8],
) -> Result<SetOfVec<Attribute>> {
    let attr = |oid, value: Any| -> Result<Attribute> {
        Ok(Attribute {
            oid,
            values: SetOfVec::try_from(vec![value]).map_err(cms_err)?,
        })
    };
    let ess = SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            // DER omits the default (SHA-256).
            hash_algorithm: (hash != HashAlgorithm::Sha256).then(|| hash_alg_id(hash)),
            cert_hash: OctetString::new(hash.digest(signer_der)).map_err(cms_err)?,
            issuer_serial: Some(IssuerSerial {
                issuer: vec![GeneralName::DirectoryName(
                    signer_cert.tbs_certificate.issuer.clone(),
                )],
                serial_number: signer_cert.tbs_certificate.serial_number.clone(),
            }),
        }],
    };
    let attrs = vec![
        attr(
            ID_CONTENT_TYPE,
            Any::encode_from(&ID_DATA).map_err(cms_err)?,
        )?,
        attr(
            ID_MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(document_digest).map_err(cms_err)?)
                .map_err(cms_err)?,
        )?,
        attr(
            ID_AA_SIGNING_CERTIFICATE_V2,
            Any::encode_from(&ess).map_err(cms_err)?,
        )?,
    ];
    SetOfVec::try_from(attrs).map_err(cms_err)
}

/// Makes the DER of a detached CMS SignedData over `document_digest`. With `dry_run` no private
/// key is used and the signature is a placeholder of the key's maximum length, which gives the
/// largest size the real structure can have.
pub fn build(
    signer: &dyn Signer,
    hash: HashAlgorithm,
    document_digest: &[u8],
    unsigned: Option<Vec<Attribute>>,
    dry_run: bool,
) -> Result<Vec<u8>> {
    build_with(signer, hash, document_digest, dry_run, |_| Ok(unsigned))
}

/// Builds the CMS with a signature timestamp (PAdES B-T): `timestamp` gets the signature value
/// and returns a TimeStampToken over it, which becomes an unsigned attribute.
pub fn build_timestamped(
    signer: &dyn Signer,
    hash: HashAlgorithm,
    document_digest: &[u8],
    timestamp: impl FnOnce(&[u8]) -> Result<Vec<u8>>,
) -> Result<Vec<u8>> {
    build_with(signer, hash, document_digest, false, |signature| {
        let token = Any::from_der(&timestamp(signature)?).map_err(cms_err)?;
        Ok(Some(vec![Attribute {
            oid: ID_AA_TIME_STAMP_TOKEN,
            values: SetOfVec::try_from(vec![token]).map_err(cms_err)?,
        }]))
    })
}

fn build_with(
    signer: &dyn Signer,
    hash: HashAlgorithm,
    document_digest: &[u8],
    dry_run: bool,
    unsigned: impl FnOnce(&[u8]) -> Result<Option<Vec<Attribute>>>,
) -> Result<Vec<u8>> {
    let chain = signer.certificates();
    let signer_der = chain
        .first()
        .ok_or_else(|| PdfError::Key("no signer certificate".into()))?;
    let certs: Vec<Certificate> = chain
        .iter()
        .map(|c| Certificate::from_der(c).map_err(|e| PdfError::Key(e.to_string())))
        .collect::<Result<_>>()?;
    let signer_cert = &certs[0];
    let signed = signed_attributes(signer_cert, signer_der, hash, document_digest)?;
    let to_sign = signed.to_der().map_err(cms_err)?;
    let signature = if dry_run {
        vec![0xff; signer.max_signature_len()]
    } else {
        signer.sign(hash, &to_sign)?
    };
    let unsigned_attrs = match unsigned(&signature)? {
        Some(u) if !u.is_empty() => Some(SetOfVec::try_from(u).map_err(cms_err)?),
        _ => None,
    };
    let info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: signer_cert.tbs_certificate.issuer.clone(),
            serial_number: signer_cert.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: hash_alg_id(hash),
        signed_attrs: Some(signed),
        signature_algorithm: signature_alg_id(signer.scheme(), hash)?,
        signature: OctetString::new(signature).map_err(cms_err)?,
        unsigned_attrs,
    };
    let mut cert_set = Vec::new();
    for c in certs {
        cert_set.push(CertificateChoices::Certificate(c));
    }
    let data = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![hash_alg_id(hash)]).map_err(cms_err)?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: ID_DATA,
            econtent: None,
        },
        certificates: Some(CertificateSet(
            SetOfVec::try_from(cert_set).map_err(cms_err)?,
        )),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![info]).map_err(cms_err)?),
    };
    let ci = ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&data).map_err(cms_err)?,
    };
    ci.to_der().map_err(cms_err)
}

/// A parsed CMS signature, as found in a PDF's /Contents (trailing zero padding is ignored).
#[derive(Debug)]
pub struct ParsedCms {
    pub signed_data: SignedData,
    pub certificates: Vec<Certificate>,
}

impl ParsedCms {
    pub fn parse(contents: &[u8]) -> Result<Self> {
        let mut reader = der::SliceReader::new(contents).map_err(cms_err)?;
        let ci = <ContentInfo as der::Decode>::decode(&mut reader)
            .map_err(|e| PdfError::Cms(format!("the signature is not a CMS structure: {e}")))?;
        if ci.content_type != ID_SIGNED_DATA {
            return Err(PdfError::Cms("the CMS structure is not SignedData".into()));
        }
        let signed_data: SignedData = ci.content.decode_as().map_err(cms_err)?;
        let certificates = signed_data
            .certificates
            .as_ref()
            .map(|set| {
                set.0
                    .iter()
                    .filter_map(|c| match c {
                        CertificateChoices::Certificate(c) => Some(c.clone()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            signed_data,
            certificates,
        })
    }

    pub fn signer_info(&self) -> Result<&SignerInfo> {
        let infos = &self.signed_data.signer_infos.0;
        if infos.len() != 1 {
            return Err(PdfError::Cms(format!(
                "expected one signer, found {}",
                infos.len()
            )));
        }
        infos
            .get(0)
            .ok_or_else(|| PdfError::Cms("no signer".into()))
    }

    /// The signer's certificate, found by the SignerInfo's identifier.
    pub fn signer_certificate(&self) -> Result<&Certificate> {
        let info = self.signer_info()?;
        self.certificates
            .iter()
            .find(|c| match &info.sid {
                SignerIdentifier::IssuerAndSerialNumber(ias) => {
                    c.tbs_certificate.issuer == ias.issuer
                        && c.tbs_certificate.serial_number == ias.serial_number
                }
                SignerIdentifier::SubjectKeyIdentifier(ski) => {
                    subject_key_id(c).is_some_and(|id| id == ski.0.as_bytes())
                }
            })
            .ok_or_else(|| PdfError::Cms("the signer's certificate is not in the signature".into()))
    }

    pub fn signed_attr(&self, oid: ObjectIdentifier) -> Result<Option<Any>> {
        let info = self.signer_info()?;
        Ok(info.signed_attrs.as_ref().and_then(|attrs| {
            attrs
                .iter()
                .find(|a| a.oid == oid)
                .and_then(|a| a.values.get(0).cloned())
        }))
    }

    pub fn has_signed_attr(&self, oid: ObjectIdentifier) -> bool {
        self.signed_attr(oid).ok().flatten().is_some()
    }

    pub fn unsigned_attr(&self, oid: ObjectIdentifier) -> Result<Option<Any>> {
        let info = self.signer_info()?;
        Ok(info.unsigned_attrs.as_ref().and_then(|attrs| {
            attrs
                .iter()
                .find(|a| a.oid == oid)
                .and_then(|a| a.values.get(0).cloned())
        }))
    }

    pub fn digest_algorithm(&self) -> Result<HashAlgorithm> {
        let info = self.signer_info()?;
        HashAlgorithm::from_oid(&info.digest_alg.oid).ok_or_else(|| {
            PdfError::Cms(format!(
                "unsupported digest algorithm {}",
                info.digest_alg.oid
            ))
        })
    }

    /// The message-digest signed attribute.
    pub fn message_digest(&self) -> Result<Vec<u8>> {
        let any = self
            .signed_attr(ID_MESSAGE_DIGEST)?
            .ok_or_else(|| PdfError::Cms("no message-digest attribute".into()))?;
        let os: OctetString = any.decode_as().map_err(cms_err)?;
        Ok(os.as_bytes().to_vec())
    }

    /// Checks the signature over the signed attributes with the signer certificate's key.
    pub fn verify_signature(&self) -> Result<()> {
        let info = self.signer_info()?;
        let cert = self.signer_certificate()?;
        let attrs = info
            .signed_attrs
            .as_ref()
            .ok_or_else(|| PdfError::Cms("no signed attributes".into()))?;
        let message = attrs.to_der().map_err(cms_err)?;
        let hash = self.digest_algorithm()?;
        verify_with_key(
            &cert.tbs_certificate.subject_public_key_info,
            &info.signature_algorithm,
            hash,
            &message,
            info.signature.as_bytes(),
        )
    }
}

/// Verifies `signature` over `message` with a public key, for the algorithms PAdES uses.
pub fn verify_with_key(
    spki: &spki::SubjectPublicKeyInfoOwned,
    alg: &AlgorithmIdentifierOwned,
    hash: HashAlgorithm,
    message: &[u8],
    signature_bytes: &[u8],
) -> Result<()> {
    let key_oid = spki.algorithm.oid;
    let ec_curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    let sig_hash = match alg.oid {
        o if o == rfc5912::SHA_256_WITH_RSA_ENCRYPTION || o == rfc5912::ECDSA_WITH_SHA_256 => {
            HashAlgorithm::Sha256
        }
        o if o == rfc5912::SHA_384_WITH_RSA_ENCRYPTION || o == rfc5912::ECDSA_WITH_SHA_384 => {
            HashAlgorithm::Sha384
        }
        o if o == rfc5912::SHA_512_WITH_RSA_ENCRYPTION || o == rfc5912::ECDSA_WITH_SHA_512 => {
            HashAlgorithm::Sha512
        }
        o if o == ID_RSASSA_PSS => alg
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<PssParams>().ok())
            .and_then(|p| HashAlgorithm::from_oid(&p.hash.oid))
            .unwrap_or(hash),
        // rsaEncryption and ecPublicKey as signature algorithms use the digest algorithm.
        _ => hash,
    };
    let verifier: &'static dyn VerificationAlgorithm = if key_oid == RSA_ENCRYPTION {
        match (alg.oid == ID_RSASSA_PSS, sig_hash) {
            (false, HashAlgorithm::Sha256) => &signature::RSA_PKCS1_2048_8192_SHA256,
            (false, HashAlgorithm::Sha384) => &signature::RSA_PKCS1_2048_8192_SHA384,
            (false, HashAlgorithm::Sha512) => &signature::RSA_PKCS1_2048_8192_SHA512,
            (true, HashAlgorithm::Sha256) => &signature::RSA_PSS_2048_8192_SHA256,
            (true, HashAlgorithm::Sha384) => &signature::RSA_PSS_2048_8192_SHA384,
            (true, HashAlgorithm::Sha512) => &signature::RSA_PSS_2048_8192_SHA512,
        }
    } else if key_oid == rfc5912::ID_EC_PUBLIC_KEY {
        match (ec_curve, sig_hash) {
            (Some(c), HashAlgorithm::Sha256) if c == rfc5912::SECP_256_R_1 => {
                &signature::ECDSA_P256_SHA256_ASN1
            }
            (Some(c), HashAlgorithm::Sha384) if c == rfc5912::SECP_256_R_1 => {
                &signature::ECDSA_P256_SHA384_ASN1
            }
            (Some(c), HashAlgorithm::Sha512) if c == rfc5912::SECP_256_R_1 => {
                &signature::ECDSA_P256_SHA512_ASN1
            }
            (Some(c), HashAlgorithm::Sha256) if c == rfc5912::SECP_384_R_1 => {
                &signature::ECDSA_P384_SHA256_ASN1
            }
            (Some(c), HashAlgorithm::Sha384) if c == rfc5912::SECP_384_R_1 => {
                &signature::ECDSA_P384_SHA384_ASN1
            }
            (Some(c), HashAlgorithm::Sha512) if c == rfc5912::SECP_384_R_1 => {
                &signature::ECDSA_P384_SHA512_ASN1
            }
            _ => return Err(PdfError::Cms("unsupported elliptic curve".into())),
        }
    } else {
        return Err(PdfError::Cms(format!(
            "unsupported public key algorithm {key_oid}"
        )));
    };
    UnparsedPublicKey::new(verifier, spki.subject_public_key.raw_bytes())
        .verify(message, signature_bytes)
        .map_err(|_| PdfError::Cms("the signature value does not verify".into()))
}

/// The certificate extension `oid`, decoded as `T`.
pub(crate) fn extension<'a, T: Decode<'a>>(c: &'a Certificate, oid: ObjectIdentifier) -> Option<T> {
    let ext = c
        .tbs_certificate
        .extensions
        .as_ref()?
        .iter()
        .find(|e| e.extn_id == oid)?;
    T::from_der(ext.extn_value.as_bytes()).ok()
}

/// The certificate's subject key identifier extension, if any.
pub fn subject_key_id(cert: &Certificate) -> Option<Vec<u8>> {
    use x509_cert::ext::pkix::SubjectKeyIdentifier;
    let exts = cert.tbs_certificate.extensions.as_ref()?;
    let ext = exts
        .iter()
        .find(|e| e.extn_id == const_oid::db::rfc5280::ID_CE_SUBJECT_KEY_IDENTIFIER)?;
    let ski = SubjectKeyIdentifier::from_der(ext.extn_value.as_bytes()).ok()?;
    Some(ski.0.as_bytes().to_vec())
}
