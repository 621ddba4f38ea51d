//! The HTTP server over the operational database: the overview page, its JSON twin and
//! problem+json errors, requested over a real socket.

use opsflux_sample_data::{Dataset, Options};
use opsflux_tests::migrated_pool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The server's address and an analyst's bearer header.
type Server = (std::net::SocketAddr, String);

async fn get(server: &Server, path: &str) -> (u16, String, String) {
    let (address, authorization) = server;
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{authorization}Connection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-type: ").map(str::to_owned))
        .unwrap_or_default();
    (status, content_type, body.to_owned())
}

/// An engine over an empty warehouse: these tests are about the database pages.
async fn empty_engine() -> opsflux_query::Engine {
    let directory = tempfile::tempdir().unwrap().keep();
    let warehouse = opsflux_warehouse::Warehouse::open(&directory).unwrap();
    opsflux_query::Engine::open(warehouse, opsflux_query::Catalog::shipped().unwrap(), Default::default())
        .await
        .unwrap()
}

/// Serves with sign-in, and signs an analyst in (who may see every table's count).
async fn start(pool: sqlx::PgPool) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let public = opsflux_api::http::PublicAddress::new(None, address).unwrap();
    let state = opsflux_api::http::AppState::with_database(pool.clone(), empty_engine().await, "test".into(), public)
        .await
        .unwrap();
    let hash = opsflux_api::auth::password::hash("a long enough password".into()).await.unwrap();
    opsflux_api::auth::users::add(&pool, "analyst@web.example", "Analyst", "analyst", &[], &hash).await.unwrap();
    tokio::spawn(opsflux_api::http::serve_on(listener, state, std::future::pending()));
    let keys = opsflux_api::auth::tokens::TokenKeys::new(&opsflux_api::auth::secret::signing_key(&pool).await.unwrap());
    let user = opsflux_api::auth::users::id_of(&pool, "analyst@web.example").await.unwrap();
    let pair = keys.sign_in(&pool, user).await.unwrap();
    (address, format!("Authorization: Bearer {}\r\n", pair.access_token))
}

#[tokio::test]
async fn overview_shows_row_counts_per_module_table() {
    let (_, pool) = migrated_pool("web").await;
    let mut connection = pool.acquire().await.unwrap();
    opsflux_sample_data::load(&mut connection, &Dataset::generate(Options::new(9, 0.01).unwrap()), |_| {})
        .await
        .unwrap();
    drop(connection);
    let address = start(pool.clone()).await;

    let (status, content_type, body) = get(&address, "/api/tables").await;
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let tables = json["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 63);
    let sites = tables.iter().find(|table| table["table"] == "core.sites").unwrap();
    assert_eq!(sites["rows"], 10);

    let (status, _, page) = get(&address, "/tables").await;
    assert_eq!(status, 200);
    assert!(page.contains("<td class=\"n\" data-table=\"core.sites\">10</td>"), "{page}");
    assert!(page.contains("POBVue — personnel à bord"));
    let readings: i64 =
        sqlx::query_scalar("SELECT count(*) FROM powertrace.meter_readings").fetch_one(&pool).await.unwrap();
    assert!(page.contains(&format!(
        "data-table=\"powertrace.meter_readings\">{}<",
        opsflux_api::http::tables::group_thousands(readings)
    )));
}

#[tokio::test]
async fn an_empty_database_says_how_to_fill_it_and_unknown_paths_are_problems() {
    let (_, pool) = migrated_pool("web_empty").await;
    let address = start(pool).await;
    let (status, _, page) = get(&address, "/tables").await;
    assert_eq!(status, 200);
    assert!(page.contains("La base ne contient encore aucune donnée"), "{page}");
    let (status, content_type, body) = get(&address, "/nowhere").await;
    assert_eq!((status, content_type.as_str()), (404, "application/problem+json"));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({"type": "about:blank", "title": "Not found", "status": 404, "detail": "no such page or endpoint"})
    );
}
