//! One recipient's scheduled report: the document bound under the recipient's own
//! site scope and locale from the firing's warehouse snapshot, rendered to each
//! format, and the message around it — headline figures (the KPI blocks' values), a
//! link to the report in OpsFlux, the files attached.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use opsflux_query::{Engine, Scope};
use opsflux_render::{BoundDocument, Document, OutputFormat, bind::Node};

use super::mail::{File, Outgoing, escape};
use super::schedules::Schedule;
use crate::documents::{RenderError, RenderLimits};

/// What a recipient's files depend on: recipients who share it share the files.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RenderKey {
    pub sites: Option<BTreeSet<String>>,
    pub parameters: BTreeMap<String, String>,
}

/// A recipient's rendered report.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub files: Vec<File>,
    /// Label, value and unit of each KPI block, with its comparison.
    pub headline: Vec<(String, String)>,
    /// `ALPHA`, `ALPHA, BRAVO` or `Tous les sites`.
    pub sites: String,
    /// `semaine 47`, `novembre 2026` or empty.
    pub period: String,
    /// Warehouse table → version read.
    pub warehouse: BTreeMap<String, String>,
    pub warehouse_line: String,
}

/// The parameters a recipient's document is bound with: the schedule's, plus the
/// recipient's locale and, for a template with a site parameter left unset, the
/// recipient's one site when they see exactly one.
pub fn parameters_for(
    schedule: &Schedule,
    document: &Document,
    visible: &BTreeSet<String>,
    scope: &Scope,
    locale: &str,
) -> BTreeMap<String, String> {
    let mut parameters = schedule.parameters.clone();
    parameters.entry("locale".to_owned()).or_insert_with(|| locale.to_owned());
    if let (Some(site_parameter), Scope::Sites(_)) = (site_parameter(document), scope)
        && parameters.get(&site_parameter).is_none_or(|value| value.trim().is_empty())
        && visible.len() == 1
        && let Some(site) = visible.iter().next()
    {
        parameters.insert(site_parameter, site.clone());
    }
    parameters
}

/// The name of the document's site parameter, if it has one.
fn site_parameter(document: &Document) -> Option<String> {
    document.settings.get("parameters")?.as_array()?.iter().find_map(|parameter| {
        (parameter.get("kind")?.as_str()? == "site").then(|| parameter.get("name")?.as_str().map(str::to_owned))?
    })
}

/// Renders `document` to every format of the schedule, bound once per format under
/// `scope` from `engine`'s pin.
#[allow(clippy::too_many_arguments)]
pub async fn render(
    engine: &Engine,
    schedule: &Schedule,
    document: &Document,
    parameters: &BTreeMap<String, String>,
    visible: &BTreeSet<String>,
    scope: &Scope,
    today: NaiveDate,
    limits: &RenderLimits,
) -> Result<Rendered, RenderError> {
    let mut files = Vec::new();
    let mut first: Option<BoundDocument> = None;
    let french = parameters.get("locale").is_none_or(|locale| locale.starts_with("fr"));
    let sites = sites_label(schedule, parameters, visible, scope, french);
    for format_name in &schedule.formats {
        let format: OutputFormat = format_name.parse().map_err(RenderError::Runtime)?;
        let (bytes, bound) =
            crate::documents::render(engine, document.clone(), parameters, format, today, scope, limits).await?;
        let name = file_name(&schedule.name, &sites, &bound.period, format.extension());
        files.push(File { name, content_type: content_type(format), bytes });
        first.get_or_insert(bound);
    }
    let bound = first.ok_or_else(|| RenderError::Runtime("the schedule names no format".into()))?;
    let headline = bound
        .nodes
        .iter()
        .filter_map(|node| match node {
            Node::Kpi { label, value, unit, comparison, .. } => {
                let mut text = if unit.is_empty() { value.clone() } else { format!("{value} {unit}") };
                if let Some((comparison, _)) = comparison {
                    text.push_str(&format!(" ({comparison})"));
                }
                Some((label.clone(), text))
            }
            _ => None,
        })
        .collect();
    Ok(Rendered {
        files,
        headline,
        sites,
        period: bound.period.clone(),
        warehouse_line: bound.warehouse_line(),
        warehouse: bound.warehouse,
    })
}

fn sites_label(
    schedule: &Schedule,
    parameters: &BTreeMap<String, String>,
    visible: &BTreeSet<String>,
    scope: &Scope,
    french: bool,
) -> String {
    let chosen = parameters.get("site").or_else(|| schedule.parameters.get("site"));
    match chosen.map(|site| site.trim()).filter(|site| !site.is_empty() && *site != "all") {
        Some(site) => site.to_owned(),
        None => match scope {
            Scope::All => (if french { "Tous les sites" } else { "All sites" }).to_owned(),
            Scope::Sites(_) if visible.len() <= 3 && !visible.is_empty() => {
                visible.iter().cloned().collect::<Vec<_>>().join(", ")
            }
            Scope::Sites(_) => format!("{} sites", visible.len()),
        },
    }
}

/// `Rapport hebdomadaire — ALPHA — semaine 47.pdf`, with no character a file system
/// or mail client refuses.
pub fn file_name(name: &str, sites: &str, period: &str, extension: &str) -> String {
    let stem: Vec<&str> = [name, sites, period].into_iter().filter(|part| !part.trim().is_empty()).collect();
    let stem: String = stem
        .join(" — ")
        .chars()
        .map(|character| if character.is_control() || "/\\:*?\"<>|".contains(character) { '-' } else { character })
        .collect();
    format!("{}.{extension}", stem.trim())
}

fn content_type(format: OutputFormat) -> &'static str {
    match format {
        OutputFormat::Pdf => "application/pdf",
        OutputFormat::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        OutputFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        OutputFormat::Html => "text/html; charset=utf-8",
    }
}

/// The words of a message in the recipient's language (French unless English).
struct Words {
    french: bool,
}

impl Words {
    fn pick<'a>(&self, french: &'a str, english: &'a str) -> &'a str {
        if self.french { french } else { english }
    }
}

/// The message carrying a rendered report to one recipient.
#[allow(clippy::too_many_arguments)]
pub fn message(
    schedule: &Schedule,
    rendered: &Rendered,
    to: &str,
    to_name: &str,
    locale: &str,
    link: &str,
    message_id: String,
) -> Outgoing {
    let words = Words { french: !locale.starts_with("en") };
    let title: Vec<&str> = [schedule.name.as_str(), rendered.sites.as_str(), rendered.period.as_str()]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect();
    let title = title.join(" — ");
    let subject = if schedule.subject.is_empty() { title.clone() } else { schedule.subject.clone() };
    let greeting = format!("{} {to_name},", words.pick("Bonjour", "Hello"));
    let figures_heading = words.pick("Chiffres clés", "Key figures");
    let attached = rendered.files.iter().map(|file| file.name.as_str()).collect::<Vec<_>>().join(", ");
    let attached_line = format!("{} {attached}", words.pick("Fichiers joints :", "Attached:"));
    let open = words.pick("Ouvrir le rapport dans OpsFlux", "Open the report in OpsFlux");
    let data = format!("{} {}", words.pick("Données de l'entrepôt :", "Warehouse data:"), rendered.warehouse_line);
    let why = format!(
        "{} « {} » ({} {}).",
        words.pick("Envoi programmé", "Scheduled report"),
        schedule.name,
        schedule.cron,
        schedule.timezone
    );

    let mut text = format!("{greeting}\n\n");
    let mut html = format!("<p>{}</p>", escape(&greeting));
    if !schedule.body.is_empty() {
        text.push_str(&format!("{}\n\n", schedule.body));
        html.push_str(&format!("<p>{}</p>", escape(&schedule.body)));
    }
    text.push_str(&format!("{title}\n\n"));
    html.push_str(&format!("<h2 style=\"font-size:16px\">{}</h2>", escape(&title)));
    if !rendered.headline.is_empty() {
        text.push_str(&format!("{figures_heading}\n"));
        html.push_str(&format!(
            "<table style=\"border-collapse:collapse\"><caption style=\"text-align:left;font-weight:bold\">{}</caption>",
            escape(figures_heading)
        ));
        for (label, value) in &rendered.headline {
            text.push_str(&format!("- {label} : {value}\n"));
            html.push_str(&format!(
                "<tr><td style=\"padding:2px 12px 2px 0\">{}</td><td style=\"padding:2px 0\"><strong>{}</strong></td></tr>",
                escape(label),
                escape(value)
            ));
        }
        text.push('\n');
        html.push_str("</table>");
    }
    text.push_str(&format!("{attached_line}\n{open} : {link}\n\n{data}\n{why}\n"));
    html.push_str(&format!(
        "<p>{}</p><p><a href=\"{}\">{}</a></p><p style=\"color:#666;font-size:12px\">{}<br>{}</p>",
        escape(&attached_line),
        escape(link),
        escape(open),
        escape(&data),
        escape(&why)
    ));
    Outgoing {
        to: to.to_owned(),
        to_name: Some(to_name.to_owned()),
        subject,
        text,
        html: wrap_html(&html),
        files: rendered.files.clone(),
        message_id,
    }
}

/// The note a recipient gets instead of a report they may not read.
pub fn note(schedule: &Schedule, to: &str, to_name: &str, locale: &str, reason: &str, message_id: String) -> Outgoing {
    let words = Words { french: !locale.starts_with("en") };
    let subject = format!("{} — {}", schedule.name, words.pick("rapport non envoyé", "report not sent"));
    let explanation = format!(
        "{} « {} », {} {reason}. {}",
        words.pick("Vous êtes destinataire du rapport programmé", "You receive the scheduled report"),
        schedule.name,
        words.pick("mais il ne peut pas vous être envoyé :", "but it cannot be sent to you:"),
        words.pick(
            "Aucune donnée n'est jointe. Demandez l'accès à un administrateur d'OpsFlux.",
            "No data is attached. Ask an OpsFlux administrator for access."
        )
    );
    let greeting = format!("{} {to_name},", words.pick("Bonjour", "Hello"));
    Outgoing {
        to: to.to_owned(),
        to_name: Some(to_name.to_owned()),
        subject,
        text: format!("{greeting}\n\n{explanation}\n"),
        html: wrap_html(&format!("<p>{}</p><p>{}</p>", escape(&greeting), escape(&explanation))),
        files: Vec::new(),
        message_id,
    }
}

pub(crate) fn wrap_html(body: &str) -> String {
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body style=\"font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#1a1a1a\">{body}</body></html>"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn file_names_join_the_report_sites_and_period_and_drop_unsafe_characters() {
        assert_eq!(
            super::file_name("Rapport hebdomadaire", "ALPHA", "semaine 47", "pdf"),
            "Rapport hebdomadaire — ALPHA — semaine 47.pdf"
        );
        assert_eq!(super::file_name("Bilan a/b", "Tous les sites", "", "xlsx"), "Bilan a-b — Tous les sites.xlsx");
    }
}
