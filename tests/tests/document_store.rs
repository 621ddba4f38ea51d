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
    assert_eq!(document_store::save(&pool, id, &second, None, Some("mesure LTI")).await.unwrap(), 2);
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
    assert_eq!(document_store::save(&pool, id, &second, Some(author), None).await.unwrap(), 4);
    assert_eq!(document_store::review(&pool, id, Review::Submit, Some(author), None).await.unwrap(), Status::InReview);
    let own = document_store::review(&pool, id, Review::Approve, Some(author), None).await.unwrap_err();
    assert_eq!(own.to_string(), "version 4 was saved by you: another user must approve it");
    assert_eq!(
        document_store::review(&pool, id, Review::Approve, Some(reviewer), None).await.unwrap(),
        Status::Approved
    );
    assert_eq!(
        document_store::review(&pool, id, Review::Publish, Some(reviewer), None).await.unwrap(),
        Status::Published
    );
    assert_eq!(document_store::save(&pool, id, first, Some(author), Some("brouillon")).await.unwrap(), 5);
    let summary = document_store::summary(&pool, id).await.unwrap();
    assert_eq!((summary.status, summary.version, summary.published_version), (Status::Draft, 5, Some(4)));
    let refused = document_store::review(&pool, id, Review::SendBack, Some(reviewer), Some("  ")).await.unwrap_err();
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
