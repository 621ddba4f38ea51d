//! Rédacteur rendering benchmark: the weekly site report grown to about 20 pages with
//! 10 data blocks, bound to data made here (rendering is measured, not querying).
//! Measured in one run, side by side:
//! - PDF through Typst as a library: cold (first render in the process: fonts, library,
//!   empty comemo caches) and warm (the same document again, and with changed data);
//! - DOCX and XLSX: time and size;
//! - the editor's preview after an edit (bind and HTML, p50/p95 over 30 edits) against a
//!   full re-render of each edit to PDF;
//! - the same generated Typst source and files compiled by the `typst` Python package
//!   (Typst 0.15), cold (a fresh compiler) and warm (the same compiler again).
//!
//! Run: `cargo bench -p opsflux-render --bench documents` (needs `pip install typst`).
//! It lives in the renderer's crate, not in `benches/`: it needs the renderer alone, and
//! building the benches crate in release means building the whole query stack.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::NaiveDate;
use opsflux_render::{
    Binding, BoundDocument, DataColumn, DataRequest, DataTable, Document, OutputFormat, Renderer, SiteInfo, Value,
    ValueFormat,
};

const SITES: [(&str, &str); 6] = [
    ("ALPHA", "Alpha Platform"),
    ("BRAVO", "Bravo FPSO"),
    ("CHARLIE", "Charlie Base"),
    ("DELTA", "Delta Rig"),
    ("ECHO", "Echo Platform"),
    ("FOXTROT", "Foxtrot FPSO"),
];

fn document() -> String {
    let table = |id: &str, metric: &str, title: &str| {
        format!(
            r#"{{"id": "{id}", "type": "data_table", "data": {{"metric": "{metric}", "grain": "day", "by": ["site"], "title": "{title}", "totals": true}}}}"#
        )
    };
    let paragraph = |id: usize| {
        format!(
            r#"{{"id": "p{id}", "type": "paragraph", "data": {{"text": "Commentaire d'exploitation n° {id} : les équipes de <b>{{site.name}}</b> ont tenu le planning de la semaine {{period.week}} ; aucune anomalie majeure n'a été relevée sur les rotations, les approbations de séjour ni les relevés des tableaux électriques."}}}}"#
        )
    };
    let mut blocks = vec![
        r#"{"id": "h1", "type": "header", "data": {"text": "Synthèse de la semaine", "level": 1}}"#.to_owned(),
        r#"{"id": "kpi-pob", "type": "kpi", "data": {"metric": "pob", "measure": "value", "label": "POB moyen", "compare": "previous"}}"#.to_owned(),
        r#"{"id": "kpi-energy", "type": "kpi", "data": {"metric": "energy", "measure": "value", "label": "Énergie", "unit": "kWh", "compare": "previous"}}"#.to_owned(),
    ];
    blocks.extend((1..=6).map(paragraph));
    blocks.push(r#"{"id": "h2", "type": "header", "data": {"text": "Personnel à bord", "level": 1}}"#.to_owned());
    blocks.push(r#"{"id": "chart-pob", "type": "chart", "data": {"metric": "pob", "grain": "day", "by": ["site"], "kind": "line", "title": "POB par jour"}}"#.to_owned());
    blocks.push(table("table-pob", "pob", "POB par jour et par site"));
    blocks.extend((7..=10).map(paragraph));
    blocks.push(r#"{"id": "h3", "type": "header", "data": {"text": "Transports", "level": 1}}"#.to_owned());
    blocks.push(r#"{"id": "chart-seats", "type": "chart", "data": {"metric": "seats", "grain": "day", "by": ["site"], "kind": "bar", "title": "Remplissage"}}"#.to_owned());
    blocks.push(table("table-seats", "seats", "Remplissage par jour et par site"));
    blocks.push(r#"{"id": "h4", "type": "header", "data": {"text": "Énergie", "level": 1}}"#.to_owned());
    blocks.push(r#"{"id": "chart-energy", "type": "chart", "data": {"metric": "energy", "grain": "day", "by": ["site"], "kind": "stacked_bar", "title": "Énergie par jour"}}"#.to_owned());
    blocks.push(table("table-energy", "energy", "Énergie par jour et par site"));
    blocks.push(table("table-incidents", "incidents", "Incidents par jour et par site"));
    blocks.extend((11..=16).map(paragraph));
    format!(
        r#"{{"settings": {{"title": "Rapport hebdomadaire — {{site.name}}", "subtitle": "Semaine {{period.week}}", "cover": true, "toc": true, "footer": "Édité le {{date.today}}", "parameters": [{{"name": "site", "kind": "site"}}, {{"name": "period", "kind": "week"}}]}}, "blocks": [{}]}}"#,
        blocks.join(", ")
    )
}

/// Data for the bench document: 26 days × 6 sites per daily table.
fn answer(request: &DataRequest, shift: f64) -> DataTable {
    let DataRequest::Metric { metric, by, from, .. } = request else { unreachable!("the bench asks metrics only") };
    let seed = metric.len() as f64;
    let by_site = by.as_ref().is_some_and(|by| !by.is_empty());
    let mut rows = Vec::new();
    let days = if by_site { 26 } else { 1 };
    for day in 0..days {
        let date = *from + chrono::Days::new(day);
        for (index, (code, _)) in SITES.iter().enumerate().take(if by_site { SITES.len() } else { 1 }) {
            let value = shift + seed * 10.0 + (index as f64) * 7.5 + ((day * 13 + index as u64 * 5) % 17) as f64;
            let mut row = vec![Value::Date(date)];
            if by_site {
                row.push(Value::Text((*code).to_owned()));
            }
            row.push(Value::Number(value));
            rows.push(row);
        }
    }
    let mut columns = vec![DataColumn { name: "period".into(), label: "Période".into(), format: ValueFormat::Date }];
    if by_site {
        columns.push(DataColumn { name: "site".into(), label: "Site".into(), format: ValueFormat::Text });
    }
    columns.push(DataColumn { name: "value".into(), label: metric.clone(), format: ValueFormat::Decimal });
    DataTable { columns, rows, warehouse: BTreeMap::from([(format!("bench.{metric}"), "v1".to_owned())]) }
}

fn bind(shift: f64) -> BoundDocument {
    bind_source(&document(), shift)
}

/// The bench document after an author's edit: paragraph `p3` rewritten, `edit` times.
fn edited(edit: usize) -> String {
    document()
        .replace("Commentaire d'exploitation n° 3 :", &format!("Commentaire d'exploitation n° 3 (révision {edit}) :"))
}

fn bind_source(source: &str, shift: f64) -> BoundDocument {
    let sites = SITES
        .iter()
        .map(|(code, name)| SiteInfo { code: (*code).into(), name: (*name).into(), latitude: None, longitude: None })
        .collect();
    let parameters = BTreeMap::from([("period".to_owned(), "2026-W46".to_owned())]);
    let today = NaiveDate::from_ymd_opt(2026, 11, 22).expect("a valid date");
    let mut binding = Binding::new(
        Document::from_json(source).expect("the bench document reads"),
        &parameters,
        sites,
        BTreeMap::new(),
        today,
    )
    .expect("the bench document binds");
    loop {
        let pending = binding.pending().expect("requests");
        if pending.is_empty() {
            break;
        }
        for pending in pending {
            let table = answer(&pending.request, shift);
            binding.answer(pending.request, table);
        }
    }
    binding.finish().expect("the bench document binds")
}

fn median(samples: Vec<f64>) -> f64 {
    percentile(samples, 50)
}

/// The nearest-rank percentile of `samples`.
fn percentile(mut samples: Vec<f64>, rank: usize) -> f64 {
    samples.sort_by(f64::total_cmp);
    let index = (samples.len() * rank).div_ceil(100).max(1) - 1;
    samples[index.min(samples.len() - 1)]
}

/// The page count, as poppler's `pdfinfo` reads it.
fn pages(pdf: &[u8], directory: &std::path::Path) -> Result<String, Box<dyn std::error::Error>> {
    let path = directory.join("weekly.pdf");
    std::fs::write(&path, pdf)?;
    let output = std::process::Command::new("pdfinfo").arg(&path).output()?;
    let info = String::from_utf8_lossy(&output.stdout);
    Ok(info.lines().find_map(|line| line.strip_prefix("Pages:")).unwrap_or("?").trim().to_owned())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let document = bind(0.0);
    let changed = bind(1.0);

    let started = Instant::now();
    let renderer = Renderer::shared();
    let start_up = started.elapsed().as_secs_f64() * 1000.0;
    let pdf = renderer.render(&document, OutputFormat::Pdf)?;
    let cold = started.elapsed().as_secs_f64() * 1000.0;
    let warm: Vec<f64> = (0..10)
        .map(|_| {
            let started = Instant::now();
            renderer.render(&document, OutputFormat::Pdf).expect("renders");
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    let warm_changed: Vec<f64> = (0..5)
        .map(|index| {
            let document = if index % 2 == 0 { &changed } else { &document };
            let started = Instant::now();
            renderer.render(document, OutputFormat::Pdf).expect("renders");
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    let timed = |format: OutputFormat| -> Result<(f64, usize), opsflux_render::DocumentError> {
        let mut samples = Vec::new();
        let mut size = 0;
        for _ in 0..5 {
            let started = Instant::now();
            size = renderer.render(&document, format)?.len();
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        Ok((median(samples), size))
    };
    // The editor's preview after an edit: the edited document read, bound and written as
    // HTML (what `POST /api/render` with `format: html` does once the data is answered),
    // against a full re-render of the same edit to PDF.
    let edits = 30;
    let mut preview = Vec::new();
    let mut full = Vec::new();
    for edit in 0..edits {
        let source = edited(edit);
        let started = Instant::now();
        let html = renderer.render(&bind_source(&source, 0.0), OutputFormat::Html)?;
        preview.push(started.elapsed().as_secs_f64() * 1000.0);
        assert!(String::from_utf8_lossy(&html).contains(&format!("révision {edit}")));
        let started = Instant::now();
        renderer.render(&bind_source(&source, 0.0), OutputFormat::Pdf)?;
        full.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let (docx_ms, docx_size) = timed(OutputFormat::Docx)?;
    let (xlsx_ms, xlsx_size) = timed(OutputFormat::Xlsx)?;

    // The same Typst project compiled by the typst Python package.
    let directory = tempfile::tempdir()?;
    let (main, files) = Renderer::typst_project(&document);
    std::fs::write(directory.path().join("main.typ"), main)?;
    for (path, bytes) in files {
        let path = directory.path().join(path.trim_start_matches('/'));
        std::fs::create_dir_all(path.parent().expect("files live in folders"))?;
        std::fs::write(path, bytes)?;
    }
    let fonts = directory.path().join("fonts");
    std::fs::create_dir_all(&fonts)?;
    for (index, data) in Renderer::font_data().enumerate() {
        std::fs::write(fonts.join(format!("font{index}.otf")), data)?;
    }
    let script = r#"
import json, sys, time, typst
root, fonts = sys.argv[1], sys.argv[2]
started = time.perf_counter()
compiler = typst.Compiler(root + "/main.typ", root=root, font_paths=[fonts], ignore_system_fonts=True)
pdf = compiler.compile(format="pdf")
cold = (time.perf_counter() - started) * 1000
warm = []
for _ in range(10):
    started = time.perf_counter()
    compiler.compile(format="pdf")
    warm.append((time.perf_counter() - started) * 1000)
warm.sort()
print(json.dumps({"cold": cold, "warm": warm[len(warm) // 2], "bytes": len(pdf)}))
"#;
    let output =
        std::process::Command::new("python3").arg("-c").arg(script).arg(directory.path()).arg(&fonts).output()?;
    if !output.status.success() {
        let message =
            format!("the typst Python package failed (pip install typst): {}", String::from_utf8_lossy(&output.stderr));
        return Err(message.into());
    }
    let baseline: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let (python_cold, python_warm) =
        (baseline["cold"].as_f64().unwrap_or(f64::NAN), baseline["warm"].as_f64().unwrap_or(f64::NAN));

    let page_count = pages(&pdf, directory.path())?;
    println!("weekly report: {page_count} pages, 10 data blocks, PDF {} KiB", pdf.len() / 1024);
    println!("{:<34} {:>12} {:>14} {:>8}", "measure", "OpsFlux ms", "typst (Python)", "ratio");
    println!("{:<34} {:>12.1} {:>14.1} {:>7.2}×", "PDF cold (first render)", cold, python_cold, cold / python_cold);
    println!("{:<34} {:>12.1} {:>14} {:>8}", "  of which start-up (fonts, library)", start_up, "-", "");
    println!(
        "{:<34} {:>12.1} {:>14.1} {:>7.2}×",
        "PDF warm (same document), median",
        median(warm.clone()),
        python_warm,
        median(warm) / python_warm
    );
    println!("{:<34} {:>12.1} {:>14} {:>8}", "PDF warm (data changed), median", median(warm_changed), "-", "");
    println!("{:<34} {:>12.1} {:>14} {:>8}", format!("DOCX ({} KiB), median", docx_size / 1024), docx_ms, "-", "");
    println!("{:<34} {:>12.1} {:>14} {:>8}", format!("XLSX ({} KiB), median", xlsx_size / 1024), xlsx_ms, "-", "");
    println!(
        "{:<34} {:>12} {:>14} {:>8}",
        format!("preview after an edit ({edits} edits)"),
        "HTML",
        "full PDF",
        "ratio"
    );
    let (preview_50, preview_95) = (percentile(preview.clone(), 50), percentile(preview, 95));
    let (full_50, full_95) = (percentile(full.clone(), 50), percentile(full, 95));
    println!("{:<34} {:>12.1} {:>14.1} {:>7.2}×", "  p50", preview_50, full_50, preview_50 / full_50);
    println!("{:<34} {:>12.1} {:>14.1} {:>7.2}×", "  p95", preview_95, full_95, preview_95 / full_95);
    println!("typst Python package PDF: {} KiB", baseline["bytes"].as_u64().unwrap_or(0) / 1024);
    Ok(())
}
