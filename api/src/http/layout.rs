//! The page frame every HTML page shares (navigation, the signed-in user and the
//! sign-out form, styles) and HTML escaping.

use super::Caller;

tokio::task_local! {
    /// The caller of the request being answered, set by the guard, so every page shows
    /// who is signed in without each handler passing it along.
    pub(crate) static CALLER: Caller;
}

/// Every page's frame: navigation, title, header line, body.
pub fn page(path: &str, title: &str, header: &str, body: &str) -> String {
    let mut navigation = String::new();
    for page in super::dashboards::PAGES {
        let label = page.title.split(" — ").next().unwrap_or(page.title);
        let current = if page.path == path { " aria-current=\"page\"" } else { "" };
        navigation.push_str(&format!("<a href=\"{}\"{current}>{}</a>", page.path, escape(label)));
    }
    let current = if path == "/documents" { " aria-current=\"page\"" } else { "" };
    navigation.push_str(&format!("<a href=\"/documents\"{current}>Rapports</a>"));
    let current = if path == "/powertrace" { " aria-current=\"page\"" } else { "" };
    navigation.push_str(&format!("<a href=\"/powertrace\"{current}>Bilans et scénarios</a>"));
    let current = if path == "/tables" { " aria-current=\"page\"" } else { "" };
    navigation.push_str(&format!("<a href=\"/tables\"{current}>Tables</a>"));
    // The search box on every page: a plain GET form, it works without JavaScript.
    navigation.push_str(
        "<form class=\"find\" method=\"get\" action=\"/search\" role=\"search\">\
         <input type=\"search\" name=\"q\" placeholder=\"Rechercher…\" aria-label=\"Rechercher dans les modules\"></form>",
    );
    let _ = CALLER.try_with(|caller| {
        for (permission, target, label) in
            [
                ("redacteur.write", "/editor", "Éditeur"),
                ("schedules.manage", "/schedules", "Envois programmés"),
                ("alerts.manage", "/alerts", "Alertes"),
            ]
        {
            if caller.principal.scope_for(permission).is_some() {
                let current = if path == target { " aria-current=\"page\"" } else { "" };
                navigation.push_str(&format!("<a href=\"{target}\"{current}>{label}</a>"));
            }
        }
        if caller.principal.user_id.is_some() {
            let current = if path == "/notifications" { " aria-current=\"page\"" } else { "" };
            navigation.push_str(&format!("<a href=\"/notifications\"{current}>Notifications</a>"));
        }
        if caller.principal.scope_for("audit.read").is_some() {
            let current = if path == "/admin/audit" { " aria-current=\"page\"" } else { "" };
            navigation.push_str(&format!("<a href=\"/admin/audit\"{current}>Journal d'audit</a>"));
        }
        navigation.push_str("<a href=\"/api/docs\">API</a>");
        if let Some(session) = &caller.session {
            navigation.push_str(&format!(
                "<span class=\"who\">{} · {}</span><form method=\"post\" action=\"/logout\" class=\"out\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">Se déconnecter</button></form>",
                escape(&caller.principal.display_name),
                escape(&caller.scope.describe()),
                escape(&session.csrf_token)
            ));
        }
    });
    format!(
        r#"<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>OpsFlux — {title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; color: #1d2733; background: #f6f8fa; }}
nav {{ background: #1d2733; padding: .6rem 1rem; display: flex; gap: 1rem; flex-wrap: wrap; }}
nav a {{ color: #dfe6ee; text-decoration: none; }}
nav a[aria-current] {{ color: #fff; font-weight: 600; border-bottom: 2px solid #ff7f0e; }}
main {{ max-width: 84rem; margin: 0 auto; padding: 1rem; }}
h1 {{ font-size: 1.4rem; margin: .5rem 0; }}
h2 {{ font-size: 1rem; margin: .2rem 0 .6rem; }}
.filters {{ display: flex; gap: .8rem; flex-wrap: wrap; align-items: center; margin: .5rem 0 1rem; }}
.tiles {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); gap: .8rem; margin-bottom: 1rem; }}
.tile {{ background: #fff; border: 1px solid #d8dee6; border-radius: 6px; margin: 0; padding: .4rem; text-align: center; }}
.tile svg {{ max-width: 100%; height: auto; }}
.grid {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(38rem, 1fr)); gap: 1rem; }}
.modules ul {{ list-style: none; padding: 0; margin: 0 0 1rem; display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); gap: .5rem; }}
.modules h2 {{ font-size: 1rem; margin: 0 0 .4rem; }}
.modules a {{ display: block; background: #fff; border: 1px solid #d8dee4; border-radius: 6px; padding: .5rem .7rem; color: #1d2733; text-decoration: none; }}
.modules a span {{ color: #57606a; }}
.panel, section {{ background: #fff; border: 1px solid #d8dee6; border-radius: 6px; padding: .8rem; }}
.panel svg {{ max-width: 100%; height: auto; }}
.wide {{ grid-column: 1 / -1; }}
table {{ width: 100%; border-collapse: collapse; font-size: .9rem; }}
td, th {{ padding: .2rem .4rem; border-bottom: 1px solid #eef1f4; text-align: left; }}
.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
.empty, .problem {{ padding: 1.2rem; background: #fff7e6; border: 1px solid #f0d9a8; border-radius: 6px; }}
.pin {{ color: #5b6b7c; font-size: .8rem; }}
.who {{ color: #dfe6ee; margin-left: auto; }}
nav form.out, nav form.find {{ margin: 0; }}
nav form.find input {{ padding: .15rem .4rem; border-radius: 4px; border: 1px solid #5b6b7c; }}
.search {{ grid-template-columns: 16rem 1fr; }}
.facets ul {{ list-style: none; padding: 0; margin: 0 0 .8rem; }}
.facets a[aria-current] {{ font-weight: 600; }}
ol.results {{ padding-left: 1.4rem; }}
ol.results li {{ margin: 0 0 .9rem; }}
mark {{ background: #ffe58f; padding: 0 .1em; }}
nav form.out button {{ background: none; border: 1px solid #5b6b7c; color: #dfe6ee; border-radius: 4px; cursor: pointer; }}
form.signin {{ display: grid; gap: .6rem; max-width: 22rem; background: #fff; border: 1px solid #d8dee6; border-radius: 6px; padding: 1rem; }}
form.signin input {{ padding: .4rem; }}
</style></head>
<body><nav>{navigation}</nav><main><h1>{title}</h1>{header}{body}</main></body></html>"#,
        title = escape(title),
    )
}

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}
