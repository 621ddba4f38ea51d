//! PowerTrace's pages: the sites and scenarios (`/powertrace`), a site's load list with
//! its breakdown and metered side (`/powertrace/sites/{site}`), a scenario evaluated
//! beside the baseline (`/powertrace/scenarios/{id}`), the form that creates and edits
//! a scenario and its items, and the forecast chart (SVG: the forecast, its interval
//! and the N-1 capacity), drawn with the one chart model.

use axum::extract::{Extension, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use opsflux_powertrace::{Failure, LoadList, Recommendation};
use opsflux_render::Locale;
use opsflux_render::chart::{Chart, ChartKind, Series, ValueStyle};

use super::layout::{escape, page};
use super::powertrace::{ForecastParameters, compare, parse_version, site_forecast, visible};
use super::schedules::{parse_id, pool};
use super::{ApiError, AppState, Caller};
use crate::powertrace::analysis::{self, DemandForecast};
use crate::powertrace::wire::{ACTIONS, STATUSES};
use crate::powertrace::{blocks, store};

const STYLE: &str = "<style>\
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr)); gap: .6rem; margin: .6rem 0 1rem; }\
.figures div { background: #fff; border: 1px solid #d8dee6; border-radius: 6px; padding: .5rem; }\
.figures b { display: block; font-size: 1.2rem; }\
.fails li { color: #9a1c1c; } .ok { color: #1a7f37; }\
section { margin: 0 0 1rem; overflow-x: auto; }\
form.scenario label { display: block; margin: .3rem 0; }\
form.scenario table input, form.scenario table select { width: 100%; min-width: 4.5rem; box-sizing: border-box; }\
.invalid { outline: 2px solid #d62728; background: #fff0f0; }\
.chart img { max-width: 100%; }\
</style>";

fn locale() -> Locale {
    Locale::FrFr
}

fn number(value: f64, decimals: usize) -> String {
    locale().format_number(value, decimals)
}

fn percent(share: Option<f64>) -> String {
    share.map_or("—".to_owned(), |share| locale().format_percent(share * 100.0, 1))
}

fn can_write(caller: &Caller, site: &str) -> bool {
    caller.principal.scope_for("powertrace.scenario_write").is_some_and(|scope| scope.allows(site))
}

/// `GET /powertrace`: the caller's sites and their scenarios.
pub(crate) async fn index_page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Html<String>, ApiError> {
    let sites = state.engine.pin().sites_in(&caller.scope);
    let mut body = String::from(
        "<section><h2>Bilans de puissance</h2><table><thead><tr><th>Site</th><th></th><th></th></tr></thead><tbody>",
    );
    for site in &sites {
        let new = if can_write(&caller, site) && state.pool.is_some() {
            format!("<a href=\"/powertrace/scenarios/new?site={0}\">Nouveau scénario</a>", escape(site))
        } else {
            String::new()
        };
        body.push_str(&format!(
            "<tr><td>{0}</td><td><a href=\"/powertrace/sites/{0}\">Bilan de puissance et prévision</a></td><td>{new}</td></tr>",
            escape(site)
        ));
    }
    body.push_str("</tbody></table></section>");
    if let Some(pool) = &state.pool {
        let codes: Option<Vec<String>> = match &caller.scope {
            opsflux_query::Scope::All => None,
            opsflux_query::Scope::Sites(codes) => Some(codes.iter().cloned().collect()),
        };
        let scenarios = store::list(pool, codes.as_deref())
            .await
            .map_err(|error| ApiError::internal("reading the scenarios failed", &error))?;
        body.push_str("<section><h2>Scénarios</h2>");
        if scenarios.is_empty() {
            body.push_str("<p class=\"empty\">Aucun scénario sur vos sites.</p>");
        } else {
            body.push_str("<table><thead><tr><th>Scénario</th><th>Site</th><th>Statut</th><th class=\"n\">Version</th><th class=\"n\">Éléments</th><th>Modifié</th></tr></thead><tbody>");
            for scenario in &scenarios {
                body.push_str(&format!(
                    "<tr><td><a href=\"/powertrace/scenarios/{}\">{}</a></td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                    scenario.id,
                    escape(&scenario.name),
                    escape(&scenario.site),
                    escape(&scenario.status),
                    scenario.version,
                    scenario.items,
                    scenario.updated_at.format("%Y-%m-%d %H:%M")
                ));
            }
            body.push_str("</tbody></table>");
        }
        body.push_str("</section>");
    }
    Ok(Html(page("/powertrace", "PowerTrace", STYLE, &body)))
}

/// The site figures of a load list, as tiles.
fn figures(list: &LoadList) -> String {
    let generation = &list.generation;
    let tile = |label: &str, value: String| format!("<div>{label}<b>{value}</b></div>");
    [
        tile("Charge connectée", format!("{} kW", number(list.connected.kw, 0))),
        tile("Demande maximale", format!("{} kW", number(list.demand.kw, 0))),
        tile("Puissance apparente", format!("{} kVA", number(list.demand.kva(), 0))),
        tile("Facteur de puissance", number(list.demand.power_factor(), 3)),
        tile("Disponible", format!("{} kW", number(generation.available_kw, 0))),
        tile("N-1", format!("{} kW", number(generation.n1_kw, 0))),
        tile("N-2", format!("{} kW", number(generation.n2_kw, 0))),
        tile("Charge / N-1", percent(generation.n1_loading)),
        tile("Charge des groupes en marche", percent(generation.running_loading)),
    ]
    .concat()
}

fn checks(failures: &[Failure], recommendations: &[Recommendation]) -> String {
    let mut html = String::new();
    if failures.is_empty() {
        html.push_str("<p class=\"ok\">Toutes les vérifications passent (N-1, N-2, taux de charge, transformateurs, facteur de puissance).</p>");
    } else {
        html.push_str("<ul class=\"fails\">");
        for failure in failures {
            html.push_str(&format!("<li data-check=\"{}\">{}</li>", failure.check, escape(&failure.message)));
        }
        html.push_str("</ul>");
    }
    if !recommendations.is_empty() {
        html.push_str("<h2>Recommandations</h2><ul>");
        for recommendation in recommendations {
            html.push_str(&format!("<li>{}</li>", escape(recommendation.message())));
        }
        html.push_str("</ul>");
    }
    html
}

fn board_table(list: &LoadList, metered: &[analysis::Metered]) -> String {
    let mut html = String::from(
        "<table><thead><tr><th>Tableau</th><th>Nom</th><th class=\"n\">Tension V</th><th class=\"n\">Propre kW</th>\
         <th class=\"n\">Connectée kW</th><th class=\"n\">Demande kW</th><th class=\"n\">kVA</th><th class=\"n\">FP</th>\
         <th class=\"n\">Pointe mesurée kW</th><th class=\"n\">P95 kW</th><th class=\"n\">Moyenne kW</th><th class=\"n\">Pointe / demande</th></tr></thead><tbody>",
    );
    for board in &list.switchboards {
        let measured = metered.iter().find(|entry| entry.switchboard.as_deref() == Some(board.code.as_str()));
        let cell = |value: Option<f64>| value.map_or("—".to_owned(), |value| number(value, 0));
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&board.code),
            escape(&board.name),
            number(board.voltage_v, 0),
            number(board.own.kw, 1),
            number(board.connected.kw, 1),
            number(board.demand.kw, 1),
            number(board.demand.kva(), 1),
            number(board.demand.power_factor(), 3),
            cell(measured.map(|entry| entry.measured.peak_kw)),
            cell(measured.map(|entry| entry.measured.p95_kw)),
            cell(measured.map(|entry| entry.measured.average_kw)),
            measured.and_then(|entry| entry.ratio).map_or("—".to_owned(), |ratio| number(ratio, 2)),
        ));
    }
    html.push_str("</tbody></table>");
    html
}

fn lines_table(list: &LoadList) -> String {
    let mut html = String::from(
        "<table><thead><tr><th>Repère</th><th>Désignation</th><th>Tableau</th><th>Catégorie</th><th class=\"n\">Qté</th>\
         <th class=\"n\">Absorbée kW</th><th class=\"n\">Rendement</th><th class=\"n\">FP</th><th class=\"n\">Entrée kW</th>\
         <th class=\"n\">kVAR</th><th class=\"n\">kVA</th><th class=\"n\">Facteur</th><th class=\"n\">Demande kW</th></tr></thead><tbody>",
    );
    for line in &list.lines {
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&line.tag),
            escape(&line.description),
            escape(&line.switchboard),
            line.category.as_str(),
            line.quantity,
            number(line.absorbed_kw, 1),
            number(line.efficiency, 2),
            number(line.power_factor, 2),
            number(line.input.kw, 1),
            number(line.input.kvar, 1),
            number(line.input.kva(), 1),
            number(line.factor, 2),
            number(line.demand.kw, 1),
        ));
    }
    html.push_str("</tbody></table>");
    html
}

fn generation_tables(list: &LoadList) -> String {
    let generation = &list.generation;
    let mut html = format!(
        "<p>Installée : {} kVA / {} kW · disponible : {} kVA · en marche : {} kW · groupes du plus grand au plus petit : {}</p>",
        number(generation.installed_kva, 0),
        number(generation.installed_kw, 0),
        number(generation.available_kva, 0),
        number(generation.running_kw, 0),
        escape(&generation.largest.join(", "))
    );
    if !list.transformers.is_empty() {
        html.push_str("<table><thead><tr><th>Transformateur</th><th>Primaire</th><th>Secondaire</th><th class=\"n\">Assignée kVA</th><th class=\"n\">Demande kVA</th><th class=\"n\">Charge</th></tr></thead><tbody>");
        for unit in &list.transformers {
            html.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                escape(&unit.tag),
                escape(&unit.primary),
                escape(&unit.secondary),
                number(unit.rated_kva, 0),
                number(unit.demand_kva, 0),
                percent(Some(unit.loading))
            ));
        }
        html.push_str("</tbody></table>");
    }
    html
}

/// `GET /powertrace/sites/{site}`: the load list with its breakdown, its checks, the
/// metered side and the demand forecast.
pub(crate) async fn site_page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(site): Path<String>,
) -> Result<Html<String>, ApiError> {
    let loaded =
        analysis::site_load_list(&state.engine, &caller.scope, &site).await.map_err(ApiError::from_powertrace)?;
    let list = &loaded.list;
    let site_metered = loaded.metered.iter().find(|entry| entry.switchboard.is_none());
    let metered_line = site_metered.map_or(
        "<p class=\"empty\">Aucun relevé de compteur : pas de côté mesuré.</p>".to_owned(),
        |entry| {
            format!(
                "<p>Mesuré du {} au {} : pointe {} kW ({}), P95 {} kW, moyenne {} kW — pointe / demande calculée : {}.</p>",
                entry.measured.from.format("%Y-%m-%d"),
                entry.measured.to.format("%Y-%m-%d"),
                number(entry.measured.peak_kw, 0),
                entry.measured.peak_at.format("%Y-%m-%d %H:%M"),
                number(entry.measured.p95_kw, 0),
                number(entry.measured.average_kw, 0),
                entry.ratio.map_or("—".to_owned(), |ratio| number(ratio, 2))
            )
        },
    );
    let versions = loaded.warehouse["tables"]
        .as_object()
        .map(|tables| {
            tables
                .iter()
                .map(|(table, version)| format!("{table} {}", version.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let body = format!(
        "<p><a href=\"/powertrace\">PowerTrace</a> · site {site}</p>\
         <div class=\"figures\">{figures}</div>\
         <section><h2>Vérifications</h2>{checks}</section>\
         <section class=\"chart\"><h2>Prévision de la demande (7 jours, intervalle 95 %) et capacité N-1</h2>\
         <img src=\"/powertrace/sites/{site}/forecast.svg?horizon=7d\" alt=\"Prévision de la demande du site {site}\" width=\"640\" height=\"300\"></section>\
         <section><h2>Tableaux</h2>{metered}{boards}</section>\
         <section><h2>Production et transformateurs</h2>{generation}</section>\
         <section><h2>Liste des charges</h2>{lines}</section>\
         <p class=\"pin\">Lu dans : {versions}</p>",
        site = escape(&site),
        figures = figures(list),
        checks = checks(&loaded.failures, &loaded.recommendations),
        metered = metered_line,
        boards = board_table(list, &loaded.metered),
        generation = generation_tables(list),
        lines = lines_table(list),
        versions = escape(&versions),
    );
    Ok(Html(page("/powertrace", &format!("Bilan de puissance — {site}"), STYLE, &body)))
}

/// `GET /powertrace/sites/{site}/forecast.svg`: the forecast, its interval and the N-1
/// capacity, as the chart model draws it.
pub(crate) async fn forecast_svg(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(site): Path<String>,
    Query(parameters): Query<ForecastParameters>,
) -> Result<Response, ApiError> {
    let made = site_forecast(&state, &caller, &site, &parameters).await?;
    let svg = forecast_chart(&made).to_svg(locale());
    Ok(([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "no-store")], svg).into_response())
}

/// The forecast as a line with its 95 % band and the N-1 capacity line, drawn as
/// documents draw a `forecast` block.
pub(crate) fn forecast_chart(made: &DemandForecast) -> Chart {
    let capacity = made.crossing.as_ref().map(|crossing| crossing.capacity_kw);
    let steps =
        blocks::forecast_steps(&made.forecast, &made.added, capacity, &made.capacity_changes, Default::default());
    opsflux_render::bind::powertrace::forecast_chart(&steps, &format!("Prévision — {}", made.source), locale())
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct ScenarioPageParameters {
    day: Option<String>,
    version: Option<String>,
    horizon: Option<String>,
    compare: Option<String>,
}

/// `GET /powertrace/scenarios/{id}`: the scenario evaluated beside the baseline — its
/// assumptions, each switchboard before and after, the failing checks, the remedies,
/// the forecast with its added load against N-1 — with its versions and evaluations.
pub(crate) async fn scenario_page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(parameters): Query<ScenarioPageParameters>,
) -> Result<Html<String>, ApiError> {
    let id = parse_id(&id)?;
    let pool = pool(&state)?;
    let version = parse_version(parameters.version.as_deref().filter(|text| !text.is_empty()))?;
    let day = match parameters.day.as_deref().filter(|text| !text.is_empty()) {
        None => None,
        Some(text) => Some(chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
            ApiError::new(StatusCode::BAD_REQUEST, "Invalid parameter", format!("`{text}` is not a date (YYYY-MM-DD)"))
                .with_parameter("day")
        })?),
    };
    let scenario = visible(pool, &caller.scope, id, version).await?;
    let evaluated = analysis::evaluate(&state.engine, &caller.scope, &scenario, day)
        .await
        .map_err(|error| ApiError::from_powertrace(error).detail);
    let versions = store::versions(pool, id).await.map_err(|error| ApiError::internal("reading versions", &error))?;
    let recorded =
        store::evaluations(pool, id).await.map_err(|error| ApiError::internal("reading evaluations", &error))?;
    let mut body = format!(
        "<p><a href=\"/powertrace\">PowerTrace</a> · <a href=\"/powertrace/sites/{site}\">site {site}</a> · statut {status} · version {version} sur {latest} · date de base {base}</p>",
        site = escape(&scenario.site),
        status = escape(&scenario.status),
        version = scenario.version,
        latest = scenario.latest_version,
        base = scenario.base_date,
    );
    if let Some(description) = &scenario.description {
        body.push_str(&format!("<p>{}</p>", escape(description)));
    }
    if can_write(&caller, &scenario.site) {
        let csrf = caller.session.as_ref().map(|session| session.csrf_token.clone()).unwrap_or_default();
        body.push_str(&format!(
            "<p><a href=\"/powertrace/scenarios/{id}/edit\">Modifier</a> · \
             <button type=\"button\" id=\"record\" data-csrf=\"{}\">Enregistrer cette évaluation</button> <span id=\"recorded\" role=\"status\"></span></p>\
             <script>document.getElementById('record').addEventListener('click', async (event) => {{\
               const answer = await fetch('/api/powertrace/scenarios/{id}/evaluate?version={}', {{method: 'POST', headers: {{'Content-Type': 'application/json', 'X-CSRF-Token': event.target.dataset.csrf}}}});\
               const json = await answer.json();\
               document.getElementById('recorded').textContent = answer.ok ? 'Évaluation enregistrée (' + json.id + ')' : (json.detail || answer.statusText);\
               if (answer.ok) location.reload();\
             }});</script>",
            escape(&csrf),
            scenario.version
        ));
    }
    body.push_str(&items_table(&scenario));
    match &evaluated {
        Err(detail) => {
            body.push_str(&format!(
                "<p class=\"problem\" role=\"alert\">Le scénario ne peut pas être évalué : {}</p>",
                escape(detail)
            ));
        }
        Ok(evaluated) => {
            let evaluation = &evaluated.evaluation;
            body.push_str(&format!(
                "<h2>Évalué au {}</h2><section><h2>Référence</h2><div class=\"figures\">{}</div>{}</section>\
                 <section><h2>Avec le scénario</h2><div class=\"figures\">{}</div>{}</section>",
                evaluation.day,
                figures(&evaluation.baseline),
                checks(&evaluation.baseline_failures, &[]),
                figures(&evaluation.scenario),
                checks(&evaluation.failures, &evaluation.recommendations)
            ));
            let chart = Chart {
                kind: ChartKind::Bar,
                title: "Demande maximale par tableau".to_owned(),
                unit: "kW".to_owned(),
                categories: evaluation.switchboards.iter().map(|board| board.code.clone()).collect(),
                series: vec![
                    Series {
                        name: "Référence".to_owned(),
                        values: evaluation.switchboards.iter().map(|board| board.baseline_kw).collect(),
                    },
                    Series {
                        name: "Scénario".to_owned(),
                        values: evaluation.switchboards.iter().map(|board| board.scenario_kw).collect(),
                    },
                ],
                style: ValueStyle { decimals: 0, percent_of_one: false },
                threshold: None,
                band: None,
            };
            body.push_str(&format!(
                "<section class=\"chart\"><h2>Référence et scénario par tableau</h2>{}</section>",
                chart.to_svg(locale())
            ));
            body.push_str(&format!(
                "<section><h2>Tableaux avec le scénario</h2>{}</section>",
                board_table(&evaluation.scenario, &[])
            ));
        }
    }
    const HORIZONS: [&str; 3] = ["7d", "30d", "92d"];
    let horizon = parameters.horizon.as_deref().filter(|text| HORIZONS.contains(text)).unwrap_or("30d");
    body.push_str(&format!(
        "<section class=\"chart\"><h2>Prévision de la demande avec la charge ajoutée, et capacité N-1</h2>\
         <form method=\"get\"><label>Horizon <select name=\"horizon\" onchange=\"this.form.submit()\">{}</select></label></form>\
         <img src=\"/powertrace/sites/{}/forecast.svg?scenario={id}&amp;horizon={}\" alt=\"Prévision avec le scénario\" width=\"640\" height=\"300\"></section>",
        HORIZONS
            .iter()
            .map(|option| format!("<option{}>{option}</option>", if *option == horizon { " selected" } else { "" }))
            .collect::<String>(),
        escape(&scenario.site),
        escape(horizon)
    ));
    if let Some(other) = parameters.compare.as_deref().filter(|text| !text.is_empty()) {
        let other = parse_id(other).map_err(|error| error.with_parameter("compare"))?;
        let other = visible(pool, &caller.scope, other, None).await?;
        let other_evaluated =
            analysis::evaluate(&state.engine, &caller.scope, &other, day).await.map_err(ApiError::from_powertrace)?;
        if let Ok(evaluated) = evaluated {
            let compared = compare(&[(scenario.clone(), evaluated), (other.clone(), other_evaluated)]);
            body.push_str(&compare_table(&compared));
        }
    }
    let siblings = store::list(pool, Some(std::slice::from_ref(&scenario.site)))
        .await
        .map_err(|error| ApiError::internal("reading scenarios", &error))?;
    let options: String = siblings
        .iter()
        .filter(|other| other.id != id)
        .map(|other| format!("<option value=\"{}\">{}</option>", other.id, escape(&other.name)))
        .collect();
    if !options.is_empty() {
        body.push_str(&format!(
            "<form method=\"get\"><label>Comparer avec <select name=\"compare\">{options}</select></label> <button type=\"submit\">Comparer</button></form>"
        ));
    }
    body.push_str("<section><h2>Versions</h2><table><thead><tr><th class=\"n\">Version</th><th>Nom</th><th>Statut</th><th class=\"n\">Éléments</th><th>Enregistrée</th><th>Par</th><th>Commentaire</th></tr></thead><tbody>");
    for saved in &versions {
        body.push_str(&format!(
            "<tr><td class=\"n\"><a href=\"/powertrace/scenarios/{id}?version={0}\">{0}</a></td><td>{1}</td><td>{2}</td><td class=\"n\">{3}</td><td>{4}</td><td>{5}</td><td>{6}</td></tr>",
            saved.version,
            escape(&saved.name),
            escape(&saved.status),
            saved.items,
            saved.saved_at.map(|at| at.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default(),
            escape(saved.saved_by.as_deref().unwrap_or_default()),
            escape(saved.comment.as_deref().unwrap_or_default()),
        ));
    }
    body.push_str("</tbody></table></section>");
    if !recorded.is_empty() {
        body.push_str("<section><h2>Évaluations enregistrées</h2><table><thead><tr><th>Le</th><th>Par</th><th class=\"n\">Version</th><th>Au</th><th class=\"n\">Échecs</th><th>Entrepôt lu</th></tr></thead><tbody>");
        for evaluation in &recorded {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"pin\">{}</td></tr>",
                evaluation.evaluated_at.format("%Y-%m-%d %H:%M"),
                escape(evaluation.evaluated_by.as_deref().unwrap_or_default()),
                evaluation.version,
                evaluation.day,
                evaluation.failures,
                escape(&evaluation.warehouse["tables"].to_string()),
            ));
        }
        body.push_str("</tbody></table></section>");
    }
    Ok(Html(page("/powertrace", &format!("Scénario — {}", scenario.name), STYLE, &body)))
}

fn items_table(scenario: &store::Scenario) -> String {
    if scenario.items.is_empty() {
        return "<section><h2>Hypothèses</h2><p class=\"empty\">Aucun élément : le scénario est la référence.</p></section>".to_owned();
    }
    let mut html = String::from(
        "<section><h2>Hypothèses</h2><table><thead><tr><th>#</th><th>À partir du</th><th>Action</th><th>Détail</th></tr></thead><tbody>",
    );
    for (index, item) in scenario.items.iter().enumerate() {
        let value = serde_json::to_value(item).unwrap_or_default();
        let action = value["action"].as_str().unwrap_or_default().to_owned();
        let details: Vec<String> = value
            .as_object()
            .map(|members| {
                members
                    .iter()
                    .filter(|(key, value)| !matches!(key.as_str(), "action" | "start") && !value.is_null())
                    .map(|(key, value)| {
                        format!("{key} = {}", value.as_str().map_or_else(|| value.to_string(), str::to_owned))
                    })
                    .collect()
            })
            .unwrap_or_default();
        html.push_str(&format!(
            "<tr><td>{index}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            item.start,
            escape(&action),
            escape(&details.join(", "))
        ));
    }
    html.push_str("</tbody></table></section>");
    html
}

fn compare_table(compared: &serde_json::Value) -> String {
    let scenarios = compared["scenarios"].as_array().cloned().unwrap_or_default();
    let mut html = String::from("<section><h2>Comparaison</h2><table><thead><tr><th></th>");
    for scenario in &scenarios {
        html.push_str(&format!("<th class=\"n\">{}</th>", escape(scenario["name"].as_str().unwrap_or_default())));
    }
    html.push_str("</tr></thead><tbody>");
    let row = |label: &str, key: &str, decimals: usize| {
        let mut row = format!("<tr><td>{label}</td>");
        for scenario in &scenarios {
            row.push_str(&format!(
                "<td class=\"n\">{}</td>",
                scenario[key].as_f64().map_or("—".to_owned(), |value| number(value, decimals))
            ));
        }
        row + "</tr>"
    };
    html.push_str(&row("Demande maximale kW", "demand_kw", 0));
    html.push_str(&row("Puissance apparente kVA", "demand_kva", 0));
    html.push_str(&row("Facteur de puissance", "power_factor", 3));
    html.push_str(&row("N-1 kW", "n1_kw", 0));
    html.push_str(&row("Charge / N-1", "n1_loading", 3));
    let mut failing = String::from("<tr><td>Vérifications en échec</td>");
    for scenario in &scenarios {
        let failures = scenario["failures"].as_array().map_or(0, Vec::len);
        failing.push_str(&format!("<td class=\"n\">{failures}</td>"));
    }
    html.push_str(&failing);
    html.push_str("</tr></tbody></table></section>");
    html
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct NewParameters {
    site: Option<String>,
}

/// `GET /powertrace/scenarios/new?site=`: the form for a new scenario of a site.
pub(crate) async fn new_page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(parameters): Query<NewParameters>,
) -> Result<Html<String>, ApiError> {
    pool(&state)?;
    let sites = state.engine.pin().sites_in(&caller.scope);
    let Some(site) = parameters.site.filter(|site| !site.is_empty()) else {
        let options: String = sites.iter().map(|site| format!("<option>{}</option>", escape(site))).collect();
        let body = format!(
            "<form method=\"get\"><label>Site <select name=\"site\">{options}</select></label> <button type=\"submit\">Continuer</button></form>"
        );
        return Ok(Html(page("/powertrace", "Nouveau scénario", STYLE, &body)));
    };
    let today = chrono::Utc::now().date_naive();
    let draft = store::Scenario {
        id: uuid::Uuid::nil(),
        site: site.clone(),
        name: String::new(),
        description: None,
        base_date: today,
        status: "draft".to_owned(),
        factors: Default::default(),
        version: 0,
        latest_version: 0,
        items: Vec::new(),
        updated_at: chrono::Utc::now(),
    };
    Ok(Html(page("/powertrace", &format!("Nouveau scénario — {site}"), STYLE, &form(&state, &caller, &draft).await?)))
}

/// `GET /powertrace/scenarios/{id}/edit`: the form for the scenario's next version.
pub(crate) async fn edit_page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Html<String>, ApiError> {
    let id = parse_id(&id)?;
    let scenario = visible(pool(&state)?, &caller.scope, id, None).await?;
    let title = format!("Modifier — {}", scenario.name);
    Ok(Html(page("/powertrace", &title, STYLE, &form(&state, &caller, &scenario).await?)))
}

/// The scenario form: its members and one row per item. The browser sends it as JSON
/// to the API, and a refused member is shown at its field, from the problem's pointer.
async fn form(state: &AppState, caller: &Caller, scenario: &store::Scenario) -> Result<String, ApiError> {
    let plant = crate::powertrace::plant(&state.engine, &caller.scope, &scenario.site)
        .await
        .map_err(ApiError::from_powertrace)?;
    let option_list = |id: &str, values: Vec<&str>| {
        format!(
            "<datalist id=\"{id}\">{}</datalist>",
            values.iter().map(|value| format!("<option value=\"{}\">", escape(value))).collect::<String>()
        )
    };
    let mut tags: Vec<&str> = plant.equipment.iter().map(|item| item.tag.as_str()).collect();
    tags.extend(plant.generators.iter().map(|set| set.tag.as_str()));
    tags.extend(plant.transformers.iter().map(|unit| unit.tag.as_str()));
    let datalists = option_list("boards", plant.switchboards.iter().map(|board| board.code.as_str()).collect())
        + &option_list("tags", tags);
    // JSON inside a script element: `<` escaped so no text can close the element.
    let script_json = |value: String| value.replace('<', "\\u003c");
    let items = script_json(serde_json::to_string(&scenario.items).unwrap_or_else(|_| "[]".to_owned()));
    let factors = script_json(serde_json::to_string(&scenario.factors).unwrap_or_else(|_| "{}".to_owned()));
    let (method, target) = if scenario.id.is_nil() {
        ("POST", "/api/powertrace/scenarios".to_owned())
    } else {
        ("PUT", format!("/api/powertrace/scenarios/{}", scenario.id))
    };
    let csrf = caller.session.as_ref().map(|session| session.csrf_token.clone()).unwrap_or_default();
    let statuses: String = STATUSES
        .iter()
        .map(|status| format!("<option{}>{status}</option>", if *status == scenario.status { " selected" } else { "" }))
        .collect();
    let actions: String = ACTIONS.iter().map(|action| format!("<option>{action}</option>")).collect();
    Ok(format!(
        r#"{datalists}<form class="scenario" id="scenario" data-method="{method}" data-target="{target}" data-csrf="{csrf}" data-site="{site}">
<p class="problem" role="alert" id="problem" hidden></p>
<label>Nom <input name="name" required value="{name}" size="50"></label>
<label>Description <input name="description" value="{description}" size="80"></label>
<label>Date de base <input name="base_date" type="date" value="{base_date}"></label>
<label>Statut <select name="status">{statuses}</select></label>
<fieldset><legend>Facteurs (vide : les valeurs par défaut 1,0 / 0,3 / 0,1, diversité 1,0)</legend>
<label>Continu <input name="factors.continuous" type="number" step="any" min="0" max="1"></label>
<label>Intermittent <input name="factors.intermittent" type="number" step="any" min="0" max="1"></label>
<label>Secours <input name="factors.standby" type="number" step="any" min="0" max="1"></label>
<label>Diversité <input name="factors.diversity" type="number" step="any" min="0" max="1"></label></fieldset>
<h2>Éléments</h2>
<table><thead><tr><th>Action</th><th>À partir du</th><th>Repère</th><th>Désignation</th><th>Tableau (primaire)</th><th>Secondaire</th><th>Assignée kW</th><th>Absorbée kW</th><th>FP</th><th>Rendement</th><th>Catégorie</th><th>Qté</th><th>kVA</th><th>Facteur</th><th></th></tr></thead>
<tbody id="items"></tbody></table>
<p><button type="button" id="add">Ajouter un élément</button></p>
<label>Commentaire de version <input name="comment" size="80" placeholder="Ce qui change et pourquoi"></label>
<p><button type="submit">Enregistrer</button></p>
</form>
<template id="row"><tr>
<td><select data-field="action">{actions}</select></td><td><input data-field="start" type="date"></td>
<td><input data-field="tag" list="tags"></td><td><input data-field="description"></td>
<td><input data-field="switchboard" list="boards"></td><td><input data-field="secondary" list="boards"></td>
<td><input data-field="rated_kw" type="number" step="any"></td><td><input data-field="absorbed_kw" type="number" step="any"></td>
<td><input data-field="power_factor" type="number" step="any"></td><td><input data-field="efficiency" type="number" step="any"></td>
<td><select data-field="category"><option></option><option>continuous</option><option>intermittent</option><option>standby</option></select></td>
<td><input data-field="quantity" type="number" step="1" min="1"></td><td><input data-field="rated_kva" type="number" step="any"></td>
<td><input data-field="factor" type="number" step="any" title="set_factors : continu, intermittent, secours ou diversité selon le repère"></td>
<td><button type="button" class="remove">Retirer</button></td></tr></template>
<script>
const form = document.getElementById('scenario');
const rows = document.getElementById('items');
const items = {items};
const factors = {factors};
// Which inputs an action uses; the others are hidden.
const uses = {{
  add_equipment: ['tag','description','switchboard','rated_kw','absorbed_kw','power_factor','efficiency','category','quantity'],
  modify_equipment: ['tag','switchboard','rated_kw','absorbed_kw','power_factor','efficiency','category','quantity'],
  remove_equipment: ['tag'], set_factors: ['tag','factor'],
  add_generator: ['tag','switchboard','rated_kva','power_factor'], remove_generator: ['tag'], generator_out_of_service: ['tag'],
  add_transformer: ['tag','switchboard','secondary','rated_kva'], remove_transformer: ['tag'], transformer_out_of_service: ['tag'],
}};
function show(row) {{
  const action = row.querySelector('[data-field=action]').value;
  row.querySelectorAll('[data-field]').forEach((input) => {{
    const field = input.dataset.field;
    input.hidden = !(field === 'action' || field === 'start' || uses[action].includes(field));
  }});
}}
function addRow(item) {{
  const row = document.getElementById('row').content.firstElementChild.cloneNode(true);
  const value = Object.assign({{}}, item || {{action: 'add_equipment'}});
  if (value.action === 'add_transformer') value.switchboard = value.primary;
  if (value.action === 'set_factors') {{
    for (const name of ['continuous','intermittent','standby','diversity']) if (value[name] != null) {{ value.tag = name; value.factor = value[name]; }}
  }}
  row.querySelectorAll('[data-field]').forEach((input) => {{ if (value[input.dataset.field] != null) input.value = value[input.dataset.field]; }});
  row.querySelector('[data-field=action]').addEventListener('change', () => show(row));
  row.querySelector('.remove').addEventListener('click', () => row.remove());
  rows.appendChild(row);
  show(row);
}}
items.forEach(addRow);
for (const [name, value] of Object.entries(factors)) form.elements['factors.' + name].value = value;
document.getElementById('add').addEventListener('click', () => addRow());
function number(text) {{ return text === '' ? undefined : Number(text); }}
function collect() {{
  const body = {{site: form.dataset.site, name: form.elements.name.value, status: form.elements.status.value, items: []}};
  if (form.elements.description.value) body.description = form.elements.description.value;
  if (form.elements.base_date.value) body.base_date = form.elements.base_date.value;
  if (form.elements.comment.value) body.comment = form.elements.comment.value;
  const factors = {{}};
  for (const name of ['continuous','intermittent','standby','diversity']) {{
    const value = number(form.elements['factors.' + name].value);
    if (value !== undefined) factors[name] = value;
  }}
  if (Object.keys(factors).length) body.factors = factors;
  rows.querySelectorAll('tr').forEach((row) => {{
    const item = {{}};
    row.querySelectorAll('[data-field]').forEach((input) => {{
      if (input.hidden || input.value === '') return;
      const numeric = input.type === 'number';
      item[input.dataset.field] = numeric ? Number(input.value) : input.value;
    }});
    if (item.action === 'add_transformer') {{ item.primary = item.switchboard; delete item.switchboard; }}
    if (item.action === 'set_factors') {{ if (item.tag) item[item.tag] = item.factor; delete item.tag; delete item.factor; }}
    body.items.push(item);
  }});
  return body;
}}
form.addEventListener('submit', async (event) => {{
  event.preventDefault();
  document.querySelectorAll('.invalid').forEach((input) => input.classList.remove('invalid'));
  const answer = await fetch(form.dataset.target, {{method: form.dataset.method,
    headers: {{'Content-Type': 'application/json', 'X-CSRF-Token': form.dataset.csrf}}, body: JSON.stringify(collect())}});
  const json = await answer.json().catch(() => ({{}}));
  if (answer.ok) {{ location.href = '/powertrace/scenarios/' + json.id; return; }}
  const problem = document.getElementById('problem');
  problem.textContent = json.detail || answer.statusText;
  problem.hidden = false;
  // The pointer names the member: /items/3/power_factor, /name, /factors/standby.
  const parts = (json.pointer || '').split('/').slice(1);
  let input = null;
  if (parts[0] === 'items' && parts.length >= 2) {{
    const row = rows.querySelectorAll('tr')[Number(parts[1])];
    if (row) {{
      let field = parts[2] || 'action';
      if (field === 'primary') field = 'switchboard';
      if (['continuous','intermittent','standby','diversity'].includes(field)) field = 'factor';
      input = row.querySelector('[data-field="' + field + '"]') || row;
    }}
  }} else if (parts[0] === 'factors') {{ input = form.elements['factors.' + parts[1]]; }}
  else if (parts[0]) {{ input = form.elements[parts[0]]; }}
  if (input) {{ input.classList.add('invalid'); if (input.focus) input.focus(); }}
}});
</script>"#,
        site = escape(&scenario.site),
        name = escape(&scenario.name),
        description = escape(scenario.description.as_deref().unwrap_or_default()),
        base_date = scenario.base_date,
        csrf = escape(&csrf),
    ))
}
