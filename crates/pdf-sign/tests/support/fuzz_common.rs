//! Shared by `tests/fuzz_parser.rs` and the coverage-guided fuzz target in `/fuzz` (which pulls
//! this file in with `#[path]`): small hand-written seed PDFs, and [`exercise`], which drives a
//! possibly damaged file through every reading entry point of the crate.
//!
//! Nothing here may panic on any input; the callers treat a panic or a hang as a bug.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write as _;

use pdf_sign::object::Object;
use pdf_sign::{sign, verify, Document, SignOptions, Signer, VerifyOptions};

// ---------------------------------------------------------------------------------------------
// Seeds

/// Writes numbered objects and remembers their offsets, so that cross-reference data can be
/// written afterwards with the right numbers.
pub struct Writer {
    pub out: Vec<u8>,
    pub offsets: BTreeMap<u32, usize>,
}

impl Writer {
    pub fn new() -> Self {
        Self {
            out: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec(),
            offsets: BTreeMap::new(),
        }
    }

    /// Continues an existing file (for an incremental update).
    pub fn append_to(file: Vec<u8>) -> Self {
        Self {
            out: file,
            offsets: BTreeMap::new(),
        }
    }

    pub fn obj(&mut self, num: u32, body: &str) {
        self.offsets.insert(num, self.out.len());
        write!(self.out, "{num} 0 obj\n{body}\nendobj\n").expect("vec write");
    }

    /// A stream; `dict` is the dictionary's content without `/Length`, which is written direct
    /// or, with `length_obj`, as a reference (the caller writes that object).
    pub fn stream(&mut self, num: u32, dict: &str, data: &[u8], length_obj: Option<u32>) {
        self.offsets.insert(num, self.out.len());
        let length = match length_obj {
            Some(l) => format!("{l} 0 R"),
            None => data.len().to_string(),
        };
        write!(
            self.out,
            "{num} 0 obj\n<<{dict} /Length {length}>>\nstream\n"
        )
        .expect("vec write");
        self.out.extend_from_slice(data);
        self.out.extend_from_slice(b"\nendstream\nendobj\n");
    }

    /// A classic table of every object written so far (one subsection per object) and its
    /// trailer; returns the table's offset.
    pub fn xref_table(&mut self, with_free_head: bool, trailer: &str) -> usize {
        let at = self.out.len();
        self.out.extend_from_slice(b"xref\n");
        if with_free_head {
            self.out.extend_from_slice(b"0 1\n0000000000 65535 f\r\n");
        }
        for (num, off) in &self.offsets {
            write!(self.out, "{num} 1\n{off:010} 00000 n\r\n").expect("vec write");
        }
        write!(self.out, "trailer\n<<{trailer}>>\nstartxref\n{at}\n%%EOF\n").expect("vec write");
        at
    }

    pub fn finish_startxref(&mut self, at: usize) {
        write!(self.out, "startxref\n{at}\n%%EOF\n").expect("vec write");
    }
}

impl Default for Writer {
    fn default() -> Self {
        Self::new()
    }
}

pub fn deflate(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(data).expect("vec write");
    z.finish().expect("vec write")
}

pub fn inflate(data: &[u8]) -> Option<Vec<u8>> {
    use std::io::Read as _;
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .take(1 << 20)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

const CONTENT: &[u8] = b"BT /F1 24 Tf 72 700 Td (Fuzz seed) Tj ET\n0 0 1 rg 72 600 200 50 re f\n";

/// A one-page file with a classic cross-reference table, an indirect stream length and an
/// /Info dictionary.
pub fn classic() -> Vec<u8> {
    let mut w = Writer::new();
    w.obj(1, "<</Type /Catalog /Pages 2 0 R>>");
    w.obj(
        2,
        "<</Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 612 792]>>",
    );
    w.obj(
        3,
        "<</Type /Page /Parent 2 0 R /Contents 4 0 R /Resources <</Font <</F1 6 0 R>>>>>>",
    );
    w.stream(4, "", CONTENT, Some(5));
    w.obj(5, &CONTENT.len().to_string());
    w.obj(
        6,
        "<</Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding>>",
    );
    w.obj(
        7,
        "<</Title (Fuzz \\(seed\\)) /Author <FEFF67714EAC> /CreationDate (D:20260101120000+09'00')>>",
    );
    w.xref_table(
        true,
        "/Size 8 /Root 1 0 R /Info 7 0 R /ID [<00112233445566778899AABBCCDDEEFF> <00112233445566778899AABBCCDDEEFF>]",
    );
    w.out
}

/// `classic` plus one incremental update that changes the page and adds an annotation.
pub fn incremental() -> Vec<u8> {
    let base = classic();
    let prev = last_startxref(&base);
    let mut w = Writer::append_to(base);
    w.obj(
        3,
        "<</Type /Page /Parent 2 0 R /Contents 4 0 R /Rotate 90 /Annots [8 0 R] /Resources <</Font <</F1 6 0 R>>>>>>",
    );
    w.obj(
        8,
        "<</Type /Annot /Subtype /Text /Rect [10 10 40 40] /P 3 0 R /Contents (note)>>",
    );
    w.xref_table(
        false,
        &format!("/Size 9 /Root 1 0 R /Info 7 0 R /Prev {prev}"),
    );
    w.out
}

/// Object-stream content: `(num, text)` pairs packed with their header.
fn object_stream(objects: &[(u32, &str)]) -> (Vec<u8>, usize) {
    let mut header = String::new();
    let mut body = String::new();
    for (num, text) in objects {
        header.push_str(&format!("{num} {} ", body.len()));
        body.push_str(text);
        body.push('\n');
    }
    header.push('\n');
    let first = header.len();
    (format!("{header}{body}").into_bytes(), first)
}

/// Big-endian fields of widths `w` for each `(type, f2, f3)` row.
fn xref_rows(rows: &[(u64, u64, u64)], w: [usize; 3]) -> Vec<u8> {
    let mut out = Vec::new();
    for (t, a, b) in rows {
        for (v, width) in [*t, *a, *b].into_iter().zip(w) {
            for i in (0..width).rev() {
                out.push((v >> (8 * i)) as u8);
            }
        }
    }
    out
}

/// PNG "Up" prediction of rows `columns` wide (the inverse of what readers undo).
fn png_up(data: &[u8], columns: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut prev = vec![0u8; columns];
    for row in data.chunks(columns) {
        out.push(2);
        for (i, b) in row.iter().enumerate() {
            out.push(b.wrapping_sub(prev[i]));
        }
        prev = row.to_vec();
    }
    out
}

/// A two-level page tree with most objects in an object stream and a cross-reference stream;
/// `compress` selects FlateDecode (with a PNG predictor on the xref stream) or raw data.
pub fn xref_stream(compress: bool) -> Vec<u8> {
    let mut w = Writer::new();
    let content = if compress {
        deflate(CONTENT)
    } else {
        CONTENT.to_vec()
    };
    let filter = if compress {
        " /Filter /FlateDecode"
    } else {
        ""
    };
    w.stream(4, filter, &content, Some(5));
    w.obj(5, &content.len().to_string());
    let compressed = [
        (1, "<</Type /Catalog /Pages 2 0 R /PageMode /UseNone>>"),
        (
            2,
            "<</Type /Pages /Kids [3 0 R 9 0 R] /Count 2 /MediaBox [0 0 595 842]>>",
        ),
        (
            3,
            "<</Type /Page /Parent 2 0 R /Contents 4 0 R /Resources <</Font <</F1 6 0 R>>>>>>",
        ),
        (6, "<</Type /Font /Subtype /Type1 /BaseFont /Courier>>"),
        (9, "<</Type /Pages /Parent 2 0 R /Kids [10 0 R] /Count 1>>"),
        (
            10,
            "<</Type /Page /Parent 9 0 R /Contents [4 0 R] /Rotate 180>>",
        ),
    ];
    let (objstm, first) = object_stream(&compressed);
    let data = if compress { deflate(&objstm) } else { objstm };
    w.stream(
        11,
        &format!(
            "/Type /ObjStm /N {} /First {first}{filter}",
            compressed.len()
        ),
        &data,
        None,
    );
    let xref_at = w.out.len();
    let mut rows = vec![(0, 0, 65535)];
    for num in 1..=12u32 {
        let row = if let Some(i) = compressed.iter().position(|(n, _)| *n == num) {
            (2, 11, i as u64)
        } else if num == 12 {
            (1, xref_at as u64, 0)
        } else if let Some(off) = w.offsets.get(&num) {
            (1, *off as u64, 0)
        } else {
            (0, 0, 0)
        };
        rows.push(row);
    }
    let (widths, w_text) = if compress {
        ([1, 4, 2], "[1 4 2]")
    } else {
        ([1, 2, 1], "[1 2 1]")
    };
    let raw_rows = xref_rows(&rows, widths);
    let (data, extra) = if compress {
        (
            deflate(&png_up(&raw_rows, 7)),
            " /Filter /FlateDecode /DecodeParms <</Predictor 12 /Columns 7>>",
        )
    } else {
        (raw_rows, "")
    };
    w.stream(
        12,
        &format!("/Type /XRef /Size 13 /W {w_text} /Root 1 0 R /ID [<AA> <BB>]{extra}"),
        &data,
        None,
    );
    w.finish_startxref(xref_at);
    w.out
}

/// A hybrid-reference file: a classic table whose trailer's /XRefStm names an xref stream that
/// lists the objects kept in an object stream.
pub fn hybrid() -> Vec<u8> {
    let mut w = Writer::new();
    w.obj(1, "<</Type /Catalog /Pages 2 0 R>>");
    w.obj(2, "<</Type /Pages /Kids [3 0 R] /Count 1>>");
    w.obj(
        3,
        "<</Type /Page /Parent 2 0 R /MediaBox [0 0 300 300] /Resources <</Font <</F1 6 0 R>>>> /Contents 4 0 R>>",
    );
    w.stream(4, "", CONTENT, None);
    let compressed = [
        (6, "<</Type /Font /Subtype /Type1 /BaseFont /Times-Roman>>"),
        (7, "<</Producer (seed)>>"),
    ];
    let (objstm, first) = object_stream(&compressed);
    w.stream(
        8,
        &format!("/Type /ObjStm /N 2 /First {first} /Filter /FlateDecode"),
        &deflate(&objstm),
        None,
    );
    let stm_at = w.out.len();
    let rows = xref_rows(&[(2, 8, 0), (2, 8, 1)], [1, 2, 1]);
    // Written directly, so that the table below does not list it.
    write!(
        w.out,
        "9 0 obj\n<</Type /XRef /Size 10 /W [1 2 1] /Index [6 2] /Length {}>>\nstream\n",
        rows.len()
    )
    .expect("vec write");
    w.out.extend_from_slice(&rows);
    w.out.extend_from_slice(b"\nendstream\nendobj\n");
    w.xref_table(
        true,
        &format!("/Size 10 /Root 1 0 R /Info 7 0 R /XRefStm {stm_at}"),
    );
    w.out
}

/// The offset after the last `startxref`.
pub fn last_startxref(file: &[u8]) -> usize {
    let at = file
        .windows(9)
        .rposition(|w| w == b"startxref")
        .expect("startxref");
    let digits: String = file[at + 9..]
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take_while(|b| b.is_ascii_digit())
        .map(|&b| b as char)
        .collect();
    digits.parse().expect("startxref offset")
}

/// The fixed signing options used by the fuzzers (a fixed time keeps runs comparable).
pub fn sign_options() -> SignOptions {
    SignOptions {
        signing_time: Some(
            chrono::DateTime::parse_from_rfc3339("2026-01-02T03:04:05+09:00").expect("time"),
        ),
        reason: Some("fuzz".into()),
        ..SignOptions::default()
    }
}

/// The unsigned seeds, by name.
pub fn unsigned_seeds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("classic", classic()),
        ("incremental", incremental()),
        ("xref-stream-flate", xref_stream(true)),
        ("xref-stream-raw", xref_stream(false)),
        ("hybrid", hybrid()),
    ]
}

/// Every seed: the unsigned ones, and with a signer, signed and twice-signed versions.
pub fn seeds(signer: Option<&dyn Signer>) -> Vec<(&'static str, Vec<u8>)> {
    let mut seeds = unsigned_seeds();
    if let Some(signer) = signer {
        let opts = sign_options();
        let once = |src: Vec<u8>| {
            let mut out = Vec::new();
            sign(src, &mut out, signer, &opts).expect("a seed signs");
            out
        };
        let classic_signed = once(classic());
        seeds.push(("classic-signed-twice", once(classic_signed.clone())));
        seeds.push(("classic-signed", classic_signed));
        seeds.push(("xref-stream-signed", once(xref_stream(true))));
    }
    seeds
}

// ---------------------------------------------------------------------------------------------
// Driving the reader

/// What one run got through to, for statistics.
#[derive(Clone, Copy, Debug, Default)]
pub struct Outcome {
    pub opened: bool,
    pub repaired: bool,
    pub objects_read: usize,
    pub verified: bool,
    pub signed: bool,
    /// Signed, but verify of the result listed no signature.
    pub signed_unlisted: bool,
}

/// Opens `data` and reads everything reachable: pages, every object (decoding streams), then
/// verifies it and, with a signer, signs it and verifies the result. Errors are fine; a panic
/// or a hang is a bug.
pub fn exercise(data: &[u8], signer: Option<&dyn Signer>, anchors: &[Vec<u8>]) -> Outcome {
    let mut outcome = Outcome::default();
    if let Ok(doc) = Document::open(data.to_vec()) {
        outcome.opened = true;
        outcome.repaired = doc.repaired;
        let _ = doc.size();
        let _ = doc.xref_kind();
        let pages = doc.page_refs().unwrap_or_default();
        if let Ok(count) = doc.page_count() {
            for i in 0..count.min(8) {
                if let Ok(p) = doc.page(i) {
                    let _ = doc.inherited(p, "MediaBox");
                    let _ = doc.inherited(p, "Resources");
                }
            }
        }
        for p in pages.iter().take(8) {
            let _ = doc.inherited(*p, "Rotate");
        }
        let ids: Vec<_> = doc.objects().map(|(id, _)| id).collect();
        for id in ids {
            match doc.get(id) {
                Ok(Object::Stream(dict, sd)) => {
                    let _ = doc.stream_raw(sd);
                    let _ = doc.stream_decoded(&dict, sd);
                    outcome.objects_read += 1;
                }
                Ok(obj) => {
                    if let Some(d) = obj.as_dict() {
                        for key in ["Type", "Parent", "Length", "Kids"] {
                            let _ = doc.lookup(d, key);
                        }
                    }
                    outcome.objects_read += 1;
                }
                Err(_) => {}
            }
        }
    }
    let opts = VerifyOptions {
        trust_anchors: anchors.to_vec(),
        ..VerifyOptions::default()
    };
    outcome.verified = verify(data.to_vec(), &opts).is_ok();
    if let Some(signer) = signer {
        let mut out = Vec::new();
        if sign(data.to_vec(), &mut out, signer, &sign_options()).is_ok() {
            outcome.signed = true;
            // What was just signed must read back, and its new signature, when listed (a damaged
            // older part can keep verify from listing any), must be intact.
            let report = verify(out, &opts).expect("a file just signed verifies");
            match report.signatures.iter().max_by_key(|s| s.signed_bytes) {
                Some(newest) => assert!(
                    newest.intact && newest.byte_range_ok,
                    "a fresh signature does not verify: {newest:?}"
                ),
                None => outcome.signed_unlisted = true,
            }
        }
    }
    outcome
}
