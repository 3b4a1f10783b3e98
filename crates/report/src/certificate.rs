//! What the certificate says and in which order: title, summary, documents, parties, history.

use crate::labels::{labels, thousands, Labels};
use crate::layout::{Cell, Color, Layout, Page, Style, Table, CONTENT_WIDTH};
use crate::text::Metrics;
use crate::Completion;

const TITLE: Style = Style::new(18.0, Color::ACCENT);
const BODY: Style = Style::new(8.5, Color::TEXT);
const NOTE: Style = Style::new(7.5, Color::MUTED);
const HEADING: Style = Style::new(11.0, Color::ACCENT);
const LABEL: Style = Style::new(8.0, Color::TEXT);
const VALUE: Style = Style::new(8.5, Color::TEXT);
const HEAD: Style = Style::new(7.0, Color::TEXT);
const CELL: Style = Style::new(7.5, Color::TEXT);
const SMALL: Style = Style::new(7.0, Color::MUTED);
/// A SHA-256 in hex is 64 half-width characters: 224 pt at 7 pt, one line in its column.
const DIGEST: Style = Style::new(7.0, Color::TEXT);
const AGENT: Style = Style::new(6.5, Color::MUTED);
const DASH: &str = "—";

pub(crate) fn lay_out(c: &Completion, metrics: &Metrics) -> Vec<Page> {
    let l = labels(c.language);
    let mut flow = Layout::new(metrics);
    flow.paragraph(l.title, TITLE);
    flow.gap(6.0);
    flow.paragraph(&l.intro.replace("{issuer}", &c.issued_by), BODY);
    flow.gap(2.0);
    flow.paragraph(
        &format!(
            "{}: {}    {}: {}",
            l.issued_by,
            c.issued_by,
            l.issued_at,
            c.issued_at.format("%Y-%m-%d %H:%M:%S %:z")
        ),
        NOTE,
    );
    flow.gap(10.0);
    summary(&mut flow, l, c);
    flow.gap(12.0);
    documents(&mut flow, l, c);
    flow.gap(12.0);
    parties(&mut flow, l, c);
    flow.gap(12.0);
    history(&mut flow, l, c);
    flow.finish(|n, m| {
        (
            format!("{}  {}", l.title, c.contract_number),
            l.page
                .replace("{n}", &n.to_string())
                .replace("{m}", &m.to_string()),
        )
    })
}

fn head(text: &str) -> Cell {
    Cell::new().text(text, HEAD).shaded(Color::SHADE)
}

fn summary(flow: &mut Layout, l: &Labels, c: &Completion) {
    let rows = [
        (l.contract_number, &c.contract_number),
        (l.contract_id, &c.contract_id),
        (l.subject, &c.title),
        (l.organisation, &c.organisation),
        (l.sender, &c.sender),
        (l.created_at, &c.created_at),
        (l.sent_at, &c.sent_at),
        (l.completed_at, &c.completed_at),
    ]
    .into_iter()
    .map(|(label, value)| {
        vec![
            Cell::new().text(label, LABEL).shaded(Color::SHADE),
            Cell::new().text(value, VALUE),
        ]
    })
    .collect();
    flow.table(
        Some((l.contract, HEADING)),
        Table {
            widths: vec![100.0, CONTENT_WIDTH - 100.0],
            header: None,
            rows,
        },
    );
}

fn documents(flow: &mut Layout, l: &Labels, c: &Completion) {
    if c.documents.is_empty() {
        flow.heading(l.documents, HEADING, 12.0);
        flow.paragraph(l.none, BODY);
        return;
    }
    let rows = c
        .documents
        .iter()
        .map(|d| {
            vec![
                Cell::new().text(&d.name, CELL),
                Cell::new().text(d.pages.to_string(), CELL),
                Cell::new().text(format!("{} {}", thousands(d.size_before), l.bytes), CELL),
                Cell::new()
                    .text(l.sha256_before, SMALL)
                    .text(&d.sha256_before, DIGEST)
                    .text(l.sha256_after, SMALL)
                    .text(&d.sha256_after, DIGEST),
            ]
        })
        .collect();
    flow.table(
        Some((l.documents, HEADING)),
        Table {
            widths: vec![CONTENT_WIDTH - 344.0, 40.0, 72.0, 232.0],
            header: Some(vec![
                head(l.document_name),
                head(l.pages),
                head(l.size),
                head(l.digests),
            ]),
            rows,
        },
    );
}

fn parties(flow: &mut Layout, l: &Labels, c: &Completion) {
    if c.parties.is_empty() {
        flow.heading(l.parties, HEADING, 12.0);
        flow.paragraph(l.none, BODY);
        return;
    }
    let rows = c
        .parties
        .iter()
        .map(|p| {
            let mut who = Cell::new().text(&p.name, CELL).text(&p.email, SMALL);
            if let Some(organisation) = &p.organisation {
                who = who.text(organisation, SMALL);
            }
            let mut outcome = Cell::new().text(&p.outcome, CELL);
            if let Some(at) = &p.at {
                outcome = outcome.text(at, SMALL);
            }
            vec![
                Cell::new().text(p.step.to_string(), CELL),
                Cell::new().text(&p.role, CELL),
                Cell::new().text(p.signature_kind.as_deref().unwrap_or(DASH), CELL),
                who,
                Cell::new().text(&p.authentication, CELL),
                outcome,
            ]
        })
        .collect();
    flow.table(
        Some((l.parties, HEADING)),
        Table {
            widths: vec![30.0, 62.0, 80.0, 150.0, 88.0, CONTENT_WIDTH - 410.0],
            header: Some(vec![
                head(l.step),
                head(l.role),
                head(l.signature_kind),
                head(l.party),
                head(l.authentication),
                head(l.outcome),
            ]),
            rows,
        },
    );
}

fn history(flow: &mut Layout, l: &Labels, c: &Completion) {
    if c.events.is_empty() {
        flow.heading(l.history, HEADING, 12.0);
        flow.paragraph(l.none, BODY);
        return;
    }
    let rows = c
        .events
        .iter()
        .map(|e| {
            let mut event = Cell::new().text(&e.kind, CELL);
            if let Some(detail) = &e.detail {
                event = event.text(detail, SMALL);
            }
            vec![
                Cell::new().text(&e.at, CELL),
                event,
                Cell::new().text(&e.actor, CELL),
                Cell::new().text(e.address.as_deref().unwrap_or(DASH), SMALL),
                Cell::new().text(e.user_agent.as_deref().unwrap_or(DASH), AGENT),
            ]
        })
        .collect();
    flow.table(
        Some((l.history, HEADING)),
        Table {
            widths: vec![72.0, 88.0, 110.0, 66.0, CONTENT_WIDTH - 336.0],
            header: Some(vec![
                head(l.at),
                head(l.event),
                head(l.actor),
                head(l.address),
                head(l.user_agent),
            ]),
            rows,
        },
    );
}
