//! Reading a PDF through its cross-reference data: classic tables, xref streams, object streams,
//! hybrid-reference files and chains of incremental updates; a broken table is rebuilt by scanning.
//!
//! Only the objects asked for are read, so opening a 500 MB file costs its xref and nothing more.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::rc::Rc;

use crate::error::{PdfError, Result};
use crate::object::{Dict, ObjRef, Object, Parser, StreamData, TRUNCATED};
use crate::source::Source;

/// Where the newest version of an object lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XrefEntry {
    Free,
    InFile { offset: u64, gen: u16 },
    Compressed { stream: u32, index: u32 },
}

/// How the last cross-reference section of the file is written; an update must match it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XrefKind {
    Table,
    Stream,
}

/// One cross-reference section, newest first in [`Document::sections`].
#[derive(Clone, Debug)]
pub struct Section {
    pub offset: u64,
    pub kind: XrefKind,
    pub trailer: Dict,
    pub entries: Vec<(u32, XrefEntry)>,
}

type ObjStm = Rc<(Vec<(u32, usize)>, Vec<u8>)>;

/// A PDF opened for reading.
pub struct Document<S> {
    src: S,
    /// The newest entry of every object number.
    pub xref: BTreeMap<u32, XrefEntry>,
    /// The newest trailer (for an xref stream, its dictionary).
    pub trailer: Dict,
    pub sections: Vec<Section>,
    /// Offset of the last cross-reference section (the file's `startxref`).
    pub startxref: u64,
    /// True when the cross-reference data was broken and rebuilt by scanning the file.
    pub repaired: bool,
    /// Why the xref data was found broken, when [`Self::repaired`].
    pub damage: Option<String>,
    /// Object streams read so far; `None` for one being read or that could not be read, so that
    /// an object stream that needs itself fails at once instead of recursing.
    objstms: RefCell<HashMap<u32, Option<ObjStm>>>,
    /// How many [`Self::get`] calls are in progress, one inside another.
    depth: Cell<usize>,
    /// The last scan for `endstream`: where it started and what it found.
    last_endstream: Cell<Option<(u64, Option<u64>)>>,
}

impl<S> std::fmt::Debug for Document<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Document")
            .field("objects", &self.xref.len())
            .field("startxref", &self.startxref)
            .field("repaired", &self.repaired)
            .finish()
    }
}

/// Limits that keep a hostile file from making the reader loop or allocate without bound.
const MAX_SECTIONS: usize = 10_000;
const MAX_OBJECT_BYTES: usize = 64 << 20;
const MAX_DECODED: usize = 256 << 20;
/// Reading an object can need others (an indirect /Length, an object stream and its /Filter);
/// chains deeper than this are refused, as only a loop or a hostile file makes them.
const MAX_GET_DEPTH: usize = 32;

/// Counts one level of [`Document::get`] while it lives.
struct DepthGuard<'a>(&'a Cell<usize>);

impl Drop for DepthGuard<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

impl<S: Source> Document<S> {
    /// Opens a PDF. Broken cross-reference data is rebuilt by scanning (see [`Self::repaired`]);
    /// non-PDF input and encrypted files are refused.
    pub fn open(src: S) -> Result<Self> {
        check_header(&src)?;
        let mut doc = Self {
            src,
            xref: BTreeMap::new(),
            trailer: Dict::new(),
            sections: Vec::new(),
            startxref: 0,
            repaired: false,
            damage: None,
            objstms: RefCell::new(HashMap::new()),
            depth: Cell::new(0),
            last_endstream: Cell::new(None),
        };
        match doc.load_xref().and_then(|()| doc.check_xref()) {
            Ok(()) => {}
            Err(PdfError::Io(e)) => return Err(PdfError::Io(e)),
            Err(e) => {
                doc.damage = Some(e.to_string());
                doc.rebuild()?;
            }
        }
        if doc.trailer.get("Encrypt").is_some() {
            return Err(PdfError::Encrypted);
        }
        let root = doc.catalog()?;
        if root.name("Type").is_some_and(|t| t != b"Catalog") && root.get("Pages").is_none() {
            return Err(PdfError::Damaged(
                "the document catalogue is missing".into(),
            ));
        }
        Ok(doc)
    }

    pub fn source(&self) -> &S {
        &self.src
    }

    pub fn len(&self) -> u64 {
        self.src.len()
    }

    pub fn is_empty(&self) -> bool {
        self.src.is_empty()
    }

    /// The highest object number in use plus one (at least the trailer's /Size).
    pub fn size(&self) -> u32 {
        let from_xref = self
            .xref
            .keys()
            .next_back()
            .map_or(1, |n| n.saturating_add(1));
        let declared = self
            .trailer
            .int("Size")
            .and_then(|s| u32::try_from(s).ok())
            .unwrap_or(0);
        from_xref.max(declared)
    }

    pub fn root_ref(&self) -> Result<ObjRef> {
        self.trailer
            .get("Root")
            .and_then(Object::as_ref)
            .ok_or_else(|| PdfError::Damaged("the trailer names no document catalogue".into()))
    }

    pub fn catalog(&self) -> Result<Dict> {
        let root = self.root_ref()?;
        self.get_dict(root)
    }

    // -----------------------------------------------------------------------------------------
    // Objects

    /// Reads object `r`; a missing or free object is `null`, as the standard says.
    pub fn get(&self, r: ObjRef) -> Result<Object> {
        let depth = self.depth.get();
        if depth >= MAX_GET_DEPTH {
            return Err(PdfError::Damaged(format!(
                "object {} {} depends on itself (or on too long a chain of objects)",
                r.num, r.gen
            )));
        }
        self.depth.set(depth + 1);
        let _guard = DepthGuard(&self.depth);
        match self.xref.get(&r.num) {
            None | Some(XrefEntry::Free) => Ok(Object::Null),
            Some(XrefEntry::InFile { offset, gen }) => {
                if *gen != r.gen {
                    return Ok(Object::Null);
                }
                let (id, obj) = self.read_indirect_at(*offset)?;
                if id != r {
                    return Err(PdfError::Damaged(format!(
                        "object {} {} is not at byte {offset} where the cross-reference table puts it",
                        r.num, r.gen
                    )));
                }
                Ok(obj)
            }
            Some(XrefEntry::Compressed { stream, index }) => {
                if r.gen != 0 {
                    return Ok(Object::Null);
                }
                self.get_compressed(r.num, *stream, *index)
            }
        }
    }

    pub fn get_dict(&self, r: ObjRef) -> Result<Dict> {
        match self.get(r)? {
            Object::Dict(d) | Object::Stream(d, _) => Ok(d),
            _ => Err(PdfError::Damaged(format!(
                "object {} {} should be a dictionary",
                r.num, r.gen
            ))),
        }
    }

    /// Follows a reference to its object (other objects are returned as they are).
    pub fn resolve(&self, obj: &Object) -> Result<Object> {
        let mut current = obj.clone();
        for _ in 0..32 {
            match current {
                Object::Ref(r) => current = self.get(r)?,
                other => return Ok(other),
            }
        }
        Err(PdfError::Damaged("reference chain too long".into()))
    }

    /// Looks `key` up in `dict`, following a reference.
    pub fn lookup(&self, dict: &Dict, key: &str) -> Result<Option<Object>> {
        match dict.get(key) {
            None => Ok(None),
            Some(o) => self.resolve(o).map(Some),
        }
    }

    /// Parses `N G obj ... endobj` at `offset`, reading more of the file while the object is
    /// incomplete. A stream's data is not read; its length is resolved when indirect.
    pub fn read_indirect_at(&self, offset: u64) -> Result<(ObjRef, Object)> {
        self.read_indirect_within(offset, MAX_OBJECT_BYTES)
    }

    /// As [`Self::read_indirect_at`], reading at most `limit` bytes of the object's syntax.
    fn read_indirect_within(&self, offset: u64, limit: usize) -> Result<(ObjRef, Object)> {
        let limit = limit.min(MAX_OBJECT_BYTES);
        let mut want = 512.min(limit);
        loop {
            let buf = self.src.read_vec(offset, want)?;
            let mut p = Parser::new(&buf, offset);
            let attempt = p.object_header().and_then(|id| Ok((id, p.object()?)));
            match attempt {
                Ok((id, obj)) => return Ok((id, self.fix_stream_length(obj)?)),
                Err(PdfError::Syntax { ref message, .. })
                    if message == TRUNCATED && buf.len() == want && want < limit =>
                {
                    want = want.saturating_mul(4).min(limit);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Resolves an indirect /Length and checks that `endstream` follows the data; when it does
    /// not, the length is found by scanning for `endstream`, as readers do.
    fn fix_stream_length(&self, obj: Object) -> Result<Object> {
        let Object::Stream(dict, data) = obj else {
            return Ok(obj);
        };
        let mut len = data.len;
        if len == u64::MAX {
            if let Some(Object::Ref(r)) = dict.get("Length") {
                if let Ok(Object::Int(n)) = self.get(*r) {
                    len = u64::try_from(n).unwrap_or(u64::MAX);
                }
            }
        }
        if len != u64::MAX && self.endstream_follows(data.offset.saturating_add(len))? {
            return Ok(Object::Stream(
                dict,
                StreamData {
                    offset: data.offset,
                    len,
                },
            ));
        }
        let found = self.next_endstream(data.offset)?.ok_or_else(|| {
            PdfError::Damaged(format!("stream at byte {} has no end", data.offset))
        })?;
        // Drop the end-of-line before `endstream`.
        let mut end = found;
        let tail = self.src.read_vec(found.saturating_sub(2), 2)?;
        if tail.ends_with(b"\r\n") {
            end -= 2;
        } else if tail.ends_with(b"\n") || tail.ends_with(b"\r") {
            end -= 1;
        }
        Ok(Object::Stream(
            dict,
            StreamData {
                offset: data.offset,
                len: end.saturating_sub(data.offset),
            },
        ))
    }

    fn endstream_follows(&self, at: u64) -> Result<bool> {
        let buf = self.src.read_vec(at, 32)?;
        let mut p = Parser::new(&buf, at);
        Ok(p.keyword(b"endstream"))
    }

    /// The offset of the next `endstream` at or after `from`. The last scan is remembered, so
    /// that a file of many streams without an end is not scanned to its end once for each.
    fn next_endstream(&self, from: u64) -> Result<Option<u64>> {
        if let Some((scanned_from, found)) = self.last_endstream.get() {
            if from >= scanned_from && found.is_none_or(|f| from <= f) {
                return Ok(found);
            }
        }
        let found = self.scan_for(from, b"endstream")?;
        self.last_endstream.set(Some((from, found)));
        Ok(found)
    }

    /// The offset of the next occurrence of `needle` at or after `from`.
    fn scan_for(&self, from: u64, needle: &[u8]) -> Result<Option<u64>> {
        const CHUNK: usize = 1 << 16;
        let mut at = from;
        while at < self.src.len() {
            let buf = self.src.read_vec(at, CHUNK + needle.len())?;
            if let Some(i) = find(&buf, needle) {
                return Ok(Some(at + i as u64));
            }
            if buf.len() <= needle.len() {
                break;
            }
            at += CHUNK as u64;
        }
        Ok(None)
    }

    /// The raw (still encoded) bytes of a stream.
    pub fn stream_raw(&self, data: StreamData) -> Result<Vec<u8>> {
        let len = usize::try_from(data.len)
            .ok()
            .filter(|l| *l <= MAX_DECODED)
            .ok_or_else(|| PdfError::Damaged("stream too large to decode".into()))?;
        let buf = self.src.read_vec(data.offset, len)?;
        if buf.len() != len {
            return Err(PdfError::Damaged(
                "stream runs past the end of the file".into(),
            ));
        }
        Ok(buf)
    }

    /// The decoded bytes of a stream (FlateDecode with PNG/TIFF predictors, or no filter).
    pub fn stream_decoded(&self, dict: &Dict, data: StreamData) -> Result<Vec<u8>> {
        let raw = self.stream_raw(data)?;
        let filters: Vec<Object> = match self.lookup(dict, "Filter")? {
            None => Vec::new(),
            Some(Object::Array(a)) => a,
            Some(other) => vec![other],
        };
        let parms: Vec<Object> = match self.lookup(dict, "DecodeParms")? {
            None => Vec::new(),
            Some(Object::Array(a)) => a,
            Some(other) => vec![other],
        };
        let mut out = raw;
        for (i, f) in filters.iter().enumerate() {
            let name = self.resolve(f)?;
            match name.as_name() {
                Some(b"FlateDecode" | b"Fl") => {
                    out = inflate(&out)?;
                    if let Some(p) = parms.get(i) {
                        if let Object::Dict(p) = self.resolve(p)? {
                            out = unpredict(&out, &p)?;
                        }
                    }
                }
                Some(other) => {
                    return Err(PdfError::Damaged(format!(
                        "unsupported filter /{} on a structural stream",
                        String::from_utf8_lossy(other)
                    )))
                }
                None => return Err(PdfError::Damaged("bad /Filter".into())),
            }
        }
        Ok(out)
    }

    fn get_compressed(&self, num: u32, stream: u32, index: u32) -> Result<Object> {
        let stm = self.objstm(stream)?;
        let (table, data) = (&stm.0, &stm.1);
        // The index is a hint; the object number in the table is authoritative.
        let at = table
            .get(index as usize)
            .filter(|(n, _)| *n == num)
            .or_else(|| table.iter().find(|(n, _)| *n == num))
            .map(|(_, off)| *off)
            .ok_or_else(|| {
                PdfError::Damaged(format!("object {num} is not in object stream {stream}"))
            })?;
        let mut p = Parser::at(data, at, 0);
        let obj = p.object()?;
        if matches!(obj, Object::Stream(..)) {
            return Err(PdfError::Damaged("a stream inside an object stream".into()));
        }
        Ok(obj)
    }

    fn objstm(&self, num: u32) -> Result<ObjStm> {
        match self.objstms.borrow().get(&num) {
            Some(Some(s)) => return Ok(s.clone()),
            Some(None) => {
                return Err(PdfError::Damaged(format!(
                    "object stream {num} cannot be read (or depends on itself)"
                )))
            }
            None => {}
        }
        self.objstms.borrow_mut().insert(num, None);
        let Object::Stream(dict, data) = self.get(ObjRef::new(num, 0))? else {
            return Err(PdfError::Damaged(format!("object stream {num} is missing")));
        };
        let decoded = self.stream_decoded(&dict, data)?;
        let n = dict.int("N").unwrap_or(0).clamp(0, 1_000_000) as usize;
        let first = dict.int("First").unwrap_or(0).max(0) as usize;
        let mut table = Vec::with_capacity(n);
        let mut p = Parser::new(&decoded, 0);
        for _ in 0..n {
            let (Some(obj), Some(off)) = (p.uint(), p.uint()) else {
                break;
            };
            table.push((obj as u32, first.saturating_add(off as usize)));
        }
        let stm = Rc::new((table, decoded));
        self.objstms.borrow_mut().insert(num, Some(stm.clone()));
        Ok(stm)
    }

    // -----------------------------------------------------------------------------------------
    // Cross-reference data

    fn load_xref(&mut self) -> Result<()> {
        self.startxref = find_startxref(&self.src)?;
        let mut next = Some(self.startxref);
        let mut seen = HashSet::new();
        while let Some(offset) = next.take() {
            if !seen.insert(offset) || self.sections.len() >= MAX_SECTIONS {
                return Err(PdfError::Damaged(
                    "cross-reference sections form a loop".into(),
                ));
            }
            let mut section = self.read_section(offset)?;
            // A hybrid file's table points at an xref stream with the compressed objects; its
            // entries rank below the table's own (ISO 32000-1 §7.5.8.4).
            if let Some(stm) = section.trailer.int("XRefStm") {
                let stm =
                    u64::try_from(stm).map_err(|_| PdfError::Damaged("bad /XRefStm".into()))?;
                if seen.insert(stm) {
                    let hidden = self.read_section(stm)?;
                    let have: HashSet<u32> = section.entries.iter().map(|(n, _)| *n).collect();
                    section.entries.extend(
                        hidden
                            .entries
                            .into_iter()
                            .filter(|(n, _)| !have.contains(n)),
                    );
                }
            }
            next = match section.trailer.int("Prev") {
                Some(p) => {
                    Some(u64::try_from(p).map_err(|_| PdfError::Damaged("bad /Prev".into()))?)
                }
                None => None,
            };
            self.sections.push(section);
        }
        // Apply oldest first so that newer sections win.
        for section in self.sections.iter().rev() {
            for (num, entry) in &section.entries {
                self.xref.insert(*num, *entry);
            }
        }
        self.trailer = self.sections[0].trailer.clone();
        Ok(())
    }

    fn read_section(&self, offset: u64) -> Result<Section> {
        let head = self.src.read_vec(offset, 16)?;
        let mut p = Parser::new(&head, offset);
        if p.keyword(b"xref") {
            self.read_table(offset)
        } else {
            self.read_xref_stream(offset)
        }
    }

    fn read_table(&self, offset: u64) -> Result<Section> {
        let mut want = 4096usize;
        loop {
            let buf = self.src.read_vec(offset, want)?;
            match parse_table(&buf, offset) {
                Ok((entries, trailer)) => {
                    return Ok(Section {
                        offset,
                        kind: XrefKind::Table,
                        trailer,
                        entries,
                    })
                }
                Err(PdfError::Syntax { ref message, .. })
                    if message == TRUNCATED && buf.len() == want && want < (1 << 30) =>
                {
                    want *= 4;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn read_xref_stream(&self, offset: u64) -> Result<Section> {
        let (_, obj) = self.read_indirect_at(offset)?;
        let Object::Stream(dict, data) = obj else {
            return Err(PdfError::Damaged(format!(
                "no cross-reference table or stream at byte {offset}"
            )));
        };
        if dict.name("Type") != Some(b"XRef") {
            return Err(PdfError::Damaged(format!(
                "the object at byte {offset} is not a cross-reference stream"
            )));
        }
        let decoded = self.stream_decoded(&dict, data)?;
        let widths: Vec<usize> = dict
            .get("W")
            .and_then(Object::as_array)
            .ok_or_else(|| PdfError::Damaged("xref stream without /W".into()))?
            .iter()
            .map(|w| {
                w.as_int()
                    .and_then(|v| usize::try_from(v).ok())
                    .filter(|v| *v <= 8)
            })
            .collect::<Option<_>>()
            .filter(|w: &Vec<usize>| w.len() == 3)
            .ok_or_else(|| PdfError::Damaged("bad /W in xref stream".into()))?;
        let size = dict.int("Size").unwrap_or(0).max(0);
        let index: Vec<i64> = match dict.get("Index").and_then(Object::as_array) {
            Some(a) => a.iter().filter_map(Object::as_int).collect(),
            None => vec![0, size],
        };
        let row = widths.iter().sum::<usize>();
        if row == 0 {
            return Err(PdfError::Damaged("bad /W in xref stream".into()));
        }
        let mut rows = decoded.chunks_exact(row);
        let mut entries = Vec::new();
        for pair in index.chunks_exact(2) {
            let (start, count) = (pair[0], pair[1]);
            if start < 0 || count < 0 || start.saturating_add(count) > i64::from(u32::MAX) {
                return Err(PdfError::Damaged("bad /Index in xref stream".into()));
            }
            for i in 0..count {
                let Some(r) = rows.next() else {
                    return Err(PdfError::Damaged(
                        "xref stream shorter than its /Index".into(),
                    ));
                };
                let mut fields = [0u64; 3];
                let mut at = 0;
                for (f, w) in fields.iter_mut().zip(&widths) {
                    *f = r[at..at + w]
                        .iter()
                        .fold(0u64, |acc, b| acc << 8 | u64::from(*b));
                    at += w;
                }
                let kind = if widths[0] == 0 { 1 } else { fields[0] };
                let entry = match kind {
                    0 => XrefEntry::Free,
                    1 => XrefEntry::InFile {
                        offset: fields[1],
                        gen: fields[2] as u16,
                    },
                    2 => XrefEntry::Compressed {
                        stream: fields[1] as u32,
                        index: fields[2] as u32,
                    },
                    _ => continue, // reserved types are ignored (null references)
                };
                entries.push(((start + i) as u32, entry));
            }
        }
        Ok(Section {
            offset,
            kind: XrefKind::Stream,
            trailer: dict,
            entries,
        })
    }

    /// Checks that every in-file entry points at its object's header.
    fn check_xref(&self) -> Result<()> {
        let len = self.src.len();
        for (num, entry) in &self.xref {
            if let XrefEntry::InFile { offset, gen } = entry {
                if *num == 0 {
                    continue;
                }
                if *offset >= len {
                    return Err(PdfError::Damaged(format!(
                        "object {num} lies past the end of the file"
                    )));
                }
                let head = self.src.read_vec(*offset, 40)?;
                let mut p = Parser::new(&head, *offset);
                match p.object_header() {
                    Ok(id) if id.num == *num && id.gen == *gen => {}
                    _ => {
                        return Err(PdfError::Damaged(format!(
                            "object {num} is not at byte {offset} where the cross-reference table puts it"
                        )))
                    }
                }
            }
        }
        Ok(())
    }

    /// Rebuilds the cross-reference data by scanning the whole file for `N G obj`.
    fn rebuild(&mut self) -> Result<()> {
        self.xref.clear();
        self.sections.clear();
        self.objstms.borrow_mut().clear();
        self.repaired = true;
        let mut trailer: Option<Dict> = None;
        let mut catalog: Option<ObjRef> = None;
        let mut objstms = Vec::new();
        let len = self.src.len();
        const CHUNK: u64 = 1 << 20;
        let mut at = 0u64;
        let mut found: Vec<(u64, ObjRef)> = Vec::new();
        let mut trailers: Vec<u64> = Vec::new();
        while at < len {
            let buf = self.src.read_vec(at, (CHUNK + 64) as usize)?;
            let limit = (CHUNK as usize).min(buf.len());
            let mut i = 0;
            while i < limit {
                let b = buf[i];
                let line_start = i == 0 && at == 0
                    || i > 0 && (crate::object::is_whitespace(buf[i - 1]) || buf[i - 1] == b'>');
                if line_start && b.is_ascii_digit() {
                    let mut p = Parser::at(&buf, i, at);
                    if let Ok(id) = p.object_header() {
                        found.push((at + i as u64, id));
                        i = p.pos;
                        continue;
                    }
                } else if line_start && b == b't' && buf[i..].starts_with(b"trailer") {
                    trailers.push(at + i as u64);
                }
                i += 1;
            }
            at += CHUNK;
        }
        for (offset, id) in &found {
            self.xref.insert(
                id.num,
                XrefEntry::InFile {
                    offset: *offset,
                    gen: id.gen,
                },
            );
        }
        // Keep only entries whose object parses; note catalogues, object streams, xref streams.
        // An object is read no further than the next object found, so that unterminated ones
        // do not each make the rest of the file be read.
        let mut starts: Vec<u64> = found.iter().map(|(offset, _)| *offset).collect();
        starts.sort_unstable();
        let nums: Vec<(u32, u64)> = self
            .xref
            .iter()
            .filter_map(|(n, e)| match e {
                XrefEntry::InFile { offset, .. } => Some((*n, *offset)),
                _ => None,
            })
            .collect();
        for (num, offset) in nums {
            let next = starts.partition_point(|s| *s <= offset);
            let limit = starts
                .get(next)
                .map_or(MAX_OBJECT_BYTES, |n| (n - offset) as usize);
            match self.read_indirect_within(offset, limit) {
                Ok((_, obj)) => {
                    if let Some(d) = obj.as_dict() {
                        match d.name("Type") {
                            Some(b"Catalog") => catalog = Some(ObjRef::new(num, 0)),
                            Some(b"ObjStm") => objstms.push(num),
                            Some(b"XRef") if d.get("Root").is_some() => trailer = Some(d.clone()),
                            _ => {}
                        }
                    }
                }
                Err(PdfError::Io(e)) => return Err(PdfError::Io(e)),
                Err(_) => {
                    self.xref.remove(&num);
                }
            }
        }
        for stm in objstms {
            if let Ok(s) = self.objstm(stm) {
                for (i, (num, _)) in s.0.iter().enumerate() {
                    self.xref.entry(*num).or_insert(XrefEntry::Compressed {
                        stream: stm,
                        index: i as u32,
                    });
                }
            }
        }
        // An object stream that failed may read now that the compressed objects are known.
        self.objstms.borrow_mut().retain(|_, s| s.is_some());
        for t in trailers.iter().rev() {
            let buf = self.src.read_vec(*t, 8192)?;
            let mut p = Parser::at(&buf, 7, *t);
            if let Ok(Object::Dict(d)) = p.object() {
                if d.get("Root").is_some() {
                    trailer = Some(d);
                    break;
                }
            }
        }
        let mut trailer = trailer.unwrap_or_default();
        for key in [
            "Prev",
            "XRefStm",
            "Type",
            "W",
            "Index",
            "Length",
            "Filter",
            "DecodeParms",
        ] {
            trailer.remove(key);
        }
        let root_ok = trailer
            .get("Root")
            .and_then(Object::as_ref)
            .is_some_and(|r| self.xref.contains_key(&r.num));
        if !root_ok {
            match catalog {
                Some(c) => trailer.set("Root", c),
                None => return Err(PdfError::Damaged("no document catalogue found".into())),
            }
        }
        // Catalogues found by scanning need the right generation.
        if let Some(Object::Ref(r)) = trailer.get("Root").cloned() {
            if let Some(XrefEntry::InFile { gen, .. }) = self.xref.get(&r.num) {
                trailer.set("Root", ObjRef::new(r.num, *gen));
            }
        }
        trailer.set("Size", i64::from(self.size().max(1)));
        self.trailer = trailer;
        Ok(())
    }

    /// Every live object number with its entry.
    pub fn objects(&self) -> impl Iterator<Item = (ObjRef, XrefEntry)> + '_ {
        self.xref.iter().filter_map(|(n, e)| match e {
            XrefEntry::Free => None,
            XrefEntry::InFile { gen, .. } => Some((ObjRef::new(*n, *gen), *e)),
            XrefEntry::Compressed { .. } => Some((ObjRef::new(*n, 0), *e)),
        })
    }

    /// The last cross-reference section's form (a repaired file is rewritten with a table).
    pub fn xref_kind(&self) -> XrefKind {
        self.sections.first().map_or(XrefKind::Table, |s| s.kind)
    }

    // -----------------------------------------------------------------------------------------
    // Pages

    /// The page dictionaries' references, in order. Inherited attributes are not resolved.
    pub fn page_refs(&self) -> Result<Vec<ObjRef>> {
        let catalog = self.catalog()?;
        let pages = catalog
            .get("Pages")
            .and_then(Object::as_ref)
            .ok_or_else(|| PdfError::Damaged("the catalogue has no page tree".into()))?;
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        self.collect_pages(pages, &mut out, &mut seen, 0)?;
        Ok(out)
    }

    fn collect_pages(
        &self,
        node: ObjRef,
        out: &mut Vec<ObjRef>,
        seen: &mut HashSet<ObjRef>,
        depth: usize,
    ) -> Result<()> {
        if depth > 64 || !seen.insert(node) {
            return Err(PdfError::Damaged("the page tree has a loop".into()));
        }
        let dict = self.get_dict(node)?;
        match dict.name("Type") {
            Some(b"Pages") => {
                let kids = self
                    .lookup(&dict, "Kids")?
                    .unwrap_or(Object::Array(Vec::new()));
                for kid in kids.as_array().unwrap_or(&[]) {
                    if let Some(r) = kid.as_ref() {
                        self.collect_pages(r, out, seen, depth + 1)?;
                    }
                }
            }
            _ => out.push(node),
        }
        Ok(())
    }

    /// The page `index` (from 0), found by descending the tree with /Count, without reading
    /// every page.
    pub fn page(&self, index: usize) -> Result<ObjRef> {
        let catalog = self.catalog()?;
        let mut node = catalog
            .get("Pages")
            .and_then(Object::as_ref)
            .ok_or_else(|| PdfError::Damaged("the catalogue has no page tree".into()))?;
        let mut remaining = index;
        'descend: for _ in 0..64 {
            let dict = self.get_dict(node)?;
            if dict.name("Type") != Some(b"Pages") {
                if remaining == 0 {
                    return Ok(node);
                }
                break;
            }
            let kids = self
                .lookup(&dict, "Kids")?
                .unwrap_or(Object::Array(Vec::new()));
            for kid in kids.as_array().unwrap_or(&[]) {
                let Some(r) = kid.as_ref() else { continue };
                let kd = self.get_dict(r)?;
                let count = if kd.name("Type") == Some(b"Pages") {
                    match self.lookup(&kd, "Count")? {
                        Some(Object::Int(c)) if c >= 0 => c as usize,
                        // A broken /Count: fall back to walking the whole tree.
                        _ => return self.page_by_walk(index),
                    }
                } else {
                    1
                };
                if remaining < count {
                    node = r;
                    continue 'descend;
                }
                remaining -= count;
            }
            break;
        }
        self.page_by_walk(index)
    }

    fn page_by_walk(&self, index: usize) -> Result<ObjRef> {
        let pages = self.page_refs()?;
        pages.get(index).copied().ok_or_else(|| {
            PdfError::Invalid(format!(
                "page {} does not exist (the document has {} pages)",
                index + 1,
                pages.len()
            ))
        })
    }

    pub fn page_count(&self) -> Result<usize> {
        let catalog = self.catalog()?;
        if let Some(Object::Ref(r)) = catalog.get("Pages") {
            if let Ok(d) = self.get_dict(*r) {
                if let Some(Object::Int(c)) = self.lookup(&d, "Count")? {
                    if c >= 0 {
                        return Ok(c as usize);
                    }
                }
            }
        }
        Ok(self.page_refs()?.len())
    }

    /// The visible area of page `index` (from 0) in default user space, as `[llx, lly, urx, ury]`:
    /// its CropBox clipped to its MediaBox (both inherited from the page tree), or the MediaBox.
    pub fn page_box(&self, index: usize) -> Result<[f64; 4]> {
        let page = self.page(index)?;
        self.visible_box(page)?
            .ok_or_else(|| PdfError::Damaged(format!("page {} has no MediaBox", index + 1)))
    }

    /// [`Document::page_box`] of the page dictionary `page`.
    pub fn page_box_of(&self, page: ObjRef) -> Result<[f64; 4]> {
        self.visible_box(page)?
            .ok_or_else(|| PdfError::Damaged("a page has no MediaBox".into()))
    }

    fn visible_box(&self, page: ObjRef) -> Result<Option<[f64; 4]>> {
        let Some(media) = self.inherited(page, "MediaBox")? else {
            return Ok(None);
        };
        let media = self.rectangle(&media)?;
        let crop = match self.inherited(page, "CropBox")? {
            Some(c) => self.rectangle(&c).ok(),
            None => None,
        };
        Ok(Some(match crop {
            Some(c) => {
                let clipped = [
                    c[0].max(media[0]),
                    c[1].max(media[1]),
                    c[2].min(media[2]),
                    c[3].min(media[3]),
                ];
                if clipped[0] < clipped[2] && clipped[1] < clipped[3] {
                    clipped
                } else {
                    media
                }
            }
            None => media,
        }))
    }

    /// A PDF rectangle (four numbers, any two opposite corners), normalised.
    fn rectangle(&self, obj: &Object) -> Result<[f64; 4]> {
        let resolved = self.resolve(obj)?;
        let items = resolved
            .as_array()
            .filter(|a| a.len() == 4)
            .ok_or_else(|| PdfError::Damaged("a page box is not four numbers".into()))?;
        let mut n = [0.0; 4];
        for (slot, item) in n.iter_mut().zip(items) {
            *slot = self
                .resolve(item)?
                .as_number()
                .ok_or_else(|| PdfError::Damaged("a page box is not four numbers".into()))?;
        }
        Ok([
            n[0].min(n[2]),
            n[1].min(n[3]),
            n[0].max(n[2]),
            n[1].max(n[3]),
        ])
    }

    /// A page attribute, inherited from the page tree where the page does not set it.
    pub fn inherited(&self, page: ObjRef, key: &str) -> Result<Option<Object>> {
        let mut node = page;
        for _ in 0..64 {
            let d = self.get_dict(node)?;
            if let Some(v) = self.lookup(&d, key)? {
                return Ok(Some(v));
            }
            match d.get("Parent").and_then(Object::as_ref) {
                Some(p) => node = p,
                None => return Ok(None),
            }
        }
        Ok(None)
    }
}

fn check_header<S: Source>(src: &S) -> Result<()> {
    if src.is_empty() {
        return Err(PdfError::NotPdf("the file is empty".into()));
    }
    let head = src.read_vec(0, 1024)?;
    if find(&head, b"%PDF-").is_none() {
        return Err(PdfError::NotPdf("no %PDF- header".into()));
    }
    Ok(())
}

fn find_startxref<S: Source>(src: &S) -> Result<u64> {
    let len = src.len();
    let tail_len = 4096.min(len);
    let tail = src.read_vec(len - tail_len, tail_len as usize)?;
    let at = rfind(&tail, b"startxref")
        .ok_or_else(|| PdfError::Damaged("no startxref at the end of the file".into()))?;
    let mut p = Parser::at(&tail, at + 9, len - tail_len);
    let offset = p
        .uint()
        .ok_or_else(|| PdfError::Damaged("startxref has no offset".into()))?;
    if offset >= len {
        return Err(PdfError::Damaged(
            "startxref points past the end of the file".into(),
        ));
    }
    Ok(offset)
}

/// Parses `xref` subsections and the `trailer` dictionary from `buf` (which starts at `xref`).
fn parse_table(buf: &[u8], base: u64) -> Result<(Vec<(u32, XrefEntry)>, Dict)> {
    let mut p = Parser::new(buf, base);
    p.expect_keyword(b"xref")?;
    let mut entries = Vec::new();
    loop {
        p.skip_ws();
        if p.keyword(b"trailer") {
            break;
        }
        let start = p.uint();
        let count = p.uint();
        let (Some(start), Some(count)) = (start, count) else {
            if p.pos >= buf.len() {
                return Err(PdfError::Syntax {
                    offset: base + p.pos as u64,
                    message: TRUNCATED.into(),
                });
            }
            return Err(PdfError::Damaged(
                "bad cross-reference subsection header".into(),
            ));
        };
        if start.saturating_add(count) > u64::from(u32::MAX) {
            return Err(PdfError::Damaged(
                "bad cross-reference subsection header".into(),
            ));
        }
        for i in 0..count {
            let offset = p.uint();
            let gen = p.uint();
            p.skip_ws();
            let kind = p.token();
            let (Some(offset), Some(gen)) = (offset, gen) else {
                if p.pos >= buf.len() {
                    return Err(PdfError::Syntax {
                        offset: base + p.pos as u64,
                        message: TRUNCATED.into(),
                    });
                }
                return Err(PdfError::Damaged("bad cross-reference entry".into()));
            };
            let num = (start + i) as u32;
            let entry = match kind {
                b"n" => XrefEntry::InFile {
                    offset,
                    gen: gen.min(u64::from(u16::MAX)) as u16,
                },
                b"f" => XrefEntry::Free,
                _ if p.pos >= buf.len() => {
                    return Err(PdfError::Syntax {
                        offset: base + p.pos as u64,
                        message: TRUNCATED.into(),
                    })
                }
                _ => return Err(PdfError::Damaged("bad cross-reference entry".into())),
            };
            // An in-use entry at offset 0 is a common writer slip; it means a missing object.
            if !matches!(entry, XrefEntry::InFile { offset: 0, .. }) {
                entries.push((num, entry));
            }
        }
    }
    let trailer = match p.object()? {
        Object::Dict(d) => d,
        _ => return Err(PdfError::Damaged("the trailer is not a dictionary".into())),
    };
    Ok((entries, trailer))
}

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub(crate) fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

pub(crate) fn inflate(data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut z = flate2::read::ZlibDecoder::new(data).take(MAX_DECODED as u64 + 1);
    if let Err(e) = z.read_to_end(&mut out) {
        // Truncated zlib data still yields what was decoded, as readers accept.
        if out.is_empty() {
            return Err(PdfError::Damaged(format!("bad compressed stream: {e}")));
        }
    }
    if out.len() > MAX_DECODED {
        return Err(PdfError::Damaged(
            "compressed stream expands too far".into(),
        ));
    }
    Ok(out)
}

/// Undoes a PNG (10–15) or TIFF (2) predictor.
fn unpredict(data: &[u8], parms: &Dict) -> Result<Vec<u8>> {
    let predictor = parms.int("Predictor").unwrap_or(1);
    if predictor < 2 {
        return Ok(data.to_vec());
    }
    let colors = parms.int("Colors").unwrap_or(1).clamp(1, 32) as usize;
    let bpc = parms.int("BitsPerComponent").unwrap_or(8).clamp(1, 16) as usize;
    let columns = parms.int("Columns").unwrap_or(1).clamp(1, 1 << 24) as usize;
    let bpp = (colors * bpc).div_ceil(8);
    let row = (colors * bpc * columns).div_ceil(8);
    if predictor == 2 {
        let mut out = data.to_vec();
        if bpc == 8 {
            for line in out.chunks_mut(row) {
                for i in bpp..line.len() {
                    line[i] = line[i].wrapping_add(line[i - bpp]);
                }
            }
        }
        return Ok(out);
    }
    let mut out = Vec::with_capacity(data.len());
    // Rows are as long as the data has, not as /Columns claims: a short last row stays short,
    // and a few bytes with a huge /Columns cannot make a huge output.
    let mut prev: Vec<u8> = Vec::new();
    for chunk in data.chunks(row.saturating_add(1)) {
        if chunk.len() < 2 {
            break;
        }
        let kind = chunk[0];
        let mut line = chunk[1..].to_vec();
        for i in 0..line.len() {
            let above = |j: usize| prev.get(j).copied().unwrap_or(0);
            let a = if i >= bpp { line[i - bpp] } else { 0 };
            let b = above(i);
            let c = if i >= bpp { above(i - bpp) } else { 0 };
            line[i] = match kind {
                0 => line[i],
                1 => line[i].wrapping_add(a),
                2 => line[i].wrapping_add(b),
                3 => line[i].wrapping_add(((u16::from(a) + u16::from(b)) / 2) as u8),
                4 => line[i].wrapping_add(paeth(a, b, c)),
                _ => return Err(PdfError::Damaged("bad PNG predictor row".into())),
            };
        }
        out.extend_from_slice(&line);
        prev = line;
    }
    Ok(out)
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = (
        (p - i16::from(a)).abs(),
        (p - i16::from(b)).abs(),
        (p - i16::from(c)).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PDF of `objects` (numbered from 1, the first the catalogue) with a classic xref.
    fn pdf(objects: &[&str]) -> Vec<u8> {
        let mut out = b"%PDF-1.7\n".to_vec();
        let mut offsets = Vec::new();
        for (i, body) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
        }
        let xref = out.len();
        out.extend_from_slice(
            format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
        );
        for o in offsets {
            out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                objects.len() + 1
            )
            .as_bytes(),
        );
        out
    }

    #[test]
    fn page_boxes_are_inherited_clipped_by_the_crop_box_and_normalised() {
        let doc = Document::open(pdf(&[
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 /MediaBox [0 0 595 842] >>",
            // Inherits the A4 MediaBox.
            "<< /Type /Page /Parent 2 0 R >>",
            // Its own box, corners given the other way round, and a crop box beyond it.
            "<< /Type /Page /Parent 2 0 R /MediaBox [612 792 0 0] /CropBox [10 20 700 5 0 R] >>",
            "780",
        ]))
        .expect("opens");
        assert_eq!(doc.page_box(0).expect("page 1"), [0.0, 0.0, 595.0, 842.0]);
        assert_eq!(doc.page_box(1).expect("page 2"), [10.0, 20.0, 612.0, 780.0]);
        assert!(doc.page_box(2).is_err(), "no third page");
    }
}
