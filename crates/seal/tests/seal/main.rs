//! The seal crate from the outside: uploads checked, stamps lifted from generated scans and
//! scored against their ground truth, the default seal.

mod scan;

use std::time::{Duration, Instant};

use image::{Rgba, RgbaImage};
use scan::{Scene, Spec, Truth};
use seal::{
    check, decode_cost, default_seal, remove_background, Format, SealError, DEFAULT_SEAL_SIZE,
    MAX_BYTES, PEAK_BYTES_PER_PIXEL,
};

fn code<T: std::fmt::Debug>(result: Result<T, SealError>) -> &'static str {
    result.expect_err("the upload should be refused").code()
}

fn decode_rgba(png: &[u8]) -> RgbaImage {
    image::load_from_memory(png)
        .expect("our own PNG decodes")
        .into_rgba8()
}

/// Scores of a lifted stamp against the scene's ground truth, in percent.
#[derive(Debug)]
struct Score {
    paper_pixels: usize,
    stamp_pixels: usize,
    /// Paper pixels left fully transparent.
    paper_clear: f64,
    /// Stamp pixels kept with alpha of at least one half.
    stamp_kept: f64,
    /// Kept stamp pixels whose colour is red (hue within 20° of red, saturation at least 0.5).
    stamp_red: f64,
}

const KEPT: u8 = 128;

fn score(scene: &Scene, alpha_at: impl Fn(u32, u32) -> Option<Rgba<u8>>) -> Score {
    let (w, _) = scene.image.dimensions();
    let (mut paper, mut paper_clear, mut stamp, mut kept, mut red) = (0, 0, 0, 0, 0);
    for (i, truth) in scene.truth.iter().enumerate() {
        let (x, y) = (i as u32 % w, i as u32 / w);
        let px = alpha_at(x, y).unwrap_or(Rgba([0, 0, 0, 0]));
        match truth {
            Truth::Paper => {
                paper += 1;
                if px[3] == 0 {
                    paper_clear += 1;
                }
            }
            Truth::Stamp => {
                stamp += 1;
                if px[3] >= KEPT {
                    kept += 1;
                    if is_red(px) {
                        red += 1;
                    }
                }
            }
            Truth::Unscored => {}
        }
    }
    let pct = |n: usize, of: usize| 100.0 * n as f64 / of.max(1) as f64;
    Score {
        paper_pixels: paper,
        stamp_pixels: stamp,
        paper_clear: pct(paper_clear, paper),
        stamp_kept: pct(kept, stamp),
        stamp_red: pct(red, kept),
    }
}

fn is_red(px: Rgba<u8>) -> bool {
    let [r, g, b] = [px[0], px[1], px[2]].map(|v| f32::from(v) / 255.0);
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    if max <= 0.0 || (max - min) / max < 0.5 || max != r {
        return false;
    }
    // Hue in degrees, red at 0.
    let hue = 60.0 * (g - b) / (max - min);
    hue.abs() <= 20.0
}

struct Lifted {
    cutout: seal::Cutout,
    pixels: RgbaImage,
}

fn lift(bytes: &[u8], file_name: &str) -> Lifted {
    let checked = check(bytes, file_name).expect("the generated scan is a valid upload");
    let cutout = remove_background(&checked).expect("the stamp is found");
    let pixels = decode_rgba(&cutout.png);
    assert_eq!(pixels.dimensions(), (cutout.width, cutout.height));
    Lifted { cutout, pixels }
}

fn score_lifted(scene: &Scene, lifted: &Lifted) -> Score {
    let c = &lifted.cutout;
    score(scene, |x, y| {
        let inside = x >= c.left && y >= c.top && x < c.left + c.width && y < c.top + c.height;
        inside.then(|| *lifted.pixels.get_pixel(x - c.left, y - c.top))
    })
}

fn assert_good(name: &str, scene: &Scene, s: &Score) {
    println!("{name}: {s:?}");
    assert!(
        s.paper_pixels > 50_000,
        "{name}: too few paper pixels scored"
    );
    assert!(
        s.stamp_pixels > 3_000,
        "{name}: too few stamp pixels scored"
    );
    assert!(s.paper_clear >= 99.0, "{name}: paper left visible: {s:?}");
    assert!(s.stamp_kept >= 95.0, "{name}: stamp lost: {s:?}");
    assert!(s.stamp_red >= 99.0, "{name}: stamp not red: {s:?}");
    let _ = scene;
}

fn clean_scan() -> Spec {
    Spec {
        noise: 3.0,
        gradient: 0.1,
        ..Spec::new(420, 380, 1)
    }
}

fn shadowed_photo() -> Spec {
    Spec {
        noise: 5.0,
        gradient: 0.45,
        shadow: 0.2,
        ..Spec::new(480, 400, 2)
    }
}

fn faded_stamp() -> Spec {
    Spec {
        noise: 6.0,
        gradient: 0.3,
        shadow: 0.1,
        fade_to: 0.45,
        holes: 25,
        ..Spec::new(480, 400, 3)
    }
}

#[test]
fn clean_png_scan_loses_its_paper_and_keeps_its_stamp() {
    let scene = scan::generate(&clean_scan());
    let lifted = lift(&scan::png(&scene.image), "山田.png");
    assert_good("clean png", &scene, &score_lifted(&scene, &lifted));
}

#[test]
fn shadowed_jpeg_photo_loses_its_paper_and_keeps_its_stamp() {
    let scene = scan::generate(&shadowed_photo());
    let lifted = lift(&scan::jpeg(&scene.image, 70), "山田.jpg");
    assert_good("shadowed jpeg", &scene, &score_lifted(&scene, &lifted));
}

#[test]
fn faded_jpeg_stamp_keeps_its_faded_side() {
    let scene = scan::generate(&faded_stamp());
    let lifted = lift(&scan::jpeg(&scene.image, 70), "山田.jpeg");
    assert_good("faded jpeg", &scene, &score_lifted(&scene, &lifted));
}

#[test]
fn a_white_key_would_fail_the_shadowed_photo() {
    // The naive method: paper is whatever is near white. The shadow makes paper grey, so this
    // must fail the same scoring that remove_background passes; otherwise the test is too easy.
    let scene = scan::generate(&shadowed_photo());
    let decoded = image::load_from_memory(&scan::jpeg(&scene.image, 70))
        .expect("decodes")
        .into_rgb8();
    let naive = score(&scene, |x, y| {
        let p = decoded.get_pixel(x, y);
        let luma = 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]);
        let a = if luma >= 200.0 { 0 } else { 255 };
        Some(Rgba([p[0], p[1], p[2], a]))
    });
    println!("white key on the shadowed photo: {naive:?}");
    assert!(naive.paper_clear < 99.0, "{naive:?}");
}

#[test]
fn crop_is_the_stamp_plus_a_small_margin() {
    let scene = scan::generate(&shadowed_photo());
    let lifted = lift(&scan::jpeg(&scene.image, 70), "山田.jpg");
    let (l, t, r, b) = scene.ink_box;
    let c = &lifted.cutout;
    let margin = 2.max(((r - l + 1).max(b - t + 1) as f32 * 0.04).round() as u32);
    let slack = 3;
    let (cr, cb) = (c.left + c.width - 1, c.top + c.height - 1);
    println!(
        "ink box {:?}, crop {:?}, margin {margin}",
        scene.ink_box,
        (c.left, c.top, cr, cb)
    );
    assert!(c.left <= l && l - c.left <= margin + slack, "left");
    assert!(c.top <= t && t - c.top <= margin + slack, "top");
    assert!(cr >= r && cr - r <= margin + slack, "right");
    assert!(cb >= b && cb - b <= margin + slack, "bottom");
}

#[test]
fn edges_are_anti_aliased() {
    let scene = scan::generate(&clean_scan());
    let lifted = lift(&scan::png(&scene.image), "山田.png");
    let c = &lifted.cutout;
    let (w, _) = scene.image.dimensions();
    let (mut edge, mut soft) = (0, 0);
    for (i, &cov) in scene.coverage.iter().enumerate() {
        let (x, y) = (i as u32 % w, i as u32 / w);
        if cov > 0.2 && cov < 0.8 && x >= c.left && y >= c.top {
            edge += 1;
            let a = lifted.pixels.get_pixel(x - c.left, y - c.top)[3];
            if (16..=239).contains(&a) {
                soft += 1;
            }
        }
    }
    let pct = 100.0 * soft as f64 / edge as f64;
    println!("edge pixels {edge}, with intermediate alpha {pct:.1}%");
    assert!(edge > 500);
    assert!(pct >= 25.0, "{pct}");
}

#[test]
fn plain_paper_has_no_stamp() {
    let scene = scan::generate(&Spec {
        radius: 0.0,
        gradient: 0.4,
        noise: 5.0,
        ..Spec::new(300, 300, 9)
    });
    let checked = check(&scan::jpeg(&scene.image, 70), "紙.jpg").expect("a valid JPEG");
    assert_eq!(code(remove_background(&checked)), "no_stamp");
}

#[test]
fn default_seal_is_a_red_ring_around_text_on_transparency() {
    let img = decode_rgba(default_seal());
    let size = DEFAULT_SEAL_SIZE;
    assert_eq!(img.dimensions(), (size, size));
    let total = (size * size) as usize;
    let clear = img.pixels().filter(|p| p[3] == 0).count();
    assert!(
        clear * 100 / total >= 55,
        "mostly transparent: {clear}/{total}"
    );
    assert!(
        img.pixels().filter(|p| p[3] > 0).all(|p| is_red(*p)),
        "every visible pixel is red"
    );

    // The ring, on both axes, is solid; its edges are soft.
    let c = size / 2;
    for (x, y) in [(c, 10), (c, size - 11), (10, c), (size - 11, c)] {
        assert_eq!(img.get_pixel(x, y)[3], 255, "ring at {x},{y}");
    }
    let soft = img.pixels().filter(|p| p[3] > 0 && p[3] < 255).count();
    assert!(soft > 500, "anti-aliased: {soft}");

    // Each of the four characters puts ink in its quarter of the centre.
    for (qx, qy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
        let (x0, y0) = (c - 70 + qx * 70, c - 70 + qy * 70);
        let ink = (y0..y0 + 70)
            .flat_map(|y| (x0..x0 + 70).map(move |x| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y)[3] >= 128)
            .count();
        assert!(
            (300..=3500).contains(&ink),
            "quarter {qx},{qy}: {ink} inked pixels"
        );
    }
    // The inner edge of the ring stays clear of the text.
    assert_eq!(img.get_pixel(c, 30)[3], 0);
}

// Bad uploads.

fn small_png() -> Vec<u8> {
    scan::png(&scan::generate(&Spec::new(64, 64, 5)).image)
}

#[test]
fn renamed_text_file_is_not_an_image() {
    assert_eq!(
        code(check(b"hello, I am a text file\n", "x.png")),
        "not_an_image"
    );
    assert_eq!(code(check(b"", "x.png")), "not_an_image");
    // A format the image crate recognises but Inkan does not accept.
    assert_eq!(
        code(check(b"RIFF\x10\0\0\0WEBPVP8 ", "x.png")),
        "not_an_image"
    );
}

#[test]
fn format_comes_from_content_not_name() {
    let checked = check(&small_png(), "seal.jpg").expect("a PNG named .jpg is still a PNG");
    assert_eq!(checked.format(), Format::Png);
    assert_eq!(checked.name().as_str(), "seal");
    assert_eq!((checked.width(), checked.height()), (64, 64));
}

#[test]
fn truncated_images_are_corrupt() {
    let png = small_png();
    assert_eq!(code(check(&png[..png.len() / 2], "x.png")), "corrupt");
    let jpeg = scan::jpeg(&scan::generate(&Spec::new(64, 64, 5)).image, 70);
    assert_eq!(code(check(&jpeg[..jpeg.len() / 2], "x.jpg")), "corrupt");
    assert_eq!(code(check(&jpeg[..jpeg.len() - 2], "x.jpg")), "corrupt");
}

#[test]
fn image_over_512_kb_is_too_large() {
    // Noise does not compress: 520×520 RGB noise is about 800 KB as PNG.
    let mut rng = scan::Rng::new(7);
    let noise = image::RgbImage::from_fn(520, 520, |_, _| {
        image::Rgb([0, 0, 0].map(|_: u8| (rng.next_u64() >> 56) as u8))
    });
    let png = scan::png(&noise);
    assert!(png.len() > MAX_BYTES);
    assert_eq!(code(check(&png, "big.png")), "too_large");
    assert_eq!(code(check(&vec![0; MAX_BYTES + 1], "big.png")), "too_large");
    // Exactly the limit is not refused for its size.
    assert_eq!(code(check(&vec![0; MAX_BYTES], "big.png")), "not_an_image");
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

/// A valid small PNG whose IHDR (checksum fixed) claims `width`×`height`.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut png = small_png();
    assert_eq!(&png[12..16], b"IHDR");
    png[16..20].copy_from_slice(&width.to_be_bytes());
    png[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

#[test]
fn decompression_bomb_is_refused_from_its_header() {
    // 50000×50000 RGBA would be 10 GB; the file is a few kilobytes.
    let start = Instant::now();
    let bomb = png_claiming(50_000, 50_000);
    assert!(bomb.len() < 20_000);
    let err = check(&bomb, "bomb.png").expect_err("refused");
    assert_eq!(err.code(), "too_many_pixels");
    assert!(err.to_string().contains("50000×50000"), "{err}");
    // Within each side's limit but over the total.
    assert_eq!(
        code(check(&png_claiming(4096, 4096), "bomb.png")),
        "too_many_pixels"
    );
    // Refused from the header: decoding 10 GB (or even allocating it) takes far longer.
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );

    // A JPEG whose frame header claims 65000×65000.
    let mut jpeg = scan::jpeg(&scan::generate(&Spec::new(64, 64, 5)).image, 70);
    let sof = jpeg
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("baseline JPEG has SOF0");
    jpeg[sof + 5..sof + 7].copy_from_slice(&65_000u16.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&65_000u16.to_be_bytes());
    assert_eq!(code(check(&jpeg, "bomb.jpg")), "too_many_pixels");
}

#[test]
fn the_decode_cost_is_read_from_the_header_and_refuses_what_check_refuses() {
    assert_eq!(
        decode_cost(&png_claiming(4000, 3000)).expect("a cost"),
        4000 * 3000 * PEAK_BYTES_PER_PIXEL
    );
    assert_eq!(
        code(decode_cost(&png_claiming(50_000, 50_000))),
        "too_many_pixels"
    );
    assert_eq!(code(decode_cost(b"hello")), "not_an_image");
    assert_eq!(code(decode_cost(&vec![0u8; MAX_BYTES + 1])), "too_large");
    let jpeg = scan::jpeg(&scan::generate(&Spec::new(64, 48, 5)).image, 70);
    assert_eq!(
        decode_cost(&jpeg).expect("a cost"),
        64 * 48 * PEAK_BYTES_PER_PIXEL
    );
    assert_eq!(
        decode_cost(&gif(1)).expect("a cost"),
        32 * 32 * PEAK_BYTES_PER_PIXEL
    );
}

fn gif(frames: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let frames: Vec<image::Frame> = (0..frames)
        .map(|i| {
            let red = 100 + 50 * i as u8;
            image::Frame::new(RgbaImage::from_pixel(32, 32, Rgba([red, 20, 20, 255])))
        })
        .collect();
    image::codecs::gif::GifEncoder::new(&mut out)
        .encode_frames(frames)
        .expect("GIF encoding to memory succeeds");
    out
}

#[test]
fn animated_gif_is_refused_and_still_gif_accepted() {
    assert_eq!(code(check(&gif(2), "anim.gif")), "animated");
    let still = check(&gif(1), "still.gif").expect("a one-frame GIF is a still image");
    assert_eq!(still.format(), Format::Gif);
}

#[test]
fn file_name_without_a_name_is_refused() {
    assert_eq!(code(check(&small_png(), ".png")), "bad_name");
    assert_eq!(code(check(&small_png(), " \u{7} .png")), "bad_name");
}

#[test]
fn every_error_has_its_own_code_and_a_message() {
    let errors = [
        SealError::TooLarge { size: 1, max: 0 },
        SealError::NotAnImage,
        SealError::TooManyPixels {
            width: 1,
            height: 1,
        },
        SealError::Corrupt("x".into()),
        SealError::Unsupported("x".into()),
        SealError::Animated,
        SealError::BadName,
        SealError::NoStamp,
    ];
    let mut codes: Vec<_> = errors.iter().map(SealError::code).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), errors.len());
    assert!(errors.iter().all(|e| e.to_string().len() > 20));
}
