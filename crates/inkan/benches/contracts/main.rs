//! Contracts end to end, against the real `inkan serve` (built in release mode by `cargo bench`)
//! on a temporary data folder, with mail written as .eml files into its outbox and read back
//! with `mail-parser`:
//!
//! 1. contracts completed per minute: create → upload a PDF → 3 simple signers in one step →
//!    send → 3 signatures over HTTP → `completed`, K contracts one after another and N at a
//!    time, with internal users logged in and with one outside party who goes through the
//!    one-time code; on SQLite and, when reachable, PostgreSQL;
//! 2. one certificate signature (`POST /api/party/{token}/sign`, PAdES B-T, P-256) over HTTP
//!    against its in-process floor (SHA-256 of the file + the private-key signature + a
//!    timestamp from Inkan's TSA), without and with a signing PIN, split by the server's log;
//! 3. the server's peak RSS (VmHWM) while 20 signers sign one 50 MB contract at once;
//! 4. the server's peak RSS and `/healthz` latency while 20 seal images of 16 megapixels are
//!    uploaded at once, with the default decoding budget and with none to speak of;
//! 5. password-reset answers for a registered and an unknown address, 200 alternating.
//!
//! A benchmark, not a test: it checks that every step worked, never how long it took. Run with
//! `cargo bench -p inkan --bench contracts`; sizes and counts come from the environment (see
//! [`Knobs::from_env`]).

mod api;
mod contract;
mod figures;
mod memory;
mod outbox;
mod pdf;
mod reset;
mod seals;
mod server;
mod signature;
mod throughput;

use std::time::{Duration, Instant};

pub const ADMIN: &str = "kanri@example.jp";
pub const PASSWORD: &str = "Bench2026pass";
pub const PIN: &str = "Pin12345678";
/// How long any one step may take before the bench gives up (a broken run, not a slow one).
pub const PATIENCE: Duration = Duration::from_secs(600);

/// Sizes and counts, each overridable by an environment variable.
#[derive(Debug)]
pub struct Knobs {
    /// `INKAN_BENCH_PARTS`: any of `throughput,signature,memory,seals,reset` (default all).
    pub parts: Vec<String>,
    /// `INKAN_BENCH_CONTRACTS`: contracts per throughput run with internal signers (20).
    pub contracts: usize,
    /// `INKAN_BENCH_OUTSIDE_CONTRACTS`: contracts per run with an outside party (20).
    pub outside_contracts: usize,
    /// `INKAN_BENCH_PARALLEL`: contracts at a time in the parallel runs (4).
    pub parallel: usize,
    /// `INKAN_BENCH_SMALL_MB`, `INKAN_BENCH_BIG_MB`: the PDFs' sizes in MB of 10^6 bytes (1, 50;
    /// a contract document may be 50 MiB at most).
    pub small_bytes: usize,
    pub big_bytes: usize,
    /// `INKAN_BENCH_SIGN_SAMPLES`, `INKAN_BENCH_BIG_SAMPLES`: timed signatures per PIN setting
    /// on the small and the big PDF (5, 3).
    pub sign_samples: usize,
    pub big_samples: usize,
    /// `INKAN_BENCH_SIGNERS`: concurrent signers in the memory run (20).
    pub signers: usize,
    /// `INKAN_BENCH_SEAL_UPLOADS`: concurrent 16-megapixel seal uploads (20).
    pub seal_uploads: usize,
    /// `INKAN_BENCH_RESET_REQUESTS`: password-reset requests in the timing run (200).
    pub reset_requests: usize,
    /// `INKAN_BENCH_POSTGRES_URL`: a PostgreSQL server's admin database (trust auth), where a
    /// fresh database is made for the throughput runs; `INKAN_BENCH_POSTGRES=0` skips them.
    pub postgres: Option<String>,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a valid value")),
        Err(_) => default,
    }
}

impl Knobs {
    fn from_env() -> Self {
        let parts = env_or(
            "INKAN_BENCH_PARTS",
            "throughput,signature,memory,seals,reset".to_string(),
        )
        .split(',')
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
        let mb = |name: &str, default: f64| (env_or(name, default) * 1e6) as usize;
        let postgres = match std::env::var("INKAN_BENCH_POSTGRES").as_deref() {
            Ok("0") | Ok("off") | Ok("no") => None,
            _ => Some(env_or(
                "INKAN_BENCH_POSTGRES_URL",
                "postgres://postgres@127.0.0.1:5432/postgres".to_string(),
            )),
        };
        Self {
            parts,
            contracts: env_or("INKAN_BENCH_CONTRACTS", 20),
            outside_contracts: env_or("INKAN_BENCH_OUTSIDE_CONTRACTS", 20),
            parallel: env_or("INKAN_BENCH_PARALLEL", 4usize).max(1),
            small_bytes: mb("INKAN_BENCH_SMALL_MB", 1.0),
            big_bytes: mb("INKAN_BENCH_BIG_MB", 50.0),
            sign_samples: env_or("INKAN_BENCH_SIGN_SAMPLES", 5usize).max(1),
            big_samples: env_or("INKAN_BENCH_BIG_SAMPLES", 3usize).max(1),
            signers: env_or("INKAN_BENCH_SIGNERS", 20usize).max(1),
            seal_uploads: env_or("INKAN_BENCH_SEAL_UPLOADS", 20usize).max(1),
            reset_requests: env_or("INKAN_BENCH_RESET_REQUESTS", 200usize).max(4),
            postgres,
        }
    }

    pub fn wants(&self, part: &str) -> bool {
        self.parts.iter().any(|p| p == part)
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported and ignored.
    let knobs = Knobs::from_env();
    let started = Instant::now();
    let machine = machine();
    note(&format!("{machine}; {knobs:?}"));
    let small = pdf::make(knobs.small_bytes);
    let big = pdf::make(knobs.big_bytes);
    let mut report = vec![format!("machine: {machine}")];
    if knobs.wants("throughput") {
        report.extend(throughput::run(&knobs, &small));
    }
    if knobs.wants("signature") {
        report.extend(signature::run(&knobs, &[&small, &big]));
    }
    if knobs.wants("memory") {
        report.extend(memory::run(&knobs, &big));
    }
    if knobs.wants("seals") {
        report.extend(seals::run(&knobs));
    }
    if knobs.wants("reset") {
        report.extend(reset::run(&knobs));
    }
    report.push(format!(
        "bench took {:.0} s; load average now {}",
        started.elapsed().as_secs_f64(),
        load()
    ));
    println!("\n{}", report.join("\n"));
}

/// Progress, on standard error (the report goes to standard output).
pub fn note(what: &str) {
    eprintln!("bench: {what}");
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The CPU model, core count, memory and load, from /proc.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map_or_else(|| "?".into(), |kb| format!("{:.0}", kb as f64 / 1048576.0));
    format!(
        "{cpu}, {cores} cores, {mem} GiB RAM, load average {}",
        load()
    )
}
