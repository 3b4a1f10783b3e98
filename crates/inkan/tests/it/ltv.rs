//! Inkan's own CA served over HTTP by `inkan ca serve`, and PAdES B-T, B-LT and B-LTA
//! signatures made against it, checked by the conformance validators and `inkan verify`.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::support::{inkan, json, minimal_pdf, ok, pyhanko, text, validate_with};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// `inkan ca serve`, stopped when dropped.
struct CaServer {
    child: Child,
}

impl CaServer {
    fn start(dir: &Path, port: u16) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_inkan"))
            .args([
                "ca",
                "serve",
                "--dir",
                dir.to_str().expect("dir"),
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ca serve starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "inkan ca serve did not start listening"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child }
    }
}

impl Drop for CaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Ca {
    dir: PathBuf,
    port: u16,
    work: PathBuf,
}

impl Ca {
    fn new() -> Self {
        let work = tempfile::Builder::new()
            .prefix("inkan-ltv-")
            .tempdir()
            .expect("tempdir")
            .keep();
        let dir = work.join("ca");
        let port = free_port();
        ok(inkan(&[
            "ca",
            "init",
            "--dir",
            dir.to_str().expect("dir"),
            "--org",
            "Inkan Test",
            "--base-url",
            &format!("http://127.0.0.1:{port}"),
        ]));
        Self { dir, port, work }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    fn root(&self) -> String {
        self.dir.join("root.pem").display().to_string()
    }

    /// Issues a signer certificate; returns its serial.
    fn issue(&self, name: &str, email: &str) -> String {
        let app = self.work.join(format!("{name}.json"));
        let json = serde_json::json!({
            "country": "JP", "state_or_province": "東京都", "locality": "港区",
            "street_address": "虎ノ門1-2-3", "postal_code": "105-0001",
            "organisation": "株式会社テスト", "organisational_unit": "総務部",
            "common_name": name, "email": email,
        });
        std::fs::write(&app, json.to_string()).expect("application");
        let out = ok(inkan(&[
            "ca",
            "issue",
            "--dir",
            self.dir.to_str().expect("dir"),
            "--application",
            app.to_str().expect("app"),
            "--out",
            self.work.join(format!("{name}.pem")).to_str().expect("out"),
        ]));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn sign(&self, serial: &str, level: &str, input: &Path, output: &Path) -> Output {
        inkan(&[
            "sign",
            input.to_str().expect("in"),
            "-o",
            output.to_str().expect("out"),
            "--ca-dir",
            self.dir.to_str().expect("dir"),
            "--serial",
            serial,
            "--level",
            level,
            "--tsa",
            &self.url("tsa"),
        ])
    }

    fn verify(&self, path: &Path, offline: bool) -> Output {
        let root = self.root();
        let mut args = vec![
            "verify",
            path.to_str().expect("path"),
            "--trust",
            &root,
            "--json",
        ];
        if offline {
            args.push("--offline");
        }
        inkan(&args)
    }

    /// `inkan verify` as a person reads it (no --json).
    fn verify_text(&self, path: &Path) -> Output {
        let root = self.root();
        inkan(&["verify", path.to_str().expect("path"), "--trust", &root])
    }
}

fn validate(path: &Path, root: &str, extra: &[&str]) -> (bool, String) {
    validate_with(path, root, extra)
}

/// A small document to sign.
fn sample_pdf(dir: &Path) -> PathBuf {
    let path = dir.join("contract.pdf");
    std::fs::write(&path, minimal_pdf("Contract")).expect("write");
    path
}

/// pyHanko's full report (revocation forced), for what the one-line verdict cuts off.
fn pyhanko_report(path: &Path, root: &str, extra: &[&str]) -> String {
    let out = Command::new(pyhanko())
        .args([
            "sign",
            "validate",
            "--pretty-print",
            "--trust-replace",
            "--trust",
            root,
        ])
        .args(extra)
        .arg(path)
        .output()
        .expect("pyhanko runs");
    text(&out)
}

#[test]
fn long_term_signatures_validate_online_and_from_the_dss_alone() {
    let ca = Ca::new();
    let alice = ca.issue("Taro Yamada", "taro@example.jp");
    let input = sample_pdf(&ca.work);
    let root = ca.root();
    let server = CaServer::start(&ca.dir, ca.port);

    let mut files = Vec::new();
    for level in ["B-T", "B-LT", "B-LTA"] {
        let out = ca.work.join(format!("{level}.pdf"));
        ok(ca.sign(&alice, level, &input, &out));
        let (valid, verdict) = validate(&out, &root, &["--level", level, "--revocation"]);
        if level == "B-LT" {
            // The harness asks pdfsig for a last signature covering the whole file unless a
            // document timestamp follows; a B-LT file ends with its DSS update by definition.
            // Everything else must pass.
            assert!(
                valid
                    || verdict.contains("INVALID")
                        && verdict.matches(": ").count() == 2
                        && verdict
                            .contains("pdfsig: the last signature does not cover the whole file"),
                "{level}: {verdict}"
            );
            let (v, verdict) = validate(&out, &root, &["--revocation"]);
            assert!(
                v || !verdict.contains("pyhanko:"),
                "{level}: pyHanko must accept it: {verdict}"
            );
        } else {
            assert!(valid, "{level}: {verdict}");
        }
        let o = ca.verify(&out, false);
        assert_eq!(o.status.code(), Some(0), "{level}: {}", text(&o));
        let r = json(&o);
        assert!(
            r["signatures"][0]["timestamp"].is_string(),
            "{level}: a signature timestamp: {r}"
        );
        files.push((level, out));
    }
    // B-LTA ends with a document timestamp that inkan verify checks too.
    let lta = json(&ca.verify(&files[2].1, false));
    let sigs = lta["signatures"].as_array().expect("signatures");
    assert_eq!(sigs.len(), 2, "{lta}");
    assert_eq!(sigs[1]["sub_filter"], "ETSI.RFC3161");
    assert_eq!(sigs[1]["status"], "valid", "{lta}");
    // Its trust names the TSA's chain, the TSA first and the root last.
    let chain: Vec<&str> = sigs[1]["chain"]
        .as_array()
        .expect("chain")
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert!(chain.len() >= 2, "{lta}");
    assert_eq!(Some(chain[0]), sigs[1]["signer_subject"].as_str(), "{lta}");
    let printed = text(&ca.verify_text(&files[2].1));
    assert!(
        !printed.contains("trusted ()") && printed.contains(&format!("trusted ({}", chain[0])),
        "{printed}"
    );

    // With the CA gone, the DSS carries what B-LT and B-LTA need; B-T has nothing embedded.
    drop(server);
    for (level, path) in &files[1..] {
        let o = ca.verify(path, true);
        assert_eq!(o.status.code(), Some(0), "{level} offline: {}", text(&o));
        let r = json(&o);
        let rev = r["signatures"][0]["revocation"].to_string();
        assert!(rev.contains("good (OCSP (embedded))"), "{level}: {rev}");
        // pyHanko's `sign validate` never reads the DSS and pdfsig asks the OCSP responder
        // itself, so offline they can judge integrity and trust, not revocation.
        let report = pyhanko_report(path, &root, &["--no-revocation-check"]);
        assert!(
            report.contains("The signature is judged VALID"),
            "{level} offline: {report}"
        );
    }
    let o = ca.verify(&files[0].1, false);
    assert_eq!(
        o.status.code(),
        Some(2),
        "B-T with the responder down: revocation unknown: {}",
        text(&o)
    );
    assert!(text(&o).contains("unknown"), "{}", text(&o));
}

#[test]
fn a_revoked_signer_is_reported_revoked_by_pyhanko_and_inkan_verify() {
    let ca = Ca::new();
    let bob = ca.issue("Jiro Suzuki", "jiro@example.jp");
    let input = sample_pdf(&ca.work);
    let root = ca.root();
    let _server = CaServer::start(&ca.dir, ca.port);
    let before = ca.work.join("before-revocation.pdf");
    ok(ca.sign(&bob, "B-B", &input, &before));
    assert_eq!(ca.verify(&before, false).status.code(), Some(0));

    ok(inkan(&[
        "ca",
        "revoke",
        "--dir",
        ca.dir.to_str().expect("dir"),
        "--serial",
        &bob,
        "--reason",
        "key-compromise",
    ]));
    // The running responder reads the same certificate store.
    let o = ca.verify(&before, false);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("revoked"), "{}", text(&o));
    let (valid, verdict) = validate(&before, &root, &["--revocation"]);
    assert!(!valid, "{verdict}");
    let report = pyhanko_report(&before, &root, &["--force-revinfo"]);
    assert!(
        report.contains("revoked"),
        "pyHanko must say revoked: {report}"
    );

    // Signing after the revocation, timestamped: revoked at the proven signing time.
    let after = ca.work.join("after-revocation.pdf");
    ok(ca.sign(&bob, "B-T", &input, &after));
    let o = ca.verify(&after, false);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let (valid, verdict) = validate(&after, &root, &["--revocation"]);
    assert!(!valid, "{verdict}");
    let report = pyhanko_report(&after, &root, &["--force-revinfo"]);
    assert!(
        report.contains("revoked"),
        "pyHanko must say revoked: {report}"
    );
}

#[test]
fn renewal_keeps_the_old_certificate_and_a_change_revokes_it() {
    let ca = Ca::new();
    let old = ca.issue("Ichiro Tanaka", "ichiro@example.jp");
    let input = sample_pdf(&ca.work);
    let _server = CaServer::start(&ca.dir, ca.port);
    let dir = ca.dir.to_str().expect("dir");
    let renewed_pem = ca.work.join("renewed.pem");
    let renewed = String::from_utf8_lossy(
        &ok(inkan(&[
            "ca",
            "renew",
            "--dir",
            dir,
            "--serial",
            &old,
            "--out",
            renewed_pem.to_str().expect("p"),
        ]))
        .stdout,
    )
    .trim()
    .to_string();
    assert_ne!(renewed, old);
    let by_old = ca.work.join("by-old.pdf");
    ok(ca.sign(&old, "B-B", &input, &by_old));
    let by_new = ca.work.join("by-renewed.pdf");
    ok(ca.sign(&renewed, "B-B", &input, &by_new));
    for f in [&by_old, &by_new] {
        assert_eq!(
            ca.verify(f, false).status.code(),
            Some(0),
            "renewal keeps both valid"
        );
    }
    // A change (new department) re-issues and revokes the certificate it replaces.
    let app = ca.work.join("changed.json");
    let json = serde_json::json!({
        "country": "JP", "state_or_province": "大阪府", "locality": "大阪市",
        "organisation": "株式会社テスト", "organisational_unit": "営業部",
        "common_name": "Ichiro Tanaka", "email": "ichiro@example.jp",
    });
    std::fs::write(&app, json.to_string()).expect("application");
    let changed_pem = ca.work.join("changed.pem");
    ok(inkan(&[
        "ca",
        "change",
        "--dir",
        dir,
        "--serial",
        &renewed,
        "--application",
        app.to_str().expect("p"),
        "--out",
        changed_pem.to_str().expect("p"),
    ]));
    let o = ca.verify(&by_new, false);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("revoked"), "{}", text(&o));
    let subject = String::from_utf8_lossy(
        &ok(Command::new("openssl")
            .args([
                "x509",
                "-noout",
                "-subject",
                "-nameopt",
                "utf8,-esc_msb",
                "-in",
            ])
            .arg(&changed_pem)
            .output()
            .expect("openssl"))
        .stdout,
    )
    .to_string();
    assert!(
        subject.contains("営業部") && subject.contains("大阪府"),
        "{subject}"
    );
}

#[test]
fn malformed_ocsp_and_timestamp_requests_get_400_and_the_server_keeps_serving() {
    let ca = Ca::new();
    let _server = CaServer::start(&ca.dir, ca.port);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    for (path, ctype) in [
        ("ocsp", "application/ocsp-request"),
        ("tsa", "application/timestamp-query"),
    ] {
        let resp = agent
            .post(&ca.url(path))
            .header("Content-Type", ctype)
            .send(&b"not DER at all"[..])
            .expect("answer");
        assert_eq!(resp.status().as_u16(), 400, "{path}");
    }
    // Still serving: the CRL and CA certificate come back, and a real signature works.
    for path in ["crl", "root.crl", "ca.crt", "root.crt"] {
        let resp = agent.get(&ca.url(path)).call().expect("answer");
        assert_eq!(resp.status().as_u16(), 200, "{path}");
    }
    let serial = ca.issue("Hanako Sato", "hanako@example.jp");
    let input = sample_pdf(&ca.work);
    let out = ca.work.join("after-junk.pdf");
    ok(ca.sign(&serial, "B-T", &input, &out));
    let (valid, verdict) = validate(&out, &ca.root(), &["--level", "B-T", "--revocation"]);
    assert!(valid, "{verdict}");
}
