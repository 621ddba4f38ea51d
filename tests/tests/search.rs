//! Search as people use it: `opsflux search` over the sample data (whole result lists
//! for French queries with plurals, accents, typos, prefixes, phrases and facets), the
//! index following PostgreSQL within seconds while `opsflux serve` runs, and an index
//! whose writer is killed again and again ending equal to the warehouse.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use expect_test::{Expect, expect};
use opsflux_search::{SearchIndex, SearchRequest};
use opsflux_warehouse::Warehouse;

fn opsflux() -> Command {
    Command::new(env!("CARGO_BIN_EXE_opsflux-under-test"))
}

/// The sample warehouse at scale 0.01, ending on a fixed day.
async fn sample_warehouse(directory: &Path) {
    let end = chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
    let options = opsflux_sample_data::Options::new(42, 0.01).unwrap().ending(end);
    opsflux_api::sample_warehouse::write_sample_warehouse(directory, options).await.unwrap();
}

/// `opsflux search --json` as a user types it; each hit on a line: kind, sites, status,
/// marked title, marked snippet; then the facets.
fn search(warehouse: &Path, index: &Path, arguments: &[&str]) -> String {
    let output = opsflux()
        .args(["search", "--warehouse"])
        .arg(warehouse)
        .arg("--search-dir")
        .arg(index)
        .args(["--json", "--today", "2026-11-30", "--per-page", "6"])
        .args(arguments)
        .output()
        .unwrap();
    assert!(output.status.success(), "{arguments:?}: {}", String::from_utf8_lossy(&output.stderr));
    let results: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut out = format!("{} hits\n", results["total"]);
    for hit in results["hits"].as_array().unwrap() {
        let sites: Vec<&str> = hit["sites"].as_array().unwrap().iter().map(|site| site.as_str().unwrap()).collect();
        out.push_str(&format!(
            "{} [{}] {} | {} | {}\n",
            hit["kind"].as_str().unwrap(),
            sites.join(","),
            hit["status"].as_str().unwrap_or("-"),
            hit["title_html"].as_str().unwrap(),
            hit["snippet"].as_str().unwrap(),
        ));
    }
    for facet in ["module", "site", "status"] {
        let counts: Vec<String> = results["facets"][facet]
            .as_array()
            .unwrap()
            .iter()
            .take(6)
            .map(|count| format!("{}:{}", count["value"].as_str().unwrap(), count["count"]))
            .collect();
        out.push_str(&format!("{facet}: {}\n", counts.join(" ")));
    }
    out
}

#[tokio::test]
async fn the_command_line_finds_the_sample_records_a_site_manager_looks_for() {
    let directory = tempfile::tempdir().unwrap();
    let warehouse = directory.path().join("warehouse");
    let index = directory.path().join("search");
    sample_warehouse(&warehouse).await;
    let check = |arguments: &[&str], expected: Expect| expected.assert_eq(&search(&warehouse, &index, arguments));
    // A typo in a long word, a plural and no accents.
    check(
        &["compreseur de gaz"],
        expect![[r#"
        16 hits
        equipment [PNR] - | K-121V — <mark>Compresseur</mark> de <mark>gaz</mark> | TGHT-01 · Tableau général haute tension · 695.00 kW · continuous · Base de Pointe-Noire · PNR
        equipment [PNR] - | K-116Q — <mark>Compresseur</mark> de <mark>gaz</mark> | TGHT-01 · Tableau général haute tension · 870.00 kW · continuous · Base de Pointe-Noire · PNR
        equipment [SRC] - | K-230E — <mark>Compresseur</mark> de <mark>gaz</mark> | TGHT-01 · Tableau général haute tension · 1180.00 kW · continuous · Appareil de forage Sirocco · SRC
        equipment [SRC] - | K-104E — <mark>Compresseur</mark> de <mark>gaz</mark> | TGHT-01 · Tableau général haute tension · 2880.00 kW · continuous · Appareil de forage Sirocco · SRC
        equipment [PGL] - | K-100A — <mark>Compresseur</mark> de <mark>gaz</mark> | TGHT-01 · Tableau général haute tension · 780.00 kW · continuous · Base logistique de Port-Gentil · PGL
        equipment [MST] - | K-244S — <mark>Compresseur</mark> de <mark>gaz</mark> | TGHT-01 · Tableau général haute tension · 1760.00 kW · continuous · Plateforme Mistral · MST
        module: powertrace:16
        site: GLD:4 MRN:2 MST:2 NKS:2 PNR:2 SRC:2
        status: 
    "#]],
    );
    check(
        &["rechauffeurs electriques"],
        expect![[r#"
            45 hits
            equipment [PNR] - | E-111L — <mark>Réchauffeur</mark> <mark>électrique</mark> | TGBT-02 · Tableau général basse tension 2 · 185.00 kW · intermittent · Base de Pointe-Noire · PNR
            equipment [PNR] - | E-120U — <mark>Réchauffeur</mark> <mark>électrique</mark> | TD-01 · Tableau divisionnaire 1 · 45.00 kW · intermittent · Base de Pointe-Noire · PNR
            equipment [MRN] - | E-123X — <mark>Réchauffeur</mark> <mark>électrique</mark> | TD-01 · Tableau divisionnaire 1 · 105.00 kW · intermittent · FPSO Marianne · MRN
            equipment [SRC] - | E-109J — <mark>Réchauffeur</mark> <mark>électrique</mark> | TD-01 · Tableau divisionnaire 1 · 285.00 kW · intermittent · Appareil de forage Sirocco · SRC
            equipment [NKS] - | E-109J — <mark>Réchauffeur</mark> <mark>électrique</mark> | TGHT-01 · Tableau général haute tension · 480.00 kW · intermittent · Plateforme N&#39;Kossa Sud · NKS
            equipment [NKS] - | E-250Y — <mark>Réchauffeur</mark> <mark>électrique</mark> | TD-01 · Tableau divisionnaire 1 · 110.00 kW · intermittent · Plateforme N&#39;Kossa Sud · NKS
            module: powertrace:45
            site: MRN:9 SRC:8 CRM:5 GLD:5 NKS:5 PNR:4
            status: 
        "#]],
    );
    // Still typing the last word.
    check(
        &["turbo-compres"],
        expect![[r#"
        50 hits
        project [CRM] on_hold | PRJ-CRM-008 — Remplacement du <mark>turbo</mark>-<mark>compresseur</mark> TC-2 — Plateforme Cormoran | Plateforme Cormoran · CRM
        project [SRC] active | PRJ-SRC-022 — Remplacement du <mark>turbo</mark>-<mark>compresseur</mark> TC-2 — Appareil de forage Sirocco | Appareil de forage Sirocco · SRC
        project [PNR] active | PRJ-PNR-018 — Remplacement du <mark>turbo</mark>-<mark>compresseur</mark> TC-2 — Base de Pointe-Noire | Base de Pointe-Noire · PNR
        task [CRM] in_progress | Consignation — lot 20 | PRJ-CRM-008 · Remplacement du <mark>turbo</mark>-<mark>compresseur</mark> TC-2 — Plateforme Cormoran · Plateforme Cormoran · CRM
        task [CRM] in_progress | Préfabrication — lot 15 | PRJ-CRM-008 · Remplacement du <mark>turbo</mark>-<mark>compresseur</mark> TC-2 — Plateforme Cormoran · Plateforme Cormoran · CRM
        task [CRM] in_progress | Levage — lot 12 | PRJ-CRM-008 · Remplacement du <mark>turbo</mark>-<mark>compresseur</mark> TC-2 — Plateforme Cormoran · Plateforme Cormoran · CRM
        module: projects:50
        site: CRM:21 SRC:15 PNR:14
        status: done:24 todo:15 in_progress:8 active:2 on_hold:1
    "#]],
    );
    check(
        &[r#""eaux de production""#],
        expect![[r#"
        80 hits
        project [SRC] active | PRJ-SRC-021 — Traitement des <mark>eaux</mark> de <mark>production</mark> — Appareil de forage Sirocco | Appareil de forage Sirocco · SRC
        project [NKS] on_hold | PRJ-NKS-027 — Traitement des <mark>eaux</mark> de <mark>production</mark> — Plateforme N&#39;Kossa Sud | Plateforme N&#39;Kossa Sud · NKS
        project [PNR] active | PRJ-PNR-019 — Traitement des <mark>eaux</mark> de <mark>production</mark> — Base de Pointe-Noire | Base de Pointe-Noire · PNR
        project [PGL] active | PRJ-PGL-003 — Traitement des <mark>eaux</mark> de <mark>production</mark> — Base logistique de Port-Gentil | Base logistique de Port-Gentil · PGL
        task [SRC] todo | Approvisionnement — lot 7 | PRJ-SRC-021 · Traitement des <mark>eaux</mark> de <mark>production</mark> — Appareil de forage Sirocco · Appareil de forage Sirocco · SRC
        task [PNR] todo | Pose — lot 16 | PRJ-PNR-019 · Traitement des <mark>eaux</mark> de <mark>production</mark> — Base de Pointe-Noire · Base de Pointe-Noire · PNR
        module: projects:80
        site: PGL:24 NKS:23 PNR:18 SRC:15
        status: todo:37 done:28 in_progress:7 active:3 blocked:2 cancelled:2
    "#]],
    );
    check(
        &["--module", "powertrace", "--site", "ALB", "compresseur"],
        expect![[r#"
            7 hits
            equipment [ALB] - | K-232G — <mark>Compresseur</mark> de gaz | TGHT-01 · Tableau général haute tension · 3165.00 kW · continuous · Plateforme Albatros · ALB
            equipment [ALB] - | K-107H — <mark>Compresseur</mark> d&#39;air instrument | TGBT-02 · Tableau général basse tension 2 · 150.00 kW · continuous · Plateforme Albatros · ALB
            equipment [ALB] - | K-122W — <mark>Compresseur</mark> d&#39;air instrument | TGBT-02 · Tableau général basse tension 2 · 50.00 kW · continuous · Plateforme Albatros · ALB
            equipment [ALB] - | K-240O — <mark>Compresseur</mark> d&#39;air instrument | TGBT-02 · Tableau général basse tension 2 · 50.00 kW · continuous · Plateforme Albatros · ALB
            equipment [ALB] - | K-105F — <mark>Compresseur</mark> d&#39;air instrument | TGBT-01 · Tableau général basse tension 1 · 100.00 kW · continuous · Plateforme Albatros · ALB
            equipment [ALB] - | K-123X — <mark>Compresseur</mark> d&#39;air instrument | TGBT-01 · Tableau général basse tension 1 · 145.00 kW · continuous · Plateforme Albatros · ALB
            module: powertrace:7
            site: ALB:7
            status: 
        "#]],
    );
    // Bad input is refused naming the parameter, and nothing is written.
    for (arguments, message) in [
        (&[r#""fuite"#][..], "q: a quote is not closed"),
        (&["--module", "payroll", "x"], "module: unknown module `payroll`"),
        (&["--status", "lost", "x"], "status: unknown status `lost`"),
        (&["--page", "999", "x"], "page: only the first 10000 hits are served"),
    ] {
        let output = opsflux()
            .args(["search", "--warehouse"])
            .arg(&warehouse)
            .arg("--search-dir")
            .arg(&index)
            .args(arguments)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success() && stderr.contains(message), "{arguments:?}: {stderr}");
    }
}

/// Every (kind, id) the index holds, read page by page; duplicates kept.
fn every_key(index: &SearchIndex) -> Vec<(String, String)> {
    let mut keys = Vec::new();
    let mut page = 1;
    loop {
        let mut request = SearchRequest::new("", chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
        request.per_page = 100;
        request.page = page;
        let results = index.search(&request).unwrap();
        keys.extend(results.hits.into_iter().map(|hit| (hit.kind, hit.id)));
        if page >= results.pages {
            return keys;
        }
        page += 1;
    }
}

#[tokio::test]
async fn an_index_whose_writer_is_killed_again_and_again_ends_equal_to_the_warehouse() {
    let directory = tempfile::tempdir().unwrap();
    let warehouse = directory.path().join("warehouse");
    let index_directory = directory.path().join("search");
    sample_warehouse(&warehouse).await;
    let mut killed_while_writing = 0;
    for delay in [150, 300, 450, 600, 800, 1000, 1300] {
        let mut child = opsflux()
            .args(["search", "reindex", "--warehouse"])
            .arg(&warehouse)
            .arg("--search-dir")
            .arg(&index_directory)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        if child.try_wait().unwrap().is_none() {
            killed_while_writing += 1;
        }
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert!(killed_while_writing >= 3, "only {killed_while_writing} kills landed while the index was written");
    // The next run brings the index level from whatever the last commit holds.
    let output = opsflux()
        .args(["search", "--warehouse"])
        .arg(&warehouse)
        .arg("--search-dir")
        .arg(&index_directory)
        .args(["--json", ""])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let index = SearchIndex::open(&index_directory).unwrap();
    let rebuilt = SearchIndex::in_memory();
    rebuilt.rebuild(&Warehouse::open(&warehouse).unwrap(), &()).await.unwrap();
    let held = every_key(&index);
    let expected = every_key(&rebuilt);
    let distinct: BTreeSet<_> = held.iter().cloned().collect();
    assert_eq!(distinct.len(), held.len(), "the index holds a record twice");
    assert_eq!(distinct, expected.into_iter().collect::<BTreeSet<_>>(), "the index differs from the warehouse");
    assert_eq!(index.coverage().unwrap(), rebuilt.coverage().unwrap(), "the index covers other warehouse versions");
}

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
async fn changes_in_postgresql_are_found_within_five_seconds_while_serve_runs() {
    let (url, pool) = opsflux_tests::migrated_pool("search_live").await;
    sqlx::query("INSERT INTO core.sites (id, code, name, kind, region, latitude, longitude, bed_capacity) VALUES ('00000001-0000-4000-8000-000000000001', 'ALPHA', 'Plateforme Alpha', 'offshore_platform', 'Golfe de Guinée', 0, 0, 100)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO moc.requests (id, reference, site_id, title, description, category, risk_level, status, submitted_at)
         VALUES ('0000000b-0000-4000-8000-000000000001', 'MOC-2026-001', '00000001-0000-4000-8000-000000000001',
                 'Remplacement du compresseur K-101', 'Fuite d''huile sur les garnitures', 'equipment', 'high', 'submitted', now())",
    )
    .execute(&pool)
    .await
    .unwrap();
    let hash = opsflux_api::auth::password::hash(PASSWORD.to_owned()).await.unwrap();
    opsflux_api::auth::users::add(&pool, "analyst@test.example", "Analyste", "analyst", &[], &hash).await.unwrap();

    let directory = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = opsflux()
        .args(["serve", "--database-url", &url, "--listen", &listen, "--slot", "search_live"])
        .args(["--publication", "search_live", "--warehouse"])
        .arg(directory.path().join("warehouse"))
        .arg("--search-dir")
        .arg(directory.path().join("search"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let address: std::net::SocketAddr = listen.parse().unwrap();
    let outcome = async {
        let started = Instant::now();
        while tokio::net::TcpStream::connect(address).await.is_err() {
            assert!(server.try_wait().unwrap().is_none(), "serve exited");
            assert!(started.elapsed() < Duration::from_secs(120), "serve did not answer within 120 s");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let body = format!(r#"{{"email":"analyst@test.example","password":"{PASSWORD}"}}"#);
        let login =
            opsflux_tests::send(address, "POST", "/api/auth/login", &[("Content-Type", "application/json")], &body)
                .await;
        assert_eq!(login.status, 200, "{}", login.body);
        let bearer = format!("Bearer {}", login.json()["access_token"].as_str().unwrap());
        let titles = |query: &'static str| {
            let bearer = bearer.clone();
            async move {
                let answer = opsflux_tests::send(
                    address,
                    "GET",
                    &format!("/api/search?q={query}"),
                    &[("Authorization", &bearer)],
                    "",
                )
                .await;
                assert_eq!(answer.status, 200, "{}", answer.body);
                answer.json()["hits"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|hit| hit["title"].as_str().unwrap().to_owned())
                    .collect::<Vec<_>>()
            }
        };
        // The initial copy, then the first sync of the index.
        let started = Instant::now();
        while titles("compresseur").await.is_empty() {
            assert!(started.elapsed() < Duration::from_secs(120), "the copied MOC was not found within 120 s");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let until = |query: &'static str, expected: Vec<String>| {
            let titles = &titles;
            async move {
                let started = Instant::now();
                loop {
                    let found = titles(query).await;
                    if found == expected {
                        return started.elapsed();
                    }
                    assert!(
                        started.elapsed() < Duration::from_secs(5),
                        "{query}: still {found:?} after 5 s, expected {expected:?}"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        sqlx::query("UPDATE moc.requests SET title = 'Remplacement de la pompe P-7', updated_at = now()")
            .execute(&pool)
            .await
            .unwrap();
        until("pompe", vec!["MOC-2026-001 — Remplacement de la pompe P-7".to_owned()]).await;
        until("compresseur", vec![]).await;
        sqlx::query("DELETE FROM moc.requests").execute(&pool).await.unwrap();
        until("pompe", vec![]).await;
    };
    let result = tokio::time::timeout(Duration::from_secs(300), outcome).await;
    let _ = server.kill();
    let _ = server.wait();
    result.expect("the live search test took longer than 300 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_shows_the_search_box_on_every_page_and_the_results_with_their_facets() {
    let directory = tempfile::tempdir().unwrap();
    sample_warehouse(directory.path()).await;
    let engine = opsflux_query::Engine::open(
        Warehouse::open(directory.path()).unwrap(),
        opsflux_query::Catalog::shipped().unwrap(),
        opsflux_query::EngineSettings::default(),
    )
    .await
    .unwrap();
    let index = SearchIndex::in_memory();
    index.sync(engine.warehouse(), &()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let public = opsflux_api::http::PublicAddress::new(None, address).unwrap();
    let state = opsflux_api::http::AppState {
        search: Some(std::sync::Arc::new(index)),
        ..opsflux_api::http::AppState::local(engine, "sample".to_owned(), public)
    };
    tokio::spawn(opsflux_api::http::serve_on(listener, state, std::future::pending()));
    let dom = |path: &str| {
        let url = format!("http://{address}{path}");
        async move {
            let output = tokio::task::spawn_blocking(move || {
                crate::dashboards::chromium().args(["--virtual-time-budget=2000", "--dump-dom"]).arg(url).output()
            })
            .await
            .unwrap()
            .unwrap();
            assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
            String::from_utf8(output.stdout).unwrap()
        }
    };
    for page in ["/", "/moc", "/power", "/documents"] {
        let html = dom(page).await;
        assert!(
            html.contains(r#"<form class="find" method="get" action="/search" role="search">"#),
            "{page}: no search box"
        );
    }
    // What the box sends: a typo, then a facet narrowing.
    let html = dom("/search?q=compreseur").await;
    assert!(html.contains("<mark>Compresseur</mark>"), "the typo match is not marked");
    assert!(html.contains(r#"href="/search?q=compreseur&amp;module=powertrace""#), "no module facet link: {html}");
    let narrowed = dom("/search?q=compreseur&module=projects&site=CRM").await;
    let hits = narrowed.matches("<li data-module=").count();
    assert!(hits > 0 && narrowed.matches(r#"<li data-module="projects""#).count() == hits, "{narrowed}");
    assert!(narrowed.contains("aria-current=\"true\">Projets</a>"), "the chosen facet is not shown as chosen");
    let refused = dom("/search?q=%22fuite").await;
    assert!(refused.contains("q: a quote is not closed"), "{refused}");
}
