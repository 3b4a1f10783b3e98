//! The seal shown for a signer who has registered none: a red ring around 電子署名, drawn by
//! Inkan in IPAGothic (the font `pdf-sign` already ships, under the IPA font licence beside it).

use std::sync::OnceLock;

use ab_glyph::{point, Font, FontRef, PxScale};
use image::{Rgba, RgbaImage};

use crate::encode_png;

/// Width and height of [`default_seal`], in pixels.
pub const DEFAULT_SEAL_SIZE: u32 = 256;

const FONT: &[u8] = include_bytes!("../../pdf-sign/assets/fonts/ipag.ttf");
/// 朱色, the vermilion of seal ink.
const INK: [u8; 3] = [200, 34, 34];
const RING_OUTER: f32 = 122.0;
const RING_WIDTH: f32 = 10.0;

/// The default seal as a transparent RGBA PNG, [`DEFAULT_SEAL_SIZE`] pixels square, drawn once.
///
/// The text reads as a seal does: right column top to bottom (電子), then the left (署名).
pub fn default_seal() -> &'static [u8] {
    static PNG: OnceLock<Vec<u8>> = OnceLock::new();
    PNG.get_or_init(|| encode_png(&draw()))
}

fn draw() -> RgbaImage {
    let size = DEFAULT_SEAL_SIZE as usize;
    let centre = DEFAULT_SEAL_SIZE as f32 / 2.0;
    let mut coverage = vec![0f32; size * size];

    // Ring: coverage from the distance to its mid-line, which anti-aliases both edges.
    let mid = RING_OUTER - RING_WIDTH / 2.0;
    for y in 0..size {
        for x in 0..size {
            let d = (x as f32 + 0.5 - centre).hypot(y as f32 + 0.5 - centre);
            coverage[y * size + x] = (RING_WIDTH / 2.0 + 0.5 - (d - mid).abs()).clamp(0.0, 1.0);
        }
    }

    // The four characters in the square inscribed in the ring, with some air.
    let font = FontRef::try_from_slice(FONT).expect("the bundled IPAGothic font parses");
    let inner = RING_OUTER - RING_WIDTH;
    let half = inner * std::f32::consts::FRAC_1_SQRT_2 - 4.0;
    let cell = half;
    let scale = PxScale::from(cell * 0.98);
    let layout = [
        ('電', 1.0, 0.0),
        ('子', 1.0, 1.0),
        ('署', 0.0, 0.0),
        ('名', 0.0, 1.0),
    ];
    for (ch, col, row) in layout {
        let cx = centre - half + cell * (col + 0.5);
        let cy = centre - half + cell * (row + 0.5);
        let id = font.glyph_id(ch);
        let probe = id.with_scale_and_position(scale, point(0.0, 0.0));
        let Some(bounds) = font.outline_glyph(probe).map(|g| g.px_bounds()) else {
            continue;
        };
        let dx = cx - (bounds.min.x + bounds.max.x) / 2.0;
        let dy = cy - (bounds.min.y + bounds.max.y) / 2.0;
        let glyph = id.with_scale_and_position(scale, point(dx, dy));
        let Some(outline) = font.outline_glyph(glyph) else {
            continue;
        };
        let origin = outline.px_bounds().min;
        // Drawn twice, a pixel apart, for the heavier stroke of a carved seal.
        for shift in [0i64, 1] {
            outline.draw(|gx, gy, c| {
                let x = origin.x as i64 + i64::from(gx) + shift;
                let y = origin.y as i64 + i64::from(gy);
                if (0..size as i64).contains(&x) && (0..size as i64).contains(&y) {
                    let at = &mut coverage[y as usize * size + x as usize];
                    *at = at.max(c.clamp(0.0, 1.0));
                }
            });
        }
    }

    RgbaImage::from_fn(DEFAULT_SEAL_SIZE, DEFAULT_SEAL_SIZE, |x, y| {
        let a = (coverage[y as usize * size + x as usize] * 255.0).round() as u8;
        if a == 0 {
            Rgba([0, 0, 0, 0])
        } else {
            Rgba([INK[0], INK[1], INK[2], a])
        }
    })
}
