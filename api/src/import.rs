//! Importing an equipment load list (XLSX, ODS or CSV) into PowerTrace: every row is
//! checked first, and any bad row means nothing is written.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use calamine::{Data, Reader};
use sqlx::PgPool;
use uuid::Uuid;

/// One problem found in the file, located as a spreadsheet user would look for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    /// Worksheet name, or the file name for CSV.
    pub sheet: String,
    /// 1-based row, as shown by spreadsheet software.
    pub row: Option<u32>,
    /// Column letter (`F`) and its header, when the issue concerns one cell or column.
    pub column: Option<(String, String)>,
    pub message: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.sheet)?;
        match (&self.row, &self.column) {
            (Some(row), Some((letter, header))) => write!(formatter, "!{letter}{row} ({header})")?,
            (Some(row), None) => write!(formatter, " row {row}")?,
            (None, Some((letter, header))) => write!(formatter, " column {letter} ({header})")?,
            (None, None) => {}
        }
        write!(formatter, ": {}", self.message)
    }
}

/// Why an import was refused. Nothing is written in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {message}")]
    Unreadable { path: String, message: String },
    #[error("{path}: unsupported file type; use .xlsx, .xlsm, .xls, .ods or .csv")]
    UnsupportedType { path: String },
    #[error("{} problem(s) found, nothing was imported:\n{}", .0.len(), .0.iter().map(|issue| format!("  - {issue}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Issue>),
    #[error("database error while importing: {0}")]
    Database(#[from] sqlx::Error),
}

/// The kinds of file `opsflux import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportKind {
    /// A PowerTrace equipment load list.
    Equipment,
}

/// A checked row of the load list.
#[derive(Debug, Clone, PartialEq)]
pub struct EquipmentRow {
    pub site: String,
    pub switchboard: String,
    pub tag: String,
    pub description: String,
    pub rated_kw: f64,
    pub absorbed_kw: f64,
    pub power_factor: f64,
    pub efficiency: f64,
    pub load_category: &'static str,
    pub quantity: i32,
    /// Where the row came from, for errors found against the database.
    pub origin: (String, u32),
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub inserted: u64,
    pub updated: u64,
    pub switchboards_created: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Field {
    Site,
    Switchboard,
    Tag,
    Description,
    RatedKw,
    AbsorbedKw,
    PowerFactor,
    Efficiency,
    Category,
    Quantity,
}

/// Accepted headers per field (compared without case, accents or extra spaces).
const HEADERS: &[(Field, bool, &[&str])] = &[
    (Field::Site, true, &["site", "code site"]),
    (Field::Switchboard, true, &["tableau", "switchboard", "board"]),
    (Field::Tag, true, &["repere", "tag"]),
    (Field::Description, true, &["designation", "description"]),
    (Field::RatedKw, true, &["puissance nominale (kw)", "pn (kw)", "rated kw", "rated power (kw)"]),
    (Field::AbsorbedKw, true, &["puissance absorbee (kw)", "pa (kw)", "absorbed kw", "absorbed power (kw)"]),
    (Field::PowerFactor, true, &["cos phi", "cos φ", "facteur de puissance", "power factor"]),
    (Field::Efficiency, false, &["rendement", "efficiency"]),
    (Field::Category, true, &["categorie", "regime", "category", "load category"]),
    (Field::Quantity, false, &["quantite", "qte", "quantity", "qty"]),
];

/// A cell as read from either format.
#[derive(Debug, Clone)]
enum Cell {
    Empty,
    Number(f64),
    Text(String),
    Other(String),
}

/// Rows of cells, each with its 1-based row number as spreadsheet software shows it.
type Grid = Vec<(u32, Vec<Cell>)>;

/// Reads and checks a load list. Returns every problem at once, not just the first.
pub fn read_equipment(path: &Path, sheet: Option<&str>) -> Result<Vec<EquipmentRow>, ImportError> {
    let display = path.display().to_string();
    let extension = path.extension().and_then(|extension| extension.to_str()).unwrap_or_default().to_ascii_lowercase();
    let (sheet_name, grid) = match extension.as_str() {
        "csv" => {
            let name = path.file_name().map_or(display.clone(), |name| name.to_string_lossy().into_owned());
            (name, read_csv(path)?)
        }
        "xlsx" | "xlsm" | "xls" | "xlsb" | "ods" => read_workbook(path, sheet)?,
        _ => return Err(ImportError::UnsupportedType { path: display }),
    };
    check_rows(&sheet_name, &grid)
}

fn read_workbook(path: &Path, sheet: Option<&str>) -> Result<(String, Grid), ImportError> {
    let unreadable = |message: String| ImportError::Unreadable { path: path.display().to_string(), message };
    let mut workbook = calamine::open_workbook_auto(path).map_err(|error| unreadable(error.to_string()))?;
    let names = workbook.sheet_names();
    let name = match sheet {
        Some(wanted) => names
            .iter()
            .find(|name| name.as_str() == wanted)
            .cloned()
            .ok_or_else(|| unreadable(format!("no sheet named `{wanted}` (sheets: {})", names.join(", "))))?,
        None => names.first().cloned().ok_or_else(|| unreadable("the workbook has no sheet".to_owned()))?,
    };
    let range = workbook.worksheet_range(&name).map_err(|error| unreadable(error.to_string()))?;
    // The used range may start below or right of A1; rows and columns are kept absolute.
    let (first_row, first_column) = range.start().unwrap_or((0, 0));
    let rows = range
        .rows()
        .enumerate()
        .map(|(index, cells)| {
            let mut row: Vec<Cell> = vec![Cell::Empty; first_column as usize];
            row.extend(cells.iter().map(|cell| match cell {
                Data::Empty => Cell::Empty,
                Data::Int(value) => Cell::Number(*value as f64),
                Data::Float(value) => Cell::Number(*value),
                Data::String(text) if text.trim().is_empty() => Cell::Empty,
                Data::String(text) => Cell::Text(text.trim().to_owned()),
                Data::Bool(value) => Cell::Other(value.to_string()),
                Data::Error(error) => Cell::Other(format!("#{error:?}")),
                other => Cell::Other(other.to_string()),
            }));
            (first_row + index as u32 + 1, row)
        })
        .collect();
    Ok((name, rows))
}

fn read_csv(path: &Path) -> Result<Grid, ImportError> {
    let unreadable = |message: String| ImportError::Unreadable { path: path.display().to_string(), message };
    let bytes = std::fs::read(path).map_err(|error| unreadable(error.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|_| unreadable("not UTF-8 text (save the CSV as UTF-8)".to_owned()))?;
    let text = text.trim_start_matches('\u{feff}');
    // French spreadsheet software writes `;`-separated CSV with decimal commas.
    let header = text.lines().next().unwrap_or_default();
    let delimiter = if header.matches(';').count() > header.matches(',').count() { b';' } else { b',' };
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|error| unreadable(error.to_string()))?;
        let line = record.position().map_or(index as u32 + 1, |position| position.line() as u32);
        let cells = record
            .iter()
            .map(|field| {
                let field = field.trim();
                if field.is_empty() { Cell::Empty } else { Cell::Text(field.to_owned()) }
            })
            .collect();
        rows.push((line, cells));
    }
    Ok(rows)
}

/// Lowercase, accents removed, spaces collapsed: how headers are compared.
fn normalize(header: &str) -> String {
    let folded: String = header
        .chars()
        .map(|character| match character {
            'é' | 'è' | 'ê' | 'É' | 'È' => 'e',
            'à' | 'â' => 'a',
            'î' | 'ï' => 'i',
            'ô' => 'o',
            'û' | 'ù' => 'u',
            'ç' => 'c',
            other => other,
        })
        .collect::<String>()
        .to_lowercase();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `0` → `A`, `27` → `AB`.
fn column_letter(mut index: usize) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push((b'A' + (index % 26) as u8) as char);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    letters.iter().rev().collect()
}

fn check_rows(sheet: &str, grid: &Grid) -> Result<Vec<EquipmentRow>, ImportError> {
    let mut issues = Vec::new();
    let issue = |row: Option<u32>, column: Option<(String, String)>, message: String| Issue {
        sheet: sheet.to_owned(),
        row,
        column,
        message,
    };
    // Load lists often open with a title block (project, revision, author): the header
    // is the first row naming at least three known columns.
    let known_headers = |cells: &[Cell]| {
        cells.iter().filter(|cell| matches!(cell, Cell::Text(text) if HEADERS.iter().any(|(_, _, names)| names.contains(&normalize(text).as_str())))).count()
    };
    let Some((header_row, header_cells)) = grid.iter().take(30).find(|(_, cells)| known_headers(cells) >= 3) else {
        let message = if grid.iter().all(|(_, cells)| cells.iter().all(|cell| matches!(cell, Cell::Empty))) {
            "the sheet is empty; expected a header row then one row per equipment".to_owned()
        } else {
            format!(
                "no header row found in the first 30 rows; expected columns such as {}",
                HEADERS
                    .iter()
                    .filter(|(_, required, _)| *required)
                    .map(|(_, _, names)| format!("`{}`", names[0]))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        return Err(ImportError::Invalid(vec![issue(None, None, message)]));
    };
    let mut columns: HashMap<Field, (usize, String)> = HashMap::new();
    for (index, cell) in header_cells.iter().enumerate() {
        if let Cell::Text(text) = cell {
            let normalized = normalize(text);
            if let Some((field, _, _)) = HEADERS.iter().find(|(_, _, names)| names.contains(&normalized.as_str())) {
                columns.entry(*field).or_insert((index, text.clone()));
            }
        }
    }
    for (field, required, names) in HEADERS {
        if *required && !columns.contains_key(field) {
            issues.push(issue(Some(*header_row), None, format!("missing column `{}` in the header row", names[0])));
        }
    }
    if !issues.is_empty() {
        return Err(ImportError::Invalid(issues));
    }
    let located = |field: Field| columns.get(&field).map(|(index, header)| (column_letter(*index), header.clone()));

    let mut rows = Vec::new();
    let mut first_seen: HashMap<(String, String), u32> = HashMap::new();
    for (row_number, cells) in grid.iter().filter(|(number, _)| number > header_row) {
        let cell =
            |field: Field| columns.get(&field).and_then(|(index, _)| cells.get(*index)).cloned().unwrap_or(Cell::Empty);
        // Blank lines, subtotals and remarks name no equipment: no site, board or tag.
        if [Field::Site, Field::Switchboard, Field::Tag].iter().all(|field| matches!(cell(*field), Cell::Empty)) {
            continue;
        }
        let before = issues.len();
        let mut text = |field: Field| -> String {
            match cell(field) {
                Cell::Text(value) => value,
                Cell::Number(value) => format!("{value}"),
                Cell::Empty => {
                    issues.push(issue(Some(*row_number), located(field), "required value is empty".to_owned()));
                    String::new()
                }
                Cell::Other(value) => {
                    issues.push(issue(Some(*row_number), located(field), format!("expected text, found {value}")));
                    String::new()
                }
            }
        };
        let site = text(Field::Site);
        let switchboard = text(Field::Switchboard);
        let tag = text(Field::Tag);
        let description = text(Field::Description);
        let mut number = |field: Field, default: Option<f64>, valid: &dyn Fn(f64) -> bool, rule: &str| -> f64 {
            let value = match cell(field) {
                Cell::Number(value) => Some(value),
                Cell::Text(value) => match value.replace(',', ".").replace(['\u{a0}', ' '], "").parse::<f64>() {
                    Ok(parsed) if parsed.is_finite() => Some(parsed),
                    _ => {
                        issues.push(issue(Some(*row_number), located(field), format!("`{value}` is not a number")));
                        return 0.0;
                    }
                },
                Cell::Empty => match default {
                    Some(default) => Some(default),
                    None => {
                        issues.push(issue(Some(*row_number), located(field), "required value is empty".to_owned()));
                        return 0.0;
                    }
                },
                Cell::Other(value) => {
                    issues.push(issue(Some(*row_number), located(field), format!("`{value}` is not a number")));
                    return 0.0;
                }
            };
            let value = value.unwrap_or_default();
            if !valid(value) {
                issues.push(issue(Some(*row_number), located(field), format!("{value} is out of range: {rule}")));
            }
            value
        };
        let rated_kw = number(Field::RatedKw, None, &|value| value >= 0.0, "rated power must be zero or more (kW)");
        let absorbed_kw =
            number(Field::AbsorbedKw, None, &|value| value >= 0.0, "absorbed power must be zero or more (kW)");
        let power_factor = number(
            Field::PowerFactor,
            None,
            &|value| value > 0.0 && value <= 1.0,
            "power factor must be above 0 and at most 1",
        );
        let efficiency = number(
            Field::Efficiency,
            Some(1.0),
            &|value| value > 0.0 && value <= 1.0,
            "efficiency must be above 0 and at most 1 (e.g. 0.95)",
        );
        let quantity = number(
            Field::Quantity,
            Some(1.0),
            &|value| value >= 1.0 && value.fract() == 0.0 && value <= 10_000.0,
            "quantity must be a whole number of at least 1",
        );
        let load_category = match cell(Field::Category) {
            Cell::Text(value) => {
                match normalize(&value).as_str() {
                    "continu" | "continuous" | "c" => "continuous",
                    "intermittent" | "i" => "intermittent",
                    "secours" | "standby" | "s" | "attente" => "standby",
                    _ => {
                        issues.push(issue(Some(*row_number), located(Field::Category), format!("unknown category `{value}`: expected continu/continuous, intermittent or secours/standby")));
                        "continuous"
                    }
                }
            }
            _ => {
                issues.push(issue(Some(*row_number), located(Field::Category), "required value is empty".to_owned()));
                "continuous"
            }
        };
        if !tag.is_empty() {
            let key = (site.to_lowercase(), tag.to_lowercase());
            if let Some(first) = first_seen.get(&key) {
                issues.push(issue(
                    Some(*row_number),
                    located(Field::Tag),
                    format!("tag `{tag}` already appears on row {first} for site `{site}`"),
                ));
            } else {
                first_seen.insert(key, *row_number);
            }
        }
        if issues.len() == before {
            rows.push(EquipmentRow {
                site,
                switchboard,
                tag,
                description,
                rated_kw,
                absorbed_kw,
                power_factor,
                efficiency,
                load_category,
                quantity: quantity as i32,
                origin: (sheet.to_owned(), *row_number),
            });
        }
    }
    if !issues.is_empty() {
        return Err(ImportError::Invalid(issues));
    }
    if rows.is_empty() {
        return Err(ImportError::Invalid(vec![issue(
            Some(*header_row),
            None,
            "no equipment rows below the header".to_owned(),
        )]));
    }
    Ok(rows)
}

/// Writes checked rows in one transaction: equipment is matched by site and tag
/// (updated when it exists, inserted otherwise); unknown switchboards of a known site
/// are created. An unknown site fails the whole import.
pub async fn write_equipment(pool: &PgPool, rows: &[EquipmentRow]) -> Result<ImportReport, ImportError> {
    let mut transaction = pool.begin().await?;
    let sites: Vec<(Uuid, String, String)> =
        sqlx::query_as("SELECT id, code, name FROM core.sites WHERE deleted_at IS NULL ORDER BY code")
            .fetch_all(&mut *transaction)
            .await?;
    let mut issues = Vec::new();
    let mut site_ids = Vec::with_capacity(rows.len());
    for row in rows {
        let wanted = row.site.to_lowercase();
        match sites.iter().find(|(_, code, name)| code.to_lowercase() == wanted || name.to_lowercase() == wanted) {
            Some((id, _, _)) => site_ids.push(*id),
            None => issues.push(Issue {
                sheet: row.origin.0.clone(),
                row: Some(row.origin.1),
                column: None,
                message: format!(
                    "unknown site `{}`: known sites are {}",
                    row.site,
                    sites.iter().map(|(_, code, _)| code.as_str()).collect::<Vec<_>>().join(", ")
                ),
            }),
        }
    }
    if !issues.is_empty() {
        return Err(ImportError::Invalid(issues));
    }
    let mut report = ImportReport { inserted: 0, updated: 0, switchboards_created: Vec::new() };
    let mut boards: HashMap<(Uuid, String), Uuid> = HashMap::new();
    for (row, site_id) in rows.iter().zip(&site_ids) {
        let key = (*site_id, row.switchboard.clone());
        let board_id = match boards.get(&key) {
            Some(id) => *id,
            None => {
                let existing: Option<Uuid> =
                    sqlx::query_scalar("SELECT id FROM powertrace.switchboards WHERE site_id = $1 AND code = $2")
                        .bind(site_id)
                        .bind(&row.switchboard)
                        .fetch_optional(&mut *transaction)
                        .await?;
                let id = match existing {
                    Some(id) => id,
                    None => {
                        report.switchboards_created.push(format!("{}/{}", row.site, row.switchboard));
                        sqlx::query_scalar("INSERT INTO powertrace.switchboards (site_id, code, name, voltage_v) VALUES ($1, $2, $2, 400) RETURNING id")
                            .bind(site_id).bind(&row.switchboard).fetch_one(&mut *transaction).await?
                    }
                };
                boards.insert(key, id);
                id
            }
        };
        let inserted: bool = sqlx::query_scalar(
            "INSERT INTO powertrace.equipment
                 (site_id, switchboard_id, tag, description, rated_kw, absorbed_kw, power_factor, efficiency, load_category, quantity)
             VALUES ($1, $2, $3, $4, $5::numeric, $6::numeric, $7::numeric, $8::numeric, $9, $10)
             ON CONFLICT (site_id, tag) DO UPDATE SET
                 switchboard_id = EXCLUDED.switchboard_id, description = EXCLUDED.description,
                 rated_kw = EXCLUDED.rated_kw, absorbed_kw = EXCLUDED.absorbed_kw,
                 power_factor = EXCLUDED.power_factor, efficiency = EXCLUDED.efficiency,
                 load_category = EXCLUDED.load_category, quantity = EXCLUDED.quantity,
                 updated_at = now(), deleted_at = NULL, deleted_by = NULL
             RETURNING (xmax = 0)",
        )
        .bind(site_id).bind(board_id).bind(&row.tag).bind(&row.description)
        .bind(row.rated_kw).bind(row.absorbed_kw).bind(row.power_factor).bind(row.efficiency)
        .bind(row.load_category).bind(row.quantity)
        .fetch_one(&mut *transaction)
        .await?;
        if inserted { report.inserted += 1 } else { report.updated += 1 }
    }
    transaction.commit().await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_letters_follow_spreadsheets() {
        let letters: Vec<String> = [0, 5, 25, 26, 27, 51, 52, 701, 702].into_iter().map(column_letter).collect();
        assert_eq!(letters, ["A", "F", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA"]);
    }

    #[test]
    fn headers_match_without_accents_or_case() {
        assert_eq!(normalize("  Puissance  absorbée (kW) "), "puissance absorbee (kw)");
        assert_eq!(normalize("Repère"), "repere");
    }
}
