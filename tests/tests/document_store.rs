//! Rédacteur documents in PostgreSQL through `opsflux document`: the shipped templates
//! imported and exported come back byte for byte and render the same; saves make
//! versions whose diff names the changed block, a restore brings an old one back; review
//! moves a document to published; bad files are refused with their place, storing nothing.

use std::collections::BTreeMap;
use std::process::Command;

use opsflux_api::document_store::{self, Review, Status};
use opsflux_api::documents::{RenderLimits, TEMPLATES, render};
use opsflux_query::Scope;
use opsflux_render::{Document, OutputFormat};
use sqlx::PgPool;

fn opsflux(arguments: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_opsflux-under-test"))
        .args(arguments)
        .env("OPSFLUX_LOG", "warn")
        .output()
        .unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.success(), text(&output.stdout), text(&output.stderr))
}

async fn stored_versions(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM redacteur.document_versions").fetch_one(pool).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipped_templates_round_trip_through_the_database_byte_for_byte() {
    let (url, _pool) = opsflux_tests::migrated_pool("document_round_trip").await;
    let warehouse = tempfile::tempdir().unwrap();
    let engine = crate::metrics::fixture_engine(warehouse.path()).await;
    let files = tempfile::tempdir().unwrap();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 4, 1).unwrap();
    for (name, source) in TEMPLATES {
        let file = files.path().join(format!("{name}.json"));
        std::fs::write(&file, source).unwrap();
        let (imported, id, stderr) =
            opsflux(&["document", "import", "--database-url", &url, "--template", name, file.to_str().unwrap()]);
        assert!(imported, "{name}: {stderr}");
        let out = files.path().join(format!("{name}.exported.json"));
        let id = id.trim();
        let (exported, _, stderr) =
            opsflux(&["document", "export", "--database-url", &url, id, "--out", out.to_str().unwrap()]);
        assert!(exported, "{name}: {stderr}");
        let exported = std::fs::read_to_string(&out).unwrap();
        assert!(exported == source, "{name}: the exported file differs from the shipped one");
        let mut renders = Vec::new();
        for text in [source, exported.as_str()] {
            let document = Document::from_json(text).unwrap();
            let (limits, parameters) = (RenderLimits::default(), BTreeMap::new());
            let (bytes, _) =
                render(&engine, document, &parameters, OutputFormat::Pdf, today, &Scope::All, &limits).await.unwrap();
            renders.push(bytes);
        }
        assert!(renders[0] == renders[1], "{name}: the exported template renders other bytes");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saves_make_versions_with_a_diff_a_restore_and_a_review() {
    let (url, pool) = opsflux_tests::migrated_pool("document_versions").await;
    let files = tempfile::tempdir().unwrap();
    let first = r#"{
 "settings": {"title": "Bilan <b>HSE</b>"},
 "blocks": [
  {"id": "intro", "type": "paragraph", "data": {"text": "Synthèse du mois."}},
  {"id": "kpi-incidents", "type": "kpi", "data": {"metric": "hse.incidents", "measure": "incidents"}}
 ]
}
"#;
    let file = files.path().join("bilan.json");
    std::fs::write(&file, first).unwrap();
    let (imported, id, stderr) = opsflux(&["document", "import", "--database-url", &url, file.to_str().unwrap()]);
    assert!(imported, "{stderr}");
    let id: uuid::Uuid = id.trim().parse().unwrap();

    // A second save changes the KPI's measure and adds a paragraph.
    let second = first.replace(r#""measure": "incidents""#, r#""measure": "lost_time""#).replace(
        r#"{"id": "intro""#,
        r#"{"id": "note", "type": "paragraph", "data": {"text": "Nouveau."}},
  {"id": "intro""#,
    );
    assert_eq!(document_store::save(&pool, id, &second, None, Some("mesure LTI"), Some(1)).await.unwrap(), 2);
    let (ok, diff, stderr) = opsflux(&["document", "diff", "--database-url", &url, &id.to_string(), "1", "2"]);
    assert!(ok, "{stderr}");
    assert_eq!(
        diff,
        "version 1 → version 2: 2 change(s)\n+ block `note` (paragraph)\n~ block `kpi-incidents` (kpi): /data/measure\n"
    );
    let (ok, history, _) = opsflux(&["document", "history", "--database-url", &url, &id.to_string()]);
    assert!(ok);
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines[0], "Bilan HSE — document (draft)");
    let imported_from = format!("(command line)  imported from {}", file.display());
    assert!(lines[1].starts_with("   1  ") && lines[1].ends_with(&imported_from), "{history}");
    assert!(lines[2].starts_with("   2  ") && lines[2].ends_with("mesure LTI"), "{history}");

    // Restoring version 1 saves it again as version 3, byte for byte.
    assert_eq!(document_store::restore(&pool, id, 1, None).await.unwrap(), 3);
    assert_eq!(document_store::read(&pool, id, None).await.unwrap().source, first);
    let (one, three) =
        (document_store::read(&pool, id, Some(1)).await.unwrap(), document_store::read(&pool, id, None).await.unwrap());
    assert_eq!(document_store::diff(&one.body, &three.body), []);

    // Review: submitted, approved by another user than the author, published; a new
    // draft keeps the published version.
    let author: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO platform.users (email, display_name) VALUES ('auteur@example.com', 'Auteur') RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let reviewer: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO platform.users (email, display_name) VALUES ('relecteur@example.com', 'Relecteur') RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(document_store::save(&pool, id, &second, Some(author), None, None).await.unwrap(), 4);
    assert_eq!(
        document_store::review(&pool, id, Review::Submit, Some(author), None, None).await.unwrap(),
        Status::InReview
    );
    let own = document_store::review(&pool, id, Review::Approve, Some(author), None, Some(4)).await.unwrap_err();
    assert_eq!(
        own.to_string(),
        "version 4 holds changes of yours since the last publication: another user must approve it"
    );
    assert_eq!(
        document_store::review(&pool, id, Review::Approve, Some(reviewer), None, Some(4)).await.unwrap(),
        Status::Approved
    );
    assert_eq!(
        document_store::review(&pool, id, Review::Publish, Some(reviewer), None, Some(4)).await.unwrap(),
        Status::Published
    );
    assert_eq!(document_store::save(&pool, id, first, Some(author), Some("brouillon"), None).await.unwrap(), 5);
    let summary = document_store::summary(&pool, id).await.unwrap();
    assert_eq!((summary.status, summary.version, summary.published_version), (Status::Draft, 5, Some(4)));
    let refused =
        document_store::review(&pool, id, Review::SendBack, Some(reviewer), Some("  "), None).await.unwrap_err();
    assert_eq!(refused.to_string(), "sending a document back to draft needs a comment saying why");
    let (ok, history, _) = opsflux(&["document", "history", "--database-url", &url, &id.to_string()]);
    assert!(ok && history.contains("   4  ") && history.contains("auteur@example.com"), "{history}");
    assert!(history.starts_with("Bilan HSE — document (draft, version 4 published)"), "{history}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_files_and_ids_are_refused_with_their_place_and_nothing_is_stored() {
    let (url, pool) = opsflux_tests::migrated_pool("document_refused").await;
    let files = tempfile::tempdir().unwrap();
    let cases = [
        ("truncated.json", "{\"blocks\": [\n  {\"id\": \"a\", \"type\": \"paragraph\"", "invalid document at line 2"),
        (
            "twice.json",
            r#"{"blocks": [{"id": "a", "type": "paragraph", "data": {}}, {"id": "a", "type": "header", "data": {}}]}"#,
            "duplicate block id `a`",
        ),
    ];
    for (name, text, expected) in cases {
        let file = files.path().join(name);
        std::fs::write(&file, text).unwrap();
        let (ok, stdout, stderr) = opsflux(&["document", "import", "--database-url", &url, file.to_str().unwrap()]);
        assert!(!ok && stdout.is_empty(), "{name}: {stdout}");
        assert!(
            stderr.contains(&format!("{} is not imported", file.display())) && stderr.contains(expected),
            "{name}: {stderr}"
        );
    }
    let file = files.path().join("good.json");
    std::fs::write(&file, r#"{"blocks": []}"#).unwrap();
    let (ok, _, stderr) = opsflux(&[
        "document",
        "import",
        "--database-url",
        &url,
        "--template",
        "Rapport Mensuel",
        file.to_str().unwrap(),
    ]);
    assert!(!ok && stderr.contains("`Rapport Mensuel` is not a template code"), "{stderr}");
    assert_eq!(stored_versions(&pool).await, 0, "nothing was stored");

    let (ok, id, _) =
        opsflux(&["document", "import", "--database-url", &url, "--template", "bilan", file.to_str().unwrap()]);
    assert!(ok);
    let (ok, _, stderr) =
        opsflux(&["document", "import", "--database-url", &url, "--template", "bilan", file.to_str().unwrap()]);
    assert!(!ok && stderr.contains("a template named `bilan` already exists"), "{stderr}");
    let out = files.path().join("out.json");
    let out = out.to_str().unwrap();
    let (ok, _, stderr) =
        opsflux(&["document", "export", "--database-url", &url, id.trim(), "--version", "7", "--out", out]);
    assert!(
        !ok && stderr.contains(&format!("document {} has no version 7 (its versions run from 1 to 1)", id.trim())),
        "{stderr}"
    );
    let (ok, _, stderr) = opsflux(&["document", "export", "--database-url", &url, "12", "--out", out]);
    assert!(!ok && stderr.contains("`12` is not a document id"), "{stderr}");
    assert!(!std::path::Path::new(out).exists());
    assert_eq!(stored_versions(&pool).await, 1);
}

/// The password of the users [`documents_server`] adds.
pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// A server over the metric fixture warehouse and a migrated database holding the sites
/// ALPHA and BRAVO and `users` (email, role, sites), all with [`PASSWORD`]; the
/// warehouse's directory lives as long as the returned guard.
pub(crate) async fn documents_server(
    label: &str,
    users: &[(&str, &str, &[&str])],
) -> (std::net::SocketAddr, PgPool, tempfile::TempDir) {
    use opsflux_api::auth::{password, users as accounts};
    use opsflux_api::http::{AppState, PublicAddress};

    let (_, pool) = opsflux_tests::migrated_pool(label).await;
    let warehouse = tempfile::tempdir().unwrap();
    let engine = crate::metrics::fixture_engine(warehouse.path()).await;
    sqlx::query(
        "INSERT INTO core.sites (id, code, name, kind, region, latitude, longitude, bed_capacity) VALUES \
         ('00000001-0000-4000-8000-000000000001', 'ALPHA', 'Alpha Platform', 'offshore_platform', 'Niger Delta', 4.1, 6.9, 2), \
         ('00000001-0000-4000-8000-000000000002', 'BRAVO', 'Bravo FPSO', 'fpso', 'Niger Delta', 4.3, 7.2, 3)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let hash = password::hash(PASSWORD.to_owned()).await.unwrap();
    for (email, role, sites) in users {
        let sites: Vec<String> = sites.iter().map(|site| (*site).to_owned()).collect();
        accounts::add(&pool, email, email, role, &sites, &hash).await.unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let state =
        AppState::with_database(pool.clone(), engine, "test".into(), PublicAddress::new(None, address).unwrap())
            .await
            .unwrap();
    tokio::spawn(opsflux_api::http::serve_on(listener, state, std::future::pending()));
    (address, pool, warehouse)
}

/// `/api/documents` against a real server over the metric fixture: a site manager
/// creates, saves, diffs, restores and submits a document; another user approves and
/// publishes it; renders of old versions; refusals name the member; other sites' and
/// other roles' users neither see nor change it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_api_keeps_versions_reviews_and_scopes() {
    use opsflux_tests::send;

    let (address, pool, _warehouse) = documents_server(
        "document_api",
        &[
            ("alpha@test.example", "manager", &["ALPHA"]),
            ("bravo@test.example", "manager", &["BRAVO"]),
            ("viewer@test.example", "viewer", &["ALPHA"]),
            ("analyst@test.example", "analyst", &[]),
        ],
    )
    .await;
    let mut tokens = BTreeMap::new();
    for email in ["alpha", "bravo", "viewer", "analyst"] {
        let body = format!(r#"{{"email":"{email}@test.example","password":"{PASSWORD}"}}"#);
        let answer = send(address, "POST", "/api/auth/login", &[("Content-Type", "application/json")], &body).await;
        assert_eq!(answer.status, 200, "{email}: {}", answer.body);
        tokens.insert(email, answer.json()["access_token"].as_str().unwrap().to_owned());
    }
    let call = async |who: &str, method: &str, path: &str, body: serde_json::Value| {
        let bearer = format!("Bearer {}", tokens[who]);
        let body = if body.is_null() { String::new() } else { body.to_string() };
        send(address, method, path, &[("Authorization", &bearer), ("Content-Type", "application/json")], &body).await
    };
    let null = serde_json::Value::Null;

    let document = serde_json::json!({
        "settings": {"title": "Bilan POB Alpha"},
        "blocks": [
            {"id": "intro", "type": "paragraph", "data": {"text": "Effectifs du mois."}},
            {"id": "kpi-pob", "type": "kpi", "data": {"metric": "pob.people_on_board", "measure": "pob", "label": "POB"}}
        ]
    });
    let created =
        call("alpha", "POST", "/api/documents", serde_json::json!({"document": document, "site": "ALPHA"})).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let created = created.json();
    assert_eq!(
        (&created["title"], &created["site"], &created["status"], &created["version"]),
        (&"Bilan POB Alpha".into(), &"ALPHA".into(), &"draft".into(), &1.into())
    );
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("/api/documents/{id}");

    let mut edited = document.clone();
    edited["blocks"][1]["data"]["label"] = "POB moyen".into();
    let saved =
        call("alpha", "PUT", &path, serde_json::json!({"document": edited, "comment": "libellé", "base_version": 1}))
            .await;
    assert_eq!((saved.status, &saved.json()["version"]), (200, &2.into()), "{}", saved.body);
    // A second editor who also started from version 1 is told, and overwrites nothing.
    let late = call("alpha", "PUT", &path, serde_json::json!({"document": document, "base_version": 1})).await;
    assert_eq!(late.status, 409, "{}", late.body);
    let diff = call("alpha", "GET", &format!("{path}/diff?from=1&to=2"), null.clone()).await.json();
    assert_eq!(diff["lines"], serde_json::json!(["~ block `kpi-pob` (kpi): /data/label"]));
    let versions = call("alpha", "GET", &format!("{path}/versions"), null.clone()).await.json();
    let authors: Vec<(&serde_json::Value, &serde_json::Value)> = versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|version| (&version["saved_by"], &version["comment"]))
        .collect();
    assert_eq!(authors, [(&"alpha@test.example".into(), &null), (&"alpha@test.example".into(), &"libellé".into())]);
    let restored = call("alpha", "POST", &format!("{path}/restore?version=1"), null.clone()).await;
    assert_eq!((restored.status, &restored.json()["version"]), (200, &3.into()), "{}", restored.body);
    let shown = call("alpha", "GET", &path, null.clone()).await.json();
    assert_eq!((&shown["shown_version"], &shown["document"]), (&3.into(), &document));

    // Review: the author submits, may not approve, another user approves and publishes.
    let review = async |who: &str, body: serde_json::Value| call(who, "POST", &format!("{path}/review"), body).await;
    assert_eq!(review("alpha", serde_json::json!({"action": "submit"})).await.json()["status"], "in_review");
    let own = review("alpha", serde_json::json!({"action": "approve", "version": 3})).await;
    assert_eq!(
        (own.status, &own.json()["detail"]),
        (409, &"version 3 holds changes of yours since the last publication: another user must approve it".into())
    );
    let early = review("analyst", serde_json::json!({"action": "publish", "version": 3})).await;
    assert_eq!(early.status, 409, "{}", early.body);
    // Approval names the version read: not given, or not the current one, it is refused.
    let blind = review("analyst", serde_json::json!({"action": "approve"})).await;
    assert_eq!((blind.status, &blind.json()["pointer"]), (400, &"/version".into()));
    let stale = review("analyst", serde_json::json!({"action": "approve", "version": 2})).await;
    assert_eq!(
        (stale.status, &stale.json()["detail"]),
        (409, &"the document is at version 3, not 2: read it again before going on".into())
    );
    let approved = review("analyst", serde_json::json!({"action": "approve", "version": 3})).await;
    assert_eq!(approved.json()["status"], "approved");
    let published = review("analyst", serde_json::json!({"action": "publish", "version": 3})).await.json();
    assert_eq!((&published["status"], &published["published_version"]), (&"published".into(), &3.into()));
    let silent = review("analyst", serde_json::json!({"action": "send_back"})).await;
    assert_eq!((silent.status, &silent.json()["pointer"]), (400, &"/comment".into()));

    // Any version renders; the HTML of version 2 carries its label.
    let rendered = call("alpha", "POST", &format!("{path}/render?format=html&version=2"), null.clone()).await;
    assert_eq!(rendered.status, 200, "{}", rendered.body);
    assert!(rendered.body.contains("POB moyen") && rendered.body.contains("Bilan POB Alpha"));
    let rendered = call("alpha", "POST", &format!("{path}/render?format=html&version=1"), null.clone()).await;
    assert!(!rendered.body.contains("POB moyen"));

    // Refusals name the member, and store nothing.
    let before = stored_versions(&pool).await;
    let twice = serde_json::json!({"document": {"blocks": [
        {"id": "a", "type": "paragraph", "data": {}}, {"id": "a", "type": "header", "data": {}}]}});
    let refused = call("alpha", "PUT", &path, twice).await;
    assert_eq!((refused.status, &refused.json()["pointer"]), (400, &"/document".into()), "{}", refused.body);
    assert_eq!(refused.json()["detail"], "duplicate block id `a`");
    // What only the data can tell is refused too, with the block and the member.
    let big_image = format!("data:image/png;base64,{}", "A".repeat(3 * 1024 * 1024));
    for (block, expected) in [
        (
            serde_json::json!({"id": "k", "type": "kpi", "data": {"metric": "pob.nope"}}),
            "block `k` at /document/blocks/0/data/metric: unknown metric `pob.nope`",
        ),
        (
            serde_json::json!({"id": "c", "type": "chart", "data": {"metric": "pob.people_on_board", "by": ["colour"]}}),
            "block `c` at /document/blocks/0/data/by:",
        ),
        (
            serde_json::json!({"id": "p", "type": "paragraph", "data": {"text": "Site {site.nom}"}}),
            "block `p` at /document/blocks/0/data/text: unknown variable `{site.nom}`",
        ),
        (
            serde_json::json!({"id": "i", "type": "image", "data": {"file": {"url": big_image}}}),
            "block `i` at /document/blocks/0/data/file/url: the image is 2.2 MiB: at most 2 MiB",
        ),
        // A block that fails the JSON Schema of `GET /api/documents/schema`.
        (
            serde_json::json!({"id": "t", "type": "data_table", "data": {"metric": "pob.people_on_board", "totals": "yes"}}),
            "block `t` at /document/blocks/0/data/totals: expected a boolean, found string \"yes\"",
        ),
        (
            serde_json::json!({"id": "m", "type": "marquee", "data": {}}),
            "block `m` at /document/blocks/0/type: unknown block type `marquee`",
        ),
    ] {
        let refused = call("alpha", "PUT", &path, serde_json::json!({"document": {"blocks": [block]}})).await;
        let problem = refused.json();
        // The detail is the renderer's own message, with the pointer inside the document.
        let detail = problem["detail"].as_str().unwrap_or("?");
        let place = format!(
            "block `{}` at {}: {}",
            problem["block"].as_str().unwrap_or("?"),
            problem["pointer"].as_str().unwrap_or("?"),
            detail.split_once(": ").map_or(detail, |(_, message)| message)
        );
        assert!(
            refused.status == 400 && place.starts_with(expected),
            "{expected}: {} {}",
            refused.status,
            refused.body
        );
    }
    // The schema those refusals follow is served to the editor.
    let schema = call("alpha", "GET", "/api/documents/schema", serde_json::Value::Null).await;
    assert_eq!(schema.status, 200, "{}", schema.body);
    let schema = schema.json();
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(schema["$defs"]["Kpi"]["required"], serde_json::json!(["metric"]));
    assert!(schema["$defs"]["Block"]["properties"]["type"]["enum"].as_array().is_some_and(|kinds| kinds.len() > 20));
    let refused = call("alpha", "PUT", &path, serde_json::json!({"document": document, "colour": "red"})).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let refused =
        call("alpha", "POST", "/api/documents", serde_json::json!({"document": document, "site": "BRAVO"})).await;
    assert_eq!((refused.status, &refused.json()["pointer"]), (403, &"/site".into()));
    let refused =
        call("alpha", "POST", "/api/documents", serde_json::json!({"document": document, "template": "Bilan POB"}))
            .await;
    assert_eq!(
        (refused.status, &refused.json()["pointer"]),
        (403, &"/template".into()),
        "templates are for every site"
    );
    let refused =
        call("analyst", "POST", "/api/documents", serde_json::json!({"document": document, "template": "Bilan POB"}))
            .await;
    assert_eq!((refused.status, &refused.json()["pointer"]), (400, &"/template".into()));
    let body = serde_json::json!({"document": document, "template": "bilan-pob", "site": "ALPHA"});
    let refused = call("analyst", "POST", "/api/documents", body).await;
    assert_eq!((refused.status, &refused.json()["pointer"]), (400, &"/site".into()), "a template serves every site");
    // A shipped template is shared by every site: a manager of one reads it, may not change it.
    let listed = call("alpha", "GET", "/api/documents", null.clone()).await.json();
    let shared =
        listed["documents"].as_array().unwrap().iter().find(|document| document["code"] == "5s-audit").unwrap();
    let shared = format!("/api/documents/{}", shared["id"].as_str().unwrap());
    assert_eq!(call("alpha", "GET", &shared, null.clone()).await.status, 200);
    let refused = call("alpha", "PUT", &shared, serde_json::json!({"document": document})).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(call("alpha", "DELETE", &shared, null.clone()).await.status, 403);
    let refused = call("alpha", "GET", &format!("{path}?version=9"), null.clone()).await;
    assert_eq!((refused.status, &refused.json()["parameter"]), (404, &"version".into()));
    assert_eq!(stored_versions(&pool).await, before);

    // Another site's manager neither sees nor changes it; a viewer may not write.
    let listed = call("bravo", "GET", "/api/documents", null.clone()).await.json();
    let seen: Vec<(&str, &str)> = listed["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|document| (document["kind"].as_str().unwrap(), document["status"].as_str().unwrap()))
        .collect();
    assert_eq!(seen, [("template", "published"); 6], "the shipped templates, and nothing of ALPHA");
    assert_eq!(call("bravo", "GET", &path, null.clone()).await.status, 404);
    assert_eq!(call("bravo", "DELETE", &path, null.clone()).await.status, 404);
    assert_eq!(call("viewer", "GET", "/api/documents", null.clone()).await.status, 403);
    let listed = call("analyst", "GET", "/api/documents", null.clone()).await.json();
    assert_eq!(listed["documents"].as_array().unwrap().len(), 7);
    // Lists come a page at a time; the total counts what the reader may see.
    let page = call("analyst", "GET", "/api/documents?limit=3&offset=6", null.clone()).await.json();
    assert_eq!((page["documents"].as_array().unwrap().len(), &page["total"]), (1, &7.into()));
    assert_eq!(page["documents"][0]["id"], listed["documents"][6]["id"], "the same order, page by page");
    let page = call("bravo", "GET", "/api/documents?limit=2", null.clone()).await.json();
    assert_eq!((page["documents"].as_array().unwrap().len(), &page["total"]), (2, &6.into()));
    for (query, parameter) in
        [("limit=0", "limit"), ("limit=501", "limit"), ("offset=-1", "offset"), ("limit=ten", "limit")]
    {
        let refused = call("analyst", "GET", &format!("/api/documents?{query}"), null.clone()).await;
        assert_eq!((refused.status, &refused.json()["parameter"]), (400, &parameter.into()), "{query}");
    }
    let page = call("alpha", "GET", &format!("{path}/versions?limit=1&offset=1"), null.clone()).await.json();
    assert_eq!((page["versions"][0]["version"].as_i64(), page["versions"].as_array().unwrap().len()), (Some(2), 1));
    assert!(page["total"].as_i64().is_some_and(|total| total >= 2), "{page}");
    assert_eq!(call("alpha", "DELETE", &path, null.clone()).await.status, 204);
    assert_eq!(call("alpha", "GET", &path, null.clone()).await.status, 404);
    let audited: i64 = sqlx::query_scalar("SELECT count(*) FROM platform.audit_log WHERE action LIKE 'document.%'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(audited, 7, "added, saved, restored, submitted, approved, published, deleted");
}

/// The shipped templates are stored as published templates when a server first starts
/// on a database; a new draft of one does not change what the reports page renders
/// until it is published, and a stored template is offered only once published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_templates_render_their_published_version_while_a_draft_is_edited() {
    use opsflux_api::auth::{password, users};
    use opsflux_api::http::{AppState, PublicAddress};
    use opsflux_tests::send;

    const PASSWORD: &str = "correct horse battery staple";
    let (_, pool) = opsflux_tests::migrated_pool("published_templates").await;
    let warehouse = tempfile::tempdir().unwrap();
    let engine = crate::metrics::fixture_engine(warehouse.path()).await;
    let hash = password::hash(PASSWORD.to_owned()).await.unwrap();
    for email in ["author@test.example", "reviewer@test.example"] {
        users::add(&pool, email, email, "analyst", &[], &hash).await.unwrap();
    }
    let start = async || {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let public = PublicAddress::new(None, address).unwrap();
        let engine = opsflux_query::Engine::open(
            opsflux_warehouse::Warehouse::open(warehouse.path()).unwrap(),
            opsflux_query::Catalog::shipped().unwrap(),
            opsflux_query::EngineSettings::default(),
        )
        .await
        .unwrap();
        let state = AppState::with_database(pool.clone(), engine, "test".into(), public).await.unwrap();
        tokio::spawn(opsflux_api::http::serve_on(listener, state, std::future::pending()));
        address
    };
    drop(engine);
    let address = start().await;
    // A second start stores nothing again.
    start().await;
    let templates: Vec<String> = sqlx::query_scalar(
        "SELECT code || ' ' || status || ' v' || published_version FROM redacteur.documents WHERE kind = 'template' ORDER BY code",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        templates,
        [
            "5s-audit published v1",
            "moc-dossier published v1",
            "powertrace-monthly published v1",
            "powertrace-scenario published v1",
            "project-progress published v1",
            "weekly-site-report published v1"
        ]
    );
    let mut tokens = BTreeMap::new();
    for who in ["author", "reviewer"] {
        let body = format!(r#"{{"email":"{who}@test.example","password":"{PASSWORD}"}}"#);
        let answer = send(address, "POST", "/api/auth/login", &[("Content-Type", "application/json")], &body).await;
        tokens.insert(who, answer.json()["access_token"].as_str().unwrap().to_owned());
    }
    let call = async |who: &str, method: &str, path: &str, body: serde_json::Value| {
        let bearer = format!("Bearer {}", tokens[who]);
        let body = if body.is_null() { String::new() } else { body.to_string() };
        send(address, method, path, &[("Authorization", &bearer), ("Content-Type", "application/json")], &body).await
    };
    let report_title = async |template: &str| {
        let body = serde_json::json!({"template": template, "format": "html"});
        let answer = call("author", "POST", "/api/render", body).await;
        if answer.status != 200 {
            return format!("{} {}", answer.status, answer.json()["detail"].as_str().unwrap_or_default());
        }
        let start = answer.body.find("<title>").unwrap() + "<title>".len();
        answer.body[start..start + answer.body[start..].find("</title>").unwrap()].to_owned()
    };
    assert_eq!(report_title("5s-audit").await, "Audit 5S");

    let listed = call("author", "GET", "/api/documents", serde_json::Value::Null).await.json();
    let audit = listed["documents"].as_array().unwrap().iter().find(|document| document["code"] == "5s-audit").unwrap();
    let path = format!("/api/documents/{}", audit["id"].as_str().unwrap());
    let mut draft = call("author", "GET", &path, serde_json::Value::Null).await.json()["document"].clone();
    draft["settings"]["title"] = "Audit 5S révisé".into();
    let saved = call("author", "PUT", &path, serde_json::json!({"document": draft})).await.json();
    assert_eq!(
        (&saved["status"], &saved["version"], &saved["published_version"]),
        (&"draft".into(), &2.into(), &1.into())
    );
    assert_eq!(report_title("5s-audit").await, "Audit 5S", "the published version still renders");
    for (who, action) in [("author", "submit"), ("reviewer", "approve"), ("reviewer", "publish")] {
        let body = serde_json::json!({"action": action, "version": 2});
        let answer = call(who, "POST", &format!("{path}/review"), body).await;
        assert_eq!(answer.status, 200, "{action}: {}", answer.body);
    }
    assert_eq!(report_title("5s-audit").await, "Audit 5S révisé");

    // A new template is offered once published, not before.
    let document = serde_json::json!({"settings": {"title": "Bilan énergie"}, "blocks": []});
    let created = call(
        "author",
        "POST",
        "/api/documents",
        serde_json::json!({"document": document, "template": "bilan-energie"}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(
        report_title("bilan-energie").await,
        "400 template `bilan-energie` is not published: publish a version of it first (`POST /api/documents/{id}/review`)"
    );
    let path = format!("/api/documents/{}", created.json()["id"].as_str().unwrap());
    for (who, action) in [("author", "submit"), ("reviewer", "approve"), ("reviewer", "publish")] {
        call(who, "POST", &format!("{path}/review"), serde_json::json!({"action": action, "version": 1})).await;
    }
    assert_eq!(report_title("bilan-energie").await, "Bilan énergie");
    let page = call("author", "GET", "/documents", serde_json::Value::Null).await;
    assert!(
        page.body.contains("id=\"template-bilan-energie\"") && page.body.contains("Audit 5S révisé"),
        "{}",
        page.body
    );
}
