//! Tests of [`Db`] through the storage traits: the appender contract, WAL
//! replay and repair, the lock file, head cuts, compaction and retention.

use std::sync::Arc;
use std::time::Duration;

use super::{Db, DbOptions, TsdbError};
use crate::model::{Labels, MatchType, Matcher};
use crate::storage::{AppendError, Appendable, Queryable, SeriesRef};

pub(crate) fn open_db(dir: &std::path::Path, options: DbOptions) -> Arc<Db> {
    Db::open(dir, options, &prometheus::Registry::new()).unwrap()
}

fn small_options() -> DbOptions {
    DbOptions {
        block_range_ms: 1000,
        retention_time: Duration::from_secs(3600),
        ..DbOptions::default()
    }
}

fn series(name: &str, job: &str) -> Labels {
    Labels::from_pairs(&[("__name__", name), ("job", job)])
}

pub(crate) fn read_all(db: &dyn Queryable, matchers: &[Matcher]) -> Vec<(Labels, Vec<(i64, f64)>)> {
    let querier = db.querier(i64::MIN, i64::MAX).unwrap();
    let mut set = querier.select(true, None, matchers);
    let mut out = Vec::new();
    while let Some(one) = set.next() {
        let mut iterator = one.iter();
        let mut samples = Vec::new();
        while let Some(sample) = iterator.next() {
            samples.push(sample);
        }
        assert!(iterator.err().is_none());
        out.push((one.labels().clone(), samples));
    }
    assert!(set.err().is_none(), "{:?}", set.err());
    out
}

fn name_is(name: &str) -> Vec<Matcher> {
    vec![Matcher::equal("__name__", name)]
}

#[test]
fn appender_contract() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(dir.path(), DbOptions::default());
    let a = series("a", "x");
    let mut app = db.appender();
    let reference = app.append(&a, 100, 1.0).unwrap();
    assert_eq!(
        app.append_ref(reference, &a, 99, 1.0),
        Err(AppendError::OutOfOrder)
    );
    app.commit().unwrap();

    let mut app = db.appender();
    assert_eq!(app.append(&a, 50, 1.0), Err(AppendError::OutOfOrder));
    assert_eq!(
        app.append(&a, 100, 1.0),
        Ok(reference),
        "same value is accepted"
    );
    assert_eq!(
        app.append(&a, 100, 2.0),
        Err(AppendError::DuplicateSampleForTimestamp)
    );
    assert!(matches!(
        app.append(&Labels::empty(), 100, 2.0),
        Err(AppendError::InvalidLabels(_))
    ));
    // A stale reference falls back to the labels.
    assert_eq!(
        app.append_ref(SeriesRef(987_654), &a, 200, 2.0),
        Ok(reference)
    );
    app.commit().unwrap();
    assert_eq!(
        read_all(&*db, &name_is("a")),
        vec![(a.clone(), vec![(100, 1.0), (200, 2.0)])]
    );

    let mut app = db.appender();
    app.append(&a, 300, 3.0).unwrap();
    app.append(&series("b", "x"), 300, 3.0).unwrap();
    app.rollback().unwrap();
    assert_eq!(
        read_all(&*db, &name_is("a"))[0].1.len(),
        2,
        "rolled back samples are invisible"
    );
    assert!(read_all(&*db, &name_is("b")).is_empty());
}

#[test]
fn samples_far_behind_the_head_are_out_of_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(dir.path(), small_options());
    let mut app = db.appender();
    app.append(&series("a", "x"), 10_000, 1.0).unwrap();
    app.commit().unwrap();
    let mut app = db.appender();
    assert_eq!(
        app.append(&series("b", "x"), 10_000 - 501, 1.0),
        Err(AppendError::OutOfBounds)
    );
    assert!(app.append(&series("b", "x"), 10_000 - 400, 1.0).is_ok());
}

#[test]
fn wal_replay_restores_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let expected;
    {
        let db = open_db(
            dir.path(),
            DbOptions {
                wal_segment_size: 4096,
                ..DbOptions::default()
            },
        );
        for step in 0..200i64 {
            let mut app = db.appender();
            for job in 0..5 {
                app.append(
                    &series("up", &format!("j{job}")),
                    step * 15,
                    (step * job) as f64,
                )
                .unwrap();
            }
            app.commit().unwrap();
        }
        expected = read_all(&*db, &[]);
        db.close().unwrap();
        assert!(
            super::wal::list_segments(&db.wal_dir()).unwrap().len() > 2,
            "segments rotate"
        );
    }
    let db = open_db(dir.path(), DbOptions::default());
    assert_eq!(read_all(&*db, &[]), expected);
    // Appends continue after the replayed samples.
    let mut app = db.appender();
    assert_eq!(
        app.append(&series("up", "j1"), 199 * 15, 0.5),
        Err(AppendError::DuplicateSampleForTimestamp)
    );
    app.append(&series("up", "j1"), 200 * 15, 0.5).unwrap();
    app.commit().unwrap();
}

#[test]
fn torn_and_corrupt_wal_tails_are_repaired_on_open() {
    for damage in ["truncate", "garbage", "flip"] {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = open_db(dir.path(), DbOptions::default());
            for t in 0..50 {
                let mut app = db.appender();
                app.append(&series("a", "x"), t, t as f64).unwrap();
                app.commit().unwrap();
            }
            db.close().unwrap();
        }
        let segment = super::wal::segment_path(&dir.path().join("wal"), 0);
        let mut bytes = std::fs::read(&segment).unwrap();
        match damage {
            "truncate" => bytes.truncate(bytes.len() - 3),
            "garbage" => bytes.extend_from_slice(&[1, 200, 0, 0, 0, 1, 2, 3, 4, 5]),
            _ => {
                let last = bytes.len() - 1;
                bytes[last] ^= 0xff;
            }
        }
        std::fs::write(&segment, &bytes).unwrap();
        let db = open_db(dir.path(), DbOptions::default());
        let samples = &read_all(&*db, &[])[0].1;
        let expected_count = if damage == "garbage" { 50 } else { 49 };
        assert_eq!(samples.len(), expected_count, "{damage}");
        // The repaired log accepts appends and replays cleanly again.
        let mut app = db.appender();
        app.append(&series("a", "x"), 100, 1.0).unwrap();
        app.commit().unwrap();
        db.close().unwrap();
        drop(db);
        let db = open_db(dir.path(), DbOptions::default());
        assert_eq!(
            read_all(&*db, &[])[0].1.len(),
            expected_count + 1,
            "{damage}"
        );
    }
}

#[test]
fn a_second_open_of_the_same_directory_fails_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(dir.path(), DbOptions::default());
    let second = Db::open(
        dir.path(),
        DbOptions::default(),
        &prometheus::Registry::new(),
    );
    let Err(error) = second else {
        panic!("second open succeeded")
    };
    assert!(matches!(error, TsdbError::Locked { .. }));
    assert!(error.to_string().contains("locked"), "{error}");
    db.close().unwrap();
    drop(db);
    assert!(
        Db::open(
            dir.path(),
            DbOptions::default(),
            &prometheus::Registry::new()
        )
        .is_ok()
    );
}

fn ingest(db: &Db, from: i64, to: i64, step: i64) {
    let mut t = from;
    while t < to {
        let mut app = db.appender();
        for job in 0..3 {
            app.append(&series("m", &format!("j{job}")), t, t as f64)
                .unwrap();
        }
        app.commit().unwrap();
        t += step;
    }
}

#[test]
fn head_is_cut_into_blocks_compacted_and_retained() {
    let dir = tempfile::tempdir().unwrap();
    let options = DbOptions {
        block_range_ms: 1000,
        max_block_duration_ms: Some(9000),
        retention_time: Duration::from_millis(20_000),
        ..DbOptions::default()
    };
    let db = open_db(dir.path(), options.clone());
    ingest(&db, 0, 2400, 10);
    db.run_maintenance().unwrap();
    let blocks = db.blocks();
    assert_eq!(blocks.len(), 1, "head spanning 2.4 ranges cuts one block");
    assert_eq!(
        (blocks[0].meta().min_time, blocks[0].meta().max_time),
        (0, 1000)
    );
    assert_eq!(blocks[0].meta().stats.num_series, 3);
    assert_eq!(blocks[0].meta().stats.num_samples, 300);
    assert!(db.head().min_time() >= 1000);
    let all = read_all(&*db, &[]);
    assert_eq!(all.len(), 3);
    assert!(
        all.iter()
            .all(|(_, s)| s.len() == 240 && s.windows(2).all(|w| w[0].0 < w[1].0))
    );

    // Several more ranges: blocks are compacted into 3x and 9x windows that
    // have ended.
    ingest(&db, 2400, 12_000, 10);
    db.run_maintenance().unwrap();
    let ranges: Vec<(i64, i64)> = db
        .blocks()
        .iter()
        .map(|b| (b.meta().min_time, b.meta().max_time))
        .collect();
    assert_eq!(ranges, vec![(0, 9000), (9000, 10000), (10000, 11000)]);
    assert_eq!(db.blocks()[0].meta().compaction.sources.len(), 9);
    let all = read_all(&*db, &[]);
    assert!(
        all.iter()
            .all(|(_, s)| s.len() == 1200 && s.first() == Some(&(0, 0.0))),
        "no sample lost"
    );

    // Reopen: blocks and head (from the checkpoint and WAL) come back.
    db.close().unwrap();
    drop(db);
    let db = open_db(dir.path(), options);
    assert_eq!(read_all(&*db, &[]), all);

    // Time retention removes blocks entirely older than newest - 20s.
    ingest(&db, 12_000, 30_000, 50);
    db.run_maintenance().unwrap();
    let oldest = db.blocks().first().map(|b| b.meta().min_time).unwrap();
    assert!(
        oldest >= 9000,
        "block [0,9000) deleted by retention, oldest now {oldest}"
    );
    let first = read_all(&*db, &[])[0].1[0].0;
    assert!(first >= 9000, "{first}");
}

#[test]
fn size_retention_deletes_oldest_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let options = DbOptions {
        block_range_ms: 1000,
        max_block_duration_ms: Some(1000),
        retention_size: Some(1),
        ..DbOptions::default()
    };
    let db = open_db(dir.path(), options);
    ingest(&db, 0, 5000, 10);
    db.run_maintenance().unwrap();
    assert!(db.blocks().is_empty(), "every block exceeds a 1-byte limit");
    assert!(!read_all(&*db, &[]).is_empty(), "the head is untouched");
}

#[test]
fn label_names_and_values_follow_matchers() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(dir.path(), DbOptions::default());
    let mut app = db.appender();
    app.append(
        &Labels::from_pairs(&[("__name__", "a"), ("job", "x"), ("zone", "eu")]),
        1,
        1.0,
    )
    .unwrap();
    app.append(
        &Labels::from_pairs(&[("__name__", "b"), ("job", "y")]),
        1,
        1.0,
    )
    .unwrap();
    app.commit().unwrap();
    let querier = db.querier(0, 10).unwrap();
    assert_eq!(
        querier.label_names(&[]).unwrap(),
        vec!["__name__", "job", "zone"]
    );
    assert_eq!(querier.label_values("job", &[]).unwrap(), vec!["x", "y"]);
    let only_b = vec![Matcher::new(MatchType::Regex, "__name__", "b").unwrap()];
    assert_eq!(
        querier.label_names(&only_b).unwrap(),
        vec!["__name__", "job"]
    );
    assert_eq!(querier.label_values("job", &only_b).unwrap(), vec!["y"]);
    let outside = db.querier(100, 200).unwrap();
    assert!(outside.label_values("job", &only_b).unwrap().is_empty());
}

#[test]
fn concurrent_appenders_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(dir.path(), DbOptions::default());
    let threads: Vec<_> = (0..4)
        .map(|worker| {
            let db = db.clone();
            std::thread::spawn(move || {
                for t in 0..100 {
                    let mut app = db.appender();
                    for s in 0..50 {
                        app.append(&series("c", &format!("w{worker}s{s}")), t, 1.0)
                            .unwrap();
                    }
                    app.commit().unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let all = read_all(&*db, &name_is("c"));
    assert_eq!(all.len(), 200);
    assert!(all.iter().all(|(_, s)| s.len() == 100));
    assert_eq!(db.stats(10).head_stats.num_series, 200);
}

#[test]
fn wal_truncation_checkpoints_and_respects_reader_holds() {
    let dir = tempfile::tempdir().unwrap();
    let options = DbOptions {
        block_range_ms: 1000,
        wal_segment_size: 2048,
        ..DbOptions::default()
    };
    let db = open_db(dir.path(), options.clone());
    db.set_min_wal_segment_to_keep("remote-write", Some(1));
    ingest(&db, 0, 2400, 10);
    let segments_before = super::wal::list_segments(&db.wal_dir()).unwrap();
    assert!(segments_before.len() > 3);
    db.run_maintenance().unwrap();
    let checkpoint = super::wal::last_checkpoint(&db.wal_dir())
        .unwrap()
        .expect("checkpoint written");
    let segments_after = super::wal::list_segments(&db.wal_dir()).unwrap();
    assert_eq!(
        segments_after.first(),
        Some(&1),
        "segment 1 is held back by the reader"
    );
    assert!(segments_after.last() > Some(&checkpoint.index));

    db.set_min_wal_segment_to_keep("remote-write", None);
    ingest(&db, 2400, 3600, 10);
    db.run_maintenance().unwrap();
    let first = super::wal::list_segments(&db.wal_dir()).unwrap()[0];
    assert!(
        first > 1,
        "hold released: old segments deleted, first is {first}"
    );

    // The head restored from checkpoint + segments equals the live head.
    let expected = read_all(&*db, &[]);
    db.close().unwrap();
    drop(db);
    let db = open_db(dir.path(), options);
    assert_eq!(read_all(&*db, &[]), expected);
}

#[test]
fn a_tailing_reader_sees_each_commit_as_it_lands() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(dir.path(), DbOptions::default());
    let segment = *super::wal::list_segments(&db.wal_dir())
        .unwrap()
        .last()
        .unwrap();
    let mut reader =
        super::wal::SegmentReader::open(&super::wal::segment_path(&db.wal_dir(), segment)).unwrap();
    assert_eq!(reader.next_record().unwrap(), None);
    let mut app = db.appender();
    app.append(&series("t", "x"), 5, 1.5).unwrap();
    app.commit().unwrap();
    let first = reader.next_record().unwrap().expect("series record");
    assert!(matches!(
        super::wal::records::decode(&first),
        Ok(super::wal::records::Record::Series(_))
    ));
    let second = reader.next_record().unwrap().expect("samples record");
    let Ok(super::wal::records::Record::Samples(samples)) = super::wal::records::decode(&second)
    else {
        panic!("expected samples");
    };
    assert_eq!(samples.len(), 1);
    assert_eq!((samples[0].1, samples[0].2), (5, 1.5));
    assert_eq!(reader.next_record().unwrap(), None);
}

#[test]
fn samples_logged_before_their_series_record_survive_replay() {
    let dir = tempfile::tempdir().unwrap();
    let labels = series("race", "x");
    {
        let db = open_db(dir.path(), DbOptions::default());
        // Appender A creates the series but commits last; B commits first.
        let mut creator = db.appender();
        creator.append(&labels, 1, 1.0).unwrap();
        let mut other = db.appender();
        other.append(&labels, 1, 1.0).unwrap();
        other.commit().unwrap();
        creator.commit().unwrap();
        // A dropped appender still logs the series it created.
        let mut dropped = db.appender();
        dropped.append(&series("dropped", "x"), 1, 1.0).unwrap();
        drop(dropped);
        let mut later = db.appender();
        later.append(&series("dropped", "x"), 2, 2.0).unwrap();
        later.commit().unwrap();
        db.close().unwrap();
    }
    let db = open_db(dir.path(), DbOptions::default());
    assert_eq!(
        read_all(&*db, &name_is("race")),
        vec![(labels, vec![(1, 1.0)])]
    );
    assert_eq!(read_all(&*db, &name_is("dropped"))[0].1, vec![(2, 2.0)]);
}

fn write_openmetrics(path: &std::path::Path, name: &str, from_seconds: i64, count: i64) {
    let mut text = format!("# TYPE {name} gauge\n");
    for step in 0..count {
        let t = from_seconds + step;
        text.push_str(&format!("{name}{{job=\"backfill\"}} {step} {t}\n"));
    }
    text.push_str("# EOF\n");
    std::fs::write(path, text).unwrap();
}

#[test]
fn blocks_imported_while_running_are_picked_up_and_overlaps_compacted() {
    let dir = tempfile::tempdir().unwrap();
    let options = DbOptions {
        block_range_ms: 10_000,
        ..DbOptions::default()
    };
    let db = open_db(dir.path(), options);
    ingest(&db, 100_000, 101_000, 100);
    let input = dir.path().join("input.om");
    write_openmetrics(&input, "old", 0, 20);
    let mut progress = Vec::new();
    super::cli::import_openmetrics(&input, dir.path(), 10_000, &mut progress).unwrap();
    assert!(
        read_all(&*db, &name_is("old")).is_empty(),
        "not yet reloaded"
    );
    // A half-written block (no rename yet) must be ignored, not fail.
    std::fs::create_dir_all(dir.path().join("01ARZ3NDEKTSV4RRFFQ69G5FAV.tmp/chunks")).unwrap();
    db.run_maintenance().unwrap();
    let old = read_all(&*db, &name_is("old"));
    assert_eq!(old.len(), 1);
    assert_eq!(old[0].1.len(), 20);
    assert_eq!(db.blocks().len(), 2, "two aligned 10s blocks");

    // A second import overlapping the first: vertical compaction merges
    // them; the data of both stays visible.
    write_openmetrics(&input, "other", 5, 10);
    super::cli::import_openmetrics(&input, dir.path(), 10_000, &mut progress).unwrap();
    db.run_maintenance().unwrap();
    let blocks = db.blocks();
    let ranges: Vec<(i64, i64)> = blocks
        .iter()
        .map(|b| (b.meta().min_time, b.meta().max_time))
        .collect();
    assert!(
        ranges.windows(2).all(|w| w[0].1 <= w[1].0),
        "no overlap left: {ranges:?}"
    );
    assert_eq!(read_all(&*db, &name_is("old"))[0].1.len(), 20);
    assert_eq!(read_all(&*db, &name_is("other"))[0].1.len(), 10);
    assert_eq!(read_all(&*db, &name_is("m")).len(), 3, "head untouched");
}

fn job_is(job: &str) -> Vec<Matcher> {
    vec![Matcher::equal("__name__", "m"), Matcher::equal("job", job)]
}

fn times(db: &Db, matchers: &[Matcher]) -> Vec<i64> {
    read_all(db, matchers)
        .into_iter()
        .flat_map(|(_, samples)| samples.into_iter().map(|s| s.0))
        .collect()
}

#[test]
fn deleted_ranges_are_hidden_in_head_and_blocks_and_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(dir.path(), small_options());
    ingest(&db, 0, 2400, 100);
    db.run_maintenance().unwrap();
    assert_eq!(
        db.blocks().len(),
        1,
        "[0,1000) in a block, the rest in the head"
    );

    // A range across the block and the head, one series only.
    let report = db.delete_series(500, 1500, &job_is("j1")).unwrap();
    assert_eq!((report.block_series, report.head_series), (1, 1));
    let expected: Vec<i64> = (0..24)
        .map(|i| i * 100)
        .filter(|t| !(500..=1500).contains(t))
        .collect();
    assert_eq!(times(&db, &job_is("j1")), expected);
    assert_eq!(
        times(&db, &job_is("j0")).len(),
        24,
        "other series untouched"
    );
    let block_dir = dir.path().join(db.blocks()[0].meta().ulid.as_str());
    assert!(block_dir.join("tombstones").exists());
    let meta = super::block::BlockMeta::read(&block_dir).unwrap();
    assert_eq!(meta.stats.num_tombstones, 1, "meta.json counts them");

    // A whole series deleted disappears from select.
    db.delete_series(i64::MIN, i64::MAX, &job_is("j2")).unwrap();
    assert!(read_all(&*db, &job_is("j2")).is_empty());
    // Restricted query windows inside the deleted range see nothing either.
    let querier = db.querier(600, 1400).unwrap();
    let mut set = querier.select(false, None, &job_is("j1"));
    assert!(
        set.next().is_none(),
        "no series whose window is all deleted"
    );

    // Reopen: the block's file and the WAL's tombstones record restore it.
    db.close().unwrap();
    drop(db);
    let db = open_db(dir.path(), small_options());
    assert_eq!(times(&db, &job_is("j1")), expected);
    assert!(read_all(&*db, &job_is("j2")).is_empty());
}

#[test]
fn head_cut_compaction_and_clean_tombstones_drop_deleted_samples() {
    let dir = tempfile::tempdir().unwrap();
    let options = DbOptions {
        block_range_ms: 1000,
        max_block_duration_ms: Some(3000),
        retention_time: Duration::from_secs(3600),
        ..DbOptions::default()
    };
    let db = open_db(dir.path(), options);
    ingest(&db, 0, 1500, 100);
    // Deleted in the head, before the head is cut: the cut block lacks them.
    db.delete_series(200, 300, &job_is("j0")).unwrap();
    ingest(&db, 1500, 2600, 100);
    db.run_maintenance().unwrap();
    let first_block = db.blocks()[0].clone();
    assert_eq!(
        first_block.meta().stats.num_samples,
        28,
        "30 less 2 deleted"
    );
    assert!(first_block.tombstones().is_empty());

    // Deleted in a block: clean_tombstones rewrites it without them.
    db.delete_series(0, 100, &job_is("j1")).unwrap();
    assert_eq!(db.clean_tombstones().unwrap(), 1);
    let rewritten = db.blocks()[0].clone();
    assert_ne!(rewritten.meta().ulid, first_block.meta().ulid);
    assert_eq!(rewritten.meta().stats.num_samples, 26);
    assert!(rewritten.tombstones().is_empty());
    assert!(!first_block.dir().exists());
    assert_eq!(times(&db, &job_is("j1"))[..2], [200, 300]);
    assert_eq!(db.clean_tombstones().unwrap(), 0, "nothing left to clean");

    // Deleted in a block that compaction merges: the merged block lacks them.
    db.delete_series(0, 0, &job_is("j2")).unwrap();
    ingest(&db, 2600, 4600, 100);
    db.run_maintenance().unwrap();
    let merged = db.blocks()[0].clone();
    assert_eq!((merged.meta().min_time, merged.meta().max_time), (0, 3000));
    assert!(merged.tombstones().is_empty());
    let j2 = times(&db, &job_is("j2"));
    assert_eq!(j2[0], 100, "sample at 0 gone for good");
    assert_eq!(
        merged.meta().stats.num_samples,
        90 - 2 - 2 - 1,
        "3 series x 30 samples less the deleted ones"
    );
}

#[test]
fn a_snapshot_opens_as_a_database_with_the_same_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(dir.path(), small_options());
    ingest(&db, 0, 2400, 100);
    db.run_maintenance().unwrap();
    db.delete_series(0, 200, &job_is("j0")).unwrap();
    db.delete_series(2000, 2100, &job_is("j1")).unwrap();
    let before = read_all(&*db, &[]);

    let with_head = db.new_snapshot_dir();
    let name = with_head.file_name().unwrap().to_string_lossy().to_string();
    assert_eq!(name.len(), 16 + 1 + 16, "{name}");
    assert!(
        name.as_bytes()[8] == b'T' && name.as_bytes()[15] == b'Z',
        "{name}"
    );
    db.snapshot(&with_head, false).unwrap();
    let without_head = dir.path().join("snapshots").join("no-head");
    db.snapshot(&without_head, true).unwrap();
    assert!(
        db.snapshot(&without_head, true).is_err(),
        "never overwrites"
    );

    let copy = open_db(&with_head, small_options());
    assert_eq!(read_all(&*copy, &[]), before);
    let blocks_only = open_db(&without_head, small_options());
    let latest = times(&blocks_only, &job_is("j2"));
    assert_eq!(latest.last(), Some(&900), "only the block [0,1000)");
    // The original is unaffected by the snapshot's copies.
    assert_eq!(read_all(&*db, &[]), before);
}

#[test]
fn wal_tombstones_are_replayed_and_kept_by_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let options = DbOptions {
        wal_segment_size: 4096,
        ..small_options()
    };
    let db = open_db(dir.path(), options.clone());
    ingest(&db, 0, 1200, 10);
    // One range that the head cut writes into a block, one that stays in
    // the head after the cut.
    db.delete_series(100, 199, &job_is("j0")).unwrap();
    db.delete_series(1100, 1199, &job_is("j0")).unwrap();
    ingest(&db, 1200, 1600, 10);
    // The head cut checkpoints the segments holding the tombstones records.
    db.run_maintenance().unwrap();
    assert!(
        std::fs::read_dir(dir.path().join("wal"))
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("checkpoint.")),
        "a checkpoint was written"
    );
    let expected = times(&db, &job_is("j0"));
    assert!(!expected.contains(&150) && !expected.contains(&1150));
    assert!(expected.contains(&1200));
    db.close().unwrap();
    drop(db);
    let db = open_db(dir.path(), options);
    assert_eq!(times(&db, &job_is("j0")), expected);
}
