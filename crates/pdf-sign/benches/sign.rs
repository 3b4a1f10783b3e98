//! Signing and verification speed, measured beside its floor in the same run.
//!
//! For each input (1 MB and 100 MB contract-like PDFs) and each key (RSA-2048, P-256):
//!
//! - `SIZE/sign/KEY`: `pdf_sign::sign` from an in-memory copy of the PDF into `io::sink()`:
//!   parsing, building the update, hashing every byte, the CMS and one private-key operation.
//!   The key is loaded once, outside the measurement. Output is discarded, so no disk or
//!   memcpy cost of the signed file is measured.
//! - `SIZE/floor/KEY`: the least any signer must do: SHA-256 over the whole file (aws-lc-rs, the
//!   digest the signer uses) plus one private-key signature through [`Signer::sign`].
//! - `SIZE/verify/KEY`: `pdf_sign::verify` of the signed file held in memory (digest, CMS
//!   signature, chain to the root, later-changes check).
//! - `1mb-parts/...` (1 MB only): pieces of the signing path, to see where time goes:
//!   `open` (`Document::open`), `cms/KEY` (the CMS with its signature), `cms-dry/KEY` (the
//!   reserve-sizing dry run) and `sign-file/KEY` (signing from a `FileSource`, page-cached).
//!
//! Inputs come from `INKAN_BENCH_DIR` (default `target/inkan-bench`): `pki/` from
//! `tests/support/make_pki.sh`, `1mb.pdf` and `100mb.pdf`. Missing files are made here:
//! the PDFs with the shared `make_pdf.py` (20 pages at 345 px, 100 pages at 1600 px) through a
//! Python that has reportlab and Pillow (`INKAN_BENCH_PYTHON`, else the conformance virtualenv),
//! or, when that cannot run, by a built-in writer of pages with incompressible images.
//! `INKAN_BENCH_SIZES=1mb` limits the run to some sizes; `INKAN_BENCH_QUICK=1` shortens it.
//!
//! Run: `cargo bench -p pdf-sign --bench sign -- --noplot` (or `scripts/bench.sh` for the
//! comparison with pyHanko and the memory check).

use std::hint::black_box;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use aws_lc_rs::digest;
use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use pdf_sign::keys::read_certificates;
use pdf_sign::{
    cms, Document, FileSource, HashAlgorithm, KeySigner, SignOptions, Signer, Status, VerifyOptions,
};

const KEYS: [&str; 2] = ["rsa2048", "p256"];

/// name, pages and image side for `make_pdf.py`, bytes for the built-in writer.
const SIZES: [(&str, usize, usize, usize); 2] =
    [("1mb", 20, 345, 1 << 20), ("100mb", 100, 1600, 100 << 20)];

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn workspace_dir() -> PathBuf {
    manifest_dir().join("../..")
}

fn bench_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("INKAN_BENCH_DIR") {
        return PathBuf::from(d);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_dir().join("target"));
    target.join("inkan-bench")
}

fn quick() -> bool {
    std::env::var("INKAN_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

fn wanted_sizes() -> Vec<(&'static str, usize, usize, usize)> {
    let filter = std::env::var("INKAN_BENCH_SIZES").unwrap_or_default();
    let names: Vec<&str> = filter
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    SIZES
        .iter()
        .copied()
        .filter(|(n, ..)| names.is_empty() || names.contains(n))
        .collect()
}

fn ensure_pki(dir: &Path) -> PathBuf {
    // make_pki.sh changes directory before it moves its output, so give it an absolute path.
    let pki = std::path::absolute(dir.join("pki")).expect("absolute path");
    if !pki.join("rsa2048.key").exists() || !pki.join("p256.key").exists() {
        let script = manifest_dir().join("tests/support/make_pki.sh");
        let ok = Command::new("bash")
            .arg(&script)
            .arg(&pki)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "{} {} failed", script.display(), pki.display());
    }
    pki
}

/// A Python with reportlab and Pillow, and the shared `make_pdf.py`, when both are there.
fn make_pdf_tool() -> Option<(PathBuf, PathBuf)> {
    let script = std::env::var_os("INKAN_BENCH_MAKE_PDF")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_dir().join("../shared/bench/make_pdf.py"));
    if !script.exists() {
        return None;
    }
    let mut pythons: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("INKAN_BENCH_PYTHON") {
        pythons.push(p.into());
    }
    if let Some(h) = std::env::var_os("INKAN_CONFORMANCE_HOME") {
        pythons.push(PathBuf::from(h).join("venv/bin/python"));
    }
    if let Some(h) = std::env::var_os("HOME") {
        pythons.push(PathBuf::from(h).join(".cache/inkan-conformance/venv/bin/python"));
    }
    pythons.push("python3".into());
    let python = pythons.into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import reportlab, PIL"])
            .output()
            .is_ok_and(|o| o.status.success())
    })?;
    Some((python, script))
}

fn ensure_pdf(dir: &Path, name: &str, pages: usize, px: usize, bytes: usize) -> PathBuf {
    let path = dir.join(format!("{name}.pdf"));
    if path.exists() {
        return path;
    }
    let tmp = dir.join(format!("{name}.pdf.tmp"));
    let made = make_pdf_tool().is_some_and(|(python, script)| {
        eprintln!("bench: making {} with {}", path.display(), script.display());
        Command::new(python)
            .arg(script)
            .arg(&tmp)
            .arg(pages.to_string())
            .arg(px.to_string())
            .status()
            .is_ok_and(|s| s.success())
    });
    if !made {
        eprintln!(
            "bench: make_pdf.py unavailable; writing {} with the built-in generator",
            path.display()
        );
        write_plain_pdf(&tmp, pages, bytes).expect("write a benchmark PDF");
    }
    std::fs::rename(&tmp, &path).expect("move the benchmark PDF into place");
    path
}

/// A PDF of `pages` pages, each with a line of text and one uncompressed RGB image of random
/// bytes, about `bytes` long in all.
fn write_plain_pdf(path: &Path, pages: usize, bytes: usize) -> io::Result<()> {
    let side = ((bytes / pages / 3) as f64).sqrt().max(1.0) as usize;
    let mut out = io::BufWriter::new(std::fs::File::create(path)?);
    let mut at = 0u64;
    let mut offsets = Vec::new();
    let mut put = |out: &mut io::BufWriter<std::fs::File>, data: &[u8]| -> io::Result<u64> {
        let start = at;
        out.write_all(data)?;
        at += data.len() as u64;
        Ok(start)
    };
    put(&mut out, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")?;
    // 1 catalog, 2 pages, 3 font, then per page: page, contents, image.
    let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", 4 + 3 * i)).collect();
    let head = [
        "1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n".to_string(),
        format!(
            "2 0 obj\n<< /Type /Pages /Count {pages} /Kids [{}] >>\nendobj\n",
            kids.join(" ")
        ),
        "3 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\nendobj\n".to_string(),
    ];
    for obj in &head {
        offsets.push(put(&mut out, obj.as_bytes())?);
    }
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut pixels = vec![0u8; side * side * 3];
    for i in 0..pages {
        let (page, contents, image) = (4 + 3 * i, 5 + 3 * i, 6 + 3 * i);
        offsets.push(put(
            &mut out,
            format!(
                "{page} 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] \
                 /Resources << /Font << /F1 3 0 R >> /XObject << /Im0 {image} 0 R >> >> \
                 /Contents {contents} 0 R >>\nendobj\n"
            )
            .as_bytes(),
        )?);
        let text = format!(
            "BT /F1 14 Tf 50 800 Td (SERVICE AGREEMENT - page {}/{pages}) Tj ET \
             q 300 0 0 220 150 60 cm /Im0 Do Q",
            i + 1
        );
        offsets.push(put(
            &mut out,
            format!(
                "{contents} 0 obj\n<< /Length {} >>\nstream\n{text}\nendstream\nendobj\n",
                text.len() + 1
            )
            .as_bytes(),
        )?);
        for chunk in pixels.chunks_mut(8) {
            // xorshift64*: fast, deterministic, incompressible enough.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let v = state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        offsets.push(put(
            &mut out,
            format!(
                "{image} 0 obj\n<< /Type /XObject /Subtype /Image /Width {side} /Height {side} \
                 /ColorSpace /DeviceRGB /BitsPerComponent 8 /Length {} >>\nstream\n",
                pixels.len()
            )
            .as_bytes(),
        )?);
        put(&mut out, &pixels)?;
        put(&mut out, b"\nendstream\nendobj\n")?;
    }
    let xref_at = put(&mut out, b"")?;
    let mut xref = format!("xref\n0 {}\n0000000000 65535 f\r\n", offsets.len() + 1);
    for off in &offsets {
        xref.push_str(&format!("{off:010} 00000 n\r\n"));
    }
    xref.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n",
        offsets.len() + 1
    ));
    put(&mut out, xref.as_bytes())?;
    out.flush()
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

struct Setup {
    pdfs: Vec<(&'static str, PathBuf, Vec<u8>)>,
    signers: Vec<(&'static str, KeySigner)>,
    anchors: Vec<Vec<u8>>,
}

fn setup() -> Setup {
    let dir = bench_dir();
    std::fs::create_dir_all(&dir).expect("create the benchmark folder");
    let pki = ensure_pki(&dir);
    let pdfs = wanted_sizes()
        .into_iter()
        .map(|(name, pages, px, bytes)| {
            let path = ensure_pdf(&dir, name, pages, px, bytes);
            let data = read(&path);
            (name, path, data)
        })
        .collect();
    let chain = vec![read(&pki.join("ca.pem"))];
    let signers = KEYS
        .iter()
        .map(|k| {
            let key = read(&pki.join(format!("{k}.key")));
            let cert = read(&pki.join(format!("{k}.pem")));
            let signer = KeySigner::from_pem(&key, &cert, &chain, false).expect("load the key");
            (*k, signer)
        })
        .collect();
    let anchors = read_certificates(&read(&pki.join("root.pem"))).expect("read root.pem");
    eprintln!(
        "bench: inputs in {}; sign = pdf_sign::sign(in-memory PDF -> io::sink()), \
         floor = SHA-256(file) + one Signer::sign, verify = pdf_sign::verify(in-memory signed PDF)",
        dir.display()
    );
    Setup {
        pdfs,
        signers,
        anchors,
    }
}

fn sign_to_vec(data: &[u8], signer: &dyn Signer) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + (64 << 10));
    pdf_sign::sign(data.to_vec(), &mut out, signer, &SignOptions::default()).expect("sign");
    out
}

fn benches(c: &mut Criterion) {
    let s = setup();
    // Offline: no revocation fetching, trust the test root.
    let vopts = VerifyOptions {
        trust_anchors: s.anchors.clone(),
        ..VerifyOptions::default()
    };
    let sha256 = HashAlgorithm::Sha256;
    for (size, path, data) in &s.pdfs {
        let big = data.len() > (16 << 20);
        let mut g = c.benchmark_group(*size);
        g.throughput(Throughput::Bytes(data.len() as u64));
        match (big, quick()) {
            // ~0.1 s an iteration: flat sampling, 10 samples of a few iterations each.
            (true, _) => g
                .sampling_mode(SamplingMode::Flat)
                .sample_size(10)
                .warm_up_time(Duration::from_millis(500))
                .measurement_time(Duration::from_secs(if quick() { 2 } else { 6 })),
            (false, true) => g
                .sample_size(20)
                .warm_up_time(Duration::from_millis(300))
                .measurement_time(Duration::from_secs(1)),
            (false, false) => g
                .sample_size(50)
                .warm_up_time(Duration::from_secs(1))
                .measurement_time(Duration::from_secs(3)),
        };
        for (key, signer) in &s.signers {
            // Signing must give a valid signature before its speed means anything.
            let signed = sign_to_vec(data, signer);
            let report = pdf_sign::verify(&signed, &vopts).expect("verify");
            assert_eq!(
                report.status,
                Status::Valid,
                "{size}/{key}: the benchmark's signature does not verify: {report:?}"
            );

            g.bench_with_input(BenchmarkId::new("floor", key), data, |b, data| {
                b.iter(|| {
                    let d = digest::digest(sha256.digest_algorithm(), black_box(data));
                    signer.sign(sha256, d.as_ref()).expect("sign")
                });
            });
            g.bench_with_input(BenchmarkId::new("sign", key), data, |b, data| {
                let opts = SignOptions::default();
                b.iter(|| {
                    pdf_sign::sign(black_box(data), io::sink(), signer, &opts).expect("sign")
                });
            });
            g.bench_with_input(BenchmarkId::new("verify", key), &signed, |b, signed| {
                b.iter(|| {
                    let r = pdf_sign::verify(black_box(signed), &vopts).expect("verify");
                    assert_eq!(r.status, Status::Valid);
                    r
                });
            });
        }
        g.finish();

        if big {
            continue;
        }
        // Where a small file's signing time goes.
        let mut g = c.benchmark_group(format!("{size}-parts"));
        if quick() {
            g.sample_size(20)
                .warm_up_time(Duration::from_millis(300))
                .measurement_time(Duration::from_secs(1));
        } else {
            g.sample_size(30)
                .warm_up_time(Duration::from_millis(500))
                .measurement_time(Duration::from_secs(2));
        }
        g.bench_with_input(BenchmarkId::new("open", "doc"), data, |b, data| {
            b.iter(|| Document::open(black_box(data)).expect("open"));
        });
        g.bench_with_input(BenchmarkId::new("sha256", "file"), data, |b, data| {
            b.iter(|| digest::digest(sha256.digest_algorithm(), black_box(data)));
        });
        let fake_digest = [7u8; 32];
        for (key, signer) in &s.signers {
            g.bench_function(BenchmarkId::new("cms", key), |b| {
                b.iter(|| cms::build(signer, sha256, black_box(&fake_digest), None, false))
            });
            g.bench_function(BenchmarkId::new("cms-dry", key), |b| {
                b.iter(|| cms::build(signer, sha256, black_box(&fake_digest), None, true))
            });
            g.bench_function(BenchmarkId::new("key-op", key), |b| {
                b.iter(|| signer.sign(sha256, black_box(&fake_digest)).expect("sign"))
            });
            g.bench_with_input(BenchmarkId::new("sign-file", key), path, |b, path| {
                let opts = SignOptions::default();
                b.iter(|| {
                    let src = FileSource::open(path).expect("open");
                    pdf_sign::sign(src, io::sink(), signer, &opts).expect("sign")
                });
            });
        }
        g.finish();
    }
}

criterion_group!(benches_group, benches);
criterion_main!(benches_group);
