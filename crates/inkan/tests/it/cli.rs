//! End-to-end tests of `inkan sign` and `inkan verify` on a corpus of PDFs from different
//! producers, checked by the independent validators in `../shared/conformance/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use super::support::{inkan, pyhanko, repo_root, run_ok, text, validate_with};

// ---------------------------------------------------------------------------------------------
// Fixtures: a test PKI and a corpus, generated once per test run.

struct Fixtures {
    dir: PathBuf,
    pki: PathBuf,
    corpus: PathBuf,
}

fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("inkan-cli-")
            .tempdir()
            .expect("tempdir")
            .keep();
        let pki = dir.join("pki");
        let corpus = dir.join("corpus");
        let support = repo_root().join("crates/pdf-sign/tests/support");
        run_ok(
            Command::new("bash")
                .arg(support.join("make_pki.sh"))
                .arg(&pki),
        );
        run_ok(
            Command::new("python3")
                .arg(support.join("make_corpus.py"))
                .arg(&corpus),
        );
        std::fs::write(dir.join("seal.png"), red_seal_png(120)).expect("seal");
        Fixtures { dir, pki, corpus }
    })
}

/// A red ring seal with a transparent background, as a PNG.
fn red_seal_png(size: u32) -> Vec<u8> {
    let mut rgba = Vec::with_capacity((size * size * 4) as usize);
    let c = size as f64 / 2.0;
    for y in 0..size {
        for x in 0..size {
            let d = ((x as f64 - c).powi(2) + (y as f64 - c).powi(2)).sqrt();
            let on = d < c - 2.0 && (d > c - 12.0 || (x as f64 - c).abs() < 5.0);
            rgba.extend_from_slice(if on {
                &[220, 20, 30, 255]
            } else {
                &[255, 255, 255, 0]
            });
        }
    }
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, size, size);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().expect("png header");
    w.write_image_data(&rgba).expect("png data");
    drop(w);
    out
}

fn corpus_files(kinds: &[&str]) -> Vec<PathBuf> {
    let f = fixtures();
    let list: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.corpus.join("corpus.json")).expect("corpus.json"))
            .expect("json");
    let files: Vec<PathBuf> = list
        .as_array()
        .expect("array")
        .iter()
        .filter(|e| kinds.contains(&e["kind"].as_str().unwrap_or("")))
        .map(|e| f.corpus.join(e["file"].as_str().expect("file")))
        .collect();
    assert!(!files.is_empty(), "no corpus files of kinds {kinds:?}");
    files
}

fn out_path(name: &str) -> PathBuf {
    let dir = fixtures().dir.join("out");
    std::fs::create_dir_all(&dir).expect("out dir");
    dir.join(name)
}

fn pki(name: &str) -> String {
    fixtures().pki.join(name).display().to_string()
}

/// `inkan sign IN -o OUT` with the named test key (`rsa2048`, `p256`, ...) and extra options.
fn sign_with(key: &str, input: &Path, output: &Path, extra: &[&str]) -> Output {
    let (k, c, chain) = (
        pki(&format!("{key}.key")),
        pki(&format!("{key}.pem")),
        pki("ca.pem"),
    );
    let mut args = vec![
        "sign",
        input.to_str().expect("path"),
        "-o",
        output.to_str().expect("path"),
        "--key",
        &k,
        "--cert",
        &c,
        "--chain",
        &chain,
    ];
    args.extend_from_slice(extra);
    inkan(&args)
}

fn sign_ok(key: &str, input: &Path, output: &Path, extra: &[&str]) {
    let o = sign_with(key, input, output, extra);
    assert!(
        o.status.success(),
        "signing {} failed: {}",
        input.display(),
        text(&o)
    );
}

fn verify(path: &Path, trust: &str) -> Output {
    inkan(&[
        "verify",
        path.to_str().expect("path"),
        "--trust",
        &pki(trust),
        "--json",
    ])
}

fn verify_code(path: &Path) -> i32 {
    verify(path, "root.pem").status.code().expect("exit code")
}

/// Runs the independent validators trusting the test root; returns (passed, verdict line).
fn validate_raw(path: &Path, extra: &[&str]) -> (bool, String) {
    validate_with(path, &pki("root.pem"), extra)
}

/// Asserts that pyHanko, pdfsig and qpdf accept every signature in `path`.
fn validate(path: &Path, extra: &[&str]) {
    let (ok, verdict) = validate_raw(path, extra);
    if ok {
        return;
    }
    // Known gap in the shared harness: pades_level.py reads each revision's catalogue through
    // pyHanko, whose historical revision 0 of a linearized file is the main xref section, whose
    // trailer has no /Root. pyHanko's own signatures of such files fail the same way. Every
    // validator proper must still have passed.
    let only_level_script = verdict.contains("KeyError: '/Root'")
        && verdict.contains("get_historical_root")
        && !verdict.contains("pyhanko:")
        && !verdict.contains("pdfsig:")
        && !verdict.contains("qpdf:");
    assert!(
        only_level_script && is_linearized(path),
        "validators reject {}: {verdict}",
        path.display()
    );
}

fn is_linearized(path: &Path) -> bool {
    let head = std::fs::read(path).expect("read");
    String::from_utf8_lossy(&head[..head.len().min(1024)]).contains("/Linearized")
}

fn report(path: &Path) -> serde_json::Value {
    let o = verify(path, "root.pem");
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("bad JSON ({e}): {}", text(&o)))
}

// ---------------------------------------------------------------------------------------------
// The corpus: every producer, visible and invisible.

#[test]
fn every_corpus_file_signs_invisibly_and_validators_agree_with_inkan_verify() {
    for input in corpus_files(&["ok", "damaged"]) {
        let name = input
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        let out = out_path(&format!("invisible-{name}"));
        sign_ok("rsa2048", &input, &out, &[]);
        validate(&out, &["--signatures", "1", "--level", "B-B"]);
        assert_eq!(
            verify_code(&out),
            0,
            "inkan verify disagrees on {name}: {}",
            text(&verify(&out, "root.pem"))
        );
        // Every byte of a clean input is kept (damaged inputs are rewritten once).
        let original = std::fs::read(&input).expect("input");
        let signed = std::fs::read(&out).expect("output");
        let damaged = name.starts_with("broken") || name == "hybrid.pdf";
        assert_eq!(
            signed.starts_with(&original),
            !damaged,
            "prefix check for {name}"
        );
    }
}

#[test]
fn every_corpus_file_signs_visibly_with_a_seal() {
    let seal = fixtures().dir.join("seal.png");
    for input in corpus_files(&["ok", "damaged"]) {
        let name = input
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        let out = out_path(&format!("visible-{name}"));
        sign_ok(
            "p256",
            &input,
            &out,
            &[
                "--visible",
                "1,320,40,220,80",
                "--seal",
                seal.to_str().expect("seal"),
                "--name",
                "山田 太郎",
                "--reason",
                "契約締結",
                "--location",
                "東京",
            ],
        );
        validate(&out, &["--signatures", "1"]);
        assert_eq!(verify_code(&out), 0, "inkan verify disagrees on {name}");
    }
}

#[test]
fn damaged_inputs_are_repaired_and_the_command_says_so() {
    for input in corpus_files(&["damaged"]) {
        let out = out_path(&format!(
            "repaired-{}",
            input.file_name().expect("name").to_string_lossy()
        ));
        let o = sign_with("rsa2048", &input, &out, &[]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(
            text(&o).contains("repaired"),
            "no repair notice: {}",
            text(&o)
        );
        validate(&out, &["--signatures", "1"]);
    }
}

#[test]
fn visible_signature_draws_the_seal_and_text_over_the_page() {
    let input = fixtures().corpus.join("handmade-classic.pdf");
    let out = out_path("render-visible.pdf");
    let seal = fixtures().dir.join("seal.png");
    sign_ok(
        "rsa2048",
        &input,
        &out,
        &[
            "--visible",
            "1,300,600,240,90",
            "--seal",
            seal.to_str().expect("seal"),
            "--name",
            "山田 太郎",
        ],
    );
    validate(&out, &["--signatures", "1"]);
    // The signed file gets the usual permissions of a new file (as `cp` makes), not 0600.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let usual = out_path("usual-mode.txt");
        std::fs::write(&usual, b"x").expect("a plain new file");
        let mode = |p: &std::path::Path| {
            std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
        };
        assert_eq!(mode(&out), mode(&usual), "{:o}", mode(&out));
    }
    let prefix = fixtures().dir.join("render");
    run_ok(
        Command::new("pdftoppm")
            .args(["-r", "72", "-f", "1", "-l", "1", "-png", "-singlefile"])
            .arg(&out)
            .arg(&prefix),
    );
    let png_data = std::fs::read(prefix.with_extension("png")).expect("rendered page");
    let decoder = png::Decoder::new(std::io::Cursor::new(png_data));
    let mut reader = decoder.read_info().expect("png");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("frame");
    let (w, h) = (info.width as usize, info.height as usize);
    let px = |x: usize, y: usize| {
        let i = (y * w + x) * info.color_type.samples();
        (buf[i], buf[i + 1], buf[i + 2])
    };
    // The rectangle in image coordinates (72 dpi: one pixel per point, y downwards).
    let (x0, x1) = (300, 540);
    let (y0, y1) = (h - 690, h - 600);
    let (mut red, mut dark, mut white) = (0, 0, 0);
    for y in y0..y1 {
        for x in x0..x1.min(w) {
            let (r, g, b) = px(x, y);
            if r > 150 && g < 90 && b < 90 {
                red += 1;
            } else if r < 90 && g < 90 && b < 90 {
                dark += 1;
            } else if r > 240 && g > 240 && b > 240 {
                white += 1;
            }
        }
    }
    assert!(red > 300, "the seal's red is missing: {red} red pixels");
    assert!(
        dark > 100,
        "the name and time text is missing: {dark} dark pixels"
    );
    assert!(
        white > 1000,
        "the seal's transparent parts should show the white page: {white}"
    );
}

// ---------------------------------------------------------------------------------------------
// Keys, algorithms and options.

#[test]
fn every_key_type_and_hash_produces_valid_signatures() {
    let input = fixtures().corpus.join("reportlab.pdf");
    let cases: &[(&str, &[&str])] = &[
        ("rsa2048", &[]),
        ("rsa2048", &["--pss"]),
        ("rsa2048", &["--hash", "sha384"]),
        ("rsa3072", &["--hash", "sha512", "--pss"]),
        ("p256", &[]),
        ("p384", &[]),
        ("p384", &["--hash", "sha384"]),
    ];
    for (i, (key, extra)) in cases.iter().enumerate() {
        let out = out_path(&format!("alg-{i}-{key}.pdf"));
        sign_ok(key, &input, &out, extra);
        validate(&out, &["--signatures", "1", "--level", "B-B"]);
        assert_eq!(verify_code(&out), 0, "{key} {extra:?}");
    }
}

#[test]
fn pkcs12_key_signs() {
    let input = fixtures().corpus.join("libreoffice.pdf");
    let out = out_path("p12.pdf");
    let o = Command::new(env!("CARGO_BIN_EXE_inkan"))
        .args([
            "sign",
            input.to_str().expect("p"),
            "-o",
            out.to_str().expect("p"),
            "--p12",
            &pki("rsa2048.p12"),
            "--password-env",
            "P12_PASS",
        ])
        .env("P12_PASS", "secret")
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", text(&o));
    validate(&out, &["--signatures", "1"]);
    let o = Command::new(env!("CARGO_BIN_EXE_inkan"))
        .args([
            "sign",
            input.to_str().expect("p"),
            "-o",
            out_path("p12-bad.pdf").to_str().expect("p"),
            "--p12",
            &pki("rsa2048.p12"),
            "--password-env",
            "P12_PASS",
        ])
        .env("P12_PASS", "wrong")
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("wrong password"), "{}", text(&o));
    assert!(
        !out_path("p12-bad.pdf").exists(),
        "a failed signing must leave no output"
    );
}

#[test]
fn japanese_reason_and_name_are_written_as_utf16() {
    let input = fixtures().corpus.join("handmade-classic.pdf");
    let out = out_path("japanese.pdf");
    sign_ok(
        "rsa2048",
        &input,
        &out,
        &[
            "--name",
            "山田 太郎",
            "--reason",
            "契約締結",
            "--contact",
            "taro@example.jp",
        ],
    );
    let bytes = std::fs::read(&out).expect("read");
    let s = String::from_utf8_lossy(&bytes);
    // 契約締結 in UTF-16BE with a byte-order mark.
    assert!(
        s.contains("/Reason <FEFF59517D047DE07D50>"),
        "reason not UTF-16"
    );
    assert!(s.contains("/ContactInfo(taro@example.jp)"));
    validate(&out, &["--signatures", "1"]);
}

#[test]
fn twenty_signatures_in_a_row_all_stay_valid() {
    let mut current = fixtures().corpus.join("objstm.pdf");
    // Twenty people: pdfsig (NSS) mistrusts a certificate that signs again after others did.
    for i in 0..20 {
        let out = out_path(&format!("twenty-{i}.pdf"));
        let visible = format!("1,{},{},60,30", 20 + (i % 8) * 70, 20 + (i / 8) * 40);
        let extra: Vec<&str> = if i % 2 == 0 {
            vec!["--visible", &visible]
        } else {
            vec![]
        };
        sign_ok(&format!("signer{:02}", i + 1), &current, &out, &extra);
        current = out;
    }
    validate(&current, &["--signatures", "20"]);
    let r = report(&current);
    let sigs = r["signatures"].as_array().expect("signatures");
    assert_eq!(sigs.len(), 20);
    for s in sigs {
        assert_eq!(s["status"], "valid", "{s}");
        assert_eq!(s["intact"], true);
    }
    assert_eq!(r["status"], "valid");
}

#[test]
fn an_existing_empty_signature_field_is_filled() {
    let input = fixtures().corpus.join("reportlab.pdf");
    let with_field = out_path("with-field.pdf");
    run_ok(
        Command::new(pyhanko())
            .args(["sign", "addfields", "--field", "1/100,100,300,160/Approval"])
            .arg(&input)
            .arg(&with_field),
    );
    let out = out_path("filled-field.pdf");
    sign_ok("rsa2048", &with_field, &out, &["--field", "Approval"]);
    validate(&out, &["--signatures", "1"]);
    let r = report(&out);
    assert_eq!(r["signatures"][0]["field"], "Approval");
    // The field is now signed: a second attempt at it is refused clearly.
    let o = sign_with(
        "rsa2048",
        &out,
        &out_path("filled-twice.pdf"),
        &["--field", "Approval"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("already signed"), "{}", text(&o));
}

#[test]
fn certification_allows_later_signatures_only_when_its_level_does() {
    // The document manager prepares a field for the counterparty, then certifies with P=2.
    let input = fixtures().corpus.join("libreoffice.pdf");
    let prepared = out_path("certify-prepared.pdf");
    run_ok(
        Command::new(pyhanko())
            .args([
                "sign",
                "addfields",
                "--field",
                "1/300,60,500,120/Counterparty",
            ])
            .arg(&input)
            .arg(&prepared),
    );
    let certified = out_path("certified-p2.pdf");
    sign_ok("rsa2048", &prepared, &certified, &["--certify", "2"]);
    // (pdfsig counts the empty prepared field as a failed signature, so validators run once it is filled.)
    let r = report(&certified);
    assert_eq!(r["signatures"][0]["certification"], 2);
    // The counterparty fills the prepared field, visibly; a third signs invisibly.
    let second = out_path("certified-p2-second.pdf");
    sign_ok("p256", &certified, &second, &["--field", "Counterparty"]);
    let third = out_path("certified-p2-third.pdf");
    sign_ok("p384", &second, &third, &[]);
    validate(&third, &["--signatures", "3"]);
    assert_eq!(
        verify_code(&third),
        0,
        "{}",
        text(&verify(&third, "root.pem"))
    );
    // A new visible field after certification is what validators reject: refused up front.
    let o = sign_with(
        "p256",
        &certified,
        &out_path("certified-p2-visible.pdf"),
        &["--visible", "1,50,50,150,50"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("certified"), "{}", text(&o));

    let locked = out_path("certified-p1.pdf");
    sign_ok("rsa2048", &input, &locked, &["--certify", "1"]);
    validate(&locked, &["--signatures", "1"]);
    let o = sign_with("p256", &locked, &out_path("certified-p1-second.pdf"), &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("no changes allowed"), "{}", text(&o));
    // Certifying an already signed document is refused.
    let o = sign_with(
        "p256",
        &second,
        &out_path("certify-late.pdf"),
        &["--certify", "3"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}

#[test]
fn inkan_verify_flags_a_visible_field_added_after_certification_as_pyhanko_does() {
    // Built with pyHanko itself, so the file is what another tool would produce.
    let certified = out_path("certified-for-pyhanko.pdf");
    sign_ok(
        "rsa2048",
        &fixtures().corpus.join("handmade-classic.pdf"),
        &certified,
        &["--certify", "2"],
    );
    let added = out_path("certified-plus-visible.pdf");
    run_ok(
        Command::new(pyhanko())
            .args([
                "sign",
                "addsig",
                "--field",
                "1/100,100,250,150/Late",
                "pemder",
                "--key",
                &pki("p256.key"),
                "--cert",
                &pki("p256.pem"),
                "--chain",
                &pki("ca.pem"),
                "--no-pass",
            ])
            .arg(&certified)
            .arg(&added),
    );
    let (ok, _) = validate_raw(&added, &[]);
    assert!(
        !ok,
        "pyHanko rejects a new visible field after certification"
    );
    let r = report(&added);
    assert_eq!(r["status"], "invalid", "{r}");
    assert!(
        r["signatures"][0]["modifications"]
            .to_string()
            .contains("visible signature field"),
        "{r}"
    );
}

// ---------------------------------------------------------------------------------------------
// Trust.

#[test]
fn an_unknown_root_gives_exit_2_and_an_expired_certificate_exit_1() {
    let input = fixtures().corpus.join("handmade-classic.pdf");
    let out = out_path("trust.pdf");
    sign_ok("rsa2048", &input, &out, &[]);
    assert_eq!(verify(&out, "other-root.pem").status.code(), Some(2));
    let expired = out_path("expired.pdf");
    sign_ok("expired", &input, &expired, &[]);
    let o = verify(&expired, "root.pem");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("not valid at the signing time"),
        "{}",
        text(&o)
    );
    let (ok, _) = validate_raw(&expired, &[]);
    assert!(
        !ok,
        "validators must reject an expired signer certificate too"
    );
}

#[test]
fn a_file_without_signatures_is_invalid() {
    let o = verify(&fixtures().corpus.join("reportlab.pdf"), "root.pem");
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("no signature"), "{}", text(&o));
}

// ---------------------------------------------------------------------------------------------
// Tampering and changes after signing.

/// A small deterministic generator (xorshift64*), so the tamper positions are reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Byte ranges of object bodies (`N G obj` .. `endobj`), excluding the signature's /Contents.
fn object_bodies(data: &[u8]) -> Vec<(usize, usize)> {
    let s = data;
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(p) = find(&s[i..], b" obj") {
        let start = i + p + 4;
        let Some(e) = find(&s[start..], b"endobj") else {
            break;
        };
        let end = start + e;
        out.push((start, end));
        i = end;
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn byte_range(data: &[u8]) -> [usize; 4] {
    let at = find(data, b"/ByteRange [").expect("byte range") + 12;
    let end = at + find(&data[at..], b"]").expect("]");
    let nums: Vec<usize> = std::str::from_utf8(&data[at..end])
        .expect("ascii")
        .split_whitespace()
        .map(|n| n.parse().expect("num"))
        .collect();
    [nums[0], nums[1], nums[2], nums[3]]
}

#[test]
fn fifty_seeded_byte_flips_in_signed_objects_are_all_caught() {
    let input = fixtures().corpus.join("reportlab.pdf");
    let signed = out_path("tamper-base.pdf");
    sign_ok(
        "rsa2048",
        &input,
        &signed,
        &["--visible", "1,300,40,200,60"],
    );
    let data = std::fs::read(&signed).expect("read");
    let br = byte_range(&data);
    let bodies: Vec<(usize, usize)> = object_bodies(&data)
        .into_iter()
        .filter(|(s, e)| *e <= br[1] || *s >= br[2])
        .filter(|(s, e)| e > s)
        .collect();
    let mut rng = Rng(0x1a2b_3c4d_5e6f_7788);
    let tampered = out_path("tampered.pdf");
    for round in 0..50 {
        let (s, e) = bodies[rng.below(bodies.len())];
        let pos = s + rng.below(e - s);
        let mut bad = data.clone();
        bad[pos] ^= 1 + rng.below(255) as u8;
        std::fs::write(&tampered, &bad).expect("write");
        let o = verify(&tampered, "root.pem");
        assert_eq!(
            o.status.code(),
            Some(1),
            "flip {round} at byte {pos} not caught by inkan verify: {}",
            text(&o)
        );
        let (ok, verdict) = validate_raw(&tampered, &[]);
        assert!(
            !ok,
            "flip {round} at byte {pos} not caught by the validators: {verdict}"
        );
    }
}

#[test]
fn flips_inside_the_xref_table_never_verify_as_valid() {
    let input = fixtures().corpus.join("handmade-classic.pdf");
    let signed = out_path("xref-tamper-base.pdf");
    sign_ok("rsa2048", &input, &signed, &[]);
    let data = std::fs::read(&signed).expect("read");
    let xref = find(&data, b"xref\n").expect("xref table");
    let trailer = xref + find(&data[xref..], b"trailer").expect("trailer");
    let mut rng = Rng(42);
    let tampered = out_path("xref-tampered.pdf");
    for _ in 0..20 {
        let pos = xref + rng.below(trailer - xref);
        let mut bad = data.clone();
        bad[pos] ^= 1 + rng.below(255) as u8;
        std::fs::write(&tampered, &bad).expect("write");
        let code = verify_code(&tampered);
        assert!(
            code == 1 || code == 3,
            "flip at {pos} in the xref gave exit {code}"
        );
    }
}

/// Appends an incremental update that replaces page 1's content stream.
fn append_content_change(signed: &Path, out: &Path) {
    use pdf_sign::object::Object;
    let data = std::fs::read(signed).expect("read");
    let doc = pdf_sign::Document::open(data.clone()).expect("open");
    let page = doc.page(0).expect("page");
    let page_dict = doc.get_dict(page).expect("page dict");
    let contents = match page_dict.get("Contents") {
        Some(Object::Ref(r)) => *r,
        Some(Object::Array(a)) => a[0].as_ref().expect("ref"),
        _ => panic!("no contents"),
    };
    let mut out_bytes = data.clone();
    let obj_at = out_bytes.len();
    let content = b"BT /F1 24 Tf 100 100 Td (PAID IN FULL) Tj ET";
    out_bytes.extend_from_slice(
        format!(
            "{} {} obj\n<</Length {}>>\nstream\n",
            contents.num,
            contents.gen,
            content.len()
        )
        .as_bytes(),
    );
    out_bytes.extend_from_slice(content);
    out_bytes.extend_from_slice(b"\nendstream\nendobj\n");
    let xref_at = out_bytes.len();
    out_bytes.extend_from_slice(format!("xref\n{} 1\n{:010} {:05} n\r\ntrailer\n<</Size {} /Root {} {} R /Prev {}>>\nstartxref\n{}\n%%EOF\n", contents.num, obj_at, contents.gen, doc.size(), doc.root_ref().expect("root").num, doc.root_ref().expect("root").gen, doc.startxref, xref_at).as_bytes());
    std::fs::write(out, out_bytes).expect("write");
}

#[test]
fn a_content_change_after_signing_is_reported_as_a_modification() {
    let input = fixtures().corpus.join("handmade-classic.pdf");
    let signed = out_path("modify-base.pdf");
    sign_ok("rsa2048", &input, &signed, &[]);
    let modified = out_path("modified.pdf");
    append_content_change(&signed, &modified);
    let o = verify(&modified, "root.pem");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let mods = r["signatures"][0]["modifications"]
        .as_array()
        .expect("modifications");
    assert!(
        mods.iter()
            .any(|m| m.as_str().unwrap_or("").contains("stream")),
        "{mods:?}"
    );
    assert_eq!(
        r["signatures"][0]["intact"], true,
        "the signed revision itself is intact"
    );
    let (ok, _) = validate_raw(&modified, &[]);
    assert!(!ok, "pyHanko must also see the modification");
    // Plain text says so too.
    let o = inkan(&[
        "verify",
        modified.to_str().expect("p"),
        "--trust",
        &pki("root.pem"),
    ]);
    assert!(text(&o).contains("MODIFIED after signing"), "{}", text(&o));
}

#[test]
fn junk_appended_after_the_signed_revision_is_reported() {
    let input = fixtures().corpus.join("handmade-classic.pdf");
    let signed = out_path("junk-base.pdf");
    sign_ok("rsa2048", &input, &signed, &[]);
    let mut data = std::fs::read(&signed).expect("read");
    data.extend_from_slice(b"% appended later\n1 0 obj (x) endobj\n");
    let junk = out_path("junk.pdf");
    std::fs::write(&junk, data).expect("write");
    let o = verify(&junk, "root.pem");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("appended"), "{}", text(&o));
}

// ---------------------------------------------------------------------------------------------
// Bad input.

#[test]
fn unreadable_inputs_get_a_clear_message_and_exit_3() {
    let good = std::fs::read(fixtures().corpus.join("reportlab.pdf")).expect("read");
    let mut rng = Rng(7);
    let random: Vec<u8> = (0..5000).map(|_| rng.next() as u8).collect();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.pdf", Vec::new(), "empty"),
        ("random.pdf", random, "not a PDF"),
        ("truncated.pdf", good[..good.len() / 3].to_vec(), "damaged"),
    ];
    for (name, bytes, message) in cases {
        let path = out_path(name);
        std::fs::write(&path, bytes).expect("write");
        let o = verify(&path, "root.pem");
        assert_eq!(o.status.code(), Some(3), "{name}: {}", text(&o));
        assert!(text(&o).contains(message), "{name}: {}", text(&o));
        let out = out_path(&format!("signed-{name}"));
        let o = sign_with("rsa2048", &path, &out, &[]);
        assert_eq!(o.status.code(), Some(3), "{name}: {}", text(&o));
        assert!(text(&o).contains(message), "{name}: {}", text(&o));
        assert!(!out.exists(), "{name}: nothing may be written");
    }
    for input in corpus_files(&["encrypted"]) {
        let o = verify(&input, "root.pem");
        assert_eq!(o.status.code(), Some(3));
        assert!(text(&o).contains("encrypted"), "{}", text(&o));
        let o = sign_with("rsa2048", &input, &out_path("enc-out.pdf"), &[]);
        assert_eq!(o.status.code(), Some(3));
        assert!(text(&o).contains("encrypted"), "{}", text(&o));
    }
}

#[test]
fn a_damaged_file_that_is_already_signed_is_refused() {
    let input = fixtures().corpus.join("handmade-classic.pdf");
    let signed = out_path("damaged-signed-base.pdf");
    sign_ok("rsa2048", &input, &signed, &[]);
    let mut data = std::fs::read(&signed).expect("read");
    // Point the last startxref at a wrong offset.
    let at = data
        .windows(9)
        .rposition(|w| w == b"startxref")
        .expect("startxref")
        + 10;
    data[at] = if data[at] == b'1' { b'2' } else { b'1' };
    let damaged = out_path("damaged-signed.pdf");
    std::fs::write(&damaged, data).expect("write");
    let o = sign_with("p256", &damaged, &out_path("damaged-signed-out.pdf"), &[]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("already carries signatures"),
        "{}",
        text(&o)
    );
}

#[test]
fn bad_options_are_refused_with_a_message() {
    let input = fixtures().corpus.join("handmade-classic.pdf");
    for (extra, message) in [
        (&["--visible", "0,1,2,3,4"][..], "pages count from 1"),
        (
            &["--visible", "9,10,10,100,50"][..],
            "page 9 does not exist",
        ),
        (&["--visible", "1,a,b"][..], "bad placement"),
        (&["--hash", "md5"][..], "unknown hash"),
        (&["--pss"][..], ""),
    ] {
        let key = if extra == ["--pss"] {
            "p256"
        } else {
            "rsa2048"
        };
        let out = out_path("bad-option.pdf");
        let o = sign_with(key, &input, &out, extra);
        assert_eq!(o.status.code(), Some(1), "{extra:?}: {}", text(&o));
        assert!(text(&o).contains(message), "{extra:?}: {}", text(&o));
        assert!(!out.exists());
    }
    // A key that does not match the certificate.
    let o = inkan(&[
        "sign",
        input.to_str().expect("p"),
        "-o",
        out_path("mismatch.pdf").to_str().expect("p"),
        "--key",
        &pki("p256.key"),
        "--cert",
        &pki("rsa2048.pem"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("does not belong"), "{}", text(&o));
}
