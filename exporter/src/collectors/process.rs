//! The exporter's own `process_*` metrics, as every Prometheus client library
//! exports them, from `/proc/self/stat`, `/proc/self/fd` and `getrlimit(2)`.

use std::path::Path;

use rustix::process::{Resource, getrlimit};

use super::{CollectError, parse_u64_field};
use crate::exposition::{MetricKind, TextWriter};

const FILE: &str = "self/stat";

/// The figures of `/proc/<pid>/stat` the `process_*` metrics need.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessStat {
    /// User plus system CPU time, in clock ticks.
    pub cpu_ticks: u64,
    /// Start time after boot, in clock ticks.
    pub start_ticks: u64,
    /// Virtual memory size in bytes.
    pub virtual_bytes: u64,
    /// Resident set size in pages.
    pub resident_pages: u64,
}

/// Parses `/proc/<pid>/stat`; the command name (in parentheses) may contain spaces.
pub fn parse_process_stat(stat_text: &str) -> Result<ProcessStat, CollectError> {
    let Some(after_command) = stat_text.rfind(')').map(|end| &stat_text[end + 1..]) else {
        return Err(CollectError::Malformed {
            file: FILE,
            line: 1,
            reason: "no command name",
        });
    };
    // Fields after the command start at field 3 (state); see proc(5).
    let mut fields = after_command.split_ascii_whitespace();
    let mut field = |number: usize| -> Result<u64, CollectError> {
        parse_u64_field(fields.nth(number), FILE, 1)
    };
    let user_ticks = field(14 - 3)?;
    let system_ticks = field(0)?;
    let start_ticks = field(22 - 16)?;
    let virtual_bytes = field(0)?;
    let resident_pages = field(0)?;
    Ok(ProcessStat {
        cpu_ticks: user_ticks + system_ticks,
        start_ticks,
        virtual_bytes,
        resident_pages,
    })
}

/// Writes the `process_*` families for the current process.
pub fn write_process(
    procfs_root: &Path,
    stat_text: &str,
    boot_time_seconds: f64,
    ticks_per_second: f64,
    writer: &mut TextWriter<'_>,
) -> Result<(), CollectError> {
    let stat = parse_process_stat(stat_text)?;
    let fd_directory = procfs_root.join("self/fd");
    let open_fds = std::fs::read_dir(&fd_directory)
        .map_err(|source| CollectError::Read {
            path: fd_directory,
            source,
        })?
        .count();
    let limit_value = |limit: Option<u64>| limit.map_or(u64::MAX as f64, |value| value as f64);
    writer.single(
        "process_cpu_seconds_total",
        "Total user and system CPU time spent in seconds.",
        MetricKind::Counter,
        stat.cpu_ticks as f64 / ticks_per_second,
    );
    writer.single(
        "process_max_fds",
        "Maximum number of open file descriptors.",
        MetricKind::Gauge,
        limit_value(getrlimit(Resource::Nofile).current),
    );
    writer.single(
        "process_open_fds",
        "Number of open file descriptors.",
        MetricKind::Gauge,
        open_fds as f64,
    );
    writer.single(
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
        MetricKind::Gauge,
        (stat.resident_pages * rustix::param::page_size() as u64) as f64,
    );
    writer.single(
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        MetricKind::Gauge,
        boot_time_seconds + stat.start_ticks as f64 / ticks_per_second,
    );
    writer.single(
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes.",
        MetricKind::Gauge,
        stat.virtual_bytes as f64,
    );
    writer.single(
        "process_virtual_memory_max_bytes",
        "Maximum amount of virtual memory available in bytes.",
        MetricKind::Gauge,
        limit_value(getrlimit(Resource::As).current),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_found_after_a_command_name_with_spaces_and_parens() {
        let text = "1234 (my (odd) exporter) S 1 1234 1234 0 -1 4194560 500 0 0 0 \
                    250 50 0 0 20 0 3 0 9000 21037056 1500 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        let stat = parse_process_stat(text).unwrap();
        assert_eq!(
            stat,
            ProcessStat {
                cpu_ticks: 300,
                start_ticks: 9000,
                virtual_bytes: 21_037_056,
                resident_pages: 1500,
            }
        );
    }

    #[test]
    fn truncated_or_garbled_stat_is_an_error() {
        for text in [
            "",
            "1 (x) S 1 2 3",
            "1 (x) S 1 1 1 0 -1 0 0 0 0 0 abc 50 0 0 20 0 3 0 9000 1 1",
        ] {
            assert!(parse_process_stat(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn own_process_metrics_are_sane() {
        let stat_text = std::fs::read_to_string("/proc/self/stat").unwrap();
        let mut output = String::new();
        write_process(
            Path::new("/proc"),
            &stat_text,
            1.0e9,
            100.0,
            &mut TextWriter::new(&mut output),
        )
        .unwrap();
        let value_of = |name: &str| -> f64 {
            let line = output
                .lines()
                .find(|line| line.starts_with(&format!("{name} ")))
                .unwrap();
            line.rsplit(' ').next().unwrap().parse().unwrap()
        };
        assert!(value_of("process_resident_memory_bytes") > 0.0);
        assert!(value_of("process_open_fds") >= 3.0);
        assert!(value_of("process_max_fds") >= value_of("process_open_fds"));
        assert!(value_of("process_start_time_seconds") > 1.0e9);
    }
}
