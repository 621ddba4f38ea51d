//! Platform security against a real server over a real socket, with users in a real
//! PostgreSQL and the metric fixture as warehouse: the permission matrix generated
//! from the route table, row-level site scope in every reading path, and attacks
//! (CSRF, wrong Host, forged, expired and reused tokens, password spraying, a runaway
//! query and a runaway Typst snippet).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::http::Method;
use opsflux_api::auth::{password, totp, users};
use opsflux_api::http::routes::{self, Access};
use opsflux_api::http::{AppState, PublicAddress};
use opsflux_tests::{Answer, send};

const PASSWORD: &str = "correct horse battery staple";

/// A server with sign-in over the metric fixture, its database holding the fixture's
/// sites and one user per role.
struct Server {
    address: SocketAddr,
    pool: sqlx::PgPool,
    _warehouse: tempfile::TempDir,
}

async fn server_with(settings: opsflux_query::EngineSettings, timeout_seconds: u64) -> Server {
    let (_, pool) = opsflux_tests::migrated_pool("security").await;
    for (id, code) in [
        ("00000001-0000-4000-8000-000000000001", "ALPHA"),
        ("00000001-0000-4000-8000-000000000002", "BRAVO"),
        ("00000001-0000-4000-8000-000000000003", "CHARLIE"),
    ] {
        sqlx::query("INSERT INTO core.sites (id, code, name, kind, region, latitude, longitude, bed_capacity) VALUES ($1::uuid, $2, $2, 'fpso', 'r', 0, 0, 1)")
            .bind(id)
            .bind(code)
            .execute(&pool)
            .await
            .unwrap();
    }
    let warehouse = tempfile::tempdir().unwrap();
    crate::metrics::fixture_engine(warehouse.path()).await;
    let engine = opsflux_query::Engine::open(
        opsflux_warehouse::Warehouse::open(warehouse.path()).unwrap(),
        opsflux_query::Catalog::shipped().unwrap(),
        settings,
    )
    .await
    .unwrap();
    let hash = password::hash(PASSWORD.to_owned()).await.unwrap();
    for (email, role, sites) in [
        ("viewer@test.example", "viewer", vec!["ALPHA"]),
        ("manager@test.example", "manager", vec!["ALPHA", "BRAVO"]),
        ("engineer@test.example", "engineer", vec!["BRAVO"]),
        ("analyst@test.example", "analyst", vec![]),
        ("admin@test.example", "admin", vec![]),
    ] {
        let sites: Vec<String> = sites.into_iter().map(str::to_owned).collect();
        users::add(&pool, email, email, role, &sites, &hash).await.unwrap();
    }
    sqlx::query("UPDATE platform.users SET totp_secret = $1 WHERE email = 'admin@test.example'")
        .bind(ADMIN_SECRET)
        .execute(&pool)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let state =
        AppState::with_database(pool.clone(), engine, "test".into(), PublicAddress::new(None, address).unwrap())
            .await
            .unwrap();
    let worker = std::path::PathBuf::from(env!("CARGO_BIN_EXE_opsflux-under-test"));
    let limits =
        opsflux_api::documents::RenderLimits::new(2, std::time::Duration::from_secs(timeout_seconds), Some(worker));
    let index = opsflux_search::SearchIndex::in_memory();
    index.sync(state.engine.warehouse(), &()).await.unwrap();
    let state = AppState { renders: std::sync::Arc::new(limits), search: Some(std::sync::Arc::new(index)), ..state };
    tokio::spawn(opsflux_api::http::serve_on(listener, state, std::future::pending()));
    Server { address, pool, _warehouse: warehouse }
}

async fn server() -> Server {
    server_with(opsflux_query::EngineSettings::default(), 60).await
}

const ADMIN_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

impl Server {
    async fn login(&self, email: &str) -> serde_json::Value {
        let totp = if email.starts_with("admin") {
            format!(r#","totp":"{}""#, totp::current_code(ADMIN_SECRET, email).unwrap())
        } else {
            String::new()
        };
        let body = format!(r#"{{"email":"{email}","password":"{PASSWORD}"{totp}}}"#);
        let answer =
            send(self.address, "POST", "/api/auth/login", &[("Content-Type", "application/json")], &body).await;
        assert_eq!(answer.status, 200, "{email}: {}", answer.body);
        answer.json()
    }

    async fn token(&self, email: &str) -> String {
        self.login(email).await["access_token"].as_str().unwrap().to_owned()
    }

    async fn get(&self, token: &str, path: &str) -> Answer {
        send(self.address, "GET", path, &[("Authorization", &format!("Bearer {token}"))], "").await
    }

    async fn post(&self, token: &str, path: &str, body: &str) -> Answer {
        let bearer = format!("Bearer {token}");
        send(self.address, "POST", path, &[("Authorization", &bearer), ("Content-Type", "application/json")], body)
            .await
    }
}

const IDENTITIES: [(&str, Option<&str>); 6] = [
    ("anonymous", None),
    ("viewer of one site", Some("viewer@test.example")),
    ("manager of two sites", Some("manager@test.example")),
    ("engineer", Some("engineer@test.example")),
    ("analyst", Some("analyst@test.example")),
    ("admin", Some("admin@test.example")),
];

/// The permissions of the shipped role of `email`.
fn holds(email: &str, permission: &str) -> bool {
    let role = email.split('@').next().unwrap();
    opsflux_api::auth::roles::shipped(role)
        .unwrap()
        .iter()
        .any(|code| code.rsplit_once('.').map(|(module_action, _)| module_action) == Some(permission))
}

#[tokio::test]
async fn every_route_answers_each_identity_as_its_declared_access_says() {
    let server = server().await;
    let mut tokens = BTreeMap::new();
    for (_, email) in IDENTITIES {
        if let Some(email) = email {
            tokens.insert(email, server.token(email).await);
        }
    }
    let mut report = Vec::new();
    for route in routes::table() {
        // Sign-out revokes the token that calls it: it is checked last, on its own.
        if route.path.ends_with("logout") {
            continue;
        }
        for (identity, email) in IDENTITIES {
            let mut headers: Vec<(&str, String)> =
                vec![("Content-Type", "application/json".into()), ("Accept", "application/json".into())];
            if let Some(email) = email {
                headers.push(("Authorization", format!("Bearer {}", tokens[email])));
            }
            let headers: Vec<(&str, &str)> = headers.iter().map(|(name, value)| (*name, value.as_str())).collect();
            let body = if route.method == Method::POST { "{}" } else { "" };
            let answer = send(server.address, route.method.as_str(), route.example, &headers, body).await;
            let expected_denial = match (route.access, email) {
                (Access::Public, _) => None,
                (_, None) => Some(401),
                (Access::SignedIn, Some(_)) => None,
                (Access::Permission(permission), Some(email)) => (!holds(email, permission)).then_some(403),
            };
            let ok = match expected_denial {
                Some(status) => {
                    answer.status == status && answer.head.contains("content-type: application/problem+json")
                }
                // Routes naming an object (an id, a site) are asked about one that does
                // not exist: 404.
                None => {
                    ![401, 403, 405].contains(&answer.status)
                        && answer.status < 500
                        && (answer.status != 404
                            || route.path.contains("{site}")
                            || route.example.contains("00000000-0000-4000-8000-000000000000"))
                }
            };
            if !ok {
                report.push(format!(
                    "{} {} as {identity}: {} ({})",
                    route.method,
                    route.example,
                    answer.status,
                    answer.body.chars().take(160).collect::<String>()
                ));
            }
        }
    }
    assert!(report.is_empty(), "{}", report.join("\n"));
}

#[tokio::test]
async fn a_user_scoped_to_one_site_sees_only_its_rows_everywhere() {
    let server = server().await;
    let viewer = server.token("viewer@test.example").await;
    let manager = server.token("manager@test.example").await;

    let sites = server.get(&viewer, "/api/sites").await.json();
    assert_eq!(sites["sites"], serde_json::json!(["ALPHA"]));
    let answer =
        server.get(&viewer, "/api/metrics/hse.incidents?from=2026-01-01&to=2026-12-31&grain=total&by=site").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let rows = answer.json()["rows"].clone();
    for row in rows.as_array().unwrap() {
        assert!(row.to_string().contains("ALPHA") && !row.to_string().contains("BRAVO"), "{row}");
    }
    let refused = server.get(&viewer, "/api/metrics/hse.incidents?site=BRAVO").await;
    assert_eq!((refused.status, refused.json()["parameter"].clone()), (403, serde_json::json!("site")));
    let page = server.get(&viewer, "/hse?from=2026-01-01&to=2026-12-31").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("BRAVO") && !page.body.contains("CHARLIE"), "the HSE page shows another site");

    // Search: hits, counts and facets only of the viewer's site (and shared records);
    // another site is refused as unknown, whatever its name reveals.
    let everything = server.get(&viewer, "/api/search?per_page=100").await;
    assert_eq!(everything.status, 200, "{}", everything.body);
    let found = everything.json();
    let hits = found["hits"].as_array().unwrap();
    assert!(!hits.is_empty() && found["total"].as_u64() == Some(hits.len() as u64), "{found}");
    for hit in hits {
        let sites: Vec<&str> = hit["sites"].as_array().unwrap().iter().map(|site| site.as_str().unwrap()).collect();
        assert!(sites.is_empty() || sites == ["ALPHA"], "the viewer found {hit}");
    }
    // Not even a trip from ALPHA names the other end.
    assert!(!everything.body.contains("BRAVO") && !everything.body.contains("Bravo"), "{}", everything.body);
    assert_eq!(
        found["facets"]["site"],
        serde_json::json!([{"value": "ALPHA", "count": found["facets"]["site"][0]["count"]}])
    );
    let other = server.get(&viewer, "/api/search?q=pump&site=BRAVO").await;
    assert_eq!((other.status, other.json()["parameter"].clone()), (400, serde_json::json!("site")), "{}", other.body);
    let bravo = server.get(&viewer, "/api/search?q=setpoint").await.json();
    assert_eq!(bravo["total"], 0, "MOC-3 (Setpoint) is BRAVO's: {bravo}");
    let manager_finds = server.get(&manager, "/api/search?q=setpoint").await.json();
    assert_eq!(manager_finds["hits"][0]["title"], "MOC-3 — Setpoint", "{manager_finds}");
    let page = server.get(&viewer, "/search?q=incident").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("BRAVO") && !page.body.contains("CHARLIE"), "the search page shows another site");

    // Exports (the manager of ALPHA and BRAVO): CSV of a table and of a metric.
    let csv = server.get(&manager, "/api/export?table=core.sites&format=csv").await;
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert!(csv.body.contains("ALPHA") && csv.body.contains("BRAVO") && !csv.body.contains("CHARLIE"), "{}", csv.body);
    let readings = server.get(&manager, "/api/export?table=powertrace.meter_readings&format=csv").await;
    let meters = server.get(&manager, "/api/export?table=powertrace.meters&format=csv").await;
    let charlie_meters: Vec<&str> =
        meters.body.lines().filter(|line| line.contains("00000001-0000-4000-8000-000000000003")).collect();
    assert!(charlie_meters.is_empty(), "a CHARLIE meter was exported: {charlie_meters:?}");
    assert!(readings.status == 200);
    // Arrow IPC keeps strings as they are: the scoped rows are readable in the bytes.
    let arrow = server.get(&manager, "/api/export?table=core.sites&format=arrow").await;
    assert_eq!(arrow.status, 200);
    assert!(arrow.body.contains("BRAVO") && !arrow.body.contains("CHARLIE"));
    for format in ["parquet", "xlsx", "arrow"] {
        let answer = server.get(&manager, &format!("/api/export?table=platform.users&format={format}")).await;
        assert_eq!(answer.status, 400, "platform.users as {format}: {}", answer.body);
    }

    // Documents: every kind of data block, and query blocks trying to escape.
    let document = |query: &str| {
        serde_json::json!({"document": {"blocks": [
            {"id": "k", "type": "kpi", "data": {"metric": "hse.incidents", "measure": "incidents"}},
            {"id": "t", "type": "data_table", "data": {"metric": "hse.incidents", "grain": "total", "by": ["site"]}},
            {"id": "c", "type": "chart", "data": {"metric": "hse.incidents", "grain": "total", "by": ["site"], "kind": "bar", "title": "Par site"}},
            {"id": "q", "type": "data_table", "data": {"query": query}}
        ]}, "format": "html"})
        .to_string()
    };
    let html = server.post(&manager, "/api/render", &document("SELECT code FROM core.sites ORDER BY code")).await;
    assert_eq!(html.status, 200, "{}", html.body);
    assert!(html.body.contains("BRAVO") && !html.body.contains("CHARLIE"), "{}", html.body);
    for escape in [
        "SELECT code FROM core.sites UNION ALL SELECT code FROM core.sites WHERE code = 'CHARLIE'",
        "SELECT (SELECT count(*) FROM core.sites WHERE code = 'CHARLIE') AS n",
        "SELECT name FROM tiers.companies WHERE 'CHARLIE' IN (SELECT code FROM core.sites)",
    ] {
        let answer = server.post(&manager, "/api/render", &document(escape)).await;
        assert_eq!(answer.status, 200, "{escape}: {}", answer.body);
        assert!(!answer.body.contains("CHARLIE") && !answer.body.contains(">1<"), "{escape} reached CHARLIE");
    }
    // Filters run only on rows in scope: an error cannot quote another site's value,
    // and a plan's row counts are not available.
    for probe in [
        "SELECT id FROM core.sites WHERE CAST(name AS INT) = 0",
        "SELECT id FROM core.sites WHERE 1 / (CASE WHEN name LIKE 'Charlie%' THEN 0 ELSE 1 END) = 1",
        "EXPLAIN ANALYZE SELECT id FROM core.sites WHERE name LIKE 'C%'",
    ] {
        let answer = server.post(&manager, "/api/render", &document(probe)).await;
        assert!(!answer.body.contains("Charlie") && !answer.body.contains("CHARLIE"), "{probe}: {}", answer.body);
    }
    let explain = server.post(&manager, "/api/render", &document("EXPLAIN SELECT 1")).await;
    assert_eq!((explain.status, explain.json()["block"].clone()), (400, serde_json::json!("q")), "{}", explain.body);
    for forbidden in [
        "SELECT * FROM platform.users",
        "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema = 'platform'",
    ] {
        let answer = server.post(&manager, "/api/render", &document(forbidden)).await;
        assert!(
            !answer.body.contains("password") && !answer.body.contains("users</td>"),
            "{forbidden}: {}",
            answer.body
        );
    }
    // A viewer may not render their own document (no redacteur.write).
    let answer = server.post(&viewer, "/api/render", &document("SELECT 1")).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
}

#[tokio::test]
async fn attacks_are_refused_and_the_server_keeps_answering() {
    let server = server_with(
        opsflux_query::EngineSettings { query_timeout: std::time::Duration::from_secs(3), ..Default::default() },
        8,
    )
    .await;
    let address = server.address;
    let analyst = server.login("analyst@test.example").await;
    let access = analyst["access_token"].as_str().unwrap().to_owned();
    // Signed in before the spraying below throttles this address.
    let manager = server.token("manager@test.example").await;

    // Wrong Host (DNS rebinding).
    let answer = send(
        address,
        "GET",
        "/api/sites",
        &[("Host", "evil.example:80"), ("Authorization", &format!("Bearer {access}"))],
        "",
    )
    .await;
    assert_eq!(answer.status, 421);
    // A cross-site text/plain POST, and a JSON one from another origin.
    let answer = send(
        address,
        "POST",
        "/api/render",
        &[("Content-Type", "text/plain"), ("Authorization", &format!("Bearer {access}"))],
        "{}",
    )
    .await;
    assert_eq!(answer.status, 415, "{}", answer.body);
    let answer = send(
        address,
        "POST",
        "/api/render",
        &[("Content-Type", "application/json"), ("Origin", "https://evil.example")],
        "{}",
    )
    .await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    let answer = send(
        address,
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded"), ("Origin", "https://evil.example")],
        "email=a&password=b&csrf=x",
    )
    .await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    // Forged tokens: alg none, tampered, expired.
    use base64::Engine as _;
    let encode = |value: serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string());
    let parts: Vec<&str> = access.split('.').collect();
    let claims: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let none = format!("{}.{}.", encode(serde_json::json!({"alg": "none", "typ": "JWT"})), parts[1]);
    let mut admin_claims = claims.clone();
    admin_claims["sub"] = serde_json::json!(uuid::Uuid::new_v4());
    let tampered = format!("{}.{}.{}", parts[0], encode(admin_claims), parts[2]);
    let key: Vec<u8> =
        sqlx::query_scalar("SELECT secret FROM platform.signing_keys").fetch_one(&server.pool).await.unwrap();
    let mut old = claims.clone();
    old["exp"] = serde_json::json!(chrono::Utc::now().timestamp() - 10);
    let expired =
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), &old, &jsonwebtoken::EncodingKey::from_secret(&key))
            .unwrap();
    for (name, token) in [("alg none", none), ("tampered", tampered), ("expired", expired)] {
        assert_eq!(server.get(&token, "/api/sites").await.status, 401, "{name}");
    }
    // Refresh rotation: a reused refresh token revokes the whole sign-in.
    let refresh = analyst["refresh_token"].as_str().unwrap();
    let body = format!(r#"{{"refresh_token":"{refresh}"}}"#);
    let first = send(address, "POST", "/api/auth/refresh", &[("Content-Type", "application/json")], &body).await;
    assert_eq!(first.status, 200);
    let second = send(address, "POST", "/api/auth/refresh", &[("Content-Type", "application/json")], &body).await;
    assert_eq!(second.status, 401);
    let rotated = first.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(server.get(&rotated, "/api/sites").await.status, 401, "the family is revoked");
    // Password spraying from one address hits the throttle.
    let mut statuses = Vec::new();
    for attempt in 0..24 {
        let body = format!(r#"{{"email":"user{attempt}@test.example","password":"Winter2026!"}}"#);
        statuses.push(
            send(address, "POST", "/api/auth/login", &[("Content-Type", "application/json")], &body).await.status,
        );
    }
    assert!(
        statuses[..20].iter().all(|status| *status == 401) && statuses[20..].iter().all(|status| *status == 429),
        "{statuses:?}"
    );
    // A cross join stopped by the query time limit, a Typst loop by the render limit.
    let cross = serde_json::json!({"document": {"blocks": [{"id": "x", "type": "data_table", "data": {"query":
        "SELECT count(*) AS n FROM range(1000000) a CROSS JOIN range(1000000) b"}}]},
        "format": "html"})
    .to_string();
    let answer = server.post(&manager, "/api/render", &cross).await;
    assert_eq!((answer.status, answer.json()["block"].clone()), (400, serde_json::json!("x")), "{}", answer.body);
    let typst = serde_json::json!({"document": {"blocks": [{"id": "loop", "type": "typst", "data": {"code":
        "#for i in range(100000) { for j in range(100000) { } }"}}]}, "format": "pdf"})
    .to_string();
    let started = std::time::Instant::now();
    let answer = server.post(&manager, "/api/render", &typst).await;
    assert!(answer.status == 400 || answer.status == 503, "{}: {}", answer.status, answer.body);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert_eq!(server.get(&manager, "/api/sites").await.status, 200, "the server still answers");
    // Every sign-in and its failures are in the audit log, which refuses changes.
    let failures: i64 =
        sqlx::query_scalar("SELECT count(*) FROM platform.audit_log WHERE action = 'auth.sign_in_failed'")
            .fetch_one(&server.pool)
            .await
            .unwrap();
    assert!(failures >= 20, "{failures}");
    assert!(sqlx::query("DELETE FROM platform.audit_log").execute(&server.pool).await.is_err());
    assert!(sqlx::query("UPDATE platform.audit_log SET action = 'x'").execute(&server.pool).await.is_err());
}

/// The README's Schemathesis command, against a signed-in analyst: no 5xx, and every
/// status, content type and body as `/api/openapi.json` says. Sign-out is left out (it
/// would revoke the token mid-run).
#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_answer_off_the_description() {
    let server = server().await;
    let token = server.token("analyst@test.example").await;
    let url = format!("http://{}/api/openapi.json", server.address);
    let output = tokio::process::Command::new("schemathesis")
        .args(["run", &url, "--header", &format!("Authorization: Bearer {token}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        .args(["--exclude-path", "/api/auth/logout", "--max-examples", "20", "--workers", "1"])
        .args(["--phases", "examples,coverage,fuzzing", "--generation-deterministic", "--max-time", "150"])
        .env("NO_COLOR", "1")
        .output()
        .await
        .expect("schemathesis runs (scripts/setup.sh installs it with pip)");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{report}\n{}", String::from_utf8_lossy(&output.stderr));
}

/// In a real browser, a page asked for without signing in leads to the sign-in form,
/// which carries its CSRF token and comes back to the page asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_is_sent_to_the_sign_in_form() {
    let server = server().await;
    let url = format!("http://{}/hse?from=2026-03-01", server.address);
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("chromium")
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            .args(["--disable-background-networking", "--no-first-run", "--virtual-time-budget=2000", "--dump-dom"])
            .arg(url)
            .output()
    })
    .await
    .unwrap()
    .unwrap_or_else(|error| panic!("cannot run chromium ({error}); scripts/test.sh installs it"));
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(dom.contains("<form method=\"post\" action=\"/login\" class=\"signin\">"), "{dom}");
    assert!(dom.contains("name=\"csrf\" value=\""), "{dom}");
    assert!(dom.contains("name=\"next\" value=\"/hse?from=2026-03-01\""), "{dom}");
    assert!(!dom.contains("Incidents"), "no data before signing in");
}
