//! A block's data members read one by one, each error naming the block and the JSON
//! pointer of the member; the data request of a metric block.

use super::*;

/// Members of a block's data, each read with an error naming block and pointer.
pub(super) struct Fields<'a> {
    pub(super) block: &'a Block,
    pub(super) pointer: &'a str,
    pub(super) variables: &'a BTreeMap<String, String>,
}

impl Fields<'_> {
    pub(super) fn error(&self, member: &str, message: impl Into<String>) -> DocumentError {
        let pointer =
            if member.is_empty() { self.pointer.to_owned() } else { format!("{}/data/{member}", self.pointer) };
        DocumentError::invalid(Some(&self.block.id), pointer, message)
    }

    pub(super) fn raw_text(&self, member: &str) -> Result<Option<String>, DocumentError> {
        match self.block.data.get(member) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(text)) => {
                substitute(text, self.variables).map(Some).map_err(|message| self.error(member, message))
            }
            Some(serde_json::Value::Number(number)) => Ok(Some(number.to_string())),
            Some(_) => Err(self.error(member, "must be text")),
        }
    }

    /// A read-only query with variables written as SQL string contents (quotes doubled),
    /// so a value cannot end its literal.
    /// The query's text with its variables as bound parameters, and their values.
    pub(super) fn sql(&self, member: &str) -> Result<(String, Vec<String>), DocumentError> {
        let text = self
            .block
            .data
            .get(member)
            .and_then(|value| value.as_str())
            .ok_or_else(|| self.error(member, "must be a SQL query"))?;
        placeholders(text, self.variables).map_err(|message| self.error(member, message))
    }

    pub(super) fn text(&self, member: &str) -> Result<String, DocumentError> {
        Ok(self.raw_text(member)?.unwrap_or_default())
    }

    pub(super) fn required(&self, member: &str) -> Result<String, DocumentError> {
        self.raw_text(member)?.filter(|text| !text.trim().is_empty()).ok_or_else(|| self.error(member, "is required"))
    }

    /// Inline markup with variables; values are escaped before the markup is read.
    pub(super) fn inline_at(&self, text: &str, member: &str) -> Result<Vec<Span>, DocumentError> {
        let resolved = substitute(text, &escaped(self.variables)).map_err(|message| self.error(member, message))?;
        inline::parse(&resolved).map_err(|message| self.error(member, message))
    }

    pub(super) fn inline(&self, member: &str) -> Result<Vec<Span>, DocumentError> {
        match self.block.data.get(member) {
            None | Some(serde_json::Value::Null) => Ok(Vec::new()),
            Some(serde_json::Value::String(text)) => self.inline_at(text, member),
            Some(_) => Err(self.error(member, "must be text")),
        }
    }

    pub(super) fn list(&self, member: &str) -> Result<Option<Vec<String>>, DocumentError> {
        match self.block.data.get(member) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(text)) => {
                let text = substitute(text, self.variables).map_err(|message| self.error(member, message))?;
                Ok(Some(text.split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned).collect()))
            }
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    let text = item.as_str().ok_or_else(|| self.error(&format!("{member}/{index}"), "must be text"))?;
                    substitute(text, self.variables)
                        .map_err(|message| self.error(&format!("{member}/{index}"), message))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(self.error(member, "must be a list of names")),
        }
    }

    pub(super) fn boolean(&self, member: &str) -> Result<bool, DocumentError> {
        match self.block.data.get(member) {
            None | Some(serde_json::Value::Null) => Ok(false),
            Some(serde_json::Value::Bool(value)) => Ok(*value),
            Some(_) => Err(self.error(member, "must be true or false")),
        }
    }

    pub(super) fn number(&self, member: &str) -> Result<Option<f64>, DocumentError> {
        match self.raw_text(member)? {
            None => Ok(None),
            Some(text) => {
                text.trim().parse().map(Some).map_err(|_| self.error(member, format!("`{text}` is not a number")))
            }
        }
    }

    pub(super) fn tone(&self, member: &str, default: Tone) -> Result<Tone, DocumentError> {
        Ok(match self.raw_text(member)?.as_deref() {
            None => default,
            Some("info") => Tone::Info,
            Some("success") => Tone::Success,
            Some("warning") => Tone::Warning,
            Some("danger") | Some("error") => Tone::Danger,
            Some("neutral") => Tone::Neutral,
            Some(other) => {
                return Err(
                    self.error(member, format!("unknown tone `{other}` (info, success, warning, danger, neutral)"))
                );
            }
        })
    }

    /// The sites a data block reads: its own `site` member, or the scope's.
    pub(super) fn sites(&self, scope: &Scope) -> Result<Vec<String>, DocumentError> {
        Ok(self.list("site")?.unwrap_or_else(|| scope.sites.clone()))
    }

    pub(super) fn period(&self, scope: &Scope) -> Result<Period, DocumentError> {
        match self.raw_text("period")?.as_deref() {
            None | Some("current") => Ok(scope.period),
            Some("previous") => Ok(scope.period.previous()),
            Some("year") => Ok(Period {
                start: NaiveDate::from_ymd_opt(scope.period.end.year(), 1, 1).unwrap_or(scope.period.start),
                end: scope.period.end,
            }),
            Some(other) => Err(self.error("period", format!("unknown period `{other}` (current, previous, year)"))),
        }
    }

    pub(super) fn metric_request(
        &self,
        scope: &Scope,
        grain: Option<String>,
        by: Option<Vec<String>>,
    ) -> Result<DataRequest, DocumentError> {
        let period = self.period(scope)?;
        Ok(DataRequest::Metric {
            metric: self.required("metric")?,
            sites: self.sites(scope)?,
            from: period.start,
            to: period.end,
            grain,
            by,
        })
    }
}

/// The measure a KPI or progress bar shows: `measure` by name, or the first numeric column.
pub(super) fn measure_column<'t>(
    fields: &Fields,
    table: &'t DataTable,
) -> Result<(usize, &'t DataColumn), DocumentError> {
    match fields.raw_text("measure")? {
        Some(name) => table.column(&name).map(|index| (index, &table.columns[index])).ok_or_else(|| {
            let known: Vec<&str> = table.measures().map(|(_, column)| column.name.as_str()).collect();
            fields.error("measure", format!("no measure `{name}` (the data has: {})", known.join(", ")))
        }),
        None => table.measures().next().ok_or_else(|| fields.error("metric", "the data has no numeric column")),
    }
}
