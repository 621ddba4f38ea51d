//! The dashboard pages: which metrics each page shows and how, the filter form (site,
//! period, grain as query parameters), and the HTML around the SVG charts.

use axum::extract::{Extension, OriginalUri, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use opsflux_query::{ColumnRole, Grain, MetricRequest, MetricResult, ParameterError, QueryError};
use opsflux_render::chart::{Chart, ChartKind};
use opsflux_render::figures::{self, ChartSpec};
use opsflux_render::{Locale, labels};

use super::layout::{escape, page as layout};
use super::metrics::MetricParameters;
use super::{AppState, Caller};

/// How a panel shows its metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    /// The whole period's value, for all the chosen sites together.
    Kpi,
    Line,
    Bar,
    StackedBar,
    /// Sites as rows, days as columns.
    Heatmap,
    /// The rows themselves (e.g. the days over capacity).
    List,
}

/// One chart of a page.
#[derive(Debug)]
pub struct Panel {
    pub metric: &'static str,
    /// The measures drawn (one series each when there is no dimension).
    pub measures: &'static [&'static str],
    pub show: Show,
    /// Grouping; the series are its value combinations.
    pub by: &'static [&'static str],
    /// A grain this panel always uses (else the page's, else the metric's).
    pub grain: Option<Grain>,
    /// A measure drawn as a reference line instead of a series (bed capacity).
    pub threshold: Option<&'static str>,
    pub title: &'static str,
}

const fn panel(
    metric: &'static str,
    measures: &'static [&'static str],
    show: Show,
    by: &'static [&'static str],
    title: &'static str,
) -> Panel {
    let grain = match show {
        Show::Kpi => Some(Grain::Total),
        Show::Heatmap | Show::List => Some(Grain::Day),
        _ => None,
    };
    Panel { metric, measures, show, by, grain, threshold: None, title }
}

/// A dashboard page.
#[derive(Debug)]
pub struct Page {
    pub path: &'static str,
    pub title: &'static str,
    pub panels: &'static [Panel],
}

/// Every dashboard page, in the order of the navigation bar.
pub const PAGES: &[Page] = &[
    Page {
        path: "/",
        title: "Vue d'ensemble",
        panels: &[
            panel("pob.occupancy", &["occupancy"], Show::Kpi, &[], "Occupation des lits"),
            panel("pob.over_capacity", &["days"], Show::Kpi, &[], "Jours-site en surcapacité"),
            panel("travel.seat_occupancy", &["occupancy"], Show::Kpi, &[], "Remplissage des sièges"),
            panel("moc.cycle_time", &["p50_days"], Show::Kpi, &[], "Cycle MOC médian"),
            panel("hse.incident_rate", &["rate"], Show::Kpi, &[], "Incidents / 200 000 h"),
            panel("projects.task_completion", &["done_percent"], Show::Kpi, &[], "Tâches terminées"),
            panel("cleanvue.five_s_score", &["score"], Show::Kpi, &[], "Score 5S moyen"),
            panel("power.energy", &["energy_kwh"], Show::Kpi, &[], "Énergie consommée"),
            Panel {
                threshold: Some("capacity"),
                ..panel("pob.people_on_board", &["pob"], Show::Line, &[], "Personnes à bord et lits")
            },
            panel("hse.incidents", &["incidents"], Show::StackedBar, &["severity"], "Incidents par gravité"),
        ],
    },
    Page {
        path: "/pob",
        title: "POB — personnes à bord",
        panels: &[
            panel("pob.occupancy", &["occupancy"], Show::Kpi, &[], "Occupation des lits"),
            panel("pob.over_capacity", &["days"], Show::Kpi, &[], "Jours-site en surcapacité"),
            panel("pob.approval_lead_time", &["median_days"], Show::Kpi, &[], "Délai médian d'approbation"),
            panel("pob.people_on_board", &["pob"], Show::Line, &["site"], "Personnes à bord par site"),
            panel(
                "pob.occupancy",
                &["occupancy"],
                Show::Heatmap,
                &["site"],
                "Occupation des lits par site et par jour",
            ),
            panel("pob.over_capacity", &["days", "excess"], Show::List, &["site"], "Jours en surcapacité"),
            panel(
                "pob.approval_lead_time",
                &["average_days", "median_days"],
                Show::Line,
                &[],
                "Délai d'approbation des séjours",
            ),
        ],
    },
    Page {
        path: "/transport",
        title: "Transport — voyages et manifestes",
        panels: &[
            panel("travel.seat_occupancy", &["occupancy"], Show::Kpi, &[], "Remplissage des sièges"),
            panel("travel.payload_utilisation", &["utilisation"], Show::Kpi, &[], "Charge utile utilisée"),
            panel("travel.fuel", &["fuel_per_trip"], Show::Kpi, &[], "Litres par voyage"),
            panel(
                "travel.seat_occupancy",
                &["occupancy"],
                Show::Line,
                &["vehicle_type"],
                "Remplissage par type de véhicule",
            ),
            panel(
                "travel.seat_occupancy",
                &["occupancy"],
                Show::Heatmap,
                &["site"],
                "Remplissage par site de départ et par jour",
            ),
            panel(
                "travel.payload_utilisation",
                &["utilisation"],
                Show::Bar,
                &["vehicle_type"],
                "Charge utile par type de véhicule",
            ),
            panel("travel.fuel", &["fuel_per_nm"], Show::Bar, &["vehicle_type"], "Litres par mille nautique"),
            panel("travel.fuel", &["fuel_per_flight_hour"], Show::Bar, &["vehicle_type"], "Litres par heure de vol"),
        ],
    },
    Page {
        path: "/moc",
        title: "MOC — gestion des modifications",
        panels: &[
            panel("moc.requests_by_state", &["requests"], Show::Kpi, &[], "Demandes soumises"),
            panel("moc.cycle_time", &["p90_days"], Show::Kpi, &[], "Cycle p90"),
            panel("moc.overdue_approvals", &["overdue"], Show::Kpi, &[], "Approbations en retard"),
            panel("moc.requests_by_state", &["requests"], Show::StackedBar, &["state"], "Demandes par état"),
            panel("moc.cycle_time", &["p50_days", "p90_days"], Show::Line, &[], "Durée de cycle (jours)"),
            panel("moc.overdue_approvals", &["overdue"], Show::Bar, &["site"], "Approbations en retard par site"),
        ],
    },
    Page {
        path: "/5s",
        title: "5S — audits et mises au rebut",
        panels: &[
            panel("cleanvue.five_s_score", &["score"], Show::Kpi, &[], "Score 5S moyen"),
            panel("cleanvue.scrapping_volume", &["volume_m3"], Show::Kpi, &[], "Volume mis au rebut"),
            panel("cleanvue.five_s_score", &["score"], Show::Line, &["site"], "Score 5S par site"),
            panel("cleanvue.scrapping_volume", &["volume_m3"], Show::Bar, &["site"], "Volume mis au rebut par site"),
        ],
    },
    Page {
        path: "/hse",
        title: "HSE — incidents",
        panels: &[
            panel("hse.incidents", &["incidents"], Show::Kpi, &[], "Incidents"),
            panel("hse.incident_rate", &["rate"], Show::Kpi, &[], "Incidents / 200 000 h"),
            panel("hse.incidents", &["incidents"], Show::StackedBar, &["severity"], "Incidents par gravité"),
            panel("hse.incidents", &["incidents"], Show::StackedBar, &["site"], "Incidents par site"),
            panel("hse.incident_rate", &["rate"], Show::Line, &["site"], "Taux par site"),
        ],
    },
    Page {
        path: "/projects",
        title: "Projets — avancement et budget",
        panels: &[
            panel("projects.task_completion", &["done_percent"], Show::Kpi, &[], "Tâches terminées"),
            panel("projects.overdue_tasks", &["overdue"], Show::Kpi, &[], "Tâches en retard"),
            panel("projects.budget", &["variance_percent"], Show::Kpi, &[], "Écart budgétaire"),
            panel("projects.task_completion", &["done_percent"], Show::Bar, &["site"], "Tâches terminées par site"),
            panel("projects.overdue_tasks", &["overdue"], Show::Bar, &["site"], "Tâches en retard par site"),
            panel("projects.budget", &["planned", "actual"], Show::Bar, &[], "Budget prévu et réalisé"),
        ],
    },
    Page {
        path: "/organizer",
        title: "Organizer — réservations des ressources",
        panels: &[
            panel("organizer.utilisation", &["utilisation"], Show::Kpi, &[], "Utilisation des ressources"),
            panel("organizer.reservations", &["reservations"], Show::Kpi, &[], "Réservations"),
            panel("organizer.conflicts", &["conflicts"], Show::Kpi, &[], "Conflits de réservation"),
            panel("organizer.utilisation", &["utilisation"], Show::Bar, &["kind"], "Utilisation par type de ressource"),
            panel("organizer.reservations", &["reservations"], Show::StackedBar, &["status"], "Réservations par état"),
            Panel {
                grain: Some(Grain::Total),
                ..panel(
                    "organizer.utilisation",
                    &["utilisation", "hours"],
                    Show::List,
                    &["site", "kind", "resource"],
                    "Utilisation de chaque ressource sur la période",
                )
            },
            Panel {
                grain: Some(Grain::Total),
                ..panel(
                    "organizer.conflicts",
                    &["conflicts", "overlap_hours"],
                    Show::List,
                    &["site", "resource"],
                    "Conflits par ressource sur la période",
                )
            },
        ],
    },
    Page {
        path: "/tiers",
        title: "Tiers — entreprises et contacts",
        panels: &[
            panel("tiers.presence", &["companies"], Show::Kpi, &[], "Entreprises présentes"),
            panel("tiers.presence", &["people"], Show::Kpi, &[], "Personnes de ces entreprises"),
            panel("tiers.contacts", &["contacts"], Show::Kpi, &[], "Contacts de ces entreprises"),
            panel("tiers.presence", &["companies"], Show::Bar, &["kind"], "Entreprises présentes par type"),
            panel("tiers.presence", &["companies"], Show::StackedBar, &["site"], "Entreprises présentes par site"),
            Panel {
                grain: Some(Grain::Total),
                ..panel(
                    "tiers.presence",
                    &["people", "person_nights"],
                    Show::List,
                    &["site", "kind", "company"],
                    "Entreprises par site sur la période",
                )
            },
            Panel {
                grain: Some(Grain::Total),
                ..panel(
                    "tiers.contacts",
                    &["contacts", "companies"],
                    Show::List,
                    &["site", "kind"],
                    "Contacts par site et type d'entreprise",
                )
            },
        ],
    },
    Page {
        path: "/power",
        title: "PowerTrace — énergie",
        panels: &[
            panel("power.energy", &["energy_kwh"], Show::Kpi, &[], "Énergie consommée"),
            panel("power.energy", &["energy_kwh"], Show::StackedBar, &["site"], "Énergie par site"),
            panel("power.peak_demand", &["peak_kw"], Show::Line, &["site"], "Pointe par site"),
            panel("power.load_factor", &["load_factor"], Show::Line, &["site"], "Facteur de charge par site"),
            Panel {
                grain: Some(Grain::Total),
                ..panel(
                    "power.switchboard_peak_demand",
                    &["peak_kw"],
                    Show::List,
                    &["site", "switchboard"],
                    "Pointe de chaque tableau sur la période",
                )
            },
        ],
    },
];

/// Page-only parameters, beside the metric ones.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ViewParameters {
    /// The language of labels: fr-FR (default), en-GB or en-US.
    pub locale: Option<String>,
}

/// How a page is shown.
#[derive(Debug, Clone, Copy)]
struct View {
    locale: Locale,
}

impl ViewParameters {
    fn resolve(&self) -> Result<View, String> {
        let locale = match self.locale.as_deref() {
            None | Some("") => Locale::default(),
            Some("fr-FR") => Locale::FrFr,
            Some("en-GB") => Locale::EnGb,
            Some("en-US") => Locale::EnUs,
            Some(other) => return Err(format!("unknown locale `{other}` (fr-FR, en-GB, en-US)")),
        };
        Ok(View { locale })
    }
}

/// The overview's links to every module's page, keeping the chosen sites and period.
fn module_links(request: &MetricRequest, locale: Locale) -> String {
    let mut query = format!("?from={}&to={}", request.from, request.to);
    if locale != Locale::default() {
        query.push_str(&format!("&locale={}", locale));
    }
    if !request.sites.is_empty() {
        query.push_str(&format!("&site={}", request.sites.join(",")));
    }
    let mut links =
        String::from("<div class=\"modules\" role=\"navigation\" aria-label=\"Modules\"><h2>Modules</h2><ul>");
    for page in PAGES.iter().filter(|page| page.path != "/") {
        let (module, subject) = page.title.split_once(" — ").unwrap_or((page.title, ""));
        links.push_str(&format!(
            "<li><a href=\"{}{}\"><strong>{}</strong> <span>{}</span></a></li>",
            page.path,
            escape(&query),
            escape(module),
            escape(subject)
        ));
    }
    links.push_str("</ul></div>");
    links
}

/// A page request's refusal: the page is replaced by a 400 that names the parameter.
fn bad_request(path: &str, error: &ParameterError) -> Response {
    let body = format!(
        "<p class=\"problem\" data-parameter=\"{}\">Paramètre <code>{}</code> refusé : {}</p>",
        error.parameter(),
        error.parameter(),
        escape(&error.to_string())
    );
    let status = match error {
        ParameterError::OutsideScope(_) => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    };
    (status, Html(layout(path, "Paramètre refusé", "", &body))).into_response()
}

/// Serves whichever page the path names.
pub async fn page_handler(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    OriginalUri(uri): OriginalUri,
    Query(parameters): Query<MetricParameters>,
    Query(view): Query<ViewParameters>,
) -> Response {
    let Some(page) = PAGES.iter().find(|page| page.path == uri.path()) else {
        return (StatusCode::NOT_FOUND, Html(layout(uri.path(), "Page inconnue", "", ""))).into_response();
    };
    let view = match view.resolve() {
        Ok(view) => view,
        Err(message) => {
            let body = format!(
                "<p class=\"problem\" data-parameter=\"locale\">Paramètre <code>locale</code> refusé : {}</p>",
                escape(&message)
            );
            return (StatusCode::BAD_REQUEST, Html(layout(page.path, "Paramètre refusé", "", &body))).into_response();
        }
    };
    let request = match parameters.request() {
        Ok(request) => request,
        Err(error) => return bad_request(page.path, &error),
    };
    let results = futures::future::join_all(page.panels.iter().map(|panel| {
        let engine = state.engine.clone();
        let request = MetricRequest {
            grain: panel.grain.or(request.grain),
            by: Some(panel.by.iter().map(|name| (*name).to_owned()).collect()),
            ..request.clone()
        };
        let scope = caller.scope.clone();
        async move { engine.metric(panel.metric, &request, &scope).await }
    }))
    .await;
    let mut sections = String::new();
    let mut tiles = String::new();
    let mut any_rows = false;
    for (panel, result) in page.panels.iter().zip(results) {
        let result = match result {
            Ok(result) => result,
            Err(QueryError::Parameter(error)) => return bad_request(page.path, &error),
            Err(error) => {
                tracing::error!(metric = panel.metric, %error, "a dashboard panel failed");
                sections.push_str(&format!(
                    "<section class=\"panel\"><h2>{}</h2><p class=\"problem\">Ce panneau n'a pas pu être calculé ; le journal du serveur donne le détail.</p></section>",
                    escape(panel.title)
                ));
                continue;
            }
        };
        let (figure, drawn) = draw_panel(panel, &result, view.locale);
        // A KPI total always has its one row (a count of nothing is 0): the charts and
        // lists say whether the period holds data.
        any_rows |= drawn && panel.show != Show::Kpi;
        if panel.show == Show::Kpi {
            tiles.push_str(&figure);
        } else {
            sections.push_str(&figure);
        }
    }
    let pin = state.engine.pin();
    let notice = if pin.is_empty() {
        "<p class=\"empty\" id=\"no-data\">L'entrepôt est vide. Lancez la capture (<code>opsflux ingest</code>) ou écrivez un jeu d'essai (<code>opsflux sample-data --warehouse</code>) ; cette page se met à jour toute seule.</p>".to_owned()
    } else if !any_rows {
        format!(
            "<p class=\"empty\" id=\"no-data\">Aucune donnée {} entre le {} et le {}. Choisissez une autre période ou un autre site.</p>",
            if request.sites.is_empty() {
                "pour l'ensemble des sites".to_owned()
            } else {
                format!("pour {}", escape(&request.sites.join(", ")))
            },
            request.from,
            request.to
        )
    } else {
        String::new()
    };
    let notice = format!("{}{notice}", capture_notice(&state, view.locale).await);
    let header = filter_form(page.path, &request, &pin.sites_in(&caller.scope), view.locale);
    let modules = if page.path == "/" { module_links(&request, view.locale) } else { String::new() };
    let body = format!(
        "{notice}<div class=\"tiles\">{tiles}</div>{modules}<div class=\"grid\">{sections}</div><p class=\"pin\">Instantané de l'entrepôt n° {} · {} tables</p>",
        pin.generation,
        pin.tables.len()
    );
    Html(layout(page.path, page.title, &header, &body)).into_response()
}

/// A warning above the panels while change capture is stopped or held back: the figures
/// are those of the last change that made it into the warehouse.
async fn capture_notice(state: &AppState, locale: Locale) -> String {
    let Some(problem) = super::capture_problem(state).await else { return String::new() };
    let as_of = state.health.get().as_of_unix_micros.and_then(chrono::DateTime::from_timestamp_micros);
    let english = locale != Locale::FrFr;
    let since =
        problem.since.map(|since| if english { format!(" (since {since})") } else { format!(" (depuis {since})") });
    let as_of = match (as_of, english) {
        (Some(moment), true) => format!(" The figures are those of {} UTC.", moment.format("%Y-%m-%d %H:%M")),
        (Some(moment), false) => format!(" Les chiffres sont ceux du {} UTC.", moment.format("%d/%m/%Y %H:%M")),
        (None, _) => String::new(),
    };
    format!(
        "<p class=\"problem\" id=\"capture-stopped\" role=\"alert\">{} {}{}.{as_of}</p>",
        if english { "Change capture stopped:" } else { "Capture des changements arrêtée :" },
        escape(&problem.summary),
        escape(&since.unwrap_or_default())
    )
}

fn filter_form(
    path: &str,
    request: &MetricRequest,
    sites: &std::collections::BTreeSet<String>,
    locale: Locale,
) -> String {
    let mut options = String::from("<option value=\"\">Tous les sites</option>");
    for site in sites {
        let selected = if request.sites.len() == 1 && request.sites[0] == *site { " selected" } else { "" };
        options.push_str(&format!("<option{selected}>{}</option>", escape(site)));
    }
    let mut grains = String::from("<option value=\"\">Grain par défaut</option>");
    for (grain, label) in [
        (Grain::Day, "Jour"),
        (Grain::Week, "Semaine"),
        (Grain::Month, "Mois"),
        (Grain::Quarter, "Trimestre"),
        (Grain::Year, "Année"),
    ] {
        let selected = if request.grain == Some(grain) { " selected" } else { "" };
        grains.push_str(&format!("<option value=\"{grain}\"{selected}>{label}</option>"));
    }
    let mut locales = String::new();
    for (choice, name) in [(Locale::FrFr, "Français"), (Locale::EnGb, "English (UK)"), (Locale::EnUs, "English (US)")]
    {
        let selected = if choice == locale { " selected" } else { "" };
        locales.push_str(&format!("<option value=\"{}\"{selected}>{name}</option>", choice));
    }
    format!(
        "<form method=\"get\" action=\"{path}\" class=\"filters\"><label>Site <select name=\"site\">{options}</select></label> <label>Du <input type=\"date\" name=\"from\" value=\"{}\"></label> <label>au <input type=\"date\" name=\"to\" value=\"{}\"></label> <label>Grain <select name=\"grain\">{grains}</select></label> <label>Libellés <select name=\"locale\">{locales}</select></label> <button type=\"submit\">Afficher</button></form>",
        request.from, request.to
    )
}

/// The chart of one panel from a metric result, through the path documents take too
/// ([`opsflux_render::figures::chart`] over [`crate::documents::metric_table`]).
pub fn chart_of(panel: &Panel, result: &MetricResult, locale: Locale) -> Chart {
    let table = crate::documents::metric_table(result);
    let spec = ChartSpec {
        kind: match panel.show {
            Show::Kpi => ChartKind::Kpi,
            Show::Line => ChartKind::Line,
            Show::Bar | Show::List => ChartKind::Bar,
            Show::StackedBar => ChartKind::StackedBar,
            Show::Heatmap => ChartKind::Heatmap,
        },
        title: panel.title.to_owned(),
        // The catalog's unit is its first measure's; another measure shows none rather
        // than a wrong one (people counted in "entreprises").
        unit: if first_measure_shown(panel, result) { result.unit.clone() } else { String::new() },
        measures: panel.measures.iter().filter_map(|name| result.column(name)).collect(),
        dimensions: panel.by.iter().filter_map(|name| result.column(name)).collect(),
        threshold: panel.threshold.and_then(|name| result.column(name)),
    };
    figures::chart(&table, &spec, locale)
}

/// The columns a list panel shows: the period, its dimensions, its measures.
fn list_columns(panel: &Panel, result: &MetricResult) -> Vec<usize> {
    std::iter::once("period")
        .chain(panel.by.iter().copied())
        .chain(panel.measures.iter().copied())
        .filter_map(|name| result.column(name))
        .collect()
}

/// The text of a list panel's cells, written as a document's data table writes them
/// ([`opsflux_render::figures::cell`]).
pub fn list_cells(panel: &Panel, result: &MetricResult, locale: Locale) -> Vec<Vec<String>> {
    let shown = list_columns(panel, result);
    let table = crate::documents::metric_table(result);
    table
        .rows
        .iter()
        .map(|row| {
            shown
                .iter()
                .map(|column| {
                    figures::cell(&row[*column], table.columns[*column].format, locale, figures::DEFAULT_CURRENCY)
                })
                .collect()
        })
        .collect()
}

/// Whether the panel draws the metric's first measure, the one its unit describes.
fn first_measure_shown(panel: &Panel, result: &MetricResult) -> bool {
    let first = result.columns.iter().find(|column| column.role == ColumnRole::Measure);
    first.is_some_and(|column| panel.measures.first() == Some(&column.name.as_str()))
}

/// The panel's HTML, and whether it shows any value.
fn draw_panel(panel: &Panel, result: &MetricResult, locale: Locale) -> (String, bool) {
    let chart = chart_of(panel, result, locale);
    let drawn = if panel.show == Show::List { !result.rows.is_empty() } else { !chart.is_empty() };
    (draw_panel_html(panel, result, &chart, locale), drawn)
}

fn draw_panel_html(panel: &Panel, result: &MetricResult, chart: &Chart, locale: Locale) -> String {
    let attributes = format!(
        "data-metric=\"{}\" data-measures=\"{}\" data-grain=\"{}\" data-rows=\"{}\"",
        escape(panel.metric),
        panel.measures.join(","),
        result.grain,
        result.rows.len()
    );
    let versions: Vec<String> = result.warehouse.iter().map(|(table, version)| format!("{table} {version}")).collect();
    let provenance = format!("title=\"Lu dans : {}\"", escape(&versions.join(", ")));
    match panel.show {
        Show::Kpi => format!(
            "<figure class=\"tile\" {attributes} {provenance}>{}<figcaption>{}</figcaption></figure>",
            chart.to_svg(locale),
            escape(panel.title)
        ),
        Show::List => {
            let shown = list_columns(panel, result);
            let mut table = String::from("<table class=\"list\"><thead><tr>");
            for column in &shown {
                let column = &result.columns[*column];
                let header = match column.role {
                    ColumnRole::Measure => column.label.as_str(),
                    _ => labels::column(locale, &column.name).unwrap_or(&column.label),
                };
                table.push_str(&format!("<th>{}</th>", escape(header)));
            }
            table.push_str("</tr></thead><tbody>");
            for row in list_cells(panel, result, locale) {
                table.push_str("<tr class=\"mark\">");
                for (column, text) in shown.iter().zip(row) {
                    table.push_str(&format!(
                        "<td data-column=\"{}\">{}</td>",
                        escape(&result.columns[*column].name),
                        escape(&text)
                    ));
                }
                table.push_str("</tr>");
            }
            if result.rows.is_empty() {
                table.push_str(&format!(
                    "<tr><td colspan=\"{}\" class=\"no-data\">Aucune ligne sur la période</td></tr>",
                    shown.len()
                ));
            }
            table.push_str("</tbody></table>");
            format!(
                "<section class=\"panel wide\" {attributes} {provenance}><h2>{}</h2>{table}</section>",
                escape(panel.title)
            )
        }
        _ => format!(
            "<section class=\"panel{}\" {attributes} {provenance}><h2>{}</h2>{}</section>",
            if panel.show == Show::Heatmap { " wide" } else { "" },
            escape(panel.title),
            chart.to_svg(locale)
        ),
    }
}
