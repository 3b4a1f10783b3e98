//! Visible signature appearance: the seal image and the signer's name and
//! signing time, drawn into a form XObject content stream plus image XObjects
//! (8-bit DeviceRGB with a DeviceGray /SMask), independent of any PDF object model.

use std::io::Write;
use std::sync::LazyLock;

use ab_glyph::{point, Font, FontRef, GlyphId, PxScale};
use flate2::write::ZlibEncoder;
use flate2::Compression;

/// The seal PNG may have at most this many pixels (16 Mi = 4096 × 4096);
/// larger images are refused from their IHDR header, before any decoding.
pub const MAX_SEAL_PIXELS: u64 = 16 * 1024 * 1024;

/// Resolution of the rasterised text, in image pixels per PDF point (288 dpi).
const TEXT_PX_PER_PT: f64 = 4.0;
/// Largest font size used for the text lines, in points.
const MAX_FONT_PT: f64 = 24.0;
/// Below this font size the text is unreadable and the rectangle is refused.
const MIN_FONT_PT: f64 = 3.0;
/// Smallest accepted widget side, in points.
const MIN_SIDE_PT: f64 = 1.0;
/// Minimum baseline-to-baseline distance, in em.
const MIN_LINE_PITCH_EM: f64 = 1.2;
/// Fraction of the inner width the seal may take when text is shown beside it.
const SEAL_WIDTH_FRACTION: f64 = 0.4;
/// Colour of the text (near-black).
const TEXT_RGB: [u8; 3] = [0x1a, 0x1a, 0x1a];

/// IPAGothic (IPA Font License v1.0, see `assets/fonts/LICENSE-IPA.txt`).
static FONT_DATA: &[u8] = include_bytes!("../assets/fonts/ipag.ttf");

static FONT: LazyLock<Result<FontRef<'static>, String>> =
    LazyLock::new(|| FontRef::try_from_slice(FONT_DATA).map_err(|e| e.to_string()));

/// Errors while building an appearance.
#[derive(Debug, thiserror::Error)]
pub enum AppearanceError {
    /// The seal is not a decodable PNG, or it exceeds [`MAX_SEAL_PIXELS`].
    #[error("bad seal image: {0}")]
    BadSeal(String),
    /// The bundled font could not be loaded or lacks required metrics.
    #[error("font error: {0}")]
    Font(String),
    /// The widget rectangle is too small (or not finite) for its contents.
    #[error("signature rectangle is too small for its contents")]
    TooSmall,
    /// Flate compression of image samples failed (not expected in practice).
    #[error("compressing image data failed: {0}")]
    Compress(String),
}

/// What a visible signature shows.
#[derive(Debug, Clone)]
pub struct AppearanceSpec<'a> {
    /// Widget rectangle width in PDF points.
    pub width: f64,
    /// Widget rectangle height in PDF points.
    pub height: f64,
    /// A PNG (any colour type / bit depth, with or without alpha or tRNS).
    pub seal_png: Option<&'a [u8]>,
    /// Text lines, e.g. the signer's name and the signing time.
    pub lines: Vec<String>,
}

/// An image XObject ready to embed: 8-bit DeviceRGB samples Flate-compressed
/// (zlib, for `/Filter /FlateDecode`), plus an optional DeviceGray soft mask
/// (8 bits per component, also Flate-compressed) of the same size.
#[derive(Debug, Clone)]
pub struct Image {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes of RGB samples, zlib-compressed.
    pub rgb_flate: Vec<u8>,
    /// `width * height` bytes of alpha samples, zlib-compressed; `None` when opaque.
    pub alpha_flate: Option<Vec<u8>>,
}

/// A form XObject body with its images.
#[derive(Debug, Clone)]
pub struct Appearance {
    /// The form XObject's content stream (uncompressed), drawing the images by
    /// resource names /Im0, /Im1 ... in order of `images`. Its coordinates
    /// assume a `/BBox [0 0 width height]`.
    pub content: Vec<u8>,
    /// The images referenced by the content stream.
    pub images: Vec<Image>,
}

/// Builds the appearance for a widget of `spec.width` × `spec.height` points:
/// the seal (if any) on the left, aspect ratio kept, and the text lines to its
/// right (or over the whole rectangle without a seal), sized to fit.
pub fn render(spec: &AppearanceSpec) -> Result<Appearance, AppearanceError> {
    let (w, h) = (spec.width, spec.height);
    if !(w.is_finite() && h.is_finite()) || w < MIN_SIDE_PT || h < MIN_SIDE_PT {
        return Err(AppearanceError::TooSmall);
    }
    let seal = spec.seal_png.map(seal_image).transpose()?;
    let lines: Vec<String> = spec.lines.iter().map(|l| clean_line(l)).collect();
    let has_text = lines.iter().any(|l| !l.is_empty());

    let pad = (w.min(h) * 0.05).min(6.0);
    let (x0, y0, iw, ih) = (pad, pad, w - 2.0 * pad, h - 2.0 * pad);

    let mut content = Vec::new();
    let mut images = Vec::new();
    let mut text_x = x0;

    if let Some(seal) = seal {
        let box_w = if has_text {
            iw * SEAL_WIDTH_FRACTION
        } else {
            iw
        };
        let scale = (box_w / f64::from(seal.width)).min(ih / f64::from(seal.height));
        let (dw, dh) = (
            f64::from(seal.width) * scale,
            f64::from(seal.height) * scale,
        );
        let x = if has_text { x0 } else { x0 + (iw - dw) / 2.0 };
        let y = y0 + (ih - dh) / 2.0;
        draw_image(&mut content, images.len(), x, y, dw, dh);
        images.push(seal);
        text_x = x0 + dw + pad.max(1.0);
    }

    if has_text {
        let area_w = x0 + iw - text_x;
        let text = rasterise_text(&lines, area_w, ih)?;
        let dw = f64::from(text.width) / TEXT_PX_PER_PT;
        let dh = f64::from(text.height) / TEXT_PX_PER_PT;
        let y = y0 + (ih - dh) / 2.0;
        draw_image(&mut content, images.len(), text_x, y, dw, dh);
        images.push(text.into_image()?);
    }

    Ok(Appearance { content, images })
}

/// What a form field's appearance shows.
#[derive(Debug, Clone, Copy)]
pub enum FieldLook<'a> {
    /// An empty field: a light box with the field's label in grey.
    Empty { label: &'a str },
    /// A filled text field: its value in dark text inside the box (several lines for a
    /// multi-line field).
    Value { lines: &'a [String] },
    /// A checkbox: a square at the left of the rectangle, ticked or not, with the label in grey
    /// beside it when there is room.
    Checkbox { checked: bool, label: &'a str },
}

/// Light blue-grey frame and a paler fill: visible on screen and in print, without hiding
/// anything drawn under the field.
const FRAME_RGB: [f64; 3] = [0.55, 0.6, 0.7];
const FILL_RGB: [f64; 3] = [0.95, 0.96, 1.0];
/// Labels are grey, so an empty field never reads as filled in.
const LABEL_RGB: [u8; 3] = [0x70, 0x70, 0x70];
/// Labels are set at most this large; below the minimum they are left out (the tooltip keeps
/// them).
const LABEL_MAX_PT: f64 = 10.0;
const LABEL_MIN_PT: f64 = 4.0;
/// A filled-in value is set at most this large.
const VALUE_MAX_PT: f64 = 12.0;

/// The border and background colours drawn by [`render_field`], for a widget's /MK entry.
pub fn field_colours() -> ([f64; 3], [f64; 3]) {
    (FRAME_RGB, FILL_RGB)
}

/// Builds the appearance of a form field of `width` × `height` points (the box as the viewer
/// shows it). An empty field's label that cannot be set at a readable size is left out; a value
/// that does not fit is refused with [`AppearanceError::TooSmall`].
pub fn render_field(
    width: f64,
    height: f64,
    look: FieldLook<'_>,
) -> Result<Appearance, AppearanceError> {
    if !(width.is_finite() && height.is_finite()) || width < MIN_SIDE_PT || height < MIN_SIDE_PT {
        return Err(AppearanceError::TooSmall);
    }
    let mut content = Vec::new();
    let mut images = Vec::new();
    let pad = (width.min(height) * 0.1).min(3.0);
    match look {
        FieldLook::Empty { label } => {
            draw_box(&mut content, 0.0, 0.0, width, height, true);
            let label = clean_line(label);
            if !label.is_empty() {
                let style = TextStyle {
                    max_pt: LABEL_MAX_PT,
                    min_pt: LABEL_MIN_PT,
                    rgb: LABEL_RGB,
                };
                if let Ok(text) =
                    rasterise_text_with(&[label], width - 2.0 * pad, height - 2.0 * pad, style)
                {
                    place_text(&mut content, &mut images, text, pad, height)?;
                }
            }
        }
        FieldLook::Value { lines } => {
            draw_box(&mut content, 0.0, 0.0, width, height, false);
            let lines: Vec<String> = lines.iter().map(|l| clean_line(l)).collect();
            if lines.iter().any(|l| !l.is_empty()) {
                let style = TextStyle {
                    max_pt: VALUE_MAX_PT,
                    min_pt: MIN_FONT_PT,
                    rgb: TEXT_RGB,
                };
                let text =
                    rasterise_text_with(&lines, width - 2.0 * pad, height - 2.0 * pad, style)?;
                place_text(&mut content, &mut images, text, pad, height)?;
            }
        }
        FieldLook::Checkbox { checked, label } => {
            let side = width.min(height);
            let y = (height - side) / 2.0;
            draw_box(&mut content, 0.0, y, side, side, true);
            if checked {
                draw_tick(&mut content, 0.0, y, side);
            }
            let label = clean_line(label);
            let gap = pad.max(3.0);
            let room = width - side - gap - pad;
            if !label.is_empty() && room > 0.0 {
                let style = TextStyle {
                    max_pt: LABEL_MAX_PT,
                    // A label beside a box is only worth drawing when it is readable.
                    min_pt: 6.0,
                    rgb: LABEL_RGB,
                };
                if let Ok(text) = rasterise_text_with(&[label], room, height - 2.0 * pad, style) {
                    place_text(&mut content, &mut images, text, side + gap, height)?;
                }
            }
        }
    }
    Ok(Appearance { content, images })
}

/// One line of text set at `size_pt` (smaller when it would be wider than `max_width`), drawn
/// at the origin; returns the appearance with its width and height in points.
pub fn render_line(
    text: &str,
    size_pt: f64,
    max_width: f64,
    rgb: [u8; 3],
) -> Result<(Appearance, f64, f64), AppearanceError> {
    let line = clean_line(text);
    if line.is_empty() {
        return Err(AppearanceError::TooSmall);
    }
    let style = TextStyle {
        max_pt: size_pt,
        min_pt: MIN_FONT_PT.min(size_pt),
        rgb,
    };
    let raster = rasterise_text_with(&[line], max_width, f64::from(u16::MAX), style)?;
    let w = f64::from(raster.width) / TEXT_PX_PER_PT;
    let h = f64::from(raster.height) / TEXT_PX_PER_PT;
    let mut content = Vec::new();
    draw_image(&mut content, 0, 0.0, 0.0, w, h);
    Ok((
        Appearance {
            content,
            images: vec![raster.into_image()?],
        },
        w,
        h,
    ))
}

/// Draws rasterised text left-aligned at `x`, centred vertically in a box `height` high.
fn place_text(
    content: &mut Vec<u8>,
    images: &mut Vec<Image>,
    text: Raster,
    x: f64,
    height: f64,
) -> Result<(), AppearanceError> {
    let dw = f64::from(text.width) / TEXT_PX_PER_PT;
    let dh = f64::from(text.height) / TEXT_PX_PER_PT;
    draw_image(content, images.len(), x, (height - dh) / 2.0, dw, dh);
    images.push(text.into_image()?);
    Ok(())
}

/// A rectangle with a thin frame, filled with the pale background when `fill`.
fn draw_box(content: &mut Vec<u8>, x: f64, y: f64, w: f64, h: f64, fill: bool) {
    let lw = 0.75f64.min(w / 4.0).min(h / 4.0);
    let rgb = |c: [f64; 3]| format!("{} {} {}", fmt_num(c[0]), fmt_num(c[1]), fmt_num(c[2]));
    let mut ops = String::from("q\n");
    if fill {
        ops.push_str(&format!(
            "{} rg\n{} {} {} {} re\nf\n",
            rgb(FILL_RGB),
            fmt_num(x),
            fmt_num(y),
            fmt_num(w),
            fmt_num(h)
        ));
    }
    ops.push_str(&format!(
        "{} RG\n{} w\n{} {} {} {} re\nS\nQ\n",
        rgb(FRAME_RGB),
        fmt_num(lw),
        fmt_num(x + lw / 2.0),
        fmt_num(y + lw / 2.0),
        fmt_num(w - lw),
        fmt_num(h - lw)
    ));
    content.extend_from_slice(ops.as_bytes());
}

/// A tick mark drawn as a path (no font needed) in a square of `side` points at (x, y).
fn draw_tick(content: &mut Vec<u8>, x: f64, y: f64, side: f64) {
    let p = |fx: f64, fy: f64| format!("{} {}", fmt_num(x + side * fx), fmt_num(y + side * fy));
    let ops = format!(
        "q\n0.1 0.1 0.1 RG\n{} w\n1 J\n1 j\n{} m\n{} l\n{} l\nS\nQ\n",
        fmt_num((side * 0.12).max(0.5)),
        p(0.2, 0.52),
        p(0.42, 0.28),
        p(0.8, 0.76)
    );
    content.extend_from_slice(ops.as_bytes());
}

/// Appends `q w 0 0 h x y cm /ImN Do Q`.
fn draw_image(content: &mut Vec<u8>, index: usize, x: f64, y: f64, w: f64, h: f64) {
    let ops = format!(
        "q\n{} 0 0 {} {} {} cm\n/Im{index} Do\nQ\n",
        fmt_num(w),
        fmt_num(h),
        fmt_num(x),
        fmt_num(y)
    );
    content.extend_from_slice(ops.as_bytes());
}

/// Formats a number for a content stream: no exponent, at most 4 decimals,
/// no trailing zeros.
fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return "0".to_owned();
    }
    let mut s = format!("{v:.4}");
    if s.contains('.') {
        let trimmed = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(trimmed);
    }
    if s == "-0" {
        s = "0".to_owned();
    }
    s
}

/// Drops control characters and trailing whitespace.
fn clean_line(line: &str) -> String {
    let s: String = line.chars().filter(|c| !c.is_control()).collect();
    s.trim_end().to_owned()
}

/// Decoded pixels: RGB plus an alpha plane (absent when fully opaque).
#[derive(Debug)]
struct Raster {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
    alpha: Option<Vec<u8>>,
}

impl Raster {
    /// The image as made for one signature (rasterised text): compressed at zlib's fastest
    /// level, which costs a fifth of the default's time for a few per cent more bytes.
    fn into_image(self) -> Result<Image, AppearanceError> {
        self.compressed(Compression::fast())
    }

    /// The image as kept for many signatures (a seal): compressed at the default level.
    fn into_kept_image(self) -> Result<Image, AppearanceError> {
        self.compressed(Compression::default())
    }

    fn compressed(self, level: Compression) -> Result<Image, AppearanceError> {
        Ok(Image {
            width: self.width,
            height: self.height,
            rgb_flate: deflate(&self.rgb, level)?,
            alpha_flate: self
                .alpha
                .as_deref()
                .map(|a| deflate(a, level))
                .transpose()?,
        })
    }
}

fn deflate(data: &[u8], level: Compression) -> Result<Vec<u8>, AppearanceError> {
    let mut enc = ZlibEncoder::new(Vec::new(), level);
    enc.write_all(data)
        .and_then(|()| enc.finish())
        .map_err(|e| AppearanceError::Compress(e.to_string()))
}

fn bad_seal(e: impl std::fmt::Display) -> AppearanceError {
    AppearanceError::BadSeal(e.to_string())
}

/// Reads the pixel size from a PNG's IHDR chunk and enforces the pixel limit,
/// without decoding anything else.
fn check_png_header(data: &[u8]) -> Result<(u32, u32), AppearanceError> {
    const SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";
    if data.len() < 24 || &data[..8] != SIGNATURE {
        return Err(bad_seal("not a PNG file"));
    }
    if &data[12..16] != b"IHDR" {
        return Err(bad_seal("PNG does not start with an IHDR chunk"));
    }
    let be = |i: usize| u32::from_be_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
    let (width, height) = (be(16), be(20));
    if width == 0 || height == 0 {
        return Err(bad_seal("PNG has a zero dimension"));
    }
    if u64::from(width) * u64::from(height) > MAX_SEAL_PIXELS {
        return Err(bad_seal(format!(
            "PNG is {width}x{height} pixels, over the {MAX_SEAL_PIXELS} pixel limit"
        )));
    }
    Ok((width, height))
}

/// How many seals' images [`seal_image`] keeps.
const SEALS_KEPT: usize = 16;

/// The seal PNG `data` as an image XObject's samples. A signer stamps the same few seals again
/// and again, and decoding and compressing one costs more than the rest of a signature on a
/// small PDF, so the last [`SEALS_KEPT`] are kept, by the SHA-256 of their PNG (the output is a
/// function of the input alone: keeping it changes nothing but the time).
fn seal_image(data: &[u8]) -> Result<Image, AppearanceError> {
    type Kept = Vec<([u8; 32], Image)>;
    static KEPT: std::sync::Mutex<Kept> = std::sync::Mutex::new(Vec::new());
    let mut digest = [0u8; 32];
    digest.copy_from_slice(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data).as_ref());
    let lock = || {
        KEPT.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    {
        let mut kept = lock();
        if let Some(i) = kept.iter().position(|(d, _)| *d == digest) {
            // The most recently used last.
            let entry = kept.remove(i);
            let image = entry.1.clone();
            kept.push(entry);
            return Ok(image);
        }
    }
    let image = decode_seal(data)?.into_kept_image()?;
    let mut kept = lock();
    if kept.len() >= SEALS_KEPT {
        kept.remove(0);
    }
    kept.push((digest, image.clone()));
    Ok(image)
}

fn decode_seal(data: &[u8]) -> Result<Raster, AppearanceError> {
    let (width, height) = check_png_header(data)?;
    let mut decoder = png::Decoder::new(data);
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(bad_seal)?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buf).map_err(bad_seal)?;
    if (frame.width, frame.height) != (width, height) {
        return Err(bad_seal("PNG frame size differs from its header"));
    }
    if frame.bit_depth != png::BitDepth::Eight {
        return Err(bad_seal(format!(
            "unexpected bit depth {:?} after normalisation",
            frame.bit_depth
        )));
    }
    let pixels = width as usize * height as usize;
    let channels = match frame.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => return Err(bad_seal("palette was not expanded")),
    };
    let row_bytes = width as usize * channels;
    if frame.line_size < row_bytes || buf.len() < frame.line_size * height as usize {
        return Err(bad_seal("decoded PNG data is shorter than expected"));
    }
    let mut rgb = Vec::with_capacity(pixels * 3);
    let mut alpha = Vec::with_capacity(if channels % 2 == 0 { pixels } else { 0 });
    for row in buf.chunks(frame.line_size).take(height as usize) {
        for px in row[..row_bytes].chunks_exact(channels) {
            match *px {
                [g] => rgb.extend_from_slice(&[g, g, g]),
                [g, a] => {
                    rgb.extend_from_slice(&[g, g, g]);
                    alpha.push(a);
                }
                [r, g, b] => rgb.extend_from_slice(&[r, g, b]),
                [r, g, b, a] => {
                    rgb.extend_from_slice(&[r, g, b]);
                    alpha.push(a);
                }
                _ => {}
            }
        }
    }
    let alpha = (!alpha.is_empty() && alpha.iter().any(|&a| a != u8::MAX)).then_some(alpha);
    Ok(Raster {
        width,
        height,
        rgb,
        alpha,
    })
}

fn font() -> Result<&'static FontRef<'static>, AppearanceError> {
    FONT.as_ref().map_err(|e| AppearanceError::Font(e.clone()))
}

/// Glyph ids and pen positions (in font units) of one line; returns its advance width.
fn layout_line(font: &FontRef<'_>, line: &str, out: &mut Vec<(GlyphId, f64)>) -> f64 {
    let mut caret = 0.0f64;
    let mut prev: Option<GlyphId> = None;
    for c in line.chars() {
        let id = font.glyph_id(c);
        if let Some(p) = prev {
            caret += f64::from(font.kern_unscaled(p, id));
        }
        out.push((id, caret));
        caret += f64::from(font.h_advance_unscaled(id));
        prev = Some(id);
    }
    caret
}

/// Rasterises the lines into an anti-aliased coverage image that fits in
/// `area_w` × `area_h` points at [`TEXT_PX_PER_PT`] pixels per point.
fn rasterise_text(lines: &[String], area_w: f64, area_h: f64) -> Result<Raster, AppearanceError> {
    rasterise_text_with(
        lines,
        area_w,
        area_h,
        TextStyle {
            max_pt: MAX_FONT_PT,
            min_pt: MIN_FONT_PT,
            rgb: TEXT_RGB,
        },
    )
}

/// The size limits and colour of rasterised text.
#[derive(Debug, Clone, Copy)]
struct TextStyle {
    max_pt: f64,
    min_pt: f64,
    rgb: [u8; 3],
}

/// [`rasterise_text`] with a size range and colour of its own.
fn rasterise_text_with(
    lines: &[String],
    area_w: f64,
    area_h: f64,
    style: TextStyle,
) -> Result<Raster, AppearanceError> {
    let font = font()?;
    let upem = f64::from(
        font.units_per_em()
            .ok_or_else(|| AppearanceError::Font("font has no units per em".into()))?,
    );
    let ascent = f64::from(font.ascent_unscaled()) / upem;
    let descent = -f64::from(font.descent_unscaled()) / upem;
    let line_gap = f64::from(font.line_gap_unscaled()) / upem;
    let pitch_em = (ascent + descent + line_gap).max(MIN_LINE_PITCH_EM);

    let mut laid_out = Vec::with_capacity(lines.len());
    let mut max_w_em = 0.0f64;
    for line in lines {
        let mut glyphs = Vec::new();
        let advance = layout_line(font, line, &mut glyphs) / upem;
        max_w_em = max_w_em.max(advance);
        laid_out.push(glyphs);
    }
    let n = lines.len() as f64;
    let block_h_em = (n - 1.0) * pitch_em + ascent + descent;

    // Leave one raster pixel of slack so that rounding up stays inside the area.
    let slack = 1.0 / TEXT_PX_PER_PT;
    let mut size = style.max_pt.min((area_h - slack) / block_h_em);
    if max_w_em > 0.0 {
        size = size.min((area_w - slack) / max_w_em);
    }
    if !size.is_finite() || size < style.min_pt {
        return Err(AppearanceError::TooSmall);
    }

    let em_px = size * TEXT_PX_PER_PT;
    let width = (max_w_em * em_px).ceil().max(1.0) as u32;
    let height = (block_h_em * em_px).ceil().max(1.0) as u32;
    let (wu, hu) = (width as usize, height as usize);
    let mut coverage = vec![0.0f32; wu * hu];

    let units_to_px = em_px / upem;
    let px_scale = PxScale::from((em_px * f64::from(font.height_unscaled()) / upem) as f32);
    for (i, glyphs) in laid_out.iter().enumerate() {
        let baseline = (ascent + i as f64 * pitch_em) * em_px;
        for &(id, pen) in glyphs {
            let glyph = id.with_scale_and_position(
                px_scale,
                point((pen * units_to_px) as f32, baseline as f32),
            );
            let Some(outline) = font.outline_glyph(glyph) else {
                continue;
            };
            let bounds = outline.px_bounds();
            let (bx, by) = (bounds.min.x as i64, bounds.min.y as i64);
            outline.draw(|gx, gy, c| {
                let x = bx + i64::from(gx);
                let y = by + i64::from(gy);
                if (0..width as i64).contains(&x) && (0..height as i64).contains(&y) {
                    let cell = &mut coverage[y as usize * wu + x as usize];
                    *cell = (*cell + c).min(1.0);
                }
            });
        }
    }

    let alpha: Vec<u8> = coverage
        .iter()
        .map(|&c| (c.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    let rgb = style.rgb.repeat(wu * hu);
    Ok(Raster {
        width,
        height,
        rgb,
        alpha: Some(alpha),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn inflate(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(data)
            .read_to_end(&mut out)
            .expect("valid zlib stream");
        out
    }

    struct PngSpec<'a> {
        width: u32,
        height: u32,
        color: png::ColorType,
        depth: png::BitDepth,
        data: &'a [u8],
        palette: Option<&'a [u8]>,
        trns: Option<&'a [u8]>,
    }

    fn encode_png(p: &PngSpec) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, p.width, p.height);
        enc.set_color(p.color);
        enc.set_depth(p.depth);
        if let Some(pal) = p.palette {
            enc.set_palette(pal.to_vec());
        }
        if let Some(t) = p.trns {
            enc.set_trns(t.to_vec());
        }
        let mut writer = enc.write_header().expect("header");
        writer.write_image_data(p.data).expect("image data");
        writer.finish().expect("finish");
        out
    }

    fn spec<'a>(w: f64, h: f64, seal: Option<&'a [u8]>, lines: &[&str]) -> AppearanceSpec<'a> {
        AppearanceSpec {
            width: w,
            height: h,
            seal_png: seal,
            lines: lines.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Parses the content stream into (index, [w, h, x, y]) per drawn image,
    /// checking the exact `q ... cm /ImN Do Q` structure.
    fn placements(content: &[u8]) -> Vec<(usize, [f64; 4])> {
        let text = std::str::from_utf8(content).expect("ASCII content");
        let tokens: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(tokens.len() % 11, 0, "unexpected content: {text}");
        tokens
            .chunks(11)
            .map(|t| {
                assert_eq!(t[0], "q");
                assert_eq!((t[2], t[3], t[7]), ("0", "0", "cm"));
                assert_eq!((t[9], t[10]), ("Do", "Q"));
                for num in [t[1], t[4], t[5], t[6]] {
                    assert!(!num.contains(['e', 'E']), "exponent in {num}");
                    let decimals = num.split('.').nth(1).map_or(0, str::len);
                    assert!(decimals <= 4, "too many decimals in {num}");
                }
                let idx = t[8]
                    .strip_prefix("/Im")
                    .and_then(|i| i.parse().ok())
                    .expect("image name");
                let n = |s: &str| s.parse::<f64>().expect("number");
                (idx, [n(t[1]), n(t[4]), n(t[5]), n(t[6])])
            })
            .collect()
    }

    fn assert_inside(p: [f64; 4], w: f64, h: f64) {
        let [pw, ph, x, y] = p;
        assert!(pw > 0.0 && ph > 0.0, "{p:?}");
        assert!(x >= 0.0 && y >= 0.0, "{p:?}");
        assert!(
            x + pw <= w + 1e-3 && y + ph <= h + 1e-3,
            "{p:?} outside {w}x{h}"
        );
    }

    fn rgba_seal(w: u32, h: u32) -> (Vec<u8>, Vec<u8>) {
        let mut data = Vec::new();
        for y in 0..h {
            for x in 0..w {
                data.extend_from_slice(&[
                    200,
                    (x * 10) as u8,
                    (y * 20) as u8,
                    ((x + y) * 12) as u8,
                ]);
            }
        }
        let png = encode_png(&PngSpec {
            width: w,
            height: h,
            color: png::ColorType::Rgba,
            depth: png::BitDepth::Eight,
            data: &data,
            palette: None,
            trns: None,
        });
        (png, data)
    }

    /// Seals are kept decoded by their bytes: the same seal twice gives the same image, and
    /// each of more seals than are kept still gives its own (never another seal's).
    #[test]
    fn kept_seals_are_told_apart_by_their_bytes() {
        let seals: Vec<(Vec<u8>, Vec<u8>)> = (0..SEALS_KEPT as u32 + 3)
            .map(|i| rgba_seal(4 + i, 3))
            .collect();
        for _ in 0..2 {
            for (png, data) in &seals {
                let image = seal_image(png).expect("a seal");
                let fresh = decode_seal(png)
                    .expect("a seal")
                    .into_kept_image()
                    .expect("an image");
                assert_eq!(
                    (image.width, &image.rgb_flate, &image.alpha_flate),
                    (fresh.width, &fresh.rgb_flate, &fresh.alpha_flate)
                );
                assert_eq!(inflate(&image.rgb_flate).len() * 4, data.len() * 3);
            }
        }
    }

    #[test]
    fn japanese_text_with_rgba_seal() {
        let (png, data) = rgba_seal(20, 10);
        let app = render(&spec(
            200.0,
            60.0,
            Some(&png),
            &["山田 太郎", "2026-11-25 10:00 JST"],
        ))
        .expect("render");
        assert_eq!(app.images.len(), 2);

        let seal = &app.images[0];
        assert_eq!((seal.width, seal.height), (20, 10));
        let rgb = inflate(&seal.rgb_flate);
        let alpha = inflate(seal.alpha_flate.as_ref().expect("seal alpha"));
        assert_eq!(rgb.len(), 20 * 10 * 3);
        assert_eq!(alpha.len(), 20 * 10);
        let want_rgb: Vec<u8> = data.chunks(4).flat_map(|p| p[..3].to_vec()).collect();
        let want_alpha: Vec<u8> = data.chunks(4).map(|p| p[3]).collect();
        assert_eq!(rgb, want_rgb);
        assert_eq!(alpha, want_alpha);

        let text = &app.images[1];
        let trgb = inflate(&text.rgb_flate);
        let talpha = inflate(text.alpha_flate.as_ref().expect("text alpha"));
        let px = text.width as usize * text.height as usize;
        assert_eq!(trgb.len(), px * 3);
        assert_eq!(talpha.len(), px);
        assert!(trgb.chunks(3).all(|c| c == TEXT_RGB));
        let covered = talpha.iter().filter(|&&a| a > 0).count();
        assert!(covered > px / 20, "too little ink: {covered} of {px}");
        assert!(talpha.iter().any(|&a| a > 0 && a < 255), "not anti-aliased");
        assert!(talpha.contains(&255));

        let placed = placements(&app.content);
        assert_eq!(placed.iter().map(|p| p.0).collect::<Vec<_>>(), vec![0, 1]);
        let [sw, sh, sx, _] = placed[0].1;
        assert!((sw / sh - 2.0).abs() < 1e-3, "seal aspect {sw}/{sh}");
        let [tw, th, tx, _] = placed[1].1;
        assert!(tx >= sx + sw, "text overlaps seal");
        for (_, p) in &placed {
            assert_inside(*p, 200.0, 60.0);
        }
        // The text raster is ~4 pixels per point.
        assert!((f64::from(text.width) / tw - TEXT_PX_PER_PT).abs() < 1e-3);
        assert!((f64::from(text.height) / th - TEXT_PX_PER_PT).abs() < 1e-3);
    }

    fn text_alpha(lines: &[&str]) -> (u32, u32, Vec<u8>) {
        let app = render(&spec(40.0, 40.0, None, lines)).expect("render");
        assert_eq!(app.images.len(), 1);
        let img = &app.images[0];
        let alpha = inflate(img.alpha_flate.as_ref().expect("alpha"));
        (img.width, img.height, alpha)
    }

    #[test]
    fn japanese_glyphs_are_real_not_notdef() {
        let font = font().expect("font");
        for c in ['山', '田', '太', '郎'] {
            assert_ne!(font.glyph_id(c), GlyphId(0), "{c} missing from font");
        }
        let yama = text_alpha(&["山"]);
        let ta = text_alpha(&["田"]);
        assert!(yama.2.iter().any(|&a| a > 0));
        assert!(ta.2.iter().any(|&a| a > 0));
        assert_ne!(yama, ta, "山 and 田 rasterise identically");
        // A character the font lacks renders as .notdef, unlike 山.
        let missing = '\u{10FFFD}';
        assert_eq!(font.glyph_id(missing), GlyphId(0));
        let notdef = text_alpha(&["\u{10FFFD}"]);
        assert_ne!(yama, notdef);
    }

    #[test]
    fn text_only_fills_rectangle_and_font_shrinks_for_long_lines() {
        let short = render(&spec(300.0, 50.0, None, &["山田 太郎"])).expect("render");
        let long = render(&spec(
            300.0,
            50.0,
            None,
            &["山田 太郎 山田 太郎 山田 太郎 山田 太郎 山田 太郎"],
        ))
        .expect("render");
        let ps = placements(&short.content);
        let pl = placements(&long.content);
        assert_eq!(ps.len(), 1);
        assert_inside(ps[0].1, 300.0, 50.0);
        assert_inside(pl[0].1, 300.0, 50.0);
        // Same line count: the long line must be drawn with a smaller font.
        assert!(
            pl[0].1[1] < ps[0].1[1] * 0.8,
            "{:?} vs {:?}",
            pl[0].1,
            ps[0].1
        );
        // The long line is limited by the width: it nearly spans the rectangle.
        assert!(pl[0].1[0] > 300.0 * 0.8);
    }

    #[test]
    fn rgb_with_trns_gets_soft_mask() {
        // 3x1: the middle pixel is the transparent colour.
        let data = [10, 20, 30, 1, 2, 3, 40, 50, 60];
        let png = encode_png(&PngSpec {
            width: 3,
            height: 1,
            color: png::ColorType::Rgb,
            depth: png::BitDepth::Eight,
            data: &data,
            palette: None,
            trns: Some(&[0, 1, 0, 2, 0, 3]),
        });
        let app = render(&spec(100.0, 40.0, Some(&png), &[])).expect("render");
        assert_eq!(app.images.len(), 1);
        let img = &app.images[0];
        assert_eq!(inflate(&img.rgb_flate), data);
        assert_eq!(
            inflate(img.alpha_flate.as_ref().expect("tRNS becomes alpha")),
            [255, 0, 255]
        );
        let placed = placements(&app.content);
        assert_inside(placed[0].1, 100.0, 40.0);
        assert!((placed[0].1[0] / placed[0].1[1] - 3.0).abs() < 1e-3);
    }

    #[test]
    fn sixteen_bit_rgb_is_stripped_and_opaque() {
        // 2x2 RGB16: samples 0x0fff, 0x1fff, ...; the high byte is kept.
        let mut data = Vec::new();
        for i in 0..12u16 {
            data.extend_from_slice(&(0x1000 * (i % 16) + 0x0fff).to_be_bytes());
        }
        let png = encode_png(&PngSpec {
            width: 2,
            height: 2,
            color: png::ColorType::Rgb,
            depth: png::BitDepth::Sixteen,
            data: &data,
            palette: None,
            trns: None,
        });
        let app = render(&spec(100.0, 40.0, Some(&png), &["x"])).expect("render");
        let img = &app.images[0];
        assert_eq!((img.width, img.height), (2, 2));
        let want: Vec<u8> = (0..12u8).map(|i| i * 0x10 + 0x0f).collect();
        assert_eq!(inflate(&img.rgb_flate), want);
        assert!(img.alpha_flate.is_none());
    }

    #[test]
    fn sixteen_bit_gray_alpha() {
        // 2x1 GrayAlpha16.
        let data = [0x80, 0x00, 0xff, 0xff, 0x20, 0x00, 0x40, 0x00];
        let png = encode_png(&PngSpec {
            width: 2,
            height: 1,
            color: png::ColorType::GrayscaleAlpha,
            depth: png::BitDepth::Sixteen,
            data: &data,
            palette: None,
            trns: None,
        });
        let img = &render(&spec(100.0, 40.0, Some(&png), &[]))
            .expect("render")
            .images[0];
        assert_eq!(
            inflate(&img.rgb_flate),
            [0x80, 0x80, 0x80, 0x20, 0x20, 0x20]
        );
        assert_eq!(
            inflate(img.alpha_flate.as_ref().expect("alpha")),
            [0xff, 0x40]
        );
    }

    #[test]
    fn palette_with_trns_and_low_bit_depth() {
        // 4x1, 2-bit palette indices 0,1,2,1; index 1 transparent, index 2 half.
        let palette = [255, 0, 0, 0, 255, 0, 0, 0, 255];
        let png = encode_png(&PngSpec {
            width: 4,
            height: 1,
            color: png::ColorType::Indexed,
            depth: png::BitDepth::Two,
            data: &[0b00_01_10_01],
            palette: Some(&palette),
            trns: Some(&[255, 0, 128]),
        });
        let img = &render(&spec(100.0, 40.0, Some(&png), &["山田"]))
            .expect("render")
            .images[0];
        assert_eq!(
            inflate(&img.rgb_flate),
            [255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 255, 0]
        );
        assert_eq!(
            inflate(img.alpha_flate.as_ref().expect("alpha")),
            [255, 0, 128, 0]
        );
    }

    #[test]
    fn one_bit_grayscale_expands_to_rgb() {
        let png = encode_png(&PngSpec {
            width: 3,
            height: 1,
            color: png::ColorType::Grayscale,
            depth: png::BitDepth::One,
            data: &[0b1010_0000],
            palette: None,
            trns: None,
        });
        let img = &render(&spec(50.0, 50.0, Some(&png), &[]))
            .expect("render")
            .images[0];
        assert_eq!(
            inflate(&img.rgb_flate),
            [255, 255, 255, 0, 0, 0, 255, 255, 255]
        );
        assert!(img.alpha_flate.is_none());
    }

    #[test]
    fn corrupt_png_is_bad_seal() {
        let (png, _) = rgba_seal(8, 8);
        let truncated = &png[..png.len() - 20];
        let mut flipped = png.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0xff; // breaks the IDAT CRC / zlib stream
        for bad in [
            &b"not a png at all"[..],
            &png[..30],
            truncated,
            &flipped,
            &[],
        ] {
            match render(&spec(100.0, 40.0, Some(bad), &["山田"])) {
                Err(AppearanceError::BadSeal(_)) => {}
                other => panic!("expected BadSeal, got {other:?}"),
            }
        }
    }

    /// A real PNG whose IHDR is rewritten to `w` x `h` (with a valid CRC), so
    /// that only the header check can tell it apart.
    fn png_with_dimensions(w: u32, h: u32) -> Vec<u8> {
        let (mut png, _) = rgba_seal(4, 4);
        png[16..20].copy_from_slice(&w.to_be_bytes());
        png[20..24].copy_from_slice(&h.to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(&png[12..29]);
        png[29..33].copy_from_slice(&crc.sum().to_be_bytes());
        png
    }

    #[test]
    fn enormous_png_is_refused_from_header() {
        let huge = png_with_dimensions(100_000, 100_000);
        match render(&spec(100.0, 40.0, Some(&huge), &[])) {
            Err(AppearanceError::BadSeal(msg)) => {
                assert!(msg.contains("pixel limit"), "{msg}");
                assert!(msg.contains("100000x100000"), "{msg}");
            }
            other => panic!("expected BadSeal, got {other:?}"),
        }
        // Boundary: exactly the limit passes the header check, one row more does not.
        assert_eq!(
            check_png_header(&png_with_dimensions(4096, 4096)).expect("at limit"),
            (4096, 4096)
        );
        assert!(check_png_header(&png_with_dimensions(4096, 4097)).is_err());
        // The same header but with honest dimensions decodes fine.
        let ok = png_with_dimensions(4, 4);
        assert!(render(&spec(100.0, 40.0, Some(&ok), &[])).is_ok());
    }

    #[test]
    fn too_small_rectangles() {
        for (w, h) in [
            (0.5, 40.0),
            (100.0, 0.0),
            (f64::NAN, 40.0),
            (f64::INFINITY, 40.0),
        ] {
            assert!(matches!(
                render(&spec(w, h, None, &["山田"])),
                Err(AppearanceError::TooSmall)
            ));
        }
        // Text that cannot be set at a readable size.
        let many: Vec<&str> = vec!["山田 太郎"; 40];
        assert!(matches!(
            render(&spec(100.0, 40.0, None, &many)),
            Err(AppearanceError::TooSmall)
        ));
        assert!(matches!(
            render(&spec(10.0, 10.0, None, &["山田 太郎 2026-11-25 10:00 JST"])),
            Err(AppearanceError::TooSmall)
        ));
    }

    #[test]
    fn nothing_to_show_gives_empty_appearance() {
        let app = render(&spec(100.0, 40.0, None, &["", "  \t"])).expect("render");
        assert!(app.content.is_empty());
        assert!(app.images.is_empty());
    }

    #[test]
    fn empty_field_shows_a_frame_and_its_label() {
        let app = render_field(
            200.0,
            40.0,
            FieldLook::Empty {
                label: "署名: 山田 太郎",
            },
        )
        .expect("render");
        let text = String::from_utf8(app.content.clone()).expect("ASCII");
        assert!(text.contains(" re\nf\n"), "background: {text}");
        assert!(text.contains(" re\nS\n"), "frame: {text}");
        assert_eq!(app.images.len(), 1, "the label");
        let label = &app.images[0];
        let rgb = inflate(&label.rgb_flate);
        assert!(rgb.chunks(3).all(|c| c == LABEL_RGB));
        // Set at the label size, not stretched to the box.
        assert!(f64::from(label.height) / TEXT_PX_PER_PT <= LABEL_MAX_PT * 1.5);
    }

    #[test]
    fn a_label_too_long_for_its_box_is_left_out_but_a_value_is_refused() {
        let long = "署名: 山田 太郎 ".repeat(20);
        let app = render_field(40.0, 12.0, FieldLook::Empty { label: &long }).expect("render");
        assert!(app.images.is_empty());
        assert!(!app.content.is_empty(), "the frame is still drawn");
        let lines = vec![long.clone()];
        assert!(matches!(
            render_field(40.0, 12.0, FieldLook::Value { lines: &lines }),
            Err(AppearanceError::TooSmall)
        ));
    }

    #[test]
    fn checkbox_states_differ_by_the_tick_only() {
        let on = render_field(
            150.0,
            16.0,
            FieldLook::Checkbox {
                checked: true,
                label: "同意する",
            },
        )
        .expect("on");
        let off = render_field(
            150.0,
            16.0,
            FieldLook::Checkbox {
                checked: false,
                label: "同意する",
            },
        )
        .expect("off");
        assert_eq!(on.images.len(), 1);
        assert_eq!(off.images.len(), 1);
        assert!(on.content.len() > off.content.len());
        assert!(on
            .content
            .starts_with(&off.content[..off.content.len() / 3]));
    }

    #[test]
    fn a_line_is_set_at_its_size_and_shrinks_to_fit() {
        let (app, w, h) =
            render_line("Inkan 契約ID C-2026-000123", 8.0, 1000.0, [0x66; 3]).expect("line");
        assert_eq!(app.images.len(), 1);
        assert!(h > 7.0 && h < 12.0, "{h}");
        let (_, narrow_w, narrow_h) =
            render_line("Inkan 契約ID C-2026-000123", 8.0, w / 2.0, [0x66; 3]).expect("line");
        assert!(narrow_w <= w / 2.0 + 1e-6 && narrow_h < h);
        assert!(render_line("  ", 8.0, 100.0, [0; 3]).is_err());
    }

    #[test]
    fn number_formatting() {
        assert_eq!(fmt_num(1.0), "1");
        assert_eq!(fmt_num(12.5), "12.5");
        assert_eq!(fmt_num(0.123_456), "0.1235");
        assert_eq!(fmt_num(-0.000_01), "0");
        assert_eq!(fmt_num(1e-9), "0");
        assert_eq!(fmt_num(1e20), "100000000000000000000");
        assert_eq!(fmt_num(-3.25), "-3.25");
        assert_eq!(fmt_num(100.0), "100");
    }
}
