//! A Chromium driven through WebDriver (chromedriver, the Debian package
//! `chromium-driver`): what the editor's browser test and its page-load benchmark use.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// The key WebDriver names an element by.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one browser session in it.
#[derive(Debug)]
pub struct Browser {
    driver: std::process::Child,
    address: SocketAddr,
    session: String,
}

impl Browser {
    pub async fn start() -> Browser {
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
    pub async fn call(&self, method: &str, path: &str, body: &Value) -> Value {
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

    pub async fn session(&self, method: &str, path: &str, body: Value) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), &body).await
    }

    pub async fn open(&self, url: &str) {
        self.session("POST", "/url", json!({"url": url})).await;
    }

    pub async fn find(&self, selector: &str) -> String {
        let found = self.wait(&format!("return document.querySelector({selector:?}) !== null"), selector).await;
        assert!(found.as_bool().unwrap_or(false));
        let element = self.session("POST", "/element", json!({"using": "css selector", "value": selector})).await;
        element[ELEMENT].as_str().unwrap().to_owned()
    }

    pub async fn click(&self, selector: &str) {
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

    pub async fn type_into(&self, selector: &str, text: &str) {
        let element = self.find(selector).await;
        self.session("POST", &format!("/element/{element}/value"), json!({"text": text})).await;
    }

    pub async fn script(&self, script: &str) -> Value {
        self.session("POST", "/execute/sync", json!({"script": script, "args": []})).await
    }

    /// Polls `script` until it returns something truthy; fails naming `what`.
    pub async fn wait(&self, script: &str, what: &str) -> Value {
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

    /// A PNG of the window, or of one element when `element` names it.
    pub async fn screenshot(&self, element: Option<&str>, path: &std::path::Path) {
        let at = element.map(|element| format!("/element/{element}")).unwrap_or_default();
        let png = self.session("GET", &format!("{at}/screenshot"), Value::Null).await;
        let bytes = base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap()).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"));
        std::fs::write(path, bytes).unwrap();
    }

    pub async fn sign_in(&self, server: SocketAddr, email: &str, password: &str) {
        self.open(&format!("http://{server}/login?next=/editor")).await;
        self.type_into("input[name=email]", email).await;
        self.type_into("input[name=password]", password).await;
        self.click("form.signin button[type=submit]").await;
        self.wait("return location.pathname === '/editor'", "the editor after sign-in").await;
    }

    /// Adds a block of `kind` at the end through the editor's own toolbox.
    pub async fn add_block(&self, kind: &str) {
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
    pub async fn pick(&self, kind: &str, name: &str, value: &str) {
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
