//! 1. Contracts completed per minute, one at a time and several at a time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use serde_json::json;

use crate::api::Api;
use crate::contract::{outside_session, send_contract, sign, PartySpec};
use crate::figures::{median, min_max, table};
use crate::pdf::size_label;
use crate::server::{lock, PgDatabase, Server};
use crate::{note, Knobs};

/// Who signs the throughput contracts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Signers {
    /// Three transaction agents, logged in.
    Internal,
    /// Two transaction agents and one outside party with the one-time code.
    WithOutside,
}

/// One contract (`tag`: a name unique in the run, ASCII) from creation to `completed`; returns
/// how many signatures answered 202.
fn one_contract(
    server: &Server,
    manager: &mut Api,
    agents: &[(String, Api)],
    signers: Signers,
    tag: &str,
    pdf: &[u8],
) -> usize {
    let title = &format!("契約 {tag}");
    let guest = format!("guest-{tag}@example.com");
    let mut parties: Vec<PartySpec> = agents
        .iter()
        .take(if signers == Signers::Internal { 3 } else { 2 })
        .map(|(email, _)| PartySpec {
            email,
            name: None,
            kind: "simple",
        })
        .collect();
    if signers == Signers::WithOutside {
        parties.push(PartySpec {
            email: &guest,
            name: Some("外部 太郎"),
            kind: "simple",
        });
    }
    let id = send_contract(manager, title, pdf, &parties);
    let mut pending = 0;
    for (i, party) in parties.iter().enumerate() {
        let token = server.request_token(party.email, title);
        let mut api = match party.name {
            None => agents[i].1.clone(),
            Some(_) => outside_session(server, &token, party.email, title),
        };
        if sign(&mut api, &token, json!({})) == 202 {
            pending += 1;
        }
    }
    manager.wait_status(&id, "completed");
    pending
}

struct Throughput {
    database: &'static str,
    signers: Signers,
    at_once: usize,
    contracts: usize,
    wall: f64,
    latencies: Vec<f64>,
    pending: usize,
    /// The server's CPU time over the run.
    cpu: f64,
    /// Requests answered 5xx and sent again, and log lines saying "database is locked".
    trouble: (usize, usize),
}

/// A server set up for throughput runs: its document manager and three transaction agents.
struct Stage<'a> {
    server: &'a Server,
    manager: &'a Api,
    agents: &'a [(String, Api)],
    pdf: &'a [u8],
}

impl Stage<'_> {
    /// `contracts` contracts, `at_once` at a time: the wall time, each contract's time, and how
    /// many signatures answered 202.
    pub fn run(
        &self,
        signers: Signers,
        run: &str,
        contracts: usize,
        at_once: usize,
    ) -> (f64, Vec<f64>, usize) {
        let next = AtomicUsize::new(0);
        let results = Mutex::new((Vec::new(), 0));
        let started = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..at_once {
                let mut manager = self.manager.clone();
                let (next, results) = (&next, &results);
                s.spawn(move || loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= contracts {
                        break;
                    }
                    let t = Instant::now();
                    let pending = one_contract(
                        self.server,
                        &mut manager,
                        self.agents,
                        signers,
                        &format!("{run}-{i:04}"),
                        self.pdf,
                    );
                    let mut r = lock(results);
                    r.0.push(t.elapsed().as_secs_f64());
                    r.1 += pending;
                });
            }
        });
        let wall = started.elapsed().as_secs_f64();
        let (latencies, pending) = results.into_inner().unwrap_or_else(|e| e.into_inner());
        (wall, latencies, pending)
    }
}

fn throughput_on(
    knobs: &Knobs,
    database: &'static str,
    url: Option<&str>,
    pdf: &[u8],
) -> Vec<Throughput> {
    note(&format!("throughput on {database}: starting a server"));
    let server = Server::start(url);
    let mut admin = server.admin();
    let manager = server.user(&mut admin, "dm@example.jp", &["document_manager"]);
    let agents: Vec<(String, Api)> = (1..=3)
        .map(|n| {
            let email = format!("agent{n}@example.jp");
            let api = server.user(&mut admin, &email, &["transaction_agent"]);
            (email, api)
        })
        .collect();
    let stage = Stage {
        server: &server,
        manager: &manager,
        agents: &agents,
        pdf,
    };
    // One untimed contract first: the first signature of a process sets things up.
    stage.run(Signers::Internal, "warm-up", 1, 1);
    let mut rows = Vec::new();
    for (signers, contracts, tag) in [
        (Signers::Internal, knobs.contracts, "i"),
        (Signers::WithOutside, knobs.outside_contracts, "o"),
    ] {
        if contracts == 0 {
            continue;
        }
        let mut modes = vec![1];
        if knobs.parallel > 1 {
            modes.push(knobs.parallel);
        }
        for at_once in modes {
            note(&format!(
                "throughput on {database}: {contracts} contracts, {at_once} at a time, {}",
                describe(signers)
            ));
            let (cpu, before) = (server.cpu_seconds(), server.trouble());
            let (wall, latencies, pending) =
                stage.run(signers, &format!("{tag}{at_once}"), contracts, at_once);
            let (cpu, after) = (server.cpu_seconds() - cpu, server.trouble());
            let trouble = (after.0 - before.0, after.1 - before.1);
            rows.push(Throughput {
                database,
                signers,
                at_once,
                contracts,
                wall,
                latencies,
                pending,
                cpu,
                trouble,
            });
        }
    }
    rows
}

fn describe(signers: Signers) -> &'static str {
    match signers {
        Signers::Internal => "3 internal (logged in)",
        Signers::WithOutside => "2 internal + 1 outside (code)",
    }
}

pub fn run(knobs: &Knobs, pdf: &[u8]) -> Vec<String> {
    let mut rows = throughput_on(knobs, "SQLite", None, pdf);
    match &knobs.postgres {
        None => note("PostgreSQL skipped (INKAN_BENCH_POSTGRES=0)"),
        Some(admin) => match PgDatabase::create(admin) {
            Ok(db) => rows.extend(throughput_on(knobs, "PostgreSQL", Some(&db.url()), pdf)),
            Err(e) => note(&format!("PostgreSQL skipped: {admin} is unreachable: {e}")),
        },
    }
    let mut out = vec![
        String::new(),
        format!(
            "1. contracts completed per minute: create, upload a {} PDF, 3 simple signers in \
             one step with a signature field each, send, 3 signatures over HTTP (one party \
             after another), until `completed` (B-LTA, certificate of completion, mails)",
            size_label(pdf.len())
        ),
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.database.to_owned(),
                describe(r.signers).to_owned(),
                if r.at_once == 1 {
                    "one at a time".to_owned()
                } else {
                    format!("{} at a time", r.at_once)
                },
                r.contracts.to_string(),
                format!("{:.1} s", r.wall),
                format!("{:.1}", r.contracts as f64 * 60.0 / r.wall),
                format!("{:.2} s", median(&r.latencies)),
                format!("{:.2} s", min_max(&r.latencies).1),
                format!("{:.2} s", r.cpu / r.contracts as f64),
                r.pending.to_string(),
                r.trouble.0.to_string(),
                r.trouble.1.to_string(),
            ]
        })
        .collect();
    out.extend(table(
        &[
            "database",
            "signers",
            "mode",
            "contracts",
            "wall",
            "per minute",
            "median contract",
            "slowest",
            "server CPU / contract",
            "202s",
            "5xx retried",
            "\"locked\" in log",
        ],
        &cells,
    ));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for r in rows.iter().filter(|r| r.at_once == 1) {
        let cpu = r.cpu / r.contracts as f64;
        out.push(format!(
            "  {}, {}: {cpu:.2} s of server CPU a contract, so {cores} cores could complete at \
             most ~{:.0} a minute",
            r.database,
            describe(r.signers),
            cores as f64 * 60.0 / cpu
        ));
    }
    out
}
