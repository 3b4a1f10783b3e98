//! Seal images (印影) for Inkan's visible signatures.
//!
//! This crate owns everything about the picture of a seal and nothing about where it is stored or
//! how it arrives: [`check`] turns an upload (bytes and a file name) into a [`CheckedImage`] or a
//! [`SealError`] a user can act on, [`remove_background`] lifts a scanned or photographed red stamp
//! off its paper into a cropped transparent PNG, and [`default_seal`] draws the 電子署名 seal used
//! when a signer has registered none.

#![forbid(unsafe_code)]

mod background;
mod default_seal;
mod upload;

pub use background::{remove_background, Cutout};
pub use default_seal::{default_seal, DEFAULT_SEAL_SIZE};
pub use upload::{
    check, decode_cost, CheckedImage, Format, SealName, MAX_BYTES, MAX_PIXELS, MAX_SIDE,
    PEAK_BYTES_PER_PIXEL,
};

/// Why a seal image was refused. [`SealError::code`] gives a stable machine-readable code per
/// variant; the `Display` text is an English message meant for the person uploading.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// More than [`MAX_BYTES`] bytes were uploaded.
    #[error("the image is {size} bytes; a seal image may be at most {max} bytes (512 KB)")]
    TooLarge { size: usize, max: usize },
    /// The content is not a PNG, GIF or JPEG, whatever the file is called.
    #[error("the file is not a PNG, GIF or JPEG image")]
    NotAnImage,
    /// The header announces more pixels than [`MAX_SIDE`] or [`MAX_PIXELS`] allow.
    #[error(
        "the image is {width}×{height} pixels; a seal image may be at most {MAX_SIDE} pixels \
         on a side and {MAX_PIXELS} pixels in all"
    )]
    TooManyPixels { width: u32, height: u32 },
    /// The bytes start like an image but do not decode.
    #[error("the image is damaged and could not be read: {0}")]
    Corrupt(String),
    /// A PNG, GIF or JPEG feature the decoder does not support.
    #[error("the image uses a feature that cannot be read: {0}")]
    Unsupported(String),
    /// A GIF with more than one frame.
    #[error("animated GIFs are not accepted as seals; upload a still image")]
    Animated,
    /// The file name leaves nothing to call the seal.
    #[error("the file name gives the seal no name; name the file after the seal, e.g. 山田.png")]
    BadName,
    /// No red ink stands out from the paper.
    #[error("no red stamp was found in the image; upload a scan or photo of a red seal on paper")]
    NoStamp,
}

impl SealError {
    /// A stable code for this kind of error, for API clients and translations.
    pub fn code(&self) -> &'static str {
        match self {
            SealError::TooLarge { .. } => "too_large",
            SealError::NotAnImage => "not_an_image",
            SealError::TooManyPixels { .. } => "too_many_pixels",
            SealError::Corrupt(_) => "corrupt",
            SealError::Unsupported(_) => "unsupported_image",
            SealError::Animated => "animated",
            SealError::BadName => "bad_name",
            SealError::NoStamp => "no_stamp",
        }
    }
}

/// Encodes RGBA pixels as a PNG. Writing to memory cannot fail for a well-formed buffer.
fn encode_png(image: &image::RgbaImage) -> Vec<u8> {
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    let mut png = Vec::new();
    // Fast compression: a cut-out is mostly transparent runs, and the default level costs
    // several times the whole background removal.
    let encoder =
        PngEncoder::new_with_quality(&mut png, CompressionType::Fast, FilterType::Adaptive);
    image
        .write_with_encoder(encoder)
        .expect("encoding an in-memory RGBA buffer as PNG does not fail");
    png
}
