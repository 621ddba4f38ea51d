//! Sample data: deterministic per seed, loaded whole or not at all, and shaped like a
//! real operation (POB over capacity on some days, crews changing on set weekdays).

use opsflux_sample_data::{Dataset, Options, SampleDataError};
use opsflux_tests::{migrated_pool, table_checksums};

async fn load(pool: &sqlx::PgPool, seed: u64) -> u64 {
    let dataset = Dataset::generate(Options::new(seed, 0.01).unwrap());
    let mut connection = pool.acquire().await.unwrap();
    opsflux_sample_data::load(&mut connection, &dataset, |_| {}).await.unwrap().total_rows()
}

#[tokio::test]
async fn same_seed_gives_identical_tables_and_another_seed_different_ones() {
    let (_, first) = migrated_pool("seed_a").await;
    let (_, second) = migrated_pool("seed_b").await;
    let (_, other) = migrated_pool("seed_c").await;
    let rows = load(&first, 7).await;
    assert_eq!(load(&second, 7).await, rows);
    load(&other, 8).await;

    let first = table_checksums(&first).await;
    let second = table_checksums(&second).await;
    let other = table_checksums(&other).await;
    assert_eq!(first, second, "the same seed must give the same rows in every table");
    // Sign-in state (sessions, refresh tokens, the signing key), deliveries, alert
    // state and the history of scenarios (versions saved and evaluations run) are made
    // by the running server, never by sample data: a sample scenario is its version 1.
    let sign_in_state = [
        "platform.alert_evaluations",
        "platform.alert_rules",
        "platform.alert_states",
        "platform.deliveries",
        "platform.notifications",
        "platform.refresh_tokens",
        "platform.sessions",
        "platform.signing_keys",
        "powertrace.scenario_evaluations",
        "powertrace.scenario_versions",
    ];
    let empty: Vec<&str> = first.iter().filter(|(_, rows, _)| *rows == 0).map(|(table, _, _)| table.as_str()).collect();
    assert_eq!(empty, sign_in_state, "every other table holds sample rows");
    let unchanged: Vec<&str> =
        first.iter().zip(&other).filter(|(mine, theirs)| mine.2 == theirs.2).map(|(mine, _)| mine.0.as_str()).collect();
    assert_eq!(unchanged, sign_in_state, "another seed changes every other table");
}

#[tokio::test]
async fn loading_twice_is_refused_and_changes_nothing() {
    let (url, pool) = migrated_pool("twice").await;
    load(&pool, 3).await;
    let before = table_checksums(&pool).await;
    let dataset = Dataset::generate(Options::new(4, 0.01).unwrap());
    let mut connection = pool.acquire().await.unwrap();
    let error = opsflux_sample_data::load(&mut connection, &dataset, |_| {}).await.unwrap_err();
    assert!(
        matches!(error, SampleDataError::DatabaseNotEmpty { ref table, rows: 10 } if table == "core.sites"),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "the database already holds 10 rows in core.sites: sample data loads only into an empty, migrated database"
    );
    drop(connection);
    assert_eq!(table_checksums(&pool).await, before);

    // Without migrations the loader says what to do.
    let bare = opsflux_tests::server().empty_database("bare").await;
    let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(&bare).await.unwrap();
    let error = opsflux_sample_data::load(&mut connection, &dataset, |_| {}).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "the database has no table core.sites: apply the migrations first (`opsflux migrate`)"
    );
    let _ = url;
}

#[tokio::test]
async fn the_sample_world_behaves_like_an_operation() {
    let (_, pool) = migrated_pool("world").await;
    load(&pool, 42).await;
    // POB per site and night: some sites exceed their bed capacity on some days.
    let over_capacity_days: i64 = sqlx::query_scalar(
        "WITH nights AS (
             SELECT s.id, s.bed_capacity, d::date AS night
             FROM core.sites s, generate_series(date '2026-10-10', date '2026-11-15', interval '1 day') d)
         SELECT count(*) FROM nights n
         WHERE (SELECT count(*) FROM pob.stays st WHERE st.site_id = n.id AND st.status IN ('approved', 'completed')
                AND st.arrival_date <= n.night AND n.night < st.departure_date) > n.bed_capacity",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(over_capacity_days > 0, "POB never exceeds capacity");

    // Crew-change weekdays fill the helicopters; other days carry a few visitors.
    let (crew_day_load, other_day_load): (f64, f64) = sqlx::query_as(
        "WITH legs AS (
             SELECT l.id, extract(isodow FROM l.departs_at)::int - 1 AS weekday, v.seat_capacity,
                    (SELECT count(*) FROM travel.manifest_passengers p WHERE p.trip_leg_id = l.id) AS passengers,
                    (SELECT code FROM core.sites WHERE id = l.to_site_id) AS destination
             FROM travel.trip_legs l JOIN travel.trips t ON t.id = l.trip_id JOIN travel.vehicles v ON v.id = t.vehicle_id
             WHERE v.kind = 'helicopter' AND l.leg_number = 1 AND t.status = 'completed')
         SELECT avg(passengers::float8 / seat_capacity) FILTER (WHERE destination = 'MRN' AND weekday IN (2, 6)),
                avg(passengers::float8 / seat_capacity) FILTER (WHERE destination = 'MRN' AND weekday NOT IN (2, 6))
         FROM legs",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(crew_day_load > 2.0 * other_day_load, "crew days {crew_day_load:.2} vs other days {other_day_load:.2}");

    // Meter readings: 96 a day per meter, with outages reading zero.
    let (per_meter_day, zero_readings): (f64, i64) = sqlx::query_as(
        "SELECT count(*)::float8 / count(DISTINCT meter_id) / count(DISTINCT read_at::date), count(*) FILTER (WHERE kw = 0)
         FROM powertrace.meter_readings",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(per_meter_day, 96.0);
    assert!(zero_readings > 0);
}

#[tokio::test]
async fn the_migrations_declare_exactly_what_the_catalog_holds() {
    let (url, _pool) = migrated_pool("declared").await;
    let source = opsflux_ingest::source::Source::parse(&url).unwrap();
    let mut connection = source.connect().await.unwrap();
    let (mut catalog, skipped) = opsflux_ingest::snapshot::discover_tables(&mut connection).await.unwrap();
    assert_eq!(skipped, []);
    let mut declared: Vec<_> = opsflux_api::sample_warehouse::migration_tables()
        .unwrap()
        .into_iter()
        .map(|declared| declared.table)
        .filter(|table| opsflux_query::scope::is_queryable(&table.id))
        .collect();
    catalog.sort_by(|left, right| left.id.cmp(&right.id));
    declared.sort_by(|left, right| left.id.cmp(&right.id));
    assert_eq!(declared.len(), catalog.len());
    for (declared, catalog) in declared.iter().zip(&catalog) {
        assert_eq!(declared, catalog, "{} as the migrations declare it vs the catalog", catalog.id);
    }
}

#[tokio::test]
async fn sample_data_written_into_the_warehouse_equals_the_database_loaded_with_it() {
    let (url, pool) = migrated_pool("sample_warehouse").await;
    load(&pool, 11).await;
    let directory = tempfile::tempdir().unwrap();
    let root = directory.path().join("warehouse");
    let run = |root: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_opsflux-under-test"))
            .args(["sample-data", "--seed", "11", "--scale", "0.01", "--end-date", "2026-11-16", "--warehouse"])
            .arg(root)
            .env_remove("OPSFLUX_DATABASE_URL")
            .output()
            .unwrap()
    };
    let output = run(&root);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let warehouse = opsflux_warehouse::Warehouse::open(&root).unwrap();
    let (counts, differences) = crate::capture::compare(&url, &warehouse).await;
    assert!(differences.is_empty(), "the warehouse differs from PostgreSQL:\n{}", differences.join("\n"));
    assert_eq!(counts.len(), warehouse.tables().await.unwrap().len());
    assert!(counts.iter().any(|line| line == "powertrace.meter_readings 106560"), "{counts:?}");

    // A second run would mix two data sets: refused, nothing changed.
    let readings: opsflux_warehouse::TableId = "powertrace.meter_readings".parse().unwrap();
    let version = warehouse.version(&readings).await.unwrap();
    let again = run(&root);
    assert!(!again.status.success());
    let message = String::from_utf8_lossy(&again.stderr);
    assert!(
        message.contains(&format!(
            "error: the warehouse {} already holds core.sites: sample data goes into an empty warehouse",
            root.display()
        )),
        "{message}"
    );
    assert_eq!(warehouse.version(&readings).await.unwrap(), version);
}

/// The POB of every site together on each day of `[from, to]`.
async fn daily_pob(engine: &opsflux_query::Engine, from: chrono::NaiveDate, to: chrono::NaiveDate) -> Vec<f64> {
    let request = opsflux_query::MetricRequest {
        sites: Vec::new(),
        from,
        to,
        grain: Some(opsflux_query::Grain::Day),
        by: Some(Vec::new()),
    };
    let result = engine.metric("pob.people_on_board", &request, &opsflux_query::Scope::All).await.unwrap();
    // With no dimension, the measure sums the sites' POB of the day.
    let (period, pob) = (result.column("period").unwrap(), result.column("pob").unwrap());
    let days = (to - from).num_days() + 1;
    assert_eq!(result.rows.len() as i64, days, "one row per day of the window");
    let mut rows: Vec<(String, f64)> =
        result.rows.iter().map(|row| (format!("{:?}", row[period]), row[pob].as_number().unwrap_or(0.0))).collect();
    rows.sort_by(|left, right| left.0.cmp(&right.0));
    rows.into_iter().map(|(_, pob)| pob).collect()
}

#[tokio::test]
async fn sample_data_ends_today_in_steady_state_and_fills_every_template() {
    let today = chrono::Local::now().date_naive();
    let directory = tempfile::tempdir().unwrap();
    let root = directory.path().join("warehouse");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_opsflux-under-test"))
        .args(["sample-data", "--scale", "0.1", "--warehouse"])
        .arg(&root)
        .env_remove("OPSFLUX_DATABASE_URL")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let engine = opsflux_query::Engine::open(
        opsflux_warehouse::Warehouse::open(&root).unwrap(),
        opsflux_query::Catalog::shipped().unwrap(),
        opsflux_query::EngineSettings::default(),
    )
    .await
    .unwrap();

    // Operations are in steady state from the first day of the window to its last
    // (today's eve): no ramp-up from zero, no fall before today.
    let options = Options::new(42, 0.1).unwrap().ending(today);
    let pob = daily_pob(&engine, options.start(), today - chrono::Days::new(1)).await;
    let mut sorted = pob.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let (first, last) = (pob[0], pob[pob.len() - 1]);
    for (day, value) in [("first", first), ("last", last)] {
        assert!((value - median).abs() <= 0.1 * median, "POB on the {day} day {value} vs median {median}: {pob:?}");
    }
    // Planned stays continue past today, as in a real system.
    let planned = daily_pob(&engine, today, today + chrono::Days::new(6)).await;
    assert!(planned.iter().all(|pob| *pob > 0.5 * median), "the week ahead: {planned:?} vs median {median}");

    // Every shipped template, with no parameters, finds data for its default period.
    for (name, _) in opsflux_api::documents::TEMPLATES {
        let bound = opsflux_api::documents::bind(
            &engine,
            opsflux_api::documents::template(name).unwrap(),
            &std::collections::BTreeMap::new(),
            today,
            &opsflux_query::Scope::All,
        )
        .await
        .unwrap_or_else(|error| panic!("{name}: {error}"));
        let mut empty = Vec::new();
        for node in &bound.nodes {
            match node {
                opsflux_render::bind::Node::Kpi { id, value, .. } if value.trim().is_empty() || value == "—" => {
                    empty.push(format!("KPI {id}"));
                }
                // Overdue approvals are a month's exceptions: a month in which every
                // approval was decided in time has none, and its table says so.
                opsflux_render::bind::Node::DataTable { id, .. } if id == "table-overdue" => {}
                opsflux_render::bind::Node::DataTable { id, rows, .. } if rows.is_empty() => {
                    empty.push(format!("table {id}"));
                }
                _ => {}
            }
        }
        assert!(empty.is_empty(), "{name} on {today}: empty {empty:?}");
    }
}
