//! One contract for every place the warehouse can live — a local directory, memory and
//! an S3 bucket (a real S3-compatible server, moto, on loopback) — and capture and
//! serving run end to end on S3.

use std::sync::Arc;
use std::time::Duration;

use opsflux_tests::migrated_pool;
use opsflux_warehouse::arrow::array::{BooleanArray, Int64Array, RecordBatch, StringArray};
use opsflux_warehouse::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use opsflux_warehouse::test_support::S3Server;
use opsflux_warehouse::{
    ChangeSet, Checkpoint, DELETE_COLUMN, Evolution, Lsn, Storage, TableId, Version, Warehouse, WarehouseError,
};

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false), Field::new("name", DataType::Utf8, true)]))
}

fn rows(ids: &[i64], names: &[&str]) -> RecordBatch {
    RecordBatch::try_new(
        schema(),
        vec![Arc::new(Int64Array::from(ids.to_vec())), Arc::new(StringArray::from(names.to_vec()))],
    )
    .unwrap()
}

/// Rows by key: (id, name, deleted).
fn merges(changes: &[(i64, &str, bool)]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new(DELETE_COLUMN, DataType::Boolean, true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(changes.iter().map(|change| change.0).collect::<Vec<_>>())),
            Arc::new(StringArray::from(changes.iter().map(|change| change.1).collect::<Vec<_>>())),
            Arc::new(BooleanArray::from(changes.iter().map(|change| change.2).collect::<Vec<_>>())),
        ],
    )
    .unwrap()
}

/// Sorted `id name` lines.
fn lines(batches: &[RecordBatch]) -> Vec<String> {
    let mut lines = Vec::new();
    for batch in batches {
        let ids =
            opsflux_warehouse::arrow::compute::cast(batch.column_by_name("id").unwrap(), &DataType::Int64).unwrap();
        let names =
            opsflux_warehouse::arrow::compute::cast(batch.column_by_name("name").unwrap(), &DataType::Utf8).unwrap();
        let ids = ids.as_any().downcast_ref::<Int64Array>().unwrap();
        let names = names.as_any().downcast_ref::<StringArray>().unwrap();
        for row in 0..batch.num_rows() {
            lines.push(format!("{} {}", ids.value(row), names.value(row)));
        }
    }
    lines.sort_by_key(|line| line.split(' ').next().unwrap().parse::<i64>().unwrap());
    lines
}

fn at(lsn: u64) -> Checkpoint {
    Checkpoint { writer: "cdc".into(), lsn: Lsn(lsn) }
}

/// The contract: what ingest, queries and reports rely on, whatever the storage.
/// `reopen` gives a new handle on the same storage, as a new process would open it.
async fn contract(name: &str, reopen: impl Fn() -> Warehouse) {
    let warehouse = reopen();
    let table: TableId = "pob.stays".parse().unwrap();
    assert_eq!(warehouse.tables().await.unwrap(), [], "{name}: starts empty");
    assert!(!warehouse.contains(&table).await.unwrap());
    assert_eq!(warehouse.checkpoint(&table, "cdc").await.unwrap(), None);

    // Commits are versions carrying the writer's position.
    assert_eq!(warehouse.append(&table, vec![rows(&[1, 2], &["a", "b"])], &at(10)).await.unwrap(), Version(0));
    assert_eq!(warehouse.append(&table, vec![rows(&[3], &["c"])], &at(20)).await.unwrap(), Version(1));
    let reopened = reopen();
    assert_eq!(reopened.checkpoint(&table, "cdc").await.unwrap(), Some(Lsn(20)), "{name}");
    assert_eq!(reopened.checkpoint(&table, "another").await.unwrap(), None);
    assert_eq!(lines(&reopened.scan(&table, Some(Version(0))).await.unwrap()), ["1 a", "2 b"]);
    let error = reopened.scan(&table, Some(Version(9))).await.unwrap_err();
    assert!(matches!(error, WarehouseError::NoSuchVersion { version: 9, .. }), "{name}: {error}");

    // Changes by key go through the change log; readers merge it until it is folded.
    let changes = ChangeSet {
        schema: schema(),
        key: vec!["id".into()],
        truncate: false,
        inserts: vec![rows(&[4], &["d"])],
        merges: Some(merges(&[(2, "B", false), (3, "", true)])),
        evolution: Evolution::default(),
    };
    reopened.apply(&table, changes, &at(30)).await.unwrap();
    assert_eq!(lines(&reopen().read(&table, None).await.unwrap()), ["1 a", "2 B", "4 d"], "{name}");
    reopened.fold(&table).await.unwrap();
    assert_eq!(lines(&reopen().scan(&table, None).await.unwrap()), ["1 a", "2 B", "4 d"], "{name}: folded");
    assert_eq!(reopen().checkpoint(&table, "cdc").await.unwrap(), Some(Lsn(30)));

    // Concurrent writers never both write one version: each commit lands once, none is
    // overwritten (on S3 a version is a conditional put).
    let before = reopen().version(&table).await.unwrap().unwrap();
    let writers = (0..4u64).map(|writer| {
        let warehouse = reopen();
        let table = table.clone();
        tokio::spawn(async move {
            for row in 0..3 {
                let id = (100 + writer * 10 + row) as i64;
                let checkpoint = Checkpoint { writer: format!("w{writer}"), lsn: Lsn(40 + row) };
                warehouse.append(&table, vec![rows(&[id], &["w"])], &checkpoint).await.unwrap();
            }
        })
    });
    for writer in writers.collect::<Vec<_>>() {
        writer.await.unwrap();
    }
    let info = reopen().describe(&table).await.unwrap().unwrap();
    assert_eq!(info.rows, 3 + 12, "{name}: {info:?}");
    assert_eq!(info.version, Version(before.0 + 12), "{name}: one version per commit");
    assert_eq!(reopen().checkpoint(&table, "w3").await.unwrap(), Some(Lsn(42)));

    // Compaction keeps the rows in fewer files; vacuum removes what it replaced.
    let compacted = reopened.compact(&table, 64 << 20).await.unwrap();
    assert!(compacted.files_removed > 1, "{name}: {compacted:?}");
    reopened.vacuum(&table, Duration::ZERO).await.unwrap();
    assert_eq!(reopen().read(&table, None).await.unwrap().iter().map(RecordBatch::num_rows).sum::<usize>(), 15);

    // A copy is made beside the table; readers keep the old rows until it is swapped in.
    let copied: TableId = "lab.items".parse().unwrap();
    assert_eq!(reopened.copy_origin("cdc").await.unwrap(), None);
    reopened.record_copy_origin("cdc", Lsn(50)).await.unwrap();
    reopened.begin_copy(&copied, schema()).await.unwrap();
    reopened.append_copy(&copied, vec![rows(&[1, 2], &["x", "y"])]).await.unwrap();
    assert!(!reopen().contains(&copied).await.unwrap(), "{name}: an unfinished first copy is not a table");
    reopened.finish_copy(&copied, &at(50)).await.unwrap();
    reopened.begin_copy(&copied, schema()).await.unwrap();
    reopened.append_copy(&copied, vec![rows(&[9], &["z"])]).await.unwrap();
    assert_eq!(lines(&reopen().read(&copied, None).await.unwrap()), ["1 x", "2 y"], "{name}: interrupted copy");
    reopened.finish_copy(&copied, &at(60)).await.unwrap();
    assert_eq!(lines(&reopen().read(&copied, None).await.unwrap()), ["9 z"]);
    assert_eq!(reopen().copy_origin("cdc").await.unwrap(), Some(Lsn(50)));

    // A writer's problem is kept beside the tables, with its first time, then cleared.
    let (error, summary) = ("lab.edges.limit: `NaN` is not a valid decimal", "lab.edges.limit: a value is not valid");
    assert_eq!(reopened.problem("cdc").await.unwrap(), None);
    let first = reopened.record_problem("cdc", error, summary).await.unwrap();
    let again = reopen().record_problem("cdc", error, summary).await.unwrap();
    assert_eq!(again.since, first.since);
    assert_eq!(reopen().problems().await.unwrap(), [again]);
    reopened.clear_problem("cdc").await.unwrap();
    reopened.clear_problem("cdc").await.unwrap();
    assert_eq!(reopen().problems().await.unwrap(), []);

    // The schema history reads back in source order.
    let renamed = opsflux_warehouse::SchemaChange {
        table: copied.clone(),
        lsn: Lsn(70),
        change: "renamed".into(),
        detail: "label → name".into(),
        columns: vec![opsflux_warehouse::SourceColumn {
            name: "name".into(),
            attnum: 2,
            type_oid: 25,
            type_modifier: -1,
        }],
    };
    reopened.record_schema_changes("cdc", std::slice::from_ref(&renamed)).await.unwrap();
    let history = reopen().schema_changes().await.unwrap();
    assert_eq!(history.iter().map(|record| &record.change).collect::<Vec<_>>(), [&renamed], "{name}");

    // Records, copies, change logs and the history are not taken for tables.
    assert_eq!(reopen().tables().await.unwrap(), [copied, table], "{name}");
}

#[tokio::test]
async fn the_contract_holds_on_a_local_directory() {
    let directory = tempfile::tempdir().unwrap();
    contract("local", || Warehouse::open(directory.path()).unwrap()).await;
    assert!(directory.path().join("pob/stays/_delta_log").is_dir(), "tables are directories on the disk");
    assert!(!directory.path().join("_copies/lab/items").exists(), "a finished copy leaves nothing behind");
}

#[tokio::test]
async fn the_contract_holds_in_memory() {
    let warehouse = Warehouse::in_memory();
    contract("memory", || warehouse.clone()).await;
}

#[tokio::test]
async fn the_contract_holds_on_s3_and_other_readers_see_the_tables() {
    let s3 = S3Server::start();
    s3.create_bucket("contract");
    let open = || Warehouse::with_storage(s3.storage("s3://contract/warehouse"));
    contract("s3", open).await;
    let warehouse = open();
    assert_eq!(warehouse.location(), "s3://contract/warehouse");
    let url = warehouse.table_url(&"pob.stays".parse().unwrap());
    assert_eq!(url.as_str(), "s3://contract/warehouse/pob/stays/");

    // An independent Delta reader (Python's deltalake) reads the same table from S3.
    let script = r#"
import json, os, sys, deltalake
options = json.loads(sys.argv[2])
table = deltalake.DeltaTable(sys.argv[1], storage_options=options)
print(json.dumps({"version": table.version(), "rows": table.to_pyarrow_table().num_rows}), flush=True)
# The package's object-store threads can abort the interpreter's teardown
# ("terminate called without an active exception") once the answer is out: leave
# without the teardown.
os._exit(0)
"#;
    let options: serde_json::Map<String, serde_json::Value> =
        s3.environment().into_iter().map(|(name, value)| (name.to_owned(), value.into())).collect();
    let output = std::process::Command::new("python3")
        .args(["-c", script, url.as_str(), &serde_json::Value::Object(options).to_string()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let seen: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let info = warehouse.describe(&"pob.stays".parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(seen, serde_json::json!({"version": info.version.0, "rows": 15}));

    // A bucket that does not exist is an error that names the place, not an empty
    // warehouse; so is a setting S3 does not know, and credentials written in the URL.
    let missing = Warehouse::with_storage(s3.storage("s3://no-such-bucket/w"));
    let error = missing.tables().await.unwrap_err().to_string();
    assert!(error.starts_with("warehouse storage s3://no-such-bucket/w/: cannot list: "), "{error}");
    let error = Storage::open_with(std::path::Path::new("s3://contract/w"), &[("aws_colour", "blue")]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "`s3://contract/w`: setting `aws_colour`: not an S3 setting (expected e.g. aws_endpoint_url, aws_region, aws_access_key_id)"
    );
    let error = Storage::open(std::path::Path::new("s3://AKIA123:s3cr3t@contract/w")).unwrap_err().to_string();
    assert_eq!(
        error,
        "`s3://contract/w`: setting `credentials`: give them in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, not in the URL"
    );
}

/// `opsflux ingest` captures into `s3://`, and `opsflux serve` reads it back, as a user
/// would run them: the binary, the bucket named on the command line, credentials and
/// endpoint in the standard AWS variables.
#[tokio::test]
async fn ingest_and_serve_run_against_s3() {
    let s3 = S3Server::start();
    s3.create_bucket("operations");
    let (url, pool) = migrated_pool("s3_capture").await;
    let loaded = std::process::Command::new(env!("CARGO_BIN_EXE_opsflux-under-test"))
        .args(["sample-data", "--seed", "5", "--scale", "0.01", "--database-url", &url])
        .output()
        .unwrap();
    assert!(loaded.status.success(), "{}", String::from_utf8_lossy(&loaded.stderr));
    let location = "s3://operations/plant/warehouse";
    let ingest = |extra: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_opsflux-under-test"));
        command
            .args(["ingest", "--database-url", &url, "--warehouse", location, "--slot", "s3_capture"])
            .args(["--publication", "s3_capture", "--until-caught-up"])
            .args(extra)
            .envs(s3.environment());
        command.output().unwrap()
    };
    let first = ingest(&[]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));

    // Changes after the copy stream in on the next run.
    sqlx::query("UPDATE core.sites SET name = name || ' (S3)' WHERE id = (SELECT min(id::text)::uuid FROM core.sites)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "DELETE FROM powertrace.meter_readings WHERE ctid IN (SELECT ctid FROM powertrace.meter_readings LIMIT 3)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let second = ingest(&[]);
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));

    let warehouse = Warehouse::with_storage(s3.storage(location));
    let (counts, differences) = crate::capture::compare(&url, &warehouse).await;
    assert!(differences.is_empty(), "the S3 warehouse differs from PostgreSQL:\n{}", differences.join("\n"));
    assert!(counts.iter().any(|line| line == "core.sites 10"), "{counts:?}");

    // `ingest status` reads the same bucket.
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_opsflux-under-test"))
        .args(["ingest", "status", "--database-url", &url, "--warehouse", location, "--slot", "s3_capture"])
        .args(["--publication", "s3_capture"])
        .envs(s3.environment())
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    assert!(
        String::from_utf8_lossy(&status.stdout).contains("core.sites"),
        "{}",
        String::from_utf8_lossy(&status.stdout)
    );

    // A server over the same warehouse answers from it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let search = tempfile::tempdir().unwrap();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_opsflux-under-test"))
        .args(["serve", "--warehouse", location, "--listen", &listen])
        .arg("--search-dir")
        .arg(search.path())
        .env_remove("OPSFLUX_DATABASE_URL")
        .envs(s3.environment())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let address: std::net::SocketAddr = listen.parse().unwrap();
    let started = std::time::Instant::now();
    while tokio::net::TcpStream::connect(address).await.is_err() {
        if let Ok(Some(status)) = server.try_wait() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(server.stderr.as_mut().unwrap(), &mut stderr).unwrap();
            panic!("serve exited with {status}: {stderr}");
        }
        assert!(started.elapsed() < Duration::from_secs(120), "serve did not answer within 120 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let health = opsflux_tests::send(address, "GET", "/healthz", &[], "").await;
    let tables = opsflux_tests::send(address, "GET", "/api/tables", &[], "").await;
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!((health.status, health.body.as_str()), (200, "ok"));
    assert_eq!(tables.status, 200, "{}", tables.body);
    let served: Vec<String> = tables.json()["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|table| format!("{} {}", table["table"].as_str().unwrap(), table["rows"]))
        .collect();
    for name in ["core.sites ", "tiers.contacts ", "powertrace.meter_readings "] {
        let captured = counts.iter().find(|line| line.starts_with(name)).unwrap();
        assert!(served.contains(captured), "{captured} served from S3: {served:?}");
    }
}
