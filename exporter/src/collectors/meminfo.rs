//! `/proc/meminfo`: node_exporter's `meminfo` collector. Every field becomes
//! a gauge `node_memory_<Field>` (`Active(anon)` becomes `Active_anon`); fields
//! in kB are converted to bytes and get the `_bytes` suffix.

use super::{CollectError, parse_u64_field};
use crate::exposition::{MetricKind, TextWriter};

const FILE: &str = "meminfo";

/// Name and help buffers reused across scrapes.
#[derive(Default)]
pub struct MeminfoCollector {
    metric_name: String,
    help: String,
}

impl MeminfoCollector {
    /// Writes one `node_memory_*` family per line of `/proc/meminfo`'s text.
    pub fn write(
        &mut self,
        meminfo_text: &str,
        writer: &mut TextWriter<'_>,
    ) -> Result<(), CollectError> {
        for (line_index, line) in meminfo_text.lines().enumerate() {
            let line_number = line_index + 1;
            if line.trim().is_empty() {
                continue;
            }
            let Some((raw_key, rest)) = line.split_once(':') else {
                return Err(CollectError::Malformed {
                    file: FILE,
                    line: line_number,
                    reason: "line has no colon",
                });
            };
            let mut fields = rest.split_ascii_whitespace();
            let value = parse_u64_field(fields.next(), FILE, line_number)? as f64;
            let in_kilobytes = match fields.next() {
                None => false,
                Some("kB") => true,
                Some(_) => {
                    return Err(CollectError::Malformed {
                        file: FILE,
                        line: line_number,
                        reason: "unknown unit",
                    });
                }
            };

            self.metric_name.clear();
            self.metric_name.push_str("node_memory_");
            let key_start = self.metric_name.len();
            for character in raw_key.trim().chars() {
                match character {
                    '(' => self.metric_name.push('_'),
                    ')' => {}
                    valid if valid.is_ascii_alphanumeric() || valid == '_' => {
                        self.metric_name.push(valid)
                    }
                    _ => self.metric_name.push('_'),
                }
            }
            if in_kilobytes {
                self.metric_name.push_str("_bytes");
            }
            self.help.clear();
            self.help.push_str("Memory information field ");
            self.help.push_str(&self.metric_name[key_start..]);
            self.help.push('.');

            let value = if in_kilobytes { value * 1024.0 } else { value };
            writer.single(&self.metric_name, &self.help, MetricKind::Gauge, value);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_named_and_scaled_as_node_exporter_does() {
        let fixture =
            "MemTotal:       24684084 kB\nActive(anon):       1568 kB\nHugePages_Total:       0\n";
        let mut output = String::new();
        MeminfoCollector::default()
            .write(fixture, &mut TextWriter::new(&mut output))
            .unwrap();
        assert_eq!(
            output,
            "# HELP node_memory_MemTotal_bytes Memory information field MemTotal_bytes.\n\
             # TYPE node_memory_MemTotal_bytes gauge\n\
             node_memory_MemTotal_bytes 25276502016\n\
             # HELP node_memory_Active_anon_bytes Memory information field Active_anon_bytes.\n\
             # TYPE node_memory_Active_anon_bytes gauge\n\
             node_memory_Active_anon_bytes 1605632\n\
             # HELP node_memory_HugePages_Total Memory information field HugePages_Total.\n\
             # TYPE node_memory_HugePages_Total gauge\n\
             node_memory_HugePages_Total 0\n"
        );
    }

    #[test]
    fn malformed_lines_are_errors_with_line_numbers() {
        for (text, expected_line) in [
            ("MemTotal 5 kB\n", 1),
            ("MemTotal: 5 kB\nMemFree: lots kB\n", 2),
            ("MemTotal: 5 MB\n", 1),
            ("MemTotal:\n", 1),
        ] {
            let mut output = String::new();
            let error = MeminfoCollector::default()
                .write(text, &mut TextWriter::new(&mut output))
                .unwrap_err();
            assert!(
                matches!(error, CollectError::Malformed { line, .. } if line == expected_line),
                "{text:?}: {error}"
            );
        }
    }
}
