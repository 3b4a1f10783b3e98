//! Mutation fuzzing in the normal test suite: real PDFs (hand-written seeds, and signed ones made
//! with `pdf_sign::sign`) are damaged in many small ways and run through every reading entry
//! point — open, the page tree, every object, verify and sign. Errors are expected; a panic, or a
//! case that does not finish within [`DEADLINE`], fails the test.
//!
//! `PROPTEST_CASES` sets the number of cases per test. Inputs that once failed are kept under
//! `tests/fixtures/fuzz/` (see `fuzz_findings_stay_fixed`), as are the coverage-guided fuzzer's
//! findings (see `/fuzz/README.md`).

#[path = "support/fuzz_common.rs"]
mod fuzz_common;

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::{Duration, Instant};

use pdf_sign::{KeySigner, Signer};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestRunner;

use fuzz_common::{deflate, exercise, inflate, Outcome};

/// A case that takes longer than this is taken for a hang (each normally takes milliseconds,
/// even in a debug build).
const DEADLINE: Duration = Duration::from_secs(5);

struct Fixture {
    signer: KeySigner,
    anchors: Vec<Vec<u8>>,
    seeds: Vec<(&'static str, Vec<u8>)>,
}

fn fixture() -> &'static Arc<Fixture> {
    static FIXTURE: OnceLock<Arc<Fixture>> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-pki");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/make_pki.sh");
        let status = std::process::Command::new("bash")
            .arg(&script)
            .arg(&dir)
            .status()
            .expect("run make_pki.sh");
        assert!(status.success(), "make_pki.sh failed");
        let read = |f: &str| std::fs::read(dir.join(f)).expect("PKI file");
        let signer = KeySigner::from_pem(
            &read("p256.key"),
            &read("p256.pem"),
            &[read("ca.pem")],
            false,
        )
        .expect("test key loads");
        let root = pdf_sign::keys::read_certificates(&read("root.pem")).expect("root cert");
        let seeds = fuzz_common::seeds(Some(&signer));
        Arc::new(Fixture {
            signer,
            anchors: root,
            seeds,
        })
    })
}

/// Runs [`exercise`] on another thread: a panic there fails the case (proptest then shrinks
/// it), and so does a run that outlives [`DEADLINE`], whose input is saved for reproduction.
///
/// A stack overflow aborts the whole process, past any catching: so that such an input is not
/// lost, each one is first written to `fuzz-current-{label}.pdf` in Cargo's test temp dir.
fn run_case(label: &str, data: Vec<u8>) -> Outcome {
    let _ = std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-current-{label}.pdf")),
        &data,
    );
    let fx = Arc::clone(fixture());
    let (tx, rx) = mpsc::channel();
    let input = data.clone();
    let handle = std::thread::spawn(move || {
        let signer: &dyn Signer = &fx.signer;
        let outcome = exercise(&input, Some(signer), &fx.anchors);
        let _ = tx.send(outcome);
    });
    let started = Instant::now();
    match rx.recv_timeout(DEADLINE) {
        Ok(outcome) => {
            let _ = handle.join();
            outcome
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Err(panic) => {
                let path = save_failure(&data, "panic");
                eprintln!("input saved to {}", path.display());
                std::panic::resume_unwind(panic)
            }
            Ok(()) => unreachable!("the case thread ended without an outcome"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            let path = save_failure(&data, "hang");
            panic!(
                "a case ran for more than {:?} (a hang?); input saved to {}",
                started.elapsed(),
                path.display()
            );
        }
    }
}

/// Saves a failing input as `fuzz-{kind}-last.pdf` in Cargo's temporary directory for tests.
/// Proptest shrinks a failure and keeps the smallest input that still fails, so the last one
/// saved is the minimal one.
fn save_failure(data: &[u8], kind: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-{kind}-last.pdf"));
    let _ = std::fs::write(&path, data);
    path
}

// ---------------------------------------------------------------------------------------------
// Mutations

/// Pieces of PDF syntax worth inserting.
const TOKENS: &[&[u8]] = &[
    b"<<",
    b">>",
    b"[",
    b"]",
    b"(",
    b")",
    b"<",
    b">",
    b"/",
    b"%",
    b"\\",
    b" ",
    b"\r\n",
    b"\n",
    b"obj",
    b"endobj",
    b"stream\n",
    b"endstream",
    b"xref",
    b"trailer",
    b"startxref",
    b"%%EOF",
    b" 0 R",
    b"1 0 obj",
    b"99999 0 R",
    b"/Length 0",
    b"/Length 999999999",
    b"/Type /XRef",
    b"/Type /ObjStm",
    b"/Prev 0",
    b"/XRefStm 9",
    b"/Root 3 0 R",
    b"/Kids [2 0 R]",
    b"/Filter /FlateDecode",
    b"/DecodeParms <</Predictor 15 /Columns 4>>",
    b"/W [1 8 8]",
    b"/Index [0 4294967295]",
    b"/N 1000000",
    b"/First -5",
    b"/Encrypt 1 0 R",
    b"/ByteRange",
    b"/Contents <00>",
    b"-",
    b".",
    b"+",
    b"e",
    b"#",
    b"9999999999999999999999",
    b"-1",
    b"0000000000 65535 f\r\n",
    b"0000000009 00000 n\r\n",
    b"\0",
    b"\xff\xfe",
];

/// A replacement for a number found in the file.
#[derive(Clone, Debug)]
enum NewNumber {
    Zero,
    Plus(u8),
    Minus(u8),
    Random(u64),
    Huge,
    Negative,
    Real,
    /// The file's length (just past the end), or an offset inside it.
    FileLen,
    Inside(Index),
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip {
        at: Index,
        bit: u8,
    },
    Set {
        at: Index,
        byte: u8,
    },
    Insert {
        at: Index,
        token: Index,
    },
    InsertRandom {
        at: Index,
        bytes: Vec<u8>,
    },
    Delete {
        at: Index,
        len: u16,
    },
    Truncate {
        at: Index,
    },
    /// Copies a chunk of some seed over, or into, this file.
    Splice {
        seed: Index,
        from: Index,
        len: u16,
        at: Index,
        overwrite: bool,
    },
    /// Replaces one run of digits (offsets, lengths, counts, object numbers).
    Number {
        which: Index,
        to: NewNumber,
    },
    /// Replaces one 10-digit run: a classic cross-reference entry's offset.
    XrefOffset {
        which: Index,
        to: NewNumber,
    },
    /// Damages the decoded data of one Flate stream and compresses it again.
    Decoded {
        which: Index,
        at: Index,
        byte: u8,
        cut: bool,
    },
}

fn new_number() -> impl Strategy<Value = NewNumber> {
    prop_oneof![
        Just(NewNumber::Zero),
        any::<u8>().prop_map(NewNumber::Plus),
        any::<u8>().prop_map(NewNumber::Minus),
        any::<u64>().prop_map(NewNumber::Random),
        Just(NewNumber::Huge),
        Just(NewNumber::Negative),
        Just(NewNumber::Real),
        Just(NewNumber::FileLen),
        any::<Index>().prop_map(NewNumber::Inside),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Set { at, byte }),
        3 => (any::<Index>(), any::<Index>()).prop_map(|(at, token)| Mutation::Insert { at, token }),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Mutation::InsertRandom { at, bytes }),
        2 => (any::<Index>(), 1u16..64).prop_map(|(at, len)| Mutation::Delete { at, len }),
        1 => any::<Index>().prop_map(|at| Mutation::Truncate { at }),
        2 => (any::<Index>(), any::<Index>(), 1u16..512, any::<Index>(), any::<bool>()).prop_map(
            |(seed, from, len, at, overwrite)| Mutation::Splice { seed, from, len, at, overwrite }
        ),
        4 => (any::<Index>(), new_number()).prop_map(|(which, to)| Mutation::Number { which, to }),
        2 => (any::<Index>(), new_number())
            .prop_map(|(which, to)| Mutation::XrefOffset { which, to }),
        2 => (any::<Index>(), any::<Index>(), any::<u8>(), any::<bool>())
            .prop_map(|(which, at, byte, cut)| Mutation::Decoded { which, at, byte, cut }),
    ]
}

/// The runs of ASCII digits in `data`, as ranges; only those of `len` digits when given.
fn digit_runs(data: &[u8], len: Option<usize>) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < data.len() {
        if data[i].is_ascii_digit() {
            let start = i;
            while i < data.len() && data[i].is_ascii_digit() {
                i += 1;
            }
            if len.is_none_or(|l| i - start == l) {
                runs.push((start, i));
            }
        } else {
            i += 1;
        }
    }
    runs
}

fn replace_number(data: &mut Vec<u8>, runs: &[(usize, usize)], which: &Index, to: &NewNumber) {
    if runs.is_empty() {
        return;
    }
    let (start, end) = runs[which.index(runs.len())];
    let old: u64 = std::str::from_utf8(&data[start..end])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let width = end - start;
    let text = match to {
        NewNumber::Zero => "0".to_string(),
        NewNumber::Plus(d) => old.saturating_add(u64::from(*d) + 1).to_string(),
        NewNumber::Minus(d) => old.saturating_sub(u64::from(*d) + 1).to_string(),
        NewNumber::Random(v) => v.to_string(),
        NewNumber::Huge => "99999999999999999999999".to_string(),
        NewNumber::Negative => format!("-{old}"),
        NewNumber::Real => format!("{old}.5"),
        NewNumber::FileLen => data.len().to_string(),
        NewNumber::Inside(i) => i.index(data.len().max(1)).to_string(),
    };
    // Keep fixed-width fields (xref entries) fixed-width when the new number fits.
    let text = if text.len() < width && text.bytes().all(|b| b.is_ascii_digit()) {
        format!("{text:0>width$}")
    } else {
        text
    };
    data.splice(start..end, text.into_bytes());
}

/// The data ranges of streams in `data` (between `stream` + EOL and `endstream`).
fn stream_ranges(data: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(at) = find_from(data, b"stream", i) {
        let mut start = at + 6;
        if data.get(start) == Some(&b'\r') {
            start += 1;
        }
        if data.get(start) == Some(&b'\n') {
            start += 1;
        }
        let Some(end) = find_from(data, b"endstream", start) else {
            break;
        };
        // `endstream` itself contains `stream`: skip past it.
        if at >= 3 && &data[at - 3..at] == b"end" {
            i = at + 6;
            continue;
        }
        let mut stop = end;
        if stop > start && data[stop - 1] == b'\n' {
            stop -= 1;
        }
        out.push((start, stop));
        i = end + 9;
    }
    out
}

fn find_from(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn apply(data: &mut Vec<u8>, m: &Mutation, seeds: &[(&str, Vec<u8>)]) {
    let len = data.len();
    match m {
        Mutation::Flip { at, bit } => {
            if len > 0 {
                data[at.index(len)] ^= 1 << bit;
            }
        }
        Mutation::Set { at, byte } => {
            if len > 0 {
                data[at.index(len)] = *byte;
            }
        }
        Mutation::Insert { at, token } => {
            let t = TOKENS[token.index(TOKENS.len())];
            let at = at.index(len + 1);
            data.splice(at..at, t.iter().copied());
        }
        Mutation::InsertRandom { at, bytes } => {
            let at = at.index(len + 1);
            data.splice(at..at, bytes.iter().copied());
        }
        Mutation::Delete { at, len: n } => {
            if len > 0 {
                let at = at.index(len);
                let end = (at + usize::from(*n)).min(len);
                data.drain(at..end);
            }
        }
        Mutation::Truncate { at } => data.truncate(at.index(len + 1)),
        Mutation::Splice {
            seed,
            from,
            len: n,
            at,
            overwrite,
        } => {
            let src = &seeds[seed.index(seeds.len())].1;
            let from = from.index(src.len());
            let chunk = &src[from..(from + usize::from(*n)).min(src.len())];
            let at = at.index(len + 1);
            if *overwrite {
                let end = (at + chunk.len()).min(len);
                data.splice(at..end, chunk.iter().copied());
            } else {
                data.splice(at..at, chunk.iter().copied());
            }
        }
        Mutation::Number { which, to } => {
            let runs = digit_runs(data, None);
            replace_number(data, &runs, which, to);
        }
        Mutation::XrefOffset { which, to } => {
            let runs = digit_runs(data, Some(10));
            replace_number(data, &runs, which, to);
        }
        Mutation::Decoded {
            which,
            at,
            byte,
            cut,
        } => {
            let decodable: Vec<(usize, usize, Vec<u8>)> = stream_ranges(data)
                .into_iter()
                .filter_map(|(s, e)| inflate(&data[s..e]).map(|d| (s, e, d)))
                .collect();
            if decodable.is_empty() {
                return;
            }
            let (s, e, mut decoded) = decodable[which.index(decodable.len())].clone();
            if !decoded.is_empty() {
                let i = at.index(decoded.len());
                if *cut {
                    decoded.truncate(i);
                } else {
                    decoded[i] = *byte;
                }
            }
            data.splice(s..e, deflate(&decoded));
        }
    }
}

fn mutated() -> impl Strategy<Value = (Index, Vec<Mutation>)> {
    (any::<Index>(), prop::collection::vec(mutation(), 1..6))
}

fn config(default_cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default_cases),
        // The signed seeds differ from run to run (ECDSA is randomised), so a persisted case
        // would not replay; failing inputs are saved as files instead (see `save_failure`).
        failure_persistence: None,
        max_shrink_time: 60_000,
        ..ProptestConfig::default()
    }
}

/// Tallies of how far the cases got, printed so that a run shows it reached past `open`.
#[derive(Debug, Default)]
struct Tally {
    cases: usize,
    opened: usize,
    repaired: usize,
    objects_read: usize,
    verified: usize,
    signed: usize,
    signed_unlisted: usize,
}

impl Tally {
    fn add(&mut self, o: Outcome) {
        self.cases += 1;
        self.opened += usize::from(o.opened);
        self.repaired += usize::from(o.repaired);
        self.objects_read += o.objects_read;
        self.verified += usize::from(o.verified);
        self.signed += usize::from(o.signed);
        self.signed_unlisted += usize::from(o.signed_unlisted);
    }
}

/// Runs `strategy` through [`run_case`] for `cases` cases (or `PROPTEST_CASES`).
fn fuzz<T: std::fmt::Debug>(
    name: &str,
    cases: u32,
    strategy: impl Strategy<Value = T>,
    build: impl Fn(T) -> Vec<u8>,
) {
    let tally = std::cell::RefCell::new(Tally::default());
    let mut runner = TestRunner::new(config(cases));
    let result = runner.run(&strategy, |value| {
        tally.borrow_mut().add(run_case(name, build(value)));
        Ok(())
    });
    eprintln!("{name}: {:?}", tally.borrow());
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
}

/// Mutated real PDFs never panic or hang anywhere in the reader, verify or sign.
#[test]
fn mutated_pdfs_never_panic_or_hang() {
    let seeds = &fixture().seeds;
    fuzz("mutated", 2500, mutated(), |(seed, mutations)| {
        let mut data = seeds[seed.index(seeds.len())].1.clone();
        for m in &mutations {
            apply(&mut data, m, seeds);
        }
        data
    });
}

/// Arbitrary bytes behind a PDF header (the reader's worst case: nothing is where it should be).
#[test]
fn random_bytes_never_panic_or_hang() {
    let tails: Vec<&[u8]> = vec![b"", b"startxref\n9\n%%EOF", b"trailer<</Root 1 0 R>>"];
    let strategy = (
        prop::collection::vec(any::<u8>(), 0..2048),
        prop::sample::select(tails),
    );
    fuzz("random", 500, strategy, |(body, tail)| {
        let mut data = b"%PDF-1.7\n".to_vec();
        data.extend_from_slice(&body);
        data.extend_from_slice(tail);
        data
    });
}

/// The seeds themselves are sound: they open without repair, and sign and verify.
#[test]
fn seeds_are_sound() {
    let fx = fixture();
    for (name, data) in &fx.seeds {
        let doc = pdf_sign::Document::open(data.clone()).expect(name);
        assert!(!doc.repaired, "{name}: {:?}", doc.damage);
        assert!(!doc.page_refs().expect(name).is_empty(), "{name}");
        let outcome = run_case("seeds", data.clone());
        assert!(
            outcome.opened && outcome.verified && outcome.signed,
            "{name}: {outcome:?}"
        );
    }
}

/// Every input the fuzzers ever found a bug with (`tests/fixtures/fuzz/`) now runs cleanly.
#[test]
fn fuzz_findings_stay_fixed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    for path in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
    {
        let data = std::fs::read(path).expect("fixture");
        eprintln!("{}", path.display());
        run_case("findings", data);
    }
}

// ---------------------------------------------------------------------------------------------
// Findings, minimised by hand

/// A classic one-page file whose object 4 is a stream with the given dictionary, plus `extra`
/// objects.
fn with_stream(dict: &str, extra: &[(u32, &str)]) -> Vec<u8> {
    let mut w = fuzz_common::Writer::new();
    w.obj(1, "<</Type /Catalog /Pages 2 0 R>>");
    w.obj(2, "<</Type /Pages /Kids [3 0 R] /Count 1>>");
    w.obj(3, "<</Type /Page /Parent 2 0 R /Contents 4 0 R>>");
    w.offsets.insert(4, w.out.len());
    w.out.extend_from_slice(
        format!("4 0 obj\n<<{dict}>>\nstream\nq Q\nendstream\nendobj\n").as_bytes(),
    );
    for (num, body) in extra {
        w.obj(*num, body);
    }
    w.xref_table(true, "/Size 9 /Root 1 0 R");
    w.out
}

/// Reads every object of `data` (the test is that nothing overflows the stack or panics).
fn read_all(data: Vec<u8>) -> pdf_sign::Result<usize> {
    let doc = pdf_sign::Document::open(data)?;
    let ids: Vec<_> = doc.objects().map(|(id, _)| id).collect();
    let mut ok = 0;
    for id in ids {
        if let Ok(pdf_sign::object::Object::Stream(d, sd)) = doc.get(id) {
            let _ = doc.stream_decoded(&d, sd);
        }
        ok += usize::from(doc.get(id).is_ok());
    }
    Ok(ok)
}

/// Stack overflow: a stream whose /Length is a reference to itself made reading it recurse
/// without end. Now the loop is cut and the length found by scanning for `endstream`.
#[test]
fn finding_stream_length_refers_to_itself() {
    let data = with_stream("/Length 4 0 R", &[]);
    let doc = pdf_sign::Document::open(data.clone()).expect("opens");
    let Ok(pdf_sign::object::Object::Stream(_, sd)) = doc.get(pdf_sign::object::ObjRef::new(4, 0))
    else {
        panic!("object 4 reads as a stream");
    };
    assert_eq!(doc.stream_raw(sd).expect("data"), b"q Q");
    run_case("finding", data);
}

/// Stack overflow: two streams whose /Length refer to each other.
#[test]
fn finding_stream_lengths_refer_to_each_other() {
    let data = with_stream(
        "/Length 5 0 R",
        &[(5, "<</Length 4 0 R>>\nstream\nx\nendstream")],
    );
    assert_eq!(read_all(data.clone()).expect("opens"), 5);
    run_case("finding", data);
}

/// Stack overflow: an object stream whose /Filter (or /Length) is an object inside itself
/// recursed through loading the object stream again and again.
#[test]
fn finding_object_stream_depends_on_itself() {
    for dict in ["/Filter 6 0 R", "/Length 6 0 R", "/DecodeParms [6 0 R]"] {
        let mut w = fuzz_common::Writer::new();
        w.obj(1, "<</Type /Catalog /Pages 2 0 R>>");
        w.obj(2, "<</Type /Pages /Kids [] /Count 0>>");
        let body = b"6 0\n/FlateDecode\n";
        w.stream(
            5,
            &format!("/Type /ObjStm /N 1 /First 4 {dict}"),
            body,
            None,
        );
        let xref_at = w.out.len();
        let rows: Vec<u8> = [
            [0u8, 0, 0],
            [1, 0, 15],
            [1, 0, w.offsets[&2] as u8],
            [0, 0, 0],
            [0, 0, 0],
            [1, 0, w.offsets[&5] as u8],
            [2, 0, 5],
        ]
        .into_iter()
        .flat_map(|r| [r[0], r[1], r[2], 0])
        .collect();
        assert!(w.offsets[&5] < 256, "the offsets fit one byte");
        w.out.extend_from_slice(
            format!(
                "7 0 obj\n<</Type /XRef /Size 7 /W [1 2 1] /Root 1 0 R /Length {}>>\nstream\n",
                rows.len()
            )
            .as_bytes(),
        );
        w.out.extend_from_slice(&rows);
        w.out.extend_from_slice(b"\nendstream\nendobj\n");
        w.finish_startxref(xref_at);
        let _ = read_all(w.out.clone());
        run_case("finding", w.out);
    }
}

/// Arithmetic overflow (a panic in debug builds): a classic subsection header whose start and
/// count are both near `u64::MAX` overflowed `start + count`.
#[test]
fn finding_xref_subsection_overflows() {
    let mut data = fuzz_common::classic();
    let at = data.windows(5).position(|w| w == b"xref\n").expect("xref") + 5;
    data.splice(
        at..at,
        b"9999999999999999999 9999999999999999999\n".iter().copied(),
    );
    let doc = pdf_sign::Document::open(data.clone()).expect("rebuilt by scanning");
    assert!(doc.repaired);
    run_case("finding", data);
}

/// Replaces the first `old` in `data` with `new`.
fn replace_first(data: &mut Vec<u8>, old: &[u8], new: &[u8]) {
    let at = data
        .windows(old.len())
        .position(|w| w == old)
        .expect("found");
    data.splice(at..at + old.len(), new.iter().copied());
}

/// Arithmetic overflow: an xref stream /Index pair near `i64::MAX` overflowed `start + count`.
#[test]
fn finding_xref_stream_index_overflows() {
    let mut data = fuzz_common::xref_stream(false);
    replace_first(
        &mut data,
        b"/Size 13",
        b"/Index [9223372036854775807 9223372036854775807]",
    );
    // The replacement is longer: only the xref stream's own offset moved, so the file repairs.
    let _ = pdf_sign::Document::open(data.clone());
    run_case("finding", data);
}

/// Arithmetic overflow: an object numbered `u32::MAX`, found when rebuilding a damaged file,
/// overflowed the document's size (highest number + 1).
#[test]
fn finding_object_number_u32_max() {
    let mut data = fuzz_common::classic();
    let at = data
        .windows(6)
        .rposition(|w| w == b"\nxref\n")
        .expect("xref")
        + 1;
    data.splice(
        at..at,
        b"4294967295 0 obj\n(last)\nendobj\n".iter().copied(),
    );
    let doc = pdf_sign::Document::open(data.clone()).expect("rebuilt by scanning");
    assert!(doc.repaired);
    assert_eq!(doc.size(), u32::MAX);
    let _ = pdf_sign::verify(data.clone(), &pdf_sign::VerifyOptions::default());
    // Signing refuses it cleanly: no object number is left for the signature.
    let mut out = Vec::new();
    let err = pdf_sign::sign(
        data,
        &mut out,
        &fixture().signer,
        &fuzz_common::sign_options(),
    )
    .expect_err("no object number left");
    assert!(err.to_string().contains("object numbers"), "{err}");
}

/// Memory: a PNG predictor with a huge /Columns made a few bytes of stream allocate rows of
/// up to a gigabyte.
#[test]
fn finding_predictor_with_huge_columns() {
    let mut w = fuzz_common::Writer::new();
    w.obj(1, "<</Type /Catalog /Pages 2 0 R>>");
    w.obj(2, "<</Type /Pages /Kids [] /Count 0>>");
    let data = fuzz_common::deflate(b"\x02\x01\x02\x03");
    w.stream(
        3,
        "/Filter /FlateDecode /DecodeParms <</Predictor 12 /Colors 32 /BitsPerComponent 16 /Columns 16777216>>",
        &data,
        None,
    );
    w.xref_table(true, "/Size 4 /Root 1 0 R");
    let doc = pdf_sign::Document::open(w.out.clone()).expect("opens");
    let pdf_sign::object::Object::Stream(d, sd) = doc
        .get(pdf_sign::object::ObjRef::new(3, 0))
        .expect("stream")
    else {
        panic!("a stream");
    };
    let decoded = doc.stream_decoded(&d, sd).expect("decodes");
    assert!(decoded.len() < 1024, "{} bytes from 4", decoded.len());
    run_case("finding", w.out);
}

/// Asserts that `f` finishes within `limit` (in a debug build): the reader must stay linear in
/// the size of a hostile file.
fn within<T>(limit: Duration, what: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    let took = started.elapsed();
    assert!(took < limit, "{what} took {took:?}");
    out
}

/// A file of `n` copies of `object(i)` (each numbered `i + 1`) and no cross-reference data, so
/// that it is rebuilt by scanning.
fn many_objects(n: usize, object: impl Fn(usize) -> String) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n1 0 obj\n<</Type /Catalog /Pages 2 0 R>>\nendobj\n".to_vec();
    out.extend_from_slice(b"2 0 obj\n<</Type /Pages /Kids [] /Count 0>>\nendobj\n");
    for i in 0..n {
        out.extend_from_slice(object(i + 3).as_bytes());
    }
    out
}

/// Quadratic time: each dictionary key was checked against all earlier keys, so a dictionary of
/// a few hundred thousand keys took minutes to parse.
#[test]
fn finding_huge_dictionary_parses_in_linear_time() {
    let mut text = String::from("<<");
    for i in 0..200_000 {
        text.push_str(&format!("/K{i} {i} "));
    }
    text.push_str("/K7 (last wins)>>");
    let obj = within(Duration::from_secs(5), "a 200 000-key dictionary", || {
        pdf_sign::object::Parser::new(text.as_bytes(), 0).object()
    })
    .expect("parses");
    let d = obj.as_dict().expect("a dictionary");
    assert_eq!(d.0.len(), 200_000);
    assert_eq!(
        d.get("K7"),
        Some(&pdf_sign::object::Object::String(b"last wins".to_vec()))
    );
    assert_eq!(d.0.last().map(|(k, _)| k.as_slice()), Some(&b"K7"[..]));
}

/// Quadratic time: when rebuilding, every stream with no `endstream` after it scanned to the
/// end of the file again.
#[test]
fn finding_many_streams_without_end_rebuild_in_linear_time() {
    let data = many_objects(50_000, |n| format!("{n} 0 obj\n<<>>\nstream\nxxxxxxxx\n"));
    within(
        Duration::from_secs(10),
        "50 000 streams without end",
        || {
            let _ = pdf_sign::Document::open(data);
        },
    );
}

/// Quadratic time: when rebuilding, every object whose string never ends was read again to the
/// end of the file.
#[test]
fn finding_many_unterminated_objects_rebuild_in_linear_time() {
    let data = many_objects(50_000, |n| format!("{n} 0 obj\n(never closed\n"));
    within(
        Duration::from_secs(10),
        "50 000 unterminated objects",
        || {
            let _ = pdf_sign::Document::open(data);
        },
    );
}

/// Output amplification (found by AFL++ as a 4 s "hang"): a damaged file with an object
/// numbered 5 000 015 is rewritten by `repair::rewrite` before signing with one classic xref
/// entry for every number up to the highest — 100 MB from 916 bytes (and 80 GB for an object
/// numbered near `u32::MAX`). The fix belongs in repair.rs: write one subsection per run of
/// consecutive numbers instead of filling the gaps with free entries.
#[test]
fn finding_repair_of_a_huge_object_number_stays_small() {
    let mut data = fuzz_common::classic();
    replace_first(&mut data, b"\n5 0 obj", b"\n5000015  0 obj");
    let signer = &fixture().signer;
    let mut out = Vec::new();
    let report = within(Duration::from_secs(2), "signing", || {
        pdf_sign::sign(data, &mut out, signer, &fuzz_common::sign_options())
    })
    .expect("signs after repair");
    assert!(report.rewritten.is_some());
    assert!(out.len() < 100_000, "{} bytes out", out.len());
}
