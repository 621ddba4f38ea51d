//! One function per block kind whose node takes more than a line to build: each reads
//! its members through [`Fields`], and answers `None` while its data is pending.

use super::*;

impl Walk<'_> {
    pub(super) fn list(&mut self, fields: &Fields, id: String) -> Result<Option<Node>, DocumentError> {
        let block = fields.block;
        let kind = block.block_type.as_str();
        let style = match (kind, block.data.get("style").and_then(|style| style.as_str())) {
            ("checklist", _) | (_, Some("checklist")) => ListStyle::Checklist,
            (_, Some("ordered")) => ListStyle::Ordered,
            (_, None | Some("unordered")) => ListStyle::Unordered,
            (_, Some(other)) => {
                return Err(
                    fields.error("style", format!("unknown list style `{other}` (ordered, unordered, checklist)"))
                );
            }
        };
        let items = block.data.get("items").ok_or_else(|| fields.error("items", "is required"))?;
        Ok(Some(Node::List { id, style, items: list_items(fields, items, "items")? }))
    }

    pub(super) fn table(&mut self, fields: &Fields, id: String) -> Result<Option<Node>, DocumentError> {
        let block = fields.block;
        let rows = block
            .data
            .get("content")
            .and_then(|rows| rows.as_array())
            .ok_or_else(|| fields.error("content", "a table's content is a list of rows, each a list of cells"))?;
        let mut cells = Vec::new();
        for (row_index, row) in rows.iter().enumerate() {
            let row = row
                .as_array()
                .ok_or_else(|| fields.error(&format!("content/{row_index}"), "a row is a list of cells"))?;
            let mut line = Vec::new();
            for (column, cell) in row.iter().enumerate() {
                let member = format!("content/{row_index}/{column}");
                let text = cell.as_str().ok_or_else(|| fields.error(&member, "a cell is text"))?;
                line.push(fields.inline_at(text, &member)?);
            }
            cells.push(line);
        }
        Ok(Some(Node::Table { id, heading: fields.boolean("withHeadings")?, rows: cells }))
    }

    pub(super) fn image(&mut self, fields: &Fields, id: String) -> Result<Option<Node>, DocumentError> {
        let block = fields.block;
        let source = block
            .data
            .get("file")
            .and_then(|file| file.get("url"))
            .or_else(|| block.data.get("url"))
            .and_then(|url| url.as_str())
            .ok_or_else(|| fields.error("file/url", "an image needs file.url"))?;
        let image = load_image(source, &self.binding.assets).map_err(|message| fields.error("file/url", message))?;
        Ok(Some(Node::Image { id, image, caption: inline::plain(&fields.inline("caption")?) }))
    }

    pub(super) fn badges(&mut self, fields: &Fields, id: String, scope: &Scope) -> Result<Option<Node>, DocumentError> {
        let (block, pointer) = (fields.block, fields.pointer);
        let kind = block.block_type.as_str();
        let items = block
            .data
            .get("items")
            .and_then(|items| items.as_array())
            .ok_or_else(|| fields.error("items", "badges are a list of {\"label\", \"tone\"}"))?;
        let mut badges = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let inner =
                Block { id: block.id.clone(), block_type: kind.into(), data: item.clone(), tunes: Default::default() };
            let pointer = format!("{pointer}/data/items/{index}");
            let item_fields = Fields { block: &inner, pointer: &pointer, variables: &scope.variables };
            badges.push((item_fields.required("label")?, item_fields.tone("tone", Tone::Neutral)?));
        }
        Ok(Some(Node::Badges { id, badges }))
    }

    pub(super) fn progress(
        &mut self,
        fields: &Fields,
        id: String,
        scope: &Scope,
    ) -> Result<Option<Node>, DocumentError> {
        let (block, pointer, locale) = (fields.block, fields.pointer, self.binding.locale);
        let label = fields.text("label")?;
        let (value, maximum) = match self.request_of(fields, scope)? {
            Some(request) => {
                let Some(table) = self.answer(request, block, pointer) else { return Ok(None) };
                let (index, column) = measure_column(fields, table)?;
                let value = table.rows.first().and_then(|row| row[index].as_number()).unwrap_or(0.0);
                let maximum = match column.format {
                    ValueFormat::Ratio => 1.0,
                    ValueFormat::Percent => 100.0,
                    _ => fields.number("max")?.unwrap_or(100.0),
                };
                (value, maximum)
            }
            None => (
                fields
                    .number("value")?
                    .ok_or_else(|| fields.error("value", "a progress bar needs a value or a metric"))?,
                fields.number("max")?.unwrap_or(100.0),
            ),
        };
        if maximum <= 0.0 {
            return Err(fields.error("max", "must be above zero"));
        }
        let share = (value / maximum).clamp(0.0, 1.0);
        Ok(Some(Node::Progress { id, label, share, text: locale.format_percent(share * 100.0, 0) }))
    }

    pub(super) fn kpi(&mut self, fields: &Fields, id: String, scope: &Scope) -> Result<Option<Node>, DocumentError> {
        let (block, pointer, locale) = (fields.block, fields.pointer, self.binding.locale);
        let request = self.request_of(fields, scope)?.ok_or_else(|| fields.error("metric", "is required"))?;
        let compare = match fields.raw_text("compare")?.as_deref() {
            None | Some("none") => false,
            Some("previous") => true,
            Some(other) => {
                return Err(fields.error("compare", format!("unknown comparison `{other}` (previous, none)")));
            }
        };
        let previous_request = match (&request, compare) {
            (DataRequest::Metric { metric, sites, from, to, grain, by }, true) => {
                let previous = Period { start: *from, end: *to }.previous();
                Some(DataRequest::Metric {
                    metric: metric.clone(),
                    sites: sites.clone(),
                    from: previous.start,
                    to: previous.end,
                    grain: grain.clone(),
                    by: by.clone(),
                })
            }
            _ => None,
        };
        let previous = previous_request.and_then(|request| self.answer(request, block, pointer).cloned());
        let Some(table) = self.answer(request, block, pointer).cloned() else { return Ok(None) };
        let (index, column) = measure_column(fields, &table)?;
        let current = table.rows.first().and_then(|row| row[index].as_number());
        let currency = &self.binding.currency;
        let value = match current {
            Some(value) => Value::Number(value).format(column.format, locale, currency),
            None => "—".to_owned(),
        };
        let comparison = match (compare, previous) {
            (false, _) => None,
            (true, None) => return Ok(None),
            (true, Some(previous)) => {
                let before = previous.rows.first().and_then(|row| row.get(index)).and_then(Value::as_number);
                match (current, before) {
                    (Some(current), Some(before)) => {
                        let delta = current - before;
                        let sign = if delta > 0.0 { "+" } else { "" };
                        let text = match column.format {
                            ValueFormat::Percent => format!("{sign}{} pt", locale.format_number(delta, 1)),
                            ValueFormat::Ratio => {
                                format!("{sign}{} pt", locale.format_number(delta * 100.0, 1))
                            }
                            format => {
                                format!("{sign}{}", Value::Number(delta).format(format, locale, currency))
                            }
                        };
                        Some((
                            format!("{text} {} {}", locale.word(Word::Versus), previous_label(locale)),
                            Tone::Neutral,
                        ))
                    }
                    _ => None,
                }
            }
        };
        let label = match fields.raw_text("label")? {
            Some(label) => label,
            None => column.label.clone(),
        };
        Ok(Some(Node::Kpi { id, label, value, unit: fields.text("unit")?, comparison }))
    }

    pub(super) fn tasks(&mut self, fields: &Fields, id: String, scope: &Scope) -> Result<Option<Node>, DocumentError> {
        let locale = self.binding.locale;
        let Some(table) = self.data(fields, scope, "")? else { return Ok(None) };
        let limit = fields.number("limit")?.map(|limit| limit.max(0.0) as usize).unwrap_or(usize::MAX);
        let mut tasks = Vec::new();
        for row in 0..table.rows.len().min(limit) {
            let status = table.text(row, "status").unwrap_or_default();
            let due = table.date(row, "due");
            let overdue = due.is_some_and(|due| due < self.binding.today) && status != "done" && status != "cancelled";
            tasks.push(Task {
                project: table.text(row, "project").unwrap_or_default(),
                name: table.text(row, "task").unwrap_or_default(),
                tone: match status.as_str() {
                    "done" => Tone::Success,
                    "blocked" => Tone::Danger,
                    _ if overdue => Tone::Warning,
                    "in_progress" => Tone::Info,
                    _ => Tone::Neutral,
                },
                status: crate::labels::value_or_text(locale, &status),
                due: due.map(|due| locale.format_date_short(due)).unwrap_or_default(),
                percent: table.number(row, "percent").unwrap_or(0.0),
            });
        }
        Ok(Some(Node::Tasks { id, title: fields.text("title")?, tasks }))
    }

    pub(super) fn company(
        &mut self,
        fields: &Fields,
        id: String,
        scope: &Scope,
    ) -> Result<Option<Node>, DocumentError> {
        let locale = self.binding.locale;
        let name = fields.required("company")?;
        let Some(table) = self.data(fields, scope, "")? else { return Ok(None) };
        if table.rows.is_empty() {
            return Err(fields.error("company", format!("no company named `{name}` in the Tiers directory")));
        }
        let details = ["kind", "city", "country"]
            .iter()
            .filter_map(|column| table.text(0, column))
            .map(|text| crate::labels::value_or_text(locale, &text))
            .collect::<Vec<_>>()
            .join(" · ");
        let contacts = (0..table.rows.len())
            .filter_map(|row| {
                Some(Contact {
                    name: table.text(row, "contact")?,
                    job_title: table.text(row, "job_title").unwrap_or_default(),
                    email: table.text(row, "email").unwrap_or_default(),
                    phone: table.text(row, "phone").unwrap_or_default(),
                })
            })
            .collect();
        Ok(Some(Node::Company { id, name: table.text(0, "company").unwrap_or(name), details, contacts }))
    }
}
