//! Sample data written straight into the warehouse, for machines without PostgreSQL:
//! the rows `opsflux sample-data` loads into the database, typed by the migrations'
//! declarations exactly as change capture would type them from the catalog.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use opsflux_ingest::declared::{DeclaredTable, declare};
use opsflux_ingest::rows::RowBatchBuilder;
use opsflux_sample_data::{Dataset, Options, ReadingsPlan};
use opsflux_warehouse::arrow::array::RecordBatch;
use opsflux_warehouse::{Checkpoint, Lsn, TableId, Warehouse};

/// The writer id of sample-data commits (change capture uses its slot's name).
const WRITER: &str = "opsflux-sample-data";
/// Rows per commit: large enough for few files, small enough for bounded memory.
const ROWS_PER_COMMIT: usize = 500_000;

/// Every table the migrations create, in declaration order.
pub fn migration_tables() -> anyhow::Result<Vec<DeclaredTable>> {
    let mut tables = Vec::new();
    for migration in crate::database::MIGRATOR.iter() {
        declare(migration.sql.as_str(), &mut tables)
            .with_context(|| format!("migration {} ({})", migration.version, migration.description))?;
    }
    Ok(tables)
}

/// Generates the data set and writes every declared table into the warehouse at
/// `root` (tables without sample rows are created empty). Refuses a warehouse that
/// already holds any of them, before writing anything. Returns the rows written.
pub async fn write_sample_warehouse(root: &Path, options: Options) -> anyhow::Result<u64> {
    // Platform tables (users, hashes, audit) never leave PostgreSQL, as in capture.
    let declared: Vec<DeclaredTable> =
        migration_tables()?.into_iter().filter(|table| opsflux_query::scope::is_queryable(&table.table.id)).collect();
    let warehouse = Warehouse::open(root)?;
    for table in &declared {
        if warehouse.contains(&table.table.id).await? {
            bail!(
                "the warehouse {} already holds {}: sample data goes into an empty warehouse (choose another directory or delete this one)",
                root.display(),
                table.table.id
            );
        }
    }
    tracing::info!(seed = options.seed, scale = options.scale, warehouse = %root.display(), "generating sample data into the warehouse");
    let dataset = tokio::task::spawn_blocking(move || Dataset::generate(options)).await?;
    let by_name: HashMap<String, &DeclaredTable> =
        declared.iter().map(|table| (table.table.id.to_string(), table)).collect();
    // Check every generated table against its declaration before the first write.
    let mut plans = Vec::new();
    let tables: Vec<_> = dataset.tables.iter().filter(|table| by_name.contains_key(&table.name)).collect();
    for table in &tables {
        plans.push(ColumnPlan::new(&by_name, &table.name, &table.columns)?);
    }
    let readings_plan = ColumnPlan::new(&by_name, ReadingsPlan::TABLE, &ReadingsPlan::columns())?;

    let bar = ProgressBar::new(dataset.total_rows());
    bar.set_style(
        ProgressStyle::with_template("{msg:32} [{bar:30}] {human_pos}/{human_len} rows, {per_sec}, ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let started = std::time::Instant::now();
    let checkpoint = Checkpoint { writer: WRITER.into(), lsn: Lsn(0) };
    let mut written = 0;
    let mut filled = std::collections::HashSet::new();
    for (table, plan) in tables.iter().zip(&plans) {
        bar.set_message(table.name.clone());
        let mut writer = TableWriter::new(&warehouse, plan, &checkpoint);
        writer.push_csv(&table.csv, &bar).await?;
        written += writer.finish().await?;
        filled.insert(table.name.clone());
    }

    bar.set_message(ReadingsPlan::TABLE);
    let (sender, mut receiver) = tokio::sync::mpsc::channel(2);
    let readings = dataset.readings.clone();
    let generator = std::thread::spawn(move || {
        for chunk in readings.chunks() {
            if sender.blocking_send(chunk).is_err() {
                return;
            }
        }
    });
    let mut writer = TableWriter::new(&warehouse, &readings_plan, &checkpoint);
    let mut outcome = Ok(());
    while let Some(chunk) = receiver.recv().await {
        if let Err(error) = writer.push_csv(&chunk.csv, &bar).await {
            outcome = Err(error);
            break;
        }
    }
    drop(receiver);
    let _ = generator.join();
    outcome?;
    written += writer.finish().await?;
    filled.insert(ReadingsPlan::TABLE.to_owned());

    for table in declared.iter().filter(|table| !filled.contains(&table.table.id.to_string())) {
        let plan = ColumnPlan::new(&by_name, &table.table.id.to_string(), &[])?;
        TableWriter::new(&warehouse, &plan, &checkpoint).finish().await?;
    }
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        rows = written,
        tables = declared.len(),
        seconds = format!("{seconds:.1}"),
        rows_per_second = format!("{:.0}", written as f64 / seconds),
        "sample data written into the warehouse"
    );
    Ok(written)
}

/// Writes hand-made tables into an empty warehouse: each `(table, csv)` is PostgreSQL
/// CSV whose header row names the columns given, typed by the migrations like sample
/// data. Columns left out get their constant default, or null when the default is
/// computed (`now()`, `gen_random_uuid()`); every other declared table is created
/// empty. For fixtures that tests can compute by hand. Returns the rows written.
pub async fn write_csv_tables(root: &Path, tables: &[(&str, &str)]) -> anyhow::Result<u64> {
    // Platform tables (users, hashes, audit) never leave PostgreSQL, as in capture.
    let declared: Vec<DeclaredTable> =
        migration_tables()?.into_iter().filter(|table| opsflux_query::scope::is_queryable(&table.table.id)).collect();
    let warehouse = Warehouse::open(root)?;
    if !warehouse.tables().await?.is_empty() {
        bail!("the warehouse {} already holds tables: fixtures go into an empty warehouse", root.display());
    }
    let by_name: HashMap<String, &DeclaredTable> =
        declared.iter().map(|table| (table.table.id.to_string(), table)).collect();
    let mut bodies = Vec::new();
    for (name, csv) in tables {
        let (header, body) = csv.split_once('\n').unwrap_or((csv, ""));
        let columns: Vec<&str> = header.trim_end_matches('\r').split(',').collect();
        bodies.push((ColumnPlan::with_defaults(&by_name, name, &columns, Defaults::ComputedAsNull)?, body));
    }
    let checkpoint = Checkpoint { writer: WRITER.into(), lsn: Lsn(0) };
    let bar = ProgressBar::hidden();
    let mut written = 0;
    for (plan, body) in &bodies {
        let mut writer = TableWriter::new(&warehouse, plan, &checkpoint);
        writer.push_csv(body, &bar).await?;
        written += writer.finish().await?;
    }
    for table in &declared {
        if !tables.iter().any(|(name, _)| *name == table.table.id.to_string()) {
            let plan = ColumnPlan::new(&by_name, &table.table.id.to_string(), &[])?;
            TableWriter::new(&warehouse, &plan, &checkpoint).finish().await?;
        }
    }
    Ok(written)
}

/// Where each declared column's value comes from: a generated field, or the value a
/// row leaving the column out gets.
struct ColumnPlan<'a> {
    table: &'a DeclaredTable,
    sources: Vec<ColumnSource>,
    /// Fields per generated row.
    fields: usize,
}

/// What a column left out of the rows gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Defaults {
    /// Its constant default; a computed one (`now()`) is an error.
    Constant,
    /// Its constant default, or null when the default is computed.
    ComputedAsNull,
}

enum ColumnSource {
    Field(usize),
    /// A jsonb field: stored as PostgreSQL prints jsonb back, which capture reads.
    Jsonb(usize),
    Fixed(Option<String>),
}

impl<'a> ColumnPlan<'a> {
    fn new(by_name: &HashMap<String, &'a DeclaredTable>, name: &str, generated: &[&str]) -> anyhow::Result<Self> {
        Self::with_defaults(by_name, name, generated, Defaults::Constant)
    }

    fn with_defaults(
        by_name: &HashMap<String, &'a DeclaredTable>,
        name: &str,
        generated: &[&str],
        defaults: Defaults,
    ) -> anyhow::Result<Self> {
        let table = by_name
            .get(name)
            .copied()
            .with_context(|| format!("the sample data has a table {name} that no migration creates"))?;
        for column in generated {
            if !table.table.columns.iter().any(|declared| declared.name == *column) {
                bail!("the sample data fills {name}.{column}, which the migrations do not declare");
            }
        }
        let mut sources = Vec::with_capacity(table.table.columns.len());
        for (index, column) in table.table.columns.iter().enumerate() {
            sources.push(match generated.iter().position(|field| *field == column.name) {
                Some(field) if column.type_oid == JSONB => ColumnSource::Jsonb(field),
                Some(field) => ColumnSource::Field(field),
                // A table without generated rows needs no value for what rows leave out.
                None if generated.is_empty() => ColumnSource::Fixed(None),
                None => match (table.omitted_value(index), defaults) {
                    (Ok(value), _) => ColumnSource::Fixed(value),
                    (Err(_), Defaults::ComputedAsNull) => ColumnSource::Fixed(None),
                    (Err(error), Defaults::Constant) => return Err(error.into()),
                },
            });
        }
        Ok(Self { table, sources, fields: generated.len() })
    }
}

/// Converts rows of one table and commits them in large batches.
struct TableWriter<'a> {
    warehouse: &'a Warehouse,
    plan: &'a ColumnPlan<'a>,
    checkpoint: &'a Checkpoint,
    builder: RowBatchBuilder,
    batches: Vec<RecordBatch>,
    pending: usize,
    written: u64,
    committed: bool,
}

impl<'a> TableWriter<'a> {
    fn new(warehouse: &'a Warehouse, plan: &'a ColumnPlan<'a>, checkpoint: &'a Checkpoint) -> Self {
        let id = &plan.table.table.id;
        Self {
            warehouse,
            plan,
            checkpoint,
            builder: RowBatchBuilder::new(&id.to_string(), &plan.table.table.columns),
            batches: Vec::new(),
            pending: 0,
            written: 0,
            committed: false,
        }
    }

    fn id(&self) -> &TableId {
        &self.plan.table.table.id
    }

    async fn push_csv(&mut self, csv: &str, bar: &ProgressBar) -> anyhow::Result<()> {
        let mut rows = 0;
        for (index, record) in PostgresCsv::new(csv).enumerate() {
            let at = || format!("{}: generated row {}", self.id(), index + 1);
            let mut fields = record.with_context(at)?;
            if fields.len() != self.plan.fields {
                bail!("{}: {} fields where {} columns were generated", at(), fields.len(), self.plan.fields);
            }
            for source in &self.plan.sources {
                if let ColumnSource::Jsonb(field) = source
                    && let Some(Some(text)) = fields.get_mut(*field)
                {
                    *text = jsonb_text(text).with_context(at)?;
                }
            }
            let values: Vec<Option<&str>> = self
                .plan
                .sources
                .iter()
                .map(|source| match source {
                    ColumnSource::Field(field) | ColumnSource::Jsonb(field) => {
                        fields.get(*field).and_then(|value| value.as_deref())
                    }
                    ColumnSource::Fixed(value) => value.as_deref(),
                })
                .collect();
            self.builder.push(&values)?;
            rows += 1;
            if self.builder.len() >= 65_536 {
                self.batches.push(self.builder.finish()?);
            }
            self.pending += 1;
            if self.pending >= ROWS_PER_COMMIT {
                self.commit().await?;
            }
        }
        bar.inc(rows);
        Ok(())
    }

    async fn commit(&mut self) -> anyhow::Result<()> {
        if !self.builder.is_empty() {
            self.batches.push(self.builder.finish()?);
        }
        if self.batches.is_empty() {
            if self.committed {
                return Ok(());
            }
            self.batches.push(self.builder.finish()?);
        }
        let batches = std::mem::take(&mut self.batches);
        self.warehouse.append(self.id(), batches, self.checkpoint).await?;
        self.written += self.pending as u64;
        self.pending = 0;
        self.committed = true;
        Ok(())
    }

    async fn finish(mut self) -> anyhow::Result<u64> {
        self.commit().await?;
        Ok(self.written)
    }
}

/// PostgreSQL's type OID of `jsonb`.
const JSONB: u32 = 3802;

/// A JSON document as PostgreSQL prints a `jsonb` value: object keys ordered by length
/// then bytes (the last of duplicates kept), `", "` and `": "` separators. Numbers are
/// printed as `serde_json` prints them, which is PostgreSQL's form for the integers and
/// shortest decimals the generator writes (not for `1.50` or `1e3`).
fn jsonb_text(text: &str) -> anyhow::Result<String> {
    fn write(value: &serde_json::Value, out: &mut String) {
        match value {
            serde_json::Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort_by(|left, right| left.len().cmp(&right.len()).then_with(|| left.cmp(right)));
                out.push('{');
                for (index, key) in keys.into_iter().enumerate() {
                    if index > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&serde_json::Value::String(key.clone()).to_string());
                    out.push_str(": ");
                    write(&map[key], out);
                }
                out.push('}');
            }
            serde_json::Value::Array(items) => {
                out.push('[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push_str(", ");
                    }
                    write(item, out);
                }
                out.push(']');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }
    let value: serde_json::Value = serde_json::from_str(text).context("a jsonb field is not valid JSON")?;
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    write(&value, &mut out);
    Ok(out)
}

/// Records of PostgreSQL's CSV format: an unquoted empty field is NULL and a quoted one
/// an empty string (the `csv` crate reads both as empty, so it cannot tell them apart),
/// and quoted fields may hold commas, quotes (doubled) and line breaks.
struct PostgresCsv<'a> {
    text: &'a str,
    position: usize,
}

impl<'a> PostgresCsv<'a> {
    fn new(text: &'a str) -> Self {
        Self { text, position: 0 }
    }
}

impl Iterator for PostgresCsv<'_> {
    type Item = anyhow::Result<Vec<Option<String>>>;

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.text.as_bytes();
        if self.position >= bytes.len() {
            return None;
        }
        let mut fields = Vec::new();
        let mut at = self.position;
        loop {
            if bytes.get(at) == Some(&b'"') {
                let mut value = String::new();
                let mut from = at + 1;
                loop {
                    let Some(quote) = self.text[from..].find('"').map(|offset| from + offset) else {
                        self.position = bytes.len();
                        return Some(Err(anyhow::anyhow!("a quoted field is not closed")));
                    };
                    value.push_str(&self.text[from..quote]);
                    if bytes.get(quote + 1) == Some(&b'"') {
                        value.push('"');
                        from = quote + 2;
                    } else {
                        at = quote + 1;
                        break;
                    }
                }
                fields.push(Some(value));
            } else {
                let end = self.text[at..].find([',', '\n']).map_or(bytes.len(), |offset| at + offset);
                let raw = &self.text[at..end];
                fields.push((!raw.is_empty()).then(|| raw.to_owned()));
                at = end;
            }
            match bytes.get(at) {
                Some(b',') => at += 1,
                Some(b'\n') => {
                    self.position = at + 1;
                    return Some(Ok(fields));
                }
                None => {
                    self.position = at;
                    return Some(Ok(fields));
                }
                Some(other) => {
                    self.position = bytes.len();
                    return Some(Err(anyhow::anyhow!("unexpected `{}` after a quoted field", char::from(*other))));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_csv_tells_null_from_empty_and_keeps_quoted_separators() {
        let text = "1,,\"\",\"a, \"\"b\"\"\nc\"\n2,x,y,z\n";
        let records: Vec<Vec<Option<String>>> = PostgresCsv::new(text).map(Result::unwrap).collect();
        assert_eq!(
            records,
            [
                vec![Some("1".into()), None, Some(String::new()), Some("a, \"b\"\nc".into())],
                vec![Some("2".into()), Some("x".into()), Some("y".into()), Some("z".into())],
            ]
        );
        let broken: Vec<_> = PostgresCsv::new("1,\"open\n").collect();
        assert_eq!(broken.len(), 1);
        assert_eq!(broken[0].as_ref().unwrap_err().to_string(), "a quoted field is not closed");
    }

    #[test]
    fn jsonb_is_printed_the_way_postgres_prints_it() {
        assert_eq!(
            jsonb_text(r#"{"time":1,"blocks":[{"id":"a","data":{"text":"é \"q\""}}],"ab":true,"b":null}"#).unwrap(),
            r#"{"b": null, "ab": true, "time": 1, "blocks": [{"id": "a", "data": {"text": "é \"q\""}}]}"#
        );
        assert_eq!(jsonb_text("{}").unwrap(), "{}");
        assert!(jsonb_text("{oops").is_err());
    }

    #[test]
    fn every_migration_table_is_declared_with_a_key_and_known_types() {
        let tables = migration_tables().unwrap();
        assert!(tables.len() > 40, "{}", tables.len());
        for table in &tables {
            assert!(!table.table.key.is_empty(), "{} has no primary key", table.table.id);
        }
    }
}
