//! Helpers shared by the integration tests: running `inkan`, and the independent validators.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

pub fn inkan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_inkan"))
        .args(args)
        .output()
        .expect("inkan runs")
}

/// Standard output and standard error together.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Asserts that the command succeeded, and returns its output.
pub fn ok(o: Output) -> Output {
    assert!(o.status.success(), "command failed: {}", text(&o));
    o
}

pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("command runs");
    assert!(out.status.success(), "{cmd:?} failed: {}", text(&out));
    out
}

pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("bad JSON ({e}): {}", text(o)))
}

fn conformance_validate() -> PathBuf {
    match std::env::var_os("INKAN_CONFORMANCE_DIR") {
        Some(d) => PathBuf::from(d).join("validate"),
        None => repo_root().join("../shared/conformance/validate"),
    }
}

/// Runs the independent validators (`../shared/conformance/validate`) trusting `root`; returns
/// (passed, verdict).
///
/// pdfsig prints "NSS_Shutdown failed" on stderr at exit for every file with two or more
/// signatures (pyHanko's too), and the harness reads stderr and stdout together: with stdout
/// block-buffered, that line lands inside pdfsig's report at the 4 KiB mark and can split a
/// verdict line. Line-buffering pdfsig's stdout (`stdbuf -oL`) keeps the report whole; no check
/// changes.
pub fn validate_with(path: &Path, root: &str, extra: &[&str]) -> (bool, String) {
    let out = Command::new("stdbuf")
        .args(["-oL", "bash"])
        .arg(conformance_validate())
        .arg(path)
        .args(["--trust", root])
        .args(extra)
        .output()
        .expect("validate runs");
    (out.status.success(), text(&out))
}

/// The conformance virtualenv's pyHanko command.
pub fn pyhanko() -> PathBuf {
    std::env::var("INKAN_CONFORMANCE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/inkan-conformance")
        })
        .join("venv/bin/pyhanko")
}

/// A one-page PDF with a classic cross-reference table, written by hand.
pub fn minimal_pdf(text_line: &str) -> Vec<u8> {
    let content = format!("BT /F1 24 Tf 72 700 Td ({text_line}) Tj ET");
    pdf_from_objects(&[
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>".to_string(),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
    ])
}

/// A PDF of `objects` (numbered from 1, the first the catalogue) with a classic
/// cross-reference table.
pub fn pdf_from_objects(objects: &[String]) -> Vec<u8> {
    let mut pdf = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        pdf.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// Waits until `done`, failing the test with `what` after `within`.
pub fn wait_until(within: std::time::Duration, what: &str, mut done: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(started.elapsed() < within, "{what} within {within:?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The DER in each signature's /Contents of `pdf`, in file order (found by its /ByteRange: the
/// hex string between the two signed ranges), trailing padding left on.
pub fn signature_contents(pdf: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8_lossy(pdf);
    let mut found = Vec::new();
    for (at, _) in text.match_indices("/ByteRange") {
        let rest = &text[at..];
        let open = rest.find('[').expect("[");
        let close = rest.find(']').expect("]");
        let numbers: Vec<usize> = rest[open + 1..close]
            .split_whitespace()
            .map(|n| n.parse().expect("a number"))
            .collect();
        let hex_string = &pdf[numbers[1]..numbers[2]];
        let hex_digits = &hex_string[1..hex_string.len() - 1];
        found.push(hex::decode(hex_digits).expect("hex /Contents"));
    }
    found
}

/// For each signature and document timestamp of `pdf`, in file order: the subject of the
/// certificate that signed its timestamp (the signature timestamp in a signature's CMS, or the
/// document timestamp itself); `None` for a signature without a timestamp.
pub fn timestamp_authorities(pdf: &[u8]) -> Vec<Option<String>> {
    use der::Encode as _;
    use pdf_sign::cms::{ParsedCms, ID_AA_TIME_STAMP_TOKEN};
    const ID_CT_TSTINFO: &str = "1.2.840.113549.1.9.16.1.4";
    signature_contents(pdf)
        .iter()
        .map(|contents| {
            let parsed = ParsedCms::parse(contents).expect("a CMS signature");
            let token = if parsed
                .signed_data
                .encap_content_info
                .econtent_type
                .to_string()
                == ID_CT_TSTINFO
            {
                parsed
            } else {
                let token = parsed
                    .unsigned_attr(ID_AA_TIME_STAMP_TOKEN)
                    .expect("attrs")?;
                ParsedCms::parse(&token.to_der().expect("DER")).expect("a timestamp token")
            };
            Some(
                token
                    .signer_certificate()
                    .expect("the TSA's certificate")
                    .tbs_certificate
                    .subject
                    .to_string(),
            )
        })
        .collect()
}

/// A multipart/form-data body (boundary [`crate::seals::BOUNDARY`]): the text `fields` in
/// order, then each file of `files` as (field, file name, bytes).
pub fn multipart_form(fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let boundary = crate::seals::BOUNDARY;
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    for (name, file_name, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; \
                 filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

/// The content type of a [`multipart_form`] body.
pub fn multipart_type() -> String {
    format!("multipart/form-data; boundary={}", crate::seals::BOUNDARY)
}

/// The files below `dir`, at any depth.
pub fn files_below(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.path().is_dir() {
            found.extend(files_below(&entry.path()));
        } else {
            found.push(entry.path());
        }
    }
    found
}
