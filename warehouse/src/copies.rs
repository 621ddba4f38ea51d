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

use deltalake::arrow::array::RecordBatch;
use deltalake::arrow::datatypes::SchemaRef;
use deltalake::datafusion::prelude::SessionContext;
use deltalake::operations::write::SchemaMode;
use deltalake::protocol::SaveMode;

use crate::changelog::superseding;
use crate::store::delta;
use crate::{Checkpoint, Lsn, TableId, Version, Warehouse, WarehouseError};

/// The directory of staging tables and origins; not a schema.
pub(crate) const COPY_DIRECTORY: &str = "_copies";

#[derive(serde::Serialize, serde::Deserialize)]
struct Origin {
    writer: String,
    lsn: String,
}

impl Warehouse {
    fn copy_path(table: &TableId) -> String {
        format!("{COPY_DIRECTORY}/{}", table.relative_path())
    }

    fn origin_path(writer: &str) -> String {
        format!("{COPY_DIRECTORY}/{}.json", crate::problems::file_name(writer))
    }

    /// Records that `writer`'s copies now start at `lsn`: tables with an older
    /// checkpoint are copied again. Written whole, so it is the old record or the new.
    pub async fn record_copy_origin(&self, writer: &str, lsn: Lsn) -> Result<(), WarehouseError> {
        let origin = Origin { writer: writer.to_owned(), lsn: lsn.to_string() };
        let text = serde_json::to_vec_pretty(&origin).unwrap_or_default();
        self.storage().write(&Self::origin_path(writer), text).await
    }

    /// Where `writer`'s copies start; `None` before its first copy.
    pub async fn copy_origin(&self, writer: &str) -> Result<Option<Lsn>, WarehouseError> {
        let bytes = self.storage().read(&Self::origin_path(writer)).await?;
        Ok(bytes
            .and_then(|bytes| serde_json::from_slice::<Origin>(&bytes).ok())
            .and_then(|origin| origin.lsn.parse().ok()))
    }

    /// Starts a copy of `table` with the columns of `schema`, discarding any unfinished
    /// one.
    pub async fn begin_copy(&self, table: &TableId, schema: SchemaRef) -> Result<(), WarehouseError> {
        let path = Self::copy_path(table);
        self.storage().remove_all(&path).await?;
        self.storage()
            .open_table(table, &path)
            .await?
            .write(vec![RecordBatch::new_empty(schema)])
            .with_save_mode(SaveMode::Overwrite)
            .await
            .map_err(|source| delta(table, source))?;
        Ok(())
    }

    /// Adds rows to the copy of `table` (any number of writers at once).
    pub async fn append_copy(&self, table: &TableId, batches: Vec<RecordBatch>) -> Result<(), WarehouseError> {
        self.storage()
            .open_table(table, &Self::copy_path(table))
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
        let path = Self::copy_path(table);
        let staged = self.storage().open_table(table, &path).await?;
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
        if let Err(error) = self.storage().remove_all(&path).await {
            tracing::warn!(%table, "cannot remove the finished copy: {error}");
        }
        Ok(Version(written.version().unwrap_or_default()))
    }
}
