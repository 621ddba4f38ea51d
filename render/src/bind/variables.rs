//! `{variables}` in authors' text: substituted into text (values escaped where the text
//! is markup), or turned into bound parameters of a read-only query.

use super::*;

/// Replaces `{name.path}` variables; `{{` writes a brace. An unknown variable is an
/// error naming it and the variables known at that place.
pub(super) fn substitute(text: &str, variables: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        if let Some(after) = rest.strip_prefix("{{") {
            out.push('{');
            rest = after;
            continue;
        }
        match variable_name(rest) {
            Some(name) => {
                let value = variables.get(name).ok_or_else(|| unknown_variable(name, variables))?;
                out.push_str(value);
                rest = &rest[name.len() + 2..];
            }
            None => {
                out.push('{');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Turns the variables of an author's SQL into bound parameters: `'{site.code}'`
/// becomes `CAST($1 AS VARCHAR)`, `DATE '{period.from}'` becomes `CAST($2 AS DATE)`, a
/// variable inside a longer literal (`'%{site.code}%'`) is concatenated into it, and a
/// bare one becomes a text parameter. Values never enter the SQL text.
pub(crate) fn placeholders(text: &str, variables: &BTreeMap<String, String>) -> Result<(String, Vec<String>), String> {
    let mut out = String::with_capacity(text.len());
    let mut values: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        if let Some(after) = rest.strip_prefix("{{") {
            out.push('{');
            rest = after;
            continue;
        }
        let Some(name) = variable_name(rest) else {
            out.push('{');
            rest = &rest[1..];
            continue;
        };
        let value = variables.get(name).ok_or_else(|| unknown_variable(name, variables))?;
        let index = match values.iter().position(|known| known == value) {
            Some(index) => index + 1,
            None => {
                values.push(value.clone());
                values.len()
            }
        };
        rest = &rest[name.len() + 2..];
        let in_literal = out.matches('\'').count() % 2 == 1;
        let closes_literal = rest.starts_with('\'');
        let trimmed = out.trim_end_matches('\'');
        let is_date = in_literal
            && closes_literal
            && out.ends_with('\'')
            && trimmed.trim_end().to_ascii_uppercase().ends_with("DATE");
        if is_date {
            let keep = trimmed.trim_end().len() - "DATE".len();
            out.truncate(keep);
            out.push_str(&format!("CAST(${index} AS DATE)"));
            rest = &rest[1..];
        } else if in_literal && closes_literal && out.ends_with('\'') {
            out.pop();
            out.push_str(&format!("CAST(${index} AS VARCHAR)"));
            rest = &rest[1..];
        } else if in_literal {
            out.push_str(&format!("' || CAST(${index} AS VARCHAR) || '"));
        } else {
            out.push_str(&format!("CAST(${index} AS VARCHAR)"));
        }
    }
    out.push_str(rest);
    Ok((out, values))
}

/// The variable name at the start of `text` (`{site.code}` → `site.code`), if any.
pub(super) fn variable_name(text: &str) -> Option<&str> {
    let name = text[1..].find('}').map(|end| &text[1..1 + end])?;
    let valid = !name.is_empty()
        && name.chars().all(|character| character.is_ascii_alphanumeric() || matches!(character, '.' | '_'))
        && name.contains('.');
    valid.then_some(name)
}

pub(super) fn unknown_variable(name: &str, variables: &BTreeMap<String, String>) -> String {
    let known: Vec<&str> = variables.keys().map(String::as_str).collect();
    format!("unknown variable `{{{name}}}` (known here: {})", known.join(", "))
}

/// HTML-escapes variable values, so that a site named `A&B` stays text in inline markup.
pub(super) fn escaped(variables: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    variables
        .iter()
        .map(|(name, value)| (name.clone(), value.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")))
        .collect()
}
