//! PowerTrace for electrical engineers: the load list of a site, computed the way an
//! engineer's signed load-list spreadsheet is, with every figure traceable to its lines.
//!
//! - `plant` — what a site has (switchboards, equipment, generators, transformers),
//!   typed and checked, read from Arrow batches of the warehouse tables.
//! - `power` — active and reactive power summed as vectors.
//! - `loadlist` — per line, per switchboard (rolled up through the hierarchy and through
//!   transformers) and per site: connected load, maximum demand, generation with N-1
//!   and N-2, running load factor and transformer loading.
//! - `checks` — the checks that fail (N-1, N-2, running load factor, transformers, power
//!   factor) and the remedies computed from the figures.
//! - `measured` — peak, 95th-percentile and average demand from the readings, against
//!   the calculated maximum demand.
//! - `scenario` — what-if changes to a plant, checked item by item, applied as of a
//!   day and evaluated beside the baseline; the load they add over time.
//! - `forecast` — demand forecasts with prediction intervals from a regular series, and
//!   their backtest.
//!
//! Everything here is a pure function of its inputs: no I/O, no clock.

mod checks;
pub mod forecast;
mod loadlist;
mod measured;
mod plant;
mod power;
pub mod scenario;

pub use checks::{CORRECTED_POWER_FACTOR, Failure, Recommendation, failures, recommendations};
pub use loadlist::{BoardLoad, Generation, Line, LoadList, TransformerLoad, load_list};
pub use measured::Measured;
pub use plant::{
    Category, Equipment, Factors, Generator, GeneratorStatus, Limits, Plant, Switchboard, Tables, Transformer,
};
pub use power::Power;

/// Why a load list cannot be computed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PowerError {
    /// A value out of its range, naming the table, the record and the field.
    #[error("{table} {record}: {field} {message}")]
    Invalid { table: &'static str, record: String, field: &'static str, message: String },
    /// A reference to a switchboard the site does not have.
    #[error("{table} {record}: {field} names switchboard `{switchboard}`, which site {site} does not have")]
    UnknownSwitchboard { table: &'static str, record: String, field: &'static str, switchboard: String, site: String },
    /// Switchboards feeding one another in a loop (through parents or transformers).
    #[error("switchboards feed one another in a loop: {}", .0.join(" → "))]
    Loop(Vec<String>),
    /// A column missing from a table or of a type that cannot hold its values.
    #[error("{table}.{column}: {message}")]
    Column { table: String, column: String, message: String },
    /// The site code is not among the sites.
    #[error("no site `{0}`")]
    UnknownSite(String),
}
