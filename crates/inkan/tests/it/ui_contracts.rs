//! The contract screens in headless Chromium (minimal so far): a document manager opens 契約
//! from the menu, is told a title is required, creates a draft and lands on its page; parties and
//! a document named through the API appear there with the history; the administrator reads it.
//! Screens are saved under `target/screenshots/ui_contracts/`.

use serde_json::json;

use crate::browser::Browser;
use crate::serve::Backend;
use crate::service::{Service, ADMIN_EMAIL};

#[test]
fn ui_a_document_manager_drafts_a_contract() {
    let Some(service) = Service::start(Backend::Sqlite) else {
        return;
    };
    let Some(browser) = Browser::start("ui_contracts") else {
        return;
    };
    let base = &service.app.base;
    let mut admin = service.admin();
    let (_, mut manager) = service.user(
        &mut admin,
        "bunsho@example.jp",
        &["document_manager"],
        "Bunsho2026x",
    );
    service.user(&mut admin, "shomei@example.jp", &["signer"], "Shomei2026x");
    let login = |email: &str, password: &str| {
        browser.goto(&format!("{base}/login"));
        browser.fill("#email", email);
        browser.fill("#password", password);
        browser.submit("#login-form");
        browser.wait_for("#me");
    };

    login("bunsho@example.jp", "Bunsho2026x");
    browser.click("nav.side a[href='/contracts']");
    browser.wait_for("#contract-new");
    assert_eq!(browser.text("#contracts-none"), "契約はまだありません");
    browser.screenshot("contracts-empty");
    browser.submit("#contract-new");
    assert_eq!(browser.text("#title-error"), "入力してください");
    browser.screenshot("title-required");
    browser.fill("#title", "業務委託契約書");
    browser.submit("#contract-new");
    browser.wait_for("#contract-title");
    assert_eq!(browser.text("#contract-title"), "業務委託契約書");
    assert_eq!(browser.text("#contract-status"), "下書き");
    let id = browser
        .current_url()
        .rsplit('/')
        .next()
        .expect("the contract's id")
        .to_owned();

    // Parties and a document (through the API for now), then the page shows them.
    for body in [
        json!({ "role": "signer", "step": 1, "signature_kind": "certificate", "email": "shomei@example.jp" }),
        json!({ "role": "signer", "step": 2, "signature_kind": "simple", "email": "guest@example.com", "name": "社外 花子" }),
    ] {
        let a = manager.post(&format!("/api/contracts/{id}/parties"), body);
        assert_eq!(a.status, 201, "{:?}", a.body);
    }
    let pdf = crate::support::minimal_pdf("contract");
    let a = manager.raw(
        "POST",
        &format!("/api/contracts/{id}/documents?name=contract.pdf"),
        Some(&pdf),
        Some("application/pdf"),
    );
    assert_eq!(a.status, 201, "{:?}", a.body);
    browser.goto(&format!("{base}/contracts/{id}"));
    browser.wait_for("#parties");
    let parties = browser.texts("#parties tbody tr");
    assert_eq!(parties.len(), 2, "{parties:?}");
    assert!(parties[0].contains("電子証明書(当事者型)"), "{parties:?}");
    assert!(
        parties[1].contains("社外 花子") && parties[1].contains("立会人型"),
        "{parties:?}"
    );
    assert!(browser.text("#documents").contains("contract"));
    assert_eq!(browser.texts("#history tbody tr").len(), 4);
    browser.screenshot("contract-page");

    // The administrator reads it from the organisation's list.
    browser.click("#logout");
    browser.wait_for("#login-form");
    login(ADMIN_EMAIL, "Kanri2026pass");
    browser.click("nav.side a[href='/contracts']");
    browser.wait_for("#contracts");
    assert!(
        !browser.exists("#contract-new"),
        "an administrator drafts nothing"
    );
    browser.screenshot("admin-list");
    browser.click("#contracts a");
    browser.wait_for("#contract-title");
    assert_eq!(browser.text("#contract-title"), "業務委託契約書");
}
