//! Deterministic, realistic sample data for every OpsFlux module, written as the CSV
//! that PostgreSQL's `COPY` reads, and loaded into a database in one transaction.
//!
//! The same seed and scale give the same rows, byte for byte: every module draws from
//! its own random stream derived from the seed, identifiers included, and no value
//! depends on the clock. Scale 1 holds about ten million 15-minute meter readings.

mod catalog;
mod csv;
mod load;
mod logistics;
mod operations;
mod platform;
mod power;

use chrono::NaiveDate;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub use crate::csv::TableData;
pub use crate::load::{LoadEvent, LoadReport, load};
pub use crate::power::ReadingsPlan;

/// Why sample data could not be generated or loaded.
#[derive(Debug, thiserror::Error)]
pub enum SampleDataError {
    /// The scale is outside the range the generator supports.
    #[error("--scale must be a number from 0.001 to 10 (1 ≈ ten million meter readings), got {0}")]
    InvalidScale(f64),
    /// The target database already holds operational rows; loading again would mix two data sets.
    #[error(
        "the database already holds {rows} rows in {table}: sample data loads only into an empty, migrated database"
    )]
    DatabaseNotEmpty { table: String, rows: i64 },
    /// The schema is missing: migrations have not been applied.
    #[error("the database has no table {table}: apply the migrations first (`opsflux migrate`)")]
    SchemaMissing { table: String },
    /// PostgreSQL refused a statement or the connection failed while loading `table`.
    #[error("loading {table} failed: {source}")]
    Database { table: String, source: sqlx::Error },
    /// The background generator stopped before producing every reading.
    #[error("the meter readings generator stopped unexpectedly")]
    GeneratorStopped,
    /// Writing CSV files failed.
    #[error("writing {path} failed: {source}")]
    Io { path: String, source: std::io::Error },
}

/// What to generate: a seed, a scale and the day the history ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    pub seed: u64,
    pub scale: f64,
    /// The first day after the generated history; later days hold only planned work.
    pub end: NaiveDate,
}

impl Options {
    /// The day history ends for library callers (tests and benchmarks) unless told
    /// otherwise: a fixed date, so that their rows and figures do not move with the
    /// calendar. The command line and the demo end on today instead (`ending`).
    pub const DEFAULT_END: NaiveDate = match NaiveDate::from_ymd_opt(2026, 11, 16) {
        Some(date) => date,
        None => panic!("a valid constant date"),
    };

    pub fn new(seed: u64, scale: f64) -> Result<Self, SampleDataError> {
        if !(0.001..=10.0).contains(&scale) {
            return Err(SampleDataError::InvalidScale(scale));
        }
        Ok(Self { seed, scale, end: Self::DEFAULT_END })
    }

    /// The same options with the window ending on `end` (the first day after history).
    #[must_use]
    pub fn ending(self, end: NaiveDate) -> Self {
        Self { end, ..self }
    }

    /// Days of history: a year at scale 1. Both the history and the number of meters grow
    /// with the square root of the scale, so small scales still hold whole weeks.
    pub fn history_days(&self) -> u32 {
        ((365.0 * self.scale.sqrt()).round() as u32).max(21)
    }

    /// The first day of the history.
    pub fn start(&self) -> NaiveDate {
        self.end - chrono::Days::new(u64::from(self.history_days()))
    }

    /// A random stream of its own for each part of the data set, so that changing one
    /// module's generator leaves the others' rows unchanged.
    pub(crate) fn rng(&self, stream: &str) -> ChaCha8Rng {
        // FNV-1a over the stream name, mixed with the seed.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in stream.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        ChaCha8Rng::seed_from_u64(self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ hash)
    }
}

/// A generated data set: every table but the meter readings held in memory in load
/// order, and the readings as a plan that streams them day by day.
#[derive(Debug)]
pub struct Dataset {
    pub options: Options,
    pub tables: Vec<TableData>,
    pub readings: ReadingsPlan,
}

impl Dataset {
    /// Generates the whole data set (the readings lazily).
    pub fn generate(options: Options) -> Self {
        let world = platform::generate(&options);
        let (mut tables, world) = (world.tables, world.ids);
        let operations = operations::generate(&options, &world);
        tables.extend(operations);
        let (power_tables, readings) = power::generate(&options, &world);
        tables.extend(power_tables);
        Self { options, tables, readings }
    }

    /// Rows in every table, readings included.
    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(|table| table.rows).sum::<u64>() + self.readings.total_rows()
    }

    /// Writes one `<schema>.<table>.csv` per table into `directory` (for other tools such
    /// as `psql \copy`), and returns their paths in load order with their column lists.
    pub fn write_csv_files(
        &self,
        directory: &std::path::Path,
    ) -> Result<Vec<(String, String, std::path::PathBuf)>, SampleDataError> {
        use std::io::Write;
        let io = |path: &std::path::Path| {
            let path = path.display().to_string();
            move |source| SampleDataError::Io { path, source }
        };
        let mut files = Vec::new();
        for table in &self.tables {
            let path = directory.join(format!("{}.csv", table.name));
            std::fs::write(&path, &table.csv).map_err(io(&path))?;
            files.push((table.name.clone(), table.column_list(), path));
        }
        let path = directory.join(format!("{}.csv", ReadingsPlan::TABLE));
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).map_err(io(&path))?);
        for chunk in self.readings.chunks() {
            file.write_all(chunk.csv.as_bytes()).map_err(io(&path))?;
        }
        file.flush().map_err(io(&path))?;
        files.push((ReadingsPlan::TABLE.to_owned(), ReadingsPlan::columns().join(", "), path));
        Ok(files)
    }
}

/// Identifiers generated by one module that later modules refer to.
#[derive(Debug, Clone)]
pub(crate) struct World {
    pub sites: Vec<catalog::SiteRow>,
    /// Users by role, and all of them.
    pub users: Vec<uuid::Uuid>,
    pub admin: uuid::Uuid,
    pub site_managers: Vec<uuid::Uuid>,
    pub engineers: Vec<uuid::Uuid>,
    pub hse_officers: Vec<uuid::Uuid>,
}

/// A moment of a day, in UTC.
pub(crate) fn moment(date: NaiveDate, hour: u32, minute: u32) -> chrono::DateTime<chrono::Utc> {
    date.and_hms_opt(hour.min(23), minute.min(59), 0).unwrap_or_default().and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(dataset: &Dataset) -> Vec<(String, u64, u64)> {
        use std::hash::{Hash, Hasher};
        let mut digests: Vec<(String, u64, u64)> = dataset
            .tables
            .iter()
            .map(|table| {
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                table.csv.hash(&mut hasher);
                (table.name.clone(), table.rows, hasher.finish())
            })
            .collect();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        let mut rows = 0;
        for chunk in dataset.readings.chunks() {
            chunk.csv.hash(&mut hasher);
            rows += chunk.rows;
        }
        digests.push((ReadingsPlan::TABLE.to_owned(), rows, hasher.finish()));
        digests
    }

    #[test]
    fn same_seed_same_rows_other_seed_other_rows() {
        let options = Options::new(7, 0.01).unwrap();
        let first = digest(&Dataset::generate(options));
        assert_eq!(first, digest(&Dataset::generate(options)));
        let other = digest(&Dataset::generate(Options::new(8, 0.01).unwrap()));
        for (mine, theirs) in first.iter().zip(&other) {
            assert_ne!(mine.2, theirs.2, "{} did not change with the seed", mine.0);
        }
    }

    #[test]
    fn every_row_has_every_column_and_every_table_has_rows() {
        let dataset = Dataset::generate(Options::new(1, 0.01).unwrap());
        for table in &dataset.tables {
            assert!(table.rows > 0, "{} is empty", table.name);
            let mut reader = ::csv::ReaderBuilder::new().has_headers(false).from_reader(table.csv.as_bytes());
            for (row_index, record) in reader.records().enumerate() {
                let record = record.unwrap();
                assert_eq!(record.len(), table.columns.len(), "{} row {row_index}", table.name);
            }
        }
        let readings = dataset.readings.chunks().next().unwrap();
        let fields = readings.csv.lines().next().unwrap().split(',').count();
        assert_eq!(fields, ReadingsPlan::columns().len());
    }

    #[test]
    fn scale_sets_history_and_meters() {
        let small = Dataset::generate(Options::new(1, 0.01).unwrap());
        assert_eq!(small.options.history_days(), 37);
        assert_eq!(small.readings.meter_count(), 30);
        assert_eq!(small.readings.total_rows(), 30 * 37 * 96);
        let full = Options::new(1, 1.0).unwrap();
        assert_eq!(full.history_days(), 365);
        assert!(matches!(Options::new(1, 0.0), Err(SampleDataError::InvalidScale(_))));
    }
}
