//! Every metric of the shipped catalog against a small fixture whose answers were
//! worked out by hand (`tests/fixtures/metrics/*.csv`, values noted in `expected.txt`),
//! including empty periods and a site with no data.

use std::fmt::Write as _;
use std::path::Path;

use opsflux_query::{Catalog, Cell, Engine, EngineSettings, MetricRequest};
use opsflux_warehouse::Warehouse;

/// The fixture tables, as `(schema.table, PostgreSQL CSV with a header)`.
pub fn fixture_tables() -> Vec<(String, String)> {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/metrics");
    let mut tables: Vec<(String, String)> = std::fs::read_dir(&directory)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "csv"))
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    tables.sort();
    tables
}

/// A warehouse holding the fixture, and an engine over it with the shipped catalog.
pub async fn fixture_engine(root: &Path) -> Engine {
    let tables = fixture_tables();
    let borrowed: Vec<(&str, &str)> = tables.iter().map(|(name, csv)| (name.as_str(), csv.as_str())).collect();
    opsflux_api::sample_warehouse::write_csv_tables(root, &borrowed).await.unwrap();
    Engine::open(Warehouse::open(root).unwrap(), Catalog::shipped().unwrap(), EngineSettings::default()).await.unwrap()
}

fn request(site: &str, from: &str, to: &str, grain: &str, by: &str) -> MetricRequest {
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    MetricRequest::from_text(Some(site), Some(from), Some(to), Some(grain), Some(by), today).unwrap()
}

fn number(value: f64) -> String {
    let text = format!("{value:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" { "0".to_owned() } else { text.to_owned() }
}

/// A metric request as `(metric, site, (from, to), grain, by)`.
type Case = (&'static str, &'static str, (&'static str, &'static str), &'static str, &'static str);

async fn answer(engine: &Engine, metric: &str, site: &str, from: &str, to: &str, grain: &str, by: &str) -> String {
    let result = engine.metric(metric, &request(site, from, to, grain, by), &opsflux_query::Scope::All).await.unwrap();
    let mut text =
        format!("{metric} site={} {from}..{to} grain={grain} by={by}\n", if site.is_empty() { "*" } else { site });
    let names: Vec<&str> = result.columns.iter().map(|column| column.name.as_str()).collect();
    let _ = writeln!(text, "  {}", names.join(" | "));
    if result.rows.is_empty() {
        text.push_str("  (no rows)\n");
    }
    for row in &result.rows {
        let cells: Vec<String> = row
            .iter()
            .map(|cell| match cell {
                Cell::Null => "∅".to_owned(),
                Cell::Number(value) => number(*value),
                Cell::Text(text) => text.clone(),
                Cell::Date(date) => date.to_string(),
            })
            .collect();
        let _ = writeln!(text, "  {}", cells.join(" | "));
    }
    text
}

#[tokio::test]
async fn every_metric_matches_the_values_worked_out_by_hand() {
    let directory = tempfile::tempdir().unwrap();
    let engine = fixture_engine(directory.path()).await;
    let march = ("2026-03-01", "2026-03-31");
    let four_days = ("2026-03-01", "2026-03-04");
    // (metric, site, period, grain, by)
    let cases: [Case; 40] = [
        // POB: nights of approved/completed stays; ALPHA 1,2,3,1 on 2 beds; BRAVO 0,1,0,0 on 3; CHARLIE none on 10.
        ("pob.people_on_board", "", four_days, "day", "site"),
        ("pob.people_on_board", "", four_days, "total", ""),
        // 8 person-nights over 4 × 15 bed-nights = 13.3 %; ALPHA 7/8, BRAVO 1/12, CHARLIE 0/40.
        ("pob.occupancy", "", four_days, "total", ""),
        ("pob.occupancy", "", four_days, "total", "site"),
        ("pob.occupancy", "CHARLIE", four_days, "total", "site"),
        // ALPHA holds 3 people on 2 beds on 3 March.
        ("pob.over_capacity", "", four_days, "day", "site"),
        // Approved 22 Feb (2 days), 25 Feb (4), 2 Mar (4.5) at ALPHA; 1 Mar (0.5) at BRAVO.
        ("pob.approval_lead_time", "", ("2026-02-01", "2026-03-31"), "month", "site"),
        // Legs of T1 (helicopter, 10 seats): 4 then 2 passengers; T2 cancelled; T3 is a vessel without seats.
        ("travel.seat_occupancy", "", march, "total", "vehicle_type"),
        ("travel.seat_occupancy", "", march, "total", "site"),
        ("travel.seat_occupancy", "", march, "total", "leg"),
        // 400 kg and 180 kg of 1000; 2000 kg of 5000.
        ("travel.payload_utilisation", "", march, "total", "vehicle_type"),
        ("travel.payload_utilisation", "", march, "total", ""),
        // T1: 600 L, 100 NM, 2 h; T3: 250 L, 50 NM; a log without a trip is left out.
        ("travel.fuel", "", march, "total", "vehicle_type"),
        ("moc.requests_by_state", "", march, "month", "state"),
        // Cycles of 10, 20 and 4 days: p50 10, p90 18 (interpolated).
        ("moc.cycle_time", "", march, "total", ""),
        // Decided two days late at ALPHA; still pending past 12 March at BRAVO.
        ("moc.overdue_approvals", "", march, "total", "site"),
        ("cleanvue.five_s_score", "", ("2026-03-01", "2026-04-30"), "month", "site"),
        ("cleanvue.five_s_score", "", march, "total", "zone"),
        // The rejected request at BRAVO is left out.
        ("cleanvue.scrapping_volume", "", march, "total", "site"),
        ("hse.incidents", "", march, "total", "severity"),
        // ALPHA: 2 incidents in 7 × 12 h; BRAVO: 1 in 12 h; CHARLIE: no hours, no rate.
        ("hse.incident_rate", "", four_days, "total", "site"),
        ("hse.incident_rate", "", four_days, "total", ""),
        ("projects.task_completion", "", march, "total", "site"),
        ("projects.overdue_tasks", "", march, "total", "site"),
        ("projects.budget", "", march, "total", "site"),
        ("projects.budget", "", march, "total", ""),
        // ALPHA MSB 150, 250, 150 then 300 kW; ESB 10, 20, 30 then 0; BRAVO 40 ×3 then 10.
        ("power.energy", "", ("2026-03-01", "2026-03-02"), "day", "site"),
        ("power.energy", "ALPHA", ("2026-03-01", "2026-03-02"), "total", "switchboard"),
        ("power.peak_demand", "", march, "total", "site"),
        ("power.load_factor", "", march, "total", "site"),
        ("power.switchboard_peak_demand", "", march, "total", "site,switchboard"),
        ("power.switchboard_load_factor", "", march, "total", "site,switchboard"),
        // ALPHA crane 12 h, 6 h + 6 h across midnight (the overlapping request is not
        // booked); ALPHA room 2 h (the cancelled overlap is left out); BRAVO pick-up 24 h.
        // 1-4 March: 26 h of 8 × 24 h at ALPHA, 24 h of 4 × 24 h at BRAVO.
        ("organizer.utilisation", "", four_days, "total", "site"),
        ("organizer.utilisation", "", four_days, "total", "kind"),
        ("organizer.utilisation", "ALPHA", four_days, "day", "resource"),
        ("organizer.reservations", "", march, "total", "status"),
        // The request for 20:00-22:00 on 2 March collides with the night lift.
        ("organizer.conflicts", "", march, "total", "site,resource"),
        // Acme's P1-P3 at ALPHA (3 + 2 + 2 nights); Delta's P5 at BRAVO (1 night).
        ("tiers.presence", "", four_days, "total", "site"),
        ("tiers.presence", "", four_days, "total", "kind"),
        ("tiers.contacts", "", four_days, "total", "site,kind"),
    ];
    let mut text = String::new();
    for (metric, site, (from, to), grain, by) in cases {
        text.push_str(&answer(&engine, metric, site, from, to, grain, by).await);
    }
    // A total with no dimension is one ungrouped aggregate: counts of nothing are 0,
    // other measures are null; grouped totals have no rows.
    text.push_str("\nEvery metric, January 2025 (before any data):\n");
    for metric in engine.catalog().metrics() {
        let by = metric.required.join(",");
        let result = engine
            .metric(&metric.name, &request("", "2025-01-01", "2025-01-31", "total", &by), &opsflux_query::Scope::All)
            .await
            .unwrap();
        let cells: Vec<String> = result
            .rows
            .iter()
            .flatten()
            .skip(1)
            .map(|cell| match cell {
                Cell::Number(value) => number(*value),
                _ => "∅".to_owned(),
            })
            .collect();
        let values = if cells.is_empty() { String::new() } else { format!(": {}", cells.join(" | ")) };
        let _ = writeln!(text, "  {}: {} rows{values}", metric.name, result.rows.len());
    }
    expect_test::expect_file!["../fixtures/metrics/expected.txt"].assert_eq(&text);
}

#[tokio::test]
async fn results_name_the_warehouse_versions_they_read_and_are_cached_per_pin() {
    let directory = tempfile::tempdir().unwrap();
    let engine = fixture_engine(directory.path()).await;
    let pob = request("", "2026-03-01", "2026-03-04", "total", "");
    let first = engine.metric("pob.occupancy", &pob, &opsflux_query::Scope::All).await.unwrap();
    let read: Vec<String> = first.warehouse.iter().map(|(table, version)| format!("{table} {version}")).collect();
    assert_eq!(read, ["core.sites v0", "pob.stays v0"]);
    let again = engine.metric("pob.occupancy", &pob, &opsflux_query::Scope::All).await.unwrap();
    assert!(std::sync::Arc::ptr_eq(&first, &again), "the same request on the same pin is answered from the cache");
    // Nothing changed: refreshing keeps the pin (and its rollups).
    assert_eq!(engine.refresh().await.unwrap().generation, first.pin);
}

#[tokio::test]
async fn a_definition_that_does_not_plan_stops_the_start_with_its_file_and_field() {
    let directory = tempfile::tempdir().unwrap();
    fixture_engine(directory.path()).await;
    let shipped = Catalog::shipped().unwrap();
    let bad = r#"
[[metric]]
name = "pob.beds"
title = "Lits"
description = "Lits par site"
unit = "lits"
chart = "bar"
grain = "day"
date = "day"
source = "SELECT site, day, capacity FROM rollup.pob_daily"
measures = [{ name = "beds", label = "Lits", sql = "sum(capacity_beds)", format = "integer" }]
"#;
    let mut files: Vec<(&str, &str)> = opsflux_query::catalog::SHIPPED.to_vec();
    files.push(("metrics/beds.toml", bad));
    let catalog = Catalog::from_files(files).unwrap();
    assert_eq!(catalog.metrics().count(), shipped.metrics().count() + 1);
    let error = Engine::open(Warehouse::open(directory.path()).unwrap(), catalog, EngineSettings::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("metrics/beds.toml: metric (pob.beds).measures: "), "{error}");
    assert!(error.contains("capacity_beds"), "{error}");

    let no_date = bad.replace("date = \"day\"", "date = \"when\"").replace("capacity_beds", "capacity");
    let mut files: Vec<(&str, &str)> = opsflux_query::catalog::SHIPPED.to_vec();
    files.push(("metrics/beds.toml", &no_date));
    let error = Engine::open(
        Warehouse::open(directory.path()).unwrap(),
        Catalog::from_files(files).unwrap(),
        EngineSettings::default(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert_eq!(error, "metrics/beds.toml: metric (pob.beds).source: the source returns no column `when`");
}

#[tokio::test]
async fn metrics_whose_tables_are_not_in_the_warehouse_yet_have_no_rows() {
    let directory = tempfile::tempdir().unwrap();
    fixture_engine(directory.path()).await;
    // As during a first copy: some tables not created yet.
    std::fs::remove_dir_all(directory.path().join("pob/stays")).unwrap();
    std::fs::remove_dir_all(directory.path().join("hse")).unwrap();
    let engine = Engine::open(
        Warehouse::open(directory.path()).unwrap(),
        Catalog::shipped().unwrap(),
        EngineSettings::default(),
    )
    .await
    .unwrap();
    let march = request("", "2026-03-01", "2026-03-31", "total", "");
    for metric in ["pob.occupancy", "hse.incidents", "hse.incident_rate"] {
        assert_eq!(engine.metric(metric, &march, &opsflux_query::Scope::All).await.unwrap().rows.len(), 0, "{metric}");
    }
    let energy = engine.metric("power.energy", &march, &opsflux_query::Scope::All).await.unwrap();
    assert_eq!(energy.rows, [vec![Cell::Date("2026-03-01".parse().unwrap()), Cell::Number(260.0)]]);
}
