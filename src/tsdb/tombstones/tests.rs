use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::storage::SampleIterator;

fn interval(min_time: i64, max_time: i64) -> Interval {
    Interval { min_time, max_time }
}

/// Intervals added, then the merged intervals expected.
type MergeCase<'a> = (&'a [(i64, i64)], &'a [(i64, i64)]);

#[test]
fn intervals_merge_when_they_overlap_or_touch() {
    let cases: &[MergeCase] = &[
        (&[(1, 5)], &[(1, 5)]),
        (&[(1, 5), (7, 9)], &[(1, 5), (7, 9)]),
        (&[(1, 5), (6, 9)], &[(1, 9)]),
        (&[(7, 9), (1, 5), (3, 8)], &[(1, 9)]),
        (&[(10, 20), (1, 2), (30, 40), (15, 31)], &[(1, 2), (10, 40)]),
        (&[(i64::MIN, 0), (1, i64::MAX)], &[(i64::MIN, i64::MAX)]),
        (&[(5, 1)], &[]),
    ];
    for (added, expected) in cases {
        let mut intervals = Intervals::default();
        for (min_time, max_time) in added.iter() {
            intervals.add(interval(*min_time, *max_time));
        }
        let got: Vec<(i64, i64)> = intervals
            .as_slice()
            .iter()
            .map(|i| (i.min_time, i.max_time))
            .collect();
        assert_eq!(&got, expected, "adding {added:?}");
    }
}

#[test]
fn contains_and_covers_follow_closed_ranges() {
    let mut intervals = Intervals::default();
    intervals.add(interval(10, 20));
    intervals.add(interval(40, 50));
    for (t, deleted) in [
        (9, false),
        (10, true),
        (20, true),
        (21, false),
        (45, true),
        (51, false),
    ] {
        assert_eq!(intervals.contains(t), deleted, "t={t}");
    }
    assert!(intervals.covers(10, 20));
    assert!(intervals.covers(42, 44));
    assert!(!intervals.covers(15, 45), "a gap in between");
    assert!(!intervals.covers(0, 5));
}

#[test]
fn file_round_trips_in_prometheus_layout() {
    let dir = tempfile::tempdir().unwrap();
    let mut tombstones = Tombstones::default();
    tombstones.add(3, interval(-10, 20));
    tombstones.add(3, interval(100, 200));
    tombstones.add(1, interval(0, i64::MAX));
    tombstones.write_file(dir.path()).unwrap();
    let bytes = std::fs::read(dir.path().join("tombstones")).unwrap();
    assert_eq!(
        &bytes[..5],
        &[0x01, 0x30, 0xBA, 0x30, 1],
        "magic then version"
    );
    let entries = &bytes[5..bytes.len() - 4];
    assert_eq!(
        &bytes[bytes.len() - 4..],
        &crc32c::crc32c(entries).to_be_bytes(),
        "CRC32C of the entries, big-endian"
    );
    // First entry: series 1 (uvarint 1), mint 0 (zig-zag 0), maxt MaxInt64.
    assert_eq!(&entries[..2], &[1, 0]);
    let read = Tombstones::read_file(dir.path()).unwrap();
    assert_eq!(read, tombstones);
    assert_eq!(read.total(), 3);
    assert!(!dir.path().join("tombstones.tmp").exists());

    let missing = tempfile::tempdir().unwrap();
    assert!(Tombstones::read_file(missing.path()).unwrap().is_empty());
}

#[test]
fn damaged_files_are_errors_not_panics() {
    let mut good = Tombstones::default();
    good.add(7, interval(1, 2));
    let bytes = good.encode();
    let mut flipped = bytes.clone();
    flipped[6] ^= 0xff;
    let mut wrong_magic = bytes.clone();
    wrong_magic[0] = 0;
    let mut wrong_version = bytes.clone();
    wrong_version[4] = 2;
    for damaged in [
        &[][..],
        &bytes[..6],
        &flipped[..],
        &wrong_magic[..],
        &wrong_version[..],
    ] {
        assert!(
            Tombstones::decode(damaged, Path::new("x")).is_err(),
            "{damaged:?}"
        );
    }
}

struct VecIterator {
    samples: Vec<(i64, f64)>,
    position: usize,
}

impl SampleIterator for VecIterator {
    fn next(&mut self) -> Option<(i64, f64)> {
        let sample = self.samples.get(self.position).copied();
        if sample.is_some() {
            self.position += 1;
        }
        sample
    }

    fn at(&self) -> Option<(i64, f64)> {
        self.position
            .checked_sub(1)
            .and_then(|p| self.samples.get(p).copied())
    }
}

#[test]
fn iterator_skips_deleted_samples_on_next_and_seek() {
    let samples: Vec<(i64, f64)> = (0..10).map(|t| (t * 10, t as f64)).collect();
    let mut deleted = Intervals::default();
    deleted.add(interval(20, 45));
    deleted.add(interval(90, 90));
    let deleted = Arc::new(deleted);
    let mut iterator = DeletedSkippingIterator::new(
        Box::new(VecIterator {
            samples: samples.clone(),
            position: 0,
        }),
        deleted.clone(),
    );
    let mut seen = Vec::new();
    while let Some((t, _)) = iterator.next() {
        seen.push(t);
    }
    assert_eq!(seen, vec![0, 10, 50, 60, 70, 80]);

    let mut iterator = DeletedSkippingIterator::new(
        Box::new(VecIterator {
            samples,
            position: 0,
        }),
        deleted,
    );
    assert_eq!(iterator.seek(25), Some((50, 5.0)));
    assert_eq!(iterator.seek(30), Some((50, 5.0)), "seek back stays");
    assert_eq!(iterator.seek(85), None, "90 is deleted, nothing after");
}
