//! Deduplication of the hand-over overlap in the global view.
//!
//! While a target changes owner, the old and the new owner both scrape it
//! for up to two intervals. Every node scrapes a target at the same phase
//! of its interval (the offset is a hash of the target), so the two copies
//! of one scrape differ only by the nodes' scheduling jitter, a few
//! milliseconds: the plain merge, which removes only equal timestamps,
//! would keep both. Here a sample that follows the previous one of the same
//! series by less than the tolerance (200 ms), or by less than a third of
//! the series' previous step when that is larger, is taken for another
//! node's copy of the same scrape and dropped (the first, usually local,
//! copy is kept). The relative bound absorbs scheduling drift on a loaded
//! machine (copies 0.2 s apart were seen at a 1 s interval) and still keeps
//! every sample when a job's scrape interval shrinks, even to a third.
//! Native sample spacing below 200 ms (sub-second scraping merged across
//! peers) would be thinned.

use std::time::Duration;

use crate::model::Labels;
use crate::storage::{Querier, SampleIterator, SelectHints, Series, SeriesSet, StorageError};

/// Samples of one series closer than this are one scrape seen twice.
pub const DEFAULT_OVERLAP_TOLERANCE: Duration = Duration::from_millis(200);

/// A querier whose selects drop near-duplicate samples.
pub struct OverlapDedupQuerier {
    inner: Box<dyn Querier>,
    tolerance_ms: i64,
}

impl OverlapDedupQuerier {
    /// Wraps `inner`; samples closer than `tolerance` are deduplicated.
    pub fn new(inner: Box<dyn Querier>, tolerance: Duration) -> Self {
        Self {
            inner,
            tolerance_ms: tolerance.as_millis() as i64,
        }
    }
}

impl Querier for OverlapDedupQuerier {
    fn select(
        &self,
        sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[crate::model::Matcher],
    ) -> Box<dyn SeriesSet> {
        Box::new(OverlapDedupSet {
            inner: self.inner.select(sorted, hints, matchers),
            tolerance_ms: self.tolerance_ms,
        })
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[crate::model::Matcher],
    ) -> Result<Vec<String>, StorageError> {
        self.inner.label_values(name, matchers)
    }

    fn label_names(&self, matchers: &[crate::model::Matcher]) -> Result<Vec<String>, StorageError> {
        self.inner.label_names(matchers)
    }

    fn label_warnings(&self) -> Vec<String> {
        self.inner.label_warnings()
    }
}

struct OverlapDedupSet {
    inner: Box<dyn SeriesSet>,
    tolerance_ms: i64,
}

impl SeriesSet for OverlapDedupSet {
    fn next(&mut self) -> Option<Box<dyn Series>> {
        let series = self.inner.next()?;
        Some(Box::new(OverlapDedupSeries {
            inner: series,
            tolerance_ms: self.tolerance_ms,
        }))
    }

    fn err(&self) -> Option<StorageError> {
        self.inner.err()
    }

    fn warnings(&self) -> Vec<String> {
        self.inner.warnings()
    }
}

struct OverlapDedupSeries {
    inner: Box<dyn Series>,
    tolerance_ms: i64,
}

impl Series for OverlapDedupSeries {
    fn labels(&self) -> &Labels {
        self.inner.labels()
    }

    fn iter(&self) -> Box<dyn SampleIterator> {
        Box::new(OverlapDedupIterator {
            inner: self.inner.iter(),
            tolerance_ms: self.tolerance_ms,
            at: None,
            step_ms: None,
        })
    }
}

/// Drops samples closer to the previous one returned than the tolerance,
/// or than a third of the series' last step if that is larger: two nodes'
/// copies of one scrape can drift apart by more than a fixed tolerance on a
/// loaded machine, while a real change of scrape interval (even to a third)
/// keeps every sample.
pub struct OverlapDedupIterator {
    inner: Box<dyn SampleIterator>,
    tolerance_ms: i64,
    at: Option<(i64, f64)>,
    step_ms: Option<i64>,
}

impl OverlapDedupIterator {
    /// Wraps `inner`.
    pub fn new(inner: Box<dyn SampleIterator>, tolerance: Duration) -> Self {
        Self {
            inner,
            tolerance_ms: tolerance.as_millis() as i64,
            at: None,
            step_ms: None,
        }
    }

    /// The smallest distance to the previous sample that is a new scrape.
    fn min_distance_ms(&self) -> i64 {
        self.tolerance_ms.max(self.step_ms.unwrap_or(0) / 3)
    }
}

impl SampleIterator for OverlapDedupIterator {
    fn next(&mut self) -> Option<(i64, f64)> {
        loop {
            let sample = self.inner.next();
            match (sample, self.at) {
                (None, _) => {
                    self.at = None;
                    return None;
                }
                (Some((t, _)), Some((previous, _))) if t - previous < self.min_distance_ms() => {
                    continue;
                }
                (Some(sample), previous) => {
                    if let Some((previous, _)) = previous {
                        self.step_ms = Some(sample.0 - previous);
                    }
                    self.at = Some(sample);
                    return Some(sample);
                }
            }
        }
    }

    fn seek(&mut self, t: i64) -> Option<(i64, f64)> {
        if let Some(current) = self.at
            && current.0 >= t
        {
            return Some(current);
        }
        let sample = self.inner.seek(t);
        self.at = sample;
        self.step_ms = None;
        sample
    }

    fn at(&self) -> Option<(i64, f64)> {
        self.at
    }

    fn err(&self) -> Option<StorageError> {
        self.inner.err()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::VecSeries;

    fn samples(iterator: &mut dyn SampleIterator) -> Vec<i64> {
        let mut out = Vec::new();
        while let Some((t, _)) = iterator.next() {
            out.push(t);
        }
        out
    }

    #[test]
    fn near_duplicates_from_an_overlap_are_dropped_and_real_steps_kept() {
        let cases: [(&str, Vec<i64>, Vec<i64>); 6] = [
            ("one scraper", vec![0, 1000, 2000], vec![0, 1000, 2000]),
            (
                "two scrapers, jitter of a few ms",
                vec![0, 1000, 1003, 2000, 2001, 3000],
                vec![0, 1000, 2000, 3000],
            ),
            (
                "before a step is known, the fixed tolerance decides",
                vec![0, 199, 200],
                vec![0, 200],
            ),
            ("empty", vec![], vec![]),
            (
                "copies drifted apart by a third of the interval on a loaded machine",
                vec![0, 1000, 1300, 2000, 2320, 3000],
                vec![0, 1000, 2000, 3000],
            ),
            (
                "the scrape interval drops from 15 s to 5 s: every sample kept",
                vec![0, 15_000, 30_000, 35_000, 40_000, 45_000],
                vec![0, 15_000, 30_000, 35_000, 40_000, 45_000],
            ),
        ];
        for (name, input, expected) in cases {
            let series = VecSeries::new(
                Labels::from_pairs(&[("__name__", "up")]),
                input.iter().map(|&t| (t, 1.0)).collect::<Vec<_>>(),
            );
            let mut iterator = OverlapDedupIterator::new(series.iter(), DEFAULT_OVERLAP_TOLERANCE);
            assert_eq!(samples(&mut iterator), expected, "{name}");
        }
    }

    #[test]
    fn seek_then_next_still_drops_the_copy() {
        let series = VecSeries::new(
            Labels::from_pairs(&[("__name__", "up")]),
            vec![(0, 1.0), (1000, 2.0), (1002, 2.0), (2000, 3.0)],
        );
        let mut iterator = OverlapDedupIterator::new(series.iter(), DEFAULT_OVERLAP_TOLERANCE);
        assert_eq!(iterator.seek(500), Some((1000, 2.0)));
        assert_eq!(iterator.seek(900), Some((1000, 2.0)));
        assert_eq!(iterator.next(), Some((2000, 3.0)));
        assert_eq!(iterator.next(), None);
    }
}
