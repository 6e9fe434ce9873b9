//! Out-of-order ingestion through [`Db`]: the window's edges, duplicates,
//! the merged read order, WAL replay, head cuts and reloads of the window.

use std::sync::Arc;
use std::time::Duration;

use super::db_tests::{open_db, read_all};
use super::{Db, DbOptions};
use crate::model::{Labels, Matcher};
use crate::storage::{AppendError, Appendable};

const WINDOW: i64 = 10_000;

fn options(window: i64) -> DbOptions {
    DbOptions {
        block_range_ms: 100_000,
        retention_time: Duration::from_secs(3600),
        out_of_order_time_window_ms: window,
        ..DbOptions::default()
    }
}

fn metric(name: &str) -> Labels {
    Labels::from_pairs(&[("__name__", name), ("job", "j")])
}

fn append_one(db: &Db, labels: &Labels, t: i64, v: f64) -> Result<(), AppendError> {
    let mut app = db.appender();
    let outcome = app.append(labels, t, v).map(|_| ());
    app.commit().map_err(AppendError::Storage)?;
    outcome
}

fn samples(db: &Db, name: &str) -> Vec<(i64, f64)> {
    read_all(db, &[Matcher::equal("__name__", name)])
        .into_iter()
        .flat_map(|(_, samples)| samples)
        .collect()
}

fn counter(db: &Arc<Db>, name: &str) -> u64 {
    match name {
        "ooo_appended" => db.metrics.head_out_of_order_samples_appended.get(),
        "ooo_refused" => db.metrics.out_of_order_samples.get(),
        "out_of_bounds" => db.metrics.out_of_bound_samples.get(),
        "too_old" => db.metrics.too_old_samples.get(),
        _ => panic!("unknown counter {name}"),
    }
}

#[test]
fn window_edges_decide_what_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(dir.path(), options(WINDOW));
    let a = metric("a");
    append_one(&db, &a, 56_000, 1.0).unwrap();
    // Another series moves the head's newest time on: the window is
    // measured from the head's newest sample, not the series'.
    append_one(&db, &metric("other"), 60_000, 1.0).unwrap();

    let cases: &[(&str, i64, Result<(), AppendError>)] = &[
        ("exactly the window old", 60_000 - WINDOW, Ok(())),
        (
            "one millisecond older than the window",
            60_000 - WINDOW - 1,
            Err(AppendError::TooOldSample),
        ),
        ("inside the window", 55_000, Ok(())),
        ("newer than the series: in order", 58_000, Ok(())),
        ("older than the series again", 57_000, Ok(())),
    ];
    for (name, t, expected) in cases {
        assert_eq!(append_one(&db, &a, *t, *t as f64), *expected, "{name}");
    }
    assert_eq!(
        samples(&db, "a"),
        vec![
            (50_000, 50_000.0),
            (55_000, 55_000.0),
            (56_000, 1.0),
            (57_000, 57_000.0),
            (58_000, 58_000.0)
        ],
        "read back merged in time order"
    );
    assert_eq!(counter(&db, "ooo_appended"), 3);
    assert_eq!(counter(&db, "too_old"), 1);
    assert_eq!(counter(&db, "ooo_refused"), 0);
}

#[test]
fn without_a_window_late_samples_stay_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(dir.path(), options(0));
    let a = metric("a");
    append_one(&db, &a, 50_000, 1.0).unwrap();
    assert_eq!(
        append_one(&db, &a, 49_999, 1.0),
        Err(AppendError::OutOfOrder)
    );
    assert_eq!(counter(&db, "ooo_refused"), 1);
    assert_eq!(counter(&db, "ooo_appended"), 0);
}

#[test]
fn samples_in_a_range_already_cut_into_a_block_are_too_old() {
    let dir = tempfile::tempdir().unwrap();
    let options = DbOptions {
        block_range_ms: 1000,
        out_of_order_time_window_ms: 5000,
        ..options(0)
    };
    let db = open_db(dir.path(), options);
    let a = metric("a");
    for t in (0..2600).step_by(100) {
        append_one(&db, &a, t, t as f64).unwrap();
    }
    db.run_maintenance().unwrap();
    assert_eq!(db.blocks().len(), 1, "[0, 1000) was cut into a block");
    assert_eq!(
        append_one(&db, &a, 999, 1.0),
        Err(AppendError::TooOldSample),
        "inside the window but below the head's minimum valid time"
    );
    assert_eq!(append_one(&db, &a, 1050, 7.0), Ok(()));
    assert!(counter(&db, "too_old") >= 1);
    assert!(samples(&db, "a").contains(&(1050, 7.0)));
}

#[test]
fn duplicates_follow_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(dir.path(), options(WINDOW));
    let a = metric("a");
    append_one(&db, &a, 50_000, 1.0).unwrap();
    append_one(&db, &a, 45_000, 2.0).unwrap();
    // Prometheus drops an out-of-order sample whose timestamp is already
    // among the out-of-order samples, whatever its value, without error.
    assert_eq!(append_one(&db, &a, 45_000, 2.0), Ok(()));
    assert_eq!(append_one(&db, &a, 45_000, 3.0), Ok(()));
    // The newest sample keeps the in-order rule.
    assert_eq!(append_one(&db, &a, 50_000, 1.0), Ok(()));
    assert_eq!(
        append_one(&db, &a, 50_000, 9.0),
        Err(AppendError::DuplicateSampleForTimestamp)
    );
    assert_eq!(samples(&db, "a"), vec![(45_000, 2.0), (50_000, 1.0)]);
    assert_eq!(counter(&db, "ooo_appended"), 1);
}

#[test]
fn one_transaction_may_mix_new_and_late_samples() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(dir.path(), options(WINDOW));
    let a = metric("a");
    append_one(&db, &a, 50_000, 1.0).unwrap();
    let mut app = db.appender();
    app.append(&a, 51_000, 2.0).unwrap();
    app.append(&a, 49_000, 3.0).unwrap();
    app.append(&a, 48_000, 4.0).unwrap();
    app.commit().unwrap();
    assert_eq!(
        samples(&db, "a"),
        vec![(48_000, 4.0), (49_000, 3.0), (50_000, 1.0), (51_000, 2.0)]
    );
}

#[test]
fn reads_merge_in_order_chunks_and_late_samples_in_time_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(dir.path(), options(WINDOW));
    let a = metric("a");
    // Five in-order chunks (120 samples each), every 20 ms; late samples
    // fall between them, 10 ms off the grid, across several chunks.
    for t in (0..600).map(|i| 40_000 + i * 20) {
        append_one(&db, &a, t, 1.0).unwrap();
    }
    let late: Vec<i64> = (0..60).map(|i| 51_990 - i * 100).collect();
    for &t in &late {
        append_one(&db, &a, t, 2.0).unwrap();
    }
    let read = samples(&db, "a");
    assert_eq!(read.len(), 600 + late.len());
    assert!(
        read.windows(2).all(|pair| pair[0].0 < pair[1].0),
        "sorted, no duplicates"
    );
    for &t in &late {
        assert!(read.contains(&(t, 2.0)), "late sample {t} is read back");
    }
    // A query window that starts and ends among the late samples.
    let querier_read = {
        use crate::storage::Queryable;
        let querier = db.querier(46_005, 46_415).unwrap();
        let mut set = querier.select(true, None, &[Matcher::equal("__name__", "a")]);
        let mut out = Vec::new();
        while let Some(series) = set.next() {
            let mut iterator = series.iter();
            while let Some(sample) = iterator.next() {
                out.push(sample);
            }
        }
        out
    };
    assert!(
        querier_read
            .iter()
            .all(|s| (46_005..=46_415).contains(&s.0))
    );
    assert!(querier_read.contains(&(46_090, 2.0)));
    assert!(querier_read.contains(&(46_020, 1.0)));
    assert!(querier_read.windows(2).all(|pair| pair[0].0 < pair[1].0));
}

#[test]
fn replay_rebuilds_the_late_samples() {
    let dir = tempfile::tempdir().unwrap();
    let a = metric("a");
    let before = {
        let db = open_db(dir.path(), options(WINDOW));
        append_one(&db, &a, 50_000, 1.0).unwrap();
        append_one(&db, &a, 60_000, 2.0).unwrap();
        append_one(&db, &a, 55_000, 3.0).unwrap();
        append_one(&db, &a, 52_000, 4.0).unwrap();
        append_one(&db, &a, 52_000, 5.0).unwrap(); // dropped duplicate
        assert_eq!(
            append_one(&db, &a, 40_000, 6.0),
            Err(AppendError::TooOldSample)
        );
        let read = samples(&db, "a");
        db.close().unwrap();
        read
    };
    assert_eq!(
        before,
        vec![(50_000, 1.0), (52_000, 4.0), (55_000, 3.0), (60_000, 2.0)]
    );
    let db = open_db(dir.path(), options(WINDOW));
    assert_eq!(samples(&db, "a"), before, "replay rebuilds the same head");
    assert_eq!(db.head().min_time(), 50_000);
    assert_eq!(db.head().max_time(), 60_000);
}

#[test]
fn head_cut_writes_late_samples_into_the_block_and_frees_them() {
    let dir = tempfile::tempdir().unwrap();
    let options = DbOptions {
        block_range_ms: 1000,
        out_of_order_time_window_ms: 1000,
        ..options(0)
    };
    let db = open_db(dir.path(), options.clone());
    let a = metric("a");
    for t in (0..1600).step_by(100) {
        append_one(&db, &a, t, 1.0).unwrap();
    }
    for t in [650, 950, 1250] {
        append_one(&db, &a, t, 2.0).unwrap();
    }
    for t in (1600..2600).step_by(100) {
        append_one(&db, &a, t, 1.0).unwrap();
    }
    db.run_maintenance().unwrap();
    let blocks = db.blocks();
    assert_eq!(blocks.len(), 1);
    assert_eq!(
        blocks[0].meta().stats.num_samples,
        12,
        "10 in order + 650 + 950"
    );
    // The head keeps only its range: 1250 and the in-order samples >= 1000.
    let state_has_950 = db
        .head()
        .series_by_labels(&a)
        .map(|series| {
            series
                .state
                .lock()
                .chunks_in(0, 999)
                .iter()
                .any(|chunk| chunk.min_time() <= 950 && chunk.max_time() >= 950)
        })
        .unwrap_or(false);
    assert!(!state_has_950, "the cut range left the head");
    let read = samples(&db, "a");
    assert_eq!(read.len(), 26 + 3);
    assert!(
        read.contains(&(650, 2.0)) && read.contains(&(950, 2.0)) && read.contains(&(1250, 2.0))
    );
    assert!(read.windows(2).all(|pair| pair[0].0 < pair[1].0));
    // After a checkpoint and a restart the head still holds 1250.
    db.close().unwrap();
    drop(db);
    let db = open_db(dir.path(), options);
    let read_again = samples(&db, "a");
    assert_eq!(read_again, read);
}

#[test]
fn a_reloaded_window_applies_to_new_appenders() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(dir.path(), options(0));
    let a = metric("a");
    append_one(&db, &a, 50_000, 1.0).unwrap();
    assert_eq!(
        append_one(&db, &a, 49_000, 1.0),
        Err(AppendError::OutOfOrder)
    );
    db.set_out_of_order_time_window(WINDOW);
    assert_eq!(append_one(&db, &a, 49_000, 1.0), Ok(()));
    db.set_out_of_order_time_window(0);
    assert_eq!(
        append_one(&db, &a, 48_000, 1.0),
        Err(AppendError::OutOfOrder)
    );
    assert_eq!(samples(&db, "a"), vec![(49_000, 1.0), (50_000, 1.0)]);
}

#[test]
fn concurrent_late_appends_to_one_series_all_land_and_replay_alike() {
    let dir = tempfile::tempdir().unwrap();
    let a = metric("a");
    let read = {
        let db = open_db(dir.path(), options(WINDOW));
        append_one(&db, &a, 60_000, 0.0).unwrap();
        std::thread::scope(|scope| {
            for thread in 0..4i64 {
                let db = &db;
                let a = &a;
                scope.spawn(move || {
                    for i in 0..200i64 {
                        let t = 59_999 - (i * 4 + thread) * 10;
                        let mut app = db.appender();
                        app.append(a, t, thread as f64).unwrap();
                        app.commit().unwrap();
                    }
                });
            }
        });
        let read = samples(&db, "a");
        assert_eq!(read.len(), 801);
        assert!(read.windows(2).all(|pair| pair[0].0 < pair[1].0));
        assert_eq!(counter(&db, "ooo_appended"), 800);
        db.close().unwrap();
        read
    };
    let db = open_db(dir.path(), options(WINDOW));
    assert_eq!(samples(&db, "a"), read);
}

#[test]
fn late_samples_survive_a_restart_with_the_window_removed() {
    // As Prometheus replays its out-of-order log with the feature off:
    // what was acknowledged stays.
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open_db(dir.path(), options(WINDOW));
        append_one(&db, &metric("a"), 60_000, 1.0).unwrap();
        append_one(&db, &metric("a"), 55_000, 2.0).unwrap();
        db.close().unwrap();
    }
    let db = open_db(dir.path(), options(0));
    assert_eq!(samples(&db, "a"), vec![(55_000, 2.0), (60_000, 1.0)]);
}

#[test]
fn samples_committed_during_a_head_cut_are_kept_or_counted_never_lost() {
    // New series accepted through the window just below the range a head
    // cut is writing, committed while the cut runs: each sample ends up in
    // the block, in the head, or counted as out of bounds.
    let series = 2000;
    let mut lost_total = 0;
    for iteration in 0..60u64 {
        let dir = tempfile::tempdir().unwrap();
        let db = open_db(dir.path(), options(200_000));
        let mut app = db.appender();
        app.append(&metric("anchor"), 0, 0.0).unwrap();
        app.append(&metric("anchor"), 160_000, 0.0).unwrap();
        app.commit().unwrap();
        let mut app = db.appender();
        for i in 0..100_000i64 {
            app.append(&metric("filler"), 110_000 + i, 1.0).unwrap();
        }
        for i in (0..series).rev() {
            app.append(&metric(&format!("s{i:05}")), 99_000, 1.0)
                .unwrap();
        }
        let barrier = std::sync::Barrier::new(2);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                barrier.wait();
                app.commit().unwrap();
            });
            scope.spawn(|| {
                barrier.wait();
                std::thread::sleep(Duration::from_millis(iteration * 4));
                db.compact_head().unwrap();
            });
        });
        let matcher = Matcher::new(crate::model::MatchType::Regex, "__name__", "s.*").unwrap();
        let visible: usize = read_all(&*db, &[matcher])
            .iter()
            .map(|(_, samples)| samples.len())
            .sum();
        let refused = (db.metrics.out_of_bound_samples.get() as usize).min(series);
        lost_total += series - visible - refused;
    }
    assert_eq!(lost_total, 0, "acknowledged samples vanished");
}
