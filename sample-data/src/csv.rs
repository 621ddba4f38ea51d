//! Rows written as PostgreSQL `COPY ... (FORMAT csv)` text, with the audit columns every
//! table ends with.

use std::fmt::Write;

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

/// The columns every table ends with, in this order (see the migrations).
pub(crate) const AUDIT_COLUMNS: [&str; 5] = ["external_id", "created_at", "updated_at", "created_by", "updated_by"];

/// One generated table: its qualified name, its columns and its rows as CSV text.
#[derive(Debug, Clone)]
pub struct TableData {
    /// `schema.table`.
    pub name: String,
    pub columns: Vec<&'static str>,
    pub csv: String,
    pub rows: u64,
}

/// Who wrote a row and when, for the audit columns.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Audit<'a> {
    pub external_id: Option<&'a str>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
}

impl TableData {
    pub(crate) fn new(name: &str, columns: &[&'static str]) -> Self {
        let mut all = columns.to_vec();
        all.extend(AUDIT_COLUMNS);
        Self { name: name.to_owned(), columns: all, csv: String::new(), rows: 0 }
    }

    /// Appends one row: `fill` writes the table's own fields, then the audit columns follow.
    pub(crate) fn row(&mut self, audit: Audit<'_>, fill: impl FnOnce(&mut Row<'_>)) {
        let mut row = Row { out: &mut self.csv, n_fields: 0 };
        fill(&mut row);
        row.opt_text(audit.external_id)
            .timestamp(audit.created_at)
            .timestamp(audit.created_at)
            .opt_uuid(audit.created_by)
            .opt_uuid(audit.created_by);
        // A row with the wrong number of fields would be refused by COPY at load time;
        // the generator's own tests check every table, so this only guards development.
        debug_assert_eq!(row.n_fields, self.columns.len(), "{}", self.name);
        self.csv.push('\n');
        self.rows += 1;
    }

    /// The columns as a `COPY` column list.
    pub fn column_list(&self) -> String {
        self.columns.join(", ")
    }
}

/// Field writer for one CSV row. In PostgreSQL's CSV format an unquoted empty field is
/// NULL and a quoted one an empty string, so text is always quoted.
#[derive(Debug)]
pub(crate) struct Row<'a> {
    out: &'a mut String,
    n_fields: usize,
}

impl<'a> Row<'a> {
    pub(crate) fn new(out: &'a mut String) -> Self {
        Self { out, n_fields: 0 }
    }

    fn separator(&mut self) {
        if self.n_fields > 0 {
            self.out.push(',');
        }
        self.n_fields += 1;
    }

    pub(crate) fn null(&mut self) -> &mut Self {
        self.separator();
        self
    }

    pub(crate) fn text(&mut self, value: &str) -> &mut Self {
        self.separator();
        self.out.push('"');
        for character in value.chars() {
            if character == '"' {
                self.out.push('"');
            }
            self.out.push(character);
        }
        self.out.push('"');
        self
    }

    pub(crate) fn opt_text(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(value) => self.text(value),
            None => self.null(),
        }
    }

    /// A field already in CSV form (a preformatted timestamp, say).
    pub(crate) fn raw(&mut self, text: &str) -> &mut Self {
        self.separator();
        self.out.push_str(text);
        self
    }

    pub(crate) fn uuid(&mut self, value: Uuid) -> &mut Self {
        self.separator();
        // Writing into a String cannot fail.
        let _ = write!(self.out, "{value}");
        self
    }

    pub(crate) fn opt_uuid(&mut self, value: Option<Uuid>) -> &mut Self {
        match value {
            Some(value) => self.uuid(value),
            None => self.null(),
        }
    }

    pub(crate) fn int(&mut self, value: i64) -> &mut Self {
        self.separator();
        let _ = write!(self.out, "{value}");
        self
    }

    /// A number with a fixed count of decimals, so its text (and so the stored value)
    /// never depends on float printing subtleties.
    pub(crate) fn decimal(&mut self, value: f64, decimals: usize) -> &mut Self {
        self.separator();
        let _ = write!(self.out, "{value:.decimals$}");
        self
    }

    pub(crate) fn opt_decimal(&mut self, value: Option<f64>, decimals: usize) -> &mut Self {
        match value {
            Some(value) => self.decimal(value, decimals),
            None => self.null(),
        }
    }

    pub(crate) fn boolean(&mut self, value: bool) -> &mut Self {
        self.separator();
        self.out.push(if value { 't' } else { 'f' });
        self
    }

    pub(crate) fn date(&mut self, value: NaiveDate) -> &mut Self {
        self.separator();
        let _ = write!(self.out, "{}", value.format("%Y-%m-%d"));
        self
    }

    pub(crate) fn opt_date(&mut self, value: Option<NaiveDate>) -> &mut Self {
        match value {
            Some(value) => self.date(value),
            None => self.null(),
        }
    }

    pub(crate) fn timestamp(&mut self, value: DateTime<Utc>) -> &mut Self {
        self.separator();
        let _ = write!(self.out, "{}+00", value.format("%Y-%m-%d %H:%M:%S"));
        self
    }

    pub(crate) fn opt_timestamp(&mut self, value: Option<DateTime<Utc>>) -> &mut Self {
        match value {
            Some(value) => self.timestamp(value),
            None => self.null(),
        }
    }

    /// Ends a row written without the audit columns (meter readings write their own).
    pub(crate) fn end(&mut self) -> usize {
        self.out.push('\n');
        self.n_fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_quoted_and_nulls_are_bare() {
        let mut out = String::new();
        Row::new(&mut out).text("dit \"bonjour\", à bord").null().text("").int(-3).decimal(0.1 + 0.2, 3).end();
        assert_eq!(out, "\"dit \"\"bonjour\"\", à bord\",,\"\",-3,0.300\n");
    }
}
