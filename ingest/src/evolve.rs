//! Following a captured table's column changes without losing stored values: a rename
//! is told from a drop and an add by PostgreSQL's attribute numbers (read from the
//! catalog when the stream describes the table anew), and an added column's value for
//! the rows that predate it comes from the catalog's stored default (`attmissingval`)
//! or, when the table was rewritten instead (a volatile default), from the rows
//! themselves.

use opsflux_warehouse::{Lsn, SchemaChange, SourceColumn, TableId};
use sqlx::PgConnection;

use crate::IngestError;
use crate::changes::TableShape;
use crate::pgtext;
use crate::rows::ColumnSpec;

/// A live column of a table as the catalog holds it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogColumn {
    pub name: String,
    pub attnum: i32,
    /// The value rows that predate the column take (`attmissingval`), in text form;
    /// `Some(None)` for a stored NULL, `None` when the catalog stores none.
    pub missing: Option<Option<String>>,
    pub has_default: bool,
}

/// What rows stored before a column was added hold in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addition {
    /// The same value (text form; `None` for NULL) in every such row.
    Value(Option<String>),
    /// Each row's own value, read from the table (it was rewritten with them).
    Backfill,
}

/// How a table's columns changed between two descriptions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShapeChange {
    /// Old name, then new name.
    pub renamed: Vec<(String, String)>,
    /// New columns and what older rows hold in them.
    pub added: Vec<(String, Addition)>,
    /// The change in words, one per column, for the warehouse's record.
    pub changes: Vec<(&'static str, String)>,
    /// The columns after the change.
    pub columns: Vec<SourceColumn>,
}

/// The table's live columns, in attribute order.
pub async fn catalog_columns(connection: &mut PgConnection, relation: u32) -> Result<Vec<CatalogColumn>, IngestError> {
    let rows: Vec<(String, i16, bool, Option<String>, bool)> = sqlx::query_as(
        "SELECT attname::text, attnum, atthasmissing, attmissingval::text, atthasdef
         FROM pg_attribute WHERE attrelid = $1::int8::oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
    )
    .bind(i64::from(relation))
    .fetch_all(&mut *connection)
    .await
    .map_err(|source| IngestError::Source { what: format!("the columns of relation {relation}"), source })?;
    rows.into_iter()
        .map(|(name, attnum, has_missing, missing, has_default)| {
            let missing = match (has_missing, missing) {
                // A one-element array literal of the column's type.
                (true, Some(literal)) => Some(
                    pgtext::parse_array(&literal)
                        .ok()
                        .and_then(|elements| elements.into_iter().next())
                        .ok_or_else(|| {
                            IngestError::Protocol(format!(
                                "the stored default of column {name} of relation {relation} is not a one-element array: {literal}"
                            ))
                        })?,
                ),
                _ => None,
            };
            Ok(CatalogColumn { name, attnum: i32::from(attnum), missing, has_default })
        })
        .collect()
}

/// The columns of `shape` numbered from the catalog, when the catalog still describes
/// the same columns (it may be ahead of the stream: then `None`).
pub fn numbered(shape: &TableShape, catalog: &[CatalogColumn]) -> Option<Vec<SourceColumn>> {
    let same = catalog.len() == shape.columns.len()
        && catalog.iter().zip(&shape.columns).all(|(catalog, column)| catalog.name == column.name);
    same.then(|| {
        catalog.iter().zip(&shape.columns).map(|(catalog, column)| source_column(column, catalog.attnum)).collect()
    })
}

pub fn source_column(column: &ColumnSpec, attnum: i32) -> SourceColumn {
    SourceColumn { name: column.name.clone(), attnum, type_oid: column.type_oid, type_modifier: column.type_modifier }
}

/// How `shape` (the stream's new description) differs from `before`.
pub fn compare(shape: &TableShape, before: &[SourceColumn], catalog: &[CatalogColumn]) -> ShapeChange {
    let mut change = ShapeChange::default();
    let numbered = numbered(shape, catalog);
    let trusted = numbered.is_some();
    // The catalog is ahead of the stream (the table changed again since): a column the
    // catalog still has under the stream's name takes its number there, so a rename
    // followed by another change is still a rename; the others are matched by name.
    let after = numbered.unwrap_or_else(|| {
        shape
            .columns
            .iter()
            .map(|column| {
                let attnum = catalog
                    .iter()
                    .find(|now| now.name == column.name)
                    .map(|now| now.attnum)
                    .or_else(|| before.iter().find(|old| old.name == column.name).map(|old| old.attnum))
                    .unwrap_or(-1);
                source_column(column, attnum)
            })
            .collect()
    });
    let same_column = |old: &SourceColumn, new: &SourceColumn| {
        if trusted || (old.attnum > 0 && new.attnum > 0) { old.attnum == new.attnum } else { old.name == new.name }
    };
    for new in &after {
        match before.iter().find(|old| same_column(old, new)) {
            Some(old) => {
                if old.name != new.name {
                    change.renamed.push((old.name.clone(), new.name.clone()));
                    change.changes.push(("column renamed", format!("{} renamed {}", old.name, new.name)));
                }
                if (old.type_oid, old.type_modifier) != (new.type_oid, new.type_modifier) {
                    change.changes.push(("column retyped", format!("{} changed type", new.name)));
                }
            }
            None => {
                let catalog = catalog.iter().find(|catalog| catalog.name == new.name);
                let (addition, words) = match catalog {
                    Some(CatalogColumn { missing: Some(value), .. }) if trusted => {
                        let words = match value {
                            Some(value) => format!("rows stored before take its default `{value}`"),
                            None => "rows stored before read null".to_owned(),
                        };
                        (Some(Addition::Value(value.clone())), words)
                    }
                    Some(CatalogColumn { has_default: true, .. }) => (
                        Some(Addition::Backfill),
                        "rows stored before take their values as the source holds them now".to_owned(),
                    ),
                    _ => (None, "rows stored before read null".to_owned()),
                };
                if let Some(addition) = addition {
                    change.added.push((new.name.clone(), addition));
                }
                change.changes.push(("column added", format!("{} added; {words}", new.name)));
            }
        }
    }
    for old in before {
        if !after.iter().any(|new| same_column(old, new)) {
            change.changes.push(("column dropped", format!("{} dropped", old.name)));
        }
    }
    change.columns = after;
    change
}

/// The warehouse records of `change`, at `lsn`.
pub fn records(table: &TableId, lsn: Lsn, change: &ShapeChange) -> Vec<SchemaChange> {
    change
        .changes
        .iter()
        .map(|(kind, detail)| SchemaChange {
            table: table.clone(),
            lsn,
            change: (*kind).to_owned(),
            detail: detail.clone(),
            columns: change.columns.clone(),
        })
        .collect()
}

/// The key and `columns` of every row of the table now, in text form: key values
/// first, then the columns'.
pub async fn current_values(
    connection: &mut PgConnection,
    shape: &TableShape,
    columns: &[String],
) -> Result<Vec<Vec<Option<String>>>, IngestError> {
    let quote = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
    let selected: Vec<String> = shape
        .key
        .iter()
        .map(|position| shape.columns[*position].name.as_str())
        .chain(columns.iter().map(String::as_str))
        .map(|name| format!("{}::text", quote(name)))
        .collect();
    // Each value as one text array, so that any number of columns reads as one type.
    let query = format!(
        "SELECT ARRAY[{}]::text[] FROM {}.{}",
        selected.join(", "),
        quote(shape.id.schema()),
        quote(shape.id.table())
    );
    let rows: Vec<(Vec<Option<String>>,)> = sqlx::query_as(sqlx::AssertSqlSafe(query))
        .fetch_all(&mut *connection)
        .await
        .map_err(|source| IngestError::Source { what: format!("the current rows of {}", shape.id), source })?;
    Ok(rows.into_iter().map(|(values,)| values).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(columns: &[&str]) -> TableShape {
        TableShape {
            id: "lab.notes".parse().unwrap(),
            columns: columns
                .iter()
                .map(|name| ColumnSpec { name: (*name).into(), type_oid: 25, type_modifier: -1 })
                .collect(),
            key: vec![0],
        }
    }

    fn column(name: &str, attnum: i32) -> SourceColumn {
        SourceColumn { name: name.into(), attnum, type_oid: 25, type_modifier: -1 }
    }

    fn catalog(name: &str, attnum: i32, missing: Option<Option<&str>>, has_default: bool) -> CatalogColumn {
        CatalogColumn { name: name.into(), attnum, missing: missing.map(|value| value.map(str::to_owned)), has_default }
    }

    #[test]
    fn attribute_numbers_tell_a_rename_from_a_drop_and_an_add() {
        let before = [column("id", 1), column("body", 2), column("gone", 3)];
        let now = [
            catalog("id", 1, None, false),
            catalog("text", 2, None, false),
            catalog("status", 4, Some(Some("open")), true),
            catalog("stamp", 5, None, true),
            catalog("memo", 6, None, false),
        ];
        let change = compare(&shape(&["id", "text", "status", "stamp", "memo"]), &before, &now);
        assert_eq!(change.renamed, [("body".to_owned(), "text".to_owned())]);
        assert_eq!(
            change.added,
            [("status".to_owned(), Addition::Value(Some("open".into()))), ("stamp".to_owned(), Addition::Backfill)]
        );
        let words: Vec<String> = change.changes.iter().map(|(kind, detail)| format!("{kind}: {detail}")).collect();
        assert_eq!(
            words,
            [
                "column renamed: body renamed text",
                "column added: status added; rows stored before take its default `open`",
                "column added: stamp added; rows stored before take their values as the source holds them now",
                "column added: memo added; rows stored before read null",
                "column dropped: gone dropped",
            ]
        );
        assert_eq!(change.columns.iter().map(|column| column.attnum).collect::<Vec<_>>(), [1, 2, 4, 5, 6]);
    }

    #[test]
    fn a_catalog_ahead_of_the_stream_matches_columns_by_name() {
        // The stream says `id, body`, the catalog has since renamed `body` again.
        let before = [column("id", 1), column("body", 2)];
        let now = [catalog("id", 1, None, false), catalog("later", 2, None, false)];
        let change = compare(&shape(&["id", "body"]), &before, &now);
        assert_eq!(change, ShapeChange { columns: before.to_vec(), ..ShapeChange::default() });
    }

    #[test]
    fn a_rename_is_still_a_rename_when_another_change_followed_it() {
        // The stream says `body` became `text`; the catalog has since dropped `extra`.
        let before = [column("id", 1), column("body", 2), column("extra", 3)];
        let now = [catalog("id", 1, None, false), catalog("text", 2, None, false)];
        let change = compare(&shape(&["id", "text", "extra"]), &before, &now);
        assert_eq!(change.renamed, [("body".to_owned(), "text".to_owned())]);
        assert_eq!(change.columns, [column("id", 1), column("text", 2), column("extra", 3)]);
    }
}
