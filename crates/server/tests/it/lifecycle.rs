//! The signing-certificate lifecycle through the real server with Inkan's CA mounted, on SQLite
//! and PostgreSQL, with the emails delivered to a real SMTP server on loopback: a signer's bad
//! applicant forms (each with its message, nothing stored), the double-submitted order (one
//! order, one charge), the application email, the operator's identity check, issuance with
//! exactly the applicant's data (read back with `openssl x509 -text`), the issuance email, the
//! profile status and the billing ledger as CSV.

use std::process::Command;

use serde_json::json;

use crate::serve::Backend;
use crate::service::{applicant_form, labelled, Service};
use crate::support::{inkan, ok};

/// A CA folder made by `inkan ca init`, and the service on it.
fn service_with_ca(backend: Backend) -> Option<(Service, tempfile::TempDir)> {
    let ca = tempfile::tempdir().expect("tempdir");
    let dir = ca.path().join("ca");
    ok(inkan(&[
        "ca",
        "init",
        "--dir",
        dir.to_str().expect("dir"),
        "--org",
        "Inkan Test CA",
        "--base-url",
        "http://127.0.0.1:9",
    ]));
    let dir = dir.display().to_string();
    let service = Service::start_with(backend, &[("INKAN_CA_DIR", &dir)])?;
    Some((service, ca))
}

fn count(service: &Service, sql: &'static str) -> i64 {
    service.app.db.count(sql)
}

fn a_signer_applies_is_checked_and_receives_a_certificate(backend: Backend) {
    let Some((service, _ca)) = service_with_ca(backend) else {
        return;
    };
    let mut admin = service.admin();
    let (_, mut signer) = service.user(&mut admin, "yamada@example.jp", &["signer"], "Yamada2026x");
    let (_, mut agent) = service.user(
        &mut admin,
        "agent@example.jp",
        &["transaction_agent"],
        "Agent2026x",
    );

    let status = signer.get("/api/me/certificate");
    assert_eq!(status.status, 200);
    assert_eq!(status.body["can_apply"], true);
    assert_eq!(
        (
            status.body["price_jpy"].clone(),
            status.body["tax_jpy"].clone()
        ),
        (json!(8000), json!(800))
    );
    // A transaction agent cannot apply, and is told why; an administrator alone neither.
    let s = agent.get("/api/me/certificate");
    assert_eq!(
        (s.body["can_apply"].clone(), s.body["reason"].clone()),
        (json!(false), json!("agent_simple_only"))
    );
    let a = agent.post("/api/me/certificate/check", applicant_form(1));
    assert_eq!((a.status, a.code()), (400, "agent_simple_only"));
    assert_eq!(
        admin
            .post("/api/me/certificate/check", applicant_form(1))
            .status,
        403
    );

    // Bad forms: every required field, a bad postal code, non-Latin romaji, an unknown
    // prefecture; each with its message, nothing stored.
    let a = signer.post("/api/me/certificate/check", json!({}));
    assert_eq!(a.status, 400);
    for field in [
        "organisation",
        "postal_code",
        "prefecture",
        "city",
        "street",
        "family_name",
        "given_name",
        "family_name_romaji",
        "given_name_romaji",
        "department",
        "phone",
        "email",
    ] {
        assert_eq!(a.field(field), "required", "{field}: {:?}", a.body);
    }
    assert_eq!(
        a.body["fields"]["postal_code"]["message"],
        "This field is required"
    );
    for (field, value, code) in [
        ("postal_code", "100-001", "postal_code"),
        ("postal_code", "abcdefg", "postal_code"),
        ("family_name_romaji", "山田", "romaji"),
        ("given_name_romaji", "Tarō", "romaji"),
        ("prefecture", "東京", "prefecture"),
        ("phone", "03-12", "phone"),
        ("email", "yamada@", "email_invalid"),
    ] {
        let mut form = applicant_form(1);
        form[field] = json!(value);
        let a = signer.post("/api/me/certificate/check", form.clone());
        assert_eq!(
            (a.status, a.field(field)),
            (400, code),
            "{field}={value}: {:?}",
            a.body
        );
        signer.headers = vec![("Idempotency-Key".into(), "bad-form-key-1".into())];
        let a = signer.post("/api/me/certificate/orders", form);
        signer.headers.clear();
        assert_eq!(
            (a.status, a.field(field)),
            (400, code),
            "order {field}={value}"
        );
    }
    assert_eq!(
        count(&service, "SELECT COUNT(*) FROM certificate_applications"),
        0
    );
    assert_eq!(count(&service, "SELECT COUNT(*) FROM billing_ledger"), 0);

    // The confirmation step shows what will be ordered and the price.
    let confirm = signer.post("/api/me/certificate/check", applicant_form(1));
    assert_eq!(confirm.status, 200, "{:?}", confirm.body);
    assert_eq!(confirm.body["common_name"], "Yamada Taro");
    assert_eq!(confirm.body["total_jpy"], 8800);

    // Double submission: the same key from two tabs at once, and a retry, make one order.
    let key = "confirm-4f1c2b9a";
    let results: Vec<(u16, serde_json::Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let mut api = signer.clone();
                api.headers = vec![("Idempotency-Key".into(), key.into())];
                s.spawn(move || {
                    let a = api.post("/api/me/certificate/orders", applicant_form(1));
                    (a.status, a.body)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let created = results.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(created, 1, "{results:?}");
    assert!(
        results.iter().all(|(s, _)| *s == 201 || *s == 200),
        "{results:?}"
    );
    let order_id = results[0].1["order_id"]
        .as_str()
        .expect("order id")
        .to_owned();
    assert!(
        results
            .iter()
            .all(|(_, b)| b["order_id"] == order_id.as_str()),
        "{results:?}"
    );
    assert!(
        order_id.starts_with("INK") && order_id.len() == 15,
        "{order_id}"
    );
    // A second application while one is open: refused.
    signer.headers = vec![("Idempotency-Key".into(), "another-tab-key".into())];
    let a = signer.post("/api/me/certificate/orders", applicant_form(1));
    signer.headers.clear();
    assert_eq!(
        (a.status, a.code()),
        (409, "application_open"),
        "{:?}",
        a.body
    );
    assert_eq!(
        count(&service, "SELECT COUNT(*) FROM certificate_applications"),
        1
    );
    assert_eq!(
        count(
            &service,
            "SELECT COUNT(*) FROM billing_ledger WHERE kind = 'charge'"
        ),
        1
    );
    assert_eq!(
        signer.get("/api/me/certificate").body["reason"],
        "application_open"
    );

    let mail = service.mail_to("applicant1@example.jp", "電子証明書申込受付のお知らせ");
    let body = mail["body"].as_str().expect("body");
    assert_eq!(labelled(body, "注文番号:"), order_id);
    assert_eq!(labelled(body, "コモンネーム:"), "Yamada Taro");

    // The operator's queue, and the check.
    let mut op = service.operator();
    let queue = op.get("/api/identity-checks");
    assert_eq!(queue.status, 200);
    assert_eq!(queue.body[0]["order_id"], order_id.as_str());
    assert_eq!(queue.body[0]["common_name"], "Yamada Taro");
    let a = op.post(
        &format!("/api/identity-checks/{order_id}/approve"),
        json!({ "method": "" }),
    );
    assert_eq!((a.status, a.field("method")), (400, "required"));
    let a = op.post(
        &format!("/api/identity-checks/{order_id}/approve"),
        json!({ "method": "電話(登録番号へ折り返し)", "note": "本人と確認" }),
    );
    assert_eq!(a.status, 201, "{:?}", a.body);
    let pem = a.body["cert_pem"].as_str().expect("pem").to_owned();
    let a2 = op.post(
        &format!("/api/identity-checks/{order_id}/approve"),
        json!({ "method": "電話" }),
    );
    assert_eq!((a2.status, a2.code()), (409, "not_pending"), "decided once");
    assert_eq!(op.get("/api/identity-checks").body, json!([]));

    // The certificate carries exactly the applicant's data; the phone and the Japanese name
    // stay in the application record.
    let dir = tempfile::tempdir().expect("tempdir");
    let pem_path = dir.path().join("cert.pem");
    std::fs::write(&pem_path, &pem).expect("write");
    let out = Command::new("openssl")
        .args([
            "x509",
            "-noout",
            "-text",
            "-nameopt",
            "utf8,sep_multiline",
            "-in",
        ])
        .arg(&pem_path)
        .output()
        .expect("openssl runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    for expected in [
        "C=JP",
        "ST=東京都",
        "L=千代田区",
        "street=千代田1-1 印鑑ビル 5F",
        "postalCode=100-0001",
        "O=株式会社印鑑テスト",
        "OU=法務部",
        "CN=Yamada Taro",
        "emailAddress=applicant1@example.jp",
        "email:applicant1@example.jp",
    ] {
        assert!(text.contains(expected), "{expected} in\n{text}");
    }
    for absent in ["03-1234-5678", "山田", "太郎"] {
        assert!(
            !text.contains(absent),
            "{absent} must not be in the certificate"
        );
    }

    let mail = service.mail_to("applicant1@example.jp", "電子証明書発行のお知らせ");
    let body = mail["body"].as_str().expect("body");
    for (label, value) in [
        ("国:", "JP"),
        ("都道府県:", "東京都"),
        ("住所:", "千代田区千代田1-1 印鑑ビル 5F"),
        ("組織:", "株式会社印鑑テスト"),
    ] {
        assert_eq!(labelled(body, label), value, "{body}");
    }
    assert!(body.contains("印影"), "the hint to register a seal: {body}");

    // The profile shows the certificate and its expiry, a year away.
    let status = signer.get("/api/me/certificate").body;
    let cert = &status["certificates"][0];
    assert_eq!(cert["status"], "active");
    let days = (cert["not_after"].as_i64().expect("not_after")
        - cert["not_before"].as_i64().expect("not_before"))
        / 86400;
    assert!((364..=366).contains(&days), "valid one year: {days} days");
    assert_eq!(status["applications"][0]["status"], "issued");

    // The billing ledger, for administrators, as JSON and CSV.
    let ledger = admin.get("/api/billing");
    assert_eq!(ledger.status, 200);
    assert_eq!(
        ledger.body.as_array().map(Vec::len),
        Some(1),
        "{:?}",
        ledger.body
    );
    assert_eq!(ledger.body[0]["amount_jpy"], 8000);
    let csv = admin.raw("GET", "/api/billing.csv", None, None);
    assert_eq!(csv.status, 200);
    assert!(
        csv.text.starts_with('\u{feff}'),
        "a BOM for spreadsheet programs"
    );
    assert!(
        csv.text
            .contains(&format!("{order_id},Inkan,charge,8000,800,8800,")),
        "{}",
        csv.text
    );
    assert_eq!(signer.get("/api/billing").status, 403);
}

#[test]
fn a_signer_applies_is_checked_and_receives_a_certificate_on_sqlite() {
    a_signer_applies_is_checked_and_receives_a_certificate(Backend::Sqlite);
}

#[test]
fn a_signer_applies_is_checked_and_receives_a_certificate_on_postgres() {
    a_signer_applies_is_checked_and_receives_a_certificate(Backend::Postgres);
}
