//! Rédacteur documents: the block model (Editor.js output format) that templates and
//! documents are stored in, and the locales reports are formatted for.
//!
//! Architecture invariant: this crate does no I/O and runs no query. It takes a document
//! and already-bound data and returns bytes; the writers arrive with the Rédacteur work.

pub mod chart;

use std::fmt;
use std::str::FromStr;

/// Why a document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// The text is not a document in Editor.js form; line and column say where.
    #[error("invalid document at line {line}, column {column}: {message}")]
    Malformed { line: usize, column: usize, message: String },
    /// Two blocks share an id, so a later error could not say which one it means.
    #[error("duplicate block id `{0}`")]
    DuplicateBlockId(String),
    #[error("unknown locale `{0}`: expected fr-FR, en-GB or en-US")]
    UnknownLocale(String),
}

/// A block document as an Editor.js-style editor saves it:
/// `{"time": …, "blocks": [{"id", "type", "data", "tunes"}], "version": …}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Document {
    /// Milliseconds since the Unix epoch at which the editor saved the document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<i64>,
    pub blocks: Vec<Block>,
    /// Version of the editor that produced the document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// One block: its kind is `block_type`, its content `data`, its presentation `tunes`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Block {
    pub id: String,
    #[serde(rename = "type")]
    pub block_type: String,
    #[serde(default)]
    pub data: serde_json::Value,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub tunes: serde_json::Map<String, serde_json::Value>,
}

impl Document {
    /// Reads a document from its JSON text, refusing duplicate block ids.
    pub fn from_json(text: &str) -> Result<Self, DocumentError> {
        let document: Document = serde_json::from_str(text).map_err(|error| DocumentError::Malformed {
            line: error.line(),
            column: error.column(),
            message: error.to_string(),
        })?;
        let mut seen = std::collections::HashSet::new();
        for block in &document.blocks {
            if !seen.insert(block.id.as_str()) {
                return Err(DocumentError::DuplicateBlockId(block.id.clone()));
            }
        }
        Ok(document)
    }
}

/// The locales reports are formatted for; numbers and dates are formatted in Rust
/// before they reach a writer, since Typst has no locale-aware formatting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Locale {
    /// `1 234,56` and `21 novembre 2026`.
    #[default]
    FrFr,
    EnGb,
    EnUs,
}

impl Locale {
    /// A number with `decimals` digits after the separator, grouped by thousands:
    /// `1 234,56` (fr-FR, narrow no-break spaces), `1,234.56` (en-GB, en-US).
    pub fn format_number(self, value: f64, decimals: usize) -> String {
        let (group, point) = match self {
            Locale::FrFr => ('\u{202f}', ','),
            Locale::EnGb | Locale::EnUs => (',', '.'),
        };
        let text = format!("{:.*}", decimals, value.abs());
        let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
        let mut out = String::new();
        let rounds_to_zero = text.bytes().all(|byte| matches!(byte, b'0' | b'.'));
        if value.is_sign_negative() && !rounds_to_zero {
            out.push('-');
        }
        for (index, digit) in whole.chars().enumerate() {
            if index > 0 && (whole.len() - index).is_multiple_of(3) {
                out.push(group);
            }
            out.push(digit);
        }
        if !fraction.is_empty() {
            out.push(point);
            out.push_str(fraction);
        }
        out
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Locale::FrFr => "fr-FR",
            Locale::EnGb => "en-GB",
            Locale::EnUs => "en-US",
        })
    }
}

impl FromStr for Locale {
    type Err = DocumentError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "fr-FR" => Ok(Locale::FrFr),
            "en-GB" => Ok(Locale::EnGb),
            "en-US" => Ok(Locale::EnUs),
            other => Err(DocumentError::UnknownLocale(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_editor_js_output() {
        let document = Document::from_json(
            r#"{"time": 1763712000000, "version": "2.31.0", "blocks": [
                {"id": "h1", "type": "header", "data": {"text": "Rapport hebdomadaire", "level": 1}},
                {"id": "p1", "type": "paragraph", "data": {"text": "Semaine <b>47</b>"}, "tunes": {"align": "left"}}
            ]}"#,
        )
        .unwrap();
        assert_eq!(document.blocks.len(), 2);
        assert_eq!(document.blocks[1].block_type, "paragraph");
        assert_eq!(document.blocks[1].tunes["align"], "left");
    }

    #[test]
    fn malformed_json_names_its_position_and_duplicates_their_id() {
        let error = Document::from_json("{\"blocks\": [\n  {\"id\": 1}]}").unwrap_err();
        assert!(matches!(error, DocumentError::Malformed { line: 2, .. }), "{error}");
        let error =
            Document::from_json(r#"{"blocks": [{"id": "a", "type": "delimiter"}, {"id": "a", "type": "delimiter"}]}"#)
                .unwrap_err();
        assert_eq!(error.to_string(), "duplicate block id `a`");
    }

    #[test]
    fn numbers_are_formatted_per_locale() {
        let cases = [(1234.56, 2), (-1234567.891, 1), (0.0, 0), (-0.004, 2), (999.5, 0)];
        let formatted = |locale: Locale| -> Vec<String> {
            cases.iter().map(|(value, decimals)| locale.format_number(*value, *decimals)).collect()
        };
        assert_eq!(
            formatted(Locale::FrFr),
            ["1\u{202f}234,56", "-1\u{202f}234\u{202f}567,9", "0", "0,00", "1\u{202f}000"]
        );
        assert_eq!(formatted(Locale::EnGb), ["1,234.56", "-1,234,567.9", "0", "0.00", "1,000"]);
    }
}
