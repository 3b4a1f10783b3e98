//! Signing: an incremental update that adds a signature field, its widget and a PAdES signature
//! dictionary, written after every byte of the input, which is streamed and hashed in one pass.

use std::collections::BTreeMap;
use std::io::{self, Write};

use aws_lc_rs::digest;
use chrono::{DateTime, FixedOffset, Utc};

use crate::appearance::{self, Appearance, AppearanceSpec};
use crate::document::{Document, XrefKind};
use crate::error::{PdfError, Result};
use crate::form::FieldFill;
use crate::keys::{HashAlgorithm, Signer};
use crate::ltv::{self, TsaTransport};
use crate::object::{
    decode_text, text_string, write_dict, write_indirect, write_stream, Dict, ObjRef, Object,
};
use crate::source::Source;
use crate::{cms, repair};

/// Where a visible signature goes: page from 1, rectangle in points from the lower-left corner.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placement {
    pub page: usize,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

impl Placement {
    /// Parses `PAGE,X,Y,W,H`.
    pub fn parse(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        let bad = || PdfError::Invalid(format!("bad placement '{s}': expected PAGE,X,Y,W,H"));
        if parts.len() != 5 {
            return Err(bad());
        }
        let page: usize = parts[0].parse().map_err(|_| bad())?;
        let nums: Vec<f64> = parts[1..]
            .iter()
            .map(|p| p.parse::<f64>().ok().filter(|v| v.is_finite()))
            .collect::<Option<_>>()
            .ok_or_else(bad)?;
        if page == 0 || nums[2] <= 0.0 || nums[3] <= 0.0 {
            return Err(PdfError::Invalid(format!(
                "bad placement '{s}': pages count from 1 and the width and height must be positive"
            )));
        }
        Ok(Self {
            page,
            x: nums[0],
            y: nums[1],
            width: nums[2],
            height: nums[3],
        })
    }
}

/// DocMDP permissions of a certification signature (ISO 32000-1 §12.8.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Certify {
    /// P = 1: no changes allowed.
    NoChanges = 1,
    /// P = 2: form filling and signing.
    FormFilling = 2,
    /// P = 3: also annotations.
    Annotations = 3,
}

impl Certify {
    pub fn from_level(p: i64) -> Result<Self> {
        match p {
            1 => Ok(Self::NoChanges),
            2 => Ok(Self::FormFilling),
            3 => Ok(Self::Annotations),
            _ => Err(PdfError::Invalid(format!(
                "--certify takes 1, 2 or 3, not {p}"
            ))),
        }
    }
}

/// What to sign and how.
#[derive(Clone, Debug, Default)]
pub struct SignOptions {
    pub placement: Option<Placement>,
    pub seal_png: Option<Vec<u8>>,
    /// Lines drawn beside the seal; by default the signer's name and the signing time.
    pub appearance_text: Option<Vec<String>>,
    pub name: Option<String>,
    pub reason: Option<String>,
    pub location: Option<String>,
    pub contact_info: Option<String>,
    pub certify: Option<Certify>,
    /// The digest; by default the one the key signs with (SHA-256, or SHA-384 for P-384).
    pub hash: Option<HashAlgorithm>,
    /// Fill this existing empty signature field, or create a field of this name.
    pub field_name: Option<String>,
    /// Text and checkbox fields to fill in the same incremental update as the signature.
    pub fill: Vec<FieldFill>,
    /// The claimed signing time (/M); now when not given.
    pub signing_time: Option<DateTime<FixedOffset>>,
}

/// What signing did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignReport {
    /// Why the input was rewritten whole before signing (damaged or hybrid cross-references);
    /// `None` when every input byte was kept.
    pub rewritten: Option<String>,
    pub field_name: String,
    /// Bytes reserved for the CMS in /Contents.
    pub reserved: usize,
    pub output_len: u64,
}

/// Signs the PDF in `src`, writing the signed file to `out`: the input's bytes unchanged, then
/// one incremental update. A damaged unsigned file is rewritten whole first (see
/// [`SignReport::rewritten`]); a damaged signed file is refused.
pub fn sign<S: Source, W: Write>(
    src: S,
    out: W,
    signer: &dyn Signer,
    opts: &SignOptions,
) -> Result<SignReport> {
    sign_cms(src, out, signer, opts, None)
}

/// Like [`sign`], with a signature timestamp from `tsa` in the CMS (PAdES B-T).
pub fn sign_timestamped<S: Source, W: Write>(
    src: S,
    out: W,
    signer: &dyn Signer,
    opts: &SignOptions,
    tsa: &dyn TsaTransport,
) -> Result<SignReport> {
    sign_cms(src, out, signer, opts, Some(tsa))
}

fn sign_cms<S: Source, W: Write>(
    src: S,
    out: W,
    signer: &dyn Signer,
    opts: &SignOptions,
    tsa: Option<&dyn TsaTransport>,
) -> Result<SignReport> {
    let hash = opts.hash.unwrap_or_else(|| signer.default_hash());
    update(src, out, &ContentsKind::Cms { signer, hash, tsa }, opts)
}

/// Adds a document timestamp (/SubFilter /ETSI.RFC3161) over the whole file, as PAdES B-LTA
/// puts after the DSS.
pub fn timestamp_document<S: Source, W: Write>(
    src: S,
    out: W,
    tsa: &dyn TsaTransport,
    hash: HashAlgorithm,
) -> Result<SignReport> {
    let opts = SignOptions::default();
    update(src, out, &ContentsKind::DocTimestamp { tsa, hash }, &opts)
}

/// What fills /Contents.
enum ContentsKind<'a> {
    Cms {
        signer: &'a dyn Signer,
        hash: HashAlgorithm,
        tsa: Option<&'a dyn TsaTransport>,
    },
    DocTimestamp {
        tsa: &'a dyn TsaTransport,
        hash: HashAlgorithm,
    },
}

impl ContentsKind<'_> {
    fn hash(&self) -> HashAlgorithm {
        match self {
            Self::Cms { hash, .. } | Self::DocTimestamp { hash, .. } => *hash,
        }
    }

    /// The most bytes the contents can take.
    fn reserve(&self) -> Result<usize> {
        let dummy = vec![0u8; self.hash().output_len()];
        Ok(match self {
            Self::Cms { signer, hash, tsa } => {
                let cms = cms::build(*signer, *hash, &dummy, None, true)?.len();
                // The token's size is learnt from a real one, plus room for longer fields
                // (serial, time fraction) and the attribute's own header.
                let token = match tsa {
                    Some(t) => ltv::request_timestamp(*t, *hash, &dummy)?.len() + 64,
                    None => 0,
                };
                cms + token + 32
            }
            Self::DocTimestamp { tsa, hash } => {
                ltv::request_timestamp(*tsa, *hash, &dummy)?.len() + 64
            }
        })
    }

    fn produce(&self, document_digest: &[u8]) -> Result<Vec<u8>> {
        match self {
            Self::Cms {
                signer,
                hash,
                tsa: None,
            } => cms::build(*signer, *hash, document_digest, None, false),
            Self::Cms {
                signer,
                hash,
                tsa: Some(tsa),
            } => cms::build_timestamped(*signer, *hash, document_digest, |signature| {
                ltv::request_timestamp(*tsa, *hash, &hash.digest(signature))
            }),
            Self::DocTimestamp { tsa, hash } => {
                ltv::request_timestamp(*tsa, *hash, document_digest)
            }
        }
    }
}

fn update<S: Source, W: Write>(
    src: S,
    out: W,
    kind: &ContentsKind,
    opts: &SignOptions,
) -> Result<SignReport> {
    let (doc, rewritten) = open_for_update(src)?;
    let mut report = sign_document(&doc, out, kind, opts)?;
    report.rewritten = rewritten;
    Ok(report)
}

/// The file an incremental update is appended to: the input as it is, or a clean rewrite of a
/// damaged or hybrid-reference input that carries no signature yet.
pub(crate) enum Base<S> {
    Input(S),
    Rewritten(Vec<u8>),
}

impl<S: Source> Source for Base<S> {
    fn len(&self) -> u64 {
        match self {
            Base::Input(s) => s.len(),
            Base::Rewritten(v) => Source::len(v),
        }
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Base::Input(s) => s.read_at(offset, buf),
            Base::Rewritten(v) => v.read_at(offset, buf),
        }
    }
}

/// Opens `src` for one more incremental update. A damaged file without signatures is rewritten
/// whole first, and so is a hybrid-reference one (strict validators such as pyHanko refuse
/// signatures in hybrid files); the reason comes back with the document. A damaged signed file
/// is refused, since rewriting it would break its signatures.
pub(crate) fn open_for_update<S: Source>(src: S) -> Result<(Document<Base<S>>, Option<String>)> {
    let doc = Document::open(Base::Input(src))?;
    if doc.size() > u32::MAX - 1024 {
        return Err(PdfError::Damaged(
            "the file uses object numbers up to the largest possible; no new object fits".into(),
        ));
    }
    let hybrid = doc
        .sections
        .iter()
        .any(|s| s.trailer.get("XRefStm").is_some());
    let signed = (doc.repaired || hybrid) && repair::has_signatures(doc.source())?;
    if doc.repaired && signed {
        return Err(PdfError::DamagedSigned);
    }
    if doc.repaired {
        repair::check_complete(&doc)?;
    }
    if doc.repaired || hybrid && !signed {
        let reason = match &doc.damage {
            Some(d) => format!("its cross-reference data was damaged ({d})"),
            None => "it uses hybrid cross-references, which strict validators refuse".into(),
        };
        let fixed = Document::open(Base::Rewritten(repair::rewrite(&doc)?))?;
        if fixed.repaired {
            return Err(PdfError::Damaged(
                "the repaired file still does not read cleanly".into(),
            ));
        }
        return Ok((fixed, Some(reason)));
    }
    Ok((doc, None))
}

/// Lays out an update after the input: the bytes to append, and where each object starts in
/// them.
fn layout<S: Source>(doc: &Document<S>, up: &Update) -> Result<(Vec<u8>, BTreeMap<u32, usize>)> {
    let input_len = doc.len();
    let mut body = Vec::new();
    let last = doc.source().read_vec(input_len.saturating_sub(1), 1)?;
    if !matches!(last.first(), Some(b'\n' | b'\r')) {
        body.push(b'\n');
    }
    let mut offsets = BTreeMap::new();
    let mut positions = BTreeMap::new();
    for (num, (gen, bytes)) in &up.objects {
        positions.insert(*num, body.len());
        offsets.insert(*num, (input_len + body.len() as u64, *gen));
        body.extend_from_slice(bytes);
    }
    let xref_at = input_len + body.len() as u64;
    write_xref(doc, &mut body, &offsets, xref_at, up.next)?;
    Ok((body, positions))
}

/// Writes the input unchanged followed by the update (one with nothing to sign in it); returns
/// the length written.
pub(crate) fn append_update<S: Source, W: Write>(
    doc: &Document<S>,
    mut out: W,
    up: &Update,
) -> Result<u64> {
    let (body, _) = layout(doc, up)?;
    copy_input(doc.source(), &mut out)?;
    out.write_all(&body)?;
    out.flush()?;
    Ok(doc.len() + body.len() as u64)
}

/// Copies the whole source to `out`.
pub(crate) fn copy_input<S: Source, W: Write>(src: &S, out: &mut W) -> Result<()> {
    let mut buf = vec![0u8; 1 << 16];
    let mut at = 0u64;
    while at < src.len() {
        let n = src.read_at(at, &mut buf)?;
        if n == 0 {
            return Err(PdfError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "input shrank while writing",
            )));
        }
        out.write_all(&buf[..n])?;
        at += n as u64;
    }
    Ok(())
}

/// Collects the objects of one incremental update.
pub(crate) struct Update {
    pub(crate) next: u32,
    pub(crate) objects: BTreeMap<u32, (u16, Vec<u8>)>,
}

impl Update {
    pub(crate) fn alloc(&mut self) -> ObjRef {
        let r = ObjRef::new(self.next, 0);
        self.next += 1;
        r
    }

    pub(crate) fn put(&mut self, id: ObjRef, obj: &Object) {
        let mut buf = Vec::new();
        write_indirect(&mut buf, id, obj);
        self.objects.insert(id.num, (id.gen, buf));
    }

    pub(crate) fn put_stream(&mut self, id: ObjRef, dict: &Dict, data: &[u8]) {
        let mut buf = Vec::new();
        write_stream(&mut buf, id, dict, data);
        self.objects.insert(id.num, (id.gen, buf));
    }
}

/// Field information gathered from the AcroForm.
pub(crate) struct FormState {
    /// The AcroForm dictionary (possibly new) and where it lives.
    pub(crate) acroform: Dict,
    acroform_ref: Option<ObjRef>,
    /// The top-level fields.
    pub(crate) fields: Vec<ObjRef>,
    fields_ref: Option<ObjRef>,
    fields_changed: bool,
    names: Vec<String>,
    signed_count: usize,
    pub(crate) docmdp: Option<i64>,
}

pub(crate) fn read_form<S: Source>(doc: &Document<S>, catalog: &Dict) -> Result<FormState> {
    let (acroform, acroform_ref) = match catalog.get("AcroForm") {
        Some(Object::Ref(r)) => match doc.get(*r)? {
            Object::Dict(d) => (d, Some(*r)),
            _ => (Dict::new(), None),
        },
        Some(Object::Dict(d)) => (d.clone(), None),
        _ => (Dict::new(), None),
    };
    let (fields_obj, fields_ref) = match acroform.get("Fields") {
        Some(Object::Ref(r)) => (doc.get(*r)?, Some(*r)),
        Some(o) => (o.clone(), None),
        None => (Object::Array(Vec::new()), None),
    };
    let fields: Vec<ObjRef> = fields_obj
        .as_array()
        .unwrap_or(&[])
        .iter()
        .filter_map(Object::as_ref)
        .collect();
    let mut names = Vec::new();
    let mut signed_count = 0;
    for f in &fields {
        // A field that cannot be read would leave verification unable to report on the form:
        // refuse rather than sign next to it.
        let d = doc.get_dict(*f)?;
        if let Some(t) = d.get("T").and_then(Object::as_string) {
            names.push(decode_text(t));
        }
        if d.name("FT") == Some(b"Sig") && d.get("V").is_some() {
            signed_count += 1;
        }
    }
    let docmdp = docmdp_level(doc, catalog)?;
    Ok(FormState {
        acroform,
        acroform_ref,
        fields,
        fields_ref,
        fields_changed: false,
        names,
        signed_count,
        docmdp,
    })
}

impl FormState {
    /// Adds new top-level fields (written by the caller) to /Fields.
    pub(crate) fn add_fields(&mut self, refs: &[ObjRef]) {
        self.fields.extend_from_slice(refs);
        self.fields_changed = true;
    }

    /// Writes the form into the update: /Fields when fields were added (in its own object when
    /// it has one) and the AcroForm dictionary (a new one is linked from the catalogue). Returns
    /// whether the catalogue changed.
    pub(crate) fn write(&mut self, up: &mut Update, catalog: &mut Dict) -> bool {
        if self.fields_changed {
            let fields = Object::Array(self.fields.iter().map(|r| Object::Ref(*r)).collect());
            match self.fields_ref {
                Some(r) => up.put(r, &fields),
                None => self.acroform.set("Fields", fields),
            }
        }
        match self.acroform_ref {
            Some(r) => {
                up.put(r, &Object::Dict(self.acroform.clone()));
                false
            }
            None => {
                let r = up.alloc();
                up.put(r, &Object::Dict(self.acroform.clone()));
                self.acroform_ref = Some(r);
                catalog.set("AcroForm", r);
                true
            }
        }
    }
}

/// The P of the document's certification signature, if it has one.
pub(crate) fn docmdp_level<S: Source>(doc: &Document<S>, catalog: &Dict) -> Result<Option<i64>> {
    let Some(Object::Dict(perms)) = doc.lookup(catalog, "Perms")? else {
        return Ok(None);
    };
    let Some(Object::Dict(sig)) = doc.lookup(&perms, "DocMDP")? else {
        return Ok(None);
    };
    let Some(Object::Array(refs)) = doc.lookup(&sig, "Reference")? else {
        return Ok(Some(2));
    };
    for r in refs {
        if let Object::Dict(sr) = doc.resolve(&r)? {
            if sr.name("TransformMethod") == Some(b"DocMDP") {
                if let Some(Object::Dict(tp)) = doc.lookup(&sr, "TransformParams")? {
                    return Ok(Some(tp.int("P").unwrap_or(2)));
                }
                return Ok(Some(2));
            }
        }
    }
    Ok(Some(2))
}

/// Width of each /ByteRange number in the placeholder.
const BR_WIDTH: usize = 10;

fn sign_document<S: Source, W: Write>(
    doc: &Document<S>,
    mut out: W,
    kind: &ContentsKind,
    opts: &SignOptions,
) -> Result<SignReport> {
    let hash = kind.hash();
    let doc_timestamp = matches!(kind, ContentsKind::DocTimestamp { .. });
    let now: DateTime<FixedOffset> = opts.signing_time.unwrap_or_else(|| Utc::now().into());
    let root_ref = doc.root_ref()?;
    let mut catalog = doc.catalog()?;
    let mut form = read_form(doc, &catalog)?;
    // A certification that allows no changes still takes long-term validation data: PAdES
    // (ETSI TS 102 778-4, EN 319 142-1) exempts DSS updates and document timestamps from DocMDP,
    // and pyHanko and the verifier agree. A document timestamp, then, but no signature.
    if form.docmdp == Some(1) && !doc_timestamp {
        return Err(PdfError::Invalid(
            "the document is certified with no changes allowed; it cannot be signed again".into(),
        ));
    }
    if opts.certify.is_some() && (form.signed_count > 0 || form.docmdp.is_some()) {
        return Err(PdfError::Invalid(
            "only the first signature can certify a document, and this one is already signed"
                .into(),
        ));
    }

    let mut up = Update {
        next: doc.size(),
        objects: BTreeMap::new(),
    };
    let sig_ref = up.alloc();

    // The field: an existing empty signature field of the requested name, or a new one.
    let existing = match &opts.field_name {
        Some(name) => find_field(doc, &form.fields, name)?,
        None => None,
    };
    if form.docmdp.is_some() && existing.is_none() && opts.placement.is_some() {
        return Err(PdfError::Invalid(
            "the document is certified: a later signature must fill a signature field prepared before certification (--field NAME) or be invisible".into(),
        ));
    }
    let field_name = match (&existing, &opts.field_name) {
        (Some(_), Some(n)) => n.clone(),
        (None, Some(n)) => {
            if form.names.iter().any(|x| x == n) {
                return Err(PdfError::Invalid(format!(
                    "a field named '{n}' exists and is not an empty signature field"
                )));
            }
            n.clone()
        }
        (_, None) => {
            let mut i = form.signed_count + 1;
            loop {
                let n = format!("Signature{i}");
                if !form.names.contains(&n) {
                    break n;
                }
                i += 1;
            }
        }
    };

    let (field_ref, mut field, widget_page, rect) = match existing {
        Some((r, d)) => {
            let rect = d
                .get("Rect")
                .and_then(Object::as_array)
                .and_then(rect_of)
                .unwrap_or([0.0; 4]);
            let page = d.get("P").and_then(Object::as_ref);
            (r, d, page, rect)
        }
        None => {
            let page_index = opts.placement.map_or(0, |p| p.page - 1);
            let page = doc.page(page_index)?;
            let rect = match opts.placement {
                Some(p) => [p.x, p.y, p.x + p.width, p.y + p.height],
                None => [0.0; 4],
            };
            let mut d = Dict::new();
            d.set("Type", Object::name("Annot"));
            d.set("Subtype", Object::name("Widget"));
            d.set("FT", Object::name("Sig"));
            d.set("T", text_string(&field_name));
            d.set("F", 132i64);
            d.set("P", page);
            d.set(
                "Rect",
                Object::Array(rect.iter().map(|v| Object::from(*v)).collect()),
            );
            (up.alloc(), d, Some(page), rect)
        }
    };
    field.set("V", sig_ref);

    // Appearance: always a form XObject (empty for an invisible signature), as PDF/A wants. A
    // widget turned with its page (/MK /R, as prepared fields on rotated pages are) gets an
    // appearance drawn upright for the reader and turned back by its /Matrix.
    let turn = widget_rotation(&field);
    let (rw, rh) = ((rect[2] - rect[0]).abs(), (rect[3] - rect[1]).abs());
    let (w, h) = if turn % 180 == 0 { (rw, rh) } else { (rh, rw) };
    let rendered = if w > 0.0 && h > 0.0 {
        let lines = opts.appearance_text.clone().unwrap_or_else(|| {
            vec![
                opts.name.clone().unwrap_or_else(|| match kind {
                    ContentsKind::Cms { signer, .. } => signer_display_name(*signer),
                    ContentsKind::DocTimestamp { .. } => String::new(),
                }),
                now.format("%Y/%m/%d %H:%M %:z").to_string(),
            ]
        });
        appearance::render(&AppearanceSpec {
            width: w,
            height: h,
            seal_png: opts.seal_png.as_deref(),
            lines,
        })
        .map_err(|e| PdfError::Appearance(e.to_string()))?
    } else {
        Appearance {
            content: Vec::new(),
            images: Vec::new(),
        }
    };
    // A document timestamp's field has no area and no appearance: validators count an
    // appearance as a change that needs form filling (P=2), which a certification with P=1 would
    // refuse, while archiving is allowed at every level. PDF/A exempts annotations whose
    // rectangle has no area from having an appearance (ISO 19005-2 §6.3.3).
    if !(doc_timestamp && w == 0.0 && h == 0.0) {
        let ap_ref = put_form_xobject(&mut up, w, h, turn, &rendered);
        let mut apd = Dict::new();
        apd.set("N", ap_ref);
        field.set("AP", apd);
    }
    if field.get("F").is_none() {
        field.set("F", 132i64);
    }
    up.put(field_ref, &Object::Dict(field));

    // The fields filled in with this signature, in the same update.
    crate::form::apply_fills(doc, &mut up, &form.fields, &opts.fill)?;

    // A new field joins the page's /Annots and the form's /Fields.
    let is_new = !form.fields.contains(&field_ref);
    if is_new {
        let page = widget_page.ok_or_else(|| PdfError::Damaged("no page for the widget".into()))?;
        let mut page_dict = doc.get_dict(page)?;
        if append_annots(doc, &mut up, &mut page_dict, &[field_ref])? {
            up.put(page, &Object::Dict(page_dict));
        }
        form.add_fields(&[field_ref]);
    }
    form.acroform.set("SigFlags", 3i64);
    let mut catalog_changed = form.write(&mut up, &mut catalog);

    // The signature dictionary, with placeholders for /ByteRange and /Contents.
    let mut sig = Dict::new();
    if doc_timestamp {
        sig.set("Type", Object::name("DocTimeStamp"));
        sig.set("Filter", Object::name("Adobe.PPKLite"));
        sig.set("SubFilter", Object::name("ETSI.RFC3161"));
    } else {
        sig.set("Type", Object::name("Sig"));
        sig.set("Filter", Object::name("Adobe.PPKLite"));
        sig.set("SubFilter", Object::name("ETSI.CAdES.detached"));
        sig.set("M", Object::String(pdf_date(&now).into_bytes()));
    }
    if let Some(n) = &opts.name {
        sig.set("Name", text_string(n));
    }
    if let Some(r) = &opts.reason {
        sig.set("Reason", text_string(r));
    }
    if let Some(l) = &opts.location {
        sig.set("Location", text_string(l));
    }
    if let Some(c) = &opts.contact_info {
        sig.set("ContactInfo", text_string(c));
    }
    if let Some(level) = opts.certify {
        let mut params = Dict::new();
        params.set("Type", Object::name("TransformParams"));
        params.set("P", level as i64);
        params.set("V", Object::name("1.2"));
        let mut sref = Dict::new();
        sref.set("Type", Object::name("SigRef"));
        sref.set("TransformMethod", Object::name("DocMDP"));
        sref.set("TransformParams", params);
        sig.set("Reference", Object::Array(vec![Object::Dict(sref)]));
        let mut perms = match doc.lookup(&catalog, "Perms")? {
            Some(Object::Dict(d)) => d,
            _ => Dict::new(),
        };
        perms.set("DocMDP", sig_ref);
        catalog.set("Perms", perms);
        catalog_changed = true;
    }
    if catalog_changed {
        up.put(root_ref, &Object::Dict(catalog));
    }

    // The CMS's largest size fixes the reserve; the digest length does not depend on content.
    let reserve = kind.reserve()?;
    let mut sig_bytes = Vec::new();
    write_sig_dict(&mut sig_bytes, sig_ref, &sig, reserve);
    up.objects.insert(sig_ref.num, (0, sig_bytes));

    // Lay out the update after the input.
    let input_len = doc.len();
    let (mut body, positions) = layout(doc, &up)?;
    let sig_at = positions[&sig_ref.num];

    // Patch /ByteRange now that every length is known.
    let contents_start = sig_at
        + find_in(&body[sig_at..], b"/Contents <")
            .ok_or_else(|| PdfError::Cms("placeholder".into()))?
        + b"/Contents ".len();
    let contents_end = contents_start + 2 + reserve * 2;
    let total = input_len + body.len() as u64;
    let range = [
        0,
        input_len + contents_start as u64,
        input_len + contents_end as u64,
        total - (input_len + contents_end as u64),
    ];
    let br_at = sig_at
        + find_in(&body[sig_at..], b"/ByteRange [")
            .ok_or_else(|| PdfError::Cms("placeholder".into()))?
        + b"/ByteRange [".len();
    let br_text = format!("{} {} {} {}", range[0], range[1], range[2], range[3]);
    let br_slot = &mut body[br_at..br_at + 4 * BR_WIDTH + 3];
    if br_text.len() > br_slot.len() {
        return Err(PdfError::Invalid("the file is too large to sign".into()));
    }
    br_slot.fill(b' ');
    br_slot[..br_text.len()].copy_from_slice(br_text.as_bytes());

    // One pass over the input: copy and hash.
    let mut ctx = digest::Context::new(hash.digest_algorithm());
    copy_hashing(doc.source(), &mut out, &mut ctx)?;
    ctx.update(&body[..contents_start]);
    ctx.update(&body[contents_end..]);
    let document_digest = ctx.finish();

    let der = kind.produce(document_digest.as_ref())?;
    if der.len() > reserve {
        return Err(PdfError::Cms(
            "the signature outgrew its reserved space".into(),
        ));
    }
    let hex_slot = &mut body[contents_start + 1..contents_end - 1];
    for (i, b) in der.iter().enumerate() {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        hex_slot[2 * i] = HEX[usize::from(b >> 4)];
        hex_slot[2 * i + 1] = HEX[usize::from(b & 15)];
    }
    out.write_all(&body)?;
    out.flush()?;
    Ok(SignReport {
        rewritten: None,
        field_name,
        reserved: reserve,
        output_len: total,
    })
}

/// An 8-bit, Flate-compressed image XObject's dictionary.
fn image_dict(width: u32, height: u32, color_space: &str) -> Dict {
    let mut d = Dict::new();
    d.set("Type", Object::name("XObject"));
    d.set("Subtype", Object::name("Image"));
    d.set("Width", i64::from(width));
    d.set("Height", i64::from(height));
    d.set("ColorSpace", Object::name(color_space));
    d.set("BitsPerComponent", 8i64);
    d.set("Filter", Object::name("FlateDecode"));
    d
}

/// Writes a rendered appearance as a form XObject of `w` × `h` points (as the reader sees it)
/// with its images, and returns its reference. `turn` (0, 90, 180 or 270) is the widget's
/// rotation (/MK /R): the /Matrix turns the upright drawing onto the page.
pub(crate) fn put_form_xobject(
    up: &mut Update,
    w: f64,
    h: f64,
    turn: i64,
    rendered: &Appearance,
) -> ObjRef {
    let ap_ref = up.alloc();
    let mut ap = Dict::new();
    ap.set("Type", Object::name("XObject"));
    ap.set("Subtype", Object::name("Form"));
    ap.set(
        "BBox",
        Object::Array(vec![
            0i64.into(),
            0i64.into(),
            Object::from(w),
            Object::from(h),
        ]),
    );
    if turn != 0 {
        let [a, b, c, d] = rotation(turn);
        ap.set(
            "Matrix",
            vec![
                a.into(),
                b.into(),
                c.into(),
                d.into(),
                0i64.into(),
                0i64.into(),
            ],
        );
    }
    if !rendered.images.is_empty() {
        let mut xobjects = Dict::new();
        for (i, img) in rendered.images.iter().enumerate() {
            let img_ref = up.alloc();
            let mut idict = image_dict(img.width, img.height, "DeviceRGB");
            if let Some(alpha) = &img.alpha_flate {
                let mask_ref = up.alloc();
                let mdict = image_dict(img.width, img.height, "DeviceGray");
                up.put_stream(mask_ref, &mdict, alpha);
                idict.set("SMask", mask_ref);
            }
            up.put_stream(img_ref, &idict, &img.rgb_flate);
            xobjects.set(&format!("Im{i}"), img_ref);
        }
        let mut res = Dict::new();
        res.set("XObject", xobjects);
        ap.set("Resources", res);
    }
    up.put_stream(ap_ref, &ap, &rendered.content);
    ap_ref
}

/// The linear part `[a b c d]` of the matrix that maps what the reader sees onto default user
/// space for a page shown turned clockwise by `turn` degrees (/Rotate).
pub(crate) fn rotation(turn: i64) -> [i64; 4] {
    match turn {
        90 => [0, 1, -1, 0],
        180 => [-1, 0, 0, -1],
        270 => [0, -1, 1, 0],
        _ => [1, 0, 0, 1],
    }
}

/// A /Rotate or /MK /R value as 0, 90, 180 or 270 (anything else counts as 0).
pub(crate) fn quarter_turns(value: Option<&Object>) -> i64 {
    match value.and_then(Object::as_int) {
        Some(r) if r % 90 == 0 => r.rem_euclid(360),
        _ => 0,
    }
}

/// The rotation a widget's appearance is drawn with (/MK /R).
pub(crate) fn widget_rotation(widget: &Dict) -> i64 {
    match widget.get("MK") {
        Some(Object::Dict(mk)) => quarter_turns(mk.get("R")),
        _ => 0,
    }
}

fn copy_hashing<S: Source, W: Write>(
    src: &S,
    out: &mut W,
    ctx: &mut digest::Context,
) -> io::Result<()> {
    let mut buf = vec![0u8; 1 << 16];
    let mut at = 0u64;
    let len = src.len();
    while at < len {
        let n = src.read_at(at, &mut buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "input shrank while signing",
            ));
        }
        ctx.update(&buf[..n]);
        out.write_all(&buf[..n])?;
        at += n as u64;
    }
    Ok(())
}

fn write_sig_dict(out: &mut Vec<u8>, id: ObjRef, sig: &Dict, reserve: usize) {
    out.extend_from_slice(format!("{} {} obj\n", id.num, id.gen).as_bytes());
    let mut inner = Vec::new();
    write_dict(&mut inner, sig);
    // Drop the closing `>>` to append the placeholders.
    inner.truncate(inner.len() - 2);
    out.extend_from_slice(&inner);
    out.extend_from_slice(b"/ByteRange [");
    out.extend(std::iter::repeat_n(b' ', 4 * BR_WIDTH + 3));
    out.extend_from_slice(b"]/Contents <");
    out.extend(std::iter::repeat_n(b'0', reserve * 2));
    out.extend_from_slice(b">>>\nendobj\n");
}

fn find_in(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub(crate) fn rect_of(a: &[Object]) -> Option<[f64; 4]> {
    if a.len() != 4 {
        return None;
    }
    let v: Vec<f64> = a.iter().map(Object::as_number).collect::<Option<_>>()?;
    Some([
        v[0].min(v[2]),
        v[1].min(v[3]),
        v[0].max(v[2]),
        v[1].max(v[3]),
    ])
}

/// An existing signature field named `name`: `Ok(Some)` when empty, an error when signed.
fn find_field<S: Source>(
    doc: &Document<S>,
    fields: &[ObjRef],
    name: &str,
) -> Result<Option<(ObjRef, Dict)>> {
    for f in fields {
        let d = doc.get_dict(*f)?;
        let t = d.get("T").and_then(Object::as_string).map(decode_text);
        if t.as_deref() != Some(name) {
            continue;
        }
        if d.name("FT") != Some(b"Sig") {
            return Err(PdfError::Invalid(format!(
                "the field '{name}' is not a signature field"
            )));
        }
        if d.get("V").is_some() {
            return Err(PdfError::Invalid(format!(
                "the signature field '{name}' is already signed"
            )));
        }
        if d.get("Kids").is_some() {
            return Err(PdfError::Invalid(format!(
                "the signature field '{name}' has several widgets, which Inkan does not fill"
            )));
        }
        return Ok(Some((*f, d)));
    }
    Ok(None)
}

/// Adds `annots` to a page's /Annots: an array object of its own is updated in place; an array
/// in the page dictionary is extended there, and then `true` says the caller must write
/// `page_dict` (so that several changes to one page go into one object).
pub(crate) fn append_annots<S: Source>(
    doc: &Document<S>,
    up: &mut Update,
    page_dict: &mut Dict,
    annots: &[ObjRef],
) -> Result<bool> {
    let added = annots.iter().map(|r| Object::Ref(*r));
    match page_dict.get("Annots").cloned() {
        Some(Object::Ref(r)) => {
            let mut arr = match doc.get(r)? {
                Object::Array(a) => a,
                _ => Vec::new(),
            };
            arr.extend(added);
            up.put(r, &Object::Array(arr));
            Ok(false)
        }
        Some(Object::Array(mut a)) => {
            a.extend(added);
            page_dict.set("Annots", a);
            Ok(true)
        }
        _ => {
            page_dict.set("Annots", added.collect::<Vec<_>>());
            Ok(true)
        }
    }
}

/// Writes the update's cross-reference section and trailer, in the same form as the file's last
/// section (an xref stream after an xref stream; a table after a table).
fn write_xref<S: Source>(
    doc: &Document<S>,
    body: &mut Vec<u8>,
    offsets: &BTreeMap<u32, (u64, u16)>,
    xref_at: u64,
    size: u32,
) -> Result<()> {
    let mut trailer = Dict::new();
    trailer.set("Root", doc.root_ref()?);
    if let Some(info) = doc.trailer.get("Info") {
        trailer.set("Info", info.clone());
    }
    let new_id = {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(&xref_at.to_be_bytes());
        ctx.update(
            &Utc::now()
                .timestamp_nanos_opt()
                .unwrap_or_default()
                .to_be_bytes(),
        );
        ctx.finish().as_ref()[..16].to_vec()
    };
    let first_id = doc
        .trailer
        .get("ID")
        .and_then(Object::as_array)
        .and_then(|a| a.first())
        .and_then(Object::as_string)
        .map(<[u8]>::to_vec)
        .unwrap_or_else(|| new_id.clone());
    trailer.set(
        "ID",
        vec![Object::HexString(first_id), Object::HexString(new_id)],
    );
    if !doc.repaired && !doc.sections.is_empty() {
        trailer.set("Prev", doc.startxref as i64);
    }
    match doc.xref_kind() {
        XrefKind::Table => {
            body.extend_from_slice(b"xref\n");
            let mut entries: Vec<(u32, u64, u16)> =
                offsets.iter().map(|(n, (o, g))| (*n, *o, *g)).collect();
            entries.sort_unstable();
            for run in runs(&entries) {
                body.extend_from_slice(format!("{} {}\n", run[0].0, run.len()).as_bytes());
                for (_, off, gen) in run {
                    body.extend_from_slice(format!("{off:010} {gen:05} n\r\n").as_bytes());
                }
            }
            trailer.set("Size", i64::from(size));
            body.extend_from_slice(b"trailer\n");
            write_dict(body, &trailer);
            body.extend_from_slice(format!("\nstartxref\n{xref_at}\n%%EOF\n").as_bytes());
        }
        XrefKind::Stream => {
            let self_num = size;
            let mut entries: Vec<(u32, u64, u16)> =
                offsets.iter().map(|(n, (o, g))| (*n, *o, *g)).collect();
            entries.push((self_num, xref_at, 0));
            entries.sort_unstable();
            let mut data = Vec::new();
            let mut index = Vec::new();
            for run in runs(&entries) {
                index.push(Object::Int(i64::from(run[0].0)));
                index.push(Object::Int(run.len() as i64));
                for (_, off, gen) in run {
                    data.push(1u8);
                    data.extend_from_slice(&(*off as u32).to_be_bytes());
                    data.extend_from_slice(&gen.to_be_bytes());
                }
            }
            if xref_at > u64::from(u32::MAX) {
                return Err(PdfError::Invalid(
                    "files over 4 GB are not supported".into(),
                ));
            }
            trailer.set("Type", Object::name("XRef"));
            trailer.set("Size", i64::from(size + 1));
            trailer.set("W", vec![Object::Int(1), Object::Int(4), Object::Int(2)]);
            trailer.set("Index", index);
            trailer.set("Filter", Object::name("FlateDecode"));
            let compressed = deflate(&data);
            write_stream(body, ObjRef::new(self_num, 0), &trailer, &compressed);
            body.extend_from_slice(format!("startxref\n{xref_at}\n%%EOF\n").as_bytes());
        }
    }
    Ok(())
}

/// Splits sorted entries into runs of consecutive object numbers.
fn runs(entries: &[(u32, u64, u16)]) -> Vec<&[(u32, u64, u16)]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=entries.len() {
        if i == entries.len() || entries[i].0 != entries[i - 1].0 + 1 {
            out.push(&entries[start..i]);
            start = i;
        }
    }
    out
}

pub(crate) fn deflate(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = z.write_all(data);
    z.finish().unwrap_or_default()
}

/// A PDF date: `D:YYYYMMDDHHmmSS+HH'mm'`.
pub fn pdf_date(t: &DateTime<FixedOffset>) -> String {
    let off = t.offset().local_minus_utc();
    let sign = if off < 0 { '-' } else { '+' };
    let off = off.abs();
    format!(
        "D:{}{}{:02}'{:02}'",
        t.format("%Y%m%d%H%M%S"),
        sign,
        off / 3600,
        off % 3600 / 60
    )
}

/// The signer's common name, for the appearance when no name is given.
fn signer_display_name(signer: &dyn Signer) -> String {
    use der::Decode;
    signer
        .certificates()
        .first()
        .and_then(|c| x509_cert::Certificate::from_der(c).ok())
        .and_then(|c| crate::verify::common_name(&c.tbs_certificate.subject))
        .unwrap_or_default()
}
