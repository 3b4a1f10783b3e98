//! Self-signing (/sign) in headless Chromium with Inkan's CA: a signer chooses a PDF with an A4
//! page and a page turned by /Rotate 90, sees its pages drawn from the file (nothing uploaded
//! before signing), moves the seal's box to the second page with a click, drags it with the
//! mouse and nudges it with the keyboard (and takes it to the first page and back with PageUp
//! and PageDown), signs and downloads the result. The signed PDF passes
//! `../shared/conformance/validate` at the organisation's level (B-LTA by default), and pdftoppm
//! shows the seal inside the rectangle worked out here from where the box was on the screen
//! (within 2 points). Then an administrator sets the level to B-T on the organisation settings
//! page, and the signer's next (invisible) signature is B-T. The page is also shown at 390 px.
//! Screens are saved under `target/screenshots/ui_sign/`.

use std::time::Duration;

use crate::browser::{Browser, KEY_RIGHT};
use crate::lifecycle::{issue, service_with_ca};
use crate::serve::Backend;
use crate::support::validate_with;
use crate::ui_prepare::{
    document, inside, numbers, red_points, render, shown_width, user_rect, Shape, A4,
    KEY_PAGE_DOWN, KEY_PAGE_UP,
};

/// The `visible` value the page will send: PAGE,X,Y,W,H.
fn placement(browser: &Browser) -> (i64, [f64; 4]) {
    let value = browser.script("return document.getElementById('visible').value;");
    let value = value.as_str().expect("a string").to_owned();
    let parts: Vec<f64> = value
        .split(',')
        .map(|p| p.parse().expect("a number"))
        .collect();
    assert_eq!(parts.len(), 5, "{value}");
    (parts[0] as i64, [parts[1], parts[2], parts[3], parts[4]])
}

/// The seal box's place within page `n` as shown: left, top, width, height (CSS pixels), and
/// the page's shown width.
fn box_on_page(browser: &Browser, n: usize) -> ([f64; 4], f64) {
    let v = browser.script(&format!(
        "const page = document.querySelector('#sign-pages .pdf-page[data-page=\"{n}\"]');
         const p = page.getBoundingClientRect();
         const b = document.getElementById('seal-box').getBoundingClientRect();
         return [b.left - p.left, b.top - p.top, b.width, b.height, page.clientWidth];"
    ));
    let f = |i: usize| v[i].as_f64().expect("a number");
    ([f(0), f(1), f(2), f(3)], f(4))
}

fn close(a: [f64; 4], b: [f64; 4], tolerance: f64) -> bool {
    crate::ui_prepare::close(a, b, tolerance)
}

#[test]
fn ui_a_signer_places_the_seal_on_the_page_and_the_level_is_the_organisations() {
    let Some((service, ca)) = service_with_ca(Backend::Sqlite) else {
        return;
    };
    let Some(mut browser) = Browser::start("ui_sign") else {
        return;
    };
    browser.set_timeout(Duration::from_secs(20));
    let base = service.app.base.clone();
    let root = ca.path().join("ca/root.pem");
    let root = root.to_str().expect("root").to_owned();
    let work = tempfile::tempdir().expect("tempdir");
    let mut admin = service.admin();
    let mut op = service.operator();
    let (_, mut signer) = service.user(&mut admin, "jiko@example.jp", &["signer"], "Jiko2026xx");
    issue(&mut signer, &mut op, "order-jiko", 1);
    service.user(
        &mut admin,
        "settei@example.jp",
        &["administrator"],
        "Settei2026x",
    );
    let login = |browser: &Browser, email: &str, password: &str| {
        if browser.exists("#logout") {
            browser.click("#logout");
            browser.wait_for("#login-form");
        }
        browser.goto(&format!("{base}/login"));
        browser.fill("#email", email);
        browser.fill("#password", password);
        browser.submit("#login-form");
        browser.wait_for("#me");
    };
    let shapes = [
        Shape {
            media: A4,
            rotate: 0,
        },
        Shape {
            media: A4,
            rotate: 90,
        },
    ];
    let pdf = work.path().join("jiko.pdf");
    std::fs::write(&pdf, document("Self-signed", &shapes)).expect("write");

    // The page no longer asks for the level or for coordinates; it says which level applies.
    login(&browser, "jiko@example.jp", "Jiko2026xx");
    browser.click("nav.side a[href='/sign']");
    browser.wait_for("#sign-form");
    assert!(!browser.exists("#level"), "no level question");
    assert!(!browser.exists("input[type=text][name=visible]"));
    assert!(
        browser.text("#level-note").contains("PAdES B-LTA"),
        "{}",
        browser.text("#level-note")
    );
    // Signing without a file: the error is next to the file input.
    browser.click("#sign-submit");
    assert_eq!(browser.text("#pdf-error"), "入力してください");

    browser.choose_file("#pdf", &pdf);
    browser.wait_for("#sign-form[data-ready=true] #seal-box");
    assert_eq!(browser.count("#sign-pages .pdf-page"), 2);
    assert_eq!(browser.text("#pdf-error"), "");
    let (page, _) = placement(&browser);
    assert_eq!(page, 1, "first placed on the first page");
    browser.screenshot("chosen");

    // A click on the second page moves the box there; a drag moves it on that page.
    browser.click("#sign-pages .pdf-page[data-page='2']");
    let (page, _) = placement(&browser);
    assert_eq!(page, 2, "moved to the second page by a click");
    let drop = browser.script(
        "const page = document.querySelector('#sign-pages .pdf-page[data-page=\"2\"]');
         let r = page.getBoundingClientRect();
         window.scrollBy(0, r.top + 0.5 * r.height - innerHeight / 2);
         r = page.getBoundingClientRect();
         return [r.left + 0.3 * r.width, r.top + 0.35 * r.height];",
    );
    let (x, y) = (drop[0].as_f64().expect("x"), drop[1].as_f64().expect("y"));
    browser.drag("#seal-box", x, y);
    let centre = browser.script(
        "const b = document.getElementById('seal-box').getBoundingClientRect();
         return [b.left + b.width / 2, b.top + b.height / 2];",
    );
    let (cx, cy) = (
        centre[0].as_f64().expect("x"),
        centre[1].as_f64().expect("y"),
    );
    assert!(
        (cx - x).abs() <= 2.0 && (cy - y).abs() <= 2.0,
        "the box follows the mouse: centre ({cx}, {cy}), dropped at ({x}, {y})"
    );
    let (_, dragged) = placement(&browser);
    // The keyboard: one point to the right as shown (up the page's own y on a page turned 90°).
    browser.press(KEY_RIGHT);
    let (page, placed) = placement(&browser);
    assert_eq!(page, 2);
    assert!(
        (placed[1] - dragged[1] - 1.0).abs() < 0.02 && (placed[0] - dragged[0]).abs() < 0.02,
        "{dragged:?} → {placed:?}"
    );
    // What the page sends is where the box shows, worked out here by the PDF's rules.
    let (shown, page_width) = box_on_page(&browser, 2);
    let scale = page_width / shown_width(shapes[1]);
    let expected = user_rect(shapes[1], scale, shown);
    assert!(
        close(expected, placed, 0.5),
        "sent {placed:?}, shown at {expected:?}"
    );
    let readout = browser.text("#seal-position");
    assert!(readout.starts_with("2 ページ目"), "{readout}");
    // The size as it shows on the turned page: wide, though taller than wide in its own points.
    let [.., width, height] = numbers(&readout)[..] else {
        panic!("{readout}");
    };
    assert!(
        (width - placed[3]).abs() < 0.06 && (height - placed[2]).abs() < 0.06 && width > height,
        "{readout}: {placed:?}"
    );
    // PageUp takes the box to the first page and PageDown back (the box keeps the focus).
    browser.press(KEY_PAGE_UP);
    assert_eq!(placement(&browser).0, 1, "on the first page");
    browser.press(KEY_PAGE_DOWN);
    let (page, again) = placement(&browser);
    assert_eq!(page, 2);
    assert!(close(again, placed, 0.05), "{placed:?} → {again:?}");
    browser.screenshot("placed");

    browser.click("#sign-submit");
    let signed = browser.downloaded(".pdf", Duration::from_secs(120));
    let first = work.path().join("signed-b-lta.pdf");
    std::fs::copy(&signed, &first).expect("copy");
    std::fs::remove_file(&signed).expect("remove the download");
    let (valid, verdict) = validate_with(
        &first,
        &root,
        &["--level", "B-LTA", "--revocation", "--signatures", "1"],
    );
    assert!(valid, "{verdict}");
    assert!(verdict.contains("level=B-LTA"), "{verdict}");
    // The seal's ink is inside the placed rectangle on page 2, and nowhere else.
    let red = red_points(shapes[1], &render(&first, 2));
    let ink = red.iter().filter(|p| inside(**p, placed, 0.0)).count();
    assert!(ink > 50, "{ink} red pixels in {placed:?}");
    let astray: Vec<_> = red
        .iter()
        .filter(|p| !inside(**p, placed, 2.0))
        .take(5)
        .collect();
    assert!(astray.is_empty(), "red outside {placed:?}: {astray:?}");
    assert!(red_points(shapes[0], &render(&first, 1)).is_empty());

    // On a phone the pages fit the width.
    browser.set_viewport(390, 844);
    browser.goto(&format!("{base}/sign"));
    browser.choose_file("#pdf", &pdf);
    browser.wait_for("#sign-form[data-ready=true] #seal-box");
    let fits = browser.script(
        "const p = document.querySelector('#sign-pages .pdf-page').getBoundingClientRect();
         return p.right <= document.documentElement.clientWidth + 0.5
             && document.documentElement.scrollWidth <= document.documentElement.clientWidth + 0.5;",
    );
    assert_eq!(fits, serde_json::json!(true));
    browser.screenshot("phone");
    browser.set_viewport(1280, 900);

    // The administrator sets the organisation's level to B-T.
    login(&browser, "settei@example.jp", "Settei2026x");
    browser.click("nav.side a[href='/settings']");
    browser.wait_for("#settings-form");
    assert_eq!(
        browser.script("return document.getElementById('level-b-lta').checked;"),
        serde_json::json!(true),
        "B-LTA by default"
    );
    browser.check("#level-b-t");
    browser.submit("#settings-form");
    browser.wait_for(".flash");
    assert_eq!(
        browser.script("return document.getElementById('level-b-t').checked;"),
        serde_json::json!(true)
    );
    browser.screenshot("settings");
    let settings = admin.get("/api/organisation/settings");
    assert_eq!(settings.body["pades_level"], "B-T", "{:?}", settings.body);
    let audit = admin.get("/api/audit").body.to_string();
    assert!(audit.contains("organisation.settings_changed"), "{audit}");

    // The signer's next signature (invisible this time) is B-T.
    login(&browser, "jiko@example.jp", "Jiko2026xx");
    browser.goto(&format!("{base}/sign"));
    browser.wait_for("#sign-form");
    assert!(browser.text("#level-note").contains("PAdES B-T"));
    browser.choose_file("#pdf", &pdf);
    browser.wait_for("#sign-form[data-ready=true]");
    browser.check("#mode-invisible");
    assert_eq!(
        browser.script("return document.getElementById('visible').value;"),
        serde_json::json!("")
    );
    browser.click("#sign-submit");
    let signed = browser.downloaded(".pdf", Duration::from_secs(120));
    let second = work.path().join("signed-b-t.pdf");
    std::fs::copy(&signed, &second).expect("copy");
    let (valid, verdict) = validate_with(
        &second,
        &root,
        &["--level", "B-T", "--revocation", "--signatures", "1"],
    );
    assert!(valid, "{verdict}");
    assert!(verdict.contains("level=B-T "), "{verdict}");
    assert!(
        red_points(shapes[1], &render(&second, 2)).is_empty(),
        "invisible"
    );
    let console = browser.console();
    assert!(
        !console
            .iter()
            .any(|l| l.contains("SEVERE") && !l.contains("favicon.ico")),
        "{console:?}"
    );
}
