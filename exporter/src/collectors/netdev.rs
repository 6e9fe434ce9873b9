//! `/proc/net/dev`: node_exporter's `netdev` collector,
//! `node_network_{receive,transmit}_<statistic>_total{device}`.

use std::ops::Range;

use regex::Regex;

use super::{CollectError, parse_u64_field};
use crate::exposition::{MetricKind, TextWriter};

const FILE: &str = "net/dev";

/// The sixteen columns of `/proc/net/dev`, in file order: (metric name, help).
const STATISTICS: [(&str, &str); 16] = [
    (
        "node_network_receive_bytes_total",
        "Network device statistic receive_bytes.",
    ),
    (
        "node_network_receive_packets_total",
        "Network device statistic receive_packets.",
    ),
    (
        "node_network_receive_errs_total",
        "Network device statistic receive_errs.",
    ),
    (
        "node_network_receive_drop_total",
        "Network device statistic receive_drop.",
    ),
    (
        "node_network_receive_fifo_total",
        "Network device statistic receive_fifo.",
    ),
    (
        "node_network_receive_frame_total",
        "Network device statistic receive_frame.",
    ),
    (
        "node_network_receive_compressed_total",
        "Network device statistic receive_compressed.",
    ),
    (
        "node_network_receive_multicast_total",
        "Network device statistic receive_multicast.",
    ),
    (
        "node_network_transmit_bytes_total",
        "Network device statistic transmit_bytes.",
    ),
    (
        "node_network_transmit_packets_total",
        "Network device statistic transmit_packets.",
    ),
    (
        "node_network_transmit_errs_total",
        "Network device statistic transmit_errs.",
    ),
    (
        "node_network_transmit_drop_total",
        "Network device statistic transmit_drop.",
    ),
    (
        "node_network_transmit_fifo_total",
        "Network device statistic transmit_fifo.",
    ),
    (
        "node_network_transmit_colls_total",
        "Network device statistic transmit_colls.",
    ),
    (
        "node_network_transmit_carrier_total",
        "Network device statistic transmit_carrier.",
    ),
    (
        "node_network_transmit_compressed_total",
        "Network device statistic transmit_compressed.",
    ),
];

struct DeviceLine {
    device: Range<usize>,
    counters: [u64; 16],
}

/// Scratch space for the `netdev` collector, reused across scrapes.
pub struct NetdevCollector {
    device_exclude: Regex,
    devices: Vec<DeviceLine>,
}

impl NetdevCollector {
    /// A collector that skips devices whose name matches `device_exclude`
    /// (node_exporter's `--collector.netdev.device-exclude`, default `^lo$`).
    pub fn new(device_exclude: Regex) -> Self {
        Self {
            device_exclude,
            devices: Vec::new(),
        }
    }

    /// Writes every statistic family for every non-excluded device in `/proc/net/dev`'s text.
    pub fn write(
        &mut self,
        netdev_text: &str,
        writer: &mut TextWriter<'_>,
    ) -> Result<(), CollectError> {
        self.devices.clear();
        let text_start = netdev_text.as_ptr() as usize;
        // The first two lines are headers.
        for (line_index, line) in netdev_text.lines().enumerate().skip(2) {
            let line_number = line_index + 1;
            if line.trim().is_empty() {
                continue;
            }
            let Some((raw_device, columns)) = line.split_once(':') else {
                return Err(CollectError::Malformed {
                    file: FILE,
                    line: line_number,
                    reason: "line has no colon",
                });
            };
            let device = raw_device.trim();
            if self.device_exclude.is_match(device) {
                continue;
            }
            let mut fields = columns.split_ascii_whitespace();
            let mut counters = [0u64; 16];
            for counter in &mut counters {
                *counter = parse_u64_field(fields.next(), FILE, line_number)?;
            }
            let device_start = device.as_ptr() as usize - text_start;
            self.devices.push(DeviceLine {
                device: device_start..device_start + device.len(),
                counters,
            });
        }
        for (column, (name, help)) in STATISTICS.iter().enumerate() {
            writer.family(name, help, MetricKind::Counter);
            for device_line in &self.devices {
                let device = &netdev_text[device_line.device.clone()];
                writer.sample(
                    name,
                    &[("device", device)],
                    device_line.counters[column] as f64,
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:   63151      66    0    0    0     0          0         0    63151      66    0    0    0     0       0          0
  eth0: 149766055    5220    1    2    0     0          0         7   359841    3158    3    4    0     0       0          0
";

    #[test]
    fn every_statistic_is_reported_per_device_and_lo_is_excluded_by_default() {
        let mut output = String::new();
        NetdevCollector::new(Regex::new("^lo$").unwrap())
            .write(FIXTURE, &mut TextWriter::new(&mut output))
            .unwrap();
        for expected in [
            "node_network_receive_bytes_total{device=\"eth0\"} 149766055\n",
            "node_network_receive_packets_total{device=\"eth0\"} 5220\n",
            "node_network_receive_errs_total{device=\"eth0\"} 1\n",
            "node_network_receive_drop_total{device=\"eth0\"} 2\n",
            "node_network_receive_multicast_total{device=\"eth0\"} 7\n",
            "node_network_transmit_bytes_total{device=\"eth0\"} 359841\n",
            "node_network_transmit_packets_total{device=\"eth0\"} 3158\n",
            "node_network_transmit_errs_total{device=\"eth0\"} 3\n",
            "node_network_transmit_drop_total{device=\"eth0\"} 4\n",
        ] {
            assert!(
                output.contains(expected),
                "missing {expected:?} in\n{output}"
            );
        }
        assert!(!output.contains("device=\"lo\""));
        assert_eq!(output.matches("# TYPE").count(), 16);
    }

    #[test]
    fn a_short_device_line_is_an_error_with_its_line_number() {
        let text = "h1\nh2\n eth0: 1 2 3\n";
        let mut output = String::new();
        let error = NetdevCollector::new(Regex::new("^lo$").unwrap())
            .write(text, &mut TextWriter::new(&mut output))
            .unwrap_err();
        assert!(
            matches!(error, CollectError::Malformed { line: 3, .. }),
            "{error}"
        );
    }
}
