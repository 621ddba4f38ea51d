//! PowerTrace over HTTP, against a real server with its scenarios in a real PostgreSQL
//! and the sample warehouse: an engineer reads a site's load list and forecast, creates
//! a scenario, saves a second version, evaluates it (recorded with the version and the
//! warehouse versions read) and compares it; bad scenarios are refused with the member
//! at fault and nothing stored; other users see what their role and sites allow.

use std::net::SocketAddr;

use opsflux_api::auth::{password, users};
use opsflux_api::http::{AppState, PublicAddress};
use opsflux_tests::{Answer, send};

const PASSWORD: &str = "correct horse battery staple";
const SITE: &str = "PNR";

struct Server {
    address: SocketAddr,
    pool: sqlx::PgPool,
    _warehouse: tempfile::TempDir,
}

impl Server {
    async fn start() -> Server {
        let (_, pool) = opsflux_tests::migrated_pool("powertrace_api").await;
        let warehouse = tempfile::tempdir().unwrap();
        let end = chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let options = opsflux_sample_data::Options::new(42, 0.01).unwrap().ending(end);
        opsflux_api::sample_warehouse::write_sample_warehouse(warehouse.path(), options).await.unwrap();
        let options = opsflux_sample_data::Options::new(42, 0.01).unwrap().ending(end);
        let engine = opsflux_query::Engine::open(
            opsflux_warehouse::Warehouse::open(warehouse.path()).unwrap(),
            opsflux_query::Catalog::default(),
            opsflux_query::EngineSettings::default(),
        )
        .await
        .unwrap();
        // The database holds the same sample as the warehouse, its stored scenarios too.
        let mut connection = pool.acquire().await.unwrap();
        opsflux_sample_data::load(&mut connection, &opsflux_sample_data::Dataset::generate(options), |_| {})
            .await
            .unwrap();
        drop(connection);
        let hash = password::hash(PASSWORD.to_owned()).await.unwrap();
        for (email, role, sites) in [
            ("engineer@test.example", "engineer", vec![SITE]),
            ("viewer@test.example", "viewer", vec![SITE]),
            ("elsewhere@test.example", "engineer", vec!["ALB"]),
            ("author@test.example", "analyst", vec![]),
            (
                "admin-like@test.example",
                "engineer",
                vec!["ALB", "CRM", "GLD", "LCQ", "MRN", "MST", "NKS", "PGL", "PNR", "SRC"],
            ),
        ] {
            let sites: Vec<String> = sites.into_iter().map(str::to_owned).collect();
            users::add(&pool, email, email, role, &sites, &hash).await.unwrap();
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let state =
            AppState::with_database(pool.clone(), engine, "test".into(), PublicAddress::new(None, address).unwrap())
                .await
                .unwrap();
        tokio::spawn(opsflux_api::http::serve_on(listener, state, std::future::pending()));
        Server { address, pool, _warehouse: warehouse }
    }

    async fn token(&self, email: &str) -> String {
        let body = format!(r#"{{"email":"{email}","password":"{PASSWORD}"}}"#);
        let answer =
            send(self.address, "POST", "/api/auth/login", &[("Content-Type", "application/json")], &body).await;
        assert_eq!(answer.status, 200, "{email}: {}", answer.body);
        answer.json()["access_token"].as_str().unwrap().to_owned()
    }

    async fn call(&self, token: &str, method: &str, path: &str, body: &serde_json::Value) -> Answer {
        let bearer = format!("Bearer {token}");
        let body = if body.is_null() { String::new() } else { body.to_string() };
        send(self.address, method, path, &[("Authorization", &bearer), ("Content-Type", "application/json")], &body)
            .await
    }

    async fn count(&self, table: &str) -> i64 {
        // Table names come from the test itself.
        let sql = sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}"));
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_scenarios_evaluate_and_one_site_fails_n1_today() {
    let server = Server::start().await;
    let engineer = server.token("admin-like@test.example").await;
    let null = serde_json::Value::Null;
    let listed = server.call(&engineer, "GET", "/api/powertrace/scenarios", &null).await.json();
    let scenarios = listed["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), 20, "two per site");
    let mut names: Vec<&str> = scenarios.iter().map(|scenario| scenario["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names, ["Ajout compresseurs gaz", "Extension quartiers vie"]);
    for scenario in scenarios {
        let id = scenario["id"].as_str().unwrap();
        let answer = server.call(&engineer, "POST", &format!("/api/powertrace/scenarios/{id}/evaluate"), &null).await;
        assert_eq!(answer.status, 200, "{} of {}: {}", scenario["name"], scenario["site"], answer.body);
        let evaluation = &answer.json()["evaluation"];
        assert!(
            evaluation["scenario"]["demand"]["kw"].as_f64() > evaluation["baseline"]["demand"]["kw"].as_f64(),
            "{} of {} adds load",
            scenario["name"],
            scenario["site"]
        );
    }
    // Today's equipment: every site but one holds with its largest set out.
    let mut failing = Vec::new();
    for site in ["ALB", "CRM", "GLD", "LCQ", "MRN", "MST", "NKS", "PGL", "PNR", "SRC"] {
        let loaded =
            server.call(&engineer, "GET", &format!("/api/powertrace/sites/{site}/load-list"), &null).await.json();
        if loaded["failures"].as_array().unwrap().iter().any(|failure| failure["check"] == "n1_overload") {
            failing.push(site);
        }
    }
    assert_eq!(failing, ["ALB"]);

    // The shipped report of a scenario, in each format, read back by real readers.
    let files = tempfile::tempdir().unwrap();
    let render = |format: &str| {
        serde_json::json!({"template": "powertrace-scenario", "format": format,
            "parameters": {"site": "ALB", "scenario": "Ajout compresseurs gaz", "horizon": "7d"}})
    };
    let answer = server.call(&engineer, "POST", "/api/render", &render("pdf")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let pdf = files.path().join("scenario.pdf");
    std::fs::write(&pdf, &answer.bytes).unwrap();
    let output = std::process::Command::new("pdftotext").arg("-layout").arg(&pdf).arg("-").output().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    for expected in [
        "PowerTrace — scénarios de charge",
        "Ajout compresseurs gaz — ",
        "Hypothèses",
        "Référence et scénario",
        "Demande maximale (kW)",
        "Capacité N-1 (kW)",
        "Surcharge N-1",
        "Recommandations",
        "Groupe électrogène",
        "Demande prévue contre la capacité N-1",
        "dépasse la capacité N-1",
    ] {
        assert!(text.contains(expected), "the PDF lacks {expected}: {text}");
    }
    assert!(!text.contains("Extension quartiers vie"), "only the scenario asked: {text}");
    let answer = server.call(&engineer, "POST", "/api/render", &render("docx")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(answer.bytes.clone())).unwrap();
    let mut body = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("word/document.xml").unwrap(), &mut body).unwrap();
    assert!(body.contains("Surcharge N-1") && body.contains("Groupe électrogène"), "{body}");
    let answer = server.call(&engineer, "POST", "/api/render", &render("xlsx")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let mut workbook: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(answer.bytes.clone())).unwrap();
    let mut cells = Vec::new();
    for sheet in calamine::Reader::sheet_names(&workbook) {
        let range = calamine::Reader::worksheet_range(&mut workbook, &sheet).unwrap();
        cells.extend(range.cells().map(|(_, _, cell)| cell.to_string()));
    }
    for expected in ["Surcharge N-1", "Capacité N-1", "Intervalle à 95 % — haut", "Demande maximale (kW)"] {
        assert!(cells.iter().any(|cell| cell == expected), "the workbook lacks {expected}: {cells:?}");
    }

    // A data block naming a scenario the site does not have is refused at its member.
    let document = serde_json::json!({"document": {"blocks": [{"id": "what-if", "type": "scenario",
        "data": {"site": "ALB", "scenario": "Plateforme fantôme", "view": "checks"}}]}, "format": "html"});
    let author = server.token("author@test.example").await;
    let answer = server.call(&author, "POST", "/api/render", &document).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    let problem = answer.json();
    assert_eq!(problem["block"], "what-if", "{problem}");
    assert_eq!(problem["pointer"], "/blocks/0/data/scenario", "{problem}");
    assert_eq!(
        problem["detail"],
        "block `what-if` at /blocks/0/data/scenario: site ALB has no scenario `Plateforme fantôme` (it has Ajout compresseurs gaz, Extension quartiers vie)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engineer_stores_versions_evaluates_and_compares_scenarios() {
    let server = Server::start().await;
    let engineer = server.token("engineer@test.example").await;
    let null = serde_json::Value::Null;

    // The load list names what a scenario may refer to.
    let answer = server.call(&engineer, "GET", &format!("/api/powertrace/sites/{SITE}/load-list"), &null).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let loaded = answer.json();
    let list = &loaded["list"];
    let board = list["switchboards"][0]["code"].as_str().unwrap().to_owned();
    let tag = list["lines"][0]["tag"].as_str().unwrap().to_owned();
    let largest = list["generation"]["largest"][0].as_str().unwrap().to_owned();
    let baseline_kw = list["demand"]["kw"].as_f64().unwrap();
    assert_eq!(loaded["metered"][0]["switchboard"], serde_json::Value::Null, "the site's metered side comes first");
    let ratio = loaded["metered"][0]["ratio"].as_f64().unwrap();
    assert!(ratio > 0.0, "measured peak over calculated demand: {ratio}");
    assert!(loaded["warehouse"]["tables"]["powertrace.equipment"].is_string(), "{}", loaded["warehouse"]);

    // Bad items: each refused with its member named, and nothing stored.
    let item = |change: serde_json::Value| {
        serde_json::json!({"site": SITE, "name": "Essai", "items": [
            {"action": "remove_equipment", "tag": tag},
            change,
        ]})
    };
    let compressor = |overrides: serde_json::Value| {
        let mut item = serde_json::json!({"action": "add_equipment", "start": "2027-04-01", "tag": "K-901",
            "description": "Compresseur gaz", "switchboard": board, "absorbed_kw": 500, "power_factor": 0.86,
            "efficiency": 0.95, "category": "continuous", "quantity": 2});
        for (key, value) in overrides.as_object().unwrap() {
            item[key] = value.clone();
        }
        item
    };
    const STORED: [&str; 3] = ["powertrace.scenarios", "powertrace.scenario_items", "powertrace.scenario_versions"];
    let mut before = Vec::new();
    for table in STORED {
        before.push(server.count(table).await);
    }
    let mut refused = Vec::new();
    for body in [
        item(serde_json::json!({"action": "remove_equipment", "tag": "NO-SUCH-TAG"})),
        item(compressor(serde_json::json!({"switchboard": "NO-SUCH-BOARD"}))),
        item(compressor(serde_json::json!({"absorbed_kw": -10}))),
        item(compressor(serde_json::json!({"power_factor": 0}))),
        item(compressor(serde_json::json!({"power_factor": 1.2}))),
        item(compressor(serde_json::json!({"efficiency": 1.05}))),
        item(compressor(serde_json::json!({"start": "2027-02-30"}))),
    ] {
        let answer = server.call(&engineer, "POST", "/api/powertrace/scenarios", &body).await;
        assert!(answer.head.contains("application/problem+json"), "{}", answer.head);
        let problem = answer.json();
        refused.push(format!(
            "{} {} {}",
            answer.status,
            problem["pointer"].as_str().unwrap_or("-"),
            problem["detail"].as_str().unwrap().replace(&board, "<board>")
        ));
    }
    expect_test::expect![[r#"
        400 /items/1/tag item 1, tag: names equipment `NO-SUCH-TAG`, which site PNR does not have
        400 /items/1/switchboard item 1, switchboard: names switchboard `NO-SUCH-BOARD`, which site PNR does not have
        400 /items/1/absorbed_kw item 1, absorbed_kw: must be a power from 0 to 10000000 kW, not -10
        400 /items/1/power_factor item 1, power_factor: must be above 0 and at most 1, not 0
        400 /items/1/power_factor item 1, power_factor: must be above 0 and at most 1, not 1.2
        400 /items/1/efficiency item 1, efficiency: must be above 0 and at most 1, not 1.05
        400 /items/1/start item 1, start: `2027-02-30` is not a date (YYYY-MM-DD, like 2027-03-01)"#]]
    .assert_eq(&refused.join("\n"));
    for (table, before) in STORED.iter().zip(before) {
        assert_eq!(server.count(table).await, before, "{table} after refused scenarios");
    }

    // A valid scenario: two compressors, the largest generator out of service.
    let first = serde_json::json!({"site": SITE, "name": "Ajout compresseurs gaz", "base_date": "2027-01-01",
        "items": [compressor(serde_json::json!({})), {"action": "generator_out_of_service", "start": "2027-06-01", "tag": largest}]});
    let answer = server.call(&engineer, "POST", "/api/powertrace/scenarios", &first).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let created = answer.json();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!((created["version"].as_i64(), created["status"].as_str()), (Some(1), Some("draft")));
    assert_eq!(created["items"][0]["absorbed_kw"], 500.0);
    assert_eq!(
        created["items"][1],
        serde_json::json!({"action": "generator_out_of_service", "start": "2027-06-01", "tag": largest})
    );

    // A second version drops the generator item; the first stays readable.
    let second = serde_json::json!({"site": SITE, "name": "Ajout compresseurs gaz", "base_date": "2027-01-01",
        "comment": "les groupes restent disponibles", "items": [compressor(serde_json::json!({}))]});
    let answer = server.call(&engineer, "PUT", &format!("/api/powertrace/scenarios/{id}"), &second).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["version"], 2);
    let old = server.call(&engineer, "GET", &format!("/api/powertrace/scenarios/{id}?version=1"), &null).await.json();
    assert_eq!(
        (old["version"].as_i64(), old["latest_version"].as_i64(), old["items"].as_array().unwrap().len()),
        (Some(1), Some(2), 2)
    );
    let versions =
        server.call(&engineer, "GET", &format!("/api/powertrace/scenarios/{id}/versions"), &null).await.json();
    let summary: Vec<String> = versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|version| {
            format!("{} {} {} {}", version["version"], version["items"], version["saved_by"], version["comment"])
        })
        .collect();
    assert_eq!(
        summary,
        ["2 1 \"engineer@test.example\" \"les groupes restent disponibles\"", "1 2 \"engineer@test.example\" null"]
    );

    // Evaluated: two compressors of 500 kW at 95 % efficiency add 2 × 500 ÷ 0.95 kW of
    // continuous demand (factor 1, diversity 1); recorded with version and snapshot.
    let answer = server.call(&engineer, "POST", &format!("/api/powertrace/scenarios/{id}/evaluate"), &null).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let evaluated = answer.json();
    assert_eq!((evaluated["version"].as_i64(), evaluated["evaluation"]["day"].as_str()), (Some(2), Some("2027-04-01")));
    let added = evaluated["evaluation"]["scenario"]["demand"]["kw"].as_f64().unwrap()
        - evaluated["evaluation"]["baseline"]["demand"]["kw"].as_f64().unwrap();
    assert!((added - 1000.0 / 0.95).abs() < 1e-6, "added {added} kW");
    assert!((evaluated["evaluation"]["baseline"]["demand"]["kw"].as_f64().unwrap() - baseline_kw).abs() < 1e-9);
    let tables = evaluated["warehouse"]["tables"].as_object().unwrap();
    assert_eq!(
        tables.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "core.sites",
            "powertrace.equipment",
            "powertrace.generators",
            "powertrace.switchboards",
            "powertrace.transformers"
        ]
    );
    let recorded =
        server.call(&engineer, "GET", &format!("/api/powertrace/scenarios/{id}/evaluations"), &null).await.json();
    let recorded = &recorded["evaluations"][0];
    assert_eq!((recorded["version"].as_i64(), recorded["day"].as_str()), (Some(2), Some("2027-04-01")));
    assert_eq!(recorded["warehouse"], evaluated["warehouse"]);
    assert_eq!(
        recorded["failures"].as_u64(),
        Some(evaluated["evaluation"]["failures"].as_array().unwrap().len() as u64)
    );

    // Compared with a scenario that takes the largest generator out.
    let other = serde_json::json!({"site": SITE, "name": "Groupe en révision",
        "items": [{"action": "generator_out_of_service", "start": "2027-01-01", "tag": largest}]});
    let other_id = server.call(&engineer, "POST", "/api/powertrace/scenarios", &other).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let compared =
        server.call(&engineer, "GET", &format!("/api/powertrace/compare?a={id}&b={other_id}"), &null).await.json();
    let names: Vec<&str> =
        compared["scenarios"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Ajout compresseurs gaz", "Groupe en révision"]);
    let n1 = |index: usize| compared["scenarios"][index]["n1_kw"].as_f64().unwrap();
    assert!(n1(1) < n1(0), "a generator out lowers N-1: {} vs {}", n1(1), n1(0));

    // The forecast with the scenario's added load, against N-1.
    let answer = server
        .call(&engineer, "GET", &format!("/api/powertrace/sites/{SITE}/forecast?horizon=1d&scenario={id}"), &null)
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let forecast = answer.json();
    assert_eq!(forecast["forecast"]["points"].as_array().unwrap().len(), 96);
    assert_eq!(forecast["added"][0][0], "2027-04-01");
    assert!(forecast["crossing"]["capacity_kw"].as_f64().unwrap() > 0.0, "{}", forecast["crossing"]);

    // Others: a viewer reads but may not write; an engineer of another site sees nothing.
    let viewer = server.token("viewer@test.example").await;
    assert_eq!(server.call(&viewer, "GET", &format!("/api/powertrace/scenarios/{id}"), &null).await.status, 200);
    assert_eq!(server.call(&viewer, "POST", "/api/powertrace/scenarios", &first).await.status, 403);
    let elsewhere = server.token("elsewhere@test.example").await;
    assert_eq!(server.call(&elsewhere, "GET", &format!("/api/powertrace/scenarios/{id}"), &null).await.status, 404);
    // Asking for a version of another site's scenario tells nothing more than asking
    // for a scenario that does not exist.
    let hidden = server.call(&elsewhere, "GET", &format!("/api/powertrace/scenarios/{id}?version=9"), &null).await;
    assert_eq!((hidden.status, hidden.json()["detail"].clone()), (404, serde_json::json!(format!("no scenario {id}"))));
    // A scenario stays on its site: moving it would show its history elsewhere.
    let mut moved = second.clone();
    moved["site"] = serde_json::json!("ALB");
    let refused = server.call(&engineer, "PUT", &format!("/api/powertrace/scenarios/{id}"), &moved).await;
    assert_eq!(refused.status, 403, "ALB is outside the engineer's sites: {}", refused.body);
    let everywhere = server.token("admin-like@test.example").await;
    let refused = server.call(&everywhere, "PUT", &format!("/api/powertrace/scenarios/{id}"), &moved).await.json();
    assert_eq!(
        (refused["pointer"].as_str(), refused["detail"].as_str()),
        (Some("/site"), Some("the scenario is of site PNR; a scenario cannot move to another site (create one there)"))
    );
    let listed = server.call(&elsewhere, "GET", "/api/powertrace/scenarios", &null).await.json();
    let sites: Vec<&str> =
        listed["scenarios"].as_array().unwrap().iter().map(|scenario| scenario["site"].as_str().unwrap()).collect();
    assert_eq!(sites, ["ALB", "ALB"], "only the scenarios of their own site");
    assert_eq!(server.call(&elsewhere, "POST", "/api/powertrace/scenarios", &first).await.status, 403);
    assert_eq!(
        server.call(&elsewhere, "GET", &format!("/api/powertrace/sites/{SITE}/load-list"), &null).await.status,
        404
    );

    // The pages show the same figures, in a browser's language.
    let page = server.call(&engineer, "GET", &format!("/powertrace/sites/{SITE}"), &null).await;
    assert_eq!(page.status, 200);
    for expected in
        ["<h1>Bilan de puissance — PNR</h1>", "Liste des charges", "Pointe / demande", "forecast.svg?horizon=7d"]
    {
        assert!(page.body.contains(expected), "{expected} missing from the load-list page");
    }
    let page = server.call(&engineer, "GET", &format!("/powertrace/scenarios/{id}"), &null).await;
    assert_eq!(page.status, 200);
    for expected in [
        "<h1>Scénario — Ajout compresseurs gaz</h1>",
        "Référence et scénario par tableau",
        "<svg",
        "Évaluations enregistrées",
        "les groupes restent disponibles",
    ] {
        assert!(page.body.contains(expected), "{expected} missing from the scenario page");
    }
    let page = server.call(&engineer, "GET", &format!("/powertrace/scenarios/{id}/edit"), &null).await;
    assert!(page.body.contains(&format!("data-target=\"/api/powertrace/scenarios/{id}\"")), "{}", page.body);
    assert_eq!(server.call(&viewer, "GET", &format!("/powertrace/scenarios/{id}/edit"), &null).await.status, 403);
    let chart = server
        .call(&engineer, "GET", &format!("/powertrace/sites/{SITE}/forecast.svg?horizon=1d&scenario={id}"), &null)
        .await;
    assert!(chart.head.contains("image/svg+xml") && chart.body.contains("Capacité N-1"), "{}", chart.head);

    // Deleted: gone from reads and lists, its history kept.
    let answer = server.call(&engineer, "DELETE", &format!("/api/powertrace/scenarios/{id}"), &null).await;
    assert_eq!(answer.status, 204);
    assert_eq!(server.call(&engineer, "GET", &format!("/api/powertrace/scenarios/{id}"), &null).await.status, 404);
    assert_eq!(server.count("powertrace.scenario_versions").await, 3);
}
