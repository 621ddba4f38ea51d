//! The renderer specified by its outputs: a fixture document using every block type is
//! bound to data made here, then written as PDF (read back by pdftotext, pdffonts and
//! pdftoppm), DOCX (its parts, then LibreOffice), XLSX (calamine and its parts) and HTML.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDate;
use expect_test::expect_file;
use opsflux_render::{
    Binding, BoundDocument, DataColumn, DataRequest, DataTable, Document, DocumentError, OutputFormat, Renderer,
    SiteInfo, Value, ValueFormat,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

fn date(text: &str) -> Value {
    Value::Date(text.parse().unwrap())
}

fn column(name: &str, label: &str, format: ValueFormat) -> DataColumn {
    DataColumn { name: name.into(), label: label.into(), format }
}

fn text(value: &str) -> Value {
    Value::Text(value.into())
}

fn sites() -> Vec<SiteInfo> {
    vec![
        SiteInfo { code: "ALPHA".into(), name: "Alpha Platform".into(), latitude: Some(4.1), longitude: Some(6.9) },
        SiteInfo { code: "BRAVO".into(), name: "Bravo FPSO".into(), latitude: Some(4.3), longitude: Some(7.2) },
    ]
}

/// The warehouse's answers for the fixture, as the query engine would give them.
fn answer(request: &DataRequest) -> DataTable {
    let versions = |tables: &[&str]| tables.iter().map(|table| (table.to_string(), "v7".to_string())).collect();
    match request {
        DataRequest::Metric { metric, sites, from, grain, by, .. } => {
            let by = by.clone().unwrap_or_default();
            let total = grain.as_deref() == Some("total");
            match (metric.as_str(), total, by.as_slice()) {
                ("pob.occupancy", true, []) => {
                    let (pob, occupancy) = match (sites.as_slice(), from.to_string().as_str()) {
                        ([site], _) if site == "ALPHA" => (52.0, 80.0),
                        ([site], _) if site == "BRAVO" => (35.5, 59.2),
                        (_, "2026-11-02") => (80.25, 70.1),
                        _ => (87.5, 72.9),
                    };
                    DataTable {
                        columns: vec![
                            column("period", "Période", ValueFormat::Date),
                            column("pob", "POB moyen", ValueFormat::Decimal),
                            column("beds", "Lits", ValueFormat::Integer),
                            column("occupancy", "Occupation", ValueFormat::Percent),
                        ],
                        rows: vec![vec![
                            date(&from.to_string()),
                            Value::Number(pob),
                            Value::Number(120.0),
                            Value::Number(occupancy),
                        ]],
                        warehouse: versions(&["pob.stays", "core.sites"]),
                    }
                }
                ("pob.occupancy", false, [site]) if site == "site" => {
                    let mut rows = Vec::new();
                    for day in 9..=15 {
                        for (code, base) in [("ALPHA", 50.0), ("BRAVO", 33.0)] {
                            let pob = base + f64::from(day % 4) * 1.5;
                            rows.push(vec![
                                date(&format!("2026-11-{day:02}")),
                                text(code),
                                Value::Number(pob),
                                Value::Number(60.0),
                                Value::Number(pob / 60.0 * 100.0),
                            ]);
                        }
                    }
                    DataTable {
                        columns: vec![
                            column("period", "Période", ValueFormat::Date),
                            column("site", "Site", ValueFormat::Text),
                            column("pob", "POB", ValueFormat::Decimal),
                            column("beds", "Lits", ValueFormat::Integer),
                            column("occupancy", "Occupation", ValueFormat::Percent),
                        ],
                        rows,
                        warehouse: versions(&["pob.stays", "core.sites"]),
                    }
                }
                ("hse.incidents", true, []) => DataTable {
                    columns: vec![
                        column("period", "Période", ValueFormat::Date),
                        column("incidents", "Incidents", ValueFormat::Integer),
                    ],
                    rows: vec![vec![date("2026-11-09"), Value::Number(3.0)]],
                    warehouse: versions(&["hse.incidents"]),
                },
                ("hse.incidents", true, [severity]) if severity == "severity" => DataTable {
                    columns: vec![
                        column("period", "Période", ValueFormat::Date),
                        column("severity", "Gravité", ValueFormat::Text),
                        column("incidents", "Incidents", ValueFormat::Integer),
                    ],
                    rows: vec![
                        vec![date("2026-11-09"), text("mineur"), Value::Number(2.0)],
                        vec![date("2026-11-09"), text("majeur"), Value::Number(1.0)],
                    ],
                    warehouse: versions(&["hse.incidents"]),
                },
                ("hse.incidents", true, [site]) if site == "site" => DataTable {
                    columns: vec![
                        column("period", "Période", ValueFormat::Date),
                        column("site", "Site", ValueFormat::Text),
                        column("incidents", "Incidents", ValueFormat::Integer),
                    ],
                    rows: vec![
                        vec![date("2026-11-09"), text("ALPHA"), Value::Number(3.0)],
                        vec![date("2026-11-09"), text("CHARLIE"), Value::Number(1.0)],
                    ],
                    warehouse: versions(&["hse.incidents", "core.sites"]),
                },
                ("projects.progress", true, []) => DataTable {
                    columns: vec![
                        column("period", "Période", ValueFormat::Date),
                        column("done_percent", "Tâches terminées", ValueFormat::Percent),
                    ],
                    rows: vec![vec![date("2026-11-09"), Value::Number(62.5)]],
                    warehouse: versions(&["projects.tasks"]),
                },
                other => panic!("the fixture has no answer for {other:?}"),
            }
        }
        DataRequest::Tasks { .. } => DataTable {
            columns: ["project", "task", "status", "start", "due", "percent"]
                .iter()
                .map(|name| {
                    column(name, name, if *name == "percent" { ValueFormat::Integer } else { ValueFormat::Text })
                })
                .collect(),
            rows: vec![
                vec![
                    text("PRJ-001"),
                    text("Remplacer la pompe P-101"),
                    text("in_progress"),
                    date("2026-11-01"),
                    date("2026-11-30"),
                    Value::Number(40.0),
                ],
                vec![
                    text("PRJ-001"),
                    text("Essais de mise en service"),
                    text("todo"),
                    date("2026-11-02"),
                    date("2026-11-10"),
                    Value::Number(0.0),
                ],
                vec![
                    text("PRJ-002"),
                    text("Calorifugeage ligne 12"),
                    text("blocked"),
                    date("2026-10-20"),
                    date("2026-12-15"),
                    Value::Number(15.0),
                ],
            ],
            warehouse: versions(&["projects.tasks", "projects.projects"]),
        },
        DataRequest::Timeline { .. } => DataTable {
            columns: vec![
                column("label", "Projet", ValueFormat::Text),
                column("start", "Début", ValueFormat::Date),
                column("end", "Fin", ValueFormat::Date),
                column("percent", "Avancement", ValueFormat::Integer),
                column("status", "Statut", ValueFormat::Text),
            ],
            rows: vec![
                vec![
                    text("PRJ-001 Pompe P-101"),
                    date("2026-09-01"),
                    date("2026-12-20"),
                    Value::Number(45.0),
                    text("active"),
                ],
                vec![
                    text("PRJ-002 Calorifugeage"),
                    date("2026-10-15"),
                    date("2027-02-28"),
                    Value::Number(15.0),
                    text("active"),
                ],
            ],
            warehouse: versions(&["projects.projects"]),
        },
        DataRequest::Company { name } => DataTable {
            columns: ["company", "kind", "city", "country", "contact", "job_title", "email", "phone"]
                .iter()
                .map(|name| column(name, name, ValueFormat::Text))
                .collect(),
            rows: vec![
                vec![
                    text(name),
                    text("supplier"),
                    text("Port-Gentil"),
                    text("GA"),
                    text("Claire Martin"),
                    text("Cheffe de base"),
                    text("c.martin@bourbon.example"),
                    text("+241 01 23 45 67"),
                ],
                vec![
                    text(name),
                    text("supplier"),
                    text("Port-Gentil"),
                    text("GA"),
                    text("Paul Obame"),
                    text("Logisticien"),
                    text("p.obame@bourbon.example"),
                    text(""),
                ],
            ],
            warehouse: versions(&["tiers.companies", "tiers.contacts"]),
        },
        DataRequest::Planning { sites, from, to, show } => {
            assert_eq!((from.to_string(), to.to_string()), ("2026-11-01".into(), "2026-11-30".into()));
            let mut rows = Vec::new();
            if show.iter().any(|kind| kind == "reservations") {
                rows.push(vec![
                    text("GRU-01 Grue 50 t — levage compresseur"),
                    text("reservation"),
                    date("2026-11-10"),
                    date("2026-11-12"),
                    text("ALPHA"),
                ]);
            }
            if show.iter().any(|kind| kind == "milestones") {
                rows.push(vec![
                    text("P-001 — Mise en service"),
                    text("milestone"),
                    date("2026-11-14"),
                    date("2026-11-14"),
                    text("ALPHA"),
                ]);
            }
            rows.retain(|row| sites.is_empty() || matches!(&row[4], Value::Text(site) if sites.contains(site)));
            DataTable {
                columns: vec![
                    column("label", "label", ValueFormat::Text),
                    column("kind", "kind", ValueFormat::Text),
                    column("start", "start", ValueFormat::Date),
                    column("end", "end", ValueFormat::Date),
                    column("site", "site", ValueFormat::Text),
                ],
                rows,
                warehouse: versions(&["organizer.reservations", "projects.milestones"]),
            }
        }
        DataRequest::Query { sql, .. } => panic!("the fixture has no query {sql}"),
        DataRequest::Scenario { site, scenario, view } => {
            assert_eq!((site.as_str(), scenario.as_str()), ("ALPHA", "Ajout compresseurs gaz"));
            match view.as_str() {
                "checks" => DataTable {
                    columns: vec![
                        column("check", "check", ValueFormat::Text),
                        column("subject", "subject", ValueFormat::Text),
                        column("value", "value", ValueFormat::Decimal),
                        column("limit", "limit", ValueFormat::Decimal),
                        column("unit", "unit", ValueFormat::Text),
                    ],
                    rows: vec![vec![
                        text("n1_overload"),
                        text("ALPHA"),
                        Value::Number(9_143.2),
                        Value::Number(7_800.0),
                        text("kW"),
                    ]],
                    warehouse: versions(&["powertrace.scenarios", "powertrace.generators"]),
                },
                "recommendations" => DataTable {
                    columns: vec![
                        column("recommendation", "recommendation", ValueFormat::Text),
                        column("amount", "amount", ValueFormat::Decimal),
                        column("unit", "unit", ValueFormat::Text),
                        column("tags", "tags", ValueFormat::Text),
                    ],
                    rows: Vec::new(),
                    warehouse: versions(&["powertrace.scenarios"]),
                },
                other => panic!("the fixture has no scenario view {other}"),
            }
        }
        DataRequest::Forecast { site, switchboard, horizon, scenario } => {
            assert_eq!((site.as_str(), switchboard, horizon.as_str()), ("ALPHA", &None, "2d"));
            assert_eq!(scenario.as_deref(), Some("Ajout compresseurs gaz"));
            let names = ["at", "forecast", "lower_95", "upper_95", "added", "capacity"];
            DataTable {
                columns: names
                    .iter()
                    .map(|name| {
                        let format = if *name == "at" { ValueFormat::Text } else { ValueFormat::Decimal };
                        column(name, name, format)
                    })
                    .collect(),
                rows: [
                    ("2026-11-22 00:00", 7_400.0, 7_100.0, 7_650.0),
                    ("2026-11-23 00:00", 7_900.0, 7_500.0, 8_300.0),
                ]
                .iter()
                .map(|(at, forecast, lower, upper)| {
                    vec![
                        text(at),
                        Value::Number(*forecast),
                        Value::Number(*lower),
                        Value::Number(*upper),
                        Value::Number(600.0),
                        Value::Number(7_800.0),
                    ]
                })
                .collect(),
                warehouse: versions(&["powertrace.meter_readings"]),
            }
        }
    }
}

fn assets() -> BTreeMap<String, Vec<u8>> {
    BTreeMap::from([("logo.png".to_owned(), std::fs::read(fixture("logo.png")).unwrap())])
}

fn bind_with(text: &str, parameters: &[(&str, &str)]) -> Result<BoundDocument, DocumentError> {
    let document = Document::from_json(text)?;
    let parameters = parameters.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect();
    let mut binding = Binding::new(document, &parameters, sites(), assets(), today())?;
    loop {
        let pending = binding.pending()?;
        if pending.is_empty() {
            break;
        }
        for request in pending {
            let table = answer(&request.request);
            binding.answer(request.request, table);
        }
    }
    binding.finish()
}

fn weekly() -> BoundDocument {
    let text = std::fs::read_to_string(fixture("weekly.json")).unwrap();
    bind_with(&text, &[("period", "2026-W46")]).unwrap()
}

fn scratch() -> PathBuf {
    let directory = std::env::temp_dir().join(format!("opsflux-render-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    directory
}

fn run(program: &str, arguments: &[&str]) -> String {
    let output = Command::new(program)
        .args(arguments)
        .output()
        .unwrap_or_else(|error| panic!("{program} must be installed (scripts/setup.sh installs it): {error}"));
    assert!(output.status.success(), "{program} {arguments:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn binding_asks_each_request_once_and_records_the_versions_read() {
    let text = std::fs::read_to_string(fixture("weekly.json")).unwrap();
    let parameters = BTreeMap::from([("period".to_owned(), "2026-W46".to_owned())]);
    let binding = Binding::new(Document::from_json(&text).unwrap(), &parameters, sites(), assets(), today()).unwrap();
    let pending: Vec<String> = binding
        .pending()
        .unwrap()
        .iter()
        .map(|pending| {
            format!("{} {}: {}", pending.block, pending.pointer, serde_json::to_string(&pending.request).unwrap())
        })
        .collect();
    expect_file!["fixtures/weekly.requests.txt"].assert_eq(&(pending.join("\n") + "\n"));
    let bound = weekly();
    assert_eq!(
        bound.warehouse_line(),
        "core.sites v7, hse.incidents v7, pob.stays v7, projects.projects v7, projects.tasks v7, tiers.companies v7, tiers.contacts v7"
    );
    let ids: Vec<&str> = bound.nodes.iter().map(|node| node.id()).collect();
    assert!(ids.contains(&"site-title-1") && ids.contains(&"site-kpi-2"), "one section per site: {ids:?}");
    assert!(ids.contains(&"over-capacity") && !ids.contains(&"never"), "conditions: {ids:?}");
}

#[test]
fn the_pdf_has_the_text_embedded_fonts_and_looks_like_its_golden_page() {
    let pdf = Renderer::shared().render(&weekly(), OutputFormat::Pdf).unwrap();
    let directory = scratch();
    let path = directory.join("weekly.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let path = path.to_str().unwrap();
    let text = run("pdftotext", &["-layout", path, "-"]);
    expect_file!["fixtures/weekly.pdf.txt"].assert_eq(&text);

    let fonts = run("pdffonts", &[path]);
    let rows: Vec<&str> = fonts.lines().skip(2).collect();
    assert!(!rows.is_empty(), "{fonts}");
    for row in &rows {
        let columns: Vec<&str> = row.split_whitespace().collect();
        let embedded = columns[columns.len() - 5];
        assert_eq!(embedded, "yes", "every font is embedded: {fonts}");
    }
    assert!(fonts.contains("Inter"), "{fonts}");

    // The first page after the cover and contents, at 40 dpi, against its golden image.
    let prefix = directory.join("page");
    run("pdftoppm", &["-png", "-r", "40", "-f", "3", "-l", "3", "-singlefile", path, prefix.to_str().unwrap()]);
    let page = std::fs::read(directory.join("page.png")).unwrap();
    compare_with_golden(&page, &fixture("weekly-page3.png"));
}

/// Compares two PNG images pixel by pixel: the same size, and a mean difference under
/// 1 % (font hinting may move a few pixels between poppler versions). `UPDATE_EXPECT=1`
/// writes the golden image.
fn compare_with_golden(actual: &[u8], golden: &Path) {
    if std::env::var_os("UPDATE_EXPECT").is_some() || !golden.exists() {
        std::fs::write(golden, actual).unwrap();
    }
    let decode = |bytes: &[u8]| resvg::tiny_skia::Pixmap::decode_png(bytes).unwrap();
    let (actual, expected) = (decode(actual), decode(&std::fs::read(golden).unwrap()));
    assert_eq!((actual.width(), actual.height()), (expected.width(), expected.height()));
    let difference: u64 =
        actual.data().iter().zip(expected.data()).map(|(left, right)| u64::from(left.abs_diff(*right))).sum();
    let share = difference as f64 / (actual.data().len() as f64 * 255.0);
    assert!(share < 0.01, "the page differs from {} by {:.2} %", golden.display(), share * 100.0);
}

fn unzip(bytes: &[u8]) -> BTreeMap<String, String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut parts = BTreeMap::new();
    for index in 0..archive.len() {
        let mut file = archive.by_index(index).unwrap();
        let mut content = Vec::new();
        file.read_to_end(&mut content).unwrap();
        parts.insert(file.name().to_owned(), String::from_utf8_lossy(&content).into_owned());
    }
    parts
}

#[test]
fn the_docx_has_word_headings_tables_images_and_page_numbers_and_libreoffice_opens_it() {
    let docx = Renderer::shared().render(&weekly(), OutputFormat::Docx).unwrap();
    let parts = unzip(&docx);
    let document = &parts["word/document.xml"];
    for heading in ["Heading1", "Heading2", "Heading3"] {
        assert!(document.contains(&format!("<w:pStyle w:val=\"{heading}\" />")), "{heading}");
    }
    assert!(parts["word/styles.xml"].contains("heading 1"));
    assert!(
        document.contains("TOC \\o &quot;1-3&quot;") || document.contains("TOC \\o \"1-3\""),
        "a Word table of contents"
    );
    assert!(document.matches("<w:tbl>").count() >= 5, "real tables");
    assert!(document.contains("Taux d'occupation") || document.contains("Taux d&apos;occupation"));
    let images = parts.keys().filter(|name| name.starts_with("word/media/") && name.ends_with(".png")).count();
    assert!(images >= 4, "charts, timeline, snippet and image as PNG: {:?}", parts.keys().collect::<Vec<_>>());
    let footer = parts.iter().find(|(name, _)| name.starts_with("word/footer")).map(|(_, xml)| xml.clone()).unwrap();
    assert!(footer.contains("PAGE") && footer.contains("NUMPAGES"), "{footer}");
    assert!(parts.keys().any(|name| name.starts_with("word/header")));

    let directory = scratch().join("docx");
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("weekly.docx");
    std::fs::write(&path, &docx).unwrap();
    convert_with_libreoffice(&path, &directory);
    let text = run("pdftotext", &[directory.join("weekly.pdf").to_str().unwrap(), "-"]);
    assert!(text.contains("Synthèse de la semaine") && text.contains("pompe P-101"), "{text}");
}

fn convert_with_libreoffice(path: &Path, directory: &Path) {
    let profile = format!("-env:UserInstallation=file://{}/profile", directory.display());
    run(
        "soffice",
        &[
            &profile,
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            directory.to_str().unwrap(),
            path.to_str().unwrap(),
        ],
    );
    let converted = directory.join(path.with_extension("pdf").file_name().unwrap());
    assert!(converted.exists(), "LibreOffice wrote no PDF for {}", path.display());
}

#[test]
fn the_xlsx_has_typed_cells_number_formats_and_native_charts() {
    use calamine::{Data, Reader, Xlsx};
    let bytes = Renderer::shared().render(&weekly(), OutputFormat::Xlsx).unwrap();
    let mut workbook: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.clone())).unwrap();
    let names = workbook.sheet_names();
    expect_test::expect![[r#"["Synthèse", "POB par jour", "POB par jour 2", "Incidents par gravité", "Tâches ouvertes", "Planning des projets"]"#]]
        .assert_eq(&format!("{names:?}"));
    let summary = workbook.worksheet_range("Synthèse").unwrap();
    assert_eq!(summary.get_value((0, 0)), Some(&Data::String("Rapport hebdomadaire — Tous les sites".into())));
    let pob = workbook.worksheet_range("POB par jour").unwrap();
    assert_eq!(pob.get_size(), (16, 5), "header, 14 rows, totals");
    assert!(matches!(pob.get_value((1, 0)), Some(Data::DateTime(_))), "{:?}", pob.get_value((1, 0)));
    assert_eq!(pob.get_value((1, 1)), Some(&Data::String("ALPHA".into())));
    assert_eq!(pob.get_value((1, 2)), Some(&Data::Float(51.5)));
    assert_eq!(pob.get_value((1, 3)), Some(&Data::Float(60.0)));
    assert!(matches!(pob.get_value((1, 4)), Some(Data::Float(share)) if (share - 0.858_333).abs() < 1e-5));
    assert!(
        matches!(pob.get_value((15, 3)), Some(Data::Float(total)) if *total == 840.0),
        "{:?}",
        pob.get_value((15, 3))
    );

    let parts = unzip(&bytes);
    let styles = &parts["xl/styles.xml"];
    for format in ["#,##0.00", "0.0%", "dd/mm/yyyy"] {
        assert!(styles.contains(&format!("formatCode=\"{format}\"")), "{format} in {styles}");
    }
    let charts: Vec<&String> =
        parts.iter().filter(|(name, _)| name.starts_with("xl/charts/chart")).map(|(_, xml)| xml).collect();
    assert_eq!(charts.len(), 3, "line, pie and timeline charts");
    assert!(
        charts.iter().any(|xml| xml.contains("<c:lineChart>") && xml.contains("'POB par jour 2'!$B$2:$B$8")),
        "{charts:?}"
    );
    assert!(charts.iter().any(|xml| xml.contains("<c:pieChart>")));
    assert!(parts["xl/worksheets/sheet3.xml"].contains("<sheetData>"));
}

#[test]
fn the_html_preview_shows_the_blocks_with_their_charts() {
    let html = String::from_utf8(Renderer::shared().render(&weekly(), OutputFormat::Html).unwrap()).unwrap();
    for expected in [
        "<h1 class=\"title\">Rapport hebdomadaire — Tous les sites</h1>",
        "<div class=\"kpi\" data-block=\"kpi-pob\"><div class=\"label\">Taux d'occupation</div>",
        "data-series=\"ALPHA\" data-category=\"09/11/2026\" data-value=\"51.5\"",
        "data-series=\"Incidents\" data-category=\"majeur\" data-value=\"1\"",
        "<h3 id=\"site-title-2\">Site Bravo FPSO</h3>",
        "<figure class=\"typst\" data-block=\"snippet\"><svg",
    ] {
        assert!(html.contains(expected), "missing {expected}");
    }
}

#[test]
fn rendering_a_bound_document_twice_gives_the_same_bytes() {
    let document = weekly();
    let again = weekly();
    for format in [OutputFormat::Pdf, OutputFormat::Docx, OutputFormat::Xlsx, OutputFormat::Html] {
        let first = Renderer::shared().render(&document, format).unwrap();
        let second = Renderer::new().render(&again, format).unwrap();
        if first != second && matches!(format, OutputFormat::Docx | OutputFormat::Xlsx) {
            let (first, second) = (unzip(&first), unzip(&second));
            let differing: Vec<&String> = first.keys().filter(|part| first.get(*part) != second.get(*part)).collect();
            let part = differing[0];
            let (left, right) = (&first[part], &second[part]);
            let at = left.bytes().zip(right.bytes()).position(|(a, b)| a != b).unwrap_or(0);
            let excerpt =
                |text: &str| text.get(at.saturating_sub(80)..(at + 80).min(text.len())).unwrap_or_default().to_owned();
            panic!("{format:?} differs between two renders in {differing:?}: {} / {}", excerpt(left), excerpt(right));
        }
        assert!(first == second, "{format:?} differs between two renders");
    }
}

#[test]
fn numbers_and_dates_follow_the_locale() {
    let text = std::fs::read_to_string(fixture("weekly.json")).unwrap();
    let french = bind_with(&text, &[("period", "2026-W46")]).unwrap();
    let american = bind_with(&text, &[("period", "2026-W46"), ("locale", "en-US")]).unwrap();
    let kpi = |document: &BoundDocument| match document.nodes.iter().find(|node| node.id() == "kpi-pob") {
        Some(opsflux_render::bind::Node::Kpi { value, comparison, .. }) => {
            format!("{value} | {}", comparison.clone().unwrap().0)
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(kpi(&french), "72,9\u{a0}% | +2,8 pt vs période précédente");
    assert_eq!(kpi(&american), "72.9% | +2.8 pt vs previous period");
    assert_eq!(french.subtitle, "Semaine 46 : du 9 novembre 2026 au 15 novembre 2026");
    assert_eq!(american.subtitle, "Semaine 46 : du November 9, 2026 au November 15, 2026");
}

#[test]
fn bad_documents_name_the_block_or_the_position() {
    let cases = [
        (r#"{"blocks": [{"id": "a", "type": "paragraph", "data": {"text": "x"}},"#.to_owned(), ""),
        (r#"{"blocks": [{"id": "b1", "type": "sparkline", "data": {}}]}"#.to_owned(), ""),
        (r#"{"blocks": [{"id": "b2", "type": "paragraph", "data": {"text": "Site {site.nom}"}}]}"#.to_owned(), ""),
        (r#"{"blocks": [{"id": "b3", "type": "paragraph", "data": {"text": "<script>x</script>"}}]}"#.to_owned(), ""),
        (r#"{"blocks": [{"id": "b4", "type": "header", "data": {"text": "x", "level": 9}}]}"#.to_owned(), ""),
        (r#"{"blocks": [{"id": "b5", "type": "chart", "data": {"metric": "pob.occupancy", "kind": "radar"}}]}"#.to_owned(), ""),
        (r#"{"blocks": [{"id": "b6", "type": "image", "data": {"file": {"url": "missing.png"}}}]}"#.to_owned(), ""),
        (r#"{"blocks": [{"id": "b7", "type": "paragraph", "data": {"text": "x"}, "tunes": {"when": {"rows": "nowhere"}}}]}"#.to_owned(), ""),
        (r#"{"blocks": [], "settings": {"page": {"size": "A3"}}}"#.to_owned(), ""),
        (r#"{"blocks": [], "settings": {"parameters": [{"name": "site", "kind": "site"}]}}"#.to_owned(), "site=ZULU"),
        (r#"{"blocks": [], "settings": {"parameters": [{"name": "period", "kind": "week"}]}}"#.to_owned(), "period=2026-W60"),
        (r#"{"blocks": []}"#.to_owned(), "colour=blue"),
        (r#"{"blocks": [{"id": "s1", "type": "kpi", "data": {"label": "POB"}}]}"#.to_owned(), ""),
        (r#"{"blocks": [{"id": "s2", "type": "data_table", "data": {"metric": "pob.occupancy", "totals": "yes"}}]}"#.to_owned(), ""),
        (r#"{"blocks": [{"id": "s3", "type": "badges", "data": {"items": [{"label": "A"}, {"tone": "info"}]}}]}"#.to_owned(), ""),
        (r#"{"blocks": [{"id": "s4", "type": "list", "data": {"style": "roman", "items": []}}]}"#.to_owned(), ""),
        (r#"{"blocks": [{"id": "s5", "type": "table", "data": {"content": [["a", 3]]}}]}"#.to_owned(), ""),
        (r#"{"blocks": [{"id": "s6", "type": "chart", "data": "pob.occupancy"}]}"#.to_owned(), ""),
        (r#"{"blocks": [{"id": "s7", "type": "data_table", "data": {"metric": "pob.occupancy", "formats": {"pob": "roman"}}}]}"#.to_owned(), ""),
    ];
    let mut errors = Vec::new();
    for (text, parameter) in &cases {
        let parameters: Vec<(&str, &str)> = parameter.split_once('=').into_iter().collect();
        let error = bind_with(text, &parameters).unwrap_err();
        errors.push(format!("{} | {}", error.block().unwrap_or("-"), error));
    }
    let typst = r##"{"blocks": [{"id": "p", "type": "paragraph", "data": {"text": "x"}}, {"id": "bad-snippet", "type": "typst", "data": {"source": "#undefined-function()"}}]}"##;
    let bound = bind_with(typst, &[]).unwrap();
    let error = Renderer::shared().render(&bound, OutputFormat::Pdf).unwrap_err();
    errors.push(format!("{} | {}", error.block().unwrap_or("-"), error));
    let error = Renderer::shared().render(&bound, OutputFormat::Html).unwrap_err();
    errors.push(format!("{} | {}", error.block().unwrap_or("-"), error));
    expect_file!["fixtures/errors.txt"].assert_eq(&(errors.join("\n") + "\n"));
}

#[test]
fn powertrace_blocks_show_a_scenario_s_tables_and_its_forecast_against_n1() {
    let document = r#"{"blocks": [
        {"id": "checks", "type": "scenario", "data": {"scenario": "{param.scenario}", "view": "checks"}, "tunes": {"when": {"rows": "checks"}}},
        {"id": "remedies", "type": "scenario", "data": {"scenario": "{param.scenario}", "view": "recommendations"}, "tunes": {"when": {"rows": "remedies"}}},
        {"id": "no-remedy", "type": "paragraph", "data": {"text": "Aucun remède."}, "tunes": {"when": {"no_rows": "remedies"}}},
        {"id": "verdict", "type": "forecast", "data": {"scenario": "{param.scenario}", "horizon": "2d", "view": "summary"}},
        {"id": "curve", "type": "forecast", "data": {"scenario": "{param.scenario}", "horizon": "2d", "title": "Demande"}},
        {"id": "steps", "type": "forecast", "data": {"scenario": "{param.scenario}", "horizon": "2d", "view": "table", "columns": ["at", "forecast", "capacity"]}}
    ], "settings": {"parameters": [{"name": "site", "kind": "site"}, {"name": "scenario", "kind": "text"}]}}"#;
    let bound = bind_with(document, &[("site", "ALPHA"), ("scenario", "Ajout compresseurs gaz")]).unwrap();
    let ids: Vec<&str> = bound.nodes.iter().map(|node| node.id()).collect();
    assert_eq!(ids, ["checks", "no-remedy", "verdict", "curve", "steps"]);
    let html = String::from_utf8(Renderer::shared().render(&bound, OutputFormat::Html).unwrap()).unwrap();
    for expected in [
        "<th>Contrôle</th><th>Objet</th><th class=\"number\">Valeur</th><th class=\"number\">Limite</th><th>Unité</th>",
        "<td>Surcharge N-1</td><td>ALPHA</td>",
        "Aucun remède.",
        "La demande prévue dépasse la capacité N-1 (7\u{202f}800 kW) à partir du 23/11/2026 00:00 (7\u{202f}900 kW).",
        "class=\"band\"",
        "Capacité N-1",
        "<th>Date et heure</th><th class=\"number\">Prévision (kW)</th><th class=\"number\">Capacité N-1 (kW)</th>",
    ] {
        assert!(html.contains(expected), "missing {expected} in {html}");
    }

    let with_site = r#""settings": {"parameters": [{"name": "site", "kind": "site"}]}"#;
    let errors: Vec<String> = [
        (r#"{"id": "s1", "type": "scenario", "data": {"scenario": "x", "view": "totals"}}"#, "ALPHA"),
        (r#"{"id": "s2", "type": "scenario", "data": {"view": "summary"}}"#, "ALPHA"),
        (r#"{"id": "f1", "type": "forecast", "data": {"view": "gauge"}}"#, "ALPHA"),
        (r#"{"id": "f2", "type": "forecast", "data": {}}"#, "all"),
        (r#"{"id": "f3", "type": "forecast", "data": {"site": "{site.code}"}}"#, ""),
    ]
    .iter()
    .map(|(block, site)| {
        let document = format!(r#"{{"blocks": [{block}], {with_site}}}"#);
        let error = bind_with(&document, &[("site", site)]).unwrap_err();
        format!("{} | {}", error.block().unwrap_or("-"), error)
    })
    .collect();
    expect_test::expect![[r#"
        s1 | block `s1` at /blocks/0/data/view: unknown view `totals` (summary, items, switchboards, checks, recommendations)
        s2 | block `s2` at /blocks/0/data/scenario: is required
        f1 | block `f1` at /blocks/0/data/view: unknown view `gauge` (chart, table, summary)
        f2 | block `f2` at /blocks/0/data/site: a PowerTrace block reads one site: give `site`, or pick a site for the document
        f3 | block `f3` at /blocks/0/data/site: a PowerTrace block reads one site: give `site`, or pick a site for the document"#]].assert_eq(&errors.join("\n"));
}

#[test]
fn a_map_places_the_sites_by_their_coordinates_in_every_format() {
    let document = r#"{"blocks": [
        {"id": "carte", "type": "map", "data": {"metric": "hse.incidents", "title": "Incidents par site", "unit": "incidents"}}
    ]}"#;
    let sites = vec![
        SiteInfo { code: "ALPHA".into(), name: "Alpha Platform".into(), latitude: Some(4.1), longitude: Some(6.9) },
        SiteInfo { code: "BRAVO".into(), name: "Bravo FPSO".into(), latitude: Some(4.3), longitude: Some(7.2) },
        SiteInfo { code: "CHARLIE".into(), name: "Charlie Base".into(), latitude: None, longitude: None },
    ];
    let bind = |text: &str| {
        let mut binding = Binding::new(Document::from_json(text)?, &BTreeMap::new(), sites.clone(), assets(), today())?;
        for request in binding.pending()? {
            let table = answer(&request.request);
            binding.answer(request.request, table);
        }
        binding.finish()
    };
    let bound = bind(document).unwrap();
    let html = String::from_utf8(Renderer::shared().render(&bound, OutputFormat::Html).unwrap()).unwrap();
    // ALPHA has 3 incidents, BRAVO none (grey), CHARLIE cannot be placed.
    let mark = |site: &str| {
        let start = html.find(&format!("data-category=\"{site}\"")).unwrap_or_else(|| panic!("{site} in {html}"));
        let circle = &html[html[..start].rfind("<circle").unwrap()..start];
        let number = |name: &str| -> f64 {
            let at = circle.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
            circle[at..at + circle[at..].find('"').unwrap()].parse().unwrap()
        };
        (number("cx"), number("cy"), circle.contains("fill=\"#c8d0d8\""))
    };
    let (alpha, bravo) = (mark("Alpha Platform"), mark("Bravo FPSO"));
    assert!(alpha.0 < bravo.0 && alpha.1 > bravo.1, "Alpha lies west and south of Bravo: {alpha:?} {bravo:?}");
    assert!(!alpha.2 && bravo.2, "Alpha coloured by its value, Bravo grey for want of one");
    for expected in [
        "data-kind=\"map\"",
        "data-series=\"Incidents\" data-category=\"Alpha Platform\" data-value=\"3\" data-latitude=\"4.1\" data-longitude=\"6.9\"",
        "Alpha Platform · 3</text>",
        "Bravo FPSO · —</text>",
        "Sans coordonnées :</text>",
        "Charlie Base</text>",
        "3 – 3 incidents",
    ] {
        assert!(html.contains(expected), "missing {expected} in {html}");
    }

    let directory = scratch();
    let pdf = directory.join("map.pdf");
    std::fs::write(&pdf, Renderer::shared().render(&bound, OutputFormat::Pdf).unwrap()).unwrap();
    let text = run("pdftotext", &[pdf.to_str().unwrap(), "-"]);
    assert!(text.contains("Alpha Platform · 3") && text.contains("Charlie Base"), "{text}");
    let docx = unzip(&Renderer::shared().render(&bound, OutputFormat::Docx).unwrap());
    assert!(docx.keys().any(|part| part.starts_with("word/media/") && part.ends_with(".png")), "{:?}", docx.keys());

    use calamine::{Data, Reader, Xlsx};
    let bytes = Renderer::shared().render(&bound, OutputFormat::Xlsx).unwrap();
    let mut workbook: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.clone())).unwrap();
    let sheet = workbook.worksheet_range("Incidents par site").unwrap();
    let rows: Vec<Vec<String>> = sheet.rows().map(|row| row.iter().map(Data::to_string).collect()).collect();
    assert_eq!(
        rows,
        [
            ["", "Incidents", "latitude", "longitude"],
            ["Alpha Platform", "3", "4.1", "6.9"],
            ["Bravo FPSO", "", "4.3", "7.2"],
            ["Charlie Base", "1", "", ""],
        ]
    );
    assert!(unzip(&bytes).iter().any(|(name, xml)| name.starts_with("xl/charts/") && xml.contains("<c:scatterChart>")));

    // A metric without sites, or a measure it does not have, is named.
    let errors: Vec<String> = [
        r#"{"id": "m1", "type": "map", "data": {"metric": "hse.incidents", "measure": "deaths"}}"#,
        r#"{"id": "m2", "type": "map", "data": {}}"#,
    ]
    .iter()
    .map(|block| bind(&format!(r#"{{"blocks": [{block}]}}"#)).unwrap_err().to_string())
    .collect();
    expect_test::expect![[r#"
        block `m1` at /blocks/0/data/measure: no measure `deaths` (the data has: incidents)
        block `m2` at /blocks/0/data/metric: is required"#]]
    .assert_eq(&errors.join("\n"));
}

#[test]
fn a_planning_block_shows_reservations_and_milestones_as_a_gantt_or_a_table() {
    let document = r#"{"blocks": [
        {"id": "gantt", "type": "planning", "data": {"title": "Planning de novembre"}},
        {"id": "jalons", "type": "planning", "data": {"view": "table", "show": ["milestones"], "columns": ["label", "start"]}}
    ], "settings": {"parameters": [{"name": "period", "kind": "month"}]}}"#;
    let bound = bind_with(document, &[("period", "2026-11")]).unwrap();
    let html = String::from_utf8(Renderer::shared().render(&bound, OutputFormat::Html).unwrap()).unwrap();
    for expected in [
        "data-kind=\"timeline\" data-title=\"Planning de novembre\"",
        ">GRU-01 Grue 50 t — levage compresseur</text>",
        ">Jalon · P-001 — Mise en service</text>",
        "<td>P-001 — Mise en service</td><td>14/11/2026</td>",
    ] {
        assert!(html.contains(expected), "missing {expected} in {html}");
    }
    assert!(!html.contains("<td>GRU-01"), "the table shows milestones only");
    let xlsx = Renderer::shared().render(&bound, OutputFormat::Xlsx).unwrap();
    assert!(unzip(&xlsx).iter().any(|(name, xml)| name.starts_with("xl/charts/") && xml.contains("<c:barChart>")));

    let errors: Vec<String> = [
        r#"{"id": "p1", "type": "planning", "data": {"view": "calendar"}}"#,
        r#"{"id": "p2", "type": "planning", "data": {"show": ["holidays"]}}"#,
        r#"{"id": "p3", "type": "planning", "data": {"show": []}}"#,
    ]
    .iter()
    .map(|block| {
        let document = format!(
            r#"{{"blocks": [{block}], "settings": {{"parameters": [{{"name": "period", "kind": "month"}}]}}}}"#
        );
        bind_with(&document, &[("period", "2026-11")]).unwrap_err().to_string()
    })
    .collect();
    expect_test::expect![[r#"
        block `p1` at /blocks/0/data/view: unknown view `calendar` (gantt, table)
        block `p2` at /blocks/0/data/show: unknown `holidays` (reservations, milestones)
        block `p3` at /blocks/0/data/show: name what to show: reservations, milestones or both"#]]
    .assert_eq(&errors.join("\n"));
}

/// Each document's errors under the JSON Schema, read by Python's `jsonschema` (the
/// reference implementation of the specification, not ours): one line per document,
/// `ok` or the pointers of the members at fault.
fn validated_by_jsonschema(schema: &serde_json::Value, documents: &[(String, serde_json::Value)]) -> String {
    let directory = scratch();
    let schema_path = directory.join("schema.json");
    std::fs::write(&schema_path, serde_json::to_vec(schema).unwrap()).unwrap();
    let documents_path = directory.join("documents.json");
    std::fs::write(&documents_path, serde_json::to_vec(documents).unwrap()).unwrap();
    let program = r#"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
for name, document in json.load(open(sys.argv[2])):
    errors = sorted("/" + "/".join(str(part) for part in error.absolute_path) for error in validator.iter_errors(document))
    print(name, "ok" if not errors else " ".join(errors))
"#;
    run("python3", &["-c", program, &schema_path.display().to_string(), &documents_path.display().to_string()])
}

#[test]
fn the_block_schema_is_generated_from_the_definitions_binding_checks() {
    // Every shipped template holds to the definitions and to the schema.
    let mut documents = Vec::new();
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&templates)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "json"))
        .collect();
    names.sort();
    for path in names {
        let text = std::fs::read_to_string(&path).unwrap();
        let document = Document::from_json(&text).unwrap();
        opsflux_render::blocks::check_document(&document).unwrap();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        documents.push((name, serde_json::from_str(&text).unwrap()));
    }
    // What the definitions refuse, the schema refuses at the same member (a missing
    // member at the object that lacks it, as JSON Schema reports `required`).
    let bad = [
        ("no-metric", r#"{"id": "s1", "type": "kpi", "data": {"label": "POB"}}"#),
        ("totals-text", r#"{"id": "s2", "type": "data_table", "data": {"metric": "m", "totals": "yes"}}"#),
        ("badge-label", r#"{"id": "s3", "type": "badges", "data": {"items": [{"label": "A"}, {"tone": "info"}]}}"#),
        ("list-style", r#"{"id": "s4", "type": "list", "data": {"style": "roman", "items": []}}"#),
        ("cell-number", r#"{"id": "s5", "type": "table", "data": {"content": [["a", 3]]}}"#),
        ("format", r#"{"id": "s7", "type": "data_table", "data": {"metric": "m", "formats": {"pob": "roman"}}}"#),
        ("unknown-type", r#"{"id": "s8", "type": "marquee", "data": {}}"#),
        (
            "nested",
            r#"{"id": "s9", "type": "repeat", "data": {"over": "sites", "blocks": [{"id": "in", "type": "kpi", "data": {}}]}}"#,
        ),
    ];
    let mut refused = Vec::new();
    for (name, block) in bad {
        let document: serde_json::Value = serde_json::from_str(&format!(r#"{{"blocks": [{block}]}}"#)).unwrap();
        let error =
            opsflux_render::blocks::check_document(&serde_json::from_value(document.clone()).unwrap()).unwrap_err();
        refused.push(format!("{name}: {}", error.pointer().unwrap_or("-")));
        documents.push((name.to_owned(), document));
    }
    expect_test::expect![[r#"
        no-metric: /blocks/0/data/metric
        totals-text: /blocks/0/data/totals
        badge-label: /blocks/0/data/items/1/label
        list-style: /blocks/0/data/style
        cell-number: /blocks/0/data/content/0/1
        format: /blocks/0/data/formats/pob
        unknown-type: /blocks/0/type
        nested: /blocks/0/data/blocks/0/data/metric"#]]
    .assert_eq(&refused.join("\n"));
    let schema = opsflux_render::blocks::schema();
    expect_test::expect![[r#"
        5s-audit ok
        moc-dossier ok
        powertrace-monthly ok
        powertrace-scenario ok
        project-progress ok
        weekly-site-report ok
        no-metric /blocks/0/data
        totals-text /blocks/0/data/totals
        badge-label /blocks/0/data/items/1
        list-style /blocks/0/data/style
        cell-number /blocks/0/data/content/0/1
        format /blocks/0/data/formats/pob
        unknown-type /blocks/0/type
        nested /blocks/0/data/blocks/0/data
    "#]]
    .assert_eq(&validated_by_jsonschema(&schema, &documents));
    // Every kind has its definition in the schema.
    let kinds: Vec<&str> = opsflux_render::blocks::kinds().iter().map(|kind| kind.name).collect();
    assert_eq!(schema["$defs"]["Block"]["properties"]["type"]["enum"], serde_json::json!(kinds));
}
