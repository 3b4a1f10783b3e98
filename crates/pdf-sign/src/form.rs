//! Contract forms: [`prepare`] writes every party's fields (signature, text, checkbox) with
//! empty appearances, and a margin text on every page, as one incremental update before the
//! first signature; `apply_fills` fills text fields and checkboxes in the update that carries a
//! party's signature (see [`crate::SignOptions::fill`]).
//!
//! Text is drawn rasterised with the bundled IPAGothic (as signature appearances are, see
//! [`crate::appearance`]): Japanese labels and values render the same in every viewer without
//! embedding a font program; the price is text that cannot be selected or searched, which
//! labels, values and a margin note do not need.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;

use crate::appearance::{self, Appearance, FieldLook};
use crate::document::Document;
use crate::error::{PdfError, Result};
use crate::object::{decode_text, text_string, Dict, ObjRef, Object};
use crate::sign::{
    append_annots, append_update, copy_input, open_for_update, put_form_xobject, quarter_turns,
    read_form, rotation, widget_rotation, FormState, Update,
};
use crate::source::Source;

/// What kind of field a [`FormField`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    Signature,
    Text,
    Checkbox,
}

/// One field to prepare: a merged field and widget annotation on a page.
#[derive(Clone, Debug, PartialEq)]
pub struct FormField {
    /// The partial field name (/T), unique in the file; no period (ISO 32000-1 §12.7.3.2).
    pub name: String,
    pub kind: FieldKind,
    /// From 1.
    pub page: usize,
    /// The rectangle in default user space (the space of [`Document::page_box`]); it must lie
    /// wholly inside the page box.
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    /// Shown in the empty appearance, and the field's tooltip (/TU).
    pub label: String,
    /// A preset value; text fields only.
    pub value: Option<String>,
}

/// What [`prepare`] adds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PrepareOptions {
    pub fields: Vec<FormField>,
    /// Printed small and grey in the bottom margin of every page (e.g. the contract's number).
    pub margin_text: Option<String>,
}

/// What [`prepare`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrepareReport {
    /// Why the input was rewritten whole first (damaged or hybrid cross-references); `None`
    /// when every input byte was kept.
    pub rewritten: Option<String>,
    pub output_len: u64,
    pub pages: usize,
}

/// A value for an existing field, written in the same update as a signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldFill {
    /// The field's fully qualified name.
    pub name: String,
    pub value: FillValue,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FillValue {
    /// For a text field (a date is text too); line breaks start new lines.
    Text(String),
    /// For a checkbox.
    Checkbox(bool),
}

/// The default appearance of text fields, should a viewer rebuild one: Helvetica (in /DR),
/// sized to fit, black.
const TEXT_DA: &str = "/Helv 0 Tf 0 g";
/// Checkboxes: the ZapfDingbats tick (/MK /CA (4)).
const CHECK_DA: &str = "/ZaDb 0 Tf 0 g";
/// Annotation flags: Print (4); a margin stamp also ReadOnly (64) and Locked (128).
const PRINT: i64 = 4;
const PRINT_READONLY_LOCKED: i64 = 4 | 64 | 128;
/// Field flags of buttons that are not checkboxes: Radio (bit 16), Pushbutton (bit 17).
const RADIO_OR_PUSHBUTTON: i64 = (1 << 15) | (1 << 16);
/// The margin text: 8 pt, grey, 18 pt from the left and 12 pt above the bottom of the page as
/// the reader sees it.
const MARGIN_PT: f64 = 8.0;
const MARGIN_LEFT: f64 = 18.0;
const MARGIN_BOTTOM: f64 = 12.0;
const MARGIN_RGB: [u8; 3] = [0x66, 0x66, 0x66];

/// Writes `src` to `out` with one incremental update that adds the fields and the margin text.
///
/// On a file that carries no signature yet, the margin text becomes page content: the page's
/// content streams are wrapped in `q` … `Q` and followed by one that draws a form XObject, with
/// the page given its own copy of its (possibly inherited or shared) resources. On a file that
/// is already signed, page content is left alone (a change to it would be a change to the
/// signed document): the margin text is a locked, read-only, printable /Stamp annotation
/// instead, and only signature fields may be added (a new text or checkbox field counts as a
/// change to a signed document for ISO 32000's modification detection and for validators).
pub fn prepare<S: Source, W: Write>(
    src: S,
    mut out: W,
    opts: &PrepareOptions,
) -> Result<PrepareReport> {
    let (doc, rewritten) = open_for_update(src)?;
    let pages = doc.page_refs()?;
    let root_ref = doc.root_ref()?;
    let mut catalog = doc.catalog()?;
    let mut form = read_form(&doc, &catalog)?;
    if let Some(p) = form.docmdp {
        return Err(PdfError::Invalid(format!(
            "the document is certified (DocMDP P={p}): its certification allows no new fields or page marks"
        )));
    }
    let signed = !crate::verify::signature_dicts(&doc)?.is_empty();
    let existing: HashSet<String> = collect_fields(&doc, &form.fields)?
        .into_iter()
        .map(|f| f.name)
        .collect();
    let mut boxes = Vec::with_capacity(pages.len());
    let mut turns = Vec::with_capacity(pages.len());
    for page in &pages {
        boxes.push(doc.page_box_of(*page)?);
        turns.push(quarter_turns(doc.inherited(*page, "Rotate")?.as_ref()));
    }
    check_fields(&opts.fields, &boxes, &existing, signed)?;

    let mut up = Update {
        next: doc.size(),
        objects: BTreeMap::new(),
    };
    let mut per_page: BTreeMap<usize, Vec<ObjRef>> = BTreeMap::new();
    let mut new_fields = Vec::new();
    for f in &opts.fields {
        let i = f.page - 1;
        let r = write_field(&mut up, f, pages[i], turns[i])?;
        per_page.entry(i).or_default().push(r);
        new_fields.push(r);
    }

    let margin = match opts.margin_text.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => Some(Margin::new(&mut up, t)?),
        _ => None,
    };
    let mut margin_streams = MarginStreams::default();
    for (i, page) in pages.iter().enumerate() {
        let mut annots = per_page.remove(&i).unwrap_or_default();
        if annots.is_empty() && margin.is_none() {
            continue;
        }
        let mut page_dict = doc.get_dict(*page)?;
        let mut changed = false;
        if let Some(m) = &margin {
            if let Some(place) = m.place(boxes[i], turns[i]) {
                if signed {
                    annots.push(m.stamp(&mut up, *page, &place));
                } else {
                    m.add_to_page(&doc, &mut up, &mut page_dict, &place, &mut margin_streams)?;
                    changed = true;
                }
            }
        }
        if !annots.is_empty() {
            changed |= append_annots(&doc, &mut up, &mut page_dict, &annots)?;
        }
        if changed {
            up.put(*page, &Object::Dict(page_dict));
        }
    }

    if !new_fields.is_empty() {
        form.add_fields(&new_fields);
        add_form_defaults(&doc, &mut form)?;
        // SignaturesExist (bit 1) says the document has signature fields, signed or not (ISO
        // 32000-1, table 219), so viewers offer signing; AppendOnly (bit 2) waits for the
        // first signature, which sets it: before one there is nothing a full save could
        // invalidate. A signed file keeps the flags it has, as validators compare them.
        let has_sig_field = opts.fields.iter().any(|f| f.kind == FieldKind::Signature);
        if has_sig_field && !signed {
            let flags = form.acroform.int("SigFlags").unwrap_or(0);
            form.acroform.set("SigFlags", flags | 1);
        }
        if form.write(&mut up, &mut catalog) {
            up.put(root_ref, &Object::Dict(catalog));
        }
    }

    let output_len = if up.objects.is_empty() {
        copy_input(doc.source(), &mut out)?;
        out.flush()?;
        doc.len()
    } else {
        append_update(&doc, out, &up)?
    };
    Ok(PrepareReport {
        rewritten,
        output_len,
        pages: pages.len(),
    })
}

/// Refuses fields that would not make a sound form, naming the field.
fn check_fields(
    fields: &[FormField],
    boxes: &[[f64; 4]],
    existing: &HashSet<String>,
    signed: bool,
) -> Result<()> {
    let mut names = HashSet::new();
    for f in fields {
        let bad = |why: String| PdfError::Invalid(format!("field '{}': {why}", f.name));
        if f.name.is_empty() {
            return Err(PdfError::Invalid("a field has an empty name".into()));
        }
        if f.name.contains('.') {
            return Err(bad(
                "a field name must not contain a period (it separates the parts of qualified names)"
                    .into(),
            ));
        }
        if !names.insert(f.name.as_str()) {
            return Err(bad("the name is given to two fields".into()));
        }
        if existing.contains(&f.name) {
            return Err(bad("the document already has a field of this name".into()));
        }
        if f.page == 0 || f.page > boxes.len() {
            return Err(bad(format!(
                "page {} does not exist (the document has {} pages)",
                f.page,
                boxes.len()
            )));
        }
        let nums = [f.x, f.y, f.width, f.height];
        if nums.iter().any(|v| !v.is_finite()) || f.width <= 0.0 || f.height <= 0.0 {
            return Err(bad(
                "the position must be finite numbers and the width and height positive".into(),
            ));
        }
        let [llx, lly, urx, ury] = boxes[f.page - 1];
        let inside = f.x >= llx - 1e-6
            && f.y >= lly - 1e-6
            && f.x + f.width <= urx + 1e-6
            && f.y + f.height <= ury + 1e-6;
        if !inside {
            return Err(bad(format!(
                "the rectangle [{} {} {} {}] is not wholly inside page {}'s visible area [{llx} {lly} {urx} {ury}]",
                f.x,
                f.y,
                f.x + f.width,
                f.y + f.height,
                f.page
            )));
        }
        if f.value.is_some() && f.kind != FieldKind::Text {
            return Err(bad("only a text field can have a preset value".into()));
        }
        if signed && f.kind != FieldKind::Signature {
            return Err(bad(
                "the document is already signed, and after a signature only signature fields may be added (a new text or checkbox field would count as a change to the signed document)"
                    .into(),
            ));
        }
    }
    Ok(())
}

/// Writes one field (a merged field and widget) with its appearances; returns its reference.
fn write_field(up: &mut Update, f: &FormField, page: ObjRef, turn: i64) -> Result<ObjRef> {
    let (w, h) = upright(f.width, f.height, turn);
    let render = |look: FieldLook<'_>| {
        appearance::render_field(w, h, look).map_err(|e| {
            PdfError::Invalid(format!(
                "field '{}': its appearance cannot be drawn: {e}",
                f.name
            ))
        })
    };
    let (border, background) = appearance::field_colours();
    let colour = |c: [f64; 3]| Object::Array(c.iter().map(|v| Object::from(*v)).collect());
    let mut mk = Dict::new();
    mk.set("BC", colour(border));
    if f.kind != FieldKind::Checkbox {
        mk.set("BG", colour(background));
    }
    if turn != 0 {
        mk.set("R", turn);
    }

    let mut d = Dict::new();
    d.set("Type", Object::name("Annot"));
    d.set("Subtype", Object::name("Widget"));
    d.set("T", text_string(&f.name));
    if !f.label.is_empty() {
        d.set("TU", text_string(&f.label));
    }
    d.set("F", PRINT);
    d.set("P", page);
    d.set(
        "Rect",
        Object::Array(
            [f.x, f.y, f.x + f.width, f.y + f.height]
                .iter()
                .map(|v| Object::from(*v))
                .collect(),
        ),
    );
    let mut ap = Dict::new();
    match f.kind {
        FieldKind::Signature => {
            d.set("FT", Object::name("Sig"));
            let empty = render(FieldLook::Empty { label: &f.label })?;
            ap.set("N", put_form_xobject(up, w, h, turn, &empty));
        }
        FieldKind::Text => {
            d.set("FT", Object::name("Tx"));
            d.set("DA", Object::String(TEXT_DA.as_bytes().to_vec()));
            let look = match &f.value {
                Some(v) => {
                    d.set("V", text_string(v));
                    render(FieldLook::Value {
                        lines: &value_lines(v),
                    })?
                }
                None => render(FieldLook::Empty { label: &f.label })?,
            };
            ap.set("N", put_form_xobject(up, w, h, turn, &look));
        }
        FieldKind::Checkbox => {
            d.set("FT", Object::name("Btn"));
            d.set("DA", Object::String(CHECK_DA.as_bytes().to_vec()));
            mk.set("CA", Object::String(b"4".to_vec()));
            d.set("V", Object::name("Off"));
            d.set("AS", Object::name("Off"));
            let mut states = Dict::new();
            for (state, checked) in [("On", true), ("Off", false)] {
                let look = render(FieldLook::Checkbox {
                    checked,
                    label: &f.label,
                })?;
                states.set(state, put_form_xobject(up, w, h, turn, &look));
            }
            ap.set("N", states);
        }
    }
    d.set("MK", mk);
    d.set("AP", ap);
    let r = up.alloc();
    up.put(r, &Object::Dict(d));
    Ok(r)
}

/// A box's width and height as the reader sees it on a page turned by `turn`.
fn upright(width: f64, height: f64, turn: i64) -> (f64, f64) {
    if turn % 180 == 0 {
        (width, height)
    } else {
        (height, width)
    }
}

fn value_lines(value: &str) -> Vec<String> {
    value.lines().map(str::to_owned).collect()
}

/// Gives the form a default appearance and the fonts it names in /DR (a copy: the form's own
/// resources object, if it has one, is left as it was).
fn add_form_defaults<S: Source>(doc: &Document<S>, form: &mut FormState) -> Result<()> {
    let mut dr = match doc.lookup(&form.acroform, "DR")? {
        Some(Object::Dict(d)) => d,
        _ => Dict::new(),
    };
    let mut fonts = match doc.lookup(&dr, "Font")? {
        Some(Object::Dict(d)) => d,
        _ => Dict::new(),
    };
    let type1 = |base: &str, encoding: Option<&str>| {
        let mut f = Dict::new();
        f.set("Type", Object::name("Font"));
        f.set("Subtype", Object::name("Type1"));
        f.set("BaseFont", Object::name(base));
        if let Some(e) = encoding {
            f.set("Encoding", Object::name(e));
        }
        f
    };
    let mut changed = false;
    if fonts.get("Helv").is_none() {
        fonts.set("Helv", type1("Helvetica", Some("WinAnsiEncoding")));
        changed = true;
    }
    if fonts.get("ZaDb").is_none() {
        fonts.set("ZaDb", type1("ZapfDingbats", None));
        changed = true;
    }
    if changed {
        dr.set("Font", fonts);
        form.acroform.set("DR", dr);
    }
    if form.acroform.get("DA").is_none() {
        form.acroform
            .set("DA", Object::String(TEXT_DA.as_bytes().to_vec()));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The margin text

/// Helvetica's advance widths (1/1000 em) of the printable ASCII characters 0x20–0x7E, from
/// Adobe's font metrics of the standard font.
const HELVETICA_WIDTHS: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

/// The width of printable ASCII `text` in Helvetica, in 1/1000 em.
fn helvetica_width(text: &str) -> f64 {
    text.bytes()
        .map(|b| f64::from(HELVETICA_WIDTHS[usize::from(b - 0x20)]))
        .sum()
}

/// The margin text drawn once, as a form XObject that every page uses.
struct Margin {
    xobject: ObjRef,
    text: String,
    width: f64,
    height: f64,
}

/// Where the margin text goes on one page: `matrix` maps the reader's view of the page (origin
/// at its lower left as shown) onto user space; the text is drawn at (`x`, `y`) of that view,
/// scaled by `scale` to fit narrow pages.
struct Placed {
    matrix: [f64; 6],
    turn: i64,
    x: f64,
    y: f64,
    scale: f64,
}

/// Streams shared between pages: the opening `q`, and each distinct closing stream.
#[derive(Default)]
struct MarginStreams {
    open: Option<ObjRef>,
    closing: HashMap<Vec<u8>, ObjRef>,
}

impl Margin {
    fn new(up: &mut Update, text: &str) -> Result<Self> {
        if let Some(margin) = Self::as_text(up, text) {
            return Ok(margin);
        }
        let (rendered, width, height) =
            appearance::render_line(text, MARGIN_PT, 4000.0, MARGIN_RGB)
                .map_err(|e| PdfError::Invalid(format!("the margin text cannot be drawn: {e}")))?;
        let xobject = put_form_xobject(up, width, height, 0, &rendered);
        Ok(Self {
            xobject,
            text: text.to_owned(),
            width,
            height,
        })
    }

    /// A printable ASCII text (a contract's ID) as real text in Helvetica, one of the standard
    /// fonts every reader has (ISO 32000-1 §9.6.2.2), so that it is searchable and extractable;
    /// `None` for any other text, which is drawn as an image with the bundled Japanese font.
    fn as_text(up: &mut Update, text: &str) -> Option<Self> {
        if !text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return None;
        }
        let width = helvetica_width(text) * MARGIN_PT / 1000.0;
        // Helvetica's descender is 207/1000 em and its ascender 718/1000.
        let height = MARGIN_PT * 1.2;
        let escaped: String = text
            .chars()
            .flat_map(|c| match c {
                '(' | ')' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        let [r, g, b] = MARGIN_RGB.map(|v| f64::from(v) / 255.0);
        let content = format!(
            "{r:.3} {g:.3} {b:.3} rg BT /Helv {MARGIN_PT} Tf 0 {:.2} Td ({escaped}) Tj ET",
            MARGIN_PT * 0.25
        );
        let mut font = Dict::new();
        font.set("Type", Object::name("Font"));
        font.set("Subtype", Object::name("Type1"));
        font.set("BaseFont", Object::name("Helvetica"));
        font.set("Encoding", Object::name("WinAnsiEncoding"));
        let mut fonts = Dict::new();
        fonts.set("Helv", font);
        let mut resources = Dict::new();
        resources.set("Font", fonts);
        let xobject = up.alloc();
        let mut dict = Dict::new();
        dict.set("Type", Object::name("XObject"));
        dict.set("Subtype", Object::name("Form"));
        dict.set(
            "BBox",
            Object::Array(vec![
                0i64.into(),
                0i64.into(),
                Object::from(width),
                Object::from(height),
            ]),
        );
        dict.set("Resources", resources);
        up.put_stream(xobject, &dict, content.as_bytes());
        Some(Self {
            xobject,
            text: text.to_owned(),
            width,
            height,
        })
    }

    /// The placement on a page with visible area `bx` turned by `turn`; `None` when the page
    /// is too small to carry the text legibly.
    fn place(&self, bx: [f64; 4], turn: i64) -> Option<Placed> {
        let [llx, lly, urx, ury] = bx;
        let (vw, vh) = upright(urx - llx, ury - lly, turn);
        let [a, b, c, d] = rotation(turn).map(|v| v as f64);
        // The user-space corner the reader sees at the lower left.
        let (e, f) = match turn {
            90 => (urx, lly),
            180 => (urx, ury),
            270 => (llx, ury),
            _ => (llx, lly),
        };
        let scale = ((vw - 2.0 * MARGIN_LEFT) / self.width).min(1.0);
        if scale * MARGIN_PT < 3.0 || vh < MARGIN_BOTTOM + self.height {
            return None;
        }
        Some(Placed {
            matrix: [a, b, c, d, e, f],
            turn,
            x: MARGIN_LEFT,
            y: MARGIN_BOTTOM,
            scale,
        })
    }

    /// Draws the text as page content: `q` before the page's content streams, and after them
    /// `Q` and a stream that draws the XObject, which the page's own copy of its resources
    /// names.
    fn add_to_page<S: Source>(
        &self,
        doc: &Document<S>,
        up: &mut Update,
        page_dict: &mut Dict,
        place: &Placed,
        streams: &mut MarginStreams,
    ) -> Result<()> {
        let mut resources = match page_resources(doc, page_dict)? {
            Some(d) => d,
            None => Dict::new(),
        };
        let mut xobjects = match doc.lookup(&resources, "XObject")? {
            Some(Object::Dict(d)) => d,
            _ => Dict::new(),
        };
        let mut name = "InkanMargin".to_owned();
        let mut n = 1;
        while xobjects.get(&name).is_some() {
            name = format!("InkanMargin{n}");
            n += 1;
        }
        xobjects.set(&name, self.xobject);
        resources.set("XObject", xobjects);
        page_dict.set("Resources", resources);

        let mut contents = match page_dict.get("Contents") {
            Some(Object::Array(a)) => a.clone(),
            Some(Object::Ref(r)) => match doc.get(*r)? {
                Object::Array(a) => a,
                _ => vec![Object::Ref(*r)],
            },
            _ => Vec::new(),
        };
        let open = *streams.open.get_or_insert_with(|| {
            let r = up.alloc();
            up.put_stream(r, &Dict::new(), b"q\n");
            r
        });
        let [a, b, c, d, e, f] = place.matrix.map(num);
        let s = num(place.scale);
        let closing = format!(
            "\nQ\nq\n{a} {b} {c} {d} {e} {f} cm\n{s} 0 0 {s} {} {} cm\n/{name} Do\nQ\n",
            num(place.x),
            num(place.y)
        )
        .into_bytes();
        let close = match streams.closing.get(&closing) {
            Some(r) => *r,
            None => {
                let r = up.alloc();
                up.put_stream(r, &Dict::new(), &closing);
                streams.closing.insert(closing, r);
                r
            }
        };
        contents.insert(0, Object::Ref(open));
        contents.push(Object::Ref(close));
        page_dict.set("Contents", contents);
        Ok(())
    }

    /// The text as a locked, read-only, printable stamp annotation (for a signed document);
    /// returns the annotation, for the page's /Annots.
    fn stamp(&self, up: &mut Update, page: ObjRef, place: &Placed) -> ObjRef {
        let (w, h) = (self.width * place.scale, self.height * place.scale);
        let [a, b, c, d, e, f] = place.matrix;
        let corners = [(0.0, 0.0), (w, 0.0), (0.0, h), (w, h)].map(|(u, v)| {
            let (u, v) = (u + place.x, v + place.y);
            (a * u + c * v + e, b * u + d * v + f)
        });
        let xs = corners.map(|p| p.0);
        let ys = corners.map(|p| p.1);
        let min = |v: [f64; 4]| v.iter().copied().fold(f64::INFINITY, f64::min);
        let max = |v: [f64; 4]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let rect = [min(xs), min(ys), max(xs), max(ys)];

        let ap_ref = up.alloc();
        let mut ap = Dict::new();
        ap.set("Type", Object::name("XObject"));
        ap.set("Subtype", Object::name("Form"));
        ap.set(
            "BBox",
            vec![0i64.into(), 0i64.into(), Object::from(w), Object::from(h)],
        );
        if place.turn != 0 {
            let [a, b, c, d] = rotation(place.turn);
            ap.set(
                "Matrix",
                vec![
                    a.into(),
                    b.into(),
                    c.into(),
                    d.into(),
                    0i64.into(),
                    0i64.into(),
                ],
            );
        }
        let mut xobjects = Dict::new();
        xobjects.set("M", self.xobject);
        let mut res = Dict::new();
        res.set("XObject", xobjects);
        ap.set("Resources", res);
        let s = num(place.scale);
        up.put_stream(
            ap_ref,
            &ap,
            format!("q\n{s} 0 0 {s} 0 0 cm\n/M Do\nQ\n").as_bytes(),
        );

        let mut n = Dict::new();
        n.set("N", ap_ref);
        let mut annot = Dict::new();
        annot.set("Type", Object::name("Annot"));
        annot.set("Subtype", Object::name("Stamp"));
        annot.set(
            "Rect",
            Object::Array(rect.iter().map(|v| Object::from(*v)).collect()),
        );
        annot.set("Contents", text_string(&self.text));
        annot.set("NM", text_string(&format!("inkan-margin-{}", page.num)));
        annot.set("F", PRINT_READONLY_LOCKED);
        annot.set("P", page);
        annot.set("AP", n);
        let r = up.alloc();
        up.put(r, &Object::Dict(annot));
        r
    }
}

/// The page's resources (its own or inherited), resolved, as a copy to change.
fn page_resources<S: Source>(doc: &Document<S>, page_dict: &Dict) -> Result<Option<Dict>> {
    if let Some(o) = page_dict.get("Resources") {
        return Ok(match doc.resolve(o)? {
            Object::Dict(d) => Some(d),
            _ => None,
        });
    }
    match page_dict.get("Parent").and_then(Object::as_ref) {
        Some(parent) => Ok(match doc.inherited(parent, "Resources")? {
            Some(Object::Dict(d)) => Some(d),
            _ => None,
        }),
        None => Ok(None),
    }
}

/// A number for a content stream.
fn num(v: f64) -> String {
    let mut out = Vec::new();
    crate::object::write_real(&mut out, v);
    String::from_utf8(out).unwrap_or_else(|_| "0".into())
}

// ---------------------------------------------------------------------------------------------
// Fields and filling

/// A field of the form, found by walking /Fields and /Kids.
pub(crate) struct FieldNode {
    /// The fully qualified name.
    pub(crate) name: String,
    pub(crate) id: ObjRef,
    pub(crate) dict: Dict,
    /// /FT, inherited from the parents where the field does not set it.
    pub(crate) ft: Option<Vec<u8>>,
    /// The field's widgets are kids of its own rather than the field itself.
    pub(crate) has_widget_kids: bool,
}

/// Every named field under `top` (the form's /Fields), depth first.
pub(crate) fn collect_fields<S: Source>(
    doc: &Document<S>,
    top: &[ObjRef],
) -> Result<Vec<FieldNode>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut stack: Vec<(ObjRef, String, Option<Vec<u8>>, usize)> = top
        .iter()
        .rev()
        .map(|r| (*r, String::new(), None, 0))
        .collect();
    while let Some((id, prefix, inherited_ft, depth)) = stack.pop() {
        if depth > 32 || !seen.insert(id) || seen.len() > 100_000 {
            continue;
        }
        let dict = doc.get_dict(id)?;
        let Some(part) = dict.get("T").and_then(Object::as_string).map(decode_text) else {
            continue;
        };
        let name = if prefix.is_empty() {
            part
        } else {
            format!("{prefix}.{part}")
        };
        let ft = dict.name("FT").map(<[u8]>::to_vec).or(inherited_ft);
        let kids: Vec<ObjRef> = match doc.lookup(&dict, "Kids")? {
            Some(Object::Array(k)) => k.iter().filter_map(Object::as_ref).collect(),
            _ => Vec::new(),
        };
        let mut has_widget_kids = false;
        for k in kids.iter().rev() {
            let kd = doc.get_dict(*k)?;
            if kd.get("T").is_some() {
                stack.push((*k, name.clone(), ft.clone(), depth + 1));
            } else {
                has_widget_kids = true;
            }
        }
        out.push(FieldNode {
            name,
            id,
            dict,
            ft,
            has_widget_kids,
        });
    }
    Ok(out)
}

/// Fills the named fields: sets /V (and /AS of a checkbox) and gives a text field a new
/// appearance showing its value; the changed field dictionaries and new appearance streams go
/// into `up`. Refuses a field that does not exist, a signature field, and a value of the wrong
/// kind. Only the field objects change and every appearance stream is new, which is what
/// validators accept as form filling after a signature.
pub(crate) fn apply_fills<S: Source>(
    doc: &Document<S>,
    up: &mut Update,
    top: &[ObjRef],
    fills: &[FieldFill],
) -> Result<()> {
    if fills.is_empty() {
        return Ok(());
    }
    let fields = collect_fields(doc, top)?;
    let mut done = HashSet::new();
    for fill in fills {
        let name = &fill.name;
        let bad = |why: &str| PdfError::Invalid(format!("cannot fill the field '{name}': {why}"));
        if !done.insert(name.as_str()) {
            return Err(bad("it is filled twice"));
        }
        let node = fields
            .iter()
            .find(|f| &f.name == name)
            .ok_or_else(|| bad("the document has no field of this name"))?;
        if node.ft.as_deref() == Some(b"Sig") {
            return Err(bad("it is a signature field, which is signed, not filled"));
        }
        if node.has_widget_kids {
            return Err(bad("it has several widgets, which Inkan does not fill"));
        }
        let mut dict = node.dict.clone();
        match (node.ft.as_deref(), &fill.value) {
            (Some(b"Tx"), FillValue::Text(value)) => {
                if let Some(max) = dict.int("MaxLen") {
                    if value.chars().count() as i64 > max {
                        return Err(bad(&format!(
                            "the value is longer than the field's {max} characters"
                        )));
                    }
                }
                let turn = widget_rotation(&dict);
                let rect = dict
                    .get("Rect")
                    .and_then(Object::as_array)
                    .and_then(crate::sign::rect_of)
                    .ok_or_else(|| bad("it has no rectangle"))?;
                let (w, h) = upright(rect[2] - rect[0], rect[3] - rect[1], turn);
                let lines = value_lines(value);
                let look: Appearance =
                    appearance::render_field(w, h, FieldLook::Value { lines: &lines })
                        .map_err(|_| bad("the value does not fit in the field"))?;
                let ap_ref = put_form_xobject(up, w, h, turn, &look);
                let mut ap = Dict::new();
                ap.set("N", ap_ref);
                dict.set("V", text_string(value));
                dict.set("AP", ap);
            }
            (Some(b"Btn"), FillValue::Checkbox(checked)) => {
                if dict.int("Ff").unwrap_or(0) & RADIO_OR_PUSHBUTTON != 0 {
                    return Err(bad("it is a radio button or push button, not a checkbox"));
                }
                let on = on_state(doc, &dict)?
                    .ok_or_else(|| bad("the checkbox has no 'on' appearance"))?;
                let state = if *checked { on } else { b"Off".to_vec() };
                dict.set("V", Object::Name(state.clone()));
                dict.set("AS", Object::Name(state));
            }
            (Some(ft), _) => {
                let kind = match ft {
                    b"Tx" => "a text field",
                    b"Btn" => "a checkbox",
                    b"Ch" => "a choice field",
                    _ => "a field of another type",
                };
                let given = match fill.value {
                    FillValue::Text(_) => "text",
                    FillValue::Checkbox(_) => "a checkbox state",
                };
                return Err(bad(&format!("it is {kind}, which cannot take {given}")));
            }
            (None, _) => return Err(bad("it has no field type")),
        }
        up.put(node.id, &Object::Dict(dict));
    }
    Ok(())
}

/// The name of a checkbox's "on" appearance state (any state but /Off).
fn on_state<S: Source>(doc: &Document<S>, widget: &Dict) -> Result<Option<Vec<u8>>> {
    let Some(Object::Dict(ap)) = doc.lookup(widget, "AP")? else {
        return Ok(None);
    };
    let Some(Object::Dict(normal)) = doc.lookup(&ap, "N")? else {
        return Ok(None);
    };
    let on = normal.keys().find(|k| *k != b"Off").map(<[u8]>::to_vec);
    Ok(on)
}
