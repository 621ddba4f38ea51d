//! Editor page-load benchmark: the Rédacteur editor opened in Chromium (chromedriver) on
//! the weekly site report, against a real server, PostgreSQL and a sample warehouse.
//! Measured in one run:
//! - what the page costs: requests, bytes over the wire and decoded, cold (an empty
//!   browser cache) and warm (the same browser again);
//! - how long until the author can type (Editor.js ready with the document's blocks)
//!   and until the first whole-document preview is shown, cold and warm (median, p95);
//! - the preview after an edit, as the author sees it: from a keystroke to the new
//!   preview in place (the editor waits 600 ms after the last keystroke, then asks the
//!   server), p50 and p95 over the edits.
//!
//! Run: `cargo bench -p opsflux-tests --bench editor` (release), or in the dev profile the
//! tests use, `cargo test -p opsflux-tests --bench editor`. It needs chromium and
//! chromedriver (`scripts/setup.sh`), and the PostgreSQL binaries. It lives beside the
//! end-to-end tests because it drives the browser the editor's test drives.

use std::time::Duration;

use opsflux_tests::browser::Browser;
use opsflux_tests::send;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";
const LOADS: usize = 10;
const EDITS: usize = 10;

fn main() {
    // The walk through the browser is one long future: a thread with room for it.
    std::thread::Builder::new()
        .stack_size(32 << 20)
        .spawn(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            runtime.block_on(Box::pin(run()));
        })
        .unwrap()
        .join()
        .unwrap();
}

fn percentile(samples: &[f64], rank: usize) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let index = (sorted.len() * rank).div_ceil(100).max(1) - 1;
    sorted[index.min(sorted.len() - 1)]
}

/// The page's own timeline: navigation, the editor's marks, and every resource fetched.
const TIMELINE: &str = "const navigation = performance.getEntriesByType('navigation')[0]; \
    const resources = performance.getEntriesByType('resource'); \
    const mark = (name) => performance.getEntriesByName(name).map((entry) => entry.startTime); \
    const sum = (entries, member) => entries.reduce((total, entry) => total + entry[member], 0); \
    const assets = resources.filter((entry) => entry.name.includes('/assets/')); \
    const data = resources.filter((entry) => !entry.name.includes('/assets/')).concat([navigation]); \
    return {content_loaded: navigation.domContentLoadedEventEnd, ready: mark('opsflux-ready')[0], \
      previews: mark('opsflux-preview'), requests: resources.length + 1, \
      assets_transferred: sum(assets, 'transferSize'), assets_decoded: sum(assets, 'decodedBodySize'), \
      data_transferred: sum(data, 'transferSize'), data_decoded: sum(data, 'decodedBodySize')};";

async fn run() {
    use opsflux_api::auth::{password, users as accounts};
    use opsflux_api::http::{AppState, PublicAddress};

    eprintln!("a migrated database, a sample warehouse (scale 0.01) and the server…");
    let (_, pool) = opsflux_tests::migrated_pool("editor_bench").await;
    let warehouse = tempfile::tempdir().unwrap();
    let today = chrono::Local::now().date_naive();
    let options = opsflux_sample_data::Options::new(42, 0.01).unwrap().ending(today);
    opsflux_api::sample_warehouse::write_sample_warehouse(warehouse.path(), options).await.unwrap();
    let engine = opsflux_query::Engine::open(
        opsflux_warehouse::Warehouse::open(warehouse.path()).unwrap(),
        opsflux_query::Catalog::shipped().unwrap(),
        opsflux_query::EngineSettings::default(),
    )
    .await
    .unwrap();
    let hash = password::hash(PASSWORD.to_owned()).await.unwrap();
    accounts::add(&pool, "author@bench.example", "Author", "analyst", &[], &hash).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    let state =
        AppState::with_database(pool, engine, "bench".into(), PublicAddress::new(None, server).unwrap()).await.unwrap();
    tokio::spawn(opsflux_api::http::serve_on(listener, state, std::future::pending()));

    // The weekly site report, stored as a document of the author's.
    let login = json!({"email": "author@bench.example", "password": PASSWORD}).to_string();
    let token = send(server, "POST", "/api/auth/login", &[("Content-Type", "application/json")], &login).await.json()
        ["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let bearer = format!("Bearer {token}");
    let template: Value =
        serde_json::from_str(include_str!("../../templates/weekly-site-report.json")).expect("the shipped template");
    let body = json!({"document": template, "comment": "benchmark"}).to_string();
    let headers = [("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
    let created = send(server, "POST", "/api/documents", &headers, &body).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let blocks = template["blocks"].as_array().map_or(0, Vec::len);

    let browser = Browser::start().await;
    browser.sign_in(server, "author@bench.example", PASSWORD).await;
    let mut loads: Vec<Value> = Vec::new();
    for round in 0..=LOADS {
        if round == 0 {
            // Signing in opened the editor once: the first measured load starts from an
            // empty cache.
            let clear = json!({"cmd": "Network.clearBrowserCache", "params": {}});
            browser.session("POST", "/goog/cdp/execute", clear).await;
        }
        if round == 1 {
            eprintln!("cold load done; {LOADS} warm loads…");
        }
        browser.open(&format!("http://{server}/editor/{id}")).await;
        browser
            .wait(
                "return performance.getEntriesByName('opsflux-ready').length > 0 \
                 && performance.getEntriesByName('opsflux-preview').length > 0",
                "the editor ready and its first preview",
            )
            .await;
        loads.push(browser.script(TIMELINE).await);
    }

    // Edits: a keystroke at the end of the first paragraph, then the new preview.
    let mut edits = Vec::new();
    for edit in 0..EDITS {
        let before = browser.script("return performance.getEntriesByName('opsflux-preview').length").await;
        let started = browser.script("return performance.now()").await.as_f64().unwrap();
        browser.type_into(".ce-paragraph", &format!(" {edit}")).await;
        let shown = browser
            .wait(
                &format!(
                    "const previews = performance.getEntriesByName('opsflux-preview'); \
                     return previews.length > {before} && previews[previews.length - 1].startTime"
                ),
                "the preview after an edit",
            )
            .await;
        edits.push(shown.as_f64().unwrap() - started);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(browser);

    let number = |load: &Value, member: &str| load[member].as_f64().unwrap_or(f64::NAN);
    let first_preview = |load: &Value| load["previews"][0].as_f64().unwrap_or(f64::NAN);
    let (cold, warm) = loads.split_first().unwrap();
    let series = |pick: &dyn Fn(&Value) -> f64| warm.iter().map(pick).collect::<Vec<f64>>();
    println!("editor page, the weekly site report ({blocks} blocks), {LOADS} warm loads after one cold");
    println!("{:<44} {:>10} {:>12} {:>10}", "measure", "cold", "warm p50", "warm p95");
    let row = |label: &str, pick: &dyn Fn(&Value) -> f64| {
        let values = series(pick);
        println!(
            "{label:<44} {:>10.0} {:>12.0} {:>10.0}",
            pick(cold),
            percentile(&values, 50),
            percentile(&values, 95)
        );
    };
    row("DOMContentLoaded (ms)", &|load| number(load, "content_loaded"));
    row("editor ready with the blocks (ms)", &|load| number(load, "ready"));
    row("first whole-document preview shown (ms)", &|load| first_preview(load));
    row("requests", &|load| number(load, "requests"));
    row("scripts and styles over the wire (KiB)", &|load| number(load, "assets_transferred") / 1024.0);
    row("scripts and styles decoded (KiB)", &|load| number(load, "assets_decoded") / 1024.0);
    row("page, API answers, preview over the wire (KiB)", &|load| number(load, "data_transferred") / 1024.0);
    row("page, API answers, preview decoded (KiB)", &|load| number(load, "data_decoded") / 1024.0);
    println!(
        "preview after an edit, keystroke to preview shown ({EDITS} edits, 600 ms debounce included): p50 {:.0} ms, p95 {:.0} ms",
        percentile(&edits, 50),
        percentile(&edits, 95)
    );
}
