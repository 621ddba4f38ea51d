//! A template's settings read: its parameters (site, week, month, date, text) with their
//! defaults, the reporting period they give, and the page setup.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ParameterKind {
    Site,
    Week,
    Month,
    Date,
    Text,
}

#[derive(Debug, Clone)]
pub(super) struct ParameterSpec {
    pub(super) name: String,
    pub(super) label: String,
    pub(super) kind: ParameterKind,
    pub(super) default: Option<String>,
}

/// The reporting period: its first and last day, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Period {
    pub(super) start: NaiveDate,
    pub(super) end: NaiveDate,
}

impl Period {
    pub(super) fn previous(self) -> Period {
        let days = (self.end - self.start).num_days() + 1;
        let end = self.start.pred_opt().unwrap_or(self.start);
        let start = end.checked_sub_days(Days::new((days - 1).max(0) as u64)).unwrap_or(end);
        // A calendar month is compared with the previous calendar month.
        if self.start.day() == 1 && self.end.succ_opt().is_some_and(|next| next.day() == 1) && days > 27 {
            let start = self.start.checked_sub_months(Months::new(1)).unwrap_or(start);
            return Period { start, end };
        }
        Period { start, end }
    }
}

/// What variables resolve to in one place of the document.
#[derive(Debug, Clone)]
pub(super) struct Scope {
    pub(super) variables: BTreeMap<String, String>,
    pub(super) sites: Vec<String>,
    pub(super) period: Period,
    /// How many repeated sections the block sits in.
    pub(super) depth: usize,
}

pub(super) fn parameter_specs(
    settings: &serde_json::Map<String, serde_json::Value>,
) -> Result<Vec<ParameterSpec>, DocumentError> {
    let Some(list) = settings.get("parameters") else { return Ok(Vec::new()) };
    let list = list.as_array().ok_or_else(|| settings_error("parameters", "must be a list"))?;
    let mut specs = Vec::new();
    for (index, item) in list.iter().enumerate() {
        let at = |member: &str| format!("/settings/parameters/{index}/{member}");
        let field = |member: &str| item.get(member).and_then(|value| value.as_str()).map(str::to_owned);
        let name = field("name").ok_or_else(|| DocumentError::invalid(None, at("name"), "a parameter needs a name"))?;
        let kind = match field("kind").as_deref().unwrap_or("text") {
            "site" => ParameterKind::Site,
            "week" => ParameterKind::Week,
            "month" => ParameterKind::Month,
            "date" => ParameterKind::Date,
            "text" => ParameterKind::Text,
            other => {
                return Err(DocumentError::invalid(
                    None,
                    at("kind"),
                    format!("unknown parameter kind `{other}` (site, week, month, date, text)"),
                ));
            }
        };
        specs.push(ParameterSpec {
            label: field("label").unwrap_or_else(|| name.clone()),
            name,
            kind,
            default: field("default"),
        });
    }
    Ok(specs)
}

pub(super) fn page_setup(value: Option<&serde_json::Value>) -> Result<PageSetup, DocumentError> {
    let mut page = PageSetup { size: PaperSize::A4, landscape: false, margins_mm: [20.0, 18.0, 20.0, 18.0] };
    let Some(value) = value else { return Ok(page) };
    let error = |member: &str, message: &str| DocumentError::invalid(None, format!("/settings/page/{member}"), message);
    if let Some(size) = value.get("size") {
        page.size = match size.as_str() {
            Some("A4") => PaperSize::A4,
            Some("Letter") => PaperSize::Letter,
            _ => return Err(error("size", "expected A4 or Letter")),
        };
    }
    if let Some(orientation) = value.get("orientation") {
        page.landscape = match orientation.as_str() {
            Some("portrait") => false,
            Some("landscape") => true,
            _ => return Err(error("orientation", "expected portrait or landscape")),
        };
    }
    if let Some(margins) = value.get("margins_mm") {
        let numbers: Option<Vec<f64>> =
            margins.as_array().map(|list| list.iter().filter_map(|item| item.as_f64()).collect());
        match numbers {
            Some(numbers) if numbers.len() == 4 && numbers.iter().all(|margin| (0.0..=80.0).contains(margin)) => {
                page.margins_mm = [numbers[0], numbers[1], numbers[2], numbers[3]];
            }
            _ => {
                return Err(error(
                    "margins_mm",
                    "expected four margins in millimetres (top, right, bottom, left), 0 to 80",
                ));
            }
        }
    }
    Ok(page)
}

pub(super) fn last_complete_week(today: NaiveDate) -> Period {
    let monday = today - Days::new(u64::from(today.weekday().num_days_from_monday()));
    let start = monday.checked_sub_days(Days::new(7)).unwrap_or(monday);
    Period { start, end: start + Days::new(6) }
}

pub(super) fn last_complete_month(today: NaiveDate) -> Period {
    let first = today.with_day(1).unwrap_or(today);
    let start = first.checked_sub_months(Months::new(1)).unwrap_or(first);
    Period { start, end: first.pred_opt().unwrap_or(first) }
}

pub(super) fn parse_week(text: &str) -> Option<Period> {
    let start = match text.split_once("-W") {
        Some((year, week)) => NaiveDate::from_isoywd_opt(year.parse().ok()?, week.parse().ok()?, chrono::Weekday::Mon)?,
        None => {
            let date: NaiveDate = text.parse().ok()?;
            date - Days::new(u64::from(date.weekday().num_days_from_monday()))
        }
    };
    Some(Period { start, end: start.checked_add_days(Days::new(6))? })
}

pub(super) fn parse_month(text: &str) -> Option<Period> {
    let (year, month) = text.split_once('-')?;
    let start = NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, 1)?;
    let next = start.checked_add_months(Months::new(1))?;
    Some(Period { start, end: next.pred_opt()? })
}
