//! Loading a data set into PostgreSQL with `COPY`, in one transaction: either every
//! table is filled or nothing is written.

use sqlx::{Connection, PgConnection};

use crate::{Dataset, ReadingsPlan, SampleDataError};

/// Progress reported while loading, for a progress bar.
#[derive(Debug, Clone)]
pub enum LoadEvent {
    /// A table starts loading.
    Table { name: String, rows: u64 },
    /// Rows were sent to the server.
    Rows(u64),
}

/// What was loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// Rows per table, in load order, as PostgreSQL counted them.
    pub tables: Vec<(String, u64)>,
}

impl LoadReport {
    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(|(_, rows)| rows).sum()
    }
}

/// How much CSV text is sent per `CopyData` message batch.
const SEND_BYTES: usize = 1 << 20;

/// Loads `dataset` into the (migrated, empty) database behind `connection`.
///
/// The readings are generated on a separate thread while the previous day is being
/// sent, so generation and PostgreSQL's parsing overlap on two cores.
pub async fn load(
    connection: &mut PgConnection,
    dataset: &Dataset,
    mut progress: impl FnMut(LoadEvent),
) -> Result<LoadReport, SampleDataError> {
    check_empty(connection).await?;
    let database = |table: &str| {
        let table = table.to_owned();
        move |source| SampleDataError::Database { table, source }
    };
    let mut transaction = connection.begin().await.map_err(database("(transaction)"))?;
    let mut tables = Vec::new();
    for table in &dataset.tables {
        progress(LoadEvent::Table { name: table.name.clone(), rows: table.rows });
        let statement = format!("COPY {} ({}) FROM STDIN WITH (FORMAT csv)", table.name, table.column_list());
        let mut copy = transaction.copy_in_raw(&statement).await.map_err(database(&table.name))?;
        let bytes = table.csv.as_bytes();
        let mut sent = 0;
        while sent < bytes.len() {
            let until = next_row_boundary(bytes, sent + SEND_BYTES);
            copy.send(&bytes[sent..until]).await.map_err(database(&table.name))?;
            sent = until;
        }
        let rows = copy.finish().await.map_err(database(&table.name))?;
        progress(LoadEvent::Rows(rows));
        tables.push((table.name.clone(), rows));
    }

    let readings = &dataset.readings;
    progress(LoadEvent::Table { name: ReadingsPlan::TABLE.to_owned(), rows: readings.total_rows() });
    let statement =
        format!("COPY {} ({}) FROM STDIN WITH (FORMAT csv)", ReadingsPlan::TABLE, ReadingsPlan::columns().join(", "));
    let mut copy = transaction.copy_in_raw(&statement).await.map_err(database(ReadingsPlan::TABLE))?;
    let (sender, mut receiver) = tokio::sync::mpsc::channel(2);
    let plan = readings.clone();
    let generator = std::thread::spawn(move || {
        for chunk in plan.chunks() {
            if sender.blocking_send(chunk).is_err() {
                // The loader stopped (an error); nothing left to do.
                return;
            }
        }
    });
    while let Some(chunk) = receiver.recv().await {
        copy.send(chunk.csv.as_bytes()).await.map_err(database(ReadingsPlan::TABLE))?;
        progress(LoadEvent::Rows(chunk.rows));
    }
    generator.join().map_err(|_| SampleDataError::GeneratorStopped)?;
    let rows = copy.finish().await.map_err(database(ReadingsPlan::TABLE))?;
    if rows != readings.total_rows() {
        return Err(SampleDataError::GeneratorStopped);
    }
    tables.push((ReadingsPlan::TABLE.to_owned(), rows));
    transaction.commit().await.map_err(database("(commit)"))?;
    Ok(LoadReport { tables })
}

/// The end of the row that contains byte `wanted` (or the end of the text).
fn next_row_boundary(bytes: &[u8], wanted: usize) -> usize {
    if wanted >= bytes.len() {
        return bytes.len();
    }
    bytes[wanted..].iter().position(|byte| *byte == b'\n').map_or(bytes.len(), |offset| wanted + offset + 1)
}

/// Refuses a database without the schema or with operational rows already in it.
async fn check_empty(connection: &mut PgConnection) -> Result<(), SampleDataError> {
    for table in ["core.sites", "platform.users"] {
        let exists: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
            .bind(table)
            .fetch_one(&mut *connection)
            .await
            .map_err(|source| SampleDataError::Database { table: table.to_owned(), source })?;
        if exists.is_none() {
            return Err(SampleDataError::SchemaMissing { table: table.to_owned() });
        }
        // `table` comes from the fixed list above, never from input.
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&mut *connection)
            .await
            .map_err(|source| SampleDataError::Database { table: table.to_owned(), source })?;
        if rows > 0 {
            return Err(SampleDataError::DatabaseNotEmpty { table: table.to_owned(), rows });
        }
    }
    Ok(())
}
