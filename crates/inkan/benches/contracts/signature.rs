//! 2. One certificate signature over HTTP against its in-process floor.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use ca::application::{Country, Email, SignerApplication};
use ca::authority::{Authority, BaseUrl, CaConfig};
use ca::certstore::MemoryCertStore;
use ca::clock::SystemClock;
use ca::keystore::{KeyStore, MasterKey, MemoryStorage, SealedKeyStore};
use ca::pin::PinVault;
use ca::tsa::TimestampAuthority;
use domain::ca_folder::CaKeySigner;
use pdf_sign::{
    HashAlgorithm, Level, MemoryScratch, PdfError, Placement, RevocationTransport, SignOptions,
    Signer, TsaTransport,
};
use serde_json::{json, Value};

use crate::api::Api;
use crate::contract::{send_contract, sign, PartySpec};
use crate::figures::{median, min_max, ms, table, time_median};
use crate::pdf::size_label;
use crate::server::{lock, Server};
use crate::{note, Knobs, PIN};

/// Inkan's TSA answering in-process, remembering the last request.
struct RecordingTsa<'a> {
    tsa: &'a TimestampAuthority,
    last: Mutex<Vec<u8>>,
}

impl TsaTransport for RecordingTsa<'_> {
    fn post(&self, request: &[u8]) -> pdf_sign::Result<Vec<u8>> {
        *lock(&self.last) = request.to_vec();
        self.tsa
            .respond(request)
            .map_err(|e| PdfError::Invalid(e.to_string()))
    }
}

/// B-T fetches no revocation data.
struct NoRevocation;

impl RevocationTransport for NoRevocation {
    fn ocsp(&self, url: &str, _: &[u8]) -> pdf_sign::Result<Vec<u8>> {
        Err(PdfError::Invalid(format!("no OCSP at B-T ({url})")))
    }

    fn get(&self, url: &str) -> pdf_sign::Result<Vec<u8>> {
        Err(PdfError::Invalid(format!("no CRL at B-T ({url})")))
    }
}

/// The in-process figures for one file size, in seconds.
struct Floor {
    sha256: f64,
    key_op: f64,
    tsa: f64,
    /// pdf-sign's `sign_at_level` at B-T, visible with Inkan's seal, PDF in memory → sink.
    library: f64,
    /// Not in the floor: what keeping a signed copy durably costs on this disk, the least any
    /// store must do before it records the copy (write the file, sync it, rename it to its
    /// name, sync the folder), beside the database's commits.
    durable: f64,
}

impl Floor {
    fn total(&self) -> f64 {
        self.sha256 + self.key_op + self.tsa
    }
}

/// Inkan's CA in memory (P-256, as the service's: `CaConfig::new`'s defaults), a signer
/// certificate whose key it holds, and its TSA.
fn floor_ca() -> (Authority, CaKeySigner) {
    let keys: Arc<dyn KeyStore> = Arc::new(
        SealedKeyStore::new(
            &MasterKey::generate().expect("master key"),
            MemoryStorage::new(),
        )
        .expect("key store"),
    );
    let authority = Authority::init(
        CaConfig::new(
            "Inkan Bench",
            BaseUrl::parse("http://127.0.0.1:9").expect("URL"),
        ),
        keys.clone(),
        Arc::new(MemoryCertStore::new()),
        Arc::new(SystemClock),
    )
    .expect("a CA");
    let record = authority
        .issue(&SignerApplication {
            country: Country::parse("JP").expect("country"),
            state_or_province: None,
            locality: None,
            street_address: None,
            postal_code: None,
            organisation: Some("Inkan Bench".into()),
            organisational_unit: None,
            common_name: "Yamada Taro".into(),
            email: Email::parse("yamada@example.jp").expect("email"),
        })
        .expect("a signer certificate");
    let signer = CaKeySigner::new(keys, &record).expect("a signer");
    (authority, signer)
}

fn measure_floor(authority: &Authority, signer: &CaKeySigner, data: &[u8]) -> Floor {
    let big = data.len() > 10_000_000;
    let tsa = RecordingTsa {
        tsa: authority.tsa(),
        last: Mutex::new(Vec::new()),
    };
    let services = pdf_sign::Services {
        tsa: Some(&tsa),
        revocation: &NoRevocation,
    };
    let opts = SignOptions {
        placement: Some(Placement {
            page: 1,
            x: 20.0,
            y: 40.0,
            width: 130.0,
            height: 60.0,
        }),
        seal_png: Some(seal::default_seal().to_vec()),
        hash: Some(HashAlgorithm::Sha256),
        ..SignOptions::default()
    };
    let library_once = || {
        pdf_sign::sign_at_level(
            data,
            std::io::sink(),
            &mut MemoryScratch,
            signer,
            &opts,
            Level::BT,
            &services,
        )
        .expect("an in-process B-T signature");
    };
    // Once untimed: the timestamp request to replay, and warm caches.
    library_once();
    let request = lock(&tsa.last).clone();
    // The replayed request must be granted as the first was, not rejected (a rejection is a
    // few dozen bytes; a granted token carries the TSA's certificate chain).
    let answer = authority.tsa().respond(&request).expect("a timestamp");
    assert!(
        answer.len() > 500,
        "the replayed timestamp request was refused"
    );
    // What a CMS signature signs: the signed attributes (a few hundred bytes).
    let attributes = [0x31u8; 250];
    Floor {
        sha256: time_median(if big { 7 } else { 101 }, || {
            std::hint::black_box(aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA256,
                std::hint::black_box(data),
            ));
        }),
        key_op: time_median(301, || {
            std::hint::black_box(
                signer
                    .sign(HashAlgorithm::Sha256, &attributes)
                    .expect("a key operation"),
            );
        }),
        tsa: time_median(301, || {
            std::hint::black_box(authority.tsa().respond(&request).expect("a timestamp"));
        }),
        library: time_median(if big { 5 } else { 31 }, library_once),
        durable: durable_write(data, if big { 3 } else { 21 }),
    }
}

/// The median time of writing `data` to a new file beside the server's data, syncing it,
/// renaming it into a folder and syncing the folder (see [`Floor::durable`]).
fn durable_write(data: &[u8], samples: usize) -> f64 {
    let dir = tempfile::tempdir().expect("a folder");
    let named = dir.path().join("named");
    std::fs::create_dir(&named).expect("a folder");
    let mut n = 0;
    time_median(samples, || {
        n += 1;
        let staged = dir.path().join(format!("staged-{n}"));
        let mut file = std::fs::File::create(&staged).expect("a file");
        std::io::Write::write_all(&mut file, data).expect("written");
        file.sync_all().expect("synced");
        std::fs::rename(&staged, named.join(format!("{n}"))).expect("renamed");
        std::fs::File::open(&named)
            .and_then(|d| d.sync_all())
            .expect("folder synced");
    })
}

/// One timed signature: the request's time and the server's split of it.
struct Timed {
    total: f64,
    /// Request handling before the job started (session, turn, PIN, row and job written).
    before_job: Option<f64>,
    job: Option<f64>,
    after_job: Option<f64>,
}

fn seconds_between(a: SystemTime, b: SystemTime) -> f64 {
    b.duration_since(a)
        .map_or_else(|e| -e.duration().as_secs_f64(), |d| d.as_secs_f64())
}

pub fn run(knobs: &Knobs, pdfs: &[&Vec<u8>]) -> Vec<String> {
    note("signature: the in-process floor");
    let (authority, key) = floor_ca();
    let floors: Vec<Floor> = pdfs
        .iter()
        .map(|pdf| measure_floor(&authority, &key, pdf))
        .collect();
    let vault = PinVault::new(&MasterKey::generate().expect("master key")).expect("a PIN vault");
    let pin_lock = vault.create(PIN).expect("a PIN");
    // What the service does with a PIN before signing: the keyed Argon2id check and the
    // wrapping key's derivation (`PinVault::unlock`).
    let pin_cost = time_median(5, || {
        std::hint::black_box(vault.unlock(&pin_lock, PIN).expect("the PIN opens"));
    });

    note("signature: starting a server");
    let server = Server::start(None);
    let mut admin = server.admin();
    let mut manager = server.user(&mut admin, "dm@example.jp", &["document_manager"]);
    let mut signers = certificate_signers(&server, &mut admin);
    let mut sample = |signer: &mut (&str, bool, Api), title: &str, pdf: &[u8]| -> Timed {
        let (email, pin, api) = (signer.0, signer.1, &mut signer.2);
        let id = send_contract(
            &mut manager,
            title,
            pdf,
            &[PartySpec {
                email,
                name: None,
                kind: "certificate",
            }],
        );
        let token = server.request_token(email, title);
        let body = if pin {
            json!({ "pin": PIN })
        } else {
            json!({})
        };
        let (t0, clock) = (SystemTime::now(), Instant::now());
        let status = sign(api, &token, body);
        let total = clock.elapsed().as_secs_f64();
        let t1 = SystemTime::now();
        assert_eq!(status, 200, "the signature was not done within its request");
        manager.wait_status(&id, "completed");
        // The completion's mails too, so that nothing runs into the next sample.
        let done = format!("【締結完了】{title}（");
        for to in [email, "dm@example.jp"] {
            server.outbox.wait_body(to, |s| s.starts_with(&done));
        }
        // The job's log lines come a moment after the answer.
        std::thread::sleep(Duration::from_millis(100));
        let split = server.job_between("contract_signature", t0, t1);
        Timed {
            total,
            before_job: split.map(|(s, _)| seconds_between(t0, s)),
            job: split.map(|(s, d)| seconds_between(s, d)),
            after_job: split.map(|(_, d)| seconds_between(d, t1)),
        }
    };
    // Untimed: the first signature of the process.
    sample(&mut signers[0], "署名 warm-up", pdfs[0]);
    let mut rows = Vec::new();
    let mut goals = Vec::new();
    for ((pdf, floor), samples) in pdfs
        .iter()
        .zip(&floors)
        .zip([knobs.sign_samples, knobs.big_samples])
    {
        let size = size_label(pdf.len());
        let mut timed: Vec<Vec<Timed>> = vec![Vec::new(), Vec::new()];
        for s in 0..samples {
            for (which, signer) in signers.iter_mut().enumerate() {
                note(&format!(
                    "signature: {size}, {}, sample {}",
                    if signer.1 { "PIN" } else { "no PIN" },
                    s + 1
                ));
                let title = format!("署名 {} {which} {s:03}", pdf.len());
                timed[which].push(sample(signer, &title, pdf));
            }
        }
        for (which, samples) in timed.iter().enumerate() {
            let pin = which == 1;
            let totals: Vec<f64> = samples.iter().map(|t| t.total).collect();
            let part = |f: fn(&Timed) -> Option<f64>| {
                let v: Vec<f64> = samples.iter().filter_map(f).collect();
                if v.is_empty() {
                    "-".to_owned()
                } else {
                    ms(median(&v))
                }
            };
            let http = median(&totals);
            let (lo, hi) = min_max(&totals);
            let without_pin = if pin { http - pin_cost } else { http };
            let ratio = without_pin / floor.total();
            rows.push(vec![
                size.clone(),
                if pin { "yes" } else { "no" }.to_owned(),
                format!("{} ({}–{})", ms(http), ms(lo), ms(hi)),
                part(|t| t.before_job),
                part(|t| t.job),
                part(|t| t.after_job),
                if pin { ms(pin_cost) } else { "-".to_owned() },
                ms(floor.total()),
                format!("{ratio:.1}×"),
                ms(floor.library),
            ]);
            goals.push(format!(
                "  [{}] {size}, {}: HTTP {}at most 3× the floor ({ratio:.1}×)",
                if ratio <= 3.0 { "MET " } else { "MISS" },
                if pin { "with a PIN" } else { "no PIN" },
                if pin { "less the PIN's Argon2id " } else { "" },
            ));
        }
    }
    let mut out = vec![
        String::new(),
        "2. one certificate signature: POST /api/party/{token}/sign (PAdES B-T, P-256 key held \
         by Inkan's CA or sealed to the PIN, visible with the default seal), median of the \
         samples (min–max); split by the server's job log; floor = SHA-256 of the file + one \
         P-256 signature + one timestamp from Inkan's TSA, in-process"
            .to_owned(),
    ];
    out.extend(table(
        &[
            "file",
            "PIN",
            "HTTP",
            "before job",
            "job",
            "after job",
            "PIN Argon2id",
            "floor",
            "(HTTP − PIN) / floor",
            "pdf-sign B-T",
        ],
        &rows,
    ));
    for (pdf, f) in pdfs.iter().zip(&floors) {
        out.push(format!(
            "  floor {}: SHA-256 {} + key {} + TSA {} = {}; pdf-sign B-T in-process (memory → \
             sink, same seal) {}; a durable write of the file (write, sync, rename, sync the \
             folder) {}",
            size_label(pdf.len()),
            ms(f.sha256),
            ms(f.key_op),
            ms(f.tsa),
            ms(f.total()),
            ms(f.library),
            ms(f.durable)
        ));
    }
    out.push(format!(
        "  samples: {} on {}, {} on {}, each with and without a PIN; {} requests answered 5xx",
        knobs.sign_samples,
        size_label(pdfs[0].len()),
        knobs.big_samples,
        size_label(pdfs[1].len()),
        server.trouble().0
    ));
    out.push("  goals:".to_owned());
    out.extend(goals);
    out
}

/// Two signers with certificates the operator approved: one without a PIN (the key held by
/// the CA), one with a PIN set first (the key sealed to it).
fn certificate_signers(server: &Server, admin: &mut Api) -> Vec<(&'static str, bool, Api)> {
    let mut op = server.operator();
    let mut signers = Vec::new();
    for (n, (email, pin)) in [("plain@example.jp", false), ("pin@example.jp", true)]
        .into_iter()
        .enumerate()
    {
        let mut api = server.user(admin, email, &["signer"]);
        if pin {
            // Before the certificate: its key is then sealed to the PIN.
            api.call("PUT", "/api/me/pin", json!({ "pin": PIN, "confirm": PIN }))
                .expect(200, "setting the PIN");
        }
        api.headers = vec![("Idempotency-Key".into(), format!("bench-order-{n}"))];
        let order = api
            .post("/api/me/certificate/orders", applicant(n))
            .expect(201, "ordering a certificate");
        api.headers.clear();
        op.post(
            &format!(
                "/api/identity-checks/{}/approve",
                order["order_id"].as_str().expect("order")
            ),
            json!({ "method": "電話" }),
        )
        .expect(201, "approving the certificate");
        signers.push((email, pin, api));
    }
    signers
}

/// A complete certificate application.
fn applicant(n: usize) -> Value {
    json!({
        "organisation": "株式会社印鑑ベンチ", "postal_code": "100-0001", "country": "JP",
        "prefecture": "東京都", "city": "千代田区", "street": "千代田1-1",
        "building": "印鑑ビル 5F", "family_name": "山田", "given_name": "太郎",
        "family_name_romaji": "Yamada", "given_name_romaji": "Taro", "department": "法務部",
        "phone": "03-1234-5678", "email": format!("applicant{n}@example.jp"),
    })
}
