//! The initial copy: which source tables can be captured, and copying one of them into
//! the warehouse with `COPY ... TO STDOUT`, a bounded number of rows in memory at once.

use std::collections::BTreeMap;

use futures::TryStreamExt;
use opsflux_warehouse::{TableId, Warehouse, WarehouseError};
use sqlx::PgConnection;

use crate::rows::{ColumnSpec, ConvertError, RowBatchBuilder};

/// Why a snapshot step failed.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("reading {what} from PostgreSQL failed: {source}")]
    Source { what: String, source: sqlx::Error },
    #[error("{table}: COPY output line {line} is malformed: {reason}")]
    MalformedCopy { table: String, line: u64, reason: &'static str },
    #[error(transparent)]
    Convert(#[from] ConvertError),
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
}

/// A source table that can be captured: it has a primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceTable {
    pub id: TableId,
    pub columns: Vec<ColumnSpec>,
    /// Primary key columns, in key order.
    pub key: Vec<String>,
    /// PostgreSQL's attribute number of each column.
    pub attnums: Vec<i32>,
}

/// A table that cannot be captured, and why. Reported; the others go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedTable {
    pub name: String,
    pub reason: String,
}

/// The ordinary tables of every schema except the system ones, `public` (where
/// migration bookkeeping lives) and `platform` (users, password and token hashes,
/// signing keys, the audit log: never copied out of PostgreSQL), with their columns
/// and primary keys.
pub async fn discover_tables(
    connection: &mut PgConnection,
) -> Result<(Vec<SourceTable>, Vec<SkippedTable>), SnapshotError> {
    /// Schema, table, column, type, type modifier, key position, attribute number.
    type CatalogRow = (String, String, String, i64, i32, Option<i32>, i16);
    let rows: Vec<CatalogRow> = sqlx::query_as(
        "SELECT n.nspname::text, c.relname::text, a.attname::text, a.atttypid::int8, a.atttypmod,
                array_position(i.indkey::int2[], a.attnum), a.attnum
         FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
           AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'public', 'platform')
           AND n.nspname NOT LIKE 'pg\\_%'
         ORDER BY n.nspname, c.relname, a.attnum",
    )
    .fetch_all(&mut *connection)
    .await
    .map_err(|source| SnapshotError::Source { what: "the table catalog".into(), source })?;

    // Columns, and primary-key columns with their key positions, per table.
    type Shape = (Vec<ColumnSpec>, Vec<(i32, String)>, Vec<i32>);
    let mut by_table: BTreeMap<(String, String), Shape> = BTreeMap::new();
    for (schema, table, column, type_oid, type_modifier, key_position, attnum) in rows {
        let (columns, key, attnums) = by_table.entry((schema, table)).or_default();
        attnums.push(i32::from(attnum));
        if let Some(position) = key_position {
            key.push((position, column.clone()));
        }
        columns.push(ColumnSpec { name: column, type_oid: u32::try_from(type_oid).unwrap_or_default(), type_modifier });
    }
    let mut tables = Vec::new();
    let mut skipped = Vec::new();
    for ((schema, table), (columns, mut key, attnums)) in by_table {
        let name = format!("{schema}.{table}");
        match TableId::new(&schema, &table) {
            Err(error) => skipped.push(SkippedTable { name, reason: error.to_string() }),
            Ok(_) if key.is_empty() => skipped.push(SkippedTable {
                name,
                reason: "no primary key: changes could not be matched to rows (add one to capture it)".into(),
            }),
            Ok(id) => {
                key.sort();
                let key = key.into_iter().map(|(_, column)| column).collect();
                tables.push(SourceTable { id, columns, key, attnums });
            }
        }
    }
    Ok((tables, skipped))
}

/// A part of a table's heap, by block number: `[start, end)`, or to the end when `end`
/// is `None`. Copying by block ranges lets several sessions share one large table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRange {
    pub start: u64,
    pub end: Option<u64>,
}

/// Splits a table into block ranges of about `rows_per_chunk` rows, from its size and
/// row estimate. The last range is open-ended, so rows in blocks added after the size
/// was read are still copied.
pub async fn plan_chunks(
    connection: &mut PgConnection,
    table: &SourceTable,
    rows_per_chunk: u64,
) -> Result<(Vec<BlockRange>, u64), SnapshotError> {
    let (blocks, estimated_rows): (i64, f32) = sqlx::query_as(
        "SELECT pg_relation_size(c.oid) / current_setting('block_size')::int8, greatest(c.reltuples, 0)::float4
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
    )
    .bind(table.id.schema())
    .bind(table.id.table())
    .fetch_one(&mut *connection)
    .await
    .map_err(|source| SnapshotError::Source { what: format!("the size of {}", table.id), source })?;
    let blocks = u64::try_from(blocks).unwrap_or(0);
    // Statistics may be missing (never analysed): estimate from the size then.
    let estimated_rows = if estimated_rows >= 1.0 { estimated_rows as u64 } else { blocks * 50 };
    let rows_per_block = (estimated_rows as f64 / blocks.max(1) as f64).max(1.0);
    let blocks_per_chunk = ((rows_per_chunk as f64 / rows_per_block) as u64).max(1);
    let mut ranges = Vec::new();
    let mut start = 0;
    while start + blocks_per_chunk < blocks {
        ranges.push(BlockRange { start, end: Some(start + blocks_per_chunk) });
        start += blocks_per_chunk;
    }
    ranges.push(BlockRange { start, end: None });
    Ok((ranges, estimated_rows))
}

/// Copies the rows of `table` in `range` into the table's copy in the warehouse (see
/// [`Warehouse::begin_copy`]), at most `rows_per_commit` rows in memory at once (a
/// longer range makes several commits). Returns the number of rows copied.
pub async fn copy_chunk(
    connection: &mut PgConnection,
    warehouse: &Warehouse,
    table: &SourceTable,
    range: BlockRange,
    rows_per_commit: usize,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<u64, SnapshotError> {
    let quoted: Vec<String> =
        table.columns.iter().map(|column| format!("\"{}\"", column.name.replace('"', "\"\""))).collect();
    let upper = range.end.map(|end| format!(" AND ctid < '({end},0)'::tid")).unwrap_or_default();
    let statement = format!(
        "COPY (SELECT {} FROM {} WHERE ctid >= '({},0)'::tid{upper}) TO STDOUT",
        quoted.join(", "),
        table.id,
        range.start
    );
    let name = table.id.to_string();
    let mut stream = connection
        .copy_out_raw(&statement)
        .await
        .map_err(|source| SnapshotError::Source { what: format!("COPY of {name}"), source })?;
    let mut builder = RowBatchBuilder::new(&name, &table.columns);
    let mut pending: Vec<u8> = Vec::new();
    let mut batches = Vec::new();
    let mut buffered_rows = 0usize;
    let mut copied = 0u64;
    while let Some(chunk) =
        stream.try_next().await.map_err(|source| SnapshotError::Source { what: format!("COPY of {name}"), source })?
    {
        pending.extend_from_slice(&chunk);
        let mut consumed = 0;
        while let Some(end) = pending[consumed..].iter().position(|byte| *byte == b'\n') {
            let line = &pending[consumed..consumed + end];
            copied += 1;
            let fields = parse_copy_line(line).map_err(|reason| SnapshotError::MalformedCopy {
                table: name.clone(),
                line: copied,
                reason,
            })?;
            let values: Vec<Option<&str>> = fields.iter().map(Option::as_deref).collect();
            builder.push(&values)?;
            consumed += end + 1;
            // Batches of 64 Ki rows keep Arrow arrays a sensible size within a commit.
            if builder.len() >= 65_536 {
                batches.push(builder.finish()?);
            }
            buffered_rows += 1;
            if buffered_rows >= rows_per_commit {
                if !builder.is_empty() {
                    batches.push(builder.finish()?);
                }
                warehouse.append_copy(&table.id, std::mem::take(&mut batches)).await?;
                progress(buffered_rows as u64);
                buffered_rows = 0;
            }
        }
        pending.drain(..consumed);
    }
    if !pending.is_empty() {
        return Err(SnapshotError::MalformedCopy { table: name, line: copied + 1, reason: "the last line has no end" });
    }
    if !builder.is_empty() {
        batches.push(builder.finish()?);
    }
    if !batches.is_empty() {
        warehouse.append_copy(&table.id, batches).await?;
        progress(buffered_rows as u64);
    }
    Ok(copied)
}

/// One line of PostgreSQL's text `COPY` format: tab-separated, `\N` for NULL, and
/// backslash escapes (`\\`, `\t`, `\n`, `\r`, `\b`, `\f`, `\v`, octal, `\xHH`).
pub fn parse_copy_line(line: &[u8]) -> Result<Vec<Option<String>>, &'static str> {
    let mut fields = Vec::new();
    for raw in line.split(|byte| *byte == b'\t') {
        if raw == b"\\N" {
            fields.push(None);
            continue;
        }
        let mut bytes = Vec::with_capacity(raw.len());
        let mut index = 0;
        while index < raw.len() {
            let byte = raw[index];
            index += 1;
            if byte != b'\\' {
                bytes.push(byte);
                continue;
            }
            let escaped = *raw.get(index).ok_or("a field ends with a lone backslash")?;
            index += 1;
            match escaped {
                b'b' => bytes.push(0x08),
                b'f' => bytes.push(0x0c),
                b'n' => bytes.push(b'\n'),
                b'r' => bytes.push(b'\r'),
                b't' => bytes.push(b'\t'),
                b'v' => bytes.push(0x0b),
                b'0'..=b'7' => {
                    let mut value = u32::from(escaped - b'0');
                    for _ in 0..2 {
                        match raw.get(index) {
                            Some(digit @ b'0'..=b'7') => {
                                value = value * 8 + u32::from(digit - b'0');
                                index += 1;
                            }
                            _ => break,
                        }
                    }
                    bytes.push(u8::try_from(value).map_err(|_| "an octal escape is above 255")?);
                }
                b'x' => {
                    let digits: Vec<u8> =
                        raw[index..].iter().take(2).take_while(|digit| digit.is_ascii_hexdigit()).copied().collect();
                    if digits.is_empty() {
                        return Err("`\\x` is not followed by a hexadecimal digit");
                    }
                    index += digits.len();
                    let text = std::str::from_utf8(&digits).map_err(|_| "bad hexadecimal escape")?;
                    bytes.push(u8::from_str_radix(text, 16).map_err(|_| "bad hexadecimal escape")?);
                }
                other => bytes.push(other),
            }
        }
        fields.push(Some(String::from_utf8(bytes).map_err(|_| "a field is not UTF-8")?));
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::parse_copy_line;

    #[test]
    fn copy_text_fields_unescape() {
        let line = b"1\t\\N\tRel\\xc3\\xa8ve\\td\\'\\\\quipe\\n\t\\101\\102";
        assert_eq!(
            parse_copy_line(line).unwrap(),
            vec![Some("1".into()), None, Some("Relève\td'\\quipe\n".into()), Some("AB".into())]
        );
        assert_eq!(parse_copy_line(b"").unwrap(), vec![Some(String::new())]);
        assert_eq!(parse_copy_line(b"a\\"), Err("a field ends with a lone backslash"));
        assert_eq!(parse_copy_line(b"\\xzz"), Err("`\\x` is not followed by a hexadecimal digit"));
    }
}
