//! Renders certificates and checks them with outside tools: `qpdf --check` for the structure,
//! poppler's `pdftotext`, `pdfinfo` and `pdffonts` for what a reader sees, and pdf-sign for
//! signing the result as the service will.

mod sample;

use std::path::Path;
use std::process::Command;

use report::{render, Completion, ReportError};

/// The output of `tool args… file` (`pdftotext` writing to standard output), or `None` (with
/// a note) when the tool is not installed.
fn run(tool: &str, args: &[&str], pdf: &Path) -> Option<String> {
    let mut command = Command::new(tool);
    command.args(args).arg(pdf);
    if tool == "pdftotext" {
        command.arg("-");
    }
    let out = match command.output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("note: {tool} is not installed; its check is skipped");
            return None;
        }
        Err(e) => panic!("running {tool}: {e}"),
    };
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Lossy: poppler writes a document title holding characters outside the BMP into
    // `-bbox`'s HTML head as unpaired surrogates.
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

struct Rendered {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    bytes: Vec<u8>,
}

fn rendered(c: &Completion) -> Rendered {
    let bytes = render(c).expect("the certificate renders");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("certificate.pdf");
    std::fs::write(&path, &bytes).expect("write the PDF");
    Rendered {
        _dir: dir,
        path,
        bytes,
    }
}

fn qpdf_check(r: &Rendered) {
    if let Some(out) = run("qpdf", &["--check"], &r.path) {
        assert!(out.contains("No syntax or stream encoding errors"), "{out}");
    }
}

fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// `pdfinfo`'s value for `key`.
fn info_field(info: &str, key: &str) -> String {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in {info}"))
        .trim()
        .to_owned()
}

/// The pages' texts as `pdftotext` reads them (pages end with a form feed).
fn page_texts(r: &Rendered) -> Option<Vec<String>> {
    let text = run("pdftotext", &["-enc", "UTF-8"], &r.path)?;
    let mut pages: Vec<String> = text.split('\u{c}').map(str::to_owned).collect();
    if pages.last().is_some_and(|p| p.trim().is_empty()) {
        pages.pop();
    }
    Some(pages)
}

/// Every word's box from `pdftotext -bbox`, as (page, xmin, ymin, xmax, ymax, word).
fn word_boxes(r: &Rendered) -> Option<Vec<(usize, [f32; 4], String)>> {
    let html = run("pdftotext", &["-bbox", "-enc", "UTF-8"], &r.path)?;
    let attr = |tag: &str, name: &str| -> f32 {
        let start = tag.find(&format!("{name}=\"")).expect("attribute") + name.len() + 2;
        let end = start + tag[start..].find('"').expect("closing quote");
        tag[start..end].parse().expect("a number")
    };
    let mut page = 0;
    let mut words = Vec::new();
    for line in html.lines() {
        let line = line.trim();
        if line.starts_with("<page ") {
            page += 1;
        } else if let Some(rest) = line.strip_prefix("<word ") {
            let text = rest[rest.find('>').expect("tag end") + 1..]
                .trim_end_matches("</word>")
                .to_owned();
            let b = [
                attr(rest, "xMin"),
                attr(rest, "yMin"),
                attr(rest, "xMax"),
                attr(rest, "yMax"),
            ];
            words.push((page, b, text));
        }
    }
    Some(words)
}

/// Nothing is drawn outside the page's 15 mm margins (a point of slack for poppler's
/// rounding and the font's box).
fn assert_within_margins(r: &Rendered) {
    let Some(words) = word_boxes(r) else { return };
    assert!(!words.is_empty());
    let (width, height, margin) = (595.276, 841.89, 42.52);
    for (page, [x0, y0, x1, y1], word) in &words {
        assert!(
            *x0 >= margin - 1.0 && *x1 <= width - margin + 1.0,
            "page {page}: {word:?} runs into the side margin ({x0}..{x1})"
        );
        assert!(
            *y0 >= margin - 3.0 && *y1 <= height - margin + 3.0,
            "page {page}: {word:?} runs into the top or bottom margin ({y0}..{y1})"
        );
    }
}

#[test]
fn small_japanese_certificate_is_a_valid_pdf_with_searchable_text() {
    let c = sample::small_japanese();
    let r = rendered(&c);
    assert!(r.bytes.starts_with(b"%PDF-1.7"));
    qpdf_check(&r);
    let Some(pages) = page_texts(&r) else { return };
    let text = pages.concat();
    for expected in [
        "合意締結証明書",
        "契約番号",
        "契約ID",
        "件名",
        "送信者",
        "作成日時",
        "送信日時",
        "締結日時",
        "ページ数",
        "署名前 SHA-256",
        "署名後 SHA-256",
        "順番",
        "署名方法",
        "認証方法",
        "結果",
        "操作者",
        "IPアドレス",
        "ユーザーエージェント",
        "C-2026-000123",
        "0193a5c2-7d4e-7b8a-9f10-2b3c4d5e6f70",
        "業務委託契約書（2026年度・システム保守）",
        "当事者型（証明書）",
        "メール認証コード",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }
    for d in &c.documents {
        assert!(text.contains(&d.sha256_before), "{}", d.sha256_before);
        assert!(text.contains(&d.sha256_after), "{}", d.sha256_after);
    }
    for p in &c.parties {
        assert!(text.contains(&p.email), "{}", p.email);
    }
    assert_eq!(pages.len(), 1);
    assert!(pages[0].contains("1 / 1 ページ"), "{}", pages[0]);
    assert_within_margins(&r);
}

#[test]
fn large_english_certificate_breaks_across_pages_with_every_entry_and_footer() {
    let c = sample::large_english();
    let r = rendered(&c);
    qpdf_check(&r);
    assert!(
        r.bytes.len() < 300 * 1024,
        "{} bytes: the font is not subset?",
        r.bytes.len()
    );
    let Some(info) = run("pdfinfo", &[], &r.path) else {
        return;
    };
    let count: usize = info_field(&info, "Pages").parse().expect("a page count");
    assert!(count > 1, "{count} pages");
    let pages = page_texts(&r).expect("pdftotext");
    assert_eq!(pages.len(), count);
    for (i, page) in pages.iter().enumerate() {
        let footer = format!("page {} / {count}", i + 1);
        assert!(page.contains(&footer), "no {footer:?} on page {}", i + 1);
        assert!(page.contains(&c.contract_number), "page {}", i + 1);
    }
    // Table headers are repeated on the pages a table continues on.
    let history_pages = pages.iter().filter(|p| p.contains("User agent")).count();
    assert!(
        history_pages > 5,
        "{history_pages} pages with the history header"
    );

    let text = pages.concat();
    // In content order, a cell's lines follow each other (the default order may interleave
    // the lines of neighbouring cells).
    let raw = run("pdftotext", &["-raw", "-enc", "UTF-8"], &r.path).expect("pdftotext");
    let squeezed = squeeze(&raw);
    for d in &c.documents {
        assert!(text.contains(&d.sha256_before), "{}", d.sha256_before);
        assert!(text.contains(&d.sha256_after), "{}", d.sha256_after);
    }
    for p in &c.parties {
        assert!(squeezed.contains(&squeeze(&p.email)), "{}", p.email);
    }
    assert!(squeezed.contains(&squeeze(&c.title)), "the title is cut");
    for e in [&c.events[0], &c.events[299]] {
        for part in [
            &e.at,
            &e.kind,
            e.detail.as_ref().expect("detail"),
            e.address.as_ref().expect("address"),
        ] {
            assert!(squeezed.contains(&squeeze(part)), "{part:?}");
        }
    }
    assert_within_margins(&r);
}

/// The raw text (content order) holds every user agent whole: wrapped, never cut.
#[test]
fn long_user_agents_wrap_within_their_column_and_lose_nothing() {
    let c = sample::large_english();
    let r = rendered(&c);
    let Some(raw) = run("pdftotext", &["-raw", "-enc", "UTF-8"], &r.path) else {
        return;
    };
    let squeezed = squeeze(&raw);
    for e in &c.events {
        let agent = e.user_agent.as_ref().expect("agent");
        assert!(squeezed.contains(&squeeze(agent)), "{agent}");
    }
    let words = word_boxes(&r).expect("pdftotext");
    // The user agent column starts 336 pt into the text area; no word of it crosses the edge.
    let column = 42.52 + 336.0;
    let agent_words = words
        .iter()
        .filter(|(_, [x0, ..], w)| *x0 >= column && w.contains("Mozilla"))
        .count();
    assert!(agent_words >= 300, "{agent_words}");
}

#[test]
fn a_certificate_with_only_ascii_embeds_a_subset_font() {
    let c = sample::ascii_only();
    let r = rendered(&c);
    qpdf_check(&r);
    if let Some(fonts) = run("pdffonts", &[], &r.path) {
        let font = fonts.lines().nth(2).expect("one font");
        // name (ABCDEF+IPAGothic), type, encoding, emb, sub, uni, object number, generation
        assert!(font.contains("+IPAGothic"), "{fonts}");
        assert!(font.contains("CID TrueType"), "{fonts}");
        let columns: Vec<&str> = font.split_whitespace().collect();
        let flags = &columns[columns.len() - 5..columns.len() - 2];
        assert_eq!(flags, ["yes", "yes", "yes"], "emb sub uni: {fonts}");
        assert_eq!(fonts.lines().count(), 3, "one font: {fonts}");
    }
    assert!(r.bytes.len() < 60 * 1024, "{} bytes", r.bytes.len());
    let pages = page_texts(&r).expect("pdftotext");
    assert!(pages.concat().contains("Certificate of completion"));
    assert_within_margins(&r);
}

#[test]
fn document_information_names_the_certificate_and_its_date() {
    let r = rendered(&sample::small_japanese());
    let Some(info) = run("pdfinfo", &["-isodates"], &r.path) else {
        return;
    };
    assert_eq!(info_field(&info, "Title"), "合意締結証明書 C-2026-000123");
    assert_eq!(info_field(&info, "Producer"), "Inkan");
    assert_eq!(info_field(&info, "CreationDate"), "2026-11-30T14:10:00+09");
    assert_eq!(info_field(&info, "Encrypted"), "no");
    assert_eq!(info_field(&info, "PDF version"), "1.7");
    assert!(info_field(&info, "Page size").starts_with("595.276 x 841.89"));
}

#[test]
fn the_same_completion_renders_to_the_same_bytes() {
    let c = sample::small_japanese();
    assert_eq!(render(&c).expect("renders"), render(&c).expect("renders"));
    let mut other = c.clone();
    other.completed_at = "2026-11-30 14:05:10 JST".into();
    assert_ne!(
        render(&c).expect("renders"),
        render(&other).expect("renders")
    );
}

#[test]
fn a_digest_that_is_not_sha256_hex_is_refused() {
    let mut c = sample::small_japanese();
    c.documents[1].sha256_after = "not a digest".into();
    match render(&c) {
        Err(ReportError::InvalidDigest {
            document: 1,
            which: "sha256_after",
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn empty_lists_and_unusual_characters_still_render() {
    let r = rendered(&sample::unusual());
    qpdf_check(&r);
    if let Some(pages) = page_texts(&r) {
        let text = pages.concat();
        assert!(text.contains("なし"), "{text}");
        // The emoji, which IPAGothic lacks, is drawn as a box but still extracts as itself.
        assert!(text.contains("絵文字 😀 と異体字"), "{text}");
        assert!(text.contains("を含む件名"), "{text}");
    }
    assert_within_margins(&r);
}

/// The service signs certificates with pdf-sign as an incremental update: the file must open
/// without repair, sign without being rewritten, and verify.
#[test]
fn pdf_sign_signs_the_certificate_without_rewriting_it() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=Inkan report test"])
        .args([
            "-addext",
            "keyUsage=critical,digitalSignature,nonRepudiation",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    match made {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!("openssl: {}", String::from_utf8_lossy(&out.stderr)),
        Err(_) => {
            eprintln!("note: openssl is not installed; the signing check is skipped");
            return;
        }
    }
    let pem = |p: &Path| std::fs::read(p).expect("read PEM");
    let signer =
        pdf_sign::KeySigner::from_pem(&pem(&key), &pem(&cert), &[], false).expect("signer");
    let pdf = render(&sample::large_english()).expect("renders");
    let document = pdf_sign::Document::open(pdf.as_slice()).expect("opens");
    assert!(!document.repaired, "pdf-sign had to repair the certificate");
    assert!(document.page_count().expect("pages") > 1);
    let mut signed = Vec::new();
    let report = pdf_sign::sign(
        pdf.as_slice(),
        &mut signed,
        &signer,
        &pdf_sign::SignOptions::default(),
    )
    .expect("signs");
    assert_eq!(report.rewritten, None);
    assert_eq!(&signed[..pdf.len()], &pdf[..], "an incremental update");
    let anchor = pdf_sign::keys::read_certificates(&pem(&cert)).expect("certificate");
    let verified = pdf_sign::verify(
        signed.as_slice(),
        &pdf_sign::VerifyOptions {
            trust_anchors: anchor,
            online: None,
        },
    )
    .expect("verifies");
    assert_eq!(verified.signatures.len(), 1);
    assert_ne!(verified.status, pdf_sign::Status::Invalid, "{verified:?}");
    let r = Rendered {
        path: dir.path().join("signed.pdf"),
        _dir: dir,
        bytes: signed,
    };
    std::fs::write(&r.path, &r.bytes).expect("write");
    qpdf_check(&r);
}
