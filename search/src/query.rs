//! What a person types, read the way a search box should: words (each forgiven a typo
//! from 5 letters and two from 9, as Meilisearch does), the last word also as the start
//! of a longer one while it is still being typed, and "exact phrases" in quotes.

use tantivy::tokenizer::{Language, TextAnalyzer};

use crate::SearchError;
use crate::analysis;

/// The longest query read, in characters, and the most words in it.
const LONGEST_QUERY: usize = 500;
const MOST_WORDS: usize = 32;

/// One word of the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryWord {
    /// Lower case, accents folded.
    pub text: String,
    /// Its French and English stems; `None` when it is a stop word of that language.
    pub french: Option<String>,
    pub english: Option<String>,
    /// Edits forgiven: 0 under 5 letters (and for numbers), 1 from 5, 2 from 9.
    pub typos: u8,
    /// The last word, still being typed: it also matches longer words it begins.
    pub prefix: bool,
}

impl QueryWord {
    /// Whether the word only links others ("de", "the"): it ranks but is not required.
    pub fn is_stop_word(&self) -> bool {
        self.french.is_none() || self.english.is_none()
    }
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedQuery {
    pub words: Vec<QueryWord>,
    /// Each quoted phrase as its French analysis: (position, stem) pairs, stop words
    /// leaving their gaps.
    pub phrases: Vec<Vec<(usize, String)>>,
}

impl ParsedQuery {
    /// Reads `text`; unbalanced quotes and overlong queries are refused, naming `q`.
    pub fn parse(text: &str) -> Result<Self, SearchError> {
        if text.chars().count() > LONGEST_QUERY {
            return Err(SearchError::bad("q", format!("the query is longer than {LONGEST_QUERY} characters")));
        }
        if text.matches('"').count() % 2 == 1 {
            return Err(SearchError::bad("q", "a quote is not closed: put exact phrases between two \" marks"));
        }
        let mut plain = analysis::plain();
        let mut french = analysis::language(Language::French);
        let mut english = analysis::language(Language::English);
        let mut query = ParsedQuery::default();
        let mut free: Vec<String> = Vec::new();
        for (index, part) in text.split('"').enumerate() {
            if index % 2 == 1 {
                let mut stream = french.token_stream(part);
                let mut phrase = Vec::new();
                while let Some(token) = stream.next() {
                    phrase.push((token.position, token.text.clone()));
                }
                if let Some(first) = phrase.first().map(|(position, _)| *position) {
                    query.phrases.push(phrase.into_iter().map(|(position, stem)| (position - first, stem)).collect());
                }
            } else {
                free.extend(analysis::tokens(&mut plain, part));
            }
        }
        // The last word is still being typed unless the query ends with a space or a quote.
        let typing = text.chars().last().is_some_and(|last| last.is_alphanumeric());
        // A repeated word asks nothing more.
        let mut seen = std::collections::HashSet::new();
        free.retain(|word| seen.insert(word.clone()));
        let count = free.len();
        for (index, word) in free.into_iter().enumerate() {
            let length = word.chars().count();
            let numeric = word.chars().all(|character| character.is_ascii_digit());
            let typos = match length {
                _ if numeric => 0,
                0..=4 => 0,
                5..=8 => 1,
                _ => 2,
            };
            query.words.push(QueryWord {
                french: single(&mut french, &word),
                english: single(&mut english, &word),
                text: word,
                typos,
                // One letter begins too many words to stand for them.
                prefix: typing && index + 1 == count && length >= 2,
            });
        }
        if query.words.len() + query.phrases.iter().map(Vec::len).sum::<usize>() > MOST_WORDS {
            return Err(SearchError::bad("q", format!("the query has more than {MOST_WORDS} words")));
        }
        Ok(query)
    }

    /// Whether the query asks for nothing (every record the filters allow).
    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && self.phrases.is_empty()
    }
}

/// The one token `analyzer` makes of `word`, if any.
pub(crate) fn single(analyzer: &mut TextAnalyzer, word: &str) -> Option<String> {
    analysis::tokens(analyzer, word).into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<(String, Option<String>, u8, bool)> {
        ParsedQuery::parse(text)
            .unwrap()
            .words
            .into_iter()
            .map(|word| (word.text, word.french, word.typos, word.prefix))
            .collect()
    }

    #[test]
    fn words_are_folded_stemmed_and_forgiven_by_length() {
        assert_eq!(
            words("Fuite compreseur ÉLECTRIQUES"),
            vec![
                ("fuite".into(), Some("fuit".into()), 1, false),
                ("compreseur".into(), Some("compreseur".into()), 2, false),
                ("electriques".into(), Some("electr".into()), 2, true),
            ]
        );
        assert_eq!(
            words("pump 2026 "),
            vec![("pump".into(), Some("pump".into()), 0, false), ("2026".into(), Some("2026".into()), 0, false)]
        );
    }

    #[test]
    fn phrases_keep_their_gaps() {
        let query = ParsedQuery::parse(r#"alarme "fuite de gaz" ALPHA"#).unwrap();
        assert_eq!(query.phrases, vec![vec![(0, "fuit".to_owned()), (2, "gaz".to_owned())]]);
        assert_eq!(query.words.len(), 2);
        assert!(query.words[1].prefix);
    }

    #[test]
    fn bad_queries_name_q() {
        let many: String = (0..40).map(|number| format!("mot{number} ")).collect();
        for text in [r#"fuite "gaz"#, &many, &"x".repeat(501)] {
            match ParsedQuery::parse(text) {
                Err(SearchError::BadRequest { parameter: "q", .. }) => {}
                other => panic!("{text:?} gave {other:?}"),
            }
        }
    }
}
