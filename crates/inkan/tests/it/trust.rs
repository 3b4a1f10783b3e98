//! The public trust page (`/trust`): anyone, logged in or not, reads Inkan's root certificate
//! with its SHA-256 fingerprint and the steps for Acrobat, Windows and macOS, in Japanese and in
//! English; the DER it offers (the CA's own `/root.crt`) hashes to the fingerprint it shows, and
//! the PEM holds the same certificate. In Chromium: the page, the language switch and the
//! download; and the completion mail links to it.

use std::time::Duration;

use crate::browser::Browser;
use crate::serve::Backend;
use crate::service::{Api, Service};

/// The text of the element with `id` in `html` (the first `>` after it to the next `<`).
fn element_text(html: &str, id: &str) -> String {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let rest = &html[at..];
    let start = rest.find('>').expect("the element's end") + 1;
    let end = rest[start..].find('<').expect("the text's end");
    rest[start..start + end].to_owned()
}

/// SHA-256 as the page writes it: colon-separated upper-case hex.
pub fn sha256_colons(bytes: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[test]
fn the_trust_page_needs_no_login_and_its_der_hashes_to_the_fingerprint_it_shows() {
    let Some(service) = Service::start(Backend::Sqlite) else {
        return;
    };
    let mut anonymous = service.api();
    let page = anonymous.get("/trust");
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "{:?}",
        page.headers
    );
    let html = &page.text;
    assert!(html.contains("<html lang=\"ja\">"), "Japanese by default");
    for shown in [
        "信頼済みのルートとして使用",
        "証明済み文書",
        "信頼されたルート証明機関",
        "キーチェーンアクセス",
        "常に信頼",
    ] {
        assert!(html.contains(shown), "{shown}");
    }
    let fingerprint = element_text(html, "fingerprint-sha256");
    assert_eq!(fingerprint.len(), 32 * 3 - 1, "{fingerprint}");
    assert!(
        fingerprint
            .split(':')
            .all(|pair| pair.len() == 2 && pair.bytes().all(|b| b.is_ascii_hexdigit())),
        "{fingerprint}"
    );

    // The DER download is the CA's root, and hashes to what the page shows.
    let der = anonymous.get("/root.crt");
    assert_eq!(der.status, 200);
    assert_eq!(der.header("content-type"), Some("application/pkix-cert"));
    assert_eq!(sha256_colons(&der.bytes), fingerprint);
    let sha1 = element_text(html, "fingerprint-sha1");
    let der_sha1 =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &der.bytes);
    assert_eq!(
        sha1.replace(':', ""),
        der_sha1
            .as_ref()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<String>()
    );
    // The PEM holds the same certificate.
    let pem = anonymous.get("/root.pem");
    assert_eq!(pem.status, 200);
    assert_eq!(pem.header("content-type"), Some("application/x-pem-file"));
    let (label, from_pem) = der::pem::decode_vec(pem.bytes.as_slice()).expect("PEM");
    assert_eq!(label, "CERTIFICATE");
    assert_eq!(from_pem, der.bytes);
    // The page links both.
    assert!(html.contains("&#x2f;root.crt"), "{html}");
    assert!(html.contains("&#x2f;root.pem"), "{html}");

    // In English (the language cookie), every step names Acrobat's and the systems' screens.
    let mut english = Api::new(&service.app.base);
    english.cookie = Some("inkan_lang=en".into());
    let page = english.get("/trust");
    assert_eq!(page.status, 200);
    for shown in [
        "<html lang=\"en\">",
        "Edit → Preferences",
        "Identities &amp; Trusted Certificates",
        "Use this certificate as a trusted root",
        "Certified documents",
        "certmgr.msc",
        "Trusted Root Certification Authorities",
        "Keychain Access",
        "Always Trust",
    ] {
        assert!(page.text.contains(shown), "{shown}");
    }
    assert_eq!(element_text(&page.text, "fingerprint-sha256"), fingerprint);

    // Logged in, the page keeps the visitor's menu.
    let mut admin = service.admin();
    let page = admin.get("/trust");
    assert_eq!(page.status, 200);
    assert!(page.text.contains("id=\"logout\""), "{}", page.text);
}

#[test]
fn ui_a_reader_downloads_the_root_from_the_trust_page_and_checks_its_fingerprint() {
    let Some(service) = Service::start(Backend::Sqlite) else {
        return;
    };
    let Some(browser) = Browser::start("ui_trust") else {
        return;
    };
    let base = &service.app.base;
    browser.goto(&format!("{base}/trust"));
    browser.wait_for("#fingerprint-sha256");
    assert_eq!(browser.text("h1"), "Inkan の署名を信頼する");
    assert_eq!(browser.count("#trust-acrobat ol.how-to li"), 6);
    assert_eq!(browser.count("#trust-windows ol.how-to li"), 4);
    assert_eq!(browser.count("#trust-macos ol.how-to li"), 4);
    browser.screenshot("trust-ja");
    let fingerprint = browser.text("#fingerprint-sha256");

    browser.click("#root-der");
    let path = browser.downloaded("inkan-root.crt", Duration::from_secs(20));
    let der = std::fs::read(&path).expect("the downloaded certificate");
    assert_eq!(sha256_colons(&der), fingerprint);

    // The language switch keeps the page.
    browser.click("a.lang");
    browser.wait_for("html[lang=en]");
    assert!(browser.current_url().ends_with("/trust"));
    assert_eq!(browser.text("h1"), "Trusting Inkan's signatures");
    assert!(browser
        .text("#trust-acrobat")
        .contains("Use this certificate as a trusted root"));
    browser.set_viewport(390, 844);
    browser.screenshot("trust-en-phone");
}
