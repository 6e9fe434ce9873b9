//! Chunk encoding throughput.
//!
//! Run: `cargo bench --bench chunks`
//!
//! - XOR append and iterate: one 120-sample chunk of a node-exporter-like
//!   series (per sample: Criterion's throughput is in elements = samples);
//! - sealed (version 2, the columns blocks store) encode and decode: one
//!   2 h chunk (480 samples at 15 s) of each of a few typical series kinds
//!   from the same data set, both columns in one chunk.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use promshard::tsdb::chunkenc::dataset::{DatasetConfig, GeneratedSeries, node_exporter_like};
use promshard::tsdb::chunkenc::{ChunkIterator, XorChunk, encode_sealed_columns};
use std::hint::black_box;

/// A few series of the data set, two hours each.
fn sample_series() -> Vec<GeneratedSeries> {
    let config = DatasetConfig {
        hosts: 1,
        hours: 2,
        ..DatasetConfig::default()
    };
    let wanted = [
        "node_cpu_seconds_total",
        "node_memory_MemFree_bytes",
        "node_network_receive_bytes_total",
        "node_scrape_collector_duration_seconds",
        "node_time_seconds",
        "up",
    ];
    let mut picked: Vec<GeneratedSeries> = Vec::new();
    for series in node_exporter_like(&config) {
        if wanted.contains(&series.name.as_str()) && !picked.iter().any(|p| p.name == series.name) {
            picked.push(series);
        }
    }
    picked
}

fn xor(c: &mut Criterion) {
    let series = sample_series();
    let mut group = c.benchmark_group("xor");
    for one in &series {
        let samples = &one.samples[..120];
        group.throughput(Throughput::Elements(samples.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("append", &one.name),
            samples,
            |b, samples| {
                b.iter(|| {
                    let mut chunk = XorChunk::new();
                    for &(t, v) in samples {
                        chunk.append(t, v);
                    }
                    black_box(chunk.bytes().len())
                })
            },
        );
        let mut chunk = XorChunk::new();
        for &(t, v) in samples {
            chunk.append(t, v);
        }
        group.bench_with_input(
            BenchmarkId::new("iterate", &one.name),
            &chunk,
            |b, chunk| {
                b.iter(|| {
                    let mut iterator = chunk.iter();
                    let mut sum = 0.0;
                    while let Some((_, v)) = iterator.next() {
                        sum += v;
                    }
                    black_box(sum)
                })
            },
        );
    }
    group.finish();
}

fn sealed(c: &mut Criterion) {
    let series = sample_series();
    let mut group = c.benchmark_group("sealed_columns");
    for one in &series {
        group.throughput(Throughput::Elements(one.samples.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("encode", &one.name),
            &one.samples,
            |b, samples| b.iter(|| black_box(encode_sealed_columns(samples).1.len())),
        );
        let (encoding, bytes) = encode_sealed_columns(&one.samples);
        group.bench_with_input(BenchmarkId::new("decode", &one.name), &bytes, |b, bytes| {
            b.iter(|| {
                let mut iterator = ChunkIterator::new(encoding, bytes);
                let mut sum = 0.0;
                while let Some((_, v)) = iterator.next() {
                    sum += v;
                }
                black_box(sum)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, xor, sealed);
criterion_main!(benches);
