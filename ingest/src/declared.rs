//! Tables as the migrations declare them: `CREATE TABLE` statements read for their
//! columns, PostgreSQL types and primary keys, and later `ALTER TABLE` statements for the
//! columns they add, drop, rename, retype or give a default — for writing the warehouse
//! where no PostgreSQL server runs (the sample data path). A test holds the result equal
//! to the catalog of a migrated database.

use opsflux_warehouse::TableId;

use crate::rows::ColumnSpec;
use crate::snapshot::SourceTable;

/// A `CREATE TABLE` statement this reader cannot follow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeclarationError {
    #[error("`{statement} {table}` (line {line}): {problem}")]
    Statement { statement: &'static str, table: String, line: usize, problem: String },
    #[error(
        "{table}.{column} (line {line}): type `{type_name}` is not one the warehouse maps; add it to ingest/src/declared.rs"
    )]
    UnknownType { table: String, column: String, line: usize, type_name: String },
    #[error(
        "{table}.{column}: rows leave it out, and its default `{expression}` is computed by PostgreSQL at insert time"
    )]
    ComputedDefault { table: String, column: String, expression: String },
}

/// A table as declared: what capture would find in the catalog, plus each column's
/// `DEFAULT` expression as written (in column order), for rows that leave it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredTable {
    pub table: SourceTable,
    pub defaults: Vec<Option<String>>,
}

impl DeclaredTable {
    /// The value PostgreSQL would store in `column` when a row leaves it out: `None` for
    /// NULL, or the default when it is a constant. A default computed at insert time
    /// (`now()`, `gen_random_uuid()`) has no value here and is an error.
    pub fn omitted_value(&self, column: usize) -> Result<Option<String>, DeclarationError> {
        let Some(expression) = self.defaults.get(column).cloned().flatten() else { return Ok(None) };
        let name = self.table.columns.get(column).map(|column| column.name.clone()).unwrap_or_default();
        constant(&expression).ok_or_else(|| DeclarationError::ComputedDefault {
            table: self.table.id.to_string(),
            column: name,
            expression,
        })
    }
}

/// A constant default's text form: `'text'` or `'text'::type` unquoted, numbers and
/// booleans as written.
fn constant(expression: &str) -> Option<Option<String>> {
    let expression = expression.trim();
    if expression.eq_ignore_ascii_case("null") {
        return Some(None);
    }
    if let Some(quoted) = expression.strip_prefix('\'') {
        let (inner, after) = quoted.rsplit_once('\'')?;
        let after = after.trim();
        return (after.is_empty() || after.starts_with("::")).then(|| Some(inner.replace("''", "'")));
    }
    let lowered = expression.to_ascii_lowercase();
    if lowered == "true" || lowered == "false" || expression.parse::<f64>().is_ok() {
        return Some(Some(lowered));
    }
    None
}

/// Every table created by `sql`, in statement order, each with its columns and key.
pub fn declared_tables(sql: &str) -> Result<Vec<DeclaredTable>, DeclarationError> {
    let mut tables = Vec::new();
    declare(sql, &mut tables)?;
    Ok(tables)
}

/// Follows the `CREATE TABLE` and `ALTER TABLE` statements of `sql`, in order, over the
/// tables earlier migrations declared.
pub fn declare(sql: &str, tables: &mut Vec<DeclaredTable>) -> Result<(), DeclarationError> {
    let sql = without_comments(sql);
    let mut rest = sql.as_str();
    let mut consumed = 0;
    loop {
        let create = find_keyword(rest, "CREATE TABLE");
        let alter = find_keyword(rest, "ALTER TABLE");
        let (found, creating) = match (create, alter) {
            (Some(create), Some(alter)) if alter < create => (alter, false),
            (Some(create), _) => (create, true),
            (None, Some(alter)) => (alter, false),
            (None, None) => return Ok(()),
        };
        let statement_start = consumed + found;
        let line = line_of(&sql, statement_start);
        if !creating {
            let after = &rest[found + "ALTER TABLE".len()..];
            let length = statement_end(after);
            alter_table(&after[..length], line, tables)?;
            let advance = found + "ALTER TABLE".len() + length;
            consumed += advance;
            rest = &rest[advance..];
            continue;
        }
        let after = &rest[found + "CREATE TABLE".len()..];
        let open = after.find('(').ok_or_else(|| DeclarationError::Statement {
            statement: "CREATE TABLE",
            table: after.split_whitespace().next().unwrap_or_default().to_owned(),
            line,
            problem: "no column list".into(),
        })?;
        let name = after[..open].trim().trim_start_matches("IF NOT EXISTS").trim();
        let statement_error = |problem: String| DeclarationError::Statement {
            statement: "CREATE TABLE",
            table: name.to_owned(),
            line,
            problem,
        };
        let body_start = found + "CREATE TABLE".len() + open + 1;
        let body_length = closing_parenthesis(&rest[body_start..])
            .ok_or_else(|| statement_error("the column list is not closed".into()))?;
        let body = &rest[body_start..body_start + body_length];
        let id: TableId = name.parse().map_err(|error| statement_error(format!("{error}")))?;
        tables.push(table(id, body, line)?);
        consumed += body_start + body_length;
        rest = &rest[body_start + body_length..];
    }
}

/// The length of a statement up to its `;` (outside parentheses and strings), or all.
fn statement_end(text: &str) -> usize {
    let (mut depth, mut in_string) = (0_i32, false);
    for (index, c) in text.char_indices() {
        match c {
            '\'' => in_string = !in_string,
            '(' if !in_string => depth += 1,
            ')' if !in_string => depth -= 1,
            ';' if !in_string && depth == 0 => return index,
            _ => {}
        }
    }
    text.len()
}

/// Applies one `ALTER TABLE` (the text after those words) to the declared tables:
/// columns added, dropped, renamed, retyped or given a default. Constraints and
/// nullability change no column and are passed over.
fn alter_table(statement: &str, line: usize, tables: &mut [DeclaredTable]) -> Result<(), DeclarationError> {
    let words: Vec<&str> = statement.split_whitespace().collect();
    let skip =
        words.iter().take_while(|word| matches!(word.to_ascii_uppercase().as_str(), "IF" | "EXISTS" | "ONLY")).count();
    let Some(name) = words.get(skip) else {
        return Err(DeclarationError::Statement {
            statement: "ALTER TABLE",
            table: String::new(),
            line,
            problem: "no table named".into(),
        });
    };
    let statement_error = |problem: String| DeclarationError::Statement {
        statement: "ALTER TABLE",
        table: (*name).to_owned(),
        line,
        problem,
    };
    let id: TableId = name.parse().map_err(|error| statement_error(format!("{error}")))?;
    let declared = tables
        .iter_mut()
        .find(|declared| declared.table.id == id)
        .ok_or_else(|| statement_error("alters a table no earlier statement creates".into()))?;
    let actions_start = statement.find(name).map_or(0, |at| at + name.len());
    for action in split_top_level(&statement[actions_start..]) {
        let words: Vec<&str> = action.split_whitespace().collect();
        let upper: Vec<String> = words.iter().map(|word| word.to_ascii_uppercase()).collect();
        let upper: Vec<&str> = upper.iter().map(String::as_str).collect();
        let position = |column: &str| declared.table.columns.iter().position(|spec| spec.name == unquote(column));
        let unknown = |column: &str| statement_error(format!("names column `{column}`, which the table does not have"));
        match upper.as_slice() {
            ["ADD", "CONSTRAINT" | "PRIMARY" | "UNIQUE" | "CHECK" | "FOREIGN" | "EXCLUDE", ..] => {}
            ["ADD", ..] => {
                let skip = 1 + usize::from(upper.get(1) == Some(&"COLUMN"));
                let skip = skip + if upper.get(skip..skip + 3) == Some(&["IF", "NOT", "EXISTS"][..]) { 3 } else { 0 };
                let definition = words[skip..].join(" ");
                let (spec, default, _) = column(&id, &definition, line)?;
                let attnum = declared.table.attnums.iter().copied().max().unwrap_or(0) + 1;
                declared.table.columns.push(spec);
                declared.table.attnums.push(attnum);
                declared.defaults.push(default);
            }
            ["DROP", "CONSTRAINT", ..] => {}
            ["DROP", rest @ ..] => {
                let rest = if rest.first() == Some(&"COLUMN") { &words[2..] } else { &words[1..] };
                let rest: Vec<&str> = rest
                    .iter()
                    .copied()
                    .skip_while(|word| matches!(word.to_ascii_uppercase().as_str(), "IF" | "EXISTS"))
                    .collect();
                let column = rest.first().copied().unwrap_or_default();
                let index = position(column).ok_or_else(|| unknown(column))?;
                declared.table.columns.remove(index);
                declared.table.attnums.remove(index);
                declared.defaults.remove(index);
                declared.table.key.retain(|key| *key != unquote(column));
            }
            ["RENAME", "COLUMN", _, "TO", _] | ["RENAME", _, "TO", _] => {
                let (from, to) = (words[upper.len() - 3], words[upper.len() - 1]);
                let index = position(from).ok_or_else(|| unknown(from))?;
                let renamed = unquote(to);
                for key in &mut declared.table.key {
                    if *key == declared.table.columns[index].name {
                        key.clone_from(&renamed);
                    }
                }
                declared.table.columns[index].name = renamed;
            }
            ["ALTER", ..] => {
                let skip = 1 + usize::from(upper.get(1) == Some(&"COLUMN"));
                let column = words.get(skip).copied().unwrap_or_default();
                let index = position(column).ok_or_else(|| unknown(column))?;
                let change = &upper[skip + 1..];
                match change {
                    ["TYPE", ..] | ["SET", "DATA", "TYPE", ..] => {
                        let from = skip + 1 + if change[0] == "TYPE" { 1 } else { 3 };
                        let end =
                            upper.iter().position(|word| *word == "USING" || *word == "COLLATE").unwrap_or(words.len());
                        let type_name = words[from..end.max(from)].join(" ").to_ascii_lowercase();
                        let (type_oid, type_modifier) =
                            postgres_type(&type_name).ok_or_else(|| DeclarationError::UnknownType {
                                table: id.to_string(),
                                column: column.to_owned(),
                                line,
                                type_name: type_name.clone(),
                            })?;
                        declared.table.columns[index].type_oid = type_oid;
                        declared.table.columns[index].type_modifier = type_modifier;
                    }
                    ["SET", "DEFAULT", ..] => declared.defaults[index] = default_expression(action),
                    ["DROP", "DEFAULT"] => declared.defaults[index] = None,
                    _ => {}
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn table(id: TableId, body: &str, line: usize) -> Result<DeclaredTable, DeclarationError> {
    let mut columns = Vec::new();
    let mut defaults = Vec::new();
    let mut key = Vec::new();
    for item in split_top_level(body) {
        let words: Vec<&str> = item.split_whitespace().collect();
        let upper: Vec<String> = words.iter().map(|word| word.to_ascii_uppercase()).collect();
        let Some(first) = upper.first() else { continue };
        match first.as_str() {
            "PRIMARY" | "CONSTRAINT" if item.to_ascii_uppercase().contains("PRIMARY KEY") => {
                let upper_item = item.to_ascii_uppercase();
                let start = upper_item.find("PRIMARY KEY").unwrap_or_default();
                let list = item[start..]
                    .split_once('(')
                    .and_then(|(_, after)| after.split_once(')'))
                    .map(|(list, _)| list)
                    .ok_or_else(|| DeclarationError::Statement {
                        statement: "CREATE TABLE",
                        table: id.to_string(),
                        line,
                        problem: format!("cannot read the key columns of `{}`", item.trim()),
                    })?;
                key = list.split(',').map(|column| unquote(column.trim())).collect();
            }
            "PRIMARY" | "CONSTRAINT" | "UNIQUE" | "CHECK" | "FOREIGN" | "EXCLUDE" => {}
            _ => {
                let (spec, default, is_key) = column(&id, item, line)?;
                if is_key {
                    key = vec![spec.name.clone()];
                }
                columns.push(spec);
                defaults.push(default);
            }
        }
    }
    let attnums = (1..).take(columns.len()).collect();
    Ok(DeclaredTable { table: SourceTable { id, columns, key, attnums }, defaults })
}

/// One column definition: its spec, its default as written, and whether it is the key.
fn column(id: &TableId, item: &str, line: usize) -> Result<(ColumnSpec, Option<String>, bool), DeclarationError> {
    let words: Vec<&str> = item.split_whitespace().collect();
    let upper: Vec<String> = words.iter().map(|word| word.to_ascii_uppercase()).collect();
    let name = unquote(words.first().copied().unwrap_or_default());
    let type_end = upper
        .iter()
        .skip(1)
        .position(|word| COLUMN_CONSTRAINTS.contains(&word.as_str()))
        .map_or(words.len(), |position| position + 1);
    let type_name = words.get(1..type_end).unwrap_or_default().join(" ").to_ascii_lowercase();
    let (type_oid, type_modifier) = postgres_type(&type_name).ok_or_else(|| DeclarationError::UnknownType {
        table: id.to_string(),
        column: name.clone(),
        line,
        type_name: type_name.clone(),
    })?;
    let is_key = upper.windows(2).any(|pair| pair[0] == "PRIMARY" && pair[1] == "KEY");
    Ok((ColumnSpec { name, type_oid, type_modifier }, default_expression(item), is_key))
}

/// The text after `DEFAULT`: its first token, then up to the next constraint keyword
/// that stands outside parentheses and string literals.
fn default_expression(item: &str) -> Option<String> {
    let start = find_keyword(item, "DEFAULT")? + "DEFAULT".len();
    let rest = &item[start..];
    let upper = rest.to_ascii_uppercase();
    let (mut depth, mut in_string, mut started) = (0_i32, false, false);
    for (index, c) in rest.char_indices() {
        if !in_string && depth == 0 && started && is_word_start(rest, index) {
            let keyword_here = COLUMN_CONSTRAINTS.iter().any(|keyword| {
                upper[index..].starts_with(keyword) && !is_word_char(upper[index + keyword.len()..].chars().next())
            });
            if keyword_here {
                return Some(rest[..index].trim().to_owned());
            }
        }
        match c {
            '\'' => in_string = !in_string,
            '(' if !in_string => depth += 1,
            ')' if !in_string => depth -= 1,
            _ => {}
        }
        started |= !c.is_whitespace();
    }
    Some(rest.trim().to_owned())
}

fn is_word_char(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_word_start(text: &str, index: usize) -> bool {
    !is_word_char(text[..index].chars().next_back())
}

/// Words that end a column's type and start its constraints.
const COLUMN_CONSTRAINTS: [&str; 10] =
    ["NOT", "NULL", "DEFAULT", "PRIMARY", "REFERENCES", "CHECK", "UNIQUE", "GENERATED", "CONSTRAINT", "COLLATE"];

/// A type as written in DDL → its OID and type modifier, as `pg_attribute` has them.
fn postgres_type(written: &str) -> Option<(u32, i32)> {
    let compact: String = written.split_whitespace().collect::<Vec<_>>().join(" ");
    let (base, arguments) = match compact.split_once('(') {
        Some((base, arguments)) => (base.trim().to_owned(), Some(arguments.trim_end_matches(')').to_owned())),
        None => (compact.clone(), None),
    };
    let numbers: Vec<i32> = arguments
        .as_deref()
        .map(|arguments| arguments.split(',').filter_map(|number| number.trim().parse().ok()).collect())
        .unwrap_or_default();
    let oid = match base.as_str() {
        "boolean" | "bool" => 16,
        "bytea" => 17,
        "bigint" | "int8" | "bigserial" => 20,
        "smallint" | "int2" => 21,
        "integer" | "int" | "int4" | "serial" => 23,
        "text" => 25,
        "json" => 114,
        "real" | "float4" => 700,
        "double precision" | "float8" => 701,
        "character varying" | "varchar" => 1043,
        "date" => 1082,
        "time" | "time without time zone" => 1083,
        "timestamp" | "timestamp without time zone" => 1114,
        "timestamptz" | "timestamp with time zone" => 1184,
        "interval" => 1186,
        "numeric" | "decimal" => 1700,
        "uuid" => 2950,
        "jsonb" => 3802,
        "text[]" => 1009,
        "uuid[]" => 2951,
        _ => return None,
    };
    let modifier = match (oid, numbers.as_slice()) {
        (1700, [precision]) => (precision << 16) + 4,
        (1700, [precision, scale]) => ((precision << 16) | scale) + 4,
        (1043, [length]) => length + 4,
        (_, []) => -1,
        _ => return None,
    };
    Some((oid, modifier))
}

fn unquote(name: &str) -> String {
    match name.strip_prefix('"').and_then(|inner| inner.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => name.to_ascii_lowercase(),
    }
}

/// `sql` with `--` comments blanked (outside string literals), line breaks kept.
fn without_comments(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut in_string = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            in_string = !in_string;
        }
        if !in_string && c == '-' && chars.peek() == Some(&'-') {
            for skipped in chars.by_ref() {
                if skipped == '\n' {
                    out.push('\n');
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// The byte offset of `keyword` as a whole word, ignoring case.
fn find_keyword(text: &str, keyword: &str) -> Option<usize> {
    let upper = text.to_ascii_uppercase();
    let mut from = 0;
    while let Some(offset) = upper[from..].find(keyword) {
        let at = from + offset;
        if is_word_start(&upper, at) && !is_word_char(upper[at + keyword.len()..].chars().next()) {
            return Some(at);
        }
        from = at + keyword.len();
    }
    None
}

/// The length of `text` up to the parenthesis closing an already open one.
fn closing_parenthesis(text: &str) -> Option<usize> {
    let mut depth = 1;
    let mut in_string = false;
    for (index, c) in text.char_indices() {
        match c {
            '\'' => in_string = !in_string,
            '(' if !in_string => depth += 1,
            ')' if !in_string => {
                depth -= 1;
                if depth == 0 {
                    return Some(index);
                }
            }
            _ => {}
        }
    }
    None
}

/// The comma-separated items of a column list, commas inside parentheses or strings kept.
fn split_top_level(body: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut in_string, mut start) = (0, false, 0);
    for (index, c) in body.char_indices() {
        match c {
            '\'' => in_string = !in_string,
            '(' if !in_string => depth += 1,
            ')' if !in_string => depth -= 1,
            ',' if !in_string && depth == 0 => {
                items.push(&body[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    items.push(&body[start..]);
    items.into_iter().filter(|item| !item.trim().is_empty()).collect()
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_types_and_keys_are_read_from_create_table() {
        let sql = "-- a comment with CREATE TABLE in it\n\
            CREATE TABLE pob.stays (\n\
                id uuid PRIMARY KEY DEFAULT gen_random_uuid(),\n\
                status text NOT NULL CHECK (status IN ('draft', 'approved, finally')), -- why\n\
                beds numeric(10,2),\n\
                nights integer,\n\
                arrived timestamptz NOT NULL DEFAULT now(),\n\
                UNIQUE (status, nights)\n\
            );\n\
            CREATE TABLE core.pairs (left_id uuid, \"Right\" double precision, PRIMARY KEY (left_id, \"Right\"));";
        let tables = declared_tables(sql).unwrap();
        assert_eq!(tables[0].defaults[0].as_deref(), Some("gen_random_uuid()"));
        assert_eq!(tables[0].omitted_value(1), Ok(None));
        assert!(matches!(tables[0].omitted_value(0), Err(DeclarationError::ComputedDefault { .. })));
        assert_eq!(constant("'{}'::jsonb"), Some(Some("{}".to_owned())));
        assert_eq!(constant("'Africa/Lagos'"), Some(Some("Africa/Lagos".to_owned())));
        assert_eq!(constant("0"), Some(Some("0".to_owned())));
        assert_eq!(constant("now()"), None);
        let defaults = |column: &str| default_expression(column).map(|expression| constant(&expression));
        assert_eq!(defaults("attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0)"), Some(Some(Some("0".into()))));
        assert_eq!(defaults("ready boolean DEFAULT false NOT NULL"), Some(Some(Some("false".into()))));
        assert_eq!(defaults("label text DEFAULT 'not set' NOT NULL"), Some(Some(Some("not set".into()))));
        assert_eq!(defaults("note text DEFAULT NULL"), Some(Some(None)));
        assert_eq!(defaults("is_default boolean NOT NULL"), None);
        let described: Vec<String> = tables
            .iter()
            .map(|declared| {
                let table = &declared.table;
                let columns: Vec<String> = table
                    .columns
                    .iter()
                    .map(|column| format!("{}:{}:{}", column.name, column.type_oid, column.type_modifier))
                    .collect();
                format!("{} [{}] key {:?}", table.id, columns.join(" "), table.key)
            })
            .collect();
        assert_eq!(
            described,
            [
                "pob.stays [id:2950:-1 status:25:-1 beds:1700:655366 nights:23:-1 arrived:1184:-1] key [\"id\"]",
                "core.pairs [left_id:2950:-1 Right:701:-1] key [\"left_id\", \"Right\"]",
            ]
        );
    }

    #[test]
    fn later_alter_table_statements_add_drop_rename_and_retype_columns() {
        let mut tables =
            declared_tables("CREATE TABLE core.items (id uuid PRIMARY KEY, tag text NOT NULL, old integer);").unwrap();
        declare(
            "ALTER TABLE core.items\n\
                 DROP CONSTRAINT IF EXISTS items_check,\n\
                 ALTER COLUMN tag DROP NOT NULL,\n\
                 ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version > 0),\n\
                 ADD COLUMN factors jsonb NOT NULL DEFAULT '{}'::jsonb,\n\
                 ADD CONSTRAINT items_named CHECK (tag IS NOT NULL OR version > 1);\n\
             ALTER TABLE core.items DROP COLUMN old;\n\
             ALTER TABLE core.items RENAME COLUMN tag TO label;\n\
             ALTER TABLE core.items ALTER COLUMN version TYPE bigint;",
            &mut tables,
        )
        .unwrap();
        let table = &tables[0].table;
        let columns: Vec<String> =
            table.columns.iter().map(|column| format!("{}:{}", column.name, column.type_oid)).collect();
        assert_eq!(columns, ["id:2950", "label:25", "version:20", "factors:3802"]);
        assert_eq!(table.attnums, [1, 2, 4, 5], "a dropped column leaves its number unused, as in pg_attribute");
        assert_eq!(
            (tables[0].omitted_value(2), tables[0].omitted_value(3)),
            (Ok(Some("1".into())), Ok(Some("{}".into())))
        );
        let error = declare("ALTER TABLE core.nothing ADD COLUMN x text;", &mut tables).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`ALTER TABLE core.nothing` (line 1): alters a table no earlier statement creates"
        );
    }

    #[test]
    fn an_unknown_type_names_the_column_and_line() {
        let error =
            declared_tables("\nCREATE TABLE hse.incidents (\n id uuid PRIMARY KEY,\n shape geometry\n);").unwrap_err();
        assert_eq!(
            error.to_string(),
            "hse.incidents.shape (line 2): type `geometry` is not one the warehouse maps; add it to ingest/src/declared.rs"
        );
        let error = declared_tables("CREATE TABLE Bad.Name (id uuid").unwrap_err();
        assert_eq!(error.to_string(), "`CREATE TABLE Bad.Name` (line 1): the column list is not closed");
    }
}
