//! Verification: for each signature, is the digest intact, does /ByteRange cover its whole
//! revision but /Contents, what changed in later revisions and was it allowed, and does the
//! signer's certificate chain reach a trust anchor at the signing time.

use std::collections::{BTreeSet, HashSet};

use aws_lc_rs::digest;
use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use der::{Decode, Encode};
use serde::Serialize;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages};
use x509_cert::name::Name;
use x509_cert::Certificate;

use crate::cms::{self, ParsedCms};
use crate::document::{Document, XrefEntry};
use crate::error::{PdfError, Result};
use crate::keys::HashAlgorithm;
use crate::ltv::{self, RevocationTransport, ValidationData};
use crate::object::{decode_text, Dict, ObjRef, Object};
use crate::revocation::{self, RevocationStatus};
use crate::source::{Prefix, Source};

/// The verdict, ordered from best to worst; it maps onto `inkan verify`'s exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Intact, trusted, and nothing disallowed changed after signing (exit 0).
    Valid,
    /// Intact, but the chain does not reach a trust anchor (exit 2).
    Untrusted,
    /// Broken, forged, modified after signing, or no signature (exit 1).
    Invalid,
}

impl Status {
    pub fn exit_code(self) -> i32 {
        match self {
            Status::Valid => 0,
            Status::Invalid => 1,
            Status::Untrusted => 2,
        }
    }
}

/// Trust anchors and how to get revocation data.
#[derive(Clone, Default)]
pub struct VerifyOptions<'a> {
    /// Trusted root certificates (DER).
    pub trust_anchors: Vec<Vec<u8>>,
    /// Fetches OCSP responses and CRLs that the document does not carry; `None` checks offline,
    /// from the DSS only.
    pub online: Option<&'a dyn RevocationTransport>,
}

impl std::fmt::Debug for VerifyOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyOptions")
            .field("trust_anchors", &self.trust_anchors.len())
            .field("online", &self.online.is_some())
            .finish()
    }
}

/// What every signature's check needs.
struct Context<'a> {
    anchors: Vec<Certificate>,
    dss: ValidationData,
    online: Option<&'a dyn RevocationTransport>,
    revisions: Vec<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SignatureReport {
    pub field: String,
    pub sub_filter: String,
    pub signer: Option<String>,
    pub signer_subject: Option<String>,
    /// The time the signature claims (/M), RFC 3339.
    pub signing_time: Option<String>,
    /// The revision the signature covers (1 = the original file).
    pub revision: usize,
    pub signed_bytes: u64,
    /// The digest matches and the CMS signature verifies.
    pub intact: bool,
    /// /ByteRange starts at 0, leaves out exactly /Contents and ends on a revision boundary.
    pub byte_range_ok: bool,
    pub covers_whole_document: bool,
    /// Changes after this signature that are not allowed (empty when none).
    pub modifications: Vec<String>,
    /// Allowed later changes (signatures, form filling, DSS, document timestamps).
    pub later_changes: Vec<String>,
    pub certification: Option<i64>,
    /// The time of the signature timestamp (or of the document timestamp itself), when valid.
    pub timestamp: Option<String>,
    /// Revocation status of each certificate in the chain that has revocation information.
    pub revocation: Vec<String>,
    /// The time the certificates were checked at: the timestamp's, else the claimed /M.
    pub validation_time: Option<String>,
    pub trusted: bool,
    pub chain: Vec<String>,
    pub problems: Vec<String>,
    pub status: Status,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub file_size: u64,
    pub revisions: usize,
    pub validation_time: String,
    pub signatures: Vec<SignatureReport>,
    pub problems: Vec<String>,
    pub status: Status,
}

/// Verifies every signature in the PDF. Errors only when the file cannot be read at all; a
/// structure damaged past its opening makes an invalid report.
pub fn verify<S: Source>(src: S, opts: &VerifyOptions) -> Result<Report> {
    let doc = Document::open(src)?;
    if doc.repaired {
        crate::repair::check_complete(&doc)?;
    }
    match verify_document(&doc, opts) {
        Err(PdfError::Io(e)) => Err(PdfError::Io(e)),
        Err(e) => Ok(Report {
            file_size: doc.len(),
            revisions: doc.sections.len(),
            validation_time: Utc::now().to_rfc3339(),
            signatures: Vec::new(),
            problems: vec![format!("the document's structure is damaged: {e}")],
            status: Status::Invalid,
        }),
        ok => ok,
    }
}

fn verify_document<S: Source>(doc: &Document<S>, opts: &VerifyOptions) -> Result<Report> {
    let now = Utc::now();
    let mut problems = Vec::new();
    if doc.repaired {
        problems.push(format!(
            "the file's cross-reference data is broken ({}), so its structure cannot be trusted",
            doc.damage.clone().unwrap_or_default()
        ));
    }
    let anchors: Vec<Certificate> = opts
        .trust_anchors
        .iter()
        .filter_map(|d| Certificate::from_der(d).ok())
        .collect();
    let catalog = doc.catalog()?;
    let fields = signature_fields(doc, &catalog)?;
    let docmdp_sig = docmdp_signature(doc, &catalog)?;
    let mut revisions: Vec<u64> = doc.sections.iter().map(|s| s.offset).collect();
    revisions.sort_unstable();
    let ctx = Context {
        anchors,
        dss: dss_data(doc, &catalog)?,
        online: opts.online,
        revisions,
    };
    let revisions = &ctx.revisions;
    let mut signatures = Vec::new();
    for (name, sig_ref, sig) in &fields {
        let mut report = check_signature(doc, name, sig, &ctx)?;
        if docmdp_sig == Some(*sig_ref) {
            report.certification = Some(crate::sign::docmdp_level(doc, &catalog)?.unwrap_or(2));
        }
        signatures.push(report);
    }
    // Changes after each signature, judged against the strictest certification in force.
    let certification = signatures.iter().filter_map(|s| s.certification).min();
    for s in &mut signatures {
        if s.byte_range_ok && s.signed_bytes < doc.len() {
            match diff_revisions(doc, s.signed_bytes, certification) {
                Ok((bad, fine)) => {
                    s.modifications = bad;
                    s.later_changes = fine;
                }
                Err(e) => s
                    .modifications
                    .push(format!("the later revisions cannot be read: {e}")),
            }
        }
        s.covers_whole_document = s.signed_bytes == doc.len();
        if !s.modifications.is_empty() {
            s.status = Status::Invalid;
        }
    }
    let mut status = signatures
        .iter()
        .map(|s| s.status)
        .max()
        .unwrap_or(Status::Invalid);
    if signatures.is_empty() {
        problems.push("the document has no signature".into());
    }
    if doc.repaired {
        status = Status::Invalid;
    }
    // Bytes after the last signed revision must form allowed revisions (checked above), not junk.
    if let Some(last_end) = signatures
        .iter()
        .filter(|s| s.byte_range_ok)
        .map(|s| s.signed_bytes)
        .max()
    {
        if last_end < doc.len() && doc.startxref < last_end {
            let tail = doc
                .source()
                .read_vec(last_end, (doc.len() - last_end) as usize)?;
            if !tail.iter().all(|b| crate::object::is_whitespace(*b)) {
                problems.push(format!(
                    "{} bytes were appended after the last signed revision",
                    doc.len() - last_end
                ));
                status = Status::Invalid;
            }
        }
    }
    Ok(Report {
        file_size: doc.len(),
        revisions: revisions.len(),
        validation_time: now.to_rfc3339(),
        signatures,
        problems,
        status,
    })
}

/// Every signature field with a value: (qualified name, signature dictionary ref, dictionary).
fn signature_fields<S: Source>(
    doc: &Document<S>,
    catalog: &Dict,
) -> Result<Vec<(String, ObjRef, Dict)>> {
    let mut out = Vec::new();
    let Some(Object::Dict(form)) = doc.lookup(catalog, "AcroForm")? else {
        return Ok(out);
    };
    let Some(Object::Array(fields)) = doc.lookup(&form, "Fields")? else {
        return Ok(out);
    };
    let mut seen = HashSet::new();
    let mut stack: Vec<(Object, String, Option<Vec<u8>>)> = fields
        .into_iter()
        .rev()
        .map(|f| (f, String::new(), None))
        .collect();
    while let Some((f, prefix, inherited_ft)) = stack.pop() {
        let Some(r) = f.as_ref() else { continue };
        if !seen.insert(r) || seen.len() > 100_000 {
            continue;
        }
        let d = doc.get_dict(r)?;
        let part = d.get("T").and_then(Object::as_string).map(decode_text);
        let name = match (&part, prefix.is_empty()) {
            (Some(p), true) => p.clone(),
            (Some(p), false) => format!("{prefix}.{p}"),
            (None, _) => prefix.clone(),
        };
        let ft = d.name("FT").map(<[u8]>::to_vec).or(inherited_ft);
        if let Some(Object::Array(kids)) = doc.lookup(&d, "Kids")? {
            for k in kids.into_iter().rev() {
                stack.push((k, name.clone(), ft.clone()));
            }
        }
        if ft.as_deref() == Some(b"Sig") {
            if let Some(Object::Ref(v)) = d.get("V") {
                if let Ok(sig) = doc.get_dict(*v) {
                    out.push((name, *v, sig));
                }
            } else if let Some(Object::Dict(sig)) = d.get("V") {
                out.push((name, ObjRef::new(0, 0), sig.clone()));
            }
        }
    }
    // Order by position in the file: the earliest signature first.
    out.sort_by_key(|(_, _, s)| byte_range(s).map_or(0, |r| r[1]));
    Ok(out)
}

/// Every signature dictionary (signatures and document timestamps) in the document's fields.
pub(crate) fn signature_dicts<S: Source>(doc: &Document<S>) -> Result<Vec<Dict>> {
    let catalog = doc.catalog()?;
    Ok(signature_fields(doc, &catalog)?
        .into_iter()
        .map(|(_, _, d)| d)
        .collect())
}

fn docmdp_signature<S: Source>(doc: &Document<S>, catalog: &Dict) -> Result<Option<ObjRef>> {
    let Some(Object::Dict(perms)) = doc.lookup(catalog, "Perms")? else {
        return Ok(None);
    };
    Ok(perms.get("DocMDP").and_then(Object::as_ref))
}

fn byte_range(sig: &Dict) -> Option<[u64; 4]> {
    let a = sig.get("ByteRange")?.as_array()?;
    if a.len() != 4 {
        return None;
    }
    let v: Vec<u64> = a
        .iter()
        .map(|o| o.as_int().and_then(|i| u64::try_from(i).ok()))
        .collect::<Option<_>>()?;
    Some([v[0], v[1], v[2], v[3]])
}

fn check_signature<S: Source>(
    doc: &Document<S>,
    name: &str,
    sig: &Dict,
    ctx: &Context,
) -> Result<SignatureReport> {
    let revisions = &ctx.revisions;
    let sub_filter = sig
        .name("SubFilter")
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .unwrap_or_default();
    let mut r = SignatureReport {
        field: name.to_string(),
        sub_filter: sub_filter.clone(),
        signing_time: sig
            .get("M")
            .and_then(Object::as_string)
            .and_then(|m| parse_pdf_date(&decode_text(m)))
            .map(|t| t.to_rfc3339()),
        ..SignatureReport::empty()
    };
    let len = doc.len();
    let Some(br) = byte_range(sig) else {
        r.problems
            .push("the signature has no valid /ByteRange".into());
        return Ok(r);
    };
    let contents = sig
        .get("Contents")
        .and_then(Object::as_string)
        .unwrap_or(&[])
        .to_vec();
    // /ByteRange: [0 a b c] with the gap exactly the hex string of /Contents.
    let end = br[2].checked_add(br[3]);
    let gap_ok = br[0] == 0 && br[1] < br[2] && end.is_some_and(|e| e <= len) && {
        let gap = doc
            .source()
            .read_vec(br[1], (br[2] - br[1]).min(1 << 24) as usize)?;
        gap.len() as u64 == br[2] - br[1]
            && gap.first() == Some(&b'<')
            && gap.last() == Some(&b'>')
            && hex_decode(&gap[1..gap.len() - 1]).is_some_and(|d| d == contents)
    };
    let signed_end = end.unwrap_or(0).min(len);
    r.signed_bytes = signed_end;
    r.revision = revisions.iter().filter(|o| **o < signed_end).count();
    if !gap_ok {
        r.problems
            .push("/ByteRange does not leave out exactly the signature's /Contents".into());
        return Ok(r);
    }
    // The signed range must end on a revision boundary (`%%EOF`).
    let tail = doc
        .source()
        .read_vec(signed_end.saturating_sub(32), 32.min(signed_end as usize))?;
    let trimmed = trim_end_ws(&tail);
    if !trimmed.ends_with(b"%%EOF") {
        r.problems
            .push("the signed range does not end at the end of a revision".into());
        return Ok(r);
    }
    r.byte_range_ok = true;

    if sub_filter == "ETSI.RFC3161" {
        check_document_timestamp(doc, &br, &contents, ctx, &mut r)?;
        return Ok(r);
    }
    if !matches!(
        sub_filter.as_str(),
        "ETSI.CAdES.detached" | "adbe.pkcs7.detached"
    ) {
        r.problems
            .push(format!("unsupported signature type /{sub_filter}"));
        return Ok(r);
    }
    let parsed = match ParsedCms::parse(&contents) {
        Ok(p) => p,
        Err(e) => {
            r.problems.push(e.to_string());
            return Ok(r);
        }
    };
    let signer_cert = match parsed.signer_certificate() {
        Ok(c) => c.clone(),
        Err(e) => {
            r.problems.push(e.to_string());
            return Ok(r);
        }
    };
    r.signer = common_name(&signer_cert.tbs_certificate.subject);
    r.signer_subject = Some(signer_cert.tbs_certificate.subject.to_string());
    let hash = match parsed.digest_algorithm() {
        Ok(h) => h,
        Err(e) => {
            r.problems.push(e.to_string());
            return Ok(r);
        }
    };
    let digest = digest_ranges(doc.source(), hash, &[(br[0], br[1]), (br[2], br[3])])?;
    match parsed.message_digest() {
        Ok(md) if md == digest => {}
        Ok(_) => {
            r.problems
                .push("the document digest does not match: the signed bytes were changed".into());
            return Ok(r);
        }
        Err(e) => {
            r.problems.push(e.to_string());
            return Ok(r);
        }
    }
    if let Err(e) = parsed.verify_signature() {
        r.problems.push(e.to_string());
        return Ok(r);
    }
    r.intact = true;
    if sub_filter == "ETSI.CAdES.detached" && parsed.has_signed_attr(cms::ID_SIGNING_TIME) {
        r.problems
            .push("a PAdES signature must not carry a CMS signing-time attribute".into());
    }

    // The signature timestamp, when there is one, fixes the time everything is judged at.
    let mut proven_time = None;
    if let Ok(Some(token)) = parsed.unsigned_attr(cms::ID_AA_TIME_STAMP_TOKEN) {
        let signer_info = parsed.signer_info()?;
        let token = token.to_der().map_err(|e| PdfError::Cms(e.to_string()))?;
        match check_token(&token, |h| h.digest(signer_info.signature.as_bytes()), ctx) {
            Ok((t, _)) => {
                r.timestamp = Some(t.to_rfc3339());
                proven_time = Some(t);
            }
            Err(TokenError::Invalid(msg)) => {
                r.problems.push(format!("signature timestamp: {msg}"));
                r.status = Status::Invalid;
                return Ok(r);
            }
            Err(TokenError::Untrusted(msg)) => {
                r.problems.push(format!("signature timestamp: {msg}"));
            }
        }
    }
    let claimed = r
        .signing_time
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    let at = proven_time.or(claimed).unwrap_or_else(Utc::now);
    r.validation_time = Some(at.to_rfc3339());
    r.status = judge_chain(
        &signer_cert,
        &parsed.certificates,
        ctx,
        at,
        proven_time,
        &mut r,
    );
    Ok(r)
}

/// Builds and checks the chain of `leaf` at `at`, then its revocation status; records what it
/// found in the report and returns the verdict.
fn judge_chain(
    leaf: &Certificate,
    pool: &[Certificate],
    ctx: &Context,
    at: DateTime<Utc>,
    proven_time: Option<DateTime<Utc>>,
    r: &mut SignatureReport,
) -> Status {
    let mut pool = pool.to_vec();
    for c in &ctx.dss.certs {
        if let Ok(c) = Certificate::from_der(c) {
            if !pool.contains(&c) {
                pool.push(c);
            }
        }
    }
    let chain = match build_chain(leaf, &pool, &ctx.anchors, at) {
        Ok(chain) => chain,
        Err(ChainError::Invalid(msg)) => {
            r.problems.push(msg);
            return Status::Invalid;
        }
        Err(ChainError::Untrusted(msg)) => {
            r.problems.push(msg);
            return Status::Untrusted;
        }
    };
    r.trusted = true;
    r.chain = chain
        .iter()
        .map(|c| c.tbs_certificate.subject.to_string())
        .collect();
    // Without a timestamp the signing time is only claimed: a revocation at any time counts.
    let cutoff = proven_time.unwrap_or_else(Utc::now);
    let mut status = Status::Valid;
    for pair in chain.windows(2) {
        let (cert, issuer) = (&pair[0], &pair[1]);
        let subject = cert.tbs_certificate.subject.to_string();
        match revocation::check(cert, issuer, &ctx.dss, ctx.online) {
            RevocationStatus::Good { source } => {
                r.revocation.push(format!("{subject}: good ({source})"))
            }
            RevocationStatus::Revoked { at: when, source } => {
                r.revocation.push(format!(
                    "{subject}: revoked on {} ({source})",
                    when.to_rfc3339()
                ));
                if when <= cutoff {
                    r.problems.push(format!(
                        "the certificate of {subject} was revoked on {}",
                        when.to_rfc3339()
                    ));
                    status = Status::Invalid;
                }
            }
            RevocationStatus::Unknown(why) => {
                r.revocation.push(format!("{subject}: unknown ({why})"));
                r.problems.push(format!(
                    "the revocation status of {subject} is unknown: {why}"
                ));
                if status == Status::Valid {
                    status = Status::Untrusted;
                }
            }
            RevocationStatus::NotApplicable => {}
        }
    }
    status
}

enum TokenError {
    Invalid(String),
    Untrusted(String),
}

/// Checks an RFC 3161 token: its imprint (computed by `expected` with the token's hash), its
/// CMS signature, and its TSA's chain at the token's time. Returns that time and the TSA's
/// chain (subjects, the TSA first).
fn check_token(
    token: &[u8],
    expected: impl Fn(HashAlgorithm) -> Vec<u8>,
    ctx: &Context,
) -> std::result::Result<(DateTime<Utc>, Vec<String>), TokenError> {
    let invalid = |e: PdfError| TokenError::Invalid(e.to_string());
    let info = ltv::tst_info(token).map_err(invalid)?;
    let hash = HashAlgorithm::from_oid(&info.message_imprint.hash_algorithm.oid)
        .ok_or_else(|| TokenError::Invalid("unsupported imprint hash".into()))?;
    if info.message_imprint.hashed_message.as_bytes() != expected(hash).as_slice() {
        return Err(TokenError::Invalid(
            "the timestamp does not cover this signature".into(),
        ));
    }
    let parsed = ParsedCms::parse(token).map_err(invalid)?;
    let content = parsed
        .signed_data
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or_else(|| TokenError::Invalid("no TSTInfo".into()))?;
    let octets: der::asn1::OctetString = content
        .decode_as()
        .map_err(|e| TokenError::Invalid(e.to_string()))?;
    let token_hash = parsed.digest_algorithm().map_err(invalid)?;
    if parsed.message_digest().map_err(invalid)? != token_hash.digest(octets.as_bytes()) {
        return Err(TokenError::Invalid(
            "the token's TSTInfo does not match its signature".into(),
        ));
    }
    parsed.verify_signature().map_err(invalid)?;
    let at = DateTime::from_timestamp(info.gen_time.to_unix_duration().as_secs() as i64, 0)
        .unwrap_or_default();
    let tsa = parsed.signer_certificate().map_err(invalid)?;
    let mut scratch = SignatureReport::empty();
    match judge_chain(tsa, &parsed.certificates, ctx, at, Some(at), &mut scratch) {
        Status::Valid => Ok((at, scratch.chain)),
        Status::Invalid => Err(TokenError::Invalid(scratch.problems.join("; "))),
        Status::Untrusted => Err(TokenError::Untrusted(scratch.problems.join("; "))),
    }
}

fn check_document_timestamp<S: Source>(
    doc: &Document<S>,
    br: &[u64; 4],
    contents: &[u8],
    ctx: &Context,
    r: &mut SignatureReport,
) -> Result<()> {
    let mut reader = der::SliceReader::new(contents).map_err(|e| PdfError::Cms(e.to_string()))?;
    let token = match <cms::ContentInfoAlias as der::Decode>::decode(&mut reader) {
        Ok(ci) => ci.to_der().map_err(|e| PdfError::Cms(e.to_string()))?,
        Err(e) => {
            r.problems
                .push(format!("the document timestamp is not a token: {e}"));
            return Ok(());
        }
    };
    let hash = ltv::tst_info(&token)
        .ok()
        .and_then(|i| HashAlgorithm::from_oid(&i.message_imprint.hash_algorithm.oid))
        .unwrap_or_default();
    let digest = digest_ranges(doc.source(), hash, &[(br[0], br[1]), (br[2], br[3])])?;
    let result = check_token(&token, |_| digest.clone(), ctx);
    if let Ok(parsed) = ParsedCms::parse(&token) {
        if let Ok(c) = parsed.signer_certificate() {
            r.signer = common_name(&c.tbs_certificate.subject);
            r.signer_subject = Some(c.tbs_certificate.subject.to_string());
        }
    }
    match result {
        Ok((t, chain)) => {
            r.intact = true;
            r.trusted = true;
            r.chain = chain;
            r.timestamp = Some(t.to_rfc3339());
            r.validation_time = Some(t.to_rfc3339());
            r.status = Status::Valid;
        }
        Err(TokenError::Invalid(msg)) => {
            r.problems.push(format!("document timestamp: {msg}"));
            r.status = Status::Invalid;
        }
        Err(TokenError::Untrusted(msg)) => {
            r.intact = true;
            r.problems.push(format!("document timestamp: {msg}"));
            r.status = Status::Untrusted;
        }
    }
    Ok(())
}

/// The validation data in the document's DSS.
fn dss_data<S: Source>(doc: &Document<S>, catalog: &Dict) -> Result<ValidationData> {
    let mut data = ValidationData::default();
    let Some(Object::Dict(dss)) = doc.lookup(catalog, "DSS")? else {
        return Ok(data);
    };
    for (key, list) in [
        ("Certs", &mut data.certs),
        ("OCSPs", &mut data.ocsps),
        ("CRLs", &mut data.crls),
    ] {
        if let Some(Object::Array(items)) = doc.lookup(&dss, key)? {
            for item in items {
                if let Ok(Object::Stream(d, s)) = doc.resolve(&item) {
                    if let Ok(bytes) = doc.stream_decoded(&d, s) {
                        list.push(bytes);
                    }
                }
            }
        }
    }
    Ok(data)
}

impl SignatureReport {
    fn empty() -> Self {
        Self {
            field: String::new(),
            sub_filter: String::new(),
            signer: None,
            signer_subject: None,
            signing_time: None,
            revision: 0,
            signed_bytes: 0,
            intact: false,
            byte_range_ok: false,
            covers_whole_document: false,
            modifications: Vec::new(),
            later_changes: Vec::new(),
            certification: None,
            timestamp: None,
            revocation: Vec::new(),
            validation_time: None,
            trusted: false,
            chain: Vec::new(),
            problems: Vec::new(),
            status: Status::Invalid,
        }
    }
}

fn trim_end_ws(b: &[u8]) -> &[u8] {
    let mut end = b.len();
    while end > 0 && crate::object::is_whitespace(b[end - 1]) {
        end -= 1;
    }
    &b[..end]
}

fn hex_decode(h: &[u8]) -> Option<Vec<u8>> {
    let digits: Vec<u8> = h
        .iter()
        .copied()
        .filter(|b| !crate::object::is_whitespace(*b))
        .collect();
    let mut out = Vec::with_capacity(digits.len() / 2 + 1);
    for pair in digits.chunks(2) {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = match pair.get(1) {
            Some(c) => (*c as char).to_digit(16)?,
            None => 0,
        };
        out.push((hi * 16 + lo) as u8);
    }
    Some(out)
}

/// Hashes the given (offset, length) ranges of the source, streaming.
pub fn digest_ranges<S: Source>(
    src: &S,
    hash: HashAlgorithm,
    ranges: &[(u64, u64)],
) -> Result<Vec<u8>> {
    let mut ctx = digest::Context::new(hash.digest_algorithm());
    let mut buf = vec![0u8; 1 << 16];
    for (start, len) in ranges {
        let mut at = *start;
        let end = start + len;
        while at < end {
            let want = ((end - at) as usize).min(buf.len());
            let n = src.read_at(at, &mut buf[..want])?;
            if n == 0 {
                return Err(PdfError::Damaged(
                    "the signed range runs past the end of the file".into(),
                ));
            }
            ctx.update(&buf[..n]);
            at += n as u64;
        }
    }
    Ok(ctx.finish().as_ref().to_vec())
}

// ---------------------------------------------------------------------------------------------
// Changes after signing
//
// Each changed object is judged by what it is and by the least DocMDP permission its kind of
// change needs (ISO 32000-2 §12.8.2.2; pyHanko's whitelisting rules, which validators apply).
// README.md, "What may change after a signature", lists every kind with its level.

/// The least DocMDP permission (P) a kind of later change needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Needs {
    /// Every level (P=1 too): long-term validation data (DSS, document timestamps, the
    /// signature fields holding them) and the document's metadata (/Info, the catalogue's XMP
    /// /Metadata, /Version, /Extensions, /MarkInfo), which other tools rewrite whenever they save.
    Archiving = 1,
    /// P=2 and 3: signing, filling in form fields.
    FormFilling = 2,
    /// P=3: adding annotations.
    Annotating = 3,
}

impl Needs {
    /// Whether a certification of level `p` (none: an approval signature) allows this.
    fn allowed_by(self, p: Option<i64>) -> bool {
        p.is_none_or(|p| p.clamp(1, 3) >= self as i64)
    }
}

enum Change {
    Allowed(String, Needs),
    Disallowed(String),
}

/// Compares the document as signed (its first `signed_end` bytes) with the whole file, and sorts
/// the changes into disallowed and allowed ones, given the strictest certification in force.
fn diff_revisions<S: Source>(
    doc: &Document<S>,
    signed_end: u64,
    certification: Option<i64>,
) -> Result<(Vec<String>, Vec<String>)> {
    let old = Document::open(Prefix {
        inner: doc.source(),
        len: signed_end,
    })?;
    let mut bad = Vec::new();
    if old.repaired {
        bad.push("the signed revision's cross-reference data is broken".into());
        return Ok((bad, Vec::new()));
    }
    if !doc.sections.iter().any(|s| s.offset == old.startxref) {
        bad.push("the later revisions do not build on the signed one".into());
    }
    let old_root = old.root_ref()?;
    if doc.root_ref()? != old_root {
        bad.push("the document catalogue was replaced".into());
    }
    let meta = MetadataObjects::new(&old, doc)?;
    let mut changes = Vec::new();
    changes.extend(meta.info_replaced(&old));
    for (num, entry) in &doc.xref {
        let old_entry = old.xref.get(num).copied();
        if old_entry == Some(*entry) {
            continue;
        }
        let is_free = matches!(entry, XrefEntry::Free);
        let was_live = !matches!(old_entry, None | Some(XrefEntry::Free));
        if is_free {
            if was_live {
                bad.push(format!("object {num} was deleted"));
            }
            continue;
        }
        let gen = match entry {
            XrefEntry::InFile { gen, .. } => *gen,
            _ => 0,
        };
        let id = ObjRef::new(*num, gen);
        let new_obj = doc.get(id)?;
        if !was_live {
            // A new object; its effect shows where a changed object points at it.
            if let Some(d) = new_obj.as_dict() {
                // As pyHanko's policy has it: after a certification, later signers fill the
                // fields prepared before it, or sign invisibly.
                if d.name("FT") == Some(b"Sig") && certification.is_some() && has_area(d) {
                    bad.push(format!(
                        "a new visible signature field (object {num}) was added after the certification signature"
                    ));
                }
                match d.name("Type") {
                    Some(b"Sig") => changes.push(Change::Allowed(
                        "a signature was added".into(),
                        Needs::FormFilling,
                    )),
                    Some(b"DocTimeStamp") => changes.push(Change::Allowed(
                        "a document timestamp was added".into(),
                        Needs::Archiving,
                    )),
                    _ => {}
                }
            }
            continue;
        }
        let old_gen = match old_entry {
            Some(XrefEntry::InFile { gen, .. }) => gen,
            _ => 0,
        };
        let old_obj = old.get(ObjRef::new(*num, old_gen))?;
        if old_obj == new_obj && !matches!(new_obj, Object::Stream(..)) {
            continue;
        }
        changes.extend(classify_change(
            &old, doc, id, &old_obj, &new_obj, old_root, &meta,
        )?);
    }
    let mut fine = BTreeSet::new();
    for change in changes {
        let refused = match change {
            Change::Allowed(what, needs) if needs.allowed_by(certification) => {
                fine.insert(what);
                continue;
            }
            Change::Allowed(what, _) => format!(
                "{what}, which the certification (DocMDP P={}) does not allow",
                certification.unwrap_or_default()
            ),
            Change::Disallowed(what) => what,
        };
        if !bad.contains(&refused) {
            bad.push(refused);
        }
    }
    Ok((bad, fine.into_iter().collect()))
}

/// Where the document's metadata lives in the signed revision and now: the trailer's /Info and
/// the catalogue's /Metadata, /Extensions and /MarkInfo when they are indirect. Other tools
/// rewrite these objects in place when they save. Such a rewrite is a metadata change only when
/// nothing else in the signed revision uses the object: otherwise a file prepared with its /Info
/// pointing at, say, a page's graphics state could change that page as "metadata".
struct MetadataObjects {
    /// (key, where it pointed when signed, where it points now); "Info" is the trailer's.
    slots: Vec<(&'static str, Option<ObjRef>, Option<ObjRef>)>,
    /// Those of the signed revision's metadata objects that something else refers to too;
    /// found by reading every object of the signed revision, so only when first needed.
    shared: std::cell::OnceCell<HashSet<ObjRef>>,
}

const CATALOGUE_METADATA: [&str; 3] = ["Metadata", "Extensions", "MarkInfo"];

impl MetadataObjects {
    fn new<S: Source, T: Source>(old: &Document<T>, new: &Document<S>) -> Result<Self> {
        let reference = |d: &Dict, key: &str| d.get(key).and_then(Object::as_ref);
        let (old_catalog, new_catalog) = (old.catalog()?, new.catalog()?);
        let mut slots = vec![(
            "Info",
            reference(&old.trailer, "Info"),
            reference(&new.trailer, "Info"),
        )];
        for key in CATALOGUE_METADATA {
            slots.push((
                key,
                reference(&old_catalog, key),
                reference(&new_catalog, key),
            ));
        }
        Ok(Self {
            slots,
            shared: std::cell::OnceCell::new(),
        })
    }

    /// The metadata key `id` held both when signed and now, if any.
    fn slot_of(&self, id: ObjRef) -> Option<&'static str> {
        self.slots
            .iter()
            .find(|(_, old, new)| *old == Some(id) && *new == Some(id))
            .map(|(key, _, _)| *key)
    }

    /// Whether the signed revision refers to `id` from anywhere but its metadata key.
    fn shared<T: Source>(&self, old: &Document<T>, id: ObjRef) -> bool {
        if self.shared.get().is_none() {
            let _ = self.shared.set(self.find_shared(old));
        }
        self.shared.get().is_some_and(|s| s.contains(&id))
    }

    fn find_shared<T: Source>(&self, old: &Document<T>) -> HashSet<ObjRef> {
        let targets: HashSet<ObjRef> = self.slots.iter().filter_map(|s| s.1).collect();
        let mut found = HashSet::new();
        for (key, value) in &old.trailer.0 {
            if key.as_slice() != b"Info" {
                collect_refs(value, &targets, &mut found);
            }
        }
        let root = old.root_ref().ok();
        for (id, _) in old.objects() {
            let obj = match old.get(id) {
                Ok(obj) => obj,
                // What cannot be read here might be read by another reader: assume the worst.
                Err(_) => return targets,
            };
            match &obj {
                // A cross-reference stream's dictionary is a trailer: its /Info is the one.
                Object::Stream(d, _) if d.name("Type") == Some(b"XRef") => {
                    for (key, value) in &d.0 {
                        if key.as_slice() != b"Info" {
                            collect_refs(value, &targets, &mut found);
                        }
                    }
                }
                Object::Dict(d) if Some(id) == root => {
                    for (key, value) in &d.0 {
                        let is_slot = CATALOGUE_METADATA.iter().any(|k| k.as_bytes() == key);
                        if !(is_slot && matches!(value, Object::Ref(_))) {
                            collect_refs(value, &targets, &mut found);
                        }
                    }
                }
                _ => {
                    let mut inside = HashSet::new();
                    collect_refs(&obj, &targets, &mut inside);
                    inside.remove(&id);
                    found.extend(inside);
                }
            }
        }
        found
    }

    /// The trailer's /Info pointed elsewhere (a rewrite in place is judged with the objects).
    fn info_replaced<T: Source>(&self, old: &Document<T>) -> Option<Change> {
        let (_, was, now) = self.slots[0];
        if was == now {
            return None;
        }
        Some(match now {
            None => Change::Allowed(
                "the document information dictionary (/Info) was removed".into(),
                Needs::Archiving,
            ),
            Some(r) if is_live(old, r) => Change::Disallowed(format!(
                "the trailer's /Info was pointed at object {}, which the signed revision already had",
                r.num
            )),
            Some(_) => Change::Allowed(
                "the document information dictionary (/Info) was replaced".into(),
                Needs::Archiving,
            ),
        })
    }
}

/// Every reference in `o` (not following them) that is one of `targets`.
fn collect_refs(o: &Object, targets: &HashSet<ObjRef>, found: &mut HashSet<ObjRef>) {
    match o {
        Object::Ref(r) if targets.contains(r) => {
            found.insert(*r);
        }
        Object::Array(items) => items.iter().for_each(|i| collect_refs(i, targets, found)),
        Object::Dict(d) | Object::Stream(d, _) => {
            d.0.iter()
                .for_each(|(_, v)| collect_refs(v, targets, found))
        }
        _ => {}
    }
}

fn is_live<T: Source>(doc: &Document<T>, r: ObjRef) -> bool {
    !matches!(doc.xref.get(&r.num), None | Some(XrefEntry::Free))
}

/// Whether `o` is an XMP metadata stream: /Type /Metadata, decodable, and text that names
/// `xmpmeta` without a DTD or entities (pyHanko parses it as XML; this is a lighter check, which
/// the rule that nothing else may use the stream makes safe).
fn is_xmp<S: Source>(doc: &Document<S>, o: &Object) -> bool {
    let Object::Stream(d, data) = o else {
        return false;
    };
    if d.name("Type") != Some(b"Metadata") {
        return false;
    }
    let Ok(bytes) = doc.stream_decoded(d, *data) else {
        return false;
    };
    let text = String::from_utf8_lossy(&bytes);
    text.contains("xmpmeta") && !text.contains("<!DOCTYPE") && !text.contains("<!ENTITY")
}

/// A metadata object (the /Info dictionary, the XMP stream, /Extensions or /MarkInfo) rewritten
/// in place.
fn classify_metadata<S: Source>(
    new: &Document<S>,
    key: &str,
    num: u32,
    old_obj: &Object,
    new_obj: &Object,
) -> Change {
    let what = match key {
        "Info" => "the document information dictionary (/Info)",
        "Metadata" => "the XMP metadata (/Metadata)",
        "Extensions" => "the catalogue's developer extensions (/Extensions)",
        _ => "the catalogue's tagged-PDF flags (/MarkInfo)",
    };
    let plain_dicts = matches!(old_obj, Object::Dict(_)) && matches!(new_obj, Object::Dict(_));
    let fits = if key == "Metadata" {
        matches!(old_obj, Object::Stream(..)) && is_xmp(new, new_obj)
    } else {
        plain_dicts
    };
    if !fits {
        return Change::Disallowed(format!(
            "object {num}, {what}, was replaced by something else"
        ));
    }
    Change::Allowed(format!("{what} was changed"), Needs::Archiving)
}

fn classify_change<S: Source, T: Source>(
    old: &Document<T>,
    new: &Document<S>,
    id: ObjRef,
    old_obj: &Object,
    new_obj: &Object,
    root: ObjRef,
    meta: &MetadataObjects,
) -> Result<Vec<Change>> {
    let num = id.num;
    if let Some(key) = meta.slot_of(id) {
        if meta.shared(old, id) {
            return Ok(vec![Change::Disallowed(format!(
                "object {num} was changed after signing: it is the document's /{key}, but the signed revision also uses it elsewhere"
            ))]);
        }
        return Ok(vec![classify_metadata(new, key, num, old_obj, new_obj)]);
    }
    let (Some(od), Some(nd)) = (old_obj.as_dict(), new_obj.as_dict()) else {
        // Arrays: /Fields or /Annots arrays may only grow by signature fields (or annotations).
        if let (Some(oa), Some(na)) = (old_obj.as_array(), new_obj.as_array()) {
            if na.starts_with(oa) || oa.iter().all(|o| na.contains(o)) {
                let added: Vec<&Object> = na.iter().filter(|o| !oa.contains(o)).collect();
                if added.iter().all(|o| is_signature_field(new, o)) {
                    return Ok(vec![Change::Allowed(
                        "signature fields were added".into(),
                        Needs::Archiving,
                    )]);
                }
                if added
                    .iter()
                    .all(|o| is_signature_field(new, o) || is_annotation(new, o))
                {
                    return Ok(vec![Change::Allowed(
                        "annotations were added".into(),
                        Needs::Annotating,
                    )]);
                }
            }
            return Ok(vec![Change::Disallowed(format!(
                "array object {num} was changed"
            ))]);
        }
        return Ok(vec![Change::Disallowed(format!(
            "object {num} was changed"
        ))]);
    };
    if matches!(new_obj, Object::Stream(..)) || matches!(old_obj, Object::Stream(..)) {
        let what = if od.name("Type") == Some(b"XRef") {
            "a cross-reference stream"
        } else {
            "a stream (page content, image or font)"
        };
        return Ok(vec![Change::Disallowed(format!(
            "{what} (object {num}) was changed after signing"
        ))]);
    }
    let changed: Vec<String> = changed_keys(od, nd);
    if id == root {
        return classify_catalogue(old, new, od, nd, &changed);
    }
    let only = |allowed: &[&str]| changed.iter().all(|k| allowed.contains(&k.as_str()));
    if od.get("Fields").is_some() || od.get("SigFlags").is_some() {
        return Ok(vec![check_acroform(new, od, nd)]);
    }
    // The DSS grows with every long-term validation update (new certificates, OCSP responses,
    // CRLs, VRI entries); nothing else lives in it.
    let dss_keys = ["Type", "Certs", "OCSPs", "CRLs", "VRI"];
    if od
        .keys()
        .chain(nd.keys())
        .all(|k| dss_keys.iter().any(|d| d.as_bytes() == k))
        && (od.get("VRI").is_some() || od.get("Certs").is_some())
    {
        return Ok(vec![Change::Allowed(
            "the document security store was extended".into(),
            Needs::Archiving,
        )]);
    }
    let is_sig_field = nd.name("FT") == Some(b"Sig");
    if is_sig_field && od.get("V").is_none() && only(&["V", "AP", "F", "MK", "Lock", "SV"]) {
        let timestamp = matches!(
            new.lookup(nd, "V")?,
            Some(Object::Dict(v)) if v.name("Type") == Some(b"DocTimeStamp")
        );
        return Ok(vec![if timestamp && !has_area(nd) {
            Change::Allowed(
                "an empty signature field took a document timestamp".into(),
                Needs::Archiving,
            )
        } else {
            Change::Allowed(
                "an empty signature field was signed".into(),
                Needs::FormFilling,
            )
        }]);
    }
    // Form filling: a text, button or choice field (or one of its widgets) takes a value, an
    // appearance state and appearance streams; nothing else of it may change. Appearance streams
    // that already existed cannot be rewritten (any changed stream is refused above), so a fill
    // shows only through new streams the field now points at.
    let ft = inherited_field_type(new, nd)?;
    if matches!(ft.as_deref(), Some(b"Tx" | b"Btn" | b"Ch"))
        && inherited_field_type(old, od)? == ft
        && only(&["V", "AS", "AP"])
    {
        return Ok(vec![Change::Allowed(
            "a form field was filled in".into(),
            Needs::FormFilling,
        )]);
    }
    if od.name("Type") == Some(b"Page") {
        if only(&["Annots"]) {
            let oa = resolve_array(old, od.get("Annots"))?;
            let na = resolve_array(new, nd.get("Annots"))?;
            if oa.iter().all(|o| na.contains(o)) {
                let added: Vec<&Object> = na.iter().filter(|o| !oa.contains(o)).collect();
                if added.iter().all(|o| is_signature_field(new, o)) {
                    return Ok(vec![Change::Allowed(
                        "signature widgets were added to a page".into(),
                        Needs::Archiving,
                    )]);
                }
                if added
                    .iter()
                    .all(|o| is_signature_field(new, o) || is_annotation(new, o))
                {
                    return Ok(vec![Change::Allowed(
                        "annotations were added to a page".into(),
                        Needs::Annotating,
                    )]);
                }
                return Ok(vec![Change::Disallowed(format!(
                    "annotations were added to page object {num}"
                ))]);
            }
            return Ok(vec![Change::Disallowed(format!(
                "annotations were removed from page object {num}"
            ))]);
        }
        return Ok(vec![Change::Disallowed(format!(
            "a page (object {num}) was changed: {}",
            changed.join(", ")
        ))]);
    }
    Ok(vec![Change::Disallowed(format!(
        "object {num}{} was changed after signing ({})",
        od.name("Type")
            .map(|t| format!(" (/{})", String::from_utf8_lossy(t)))
            .unwrap_or_default(),
        changed.join(", ")
    ))])
}

/// The catalogue's changed keys, each judged. Besides the form, the DSS and the metadata
/// entries, nothing in it may change (pyHanko's `CatalogModificationRule`).
fn classify_catalogue<S: Source, T: Source>(
    old: &Document<T>,
    new: &Document<S>,
    od: &Dict,
    nd: &Dict,
    changed: &[String],
) -> Result<Vec<Change>> {
    let mut out = Vec::new();
    let mut others = Vec::new();
    for key in changed {
        let (was, now) = (od.get(key), nd.get(key));
        // An indirect value may point at a new object, or stay where it was; never at another
        // object of the signed revision, whose other uses would change along with it.
        let reuses = |now: Option<&Object>| match now {
            Some(Object::Ref(r)) if was != now && is_live(old, *r) => Some(r.num),
            _ => None,
        };
        out.push(match key.as_str() {
            "AcroForm" => {
                let resolved = |doc_dict: Option<Object>| match doc_dict {
                    Some(Object::Dict(d)) => Some(d),
                    _ => None,
                };
                let oa = resolved(old.lookup(od, "AcroForm")?).unwrap_or_default();
                match resolved(new.lookup(nd, "AcroForm")?) {
                    Some(na) => check_acroform(new, &oa, &na),
                    None => Change::Disallowed("the form (/AcroForm) was removed".into()),
                }
            }
            "DSS" => Change::Allowed(
                "the document security store was added or replaced".into(),
                Needs::Archiving,
            ),
            "Metadata" => match now {
                None => Change::Allowed(
                    "the XMP metadata (/Metadata) was removed".into(),
                    Needs::Archiving,
                ),
                Some(Object::Ref(r)) if reuses(now).is_some() => Change::Disallowed(format!(
                    "the catalogue's /Metadata was pointed at object {}, which the signed revision already had",
                    r.num
                )),
                Some(Object::Ref(r)) if is_xmp(new, &new.get(*r)?) => Change::Allowed(
                    "the XMP metadata (/Metadata) was replaced".into(),
                    Needs::Archiving,
                ),
                _ => Change::Disallowed(
                    "the catalogue's /Metadata was replaced by something that is not an XMP metadata stream".into(),
                ),
            },
            "Extensions" | "MarkInfo" => match reuses(now) {
                Some(n) => Change::Disallowed(format!(
                    "the catalogue's /{key} was pointed at object {n}, which the signed revision already had"
                )),
                None => Change::Allowed(
                    if key == "Extensions" {
                        "the catalogue's developer extensions (/Extensions) were changed".into()
                    } else {
                        "the catalogue's tagged-PDF flags (/MarkInfo) were changed".into()
                    },
                    Needs::Archiving,
                ),
            },
            "Version" => match now {
                None => Change::Allowed(
                    "the catalogue's /Version was removed".into(),
                    Needs::Archiving,
                ),
                Some(Object::Name(v)) => Change::Allowed(
                    format!(
                        "the catalogue's /Version became {}",
                        String::from_utf8_lossy(v)
                    ),
                    Needs::Archiving,
                ),
                Some(_) => Change::Disallowed("the catalogue's /Version is not a name".into()),
            },
            "Perms" => Change::Disallowed("the document's permissions (/Perms) were changed".into()),
            _ => {
                others.push(key.as_str());
                continue;
            }
        });
    }
    if !others.is_empty() {
        out.push(Change::Disallowed(format!(
            "the document catalogue was changed ({})",
            others.join(", ")
        )));
    }
    Ok(out)
}

fn check_acroform<S: Source>(new: &Document<S>, od: &Dict, nd: &Dict) -> Change {
    let changed = changed_keys(od, nd);
    if !changed
        .iter()
        .all(|k| matches!(k.as_str(), "Fields" | "SigFlags" | "DR" | "DA"))
    {
        return Change::Disallowed(format!("the form was changed ({})", changed.join(", ")));
    }
    let of = od.get("Fields").and_then(Object::as_array).unwrap_or(&[]);
    let nf = nd.get("Fields").and_then(Object::as_array).unwrap_or(&[]);
    if of.iter().all(|o| nf.contains(o))
        && nf
            .iter()
            .filter(|o| !of.contains(o))
            .all(|o| is_signature_field(new, o))
        || !changed.iter().any(|k| k == "Fields")
    {
        Change::Allowed(
            "signature fields were added to the form".into(),
            Needs::Archiving,
        )
    } else {
        Change::Disallowed("form fields other than signatures were added or removed".into())
    }
}

/// A field's /FT, from its own dictionary or its parents'.
fn inherited_field_type<S: Source>(doc: &Document<S>, d: &Dict) -> Result<Option<Vec<u8>>> {
    let mut current = d.clone();
    for _ in 0..32 {
        if let Some(ft) = current.name("FT") {
            return Ok(Some(ft.to_vec()));
        }
        match current.get("Parent").and_then(Object::as_ref) {
            Some(p) => current = doc.get_dict(p)?,
            None => return Ok(None),
        }
    }
    Ok(None)
}

fn has_area(d: &Dict) -> bool {
    d.get("Rect").and_then(Object::as_array).is_some_and(|r| {
        let v: Vec<f64> = r.iter().filter_map(Object::as_number).collect();
        v.len() == 4 && (v[2] - v[0]).abs() > 0.0 && (v[3] - v[1]).abs() > 0.0
    })
}

fn changed_keys(a: &Dict, b: &Dict) -> Vec<String> {
    let mut keys: BTreeSet<&[u8]> = a.keys().collect();
    keys.extend(b.keys());
    keys.into_iter()
        .filter(|k| {
            let k = std::str::from_utf8(k).unwrap_or("");
            a.get(k) != b.get(k)
        })
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .collect()
}

fn resolve_array<S: Source>(doc: &Document<S>, o: Option<&Object>) -> Result<Vec<Object>> {
    Ok(match o {
        Some(o) => match doc.resolve(o)? {
            Object::Array(a) => a,
            _ => Vec::new(),
        },
        None => Vec::new(),
    })
}

fn is_signature_field<S: Source>(doc: &Document<S>, o: &Object) -> bool {
    doc.resolve(o)
        .ok()
        .and_then(|o| o.as_dict().map(|d| d.name("FT") == Some(b"Sig")))
        .unwrap_or(false)
}

fn is_annotation<S: Source>(doc: &Document<S>, o: &Object) -> bool {
    doc.resolve(o)
        .ok()
        .and_then(|o| o.as_dict().map(|d| d.get("Subtype").is_some()))
        .unwrap_or(false)
}

// ---------------------------------------------------------------------------------------------
// Certificates

enum ChainError {
    /// The chain is wrong in a way that makes the signature invalid (expired, bad signature).
    Invalid(String),
    /// No path to a trust anchor.
    Untrusted(String),
}

/// Builds a path from `leaf` through `pool` to one of `anchors`, checking each signature,
/// validity at `at`, and CA constraints.
fn build_chain(
    leaf: &Certificate,
    pool: &[Certificate],
    anchors: &[Certificate],
    at: DateTime<Utc>,
) -> std::result::Result<Vec<Certificate>, ChainError> {
    check_validity(leaf, at)?;
    check_signer_usage(leaf)?;
    let mut chain = vec![leaf.clone()];
    let mut current = leaf.clone();
    for _ in 0..8 {
        // Signed directly by an anchor (or is one)?
        for a in anchors {
            if a == &current && is_self_signed(a) {
                return Ok(chain);
            }
            if a.tbs_certificate.subject == current.tbs_certificate.issuer && signed_by(&current, a)
            {
                check_validity(a, at)?;
                chain.push(a.clone());
                return Ok(chain);
            }
        }
        let next = pool.iter().find(|c| {
            c.tbs_certificate.subject == current.tbs_certificate.issuer
                && *c != &current
                && signed_by(&current, c)
        });
        match next {
            Some(c) if !is_self_signed(c) => {
                check_validity(c, at)?;
                if !is_ca(c) {
                    return Err(ChainError::Invalid(format!(
                        "{} issued a certificate without being a CA",
                        c.tbs_certificate.subject
                    )));
                }
                chain.push(c.clone());
                current = c.clone();
            }
            _ => break,
        }
    }
    Err(ChainError::Untrusted(format!(
        "the certificate chain of {} does not lead to a trusted root",
        leaf.tbs_certificate.subject
    )))
}

/// Whether `issuer`'s key signed `cert`.
fn signed_by(cert: &Certificate, issuer: &Certificate) -> bool {
    revocation::cert_signed_by(cert, issuer)
}

fn is_self_signed(c: &Certificate) -> bool {
    c.tbs_certificate.subject == c.tbs_certificate.issuer && signed_by(c, c)
}

fn is_ca(c: &Certificate) -> bool {
    cms::extension::<BasicConstraints>(c, const_oid::db::rfc5280::ID_CE_BASIC_CONSTRAINTS)
        .is_some_and(|b| b.ca)
}

fn check_validity(c: &Certificate, at: DateTime<Utc>) -> std::result::Result<(), ChainError> {
    let v = &c.tbs_certificate.validity;
    let nb = v.not_before.to_unix_duration().as_secs() as i64;
    let na = v.not_after.to_unix_duration().as_secs() as i64;
    let t = at.timestamp();
    if t < nb || t > na {
        return Err(ChainError::Invalid(format!(
            "the certificate of {} was not valid at the signing time {} (valid {} to {})",
            c.tbs_certificate.subject,
            at.to_rfc3339(),
            v.not_before,
            v.not_after
        )));
    }
    Ok(())
}

fn check_signer_usage(c: &Certificate) -> std::result::Result<(), ChainError> {
    if let Some(ku) = cms::extension::<KeyUsage>(c, const_oid::db::rfc5280::ID_CE_KEY_USAGE) {
        if !ku.0.contains(KeyUsages::DigitalSignature) && !ku.0.contains(KeyUsages::NonRepudiation)
        {
            return Err(ChainError::Invalid(
                "the signer's certificate is not for digital signatures".into(),
            ));
        }
    }
    Ok(())
}

/// The first common name in a distinguished name.
pub fn common_name(name: &Name) -> Option<String> {
    for rdn in name.0.iter() {
        for atv in rdn.0.iter() {
            if atv.oid == const_oid::db::rfc4519::CN {
                if let Ok(s) = der::asn1::Utf8StringRef::try_from(&atv.value) {
                    return Some(s.as_str().to_string());
                }
                if let Ok(s) = der::asn1::PrintableStringRef::try_from(&atv.value) {
                    return Some(s.as_str().to_string());
                }
                return Some(String::from_utf8_lossy(atv.value.value()).into_owned());
            }
        }
    }
    None
}

/// Parses a PDF date (`D:YYYYMMDDHHmmSSOHH'mm'`, later parts optional).
pub fn parse_pdf_date(s: &str) -> Option<DateTime<FixedOffset>> {
    let s = s.strip_prefix("D:").unwrap_or(s);
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    if digits.len() < 4 {
        return None;
    }
    let num = |from: usize, len: usize, default: u32| -> u32 {
        digits
            .get(from..from + len)
            .and_then(|d| d.parse().ok())
            .unwrap_or(default)
    };
    let year = digits.get(0..4)?.parse::<i32>().ok()?;
    let rest = &s[digits.len()..];
    let offset_secs = match rest.chars().next() {
        Some(sign @ ('+' | '-')) => {
            let tz: String = rest[1..].chars().filter(char::is_ascii_digit).collect();
            let h: i32 = tz.get(0..2).and_then(|d| d.parse().ok()).unwrap_or(0);
            let m: i32 = tz.get(2..4).and_then(|d| d.parse().ok()).unwrap_or(0);
            let secs = h * 3600 + m * 60;
            if sign == '-' {
                -secs
            } else {
                secs
            }
        }
        _ => 0,
    };
    let tz = FixedOffset::east_opt(offset_secs)?;
    tz.with_ymd_and_hms(
        year,
        num(4, 2, 1),
        num(6, 2, 1),
        num(8, 2, 0),
        num(10, 2, 0),
        num(12, 2, 0),
    )
    .single()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdf_dates_parse_with_offsets() {
        let t = parse_pdf_date("D:20261125103000+09'00'").expect("date");
        assert_eq!(t.to_rfc3339(), "2026-11-25T10:30:00+09:00");
        let t = parse_pdf_date("D:2026").expect("date");
        assert_eq!(t.to_rfc3339(), "2026-01-01T00:00:00+00:00");
        assert!(parse_pdf_date("garbage").is_none());
    }
}
