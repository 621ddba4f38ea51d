//! Search at one million records, side by side with PostgreSQL full-text search on the
//! same rows in the same run:
//!
//! 1. building: `opsflux search reindex` of a warehouse holding the records (a process
//!    of its own: time, peak RSS, index size) against PostgreSQL adding a stored
//!    `to_tsvector('french', title || ' ' || description)` column and its GIN index
//!    (time, column and index size);
//! 2. answering: p50 and p99 of plain, typo, prefix and faceted queries, each for a
//!    reader of three of the ten sites — OpsFlux's whole answer (hits, count, facet
//!    counts, highlighted snippets) against PostgreSQL's 20 best rows by `ts_rank` under
//!    the same site filter (`websearch_to_tsquery`, and `:*` for prefixes; it has no
//!    typo tolerance, so typo queries find little there).
//!
//! Settings: OPSFLUX_BENCH_SEARCH_ENTRIES (1000000), OPSFLUX_BENCH_SEARCH_RUNS (200 per
//! query kind).

use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, ensure};
use opsflux_api::cluster::{Cluster, ClusterOptions};
use opsflux_benches::{CHILD, millis, percentile, setting, timed, wait_measured};
use opsflux_search::{Filters, SearchIndex, SearchRequest, Visibility};
use opsflux_warehouse::arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampMicrosecondArray};
use opsflux_warehouse::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use opsflux_warehouse::{Checkpoint, Lsn, TableId, Warehouse};
use rand::{Rng, SeedableRng};

const SITES: &[(&str, &str)] = &[
    ("ALB", "Plateforme Albatros"),
    ("CRM", "Plateforme Cormoran"),
    ("GLD", "Plateforme Goéland"),
    ("MRN", "FPSO Marianne"),
    ("MST", "Plateforme Mistral"),
    ("NKS", "Plateforme N'Kossa Sud"),
    ("PGL", "Base logistique de Port-Gentil"),
    ("PNR", "Base de Pointe-Noire"),
    ("SRC", "Appareil de forage Sirocco"),
    ("LCQ", "FPSO Lucque"),
];
const ACTIONS: &[&str] = &[
    "Remplacement",
    "Modification",
    "Ajout",
    "Suppression",
    "Révision",
    "Mise à niveau",
    "Déplacement",
    "Inspection",
    "Réparation",
    "Contournement temporaire",
];
const EQUIPMENT: &[&str] = &[
    "compresseur de gaz",
    "pompe d'injection d'eau",
    "turbine à gaz",
    "échangeur de chaleur",
    "vanne de sécurité",
    "séparateur triphasique",
    "groupe électrogène",
    "tableau électrique",
    "transformateur",
    "détecteur incendie",
    "réchauffeur électrique",
    "moteur de treuil",
    "grue de pont",
    "ballon de torche",
    "compresseur d'air instrument",
    "pompe de relevage",
    "soupape de décharge",
    "filtre à huile",
    "variateur de vitesse",
    "batterie de secours",
];
const CAUSES: &[&str] = &[
    "Fuite d'huile constatée sur les garnitures",
    "Vibrations anormales relevées lors de la ronde",
    "Alarme de haute température déclenchée à plusieurs reprises",
    "Corrosion avancée des supports et de la tuyauterie",
    "Obsolescence des pièces de rechange chez le fournisseur",
    "Demande de l'exploitation pour augmenter la capacité",
    "Écart relevé lors de l'audit de sécurité",
    "Défaut d'isolement mesuré sur le circuit d'alimentation",
    "Perte de production liée aux arrêts répétés",
    "Recommandation de l'étude HAZOP",
];
const ENGLISH: &[&str] = &[
    "Oil leak found on the mechanical seals of the pumps",
    "Emergency generator failed to start during the weekly test",
    "Fire alarm triggered by smoke in the compressor room",
    "Replace the corroded pipe supports before the next shutdown",
];
const STATUSES: &[&str] = &[
    "submitted",
    "in_evaluation",
    "in_validation",
    "approved",
    "rejected",
    "in_implementation",
    "implemented",
    "closed",
];

/// The queries of each kind, taken in turn.
const KINDS: &[(&str, &[&str])] = &[
    (
        "plain",
        &["fuite compresseur", "groupe électrogène", "vibrations pompe", "corrosion tuyauterie", "alarme température"],
    ),
    ("typo", &["compreseur", "electrogene", "vibrasions", "échangeur chaleru", "transformatuer"]),
    ("prefix", &["compres", "échang", "transfo", "détect", "réchauf"]),
    ("faceted", &["fuite", "corrosion", "turbine", "pompe", "vanne"]),
];

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    if let Some(outcome) = opsflux_benches::child_cli(&runtime) {
        return outcome;
    }
    let entries: usize = setting("OPSFLUX_BENCH_SEARCH_ENTRIES", 1_000_000)?;
    let runs: usize = setting("OPSFLUX_BENCH_SEARCH_RUNS", 200)?;
    let work = tempfile::tempdir()?;
    let cluster =
        Cluster::start(&ClusterOptions { directory: work.path().join("postgres"), port: None, durable: true })?;
    cluster.remove_when_process_exits(std::process::id())?;
    let outcome = runtime.block_on(run(&cluster, work.path(), entries, runs));
    cluster.stop()?;
    outcome
}

/// One MOC request: id, site, status, title, description, submitted (µs since 1970).
type Row = (String, &'static str, &'static str, String, String, i64);

fn generate(entries: usize) -> Vec<Row> {
    let mut random = rand_chacha::ChaCha8Rng::seed_from_u64(2026);
    let start = 1_672_531_200_000_000i64; // 2023-01-01
    (0..entries)
        .map(|number| {
            let site = SITES[random.random_range(0..SITES.len())];
            let equipment = EQUIPMENT[random.random_range(0..EQUIPMENT.len())];
            let initial = equipment.chars().next().map_or('X', |letter| letter.to_ascii_uppercase());
            let tag = format!("{initial}-{}", random.random_range(100..999));
            let title = format!("{} du {equipment} {tag}", ACTIONS[random.random_range(0..ACTIONS.len())]);
            let mut description = format!(
                "{} ({equipment} {tag}). {}.",
                CAUSES[random.random_range(0..CAUSES.len())],
                CAUSES[random.random_range(0..CAUSES.len())]
            );
            if random.random_range(0..10) == 0 {
                description.push(' ');
                description.push_str(ENGLISH[random.random_range(0..ENGLISH.len())]);
            }
            description.push_str(&format!(" {} · {}", site.1, site.0));
            let id = format!("{:08x}-0000-4000-8000-{:012x}", number / 1_000_000, number);
            let submitted = start + random.random_range(0..3 * 365 * 86_400i64) * 1_000_000;
            (id, site.0, STATUSES[random.random_range(0..STATUSES.len())], title, description, submitted)
        })
        .collect()
}

async fn write_warehouse(path: &Path, rows: &[Row]) -> anyhow::Result<()> {
    let warehouse = Warehouse::open(path)?;
    let checkpoint = Checkpoint { writer: "bench".into(), lsn: Lsn(1) };
    let text = |name: &str| Field::new(name, DataType::Utf8, true);
    let sites = RecordBatch::try_new(
        Arc::new(Schema::new(vec![text("id"), text("code"), text("name"), text("deleted_at")])),
        vec![
            Arc::new(StringArray::from_iter_values(SITES.iter().map(|(code, _)| format!("site-{code}")))) as ArrayRef,
            Arc::new(StringArray::from_iter_values(SITES.iter().map(|(code, _)| *code))),
            Arc::new(StringArray::from_iter_values(SITES.iter().map(|(_, name)| *name))),
            Arc::new(StringArray::from(vec![None::<&str>; SITES.len()])),
        ],
    )?;
    warehouse.append(&"core.sites".parse::<TableId>()?, vec![sites], &checkpoint).await?;
    let time = || DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let schema = Arc::new(Schema::new(vec![
        text("id"),
        text("reference"),
        text("site_id"),
        text("title"),
        text("description"),
        text("category"),
        text("risk_level"),
        text("status"),
        Field::new("submitted_at", time(), true),
        Field::new("deleted_at", time(), true),
    ]));
    let table: TableId = "moc.requests".parse()?;
    for chunk in rows.chunks(200_000) {
        let column = |values: Vec<String>| Arc::new(StringArray::from(values)) as ArrayRef;
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                column(chunk.iter().map(|row| row.0.clone()).collect()),
                column(chunk.iter().enumerate().map(|(index, row)| format!("MOC-{}-{index}", &row.0[24..])).collect()),
                column(chunk.iter().map(|row| format!("site-{}", row.1)).collect()),
                column(chunk.iter().map(|row| row.3.clone()).collect()),
                column(chunk.iter().map(|row| row.4.clone()).collect()),
                column(chunk.iter().map(|_| "equipment".to_owned()).collect()),
                column(chunk.iter().map(|_| "medium".to_owned()).collect()),
                column(chunk.iter().map(|row| row.2.to_owned()).collect()),
                Arc::new(
                    TimestampMicrosecondArray::from_iter_values(chunk.iter().map(|row| row.5)).with_timezone("UTC"),
                ),
                Arc::new(TimestampMicrosecondArray::from(vec![None::<i64>; chunk.len()]).with_timezone("UTC")),
            ],
        )?;
        warehouse.append(&table, vec![batch], &checkpoint).await?;
    }
    Ok(())
}

async fn run(cluster: &Cluster, work: &Path, entries: usize, runs: usize) -> anyhow::Result<()> {
    let (rows, took) = timed(|| generate(entries));
    println!("{entries} MOC requests generated in {:.1} s (not measured)", took.as_secs_f64());
    let warehouse = work.join("warehouse");
    write_warehouse(&warehouse, &rows).await?;

    // 1. Building, OpsFlux: the index from the warehouse, in a process of its own.
    let index_directory = work.join("search");
    let arguments = [
        "search",
        "reindex",
        "--warehouse",
        &warehouse.display().to_string(),
        "--search-dir",
        &index_directory.display().to_string(),
    ];
    let started = Instant::now();
    let child = Command::new(std::env::current_exe()?)
        .env(CHILD, arguments.join("\u{1f}"))
        .env("OPSFLUX_LOG", "warn")
        .spawn()?;
    let (build_time, peak_kib) = wait_measured(child, started)?;
    let index_bytes = directory_bytes(&index_directory)?;

    // 1. Building, PostgreSQL: the same rows, then a stored tsvector and its GIN index.
    let url = cluster.url("bench_search");
    opsflux_api::database::migrate(&url).await?;
    let pool = opsflux_api::database::connect(&url, 4).await?;
    sqlx::query("CREATE SCHEMA bench").execute(&pool).await?;
    sqlx::query(
        "CREATE TABLE bench.moc (id uuid PRIMARY KEY, site text NOT NULL, status text NOT NULL, title text NOT NULL,
         description text NOT NULL, submitted_at timestamptz NOT NULL)",
    )
    .execute(&pool)
    .await?;
    let mut csv = Vec::new();
    for row in &rows {
        let escape = |text: &str| text.replace('"', "\"\"");
        let submitted = chrono::DateTime::from_timestamp_micros(row.5).context("a timestamp")?.to_rfc3339();
        writeln!(csv, "{},{},{},\"{}\",\"{}\",{submitted}", row.0, row.1, row.2, escape(&row.3), escape(&row.4))?;
    }
    let mut connection = pool.acquire().await?;
    let mut copy = connection
        .copy_in_raw("COPY bench.moc (id, site, status, title, description, submitted_at) FROM STDIN WITH (FORMAT csv)")
        .await?;
    copy.send(csv.as_slice()).await?;
    copy.finish().await?;
    drop(connection);
    let started = Instant::now();
    sqlx::query(
        "ALTER TABLE bench.moc ADD COLUMN document tsvector
         GENERATED ALWAYS AS (to_tsvector('french', title || ' ' || description)) STORED",
    )
    .execute(&pool)
    .await?;
    sqlx::query("CREATE INDEX moc_document ON bench.moc USING gin (document)").execute(&pool).await?;
    sqlx::query("CREATE INDEX moc_site ON bench.moc (site)").execute(&pool).await?;
    sqlx::query("VACUUM ANALYZE bench.moc").execute(&pool).await?;
    let pg_build = started.elapsed();
    let (gin_bytes, table_bytes): (i64, i64) = sqlx::query_as(
        "SELECT pg_relation_size('bench.moc_document'), pg_total_relation_size('bench.moc') - pg_indexes_size('bench.moc')",
    )
    .fetch_one(&pool)
    .await?;

    println!("\n## 1. building the search over {entries} records");
    println!("| builder | seconds | peak RSS | size on disk |");
    println!("|---|---:|---:|---:|");
    println!(
        "| PostgreSQL: stored `to_tsvector('french', …)` column + GIN index (baseline) | {:.1} | - | GIN {} MiB (table with the column {} MiB) |",
        pg_build.as_secs_f64(),
        gin_bytes >> 20,
        table_bytes >> 20
    );
    println!(
        "| opsflux search reindex: read the warehouse, analyze (fr, en, plain), index | {:.1} | {} MiB | {} MiB |",
        build_time.as_secs_f64(),
        peak_kib >> 10,
        index_bytes >> 20
    );

    // 2. Answering, both for a reader of three sites.
    let index = SearchIndex::open(&index_directory)?;
    ensure!(index.len() == entries as u64, "the index holds {} records, not {entries}", index.len());
    let scope: Vec<String> = SITES[..3].iter().map(|(code, _)| (*code).to_owned()).collect();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).context("a date")?;
    println!("\n## 2. answering, {runs} runs per kind, reader of 3 of 10 sites (ms)");
    println!(
        "| query kind | opsflux p50 | opsflux p99 | PostgreSQL p50 | PostgreSQL p99 | p99 ratio | hits (opsflux / PostgreSQL, first query) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (kind, queries) in KINDS {
        let request = |text: &str| {
            let mut request = SearchRequest::new(text, today);
            request.visibility = Visibility { sites: Some(scope.iter().cloned().collect()), modules: None };
            if *kind == "faceted" {
                request.filters =
                    Filters { module: Some("moc".into()), status: Some("in_evaluation".into()), ..Filters::default() };
            }
            request
        };
        let statement = match *kind {
            "prefix" => {
                "SELECT id::text, title, ts_rank(document, q) AS rank FROM bench.moc,
                           to_tsquery('french', $1 || ':*') q WHERE document @@ q AND site = ANY($2)
                           ORDER BY rank DESC LIMIT 20"
            }
            "faceted" => {
                "SELECT id::text, title, ts_rank(document, q) AS rank FROM bench.moc,
                           websearch_to_tsquery('french', $1) q WHERE document @@ q AND site = ANY($2)
                           AND status = 'in_evaluation' ORDER BY rank DESC LIMIT 20"
            }
            _ => {
                "SELECT id::text, title, ts_rank(document, q) AS rank FROM bench.moc,
                   websearch_to_tsquery('french', $1) q WHERE document @@ q AND site = ANY($2)
                   ORDER BY rank DESC LIMIT 20"
            }
        };
        // Warm both, and note what the first query finds.
        let ours_found = index.search(&request(queries[0]))?.total;
        let theirs_found = sqlx::query(statement).bind(queries[0]).bind(&scope).fetch_all(&pool).await?.len();
        let mut ours = Vec::with_capacity(runs);
        let mut theirs = Vec::with_capacity(runs);
        for run in 0..runs {
            let text = queries[run % queries.len()];
            let started = Instant::now();
            std::hint::black_box(index.search(&request(text))?);
            ours.push(started.elapsed());
            let started = Instant::now();
            let found: Vec<(String, String, f32)> =
                sqlx::query_as(statement).bind(text).bind(&scope).fetch_all(&pool).await?;
            theirs.push(started.elapsed());
            std::hint::black_box(found);
        }
        let (ours, theirs) = (millis(&ours), millis(&theirs));
        println!(
            "| {kind} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2}× | {ours_found} / {theirs_found} (top 20) |",
            percentile(&ours, 0.5),
            percentile(&ours, 0.99),
            percentile(&theirs, 0.5),
            percentile(&theirs, 0.99),
            percentile(&ours, 0.99) / percentile(&theirs, 0.99),
        );
    }
    println!("goal: p99 < 10 ms at one million records, and faster than PostgreSQL on every kind");
    Ok(())
}

fn directory_bytes(path: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for item in std::fs::read_dir(path)? {
        let metadata = item?.metadata()?;
        if metadata.is_file() {
            total += metadata.len();
        }
    }
    Ok(total)
}
