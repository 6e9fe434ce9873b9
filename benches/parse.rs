//! Parsing throughput of the exposition parser.
//!
//! Run: `CARGO_TARGET_DIR=/work/targets/parser cargo bench --bench parse`
//! (add `-- --quick` for a shorter run). Input:
//! `../shared/testdata/exposition/alltypes.237mfs.prom.txt`, Prometheus's own
//! benchmark body. Each iteration parses the whole body and builds the label
//! set of every series (`series_labels` into one reused `ScratchBuilder`,
//! then `labels()`), as a scrape of new series does. `prometheus-parse` on
//! the same body is the baseline.

use std::hint::black_box;

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

fn bench_parse(c: &mut Criterion) {
    let body = read_input();
    let text = String::from_utf8_lossy(&body).into_owned();
    let mut group = c.benchmark_group("parse_alltypes_237mfs");
    group.throughput(Throughput::Bytes(body.len() as u64));
    let mut builder = ScratchBuilder::with_capacity(16);
    group.bench_function("promshard_textparse_with_labels", |b| {
        b.iter(|| parse_with_labels(black_box(&body), &mut builder))
    });
    group.bench_function("prometheus_parse_baseline", |b| {
        b.iter(|| {
            let lines = black_box(&text).lines().map(|line| Ok(line.to_owned()));
            match prometheus_parse::Scrape::parse(lines) {
                Ok(scrape) => scrape.samples.len(),
                Err(error) => panic!("baseline failed: {error}"),
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
