//! Bytes per sample on disk: promshard's blocks against Prometheus's.
//!
//! Run: `cargo bench --bench bytes_per_sample` (optionally
//! `-- --hosts N --hours H`). It prints a table; no criterion.
//!
//! The data set (`promshard::tsdb::chunkenc::dataset`, seeded): node-exporter-
//! like series, about 585 per host (CPU, memory, disk, network, filesystem,
//! load, netstat/vmstat/sockstat, hwmon, scrape-collector durations, Go and
//! process metrics, info metrics and the scrape's own series), 2 hosts by
//! default, a 15 s interval with a few ms of scrape jitter (mostly 0–3 ms,
//! 14 % up to 8 ms, 1 % 10–60 ms), 6 hours. Values are what node_exporter
//! prints: hundredths for CPU seconds, kB×1024 memory, 512-byte sectors,
//! millisecond and nanosecond times divided into seconds, a wall clock.
//!
//! Compared, all lossless:
//! - promshard blocks, written by the real `BlockWriter` into a temporary
//!   directory for block ranges of 2 h (as cut from the head) and of the
//!   compacted ranges 6 h and 18 h (the largest with the default 15 d
//!   retention) while the data set spans more than the previous range;
//!   measured as the bytes of `chunks/` and of the whole block directories
//!   (index and meta.json included), then read back through `Block::open`
//!   and compared bit for bit with the input;
//! - promshard's sealed version 1 (one self-contained chunk per series per
//!   2 h, framed as a block frames it), the format before shared columns;
//! - promshard XOR: 120-sample `XorChunk`s, framed the same way;
//! - Prometheus: the same samples written as OpenMetrics and turned into
//!   blocks by `promtool tsdb create-blocks-from openmetrics` (Debian's
//!   /usr/bin/promtool, skipped if missing): the blocks' `chunks/` bytes
//!   and total bytes. Its chunks are also decoded with promshard's XOR
//!   iterator as a compatibility check.
//!
//! - VictoriaMetrics: the same samples imported into a real
//!   VictoriaMetrics (Debian's /usr/bin/victoria-metrics, skipped if
//!   missing), flushed and merged: the bytes of its data parts, and with
//!   its indexdb, per sample it kept (it drops NaNs; not lossless).
//!
//! `-- --input FILE` measures a recorded data set instead of the generated
//! one: OpenMetrics with a timestamp on every sample, gzip-compressed if
//! the name ends in `.gz`. `benches/data/node-host-recording.om.gz` is one
//! (see `benches/data/README.md`).
//!
//! With `--breakdown` it also prints where the value bytes of 2 h chunks go,
//! per metric family; `--skip-promtool` leaves Prometheus out and
//! `--skip-victoria-metrics` VictoriaMetrics.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use promshard::model::Labels;
use promshard::storage::SampleIterator;
use promshard::tsdb::block::{Block, BlockWriter};
use promshard::tsdb::chunkenc::dataset::{
    DatasetConfig, GeneratedSeries, node_exporter_like, scrape_jitter_entropy_bits,
};
use promshard::tsdb::chunkenc::{
    ChunkIterator, Encoding, XorChunk, encode_sealed, encode_timestamp_column, encode_value_column,
};
use promshard::tsdb::chunks::ChunkSeriesIterator;
use promshard::tsdb::cli::read_openmetrics;

#[path = "bytes_per_sample/recording.rs"]
mod recording;
#[path = "bytes_per_sample/victoria_metrics.rs"]
mod victoria_metrics;

const HOUR_MS: i64 = 3_600_000;
const BLOCK_RANGE_MS: i64 = 2 * HOUR_MS;
const XOR_SAMPLES_PER_CHUNK: usize = 120;

fn main() -> anyhow::Result<()> {
    let mut config = DatasetConfig::default();
    let arguments: Vec<String> = std::env::args().collect();
    let argument = |name: &str| {
        arguments
            .windows(2)
            .find(|pair| pair[0] == name)
            .map(|pair| pair[1].clone())
    };
    if let Some(base) = argument("--export-from") {
        let seconds: u64 = argument("--export-seconds")
            .unwrap_or_else(|| "86400".into())
            .parse()?;
        let output = argument("--output").unwrap_or_else(|| "recording.om.gz".into());
        return recording::export(&base, seconds, Path::new(&output));
    }
    for pair in arguments.windows(2) {
        match pair[0].as_str() {
            "--hosts" => config.hosts = pair[1].parse()?,
            "--hours" => config.hours = pair[1].parse()?,
            _ => {}
        }
    }
    let breakdown = arguments.iter().any(|a| a == "--breakdown");
    let input = argument("--input");
    let series = match &input {
        Some(path) => read_recording(Path::new(path))?,
        None => node_exporter_like(&config),
    };
    let total_samples: usize = series.iter().map(|s| s.samples.len()).sum();
    let first = series
        .iter()
        .filter_map(|s| s.samples.first())
        .map(|s| s.0)
        .min();
    let last = series
        .iter()
        .filter_map(|s| s.samples.last())
        .map(|s| s.0)
        .max();
    let span_ms = first.zip(last).map_or(0, |(first, last)| last - first);
    match &input {
        Some(path) => println!(
            "data set: {path}: {} series, {:.2} h, {} samples",
            series.len(),
            span_ms as f64 / HOUR_MS as f64,
            total_samples
        ),
        None => println!(
            "data set: {} hosts, {} series, {} h at {} ms, {} samples",
            config.hosts,
            series.len(),
            config.hours,
            config.interval_ms,
            total_samples
        ),
    }

    let mut rows: Vec<(String, f64)> = Vec::new();
    let per_sample = |bytes: usize| bytes as f64 / total_samples as f64;

    if input.is_none() {
        // What the generator's random draws amount to: values per series,
        // and the scrape jitter once per target and scrape.
        let value_entropy_bits: f64 = series
            .iter()
            .map(|one| one.value_entropy_bits * one.samples.len() as f64)
            .sum();
        let scrapes = (i64::from(config.hours) * HOUR_MS / config.interval_ms) as f64;
        let jitter_entropy_bits = scrape_jitter_entropy_bits() * scrapes * config.hosts as f64;
        rows.push((
            "data set's own entropy (estimate; floor for lossless)".into(),
            (value_entropy_bits + jitter_entropy_bits) / 8.0 / total_samples as f64,
        ));
    }

    let mut labelled: Vec<(Labels, &GeneratedSeries)> = series
        .iter()
        .map(|one| {
            let mut pairs = vec![("__name__".to_string(), one.name.clone())];
            pairs.extend(one.labels.iter().cloned());
            (Labels::from_pairs(&pairs), one)
        })
        .collect();
    labelled.sort_by(|a, b| a.0.cmp(&b.0));
    let span_hours = span_ms.div_euclid(HOUR_MS) + 1;
    let mut speeds = String::new();
    // 2 h blocks as cut from the head, then each compacted range until one
    // block range holds the whole data set (a recording shorter than a
    // range is compacted into one block of it, as the TSDB would).
    let mut previous_range_hours = 0;
    for range_hours in [2i64, 6, 18] {
        if previous_range_hours >= span_hours {
            break;
        }
        previous_range_hours = range_hours;
        let started = Instant::now();
        let written = write_blocks(&labelled, range_hours * HOUR_MS)?;
        let write_seconds = started.elapsed().as_secs_f64();
        let compacted = if range_hours == 2 {
            "cut from the head"
        } else {
            "compacted"
        };
        rows.push((
            format!("promshard blocks, {range_hours}h ranges ({compacted}), chunks/"),
            per_sample(written.chunk_bytes),
        ));
        rows.push((
            format!("promshard blocks, {range_hours}h ranges, whole blocks"),
            per_sample(written.block_bytes),
        ));
        speeds.push_str(&format!(
            "{range_hours}h blocks: {} blocks, written at {:.2} M samples/s, read back at {:.2} M samples/s\n",
            written.blocks,
            total_samples as f64 / write_seconds / 1e6,
            total_samples as f64 / written.read_seconds / 1e6,
        ));
    }

    let (block_payload, block_chunks) = sealed_v1_bytes(&series, Some(BLOCK_RANGE_MS));
    rows.push((
        "sealed v1 (no shared timestamps), 2h chunks, framed".into(),
        per_sample(block_payload + block_chunks.1),
    ));
    let (xor_payload, xor_chunks) = xor_bytes(&series);
    rows.push((
        "promshard XOR, 120-sample chunks, framed".into(),
        per_sample(xor_payload + xor_chunks.1),
    ));

    let skip_promtool = arguments.iter().any(|a| a == "--skip-promtool");
    match if skip_promtool {
        None
    } else {
        promtool_bytes(&series)?
    } {
        Some(prometheus) => {
            rows.push((
                "Prometheus (promtool), chunks/".into(),
                per_sample(prometheus.chunk_bytes),
            ));
            rows.push((
                "Prometheus (promtool), whole blocks".into(),
                per_sample(prometheus.block_bytes),
            ));
            println!(
                "promtool: {} blocks, {} chunks; promshard's XOR iterator decoded {} of its samples",
                prometheus.blocks, prometheus.chunks, prometheus.decoded_samples
            );
        }
        None => println!("promtool not found: Prometheus figures skipped"),
    }

    if !arguments.iter().any(|a| a == "--skip-victoria-metrics") {
        match victoria_metrics::victoria_metrics_bytes(&series) {
            Ok(Some(figures)) if figures.rows > 0 => {
                let per_row = |bytes: u64| bytes as f64 / figures.rows as f64;
                rows.push((
                    "VictoriaMetrics 1.79, data parts (per sample kept)".into(),
                    per_row(figures.storage_bytes),
                ));
                rows.push((
                    "VictoriaMetrics 1.79, data parts + indexdb".into(),
                    per_row(figures.storage_bytes + figures.index_bytes),
                ));
                println!(
                    "victoria-metrics kept {} of {} samples (it drops NaNs, staleness markers included)",
                    figures.rows, total_samples
                );
            }
            Ok(Some(_)) => println!("victoria-metrics kept no samples: skipped"),
            Ok(None) => println!("victoria-metrics not found: its figures skipped"),
            Err(error) => println!("victoria-metrics failed, its figures skipped: {error:#}"),
        }
    }

    println!();
    println!("| {:<58} | {:>8} |", "store", "B/sample");
    println!("|{:-<60}|{:->10}|", "", "");
    for (name, value) in &rows {
        println!("| {name:<58} | {value:>8.3} |");
    }
    println!();
    print!("{speeds}");
    if breakdown {
        print_breakdown(&series, total_samples);
    }
    Ok(())
}

struct WrittenBlocks {
    blocks: usize,
    chunk_bytes: usize,
    block_bytes: usize,
    read_seconds: f64,
}

/// Writes the series into blocks of `range` (aligned as Prometheus aligns
/// them) with the real block writer, measures them, reads them back and
/// checks every sample bit for bit.
fn write_blocks(
    series: &[(Labels, &GeneratedSeries)],
    range: i64,
) -> anyhow::Result<WrittenBlocks> {
    let directory = tempfile::tempdir()?;
    let first = series
        .iter()
        .filter_map(|s| s.1.samples.first())
        .map(|s| s.0)
        .min();
    let last = series
        .iter()
        .filter_map(|s| s.1.samples.last())
        .map(|s| s.0)
        .max();
    let (Some(first), Some(last)) = (first, last) else {
        anyhow::bail!("empty data set");
    };
    let mut written = WrittenBlocks {
        blocks: 0,
        chunk_bytes: 0,
        block_bytes: 0,
        read_seconds: 0.0,
    };
    let mut block_start = first.div_euclid(range) * range;
    while block_start <= last {
        let block_end = block_start + range;
        let mut writer = BlockWriter::new(directory.path(), block_start, block_end, 1, Vec::new())?;
        for (labels, one) in series {
            writer.add_series(labels.clone(), &one.samples)?;
        }
        let Some(meta) = writer.finish()? else {
            block_start = block_end;
            continue;
        };
        let block_dir = directory.path().join(&meta.ulid);
        written.blocks += 1;
        written.chunk_bytes += directory_bytes(&block_dir.join("chunks"))?;
        written.block_bytes += directory_bytes(&block_dir)?;

        let started = Instant::now();
        let block = Block::open(&block_dir)?;
        let mut expected = series.iter().filter(|(_, one)| {
            one.samples
                .iter()
                .any(|s| s.0 >= block_start && s.0 < block_end)
        });
        for read in block.series() {
            let Some((labels, one)) = expected.next() else {
                anyhow::bail!("block holds more series than written");
            };
            anyhow::ensure!(&read.labels == labels, "series order differs");
            let mut iterator = ChunkSeriesIterator::new(read.chunks.clone(), i64::MIN, i64::MAX);
            let mut wanted = one
                .samples
                .iter()
                .filter(|s| s.0 >= block_start && s.0 < block_end);
            while let Some((t, v)) = iterator.next() {
                let Some(&(want_t, want_v)) = wanted.next() else {
                    anyhow::bail!("{labels}: more samples read than written");
                };
                anyhow::ensure!(
                    t == want_t && v.to_bits() == want_v.to_bits(),
                    "{labels}: read ({t}, {v}) but wrote ({want_t}, {want_v})"
                );
            }
            anyhow::ensure!(iterator.err().is_none(), "{labels}: {:?}", iterator.err());
            anyhow::ensure!(wanted.next().is_none(), "{labels}: samples missing");
        }
        anyhow::ensure!(expected.next().is_none(), "series missing from the block");
        written.read_seconds += started.elapsed().as_secs_f64();
        block_start = block_end;
    }
    Ok(written)
}

/// Where the bytes of 2 h chunks go: timestamp columns (one per host per
/// block) and value columns per metric family, largest first.
fn print_breakdown(series: &[GeneratedSeries], total_samples: usize) {
    let mut time_columns: HashMap<Vec<i64>, usize> = HashMap::new();
    let mut families: HashMap<&str, (usize, usize, f64)> = HashMap::new();
    for one in series {
        for piece in split_by_block(&one.samples, Some(BLOCK_RANGE_MS)) {
            let times: Vec<i64> = piece.iter().map(|s| s.0).collect();
            let values: Vec<f64> = piece.iter().map(|s| s.1).collect();
            let time_bytes = encode_timestamp_column(&times).len();
            time_columns.entry(times).or_insert(time_bytes);
            let family = families.entry(one.name.as_str()).or_default();
            family.0 += encode_value_column(&values).len();
            family.1 += piece.len();
            family.2 += one.value_entropy_bits * piece.len() as f64;
        }
    }
    let time_bytes: usize = time_columns.values().sum();
    println!(
        "\ntimestamp columns: {} of them, {} bytes, {:.4} B/sample",
        time_columns.len(),
        time_bytes,
        time_bytes as f64 / total_samples as f64
    );
    let mut sorted: Vec<_> = families.into_iter().collect();
    sorted.sort_by_key(|family| std::cmp::Reverse(family.1.0));
    println!(
        "| {:<44} | {:>9} | {:>8} | {:>8} | {:>10} |",
        "family", "bytes", "bits/smp", "entropy", "B/sample"
    );
    for (name, (bytes, samples, entropy_bits)) in sorted.iter().take(30) {
        println!(
            "| {name:<44} | {bytes:>9} | {:>8.2} | {:>8.2} | {:>10.4} |",
            *bytes as f64 * 8.0 / *samples as f64,
            entropy_bits / *samples as f64,
            *bytes as f64 / total_samples as f64
        );
    }
    let all: usize = sorted.iter().map(|f| f.1.0).sum();
    println!(
        "value columns in all: {all} bytes, {:.4} B/sample",
        all as f64 / total_samples as f64
    );
}

/// Chunk-file framing as Prometheus writes it: uvarint length, encoding
/// byte, CRC32.
fn framing_bytes(payload: usize) -> usize {
    let mut length_bytes = 1;
    let mut rest = payload >> 7;
    while rest > 0 {
        length_bytes += 1;
        rest >>= 7;
    }
    length_bytes + 1 + 4
}

/// Sealed version 1 payload bytes and (chunk count, framing bytes).
fn sealed_v1_bytes(
    series: &[GeneratedSeries],
    block_range: Option<i64>,
) -> (usize, (usize, usize)) {
    let mut payload = 0;
    let mut chunks = 0;
    let mut framing = 0;
    for one in series {
        for piece in split_by_block(&one.samples, block_range) {
            let (_, bytes) = encode_sealed(piece);
            payload += bytes.len();
            framing += framing_bytes(bytes.len());
            chunks += 1;
        }
    }
    (payload, (chunks, framing))
}

fn split_by_block(samples: &[(i64, f64)], block_range: Option<i64>) -> Vec<&[(i64, f64)]> {
    let Some(range) = block_range else {
        return vec![samples];
    };
    samples
        .chunk_by(|a, b| a.0.div_euclid(range) == b.0.div_euclid(range))
        .collect()
}

fn xor_bytes(series: &[GeneratedSeries]) -> (usize, (usize, usize)) {
    let mut payload = 0;
    let mut chunks = 0;
    let mut framing = 0;
    for one in series {
        for block in split_by_block(&one.samples, Some(BLOCK_RANGE_MS)) {
            for piece in block.chunks(XOR_SAMPLES_PER_CHUNK) {
                let mut chunk = XorChunk::new();
                for &(t, v) in piece {
                    chunk.append(t, v);
                }
                payload += chunk.bytes().len();
                framing += framing_bytes(chunk.bytes().len());
                chunks += 1;
            }
        }
    }
    (payload, (chunks, framing))
}

struct PrometheusFigures {
    blocks: usize,
    chunks: usize,
    chunk_bytes: usize,
    block_bytes: usize,
    decoded_samples: usize,
}

fn promtool_bytes(series: &[GeneratedSeries]) -> anyhow::Result<Option<PrometheusFigures>> {
    let promtool = Path::new("/usr/bin/promtool");
    if !promtool.exists() {
        return Ok(None);
    }
    let directory = tempfile::tempdir()?;
    let input = directory.path().join("data.om");
    write_openmetrics(series, &input)?;
    let output = directory.path().join("blocks");
    let status = Command::new(promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics", "--quiet"])
        .arg(&input)
        .arg(&output)
        .status()?;
    anyhow::ensure!(status.success(), "promtool failed: {status}");
    let mut figures = PrometheusFigures {
        blocks: 0,
        chunks: 0,
        chunk_bytes: 0,
        block_bytes: 0,
        decoded_samples: 0,
    };
    for block in std::fs::read_dir(&output)? {
        let block = block?.path();
        if !block.is_dir() {
            continue;
        }
        figures.blocks += 1;
        figures.block_bytes += directory_bytes(&block)?;
        for segment in std::fs::read_dir(block.join("chunks"))? {
            let segment = std::fs::read(segment?.path())?;
            figures.chunk_bytes += segment.len();
            let (chunks, samples) = decode_prometheus_segment(&segment)?;
            figures.chunks += chunks;
            figures.decoded_samples += samples;
        }
    }
    Ok(Some(figures))
}

fn directory_bytes(path: &Path) -> anyhow::Result<usize> {
    let mut total = 0;
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let metadata = entry.metadata()?;
        total += if metadata.is_dir() {
            directory_bytes(&entry.path())?
        } else {
            metadata.len() as usize
        };
    }
    Ok(total)
}

/// Walks a Prometheus block chunk segment (8-byte header, then per chunk
/// uvarint length, encoding byte, data, CRC32) and decodes every chunk.
fn decode_prometheus_segment(segment: &[u8]) -> anyhow::Result<(usize, usize)> {
    let mut position = 8;
    let mut chunks = 0;
    let mut samples = 0;
    while position < segment.len() {
        let mut length = 0usize;
        let mut shift = 0;
        loop {
            let byte = *segment
                .get(position)
                .ok_or_else(|| anyhow::anyhow!("truncated"))?;
            position += 1;
            length |= usize::from(byte & 0x7f) << shift;
            shift += 7;
            if byte < 0x80 {
                break;
            }
        }
        let encoding = Encoding::try_from(segment[position])?;
        position += 1;
        let data = segment
            .get(position..position + length)
            .ok_or_else(|| anyhow::anyhow!("chunk past the end of the segment"))?;
        let mut iterator = ChunkIterator::new(encoding, data);
        while iterator.next().is_some() {
            samples += 1;
        }
        anyhow::ensure!(iterator.err().is_none(), "chunk error {:?}", iterator.err());
        position += length + 4;
        chunks += 1;
    }
    Ok((chunks, samples))
}

/// Reads a recorded data set: OpenMetrics with a timestamp on every sample,
/// gzip-compressed when the name ends in `.gz`.
fn read_recording(path: &Path) -> anyhow::Result<Vec<GeneratedSeries>> {
    let compressed = std::fs::read(path)?;
    let body = if path.extension().is_some_and(|e| e == "gz") {
        let mut body = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(compressed.as_slice()),
            &mut body,
        )?;
        body
    } else {
        compressed
    };
    let series = read_openmetrics(&body, path)?;
    Ok(series
        .into_iter()
        .map(|(labels, samples)| {
            let mut pairs = labels.to_pairs();
            let name_at = pairs.iter().position(|(name, _)| name == "__name__");
            let name = name_at.map_or_else(String::new, |at| pairs.remove(at).1);
            GeneratedSeries {
                name,
                labels: pairs,
                samples,
                value_entropy_bits: f64::NAN,
            }
        })
        .collect())
}

/// A float as OpenMetrics writes it.
fn openmetrics_float(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_string()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        value.to_string()
    }
}

/// A label value with OpenMetrics's escapes.
fn escape_label_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn write_openmetrics(series: &[GeneratedSeries], path: &Path) -> anyhow::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    write_openmetrics_to(series, &mut file)?;
    file.flush()?;
    Ok(())
}

/// Writes `series` as OpenMetrics, one series after another.
fn write_openmetrics_to(series: &[GeneratedSeries], file: &mut dyn Write) -> anyhow::Result<()> {
    for one in series {
        let labels: Vec<String> = one
            .labels
            .iter()
            .map(|(name, value)| format!("{name}=\"{}\"", escape_label_value(value)))
            .collect();
        let prefix = format!("{}{{{}}}", one.name, labels.join(","));
        for &(t, v) in &one.samples {
            writeln!(
                file,
                "{prefix} {} {}.{:03}",
                openmetrics_float(v),
                t.div_euclid(1000),
                t.rem_euclid(1000)
            )?;
        }
    }
    writeln!(file, "# EOF")?;
    Ok(())
}
