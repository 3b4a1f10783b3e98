//! The signing PIN in headless Chromium against the real server with Inkan's CA: the signer sets
//! a PIN from the profile (field errors first), the signing screen asks for it, a change with a
//! wrong current PIN is refused, five wrong PINs lock signing (shown on the profile and the
//! signing screen), the administrator unlocks it from 詳細 and later resets it (the confirmation
//! box is required), and the signer's new PIN brings the free re-issue. Screens are saved under
//! `target/screenshots/ui_pin/`.

use serde_json::json;

use crate::browser::Browser;
use crate::lifecycle::{issue, service_with_ca};
use crate::serve::Backend;
use crate::service::ADMIN_EMAIL;
use crate::support::wait_until;
use std::time::Duration;

#[test]
fn ui_signing_pin_set_locked_unlocked_and_reset() {
    let Some((service, _ca)) = service_with_ca(Backend::Sqlite) else {
        return;
    };
    let Some(browser) = Browser::start("ui_pin") else {
        return;
    };
    let base = &service.app.base;
    let mut admin = service.admin();
    let (signer_id, mut signer) =
        service.user(&mut admin, "kato@example.jp", &["signer"], "Kato2026xx");
    let mut op = service.operator();
    issue(&mut signer, &mut op, "ui-pin-order-1", 41);

    // The signer: no PIN yet; 「編集」 opens the form, whose errors sit next to the fields.
    browser.login(base, "kato@example.jp", "Kato2026xx");
    browser.click("#me");
    browser.wait_for("#pin");
    assert_eq!(browser.text("#pin-state"), "未設定");
    browser.screenshot("profile-no-pin");
    browser.click("#pin-edit");
    browser.wait_for("#pin-form");
    assert!(!browser.exists("#current"), "no current PIN to give yet");
    browser.fill("#pin", "abc123");
    browser.fill("#confirm", "abc123");
    browser.submit("#pin-form");
    assert_eq!(
        browser.text("#pin-error"),
        "署名PINは半角英数字 8〜64 文字で入力してください"
    );
    browser.fill("#pin", "Kato2026pin");
    browser.fill("#confirm", "Kato2026pim");
    browser.submit("#pin-form");
    assert_eq!(
        browser.text("#confirm-error"),
        "確認用の署名PINが一致しません"
    );
    browser.screenshot("pin-form-errors");
    browser.fill("#pin", "Kato2026pin");
    browser.fill("#confirm", "Kato2026pin");
    browser.submit("#pin-form");
    assert_eq!(browser.text(".flash"), "署名PINを保存しました");
    assert_eq!(browser.text("#pin-state"), "設定済み");
    browser.screenshot("profile-pin-set");

    // The signing screen asks for it: without it, or with a wrong one, nothing is signed.
    let dir = tempfile::tempdir().expect("tempdir");
    let pdf = dir.path().join("contract.pdf");
    std::fs::write(&pdf, crate::support::minimal_pdf("UI PIN")).expect("write");
    browser.click("nav.side a[href='/sign']");
    browser.wait_for("#sign-form");
    assert!(browser.exists("#sign-form input#pin[type=password]"));
    browser.screenshot("sign-asks-for-pin");
    browser.choose_file("#pdf", &pdf);
    browser.wait_for("#sign-form[data-ready=true]");
    // Signed through the API from the page: no new page loads.
    browser.click("#sign-submit");
    wait_until(Duration::from_secs(10), "the refusal", || {
        browser.exists("#pin-error:not([hidden])")
    });
    assert_eq!(browser.text("#pin-error"), "署名PINを入力してください");
    // A refusal keeps the chosen file (no need to choose it again) and says how many tries
    // are left.
    browser.fill("#pin", "Wrong2026pin");
    browser.click("#sign-submit");
    wait_until(Duration::from_secs(10), "the tries left", || {
        browser.text("#pin-error").contains("あと 4 回")
    });
    assert_eq!(
        browser.text("#pin-error"),
        "署名PINが正しくありません(あと 4 回間違えると一時的にロックされます)"
    );
    assert_eq!(
        browser.script("return document.getElementById('pdf').files.length;"),
        serde_json::json!(1),
        "the file is still chosen"
    );
    browser.screenshot("sign-wrong-pin");
    assert_eq!(
        service
            .app
            .db
            .count("SELECT COUNT(*) FROM audit_log WHERE action = 'document.signed'"),
        0
    );

    // A change with a wrong current PIN is refused next to that field.
    browser.goto(&format!("{base}/pin"));
    browser.wait_for("#current");
    browser.fill("#current", "Wrong2026pin");
    browser.fill("#pin", "Kato2027pin");
    browser.fill("#confirm", "Kato2027pin");
    browser.submit("#pin-form");
    assert_eq!(browser.text("#current-error"), "署名PINが正しくありません");
    browser.screenshot("pin-change-wrong-current");

    // Three more wrong PINs (here through the API, as a script would try them) lock signing.
    for _ in 0..3 {
        signer.headers = vec![("X-Inkan-Signing-Pin".into(), "Wrong2026pin".into())];
        let pdf = crate::support::minimal_pdf("locked");
        signer.raw("POST", "/api/me/sign", Some(&pdf), Some("application/pdf"));
    }
    signer.headers.clear();
    browser.goto(&format!("{base}/profile"));
    browser.wait_for("#pin-locked");
    assert!(browser
        .text("#pin-locked")
        .starts_with("署名PINの誤入力が続いたため"));
    browser.screenshot("profile-pin-locked");
    browser.click("nav.side a[href='/sign']");
    browser.wait_for("#sign-form");
    assert!(browser.exists("#pin-locked"));
    browser.screenshot("sign-locked");
    browser.logout();

    // The administrator unlocks it from 詳細.
    browser.login(base, ADMIN_EMAIL, "Kanri2026pass");
    browser.goto(&format!("{base}/users/{signer_id}"));
    browser.wait_for("#pin-locked");
    assert_eq!(browser.text("#pin-failures"), "5");
    browser.screenshot("details-pin-locked");
    browser.submit("form[action='/pin/unlock']");
    assert_eq!(browser.text(".flash"), "署名のロックを解除しました");
    assert!(!browser.exists("#pin-locked"));
    browser.screenshot("details-unlocked");

    // The reset needs the box ticked; then the certificate is revoked and the re-issue waits.
    browser.click("#pin-reset");
    assert!(
        browser
            .current_url()
            .contains(&format!("/users/{signer_id}")),
        "the unticked box stops the form"
    );
    browser.check("#pin-reset-understood");
    browser.submit("#pin-reset-form");
    assert_eq!(
        browser.text(".flash"),
        "署名PINをリセットしました。新しいPINが設定されると証明書が無料で再発行されます"
    );
    assert_eq!(browser.text("#pin-state"), "未設定");
    assert_eq!(browser.text("#certificates .cert-status"), "失効");
    assert!(browser
        .texts("#applications .app-status")
        .contains(&"新しい署名PINの設定待ち".to_owned()));
    browser.screenshot("details-pin-reset");
    browser.logout();

    // The signer sets a new PIN: the free re-issue is issued at once.
    browser.login(base, "kato@example.jp", "Kato2026xx");
    browser.goto(&format!("{base}/pin"));
    browser.wait_for("#pin-form");
    browser.fill("#pin", "Fresh2026pin");
    browser.fill("#confirm", "Fresh2026pin");
    browser.submit("#pin-form");
    assert_eq!(browser.text(".flash"), "署名PINを保存しました");
    let statuses = browser.texts("#certificates .cert-status");
    assert!(statuses.contains(&"有効".to_owned()), "{statuses:?}");
    assert!(statuses.contains(&"失効".to_owned()), "{statuses:?}");
    assert!(!browser
        .texts("#applications .app-status")
        .contains(&"新しい署名PINの設定待ち".to_owned()));
    browser.screenshot("profile-reissued");
    let status = signer.get("/api/me/pin").body;
    assert_eq!(
        status,
        json!({ "set": true, "failures": 0, "locked_until": null })
    );
}
