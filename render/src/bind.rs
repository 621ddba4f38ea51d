//! The binding contract: a document plus parameters yields the data requests its data
//! blocks need; once the caller has answered them, the document is expanded (variables,
//! repeated sections, conditions) into a [`BoundDocument`] that records the warehouse
//! version of every table it read, and that every writer renders the same way.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Days, Months, NaiveDate};

use crate::chart::{Chart, ChartKind, Series, ValueStyle};
use crate::inline::{self, Span};
use crate::{Block, Document, DocumentError, Locale, Word};

// The binding's files share one namespace: each reads its parent's names (`use
// super::*`), and the bound model is re-exported as the crate's public API.
mod charts;
mod fields;
mod image;
mod kinds;
mod map;
mod model;
mod planning;
pub mod powertrace;
mod settings;
mod variables;
mod walk;

use charts::*;
use fields::*;
use image::*;
pub use model::*;
use settings::*;
use variables::*;
use walk::*;

/// A document being bound: ask [`Binding::pending`] what data it needs, answer with
/// [`Binding::answer`] until nothing is pending (a repeated section asks for its rows
/// first, then for its blocks' data), then [`Binding::finish`].
#[derive(Debug)]
pub struct Binding {
    document: Document,
    locale: Locale,
    currency: String,
    today: NaiveDate,
    scope: Scope,
    parameters: Vec<(String, String)>,
    period_label: String,
    sites: Vec<SiteInfo>,
    assets: BTreeMap<String, Vec<u8>>,
    answers: BTreeMap<DataRequest, DataTable>,
}

fn settings_error(member: &str, message: impl Into<String>) -> DocumentError {
    DocumentError::invalid(None, format!("/settings/{member}"), message)
}

impl Binding {
    /// Starts binding `document` with `parameters` (`site=ALPHA`, `period=2026-W46`,
    /// `locale=en-GB`, …), the known sites, images the document may name (`logo.png`)
    /// and the day it is bound on.
    pub fn new(
        document: Document,
        parameters: &BTreeMap<String, String>,
        sites: Vec<SiteInfo>,
        assets: BTreeMap<String, Vec<u8>>,
        today: NaiveDate,
    ) -> Result<Self, DocumentError> {
        let settings = match &document.settings {
            serde_json::Value::Null => serde_json::Map::new(),
            serde_json::Value::Object(map) => map.clone(),
            _ => return Err(DocumentError::invalid(None, "/settings", "must be an object")),
        };
        let locale_text = parameters
            .get("locale")
            .cloned()
            .or_else(|| settings.get("locale").and_then(|value| value.as_str()).map(str::to_owned));
        let locale = match locale_text {
            Some(text) => text.parse().map_err(|_| DocumentError::Parameter {
                name: "locale".into(),
                message: format!("unknown locale `{text}`: expected fr-FR, en-GB or en-US"),
            })?,
            None => Locale::FrFr,
        };
        let specs = parameter_specs(&settings)?;
        for name in parameters.keys() {
            if name != "locale" && !specs.iter().any(|spec| &spec.name == name) {
                let known: Vec<&str> = specs.iter().map(|spec| spec.name.as_str()).chain(["locale"]).collect();
                return Err(DocumentError::Parameter {
                    name: name.clone(),
                    message: format!("the template has no such parameter (it takes: {})", known.join(", ")),
                });
            }
        }
        let mut variables = BTreeMap::new();
        let mut period = last_complete_week(today);
        let mut scope_sites = Vec::new();
        let mut shown = Vec::new();
        let mut period_label = String::new();
        variables.insert("site.code".to_owned(), String::new());
        variables.insert("site.name".to_owned(), locale.word(Word::AllSites).to_owned());
        for spec in &specs {
            let given =
                parameters.get(&spec.name).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty());
            let value = given.or_else(|| spec.default.clone());
            let raw = value.clone();
            let error = |message: String| DocumentError::Parameter { name: spec.name.clone(), message };
            let text = match spec.kind {
                ParameterKind::Site => match value.as_deref() {
                    None | Some("all") => locale.word(Word::AllSites).to_owned(),
                    Some(code) => {
                        let site = sites.iter().find(|site| site.code == code).ok_or_else(|| {
                            let known: Vec<&str> = sites.iter().map(|site| site.code.as_str()).collect();
                            error(format!("unknown site `{code}` (known: {})", known.join(", ")))
                        })?;
                        variables.insert("site.code".into(), site.code.clone());
                        variables.insert("site.name".into(), site.name.clone());
                        scope_sites = vec![site.code.clone()];
                        format!("{} ({})", site.name, site.code)
                    }
                },
                ParameterKind::Week => {
                    period = match value.as_deref() {
                        None => last_complete_week(today),
                        Some(text) => parse_week(text).ok_or_else(|| {
                            error(format!("`{text}` is not a week: write 2026-W46 or a date in the week (2026-11-12)"))
                        })?,
                    };
                    period_label =
                        format!("{} {}", locale.word(Word::Week).to_lowercase(), period.start.iso_week().week());
                    format!("{} {}", locale.word(Word::Week), period.start.iso_week().week())
                }
                ParameterKind::Month => {
                    period = match value.as_deref() {
                        None => last_complete_month(today),
                        Some(text) => {
                            parse_month(text).ok_or_else(|| error(format!("`{text}` is not a month: write 2026-10")))?
                        }
                    };
                    period_label = locale.format_month(period.start);
                    locale.format_month(period.start)
                }
                ParameterKind::Date => {
                    let date = match value.as_deref() {
                        None => today,
                        Some(text) => text
                            .parse::<NaiveDate>()
                            .map_err(|_| error(format!("`{text}` is not a date: write 2026-11-21")))?,
                    };
                    variables.insert(format!("param.{}", spec.name), locale.format_date_long(date));
                    locale.format_date_long(date)
                }
                ParameterKind::Text => {
                    let text = value.unwrap_or_default();
                    variables.insert(format!("param.{}", spec.name), text.clone());
                    text
                }
            };
            if !matches!(spec.kind, ParameterKind::Date | ParameterKind::Text) {
                variables.insert(format!("param.{}", spec.name), raw.unwrap_or_default());
            }
            shown.push((spec.label.clone(), text));
        }
        variables.insert("period.start".into(), locale.format_date_long(period.start));
        variables.insert("period.end".into(), locale.format_date_long(period.end));
        variables.insert("period.week".into(), period.start.iso_week().week().to_string());
        // ISO dates, for read-only queries.
        variables.insert("period.from".into(), period.start.to_string());
        variables.insert("period.to".into(), period.end.to_string());
        variables.insert("period.month".into(), locale.format_month(period.start));
        variables.insert("period.year".into(), period.start.year().to_string());
        variables.insert("date.today".into(), locale.format_date_long(today));
        let currency = settings
            .get("currency")
            .and_then(|value| value.as_str())
            .unwrap_or(crate::figures::DEFAULT_CURRENCY)
            .to_owned();
        Ok(Self {
            document,
            locale,
            currency,
            today,
            scope: Scope { variables, sites: scope_sites, period, depth: 0 },
            parameters: shown,
            period_label,
            sites,
            assets,
            answers: BTreeMap::new(),
        })
    }

    pub fn locale(&self) -> Locale {
        self.locale
    }

    /// The requests not answered yet, each with the first block that needs it.
    pub fn pending(&self) -> Result<Vec<Pending>, DocumentError> {
        let mut walk = Walk { binding: self, nodes: Vec::new(), pending: Vec::new(), warehouse: BTreeMap::new() };
        walk.blocks(&self.document.blocks, "/blocks", &self.scope, "")?;
        let mut seen = BTreeSet::new();
        walk.pending.retain(|pending| seen.insert(pending.request.clone()));
        Ok(walk.pending)
    }

    /// Gives the answer to a request.
    pub fn answer(&mut self, request: DataRequest, table: DataTable) {
        self.answers.insert(request, table);
    }

    /// The bound document; every request must have been answered.
    pub fn finish(self) -> Result<BoundDocument, DocumentError> {
        let mut walk = Walk { binding: &self, nodes: Vec::new(), pending: Vec::new(), warehouse: BTreeMap::new() };
        walk.blocks(&self.document.blocks, "/blocks", &self.scope, "")?;
        if let Some(pending) = walk.pending.first() {
            return Err(DocumentError::invalid(
                Some(&pending.block),
                &pending.pointer,
                "its data was not supplied to the binding",
            ));
        }
        let (nodes, warehouse) = (walk.nodes, walk.warehouse);
        let settings = match &self.document.settings {
            serde_json::Value::Object(map) => map.clone(),
            _ => serde_json::Map::new(),
        };
        let text = |member: &str, default: &str| -> Result<String, DocumentError> {
            match settings.get(member) {
                None => Ok(default.to_owned()),
                Some(serde_json::Value::String(text)) => {
                    substitute(text, &self.scope.variables).map_err(|message| settings_error(member, message))
                }
                Some(_) => Err(settings_error(member, "must be a string")),
            }
        };
        let title = text("title", "Rapport")?;
        let page = page_setup(settings.get("page"))?;
        let logo = match settings.get("logo") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(source)) => {
                Some(load_image(source, &self.assets).map_err(|message| settings_error("logo", message))?)
            }
            Some(_) => return Err(settings_error("logo", "must be an image name or a data: URL")),
        };
        let flag = |member: &str| -> Result<bool, DocumentError> {
            match settings.get(member) {
                None => Ok(false),
                Some(serde_json::Value::Bool(value)) => Ok(*value),
                Some(_) => Err(settings_error(member, "must be true or false")),
            }
        };
        Ok(BoundDocument {
            subtitle: text("subtitle", "")?,
            header: text("header", &title)?,
            footer: text("footer", "")?,
            title,
            locale: self.locale,
            currency: self.currency.clone(),
            today: self.today,
            page,
            cover: flag("cover")?,
            toc: flag("toc")?,
            logo,
            parameters: self.parameters.clone(),
            period: self.period_label.clone(),
            nodes,
            warehouse,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_resolve_and_unknown_ones_are_named() {
        let variables = BTreeMap::from([("site.name".to_owned(), "Alpha".to_owned())]);
        assert_eq!(substitute("Site {site.name} {{x} {not a var}", &variables).unwrap(), "Site Alpha {x} {not a var}");
        assert_eq!(
            substitute("{site.nom}", &variables).unwrap_err(),
            "unknown variable `{site.nom}` (known here: site.name)"
        );
    }

    #[test]
    fn query_variables_become_bound_parameters() {
        let variables = BTreeMap::from([
            ("site.code".to_owned(), "AL'PHA".to_owned()),
            ("period.from".to_owned(), "2026-11-09".to_owned()),
        ]);
        let sql = "SELECT 1 WHERE d >= DATE '{period.from}' AND ('{site.code}' = '' OR c = '{site.code}') \
                   AND n LIKE '%{site.code}%' AND x = {site.code}";
        let (text, values) = placeholders(sql, &variables).unwrap();
        assert_eq!(
            text,
            "SELECT 1 WHERE d >= CAST($1 AS DATE) AND (CAST($2 AS VARCHAR) = '' OR c = CAST($2 AS VARCHAR)) \
             AND n LIKE '%' || CAST($2 AS VARCHAR) || '%' AND x = CAST($2 AS VARCHAR)"
        );
        assert_eq!(values, ["2026-11-09", "AL'PHA"]);
    }

    #[test]
    fn default_periods_are_the_last_complete_week_and_month() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let week = last_complete_week(today);
        assert_eq!((week.start.to_string(), week.end.to_string()), ("2026-11-09".into(), "2026-11-15".into()));
        let month = last_complete_month(today);
        assert_eq!((month.start.to_string(), month.end.to_string()), ("2026-10-01".into(), "2026-10-31".into()));
        assert_eq!(
            month.previous(),
            Period { start: "2026-09-01".parse().unwrap(), end: "2026-09-30".parse().unwrap() }
        );
        assert_eq!(parse_week("2026-W46"), Some(week));
        assert_eq!(parse_week("2026-11-12"), Some(week));
        assert_eq!(parse_month("2026-10"), Some(month));
        assert_eq!(parse_week("2026-W54"), None);
    }

    /// Binds `source` answering every query with `rows` rows of one column `n`.
    fn bind_rows(source: &str, rows: usize) -> Result<BoundDocument, DocumentError> {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let mut binding =
            Binding::new(Document::from_json(source)?, &BTreeMap::new(), Vec::new(), BTreeMap::new(), today)?;
        loop {
            let pending = binding.pending()?;
            if pending.is_empty() {
                return binding.finish();
            }
            for pending in pending {
                let table = DataTable {
                    columns: vec![DataColumn { name: "n".into(), label: "n".into(), format: ValueFormat::Integer }],
                    rows: (0..rows).map(|row| vec![Value::Number(row as f64)]).collect(),
                    warehouse: BTreeMap::new(),
                };
                binding.answer(pending.request, table);
            }
        }
    }

    #[test]
    fn repeated_sections_nest_three_deep_and_expand_to_ten_thousand_blocks_at_most() {
        let nested = |depth: usize| {
            let mut blocks = r#"[{"id": "p", "type": "paragraph", "data": {"text": "{row.n}"}}]"#.to_owned();
            for level in 0..depth {
                blocks = format!(
                    r#"[{{"id": "r{level}", "type": "repeat", "data": {{"query": "SELECT n FROM t{level}", "blocks": {blocks}}}}}]"#
                );
            }
            format!(r#"{{"blocks": {blocks}}}"#)
        };
        assert_eq!(bind_rows(&nested(3), 4).unwrap().nodes.len(), 64);
        assert_eq!(
            bind_rows(&nested(4), 2).unwrap_err().to_string(),
            "block `r0` at /blocks/0/data/blocks/0/data/blocks/0/data/blocks/0/data/blocks: repeated sections nest at most 3 deep"
        );
        assert_eq!(
            bind_rows(&nested(2), 101).unwrap_err().to_string(),
            "block `r0` at /blocks/0/data/blocks/0/data/blocks: the document would hold more than 10000 blocks once repeated; narrow the rows"
        );
    }
}
