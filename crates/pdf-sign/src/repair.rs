//! Repairing a damaged, unsigned PDF: every object found is written afresh into a clean file
//! with a classic cross-reference table, once, before the first signature.

use crate::document::{find, Document, XrefEntry};
use crate::error::{PdfError, Result};
use crate::object::{write_indirect, write_stream, Object};
use crate::source::Source;

/// Whether the file carries a signature dictionary anywhere (signature dictionaries are never in
/// object streams, since /Contents must be patched in place).
pub fn has_signatures<S: Source>(src: &S) -> Result<bool> {
    const CHUNK: usize = 1 << 20;
    let needle = b"/ByteRange";
    let mut at = 0u64;
    while at < src.len() {
        let buf = src.read_vec(at, CHUNK + needle.len())?;
        if find(&buf, needle).is_some() {
            return Ok(true);
        }
        at += CHUNK as u64;
    }
    Ok(false)
}

/// Rewrites every live object of `doc` (as its rebuilt cross-reference data finds them) into a
/// new file. Object and cross-reference streams are dropped: their objects are written directly.
pub fn rewrite<S: Source>(doc: &Document<S>) -> Result<Vec<u8>> {
    let mut out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets: Vec<(u32, u64, u16)> = Vec::new();
    for (id, entry) in doc.objects() {
        if id.num == 0 {
            continue;
        }
        let obj = match doc.get(id) {
            Ok(o) => o,
            // An object that cannot be read is dropped, as readers treat it as null.
            Err(PdfError::Io(e)) => return Err(PdfError::Io(e)),
            Err(_) => continue,
        };
        let at = out.len() as u64;
        match &obj {
            Object::Stream(dict, data) => {
                if matches!(dict.name("Type"), Some(b"XRef" | b"ObjStm")) {
                    continue;
                }
                let raw = doc.stream_raw(*data)?;
                write_stream(&mut out, id, dict, &raw);
            }
            _ => write_indirect(&mut out, id, &obj),
        }
        let gen = match entry {
            XrefEntry::InFile { gen, .. } => gen,
            _ => 0,
        };
        offsets.push((id.num, at, gen));
    }
    // One subsection per run of consecutive numbers: a damaged file may use huge object
    // numbers, and the gaps between them must cost nothing.
    let size = offsets.last().map_or(1, |(n, _, _)| u64::from(*n) + 1);
    let xref_at = out.len();
    out.extend_from_slice(b"xref\n0 1\n0000000000 65535 f\r\n");
    let mut start = 0;
    for i in 1..=offsets.len() {
        if i == offsets.len() || offsets[i].0 != offsets[i - 1].0 + 1 {
            let run = &offsets[start..i];
            out.extend_from_slice(format!("{} {}\n", run[0].0, run.len()).as_bytes());
            for (_, off, gen) in run {
                out.extend_from_slice(format!("{off:010} {gen:05} n\r\n").as_bytes());
            }
            start = i;
        }
    }
    let mut trailer = crate::object::Dict::new();
    trailer.set("Size", size as i64);
    trailer.set("Root", doc.root_ref()?);
    for key in ["Info", "ID"] {
        if let Some(v) = doc.trailer.get(key) {
            trailer.set(key, v.clone());
        }
    }
    out.extend_from_slice(b"trailer\n");
    crate::object::write_dict(&mut out, &trailer);
    out.extend_from_slice(format!("\nstartxref\n{xref_at}\n%%EOF\n").as_bytes());
    Ok(out)
}

/// Checks that a rebuilt document still has its whole page tree: every page and its content
/// streams are present and the page count matches. A file truncated or damaged past that is
/// refused rather than "repaired" into a different document.
pub fn check_complete<S: Source>(doc: &Document<S>) -> Result<()> {
    let beyond =
        |what: String| PdfError::Damaged(format!("the file is damaged beyond repair: {what}"));
    let pages = doc.page_refs().map_err(|e| beyond(e.to_string()))?;
    if pages.is_empty() {
        return Err(beyond("no pages were found".into()));
    }
    let declared = doc.page_count().map_err(|e| beyond(e.to_string()))?;
    if declared != pages.len() {
        return Err(beyond(format!(
            "the page tree declares {declared} pages but {} were found",
            pages.len()
        )));
    }
    for (i, page) in pages.iter().enumerate() {
        let dict = doc.get_dict(*page).map_err(|e| beyond(e.to_string()))?;
        let contents = match dict.get("Contents") {
            Some(Object::Array(a)) => a.clone(),
            Some(o) => vec![o.clone()],
            None => Vec::new(),
        };
        for c in contents {
            if !matches!(doc.resolve(&c), Ok(Object::Stream(..))) {
                return Err(beyond(format!("the content of page {} is missing", i + 1)));
            }
        }
    }
    Ok(())
}
