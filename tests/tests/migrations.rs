//! The operational schema: applied idempotently, and every table keeps the conventions
//! change data capture and auditing rely on.

use expect_test::expect;
use opsflux_tests::server;

#[tokio::test]
async fn migrate_creates_the_database_then_changes_nothing_the_second_time() {
    let url = server().url("migrate_twice_fresh");
    let first = opsflux_api::database::migrate(&url).await.unwrap();
    assert!(first.created_database);
    assert_eq!(first.applied.len(), 6);
    let second = opsflux_api::database::migrate(&url).await.unwrap();
    assert_eq!(second, opsflux_api::database::MigrationReport { created_database: false, applied: vec![] });
}

#[tokio::test]
async fn every_table_has_uuid_key_external_id_and_audit_columns() {
    let (_, pool) = opsflux_tests::migrated_pool("conventions").await;
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT t.table_schema || '.' || t.table_name,
                string_agg(c.column_name || ':' || c.data_type, ',' ORDER BY c.ordinal_position)
         FROM information_schema.tables t
         JOIN information_schema.columns c USING (table_schema, table_name)
         WHERE t.table_type = 'BASE TABLE' AND t.table_schema NOT IN ('pg_catalog', 'information_schema', 'public')
         GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let trailer = "external_id:text,created_at:timestamp with time zone,updated_at:timestamp with time zone,\
                   created_by:uuid,updated_by:uuid,deleted_at:timestamp with time zone,deleted_by:uuid";
    let mut broken = Vec::new();
    for (table, columns) in &rows {
        // PostgreSQL appends columns that later migrations add after the trailer.
        if !columns.starts_with("id:uuid,") || !columns.contains(trailer) {
            broken.push(table.clone());
        }
    }
    assert_eq!(broken, Vec::<String>::new(), "tables breaking the column conventions");

    // The primary key is `id` everywhere and `external_id` is unique everywhere.
    let keyed = tables_constrained_on(&pool, "p", "id").await;
    let unique_external = tables_constrained_on(&pool, "u", "external_id").await;
    assert_eq!((keyed, unique_external), (rows.len() as i64, rows.len() as i64));

    let tables: Vec<&str> = rows.iter().map(|(table, _)| table.as_str()).collect();
    expect![[r#"
        cleanvue.audit_scores cleanvue.audits cleanvue.scrapping_requests cleanvue.site_returns cleanvue.zones
        core.sites
        hse.actions hse.incidents hse.investigations
        moc.approvals moc.impact_assessments moc.requests moc.state_transitions
        organizer.reservations organizer.resources
        platform.alert_evaluations platform.alert_rules platform.alert_states platform.audit_log platform.deliveries platform.jobs platform.notifications platform.permissions platform.refresh_tokens platform.role_grants platform.role_permissions platform.roles platform.schedules platform.sessions platform.signing_keys platform.user_site_scopes platform.users
        pob.personnel pob.rotations pob.stay_approvals pob.stays
        powertrace.equipment powertrace.generators powertrace.meter_readings powertrace.meters powertrace.scenario_evaluations powertrace.scenario_items powertrace.scenario_versions powertrace.scenarios powertrace.switchboards powertrace.transformers
        projects.budget_lines projects.milestones projects.projects projects.tasks
        redacteur.document_versions redacteur.documents redacteur.templates
        tiers.companies tiers.contacts tiers.external_users
        travel.bookings travel.fuel_logs travel.manifest_cargo travel.manifest_passengers travel.trip_legs travel.trips travel.vehicles"#]]
    .assert_eq(&group_by_schema(&tables));
}

/// How many tables have a constraint of kind `kind` (`p`rimary, `u`nique) on exactly `column`.
async fn tables_constrained_on(pool: &sqlx::PgPool, kind: &str, column: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_constraint k JOIN pg_class r ON r.oid = k.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace
         WHERE k.contype = $1::\"char\" AND n.nspname NOT IN ('pg_catalog', 'public')
           AND k.conkey = ARRAY[(SELECT attnum FROM pg_attribute WHERE attrelid = r.oid AND attname = $2)]",
    )
    .bind(kind)
    .bind(column)
    .fetch_one(pool)
    .await
    .unwrap()
}

fn group_by_schema(tables: &[&str]) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut current = "";
    for table in tables {
        let schema = table.split('.').next().unwrap_or_default();
        if schema == current {
            let last = lines.len() - 1;
            lines[last].push(' ');
            lines[last].push_str(table);
        } else {
            lines.push((*table).to_owned());
            current = schema;
        }
    }
    lines.join("\n")
}

#[tokio::test]
async fn states_and_quantities_are_checked_by_the_database() {
    let (_, pool) = opsflux_tests::migrated_pool("checks").await;
    let site: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO core.sites (code, name, kind, region, latitude, longitude, bed_capacity) VALUES ('T1', 'Test', 'fpso', 'Test', 0, 0, 10) RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let attempts = [
        (
            "a site with negative beds",
            "INSERT INTO core.sites (code, name, kind, region, latitude, longitude, bed_capacity) VALUES ('T2', 'x', 'fpso', 'x', 0, 0, -1)",
        ),
        (
            "an unknown MOC state",
            "INSERT INTO moc.requests (reference, site_id, title, description, category, risk_level, status, submitted_at) SELECT 'M1', id, 't', 'd', 'process', 'low', 'done', now() FROM core.sites",
        ),
        (
            "an unknown stay state",
            "INSERT INTO pob.stays (site_id, personnel_id, status, arrival_date, departure_date, purpose, requested_at) SELECT id, id, 'on_board', current_date, current_date, 'x', now() FROM core.sites",
        ),
        ("a permission code not module.action.scope", "INSERT INTO platform.permissions (code) VALUES ('pob.read')"),
    ];
    let mut outcomes = Vec::new();
    for (what, statement) in attempts {
        let error = sqlx::query(statement).execute(&pool).await.unwrap_err();
        let code = error.as_database_error().and_then(|error| error.code()).unwrap_or_default().into_owned();
        outcomes.push(format!("{what}: {code}"));
    }
    // 23514 is check_violation, 23503 foreign_key_violation.
    expect![[r#"
        a site with negative beds: 23514
        an unknown MOC state: 23514
        an unknown stay state: 23514
        a permission code not module.action.scope: 23514"#]]
    .assert_eq(&outcomes.join("\n"));
    let sites: i64 = sqlx::query_scalar("SELECT count(*) FROM core.sites").fetch_one(&pool).await.unwrap();
    assert_eq!(sites, 1, "only the valid site {site} was written");
}
