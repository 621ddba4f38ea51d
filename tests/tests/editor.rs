//! The Rédacteur editor in a real browser: Chromium driven through WebDriver
//! (chromedriver) writes a document with text and data blocks picked from the metric
//! catalog, saves it, sees the preview show the warehouse's values, sends it for review;
//! another user approves and publishes it; the published PDF holds the KPI's value.

use std::collections::BTreeMap;

use opsflux_tests::browser::Browser;
use opsflux_tests::send;
use serde_json::{Value, json};

use crate::document_store::{PASSWORD, documents_server};

#[test]
fn an_author_writes_previews_and_publishes_a_document_in_the_browser() {
    // The walk through the browser is one long future: it gets a thread of its own with
    // room for it, unoptimised.
    std::thread::Builder::new()
        .stack_size(32 << 20)
        .spawn(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            runtime.block_on(Box::pin(writes_previews_and_publishes()));
        })
        .unwrap()
        .join()
        .unwrap();
}

async fn writes_previews_and_publishes() {
    let (server, _pool, _warehouse) = documents_server(
        "editor",
        &[("author@test.example", "manager", &["ALPHA"]), ("reviewer@test.example", "analyst", &[])],
    )
    .await;

    // The author writes: a title, a paragraph, a KPI, a chart and a data table, the
    // site and the period as parameters.
    let author = Browser::start().await;
    author.sign_in(server, "author@test.example", PASSWORD).await;
    author.wait("return document.getElementById('editor-page').dataset.ready === 'true'", "Editor.js").await;
    author.type_into("#settings input[name=title]", "Bilan POB Alpha").await;
    author.click(".ce-paragraph").await;
    author.type_into(".ce-paragraph", "Effectifs du mois de mars.").await;
    author.add_block("kpi").await;
    author.pick("kpi", "metric", "pob.people_on_board").await;
    author.pick("kpi", "measure", "pob").await;
    author.add_block("chart").await;
    author.pick("chart", "metric", "pob.people_on_board").await;
    author.pick("chart", "grain", "day").await;
    author.add_block("data_table").await;
    author.pick("data_table", "metric", "pob.people_on_board").await;
    author.pick("data_table", "grain", "week").await;
    // A block whose form the schema draws: the planning's closed list of views.
    author.add_block("planning").await;
    author.pick("planning", "view", "table").await;
    author.click("#settings input[name=site_parameter]").await;
    author.click("#settings input[name=period_parameter]").await;
    author.script("const kind = document.querySelector('#settings select[name=period_kind]'); kind.value = 'month'; kind.dispatchEvent(new Event('change', {bubbles: true}));").await;
    author.script("const site = document.getElementById('preview-site'); site.value = 'ALPHA'; site.dispatchEvent(new Event('change', {bubbles: true}));").await;
    author.type_into("#preview-period", "2026-03").await;
    author
        .script("document.getElementById('preview-period').dispatchEvent(new Event('change', {bubbles: true}))")
        .await;
    author.click("#save").await;
    author
        .wait("return document.getElementById('editor-status').textContent.startsWith('Version 1')", "the save")
        .await;
    let id = author.script("return location.pathname.split('/').pop()").await.as_str().unwrap().to_owned();

    // What the warehouse says, through the API the way any client reads it.
    let token = {
        let body = format!(r#"{{"email":"author@test.example","password":"{PASSWORD}"}}"#);
        let answer = send(server, "POST", "/api/auth/login", &[("Content-Type", "application/json")], &body).await;
        answer.json()["access_token"].as_str().unwrap().to_owned()
    };
    let bearer = format!("Bearer {token}");
    let headers = [("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
    let stored = send(server, "GET", &format!("/api/documents/{id}"), &headers, "").await.json();
    let kinds: Vec<&str> =
        stored["document"]["blocks"].as_array().unwrap().iter().map(|block| block["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["paragraph", "kpi", "chart", "data_table", "planning"]);
    assert_eq!(stored["document"]["blocks"][4]["data"], json!({"view": "table"}), "only what the form set");
    assert_eq!(stored["document"]["settings"]["title"], "Bilan POB Alpha");
    let parameters = json!({"parameters": {"site": "ALPHA", "period": "2026-03"}}).to_string();
    let html = send(server, "POST", &format!("/api/documents/{id}/render?format=html"), &headers, &parameters).await;
    assert_eq!(html.status, 200, "{}", html.body);
    let kpi_value = {
        let start = html.body.find("<div class=\"value\">").unwrap() + "<div class=\"value\">".len();
        html.body[start..].split(" <small>").next().unwrap().to_owned()
    };
    assert!(kpi_value.chars().any(|character| character.is_ascii_digit()), "{kpi_value}");

    // The preview beside the editor shows the same value, and so does the KPI block's own.
    author
        .wait(
            &format!(
                "const frame = document.querySelector('.ofx-data[data-kind=kpi] iframe'); \
                 return frame !== null && frame.srcdoc.includes({:?})",
                format!("<div class=\"value\">{kpi_value} ")
            ),
            "the KPI block's own preview",
        )
        .await;
    author
        .wait(
            &format!(
                "return document.getElementById('preview').srcdoc.includes({:?})",
                format!("<div class=\"value\">{kpi_value} ")
            ),
            "the preview with the warehouse's value",
        )
        .await;
    author.script("window.scrollTo(0, 0)").await;
    let screenshots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    author.screenshot(None, &screenshots.join("editor.png")).await;
    let preview = author.find("#preview").await;
    author.screenshot(Some(&preview), &screenshots.join("editor-preview.png")).await;

    // A block the data refuses is shown at its place, and nothing is saved.
    author.pick("kpi", "metric", "").await;
    author.click("#save").await;
    author.wait("return document.querySelector('.ce-block.ofx-faulty') !== null", "the faulty block marked").await;
    let versions = send(server, "GET", &format!("/api/documents/{id}/versions"), &headers, "").await.json();
    assert_eq!(versions["total"], 1, "nothing saved: {versions}");
    author.pick("kpi", "metric", "pob.people_on_board").await;
    author.pick("kpi", "measure", "pob").await;
    // The planning's own preview came from the server; a member the schema refuses (a
    // column heading that is not text) is named at its block before any request.
    author
        .wait(
            "return document.querySelector('.ofx-data[data-kind=planning] .ofx-preview[data-rendered=true]') !== null",
            "the planning's preview",
        )
        .await;
    author
        .script(
            "const labels = document.querySelector('.ofx-data[data-kind=planning] textarea[name=labels]');              labels.value = '{\"label\": 3}'; labels.dispatchEvent(new Event('change', {bubbles: true}));",
        )
        .await;
    author.click("#save").await;
    let problem = author
        .wait(
            "return document.querySelector('.ce-block.ofx-faulty')?.dataset.problem",
            "the planning block marked by the schema",
        )
        .await;
    let planning = author.script("return document.querySelectorAll('.ce-block')[4].dataset.id").await;
    let planning = planning.as_str().unwrap();
    assert_eq!(problem, format!("bloc {planning} à /blocks/4/data/labels/label : attendu : du texte"));
    let versions = send(server, "GET", &format!("/api/documents/{id}/versions"), &headers, "").await.json();
    assert_eq!(versions["total"], 1, "nothing saved: {versions}");
    author
        .script(
            "const labels = document.querySelector('.ofx-data[data-kind=planning] textarea[name=labels]');              labels.value = ''; labels.dispatchEvent(new Event('change', {bubbles: true}));",
        )
        .await;

    // Sent for review; another user approves and publishes it.
    author.click("#review-submit").await;
    author
        .wait("return document.getElementById('document-status').textContent.startsWith('in_review')", "review")
        .await;
    drop(author);
    let reviewer = Browser::start().await;
    reviewer.sign_in(server, "reviewer@test.example", PASSWORD).await;
    reviewer.open(&format!("http://{server}/editor/{id}")).await;
    reviewer.wait("return document.getElementById('editor-page').dataset.ready === 'true'", "Editor.js").await;
    reviewer.click("#review-approve").await;
    reviewer
        .wait("return document.getElementById('document-status').textContent.startsWith('approved')", "approval")
        .await;
    reviewer.click("#review-publish").await;
    reviewer
        .wait("return document.getElementById('document-status').textContent.startsWith('published')", "publication")
        .await;
    reviewer.click("#pdf").await;
    reviewer.wait("return !document.getElementById('pdf-link').hidden", "the PDF preview").await;

    // Stored text opens as the inline markup the renderer reads and nothing more: no
    // handler, no script link, no element of another kind, even in a block the data
    // check never bound (hidden by its condition).
    let hostile = json!({"document": {"blocks": [
        {"id": "shown", "type": "paragraph", "data": {"text": "<b onmouseover=\"document.title='owned'\">gras</b> <a href=\"javascript:document.title='owned'\">lien</a>"}},
        {"id": "hidden", "type": "paragraph", "data": {"text": "<img src=x onerror=\"document.title='owned'\">caché"},
         "tunes": {"when": {"equals": ["a", "b"]}}}
    ]}});
    let created = send(server, "POST", "/api/documents", &headers, &hostile.to_string()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    reviewer.open(&format!("http://{server}/editor/{}", created.json()["id"].as_str().unwrap())).await;
    reviewer.wait("return document.getElementById('editor-page').dataset.ready === 'true'", "Editor.js").await;
    let opened = reviewer
        .script(
            "const editor = document.getElementById('editor'); \
             return [document.title.includes('owned'), editor.querySelectorAll('[onmouseover], [onerror], img, a[href^=javascript]').length, \
                     editor.querySelector('.ce-paragraph b')?.textContent, editor.querySelector('.ce-paragraph a')?.textContent]",
        )
        .await;
    assert_eq!(opened, json!([false, 0, "gras", "lien"]));
    drop(reviewer);

    // The published version, rendered as PDF and read back by pdftotext.
    let pdf = send(server, "POST", &format!("/api/documents/{id}/render?format=pdf"), &headers, &parameters).await;
    assert_eq!(pdf.status, 200, "{}", pdf.body);
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("published.pdf");
    std::fs::write(&path, &pdf.bytes).unwrap();
    let text = std::process::Command::new("pdftotext").arg(&path).arg("-").output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains(&kpi_value), "the PDF shows {kpi_value}: {text}");
    let summary = send(server, "GET", &format!("/api/documents/{id}"), &headers, "").await.json();
    let published: BTreeMap<&str, Value> =
        [("status", summary["status"].clone()), ("published_version", summary["published_version"].clone())].into();
    assert_eq!(published, [("status", json!("published")), ("published_version", json!(1))].into());
}

/// The editor's scripts: gzip when the browser takes it, a validator answered with
/// `304 Not Modified`, and nothing outside the list of files.
#[tokio::test]
async fn the_editor_scripts_are_compressed_revalidated_and_listed() {
    let directory = tempfile::tempdir().unwrap();
    let engine = crate::metrics::fixture_engine(directory.path()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    let public = opsflux_api::http::PublicAddress::new(None, server).unwrap();
    let state = opsflux_api::http::AppState::local(engine, "fixture".to_owned(), public);
    tokio::spawn(opsflux_api::http::serve_on(listener, state, std::future::pending()));
    let header = |answer: &opsflux_tests::Answer, name: &str| {
        answer.raw_head.lines().find_map(|line| {
            let (key, value) = line.split_once(": ")?;
            key.eq_ignore_ascii_case(name).then(|| value.to_owned())
        })
    };
    for file in ["editorjs.js", "opsflux-editor.js", "opsflux-editor.css"] {
        let path = format!("/assets/editor/{file}");
        let plain = send(server, "GET", &path, &[], "").await;
        assert_eq!(plain.status, 200, "{file}: {}", plain.body);
        let gzip = send(server, "GET", &path, &[("Accept-Encoding", "gzip")], "").await;
        assert_eq!(header(&gzip, "content-encoding").as_deref(), Some("gzip"), "{file}");
        assert!(
            gzip.bytes.len() * 2 < plain.bytes.len(),
            "{file}: {} of {} bytes",
            gzip.bytes.len(),
            plain.bytes.len()
        );
        let tag = header(&plain, "etag").unwrap();
        let again = send(server, "GET", &path, &[("If-None-Match", tag.as_str())], "").await;
        assert_eq!((again.status, again.bytes.len()), (304, 0), "{file}");
    }
    for file in ["package.json", "..%2Fpackage.json", "editorjs.umd.js"] {
        let answer = send(server, "GET", &format!("/assets/editor/{file}"), &[], "").await;
        assert_eq!(answer.status, 404, "{file}: {}", answer.body);
    }
}
