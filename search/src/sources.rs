//! What each module contributes to the index: one `Source` per kind of record, a query
//! over the warehouse tables it names, giving one `Entry` per live record (rows marked
//! deleted at the source are left out).
//!
//! Each query answers the same columns: `id`, `site_a`, `site_b` (site codes; a trip
//! has two), `status`, `day`, `title`, `body`, `open` and `blocks` (a Rédacteur block
//! document whose text joins the body). Tables are registered as `<schema>_<table>`.

use std::hash::{Hash, Hasher};

use chrono::NaiveDate;
use opsflux_warehouse::datafusion::arrow::array::{Array, AsArray, RecordBatch};
use opsflux_warehouse::datafusion::arrow::compute::cast;
use opsflux_warehouse::datafusion::arrow::datatypes::{DataType, Date32Type};

/// The modules, as the `module` filter names them.
pub const MODULES: &[&str] =
    &["moc", "hse", "projects", "pob", "tiers", "powertrace", "travel", "redacteur", "cleanvue"];

/// One kind of record and how to read it.
#[derive(Debug, Clone, Copy)]
pub struct Source {
    /// The kind of record, unique among sources (`moc_request`, `incident`, …); with the
    /// record id it makes the entry's key.
    pub kind: &'static str,
    pub module: &'static str,
    /// The warehouse tables the query reads; a change to any of them reads it again.
    pub tables: &'static [&'static str],
    /// Records every reader of the module sees, whatever their sites (companies,
    /// contacts, templates): the same tables the query engine shares.
    pub shared: bool,
    pub sql: &'static str,
}

/// One record as the index holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: &'static str,
    pub module: &'static str,
    pub id: String,
    /// Site codes; empty for a record of no site (seen only by readers of every site)
    /// or a shared one.
    pub sites: Vec<String>,
    pub shared: bool,
    pub status: Option<String>,
    pub date: Option<NaiveDate>,
    pub title: String,
    pub body: String,
    /// Still to be acted upon (an open MOC, incident, action, task, trip, draft): ranked
    /// a little higher.
    pub open: bool,
}

impl Entry {
    /// The entry's key in the index: kind and record id.
    pub fn key(&self) -> String {
        format!("{}:{}", self.kind, self.id)
    }

    /// A digest of everything the index holds of the entry: equal digests, nothing to
    /// write. (A different hasher after an upgrade only makes one sync rewrite entries.)
    pub fn fingerprint(&self) -> u64 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (self.kind, self.module, &self.id, &self.sites, self.shared, &self.status).hash(&mut hasher);
        (self.date, &self.title, &self.body, self.open).hash(&mut hasher);
        hasher.finish()
    }
}

/// The longest body kept for one record: text past it is not searched.
const LONGEST_BODY: usize = 20_000;

/// The entries of one batch of a source's query.
pub(crate) fn entries(source: &Source, batch: &RecordBatch) -> Result<Vec<Entry>, String> {
    let text = |name: &str| -> Result<Vec<Option<String>>, String> {
        let column = batch.column_by_name(name).ok_or_else(|| format!("the query gives no column `{name}`"))?;
        let column = cast(column, &DataType::Utf8).map_err(|error| format!("column `{name}`: {error}"))?;
        let strings = column.as_string::<i32>();
        Ok((0..strings.len()).map(|row| strings.is_valid(row).then(|| strings.value(row).to_owned())).collect())
    };
    let ids = text("id")?;
    let site_a = text("site_a")?;
    let site_b = text("site_b")?;
    let statuses = text("status")?;
    let titles = text("title")?;
    let bodies = text("body")?;
    let blocks = text("blocks")?;
    let days = {
        let column = batch.column_by_name("day").ok_or("the query gives no column `day`")?;
        let column = cast(column, &DataType::Date32).map_err(|error| format!("column `day`: {error}"))?;
        let days = column.as_primitive::<Date32Type>().clone();
        (0..days.len()).map(|row| days.is_valid(row).then(|| day(days.value(row))).flatten()).collect::<Vec<_>>()
    };
    let open = {
        let column = batch.column_by_name("open").ok_or("the query gives no column `open`")?;
        let column = cast(column, &DataType::Boolean).map_err(|error| format!("column `open`: {error}"))?;
        let flags = column.as_boolean().clone();
        (0..flags.len()).map(|row| flags.is_valid(row) && flags.value(row)).collect::<Vec<_>>()
    };
    let mut out = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let Some(id) = ids[row].clone() else { continue };
        let mut sites: Vec<String> = [&site_a[row], &site_b[row]].into_iter().flatten().cloned().collect();
        sites.sort();
        sites.dedup();
        let mut body = bodies[row].clone().unwrap_or_default();
        if let Some(document) = &blocks[row] {
            let text = block_text(document);
            if !text.is_empty() {
                if !body.is_empty() {
                    body.push_str(" · ");
                }
                body.push_str(&text);
            }
        }
        if body.len() > LONGEST_BODY {
            let mut end = LONGEST_BODY;
            while !body.is_char_boundary(end) {
                end -= 1;
            }
            body.truncate(end);
        }
        out.push(Entry {
            kind: source.kind,
            module: source.module,
            id,
            sites: if source.shared { Vec::new() } else { sites },
            shared: source.shared,
            status: statuses[row].clone(),
            date: days[row],
            title: titles[row].clone().unwrap_or_default(),
            body,
            open: open[row],
        });
    }
    Ok(out)
}

/// The date of a day number counted from 1970-01-01 (Arrow's `Date32`).
pub(crate) fn day(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days.checked_add(719_163)?)
}

/// The text a person wrote in a Rédacteur block document (Editor.js JSON): paragraphs,
/// headings, list items, table cells, captions, with inline markup removed. Data
/// settings (metric names, SQL, parameters) are not text and are left out.
pub(crate) fn block_text(document: &str) -> String {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(document) else { return String::new() };
    let mut parts = Vec::new();
    let blocks = value.get("blocks").and_then(|blocks| blocks.as_array()).cloned().unwrap_or_default();
    for block in &blocks {
        if let Some(data) = block.get("data") {
            collect_text(data, None, &mut parts);
        }
    }
    parts.join(" · ")
}

const TEXT_KEYS: &[&str] = &["text", "title", "caption", "items", "content", "message", "label", "heading", "cells"];

fn collect_text(value: &serde_json::Value, key: Option<&str>, parts: &mut Vec<String>) {
    match value {
        serde_json::Value::String(text) if key.is_some_and(|key| TEXT_KEYS.contains(&key)) => {
            let text = strip_markup(text);
            if !text.trim().is_empty() {
                parts.push(text.trim().to_owned());
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                collect_text(item, key, parts);
            }
        }
        serde_json::Value::Object(members) => {
            for (name, member) in members {
                // Inside a text-bearing member (list items as objects), every string is text.
                let inner = if key.is_some_and(|key| TEXT_KEYS.contains(&key)) { key } else { Some(name.as_str()) };
                collect_text(member, inner, parts);
            }
        }
        _ => {}
    }
}

/// Inline HTML (`<b>`, `<a href>`, entities for `&`, `<`, `>`, quotes and spaces) as text.
fn strip_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    for character in text.chars() {
        match character {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(character),
            _ => {}
        }
    }
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every source, in the order a rebuild reads them.
pub const SOURCES: &[Source] = &[
    Source {
        kind: "moc_request",
        module: "moc",
        tables: &["moc.requests", "core.sites"],
        shared: false,
        sql: "SELECT r.id AS id, s.code AS site_a, CAST(NULL AS VARCHAR) AS site_b, r.status AS status,
                CAST(r.submitted_at AS DATE) AS day, concat_ws(' — ', r.reference, r.title) AS title,
                concat_ws(' · ', r.description, r.category, r.risk_level, s.name, s.code) AS body,
                r.status NOT IN ('rejected', 'implemented', 'closed') AS open, CAST(NULL AS VARCHAR) AS blocks
              FROM moc_requests r LEFT JOIN core_sites s ON s.id = r.site_id AND s.deleted_at IS NULL
              WHERE r.deleted_at IS NULL",
    },
    Source {
        kind: "incident",
        module: "hse",
        tables: &["hse.incidents", "core.sites"],
        shared: false,
        sql: "SELECT i.id AS id, s.code AS site_a, CAST(NULL AS VARCHAR) AS site_b, i.status AS status,
                CAST(i.occurred_at AS DATE) AS day, concat_ws(' — ', i.reference, i.location) AS title,
                concat_ws(' · ', i.description, i.category, i.severity, s.name, s.code) AS body,
                i.status <> 'closed' AS open, CAST(NULL AS VARCHAR) AS blocks
              FROM hse_incidents i LEFT JOIN core_sites s ON s.id = i.site_id AND s.deleted_at IS NULL
              WHERE i.deleted_at IS NULL",
    },
    Source {
        kind: "hse_action",
        module: "hse",
        tables: &["hse.actions", "hse.incidents", "core.sites"],
        shared: false,
        sql: "SELECT a.id AS id, s.code AS site_a, CAST(NULL AS VARCHAR) AS site_b, a.status AS status,
                CAST(a.due_date AS DATE) AS day, concat_ws(' — ', 'Action', i.reference) AS title,
                concat_ws(' · ', a.description, i.location, s.name, s.code) AS body,
                a.status IN ('open', 'in_progress') AS open, CAST(NULL AS VARCHAR) AS blocks
              FROM hse_actions a JOIN hse_incidents i ON i.id = a.incident_id AND i.deleted_at IS NULL
                LEFT JOIN core_sites s ON s.id = i.site_id AND s.deleted_at IS NULL
              WHERE a.deleted_at IS NULL",
    },
    Source {
        kind: "project",
        module: "projects",
        tables: &["projects.projects", "core.sites"],
        shared: false,
        sql: "SELECT p.id AS id, s.code AS site_a, CAST(NULL AS VARCHAR) AS site_b, p.status AS status,
                CAST(p.start_date AS DATE) AS day, concat_ws(' — ', p.code, p.name) AS title,
                concat_ws(' · ', s.name, s.code) AS body,
                p.status IN ('planned', 'active', 'on_hold') AS open, CAST(NULL AS VARCHAR) AS blocks
              FROM projects_projects p LEFT JOIN core_sites s ON s.id = p.site_id AND s.deleted_at IS NULL
              WHERE p.deleted_at IS NULL",
    },
    Source {
        kind: "task",
        module: "projects",
        tables: &["projects.tasks", "projects.projects", "core.sites"],
        shared: false,
        sql: "SELECT t.id AS id, s.code AS site_a, CAST(NULL AS VARCHAR) AS site_b, t.status AS status,
                CAST(t.due_date AS DATE) AS day, t.name AS title,
                concat_ws(' · ', p.code, p.name, s.name, s.code) AS body,
                t.status NOT IN ('done', 'cancelled') AS open, CAST(NULL AS VARCHAR) AS blocks
              FROM projects_tasks t JOIN projects_projects p ON p.id = t.project_id AND p.deleted_at IS NULL
                LEFT JOIN core_sites s ON s.id = p.site_id AND s.deleted_at IS NULL
              WHERE t.deleted_at IS NULL",
    },
    Source {
        kind: "person",
        module: "pob",
        tables: &["pob.personnel", "tiers.companies", "core.sites"],
        shared: false,
        sql: "SELECT p.id AS id, s.code AS site_a, CAST(NULL AS VARCHAR) AS site_b, CAST(NULL AS VARCHAR) AS status,
                CAST(NULL AS DATE) AS day, concat_ws(' ', p.first_name, p.last_name) AS title,
                concat_ws(' · ', p.job_title, p.badge_number, p.rotation_pattern, c.name, s.name, s.code) AS body,
                false AS open, CAST(NULL AS VARCHAR) AS blocks
              FROM pob_personnel p LEFT JOIN tiers_companies c ON c.id = p.company_id
                LEFT JOIN core_sites s ON s.id = p.home_site_id AND s.deleted_at IS NULL
              WHERE p.deleted_at IS NULL",
    },
    Source {
        kind: "company",
        module: "tiers",
        tables: &["tiers.companies"],
        shared: true,
        sql: "SELECT c.id AS id, CAST(NULL AS VARCHAR) AS site_a, CAST(NULL AS VARCHAR) AS site_b, CAST(NULL AS VARCHAR) AS status,
                CAST(NULL AS DATE) AS day, c.name AS title,
                concat_ws(' · ', c.kind, c.registration_number, c.city, c.country) AS body,
                false AS open, CAST(NULL AS VARCHAR) AS blocks
              FROM tiers_companies c
              WHERE c.deleted_at IS NULL",
    },
    Source {
        kind: "contact",
        module: "tiers",
        tables: &["tiers.contacts", "tiers.companies"],
        shared: true,
        sql: "SELECT k.id AS id, CAST(NULL AS VARCHAR) AS site_a, CAST(NULL AS VARCHAR) AS site_b,
                CAST(NULL AS VARCHAR) AS status, CAST(NULL AS DATE) AS day,
                concat_ws(' ', k.first_name, k.last_name) AS title,
                concat_ws(' · ', k.job_title, k.email, k.phone, c.name) AS body,
                false AS open, CAST(NULL AS VARCHAR) AS blocks
              FROM tiers_contacts k LEFT JOIN tiers_companies c ON c.id = k.company_id
              WHERE k.deleted_at IS NULL",
    },
    Source {
        kind: "equipment",
        module: "powertrace",
        tables: &["powertrace.equipment", "powertrace.switchboards", "core.sites"],
        shared: false,
        sql: "SELECT e.id AS id, s.code AS site_a, CAST(NULL AS VARCHAR) AS site_b, CAST(NULL AS VARCHAR) AS status,
                CAST(NULL AS DATE) AS day, concat_ws(' — ', e.tag, e.description) AS title,
                concat_ws(' · ', b.code, b.name, concat(CAST(e.rated_kw AS VARCHAR), ' kW'), e.load_category, s.name, s.code) AS body,
                false AS open, CAST(NULL AS VARCHAR) AS blocks
              FROM powertrace_equipment e LEFT JOIN powertrace_switchboards b ON b.id = e.switchboard_id
                LEFT JOIN core_sites s ON s.id = e.site_id AND s.deleted_at IS NULL
              WHERE e.deleted_at IS NULL",
    },
    Source {
        kind: "switchboard",
        module: "powertrace",
        tables: &["powertrace.switchboards", "core.sites"],
        shared: false,
        sql: "SELECT b.id AS id, s.code AS site_a, CAST(NULL AS VARCHAR) AS site_b, CAST(NULL AS VARCHAR) AS status,
                CAST(NULL AS DATE) AS day, concat_ws(' — ', b.code, b.name) AS title,
                concat_ws(' · ', concat(CAST(b.voltage_v AS VARCHAR), ' V'), s.name, s.code) AS body,
                false AS open, CAST(NULL AS VARCHAR) AS blocks
              FROM powertrace_switchboards b LEFT JOIN core_sites s ON s.id = b.site_id AND s.deleted_at IS NULL
              WHERE b.deleted_at IS NULL",
    },
    Source {
        kind: "trip",
        module: "travel",
        tables: &["travel.trips", "travel.vehicles", "core.sites"],
        shared: false,
        sql: "SELECT t.id AS id, d.code AS site_a, a.code AS site_b, t.status AS status,
                CAST(t.scheduled_departure_at AS DATE) AS day, concat_ws(' — ', t.trip_number, v.name) AS title,
                concat_ws(' · ', v.kind, v.registration) AS body,
                t.status IN ('planned', 'in_progress') AS open, CAST(NULL AS VARCHAR) AS blocks
              FROM travel_trips t LEFT JOIN travel_vehicles v ON v.id = t.vehicle_id
                LEFT JOIN core_sites d ON d.id = t.departure_site_id AND d.deleted_at IS NULL
                LEFT JOIN core_sites a ON a.id = t.arrival_site_id AND a.deleted_at IS NULL
              WHERE t.deleted_at IS NULL",
    },
    Source {
        kind: "vehicle",
        module: "travel",
        tables: &["travel.vehicles", "tiers.companies", "core.sites"],
        shared: false,
        sql: "SELECT v.id AS id, s.code AS site_a, CAST(NULL AS VARCHAR) AS site_b, CAST(NULL AS VARCHAR) AS status,
                CAST(NULL AS DATE) AS day, v.name AS title,
                concat_ws(' · ', v.kind, v.registration, c.name, s.name, s.code) AS body,
                false AS open, CAST(NULL AS VARCHAR) AS blocks
              FROM travel_vehicles v LEFT JOIN tiers_companies c ON c.id = v.operator_company_id
                LEFT JOIN core_sites s ON s.id = v.home_site_id AND s.deleted_at IS NULL
              WHERE v.deleted_at IS NULL",
    },
    Source {
        kind: "document",
        module: "redacteur",
        tables: &["redacteur.documents", "redacteur.document_versions", "core.sites"],
        shared: false,
        sql: "SELECT d.id AS id, s.code AS site_a, CAST(NULL AS VARCHAR) AS site_b, d.status AS status,
                CAST(d.created_at AS DATE) AS day, d.title AS title,
                concat_ws(' · ', s.name, s.code) AS body,
                d.status IN ('draft', 'in_review') AS open, CAST(v.body AS VARCHAR) AS blocks
              FROM redacteur_documents d
                LEFT JOIN redacteur_document_versions v ON v.document_id = d.id AND v.version = d.current_version
                  AND v.deleted_at IS NULL
                LEFT JOIN core_sites s ON s.id = d.site_id AND s.deleted_at IS NULL
              WHERE d.deleted_at IS NULL",
    },
    Source {
        kind: "template",
        module: "redacteur",
        tables: &["redacteur.templates"],
        shared: true,
        sql: "SELECT t.id AS id, CAST(NULL AS VARCHAR) AS site_a, CAST(NULL AS VARCHAR) AS site_b,
                CASE WHEN t.is_published THEN 'published' ELSE 'draft' END AS status,
                CAST(t.created_at AS DATE) AS day, t.name AS title,
                concat_ws(' · ', t.code, t.description, t.category) AS body,
                false AS open, CAST(t.body AS VARCHAR) AS blocks
              FROM redacteur_templates t
              WHERE t.deleted_at IS NULL",
    },
    Source {
        kind: "audit_5s",
        module: "cleanvue",
        tables: &["cleanvue.audits", "cleanvue.zones", "core.sites"],
        shared: false,
        sql: "SELECT a.id AS id, s.code AS site_a, CAST(NULL AS VARCHAR) AS site_b, CAST(NULL AS VARCHAR) AS status,
                CAST(a.audited_at AS DATE) AS day, concat_ws(' — ', 'Audit 5S', z.code, z.name) AS title,
                concat_ws(' · ', concat('score ', CAST(a.total_score AS VARCHAR)), s.name, s.code) AS body,
                false AS open, CAST(NULL AS VARCHAR) AS blocks
              FROM cleanvue_audits a JOIN cleanvue_zones z ON z.id = a.zone_id AND z.deleted_at IS NULL
                LEFT JOIN core_sites s ON s.id = z.site_id AND s.deleted_at IS NULL
              WHERE a.deleted_at IS NULL",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_unique_and_modules_known() {
        let mut kinds: Vec<_> = SOURCES.iter().map(|source| source.kind).collect();
        kinds.sort();
        kinds.dedup();
        assert_eq!(kinds.len(), SOURCES.len());
        assert!(SOURCES.iter().all(|source| MODULES.contains(&source.module)));
    }

    #[test]
    fn block_text_keeps_what_authors_wrote() {
        let document = r#"{"blocks":[
            {"id":"a","type":"header","data":{"text":"Rapport <b>hebdomadaire</b>","level":2}},
            {"id":"b","type":"paragraph","data":{"text":"Fuite d&#39;huile sur la pompe P&amp;ID-12"}},
            {"id":"c","type":"list","data":{"style":"unordered","items":[{"content":"Compresseur K-101","items":[]},"Turbine"]}},
            {"id":"d","type":"metric","data":{"metric":"pob_daily","sql":"SELECT 1"}}
        ]}"#;
        assert_eq!(
            block_text(document),
            "Rapport hebdomadaire · Fuite d'huile sur la pompe P&ID-12 · Compresseur K-101 · Turbine"
        );
        assert_eq!(block_text("not json"), "");
    }
}
