//! Checking an upload: the bytes must be a PNG, GIF or JPEG by content (never by name), small,
//! not a decompression bomb and decodable; the file name becomes the seal's name.

use std::io::Cursor;

use image::codecs::gif::GifDecoder;
use image::{AnimationDecoder, DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader};

use crate::SealError;

/// The largest upload accepted, in bytes (512 KB).
pub const MAX_BYTES: usize = 512 * 1024;
/// The longest side accepted, in pixels.
pub const MAX_SIDE: u32 = 4096;
/// The most pixels accepted in all: a 12-megapixel phone photo (4000×3000) fits, 4096×4096 does
/// not. Decoded as RGBA this bounds an image to 64 MB.
pub const MAX_PIXELS: u64 = 16_000_000;
/// What the decoders may allocate at once: the RGBA image plus one converted copy.
const MAX_ALLOC: u64 = 2 * 4 * MAX_PIXELS;

/// The image formats a seal may be uploaded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Png,
    Gif,
    Jpeg,
}

/// The name of a seal, taken from the uploaded file's name: the last path component without its
/// extension, control and bidirectional-override characters removed, trimmed, at most
/// [`SealName::MAX_CHARS`] characters (longer names are cut), never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealName(String);

impl SealName {
    /// The longest name kept, in characters (not bytes).
    pub const MAX_CHARS: usize = 50;

    /// Derives the seal's name from an uploaded file's name.
    pub fn from_file_name(file_name: &str) -> Result<Self, SealError> {
        // Some browsers send a full client path ("C:\fakepath\印鑑.png").
        let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
        let stem = match base.rfind('.') {
            Some(dot) => &base[..dot],
            None => base,
        };
        let cleaned: String = stem
            .chars()
            .filter(|c| !c.is_control() && !is_bidi_control(*c))
            .collect();
        let name: String = cleaned.trim().chars().take(Self::MAX_CHARS).collect();
        let name = name.trim_end();
        if name.is_empty() {
            return Err(SealError::BadName);
        }
        Ok(SealName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SealName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Characters that reorder the text around them; in a name shown to other people they only
/// serve to disguise it.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// An upload that passed [`check`]: its name, its format and its decoded pixels.
#[derive(Debug, Clone)]
pub struct CheckedImage {
    name: SealName,
    format: Format,
    pixels: image::RgbaImage,
}

impl CheckedImage {
    pub fn name(&self) -> &SealName {
        &self.name
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn width(&self) -> u32 {
        self.pixels.width()
    }

    pub fn height(&self) -> u32 {
        self.pixels.height()
    }

    pub(crate) fn pixels(&self) -> &image::RgbaImage {
        &self.pixels
    }
}

/// Checks an uploaded seal image.
///
/// The format is recognised from the content's magic bytes and confirmed by decoding the whole
/// image; the file name only gives the seal its name. The size is checked first, then the header's
/// dimensions against [`MAX_SIDE`] and [`MAX_PIXELS`] before any pixel is decoded, so a small file
/// announcing a huge image is refused without allocating for it. A JPEG's EXIF orientation is
/// applied. An animated GIF (more than one frame) is refused rather than reduced to its first
/// frame, which may be blank or misleading; an animated PNG gives its default image.
pub fn check(bytes: &[u8], file_name: &str) -> Result<CheckedImage, SealError> {
    if bytes.len() > MAX_BYTES {
        return Err(SealError::TooLarge {
            size: bytes.len(),
            max: MAX_BYTES,
        });
    }
    let name = SealName::from_file_name(file_name)?;
    let format = match image::guess_format(bytes) {
        Ok(ImageFormat::Png) => Format::Png,
        Ok(ImageFormat::Gif) => Format::Gif,
        Ok(ImageFormat::Jpeg) => Format::Jpeg,
        _ => return Err(SealError::NotAnImage),
    };
    let pixels = match format {
        Format::Png => decode_still(bytes, ImageFormat::Png)?,
        Format::Jpeg => {
            // The JPEG decoder fills in what is missing from a cut-off file instead of failing.
            if !has_end_of_image(bytes) {
                return Err(SealError::Corrupt("the JPEG data is cut off".into()));
            }
            decode_still(bytes, ImageFormat::Jpeg)?
        }
        Format::Gif => decode_gif(bytes)?,
    };
    Ok(CheckedImage {
        name,
        format,
        pixels,
    })
}

/// The most memory [`check`] and [`crate::remove_background`] together use per pixel at their
/// peak: the decoded image converted to RGBA (4 bytes, 7 while an RGB decode is converted),
/// ink strength as `f32` (4) and the cut-out (up to 4), plus the PNG encoder's buffers.
pub const PEAK_BYTES_PER_PIXEL: u64 = 14;

/// What checking and lifting `bytes` will take in memory at the peak, in bytes, read from the
/// image's header without decoding a pixel (so a server can wait for room before it decodes).
/// The same refusals as [`check`] for what is too big or no image; 0 for a header that does not
/// read, which [`check`] then refuses.
pub fn decode_cost(bytes: &[u8]) -> Result<u64, SealError> {
    if bytes.len() > MAX_BYTES {
        return Err(SealError::TooLarge {
            size: bytes.len(),
            max: MAX_BYTES,
        });
    }
    let format = match image::guess_format(bytes) {
        Ok(format @ (ImageFormat::Png | ImageFormat::Gif | ImageFormat::Jpeg)) => format,
        _ => return Err(SealError::NotAnImage),
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.no_limits();
    let Ok((width, height)) = reader.into_dimensions() else {
        return Ok(0);
    };
    check_dimensions((width, height))?;
    Ok(u64::from(width) * u64::from(height) * PEAK_BYTES_PER_PIXEL)
}

fn limits() -> image::Limits {
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    limits
}

/// Refuses dimensions read from a header, before anything is decoded.
fn check_dimensions((width, height): (u32, u32)) -> Result<(), SealError> {
    if width == 0 || height == 0 {
        return Err(SealError::Corrupt("the image has no pixels".into()));
    }
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(SealError::TooManyPixels { width, height });
    }
    Ok(())
}

fn decode_still(bytes: &[u8], format: ImageFormat) -> Result<image::RgbaImage, SealError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.no_limits();
    // Building the decoder reads the header only.
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let dimensions = decoder.dimensions();
    check_dimensions(dimensions)?;
    decoder
        .set_limits(limits())
        .map_err(|e| limit_error(e, dimensions))?;
    let orientation = decoder.orientation().map_err(decode_error)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| limit_error(e, dimensions))?;
    image.apply_orientation(orientation);
    Ok(image.into_rgba8())
}

fn decode_gif(bytes: &[u8]) -> Result<image::RgbaImage, SealError> {
    let mut decoder = GifDecoder::new(Cursor::new(bytes)).map_err(decode_error)?;
    let dimensions = decoder.dimensions();
    check_dimensions(dimensions)?;
    decoder
        .set_limits(limits())
        .map_err(|e| limit_error(e, dimensions))?;
    let mut frames = decoder.into_frames();
    let first = frames
        .next()
        .ok_or_else(|| SealError::Corrupt("the GIF has no frame".into()))?
        .map_err(|e| limit_error(e, dimensions))?;
    if frames.next().is_some() {
        return Err(SealError::Animated);
    }
    Ok(first.into_buffer())
}

/// A JPEG ends with the EOI marker; camera files may carry a few bytes after it.
fn has_end_of_image(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(4096)..];
    tail.windows(2).any(|w| w == [0xFF, 0xD9])
}

fn limit_error(error: ImageError, (width, height): (u32, u32)) -> SealError {
    match error {
        ImageError::Limits(_) => SealError::TooManyPixels { width, height },
        other => decode_error(other),
    }
}

fn decode_error(error: ImageError) -> SealError {
    match error {
        ImageError::Unsupported(e) => SealError::Unsupported(e.to_string()),
        other => SealError::Corrupt(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(file_name: &str) -> Result<String, &'static str> {
        SealName::from_file_name(file_name)
            .map(|n| n.as_str().to_owned())
            .map_err(|e| e.code())
    }

    #[test]
    fn name_is_the_file_name_without_extension() {
        assert_eq!(name("山田.png"), Ok("山田".into()));
        assert_eq!(name("yamada.seal.JPG"), Ok("yamada.seal".into()));
        assert_eq!(name("no extension"), Ok("no extension".into()));
        assert_eq!(name("C:\\fakepath\\印鑑.gif"), Ok("印鑑".into()));
        assert_eq!(name("dir/sub/角印.png"), Ok("角印".into()));
    }

    #[test]
    fn name_loses_control_characters_and_surrounding_space() {
        assert_eq!(name("  山\u{0}田\u{7}\t.png"), Ok("山田".into()));
        assert_eq!(name("abc\u{202E}gnp.png"), Ok("abcgnp".into()));
    }

    #[test]
    fn long_name_is_cut_to_fifty_characters() {
        let long = format!("{}.png", "印".repeat(80));
        let cut = name(&long).expect("a long name is cut, not refused");
        assert_eq!(cut.chars().count(), SealName::MAX_CHARS);
    }

    #[test]
    fn name_with_nothing_left_is_refused() {
        for bad in [
            ".png",
            "   .jpg",
            "\u{1}\u{2}.gif",
            "",
            "dir/.png",
            "\u{202E} .png",
        ] {
            assert_eq!(name(bad), Err("bad_name"), "{bad:?}");
        }
    }
}
