//! The querier over the head and the blocks overlapping a time window.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::block::Block;
use super::chunks::{ChunkHandle, ChunkSeriesIterator};
use super::head::Head;
use super::tombstones::{DeletedSkippingIterator, Intervals};
use crate::model::{Labels, Matcher};
use crate::storage::merge::merge_series_sets;
use crate::storage::{
    Querier, SampleIterator, SelectHints, Series, SeriesSet, StorageError, VecSeriesSet,
};

/// A series whose samples are read from chunks when iterated.
pub struct ChunkSeries {
    labels: Labels,
    chunks: Arc<[ChunkHandle]>,
    min_time: i64,
    max_time: i64,
    deleted: Option<Arc<Intervals>>,
}

impl ChunkSeries {
    /// A series over `chunks` limited to `[min_time, max_time]`.
    pub fn new(labels: Labels, chunks: Vec<ChunkHandle>, min_time: i64, max_time: i64) -> Self {
        ChunkSeries {
            labels,
            chunks: chunks.into(),
            min_time,
            max_time,
            deleted: None,
        }
    }

    /// The same series with the samples in `deleted` hidden.
    pub fn with_deleted(mut self, deleted: Option<Arc<Intervals>>) -> Self {
        self.deleted = deleted.filter(|d| !d.is_empty());
        self
    }
}

/// Drops the chunks whose part inside `[min_time, max_time]` is entirely
/// deleted, so that a series whose samples are all deleted is not selected
/// at all (as Prometheus does).
pub(crate) fn drop_deleted_chunks(
    chunks: &mut Vec<ChunkHandle>,
    deleted: Option<&Intervals>,
    min_time: i64,
    max_time: i64,
) {
    let Some(deleted) = deleted else { return };
    chunks.retain(|chunk| {
        !deleted.covers(
            chunk.min_time().max(min_time),
            chunk.max_time().min(max_time),
        )
    });
}

impl Series for ChunkSeries {
    fn labels(&self) -> &Labels {
        &self.labels
    }

    fn iter(&self) -> Box<dyn SampleIterator> {
        let chunks = Box::new(ChunkSeriesIterator::new(
            self.chunks.clone(),
            self.min_time,
            self.max_time,
        ));
        match &self.deleted {
            Some(deleted) => Box::new(DeletedSkippingIterator::new(chunks, deleted.clone())),
            None => chunks,
        }
    }
}

/// Reads the head and the blocks that overlap `[min_time, max_time]`.
pub(crate) struct DbQuerier {
    pub head: Arc<Head>,
    pub blocks: Vec<Arc<Block>>,
    pub min_time: i64,
    pub max_time: i64,
}

impl DbQuerier {
    fn head_set(&self, matchers: &[Matcher]) -> Box<dyn SeriesSet> {
        let series: Vec<Box<dyn Series>> = self
            .head
            .select(self.min_time, self.max_time, matchers)
            .into_iter()
            .map(|selected| {
                Box::new(
                    ChunkSeries::new(
                        selected.labels,
                        selected.chunks,
                        self.min_time,
                        self.max_time,
                    )
                    .with_deleted(selected.deleted),
                ) as Box<dyn Series>
            })
            .collect();
        Box::new(VecSeriesSet::new(series))
    }

    fn matching_label_sets(&self, matchers: &[Matcher]) -> Vec<Labels> {
        let mut all = self
            .head
            .matching_labels(self.min_time, self.max_time, matchers);
        for block in &self.blocks {
            all.extend(block.matching_labels(self.min_time, self.max_time, matchers));
        }
        all
    }
}

impl Querier for DbQuerier {
    fn select(
        &self,
        _sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Box<dyn SeriesSet> {
        // Hints may narrow the window; never widen it.
        let (min_time, max_time) = match hints {
            Some(h) if h.start != 0 || h.end != 0 => {
                (self.min_time.max(h.start), self.max_time.min(h.end))
            }
            _ => (self.min_time, self.max_time),
        };
        let narrowed = DbQuerier {
            head: self.head.clone(),
            blocks: Vec::new(),
            min_time,
            max_time,
        };
        let mut sets: Vec<Box<dyn SeriesSet>> = Vec::with_capacity(self.blocks.len() + 1);
        for block in &self.blocks {
            if block.overlaps(min_time, max_time) {
                sets.push(block.select(min_time, max_time, matchers));
            }
        }
        sets.push(narrowed.head_set(matchers));
        merge_series_sets(sets)
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        if matchers.is_empty() {
            let mut values: BTreeSet<String> = self.head.label_values(name).into_iter().collect();
            for block in &self.blocks {
                values.extend(block.label_values(name));
            }
            return Ok(values.into_iter().collect());
        }
        let values: BTreeSet<String> = self
            .matching_label_sets(matchers)
            .iter()
            .filter_map(|labels| labels.get(name).map(str::to_string))
            .collect();
        Ok(values.into_iter().collect())
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        if matchers.is_empty() {
            let mut names: BTreeSet<String> = self.head.label_names().into_iter().collect();
            for block in &self.blocks {
                names.extend(block.label_names());
            }
            return Ok(names.into_iter().collect());
        }
        let mut names = BTreeSet::new();
        for labels in self.matching_label_sets(matchers) {
            for label in labels.iter() {
                if !names.contains(label.name) {
                    names.insert(label.name.to_string());
                }
            }
        }
        Ok(names.into_iter().collect())
    }
}
