//! Keeping tables fast and small: compaction rewrites many small data files (one per
//! streaming commit) into few large ones; vacuum deletes files no version within the
//! retention period still uses. Both commit like any writer, so readers keep their
//! snapshot and ingestion goes on while they run.

use std::num::NonZeroU64;
use std::time::Duration;

use crate::store::delta;
use crate::{TableId, Version, Warehouse, WarehouseError};

/// What a compaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compaction {
    pub files_removed: u64,
    pub files_added: u64,
    /// The version it committed, when it rewrote anything.
    pub version: Option<Version>,
}

/// What a vacuum did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vacuum {
    pub files_deleted: u64,
}

impl Warehouse {
    /// Every table in the warehouse, as `<schema>/<table>` directories with a log (the
    /// change logs', copies', problem records' and schema history's directories are not schemas).
    pub async fn tables(&self) -> Result<Vec<TableId>, WarehouseError> {
        let mut tables = Vec::new();
        for schema in self.storage().directories("").await? {
            // Other directories (`lost+found`, a copy in progress elsewhere) are not schemas.
            if TableId::new(&schema, "table").is_err()
                || [
                    crate::changelog::LOG_DIRECTORY,
                    crate::problems::PROBLEM_DIRECTORY,
                    crate::history::HISTORY_DIRECTORY,
                    crate::copies::COPY_DIRECTORY,
                ]
                .contains(&schema.as_str())
            {
                continue;
            }
            for table in self.storage().directories(&schema).await? {
                if let Ok(id) = TableId::new(&schema, &table)
                    && self.contains(&id).await?
                {
                    tables.push(id);
                }
            }
        }
        tables.sort();
        Ok(tables)
    }

    /// Rewrites the table's small files into files of about `target_bytes`. The new
    /// version holds the same rows.
    pub async fn compact(&self, table: &TableId, target_bytes: u64) -> Result<Compaction, WarehouseError> {
        let delta_table = self.delta_table(table).await?;
        let target = NonZeroU64::new(target_bytes.max(1 << 20)).unwrap_or(NonZeroU64::MIN);
        let (compacted, metrics) =
            delta_table.optimize().with_target_size(target).await.map_err(|source| delta(table, source))?;
        let rewrote = metrics.num_files_removed > 0;
        Ok(Compaction {
            files_removed: metrics.num_files_removed,
            files_added: metrics.num_files_added,
            version: rewrote.then(|| compacted.version().map(Version)).flatten(),
        })
    }

    /// Deletes data files, of the table and of its change log, that no version newer
    /// than `retention` ago refers to. Readers pinned to an older version lose it, so
    /// reports name versions within the retention.
    pub async fn vacuum(&self, table: &TableId, retention: Duration) -> Result<Vacuum, WarehouseError> {
        let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::days(7));
        let mut files_deleted = 0;
        let mut delta_tables = vec![self.delta_table(table).await?];
        delta_tables.extend(self.log_table(table).await?);
        for delta_table in delta_tables {
            let (_, metrics) = delta_table
                .vacuum()
                .with_retention_period(retention)
                .with_enforce_retention_duration(false)
                .await
                .map_err(|source| delta(table, source))?;
            files_deleted += metrics.files_deleted.len() as u64;
        }
        Ok(Vacuum { files_deleted })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use deltalake::arrow::array::{Int64Array, RecordBatch};
    use deltalake::arrow::datatypes::{DataType, Field, Schema};

    use super::*;
    use crate::{Checkpoint, Lsn};

    #[tokio::test]
    async fn compaction_merges_small_files_and_vacuum_removes_the_old_ones() {
        crate::test_support::on_every_storage(|storage, kind| async move {
            println!("storage: {kind}");
            let warehouse = Warehouse::with_storage(storage);
            let table: TableId = "powertrace.meter_readings".parse().unwrap();
            let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)]));
            for commit in 0..10_i64 {
                let ids = Int64Array::from_iter_values(commit * 100..commit * 100 + 100);
                let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(ids)]).unwrap();
                let checkpoint = Checkpoint { writer: "cdc".into(), lsn: Lsn(commit as u64 + 1) };
                warehouse.append(&table, vec![batch], &checkpoint).await.unwrap();
            }
            assert_eq!(warehouse.tables().await.unwrap(), std::slice::from_ref(&table));
            let before = warehouse.describe(&table).await.unwrap().unwrap();
            assert_eq!((before.rows, before.files, before.version), (1000, 10, Version(9)));

            let compaction = warehouse.compact(&table, 64 << 20).await.unwrap();
            assert_eq!(compaction, Compaction { files_removed: 10, files_added: 1, version: Some(Version(10)) });
            let after = warehouse.describe(&table).await.unwrap().unwrap();
            assert_eq!((after.rows, after.files), (1000, 1));
            // Compaction keeps the writer's checkpoint and the old versions readable.
            assert_eq!(warehouse.checkpoint(&table, "cdc").await.unwrap(), Some(Lsn(10)));
            let old: usize =
                warehouse.scan(&table, Some(Version(4))).await.unwrap().iter().map(RecordBatch::num_rows).sum();
            assert_eq!(old, 500);
            // Nothing left to compact.
            assert_eq!(warehouse.compact(&table, 64 << 20).await.unwrap().files_removed, 0);

            assert_eq!(warehouse.vacuum(&table, Duration::from_secs(3600)).await.unwrap(), Vacuum { files_deleted: 0 });
            assert_eq!(warehouse.vacuum(&table, Duration::ZERO).await.unwrap(), Vacuum { files_deleted: 10 });
            let current: usize = warehouse.scan(&table, None).await.unwrap().iter().map(RecordBatch::num_rows).sum();
            assert_eq!(current, 1000);
        })
        .await;
    }
}
