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

/// Reads a warehouse table with the `deltalake` Python package, an independent Delta
/// reader, and returns what it saw as JSON.
pub(crate) fn read_with_python_deltalake(path: &std::path::Path) -> serde_json::Value {
    let script = r#"
import json, os, sys
import deltalake
import pyarrow, pyarrow.parquet
table = deltalake.DeltaTable(sys.argv[1])
try:
    data = table.to_pyarrow_table()
except ValueError:
    # The package's pyarrow path parses each file's min/max statistics as Python dates,
    # which stop at years 1 and 9999: read the files the Delta log lists directly.
    data = pyarrow.concat_tables(pyarrow.parquet.read_table(uri) for uri in table.file_uris())
try:
    sample = {name: str(value) for name, value in (data.slice(0, 1).to_pylist() or [{}])[0].items()}
except (ValueError, OverflowError):
    # Dates before year 1 or after 9999 have no Python form; the types and rows still do.
    sample = {}
print(json.dumps({
    "version": table.version(),
    "rows": data.num_rows,
    "types": {field.name: str(field.type) for field in data.schema},
    "sample": sample,
}), flush=True)
# The deltalake package's background threads sometimes abort the interpreter's own
# shutdown ("terminate called without an active exception"), after the work is done.
os._exit(0)
"#;
    let output =
        std::process::Command::new("python3").args(["-c", script]).arg(path).output().unwrap_or_else(|error| {
            panic!("cannot run python3 ({error}); scripts/test.sh installs it with the deltalake package")
        });
    assert!(output.status.success(), "python deltalake failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}
