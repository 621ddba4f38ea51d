//! The query engine: a DataFusion session over every warehouse table, pinned to one
//! snapshot of each (a `Pin`), with the catalog's rollups computed for that pin and
//! metric results cached per pin. Plans run on the engine's own runtime so that CPU
//! work never stalls the HTTP runtime.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use opsflux_warehouse::arrow::array::{AsArray, RecordBatch};
use opsflux_warehouse::arrow::datatypes::DataType;
use opsflux_warehouse::datafusion::catalog::{MemorySchemaProvider, TableProvider};
use opsflux_warehouse::datafusion::common::TableReference;
use opsflux_warehouse::datafusion::datasource::MemTable;
use opsflux_warehouse::datafusion::prelude::{DataFrame, SessionConfig, SessionContext};
use opsflux_warehouse::{Snapshot, TableId, Warehouse};

use opsflux_warehouse::datafusion::common::ScalarValue;
use opsflux_warehouse::datafusion::execution::memory_pool::FairSpillPool;
use opsflux_warehouse::datafusion::execution::runtime_env::RuntimeEnvBuilder;
use opsflux_warehouse::datafusion::execution::session_state::SessionStateBuilder;

use crate::catalog::{Catalog, CatalogError, Metric};
use crate::metric::{MetricRequest, MetricResult, Resolved};
use crate::scope::Scope;
use crate::{ParameterError, QueryError};

/// The schema rollups are registered in: `rollup.<name>`.
pub(crate) const ROLLUP_SCHEMA: &str = "rollup";
/// The table sites are checked against.
const SITES: &str = "core.sites";

/// How the engine runs; the defaults suit one machine shared with ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineSettings {
    /// Worker threads of the query runtime, and DataFusion's target partitions.
    pub threads: usize,
    /// Metric results kept per pin (0 turns the cache off).
    pub cached_results: usize,
    /// Tables with at most this many rows in their files are read into memory once per
    /// snapshot (all but the largest, such as meter readings): queries over them then
    /// skip opening Parquet files and merging change logs each time.
    pub memory_rows: u64,
    /// A query (or an export) running longer than this is cancelled.
    pub query_timeout: std::time::Duration,
    /// Exports stream whole tables and get longer than a query.
    pub export_timeout: std::time::Duration,
    /// Memory one query's operators (joins, sorts, aggregations) may hold; past it the
    /// query fails rather than the process.
    pub query_memory_bytes: usize,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            threads: std::thread::available_parallelism().map_or(2, usize::from),
            cached_results: 512,
            memory_rows: 2_000_000,
            query_timeout: std::time::Duration::from_secs(30),
            export_timeout: std::time::Duration::from_secs(30 * 60),
            query_memory_bytes: 2 << 30,
        }
    }
}

/// One snapshot of every warehouse table, with a session that reads exactly it.
pub struct Pin {
    /// Grows by one with each pin that saw a change.
    pub generation: u64,
    /// The snapshot of each table this pin reads.
    pub tables: BTreeMap<TableId, Snapshot>,
    /// Site codes present in `core.sites`, for checking requests.
    pub sites: BTreeSet<String>,
    /// Site code → site id, for scoping tables by their site columns.
    site_ids: BTreeMap<String, String>,
    /// The session over every queryable table, unscoped.
    context: SessionContext,
    /// Column names of each registered table, for choosing its scope rule.
    columns: Vec<(TableId, Vec<String>)>,
    /// Column names of each rollup.
    rollup_columns: Vec<(String, Vec<String>)>,
    /// Sessions built for scoped readers, by their site codes.
    scoped: tokio::sync::Mutex<HashMap<BTreeSet<String>, SessionContext>>,
    /// Per-query memory cap.
    query_memory_bytes: usize,
    rollups: HashMap<String, BuiltRollup>,
    /// Tables held in memory, with the snapshot they hold.
    in_memory: HashMap<TableId, (Snapshot, Arc<dyn TableProvider>)>,
}

#[derive(Debug, Clone)]
struct BuiltRollup {
    /// The warehouse tables it was computed from, at the snapshots it read.
    sources: BTreeMap<TableId, Snapshot>,
    provider: Arc<dyn TableProvider>,
}

impl Pin {
    /// `schema.table` → `v12` or `v12+log v3`, for the warehouse tables a query names
    /// (directly or through the rollups it reads).
    pub(crate) fn versions_read(&self, sql: &str) -> BTreeMap<String, String> {
        let mut read = BTreeMap::new();
        for (table, snapshot) in &self.tables {
            if names(sql, &table.to_string()) {
                read.insert(table.to_string(), describe(snapshot));
            }
        }
        for (name, rollup) in &self.rollups {
            if names(sql, &format!("{ROLLUP_SCHEMA}.{name}")) {
                for (table, snapshot) in &rollup.sources {
                    read.insert(table.to_string(), describe(snapshot));
                }
            }
        }
        read
    }

    /// The sites `scope` may see among those pinned.
    pub fn sites_in(&self, scope: &Scope) -> BTreeSet<String> {
        self.sites.iter().filter(|site| scope.allows(site)).cloned().collect()
    }

    /// Checks requested site codes: unknown ones and ones outside `scope` are refused.
    pub(crate) fn check_sites<'a>(
        &self,
        sites: impl IntoIterator<Item = &'a String>,
        scope: &Scope,
    ) -> Result<(), ParameterError> {
        for site in sites {
            if !self.sites.contains(site) {
                return Err(ParameterError::UnknownSite(site.clone()));
            }
            if !scope.allows(site) {
                return Err(ParameterError::OutsideScope(site.clone()));
            }
        }
        Ok(())
    }

    /// A session for one query by a reader of `scope`: every table and rollup as that
    /// reader may see it, with a memory pool of its own.
    pub async fn session(&self, scope: &Scope) -> Result<SessionContext, QueryError> {
        let base = match scope {
            Scope::All => self.context.clone(),
            Scope::Sites(codes) => {
                let mut scoped = self.scoped.lock().await;
                match scoped.get(codes) {
                    Some(context) => context.clone(),
                    None => {
                        let context = new_context(self.context.copied_config().target_partitions());
                        crate::scope::ScopedBuilder {
                            base: &self.context,
                            tables: &self.columns,
                            rollups: &self.rollup_columns,
                            site_ids: &self.site_ids,
                            codes,
                        }
                        .build(&context)
                        .await?;
                        if scoped.len() >= SCOPED_SESSIONS {
                            scoped.clear();
                        }
                        scoped.insert(codes.clone(), context.clone());
                        context
                    }
                }
            }
        };
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(FairSpillPool::new(self.query_memory_bytes)))
            .build_arc()
            .map_err(QueryError::execution("preparing the query's memory pool"))?;
        let state = SessionStateBuilder::new_from_existing(base.state()).with_runtime_env(runtime).build();
        Ok(SessionContext::new_with_state(state))
    }

    /// Plans SQL with `options` (read-only queries refuse DDL, DML and statements) for
    /// a reader of `scope`, with `parameters` bound to `$1`, `$2`…
    pub(crate) async fn sql_with_options(
        &self,
        sql: &str,
        options: opsflux_warehouse::datafusion::execution::context::SQLOptions,
        scope: &Scope,
        parameters: &[String],
    ) -> Result<DataFrame, QueryError> {
        let frame = self
            .session(scope)
            .await?
            .sql_with_options(sql, options)
            .await
            .map_err(QueryError::execution("planning the query"))?;
        if parameters.is_empty() {
            return Ok(frame);
        }
        let values: Vec<ScalarValue> = parameters.iter().map(|value| ScalarValue::Utf8(Some(value.clone()))).collect();
        frame.with_param_values(values).map_err(QueryError::execution("binding the query's parameters"))
    }

    /// Whether the warehouse held any table when pinned.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// A DataFrame of one table as pinned (change log merged), as `scope` sees it.
    pub async fn table(&self, table: &TableId, scope: &Scope) -> Result<DataFrame, QueryError> {
        if !self.tables.contains_key(table) || !crate::scope::is_queryable(table) {
            return Err(ParameterError::UnknownTable(table.to_string()).into());
        }
        self.session(scope)
            .await?
            .table(TableReference::partial(table.schema(), table.table()))
            .await
            .map_err(QueryError::execution(format!("reading {table}")))
    }

    /// Plans a SQL query over the pinned tables and rollups, as `scope` sees them.
    pub async fn sql(&self, sql: &str, scope: &Scope) -> Result<DataFrame, QueryError> {
        self.session(scope).await?.sql(sql).await.map_err(QueryError::execution("planning a query"))
    }
}

/// Longest a pin (reading every table, computing rollups) may take.
const PIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// Scoped sessions kept per pin; past this many distinct scopes they are built again.
const SCOPED_SESSIONS: usize = 256;

impl Pin {
    fn new(
        generation: u64,
        tables: BTreeMap<TableId, Snapshot>,
        context: SessionContext,
        in_memory: HashMap<TableId, (Snapshot, Arc<dyn TableProvider>)>,
        query_memory_bytes: usize,
    ) -> Self {
        Self {
            generation,
            tables,
            sites: BTreeSet::new(),
            site_ids: BTreeMap::new(),
            context,
            columns: Vec::new(),
            rollup_columns: Vec::new(),
            scoped: tokio::sync::Mutex::new(HashMap::new()),
            query_memory_bytes,
            rollups: HashMap::new(),
            in_memory,
        }
    }
}

/// Aborts the task when dropped, so a caller that stops waiting stops the work.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Pin")
            .field("generation", &self.generation)
            .field("tables", &self.tables.len())
            .field("sites", &self.sites)
            .field("rollups", &self.rollups.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn describe(snapshot: &Snapshot) -> String {
    match snapshot.log {
        Some(log) => format!("{}+log {}", snapshot.table, log),
        None => snapshot.table.to_string(),
    }
}

/// Whether `sql` names `qualified` (`schema.table`) as a whole word. Names are read
/// from the text rather than the plan because DataFusion inlines the pinned views, so
/// the plan's scans no longer carry the table names.
fn names(sql: &str, qualified: &str) -> bool {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    sql.match_indices(qualified).any(|(start, _)| {
        let before = sql[..start].chars().next_back();
        let after = sql[start + qualified.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

/// A runtime for CPU-bound plans; shut down without blocking when the engine goes,
/// since that may happen on another runtime's thread.
#[derive(Debug)]
struct CpuRuntime(Option<tokio::runtime::Runtime>);

impl CpuRuntime {
    fn handle(&self) -> Result<&tokio::runtime::Handle, QueryError> {
        self.0.as_ref().map(tokio::runtime::Runtime::handle).ok_or_else(|| QueryError::Runtime("shut down".into()))
    }
}

impl Drop for CpuRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// A cached metric result: pin generation, reader's scope, metric, resolved request.
type ResultKey = (u64, Scope, String, Resolved);

#[derive(Debug)]
struct Inner {
    warehouse: Warehouse,
    catalog: Catalog,
    settings: EngineSettings,
    runtime: CpuRuntime,
    pin: RwLock<Arc<Pin>>,
    /// One refresh at a time; others wait and then see its pin.
    refreshing: tokio::sync::Mutex<()>,
    results: Mutex<HashMap<ResultKey, Arc<MetricResult>>>,
}

/// Answers metric requests and exports over a pinned warehouse. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
    /// A pin this handle answers from instead of the current one ([`Engine::pinned_at`]).
    fixed: Option<Arc<Pin>>,
}

impl Engine {
    /// Starts the query runtime, pins the warehouse as it is, computes the rollups and
    /// plans every metric once: a definition that does not plan stops here, named.
    pub async fn open(warehouse: Warehouse, catalog: Catalog, settings: EngineSettings) -> Result<Self, QueryError> {
        let threads = settings.threads.max(1);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("opsflux-query")
            .enable_all()
            .build()
            .map_err(|error| QueryError::Runtime(error.to_string()))?;
        let empty = Pin::new(0, BTreeMap::new(), new_context(threads), HashMap::new(), settings.query_memory_bytes);
        let engine = Self {
            inner: Arc::new(Inner {
                warehouse,
                catalog,
                settings: EngineSettings { threads, ..settings },
                runtime: CpuRuntime(Some(runtime)),
                pin: RwLock::new(Arc::new(empty)),
                refreshing: tokio::sync::Mutex::new(()),
                results: Mutex::new(HashMap::new()),
            }),
            fixed: None,
        };
        engine.refresh().await?;
        Ok(engine)
    }

    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    pub fn warehouse(&self) -> &Warehouse {
        &self.inner.warehouse
    }

    /// A handle that answers every request from `pin`, whatever refreshes happen
    /// meanwhile: a scheduled firing renders all its recipients from one snapshot.
    pub fn pinned_at(&self, pin: Arc<Pin>) -> Engine {
        Engine { inner: self.inner.clone(), fixed: Some(pin) }
    }

    /// The pin requests are answered from.
    pub fn pin(&self) -> Arc<Pin> {
        if let Some(pin) = &self.fixed {
            return pin.clone();
        }
        self.inner.pin.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Runs a future on the query runtime and waits for it from any runtime, for at
    /// most the query time limit.
    pub async fn run<T, F>(&self, work: F) -> Result<T, QueryError>
    where
        F: Future<Output = Result<T, QueryError>> + Send + 'static,
        T: Send + 'static,
    {
        self.run_for(self.inner.settings.query_timeout, work).await
    }

    /// Runs a future on the query runtime for at most `limit`: past it the task is
    /// aborted, which drops its plan and stops its operators at their next poll.
    pub async fn run_for<T, F>(&self, limit: std::time::Duration, work: F) -> Result<T, QueryError>
    where
        F: Future<Output = Result<T, QueryError>> + Send + 'static,
        T: Send + 'static,
    {
        let mut handle = AbortOnDrop(self.inner.runtime.handle()?.spawn(work));
        match tokio::time::timeout(limit, &mut handle.0).await {
            Ok(joined) => joined.map_err(|error| QueryError::Runtime(error.to_string()))?,
            Err(_) => Err(QueryError::Timeout { seconds: limit.as_secs_f64() }),
        }
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.inner.settings
    }

    /// Pins the warehouse's current snapshots if any table changed: the new pin gets
    /// a fresh session, rollups whose sources changed are computed again (the others
    /// are kept), and the catalog is planned against it. Requests keep the old pin
    /// until the new one is ready. Returns the pin now in use.
    pub async fn refresh(&self) -> Result<Arc<Pin>, QueryError> {
        let _one_at_a_time = self.inner.refreshing.lock().await;
        let inner = self.inner.clone();
        let previous = self.pin();
        // Pinning reads every table and computes the rollups: not a query, so not held
        // to the query time limit.
        let next = self.run_for(PIN_TIMEOUT, async move { build_pin(&inner, previous).await }).await?;
        let mut pin = self.inner.pin.write().unwrap_or_else(PoisonError::into_inner);
        if !Arc::ptr_eq(&pin, &next) {
            tracing::debug!(generation = next.generation, tables = next.tables.len(), "warehouse pinned");
            *pin = next.clone();
            self.inner
                .results
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|(generation, _, _, _), _| *generation == next.generation);
        }
        Ok(next)
    }

    /// Answers one metric from the current pin, as a reader of `scope` sees it (from
    /// the cache when asked before by the same scope).
    pub async fn metric(
        &self,
        name: &str,
        request: &MetricRequest,
        scope: &Scope,
    ) -> Result<Arc<MetricResult>, QueryError> {
        let metric = self.catalog().metric(name).ok_or_else(|| ParameterError::UnknownMetric(name.to_owned()))?;
        let pin = self.pin();
        pin.check_sites(&request.sites, scope)?;
        let resolved = Resolved::new(metric, request, |site| pin.sites.contains(site))?;
        let key = (pin.generation, scope.clone(), name.to_owned(), resolved.clone());
        if let Some(cached) = self.inner.results.lock().unwrap_or_else(PoisonError::into_inner).get(&key) {
            return Ok(cached.clone());
        }
        let result = Arc::new(self.compute(metric.clone(), resolved, pin, scope.clone()).await?);
        if self.inner.settings.cached_results > 0 {
            let mut results = self.inner.results.lock().unwrap_or_else(PoisonError::into_inner);
            if results.len() >= self.inner.settings.cached_results {
                results.clear();
            }
            results.insert(key, result.clone());
        }
        Ok(result)
    }

    /// The SQL a metric request runs, for exports and for comparing with other engines.
    pub fn metric_sql(&self, name: &str, request: &MetricRequest) -> Result<String, QueryError> {
        let metric = self.catalog().metric(name).ok_or_else(|| ParameterError::UnknownMetric(name.to_owned()))?;
        let pin = self.pin();
        Ok(Resolved::new(metric, request, |site| pin.sites.contains(site))?.sql(metric))
    }

    async fn compute(
        &self,
        metric: Metric,
        resolved: Resolved,
        pin: Arc<Pin>,
        scope: Scope,
    ) -> Result<MetricResult, QueryError> {
        self.run(async move {
            if pin.is_empty() {
                return MetricResult::new(&metric, &resolved, &[], pin.generation, BTreeMap::new());
            }
            let sql = resolved.sql(&metric);
            let frame = match pin.session(&scope).await?.sql(&sql).await {
                Ok(frame) => frame,
                // Its tables are not in the warehouse yet: no data, rather than an error.
                Err(error) if names_missing_table(&error) => {
                    return MetricResult::new(&metric, &resolved, &[], pin.generation, BTreeMap::new());
                }
                Err(error) => return Err(QueryError::execution(format!("metric {}", metric.name))(error)),
            };
            let read = pin.versions_read(&sql);
            let batches = frame.collect().await.map_err(QueryError::execution(format!("metric {}", metric.name)))?;
            MetricResult::new(&metric, &resolved, &batches, pin.generation, read)
        })
        .await
    }
}

fn new_context(threads: usize) -> SessionContext {
    let config = SessionConfig::new().with_target_partitions(threads).with_information_schema(true);
    SessionContext::new_with_config(config)
}

pub(crate) fn register(
    context: &SessionContext,
    schema: &str,
    table: &str,
    provider: Arc<dyn TableProvider>,
) -> Result<(), QueryError> {
    let catalog = context
        .catalog("datafusion")
        .ok_or_else(|| QueryError::Runtime("the session has no default catalog".into()))?;
    if catalog.schema(schema).is_none() {
        catalog
            .register_schema(schema, Arc::new(MemorySchemaProvider::new()))
            .map_err(QueryError::execution(format!("registering schema {schema}")))?;
    }
    context
        .register_table(TableReference::partial(schema, table), provider)
        .map_err(QueryError::execution(format!("registering {schema}.{table}")))?;
    Ok(())
}

async fn build_pin(inner: &Inner, previous: Arc<Pin>) -> Result<Arc<Pin>, QueryError> {
    let warehouse = &inner.warehouse;
    let mut tables = BTreeMap::new();
    for table in warehouse.tables().await? {
        if !crate::scope::is_queryable(&table) {
            continue;
        }
        if let Some(snapshot) = warehouse.snapshot(&table).await? {
            tables.insert(table, snapshot);
        }
    }
    if tables == previous.tables && previous.generation > 0 {
        return Ok(previous);
    }
    let context = new_context(inner.settings.threads);
    let mut in_memory = HashMap::new();
    for (table, snapshot) in &tables {
        if let Some((kept, provider)) = previous.in_memory.get(table)
            && kept == snapshot
        {
            register(&context, table.schema(), table.table(), provider.clone())?;
            in_memory.insert(table.clone(), (*snapshot, provider.clone()));
            continue;
        }
        let frame = warehouse.frame(&context, table, Some(*snapshot)).await?;
        let rows = warehouse.describe(table).await?.map_or(0, |info| info.rows);
        if rows > inner.settings.memory_rows {
            register(&context, table.schema(), table.table(), frame.into_view())?;
            continue;
        }
        let schema = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame.collect().await.map_err(QueryError::execution(format!("reading {table}")))?;
        let provider: Arc<dyn TableProvider> = Arc::new(
            MemTable::try_new(schema, spread(batches, inner.settings.threads))
                .map_err(QueryError::execution(format!("holding {table} in memory")))?,
        );
        register(&context, table.schema(), table.table(), provider.clone())?;
        in_memory.insert(table.clone(), (*snapshot, provider));
    }
    let mut pin = Pin::new(previous.generation + 1, tables, context, in_memory, inner.settings.query_memory_bytes);
    for table in pin.tables.keys() {
        let frame = pin
            .context
            .table(TableReference::partial(table.schema(), table.table()))
            .await
            .map_err(QueryError::execution(format!("reading {table}")))?;
        let names = frame.schema().fields().iter().map(|field| field.name().clone()).collect();
        pin.columns.push((table.clone(), names));
    }
    if pin.tables.is_empty() {
        return Ok(Arc::new(pin));
    }
    for rollup in inner.catalog.rollups() {
        let field = format!("rollup ({}).sql", rollup.name);
        let frame = match pin.context.sql(&rollup.sql).await {
            Ok(frame) => frame,
            // A table not created yet (an initial copy still running): the rollup, and the
            // metrics reading it, wait for a later pin.
            Err(error) if names_missing_table(&error) => {
                tracing::info!(rollup = %rollup.name, "rollup waits for its tables: {error}");
                continue;
            }
            Err(error) => return Err(catalog_error(&rollup.file, &field, &error)),
        };
        let mut sources = BTreeMap::new();
        for (table, snapshot) in &pin.tables {
            if names(&rollup.sql, &table.to_string()) {
                sources.insert(table.clone(), *snapshot);
            }
        }
        for (name, earlier) in &pin.rollups {
            if names(&rollup.sql, &format!("{ROLLUP_SCHEMA}.{name}")) {
                sources.extend(earlier.sources.clone());
            }
        }
        let built = match previous.rollups.get(&rollup.name) {
            Some(kept) if kept.sources == sources => kept.clone(),
            _ => {
                let started = std::time::Instant::now();
                let schema = Arc::new(frame.schema().as_arrow().clone());
                let batches = frame.collect().await.map_err(|error| catalog_error(&rollup.file, &field, &error))?;
                let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
                let partitions = spread(batches, inner.settings.threads);
                let provider = MemTable::try_new(schema, partitions)
                    .map_err(QueryError::execution(format!("rollup {}", rollup.name)))?;
                tracing::info!(rollup = %rollup.name, rows, milliseconds = started.elapsed().as_millis() as u64, "rollup computed");
                BuiltRollup { sources, provider: Arc::new(provider) }
            }
        };
        register(&pin.context, ROLLUP_SCHEMA, &rollup.name, built.provider.clone())?;
        let names = built.provider.schema().fields().iter().map(|field| field.name().clone()).collect();
        pin.rollup_columns.push((rollup.name.clone(), names));
        pin.rollups.insert(rollup.name.clone(), built);
    }
    if pin.tables.keys().any(|table| table.to_string() == SITES) {
        let batches = pin
            .context
            .sql("SELECT code, CAST(id AS VARCHAR) FROM core.sites WHERE deleted_at IS NULL")
            .await
            .map_err(QueryError::execution("reading site codes"))?
            .collect()
            .await
            .map_err(QueryError::execution("reading site codes"))?;
        for batch in &batches {
            let text = |column: usize| {
                opsflux_warehouse::arrow::compute::cast(batch.column(column), &DataType::Utf8)
                    .map_err(|error| QueryError::execution("reading site codes")(error.into()))
            };
            let (codes, ids) = (text(0)?, text(1)?);
            for (code, id) in codes.as_string::<i32>().iter().zip(ids.as_string::<i32>().iter()) {
                if let Some(code) = code {
                    pin.sites.insert(code.to_owned());
                    if let Some(id) = id {
                        pin.site_ids.insert(code.to_owned(), id.to_owned());
                    }
                }
            }
        }
    }
    check_metrics(&inner.catalog, &pin).await?;
    Ok(Arc::new(pin))
}

/// Plans every metric against the pin, so that a definition naming a missing column or
/// table, or a date column that is not a date, fails at start with its file and field.
async fn check_metrics(catalog: &Catalog, pin: &Pin) -> Result<(), QueryError> {
    for metric in catalog.metrics() {
        let source = match pin.context.sql(&metric.source).await {
            Ok(source) => source,
            Err(error) if names_missing_table(&error) => continue,
            Err(error) => return Err(catalog_error(&metric.file, &format!("metric ({}).source", metric.name), &error)),
        };
        let schema = source.schema();
        for column in std::iter::once(&"site".to_owned()).chain([&metric.date]).chain(&metric.dimensions) {
            if schema.field_with_unqualified_name(column).is_err() {
                return Err(CatalogError::Field {
                    file: metric.file.clone(),
                    field: format!("metric ({}).source", metric.name),
                    message: format!("the source returns no column `{column}`"),
                }
                .into());
            }
        }
        if let Ok(date) = schema.field_with_unqualified_name(&metric.date)
            && date.data_type() != &DataType::Date32
        {
            return Err(CatalogError::Field {
                file: metric.file.clone(),
                field: format!("metric ({}).date", metric.name),
                message: format!("`{}` is {}, not a DATE: cast it in the source", metric.date, date.data_type()),
            }
            .into());
        }
        let request = MetricRequest {
            sites: Vec::new(),
            from: chrono::NaiveDate::MIN,
            to: chrono::NaiveDate::MIN,
            grain: None,
            by: Some(std::iter::once("site".to_owned()).chain(metric.dimensions.iter().cloned()).collect()),
        };
        let resolved = Resolved::new(metric, &request, |_| true)?;
        pin.context
            .sql(&resolved.sql(metric))
            .await
            .map_err(|error| catalog_error(&metric.file, &format!("metric ({}).measures", metric.name), &error))?;
    }
    Ok(())
}

/// Whether planning failed because a table the SQL names does not exist (several
/// missing tables come as a collection of such errors).
fn names_missing_table(error: &opsflux_warehouse::datafusion::error::DataFusionError) -> bool {
    use opsflux_warehouse::datafusion::error::DataFusionError;
    let not_found = |message: &str| message.starts_with("table '") && message.ends_with("' not found");
    match error {
        DataFusionError::Diagnostic(diagnostic, inner) => not_found(&diagnostic.message) || names_missing_table(inner),
        DataFusionError::Context(_, inner) => names_missing_table(inner),
        DataFusionError::Collection(errors) => !errors.is_empty() && errors.iter().all(names_missing_table),
        DataFusionError::Plan(message) => not_found(message),
        _ => false,
    }
}

fn catalog_error(file: &str, field: &str, error: &opsflux_warehouse::datafusion::error::DataFusionError) -> QueryError {
    let message = error.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
    CatalogError::Field { file: file.to_owned(), field: field.to_owned(), message }.into()
}

/// Deals batches round-robin into `partitions` lists, so scans of a rollup run in parallel.
fn spread(batches: Vec<RecordBatch>, partitions: usize) -> Vec<Vec<RecordBatch>> {
    let mut spread = vec![Vec::new(); partitions.max(1)];
    for (index, batch) in batches.into_iter().enumerate() {
        spread[index % partitions.max(1)].push(batch);
    }
    spread
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_names_are_found_as_whole_words() {
        let sql = "SELECT * FROM pob.stays JOIN core.sites_extra ON true JOIN rollup.pob_daily AS pob_daily";
        let found: Vec<&str> = ["pob.stays", "core.sites", "rollup.pob_daily", "rollup.pob"]
            .into_iter()
            .filter(|name| super::names(sql, name))
            .collect();
        assert_eq!(found, ["pob.stays", "rollup.pob_daily"]);
    }
}
