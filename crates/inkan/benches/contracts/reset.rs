//! 5. Password-reset timing: 200 requests alternating between a registered address and an
//!    unknown one; the answers must not tell them apart (the request is only queued either way).

use std::time::Instant;

use serde_json::json;

use crate::server::Server;
use crate::{note, Knobs};

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

pub fn run(knobs: &Knobs) -> Vec<String> {
    let n = knobs.reset_requests;
    note(&format!("reset: {n} password-reset requests, alternating"));
    let server = Server::start(None);
    let mut admin = server.admin();
    server.user(&mut admin, "known@example.jp", &["signer"]);
    let mut anon = server.api();
    // Warm up: the first requests pay for connections and caches.
    for email in ["known@example.jp", "nobody@example.jp"].repeat(5) {
        anon.post("/api/password-reset", json!({ "email": email }))
            .expect(202, "a warm-up reset request");
    }
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..n {
        let (email, into) = if i % 2 == 0 {
            ("known@example.jp", &mut known)
        } else {
            ("nobody@example.jp", &mut unknown)
        };
        let t = Instant::now();
        anon.post("/api/password-reset", json!({ "email": email }))
            .expect(202, "a reset request");
        into.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    // The pairwise differences (known − unknown, each pair sent back to back): their mean and
    // its 95% interval say whether any difference stands out of the noise.
    let diffs: Vec<f64> = known.iter().zip(&unknown).map(|(k, u)| k - u).collect();
    let mean = diffs.iter().sum::<f64>() / diffs.len() as f64;
    let var = diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (diffs.len() - 1) as f64;
    let half = 1.96 * (var / diffs.len() as f64).sqrt();
    let (mk, mu) = (median(&mut known), median(&mut unknown));
    let md = median(&mut diffs.clone());
    let within = mean.abs() <= half;
    vec![
        String::new(),
        format!("5. password reset: {n} requests alternating a registered and an unknown address"),
        format!(
            "  median answer: registered {mk:.2} ms, unknown {mu:.2} ms; mean difference \
             {mean:+.3} ms ± {half:.3} ms (95%), median difference {md:+.3} ms"
        ),
        format!(
            "  [{}] the difference is within the noise",
            if within { "MET " } else { "MISS" }
        ),
    ]
}
