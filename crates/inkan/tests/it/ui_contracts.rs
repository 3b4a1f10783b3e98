//! The contract screens in headless Chromium: a document manager opens 契約 from the menu, is
//! told a title is required, creates a draft and lands on its preparation; parties and a
//! document named through the API appear there; the administrator reads it with its history.
//! Then the sender sends it from the wizard's last step (the preparation itself is
//! `ui_prepare`), and an outside party signs on a phone (390 x 844) on the page their
//! mail links to: the one-time code, the document's page rendered to the screen's width with
//! their fields on it, the 「次へ」 guidance from field to field (with the keyboard too), a text
//! field filled in, 「署名する」; the browser's console shows no Content-Security-Policy
//! violation. The sender's page shows it completed with its downloads. A sender who keeps a
//! contract's page open sees the parties' statuses change as they sign, without reloading it.
//! Screens are saved under `target/screenshots/ui_contracts/` (and `ui_contract_live/`).

use serde_json::json;

use crate::browser::Browser;
use crate::serve::Backend;
use crate::service::{Service, ADMIN_EMAIL, MANAGER_EMAIL, MANAGER_PASSWORD};

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
    let mut manager = service.manager(&mut admin);
    service.user(&mut admin, "shomei@example.jp", &["signer"], "Shomei2026x");

    browser.login(base, MANAGER_EMAIL, MANAGER_PASSWORD);
    browser.click("nav.side a[href='/contracts']");
    browser.wait_for("#contract-new");
    assert!(browser
        .text("#contracts-none")
        .starts_with("契約はまだありません"));
    browser.screenshot("contracts-empty");
    browser.click("#new-contract summary");
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

    // Parties and a document through the API, then the preparation shows them.
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
    browser.goto(&format!("{base}/contracts/{id}?again#parties"));
    browser.wait_for("#prepare[data-ready=true]");
    let parties = browser.texts("#party-list tbody tr");
    assert_eq!(parties.len(), 2, "{parties:?}");
    assert!(
        browser.script(
            "return document.querySelector('#party-list tbody tr select[id^=kind-]').value;"
        ) == json!("certificate"),
        "{parties:?}"
    );
    assert!(parties[1].contains("社外 花子"), "{parties:?}");
    // The signer holds no certificate: the page says so beside their signature kind.
    assert!(browser
        .text("#party-list")
        .contains("有効な電子証明書がありません"));
    browser.screenshot("contract-page");

    // The administrator reads it from the organisation's list.
    browser.login(base, ADMIN_EMAIL, "Kanri2026pass");
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
    assert!(!browser.exists("#prepare"), "read-only");
    assert_eq!(browser.texts("#history tbody tr").len(), 4);

    // Signature fields through the API, then the sender sends from the wizard's last step.
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
    // The guest's fields, listed out of order: the page guides from the top down.
    let guest = contract["parties"][1]["id"].clone();
    let mut field_ids = Vec::new();
    for body in [
        json!({ "document": document, "party": guest, "kind": "signature",
                "page": 1, "x": 60, "y": 60, "width": 180, "height": 70 }),
        json!({ "document": document, "party": guest, "kind": "text", "label": "住所",
                "page": 1, "x": 60, "y": 600, "width": 300, "height": 24 }),
        json!({ "document": document, "party": guest, "kind": "date_signed",
                "page": 1, "x": 360, "y": 400, "width": 150, "height": 20 }),
    ] {
        let a = manager.post(&format!("/api/contracts/{id}/fields"), body);
        assert_eq!(a.status, 201, "{:?}", a.body);
        field_ids.push(a.body["id"].as_str().expect("field id").to_owned());
    }
    let [signature_field, text_field, date_field] = &field_ids[..] else {
        unreachable!()
    };
    browser.login(base, MANAGER_EMAIL, MANAGER_PASSWORD);
    browser.goto(&format!("{base}/contracts/{id}#review"));
    browser.wait_for("#step-review:not([hidden]) #send");
    browser.screenshot("before-send");
    browser.click("#send");
    browser.wait_for("#remind");
    assert_eq!(browser.text("#contract-status"), "送信済み(署名待ち)");
    browser.screenshot("sent");

    // The outside party opens their link on a phone, confirms the code from their mail, and
    // signs.
    browser.logout();
    browser.console();
    browser.set_viewport(390, 844);
    let link = service.mailed_link("guest@example.com", "【署名依頼】業務委託契約書（Inkan）");
    browser.goto(&format!("{base}{link}"));
    browser.wait_for("#send-code");
    browser.screenshot("party-code");
    // A wrong code is refused next to the code field.
    browser.ask_for_code();
    browser.fill("#code", "12345");
    browser.click("#confirm-code");
    browser.wait_for("#code-error:not([hidden])");
    assert_eq!(browser.text("#code-error"), "確認コードが正しくありません");
    browser.enter_code(&service.mailed_code("guest@example.com", "【確認コード】業務委託契約書"));
    assert!(browser.text("#documents").contains("contract.pdf"));
    assert!(browser.text("#downloads").contains("contract.pdf"));

    // The page is drawn to the phone's width, the three fields on it, numbered from the top.
    browser.wait_for("#party[data-rendered=true] .pdf-page.painted");
    browser.wait_for(&format!(".field-box[data-field='{signature_field}']"));
    let layout = browser.script(
        "const page = document.querySelector('.pdf-page').getBoundingClientRect();
         return { width: innerWidth, page_left: page.left, page_right: page.right,
                  scroll_width: document.documentElement.scrollWidth,
                  client_width: document.documentElement.clientWidth,
                  boxes: document.querySelectorAll('.field-box').length };",
    );
    assert_eq!(layout["width"], 390, "{layout}");
    assert!(
        layout["page_left"].as_f64() >= Some(0.0)
            && layout["page_right"].as_f64() <= Some(390.0)
            && layout["page_right"].as_f64() >= Some(330.0),
        "the page fits the width: {layout}"
    );
    assert_eq!(
        layout["scroll_width"], layout["client_width"],
        "no sideways scrolling: {layout}"
    );
    assert_eq!(layout["boxes"], 3, "{layout}");
    let order: Vec<String> = browser
        .script(
            "return [...document.querySelectorAll('#steps .step')].map(s => s.dataset.field || 'sign');",
        )
        .as_array()
        .expect("steps")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        order,
        [text_field.as_str(), date_field, signature_field, "sign"],
        "from the top of the page down"
    );
    // Every button of the page is at least 44 px tall.
    let small = browser.script(
        "return [...document.querySelectorAll('#party button, #party .button')]
            .filter(b => b.offsetParent !== null && !b.classList.contains('field-box'))
            .filter(b => b.getBoundingClientRect().height < 44)
            .map(b => b.id || b.textContent);",
    );
    assert_eq!(small, json!([]), "buttons under 44 px");
    // Every input has a label.
    assert_eq!(
        browser.unlabelled_inputs("#party"),
        Vec::<String>::new(),
        "inputs without a label"
    );
    assert_eq!(
        browser.text("#steps .step.current .step-label"),
        "住所 必須"
    );
    browser.screenshot("party-phone");

    // 「次へ」 scrolls to the next field and focuses it; 「前へ」 goes back.
    let current = |b: &Browser| {
        b.script(
            "const step = document.querySelector('#steps .step.current');
             const box = document.querySelector('.field-box.current');
             const r = box ? box.getBoundingClientRect() : null;
             return { field: step.dataset.field || 'sign', focused: document.activeElement.id,
                      box: box ? box.dataset.field : null,
                      on_screen: r ? r.top >= 0 && r.bottom <= innerHeight : null };",
        )
    };
    browser.click("#guide-next");
    crate::support::wait_until(std::time::Duration::from_secs(5), "the date field", || {
        current(&browser)["on_screen"] == json!(true)
    });
    let now = current(&browser);
    assert_eq!(now["field"], json!(date_field), "{now}");
    assert_eq!(now["box"], json!(date_field), "{now}");
    assert_eq!(now["focused"], json!(format!("f-{date_field}")), "{now}");
    browser.screenshot("party-guide-date");
    browser.click("#guide-prev");
    let now = current(&browser);
    assert_eq!(now["field"], json!(text_field), "{now}");
    assert_eq!(now["focused"], json!(format!("f-{text_field}")), "{now}");

    // Signing with the text field empty: the error is next to it.
    browser.click("#guide-next");
    browser.click("#sign");
    browser.wait_for(&format!("#f-{text_field}-error:not([hidden])"));
    assert_eq!(
        browser.text(&format!("#f-{text_field}-error")),
        "入力してください"
    );
    assert_eq!(
        current(&browser)["focused"],
        json!(format!("f-{text_field}"))
    );
    browser.screenshot("party-text-required");

    // With the keyboard: type, Enter goes to the next field, and on to 「署名する」.
    browser.type_into(
        &format!("#f-{text_field}"),
        "東京都港区芝公園 4-2-8\u{e007}",
    );
    let now = current(&browser);
    assert_eq!(now["field"], json!(date_field), "Enter moves on: {now}");
    assert_eq!(
        browser.text(&format!(
            ".field-box[data-field='{text_field}'] .field-value"
        )),
        "東京都港区芝公園 4-2-8",
        "what is typed shows on the page"
    );
    browser.click("#guide-next");
    browser.click("#guide-next");
    assert_eq!(current(&browser)["field"], json!("sign"));
    browser.click("#guide-next");
    crate::support::wait_until(std::time::Duration::from_secs(5), "the sign button", || {
        current(&browser)["focused"] == json!("sign")
    });
    browser.screenshot("party-act");
    let violations = browser.csp_violations();
    assert!(violations.is_empty(), "CSP violations: {violations:?}");
    browser.submit("#sign-form");
    browser.wait_for("#stage-done, #stage-completed");
    browser.screenshot("party-signed");
    let violations = browser.csp_violations();
    assert!(violations.is_empty(), "CSP violations: {violations:?}");
    browser.set_viewport(1280, 900);

    // The sender's page: completed, with the signed document and the certificate.
    browser.login(base, MANAGER_EMAIL, MANAGER_PASSWORD);
    // Completion is a job: the page shows it once done.
    crate::support::wait_until(std::time::Duration::from_secs(60), "completion", || {
        browser.goto(&format!("{base}/contracts/{id}"));
        browser.wait_for("#contract-status");
        browser.exists("#certificate")
    });
    assert_eq!(browser.text("#contract-status"), "締結済み");
    browser.screenshot("completed");
}

/// The sender keeps a sent contract's page open while its parties sign over HTTP with their
/// mailed links. At the page's next refresh (every 15 seconds) the first party shows 署名済み,
/// the second, whose turn it now is, 通知済み, and the note says the statuses changed, all
/// without the page reloading. Once the second party signs and the contract completes, the
/// page reloads itself to show it completed.
#[test]
fn ui_the_contract_page_follows_the_parties_statuses_while_open() {
    const REQUEST: &str = "【署名依頼】業務委託契約書（Inkan）";
    let Some(service) = Service::start(Backend::Sqlite) else {
        return;
    };
    let Some(browser) = Browser::start("ui_contract_live") else {
        return;
    };
    let base = &service.app.base;
    let mut admin = service.admin();
    let mut manager = service.manager(&mut admin);
    let (_, mut signer) = service.user(&mut admin, "shomei@example.jp", &["signer"], "Shomei2026x");
    let id = manager.send_contract(
        "業務委託契約書",
        &[
            ("shomei@example.jp", "", 1),
            ("guest@example.com", "社外 花子", 2),
        ],
    );
    let contract = manager.get(&format!("/api/contracts/{id}")).body;
    let party = |i: usize| {
        contract["parties"][i]["id"]
            .as_str()
            .expect("party")
            .to_owned()
    };
    let (first, second) = (party(0), party(1));
    let status = |party: &str| browser.text(&format!("#party-status-{party}"));
    let token = |to: &str| {
        let link = service.mailed_link(to, REQUEST);
        link.rsplit('/').next().expect("token").to_owned()
    };

    browser.login(base, MANAGER_EMAIL, MANAGER_PASSWORD);
    browser.goto(&format!("{base}/contracts/{id}"));
    browser.wait_for("#contract[data-status=sent]");
    assert_eq!(
        (status(&first), status(&second)),
        ("通知済み".into(), "順番待ち".into())
    );
    assert_eq!(browser.text("#live-note"), "");
    // A mark on this page's window: gone if the page reloads.
    browser.script("window.inkanStayed = true; return true;");
    let stayed = || browser.script("return window.inkanStayed === true;") == json!(true);

    // The first party signs: the open page follows within its refresh.
    let a = signer.post(
        &format!("/api/party/{}/sign", token("shomei@example.jp")),
        json!({}),
    );
    assert_eq!(a.status, 200, "{:?}", a.body);
    crate::support::wait_until(
        std::time::Duration::from_secs(25),
        "the first party's new status on the open page",
        || status(&first) == "署名済み",
    );
    assert_eq!(status(&second), "通知済み", "their turn now");
    assert_eq!(browser.text("#live-note"), "当事者の状態が更新されました");
    assert_eq!(browser.text("#contract-status"), "送信済み(署名待ち)");
    assert!(stayed(), "the page was not reloaded");
    browser.screenshot("first-signed");

    // The outside party confirms their code and signs: the contract completes, and the page
    // reloads itself to show it.
    let guest_token = token("guest@example.com");
    let mut guest = service.api();
    let a = guest.post(&format!("/api/party/{guest_token}/code"), json!({}));
    assert_eq!(a.status, 204, "{:?}", a.body);
    let code = service.mailed_code("guest@example.com", "【確認コード】業務委託契約書");
    let a = guest.post(
        &format!("/api/party/{guest_token}/code/confirm"),
        json!({ "code": code }),
    );
    assert_eq!(a.status, 200, "{:?}", a.body);
    let session = a.body["session"].as_str().expect("session").to_owned();
    guest.headers = vec![("X-Inkan-Party".into(), session)];
    let a = guest.post(&format!("/api/party/{guest_token}/sign"), json!({}));
    assert_eq!(a.status, 200, "{:?}", a.body);
    crate::support::wait_until(
        std::time::Duration::from_secs(75),
        "the open page showing the contract completed",
        || browser.exists("#contract[data-status=completed]"),
    );
    assert!(!stayed(), "the page reloaded itself");
    assert_eq!(browser.text("#contract-status"), "締結済み");
    assert_eq!(status(&second), "署名済み");
    browser.screenshot("completed");
}

/// A PDF whose pages differ: A4 and Letter, /Rotate 0, 90, 180 and 270, one with a crop box
/// away from the origin; each page paints a black rectangle at `RECT` (user space).
fn turned_pages_pdf() -> (Vec<u8>, Vec<PageShape>) {
    let shapes = vec![
        PageShape::new([0.0, 0.0, 595.0, 842.0], 0),
        PageShape::new([0.0, 0.0, 612.0, 792.0], 0),
        PageShape::new([0.0, 0.0, 595.0, 842.0], 90),
        PageShape::new([0.0, 0.0, 595.0, 842.0], 180),
        PageShape::new([0.0, 0.0, 612.0, 792.0], 270),
        PageShape::new([50.0, 60.0, 545.0, 800.0], 90),
    ];
    let content = format!("0 g {} {} {} {} re f", RECT[0], RECT[1], RECT[2], RECT[3]);
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            (0..shapes.len())
                .map(|i| format!("{} 0 R", 4 + i))
                .collect::<Vec<_>>()
                .join(" "),
            shapes.len()
        ),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
    ];
    for s in &shapes {
        let [a, b, c, d] = s.crop;
        let crop = if s.crop[0] > 0.0 {
            format!(" /MediaBox [0 0 595 842] /CropBox [{a} {b} {c} {d}]")
        } else {
            format!(" /MediaBox [{a} {b} {c} {d}]")
        };
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R{crop} /Rotate {} /Contents 3 0 R >>",
            s.rotate
        ));
    }
    (crate::support::pdf_from_objects(&objects), shapes)
}

/// x, y, width, height in points.
const RECT: [f64; 4] = [100.0, 150.0, 120.0, 60.0];

#[derive(Debug)]
struct PageShape {
    crop: [f64; 4],
    rotate: u32,
}

impl PageShape {
    fn new(crop: [f64; 4], rotate: u32) -> Self {
        Self { crop, rotate }
    }

    /// Where `RECT` shows on the page at scale 1 (left, top, width, height in CSS pixels), worked
    /// out here from the PDF's rules rather than by PDF.js: /Rotate turns the page clockwise.
    fn expected(&self) -> [f64; 4] {
        let [llx, lly, urx, ury] = self.crop;
        let (w, h) = (urx - llx, ury - lly);
        let (x, y, rw, rh) = (RECT[0] - llx, RECT[1] - lly, RECT[2], RECT[3]);
        match self.rotate {
            0 => [x, h - y - rh, rw, rh],
            90 => [y, x, rh, rw],
            180 => [w - x - rw, y, rw, rh],
            270 => [h - y - rh, w - x - rw, rh, rw],
            r => panic!("rotation {r}"),
        }
    }

    /// The page's shown size at scale 1.
    fn size(&self) -> [f64; 2] {
        let [llx, lly, urx, ury] = self.crop;
        if self.rotate.is_multiple_of(180) {
            [urx - llx, ury - lly]
        } else {
            [ury - lly, urx - llx]
        }
    }
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The pages module (the signing page's, and the preparation screens' to come) draws a rectangle
/// given in PDF points exactly over what PDF.js paints there, and maps the box on the screen back
/// to the same points, on A4 and Letter pages, turned by /Rotate 90, 180 and 270, and with a crop
/// box away from the origin; at a desktop width and at a phone's. Also measures how soon a
/// 20-page document shows its first page (printed, not asserted).
#[test]
fn ui_pdf_pages_place_rectangles_on_turned_and_mixed_size_pages() {
    let Some(service) = Service::start(Backend::Sqlite) else {
        return;
    };
    let Some(browser) = Browser::start("ui_pdf_pages") else {
        return;
    };
    let base = &service.app.base;
    let (pdf, shapes) = turned_pages_pdf();
    let script = format!(
        "return (async () => {{
            const {{ PdfPages }} = await import('/static/js/pdfpages.mjs');
            const bytes = Uint8Array.from(atob('{}'), c => c.charCodeAt(0));
            const box = document.createElement('div');
            box.id = 'geometry';
            document.querySelector('main').replaceChildren(box);
            const doc = await PdfPages.open(box, bytes);
            await doc.laidOut;
            const rect = {{ x: {}, y: {}, width: {}, height: {} }};
            const pages = [];
            for (let n = 1; n <= doc.count; n++) {{
                await doc.render(n);
                const page = doc.element(n);
                const scale = page.clientWidth / doc.viewport(n).width;
                const want = {{ page: n, ...rect }};
                const screen = doc.toScreen(want);
                const drawn = doc.draw(want).getBoundingClientRect();
                const at = page.getBoundingClientRect();
                const back = doc.toPdf(n, screen);
                // What PDF.js painted: dark inside the box, light just outside it.
                const canvas = page.querySelector('canvas');
                const k = canvas.width / page.clientWidth;
                const ctx = canvas.getContext('2d');
                const shade = (x, y) => {{
                    const p = ctx.getImageData(Math.round(x * k), Math.round(y * k), 1, 1).data;
                    return (p[0] + p[1] + p[2]) / 3;
                }};
                const cx = screen.left + screen.width / 2, cy = screen.top + screen.height / 2;
                pages.push({{
                    size: [doc.viewport(n).width, doc.viewport(n).height],
                    at_scale_1: [screen.left / scale, screen.top / scale, screen.width / scale, screen.height / scale],
                    drawn: [drawn.left - at.left - screen.left, drawn.top - at.top - screen.top,
                            drawn.width - screen.width, drawn.height - screen.height],
                    back: [back.page, back.x, back.y, back.width, back.height],
                    inside: [shade(cx, cy), shade(screen.left + 3, screen.top + 3),
                             shade(screen.left + screen.width - 3, screen.top + screen.height - 3)],
                    outside: [shade(screen.left - 4, cy), shade(screen.left + screen.width + 4, cy),
                              shade(cx, screen.top - 4), shade(cx, screen.top + screen.height + 4)],
                }});
            }}
            return pages;
        }})();",
        base64(&pdf),
        RECT[0],
        RECT[1],
        RECT[2],
        RECT[3]
    );
    for (width, height) in [(1280, 900), (390, 844)] {
        browser.set_viewport(width, height);
        browser.goto(&format!("{base}/login"));
        browser.wait_for("main");
        let pages = browser.script(&script);
        let pages = pages.as_array().expect("pages");
        assert_eq!(pages.len(), shapes.len());
        for (i, (page, shape)) in pages.iter().zip(&shapes).enumerate() {
            let numbers = |key: &str| -> Vec<f64> {
                page[key]
                    .as_array()
                    .unwrap_or_else(|| panic!("{key} of page {}: {page}", i + 1))
                    .iter()
                    .map(|v| v.as_f64().expect("a number"))
                    .collect()
            };
            let close = |a: &[f64], b: &[f64], tolerance: f64| {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tolerance)
            };
            let what = format!("page {} ({shape:?}) at {width} px: {page}", i + 1);
            assert!(close(&numbers("size"), &shape.size(), 0.01), "{what}");
            assert!(
                close(&numbers("at_scale_1"), &shape.expected(), 0.01),
                "expected {:?}: {what}",
                shape.expected()
            );
            assert!(close(&numbers("drawn"), &[0.0; 4], 1.0), "{what}");
            let mut rect = vec![(i + 1) as f64];
            rect.extend(RECT);
            assert!(close(&numbers("back"), &rect, 0.01), "{what}");
            assert!(numbers("inside").iter().all(|s| *s < 60.0), "{what}");
            assert!(numbers("outside").iter().all(|s| *s > 200.0), "{what}");
        }
        browser.screenshot(&format!("turned-pages-{width}"));
    }

    // A 20-page contract: how soon its first page shows (PDF.js loaded and the document parsed
    // and painted), with the library already cached as on the signing page's second visit.
    let lines: Vec<String> = (1..=20)
        .map(|n| format!("BT /F1 12 Tf 72 {} Td (Article {n}) Tj ET", 800 - n * 30))
        .collect();
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count 20 >>",
            (0..20)
                .map(|i| format!("{} 0 R", 5 + i))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let content = lines.join("\n");
    objects.push(format!(
        "<< /Length {} >>\nstream\n{content}\nendstream",
        content.len()
    ));
    for _ in 0..20 {
        objects.push(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] \
             /Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"
                .to_string(),
        );
    }
    let twenty = crate::support::pdf_from_objects(&objects);
    browser.set_viewport(390, 844);
    browser.goto(&format!("{base}/login"));
    browser.wait_for("main");
    let timing = browser.script(&format!(
        "return (async () => {{
            const started = performance.now();
            const {{ PdfPages }} = await import('/static/js/pdfpages.mjs');
            const bytes = Uint8Array.from(atob('{}'), c => c.charCodeAt(0));
            const box = document.createElement('div');
            document.querySelector('main').replaceChildren(box);
            const doc = await PdfPages.open(box, bytes);
            await doc.ready;
            return {{ first_page_ms: performance.now() - started, pages: doc.count,
                      painted: document.querySelectorAll('.pdf-page.painted').length }};
        }})();",
        base64(&twenty)
    ));
    assert_eq!(timing["pages"], 20, "{timing}");
    eprintln!("20-page document, first page shown after {timing}");
    browser.screenshot("twenty-pages-first");
    let violations = browser.csp_violations();
    assert!(violations.is_empty(), "CSP violations: {violations:?}");
}

/// Every page carries the Content-Security-Policy (an error page too); the static files are
/// served with their types, compressed (brotli, else gzip), revalidated by ETag, and cached for
/// a year under the versioned URLs the pages use; the default seal's picture stays where it was.
#[test]
fn ui_pages_carry_the_csp_and_static_files_are_compressed_and_cached() {
    let Some(service) = Service::start(Backend::Sqlite) else {
        return;
    };
    let mut api = service.api();
    let policy =
        |a: &crate::service::Answer| a.header("content-security-policy").map(str::to_owned);
    let login = api.get("/login");
    assert_eq!(login.status, 200);
    let csp = policy(&login).expect("a CSP on the login page");
    for directive in [
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "worker-src 'self'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    let missing = api.get("/sign/no-such-link");
    assert_eq!(missing.status, 404);
    assert_eq!(policy(&missing).as_deref(), Some(csp.as_str()));
    // Anything but a page may do nothing as a document.
    assert_eq!(
        policy(&api.get("/healthz")).as_deref(),
        Some("default-src 'none'; frame-ancestors 'none'"),
        "not a page"
    );

    // The stylesheet under the page's versioned URL, and under its plain one.
    let versioned = login
        .text
        .split('"')
        .find(|s| s.starts_with("/static/app.css?v="))
        .expect("the stylesheet's versioned URL")
        .to_owned();
    let css = api.get(&versioned);
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(
        css.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let plain = api.get("/static/app.css");
    assert_eq!(plain.header("cache-control"), Some("no-cache"));
    let etag = plain.header("etag").expect("an ETag").to_owned();
    api.headers = vec![("If-None-Match".into(), etag)];
    let again = api.get("/static/app.css");
    assert_eq!(again.status, 304);
    assert!(again.bytes.is_empty());

    // PDF.js, compressed as the browser asks.
    api.headers = vec![("Accept-Encoding".into(), "gzip, deflate, br, zstd".into())];
    let worker = api.get("/static/vendor/pdfjs/pdf.worker.min.mjs");
    assert_eq!(worker.status, 200);
    assert_eq!(
        worker.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(worker.header("content-encoding"), Some("br"));
    assert_eq!(worker.header("vary"), Some("Accept-Encoding"));
    assert!(worker.bytes.len() < 400_000, "{}", worker.bytes.len());
    api.headers = vec![("Accept-Encoding".into(), "gzip".into())];
    let gzipped = api.get("/static/vendor/pdfjs/pdf.min.mjs");
    assert_eq!(gzipped.header("content-encoding"), Some("gzip"));
    assert_eq!(&gzipped.bytes[..2], &[0x1f, 0x8b]);
    api.headers.clear();
    let module = api.get("/static/js/party.mjs");
    assert_eq!(
        module.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(module.header("content-encoding"), None);
    assert!(module.text.contains("pdfpages.mjs"));
    let licence = api.get("/static/vendor/pdfjs/LICENSE");
    assert!(licence.text.contains("Apache License"));

    let seal = api.get("/static/default-seal.png");
    assert_eq!(seal.status, 200);
    assert_eq!(seal.header("content-type"), Some("image/png"));
    assert_eq!(api.get("/static/no-such-file.js").status, 404);
}
