//! The Rédacteur editor in a real browser: Chromium driven through WebDriver
//! (chromedriver) writes a document with text and data blocks picked from the metric
//! catalog, saves it, sees the preview show the warehouse's values, sends it for review;
//! another user approves and publishes it; the published PDF holds the KPI's value.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::Engine as _;
use opsflux_tests::send;
use serde_json::{Value, json};

use crate::document_store::{PASSWORD, documents_server};

/// The key WebDriver names an element by.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one browser session in it.
struct Browser {
    driver: std::process::Child,
    address: SocketAddr,
    session: String,
}

impl Browser {
    async fn start() -> Browser {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let driver = std::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("chromedriver must be installed (scripts/setup.sh installs it): {error}"));
        let address: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let started = Instant::now();
        while tokio::net::TcpStream::connect(address).await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1600,1100"]
            }
        }}});
        let mut browser = Browser { driver, address, session: String::new() };
        let answer = browser.call("POST", "/session", &capabilities).await;
        browser.session = answer["sessionId"].as_str().unwrap().to_owned();
        browser
    }

    /// One WebDriver command. chromedriver keeps connections open, so the answer is
    /// read to its `Content-Length`, not to the end of the stream.
    async fn call(&self, method: &str, path: &str, body: &Value) -> Value {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let body = if body.is_null() { String::new() } else { body.to_string() };
        let mut stream = tokio::net::TcpStream::connect(self.address).await.unwrap();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json; charset=utf-8\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.address,
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut received = Vec::new();
        let mut buffer = vec![0u8; 65536];
        let (status, answer) = loop {
            let read = tokio::time::timeout(Duration::from_secs(60), stream.read(&mut buffer))
                .await
                .unwrap_or_else(|_| panic!("WebDriver {method} {path}: no answer in 60 s"))
                .unwrap();
            received.extend_from_slice(&buffer[..read]);
            if let Some(end) = received.windows(4).position(|window| window == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&received[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .and_then(|length| length.trim().parse::<usize>().ok());
                if let Some(length) = length
                    && received.len() >= end + 4 + length
                {
                    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
                    break (status, String::from_utf8_lossy(&received[end + 4..end + 4 + length]).into_owned());
                }
            }
            assert!(read > 0, "WebDriver {method} {path}: the connection closed early");
        };
        let value: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
        assert_eq!(status, 200, "WebDriver {method} {path}: {answer}");
        value["value"].clone()
    }

    async fn session(&self, method: &str, path: &str, body: Value) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), &body).await
    }

    async fn open(&self, url: &str) {
        self.session("POST", "/url", json!({"url": url})).await;
    }

    async fn find(&self, selector: &str) -> String {
        let found = self.wait(&format!("return document.querySelector({selector:?}) !== null"), selector).await;
        assert!(found.as_bool().unwrap_or(false));
        let element = self.session("POST", "/element", json!({"using": "css selector", "value": selector})).await;
        element[ELEMENT].as_str().unwrap().to_owned()
    }

    async fn click(&self, selector: &str) {
        eprintln!("click {selector}");
        let element = self.find(selector).await;
        self.session(
            "POST",
            "/execute/sync",
            json!({"script": "arguments[0].scrollIntoView({block: 'center'})", "args": [{ELEMENT: element}]}),
        )
        .await;
        self.session("POST", &format!("/element/{element}/click"), json!({})).await;
    }

    async fn type_into(&self, selector: &str, text: &str) {
        let element = self.find(selector).await;
        self.session("POST", &format!("/element/{element}/value"), json!({"text": text})).await;
    }

    async fn script(&self, script: &str) -> Value {
        self.session("POST", "/execute/sync", json!({"script": script, "args": []})).await
    }

    /// Polls `script` until it returns something truthy; fails naming `what`.
    async fn wait(&self, script: &str, what: &str) -> Value {
        let started = Instant::now();
        loop {
            let value = self.script(script).await;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(value) => *value,
                Value::String(text) => !text.is_empty(),
                _ => true,
            };
            if truthy {
                return value;
            }
            if started.elapsed() > Duration::from_secs(30) {
                let status = self.script("return document.getElementById('editor-status')?.textContent").await;
                panic!("waited 30 s for {what}; the editor says {status}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn screenshot(&self, name: &str) {
        let png = self.session("GET", "/screenshot", Value::Null).await;
        let bytes = base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap()).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"));
        std::fs::write(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name), bytes).unwrap();
    }

    async fn sign_in(&self, server: SocketAddr, email: &str, password: &str) {
        self.open(&format!("http://{server}/login?next=/editor")).await;
        self.type_into("input[name=email]", email).await;
        self.type_into("input[name=password]", password).await;
        self.click("form.signin button[type=submit]").await;
        self.wait("return location.pathname === '/editor'", "the editor after sign-in").await;
    }

    /// Adds a block of `kind` at the end through the editor's own toolbox.
    async fn add_block(&self, kind: &str) {
        let before = self.script("return document.querySelectorAll('.ce-block').length").await;
        // A new empty line at the end (what Enter gives), then "/" opens the toolbox there.
        self.script(
            "const editor = window.opsfluxEditor; const last = editor.blocks.getBlocksCount() - 1; \
             const block = editor.blocks.getBlockByIndex(last); \
             if (block.name !== 'paragraph' || !block.isEmpty) editor.blocks.insert('paragraph');",
        )
        .await;
        self.wait(
            "window.opsfluxEditor.caret.setToLastBlock('end'); \
             return document.activeElement.classList.contains('ce-paragraph')",
            "the caret in the new line",
        )
        .await;
        // The editor learns where the caret is from the selection change it just saw.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let keys = json!({"actions": [{"type": "key", "id": "keyboard",
            "actions": [{"type": "keyDown", "value": "/"}, {"type": "keyUp", "value": "/"}]}]});
        self.session("POST", "/actions", keys).await;
        self.click(&format!(".ce-popover--opened [data-item-name={kind}]")).await;
        self.wait(&format!("return document.querySelectorAll('.ce-block').length > {before}"), kind).await;
    }

    /// Picks `value` in the last data block's `select[name=…]`.
    async fn pick(&self, kind: &str, name: &str, value: &str) {
        let selector = format!(".ofx-data[data-kind={kind}] select[name={name}]");
        self.wait(&format!("return [...document.querySelectorAll({selector:?})].pop()?.querySelector('option[value=\"{value}\"]') != null"), value).await;
        let script = format!(
            "const select = [...document.querySelectorAll({selector:?})].pop(); select.value = {value:?}; \
             select.dispatchEvent(new Event('change', {{bubbles: true}})); return select.value"
        );
        assert_eq!(self.script(&script).await, value);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

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
    assert_eq!(kinds, ["paragraph", "kpi", "chart", "data_table"]);
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
    author.screenshot("editor.png").await;
    let preview = author.find("#preview").await;
    let png = author.session("GET", &format!("/element/{preview}/screenshot"), Value::Null).await;
    let bytes = base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap()).unwrap();
    std::fs::write(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("editor-preview.png"), bytes).unwrap();

    // A block the data refuses is shown at its place, and nothing is saved.
    author.pick("kpi", "metric", "").await;
    author.click("#save").await;
    author.wait("return document.querySelector('.ce-block.ofx-faulty') !== null", "the faulty block marked").await;
    let versions = send(server, "GET", &format!("/api/documents/{id}/versions"), &headers, "").await.json();
    assert_eq!(versions["total"], 1, "nothing saved: {versions}");
    author.pick("kpi", "metric", "pob.people_on_board").await;
    author.pick("kpi", "measure", "pob").await;

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
