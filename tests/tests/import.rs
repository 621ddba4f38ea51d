//! Importing an equipment load list: the shipped workbook goes in; any bad row stops
//! the whole file with errors naming sheet, row and column, and nothing is written.

use std::path::{Path, PathBuf};

use expect_test::expect;
use opsflux_api::import::{self, ImportError};
use opsflux_sample_data::{Dataset, Options};
use opsflux_tests::{migrated_pool, table_checksums};
use rust_xlsxwriter::Workbook;

fn shipped_load_list() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample-data/equipment-load-list.xlsx")
}

async fn database_with_sites(label: &str) -> sqlx::PgPool {
    let (_, pool) = migrated_pool(label).await;
    let mut connection = pool.acquire().await.unwrap();
    opsflux_sample_data::load(&mut connection, &Dataset::generate(Options::new(5, 0.01).unwrap()), |_| {})
        .await
        .unwrap();
    pool
}

const HEADERS: [&str; 10] = [
    "Site",
    "Tableau",
    "Repère",
    "Désignation",
    "Puissance nominale (kW)",
    "Puissance absorbée (kW)",
    "cos φ",
    "Rendement",
    "Catégorie",
    "Quantité",
];

/// Writes a one-sheet workbook named `Charges` with the given header and rows.
fn workbook(directory: &Path, name: &str, headers: &[&str], rows: &[Vec<Value>]) -> PathBuf {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet().set_name("Charges").unwrap();
    for (column, header) in headers.iter().enumerate() {
        sheet.write_string(0, column as u16, *header).unwrap();
    }
    for (row_index, row) in rows.iter().enumerate() {
        for (column, value) in row.iter().enumerate() {
            let (row_number, column) = (row_index as u32 + 1, column as u16);
            match value {
                Value::Text(text) => sheet.write_string(row_number, column, *text).map(|_| ()).unwrap(),
                Value::Number(number) => sheet.write_number(row_number, column, *number).map(|_| ()).unwrap(),
            }
        }
    }
    let path = directory.join(name);
    book.save(&path).unwrap();
    path
}

#[derive(Clone)]
enum Value {
    Text(&'static str),
    Number(f64),
}
use Value::{Number as N, Text as T};

fn good_row() -> Vec<Value> {
    vec![
        T("ALB"),
        T("TGBT-01"),
        T("P-777A"),
        T("Pompe de test"),
        N(90.0),
        N(72.5),
        N(0.86),
        N(0.93),
        T("continu"),
        N(1.0),
    ]
}

fn issues(error: ImportError) -> String {
    match error {
        ImportError::Invalid(issues) => issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"),
        other => format!("not a validation error: {other}"),
    }
}

#[tokio::test]
async fn the_shipped_load_list_imports_then_updates_in_place() {
    let pool = database_with_sites("import_ok").await;
    let rows = import::read_equipment(&shipped_load_list(), None).unwrap();
    assert_eq!(rows.len(), 28);
    assert_eq!(rows[0].origin, ("Bilan de puissance".to_owned(), 5));
    let first = import::write_equipment(&pool, &rows).await.unwrap();
    assert_eq!((first.inserted, first.updated), (28, 0));
    // At scale 0.01 each site has one distribution board (TD-01): the others are new.
    assert_eq!(first.switchboards_created, ["ALB/TD-02", "CRM/TD-05"]);
    let second = import::write_equipment(&pool, &rows).await.unwrap();
    assert_eq!((second.inserted, second.updated, second.switchboards_created.len()), (0, 28, 0));

    let (category, absorbed): (String, f64) = sqlx::query_as(
        "SELECT load_category, absorbed_kw::float8 FROM powertrace.equipment e JOIN core.sites s ON s.id = e.site_id
         WHERE s.code = 'ALB' AND e.tag = $1",
    )
    .bind(&rows[1].tag)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(category, "standby", "« secours » is the standby category");
    assert_eq!(absorbed, rows[1].absorbed_kw);
}

#[tokio::test]
async fn csv_with_semicolons_and_decimal_commas_is_read() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("charges.csv");
    std::fs::write(
        &path,
        "Site;Tableau;Repère;Désignation;Puissance nominale (kW);Puissance absorbée (kW);cos φ;Catégorie\n\
         MRN;TGBT-02;K-310A;Compresseur d'air;160;124,5;0,86;intermittent\n",
    )
    .unwrap();
    let rows = import::read_equipment(&path, None).unwrap();
    assert_eq!(
        (rows[0].absorbed_kw, rows[0].power_factor, rows[0].efficiency, rows[0].quantity),
        (124.5, 0.86, 1.0, 1)
    );
    assert_eq!(rows[0].origin, ("charges.csv".to_owned(), 2));
}

#[tokio::test]
async fn bad_files_are_refused_with_their_place_named_and_nothing_written() {
    let pool = database_with_sites("import_bad").await;
    let before = table_checksums(&pool).await;
    let directory = tempfile::tempdir().unwrap();

    let mut negative = good_row();
    negative[2] = T("P-779A");
    negative[4] = N(-15.0);
    let mut text_in_number = good_row();
    text_in_number[2] = T("P-780A");
    text_in_number[5] = T("environ 70");
    let mut second = good_row();
    second[2] = T("P-778A");
    let bad_values = workbook(
        directory.path(),
        "values.xlsx",
        &HEADERS,
        &[good_row(), negative, text_in_number, second.clone(), second],
    );
    expect![[r#"
        Charges!E3 (Puissance nominale (kW)): -15 is out of range: rated power must be zero or more (kW)
        Charges!F4 (Puissance absorbée (kW)): `environ 70` is not a number
        Charges!C6 (Repère): tag `P-778A` already appears on row 5 for site `ALB`"#]]
    .assert_eq(&issues(import::read_equipment(&bad_values, None).unwrap_err()));

    let without_absorbed: Vec<&str> = HEADERS.iter().copied().filter(|header| !header.contains("absorbée")).collect();
    let mut row = good_row();
    row.remove(5);
    let missing_column = workbook(directory.path(), "missing.xlsx", &without_absorbed, &[row]);
    expect!["Charges row 1: missing column `puissance absorbee (kw)` in the header row"]
        .assert_eq(&issues(import::read_equipment(&missing_column, None).unwrap_err()));

    let mut unknown_site = good_row();
    unknown_site[0] = T("XYZ");
    let unknown = workbook(directory.path(), "unknown.xlsx", &HEADERS, &[good_row(), unknown_site]);
    let rows = import::read_equipment(&unknown, None).unwrap();
    expect!["Charges row 3: unknown site `XYZ`: known sites are ALB, CRM, GLD, LCQ, MRN, MST, NKS, PGL, PNR, SRC"]
        .assert_eq(&issues(import::write_equipment(&pool, &rows).await.unwrap_err()));

    let corrupt = directory.path().join("corrupt.xlsx");
    std::fs::write(&corrupt, b"PK\x03\x04 this is not really a workbook").unwrap();
    let error = import::read_equipment(&corrupt, None).unwrap_err();
    assert!(matches!(error, ImportError::Unreadable { ref path, .. } if path.ends_with("corrupt.xlsx")), "{error}");

    let pdf = directory.path().join("liste.pdf");
    std::fs::write(&pdf, b"%PDF-1.7").unwrap();
    assert_eq!(
        import::read_equipment(&pdf, None).unwrap_err().to_string(),
        format!("{}: unsupported file type; use .xlsx, .xlsm, .xls, .ods or .csv", pdf.display())
    );

    assert_eq!(table_checksums(&pool).await, before, "a refused import writes nothing");
}
