//! Accessibility basics in headless Chromium: axe-core (npm, installed by scripts/test.sh; its
//! path in `INKAN_AXE`) finds no serious or critical violation, and every field has a label, on
//! the contract list, the preparation wizard (each of its steps), a contract's page, the signing
//! page an outside party opens (the one-time code, then the document with their fields), the
//! self-signing page /sign (empty, then with a PDF's page and the seal's box), the profile's
//! certificate import form, the organisation settings /settings and the public trust page /trust, on a desktop window and at
//! a phone's 390 × 844. axe's
//! script is run through WebDriver, which the pages' CSP does not govern; the pages themselves
//! load nothing but their own files.

use serde_json::{json, Value};

use crate::browser::Browser;
use crate::lifecycle::{issue, service_with_ca};
use crate::serve::Backend;
use crate::service::{Service, ADMIN_EMAIL, MANAGER_EMAIL, MANAGER_PASSWORD};

/// axe-core's script, or `None` (with a note) when it is not installed; with
/// `INKAN_REQUIRE_BROWSER=1` (scripts/test.sh) a missing axe fails the test instead.
fn axe_source() -> Option<String> {
    let path = std::env::var("INKAN_AXE").ok();
    match path.as_deref().map(std::fs::read_to_string) {
        Some(Ok(source)) => Some(source),
        other => {
            let why = format!("axe-core not found (INKAN_AXE={path:?}): {other:?}");
            assert!(
                std::env::var("INKAN_REQUIRE_BROWSER").as_deref() != Ok("1"),
                "{why}"
            );
            eprintln!("skipping: {why}");
            None
        }
    }
}

/// The serious and critical violations axe finds on the page as it is now, one line each:
/// the rule, what it asks, and where.
fn serious_violations(browser: &Browser, axe: &str) -> Vec<String> {
    let script = format!(
        "{axe}\n;return axe.run(document, {{ resultTypes: ['violations'] }}).then(r => \
         r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => \
         v.id + ' (' + v.impact + '): ' + v.help + ' at ' + \
         v.nodes.map(n => n.target.join(' ')).join(', ')));"
    );
    match browser.script(&script) {
        Value::Array(found) => found
            .into_iter()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect(),
        other => panic!("axe answered {other}"),
    }
}

/// Checks the page as it is now, noting what axe found under `page` in `found`, and any field
/// without a label.
fn check(browser: &Browser, axe: &str, page: &str, found: &mut Vec<String>) {
    browser.screenshot(page);
    found.extend(
        serious_violations(browser, axe)
            .into_iter()
            .map(|v| format!("{page}: {v}")),
    );
    found.extend(
        browser
            .unlabelled_inputs("body")
            .into_iter()
            .map(|f| format!("{page}: field {f} has no label")),
    );
}

#[test]
fn ui_contract_pages_have_no_serious_accessibility_violation() {
    let Some(axe) = axe_source() else {
        return;
    };
    let Some(service) = Service::start(Backend::Sqlite) else {
        return;
    };
    let Some(browser) = Browser::start("a11y") else {
        return;
    };
    let base = &service.app.base;
    let mut admin = service.admin();
    let mut manager = service.manager(&mut admin);

    // A draft with a document, an outside signer and their fields; a second contract sent.
    let mut draft = |title: &str| -> String {
        let a = manager.post("/api/contracts", json!({ "title": title }));
        assert_eq!(a.status, 201, "{:?}", a.body);
        let id = a.body["id"].as_str().expect("id").to_owned();
        let a = manager.post(
            &format!("/api/contracts/{id}/parties"),
            json!({ "role": "signer", "step": 1, "signature_kind": "simple",
                    "email": "guest@example.com", "name": "社外 花子" }),
        );
        assert_eq!(a.status, 201, "{:?}", a.body);
        let party = a.body["id"].as_str().expect("party").to_owned();
        let pdf = crate::support::minimal_pdf(title);
        let a = manager.raw(
            "POST",
            &format!("/api/contracts/{id}/documents?name=contract.pdf"),
            Some(&pdf),
            Some("application/pdf"),
        );
        assert_eq!(a.status, 201, "{:?}", a.body);
        let document = a.body["id"].as_str().expect("document").to_owned();
        for body in [
            json!({ "document": document, "party": party, "kind": "signature",
                    "page": 1, "x": 60, "y": 60, "width": 180, "height": 70 }),
            json!({ "document": document, "party": party, "kind": "text", "label": "住所",
                    "page": 1, "x": 60, "y": 600, "width": 300, "height": 24 }),
        ] {
            let a = manager.post(&format!("/api/contracts/{id}/fields"), body);
            assert_eq!(a.status, 201, "{:?}", a.body);
        }
        id
    };
    let prepared = draft("業務委託契約書");
    let sent = draft("秘密保持契約書");
    let a = manager.post(&format!("/api/contracts/{sent}/send"), json!({}));
    assert!(a.status < 300, "{:?}", a.body);

    browser.login(base, MANAGER_EMAIL, MANAGER_PASSWORD);

    let mut found = Vec::new();
    browser.goto(&format!("{base}/contracts"));
    browser.wait_for("#contracts");
    check(&browser, &axe, "list", &mut found);

    for step in ["documents", "parties", "fields", "review"] {
        browser.goto(&format!("{base}/contracts/{prepared}?{step}#{step}"));
        browser.wait_for("#prepare[data-ready=true]");
        browser.wait_for(&format!("#step-{step}:not([hidden])"));
        if step == "fields" {
            browser.wait_for(".pdf-page.painted");
        }
        check(&browser, &axe, &format!("wizard-{step}"), &mut found);
    }

    browser.goto(&format!("{base}/contracts/{sent}"));
    browser.wait_for("#contract-title");
    check(&browser, &axe, "contract", &mut found);

    // The outside party's signing page: the code, then the document and their fields, on a
    // desktop window and on a phone.
    browser.logout();
    let link = service.mailed_link("guest@example.com", "【署名依頼】秘密保持契約書（Inkan）");
    browser.goto(&format!("{base}{link}"));
    browser.wait_for("#send-code");
    check(&browser, &axe, "party-code", &mut found);
    service.enter_mailed_code(
        &browser,
        "guest@example.com",
        "【確認コード】秘密保持契約書",
    );
    browser.wait_for("#party[data-rendered=true] .pdf-page.painted");
    check(&browser, &axe, "party-sign", &mut found);
    browser.set_viewport(390, 844);
    browser.goto(&format!("{base}{link}"));
    browser.wait_for("#party[data-rendered=true] .pdf-page.painted");
    check(&browser, &axe, "party-sign-phone", &mut found);
    assert!(found.is_empty(), "{found:#?}");
}

/// The self-signing page as a signer with an issued certificate and a PIN (empty; with a
/// PDF chosen, its page drawn and the seal's box on it; on a phone), and the
/// organisation settings as the administrator (desktop and phone).
#[test]
fn ui_self_signing_and_settings_pages_have_no_serious_accessibility_violation() {
    let Some(axe) = axe_source() else {
        return;
    };
    let Some((service, _ca)) = service_with_ca(Backend::Sqlite) else {
        return;
    };
    let Some(mut browser) = Browser::start("a11y_sign_settings") else {
        return;
    };
    browser.set_timeout(std::time::Duration::from_secs(20));
    let base = &service.app.base;
    let mut admin = service.admin();
    let mut op = service.operator();
    let (_, mut signer) = service.user(&mut admin, "jiko@example.jp", &["signer"], "Jiko2026xx");
    issue(&mut signer, &mut op, "a11y-order-jiko", 1);
    let a = signer.call(
        "PUT",
        "/api/me/pin",
        Some(&json!({ "pin": "Jiko2026pin", "confirm": "Jiko2026pin" })),
    );
    assert!(a.status < 300, "{:?}", a.body);
    let work = tempfile::tempdir().expect("tempdir");
    let pdf = work.path().join("jiko.pdf");
    std::fs::write(&pdf, crate::support::minimal_pdf("Self-signed")).expect("write");

    let mut found = Vec::new();
    browser.login(base, "jiko@example.jp", "Jiko2026xx");
    browser.goto(&format!("{base}/sign"));
    browser.wait_for("#sign-form");
    assert!(
        browser.exists("#sign-form input#pin"),
        "the PIN is asked for"
    );
    assert!(
        !browser.exists("#sign-blocked"),
        "the certificate is usable"
    );
    assert!(browser.exists("#trust-link"), "the way to the trust page");
    check(&browser, &axe, "sign", &mut found);
    browser.choose_file("#pdf", &pdf);
    browser.wait_for("#sign-form[data-ready=true] #seal-box");
    assert_eq!(browser.count("#sign-pages .pdf-page"), 1);
    check(&browser, &axe, "sign-placed", &mut found);
    browser.set_viewport(390, 844);
    browser.goto(&format!("{base}/sign"));
    browser.choose_file("#pdf", &pdf);
    browser.wait_for("#sign-form[data-ready=true] #seal-box");
    check(&browser, &axe, "sign-phone", &mut found);
    browser.set_viewport(1280, 900);
    // The profile's certificate section with the import form open.
    browser.goto(&format!("{base}/profile"));
    browser.click("#import summary");
    browser.wait_for("#import-form #p12-password");
    check(&browser, &axe, "profile-import", &mut found);

    browser.login(base, ADMIN_EMAIL, "Kanri2026pass");
    for (width, height, page) in [(1280, 900, "settings"), (390, 844, "settings-phone")] {
        browser.set_viewport(width, height);
        browser.goto(&format!("{base}/settings"));
        browser.wait_for("#settings-form");
        check(&browser, &axe, page, &mut found);
    }
    // The public trust page, as someone without an account.
    browser.logout();
    for (width, height, page) in [(1280, 900, "trust"), (390, 844, "trust-phone")] {
        browser.set_viewport(width, height);
        browser.goto(&format!("{base}/trust"));
        browser.wait_for("#fingerprint-sha256");
        check(&browser, &axe, page, &mut found);
    }
    assert!(found.is_empty(), "{found:#?}");
}
