//! Search across the operations: a Tantivy index of the records people look for (MOC
//! requests, HSE incidents and actions, projects and tasks, personnel, companies and
//! contacts, equipment and switchboards, trips and vehicles, Rédacteur documents and
//! templates, 5S audits), kept equal to the warehouse it reads.
//!
//! - `analysis` — the French, English and plain (accent-folded) analyzers.
//! - `index` — `SearchIndex`: the schema, the directory seam (memory or disk) and the
//!   commit record of the warehouse snapshots an index covers.
//! - `sources` — what each module contributes, read from the warehouse with DataFusion.
//! - `sync` — bringing an index level with the warehouse, table by table, by difference.
//! - `query` — parsing what a person types; `search` — ranking, filters, the site scope,
//!   facets and pagination; `rank` — the best hits, boosts included, read lazily;
//!   `snippet` — highlighted fragments, typo matches included.

mod analysis;
mod index;
mod query;
mod rank;
mod search;
mod snippet;
mod sources;
mod sync;

pub use index::{Coverage, SearchIndex};
pub use query::{ParsedQuery, QueryWord};
pub use search::{DEFAULT_PER_PAGE, Facets, Filters, Hit, MOST_PER_PAGE, Results, SearchRequest, Visibility};
pub use sources::{Entry, MODULES, SOURCES, Source};
pub use sync::{Progress, SyncReport};

/// Why a search or an index operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// A request parameter that cannot be answered; `parameter` names it.
    #[error("{parameter}: {message}")]
    BadRequest { parameter: &'static str, message: String },
    /// The index directory cannot be opened or written.
    #[error("search index at {location}: {message}")]
    Index { location: String, message: String },
    /// Another process holds the index's writer.
    #[error(
        "search index at {location} is being written by another process (opsflux serve or opsflux search reindex); try again when it stops"
    )]
    Busy { location: String },
    /// Reading the warehouse failed.
    #[error("reading {table} from the warehouse: {message}")]
    Warehouse { table: String, message: String },
    /// The search took longer than its limit.
    #[error("the search took longer than {0} ms")]
    Timeout(u64),
}

impl SearchError {
    fn bad(parameter: &'static str, message: impl Into<String>) -> Self {
        SearchError::BadRequest { parameter, message: message.into() }
    }
}
