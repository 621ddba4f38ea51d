//! The search contract, on an index in memory and on disk alike: a small warehouse of
//! French and English records in, whole result lists out (ranks, marks, facets), then
//! the index following inserts, updates, deletions and truncations of the warehouse,
//! and a sync interrupted before its commit leaving no trace.

use std::sync::Arc;

use chrono::NaiveDate;
use expect_test::{Expect, expect};
use opsflux_search::{Filters, Results, SearchError, SearchIndex, SearchRequest, Visibility};
use opsflux_warehouse::arrow::array::{
    ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use opsflux_warehouse::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use opsflux_warehouse::{ChangeSet, Checkpoint, DELETE_COLUMN, Evolution, Lsn, TableId, Warehouse};

/// A column of a fixture table: text, timestamp (`2026-10-01`) or number.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Time,
    Number,
}
use Kind::*;

struct Fixture {
    warehouse: Warehouse,
    lsn: std::sync::atomic::AtomicU64,
}

fn schema(columns: &[(&str, Kind)]) -> Arc<Schema> {
    Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, kind)| {
                let data_type = match kind {
                    Text => DataType::Utf8,
                    Time => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                    Number => DataType::Float64,
                };
                Field::new(*name, data_type, true)
            })
            .collect::<Vec<_>>(),
    ))
}

/// Rows as text (`""` is null) in the columns' types.
fn batch(columns: &[(&str, Kind)], rows: &[&[&str]]) -> RecordBatch {
    let day =
        |text: &str| (NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap() - NaiveDate::default()).num_days() as i32;
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .enumerate()
        .map(|(index, (_, kind))| {
            let cells = rows.iter().map(|row| Some(row[index]).filter(|cell| !cell.is_empty()));
            let array: ArrayRef = match kind {
                Text => Arc::new(cells.collect::<StringArray>()),
                Time => Arc::new(
                    cells
                        .map(|cell| cell.map(|text| i64::from(day(text)) * 86_400_000_000))
                        .collect::<TimestampMicrosecondArray>()
                        .with_timezone("UTC"),
                ),
                Number => {
                    Arc::new(cells.map(|cell| cell.map(|text| text.parse::<f64>().unwrap())).collect::<Float64Array>())
                }
            };
            array
        })
        .collect();
    RecordBatch::try_new(schema(columns), arrays).unwrap()
}

impl Fixture {
    async fn change(&self, table: &str, columns: &[(&str, Kind)], rows: &[&[&str]], deletes: &[&str], truncate: bool) {
        let mut merged = rows.to_vec();
        let mut deleted_rows: Vec<Vec<&str>> = Vec::new();
        for id in deletes {
            let mut row = vec![""; columns.len()];
            row[0] = id;
            deleted_rows.push(row);
        }
        let flags: Vec<bool> = merged.iter().map(|_| false).chain(deleted_rows.iter().map(|_| true)).collect();
        merged.extend(deleted_rows.iter().map(Vec::as_slice));
        let merges = (!merged.is_empty()).then(|| {
            let rows = batch(columns, &merged);
            let mut fields: Vec<Field> = rows.schema().fields().iter().map(|field| field.as_ref().clone()).collect();
            fields.push(Field::new(DELETE_COLUMN, DataType::Boolean, true));
            let mut arrays = rows.columns().to_vec();
            arrays.push(Arc::new(BooleanArray::from(flags)));
            RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
        });
        let lsn = self.lsn.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let table: TableId = table.parse().unwrap();
        // A new table starts with its rows as inserts; later rows replace by key.
        let (inserts, merges) = if self.warehouse.contains(&table).await.unwrap() {
            (Vec::new(), merges)
        } else {
            (vec![batch(columns, rows)], None)
        };
        let changes = ChangeSet {
            schema: schema(columns),
            key: vec!["id".into()],
            truncate,
            inserts,
            merges,
            evolution: Evolution::default(),
        };
        self.warehouse.apply(&table, changes, &Checkpoint { writer: "fixture".into(), lsn: Lsn(lsn) }).await.unwrap();
    }

    async fn rows(&self, table: &str, columns: &[(&str, Kind)], rows: &[&[&str]]) {
        self.change(table, columns, rows, &[], false).await;
    }
}

const SITES: &[(&str, Kind)] = &[("id", Text), ("code", Text), ("name", Text), ("deleted_at", Time)];
const MOC: &[(&str, Kind)] = &[
    ("id", Text),
    ("reference", Text),
    ("site_id", Text),
    ("title", Text),
    ("description", Text),
    ("category", Text),
    ("risk_level", Text),
    ("status", Text),
    ("submitted_at", Time),
    ("deleted_at", Time),
];
const INCIDENTS: &[(&str, Kind)] = &[
    ("id", Text),
    ("reference", Text),
    ("site_id", Text),
    ("occurred_at", Time),
    ("severity", Text),
    ("category", Text),
    ("location", Text),
    ("status", Text),
    ("description", Text),
    ("deleted_at", Time),
];
const SWITCHBOARDS: &[(&str, Kind)] =
    &[("id", Text), ("site_id", Text), ("code", Text), ("name", Text), ("voltage_v", Number), ("deleted_at", Time)];
const EQUIPMENT: &[(&str, Kind)] = &[
    ("id", Text),
    ("site_id", Text),
    ("switchboard_id", Text),
    ("tag", Text),
    ("description", Text),
    ("rated_kw", Number),
    ("load_category", Text),
    ("deleted_at", Time),
];
const COMPANIES: &[(&str, Kind)] = &[
    ("id", Text),
    ("name", Text),
    ("kind", Text),
    ("registration_number", Text),
    ("city", Text),
    ("country", Text),
    ("deleted_at", Time),
];
const VEHICLES: &[(&str, Kind)] = &[
    ("id", Text),
    ("kind", Text),
    ("name", Text),
    ("registration", Text),
    ("operator_company_id", Text),
    ("home_site_id", Text),
    ("deleted_at", Time),
];
const TRIPS: &[(&str, Kind)] = &[
    ("id", Text),
    ("vehicle_id", Text),
    ("trip_number", Text),
    ("status", Text),
    ("departure_site_id", Text),
    ("arrival_site_id", Text),
    ("scheduled_departure_at", Time),
    ("deleted_at", Time),
];

async fn fixture() -> Fixture {
    let fixture = Fixture { warehouse: Warehouse::in_memory(), lsn: 1.into() };
    fixture
        .rows(
            "core.sites",
            SITES,
            &[
                &["s-alpha", "ALPHA", "Plateforme Alpha", ""],
                &["s-bravo", "BRAVO", "FPSO Bravo", ""],
                &["s-charlie", "CHARLIE", "Base Charlie", ""],
            ],
        )
        .await;
    fixture
        .rows(
            "moc.requests",
            MOC,
            &[
                &[
                    "moc-1",
                    "MOC-2026-001",
                    "s-alpha",
                    "Remplacement du compresseur de gaz K-101",
                    "Fuite d'huile sur le compresseur K-101 : remplacement des garnitures mécaniques",
                    "equipment",
                    "high",
                    "in_evaluation",
                    "2026-10-01",
                    "",
                ],
                &[
                    "moc-2",
                    "MOC-2026-002",
                    "s-bravo",
                    "Modification de la détection incendie",
                    "Ajout de détecteurs incendies dans le module de compression",
                    "process",
                    "medium",
                    "approved",
                    "2026-06-15",
                    "",
                ],
                &[
                    "moc-3",
                    "MOC-2025-014",
                    "s-alpha",
                    "Procédure de consignation électrique",
                    "Mise à jour de la procédure de consignation des tableaux électriques",
                    "procedure",
                    "low",
                    "closed",
                    "2025-03-02",
                    "",
                ],
                &[
                    "moc-4",
                    "MOC-2024-020",
                    "s-alpha",
                    "Ancienne demande supprimée",
                    "Compresseur d'air de secours",
                    "equipment",
                    "low",
                    "closed",
                    "2024-01-10",
                    "2024-02-01",
                ],
            ],
        )
        .await;
    fixture
        .rows(
            "hse.incidents",
            INCIDENTS,
            &[
                &[
                    "hse-1",
                    "HSE-2026-010",
                    "s-alpha",
                    "2026-11-20",
                    "near_miss",
                    "process_safety",
                    "Module de compression",
                    "under_investigation",
                    "Fuite de gaz détectée au compresseur K-101, alarme déclenchée",
                    "",
                ],
                &[
                    "hse-2",
                    "HSE-2026-011",
                    "s-bravo",
                    "2026-09-03",
                    "first_aid",
                    "electrical",
                    "Salle électrique",
                    "closed",
                    "Arc électrique lors d'une intervention sur le tableau TGBT-2",
                    "",
                ],
                &[
                    "hse-3",
                    "HSE-2024-003",
                    "s-charlie",
                    "2024-05-12",
                    "lost_time",
                    "slip_trip_fall",
                    "Quai",
                    "closed",
                    "Chute de plain-pied sur le quai mouillé",
                    "",
                ],
                &[
                    "hse-4",
                    "HSE-2026-012",
                    "s-charlie",
                    "2026-11-02",
                    "near_miss",
                    "process_safety",
                    "Generator room",
                    "reported",
                    "Fire alarm triggered by smoke from the emergency generators",
                    "",
                ],
            ],
        )
        .await;
    fixture
        .rows(
            "powertrace.switchboards",
            SWITCHBOARDS,
            &[
                &["sb-1", "s-alpha", "TGBT-1", "Tableau général basse tension", "400", ""],
                &["sb-2", "s-bravo", "TGBT-2", "Tableau général basse tension", "400", ""],
            ],
        )
        .await;
    fixture
        .rows(
            "powertrace.equipment",
            EQUIPMENT,
            &[
                &["eq-1", "s-alpha", "sb-1", "K-101", "Compresseur de gaz", "3200", "continuous", ""],
                &["eq-2", "s-bravo", "sb-2", "P-201", "Pompe d'injection d'eau", "450", "continuous", ""],
                &["eq-3", "s-charlie", "sb-2", "G-1", "Generator fuel pumps", "15", "standby", ""],
            ],
        )
        .await;
    fixture
        .rows(
            "tiers.companies",
            COMPANIES,
            &[&["co-1", "Compression Services Atlantique", "supplier", "RCS 123", "Port-Gentil", "Gabon", ""]],
        )
        .await;
    fixture
        .rows(
            "travel.vehicles",
            VEHICLES,
            &[&["v-1", "vessel", "Bourbon Liberty 301", "BL301", "co-1", "s-charlie", ""]],
        )
        .await;
    fixture
        .rows("travel.trips", TRIPS, &[&["t-1", "v-1", "TR-0042", "planned", "s-alpha", "s-bravo", "2026-12-03", ""]])
        .await;
    fixture
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
}

/// Hits one per line (kind, id, sites, status, marked title, marked fragment), then facets.
fn render(results: &Results) -> String {
    let mut out = format!("{} hits, page {} of {}\n", results.total, results.page, results.pages);
    for hit in &results.hits {
        out.push_str(&format!(
            "{} {} [{}] {} | {} | {}\n",
            hit.kind,
            hit.id,
            hit.sites.join(","),
            hit.status.as_deref().unwrap_or("-"),
            hit.title_html,
            hit.snippet
        ));
    }
    let facet = |name: &str, counts: &[(String, u64)]| {
        let counts: Vec<String> = counts.iter().map(|(value, count)| format!("{value}:{count}")).collect();
        format!("{name}: {}\n", counts.join(" "))
    };
    out.push_str(&facet("module", &results.facets.module));
    out.push_str(&facet("site", &results.facets.site));
    out.push_str(&facet("status", &results.facets.status));
    out.push_str(&facet("year", &results.facets.year));
    out
}

fn check(index: &SearchIndex, request: SearchRequest, expected: Expect) {
    // Snapshots are written from the index in memory; the disk index is then held to them.
    if index.location() != "memory" && std::env::var_os("UPDATE_EXPECT").is_some() {
        return;
    }
    let results = index.search(&request).unwrap_or_else(|error| panic!("{}: {error}", request.query));
    expected.assert_eq(&render(&results));
}

fn query(text: &str) -> SearchRequest {
    SearchRequest::new(text, today())
}

/// Every test runs on both directories.
async fn on_every_directory<F, Fut>(test: F)
where
    F: Fn(SearchIndex) -> Fut,
    Fut: Future<Output = ()>,
{
    test(SearchIndex::in_memory()).await;
    let directory = tempfile::tempdir().unwrap();
    test(SearchIndex::open(directory.path()).unwrap()).await;
}

#[tokio::test]
async fn french_queries_forgive_plurals_accents_and_typos() {
    let fixture = &fixture().await;
    on_every_directory(|index| async move {
        let report = index.sync(&fixture.warehouse, &()).await.unwrap();
        assert_eq!((report.added, report.removed, report.committed), (15, 0, true));
        check(&index, query("fuite compreseur ALPHA "), expect![[r#"
            2 hits, page 1 of 1
            moc_request moc-1 [ALPHA] in_evaluation | MOC-2026-001 — Remplacement du <mark>compresseur</mark> de gaz K-101 | <mark>Fuite</mark> d&#39;huile sur le <mark>compresseur</mark> K-101 : remplacement des garnitures mécaniques · equipment · high · Plateforme <mark>Alpha</mark> · <mark>ALPHA</mark>
            incident hse-1 [ALPHA] under_investigation | HSE-2026-010 — Module de compression | <mark>Fuite</mark> de gaz détectée au <mark>compresseur</mark> K-101, alarme déclenchée · process_safety · near_miss · Plateforme <mark>Alpha</mark> · <mark>ALPHA</mark>
            module: hse:1 moc:1
            site: ALPHA:2
            status: in_evaluation:1 under_investigation:1
            year: 2026:2
        "#]]);
        check(&index, query("incendies "), expect![[r#"
            1 hits, page 1 of 1
            moc_request moc-2 [BRAVO] approved | MOC-2026-002 — Modification de la détection <mark>incendie</mark> | Ajout de détecteurs <mark>incendies</mark> dans le module de compression · process · medium · FPSO Bravo · BRAVO
            module: moc:1
            site: BRAVO:1
            status: approved:1
            year: 2026:1
        "#]]);
        check(&index, query("electrique "), expect![[r#"
            2 hits, page 1 of 1
            incident hse-2 [BRAVO] closed | HSE-2026-011 — Salle <mark>électrique</mark> | Arc <mark>électrique</mark> lors d&#39;une intervention sur le tableau TGBT-2 · electrical · first_aid · FPSO Bravo · BRAVO
            moc_request moc-3 [ALPHA] closed | MOC-2025-014 — Procédure de consignation <mark>électrique</mark> | …procédure de consignation des tableaux <mark>électriques</mark> · procedure · low · Plateforme Alpha · ALPHA
            module: hse:1 moc:1
            site: ALPHA:1 BRAVO:1
            status: closed:2
            year: 2026:1 2025:1
        "#]]);
        // Two typos in a word of 12 letters.
        check(&index, query("konsignasion "), expect![[r#"
            1 hits, page 1 of 1
            moc_request moc-3 [ALPHA] closed | MOC-2025-014 — Procédure de <mark>consignation</mark> électrique | Mise à jour de la procédure de <mark>consignation</mark> des tableaux électriques · procedure · low · Plateforme Alpha · ALPHA
            module: moc:1
            site: ALPHA:1
            status: closed:1
            year: 2025:1
        "#]]);
        // A short word forgives nothing.
        check(&index, query("quia "), expect![[r#"
            0 hits, page 1 of 1
            module: 
            site: 
            status: 
            year: 
        "#]]);
    })
    .await;
}

#[tokio::test]
async fn english_prefix_and_phrase_queries() {
    let fixture = &fixture().await;
    on_every_directory(|index| async move {
        index.sync(&fixture.warehouse, &()).await.unwrap();
        check(&index, query("generators pump "), expect![[r#"
            1 hits, page 1 of 1
            equipment eq-3 [CHARLIE] - | G-1 — <mark>Generator</mark> fuel <mark>pumps</mark> | TGBT-2 · Tableau général basse tension · 15.0 kW · standby · Base Charlie · CHARLIE
            module: powertrace:1
            site: CHARLIE:1
            status: 
            year: 
        "#]]);
        check(&index, query("fire alarms "), expect![[r#"
            1 hits, page 1 of 1
            incident hse-4 [CHARLIE] reported | HSE-2026-012 — Generator room | <mark>Fire</mark> <mark>alarm</mark> triggered by smoke from the emergency generators · process_safety · near_miss · Base Charlie · CHARLIE
            module: hse:1
            site: CHARLIE:1
            status: reported:1
            year: 2026:1
        "#]]);
        // Still typing: "compres" begins compresseur, compression.
        check(&index, query("compres"), expect![[r#"
            6 hits, page 1 of 1
            incident hse-1 [ALPHA] under_investigation | HSE-2026-010 — Module de <mark>compression</mark> | Fuite de gaz détectée au <mark>compresseur</mark> K-101, alarme déclenchée · process_safety · near_miss · Plateforme Alpha · ALPHA
            company co-1 [] - | <mark>Compression</mark> Services Atlantique | supplier · RCS 123 · Port-Gentil · Gabon
            moc_request moc-1 [ALPHA] in_evaluation | MOC-2026-001 — Remplacement du <mark>compresseur</mark> de gaz K-101 | Fuite d&#39;huile sur le <mark>compresseur</mark> K-101 : remplacement des garnitures mécaniques · equipment · high · Plateforme Alpha · ALPHA
            equipment eq-1 [ALPHA] - | K-101 — <mark>Compresseur</mark> de gaz | TGBT-1 · Tableau général basse tension · 3200.0 kW · continuous · Plateforme Alpha · ALPHA
            moc_request moc-2 [BRAVO] approved | MOC-2026-002 — Modification de la détection incendie | …détecteurs incendies dans le module de <mark>compression</mark> · process · medium · FPSO Bravo · BRAVO
            vehicle v-1 [CHARLIE] - | Bourbon Liberty 301 | vessel · BL301 · <mark>Compression</mark> Services Atlantique · Base Charlie · CHARLIE
            module: moc:2 hse:1 powertrace:1 tiers:1 travel:1
            site: ALPHA:3 BRAVO:1 CHARLIE:1
            status: approved:1 in_evaluation:1 under_investigation:1
            year: 2026:3
        "#]]);
        check(&index, query(r#""fuite de gaz""#), expect![[r#"
            1 hits, page 1 of 1
            incident hse-1 [ALPHA] under_investigation | HSE-2026-010 — Module de compression | <mark>Fuite</mark> de <mark>gaz</mark> détectée au compresseur K-101, alarme déclenchée · process_safety · near_miss · Plateforme Alpha · ALPHA
            module: hse:1
            site: ALPHA:1
            status: under_investigation:1
            year: 2026:1
        "#]]);
    })
    .await;
}

#[tokio::test]
async fn facets_narrow_and_count() {
    let fixture = &fixture().await;
    on_every_directory(|index| async move {
        index.sync(&fixture.warehouse, &()).await.unwrap();
        let mut request = query("compresseur ");
        check(&index, request.clone(), expect![[r#"
            3 hits, page 1 of 1
            moc_request moc-1 [ALPHA] in_evaluation | MOC-2026-001 — Remplacement du <mark>compresseur</mark> de gaz K-101 | Fuite d&#39;huile sur le <mark>compresseur</mark> K-101 : remplacement des garnitures mécaniques · equipment · high · Plateforme Alpha · ALPHA
            equipment eq-1 [ALPHA] - | K-101 — <mark>Compresseur</mark> de gaz | TGBT-1 · Tableau général basse tension · 3200.0 kW · continuous · Plateforme Alpha · ALPHA
            incident hse-1 [ALPHA] under_investigation | HSE-2026-010 — Module de compression | Fuite de gaz détectée au <mark>compresseur</mark> K-101, alarme déclenchée · process_safety · near_miss · Plateforme Alpha · ALPHA
            module: hse:1 moc:1 powertrace:1
            site: ALPHA:3
            status: in_evaluation:1 under_investigation:1
            year: 2026:2
        "#]]);
        request.filters = Filters { module: Some("hse".into()), ..Filters::default() };
        check(&index, request.clone(), expect![[r#"
            1 hits, page 1 of 1
            incident hse-1 [ALPHA] under_investigation | HSE-2026-010 — Module de compression | Fuite de gaz détectée au <mark>compresseur</mark> K-101, alarme déclenchée · process_safety · near_miss · Plateforme Alpha · ALPHA
            module: hse:1
            site: ALPHA:1
            status: under_investigation:1
            year: 2026:1
        "#]]);
        request.filters = Filters { year: Some("2026".into()), site: Some("ALPHA".into()), ..Filters::default() };
        check(&index, request, expect![[r#"
            2 hits, page 1 of 1
            moc_request moc-1 [ALPHA] in_evaluation | MOC-2026-001 — Remplacement du <mark>compresseur</mark> de gaz K-101 | Fuite d&#39;huile sur le <mark>compresseur</mark> K-101 : remplacement des garnitures mécaniques · equipment · high · Plateforme Alpha · ALPHA
            incident hse-1 [ALPHA] under_investigation | HSE-2026-010 — Module de compression | Fuite de gaz détectée au <mark>compresseur</mark> K-101, alarme déclenchée · process_safety · near_miss · Plateforme Alpha · ALPHA
            module: hse:1 moc:1
            site: ALPHA:2
            status: in_evaluation:1 under_investigation:1
            year: 2026:2
        "#]]);
    })
    .await;
}

#[tokio::test]
async fn a_scoped_reader_sees_no_other_site() {
    let fixture = &fixture().await;
    on_every_directory(|index| async move {
        index.sync(&fixture.warehouse, &()).await.unwrap();
        let mut request = query("");
        request.visibility = Visibility::sites(["BRAVO"]);
        check(&index, request.clone(), expect![[r#"
            6 hits, page 1 of 1
            trip t-1 [BRAVO] planned | TR-0042 — Bourbon Liberty 301 | vessel · BL301
            moc_request moc-2 [BRAVO] approved | MOC-2026-002 — Modification de la détection incendie | Ajout de détecteurs incendies dans le module de compression · process · medium · FPSO Bravo · BRAVO
            incident hse-2 [BRAVO] closed | HSE-2026-011 — Salle électrique | Arc électrique lors d&#39;une intervention sur le tableau TGBT-2 · electrical · first_aid · FPSO Bravo · BRAVO
            company co-1 [] - | Compression Services Atlantique | supplier · RCS 123 · Port-Gentil · Gabon
            equipment eq-2 [BRAVO] - | P-201 — Pompe d&#39;injection d&#39;eau | TGBT-2 · Tableau général basse tension · 450.0 kW · continuous · FPSO Bravo · BRAVO
            switchboard sb-2 [BRAVO] - | TGBT-2 — Tableau général basse tension | 400.0 V · FPSO Bravo · BRAVO
            module: powertrace:2 hse:1 moc:1 tiers:1 travel:1
            site: BRAVO:5
            status: approved:1 closed:1 planned:1
            year: 2026:3
        "#]]);
        request.query = "fuite compresseur".into();
        check(&index, request.clone(), expect![[r#"
            0 hits, page 1 of 1
            module: 
            site: 
            status: 
            year: 
        "#]]);
        // Another site's name is refused as if it did not exist.
        request.filters.site = Some("ALPHA".into());
        assert_eq!(parameter(index.search(&request)), "site");
        request.filters.site = None;
        request.visibility.modules = Some(["travel".to_owned()].into());
        request.query = String::new();
        check(&index, request, expect![[r#"
            1 hits, page 1 of 1
            trip t-1 [BRAVO] planned | TR-0042 — Bourbon Liberty 301 | vessel · BL301
            module: travel:1
            site: BRAVO:1
            status: planned:1
            year: 2026:1
        "#]]);
    })
    .await;
}

fn parameter(outcome: Result<Results, SearchError>) -> &'static str {
    match outcome {
        Err(SearchError::BadRequest { parameter, .. }) => parameter,
        other => panic!("expected a bad request, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_requests_name_their_parameter() {
    let fixture = fixture().await;
    let index = SearchIndex::in_memory();
    index.sync(&fixture.warehouse, &()).await.unwrap();
    let with = |change: &dyn Fn(&mut SearchRequest)| {
        let mut request = query("compresseur");
        change(&mut request);
        parameter(index.search(&request))
    };
    assert_eq!(with(&|request| request.query = r#"fuite "gaz"#.into()), "q");
    assert_eq!(with(&|request| request.filters.module = Some("payroll".into())), "module");
    assert_eq!(with(&|request| request.filters.site = Some("ZULU".into())), "site");
    assert_eq!(with(&|request| request.filters.status = Some("lost".into())), "status");
    assert_eq!(with(&|request| request.filters.year = Some("20x6".into())), "year");
    assert_eq!(with(&|request| request.page = 0), "page");
    assert_eq!(with(&|request| request.page = 9), "page");
    assert_eq!(with(&|request| request.page = 100_000), "page");
    assert_eq!(with(&|request| request.per_page = 1000), "per_page");
}

#[tokio::test]
async fn the_index_follows_inserts_updates_deletions_and_truncations() {
    on_every_directory(|index| async move {
        let fixture = &fixture().await;
        index.sync(&fixture.warehouse, &()).await.unwrap();
        // Nothing moved: nothing read, nothing committed.
        assert_eq!(index.sync(&fixture.warehouse, &()).await.unwrap(), Default::default());
        fixture.rows("moc.requests", MOC, &[
            &["moc-5", "MOC-2026-030", "s-bravo", "Nouvelle pompe de relevage", "Remplacement de la pompe P-201 par une pompe plus puissante", "equipment", "medium", "submitted", "2026-11-28", ""],
            &["moc-1", "MOC-2026-001", "s-alpha", "Remplacement du compresseur de gaz K-101", "Garnitures changées, essais concluants", "equipment", "high", "implemented", "2026-10-01", ""],
        ]).await;
        fixture.change("hse.incidents", INCIDENTS, &[], &["hse-2"], false).await;
        fixture.change("travel.trips", TRIPS, &[], &[], true).await;
        let report = index.sync(&fixture.warehouse, &()).await.unwrap();
        assert_eq!((report.added, report.updated, report.removed), (1, 1, 2), "{report:?}");
        // Actions are read again too: they take their site from the incidents.
        assert_eq!(report.sources, ["moc_request", "incident", "hse_action", "trip"]);
        check(&index, query("pompe "), expect![[r#"
            2 hits, page 1 of 1
            moc_request moc-5 [BRAVO] submitted | MOC-2026-030 — Nouvelle <mark>pompe</mark> de relevage | Remplacement de la <mark>pompe</mark> P-201 par une <mark>pompe</mark> plus puissante · equipment · medium · FPSO Bravo · BRAVO
            equipment eq-2 [BRAVO] - | P-201 — <mark>Pompe</mark> d&#39;injection d&#39;eau | TGBT-2 · Tableau général basse tension · 450.0 kW · continuous · FPSO Bravo · BRAVO
            module: moc:1 powertrace:1
            site: BRAVO:2
            status: submitted:1
            year: 2026:1
        "#]]);
        check(&index, query("garnitures "), expect![[r#"
            1 hits, page 1 of 1
            moc_request moc-1 [ALPHA] implemented | MOC-2026-001 — Remplacement du compresseur de gaz K-101 | <mark>Garnitures</mark> changées, essais concluants · equipment · high · Plateforme Alpha · ALPHA
            module: moc:1
            site: ALPHA:1
            status: implemented:1
            year: 2026:1
        "#]]);
        check(&index, query("arc electrique"), expect![[r#"
            0 hits, page 1 of 1
            module: 
            site: 
            status: 
            year: 
        "#]]);
        check(&index, query("TR-0042"), expect![[r#"
            0 hits, page 1 of 1
            module: 
            site: 
            status: 
            year: 
        "#]]);
        let coverage = index.coverage().unwrap();
        let moc: TableId = "moc.requests".parse().unwrap();
        assert_eq!(coverage.tables["moc.requests"], fixture.warehouse.snapshot(&moc).await.unwrap());
        assert_eq!(index.len(), 14);
    })
    .await;
}

#[tokio::test]
async fn a_sync_stopped_before_its_commit_leaves_no_trace() {
    let fixture = fixture().await;
    let directory = tempfile::tempdir().unwrap();
    {
        let index = SearchIndex::open(directory.path()).unwrap();
        index.sync(&fixture.warehouse, &()).await.unwrap();
    }
    fixture
        .rows(
            "moc.requests",
            MOC,
            &[&[
                "moc-5",
                "MOC-2026-030",
                "s-bravo",
                "Nouvelle pompe de relevage",
                "Pompe P-201",
                "equipment",
                "medium",
                "submitted",
                "2026-11-28",
                "",
            ]],
        )
        .await;
    {
        // A sync whose future is dropped after it started writing: as if the process died.
        let index = SearchIndex::open(directory.path()).unwrap();
        struct Stop;
        impl opsflux_search::Progress for Stop {
            fn entries(&self, _: &opsflux_search::Source, _: u64) {
                panic!("stopped while writing");
            }
        }
        let outcome = tokio::spawn({
            let warehouse = fixture.warehouse.clone();
            async move { index.sync(&warehouse, &Stop).await.map(|_| ()) }
        })
        .await;
        assert!(outcome.is_err(), "the sync was stopped");
    }
    let index = SearchIndex::open(directory.path()).unwrap();
    assert_eq!(index.len(), 15, "the interrupted sync committed nothing");
    let report = index.sync(&fixture.warehouse, &()).await.unwrap();
    assert_eq!((report.added, report.updated, report.removed), (1, 0, 0));
    assert_eq!(index.len(), 16);
    let rebuilt = SearchIndex::in_memory();
    rebuilt.rebuild(&fixture.warehouse, &()).await.unwrap();
    let everything = |index: &SearchIndex| {
        let mut request = query("");
        request.per_page = 100;
        render(&index.search(&request).unwrap())
    };
    assert_eq!(everything(&index), everything(&rebuilt));
}
