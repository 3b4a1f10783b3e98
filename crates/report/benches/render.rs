//! Times `render` on the test suite's certificates: a small Japanese one (one page) and a large
//! English one (3 documents, 25 parties, 300 events with 250-character user agents; 26 pages).
//!
//! Run: `cargo bench -p inkan-report --bench render -- --noplot`.

use criterion::{criterion_group, criterion_main, Criterion};

#[path = "../tests/report/sample.rs"]
mod sample;

fn bench(c: &mut Criterion) {
    let small = sample::small_japanese();
    let large = sample::large_english();
    for (name, completion) in [("small_ja", &small), ("large_en", &large)] {
        let pdf = report::render(completion).expect("renders");
        eprintln!("{name}: {} bytes", pdf.len());
    }
    let mut group = c.benchmark_group("render");
    group.sample_size(20);
    group.bench_function("small_ja", |b| {
        b.iter(|| report::render(&small).expect("renders"))
    });
    group.bench_function("large_en", |b| {
        b.iter(|| report::render(&large).expect("renders"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
