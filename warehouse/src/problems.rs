//! What stops a writer, kept beside the tables: the capture process records the error it
//! stopped or keeps retrying on, so that `opsflux ingest status` and servers reading the
//! same warehouse can say so, and clears it once it commits again.
//!
//! One small JSON file per writer under `<root>/_problems/`, replaced atomically
//! (written aside, then renamed), so a reader sees the old record or the new, never half.

use std::path::PathBuf;

use crate::{Warehouse, WarehouseError};

/// The directory of the records; not a schema.
pub(crate) const PROBLEM_DIRECTORY: &str = "_problems";

/// A writer's standing problem.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WriterProblem {
    /// The writer (the replication slot's name for capture).
    pub writer: String,
    /// When it was first seen, in RFC 3339.
    pub since: String,
    /// When it was last seen (the latest retry).
    pub seen: String,
    /// What went wrong, in full.
    pub error: String,
    /// What went wrong without the values of any row, for readers who may not see them.
    pub summary: String,
}

impl Warehouse {
    fn problem_path(&self, writer: &str) -> PathBuf {
        // Writer names are replication slot names: lowercase letters, digits and `_`.
        let file: String =
            writer.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
        self.root().join(PROBLEM_DIRECTORY).join(format!("{file}.json"))
    }

    /// Records that `writer` is stopped by `error` (`summary`: the same without row
    /// values); a repeat of the same error keeps its first time.
    pub fn record_problem(&self, writer: &str, error: &str, summary: &str) -> Result<WriterProblem, WarehouseError> {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let since = match self.problem(writer)? {
            Some(previous) if previous.error == error => previous.since,
            _ => now.clone(),
        };
        let problem = WriterProblem {
            writer: writer.to_owned(),
            since,
            seen: now,
            error: error.to_owned(),
            summary: summary.to_owned(),
        };
        let path = self.problem_path(writer);
        let io = |what: &'static str, path: &std::path::Path| {
            let path = path.to_owned();
            move |source| WarehouseError::Io { what, path, source }
        };
        if let Some(directory) = path.parent() {
            std::fs::create_dir_all(directory).map_err(io("cannot create", directory))?;
        }
        let aside = path.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(&problem).unwrap_or_default();
        std::fs::write(&aside, text).map_err(io("cannot write", &aside))?;
        std::fs::rename(&aside, &path).map_err(io("cannot replace", &path))?;
        Ok(problem)
    }

    /// Clears `writer`'s problem, if any.
    pub fn clear_problem(&self, writer: &str) -> Result<(), WarehouseError> {
        let path = self.problem_path(writer);
        match std::fs::remove_file(&path) {
            Err(source) if source.kind() != std::io::ErrorKind::NotFound => {
                Err(WarehouseError::Io { what: "cannot remove", path, source })
            }
            _ => Ok(()),
        }
    }

    /// `writer`'s standing problem; `None` when it has none (or the record is unreadable,
    /// which only a crash of another kind of tool could cause).
    pub fn problem(&self, writer: &str) -> Result<Option<WriterProblem>, WarehouseError> {
        let path = self.problem_path(writer);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
            Err(source) if source.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(WarehouseError::Io { what: "cannot read", path, source }),
        }
    }

    /// Every writer's standing problem, oldest first.
    pub fn problems(&self) -> Result<Vec<WriterProblem>, WarehouseError> {
        let directory = self.root().join(PROBLEM_DIRECTORY);
        let entries = match std::fs::read_dir(&directory) {
            Ok(entries) => entries,
            Err(source) if source.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(WarehouseError::Io { what: "cannot list", path: directory, source }),
        };
        let mut problems: Vec<WriterProblem> = entries
            .filter_map(Result::ok)
            .filter(|entry| entry.path().extension().is_some_and(|extension| extension == "json"))
            .filter_map(|entry| serde_json::from_slice(&std::fs::read(entry.path()).ok()?).ok())
            .collect();
        problems.sort_by(|a, b| a.since.cmp(&b.since).then_with(|| a.writer.cmp(&b.writer)));
        Ok(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_is_recorded_kept_with_its_first_time_and_cleared() {
        let directory = tempfile::tempdir().unwrap();
        let warehouse = Warehouse::open(directory.path()).unwrap();
        assert_eq!(warehouse.problem("opsflux_cdc").unwrap(), None);
        let (error, summary) =
            ("lab.edges.limit: `NaN` is not a valid decimal", "lab.edges.limit: a value is not valid");
        let first = warehouse.record_problem("opsflux_cdc", error, summary).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let again = warehouse.record_problem("opsflux_cdc", error, summary).unwrap();
        assert_eq!(again.since, first.since);
        assert!(again.seen > first.seen, "{again:?}");
        assert_eq!(warehouse.problem("opsflux_cdc").unwrap(), Some(again.clone()));
        assert_eq!(warehouse.problems().unwrap(), [again]);
        // The records are not taken for a schema of tables.
        assert_eq!(warehouse.tables().unwrap(), []);
        warehouse.clear_problem("opsflux_cdc").unwrap();
        warehouse.clear_problem("opsflux_cdc").unwrap();
        assert_eq!(warehouse.problems().unwrap(), []);
    }
}
