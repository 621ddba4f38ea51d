//! The PDF writer: a bound document becomes Typst markup compiled by Typst used as a
//! library, over an in-memory world (the generated source, each author's snippet as its
//! own file, charts as SVG, images) with embedded fonts and no system font lookup.
//! Typst memoizes its work with `comemo`, so a second render of a similar document in the
//! same process reuses most of the first.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

use chrono::Datelike;
use typst::diag::{FileError, FileResult, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime, Duration};
use typst::syntax::{DiagSpanKind, FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};
use typst_layout::PagedDocument;

use crate::bind::{BoundDocument, ListItem, ListStyle, Node, Tone};
use crate::chart::ChartKind;
use crate::inline::Span;
use crate::{DocumentError, Word};

/// The report font (Inter, SIL OFL), shipped in `templates/fonts`.
const INTER: [&[u8]; 4] = [
    include_bytes!("../../templates/fonts/Inter-Regular.otf"),
    include_bytes!("../../templates/fonts/Inter-Bold.otf"),
    include_bytes!("../../templates/fonts/Inter-Italic.otf"),
    include_bytes!("../../templates/fonts/Inter-BoldItalic.otf"),
];

/// One face of an embedded font file, parsed when Typst first asks for it.
struct FontSlot {
    data: &'static [u8],
    index: u32,
    font: OnceLock<Option<Font>>,
}

/// Fonts and the standard library, loaded once and shared by every render.
pub struct Renderer {
    library: LazyHash<Library>,
    book: LazyHash<FontBook>,
    /// Fonts are parsed on first use: most documents need a few of the embedded faces.
    fonts: Vec<FontSlot>,
    /// The last source of each path, so a render of a similar document reparses only
    /// what changed and Typst's memoized results stay valid.
    sources: std::sync::Mutex<HashMap<String, Source>>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Renderer").field("fonts", &self.fonts.len()).finish_non_exhaustive()
    }
}

impl Default for Renderer {
    fn default() -> Self {
        Self::new()
    }
}

impl Renderer {
    pub fn new() -> Self {
        let mut infos = Vec::new();
        let mut fonts = Vec::new();
        for data in Self::font_data() {
            for (index, info) in typst::text::FontInfo::iter(data).enumerate() {
                infos.push(info);
                fonts.push(FontSlot { data, index: index as u32, font: OnceLock::new() });
            }
        }
        Self {
            library: LazyHash::new(Library::default()),
            book: LazyHash::new(FontBook::from_infos(infos)),
            fonts,
            sources: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The renderer of this process, loaded on first use.
    pub fn shared() -> &'static Renderer {
        static SHARED: OnceLock<Renderer> = OnceLock::new();
        SHARED.get_or_init(Renderer::new)
    }

    /// The Typst project a document compiles from: the main source and every file it
    /// reads (charts, images, snippets), so the same source can be compiled by another
    /// Typst (the benchmark compares with the `typst` command line and Python package).
    pub fn typst_project(document: &BoundDocument) -> (String, Vec<(String, Vec<u8>)>) {
        let markup = Markup::of(document);
        let mut files: Vec<(String, Vec<u8>)> = markup.files.into_iter().collect();
        for (index, (_, source)) in markup.snippets.into_iter().enumerate() {
            files.push((format!("/snippets/{index}.typ"), source.into_bytes()));
        }
        files.sort();
        (markup.main, files)
    }

    /// Raw font files the renderer embeds (Inter, then Typst's own).
    pub fn font_data() -> impl Iterator<Item = &'static [u8]> {
        INTER.iter().copied().chain(typst_assets::fonts())
    }

    /// The document as PDF bytes.
    pub fn pdf(&self, document: &BoundDocument) -> Result<Vec<u8>, DocumentError> {
        let markup = Markup::of(document);
        let paged = self.compile(&markup, document.today)?;
        let date = document.today;
        let datetime = Datetime::from_ymd_hms(date.year(), date.month() as u8, date.day() as u8, 0, 0, 0);
        let options = typst_pdf::PdfOptions {
            ident: typst::foundations::Smart::Custom(format!("opsflux-{}", document.title)),
            timestamp: datetime.map(typst_pdf::Timestamp::new_utc),
            ..typst_pdf::PdfOptions::default()
        };
        let bytes = typst_pdf::pdf(&paged, &options)
            .map_err(|errors| DocumentError::Typst { block: None, message: describe(&errors) })?;
        // Entries unused for a few renders are dropped, so memory stays bounded.
        comemo::evict(10);
        Ok(bytes)
    }

    /// A snippet of Typst markup on its own, as an SVG page cropped to its content
    /// (for the HTML and DOCX writers).
    pub(crate) fn snippet_svg(
        &self,
        id: &str,
        source: &str,
        today: chrono::NaiveDate,
    ) -> Result<String, DocumentError> {
        let markup = Markup {
            main: "#set page(width: 160mm, height: auto, margin: 4mm)\n#set text(font: \"Inter\", size: 10pt)\n#include \"/snippets/0.typ\"\n".into(),
            files: HashMap::new(),
            snippets: vec![(id.to_owned(), source.to_owned())],
            ranges: Vec::new(),
        };
        let paged = self.compile(&markup, today)?;
        let page = paged.pages().first().ok_or_else(|| DocumentError::Typst {
            block: Some(id.to_owned()),
            message: "the snippet produced no page".into(),
        })?;
        Ok(typst_svg::svg(page, &typst_svg::SvgOptions::default()))
    }

    fn compile(&self, markup: &Markup, today: chrono::NaiveDate) -> Result<PagedDocument, DocumentError> {
        let world = MemoryWorld::new(self, markup, today);
        let warned = typst::compile::<PagedDocument>(&world);
        warned.output.map_err(|errors| {
            let (block, position) = match errors.first().and_then(|error| markup.block_of(&world, error)) {
                Some((block, position)) => (Some(block), position),
                None => (None, None),
            };
            let message = describe(&errors);
            let message = match position {
                Some((line, column)) => format!("line {line}, column {column}: {message}"),
                None => message,
            };
            DocumentError::Typst { block, message }
        })
    }
}

fn describe(errors: &[SourceDiagnostic]) -> String {
    errors
        .iter()
        .take(3)
        .map(|error| {
            let mut text = error.message.to_string();
            for hint in &error.hints {
                let _ = write!(text, " (hint: {})", hint.v);
            }
            text
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The id of one of the paths this module makes (`/main.typ`, `/snippets/N.typ`,
/// `/files/N.ext`): plain segments only, which `VirtualPath` always accepts.
fn file_id(path: &str) -> FileId {
    let path = VirtualPath::new(path).expect("generated paths are plain segments");
    RootedPath::new(VirtualRoot::Project, path).intern()
}

struct MemoryWorld<'a> {
    renderer: &'a Renderer,
    main: FileId,
    sources: HashMap<FileId, Source>,
    files: HashMap<FileId, Bytes>,
    today: chrono::NaiveDate,
}

impl<'a> MemoryWorld<'a> {
    fn new(renderer: &'a Renderer, markup: &Markup, today: chrono::NaiveDate) -> Self {
        let main = file_id("/main.typ");
        let mut texts = vec![("/main.typ".to_owned(), markup.main.as_str())];
        for (index, (_, text)) in markup.snippets.iter().enumerate() {
            texts.push((format!("/snippets/{index}.typ"), text.as_str()));
        }
        let mut cache = renderer.sources.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut sources = HashMap::new();
        for (path, text) in texts {
            let id = file_id(&path);
            let source = match cache.get_mut(&path) {
                Some(source) => {
                    if source.text() != text {
                        source.replace(text);
                    }
                    source.clone()
                }
                None => {
                    let source = Source::new(id, text.to_owned());
                    cache.insert(path, source.clone());
                    source
                }
            };
            sources.insert(id, source);
        }
        drop(cache);
        let files = markup.files.iter().map(|(path, bytes)| (file_id(path), Bytes::new(bytes.clone()))).collect();
        Self { renderer, main, sources, files, today }
    }
}

impl World for MemoryWorld<'_> {
    fn library(&self) -> &LazyHash<Library> {
        &self.renderer.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &self.renderer.book
    }

    fn main(&self) -> FileId {
        self.main
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        self.sources.get(&id).cloned().ok_or_else(|| FileError::NotFound(id.get().vpath().get_with_slash().into()))
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        match self.files.get(&id) {
            Some(bytes) => Ok(bytes.clone()),
            None => match self.sources.get(&id) {
                Some(source) => Ok(Bytes::from_string(source.text().to_owned())),
                None => Err(FileError::NotFound(id.get().vpath().get_with_slash().into())),
            },
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        let slot = self.renderer.fonts.get(index)?;
        slot.font.get_or_init(|| Font::new(Bytes::new(slot.data), slot.index)).clone()
    }

    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        Datetime::from_ymd(self.today.year(), self.today.month() as u8, self.today.day() as u8)
    }
}

/// Generated Typst: the main source, files it reads, authors' snippets and which bytes
/// of the main source each block produced (to name the block of an error).
struct Markup {
    main: String,
    files: HashMap<String, Vec<u8>>,
    snippets: Vec<(String, String)>,
    ranges: Vec<(std::ops::Range<usize>, String)>,
}

impl Markup {
    /// The block an error comes from, and for an author's snippet the line and column
    /// in it.
    fn block_of(&self, world: &MemoryWorld, error: &SourceDiagnostic) -> Option<(String, Option<(usize, usize)>)> {
        let (id, offset) = match error.span.get() {
            DiagSpanKind::Detached => return None,
            DiagSpanKind::Number { id, .. } => (id, typst::WorldExt::range(world, error.span)?.start),
            DiagSpanKind::Range { id, range } => (id, range.start),
        };
        for (index, (block, source)) in self.snippets.iter().enumerate() {
            if id == file_id(&format!("/snippets/{index}.typ")) {
                let before = source.get(..offset).unwrap_or(source);
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().unwrap_or_default().chars().count() + 1;
                return Some((block.clone(), Some((line, column))));
            }
        }
        self.ranges.iter().find(|(range, _)| range.contains(&offset)).map(|(_, block)| (block.clone(), None))
    }

    /// Adds a file the source reads; its path is numbered, never taken from a block id,
    /// so any id an author writes is safe.
    fn add_file(&mut self, extension: &str, bytes: Vec<u8>) -> String {
        let path = format!("/files/{}.{extension}", self.files.len());
        self.files.insert(path.clone(), bytes);
        path
    }

    fn of(document: &BoundDocument) -> Self {
        let mut markup =
            Markup { main: String::new(), files: HashMap::new(), snippets: Vec::new(), ranges: Vec::new() };
        markup.preamble(document);
        for node in &document.nodes {
            let start = markup.main.len();
            markup.node(node, document);
            markup.main.push('\n');
            markup.ranges.push((start..markup.main.len(), node.id().to_owned()));
        }
        markup
    }

    fn preamble(&mut self, document: &BoundDocument) {
        let locale = document.locale;
        let (language, region) = match locale {
            crate::Locale::FrFr => ("fr", "FR"),
            crate::Locale::EnGb => ("en", "GB"),
            crate::Locale::EnUs => ("en", "US"),
        };
        let [top, right, bottom, left] = document.page.margins_mm;
        let paper = match document.page.size {
            crate::bind::PaperSize::A4 => "a4",
            crate::bind::PaperSize::Letter => "us-letter",
        };
        let date = document.today;
        let main = &mut self.main;
        let _ = writeln!(
            main,
            "#set document(title: {}, date: datetime(year: {}, month: {}, day: {}))",
            string(&document.title),
            date.year(),
            date.month(),
            date.day()
        );
        let _ = writeln!(
            main,
            "#set text(font: (\"Inter\", \"DejaVu Sans Mono\"), size: 10pt, lang: \"{language}\", region: \"{region}\")"
        );
        let _ = writeln!(main, "#set par(justify: false, leading: 0.6em)");
        let _ = writeln!(main, "#show heading: set text(fill: rgb(\"#184a7e\"))");
        let _ = writeln!(main, "#show heading.where(level: 1): set text(size: 16pt)");
        let _ = writeln!(main, "#show heading.where(level: 2): set text(size: 13pt)");
        let _ = writeln!(main, "#show link: set text(fill: rgb(\"#1f5fa8\"))");
        let _ = writeln!(main, "#set table(stroke: 0.5pt + rgb(\"#c9d1d9\"), inset: 5pt)");
        let logo_path =
            document.logo.as_ref().map(|image| self.add_file(image.format.extension(), image.bytes.clone()));
        let logo = logo_path.as_ref().map(|path| format!("#box(image({}, height: 7mm)) #h(6pt) ", string(path)));
        let main = &mut self.main;
        let page_of = format!(
            "{} #counter(page).display() {} #counter(page).final().first()",
            locale.word(Word::Page),
            locale.word(Word::Of)
        );
        let _ = writeln!(
            main,
            "#set page(paper: \"{paper}\", flipped: {}, margin: (top: {top}mm, right: {right}mm, bottom: {bottom}mm, left: {left}mm),\n  header: context {{ if counter(page).get().first() > 0 [#set text(size: 8pt, fill: rgb(\"#5b6b7c\")); {}{} #h(1fr) {} #line(length: 100%, stroke: 0.4pt + rgb(\"#c9d1d9\"))] }},\n  footer: context {{ if counter(page).get().first() > 0 [#set text(size: 8pt, fill: rgb(\"#5b6b7c\")); {} #h(1fr) {page_of}] }})",
            document.page.landscape,
            logo.unwrap_or_default(),
            text(&document.header),
            text(&document.subtitle),
            text(&document.footer),
        );
        if document.cover {
            let _ = writeln!(main, "#page(header: none, footer: none)[");
            if let Some(path) = &logo_path {
                let _ = writeln!(main, "#image({}, height: 18mm)", string(path));
            }
            let _ = writeln!(
                main,
                "#v(30%)\n#text(size: 26pt, weight: \"bold\", fill: rgb(\"#184a7e\"))[{}]\n",
                text(&document.title)
            );
            if !document.subtitle.is_empty() {
                let _ = writeln!(main, "#text(size: 14pt)[{}]\n", text(&document.subtitle));
            }
            let _ = writeln!(main, "#v(1fr)\n#table(columns: (auto, 1fr), stroke: none,");
            for (label, value) in &document.parameters {
                let _ = writeln!(main, "  [{}], [{}],", text(label), text(value));
            }
            let _ = writeln!(
                main,
                "  [{}], [{}],",
                text(locale.word(Word::IssuedOn)),
                text(&locale.format_date_long(document.today))
            );
            let _ = writeln!(
                main,
                ")\n#text(size: 7pt, fill: rgb(\"#5b6b7c\"))[{}: {}]\n]",
                text(locale.word(Word::DataVersion)),
                text(&document.warehouse_line())
            );
            let _ = writeln!(main, "#counter(page).update(1)");
        }
        if document.toc {
            let _ = writeln!(main, "#outline(title: [{}], depth: 3)\n#pagebreak()", text(locale.word(Word::Contents)));
        }
    }

    fn node(&mut self, node: &Node, document: &BoundDocument) {
        let locale = document.locale;
        match node {
            Node::Header { level, text: spans, .. } => {
                let _ = write!(self.main, "#heading(level: {level})[{}]", inline(spans));
            }
            Node::Paragraph { text: spans, .. } => {
                let _ = write!(self.main, "#par[{}]", inline(spans));
            }
            Node::List { style, items, .. } => {
                let list = list(*style, items);
                self.main.push_str(&list);
            }
            Node::Quote { text: spans, caption, .. } => {
                let attribution = if caption.is_empty() { "none".to_owned() } else { format!("[{}]", text(caption)) };
                let _ = write!(self.main, "#quote(block: true, attribution: {attribution})[{}]", inline(spans));
            }
            Node::Code { code, .. } => {
                let _ = write!(
                    self.main,
                    "#block(fill: luma(245), inset: 6pt, radius: 3pt, width: 100%, raw(block: true, {}))",
                    string(code)
                );
            }
            Node::Callout { tone, title, text: spans, .. } => {
                let (background, foreground) = tone.colours();
                let heading = if title.is_empty() { String::new() } else { format!("#strong[{}] \\ ", text(title)) };
                let _ = write!(
                    self.main,
                    "#block(fill: rgb(\"{background}\"), stroke: (left: 3pt + rgb(\"{foreground}\")), inset: 8pt, radius: 2pt, width: 100%)[#set text(fill: rgb(\"{foreground}\")); {heading}{}]",
                    inline(spans)
                );
            }
            Node::Table { heading, rows, .. } => {
                let columns = rows.iter().map(Vec::len).max().unwrap_or(1).max(1);
                let _ = write!(self.main, "#table(columns: {columns},");
                for (index, row) in rows.iter().enumerate() {
                    let cells: Vec<String> = (0..columns)
                        .map(|column| {
                            let content = row.get(column).map(|spans| inline(spans)).unwrap_or_default();
                            if index == 0 && *heading { format!("[*{content}*]") } else { format!("[{content}]") }
                        })
                        .collect();
                    if index == 0 && *heading {
                        let _ = write!(self.main, " table.header({}),", cells.join(", "));
                    } else {
                        let _ = write!(self.main, " {},", cells.join(", "));
                    }
                }
                self.main.push(')');
            }
            Node::Image { image, caption, .. } => {
                let path = self.add_file(image.format.extension(), image.bytes.clone());
                let caption = if caption.is_empty() { "none".to_owned() } else { format!("[{}]", text(caption)) };
                let _ = write!(self.main, "#figure(image({}, width: 80%), caption: {caption})", string(&path));
            }
            Node::Delimiter { .. } => {
                self.main.push_str("#align(center, line(length: 30%, stroke: 0.6pt + rgb(\"#c9d1d9\")))");
            }
            Node::PageBreak { .. } => self.main.push_str("#pagebreak(weak: true)"),
            Node::Typst { id, source } => {
                let index = self.snippets.len();
                self.snippets.push((id.clone(), source.clone()));
                let _ = write!(self.main, "#include \"/snippets/{index}.typ\"");
            }
            Node::Kpi { label, value, unit, comparison, .. } => {
                let comparison = comparison
                    .as_ref()
                    .map(|(text_value, _)| {
                        format!(" \\ #text(size: 8pt, fill: rgb(\"#5b6b7c\"))[{}]", text(text_value))
                    })
                    .unwrap_or_default();
                let _ = write!(
                    self.main,
                    "#box(width: 31%, inset: 8pt, radius: 4pt, stroke: 0.6pt + rgb(\"#c9d1d9\"))[#text(size: 8pt, fill: rgb(\"#5b6b7c\"))[{}] \\ #text(size: 18pt, weight: \"bold\")[{}] #text(size: 9pt)[{}]{comparison}] #h(1.5%)",
                    text(label),
                    text(value),
                    text(unit)
                );
            }
            Node::DataTable { title, columns, rows, totals, .. } => {
                if !title.is_empty() {
                    let _ = writeln!(self.main, "#block(above: 10pt, below: 4pt)[#strong[{}]]", text(title));
                }
                if columns.is_empty() {
                    let _ = write!(self.main, "#emph[{}]", text(locale.word(Word::NoData)));
                    return;
                }
                let widths: Vec<&str> =
                    columns.iter().map(|column| if column.format.is_numeric() { "auto" } else { "1fr" }).collect();
                let aligns: Vec<&str> =
                    columns.iter().map(|column| if column.format.is_numeric() { "right" } else { "left" }).collect();
                let _ = write!(
                    self.main,
                    "#table(columns: ({},), align: ({},), fill: (_, row) => if row == 0 {{ rgb(\"#eef2f6\") }}, table.header({}),",
                    widths.join(", "),
                    aligns.join(", "),
                    columns.iter().map(|column| format!("[*{}*]", text(&column.label))).collect::<Vec<_>>().join(", ")
                );
                if rows.is_empty() {
                    let _ = write!(
                        self.main,
                        " table.cell(colspan: {})[#emph[{}]],",
                        columns.len().max(1),
                        text(locale.word(Word::NoData))
                    );
                }
                for row in rows {
                    for cell in row {
                        let _ = write!(self.main, " [{}],", text(&cell.text));
                    }
                }
                if let Some(totals) = totals {
                    for cell in totals {
                        let _ = write!(self.main, " [*{}*],", text(&cell.text));
                    }
                }
                self.main.push(')');
            }
            Node::Chart { chart, .. } | Node::Timeline { chart, .. } => {
                let path = self.add_file("svg", chart.to_svg(locale).into_bytes());
                let width = if matches!(chart.kind, ChartKind::Kpi) { "40%" } else { "100%" };
                let caption =
                    if chart.title.is_empty() { "none".to_owned() } else { format!("[{}]", text(&chart.title)) };
                let _ = write!(self.main, "#figure(image({}, width: {width}), caption: {caption})", string(&path));
            }
            Node::Tasks { title, tasks, .. } => {
                if !title.is_empty() {
                    let _ = writeln!(self.main, "#block(above: 10pt, below: 4pt)[#strong[{}]]", text(title));
                }
                let headers = locale.task_headers();
                let _ = write!(
                    self.main,
                    "#table(columns: (auto, 1fr, auto, auto, auto), align: (left, left, left, left, right), table.header({}),",
                    headers.iter().map(|header| format!("[*{header}*]")).collect::<Vec<_>>().join(", ")
                );
                if tasks.is_empty() {
                    let _ = write!(self.main, " table.cell(colspan: 5)[#emph[{}]],", text(locale.word(Word::NoData)));
                }
                for task in tasks {
                    let _ = write!(
                        self.main,
                        " [{}], [{}], [{}], [{}], [{}],",
                        text(&task.project),
                        text(&task.name),
                        badge(&task.status, task.tone),
                        text(&task.due),
                        text(&locale.format_percent(task.percent, 0))
                    );
                }
                self.main.push(')');
            }
            Node::Company { name, details, contacts, .. } => {
                let _ = write!(
                    self.main,
                    "#block(inset: 10pt, radius: 4pt, stroke: 0.6pt + rgb(\"#c9d1d9\"), width: 100%)[#text(size: 12pt, weight: \"bold\")[{}] \\ #text(fill: rgb(\"#5b6b7c\"))[{}]",
                    text(name),
                    text(details)
                );
                for contact in contacts {
                    let parts: Vec<String> = [&contact.job_title, &contact.email, &contact.phone]
                        .into_iter()
                        .filter(|part| !part.is_empty())
                        .map(|part| text(part))
                        .collect();
                    let _ = write!(self.main, " \\ #strong[{}] — {}", text(&contact.name), parts.join(" · "));
                }
                self.main.push(']');
            }
            Node::Badges { badges, .. } => {
                let items: Vec<String> = badges.iter().map(|(label, tone)| badge(label, *tone)).collect();
                let _ = write!(self.main, "#par[{}]", items.join(" #h(4pt) "));
            }
            Node::Progress { label, share, text: value, .. } => {
                let _ = write!(
                    self.main,
                    "#block(width: 100%)[{} #h(1fr) {} \\ #box(width: 100%, height: 7pt, fill: rgb(\"#e3e8ee\"), radius: 3pt)[#place(box(width: {:.1}%, height: 7pt, fill: rgb(\"#1f77b4\"), radius: 3pt))]]",
                    text(label),
                    text(value),
                    share * 100.0
                );
            }
        }
    }
}

fn badge(label: &str, tone: Tone) -> String {
    let (background, foreground) = tone.colours();
    format!(
        "#box(fill: rgb(\"{background}\"), inset: (x: 4pt, y: 2pt), radius: 3pt)[#text(size: 8pt, fill: rgb(\"{foreground}\"))[{}]]",
        text(label)
    )
}

fn list(style: ListStyle, items: &[ListItem]) -> String {
    let function = match style {
        ListStyle::Ordered => "enum",
        ListStyle::Unordered => "list",
        ListStyle::Checklist => "list.with(marker: none)",
    };
    let entries: Vec<String> = items
        .iter()
        .map(|item| {
            let mark = match (style, item.checked) {
                (ListStyle::Checklist, Some(true)) => {
                    "#box(width: 7pt, height: 7pt, stroke: 0.6pt, fill: rgb(\"#1f6b2a\")) "
                }
                (ListStyle::Checklist, _) => "#box(width: 7pt, height: 7pt, stroke: 0.6pt) ",
                _ => "",
            };
            let nested = if item.items.is_empty() { String::new() } else { list(style, &item.items) };
            format!("[{mark}{}{nested}]", inline(&item.text))
        })
        .collect();
    format!("#{function}({})", entries.join(", "))
}

/// Spans as Typst content: text always goes through string literals, so nothing an
/// author writes is read as markup.
fn inline(spans: &[Span]) -> String {
    let mut out = String::new();
    for span in spans {
        let mut content = text(&span.text);
        if span.code {
            content = format!("#raw({})", string(&span.text));
        }
        if span.bold {
            content = format!("#strong[{content}]");
        }
        if span.italic {
            content = format!("#emph[{content}]");
        }
        if span.underline {
            content = format!("#underline[{content}]");
        }
        if let Some(link) = &span.link {
            content = format!("#link({})[{content}]", string(link));
        }
        out.push_str(&content);
    }
    out
}

/// Plain text as Typst content, line breaks kept.
fn text(value: &str) -> String {
    value
        .split('\n')
        .map(|line| if line.is_empty() { String::new() } else { format!("#{}", string(line)) })
        .collect::<Vec<_>>()
        .join(" #linebreak() ")
}

/// A Typst string literal.
fn string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for character in value.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            '\t' => out.push_str("\\t"),
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_passed_as_string_literals() {
        assert_eq!(text("a \"b\" #c\nd\\"), "#\"a \\\"b\\\" #c\" #linebreak() #\"d\\\\\"");
        let spans = crate::inline::parse("<b>x</b> <a href=\"https://e.x\">y</a>").unwrap();
        assert_eq!(inline(&spans), "#strong[#\"x\"]#\" \"#link(\"https://e.x\")[#\"y\"]");
    }
}
