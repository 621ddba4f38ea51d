//! Operational modules beyond logistics: projects and their slipping tasks, resource
//! reservations, management-of-change requests moving through their states, 5S audits,
//! HSE incidents and Rédacteur templates and documents.

use chrono::{DateTime, Datelike, Days, Duration, NaiveDate, Utc};
use rand::Rng;
use rand_distr::Exp1;
use uuid::Uuid;

use crate::catalog;
use crate::csv::{Audit, TableData};
use crate::{Options, World, logistics, moment};

pub(crate) fn generate(options: &Options, world: &World) -> Vec<TableData> {
    let mut tables = logistics::generate(options, world);
    tables.extend(projects(options, world));
    tables.extend(organizer(options, world));
    tables.extend(management_of_change(options, world));
    tables.extend(cleanvue(options, world));
    tables.extend(hse(options, world));
    tables.extend(redacteur(options, world));
    tables
}

fn audit(created_at: DateTime<Utc>, created_by: Uuid) -> Audit<'static> {
    Audit { external_id: None, created_at, created_by: Some(created_by) }
}

/// A day between `from` (inclusive) and `days` later (exclusive).
fn day_in(rng: &mut impl Rng, from: NaiveDate, days: u64) -> NaiveDate {
    from + Days::new(rng.random_range(0..days.max(1)))
}

const PROJECT_NAMES: &[&str] = &[
    "Remplacement du turbo-compresseur TC-2",
    "Mise à niveau du système feu et gaz",
    "Rénovation des quartiers-vie",
    "Campagne d'inspection corrosion des lignes",
    "Installation d'un variateur sur la pompe P-101A",
    "Raccordement du puits producteur",
    "Remplacement des batteries UPS",
    "Modernisation du système de contrôle-commande",
    "Réfection de l'héliport",
    "Traitement des eaux de production",
];

const TASK_VERBS: &[&str] = &[
    "Étude de détail",
    "Approvisionnement",
    "Préfabrication",
    "Consignation",
    "Dépose",
    "Pose",
    "Raccordement électrique",
    "Essais à froid",
    "Mise en service",
    "Réception",
    "Dossier de fin de travaux",
    "Analyse de risques",
    "Permis de travail",
    "Levage",
    "Contrôle qualité",
];

fn projects(options: &Options, world: &World) -> Vec<TableData> {
    let mut rng = options.rng("projects");
    let (start, end) = (options.start(), options.end);
    let history = u64::from(options.history_days());
    let mut projects = TableData::new(
        "projects.projects",
        &[
            "id",
            "code",
            "name",
            "site_id",
            "manager_id",
            "status",
            "start_date",
            "planned_end_date",
            "actual_end_date",
            "budget_planned",
            "currency",
        ],
    );
    let mut tasks = TableData::new(
        "projects.tasks",
        &[
            "id",
            "project_id",
            "parent_task_id",
            "name",
            "status",
            "assignee_id",
            "start_date",
            "due_date",
            "completed_at",
            "percent_complete",
            "estimated_hours",
        ],
    );
    let mut milestones =
        TableData::new("projects.milestones", &["id", "project_id", "name", "due_date", "achieved_at"]);
    let mut budget_lines = TableData::new(
        "projects.budget_lines",
        &["id", "project_id", "category", "period_month", "planned_amount", "actual_amount"],
    );
    let mut counter = 0;
    for (site_index, site) in world.sites.iter().enumerate() {
        let manager = world.site_managers[site_index % world.site_managers.len()];
        for _ in 0..rng.random_range(2..=4) {
            counter += 1;
            let id = catalog::uuid(&mut rng);
            let project_start = day_in(&mut rng, start - Days::new(60), history);
            let duration = rng.random_range(45..240u64);
            let planned_end = project_start + Days::new(duration);
            // Tasks follow each other with some overlap; each slips by an exponential delay.
            let n_tasks = rng.random_range(8..=24u64);
            let mut task_rows = Vec::new();
            for task_index in 0..n_tasks {
                let task_start = project_start + Days::new(duration * task_index / n_tasks);
                let due =
                    (task_start + Days::new(rng.random_range(5..=(duration / n_tasks).max(6) + 10))).min(planned_end);
                let slip_days =
                    if rng.random_bool(0.3) { 0 } else { (9.0 * rng.sample::<f64, _>(Exp1)).round() as u64 };
                let finished = due + Days::new(slip_days);
                let cancelled = rng.random_bool(0.02);
                let (status, completed_at, percent) = if cancelled {
                    ("cancelled", None, 0)
                } else if finished < end {
                    ("done", Some(moment(finished, rng.random_range(8..18), 0)), 100)
                } else if task_start >= end {
                    ("todo", None, 0)
                } else if rng.random_bool(0.08) {
                    ("blocked", None, rng.random_range(10..60))
                } else {
                    let elapsed =
                        (end - task_start).num_days() as f64 / ((finished - task_start).num_days().max(1)) as f64;
                    ("in_progress", None, ((elapsed * 100.0) as i64).clamp(5, 95))
                };
                task_rows.push((catalog::uuid(&mut rng), task_index, task_start, due, status, completed_at, percent));
            }
            let all_done = task_rows.iter().all(|task| matches!(task.4, "done" | "cancelled"));
            let last_completion = task_rows.iter().filter_map(|task| task.5).max();
            let status = if project_start >= end {
                "planned"
            } else if all_done {
                "completed"
            } else if rng.random_bool(0.06) {
                "on_hold"
            } else {
                "active"
            };
            let actual_end = (status == "completed").then(|| last_completion.map(|at| at.date_naive())).flatten();
            // Monthly budget lines per category; spending overruns on average.
            let mut budget_total = 0.0;
            let mut budget_rows = Vec::new();
            let categories: Vec<&str> = ["labour", "equipment", "materials", "services", "logistics"]
                .into_iter()
                .filter(|_| rng.random_bool(0.7))
                .collect();
            let mut month =
                NaiveDate::from_ymd_opt(project_start.year(), project_start.month(), 1).unwrap_or(project_start);
            while month <= planned_end {
                for category in &categories {
                    let planned = (rng.random_range(8_000.0..120_000.0_f64) / 100.0).round() * 100.0;
                    let actual = if month < NaiveDate::from_ymd_opt(end.year(), end.month(), 1).unwrap_or(end) {
                        (planned * rng.random_range(0.85..1.35_f64)).round()
                    } else {
                        0.0
                    };
                    budget_total += planned;
                    budget_rows.push((*category, month, planned, actual));
                }
                month = month.checked_add_months(chrono::Months::new(1)).unwrap_or(planned_end + Days::new(1));
            }
            let code = format!("PRJ-{}-{counter:03}", site.site.code);
            let created_at = moment(project_start - Days::new(20), 9, 0);
            let name = format!("{} — {}", catalog::pick(&mut rng, PROJECT_NAMES), site.site.name);
            projects.row(Audit { external_id: Some(&code), ..audit(created_at, manager) }, |row| {
                row.uuid(id)
                    .text(&code)
                    .text(&name)
                    .uuid(site.id)
                    .uuid(manager)
                    .text(status)
                    .date(project_start)
                    .date(planned_end)
                    .opt_date(actual_end)
                    .decimal(budget_total, 2)
                    .text("EUR");
            });
            for (task_id, task_index, task_start, due, status, completed_at, percent) in &task_rows {
                let name = format!("{} — lot {}", catalog::pick(&mut rng, TASK_VERBS), task_index + 1);
                let assignee = catalog::pick(&mut rng, &world.users);
                tasks.row(audit(created_at, manager), |row| {
                    row.uuid(*task_id)
                        .uuid(id)
                        .null()
                        .text(&name)
                        .text(status)
                        .uuid(assignee)
                        .date(*task_start)
                        .date(*due)
                        .opt_timestamp(*completed_at)
                        .int(*percent)
                        .decimal(rng.random_range(8.0..400.0), 1);
                });
            }
            for (milestone_index, chunk) in task_rows.chunks(task_rows.len().div_ceil(4).max(1)).enumerate() {
                let Some(last) = chunk.last() else { continue };
                let achieved = if chunk.iter().all(|task| task.4 == "done") {
                    chunk.iter().filter_map(|task| task.5).max()
                } else {
                    None
                };
                milestones.row(audit(created_at, manager), |row| {
                    row.uuid(catalog::uuid(&mut rng))
                        .uuid(id)
                        .text(&format!(
                            "Jalon {} : {}",
                            milestone_index + 1,
                            ["Études validées", "Matériel sur site", "Travaux terminés", "Réception"]
                                [milestone_index.min(3)]
                        ))
                        .date(last.3)
                        .opt_timestamp(achieved);
                });
            }
            for (category, month, planned, actual) in budget_rows {
                budget_lines.row(audit(created_at, manager), |row| {
                    row.uuid(catalog::uuid(&mut rng))
                        .uuid(id)
                        .text(category)
                        .date(month)
                        .decimal(planned, 2)
                        .decimal(actual, 2);
                });
            }
        }
    }
    vec![projects, tasks, milestones, budget_lines]
}

fn organizer(options: &Options, world: &World) -> Vec<TableData> {
    let mut rng = options.rng("organizer");
    let (start, end) = (options.start(), options.end);
    let mut resources = TableData::new("organizer.resources", &["id", "site_id", "kind", "code", "name"]);
    let mut reservations = TableData::new(
        "organizer.reservations",
        &["id", "resource_id", "reserved_by", "starts_at", "ends_at", "status", "purpose"],
    );
    let kinds: &[(&str, &str, &str)] = &[
        ("room", "SAL", "Salle de réunion"),
        ("equipment", "GRU", "Grue mobile 50 t"),
        ("vehicle", "VEH", "Pick-up Toyota Hilux"),
        ("equipment", "NAC", "Nacelle élévatrice"),
        ("tool", "SOU", "Poste de soudure"),
        ("tool", "DET", "Détecteur 4 gaz portable"),
        ("room", "BUR", "Bureau de passage"),
        ("equipment", "CMP", "Compresseur mobile"),
    ];
    for site in &world.sites {
        let chosen: Vec<bool> = kinds.iter().map(|_| rng.random_bool(0.75)).collect();
        for (index, (kind, prefix, name)) in kinds.iter().enumerate().filter(|(index, _)| chosen[*index]) {
            let resource_id = catalog::uuid(&mut rng);
            resources.row(audit(moment(start - Days::new(100), 8, 0), world.admin), |row| {
                row.uuid(resource_id).uuid(site.id).text(kind).text(&format!("{prefix}-{:02}", index + 1)).text(name);
            });
            // Back-to-back bookings, and now and then a second request for a slot already
            // taken: a conflict the site must settle (past ones mostly were, by cancelling).
            let mut free_from = moment(start, 7, 0);
            let horizon = moment(end + Days::new(21), 0, 0);
            loop {
                let starts_at = free_from + Duration::hours(rng.random_range(2..96));
                let hours = if *kind == "room" { rng.random_range(1..4) } else { rng.random_range(4..72) };
                let ends_at = starts_at + Duration::hours(hours);
                if ends_at > horizon {
                    break;
                }
                free_from = ends_at;
                let status = if starts_at.date_naive() >= end {
                    if rng.random_bool(0.7) { "confirmed" } else { "requested" }
                } else if rng.random_bool(0.08) {
                    "cancelled"
                } else {
                    "completed"
                };
                if rng.random_bool(0.05) {
                    let overlap_starts = starts_at + Duration::minutes(rng.random_range(0..hours * 60));
                    let overlap_ends = overlap_starts + Duration::hours(rng.random_range(1..6));
                    let overlap_status = if starts_at.date_naive() >= end {
                        "requested"
                    } else if rng.random_bool(0.6) {
                        "cancelled"
                    } else {
                        "completed"
                    };
                    let user = catalog::pick(&mut rng, &world.users);
                    reservations.row(audit(overlap_starts - Duration::days(rng.random_range(1..5)), user), |row| {
                        row.uuid(catalog::uuid(&mut rng))
                            .uuid(resource_id)
                            .uuid(user)
                            .timestamp(overlap_starts)
                            .timestamp(overlap_ends)
                            .text(overlap_status)
                            .text("Intervention urgente");
                    });
                }
                let user = catalog::pick(&mut rng, &world.users);
                reservations.row(audit(starts_at - Duration::days(rng.random_range(1..10)), user), |row| {
                    row.uuid(catalog::uuid(&mut rng))
                        .uuid(resource_id)
                        .uuid(user)
                        .timestamp(starts_at)
                        .timestamp(ends_at)
                        .text(status)
                        .text(catalog::pick(
                            &mut rng,
                            &[
                                "Intervention maintenance",
                                "Réunion de chantier",
                                "Levage planifié",
                                "Inspection",
                                "Formation",
                            ],
                        ));
                });
            }
        }
    }
    vec![resources, reservations]
}

fn management_of_change(options: &Options, world: &World) -> Vec<TableData> {
    let mut rng = options.rng("moc");
    let (start, end) = (options.start(), options.end);
    let history = u64::from(options.history_days());
    let mut requests = TableData::new(
        "moc.requests",
        &[
            "id",
            "reference",
            "site_id",
            "title",
            "description",
            "category",
            "risk_level",
            "status",
            "requested_by",
            "submitted_at",
            "evaluation_started_at",
            "validation_started_at",
            "approved_at",
            "rejected_at",
            "implementation_started_at",
            "implemented_at",
            "closed_at",
            "due_date",
        ],
    );
    let mut impacts = TableData::new("moc.impact_assessments", &["id", "request_id", "domain", "severity", "notes"]);
    let mut approvals = TableData::new(
        "moc.approvals",
        &["id", "request_id", "step", "role_code", "approver_id", "decision", "requested_at", "due_at", "decided_at"],
    );
    let mut transitions = TableData::new(
        "moc.state_transitions",
        &["id", "request_id", "from_status", "to_status", "transitioned_at", "actor_id"],
    );
    let titles: &[(&str, &str)] = &[
        ("Modification du point de consigne de la soupape PSV-", "process"),
        ("Remplacement de la pompe P-", "equipment"),
        ("Réorganisation des quarts de l'équipe ", "organisation"),
        ("Révision de la procédure de démarrage ", "procedure"),
        ("Mise à jour du logiciel de l'automate ", "software"),
        ("By-pass temporaire de la ligne ", "temporary"),
    ];
    let horizon = moment(end, 0, 0);
    for (site_index, site) in world.sites.iter().enumerate() {
        let count = ((history as f64 / 365.0) * 14.0).round().max(2.0) as u64;
        let manager = world.site_managers[site_index % world.site_managers.len()];
        for number in 1..=count {
            let id = catalog::uuid(&mut rng);
            let submitted_at =
                moment(day_in(&mut rng, start, history), rng.random_range(7..18), rng.random_range(0..60));
            let (title_stem, category) = catalog::pick(&mut rng, titles);
            let risk = catalog::pick_weighted(&mut rng, &[("low", 35), ("medium", 40), ("high", 20), ("critical", 5)]);
            // Each step takes a random number of days; steps after the last day do not happen.
            let mut times: Vec<(&str, DateTime<Utc>)> = vec![("submitted", submitted_at)];
            let rejected = rng.random_bool(0.1);
            let path: &[(&str, i64, i64)] = if rejected {
                &[("in_evaluation", 1, 7), ("in_validation", 3, 15), ("rejected", 2, 12)]
            } else {
                &[
                    ("in_evaluation", 1, 7),
                    ("in_validation", 3, 15),
                    ("approved", 2, 12),
                    ("in_implementation", 1, 10),
                    ("implemented", 7, 60),
                    ("closed", 3, 20),
                ]
            };
            let mut at = submitted_at;
            for (state, low, high) in path {
                at += Duration::hours(rng.random_range(low * 24..high * 24));
                if at >= horizon {
                    break;
                }
                times.push((state, at));
            }
            let time_of = |state: &str| times.iter().find(|(name, _)| *name == state).map(|(_, at)| *at);
            let status = times.last().map_or("submitted", |(state, _)| state);
            let reference = format!("MOC-{}-{}-{number:03}", site.site.code, submitted_at.year());
            let title = format!("{title_stem}{}", rng.random_range(100..999));
            requests.row(Audit { external_id: Some(&reference), ..audit(submitted_at, manager) }, |row| {
                row.uuid(id)
                    .text(&reference)
                    .uuid(site.id)
                    .text(&title)
                    .text(&format!("{title} : justification technique, analyse des risques et plan de mise en œuvre."))
                    .text(category)
                    .text(risk)
                    .text(status)
                    .uuid(manager)
                    .timestamp(submitted_at)
                    .opt_timestamp(time_of("in_evaluation"))
                    .opt_timestamp(time_of("in_validation"))
                    .opt_timestamp(time_of("approved"))
                    .opt_timestamp(time_of("rejected"))
                    .opt_timestamp(time_of("in_implementation"))
                    .opt_timestamp(time_of("implemented"))
                    .opt_timestamp(time_of("closed"))
                    .date(submitted_at.date_naive() + Days::new(90));
            });
            let mut previous: Option<&str> = None;
            for (state, at) in &times {
                transitions.row(audit(*at, manager), |row| {
                    row.uuid(catalog::uuid(&mut rng))
                        .uuid(id)
                        .opt_text(previous)
                        .text(state)
                        .timestamp(*at)
                        .uuid(manager);
                });
                previous = Some(state);
            }
            if let Some(evaluation) = time_of("in_evaluation") {
                let base_severity = match risk {
                    "low" => 1,
                    "medium" => 2,
                    "high" => 3,
                    _ => 4,
                };
                let domains = ["safety", "environment", "operations", "cost", "regulatory"];
                let assessed: Vec<&str> = domains.into_iter().filter(|_| rng.random_bool(0.6)).collect();
                for domain in assessed {
                    let severity = (base_severity + rng.random_range(-1..=1)).clamp(1, 5);
                    impacts.row(audit(evaluation, manager), |row| {
                        row.uuid(catalog::uuid(&mut rng))
                            .uuid(id)
                            .text(domain)
                            .int(severity)
                            .text("Évaluation en revue pluridisciplinaire");
                    });
                }
            }
            if let Some(validation) = time_of("in_validation") {
                let decision_at = time_of("approved").or(time_of("rejected"));
                let steps = [
                    ("site_manager", manager),
                    ("hse_officer", catalog::pick(&mut rng, &world.hse_officers)),
                    ("technical_authority", catalog::pick(&mut rng, &world.engineers)),
                ];
                for (step_index, (role, approver)) in steps.iter().enumerate() {
                    let step = step_index as i64 + 1;
                    let requested_at = validation + Duration::hours(step_index as i64 * 12);
                    let (decision, decided_at) = match decision_at {
                        Some(decided) => {
                            let rejects_here = status == "rejected" && step == 3;
                            (
                                if rejects_here { "rejected" } else { "approved" },
                                Some(decided - Duration::hours((3 - step) * 6)),
                            )
                        }
                        None if rng.random_bool(0.5) && step == 1 => (
                            "approved",
                            Some(requested_at + Duration::hours(rng.random_range(4..72))).filter(|at| *at < horizon),
                        ),
                        None => ("pending", None),
                    };
                    let decision = if decided_at.is_none() { "pending" } else { decision };
                    approvals.row(audit(requested_at, manager), |row| {
                        row.uuid(catalog::uuid(&mut rng))
                            .uuid(id)
                            .int(step)
                            .text(role)
                            .uuid(*approver)
                            .text(decision)
                            .timestamp(requested_at)
                            .timestamp(requested_at + Duration::days(7))
                            .opt_timestamp(decided_at);
                    });
                }
            }
        }
    }
    vec![requests, impacts, approvals, transitions]
}

fn cleanvue(options: &Options, world: &World) -> Vec<TableData> {
    let mut rng = options.rng("cleanvue");
    let (start, end) = (options.start(), options.end);
    let history = u64::from(options.history_days());
    let mut zones = TableData::new("cleanvue.zones", &["id", "site_id", "code", "name"]);
    let mut audits = TableData::new("cleanvue.audits", &["id", "zone_id", "auditor_id", "audited_at", "total_score"]);
    let mut scores = TableData::new("cleanvue.audit_scores", &["id", "audit_id", "criterion", "score", "comment"]);
    let mut scrapping = TableData::new(
        "cleanvue.scrapping_requests",
        &[
            "id",
            "site_id",
            "zone_id",
            "description",
            "quantity",
            "volume_m3",
            "weight_kg",
            "status",
            "requested_at",
            "completed_at",
        ],
    );
    let mut returns = TableData::new(
        "cleanvue.site_returns",
        &["id", "site_id", "destination_site_id", "description", "weight_kg", "returned_at"],
    );
    let zone_names = [
        "Zone process",
        "Quartiers-vie",
        "Atelier mécanique",
        "Magasin",
        "Salle électrique",
        "Pont principal",
        "Cuisine",
        "Laboratoire",
    ];
    for site in &world.sites {
        let mut zone_ids = Vec::new();
        for (index, name) in zone_names.iter().enumerate().take(rng.random_range(5..=8)) {
            let zone_id = catalog::uuid(&mut rng);
            zones.row(audit(moment(start - Days::new(90), 8, 0), world.admin), |row| {
                row.uuid(zone_id).uuid(site.id).text(&format!("Z{:02}", index + 1)).text(name);
            });
            zone_ids.push(zone_id);
            // Monthly audits; each zone has its own level and improves over the year.
            let level: f64 = rng.random_range(9.0..15.0);
            let mut audit_day = start + Days::new(rng.random_range(0..20));
            while audit_day < end {
                let audit_id = catalog::uuid(&mut rng);
                let auditor = catalog::pick(&mut rng, &world.hse_officers);
                let progress = (audit_day - start).num_days() as f64 / 365.0 * 2.0;
                let criteria: Vec<(&str, i64)> = ["seiri", "seiton", "seiso", "seiketsu", "shitsuke"]
                    .into_iter()
                    .map(|criterion| {
                        (
                            criterion,
                            (level + progress + rng.random_range(-2.5..2.5_f64)).round().clamp(0.0, 20.0) as i64,
                        )
                    })
                    .collect();
                let total: i64 = criteria.iter().map(|(_, score)| score).sum();
                let at = moment(audit_day, rng.random_range(8..16), 0);
                audits.row(audit(at, auditor), |row| {
                    row.uuid(audit_id).uuid(zone_id).uuid(auditor).timestamp(at).decimal(total as f64, 2);
                });
                for (criterion, score) in criteria {
                    scores.row(audit(at, auditor), |row| {
                        row.uuid(catalog::uuid(&mut rng))
                            .uuid(audit_id)
                            .text(criterion)
                            .int(score)
                            .opt_text((score < 10).then_some("Écart relevé, action corrective demandée"));
                    });
                }
                audit_day = audit_day + Days::new(rng.random_range(25..36));
            }
        }
        for _ in 0..((history as f64 / 365.0) * 24.0).round() as u64 {
            let requested = moment(day_in(&mut rng, start, history), 10, 0);
            let status = if requested + Duration::days(14) < moment(end, 0, 0) {
                if rng.random_bool(0.05) { "rejected" } else { "completed" }
            } else if rng.random_bool(0.5) {
                "approved"
            } else {
                "requested"
            };
            let completed = (status == "completed").then(|| requested + Duration::days(rng.random_range(3..14)));
            let quantity = rng.random_range(1..20);
            scrapping.row(audit(requested, world.admin), |row| {
                row.uuid(catalog::uuid(&mut rng))
                    .uuid(site.id)
                    .opt_uuid(Some(catalog::pick(&mut rng, &zone_ids)))
                    .text(catalog::pick(
                        &mut rng,
                        &[
                            "Palettes bois endommagées",
                            "Câbles électriques déposés",
                            "Tuyauterie corrodée",
                            "Mobilier hors d'usage",
                            "Fûts vides souillés",
                        ],
                    ))
                    .int(quantity)
                    .decimal(rng.random_range(0.1..12.0), 2)
                    .decimal(rng.random_range(10.0..3000.0), 1)
                    .text(status)
                    .timestamp(requested)
                    .opt_timestamp(completed);
            });
        }
        if site.site.is_offshore()
            && let Some(base) = world.sites.iter().find(|candidate| candidate.site.code == site.site.base)
        {
            for _ in 0..((history as f64 / 365.0) * 12.0).round() as u64 {
                let at = moment(day_in(&mut rng, start, history), 15, 0);
                returns.row(audit(at, world.admin), |row| {
                    row.uuid(catalog::uuid(&mut rng))
                        .uuid(site.id)
                        .uuid(base.id)
                        .text(catalog::pick(
                            &mut rng,
                            &[
                                "Retour pièces en réparation",
                                "Conteneur de déchets triés",
                                "Outillage de location",
                                "Bouteilles de gaz vides",
                            ],
                        ))
                        .decimal(rng.random_range(50.0..8000.0), 1)
                        .timestamp(at);
                });
            }
        }
    }
    vec![zones, audits, scores, scrapping, returns]
}

fn hse(options: &Options, world: &World) -> Vec<TableData> {
    let mut rng = options.rng("hse");
    let (start, end) = (options.start(), options.end);
    let mut incidents = TableData::new(
        "hse.incidents",
        &[
            "id",
            "reference",
            "site_id",
            "occurred_at",
            "reported_at",
            "severity",
            "category",
            "location",
            "status",
            "description",
            "reported_by",
        ],
    );
    let mut investigations = TableData::new(
        "hse.investigations",
        &["id", "incident_id", "lead_id", "started_at", "completed_at", "root_cause"],
    );
    let mut actions = TableData::new(
        "hse.actions",
        &["id", "incident_id", "investigation_id", "description", "owner_id", "status", "due_date", "completed_at"],
    );
    let horizon = moment(end, 0, 0);
    let mut counter = 0;
    for site in &world.sites {
        // About 12 events (near misses included) per 200,000 hours worked, 12-hour shifts.
        let daily_rate = f64::from(site.site.bed_capacity) * 0.92 * 12.0 / 200_000.0 * 12.0;
        let mut day = start;
        while day < end {
            if rng.random_bool(daily_rate.min(1.0)) {
                counter += 1;
                let id = catalog::uuid(&mut rng);
                let occurred_at = moment(day, rng.random_range(5..20), rng.random_range(0..60));
                let reported_at = occurred_at + Duration::minutes(rng.random_range(5..720));
                let severity = catalog::pick_weighted(
                    &mut rng,
                    &[
                        ("near_miss", 600),
                        ("first_aid", 220),
                        ("medical_treatment", 110),
                        ("lost_time", 60),
                        ("fatality", 1),
                    ],
                );
                let category = catalog::pick_weighted(
                    &mut rng,
                    &[
                        ("slip_trip_fall", 25),
                        ("dropped_object", 20),
                        ("lifting", 12),
                        ("process_safety", 10),
                        ("electrical", 8),
                        ("vehicle", 5),
                        ("environmental", 8),
                        ("other", 12),
                    ],
                );
                let age = (horizon - occurred_at).num_days();
                let status = match age {
                    0..=3 => "reported",
                    4..=20 => ["under_investigation", "actions_pending"][usize::from(rng.random_bool(0.5))],
                    21..=45 => ["closed", "actions_pending"][usize::from(rng.random_bool(0.3))],
                    _ => "closed",
                };
                let reporter = catalog::pick(&mut rng, &world.users);
                let reference = format!("HSE-{}-{}-{counter:04}", site.site.code, day.year());
                incidents.row(Audit { external_id: Some(&reference), ..audit(reported_at, reporter) }, |row| {
                    row.uuid(id)
                        .text(&reference)
                        .uuid(site.id)
                        .timestamp(occurred_at)
                        .timestamp(reported_at)
                        .text(severity)
                        .text(category)
                        .text(catalog::pick(
                            &mut rng,
                            &[
                                "Pont principal",
                                "Module M3",
                                "Salle des machines",
                                "Héliport",
                                "Atelier",
                                "Quartiers-vie",
                                "Quai de chargement",
                            ],
                        ))
                        .text(status)
                        .text(&format!(
                            "Événement {} ({}) signalé par l'équipe de quart",
                            severity.replace('_', " "),
                            category.replace('_', " ")
                        ))
                        .uuid(reporter);
                });
                let investigated =
                    matches!(severity, "medical_treatment" | "lost_time" | "fatality") || rng.random_bool(0.2);
                let investigation = (investigated && status != "reported").then(|| {
                    let investigation_id = catalog::uuid(&mut rng);
                    let started = reported_at + Duration::hours(rng.random_range(2..48));
                    let completed = Some(started + Duration::days(rng.random_range(3..20)))
                        .filter(|at| *at < horizon && matches!(status, "actions_pending" | "closed"));
                    let lead = catalog::pick(&mut rng, &world.hse_officers);
                    investigations.row(audit(started, lead), |row| {
                        row.uuid(investigation_id)
                            .uuid(id)
                            .uuid(lead)
                            .timestamp(started)
                            .opt_timestamp(completed)
                            .opt_text(completed.map(|_| {
                                catalog::pick(
                                    &mut rng,
                                    &[
                                        "Analyse de risque insuffisante",
                                        "Équipement inadapté",
                                        "Procédure non suivie",
                                        "Défaut de communication entre équipes",
                                    ],
                                )
                            }));
                    });
                    investigation_id
                });
                if investigation.is_some() || rng.random_bool(0.3) {
                    for _ in 0..rng.random_range(1..=3) {
                        let due = reported_at.date_naive() + Days::new(rng.random_range(7..45));
                        let completed = (status == "closed")
                            .then(|| moment(due - Days::new(rng.random_range(0..5)), 11, 0))
                            .filter(|at| *at < horizon && *at > reported_at);
                        let action_status = if completed.is_some() {
                            "done"
                        } else if rng.random_bool(0.5) {
                            "in_progress"
                        } else {
                            "open"
                        };
                        let owner = catalog::pick(&mut rng, &world.users);
                        actions.row(audit(reported_at, owner), |row| {
                            row.uuid(catalog::uuid(&mut rng))
                                .uuid(id)
                                .opt_uuid(investigation)
                                .text(catalog::pick(
                                    &mut rng,
                                    &[
                                        "Mettre à jour l'analyse de risques",
                                        "Former l'équipe au levage",
                                        "Remplacer la protection",
                                        "Baliser la zone",
                                        "Rappel sécurité en réunion de quart",
                                    ],
                                ))
                                .uuid(owner)
                                .text(action_status)
                                .date(due)
                                .opt_timestamp(completed);
                        });
                    }
                }
            }
            day = day + Days::new(1);
        }
    }
    vec![incidents, investigations, actions]
}

fn redacteur(options: &Options, world: &World) -> Vec<TableData> {
    let mut rng = options.rng("redacteur");
    let (start, end) = (options.start(), options.end);
    let mut templates = TableData::new(
        "redacteur.templates",
        &["id", "code", "name", "description", "category", "body", "page_setup", "is_published"],
    );
    let mut documents =
        TableData::new("redacteur.documents", &["id", "template_id", "site_id", "title", "status", "current_version"]);
    let mut versions = TableData::new(
        "redacteur.document_versions",
        &["id", "document_id", "version", "body", "warehouse_version", "comment"],
    );
    let specs = [
        (
            "weekly-site-report",
            "Rapport hebdomadaire de site",
            "POB, rotations, incidents et MOC de la semaine",
            "operations",
        ),
        (
            "powertrace-monthly",
            "Bilan énergie mensuel",
            "Énergie, pointe et facteur de charge par tableau",
            "powertrace",
        ),
        ("moc-dossier", "Dossier MOC", "Demande de modification, évaluation et circuit d'approbation", "moc"),
        ("5s-audit", "Audit 5S", "Scores 5S par zone et actions", "cleanvue"),
        ("project-progress", "Avancement projets", "Tâches, jalons et budget prévu/réalisé", "projects"),
    ];
    let created = moment(start - Days::new(30), 9, 0);
    let mut template_ids = Vec::new();
    for (code, name, description, category) in specs {
        let id = catalog::uuid(&mut rng);
        let body = format!(
            r#"{{"time": 1767225600000, "version": "2.31.0", "blocks": [{{"id": "title", "type": "header", "data": {{"text": "{name} — {{site.name}}", "level": 1}}}}, {{"id": "intro", "type": "paragraph", "data": {{"text": "{description}, du {{period.start}} au {{period.end}}."}}}}]}}"#
        );
        templates.row(Audit { external_id: Some(code), ..audit(created, world.admin) }, |row| {
            row.uuid(id)
                .text(code)
                .text(name)
                .text(description)
                .text(category)
                .text(&body)
                .text(r#"{"paper": "a4", "orientation": "portrait", "margins_mm": [20, 18, 20, 18]}"#)
                .boolean(true);
        });
        template_ids.push((id, name));
    }
    for site in &world.sites {
        for _ in 0..rng.random_range(2..=5) {
            let (template_id, template_name) = catalog::pick(&mut rng, &template_ids);
            let document_id = catalog::uuid(&mut rng);
            let n_versions = rng.random_range(1..=4);
            let written = moment(start + Days::new(rng.random_range(0..u64::from(options.history_days()))), 10, 0);
            let status = if written + Duration::days(14) < moment(end, 0, 0) { "published" } else { "draft" };
            let title = format!("{template_name} — {}", site.site.name);
            documents.row(audit(written, world.admin), |row| {
                row.uuid(document_id).uuid(template_id).uuid(site.id).text(&title).text(status).int(n_versions);
            });
            for version in 1..=n_versions {
                let body = format!(
                    r#"{{"time": 1767225600000, "version": "2.31.0", "blocks": [{{"id": "title", "type": "header", "data": {{"text": "{title}", "level": 1}}}}, {{"id": "v", "type": "paragraph", "data": {{"text": "Version {version}"}}}}]}}"#
                );
                versions.row(audit(written + Duration::days(version), world.admin), |row| {
                    row.uuid(catalog::uuid(&mut rng))
                        .uuid(document_id)
                        .int(version)
                        .text(&body)
                        .null()
                        .text(if version == 1 { "Création" } else { "Relecture et corrections" });
                });
            }
        }
    }
    vec![templates, documents, versions]
}
