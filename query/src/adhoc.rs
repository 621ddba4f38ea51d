//! Read-only SQL written by report authors (a data table's `query`), and the fixed
//! queries of documents' task lists, timelines and company cards: planned with DDL, DML
//! and statements refused, run on the engine's runtime, answered as typed rows with the
//! warehouse version of each table read.

use std::collections::BTreeMap;

use opsflux_warehouse::arrow::array::{Array, AsArray};
use opsflux_warehouse::arrow::compute::cast;
use opsflux_warehouse::arrow::datatypes::{DataType, Date32Type, Float64Type};
use opsflux_warehouse::datafusion::error::DataFusionError;
use opsflux_warehouse::datafusion::execution::context::SQLOptions;
use opsflux_warehouse::datafusion::logical_expr::LogicalPlan;

use crate::metric::Cell;
use crate::{Engine, QueryError, Scope};

/// What a query column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    Number,
    Date,
    Text,
}

/// Rows of a read-only query.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct QueryRows {
    pub columns: Vec<(String, ColumnKind)>,
    pub rows: Vec<Vec<Cell>>,
    /// Each warehouse table read, with its version.
    pub warehouse: BTreeMap<String, String>,
}

impl Engine {
    /// Runs `sql` (a single `SELECT`) against the current pin as a reader of `scope`
    /// sees it, with `parameters` bound to `$1`, `$2`… (never written into the text);
    /// more than `limit` rows is an error, since a document or a card cannot show them.
    pub async fn query(
        &self,
        sql: &str,
        parameters: &[String],
        limit: usize,
        scope: &Scope,
    ) -> Result<QueryRows, QueryError> {
        let pin = self.pin();
        let sql = sql.to_owned();
        let parameters = parameters.to_vec();
        let scope = scope.clone();
        self.run(async move {
            let options = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
            let frame = pin.sql_with_options(&sql, options, &scope, &parameters).await?;
            // A plan's description is no data for a document, and may say more than its rows.
            if matches!(frame.logical_plan(), LogicalPlan::Explain(_) | LogicalPlan::Analyze(_)) {
                return Err(QueryError::execution("planning the query")(DataFusionError::Plan(
                    "EXPLAIN is not available in document queries".into(),
                )));
            }
            let warehouse = pin.versions_read(&sql);
            let frame = frame.limit(0, Some(limit + 1)).map_err(QueryError::execution("limiting the query"))?;
            // The plan's columns: a query without rows still has them (a table's headings).
            let planned = frame.schema().inner().clone();
            let batches = frame.collect().await.map_err(QueryError::execution("running the query"))?;
            let schema = batches.first().map(|batch| batch.schema()).unwrap_or(planned);
            let columns: Vec<(String, ColumnKind)> = schema
                .fields()
                .iter()
                .map(|field| {
                    let kind = match field.data_type() {
                        data_type if data_type.is_numeric() => ColumnKind::Number,
                        DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _) => ColumnKind::Date,
                        _ => ColumnKind::Text,
                    };
                    (field.name().clone(), kind)
                })
                .collect();
            let mut rows = Vec::new();
            for batch in &batches {
                let mut cells: Vec<Vec<Cell>> =
                    (0..batch.num_rows()).map(|_| Vec::with_capacity(columns.len())).collect();
                for (index, (name, kind)) in columns.iter().enumerate() {
                    let target = match kind {
                        ColumnKind::Number => DataType::Float64,
                        ColumnKind::Date => DataType::Date32,
                        ColumnKind::Text => DataType::Utf8,
                    };
                    let array = cast(batch.column(index), &target)
                        .map_err(|source| QueryError::execution(format!("column {name}"))(source.into()))?;
                    for (row, cell) in cells.iter_mut().enumerate() {
                        cell.push(if array.is_null(row) {
                            Cell::Null
                        } else {
                            match kind {
                                ColumnKind::Number => {
                                    let value = array.as_primitive::<Float64Type>().value(row);
                                    if value.is_finite() {
                                        Cell::Number(crate::metric::settled(value))
                                    } else {
                                        Cell::Null
                                    }
                                }
                                ColumnKind::Date => {
                                    array.as_primitive::<Date32Type>().value_as_date(row).map_or(Cell::Null, Cell::Date)
                                }
                                ColumnKind::Text => Cell::Text(array.as_string::<i32>().value(row).to_owned()),
                            }
                        });
                    }
                }
                rows.extend(cells);
            }
            if rows.len() > limit {
                return Err(QueryError::TooManyRows { limit });
            }
            Ok(QueryRows { columns, rows, warehouse })
        })
        .await
    }
}
