//! 4. Seal uploads under load: N concurrent uploads of a 16-megapixel image (a PNG under 512 KB)
//!    by one signer, with the server's peak RSS, and `/healthz` polled throughout to see that
//!    other requests keep answering. Run with the default decoding budget and with one so large
//!    that nothing waits, to show what the budget holds back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use image::ImageFormat;

use crate::api::Api;
use crate::server::Server;
use crate::{note, Knobs};

/// The seal tests' sample images.
#[path = "../../../seal/tests/samples/mod.rs"]
mod sample_images;

fn multipart(png: &[u8]) -> (Vec<u8>, String) {
    let boundary = "inkanbenchboundary7MA4YWxkTrZu0gW";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"ring.png\"\r\n\
         Content-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(png);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (body, format!("multipart/form-data; boundary={boundary}"))
}

/// Milliseconds at the `q` quantile of `samples` (sorted here).
fn quantile(samples: &mut [f64], q: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[((samples.len() - 1) as f64 * q).round() as usize]
}

/// `/healthz` round trips every 20 ms until `stop`, in milliseconds.
fn poll_health(server: &Server, stop: &AtomicBool) -> Vec<f64> {
    let mut api = server.api();
    let mut samples = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        assert_eq!(api.get("/healthz").status, 200, "/healthz");
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_millis(20));
    }
    samples
}

struct Run {
    label: String,
    peak_kb: u64,
    started_kb: u64,
    seconds: f64,
    idle: Vec<f64>,
    loaded: Vec<f64>,
}

fn one_run(n: usize, png: &[u8], budget_mb: Option<u32>) -> Run {
    let env: Vec<(String, String)> = budget_mb
        .map(|mb| ("INKAN_SEAL_DECODE_BUDGET_MB".to_owned(), mb.to_string()))
        .into_iter()
        .collect();
    let server = Server::start_with(None, &env);
    let mut admin = server.admin();
    let signer = server.user(&mut admin, "seal@example.jp", &["signer"]);
    let (started_kb, _) = server.rss_kb();
    let (body, content_type) = multipart(png);
    let stop = AtomicBool::new(false);
    // Idle latency first, for comparison.
    let idle = std::thread::scope(|s| {
        let poller = s.spawn(|| poll_health(&server, &stop));
        std::thread::sleep(Duration::from_secs(2));
        stop.store(true, Ordering::Relaxed);
        poller.join().expect("poller")
    });
    stop.store(false, Ordering::Relaxed);
    let started = Instant::now();
    let (statuses, loaded) = std::thread::scope(|s| {
        let poller = s.spawn(|| poll_health(&server, &stop));
        let uploads: Vec<_> = (0..n)
            .map(|_| {
                let mut api: Api = signer.clone();
                let body = &body;
                let content_type = content_type.as_str();
                s.spawn(move || {
                    api.send("POST", "/api/me/seal-drafts", Some((body, content_type)))
                        .status
                })
            })
            .collect();
        let statuses: Vec<u16> = uploads
            .into_iter()
            .map(|h| h.join().expect("an upload"))
            .collect();
        stop.store(true, Ordering::Relaxed);
        (statuses, poller.join().expect("poller"))
    });
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        statuses.iter().all(|s| *s == 201),
        "every upload is taken: {statuses:?}"
    );
    let (peak_kb, _) = server.rss_kb();
    Run {
        label: budget_mb.map_or_else(
            || "default budget (256 MB)".to_owned(),
            |mb| format!("budget {mb} MB"),
        ),
        peak_kb,
        started_kb,
        seconds,
        idle,
        loaded,
    }
}

pub fn run(knobs: &Knobs) -> Vec<String> {
    let n = knobs.seal_uploads;
    let png = sample_images::ring(4000, ImageFormat::Png);
    note(&format!(
        "seals: {n} concurrent uploads of a 16-megapixel PNG ({} KB)",
        png.len() / 1024
    ));
    let mut report = vec![
        String::new(),
        format!(
            "4. seal uploads: {n} at once of a 4000×4000 PNG ({} KB), one signer, /healthz \
             polled every 20 ms",
            png.len() / 1024
        ),
    ];
    let mut default_peak = 0;
    for budget in [None, Some(65536)] {
        let mut r = one_run(n, &png, budget);
        if budget.is_none() {
            default_peak = r.peak_kb;
        }
        report.push(format!(
            "  {}: all {n} stored in {:.1} s; VmHWM {} MB (after start {} MB); /healthz idle \
             p50 {:.1} ms, p99 {:.1} ms; during uploads p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms \
             ({} samples)",
            r.label,
            r.seconds,
            r.peak_kb / 1024,
            r.started_kb / 1024,
            quantile(&mut r.idle, 0.5),
            quantile(&mut r.idle, 0.99),
            quantile(&mut r.loaded, 0.5),
            quantile(&mut r.loaded, 0.99),
            quantile(&mut r.loaded, 1.0),
            r.loaded.len()
        ));
    }
    report.push(format!(
        "  [{}] peak RSS under 1 GB with the default budget ({} MB)",
        if default_peak < 1024 * 1024 {
            "MET "
        } else {
            "MISS"
        },
        default_peak / 1024
    ));
    report
}
