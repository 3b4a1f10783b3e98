//! Times `remove_background` on a photo-like JPEG close to the 512 KB upload limit.

use criterion::{criterion_group, criterion_main, Criterion};

#[path = "../tests/seal/scan.rs"]
mod scan;

fn photo_near_limit() -> Vec<u8> {
    let scene = scan::generate(&scan::Spec {
        noise: 6.0,
        gradient: 0.4,
        shadow: 0.2,
        fade_to: 0.6,
        holes: 30,
        ..scan::Spec::new(1800, 1400, 42)
    });
    // The best quality that still fits the limit.
    (50..=98)
        .rev()
        .map(|q| scan::jpeg(&scene.image, q))
        .find(|jpeg| jpeg.len() <= seal::MAX_BYTES)
        .expect("some quality fits 512 KB")
}

fn bench(c: &mut Criterion) {
    let jpeg = photo_near_limit();
    let checked = seal::check(&jpeg, "photo.jpg").expect("valid upload");
    eprintln!(
        "photo: {} bytes, {}×{} pixels",
        jpeg.len(),
        checked.width(),
        checked.height()
    );
    let mut group = c.benchmark_group("seal");
    group.sample_size(20);
    group.bench_function("check_512kb_jpeg", |b| {
        b.iter(|| seal::check(&jpeg, "photo.jpg").expect("valid upload"))
    });
    group.bench_function("remove_background_512kb_jpeg", |b| {
        b.iter(|| seal::remove_background(&checked).expect("stamp found"))
    });
    group.finish();
    c.bench_function("default_seal_first_draw", |b| {
        b.iter(|| seal::default_seal().len())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
