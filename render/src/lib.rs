//! Rédacteur documents: the block model (Editor.js output format) that templates and
//! documents are stored in, the binding of their data blocks to query results, and the
//! writers that turn a bound document into PDF (Typst), DOCX, XLSX and HTML.
//!
//! Architecture invariant: this crate does no I/O and runs no query. A [`Binding`] says
//! which data a document needs; the caller answers; the [`BoundDocument`] it yields is
//! rendered to bytes, the same bytes every time.

pub mod bind;
pub mod blocks;
pub mod chart;
mod docx;
pub mod figures;
mod html;
pub mod inline;
pub mod labels;
mod locale;
mod raster;
mod typst;
mod xlsx;

pub use bind::{Binding, BoundDocument, DataColumn, DataRequest, DataTable, Pending, SiteInfo, Value, ValueFormat};
pub use locale::{Locale, Word};
pub use typst::Renderer;

/// Why a document could not be read, bound or rendered. Every variant says where: the
/// block id and the JSON pointer of the offending member, or the line and column.
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
    /// A block (or a document member) is wrong; `pointer` is its JSON pointer.
    #[error("{}{pointer}: {message}", block.as_ref().map(|id| format!("block `{id}` at ")).unwrap_or_default())]
    Invalid { block: Option<String>, pointer: String, message: String },
    /// A parameter given to the template is unknown or malformed.
    #[error("parameter `{name}`: {message}")]
    Parameter { name: String, message: String },
    /// Typst refused the generated source; a user's snippet is named by its block.
    #[error("{}{message}", block.as_ref().map(|id| format!("block `{id}`: ")).unwrap_or_default())]
    Typst { block: Option<String>, message: String },
    /// A writer failed on well-formed input (an internal limit of DOCX or XLSX).
    #[error("{format} writer: {message}")]
    Writer { format: &'static str, message: String },
}

impl DocumentError {
    pub(crate) fn invalid(block: Option<&str>, pointer: impl Into<String>, message: impl Into<String>) -> Self {
        DocumentError::Invalid { block: block.map(str::to_owned), pointer: pointer.into(), message: message.into() }
    }

    /// The block the error is about, when it is about one.
    pub fn block(&self) -> Option<&str> {
        match self {
            DocumentError::Invalid { block, .. } | DocumentError::Typst { block, .. } => block.as_deref(),
            DocumentError::DuplicateBlockId(id) => Some(id),
            _ => None,
        }
    }

    /// The JSON pointer the error is about, when it is about one.
    pub fn pointer(&self) -> Option<&str> {
        match self {
            DocumentError::Invalid { pointer, .. } => Some(pointer),
            _ => None,
        }
    }
}

/// A block document as an Editor.js-style editor saves it:
/// `{"time": …, "blocks": [{"id", "type", "data", "tunes"}], "version": …}`, with the
/// template's settings (title, page setup, parameters) beside the blocks.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Document {
    /// Milliseconds since the Unix epoch at which the editor saved the document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<i64>,
    pub blocks: Vec<Block>,
    /// Version of the editor that produced the document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default)]
    pub settings: serde_json::Value,
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
    /// Reads a document from its JSON text, refusing duplicate block ids (nested blocks
    /// of repeated sections included).
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

/// The formats a bound document is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Pdf,
    Docx,
    Xlsx,
    Html,
}

impl OutputFormat {
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Pdf => "pdf",
            OutputFormat::Docx => "docx",
            OutputFormat::Xlsx => "xlsx",
            OutputFormat::Html => "html",
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            OutputFormat::Pdf => "application/pdf",
            OutputFormat::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            OutputFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            OutputFormat::Html => "text/html; charset=utf-8",
        }
    }
}

impl std::str::FromStr for OutputFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "pdf" => Ok(OutputFormat::Pdf),
            "docx" => Ok(OutputFormat::Docx),
            "xlsx" => Ok(OutputFormat::Xlsx),
            "html" => Ok(OutputFormat::Html),
            other => Err(format!("unknown format `{other}`: expected pdf, docx, xlsx or html")),
        }
    }
}

impl Renderer {
    /// The bound document written in `format`: the same document gives the same bytes.
    pub fn render(&self, document: &BoundDocument, format: OutputFormat) -> Result<Vec<u8>, DocumentError> {
        // A writer's panic (a bug, or a limit of a library) is an error for this document,
        // never the end of the process serving others.
        let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match format {
            OutputFormat::Pdf => self.pdf(document),
            OutputFormat::Docx => docx::docx(document, self),
            OutputFormat::Xlsx => xlsx::xlsx(document),
            OutputFormat::Html => html::html(document, self),
        }));
        written.unwrap_or_else(|_| {
            Err(DocumentError::Writer { format: format.extension(), message: "the writer stopped unexpectedly".into() })
        })
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
}
