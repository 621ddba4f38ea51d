//! Highlights: the words of a text that the query matched, by any of the ways it
//! matches — the same word, the same stem, within the typos forgiven, or the beginning
//! of the word being typed — marked with `<mark>` in HTML-escaped text, and the
//! fragment of a long text where they are densest.
//!
//! Tantivy's snippet generator marks only exact terms, so words reached through a typo
//! would go unmarked; this marks them by the same rules the query used.

use std::collections::HashSet;

use tantivy::tokenizer::{Language, TextAnalyzer};

use crate::analysis;
use crate::query::{ParsedQuery, QueryWord, single};

/// Characters in a body fragment.
const FRAGMENT: usize = 200;
/// Characters of a text searched for marks.
const SCANNED: usize = 8_000;

/// The query's words, ready to test the words of a text.
pub(crate) struct Marker {
    words: Vec<QueryWord>,
    phrase_stems: HashSet<String>,
    plain: TextAnalyzer,
    french: TextAnalyzer,
    english: TextAnalyzer,
}

impl Marker {
    pub fn new(query: &ParsedQuery) -> Self {
        Marker {
            words: query.words.clone(),
            phrase_stems: query.phrases.iter().flatten().map(|(_, stem)| stem.clone()).collect(),
            plain: analysis::plain(),
            french: analysis::language(Language::French),
            english: analysis::language(Language::English),
        }
    }

    /// Byte ranges of the words of `text` the query matched (in its first 8,000
    /// characters: the fragment comes from there).
    pub fn ranges(&mut self, text: &str) -> Vec<(usize, usize)> {
        if self.words.is_empty() && self.phrase_stems.is_empty() {
            return Vec::new();
        }
        let text = text.char_indices().nth(SCANNED).map_or(text, |(end, _)| &text[..end]);
        let mut tokens = Vec::new();
        {
            let mut stream = self.plain.token_stream(text);
            while let Some(token) = stream.next() {
                tokens.push((token.offset_from, token.offset_to, token.text.clone()));
            }
        }
        let mut ranges = Vec::new();
        let mut known: std::collections::HashMap<String, bool> = std::collections::HashMap::new();
        for (from, to, word) in tokens {
            let matched = match known.get(&word) {
                Some(matched) => *matched,
                None => {
                    let matched = self.matches(&word);
                    known.insert(word, matched);
                    matched
                }
            };
            if matched {
                ranges.push((from, to));
            }
        }
        ranges
    }

    fn matches(&mut self, token: &str) -> bool {
        let mut french = None;
        let mut english = None;
        if !self.phrase_stems.is_empty() {
            let stem = single(&mut self.french, token);
            if stem.as_ref().is_some_and(|stem| self.phrase_stems.contains(stem)) {
                return true;
            }
            french = Some(stem);
        }
        for index in 0..self.words.len() {
            let word = &self.words[index];
            // "de", "the": they only link the words that matter, and would be marked everywhere.
            if word.is_stop_word() {
                continue;
            }
            if word.text == token {
                return true;
            }
            if word.prefix && token.starts_with(word.text.as_str()) {
                return true;
            }
            if word.typos > 0 && within(token, &word.text, word.typos, word.prefix) {
                return true;
            }
            let stem = french.get_or_insert_with(|| single(&mut self.french, token));
            if stem.is_some() && *stem == self.words[index].french {
                return true;
            }
            let stem = english.get_or_insert_with(|| single(&mut self.english, token));
            if stem.is_some() && *stem == self.words[index].english {
                return true;
            }
        }
        false
    }

    /// `text` escaped for HTML, its matched words in `<mark>`.
    pub fn mark(&mut self, text: &str) -> String {
        let ranges = self.ranges(text);
        marked(text, &ranges, 0, text.len())
    }

    /// The fragment of `text` (about 200 characters) holding the most matched words,
    /// escaped, marked, with an ellipsis where it was cut.
    pub fn fragment(&mut self, text: &str) -> String {
        let ranges = self.ranges(text);
        let (start, end) = window(text, &ranges);
        let mut out = String::new();
        if start > 0 {
            out.push('…');
        }
        out.push_str(&marked(text, &ranges, start, end));
        if end < text.len() {
            out.push('…');
        }
        out
    }
}

/// Whether `token` is within `typos` edits of `word` (an adjacent swap is one edit), or,
/// for a word being typed, begins with something within them.
fn within(token: &str, word: &str, typos: u8, prefix: bool) -> bool {
    let typos = usize::from(typos);
    if strsim::osa_distance(token, word) <= typos {
        return true;
    }
    if prefix {
        let length = word.chars().count();
        // The token's beginning of the word's length, give or take the typos.
        for cut in length.saturating_sub(typos)..=length + typos {
            let head: String = token.chars().take(cut).collect();
            if head.chars().count() == cut && strsim::osa_distance(&head, word) <= typos {
                return true;
            }
        }
    }
    false
}

/// The byte window of about `FRAGMENT` characters holding the most ranges, starting a
/// little before its first one, on word boundaries.
fn window(text: &str, ranges: &[(usize, usize)]) -> (usize, usize) {
    let limit = |from: usize| -> usize {
        match text[from..].char_indices().nth(FRAGMENT) {
            None => text.len(),
            // End at the end of a word.
            Some((offset, _)) => {
                let end = from + offset;
                // At most 40 more characters to finish the word.
                let word_end = text[end..]
                    .char_indices()
                    .take(40)
                    .find(|(_, character)| character.is_whitespace())
                    .map(|(space, _)| end + space);
                word_end.unwrap_or_else(|| text[end..].char_indices().nth(40).map_or(text.len(), |(cut, _)| end + cut))
            }
        }
    };
    if ranges.is_empty() {
        return (0, limit(0));
    }
    let mut best = (0usize, ranges[0].0);
    for (index, (from, _)) in ranges.iter().enumerate() {
        let end = limit(*from);
        let count = ranges[index..].iter().take_while(|(start, stop)| *start >= *from && *stop <= end).count();
        if count > best.0 {
            best = (count, *from);
        }
    }
    // Some words of context before the first mark, starting at a word.
    let lead = text[..best.1].char_indices().rev().nth(40).map_or(0, |(offset, _)| offset);
    let start = if lead == 0 {
        0
    } else {
        text[lead..best.1]
            .char_indices()
            .find(|(_, character)| character.is_whitespace())
            .map_or(best.1, |(offset, space)| lead + offset + space.len_utf8())
    };
    (start, limit(start))
}

/// `text[start..end]` escaped, with the ranges inside it marked.
fn marked(text: &str, ranges: &[(usize, usize)], start: usize, end: usize) -> String {
    let mut out = String::new();
    let mut at = start;
    for (from, to) in ranges.iter().filter(|(from, to)| *from >= start && *to <= end) {
        escape(&text[at..*from], &mut out);
        out.push_str("<mark>");
        escape(&text[*from..*to], &mut out);
        out.push_str("</mark>");
        at = *to;
    }
    escape(&text[at..end], &mut out);
    out
}

fn escape(text: &str, out: &mut String) {
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(character),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(query: &str, text: &str) -> String {
        Marker::new(&ParsedQuery::parse(query).unwrap()).mark(text)
    }

    #[test]
    fn marks_stems_accents_typos_and_prefixes() {
        assert_eq!(
            mark("fuite compreseur electrique ", "Fuites sur le compresseur électrique K-101 <HP>"),
            "<mark>Fuites</mark> sur le <mark>compresseur</mark> <mark>électrique</mark> K-101 &lt;HP&gt;"
        );
        assert_eq!(
            mark("generat", "Generator G-2 and generation"),
            "<mark>Generator</mark> G-2 and <mark>generation</mark>"
        );
        assert_eq!(mark("incendies", "Départ d'incendie"), "Départ d&#39;<mark>incendie</mark>");
        assert_eq!(
            mark(r#""fuite de gaz""#, "fuite de gaz au module"),
            "<mark>fuite</mark> de <mark>gaz</mark> au module"
        );
    }

    #[test]
    fn wide_spaces_and_endless_words_cut_cleanly() {
        let text = format!("{}\u{a0}85\u{202f}°C relevés sur la pompe {}", "a".repeat(50), "x".repeat(5000));
        let fragment = Marker::new(&ParsedQuery::parse("pompe").unwrap()).fragment(&text);
        assert!(fragment.contains("<mark>pompe</mark>"), "{fragment}");
        assert!(fragment.chars().count() < 300, "{} characters", fragment.chars().count());
    }

    #[test]
    fn the_fragment_is_where_the_matches_are() {
        let text = format!("{} la pompe P-12 fuit {}", "avant ".repeat(60), "après ".repeat(60));
        let fragment = Marker::new(&ParsedQuery::parse("pompe").unwrap()).fragment(&text);
        assert!(fragment.starts_with('…') && fragment.ends_with('…'), "{fragment}");
        assert!(fragment.contains("la <mark>pompe</mark> P-12 fuit"), "{fragment}");
        assert!(fragment.chars().count() < 260, "{fragment}");
    }
}
