//! `promshard tsdb dump|list|import openmetrics`: offline tools over a data
//! directory, as `promtool tsdb` has them.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use super::TsdbError;
use super::block::{Block, BlockWriter};
use super::compact::{Leftovers, load_blocks};
use super::head::Head;
use super::metrics::TsdbMetrics;
use super::querier::DbQuerier;
use crate::model::textparse::{Entry, Format, Parser};
use crate::model::{Labels, Matcher, ScratchBuilder};
use crate::storage::Querier;

fn write_error(error: std::io::Error) -> TsdbError {
    TsdbError::io("<output>", error)
}

/// Formats a float as Go's `%g` does (what `promtool tsdb dump` prints).
pub fn format_go_float(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    // Go's shortest %g switches to exponent form below 1e-4 and from 1e6.
    if !(-4..6).contains(&exponent) {
        return format!(
            "{mantissa}e{}{:02}",
            if exponent < 0 { '-' } else { '+' },
            exponent.abs()
        );
    }
    format!("{value}")
}

/// A read-only view of a data directory: blocks, plus the head rebuilt from
/// the WAL without repairing or writing anything.
fn open_read_only(dir: &Path) -> Result<(Arc<Head>, Vec<Arc<Block>>), TsdbError> {
    if !dir.is_dir() {
        return Err(TsdbError::InvalidArgument(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    let metrics = TsdbMetrics::register(&prometheus::Registry::new())?;
    let blocks = load_blocks(dir, Leftovers::Keep)?;
    let head = Arc::new(Head::new(i64::MAX / 4, metrics));
    if let Some(newest) = blocks.iter().map(|b| b.meta().max_time).max() {
        head.set_min_valid_time(newest);
    }
    super::replay::replay(&dir.join("wal"), &head, false)?;
    Ok((head, blocks))
}

/// Writes every sample in `[min_time, max_time]` of the series matching
/// `matchers` (all series when empty), one line per sample:
/// `{labels} value timestamp`. Returns the number of samples written.
pub fn dump(
    dir: &Path,
    min_time: i64,
    max_time: i64,
    matchers: &[Matcher],
    out: &mut dyn Write,
) -> Result<u64, TsdbError> {
    let (head, blocks) = open_read_only(dir)?;
    let querier = DbQuerier {
        head,
        blocks: blocks
            .into_iter()
            .filter(|b| b.overlaps(min_time, max_time))
            .collect(),
        min_time,
        max_time,
    };
    let all_series;
    let matchers = if matchers.is_empty() {
        all_series = [
            Matcher::new(crate::model::MatchType::Regex, "__name__", ".*")
                .map_err(|e| TsdbError::InvalidArgument(e.to_string()))?,
        ];
        &all_series[..]
    } else {
        matchers
    };
    let mut set = querier.select(true, None, matchers);
    let mut written = 0u64;
    while let Some(series) = set.next() {
        let labels = series.labels().to_string();
        let mut iterator = series.iter();
        while let Some((t, v)) = iterator.next() {
            writeln!(out, "{labels} {} {t}", format_go_float(v)).map_err(write_error)?;
            written += 1;
        }
        if let Some(error) = iterator.err() {
            return Err(TsdbError::corruption(dir, error.to_string()));
        }
    }
    if let Some(error) = set.err() {
        return Err(TsdbError::corruption(dir, error.to_string()));
    }
    Ok(written)
}

fn format_time(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| millis.to_string())
}

/// Writes a table of the blocks in `dir`, oldest first, as `promtool tsdb
/// list` does. Returns the number of blocks.
pub fn list(dir: &Path, out: &mut dyn Write) -> Result<usize, TsdbError> {
    let blocks = load_blocks(dir, Leftovers::Keep)?;
    writeln!(
        out,
        "BLOCK ULID\tMIN TIME\tMAX TIME\tDURATION\tNUM SAMPLES\tNUM CHUNKS\tNUM SERIES\tSIZE"
    )
    .map_err(write_error)?;
    for block in &blocks {
        let meta = block.meta();
        let duration =
            std::time::Duration::from_millis((meta.max_time - meta.min_time).max(0) as u64);
        writeln!(
            out,
            "{}\t{}\t{}\t{}s\t{}\t{}\t{}\t{}B",
            meta.ulid,
            format_time(meta.min_time),
            format_time(meta.max_time),
            duration.as_secs(),
            meta.stats.num_samples,
            meta.stats.num_chunks,
            meta.stats.num_series,
            block.size_bytes()
        )
        .map_err(write_error)?;
    }
    Ok(blocks.len())
}

/// What an import wrote.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ImportReport {
    /// Blocks written.
    pub blocks: usize,
    /// Samples written.
    pub samples: u64,
    /// Distinct series read.
    pub series: usize,
}

/// One series read from an OpenMetrics file: its labels and samples.
pub type ImportedSeries = (Labels, Vec<(i64, f64)>);

/// Parses an OpenMetrics body in which every sample has a timestamp
/// (`source` names it in errors) into its series, sorted by labels, each
/// with its samples in time order and one sample per timestamp (the first
/// one read wins).
pub fn read_openmetrics(body: &[u8], source: &Path) -> Result<Vec<ImportedSeries>, TsdbError> {
    let mut parser = Parser::new(body, Format::OpenMetrics);
    let mut builder = ScratchBuilder::default();
    let mut by_series: HashMap<Labels, Vec<(i64, f64)>> = HashMap::new();
    let mut cache: HashMap<Vec<u8>, Labels> = HashMap::new();
    loop {
        let entry = parser
            .next()
            .map_err(|e| TsdbError::InvalidArgument(format!("{}: {e}", source.display())))?;
        let Some(entry) = entry else { break };
        let Entry::Series {
            series,
            timestamp_ms,
            value,
        } = entry
        else {
            continue;
        };
        let Some(t) = timestamp_ms else {
            return Err(TsdbError::InvalidArgument(format!(
                "{}: line {}: sample without a timestamp",
                source.display(),
                parser.line_number()
            )));
        };
        let labels = match cache.get(series) {
            Some(labels) => labels.clone(),
            None => {
                builder.reset();
                parser.series_labels(&mut builder);
                let labels = builder.labels();
                cache.insert(series.to_vec(), labels.clone());
                labels
            }
        };
        by_series.entry(labels).or_default().push((t, value));
    }
    let mut series: Vec<ImportedSeries> = by_series.into_iter().collect();
    series.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (_, samples) in &mut series {
        samples.sort_by_key(|s| s.0);
        samples.dedup_by_key(|s| s.0);
    }
    Ok(series)
}

/// Reads an OpenMetrics file and writes its samples into blocks of
/// `block_range_ms` (aligned, as `promtool tsdb create-blocks-from
/// openmetrics` does) in `dir`, printing progress to `out`. Every sample
/// needs a timestamp. Existing blocks are left alone; a running server picks
/// the new blocks up at its next maintenance pass or restart.
pub fn import_openmetrics(
    file: &Path,
    dir: &Path,
    block_range_ms: i64,
    out: &mut dyn Write,
) -> Result<ImportReport, TsdbError> {
    if block_range_ms <= 0 {
        return Err(TsdbError::InvalidArgument(
            "block range must be positive".to_string(),
        ));
    }
    let body = std::fs::read(file).map_err(|e| TsdbError::io(file, e))?;
    std::fs::create_dir_all(dir).map_err(|e| TsdbError::io(dir, e))?;
    let series = read_openmetrics(&body, file)?;
    let (mut min_time, mut max_time) = (i64::MAX, i64::MIN);
    for (_, samples) in &series {
        if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
            min_time = min_time.min(first.0);
            max_time = max_time.max(last.0);
        }
    }
    let mut report = ImportReport {
        series: series.len(),
        ..ImportReport::default()
    };
    if series.is_empty() {
        writeln!(out, "no samples in {}", file.display()).map_err(write_error)?;
        return Ok(report);
    }
    let first_block = min_time.div_euclid(block_range_ms) * block_range_ms;
    let total_windows =
        (max_time.div_euclid(block_range_ms) * block_range_ms - first_block) / block_range_ms + 1;
    let mut window_start = first_block;
    let mut window_number = 0;
    while window_start <= max_time {
        let window_end = window_start + block_range_ms;
        let mut writer = BlockWriter::new(dir, window_start, window_end, 1, Vec::new())?;
        for (labels, samples) in &series {
            if let Err(error) = writer.add_series(labels.clone(), samples) {
                writer.abort();
                return Err(error);
            }
        }
        window_number += 1;
        if let Some(meta) = writer.finish()? {
            report.blocks += 1;
            report.samples += meta.stats.num_samples;
            writeln!(
                out,
                "block {} [{}, {}): {} series, {} samples ({}%)",
                meta.ulid,
                format_time(meta.min_time),
                format_time(meta.max_time),
                meta.stats.num_series,
                meta.stats.num_samples,
                window_number * 100 / total_windows
            )
            .map_err(write_error)?;
        }
        window_start = window_end;
    }
    writeln!(
        out,
        "imported {} samples of {} series into {} blocks",
        report.samples, report.series, report.blocks
    )
    .map_err(write_error)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_go_percent_g() {
        let cases = [
            (1.0, "1"),
            (0.5, "0.5"),
            (-2.25, "-2.25"),
            (1e6, "1e+06"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ];
        for (value, expected) in cases {
            assert_eq!(format_go_float(value), expected, "{value}");
        }
    }

    #[test]
    fn import_then_dump_gives_the_same_samples() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("input.om");
        let mut text = String::from("# TYPE http_requests counter\n");
        let mut expected = Vec::new();
        for step in 0..300i64 {
            let t_seconds = 1_700_000_000 + step * 60;
            for code in ["200", "500"] {
                let value = (step * 3) as f64 + 0.25;
                text.push_str(&format!(
                    "http_requests_total{{code=\"{code}\"}} {value} {t_seconds}\n"
                ));
                expected.push(format!(
                    "{{__name__=\"http_requests_total\", code=\"{code}\"}} {} {}",
                    format_go_float(value),
                    t_seconds * 1000
                ));
            }
        }
        text.push_str("# EOF\n");
        std::fs::write(&input, text).unwrap();
        let data = dir.path().join("data");
        let mut progress = Vec::new();
        let report = import_openmetrics(&input, &data, 2 * 3600 * 1000, &mut progress).unwrap();
        assert_eq!(report.samples, 600);
        assert!(
            report.blocks >= 3,
            "5 hours span at least 3 two-hour blocks"
        );
        assert!(String::from_utf8(progress).unwrap().contains("100%"));

        let mut dumped = Vec::new();
        assert_eq!(
            dump(&data, i64::MIN, i64::MAX, &[], &mut dumped).unwrap(),
            600
        );
        let mut dumped: Vec<String> = String::from_utf8(dumped)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        dumped.sort();
        expected.sort();
        assert_eq!(dumped, expected);

        // A block another process is writing right now is not touched by
        // the read-only tools.
        let in_progress = data.join("01JBLOCKBEINGWRITTEN000000.tmp");
        std::fs::create_dir_all(&in_progress).unwrap();
        let mut listing = Vec::new();
        assert_eq!(list(&data, &mut listing).unwrap(), report.blocks);
        assert!(in_progress.is_dir(), "list removed a block being written");
        assert!(
            String::from_utf8(listing)
                .unwrap()
                .starts_with("BLOCK ULID")
        );
    }

    #[test]
    fn samples_without_timestamps_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("input.om");
        std::fs::write(&input, "up 1\n# EOF\n").unwrap();
        let result =
            import_openmetrics(&input, &dir.path().join("data"), 7_200_000, &mut Vec::new());
        assert!(matches!(result, Err(TsdbError::InvalidArgument(_))));
    }
}
