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
