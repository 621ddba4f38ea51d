//! The dashboards, metric API and exports over a warehouse alone (no database), on the
//! hand-computed metric fixture: bad input as problem documents naming the parameter,
//! exports read back by independent readers (pyarrow, calamine), and every page opened
//! in headless Chromium with its charts checked against the JSON API.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use calamine::{Data, Reader};
use opsflux_api::http::AppState;
use opsflux_api::http::dashboards::{PAGES, Show};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MARCH: &str = "from=2026-03-01&to=2026-03-31";

async fn start(directory: &std::path::Path) -> SocketAddr {
    let engine = crate::metrics::fixture_engine(directory).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let public = opsflux_api::http::PublicAddress::new(None, address).unwrap();
    let state = AppState::local(engine, "fixture".to_owned(), public);
    tokio::spawn(opsflux_api::http::serve_on(listener, state, std::future::pending()));
    address
}

/// Status, content type and body bytes of a GET over a real socket.
async fn get_bytes(address: SocketAddr, path: &str) -> (u16, String, Vec<u8>) {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let split = response.windows(4).position(|window| window == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-type: ").map(str::to_owned))
        .unwrap_or_default();
    let mut body = response[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = unchunk(&body);
    }
    (status, content_type, body)
}

fn unchunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|window| window == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&body[..line_end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[line_end + 2..line_end + 2 + size]);
        body = &body[line_end + 4 + size..];
    }
}

async fn get(address: SocketAddr, path: &str) -> (u16, String, String) {
    let (status, content_type, body) = get_bytes(address, path).await;
    (status, content_type, String::from_utf8(body).unwrap())
}

#[tokio::test]
async fn bad_input_is_a_problem_naming_the_parameter() {
    let directory = tempfile::tempdir().unwrap();
    let address = start(directory.path()).await;
    let cases = [
        ("/api/metrics/pob.nothing", "metric", "unknown metric `pob.nothing`: `GET /api/metrics` lists the catalog"),
        (
            "/api/metrics/pob.occupancy?from=2026-13-01",
            "from",
            "`from` is `2026-13-01`, which is not a date: expected YYYY-MM-DD",
        ),
        (
            "/api/metrics/pob.occupancy?to=tomorrow",
            "to",
            "`to` is `tomorrow`, which is not a date: expected YYYY-MM-DD",
        ),
        (
            "/api/metrics/pob.occupancy?from=2026-03-10&to=2026-03-01",
            "from",
            "the period starts (2026-03-10) after it ends (2026-03-01)",
        ),
        (
            "/api/metrics/pob.occupancy?site=ZULU",
            "site",
            "unknown site `ZULU`: known sites are listed by `GET /api/sites`",
        ),
        (
            "/api/metrics/pob.occupancy?grain=hour",
            "grain",
            "unknown grain `hour`: expected one of day, week, month, quarter, year, total",
        ),
        (
            "/api/metrics/pob.occupancy?by=vessel",
            "by",
            "`vessel` is not a dimension of pob.occupancy: expected some of site",
        ),
        (
            "/api/metrics/power.peak_demand?by=",
            "by",
            "power.peak_demand cannot leave out `site`: its measures do not add up across it",
        ),
        (
            "/api/export?table=pob.stays&format=docx",
            "format",
            "unknown format `docx`: expected one of parquet, csv, xlsx, arrow",
        ),
        (
            "/api/export?table=pob.nothing&format=csv",
            "table",
            "unknown table `pob.nothing`: expected `schema.table` of a warehouse table",
        ),
        (
            "/api/export?metric=pob.occupancy&site=ZULU",
            "site",
            "unknown site `ZULU`: known sites are listed by `GET /api/sites`",
        ),
        ("/api/export?format=csv", "table", "give exactly one of `table` (schema.table) or `metric`"),
    ];
    for (path, parameter, detail) in cases {
        let (status, content_type, body) = get(address, path).await;
        assert_eq!((status, content_type.as_str()), (400, "application/problem+json"), "{path}: {body}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).unwrap(),
            serde_json::json!({"type": "about:blank", "title": "Invalid parameter", "status": 400, "detail": detail, "parameter": parameter}),
            "{path}"
        );
    }
    let (status, _, page) = get(address, "/pob?from=2026-02-30").await;
    assert_eq!(status, 400);
    assert!(page.contains("data-parameter=\"from\""), "{page}");
    let (status, _, page) = get(address, "/hse?locale=de-DE").await;
    assert_eq!(status, 400);
    assert!(
        page.contains("data-parameter=\"locale\"") && page.contains("unknown locale `de-DE` (fr-FR, en-GB, en-US)"),
        "{page}"
    );
    let (status, _, page) = get(address, "/hse?locale=en-GB&from=2026-03-01&to=2026-03-31").await;
    assert_eq!(status, 200);
    assert!(page.contains("<option value=\"en-GB\" selected>"), "the form keeps the choice: {page}");
}

#[tokio::test]
async fn metrics_are_listed_and_answered_with_the_versions_they_read() {
    let directory = tempfile::tempdir().unwrap();
    let address = start(directory.path()).await;
    let (status, _, body) = get(address, "/api/metrics").await;
    assert_eq!(status, 200);
    let catalog: serde_json::Value = serde_json::from_str(&body).unwrap();
    let metrics = catalog["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), 27);
    let occupancy = metrics.iter().find(|metric| metric["name"] == "pob.occupancy").unwrap();
    assert_eq!(occupancy["unit"], "%");
    assert_eq!(occupancy["href"], "/api/metrics/pob.occupancy");

    let (status, content_type, body) =
        get(address, "/api/metrics/pob.occupancy?from=2026-03-01&to=2026-03-04&grain=total&by=site&site=ALPHA,BRAVO")
            .await;
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    let result: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        result["rows"],
        // Values settle at 12 significant digits, whatever order their sums were taken in.
        serde_json::json!([["2026-03-01", "ALPHA", 87.5], ["2026-03-01", "BRAVO", 8.33333333333]])
    );
    assert_eq!(result["warehouse"], serde_json::json!({"core.sites": "v0", "pob.stays": "v0"}));
    assert_eq!(result["sites"], serde_json::json!(["ALPHA", "BRAVO"]));
    let (_, _, sites) = get(address, "/api/sites").await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&sites).unwrap()["sites"],
        serde_json::json!(["ALPHA", "BRAVO", "CHARLIE"])
    );
}

#[tokio::test]
async fn pages_show_every_panel_and_say_when_a_period_has_no_data() {
    let directory = tempfile::tempdir().unwrap();
    let address = start(directory.path()).await;
    for page in PAGES {
        let (status, content_type, html) = get(address, &format!("{}?{MARCH}", page.path)).await;
        assert_eq!((status, content_type.as_str()), (200, "text/html; charset=utf-8"), "{}", page.path);
        for panel in page.panels {
            assert!(
                html.contains(&format!("data-metric=\"{}\"", panel.metric)),
                "{} lacks {}",
                page.path,
                panel.metric
            );
        }
        assert!(!html.contains("id=\"no-data\""), "{}", page.path);
        assert!(!html.contains("class=\"problem\""), "{}: {html}", page.path);
    }
    let (status, _, empty) = get(address, "/hse?from=2025-01-01&to=2025-01-31").await;
    assert_eq!(status, 200);
    assert!(empty.contains("Aucune donnée pour l'ensemble des sites entre le 2025-01-01 et le 2025-01-31"), "{empty}");
    let (_, _, charlie) = get(address, &format!("/hse?site=CHARLIE&{MARCH}")).await;
    assert!(charlie.contains("Aucune donnée pour CHARLIE"), "{charlie}");
}

/// Runs a Python script on a file with pyarrow, the independent reader of the tests.
fn python(script: &str, path: &std::path::Path) -> String {
    let output = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .output()
        .unwrap_or_else(|error| panic!("cannot run python3 ({error}); scripts/test.sh installs pyarrow"));
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// The readings as `meter_id read_at kw`, sorted, as pyarrow prints them.
const PRINT_READINGS: &str = r#"
import sys, pyarrow.parquet, pyarrow.ipc, pyarrow.csv
path = sys.argv[1]
if path.endswith(".parquet"):
    table = pyarrow.parquet.read_table(path)
    codec = pyarrow.parquet.ParquetFile(path).metadata.row_group(0).column(0).compression
    print("compression", codec)
elif path.endswith(".arrow"):
    table = pyarrow.ipc.open_file(path).read_all()
else:
    table = pyarrow.csv.read_csv(path)
rows = sorted(f"{m} {t.isoformat()} {k}" for m, t, k in zip(table["meter_id"].to_pylist(), table["read_at"].to_pylist(), table["kw"].to_pylist()))
print(table.num_rows, "rows")
print("\n".join(rows))
"#;

#[tokio::test]
async fn exports_are_read_back_by_independent_readers() {
    let directory = tempfile::tempdir().unwrap();
    let address = start(directory.path()).await;
    let fixture: String = crate::metrics::fixture_tables()
        .into_iter()
        .find(|(name, _)| name == "powertrace.meter_readings")
        .map(|(_, csv)| csv)
        .unwrap();
    // The fixture's own rows in the same form.
    let mut expected: Vec<String> = fixture
        .lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            let at = fields[2].replace(' ', "T").replace("+00", "+00:00");
            format!("{} {} {}", fields[1], at, fields[3])
        })
        .collect();
    expected.sort();
    let files = tempfile::tempdir().unwrap();
    for format in ["parquet", "arrow", "csv"] {
        let (status, content_type, body) =
            get_bytes(address, &format!("/api/export?table=powertrace.meter_readings&format={format}")).await;
        assert_eq!(status, 200, "{format}: {}", String::from_utf8_lossy(&body));
        assert!(!content_type.contains("problem"), "{content_type}");
        let path = files.path().join(format!("readings.{format}"));
        std::fs::write(&path, &body).unwrap();
        let printed = python(PRINT_READINGS, &path);
        let mut lines: Vec<&str> = printed.lines().collect();
        if format == "parquet" {
            assert_eq!(lines.remove(0), "compression ZSTD");
        }
        assert_eq!(lines.remove(0), format!("{} rows", expected.len()), "{format}");
        assert_eq!(lines, expected, "{format}");
    }

    // A metric result as XLSX, typed cells with number formats.
    let (status, content_type, body) = get_bytes(
        address,
        "/api/export?metric=pob.people_on_board&format=xlsx&from=2026-03-01&to=2026-03-02&grain=day&by=site&site=ALPHA",
    )
    .await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    );
    let mut workbook = calamine::Xlsx::new(std::io::Cursor::new(body)).unwrap();
    let sheet = workbook.worksheet_range("pob.people_on_board").unwrap();
    let rows: Vec<Vec<String>> = sheet
        .rows()
        .map(|row| {
            row.iter()
                .map(|cell| match cell {
                    Data::String(text) => format!("text:{text}"),
                    Data::Float(value) => format!("number:{value}"),
                    Data::DateTime(date) => format!("date:{}", excel_date(date.as_f64())),
                    other => format!("other:{other:?}"),
                })
                .collect()
        })
        .collect();
    assert_eq!(
        rows,
        [
            // Headers for people: labels, not column names.
            vec!["text:Période", "text:Site", "text:POB moyen", "text:Lits"],
            vec!["date:2026-03-01", "text:ALPHA", "number:1", "number:2"],
            vec!["date:2026-03-02", "text:ALPHA", "number:2", "number:2"],
        ]
    );

    // The command line writes the same through a temporary file, renamed when complete.
    let out = files.path().join("stays.xlsx");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_opsflux-under-test"))
        .args(["export", "--table", "pob.stays", "--out"])
        .arg(&out)
        .arg("--warehouse")
        .arg(directory.path())
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let mut workbook = calamine::open_workbook_auto(&out).unwrap();
    let stays = workbook.worksheet_range("pob.stays").unwrap();
    assert_eq!(stays.height(), 6, "a header and five stays");
    let header: Vec<String> = stays.rows().next().unwrap().iter().map(|cell| cell.to_string()).collect();
    let arrival = header.iter().position(|name| name == "arrival_date").unwrap();
    assert!(matches!(stays.get((1, arrival)), Some(Data::DateTime(_))), "{:?}", stays.get((1, arrival)));
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_opsflux-under-test"))
        .args(["export", "--table", "pob.stays", "--format", "docx", "--out"])
        .arg(files.path().join("stays.docx"))
        .arg("--warehouse")
        .arg(directory.path())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("unknown format `docx`"));
    assert!(!files.path().join("stays.docx").exists(), "a refused export leaves no file");
}

/// The day of an Excel date serial (days since 1899-12-30).
fn excel_date(serial: f64) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(1899, 12, 30).unwrap() + chrono::Days::new(serial.floor() as u64)
}

/// Every `data-value` of the marks inside each element carrying `data-metric`, keyed by
/// the panel's position on the page.
fn marks_per_panel(dom: &str) -> Vec<(String, Vec<String>)> {
    let mut panels = Vec::new();
    for piece in dom.split("data-metric=\"").skip(1) {
        let metric = piece[..piece.find('"').unwrap()].to_owned();
        let end = piece.find("data-metric=\"").unwrap_or(piece.len());
        let values: Vec<String> = piece[..end]
            .split("class=\"mark\"")
            .skip(1)
            .filter_map(|mark| {
                let tag_end = mark.find('>').unwrap_or(mark.len());
                let start = mark[..tag_end].find("data-value=\"")? + "data-value=\"".len();
                Some(mark[start..start + mark[start..].find('"').unwrap()].to_owned())
            })
            .collect();
        panels.push((metric, values));
    }
    panels
}

pub(crate) fn chromium() -> std::process::Command {
    let mut command = std::process::Command::new("chromium");
    command.args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"]);
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_shows_each_page_with_the_values_of_the_api() {
    let directory = tempfile::tempdir().unwrap();
    let address = start(directory.path()).await;
    for page in PAGES {
        let url = format!("http://{address}{}?{MARCH}", page.path);
        let output = tokio::task::spawn_blocking({
            let url = url.clone();
            move || chromium().args(["--virtual-time-budget=2000", "--dump-dom"]).arg(url).output()
        })
        .await
        .unwrap()
        .unwrap_or_else(|error| panic!("cannot run chromium ({error}); scripts/test.sh installs it"));
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let dom = String::from_utf8(output.stdout).unwrap();
        let drawn = marks_per_panel(&dom);
        assert_eq!(drawn.len(), page.panels.len(), "{url}");
        for (panel, (metric, values)) in page.panels.iter().zip(drawn) {
            assert_eq!(metric, panel.metric, "{url}");
            let grain = panel.grain.map(|grain| grain.to_string()).unwrap_or_default();
            let (_, _, json) =
                get(address, &format!("/api/metrics/{}?{MARCH}&grain={grain}&by={}", panel.metric, panel.by.join(",")))
                    .await;
            let result: serde_json::Value = serde_json::from_str(&json).unwrap();
            let columns: BTreeMap<String, usize> = result["columns"]
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
                .map(|(index, column)| (column["name"].as_str().unwrap().to_owned(), index))
                .collect();
            let rows = result["rows"].as_array().unwrap();
            if panel.show == Show::List {
                assert_eq!(values.len(), 0, "lists show formatted text, not data values");
                let listed = dom.matches("<tr class=\"mark\">").count();
                assert!(listed >= rows.len(), "{url}: {} rows listed for {}", listed, panel.metric);
                continue;
            }
            let mut expected: Vec<String> = rows
                .iter()
                .flat_map(|row| panel.measures.iter().map(|measure| row[columns[*measure]].clone()).collect::<Vec<_>>())
                .filter_map(|value| value.as_f64())
                .map(|value| value.to_string())
                .collect();
            if panel.show == Show::Kpi {
                expected.truncate(1);
            }
            let mut drawn_values = values.clone();
            drawn_values.sort();
            expected.sort();
            assert_eq!(drawn_values, expected, "{url}: {} {:?}", panel.metric, panel.measures);
            assert!(!expected.is_empty(), "{url}: {} draws nothing in March", panel.metric);
        }
    }
    // A screenshot of the overview for people to look at.
    let screenshot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("overview.png");
    let _ = std::fs::remove_file(&screenshot);
    let url = format!("http://{address}/?{MARCH}");
    let mut command = chromium();
    command
        .args(["--window-size=1400,1800", "--virtual-time-budget=2000"])
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(url);
    let output = tokio::task::spawn_blocking(move || command.output()).await.unwrap().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let png = std::fs::read(&screenshot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000, "{} bytes", png.len());
    println!("overview screenshot: {}", screenshot.display());
}

/// Every code of the schema's CHECK lists that is a word (not a locale, file format,
/// operator or rotation pattern such as `14/14`).
fn schema_codes() -> Vec<String> {
    let directory = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let mut codes: Vec<String> = Vec::new();
    for entry in std::fs::read_dir(directory).unwrap() {
        let sql = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for check in sql.split("CHECK (").skip(1) {
            let Some((column, rest)) = check.split_once(" IN (") else { continue };
            if ["locale", "output_format", "operator"].contains(&column) {
                continue;
            }
            for code in rest.split(')').next().unwrap_or_default().split(',') {
                let code = code.trim().trim_matches('\'');
                if !code.contains('/') && !codes.iter().any(|known| known == code) {
                    codes.push(code.to_owned());
                }
            }
        }
    }
    codes
}

/// The text a reader sees in an HTML page: no styles, scripts, tags or attributes.
fn visible_text(html: &str) -> String {
    let mut shown = html.to_owned();
    for hidden in ["style", "script", "title"] {
        let (open, close) = (format!("<{hidden}"), format!("</{hidden}>"));
        while let Some(start) = shown.find(&open) {
            let end = shown[start..].find(&close).map_or(shown.len(), |end| start + end + close.len());
            shown.replace_range(start..end, " ");
        }
    }
    let mut visible = String::new();
    let mut in_tag = false;
    for character in shown.chars() {
        match character {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                visible.push(' ');
            }
            _ if !in_tag => visible.push(character),
            _ => {}
        }
    }
    visible
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

/// The codes found in `text` as whole words (case-sensitive: labels are capitalised),
/// once the labels of `locale` are set aside ("Process safety" holds the word `safety`).
fn codes_in(text: &str, codes: &[String], locale: &str) -> Vec<String> {
    let locale: opsflux_render::Locale = locale.parse().unwrap();
    let mut labels: Vec<&str> = codes.iter().filter_map(|code| opsflux_render::labels::value(locale, code)).collect();
    labels.sort_by_key(|label| std::cmp::Reverse(label.len()));
    let mut text = text.to_owned();
    for label in labels {
        text = text.replace(label, " ");
    }
    let text = text.as_str();
    // A code qualified by a schema (`powertrace.equipment` in the list of tables read)
    // names a table, not a stored value.
    let is_word = |character: char| character.is_alphanumeric() || character == '_' || character == '.';
    let mut found = Vec::new();
    for code in codes {
        let hit = text.match_indices(code.as_str()).any(|(at, _)| {
            let before = text[..at].chars().next_back();
            let after = text[at + code.len()..].chars().next();
            !before.is_some_and(is_word) && !after.is_some_and(is_word)
        });
        if hit {
            found.push(code.clone());
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_documents_show_labels_never_the_codes_the_schema_stores() {
    let codes = schema_codes();
    let today = chrono::Local::now().date_naive();
    let directory = tempfile::tempdir().unwrap();
    let options = opsflux_sample_data::Options::new(42, 0.01).unwrap().ending(today);
    opsflux_api::sample_warehouse::write_sample_warehouse(directory.path(), options).await.unwrap();
    let engine = opsflux_query::Engine::open(
        opsflux_warehouse::Warehouse::open(directory.path()).unwrap(),
        opsflux_query::Catalog::shipped().unwrap(),
        opsflux_query::EngineSettings::default(),
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let public = opsflux_api::http::PublicAddress::new(None, address).unwrap();
    let state = AppState::local(engine.clone(), "sample".to_owned(), public);
    tokio::spawn(opsflux_api::http::serve_on(listener, state, std::future::pending()));

    let mut offending = Vec::new();
    for locale in ["fr-FR", "en-GB"] {
        for page in PAGES {
            let url = format!("http://{address}{}?locale={locale}", page.path);
            let output = tokio::task::spawn_blocking({
                let url = url.clone();
                move || chromium().args(["--virtual-time-budget=2000", "--dump-dom"]).arg(url).output()
            })
            .await
            .unwrap()
            .unwrap();
            assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
            let text = visible_text(&String::from_utf8(output.stdout).unwrap());
            assert!(text.contains(page.title.split(" — ").next().unwrap()), "{url}: {text}");
            let found = codes_in(&text, &codes, locale);
            if !found.is_empty() {
                offending.push(format!("{url}: {found:?}"));
            }
        }
    }
    let files = tempfile::tempdir().unwrap();
    for locale in ["fr-FR", "en-GB"] {
        for (name, _) in opsflux_api::documents::TEMPLATES {
            let parameters = BTreeMap::from([("locale".to_owned(), locale.to_owned())]);
            let (pdf, _) = opsflux_api::documents::render(
                &engine,
                opsflux_api::documents::template(name).unwrap(),
                &parameters,
                opsflux_render::OutputFormat::Pdf,
                today,
                &opsflux_query::Scope::All,
                &opsflux_api::documents::RenderLimits::default(),
            )
            .await
            .unwrap_or_else(|error| panic!("{name} in {locale}: {error}"));
            let path = files.path().join(format!("{name}.pdf"));
            std::fs::write(&path, &pdf).unwrap();
            let output = std::process::Command::new("pdftotext").arg(&path).arg("-").output().unwrap();
            let found = codes_in(&String::from_utf8(output.stdout).unwrap(), &codes, locale);
            if !found.is_empty() {
                offending.push(format!("{name} ({locale}) PDF: {found:?}"));
            }
        }
    }
    assert!(offending.is_empty(), "codes shown to readers:\n{}", offending.join("\n"));
}

/// Every drawn panel of one measure, drawn again by a document's chart block asking the
/// same metric, measure, dimensions, grain and month: the two go through one path, so
/// the categories, series and value style are the same, and a list panel's cells read
/// as the same document data table's.
#[tokio::test]
async fn a_panel_and_a_document_block_draw_one_metric_alike() {
    use opsflux_render::bind::Node;
    let directory = tempfile::tempdir().unwrap();
    let engine = crate::metrics::fixture_engine(directory.path()).await;
    let today = chrono::NaiveDate::from_ymd_opt(2026, 4, 2).unwrap();
    let locale = opsflux_render::Locale::FrFr;
    let mut compared = 0;
    for panel in PAGES.iter().flat_map(|page| page.panels) {
        let kind = match panel.show {
            Show::Line => "line",
            Show::Bar => "bar",
            Show::StackedBar => "stacked_bar",
            Show::Heatmap => "heatmap",
            Show::List => "list",
            Show::Kpi => continue,
        };
        if kind != "list" && (panel.measures.len() != 1 || panel.threshold.is_some()) {
            continue;
        }
        let data = serde_json::json!({
            "metric": panel.metric,
            "measure": panel.measures[0],
            "by": panel.by,
            "grain": panel.grain.map(|grain| grain.to_string()),
            "kind": if kind == "list" { None } else { Some(kind) },
            "columns": if kind == "list" {
                Some(std::iter::once("period").chain(panel.by.iter().copied()).chain(panel.measures.iter().copied()).collect::<Vec<_>>())
            } else {
                None
            },
        });
        let block = if kind == "list" { "data_table" } else { "chart" };
        let source = serde_json::json!({
            "settings": {"parameters": [{"name": "period", "kind": "month"}]},
            "blocks": [{"id": "b", "type": block, "data": data}],
        });
        let document = opsflux_render::Document::from_json(&source.to_string()).unwrap();
        let parameters = BTreeMap::from([("period".to_owned(), "2026-03".to_owned())]);
        let bound = opsflux_api::documents::bind(&engine, document, &parameters, today, &opsflux_query::Scope::All)
            .await
            .unwrap_or_else(|error| panic!("{}: {error}", panel.metric));
        let request = opsflux_query::MetricRequest {
            sites: Vec::new(),
            from: chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            to: chrono::NaiveDate::from_ymd_opt(2026, 3, 31).unwrap(),
            grain: panel.grain,
            by: Some(panel.by.iter().map(|name| (*name).to_owned()).collect()),
        };
        let result = engine.metric(panel.metric, &request, &opsflux_query::Scope::All).await.unwrap();
        match (&bound.nodes[..], kind) {
            ([Node::Chart { chart, .. }], _) => {
                let drawn = opsflux_api::http::dashboards::chart_of(panel, &result, locale);
                assert_eq!(
                    (&drawn.categories, &drawn.series, drawn.style),
                    (&chart.categories, &chart.series, chart.style),
                    "{}",
                    panel.metric
                );
                assert!(!drawn.categories.is_empty(), "{} draws nothing in March", panel.metric);
            }
            ([Node::DataTable { rows, .. }], "list") => {
                let page = opsflux_api::http::dashboards::list_cells(panel, &result, locale);
                let document: Vec<Vec<String>> =
                    rows.iter().map(|row| row.iter().map(|cell| cell.text.clone()).collect()).collect();
                assert_eq!(page, document, "{}", panel.metric);
            }
            (nodes, _) => panic!("{}: {nodes:?}", panel.metric),
        }
        compared += 1;
    }
    assert!(compared >= 8, "{compared} panels compared");
}
