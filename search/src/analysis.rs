//! The analyzers: French and English (words, lower case, accents folded, stop words
//! removed, Snowball stems) for ranking, and plain (words, lower case, accents folded,
//! nothing removed) for typos, prefixes and highlights.
//!
//! Accents are folded before stemming, on the text and on the query alike, so
//! "electrique" and "électrique" reach the same stem. Stop words are removed in their
//! folded form for the same reason ("à" and "a" are both French stop words).

use std::sync::LazyLock;

use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
    TokenizerManager,
};

pub(crate) const FRENCH: &str = "opsflux_fr";
pub(crate) const ENGLISH: &str = "opsflux_en";
pub(crate) const PLAIN: &str = "opsflux_plain";

/// Longer tokens are not words (hashes, encoded data) and are not indexed.
const LONGEST_WORD: usize = 40;

/// Stop words that are also the subject of searches on an industrial site ("pompe a",
/// "train B", "zone C" are equipment and places, and "est" is a direction).
const KEPT: &[&str] = &["a", "b", "c", "d", "e", "est", "ou", "on", "off"];

/// Built once: every search parses its words and marks its hits with these, and the
/// stop word lists are folded when built.
static PLAIN_ANALYZER: LazyLock<TextAnalyzer> = LazyLock::new(build_plain);
static FRENCH_ANALYZER: LazyLock<TextAnalyzer> = LazyLock::new(|| build_language(Language::French));
static ENGLISH_ANALYZER: LazyLock<TextAnalyzer> = LazyLock::new(|| build_language(Language::English));

/// The words of `text` as the plain analyzer gives them: lower case, accents folded.
pub(crate) fn plain() -> TextAnalyzer {
    PLAIN_ANALYZER.clone()
}

/// The analyzer of one language (French or English; any other is analysed as English).
pub(crate) fn language(language: Language) -> TextAnalyzer {
    match language {
        Language::French => FRENCH_ANALYZER.clone(),
        _ => ENGLISH_ANALYZER.clone(),
    }
}

fn build_plain() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(LONGEST_WORD))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

fn build_language(language: Language) -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(LONGEST_WORD))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(StopWordFilter::remove(stop_words(language)))
        .filter(Stemmer::new(language))
        .build()
}

/// The language's stop words, folded, without the words kept on purpose.
fn stop_words(language: Language) -> Vec<String> {
    let words: &[&str] = match language {
        Language::French => FRENCH_STOP_WORDS,
        _ => ENGLISH_STOP_WORDS,
    };
    let mut folder = build_plain();
    let mut folded: Vec<String> =
        words.iter().flat_map(|word| tokens(&mut folder, word)).filter(|word| !KEPT.contains(&word.as_str())).collect();
    folded.sort();
    folded.dedup();
    folded
}

/// Every token `analyzer` makes of `text`.
pub(crate) fn tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while let Some(token) = stream.next() {
        out.push(token.text.clone());
    }
    out
}

/// The analyzers registered under the names the schema uses.
pub(crate) fn register(manager: &TokenizerManager) {
    manager.register(FRENCH, language(Language::French));
    manager.register(ENGLISH, language(Language::English));
    manager.register(PLAIN, plain());
}

/// The Lucene English list (the one Tantivy ships).
const ENGLISH_STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not", "of",
    "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "will", "with",
];

/// Short French function words (articles, pronouns, prepositions, auxiliaries) and the
/// elided letters left by splitting "l'huile", "d'air", "qu'il".
const FRENCH_STOP_WORDS: &[&str] = &[
    "au", "aux", "avec", "ce", "ces", "dans", "de", "des", "du", "elle", "en", "et", "eux", "il", "ils", "je", "la",
    "le", "les", "leur", "lui", "ma", "mais", "me", "même", "mes", "moi", "mon", "ne", "nos", "notre", "nous", "par",
    "pas", "pour", "qu", "que", "qui", "sa", "se", "ses", "son", "sur", "ta", "te", "tes", "toi", "ton", "tu", "un",
    "une", "vos", "votre", "vous", "l", "j", "m", "n", "s", "t", "y", "été", "étée", "étés", "être", "suis", "es",
    "sommes", "êtes", "sont", "était", "étaient", "ai", "as", "avons", "avez", "ont", "avait", "cette", "cet", "ses",
    "à", "ou", "où", "comme", "si", "lors", "entre", "sans", "sous", "chez",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn analyze(mut analyzer: TextAnalyzer, text: &str) -> String {
        tokens(&mut analyzer, text).join(" ")
    }

    #[test]
    fn french_folds_accents_and_plurals_to_one_stem() {
        let french = || language(Language::French);
        assert_eq!(analyze(french(), "électrique"), analyze(french(), "electrique"));
        assert_eq!(analyze(french(), "incendies"), analyze(french(), "incendie"));
        assert_eq!(analyze(french(), "fuites"), analyze(french(), "fuite"));
        assert_eq!(analyze(french(), "Compresseurs"), analyze(french(), "compresseur"));
        assert_eq!(analyze(french(), "la fuite de l'huile"), "fuit huil");
    }

    #[test]
    fn english_stems_and_drops_stop_words() {
        let english = || language(Language::English);
        assert_eq!(analyze(english(), "the leaking pumps"), "leak pump");
        assert_eq!(analyze(english(), "Generators"), analyze(english(), "generator"));
    }

    #[test]
    fn plain_keeps_every_word_folded() {
        assert_eq!(analyze(plain(), "Fuite à l'Échangeur E-101"), "fuite a l echangeur e 101");
    }
}
