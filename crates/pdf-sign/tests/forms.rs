//! Contract forms end to end: `prepare` writes three parties' fields and a margin text, each
//! party fills its own fields and signs in one incremental update, and every earlier signature
//! stays intact — for `verify` and for the independent validators (`../shared/conformance`).
//! Later changes that are not form filling, signing or long-term validation data are flagged.

#[path = "support/crl_files.rs"]
mod crl_files;
#[path = "support/fuzz_common.rs"]
mod fuzz_common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use pdf_sign::object::{write_object, Dict, ObjRef, Object};
use pdf_sign::pades::{MemoryScratch, Services};
use pdf_sign::{
    prepare, sign_at_level, Document, FieldFill, FieldKind, FillValue, FormField, KeySigner, Level,
    PdfError, PrepareOptions, Report, SignOptions, Status, TsaTransport,
};

use crl_files::{verify_against, with_dss, CrlFiles};
use fuzz_common::Writer;

// ---------------------------------------------------------------------------------------------
// The PKI, a timestamp authority and revocation data, all local

struct Pki {
    dir: PathBuf,
    signers: Vec<KeySigner>,
    root_der: Vec<u8>,
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("contract-pki");
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/make_contract_pki.sh");
        let status = Command::new("bash")
            .arg(&script)
            .arg(&dir)
            .status()
            .expect("run make_contract_pki.sh");
        assert!(status.success(), "make_contract_pki.sh failed");
        let read = |f: &str| std::fs::read(dir.join(f)).expect("PKI file");
        let signers = (1..=3)
            .map(|n| {
                KeySigner::from_pem(
                    &read(&format!("party{n}.key")),
                    &read(&format!("party{n}.pem")),
                    &[read("chain.pem")],
                    false,
                )
                .expect("signer loads")
            })
            .collect();
        let root_der = pdf_sign::keys::read_certificates(&read("root.pem"))
            .expect("root")
            .remove(0);
        Pki {
            dir,
            signers,
            root_der,
        }
    })
}

/// `openssl ts -reply` as the timestamp authority (one request at a time: it keeps a serial
/// number file).
struct OpensslTsa;

impl TsaTransport for OpensslTsa {
    fn post(&self, request: &[u8]) -> pdf_sign::Result<Vec<u8>> {
        static LOCK: Mutex<()> = Mutex::new(());
        let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let work = tempfile::tempdir()?;
        let (req, resp) = (work.path().join("req.tsq"), work.path().join("resp.tsr"));
        std::fs::write(&req, request)?;
        let out = Command::new("openssl")
            .args(["ts", "-reply", "-config"])
            .arg(pki().dir.join("tsa.cnf"))
            .arg("-queryfile")
            .arg(&req)
            .arg("-out")
            .arg(&resp)
            .output()?;
        if !out.status.success() {
            return Err(PdfError::Cms(format!(
                "openssl ts: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(std::fs::read(resp)?)
    }
}

fn verify_bytes(pdf: &[u8]) -> Report {
    verify_against(pdf, &pki().root_der, &pki().dir)
}

/// Writes `pdf` to a file of the test's own and runs the independent validators on it.
fn validate(pdf: &[u8], name: &str, signatures: usize) -> String {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("contract-forms");
    std::fs::create_dir_all(&dir).expect("output dir");
    let path = dir.join(name);
    std::fs::write(&path, pdf).expect("write PDF");
    let conformance = match std::env::var_os("INKAN_CONFORMANCE_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"),
    };
    let out = Command::new("stdbuf")
        .args(["-oL", "bash"])
        .arg(conformance.join("validate"))
        .arg(&path)
        .arg("--trust")
        .arg(pki().dir.join("root.pem"))
        .args(["--signatures", &signatures.to_string()])
        .output()
        .expect("validate runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "validators refused {name}: {text}");
    text
}

fn qpdf_check(pdf: &[u8], name: &str) {
    if Command::new("qpdf").arg("--version").output().is_err() {
        return;
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("contract-forms");
    std::fs::create_dir_all(&dir).expect("output dir");
    let path = dir.join(name);
    std::fs::write(&path, pdf).expect("write PDF");
    let out = Command::new("qpdf")
        .arg("--check")
        .arg(&path)
        .output()
        .expect("qpdf runs");
    assert!(
        out.status.success(),
        "qpdf --check {name}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// Sample documents

#[derive(Clone, Copy)]
struct Sample {
    pages: usize,
    /// One /Resources object on the page tree, inherited by every page.
    shared_resources: bool,
    /// /Rotate of the second page.
    rotate_second: i64,
}

/// An A4 document (classic cross-reference table) whose pages show their number and a body of
/// text in Helvetica.
fn sample_pdf(s: Sample) -> Vec<u8> {
    let mut w = Writer::new();
    let first_page = 10u32;
    let kids: Vec<String> = (0..s.pages)
        .map(|i| format!("{} 0 R", first_page + 2 * i as u32))
        .collect();
    w.obj(1, "<</Type /Catalog /Pages 2 0 R>>");
    let tree_res = if s.shared_resources {
        " /Resources 4 0 R"
    } else {
        ""
    };
    w.obj(
        2,
        &format!(
            "<</Type /Pages /Kids [{}] /Count {} /MediaBox [0 0 595 842]{tree_res}>>",
            kids.join(" "),
            s.pages
        ),
    );
    w.obj(
        3,
        "<</Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding>>",
    );
    w.obj(4, "<</Font <</F1 3 0 R>>>>");
    for i in 0..s.pages {
        let num = first_page + 2 * i as u32;
        let rotate = if i == 1 && s.rotate_second != 0 {
            format!(" /Rotate {}", s.rotate_second)
        } else {
            String::new()
        };
        let res = if s.shared_resources {
            String::new()
        } else {
            " /Resources <</Font <</F1 3 0 R>>>>".to_string()
        };
        w.obj(
            num,
            &format!(
                "<</Type /Page /Parent 2 0 R /Contents {} 0 R{res}{rotate}>>",
                num + 1
            ),
        );
        let mut content = format!(
            "BT /F1 20 Tf 72 780 Td (Contract page {}) Tj ET\n0.2 g\n",
            i + 1
        );
        for line in 0..24 {
            content.push_str(&format!(
                "BT /F1 10 Tf 72 {} Td (Clause {}.{}: the parties agree to the terms set out here.) Tj ET\n",
                740 - line * 18,
                i + 1,
                line + 1
            ));
        }
        // An unbalanced graphics state, as real producers leave: the margin text must not
        // inherit it.
        content.push_str("q 3 0 0 3 0 0 cm 1 0 0 rg\n");
        w.stream(num + 1, "", content.as_bytes(), None);
    }
    w.xref_table(
        true,
        &format!(
            "/Size {} /Root 1 0 R /ID [<0123456789ABCDEF0123456789ABCDEF> <0123456789ABCDEF0123456789ABCDEF>]",
            first_page + 2 * s.pages as u32
        ),
    );
    w.out
}

fn plain() -> Vec<u8> {
    sample_pdf(Sample {
        pages: 3,
        shared_resources: false,
        rotate_second: 0,
    })
}

const NAMES: [&str; 3] = ["山田 太郎", "佐藤 花子", "Jiro Suzuki"];

fn sig_name(party: usize) -> String {
    format!("inkan-f-sig-{party}")
}
fn date_name(party: usize) -> String {
    format!("inkan-f-date-{party}")
}
fn agree_name(party: usize) -> String {
    format!("inkan-f-agree-{party}")
}

/// A page's visible box and its /Rotate.
type PageLayout = ([f64; 4], i64);

fn page_layouts(pdf: &[u8]) -> Vec<PageLayout> {
    let doc = Document::open(pdf.to_vec()).expect("open");
    doc.page_refs()
        .expect("pages")
        .into_iter()
        .map(|p| {
            let turn = doc
                .inherited(p, "Rotate")
                .expect("rotate")
                .and_then(|r| r.as_int())
                .unwrap_or(0)
                .rem_euclid(360);
            (doc.page_box_of(p).expect("box"), turn)
        })
        .collect()
}

/// A rectangle given as the reader sees the page (from its lower-left corner as shown), in
/// default user space: (x, y, width, height).
fn user_rect(layout: PageLayout, vx: f64, vy: f64, vw: f64, vh: f64) -> (f64, f64, f64, f64) {
    let ([llx, lly, urx, ury], turn) = layout;
    let map = |u: f64, v: f64| match turn {
        90 => (urx - v, lly + u),
        180 => (urx - u, ury - v),
        270 => (llx + v, ury - u),
        _ => (llx + u, lly + v),
    };
    let (x0, y0) = map(vx, vy);
    let (x1, y1) = map(vx + vw, vy + vh);
    (x0.min(x1), y0.min(y1), (x1 - x0).abs(), (y1 - y0).abs())
}

/// Three parties' fields, placed as the reader sees each page: a signature and a date on the
/// last page, and an agreement checkbox on the first.
fn three_party_fields(layouts: &[PageLayout]) -> Vec<FormField> {
    let mut fields = Vec::new();
    let last = layouts.len();
    let field = |name: String, kind, page: usize, v: [f64; 4], label: String| {
        let (x, y, width, height) = user_rect(layouts[page - 1], v[0], v[1], v[2], v[3]);
        FormField {
            name,
            kind,
            page,
            x,
            y,
            width,
            height,
            label,
            value: None,
        }
    };
    for party in 1..=3 {
        let row = (3 - party) as f64 * 70.0;
        let who = NAMES[party - 1];
        fields.push(field(
            sig_name(party),
            FieldKind::Signature,
            last,
            [40.0, 60.0 + row, 200.0, 60.0],
            format!("署名: {who}"),
        ));
        fields.push(field(
            date_name(party),
            FieldKind::Text,
            last,
            [260.0, 80.0 + row, 120.0, 22.0],
            "日付".into(),
        ));
        fields.push(field(
            agree_name(party),
            FieldKind::Checkbox,
            1,
            [40.0 + (party - 1) as f64 * 170.0, 60.0, 150.0, 16.0],
            format!("同意する ({who})"),
        ));
    }
    fields
}

fn page_boxes(pdf: &[u8]) -> Vec<[f64; 4]> {
    page_layouts(pdf).into_iter().map(|l| l.0).collect()
}

const MARGIN: &str = "Inkan 契約ID C-2026-000123 (5c0f9a1e)";

fn prepared(pdf: &[u8]) -> Vec<u8> {
    let opts = PrepareOptions {
        fields: three_party_fields(&page_layouts(pdf)),
        margin_text: Some(MARGIN.into()),
    };
    let mut out = Vec::new();
    let report = prepare(pdf.to_vec(), &mut out, &opts).expect("prepare");
    assert_eq!(report.output_len, out.len() as u64);
    assert_eq!(report.pages, page_boxes(pdf).len());
    out
}

/// Party `party` (1–3) fills its date and checkbox and signs its field, at B-T for odd parties
/// and B-B for the second.
fn party_signs(pdf: &[u8], party: usize) -> Vec<u8> {
    let opts = SignOptions {
        field_name: Some(sig_name(party)),
        fill: vec![
            FieldFill {
                name: date_name(party),
                value: FillValue::Text(format!("2026年11月{}日", 27 + party)),
            },
            FieldFill {
                name: agree_name(party),
                value: FillValue::Checkbox(party != 2),
            },
        ],
        reason: Some("契約に同意します".into()),
        ..SignOptions::default()
    };
    let level = if party == 2 { Level::BB } else { Level::BT };
    let mut out = Vec::new();
    sign_at_level(
        pdf.to_vec(),
        &mut out,
        &mut MemoryScratch,
        &pki().signers[party - 1],
        &opts,
        level,
        &Services {
            tsa: Some(&OpensslTsa),
            revocation: &CrlFiles(&pki().dir),
        },
    )
    .expect("sign");
    out
}

fn all_three_sign(pdf: &[u8]) -> Vec<u8> {
    let mut doc = prepared(pdf);
    for party in 1..=3 {
        doc = party_signs(&doc, party);
    }
    doc
}

fn assert_all_intact(report: &Report, count: usize) {
    assert_eq!(report.signatures.len(), count, "{report:#?}");
    for s in &report.signatures {
        assert!(s.intact, "{}: {:?}", s.field, s.problems);
        assert!(
            s.modifications.is_empty(),
            "{}: disallowed changes {:?}",
            s.field,
            s.modifications
        );
        assert_eq!(s.status, Status::Valid, "{}: {:?}", s.field, s.problems);
    }
    assert_eq!(report.status, Status::Valid, "{:?}", report.problems);
}

/// The whole flow on one sample: prepared, signed by three parties, checked by `verify`, qpdf
/// and the independent validators.
fn three_parties_sign(pdf: &[u8], name: &str) -> Vec<u8> {
    let prepared = prepared(pdf);
    qpdf_check(&prepared, &format!("{name}-prepared.pdf"));
    let mut doc = prepared;
    for party in 1..=3 {
        doc = party_signs(&doc, party);
        let report = verify_bytes(&doc);
        assert_all_intact(&report, party);
        for earlier in &report.signatures[..party - 1] {
            assert!(
                earlier
                    .later_changes
                    .iter()
                    .any(|c| c.contains("filled in")),
                "{:?}",
                earlier.later_changes
            );
        }
    }
    let report = verify_bytes(&doc);
    let fields: Vec<&str> = report.signatures.iter().map(|s| s.field.as_str()).collect();
    assert_eq!(fields, [sig_name(1), sig_name(2), sig_name(3)]);
    validate(&doc, &format!("{name}-signed.pdf"), 3);
    doc
}

// ---------------------------------------------------------------------------------------------
// The flow on several shapes of document

#[test]
fn three_parties_fill_and_sign_a_prepared_multi_page_document() {
    let signed = three_parties_sign(&plain(), "plain");
    // The fills are in the file: party 1's date and ticked box, party 2's box left off.
    let doc = Document::open(signed).expect("open");
    let catalog = doc.catalog().expect("catalog");
    let form = doc
        .lookup(&catalog, "AcroForm")
        .expect("form")
        .expect("form");
    let form = form.as_dict().expect("dict");
    assert_eq!(form.int("SigFlags"), Some(3));
    let fields = doc.lookup(form, "Fields").expect("fields").expect("fields");
    let mut values = std::collections::BTreeMap::new();
    for f in fields.as_array().expect("array") {
        let d = doc.get_dict(f.as_ref().expect("ref")).expect("field");
        let name =
            pdf_sign::object::decode_text(d.get("T").and_then(Object::as_string).expect("T"));
        let value = match d.get("V") {
            Some(Object::Name(n)) => String::from_utf8_lossy(n).into_owned(),
            Some(Object::String(s) | Object::HexString(s)) => pdf_sign::object::decode_text(s),
            Some(Object::Ref(_)) => "signature".into(),
            other => format!("{other:?}"),
        };
        values.insert(name, value);
    }
    assert_eq!(values[&date_name(1)], "2026年11月28日");
    assert_eq!(values[&agree_name(1)], "On");
    assert_eq!(values[&agree_name(2)], "Off");
    assert_eq!(values[&sig_name(3)], "signature");
}

#[test]
fn three_parties_sign_a_document_with_an_xref_stream() {
    let pdf = fuzz_common::xref_stream(true);
    let signed = three_parties_sign(&pdf, "xref-stream");
    // Every update kept the file's cross-reference form.
    let doc = Document::open(signed).expect("open");
    assert!(doc.sections.len() >= 5);
    assert!(doc
        .sections
        .iter()
        .all(|s| s.kind == pdf_sign::document::XrefKind::Stream));
}

#[test]
fn three_parties_sign_a_document_whose_pages_share_inherited_resources() {
    let pdf = sample_pdf(Sample {
        pages: 2,
        shared_resources: true,
        rotate_second: 0,
    });
    let prepared = prepared(&pdf);
    // Each page got a copy of the shared resources naming the margin XObject; the shared object
    // itself is unchanged.
    let doc = Document::open(prepared.clone()).expect("open");
    let shared = doc.get(ObjRef::new(4, 0)).expect("shared resources");
    assert_eq!(
        format!("{shared:?}"),
        format!(
            "{:?}",
            Document::open(pdf.clone())
                .expect("open")
                .get(ObjRef::new(4, 0))
                .expect("original")
        )
    );
    for page in doc.page_refs().expect("pages") {
        let d = doc.get_dict(page).expect("page");
        let res = d
            .get("Resources")
            .and_then(Object::as_dict)
            .expect("own resources");
        assert!(res.get("Font").is_some(), "fonts kept");
        let xobjects = res
            .get("XObject")
            .and_then(Object::as_dict)
            .expect("xobjects");
        assert!(xobjects.get("InkanMargin").is_some());
    }
    three_parties_sign(&pdf, "shared-resources");
}

#[test]
fn three_parties_sign_a_document_with_a_page_turned_90_degrees() {
    let pdf = sample_pdf(Sample {
        pages: 2,
        shared_resources: false,
        rotate_second: 90,
    });
    three_parties_sign(&pdf, "rotate-90");
}

#[test]
fn a_hybrid_reference_file_is_rewritten_before_it_is_prepared() {
    let mut out = Vec::new();
    let report = prepare(
        fuzz_common::hybrid(),
        &mut out,
        &PrepareOptions {
            fields: vec![text_field("inkan-f-text", 1, 20.0, 20.0)],
            margin_text: Some(MARGIN.into()),
        },
    )
    .expect("prepare");
    assert!(
        report
            .rewritten
            .as_deref()
            .is_some_and(|r| r.contains("hybrid")),
        "{report:?}"
    );
    let doc = Document::open(out.clone()).expect("open");
    assert!(!doc.repaired);
    assert!(doc
        .sections
        .iter()
        .all(|s| s.trailer.get("XRefStm").is_none()));
    qpdf_check(&out, "hybrid-prepared.pdf");
}

#[test]
fn prepared_and_signed_pages_render() {
    let pdf = sample_pdf(Sample {
        pages: 2,
        shared_resources: false,
        rotate_second: 90,
    });
    let prep = prepared(&pdf);
    let mut signed = party_signs(&prep, 1);
    signed = party_signs(&signed, 2);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("contract-forms");
    std::fs::create_dir_all(&dir).expect("dir");
    for (name, bytes) in [("render-prepared", &prep), ("render-signed", &signed)] {
        let path = dir.join(format!("{name}.pdf"));
        std::fs::write(&path, bytes).expect("write");
        let out = Command::new("pdftoppm")
            .args(["-r", "50", "-png"])
            .arg(&path)
            .arg(dir.join(name))
            .output()
            .expect("pdftoppm runs");
        assert!(
            out.status.success(),
            "pdftoppm {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(dir.join(format!("{name}-1.png")).exists());
        assert!(dir.join(format!("{name}-2.png")).exists());
    }
}

// ---------------------------------------------------------------------------------------------
// Long-term validation data after the form is complete

#[test]
fn dss_and_document_timestamp_after_the_signatures_are_allowed_changes() {
    let signed = with_dss(all_three_sign(&plain()), &pki().dir);
    let mut stamped = Vec::new();
    pdf_sign::timestamp_document(
        signed,
        &mut stamped,
        &OpensslTsa,
        pdf_sign::HashAlgorithm::Sha256,
    )
    .expect("document timestamp");
    let last = with_dss(stamped, &pki().dir);
    let report = verify_bytes(&last);
    assert_all_intact(&report, 4);
    let first = &report.signatures[0];
    assert!(
        first
            .later_changes
            .iter()
            .any(|c| c.contains("security store")),
        "{:?}",
        first.later_changes
    );
    validate(&last, "three-parties-lta.pdf", 3);
}

// ---------------------------------------------------------------------------------------------
// Changes after signing that must be flagged

/// Appends an incremental update (classic table) replacing or adding the given objects.
fn append_update(pdf: &[u8], objects: &[(u32, Vec<u8>)], size: u32) -> Vec<u8> {
    let prev = fuzz_common::last_startxref(pdf);
    let mut out = pdf.to_vec();
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    let mut offsets = Vec::new();
    for (num, body) in objects {
        offsets.push((*num, out.len()));
        writeln!(out, "{num} 0 obj").expect("write");
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let at = out.len();
    out.extend_from_slice(b"xref\n");
    for (num, off) in &offsets {
        write!(out, "{num} 1\n{off:010} 00000 n\r\n").expect("write");
    }
    let doc = Document::open(pdf.to_vec()).expect("open");
    write!(
        out,
        "trailer\n<</Size {size} /Root {} 0 R /Prev {prev}>>\nstartxref\n{at}\n%%EOF\n",
        doc.root_ref().expect("root").num
    )
    .expect("write");
    out
}

fn dict_bytes(d: &Dict) -> Vec<u8> {
    let mut out = Vec::new();
    write_object(&mut out, &Object::Dict(d.clone()));
    out
}

/// The reference of the top-level field named `name`.
fn field_ref(doc: &Document<Vec<u8>>, name: &str) -> ObjRef {
    let catalog = doc.catalog().expect("catalog");
    let form = doc
        .lookup(&catalog, "AcroForm")
        .expect("form")
        .expect("form");
    let fields = doc
        .lookup(form.as_dict().expect("dict"), "Fields")
        .expect("fields")
        .expect("fields");
    fields
        .as_array()
        .expect("array")
        .iter()
        .filter_map(Object::as_ref)
        .find(|r| {
            doc.get_dict(*r)
                .ok()
                .and_then(|d| d.get("T").and_then(Object::as_string).map(<[u8]>::to_vec))
                .is_some_and(|t| t == name.as_bytes())
        })
        .expect("field")
}

/// After party 1 signed: the signature must be reported as modified, with `what` among the
/// reasons.
fn assert_flagged(tampered: &[u8], what: &str) {
    let report = verify_bytes(tampered);
    let first = &report.signatures[0];
    assert!(first.intact, "the signed bytes themselves are unchanged");
    assert_eq!(first.status, Status::Invalid, "{first:#?}");
    assert!(
        first.modifications.iter().any(|m| m.contains(what)),
        "expected '{what}' in {:?}",
        first.modifications
    );
    assert_eq!(report.status, Status::Invalid);
}

fn signed_by_party_one() -> Vec<u8> {
    party_signs(&prepared(&plain()), 1)
}

#[test]
fn later_page_content_change_is_flagged() {
    let signed = signed_by_party_one();
    let doc = Document::open(signed.clone()).expect("open");
    let page = doc.page(0).expect("page");
    let contents = doc.get_dict(page).expect("page").get("Contents").cloned();
    // The original content stream of page 1 (last in its /Contents array) is rewritten.
    let first = match contents {
        Some(Object::Array(a)) => a[1].as_ref().expect("ref"),
        other => panic!("unexpected /Contents {other:?}"),
    };
    let data = b"BT /F1 20 Tf 72 780 Td (Contract page 1, amended) Tj ET";
    let mut body = format!("<</Length {}>>\nstream\n", data.len()).into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(b"\nendstream");
    let tampered = append_update(&signed, &[(first.num, body)], doc.size());
    assert_flagged(&tampered, "stream");
}

#[test]
fn later_move_of_another_field_is_flagged() {
    let signed = signed_by_party_one();
    let doc = Document::open(signed.clone()).expect("open");
    let r = field_ref(&doc, &date_name(2));
    let mut d = doc.get_dict(r).expect("field");
    d.set(
        "Rect",
        vec![
            Object::Int(300),
            Object::Int(600),
            Object::Int(420),
            Object::Int(622),
        ],
    );
    let tampered = append_update(&signed, &[(r.num, dict_bytes(&d))], doc.size());
    assert_flagged(&tampered, "Rect");
}

#[test]
fn later_new_page_is_flagged() {
    let signed = signed_by_party_one();
    let doc = Document::open(signed.clone()).expect("open");
    let catalog = doc.catalog().expect("catalog");
    let pages_ref = catalog
        .get("Pages")
        .and_then(Object::as_ref)
        .expect("pages");
    let mut pages = doc.get_dict(pages_ref).expect("pages");
    let new_page = doc.size();
    let mut kids = pages
        .get("Kids")
        .and_then(Object::as_array)
        .expect("kids")
        .to_vec();
    kids.push(Object::Ref(ObjRef::new(new_page, 0)));
    pages.set("Kids", kids);
    pages.set("Count", 4i64);
    let page = format!(
        "<</Type /Page /Parent {} 0 R /MediaBox [0 0 595 842]>>",
        pages_ref.num
    );
    let tampered = append_update(
        &signed,
        &[
            (pages_ref.num, dict_bytes(&pages)),
            (new_page, page.into_bytes()),
        ],
        new_page + 1,
    );
    assert_flagged(&tampered, "Kids");
}

#[test]
fn later_change_of_a_signed_signature_value_is_flagged() {
    // Party 2 has signed after party 1; then party 1's signature value is swapped for another
    // signature dictionary (a copy: the signed bytes still verify).
    let signed = party_signs(&signed_by_party_one(), 2);
    let doc = Document::open(signed.clone()).expect("open");
    let r = field_ref(&doc, &sig_name(1));
    let mut field = doc.get_dict(r).expect("field");
    let old_sig = field.get("V").and_then(Object::as_ref).expect("signed");
    let forged = doc.size();
    let sig = doc.get_dict(old_sig).expect("signature");
    field.set("V", ObjRef::new(forged, 0));
    let tampered = append_update(
        &signed,
        &[(r.num, dict_bytes(&field)), (forged, dict_bytes(&sig))],
        forged + 1,
    );
    assert_flagged(&tampered, "was changed after signing (V)");
    // Party 2's signature, made while party 1's was in place, is reported as changed too.
    let report = verify_bytes(&tampered);
    let second = report
        .signatures
        .iter()
        .find(|s| s.field == sig_name(2))
        .expect("party 2's signature");
    assert_eq!(second.status, Status::Invalid, "{second:#?}");
}

// ---------------------------------------------------------------------------------------------
// Refusals

fn prepare_err(pdf: &[u8], fields: Vec<FormField>) -> String {
    let opts = PrepareOptions {
        fields,
        margin_text: None,
    };
    match prepare(pdf.to_vec(), Vec::new(), &opts) {
        Err(PdfError::Invalid(m)) => m,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn text_field(name: &str, page: usize, x: f64, y: f64) -> FormField {
    FormField {
        name: name.into(),
        kind: FieldKind::Text,
        page,
        x,
        y,
        width: 100.0,
        height: 20.0,
        label: "日付".into(),
        value: None,
    }
}

#[test]
fn prepare_refuses_bad_fields_naming_them() {
    let pdf = plain();
    let m = prepare_err(&pdf, vec![text_field("outside", 1, 550.0, 100.0)]);
    assert!(m.contains("'outside'") && m.contains("inside"), "{m}");
    let m = prepare_err(&pdf, vec![text_field("below", 1, 10.0, -5.0)]);
    assert!(m.contains("'below'"), "{m}");
    let m = prepare_err(&pdf, vec![text_field("nowhere", 4, 10.0, 10.0)]);
    assert!(m.contains("'nowhere'") && m.contains("page 4"), "{m}");
    let m = prepare_err(&pdf, vec![text_field("zero", 0, 10.0, 10.0)]);
    assert!(m.contains("'zero'"), "{m}");
    let m = prepare_err(
        &pdf,
        vec![
            text_field("twice", 1, 10.0, 10.0),
            text_field("twice", 2, 10.0, 10.0),
        ],
    );
    assert!(m.contains("'twice'") && m.contains("two fields"), "{m}");
    let mut flat = text_field("flat", 1, 10.0, 10.0);
    flat.height = 0.0;
    assert!(prepare_err(&pdf, vec![flat]).contains("'flat'"));
    let mut nan = text_field("nan", 1, 10.0, 10.0);
    nan.x = f64::NAN;
    assert!(prepare_err(&pdf, vec![nan]).contains("'nan'"));
    assert!(prepare_err(&pdf, vec![text_field("a.b", 1, 10.0, 10.0)]).contains("period"));

    // A name the file already has.
    let once = prepared(&pdf);
    let m = prepare_err(&once, vec![text_field(&date_name(1), 1, 10.0, 10.0)]);
    assert!(m.contains(&date_name(1)) && m.contains("already"), "{m}");
}

fn sign_err(pdf: &[u8], fill: Vec<FieldFill>) -> String {
    let opts = SignOptions {
        field_name: Some(sig_name(1)),
        fill,
        ..SignOptions::default()
    };
    match pdf_sign::sign(pdf.to_vec(), Vec::new(), &pki().signers[0], &opts) {
        Err(PdfError::Invalid(m)) => m,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn fills_of_missing_signature_or_mistyped_fields_are_refused() {
    let pdf = prepared(&plain());
    let m = sign_err(
        &pdf,
        vec![FieldFill {
            name: "inkan-f-nothing".into(),
            value: FillValue::Text("x".into()),
        }],
    );
    assert!(
        m.contains("'inkan-f-nothing'") && m.contains("no field"),
        "{m}"
    );
    let m = sign_err(
        &pdf,
        vec![FieldFill {
            name: sig_name(2),
            value: FillValue::Text("x".into()),
        }],
    );
    assert!(
        m.contains(&sig_name(2)) && m.contains("signature field"),
        "{m}"
    );
    let m = sign_err(
        &pdf,
        vec![FieldFill {
            name: agree_name(1),
            value: FillValue::Text("yes".into()),
        }],
    );
    assert!(m.contains(&agree_name(1)) && m.contains("checkbox"), "{m}");
    let m = sign_err(
        &pdf,
        vec![FieldFill {
            name: date_name(1),
            value: FillValue::Checkbox(true),
        }],
    );
    assert!(m.contains(&date_name(1)) && m.contains("text field"), "{m}");
}

// ---------------------------------------------------------------------------------------------
// A document signed before it was uploaded

#[test]
fn an_already_signed_document_gets_its_margin_as_a_locked_stamp() {
    let pdf = plain();
    let mut signed = Vec::new();
    pdf_sign::sign(pdf, &mut signed, &pki().signers[2], &SignOptions::default())
        .expect("sign before upload");
    // Text and checkbox fields would be a change to the signed document: refused.
    let layouts = page_layouts(&signed);
    let m = prepare_err(&signed, three_party_fields(&layouts));
    assert!(m.contains("already signed"), "{m}");

    let sig_only: Vec<FormField> = three_party_fields(&layouts)
        .into_iter()
        .filter(|f| f.kind == FieldKind::Signature)
        .collect();
    let mut out = Vec::new();
    prepare(
        signed.clone(),
        &mut out,
        &PrepareOptions {
            fields: sig_only,
            margin_text: Some(MARGIN.into()),
        },
    )
    .expect("prepare a signed document");
    // Page content is untouched; each page carries a locked stamp.
    let before = Document::open(signed).expect("open");
    let after = Document::open(out.clone()).expect("open");
    for (i, page) in after.page_refs().expect("pages").iter().enumerate() {
        let now = after.get_dict(*page).expect("page");
        let then = before.get_dict(*page).expect("page");
        assert_eq!(now.get("Contents"), then.get("Contents"), "page {i}");
        assert_eq!(now.get("Resources"), then.get("Resources"), "page {i}");
        let annots = now
            .get("Annots")
            .and_then(Object::as_array)
            .expect("annots");
        let stamp = annots
            .iter()
            .filter_map(|a| after.get_dict(a.as_ref()?).ok())
            .find(|d| d.name("Subtype") == Some(b"Stamp"))
            .expect("a margin stamp");
        assert_eq!(stamp.int("F"), Some(4 | 64 | 128));
    }
    let report = verify_bytes(&out);
    assert_all_intact(&report, 1);

    // The parties still sign their fields.
    let mut doc = out;
    for party in 1..=2 {
        let opts = SignOptions {
            field_name: Some(sig_name(party)),
            ..SignOptions::default()
        };
        let mut next = Vec::new();
        pdf_sign::sign(doc, &mut next, &pki().signers[party - 1], &opts).expect("sign");
        doc = next;
    }
    assert_all_intact(&verify_bytes(&doc), 3);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("contract-forms");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("signed-before-upload.pdf"), &doc).expect("write");
}

#[test]
fn a_certified_document_cannot_be_prepared() {
    let mut certified = Vec::new();
    pdf_sign::sign(
        plain(),
        &mut certified,
        &pki().signers[0],
        &SignOptions {
            certify: Some(pdf_sign::Certify::FormFilling),
            ..SignOptions::default()
        },
    )
    .expect("certify");
    let m = prepare_err(
        &certified,
        vec![FormField {
            kind: FieldKind::Signature,
            ..text_field("sig", 1, 10.0, 10.0)
        }],
    );
    assert!(m.contains("certified"), "{m}");
}
