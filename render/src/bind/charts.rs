//! The chart of a data block from its data table, and the timeline's bars.

use super::*;

pub(super) fn chart_kind(fields: &Fields) -> Result<ChartKind, DocumentError> {
    Ok(match fields.raw_text("kind")?.as_deref().unwrap_or("line") {
        "line" => ChartKind::Line,
        "bar" => ChartKind::Bar,
        "stacked_bar" => ChartKind::StackedBar,
        "pie" => ChartKind::Pie,
        "heatmap" => ChartKind::Heatmap,
        other => {
            return Err(
                fields.error("kind", format!("unknown chart kind `{other}` (line, bar, stacked_bar, pie, heatmap)"))
            );
        }
    })
}

/// The chart of a data block, through the path the dashboards take too
/// ([`crate::figures::chart`]): categories are periods (or, for a pie, the first
/// dimension); series are the values of the other dimensions.
pub(super) fn chart_of(fields: &Fields, table: &DataTable, locale: Locale) -> Result<Chart, DocumentError> {
    let kind = chart_kind(fields)?;
    let (measure, _) = measure_column(fields, table)?;
    let mut spec = crate::figures::ChartSpec::of_table(table, kind, vec![measure]);
    spec.title = fields.text("title")?;
    spec.unit = fields.text("unit")?;
    Ok(crate::figures::chart(table, &spec, locale))
}

/// Timeline bars drawn with the chart model: one series per bar, with start and end as
/// day numbers.
pub(super) fn timeline_chart(table: &DataTable, title: &str) -> Chart {
    let mut categories = Vec::new();
    let mut starts = Vec::new();
    let mut ends = Vec::new();
    let mut progress = Vec::new();
    for row in 0..table.rows.len() {
        let (Some(start), Some(end)) = (table.date(row, "start"), table.date(row, "end")) else { continue };
        categories.push(table.text(row, "label").unwrap_or_default());
        starts.push(Some(f64::from(start.num_days_from_ce())));
        ends.push(Some(f64::from(end.num_days_from_ce())));
        progress.push(table.number(row, "percent"));
    }
    Chart {
        kind: ChartKind::Timeline,
        title: title.to_owned(),
        unit: String::new(),
        categories,
        series: vec![
            Series { name: "start".into(), values: starts },
            Series { name: "end".into(), values: ends },
            Series { name: "percent".into(), values: progress },
        ],
        style: ValueStyle { decimals: 0, percent_of_one: false },
        threshold: None,
        band: None,
    }
}
