//! Inline text of Editor.js blocks — a small HTML subset (`<b>`, `<i>`, `<u>`, `<a>`,
//! `<code>`, `<mark>`, `<br>` and entities) — read into styled spans that every writer
//! can express.

/// A run of text with one style.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Span {
    pub text: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bold: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub italic: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub underline: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub code: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// Plain text of spans, for places that take no style (table of contents, sheet names).
pub fn plain(spans: &[Span]) -> String {
    spans.iter().map(|span| span.text.as_str()).collect()
}

/// Spans holding `text` with no style.
pub fn unstyled(text: impl Into<String>) -> Vec<Span> {
    vec![Span { text: text.into(), ..Span::default() }]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Bold,
    Italic,
    Underline,
    Code,
    Mark,
    Link,
    Plain,
}

/// Reads inline HTML; an unknown tag, an unclosed tag or a bad entity is an error that
/// quotes it.
pub fn parse(html: &str) -> Result<Vec<Span>, String> {
    let mut spans: Vec<Span> = Vec::new();
    let mut open: Vec<(Tag, Option<String>)> = Vec::new();
    let mut text = String::new();
    let mut rest = html;
    let flush = |text: &mut String, spans: &mut Vec<Span>, open: &[(Tag, Option<String>)]| {
        if text.is_empty() {
            return;
        }
        let mut span = Span { text: std::mem::take(text), ..Span::default() };
        for (tag, href) in open {
            match tag {
                Tag::Bold | Tag::Mark => span.bold = true,
                Tag::Italic => span.italic = true,
                Tag::Underline => span.underline = true,
                Tag::Code => span.code = true,
                Tag::Link => span.link = href.clone(),
                Tag::Plain => {}
            }
        }
        match spans.last_mut() {
            Some(last)
                if Span { text: String::new(), ..last.clone() } == Span { text: String::new(), ..span.clone() } =>
            {
                last.text.push_str(&span.text)
            }
            _ => spans.push(span),
        }
    };
    while let Some(position) = rest.find(['<', '&']) {
        text.push_str(&rest[..position]);
        rest = &rest[position..];
        if rest.starts_with('&') {
            let end = rest.find(';').filter(|end| *end <= 10).ok_or_else(|| {
                format!("`{}` is not an entity (write `&amp;` for `&`)", rest.chars().take(10).collect::<String>())
            })?;
            let entity = &rest[1..end];
            let character = match entity {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" | "#39" => '\'',
                "nbsp" => '\u{a0}',
                numeric if numeric.starts_with("#x") || numeric.starts_with("#X") => {
                    u32::from_str_radix(&numeric[2..], 16)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or(format!("bad entity `&{entity};`"))?
                }
                numeric if numeric.starts_with('#') => {
                    numeric[1..].parse().ok().and_then(char::from_u32).ok_or(format!("bad entity `&{entity};`"))?
                }
                _ => return Err(format!("unknown entity `&{entity};`")),
            };
            text.push(character);
            rest = &rest[end + 1..];
            continue;
        }
        let end =
            rest.find('>').ok_or_else(|| format!("unclosed tag `{}`", rest.chars().take(20).collect::<String>()))?;
        let inside = rest[1..end].trim();
        rest = &rest[end + 1..];
        let closing = inside.starts_with('/');
        let inside = inside.trim_start_matches('/').trim_end_matches('/').trim();
        let (name, attributes) = inside.split_once(char::is_whitespace).unwrap_or((inside, ""));
        let name = name.to_ascii_lowercase();
        if name == "br" {
            text.push('\n');
            continue;
        }
        let tag = match name.as_str() {
            "b" | "strong" => Tag::Bold,
            "i" | "em" => Tag::Italic,
            "u" => Tag::Underline,
            "code" => Tag::Code,
            "mark" => Tag::Mark,
            "a" => Tag::Link,
            "span" | "font" => Tag::Plain,
            other => return Err(format!("unknown inline tag `<{other}>` (allowed: b, i, u, a, code, mark, br)")),
        };
        flush(&mut text, &mut spans, &open);
        if closing {
            match open.pop() {
                Some((opened, _)) if opened == tag => {}
                _ => return Err(format!("`</{name}>` closes a tag that is not open")),
            }
        } else {
            let href = (tag == Tag::Link).then(|| attribute(attributes, "href")).flatten();
            if tag == Tag::Link && href.is_none() {
                return Err("a link `<a>` without `href`".to_owned());
            }
            open.push((tag, href));
        }
    }
    text.push_str(rest);
    if let Some((tag, _)) = open.last() {
        return Err(format!("a `{tag:?}` tag is not closed").to_lowercase());
    }
    flush(&mut text, &mut spans, &open);
    Ok(spans)
}

fn attribute(attributes: &str, name: &str) -> Option<String> {
    let start = attributes.find(&format!("{name}="))? + name.len() + 1;
    let value = &attributes[start..];
    let quote = value.chars().next().filter(|quote| *quote == '"' || *quote == '\'')?;
    let end = value[1..].find(quote)?;
    let raw = &value[1..1 + end];
    Some(raw.replace("&amp;", "&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles_links_and_entities_become_spans() {
        let spans =
            parse(r#"Semaine <b>47</b> &amp; <i>bilan <a href="https://ops.example/a?b=1&amp;c=2">ici</a></i><br>fin"#)
                .unwrap();
        let expected = vec![
            Span { text: "Semaine ".into(), ..Span::default() },
            Span { text: "47".into(), bold: true, ..Span::default() },
            Span { text: " & ".into(), ..Span::default() },
            Span { text: "bilan ".into(), italic: true, ..Span::default() },
            Span {
                text: "ici".into(),
                italic: true,
                link: Some("https://ops.example/a?b=1&c=2".into()),
                ..Span::default()
            },
            Span { text: "\nfin".into(), ..Span::default() },
        ];
        assert_eq!(spans, expected);
        assert_eq!(plain(&spans), "Semaine 47 & bilan ici\nfin");
    }

    #[test]
    fn bad_markup_is_quoted() {
        assert_eq!(
            parse("<script>x</script>").unwrap_err(),
            "unknown inline tag `<script>` (allowed: b, i, u, a, code, mark, br)"
        );
        assert_eq!(parse("<b>x").unwrap_err(), "a `bold` tag is not closed");
        assert_eq!(parse("x</i>").unwrap_err(), "`</i>` closes a tag that is not open");
        assert_eq!(parse("R&D").unwrap_err(), "`&D` is not an entity (write `&amp;` for `&`)");
    }
}
