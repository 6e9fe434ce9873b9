//! Parsing throughput of the exposition parser.
//!
//! Run: `CARGO_TARGET_DIR=/work/targets/parser cargo bench --bench parse`
//! (add `-- --quick` for a shorter run). Input:
//! `../shared/testdata/exposition/alltypes.237mfs.prom.txt`, Prometheus's own
//! benchmark body. Each iteration parses the whole body and builds the label
//! set of every series (`series_labels` into one reused `ScratchBuilder`,
//! then `labels()`), as a scrape of new series does. `prometheus-parse` on
//! the same body is the baseline.
//!
//! Each pair is measured twice: in wall-clock time (criterion's default) and
//! in this thread's CPU time (`*_cpu_time` group), which stays meaningful on
//! a shared, loaded machine where the wall clock counts time spent waiting
//! for a core.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use promshard::model::ScratchBuilder;
use promshard::model::textparse::{Entry, Format, Parser};

const INPUT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/testdata/exposition/alltypes.237mfs.prom.txt"
);

fn read_input() -> Vec<u8> {
    match std::fs::read(INPUT) {
        Ok(body) => body,
        Err(error) => panic!("reading {INPUT}: {error}"),
    }
}

/// Parses `body` and builds every series' labels; returns the series count.
fn parse_with_labels(body: &[u8], builder: &mut ScratchBuilder) -> usize {
    let mut parser = Parser::new(body, Format::PrometheusText);
    let mut series = 0;
    loop {
        match parser.next() {
            Ok(Some(Entry::Series { value, .. })) => {
                parser.series_labels(builder);
                black_box((builder.labels(), value));
                series += 1;
            }
            Ok(Some(entry)) => {
                black_box(entry);
            }
            Ok(None) => return series,
            Err(error) => panic!("benchmark input failed to parse: {error}"),
        }
    }
}

/// The baseline: `prometheus-parse` over the same body.
fn parse_baseline(text: &str) -> usize {
    let lines = text.lines().map(|line| Ok(line.to_owned()));
    match prometheus_parse::Scrape::parse(lines) {
        Ok(scrape) => scrape.samples.len(),
        Err(error) => panic!("baseline failed: {error}"),
    }
}

/// CPU time consumed so far by the calling thread.
fn thread_cpu_time() -> Duration {
    let mut spec = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `spec` is a valid, writable timespec for the call's duration.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut spec) };
    if status != 0 {
        panic!("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    }
    Duration::new(spec.tv_sec as u64, spec.tv_nsec as u32)
}

/// Runs `routine` `iterations` times and returns the thread CPU time used.
fn cpu_time_of(iterations: u64, mut routine: impl FnMut() -> usize) -> Duration {
    let start = thread_cpu_time();
    for _ in 0..iterations {
        black_box(routine());
    }
    thread_cpu_time().saturating_sub(start)
}

fn bench_parse(c: &mut Criterion) {
    let body = read_input();
    let text = String::from_utf8_lossy(&body).into_owned();
    let mut builder = ScratchBuilder::with_capacity(16);

    let mut wall = c.benchmark_group("parse_alltypes_237mfs");
    wall.throughput(Throughput::Bytes(body.len() as u64));
    wall.bench_function("promshard_textparse_with_labels", |b| {
        b.iter(|| parse_with_labels(black_box(&body), &mut builder))
    });
    wall.bench_function("prometheus_parse_baseline", |b| {
        b.iter(|| parse_baseline(black_box(&text)))
    });
    wall.finish();

    let mut cpu = c.benchmark_group("parse_alltypes_237mfs_cpu_time");
    cpu.throughput(Throughput::Bytes(body.len() as u64));
    cpu.bench_function("promshard_textparse_with_labels", |b| {
        b.iter_custom(|iterations| {
            cpu_time_of(iterations, || {
                parse_with_labels(black_box(&body), &mut builder)
            })
        })
    });
    cpu.bench_function("prometheus_parse_baseline", |b| {
        b.iter_custom(|iterations| cpu_time_of(iterations, || parse_baseline(black_box(&text))))
    });
    cpu.finish();
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
