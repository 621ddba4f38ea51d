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

/// The chart of a data block: categories are periods (or, for a pie, the first
/// dimension); series are the values of the first dimension (or the measures).
pub(super) fn chart_of(fields: &Fields, table: &DataTable, locale: Locale) -> Result<Chart, DocumentError> {
    let kind = chart_kind(fields)?;
    let (measure, column) = measure_column(fields, table)?;
    let texts: Vec<usize> = table
        .columns
        .iter()
        .enumerate()
        .filter(|(_, column)| !column.format.is_numeric() && column.name != "period")
        .map(|(index, _)| index)
        .collect();
    let period = table.column("period");
    // Dimension values are stored codes or names: codes read as their labels.
    let label = |row: &[Value], index: usize| match &row[index] {
        Value::Date(date) => locale.format_date_short(*date),
        other => crate::labels::value_or_text(locale, &other.format(ValueFormat::Text, locale, "")),
    };
    let mut categories: Vec<String> = Vec::new();
    let mut series: Vec<Series> = Vec::new();
    let category_column =
        if kind == ChartKind::Pie { texts.first().copied().or(period) } else { period.or(texts.first().copied()) };
    let series_column =
        if kind == ChartKind::Pie { None } else { texts.iter().copied().find(|index| Some(*index) != category_column) };
    for row in &table.rows {
        let category = category_column.map(|index| label(row, index)).unwrap_or_else(|| column.label.clone());
        let name = series_column.map(|index| label(row, index)).unwrap_or_else(|| column.label.clone());
        let position = match categories.iter().position(|known| *known == category) {
            Some(position) => position,
            None => {
                categories.push(category);
                for series in &mut series {
                    series.values.push(None);
                }
                categories.len() - 1
            }
        };
        let index = match series.iter().position(|series| series.name == name) {
            Some(index) => index,
            None => {
                series.push(Series { name, values: vec![None; categories.len()] });
                series.len() - 1
            }
        };
        series[index].values[position] = row[measure].as_number();
    }
    Ok(Chart {
        kind,
        title: fields.text("title")?,
        unit: fields.text("unit")?,
        categories,
        series,
        style: column.format.chart_style(),
        threshold: None,
        band: None,
    })
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
