//! Bringing an index level with the warehouse. Each sync pins a snapshot of every table
//! the sources read, reads again only the sources whose tables moved since the last
//! commit, and writes the difference: entries whose fingerprint changed are replaced,
//! entries no longer read are deleted (deletions and truncations at the source), new
//! ones are added. One commit carries the entries and the snapshots they came from.
//!
//! Since a sync compares what the warehouse holds with what the index holds, a sync
//! interrupted anywhere (the process killed before its commit) leaves the last commit,
//! and the next one ends in the same index: no duplicates, no gaps.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::TryStreamExt;
use opsflux_warehouse::datafusion::prelude::SessionContext;
use opsflux_warehouse::{TableId, Warehouse};

use crate::SearchError;
use crate::index::{Coverage, FORMAT, SearchIndex};
use crate::sources::{self, SOURCES, Source};

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Sources read again (their tables moved), by kind.
    pub sources: Vec<&'static str>,
    pub added: u64,
    pub updated: u64,
    pub removed: u64,
    pub unchanged: u64,
    /// Whether the sync committed (something moved in the warehouse).
    pub committed: bool,
}

/// Progress of a long sync: the source being read, and entries compared so far in it.
pub trait Progress: Send + Sync {
    fn source_started(&self, _source: &Source, _position: usize, _sources: usize) {}
    fn entries(&self, _source: &Source, _done: u64) {}
}

impl Progress for () {}

impl SearchIndex {
    /// Reads what moved in `warehouse` since the last commit into the index and commits.
    pub async fn sync(&self, warehouse: &Warehouse, progress: &dyn Progress) -> Result<SyncReport, SearchError> {
        self.sync_with(warehouse, progress, false).await
    }

    /// Empties the index and reads every source again from one snapshot of the warehouse,
    /// then merges the index into one segment.
    pub async fn rebuild(&self, warehouse: &Warehouse, progress: &dyn Progress) -> Result<SyncReport, SearchError> {
        let report = self.sync_with(warehouse, progress, true).await?;
        self.compact()?;
        Ok(report)
    }

    async fn sync_with(
        &self,
        warehouse: &Warehouse,
        progress: &dyn Progress,
        rebuild: bool,
    ) -> Result<SyncReport, SearchError> {
        let outcome = self.write_difference(warehouse, progress, rebuild).await;
        if outcome.is_err() {
            // Entries added before the failure are dropped, not left for a later commit.
            self.abandon();
        }
        outcome
    }

    async fn write_difference(
        &self,
        warehouse: &Warehouse,
        progress: &dyn Progress,
        rebuild: bool,
    ) -> Result<SyncReport, SearchError> {
        let covered = self.coverage()?;
        let rebuild = rebuild || covered.format != FORMAT;
        // Pin one snapshot of every table first: the commit records exactly these.
        let tables: BTreeSet<&str> = SOURCES.iter().flat_map(|source| source.tables.iter().copied()).collect();
        let mut ids = BTreeMap::new();
        let mut pinned = BTreeMap::new();
        for table in tables {
            // The source definitions name their tables as literals: they always parse.
            let id: TableId = table.parse().expect("source tables are valid names");
            let snapshot = warehouse
                .snapshot(&id)
                .await
                .map_err(|error| SearchError::Warehouse { table: table.to_owned(), message: error.to_string() })?;
            pinned.insert(table.to_owned(), snapshot);
            ids.insert(table, id);
        }
        let moved = |source: &Source| {
            rebuild
                || source.tables.iter().any(|table| covered.tables.get(*table).is_none_or(|was| *was != pinned[*table]))
        };
        let stale: Vec<&Source> = SOURCES.iter().filter(|source| moved(source)).collect();
        if stale.is_empty() && !rebuild {
            return Ok(SyncReport::default());
        }
        let kinds: Vec<&str> = stale.iter().map(|source| source.kind).collect();
        let mut existing = if rebuild { HashMap::new() } else { self.fingerprints(&kinds)? };
        let context = SessionContext::new();
        let mut registered = BTreeSet::new();
        let mut report = SyncReport { committed: true, ..SyncReport::default() };
        self.with_writer(|writer, _| {
            if rebuild {
                writer.delete_all_documents().map_err(|error| self.failure(error))?;
            }
            Ok(())
        })?;
        for (position, source) in stale.iter().enumerate() {
            progress.source_started(source, position, stale.len());
            report.sources.push(source.kind);
            let mut known = existing.remove(source.kind).unwrap_or_default();
            let available = source.tables.iter().all(|table| pinned[*table].is_some());
            if available {
                for table in source.tables {
                    if registered.insert(*table) {
                        let frame = warehouse.frame(&context, &ids[*table], pinned[*table]).await.map_err(|error| {
                            SearchError::Warehouse { table: (*table).to_owned(), message: error.to_string() }
                        })?;
                        context.register_table(table.replace('.', "_"), frame.into_view()).map_err(|error| {
                            SearchError::Warehouse { table: (*table).to_owned(), message: error.to_string() }
                        })?;
                    }
                }
                let failure =
                    |error: String| SearchError::Warehouse { table: source.tables[0].to_owned(), message: error };
                let frame = context.sql(source.sql).await.map_err(|error| failure(error.to_string()))?;
                let mut stream = frame.execute_stream().await.map_err(|error| failure(error.to_string()))?;
                let mut done = 0;
                let mut written = std::collections::HashSet::new();
                while let Some(batch) = stream.try_next().await.map_err(|error| failure(error.to_string()))? {
                    let entries = sources::entries(source, &batch).map_err(failure)?;
                    self.with_writer(|writer, fields| {
                        for entry in &entries {
                            let key = entry.key();
                            // A key read twice (a source without a unique id) is indexed once.
                            if !written.insert(key.clone()) {
                                continue;
                            }
                            match known.remove(&key) {
                                Some(fingerprint) if fingerprint == entry.fingerprint() => {
                                    report.unchanged += 1;
                                    continue;
                                }
                                Some(_) => {
                                    writer.delete_term(SearchIndex::key_term(fields, &key));
                                    report.updated += 1;
                                }
                                None => report.added += 1,
                            }
                            writer
                                .add_document(SearchIndex::document(fields, entry))
                                .map_err(|error| self.failure(error))?;
                        }
                        Ok(())
                    })?;
                    done += entries.len() as u64;
                    progress.entries(source, done);
                }
            }
            // What the index holds and the warehouse no longer does: deleted or truncated.
            self.with_writer(|writer, fields| {
                for key in known.keys() {
                    writer.delete_term(SearchIndex::key_term(fields, key));
                }
                Ok(())
            })?;
            report.removed += known.len() as u64;
        }
        let coverage = Coverage { format: FORMAT, tables: pinned };
        let payload = serde_json::to_string(&coverage).expect("coverage serializes");
        self.with_writer(|writer, _| {
            let mut commit = writer.prepare_commit().map_err(|error| self.failure(error))?;
            commit.set_payload(&payload);
            commit.commit().map_err(|error| self.failure(error))?;
            Ok(())
        })?;
        self.reader.reload().map_err(|error| self.failure(error))?;
        Ok(report)
    }
}
