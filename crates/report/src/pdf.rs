//! Writes laid-out pages as a PDF with krilla: text as glyph runs of the embedded, subset
//! IPAGothic (with a ToUnicode map, so it can be selected, searched and extracted), rules and
//! boxes as paths.

use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::{DateTime, Metadata};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::{Font, GlyphId, KrillaGlyph};
use krilla::{Document, SerializeSettings};

use crate::layout::{Color, Op, Page, PAGE_HEIGHT, PAGE_WIDTH};
use crate::text::{Metrics, FONT_DATA};
use crate::ReportError;

/// What goes into the document information dictionary and the XMP metadata.
#[derive(Debug)]
pub(crate) struct Info {
    pub(crate) title: String,
    pub(crate) subject: String,
    pub(crate) language: &'static str,
    pub(crate) created: chrono::DateTime<chrono::FixedOffset>,
    /// Makes the first half of the file identifier (`/ID`): the same for every certificate of
    /// one contract.
    pub(crate) document_id: String,
}

pub(crate) fn write(pages: &[Page], metrics: &Metrics, info: Info) -> Result<Vec<u8>, ReportError> {
    let settings = SerializeSettings {
        // No structure tree is built, so there is nothing to tag.
        enable_tagging: false,
        ..SerializeSettings::default()
    };
    let mut document = Document::new_with(settings);
    let font = Font::new(FONT_DATA.into(), 0).ok_or(ReportError::Font)?;
    let size = PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT)
        .ok_or_else(|| ReportError::Pdf("the page size is invalid".to_owned()))?;
    for ops in pages {
        let mut page = document.start_page_with(size.clone());
        let mut surface = page.surface();
        for op in ops {
            match op {
                Op::Text {
                    x,
                    baseline,
                    style,
                    text,
                } => {
                    let glyphs: Vec<KrillaGlyph> = metrics
                        .place(text)
                        .into_iter()
                        .map(|p| KrillaGlyph {
                            glyph_id: GlyphId::new(u32::from(p.glyph)),
                            text_range: p.text,
                            x_advance: p.advance,
                            x_offset: 0.0,
                            y_offset: 0.0,
                            y_advance: 0.0,
                            location: None,
                        })
                        .collect();
                    surface.set_stroke(None);
                    surface.set_fill(Some(fill(style.color)));
                    surface.draw_glyphs(
                        Point::from_xy(*x, *baseline),
                        &glyphs,
                        font.clone(),
                        text,
                        style.size,
                        false,
                    );
                }
                Op::Rect {
                    x,
                    y,
                    width,
                    height,
                    fill: paint,
                    stroke: line,
                } => {
                    let Some(rect) = Rect::from_xywh(*x, *y, *width, *height) else {
                        continue;
                    };
                    let mut path = PathBuilder::new();
                    path.push_rect(rect);
                    let Some(path) = path.finish() else { continue };
                    surface.set_fill(paint.map(fill));
                    surface.set_stroke(line.map(|c| stroke(c, 0.4)));
                    surface.draw_path(&path);
                }
                Op::Rule {
                    x,
                    y,
                    width,
                    color,
                    thickness,
                } => {
                    let mut path = PathBuilder::new();
                    path.move_to(*x, *y);
                    path.line_to(x + width, *y);
                    let Some(path) = path.finish() else { continue };
                    surface.set_fill(None);
                    surface.set_stroke(Some(stroke(*color, *thickness)));
                    surface.draw_path(&path);
                }
            }
        }
        surface.finish();
        page.finish();
    }
    document.set_metadata(
        Metadata::new()
            .title(info.title)
            .description(info.subject)
            .producer("Inkan".to_owned())
            .creator("Inkan".to_owned())
            .language(info.language.to_owned())
            .creation_date(date(info.created))
            .document_id(info.document_id),
    );
    document
        .finish()
        .map_err(|e| ReportError::Pdf(e.to_string()))
}

fn rgb(c: Color) -> rgb::Color {
    rgb::Color::new(c.0, c.1, c.2)
}

fn fill(c: Color) -> Fill {
    Fill {
        paint: rgb(c).into(),
        opacity: NormalizedF32::ONE,
        rule: Default::default(),
    }
}

fn stroke(c: Color, width: f32) -> Stroke {
    Stroke {
        paint: rgb(c).into(),
        width,
        ..Stroke::default()
    }
}

fn date(t: chrono::DateTime<chrono::FixedOffset>) -> DateTime {
    use chrono::{Datelike, Timelike};
    let offset = t.offset().local_minus_utc() / 60;
    // krilla carries the hour's sign over to the minutes.
    let (hours, minutes) = (offset / 60, (offset % 60).unsigned_abs());
    DateTime::new(u16::try_from(t.year()).unwrap_or(0))
        .month(t.month() as u8)
        .day(t.day() as u8)
        .hour(t.hour() as u8)
        .minute(t.minute() as u8)
        .second(t.second().min(59) as u8)
        .utc_offset_hour(hours as i8)
        .utc_offset_minute(minutes as u8)
}
