//! `SearchIndex`: the Tantivy schema, the directory it lives in (memory for tests, a
//! disk directory in use) and the record, in each commit, of the warehouse snapshots
//! the committed entries were read from.
//!
//! The record travels in the commit itself (Tantivy's commit payload), so entries and
//! the positions they cover become durable together: after a crash the next sync
//! starts from exactly what the last commit holds, as capture does with its checkpoint.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use opsflux_warehouse::Snapshot;
use tantivy::directory::{MmapDirectory, RamDirectory};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, TantivyError, Term};

use crate::SearchError;
use crate::analysis;
use crate::sources::Entry;

/// The layout of entries and of the commit record; an index of another format is
/// rebuilt by the next sync.
pub(crate) const FORMAT: u32 = 1;

/// What the last commit covers: for each warehouse table read, the snapshot read
/// (`None`: the table did not exist).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Coverage {
    pub format: u32,
    pub tables: BTreeMap<String, Option<Snapshot>>,
}

/// The fields of an entry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    /// `kind:id`, unique: what an update or a deletion replaces.
    pub key: Field,
    pub kind: Field,
    pub module: Field,
    pub id: Field,
    /// Site codes (several for a trip), for the site facet and filter.
    pub site: Field,
    /// Site codes, plus `*` for shared records: what the scope filter matches.
    pub visibility: Field,
    pub status: Field,
    pub year: Field,
    /// Days since 1970-01-01, for the recency boost (absent: no date).
    pub day: Field,
    pub open: Field,
    pub fingerprint: Field,
    /// A digest of the key: equal scores rank in a fixed order, whatever the segments.
    pub tie: Field,
    pub title: Field,
    pub body: Field,
    pub title_en: Field,
    pub body_en: Field,
    /// Title and body, plain words: typos and prefixes.
    pub words: Field,
}

/// The visibility term of records every reader of the module sees.
/// (A control character: no site code can be it.)
pub(crate) const SHARED: &str = "\u{1}shared";

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = |tokenizer: &str, stored: bool, positions: bool| {
        let record = if positions { IndexRecordOption::WithFreqsAndPositions } else { IndexRecordOption::WithFreqs };
        let options = TextOptions::default()
            .set_indexing_options(TextFieldIndexing::default().set_tokenizer(tokenizer).set_index_option(record));
        if stored { options.set_stored() } else { options }
    };
    let fields = Fields {
        key: builder.add_text_field("key", STRING | STORED | FAST),
        kind: builder.add_text_field("kind", STRING | STORED | FAST),
        module: builder.add_text_field("module", STRING | STORED | FAST),
        id: builder.add_text_field("id", STRING | STORED),
        site: builder.add_text_field("site", STRING | STORED | FAST),
        visibility: builder.add_text_field("visibility", STRING),
        status: builder.add_text_field("status", STRING | STORED | FAST),
        year: builder.add_u64_field("year", INDEXED | FAST),
        day: builder.add_i64_field("day", STORED | FAST),
        open: builder.add_u64_field("open", FAST),
        fingerprint: builder.add_u64_field("fingerprint", FAST),
        tie: builder.add_u64_field("tie", FAST),
        title: builder.add_text_field("title", text(analysis::FRENCH, true, true)),
        body: builder.add_text_field("body", text(analysis::FRENCH, true, true)),
        title_en: builder.add_text_field("title_en", text(analysis::ENGLISH, false, true)),
        body_en: builder.add_text_field("body_en", text(analysis::ENGLISH, false, true)),
        words: builder.add_text_field("words", text(analysis::PLAIN, false, false)),
    };
    (builder.build(), fields)
}

/// An index this large is kept in as many segments as there are search threads, each
/// searched by its own thread; a smaller one in one segment, searched by one.
const PARALLEL_FROM_ENTRIES: u32 = 200_000;

/// The threads one search may use: the processors, up to four.
fn search_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |count| count.get().min(4))
}

/// The pool searches run their segments in; `None` on one processor (or if no thread
/// can be started: searches then run in the asking thread).
static SEARCH_THREADS: std::sync::LazyLock<Option<tantivy::Executor>> = std::sync::LazyLock::new(|| {
    let threads = search_threads();
    if threads < 2 {
        return None;
    }
    tantivy::Executor::multi_thread(threads, "opsflux-search-")
        .inspect_err(|error| tracing::warn!("searches run on one thread: {error}"))
        .ok()
});

/// The segments to merge together so that a large index ends in `threads` segments of
/// even size (largest first, each into the smallest group), a small one in one.
fn merge_groups(segments: &[tantivy::index::SegmentMeta], threads: usize) -> Vec<Vec<tantivy::index::SegmentId>> {
    let entries: u32 = segments.iter().map(|segment| segment.num_docs()).sum();
    let groups = if entries >= PARALLEL_FROM_ENTRIES { threads.max(1) } else { 1 };
    let mut sorted: Vec<&tantivy::index::SegmentMeta> = segments.iter().collect();
    sorted.sort_by_key(|segment| std::cmp::Reverse(segment.num_docs()));
    let mut out: Vec<(u32, Vec<tantivy::index::SegmentId>)> = vec![(0, Vec::new()); groups];
    for segment in sorted {
        if let Some(lightest) = out.iter_mut().min_by_key(|(size, _)| *size) {
            lightest.0 += segment.num_docs();
            lightest.1.push(segment.id());
        }
    }
    out.into_iter().map(|(_, group)| group).filter(|group| !group.is_empty()).collect()
}

/// A search index and its writer.
pub struct SearchIndex {
    pub(crate) index: Index,
    pub(crate) reader: IndexReader,
    pub(crate) fields: Fields,
    location: String,
    /// Taken on the first write; Tantivy's lock file keeps a second process out.
    writer: Mutex<Option<IndexWriter>>,
    writer_memory: usize,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("SearchIndex").field("location", &self.location).finish_non_exhaustive()
    }
}

/// Memory the writer buffers before it writes a segment: enough for large rebuilds
/// in few segments, small next to the query engine.
const WRITER_MEMORY: usize = 128 * 1024 * 1024;

impl SearchIndex {
    /// The index in `directory` (created when missing). An index of an older layout is
    /// replaced by an empty one, which the next sync fills: it holds nothing the
    /// warehouse does not.
    pub fn open(directory: &Path) -> Result<Self, SearchError> {
        let location = directory.display().to_string();
        let failure = |message: String| SearchError::Index { location: location.clone(), message };
        std::fs::create_dir_all(directory).map_err(|error| failure(format!("cannot create the directory: {error}")))?;
        let (schema, fields) = schema();
        let open = |schema: Schema| -> Result<Index, TantivyError> {
            let store = MmapDirectory::open(directory).map_err(|error| TantivyError::SystemError(error.to_string()))?;
            Index::open_or_create(store, schema)
        };
        let index = match open(schema.clone()) {
            Ok(index) => index,
            Err(TantivyError::SchemaError(_)) | Err(TantivyError::IncompatibleIndex(_)) => {
                tracing::warn!(directory = %location, "search index of another layout: rebuilding it");
                remove_index_files(directory)
                    .map_err(|error| failure(format!("cannot replace the old index: {error}")))?;
                open(schema).map_err(|error| failure(error.to_string()))?
            }
            Err(error) => return Err(failure(error.to_string())),
        };
        Self::with_index(index, fields, location)
    }

    /// An index in memory (tests, one-off searches).
    pub fn in_memory() -> Self {
        let (schema, fields) = schema();
        let index = Index::open_or_create(RamDirectory::create(), schema).expect("a new index in memory always opens");
        Self::with_index(index, fields, "memory".to_owned()).expect("an index in memory always has a reader")
    }

    fn with_index(mut index: Index, fields: Fields, location: String) -> Result<Self, SearchError> {
        analysis::register(index.tokenizers());
        if let Some(executor) = SEARCH_THREADS.as_ref() {
            index.set_executor(executor.clone());
        }
        let reader = index.reader_builder().reload_policy(ReloadPolicy::OnCommitWithDelay).try_into().map_err(
            |error: TantivyError| SearchError::Index { location: location.clone(), message: error.to_string() },
        )?;
        Ok(SearchIndex { index, reader, fields, location, writer: Mutex::new(None), writer_memory: WRITER_MEMORY })
    }

    /// Where the index lives (a directory, or `memory`).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// What the last commit covers (empty for a new index).
    pub fn coverage(&self) -> Result<Coverage, SearchError> {
        let metas = self.index.load_metas().map_err(|error| self.failure(error))?;
        Ok(metas.payload.and_then(|payload| serde_json::from_str(&payload).ok()).unwrap_or_default())
    }

    /// Entries in the index as of the last commit this handle has seen.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn failure(&self, error: impl std::fmt::Display) -> SearchError {
        SearchError::Index { location: self.location.clone(), message: error.to_string() }
    }

    /// Runs `work` with the writer, opening it first if this handle has none yet.
    pub(crate) fn with_writer<T>(
        &self,
        work: impl FnOnce(&mut IndexWriter, &Fields) -> Result<T, SearchError>,
    ) -> Result<T, SearchError> {
        let mut slot = self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if slot.is_none() {
            let threads = std::thread::available_parallelism().map(|count| count.get()).unwrap_or(1).min(2);
            let writer =
                self.index.writer_with_num_threads(threads, self.writer_memory).map_err(|error| match error {
                    TantivyError::LockFailure(..) => SearchError::Busy { location: self.location.clone() },
                    error => self.failure(error),
                })?;
            *slot = Some(writer);
        }
        let writer = slot.as_mut().expect("the writer was just opened");
        let outcome = work(writer, &self.fields);
        if outcome.is_err() {
            // Nothing half-written survives a failure: the next sync starts from the last commit.
            if let Err(error) = writer.rollback() {
                tracing::warn!(location = %self.location, "search index rollback failed: {error}");
                *slot = None;
            }
        }
        outcome
    }

    /// Waits for the background merges, then merges the segments into one, or into one
    /// per search thread for a large index: each thread then reads one term dictionary
    /// and one set of columns.
    pub(crate) fn compact(&self) -> Result<(), SearchError> {
        let writer = self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        if let Some(writer) = writer {
            writer.wait_merging_threads().map_err(|error| self.failure(error))?;
        }
        self.with_writer(|writer, _| {
            let segments = self.index.searchable_segment_metas().map_err(|error| self.failure(error))?;
            for group in merge_groups(&segments, search_threads()) {
                if group.len() > 1 {
                    writer.merge(&group).wait().map_err(|error| self.failure(error))?;
                }
            }
            Ok(())
        })?;
        // The merged-away segments can only go once this handle's reader has let go of
        // them, or the index would stay twice its size until the next commit.
        self.reader.reload().map_err(|error| self.failure(error))?;
        self.with_writer(|writer, _| {
            if let Err(error) = writer.garbage_collect_files().wait() {
                tracing::debug!(location = %self.location, "search index clean-up deferred: {error}");
            }
            Ok(())
        })
    }

    /// Drops what the writer holds since the last commit.
    pub(crate) fn abandon(&self) {
        let mut slot = self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(writer) = slot.as_mut()
            && let Err(error) = writer.rollback()
        {
            tracing::warn!(location = %self.location, "search index rollback failed: {error}");
            *slot = None;
        }
    }

    /// The stored key and fingerprint of every entry of the given kinds.
    pub(crate) fn fingerprints(&self, kinds: &[&str]) -> Result<HashMap<String, HashMap<String, u64>>, SearchError> {
        self.reader.reload().map_err(|error| self.failure(error))?;
        let searcher = self.reader.searcher();
        let mut out: HashMap<String, HashMap<String, u64>> =
            kinds.iter().map(|kind| ((*kind).to_owned(), HashMap::new())).collect();
        for segment in searcher.segment_readers() {
            let fast = segment.fast_fields();
            let (Some(kind_column), Some(key_column)) = (
                fast.str("kind").map_err(|error| self.failure(error))?,
                fast.str("key").map_err(|error| self.failure(error))?,
            ) else {
                continue;
            };
            let fingerprint = fast.u64("fingerprint").map_err(|error| self.failure(error))?.first_or_default_col(0);
            // The kinds wanted, as this segment's term ordinals.
            let mut wanted = HashMap::new();
            for kind in kinds {
                if let Some(ordinal) =
                    kind_column.dictionary().term_ord(kind.as_bytes()).map_err(|error| self.failure(error))?
                {
                    wanted.insert(ordinal, *kind);
                }
            }
            if wanted.is_empty() {
                continue;
            }
            let mut key = String::new();
            for doc in segment.doc_ids_alive() {
                let Some(ordinal) = kind_column.term_ords(doc).next() else { continue };
                let Some(kind) = wanted.get(&ordinal) else { continue };
                let Some(key_ordinal) = key_column.term_ords(doc).next() else { continue };
                if key_column.ord_to_str(key_ordinal, &mut key).map_err(|error| self.failure(error))? {
                    out.entry((*kind).to_owned()).or_default().insert(key.clone(), fingerprint.get_val(doc));
                }
            }
        }
        Ok(out)
    }

    /// The document of one entry.
    pub(crate) fn document(fields: &Fields, entry: &Entry) -> TantivyDocument {
        let mut document = TantivyDocument::new();
        document.add_text(fields.key, entry.key());
        document.add_text(fields.kind, entry.kind);
        document.add_text(fields.module, entry.module);
        document.add_text(fields.id, &entry.id);
        for site in &entry.sites {
            document.add_text(fields.site, site);
            document.add_text(fields.visibility, site);
        }
        if entry.shared {
            document.add_text(fields.visibility, SHARED);
        }
        if let Some(status) = &entry.status {
            document.add_text(fields.status, status);
        }
        if let Some(date) = entry.date {
            use chrono::Datelike;
            if let Ok(year) = u64::try_from(date.year()) {
                document.add_u64(fields.year, year);
            }
            document.add_i64(fields.day, days_since_epoch(date));
        }
        document.add_u64(fields.open, u64::from(entry.open));
        document.add_u64(fields.fingerprint, entry.fingerprint());
        document.add_u64(fields.tie, {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            entry.key().hash(&mut hasher);
            hasher.finish()
        });
        document.add_text(fields.title, &entry.title);
        document.add_text(fields.body, &entry.body);
        document.add_text(fields.title_en, &entry.title);
        document.add_text(fields.body_en, &entry.body);
        document.add_text(fields.words, &entry.title);
        document.add_text(fields.words, &entry.body);
        document
    }

    pub(crate) fn key_term(fields: &Fields, key: &str) -> Term {
        Term::from_field_text(fields.key, key)
    }
}

pub(crate) fn days_since_epoch(date: chrono::NaiveDate) -> i64 {
    (date - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date")).num_days()
}

/// Removes what Tantivy wrote in `directory` (its meta files, segments and lock files),
/// and nothing else.
fn remove_index_files(directory: &Path) -> std::io::Result<()> {
    for item in std::fs::read_dir(directory)? {
        let path: PathBuf = item?.path();
        let name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default();
        let tantivy_file = name == "meta.json"
            || name == ".managed.json"
            || name.starts_with(".tantivy")
            || [".idx", ".pos", ".term", ".store", ".fast", ".fieldnorm", ".del"].iter().any(|end| name.ends_with(end));
        if tantivy_file && path.is_file() {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}
