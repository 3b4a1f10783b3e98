//! Page layout: flows paragraphs and tables down A4 pages into a list of drawing operations per
//! page. Tables repeat their header row on every page they continue on; a row taller than a
//! whole page is split between pages line by line, so nothing is ever clipped.

use crate::text::Metrics;

/// A4 portrait, in points.
pub(crate) const PAGE_WIDTH: f32 = 595.276;
pub(crate) const PAGE_HEIGHT: f32 = 841.89;
/// 15 mm.
pub(crate) const MARGIN: f32 = 42.52;
pub(crate) const CONTENT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;
/// Room kept at the bottom of the text area for the footer.
const FOOTER_HEIGHT: f32 = 18.0;
const TOP: f32 = MARGIN;
const BOTTOM: f32 = PAGE_HEIGHT - MARGIN - FOOTER_HEIGHT;
/// Line height as a multiple of the font size.
const LEADING: f32 = 1.3;
const PAD_X: f32 = 3.0;
const PAD_Y: f32 = 2.5;
const BORDER: f32 = 0.4;
/// A row that can never fit on one page is split only where at least this much room is left.
const MIN_SPLIT: f32 = 40.0;
const EPSILON: f32 = 1e-3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Color(pub(crate) u8, pub(crate) u8, pub(crate) u8);

impl Color {
    pub(crate) const TEXT: Color = Color(0x1a, 0x1a, 0x1a);
    pub(crate) const MUTED: Color = Color(0x55, 0x55, 0x55);
    pub(crate) const ACCENT: Color = Color(0x1f, 0x3a, 0x5f);
    pub(crate) const BORDER: Color = Color(0xa0, 0xa0, 0xa0);
    pub(crate) const SHADE: Color = Color(0xe9, 0xed, 0xf2);
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Style {
    pub(crate) size: f32,
    pub(crate) color: Color,
}

impl Style {
    pub(crate) const fn new(size: f32, color: Color) -> Self {
        Style { size, color }
    }

    fn line_height(self) -> f32 {
        self.size * LEADING
    }
}

/// One drawing operation, in points from the page's top left corner.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    /// One line of text; `baseline` is the y of its baseline.
    Text {
        x: f32,
        baseline: f32,
        style: Style,
        text: String,
    },
    Rect {
        x: f32,
        y: f32,
        width: f32,
        height: f32,
        fill: Option<Color>,
        stroke: Option<Color>,
    },
    /// A horizontal rule.
    Rule {
        x: f32,
        y: f32,
        width: f32,
        color: Color,
        thickness: f32,
    },
}

pub(crate) type Page = Vec<Op>;

/// A paragraph of a table cell.
#[derive(Debug, Clone)]
pub(crate) struct Para {
    pub(crate) text: String,
    pub(crate) style: Style,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Cell {
    pub(crate) paras: Vec<Para>,
    pub(crate) shade: Option<Color>,
}

impl Cell {
    pub(crate) fn new() -> Self {
        Cell::default()
    }

    pub(crate) fn text(mut self, text: impl Into<String>, style: Style) -> Self {
        self.paras.push(Para {
            text: text.into(),
            style,
        });
        self
    }

    pub(crate) fn shaded(mut self, color: Color) -> Self {
        self.shade = Some(color);
        self
    }
}

#[derive(Debug)]
pub(crate) struct Table {
    /// Column widths in points; they add up to [`CONTENT_WIDTH`].
    pub(crate) widths: Vec<f32>,
    pub(crate) header: Option<Vec<Cell>>,
    pub(crate) rows: Vec<Vec<Cell>>,
}

#[derive(Debug, Clone)]
struct Line {
    text: String,
    style: Style,
}

/// A cell broken into lines for its column's width.
#[derive(Debug, Clone)]
struct LaidCell {
    lines: Vec<Line>,
    shade: Option<Color>,
}

fn lines_height(lines: &[Line]) -> f32 {
    lines.iter().map(|l| l.style.line_height()).sum()
}

/// The header row of the table being drawn, repeated on each page it continues on.
#[derive(Debug)]
struct Running {
    widths: Vec<f32>,
    header: Option<Vec<LaidCell>>,
}

#[derive(Debug)]
pub(crate) struct Layout<'m> {
    metrics: &'m Metrics,
    pages: Vec<Page>,
    /// Where the next block starts on the last page.
    y: f32,
    /// Where content started on the last page (below a repeated header row).
    page_start: f32,
    running: Option<Running>,
}

impl<'m> Layout<'m> {
    pub(crate) fn new(metrics: &'m Metrics) -> Self {
        Layout {
            metrics,
            pages: vec![Vec::new()],
            y: TOP,
            page_start: TOP,
            running: None,
        }
    }

    fn page(&mut self) -> &mut Page {
        // `pages` always holds the page being filled.
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = TOP;
        if let Some(running) = self.running.take() {
            if let Some(header) = &running.header {
                let parts: Vec<&[Line]> = header.iter().map(|c| &c.lines[..]).collect();
                let height = row_height(&parts);
                self.draw_row(&running.widths, header, &parts, height);
                self.y += height;
            }
            self.running = Some(running);
        }
        self.page_start = self.y;
    }

    fn room(&self) -> f32 {
        BOTTOM - self.y
    }

    /// The room a new page offers below the running table's header.
    fn fresh_room(&self) -> f32 {
        let header = self
            .running
            .as_ref()
            .and_then(|r| r.header.as_deref())
            .map_or(0.0, cells_height);
        BOTTOM - TOP - header
    }

    pub(crate) fn gap(&mut self, height: f32) {
        self.y = (self.y + height).min(BOTTOM);
    }

    /// A paragraph across the text width, breaking to a new page between lines.
    pub(crate) fn paragraph(&mut self, text: &str, style: Style) {
        for line in self.metrics.wrap(text, style.size, CONTENT_WIDTH) {
            if style.line_height() > self.room() + EPSILON {
                self.new_page();
            }
            let baseline = self.baseline(self.y, style);
            self.page().push(Op::Text {
                x: MARGIN,
                baseline,
                style,
                text: line,
            });
            self.y += style.line_height();
        }
    }

    /// A section heading with a rule under it, kept on the same page as `keep` points of what
    /// follows.
    pub(crate) fn heading(&mut self, text: &str, style: Style, keep: f32) {
        let lines = self.metrics.wrap(text, style.size, CONTENT_WIDTH);
        let height = lines.len() as f32 * style.line_height() + 3.0;
        if height + keep > self.room() + EPSILON && self.y > self.page_start + EPSILON {
            self.new_page();
        }
        self.paragraph(text, style);
        let y = self.y + 1.0;
        self.page().push(Op::Rule {
            x: MARGIN,
            y,
            width: CONTENT_WIDTH,
            color: Color::ACCENT,
            thickness: 0.8,
        });
        self.y += 3.0;
    }

    /// Lays a table out; `heading`, if any, is kept on the page with its header and first row.
    pub(crate) fn table(&mut self, heading: Option<(&str, Style)>, table: Table) {
        let header = table.header.map(|cells| self.lay_row(&table.widths, cells));
        let rows: Vec<Vec<LaidCell>> = table
            .rows
            .into_iter()
            .map(|cells| self.lay_row(&table.widths, cells))
            .collect();
        let header_height = header.as_ref().map_or(0.0, |h| cells_height(h));
        let first_row = rows.first().map_or(0.0, |r| cells_height(r));
        // Keep the heading, the header and the first row together, unless the row alone is
        // taller than a page (it is split anyway).
        let keep = header_height + first_row.min((BOTTOM - TOP) / 2.0);
        if let Some((text, style)) = heading {
            self.heading(text, style, keep);
        } else if keep > self.room() + EPSILON && self.y > self.page_start + EPSILON {
            self.new_page();
        }
        if let Some(header) = &header {
            let parts: Vec<&[Line]> = header.iter().map(|c| &c.lines[..]).collect();
            self.draw_row(&table.widths, header, &parts, header_height);
            self.y += header_height;
        }
        self.running = Some(Running {
            widths: table.widths.clone(),
            header,
        });
        for row in &rows {
            self.row(&table.widths, row);
        }
        self.running = None;
    }

    fn lay_row(&self, widths: &[f32], cells: Vec<Cell>) -> Vec<LaidCell> {
        debug_assert_eq!(widths.len(), cells.len());
        cells
            .into_iter()
            .zip(widths)
            .map(|(cell, &width)| {
                let inner = width - 2.0 * PAD_X;
                let lines = cell
                    .paras
                    .iter()
                    .flat_map(|p| {
                        self.metrics
                            .wrap(&p.text, p.style.size, inner)
                            .into_iter()
                            .map(|text| Line {
                                text,
                                style: p.style,
                            })
                    })
                    .collect();
                LaidCell {
                    lines,
                    shade: cell.shade,
                }
            })
            .collect()
    }

    /// Draws one body row, continuing it on the next pages as long as it needs.
    fn row(&mut self, widths: &[f32], cells: &[LaidCell]) {
        let mut rest: Vec<&[Line]> = cells.iter().map(|c| &c.lines[..]).collect();
        loop {
            let needed = row_height(&rest);
            if needed <= self.room() + EPSILON {
                self.draw_row(widths, cells, &rest, needed);
                self.y += needed;
                return;
            }
            let fresh = self.y <= self.page_start + EPSILON;
            let fits_a_page = needed <= self.fresh_room() + EPSILON;
            if !fresh && (fits_a_page || self.room() < MIN_SPLIT) {
                self.new_page();
                continue;
            }
            // Taller than a page: fill this one, go on with the remaining lines.
            let limit = self.room() - 2.0 * PAD_Y;
            let mut now: Vec<&[Line]> = Vec::with_capacity(rest.len());
            let mut later: Vec<&[Line]> = Vec::with_capacity(rest.len());
            for lines in &rest {
                let mut used = 0.0;
                let mut take = 0;
                for line in lines.iter() {
                    if used + line.style.line_height() > limit + EPSILON {
                        break;
                    }
                    used += line.style.line_height();
                    take += 1;
                }
                now.push(&lines[..take]);
                later.push(&lines[take..]);
            }
            if now.iter().all(|l| l.is_empty()) {
                // Not even one line fits an empty page: cannot happen at these font sizes,
                // but never loop forever.
                for (n, l) in now.iter_mut().zip(later.iter_mut()) {
                    let take = l.len().min(1);
                    *n = &l[..take];
                    *l = &l[take..];
                }
            }
            let height = row_height(&now);
            self.draw_row(widths, cells, &now, height);
            self.y += height;
            rest = later;
            self.new_page();
        }
    }

    fn draw_row(&mut self, widths: &[f32], cells: &[LaidCell], parts: &[&[Line]], height: f32) {
        let mut x = MARGIN;
        let top = self.y;
        let mut ops = Vec::new();
        for ((cell, lines), &width) in cells.iter().zip(parts).zip(widths) {
            ops.push(Op::Rect {
                x,
                y: top,
                width,
                height,
                fill: cell.shade,
                stroke: Some(Color::BORDER),
            });
            let mut y = top + PAD_Y;
            for line in lines.iter() {
                if !line.text.is_empty() {
                    ops.push(Op::Text {
                        x: x + PAD_X,
                        baseline: self.baseline(y, line.style),
                        style: line.style,
                        text: line.text.clone(),
                    });
                }
                y += line.style.line_height();
            }
            x += width;
        }
        self.page().extend(ops);
    }

    /// The baseline of a line box whose top is at `top`: the font's ascent and descent
    /// centred in the line height.
    fn baseline(&self, top: f32, style: Style) -> f32 {
        let m = self.metrics;
        let half_leading = (LEADING - (m.ascent + m.descent)) / 2.0;
        top + (half_leading + m.ascent) * style.size
    }

    /// The pages, each with its footer: `footer(n, count)` gives the left and right texts.
    pub(crate) fn finish(self, footer: impl Fn(usize, usize) -> (String, String)) -> Vec<Page> {
        let count = self.pages.len();
        let style = Style::new(7.0, Color::MUTED);
        let rule_y = PAGE_HEIGHT - MARGIN - FOOTER_HEIGHT + 6.0;
        let baseline = PAGE_HEIGHT - MARGIN - 2.0;
        let metrics = self.metrics;
        self.pages
            .into_iter()
            .enumerate()
            .map(|(i, mut page)| {
                let (left, right) = footer(i + 1, count);
                let right_width = metrics.width(&right, style.size);
                // The left text gives way to the page number rather than run under it.
                let left_room = CONTENT_WIDTH - right_width - 12.0;
                let left = metrics
                    .wrap(&left, style.size, left_room)
                    .into_iter()
                    .next()
                    .unwrap_or_default();
                page.push(Op::Rule {
                    x: MARGIN,
                    y: rule_y,
                    width: CONTENT_WIDTH,
                    color: Color::BORDER,
                    thickness: BORDER,
                });
                page.push(Op::Text {
                    x: MARGIN,
                    baseline,
                    style,
                    text: left,
                });
                page.push(Op::Text {
                    x: PAGE_WIDTH - MARGIN - right_width,
                    baseline,
                    style,
                    text: right,
                });
                page
            })
            .collect()
    }
}

fn row_height(parts: &[&[Line]]) -> f32 {
    parts
        .iter()
        .map(|lines| lines_height(lines))
        .fold(0.0, f32::max)
        + 2.0 * PAD_Y
}

fn cells_height(cells: &[LaidCell]) -> f32 {
    let parts: Vec<&[Line]> = cells.iter().map(|c| &c.lines[..]).collect();
    row_height(&parts)
}

/// Every operation stays inside the page's text area (footer included): what the tests and
/// the debug builds check after each layout.
pub(crate) fn within_margins(page: &Page, metrics: &Metrics) -> bool {
    let inside_x = |x: f32| (MARGIN - EPSILON..=PAGE_WIDTH - MARGIN + EPSILON).contains(&x);
    let inside_y = |y: f32| (MARGIN - EPSILON..=PAGE_HEIGHT - MARGIN + EPSILON).contains(&y);
    page.iter().all(|op| match op {
        Op::Text {
            x,
            baseline,
            style,
            text,
        } => {
            inside_x(*x)
                && inside_x(x + metrics.width(text, style.size))
                && inside_y(baseline - metrics.ascent * style.size)
                && inside_y(baseline + metrics.descent * style.size)
        }
        Op::Rect {
            x,
            y,
            width,
            height,
            ..
        } => inside_x(*x) && inside_x(x + width) && inside_y(*y) && inside_y(y + height),
        Op::Rule { x, y, width, .. } => inside_x(*x) && inside_x(x + width) && inside_y(*y),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn style() -> Style {
        Style::new(8.0, Color::TEXT)
    }

    #[test]
    fn a_row_taller_than_a_page_is_split_and_keeps_every_line() {
        let metrics = Metrics::load().expect("font");
        let mut layout = Layout::new(&metrics);
        let long = (0..400)
            .map(|i| format!("line {i}"))
            .collect::<Vec<_>>()
            .join("\n");
        layout.table(
            None,
            Table {
                widths: vec![100.0, CONTENT_WIDTH - 100.0],
                header: Some(vec![
                    Cell::new().text("head A", style()),
                    Cell::new().text("head B", style()),
                ]),
                rows: vec![vec![
                    Cell::new().text("short", style()),
                    Cell::new().text(long, style()),
                ]],
            },
        );
        let pages = layout.finish(|n, m| (String::new(), format!("{n}/{m}")));
        assert!(pages.len() >= 4, "{} pages", pages.len());
        let texts: Vec<&str> = pages
            .iter()
            .flatten()
            .filter_map(|op| match op {
                Op::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        for i in 0..400 {
            let line = format!("line {i}");
            assert_eq!(texts.iter().filter(|t| **t == line).count(), 1, "{line}");
        }
        // The header is repeated on every page.
        assert_eq!(
            texts.iter().filter(|t| **t == "head A").count(),
            pages.len()
        );
        assert!(pages.iter().all(|p| within_margins(p, &metrics)));
    }
}
