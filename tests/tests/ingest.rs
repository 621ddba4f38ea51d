//! Change data capture against a real PostgreSQL: what `pgoutput` reports for each kind
//! of change, decoded.

use expect_test::expect;
use opsflux_ingest::pgoutput::{self, Message, OldTuple, Value};
use opsflux_tests::migrated_pool;

/// Decodes every change waiting in `slot` into one line per message, with the LSNs and
/// times (which differ from run to run) left out.
async fn decoded_changes(pool: &sqlx::PgPool, slot: &str) -> String {
    let payloads: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT data FROM pg_logical_slot_get_binary_changes($1, NULL, NULL,
             'proto_version', '1', 'publication_names', 'opsflux_test')",
    )
    .bind(slot)
    .fetch_all(pool)
    .await
    .unwrap();
    let mut names = std::collections::HashMap::new();
    let mut lines = Vec::new();
    let values = |tuple: &[Value]| tuple.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
    for payload in payloads {
        let line = match pgoutput::decode(&payload).unwrap() {
            Message::Begin { .. } => "BEGIN".to_owned(),
            Message::Commit { commit_lsn, end_lsn, .. } => {
                assert!(end_lsn >= commit_lsn);
                "COMMIT".to_owned()
            }
            Message::Relation(relation) => {
                names.insert(relation.id, format!("{}.{}", relation.namespace, relation.name));
                let columns: Vec<String> = relation
                    .columns
                    .iter()
                    .map(|column| {
                        format!("{}{}:{}", if column.is_key { "*" } else { "" }, column.name, column.type_oid)
                    })
                    .collect();
                format!(
                    "RELATION {}.{} {:?} [{}]",
                    relation.namespace,
                    relation.name,
                    relation.replica_identity,
                    columns.join(" ")
                )
            }
            Message::Insert { relation, new } => format!("INSERT {} ({})", names[&relation], values(&new)),
            Message::Update { relation, old, new } => format!(
                "UPDATE {}{} ({})",
                names[&relation],
                old.map(|OldTuple { key_only, values: old }| format!(
                    " old{} ({})",
                    if key_only { " key" } else { "" },
                    values(&old)
                ))
                .unwrap_or_default(),
                values(&new)
            ),
            Message::Delete { relation, old } => {
                format!("DELETE {} key={} ({})", names[&relation], old.key_only, values(&old.values))
            }
            Message::Truncate { relations, cascade, .. } => {
                let tables: Vec<&str> = relations.iter().map(|id| names[id].as_str()).collect();
                format!("TRUNCATE {} cascade={cascade}", tables.join(", "))
            }
            other => format!("{other:?}"),
        };
        lines.push(line);
    }
    lines.join("\n")
}

#[tokio::test]
async fn pgoutput_reports_inserts_updates_deletes_truncates_and_unchanged_toast() {
    let (_, pool) = migrated_pool("pgoutput").await;
    sqlx::raw_sql(
        "CREATE TABLE public.notes (id int PRIMARY KEY, title text, body text, weight numeric(6,2));
         ALTER TABLE public.notes ALTER COLUMN body SET STORAGE EXTERNAL;
         CREATE PUBLICATION opsflux_test FOR TABLE public.notes;",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("SELECT pg_create_logical_replication_slot('opsflux_test_slot', 'pgoutput')")
        .execute(&pool)
        .await
        .unwrap();

    // A body over 2 kB stored out of line: an update that leaves it alone does not resend it.
    sqlx::raw_sql(
        "BEGIN;
         INSERT INTO public.notes VALUES (1, 'Relève', repeat('x', 5000), 12.5), (2, NULL, 'court', NULL);
         COMMIT;
         UPDATE public.notes SET title = 'Relève d''équipe' WHERE id = 1;
         UPDATE public.notes SET id = 3 WHERE id = 2;
         DELETE FROM public.notes WHERE id = 3;
         TRUNCATE public.notes;",
    )
    .execute(&pool)
    .await
    .unwrap();
    let decoded = decoded_changes(&pool, "opsflux_test_slot").await;
    let decoded = decoded.replace(&"x".repeat(5000), "x×5000");
    expect![[r#"
        BEGIN
        RELATION public.notes Default [*id:23 title:25 body:25 weight:1700]
        INSERT public.notes ("1", "Relève", "x×5000", "12.50")
        INSERT public.notes ("2", NULL, "court", NULL)
        COMMIT
        BEGIN
        UPDATE public.notes ("1", "Relève d'équipe", (unchanged), "12.50")
        UPDATE public.notes old key ("2", NULL, NULL, NULL) ("3", NULL, "court", NULL)
        DELETE public.notes key=true ("3", NULL, NULL, NULL)
        RELATION public.notes Default [*id:23 title:25 body:25 weight:1700]
        TRUNCATE public.notes cascade=false
        COMMIT"#]]
    .assert_eq(&decoded);
    sqlx::query("SELECT pg_drop_replication_slot('opsflux_test_slot')").execute(&pool).await.unwrap();
}

#[tokio::test]
async fn the_initial_copy_puts_every_captured_table_in_the_warehouse() {
    use opsflux_ingest::snapshot;
    use opsflux_warehouse::{Checkpoint, Lsn, Warehouse};

    let (_, pool) = migrated_pool("snapshot").await;
    let mut connection = pool.acquire().await.unwrap();
    let dataset = opsflux_sample_data::Dataset::generate(opsflux_sample_data::Options::new(21, 0.01).unwrap());
    opsflux_sample_data::load(&mut connection, &dataset, |_| {}).await.unwrap();
    sqlx::raw_sql("CREATE SCHEMA scratch; CREATE TABLE scratch.no_key (note text); CREATE TABLE scratch.empty (id int PRIMARY KEY)")
        .execute(&mut *connection)
        .await
        .unwrap();

    let (tables, skipped) = snapshot::discover_tables(&mut connection).await.unwrap();
    assert_eq!(tables.len(), 54, "53 operational tables and scratch.empty");
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].name, "scratch.no_key");
    let stays = tables.iter().find(|table| table.id.to_string() == "pob.stays").unwrap();
    assert_eq!(stays.key, ["id"]);

    let directory = tempfile::tempdir().unwrap();
    let warehouse = Warehouse::open(directory.path()).unwrap();
    let checkpoint = Checkpoint { writer: "test".into(), lsn: Lsn(0x1_0000) };
    let counts = opsflux_api::database::table_row_counts(&pool).await.unwrap();
    for table in &tables {
        // Small commits, so that the readings table is copied in several.
        let copied =
            snapshot::copy_table(&mut connection, &warehouse, table, &checkpoint, 40_000, |_| {}).await.unwrap();
        let expected = counts.iter().find(|(name, _)| *name == table.id.to_string()).map_or(0, |(_, rows)| *rows);
        assert_eq!(copied, expected as u64, "{}", table.id);
        let scanned: usize = warehouse.scan(&table.id, None).await.unwrap().iter().map(|batch| batch.num_rows()).sum();
        assert_eq!(scanned as u64, copied, "{}", table.id);
        assert_eq!(warehouse.checkpoint(&table.id, "test").await.unwrap(), Some(checkpoint.lsn), "{}", table.id);
    }
    let readings: opsflux_warehouse::TableId = "powertrace.meter_readings".parse().unwrap();
    assert!(warehouse.version(&readings).await.unwrap().unwrap().0 >= 2, "the readings took several commits");

    // An independent Delta reader sees the same rows with the mapped types.
    let seen = read_with_python_deltalake(&warehouse.table_path(&readings));
    let expected_rows = counts.iter().find(|(name, _)| name == "powertrace.meter_readings").unwrap().1;
    assert_eq!(seen["rows"], expected_rows);
    expect![[r#"
        {
          "created_at": "timestamp[us, tz=UTC]",
          "created_by": "string",
          "deleted_at": "timestamp[us, tz=UTC]",
          "deleted_by": "string",
          "external_id": "string",
          "id": "string",
          "kvar": "double",
          "kw": "double",
          "meter_id": "string",
          "read_at": "timestamp[us, tz=UTC]",
          "updated_at": "timestamp[us, tz=UTC]",
          "updated_by": "string"
        }"#]]
    .assert_eq(&serde_json::to_string_pretty(&seen["types"]).unwrap());
    let sites = read_with_python_deltalake(&warehouse.table_path(&"core.sites".parse().unwrap()));
    assert_eq!((sites["rows"].as_i64(), sites["version"].as_i64()), (Some(10), Some(0)));
}

/// Reads a warehouse table with the `deltalake` Python package, an independent Delta
/// reader, and returns what it saw as JSON.
pub(crate) fn read_with_python_deltalake(path: &std::path::Path) -> serde_json::Value {
    let script = r#"
import json, sys
import deltalake
table = deltalake.DeltaTable(sys.argv[1])
data = table.to_pyarrow_table()
print(json.dumps({
    "version": table.version(),
    "rows": data.num_rows,
    "types": {field.name: str(field.type) for field in data.schema},
    "sample": {name: str(value) for name, value in (data.slice(0, 1).to_pylist() or [{}])[0].items()},
}))
"#;
    let output =
        std::process::Command::new("python3").args(["-c", script]).arg(path).output().unwrap_or_else(|error| {
            panic!("cannot run python3 ({error}); scripts/test.sh installs it with the deltalake package")
        });
    assert!(output.status.success(), "python deltalake failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}
