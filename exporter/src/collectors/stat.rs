//! `/proc/stat`: node_exporter's `cpu` collector (`node_cpu_seconds_total`,
//! `node_cpu_guest_seconds_total`) and its `stat` collector (boot time,
//! interrupts, context switches, forks, process counts).

use std::ops::Range;

use super::{CollectError, parse_u64_field};
use crate::exposition::{MetricKind, TextWriter};

const FILE: &str = "stat";

/// The CPU modes node_exporter reports, in `/proc/stat` column order.
const CPU_MODES: [&str; 8] = [
    "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
];

/// One `cpuN` line: where its number sits in the text, and its ten columns in seconds.
struct CpuLine {
    cpu_label: Range<usize>,
    seconds: [f64; 10],
}

/// Scratch space for the `cpu` collector, reused across scrapes.
#[derive(Default)]
pub struct CpuCollector {
    cpu_lines: Vec<CpuLine>,
}

impl CpuCollector {
    /// Writes `node_cpu_seconds_total{cpu,mode}` and
    /// `node_cpu_guest_seconds_total{cpu,mode}` from `/proc/stat`'s text.
    pub fn write(
        &mut self,
        stat_text: &str,
        ticks_per_second: f64,
        writer: &mut TextWriter<'_>,
    ) -> Result<(), CollectError> {
        self.cpu_lines.clear();
        let mut line_start = 0;
        for (line_index, line) in stat_text.split('\n').enumerate() {
            let this_line_start = line_start;
            line_start += line.len() + 1;
            let Some(after_cpu) = line.strip_prefix("cpu") else {
                continue;
            };
            let digits_length = after_cpu.bytes().take_while(u8::is_ascii_digit).count();
            if digits_length == 0 {
                continue; // the aggregate `cpu` line
            }
            let label_start = this_line_start + 3;
            let mut fields = after_cpu[digits_length..].split_ascii_whitespace();
            let mut seconds = [0.0; 10];
            // Older kernels have fewer columns; missing ones stay zero, at least user..idle must exist.
            for (column, slot) in seconds.iter_mut().enumerate() {
                match fields.next() {
                    Some(field) => {
                        let ticks = parse_u64_field(Some(field), FILE, line_index + 1)?;
                        *slot = ticks as f64 / ticks_per_second;
                    }
                    None if column >= 4 => break,
                    None => {
                        return Err(CollectError::Malformed {
                            file: FILE,
                            line: line_index + 1,
                            reason: "cpu line has fewer than four columns",
                        });
                    }
                }
            }
            self.cpu_lines.push(CpuLine {
                cpu_label: label_start..label_start + digits_length,
                seconds,
            });
        }

        writer.family(
            "node_cpu_seconds_total",
            "Seconds the CPUs spent in each mode.",
            MetricKind::Counter,
        );
        for cpu_line in &self.cpu_lines {
            let cpu = &stat_text[cpu_line.cpu_label.clone()];
            for (mode, seconds) in CPU_MODES.iter().zip(cpu_line.seconds) {
                writer.sample(
                    "node_cpu_seconds_total",
                    &[("cpu", cpu), ("mode", mode)],
                    seconds,
                );
            }
        }
        writer.family(
            "node_cpu_guest_seconds_total",
            "Seconds the CPUs spent in guests (VMs) for each mode.",
            MetricKind::Counter,
        );
        for cpu_line in &self.cpu_lines {
            let cpu = &stat_text[cpu_line.cpu_label.clone()];
            for (mode, seconds) in [("user", cpu_line.seconds[8]), ("nice", cpu_line.seconds[9])] {
                writer.sample(
                    "node_cpu_guest_seconds_total",
                    &[("cpu", cpu), ("mode", mode)],
                    seconds,
                );
            }
        }
        Ok(())
    }
}

/// The single-value lines of `/proc/stat` that node_exporter's `stat` collector reports:
/// (key in the file, metric name, help, type).
const STAT_LINES: [(&str, &str, &str, MetricKind); 6] = [
    (
        "btime",
        "node_boot_time_seconds",
        "Node boot time, in unixtime.",
        MetricKind::Gauge,
    ),
    (
        "ctxt",
        "node_context_switches_total",
        "Total number of context switches.",
        MetricKind::Counter,
    ),
    (
        "processes",
        "node_forks_total",
        "Total number of forks.",
        MetricKind::Counter,
    ),
    (
        "intr",
        "node_intr_total",
        "Total number of interrupts serviced.",
        MetricKind::Counter,
    ),
    (
        "procs_blocked",
        "node_procs_blocked",
        "Number of processes blocked waiting for I/O to complete.",
        MetricKind::Gauge,
    ),
    (
        "procs_running",
        "node_procs_running",
        "Number of processes in runnable state.",
        MetricKind::Gauge,
    ),
];

/// Writes the `stat` collector's families and returns the boot time (seconds
/// since the epoch), which the process metrics need.
pub fn write_stat(stat_text: &str, writer: &mut TextWriter<'_>) -> Result<f64, CollectError> {
    let mut values = [None; STAT_LINES.len()];
    for (line_index, line) in stat_text.lines().enumerate() {
        let mut fields = line.split_ascii_whitespace();
        let Some(key) = fields.next() else {
            continue;
        };
        let Some(slot) = STAT_LINES.iter().position(|(wanted, ..)| *wanted == key) else {
            continue;
        };
        // `intr` is followed by per-interrupt counts; its first number is the total.
        values[slot] = Some(parse_u64_field(fields.next(), FILE, line_index + 1)? as f64);
    }
    let boot_time = values[0].ok_or(CollectError::Malformed {
        file: FILE,
        line: 0,
        reason: "no btime line",
    })?;
    for ((_, name, help, kind), value) in STAT_LINES.iter().zip(values) {
        if let Some(value) = value {
            writer.single(name, help, *kind, value);
        }
    }
    Ok(boot_time)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT_FIXTURE: &str = "\
cpu  200 10 300 4000 50 6 7 8 9 1
cpu0 100 5 150 2000 25 3 4 5 6 1
cpu1 100 5 150 2000 25 3 3 3 3 0
intr 527824 0 9 0
ctxt 1000
btime 1700000000
processes 4242
procs_running 3
procs_blocked 1
softirq 1 2 3
";

    #[test]
    fn cpu_seconds_are_ticks_divided_by_user_hz_per_cpu_and_mode() {
        let mut output = String::new();
        CpuCollector::default()
            .write(STAT_FIXTURE, 100.0, &mut TextWriter::new(&mut output))
            .unwrap();
        for expected in [
            "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 1\n",
            "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 20\n",
            "node_cpu_seconds_total{cpu=\"1\",mode=\"steal\"} 0.03\n",
            "node_cpu_guest_seconds_total{cpu=\"0\",mode=\"user\"} 0.06\n",
            "node_cpu_guest_seconds_total{cpu=\"0\",mode=\"nice\"} 0.01\n",
        ] {
            assert!(
                output.contains(expected),
                "missing {expected:?} in\n{output}"
            );
        }
        assert!(
            !output.contains("cpu=\"\""),
            "the aggregate line must not be reported"
        );
        assert_eq!(output.matches("node_cpu_seconds_total{").count(), 16);
    }

    #[test]
    fn stat_lines_become_node_exporter_families_and_boot_time_is_returned() {
        let mut output = String::new();
        let boot_time = write_stat(STAT_FIXTURE, &mut TextWriter::new(&mut output)).unwrap();
        assert_eq!(boot_time, 1_700_000_000.0);
        for expected in [
            "node_boot_time_seconds 1700000000\n",
            "node_intr_total 527824\n",
            "node_context_switches_total 1000\n",
            "node_forks_total 4242\n",
            "node_procs_running 3\n",
            "node_procs_blocked 1\n",
        ] {
            assert!(
                output.contains(expected),
                "missing {expected:?} in\n{output}"
            );
        }
    }

    #[test]
    fn malformed_stat_is_an_error_with_a_line_number_not_a_panic() {
        let cases = [
            ("cpu0 1 2 x 4\n", 1),
            ("cpu0 1 2\n", 1),
            ("btime 1\ncpu0 1 2 3 99999999999999999999999\n", 2),
        ];
        for (text, expected_line) in cases {
            let mut output = String::new();
            let error = CpuCollector::default()
                .write(text, 100.0, &mut TextWriter::new(&mut output))
                .unwrap_err();
            assert!(
                matches!(error, CollectError::Malformed { line, .. } if line == expected_line),
                "{text:?}: {error}"
            );
        }
        let mut output = String::new();
        assert!(write_stat("ctxt 5\n", &mut TextWriter::new(&mut output)).is_err());
    }
}
