//! Bytes per sample on disk: promshard's sealed chunks against Prometheus.
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
//! - promshard sealed: one `encode_sealed` chunk per series per 2 h block
//!   (as the block writer stores it), and per series over the whole range
//!   (as after compaction); with and without chunk-file framing (uvarint
//!   length, encoding byte, CRC32 per chunk, as Prometheus frames chunks);
//! - promshard XOR: 120-sample `XorChunk`s, framed the same way;
//! - Prometheus: the same samples written as OpenMetrics and turned into
//!   blocks by `promtool tsdb create-blocks-from openmetrics` (Debian's
//!   /usr/bin/promtool, skipped if missing): the blocks' `chunks/` bytes
//!   and total bytes. Its chunks are also decoded with promshard's XOR
//!   iterator as a compatibility check.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use promshard::tsdb::chunkenc::dataset::{DatasetConfig, GeneratedSeries, node_exporter_like};
use promshard::tsdb::chunkenc::{ChunkIterator, Encoding, XorChunk, encode_sealed};

const BLOCK_RANGE_MS: i64 = 2 * 3_600_000;
const XOR_SAMPLES_PER_CHUNK: usize = 120;

fn main() -> anyhow::Result<()> {
    let mut config = DatasetConfig::default();
    let arguments: Vec<String> = std::env::args().collect();
    for pair in arguments.windows(2) {
        match pair[0].as_str() {
            "--hosts" => config.hosts = pair[1].parse()?,
            "--hours" => config.hours = pair[1].parse()?,
            _ => {}
        }
    }
    let series = node_exporter_like(&config);
    let total_samples: usize = series.iter().map(|s| s.samples.len()).sum();
    println!(
        "data set: {} hosts, {} series, {} h at {} ms, {} samples",
        config.hosts,
        series.len(),
        config.hours,
        config.interval_ms,
        total_samples
    );

    let mut rows: Vec<(String, f64)> = Vec::new();
    let per_sample = |bytes: usize| bytes as f64 / total_samples as f64;

    let started = Instant::now();
    let (block_payload, block_chunks) = sealed_bytes(&series, Some(BLOCK_RANGE_MS));
    let encode_seconds = started.elapsed().as_secs_f64();
    let (whole_payload, whole_chunks) = sealed_bytes(&series, None);
    let (xor_payload, xor_chunks) = xor_bytes(&series);
    let shared_time_bytes = shared_timestamps_projection(&series);
    rows.push((
        "promshard sealed, 2h chunks, payload".into(),
        per_sample(block_payload),
    ));
    rows.push((
        "promshard sealed, 2h chunks, framed".into(),
        per_sample(block_payload + block_chunks.1),
    ));
    rows.push((
        format!(
            "promshard sealed, {}h chunk (compacted), framed",
            config.hours
        ),
        per_sample(whole_payload + whole_chunks.1),
    ));
    rows.push((
        "projection: 2h chunks, timestamps shared per target".into(),
        per_sample(shared_time_bytes + block_chunks.1),
    ));
    rows.push((
        "promshard XOR, 120-sample chunks, framed".into(),
        per_sample(xor_payload + xor_chunks.1),
    ));

    let (decoded, decode_seconds) = decode_all_sealed(&series);
    assert_eq!(
        decoded, total_samples,
        "sealed chunks decode to every sample"
    );

    match promtool_bytes(&series)? {
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

    println!();
    println!("| {:<52} | {:>8} |", "store", "B/sample");
    println!("|{:-<54}|{:->10}|", "", "");
    for (name, value) in &rows {
        println!("| {name:<52} | {value:>8.3} |");
    }
    println!();
    println!(
        "sealed 2h chunks: {} chunks; encode {:.1} M samples/s, decode {:.1} M samples/s (one core)",
        block_chunks.0,
        total_samples as f64 / encode_seconds / 1e6,
        total_samples as f64 / decode_seconds / 1e6
    );
    Ok(())
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

/// Payload bytes and (chunk count, framing bytes).
fn sealed_bytes(series: &[GeneratedSeries], block_range: Option<i64>) -> (usize, (usize, usize)) {
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

/// Not a format yet: what the sealed chunks would take if a block stored
/// each target's scrape timestamps once (all series of a scrape share
/// them) and chunks held values only. Measured as the sealed size of each
/// series on a perfectly regular grid (its timestamp codes vanish), plus
/// one timestamp-only sealed chunk per target per block.
fn shared_timestamps_projection(series: &[GeneratedSeries]) -> usize {
    let mut bytes = 0;
    let mut columns_seen = std::collections::HashSet::new();
    for one in series {
        for piece in split_by_block(&one.samples, Some(BLOCK_RANGE_MS)) {
            let values_only: Vec<(i64, f64)> = piece
                .iter()
                .enumerate()
                .map(|(index, &(_, v))| (index as i64 * 15_000, v))
                .collect();
            bytes += encode_sealed(&values_only).1.len();
            let timestamps: Vec<i64> = piece.iter().map(|s| s.0).collect();
            if columns_seen.insert(timestamps) {
                let times_only: Vec<(i64, f64)> = piece.iter().map(|&(t, _)| (t, 0.0)).collect();
                bytes += encode_sealed(&times_only).1.len();
            }
        }
    }
    bytes
}

/// Decodes every 2 h sealed chunk: (samples, seconds spent decoding).
fn decode_all_sealed(series: &[GeneratedSeries]) -> (usize, f64) {
    let encoded: Vec<(Encoding, Vec<u8>)> = series
        .iter()
        .flat_map(|one| split_by_block(&one.samples, Some(BLOCK_RANGE_MS)))
        .map(encode_sealed)
        .collect();
    let started = Instant::now();
    let mut count = 0;
    for (encoding, bytes) in &encoded {
        let mut iterator = ChunkIterator::new(*encoding, bytes);
        while iterator.next().is_some() {
            count += 1;
        }
    }
    (count, started.elapsed().as_secs_f64())
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

fn write_openmetrics(series: &[GeneratedSeries], path: &Path) -> anyhow::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    for one in series {
        let labels: Vec<String> = one
            .labels
            .iter()
            .map(|(name, value)| format!("{name}=\"{value}\""))
            .collect();
        let prefix = format!("{}{{{}}}", one.name, labels.join(","));
        for &(t, v) in &one.samples {
            writeln!(
                file,
                "{prefix} {v} {}.{:03}",
                t.div_euclid(1000),
                t.rem_euclid(1000)
            )?;
        }
    }
    writeln!(file, "# EOF")?;
    file.flush()?;
    Ok(())
}
