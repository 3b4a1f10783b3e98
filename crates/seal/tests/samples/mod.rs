//! Images the seal tests and the service's seal benchmark upload.

use image::{ImageFormat, Rgb, RgbImage};

/// A red ring on white paper, `side`×`side`: flat colours, so even 16 megapixels stay a small
/// file.
pub fn ring(side: u32, format: ImageFormat) -> Vec<u8> {
    let c = side as f32 / 2.0;
    let image = RgbImage::from_fn(side, side, |x, y| {
        let r = ((x as f32 - c).powi(2) + (y as f32 - c).powi(2)).sqrt();
        if (r - c * 0.6).abs() < c * 0.05 {
            Rgb([200, 30, 40])
        } else {
            Rgb([250, 250, 248])
        }
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, format).expect("encoded");
    out.into_inner()
}
