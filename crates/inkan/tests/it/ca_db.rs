//! Inkan's CA in the database, end to end: an identity-check approval killed (SIGKILL) after the
//! CA issued and recorded the certificate but before the transaction committed leaves the order
//! pending and the CA without the certificate; two processes with their own data folders share
//! the CA through PostgreSQL alone (issuing, OCSP, revocation, CRLs); `inkan ca import` moves a
//! CA folder into the database once.

use std::time::Duration;

use serde_json::json;

use crate::serve::{Backend, TestApp};
use crate::service::{applicant_form, Api, Service};
use crate::support::wait_until;

fn an_approval_killed_before_it_commits_leaves_the_order_pending(backend: Backend) {
    let hold = tempfile::tempdir().expect("tempdir");
    let hold_env = hold.path().display().to_string();
    let Some(mut service) =
        Service::start_with(backend, &[("INKAN_TEST_HOLD_DIR", hold_env.as_str())])
    else {
        return;
    };
    let mut admin = service.admin();
    let (_, mut signer) = service.user(&mut admin, "kill@example.jp", &["signer"], "Signer2026x");
    signer.headers = vec![("Idempotency-Key".into(), "kill-order-0001".into())];
    let ordered = signer.post("/api/me/certificate/orders", applicant_form(7));
    assert_eq!(ordered.status, 201, "{:?}", ordered.body);
    let order = ordered.body["order_id"].as_str().expect("order").to_owned();
    let op = service.operator();
    let signer_certs = "SELECT COUNT(*) FROM ca_certificates WHERE kind = 'Signer'";
    assert_eq!(service.app.db.count(signer_certs), 0);

    // The approval holds after the CA issued and the rows were written, before the commit.
    let approve = format!("/api/identity-checks/{order}/approve");
    let request = {
        let (mut op, approve) = (op, approve.clone());
        std::thread::spawn(move || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                op.post(&approve, json!({ "method": "電話", "note": "" }))
                    .status
            }))
        })
    };
    wait_until(
        Duration::from_secs(30),
        "the approval reaches its hold",
        || hold.path().join("approve.held").exists(),
    );
    service.app.kill();
    let answered = request.join().expect("thread");
    assert!(
        !matches!(answered, Ok(201)),
        "the killed approval did not succeed"
    );

    // Nothing of it committed: no certificate at the CA, none for the signer, the order queued.
    assert_eq!(service.app.db.count(signer_certs), 0);
    assert_eq!(service.app.db.count("SELECT COUNT(*) FROM certificates"), 0);
    let second = service.start_another(&[]);
    let mut op = Api::new(&second.base);
    assert_eq!(op.login("op@inkan.example", "Operator2026").status, 200);
    let queue = op.get("/api/identity-checks");
    assert!(
        queue
            .body
            .as_array()
            .expect("queue")
            .iter()
            .any(|p| p["order_id"] == json!(order)),
        "{:?}",
        queue.body
    );

    // Approved again (without the hold): exactly one certificate, and OCSP knows it.
    let a = op.post(&approve, json!({ "method": "電話", "note": "" }));
    assert_eq!(a.status, 201, "{:?}", a.body);
    assert_eq!(service.app.db.count(signer_certs), 1);
    assert_eq!(service.app.db.count("SELECT COUNT(*) FROM certificates"), 1);
    assert_eq!(
        op.post(&approve, json!({ "method": "電話", "note": "" }))
            .status,
        409
    );
    assert_eq!(service.app.db.count(signer_certs), 1);
}

#[test]
fn an_approval_killed_before_it_commits_leaves_the_order_pending_on_postgres() {
    an_approval_killed_before_it_commits_leaves_the_order_pending(Backend::Postgres);
}

#[test]
fn an_approval_killed_before_it_commits_leaves_the_order_pending_on_sqlite() {
    an_approval_killed_before_it_commits_leaves_the_order_pending(Backend::Sqlite);
}

/// What the server at `base` answers by OCSP about the certificate `pem` (issued by `issuer`).
fn ocsp_status(base: &str, pem: &str, issuer: &[u8]) -> x509_ocsp::CertStatus {
    use der::{Decode, DecodePem};
    let cert = x509_cert::Certificate::from_pem(pem.as_bytes()).expect("certificate");
    let issuer = x509_cert::Certificate::from_der(issuer).expect("issuer");
    let request = pdf_sign::ltv::ocsp_request(&cert, &issuer).expect("request");
    let mut api = Api::new(base);
    let a = api.raw(
        "POST",
        "/ocsp",
        Some(&request),
        Some("application/ocsp-request"),
    );
    assert_eq!(a.status, 200, "{}", a.text);
    let basic = pdf_sign::ltv::basic_ocsp(&a.bytes).expect("a basic response");
    basic.tbs_response_data.responses[0].cert_status
}

/// The serials (hex) the CRL at `base` lists.
fn crl_serials(base: &str) -> Vec<String> {
    use der::Decode;
    let a = Api::new(base).get("/crl");
    assert_eq!(a.status, 200);
    let crl = x509_cert::crl::CertificateList::from_der(&a.bytes).expect("a CRL");
    crl.tbs_cert_list
        .revoked_certificates
        .unwrap_or_default()
        .iter()
        .map(|r| hex::encode(r.serial_number.as_bytes()))
        .collect()
}

/// Two `inkan serve` processes with their own data folders, sharing nothing but PostgreSQL
/// (and the master key, as every host of one database is given): each issues, each answers
/// OCSP for the other's certificates, and a revocation through one is on the other's CRL and in
/// its OCSP answers at once.
#[test]
fn two_processes_share_the_ca_through_postgresql_alone() {
    use crate::lifecycle::issue;
    let Some(service) = Service::start(Backend::Postgres) else {
        return;
    };
    let other = service.start_another(&[]);
    assert_ne!(
        service.app.db.dir.path(),
        other.db.dir.path(),
        "two data folders"
    );
    let mut admin = service.admin();
    let (_, mut first) = service.user(&mut admin, "first@example.jp", &["signer"], "Signer2026x");
    let (_, mut second) = service.user(&mut admin, "second@example.jp", &["signer"], "Signer2026y");
    let mut op = service.operator();
    let mut op_other = Api::new(&other.base);
    assert_eq!(
        op_other.login("op@inkan.example", "Operator2026").status,
        200
    );
    let issuer = Api::new(&service.app.base).get("/ca.crt").bytes;
    assert_eq!(Api::new(&other.base).get("/ca.crt").bytes, issuer, "one CA");

    // One certificate issued through each process.
    let (a, _) = issue(&mut first, &mut op, "share-order-0001", 41);
    let (b, _) = issue(&mut second, &mut op_other, "share-order-0002", 42);
    let pem_of = |api: &mut Api, serial: &str| -> String {
        let status = api.get("/api/me/certificate");
        status.body["certificates"]
            .as_array()
            .expect("certificates")
            .iter()
            .find(|c| c["serial"] == serde_json::json!(serial))
            .and_then(|c| c["cert_pem"].as_str())
            .expect("the certificate")
            .to_owned()
    };
    let (pem_a, pem_b) = (pem_of(&mut first, &a), pem_of(&mut second, &b));
    for base in [&service.app.base, &other.base] {
        for pem in [&pem_a, &pem_b] {
            assert!(matches!(
                ocsp_status(base, pem, &issuer),
                x509_ocsp::CertStatus::Good(_)
            ));
        }
        assert!(crl_serials(base).is_empty());
    }

    // 「変更する」 through the first process, approved through the other: the old certificate is
    // revoked there, and the first process's CRL and OCSP say so at once.
    first.headers = vec![("Idempotency-Key".into(), "share-change-0001".into())];
    let changed = first.post(
        "/api/me/certificate/changes",
        serde_json::json!({ "serial": a, "applicant": applicant_form(43) }),
    );
    first.headers.clear();
    assert_eq!(changed.status, 201, "{:?}", changed.body);
    let order = changed.body["order_id"].as_str().expect("order");
    let approved = op_other.post(
        &format!("/api/identity-checks/{order}/approve"),
        serde_json::json!({ "method": "電話" }),
    );
    assert_eq!(approved.status, 201, "{:?}", approved.body);
    assert_eq!(crl_serials(&service.app.base), vec![a.to_lowercase()]);
    assert!(matches!(
        ocsp_status(&service.app.base, &pem_a, &issuer),
        x509_ocsp::CertStatus::Revoked(_)
    ));
    assert!(matches!(
        ocsp_status(&service.app.base, &pem_b, &issuer),
        x509_ocsp::CertStatus::Good(_)
    ));
}

/// `inkan ca import` moves a CA folder into the service's database once; the service then
/// serves that CA with no folder configured, and a second import is refused.
#[test]
fn inkan_ca_import_moves_a_folder_into_the_database_once() {
    use crate::support::{ok, run_ok, text};
    let Some(db) = crate::serve::TestDb::new(Backend::Postgres) else {
        return;
    };
    let folder = tempfile::tempdir().expect("tempdir");
    let ca_dir = folder.path().join("ca");
    let dir = ca_dir.to_str().expect("utf-8");
    ok(crate::support::inkan(&[
        "ca",
        "init",
        "--dir",
        dir,
        "--org",
        "Import KK",
        "--base-url",
        "http://127.0.0.1:9",
    ]));
    let key = std::fs::read_to_string(ca_dir.join("master.key")).expect("master key");
    let imported = run_ok(
        db.command(&["ca", "import", "--dir", dir])
            .env("INKAN_MASTER_KEY", key.trim()),
    );
    assert!(text(&imported).contains("Import KK"), "{}", text(&imported));
    let again = db
        .command(&["ca", "import", "--dir", dir])
        .env("INKAN_MASTER_KEY", key.trim())
        .output()
        .expect("runs");
    assert!(!again.status.success(), "imported once: {}", text(&again));

    let mut cmd = db.command(&["serve"]);
    cmd.env("INKAN_MASTER_KEY", key.trim());
    let app = TestApp::start(db, cmd);
    let (status, served) = app.get("/root.crt");
    assert_eq!(status, 200);
    let pem = std::fs::read_to_string(ca_dir.join("root.pem")).expect("root.pem");
    let (_, root) = der::pem::decode_vec(pem.as_bytes()).expect("PEM");
    assert_eq!(served, root, "the folder's CA, from the database");
}
