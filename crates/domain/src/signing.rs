//! Signing in the service: a signer's own certificate (当事者型) signs an uploaded PDF with the
//! key the CA holds, at PAdES B-T, B-LT or B-LTA (the organisation's setting), with Inkan's own
//! TSA and revocation data taken in-process from the CA (no HTTP round trip to ourselves), or
//! with the organisation's external TSA and, for certificates of other CAs, their revocation
//! data over HTTP ([`Providers`], [`crate::remote`]). Only a certificate that is active, in its
//! validity period, belongs to the caller and whose key the CA holds can sign; otherwise the
//! caller is told why.

use std::sync::Arc;

use ca::authority::paths;
use pdf_sign::cms::{ParsedCms, ID_AA_TIME_STAMP_TOKEN};
use pdf_sign::object::Object;
use pdf_sign::{
    Document, HashAlgorithm, PdfError, Placement, RevocationTransport, SignOptions, Signer, Source,
    TsaTransport,
};
use sqlx::Row;
use x509_cert::Certificate;

use crate::accounts::User;
use crate::audit;
use crate::ca_folder::CaKeySigner;
use crate::ca_store::{Ca, CrlScope};
use crate::certificates::{self, CertStatus};
use crate::db::{stored, Db};
use crate::error::Failure;
use crate::permissions::{require, Action};
use crate::pins;
use crate::remote::{self, Failures, HttpRevocation, HttpTsa, TsaUrl};

/// The PAdES level of a service signature: B-T, B-LT or B-LTA (B-B, without a timestamp, is
/// not offered).
pub use pdf_sign::Level;

/// `B-T`, `B-LT` or `B-LTA`; anything else is the `level` field's error.
pub fn parse_level(s: &str) -> Result<Level, Failure> {
    match Level::parse(s) {
        Ok(level) if level != Level::BB => Ok(level),
        _ => Err(Failure::invalid("level", "error.level")),
    }
}

/// The CA answering the signature's timestamp and revocation requests directly (no HTTP round
/// trip to ourselves): the TSA from memory, OCSP answers and CRLs from the database as they
/// are now. Called from the blocking thread that signs, so it waits on the runtime `handle`.
#[derive(Debug)]
pub(crate) struct InProcessCa {
    ca: Arc<Ca>,
    db: Db,
    handle: tokio::runtime::Handle,
}

impl InProcessCa {
    /// Answering from `ca` and `db`; made on the runtime, used from a blocking thread.
    pub(crate) fn new(ca: Arc<Ca>, db: Db) -> Self {
        Self {
            ca,
            db,
            handle: tokio::runtime::Handle::current(),
        }
    }

    /// Whether `url` is one of the CA's OCSP responders: `Some(true)` the root's.
    fn ocsp_responder(&self, url: &str) -> Option<bool> {
        let base = &self.ca.authority().config().base_url;
        if url == base.join(paths::ROOT_OCSP) {
            Some(true)
        } else if url == base.join(paths::OCSP) {
            Some(false)
        } else {
            None
        }
    }

    /// Which of the CA's CRLs `url` is, if it is one.
    fn crl_scope(&self, url: &str) -> Option<CrlScope> {
        let base = &self.ca.authority().config().base_url;
        if url == base.join(paths::CRL) {
            Some(CrlScope::Issuing)
        } else if url == base.join(paths::ROOT_CRL) {
            Some(CrlScope::Root)
        } else {
            None
        }
    }
}

fn ca_error(e: impl std::fmt::Display) -> PdfError {
    PdfError::Invalid(format!("Inkan's CA: {e}"))
}

impl TsaTransport for InProcessCa {
    fn post(&self, request: &[u8]) -> pdf_sign::Result<Vec<u8>> {
        self.ca.authority().tsa().respond(request).map_err(ca_error)
    }
}

impl RevocationTransport for InProcessCa {
    fn ocsp(&self, url: &str, request: &[u8]) -> pdf_sign::Result<Vec<u8>> {
        let root = self
            .ocsp_responder(url)
            .ok_or_else(|| PdfError::Invalid(format!("{url} is not Inkan's OCSP responder")))?;
        self.handle
            .block_on(self.ca.ocsp(&self.db, request, root))
            .map_err(ca_error)
    }

    fn get(&self, url: &str) -> pdf_sign::Result<Vec<u8>> {
        let scope = self
            .crl_scope(url)
            .ok_or_else(|| PdfError::Invalid(format!("{url} is not Inkan's CRL")))?;
        self.handle
            .block_on(self.ca.crl(&self.db, scope))
            .map_err(ca_error)
    }
}

/// Where the timestamps and validation data of the signatures made for an organisation come
/// from: the organisation's external timestamp authority over HTTP when an administrator set
/// one, else Inkan's TSA in-process; OCSP answers and CRLs from Inkan's CA in-process for its
/// own certificates, and over HTTP for certificates of other CAs (an imported certificate's
/// chain, an external TSA's). Made on the runtime, used from the blocking thread that signs.
#[derive(Debug)]
pub struct Providers {
    ca: InProcessCa,
    tsa: Option<TsaUrl>,
    failures: Failures,
}

impl Providers {
    /// For organisation `org_id`, by its settings.
    pub async fn for_organisation(ca: Arc<Ca>, db: Db, org_id: &str) -> Result<Self, Failure> {
        let tsa = crate::settings::of_organisation(&db, org_id).await?.tsa_url;
        Ok(Self::new(ca, db, tsa))
    }

    /// With the timestamp authority `tsa` (`None`: Inkan's own).
    pub fn new(ca: Arc<Ca>, db: Db, tsa: Option<TsaUrl>) -> Self {
        Self {
            ca: InProcessCa::new(ca, db),
            tsa,
            failures: Failures::default(),
        }
    }

    /// The issuers missing from `pool` (a certificate whose issuer it lacks, up to self-signed
    /// roots): Inkan's own CA certificates, else fetched from the certificate's caIssuers
    /// address over HTTP. pdf-sign asks for a certificate's revocation data only with its issuer
    /// at hand, and a timestamp token or a PKCS#12 file may carry a chain without its root.
    pub(crate) fn complete(&self, pool: &[Certificate]) -> Vec<Certificate> {
        use der::Decode as _;
        let authority = self.ca.ca.authority();
        let own: Vec<Certificate> = [authority.root_cert_der(), authority.issuing_cert_der()]
            .into_iter()
            .filter_map(|der| Certificate::from_der(der).ok())
            .collect();
        let mut known = pool.to_vec();
        let mut added = Vec::new();
        let mut tried = Vec::new();
        // A chain is a handful of certificates: a bounded walk, whatever the addresses answer.
        for _ in 0..8 {
            let orphans: Vec<Certificate> = known
                .iter()
                .filter(|c| {
                    let tbs = &c.tbs_certificate;
                    tbs.subject != tbs.issuer
                        && !known
                            .iter()
                            .any(|i| i.tbs_certificate.subject == tbs.issuer)
                        && !tried.contains(*c)
                })
                .cloned()
                .collect();
            if orphans.is_empty() {
                break;
            }
            for orphan in orphans {
                let issuer_name = &orphan.tbs_certificate.issuer;
                let issuer = own
                    .iter()
                    .find(|o| &o.tbs_certificate.subject == issuer_name)
                    .cloned()
                    .or_else(|| {
                        ca_issuers(&orphan).iter().find_map(|url| {
                            remote::fetch_certificate(url, &self.failures)
                                .filter(|i| &i.tbs_certificate.subject == issuer_name)
                        })
                    });
                tried.push(orphan);
                if let Some(issuer) = issuer.filter(|i| !known.contains(i)) {
                    known.push(issuer.clone());
                    added.push(issuer);
                }
            }
        }
        added
    }

    /// Adds the validation data of every signature and document timestamp of `src` (the DSS,
    /// pdf-sign's [`pdf_sign::ltv::add_dss`]) with the issuers that complete their chains.
    pub(crate) fn add_dss<S: Source>(
        &self,
        src: S,
        out: impl std::io::Write,
    ) -> pdf_sign::Result<()> {
        let extra = self.complete(&signature_certificates(&src)?);
        pdf_sign::ltv::add_dss(src, out, self, &extra, &Default::default())
    }

    /// Why a signature failed, when a service reached over HTTP did (the first one that
    /// failed): a 502 naming it, its address and what went wrong.
    pub fn unreachable(&self) -> Option<Failure> {
        self.failures.first().map(|u| Failure::Upstream {
            key: match u.service {
                remote::Service::Timestamps => "error.tsa_unavailable",
                remote::Service::Revocation => "error.revocation_unavailable",
            },
            detail: u.to_string(),
        })
    }
}

impl TsaTransport for Providers {
    fn post(&self, request: &[u8]) -> pdf_sign::Result<Vec<u8>> {
        match &self.tsa {
            Some(url) => HttpTsa {
                url,
                failures: &self.failures,
            }
            .post(request),
            None => self.ca.post(request),
        }
    }
}

impl RevocationTransport for Providers {
    fn ocsp(&self, url: &str, request: &[u8]) -> pdf_sign::Result<Vec<u8>> {
        if self.ca.ocsp_responder(url).is_some() {
            return self.ca.ocsp(url, request);
        }
        HttpRevocation {
            failures: &self.failures,
        }
        .ocsp(url, request)
    }

    fn get(&self, url: &str) -> pdf_sign::Result<Vec<u8>> {
        if self.ca.crl_scope(url).is_some() {
            return self.ca.get(url);
        }
        HttpRevocation {
            failures: &self.failures,
        }
        .get(url)
    }
}

const ID_AD_CA_ISSUERS: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.2");
const ID_PE_AUTHORITY_INFO_ACCESS: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.1");
const ID_CT_TSTINFO: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");

/// The caIssuers addresses (AIA) of `cert`: where its issuer's certificate is published.
fn ca_issuers(cert: &Certificate) -> Vec<String> {
    use der::Decode as _;
    use x509_cert::ext::pkix::name::GeneralName;
    use x509_cert::ext::pkix::AuthorityInfoAccessSyntax;
    let Some(ext) = cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == ID_PE_AUTHORITY_INFO_ACCESS)
    else {
        return Vec::new();
    };
    let Ok(aia) = AuthorityInfoAccessSyntax::from_der(ext.extn_value.as_bytes()) else {
        return Vec::new();
    };
    aia.0
        .iter()
        .filter(|ad| ad.access_method == ID_AD_CA_ISSUERS)
        .filter_map(|ad| match &ad.access_location {
            GeneralName::UniformResourceIdentifier(u) => Some(u.to_string()),
            _ => None,
        })
        .collect()
}

/// The certificates of every signature and document timestamp in `src`, with those of the
/// signatures' timestamp tokens (the AcroForm's signed signature fields, however deep).
pub(crate) fn signature_certificates<S: Source>(src: S) -> pdf_sign::Result<Vec<Certificate>> {
    use der::Encode as _;
    let doc = Document::open(src)?;
    let catalog = doc.catalog()?;
    let Some(Object::Dict(form)) = doc.lookup(&catalog, "AcroForm")? else {
        return Ok(Vec::new());
    };
    let mut fields = match doc.lookup(&form, "Fields")? {
        Some(Object::Array(a)) => a,
        _ => Vec::new(),
    };
    let mut certificates = Vec::new();
    let mut add = |found: Vec<Certificate>| {
        for c in found {
            if !certificates.contains(&c) {
                certificates.push(c);
            }
        }
    };
    // Bounded, as every walk over a file's objects is.
    let mut visited = 0;
    while let Some(field) = fields.pop() {
        visited += 1;
        if visited > 10_000 {
            break;
        }
        let Object::Dict(field) = doc.resolve(&field)? else {
            continue;
        };
        if let Some(Object::Array(kids)) = doc.lookup(&field, "Kids")? {
            fields.extend(kids);
        }
        let Some(Object::Dict(value)) = doc.lookup(&field, "V")? else {
            continue;
        };
        let Some(contents) = value.get("Contents").and_then(Object::as_string) else {
            continue;
        };
        let Ok(cms) = ParsedCms::parse(contents) else {
            continue;
        };
        if cms.signed_data.encap_content_info.econtent_type != ID_CT_TSTINFO {
            if let Ok(Some(token)) = cms.unsigned_attr(ID_AA_TIME_STAMP_TOKEN) {
                if let Ok(token) = token.to_der().map_err(|e| PdfError::Cms(e.to_string())) {
                    if let Ok(parsed) = ParsedCms::parse(&token) {
                        add(parsed.certificates);
                    }
                }
            }
        }
        add(cms.certificates);
    }
    Ok(certificates)
}

/// Signs `pdf` at `level` (B-T, B-LT or B-LTA) with the same incremental updates as
/// [`pdf_sign::sign_at_level`] — the signature with its timestamp; from B-LT the DSS; for
/// B-LTA a document timestamp and its own DSS — but each DSS made with
/// [`Providers::add_dss`], so chains that end outside the document still get their
/// revocation data.
pub(crate) fn sign_to_level(
    pdf: Vec<u8>,
    signer: &dyn Signer,
    opts: &SignOptions,
    level: Level,
    providers: &Providers,
) -> pdf_sign::Result<Vec<u8>> {
    use crate::settings::level_rank;
    let mut signed = Vec::new();
    pdf_sign::sign::sign_timestamped(pdf, &mut signed, signer, opts, providers)?;
    if level_rank(level) < level_rank(Level::BLT) {
        return Ok(signed);
    }
    let mut with_dss = Vec::new();
    providers.add_dss(signed, &mut with_dss)?;
    if level == Level::BLT {
        return Ok(with_dss);
    }
    let mut stamped = Vec::new();
    let hash = opts.hash.unwrap_or_else(|| signer.default_hash());
    pdf_sign::sign::timestamp_document(with_dss, &mut stamped, providers, hash)?;
    let mut out = Vec::new();
    providers.add_dss(stamped, &mut out)?;
    Ok(out)
}

/// What to sign and how.
#[derive(Debug, Clone)]
pub struct Request {
    /// A level the caller asked for (the JSON API's `level`). The organisation's setting
    /// (`settings`) is the least a signature gets: a stronger level asked for is used, a weaker
    /// one is not, and `None` is the organisation's level.
    pub level: Option<Level>,
    /// Where the visible signature goes; `None` signs invisibly.
    pub placement: Option<Placement>,
    pub reason: Option<String>,
    /// The signing PIN, needed when the signer has set one.
    pub pin: Option<String>,
    /// The seal a visible signature stamps (its id); `None`, the signer's default seal (or
    /// Inkan's 電子署名 seal when they have none).
    pub seal: Option<String>,
}

/// A certificate that may sign now: its serial (the CA's record of it, an imported one's too),
/// and its key's PIN envelope when a PIN holds it (`None`: the CA's key store does).
#[derive(Debug)]
pub struct Usable {
    pub serial: String,
    pub envelope: Option<Vec<u8>>,
}

/// The caller's certificate that may sign now, or why none may: the newest of those Inkan
/// issued and those imported from other CAs ([`crate::imported`], whose keys a PIN always
/// holds).
pub async fn signing_certificate(db: &Db, now: i64, user: &User) -> Result<Usable, Failure> {
    // An imported certificate in use reads as an active one.
    let rows = sqlx::query(&format!(
        "SELECT serial, status, not_before, not_after, key_envelope, created_at \
         FROM certificates WHERE user_id = $1 \
         UNION ALL \
         SELECT serial, '{}' AS status, not_before, not_after, key_envelope, created_at \
         FROM imported_certificates WHERE user_id = $1 AND status = $2 \
         ORDER BY created_at DESC, serial",
        CertStatus::Active.as_str()
    ))
    .bind(&user.id)
    .bind(crate::imported::ImportStatus::Active.as_str())
    .fetch_all(&db.pool)
    .await?;
    let mut why = "error.no_certificate";
    for r in &rows {
        let status = stored(r, "status", CertStatus::parse)?;
        let not_before: i64 = r.try_get("not_before")?;
        let not_after: i64 = r.try_get("not_after")?;
        match status {
            CertStatus::Active if now >= not_before && now < not_after => {
                return Ok(Usable {
                    serial: r.try_get("serial")?,
                    envelope: r.try_get("key_envelope")?,
                });
            }
            CertStatus::Active => why = "error.certificate_expired",
            CertStatus::Revoked if why == "error.no_certificate" => {
                why = "error.certificate_revoked"
            }
            CertStatus::Revoked | CertStatus::Superseded => {}
        }
    }
    if rows.is_empty() && certificates::has_open_application(db, &user.id).await? {
        why = "error.certificate_pending";
    }
    Err(Failure::BadRequest(why))
}

/// The level a signature by `user` gets: their organisation's setting, or `asked` when that is
/// stronger.
pub async fn level_for(db: &Db, user: &User, asked: Option<Level>) -> Result<Level, Failure> {
    let set = crate::settings::of_organisation(db, &user.org_id)
        .await?
        .pades_level;
    Ok(stronger(set, asked))
}

/// The organisation's level `set`, or `asked` when that is stronger.
fn stronger(set: Level, asked: Option<Level>) -> Level {
    match asked {
        Some(a) if crate::settings::level_rank(a) > crate::settings::level_rank(set) => a,
        _ => set,
    }
}

/// Signs `pdf` with the caller's certificate at [`level_for`]; returns the signed file.
/// Recorded in the audit log with the level and the SHA-256 of what went in and what came out.
pub async fn sign(
    db: &Db,
    now: i64,
    ca: Option<Arc<Ca>>,
    user: &User,
    pdf: Vec<u8>,
    request: Request,
) -> Result<Vec<u8>, Failure> {
    require(user.roles, Action::CertificateSignature)?;
    let ca = ca.ok_or(Failure::BadRequest("error.no_ca"))?;
    let Usable { serial, envelope } = signing_certificate(db, now, user).await?;
    // The organisation's settings, read once: the level, and the time zone of the caption.
    let settings = crate::settings::of_organisation(db, &user.org_id).await?;
    let level = stronger(settings.pades_level, request.level);
    let (seal_id, seal_png) =
        crate::seals::for_signature(db, user, request.seal.as_deref()).await?;
    let stamped = seal_id.filter(|_| request.placement.is_some());
    // The PIN, when one is set, is checked (and counted) before anything is signed.
    let unlocked =
        pins::check_for_signing(db, now, ca.vault(), user, request.pin.as_deref()).await?;
    let recipient = unlocked.as_ref().map(|u| u.recipient());
    let with_pin = recipient.is_some();
    let held_by_ca = envelope.is_none();
    if envelope.is_some() && unlocked.is_none() {
        return Err(Failure::invalid("pin", "error.pin_required"));
    }
    // The signer's certificate, and the key when the CA holds it.
    let record = ca.record(db, &serial).await?;
    let held_label: Vec<&str> = record
        .key
        .as_ref()
        .filter(|_| held_by_ca)
        .map(|k| k.label())
        .into_iter()
        .collect();
    let staged = ca
        .stage(&mut *db.pool.acquire().await?, &[], &held_label)
        .await?;
    let providers = Providers::new(ca.clone(), db.clone(), settings.tsa_url.clone());
    let name = user.display_name.clone();
    // A visible signature prints its time in the organisation's time zone, as its screens do.
    let appearance_text = vec![
        name.clone(),
        crate::settings::local_time(settings.time_zone, now),
    ];
    let input_hash = hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &pdf));
    // Unique enough among a document's fields: the time and the input's digest.
    let field_suffix = format!("{now}{}", &input_hash[..8]);
    let result = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, Failure> {
        let signer = match (envelope, unlocked) {
            (Some(envelope), Some(pin)) => CaKeySigner::pin_bound(
                pin.open(&envelope)
                    .map_err(|e| anyhow::anyhow!("opening the key's envelope: {e}"))?,
                &record,
            ),
            _ => CaKeySigner::new(staged.keys().clone(), &record)?,
        };
        // A visible signature gets its field first, as a contract's prepared fields do: the
        // widget is turned with its page (/MK /R), so the seal stands upright for the reader on
        // a page turned by /Rotate, and the placement is checked to lie on the page.
        let (pdf, field_name) = match request.placement {
            Some(p) => {
                let name = format!("InkanSignature{}", &field_suffix);
                let mut prepared = Vec::new();
                pdf_sign::form::prepare(
                    pdf,
                    &mut prepared,
                    &pdf_sign::form::PrepareOptions {
                        fields: vec![pdf_sign::form::FormField {
                            name: name.clone(),
                            kind: pdf_sign::form::FieldKind::Signature,
                            page: p.page,
                            x: p.x,
                            y: p.y,
                            width: p.width,
                            height: p.height,
                            label: String::new(),
                            value: None,
                        }],
                        margin_text: None,
                    },
                )
                .map_err(pdf_failure)?;
                (prepared, Some(name))
            }
            None => (pdf, None),
        };
        let opts = SignOptions {
            placement: None,
            name: Some(name.clone()),
            appearance_text: Some(appearance_text),
            reason: request.reason,
            location: None,
            contact_info: None,
            certify: None,
            hash: Some(HashAlgorithm::Sha256),
            field_name,
            signing_time: None,
            seal_png: request.placement.as_ref().map(|_| seal_png),
            fill: Vec::new(),
        };
        sign_to_level(pdf, &signer, &opts, level, &providers)
            .map_err(|e| providers.unreachable().unwrap_or_else(|| pdf_failure(e)))
    })
    .await
    .map_err(|e| Failure::Internal(e.into()))??;
    if let Some(recipient) = recipient.filter(|_| held_by_ca) {
        // Issued while the PIN was being set: bind it now.
        pins::bind_held_keys(db, now, &ca, user, &recipient).await?;
    }
    let output_hash = hex::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        &result,
    ));
    let mut tx = db.begin().await?;
    audit::append_for(
        &mut tx,
        &db.audit,
        now,
        user,
        &user.id,
        "document.signed",
        serde_json::json!({
            "serial": serial, "input_sha256": input_hash, "output_sha256": output_hash,
            "kind": "certificate", "pin": with_pin, "seal": stamped,
            "level": crate::settings::level_name(level),
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(result)
}

/// A PDF the signer cannot read is the caller's problem (400); a failing key, CMS or CA is
/// the server's.
fn pdf_failure(e: PdfError) -> Failure {
    match e {
        PdfError::NotPdf(_)
        | PdfError::Encrypted
        | PdfError::Syntax { .. }
        | PdfError::Damaged(_)
        | PdfError::DamagedSigned => Failure::UnreadablePdf(e.to_string()),
        PdfError::Invalid(ref m) if !m.starts_with("Inkan's CA") => {
            Failure::UnreadablePdf(e.to_string())
        }
        other => Failure::Internal(anyhow::anyhow!("signing: {other}")),
    }
}
