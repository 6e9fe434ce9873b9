//! Crash recovery: a child process (this test binary, re-executed) ingests
//! steadily into a `Db` and prints every committed timestamp; the test
//! kills it with SIGKILL, reopens the directory and checks that every
//! sample committed at least one second before the kill is queryable.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use promshard::model::{Labels, Matcher};
use promshard::storage::{Appendable, Queryable};
use promshard::tsdb::{Db, DbOptions};

const CHILD_DIR_VARIABLE: &str = "PROMSHARD_TSDB_CRASH_CHILD_DIR";
const SERIES: usize = 50;

fn labels(index: usize) -> Labels {
    Labels::from_pairs(&[("__name__", "crash_test"), ("series", &index.to_string())])
}

fn small_segments() -> DbOptions {
    DbOptions {
        wal_segment_size: 64 * 1024,
        ..DbOptions::default()
    }
}

/// The child: ingests until killed. Does nothing in a normal test run.
#[test]
fn crash_child_ingest_loop() {
    let Ok(dir) = std::env::var(CHILD_DIR_VARIABLE) else {
        return;
    };
    let db = Db::open(
        std::path::Path::new(&dir),
        small_segments(),
        &prometheus::Registry::new(),
    )
    .expect("child opens db");
    let stdout = std::io::stdout();
    for step in 0i64.. {
        let t = step * 10;
        let mut appender = db.appender();
        for index in 0..SERIES {
            appender
                .append(&labels(index), t, t as f64 * 0.5)
                .expect("child appends");
        }
        appender.commit().expect("child commits");
        let mut out = stdout.lock();
        writeln!(out, "committed {t}").expect("child writes stdout");
        out.flush().expect("child flushes stdout");
        drop(out);
        std::thread::sleep(Duration::from_micros(300));
    }
}

#[test]
fn kill_9_during_ingest_keeps_every_sample_committed_a_second_before() {
    let dir = tempfile::tempdir().unwrap();
    let executable = std::env::current_exe().unwrap();
    let mut child = Command::new(executable)
        .args([
            "crash_child_ingest_loop",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR_VARIABLE, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let commits: Arc<Mutex<Vec<(Instant, i64)>>> = Arc::default();
    let stdout = child.stdout.take().unwrap();
    let reader = {
        let commits = commits.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(t) = line.strip_prefix("committed ").and_then(|t| t.parse().ok()) {
                    commits.lock().unwrap().push((Instant::now(), t));
                }
            }
        })
    };
    // Let it ingest for a while (wait for the first commit, then 2.5 s).
    let started = Instant::now();
    while commits.lock().unwrap().is_empty() && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(2500));
    child.kill().unwrap(); // SIGKILL on Unix
    let killed_at = Instant::now();
    child.wait().unwrap();
    reader.join().unwrap();

    let commits = commits.lock().unwrap().clone();
    let durable_before = killed_at - Duration::from_secs(1);
    let newest_safe = commits
        .iter()
        .filter(|(seen, _)| *seen <= durable_before)
        .map(|(_, t)| *t)
        .max()
        .expect("the child committed something at least a second before the kill");
    assert!(newest_safe > 0);

    let db = Db::open(dir.path(), small_segments(), &prometheus::Registry::new()).unwrap();
    let querier = db.querier(0, newest_safe).unwrap();
    let mut set = querier.select(true, None, &[Matcher::equal("__name__", "crash_test")]);
    let mut series_seen = 0;
    while let Some(series) = set.next() {
        series_seen += 1;
        let mut iterator = series.iter();
        let mut expected_t = 0;
        while let Some((t, v)) = iterator.next() {
            assert_eq!(t, expected_t, "no gap in {}", series.labels());
            assert_eq!(v, t as f64 * 0.5);
            expected_t += 10;
        }
        assert_eq!(
            expected_t - 10,
            newest_safe,
            "{} ends early",
            series.labels()
        );
    }
    assert_eq!(series_seen, SERIES);
    // The recovered database keeps accepting samples.
    let mut appender = db.appender();
    appender.append(&labels(0), i64::MAX / 2, 1.0).unwrap();
    appender.commit().unwrap();
}
