//! The HTML preview: one standalone page (styles inline, charts as inline SVG, images as
//! data: URLs) that shows the document as the PDF lays it out, without pages.

use std::fmt::Write as _;

use base64::Engine as _;

use crate::bind::{BoundDocument, ListItem, ListStyle, Node, Tone};
use crate::inline::{self, Span};
use crate::{DocumentError, Renderer, Word};

const STYLE: &str = "body{font-family:Inter,system-ui,sans-serif;font-size:15px;color:#1d2733;max-width:900px;margin:2rem auto;padding:0 1rem;line-height:1.5}\
h1,h2,h3,h4,h5,h6{color:#184a7e}header.report{border-bottom:1px solid #c9d1d9;margin-bottom:1.5rem}\
header.report .subtitle{color:#5b6b7c}dl.parameters{display:grid;grid-template-columns:auto 1fr;gap:.2rem 1rem;font-size:.9em}\
dl.parameters dt{color:#5b6b7c}table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #c9d1d9;padding:.3rem .5rem;text-align:left}\
th{background:#eef2f6}td.number,th.number{text-align:right;font-variant-numeric:tabular-nums}tr.totals td{font-weight:600}\
.kpi{display:inline-block;width:30%;margin:0 1% 1rem 0;padding:.6rem;border:1px solid #c9d1d9;border-radius:6px;vertical-align:top}\
.kpi .label{font-size:.8em;color:#5b6b7c}.kpi .value{font-size:1.6em;font-weight:700}.kpi .comparison{font-size:.8em;color:#5b6b7c}\
.callout{padding:.6rem .8rem;border-left:4px solid;border-radius:3px;margin:.8rem 0}.badge{display:inline-block;padding:.1rem .4rem;border-radius:4px;font-size:.8em;margin-right:.3rem}\
.progress{height:8px;background:#e3e8ee;border-radius:4px}.progress>div{height:8px;background:#1f77b4;border-radius:4px}\
figure{margin:1rem 0}figure svg{max-width:100%;height:auto}figcaption{font-size:.85em;color:#5b6b7c}pre{background:#f5f5f5;padding:.6rem;overflow:auto}\
.card{border:1px solid #c9d1d9;border-radius:6px;padding:.8rem;margin:.8rem 0}.card .details{color:#5b6b7c}\
footer.report{margin-top:2rem;border-top:1px solid #c9d1d9;font-size:.8em;color:#5b6b7c}.no-data{font-style:italic;color:#5b6b7c}\
ul.checklist{list-style:none;padding-left:1rem}nav.toc{margin:1rem 0}hr.delimiter{width:30%;border:0;border-top:1px solid #c9d1d9;margin:1.5rem auto}\
.page-break{border-top:1px dashed #c9d1d9;margin:2rem 0}";

pub(crate) fn html(document: &BoundDocument, renderer: &Renderer) -> Result<Vec<u8>, DocumentError> {
    let locale = document.locale;
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body>\n",
        &locale.to_string()[..2],
        escape(&document.title)
    );
    out.push_str("<header class=\"report\">");
    if let Some(logo) = &document.logo {
        let _ = write!(
            out,
            "<img class=\"logo\" alt=\"\" height=\"40\" src=\"{}\">",
            data_url(logo.format.media_type(), &logo.bytes)
        );
    }
    let _ = write!(out, "<h1 class=\"title\">{}</h1>", escape(&document.title));
    if !document.subtitle.is_empty() {
        let _ = write!(out, "<p class=\"subtitle\">{}</p>", escape(&document.subtitle));
    }
    out.push_str("<dl class=\"parameters\">");
    for (label, value) in &document.parameters {
        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", escape(label), escape(value));
    }
    out.push_str("</dl></header>\n");
    if document.toc {
        let _ = write!(out, "<nav class=\"toc\"><h2>{}</h2><ul>", escape(locale.word(Word::Contents)));
        for node in &document.nodes {
            if let Node::Header { id, level, text } = node
                && *level <= 3
            {
                let _ = write!(
                    out,
                    "<li class=\"level-{level}\"><a href=\"#{}\">{}</a></li>",
                    escape(id),
                    escape(&inline::plain(text))
                );
            }
        }
        out.push_str("</ul></nav>\n");
    }
    for node in &document.nodes {
        node_html(&mut out, node, document, renderer)?;
        out.push('\n');
    }
    let _ = write!(
        out,
        "<footer class=\"report\"><p>{}</p><p>{} : {}</p></footer>\n</body></html>\n",
        escape(&document.footer),
        escape(locale.word(Word::DataVersion)),
        escape(&document.warehouse_line())
    );
    Ok(out.into_bytes())
}

fn node_html(
    out: &mut String,
    node: &Node,
    document: &BoundDocument,
    renderer: &Renderer,
) -> Result<(), DocumentError> {
    let locale = document.locale;
    match node {
        Node::Header { id, level, text } => {
            let _ = write!(out, "<h{level} id=\"{}\">{}</h{level}>", escape(id), spans(text));
        }
        Node::Paragraph { text, .. } => {
            let _ = write!(out, "<p>{}</p>", spans(text));
        }
        Node::List { style, items, .. } => list(out, *style, items),
        Node::Quote { text, caption, .. } => {
            let _ = write!(out, "<blockquote><p>{}</p>", spans(text));
            if !caption.is_empty() {
                let _ = write!(out, "<footer>— {}</footer>", escape(caption));
            }
            out.push_str("</blockquote>");
        }
        Node::Code { code, .. } => {
            let _ = write!(out, "<pre><code>{}</code></pre>", escape(code));
        }
        Node::Callout { tone, title, text, .. } => {
            let (background, foreground) = tone.colours();
            let _ = write!(
                out,
                "<div class=\"callout\" style=\"background:{background};color:{foreground};border-color:{foreground}\">"
            );
            if !title.is_empty() {
                let _ = write!(out, "<strong>{}</strong><br>", escape(title));
            }
            let _ = write!(out, "{}</div>", spans(text));
        }
        Node::Table { heading, rows, .. } => {
            out.push_str("<table>");
            for (index, row) in rows.iter().enumerate() {
                let cell = if index == 0 && *heading { "th" } else { "td" };
                out.push_str("<tr>");
                for content in row {
                    let _ = write!(out, "<{cell}>{}</{cell}>", spans(content));
                }
                out.push_str("</tr>");
            }
            out.push_str("</table>");
        }
        Node::Image { image, caption, .. } => {
            let _ = write!(
                out,
                "<figure><img alt=\"{}\" style=\"max-width:80%\" src=\"{}\">",
                escape(caption),
                data_url(image.format.media_type(), &image.bytes)
            );
            if !caption.is_empty() {
                let _ = write!(out, "<figcaption>{}</figcaption>", escape(caption));
            }
            out.push_str("</figure>");
        }
        Node::Delimiter { .. } => out.push_str("<hr class=\"delimiter\">"),
        Node::PageBreak { .. } => out.push_str("<div class=\"page-break\"></div>"),
        Node::Typst { id, source } => {
            let svg = renderer.snippet_svg(id, source, document.today)?;
            let _ = write!(out, "<figure class=\"typst\" data-block=\"{}\">{svg}</figure>", escape(id));
        }
        Node::Kpi { id, label, value, unit, comparison } => {
            let _ = write!(
                out,
                "<div class=\"kpi\" data-block=\"{}\"><div class=\"label\">{}</div><div class=\"value\">{} <small>{}</small></div>",
                escape(id),
                escape(label),
                escape(value),
                escape(unit)
            );
            if let Some((text, _)) = comparison {
                let _ = write!(out, "<div class=\"comparison\">{}</div>", escape(text));
            }
            out.push_str("</div>");
        }
        Node::DataTable { id, title, columns, rows, totals } => {
            if !title.is_empty() {
                let _ = write!(out, "<h4>{}</h4>", escape(title));
            }
            let _ = write!(out, "<table class=\"data\" data-block=\"{}\"><thead><tr>", escape(id));
            for column in columns {
                let class = if column.format.is_numeric() { " class=\"number\"" } else { "" };
                let _ = write!(out, "<th{class}>{}</th>", escape(&column.label));
            }
            out.push_str("</tr></thead><tbody>");
            if rows.is_empty() {
                let _ = write!(
                    out,
                    "<tr><td colspan=\"{}\" class=\"no-data\">{}</td></tr>",
                    columns.len(),
                    escape(locale.word(Word::NoData))
                );
            }
            let body = rows.iter().map(|row| (row, "")).chain(totals.iter().map(|row| (row, " class=\"totals\"")));
            for (row, class) in body {
                let _ = write!(out, "<tr{class}>");
                for (cell, column) in row.iter().zip(columns) {
                    let class = if column.format.is_numeric() { " class=\"number\"" } else { "" };
                    let _ = write!(out, "<td{class}>{}</td>", escape(&cell.text));
                }
                out.push_str("</tr>");
            }
            out.push_str("</tbody></table>");
        }
        Node::Chart { id, chart } | Node::Timeline { id, chart, .. } => {
            let _ = write!(out, "<figure data-block=\"{}\">{}", escape(id), chart.to_svg(locale));
            if !chart.title.is_empty() {
                let _ = write!(out, "<figcaption>{}</figcaption>", escape(&chart.title));
            }
            out.push_str("</figure>");
        }
        Node::Tasks { id, title, tasks } => {
            if !title.is_empty() {
                let _ = write!(out, "<h4>{}</h4>", escape(title));
            }
            let _ = write!(out, "<table class=\"tasks\" data-block=\"{}\"><tbody>", escape(id));
            if tasks.is_empty() {
                let _ = write!(out, "<tr><td class=\"no-data\">{}</td></tr>", escape(locale.word(Word::NoData)));
            }
            for task in tasks {
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"number\">{}</td></tr>",
                    escape(&task.project),
                    escape(&task.name),
                    badge(&task.status, task.tone),
                    escape(&task.due),
                    escape(&locale.format_percent(task.percent, 0))
                );
            }
            out.push_str("</tbody></table>");
        }
        Node::Company { name, details, contacts, .. } => {
            let _ = write!(
                out,
                "<div class=\"card\"><strong>{}</strong><div class=\"details\">{}</div><ul>",
                escape(name),
                escape(details)
            );
            for contact in contacts {
                let _ = write!(
                    out,
                    "<li><strong>{}</strong> — {} <a href=\"mailto:{}\">{}</a> {}</li>",
                    escape(&contact.name),
                    escape(&contact.job_title),
                    escape(&contact.email),
                    escape(&contact.email),
                    escape(&contact.phone)
                );
            }
            out.push_str("</ul></div>");
        }
        Node::Badges { badges, .. } => {
            out.push_str("<p>");
            for (label, tone) in badges {
                out.push_str(&badge(label, *tone));
            }
            out.push_str("</p>");
        }
        Node::Progress { label, share, text, .. } => {
            let _ = write!(
                out,
                "<div class=\"progress-block\"><span>{}</span> <strong>{}</strong><div class=\"progress\"><div style=\"width:{:.1}%\"></div></div></div>",
                escape(label),
                escape(text),
                share * 100.0
            );
        }
    }
    Ok(())
}

fn badge(label: &str, tone: Tone) -> String {
    let (background, foreground) = tone.colours();
    format!("<span class=\"badge\" style=\"background:{background};color:{foreground}\">{}</span>", escape(label))
}

fn list(out: &mut String, style: ListStyle, items: &[ListItem]) {
    let (open, close) = match style {
        ListStyle::Ordered => ("<ol>", "</ol>"),
        ListStyle::Unordered => ("<ul>", "</ul>"),
        ListStyle::Checklist => ("<ul class=\"checklist\">", "</ul>"),
    };
    out.push_str(open);
    for item in items {
        out.push_str("<li>");
        if style == ListStyle::Checklist {
            out.push_str(if item.checked == Some(true) { "☑ " } else { "☐ " });
        }
        out.push_str(&spans(&item.text));
        if !item.items.is_empty() {
            list(out, style, &item.items);
        }
        out.push_str("</li>");
    }
    out.push_str(close);
}

fn spans(spans: &[Span]) -> String {
    let mut out = String::new();
    for span in spans {
        let mut content = escape(&span.text).replace('\n', "<br>");
        if span.code {
            content = format!("<code>{content}</code>");
        }
        if span.bold {
            content = format!("<strong>{content}</strong>");
        }
        if span.italic {
            content = format!("<em>{content}</em>");
        }
        if span.underline {
            content = format!("<u>{content}</u>");
        }
        if let Some(link) = &span.link {
            content = format!("<a href=\"{}\">{content}</a>", escape(link));
        }
        out.push_str(&content);
    }
    out
}

fn data_url(media_type: &str, bytes: &[u8]) -> String {
    format!("data:{media_type};base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
