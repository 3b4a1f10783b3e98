//! Seal images through the real server, on SQLite and PostgreSQL: uploads of generated stamp
//! scans (PNG, JPEG, GIF) become drafts whose two pictures are served (the transparent one with
//! transparent corners), are saved, listed, made the default and deleted (the default moves); a
//! fourth seal is refused, also when three saves race; every bad upload is refused with its
//! message and stores nothing; other users' and organisations' seals are not found; an
//! administrator acts for a signer. Then a signature stamps the chosen seal: the rendered page
//! has the seal's colour inside the signature rectangle, and a line drawn under the rectangle
//! still shows through the transparent parts.

use std::io::Cursor;
use std::process::Command;

use image::codecs::gif::GifEncoder;
use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage, RgbaImage};
use serde_json::{json, Value};

use crate::serve::Backend;
use crate::service::{Answer, Api, Service};

/// The test seal's ink: a crimson leaning to magenta (blue well above green), unlike the
/// default seal's vermilion (green and blue equal), so a rendered page tells them apart.
pub const CRIMSON: [u8; 3] = [215, 25, 120];
/// A vermilion like ordinary seal ink.
pub const VERMILION: [u8; 3] = [205, 40, 30];

/// A scanned stamp: a ring with a cross inside, in `ink`, on off-white paper with noise and a
/// light gradient, anti-aliased edges. Deterministic for `seed`.
pub fn stamp_scan(size: u32, ink: [u8; 3], seed: u64) -> RgbImage {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 8.0
    };
    let c = size as f32 / 2.0;
    let (outer, width) = (size as f32 * 0.38, size as f32 * 0.05);
    let mid = outer - width / 2.0;
    RgbImage::from_fn(size, size, |x, y| {
        let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
        let d = (fx - c).hypot(fy - c);
        let ring = (width / 2.0 + 0.5 - (d - mid).abs()).clamp(0.0, 1.0);
        let bar = |off: f32| (width / 2.0 + 0.5 - off.abs()).clamp(0.0, 1.0);
        let inside = d < mid - width;
        let cross = if inside {
            bar(fx - c).max(bar(fy - c))
        } else {
            0.0
        };
        let cover = ring.max(cross);
        let light = 1.0 - 0.08 * (fx + fy) / (2.0 * size as f32);
        let paper = [246.0 * light, 243.0 * light, 236.0 * light];
        let mut px = |i: usize| {
            let inked = paper[i] * f32::from(ink[i]) / 255.0;
            (paper[i] * (1.0 - cover) + inked * cover + noise()).clamp(0.0, 255.0) as u8
        };
        Rgb([px(0), px(1), px(2)])
    })
}

pub fn png(image: &RgbImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("PNG to memory");
    out.into_inner()
}

pub fn jpeg(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(image)
        .expect("JPEG to memory");
    out
}

pub fn gif(frames: &[RgbImage]) -> Vec<u8> {
    let mut out = Vec::new();
    let frames: Vec<image::Frame> = frames
        .iter()
        .map(|f| image::Frame::new(image::DynamicImage::ImageRgb8(f.clone()).into_rgba8()))
        .collect();
    GifEncoder::new(&mut out)
        .encode_frames(frames)
        .expect("GIF to memory");
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A tiny PNG whose header claims `width`×`height` RGBA pixels (a decompression bomb).
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    // A little zlib data that would inflate into rows of zeros.
    chunk(
        b"IDAT",
        &[0x78, 0x9C, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01],
    );
    chunk(b"IEND", &[]);
    out
}

/// Posts `bytes` as the `file` part of a multipart form (with `fields` before it).
pub fn upload(api: &mut Api, path: &str, file_name: &str, bytes: &[u8]) -> Answer {
    api.raw(
        "POST",
        path,
        Some(&multipart(&[], Some((file_name, bytes)))),
        Some(&format!("multipart/form-data; boundary={BOUNDARY}")),
    )
}

pub const BOUNDARY: &str = "inkanSealBoundary4f9a2c";

pub fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    if let Some((file_name, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; \
                 filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// Decodes a PNG as RGBA.
pub fn decode_rgba(bytes: &[u8]) -> RgbaImage {
    image::load_from_memory_with_format(bytes, image::ImageFormat::Png)
        .expect("a PNG")
        .into_rgba8()
}

fn count(service: &Service, sql: &'static str) -> i64 {
    service.app.db.count(sql)
}

/// What an upload may leave behind: seals, drafts and audit entries.
fn stored(service: &Service) -> (i64, i64, i64) {
    (
        count(service, "SELECT COUNT(*) FROM seals"),
        count(service, "SELECT COUNT(*) FROM seal_drafts"),
        count(service, "SELECT COUNT(*) FROM audit_log"),
    )
}

fn id(a: &Answer) -> String {
    a.body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("an id in {}", a.text))
        .to_owned()
}

/// Uploads and saves a seal as `api` under `base` (`/api/me` or `/api/users/ID`).
fn register(api: &mut Api, base: &str, file_name: &str, bytes: &[u8]) -> Value {
    let draft = upload(api, &format!("{base}/seal-drafts"), file_name, bytes);
    assert_eq!(draft.status, 201, "{}", draft.text);
    let saved = api.post(&format!("{base}/seals"), json!({ "draft": id(&draft) }));
    assert_eq!(saved.status, 201, "{}", saved.text);
    saved.body
}

fn names_and_defaults(api: &mut Api, base: &str) -> Vec<(String, bool)> {
    let list = api.get(&format!("{base}/seals"));
    assert_eq!(list.status, 200, "{}", list.text);
    list.body
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or_default().to_owned(),
                s["is_default"].as_bool().unwrap_or_default(),
            )
        })
        .collect()
}

fn seals_through_the_api(backend: Backend) {
    let Some(service) = Service::start(backend) else {
        return;
    };
    let mut admin = service.admin();
    let (signer_id, mut signer) =
        service.user(&mut admin, "yamada@example.jp", &["signer"], "Yamada2026x");
    let (other_id, mut other) =
        service.user(&mut admin, "sato@example.jp", &["signer"], "Sato2026xx");
    let (_, mut agent) = service.user(
        &mut admin,
        "agent@example.jp",
        &["transaction_agent"],
        "Agent2026x",
    );
    let (_, mut manager) = service.user(
        &mut admin,
        "bunsho@example.jp",
        &["document_manager"],
        "Bunsho2026x",
    );
    assert_eq!(signer.get("/api/me/seals").body, json!([]));

    // A PNG scan: a draft with both pictures.
    let scan = png(&stamp_scan(360, VERMILION, 1));
    let draft = upload(&mut signer, "/api/me/seal-drafts", "山田.png", &scan);
    assert_eq!(draft.status, 201, "{}", draft.text);
    let d = &draft.body;
    assert_eq!(d["name"], "山田");
    assert_eq!(d["media_type"], "image/png");
    let draft_id = id(&draft);
    assert_eq!(
        d["original_url"],
        format!("/api/me/seal-drafts/{draft_id}/original")
    );
    let original = signer.raw("GET", d["original_url"].as_str().expect("url"), None, None);
    assert_eq!(original.status, 200);
    assert_eq!(original.bytes, scan, "the original as uploaded");
    assert_eq!(original.header("content-type"), Some("image/png"));
    assert_eq!(original.header("x-content-type-options"), Some("nosniff"));
    let transparent = signer.raw(
        "GET",
        d["transparent_url"].as_str().expect("url"),
        None,
        None,
    );
    assert_eq!(transparent.status, 200);
    assert_eq!(transparent.header("content-type"), Some("image/png"));
    assert_eq!(
        transparent.header("x-content-type-options"),
        Some("nosniff")
    );
    let cut = decode_rgba(&transparent.bytes);
    assert_eq!(
        (i64::from(cut.width()), i64::from(cut.height())),
        (
            d["width"].as_i64().expect("width"),
            d["height"].as_i64().expect("height")
        )
    );
    let (w, h) = cut.dimensions();
    for (x, y) in [
        (0, 0),
        (w - 1, 0),
        (0, h - 1),
        (w - 1, h - 1),
        (w / 2 + w / 8, h / 2 - h / 8),
    ] {
        assert_eq!(cut.get_pixel(x, y)[3], 0, "paper is transparent at {x},{y}");
    }
    let inked = cut.pixels().filter(|p| p[3] == 255).count();
    assert!(inked > 1000, "the stamp is opaque: {inked} pixels");
    let expires = d["expires_at"].as_i64().expect("expires_at");
    let now = chrono::Utc::now().timestamp();
    assert!(
        (now + 3500..=now + 3700).contains(&expires),
        "an hour: {expires}"
    );

    // Saved under an edited name: the first seal is the default; the draft is gone.
    let saved = signer.post(
        "/api/me/seals",
        json!({ "draft": draft_id, "name": " 山田 認印 " }),
    );
    assert_eq!(saved.status, 201, "{}", saved.text);
    assert_eq!(saved.body["name"], "山田 認印");
    assert_eq!(saved.body["is_default"], true);
    let first = id(&saved);
    assert_eq!(
        signer
            .get(&format!("/api/me/seal-drafts/{draft_id}/original"))
            .status,
        404
    );
    let image = signer.raw("GET", &format!("/api/me/seals/{first}/image"), None, None);
    assert_eq!(
        (image.status, image.bytes == transparent.bytes),
        (200, true)
    );
    let original = signer.raw(
        "GET",
        &format!("/api/me/seals/{first}/original"),
        None,
        None,
    );
    assert_eq!((original.status, original.bytes == scan), (200, true));
    assert_eq!(original.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(count(&service, "SELECT COUNT(*) FROM seal_drafts"), 0);

    // A JPEG keeps the file name; a still GIF too. Neither becomes the default.
    let jpg = register(
        &mut signer,
        "/api/me",
        "角印.jpg",
        &jpeg(&stamp_scan(300, VERMILION, 2)),
    );
    assert_eq!(
        (
            jpg["name"].clone(),
            jpg["media_type"].clone(),
            jpg["is_default"].clone()
        ),
        (json!("角印"), json!("image/jpeg"), json!(false))
    );
    let second = jpg["id"].as_str().expect("id").to_owned();
    let made = signer.post(&format!("/api/me/seals/{second}/default"), json!({}));
    assert_eq!(
        (made.status, made.body["is_default"].clone()),
        (200, json!(true))
    );
    assert_eq!(
        names_and_defaults(&mut signer, "/api/me"),
        [("山田 認印".to_owned(), false), ("角印".to_owned(), true)]
    );
    let still = register(
        &mut signer,
        "/api/me",
        "gif印.gif",
        &gif(&[stamp_scan(200, VERMILION, 3)]),
    );
    assert_eq!(still["media_type"], "image/gif");
    let original = signer.raw(
        "GET",
        still["original_url"].as_str().expect("url"),
        None,
        None,
    );
    assert_eq!(original.header("content-type"), Some("image/gif"));

    // A fourth is refused at upload, storing nothing.
    let before = stored(&service);
    let fourth = upload(
        &mut signer,
        "/api/me/seal-drafts",
        "四つ目.png",
        &png(&stamp_scan(200, VERMILION, 4)),
    );
    assert_eq!(
        (fourth.status, fourth.code()),
        (409, "seal_limit"),
        "{}",
        fourth.text
    );
    assert!(fourth.body["message"]
        .as_str()
        .is_some_and(|m| m.contains("at most 3")));
    assert_eq!(stored(&service), before);

    // Deleting the default: the oldest remaining becomes the default.
    assert_eq!(
        signer.delete(&format!("/api/me/seals/{second}")).status,
        204
    );
    assert_eq!(
        names_and_defaults(&mut signer, "/api/me"),
        [("山田 認印".to_owned(), true), ("gif印".to_owned(), false)]
    );
    assert_eq!(
        signer.delete(&format!("/api/me/seals/{second}")).status,
        404
    );

    // Bad uploads: each refused with the seal crate's reason, nothing stored.
    let good = png(&stamp_scan(200, VERMILION, 5));
    let jpg_bytes = jpeg(&stamp_scan(200, VERMILION, 6));
    let mut too_large = good.clone();
    too_large.resize(seal::MAX_BYTES + 1000, 0);
    let mut far_too_large = good.clone();
    far_too_large.resize(3 * seal::MAX_BYTES, 0);
    let white = png(&RgbImage::from_pixel(200, 200, Rgb([245, 243, 238])));
    let cases: Vec<(&str, Vec<u8>, u16, &str, &str)> = vec![
        (
            "x.png",
            b"just some text, renamed".to_vec(),
            400,
            "seal_not_an_image",
            "not a PNG, GIF or JPEG",
        ),
        (
            "half.png",
            good[..good.len() / 2].to_vec(),
            400,
            "seal_corrupt",
            "damaged",
        ),
        (
            "half.jpg",
            jpg_bytes[..jpg_bytes.len() * 2 / 3].to_vec(),
            400,
            "seal_corrupt",
            "cut off",
        ),
        ("big.png", too_large, 413, "seal_too_large", "512 KB"),
        ("huge.png", far_too_large, 413, "seal_too_large", "512 KB"),
        (
            "bomb.png",
            png_claiming(100_000, 100_000),
            400,
            "seal_too_many_pixels",
            "100000×100000",
        ),
        (
            "anim.gif",
            gif(&[stamp_scan(64, VERMILION, 7), stamp_scan(64, CRIMSON, 8)]),
            400,
            "seal_animated",
            "Animated GIFs",
        ),
        ("paper.png", white, 400, "seal_no_stamp", "No red stamp"),
        (".png", good.clone(), 400, "seal_bad_name", "file name"),
    ];
    let before = stored(&service);
    for (file_name, bytes, status, code, words) in &cases {
        let a = upload(&mut other, "/api/me/seal-drafts", file_name, bytes);
        assert_eq!(
            (a.status, a.code()),
            (*status, *code),
            "{file_name}: {}",
            a.text
        );
        assert_eq!(a.field("file"), *code, "{file_name}");
        let message = a.body["message"].as_str().unwrap_or_default();
        assert!(message.contains(words), "{file_name}: {message}");
        assert_eq!(stored(&service), before, "{file_name} stored something");
    }
    let a = other.raw(
        "POST",
        "/api/me/seal-drafts",
        Some(&multipart(&[("note", "no file")], None)),
        Some(&format!("multipart/form-data; boundary={BOUNDARY}")),
    );
    assert_eq!((a.status, a.field("file")), (400, "required"), "{}", a.text);
    let a = other.post("/api/me/seal-drafts", json!({ "file": "x" }));
    assert_eq!(a.status, 400, "{}", a.text);
    // A bad name at saving keeps the draft; 「キャンセル」 discards it.
    let draft = upload(&mut other, "/api/me/seal-drafts", "佐藤.png", &good);
    assert_eq!(draft.status, 201, "{}", draft.text);
    let other_draft = id(&draft);
    let before = stored(&service);
    for (name, code) in [("   ", "required"), ("a\u{7}b", "control_characters")] {
        let a = other.post(
            "/api/me/seals",
            json!({ "draft": other_draft, "name": name }),
        );
        assert_eq!((a.status, a.field("name")), (400, code), "{}", a.text);
    }
    let a = other.post(
        "/api/me/seals",
        json!({ "draft": other_draft, "name": "印".repeat(51) }),
    );
    assert_eq!((a.status, a.field("name")), (400, "too_long"));
    assert_eq!(stored(&service), before);

    // Another signer's seals and drafts are not found; neither are another organisation's.
    for (method, path) in [
        ("GET", format!("/api/me/seals/{first}/image")),
        ("GET", format!("/api/me/seals/{first}/original")),
        ("POST", format!("/api/me/seals/{first}/default")),
        ("DELETE", format!("/api/me/seals/{first}")),
    ] {
        let a = other.call(method, &path, Some(&json!({})));
        assert_eq!(a.status, 404, "{method} {path}: {}", a.text);
    }
    let a = signer.post("/api/me/seals", json!({ "draft": other_draft }));
    assert_eq!(a.status, 404, "{}", a.text);
    assert_eq!(
        signer
            .get(&format!("/api/me/seal-drafts/{other_draft}/transparent"))
            .status,
        404
    );
    assert_eq!(
        signer
            .delete(&format!("/api/me/seal-drafts/{other_draft}"))
            .status,
        404
    );
    assert_eq!(
        other
            .delete(&format!("/api/me/seal-drafts/{other_draft}"))
            .status,
        204
    );
    // The administrator, for the signer: the same wrong-owner ids are not found there either.
    assert_eq!(
        admin
            .get(&format!("/api/users/{other_id}/seals/{first}/image"))
            .status,
        404
    );
    let mut operator = service.operator();
    let a = operator.post(
        "/api/organisations",
        json!({ "name": "別会社", "admin_name": "別 管理", "admin_email": "other@example.com" }),
    );
    assert_eq!(a.status, 201, "{:?}", a.body);
    let mut foreign = service.api();
    foreign.first_login(
        "other@example.com",
        &service.mailed_password("other@example.com"),
        "Other2026pass",
    );
    for (method, path) in [
        ("GET", format!("/api/users/{signer_id}/seals")),
        ("GET", format!("/api/users/{signer_id}/seals/{first}/image")),
        (
            "POST",
            format!("/api/users/{signer_id}/seals/{first}/default"),
        ),
        ("DELETE", format!("/api/users/{signer_id}/seals/{first}")),
    ] {
        let a = foreign.call(method, &path, Some(&json!({})));
        assert_eq!(a.status, 404, "{method} {path}: {}", a.text);
    }
    let a = upload(
        &mut foreign,
        &format!("/api/users/{signer_id}/seal-drafts"),
        "x.png",
        &good,
    );
    assert_eq!(a.status, 404);
    // A signer cannot act for another; an agent and a document manager hold no seals.
    assert_eq!(
        signer.get(&format!("/api/users/{other_id}/seals")).status,
        403
    );
    let a = agent.get("/api/me/seals");
    assert_eq!((a.status, a.code()), (400, "agent_no_seals"));
    assert_eq!(manager.get("/api/me/seals").status, 403);
    assert_eq!(admin.get("/api/me/seals").status, 403);

    // The administrator acts for the signer: upload, preview, save, default; the audit log
    // names who acted for whom.
    let base = format!("/api/users/{other_id}");
    let draft = upload(
        &mut admin,
        &format!("{base}/seal-drafts"),
        "佐藤.jpg",
        &jpeg(&stamp_scan(240, VERMILION, 9)),
    );
    assert_eq!(draft.status, 201, "{}", draft.text);
    let url = draft.body["transparent_url"]
        .as_str()
        .expect("url")
        .to_owned();
    assert!(url.starts_with(&format!("{base}/seal-drafts/")), "{url}");
    assert_eq!(admin.raw("GET", &url, None, None).status, 200);
    let saved = admin.post(&format!("{base}/seals"), json!({ "draft": id(&draft) }));
    assert_eq!(saved.status, 201, "{}", saved.text);
    assert_eq!(saved.body["is_default"], true);
    assert_eq!(
        names_and_defaults(&mut other, "/api/me"),
        [("佐藤".to_owned(), true)]
    );
    let by_admin = count(
        &service,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'seal.created' AND actor <> \
         (SELECT id FROM users WHERE email = 'sato@example.jp') \
         AND detail LIKE '%' || (SELECT id FROM users WHERE email = 'sato@example.jp') || '%'",
    );
    assert_eq!(by_admin, 1);
    assert_eq!(
        count(
            &service,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'seal.created'"
        ),
        4
    );
    assert_eq!(
        count(
            &service,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'seal.deleted'"
        ),
        1
    );

    // Three saves racing when two seals exist: exactly one more.
    let (_, racer) = service.user(&mut admin, "kyoso@example.jp", &["signer"], "Kyoso2026x");
    let mut racer = racer;
    for n in 0..2 {
        register(
            &mut racer,
            "/api/me",
            &format!("印{n}.png"),
            &png(&stamp_scan(160, VERMILION, 10 + n)),
        );
    }
    let drafts: Vec<String> = (0..3)
        .map(|n| {
            let a = upload(
                &mut racer,
                "/api/me/seal-drafts",
                &format!("競争{n}.png"),
                &png(&stamp_scan(160, VERMILION, 20 + n)),
            );
            assert_eq!(a.status, 201, "{}", a.text);
            id(&a)
        })
        .collect();
    let threads: Vec<_> = drafts
        .into_iter()
        .map(|d| {
            let mut api = racer.clone();
            std::thread::spawn(move || api.post("/api/me/seals", json!({ "draft": d })))
        })
        .collect();
    let mut statuses: Vec<(u16, String)> = threads
        .into_iter()
        .map(|t| {
            let a = t.join().expect("thread");
            (a.status, a.code().to_owned())
        })
        .collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [
            (201, String::new()),
            (409, "seal_limit".to_owned()),
            (409, "seal_limit".to_owned())
        ]
    );
    let list = names_and_defaults(&mut racer, "/api/me");
    assert_eq!(list.len(), 3, "{list:?}");
    assert_eq!(list.iter().filter(|(_, d)| *d).count(), 1, "{list:?}");
}

#[test]
fn seals_through_the_api_on_sqlite() {
    seals_through_the_api(Backend::Sqlite);
}

#[test]
fn seals_through_the_api_on_postgres() {
    seals_through_the_api(Backend::Postgres);
}

/// Page 1 of `pdf` rendered at 72 dpi by pdftoppm: (width, height, RGB rows).
fn render(pdf: &std::path::Path) -> (usize, usize, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = dir.path().join("page");
    let out = Command::new("pdftoppm")
        .args(["-r", "72", "-png", "-f", "1", "-l", "1", "-singlefile"])
        .arg(pdf)
        .arg(&prefix)
        .output()
        .expect("pdftoppm runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = image::open(prefix.with_extension("png"))
        .expect("rendered page")
        .into_rgb8();
    let (w, h) = page.dimensions();
    (w as usize, h as usize, page.into_raw())
}

/// Pixels of the rendered page matching `test`, inside and outside `rect` (x, y, w, h in points
/// from the bottom left).
fn pixels(
    page: &(usize, usize, Vec<u8>),
    rect: (f64, f64, f64, f64),
    test: impl Fn(u8, u8, u8) -> bool,
) -> (usize, usize) {
    let (width, height, rgb) = page;
    let (x0, y0, w, h) = rect;
    let (mut inside, mut outside) = (0, 0);
    for py in 0..*height {
        for px in 0..*width {
            let i = (py * width + px) * 3;
            if test(rgb[i], rgb[i + 1], rgb[i + 2]) {
                let (x, y) = (px as f64 + 0.5, *height as f64 - py as f64 - 0.5);
                if x >= x0 - 1.0 && x <= x0 + w + 1.0 && y >= y0 - 1.0 && y <= y0 + h + 1.0 {
                    inside += 1;
                } else {
                    outside += 1;
                }
            }
        }
    }
    (inside, outside)
}

fn crimson(r: u8, g: u8, b: u8) -> bool {
    r > 150 && b > 70 && i16::from(b) - i16::from(g) > 45
}

fn vermilion(r: u8, g: u8, b: u8) -> bool {
    r > 150 && g < 110 && b < 110 && i16::from(b) - i16::from(g) < 25
}

fn black(r: u8, g: u8, b: u8) -> bool {
    r < 60 && g < 60 && b < 60
}

/// A one-page PDF with a title and a thick black line across y = 88, through the signature
/// rectangle used below (below the seal's centre, where its paper is between ring and cross).
fn pdf_with_line() -> Vec<u8> {
    let content = "BT /F1 24 Tf 72 700 Td (Keiyakusho) Tj ET\n0 0 0 RG 4 w 40 88 m 560 88 l S";
    crate::support::pdf_from_objects(&[
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_string(),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ])
}

fn a_signature_stamps_the_chosen_seal(backend: Backend) {
    let Some((service, ca)) = crate::lifecycle::service_with_ca(backend) else {
        return;
    };
    let mut admin = service.admin();
    let (_, mut signer) = service.user(&mut admin, "yamada@example.jp", &["signer"], "Yamada2026x");
    let (_, mut other) = service.user(&mut admin, "sato@example.jp", &["signer"], "Sato2026xx");
    let mut op = service.operator();
    crate::lifecycle::issue(&mut signer, &mut op, "seal-sign-order-1", 1);
    // The default seal stays the vermilion one; the crimson one is chosen for the signature.
    let red = register(
        &mut signer,
        "/api/me",
        "朱.png",
        &png(&stamp_scan(400, VERMILION, 31)),
    );
    assert_eq!(red["is_default"], true);
    let chosen = register(
        &mut signer,
        "/api/me",
        "紅.jpg",
        &jpeg(&stamp_scan(400, CRIMSON, 32)),
    );
    let chosen_id = chosen["id"].as_str().expect("id");
    // The lifted seal keeps its ink: crimson, not vermilion.
    let cut = decode_rgba(
        &signer
            .raw(
                "GET",
                chosen["image_url"].as_str().expect("url"),
                None,
                None,
            )
            .bytes,
    );
    let solid: Vec<_> = cut.pixels().filter(|p| p[3] == 255).collect();
    assert!(
        solid.iter().all(|p| crimson(p[0], p[1], p[2])),
        "crimson ink: {:?}",
        solid.first()
    );
    let theirs = register(
        &mut other,
        "/api/me",
        "佐藤.png",
        &png(&stamp_scan(200, VERMILION, 33)),
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let root = ca.path().join("ca/root.pem");
    let root = root.to_str().expect("root");
    let pdf = pdf_with_line();
    let rect = (350.0, 60.0, 200.0, 80.0);
    // The seal takes the left of the rectangle, inside its padding, at most 80 points wide.
    let seal_box = (354.0, 64.0, 72.0, 72.0);
    let sign = |api: &mut Api, query: &str| {
        api.raw(
            "POST",
            &format!("/api/me/sign?visible=1,350,60,200,80{query}"),
            Some(&pdf),
            Some("application/pdf"),
        )
    };

    let a = sign(&mut signer, &format!("&seal={chosen_id}"));
    assert_eq!(a.status, 200, "{}", a.text);
    let signed = dir.path().join("chosen.pdf");
    std::fs::write(&signed, &a.bytes).expect("write");
    let (valid, verdict) =
        crate::support::validate_with(&signed, root, &["--level", "B-LTA", "--revocation"]);
    assert!(valid, "{verdict}");
    let page = render(&signed);
    let (inside, outside) = pixels(&page, rect, crimson);
    assert!(
        inside > 400,
        "the chosen seal's crimson in the rectangle: {inside}"
    );
    assert_eq!(outside, 0, "no crimson elsewhere");
    assert_eq!(pixels(&page, rect, vermilion).0, 0, "not the default seal");
    // The line under the rectangle shows through the seal's transparent paper.
    let (line_in_seal, _) = pixels(&page, seal_box, black);
    assert!(
        line_in_seal > 120,
        "the black line visible through the seal: {line_in_seal}"
    );
    let (line_in_rect, line_outside) = pixels(&page, rect, black);
    assert!(line_in_rect > 300, "{line_in_rect}");
    assert!(line_outside > 1000, "{line_outside}");

    // No seal named: the signer's default (vermilion), not the crimson one.
    let a = sign(&mut signer, "&level=B-T");
    assert_eq!(a.status, 200, "{}", a.text);
    let by_default = dir.path().join("default.pdf");
    std::fs::write(&by_default, &a.bytes).expect("write");
    let (valid, verdict) = crate::support::validate_with(&by_default, root, &["--level", "B-T"]);
    assert!(valid, "{verdict}");
    let page = render(&by_default);
    assert!(pixels(&page, rect, vermilion).0 > 400);
    assert_eq!(pixels(&page, rect, crimson).0, 0);

    // Another signer's seal, or none that exists: refused, nothing signed.
    let signed_before = count(
        &service,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'document.signed'",
    );
    for bad in [theirs["id"].as_str().expect("id"), "no-such-seal"] {
        let a = sign(&mut signer, &format!("&seal={bad}"));
        assert_eq!(
            (a.status, a.field("seal")),
            (400, "seal_unknown"),
            "{}",
            a.text
        );
    }
    assert_eq!(
        count(
            &service,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'document.signed'",
        ),
        signed_before
    );
    let recorded = count(
        &service,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'document.signed' AND detail LIKE '%\"seal\":\"%'",
    );
    assert_eq!(recorded, 2, "the audit log names the stamped seal");
}

#[test]
fn a_signature_stamps_the_chosen_seal_on_sqlite() {
    a_signature_stamps_the_chosen_seal(Backend::Sqlite);
}

#[test]
fn a_signature_stamps_the_chosen_seal_on_postgres() {
    a_signature_stamps_the_chosen_seal(Backend::Postgres);
}
