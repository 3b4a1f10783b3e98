//! The bundled IPAGothic's metrics, and line breaking: which glyph each character is drawn
//! with, how wide it is, and where a text of a given width breaks into lines.

use ab_glyph::{Font, FontRef, GlyphId};

use crate::ReportError;

/// IPAGothic, the font pdf-sign draws signature appearances with (IPA Font License, see
/// `crates/pdf-sign/assets/fonts/LICENSE-IPA.txt`). Only the glyphs a report uses are embedded.
pub(crate) static FONT_DATA: &[u8] = include_bytes!("../../pdf-sign/assets/fonts/ipag.ttf");

/// One drawn glyph: its id in the font, the bytes of the line's text it stands for, and its
/// advance in em.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Placed {
    pub(crate) glyph: u16,
    pub(crate) text: std::ops::Range<usize>,
    pub(crate) advance: f32,
}

/// Glyph lookup and advance widths from the font's `cmap` and `hmtx`. The same numbers place
/// the glyphs in the PDF and break the lines, so what was measured is what is drawn.
#[derive(Debug)]
pub(crate) struct Metrics {
    font: FontRef<'static>,
    units_per_em: f32,
    /// Drawn for a character the font lacks (an emoji, a rare kanji): □, a glyph that keeps
    /// the character in the extracted text, where the `.notdef` glyph would lose it.
    missing: GlyphId,
    /// Distance from the top of a line box to its baseline, in em.
    pub(crate) ascent: f32,
    /// Distance from the baseline to the bottom of a line box, in em.
    pub(crate) descent: f32,
}

impl Metrics {
    pub(crate) fn load() -> Result<Self, ReportError> {
        let font = FontRef::try_from_slice(FONT_DATA).map_err(|_| ReportError::Font)?;
        let units_per_em = font.units_per_em().ok_or(ReportError::Font)?;
        let ascent = font.ascent_unscaled() / units_per_em;
        let descent = -font.descent_unscaled() / units_per_em;
        let missing = font.glyph_id('\u{25A1}');
        if missing.0 == 0 {
            return Err(ReportError::Font);
        }
        Ok(Metrics {
            font,
            units_per_em,
            missing,
            ascent,
            descent,
        })
    }

    /// The advance of `c` in em; zero for characters drawn with no glyph of their own.
    pub(crate) fn advance(&self, c: char) -> f32 {
        if is_invisible(c) {
            return 0.0;
        }
        self.font.h_advance_unscaled(self.glyph(c)) / self.units_per_em
    }

    fn glyph(&self, c: char) -> GlyphId {
        match self.font.glyph_id(c) {
            GlyphId(0) => self.missing,
            id => id,
        }
    }

    /// The width of `text` at `size` points.
    pub(crate) fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.advance(c)).sum::<f32>() * size
    }

    /// The glyphs that draw `text` in one line: one per character, from the font's `cmap`.
    /// Variation selectors and zero-width characters join the glyph before them, so they stay
    /// in the text a reader copies without drawing a missing-glyph box; a character the font
    /// lacks is drawn as □ and still extracts as itself.
    pub(crate) fn place(&self, text: &str) -> Vec<Placed> {
        let mut placed: Vec<Placed> = Vec::with_capacity(text.len());
        for (at, c) in text.char_indices() {
            let end = at + c.len_utf8();
            if is_invisible(c) {
                if let Some(last) = placed.last_mut() {
                    last.text.end = end;
                    continue;
                }
            }
            placed.push(Placed {
                glyph: self.glyph(c).0,
                text: at..end,
                advance: self.advance(c),
            });
        }
        placed
    }

    /// Breaks `text` into lines no wider than `max_width` points at `size` points. A line
    /// break in the text starts a new line. Latin text breaks after spaces, hyphens, slashes
    /// and a few other separators; Japanese between any two characters except before closing
    /// and after opening punctuation (a simple 禁則); a word wider than the line (a digest, a
    /// URL) breaks wherever the line is full. Trailing spaces hang past the edge and are
    /// dropped.
    pub(crate) fn wrap(&self, text: &str, size: f32, max_width: f32) -> Vec<String> {
        let max = max_width / size;
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            let chars: Vec<(char, f32)> = paragraph
                .chars()
                .map(clean)
                .map(|c| (c, self.advance(c)))
                .collect();
            for range in break_paragraph(&chars, max) {
                let line: String = chars[range].iter().map(|&(c, _)| c).collect();
                lines.push(line.trim_end().to_owned());
            }
        }
        lines
    }
}

/// Greedy line breaking over measured characters; returns the character ranges of the lines.
/// A line ends at its last space or Japanese break if it has one, else at its last separator
/// (so `2026-11-28 09:12:45 JST` breaks at the space, not after `09:12:`), else where it is
/// full.
fn break_paragraph(chars: &[(char, f32)], max: f32) -> Vec<std::ops::Range<usize>> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut width = 0.0;
    // The last index `b` (start < b <= i) a line may end before, for each kind of break.
    let mut last_break: [Option<usize>; 2] = [None, None];
    let mut i = 0;
    while i < chars.len() {
        let (c, advance) = chars[i];
        if i > start {
            match break_before(chars[i - 1].0, c) {
                Break::Word => last_break[0] = Some(i),
                Break::Separator => last_break[1] = Some(i),
                Break::No => {}
            }
        }
        if i > start && !c.is_whitespace() && width + advance > max {
            let end = last_break
                .iter()
                .flatten()
                .copied()
                .find(|&b| b > start)
                .unwrap_or(i);
            lines.push(start..end);
            start = end;
            width = chars[start..i].iter().map(|&(_, a)| a).sum();
            // Only the breaks after the new start count; the one before `i`, if any, is found
            // again when `c` is measured against the new line.
            last_break = [None, None];
            for k in start + 1..i {
                match break_before(chars[k - 1].0, chars[k].0) {
                    Break::Word => last_break[0] = Some(k),
                    Break::Separator => last_break[1] = Some(k),
                    Break::No => {}
                }
            }
            continue;
        }
        width += advance;
        i += 1;
    }
    lines.push(start..chars.len());
    lines
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Break {
    No,
    /// After a space, or between Japanese characters.
    Word,
    /// After a separator inside a word: a path's slash, a hyphen, an address's colon.
    Separator,
}

fn break_before(prev: char, cur: char) -> Break {
    if cur.is_whitespace() || is_invisible(cur) {
        Break::No
    } else if prev.is_whitespace() {
        Break::Word
    } else if no_line_start(cur) || no_line_end(prev) {
        Break::No
    } else if is_wide(prev) || is_wide(cur) {
        Break::Word
    } else if matches!(
        prev,
        '-' | '/' | '\\' | ',' | ';' | ':' | '&' | '?' | '|' | '_' | '='
    ) || cur == '@'
        || (prev == '.' && cur.is_alphabetic())
    {
        // Paths, URLs, user agents and IPv6 addresses; before the @ of an email address;
        // after a dot that a letter follows (a domain, not a version number).
        Break::Separator
    } else {
        Break::No
    }
}

/// Characters that should not begin a line (行頭禁則), in Japanese and Latin text alike.
fn no_line_start(c: char) -> bool {
    matches!(
        c,
        '、' | '。'
            | '，'
            | '．'
            | '・'
            | '：'
            | '；'
            | '？'
            | '！'
            | '）'
            | '」'
            | '』'
            | '】'
            | '〕'
            | '〉'
            | '》'
            | '］'
            | '｝'
            | 'ー'
            | '々'
            | '…'
            | '‥'
            | 'ぁ'
            | 'ぃ'
            | 'ぅ'
            | 'ぇ'
            | 'ぉ'
            | 'っ'
            | 'ゃ'
            | 'ゅ'
            | 'ょ'
            | 'ァ'
            | 'ィ'
            | 'ゥ'
            | 'ェ'
            | 'ォ'
            | 'ッ'
            | 'ャ'
            | 'ュ'
            | 'ョ'
            | ')'
            | ']'
            | '}'
            | ','
            | '.'
            | ':'
            | ';'
            | '!'
            | '?'
    )
}

/// Characters that should not end a line (行末禁則).
fn no_line_end(c: char) -> bool {
    matches!(
        c,
        '（' | '「' | '『' | '【' | '〔' | '〈' | '《' | '［' | '｛' | '(' | '[' | '{'
    )
}

/// East Asian wide characters: kana, kanji, Hangul, full-width forms, CJK punctuation.
fn is_wide(c: char) -> bool {
    matches!(
        c,
        '\u{1100}'..='\u{115F}'
            | '\u{2E80}'..='\u{303E}'
            | '\u{3041}'..='\u{33FF}'
            | '\u{3400}'..='\u{4DBF}'
            | '\u{4E00}'..='\u{9FFF}'
            | '\u{A000}'..='\u{A4CF}'
            | '\u{AC00}'..='\u{D7A3}'
            | '\u{F900}'..='\u{FAFF}'
            | '\u{FE30}'..='\u{FE4F}'
            | '\u{FF00}'..='\u{FF60}'
            | '\u{FFE0}'..='\u{FFE6}'
            | '\u{20000}'..='\u{3FFFD}'
    )
}

/// Characters with no glyph of their own: variation selectors (異体字セレクタ included) and
/// zero-width joiners and spaces.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}'
            | '\u{2060}'..='\u{2064}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{E0100}'..='\u{E01EF}'
    )
}

/// Tabs and other control characters are drawn as spaces.
pub(crate) fn clean(c: char) -> char {
    if c.is_control() {
        ' '
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> Metrics {
        Metrics::load().expect("the bundled font loads")
    }

    #[test]
    fn latin_is_half_and_kanji_full_width() {
        let m = metrics();
        assert_eq!(m.advance('a'), 0.5);
        assert_eq!(m.advance('0'), 0.5);
        assert_eq!(m.advance('契'), 1.0);
        assert_eq!(m.advance('\u{FE00}'), 0.0);
        assert!(m.ascent > 0.7 && m.ascent < 1.0, "{}", m.ascent);
        assert!(m.descent > 0.0 && m.descent < 0.3, "{}", m.descent);
    }

    #[test]
    fn latin_breaks_at_spaces_and_drops_them() {
        // 10 pt: 5 pt a character, 12 characters a line.
        let lines = metrics().wrap("the quick brown fox jumps", 10.0, 60.0);
        assert_eq!(lines, ["the quick", "brown fox", "jumps"]);
    }

    #[test]
    fn slashes_and_hyphens_are_break_points() {
        let lines = metrics().wrap("Mozilla/5.0 AppleWebKit/537.36", 10.0, 80.0);
        assert_eq!(lines, ["Mozilla/5.0", "AppleWebKit/", "537.36"]);
    }

    #[test]
    fn a_long_token_breaks_where_the_line_is_full() {
        let digest = "0123456789abcdef".repeat(4);
        let lines = metrics().wrap(&digest, 10.0, 160.0);
        assert_eq!(lines, [&digest[..32], &digest[32..]]);
    }

    #[test]
    fn japanese_breaks_anywhere_but_not_before_closing_punctuation() {
        // 10 pt: 10 pt a character, 5 characters a line; 。 may not start the second.
        let lines = metrics().wrap("契約書です。署名", 10.0, 50.0);
        assert_eq!(lines, ["契約書で", "す。署名"]);
    }

    #[test]
    fn newlines_start_new_lines_and_nothing_is_lost() {
        let text = "first line\nsecond ライン with words\n\nlast";
        let lines = metrics().wrap(text, 8.0, 50.0);
        assert!(lines.contains(&String::new()));
        let joined: String = lines.concat().split_whitespace().collect();
        let expected: String = text.split_whitespace().collect();
        assert_eq!(joined, expected);
    }

    #[test]
    fn every_line_fits_its_width() {
        let m = metrics();
        let text = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                    契約の締結に関する長い説明文、署名者とその認証方法について。"
            .repeat(5);
        for width in [20.0, 33.3, 57.0, 120.0] {
            for line in m.wrap(&text, 7.0, width) {
                assert!(m.width(&line, 7.0) <= width + 1e-3, "{line:?} at {width}");
            }
        }
    }

    #[test]
    fn a_space_is_preferred_to_a_separator() {
        // 10 pt, 16 characters a line.
        let lines = metrics().wrap("2026-11-28 09:12:45 JST", 10.0, 80.0);
        assert_eq!(lines, ["2026-11-28", "09:12:45 JST"]);
    }

    #[test]
    fn addresses_break_at_their_separators() {
        // 10 pt, 20 characters a line.
        let m = metrics();
        assert_eq!(
            m.wrap("2001:db8:85a3:1234:5678:8a2e:370:7334", 10.0, 100.0),
            ["2001:db8:85a3:1234:", "5678:8a2e:370:7334"]
        );
        assert_eq!(
            m.wrap("someone.with.a.long.name@example.co.jp", 10.0, 100.0),
            ["someone.with.a.long.", "name@example.co.jp"]
        );
        assert_eq!(
            m.wrap("a.very.long.localpart@x.jp", 10.0, 100.0),
            ["a.very.long.", "localpart@x.jp"]
        );
    }

    #[test]
    fn a_character_the_font_lacks_is_drawn_as_a_box_of_its_own() {
        let m = metrics();
        let placed = m.place("a😀b");
        let box_glyph = m.place("\u{25A1}")[0].glyph;
        assert_eq!(placed[1].glyph, box_glyph);
        assert_eq!(placed[1].text, 1..5);
        assert_eq!(m.advance('😀'), m.advance('\u{25A1}'));
    }

    #[test]
    fn a_character_wider_than_the_line_gets_a_line_of_its_own() {
        let lines = metrics().wrap("契約", 10.0, 5.0);
        assert_eq!(lines, ["契", "約"]);
    }

    #[test]
    fn variation_selectors_join_the_previous_glyph() {
        let placed = metrics().place("葛\u{E0100}x");
        assert_eq!(placed.len(), 2);
        assert_eq!(placed[0].text, 0..7);
        assert_eq!(placed[1].text, 7..8);
    }
}
