//! The signing-certificate lifecycle through the real server with Inkan's CA mounted, on SQLite
//! and PostgreSQL, with the emails delivered to a real SMTP server on loopback: a signer's bad
//! applicant forms (each with its message, nothing stored), the double-submitted order (one
//! order, one charge), the application email, the operator's identity check, issuance with
//! exactly the applicant's data (read back with `openssl x509 -text`), the issuance email, the
//! profile status and the billing ledger as CSV.

use std::process::Command;

use serde_json::json;

use crate::serve::Backend;
use crate::service::{applicant_form, labelled, set_clock, Service};
use crate::support::{inkan, ok};

/// A CA folder made by `inkan ca init` whose URLs (OCSP, CRL, TSA) name the service, and the
/// service serving it on that port.
pub fn service_with_ca(backend: Backend) -> Option<(Service, tempfile::TempDir)> {
    service_with_ca_env(backend, &[])
}

/// [`service_with_ca`] with more environment for the server.
pub fn service_with_ca_env(
    backend: Backend,
    env: &[(&str, &str)],
) -> Option<(Service, tempfile::TempDir)> {
    service_with_named_ca(backend, "Inkan Test CA", env)
}

/// [`service_with_ca_env`] with a CA named after `org` (its certificates' O and CNs).
pub fn service_with_named_ca(
    backend: Backend,
    org: &str,
    env: &[(&str, &str)],
) -> Option<(Service, tempfile::TempDir)> {
    let ca = tempfile::tempdir().expect("tempdir");
    let dir = ca.path().join("ca");
    let port = crate::email::free_port();
    ok(inkan(&[
        "ca",
        "init",
        "--dir",
        dir.to_str().expect("dir"),
        "--org",
        org,
        "--base-url",
        &format!("http://127.0.0.1:{port}"),
    ]));
    let dir = dir.display().to_string();
    let listen = format!("127.0.0.1:{port}");
    let mut all = vec![
        ("INKAN_CA_DIR", dir.as_str()),
        ("INKAN_LISTEN", listen.as_str()),
    ];
    all.extend_from_slice(env);
    let service = Service::start_with(backend, &all)?;
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
        ("email", "yamada@", "email_domain"),
        ("email", "yamada@example..jp", "email_domain"),
        ("email", "山田@example.jp", "email_ascii"),
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
    // One rule for accounts and applications: the first administrator's kind of address
    // (`admin@localhost`) is accepted by both.
    let mut form = applicant_form(1);
    form["email"] = json!("someone@localhost");
    let a = signer.post("/api/me/certificate/check", form);
    assert_eq!(a.status, 200, "{:?}", a.body);
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

    // Not yet approved: signing is refused, saying why.
    let pdf = crate::support::minimal_pdf("Keiyakusho");
    let a = signer.raw("POST", "/api/me/sign", Some(&pdf), Some("application/pdf"));
    assert_eq!(
        (a.status, a.code()),
        (400, "certificate_pending"),
        "{}",
        a.text
    );
    let a = agent.raw("POST", "/api/me/sign", Some(&pdf), Some("application/pdf"));
    assert_eq!(
        a.status, 403,
        "a transaction agent never makes a certificate signature"
    );

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

    // The signer signs a PDF through the service: visible, B-LTA with Inkan's timestamp and
    // revocation data; the independent validators accept it, revocation checked against the
    // CA's responder served by the same server.
    let a = signer.raw(
        "POST",
        "/api/me/sign?visible=1,350,60,200,80&reason=%E5%A5%91%E7%B4%84%E7%B7%A0%E7%B5%90",
        Some(&pdf),
        Some("application/pdf"),
    );
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(a.bytes.starts_with(b"%PDF-"));
    let signed = dir.path().join("signed.pdf");
    std::fs::write(&signed, &a.bytes).expect("write");
    let root = _ca.path().join("ca/root.pem");
    let root = root.to_str().expect("root");
    let (valid, verdict) =
        crate::support::validate_with(&signed, root, &["--level", "B-LTA", "--revocation"]);
    assert!(valid, "{verdict}");
    let out = inkan(&[
        "verify",
        signed.to_str().expect("path"),
        "--trust",
        root,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", crate::support::text(&out));
    let report = crate::support::json(&out);
    assert!(
        report["signatures"][0]["signer"]
            .to_string()
            .contains("Yamada Taro"),
        "{report}"
    );
    // The visible signature shows the default 電子署名 seal (no seal registered): red pixels
    // inside the signature rectangle of the rendered page, and the page's text still there.
    let (inside, outside) = red_pixels(&signed, (350.0, 60.0, 200.0, 80.0));
    assert!(
        inside > 500,
        "the seal's red in the signature rectangle: {inside}"
    );
    assert_eq!(outside, 0, "no red elsewhere on the page");

    // The same through the web form (multipart upload, download).
    let boundary = "inkanboundary7MA4YWxkTrZu0gW";
    let mut form = Vec::new();
    let csrf = signer.csrf.clone().expect("csrf");
    for (name, value) in [("csrf", csrf.as_str()), ("level", "B-LT"), ("visible", "")] {
        form.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    form.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"pdf\"; \
             filename=\"keiyaku.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
        )
        .as_bytes(),
    );
    form.extend_from_slice(&pdf);
    form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let a = signer.raw(
        "POST",
        "/sign",
        Some(&form),
        Some(&format!("multipart/form-data; boundary={boundary}")),
    );
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(a.bytes.starts_with(b"%PDF-"));
    let from_form = dir.path().join("from-form.pdf");
    std::fs::write(&from_form, &a.bytes).expect("write");
    let out = inkan(&["verify", from_form.to_str().expect("path"), "--trust", root]);
    assert_eq!(out.status.code(), Some(0), "{}", crate::support::text(&out));

    // Bad requests: not a PDF, an unknown level, a bad placement.
    let a = signer.raw(
        "POST",
        "/api/me/sign",
        Some(b"hello"),
        Some("application/pdf"),
    );
    assert_eq!((a.status, a.code()), (400, "pdf"), "{}", a.text);
    let a = signer.raw(
        "POST",
        "/api/me/sign?level=B-B",
        Some(&pdf),
        Some("application/pdf"),
    );
    assert_eq!((a.status, a.field("level")), (400, "level"), "{}", a.text);
    let a = signer.raw(
        "POST",
        "/api/me/sign?visible=0,1,2",
        Some(&pdf),
        Some("application/pdf"),
    );
    assert_eq!(
        (a.status, a.field("visible")),
        (400, "placement"),
        "{}",
        a.text
    );
    let actions = count(
        &service,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'document.signed'",
    );
    assert_eq!(actions, 2);

    // A rejected application: the reason is required and mailed; the charge is refunded.
    let (_, mut other) = service.user(&mut admin, "sato@example.jp", &["signer"], "Sato2026xx");
    other.headers = vec![("Idempotency-Key".into(), "sato-order-1".into())];
    let a = other.post("/api/me/certificate/orders", applicant_form(2));
    other.headers.clear();
    assert_eq!(a.status, 201, "{:?}", a.body);
    let rejected_order = a.body["order_id"].as_str().expect("order").to_owned();
    let a = op.post(
        &format!("/api/identity-checks/{rejected_order}/reject"),
        json!({ "method": "電話" }),
    );
    assert_eq!((a.status, a.field("reason")), (400, "required"));
    let a = op.post(
        &format!("/api/identity-checks/{rejected_order}/reject"),
        json!({ "method": "電話", "reason": "登録の電話番号に本人が不在" }),
    );
    assert_eq!(a.status, 204, "{:?}", a.body);
    let mail = service.mail_to(
        "applicant2@example.jp",
        "電子証明書お申込みについてのお知らせ",
    );
    assert!(mail["body"]
        .as_str()
        .expect("body")
        .contains("登録の電話番号に本人が不在"));
    let s = other.get("/api/me/certificate").body;
    assert_eq!(s["applications"][0]["status"], "rejected");
    assert_eq!(s["can_apply"], true, "a rejected application is closed");

    // An administrator sees the signer's certificate from user management (詳細).
    let signer_id = signer.get("/api/me").body["user"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let seen = admin.get(&format!("/api/users/{signer_id}/certificate"));
    assert_eq!(seen.status, 200);
    assert_eq!(seen.body["certificates"][0]["status"], "active");

    // The billing ledger, for administrators, as JSON and CSV.
    let ledger = admin.get("/api/billing");
    assert_eq!(ledger.status, 200);
    assert_eq!(
        ledger.body.as_array().map(Vec::len),
        Some(3),
        "{:?}",
        ledger.body
    );
    let refund = ledger
        .body
        .as_array()
        .expect("ledger")
        .iter()
        .find(|c| c["kind"] == "refund")
        .cloned();
    assert_eq!(
        refund.map(|r| (r["order_id"].clone(), r["amount_jpy"].clone())),
        Some((json!(rejected_order), json!(-8000)))
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

/// Renders page 1 of `pdf` at 72 dpi with pdftoppm and counts clearly red pixels inside and
/// outside `rect` (x, y, width, height in PDF points from the bottom left).
pub fn red_pixels(pdf: &std::path::Path, rect: (f64, f64, f64, f64)) -> (usize, usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = dir.path().join("page");
    let out = Command::new("pdftoppm")
        .args(["-r", "72", "-png", "-f", "1", "-l", "1", "-singlefile"])
        .arg(pdf)
        .arg(&prefix)
        .output()
        .expect("pdftoppm runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = std::fs::File::open(prefix.with_extension("png")).expect("rendered page");
    let mut reader = png::Decoder::new(file).read_info().expect("png");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("frame");
    let channels = info.line_size / info.width as usize;
    let height = f64::from(info.height);
    let (x0, y0, w, h) = rect;
    let (mut inside, mut outside) = (0, 0);
    for py in 0..info.height as usize {
        for px in 0..info.width as usize {
            let i = py * info.line_size + px * channels;
            let (r, g, b) = (buf[i], buf[i + 1], buf[i + 2]);
            if r > 150 && g < 110 && b < 110 {
                let (x, y) = (px as f64 + 0.5, height - py as f64 - 0.5);
                if x >= x0 - 1.0 && x <= x0 + w + 1.0 && y >= y0 - 1.0 && y <= y0 + h + 1.0 {
                    inside += 1;
                } else {
                    outside += 1;
                }
            }
        }
    }
    (inside, outside)
}

/// Three calendar months before `not_after`, in Japan time (computed here independently).
fn three_months_before(not_after: i64) -> i64 {
    use chrono::{Months, TimeZone};
    let jst = chrono::FixedOffset::east_opt(9 * 3600).expect("offset");
    let t = jst.timestamp_opt(not_after, 0).single().expect("time");
    (t - Months::new(3)).timestamp()
}

/// Applies as `signer` and has the operator approve; returns the certificate's serial.
pub fn issue(
    signer: &mut crate::service::Api,
    op: &mut crate::service::Api,
    key: &str,
    n: usize,
) -> (String, i64) {
    signer.headers = vec![("Idempotency-Key".into(), key.into())];
    let a = signer.post("/api/me/certificate/orders", applicant_form(n));
    signer.headers.clear();
    assert_eq!(a.status, 201, "{:?}", a.body);
    let order = a.body["order_id"].as_str().expect("order").to_owned();
    let a = op.post(
        &format!("/api/identity-checks/{order}/approve"),
        json!({ "method": "電話" }),
    );
    assert_eq!(a.status, 201, "{:?}", a.body);
    (
        a.body["serial"].as_str().expect("serial").to_owned(),
        a.body["not_after"].as_i64().expect("not_after"),
    )
}

fn renewal_count(service: &Service) -> (i64, usize) {
    let queued = count(
        service,
        "SELECT COUNT(*) FROM outbox WHERE subject = '【Inkan】電子証明書更新のお知らせ'",
    );
    let delivered = service
        .smtp
        .messages()
        .iter()
        .filter(|m| m["subject"] == "電子証明書更新のお知らせ")
        .count();
    (queued, delivered)
}

/// The renewal reminder goes out exactly once, three months before expiry, with two `inkan
/// serve` processes on one PostgreSQL database and one of them restarted; the clock is moved, not
/// waited for. Then 「更新する」 and 「変更する」 each make a new order and, once approved, the new
/// certificate takes over (the renewed one superseded, the changed one revoked).
#[test]
fn renewal_reminder_is_sent_once_by_two_servers_then_renewal_and_change_take_over() {
    let clock_dir = tempfile::tempdir().expect("tempdir");
    let clock = clock_dir.path().join("offset");
    set_clock(&clock, 0);
    let clock_env = clock.display().to_string();
    let ca = tempfile::tempdir().expect("tempdir");
    let ca_dir = ca.path().join("ca");
    ok(inkan(&[
        "ca",
        "init",
        "--dir",
        ca_dir.to_str().expect("dir"),
        "--org",
        "Inkan Test CA",
        "--base-url",
        "http://127.0.0.1:9",
    ]));
    let ca_env = ca_dir.display().to_string();
    let env = [
        ("INKAN_CA_DIR", ca_env.as_str()),
        ("INKAN_TEST_CLOCK_FILE", clock_env.as_str()),
        ("INKAN_SCHEDULER_SECONDS", "1"),
    ];
    let Some(service) = Service::start_with(Backend::Postgres, &env) else {
        return;
    };
    let start_second = || service.start_another(&env);
    let second = start_second();
    let mut admin = service.admin();
    let (_, mut signer) = service.user(&mut admin, "yamada@example.jp", &["signer"], "Yamada2026x");
    let mut op = service.operator();
    let (serial, not_after) = issue(&mut signer, &mut op, "first-order-key", 7);
    let from = three_months_before(not_after);
    let real_now = chrono::Utc::now().timestamp();

    // A day before: nothing, and renewal is not open yet.
    set_clock(&clock, from - 86400 - real_now);
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(renewal_count(&service), (0, 0));
    let mut signer = service.api();
    signer.login("yamada@example.jp", "Yamada2026x");
    signer.headers = vec![("Idempotency-Key".into(), "renewal-key-1".into())];
    let a = signer.post("/api/me/certificate/renewals", json!({ "serial": serial }));
    assert_eq!(
        (a.status, a.code()),
        (400, "renewal_not_yet"),
        "{:?}",
        a.body
    );
    let early = signer.get(&format!("/certificate/renew?serial={serial}"));
    assert_eq!(early.status, 400, "the confirmation is not shown either");

    // From the date: exactly one reminder, whichever process finds it first.
    set_clock(&clock, from + 60 - real_now);
    let started = std::time::Instant::now();
    while renewal_count(&service).1 == 0 {
        assert!(started.elapsed().as_secs() < 30, "no renewal reminder");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(renewal_count(&service), (1, 1));
    // A restarted process does not send it again.
    drop(second);
    let _second = start_second();
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(renewal_count(&service), (1, 1));
    let mail = service.mail_to("applicant7@example.jp", "電子証明書更新のお知らせ");
    let body = &mail["body"].as_str().expect("body").replace("\r\n", "\n");
    let jst = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .expect("time")
            .with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).expect("offset"))
            .format("%Y/%m/%d %H:%M:%S")
            .to_string()
    };
    assert!(
        body.starts_with("株式会社印鑑テスト 山田 太郎 様\n"),
        "{body}"
    );
    assert!(
        body.contains("尚、本手続きには費用が発生します(1 年間 8,000円、税抜"),
        "{body}"
    );
    assert_eq!(labelled(body, "会社名:"), "株式会社印鑑テスト");
    assert!(labelled(body, "氏名:").starts_with("山田 太郎"), "{body}");
    assert_eq!(labelled(body, "有効期限:"), jst(not_after));
    assert_eq!(labelled(body, "更新手続き開始日:"), jst(from));

    // 「更新する」 on the profile opens a confirmation with the price, the tax and the total;
    // looking at it orders and charges nothing. (The clock moved a day: log in again.)
    let mut signer = service.api();
    signer.login("yamada@example.jp", "Yamada2026x");
    let applications = "SELECT COUNT(*) FROM certificate_applications";
    let before = (
        count(&service, applications),
        count(&service, "SELECT COUNT(*) FROM billing_ledger"),
    );
    let profile = signer.get("/profile");
    let link = format!("/certificate/renew?serial={serial}");
    assert!(
        profile.text.contains(&format!("href=\"{link}\"")),
        "{}",
        profile.text
    );
    let confirm = signer.get(&link);
    assert_eq!(confirm.status, 200, "{}", confirm.text);
    for shown in [
        "8,000円 &#x2f; 年(税抜)",
        ">800円<",
        ">8,800円<",
        "本手続きには費用が発生します",
        "action=\"/certificate/renew\"",
        &format!("name=\"serial\" value=\"{serial}\""),
        "Yamada Taro",
    ] {
        assert!(confirm.text.contains(shown), "{shown}: {}", confirm.text);
    }
    assert_eq!(
        (
            count(&service, applications),
            count(&service, "SELECT COUNT(*) FROM billing_ledger")
        ),
        before,
        "nothing ordered or charged before 「お申込み」"
    );

    // 「お申込み」: a new order, a new charge; approved, the new certificate takes over.
    signer.headers = vec![("Idempotency-Key".into(), "renewal-key-1".into())];
    let a = signer.post("/api/me/certificate/renewals", json!({ "serial": serial }));
    assert_eq!(a.status, 201, "{:?}", a.body);
    assert_eq!(a.body["kind"], "renewal");
    let again = signer.post("/api/me/certificate/renewals", json!({ "serial": serial }));
    assert_eq!(
        (again.status, again.body["order_id"].clone()),
        (200, a.body["order_id"].clone())
    );
    signer.headers.clear();
    let order = a.body["order_id"].as_str().expect("order").to_owned();
    let mut op = service.operator_again();
    let renewed = op.post(
        &format!("/api/identity-checks/{order}/approve"),
        json!({ "method": "電話" }),
    );
    assert_eq!(renewed.status, 201, "{:?}", renewed.body);
    let renewed_serial = renewed.body["serial"].as_str().expect("serial").to_owned();
    assert_ne!(renewed_serial, serial);
    assert_eq!(
        count(
            &service,
            "SELECT COUNT(*) FROM billing_ledger WHERE kind = 'charge'"
        ),
        2
    );
    let status = signer.get("/api/me/certificate").body;
    let by_serial = |s: &str| {
        status["certificates"]
            .as_array()
            .expect("certificates")
            .iter()
            .find(|c| c["serial"] == s)
            .map(|c| c["status"].clone())
    };
    assert_eq!(by_serial(&renewed_serial), Some(json!("active")));
    assert_eq!(by_serial(&serial), Some(json!("superseded")));

    // 「変更する」: changed data; approved, the previous certificate is revoked.
    let mut changed = applicant_form(7);
    changed["department"] = json!("経営企画部");
    signer.headers = vec![("Idempotency-Key".into(), "change-key-1".into())];
    let a = signer.post(
        "/api/me/certificate/changes",
        json!({ "serial": renewed_serial, "applicant": changed }),
    );
    signer.headers.clear();
    assert_eq!(
        (a.status, a.body["kind"].clone()),
        (201, json!("change")),
        "{:?}",
        a.body
    );
    let order = a.body["order_id"].as_str().expect("order").to_owned();
    let issued = op.post(
        &format!("/api/identity-checks/{order}/approve"),
        json!({ "method": "電話" }),
    );
    assert_eq!(issued.status, 201, "{:?}", issued.body);
    assert!(
        issued.body["subject"]
            .as_str()
            .expect("subject")
            .contains("経営企画部"),
        "{:?}",
        issued.body
    );
    let status = signer.get("/api/me/certificate").body;
    let revoked = status["certificates"]
        .as_array()
        .expect("certificates")
        .iter()
        .find(|c| c["serial"] == renewed_serial.as_str())
        .expect("the renewed certificate")["status"]
        .clone();
    assert_eq!(revoked, "revoked");

    // Past the expiry of every certificate: signing is refused, saying why.
    let last_expiry = issued.body["not_after"].as_i64().expect("not_after");
    set_clock(&clock, last_expiry + 86400 - real_now);
    let mut signer = service.api();
    signer.login("yamada@example.jp", "Yamada2026x");
    let pdf = crate::support::minimal_pdf("Expired");
    let a = signer.raw("POST", "/api/me/sign", Some(&pdf), Some("application/pdf"));
    assert_eq!(
        (a.status, a.code()),
        (400, "certificate_expired"),
        "{}",
        a.text
    );
}
