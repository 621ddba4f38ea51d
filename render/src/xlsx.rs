//! The XLSX writer (rust_xlsxwriter): one workbook with a summary sheet (title,
//! parameters, KPIs, warehouse versions), a sheet per data table with typed cells and
//! number formats, and a sheet per chart holding its data with a native Excel chart
//! bound to those cells (a heatmap is a colour scale over the cells, a timeline a
//! stacked bar chart).

use rust_xlsxwriter::{
    Chart, ChartFormat, ChartType, ConditionalFormat3ColorScale, DocProperties, ExcelDateTime, Format, FormatAlign,
    Formula, Workbook, Worksheet, XlsxError,
};

use crate::bind::{BoundDocument, DataColumn, Node};
use crate::chart::{self, ChartKind};
use crate::{DocumentError, Locale, Value, ValueFormat, Word};

fn error(source: XlsxError) -> DocumentError {
    DocumentError::Writer { format: "XLSX", message: source.to_string() }
}

/// Excel's format code for a column; Excel shows it with the reader's separators.
fn number_format(format: ValueFormat, locale: Locale, currency: &str) -> &'static str {
    match format {
        ValueFormat::Integer => "#,##0",
        ValueFormat::Decimal => "#,##0.00",
        ValueFormat::Percent | ValueFormat::Ratio => "0.0%",
        ValueFormat::Currency => match (locale, currency) {
            (Locale::FrFr, "EUR") => "#,##0.00\\ \"€\"",
            (_, "EUR") => "\"€\"#,##0.00",
            (_, "USD") => "\"$\"#,##0.00",
            (_, "GBP") => "\"£\"#,##0.00",
            _ => "#,##0.00",
        },
        ValueFormat::Date => locale.excel_date_format(),
        ValueFormat::Text => "@",
    }
}

struct Names(Vec<String>);

impl Names {
    /// A sheet name Excel accepts (31 characters, none of `[]:*?/\`), unique in the book.
    fn unique(&mut self, wanted: &str, fallback: &str) -> String {
        let cleaned: String = wanted.chars().filter(|character| !"[]:*?/\\'".contains(*character)).collect();
        let base: String = if cleaned.trim().is_empty() { fallback.to_owned() } else { cleaned.trim().to_owned() };
        let base: String = base.chars().take(28).collect();
        let mut name = base.clone();
        let mut counter = 2;
        while self.0.iter().any(|known| known.eq_ignore_ascii_case(&name)) {
            name = format!("{base} {counter}");
            counter += 1;
        }
        self.0.push(name.clone());
        name
    }
}

pub(crate) fn xlsx(document: &BoundDocument) -> Result<Vec<u8>, DocumentError> {
    let locale = document.locale;
    let mut workbook = Workbook::new();
    let date = document.today;
    let created = excel_date(date)?;
    workbook.set_properties(
        &DocProperties::new().set_title(&document.title).set_company("OpsFlux").set_creation_datetime(&created),
    );
    let bold = Format::new().set_bold();
    let title_format = Format::new().set_bold().set_font_size(16).set_font_color("184A7E");
    let header_format =
        Format::new().set_bold().set_background_color("EEF2F6").set_border_bottom(rust_xlsxwriter::FormatBorder::Thin);
    let mut names = Names(Vec::new());

    let summary_name = names.unique(locale.word(Word::Summary), "Summary");
    let summary = workbook.add_worksheet();
    summary.set_name(&summary_name).map_err(error)?;
    summary.write_string_with_format(0, 0, &document.title, &title_format).map_err(error)?;
    summary.write_string(1, 0, &document.subtitle).map_err(error)?;
    let mut row = 3;
    summary.write_string_with_format(row, 0, locale.word(Word::Parameters), &bold).map_err(error)?;
    row += 1;
    for (label, value) in &document.parameters {
        summary.write_string(row, 0, label).map_err(error)?;
        summary.write_string(row, 1, value).map_err(error)?;
        row += 1;
    }
    row += 1;
    for node in &document.nodes {
        match node {
            Node::Kpi { label, value, unit, comparison, .. } => {
                summary.write_string_with_format(row, 0, label, &bold).map_err(error)?;
                summary.write_string(row, 1, format!("{value} {unit}").trim()).map_err(error)?;
                if let Some((comparison, _)) = comparison {
                    summary.write_string(row, 2, comparison).map_err(error)?;
                }
                row += 1;
            }
            Node::Progress { label, share, .. } => {
                summary.write_string_with_format(row, 0, label, &bold).map_err(error)?;
                summary.write_number_with_format(row, 1, *share, &Format::new().set_num_format("0%")).map_err(error)?;
                row += 1;
            }
            _ => {}
        }
    }
    row += 1;
    summary.write_string_with_format(row, 0, locale.word(Word::DataVersion), &bold).map_err(error)?;
    for (table, version) in &document.warehouse {
        row += 1;
        summary.write_string(row, 0, table).map_err(error)?;
        summary.write_string(row, 1, version).map_err(error)?;
    }
    summary.set_column_width(0, 36).map_err(error)?;
    summary.set_column_width(1, 28).map_err(error)?;
    summary.set_column_width(2, 36).map_err(error)?;

    for node in &document.nodes {
        match node {
            Node::DataTable { id, title, columns, rows, totals } => {
                let name = names.unique(title, id);
                let sheet = workbook.add_worksheet();
                sheet.set_name(&name).map_err(error)?;
                write_header(sheet, columns, &header_format)?;
                let formats: Vec<Format> = columns
                    .iter()
                    .map(|column| {
                        let format =
                            Format::new().set_num_format(number_format(column.format, locale, &document.currency));
                        if column.format.is_numeric() { format.set_align(FormatAlign::Right) } else { format }
                    })
                    .collect();
                for (index, cells) in rows.iter().enumerate() {
                    let row = index as u32 + 1;
                    for (column, (cell, format)) in cells.iter().zip(&formats).enumerate() {
                        match &cell.value {
                            // People read the label of a stored code, as in the other formats.
                            Value::Text(_) => {
                                sheet.write_string(row, column as u16, &cell.text).map(|_| ()).map_err(error)?
                            }
                            value => write_value(sheet, row, column as u16, value, columns[column].format, format)?,
                        }
                    }
                }
                if let Some(totals) = totals {
                    let row = rows.len() as u32 + 1;
                    for (column, cell) in totals.iter().enumerate() {
                        let format = formats[column].clone().set_bold();
                        match &cell.value {
                            Value::Number(sum) if !rows.is_empty() => {
                                let letter = column_letter(column as u16);
                                let formula = Formula::new(format!("=SUM({letter}2:{letter}{})", rows.len() + 1))
                                    .set_result(sum.to_string());
                                sheet.write_formula_with_format(row, column as u16, formula, &format).map_err(error)?;
                            }
                            Value::Text(text) => {
                                sheet.write_string_with_format(row, column as u16, text, &bold).map_err(error)?;
                            }
                            _ => {}
                        }
                    }
                }
                sheet.set_freeze_panes(1, 0).map_err(error)?;
                sheet.autofit();
            }
            Node::Chart { id, chart } | Node::Timeline { id, chart, .. } => {
                if chart.kind == ChartKind::Kpi {
                    continue;
                }
                let name = names.unique(&chart.title, id);
                let sheet = workbook.add_worksheet();
                sheet.set_name(&name).map_err(error)?;
                chart_sheet(sheet, &name, chart, &header_format, locale)?;
            }
            Node::Tasks { id, title, tasks } => {
                let name = names.unique(title, id);
                let sheet = workbook.add_worksheet();
                sheet.set_name(&name).map_err(error)?;
                let labels = locale.task_headers();
                for (column, label) in labels.iter().enumerate() {
                    sheet.write_string_with_format(0, column as u16, *label, &header_format).map_err(error)?;
                }
                let percent = Format::new().set_num_format("0%");
                for (index, task) in tasks.iter().enumerate() {
                    let row = index as u32 + 1;
                    sheet.write_string(row, 0, &task.project).map_err(error)?;
                    sheet.write_string(row, 1, &task.name).map_err(error)?;
                    sheet.write_string(row, 2, &task.status).map_err(error)?;
                    sheet.write_string(row, 3, &task.due).map_err(error)?;
                    sheet.write_number_with_format(row, 4, task.percent / 100.0, &percent).map_err(error)?;
                }
                sheet.autofit();
            }
            _ => {}
        }
    }
    workbook.save_to_buffer().map_err(error)
}

fn excel_date(date: impl std::borrow::Borrow<chrono::NaiveDate>) -> Result<ExcelDateTime, DocumentError> {
    use chrono::Datelike;
    let date = date.borrow();
    let year = u16::try_from(date.year()).map_err(|_| DocumentError::Writer {
        format: "XLSX",
        message: format!("the date {date} is outside Excel's calendar"),
    })?;
    ExcelDateTime::from_ymd(year, date.month() as u8, date.day() as u8).map_err(error)
}

fn write_header(sheet: &mut Worksheet, columns: &[DataColumn], format: &Format) -> Result<(), DocumentError> {
    for (index, column) in columns.iter().enumerate() {
        sheet.write_string_with_format(0, index as u16, &column.label, format).map_err(error)?;
    }
    Ok(())
}

fn write_value(
    sheet: &mut Worksheet,
    row: u32,
    column: u16,
    value: &Value,
    format: ValueFormat,
    cell_format: &Format,
) -> Result<(), DocumentError> {
    match value {
        Value::Null => {}
        Value::Number(number) => {
            let number = if format == ValueFormat::Percent { number / 100.0 } else { *number };
            sheet.write_number_with_format(row, column, number, cell_format).map_err(error)?;
        }
        Value::Date(date) => {
            let excel = excel_date(date)?;
            let date_format = if format == ValueFormat::Date {
                cell_format.clone()
            } else {
                Format::new().set_num_format("yyyy-mm-dd")
            };
            sheet.write_date_with_format(row, column, &excel, &date_format).map_err(error)?;
        }
        Value::Text(text) => {
            sheet.write_string(row, column, text).map_err(error)?;
        }
    }
    Ok(())
}

fn column_letter(mut column: u16) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push(b'A' + (column % 26) as u8);
        if column < 26 {
            break;
        }
        column = column / 26 - 1;
    }
    letters.reverse();
    String::from_utf8(letters).unwrap_or_default()
}

/// The chart's values as a table (categories down column A, a column per series) and
/// a native chart reading those cells.
fn chart_sheet(
    sheet: &mut Worksheet,
    name: &str,
    chart: &chart::Chart,
    header: &Format,
    locale: Locale,
) -> Result<(), DocumentError> {
    let value_format = Format::new().set_num_format(if chart.style.percent_of_one {
        "0.0%"
    } else if chart.style.decimals == 0 {
        "#,##0"
    } else {
        "#,##0.00"
    });
    let count = chart.categories.len() as u32;
    if chart.kind == ChartKind::Timeline {
        // Start, days, progress: a stacked bar whose first series is invisible is a Gantt chart.
        let labels = match locale {
            Locale::FrFr => ["Tâche", "Début", "Durée (jours)", "Avancement"],
            _ => ["Task", "Start", "Duration (days)", "Progress"],
        };
        for (column, label) in labels.iter().enumerate() {
            sheet.write_string_with_format(0, column as u16, *label, header).map_err(error)?;
        }
        let series = |name: &str| chart.series.iter().find(|series| series.name == name);
        let date_format = Format::new().set_num_format(locale.excel_date_format());
        for (index, category) in chart.categories.iter().enumerate() {
            let row = index as u32 + 1;
            sheet.write_string(row, 0, category).map_err(error)?;
            let value = |name: &str| series(name).and_then(|series| series.values.get(index).copied().flatten());
            if let (Some(start), Some(end)) = (value("start"), value("end")) {
                let date = chrono::NaiveDate::from_num_days_from_ce_opt(start as i32).unwrap_or_default();
                let excel = excel_date(date)?;
                sheet.write_date_with_format(row, 1, &excel, &date_format).map_err(error)?;
                sheet.write_number(row, 2, end - start + 1.0).map_err(error)?;
            }
            if let Some(percent) = value("percent") {
                sheet
                    .write_number_with_format(row, 3, percent / 100.0, &Format::new().set_num_format("0%"))
                    .map_err(error)?;
            }
        }
        if count > 0 {
            let mut gantt = Chart::new(ChartType::BarStacked);
            gantt
                .add_series()
                .set_categories((name, 1, 0, count, 0))
                .set_values((name, 1, 1, count, 1))
                .set_format(ChartFormat::new().set_no_fill());
            gantt
                .add_series()
                .set_name((name, 0, 2))
                .set_categories((name, 1, 0, count, 0))
                .set_values((name, 1, 2, count, 2));
            gantt.title().set_name(&chart.title);
            gantt.y_axis().set_reverse();
            gantt.x_axis().set_num_format(locale.excel_date_format());
            gantt.legend().set_hidden();
            gantt.set_width(720).set_height(80 + 24 * count);
            sheet.insert_chart(1, 5, &gantt).map_err(error)?;
        }
        sheet.autofit();
        return Ok(());
    }
    // The series, then a band's bounds and the reference line as columns of their own,
    // so a line chart in the workbook shows what the drawing shows.
    let mut columns: Vec<(String, Vec<Option<f64>>)> =
        chart.series.iter().map(|series| (series.name.clone(), series.values.clone())).collect();
    if chart.kind == ChartKind::Line {
        if let Some(band) = &chart.band {
            let (low, high) = match locale {
                Locale::FrFr => ("bas", "haut"),
                Locale::EnGb | Locale::EnUs => ("lower", "upper"),
            };
            columns.push((format!("{} — {low}", band.name), band.lower.clone()));
            columns.push((format!("{} — {high}", band.name), band.upper.clone()));
        }
        if let Some((value, label)) = &chart.threshold {
            columns.push((label.clone(), vec![Some(*value); chart.categories.len()]));
        }
    }
    sheet.write_string_with_format(0, 0, "", header).map_err(error)?;
    for (index, (title, _)) in columns.iter().enumerate() {
        sheet.write_string_with_format(0, index as u16 + 1, title, header).map_err(error)?;
    }
    let degrees = Format::new().set_num_format("0.0000");
    for (row, category) in chart.categories.iter().enumerate() {
        sheet.write_string(row as u32 + 1, 0, category).map_err(error)?;
        for (index, (title, values)) in columns.iter().enumerate() {
            if let Some(value) = values.get(row).copied().flatten() {
                let coordinate =
                    chart.kind == ChartKind::Map && (title == chart::LATITUDE || title == chart::LONGITUDE);
                let format = if coordinate { &degrees } else { &value_format };
                sheet.write_number_with_format(row as u32 + 1, index as u16 + 1, value, format).map_err(error)?;
            }
        }
    }
    let last_column = columns.len() as u16;
    if count == 0 || last_column == 0 {
        sheet.autofit();
        return Ok(());
    }
    if chart.kind == ChartKind::Heatmap {
        sheet.add_conditional_format(1, 1, count, last_column, &ConditionalFormat3ColorScale::new()).map_err(error)?;
        sheet.autofit();
        return Ok(());
    }
    if chart.kind == ChartKind::Map {
        // The values coloured as on the map, and the sites as points of longitude and
        // latitude: Excel has no map without an online service.
        sheet.add_conditional_format(1, 1, count, 1, &ConditionalFormat3ColorScale::new()).map_err(error)?;
        let column_of =
            |wanted: &str| columns.iter().position(|(title, _)| title == wanted).map(|index| index as u16 + 1);
        if let (Some(latitude), Some(longitude)) = (column_of(chart::LATITUDE), column_of(chart::LONGITUDE)) {
            let mut native = Chart::new(ChartType::Scatter);
            native
                .add_series()
                .set_name(&chart.title)
                .set_categories((name, 1, longitude, count, longitude))
                .set_values((name, 1, latitude, count, latitude));
            native.title().set_name(&chart.title);
            native.x_axis().set_name(chart::LONGITUDE);
            native.y_axis().set_name(chart::LATITUDE);
            native.legend().set_hidden();
            native.set_width(720).set_height(360);
            sheet.insert_chart(1, last_column + 2, &native).map_err(error)?;
        }
        sheet.autofit();
        return Ok(());
    }
    let kind = match chart.kind {
        ChartKind::Line => ChartType::Line,
        ChartKind::Bar => ChartType::Column,
        ChartKind::StackedBar => ChartType::ColumnStacked,
        ChartKind::Pie => ChartType::Pie,
        _ => ChartType::Column,
    };
    let mut native = Chart::new(kind);
    let series_count = if chart.kind == ChartKind::Pie { 1 } else { last_column };
    for index in 1..=series_count {
        native
            .add_series()
            .set_name((name, 0, index))
            .set_categories((name, 1, 0, count, 0))
            .set_values((name, 1, index, count, index));
    }
    native.title().set_name(&chart.title);
    native.set_width(720).set_height(360);
    sheet.insert_chart(1, last_column + 2, &native).map_err(error)?;
    sheet.autofit();
    Ok(())
}
