//! The contract screens in headless Chromium (minimal so far): a document manager opens 契約
//! from the menu, is told a title is required, creates a draft and lands on its page; parties and
//! a document named through the API appear there with the history; the administrator reads it.
//! Then the sender sends it from its page, and an outside party signs on the page their mail
//! links to (one-time code, the document, the signature); the sender's page shows it completed
//! with its downloads. Screens are saved under `target/screenshots/ui_contracts/`.

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

    // Signature fields (through the API for now), then the sender sends from the page.
    let contract = manager.get(&format!("/api/contracts/{id}")).body;
    let document = manager.get(&format!("/api/contracts/{id}/documents")).body[0]["id"]
        .as_str()
        .expect("document")
        .to_owned();
    let a = manager.delete(&format!(
        "/api/contracts/{id}/parties/{}",
        contract["parties"][0]["id"].as_str().expect("party")
    ));
    assert_eq!(
        a.status, 204,
        "the certificate signer has no certificate here"
    );
    let a = manager.post(
        &format!("/api/contracts/{id}/fields"),
        json!({ "document": document, "party": contract["parties"][1]["id"], "kind": "signature",
                "page": 1, "x": 60, "y": 60, "width": 180, "height": 70 }),
    );
    assert_eq!(a.status, 201, "{:?}", a.body);
    browser.click("#logout");
    browser.wait_for("#login-form");
    login("bunsho@example.jp", "Bunsho2026x");
    browser.goto(&format!("{base}/contracts/{id}"));
    browser.wait_for("#send");
    browser.screenshot("before-send");
    browser.click("#send");
    browser.wait_for("#remind");
    assert_eq!(browser.text("#contract-status"), "送信済み(署名待ち)");
    browser.screenshot("sent");

    // The outside party opens their link, confirms the code from their mail, and signs.
    browser.click("#logout");
    browser.wait_for("#login-form");
    let mail = service.mail_to("guest@example.com", "【署名依頼】業務委託契約書（Inkan）");
    let link = mail["body"]
        .as_str()
        .expect("body")
        .lines()
        .find_map(|l| l.trim().strip_prefix("https://sign.example.jp"))
        .expect("the link")
        .to_owned();
    browser.goto(&format!("{base}{link}"));
    browser.wait_for("#send-code");
    browser.screenshot("party-code");
    browser.click("#send-code");
    browser.wait_for("#code-sent");
    let code = crate::service::labelled(
        service.mail_to("guest@example.com", "【確認コード】業務委託契約書")["body"]
            .as_str()
            .expect("body"),
        "確認コード:",
    );
    browser.fill("#code", &code);
    browser.submit("#code-form");
    browser.wait_for("#sign-form");
    assert!(browser.text("#documents").contains("contract.pdf"));
    browser.screenshot("party-act");
    browser.submit("#sign-form");
    browser.wait_for("#stage-done, #stage-completed");
    browser.screenshot("party-signed");

    // The sender's page: completed, with the signed document and the certificate.
    login("bunsho@example.jp", "Bunsho2026x");
    // Completion is a job: the page shows it once done.
    crate::support::wait_until(std::time::Duration::from_secs(60), "completion", || {
        browser.goto(&format!("{base}/contracts/{id}"));
        browser.wait_for("#contract-status");
        browser.exists("#certificate")
    });
    assert_eq!(browser.text("#contract-status"), "締結済み");
    browser.screenshot("completed");
}
