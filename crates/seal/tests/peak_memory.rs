//! What checking an upload and lifting its stamp really allocate at their peak, measured with a
//! counting allocator, against the cost [`seal::decode_cost`] announces from the header (what a
//! server reserves from its decoding budget before it decodes). A test binary of its own: the
//! allocator counts the whole process, so nothing else may run beside it.

use image::{ImageFormat, Rgb, RgbImage};
use peak_alloc::PeakAlloc;

#[global_allocator]
static ALLOCATED: PeakAlloc = PeakAlloc;

/// A red ring on white paper, `side`×`side`: flat colours, so even 16 megapixels stay a small
/// file.
fn ring(side: u32, format: ImageFormat) -> Vec<u8> {
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

#[test]
fn lifting_a_stamp_allocates_no_more_than_its_announced_cost() {
    for (side, format) in [(4000, ImageFormat::Png), (3000, ImageFormat::Jpeg)] {
        let bytes = ring(side, format);
        assert!(bytes.len() <= seal::MAX_BYTES, "{} bytes", bytes.len());
        let cost = seal::decode_cost(&bytes).expect("a cost");
        let before = ALLOCATED.current_usage();
        ALLOCATED.reset_peak_usage();
        let checked = seal::check(&bytes, "ring").expect("accepted");
        let cutout = seal::remove_background(&checked).expect("lifted");
        drop((checked, cutout));
        let peak = (ALLOCATED.peak_usage() - before) as u64;
        eprintln!("{format:?} {side}²: peak {peak}, announced {cost}");
        assert!(
            peak <= cost,
            "{format:?} {side}²: peak {peak} > announced {cost}"
        );
        // Not wildly generous either, or the budget would hold back uploads for nothing.
        assert!(
            peak * 2 > cost,
            "{format:?} {side}²: peak {peak}, announced {cost}"
        );
    }
}
