//! What checking an upload and lifting its stamp really allocate at their peak, measured with a
//! counting allocator, against the cost [`seal::decode_cost`] announces from the header (what a
//! server reserves from its decoding budget before it decodes). A test binary of its own: the
//! allocator counts the whole process, so nothing else may run beside it.

use image::ImageFormat;
use peak_alloc::PeakAlloc;
use samples::ring;

mod samples;

#[global_allocator]
static ALLOCATED: PeakAlloc = PeakAlloc;

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
