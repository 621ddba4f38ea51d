//! Locale formatting of numbers, dates, percentages and money, done in Rust before any
//! writer sees a value, since Typst (and a DOCX run) has no locale-aware formatting.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};

use crate::DocumentError;

/// The locales reports are formatted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub enum Locale {
    /// `1 234,56` and `21 novembre 2026`.
    #[default]
    #[serde(rename = "fr-FR")]
    FrFr,
    #[serde(rename = "en-GB")]
    EnGb,
    #[serde(rename = "en-US")]
    EnUs,
}

const MONTHS_FR: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

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

    /// A percentage of a value already multiplied by 100: `12,5 %` (fr-FR), `12.5%`.
    pub fn format_percent(self, value: f64, decimals: usize) -> String {
        match self {
            Locale::FrFr => format!("{}\u{a0}%", self.format_number(value, decimals)),
            Locale::EnGb | Locale::EnUs => format!("{}%", self.format_number(value, decimals)),
        }
    }

    /// An amount of money with two decimals: `1 234,56 €` (fr-FR), `€1,234.56`.
    pub fn format_money(self, value: f64, currency: &str) -> String {
        let symbol = match currency {
            "EUR" => "€",
            "USD" => "$",
            "GBP" => "£",
            other => other,
        };
        let amount = self.format_number(value.abs(), 2);
        let sign = if value < 0.0 && amount.bytes().any(|byte| matches!(byte, b'1'..=b'9')) { "-" } else { "" };
        match self {
            _ if symbol.is_empty() => format!("{sign}{amount}"),
            Locale::FrFr => format!("{sign}{amount}\u{a0}{symbol}"),
            Locale::EnGb | Locale::EnUs if symbol.chars().count() == 1 => format!("{sign}{symbol}{amount}"),
            Locale::EnGb | Locale::EnUs => format!("{sign}{amount} {symbol}"),
        }
    }

    /// A date in words: `21 novembre 2026`, `21 November 2026`, `November 21, 2026`.
    pub fn format_date_long(self, date: NaiveDate) -> String {
        let month = date.month0() as usize;
        match self {
            Locale::FrFr if date.day() == 1 => format!("1er {} {}", MONTHS_FR[month], date.year()),
            Locale::FrFr => format!("{} {} {}", date.day(), MONTHS_FR[month], date.year()),
            Locale::EnGb => format!("{} {} {}", date.day(), MONTHS_EN[month], date.year()),
            Locale::EnUs => format!("{} {}, {}", MONTHS_EN[month], date.day(), date.year()),
        }
    }

    /// A date in figures: `21/11/2026` (fr-FR, en-GB), `11/21/2026` (en-US).
    pub fn format_date_short(self, date: NaiveDate) -> String {
        match self {
            Locale::FrFr | Locale::EnGb => date.format("%d/%m/%Y").to_string(),
            Locale::EnUs => date.format("%m/%d/%Y").to_string(),
        }
    }

    /// A month and its year: `novembre 2026`, `November 2026`.
    pub fn format_month(self, date: NaiveDate) -> String {
        let month = date.month0() as usize;
        match self {
            Locale::FrFr => format!("{} {}", MONTHS_FR[month], date.year()),
            Locale::EnGb | Locale::EnUs => format!("{} {}", MONTHS_EN[month], date.year()),
        }
    }

    /// Excel's number format code for dates in this locale's order; Excel applies the
    /// reader's own separators.
    pub fn excel_date_format(self) -> &'static str {
        match self {
            Locale::FrFr | Locale::EnGb => "dd/mm/yyyy",
            Locale::EnUs => "mm/dd/yyyy",
        }
    }

    /// Column headers of a task list: project, task, status, due date, progress.
    pub fn task_headers(self) -> [&'static str; 5] {
        match self {
            Locale::FrFr => ["Projet", "Tâche", "Statut", "Échéance", "Avancement"],
            Locale::EnGb | Locale::EnUs => ["Project", "Task", "Status", "Due", "Progress"],
        }
    }

    /// A word of the report's chrome (titles and labels the renderer itself writes).
    pub fn word(self, word: Word) -> &'static str {
        let french = matches!(self, Locale::FrFr);
        match word {
            Word::Contents => {
                if french {
                    "Sommaire"
                } else {
                    "Contents"
                }
            }
            Word::Page => "Page",
            Word::Of => {
                if french {
                    "sur"
                } else {
                    "of"
                }
            }
            Word::Total => "Total",
            Word::NoData => {
                if french {
                    "Aucune donnée sur la période"
                } else {
                    "No data for the period"
                }
            }
            Word::AllSites => {
                if french {
                    "Tous les sites"
                } else {
                    "All sites"
                }
            }
            Word::Week => {
                if french {
                    "Semaine"
                } else {
                    "Week"
                }
            }
            Word::Summary => {
                if french {
                    "Synthèse"
                } else {
                    "Summary"
                }
            }
            Word::Versus => "vs",
            Word::DataVersion => {
                if french {
                    "Données de l'entrepôt"
                } else {
                    "Warehouse data"
                }
            }
            Word::Parameters => {
                if french {
                    "Paramètres"
                } else {
                    "Parameters"
                }
            }
            Word::NoCoordinates => {
                if french {
                    "Sans coordonnées"
                } else {
                    "No coordinates"
                }
            }
            Word::IssuedOn => {
                if french {
                    "Édité le"
                } else {
                    "Issued on"
                }
            }
        }
    }
}

/// Words of the report's chrome, translated by [`Locale::word`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Word {
    Contents,
    Page,
    Of,
    Total,
    NoData,
    AllSites,
    Week,
    Summary,
    Versus,
    DataVersion,
    Parameters,
    IssuedOn,
    /// Sites a map cannot place.
    NoCoordinates,
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
            "fr-FR" | "fr" => Ok(Locale::FrFr),
            "en-GB" => Ok(Locale::EnGb),
            "en-US" | "en" => Ok(Locale::EnUs),
            other => Err(DocumentError::UnknownLocale(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn dates_money_and_percentages_are_formatted_per_locale() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        let first = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let all = |locale: Locale| {
            [
                locale.format_date_long(date),
                locale.format_date_long(first),
                locale.format_date_short(date),
                locale.format_month(date),
                locale.format_money(-1234.5, "EUR"),
                locale.format_percent(12.5, 1),
            ]
        };
        assert_eq!(
            all(Locale::FrFr),
            [
                "21 novembre 2026",
                "1er mars 2026",
                "21/11/2026",
                "novembre 2026",
                "-1\u{202f}234,50\u{a0}€",
                "12,5\u{a0}%"
            ]
        );
        assert_eq!(
            all(Locale::EnGb),
            ["21 November 2026", "1 March 2026", "21/11/2026", "November 2026", "-€1,234.50", "12.5%"]
        );
        assert_eq!(
            all(Locale::EnUs),
            ["November 21, 2026", "March 1, 2026", "11/21/2026", "November 2026", "-€1,234.50", "12.5%"]
        );
    }
}
