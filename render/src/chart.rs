//! The one chart model — line, bar, stacked bar, KPI tile, heatmap, pie, timeline and
//! map (`chart/map.rs`) — drawn as SVG
//! for dashboards and documents. Every mark carries its series, category and raw value
//! as `data-` attributes, so a browser test (or a script) can read what is drawn.
//!
//! The drawing is deterministic: the same chart gives the same bytes.

mod map;

use std::fmt::Write as _;

use chrono::Datelike;

pub use map::{LATITUDE, LONGITUDE};

use crate::Locale;

/// How a chart draws its series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChartKind {
    Line,
    Bar,
    StackedBar,
    /// One headline value (the first value of the first series) with its unit.
    Kpi,
    /// Series are rows, categories are columns, values are colours.
    Heatmap,
    /// Shares of the first series' values, one slice per category.
    Pie,
    /// Gantt-like bars: categories are bars; the series `start` and `end` hold days
    /// counted from the common era, `percent` the progress of each bar.
    Timeline,
    /// Sites on a map: categories are sites, the series [`LATITUDE`] and [`LONGITUDE`]
    /// hold their coordinates in degrees, the other series their values (colours).
    Map,
}

/// How values are written on axes, labels and tooltips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ValueStyle {
    pub decimals: usize,
    /// Multiply by 100 and append `%` (ratios between 0 and 1).
    pub percent_of_one: bool,
}

impl ValueStyle {
    /// A value written in this style for `locale`.
    pub fn format(self, value: f64, locale: Locale) -> String {
        if self.percent_of_one {
            format!("{} %", locale.format_number(value * 100.0, self.decimals))
        } else {
            locale.format_number(value, self.decimals)
        }
    }
}

/// One named series of values, aligned with the chart's categories; `None` is a gap.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

/// A chart: categories along the horizontal axis (periods), series of values, a unit.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Chart {
    pub kind: ChartKind,
    pub title: String,
    pub unit: String,
    pub categories: Vec<String>,
    pub series: Vec<Series>,
    pub style: ValueStyle,
    /// A horizontal reference line (e.g. bed capacity), with its label.
    pub threshold: Option<(f64, String)>,
    /// A shaded range behind a line chart's series (a forecast's prediction interval).
    #[serde(default)]
    pub band: Option<Band>,
}

/// A range per category, drawn as a shaded area; `None` where it is unknown.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Band {
    pub name: String,
    pub lower: Vec<Option<f64>>,
    pub upper: Vec<Option<f64>>,
}

/// Colours of series, in order; chosen to stay apart for common colour blindness.
const PALETTE: [&str; 10] =
    ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 56.0;

impl Chart {
    /// Whether there is any value to draw.
    pub fn is_empty(&self) -> bool {
        self.series.iter().all(|series| series.values.iter().all(Option::is_none))
    }

    /// Formats a value as this chart writes it.
    pub fn format_value(&self, value: f64, locale: Locale) -> String {
        self.style.format(value, locale)
    }

    /// The chart as a standalone `<svg>` element.
    pub fn to_svg(&self, locale: Locale) -> String {
        let mut svg = String::new();
        let (width, height) = match self.kind {
            ChartKind::Kpi => (240.0, 120.0),
            ChartKind::Heatmap => (WIDTH, TOP + BOTTOM + 22.0 * self.series.len().max(1) as f64),
            ChartKind::Timeline => (WIDTH, TOP + 40.0 + 22.0 * self.categories.len().max(1) as f64),
            ChartKind::Map => (map::WIDTH, map::height(self)),
            _ => (WIDTH, HEIGHT),
        };
        let _ = write!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" data-kind="{kind}" data-title="{title}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{title}" font-family="Inter, DejaVu Sans, sans-serif" font-size="11">"#,
            kind = kind_name(self.kind),
            title = escape(&self.title),
        );
        if self.is_empty() {
            let _ = write!(
                svg,
                r##"<text class="no-data" x="{}" y="{}" text-anchor="middle" fill="#5b6b7c">{}</text>"##,
                width / 2.0,
                height / 2.0,
                locale.word(crate::Word::NoData)
            );
        } else {
            match self.kind {
                ChartKind::Kpi => self.draw_kpi(&mut svg, locale),
                ChartKind::Heatmap => self.draw_heatmap(&mut svg, locale, width),
                ChartKind::Pie => self.draw_pie(&mut svg, locale),
                ChartKind::Timeline => self.draw_timeline(&mut svg),
                ChartKind::Map => self.draw_map(&mut svg, locale),
                ChartKind::Line | ChartKind::Bar | ChartKind::StackedBar => self.draw_axes_chart(&mut svg, locale),
            }
        }
        svg.push_str("</svg>");
        svg
    }

    fn draw_kpi(&self, svg: &mut String, locale: Locale) {
        let value = self.series.first().and_then(|series| series.values.iter().flatten().next().copied());
        if let Some(value) = value {
            let _ = write!(
                svg,
                r##"<text class="mark" data-role="kpi" x="120" y="62" text-anchor="middle" font-size="34" font-weight="600" fill="#1d2733" data-series="{}" data-value="{}">{}</text><text x="120" y="92" text-anchor="middle" font-size="13" fill="#5b6b7c">{}</text>"##,
                escape(&self.series[0].name),
                raw(value),
                escape(&self.format_value(value, locale)),
                escape(&self.unit),
            );
        }
    }

    fn draw_heatmap(&self, svg: &mut String, locale: Locale, width: f64) {
        let values: Vec<f64> = self.series.iter().flat_map(|series| series.values.iter().flatten().copied()).collect();
        let low = values.iter().copied().fold(f64::INFINITY, f64::min);
        let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let columns = self.categories.len().max(1) as f64;
        let cell_width = (width - LEFT - RIGHT) / columns;
        for (row, series) in self.series.iter().enumerate() {
            let y = TOP + 22.0 * row as f64;
            let _ = write!(
                svg,
                r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
                LEFT - 6.0,
                y + 15.0,
                escape(&series.name)
            );
            for (column, value) in series.values.iter().enumerate() {
                let Some(value) = value else { continue };
                let share = if high > low { (value - low) / (high - low) } else { 0.5 };
                let category = self.categories.get(column).map(String::as_str).unwrap_or_default();
                let _ = write!(
                    svg,
                    r#"<rect class="mark" x="{:.2}" y="{y}" width="{:.2}" height="20" fill="{}" data-series="{}" data-category="{}" data-value="{}"><title>{} · {} : {}</title></rect>"#,
                    LEFT + cell_width * column as f64,
                    (cell_width - 1.0).max(1.0),
                    heat_colour(share),
                    escape(&series.name),
                    escape(category),
                    raw(*value),
                    escape(&series.name),
                    escape(category),
                    escape(&self.format_value(*value, locale)),
                );
            }
        }
        let bottom = TOP + 22.0 * self.series.len() as f64;
        self.draw_category_labels(svg, bottom, cell_width);
        let _ = write!(
            svg,
            r##"<text x="{}" y="{}" text-anchor="end" fill="#5b6b7c">{} – {} {}</text>"##,
            width - RIGHT,
            bottom + 44.0,
            escape(&self.format_value(low, locale)),
            escape(&self.format_value(high, locale)),
            escape(&self.unit)
        );
    }

    fn draw_axes_chart(&self, svg: &mut String, locale: Locale) {
        let plot_width = WIDTH - LEFT - RIGHT;
        let plot_height = HEIGHT - TOP - BOTTOM;
        let columns = self.categories.len().max(1);
        let mut high: f64 = 0.0;
        let mut low: f64 = 0.0;
        for index in 0..columns {
            if self.kind == ChartKind::StackedBar {
                let (positive, negative) = self
                    .series
                    .iter()
                    .filter_map(|series| series.values.get(index).copied().flatten())
                    .fold((0.0, 0.0), |(positive, negative), value| {
                        if value >= 0.0 { (positive + value, negative) } else { (positive, negative + value) }
                    });
                high = high.max(positive);
                low = low.min(negative);
            } else {
                for value in self.series.iter().filter_map(|series| series.values.get(index).copied().flatten()) {
                    high = high.max(value);
                    low = low.min(value);
                }
            }
        }
        if let Some((threshold, _)) = self.threshold {
            high = high.max(threshold);
        }
        if let Some(band) = &self.band {
            for value in band.lower.iter().chain(&band.upper).take(2 * columns).flatten() {
                high = high.max(*value);
                low = low.min(*value);
            }
        }
        let (low, high, step) = nice_scale(low, high);
        let y_of = |value: f64| TOP + plot_height * (1.0 - (value - low) / (high - low));
        // Grid and vertical axis labels.
        let mut tick = low;
        while tick <= high + step / 2.0 {
            let y = y_of(tick);
            let _ = write!(
                svg,
                r##"<line x1="{LEFT}" x2="{}" y1="{y:.2}" y2="{y:.2}" stroke="#e3e8ee"/><text x="{}" y="{:.2}" text-anchor="end" fill="#5b6b7c">{}</text>"##,
                WIDTH - RIGHT,
                LEFT - 6.0,
                y + 4.0,
                escape(&self.format_value(tick, locale))
            );
            tick += step;
        }
        let slot = plot_width / columns as f64;
        if let Some(band) = &self.band {
            self.draw_band(svg, band, slot, &y_of);
        }
        let series_count = self.series.len().max(1) as f64;
        let mut stacked_positive = vec![0.0; columns];
        let mut stacked_negative = vec![0.0; columns];
        // Dense lines (a forecast's hundreds of steps) keep their marks for tooltips, small.
        let marker = if columns > 60 { "1" } else { "2.5" };
        for (series_index, series) in self.series.iter().enumerate() {
            let colour = PALETTE[series_index % PALETTE.len()];
            let mut path = String::new();
            for (column, value) in series.values.iter().enumerate().take(columns) {
                let category = self.categories.get(column).map(String::as_str).unwrap_or_default();
                let Some(value) = *value else {
                    if self.kind == ChartKind::Line && !path.is_empty() {
                        let _ = write!(svg, r#"<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"/>"#);
                        path.clear();
                    }
                    continue;
                };
                let tooltip = format!("{} · {} : {}", series.name, category, self.format_value(value, locale));
                let attributes = format!(
                    r#"class="mark" data-series="{}" data-category="{}" data-value="{}""#,
                    escape(&series.name),
                    escape(category),
                    raw(value)
                );
                match self.kind {
                    ChartKind::Line => {
                        let x = LEFT + slot * (column as f64 + 0.5);
                        let y = y_of(value);
                        let _ = write!(path, "{}{x:.2},{y:.2}", if path.is_empty() { "M" } else { " L" });
                        let _ = write!(
                            svg,
                            r#"<circle {attributes} cx="{x:.2}" cy="{y:.2}" r="{marker}" fill="{colour}"><title>{}</title></circle>"#,
                            escape(&tooltip)
                        );
                    }
                    ChartKind::Bar => {
                        let width = slot * 0.8 / series_count;
                        let x = LEFT + slot * column as f64 + slot * 0.1 + width * series_index as f64;
                        let (top, bottom) =
                            if value >= 0.0 { (y_of(value), y_of(0.0)) } else { (y_of(0.0), y_of(value)) };
                        let _ = write!(
                            svg,
                            r#"<rect {attributes} x="{x:.2}" y="{top:.2}" width="{width:.2}" height="{:.2}" fill="{colour}"><title>{}</title></rect>"#,
                            (bottom - top).max(0.5),
                            escape(&tooltip)
                        );
                    }
                    _ => {
                        let base =
                            if value >= 0.0 { &mut stacked_positive[column] } else { &mut stacked_negative[column] };
                        let (top, bottom) = if value >= 0.0 {
                            (y_of(*base + value), y_of(*base))
                        } else {
                            (y_of(*base), y_of(*base + value))
                        };
                        *base += value;
                        let x = LEFT + slot * column as f64 + slot * 0.1;
                        let _ = write!(
                            svg,
                            r#"<rect {attributes} x="{x:.2}" y="{top:.2}" width="{:.2}" height="{:.2}" fill="{colour}"><title>{}</title></rect>"#,
                            slot * 0.8,
                            (bottom - top).max(0.5),
                            escape(&tooltip)
                        );
                    }
                }
            }
            if self.kind == ChartKind::Line && !path.is_empty() {
                let _ = write!(svg, r#"<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"/>"#);
            }
        }
        if let Some((threshold, label)) = &self.threshold {
            let y = y_of(*threshold);
            let _ = write!(
                svg,
                r##"<line class="threshold" data-value="{}" x1="{LEFT}" x2="{}" y1="{y:.2}" y2="{y:.2}" stroke="#d62728" stroke-dasharray="6 4"/><text x="{}" y="{:.2}" text-anchor="end" fill="#d62728">{}</text>"##,
                raw(*threshold),
                WIDTH - RIGHT,
                WIDTH - RIGHT,
                y - 4.0,
                escape(label)
            );
        }
        let _ =
            write!(svg, r##"<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{}" stroke="#8795a1"/>"##, HEIGHT - BOTTOM);
        self.draw_category_labels(svg, HEIGHT - BOTTOM, slot);
        // Legend, when there is more than one series.
        if self.series.len() > 1 {
            let mut x = LEFT;
            for (index, series) in self.series.iter().enumerate() {
                let _ = write!(
                    svg,
                    r#"<rect x="{x:.2}" y="{}" width="10" height="10" fill="{}"/><text x="{:.2}" y="{}">{}</text>"#,
                    HEIGHT - 14.0,
                    PALETTE[index % PALETTE.len()],
                    x + 14.0,
                    HEIGHT - 5.0,
                    escape(&series.name)
                );
                x += 24.0 + 6.5 * series.name.chars().count() as f64;
                if x > WIDTH - 60.0 {
                    break;
                }
            }
        }
    }

    /// The band as one filled polygon per run of categories where both bounds are
    /// known: along the upper bound, then back along the lower one.
    fn draw_band(&self, svg: &mut String, band: &Band, slot: f64, y_of: &dyn Fn(f64) -> f64) {
        let columns = self.categories.len();
        let bounds = |column: usize| Some((band.lower.get(column).copied()??, band.upper.get(column).copied()??));
        let mut column = 0;
        while column < columns {
            if bounds(column).is_none() {
                column += 1;
                continue;
            }
            let start = column;
            while column < columns && bounds(column).is_some() {
                column += 1;
            }
            let x = |column: usize| LEFT + slot * (column as f64 + 0.5);
            let mut points = Vec::new();
            for at in start..column {
                let (_, upper) = bounds(at).unwrap_or_default();
                points.push(format!("{:.2},{:.2}", x(at), y_of(upper)));
            }
            for at in (start..column).rev() {
                let (lower, _) = bounds(at).unwrap_or_default();
                points.push(format!("{:.2},{:.2}", x(at), y_of(lower)));
            }
            let _ = write!(
                svg,
                r##"<polygon class="band" data-series="{}" points="{}" fill="#1f77b4" fill-opacity="0.18" stroke="none"/>"##,
                escape(&band.name),
                points.join(" ")
            );
        }
    }

    fn draw_pie(&self, svg: &mut String, locale: Locale) {
        let Some(series) = self.series.first() else { return };
        let total: f64 = series.values.iter().flatten().filter(|value| **value > 0.0).sum();
        let (centre_x, centre_y, radius) = (170.0, HEIGHT / 2.0, 110.0);
        let mut angle = -std::f64::consts::FRAC_PI_2;
        let mut legend = 0;
        for (index, value) in series.values.iter().enumerate() {
            let Some(value) = value.filter(|value| *value > 0.0) else { continue };
            let category = self.categories.get(index).map(String::as_str).unwrap_or_default();
            let sweep = value / total * std::f64::consts::TAU;
            let colour = PALETTE[index % PALETTE.len()];
            let point = |angle: f64| (centre_x + radius * angle.cos(), centre_y + radius * angle.sin());
            let (start_x, start_y) = point(angle);
            let (end_x, end_y) = point(angle + sweep);
            let (shape, close) = if sweep >= std::f64::consts::TAU - 1e-9 {
                (format!(r#"<circle cx="{centre_x}" cy="{centre_y}" r="{radius}""#), "</circle>")
            } else {
                let path = format!(
                    r#"<path d="M{centre_x},{centre_y} L{start_x:.2},{start_y:.2} A{radius},{radius} 0 {} 1 {end_x:.2},{end_y:.2} Z""#,
                    u8::from(sweep > std::f64::consts::PI)
                );
                (path, "</path>")
            };
            let _ = write!(
                svg,
                r##"{shape} class="mark" fill="{colour}" stroke="#ffffff" data-series="{}" data-category="{}" data-value="{}"><title>{} : {}</title>{close}"##,
                escape(&series.name),
                escape(category),
                raw(value),
                escape(category),
                escape(&self.format_value(value, locale)),
            );
            let _ = write!(
                svg,
                r##"<rect x="320" y="{y}" width="10" height="10" fill="{colour}"/><text x="336" y="{}">{} — {} ({})</text>"##,
                TOP + 18.0 * legend as f64 + 9.0,
                escape(category),
                escape(&self.format_value(value, locale)),
                escape(&locale.format_percent(value / total * 100.0, 0)),
                y = TOP + 18.0 * legend as f64,
            );
            legend += 1;
            angle += sweep;
        }
    }

    fn draw_timeline(&self, svg: &mut String) {
        let value = |name: &str, index: usize| {
            self.series
                .iter()
                .find(|series| series.name == name)
                .and_then(|series| series.values.get(index).copied().flatten())
        };
        let days: Vec<f64> = (0..self.categories.len())
            .flat_map(|index| [value("start", index), value("end", index)])
            .flatten()
            .collect();
        let first = days.iter().copied().fold(f64::INFINITY, f64::min);
        let last = days.iter().copied().fold(f64::NEG_INFINITY, f64::max) + 1.0;
        let (left, plot) = (180.0, WIDTH - 180.0 - RIGHT);
        let x = |day: f64| left + (day - first) / (last - first).max(1.0) * plot;
        // Month boundaries as the time axis.
        let mut month =
            chrono::NaiveDate::from_num_days_from_ce_opt(first as i32).map(|date| date.with_day(1).unwrap_or(date));
        let bottom = TOP + 22.0 * self.categories.len() as f64;
        while let Some(start) = month {
            let day = f64::from(start.num_days_from_ce());
            if day >= last {
                break;
            }
            if day >= first {
                let _ = write!(
                    svg,
                    r##"<line x1="{0:.2}" x2="{0:.2}" y1="{TOP}" y2="{bottom}" stroke="#d5dbe1"/><text x="{0:.2}" y="{1}" fill="#5b6b7c">{2}</text>"##,
                    x(day),
                    bottom + 16.0,
                    start.format("%m/%Y"),
                );
            }
            month = start.checked_add_months(chrono::Months::new(1));
        }
        for (index, label) in self.categories.iter().enumerate() {
            let (Some(start), Some(end)) = (value("start", index), value("end", index)) else { continue };
            let y = TOP + 22.0 * index as f64;
            let width = (x(end + 1.0) - x(start)).max(2.0);
            let done = value("percent", index).unwrap_or(0.0).clamp(0.0, 100.0);
            let _ = write!(
                svg,
                r##"<text x="{}" y="{}" text-anchor="end">{}</text><rect class="mark" x="{:.2}" y="{}" width="{width:.2}" height="14" rx="3" fill="#b9d3ee" data-series="{}" data-category="{}" data-value="{}"/><rect x="{:.2}" y="{}" width="{:.2}" height="14" rx="3" fill="#1f77b4"/>"##,
                left - 6.0,
                y + 12.0,
                escape(label),
                x(start),
                y + 2.0,
                escape(label),
                escape(label),
                raw(done),
                x(start),
                y + 2.0,
                width * done / 100.0,
            );
        }
    }

    /// Category labels under the plot, thinned so they do not overlap.
    fn draw_category_labels(&self, svg: &mut String, bottom: f64, slot: f64) {
        let longest = self.categories.iter().map(|label| label.chars().count()).max().unwrap_or(1) as f64;
        let every = ((longest * 6.5) / slot).ceil().max(1.0) as usize;
        for (index, label) in self.categories.iter().enumerate().filter(|(index, _)| index % every == 0) {
            let _ = write!(
                svg,
                r##"<text x="{:.2}" y="{}" text-anchor="middle" fill="#5b6b7c">{}</text>"##,
                LEFT + slot * (index as f64 + 0.5),
                bottom + 16.0,
                escape(label)
            );
        }
    }
}

fn kind_name(kind: ChartKind) -> &'static str {
    match kind {
        ChartKind::Line => "line",
        ChartKind::Bar => "bar",
        ChartKind::StackedBar => "stacked_bar",
        ChartKind::Kpi => "kpi",
        ChartKind::Heatmap => "heatmap",
        ChartKind::Pie => "pie",
        ChartKind::Timeline => "timeline",
        ChartKind::Map => "map",
    }
}

/// A value as written in `data-value`: shortest round-trip form, so tests can compare.
fn raw(value: f64) -> String {
    if value == value.trunc() && value.abs() < 1e15 { format!("{}", value as i64) } else { format!("{value}") }
}

/// From pale yellow (low) to dark red (high).
fn heat_colour(share: f64) -> String {
    let share = share.clamp(0.0, 1.0);
    let mix = |from: f64, to: f64| (from + (to - from) * share).round() as u8;
    format!("#{:02x}{:02x}{:02x}", mix(255.0, 165.0), mix(237.0, 15.0), mix(160.0, 21.0))
}

/// Axis bounds and a tick step of 1, 2 or 5 × 10ⁿ giving about five ticks.
fn nice_scale(low: f64, high: f64) -> (f64, f64, f64) {
    // All values equal (all zero, say): a unit span above the lowest.
    let high = if high > low { high } else { low + 1.0 };
    let span = high - low;
    let rough = span / 5.0;
    let magnitude = 10f64.powf(rough.log10().floor());
    let step =
        [1.0, 2.0, 5.0, 10.0].into_iter().map(|factor| factor * magnitude).find(|step| *step >= rough).unwrap_or(rough);
    let low = (low / step).floor() * step;
    let mut high = (high / step).ceil() * step;
    if high <= low {
        high = low + step;
    }
    (low, high, step)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(kind: ChartKind) -> Chart {
        Chart {
            kind,
            title: "POB <test>".into(),
            unit: "personnes".into(),
            categories: vec!["2026-11-01".into(), "2026-11-02".into()],
            series: vec![
                Series { name: "P1".into(), values: vec![Some(12.0), Some(1234.5)] },
                Series { name: "P2".into(), values: vec![None, Some(3.0)] },
            ],
            style: ValueStyle { decimals: 1, percent_of_one: false },
            threshold: Some((1500.0, "Lits".into())),
            band: None,
        }
    }

    fn marks(svg: &str) -> Vec<String> {
        svg.split("<")
            .filter(|element| element.contains("class=\"mark\""))
            .map(|element| {
                let attribute = |name: &str| {
                    let start = element.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                    element[start..start + element[start..].find('"').unwrap()].to_owned()
                };
                format!("{}|{}|{}", attribute("data-series"), attribute("data-category"), attribute("data-value"))
            })
            .collect()
    }

    #[test]
    fn every_kind_draws_each_value_once_with_its_data() {
        let expected = ["P1|2026-11-01|12", "P1|2026-11-02|1234.5", "P2|2026-11-02|3"];
        for kind in [ChartKind::Line, ChartKind::Bar, ChartKind::StackedBar, ChartKind::Heatmap] {
            let svg = chart(kind).to_svg(Locale::FrFr);
            assert_eq!(marks(&svg), expected, "{kind:?}");
            assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
            assert!(svg.contains("POB &lt;test&gt;"), "titles are escaped");
        }
        let pie = chart(ChartKind::Pie).to_svg(Locale::FrFr);
        assert_eq!(marks(&pie), ["P1|2026-11-01|12", "P1|2026-11-02|1234.5"]);
        assert!(pie.contains("2026-11-02 — 1\u{202f}234,5 (99\u{a0}%)"), "{pie}");
        let kpi = chart(ChartKind::Kpi).to_svg(Locale::FrFr);
        assert!(kpi.contains(r#"data-value="12">12,0</text>"#), "{kpi}");
    }

    #[test]
    fn values_are_written_in_the_locale() {
        let svg = chart(ChartKind::Bar).to_svg(Locale::FrFr);
        assert!(svg.contains("P1 · 2026-11-02 : 1\u{202f}234,5"), "{svg}");
        assert!(chart(ChartKind::Bar).to_svg(Locale::EnGb).contains("P1 · 2026-11-02 : 1,234.5"));
        let mut ratio = chart(ChartKind::Kpi);
        ratio.style = ValueStyle { decimals: 0, percent_of_one: true };
        ratio.series[0].values[0] = Some(0.734);
        assert!(ratio.to_svg(Locale::FrFr).contains(">73 %</text>"));
    }

    #[test]
    fn an_empty_chart_says_so_and_the_same_chart_gives_the_same_bytes() {
        let mut empty = chart(ChartKind::Line);
        empty.series.iter_mut().for_each(|series| series.values = vec![None, None]);
        assert!(empty.to_svg(Locale::FrFr).contains("Aucune donnée sur la période"));
        assert_eq!(
            chart(ChartKind::StackedBar).to_svg(Locale::FrFr),
            chart(ChartKind::StackedBar).to_svg(Locale::FrFr)
        );
    }

    #[test]
    fn a_band_is_shaded_behind_the_line_over_each_run_of_known_bounds() {
        let mut line = chart(ChartKind::Line);
        line.categories.push("2026-11-03".into());
        line.band = Some(Band {
            name: "95 %".into(),
            lower: vec![Some(10.0), None, Some(1000.0)],
            upper: vec![Some(20.0), Some(30.0), Some(2500.0)],
        });
        let svg = line.to_svg(Locale::FrFr);
        let bands: Vec<&str> = svg.split('<').filter(|element| element.starts_with("polygon class=\"band\"")).collect();
        assert_eq!(bands.len(), 2, "the unknown lower bound splits the band: {svg}");
        assert!(bands.iter().all(|band| band.contains(r#"data-series="95 %""#)));
        assert!(svg.find("class=\"band\"") < svg.find("class=\"mark\""), "the band lies behind the series");
        // The scale reaches the band's highest bound (2 500), above the threshold (1 500).
        assert!(svg.contains(">2\u{202f}500,0</text>"), "{svg}");
    }

    #[test]
    fn scales_use_round_steps() {
        assert_eq!(nice_scale(0.0, 1234.5), (0.0, 1500.0, 500.0));
        assert_eq!(nice_scale(-3.0, 7.0), (-4.0, 8.0, 2.0));
        assert_eq!(nice_scale(0.0, 0.0), (0.0, 1.0, 0.2));
    }
}
