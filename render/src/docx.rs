//! The DOCX writer (docx-rs): Word's own heading styles (so Word's table of contents
//! works), real tables, charts and images as PNG, a page header and a "page X of Y"
//! footer. Dates in the package are the document's binding day, so bytes repeat.

use docx_rs::{
    AbstractNumbering, AlignmentType, BreakType, Docx, Footer, Header, Hyperlink, HyperlinkType, IndentLevel, Level,
    LevelJc, LevelOverride, LevelText, NumPages, NumberFormat, Numbering, NumberingId, PageMargin, PageNum,
    PageOrientationType, Paragraph, Pic, Run, RunFonts, Shading, SpecialIndentType, Start, Style, StyleType, Table,
    TableCell, TableOfContents, TableRow, WidthType,
};

use crate::bind::{BoundDocument, Cell, DataColumn, ListItem, ListStyle, Node, Tone};
use crate::inline::Span;
use crate::{DocumentError, Renderer, Word, raster};

const TWIPS_PER_MM: f64 = 56.692_913;
const EMU_PER_MM: f64 = 36_000.0;
const EMU_PER_PIXEL: f64 = 9_525.0;
const BULLETS: usize = 1;
const DECIMAL: usize = 2;

struct Writer<'a> {
    document: &'a BoundDocument,
    renderer: &'a Renderer,
    docx: Docx,
    /// Numbering instances: 1 for bullets, then one per ordered list (so each restarts).
    numberings: usize,
    content_width_mm: f64,
}

thread_local! {
    /// Relationship ids of pictures and links, numbered per document.
    static RELATIONSHIPS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn next_relationship() -> usize {
    RELATIONSHIPS.with(|next| {
        next.set(next.get() + 1);
        next.get()
    })
}

/// docx-rs numbers paragraphs per thread and pictures and links per process; each
/// document is built on a thread of its own with its own relationship ids, so the same
/// document gives the same bytes whatever was rendered before.
pub(crate) fn docx(document: &BoundDocument, renderer: &Renderer) -> Result<Vec<u8>, DocumentError> {
    std::thread::scope(|scope| {
        scope.spawn(|| build(document, renderer)).join().unwrap_or_else(|_| {
            Err(DocumentError::Writer { format: "DOCX", message: "the writer stopped unexpectedly".into() })
        })
    })
}

fn build(document: &BoundDocument, renderer: &Renderer) -> Result<Vec<u8>, DocumentError> {
    docx_rs::reset_bookmark_id();
    let locale = document.locale;
    let (width, height) = document.page.dimensions();
    let [top, right, bottom, left] = document.page.margins_mm;
    let twips = |mm: f64| (mm * TWIPS_PER_MM).round() as i32;
    let date = format!("{}T00:00:00Z", document.today);
    let mut docx = Docx::new()
        .created_at(&date)
        .updated_at(&date)
        .page_size(twips(width) as u32, twips(height) as u32)
        .page_margin(PageMargin {
            top: twips(top),
            left: twips(left),
            bottom: twips(bottom),
            right: twips(right),
            header: twips(top / 2.0),
            footer: twips(bottom / 2.0),
            gutter: 0,
        })
        .default_fonts(RunFonts::new().ascii("Inter").hi_ansi("Inter").cs("Inter"))
        .default_size(20)
        .add_abstract_numbering(list_levels(BULLETS, "bullet", |_| "•".to_owned()))
        .add_abstract_numbering(list_levels(DECIMAL, "decimal", |level| format!("%{}.", level + 1)))
        .add_numbering(Numbering::new(1, BULLETS));
    if document.page.landscape {
        docx = docx.page_orient(PageOrientationType::Landscape);
    }
    let sizes = [32, 26, 23, 21, 20, 20];
    for (index, size) in sizes.iter().enumerate() {
        docx = docx.add_style(
            Style::new(format!("Heading{}", index + 1), StyleType::Paragraph)
                .name(format!("heading {}", index + 1))
                .based_on("Normal")
                .next("Normal")
                .outline_lvl(index)
                .bold()
                .size(*size)
                .color("184A7E"),
        );
    }
    docx = docx.add_style(Style::new("Title", StyleType::Paragraph).name("Title").size(52).bold().color("184A7E"));
    let header_text = if document.subtitle.is_empty() {
        document.header.clone()
    } else {
        format!("{} — {}", document.header, document.subtitle)
    };
    let mut header = Paragraph::new().size(16).color("5B6B7C");
    if let Some(logo) = &document.logo {
        let (png, width, height) = raster::as_png(logo)?;
        let height_mm = 7.0;
        let width_mm = height_mm * f64::from(width) / f64::from(height.max(1));
        header = header.add_run(
            Run::new()
                .add_image(
                    Pic::new_with_dimensions(png, width, height)
                        .id(format!("rIdImage{}", next_relationship()))
                        .size((width_mm * EMU_PER_MM) as u32, (height_mm * EMU_PER_MM) as u32),
                )
                .add_text("  "),
        );
    }
    header = header.add_run(Run::new().add_text(header_text).size(16).color("5B6B7C"));
    docx = docx.header(Header::new().add_paragraph(header));
    let footer = Paragraph::new()
        .add_run(
            Run::new()
                .add_text(format!("{}    {} ", document.footer, locale.word(Word::Page)))
                .size(16)
                .color("5B6B7C"),
        )
        .add_page_num(PageNum::new())
        .add_run(Run::new().add_text(format!(" {} ", locale.word(Word::Of))).size(16).color("5B6B7C"))
        .add_num_pages(NumPages::new())
        .align(AlignmentType::Right);
    docx = docx.footer(Footer::new().add_paragraph(footer));
    let mut writer = Writer { document, renderer, docx, numberings: 1, content_width_mm: width - left - right };
    writer.front_matter();
    for node in &document.nodes {
        writer.node(node)?;
    }
    let mut bytes = std::io::Cursor::new(Vec::new());
    writer
        .docx
        .build()
        .pack(&mut bytes)
        .map_err(|error| DocumentError::Writer { format: "DOCX", message: error.to_string() })?;
    Ok(bytes.into_inner())
}

fn list_levels(id: usize, format: &str, text: impl Fn(usize) -> String) -> AbstractNumbering {
    let mut numbering = AbstractNumbering::new(id);
    for level in 0..4 {
        numbering = numbering.add_level(
            Level::new(
                level,
                Start::new(1),
                NumberFormat::new(format),
                LevelText::new(text(level)),
                LevelJc::new("left"),
            )
            .indent(Some(360 * (level as i32 + 1)), Some(SpecialIndentType::Hanging(280)), None, None),
        );
    }
    numbering
}

fn run(span: &Span) -> Run {
    let mut run = Run::new().add_text(span.text.replace('\n', " "));
    if span.bold {
        run = run.bold();
    }
    if span.italic {
        run = run.italic();
    }
    if span.underline || span.link.is_some() {
        run = run.underline("single");
    }
    if span.code {
        run = run.fonts(RunFonts::new().ascii("DejaVu Sans Mono").hi_ansi("DejaVu Sans Mono"));
    }
    if span.link.is_some() {
        run = run.color("1F5FA8");
    }
    run
}

fn paragraph(spans: &[Span]) -> Paragraph {
    let mut paragraph = Paragraph::new();
    for span in spans {
        paragraph = match &span.link {
            Some(link) => {
                let mut hyperlink = Hyperlink::new(link, HyperlinkType::External).add_run(run(span));
                if let docx_rs::HyperlinkData::External { rid, .. } = &mut hyperlink.link {
                    *rid = format!("rIdHyperlink{}", next_relationship());
                }
                paragraph.add_hyperlink(hyperlink)
            }
            None => paragraph.add_run(run(span)),
        };
    }
    paragraph
}

fn text(value: &str) -> Paragraph {
    Paragraph::new().add_run(Run::new().add_text(value))
}

fn cell(paragraph: Paragraph, fill: Option<&str>) -> TableCell {
    let cell = TableCell::new().add_paragraph(paragraph);
    match fill {
        Some(fill) => cell.shading(Shading::new().fill(fill)),
        None => cell,
    }
}

impl Writer<'_> {
    fn add(&mut self, paragraph: Paragraph) {
        self.docx = std::mem::take(&mut self.docx).add_paragraph(paragraph);
    }

    fn add_table(&mut self, table: Table) {
        self.docx = std::mem::take(&mut self.docx).add_table(table);
        self.add(Paragraph::new());
    }

    fn front_matter(&mut self) {
        let document = self.document;
        let locale = document.locale;
        if document.cover {
            self.add(Paragraph::new().style("Title").add_run(Run::new().add_text(&document.title)));
            if !document.subtitle.is_empty() {
                self.add(Paragraph::new().add_run(Run::new().add_text(&document.subtitle).size(28)));
            }
            let mut rows: Vec<TableRow> = document
                .parameters
                .iter()
                .map(|(label, value)| TableRow::new(vec![cell(text(label), None), cell(text(value), None)]))
                .collect();
            rows.push(TableRow::new(vec![
                cell(text(locale.word(Word::IssuedOn)), None),
                cell(text(&locale.format_date_long(document.today)), None),
            ]));
            self.add_table(Table::new(rows));
            self.add(
                Paragraph::new().add_run(
                    Run::new()
                        .add_text(format!("{} : {}", locale.word(Word::DataVersion), document.warehouse_line()))
                        .size(14)
                        .color("5B6B7C"),
                ),
            );
            self.add(Paragraph::new().add_run(Run::new().add_break(BreakType::Page)));
        }
        if document.toc {
            self.add(Paragraph::new().style("Heading1").add_run(Run::new().add_text(locale.word(Word::Contents))));
            self.docx =
                std::mem::take(&mut self.docx).add_table_of_contents(TableOfContents::new().heading_styles_range(1, 3));
            self.add(Paragraph::new().add_run(Run::new().add_break(BreakType::Page)));
        }
    }

    fn list(&mut self, style: ListStyle, items: &[ListItem], level: usize, numbering: usize) {
        for item in items {
            let mut paragraph = paragraph(&item.text);
            if style == ListStyle::Checklist {
                let mark = if item.checked == Some(true) { "☑ " } else { "☐ " };
                paragraph = Paragraph::new().add_run(Run::new().add_text(mark)).indent(
                    Some(360 * (level as i32 + 1)),
                    None,
                    None,
                    None,
                );
                for span in &item.text {
                    paragraph = paragraph.add_run(run(span));
                }
            } else {
                paragraph = paragraph.numbering(NumberingId::new(numbering), IndentLevel::new(level.min(3)));
            }
            self.add(paragraph);
            self.list(style, &item.items, level + 1, numbering);
        }
    }

    fn picture(&mut self, png: Vec<u8>, width: u32, height: u32, share_of_width: f64) {
        let width_mm = (f64::from(width) * EMU_PER_PIXEL / EMU_PER_MM).min(self.content_width_mm * share_of_width);
        let height_mm = width_mm * f64::from(height) / f64::from(width.max(1));
        let picture = Pic::new_with_dimensions(png, width, height)
            .id(format!("rIdImage{}", next_relationship()))
            .size((width_mm * EMU_PER_MM) as u32, (height_mm * EMU_PER_MM) as u32);
        self.add(Paragraph::new().align(AlignmentType::Center).add_run(Run::new().add_image(picture)));
    }

    fn caption(&mut self, caption: &str) {
        if !caption.is_empty() {
            self.add(
                Paragraph::new()
                    .align(AlignmentType::Center)
                    .add_run(Run::new().add_text(caption).italic().size(18).color("5B6B7C")),
            );
        }
    }

    fn data_rows(&mut self, title: &str, columns: &[DataColumn], rows: &[Vec<Cell>], totals: Option<&Vec<Cell>>) {
        let locale = self.document.locale;
        if !title.is_empty() {
            self.add(Paragraph::new().add_run(Run::new().add_text(title).bold()));
        }
        let align =
            |column: &DataColumn| if column.format.is_numeric() { AlignmentType::Right } else { AlignmentType::Left };
        let mut table_rows = vec![TableRow::new(
            columns
                .iter()
                .map(|column| {
                    cell(
                        Paragraph::new().align(align(column)).add_run(Run::new().add_text(&column.label).bold()),
                        Some("EEF2F6"),
                    )
                })
                .collect(),
        )];
        if rows.is_empty() {
            table_rows.push(TableRow::new(vec![
                TableCell::new()
                    .grid_span(columns.len().max(1))
                    .add_paragraph(Paragraph::new().add_run(Run::new().add_text(locale.word(Word::NoData)).italic())),
            ]));
        }
        for (row, is_total) in rows.iter().map(|row| (row, false)).chain(totals.map(|totals| (totals, true))) {
            table_rows.push(TableRow::new(
                row.iter()
                    .zip(columns)
                    .map(|(value, column)| {
                        let mut text_run = Run::new().add_text(&value.text);
                        if is_total {
                            text_run = text_run.bold();
                        }
                        cell(Paragraph::new().align(align(column)).add_run(text_run), None)
                    })
                    .collect(),
            ));
        }
        let width = (self.content_width_mm * TWIPS_PER_MM) as usize;
        self.add_table(Table::new(table_rows).width(width, WidthType::Dxa));
    }

    fn node(&mut self, node: &Node) -> Result<(), DocumentError> {
        let locale = self.document.locale;
        match node {
            Node::Header { level, text: spans, .. } => {
                let mut heading = Paragraph::new().style(&format!("Heading{level}"));
                for span in spans {
                    heading = heading.add_run(run(span));
                }
                self.add(heading);
            }
            Node::Paragraph { text: spans, .. } => self.add(paragraph(spans)),
            Node::List { style, items, .. } => {
                let numbering = match style {
                    ListStyle::Ordered => {
                        self.numberings += 1;
                        self.docx = std::mem::take(&mut self.docx).add_numbering(
                            Numbering::new(self.numberings, DECIMAL).add_override(LevelOverride::new(0).start(1)),
                        );
                        self.numberings
                    }
                    _ => 1,
                };
                self.list(*style, items, 0, numbering);
            }
            Node::Quote { text: spans, caption, .. } => {
                let mut quote = Paragraph::new().indent(Some(720), None, Some(720), None);
                for span in spans {
                    quote = quote.add_run(run(span).italic());
                }
                self.add(quote);
                if !caption.is_empty() {
                    self.add(
                        Paragraph::new()
                            .indent(Some(720), None, None, None)
                            .add_run(Run::new().add_text(format!("— {caption}"))),
                    );
                }
            }
            Node::Code { code, .. } => {
                for line in code.lines() {
                    self.add(
                        Paragraph::new().add_run(
                            Run::new()
                                .add_text(line)
                                .fonts(RunFonts::new().ascii("DejaVu Sans Mono").hi_ansi("DejaVu Sans Mono"))
                                .size(17),
                        ),
                    );
                }
            }
            Node::Callout { tone, title, text: spans, .. } => {
                let (background, foreground) = tone.colours();
                let mut content = Paragraph::new();
                if !title.is_empty() {
                    content =
                        content.add_run(Run::new().add_text(format!("{title} — ")).bold().color(&foreground[1..]));
                }
                for span in spans {
                    content = content.add_run(run(span).color(&foreground[1..]));
                }
                self.add_table(Table::new(vec![TableRow::new(vec![cell(content, Some(&background[1..]))])]));
            }
            Node::Table { heading, rows, .. } => {
                let columns = rows.iter().map(Vec::len).max().unwrap_or(1).max(1);
                let table_rows = rows
                    .iter()
                    .enumerate()
                    .map(|(index, row)| {
                        TableRow::new(
                            (0..columns)
                                .map(|column| {
                                    let spans = row.get(column).cloned().unwrap_or_default();
                                    let mut content = paragraph(&spans);
                                    if index == 0 && *heading {
                                        content = Paragraph::new();
                                        for span in &spans {
                                            content = content.add_run(run(span).bold());
                                        }
                                        return cell(content, Some("EEF2F6"));
                                    }
                                    cell(content, None)
                                })
                                .collect(),
                        )
                    })
                    .collect();
                self.add_table(Table::new(table_rows));
            }
            Node::Image { image, caption, .. } => {
                let (png, width, height) = raster::as_png(image)?;
                self.picture(png, width, height, 0.8);
                self.caption(caption);
            }
            Node::Delimiter { .. } => {
                self.add(Paragraph::new().align(AlignmentType::Center).add_run(Run::new().add_text("*   *   *")))
            }
            Node::PageBreak { .. } => self.add(Paragraph::new().add_run(Run::new().add_break(BreakType::Page))),
            Node::Typst { id, source } => {
                let svg = self.renderer.snippet_svg(id, source, self.document.today)?;
                let (png, width, height) = raster::svg_to_png(&svg, 2.0)?;
                self.picture(png, width / 2, height / 2, 1.0);
            }
            Node::Kpi { label, value, unit, comparison, .. } => {
                let mut content = Paragraph::new()
                    .add_run(Run::new().add_text(label).size(16).color("5B6B7C"))
                    .add_run(Run::new().add_break(BreakType::TextWrapping))
                    .add_run(Run::new().add_text(value).bold().size(36))
                    .add_run(Run::new().add_text(format!(" {unit}")).size(18));
                if let Some((comparison, _)) = comparison {
                    content = content
                        .add_run(Run::new().add_break(BreakType::TextWrapping))
                        .add_run(Run::new().add_text(comparison).size(16).color("5B6B7C"));
                }
                self.add_table(Table::new(vec![TableRow::new(vec![cell(content, Some("F7F9FB"))])]));
            }
            Node::DataTable { title, columns, rows, totals, .. } => {
                self.data_rows(title, columns, rows, totals.as_ref())
            }
            Node::Chart { chart, .. } | Node::Timeline { chart, .. } => {
                let (png, width, height) = raster::svg_to_png(&chart.to_svg(locale), 2.0)?;
                self.picture(png, width / 2, height / 2, 1.0);
                self.caption(&chart.title);
            }
            Node::Tasks { title, tasks, .. } => {
                let labels = locale.task_headers();
                let columns: Vec<DataColumn> = labels
                    .iter()
                    .enumerate()
                    .map(|(index, label)| DataColumn {
                        name: label.to_string(),
                        label: label.to_string(),
                        format: if index == 4 { crate::ValueFormat::Percent } else { crate::ValueFormat::Text },
                    })
                    .collect();
                let rows: Vec<Vec<Cell>> = tasks
                    .iter()
                    .map(|task| {
                        [&task.project, &task.name, &task.status, &task.due, &locale.format_percent(task.percent, 0)]
                            .iter()
                            .map(|value| Cell { value: crate::Value::Text(value.to_string()), text: value.to_string() })
                            .collect()
                    })
                    .collect();
                self.data_rows(title, &columns, &rows, None);
            }
            Node::Company { name, details, contacts, .. } => {
                let mut content = Paragraph::new()
                    .add_run(Run::new().add_text(name).bold().size(24))
                    .add_run(Run::new().add_break(BreakType::TextWrapping))
                    .add_run(Run::new().add_text(details).color("5B6B7C"));
                for contact in contacts {
                    let parts: Vec<&str> = [&contact.job_title, &contact.email, &contact.phone]
                        .into_iter()
                        .filter(|part| !part.is_empty())
                        .map(String::as_str)
                        .collect();
                    content = content
                        .add_run(Run::new().add_break(BreakType::TextWrapping))
                        .add_run(Run::new().add_text(&contact.name).bold())
                        .add_run(Run::new().add_text(format!(" — {}", parts.join(" · "))));
                }
                self.add_table(Table::new(vec![TableRow::new(vec![cell(content, None)])]));
            }
            Node::Badges { badges, .. } => {
                let mut content = Paragraph::new();
                for (label, tone) in badges {
                    content = content.add_run(badge(label, *tone)).add_run(Run::new().add_text("  "));
                }
                self.add(content);
            }
            Node::Progress { label, share, text: value, .. } => {
                let filled = (share * 20.0).round() as usize;
                self.add(
                    Paragraph::new()
                        .add_run(Run::new().add_text(format!("{label}  ")))
                        .add_run(Run::new().add_text("█".repeat(filled)).color("1F77B4"))
                        .add_run(Run::new().add_text("█".repeat(20 - filled.min(20))).color("E3E8EE"))
                        .add_run(Run::new().add_text(format!("  {value}")).bold()),
                );
            }
        }
        Ok(())
    }
}

fn badge(label: &str, tone: Tone) -> Run {
    let (background, foreground) = tone.colours();
    Run::new()
        .add_text(format!(" {label} "))
        .size(16)
        .color(&foreground[1..])
        .shading(Shading::new().fill(&background[1..]))
}
