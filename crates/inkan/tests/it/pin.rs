//! The signing PIN through the real server with Inkan's CA mounted, on SQLite and PostgreSQL:
//! bad PINs refused with nothing stored, a first PIN taking the signer's key out of the CA's
//! key store, every signature then needing the PIN (checked by the independent validators),
//! a change needing the current PIN, the lock after five wrong PINs (also when they arrive at
//! once), its email and audit entries, an administrator's unlock, the waiting period passing
//! on a moved clock, and a forgotten PIN's reset: the certificate revoked, a free re-issue
//! issued when the new PIN is set, sealed to it.

use serde_json::json;

use crate::lifecycle::{issue, service_with_ca_env};
use crate::serve::Backend;
use crate::service::{set_clock, Api, Service};
use crate::support::minimal_pdf;

const PIN: &str = "Pin2026abc";
const NEW_PIN: &str = "Renewed2026pin";

/// The keys the CA holds, sealed under its master key (in the database since the CA moved
/// there; the folder made by `inkan ca init --dir` was imported at the first start).
fn key_files(service: &Service) -> i64 {
    service.app.db.count("SELECT COUNT(*) FROM ca_keys")
}

fn sign(api: &mut Api, pin: Option<&str>) -> crate::service::Answer {
    api.headers = pin
        .map(|p| vec![("X-Inkan-Signing-Pin".to_owned(), p.to_owned())])
        .unwrap_or_default();
    let pdf = minimal_pdf("PIN test");
    let a = api.raw(
        "POST",
        "/api/me/sign?level=B-T",
        Some(&pdf),
        Some("application/pdf"),
    );
    api.headers.clear();
    a
}

fn put_pin(api: &mut Api, path: &str, body: serde_json::Value) -> crate::service::Answer {
    api.call("PUT", path, Some(&body))
}

fn audit_count(service: &Service, sql: &'static str) -> i64 {
    service.app.db.count(sql)
}

/// A signed file passes the independent validators at B-T with revocation checked.
fn assert_valid(bytes: &[u8], ca: &tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("signed.pdf");
    std::fs::write(&path, bytes).expect("write");
    let root = ca.path().join("ca/root.pem");
    let (valid, verdict) = crate::support::validate_with(
        &path,
        root.to_str().expect("root"),
        &["--level", "B-T", "--revocation"],
    );
    assert!(valid, "{verdict}");
}

fn pin_lifecycle(backend: Backend) {
    let clock_dir = tempfile::tempdir().expect("tempdir");
    let clock = clock_dir.path().join("offset");
    set_clock(&clock, 0);
    let clock_env = clock.display().to_string();
    let Some((service, ca)) =
        service_with_ca_env(backend, &[("INKAN_TEST_CLOCK_FILE", clock_env.as_str())])
    else {
        return;
    };
    let mut admin = service.admin();
    let (signer_id, mut signer) =
        service.user(&mut admin, "pin@example.jp", &["signer"], "Signer2026x");
    let (_, mut agent) = service.user(
        &mut admin,
        "agent@example.jp",
        &["transaction_agent"],
        "Agent2026x",
    );
    let mut op = service.operator();
    let (serial, _) = issue(&mut signer, &mut op, "pin-order-key-1", 31);
    let held = key_files(&service);

    // No PIN yet: signing needs none, and the CA holds the key.
    assert_eq!(signer.get("/api/me/pin").body["set"], false);
    assert_eq!(sign(&mut signer, None).status, 200);
    assert_eq!(agent.get("/api/me/pin").status, 403);

    // Bad PINs: each refused with its field's message, nothing stored.
    for (body, field, code) in [
        (
            json!({ "pin": "abc1234", "confirm": "abc1234" }),
            "pin",
            "pin_format",
        ),
        (
            json!({ "pin": "abcd-1234", "confirm": "abcd-1234" }),
            "pin",
            "pin_format",
        ),
        (
            json!({ "pin": "ａｂｃｄ１２３４", "confirm": "ａｂｃｄ１２３４" }),
            "pin",
            "pin_format",
        ),
        (json!({ "pin": "", "confirm": "" }), "pin", "pin_format"),
        (
            json!({ "pin": PIN, "confirm": "Pin2026abd" }),
            "confirm",
            "pin_mismatch",
        ),
    ] {
        let a = put_pin(&mut signer, "/api/me/pin", body.clone());
        assert_eq!(a.status, 400, "{body}: {:?}", a.body);
        assert_eq!(
            a.body["fields"][field]["code"], code,
            "{body}: {:?}",
            a.body
        );
    }
    let a = signer.raw(
        "PUT",
        "/api/me/pin",
        Some(b"{\"pin\":"),
        Some("application/json"),
    );
    assert_eq!(a.status, 400, "{:?}", a.body);
    assert_eq!(
        audit_count(&service, "SELECT COUNT(*) FROM signing_pins"),
        0
    );

    // The first PIN: the key moves into its envelope, the CA's file is gone, and neither the
    // PIN nor anything that opens the key without it is in the database.
    let a = put_pin(
        &mut signer,
        "/api/me/pin",
        json!({ "pin": PIN, "confirm": PIN }),
    );
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["set"], true);
    let mail = service.mail_to("pin@example.jp", "署名PIN設定のお知らせ");
    assert!(
        !mail["body"].as_str().expect("body").contains("管理者 "),
        "{mail}"
    );
    assert_eq!(
        key_files(&service),
        held - 1,
        "the CA's copy of the signer key is deleted"
    );
    assert_eq!(
        audit_count(
            &service,
            "SELECT COUNT(*) FROM certificates WHERE key_envelope IS NOT NULL"
        ),
        1
    );
    assert_eq!(
        audit_count(
            &service,
            "SELECT COUNT(*) FROM signing_pins WHERE lock_json LIKE '%Pin2026abc%'"
        ),
        0
    );
    assert_eq!(
        audit_count(
            &service,
            "SELECT COUNT(*) FROM audit_log WHERE action IN ('pin.set', 'pin.keys_bound')"
        ),
        2
    );

    // Every signature now needs the PIN.
    let a = sign(&mut signer, None);
    assert_eq!(
        (a.status, a.field("pin")),
        (400, "pin_required"),
        "{:?}",
        a.body
    );
    let a = sign(&mut signer, Some("Wrong2026pin"));
    assert_eq!(
        (a.status, a.field("pin")),
        (400, "pin_wrong"),
        "{:?}",
        a.body
    );
    assert_eq!(signer.get("/api/me/pin").body["failures"], 1);
    let a = sign(&mut signer, Some(PIN));
    assert_eq!(a.status, 200, "{}", a.text);
    assert_valid(&a.bytes, &ca);
    assert_eq!(signer.get("/api/me/pin").body["failures"], 0);

    // A change needs the current PIN; the old PIN stops working, the key stays the same.
    let a = put_pin(
        &mut signer,
        "/api/me/pin",
        json!({ "pin": NEW_PIN, "confirm": NEW_PIN }),
    );
    assert_eq!(
        (a.status, a.field("current")),
        (400, "pin_current_required")
    );
    let a = put_pin(
        &mut signer,
        "/api/me/pin",
        json!({ "current": "Wrong2026pin", "pin": NEW_PIN, "confirm": NEW_PIN }),
    );
    assert_eq!(
        (a.status, a.field("current")),
        (400, "pin_wrong"),
        "{:?}",
        a.body
    );
    let a = put_pin(
        &mut signer,
        "/api/me/pin",
        json!({ "current": PIN, "pin": NEW_PIN, "confirm": NEW_PIN }),
    );
    assert_eq!(a.status, 200, "{:?}", a.body);
    service.mail_to("pin@example.jp", "署名PIN変更のお知らせ");
    assert_eq!(sign(&mut signer, Some(PIN)).field("pin"), "pin_wrong");
    let a = sign(&mut signer, Some(NEW_PIN));
    assert_eq!(a.status, 200, "{}", a.text);
    assert_valid(&a.bytes, &ca);

    // Five wrong PINs in a row lock signing, even for the right PIN; the owner is told.
    for n in 1..=4 {
        let a = sign(&mut signer, Some("Wrong2026pin"));
        assert_eq!(a.status, 400, "attempt {n}: {:?}", a.body);
    }
    let a = sign(&mut signer, Some("Wrong2026pin"));
    assert_eq!((a.status, a.code()), (423, "pin_locked"), "{:?}", a.body);
    let a = sign(&mut signer, Some(NEW_PIN));
    assert_eq!((a.status, a.code()), (423, "pin_locked"), "{:?}", a.body);
    assert!(signer.get("/api/me/pin").body["locked_until"].is_i64());
    let mail = service.mail_to("pin@example.jp", "署名PINロックのお知らせ");
    assert!(
        mail["body"].as_str().expect("body").contains("ロック"),
        "{mail}"
    );
    assert_eq!(
        audit_count(
            &service,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'pin.locked'"
        ),
        1
    );

    // Only an administrator of the organisation unlocks it.
    let a = signer.post(&format!("/api/users/{signer_id}/pin/unlock"), json!({}));
    assert_eq!(a.status, 403, "{:?}", a.body);
    let a = admin.get(&format!("/api/users/{signer_id}/pin"));
    assert!(a.body["locked_until"].is_i64(), "{:?}", a.body);
    let a = admin.post(&format!("/api/users/{signer_id}/pin/unlock"), json!({}));
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["locked_until"], serde_json::Value::Null);
    assert_eq!(sign(&mut signer, Some(NEW_PIN)).status, 200);

    // Wrong PINs arriving at once are all counted: one lock, one lock entry.
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let mut api = signer.clone();
            std::thread::spawn(move || sign(&mut api, Some("Wrong2026pin")).status)
        })
        .collect();
    let statuses: Vec<u16> = threads
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    assert!(
        statuses.iter().all(|s| *s == 400 || *s == 423),
        "{statuses:?}"
    );
    assert!(statuses.contains(&423), "{statuses:?}");
    assert_eq!(
        audit_count(
            &service,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'pin.locked'"
        ),
        2
    );
    let status = signer.get("/api/me/pin").body;
    assert!(status["locked_until"].is_i64(), "{status}");

    // The waiting period passes (the clock moves 31 minutes): signing works again.
    set_clock(&clock, 31 * 60);
    let mut signer = service.api();
    signer.login("pin@example.jp", "Signer2026x");
    assert_eq!(
        signer.get("/api/me/pin").body["locked_until"],
        serde_json::Value::Null
    );
    let a = sign(&mut signer, Some(NEW_PIN));
    assert_eq!(a.status, 200, "{}", a.text);
    let mut admin = service.api();
    admin.login(crate::service::ADMIN_EMAIL, "Kanri2026pass");

    // A forgotten PIN: the administrator resets it; the PIN-bound certificate is revoked
    // and a free re-issue waits for the new PIN.
    let a = signer.post(&format!("/api/users/{signer_id}/pin/reset"), json!({}));
    assert_eq!(a.status, 403, "{:?}", a.body);
    let a = admin.post(&format!("/api/users/{signer_id}/pin/reset"), json!({}));
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["revoked"], json!([serial]));
    let reissue = a.body["reissue_order"].as_str().expect("order").to_owned();
    let mail = service.mail_to("applicant31@example.jp", "署名PINリセットのお知らせ");
    assert!(
        mail["body"].as_str().expect("body").contains(&reissue),
        "{mail}"
    );
    let status = signer.get("/api/me/certificate").body;
    assert_eq!(status["certificates"][0]["status"], "revoked", "{status}");
    assert_eq!(signer.get("/api/me/pin").body["set"], false);
    let a = sign(&mut signer, Some(NEW_PIN));
    assert_eq!(
        (a.status, a.code()),
        (400, "certificate_revoked"),
        "{:?}",
        a.body
    );
    let a = admin.post(&format!("/api/users/{signer_id}/pin/reset"), json!({}));
    assert_eq!((a.status, a.code()), (400, "pin_not_set"), "{:?}", a.body);

    // The new PIN: the re-issue is issued at once, free, sealed to the new PIN (no key
    // file), and signs with it.
    let a = put_pin(
        &mut signer,
        "/api/me/pin",
        json!({ "pin": PIN, "confirm": PIN }),
    );
    assert_eq!(a.status, 200, "{:?}", a.body);
    let status = signer.get("/api/me/certificate").body;
    let active: Vec<_> = status["certificates"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|c| c["status"] == "active")
        .collect();
    assert_eq!(active.len(), 1, "{status}");
    assert_ne!(active[0]["serial"], json!(serial));
    let order = status["applications"]
        .as_array()
        .expect("applications")
        .iter()
        .find(|o| o["order_id"] == json!(reissue))
        .expect("the re-issue order")
        .clone();
    assert_eq!(
        (&order["kind"], &order["status"], &order["price_jpy"]),
        (&json!("reissue"), &json!("issued"), &json!(0))
    );
    assert_eq!(
        key_files(&service),
        held - 1,
        "no master-key copy of the new key"
    );
    assert_eq!(sign(&mut signer, Some(NEW_PIN)).field("pin"), "pin_wrong");
    let a = sign(&mut signer, Some(PIN));
    assert_eq!(a.status, 200, "{}", a.text);
    assert_valid(&a.bytes, &ca);
    let billing = admin.get("/api/billing").body;
    assert!(
        billing.to_string().contains(&reissue),
        "the free re-issue is in the ledger: {billing}"
    );
    assert_eq!(
        audit_count(
            &service,
            "SELECT COUNT(*) FROM audit_log WHERE action IN ('pin.reset', 'pin.unlocked', 'pin.changed')"
        ),
        3
    );
}

#[test]
fn signing_pin_guards_every_signature_locks_and_resets_on_sqlite() {
    pin_lifecycle(Backend::Sqlite);
}

#[test]
fn signing_pin_guards_every_signature_locks_and_resets_on_postgres() {
    pin_lifecycle(Backend::Postgres);
}

/// An administrator sets a signer's first PIN from 詳細; a certificate issued afterwards is
/// sealed to it from the start, and another organisation's administrator sees no such user.
#[test]
fn an_administrator_sets_a_pin_and_later_certificates_are_sealed_to_it() {
    let Some((service, ca)) = service_with_ca_env(Backend::Sqlite, &[]) else {
        return;
    };
    let mut admin = service.admin();
    let (id, mut signer) = service.user(&mut admin, "sato@example.jp", &["signer"], "Sato2026xx");
    let a = put_pin(
        &mut admin,
        &format!("/api/users/{id}/pin"),
        json!({ "pin": PIN, "confirm": PIN }),
    );
    assert_eq!(a.status, 200, "{:?}", a.body);
    let mail = service.mail_to("sato@example.jp", "署名PIN設定のお知らせ");
    assert!(
        mail["body"]
            .as_str()
            .expect("body")
            .contains("操作者: 管理者"),
        "the owner learns an administrator set it: {mail}"
    );
    let a = put_pin(
        &mut admin,
        &format!("/api/users/{id}/pin"),
        json!({ "pin": NEW_PIN, "confirm": NEW_PIN }),
    );
    assert_eq!(
        (a.status, a.field("current")),
        (400, "pin_current_required")
    );
    let before = key_files(&service);
    let mut op = service.operator();
    issue(&mut signer, &mut op, "pin-order-key-2", 32);
    assert_eq!(
        key_files(&service),
        before,
        "issued straight into the PIN's envelope"
    );
    assert_eq!(sign(&mut signer, None).field("pin"), "pin_required");
    let a = sign(&mut signer, Some(PIN));
    assert_eq!(a.status, 200, "{}", a.text);
    assert_valid(&a.bytes, &ca);

    // An administrator without the signer role has no PIN of their own.
    let a = put_pin(
        &mut admin,
        "/api/me/pin",
        json!({ "pin": PIN, "confirm": PIN }),
    );
    assert_eq!(a.status, 403, "{:?}", a.body);
    // Another organisation's administrator: no such user.
    let mut other = service.other_org_admin(&mut op);
    assert_eq!(other.get(&format!("/api/users/{id}/pin")).status, 404);
    let a = other.post(&format!("/api/users/{id}/pin/reset"), json!({}));
    assert_eq!(a.status, 404, "{:?}", a.body);
}
