//! Merging several label-sorted series sets into one, as the TSDB does for
//! its head and blocks and the fan-out querier does for local and remote
//! stores. Series with equal labels are combined into one whose samples
//! are the time-ordered union of theirs; a timestamp present in several
//! sources yields one sample (the first source's).

use super::{SampleIterator, Series, SeriesSet, StorageError};
use crate::model::Labels;

/// Merges sets that each yield series in label order into one set in label
/// order. An error from any input ends the merged set with that error;
/// warnings are collected from all inputs.
pub fn merge_series_sets(mut sets: Vec<Box<dyn SeriesSet>>) -> Box<dyn SeriesSet> {
    if sets.len() == 1
        && let Some(only) = sets.pop()
    {
        return only;
    }
    Box::new(MergeSeriesSet {
        sets,
        heads: Vec::new(),
        primed: false,
        error: None,
    })
}

struct MergeSeriesSet {
    sets: Vec<Box<dyn SeriesSet>>,
    heads: Vec<Option<Box<dyn Series>>>,
    primed: bool,
    error: Option<StorageError>,
}

impl MergeSeriesSet {
    fn pull(&mut self, index: usize) {
        let next = self.sets[index].next();
        if next.is_none()
            && self.error.is_none()
            && let Some(error) = self.sets[index].err()
        {
            self.error = Some(error);
        }
        self.heads[index] = next;
    }
}

impl SeriesSet for MergeSeriesSet {
    fn next(&mut self) -> Option<Box<dyn Series>> {
        if !self.primed {
            self.primed = true;
            self.heads = (0..self.sets.len()).map(|_| None).collect();
            for index in 0..self.sets.len() {
                self.pull(index);
            }
        }
        if self.error.is_some() {
            return None;
        }
        let smallest: Labels = self
            .heads
            .iter()
            .flatten()
            .map(|series| series.labels())
            .min()?
            .clone();
        let mut same = Vec::new();
        for index in 0..self.heads.len() {
            if self.heads[index]
                .as_ref()
                .is_some_and(|series| series.labels() == &smallest)
            {
                if let Some(series) = self.heads[index].take() {
                    same.push(series);
                }
                self.pull(index);
            }
        }
        if same.len() == 1 {
            return same.pop();
        }
        Some(Box::new(MergedSeries {
            labels: smallest,
            parts: same,
        }))
    }

    fn err(&self) -> Option<StorageError> {
        self.error.clone()
    }

    fn warnings(&self) -> Vec<String> {
        self.sets.iter().flat_map(|set| set.warnings()).collect()
    }
}

/// One series assembled from the same series in several sources.
pub struct MergedSeries {
    labels: Labels,
    parts: Vec<Box<dyn Series>>,
}

impl MergedSeries {
    /// A series over `parts`, which all carry `labels`.
    pub fn new(labels: Labels, parts: Vec<Box<dyn Series>>) -> Self {
        MergedSeries { labels, parts }
    }
}

impl Series for MergedSeries {
    fn labels(&self) -> &Labels {
        &self.labels
    }

    fn iter(&self) -> Box<dyn SampleIterator> {
        Box::new(ChainSampleIterator::new(
            self.parts.iter().map(|part| part.iter()).collect(),
        ))
    }
}

/// The time-ordered union of several sample iterators; equal timestamps
/// yield the sample of the earliest iterator.
pub struct ChainSampleIterator {
    inputs: Vec<Box<dyn SampleIterator>>,
    /// The next not-yet-returned sample of each input.
    pending: Vec<Option<(i64, f64)>>,
    primed: bool,
    at: Option<(i64, f64)>,
}

impl ChainSampleIterator {
    /// A union of `inputs`.
    pub fn new(inputs: Vec<Box<dyn SampleIterator>>) -> Self {
        let pending = vec![None; inputs.len()];
        ChainSampleIterator {
            inputs,
            pending,
            primed: false,
            at: None,
        }
    }

    fn prime(&mut self) {
        if !self.primed {
            self.primed = true;
            for (input, pending) in self.inputs.iter_mut().zip(self.pending.iter_mut()) {
                *pending = input.next();
            }
        }
    }

    fn take_smallest(&mut self) -> Option<(i64, f64)> {
        let mut best: Option<(i64, f64)> = None;
        for sample in self.pending.iter().flatten() {
            if best.is_none_or(|b| sample.0 < b.0) {
                best = Some(*sample);
            }
        }
        let (t, _) = best?;
        for (input, pending) in self.inputs.iter_mut().zip(self.pending.iter_mut()) {
            if pending.is_some_and(|p| p.0 == t) {
                *pending = input.next();
            }
        }
        self.at = best;
        best
    }
}

impl SampleIterator for ChainSampleIterator {
    fn next(&mut self) -> Option<(i64, f64)> {
        self.prime();
        let sample = self.take_smallest();
        if sample.is_none() {
            self.at = None;
        }
        sample
    }

    fn seek(&mut self, t: i64) -> Option<(i64, f64)> {
        if let Some(current) = self.at
            && current.0 >= t
        {
            return Some(current);
        }
        self.prime();
        for (input, pending) in self.inputs.iter_mut().zip(self.pending.iter_mut()) {
            if pending.is_some_and(|p| p.0 < t) {
                *pending = input.seek(t);
            }
        }
        let sample = self.take_smallest();
        if sample.is_none() {
            self.at = None;
        }
        sample
    }

    fn at(&self) -> Option<(i64, f64)> {
        self.at
    }

    fn err(&self) -> Option<StorageError> {
        self.inputs.iter().find_map(|input| input.err())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{VecSeries, VecSeriesSet};

    fn set(series: &[(&str, &[(i64, f64)])]) -> Box<dyn SeriesSet> {
        Box::new(VecSeriesSet::new(
            series
                .iter()
                .map(|(name, samples)| {
                    Box::new(VecSeries::new(
                        Labels::from_pairs(&[("__name__", *name)]),
                        samples.to_vec(),
                    )) as Box<dyn Series>
                })
                .collect(),
        ))
    }

    fn collect(mut set: Box<dyn SeriesSet>) -> Vec<(String, Vec<(i64, f64)>)> {
        let mut out = Vec::new();
        while let Some(series) = set.next() {
            let mut iterator = series.iter();
            let mut samples = Vec::new();
            while let Some(sample) = iterator.next() {
                samples.push(sample);
            }
            out.push((
                series.labels().get_or_empty("__name__").to_string(),
                samples,
            ));
        }
        out
    }

    #[test]
    fn merges_in_label_order_and_dedups_timestamps() {
        let merged = merge_series_sets(vec![
            set(&[("a", &[(1, 1.0), (3, 3.0)]), ("c", &[(1, 1.0)])]),
            set(&[("a", &[(2, 2.0), (3, 30.0), (4, 4.0)]), ("b", &[(5, 5.0)])]),
            set(&[]),
        ]);
        assert_eq!(
            collect(merged),
            vec![
                (
                    "a".to_string(),
                    vec![(1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0)]
                ),
                ("b".to_string(), vec![(5, 5.0)]),
                ("c".to_string(), vec![(1, 1.0)]),
            ]
        );
    }

    #[test]
    fn chain_iterator_seeks_across_inputs() {
        let a = VecSeries::new(Labels::empty(), vec![(1, 1.0), (10, 10.0)]);
        let b = VecSeries::new(Labels::empty(), vec![(5, 5.0), (10, 99.0), (12, 12.0)]);
        let mut chain = ChainSampleIterator::new(vec![a.iter(), b.iter()]);
        assert_eq!(chain.seek(4), Some((5, 5.0)));
        assert_eq!(chain.seek(4), Some((5, 5.0)));
        assert_eq!(chain.next(), Some((10, 10.0)));
        assert_eq!(chain.next(), Some((12, 12.0)));
        assert_eq!(chain.next(), None);
    }

    #[test]
    fn an_input_error_ends_the_merge() {
        let failing: Box<dyn SeriesSet> = Box::new(VecSeriesSet::failed(StorageError::Other(
            "peer down".into(),
        )));
        let mut merged = merge_series_sets(vec![set(&[("a", &[(1, 1.0)])]), failing]);
        assert!(merged.next().is_none());
        assert!(merged.err().is_some());
    }
}
