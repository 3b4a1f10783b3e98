//! The PDF object model (ISO 32000-1 §7.3) and its parser and serialiser.
//!
//! Objects are parsed from byte slices; streams keep only the position and length of their data so
//! that large files are never read whole.

use std::fmt::Write as _;

use crate::error::PdfError;

/// An indirect reference `N G R`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjRef {
    pub num: u32,
    pub gen: u16,
}

impl ObjRef {
    pub const fn new(num: u32, gen: u16) -> Self {
        Self { num, gen }
    }
}

/// A dictionary, keeping the order of its keys as read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dict(pub Vec<(Vec<u8>, Object)>);

impl Dict {
    pub fn new() -> Self {
        Self(Vec::new())
    }

    pub fn get(&self, key: &str) -> Option<&Object> {
        self.0
            .iter()
            .find(|(k, _)| k.as_slice() == key.as_bytes())
            .map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Object> {
        self.0
            .iter_mut()
            .find(|(k, _)| k.as_slice() == key.as_bytes())
            .map(|(_, v)| v)
    }

    /// Sets `key`, replacing any value it had.
    pub fn set(&mut self, key: &str, value: impl Into<Object>) {
        let value = value.into();
        match self.get_mut(key) {
            Some(slot) => *slot = value,
            None => self.0.push((key.as_bytes().to_vec(), value)),
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Object> {
        let at = self
            .0
            .iter()
            .position(|(k, _)| k.as_slice() == key.as_bytes())?;
        Some(self.0.remove(at).1)
    }

    pub fn name(&self, key: &str) -> Option<&[u8]> {
        self.get(key).and_then(Object::as_name)
    }

    pub fn int(&self, key: &str) -> Option<i64> {
        self.get(key).and_then(Object::as_int)
    }

    pub fn keys(&self) -> impl Iterator<Item = &[u8]> {
        self.0.iter().map(|(k, _)| k.as_slice())
    }
}

/// Where a stream's data sits in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamData {
    pub offset: u64,
    pub len: u64,
}

/// A real number. One read from a file keeps its token, so that an object copied into an update
/// is written back exactly as read: a page's `/MediaBox [0 0 595.275591 841.889764]` rounded to
/// `595.2756` would change the page an earlier signature covers.
#[derive(Clone, Debug)]
pub struct Real {
    value: f64,
    /// The token as read (digits, a sign, a point), for a number parsed from a file.
    text: Option<Box<str>>,
}

impl Real {
    /// A number Inkan computed: written with up to four decimals.
    pub fn new(value: f64) -> Self {
        Self { value, text: None }
    }

    pub fn value(&self) -> f64 {
        self.value
    }

    /// The token the number was read from, if it was read from a file.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }
}

/// Two numbers read from files are equal when their decimal values are (`1.50` and `1.5`, but not
/// `0.1000000000000000001` and `0.1`, which are one `f64`): the comparison validators make
/// between a signed revision and a later one. Otherwise their `f64` values are compared.
impl PartialEq for Real {
    fn eq(&self, other: &Self) -> bool {
        match (
            self.text.as_deref().and_then(decimal),
            other.text.as_deref().and_then(decimal),
        ) {
            (Some(a), Some(b)) => a == b,
            _ => self.value == other.value,
        }
    }
}

/// A number token as (negative, integer digits without leading zeros, fraction digits without
/// trailing zeros); zero is never negative.
/// Signs are read as the parser reads them (leading `+`s and one doubled `--` ignored).
fn decimal(text: &str) -> Option<(bool, &str, &str)> {
    let cleaned = text.trim_start_matches('+');
    let cleaned = cleaned.strip_prefix("--").unwrap_or(cleaned);
    let (negative, unsigned) = match cleaned.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, cleaned.strip_prefix('+').unwrap_or(cleaned)),
    };
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (int, frac) = (int.trim_start_matches('0'), frac.trim_end_matches('0'));
    Some((negative && !(int.is_empty() && frac.is_empty()), int, frac))
}

#[derive(Clone, Debug, PartialEq)]
pub enum Object {
    Null,
    Bool(bool),
    Int(i64),
    Real(Real),
    Name(Vec<u8>),
    String(Vec<u8>),
    /// A string to be written as hexadecimal (parsed strings keep no such distinction).
    HexString(Vec<u8>),
    Array(Vec<Object>),
    Dict(Dict),
    Stream(Dict, StreamData),
    Ref(ObjRef),
}

impl Object {
    pub fn name(s: &str) -> Self {
        Object::Name(s.as_bytes().to_vec())
    }

    pub fn as_name(&self) -> Option<&[u8]> {
        match self {
            Object::Name(n) => Some(n),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Object::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<f64> {
        match self {
            Object::Int(i) => Some(*i as f64),
            Object::Real(r) => Some(r.value),
            _ => None,
        }
    }

    pub fn as_ref(&self) -> Option<ObjRef> {
        match self {
            Object::Ref(r) => Some(*r),
            _ => None,
        }
    }

    pub fn as_dict(&self) -> Option<&Dict> {
        match self {
            Object::Dict(d) | Object::Stream(d, _) => Some(d),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Object]> {
        match self {
            Object::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_string(&self) -> Option<&[u8]> {
        match self {
            Object::String(s) | Object::HexString(s) => Some(s),
            _ => None,
        }
    }
}

impl From<i64> for Object {
    fn from(v: i64) -> Self {
        Object::Int(v)
    }
}
impl From<f64> for Object {
    fn from(v: f64) -> Self {
        Object::Real(Real::new(v))
    }
}
impl From<ObjRef> for Object {
    fn from(v: ObjRef) -> Self {
        Object::Ref(v)
    }
}
impl From<Dict> for Object {
    fn from(v: Dict) -> Self {
        Object::Dict(v)
    }
}
impl From<Vec<Object>> for Object {
    fn from(v: Vec<Object>) -> Self {
        Object::Array(v)
    }
}
impl From<bool> for Object {
    fn from(v: bool) -> Self {
        Object::Bool(v)
    }
}

/// A text string for a PDF text-string field: PDFDocEncoding-safe ASCII as is, otherwise UTF-16BE
/// with a byte-order mark, so that Japanese reads correctly in every reader.
pub fn text_string(s: &str) -> Object {
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        Object::String(s.as_bytes().to_vec())
    } else {
        let mut out = vec![0xfe, 0xff];
        for unit in s.encode_utf16() {
            out.extend_from_slice(&unit.to_be_bytes());
        }
        Object::HexString(out)
    }
}

/// Decodes a PDF text string (UTF-16BE with BOM, UTF-8 with BOM, or PDFDocEncoding treated as Latin-1).
pub fn decode_text(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xfe, 0xff]) {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else if let Some(rest) = bytes.strip_prefix(&[0xef, 0xbb, 0xbf]) {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        bytes.iter().map(|&b| b as char).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Lexing

pub(crate) fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' | b'\0')
}

pub(crate) fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

fn is_regular(b: u8) -> bool {
    !is_whitespace(b) && !is_delimiter(b)
}

/// Nesting deeper than this is refused: a hostile file must not overflow the stack.
const MAX_DEPTH: usize = 64;

/// A cursor over a byte slice that parses PDF objects. `base` is the file offset of `data[0]`, so
/// that stream positions come out as file offsets.
#[derive(Debug)]
pub struct Parser<'a> {
    data: &'a [u8],
    pub pos: usize,
    base: u64,
}

/// The parse ran past the end of the available bytes: the caller may retry with more.
pub(crate) const TRUNCATED: &str = "unexpected end of data";

impl<'a> Parser<'a> {
    pub fn new(data: &'a [u8], base: u64) -> Self {
        Self { data, pos: 0, base }
    }

    pub fn at(data: &'a [u8], pos: usize, base: u64) -> Self {
        Self { data, pos, base }
    }

    fn err(&self, msg: &str) -> PdfError {
        PdfError::Syntax {
            offset: self.base + self.pos as u64,
            message: msg.to_string(),
        }
    }

    pub fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    pub fn skip_ws(&mut self) {
        while let Some(b) = self.peek() {
            if is_whitespace(b) {
                self.pos += 1;
            } else if b == b'%' {
                while let Some(c) = self.peek() {
                    if c == b'\r' || c == b'\n' {
                        break;
                    }
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    /// Reads a run of regular characters (a keyword or number token).
    pub fn token(&mut self) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(is_regular) {
            self.pos += 1;
        }
        &self.data[start..self.pos]
    }

    /// Consumes `kw` if it is the next token.
    pub fn keyword(&mut self, kw: &[u8]) -> bool {
        self.skip_ws();
        let save = self.pos;
        if self.token() == kw {
            true
        } else {
            self.pos = save;
            false
        }
    }

    pub fn expect_keyword(&mut self, kw: &[u8]) -> Result<(), PdfError> {
        if self.keyword(kw) {
            Ok(())
        } else if self.pos >= self.data.len() {
            Err(self.err(TRUNCATED))
        } else {
            Err(self.err(&format!("expected '{}'", String::from_utf8_lossy(kw))))
        }
    }

    /// Reads an unsigned integer token.
    pub fn uint(&mut self) -> Option<u64> {
        self.skip_ws();
        let save = self.pos;
        let tok = self.token();
        if tok.is_empty() || !tok.iter().all(u8::is_ascii_digit) || tok.len() > 19 {
            self.pos = save;
            return None;
        }
        std::str::from_utf8(tok).ok()?.parse().ok()
    }

    /// Parses `N G obj`, returning the reference.
    pub fn object_header(&mut self) -> Result<ObjRef, PdfError> {
        let num = self
            .uint()
            .ok_or_else(|| self.err("expected object number"))?;
        let gen = self
            .uint()
            .ok_or_else(|| self.err("expected generation number"))?;
        self.expect_keyword(b"obj")?;
        let num = u32::try_from(num).map_err(|_| self.err("object number out of range"))?;
        let gen = u16::try_from(gen).map_err(|_| self.err("generation out of range"))?;
        Ok(ObjRef::new(num, gen))
    }

    /// Parses one direct object. A dictionary followed by `stream` becomes a stream whose data
    /// position is recorded and skipped using `/Length` when it is a direct integer; with an
    /// indirect length the position is recorded with length `u64::MAX` for the caller to resolve.
    pub fn object(&mut self) -> Result<Object, PdfError> {
        self.object_depth(0)
    }

    fn object_depth(&mut self, depth: usize) -> Result<Object, PdfError> {
        if depth > MAX_DEPTH {
            return Err(self.err("objects nested too deeply"));
        }
        self.skip_ws();
        let Some(b) = self.peek() else {
            return Err(self.err(TRUNCATED));
        };
        match b {
            b'/' => {
                self.pos += 1;
                Ok(Object::Name(self.name_body()))
            }
            b'(' => self.literal_string(),
            b'<' if self.data.get(self.pos + 1) == Some(&b'<') => {
                self.pos += 2;
                let dict = self.dict_body(depth)?;
                let save = self.pos;
                if self.keyword(b"stream") {
                    // EOL after `stream` is CRLF or LF (a lone CR is tolerated).
                    match self.peek() {
                        Some(b'\r') => {
                            self.pos += 1;
                            if self.peek() == Some(b'\n') {
                                self.pos += 1;
                            }
                        }
                        Some(b'\n') => self.pos += 1,
                        _ => {}
                    }
                    let offset = self.base + self.pos as u64;
                    let len = match dict.get("Length") {
                        Some(Object::Int(n)) if *n >= 0 => *n as u64,
                        _ => u64::MAX,
                    };
                    if len != u64::MAX {
                        self.pos = self.pos.saturating_add(len as usize);
                    }
                    Ok(Object::Stream(dict, StreamData { offset, len }))
                } else {
                    self.pos = save;
                    Ok(Object::Dict(dict))
                }
            }
            b'<' => self.hex_string(),
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_ws();
                    match self.peek() {
                        None => return Err(self.err(TRUNCATED)),
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Object::Array(items));
                        }
                        _ => items.push(self.object_or_ref(depth + 1)?),
                    }
                }
            }
            _ if b.is_ascii_digit() || b == b'+' || b == b'-' || b == b'.' => self.number(),
            _ => {
                let start = self.pos;
                let tok = self.token();
                match tok {
                    b"true" => Ok(Object::Bool(true)),
                    b"false" => Ok(Object::Bool(false)),
                    b"null" => Ok(Object::Null),
                    b"" => {
                        self.pos = start;
                        Err(self.err(&format!("unexpected character 0x{b:02x}")))
                    }
                    _ if self.pos >= self.data.len() => Err(self.err(TRUNCATED)),
                    _ => {
                        self.pos = start;
                        Err(self.err(&format!(
                            "unexpected keyword '{}'",
                            String::from_utf8_lossy(tok)
                        )))
                    }
                }
            }
        }
    }

    /// An object inside an array or dictionary, where `N G R` is a reference.
    fn object_or_ref(&mut self, depth: usize) -> Result<Object, PdfError> {
        let obj = self.object_depth(depth)?;
        if let Object::Int(num) = obj {
            let save = self.pos;
            if let Some(gen) = self.uint() {
                if self.keyword(b"R") {
                    if let (Ok(num), Ok(gen)) = (u32::try_from(num), u16::try_from(gen)) {
                        return Ok(Object::Ref(ObjRef::new(num, gen)));
                    }
                }
            }
            self.pos = save;
        }
        Ok(obj)
    }

    fn dict_body(&mut self, depth: usize) -> Result<Dict, PdfError> {
        let mut dict = Dict::new();
        loop {
            self.skip_ws();
            match self.peek() {
                None => return Err(self.err(TRUNCATED)),
                Some(b'>') => {
                    if self.data.get(self.pos + 1) == Some(&b'>') {
                        self.pos += 2;
                        keep_last_of_each_key(&mut dict.0);
                        return Ok(dict);
                    }
                    return Err(self.err("expected '>>'"));
                }
                Some(b'/') => {
                    self.pos += 1;
                    let key = self.name_body();
                    let value = self.object_or_ref(depth + 1)?;
                    // A null value is the same as an absent key (§7.3.7).
                    if value != Object::Null {
                        dict.0.push((key, value));
                    }
                }
                Some(_) => return Err(self.err("expected a name as dictionary key")),
            }
        }
    }

    fn name_body(&mut self) -> Vec<u8> {
        let raw = self.token();
        let mut out = Vec::with_capacity(raw.len());
        let mut i = 0;
        while i < raw.len() {
            if raw[i] == b'#' && i + 2 < raw.len() {
                if let (Some(h), Some(l)) = (hex_val(raw[i + 1]), hex_val(raw[i + 2])) {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
            }
            out.push(raw[i]);
            i += 1;
        }
        out
    }

    fn number(&mut self) -> Result<Object, PdfError> {
        let start = self.pos;
        let tok = self.token();
        let s = std::str::from_utf8(tok).map_err(|_| self.err("bad number"))?;
        if let Ok(i) = s.parse::<i64>() {
            return Ok(Object::Int(i));
        }
        // Readers accept forms like `-.5`, `5.` and a doubled sign; Rust's float parser covers most.
        let cleaned = s.trim_start_matches('+');
        let cleaned = cleaned.strip_prefix("--").unwrap_or(cleaned);
        match cleaned.parse::<f64>() {
            Ok(f) if f.is_finite() && !cleaned.contains(['e', 'E', 'i', 'n', 'N', 'I']) => {
                Ok(Object::Real(Real {
                    value: f,
                    text: Some(s.into()),
                }))
            }
            _ => {
                self.pos = start;
                Err(self.err(&format!("bad number '{s}'")))
            }
        }
    }

    fn literal_string(&mut self) -> Result<Object, PdfError> {
        self.pos += 1;
        let mut out = Vec::new();
        let mut nesting = 1usize;
        loop {
            let Some(b) = self.peek() else {
                return Err(self.err(TRUNCATED));
            };
            self.pos += 1;
            match b {
                b'(' => {
                    nesting += 1;
                    out.push(b);
                }
                b')' => {
                    nesting -= 1;
                    if nesting == 0 {
                        return Ok(Object::String(out));
                    }
                    out.push(b);
                }
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.err(TRUNCATED));
                    };
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'\r' => {
                            if self.peek() == Some(b'\n') {
                                self.pos += 1;
                            }
                        }
                        b'\n' => {}
                        b'0'..=b'7' => {
                            let mut v = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.peek() {
                                    Some(d @ b'0'..=b'7') => {
                                        v = v * 8 + u32::from(d - b'0');
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push((v & 0xff) as u8);
                        }
                        other => out.push(other),
                    }
                }
                _ => out.push(b),
            }
        }
    }

    fn hex_string(&mut self) -> Result<Object, PdfError> {
        self.pos += 1;
        let mut out = Vec::new();
        let mut high: Option<u8> = None;
        loop {
            let Some(b) = self.peek() else {
                return Err(self.err(TRUNCATED));
            };
            self.pos += 1;
            if b == b'>' {
                if let Some(h) = high {
                    out.push(h << 4);
                }
                return Ok(Object::String(out));
            }
            if is_whitespace(b) {
                continue;
            }
            let v = hex_val(b).ok_or_else(|| self.err("bad character in hex string"))?;
            match high.take() {
                Some(h) => out.push(h << 4 | v),
                None => high = Some(v),
            }
        }
    }
}

/// Drops every entry whose key comes again later, as if each repeated key had replaced the
/// earlier value (and moved to the end). One pass, so that a hostile dictionary of millions of
/// keys costs linear time.
fn keep_last_of_each_key(entries: &mut Vec<(Vec<u8>, Object)>) {
    if entries.len() < 2 {
        return;
    }
    let mut seen = std::collections::HashSet::with_capacity(entries.len());
    let mut keep: Vec<bool> = entries
        .iter()
        .rev()
        .map(|(k, _)| seen.insert(k.as_slice()))
        .collect();
    keep.reverse();
    let mut keep = keep.into_iter();
    entries.retain(|_| keep.next().unwrap_or(true));
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Serialising

/// Appends the PDF syntax for `obj` to `out`. Streams must be written with [`write_stream`].
pub fn write_object(out: &mut Vec<u8>, obj: &Object) {
    match obj {
        Object::Null => out.extend_from_slice(b"null"),
        Object::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Object::Int(i) => {
            let _ = write!(Buf(out), "{i}");
        }
        Object::Real(r) => match &r.text {
            Some(text) => out.extend_from_slice(text.as_bytes()),
            None => write_real(out, r.value),
        },
        Object::Name(n) => write_name(out, n),
        Object::String(s) => write_literal(out, s),
        Object::HexString(s) => {
            out.push(b'<');
            for b in s {
                let _ = write!(Buf(out), "{b:02X}");
            }
            out.push(b'>');
        }
        Object::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                write_object(out, item);
            }
            out.push(b']');
        }
        Object::Dict(d) | Object::Stream(d, _) => write_dict(out, d),
        Object::Ref(r) => {
            let _ = write!(Buf(out), "{} {} R", r.num, r.gen);
        }
    }
}

pub fn write_dict(out: &mut Vec<u8>, d: &Dict) {
    out.extend_from_slice(b"<<");
    for (k, v) in &d.0 {
        write_name(out, k);
        if !matches!(
            v,
            Object::Name(_) | Object::Array(_) | Object::Dict(_) | Object::String(_)
        ) {
            out.push(b' ');
        }
        write_object(out, v);
    }
    out.extend_from_slice(b">>");
}

pub fn write_real(out: &mut Vec<u8>, r: f64) {
    if r.fract() == 0.0 && r.abs() < 1e15 {
        let _ = write!(Buf(out), "{}", r as i64);
        return;
    }
    let s = format!("{r:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    out.extend_from_slice(s.as_bytes());
}

fn write_name(out: &mut Vec<u8>, n: &[u8]) {
    out.push(b'/');
    for &b in n {
        if b > b' ' && b < 0x7f && b != b'#' && is_regular(b) {
            out.push(b);
        } else {
            let _ = write!(Buf(out), "#{b:02X}");
        }
    }
}

fn write_literal(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'(');
    for &b in s {
        match b {
            b'(' | b')' | b'\\' => {
                out.push(b'\\');
                out.push(b);
            }
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
    out.push(b')');
}

/// Writes `N G obj <<dict /Length n>> stream ... endstream endobj`.
pub fn write_stream(out: &mut Vec<u8>, id: ObjRef, dict: &Dict, data: &[u8]) {
    let mut dict = dict.clone();
    dict.set("Length", data.len() as i64);
    let _ = writeln!(Buf(out), "{} {} obj", id.num, id.gen);
    write_dict(out, &dict);
    out.extend_from_slice(b"\nstream\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\nendstream\nendobj\n");
}

/// Writes `N G obj ... endobj`.
pub fn write_indirect(out: &mut Vec<u8>, id: ObjRef, obj: &Object) {
    let _ = writeln!(Buf(out), "{} {} obj", id.num, id.gen);
    write_object(out, obj);
    out.extend_from_slice(b"\nendobj\n");
}

/// `fmt::Write` over a byte vector, so numbers format without an intermediate String.
struct Buf<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Buf<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Object {
        Parser::new(s.as_bytes(), 0).object().expect("parses")
    }

    #[test]
    fn parses_nested_structures_and_references() {
        let o =
            parse("<< /Type /Page /Kids [1 0 R 2 0 R] /N -3.5 /S (a\\(b\\)) /H <4142> /E null >>");
        let d = o.as_dict().expect("dict");
        assert_eq!(d.name("Type"), Some(&b"Page"[..]));
        assert_eq!(
            d.get("Kids"),
            Some(&Object::Array(vec![
                Object::Ref(ObjRef::new(1, 0)),
                Object::Ref(ObjRef::new(2, 0))
            ]))
        );
        assert_eq!(d.get("N"), Some(&Object::from(-3.5)));
        assert_eq!(d.get("S"), Some(&Object::String(b"a(b)".to_vec())));
        assert_eq!(d.get("H"), Some(&Object::String(b"AB".to_vec())));
        assert_eq!(d.get("E"), None);
    }

    #[test]
    fn names_decode_hex_escapes() {
        assert_eq!(parse("/A#20B"), Object::Name(b"A B".to_vec()));
    }

    #[test]
    fn round_trips_through_the_writer() {
        let src = "<</A[1 2.5 (x\\)y) <00FF>]/B<</C true>>/D 3 0 R/E/F>>";
        let o = parse(src);
        let mut out = Vec::new();
        write_object(&mut out, &o);
        // Binary string bytes are written as they are: parse the output as bytes, not text.
        assert_eq!(Parser::new(&out, 0).object().expect("parses"), o);
    }

    #[test]
    fn numbers_read_from_a_file_are_written_back_as_read() {
        let src = "[0 0 595.275591 841.889764 -.5 5. +1.50 0.12345678901234567890123 \
                   123456789012345678901234567890 --2.5]";
        let mut out = Vec::new();
        write_object(&mut out, &parse(src));
        assert_eq!(String::from_utf8(out).expect("ascii"), src);
        // Numbers Inkan computes are rounded for content streams and rectangles.
        let mut out = Vec::new();
        write_object(&mut out, &Object::from(1.0 / 3.0));
        assert_eq!(out, b"0.3333");
    }

    #[test]
    fn reals_compare_by_their_decimal_value() {
        assert_eq!(parse("1.50"), parse("1.5"));
        assert_eq!(parse("-0.0"), parse("0.000"));
        assert_eq!(parse("--2.5"), parse("2.5"));
        assert_eq!(parse("+.5"), parse("0.5"));
        assert_ne!(parse("595.275591"), parse("595.2756"));
        assert_ne!(parse("-1.5"), parse("1.5"));
        // One f64, two decimals: a validator comparing decimals sees a change.
        assert_ne!(parse("0.1000000000000000001"), parse("0.1"));
        assert_eq!(parse("0.25"), Object::from(0.25));
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let s = "[".repeat(10_000);
        assert!(Parser::new(s.as_bytes(), 0).object().is_err());
    }

    #[test]
    fn japanese_text_is_utf16_with_bom() {
        let o = text_string("東京");
        assert_eq!(
            o,
            Object::HexString(vec![0xfe, 0xff, 0x67, 0x71, 0x4e, 0xac])
        );
        assert_eq!(decode_text(o.as_string().expect("string")), "東京");
        assert_eq!(text_string("Tokyo"), Object::String(b"Tokyo".to_vec()));
    }
}
