//! The shipped roles as sets of permission codes `module.action.scope`, where the
//! scope `site` limits rows to the user's sites and `all` reaches every site. Shipped
//! roles are defined here, whatever the database says; other roles take the codes
//! their `platform.role_permissions` rows grant.

/// What each permission lets a caller do; the route table names the `module.action`.
pub const PERMISSIONS: &[(&str, &str)] = &[
    ("dashboards.read", "dashboards, the metric API and the site list"),
    ("exports.run", "exports of tables and metric results (Parquet, CSV, XLSX, Arrow)"),
    ("redacteur.render", "the reports page and rendering shipped templates"),
    ("redacteur.write", "rendering documents the caller wrote, with read-only SQL blocks"),
    ("powertrace.scenario_write", "PowerTrace what-if scenarios"),
    ("warehouse.tables", "row counts of every table"),
    ("audit.read", "the audit log, its page and its CSV export"),
    ("schedules.manage", "scheduled reports: create, edit, pause, run, history (`site`: the schedules they own)"),
    ("alerts.manage", "threshold alert rules and their evaluations (`site`: rules they own, on their sites)"),
    ("admin.manage", "users, roles and permissions"),
];

/// The shipped roles: code, French name, what it is for, permission codes.
pub const SHIPPED: &[(&str, &str, &str, &[&str])] = &[
    (
        "admin",
        "Administrateur",
        "everything, on every site; must sign in with a second factor",
        &[
            "dashboards.read.all",
            "exports.run.all",
            "redacteur.render.all",
            "redacteur.write.all",
            "powertrace.scenario_write.all",
            "warehouse.tables.all",
            "audit.read.all",
            "admin.manage.all",
            "schedules.manage.all",
            "alerts.manage.all",
        ],
    ),
    (
        "manager",
        "Chef de site",
        "dashboards, reports, their own documents, exports, schedules and alerts of their sites",
        &[
            "dashboards.read.site",
            "exports.run.site",
            "redacteur.render.site",
            "redacteur.write.site",
            "schedules.manage.site",
            "alerts.manage.site",
        ],
    ),
    (
        "engineer",
        "Ingénieur",
        "dashboards, reports, exports, PowerTrace scenarios and alerts of their sites",
        &[
            "dashboards.read.site",
            "exports.run.site",
            "redacteur.render.site",
            "powertrace.scenario_write.site",
            "alerts.manage.site",
        ],
    ),
    (
        "analyst",
        "Analyste",
        "dashboards, exports, reports, their own documents, schedules and alerts across every site",
        &[
            "dashboards.read.all",
            "exports.run.all",
            "redacteur.render.all",
            "redacteur.write.all",
            "warehouse.tables.all",
            "schedules.manage.all",
            "alerts.manage.all",
        ],
    ),
    (
        "viewer",
        "Lecteur",
        "dashboards and shipped reports of their sites",
        &["dashboards.read.site", "redacteur.render.site"],
    ),
];

/// Roles that must sign in with a second factor.
pub const SECOND_FACTOR_REQUIRED: &[&str] = &["admin"];

/// The reader of a server with no database (loopback only).
pub const LOCAL_READER: &[&str] =
    &["dashboards.read.all", "exports.run.all", "redacteur.render.all", "redacteur.write.all", "warehouse.tables.all"];

/// The permission codes of a shipped role.
pub fn shipped(code: &str) -> Option<&'static [&'static str]> {
    SHIPPED.iter().find(|(known, _, _, _)| *known == code).map(|(_, _, _, permissions)| *permissions)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_shipped_code_names_a_known_permission_and_scope() {
        for (role, _, _, codes) in super::SHIPPED {
            for code in *codes {
                let (module_action, scope) = code.rsplit_once('.').unwrap();
                assert!(matches!(scope, "site" | "all"), "{role}: {code}");
                assert!(super::PERMISSIONS.iter().any(|(known, _)| *known == module_action), "{role}: {code}");
            }
        }
    }
}
