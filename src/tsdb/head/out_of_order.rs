//! The out-of-order samples of one head series: a small sorted buffer
//! beside the in-order chunks, merged into them whenever the series is read
//! (queries, head cut into a block).
//!
//! As in Prometheus, a sample whose timestamp is already in the buffer is
//! dropped, whatever its value (Prometheus cannot tell an update from a
//! duplicate there either). A timestamp that also exists in the in-order
//! chunks is kept in the buffer and the in-order sample wins when merged.

use crate::tsdb::chunks::{ChunkHandle, SAMPLES_PER_CHUNK, decode_all, encode_xor};

/// Out-of-order samples of one series, sorted by timestamp, unique.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct OutOfOrderSamples {
    samples: Vec<(i64, f64)>,
}

impl OutOfOrderSamples {
    /// Inserts a sample in time order; false when its timestamp is already
    /// there (the sample is dropped).
    pub fn insert(&mut self, t: i64, v: f64) -> bool {
        if self.samples.last().is_none_or(|last| t > last.0) {
            self.samples.push((t, v));
            return true;
        }
        match self.samples.binary_search_by_key(&t, |sample| sample.0) {
            Ok(_) => false,
            Err(position) => {
                self.samples.insert(position, (t, v));
                true
            }
        }
    }

    /// True when no sample is held.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Timestamp of the oldest sample (`i64::MAX` when empty).
    pub fn min_time(&self) -> i64 {
        self.samples.first().map_or(i64::MAX, |sample| sample.0)
    }

    /// Drops the samples older than `min_time`.
    pub fn drop_before(&mut self, min_time: i64) {
        self.samples.retain(|sample| sample.0 >= min_time);
    }

    fn within(&self, min_time: i64, max_time: i64) -> &[(i64, f64)] {
        let start = self.samples.partition_point(|sample| sample.0 < min_time);
        let end = self.samples.partition_point(|sample| sample.0 <= max_time);
        &self.samples[start..end.max(start)]
    }

    /// True when a sample lies in `[min_time, max_time]`.
    pub fn overlaps(&self, min_time: i64, max_time: i64) -> bool {
        !self.within(min_time, max_time).is_empty()
    }

    /// The in-order chunks `in_order` (time-ordered, not overlapping) merged
    /// with the buffered samples of `[min_time, max_time]`: time-ordered,
    /// non-overlapping chunks without duplicate timestamps (the in-order
    /// sample wins). In-order chunks that no buffered sample falls among are
    /// passed through untouched.
    pub fn merge_into(
        &self,
        in_order: Vec<ChunkHandle>,
        min_time: i64,
        max_time: i64,
    ) -> Vec<ChunkHandle> {
        let extra = self.within(min_time, max_time);
        let (Some(first), Some(last)) = (extra.first(), extra.last()) else {
            return in_order;
        };
        let (extra_min, extra_max) = (first.0, last.0);
        let mut merged = Vec::with_capacity(in_order.len() + 1);
        let mut touched: Vec<(i64, f64)> = Vec::new();
        let mut position_of_touched = None;
        for handle in &in_order {
            if handle.max_time() < extra_min || handle.min_time() > extra_max {
                merged.push(handle.clone());
                continue;
            }
            let decoded = handle
                .load()
                .and_then(|(encoding, bytes)| decode_all(encoding, &bytes));
            match decoded {
                Ok(samples) => {
                    position_of_touched.get_or_insert(merged.len());
                    touched.extend(samples);
                }
                Err(error) => {
                    // Merging around a chunk that cannot be read would give
                    // overlapping chunks; the in-order ones are served as
                    // they are (and fail where they are read).
                    tracing::warn!(%error, "head chunk undecodable while merging out-of-order samples");
                    return in_order;
                }
            }
        }
        let combined = merge_sorted(&touched, extra);
        let rebuilt = combined
            .chunks(SAMPLES_PER_CHUNK)
            .map(|piece| ChunkHandle::Loaded(encode_xor(piece)));
        let insert_at = position_of_touched
            .unwrap_or_else(|| merged.partition_point(|handle| handle.max_time() < extra_min));
        let tail = merged.split_off(insert_at);
        merged.extend(rebuilt);
        merged.extend(tail);
        merged
    }
}

/// Merges two time-ordered sample lists; on equal timestamps the sample of
/// `preferred` is kept.
fn merge_sorted(preferred: &[(i64, f64)], other: &[(i64, f64)]) -> Vec<(i64, f64)> {
    let mut out = Vec::with_capacity(preferred.len() + other.len());
    let (mut left, mut right) = (0, 0);
    while left < preferred.len() && right < other.len() {
        let (a, b) = (preferred[left], other[right]);
        if a.0 < b.0 {
            out.push(a);
            left += 1;
        } else if b.0 < a.0 {
            out.push(b);
            right += 1;
        } else {
            out.push(a);
            left += 1;
            right += 1;
        }
    }
    out.extend_from_slice(&preferred[left..]);
    out.extend_from_slice(&other[right..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples_of(handles: &[ChunkHandle]) -> Vec<(i64, f64)> {
        handles
            .iter()
            .flat_map(|handle| {
                let (encoding, bytes) = handle.load().unwrap_or_else(|e| panic!("{e}"));
                decode_all(encoding, &bytes).unwrap_or_else(|e| panic!("{e}"))
            })
            .collect()
    }

    /// (name, window start, window end, samples read, chunks returned)
    type MergeCase = (&'static str, i64, i64, Vec<(i64, f64)>, usize);

    fn chunk(samples: &[(i64, f64)]) -> ChunkHandle {
        ChunkHandle::Loaded(encode_xor(samples))
    }

    #[test]
    fn insert_keeps_order_and_drops_repeated_timestamps() {
        let mut buffer = OutOfOrderSamples::default();
        for (t, v, inserted) in [
            (50, 1.0, true),
            (40, 2.0, true),
            (60, 3.0, true),
            (45, 4.0, true),
            (45, 4.0, false),
            (45, 9.0, false),
        ] {
            assert_eq!(buffer.insert(t, v), inserted, "insert {t}");
        }
        assert_eq!(
            buffer.samples,
            vec![(40, 2.0), (45, 4.0), (50, 1.0), (60, 3.0)]
        );
        assert_eq!(buffer.min_time(), 40);
        buffer.drop_before(46);
        assert_eq!(buffer.samples, vec![(50, 1.0), (60, 3.0)]);
        assert!(buffer.overlaps(55, 60) && !buffer.overlaps(51, 59));
    }

    #[test]
    fn merge_interleaves_keeps_untouched_chunks_and_prefers_in_order_samples() {
        let mut buffer = OutOfOrderSamples::default();
        for t in [15, 20, 35, 95] {
            buffer.insert(t, -1.0);
        }
        let in_order = vec![
            chunk(&[(0, 0.0), (10, 0.0)]),
            chunk(&[(20, 0.0), (30, 0.0), (40, 0.0)]),
            chunk(&[(100, 0.0), (110, 0.0)]),
        ];
        let cases: &[MergeCase] = &[
            (
                "whole series",
                i64::MIN,
                i64::MAX,
                vec![
                    (0, 0.0),
                    (10, 0.0),
                    (15, -1.0),
                    (20, 0.0),
                    (30, 0.0),
                    (35, -1.0),
                    (40, 0.0),
                    (95, -1.0),
                    (100, 0.0),
                    (110, 0.0),
                ],
                3,
            ),
            (
                "window holding only the sample after every touched chunk",
                90,
                99,
                vec![
                    (0, 0.0),
                    (10, 0.0),
                    (20, 0.0),
                    (30, 0.0),
                    (40, 0.0),
                    (95, -1.0),
                    (100, 0.0),
                    (110, 0.0),
                ],
                4,
            ),
        ];
        for (name, min_time, max_time, expected, chunk_count) in cases {
            let merged = buffer.merge_into(in_order.clone(), *min_time, *max_time);
            assert_eq!(samples_of(&merged), *expected, "{name}");
            assert_eq!(merged.len(), *chunk_count, "{name}");
            assert!(
                merged
                    .windows(2)
                    .all(|pair| pair[0].max_time() < pair[1].min_time()),
                "{name}: chunks do not overlap"
            );
        }
    }
}
