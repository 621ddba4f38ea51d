//! What stops a writer, kept beside the tables: the capture process records the error it
//! stopped or keeps retrying on, so that `opsflux ingest status` and servers reading the
//! same warehouse can say so, and clears it once it commits again.
//!
//! One small JSON object per writer under `<root>/_problems/`, each written whole by one
//! put, so a reader sees the old record or the new, never half.

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

/// The object name a writer's records take: writer names are replication slot names
/// (lowercase letters, digits and `_`); anything else is replaced.
pub(crate) fn file_name(writer: &str) -> String {
    writer.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

impl Warehouse {
    fn problem_path(writer: &str) -> String {
        format!("{PROBLEM_DIRECTORY}/{}.json", file_name(writer))
    }

    /// Records that `writer` is stopped by `error` (`summary`: the same without row
    /// values); a repeat of the same error keeps its first time.
    pub async fn record_problem(
        &self,
        writer: &str,
        error: &str,
        summary: &str,
    ) -> Result<WriterProblem, WarehouseError> {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let since = match self.problem(writer).await? {
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
        let text = serde_json::to_vec_pretty(&problem).unwrap_or_default();
        self.storage().write(&Self::problem_path(writer), text).await?;
        Ok(problem)
    }

    /// Clears `writer`'s problem, if any.
    pub async fn clear_problem(&self, writer: &str) -> Result<(), WarehouseError> {
        self.storage().remove(&Self::problem_path(writer)).await
    }

    /// `writer`'s standing problem; `None` when it has none (or the record is unreadable,
    /// which only a crash of another kind of tool could cause).
    pub async fn problem(&self, writer: &str) -> Result<Option<WriterProblem>, WarehouseError> {
        let bytes = self.storage().read(&Self::problem_path(writer)).await?;
        Ok(bytes.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    /// Every writer's standing problem, oldest first.
    pub async fn problems(&self) -> Result<Vec<WriterProblem>, WarehouseError> {
        let mut problems = Vec::new();
        for name in self.storage().files(PROBLEM_DIRECTORY).await? {
            if !name.ends_with(".json") {
                continue;
            }
            let bytes = self.storage().read(&format!("{PROBLEM_DIRECTORY}/{name}")).await?;
            if let Some(problem) = bytes.and_then(|bytes| serde_json::from_slice::<WriterProblem>(&bytes).ok()) {
                problems.push(problem);
            }
        }
        problems.sort_by(|a, b| a.since.cmp(&b.since).then_with(|| a.writer.cmp(&b.writer)));
        Ok(problems)
    }
}
