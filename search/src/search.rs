//! Answering a search: the query built from the parsed words (every word required,
//! matched by stem in French or English, by typo or by prefix on plain words), the
//! filters and the reader's visibility applied inside the query (so hits, counts and
//! facets only ever see what the reader may), recent and open records ranked a little
//! higher, facet counts, one page of hits with their highlights.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use tantivy::collector::{Collector, Count, SegmentCollector};
use tantivy::columnar::StrColumn;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, DisjunctionMaxQuery, FuzzyTermQuery, Occur, PhraseQuery,
    Query, TermQuery, TermSetQuery,
};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::tokenizer::Language;
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader, TantivyDocument, TantivyError, Term};

use crate::SearchError;
use crate::analysis;
use crate::index::{Fields, SHARED, SearchIndex, days_since_epoch};
use crate::query::{ParsedQuery, single};
use crate::rank::Ranking;
use crate::snippet::Marker;
use crate::sources::MODULES;

/// One clause of a Boolean query.
type Clause = (Occur, Box<dyn Query>);

/// Who is asking: the sites and modules they may read. Applied inside the search, so
/// neither hits nor counts nor facets show anything else.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Visibility {
    /// `None`: every site; otherwise these site codes (and records shared by all).
    pub sites: Option<BTreeSet<String>>,
    /// `None`: every module; otherwise these.
    pub modules: Option<BTreeSet<String>>,
}

impl Visibility {
    /// Everything: the command line run by whoever holds the warehouse.
    pub fn everything() -> Self {
        Visibility::default()
    }

    pub fn sites<I: IntoIterator<Item = S>, S: Into<String>>(sites: I) -> Self {
        Visibility { sites: Some(sites.into_iter().map(Into::into).collect()), modules: None }
    }
}

/// The facet filters of a request; each narrows the hits to one value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filters {
    pub module: Option<String>,
    pub site: Option<String>,
    pub status: Option<String>,
    pub year: Option<String>,
}

/// One search.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub query: String,
    pub filters: Filters,
    /// 1-based.
    pub page: u64,
    pub per_page: u64,
    /// The day recency is measured from.
    pub today: NaiveDate,
    pub visibility: Visibility,
}

impl SearchRequest {
    pub fn new(query: impl Into<String>, today: NaiveDate) -> Self {
        SearchRequest {
            query: query.into(),
            filters: Filters::default(),
            page: 1,
            per_page: DEFAULT_PER_PAGE,
            today,
            visibility: Visibility::everything(),
        }
    }
}

pub const DEFAULT_PER_PAGE: u64 = 20;
/// A word in the title counts this many times one in the body.
const TITLE_BOOST: f32 = 3.0;
pub const MOST_PER_PAGE: u64 = 100;
/// Hits past this rank are not served: narrow the search instead.
pub const DEEPEST_HIT: u64 = 10_000;

/// One record found.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub module: String,
    pub kind: String,
    pub id: String,
    pub sites: Vec<String>,
    pub status: Option<String>,
    pub date: Option<NaiveDate>,
    pub title: String,
    /// The title, HTML-escaped, matched words in `<mark>`.
    pub title_html: String,
    /// The fragment of the body where the matched words are, escaped and marked.
    pub snippet: String,
    pub score: f32,
}

/// Counts per value of each facet, largest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Facets {
    pub module: Vec<(String, u64)>,
    pub site: Vec<(String, u64)>,
    pub status: Vec<(String, u64)>,
    pub year: Vec<(String, u64)>,
}

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct Results {
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
    /// At least 1: an empty result is one empty page.
    pub pages: u64,
    pub hits: Vec<Hit>,
    pub facets: Facets,
}

impl SearchIndex {
    /// Answers `request` from the last commit this handle has seen.
    pub fn search(&self, request: &SearchRequest) -> Result<Results, SearchError> {
        if request.page == 0 {
            return Err(SearchError::bad("page", "pages are numbered from 1"));
        }
        if request.per_page == 0 || request.per_page > MOST_PER_PAGE {
            return Err(SearchError::bad("per_page", format!("between 1 and {MOST_PER_PAGE} hits per page")));
        }
        let offset = (request.page - 1).saturating_mul(request.per_page);
        if offset.saturating_add(request.per_page) > DEEPEST_HIT {
            return Err(SearchError::bad(
                "page",
                format!("only the first {DEEPEST_HIT} hits are served: narrow the search with words or filters"),
            ));
        }
        let parsed = ParsedQuery::parse(&request.query)?;
        let searcher = self.reader.searcher();
        let fields = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let text_query = text_query(&fields, &parsed, &searcher).map_err(|error| self.failure(error))?;
        clauses.push((Occur::Must, text_query));
        // Filters select; they add nothing to the score, or a filter's rarity would rank.
        for (occur, filter) in self.filters(&request.filters, &request.visibility)? {
            clauses.push((occur, Box::new(ConstScoreQuery::new(filter, 0.0))));
        }
        let query = BooleanQuery::new(clauses);
        let ranked = Ranking {
            limit: request.per_page as usize,
            offset: offset as usize,
            today: days_since_epoch(request.today),
            relevance: !parsed.is_empty(),
        };
        let facets = FacetCounter { visible_sites: request.visibility.sites.clone() };
        let (top, total, facets) =
            searcher.search(&query, &(ranked, Count, facets)).map_err(|error| self.failure(error))?;
        let total = total as u64;
        let pages = total.div_ceil(request.per_page).clamp(1, DEEPEST_HIT / request.per_page);
        if request.page > pages {
            return Err(SearchError::bad("page", format!("page {} is past the last page ({pages})", request.page)));
        }
        let mut marker = Marker::new(&parsed);
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let mut hit = self.hit(&searcher, address, score, &mut marker)?;
            // A trip seen from one end does not name the other.
            if let Some(sites) = &request.visibility.sites {
                hit.sites.retain(|site| sites.contains(site));
            }
            hits.push(hit);
        }
        Ok(Results { total, page: request.page, per_page: request.per_page, pages, hits, facets })
    }

    fn hit(
        &self,
        searcher: &tantivy::Searcher,
        address: DocAddress,
        score: Score,
        marker: &mut Marker,
    ) -> Result<Hit, SearchError> {
        let document: TantivyDocument = searcher.doc(address).map_err(|error| self.failure(error))?;
        let fields = &self.fields;
        let text = |field| document.get_first(field).and_then(|value| value.as_str()).unwrap_or_default().to_owned();
        let title = text(fields.title);
        let body = text(fields.body);
        let date = document
            .get_first(fields.day)
            .and_then(|value| value.as_i64())
            .and_then(|days| i32::try_from(days).ok())
            .and_then(crate::sources::day);
        Ok(Hit {
            module: text(fields.module),
            kind: text(fields.kind),
            id: text(fields.id),
            sites: document.get_all(fields.site).filter_map(|value| value.as_str().map(str::to_owned)).collect(),
            status: document.get_first(fields.status).and_then(|value| value.as_str()).map(str::to_owned),
            date,
            title_html: marker.mark(&title),
            snippet: marker.fragment(&body),
            title,
            score,
        })
    }

    /// The filter clauses: facet values (checked against the index) and visibility.
    fn filters(&self, filters: &Filters, visibility: &Visibility) -> Result<Vec<Clause>, SearchError> {
        let fields = self.fields;
        let term = |field, value: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic))
        };
        let mut out: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if let Some(module) = &filters.module {
            if !MODULES.contains(&module.as_str()) {
                return Err(SearchError::bad(
                    "module",
                    format!("unknown module `{module}`; one of {}", MODULES.join(", ")),
                ));
            }
            out.push((Occur::Must, term(fields.module, module)));
        }
        if let Some(site) = &filters.site {
            let visible = visibility.sites.as_ref().is_none_or(|sites| sites.contains(site));
            if !visible || !self.holds(fields.site, site)? {
                return Err(SearchError::bad("site", format!("unknown site `{site}`")));
            }
            out.push((Occur::Must, term(fields.site, site)));
        }
        if let Some(status) = &filters.status {
            if !self.holds(fields.status, status)? {
                return Err(SearchError::bad("status", format!("unknown status `{status}`")));
            }
            out.push((Occur::Must, term(fields.status, status)));
        }
        if let Some(year) = &filters.year {
            let year: u64 = year
                .parse()
                .ok()
                .filter(|year| (FIRST_YEAR..=LAST_YEAR).contains(year))
                .ok_or_else(|| SearchError::bad("year", format!("`{year}` is not a year such as 2026")))?;
            out.push((
                Occur::Must,
                Box::new(TermQuery::new(Term::from_field_u64(fields.year, year), IndexRecordOption::Basic)),
            ));
        }
        // A set of terms is read once into a bit set: checking a hit against it costs
        // a bit test, not a walk through one list of entries per site.
        if let Some(sites) = &visibility.sites {
            let visible = sites.iter().map(String::as_str).chain([SHARED]);
            let terms = visible.map(|site| Term::from_field_text(fields.visibility, site));
            out.push((Occur::Must, Box::new(TermSetQuery::new(terms))));
        }
        if let Some(modules) = &visibility.modules {
            let terms = modules.iter().map(|module| Term::from_field_text(fields.module, module));
            out.push((Occur::Must, Box::new(TermSetQuery::new(terms))));
        }
        Ok(out)
    }

    /// Whether any entry holds `value` in `field`.
    fn holds(&self, field: tantivy::schema::Field, value: &str) -> Result<bool, SearchError> {
        let searcher = self.reader.searcher();
        let term = Term::from_field_text(field, value);
        for segment in searcher.segment_readers() {
            let index = segment.inverted_index(field).map_err(|error| self.failure(error))?;
            if index.get_term_info(&term).map_err(|error| self.failure(error))?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Every word required (stop words only rank), each matched in the best of its ways;
/// every phrase required; an empty query matches everything.
fn text_query(
    fields: &Fields,
    parsed: &ParsedQuery,
    searcher: &tantivy::Searcher,
) -> Result<Box<dyn Query>, TantivyError> {
    if parsed.is_empty() {
        return Ok(Box::new(AllQuery));
    }
    let mut french = analysis::language(Language::French);
    let mut english = analysis::language(Language::English);
    let mut clauses: Vec<Clause> = Vec::new();
    for word in &parsed.words {
        // Each term of a field once, at the best weight it is reached with: derived words
        // often share a stem with the word or with one another.
        let mut ways = Ways::default();
        ways.word(fields, &word.text, &word.french, &word.english, 1.0);
        // Words of the index the word reaches through its typos or as their beginning,
        // each ranked by where it occurs like the word itself, a little lower.
        for (derived, weight) in derivations(searcher, fields.words, word)? {
            let (french_stem, english_stem) = (single(&mut french, &derived), single(&mut english, &derived));
            ways.word(fields, &derived, &french_stem, &english_stem, weight);
        }
        let occur = if word.is_stop_word() { Occur::Should } else { Occur::Must };
        clauses.push((occur, Box::new(DisjunctionMaxQuery::with_tie_breaker(ways.queries(), 0.1))));
    }
    for phrase in &parsed.phrases {
        let in_field = |field| -> Box<dyn Query> {
            if phrase.len() == 1 {
                Box::new(TermQuery::new(Term::from_field_text(field, &phrase[0].1), IndexRecordOption::WithFreqs))
            } else {
                Box::new(PhraseQuery::new_with_offset(
                    phrase.iter().map(|(position, stem)| (*position, Term::from_field_text(field, stem))).collect(),
                ))
            }
        };
        let ways: Vec<Box<dyn Query>> =
            vec![Box::new(BoostQuery::new(in_field(fields.title), TITLE_BOOST)), in_field(fields.body)];
        clauses.push((Occur::Must, Box::new(DisjunctionMaxQuery::new(ways))));
    }
    Ok(Box::new(BooleanQuery::new(clauses)))
}

/// The terms one query word is looked for as, each with its weight.
#[derive(Default)]
struct Ways(BTreeMap<(tantivy::schema::Field, String), f32>);

impl Ways {
    /// A word (typed, or reached through a typo or a prefix) with its stems, at `weight`:
    /// by its French stem in titles and bodies; by its English stem only where that
    /// differs — when both agree ("pompe", "compressor", "leak") the French fields already
    /// find the word and its variants in either language, and reading the English lists
    /// too would double every search's work for hardly any other record; by its plain
    /// form only where it has no French stem (a French stop word), as otherwise the stem
    /// finds every record the plain form does.
    fn word(&mut self, fields: &Fields, plain: &str, french: &Option<String>, english: &Option<String>, weight: f32) {
        match french {
            Some(stem) => {
                self.add(fields.title, stem, TITLE_BOOST * weight);
                self.add(fields.body, stem, weight);
            }
            None => self.add(fields.words, plain, weight),
        }
        if let Some(stem) = english.as_ref().filter(|stem| french.as_ref() != Some(*stem)) {
            self.add(fields.title_en, stem, TITLE_BOOST * weight);
            self.add(fields.body_en, stem, weight);
        }
    }

    fn add(&mut self, field: tantivy::schema::Field, text: &str, weight: f32) {
        let best = self.0.entry((field, text.to_owned())).or_insert(weight);
        *best = best.max(weight);
    }

    fn queries(self) -> Vec<Box<dyn Query>> {
        self.0
            .into_iter()
            .map(|((field, text), weight)| -> Box<dyn Query> {
                let query = TermQuery::new(Term::from_field_text(field, &text), IndexRecordOption::WithFreqs);
                Box::new(BoostQuery::new(Box::new(query), weight))
            })
            .collect()
    }
}

/// The most derived words one query word stands for: past it, the rarest are left out.
const MOST_DERIVATIONS: usize = 50;

/// The words of `field` within the word's typos, or beginning with it (within its typos)
/// while it is being typed, other than the word itself: the most frequent first, each
/// with its weight (an added ending 0.7, one typo 0.5, two 0.3).
fn derivations(
    searcher: &tantivy::Searcher,
    field: tantivy::schema::Field,
    word: &crate::query::QueryWord,
) -> Result<Vec<(String, f32)>, TantivyError> {
    let mut automata = Vec::new();
    let term = Term::from_field_text(field, &word.text);
    if word.typos > 0 {
        automata.push(FuzzyTermQuery::new(term.clone(), word.typos, true).automaton()?);
    }
    if word.prefix {
        automata.push(FuzzyTermQuery::new_prefix(term, word.typos, true).automaton()?);
    }
    let mut found: HashMap<String, u64> = HashMap::new();
    for segment in searcher.segment_readers() {
        let index = segment.inverted_index(field)?;
        for automaton in &automata {
            let mut stream = index.terms().search(automaton).into_stream()?;
            while stream.advance() {
                if let Ok(text) = std::str::from_utf8(stream.key())
                    && text != word.text
                {
                    *found.entry(text.to_owned()).or_default() += u64::from(stream.value().doc_freq);
                }
            }
        }
    }
    let mut weighed: Vec<(String, f32, u64)> = found
        .into_iter()
        .map(|(text, frequency)| {
            let weight = match strsim::osa_distance(&text, &word.text) {
                _ if word.prefix && text.starts_with(word.text.as_str()) => 0.7,
                0 | 1 => 0.5,
                _ => 0.3,
            };
            (text, weight, frequency)
        })
        .collect();
    weighed.sort_by(|left, right| {
        right.1.total_cmp(&left.1).then(right.2.cmp(&left.2)).then_with(|| left.0.cmp(&right.0))
    });
    weighed.truncate(MOST_DERIVATIONS);
    Ok(weighed.into_iter().map(|(text, weight, _)| (text, weight)).collect())
}

/// Counts of module, site, status and year over every hit.
struct FacetCounter {
    /// A scoped reader's sites: other sites of a shared record (a trip's other end)
    /// are not counted.
    visible_sites: Option<BTreeSet<String>>,
}

struct SegmentFacets {
    columns: [Option<StrColumn>; 3],
    year: Option<tantivy::columnar::Column<u64>>,
    /// Hits per term ordinal of each column: the dictionaries are small.
    counts: [Vec<u64>; 3],
    /// Hits per year from `FIRST_YEAR`; a year outside cannot be asked for either.
    years: Vec<u64>,
}

/// The years the year facet counts, the range the year filter accepts.
const FIRST_YEAR: u64 = 1900;
const LAST_YEAR: u64 = 2200;

type SegmentCounts = (Vec<BTreeMap<String, u64>>, BTreeMap<u64, u64>);

impl Collector for FacetCounter {
    type Fruit = Facets;
    type Child = SegmentFacets;

    fn for_segment(&self, _: SegmentOrdinal, segment: &SegmentReader) -> tantivy::Result<SegmentFacets> {
        let fast = segment.fast_fields();
        let columns = [fast.str("module")?, fast.str("site")?, fast.str("status")?];
        let counts = columns.each_ref().map(|column| vec![0; column.as_ref().map_or(0, |column| column.num_terms())]);
        Ok(SegmentFacets {
            columns,
            year: fast.u64("year").ok(),
            counts,
            years: vec![0; (LAST_YEAR - FIRST_YEAR + 1) as usize],
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, segments: Vec<SegmentCounts>) -> tantivy::Result<Facets> {
        let mut totals: Vec<BTreeMap<String, u64>> = vec![BTreeMap::new(); 3];
        let mut years: BTreeMap<u64, u64> = BTreeMap::new();
        for (counts, segment_years) in segments {
            for (total, counts) in totals.iter_mut().zip(counts) {
                for (value, count) in counts {
                    *total.entry(value).or_default() += count;
                }
            }
            for (year, count) in segment_years {
                *years.entry(year).or_default() += count;
            }
        }
        if let Some(sites) = &self.visible_sites {
            totals[1].retain(|site, _| sites.contains(site));
        }
        let ranked = |counts: BTreeMap<String, u64>| {
            let mut counts: Vec<(String, u64)> = counts.into_iter().collect();
            counts.sort_by(|left, right| right.1.cmp(&left.1).then_with(|| left.0.cmp(&right.0)));
            counts
        };
        let mut totals = totals.into_iter();
        Ok(Facets {
            module: ranked(totals.next().unwrap_or_default()),
            site: ranked(totals.next().unwrap_or_default()),
            status: ranked(totals.next().unwrap_or_default()),
            year: {
                let mut years: Vec<(String, u64)> =
                    years.into_iter().map(|(year, count)| (year.to_string(), count)).collect();
                years.sort_by(|left, right| right.0.cmp(&left.0));
                years
            },
        })
    }
}

impl SegmentCollector for SegmentFacets {
    type Fruit = SegmentCounts;

    fn collect(&mut self, doc: DocId, _: Score) {
        for (column, counts) in self.columns.iter().zip(self.counts.iter_mut()) {
            if let Some(column) = column {
                for ordinal in column.term_ords(doc) {
                    if let Some(count) = counts.get_mut(ordinal as usize) {
                        *count += 1;
                    }
                }
            }
        }
        if let Some(year) = self.year.as_ref().and_then(|column| column.first(doc))
            && let Some(count) = year.checked_sub(FIRST_YEAR).and_then(|offset| self.years.get_mut(offset as usize))
        {
            *count += 1;
        }
    }

    fn harvest(self) -> SegmentCounts {
        let mut out = Vec::with_capacity(3);
        for (column, counts) in self.columns.iter().zip(self.counts) {
            let mut named = BTreeMap::new();
            if let Some(column) = column {
                let mut value = String::new();
                for (ordinal, count) in counts.into_iter().enumerate().filter(|(_, count)| *count > 0) {
                    if column.ord_to_str(ordinal as u64, &mut value).unwrap_or(false) {
                        named.insert(value.clone(), count);
                    }
                }
            }
            out.push(named);
        }
        let years = self.years.into_iter().enumerate().filter(|(_, count)| *count > 0);
        (out, years.map(|(offset, count)| (FIRST_YEAR + offset as u64, count)).collect())
    }
}
