//! What may change after a signature, tried as a counterparty would: pyHanko countersigns and
//! adds long-term validation data after Inkan's signatures, Inkan signs after pyHanko's over the
//! corpus, and every kind of later change that README.md lists ("What may change after a
//! signature") is made at the DocMDP levels that decide it. Every file goes through the
//! conformance harness (`../shared/conformance/validate`: qpdf, pyHanko, pdfsig, PAdES level),
//! and `verify` must agree with it.

#[path = "support/crl_files.rs"]
mod crl_files;
#[path = "support/fuzz_common.rs"]
mod fuzz_common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use pdf_sign::object::{write_object, Dict, ObjRef, Object};
use pdf_sign::verify::SignatureReport;
use pdf_sign::{
    sign, timestamp_document, Certify, Document, HashAlgorithm, KeySigner, PdfError, Placement,
    Report, SignOptions, Status, TsaTransport,
};

use crl_files::{verify_against, with_dss};
use fuzz_common::Writer;

// ---------------------------------------------------------------------------------------------
// A PKI whose CRLs and timestamp authority pyHanko can reach: tests/support/pki_server.py on
// loopback, the certificates naming its address.

struct Env {
    pki: PathBuf,
    out: PathBuf,
    /// `http://127.0.0.1:PORT`
    url: String,
    signers: Vec<KeySigner>,
    root_der: Vec<u8>,
    _server: Mutex<Child>,
}

fn support(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(file)
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("later-changes");
        let _ = std::fs::remove_dir_all(&base);
        let (pki, out) = (base.join("pki"), base.join("out"));
        std::fs::create_dir_all(&pki).expect("pki dir");
        std::fs::create_dir_all(&out).expect("out dir");
        // The server stops when its standard input closes: when this test process ends.
        let mut server = Command::new("python3")
            .arg(support("pki_server.py"))
            .arg(&pki)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start pki_server.py");
        let mut port = String::new();
        BufReader::new(server.stdout.take().expect("stdout"))
            .read_line(&mut port)
            .expect("the server's port");
        let url = format!("http://127.0.0.1:{}", port.trim());
        let status = Command::new("bash")
            .arg(support("make_contract_pki.sh"))
            .arg(&pki)
            .arg(&url)
            .status()
            .expect("run make_contract_pki.sh");
        assert!(status.success(), "make_contract_pki.sh failed");
        let read = |f: &str| std::fs::read(pki.join(f)).expect("PKI file");
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
        Env {
            pki,
            out,
            url,
            signers,
            root_der,
            _server: Mutex::new(server),
        }
    })
}

fn pki(file: &str) -> String {
    env().pki.join(file).display().to_string()
}

/// Writes `pdf` under the test's output folder and returns the path.
fn write_out(pdf: &[u8], name: &str) -> PathBuf {
    let path = env().out.join(name);
    std::fs::write(&path, pdf).expect("write PDF");
    path
}

/// Inkan's timestamps come from the same server pyHanko uses (one `openssl ts` serial file).
struct HttpTsa;

impl TsaTransport for HttpTsa {
    fn post(&self, request: &[u8]) -> pdf_sign::Result<Vec<u8>> {
        let host = env().url.trim_start_matches("http://");
        let mut s = TcpStream::connect(host)?;
        write!(
            s,
            "POST /tsa HTTP/1.0\r\nHost: {host}\r\nContent-Type: application/timestamp-query\r\nContent-Length: {}\r\n\r\n",
            request.len()
        )?;
        s.write_all(request)?;
        let mut answer = Vec::new();
        s.read_to_end(&mut answer)?;
        let body = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|at| at + 4)
            .filter(|_| answer.starts_with(b"HTTP/1.0 200") || answer.starts_with(b"HTTP/1.1 200"))
            .ok_or_else(|| {
                PdfError::Cms(format!(
                    "the TSA answered {}",
                    String::from_utf8_lossy(&answer[..answer.len().min(200)])
                ))
            })?;
        Ok(answer[body..].to_vec())
    }
}

// ---------------------------------------------------------------------------------------------
// Judging: Inkan's verifier and the conformance harness

fn inkan_verify(pdf: &[u8]) -> Report {
    verify_against(pdf, &env().root_der, &env().pki)
}

struct Verdict {
    valid: bool,
    text: String,
}

/// The harness's verdict on `pdf`, written as `name`.
fn harness(pdf: &[u8], name: &str) -> Verdict {
    let path = write_out(pdf, name);
    let conformance = match std::env::var_os("INKAN_CONFORMANCE_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"),
    };
    let out = Command::new("stdbuf")
        .args(["-oL", "bash"])
        .arg(conformance.join("validate"))
        .arg(&path)
        .args(["--trust", &pki("root.pem")])
        .output()
        .expect("validate runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Known gap in the shared harness (README.md, "Tests"): pades_level.py crashes on any
    // linearized file; every validator proper must still pass.
    let only_level_script = text.contains("KeyError: '/Root'")
        && text.contains("get_historical_root")
        && !text.contains("pyhanko:")
        && !text.contains("pdfsig:")
        && !text.contains("qpdf:");
    let linearized = String::from_utf8_lossy(&pdf[..pdf.len().min(1024)]).contains("/Linearized");
    // Another: on a certification with P=3, pyHanko warns on standard error that its policy
    // "was not designed to support DocMDP level 3", and the harness, reading pyHanko's summary
    // together with its standard error, counts that line as a signature that is not VALID.
    // pyHanko's summary alone decides then; every other validator must have passed.
    let only_p3_warning = text.contains("not designed to support DocMDP level 3")
        && !["qpdf:", "pdfsig:", "pades_level:"]
            .iter()
            .any(|v| text.contains(v))
        && pyhanko_finds_every_signature_valid(&path);
    // And pdfsig counts an empty signature field as a signature that fails (README.md, "Tests"):
    // when it is pdfsig's only complaint, the fields it failed must be exactly the empty ones.
    let empty = empty_signature_fields(pdf);
    let only_empty_fields = empty > 0
        && !["qpdf:", "pyhanko:", "pades_level:"]
            .iter()
            .any(|v| text.contains(v))
        && pdfsig_counts(&text)
            .is_some_and(|(valid, all, trusted)| all - valid == empty && all - trusted == empty);
    Verdict {
        valid: out.status.success()
            || only_level_script && linearized
            || only_p3_warning
            || only_empty_fields,
        text,
    }
}

/// The harness's "pdfsig: VALID of ALL valid, TRUSTED trusted".
fn pdfsig_counts(text: &str) -> Option<(usize, usize, usize)> {
    let rest = &text[text.find("pdfsig: ")? + "pdfsig: ".len()..];
    let words: Vec<&str> = rest
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    match words.as_slice() {
        [valid, "of", all, "valid", trusted, "trusted", ..] => Some((
            valid.parse().ok()?,
            all.parse().ok()?,
            trusted.parse().ok()?,
        )),
        _ => None,
    }
}

/// Signature fields without a value.
fn empty_signature_fields(pdf: &[u8]) -> usize {
    let doc = Document::open(pdf.to_vec()).expect("open");
    doc.objects()
        .filter_map(|(r, _)| doc.get(r).ok())
        .filter(|o| {
            o.as_dict()
                .is_some_and(|d| d.name("FT") == Some(b"Sig") && d.get("V").is_none())
        })
        .count()
}

/// `pyhanko sign validate --executive-summary`, its standard error left out: every line VALID.
fn pyhanko_finds_every_signature_valid(path: &Path) -> bool {
    let out = Command::new(pyhanko_bin("pyhanko"))
        .args([
            "sign",
            "validate",
            "--executive-summary",
            "--no-revocation-check",
        ])
        .args(["--trust-replace", "--trust", &pki("root.pem")])
        .arg(path)
        .stderr(Stdio::null())
        .output()
        .expect("pyhanko runs");
    let summary = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = summary.lines().filter(|l| !l.trim().is_empty()).collect();
    !lines.is_empty() && lines.iter().all(|l| l.ends_with(":VALID"))
}

/// Runs the harness and `verify` on `pdf` and asserts that they agree; returns the report.
fn judged_alike(pdf: &[u8], name: &str) -> (Report, Verdict) {
    let report = inkan_verify(pdf);
    let verdict = harness(pdf, name);
    assert_eq!(
        report.status == Status::Valid,
        verdict.valid,
        "{name}: verify says {:?}, the harness says: {}\n{}",
        report.status,
        verdict.text,
        summary(&report)
    );
    (report, verdict)
}

/// What `verify` found, one line per signature, for failure messages.
fn summary(report: &Report) -> String {
    let mut s = String::new();
    for sig in &report.signatures {
        s += &format!(
            "{} ({:?}): modified {:?}; later {:?}; problems {:?}\n",
            sig.field, sig.status, sig.modifications, sig.later_changes, sig.problems
        );
    }
    s + &format!("{:?}", report.problems)
}

fn assert_all_valid(report: &Report, name: &str) {
    assert_eq!(report.status, Status::Valid, "{name}: {}", summary(report));
}

fn says(sig: &SignatureReport, what: &str) -> bool {
    sig.later_changes.iter().any(|c| c.contains(what))
}

// ---------------------------------------------------------------------------------------------
// Signing: Inkan in process, pyHanko through its command line

fn pyhanko_bin(tool: &str) -> PathBuf {
    std::env::var("INKAN_CONFORMANCE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/inkan-conformance")
        })
        .join("venv/bin")
        .join(tool)
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().expect("command runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `pyhanko sign addsig --use-pades [--certify] --field FIELD pemder …` as party `party`.
fn pyhanko_addsig(pdf: &[u8], name: &str, party: usize, field: &str, certify: bool) -> Vec<u8> {
    let input = write_out(pdf, &format!("{name}.in.pdf"));
    let output = env().out.join(format!("{name}.pdf"));
    let mut cmd = Command::new(pyhanko_bin("pyhanko"));
    cmd.args(["sign", "addsig", "--use-pades", "--field", field]);
    if certify {
        cmd.arg("--certify");
    }
    run_ok(
        cmd.args(["pemder", "--no-pass"])
            .args(["--key", &pki(&format!("party{party}.key"))])
            .args(["--cert", &pki(&format!("party{party}.pem"))])
            .args(["--chain", &pki("ca.pem")])
            .arg(&input)
            .arg(&output),
    );
    std::fs::read(output).expect("pyHanko's output")
}

/// pyHanko's signing without its DocMDP check (tests/support/pyhanko_sign_anyway.py).
fn pyhanko_sign_anyway(pdf: &[u8], name: &str, party: usize, field: &str) -> Vec<u8> {
    let input = write_out(pdf, &format!("{name}.in.pdf"));
    let output = env().out.join(format!("{name}.signed.pdf"));
    run_ok(
        Command::new(pyhanko_bin("python"))
            .arg(support("pyhanko_sign_anyway.py"))
            .arg(&input)
            .arg(&output)
            .arg(pki(&format!("party{party}.key")))
            .arg(pki(&format!("party{party}.pem")))
            .arg(pki("ca.pem"))
            .arg(field),
    );
    std::fs::read(output).expect("pyHanko's output")
}

/// `pyhanko sign ltvfix` (the DSS for one signature) or `ltaupdate` (DSS and a document
/// timestamp), which rewrite their input in place.
fn pyhanko_ltv(pdf: &[u8], name: &str, args: &[&str]) -> Vec<u8> {
    let path = write_out(pdf, name);
    run_ok(
        Command::new(pyhanko_bin("pyhanko"))
            .args(["sign"])
            .args(args)
            .args(["--trust", &pki("root.pem"), "--trust-replace"])
            .args(["--other-certs", &pki("chain.pem")])
            .arg(&path),
    );
    std::fs::read(path).expect("pyHanko's output")
}

fn ltvfix(pdf: &[u8], name: &str, field: &str) -> Vec<u8> {
    pyhanko_ltv(pdf, name, &["ltvfix", "--field", field])
}

fn ltaupdate(pdf: &[u8], name: &str) -> Vec<u8> {
    let tsa = format!("{}/tsa", env().url);
    pyhanko_ltv(pdf, name, &["ltaupdate", "--timestamp-url", &tsa])
}

fn inkan_sign(pdf: &[u8], party: usize, opts: &SignOptions) -> Vec<u8> {
    let mut out = Vec::new();
    sign(pdf.to_vec(), &mut out, &env().signers[party - 1], opts).expect("Inkan signs");
    out
}

fn inkan_timestamp(pdf: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    timestamp_document(pdf.to_vec(), &mut out, &HttpTsa, HashAlgorithm::Sha256)
        .expect("document timestamp");
    out
}

fn inkan_dss(pdf: &[u8]) -> Vec<u8> {
    with_dss(pdf.to_vec(), &env().pki)
}

fn certify(level: Option<i64>) -> Option<Certify> {
    level.map(|p| Certify::from_level(p).expect("level"))
}

// ---------------------------------------------------------------------------------------------
// The corpus (tests/support/make_corpus.py): LibreOffice, reportlab, Ghostscript, qpdf's object
// streams and linearization, hand-written classic, hybrid and incremental files, damaged ones.

fn corpus(kinds: &[&str]) -> Vec<PathBuf> {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("corpus");
        run_ok(
            Command::new("python3")
                .arg(support("make_corpus.py"))
                .arg(&dir),
        );
        dir
    });
    let list: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("corpus.json")).expect("corpus.json"))
            .expect("json");
    let files: Vec<PathBuf> = list
        .as_array()
        .expect("array")
        .iter()
        .filter(|e| kinds.contains(&e["kind"].as_str().unwrap_or("")))
        .map(|e| dir.join(e["file"].as_str().expect("file")))
        .collect();
    assert!(!files.is_empty(), "no corpus files of kinds {kinds:?}");
    files
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .expect("file name")
        .to_string_lossy()
        .into_owned()
}

// ---------------------------------------------------------------------------------------------
// A hand-written contract with everything the rows change: /Info, an XMP stream, /MarkInfo, a
// text field, a graphics state the page uses, and a page size with many decimals.

#[derive(Clone, Copy, Default)]
struct Base {
    /// An empty signature field "Prepared" (with a widget on the page) for a later signer.
    prepared_field: bool,
    /// The trailer's /Info is the page's graphics state (object 9): a file made to pass a page
    /// change off as a metadata change.
    info_is_page_state: bool,
}

const CATALOG: u32 = 1;
const PAGE: u32 = 3;
const CONTENT: u32 = 4;
const INFO: u32 = 7;
const XMP: u32 = 8;
const GSTATE: u32 = 9;
const TEXT_FIELD: u32 = 11;

fn xmp(title: &str) -> String {
    format!(
        "<?xpacket begin=\"\u{feff}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n\
         <x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF \
         xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description rdf:about=\"\" \
         xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:title><rdf:Alt><rdf:li \
         xml:lang=\"x-default\">{title}</rdf:li></rdf:Alt></dc:title></rdf:Description>\
         </rdf:RDF></x:xmpmeta>\n<?xpacket end=\"w\"?>"
    )
}

fn contract(base: Base) -> Vec<u8> {
    let mut w = Writer::new();
    let fields = if base.prepared_field {
        "[11 0 R 12 0 R]"
    } else {
        "[11 0 R]"
    };
    w.obj(
        CATALOG,
        &format!(
            "<</Type /Catalog /Pages 2 0 R /Metadata 8 0 R /MarkInfo <</Marked true>> \
             /AcroForm <</Fields {fields} /DA (/Helv 0 Tf 0 g) /DR <</Font <</Helv 6 0 R>>>>>>>>"
        ),
    );
    w.obj(2, "<</Type /Pages /Kids [3 0 R] /Count 1>>");
    w.obj(
        PAGE,
        &format!(
            "<</Type /Page /Parent 2 0 R /MediaBox [0 0 595.275591 841.889764] /Contents 4 0 R \
             /Resources <</Font <</F1 6 0 R>> /ExtGState <</GS1 9 0 R>>>> /Annots {fields}>>"
        ),
    );
    let content = b"q /GS1 gs BT /F1 20 Tf 72 760 Td (Sales contract) Tj ET \
                    BT /F1 12 Tf 72 700 Td (The buyer pays 1,000,000 yen.) Tj ET Q\n";
    w.stream(CONTENT, "", content, None);
    w.obj(
        6,
        "<</Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding>>",
    );
    w.obj(
        INFO,
        "<</Title (Sales contract) /Author (Inkan tests) /Producer (hand-written) \
         /CreationDate (D:20261201090000+09'00') /ModDate (D:20261201090000+09'00')>>",
    );
    w.stream(
        XMP,
        "/Type /Metadata /Subtype /XML",
        xmp("Sales contract").as_bytes(),
        None,
    );
    w.obj(GSTATE, "<</Type /ExtGState /ca 1 /CA 1>>");
    w.obj(
        TEXT_FIELD,
        "<</FT /Tx /T (Buyer) /Type /Annot /Subtype /Widget /Rect [72 600 300 630] /P 3 0 R \
         /F 4 /DA (/Helv 12 Tf 0 g)>>",
    );
    if base.prepared_field {
        w.obj(
            12,
            "<</FT /Sig /T (Prepared) /Type /Annot /Subtype /Widget /Rect [320 600 520 660] \
             /P 3 0 R /F 132>>",
        );
    }
    let info = if base.info_is_page_state {
        GSTATE
    } else {
        INFO
    };
    w.xref_table(
        true,
        &format!(
            "/Size 13 /Root 1 0 R /Info {info} 0 R \
             /ID [<0123456789ABCDEF0123456789ABCDEF> <0123456789ABCDEF0123456789ABCDEF>]"
        ),
    );
    w.out
}

/// The contract signed by party 1 with Inkan, certifying at `level` (none: an approval).
fn signed_contract(base: Base, level: Option<i64>) -> Vec<u8> {
    inkan_sign(
        &contract(base),
        1,
        &SignOptions {
            certify: certify(level),
            ..SignOptions::default()
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Hand-made incremental updates

fn bytes(o: &Object) -> Vec<u8> {
    let mut out = Vec::new();
    write_object(&mut out, o);
    out
}

fn object(pdf: &[u8], num: u32) -> Object {
    Document::open(pdf.to_vec())
        .expect("open")
        .get(ObjRef::new(num, 0))
        .expect("object")
}

fn dict(pdf: &[u8], num: u32) -> Dict {
    object(pdf, num).as_dict().expect("a dictionary").clone()
}

/// `num`'s dictionary with `f` applied, as an object body for [`update`].
fn edited(pdf: &[u8], num: u32, f: impl FnOnce(&mut Dict)) -> (u32, Vec<u8>) {
    let mut d = dict(pdf, num);
    f(&mut d);
    (num, bytes(&Object::Dict(d)))
}

fn stream_body(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut out = format!("<<{dict} /Length {}>>\nstream\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\nendstream");
    out
}

/// Appends an incremental update with a classic table (every file it is used on has one) that
/// writes `objects` and frees `freed`. The trailer keeps /Root, /Info and /ID but for `trailer`'s
/// entries (`None`: the key removed).
fn update(
    pdf: &[u8],
    objects: &[(u32, Vec<u8>)],
    freed: &[u32],
    trailer: &[(&str, Option<Object>)],
) -> Vec<u8> {
    let doc = Document::open(pdf.to_vec()).expect("open");
    let mut out = pdf.to_vec();
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    let mut entries = Vec::new();
    for (num, body) in objects {
        entries.push((*num, format!("{:010} 00000 n", out.len())));
        writeln!(out, "{num} 0 obj").expect("write");
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    for num in freed {
        entries.push((*num, "0000000000 00001 f".to_string()));
    }
    let at = out.len();
    out.extend_from_slice(b"xref\n");
    for (num, entry) in &entries {
        write!(out, "{num} 1\n{entry}\r\n").expect("write");
    }
    let size = entries
        .iter()
        .map(|(n, _)| n + 1)
        .chain([doc.size()])
        .max()
        .unwrap_or(1);
    let mut dict = Dict::new();
    dict.set("Size", i64::from(size));
    for key in ["Root", "Info", "ID"] {
        if let Some(value) = doc.trailer.get(key) {
            dict.set(key, value.clone());
        }
    }
    for (key, value) in trailer {
        match value {
            Some(v) => dict.set(key, v.clone()),
            None => {
                dict.remove(key);
            }
        }
    }
    dict.set("Prev", fuzz_common::last_startxref(pdf) as i64);
    out.extend_from_slice(b"trailer\n");
    write_object(&mut out, &Object::Dict(dict));
    write!(out, "\nstartxref\n{at}\n%%EOF\n").expect("write");
    out
}

fn next_number(pdf: &[u8]) -> u32 {
    Document::open(pdf.to_vec()).expect("open").size()
}

fn name(s: &str) -> Object {
    Object::name(s)
}

fn string(s: &str) -> Object {
    Object::String(s.as_bytes().to_vec())
}

// ---------------------------------------------------------------------------------------------
// Another tool signs after Inkan

#[test]
fn pyhanko_countersignatures_keep_inkan_signatures_valid_over_the_corpus() {
    for input in corpus(&["ok", "damaged"]) {
        let name = format!("counter-{}", stem(&input));
        let signed = inkan_sign(
            &std::fs::read(&input).expect("read"),
            1,
            &SignOptions::default(),
        );
        let countered = pyhanko_addsig(&signed, &name, 2, "Counterparty", false);
        let (report, _) = judged_alike(&countered, &format!("{name}.pdf"));
        assert_all_valid(&report, &name);
        assert_eq!(report.signatures.len(), 2, "{name}");
        // pyHanko rewrote /Info and raised /Version: allowed, and said so.
        let first = &report.signatures[0];
        for what in ["(/Info)", "/Version became 2.0", "a signature was added"] {
            assert!(
                says(first, what),
                "{name}: {what}? {:?}",
                first.later_changes
            );
        }
    }
}

#[test]
fn pyhanko_countersigns_a_contract_inkan_certified() {
    for level in [2, 3] {
        let name = format!("counter-certified-p{level}");
        let signed = signed_contract(Base::default(), Some(level));
        let countered = pyhanko_addsig(&signed, &name, 2, "Counterparty", false);
        let (report, _) = judged_alike(&countered, &format!("{name}.pdf"));
        assert_all_valid(&report, &name);
        assert_eq!(report.signatures[0].certification, Some(level));
        let first = &report.signatures[0];
        for what in ["(/Info) was changed", "(/Metadata) was changed", "/Version"] {
            assert!(
                says(first, what),
                "{name}: {what}? {:?}",
                first.later_changes
            );
        }
    }
}

#[test]
fn pyhanko_ltv_updates_after_inkan_signatures_are_allowed_at_every_level() {
    for level in [None, Some(1), Some(2)] {
        let name = format!(
            "ltv-{}",
            level.map_or("approval".into(), |p| format!("p{p}"))
        );
        let signed = signed_contract(Base::default(), level);
        let fixed = ltvfix(&signed, &format!("{name}-ltvfix.pdf"), "Signature1");
        let (report, _) = judged_alike(&fixed, &format!("{name}-ltvfix.pdf"));
        assert_all_valid(&report, &name);
        assert!(
            says(&report.signatures[0], "security store"),
            "{name}: {}",
            summary(&report)
        );
        let archived = ltaupdate(&fixed, &format!("{name}-ltaupdate.pdf"));
        let (report, _) = judged_alike(&archived, &format!("{name}-ltaupdate.pdf"));
        assert_all_valid(&report, &name);
        assert!(
            says(&report.signatures[0], "a document timestamp was added"),
            "{name}: {}",
            summary(&report)
        );
        // Inkan's own archiving after pyHanko's: a DSS update and a further timestamp.
        let again = inkan_timestamp(&inkan_dss(&archived));
        let (report, _) = judged_alike(&again, &format!("{name}-inkan-after.pdf"));
        assert_all_valid(&report, &name);
    }
}

// ---------------------------------------------------------------------------------------------
// Inkan signs after another tool

/// Inkan's visible signature at the bottom left of page 1 (its widget goes into the page's
/// /Annots, so the page dictionary is copied into the update).
fn visible() -> SignOptions {
    SignOptions {
        placement: Some(Placement {
            page: 1,
            x: 36.0,
            y: 36.0,
            width: 150.0,
            height: 50.0,
        }),
        ..SignOptions::default()
    }
}

#[test]
fn inkan_signatures_after_pyhanko_keep_its_signature_valid_over_the_corpus() {
    for input in corpus(&["ok"]) {
        let name = stem(&input);
        if name == "hybrid" {
            // pyHanko refuses hybrid-reference files in its default, strict mode.
            continue;
        }
        let original = std::fs::read(&input).expect("read");
        // An approval first: Inkan then signs visibly.
        let first = pyhanko_addsig(&original, &format!("pyhanko-{name}"), 2, "Author", false);
        let both = inkan_sign(&first, 1, &visible());
        let (report, _) = judged_alike(&both, &format!("pyhanko-then-inkan-{name}.pdf"));
        assert_all_valid(&report, &name);
        assert_eq!(report.signatures.len(), 2, "{name}");
        // A certification (P=2) first: Inkan signs invisibly, as a certified document allows.
        let certified = pyhanko_addsig(
            &original,
            &format!("pyhanko-certified-{name}"),
            2,
            "Author",
            true,
        );
        let both = inkan_sign(&certified, 1, &SignOptions::default());
        let (report, _) = judged_alike(&both, &format!("pyhanko-certified-then-inkan-{name}.pdf"));
        assert_all_valid(&report, &name);
        assert_eq!(report.signatures[0].certification, Some(2), "{name}");
    }
}

#[test]
fn a_page_size_with_many_decimals_survives_inkan_signing_after_pyhanko() {
    let first = pyhanko_addsig(&contract(Base::default()), "decimals", 2, "Author", false);
    let both = inkan_sign(&first, 1, &visible());
    let (report, _) = judged_alike(&both, "decimals-then-inkan.pdf");
    assert_all_valid(&report, "decimals");
    // The page Inkan copied into its update has the size exactly as read.
    let update = &both[first.len()..];
    let page = update
        .windows(7)
        .position(|w| w == b"3 0 obj")
        .expect("the page is in Inkan's update");
    let text = String::from_utf8_lossy(&update[page..]);
    assert!(
        text.contains("[0 0 595.275591 841.889764]"),
        "{}",
        &text[..text.len().min(400)]
    );
}

// ---------------------------------------------------------------------------------------------
// Every kind of later change, at the DocMDP levels that decide it (README.md, "What may change
// after a signature"). Each row changes the contract after party 1's Inkan signature (an
// approval, or a certification with P=1, 2 or 3); a document timestamp follows, which every
// level allows, so that the harness judges the change (pdfsig wants the last signature to cover
// the whole file unless a document timestamp or DSS comes after it).

struct Row {
    base: Base,
    /// Allowed after an approval signature, and after a certification with P=1, 2 and 3.
    allowed: [bool; 4],
    /// pyHanko's default policy refuses it where ISO 32000-2 and Inkan allow it.
    pyhanko_refuses: bool,
    /// What `verify` reports for the first signature where it is allowed (a later change) and
    /// where it is not (a modification).
    says: &'static str,
    refuses: &'static str,
    change: fn(&[u8], &str) -> Vec<u8>,
}

const EVERYWHERE: [bool; 4] = [true; 4];
const NOWHERE: [bool; 4] = [false; 4];
/// Signing and form filling: P=2 and 3, and after approvals.
const FORM_FILLING: [bool; 4] = [true, false, true, true];

/// Checks a row. The allowed sets grow with P (P=1 ⊂ P=2 ⊂ P=3 ⊂ approval), so a row allowed
/// everywhere is tried at P=1 and after an approval, a row refused everywhere at P=3 and after an
/// approval, and any other row at all four.
fn check(row_name: &str, row: Row) {
    let levels = [None, Some(1), Some(2), Some(3)];
    let tried: &[usize] = match row.allowed {
        EVERYWHERE => &[0, 1],
        NOWHERE => &[0, 3],
        _ => &[0, 1, 2, 3],
    };
    for &i in tried {
        let level = levels[i];
        let tag = format!(
            "{row_name}-{}",
            level.map_or("approval".into(), |p| format!("p{p}"))
        );
        let signed = signed_contract(row.base, level);
        let pdf = inkan_timestamp(&(row.change)(&signed, &tag));
        let report = inkan_verify(&pdf);
        let verdict = harness(&pdf, &format!("{tag}.pdf"));
        let first = &report.signatures[0];
        let allowed = row.allowed[i];
        assert_eq!(
            first.status == Status::Valid,
            allowed,
            "{tag}: expected {}\n{}",
            if allowed { "allowed" } else { "refused" },
            summary(&report)
        );
        let (list, what) = if allowed {
            (&first.later_changes, row.says)
        } else {
            (&first.modifications, row.refuses)
        };
        assert!(
            list.iter().any(|c| c.contains(what)),
            "{tag}: '{what}'?\n{}",
            summary(&report)
        );
        if allowed {
            assert_all_valid(&report, &tag);
        }
        let harness_allows = allowed && !row.pyhanko_refuses;
        assert_eq!(
            verdict.valid,
            harness_allows,
            "{tag}: the harness says {}\n{}",
            verdict.text,
            summary(&report)
        );
        if allowed && row.pyhanko_refuses {
            assert!(
                verdict.text.contains("pyhanko:")
                    && !verdict.text.contains("pdfsig:")
                    && !verdict.text.contains("qpdf:"),
                "{tag}: only pyHanko should refuse: {}",
                verdict.text
            );
        } else {
            assert_eq!(report.status == Status::Valid, verdict.valid, "{tag}");
        }
    }
}

fn catalogue_set(pdf: &[u8], key: &str, value: Object) -> Vec<u8> {
    update(
        pdf,
        &[edited(pdf, CATALOG, |d| d.set(key, value))],
        &[],
        &[],
    )
}

fn page_set(pdf: &[u8], key: &str, value: Object) -> Vec<u8> {
    update(pdf, &[edited(pdf, PAGE, |d| d.set(key, value))], &[], &[])
}

/// The object numbers of the page's /Annots with `extra` added.
fn annots_with(pdf: &[u8], extra: u32) -> Object {
    let mut annots = dict(pdf, PAGE)
        .get("Annots")
        .and_then(Object::as_array)
        .expect("the page's /Annots is an array")
        .to_vec();
    annots.push(Object::Ref(ObjRef::new(extra, 0)));
    Object::Array(annots)
}

// Allowed at every level: long-term validation data and the document's metadata.

#[test]
fn row_info_rewritten_in_place() {
    check(
        "info-rewritten",
        Row {
            base: Base::default(),
            allowed: EVERYWHERE,
            pyhanko_refuses: false,
            says: "the document information dictionary (/Info) was changed",
            refuses: "",
            // As Acrobat saves it: every entry rewritten.
            change: |pdf, _| {
                let info = "<</Title (Sales contract, signed) /Author (Someone else) \
                            /Producer (Adobe Acrobat Pro 25) /Creator (Acrobat PDFMaker) \
                            /CreationDate (D:20261201090000+09'00') \
                            /ModDate (D:20261202100000+09'00')>>";
                update(pdf, &[(INFO, info.into())], &[], &[])
            },
        },
    );
}

#[test]
fn row_info_replaced_by_a_new_object() {
    check(
        "info-replaced",
        Row {
            base: Base::default(),
            allowed: EVERYWHERE,
            pyhanko_refuses: false,
            says: "(/Info) was replaced",
            refuses: "",
            change: |pdf, _| {
                let n = next_number(pdf);
                let info = "<</Title (Sales contract) /Producer (another tool)>>".into();
                update(
                    pdf,
                    &[(n, info)],
                    &[],
                    &[("Info", Some(ObjRef::new(n, 0).into()))],
                )
            },
        },
    );
}

#[test]
fn row_info_removed() {
    check(
        "info-removed",
        Row {
            base: Base::default(),
            allowed: EVERYWHERE,
            pyhanko_refuses: false,
            says: "(/Info) was removed",
            refuses: "",
            // (The font written again unchanged: an update needs an object.)
            change: |pdf, _| update(pdf, &[(6, bytes(&object(pdf, 6)))], &[], &[("Info", None)]),
        },
    );
}

#[test]
fn row_xmp_metadata_rewritten_in_place() {
    check(
        "xmp-rewritten",
        Row {
            base: Base::default(),
            allowed: EVERYWHERE,
            pyhanko_refuses: false,
            says: "the XMP metadata (/Metadata) was changed",
            refuses: "",
            change: |pdf, _| {
                let body = stream_body(
                    "/Type /Metadata /Subtype /XML",
                    xmp("Sales contract (signed)").as_bytes(),
                );
                update(pdf, &[(XMP, body)], &[], &[])
            },
        },
    );
}

#[test]
fn row_xmp_metadata_replaced_by_a_new_stream() {
    check(
        "xmp-replaced",
        Row {
            base: Base::default(),
            allowed: EVERYWHERE,
            pyhanko_refuses: false,
            says: "the XMP metadata (/Metadata) was replaced",
            refuses: "",
            change: |pdf, _| {
                let n = next_number(pdf);
                let body = stream_body("/Type /Metadata /Subtype /XML", xmp("New").as_bytes());
                let catalogue = edited(pdf, CATALOG, |d| d.set("Metadata", ObjRef::new(n, 0)));
                update(pdf, &[(n, body), catalogue], &[], &[])
            },
        },
    );
}

#[test]
fn row_version_raised() {
    check(
        "version",
        Row {
            base: Base::default(),
            allowed: EVERYWHERE,
            pyhanko_refuses: false,
            says: "the catalogue's /Version became 2.0",
            refuses: "",
            change: |pdf, _| catalogue_set(pdf, "Version", name("2.0")),
        },
    );
}

#[test]
fn row_extensions_added() {
    check(
        "extensions",
        Row {
            base: Base::default(),
            allowed: EVERYWHERE,
            pyhanko_refuses: false,
            says: "developer extensions (/Extensions) were changed",
            refuses: "",
            change: |pdf, _| {
                let mut adbe = Dict::new();
                adbe.set("BaseVersion", name("1.7"));
                adbe.set("ExtensionLevel", 8i64);
                let mut ext = Dict::new();
                ext.set("ADBE", adbe);
                catalogue_set(pdf, "Extensions", Object::Dict(ext))
            },
        },
    );
}

#[test]
fn row_mark_info_changed() {
    check(
        "markinfo",
        Row {
            base: Base::default(),
            allowed: EVERYWHERE,
            pyhanko_refuses: false,
            says: "tagged-PDF flags (/MarkInfo) were changed",
            refuses: "",
            change: |pdf, _| {
                let mut mark = Dict::new();
                mark.set("Marked", false);
                catalogue_set(pdf, "MarkInfo", Object::Dict(mark))
            },
        },
    );
}

#[test]
fn row_dss_added() {
    check(
        "dss",
        Row {
            base: Base::default(),
            allowed: EVERYWHERE,
            pyhanko_refuses: false,
            says: "security store",
            refuses: "",
            change: |pdf, _| inkan_dss(pdf),
        },
    );
}

#[test]
fn row_document_timestamp_added() {
    check(
        "timestamp",
        Row {
            base: Base::default(),
            allowed: EVERYWHERE,
            pyhanko_refuses: false,
            says: "a document timestamp was added",
            refuses: "",
            change: |pdf, _| inkan_timestamp(pdf),
        },
    );
}

/// `pyhanko sign addfields --field SPEC`: an empty signature field for a later signer.
fn pyhanko_addfield(pdf: &[u8], tag: &str, spec: &str) -> Vec<u8> {
    let input = write_out(pdf, &format!("{tag}.in.pdf"));
    let output = env().out.join(format!("{tag}.field.pdf"));
    run_ok(
        Command::new(pyhanko_bin("pyhanko"))
            .args(["sign", "addfields", "--field", spec])
            .arg(&input)
            .arg(&output),
    );
    std::fs::read(output).expect("pyHanko's output")
}

#[test]
fn row_empty_invisible_signature_field_added() {
    check(
        "empty-field",
        Row {
            base: Base::default(),
            allowed: EVERYWHERE,
            pyhanko_refuses: false,
            says: "signature fields were added",
            refuses: "",
            change: |pdf, tag| pyhanko_addfield(pdf, tag, "1/0,0,0,0/Later"),
        },
    );
}

// Signing and form filling: refused at P=1.

#[test]
fn row_signature_in_a_new_invisible_field() {
    check(
        "signature-added",
        Row {
            base: Base::default(),
            allowed: FORM_FILLING,
            pyhanko_refuses: false,
            says: "a signature was added",
            refuses: "a signature was added, which the certification (DocMDP P=1) does not allow",
            change: |pdf, tag| pyhanko_sign_anyway(pdf, tag, 2, "Counterparty"),
        },
    );
}

#[test]
fn row_prepared_signature_field_signed() {
    check(
        "prepared-signed",
        Row {
            base: Base {
                prepared_field: true,
                ..Base::default()
            },
            allowed: FORM_FILLING,
            pyhanko_refuses: false,
            says: "an empty signature field was signed",
            refuses: "an empty signature field was signed, which the certification (DocMDP P=1)",
            change: |pdf, tag| pyhanko_sign_anyway(pdf, tag, 2, "Prepared"),
        },
    );
}

#[test]
fn row_text_field_filled() {
    check(
        "text-filled",
        Row {
            base: Base::default(),
            allowed: FORM_FILLING,
            pyhanko_refuses: false,
            says: "a form field was filled in",
            refuses: "a form field was filled in, which the certification (DocMDP P=1)",
            change: |pdf, _| {
                let field = edited(pdf, TEXT_FIELD, |d| d.set("V", string("Jiro Suzuki")));
                update(pdf, &[field], &[], &[])
            },
        },
    );
}

// A new visible signature field: after approvals only.

#[test]
fn row_new_visible_signature_field() {
    check(
        "visible-field",
        Row {
            base: Base::default(),
            allowed: [true, false, false, false],
            pyhanko_refuses: false,
            says: "a signature was added",
            refuses: "a new visible signature field",
            change: |pdf, tag| pyhanko_sign_anyway(pdf, tag, 2, "1/320,600,520,660/Late"),
        },
    );
}

#[test]
fn row_empty_visible_signature_field_added() {
    check(
        "empty-visible-field",
        Row {
            base: Base::default(),
            allowed: [true, false, false, false],
            pyhanko_refuses: false,
            says: "signature fields were added",
            refuses: "a new visible signature field",
            change: |pdf, tag| pyhanko_addfield(pdf, tag, "1/320,600,520,660/Later"),
        },
    );
}

// Annotations: P=3 and approvals, where pyHanko refuses them all.

#[test]
fn row_annotation_added() {
    check(
        "annotation",
        Row {
            base: Base::default(),
            allowed: [true, false, false, true],
            pyhanko_refuses: true,
            says: "annotations were added to a page",
            refuses: "annotations were added to a page, which the certification (DocMDP P=",
            change: |pdf, _| {
                let n = next_number(pdf);
                let note = "<</Type /Annot /Subtype /Text /Rect [400 700 420 720] \
                            /Contents (Please check clause 3) /P 3 0 R>>";
                let page = edited(pdf, PAGE, |d| d.set("Annots", annots_with(pdf, n)));
                update(pdf, &[(n, note.into()), page], &[], &[])
            },
        },
    );
}

// Refused at every level.

#[test]
fn row_page_content_rewritten() {
    check(
        "content",
        Row {
            base: Base::default(),
            allowed: NOWHERE,
            pyhanko_refuses: false,
            says: "",
            refuses: "a stream (page content, image or font) (object 4)",
            change: |pdf, _| {
                let body = stream_body("", b"BT /F1 12 Tf 72 700 Td (The buyer pays 1 yen.) Tj ET");
                update(pdf, &[(CONTENT, body)], &[], &[])
            },
        },
    );
}

#[test]
fn row_page_turned() {
    check(
        "rotate",
        Row {
            base: Base::default(),
            allowed: NOWHERE,
            pyhanko_refuses: false,
            says: "",
            refuses: "a page (object 3) was changed: Annots, Rotate",
            change: |pdf, _| page_set(pdf, "Rotate", Object::Int(90)),
        },
    );
}

#[test]
fn row_page_size_rounded() {
    check(
        "mediabox",
        Row {
            base: Base::default(),
            allowed: NOWHERE,
            pyhanko_refuses: false,
            says: "",
            refuses: "a page (object 3) was changed: Annots, MediaBox",
            // What Inkan used to write when it copied the page: four decimals.
            change: |pdf, _| {
                let rounded = [0.0, 0.0, 595.2756, 841.8898].map(Object::from);
                page_set(pdf, "MediaBox", Object::Array(rounded.to_vec()))
            },
        },
    );
}

#[test]
fn row_other_catalogue_entry() {
    check(
        "open-action",
        Row {
            base: Base::default(),
            allowed: NOWHERE,
            pyhanko_refuses: false,
            says: "",
            refuses: "the document catalogue was changed (OpenAction)",
            change: |pdf, _| {
                let action = vec![Object::Ref(ObjRef::new(PAGE, 0)), name("Fit")];
                catalogue_set(pdf, "OpenAction", Object::Array(action))
            },
        },
    );
}

#[test]
fn row_catalogue_replaced() {
    check(
        "root-replaced",
        Row {
            base: Base::default(),
            allowed: NOWHERE,
            pyhanko_refuses: false,
            says: "",
            refuses: "the document catalogue was replaced",
            // The same catalogue under a new number, now opening in full screen.
            change: |pdf, _| {
                let n = next_number(pdf);
                let mut catalogue = dict(pdf, CATALOG);
                catalogue.set("PageMode", name("FullScreen"));
                let root = Some(ObjRef::new(n, 0).into());
                update(
                    pdf,
                    &[(n, bytes(&Object::Dict(catalogue)))],
                    &[],
                    &[("Root", root)],
                )
            },
        },
    );
}

#[test]
fn row_permissions_changed() {
    check(
        "perms",
        Row {
            base: Base::default(),
            allowed: NOWHERE,
            pyhanko_refuses: false,
            says: "",
            refuses: "the document's permissions (/Perms) were changed",
            // A certification's lock removed; an approval turned into a certification.
            change: |pdf, _| {
                let catalogue = dict(pdf, CATALOG);
                let sig = Document::open(pdf.to_vec())
                    .expect("open")
                    .objects()
                    .map(|(r, _)| r)
                    .find(|r| dict_opt(pdf, *r).is_some_and(|d| d.name("Type") == Some(b"Sig")))
                    .expect("the signature dictionary");
                let edit = edited(pdf, CATALOG, |d| {
                    if catalogue.get("Perms").is_some() {
                        d.remove("Perms");
                    } else {
                        let mut perms = Dict::new();
                        perms.set("DocMDP", sig);
                        d.set("Perms", perms);
                    }
                });
                update(pdf, &[edit], &[], &[])
            },
        },
    );
}

fn dict_opt(pdf: &[u8], r: ObjRef) -> Option<Dict> {
    Document::open(pdf.to_vec())
        .ok()?
        .get(r)
        .ok()?
        .as_dict()
        .cloned()
}

#[test]
fn row_object_deleted() {
    check(
        "freed",
        Row {
            base: Base::default(),
            allowed: NOWHERE,
            pyhanko_refuses: false,
            says: "",
            refuses: "object 9 was deleted",
            change: |pdf, _| update(pdf, &[], &[GSTATE], &[]),
        },
    );
}

#[test]
fn row_info_that_a_page_also_uses_rewritten() {
    check(
        "info-shared",
        Row {
            base: Base {
                info_is_page_state: true,
                ..Base::default()
            },
            allowed: NOWHERE,
            pyhanko_refuses: false,
            says: "",
            refuses: "it is the document's /Info, but the signed revision also uses it elsewhere",
            // The page's text made transparent, passed off as a metadata change.
            change: |pdf, _| {
                update(
                    pdf,
                    &[(GSTATE, b"<</Type /ExtGState /ca 0 /CA 0>>".to_vec())],
                    &[],
                    &[],
                )
            },
        },
    );
}

#[test]
fn row_xmp_metadata_rewritten_as_something_else() {
    check(
        "xmp-not-xmp",
        Row {
            base: Base::default(),
            allowed: NOWHERE,
            pyhanko_refuses: false,
            says: "",
            refuses: "the XMP metadata (/Metadata), was replaced by something else",
            change: |pdf, _| {
                let body = stream_body("/Type /Metadata /Subtype /XML", b"q 0 0 595 842 re f Q");
                update(pdf, &[(XMP, body)], &[], &[])
            },
        },
    );
}

#[test]
fn row_metadata_pointed_at_an_existing_object() {
    check(
        "metadata-reused",
        Row {
            base: Base::default(),
            allowed: NOWHERE,
            pyhanko_refuses: false,
            says: "",
            refuses: "the catalogue's /Metadata was pointed at object 4",
            change: |pdf, _| catalogue_set(pdf, "Metadata", Object::Ref(ObjRef::new(CONTENT, 0))),
        },
    );
}

#[test]
fn row_extensions_pointed_at_an_existing_object() {
    check(
        "extensions-reused",
        Row {
            base: Base::default(),
            allowed: NOWHERE,
            pyhanko_refuses: false,
            says: "",
            refuses: "the catalogue's /Extensions was pointed at object 9",
            change: |pdf, _| catalogue_set(pdf, "Extensions", Object::Ref(ObjRef::new(GSTATE, 0))),
        },
    );
}

#[test]
fn row_form_field_moved() {
    check(
        "field-moved",
        Row {
            base: Base::default(),
            allowed: NOWHERE,
            pyhanko_refuses: false,
            says: "",
            refuses: "(Rect)",
            change: |pdf, _| {
                let rect = [72i64, 500, 300, 530].map(Object::Int).to_vec();
                let field = edited(pdf, TEXT_FIELD, |d| d.set("Rect", rect));
                update(pdf, &[field], &[], &[])
            },
        },
    );
}

#[test]
fn row_form_field_added() {
    check(
        "field-added",
        Row {
            base: Base::default(),
            allowed: NOWHERE,
            pyhanko_refuses: false,
            says: "",
            refuses: "form fields other than signatures were added or removed",
            change: |pdf, _| {
                let n = next_number(pdf);
                let field = "<</FT /Tx /T (Discount) /Type /Annot /Subtype /Widget \
                             /Rect [72 500 300 530] /P 3 0 R /F 4 /V (50%)>>";
                let form = dict(pdf, CATALOG)
                    .get("AcroForm")
                    .and_then(Object::as_ref)
                    .expect("Inkan's signature made the form an object");
                let form = edited(pdf, form.num, |d| {
                    let mut fields = d
                        .get("Fields")
                        .and_then(Object::as_array)
                        .expect("fields")
                        .to_vec();
                    fields.push(Object::Ref(ObjRef::new(n, 0)));
                    d.set("Fields", fields);
                });
                let page = edited(pdf, PAGE, |d| d.set("Annots", annots_with(pdf, n)));
                update(pdf, &[(n, field.into()), form, page], &[], &[])
            },
        },
    );
}
