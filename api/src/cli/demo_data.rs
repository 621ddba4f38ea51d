//! The demo's data directory: which sample data it holds (seed, scale, end date, in
//! `sample-data.json`), how old that data is, and starting afresh when asked.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use opsflux_sample_data::Options;
use serde::{Deserialize, Serialize};

/// What `opsflux demo` loaded into its data directory.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct SampleManifest {
    pub seed: u64,
    pub scale: f64,
    /// The day the sample window ends (the first day after the history).
    pub end_date: NaiveDate,
}

impl SampleManifest {
    const FILE: &'static str = "sample-data.json";

    pub fn of(options: &Options) -> Self {
        Self { seed: options.seed, scale: options.scale, end_date: options.end }
    }

    pub fn write(&self, data_dir: &Path) -> anyhow::Result<()> {
        let path = data_dir.join(Self::FILE);
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(&path, text + "\n").with_context(|| format!("writing {}", path.display()))
    }

    /// The manifest of a data directory, if it has one that can be read.
    pub fn read(data_dir: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(data_dir.join(Self::FILE)).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// How old the data of an existing demo directory is, in words, when it is old enough
/// that the default dashboards and reports miss recent days; `None` when it is fresh or
/// the directory holds no data yet.
pub(crate) fn staleness(data_dir: &Path, today: NaiveDate) -> Option<String> {
    if !data_dir.join("postgres").exists() && !data_dir.join("warehouse").exists() {
        return None;
    }
    match SampleManifest::read(data_dir) {
        Some(manifest) if manifest.end_date >= today => None,
        Some(manifest) => {
            let days = (today - manifest.end_date).num_days();
            Some(format!(
                "the sample data in {} ends on {} ({days} day{} ago): dashboards and reports for recent periods will be empty",
                data_dir.display(),
                manifest.end_date,
                if days == 1 { "" } else { "s" }
            ))
        }
        None => Some(format!(
            "the data in {} was made by an earlier OpsFlux, which did not record when its sample data ends",
            data_dir.display()
        )),
    }
}

/// Asks on the terminal whether to regenerate; with no terminal (scripts, services),
/// never asks and keeps the data.
pub(crate) fn ask_to_regenerate(reason: &str) -> bool {
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return false;
    }
    eprint!(
        "{reason}.\nRegenerate the sample data so that it ends today? This deletes the demo's database and warehouse. [y/N] "
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_lowercase().as_str(), "y" | "yes" | "o" | "oui")
}

/// Deletes what the demo made in its data directory (database, warehouse, accounts,
/// manifest), leaving anything else there alone.
pub(crate) fn remove_demo_data(data_dir: &Path) -> anyhow::Result<()> {
    let made: [PathBuf; 5] = [
        data_dir.join("postgres"),
        data_dir.join("warehouse"),
        data_dir.join("search"),
        data_dir.join("demo-credentials.txt"),
        data_dir.join(SampleManifest::FILE),
    ];
    for path in made {
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else if path.exists() {
            std::fs::remove_file(&path)
        } else {
            continue;
        };
        removed.with_context(|| format!("removing {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn old_sample_data_is_named_with_its_age_and_regenerating_removes_only_what_the_demo_made() {
        let directory = tempfile::tempdir().unwrap();
        let data = directory.path();
        assert_eq!(staleness(data, day("2026-12-01")), None, "an empty directory is not stale");
        std::fs::create_dir_all(data.join("postgres")).unwrap();
        std::fs::write(data.join("notes.txt"), "mine").unwrap();
        assert!(staleness(data, day("2026-12-01")).unwrap().contains("earlier OpsFlux"));
        let options = Options::new(1, 0.01).unwrap().ending(day("2026-11-16"));
        SampleManifest::of(&options).write(data).unwrap();
        assert_eq!(SampleManifest::read(data), Some(SampleManifest::of(&options)));
        assert_eq!(staleness(data, day("2026-11-16")), None);
        let stale = staleness(data, day("2026-12-01")).unwrap();
        assert!(
            stale
                .ends_with("ends on 2026-11-16 (15 days ago): dashboards and reports for recent periods will be empty"),
            "{stale}"
        );
        remove_demo_data(data).unwrap();
        assert!(!data.join("postgres").exists() && SampleManifest::read(data).is_none());
        assert!(data.join("notes.txt").exists());
    }
}
