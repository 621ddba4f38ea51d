//! The changes to one table since its last warehouse commit, folded to at most one
//! pending change per primary key, then turned into a warehouse change set.
//!
//! Folding keeps a burst of updates to one row as one row, and keeps an insert that was
//! deleted again out of the warehouse entirely. Values stay in PostgreSQL's text form
//! until the commit, so a column added or dropped mid-batch only reshapes what is held.

use std::collections::HashMap;
use std::sync::Arc;

use opsflux_warehouse::arrow::array::{ArrayRef, BooleanArray, RecordBatch};
use opsflux_warehouse::arrow::datatypes::{DataType, Field, Schema};
use opsflux_warehouse::{ChangeSet, DELETE_COLUMN, Evolution, KEEP_COLUMN_PREFIX, SchemaChange, TableId};

use crate::evolve::{Addition, ShapeChange};
use crate::pgoutput::{OldTuple, Relation, Tuple, Value};
use crate::rows::{ColumnSpec, ConvertError, RowBatchBuilder, arrow_schema};

/// A captured table's shape as the stream last described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableShape {
    pub id: TableId,
    pub columns: Vec<ColumnSpec>,
    /// Positions of the primary key columns in `columns`.
    pub key: Vec<usize>,
}

impl TableShape {
    /// The shape a `pgoutput` relation message describes; `None` when it has no key.
    pub fn from_relation(id: TableId, relation: &Relation) -> Option<Self> {
        let columns = relation
            .columns
            .iter()
            .map(|column| ColumnSpec {
                name: column.name.clone(),
                type_oid: column.type_oid,
                type_modifier: column.type_modifier,
            })
            .collect();
        let key: Vec<usize> = relation.columns.iter().enumerate().filter(|(_, c)| c.is_key).map(|(i, _)| i).collect();
        (!key.is_empty()).then_some(Self { id, columns, key })
    }

    fn key_of(&self, values: &[Value]) -> Vec<Option<String>> {
        self.key
            .iter()
            .map(|position| match values.get(*position) {
                Some(Value::Text(text)) => Some(text.clone()),
                _ => None,
            })
            .collect()
    }
}

/// What will happen to one key at the next commit.
#[derive(Debug, Clone, PartialEq)]
enum Pending {
    /// A row the warehouse does not hold: appended.
    Insert(Tuple),
    /// A row that may exist: replaced, or inserted when missing. Unchanged TOASTed
    /// values keep the warehouse's current value.
    Upsert(Tuple),
    /// Removed by key.
    Delete(Tuple),
}

/// Where the rows the warehouse already stores take a column's values from.
#[derive(Debug, Clone, PartialEq)]
enum Origin {
    /// Their stored column of that name.
    Stored(String),
    /// One value (text form) for all: the column's default for rows that predate it.
    Filled(Option<String>),
    /// Each row's current value at the source, by key ([`TableChanges::backfill`]).
    Backfilled,
}

/// Current values of new columns by key: key values, then the columns'.
#[derive(Debug, Clone, Default)]
struct Backfill {
    columns: Vec<String>,
    rows: Vec<Vec<Option<String>>>,
}

/// The folded changes to one table.
#[derive(Debug, Clone)]
pub struct TableChanges {
    shape: TableShape,
    truncate: bool,
    rows: HashMap<Vec<Option<String>>, Pending>,
    /// Per column of `shape`.
    origins: Vec<Origin>,
    backfill: Option<Backfill>,
    records: Vec<SchemaChange>,
}

impl TableChanges {
    pub fn new(shape: TableShape) -> Self {
        let origins = shape.columns.iter().map(|column| Origin::Stored(column.name.clone())).collect();
        Self { shape, truncate: false, rows: HashMap::new(), origins, backfill: None, records: Vec::new() }
    }

    pub fn shape(&self) -> &TableShape {
        &self.shape
    }

    pub fn insert(&mut self, new: Tuple) {
        let key = self.shape.key_of(&new);
        let pending = match self.rows.remove(&key) {
            // A row deleted earlier in this batch may still be in the warehouse.
            Some(Pending::Delete(_)) => Pending::Upsert(new),
            // After a truncation every row is new, and a duplicate insert cannot happen
            // in a table with a primary key.
            _ => Pending::Insert(new),
        };
        self.rows.insert(key, pending);
    }

    pub fn update(&mut self, old: Option<OldTuple>, new: Tuple) {
        let key = self.shape.key_of(&new);
        if let Some(old) = old.filter(|old| self.shape.key_of(&old.values) != key) {
            // The key itself changed: the old row goes and the new one replaces it, with
            // the values the update did not resend taken from the old row when held.
            let old_key = self.shape.key_of(&old.values);
            let base = match self.rows.get(&old_key) {
                Some(Pending::Insert(values) | Pending::Upsert(values)) => Some(values.clone()),
                _ => None,
            };
            self.delete_key(old_key, old.values);
            self.rows.insert(key, Pending::Upsert(overlay(base.as_ref(), new)));
            return;
        }
        let pending = match self.rows.remove(&key) {
            Some(Pending::Insert(values)) => Pending::Insert(overlay(Some(&values), new)),
            Some(Pending::Upsert(values)) => Pending::Upsert(overlay(Some(&values), new)),
            _ => Pending::Upsert(new),
        };
        self.rows.insert(key, pending);
    }

    pub fn delete(&mut self, old: OldTuple) {
        let key = self.shape.key_of(&old.values);
        self.delete_key(key, old.values);
    }

    fn delete_key(&mut self, key: Vec<Option<String>>, values: Tuple) {
        match self.rows.remove(&key) {
            // Inserted and deleted within the batch (or after a truncation): nothing to do.
            Some(Pending::Insert(_)) => {}
            _ if self.truncate => {}
            _ => {
                self.rows.insert(key, Pending::Delete(values));
            }
        }
    }

    /// Everything before is gone; what follows starts from an empty table.
    pub fn truncate(&mut self) {
        self.truncate = true;
        self.rows.clear();
    }

    /// Follows a new shape of the table: values are kept by column name, added columns
    /// start as NULL.
    pub fn reshape(&mut self, shape: TableShape) {
        self.evolve(shape, &ShapeChange::default(), Vec::new());
    }

    /// Follows a new shape of the table as `change` says: renamed columns keep their
    /// values, added ones take what `change` gives rows that predate them (held rows
    /// too); `records` go to the warehouse's record with the commit.
    pub fn evolve(&mut self, shape: TableShape, change: &ShapeChange, records: Vec<SchemaChange>) {
        self.records.extend(records);
        if shape == self.shape {
            return;
        }
        let positions: Vec<Option<usize>> = shape
            .columns
            .iter()
            .map(|column| {
                let old_name = change
                    .renamed
                    .iter()
                    .find(|(_, to)| *to == column.name)
                    .map_or(column.name.as_str(), |(from, _)| from.as_str());
                self.shape.columns.iter().position(|old| old.name == old_name)
            })
            .collect();
        let added = |name: &str| change.added.iter().find(|(added, _)| added == name).map(|(_, addition)| addition);
        let fills: Vec<Value> = shape
            .columns
            .iter()
            .map(|column| match added(&column.name) {
                Some(Addition::Value(Some(value))) => Value::Text(value.clone()),
                _ => Value::Null,
            })
            .collect();
        self.origins = shape
            .columns
            .iter()
            .zip(&positions)
            .map(|(column, position)| match position {
                Some(index) => self.origins.get(*index).cloned().unwrap_or(Origin::Stored(column.name.clone())),
                None => match added(&column.name) {
                    Some(Addition::Value(value)) => Origin::Filled(value.clone()),
                    Some(Addition::Backfill) => Origin::Backfilled,
                    None => Origin::Filled(None),
                },
            })
            .collect();
        if let Some(backfill) = &mut self.backfill {
            for name in &mut backfill.columns {
                if let Some((_, to)) = change.renamed.iter().find(|(from, _)| from == name) {
                    name.clone_from(to);
                }
            }
        }
        let remap = |values: Tuple| -> Tuple {
            positions
                .iter()
                .zip(&fills)
                .map(|(position, fill)| {
                    position.and_then(|index| values.get(index).cloned()).unwrap_or_else(|| fill.clone())
                })
                .collect()
        };
        let rows = std::mem::take(&mut self.rows);
        self.shape = shape;
        for (_, pending) in rows {
            let pending = match pending {
                Pending::Insert(values) => Pending::Insert(remap(values)),
                Pending::Upsert(values) => Pending::Upsert(remap(values)),
                Pending::Delete(values) => Pending::Delete(remap(values)),
            };
            let values = match &pending {
                Pending::Insert(values) | Pending::Upsert(values) | Pending::Delete(values) => values,
            };
            self.rows.insert(self.shape.key_of(values), pending);
        }
    }

    /// Columns whose stored rows take the source's current values.
    pub fn backfilled(&self) -> Vec<String> {
        self.shape
            .columns
            .iter()
            .zip(&self.origins)
            .filter(|(_, origin)| **origin == Origin::Backfilled)
            .map(|(column, _)| column.name.clone())
            .collect()
    }

    /// Sets the current values at the source of [`TableChanges::backfilled`] columns, by
    /// key: key values, then the columns', per row.
    pub fn set_backfill(&mut self, columns: Vec<String>, rows: Vec<Vec<Option<String>>>) {
        self.backfill = Some(Backfill { columns, rows });
    }

    /// The schema changes to record once this is committed.
    pub fn take_records(&mut self) -> Vec<SchemaChange> {
        std::mem::take(&mut self.records)
    }

    /// What the stored rows do with the columns' changes.
    fn evolution(&self) -> Result<Evolution, ConvertError> {
        let name = self.shape.id.to_string();
        let mut evolution = Evolution::default();
        for (column, origin) in self.shape.columns.iter().zip(&self.origins) {
            match origin {
                Origin::Stored(stored) if *stored != column.name => {
                    evolution.renamed.push((stored.clone(), column.name.clone()));
                }
                Origin::Filled(Some(value)) => {
                    let mut one = RowBatchBuilder::new(&name, std::slice::from_ref(column));
                    one.push(&[Some(value.as_str())])?;
                    evolution.filled.push((column.name.clone(), one.finish()?.column(0).clone()));
                }
                Origin::Stored(_) | Origin::Filled(None) | Origin::Backfilled => {}
            }
        }
        if let Some(backfill) = &self.backfill {
            let specs: Vec<ColumnSpec> = self
                .shape
                .key
                .iter()
                .map(|position| self.shape.columns[*position].clone())
                .chain(
                    backfill
                        .columns
                        .iter()
                        .filter_map(|name| self.shape.columns.iter().find(|column| column.name == *name).cloned()),
                )
                .collect();
            if specs.len() == self.shape.key.len() + backfill.columns.len() {
                let mut rows = RowBatchBuilder::new(&name, &specs);
                for row in &backfill.rows {
                    let values: Vec<Option<&str>> = row.iter().map(Option::as_deref).collect();
                    rows.push(&values)?;
                }
                evolution.backfill = Some(rows.finish()?);
            }
        }
        Ok(evolution)
    }

    /// The warehouse change set for everything held.
    pub fn into_change_set(self) -> Result<ChangeSet, ConvertError> {
        let evolution = self.evolution()?;
        let name = self.shape.id.to_string();
        let columns = &self.shape.columns;
        let mut inserts = RowBatchBuilder::new(&name, columns);
        let mut merges = RowBatchBuilder::new(&name, columns);
        let mut deleted = Vec::new();
        let mut kept: Vec<Vec<bool>> = vec![Vec::new(); columns.len()];
        for pending in self.rows.values() {
            match pending {
                Pending::Insert(values) => {
                    let values: Vec<Option<&str>> = values.iter().map(text).collect();
                    inserts.push(&values)?;
                }
                Pending::Upsert(values) | Pending::Delete(values) => {
                    let is_delete = matches!(pending, Pending::Delete(_));
                    let texts: Vec<Option<&str>> =
                        if is_delete {
                            // Only the key matters; other columns may not parse (they are null
                            // or absent in the old tuple).
                            (0..columns.len())
                                .map(|index| {
                                    if self.shape.key.contains(&index) {
                                        values.get(index).and_then(text)
                                    } else {
                                        None
                                    }
                                })
                                .collect()
                        } else {
                            values.iter().map(text).collect()
                        };
                    merges.push(&texts)?;
                    deleted.push(is_delete);
                    for (index, flags) in kept.iter_mut().enumerate() {
                        flags.push(!is_delete && matches!(values.get(index), Some(Value::UnchangedToast)));
                    }
                }
            }
        }
        let schema = arrow_schema(columns);
        let merges = if deleted.is_empty() {
            None
        } else {
            let table_rows = merges.finish()?;
            let mut fields: Vec<Field> = schema.fields().iter().map(|field| field.as_ref().clone()).collect();
            let mut arrays: Vec<ArrayRef> = table_rows.columns().to_vec();
            fields.push(Field::new(DELETE_COLUMN, DataType::Boolean, false));
            arrays.push(Arc::new(BooleanArray::from(deleted)));
            for (column, flags) in columns.iter().zip(kept) {
                if flags.iter().any(|keep| *keep) {
                    fields.push(Field::new(format!("{KEEP_COLUMN_PREFIX}{}", column.name), DataType::Boolean, false));
                    arrays.push(Arc::new(BooleanArray::from(flags)));
                }
            }
            Some(
                RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
                    .map_err(|error| ConvertError::Arrow { table: name.clone(), message: error.to_string() })?,
            )
        };
        let inserts = if inserts.is_empty() { Vec::new() } else { vec![inserts.finish()?] };
        let key = self.shape.key.iter().map(|position| columns[*position].name.clone()).collect();
        Ok(ChangeSet { schema, key, truncate: self.truncate, inserts, merges, evolution })
    }
}

fn text(value: &Value) -> Option<&str> {
    match value {
        Value::Text(text) => Some(text.as_str()),
        Value::Null | Value::UnchangedToast => None,
    }
}

/// `new` with the values it did not resend taken from `base`.
fn overlay(base: Option<&Tuple>, new: Tuple) -> Tuple {
    new.into_iter()
        .enumerate()
        .map(|(index, value)| match (value, base) {
            (Value::UnchangedToast, Some(base)) => base.get(index).cloned().unwrap_or(Value::UnchangedToast),
            (value, _) => value,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use opsflux_warehouse::arrow::util::pretty::pretty_format_batches;

    use super::*;
    use crate::pgoutput::{Column, ReplicaIdentity};

    fn shape() -> TableShape {
        let relation = Relation {
            id: 1,
            namespace: "hse".into(),
            name: "incidents".into(),
            replica_identity: ReplicaIdentity::Default,
            columns: vec![
                Column { name: "id".into(), is_key: true, type_oid: 20, type_modifier: -1 },
                Column { name: "title".into(), is_key: false, type_oid: 25, type_modifier: -1 },
                Column { name: "body".into(), is_key: false, type_oid: 25, type_modifier: -1 },
            ],
        };
        TableShape::from_relation("hse.incidents".parse().unwrap(), &relation).unwrap()
    }

    fn row(values: &[Option<&str>]) -> Tuple {
        values
            .iter()
            .map(|value| match value {
                Some("(unchanged)") => Value::UnchangedToast,
                Some(text) => Value::Text((*text).to_owned()),
                None => Value::Null,
            })
            .collect()
    }

    fn key(id: &str) -> OldTuple {
        OldTuple { key_only: true, values: row(&[Some(id), None, None]) }
    }

    fn render(changes: TableChanges) -> String {
        let set = changes.into_change_set().unwrap();
        let mut batches = set.inserts.clone();
        let sort = |batch: &RecordBatch| {
            let indices = opsflux_warehouse::arrow::compute::sort_to_indices(batch.column(0), None, None).unwrap();
            opsflux_warehouse::arrow::compute::take_record_batch(batch, &indices).unwrap()
        };
        batches = batches.iter().map(sort).collect();
        let merges = set.merges.as_ref().map(sort);
        format!(
            "truncate: {}, key: {:?}\ninserts:\n{}\nmerges:\n{}",
            set.truncate,
            set.key,
            pretty_format_batches(&batches).unwrap(),
            merges.map(|batch| pretty_format_batches(&[batch]).unwrap().to_string()).unwrap_or_default(),
        )
    }

    #[test]
    fn changes_fold_to_one_per_key() {
        let mut changes = TableChanges::new(shape());
        changes.insert(row(&[Some("1"), Some("pump leak"), Some("long body")]));
        changes.update(None, row(&[Some("1"), Some("pump leak, fixed"), Some("(unchanged)")]));
        changes.insert(row(&[Some("2"), Some("gone again"), None]));
        changes.delete(key("2"));
        changes.update(None, row(&[Some("3"), Some("held by the warehouse"), Some("(unchanged)")]));
        changes.delete(key("4"));
        changes.delete(key("5"));
        changes.insert(row(&[Some("5"), Some("deleted then inserted"), Some("b")]));
        // The key of row 6 becomes 7.
        changes.update(Some(key("6")), row(&[Some("7"), Some("renumbered"), Some("c")]));
        expect_test::expect![[r#"
            truncate: false, key: ["id"]
            inserts:
            +----+------------------+-----------+
            | id | title            | body      |
            +----+------------------+-----------+
            | 1  | pump leak, fixed | long body |
            +----+------------------+-----------+
            merges:
            +----+-----------------------+------+-----------------+--------------------+
            | id | title                 | body | _opsflux_delete | _opsflux_keep_body |
            +----+-----------------------+------+-----------------+--------------------+
            | 3  | held by the warehouse |      | false           | true               |
            | 4  |                       |      | true            | false              |
            | 5  | deleted then inserted | b    | false           | false              |
            | 6  |                       |      | true            | false              |
            | 7  | renumbered            | c    | false           | false              |
            +----+-----------------------+------+-----------------+--------------------+"#]]
        .assert_eq(&render(changes));
    }

    #[test]
    fn a_truncation_drops_what_came_before_and_a_new_column_reshapes_what_follows() {
        let mut changes = TableChanges::new(shape());
        changes.insert(row(&[Some("1"), Some("before"), None]));
        changes.truncate();
        changes.insert(row(&[Some("2"), Some("after"), None]));
        changes.delete(key("9"));
        let mut wider = shape();
        wider.columns.push(ColumnSpec { name: "severity".into(), type_oid: 23, type_modifier: -1 });
        changes.reshape(wider);
        changes.insert(
            OldTuple { key_only: false, values: row(&[Some("3"), Some("with severity"), None, Some("4")]) }.values,
        );
        expect_test::expect![[r#"
            truncate: true, key: ["id"]
            inserts:
            +----+---------------+------+----------+
            | id | title         | body | severity |
            +----+---------------+------+----------+
            | 2  | after         |      |          |
            | 3  | with severity |      | 4        |
            +----+---------------+------+----------+
            merges:
            "#]]
        .assert_eq(&render(changes));
    }
}
