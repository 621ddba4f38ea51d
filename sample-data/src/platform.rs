//! Platform and reference rows: users, roles, permissions, grants, sites, site scopes,
//! an audit trail of the grants, report schedules and their past jobs.

use chrono::{DateTime, Days, NaiveTime, Utc};
use rand::Rng;
use uuid::Uuid;

use crate::catalog::{self, SITES, SiteRow};
use crate::csv::{Audit, TableData};
use crate::{Options, World};

pub(crate) struct Generated {
    pub tables: Vec<TableData>,
    pub ids: World,
}

/// Roles and the permissions (`module.action.scope`) each one holds.
const ROLES: &[(&str, &str, &[&str])] = &[
    ("admin", "Administrateur", &["admin.manage.all", "dashboards.read.all", "exports.run.all"]),
    (
        "site_manager",
        "Chef de site",
        &[
            "pob.read.site",
            "pob.approve.site",
            "moc.approve.site",
            "hse.read.site",
            "dashboards.read.site",
            "projects.read.site",
        ],
    ),
    (
        "hse_officer",
        "Animateur HSE",
        &["hse.read.all", "hse.write.all", "cleanvue.write.site", "moc.approve.site", "dashboards.read.all"],
    ),
    (
        "logistics_coordinator",
        "Coordinateur logistique",
        &["travel.read.all", "travel.write.all", "pob.read.all", "dashboards.read.all"],
    ),
    (
        "electrical_engineer",
        "Ingénieur électricien",
        &["powertrace.read.all", "powertrace.write.all", "powertrace.simulate.all", "dashboards.read.all"],
    ),
    (
        "report_author",
        "Rédacteur de rapports",
        &["redacteur.read.all", "redacteur.write.all", "redacteur.render.all", "dashboards.read.all"],
    ),
    ("analyst", "Analyste", &["dashboards.read.all", "exports.run.all", "redacteur.read.all"]),
    ("viewer", "Lecteur", &["dashboards.read.site"]),
];

/// How many users hold each role (site managers: one per site).
const USERS_PER_ROLE: &[(&str, usize)] = &[
    ("admin", 1),
    ("site_manager", 10),
    ("hse_officer", 6),
    ("logistics_coordinator", 6),
    ("electrical_engineer", 8),
    ("report_author", 4),
    ("analyst", 3),
    ("viewer", 20),
];

pub(crate) fn generate(options: &Options) -> Generated {
    let mut rng = options.rng("platform");
    let start = options.start();
    let epoch: DateTime<Utc> = (start - Days::new(400)).and_time(NaiveTime::MIN).and_utc();

    let mut users =
        TableData::new("platform.users", &["id", "email", "display_name", "password_hash", "locale", "is_active"]);
    let mut user_ids: Vec<(Uuid, &str)> = Vec::new();
    let mut taken_emails = std::collections::HashSet::new();
    let mut admin = Uuid::nil();
    for (role, count) in USERS_PER_ROLE {
        for _ in 0..*count {
            let id = catalog::uuid(&mut rng);
            let (first, last) = catalog::person(&mut rng);
            let mut email = format!("{}.{}@opsflux.example", catalog::ascii_slug(first), catalog::ascii_slug(last));
            let mut suffix = 2;
            while !taken_emails.insert(email.clone()) {
                email = format!("{}.{}{suffix}@opsflux.example", catalog::ascii_slug(first), catalog::ascii_slug(last));
                suffix += 1;
            }
            let creator = (*role != "admin").then_some(admin);
            let created_at = epoch + chrono::Duration::minutes(rng.random_range(0..60 * 24 * 30));
            let locale = if rng.random_bool(0.85) { "fr-FR" } else { "en-GB" };
            let external_id = format!("AD-{}", 10_000 + user_ids.len());
            users.row(Audit { external_id: Some(&external_id), created_at, created_by: creator }, |row| {
                row.uuid(id)
                    .text(&email)
                    .text(&format!("{first} {last}"))
                    .null()
                    .text(locale)
                    .boolean(rng.random_bool(0.97));
            });
            if *role == "admin" {
                admin = id;
            }
            user_ids.push((id, role));
        }
    }
    let by_role = |wanted: &str| -> Vec<Uuid> {
        user_ids.iter().filter(|(_, role)| *role == wanted).map(|(id, _)| *id).collect()
    };
    let at = |rng: &mut rand_chacha::ChaCha8Rng| {
        epoch + chrono::Duration::minutes(rng.random_range(60 * 24 * 30..60 * 24 * 60))
    };
    let audit = |created_at| Audit { external_id: None, created_at, created_by: Some(admin) };

    let mut sites = TableData::new(
        "core.sites",
        &["id", "code", "name", "kind", "region", "latitude", "longitude", "bed_capacity", "timezone"],
    );
    let mut site_rows = Vec::new();
    for site in SITES {
        let id = catalog::uuid(&mut rng);
        let created_at = at(&mut rng);
        let external_id = format!("SITE-{}", site.code);
        sites.row(Audit { external_id: Some(&external_id), ..audit(created_at) }, |row| {
            row.uuid(id)
                .text(site.code)
                .text(site.name)
                .text(site.kind)
                .text(site.region)
                .decimal(site.latitude, 4)
                .decimal(site.longitude, 4)
                .int(i64::from(site.bed_capacity))
                .text(site.timezone);
        });
        site_rows.push(SiteRow { id, site });
    }

    let mut roles = TableData::new("platform.roles", &["id", "code", "name", "description"]);
    let mut permissions = TableData::new("platform.permissions", &["id", "code", "description"]);
    let mut role_permissions = TableData::new("platform.role_permissions", &["id", "role_id", "permission_id"]);
    let mut permission_ids: Vec<(&str, Uuid)> = Vec::new();
    let mut role_ids: Vec<(&str, Uuid)> = Vec::new();
    for (code, name, granted) in ROLES {
        let role_id = catalog::uuid(&mut rng);
        roles.row(audit(at(&mut rng)), |row| {
            row.uuid(role_id).text(code).text(name).text(&format!("Rôle {name} ({} permissions)", granted.len()));
        });
        role_ids.push((code, role_id));
        for permission in *granted {
            let permission_id = match permission_ids.iter().find(|(existing, _)| existing == permission) {
                Some((_, id)) => *id,
                None => {
                    let id = catalog::uuid(&mut rng);
                    let mut parts = permission.split('.');
                    let description = format!(
                        "{} : {} ({})",
                        parts.next().unwrap_or_default(),
                        parts.next().unwrap_or_default(),
                        if parts.next() == Some("all") { "tous les sites" } else { "sites du périmètre" }
                    );
                    permissions.row(audit(at(&mut rng)), |row| {
                        row.uuid(id).text(permission).text(&description);
                    });
                    permission_ids.push((permission, id));
                    id
                }
            };
            role_permissions.row(audit(at(&mut rng)), |row| {
                row.uuid(catalog::uuid(&mut rng)).uuid(role_id).uuid(permission_id);
            });
        }
    }

    let mut role_grants = TableData::new("platform.role_grants", &["id", "user_id", "role_id"]);
    let mut scopes = TableData::new("platform.user_site_scopes", &["id", "user_id", "site_id"]);
    let mut audit_log = TableData::new(
        "platform.audit_log",
        &[
            "id",
            "occurred_at",
            "actor_id",
            "action",
            "entity_schema",
            "entity_table",
            "entity_id",
            "before",
            "after",
            "request_id",
        ],
    );
    for (user_index, (user_id, role)) in user_ids.iter().enumerate() {
        let granted_at = at(&mut rng);
        let grant_id = catalog::uuid(&mut rng);
        let role_id = role_ids.iter().find(|(code, _)| code == role).map(|(_, id)| *id).unwrap_or_default();
        role_grants.row(audit(granted_at), |row| {
            row.uuid(grant_id).uuid(*user_id).uuid(role_id);
        });
        audit_log.row(audit(granted_at), |row| {
            row.uuid(catalog::uuid(&mut rng))
                .timestamp(granted_at)
                .uuid(admin)
                .text("role.grant")
                .text("platform")
                .text("role_grants")
                .uuid(grant_id)
                .null()
                .text(&format!(r#"{{"user_id": "{user_id}", "role": "{role}"}}"#))
                .text(&format!("req-{user_index:05}"));
        });
        // Site managers and viewers see their own sites; the others see every site.
        let scoped_sites: Vec<Uuid> = match *role {
            "site_manager" => vec![site_rows[user_index % site_rows.len()].id],
            "viewer" => (0..rng.random_range(1..=3))
                .map(|_| catalog::pick_ref(&mut rng, &site_rows).id)
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect(),
            _ => Vec::new(),
        };
        for site_id in scoped_sites {
            scopes.row(audit(granted_at), |row| {
                row.uuid(catalog::uuid(&mut rng)).uuid(*user_id).uuid(site_id);
            });
        }
    }
    let site_managers: Vec<Uuid> = by_role("site_manager");

    let mut schedules = TableData::new(
        "platform.schedules",
        &[
            "id",
            "name",
            "template_code",
            "parameters",
            "cron",
            "timezone",
            "formats",
            "recipients",
            "recipient_roles",
            "is_enabled",
            "last_run_at",
            "next_run_at",
        ],
    );
    let mut jobs = TableData::new(
        "platform.jobs",
        &[
            "id",
            "kind",
            "status",
            "schedule_id",
            "payload",
            "attempts",
            "queued_at",
            "started_at",
            "finished_at",
            "error",
        ],
    );
    let schedule_specs = [
        ("Rapport hebdomadaire", "weekly-site-report", "0 7 * * 1", "pdf", 7u64, "manager"),
        ("Bilan énergie mensuel", "powertrace-monthly", "0 6 1 * *", "xlsx", 30, "engineer"),
        ("Avancement projets", "project-progress", "0 8 * * 5", "pdf", 7, "manager"),
    ];
    let first_run = start.and_time(NaiveTime::from_hms_opt(6, 0, 0).unwrap_or(NaiveTime::MIN)).and_utc();
    for (name, template, cron, format, every_days, role) in schedule_specs {
        let schedule_id = catalog::uuid(&mut rng);
        let runs: Vec<DateTime<Utc>> = (0..)
            .map(|run| first_run + Days::new(run * every_days))
            .take_while(|run| run.date_naive() < options.end)
            .collect();
        let last_run = runs.last().copied();
        let next_run = last_run.map_or(first_run, |last| last + Days::new(every_days));
        schedules.row(audit(epoch), |row| {
            row.uuid(schedule_id)
                .text(name)
                .text(template)
                .text("{}")
                .text(cron)
                .text("Europe/Paris")
                .text(&format!("{{{format}}}"))
                // Every user of the shipped role, each with their own sites.
                .text("{}")
                .text(&format!("{{{role}}}"))
                .boolean(true)
                .opt_timestamp(last_run)
                .timestamp(next_run);
        });
        for queued_at in runs {
            let failed = rng.random_bool(0.03);
            let started_at = queued_at + chrono::Duration::seconds(rng.random_range(1..20));
            let finished_at = started_at + chrono::Duration::seconds(rng.random_range(2..90));
            jobs.row(Audit { external_id: None, created_at: queued_at, created_by: None }, |row| {
                row.uuid(catalog::uuid(&mut rng))
                    .text("render_report")
                    .text(if failed { "failed" } else { "succeeded" })
                    .uuid(schedule_id)
                    .text(&format!(r#"{{"template": "{template}", "period_end": "{}"}}"#, queued_at.date_naive()))
                    .int(if failed { 3 } else { 1 })
                    .timestamp(queued_at)
                    .timestamp(started_at)
                    .timestamp(finished_at)
                    .opt_text(failed.then_some("SMTP 451: service temporairement indisponible"));
            });
        }
    }

    Generated {
        tables: vec![
            users,
            sites,
            roles,
            permissions,
            role_permissions,
            role_grants,
            scopes,
            audit_log,
            schedules,
            jobs,
        ],
        ids: World {
            sites: site_rows,
            users: user_ids.iter().map(|(id, _)| *id).collect(),
            admin,
            site_managers,
            engineers: by_role("electrical_engineer"),
            hse_officers: by_role("hse_officer"),
        },
    }
}
