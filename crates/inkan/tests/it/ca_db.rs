//! Inkan's CA in the database, end to end: an identity-check approval killed (SIGKILL) after the
//! CA issued and recorded the certificate but before the transaction committed leaves the order
//! pending in the queue and the CA without the certificate; another process on the database
//! approves it again and issues exactly one.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::serve::{Backend, TestApp};
use crate::service::{applicant_form, Api, Service};

fn wait_until(within: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < within, "{what} within {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

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
    let shared = service.app.db.share();
    let mut cmd = shared.command(&["serve"]);
    cmd.env("INKAN_SMTP_HOST", "127.0.0.1")
        .env("INKAN_SMTP_PORT", service.smtp_port.to_string())
        .env("INKAN_SMTP_TLS", "none")
        .env("INKAN_BASE_URL", "https://sign.example.jp");
    let second = TestApp::start(shared, cmd);
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
