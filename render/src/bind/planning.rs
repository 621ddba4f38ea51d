//! The `planning` block: Organizer reservations and project milestones over the
//! document's period (or the block's `period`), for the sites of the scope or the
//! block's `site` list — `{"title"?, "view"?: "gantt" | "table", "show"?:
//! ["reservations", "milestones"], "limit"?}`. The Gantt view draws each reservation
//! from its first to its last day and each milestone on its due day; the table lists
//! them by date.

use super::{DataRequest, DataTable, DocumentError, Fields, Node, Scope, Value, timeline_chart};
use crate::Locale;

/// What a planning block may show.
const SHOWN: [&str; 2] = ["reservations", "milestones"];

/// Reservations and milestones of the block's sites and period.
pub(super) fn request(fields: &Fields, scope: &Scope) -> Result<DataRequest, DocumentError> {
    let period = fields.period(scope)?;
    let show = match fields.list("show")? {
        None => SHOWN.iter().map(|kind| (*kind).to_owned()).collect(),
        Some(kinds) => {
            if kinds.is_empty() {
                return Err(fields.error("show", "name what to show: reservations, milestones or both"));
            }
            if let Some(unknown) = kinds.iter().find(|kind| !SHOWN.contains(&kind.as_str())) {
                return Err(fields.error("show", format!("unknown `{unknown}` (reservations, milestones)")));
            }
            kinds
        }
    };
    Ok(DataRequest::Planning { sites: fields.sites(scope)?, from: period.start, to: period.end, show })
}

/// How the block shows its planning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum View {
    Gantt,
    Table,
}

pub(super) fn view(fields: &Fields) -> Result<View, DocumentError> {
    match fields.raw_text("view")?.as_deref() {
        None | Some("gantt") => Ok(View::Gantt),
        Some("table") => Ok(View::Table),
        Some(other) => Err(fields.error("view", format!("unknown view `{other}` (gantt, table)"))),
    }
}

/// The Gantt view: milestones named as such, at most `limit` bars (default 40), the
/// count of those left out in the title.
pub(super) fn gantt(fields: &Fields, id: String, table: &DataTable, locale: Locale) -> Result<Node, DocumentError> {
    let limit = fields.number("limit")?.map_or(40, |limit| limit.clamp(1.0, 500.0) as usize);
    let mut shown = table.clone();
    let kind = table.column("kind");
    let label = table.column("label");
    if let (Some(kind), Some(label)) = (kind, label) {
        let milestone = crate::labels::value_or_text(locale, "milestone");
        for row in &mut shown.rows {
            if matches!(&row[kind], Value::Text(text) if text == "milestone")
                && let Value::Text(text) = &row[label]
            {
                row[label] = Value::Text(format!("{milestone} · {text}"));
            }
        }
    }
    let hidden = shown.rows.len().saturating_sub(limit);
    shown.rows.truncate(limit);
    let mut title = fields.text("title")?;
    if hidden > 0 {
        let more = match locale {
            Locale::FrFr => format!("{hidden} de plus non affichés"),
            Locale::EnGb | Locale::EnUs => format!("{hidden} more not shown"),
        };
        title = if title.is_empty() { more } else { format!("{title} ({more})") };
    }
    Ok(Node::Timeline { id, chart: timeline_chart(&shown, &title), title })
}
