//! TSDB figures: head append, memory per series, WAL replay, select, bytes
//! per sample on disk. A bench binary that prints a table.
//!
//! Run: `cargo bench --bench tsdb`
//! (set `TSDB_BENCH_SCALE=0.1` for a quick, smaller run)

use std::sync::Arc;
use std::time::{Duration, Instant};

use promshard::model::{Labels, Matcher};
use promshard::storage::{Appendable, Queryable, SeriesRef};
use promshard::tsdb::{Db, DbOptions};

fn scale() -> f64 {
    std::env::var("TSDB_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0)
}

fn scaled(n: usize) -> usize {
    ((n as f64 * scale()) as usize).max(1)
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// node-exporter-like label sets: 10 targets, metrics with a few labels.
fn series_labels(count: usize) -> Vec<Labels> {
    (0..count)
        .map(|i| {
            let target = i % 10;
            Labels::from_pairs(&[
                (
                    "__name__",
                    format!("node_metric_{}_total", (i / 10) % 200).as_str(),
                ),
                ("instance", format!("host-{target}:9100").as_str()),
                ("job", "node"),
                ("cpu", format!("{}", i / 2000).as_str()),
                ("mode", ["user", "system", "idle", "iowait"][i % 4]),
            ])
        })
        .collect()
}

/// A realistic value: counters that grow by varying decimal steps, gauges
/// that wander with two decimals.
fn value(series: usize, step: usize) -> f64 {
    if series.is_multiple_of(3) {
        let base = (series * 7919) as f64;
        ((base + (step as f64) * (series % 17 + 1) as f64 * 0.01) * 100.0).round() / 100.0
    } else if series % 3 == 1 {
        (step * (series % 50 + 1) * 1024) as f64
    } else {
        (((step * 31 + series) % 1000) as f64 / 100.0 + 50.0 * ((step / 40) % 3) as f64 * 0.5)
            .round()
    }
}

fn open(dir: &std::path::Path, block_range_ms: i64) -> Arc<Db> {
    Db::open(
        dir,
        DbOptions {
            block_range_ms,
            ..DbOptions::default()
        },
        &prometheus::Registry::new(),
    )
    .expect("open db")
}

fn row(name: &str, figure: String, detail: String) {
    println!("| {name:<34} | {figure:>22} | {detail}");
}

/// Appends `scrapes` scrapes of every series (one commit per 1000-series
/// target), with cached refs. Returns samples appended.
fn ingest(
    db: &Db,
    labels: &[Labels],
    refs: &mut [SeriesRef],
    scrapes: usize,
    start_step: usize,
) -> u64 {
    let mut total = 0u64;
    for step in start_step..start_step + scrapes {
        let t = step as i64 * 15_000;
        for (target, batch) in labels.chunks(1000).enumerate() {
            let mut appender = db.appender();
            for (offset, series) in batch.iter().enumerate() {
                let index = target * 1000 + offset;
                let v = value(index, step);
                refs[index] = appender
                    .append_ref(refs[index], series, t, v)
                    .expect("append");
            }
            appender.commit().expect("commit");
            total += batch.len() as u64;
        }
    }
    total
}

fn bench_append_and_replay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let series_count = scaled(10_000);
    let scrapes = scaled(240).max(2);
    let labels = series_labels(series_count);
    let mut refs = vec![SeriesRef::UNKNOWN; series_count];
    let db = open(dir.path(), 2 * 3600 * 1000);
    ingest(&db, &labels, &mut refs, 1, 0); // create the series
    let started = Instant::now();
    let samples = ingest(&db, &labels, &mut refs, scrapes, 1);
    let elapsed = started.elapsed();
    row(
        "head append (1 thread, commit/1000)",
        format!(
            "{:.2} M samples/s",
            samples as f64 / elapsed.as_secs_f64() / 1e6
        ),
        format!("{series_count} series x {scrapes} scrapes, cached refs, WAL on"),
    );
    db.close().expect("close");
    drop(db);
    let started = Instant::now();
    let db = open(dir.path(), 2 * 3600 * 1000);
    let elapsed = started.elapsed();
    let replayed = samples + series_count as u64;
    row(
        "WAL replay",
        format!(
            "{:.2} M samples/s",
            replayed as f64 / elapsed.as_secs_f64() / 1e6
        ),
        format!(
            "{replayed} samples in {:.0} ms (open incl.)",
            elapsed.as_secs_f64() * 1e3
        ),
    );

    // Select and decode every series over the last 2h of data.
    let max_t = (scrapes as i64) * 15_000;
    let min_t = max_t - 2 * 3600 * 1000;
    let started = Instant::now();
    let querier = db.querier(min_t, max_t).expect("querier");
    let mut set = querier.select(true, None, &[Matcher::equal("job", "node")]);
    let (mut series_read, mut samples_read) = (0u64, 0u64);
    while let Some(series) = set.next() {
        series_read += 1;
        let mut iterator = series.iter();
        while iterator.next().is_some() {
            samples_read += 1;
        }
    }
    let elapsed = started.elapsed();
    row(
        "select + decode (head)",
        format!("{:.1} ms", elapsed.as_secs_f64() * 1e3),
        format!("{series_read} series, {samples_read} samples over 2h"),
    );
}

fn bench_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let series_count = scaled(100_000);
    let labels = series_labels(series_count);
    let mut refs = vec![SeriesRef::UNKNOWN; series_count];
    let db = open(dir.path(), 2 * 3600 * 1000);
    // Warm allocator and WAL buffers with a tiny run, then measure.
    let before = rss_bytes();
    ingest(&db, &labels, &mut refs, 120, 0);
    let after = rss_bytes();
    let per_series = (after.saturating_sub(before)) as f64 / series_count as f64;
    drop(labels);
    row(
        "memory per active series",
        format!("{per_series:.0} B RSS"),
        format!("{series_count} series x 120 samples (RSS delta incl. label vectors of the bench)"),
    );
    drop(db);
}

fn bench_disk() {
    use promshard::tsdb::chunkenc::dataset::{DatasetConfig, node_exporter_like};
    let dir = tempfile::tempdir().expect("tempdir");
    let config = DatasetConfig {
        hosts: 2,
        hours: 12,
        ..DatasetConfig::default()
    };
    let generated = node_exporter_like(&config);
    let labels: Vec<Labels> = generated
        .iter()
        .map(|g| {
            let mut pairs = g.labels.clone();
            pairs.push(("__name__".to_string(), g.name.clone()));
            Labels::from_pairs(&pairs)
        })
        .collect();
    let db = Db::open(
        dir.path(),
        DbOptions {
            block_range_ms: 2 * 3600 * 1000,
            max_block_duration_ms: Some(6 * 3600 * 1000),
            ..DbOptions::default()
        },
        &prometheus::Registry::new(),
    )
    .expect("open");
    let mut refs = vec![SeriesRef::UNKNOWN; labels.len()];
    let steps = generated.iter().map(|g| g.samples.len()).max().unwrap_or(0);
    for step in 0..steps {
        let mut appender = db.appender();
        for (index, series) in generated.iter().enumerate() {
            if let Some(&(t, v)) = series.samples.get(step) {
                refs[index] = appender
                    .append_ref(refs[index], &labels[index], t, v)
                    .expect("append");
            }
        }
        appender.commit().expect("commit");
    }
    db.run_maintenance().expect("maintenance");
    let blocks = db.blocks();
    let samples: u64 = blocks.iter().map(|b| b.meta().stats.num_samples).sum();
    let bytes: u64 = blocks.iter().map(|b| b.size_bytes()).sum();
    let chunk_bytes: u64 = blocks
        .iter()
        .map(|b| {
            std::fs::metadata(b.dir().join("chunks").join("000001"))
                .map(|m| m.len())
                .unwrap_or(0)
        })
        .sum();
    let levels: Vec<String> = blocks
        .iter()
        .map(|b| {
            format!(
                "{}h/L{}",
                (b.meta().max_time - b.meta().min_time) / 3_600_000,
                b.meta().compaction.level
            )
        })
        .collect();
    row(
        "bytes per sample on disk (blocks)",
        format!("{:.3} B/sample", bytes as f64 / samples.max(1) as f64),
        format!(
            "chunkenc::dataset node-like, {} series, {samples} samples in blocks [{}]; chunk file alone {:.3} B/sample",
            labels.len(),
            levels.join(" "),
            chunk_bytes as f64 / samples.max(1) as f64
        ),
    );
}

fn main() {
    // `cargo bench` passes `--bench`; accept and ignore arguments.
    let _ = Duration::ZERO;
    println!("| {:<34} | {:>22} | detail", "figure", "value");
    println!("|{}|{}|---", "-".repeat(36), "-".repeat(24));
    bench_append_and_replay();
    bench_memory();
    bench_disk();
}
