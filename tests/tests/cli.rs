//! The `opsflux` command line, run in-process as a user would type it.

use clap::Parser;
use opsflux_api::cli::{Cli, run};
use opsflux_tests::server;

fn cli(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("opsflux").chain(args.iter().copied())).unwrap()
}

#[tokio::test]
async fn migrate_then_sample_data_then_import_from_the_command_line() {
    let url = server().url("cli_flow");
    run(cli(&["migrate", "--database-url", &url])).await.unwrap();
    run(cli(&["migrate", "--database-url", &url])).await.unwrap();
    run(cli(&["sample-data", "--database-url", &url, "--seed", "11", "--scale", "0.01"])).await.unwrap();
    let load_list = concat!(env!("CARGO_MANIFEST_DIR"), "/../sample-data/equipment-load-list.xlsx");
    run(cli(&["import", "--database-url", &url, "--kind", "equipment", load_list])).await.unwrap();

    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let imported: i64 = sqlx::query_scalar("SELECT count(*) FROM powertrace.equipment WHERE tag LIKE '%-9__%'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(imported, 28);
    let error = run(cli(&["sample-data", "--database-url", &url, "--scale", "0.01"])).await.unwrap_err();
    assert!(error.to_string().contains("already holds 10 rows in core.sites"), "{error:#}");
}

#[tokio::test]
async fn bad_arguments_are_explained() {
    let error =
        run(cli(&["sample-data", "--database-url", "postgres://x@127.0.0.1:1/x", "--scale", "0"])).await.unwrap_err();
    assert_eq!(error.to_string(), "--scale must be a number from 0.001 to 10 (1 ≈ ten million meter readings), got 0");
    let error =
        Cli::try_parse_from(["opsflux", "import", "--database-url", "u", "--kind", "pumps", "f.xlsx"]).unwrap_err();
    assert!(error.to_string().contains("invalid value 'pumps' for '--kind <KIND>'"), "{error}");
    let error = run(cli(&["migrate", "--database-url", "mysql://nope"])).await.unwrap_err();
    assert_eq!(
        format!("{error:#}"),
        "invalid --database-url: `mysql://nope` is not a PostgreSQL URL; expected postgres://USER@HOST:PORT/DATABASE"
    );
}

#[tokio::test]
async fn demo_starts_its_own_postgres_and_keeps_it_between_runs() {
    let directory = tempfile::Builder::new().prefix("opsflux-demo-").tempdir_in(std::env::temp_dir()).unwrap();
    // The private cluster may run as the `postgres` user, who must reach the directory.
    std::fs::set_permissions(directory.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let data_dir = directory.path().join("data");
    let args =
        ["demo", "--data-dir", data_dir.to_str().unwrap(), "--postgres-port", &port, "--scale", "0.01", "--no-serve"];
    run(cli(&args)).await.unwrap();
    assert!(data_dir.join("postgres/pgdata/PG_VERSION").exists());
    // The demo captured the sample data into its warehouse.
    let warehouse = opsflux_warehouse::Warehouse::open(&data_dir.join("warehouse")).unwrap();
    let sites = warehouse.describe(&"core.sites".parse().unwrap()).await.unwrap().unwrap();
    assert_eq!((sites.rows, sites.version.0), (10, 0), "copied beside the table, then swapped in by one commit");
    // A second start reuses the cluster and keeps the data.
    run(cli(&args)).await.unwrap();
    let cluster = opsflux_api::cluster::Cluster::start(&opsflux_api::cluster::ClusterOptions {
        directory: data_dir.join("postgres"),
        port: Some(port.parse().unwrap()),
        durable: true,
    })
    .unwrap();
    let pool = sqlx::PgPool::connect(&cluster.url("opsflux")).await.unwrap();
    let sites: i64 = sqlx::query_scalar("SELECT count(*) FROM core.sites").fetch_one(&pool).await.unwrap();
    pool.close().await;
    cluster.stop().unwrap();
    assert_eq!(sites, 10);
    let sites = warehouse.describe(&"core.sites".parse().unwrap()).await.unwrap().unwrap();
    assert_eq!((sites.rows, sites.version.0), (10, 0), "the second start only caught up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_demo_and_its_postgres_with_the_warehouse_caught_up() {
    let directory = tempfile::Builder::new().prefix("opsflux-demo-term-").tempdir_in(std::env::temp_dir()).unwrap();
    std::fs::set_permissions(directory.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let free_port = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (postgres_port, http_port) = (free_port(), free_port());
    let data_dir = directory.path().join("data");
    let log = std::fs::File::create(directory.path().join("demo.log")).unwrap();
    let mut demo = std::process::Command::new(env!("CARGO_BIN_EXE_opsflux-under-test"))
        .args(["demo", "--scale", "0.01", "--data-dir"])
        .arg(&data_dir)
        .args(["--postgres-port", &postgres_port.to_string(), "--listen", &format!("127.0.0.1:{http_port}")])
        .env_remove("OPSFLUX_SMTP_URL")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let log = || std::fs::read_to_string(directory.path().join("demo.log")).unwrap_or_default();
    let address: std::net::SocketAddr = format!("127.0.0.1:{http_port}").parse().unwrap();
    let started = std::time::Instant::now();
    loop {
        assert!(demo.try_wait().unwrap().is_none(), "the demo stopped by itself:\n{}", log());
        assert!(started.elapsed() < std::time::Duration::from_secs(300), "the demo did not serve:\n{}", log());
        // Serving, and capture past its initial copy.
        if tokio::net::TcpStream::connect(address).await.is_ok()
            && opsflux_tests::send(address, "GET", "/healthz", &[], "").await.status == 200
            && log().contains("streaming changes")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    // Changes made just before the stop still reach the warehouse.
    let url = format!("postgres://{}@127.0.0.1:{postgres_port}/opsflux", opsflux_api::cluster::SUPERUSER);
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query("UPDATE core.sites SET name = name || ' (arrêt)' WHERE code = (SELECT min(code) FROM core.sites)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO tiers.companies (name, kind, country, city) VALUES ('Arrêt SA', 'supplier', 'GA', 'Libreville')",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let terminated = std::process::Command::new("kill").args(["-TERM", &demo.id().to_string()]).status().unwrap();
    assert!(terminated.success());
    let stopping = std::time::Instant::now();
    let status = loop {
        if let Some(status) = demo.try_wait().unwrap() {
            break status;
        }
        assert!(stopping.elapsed() < std::time::Duration::from_secs(120), "SIGTERM did not stop the demo:\n{}", log());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status}:\n{}", log());
    let text = log();
    assert!(text.contains("SIGTERM received") && text.contains("stopping the private PostgreSQL"), "{text}");
    // Its PostgreSQL is stopped, not orphaned.
    assert!(!data_dir.join("postgres/pgdata/postmaster.pid").exists(), "{text}");
    assert!(std::net::TcpStream::connect(("127.0.0.1", postgres_port)).is_err(), "PostgreSQL still listens");

    // Started again by itself, the database equals the warehouse.
    let cluster = opsflux_api::cluster::Cluster::start(&opsflux_api::cluster::ClusterOptions {
        directory: data_dir.join("postgres"),
        port: Some(postgres_port),
        durable: true,
    })
    .unwrap();
    let warehouse = opsflux_warehouse::Warehouse::open(&data_dir.join("warehouse")).unwrap();
    let (counts, differences) = crate::capture::compare(&cluster.url("opsflux"), &warehouse).await;
    cluster.stop().unwrap();
    assert!(differences.is_empty(), "the warehouse is behind PostgreSQL:\n{}", differences.join("\n"));
    assert!(counts.iter().any(|line| line.starts_with("tiers.companies ")), "{counts:?}");
}
