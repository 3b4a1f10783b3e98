//! The preparation wizard and a contract's page in headless Chromium, end to end with Inkan's CA:
//! a document manager creates a draft, drops PDFs (a text file and an encrypted PDF refused next
//! to the drop zone), uploads two documents at once (one with an A4 and a Letter page, one with a
//! page turned by /Rotate 90), names three parties — a signer with a valid certificate found by
//! the type-ahead (当事者型), a transaction agent (立会人型 only, and the page says why) and an
//! outside party by name and address — places their seals, a date and a text field by dragging
//! the palette's buttons onto the rendered pages (WebDriver pointer actions), moves and resizes
//! one with the mouse, places, moves and deletes another with the keyboard alone, and sends with a
//! message. The signer opens it from 「自分の対応待ち」 and signs on a desktop window, the agent
//! through the API, the outside party on a phone (390 x 844) with the one-time code from their
//! mail, filling the text field. The sender's page follows the statuses and offers the signed
//! PDFs and the certificate of completion, which pass `../shared/conformance/validate`; pdftoppm
//! shows every seal inside the rectangle placed in the browser, which is where the browser
//! showed it (within 2 points). Screens are saved under `target/screenshots/ui_prepare/`.

use std::path::Path;

use serde_json::{json, Value};

use crate::browser::{Browser, KEY_ALT, KEY_DELETE, KEY_ENTER, KEY_RIGHT, KEY_SHIFT, KEY_UP};
use crate::lifecycle::{issue, service_with_ca};
use crate::serve::Backend;
use crate::service::{labelled, Api, Service};
use crate::support::{pdf_from_objects, validate_with, wait_until};

/// A page of a test document: its media box and /Rotate. (These helpers serve `ui_sign` too.)
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub media: [f64; 4],
    pub rotate: u32,
}

pub(crate) const A4: [f64; 4] = [0.0, 0.0, 595.0, 842.0];
pub(crate) const LETTER: [f64; 4] = [0.0, 0.0, 612.0, 792.0];

/// A PDF whose pages have `shapes`, each with a few lines of black text (Helvetica) near its top
/// in the page's own space, so its rendering shows where it is.
pub(crate) fn document(title: &str, shapes: &[Shape]) -> Vec<u8> {
    let n = shapes.len();
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {n} >>",
            (0..n)
                .map(|i| format!("{} 0 R", 4 + 2 * i))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    for (i, s) in shapes.iter().enumerate() {
        let top = s.media[3] - 80.0;
        let content = format!(
            "BT /F1 20 Tf 60 {top} Td ({title} - page {}) Tj ET\n\
             BT /F1 11 Tf 60 {} Td (Article 1. The parties agree as follows.) Tj ET",
            i + 1,
            top - 30.0
        );
        let [a, b, c, d] = s.media;
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [{a} {b} {c} {d}] /Rotate {} \
             /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
            s.rotate,
            5 + 2 * i
        ));
        objects.push(format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ));
    }
    pdf_from_objects(&objects)
}

/// A point of the page as shown (left, top in points at scale 1, from the shown page's top left
/// corner) in the page's user space, by the PDF's rules (/Rotate turns the page clockwise),
/// worked out here rather than by PDF.js.
pub(crate) fn user_point(shape: Shape, left: f64, top: f64) -> (f64, f64) {
    let [llx, lly, urx, ury] = shape.media;
    match shape.rotate {
        0 => (llx + left, ury - top),
        90 => (llx + top, lly + left),
        180 => (urx - left, lly + top),
        270 => (urx - top, ury - left),
        r => panic!("rotation {r}"),
    }
}

/// The page's shown width at scale 1.
pub(crate) fn shown_width(shape: Shape) -> f64 {
    let [llx, lly, urx, ury] = shape.media;
    if shape.rotate.is_multiple_of(180) {
        urx - llx
    } else {
        ury - lly
    }
}

/// A box on the shown page (CSS pixels at `scale`) as a rectangle in user space: x, y, w, h.
pub(crate) fn user_rect(shape: Shape, scale: f64, box_: [f64; 4]) -> [f64; 4] {
    let [l, t, w, h] = box_.map(|v| v / scale);
    let (x1, y1) = user_point(shape, l, t);
    let (x2, y2) = user_point(shape, l + w, t + h);
    [x1.min(x2), y1.min(y2), (x2 - x1).abs(), (y2 - y1).abs()]
}

/// Page `page` of `pdf` rendered by pdftoppm at 72 dpi (one pixel a point): width, height and
/// the RGB bytes.
pub(crate) fn render(pdf: &Path, page: i64) -> (usize, usize, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = dir.path().join("page");
    let n = page.to_string();
    let out = std::process::Command::new("pdftoppm")
        .args(["-r", "72", "-png", "-f", &n, "-l", &n, "-singlefile"])
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
    let mut rgb = Vec::with_capacity(info.width as usize * info.height as usize * 3);
    for y in 0..info.height as usize {
        for x in 0..info.width as usize {
            let i = y * info.line_size + x * channels;
            rgb.extend_from_slice(&buf[i..i + 3]);
        }
    }
    (info.width as usize, info.height as usize, rgb)
}

/// Where a seal's ink is: the red pixels of a rendered page, each as its centre in user space.
pub(crate) fn red_points(shape: Shape, rendered: &(usize, usize, Vec<u8>)) -> Vec<(f64, f64)> {
    let (width, height, rgb) = rendered;
    let mut points = Vec::new();
    for py in 0..*height {
        for px in 0..*width {
            let i = (py * width + px) * 3;
            let (r, g, b) = (rgb[i], rgb[i + 1], rgb[i + 2]);
            if r > 150 && g < 110 && b < 110 {
                points.push(user_point(shape, px as f64 + 0.5, py as f64 + 0.5));
            }
        }
    }
    points
}

pub(crate) fn inside(point: (f64, f64), rect: [f64; 4], margin: f64) -> bool {
    point.0 >= rect[0] - margin
        && point.0 <= rect[0] + rect[2] + margin
        && point.1 >= rect[1] - margin
        && point.1 <= rect[1] + rect[3] + margin
}

/// Scrolls so that the point at (`fx`, `fy`) of page `page` of the wizard's document `doc` (as
/// fractions of the shown page) is in the middle of the window; returns it in viewport pixels.
fn point_on_page(browser: &Browser, doc: &str, page: usize, fx: f64, fy: f64) -> (f64, f64) {
    let at = browser.script(&format!(
        "const page = document.querySelectorAll('#field-documents .document[data-document=\"{doc}\"] .pdf-page')[{}];
         let r = page.getBoundingClientRect();
         window.scrollBy(0, r.top + {fy} * r.height - innerHeight / 2);
         r = page.getBoundingClientRect();
         return [r.left + {fx} * r.width, r.top + {fy} * r.height];",
        page - 1
    ));
    (at[0].as_f64().expect("x"), at[1].as_f64().expect("y"))
}

/// The contract's fields as the API has them.
fn api_fields(api: &mut Api, id: &str) -> Vec<Value> {
    let a = api.get(&format!("/api/contracts/{id}/fields"));
    assert_eq!(a.status, 200, "{:?}", a.body);
    a.body.as_array().expect("fields").clone()
}

/// One field of the contract as the API has it.
fn api_field(api: &mut Api, id: &str, field: &str) -> Value {
    api_fields(api, id)
        .into_iter()
        .find(|f| f["id"] == field)
        .unwrap_or_else(|| panic!("field {field}"))
}

/// The numbers in a text, in order (a position readout: x, y, width, height).
pub(crate) fn numbers(text: &str) -> Vec<f64> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// An element's `textContent`, which WebDriver's text leaves out for a visually hidden one.
fn text_content(browser: &Browser, css: &str) -> String {
    let css = serde_json::to_string(css).expect("JSON");
    browser
        .script(&format!(
            "return document.querySelector({css}).textContent;"
        ))
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// WebDriver's PageUp and PageDown keys (`ui_sign` presses them too).
pub(crate) const KEY_PAGE_UP: &str = "\u{e00e}";
pub(crate) const KEY_PAGE_DOWN: &str = "\u{e00f}";

fn rect_of(field: &Value) -> [f64; 4] {
    ["x", "y", "width", "height"].map(|k| field[k].as_f64().expect("a number"))
}

pub(crate) fn close(a: [f64; 4], b: [f64; 4], tolerance: f64) -> bool {
    a.iter().zip(&b).all(|(x, y)| (x - y).abs() <= tolerance)
}

/// Waits until the wizard's status line says the last change was saved.
fn wait_saved(browser: &Browser) {
    wait_until(
        std::time::Duration::from_secs(10),
        "the change saved",
        || {
            let status = browser.text("#save-status");
            status.starts_with("保存しました")
        },
    );
}

/// The link's path (`/sign/…`) in the newest mail to `to` with `subject`.
fn mailed_link(service: &Service, to: &str, subject: &str) -> String {
    let mail = service.mail_to(to, subject);
    mail["body"]
        .as_str()
        .expect("body")
        .lines()
        .find_map(|l| l.trim().strip_prefix("https://sign.example.jp"))
        .expect("the link")
        .to_owned()
}

const REQUEST: &str = "【署名依頼】業務委託契約書（Inkan）";

#[test]
fn ui_a_contract_prepared_on_the_page_is_signed_and_its_seals_sit_where_they_were_placed() {
    let Some((service, ca)) = service_with_ca(Backend::Sqlite) else {
        return;
    };
    let Some(mut browser) = Browser::start("ui_prepare") else {
        return;
    };
    browser.set_timeout(std::time::Duration::from_secs(20));
    let base = service.app.base.clone();
    let root = ca.path().join("ca/root.pem");
    let root = root.to_str().expect("root").to_owned();
    let work = tempfile::tempdir().expect("tempdir");
    let mut admin = service.admin();
    let mut op = service.operator();
    let (_, mut manager) = service.user(
        &mut admin,
        "bunsho@example.jp",
        &["document_manager"],
        "Bunsho2026x",
    );
    let (yamada, mut signer) =
        service.user(&mut admin, "yamada@example.jp", &["signer"], "Yamada2026x");
    issue(&mut signer, &mut op, "order-yamada", 1);
    let (agent_id, mut agent) = service.user(
        &mut admin,
        "agent@example.jp",
        &["transaction_agent"],
        "Agent2026x",
    );
    for (id, name) in [(&yamada, "山田 太郎"), (&agent_id, "取引 次郎")] {
        let a = admin.patch(&format!("/api/users/{id}"), json!({ "display_name": name }));
        assert_eq!(a.status, 200, "{:?}", a.body);
    }
    let login = |browser: &Browser, email: &str, password: &str| {
        browser.goto(&format!("{base}/login"));
        browser.fill("#email", email);
        browser.fill("#password", password);
        browser.submit("#login-form");
        browser.wait_for("#me");
    };

    // The documents: one with an A4 and a Letter page, one with a page turned by /Rotate 90.
    let main_shapes = [
        Shape {
            media: A4,
            rotate: 0,
        },
        Shape {
            media: LETTER,
            rotate: 0,
        },
    ];
    let annex_shapes = [Shape {
        media: A4,
        rotate: 90,
    }];
    let main_pdf = work.path().join("業務委託契約書.pdf");
    std::fs::write(&main_pdf, document("Service agreement", &main_shapes)).expect("write");
    let annex_pdf = work.path().join("別紙.pdf");
    std::fs::write(&annex_pdf, document("Annex", &annex_shapes)).expect("write");
    let locked_pdf = work.path().join("locked.pdf");
    let locked = String::from_utf8_lossy(&crate::support::minimal_pdf("locked")).replace(
        "/Root 1 0 R",
        "/Root 1 0 R /Encrypt << /Filter /Standard /V 1 /R 2 >>",
    );
    std::fs::write(&locked_pdf, locked).expect("write");

    // The list, empty, says what to do; a new draft opens the wizard.
    login(&browser, "bunsho@example.jp", "Bunsho2026x");
    browser.click("nav.side a[href='/contracts']");
    browser.wait_for("#contracts-none");
    assert!(
        browser
            .text("#contracts-none")
            .contains("「新しい契約」から作成"),
        "{}",
        browser.text("#contracts-none")
    );
    browser.click("#new-contract summary");
    browser.fill("#title", "業務委託契約書");
    browser.submit("#contract-new");
    browser.wait_for("#prepare[data-ready=true]");
    let id = browser
        .current_url()
        .rsplit('/')
        .next()
        .expect("the contract's id")
        .to_owned();
    assert!(!browser.exists("#step-documents[hidden]"), "step 1 first");
    browser.screenshot("wizard-documents-empty");

    // Refusals next to the drop zone: a text file dropped, an encrypted PDF chosen.
    browser.script(
        "const files = new DataTransfer();
         files.items.add(new File(['just some text'], 'memo.txt', { type: 'text/plain' }));
         document.getElementById('dropzone').dispatchEvent(
             new DragEvent('drop', { dataTransfer: files, bubbles: true, cancelable: true }));",
    );
    browser.wait_for("#upload-error:not([hidden])");
    assert_eq!(
        browser.text("#upload-error"),
        "memo.txt: PDF ファイルではありません"
    );
    browser.choose_file("#file-input", &locked_pdf);
    wait_until(
        std::time::Duration::from_secs(10),
        "the encrypted PDF refused",
        || browser.text("#upload-error").contains("locked.pdf"),
    );
    assert!(
        browser.text("#upload-error").contains("暗号化"),
        "{}",
        browser.text("#upload-error")
    );
    browser.screenshot("wizard-refusals");

    // Both documents at once, each with its progress bar.
    browser.choose_file_list("#file-input", &[main_pdf.as_path(), annex_pdf.as_path()]);
    wait_until(std::time::Duration::from_secs(20), "two documents", || {
        browser.count("#document-list li") == 2
    });
    let documents = browser.texts("#document-list .document-name");
    assert_eq!(documents, ["業務委託契約書.pdf", "別紙.pdf"]);
    let progress = browser.script(
        "return [...document.querySelectorAll('#uploads .upload.done progress')].map(p => p.value);",
    );
    assert_eq!(progress, json!([100, 100]), "the progress bars ran full");
    browser.screenshot("wizard-documents");
    let listed = manager.get(&format!("/api/contracts/{id}/documents")).body;
    let doc_main = listed[0]["id"].as_str().expect("id").to_owned();
    let doc_annex = listed[1]["id"].as_str().expect("id").to_owned();

    // Parties: the signer found by the type-ahead and chosen with the keyboard.
    browser.click("#to-parties");
    browser.wait_for("#step-parties:not([hidden])");
    browser.type_into("#person-search", "山田");
    // Once the server has answered (`aria-busy` gone) the list is drawn no more.
    wait_until(std::time::Duration::from_secs(10), "the one match", || {
        browser.count("#person-options:not([aria-busy]) [role=option]") == 1
    });
    assert!(
        browser
            .text(&format!("#person-{yamada}"))
            .contains("電子証明書(当事者型)で署名できます"),
        "{}",
        browser.text(&format!("#person-{yamada}"))
    );
    browser.screenshot("wizard-type-ahead");
    browser.type_into("#person-search", KEY_ENTER);
    browser.wait_for("#person-chosen:not([hidden])");
    assert!(
        browser.script("return document.getElementById('kind-certificate').checked;")
            == json!(true)
    );
    browser.fill("#party-step", "1");
    browser.click("#add-party");
    browser.wait_for("#party-list tbody tr");

    // The transaction agent: a certificate signature is not available, and why.
    browser.type_into("#person-search", "取引");
    wait_until(std::time::Duration::from_secs(10), "the one match", || {
        browser.count("#person-options:not([aria-busy]) [role=option]") == 1
    });
    assert!(browser
        .text(&format!("#person-{agent_id}"))
        .contains("立会人型のみ"));
    browser.click(&format!("#person-{agent_id}"));
    browser.wait_for("#kind-certificate-why:not([hidden])");
    assert_eq!(
        browser.text("#kind-certificate-why"),
        "取引士は立会人型の署名のみです"
    );
    assert_eq!(
        browser.script("const c = document.getElementById('kind-certificate'); return [c.disabled, document.getElementById('kind-simple').checked];"),
        json!([true, true])
    );
    browser.fill("#party-step", "2");
    browser.screenshot("wizard-agent-simple-only");
    browser.click("#add-party");
    wait_until(std::time::Duration::from_secs(10), "two parties", || {
        browser.count("#party-list tbody tr") == 2
    });

    // The outside party, by name and address; an address missing is said next to its field.
    browser.click("#party-type-outside");
    browser.wait_for("#outside-fields:not([hidden])");
    assert_eq!(
        browser.text("#kind-certificate-why"),
        "社外の方は立会人型の署名のみです"
    );
    browser.fill("#party-name", "社外 花子");
    browser.fill("#party-step", "2");
    browser.click("#add-party");
    browser.wait_for("#party-email-error:not([hidden])");
    assert_eq!(browser.text("#party-email-error"), "入力してください");
    browser.fill("#party-email", "guest@example.com");
    browser.click("#add-party");
    wait_until(std::time::Duration::from_secs(10), "three parties", || {
        browser.count("#party-list tbody tr") == 3
    });
    browser.screenshot("wizard-parties");
    // Every input of the wizard (each step's, the hidden ones too) has a label.
    let unlabelled = browser.script(
        "return [...document.querySelectorAll('#prepare input:not([type=hidden]), #prepare select, #prepare textarea')]
            .filter(i => !(i.labels && i.labels.length) && !i.getAttribute('aria-label'))
            .map(i => i.id || i.name);",
    );
    assert_eq!(unlabelled, json!([]), "inputs without a label");
    let contract = manager.get(&format!("/api/contracts/{id}")).body;
    let party = |email: &str| -> String {
        contract["parties"]
            .as_array()
            .expect("parties")
            .iter()
            .find(|p| p["email"] == email)
            .and_then(|p| p["id"].as_str())
            .unwrap_or_else(|| panic!("{email} in {contract}"))
            .to_owned()
    };
    let (p_yamada, p_agent, p_guest) = (
        party("yamada@example.jp"),
        party("agent@example.jp"),
        party("guest@example.com"),
    );
    let kinds: Vec<(Value, Value)> = contract["parties"]
        .as_array()
        .expect("parties")
        .iter()
        .map(|p| (p["step"].clone(), p["signature_kind"].clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            (json!(1), json!("certificate")),
            (json!(2), json!("simple")),
            (json!(2), json!("simple"))
        ]
    );

    // Fields: the palette's buttons dragged onto the rendered pages.
    browser.click("#to-fields");
    browser.wait_for("#prepare[data-rendered=true]");
    wait_until(
        std::time::Duration::from_secs(20),
        "the pages painted",
        || browser.count("#field-documents .pdf-page.painted") >= 2,
    );
    let mut placed = 0;
    let mut drop =
        |browser: &Browser, party: &str, tool: &str, doc: &str, page: usize, fx: f64, fy: f64| {
            browser.select("#palette-party", party);
            let (x, y) = point_on_page(browser, doc, page, fx, fy);
            browser.drag(&format!("#tool-{tool}"), x, y);
            placed += 1;
            wait_until(
                std::time::Duration::from_secs(10),
                "the field placed",
                || browser.count("#field-documents .placed") == placed,
            );
            wait_saved(browser);
        };
    drop(&browser, &p_yamada, "signature", &doc_main, 1, 0.70, 0.80);
    drop(&browser, &p_yamada, "date_signed", &doc_main, 1, 0.70, 0.70);
    drop(&browser, &p_agent, "signature", &doc_main, 2, 0.30, 0.80);
    drop(&browser, &p_guest, "signature", &doc_annex, 1, 0.65, 0.70);
    drop(&browser, &p_guest, "text", &doc_annex, 1, 0.30, 0.40);
    browser.screenshot("wizard-fields-placed");
    let fields = api_fields(&mut manager, &id);
    assert_eq!(fields.len(), 5, "{fields:?}");
    let field_of = |party: &str, kind: &str| -> Value {
        fields
            .iter()
            .find(|f| f["party_id"] == party && f["kind"] == kind)
            .cloned()
            .unwrap_or_else(|| panic!("{kind} of {party} in {fields:?}"))
    };
    let guest_text = field_of(&p_guest, "text")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let date = field_of(&p_yamada, "date_signed");
    let date_id = date["id"].as_str().expect("id").to_owned();

    // With the mouse: the date field moved, then made wider by its corner.
    let (x, y) = point_on_page(&browser, &doc_main, 1, 0.70, 0.70);
    browser.drag(
        &format!(".placed[data-field='{date_id}']"),
        x - 150.0,
        y + 40.0,
    );
    wait_saved(&browser);
    let moved = api_fields(&mut manager, &id)
        .into_iter()
        .find(|f| f["id"] == date_id.as_str())
        .expect("the date field");
    let before = rect_of(&date);
    let after = rect_of(&moved);
    assert!(
        after[0] < before[0] - 50.0 && after[1] < before[1] - 10.0,
        "moved left and down: {before:?} → {after:?}"
    );
    assert!(
        close(
            [after[2], after[3], 0.0, 0.0],
            [before[2], before[3], 0.0, 0.0],
            0.05
        ),
        "same size: {before:?} → {after:?}"
    );
    browser.script(&format!(
        "document.querySelector(\".placed[data-field='{date_id}']\").scrollIntoView({{ block: 'center' }});"
    ));
    let corner = browser.script(&format!(
        "const r = document.querySelector(\".placed[data-field='{date_id}'] .resize-handle\").getBoundingClientRect();
         return [r.left + r.width / 2, r.top + r.height / 2];"
    ));
    browser.drag(
        &format!(".placed[data-field='{date_id}'] .resize-handle"),
        corner[0].as_f64().expect("x") + 60.0,
        corner[1].as_f64().expect("y") + 10.0,
    );
    wait_saved(&browser);
    let resized = rect_of(
        &api_fields(&mut manager, &id)
            .into_iter()
            .find(|f| f["id"] == date_id.as_str())
            .expect("the date field"),
    );
    assert!(
        resized[2] > after[2] + 30.0,
        "wider: {after:?} → {resized:?}"
    );
    assert!(
        (resized[0] - after[0]).abs() < 0.05,
        "same left edge: {after:?} → {resized:?}"
    );

    // Onto another page: the date field dragged from page 1 to page 2 (a Letter page, shown at
    // another scale) lands where it was let go, as large as it was (checked after the reload).
    let to = browser.script(&format!(
        "const field = document.querySelector(\".placed[data-field='{date_id}']\");
         window.scrollBy(0, field.getBoundingClientRect().top - innerHeight / 4);
         const page = document.querySelector(
             '#field-documents .document[data-document=\"{doc_main}\"] .pdf-page[data-page=\"2\"]');
         const p = page.getBoundingClientRect();
         return [p.left, p.top, p.width, innerHeight];"
    ));
    let [left, top, width, window_height] = [0, 1, 2, 3].map(|i| to[i].as_f64().expect("a number"));
    let (x, y) = ((left + 0.4 * width).round(), (top + 120.0).round());
    assert!(y < window_height - 20.0, "page 2 in the window: {to}");
    browser.drag(&format!(".placed[data-field='{date_id}']"), x, y);
    wait_saved(&browser);
    // Held by its middle, so its middle is where the mouse let go.
    let scale = width / shown_width(main_shapes[1]);
    let [w, h] = [resized[2], resized[3]];
    let dropped = user_rect(
        main_shapes[1],
        1.0,
        [
            (x - left) / scale - w / 2.0,
            (y - top) / scale - h / 2.0,
            w,
            h,
        ],
    );
    browser.screenshot("wizard-dragged-to-page-2");

    // With the keyboard alone: a checkbox placed from the palette onto the page in view, moved
    // with the arrow keys (Shift: 10 points), widened with Alt, then deleted.
    point_on_page(&browser, &doc_main, 1, 0.5, 0.5);
    browser.script("document.getElementById('palette-party').focus();");
    browser.press(&KEY_UP.repeat(2));
    assert_eq!(
        browser.script("return document.getElementById('palette-party').value;"),
        json!(p_yamada),
        "the signer chosen with the arrow keys"
    );
    browser.tab_to("tool-checkbox", 10);
    browser.press(KEY_ENTER);
    wait_until(
        std::time::Duration::from_secs(10),
        "the checkbox placed",
        || api_fields(&mut manager, &id).len() == 6,
    );
    let checkbox = api_fields(&mut manager, &id)
        .into_iter()
        .find(|f| f["kind"] == "checkbox")
        .expect("the checkbox");
    let checkbox_id = checkbox["id"].as_str().expect("id").to_owned();
    assert_eq!(checkbox["party_id"], p_yamada.as_str());
    assert_eq!(checkbox["document_id"], doc_main.as_str());
    assert_eq!(
        browser.script("return document.activeElement.dataset.field;"),
        json!(checkbox_id),
        "the new field has the focus"
    );
    browser.press(&KEY_RIGHT.repeat(3));
    browser.press(&KEY_UP.repeat(2));
    browser.press_with(KEY_SHIFT, KEY_RIGHT.chars().next().expect("key"));
    browser.press_with(KEY_ALT, KEY_RIGHT.chars().next().expect("key"));
    let start = rect_of(&checkbox);
    let want = [start[0] + 13.0, start[1] + 2.0, start[2] + 1.0, start[3]];
    wait_until(
        std::time::Duration::from_secs(10),
        "the keyboard's moves saved",
        || {
            let now = api_fields(&mut manager, &id)
                .into_iter()
                .find(|f| f["id"] == checkbox_id.as_str())
                .map(|f| rect_of(&f));
            now.is_some_and(|r| close(r, want, 0.05))
        },
    );
    browser.screenshot("wizard-keyboard");
    // PageDown takes it to the next page (said in the live region, the focus kept on it), and
    // PageUp back to where it was.
    browser.press(KEY_PAGE_DOWN);
    wait_until(
        std::time::Duration::from_secs(10),
        "the checkbox on page 2",
        || api_field(&mut manager, &id, &checkbox_id)["page"] == 2,
    );
    assert!(
        text_content(&browser, "#fields-live").ends_with("業務委託契約書.pdf 2 ページ目"),
        "{}",
        text_content(&browser, "#fields-live")
    );
    assert_eq!(
        browser.script("return document.activeElement.dataset.field;"),
        json!(checkbox_id),
        "the moved field keeps the focus"
    );
    browser.screenshot("wizard-keyboard-page-2");
    browser.press(KEY_PAGE_UP);
    wait_until(
        std::time::Duration::from_secs(10),
        "the checkbox back on page 1",
        || {
            let field = api_field(&mut manager, &id, &checkbox_id);
            field["page"] == 1 && close(rect_of(&field), want, 0.05)
        },
    );
    browser.press(KEY_DELETE);
    wait_until(
        std::time::Duration::from_secs(10),
        "the checkbox deleted",
        || api_fields(&mut manager, &id).len() == 5,
    );
    assert_eq!(browser.focused(), "tool-checkbox");

    // Reloading shows the same draft: every field where it was, drawn where the API has it
    // (the browser's boxes turned back into points here, from the page's size and rotation).
    browser.goto(&format!("{base}/contracts/{id}?again#fields"));
    browser.wait_for("#prepare[data-rendered=true]");
    assert_eq!(browser.count("#party-list tbody tr"), 3);
    assert_eq!(browser.count("#document-list li"), 2);
    wait_until(
        std::time::Duration::from_secs(20),
        "the fields drawn again",
        || browser.count("#field-documents .placed") == 5,
    );
    let boxes = browser.script(
        "return [...document.querySelectorAll('#field-documents .placed')].map(el => {
            const page = el.closest('.pdf-page');
            const p = page.getBoundingClientRect(), r = el.getBoundingClientRect();
            return { field: el.dataset.field, page: Number(page.dataset.page),
                     document: el.closest('.document').dataset.document, page_width: p.width,
                     box: [r.left - p.left, r.top - p.top, r.width, r.height] };
        });",
    );
    let fields = api_fields(&mut manager, &id);
    for b in boxes.as_array().expect("boxes") {
        let field = fields
            .iter()
            .find(|f| f["id"] == b["field"])
            .unwrap_or_else(|| panic!("{b} in {fields:?}"));
        let page = b["page"].as_u64().expect("page") as usize;
        assert_eq!(field["page"], json!(page));
        assert_eq!(field["document_id"], b["document"]);
        let shape = if b["document"] == doc_main.as_str() {
            main_shapes[page - 1]
        } else {
            annex_shapes[page - 1]
        };
        let scale = b["page_width"].as_f64().expect("width") / shown_width(shape);
        let shown: Vec<f64> = b["box"]
            .as_array()
            .expect("box")
            .iter()
            .map(|v| v.as_f64().expect("number"))
            .collect();
        let from_browser = user_rect(shape, scale, [shown[0], shown[1], shown[2], shown[3]]);
        assert!(
            close(from_browser, rect_of(field), 2.0),
            "field {} drawn at {from_browser:?}, stored at {:?}",
            field["kind"],
            rect_of(field)
        );
    }
    // The turned page's field is taller than wide on the screen, as it is wide in points.
    browser.screenshot("wizard-reloaded");
    let date = api_field(&mut manager, &id, &date_id);
    assert_eq!(date["page"], 2, "{date}");
    assert!(
        close(rect_of(&date), dropped, 2.0),
        "dropped at {dropped:?}, stored at {:?}",
        rect_of(&date)
    );

    // The readout is as the page shows: on the page turned by /Rotate 90 the text field, wide
    // on the screen, reads wide (from the shown page's top left corner), though the API has it
    // taller than wide in the page's own points.
    browser.script(&format!(
        "const field = document.querySelector(\".placed[data-field='{guest_text}']\");
         field.scrollIntoView({{ block: 'center' }});
         field.focus();"
    ));
    browser.wait_for("#field-panel:not([hidden])");
    let readout: [f64; 4] = numbers(&browser.text("#field-position"))
        .try_into()
        .unwrap_or_else(|n| panic!("x, y, width, height: {n:?}"));
    let stored = rect_of(&api_field(&mut manager, &id, &guest_text));
    assert!(stored[3] > stored[2], "stored taller than wide: {stored:?}");
    // Turned clockwise: the shown left is the page's y, the shown top its x (the media box
    // starts at 0 0).
    let shown = [stored[1], stored[0], stored[3], stored[2]];
    assert!(
        close(readout, shown, 0.06),
        "readout {readout:?}, shown at {shown:?}"
    );
    assert!(readout[2] > readout[3], "wide: {readout:?}");
    browser.screenshot("wizard-turned-readout");

    // Review: a message and the expiry, saved as typed; then send.
    browser.click("#to-review");
    browser.wait_for("#step-review:not([hidden])");
    assert_eq!(
        browser.count("#checklist li.problem"),
        0,
        "{:?}",
        browser.texts("#checklist li")
    );
    browser.fill(
        "#opt-message",
        "ご確認のうえ、ご署名をお願いいたします。\n期日: 今月末",
    );
    browser.type_into("#opt-message", crate::browser::KEY_TAB);
    wait_saved(&browser);
    browser.fill("#opt-expiry_days", "0");
    browser.type_into("#opt-expiry_days", crate::browser::KEY_TAB);
    browser.wait_for("#opt-expiry_days-error:not([hidden])");
    assert_eq!(
        browser.text("#opt-expiry_days-error"),
        "有効期限は送信から 1〜365 日で指定してください"
    );
    browser.fill("#opt-expiry_days", "14");
    browser.type_into("#opt-expiry_days", crate::browser::KEY_TAB);
    wait_until(
        std::time::Duration::from_secs(10),
        "the expiry saved",
        || manager.get(&format!("/api/contracts/{id}")).body["expiry_days"] == 14,
    );
    browser.screenshot("wizard-review");
    let violations: Vec<String> = browser
        .console()
        .into_iter()
        .filter(|m| m.contains("Content Security Policy") || m.contains("Content-Security-Policy"))
        .collect();
    assert!(violations.is_empty(), "CSP violations: {violations:?}");
    browser.click("#send");
    browser.wait_for("#contract[data-status=sent]");
    assert_eq!(browser.text("#contract-status"), "送信済み(署名待ち)");
    let statuses = |browser: &Browser| browser.texts("#parties .party-status");
    assert_eq!(statuses(&browser), ["通知済み", "順番待ち", "順番待ち"]);
    assert!(browser.text("#contract-message").contains("期日: 今月末"));
    browser.click(&format!("#preview-{doc_annex} summary"));
    browser.wait_for(&format!("#preview-{doc_annex}[data-rendered=true]"));
    browser.script(&format!(
        "document.getElementById('preview-{doc_annex}').scrollIntoView({{ block: 'start' }});"
    ));
    browser.screenshot("contract-sent");

    // The signer: 「自分の対応待ち」, then the signing page on the desktop.
    browser.click("#logout");
    browser.wait_for("#login-form");
    login(&browser, "yamada@example.jp", "Yamada2026x");
    browser.click("nav.side a[href='/contracts']");
    browser.wait_for("#contracts");
    assert_eq!(browser.text("#tab-waiting .count"), "1");
    browser.screenshot("signer-waiting");
    browser.click(&format!("#open-{id}"));
    browser.wait_for("#sign-form");
    assert!(browser
        .text("#sender-message")
        .contains("ご署名をお願いいたします"));
    browser.wait_for("#party[data-rendered=true] .pdf-page.painted");
    browser.screenshot("signer-page");
    browser.submit("#sign-form");
    browser.wait_for("#stage-done, #stage-completed");

    // The agent, through the API with their link.
    let link = mailed_link(&service, "agent@example.jp", REQUEST);
    let token = link.rsplit('/').next().expect("token");
    let a = agent.post(&format!("/api/party/{token}/sign"), json!({}));
    assert_eq!(a.status, 200, "{:?}", a.body);

    // The outside party on a phone: the code from the mail, the text field, 「署名する」.
    browser.click("#logout");
    browser.wait_for("#login-form");
    browser.set_viewport(390, 844);
    let link = mailed_link(&service, "guest@example.com", REQUEST);
    browser.goto(&format!("{base}{link}"));
    browser.click("#send-code");
    browser.wait_for("#code-sent:not([hidden])");
    let code = labelled(
        service.mail_to("guest@example.com", "【確認コード】業務委託契約書")["body"]
            .as_str()
            .expect("body"),
        "確認コード:",
    );
    browser.fill("#code", &code);
    browser.submit("#code-form");
    browser.wait_for("#sign-form");
    browser.wait_for(&format!(".field-box[data-field='{guest_text}']"));
    // The guide goes down the turned page as it shows: the text field (higher on the screen,
    // lower in the page's own y, where the server's order puts it second) first, then the seal.
    let guest_seal = field_of(&p_guest, "signature")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let current = |browser: &Browser| {
        let step = browser.script(
            "const step = document.querySelector('#steps .step.current');
             return [step.dataset.field, step.querySelector('.step-count').textContent];",
        );
        (
            step[0].as_str().unwrap_or_default().to_owned(),
            step[1].as_str().unwrap_or_default().to_owned(),
        )
    };
    let (field, count) = current(&browser);
    assert_eq!(field, guest_text, "the text field first");
    assert!(count.starts_with("入力箇所 1 / 2"), "{count}");
    assert_eq!(
        text_content(
            &browser,
            &format!(".field-box[data-field='{guest_text}'] .field-number")
        ),
        "1"
    );
    browser.click("#guide-next");
    let (field, count) = current(&browser);
    assert_eq!(field, guest_seal, "then the seal");
    assert!(count.starts_with("入力箇所 2 / 2"), "{count}");
    browser.click("#guide-prev");
    browser.fill(&format!("#f-{guest_text}"), "東京都港区芝公園 4-2-8");
    browser.screenshot("guest-phone");
    browser.submit("#sign-form");
    browser.wait_for("#stage-done, #stage-completed");
    browser.screenshot("guest-signed");
    browser.set_viewport(1280, 900);

    // The sender follows it to completion and downloads the signed PDFs and the certificate.
    login(&browser, "bunsho@example.jp", "Bunsho2026x");
    wait_until(std::time::Duration::from_secs(90), "completion", || {
        browser.goto(&format!("{base}/contracts/{id}"));
        browser.wait_for("#contract-status");
        browser.exists("#certificate")
    });
    assert_eq!(browser.text("#contract-status"), "締結済み");
    assert_eq!(statuses(&browser), ["署名済み", "署名済み", "署名済み"]);
    browser.screenshot("contract-completed");
    // Beside the downloads, the way to make Acrobat trust their signatures.
    assert_eq!(
        browser.script(
            "return document.querySelector('#downloads #trust-link').getAttribute('href');"
        ),
        "/trust"
    );
    let links = browser.script(
        "return [...document.querySelectorAll('#downloads a.download')].map(a => a.getAttribute('href'));",
    );
    let links: Vec<String> = links
        .as_array()
        .expect("links")
        .iter()
        .map(|l| l.as_str().expect("href").to_owned())
        .collect();
    assert_eq!(
        links.len(),
        3,
        "two documents and the certificate: {links:?}"
    );
    let fields = api_fields(&mut manager, &id);
    for (n, (href, doc, shapes)) in [
        (&links[0], &doc_main, &main_shapes[..]),
        (&links[1], &doc_annex, &annex_shapes[..]),
    ]
    .into_iter()
    .enumerate()
    {
        assert!(href.contains(doc.as_str()), "{href}");
        let a = manager.get(href);
        assert_eq!(a.status, 200, "{}", a.text);
        let path = work.path().join(format!("signed-{n}.pdf"));
        std::fs::write(&path, &a.bytes).expect("write");
        let (valid, verdict) = validate_with(
            &path,
            &root,
            &["--level", "B-LTA", "--revocation", "--signatures", "3"],
        );
        assert!(valid, "document {n}: {verdict}");
        // Every seal inside its rectangle, and no seal's ink anywhere else on its page.
        for (i, shape) in shapes.iter().enumerate() {
            let seals: Vec<[f64; 4]> = fields
                .iter()
                .filter(|f| {
                    f["document_id"] == doc.as_str()
                        && f["page"] == json!(i + 1)
                        && f["kind"] == "signature"
                })
                .map(rect_of)
                .collect();
            let red = red_points(*shape, &render(&path, i as i64 + 1));
            for seal in &seals {
                let ink = red.iter().filter(|p| inside(**p, *seal, 0.0)).count();
                eprintln!(
                    "document {n} page {}: {ink} red pixels in the seal at {seal:?}",
                    i + 1
                );
                assert!(
                    ink > 50,
                    "document {n} page {}: the seal in {seal:?} has {ink} red pixels",
                    i + 1
                );
            }
            let astray: Vec<_> = red
                .iter()
                .filter(|p| !seals.iter().any(|s| inside(**p, *s, 2.0)))
                .take(5)
                .collect();
            assert!(
                astray.is_empty(),
                "document {n} page {}: red outside the seals {seals:?}: {astray:?}",
                i + 1
            );
        }
    }
    let certificate = manager.get(&links[2]);
    assert_eq!(certificate.status, 200);
    let path = work.path().join("certificate.pdf");
    std::fs::write(&path, &certificate.bytes).expect("write");
    let (valid, verdict) = validate_with(&path, &root, &["--level", "B-LTA", "--revocation"]);
    assert!(valid, "certificate of completion: {verdict}");
}
