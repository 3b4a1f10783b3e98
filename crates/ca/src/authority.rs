//! The certificate authority: [`Authority::init`] makes the root CA, the issuing CA, the TSA
//! certificate and the OCSP-signing certificate; then it issues, renews, changes and revokes
//! signer certificates, imports external ones from PKCS#12, and keeps the CRLs current. Every
//! private key stays in the [`KeyStore`]; every certificate goes to the [`CertStore`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use const_oid::db::rfc4519;
use const_oid::db::rfc5280::{
    ID_AD_CA_ISSUERS, ID_AD_OCSP, ID_KP_EMAIL_PROTECTION, ID_KP_OCSP_SIGNING, ID_KP_TIME_STAMPING,
};
use const_oid::ObjectIdentifier;
use der::asn1::{Null, OctetString};
use der::{Decode, Encode};
use serde::{Deserialize, Serialize};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AccessDescription, AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints,
    CrlDistributionPoints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName,
    SubjectKeyIdentifier,
};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::time::Validity;
use x509_cert::{Certificate, TbsCertificate, Version};

use crate::application::{Country, NameBuilder, SignerApplication};
use crate::certstore::{CertKind, CertRecord, CertStore, Revocation, RevocationReason, Serial};
use crate::clock::Clock;
use crate::crl::{self, CrlIssuer, RevokedEntry};
use crate::error::{CaError, Result};
use crate::keystore::sealed::{generate_pkcs8, OpenKey};
use crate::keystore::{KeyAlgorithm, KeyHandle, KeyStore};
use crate::ocsp::OcspResponder;
use crate::pin::Recipient;
use crate::tsa::TimestampAuthority;
use crate::x509::{
    extension, from_unix_seconds, ia5, key_identifier, random_positive, random_serial,
    sign_certificate, spki_from_der, unix_seconds, whole_seconds, x509_time,
};

/// id-kp-documentSigning (RFC 9336).
pub const ID_KP_DOCUMENT_SIGNING: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.36");
/// Adobe Authentic Documents Trust (the PDF reader's "document signing" usage).
pub const ID_ADOBE_AUTHENTIC_DOCUMENTS: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113583.1.1.5");
/// id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1).
pub const ID_PKIX_OCSP_NOCHECK: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.5");
/// The TSA policy used when none is configured. A placeholder under IANA's reserved
/// enterprise number 0: an operator publishing a timestamp policy sets their own OID.
pub const DEFAULT_TSA_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.0.1");

/// Certificates start this long before they are issued, for verifiers whose clocks run behind.
const BACKDATE: Duration = Duration::from_secs(60);
const DAY: u64 = 24 * 60 * 60;

/// Where the CA publishes itself: `http(s)://host[:port][/path]`, no trailing slash. Every
/// certificate's OCSP, CA-issuers and CRL URLs are built from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BaseUrl(String);

impl BaseUrl {
    /// Parses an absolute http or https URL without query or fragment.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim().trim_end_matches('/');
        let bad = |why: &str| CaError::invalid("base URL", format!("{s:?}: {why}"));
        let rest = s
            .strip_prefix("http://")
            .or_else(|| s.strip_prefix("https://"))
            .ok_or_else(|| bad("must start with http:// or https://"))?;
        if rest.is_empty() || rest.starts_with('/') {
            return Err(bad("no host"));
        }
        if !s.is_ascii() || s.bytes().any(|b| b <= b' ' || b"?#\"<>\\".contains(&b)) {
            return Err(bad("must be plain ASCII without spaces, query or fragment"));
        }
        Ok(BaseUrl(s.to_owned()))
    }

    /// `base` + `/` + `path`.
    pub fn join(&self, path: &str) -> String {
        format!("{}/{}", self.0, path)
    }

    /// The URL text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for BaseUrl {
    type Error = CaError;
    fn try_from(s: String) -> Result<Self> {
        BaseUrl::parse(&s)
    }
}

impl From<BaseUrl> for String {
    fn from(u: BaseUrl) -> String {
        u.0
    }
}

/// Paths under the base URL, served by the HTTP layer.
pub mod paths {
    /// Issuing CA certificate (DER), the signer certificates' caIssuers.
    pub const CA_CERT: &str = "ca.crt";
    /// Issuing CA's CRL (DER).
    pub const CRL: &str = "crl";
    /// OCSP responder (GET base64 and POST).
    pub const OCSP: &str = "ocsp";
    /// RFC 3161 timestamps (POST application/timestamp-query).
    pub const TSA: &str = "tsa";
    /// Root certificate (DER).
    pub const ROOT_CERT: &str = "root.crt";
    /// Root certificate (PEM), for tools that import only PEM.
    pub const ROOT_CERT_PEM: &str = "root.pem";
    /// Root's CRL (DER), listing revoked issuing CAs.
    pub const ROOT_CRL: &str = "root.crl";
    /// The root's OCSP responder, for the issuing CA's status (GET base64 and POST).
    pub const ROOT_OCSP: &str = "root-ocsp";
}

/// How the CA is set up. [`CaConfig::new`] gives the defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaConfig {
    /// Goes into the CA names: "<organisation> Root CA", "<organisation> Issuing CA", …
    pub organisation: String,
    pub country: Option<Country>,
    pub base_url: BaseUrl,
    /// Algorithm of the CA, TSA and OCSP keys (P-256 by default).
    pub ca_key_algorithm: KeyAlgorithm,
    /// Algorithm of signers' keys (P-256 by default).
    pub signer_key_algorithm: KeyAlgorithm,
    pub root_validity: Duration,
    pub issuing_validity: Duration,
    /// TSA and OCSP-signing certificates.
    pub service_validity: Duration,
    pub signer_validity: Duration,
    /// From a CRL's thisUpdate to its nextUpdate; it is rebuilt at half that age.
    pub crl_validity: Duration,
    /// From an OCSP response's thisUpdate to its nextUpdate.
    pub ocsp_validity: Duration,
    pub tsa_policy: ObjectIdentifier,
    pub tsa_accuracy: Duration,
}

impl CaConfig {
    /// Defaults: P-256 everywhere, root 20 years, issuing CA 10, TSA/OCSP certificates 2,
    /// signers 1 year, CRLs 7 days, OCSP responses 1 day, TSA accuracy 1 second.
    pub fn new(organisation: &str, base_url: BaseUrl) -> Self {
        CaConfig {
            organisation: organisation.trim().to_owned(),
            country: None,
            base_url,
            ca_key_algorithm: KeyAlgorithm::EcdsaP256,
            signer_key_algorithm: KeyAlgorithm::EcdsaP256,
            root_validity: Duration::from_secs(20 * 365 * DAY),
            issuing_validity: Duration::from_secs(10 * 365 * DAY),
            service_validity: Duration::from_secs(2 * 365 * DAY),
            signer_validity: Duration::from_secs(365 * DAY),
            crl_validity: Duration::from_secs(7 * DAY),
            ocsp_validity: Duration::from_secs(DAY),
            tsa_policy: DEFAULT_TSA_POLICY,
            tsa_accuracy: Duration::from_secs(1),
        }
    }
}

/// A CA-side certificate and its key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaEntity {
    #[serde(with = "hex_der")]
    pub cert_der: Vec<u8>,
    pub key: KeyHandle,
}

/// What [`Authority::init`] made; the caller keeps it (it holds no secret) and hands it to
/// [`Authority::open`] at the next start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaMaterial {
    pub root: CaEntity,
    pub issuing: CaEntity,
    pub tsa: CaEntity,
    pub ocsp: CaEntity,
}

#[derive(Debug)]
struct CachedCrl {
    der: Vec<u8>,
    refresh_at: SystemTime,
    /// The revocations it lists, so a revocation recorded by another process sharing the
    /// certificate store is published at the next request, not at the next refresh.
    listed: Vec<(Serial, u64)>,
}

/// The (serial, revocation time) pairs a CRL lists, to tell whether it is still current.
fn listed(entries: &[RevokedEntry]) -> Vec<(Serial, u64)> {
    entries
        .iter()
        .map(|e| (e.serial.clone(), unix_seconds(e.time)))
        .collect()
}

/// The running CA.
#[derive(Debug)]
pub struct Authority {
    config: CaConfig,
    material: CaMaterial,
    root: Certificate,
    issuing: Certificate,
    keys: Arc<dyn KeyStore>,
    certs: Arc<dyn CertStore>,
    clock: Arc<dyn Clock>,
    crls: Mutex<HashMap<&'static str, CachedCrl>>,
    ocsp: OcspResponder,
    root_ocsp: OcspResponder,
    tsa: TimestampAuthority,
}

/// What a new certificate says, before an issuer signs it.
struct CertSpec {
    subject: Name,
    spki: SubjectPublicKeyInfoOwned,
    not_before: SystemTime,
    not_after: SystemTime,
    extensions: Vec<Extension>,
}

/// Signs `spec` as `issuer` (or self-signed when `issuer` is `None`), adding the subject and
/// authority key identifiers.
/// Where a new signer key is kept.
#[derive(Clone, Copy, Debug)]
pub enum KeyHolder<'a> {
    /// The CA's key store (sealed under the master key, or in the HSM).
    Ca,
    /// An envelope for a signing PIN's wrapping key ([`crate::pin`]): the CA keeps no copy,
    /// only the PIN with the master key opens it.
    Pin(&'a Recipient),
}

/// A newly issued signer certificate, and its key's envelope when a PIN holds it.
#[derive(Debug)]
pub struct Issued {
    pub record: CertRecord,
    /// The key sealed to the PIN ([`KeyHolder::Pin`]); the caller stores it.
    pub envelope: Option<Vec<u8>>,
}

fn make_certificate(
    keys: &dyn KeyStore,
    issuer: Option<(&Certificate, &KeyHandle)>,
    self_key: Option<&KeyHandle>,
    spec: CertSpec,
) -> Result<Certificate> {
    let ski = key_identifier(&spec.spki);
    let (issuer_name, issuer_key, aki) = match issuer {
        Some((cert, key)) => (
            cert.tbs_certificate.subject.clone(),
            key,
            key_identifier(&cert.tbs_certificate.subject_public_key_info),
        ),
        None => (
            spec.subject.clone(),
            self_key.ok_or_else(|| {
                CaError::invalid("certificate", "a self-signed certificate needs its own key")
            })?,
            ski.clone(),
        ),
    };
    let mut exts = spec.extensions;
    exts.push(extension(
        &SubjectKeyIdentifier(OctetString::new(ski)?),
        false,
    )?);
    if issuer.is_some() {
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(OctetString::new(aki)?),
            ..Default::default()
        };
        exts.push(extension(&aki, false)?);
    }
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: random_serial()?,
        signature: issuer_key.algorithm().signature_algorithm(),
        issuer: issuer_name,
        validity: Validity {
            not_before: x509_time(spec.not_before)?,
            not_after: x509_time(spec.not_after)?,
        },
        subject: spec.subject,
        subject_public_key_info: spec.spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(exts),
    };
    sign_certificate(keys, issuer_key, tbs)
}

fn key_usage(flags: &[KeyUsages]) -> Result<Extension> {
    let mut ku = KeyUsage(Default::default());
    for f in flags {
        ku.0 |= *f;
    }
    extension(&ku, true)
}

fn uri(s: &str) -> Result<GeneralName> {
    Ok(GeneralName::UniformResourceIdentifier(ia5(s)?))
}

fn crl_dp(url: &str) -> Result<Extension> {
    extension(
        &CrlDistributionPoints(vec![DistributionPoint {
            distribution_point: Some(DistributionPointName::FullName(vec![uri(url)?])),
            reasons: None,
            crl_issuer: None,
        }]),
        false,
    )
}

fn aia(ocsp: Option<&str>, ca_issuers: &str) -> Result<Extension> {
    let mut v = Vec::new();
    if let Some(o) = ocsp {
        v.push(AccessDescription {
            access_method: ID_AD_OCSP,
            access_location: uri(o)?,
        });
    }
    v.push(AccessDescription {
        access_method: ID_AD_CA_ISSUERS,
        access_location: uri(ca_issuers)?,
    });
    extension(&AuthorityInfoAccessSyntax(v), false)
}

fn raw_extension(oid: ObjectIdentifier, critical: bool, value: &impl Encode) -> Result<Extension> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value.to_der()?)?,
    })
}

fn subject_text(name: &Name) -> String {
    name.to_string()
}

pub(crate) fn record(
    kind: CertKind,
    cert: &Certificate,
    key: Option<KeyHandle>,
    chain: Vec<Vec<u8>>,
) -> Result<CertRecord> {
    let tbs = &cert.tbs_certificate;
    Ok(CertRecord {
        serial: Serial::from_bytes(tbs.serial_number.as_bytes())?,
        kind,
        subject: subject_text(&tbs.subject),
        cert_der: cert.to_der()?,
        chain,
        key,
        not_before: unix_seconds(tbs.validity.not_before.to_system_time()),
        not_after: unix_seconds(tbs.validity.not_after.to_system_time()),
        revocation: None,
        replaced_by: None,
    })
}

/// A fresh key label: `prefix-` and 16 random hex digits.
fn new_label(prefix: &str) -> Result<String> {
    Ok(format!("{prefix}-{}", hex::encode(random_positive(8)?)))
}

impl Authority {
    /// Creates the root CA, the issuing CA, the TSA and the OCSP-signing certificates, with
    /// their keys in `keys`, records the last three in `certs`, and publishes the first CRLs.
    pub fn init(
        config: CaConfig,
        keys: Arc<dyn KeyStore>,
        certs: Arc<dyn CertStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        if config.organisation.is_empty() || config.organisation.chars().count() > 40 {
            return Err(CaError::invalid(
                "organisation",
                "must have 1-40 characters",
            ));
        }
        let now = whole_seconds(clock.now());
        let alg = config.ca_key_algorithm;
        let url = |p: &str| config.base_url.join(p);
        let name = |suffix: &str| -> Result<Name> {
            let mut b = NameBuilder::default();
            if let Some(c) = &config.country {
                b.printable(rfc4519::C, c.as_str())?;
            }
            b.utf8(rfc4519::O, &config.organisation)?;
            b.utf8(rfc4519::CN, &format!("{} {suffix}", config.organisation))?;
            Ok(b.finish())
        };
        let spki_of = |h: &KeyHandle| spki_from_der(&keys.public_key_spki_der(h)?);

        let root_key = keys.generate(&new_label("ca-root")?, alg)?;
        let root = make_certificate(
            keys.as_ref(),
            None,
            Some(&root_key),
            CertSpec {
                subject: name("Root CA")?,
                spki: spki_of(&root_key)?,
                not_before: now - BACKDATE,
                not_after: now + config.root_validity,
                extensions: vec![
                    extension(
                        &BasicConstraints {
                            ca: true,
                            path_len_constraint: None,
                        },
                        true,
                    )?,
                    key_usage(&[KeyUsages::KeyCertSign, KeyUsages::CRLSign])?,
                ],
            },
        )?;

        let issuing_key = keys.generate(&new_label("ca-issuing")?, alg)?;
        let issuing = make_certificate(
            keys.as_ref(),
            Some((&root, &root_key)),
            Some(&issuing_key),
            CertSpec {
                subject: name("Issuing CA")?,
                spki: spki_of(&issuing_key)?,
                not_before: now - BACKDATE,
                not_after: now + config.issuing_validity.min(config.root_validity),
                extensions: vec![
                    extension(
                        &BasicConstraints {
                            ca: true,
                            path_len_constraint: Some(0),
                        },
                        true,
                    )?,
                    key_usage(&[KeyUsages::KeyCertSign, KeyUsages::CRLSign])?,
                    crl_dp(&url(paths::ROOT_CRL))?,
                    aia(Some(&url(paths::ROOT_OCSP)), &url(paths::ROOT_CERT))?,
                ],
            },
        )?;
        let chain = vec![issuing.to_der()?, root.to_der()?];
        let service_end = now + config.service_validity.min(config.issuing_validity);

        // RFC 3161 §2.3: the TSA certificate has exactly one EKU, id-kp-timeStamping, critical.
        let tsa_key = keys.generate(&new_label("tsa")?, alg)?;
        let tsa = make_certificate(
            keys.as_ref(),
            Some((&issuing, &issuing_key)),
            Some(&tsa_key),
            CertSpec {
                subject: name("Timestamping Authority")?,
                spki: spki_of(&tsa_key)?,
                not_before: now - BACKDATE,
                not_after: service_end,
                extensions: vec![
                    key_usage(&[KeyUsages::DigitalSignature])?,
                    extension(&ExtendedKeyUsage(vec![ID_KP_TIME_STAMPING]), true)?,
                    crl_dp(&url(paths::CRL))?,
                    aia(Some(&url(paths::OCSP)), &url(paths::CA_CERT))?,
                ],
            },
        )?;

        // RFC 6960 §4.2.2.2: a delegated responder has EKU id-kp-OCSPSigning; ocsp-nocheck tells
        // clients not to ask about the responder's own certificate.
        let ocsp_key = keys.generate(&new_label("ocsp")?, alg)?;
        let ocsp = make_certificate(
            keys.as_ref(),
            Some((&issuing, &issuing_key)),
            Some(&ocsp_key),
            CertSpec {
                subject: name("OCSP Responder")?,
                spki: spki_of(&ocsp_key)?,
                not_before: now - BACKDATE,
                not_after: service_end,
                extensions: vec![
                    key_usage(&[KeyUsages::DigitalSignature])?,
                    extension(&ExtendedKeyUsage(vec![ID_KP_OCSP_SIGNING]), false)?,
                    raw_extension(ID_PKIX_OCSP_NOCHECK, false, &Null)?,
                    aia(None, &url(paths::CA_CERT))?,
                ],
            },
        )?;

        certs.insert(record(
            CertKind::IssuingCa,
            &issuing,
            Some(issuing_key.clone()),
            vec![root.to_der()?],
        )?)?;
        certs.insert(record(
            CertKind::Tsa,
            &tsa,
            Some(tsa_key.clone()),
            chain.clone(),
        )?)?;
        certs.insert(record(
            CertKind::OcspResponder,
            &ocsp,
            Some(ocsp_key.clone()),
            chain,
        )?)?;

        let material = CaMaterial {
            root: CaEntity {
                cert_der: root.to_der()?,
                key: root_key,
            },
            issuing: CaEntity {
                cert_der: issuing.to_der()?,
                key: issuing_key,
            },
            tsa: CaEntity {
                cert_der: tsa.to_der()?,
                key: tsa_key,
            },
            ocsp: CaEntity {
                cert_der: ocsp.to_der()?,
                key: ocsp_key,
            },
        };
        Self::open(config, material, keys, certs, clock)
    }

    /// Starts the CA from what [`Authority::init`] made earlier.
    pub fn open(
        config: CaConfig,
        material: CaMaterial,
        keys: Arc<dyn KeyStore>,
        certs: Arc<dyn CertStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let root = Certificate::from_der(&material.root.cert_der)?;
        let issuing = Certificate::from_der(&material.issuing.cert_der)?;
        let ocsp = OcspResponder::new(
            issuing.clone(),
            Certificate::from_der(&material.ocsp.cert_der)?,
            material.ocsp.key.clone(),
            keys.clone(),
            certs.clone(),
            clock.clone(),
            config.ocsp_validity,
        )?;
        let root_ocsp = OcspResponder::for_root(
            root.clone(),
            material.root.key.clone(),
            keys.clone(),
            certs.clone(),
            clock.clone(),
            config.ocsp_validity,
        )?;
        let tsa = TimestampAuthority::new(
            Certificate::from_der(&material.tsa.cert_der)?,
            vec![issuing.clone()],
            material.tsa.key.clone(),
            keys.clone(),
            clock.clone(),
            config.tsa_policy,
            config.tsa_accuracy,
        )?;
        Ok(Authority {
            config,
            material,
            root,
            issuing,
            keys,
            certs,
            clock,
            crls: Mutex::new(HashMap::new()),
            ocsp,
            root_ocsp,
            tsa,
        })
    }

    /// The certificates and key handles to keep for [`Authority::open`].
    pub fn material(&self) -> &CaMaterial {
        &self.material
    }

    /// The configuration.
    pub fn config(&self) -> &CaConfig {
        &self.config
    }

    /// The root certificate (DER), the trust anchor.
    pub fn root_cert_der(&self) -> &[u8] {
        &self.material.root.cert_der
    }

    /// The root certificate (PEM).
    pub fn root_cert_pem(&self) -> Result<String> {
        der::pem::encode_string(
            "CERTIFICATE",
            der::pem::LineEnding::LF,
            self.root_cert_der(),
        )
        .map_err(|e| CaError::Asn1(e.to_string()))
    }

    /// The issuing CA certificate (DER).
    pub fn issuing_cert_der(&self) -> &[u8] {
        &self.material.issuing.cert_der
    }

    /// The TSA certificate (DER).
    pub fn tsa_cert_der(&self) -> &[u8] {
        &self.material.tsa.cert_der
    }

    /// The OCSP-signing certificate (DER).
    pub fn ocsp_cert_der(&self) -> &[u8] {
        &self.material.ocsp.cert_der
    }

    /// The OCSP responder (answers for certificates of the issuing CA).
    pub fn ocsp(&self) -> &OcspResponder {
        &self.ocsp
    }

    /// The RFC 3161 timestamp authority.
    /// The root's OCSP responder, answering for the issuing CA.
    pub fn root_ocsp(&self) -> &OcspResponder {
        &self.root_ocsp
    }

    pub fn tsa(&self) -> &TimestampAuthority {
        &self.tsa
    }

    /// The certificate store.
    pub fn cert_store(&self) -> &dyn CertStore {
        self.certs.as_ref()
    }

    /// Issues a signer certificate for `app`, with a new key generated in the key store.
    pub fn issue(&self, app: &SignerApplication) -> Result<CertRecord> {
        Ok(self.issue_for(app, KeyHolder::Ca)?.record)
    }

    /// Issues a signer certificate for `app` with a new key kept by `holder`.
    pub fn issue_for(&self, app: &SignerApplication, holder: KeyHolder<'_>) -> Result<Issued> {
        let subject = app.subject()?;
        let san = SubjectAltName(vec![GeneralName::Rfc822Name(ia5(app.email.as_str())?)]);
        self.issue_signer(subject, extension(&san, false)?, holder)
    }

    fn issue_signer(&self, subject: Name, san: Extension, holder: KeyHolder<'_>) -> Result<Issued> {
        let now = whole_seconds(self.clock.now());
        let issuing_end = self
            .issuing
            .tbs_certificate
            .validity
            .not_after
            .to_system_time();
        let not_after = (now + self.config.signer_validity).min(issuing_end);
        if not_after <= now {
            return Err(CaError::invalid(
                "issuing CA",
                "has expired; renew the CA first",
            ));
        }
        let alg = self.config.signer_key_algorithm;
        let (key, spki_der, envelope) = match holder {
            KeyHolder::Ca => {
                let key = self.keys.generate(&new_label("signer")?, alg)?;
                let spki = self.keys.public_key_spki_der(&key)?;
                (Some(key), spki, None)
            }
            KeyHolder::Pin(recipient) => {
                let pkcs8 = generate_pkcs8(alg)?;
                let spki = OpenKey::from_pkcs8(alg, &pkcs8)?.spki_der()?;
                (
                    None,
                    spki,
                    Some(crate::pin::seal_to(recipient, alg, &pkcs8)?),
                )
            }
        };
        let url = |p: &str| self.config.base_url.join(p);
        let cert = make_certificate(
            self.keys.as_ref(),
            Some((&self.issuing, &self.material.issuing.key)),
            None,
            CertSpec {
                subject,
                spki: spki_from_der(&spki_der)?,
                not_before: now - BACKDATE,
                not_after,
                extensions: vec![
                    key_usage(&[KeyUsages::DigitalSignature, KeyUsages::NonRepudiation])?,
                    extension(
                        &ExtendedKeyUsage(vec![
                            ID_KP_EMAIL_PROTECTION,
                            ID_KP_DOCUMENT_SIGNING,
                            ID_ADOBE_AUTHENTIC_DOCUMENTS,
                        ]),
                        false,
                    )?,
                    san,
                    aia(Some(&url(paths::OCSP)), &url(paths::CA_CERT))?,
                    crl_dp(&url(paths::CRL))?,
                ],
            },
        )?;
        let rec = record(
            CertKind::Signer,
            &cert,
            key,
            vec![
                self.material.issuing.cert_der.clone(),
                self.material.root.cert_der.clone(),
            ],
        )?;
        self.certs.insert(rec.clone())?;
        Ok(Issued {
            record: rec,
            envelope,
        })
    }

    fn signer(&self, serial: &Serial) -> Result<CertRecord> {
        let rec = self
            .certs
            .get(serial)?
            .ok_or_else(|| CaError::NotFound(format!("certificate {serial}")))?;
        if rec.kind != CertKind::Signer {
            return Err(CaError::invalid(
                "serial",
                format!("{serial} is not a signer certificate of this CA"),
            ));
        }
        Ok(rec)
    }

    /// Issues a new certificate with a new key and the same subject and e-mail as `serial`;
    /// the old certificate stays valid.
    pub fn renew(&self, serial: &Serial) -> Result<CertRecord> {
        Ok(self.renew_for(serial, KeyHolder::Ca)?.record)
    }

    /// [`Authority::renew`] with the new key kept by `holder`.
    pub fn renew_for(&self, serial: &Serial, holder: KeyHolder<'_>) -> Result<Issued> {
        let old = self.signer(serial)?;
        if old.revocation.is_some() {
            return Err(CaError::AlreadyRevoked(serial.to_string()));
        }
        let cert = Certificate::from_der(&old.cert_der)?;
        let san = cert
            .tbs_certificate
            .extensions
            .iter()
            .flatten()
            .find(|e| e.extn_id == const_oid::db::rfc5280::ID_CE_SUBJECT_ALT_NAME)
            .cloned()
            .ok_or_else(|| CaError::invalid("certificate", "has no subject alternative name"))?;
        let new = self.issue_signer(cert.tbs_certificate.subject, san, holder)?;
        self.certs.set_replaced_by(serial, &new.record.serial)?;
        Ok(new)
    }

    /// Issues a certificate for the changed `app` (new key) and revokes `serial` as superseded.
    pub fn change(&self, serial: &Serial, app: &SignerApplication) -> Result<CertRecord> {
        Ok(self.change_for(serial, app, KeyHolder::Ca)?.record)
    }

    /// [`Authority::change`] with the new key kept by `holder`.
    pub fn change_for(
        &self,
        serial: &Serial,
        app: &SignerApplication,
        holder: KeyHolder<'_>,
    ) -> Result<Issued> {
        let old = self.signer(serial)?;
        if old.revocation.is_some() {
            return Err(CaError::AlreadyRevoked(serial.to_string()));
        }
        let new = self.issue_for(app, holder)?;
        self.certs.set_replaced_by(serial, &new.record.serial)?;
        self.revoke(serial, RevocationReason::Superseded)?;
        Ok(new)
    }

    /// Revokes a certificate of this CA (a signer's, the TSA's, the OCSP responder's, or the
    /// issuing CA's); the CRL that lists it is rebuilt when next fetched.
    pub fn revoke(&self, serial: &Serial, reason: RevocationReason) -> Result<()> {
        let rec = self
            .certs
            .get(serial)?
            .ok_or_else(|| CaError::NotFound(format!("certificate {serial}")))?;
        if rec.kind == CertKind::Imported {
            return Err(CaError::invalid(
                "serial",
                "an imported certificate is revoked by its own CA",
            ));
        }
        let time = unix_seconds(self.clock.now());
        // The next CRL fetched lists it: a cached CRL is rebuilt once the store's revocations
        // differ from those it lists.
        self.certs.revoke(serial, Revocation { time, reason })
    }

    /// Imports a signer's certificate and key from PKCS#12: the key goes into the key store,
    /// the certificate and its chain into the certificate store (kind `Imported`).
    pub fn import_pkcs12(&self, data: &[u8], password: &str) -> Result<CertRecord> {
        use p12_keystore::{KeyStore as P12, Pkcs12ImportPolicy};
        let p12 = P12::from_pkcs12(data, password, Pkcs12ImportPolicy::Relaxed)
            .map_err(|e| CaError::Pkcs12(format!("cannot open (wrong password?): {e}")))?;
        let (_, chain) = p12
            .private_key_chain()
            .ok_or_else(|| CaError::Pkcs12("holds no private key".into()))?;
        let (leaf, rest) = chain
            .certs()
            .split_first()
            .ok_or_else(|| CaError::Pkcs12("holds no certificate for its key".into()))?;
        let cert = Certificate::from_der(leaf.as_der())?;
        let serial = Serial::from_bytes(cert.tbs_certificate.serial_number.as_bytes())?;
        if self.certs.get(&serial)?.is_some() {
            return Err(CaError::AlreadyExists(format!("certificate {serial}")));
        }
        let label = format!("imported-{}", hex::encode(random_positive(8)?));
        let key = self.keys.import_pkcs8(&label, chain.key().as_der())?;
        let spki = self.keys.public_key_spki_der(&key)?;
        if spki != cert.tbs_certificate.subject_public_key_info.to_der()? {
            return Err(CaError::Pkcs12(
                "the private key does not match the certificate".into(),
            ));
        }
        let rec = record(
            CertKind::Imported,
            &cert,
            Some(key),
            rest.iter().map(|c| c.as_der().to_vec()).collect(),
        )?;
        self.certs.insert(rec.clone())?;
        Ok(rec)
    }

    /// The issuing CA's current CRL (DER), rebuilt when the revocations change and at half its
    /// validity.
    pub fn crl_der(&self) -> Result<Vec<u8>> {
        self.current_crl("issuing")
    }

    /// The root's current CRL (DER), listing revoked issuing CAs.
    pub fn root_crl_der(&self) -> Result<Vec<u8>> {
        self.current_crl("root")
    }

    fn current_crl(&self, scope: &'static str) -> Result<Vec<u8>> {
        let entries = self.revoked_entries(scope)?;
        {
            let crls = self.crls.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(c) = crls.get(scope) {
                if self.clock.now() < c.refresh_at && c.listed == listed(&entries) {
                    return Ok(c.der.clone());
                }
            }
        }
        self.rebuild_crl(scope)
    }

    /// What the CRL of `scope` lists now, as the certificate store says (read again each time:
    /// another process may have revoked since).
    fn revoked_entries(&self, scope: &'static str) -> Result<Vec<RevokedEntry>> {
        let listed: fn(CertKind) -> bool = if scope == "root" {
            |k| k == CertKind::IssuingCa
        } else {
            CertKind::issued_by_issuing_ca
        };
        let mut entries: Vec<RevokedEntry> = self
            .certs
            .revoked()?
            .into_iter()
            .filter(|r| listed(r.kind))
            .filter_map(|r| {
                r.revocation.map(|rev| RevokedEntry {
                    serial: r.serial,
                    time: from_unix_seconds(rev.time),
                    reason: rev.reason,
                })
            })
            .collect();
        entries.sort_by(|a, b| a.serial.cmp(&b.serial));
        Ok(entries)
    }

    fn rebuild_crl(&self, scope: &'static str) -> Result<Vec<u8>> {
        // Hold the lock while building so two rebuilds never publish numbers out of order.
        let mut crls = self.crls.lock().unwrap_or_else(|e| e.into_inner());
        let (cert, key) = if scope == "root" {
            (&self.root, &self.material.root.key)
        } else {
            (&self.issuing, &self.material.issuing.key)
        };
        let entries = self.revoked_entries(scope)?;
        let now = whole_seconds(self.clock.now());
        let number = self.certs.next_crl_number(scope)?;
        let der = crl::build(
            CrlIssuer {
                cert,
                key,
                keys: self.keys.as_ref(),
            },
            &entries,
            number,
            now,
            now + self.config.crl_validity,
        )?;
        crls.insert(
            scope,
            CachedCrl {
                der: der.clone(),
                refresh_at: now + self.config.crl_validity / 2,
                listed: listed(&entries),
            },
        );
        Ok(der)
    }
}

/// The serial of a DER certificate, as the CA names certificates.
pub fn serial_of(cert_der: &[u8]) -> Result<Serial> {
    let cert = Certificate::from_der(cert_der)?;
    Serial::from_bytes(cert.tbs_certificate.serial_number.as_bytes())
}

mod hex_der {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        hex::decode(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}
