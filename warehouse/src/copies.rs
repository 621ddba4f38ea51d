//! Full copies of a table, made beside it and swapped in by one commit: readers keep
//! the previous version of the table until its copy is complete, and an interrupted
//! copy never passes for a finished one.
//!
//! A copy is written to a staging Delta table (`<root>/_copies/<schema>/<table>`), then
//! replaces the table in one commit that records the writer's checkpoint. Which copy is
//! current is told by its origin: the source position the writer's copies start from
//! (its replication slot's consistent point), kept in `<root>/_copies/<writer>.json`
//! and recorded before copying. A table whose checkpoint is older than the origin has
//! not been copied since: its copy was interrupted.

use std::path::PathBuf;

use deltalake::arrow::array::RecordBatch;
use deltalake::arrow::datatypes::SchemaRef;
use deltalake::datafusion::prelude::SessionContext;
use deltalake::operations::write::SchemaMode;
use deltalake::protocol::SaveMode;

use crate::changelog::superseding;
use crate::store::{delta, open_path};
use crate::{Checkpoint, Lsn, TableId, Version, Warehouse, WarehouseError};

/// The directory of staging tables and origins; not a schema.
pub(crate) const COPY_DIRECTORY: &str = "_copies";

#[derive(serde::Serialize, serde::Deserialize)]
struct Origin {
    writer: String,
    lsn: String,
}

impl Warehouse {
    fn copy_path(&self, table: &TableId) -> PathBuf {
        self.root().join(COPY_DIRECTORY).join(table.schema()).join(table.table())
    }

    fn origin_path(&self, writer: &str) -> PathBuf {
        let file: String =
            writer.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
        self.root().join(COPY_DIRECTORY).join(format!("{file}.json"))
    }

    /// Records that `writer`'s copies now start at `lsn`: tables with an older
    /// checkpoint are copied again. Written aside and renamed, so it is whole or absent.
    pub fn record_copy_origin(&self, writer: &str, lsn: Lsn) -> Result<(), WarehouseError> {
        let path = self.origin_path(writer);
        let io = |what: &'static str, path: &std::path::Path| {
            let path = path.to_owned();
            move |source| WarehouseError::Io { what, path, source }
        };
        if let Some(directory) = path.parent() {
            std::fs::create_dir_all(directory).map_err(io("cannot create", directory))?;
        }
        let aside = path.with_extension("json.tmp");
        let origin = Origin { writer: writer.to_owned(), lsn: lsn.to_string() };
        std::fs::write(&aside, serde_json::to_vec_pretty(&origin).unwrap_or_default())
            .map_err(io("cannot write", &aside))?;
        std::fs::rename(&aside, &path).map_err(io("cannot replace", &path))
    }

    /// Where `writer`'s copies start; `None` before its first copy.
    pub fn copy_origin(&self, writer: &str) -> Result<Option<Lsn>, WarehouseError> {
        let path = self.origin_path(writer);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(serde_json::from_slice::<Origin>(&bytes).ok().and_then(|origin| origin.lsn.parse().ok())),
            Err(source) if source.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(WarehouseError::Io { what: "cannot read", path, source }),
        }
    }

    /// Starts a copy of `table` with the columns of `schema`, discarding any unfinished
    /// one.
    pub async fn begin_copy(&self, table: &TableId, schema: SchemaRef) -> Result<(), WarehouseError> {
        let path = self.copy_path(table);
        match std::fs::remove_dir_all(&path) {
            Err(source) if source.kind() != std::io::ErrorKind::NotFound => {
                return Err(WarehouseError::Io { what: "cannot remove", path, source });
            }
            _ => {}
        }
        open_path(table, &path)
            .await?
            .write(vec![RecordBatch::new_empty(schema)])
            .with_save_mode(SaveMode::Overwrite)
            .await
            .map_err(|source| delta(table, source))?;
        Ok(())
    }

    /// Adds rows to the copy of `table` (any number of writers at once).
    pub async fn append_copy(&self, table: &TableId, batches: Vec<RecordBatch>) -> Result<(), WarehouseError> {
        open_path(table, &self.copy_path(table))
            .await?
            .write(batches)
            .with_save_mode(SaveMode::Append)
            .await
            .map_err(|source| delta(table, source))?;
        Ok(())
    }

    /// Replaces `table` with its finished copy in one commit that records `checkpoint`
    /// (and leaves the change log's older rows behind), then removes the copy. Returns
    /// the table's new version.
    pub async fn finish_copy(&self, table: &TableId, checkpoint: &Checkpoint) -> Result<Version, WarehouseError> {
        let lock = self.table_lock(table);
        let _guard = lock.lock().await;
        // What this writer knew of the table no longer holds.
        self.take_known(table);
        let path = self.copy_path(table);
        let staged = open_path(table, &path).await?;
        let provider = staged.table_provider().await.map_err(|source| delta(table, source.into()))?;
        let context = SessionContext::new();
        let plan = context.read_table(provider).map_err(|source| delta(table, source.into()))?.into_unoptimized_plan();
        let written = self
            .delta_table(table)
            .await?
            .write(Vec::new())
            .with_input_plan(plan)
            .with_save_mode(SaveMode::Overwrite)
            .with_schema_mode(SchemaMode::Overwrite)
            .with_commit_properties(superseding(checkpoint))
            .await
            .map_err(|source| delta(table, source))?;
        if let Err(error) = std::fs::remove_dir_all(&path) {
            tracing::warn!(%table, "cannot remove the finished copy at {}: {error}", path.display());
        }
        Ok(Version(written.version().unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use deltalake::arrow::array::Int64Array;
    use deltalake::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn ids(values: &[i64]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(values.to_vec()))]).unwrap()
    }

    async fn rows(warehouse: &Warehouse, table: &TableId) -> usize {
        warehouse.read(table, None).await.unwrap().iter().map(RecordBatch::num_rows).sum()
    }

    #[tokio::test]
    async fn readers_keep_the_old_rows_until_the_copy_is_finished_and_its_origin_tells_it_apart() {
        let directory = tempfile::tempdir().unwrap();
        let warehouse = Warehouse::open(directory.path()).unwrap();
        let table: TableId = "lab.items".parse().unwrap();
        let at = |lsn| Checkpoint { writer: "cdc".into(), lsn: Lsn(lsn) };
        assert_eq!(warehouse.copy_origin("cdc").unwrap(), None);

        warehouse.record_copy_origin("cdc", Lsn(10)).unwrap();
        warehouse.begin_copy(&table, ids(&[]).schema()).await.unwrap();
        warehouse.append_copy(&table, vec![ids(&[1, 2])]).await.unwrap();
        assert!(!warehouse.contains(&table), "an unfinished first copy is not a table yet");
        warehouse.finish_copy(&table, &at(10)).await.unwrap();
        assert_eq!(rows(&warehouse, &table).await, 2);
        assert_eq!(warehouse.checkpoint(&table, "cdc").await.unwrap(), Some(Lsn(10)));

        // A second copy from a later origin, interrupted: readers still see the first,
        // and the table's checkpoint is older than the origin.
        warehouse.record_copy_origin("cdc", Lsn(50)).unwrap();
        warehouse.begin_copy(&table, ids(&[]).schema()).await.unwrap();
        warehouse.append_copy(&table, vec![ids(&[7])]).await.unwrap();
        assert_eq!(rows(&warehouse, &table).await, 2);
        assert_eq!(warehouse.copy_origin("cdc").unwrap(), Some(Lsn(50)));
        assert!(warehouse.checkpoint(&table, "cdc").await.unwrap() < warehouse.copy_origin("cdc").unwrap());

        // Started again and finished: one commit swaps it in.
        warehouse.begin_copy(&table, ids(&[]).schema()).await.unwrap();
        warehouse.append_copy(&table, vec![ids(&[7, 8, 9])]).await.unwrap();
        let before = warehouse.version(&table).await.unwrap().unwrap();
        let after = warehouse.finish_copy(&table, &at(50)).await.unwrap();
        assert_eq!(after.0, before.0 + 1);
        assert_eq!(rows(&warehouse, &table).await, 3);
        assert_eq!(warehouse.checkpoint(&table, "cdc").await.unwrap(), Some(Lsn(50)));
        assert_eq!(warehouse.tables().unwrap(), [table]);
    }
}
