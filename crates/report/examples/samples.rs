//! Writes the test suite's sample certificates to a folder, to look at them:
//! `cargo run -p inkan-report --example samples -- /tmp/certificates`.

#[path = "../tests/report/sample.rs"]
mod sample;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    std::fs::create_dir_all(&dir)?;
    for (name, completion) in [
        ("small-ja.pdf", sample::small_japanese()),
        ("large-en.pdf", sample::large_english()),
        ("ascii.pdf", sample::ascii_only()),
        ("unusual.pdf", sample::unusual()),
    ] {
        let started = std::time::Instant::now();
        let pdf = report::render(&completion)?;
        let path = dir.join(name);
        std::fs::write(&path, &pdf)?;
        println!(
            "{}: {} bytes in {:.1} ms",
            path.display(),
            pdf.len(),
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
    Ok(())
}
