//! Rédacteur documents over the hand-computed metric fixture warehouse: every shipped
//! template rendered with no parameters in every format and read back, data blocks
//! equal to the metric API's answers, `opsflux render`, and `POST /api/render` with
//! problem documents naming the block at fault.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use chrono::NaiveDate;
use opsflux_api::documents::RenderLimits;
use opsflux_api::documents::{TEMPLATES, bind, render, template};
use opsflux_api::http::AppState;
use opsflux_query::{Catalog, Engine, EngineSettings, MetricRequest, QueryError, Scope};
use opsflux_render::bind::Node;
use opsflux_render::{Locale, OutputFormat};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Periods default to the last complete week or month before this day: March 2026.
fn april_first() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 4, 1).unwrap()
}

fn pdftotext(bytes: &[u8], directory: &std::path::Path) -> String {
    let path = directory.join("document.pdf");
    std::fs::write(&path, bytes).unwrap();
    let output =
        std::process::Command::new("pdftotext").arg(&path).arg("-").output().expect("pdftotext (poppler-utils)");
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn every_shipped_template_renders_with_no_parameters_in_every_format() {
    let directory = tempfile::tempdir().unwrap();
    let engine = crate::metrics::fixture_engine(directory.path()).await;
    let files = tempfile::tempdir().unwrap();
    for (name, _) in TEMPLATES {
        for format in [OutputFormat::Pdf, OutputFormat::Docx, OutputFormat::Xlsx, OutputFormat::Html] {
            let (bytes, bound) = render(
                &engine,
                template(name).unwrap(),
                &BTreeMap::new(),
                format,
                april_first(),
                &Scope::All,
                &RenderLimits::default(),
            )
            .await
            .unwrap_or_else(|error| panic!("{name} as {format:?}: {error}"));
            assert!(!bound.warehouse.is_empty(), "{name} records the warehouse versions it read");
            assert_eq!(bound.locale, Locale::FrFr);
            match format {
                OutputFormat::Pdf => {
                    let text = pdftotext(&bytes, files.path());
                    assert!(text.contains(&bound.title) && text.contains("Tous les sites"), "{name}: {text}");
                    assert!(text.contains("Sommaire") && text.contains("Page 1 sur"), "{name}: {text}");
                }
                OutputFormat::Docx => assert!(bytes.starts_with(b"PK"), "{name}"),
                OutputFormat::Xlsx => {
                    let mut workbook: calamine::Xlsx<_> =
                        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
                    assert_eq!(calamine::Reader::sheet_names(&workbook)[0], "Synthèse", "{name}");
                    let summary = calamine::Reader::worksheet_range(&mut workbook, "Synthèse").unwrap();
                    assert_eq!(summary.get_value((0, 0)).unwrap().to_string(), bound.title);
                }
                OutputFormat::Html if name == "powertrace-scenario" => {
                    // The fixture stores no scenario: the report says so.
                    let html = String::from_utf8(bytes).unwrap();
                    assert!(html.contains("Aucun scénario enregistré ne correspond"), "{html}");
                }
                OutputFormat::Html => {
                    let html = String::from_utf8(bytes).unwrap();
                    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<svg"), "{name}");
                }
            }
        }
    }
    let (_, bound) = render(
        &engine,
        template("powertrace-monthly").unwrap(),
        &BTreeMap::new(),
        OutputFormat::Html,
        april_first(),
        &Scope::All,
        &RenderLimits::default(),
    )
    .await
    .unwrap();
    assert_eq!(bound.subtitle, "Tous les sites — mars 2026");
}

/// Three months of readings on every fixture meter, with three decimals, so that the
/// daily sums have partial sums in several partitions.
fn many_readings() -> String {
    let meters = (1..=4).map(|meter| format!("00000015-0000-4000-8000-{meter:012}")).collect::<Vec<_>>();
    let start = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
    let mut csv = String::from("id,meter_id,read_at,kw,kvar\n");
    let mut id = 0_u64;
    for slot in 0..90 * 96 {
        let read_at = start + chrono::Duration::minutes(15 * slot);
        for meter in &meters {
            id += 1;
            let kw = format!("{}.{:03}", 40 + id % 37, (id * 7919) % 1000);
            csv.push_str(&format!("00000016-0000-4000-8000-{id:012},{meter},{read_at}+00,{kw},0.0\n"));
        }
    }
    csv
}

/// DataFusion adds the partial sums of its partitions in the order they finish, so a busy
/// machine used to change the last digit of a figure. Six engines over one snapshot,
/// each computing its rollups in eight partitions at the same time, render the same bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_snapshot_renders_the_same_bytes_whatever_the_load() {
    let directory = tempfile::tempdir().unwrap();
    let mut tables = crate::metrics::fixture_tables();
    tables.retain(|(name, _)| name != "powertrace.meter_readings");
    tables.push(("powertrace.meter_readings".to_owned(), many_readings()));
    let borrowed: Vec<(&str, &str)> = tables.iter().map(|(name, csv)| (name.as_str(), csv.as_str())).collect();
    opsflux_api::sample_warehouse::write_csv_tables(directory.path(), &borrowed).await.unwrap();
    let settings = EngineSettings { threads: 8, cached_results: 0, ..EngineSettings::default() };
    let renders = (0..6).map(|_| async {
        let warehouse = opsflux_warehouse::Warehouse::open(directory.path()).unwrap();
        let engine = Engine::open(warehouse, Catalog::shipped().unwrap(), settings).await.unwrap();
        let mut outputs = Vec::new();
        for format in [OutputFormat::Html, OutputFormat::Pdf] {
            let (limits, parameters) = (RenderLimits::default(), BTreeMap::new());
            let document = template("powertrace-monthly").unwrap();
            let rendered = render(&engine, document, &parameters, format, april_first(), &Scope::All, &limits);
            outputs.push(rendered.await.unwrap().0);
        }
        outputs
    });
    let outputs = futures::future::join_all(renders).await;
    let html = String::from_utf8(outputs[0][0].clone()).unwrap();
    assert!(html.contains("Énergie"), "{html}");
    for (run, output) in outputs.iter().enumerate() {
        assert!(output == &outputs[0], "run {run} rendered other bytes than run 0");
    }
}

/// The value a metric's total gives, as the document writes it.
async fn total(engine: &Engine, metric: &str, site: &str, from: &str, to: &str, measure: &str) -> f64 {
    let request = MetricRequest {
        sites: vec![site.to_owned()],
        from: from.parse().unwrap(),
        to: to.parse().unwrap(),
        grain: Some(opsflux_query::Grain::Total),
        by: Some(Vec::new()),
    };
    let result = engine.metric(metric, &request, &Scope::All).await.unwrap();
    let column = result.column(measure).unwrap();
    result.rows[0][column].as_number().unwrap()
}

#[tokio::test]
async fn data_blocks_show_the_values_of_the_metric_api() {
    let directory = tempfile::tempdir().unwrap();
    let engine = crate::metrics::fixture_engine(directory.path()).await;
    let parameters =
        BTreeMap::from([("site".to_owned(), "ALPHA".to_owned()), ("period".to_owned(), "2026-W10".to_owned())]);
    let bound =
        bind(&engine, template("weekly-site-report").unwrap(), &parameters, april_first(), &Scope::All).await.unwrap();
    assert_eq!(bound.title, "Rapport hebdomadaire du site");
    assert_eq!(bound.subtitle, "Alpha Platform — semaine 10, du 2 mars 2026 au 8 mars 2026");
    let kpi = |id: &str| match bound.nodes.iter().find(|node| node.id() == id) {
        Some(Node::Kpi { value, comparison, .. }) => (value.clone(), comparison.clone().map(|(text, _)| text)),
        other => panic!("{id}: {other:?}"),
    };
    let pob = total(&engine, "pob.people_on_board", "ALPHA", "2026-03-02", "2026-03-08", "pob").await;
    let before = total(&engine, "pob.people_on_board", "ALPHA", "2026-02-23", "2026-03-01", "pob").await;
    assert_eq!(kpi("kpi-pob").0, Locale::FrFr.format_number(pob, 2));
    let delta = Locale::FrFr.format_number(pob - before, 2);
    let sign = if pob > before { "+" } else { "" };
    assert_eq!(kpi("kpi-pob").1, Some(format!("{sign}{delta} vs période précédente")));
    let occupancy = total(&engine, "pob.occupancy", "ALPHA", "2026-03-02", "2026-03-08", "occupancy").await;
    assert_eq!(kpi("kpi-occupancy").0, Locale::FrFr.format_percent(occupancy, 1));
    // One section per site in scope: ALPHA only.
    let sections: Vec<&str> =
        bound.nodes.iter().map(|node| node.id()).filter(|id| id.starts_with("site-title")).collect();
    assert_eq!(sections, ["site-title-1"]);
    let versions = bound.warehouse_line();
    assert!(versions.contains("pob.stays v") && versions.contains("hse.incidents v"), "{versions}");

    // A document naming an unknown metric is refused with the block and member.
    let document = opsflux_render::Document::from_json(
        r#"{"blocks": [{"id": "kpi-x", "type": "kpi", "data": {"metric": "pob.nope"}}]}"#,
    )
    .unwrap();
    let error = bind(&engine, document, &BTreeMap::new(), april_first(), &Scope::All).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "block `kpi-x` at /blocks/0/data/metric: unknown metric `pob.nope`: `GET /api/metrics` lists the catalog"
    );
    let document = opsflux_render::Document::from_json(
        r#"{"blocks": [{"id": "q", "type": "data_table", "data": {"query": "DROP TABLE core.sites"}}]}"#,
    )
    .unwrap();
    let error = bind(&engine, document, &BTreeMap::new(), april_first(), &Scope::All).await.unwrap_err();
    assert_eq!((error.block(), error.pointer()), (Some("q"), Some("/blocks/0/data/query")), "{error}");
    assert!(engine.query("SELECT count(*) FROM core.sites", &[], 10, &Scope::All).await.is_ok(), "nothing was dropped");
    assert!(matches!(
        engine.query("SELECT * FROM pob.stays", &[], 2, &Scope::All).await,
        Err(QueryError::TooManyRows { limit: 2 })
    ));
    // A query without rows keeps its columns: its table has headings in every format.
    let empty = engine.query("SELECT code, name FROM core.sites WHERE code = 'NOWHERE'", &[], 10, &Scope::All).await;
    let names: Vec<String> = empty.unwrap().columns.into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["code", "name"]);
    let document = opsflux_render::Document::from_json(
        r#"{"blocks": [{"id": "none", "type": "data_table", "data": {"query": "SELECT code FROM core.sites WHERE code = 'NOWHERE'"}}]}"#,
    )
    .unwrap();
    let bound = bind(&engine, document, &BTreeMap::new(), april_first(), &Scope::All).await.unwrap();
    for format in [OutputFormat::Pdf, OutputFormat::Docx, OutputFormat::Xlsx, OutputFormat::Html] {
        assert!(opsflux_render::Renderer::shared().render(&bound, format).is_ok(), "{format:?}");
    }
}

#[test]
fn the_command_line_renders_a_template_to_a_file() {
    let directory = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(crate::metrics::fixture_engine(directory.path()));
    let files = tempfile::tempdir().unwrap();
    let out = files.path().join("power.pdf");
    let opsflux = || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_opsflux-under-test"));
        command.arg("render").arg("--warehouse").arg(directory.path()).args(["--today", "2026-04-01"]);
        command
    };
    let run = opsflux()
        .args(["--template", "powertrace-monthly", "--param", "site=BRAVO", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let text = pdftotext(&std::fs::read(&out).unwrap(), files.path());
    assert!(text.contains("PowerTrace — rapport mensuel") && text.contains("Bravo FPSO — mars 2026"), "{text}");

    let refused = files.path().join("refused.pdf");
    let run = opsflux()
        .args(["--template", "5s-audit", "--param", "period=2026-13", "--out"])
        .arg(&refused)
        .output()
        .unwrap();
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("parameter `period`: `2026-13` is not a month: write 2026-10"), "{stderr}");
    assert!(!refused.exists(), "a refused render leaves no file");
}

/// Status, headers (lowercased) and body of a POST over a real socket.
async fn post(address: SocketAddr, path: &str, body: &str) -> (u16, String, Vec<u8>) {
    request(address, &format!("POST {path}"), body).await
}

/// Status, headers (lowercased) and body of a request (`GET /path`) over a real socket.
async fn request(address: SocketAddr, line: &str, body: &str) -> (u16, String, Vec<u8>) {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "{line} HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let split = response.windows(4).position(|window| window == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&response[..split]).to_ascii_lowercase();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head, response[split + 4..].to_vec())
}

#[tokio::test]
async fn post_api_render_answers_the_file_or_a_problem_naming_the_block() {
    let directory = tempfile::tempdir().unwrap();
    let engine = crate::metrics::fixture_engine(directory.path()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let public = opsflux_api::http::PublicAddress::new(None, address).unwrap();
    let state = AppState::local(engine, "fixture".to_owned(), public);
    tokio::spawn(opsflux_api::http::serve_on(listener, state, std::future::pending()));

    let (status, head, body) = post(
        address,
        "/api/render",
        r#"{"template": "moc-dossier", "parameters": {"period": "2026-03"}, "format": "pdf"}"#,
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(head.contains("content-type: application/pdf"), "{head}");
    assert!(head.contains("x-opsflux-warehouse: ") && head.contains("moc.requests v"), "{head}");
    let files = tempfile::tempdir().unwrap();
    let text = pdftotext(&body, files.path());
    assert!(text.contains("Registre des demandes de la période"), "{text}");

    // The reports page offers each template; its form's target previews or downloads.
    let (status, _, page) = request(address, "GET /documents", "").await;
    assert_eq!(status, 200);
    let page = String::from_utf8(page).unwrap();
    for (name, _) in TEMPLATES {
        assert!(page.contains(&format!("<section id=\"template-{name}\">")), "{name}");
    }
    let (status, head, preview) = request(
        address,
        "GET /documents/render?template=5s-audit&site=ALPHA&period=2026-03&locale=en-GB&format=html",
        "",
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&preview));
    assert!(head.contains("content-type: text/html"), "{head}");
    let preview = String::from_utf8(preview).unwrap();
    assert!(
        preview.contains("<h1 class=\"title\">Audit 5S</h1>") && preview.contains("<dd>March 2026</dd>"),
        "{preview}"
    );
    let (status, head, _) = request(address, "GET /documents/render?template=5s-audit&format=xlsx", "").await;
    assert_eq!(status, 200);
    assert!(head.contains("attachment; filename=\"5s-audit.xlsx\""), "{head}");

    let mut problems = Vec::new();
    for body in [
        r#"{"template": "moc-dossier", "format": "odt"}"#,
        r#"{"template": "weekly"}"#,
        r#"{"template": "5s-audit", "parameters": {"site": "ZULU"}}"#,
        r#"{"document": {"blocks": [{"id": "c1", "type": "chart", "data": {"metric": "hse.incidents", "by": ["colour"]}}]}}"#,
        r##"{"document": {"blocks": [{"id": "t1", "type": "typst", "data": {"source": "#rect(width: nope)"}}]}}"##,
        r#"{"document": {"blocks": [{"id": "x", "type": "marquee"}]}}"#,
        r#"{"template": "#,
    ] {
        let (status, head, answer) = post(address, "/api/render", body).await;
        assert!(head.contains("content-type: application/problem+json"), "{head}");
        problems.push(format!("{status} {}", String::from_utf8(answer).unwrap()));
    }
    expect_test::expect_file!["../fixtures/documents/problems.txt"].assert_eq(&(problems.join("\n") + "\n"));
}

#[tokio::test]
async fn task_lists_timelines_and_company_cards_read_projects_and_tiers() {
    let directory = tempfile::tempdir().unwrap();
    let engine = crate::metrics::fixture_engine(directory.path()).await;
    let document = opsflux_render::Document::from_json(
        r#"{"blocks": [
            {"id": "tasks", "type": "tasks", "data": {"status": ["todo", "in_progress"]}},
            {"id": "projects", "type": "timeline", "data": {"title": "Projets"}},
            {"id": "prj-a", "type": "timeline", "data": {"project": "PRJ-A"}},
            {"id": "acme", "type": "company", "data": {"company": "Acme Offshore"}}
        ]}"#,
    )
    .unwrap();
    let bound = bind(&engine, document, &BTreeMap::new(), april_first(), &Scope::All).await.unwrap();
    let mut described = Vec::new();
    for node in &bound.nodes {
        match node {
            Node::Tasks { tasks, .. } => {
                for task in tasks {
                    described.push(format!(
                        "task {} {} {} {:?} due {} {}%",
                        task.project, task.name, task.status, task.tone, task.due, task.percent
                    ));
                }
            }
            Node::Timeline { id, chart, .. } => {
                let values = |name: &str| -> Vec<String> {
                    let series = chart.series.iter().find(|series| series.name == name).unwrap();
                    series
                        .values
                        .iter()
                        .map(|value| match (name, value) {
                            ("percent", Some(value)) => format!("{value:.1}"),
                            (_, Some(day)) => NaiveDate::from_num_days_from_ce_opt(*day as i32).unwrap().to_string(),
                            (_, None) => "-".into(),
                        })
                        .collect()
                };
                described.push(format!(
                    "timeline {id}: {:?} from {:?} to {:?} done {:?}",
                    chart.categories,
                    values("start"),
                    values("end"),
                    values("percent")
                ));
            }
            Node::Company { name, details, contacts, .. } => {
                described.push(format!("company {name} ({details})"));
                for contact in contacts {
                    described.push(format!(
                        "  contact {} | {} | {} | {}",
                        contact.name, contact.job_title, contact.email, contact.phone
                    ));
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    expect_test::expect![[r#"
        task PRJ-A Procure En cours Warning due 20/03/2026 40%
        task PRJ-B Survey À faire Warning due 25/03/2026 0%
        timeline projects: ["PRJ-A Alpha upgrade", "PRJ-B Bravo revamp"] from ["2026-01-01", "2026-01-01"] to ["2026-06-30", "2026-06-30"] done ["46.7", "50.0"]
        timeline prj-a: ["Design", "Procure"] from ["2026-03-01", "2026-03-05"] to ["2026-03-10", "2026-03-20"] done ["100.0", "40.0"]
        company Acme Offshore (Sous-traitant · Port Harcourt · NG)
          contact Claire Martin | Base manager | c.martin@acme.example | +234 1 234 5678
          contact Paul Obi | Logistics lead | p.obi@acme.example | 
    "#]]
    .assert_eq(&(described.join("\n") + "\n"));
    assert!(bound.warehouse.contains_key("tiers.contacts") && bound.warehouse.contains_key("projects.tasks"));

    let unknown = opsflux_render::Document::from_json(
        r#"{"blocks": [{"id": "nope", "type": "company", "data": {"company": "Nope Ltd"}}]}"#,
    )
    .unwrap();
    let error = bind(&engine, unknown, &BTreeMap::new(), april_first(), &Scope::All).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "block `nope` at /blocks/0/data/company: no company named `Nope Ltd` in the Tiers directory"
    );
}

#[tokio::test]
async fn a_map_block_places_the_warehouse_sites_with_the_metric_by_site() {
    let directory = tempfile::tempdir().unwrap();
    let engine = crate::metrics::fixture_engine(directory.path()).await;
    let document = opsflux_render::Document::from_json(
        r#"{"blocks": [{"id": "carte", "type": "map", "data": {"metric": "pob.people_on_board", "measure": "pob"}}],
            "settings": {"parameters": [{"name": "period", "kind": "month"}]}}"#,
    )
    .unwrap();
    let parameters = BTreeMap::from([("period".to_owned(), "2026-03".to_owned())]);
    let bound = bind(&engine, document, &parameters, april_first(), &Scope::All).await.unwrap();
    let Some(Node::Chart { chart, .. }) = bound.nodes.first() else { panic!("{:?}", bound.nodes) };
    assert_eq!(chart.kind, opsflux_render::chart::ChartKind::Map);
    assert_eq!(chart.categories, ["Alpha Platform", "Bravo FPSO", "Charlie Base"]);
    let series = |name: &str| chart.series.iter().find(|series| series.name == name).unwrap().values.clone();
    assert_eq!(series("latitude"), [Some(4.1), Some(4.3), Some(4.8)]);
    assert_eq!(series("longitude"), [Some(6.9), Some(7.2), Some(7.0)]);
    let mut expected = Vec::new();
    for site in ["ALPHA", "BRAVO", "CHARLIE"] {
        let request = MetricRequest {
            sites: vec![site.to_owned()],
            from: "2026-03-01".parse().unwrap(),
            to: "2026-03-31".parse().unwrap(),
            grain: Some(opsflux_query::Grain::Total),
            by: Some(Vec::new()),
        };
        let result = engine.metric("pob.people_on_board", &request, &Scope::All).await.unwrap();
        let column = result.column("pob").unwrap();
        expected.push(result.rows.first().and_then(|row| row[column].as_number()));
    }
    assert_eq!(chart.series[0].values, expected, "each site's total, as the metric API gives it");

    // A reader of one site sees only that site on the map.
    let scoped = Scope::sites(["BRAVO"]);
    let document = template_map();
    let bound = bind(&engine, document, &parameters, april_first(), &scoped).await.unwrap();
    let Some(Node::Chart { chart, .. }) = bound.nodes.first() else { panic!("{:?}", bound.nodes) };
    assert_eq!(chart.categories, ["Bravo FPSO"]);
}

fn template_map() -> opsflux_render::Document {
    opsflux_render::Document::from_json(
        r#"{"blocks": [{"id": "carte", "type": "map", "data": {"metric": "pob.people_on_board"}}],
            "settings": {"parameters": [{"name": "period", "kind": "month"}]}}"#,
    )
    .unwrap()
}

#[tokio::test]
async fn a_planning_block_lists_the_reservations_and_milestones_of_the_period() {
    let directory = tempfile::tempdir().unwrap();
    let engine = crate::metrics::fixture_engine(directory.path()).await;
    let document = opsflux_render::Document::from_json(
        r#"{"blocks": [{"id": "plan", "type": "planning", "data": {"view": "table", "columns": ["label", "start", "end", "site"]}}],
            "settings": {"parameters": [{"name": "site", "kind": "site"}, {"name": "period", "kind": "month"}]}}"#,
    )
    .unwrap();
    let rows = async |site: &str, scope: &Scope| {
        let parameters =
            BTreeMap::from([("site".to_owned(), site.to_owned()), ("period".to_owned(), "2026-03".to_owned())]);
        let (html, _) = render(
            &engine,
            document.clone(),
            &parameters,
            OutputFormat::Html,
            april_first(),
            scope,
            &RenderLimits::default(),
        )
        .await
        .unwrap();
        let html = String::from_utf8(html).unwrap();
        html.split("<tr>")
            .skip(2)
            .map(|row| {
                row.split("</tr>")
                    .next()
                    .unwrap()
                    .replace("</td>", "|")
                    .replace("<td>", "")
                    .replace("<td class=\"number\">", "")
            })
            .collect::<Vec<String>>()
    };
    // The cancelled training is left out; a reservation ending at midnight ends the day before.
    assert_eq!(
        rows("", &Scope::All).await,
        [
            "GRU-01 Grue mobile — Levage|01/03/2026|01/03/2026|ALPHA|",
            "SAL-01 Salle de réunion — Réunion|01/03/2026|01/03/2026|ALPHA|",
            "GRU-01 Grue mobile — Inspection|02/03/2026|02/03/2026|ALPHA|",
            "GRU-01 Grue mobile — Levage de nuit|02/03/2026|03/03/2026|ALPHA|",
            "VEH-01 Pick-up — Tournée|04/03/2026|04/03/2026|BRAVO|",
        ]
    );
    assert_eq!(rows("BRAVO", &Scope::All).await, ["VEH-01 Pick-up — Tournée|04/03/2026|04/03/2026|BRAVO|"]);
    assert!(rows("", &Scope::sites(["BRAVO"])).await.iter().all(|row| row.ends_with("|BRAVO|")));
}
