//! Row-level site scope, applied once in the query plan: a reader scoped to some sites
//! gets a session in which every warehouse table and rollup is an opaque table that
//! keeps only the rows of those sites, so metrics, exports, document queries and anything planned
//! later obey the same rule without SQL of their own. Platform tables are never
//! registered in any session.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use opsflux_warehouse::TableId;
use opsflux_warehouse::arrow::datatypes::SchemaRef;
use opsflux_warehouse::datafusion::catalog::{Session, TableProvider};
use opsflux_warehouse::datafusion::common::{Column, JoinType, TableReference};
use opsflux_warehouse::datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, TableType, col, lit};
use opsflux_warehouse::datafusion::physical_plan::ExecutionPlan;
use opsflux_warehouse::datafusion::prelude::{DataFrame, SessionContext};

use crate::QueryError;

/// The sites a reader may see. Handed to the engine by whoever knows the reader.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Every site, for roles that say so (and for the command line).
    All,
    /// These site codes only; empty means no site at all.
    Sites(BTreeSet<String>),
}

impl Scope {
    /// A scope of the given site codes.
    pub fn sites<I: IntoIterator<Item = S>, S: Into<String>>(codes: I) -> Self {
        Scope::Sites(codes.into_iter().map(Into::into).collect())
    }

    /// Whether rows of site `code` are visible.
    pub fn allows(&self, code: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Sites(codes) => codes.contains(code),
        }
    }

    /// The sites both scopes allow.
    pub fn intersect(&self, other: &Scope) -> Scope {
        match (self, other) {
            (Scope::All, narrower) | (narrower, Scope::All) => narrower.clone(),
            (Scope::Sites(mine), Scope::Sites(theirs)) => Scope::Sites(mine.intersection(theirs).cloned().collect()),
        }
    }

    /// `all sites` or the codes, for logs and audit records.
    pub fn describe(&self) -> String {
        match self {
            Scope::All => "all sites".to_owned(),
            Scope::Sites(codes) if codes.is_empty() => "no site".to_owned(),
            Scope::Sites(codes) => codes.iter().cloned().collect::<Vec<_>>().join(","),
        }
    }
}

/// Schemas never registered in a query session, whoever asks: users, password and
/// token hashes, signing keys, the audit log.
pub const PRIVATE_SCHEMAS: &[&str] = &["platform"];

/// Whether a table may be registered in a query session at all.
pub fn is_queryable(table: &TableId) -> bool {
    !PRIVATE_SCHEMAS.contains(&table.schema())
}

/// Tables with no site column of their own whose rows belong to the site of the row
/// they reference: `(table, foreign key column, referenced table)`. A table neither
/// listed here nor holding a site column nor shared is hidden from scoped readers, so
/// a table added later is closed until its rule is written.
pub const FOLLOWS: &[(&str, &str, &str)] = &[
    ("projects.tasks", "project_id", "projects.projects"),
    ("projects.milestones", "project_id", "projects.projects"),
    ("projects.budget_lines", "project_id", "projects.projects"),
    ("organizer.reservations", "resource_id", "organizer.resources"),
    ("pob.stay_approvals", "stay_id", "pob.stays"),
    ("travel.bookings", "trip_id", "travel.trips"),
    ("travel.manifest_passengers", "trip_leg_id", "travel.trip_legs"),
    ("travel.manifest_cargo", "trip_leg_id", "travel.trip_legs"),
    ("travel.fuel_logs", "trip_id", "travel.trips"),
    ("moc.impact_assessments", "request_id", "moc.requests"),
    ("moc.approvals", "request_id", "moc.requests"),
    ("moc.state_transitions", "request_id", "moc.requests"),
    ("cleanvue.audits", "zone_id", "cleanvue.zones"),
    ("cleanvue.audit_scores", "audit_id", "cleanvue.audits"),
    ("powertrace.meter_readings", "meter_id", "powertrace.meters"),
    ("powertrace.scenario_items", "scenario_id", "powertrace.scenarios"),
    ("hse.investigations", "incident_id", "hse.incidents"),
    ("hse.actions", "incident_id", "hse.incidents"),
    ("redacteur.document_versions", "document_id", "redacteur.documents"),
];

/// Reference tables that belong to no site and every reader shares.
pub const SHARED: &[&str] = &["tiers.companies", "tiers.contacts", "redacteur.templates"];

/// The table holding the sites, filtered by code.
const SITES: &str = "core.sites";

/// Whether a column names a site by id (`site_id`, `home_site_id`, `departure_site_id`…).
fn is_site_column(name: &str) -> bool {
    name == "site_id" || name.ends_with("_site_id")
}

/// How a table's rows are kept for a scoped reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// `core.sites`: by code.
    SiteCodes,
    /// Rows whose site columns (any of them) name a site in scope, by id.
    SiteColumns(Vec<String>),
    /// Rows whose `column` references a visible row of `parent` (by `id`).
    Follows { column: String, parent: TableId },
    /// Rollups: by their `site` code column.
    SiteCode(String),
    /// Every row.
    Shared,
    /// No row.
    Hidden,
}

/// The rule for one table, from its column names.
pub fn rule_for(table: &TableId, columns: &[String]) -> Rule {
    let name = table.to_string();
    if name == SITES {
        return Rule::SiteCodes;
    }
    let site_columns: Vec<String> = columns.iter().filter(|column| is_site_column(column)).cloned().collect();
    if !site_columns.is_empty() {
        return Rule::SiteColumns(site_columns);
    }
    if let Some((_, column, parent)) = FOLLOWS.iter().find(|(follower, _, _)| *follower == name)
        && let Ok(parent) = parent.parse::<TableId>()
    {
        return Rule::Follows { column: (*column).to_owned(), parent };
    }
    if SHARED.contains(&name.as_str()) {
        return Rule::Shared;
    }
    Rule::Hidden
}

/// The rule for a rollup: by its `site` (code) or `site_id` column, else hidden.
pub(crate) fn rollup_rule(columns: &[String]) -> Rule {
    if columns.iter().any(|column| column == "site") {
        Rule::SiteCode("site".to_owned())
    } else if columns.iter().any(|column| column == "site_id") {
        Rule::SiteColumns(vec!["site_id".to_owned()])
    } else {
        Rule::Hidden
    }
}

/// Builds the session a scoped reader queries: each table of `base` as a filtered view.
pub(crate) struct ScopedBuilder<'a> {
    pub base: &'a SessionContext,
    pub tables: &'a [(TableId, Vec<String>)],
    pub rollups: &'a [(String, Vec<String>)],
    /// Site code → site id, as pinned.
    pub site_ids: &'a BTreeMap<String, String>,
    pub codes: &'a BTreeSet<String>,
}

impl ScopedBuilder<'_> {
    pub async fn build(&self, context: &SessionContext) -> Result<(), QueryError> {
        let mut built: HashMap<TableId, DataFrame> = HashMap::new();
        for (table, _) in self.tables {
            let frame = self.scoped(table, &mut built, 0).await?;
            crate::engine::register(context, table.schema(), table.table(), ScopedTable::provider(frame))?;
        }
        for (name, columns) in self.rollups {
            let frame = self
                .base
                .table(TableReference::partial(crate::engine::ROLLUP_SCHEMA, name.as_str()))
                .await
                .map_err(QueryError::execution(format!("scoping rollup {name}")))?;
            let frame = self.apply(frame, &rollup_rule(columns), &mut built, 0).await?;
            crate::engine::register(context, crate::engine::ROLLUP_SCHEMA, name, ScopedTable::provider(frame))?;
        }
        Ok(())
    }

    fn scoped<'s>(
        &'s self,
        table: &'s TableId,
        built: &'s mut HashMap<TableId, DataFrame>,
        depth: usize,
    ) -> futures::future::BoxFuture<'s, Result<DataFrame, QueryError>> {
        Box::pin(async move {
            if let Some(frame) = built.get(table) {
                return Ok(frame.clone());
            }
            let frame = self
                .base
                .table(TableReference::partial(table.schema(), table.table()))
                .await
                .map_err(QueryError::execution(format!("scoping {table}")))?;
            let columns = self
                .tables
                .iter()
                .find(|(known, _)| known == table)
                .map(|(_, columns)| columns.clone())
                .unwrap_or_default();
            let frame = self.apply(frame, &rule_for(table, &columns), built, depth).await?;
            built.insert(table.clone(), frame.clone());
            Ok(frame)
        })
    }

    async fn apply(
        &self,
        frame: DataFrame,
        rule: &Rule,
        built: &mut HashMap<TableId, DataFrame>,
        depth: usize,
    ) -> Result<DataFrame, QueryError> {
        let codes: Vec<Expr> = self.codes.iter().map(|code| lit(code.clone())).collect();
        let ids: Vec<Expr> =
            self.codes.iter().filter_map(|code| self.site_ids.get(code)).map(|id| lit(id.clone())).collect();
        let filter = |frame: DataFrame, predicate: Expr| {
            frame.filter(predicate).map_err(QueryError::execution("applying the site scope"))
        };
        match rule {
            Rule::Shared => Ok(frame),
            Rule::Hidden => filter(frame, lit(false)),
            Rule::SiteCodes => filter(frame, in_list("code", codes)),
            Rule::SiteCode(column) => filter(frame, in_list(column, codes)),
            Rule::SiteColumns(columns) => {
                let predicate =
                    columns.iter().map(|column| in_list(column, ids.clone())).reduce(Expr::or).unwrap_or(lit(false));
                filter(frame, predicate)
            }
            Rule::Follows { column, parent } => {
                // A cycle in the rules, or a parent not in the warehouse yet, hides the rows.
                let parent_known = self.tables.iter().any(|(known, _)| known == parent);
                if depth > FOLLOWS.len() || !parent_known {
                    return filter(frame, lit(false));
                }
                let parent_rows = self.scoped(parent, built, depth + 1).await?;
                let parent_ids = parent_rows
                    .select(vec![col("id").alias(PARENT_ID)])
                    .map_err(QueryError::execution(format!("scoping through {parent}")))?;
                frame
                    .join(parent_ids, JoinType::LeftSemi, &[column.as_str()], &[PARENT_ID], None)
                    .map_err(QueryError::execution(format!("scoping through {parent}")))
            }
        }
    }
}

/// A table as a scoped reader sees it: the scope's plan, run whole before anything the
/// reader's query asks of it. Unlike a view it is opaque to the optimizer, so none of
/// the reader's filters is ever evaluated on a row outside the scope, where its error
/// (a failed cast) or its row counts (`EXPLAIN ANALYZE`) would tell them something.
#[derive(Debug)]
pub(crate) struct ScopedTable {
    plan: LogicalPlan,
    schema: SchemaRef,
}

impl ScopedTable {
    fn provider(frame: DataFrame) -> Arc<dyn TableProvider> {
        let schema = Arc::new(frame.schema().as_arrow().clone());
        Arc::new(Self { plan: frame.into_unoptimized_plan(), schema })
    }
}

#[async_trait::async_trait]
impl TableProvider for ScopedTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    /// Only the columns asked for, and the limit, reach the scope's plan; filters stay
    /// above it (the trait's default refuses every filter pushdown).
    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> opsflux_warehouse::datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let mut plan = LogicalPlanBuilder::from(self.plan.clone());
        if let Some(projection) = projection
            && projection.iter().copied().ne(0..self.schema.fields().len())
        {
            let fields: Vec<Expr> = projection
                .iter()
                .map(|index| Expr::Column(Column::from(self.plan.schema().qualified_field(*index))))
                .collect();
            plan = plan.project(fields)?;
        }
        if let Some(limit) = limit {
            plan = plan.limit(0, Some(limit))?;
        }
        state.create_physical_plan(&plan.build()?).await
    }
}

/// The name the parent's key takes in a scope join, apart from the child's own `id`.
const PARENT_ID: &str = "opsflux_scope_parent_id";

fn in_list(column: &str, values: Vec<Expr>) -> Expr {
    if values.is_empty() {
        return lit(false);
    }
    // Quoted, so upper-case or odd column names are read as written.
    Expr::Column(Column::new_unqualified(column)).in_list(values, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn each_kind_of_table_gets_its_rule() {
        let table = |name: &str| name.parse::<TableId>().unwrap();
        assert_eq!(rule_for(&table("core.sites"), &columns(&["id", "code"])), Rule::SiteCodes);
        assert_eq!(
            rule_for(&table("travel.trips"), &columns(&["id", "departure_site_id", "arrival_site_id"])),
            Rule::SiteColumns(columns(&["departure_site_id", "arrival_site_id"]))
        );
        assert_eq!(
            rule_for(&table("powertrace.meter_readings"), &columns(&["id", "meter_id", "kw"])),
            Rule::Follows { column: "meter_id".into(), parent: table("powertrace.meters") }
        );
        assert_eq!(rule_for(&table("tiers.companies"), &columns(&["id", "name"])), Rule::Shared);
        assert_eq!(rule_for(&table("tiers.external_users"), &columns(&["id", "email"])), Rule::Hidden);
        assert_eq!(rule_for(&table("newmodule.things"), &columns(&["id"])), Rule::Hidden);
        assert!(!is_queryable(&table("platform.users")));
        assert_eq!(rollup_rule(&columns(&["site", "day"])), Rule::SiteCode("site".into()));
        assert_eq!(rollup_rule(&columns(&["day"])), Rule::Hidden);
    }

    #[test]
    fn scopes_describe_themselves() {
        assert_eq!(Scope::All.describe(), "all sites");
        assert_eq!(Scope::sites(["BRAVO", "ALPHA"]).describe(), "ALPHA,BRAVO");
        assert_eq!(Scope::sites(Vec::<String>::new()).describe(), "no site");
        assert!(Scope::sites(["ALPHA"]).allows("ALPHA") && !Scope::sites(["ALPHA"]).allows("BRAVO"));
        assert_eq!(Scope::All.intersect(&Scope::sites(["ALPHA"])), Scope::sites(["ALPHA"]));
        assert_eq!(Scope::sites(["ALPHA", "BRAVO"]).intersect(&Scope::sites(["BRAVO"])), Scope::sites(["BRAVO"]));
    }
}
