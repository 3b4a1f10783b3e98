//! 3. The server's peak RSS while many signers sign one large contract at once.

use std::sync::Barrier;
use std::time::Instant;

use serde_json::json;

use crate::api::Api;
use crate::contract::{send_contract, sign, PartySpec};
use crate::pdf::size_label;
use crate::server::Server;
use crate::{note, Knobs};

pub fn run(knobs: &Knobs, pdf: &[u8]) -> Vec<String> {
    let n = knobs.signers;
    note(&format!(
        "memory: starting a server for {n} concurrent signers"
    ));
    let server = Server::start(None);
    let (started_peak, _) = server.rss_kb();
    let mut admin = server.admin();
    let mut manager = server.user(&mut admin, "dm@example.jp", &["document_manager"]);
    let agents: Vec<(String, Api)> = (0..n)
        .map(|i| {
            let email = format!("agent{i:02}@example.jp");
            let api = server.user(&mut admin, &email, &["transaction_agent"]);
            (email, api)
        })
        .collect();
    let (users_peak, _) = server.rss_kb();
    let title = "同時署名 bench";
    let parties: Vec<PartySpec> = agents
        .iter()
        .map(|(email, _)| PartySpec {
            email,
            name: None,
            kind: "simple",
        })
        .collect();
    let id = send_contract(&mut manager, title, pdf, &parties);
    let tokens: Vec<String> = agents
        .iter()
        .map(|(email, _)| server.request_token(email, title))
        .collect();
    let (setup_peak, _) = server.rss_kb();
    note(&format!(
        "memory: {n} signers sign at once (peak RSS so far {} MB)",
        setup_peak / 1024
    ));
    let barrier = Barrier::new(n);
    let started = Instant::now();
    let answers: Vec<(u16, f64)> = std::thread::scope(|s| {
        let handles: Vec<_> = agents
            .iter()
            .zip(&tokens)
            .map(|((_, api), token)| {
                let mut api = api.clone();
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let t = Instant::now();
                    let status = sign(&mut api, token, json!({}));
                    (status, t.elapsed().as_secs_f64())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a signer's thread"))
            .collect()
    });
    let signed = started.elapsed().as_secs_f64();
    manager.wait_status(&id, "completed");
    let completed = started.elapsed().as_secs_f64();
    server.outbox.wait_body("dm@example.jp", |s| {
        s.starts_with(&format!("【締結完了】{title}（"))
    });
    let (peak, now) = server.rss_kb();
    let slowest = answers.iter().map(|a| a.1).fold(0.0, f64::max);
    let pending = answers.iter().filter(|a| a.0 == 202).count();
    let mb = |kb: u64| format!("{:.0} MB", kb as f64 / 1024.0);
    vec![
        String::new(),
        format!(
            "3. memory: {n} internal simple signers sign one {} contract at once (one step, a \
             signature field each), then completion",
            size_label(pdf.len())
        ),
        format!(
            "  all {n} answered in {signed:.1} s (slowest request {slowest:.1} s, {pending} \
             answered 202, {} requests answered 5xx), completed {completed:.1} s after the first \
             request",
            server.trouble().0
        ),
        format!(
            "  inkan serve VmHWM: {} after start, {} after making the users, {} after upload \
             and send, {} after completion (VmRSS now {})",
            mb(started_peak),
            mb(users_peak),
            mb(setup_peak),
            mb(peak),
            mb(now)
        ),
        format!(
            "  [{}] peak RSS under 500 MB ({})",
            if peak < 500 * 1024 { "MET " } else { "MISS" },
            mb(peak)
        ),
    ]
}
