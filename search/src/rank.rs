//! The best hits of a search: relevance times the small boosts for open and recent
//! records, equal scores in the fixed order of a digest of their key.
//!
//! Tantivy's `TopDocs` would read every hit's boosts and digest before comparing; here a
//! hit whose score, even with the largest boosts, cannot enter the page is dropped
//! unread, and the digest is only read for a hit that does enter. On large result sets
//! this is most of the cost of ranking.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

/// Open records (to act upon) and recent ones (a year's half-life, roughly) rank a
/// little higher: at most ×1.15 and ×1.25, so relevance still decides.
const OPEN_BOOST: f32 = 0.15;
const RECENT_BOOST: f32 = 0.25;
/// The largest factor the boosts together can give.
const MOST_BOOST: f32 = (1.0 + OPEN_BOOST) * (1.0 + RECENT_BOOST);

/// The recency factor by age in days, for ten years (older: 1.0, the boost having
/// faded to nothing): computed once rather than for every hit.
static RECENCY: std::sync::LazyLock<Vec<f32>> =
    std::sync::LazyLock::new(|| (0..3650).map(|age| 1.0 + RECENT_BOOST * (-(age as f32) / 365.0).exp()).collect());

/// The hits ranked `offset..offset + limit`, best first, with their final scores.
pub(crate) struct Ranking {
    pub limit: usize,
    pub offset: usize,
    /// Days since 1970-01-01 of the day recency is measured from.
    pub today: i64,
    /// Whether hits have a relevance score; without one (no words asked) every hit
    /// starts equal and the boosts alone rank.
    pub relevance: bool,
}

/// One candidate: ordered by score, then digest, then position (segment, document),
/// so the order is total and the same whatever the segments.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate {
    score: Score,
    tie: u64,
    address: DocAddress,
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Candidate {
    /// Greater is better: the heap below keeps the worst kept candidate on top, so it is
    /// built over `Reverse`.
    fn cmp(&self, other: &Self) -> Ordering {
        self.score.total_cmp(&other.score).then(self.tie.cmp(&other.tie)).then_with(|| other.address.cmp(&self.address))
    }
}

pub(crate) struct SegmentRanking {
    segment: SegmentOrdinal,
    keep: usize,
    today: i64,
    relevance: bool,
    open: Option<Column<u64>>,
    day: Option<Column<i64>>,
    tie: Option<Column<u64>>,
    kept: BinaryHeap<std::cmp::Reverse<Candidate>>,
}

impl Collector for Ranking {
    type Fruit = Vec<(Score, DocAddress)>;
    type Child = SegmentRanking;

    fn for_segment(&self, segment: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<SegmentRanking> {
        let fast = reader.fast_fields();
        let keep = self.offset.saturating_add(self.limit);
        Ok(SegmentRanking {
            segment,
            keep,
            today: self.today,
            relevance: self.relevance,
            open: fast.u64("open").ok(),
            day: fast.i64("day").ok(),
            tie: fast.u64("tie").ok(),
            kept: BinaryHeap::with_capacity(keep.min(1024) + 1),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, segments: Vec<Vec<Candidate>>) -> tantivy::Result<Self::Fruit> {
        let mut all: Vec<Candidate> = segments.into_iter().flatten().collect();
        all.sort_unstable_by(|left, right| right.cmp(left));
        Ok(all.into_iter().skip(self.offset).take(self.limit).map(|hit| (hit.score, hit.address)).collect())
    }
}

impl SegmentRanking {
    fn boosted(&self, doc: DocId, score: Score) -> Score {
        let open = self.open.as_ref().and_then(|column| column.first(doc)).unwrap_or(0);
        let recency = self.day.as_ref().and_then(|column| column.first(doc)).map_or(1.0, |day| {
            let age = (self.today - day).max(0);
            usize::try_from(age).ok().and_then(|age| RECENCY.get(age)).copied().unwrap_or(1.0)
        });
        score * (1.0 + OPEN_BOOST * open as f32) * recency
    }
}

impl SegmentCollector for SegmentRanking {
    type Fruit = Vec<Candidate>;

    fn collect(&mut self, doc: DocId, score: Score) {
        if self.keep == 0 {
            return;
        }
        let score = if self.relevance { score } else { 1.0 };
        let full = self.kept.len() >= self.keep;
        let worst = self.kept.peek().map(|kept| kept.0.score);
        // Even boosted to the most, this hit would rank below every kept one.
        if full && worst.is_some_and(|worst| score * MOST_BOOST * 1.001 < worst) {
            return;
        }
        let score = self.boosted(doc, score);
        if full && worst.is_some_and(|worst| score < worst) {
            return;
        }
        let tie = self.tie.as_ref().and_then(|column| column.first(doc)).unwrap_or(0);
        let candidate = Candidate { score, tie, address: DocAddress::new(self.segment, doc) };
        if !full {
            self.kept.push(std::cmp::Reverse(candidate));
        } else if let Some(mut worst) = self.kept.peek_mut()
            && candidate > worst.0
        {
            *worst = std::cmp::Reverse(candidate);
        }
    }

    fn harvest(self) -> Vec<Candidate> {
        self.kept.into_iter().map(|kept| kept.0).collect()
    }
}
