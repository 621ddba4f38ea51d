//! PowerTrace's data blocks: `scenario` (a what-if scenario beside the baseline, as one
//! of its tables) and `forecast` (a site's or switchboard's demand forecast as a chart
//! with its interval band and the N-1 capacity, a table, or a one-sentence summary of
//! when the capacity is exceeded). Both read one site: the block's `site`, or the
//! document's when it names exactly one.

use chrono::NaiveDateTime;

use super::{DataRequest, DataTable, DocumentError, Fields, Node, Scope, Tone};
use crate::chart::{Band, Chart, ChartKind, Series, ValueStyle};
use crate::{Locale, inline};

/// The tables a `scenario` block shows (`view`), and their columns:
///
/// - `summary`: `figure` (a code: `connected_kw`, `demand_kw`, `demand_kva`,
///   `power_factor`, `installed_kva`, `available_kw`, `n1_kw`, `n2_kw`, `n1_loading`),
///   `baseline`, `scenario`, `unit`;
/// - `items`: `start`, `subject`, `action`, `tag`, `switchboard`, `description`, `kw`,
///   `kva`, `quantity` — the scenario's assumptions;
/// - `switchboards`: `switchboard`, `baseline_kw`, `scenario_kw`, `change_kw`,
///   `baseline_kva`, `scenario_kva`;
/// - `checks`: `check` (a code: `n1_overload`, `n2_overload`, `running_load_factor`,
///   `transformer_overload`, `power_factor`), `subject`, `value`, `limit`, `unit` — the
///   checks the scenario fails;
/// - `recommendations`: `recommendation` (a code: `generator`, `shed`,
///   `power_factor_correction`), `amount`, `unit`, `tags`.
pub const SCENARIO_VIEWS: [&str; 5] = ["summary", "items", "switchboards", "checks", "recommendations"];

/// How a `forecast` block shows its forecast (`view`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ForecastView {
    Chart,
    Table,
    Summary,
}

pub(super) fn forecast_view(fields: &Fields) -> Result<ForecastView, DocumentError> {
    match fields.raw_text("view")?.as_deref() {
        None | Some("chart") => Ok(ForecastView::Chart),
        Some("table") => Ok(ForecastView::Table),
        Some("summary") => Ok(ForecastView::Summary),
        Some(other) => Err(fields.error("view", format!("unknown view `{other}` (chart, table, summary)"))),
    }
}

/// The one site a PowerTrace block reads.
fn one_site(fields: &Fields, scope: &Scope) -> Result<String, DocumentError> {
    let sites = fields.sites(scope)?;
    match sites.as_slice() {
        [site] if !site.trim().is_empty() => Ok(site.trim().to_owned()),
        [] => {
            Err(fields.error("site", "a PowerTrace block reads one site: give `site`, or pick a site for the document"))
        }
        _ => {
            Err(fields
                .error("site", format!("a PowerTrace block reads one site, not {}: give `site`", sites.join(", "))))
        }
    }
}

fn optional(fields: &Fields, member: &str) -> Result<Option<String>, DocumentError> {
    Ok(fields.raw_text(member)?.map(|text| text.trim().to_owned()).filter(|text| !text.is_empty()))
}

pub(super) fn scenario_request(fields: &Fields, scope: &Scope) -> Result<DataRequest, DocumentError> {
    let view = fields.raw_text("view")?.unwrap_or_else(|| "summary".to_owned());
    if !SCENARIO_VIEWS.contains(&view.as_str()) {
        return Err(fields.error("view", format!("unknown view `{view}` ({})", SCENARIO_VIEWS.join(", "))));
    }
    Ok(DataRequest::Scenario {
        site: one_site(fields, scope)?,
        scenario: fields.required("scenario")?.trim().to_owned(),
        view,
    })
}

pub(super) fn forecast_request(fields: &Fields, scope: &Scope) -> Result<DataRequest, DocumentError> {
    forecast_view(fields)?;
    Ok(DataRequest::Forecast {
        site: one_site(fields, scope)?,
        switchboard: optional(fields, "switchboard")?,
        horizon: optional(fields, "horizon")?.unwrap_or_else(|| "7d".to_owned()),
        scenario: optional(fields, "scenario")?,
    })
}

/// One row of a forecast answer, with the capacity it is held against.
struct Step {
    at: String,
    forecast: f64,
    lower: Option<f64>,
    upper: Option<f64>,
    added: f64,
    capacity: Option<f64>,
}

/// The forecast's steps, and the capacity when it is the same at every step.
fn steps(table: &DataTable) -> (Vec<Step>, Option<f64>) {
    let steps: Vec<Step> = (0..table.rows.len())
        .filter_map(|row| {
            Some(Step {
                at: table.text(row, "at")?,
                forecast: table.number(row, "forecast")?,
                lower: table.number(row, "lower_95"),
                upper: table.number(row, "upper_95"),
                added: table.number(row, "added").unwrap_or(0.0),
                capacity: table.number(row, "capacity"),
            })
        })
        .collect();
    let first = steps.first().and_then(|step| step.capacity);
    let constant = first.filter(|first| steps.iter().all(|step| step.capacity == Some(*first)));
    (steps, constant)
}

/// A step's start as people read it: the local date and time.
fn moment(at: &str, locale: Locale) -> String {
    match NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M") {
        Ok(time) => format!("{} {}", locale.format_date_short(time.date()), time.format("%H:%M")),
        Err(_) => at.to_owned(),
    }
}

/// The forecast as a line with its 95 % band and the N-1 capacity line: the one drawing
/// of a forecast, for documents and the PowerTrace pages.
pub fn forecast_chart(table: &DataTable, title: &str, locale: Locale) -> Chart {
    let (steps, capacity) = steps(table);
    let french = locale == Locale::FrFr;
    let capacity_name = if french { "Capacité N-1" } else { "N-1 capacity" };
    let with_scenario = steps.iter().any(|step| step.added != 0.0);
    let name = match (french, with_scenario) {
        (true, false) => "Prévision",
        (true, true) => "Prévision avec le scénario",
        (false, false) => "Forecast",
        (false, true) => "Forecast with the scenario",
    };
    let mut series =
        vec![Series { name: name.to_owned(), values: steps.iter().map(|step| Some(step.forecast)).collect() }];
    // A capacity the scenario changes over the horizon is drawn as a line of its own.
    if capacity.is_none() && steps.iter().any(|step| step.capacity.is_some()) {
        series
            .push(Series { name: capacity_name.to_owned(), values: steps.iter().map(|step| step.capacity).collect() });
    }
    Chart {
        kind: ChartKind::Line,
        title: title.to_owned(),
        unit: "kW".to_owned(),
        categories: steps
            .iter()
            .map(|step| match NaiveDateTime::parse_from_str(&step.at, "%Y-%m-%d %H:%M") {
                Ok(time) => time.format("%d/%m %H:%M").to_string(),
                Err(_) => step.at.clone(),
            })
            .collect(),
        series,
        style: ValueStyle { decimals: 0, percent_of_one: false },
        threshold: capacity.map(|capacity| (capacity, capacity_name.to_owned())),
        band: Some(Band {
            name: if french { "Intervalle à 95 %" } else { "95 % interval" }.to_owned(),
            lower: steps.iter().map(|step| step.lower).collect(),
            upper: steps.iter().map(|step| step.upper).collect(),
        }),
    }
}

/// When the forecast meets the capacity, in one sentence with its figures.
fn forecast_summary(table: &DataTable, locale: Locale) -> (Tone, String) {
    let (steps, _) = steps(table);
    let french = locale == Locale::FrFr;
    let kw = |value: f64| format!("{} kW", locale.format_number(value, 0));
    let Some(peak) = steps.iter().max_by(|a, b| a.forecast.total_cmp(&b.forecast)) else {
        let text = if french { "Aucune prévision : pas de relevés." } else { "No forecast: no readings." };
        return (Tone::Neutral, text.to_owned());
    };
    if steps.iter().all(|step| step.capacity.is_none()) {
        let text = if french {
            format!("Pointe prévue de {} le {}.", kw(peak.forecast), moment(&peak.at, locale))
        } else {
            format!("Peak forecast demand of {} on {}.", kw(peak.forecast), moment(&peak.at, locale))
        };
        return (Tone::Info, text);
    }
    let over = |value: f64, step: &Step| step.capacity.is_some_and(|capacity| value > capacity);
    if let Some(step) = steps.iter().find(|step| over(step.forecast, step)) {
        let capacity = step.capacity.unwrap_or_default();
        let text = if french {
            format!(
                "La demande prévue dépasse la capacité N-1 ({}) à partir du {} ({}).",
                kw(capacity),
                moment(&step.at, locale),
                kw(step.forecast)
            )
        } else {
            format!(
                "Forecast demand exceeds the N-1 capacity ({}) from {} ({}).",
                kw(capacity),
                moment(&step.at, locale),
                kw(step.forecast)
            )
        };
        return (Tone::Danger, text);
    }
    if let Some(step) = steps.iter().find(|step| step.upper.is_some_and(|upper| over(upper, step))) {
        let (capacity, upper) = (step.capacity.unwrap_or_default(), step.upper.unwrap_or_default());
        let text = if french {
            format!(
                "La capacité N-1 ({}) tient selon la prévision (pointe {}), mais la borne haute de l'intervalle à 95 % la dépasse à partir du {} ({}).",
                kw(capacity),
                kw(peak.forecast),
                moment(&step.at, locale),
                kw(upper)
            )
        } else {
            format!(
                "The N-1 capacity ({}) holds on the forecast (peak {}), but the upper bound of the 95 % interval exceeds it from {} ({}).",
                kw(capacity),
                kw(peak.forecast),
                moment(&step.at, locale),
                kw(upper)
            )
        };
        return (Tone::Warning, text);
    }
    // The least room left, where the capacity is the lowest against the demand.
    let tightest = steps
        .iter()
        .filter(|step| step.capacity.is_some())
        .min_by(|a, b| {
            let room = |step: &Step| step.capacity.unwrap_or_default() - step.upper.unwrap_or(step.forecast);
            room(a).total_cmp(&room(b))
        })
        .unwrap_or(peak);
    let capacity = tightest.capacity.unwrap_or_default();
    let highest = steps.iter().filter_map(|step| step.upper).fold(peak.forecast, f64::max);
    let text = if french {
        format!(
            "La capacité N-1 ({}) tient sur tout l'horizon : pointe prévue {} le {}, borne haute à 95 % {}.",
            kw(capacity),
            kw(peak.forecast),
            moment(&peak.at, locale),
            kw(highest)
        )
    } else {
        format!(
            "The N-1 capacity ({}) holds over the whole horizon: peak forecast {} on {}, 95 % upper bound {}.",
            kw(capacity),
            kw(peak.forecast),
            moment(&peak.at, locale),
            kw(highest)
        )
    };
    (Tone::Success, text)
}

pub(super) fn forecast_node(
    fields: &Fields,
    id: String,
    table: &DataTable,
    view: ForecastView,
    locale: Locale,
) -> Result<Node, DocumentError> {
    let title = fields.text("title")?;
    Ok(match view {
        ForecastView::Summary => {
            let (tone, text) = forecast_summary(table, locale);
            Node::Callout { id, tone, title, text: inline::unstyled(text) }
        }
        _ => Node::Chart { id, chart: forecast_chart(table, &title, locale) },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DataColumn, Value, ValueFormat};

    fn forecast(capacity: Option<f64>, rows: &[(&str, f64, f64)]) -> DataTable {
        let column = |name: &str, format| DataColumn { name: name.into(), label: name.into(), format };
        DataTable {
            columns: vec![
                column("at", ValueFormat::Text),
                column("forecast", ValueFormat::Decimal),
                column("lower_95", ValueFormat::Decimal),
                column("upper_95", ValueFormat::Decimal),
                column("added", ValueFormat::Decimal),
                column("capacity", ValueFormat::Decimal),
            ],
            rows: rows
                .iter()
                .map(|(at, forecast, upper)| {
                    vec![
                        Value::Text((*at).into()),
                        Value::Number(*forecast),
                        Value::Number(forecast - (upper - forecast)),
                        Value::Number(*upper),
                        Value::Number(0.0),
                        capacity.map_or(Value::Null, Value::Number),
                    ]
                })
                .collect(),
            warehouse: Default::default(),
        }
    }

    const ROWS: [(&str, f64, f64); 3] = [
        ("2026-12-04 00:00", 700.0, 760.0),
        ("2026-12-04 12:00", 900.0, 1_010.0),
        ("2026-12-05 00:00", 1_050.0, 1_200.0),
    ];

    #[test]
    fn the_summary_names_the_first_step_past_the_capacity_on_the_forecast_then_on_its_band() {
        let summary = |capacity| forecast_summary(&forecast(capacity, &ROWS), Locale::EnGb);
        assert_eq!(
            summary(Some(1_000.0)),
            (
                Tone::Danger,
                "Forecast demand exceeds the N-1 capacity (1,000 kW) from 05/12/2026 00:00 (1,050 kW).".into()
            )
        );
        assert_eq!(
            summary(Some(1_100.0)),
            (
                Tone::Warning,
                "The N-1 capacity (1,100 kW) holds on the forecast (peak 1,050 kW), but the upper bound of the 95 % interval exceeds it from 05/12/2026 00:00 (1,200 kW).".into()
            )
        );
        assert_eq!(
            summary(Some(1_500.0)),
            (
                Tone::Success,
                "The N-1 capacity (1,500 kW) holds over the whole horizon: peak forecast 1,050 kW on 05/12/2026 00:00, 95 % upper bound 1,200 kW.".into()
            )
        );
        assert_eq!(summary(None), (Tone::Info, "Peak forecast demand of 1,050 kW on 05/12/2026 00:00.".into()));
    }

    #[test]
    fn a_capacity_the_scenario_changes_is_drawn_as_a_line_and_checked_step_by_step() {
        let mut table = forecast(Some(1_500.0), &ROWS);
        let capacity = table.column("capacity").unwrap();
        table.rows[2][capacity] = Value::Number(1_000.0);
        assert_eq!(
            forecast_summary(&table, Locale::EnGb),
            (
                Tone::Danger,
                "Forecast demand exceeds the N-1 capacity (1,000 kW) from 05/12/2026 00:00 (1,050 kW).".into()
            )
        );
        let chart = forecast_chart(&table, "Demand", Locale::EnGb);
        assert_eq!(chart.threshold, None);
        assert_eq!(chart.series[1].name, "N-1 capacity");
        assert_eq!(chart.series[1].values, [Some(1_500.0), Some(1_500.0), Some(1_000.0)]);
    }

    #[test]
    fn the_chart_draws_the_forecast_over_its_band_against_the_capacity() {
        let chart = forecast_chart(&forecast(Some(1_000.0), &ROWS), "Demande", Locale::FrFr);
        assert_eq!(chart.categories, ["04/12 00:00", "04/12 12:00", "05/12 00:00"]);
        assert_eq!(chart.series[0].name, "Prévision");
        assert_eq!(chart.series[0].values, [Some(700.0), Some(900.0), Some(1_050.0)]);
        assert_eq!(chart.threshold, Some((1_000.0, "Capacité N-1".into())));
        let band = chart.band.as_ref().expect("a band");
        assert_eq!(band.upper, [Some(760.0), Some(1_010.0), Some(1_200.0)]);
        assert_eq!(band.lower, [Some(640.0), Some(790.0), Some(900.0)]);
        assert!(chart.to_svg(Locale::FrFr).contains("class=\"band\""));
    }
}
