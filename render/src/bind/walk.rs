//! The walk over a document's blocks: conditions, repeated sections, the data each
//! block asks for, and the node each block becomes once its data is there.

use super::*;

/// How deep repeated sections nest, and how many blocks a document may expand to: a
/// section repeated per row inside another is rows × rows blocks.
pub(super) const MAX_REPEAT_DEPTH: usize = 3;
pub(super) const MAX_NODES: usize = 10_000;

pub(super) struct Walk<'a> {
    pub(super) binding: &'a Binding,
    pub(super) nodes: Vec<Node>,
    pub(super) pending: Vec<Pending>,
    pub(super) warehouse: BTreeMap<String, String>,
}

impl Walk<'_> {
    pub(super) fn blocks(
        &mut self,
        blocks: &[Block],
        pointer: &str,
        scope: &Scope,
        suffix: &str,
    ) -> Result<(), DocumentError> {
        for (index, block) in blocks.iter().enumerate() {
            let pointer = format!("{pointer}/{index}");
            if !self.visible(block, blocks, &pointer, scope)? {
                continue;
            }
            self.block(block, &pointer, scope, suffix)?;
        }
        Ok(())
    }

    pub(super) fn answer(&mut self, request: DataRequest, block: &Block, pointer: &str) -> Option<&DataTable> {
        match self.binding.answers.get(&request) {
            Some(table) => {
                self.warehouse.extend(table.warehouse.iter().map(|(table, version)| (table.clone(), version.clone())));
                Some(table)
            }
            None => {
                self.pending.push(Pending { request, block: block.id.clone(), pointer: pointer.to_owned() });
                None
            }
        }
    }

    /// Conditional blocks: `tunes.when` is `{"not_empty": "{param.x}"}`,
    /// `{"equals": ["{site.code}", "ALPHA"]}` or `{"rows": "<id of a data block>"}`.
    pub(super) fn visible(
        &mut self,
        block: &Block,
        siblings: &[Block],
        pointer: &str,
        scope: &Scope,
    ) -> Result<bool, DocumentError> {
        let Some(when) = block.tunes.get("when") else { return Ok(true) };
        let error = |message: &str| DocumentError::invalid(Some(&block.id), format!("{pointer}/tunes/when"), message);
        let resolve = |text: &serde_json::Value| -> Result<String, DocumentError> {
            let text = text.as_str().ok_or_else(|| error("conditions compare text"))?;
            substitute(text, &scope.variables).map_err(|message| error(&message))
        };
        if let Some(value) = when.get("not_empty") {
            return Ok(!resolve(value)?.trim().is_empty());
        }
        if let Some(pair) = when.get("equals") {
            let pair =
                pair.as_array().filter(|pair| pair.len() == 2).ok_or_else(|| error("`equals` takes two texts"))?;
            return Ok(resolve(&pair[0])? == resolve(&pair[1])?);
        }
        let rows = when.get("rows").map(|target| (target, true));
        if let Some((target, shown_with_rows)) = rows.or_else(|| when.get("no_rows").map(|target| (target, false))) {
            let target = target.as_str().ok_or_else(|| error("`rows` and `no_rows` name a data block"))?;
            let referenced = siblings
                .iter()
                .chain(&self.binding.document.blocks)
                .find(|candidate| candidate.id == target)
                .ok_or_else(|| error(&format!("`rows` names `{target}`, which is not a block of this document")))?;
            let fields = Fields { block: referenced, pointer, variables: &scope.variables };
            let request = match self.request_of(&fields, scope)? {
                Some(request) => request,
                None => return Err(error(&format!("`{target}` is not a data block"))),
            };
            return Ok(match self.answer(request, block, pointer) {
                Some(table) => table.rows.is_empty() != shown_with_rows,
                None => false,
            });
        }
        Err(error("expected `not_empty`, `equals`, `rows` or `no_rows`"))
    }

    /// A data block's answer, or `None` while it is pending. `missing` says what a block
    /// without a source lacks (tasks, timelines and company cards always have one).
    pub(super) fn data(
        &mut self,
        fields: &Fields,
        scope: &Scope,
        missing: &str,
    ) -> Result<Option<DataTable>, DocumentError> {
        let request = self.request_of(fields, scope)?.ok_or_else(|| fields.error("metric", missing))?;
        Ok(self.answer(request, fields.block, fields.pointer).cloned())
    }

    pub(super) fn request_of(&self, fields: &Fields, scope: &Scope) -> Result<Option<DataRequest>, DocumentError> {
        Ok(Some(match fields.block.block_type.as_str() {
            "kpi" | "progress" if fields.block.data.get("metric").is_some() => {
                fields.metric_request(scope, Some("total".into()), Some(fields.list("by")?.unwrap_or_default()))?
            }
            "data_table" | "chart" | "repeat" if fields.block.data.get("query").is_some() => {
                let (sql, parameters) = fields.sql("query")?;
                DataRequest::Query { sql, parameters }
            }
            "data_table" | "chart" | "repeat" if fields.block.data.get("metric").is_some() => {
                fields.metric_request(scope, fields.raw_text("grain")?, fields.list("by")?)?
            }
            "tasks" => DataRequest::Tasks {
                sites: fields.sites(scope)?,
                project: fields.raw_text("project")?,
                status: fields.list("status")?.unwrap_or_default(),
            },
            "timeline" => DataRequest::Timeline { sites: fields.sites(scope)?, project: fields.raw_text("project")? },
            "company" => DataRequest::Company { name: fields.required("company")? },
            "map" => map::request(fields, scope)?,
            "planning" => planning::request(fields, scope)?,
            "forecast" => powertrace::forecast_request(fields, scope)?,
            "scenario" => powertrace::scenario_request(fields, scope)?,
            _ => return Ok(None),
        }))
    }

    pub(super) fn block(
        &mut self,
        block: &Block,
        pointer: &str,
        scope: &Scope,
        suffix: &str,
    ) -> Result<(), DocumentError> {
        let fields = Fields { block, pointer, variables: &scope.variables };
        let id = format!("{}{suffix}", block.id);
        let locale = self.binding.locale;
        let kind = block.block_type.as_str();
        // The shape first, by the kind's typed definition: the meaning is checked below.
        crate::blocks::check(block, pointer)?;
        let node = match kind {
            "paragraph" => Node::Paragraph { id, text: fields.inline("text")? },
            "header" => {
                let level = block.data.get("level").and_then(|level| level.as_u64()).unwrap_or(2);
                if !(1..=6).contains(&level) {
                    return Err(fields.error("level", "a header level is 1 to 6"));
                }
                Node::Header { id, level: level as u8, text: fields.inline("text")? }
            }
            "list" | "checklist" => {
                let Some(node) = self.list(&fields, id)? else { return Ok(()) };
                node
            }
            "quote" => {
                Node::Quote { id, text: fields.inline("text")?, caption: inline::plain(&fields.inline("caption")?) }
            }
            "code" => Node::Code { id, code: fields.text("code")? },
            "callout" | "warning" => Node::Callout {
                id,
                tone: fields.tone("tone", if kind == "warning" { Tone::Warning } else { Tone::Info })?,
                title: inline::plain(&fields.inline("title")?),
                text: match block.data.get("message") {
                    Some(_) => fields.inline("message")?,
                    None => fields.inline("text")?,
                },
            },
            "table" => {
                let Some(node) = self.table(&fields, id)? else { return Ok(()) };
                node
            }
            "image" => {
                let Some(node) = self.image(&fields, id)? else { return Ok(()) };
                node
            }
            "delimiter" => Node::Delimiter { id },
            "page_break" => Node::PageBreak { id },
            "typst" => Node::Typst { id, source: fields.required("source")? },
            "badges" => {
                let Some(node) = self.badges(&fields, id, scope)? else { return Ok(()) };
                node
            }
            "progress" => {
                let Some(node) = self.progress(&fields, id, scope)? else { return Ok(()) };
                node
            }
            "kpi" => {
                let Some(node) = self.kpi(&fields, id, scope)? else { return Ok(()) };
                node
            }
            "data_table" => {
                let Some(table) = self.data(&fields, scope, "a data table needs a metric or a query")? else {
                    return Ok(());
                };
                self.data_table(&fields, id, &table)?
            }
            "chart" => {
                chart_kind(&fields)?;
                let Some(table) = self.data(&fields, scope, "a chart needs a metric or a query")? else {
                    return Ok(());
                };
                Node::Chart { id, chart: chart_of(&fields, &table, locale)? }
            }
            "planning" => {
                let view = planning::view(&fields)?;
                let Some(table) = self.data(&fields, scope, "")? else { return Ok(()) };
                match view {
                    planning::View::Gantt => planning::gantt(&fields, id, &table, locale)?,
                    planning::View::Table => self.data_table(&fields, id, &table)?,
                }
            }
            "map" => {
                let Some(table) = self.data(&fields, scope, "a map needs a metric")? else { return Ok(()) };
                let wanted = fields.sites(scope)?;
                map::node(&fields, id, &table, &self.binding.sites, &wanted)?
            }
            "forecast" => {
                let Some(table) = self.data(&fields, scope, "")? else { return Ok(()) };
                match powertrace::forecast_view(&fields)? {
                    powertrace::ForecastView::Table => self.data_table(&fields, id, &table)?,
                    view => powertrace::forecast_node(&fields, id, &table, view, locale)?,
                }
            }
            "scenario" => {
                let Some(table) = self.data(&fields, scope, "")? else { return Ok(()) };
                self.data_table(&fields, id, &table)?
            }
            "tasks" => {
                let Some(node) = self.tasks(&fields, id, scope)? else { return Ok(()) };
                node
            }
            "company" => {
                let Some(node) = self.company(&fields, id, scope)? else { return Ok(()) };
                node
            }
            "timeline" => {
                let Some(table) = self.data(&fields, scope, "")? else { return Ok(()) };
                let title = fields.text("title")?;
                Node::Timeline { id, chart: timeline_chart(&table, &title), title }
            }
            "repeat" => return self.repeat(&fields, scope, suffix),
            _ => unreachable!("block types are checked above"),
        };
        self.nodes.push(node);
        Ok(())
    }

    pub(super) fn data_table(&self, fields: &Fields, id: String, table: &DataTable) -> Result<Node, DocumentError> {
        let locale = self.binding.locale;
        let chosen: Vec<usize> = match fields.list("columns")? {
            None => (0..table.columns.len()).collect(),
            Some(names) => names
                .iter()
                .enumerate()
                .map(|(position, name)| {
                    table.column(name).ok_or_else(|| {
                        let known: Vec<&str> = table.columns.iter().map(|column| column.name.as_str()).collect();
                        fields.error(
                            &format!("columns/{position}"),
                            format!("no column `{name}` in the data (it has: {})", known.join(", ")),
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let currency = &self.binding.currency;
        let mut columns: Vec<DataColumn> = chosen
            .iter()
            .map(|index| {
                let column = &table.columns[*index];
                // Dimensions and dates carry their name; measures carry the catalog's label,
                // or their name when they have none.
                let named = !column.format.is_numeric() || column.label == column.name;
                let header = named.then(|| crate::labels::column(locale, &column.name)).flatten();
                DataColumn { label: header.map_or_else(|| column.label.clone(), str::to_owned), ..column.clone() }
            })
            .collect();
        // An author may relabel columns and give formats (a query's numbers are decimals).
        for (member, relabel) in [("labels", true), ("formats", false)] {
            let Some(map) = fields.block.data.get(member) else { continue };
            let map = map.as_object().ok_or_else(|| fields.error(member, "must map column names to text"))?;
            for (name, value) in map {
                let at = format!("{member}/{name}");
                let column = columns
                    .iter_mut()
                    .find(|column| &column.name == name)
                    .ok_or_else(|| fields.error(&at, format!("no column `{name}` among the table's columns")))?;
                let text = value.as_str().ok_or_else(|| fields.error(&at, "must be text"))?;
                if relabel {
                    column.label = substitute(text, fields.variables).map_err(|message| fields.error(&at, message))?;
                } else {
                    // The names are the format's own serde names, as in the block definitions.
                    column.format = serde_json::from_value(value.clone()).map_err(|_| {
                        fields.error(
                            &at,
                            format!("unknown format `{text}` (text, date, integer, decimal, percent, ratio, currency)"),
                        )
                    })?;
                }
            }
        }
        let rows: Vec<Vec<Cell>> = table
            .rows
            .iter()
            .map(|row| {
                chosen
                    .iter()
                    .zip(&columns)
                    .map(|(index, column)| {
                        let text = crate::figures::cell(&row[*index], column.format, locale, currency);
                        Cell { value: row[*index].clone(), text }
                    })
                    .collect()
            })
            .collect();
        let totals = if fields.boolean("totals")? {
            Some(
                columns
                    .iter()
                    .enumerate()
                    .map(|(position, column)| {
                        if position == 0 {
                            Cell {
                                value: Value::Text(locale.word(Word::Total).into()),
                                text: locale.word(Word::Total).into(),
                            }
                        } else if column.format.is_additive() {
                            let sum: f64 = rows.iter().filter_map(|row| row[position].value.as_number()).sum();
                            Cell {
                                value: Value::Number(sum),
                                text: Value::Number(sum).format(column.format, locale, currency),
                            }
                        } else {
                            Cell { value: Value::Null, text: String::new() }
                        }
                    })
                    .collect(),
            )
        } else {
            None
        };
        Ok(Node::DataTable { id, title: fields.text("title")?, columns, rows, totals })
    }

    /// A section repeated per site in scope (`"over": "sites"`) or per row of a query or
    /// metric; inside it, `{row.<column>}` names the row's values and a `site` column
    /// narrows the section's data blocks to that site.
    pub(super) fn repeat(&mut self, fields: &Fields, scope: &Scope, suffix: &str) -> Result<(), DocumentError> {
        let block = fields.block;
        if scope.depth >= MAX_REPEAT_DEPTH {
            return Err(fields.error("blocks", format!("repeated sections nest at most {MAX_REPEAT_DEPTH} deep")));
        }
        let inner: Vec<Block> = match block.data.get("blocks") {
            Some(blocks) => serde_json::from_value(blocks.clone())
                .map_err(|error| fields.error("blocks", format!("the repeated blocks are not blocks: {error}")))?,
            None => return Err(fields.error("blocks", "a repeated section needs its blocks")),
        };
        let mut rows: Vec<BTreeMap<String, String>> = Vec::new();
        let mut row_sites: Vec<Option<String>> = Vec::new();
        if fields.raw_text("over")?.as_deref() == Some("sites") {
            for site in &self.binding.sites {
                if scope.sites.is_empty() || scope.sites.contains(&site.code) {
                    rows.push(BTreeMap::from([
                        ("row.code".to_owned(), site.code.clone()),
                        ("row.name".to_owned(), site.name.clone()),
                        ("site.code".to_owned(), site.code.clone()),
                        ("site.name".to_owned(), site.name.clone()),
                    ]));
                    row_sites.push(Some(site.code.clone()));
                }
            }
        } else {
            let request = self
                .request_of(fields, scope)?
                .ok_or_else(|| fields.error("over", "a repeated section runs `over: sites`, a metric or a query"))?;
            let Some(table) = self.answer(request, block, fields.pointer).cloned() else { return Ok(()) };
            let currency = &self.binding.currency;
            for row in &table.rows {
                let mut variables = BTreeMap::new();
                for (column, value) in table.columns.iter().zip(row) {
                    variables.insert(
                        format!("row.{}", column.name),
                        value.format(column.format, self.binding.locale, currency),
                    );
                }
                let site = table.column("site").and_then(|index| match &row[index] {
                    Value::Text(code) => Some(code.clone()),
                    _ => None,
                });
                if let Some(code) = &site {
                    variables.insert("site.code".into(), code.clone());
                    let name =
                        self.binding.sites.iter().find(|known| &known.code == code).map(|known| known.name.clone());
                    variables.insert("site.name".into(), name.unwrap_or_else(|| code.clone()));
                }
                rows.push(variables);
                row_sites.push(site);
            }
        }
        for (index, (variables, site)) in rows.into_iter().zip(row_sites).enumerate() {
            let mut inner_scope = scope.clone();
            inner_scope.depth += 1;
            inner_scope.variables.extend(variables);
            if let Some(site) = site {
                inner_scope.sites = vec![site];
            }
            let pointer = format!("{}/data/blocks", fields.pointer);
            self.blocks(&inner, &pointer, &inner_scope, &format!("{suffix}-{}", index + 1))?;
            if self.nodes.len() > MAX_NODES {
                return Err(fields.error(
                    "blocks",
                    format!("the document would hold more than {MAX_NODES} blocks once repeated; narrow the rows"),
                ));
            }
        }
        Ok(())
    }
}

pub(super) fn previous_label(locale: Locale) -> &'static str {
    match locale {
        Locale::FrFr => "période précédente",
        Locale::EnGb | Locale::EnUs => "previous period",
    }
}

pub(super) fn list_items(
    fields: &Fields,
    items: &serde_json::Value,
    member: &str,
) -> Result<Vec<ListItem>, DocumentError> {
    let list = items.as_array().ok_or_else(|| fields.error(member, "must be a list"))?;
    let mut out = Vec::new();
    for (index, item) in list.iter().enumerate() {
        let at = format!("{member}/{index}");
        out.push(match item {
            serde_json::Value::String(text) => {
                ListItem { text: fields.inline_at(text, &at)?, checked: None, items: Vec::new() }
            }
            serde_json::Value::Object(object) => {
                let text =
                    object.get("content").or_else(|| object.get("text")).and_then(|text| text.as_str()).unwrap_or("");
                let checked = object
                    .get("checked")
                    .or_else(|| object.get("meta").and_then(|meta| meta.get("checked")))
                    .and_then(|checked| checked.as_bool());
                let items = match object.get("items") {
                    Some(nested) => list_items(fields, nested, &format!("{at}/items"))?,
                    None => Vec::new(),
                };
                ListItem { text: fields.inline_at(text, &format!("{at}/content"))?, checked, items }
            }
            _ => return Err(fields.error(&at, "a list item is text or {\"content\", \"items\"}")),
        });
    }
    Ok(out)
}
