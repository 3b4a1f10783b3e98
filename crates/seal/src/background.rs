//! Lifting a red stamp off its paper.
//!
//! 1. Paper model. The image is cut into cells (about a sixteenth of its short side). In each cell
//!    the paper colour is the mean of the pixels between the 60th and 90th percentile of brightness,
//!    which is paper as long as ink covers less than 60% of the cell; cells whose estimate is itself
//!    red (solid ink) are filled from their neighbours. The grid is smoothed and interpolated
//!    bilinearly, so uneven lighting and shadow gradients become part of the paper, not of the ink.
//! 2. Ink strength. Each pixel is divided by its local paper colour (a reflectance, free of the
//!    lighting). Red ink keeps red and absorbs green and blue, so `s = min(r, 1) - max(g, b)` is
//!    about 0 on paper, about 0.6 on solid ink, and about 0 on black or grey marks.
//! 3. Soft alpha. The paper's noise is measured from the lower half of its peak in `s`, scaled
//!    to absolute brightness so shadowed (noisier after division) areas get a higher threshold.
//!    Alpha ramps smoothly (smoothstep) from four noise deviations above paper to 60% of solid ink,
//!    so edges and faded strokes get intermediate alpha instead of a hard threshold.
//! 4. Colour. Every visible pixel takes the stamp's own ink colour (the mean reflectance of solid
//!    ink, as it would look on white paper), so edges carry no white or shadow fringe.
//! 5. Crop. Rows and columns holding at least two pixels' worth of alpha bound the stamp; a margin
//!    of 4% (at least 2 px) is kept around it.

use image::{Rgba, RgbaImage};

use crate::{encode_png, CheckedImage, SealError};

/// A stamp lifted off its paper.
#[derive(Debug, Clone)]
pub struct Cutout {
    /// The stamp as an RGBA PNG with a transparent background.
    pub png: Vec<u8>,
    /// Where the cut-out was taken from in the uploaded image, in pixels.
    pub left: u32,
    pub top: u32,
    pub width: u32,
    pub height: u32,
}

/// Makes the paper around a red stamp transparent and crops to the stamp with a small margin.
///
/// Fails with [`SealError::NoStamp`] when no red ink stands out from the paper.
pub fn remove_background(image: &CheckedImage) -> Result<Cutout, SealError> {
    let (pixels, crop) = lift(image.pixels())?;
    Ok(Cutout {
        png: encode_png(&pixels),
        left: crop.left,
        top: crop.top,
        width: crop.width,
        height: crop.height,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Crop {
    pub left: u32,
    pub top: u32,
    pub width: u32,
    pub height: u32,
}

/// Alpha reaches 1 at this fraction of solid ink.
const OPAQUE_AT: f32 = 0.6;
/// Paper noise deviations above the paper's level where alpha starts.
const NOISE_DEVIATIONS: f32 = 4.0;
/// Bins per unit of `s` in the histograms.
const BINS_PER_UNIT: f32 = 512.0;

pub(crate) fn lift(source: &RgbaImage) -> Result<(RgbaImage, Crop), SealError> {
    let (width, height) = source.dimensions();
    let paper = PaperModel::estimate(source);

    // Pass 1: the distribution of ink strength, in reflectance and in absolute brightness.
    let mut s_hist = Histogram::new();
    let mut z_hist = Histogram::new();
    let mut row = Vec::new();
    for (y, pixels) in source.rows().enumerate() {
        paper.row(y as u32, &mut row);
        for (px, &p) in pixels.zip(&row) {
            let s = strength(flatten(px), p);
            s_hist.add(s);
            z_hist.add(s * p[0]);
        }
    }
    let s_paper = s_hist.mode();
    let z_paper = z_hist.mode();
    let z_noise = z_hist.lower_deviation(z_paper).max(1.0 / 255.0);
    // Solid ink: the 90th percentile of what clearly is not paper.
    let clear = z_paper + 2.0 * NOISE_DEVIATIONS * z_noise;
    let mut ink_hist = Histogram::new();
    for (y, pixels) in source.rows().enumerate() {
        paper.row(y as u32, &mut row);
        for (px, &p) in pixels.zip(&row) {
            let s = strength(flatten(px), p);
            if s * p[0] > clear {
                ink_hist.add(s);
            }
        }
    }
    let min_ink_pixels = 20.max((width as usize * height as usize) / 5000);
    if ink_hist.count < min_ink_pixels as u64 {
        return Err(SealError::NoStamp);
    }
    let s_ink = ink_hist.percentile(0.9);
    if s_ink - s_paper < 0.1 {
        return Err(SealError::NoStamp);
    }

    // Pass 2: alpha, and the ink's colour from solid ink.
    let mut alpha = vec![0f32; width as usize * height as usize];
    let mut ink_sum = [0f64; 3];
    let mut ink_count = 0u64;
    let opaque = s_paper + OPAQUE_AT * (s_ink - s_paper);
    for (y, pixels) in source.rows().enumerate() {
        paper.row(y as u32, &mut row);
        let alpha_row = &mut alpha[y * width as usize..(y + 1) * width as usize];
        for ((px, &p), a) in pixels.zip(&row).zip(alpha_row) {
            let c = flatten(px);
            let s = strength(c, p);
            let lo = s_paper + NOISE_DEVIATIONS * z_noise / p[0].max(0.05);
            let hi = opaque.max(lo + 0.25 * (s_ink - s_paper));
            *a = smoothstep(lo, hi, s);
            if s >= s_paper + 0.9 * (s_ink - s_paper) {
                for ch in 0..3 {
                    ink_sum[ch] += f64::from((c[ch] / p[ch]).min(1.0));
                }
                ink_count += 1;
            }
        }
    }
    let ink_colour = if ink_count == 0 {
        [0.8, 0.15, 0.15]
    } else {
        ink_sum.map(|v| (v / ink_count as f64) as f32)
    };
    let ink_rgb = ink_colour.map(|v| (v * 255.0).round().clamp(0.0, 255.0) as u8);

    let crop = bounds(&alpha, width, height).ok_or(SealError::NoStamp)?;
    let out = RgbaImage::from_fn(crop.width, crop.height, |x, y| {
        let a = alpha[((y + crop.top) * width + x + crop.left) as usize];
        let a = (a * 255.0).round() as u8;
        if a == 0 {
            Rgba([0, 0, 0, 0])
        } else {
            Rgba([ink_rgb[0], ink_rgb[1], ink_rgb[2], a])
        }
    });
    Ok((out, crop))
}

/// A pixel as RGB in 0..1, composited over white if it is (partly) transparent.
fn flatten(px: &Rgba<u8>) -> [f32; 3] {
    let a = f32::from(px[3]) / 255.0;
    [0, 1, 2].map(|i| (f32::from(px[i]) / 255.0) * a + (1.0 - a))
}

/// Red ink strength relative to the local paper: red kept, green and blue absorbed.
fn strength(c: [f32; 3], paper: [f32; 3]) -> f32 {
    let r = (c[0] / paper[0]).min(1.0);
    let g = c[1] / paper[1];
    let b = c[2] / paper[2];
    r - g.max(b)
}

fn smoothstep(lo: f32, hi: f32, x: f32) -> f32 {
    let t = ((x - lo) / (hi - lo)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// The stamp's extent: rows and columns holding at least two pixels' worth of alpha, so a stray
/// speck does not stretch the crop; then a small margin.
fn bounds(alpha: &[f32], width: u32, height: u32) -> Option<Crop> {
    let mut rows = vec![0f32; height as usize];
    let mut cols = vec![0f32; width as usize];
    for y in 0..height as usize {
        let row = &alpha[y * width as usize..(y + 1) * width as usize];
        for (x, a) in row.iter().enumerate() {
            rows[y] += a;
            cols[x] += a;
        }
    }
    let span = |sums: &[f32]| {
        let first = sums.iter().position(|&s| s >= 2.0)?;
        let last = sums.iter().rposition(|&s| s >= 2.0)?;
        Some((first as u32, last as u32))
    };
    let (top, bottom) = span(&rows)?;
    let (left, right) = span(&cols)?;
    let extent = (right - left + 1).max(bottom - top + 1);
    let margin = 2.max((extent as f32 * 0.04).round() as u32);
    let left = left.saturating_sub(margin);
    let top = top.saturating_sub(margin);
    let right = (right + margin).min(width - 1);
    let bottom = (bottom + margin).min(height - 1);
    Some(Crop {
        left,
        top,
        width: right - left + 1,
        height: bottom - top + 1,
    })
}

/// The paper's colour across the image, from per-cell statistics.
struct PaperModel {
    width: u32,
    cell: u32,
    cols: usize,
    rows: usize,
    grid: Vec<[f32; 3]>,
}

impl PaperModel {
    fn estimate(source: &RgbaImage) -> PaperModel {
        let (width, height) = source.dimensions();
        let cell = (width.min(height) / 16).clamp(8, 64);
        let cols = width.div_ceil(cell) as usize;
        let rows = height.div_ceil(cell) as usize;
        let mut grid: Vec<Option<[f32; 3]>> = Vec::with_capacity(cols * rows);
        for row in 0..rows as u32 {
            for col in 0..cols as u32 {
                grid.push(cell_paper(source, col * cell, row * cell, cell));
            }
        }
        // A cell whose "paper" is markedly redder than the typical cell is solid ink.
        let mut redness: Vec<f32> = grid.iter().flatten().map(|p| red_tint(*p)).collect();
        redness.sort_by(f32::total_cmp);
        if let Some(&typical) = redness.get(redness.len() / 2) {
            for p in grid.iter_mut() {
                if p.is_some_and(|p| red_tint(p) > typical + 0.12) {
                    *p = None;
                }
            }
        }
        let grid = fill_gaps(grid, cols, rows);
        let grid = blur3(&grid, cols, rows);
        PaperModel {
            width,
            cell,
            cols,
            rows,
            grid,
        }
    }

    /// The paper colour along row `y`, bilinear between cell centres.
    fn row(&self, y: u32, out: &mut Vec<[f32; 3]>) {
        let centre = |v: u32, n: usize| {
            let f = ((v as f32 + 0.5) / self.cell as f32 - 0.5).clamp(0.0, (n - 1) as f32);
            let i = f as usize;
            (i, (i + 1).min(n - 1), f - i as f32)
        };
        let (r0, r1, ty) = centre(y, self.rows);
        // The row interpolated at each cell column, then across the row.
        let column: Vec<[f32; 3]> = (0..self.cols)
            .map(|c| {
                let (a, b) = (self.grid[r0 * self.cols + c], self.grid[r1 * self.cols + c]);
                [0, 1, 2].map(|i| a[i] + (b[i] - a[i]) * ty)
            })
            .collect();
        out.clear();
        out.extend((0..self.width).map(|x| {
            let (c0, c1, tx) = centre(x, self.cols);
            let (a, b) = (column[c0], column[c1]);
            [0, 1, 2].map(|i| (a[i] + (b[i] - a[i]) * tx).max(1.0 / 255.0))
        }));
    }
}

fn red_tint(p: [f32; 3]) -> f32 {
    (p[0] - p[1].max(p[2])) / p[0].max(1.0 / 255.0)
}

/// Mean colour of the pixels between the 60th and 90th percentile of brightness in one cell.
fn cell_paper(source: &RgbaImage, x0: u32, y0: u32, cell: u32) -> Option<[f32; 3]> {
    let x1 = (x0 + cell).min(source.width());
    let y1 = (y0 + cell).min(source.height());
    let mut hist = [0u32; 766];
    let brightness = |c: [f32; 3]| ((c[0] + c[1] + c[2]) * 255.0 + 0.5) as usize;
    for y in y0..y1 {
        for x in x0..x1 {
            hist[brightness(flatten(source.get_pixel(x, y))).min(765)] += 1;
        }
    }
    let total: u32 = hist.iter().sum();
    let quantile = |q: f32| {
        let target = (total as f32 * q) as u32;
        let mut seen = 0;
        for (v, n) in hist.iter().enumerate() {
            seen += n;
            if seen > target {
                return v;
            }
        }
        765
    };
    let (lo, hi) = (quantile(0.6), quantile(0.9));
    let mut sum = [0f32; 3];
    let mut n = 0u32;
    for y in y0..y1 {
        for x in x0..x1 {
            let c = flatten(source.get_pixel(x, y));
            if (lo..=hi).contains(&brightness(c)) {
                for i in 0..3 {
                    sum[i] += c[i];
                }
                n += 1;
            }
        }
    }
    (n > 0).then(|| sum.map(|v| v / n as f32))
}

/// Fills unknown cells from the mean of their known neighbours, growing inwards.
fn fill_gaps(mut grid: Vec<Option<[f32; 3]>>, cols: usize, rows: usize) -> Vec<[f32; 3]> {
    if grid.iter().all(Option::is_none) {
        return vec![[1.0; 3]; grid.len()];
    }
    while grid.iter().any(Option::is_none) {
        let snapshot = grid.clone();
        for r in 0..rows {
            for c in 0..cols {
                if snapshot[r * cols + c].is_some() {
                    continue;
                }
                let mut sum = [0f32; 3];
                let mut n = 0;
                for (nc, nr) in neighbours(c, r, cols, rows) {
                    if let Some(p) = snapshot[nr * cols + nc] {
                        for i in 0..3 {
                            sum[i] += p[i];
                        }
                        n += 1;
                    }
                }
                if n > 0 {
                    grid[r * cols + c] = Some(sum.map(|v| v / n as f32));
                }
            }
        }
    }
    grid.into_iter().flatten().collect()
}

/// A 3×3 mean over the grid, to soften block edges.
fn blur3(grid: &[[f32; 3]], cols: usize, rows: usize) -> Vec<[f32; 3]> {
    let mut out = Vec::with_capacity(grid.len());
    for r in 0..rows {
        for c in 0..cols {
            let mut sum = grid[r * cols + c];
            let mut n = 1;
            for (nc, nr) in neighbours(c, r, cols, rows) {
                for i in 0..3 {
                    sum[i] += grid[nr * cols + nc][i];
                }
                n += 1;
            }
            out.push(sum.map(|v| v / n as f32));
        }
    }
    out
}

fn neighbours(
    c: usize,
    r: usize,
    cols: usize,
    rows: usize,
) -> impl Iterator<Item = (usize, usize)> {
    (-1i64..=1)
        .flat_map(|dr| (-1i64..=1).map(move |dc| (dc, dr)))
        .filter(|&(dc, dr)| (dc, dr) != (0, 0))
        .filter_map(move |(dc, dr)| {
            let nc = c as i64 + dc;
            let nr = r as i64 + dr;
            (nc >= 0 && nr >= 0 && nc < cols as i64 && nr < rows as i64)
                .then_some((nc as usize, nr as usize))
        })
}

/// A fixed-range histogram of values in -1..2.
struct Histogram {
    bins: Vec<u64>,
    count: u64,
}

impl Histogram {
    const MIN: f32 = -1.0;
    const MAX: f32 = 2.0;

    fn new() -> Histogram {
        let n = ((Self::MAX - Self::MIN) * BINS_PER_UNIT) as usize + 1;
        Histogram {
            bins: vec![0; n],
            count: 0,
        }
    }

    fn bin(v: f32) -> usize {
        // Non-negative, so adding a half and truncating rounds (and avoids a libm call).
        ((v.clamp(Self::MIN, Self::MAX) - Self::MIN) * BINS_PER_UNIT + 0.5) as usize
    }

    fn value(i: usize) -> f32 {
        i as f32 / BINS_PER_UNIT + Self::MIN
    }

    fn add(&mut self, v: f32) {
        self.bins[Self::bin(v)] += 1;
        self.count += 1;
    }

    fn mode(&self) -> f32 {
        let (i, _) = self
            .bins
            .iter()
            .enumerate()
            .max_by_key(|&(i, &n)| (n, std::cmp::Reverse(i)))
            .unwrap_or((Self::bin(0.0), &0));
        Self::value(i)
    }

    /// Root-mean-square distance below `centre`: the spread of a peak whose upper side is
    /// mixed with something else.
    fn lower_deviation(&self, centre: f32) -> f32 {
        let top = Self::bin(centre);
        let (mut sum, mut n) = (0f64, 0u64);
        for (i, &count) in self.bins[..top].iter().enumerate() {
            let d = f64::from(centre - Self::value(i));
            sum += d * d * count as f64;
            n += count;
        }
        if n == 0 {
            0.0
        } else {
            (sum / n as f64).sqrt() as f32
        }
    }

    fn percentile(&self, q: f64) -> f32 {
        let target = (self.count as f64 * q) as u64;
        let mut seen = 0;
        for (i, &n) in self.bins.iter().enumerate() {
            seen += n;
            if seen > target {
                return Self::value(i);
            }
        }
        Self::MAX
    }
}
