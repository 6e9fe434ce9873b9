//! `/proc/diskstats`: node_exporter's `diskstats` collector, `node_disk_*{device}`.

use std::ops::Range;

use regex::Regex;

use super::{CollectError, parse_u64_field};
use crate::exposition::{MetricKind, TextWriter};

const FILE: &str = "diskstats";

/// How a raw column converts to the metric's unit.
#[derive(Clone, Copy)]
enum Scale {
    /// A plain count.
    Count,
    /// 512-byte sectors (Linux's unit in `/proc/diskstats`, whatever the hardware) to bytes.
    Sectors,
    /// Milliseconds to seconds.
    Milliseconds,
}

impl Scale {
    fn apply(self, raw: u64) -> f64 {
        match self {
            Scale::Count => raw as f64,
            Scale::Sectors => raw as f64 * 512.0,
            Scale::Milliseconds => raw as f64 / 1000.0,
        }
    }
}

/// The statistics columns after `major minor name`, in file order:
/// (metric name, help, type, conversion to the metric's unit).
const STATISTICS: [(&str, &str, MetricKind, Scale); 17] = [
    (
        "node_disk_reads_completed_total",
        "The total number of reads completed successfully.",
        MetricKind::Counter,
        Scale::Count,
    ),
    (
        "node_disk_reads_merged_total",
        "The total number of reads merged.",
        MetricKind::Counter,
        Scale::Count,
    ),
    (
        "node_disk_read_bytes_total",
        "The total number of bytes read successfully.",
        MetricKind::Counter,
        Scale::Sectors,
    ),
    (
        "node_disk_read_time_seconds_total",
        "The total number of seconds spent by all reads.",
        MetricKind::Counter,
        Scale::Milliseconds,
    ),
    (
        "node_disk_writes_completed_total",
        "The total number of writes completed successfully.",
        MetricKind::Counter,
        Scale::Count,
    ),
    (
        "node_disk_writes_merged_total",
        "The number of writes merged.",
        MetricKind::Counter,
        Scale::Count,
    ),
    (
        "node_disk_written_bytes_total",
        "The total number of bytes written successfully.",
        MetricKind::Counter,
        Scale::Sectors,
    ),
    (
        "node_disk_write_time_seconds_total",
        "This is the total number of seconds spent by all writes.",
        MetricKind::Counter,
        Scale::Milliseconds,
    ),
    (
        "node_disk_io_now",
        "The number of I/Os currently in progress.",
        MetricKind::Gauge,
        Scale::Count,
    ),
    (
        "node_disk_io_time_seconds_total",
        "Total seconds spent doing I/Os.",
        MetricKind::Counter,
        Scale::Milliseconds,
    ),
    (
        "node_disk_io_time_weighted_seconds_total",
        "The weighted # of seconds spent doing I/Os.",
        MetricKind::Counter,
        Scale::Milliseconds,
    ),
    (
        "node_disk_discards_completed_total",
        "The total number of discards completed successfully.",
        MetricKind::Counter,
        Scale::Count,
    ),
    (
        "node_disk_discards_merged_total",
        "The total number of discards merged.",
        MetricKind::Counter,
        Scale::Count,
    ),
    (
        "node_disk_discarded_sectors_total",
        "The total number of sectors discarded successfully.",
        MetricKind::Counter,
        Scale::Count,
    ),
    (
        "node_disk_discard_time_seconds_total",
        "This is the total number of seconds spent by all discards.",
        MetricKind::Counter,
        Scale::Milliseconds,
    ),
    (
        "node_disk_flush_requests_total",
        "The total number of flush requests completed successfully",
        MetricKind::Counter,
        Scale::Count,
    ),
    (
        "node_disk_flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests.",
        MetricKind::Counter,
        Scale::Milliseconds,
    ),
];

/// Columns every kernel since 2.6 has; newer kernels add discards (4.18) and flushes (5.5).
const MINIMUM_COLUMNS: usize = 11;

struct DeviceLine {
    device: Range<usize>,
    column_count: usize,
    values: [u64; 17],
}

/// Scratch space for the `diskstats` collector, reused across scrapes.
pub struct DiskstatsCollector {
    device_exclude: Regex,
    devices: Vec<DeviceLine>,
}

impl DiskstatsCollector {
    /// A collector that skips devices matching `device_exclude`
    /// (node_exporter's `--collector.diskstats.device-exclude`).
    pub fn new(device_exclude: Regex) -> Self {
        Self {
            device_exclude,
            devices: Vec::new(),
        }
    }

    /// Writes every statistic the kernel provides for every non-excluded device.
    pub fn write(
        &mut self,
        diskstats_text: &str,
        writer: &mut TextWriter<'_>,
    ) -> Result<(), CollectError> {
        self.devices.clear();
        let text_start = diskstats_text.as_ptr() as usize;
        for (line_index, line) in diskstats_text.lines().enumerate() {
            let line_number = line_index + 1;
            let mut fields = line.split_ascii_whitespace();
            let (Some(_major), Some(_minor), Some(device)) =
                (fields.next(), fields.next(), fields.next())
            else {
                if line.trim().is_empty() {
                    continue;
                }
                return Err(CollectError::Malformed {
                    file: FILE,
                    line: line_number,
                    reason: "missing device name",
                });
            };
            if self.device_exclude.is_match(device) {
                continue;
            }
            let mut values = [0u64; 17];
            let mut column_count = 0;
            for (slot, field) in values.iter_mut().zip(fields) {
                *slot = parse_u64_field(Some(field), FILE, line_number)?;
                column_count += 1;
            }
            if column_count < MINIMUM_COLUMNS {
                return Err(CollectError::Malformed {
                    file: FILE,
                    line: line_number,
                    reason: "fewer than eleven statistics",
                });
            }
            let device_start = device.as_ptr() as usize - text_start;
            self.devices.push(DeviceLine {
                device: device_start..device_start + device.len(),
                column_count,
                values,
            });
        }
        for (column, (name, help, kind, scale)) in STATISTICS.iter().enumerate() {
            if !self
                .devices
                .iter()
                .any(|device_line| device_line.column_count > column)
            {
                continue;
            }
            writer.family(name, help, *kind);
            for device_line in self
                .devices
                .iter()
                .filter(|device_line| device_line.column_count > column)
            {
                let device = &diskstats_text[device_line.device.clone()];
                writer.sample(
                    name,
                    &[("device", device)],
                    scale.apply(device_line.values[column]),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host_collector::DEFAULT_DISKSTATS_DEVICE_EXCLUDE;

    const FIXTURE: &str = "\
   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
 254       0 vda 94971 9453 5987578 214845 19496 83835 36020952 150607 0 19268 367155 6295 9 1269032 1644 1150 57
 254       1 vda1 10 0 80 1 0 0 0 0 0 1 1 0 0 0 0 0 0
   8       0 sdb 1 2 4 5000 6 7 8 9 10 11 12
 259       0 nvme0n1 1 0 2 0 0 0 0 0 0 0 0 0 0 0 0
 259       1 nvme0n1p1 1 0 2 0 0 0 0 0 0 0 0 0 0 0 0
";

    fn collect(text: &str) -> Result<String, CollectError> {
        let mut output = String::new();
        DiskstatsCollector::new(Regex::new(DEFAULT_DISKSTATS_DEVICE_EXCLUDE).unwrap())
            .write(text, &mut TextWriter::new(&mut output))?;
        Ok(output)
    }

    #[test]
    fn sectors_become_bytes_and_milliseconds_become_seconds() {
        let output = collect(FIXTURE).unwrap();
        for expected in [
            "node_disk_read_bytes_total{device=\"vda\"} 3065639936\n",
            "node_disk_written_bytes_total{device=\"vda\"} 18442727424\n",
            "node_disk_reads_completed_total{device=\"vda\"} 94971\n",
            "node_disk_writes_completed_total{device=\"vda\"} 19496\n",
            "node_disk_io_time_seconds_total{device=\"vda\"} 19.268\n",
            "node_disk_read_time_seconds_total{device=\"sdb\"} 5\n",
            "node_disk_flush_requests_total{device=\"vda\"} 1150\n",
        ] {
            assert!(
                output.contains(expected),
                "missing {expected:?} in\n{output}"
            );
        }
    }

    #[test]
    fn partitions_loops_and_rams_are_excluded_by_default() {
        let output = collect(FIXTURE).unwrap();
        for excluded in ["loop0", "vda1", "nvme0n1p1"] {
            assert!(
                !output.contains(&format!("device=\"{excluded}\"")),
                "{excluded} reported"
            );
        }
        assert!(output.contains("device=\"nvme0n1\""));
    }

    #[test]
    fn columns_an_old_kernel_lacks_are_not_invented() {
        let output = collect(FIXTURE).unwrap();
        assert!(!output.contains("node_disk_discards_completed_total{device=\"sdb\"}"));
        assert!(!output.contains("node_disk_flush_requests_total{device=\"nvme0n1\"}"));
        assert!(output.contains("node_disk_discards_completed_total{device=\"nvme0n1\"}"));
    }

    #[test]
    fn malformed_lines_are_errors_with_line_numbers() {
        for (text, expected_line) in [
            ("8 0\n", 1),
            ("8 0 sda 1 2 3\n", 1),
            ("8 0 sda 1 2 3 4 5 6 7 8 9 10 x\n", 1),
        ] {
            let error = collect(text).unwrap_err();
            assert!(
                matches!(error, CollectError::Malformed { line, .. } if line == expected_line),
                "{text:?}: {error}"
            );
        }
    }
}
