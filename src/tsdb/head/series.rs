//! One in-memory series: its interned labels and its chunks.

use std::sync::Arc;

use parking_lot::Mutex;

use super::out_of_order::OutOfOrderSamples;
use crate::model::Labels;
use crate::storage::AppendError;
use crate::tsdb::chunks::{ChunkData, ChunkHandle, OpenChunk, SAMPLES_PER_CHUNK};

/// A series in the head. Labels are stored once, here; the postings and the
/// hash map hold the reference or an `Arc` to this value.
pub struct MemSeries {
    /// The series reference (also its id in the WAL).
    pub series_ref: u64,
    /// The series' labels.
    pub labels: Labels,
    pub(crate) state: Mutex<SeriesState>,
}

/// The mutable part of a series, behind its own lock so that appends to
/// different series never contend.
pub(crate) struct SeriesState {
    pub sealed: Vec<ChunkData>,
    pub open: Option<OpenChunk>,
    /// The open chunk is cut when a sample reaches this time (the end of the
    /// block range the chunk started in).
    pub open_chunk_end: i64,
    pub last_time: i64,
    pub last_value_bits: u64,
    /// Samples older than `last_time` accepted within the out-of-order
    /// window; `None` until the first one.
    pub out_of_order: Option<Box<OutOfOrderSamples>>,
}

/// What [`MemSeries::check`] decided about a sample.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Appendability {
    /// A new sample.
    Append,
    /// The same timestamp and value bits as the newest sample: nothing to do.
    Duplicate,
}

impl SeriesState {
    /// Whether a sample may follow the newest committed one.
    #[inline]
    pub fn check(&self, t: i64, v: f64) -> Result<Appendability, AppendError> {
        if self.last_time == i64::MIN || t > self.last_time {
            return Ok(Appendability::Append);
        }
        if t < self.last_time {
            return Err(AppendError::OutOfOrder);
        }
        if v.to_bits() == self.last_value_bits {
            Ok(Appendability::Duplicate)
        } else {
            Err(AppendError::DuplicateSampleForTimestamp)
        }
    }

    /// Appends a sample that passed [`SeriesState::check`]; returns the
    /// change in the number of head chunks (0 or 1).
    #[inline]
    pub fn append(&mut self, t: i64, v: f64, chunk_range: i64) -> i64 {
        let mut new_chunks = 0;
        let must_cut = match &self.open {
            None => true,
            Some(open) => open.num_samples() >= SAMPLES_PER_CHUNK || t >= self.open_chunk_end,
        };
        if must_cut {
            if let Some(full) = self.open.take() {
                self.sealed.push(full.seal());
            }
            self.open = Some(OpenChunk::new());
            self.open_chunk_end = block_end(t, chunk_range);
            new_chunks = 1;
        }
        if let Some(open) = self.open.as_mut() {
            open.append(t, v);
        }
        self.last_time = t;
        self.last_value_bits = v.to_bits();
        new_chunks
    }

    /// Number of chunks (sealed and open).
    pub fn chunk_count(&self) -> usize {
        self.sealed.len() + usize::from(self.open.is_some())
    }

    /// Stores an out-of-order sample (older than `last_time`); false when
    /// its timestamp is already among the out-of-order samples.
    pub fn insert_out_of_order(&mut self, t: i64, v: f64) -> bool {
        self.out_of_order
            .get_or_insert_with(Box::default)
            .insert(t, v)
    }

    /// Whether the series holds any sample, in order or not.
    pub fn has_samples(&self) -> bool {
        self.chunk_count() > 0 || self.out_of_order.as_ref().is_some_and(|o| !o.is_empty())
    }

    /// Timestamp of the oldest sample, in order or not.
    pub fn first_time(&self) -> Option<i64> {
        let in_order = self
            .sealed
            .first()
            .map(|c| c.min_time)
            .or_else(|| self.open.as_ref().map(|o| o.min_time()));
        let out_of_order = self
            .out_of_order
            .as_ref()
            .filter(|o| !o.is_empty())
            .map(|o| o.min_time());
        match (in_order, out_of_order) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Handles to the chunks overlapping `[min_time, max_time]`, with the
    /// out-of-order samples of the window merged in (time order, no
    /// duplicate timestamps).
    pub fn chunks_in(&self, min_time: i64, max_time: i64) -> Vec<ChunkHandle> {
        let handles = self.in_order_chunks_in(min_time, max_time);
        match &self.out_of_order {
            Some(out_of_order) if out_of_order.overlaps(min_time, max_time) => {
                out_of_order.merge_into(handles, min_time, max_time)
            }
            _ => handles,
        }
    }

    fn in_order_chunks_in(&self, min_time: i64, max_time: i64) -> Vec<ChunkHandle> {
        let mut handles: Vec<ChunkHandle> = self
            .sealed
            .iter()
            .filter(|c| c.max_time >= min_time && c.min_time <= max_time)
            .cloned()
            .map(ChunkHandle::Loaded)
            .collect();
        if let Some(open) = &self.open
            && open.num_samples() > 0
            && open.max_time() >= min_time
            && open.min_time() <= max_time
        {
            handles.push(ChunkHandle::Loaded(open.snapshot()));
        }
        handles
    }

    /// Drops chunks that end before `min_time` and out-of-order samples
    /// older than it; returns how many chunks were dropped.
    pub fn truncate_before(&mut self, min_time: i64) -> usize {
        if let Some(out_of_order) = self.out_of_order.as_mut() {
            out_of_order.drop_before(min_time);
            if out_of_order.is_empty() {
                self.out_of_order = None;
            }
        }
        let before = self.chunk_count();
        self.sealed.retain(|c| c.max_time >= min_time);
        if self
            .open
            .as_ref()
            .is_some_and(|open| open.max_time() < min_time)
        {
            self.open = None;
        }
        before - self.chunk_count()
    }
}

/// The end of the block range containing `t` (exclusive).
pub(crate) fn block_end(t: i64, chunk_range: i64) -> i64 {
    t.div_euclid(chunk_range)
        .saturating_add(1)
        .saturating_mul(chunk_range)
}

impl MemSeries {
    /// A new, empty series.
    pub fn new(series_ref: u64, labels: Labels) -> Arc<Self> {
        Arc::new(MemSeries {
            series_ref,
            labels,
            state: Mutex::new(SeriesState {
                sealed: Vec::new(),
                open: None,
                open_chunk_end: i64::MIN,
                last_time: i64::MIN,
                last_value_bits: 0,
                out_of_order: None,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_follows_the_appender_contract() {
        let series = MemSeries::new(1, Labels::from_pairs(&[("a", "b")]));
        let mut state = series.state.lock();
        assert_eq!(state.check(10, 1.0), Ok(Appendability::Append));
        state.append(10, 1.0, 1000);
        assert_eq!(state.check(9, 1.0), Err(AppendError::OutOfOrder));
        assert_eq!(state.check(10, 1.0), Ok(Appendability::Duplicate));
        assert_eq!(
            state.check(10, 2.0),
            Err(AppendError::DuplicateSampleForTimestamp)
        );
        assert_eq!(state.check(11, 2.0), Ok(Appendability::Append));
    }

    #[test]
    fn chunks_are_cut_by_size_and_at_block_boundaries() {
        let series = MemSeries::new(1, Labels::from_pairs(&[("a", "b")]));
        let mut state = series.state.lock();
        for t in 0..(SAMPLES_PER_CHUNK as i64 + 5) {
            state.append(t, t as f64, 1_000_000);
        }
        assert_eq!(state.chunk_count(), 2);
        state.append(1_000_000, 0.0, 1_000_000);
        assert_eq!(state.chunk_count(), 3, "a block boundary cuts a chunk");
        assert_eq!(state.truncate_before(1_000_000), 2);
        assert_eq!(state.chunk_count(), 1);
    }
}
