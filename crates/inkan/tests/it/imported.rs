//! A signing certificate of another CA imported with its key as PKCS#12, through the real server
//! with Inkan's CA: "Outside Test Root" and its issuing CA are made with openssl
//! (`make_import_pki.sh`) and publish their CRLs and certificates from a server on loopback.
//! Every bad file (no PIN yet, a wrong password, not PKCS#12, no key, expired, a key that is not
//! the certificate's, too large, none) is refused with its field and reason — in the API's words
//! and, on the profile, in Japanese — and leaves nothing behind; the good one is imported (and
//! audited), shown on the profile, and signs: `/api/me/sign` at B-LTA and a contract's
//! certificate signature (its completion B-LTA too), each passing
//! `../shared/conformance/validate` trusting that root and Inkan's (the outside chain's
//! revocation data fetched over HTTP), and `inkan verify` naming the chain from the file. An
//! administrator removes it; a PIN reset loses it.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::contract_flow::{link_token, wait_for_status};
use crate::lifecycle::service_with_ca;
use crate::serve::Backend;
use crate::service::{Answer, Api, Service};
use crate::support::{
    inkan, json as json_of, minimal_pdf, multipart_form, multipart_type, signature_contents, text,
    validate_with,
};

const PASSWORD: &str = "p12-Secret";
const PIN: &str = "Gaibu2026pin";

/// Serves the files of `dir` (GET /NAME) from `listener` for as long as the test runs.
fn serve_files(listener: TcpListener, dir: PathBuf) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let line = String::from_utf8_lossy(&request);
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let name = path.trim_start_matches('/');
            let file = (!name.contains('/') && !name.is_empty())
                .then(|| std::fs::read(dir.join(name)).ok())
                .flatten();
            let _ = match file {
                Some(body) => stream
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .and_then(|()| stream.write_all(&body)),
                None => stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                ),
            };
        }
    });
}

/// The outside PKI in a folder, its CRLs and certificates served from loopback.
fn outside_pki() -> tempfile::TempDir {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let dir = tempfile::tempdir().expect("tempdir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/make_import_pki.sh");
    let out = std::process::Command::new("bash")
        .arg(script)
        .arg(dir.path())
        .arg(&base)
        .output()
        .expect("make_import_pki.sh runs");
    assert!(out.status.success(), "{}", text(&out));
    serve_files(listener, dir.path().to_path_buf());
    dir
}

fn import(api: &mut Api, path: &str, file: &[u8], password: &str) -> Answer {
    let body = multipart_form(&[("password", password)], &[("file", "証明書.p12", file)]);
    api.raw("POST", path, Some(&body), Some(&multipart_type()))
}

/// What an import leaves behind: imported rows, CA records, audit entries.
fn traces(service: &Service) -> (i64, i64, i64) {
    let db = &service.app.db;
    (
        db.count("SELECT COUNT(*) FROM imported_certificates"),
        db.count("SELECT COUNT(*) FROM ca_certificates WHERE kind = 'Imported'"),
        db.count("SELECT COUNT(*) FROM audit_log WHERE action = 'certificate.imported'"),
    )
}

/// A PKCS#12 file holding `key` (PEM) with the certificate `cert` (PEM) that is not its own.
fn mismatched_p12(key: &Path, cert: &Path) -> Vec<u8> {
    let (_, pkcs8) = der::pem::decode_vec(&std::fs::read(key).expect("key")).expect("PEM key");
    let (_, cert) = der::pem::decode_vec(&std::fs::read(cert).expect("cert")).expect("PEM cert");
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry(
        "mismatch",
        p12_keystore::KeyStoreEntry::PrivateKeyChain(p12_keystore::PrivateKeyChain::new(
            "mismatch",
            p12_keystore::PrivateKey::from_der(&pkcs8).expect("key"),
            [p12_keystore::Certificate::from_der(&cert).expect("cert")],
        )),
    );
    store.writer(PASSWORD).write().expect("written")
}

/// The subjects of the signer's certificate and of every certificate in the first signature's
/// CMS of `pdf`.
fn first_signature(pdf: &[u8]) -> (String, Vec<String>) {
    let contents = signature_contents(pdf);
    let cms = pdf_sign::cms::ParsedCms::parse(&contents[0]).expect("CMS");
    let signer = cms
        .signer_certificate()
        .expect("signer")
        .tbs_certificate
        .subject
        .to_string();
    let all = cms
        .certificates
        .iter()
        .map(|c| c.tbs_certificate.subject.to_string())
        .collect();
    (signer, all)
}

/// `pdf` passes the validators at B-LTA with revocation trusting `roots`, and `inkan verify`
/// names the outside chain for its first signature; the verify report.
fn assert_valid(pdf: &[u8], roots: &[&Path], signatures: usize, what: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(format!("{what}.pdf"));
    std::fs::write(&path, pdf).expect("write");
    let second = roots[1].display().to_string();
    let count = signatures.to_string();
    let (valid, verdict) = validate_with(
        &path,
        roots[0].to_str().expect("root"),
        &[
            "--trust",
            &second,
            "--level",
            "B-LTA",
            "--revocation",
            "--signatures",
            &count,
        ],
    );
    assert!(valid, "{what}: {verdict}");
    let out = inkan(&[
        "verify",
        path.to_str().expect("path"),
        "--trust",
        roots[0].to_str().expect("root"),
        "--trust",
        &second,
        "--json",
    ]);
    assert!(out.status.success(), "{what}: {}", text(&out));
    let report = json_of(&out);
    let chain: Vec<&str> = report["signatures"][0]["chain"]
        .as_array()
        .expect("chain")
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    for name in ["外部 花子", "Outside Test Issuing CA", "Outside Test Root"] {
        assert!(
            chain.iter().any(|c| c.contains(name)),
            "{what}: {name} in {chain:?}"
        );
    }
    report
}

fn a_signer_imports_a_pkcs12_and_signs_with_its_chain(backend: Backend) {
    let pki = outside_pki();
    let pki = pki.path();
    let Some((service, ca)) = service_with_ca(backend) else {
        return;
    };
    let inkan_root = ca.path().join("ca/root.pem");
    let outside_root = pki.join("root.pem");
    let roots = [outside_root.as_path(), inkan_root.as_path()];
    let p12 = std::fs::read(pki.join("signer.p12")).expect("p12");
    let mut admin = service.admin();
    let (signer_id, mut signer) =
        service.user(&mut admin, "gaibu@example.jp", &["signer"], "Gaibu2026x");
    let (_, mut agent) = service.user(
        &mut admin,
        "agent@example.jp",
        &["transaction_agent"],
        "Agent2026x",
    );
    let me = "/api/me/certificate/imports";

    // Without a signing PIN there is nothing to seal the key to.
    let a = import(&mut signer, me, &p12, PASSWORD);
    assert_eq!(
        (a.status, a.code()),
        (400, "p12_pin_required"),
        "{:?}",
        a.body
    );
    let a = signer.call(
        "PUT",
        "/api/me/pin",
        Some(&json!({ "pin": PIN, "confirm": PIN })),
    );
    assert_eq!(a.status, 200, "{:?}", a.body);

    // Every bad file, refused by its field with its reason; nothing stored.
    let mismatched = mismatched_p12(&pki.join("expired.key"), &pki.join("signer.pem"));
    let large = vec![0x30u8; 70 * 1024];
    let cases: Vec<(&str, Vec<u8>, &str, &str, &str)> = vec![
        (
            "wrong password",
            p12.clone(),
            "wrong",
            "password",
            "p12_password",
        ),
        (
            "a PDF",
            minimal_pdf("not a key"),
            PASSWORD,
            "file",
            "p12_not_pkcs12",
        ),
        (
            "a PEM certificate",
            std::fs::read(pki.join("signer.pem")).expect("pem"),
            PASSWORD,
            "file",
            "p12_not_pkcs12",
        ),
        (
            "no key",
            std::fs::read(pki.join("nokey.p12")).expect("p12"),
            PASSWORD,
            "file",
            "p12_no_key",
        ),
        (
            "expired",
            std::fs::read(pki.join("expired.p12")).expect("p12"),
            PASSWORD,
            "file",
            "p12_expired",
        ),
        (
            "another key",
            mismatched,
            PASSWORD,
            "file",
            "p12_key_mismatch",
        ),
        ("70 KB", large, PASSWORD, "file", "p12_too_large"),
        ("no file", Vec::new(), PASSWORD, "file", "required"),
    ];
    for (what, file, password, field, code) in &cases {
        let a = import(&mut signer, me, file, password);
        assert_eq!(a.status, 400, "{what}: {:?}", a.body);
        assert_eq!(a.field(field), *code, "{what}: {:?}", a.body);
        assert!(
            !a.body["fields"][field]["message"]
                .as_str()
                .unwrap_or_default()
                .is_empty(),
            "{what}"
        );
    }
    assert_eq!(traces(&service), (0, 0, 0), "nothing stored");
    // A transaction agent holds no certificate.
    let a = import(&mut agent, me, &p12, PASSWORD);
    assert_eq!(
        (a.status, a.code()),
        (400, "agent_simple_only"),
        "{:?}",
        a.body
    );
    // The profile's form says it in Japanese next to the field, and the password is not shown.
    let csrf = signer.csrf.clone().expect("csrf");
    let body = multipart_form(
        &[("csrf", &csrf), ("password", "wrong-password")],
        &[("file", "証明書.p12", &p12)],
    );
    let a = signer.raw(
        "POST",
        "/certificate/import",
        Some(&body),
        Some(&multipart_type()),
    );
    assert_eq!(a.status, 400, "{}", a.text);
    assert!(
        a.text
            .contains("id=\"p12-password-error\">パスワードが正しくないため、ファイルを開けません"),
        "{}",
        a.text
    );
    assert!(!a.text.contains("wrong-password"));
    assert_eq!(traces(&service), (0, 0, 0), "nothing stored");

    // The file imports: its certificate, with the issuer, on the profile and in the API.
    let a = import(&mut signer, me, &p12, PASSWORD);
    assert_eq!(a.status, 201, "{:?}", a.body);
    let serial = a.body["serial"].as_str().expect("serial").to_owned();
    assert!(a.body["subject"]
        .as_str()
        .is_some_and(|s| s.contains("外部 花子")));
    assert!(a.body["issuer"]
        .as_str()
        .is_some_and(|s| s.contains("Outside Test Issuing CA")));
    assert_eq!(a.body["status"], "active");
    assert_eq!(traces(&service), (1, 1, 1));
    let status = signer.get("/api/me/certificate").body;
    assert_eq!(status["imported"][0]["serial"], serial.as_str(), "{status}");
    let profile = signer.get("/profile").text;
    assert!(
        profile.contains(&format!("id=\"imported-{serial}\"")) && profile.contains("外部 花子"),
        "{profile}"
    );
    // The password is nowhere in the database (nor is the key unsealed).
    for table in ["imported_certificates", "ca_certificates", "audit_log"] {
        let found = service.app.db.with_conn(move |c| {
            Box::pin(async move {
                use sqlx::Row;
                let rows = sqlx::query(&format!("SELECT * FROM {table}"))
                    .fetch_all(c)
                    .await?;
                Ok(rows.iter().any(|r| {
                    (0..r.len()).any(|i| {
                        r.try_get::<String, _>(i)
                            .is_ok_and(|v| v.contains(PASSWORD))
                    })
                }))
            })
        });
        assert!(!found, "the password in {table}");
    }
    let a = import(&mut signer, me, &p12, PASSWORD);
    assert_eq!(
        (a.status, a.field("file")),
        (409, "p12_duplicate"),
        "{:?}",
        a.body
    );

    // /api/me/sign at B-LTA signs with it: the chain from the file is in the CMS, the outside
    // chain's revocation data in the DSS, and both validators and `inkan verify` accept it.
    signer.headers = vec![("X-Inkan-Signing-Pin".into(), PIN.into())];
    let pdf = minimal_pdf("Imported");
    let a = signer.raw("POST", "/api/me/sign", Some(&pdf), Some("application/pdf"));
    signer.headers.clear();
    assert_eq!(a.status, 200, "{}", a.text);
    let (by, carried) = first_signature(&a.bytes);
    assert!(by.contains("外部 花子"), "{by}");
    for name in ["Outside Test Issuing CA", "Outside Test Root"] {
        assert!(
            carried.iter().any(|c| c.contains(name)),
            "{name} in {carried:?}"
        );
    }
    let report = assert_valid(&a.bytes, &roots, 1, "self-signed");
    assert_eq!(report["status"], "valid", "{report}");
    // Without the PIN it does not sign.
    let a = signer.raw("POST", "/api/me/sign", Some(&pdf), Some("application/pdf"));
    assert_eq!(
        (a.status, a.field("pin")),
        (400, "pin_required"),
        "{:?}",
        a.body
    );

    // A contract's certificate signature (当事者型) uses it too.
    let (_, mut manager) = service.user(
        &mut admin,
        "dm@example.jp",
        &["document_manager"],
        "Manager2026x",
    );
    let id = manager.draft("外部証明書契約");
    let a = manager.raw(
        "POST",
        &format!("/api/contracts/{id}/documents?name=contract.pdf"),
        Some(&minimal_pdf("Contract")),
        Some("application/pdf"),
    );
    assert_eq!(a.status, 201, "{:?}", a.body);
    let document = a.body["id"].as_str().expect("document").to_owned();
    let a = manager.post(
        &format!("/api/contracts/{id}/parties"),
        json!({ "role": "signer", "step": 1, "signature_kind": "certificate",
                "email": "gaibu@example.jp" }),
    );
    assert_eq!(a.status, 201, "{:?}", a.body);
    let a = manager.post(
        &format!("/api/contracts/{id}/fields"),
        json!({ "document": document, "party": a.body["id"], "kind": "signature", "page": 1,
                "x": 60, "y": 80, "width": 160, "height": 60 }),
    );
    assert_eq!(a.status, 201, "{:?}", a.body);
    let a = manager.post(&format!("/api/contracts/{id}/send"), json!({}));
    assert_eq!(a.status, 200, "{:?}", a.body);
    let token = link_token(
        &service,
        "gaibu@example.jp",
        "【署名依頼】外部証明書契約（Inkan）",
    );
    let a = signer.post(&format!("/api/party/{token}/sign"), json!({ "pin": PIN }));
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["status"], "done", "{:?}", a.body);
    wait_for_status(&mut manager, &id, "completed");
    let signed = manager.get(&format!("/api/contracts/{id}/documents/{document}/pdf"));
    let (by, _) = first_signature(&signed.bytes);
    assert!(by.contains("外部 花子"), "{by}");
    assert_valid(&signed.bytes, &roots, 1, "contract");

    // An administrator removes it (the audit names who): it signs no more.
    let a = admin.delete(&format!(
        "/api/users/{signer_id}/certificate/imports/{serial}"
    ));
    assert_eq!(a.status, 204, "{:?}", a.body);
    let status = signer.get("/api/me/certificate").body;
    assert_eq!(status["imported"][0]["status"], "removed", "{status}");
    signer.headers = vec![("X-Inkan-Signing-Pin".into(), PIN.into())];
    let a = signer.raw("POST", "/api/me/sign", Some(&pdf), Some("application/pdf"));
    assert_eq!(
        (a.status, a.code()),
        (400, "no_certificate"),
        "{:?}",
        a.body
    );
    // Imported again, then lost with a PIN reset.
    let a = import(&mut signer, me, &p12, PASSWORD);
    assert_eq!(a.status, 201, "{:?}", a.body);
    let a = signer.raw("POST", "/api/me/sign", Some(&pdf), Some("application/pdf"));
    assert_eq!(a.status, 200, "{}", a.text);
    signer.headers.clear();
    let a = admin.post(&format!("/api/users/{signer_id}/pin/reset"), json!({}));
    assert_eq!(a.status, 200, "{:?}", a.body);
    let status = signer.get("/api/me/certificate").body;
    assert_eq!(status["imported"][0]["status"], "removed", "{status}");
    let audit = admin.get("/api/audit").text;
    for action in [
        "certificate.imported",
        "certificate.import_removed",
        "pin.reset",
    ] {
        assert!(audit.contains(action), "{action}: {audit}");
    }
}

#[test]
fn a_signer_imports_a_pkcs12_and_signs_with_its_chain_on_sqlite() {
    a_signer_imports_a_pkcs12_and_signs_with_its_chain(Backend::Sqlite);
}

#[test]
fn a_signer_imports_a_pkcs12_and_signs_with_its_chain_on_postgres() {
    a_signer_imports_a_pkcs12_and_signs_with_its_chain(Backend::Postgres);
}

/// In Chromium: a signer with a PIN opens 「他の認証局の電子証明書を取り込む」 on the profile, is
/// told next to the field that the password is wrong (the file is not kept), imports the file,
/// sees the certificate with its issuer, and removes it.
#[test]
fn ui_a_signer_imports_a_certificate_on_the_profile_and_removes_it() {
    let pki = outside_pki();
    let pki = pki.path();
    let Some((service, _ca)) = service_with_ca(Backend::Sqlite) else {
        return;
    };
    let Some(browser) = crate::browser::Browser::start("ui_import") else {
        return;
    };
    let base = &service.app.base;
    let mut admin = service.admin();
    let (_, mut signer) = service.user(&mut admin, "gaibu@example.jp", &["signer"], "Gaibu2026x");
    let a = signer.call(
        "PUT",
        "/api/me/pin",
        Some(&json!({ "pin": PIN, "confirm": PIN })),
    );
    assert_eq!(a.status, 200, "{:?}", a.body);
    browser.login(base, "gaibu@example.jp", "Gaibu2026x");
    browser.goto(&format!("{base}/profile"));
    browser.click("#import summary");
    browser.wait_for("#import-form #p12-file");
    assert!(!browser.exists("#import-needs-pin"), "the PIN is set");
    browser.screenshot("import-form");

    browser.choose_file("#p12-file", &pki.join("signer.p12"));
    browser.fill("#p12-password", "not-the-password");
    browser.submit("#import-form");
    browser.wait_for("#p12-password-error");
    assert_eq!(
        browser.text("#p12-password-error"),
        "パスワードが正しくないため、ファイルを開けません"
    );
    assert!(browser.exists("#import[open]"), "the form stays open");
    assert_eq!(
        browser.value("#p12-password"),
        "",
        "the password is not sent back"
    );
    browser.screenshot("import-wrong-password");

    browser.choose_file("#p12-file", &pki.join("signer.p12"));
    browser.fill("#p12-password", PASSWORD);
    browser.submit("#import-form");
    browser.wait_for("#imported .imported-card");
    assert!(browser
        .text(".flash")
        .contains("電子証明書を取り込みました"));
    assert!(browser
        .text("#imported .cert-subject")
        .contains("外部 花子"));
    assert!(browser
        .text("#imported .cert-issuer")
        .contains("Outside Test Issuing CA"));
    assert_eq!(browser.text("#imported .cert-status"), "有効");
    browser.screenshot("imported");

    browser.submit("form.remove-import");
    browser.wait_for(".flash");
    assert!(browser
        .text(".flash")
        .contains("取り込んだ電子証明書を削除しました"));
    assert_eq!(browser.text("#imported .cert-status"), "削除済み");
    assert!(!browser.exists("form.remove-import"));
}
