//! Test support: a real PostgreSQL for every test binary, and a fresh migrated database
//! for every test.
//!
//! The server is an ephemeral cluster started from the PostgreSQL binaries on this
//! machine (`wal_level=logical`, private port, removed when the test process exits), or
//! the server named by `OPSFLUX_TEST_DATABASE_URL`. A missing server fails the test with
//! a message saying how to get one; it is never skipped.

pub mod browser;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use opsflux_api::cluster::{Cluster, ClusterOptions};
use sqlx::{Connection, PgConnection, PgPool};

/// Where test databases are created.
#[derive(Debug)]
pub struct TestServer {
    /// A URL on the server's maintenance database (`postgres`).
    admin_url: String,
    /// Kept so the cluster's handle lives as long as the process.
    _cluster: Option<Cluster>,
}

static SERVER: OnceLock<Result<TestServer, String>> = OnceLock::new();
static TEMPLATE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The shared server of this test process, started on first use.
pub fn server() -> &'static TestServer {
    let server = SERVER.get_or_init(|| {
        if let Ok(url) = std::env::var("OPSFLUX_TEST_DATABASE_URL") {
            return Ok(TestServer { admin_url: url, _cluster: None });
        }
        let directory = tempfile::Builder::new()
            .prefix("opsflux-test-pg-")
            .tempdir_in(std::env::temp_dir())
            .map_err(|error| format!("cannot create a directory for the test cluster: {error}"))?
            .keep();
        let cluster = Cluster::start(&ClusterOptions { directory, port: None, durable: false })
            .map_err(|error| format!("cannot start the test PostgreSQL: {error}"))?;
        cluster
            .remove_when_process_exits(std::process::id())
            .map_err(|error| format!("cannot arrange the test cluster's removal: {error}"))?;
        Ok(TestServer { admin_url: cluster.url("postgres"), _cluster: Some(cluster) })
    });
    match server {
        Ok(server) => server,
        Err(message) => panic!(
            "{message}\nTests need a real PostgreSQL: install the server binaries \
             (`apt-get install -y postgresql`, done by scripts/test.sh) or set \
             OPSFLUX_TEST_DATABASE_URL to a server where this user may create databases."
        ),
    }
}

impl TestServer {
    /// A URL for `database` on this server.
    pub fn url(&self, database: &str) -> String {
        format!("{}/{database}", url_without_database(&self.admin_url))
    }

    async fn admin(&self) -> PgConnection {
        PgConnection::connect(&self.admin_url)
            .await
            .unwrap_or_else(|error| panic!("cannot connect to the test server: {error}"))
    }

    /// Creates a database, empty or copied from `template`, and returns its URL.
    async fn create_database(&self, label: &str, template: Option<&str>) -> String {
        let name = unique_name(label);
        let statement = match template {
            Some(template) => format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""),
            None => format!("CREATE DATABASE \"{name}\""),
        };
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&mut self.admin().await)
            .await
            .unwrap_or_else(|error| panic!("cannot create database {name}: {error}"));
        self.url(&name)
    }

    /// Creates an empty database (no schema) and returns its URL.
    pub async fn empty_database(&self, label: &str) -> String {
        self.create_database(label, None).await
    }

    /// Creates a database with every migration applied and returns its URL. Migrations
    /// run once per process, into a template that each test database is copied from.
    pub async fn migrated_database(&self, label: &str) -> String {
        let template = TEMPLATE
            .get_or_init(|| async {
                let name = unique_name("template");
                let url = self.url(&name);
                opsflux_api::database::migrate(&url)
                    .await
                    .unwrap_or_else(|error| panic!("migrating the template database failed: {error}"));
                name
            })
            .await;
        self.create_database(label, Some(template)).await
    }
}

/// A fresh, migrated database and a pool on it.
pub async fn migrated_pool(label: &str) -> (String, PgPool) {
    let url = server().migrated_database(label).await;
    let pool = PgPool::connect(&url).await.unwrap_or_else(|error| panic!("cannot connect to {url}: {error}"));
    (url, pool)
}

fn unique_name(label: &str) -> String {
    let clean: String = label.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(30).collect();
    format!("t{}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed), clean.to_lowercase())
}

fn url_without_database(url: &str) -> String {
    // postgres://user@host:port/db?params → postgres://user@host:port
    let after_scheme = url.find("://").map_or(0, |index| index + 3);
    match url[after_scheme..].find('/') {
        Some(index) => url[..after_scheme + index].to_owned(),
        None => url.to_owned(),
    }
}

/// Per-table row counts and order-independent checksums over every column.
pub async fn table_checksums(pool: &PgPool) -> Vec<(String, i64, String)> {
    opsflux_api::database::table_checksums(pool)
        .await
        .unwrap_or_else(|error| panic!("table checksums failed: {error}"))
        .into_iter()
        .map(|sum| (sum.table, sum.rows, sum.checksum))
        .collect()
}

/// A response: status, lower-cased head (and as sent, for cookie values), body as
/// text and as sent (files).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub raw_head: String,
    pub body: String,
    pub bytes: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|error| panic!("{error}: {}", self.body))
    }
}

/// One HTTP/1.1 request over a fresh connection (`Host` is the address unless given).
pub async fn send(
    address: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("host")) {
        request.push_str(&format!("Host: {address}\r\n"));
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let split = response.windows(4).position(|window| window == b"\r\n\r\n").map_or(response.len(), |at| at + 4);
    let raw_head = String::from_utf8_lossy(&response[..split]).into_owned();
    let head = raw_head.to_ascii_lowercase();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    // Chunked bodies (streamed exports) are joined.
    let body = if head.contains("transfer-encoding: chunked") {
        unchunk(&response[split..])
    } else {
        response[split..].to_vec()
    };
    Answer { status, head, raw_head, body: String::from_utf8_lossy(&body).into_owned(), bytes: body }
}

fn unchunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = body.windows(2).position(|window| window == b"\r\n") {
        let Ok(size) = usize::from_str_radix(String::from_utf8_lossy(&body[..end]).trim(), 16) else { break };
        let rest = &body[end + 2..];
        if size == 0 || rest.len() < size {
            break;
        }
        out.extend_from_slice(&rest[..size]);
        body = rest[size..].strip_prefix(b"\r\n").unwrap_or(&rest[size..]);
    }
    out
}
