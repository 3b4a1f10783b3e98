//! Realistic generated seal scans with a ground truth: a red ring and text-like strokes on
//! off-white paper, with sensor noise, uneven lighting and a shadow, faded and missing ink.
//! Shared by the tests and the benchmark; deterministic for a given seed.

#![allow(dead_code)]

use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};

/// xorshift64*: small, deterministic, good enough for noise.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in 0..1.
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// Roughly standard normal (sum of four uniforms).
    pub fn gauss(&mut self) -> f32 {
        let s: f32 = (0..4).map(|_| self.unit()).sum();
        (s - 2.0) * 3f32.sqrt()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truth {
    Paper,
    Stamp,
    /// Within two pixels of an edge of the ink, or of a missing patch: not scored.
    Unscored,
}

#[derive(Debug, Clone)]
pub struct Spec {
    pub width: u32,
    pub height: u32,
    pub seed: u64,
    /// Outer radius of the ring, in pixels.
    pub radius: f32,
    /// Noise standard deviation, in 0..255 units.
    pub noise: f32,
    /// How much darker the far corner is than the near one (0 = even light).
    pub gradient: f32,
    /// Depth of a soft shadow falling across one side.
    pub shadow: f32,
    /// Ink left on the faded side of the stamp (1 = not faded).
    pub fade_to: f32,
    /// Patches where the ink did not take.
    pub holes: usize,
}

impl Spec {
    pub fn new(width: u32, height: u32, seed: u64) -> Spec {
        Spec {
            width,
            height,
            seed,
            radius: width.min(height) as f32 * 0.36,
            noise: 3.0,
            gradient: 0.0,
            shadow: 0.0,
            fade_to: 1.0,
            holes: 0,
        }
    }
}

pub struct Scene {
    pub image: RgbImage,
    pub truth: Vec<Truth>,
    /// Per-pixel ink coverage of the stamp's shape (before fading), 0..1.
    pub coverage: Vec<f32>,
    /// Inclusive bounding box of the ink: left, top, right, bottom.
    pub ink_box: (u32, u32, u32, u32),
}

/// A stroke: a segment with a half-width.
struct Stroke {
    a: (f32, f32),
    b: (f32, f32),
    half: f32,
}

impl Stroke {
    fn contains(&self, x: f32, y: f32) -> bool {
        let (dx, dy) = (self.b.0 - self.a.0, self.b.1 - self.a.1);
        let t = (((x - self.a.0) * dx + (y - self.a.1) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
        let (px, py) = (self.a.0 + t * dx - x, self.a.1 + t * dy - y);
        px * px + py * py <= self.half * self.half
    }
}

const PAPER: [f32; 3] = [243.0, 238.0, 226.0];
/// Reflectance of vermilion seal ink.
const INK: [f32; 3] = [0.80, 0.16, 0.17];

pub fn generate(spec: &Spec) -> Scene {
    let mut rng = Rng::new(spec.seed);
    let (w, h) = (spec.width as usize, spec.height as usize);
    let cx = spec.width as f32 * rng.range(0.45, 0.55);
    let cy = spec.height as f32 * rng.range(0.45, 0.55);
    let r = spec.radius;
    let ring = r * 0.09;

    // Text-like strokes: four "characters" in a 2×2 grid inside the ring.
    let mut strokes = Vec::new();
    let half_box = (r - ring) * 0.68;
    let cell = half_box;
    let stroke_half = (r * 0.035).max(1.6);
    for (col, row) in [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)] {
        let x0 = cx - half_box + col * cell + cell * 0.12;
        let y0 = cy - half_box + row * cell + cell * 0.12;
        let span = cell * 0.76;
        for _ in 0..3 {
            let y = y0 + rng.range(0.0, span);
            strokes.push(Stroke {
                a: (x0 + rng.range(0.0, 0.2) * span, y),
                b: (x0 + rng.range(0.8, 1.0) * span, y),
                half: stroke_half,
            });
        }
        for _ in 0..2 {
            let x = x0 + rng.range(0.0, span);
            strokes.push(Stroke {
                a: (x, y0 + rng.range(0.0, 0.2) * span),
                b: (x, y0 + rng.range(0.8, 1.0) * span),
                half: stroke_half,
            });
        }
        strokes.push(Stroke {
            a: (
                x0 + rng.range(0.0, 0.5) * span,
                y0 + rng.range(0.5, 1.0) * span,
            ),
            b: (
                x0 + rng.range(0.5, 1.0) * span,
                y0 + rng.range(0.0, 0.5) * span,
            ),
            half: stroke_half * 0.8,
        });
    }
    let inside = |x: f32, y: f32| {
        let d = (x - cx).hypot(y - cy);
        (d <= r && d >= r - ring) || strokes.iter().any(|s| s.contains(x, y))
    };

    // Shape coverage by 4×4 supersampling, only near the stamp.
    let mut coverage = vec![0f32; w * h];
    let x_lo = (cx - r - 2.0).max(0.0) as usize;
    let x_hi = ((cx + r + 2.0) as usize).min(w - 1);
    let y_lo = (cy - r - 2.0).max(0.0) as usize;
    let y_hi = ((cy + r + 2.0) as usize).min(h - 1);
    let mut ink_box = (u32::MAX, u32::MAX, 0, 0);
    for y in y_lo..=y_hi {
        for x in x_lo..=x_hi {
            let mut n = 0;
            for sy in 0..4 {
                for sx in 0..4 {
                    let px = x as f32 + (sx as f32 + 0.5) / 4.0;
                    let py = y as f32 + (sy as f32 + 0.5) / 4.0;
                    if inside(px, py) {
                        n += 1;
                    }
                }
            }
            coverage[y * w + x] = n as f32 / 16.0;
            if n > 0 {
                let (x, y) = (x as u32, y as u32);
                ink_box = (
                    ink_box.0.min(x),
                    ink_box.1.min(y),
                    ink_box.2.max(x),
                    ink_box.3.max(y),
                );
            }
        }
    }

    // Missing patches: discs where the ink did not take.
    let holes: Vec<(f32, f32, f32)> = (0..spec.holes)
        .map(|_| {
            let a = rng.range(0.0, std::f32::consts::TAU);
            let d = rng.range(0.0, r);
            (
                cx + d * a.cos(),
                cy + d * a.sin(),
                rng.range(2.0, r * 0.05 + 2.0),
            )
        })
        .collect();

    let mut image = RgbImage::new(spec.width, spec.height);
    let mut truth = vec![Truth::Unscored; w * h];
    let (sx, sy) = (spec.width as f32 * 0.95, spec.height as f32 * 0.1);
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f32, y as f32);
            let light = 1.0
                - spec.gradient * (0.6 * fx / w as f32 + 0.4 * fy / h as f32)
                - spec.shadow
                    * (-((fx - sx).powi(2) + (fy - sy).powi(2)) / (0.18 * (w * w) as f32)).exp();
            let fade = 1.0 - (1.0 - spec.fade_to) * ((fx - (cx - r)) / (2.0 * r)).clamp(0.0, 1.0);
            let in_hole = holes
                .iter()
                .any(|&(hx, hy, hr)| (fx - hx).hypot(fy - hy) <= hr);
            let near_hole = holes
                .iter()
                .any(|&(hx, hy, hr)| (fx - hx).hypot(fy - hy) <= hr + 2.5);
            let k = coverage[y * w + x] * fade * if in_hole { 0.0 } else { 1.0 };
            let mut px = [0u8; 3];
            for c in 0..3 {
                let paper = PAPER[c] * light;
                let v = paper * (1.0 - k + k * INK[c]) + spec.noise * rng.gauss();
                px[c] = v.round().clamp(0.0, 255.0) as u8;
            }
            image.put_pixel(x as u32, y as u32, Rgb(px));

            let window = |pred: &dyn Fn(f32) -> bool| {
                (y.saturating_sub(2)..=(y + 2).min(h - 1)).all(|wy| {
                    (x.saturating_sub(2)..=(x + 2).min(w - 1)).all(|wx| pred(coverage[wy * w + wx]))
                })
            };
            truth[y * w + x] = if window(&|c| c == 0.0) {
                Truth::Paper
            } else if window(&|c| c == 1.0) && !near_hole {
                Truth::Stamp
            } else {
                Truth::Unscored
            };
        }
    }
    Scene {
        image,
        truth,
        coverage,
        ink_box,
    }
}

pub fn jpeg(image: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(image)
        .expect("JPEG encoding to memory succeeds");
    out
}

pub fn png(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image
        .write_with_encoder(image::codecs::png::PngEncoder::new(&mut out))
        .expect("PNG encoding to memory succeeds");
    out
}
