//! The one path from a data table (a metric's result) to what people read: the text of a
//! cell and the chart of a set of measures. Documents' data blocks and the dashboards'
//! panels both come through here, so a figure reads the same on a page and in a report.

use std::collections::HashMap;

use crate::chart::{Chart, ChartKind, Series};
use crate::{DataTable, Locale, Value, ValueFormat};

/// The currency of money columns when a document names none (dashboards name none).
pub const DEFAULT_CURRENCY: &str = "EUR";

/// The text of one cell: numbers in their column's format and the locale's separators,
/// dates in the locale's short form, stored codes (`helicopter`, `in_review`) as their
/// labels, and nothing for a missing value.
pub fn cell(value: &Value, format: ValueFormat, locale: Locale, currency: &str) -> String {
    match value {
        Value::Text(text) => crate::labels::value_or_text(locale, text),
        other => other.format(format, locale, currency),
    }
}

/// What to draw from a table: which columns are measured and which name the series.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartSpec {
    pub kind: ChartKind,
    pub title: String,
    pub unit: String,
    /// The columns drawn, each a series (per dimension key when there are dimensions).
    pub measures: Vec<usize>,
    /// The columns whose values name the series, joined with ` · `. A pie (and a table
    /// without a period) takes its categories from the first of them instead.
    pub dimensions: Vec<usize>,
    /// A column whose largest value is drawn as a reference line, labelled with the
    /// column's label (bed capacity behind occupancy).
    pub threshold: Option<usize>,
}

impl ChartSpec {
    /// The usual reading of a table: the given measures, and every text column but the
    /// period as a dimension.
    pub fn of_table(table: &DataTable, kind: ChartKind, measures: Vec<usize>) -> Self {
        let dimensions = table
            .columns
            .iter()
            .enumerate()
            .filter(|(_, column)| !column.format.is_numeric() && column.name != "period")
            .map(|(index, _)| index)
            .collect();
        ChartSpec { kind, title: String::new(), unit: String::new(), measures, dimensions, threshold: None }
    }
}

/// The chart of a table. Categories are the periods in the order the rows give them
/// (for a pie, or a table without a period, the first dimension's values); each measure
/// gives one series per distinct key of the other dimensions. The value style is the
/// first measure's format.
pub fn chart(table: &DataTable, spec: &ChartSpec, locale: Locale) -> Chart {
    let period = table.column("period");
    let category_column = match spec.kind {
        ChartKind::Pie => spec.dimensions.first().copied().or(period),
        _ => period.or(spec.dimensions.first().copied()),
    };
    let series_columns: Vec<usize> = match spec.kind {
        ChartKind::Pie => Vec::new(),
        _ => spec.dimensions.iter().copied().filter(|index| Some(*index) != category_column).collect(),
    };
    let label = |value: &Value| match value {
        Value::Date(date) => locale.format_date_short(*date),
        other => cell(other, ValueFormat::Text, locale, ""),
    };
    let measure_label =
        |measure: usize| table.columns.get(measure).map(|column| column.label.clone()).unwrap_or_default();
    let mut categories: Vec<String> = Vec::new();
    let mut category_index: HashMap<String, usize> = HashMap::new();
    let mut series: Vec<Series> = Vec::new();
    let mut series_index: HashMap<String, usize> = HashMap::new();
    for row in &table.rows {
        let category = match category_column.and_then(|index| row.get(index)) {
            Some(value) => label(value),
            None => spec.measures.first().map(|measure| measure_label(*measure)).unwrap_or_default(),
        };
        let position = *category_index.entry(category.clone()).or_insert_with(|| {
            categories.push(category);
            for series in &mut series {
                series.values.push(None);
            }
            categories.len() - 1
        });
        let key: Vec<String> = series_columns
            .iter()
            .filter_map(|index| row.get(*index))
            .map(label)
            .filter(|text| !text.is_empty())
            .collect();
        for measure in &spec.measures {
            let name = match (key.is_empty(), spec.measures.len()) {
                (true, _) => measure_label(*measure),
                (false, 1) => key.join(" · "),
                (false, _) => format!("{} · {}", key.join(" · "), measure_label(*measure)),
            };
            let index = *series_index.entry(name.clone()).or_insert_with(|| {
                series.push(Series { name, values: vec![None; categories.len()] });
                series.len() - 1
            });
            series[index].values[position] = row.get(*measure).and_then(Value::as_number);
        }
    }
    let threshold = spec.threshold.and_then(|column| {
        let maximum =
            table.rows.iter().filter_map(|row| row.get(column).and_then(Value::as_number)).fold(f64::NAN, f64::max);
        maximum.is_finite().then(|| (maximum, measure_label(column)))
    });
    let format = spec.measures.first().and_then(|measure| table.columns.get(*measure)).map(|column| column.format);
    Chart {
        kind: spec.kind,
        title: spec.title.clone(),
        unit: spec.unit.clone(),
        categories,
        series,
        style: format.unwrap_or(ValueFormat::Decimal).chart_style(),
        threshold,
        band: None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::NaiveDate;

    use super::*;
    use crate::DataColumn;

    fn occupancy() -> DataTable {
        let column = |name: &str, label: &str, format| DataColumn { name: name.into(), label: label.into(), format };
        let day = |day| Value::Date(NaiveDate::from_ymd_opt(2026, 3, day).unwrap());
        let row = |date, site: &str, pob: f64, beds: f64| {
            vec![date, Value::Text(site.into()), Value::Number(pob), Value::Number(beds)]
        };
        DataTable {
            columns: vec![
                column("period", "Période", ValueFormat::Date),
                column("site", "Site", ValueFormat::Text),
                column("pob", "POB", ValueFormat::Integer),
                column("beds", "Lits", ValueFormat::Integer),
            ],
            rows: vec![
                row(day(1), "ALPHA", 110.0, 140.0),
                row(day(1), "BRAVO", 80.0, 90.0),
                row(day(2), "ALPHA", 112.0, 140.0),
            ],
            warehouse: BTreeMap::new(),
        }
    }

    #[test]
    fn periods_are_categories_and_each_site_a_series_with_gaps_where_a_day_is_missing() {
        let table = occupancy();
        let mut spec = ChartSpec::of_table(&table, ChartKind::Line, vec![2]);
        spec.threshold = Some(3);
        let chart = chart(&table, &spec, Locale::FrFr);
        assert_eq!(chart.categories, ["01/03/2026", "02/03/2026"]);
        let series: Vec<(&str, &[Option<f64>])> =
            chart.series.iter().map(|series| (series.name.as_str(), series.values.as_slice())).collect();
        assert_eq!(series, [("ALPHA", &[Some(110.0), Some(112.0)][..]), ("BRAVO", &[Some(80.0), None][..])]);
        assert_eq!(chart.threshold, Some((140.0, "Lits".into())));
        assert_eq!(chart.style.decimals, 0);
    }

    #[test]
    fn two_measures_name_their_series_after_the_key_and_the_measure_and_a_pie_slices_by_site() {
        let table = occupancy();
        let both = chart(&table, &ChartSpec::of_table(&table, ChartKind::Bar, vec![2, 3]), Locale::EnGb);
        let names: Vec<&str> = both.series.iter().map(|series| series.name.as_str()).collect();
        assert_eq!(names, ["ALPHA · POB", "ALPHA · Lits", "BRAVO · POB", "BRAVO · Lits"]);
        let pie = chart(&table, &ChartSpec::of_table(&table, ChartKind::Pie, vec![2]), Locale::FrFr);
        assert_eq!(pie.categories, ["ALPHA", "BRAVO"]);
        assert_eq!(pie.series.len(), 1);
        assert_eq!(pie.series[0].values, [Some(112.0), Some(80.0)]);
    }

    #[test]
    fn cells_read_in_the_locale_with_codes_as_labels() {
        assert_eq!(cell(&Value::Number(9166.317), ValueFormat::Decimal, Locale::FrFr, ""), "9\u{202f}166,32");
        assert_eq!(cell(&Value::Number(0.734), ValueFormat::Ratio, Locale::EnGb, ""), "73.4%");
        assert_eq!(cell(&Value::Text("helicopter".into()), ValueFormat::Text, Locale::FrFr, ""), "Hélicoptère");
        assert_eq!(cell(&Value::Null, ValueFormat::Integer, Locale::FrFr, ""), "");
    }
}
