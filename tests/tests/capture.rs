//! Change data capture end to end: a real PostgreSQL, a random workload running while
//! ingestion copies and streams, and every warehouse table compared with its source
//! table afterwards — also with the ingest process killed over and over, and PostgreSQL
//! restarted under it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use opsflux_ingest::rows::RowBatchBuilder;
use opsflux_ingest::snapshot::{self, parse_copy_line};
use opsflux_ingest::source::Source;
use opsflux_ingest::{IngestOptions, Ingestor, LogObserver, Outcome, ReplicationNames};
use opsflux_warehouse::Warehouse;
use opsflux_warehouse::arrow::array::{ArrayRef, RecordBatch, new_null_array};
use opsflux_warehouse::arrow::datatypes::{DataType, Field};
use opsflux_warehouse::arrow::util::display::{ArrayFormatter, FormatOptions};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;

use crate::ingest::read_with_python_deltalake;

/// Test settings: small commits and chunks so that even small tables exercise chunked
/// copies and many commits.
fn options(slot: &str, until_caught_up: bool) -> IngestOptions {
    IngestOptions {
        // Slots belong to the whole server, which tests share: one name per test.
        names: ReplicationNames::new(slot, slot).unwrap(),
        commit_interval: Duration::from_millis(100),
        rows_per_chunk: 20_000,
        rows_per_commit: 10_000,
        heartbeat_interval: Duration::from_secs(1),
        // Compaction runs often, racing the stream's own commits.
        maintenance_interval: Duration::from_secs(1),
        compaction_min_files: 4,
        discover_interval: Duration::from_secs(1),
        until_caught_up,
        ..IngestOptions::default()
    }
}

async fn catch_up(url: &str, slot: &str, warehouse: &Warehouse) -> Outcome {
    catch_up_with(url, options(slot, true), warehouse).await
}

async fn catch_up_with(url: &str, options: IngestOptions, warehouse: &Warehouse) -> Outcome {
    let ingestor = Ingestor::new(Source::parse(url).unwrap(), warehouse.clone(), options, Arc::new(LogObserver));
    let (_stop_sender, stop) = watch::channel(false);
    tokio::time::timeout(Duration::from_secs(300), ingestor.run(stop))
        .await
        .expect("catching up took more than 5 minutes")
        .unwrap_or_else(|error| panic!("ingest failed: {error}"))
}

/// Loads a little sample data and the workload's own tables (including one without a
/// primary key, which is reported and left out).
async fn prepare_source(pool: &PgPool, seed: u64) {
    let mut connection = pool.acquire().await.unwrap();
    let dataset = opsflux_sample_data::Dataset::generate(opsflux_sample_data::Options::new(seed, 0.01).unwrap());
    opsflux_sample_data::load(&mut connection, &dataset, |_| {}).await.unwrap();
    sqlx::raw_sql(
        "CREATE SCHEMA lab;
         CREATE TABLE lab.notes (
             id uuid PRIMARY KEY, title text NOT NULL, body text, weight numeric(8,2), counter int,
             flag boolean, noted_on date, measured_at timestamptz, payload jsonb, blob bytea);
         -- Long bodies are stored out of line, so updates that leave them alone do not resend them.
         ALTER TABLE lab.notes ALTER COLUMN body SET STORAGE EXTERNAL;
         CREATE TABLE lab.pairs (site int, tag text, value double precision, PRIMARY KEY (site, tag));
         CREATE TABLE lab.doomed (id int PRIMARY KEY, note text);
         INSERT INTO lab.doomed SELECT g, 'note ' || g FROM generate_series(1, 50) g;
         CREATE TABLE lab.no_key (note text);",
    )
    .execute(&mut *connection)
    .await
    .unwrap();
}

/// Random inserts, updates of random columns (long TOASTed text included), deletes,
/// key changes and multi-statement transactions; one TRUNCATE, columns added with a
/// constant default (nullable and `NOT NULL`) and with a volatile one to a table holding
/// rows, one RENAME COLUMN, one DROP COLUMN and one type widening; a table dropped, and
/// one created and filled while capture runs.
struct Workload {
    rng: ChaCha8Rng,
    notes: Vec<uuid::Uuid>,
    pairs: Vec<(i32, String)>,
    readings: Vec<uuid::Uuid>,
    meters: Vec<uuid::Uuid>,
    steps: usize,
    truncate_at: usize,
    add_column_at: usize,
    added_column: bool,
    drop_column_at: usize,
    widen_column_at: usize,
    dropped_column: bool,
    rename_column_at: usize,
    renamed_column: bool,
    volatile_column_at: usize,
    drop_table_at: usize,
    create_table_at: usize,
    late_rows: Option<i32>,
}

impl Workload {
    async fn new(pool: &PgPool, seed: u64, steps: usize) -> Self {
        let meters = sqlx::query_scalar("SELECT id FROM powertrace.meters ORDER BY id").fetch_all(pool).await.unwrap();
        let readings = sqlx::query_scalar("SELECT id FROM powertrace.meter_readings ORDER BY id LIMIT 2000")
            .fetch_all(pool)
            .await
            .unwrap();
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            notes: Vec::new(),
            pairs: Vec::new(),
            readings,
            meters,
            steps,
            truncate_at: steps / 3,
            add_column_at: steps / 2,
            added_column: false,
            drop_column_at: steps * 2 / 3,
            widen_column_at: steps * 3 / 4,
            dropped_column: false,
            rename_column_at: steps * 7 / 12,
            renamed_column: false,
            volatile_column_at: steps * 5 / 8,
            drop_table_at: steps * 2 / 5,
            create_table_at: steps * 9 / 20,
            late_rows: None,
        }
    }

    fn uuid(&mut self) -> uuid::Uuid {
        uuid::Builder::from_random_bytes(self.rng.random()).into_uuid()
    }

    fn text(&mut self, long: bool) -> String {
        let words = [
            "relève",
            "pompe",
            "fuite",
            "d'équipe",
            "tableau",
            "groupe",
            "électrogène",
            "\"quoted\"",
            "tab\there",
            "line\nbreak",
            "back\\slash",
        ];
        let count = if long { self.rng.random_range(600..1500) } else { self.rng.random_range(1..8) };
        (0..count).map(|_| words[self.rng.random_range(0..words.len())]).collect::<Vec<_>>().join(" ")
    }

    /// Runs step `index`: one statement, or a transaction of several.
    async fn step(&mut self, pool: &PgPool, index: usize) -> Result<(), sqlx::Error> {
        if index == self.truncate_at {
            sqlx::query("TRUNCATE lab.pairs").execute(pool).await?;
            self.pairs.clear();
            return Ok(());
        }
        if index == self.add_column_at {
            sqlx::query(
                "ALTER TABLE lab.notes ADD COLUMN reviewer text DEFAULT 'nobody', ADD COLUMN revision int NOT NULL DEFAULT 1",
            )
            .execute(pool)
            .await?;
            self.added_column = true;
            return Ok(());
        }
        if index == self.rename_column_at {
            sqlx::query("ALTER TABLE lab.notes RENAME COLUMN noted_on TO noted").execute(pool).await?;
            self.renamed_column = true;
            return Ok(());
        }
        if index == self.drop_table_at {
            sqlx::query("DROP TABLE lab.doomed").execute(pool).await?;
            return Ok(());
        }
        if index == self.create_table_at {
            sqlx::query("CREATE TABLE lab.late (id int PRIMARY KEY, note text, at timestamptz DEFAULT now())")
                .execute(pool)
                .await?;
            self.late_rows = Some(0);
            return Ok(());
        }
        if let Some(rows) = self.late_rows
            && self.rng.random_bool(0.2)
        {
            sqlx::query("INSERT INTO lab.late (id, note) SELECT g, 'late ' || g FROM generate_series($1, $1 + 9) g ON CONFLICT DO NOTHING")
                .bind(rows)
                .execute(pool)
                .await?;
            self.late_rows = Some(rows + 10);
        }
        if index == self.volatile_column_at {
            // A volatile default rewrites the table: each stored row gets its own value.
            sqlx::query("ALTER TABLE lab.notes ADD COLUMN stamp text DEFAULT md5(random()::text)")
                .execute(pool)
                .await?;
            return Ok(());
        }
        if index == self.drop_column_at {
            sqlx::query("ALTER TABLE lab.notes DROP COLUMN blob").execute(pool).await?;
            self.dropped_column = true;
            return Ok(());
        }
        if index == self.widen_column_at {
            sqlx::query("ALTER TABLE lab.notes ALTER COLUMN counter TYPE bigint").execute(pool).await?;
            return Ok(());
        }
        let mut transaction = pool.begin().await?;
        let statements = if self.rng.random_bool(0.3) { self.rng.random_range(2..8) } else { 1 };
        for _ in 0..statements {
            self.statement(&mut transaction).await?;
        }
        transaction.commit().await
    }

    async fn statement(&mut self, connection: &mut PgConnection) -> Result<(), sqlx::Error> {
        match self.rng.random_range(0..100) {
            0..=24 => {
                let id = self.uuid();
                let long = self.rng.random_bool(0.3);
                let body = if self.rng.random_bool(0.1) { None } else { Some(self.text(long)) };
                let title = self.text(false);
                let blob: Vec<u8> = (0..self.rng.random_range(0..16)).map(|_| self.rng.random()).collect();
                let noted = if self.renamed_column { "noted" } else { "noted_on" };
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO lab.notes (id, title, body, weight, counter, flag, {noted}, measured_at, payload)
                     VALUES ($1, $2, $3, round(($4)::numeric, 2), $5, $6, date '2026-01-01' + $7::int,
                             timestamptz '2026-01-01 00:00:00+00' + make_interval(secs => $8), jsonb_build_object('n', $5))"
                )))
                .bind(id)
                .bind(title)
                .bind(body)
                .bind(self.rng.random_range(-1000.0..1000.0f64))
                .bind(self.rng.random_range(-5000..5000i32))
                .bind(self.rng.random_bool(0.5))
                .bind(self.rng.random_range(0..400i32))
                .bind(self.rng.random_range(0.0..3.0e7f64))
                .execute(&mut *connection)
                .await?;
                if !self.dropped_column {
                    sqlx::query("UPDATE lab.notes SET blob = $2 WHERE id = $1")
                        .bind(id)
                        .bind(blob)
                        .execute(&mut *connection)
                        .await?;
                }
                self.notes.push(id);
            }
            25..=49 if !self.notes.is_empty() => {
                let id = self.notes[self.rng.random_range(0..self.notes.len())];
                // Random columns; the long body only now and then, so most updates leave it.
                let mut assignments = Vec::new();
                if self.rng.random_bool(0.5) {
                    assignments.push(format!("title = '{}'", self.text(false).replace('\'', "''")));
                }
                if self.rng.random_bool(0.5) {
                    assignments.push("counter = coalesce(counter, 0) + 1".to_owned());
                }
                if self.rng.random_bool(0.3) {
                    assignments.push("weight = NULL, flag = NOT coalesce(flag, false)".to_owned());
                }
                if self.rng.random_bool(0.3) {
                    assignments.push("payload = payload || '{\"edited\": true}'".to_owned());
                }
                if self.rng.random_bool(0.1) {
                    let long = self.rng.random_bool(0.5);
                    assignments.push(format!("body = '{}'", self.text(long).replace('\'', "''")));
                }
                if self.added_column && self.rng.random_bool(0.5) {
                    assignments.push(format!("reviewer = 'reviewer {}'", self.rng.random_range(0..50)));
                }
                if assignments.is_empty() {
                    assignments.push("measured_at = measured_at + interval '1 minute'".to_owned());
                }
                let statement = format!("UPDATE lab.notes SET {} WHERE id = $1", assignments.join(", "));
                sqlx::query(sqlx::AssertSqlSafe(statement)).bind(id).execute(&mut *connection).await?;
            }
            50..=57 if !self.notes.is_empty() => {
                let id = self.notes.swap_remove(self.rng.random_range(0..self.notes.len()));
                sqlx::query("DELETE FROM lab.notes WHERE id = $1").bind(id).execute(&mut *connection).await?;
            }
            58..=69 => {
                let pair = (self.rng.random_range(1..20), format!("tag-{}", self.rng.random_range(0..40)));
                sqlx::query(
                    "INSERT INTO lab.pairs VALUES ($1, $2, $3) ON CONFLICT (site, tag) DO UPDATE SET value = excluded.value",
                )
                .bind(pair.0)
                .bind(&pair.1)
                .bind(self.rng.random_range(0.0..100.0f64))
                .execute(&mut *connection)
                .await?;
                if !self.pairs.contains(&pair) {
                    self.pairs.push(pair);
                }
            }
            70..=74 if !self.pairs.is_empty() => {
                // A key change: the row moves to a tag no other row of the site has.
                let index = self.rng.random_range(0..self.pairs.len());
                let (site, tag) = self.pairs[index].clone();
                let renamed = format!("{tag}-r{}", self.rng.random_range(0..1_000_000));
                sqlx::query("UPDATE lab.pairs SET tag = $3 WHERE site = $1 AND tag = $2")
                    .bind(site)
                    .bind(&tag)
                    .bind(&renamed)
                    .execute(&mut *connection)
                    .await?;
                self.pairs[index] = (site, renamed);
            }
            75..=77 if !self.pairs.is_empty() => {
                let (site, tag) = self.pairs.swap_remove(self.rng.random_range(0..self.pairs.len()));
                sqlx::query("DELETE FROM lab.pairs WHERE site = $1 AND tag = $2")
                    .bind(site)
                    .bind(tag)
                    .execute(&mut *connection)
                    .await?;
            }
            78..=89 if !self.meters.is_empty() => {
                let id = self.uuid();
                let meter = self.meters[self.rng.random_range(0..self.meters.len())];
                sqlx::query(
                    "INSERT INTO powertrace.meter_readings (id, meter_id, read_at, kw, kvar)
                     VALUES ($1, $2, timestamptz '2027-01-01 00:00:00+00' + make_interval(secs => $3), $4, $5)
                     ON CONFLICT DO NOTHING",
                )
                .bind(id)
                .bind(meter)
                .bind(f64::from(self.rng.random_range(0..10_000_000)))
                .bind(self.rng.random_range(0.0..500.0f64))
                .bind(self.rng.random_range(0.0..200.0f64))
                .execute(&mut *connection)
                .await?;
                self.readings.push(id);
            }
            90..=95 if !self.readings.is_empty() => {
                let id = self.readings[self.rng.random_range(0..self.readings.len())];
                sqlx::query("UPDATE powertrace.meter_readings SET kw = kw * 1.01, updated_at = now() WHERE id = $1")
                    .bind(id)
                    .execute(&mut *connection)
                    .await?;
            }
            96..=99 if !self.readings.is_empty() => {
                let id = self.readings.swap_remove(self.rng.random_range(0..self.readings.len()));
                sqlx::query("DELETE FROM powertrace.meter_readings WHERE id = $1")
                    .bind(id)
                    .execute(&mut *connection)
                    .await?;
            }
            _ => {
                sqlx::query("UPDATE lab.pairs SET value = value + 1 WHERE site = $1")
                    .bind(self.rng.random_range(1..20))
                    .execute(&mut *connection)
                    .await?;
            }
        }
        Ok(())
    }
}

/// Every captured table's rows, in PostgreSQL and in the warehouse, compared as sorted
/// lists of canonical text rows (all columns): a whole-content, order-independent
/// comparison. Returns one line per table with its row count, and the differences.
pub(crate) async fn compare(url: &str, warehouse: &Warehouse) -> (Vec<String>, Vec<String>) {
    let source = Source::parse(url).unwrap();
    let mut connection = source.connect().await.unwrap();
    let (tables, _) = snapshot::discover_tables(&mut connection).await.unwrap();
    let mut counts = Vec::new();
    let mut differences = Vec::new();
    for table in tables {
        let quoted: Vec<String> = table.columns.iter().map(|column| format!("\"{}\"", column.name)).collect();
        let statement = format!("COPY (SELECT {} FROM {}) TO STDOUT", quoted.join(", "), table.id);
        let mut stream = connection.copy_out_raw(&statement).await.unwrap();
        let mut text = Vec::new();
        while let Some(chunk) = stream.try_next().await.unwrap() {
            text.extend_from_slice(&chunk);
        }
        let mut builder = RowBatchBuilder::new(&table.id.to_string(), &table.columns);
        for line in text.split(|byte| *byte == b'\n').filter(|line| !line.is_empty()) {
            let fields = parse_copy_line(line).unwrap();
            builder.push(&fields.iter().map(Option::as_deref).collect::<Vec<_>>()).unwrap();
        }
        let expected_batch = builder.finish().unwrap();
        let expected = canonical_rows(std::slice::from_ref(&expected_batch), &expected_batch);
        let actual = match warehouse.read(&table.id, None).await {
            Ok(batches) => canonical_rows(&batches, &expected_batch),
            Err(error) => vec![format!("cannot read: {error}")],
        };
        counts.push(format!("{} {}", table.id, expected.len()));
        if expected != actual {
            let shorten = |row: &String| row.chars().take(160).collect::<String>();
            let missing: Vec<String> =
                expected.iter().filter(|row| !actual.contains(row)).take(3).map(shorten).collect();
            let extra: Vec<String> = actual.iter().filter(|row| !expected.contains(row)).take(3).map(shorten).collect();
            differences.push(format!(
                "{}: {} rows in PostgreSQL, {} in the warehouse; missing {missing:?}; unexpected {extra:?}",
                table.id,
                expected.len(),
                actual.len()
            ));
        }
    }
    (counts, differences)
}

/// Rows as text, one column after another in `like`'s column order and types, sorted.
fn canonical_rows(batches: &[RecordBatch], like: &RecordBatch) -> Vec<String> {
    let options = FormatOptions::default().with_null("∅");
    let mut rows = Vec::new();
    for batch in batches {
        let columns: Vec<ArrayRef> = like
            .schema()
            .fields()
            .iter()
            .map(|field| {
                let column = match batch.column_by_name(field.name()) {
                    Some(column) => opsflux_warehouse::arrow::compute::cast(column, field.data_type()).unwrap(),
                    None => new_null_array(field.data_type(), batch.num_rows()),
                };
                opsflux_warehouse::arrow::compute::cast(&column, &raw_type(field.data_type())).unwrap()
            })
            .collect();
        let formatters: Vec<ArrayFormatter> =
            columns.iter().map(|column| ArrayFormatter::try_new(column.as_ref(), &options).unwrap()).collect();
        for row in 0..batch.num_rows() {
            let values: Vec<String> = formatters.iter().map(|formatter| formatter.value(row).to_string()).collect();
            rows.push(values.join(" | "));
        }
    }
    rows.sort();
    rows
}

/// Dates and timestamps as their numbers: ±infinity and years beyond 262,143 have no
/// calendar form in Arrow's formatter, and the numbers compare them exactly.
fn raw_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Date32 => DataType::Int32,
        DataType::Timestamp(_, _) => DataType::Int64,
        DataType::List(element) => {
            DataType::List(Arc::new(Field::new(element.name(), raw_type(element.data_type()), element.is_nullable())))
        }
        other => other.clone(),
    }
}

fn assert_same(counts: &[String], differences: &[String]) {
    assert!(differences.is_empty(), "the warehouse differs from PostgreSQL:\n{}", differences.join("\n"));
    assert!(counts.iter().any(|line| line.starts_with("lab.notes ")), "{counts:?}");
}

/// Tells when the initial copy is over.
#[derive(Debug, Default)]
struct CopyFinished(std::sync::atomic::AtomicBool);

impl opsflux_ingest::Observer for CopyFinished {
    fn snapshot_finished(&self, _rows: u64, _elapsed: Duration) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_random_workload_during_copy_and_stream_ends_with_equal_tables() {
    let (url, pool) = opsflux_tests::migrated_pool("capture_equal").await;
    prepare_source(&pool, 5).await;
    let directory = tempfile::tempdir().unwrap();
    let warehouse = Warehouse::open(directory.path()).unwrap();

    // Ingestion starts (initial copy, then streaming) while the workload already runs.
    let (stop_sender, stop) = watch::channel(false);
    let copied = Arc::new(CopyFinished::default());
    let ingestor =
        Ingestor::new(Source::parse(&url).unwrap(), warehouse.clone(), options("equal", false), copied.clone());
    let running = tokio::spawn(async move { ingestor.run(stop).await });
    let mut workload = Workload::new(&pool, 11, 900).await;
    for index in 0..workload.steps {
        if index == 300 {
            // The rest of the workload runs against the stream.
            assert!(!copied.0.load(std::sync::atomic::Ordering::SeqCst), "the first steps ran during the copy");
            while !copied.0.load(std::sync::atomic::Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        workload.step(&pool, index).await.unwrap();
        if index % 10 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let origin = warehouse.copy_origin("equal").await.unwrap();
    // The table created while streaming is copied and followed without a restart.
    let late: opsflux_warehouse::TableId = "lab.late".parse().unwrap();
    let late_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM lab.late").fetch_one(&pool).await.unwrap();
    // Creating the copy's temporary slot waits for every transaction open on the server
    // (other tests share it), so the wait is generous; an ingest that ended says why.
    let mut seen_rows = None;
    let waiting = std::time::Instant::now();
    while waiting.elapsed() < Duration::from_secs(240) && !running.is_finished() {
        if warehouse.contains(&late).await.unwrap()
            && let Ok(batches) = warehouse.read(&late, None).await
        {
            seen_rows = Some(batches.iter().map(RecordBatch::num_rows).sum::<usize>() as i64);
            if seen_rows == Some(late_rows) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if running.is_finished() {
        let ended = running.await.unwrap();
        panic!("ingest ended while lab.late was awaited: {ended:?}");
    }
    if seen_rows != Some(late_rows) {
        let open: Vec<(String, String)> = sqlx::query_as(
            "SELECT coalesce(datname, '-'), left(coalesce(query, ''), 120) FROM pg_stat_activity \
             WHERE xact_start < now() - interval '5 seconds'",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        panic!("lab.late holds {seen_rows:?} rows, PostgreSQL {late_rows}; long transactions: {open:?}");
    }
    // A failed ingest has dropped its receiver already; its error says why.
    let _ = stop_sender.send(true);
    let outcome = running.await.unwrap().unwrap_or_else(|error| panic!("ingest failed: {error}"));
    assert_eq!(outcome, Outcome::Stopped);

    // A second run resumes from the warehouse's checkpoints and the slot.
    assert!(matches!(catch_up(&url, "equal", &warehouse).await, Outcome::CaughtUp { .. }));
    let (counts, differences) = compare(&url, &warehouse).await;
    assert_same(&counts, &differences);
    // Only the new table was copied: no table was copied again from a new slot.
    assert_eq!(warehouse.copy_origin("equal").await.unwrap(), origin);
    let copies: Vec<String> = warehouse
        .schema_changes()
        .await
        .unwrap()
        .into_iter()
        .filter(|record| record.writer == "equal" && record.change.change == "copied")
        .map(|record| record.change.table.to_string())
        .collect();
    assert_eq!(copies.iter().filter(|table| *table == "lab.late").count(), 1, "{copies:?}");
    assert_eq!(copies.iter().filter(|table| *table == "lab.notes").count(), 1, "{copies:?}");
    // Platform tables (users, hashes, tokens, audit) stay in PostgreSQL.
    assert_eq!(counts.len(), 46 + 3, "operational tables plus lab.notes, lab.pairs and lab.late: {counts:?}");
    assert!(counts.iter().any(|line| line.starts_with("lab.late ") && line != "lab.late 0"), "{counts:?}");

    // The status report names the table it could not capture and shows no lag.
    let status = opsflux_ingest::status::collect(
        &Source::parse(&url).unwrap(),
        &warehouse,
        &ReplicationNames::new("equal", "equal").unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(status.skipped.iter().map(|table| table.name.as_str()).collect::<Vec<_>>(), ["lab.no_key"]);
    let notes = status.tables.iter().find(|table| table.table.to_string() == "lab.notes").unwrap();
    assert_eq!(notes.rows, Some(workload.notes.len() as u64));
    assert!(status.slot.as_ref().is_some_and(|slot| !slot.active && slot.confirmed_flush.is_some()), "{status:?}");

    // An independent Delta reader sees the added column and the current rows.
    let seen = read_with_python_deltalake(&warehouse.table_url(&"lab.notes".parse().unwrap()).to_file_path().unwrap());
    assert_eq!(seen["rows"], workload.notes.len());
    assert_eq!(seen["types"]["reviewer"], "string");
    assert_eq!(seen["types"]["counter"], "int64", "widened from integer to bigint");
    assert!(seen["types"].get("blob").is_none(), "dropped: {}", seen["types"]);
    assert_eq!(seen["types"]["weight"], "decimal128(8, 2)");
}

#[tokio::test]
async fn the_initial_copy_interops_and_catching_up_twice_changes_nothing() {
    let (url, pool) = opsflux_tests::migrated_pool("capture_copy").await;
    prepare_source(&pool, 21).await;
    let directory = tempfile::tempdir().unwrap();
    let warehouse = Warehouse::open(directory.path()).unwrap();
    // No compaction on a timer here: it would commit to a table whenever a run lasts
    // past its interval, and this test counts the commits.
    let quiet = IngestOptions { maintenance_interval: Duration::from_secs(3600), ..options("copy", true) };
    let first = catch_up_with(&url, quiet.clone(), &warehouse).await;
    let readings: opsflux_warehouse::TableId = "powertrace.meter_readings".parse().unwrap();
    let version = warehouse.version(&readings).await.unwrap().unwrap();
    assert_eq!(version.0, 0, "the readings were copied in chunks beside the table, then swapped in by one commit");
    let (counts, differences) = compare(&url, &warehouse).await;
    assert_same(&counts, &differences);

    // Nothing changed in between: the second run commits nothing to the tables.
    let second = catch_up_with(&url, quiet, &warehouse).await;
    assert!(matches!((first, second), (Outcome::CaughtUp { .. }, Outcome::CaughtUp { .. })));
    assert_eq!(warehouse.version(&readings).await.unwrap(), Some(version));

    let seen = read_with_python_deltalake(&warehouse.table_url(&readings).to_file_path().unwrap());
    let expected_rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM powertrace.meter_readings").fetch_one(&pool).await.unwrap();
    assert_eq!(seen["rows"], expected_rows);
    expect_test::expect![[r#"
        {
          "created_at": "timestamp[us, tz=UTC]",
          "created_by": "string",
          "deleted_at": "timestamp[us, tz=UTC]",
          "deleted_by": "string",
          "external_id": "string",
          "id": "string",
          "kvar": "double",
          "kw": "double",
          "meter_id": "string",
          "read_at": "timestamp[us, tz=UTC]",
          "updated_at": "timestamp[us, tz=UTC]",
          "updated_by": "string"
        }"#]]
    .assert_eq(&serde_json::to_string_pretty(&seen["types"]).unwrap());
}

/// Starts the real `opsflux ingest` program, its log in `log`.
fn start_ingest_process(url: &str, warehouse: &Path, log: &Path) -> std::process::Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_opsflux-under-test"))
        .args(["ingest", "--database-url", url, "--warehouse"])
        .arg(warehouse)
        .args([
            "--commit-interval-ms",
            "100",
            "--rows-per-chunk",
            "20000",
            "--heartbeat-seconds",
            "1",
            "--maintenance-seconds",
            "1",
        ])
        .env("OPSFLUX_LOG", "info")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn killed_at_random_moments_and_with_postgres_restarted_the_warehouse_still_equals_the_source() {
    use opsflux_api::cluster::{Cluster, ClusterOptions};

    // A cluster of its own, since this test restarts it.
    let cluster_directory = tempfile::Builder::new().prefix("opsflux-crash-pg-").tempdir().unwrap().keep();
    let mut cluster =
        Cluster::start(&ClusterOptions { directory: cluster_directory.clone(), port: None, durable: false }).unwrap();
    cluster.remove_when_process_exits(std::process::id()).unwrap();
    let url = cluster.url("crash");
    opsflux_api::database::migrate(&url).await.unwrap();
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(&url).await.unwrap();
    prepare_source(&pool, 7).await;
    let directory = tempfile::tempdir().unwrap();
    let log = directory.path().join("ingest.log");
    let warehouse_path = directory.path().join("warehouse");

    let seed: u64 = std::env::var("OPSFLUX_CRASH_SEED").ok().and_then(|seed| seed.parse().ok()).unwrap_or(3);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut workload = Workload::new(&pool, seed, 1_500).await;
    let kills = 22;
    let restart_postgres_after = kills / 2;
    let mut step = 0;
    for kill in 0..kills {
        let mut process = start_ingest_process(&url, &warehouse_path, &log);
        // The first kills land during the initial copy; later ones anywhere in the
        // stream, including mid-batch and mid-commit.
        let lifetime = if kill < 3 {
            Duration::from_millis(rng.random_range(200..1_200))
        } else {
            Duration::from_millis(rng.random_range(100..2_500))
        };
        let until = tokio::time::Instant::now() + lifetime;
        while tokio::time::Instant::now() < until && step < workload.steps {
            // Statements may fail while PostgreSQL restarts; the workload goes on.
            let _ = workload.step(&pool, step).await;
            step += 1;
        }
        tokio::time::sleep_until(until).await;
        process.kill().unwrap();
        process.wait().unwrap();
        if kill == restart_postgres_after {
            let options =
                ClusterOptions { directory: cluster_directory.clone(), port: Some(cluster.port()), durable: false };
            let stopping = cluster;
            let restart = tokio::task::spawn_blocking(move || {
                stopping.stop().unwrap();
                std::thread::sleep(Duration::from_secs(1));
                Cluster::start(&options).unwrap()
            });
            // Ingest runs through the restart, reconnecting with backoff.
            let mut process = start_ingest_process(&url, &warehouse_path, &log);
            cluster = restart.await.unwrap();
            tokio::time::sleep(Duration::from_secs(4)).await;
            process.kill().unwrap();
            process.wait().unwrap();
        }
    }
    while step < workload.steps {
        workload.step(&pool, step).await.unwrap();
        step += 1;
    }
    let warehouse = Warehouse::open(&warehouse_path).unwrap();
    assert!(matches!(catch_up(&url, "opsflux_cdc", &warehouse).await, Outcome::CaughtUp { .. }));
    let (counts, differences) = compare(&url, &warehouse).await;
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        differences.is_empty(),
        "seed {seed}: the warehouse differs from PostgreSQL:\n{}\nlog tail:\n{}",
        differences.join("\n"),
        log_text.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    assert_same(&counts, &differences);
    assert!(log_text.contains("retrying in"), "the restart was seen and retried:\n{log_text}");
    // A table named by two starts as without a finished copy: a kill interrupted its
    // copy, then the copy made again.
    let recopies: Vec<Vec<&str>> = log_text
        .lines()
        .filter_map(|line| line.split_once("while the slot keeps their changes: "))
        .map(|(_, rest)| rest.split(';').next().unwrap_or_default().split(", ").collect())
        .collect();
    assert!(
        recopies.windows(2).any(|pair| pair[1].iter().any(|table| pair[0].contains(table))),
        "kills interrupted the initial copy and then a copy made again: {recopies:?}\n{log_text}"
    );
    assert!(recopies.iter().flatten().any(|table| *table == "lab.late"), "the table created meanwhile was copied");
    pool.close().await;
    let _ = cluster.stop();
}

/// Records the retries of a run.
#[derive(Debug, Default)]
struct Retries(std::sync::Mutex<Vec<(String, Duration)>>);

impl opsflux_ingest::Observer for Retries {
    fn retrying(&self, error: &opsflux_ingest::IngestError, delay: Duration) {
        self.0.lock().unwrap().push((error.to_string(), delay));
    }
}

#[tokio::test]
async fn an_unreachable_server_is_retried_with_growing_delays_until_stopped() {
    let retries = Arc::new(Retries::default());
    let directory = tempfile::tempdir().unwrap();
    let warehouse = Warehouse::open(directory.path()).unwrap();
    // Port 1 on loopback: nothing listens there.
    let source = Source::parse("postgres://opsflux:secret@127.0.0.1:1/operations").unwrap();
    let ingestor = Ingestor::new(source, warehouse, options("unreachable", false), retries.clone());
    let (stop_sender, stop) = watch::channel(false);
    let running = tokio::spawn(async move { ingestor.run(stop).await });
    for _ in 0..300 {
        if retries.0.lock().unwrap().len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop_sender.send(true).unwrap();
    assert_eq!(running.await.unwrap().unwrap(), Outcome::Stopped, "a stop ends the waiting at once");
    let seen = retries.0.lock().unwrap().clone();
    assert_eq!(seen.iter().map(|(_, delay)| delay.as_secs()).collect::<Vec<_>>(), [1, 2, 4]);
    assert!(
        seen[0].0.starts_with("cannot reach PostgreSQL at 127.0.0.1:1/operations: "),
        "the message names the server (and never the password): {}",
        seen[0].0
    );
}

#[tokio::test]
async fn a_role_without_replication_privilege_is_told_how_to_fix_it() {
    let (url, pool) = opsflux_tests::migrated_pool("capture_privilege").await;
    let role = format!("clerk_{}", std::process::id());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE ROLE {role} LOGIN"))).execute(&pool).await.unwrap();
    let mut clerk_url = url::Url::parse(&url).unwrap();
    clerk_url.set_username(&role).unwrap();
    let directory = tempfile::tempdir().unwrap();
    let warehouse = Warehouse::open(directory.path()).unwrap();
    let ingestor = Ingestor::new(
        Source::parse(clerk_url.as_str()).unwrap(),
        warehouse.clone(),
        options("privilege", true),
        Arc::new(LogObserver),
    );
    let error = ingestor.run(watch::channel(false).1).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "missing privilege: role `{role}` may not start logical replication; fix: ALTER ROLE {role} REPLICATION; (as a superuser)"
        )
    );
    assert!(warehouse.tables().await.unwrap().is_empty(), "nothing was written");
}

#[tokio::test]
async fn a_server_without_logical_wal_is_refused_with_the_fix() {
    use opsflux_api::cluster::{Cluster, ClusterOptions};

    let cluster_directory = tempfile::Builder::new().prefix("opsflux-replica-pg-").tempdir().unwrap().keep();
    let options_for = move |port| ClusterOptions { directory: cluster_directory.clone(), port, durable: false };
    let cluster = Cluster::start(&options_for(None)).unwrap();
    cluster.remove_when_process_exits(std::process::id()).unwrap();
    let url = cluster.url("postgres");
    let pool = PgPool::connect(&url).await.unwrap();
    sqlx::query("ALTER SYSTEM SET wal_level = 'replica'").execute(&pool).await.unwrap();
    pool.close().await;
    let port = cluster.port();
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.stop().unwrap();
        Cluster::start(&options_for(Some(port))).unwrap()
    })
    .await
    .unwrap();
    let directory = tempfile::tempdir().unwrap();
    let warehouse = Warehouse::open(directory.path()).unwrap();
    let ingestor =
        Ingestor::new(Source::parse(&url).unwrap(), warehouse, options("replica", true), Arc::new(LogObserver));
    let error = ingestor.run(watch::channel(false).1).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "PostgreSQL has wal_level = replica; logical replication needs `logical`: run `ALTER SYSTEM SET wal_level = logical` and restart PostgreSQL"
    );
    let _ = tokio::task::spawn_blocking(move || cluster.stop()).await;
}

/// Records the problems a run reports.
#[derive(Debug, Default)]
struct Problems(std::sync::Mutex<Vec<Option<String>>>);

impl opsflux_ingest::Observer for Problems {
    fn problem(&self, error: Option<&opsflux_ingest::IngestError>) {
        self.0.lock().unwrap().push(error.map(|error| format!("{error} | {}", error.summary())));
    }
}

#[tokio::test]
async fn values_at_the_edges_of_postgres_types_are_kept_or_stop_capture_visibly() {
    let (url, pool) = opsflux_tests::migrated_pool("capture_edges").await;
    let mut connection = pool.acquire().await.unwrap();
    let dataset = opsflux_sample_data::Dataset::generate(opsflux_sample_data::Options::new(3, 0.01).unwrap());
    opsflux_sample_data::load(&mut connection, &dataset, |_| {}).await.unwrap();
    let edge_rows = |first: i32| {
        format!(
            "INSERT INTO lab.edges VALUES
             ({first}, '0044-03-15 BC', 'infinity', '-infinity', 'NaN', '-Infinity', 'NaN',
              '{{a,\"b c\",NULL,\"{{x}}\",\"back\\\\slash\"}}', '{{1,NULL,-3}}', '{{1.50,NULL}}',
              '{{2026-11-21,infinity,0001-01-01 BC}}', '{{5f0c7a9e-0000-4000-8000-000000000001}}'),
             ({}, '262142-12-30', '4713-01-01 00:00:00 BC', '2026-11-21 08:15:00.123456+02', 'Infinity', 'NaN',
              '-Infinity', '{{}}', NULL, '{{}}', NULL, '{{}}'),
             ({}, '-infinity', '262142-12-31 23:59:59', 'infinity', '-0', '3.4e38', '1e-1000', NULL, '{{2147483647}}',
              '{{-9999.99}}', '{{}}', NULL)",
            first + 1,
            first + 2
        )
    };
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE SCHEMA lab;
         CREATE TABLE lab.edges (
             id int PRIMARY KEY, born date, until timestamp, at timestamptz, ratio float8, small real,
             loose numeric, tags text[], counts int[], limits numeric(6,2)[], days date[], ids uuid[]);
         CREATE TABLE lab.strict (id int PRIMARY KEY, amount numeric(6,2));
         INSERT INTO lab.strict VALUES (1, 12.5);
         {}",
        edge_rows(1)
    )))
    .execute(&mut *connection)
    .await
    .unwrap();

    // The initial copy, then the same values through the stream: both equal PostgreSQL.
    let directory = tempfile::tempdir().unwrap();
    let warehouse = Warehouse::open(directory.path()).unwrap();
    catch_up(&url, "edges", &warehouse).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(edge_rows(11))).execute(&mut *connection).await.unwrap();
    sqlx::raw_sql("UPDATE lab.edges SET tags = '{z}', days = '{-infinity}' WHERE id = 2")
        .execute(&mut *connection)
        .await
        .unwrap();
    catch_up(&url, "edges", &warehouse).await;
    let (counts, differences) = compare(&url, &warehouse).await;
    assert!(differences.is_empty(), "the warehouse differs from PostgreSQL:\n{}", differences.join("\n"));
    assert!(counts.contains(&"lab.edges 6".to_owned()), "{counts:?}");

    // Arrays are lists to an independent Delta reader.
    let seen = read_with_python_deltalake(&warehouse.table_url(&"lab.edges".parse().unwrap()).to_file_path().unwrap());
    assert_eq!(seen["rows"], 6);
    expect_test::expect![[r#"
        {
          "at": "timestamp[us, tz=UTC]",
          "born": "date32[day]",
          "counts": "list<element: int32>",
          "days": "list<element: date32[day]>",
          "id": "int32",
          "ids": "list<element: string_view>",
          "limits": "list<element: decimal128(6, 2)>",
          "loose": "string_view",
          "ratio": "double",
          "small": "float",
          "tags": "list<element: string_view>",
          "until": "timestamp[us]"
        }"#]]
    .assert_eq(&serde_json::to_string_pretty(&seen["types"]).unwrap());

    // NaN cannot be a decimal: capture is held back with an error naming table, column
    // and value, retried, recorded in the warehouse for `ingest status` and the servers.
    sqlx::raw_sql("INSERT INTO lab.strict VALUES (2, 'NaN'); INSERT INTO lab.strict VALUES (3, 7);")
        .execute(&mut *connection)
        .await
        .unwrap();
    let problems = Arc::new(Problems::default());
    let ingestor =
        Ingestor::new(Source::parse(&url).unwrap(), warehouse.clone(), options("edges", true), problems.clone());
    let (stop_sender, stop) = watch::channel(false);
    let running = tokio::spawn(async move { ingestor.run(stop).await });
    for _ in 0..600 {
        if problems.0.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop_sender.send(true).unwrap();
    assert_eq!(running.await.unwrap().unwrap(), Outcome::Stopped, "held back, not ended");
    let expected = "lab.strict.amount: `NaN` is not a valid decimal number (a decimal column cannot hold NaN: \
                    declare it as unconstrained numeric, kept as text, or double precision) \
                    | lab.strict.amount: a value is not a valid decimal number";
    assert_eq!(problems.0.lock().unwrap()[..2], [Some(expected.to_owned()), Some(expected.to_owned())], "retried");
    let status = opsflux_ingest::status::collect(
        &Source::parse(&url).unwrap(),
        &warehouse,
        &ReplicationNames::new("edges", "edges").unwrap(),
    )
    .await
    .unwrap();
    let problem = status.problem.expect("recorded in the warehouse");
    assert_eq!(format!("{} | {}", problem.error, problem.summary), expected);

    // A server reading this warehouse (capture running elsewhere) is unhealthy and says
    // why on its pages, without the value.
    let engine = opsflux_query::Engine::open(
        warehouse.clone(),
        opsflux_query::Catalog::shipped().unwrap(),
        opsflux_query::EngineSettings::default(),
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let public = opsflux_api::http::PublicAddress::new(None, address).unwrap();
    let state = opsflux_api::http::AppState::local(engine, "edges".to_owned(), public);
    tokio::spawn(opsflux_api::http::serve_on(listener, state, std::future::pending()));
    let health = opsflux_tests::send(address, "GET", "/healthz", &[], "").await;
    assert_eq!(health.status, 503);
    assert_eq!(health.json()["capture"], "lab.strict.amount: a value is not a valid decimal number");
    assert_eq!(health.json()["since"], problem.since.as_str());
    let page = opsflux_tests::send(address, "GET", "/?locale=en-GB", &[], "").await;
    let body = page.body;
    let notice =
        body.split("id=\"capture-stopped\"").nth(1).and_then(|rest| rest.split("</p>").next()).unwrap_or_default();
    assert_eq!(
        notice,
        format!(
            " role=\"alert\">Change capture stopped: lab.strict.amount: a value is not a valid decimal number (since {}).",
            problem.since
        )
    );
    assert!(!body.contains("NaN"), "no row value on the page");
}

#[tokio::test]
async fn the_replication_connection_uses_tls_as_the_url_asks() {
    use std::os::unix::fs::MetadataExt;

    use opsflux_api::cluster::{Cluster, ClusterOptions};

    // A cluster of its own that takes connections over TLS only.
    let cluster_directory = tempfile::Builder::new().prefix("opsflux-tls-pg-").tempdir().unwrap().keep();
    let cluster =
        Cluster::start(&ClusterOptions { directory: cluster_directory.clone(), port: None, durable: false }).unwrap();
    cluster.remove_when_process_exits(std::process::id()).unwrap();
    let pgdata = cluster_directory.join("pgdata");
    let status = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth", "-keyout"])
        .arg(pgdata.join("server.key"))
        .arg("-out")
        .arg(pgdata.join("server.crt"))
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl is installed by scripts/test.sh");
    assert!(status.success());
    let owner = std::fs::metadata(&pgdata).unwrap();
    for file in ["server.key", "server.crt"] {
        std::os::unix::fs::chown(pgdata.join(file), Some(owner.uid()), Some(owner.gid())).unwrap();
    }
    std::fs::set_permissions(pgdata.join("server.key"), std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let certificates = tempfile::tempdir().unwrap();
    let ca = certificates.path().join("ca.pem");
    std::fs::copy(pgdata.join("server.crt"), &ca).unwrap();
    let hba = pgdata.join("pg_hba.conf");
    let rules = std::fs::read_to_string(&hba).unwrap();
    // Logical replication sessions match database names, not the `replication` keyword.
    std::fs::write(&hba, format!("hostnossl all all 0.0.0.0/0 reject\n{rules}")).unwrap();
    let admin = cluster.url("postgres");
    // The last plain connection: it turns TLS on and makes it the only way in.
    let mut connection = <PgConnection as sqlx::Connection>::connect(&admin).await.unwrap();
    for statement in ["ALTER SYSTEM SET ssl = on", "SELECT pg_reload_conf()", "CREATE DATABASE tls"] {
        sqlx::raw_sql(statement).execute(&mut connection).await.unwrap();
    }
    let url = cluster.url("tls");
    opsflux_api::database::migrate(&url).await.unwrap();
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
    sqlx::raw_sql(
        "CREATE SCHEMA lab; CREATE TABLE lab.readings (id int PRIMARY KEY, kw float8);
         INSERT INTO lab.readings SELECT i, i * 1.5 FROM generate_series(1, 500) i;",
    )
    .execute(&pool)
    .await
    .unwrap();
    let names = ReplicationNames::new("tls", "tls").unwrap();
    // The certificate names `localhost`: verifying the host needs that name.
    let url = url.replace("127.0.0.1", "localhost");
    let connect = |query: String| {
        let url = format!("{url}?{query}");
        let names = names.clone();
        async move {
            let source = Source::parse(&url).unwrap();
            let mut client =
                source.replication_client(&names, Duration::from_secs(1)).await.map_err(|error| error.to_string())?;
            // The session connects in the background: its first command tells how that went.
            client.simple_query("IDENTIFY_SYSTEM").await.map(|_| ()).map_err(|error| error.to_string())
        }
    };

    // Without TLS the server refuses; the default (prefer), require and a verified
    // certificate connect; verification against the public roots fails, named.
    let refused = connect("sslmode=disable".into()).await.unwrap_err();
    assert!(refused.contains("no encryption"), "{refused}");
    for query in ["application_name=opsflux".to_owned(), "sslmode=require".to_owned()] {
        assert_eq!(connect(query.clone()).await, Ok(()), "{query}");
    }
    let verified = format!("sslmode=verify-full&sslrootcert={}", ca.display());
    assert_eq!(connect(verified.clone()).await, Ok(()));
    let unverified = connect("sslmode=verify-full".into()).await.unwrap_err();
    assert!(unverified.to_lowercase().contains("certificate"), "{unverified}");

    // Capture end to end over a verified connection.
    let directory = tempfile::tempdir().unwrap();
    let warehouse = Warehouse::open(directory.path()).unwrap();
    let ingestor = Ingestor::new(
        Source::parse(&format!("{url}?{verified}")).unwrap(),
        warehouse.clone(),
        options("tls", true),
        Arc::new(LogObserver),
    );
    let (_stop_sender, stop) = watch::channel(false);
    assert!(matches!(ingestor.run(stop).await.unwrap(), Outcome::CaughtUp { .. }));
    let (counts, differences) = compare(&format!("{url}?{verified}"), &warehouse).await;
    assert!(differences.is_empty(), "{differences:?}");
    assert!(counts.contains(&"lab.readings 500".to_owned()), "{counts:?}");
    pool.close().await;
    let _ = cluster.stop();
}

#[tokio::test]
async fn column_changes_keep_stored_values_and_are_recorded_with_their_position() {
    let url = opsflux_tests::server().empty_database("capture_evolve").await;
    let pool = PgPool::connect(&url).await.unwrap();
    let run = |statements: &'static str| {
        let pool = pool.clone();
        async move { sqlx::raw_sql(statements).execute(&pool).await.unwrap() }
    };
    run("CREATE SCHEMA lab;
         CREATE TABLE lab.items (id int PRIMARY KEY, name text, qty int);
         INSERT INTO lab.items VALUES (1, 'pump', 2), (2, 'valve', NULL), (3, NULL, 7);
         CREATE TABLE lab.gone (id int PRIMARY KEY, note text);
         INSERT INTO lab.gone VALUES (1, 'a'), (2, 'b');")
    .await;
    let directory = tempfile::tempdir().unwrap();
    let warehouse = Warehouse::open(directory.path()).unwrap();
    catch_up(&url, "evolve", &warehouse).await;

    // While capture is stopped: a rename, and columns added with constant defaults to a
    // table holding rows (PostgreSQL keeps the default in the catalog, not in the rows).
    run("ALTER TABLE lab.items RENAME COLUMN name TO label;
         ALTER TABLE lab.items ADD COLUMN status text NOT NULL DEFAULT 'open', ADD COLUMN since date DEFAULT '2026-03-01';
         INSERT INTO lab.items (id, label, qty, status) VALUES (4, 'gauge', 1, 'closed');")
    .await;
    catch_up(&url, "evolve", &warehouse).await;
    let (counts, differences) = compare(&url, &warehouse).await;
    assert!(differences.is_empty(), "{differences:#?}");
    assert_eq!(counts, ["lab.gone 2", "lab.items 4"]);

    // A volatile default rewrites the table with one value per row; rows changed in the
    // same batch before and after the change, and a second rename within it.
    run("BEGIN;
         INSERT INTO lab.items (id, label, qty) VALUES (5, 'hose', 3);
         ALTER TABLE lab.items ADD COLUMN tag text DEFAULT md5(random()::text);
         UPDATE lab.items SET qty = 9 WHERE id = 1;
         ALTER TABLE lab.items RENAME COLUMN label TO title;
         INSERT INTO lab.items (id, title, qty) VALUES (6, 'flange', 4);
         COMMIT;
         DELETE FROM lab.items WHERE id = 2;
         ALTER TABLE lab.items ALTER COLUMN qty TYPE bigint;
         UPDATE lab.items SET qty = qty * 10000000000 WHERE id = 3;
         DROP TABLE lab.gone;")
    .await;
    catch_up(&url, "evolve", &warehouse).await;
    let (counts, differences) = compare(&url, &warehouse).await;
    assert!(differences.is_empty(), "{differences:#?}");
    assert_eq!(counts, ["lab.items 5"]);
    let tags: i64 = sqlx::query_scalar("SELECT count(DISTINCT tag) FROM lab.items").fetch_one(&pool).await.unwrap();
    assert_eq!(tags, 5, "each row has its own tag, and the warehouse holds the same");

    // The warehouse records each change with the source position where it happened.
    let records = warehouse.schema_changes().await.unwrap();
    let described: Vec<String> = records
        .iter()
        .map(|record| format!("{} {}: {}", record.change.table, record.change.change, record.change.detail))
        .collect();
    expect_test::expect![[r#"
        [
            "lab.gone copied: 2 columns",
            "lab.items copied: 3 columns",
            "lab.gone table dropped: dropped at the source; kept readable at version v0",
            "lab.items column renamed: name renamed label",
            "lab.items column added: status added; rows stored before take its default `open`",
            "lab.items column added: since added; rows stored before take its default `2026-03-01`",
            "lab.items column added: tag added; rows stored before take their values as the source holds them now",
            "lab.items column renamed: label renamed title",
            "lab.items column retyped: qty changed type",
        ]
    "#]]
    .assert_debug_eq(&described);
    assert!(records.windows(2).all(|pair| pair[0].change.lsn <= pair[1].change.lsn));

    // The dropped table stays readable at its last version, and the status says so.
    let gone: opsflux_warehouse::TableId = "lab.gone".parse().unwrap();
    let rows: usize = warehouse.read(&gone, None).await.unwrap().iter().map(RecordBatch::num_rows).sum();
    assert_eq!(rows, 2);
    let status = opsflux_ingest::status::collect(
        &Source::parse(&url).unwrap(),
        &warehouse,
        &ReplicationNames::new("evolve", "evolve").unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        status.dropped.iter().map(|dropped| (dropped.table.to_string(), dropped.version)).collect::<Vec<_>>(),
        [("lab.gone".to_owned(), Some(opsflux_warehouse::Version(0)))]
    );
    assert_eq!(status.schema_changes.len(), 7, "{:#?}", status.schema_changes);
    let last = &records.last().unwrap().change;
    let columns: Vec<(&str, i32)> = last.columns.iter().map(|column| (column.name.as_str(), column.attnum)).collect();
    assert_eq!(columns, [("id", 1), ("title", 2), ("qty", 3), ("status", 4), ("since", 5), ("tag", 6)]);
}
