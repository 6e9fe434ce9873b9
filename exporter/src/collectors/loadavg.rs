//! `/proc/loadavg`: node_exporter's `loadavg` collector (`node_load1`, `node_load5`, `node_load15`).

use super::CollectError;
use crate::exposition::{MetricKind, TextWriter};

const FAMILIES: [(&str, &str); 3] = [
    ("node_load1", "1m load average."),
    ("node_load5", "5m load average."),
    ("node_load15", "15m load average."),
];

/// Writes the three load averages from `/proc/loadavg`'s text.
pub fn write_loadavg(loadavg_text: &str, writer: &mut TextWriter<'_>) -> Result<(), CollectError> {
    let mut fields = loadavg_text.split_ascii_whitespace();
    let mut loads = [0.0; 3];
    for load in &mut loads {
        *load = fields
            .next()
            .and_then(|field| field.parse::<f64>().ok())
            .ok_or(CollectError::Malformed {
                file: "loadavg",
                line: 1,
                reason: "expected three load averages",
            })?;
    }
    for ((name, help), load) in FAMILIES.iter().zip(loads) {
        writer.single(name, help, MetricKind::Gauge, load);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_averages_are_reported_in_order() {
        let mut output = String::new();
        write_loadavg(
            "0.52 1.25 2.00 3/456 7890\n",
            &mut TextWriter::new(&mut output),
        )
        .unwrap();
        assert!(output.contains("node_load1 0.52\n"));
        assert!(output.contains("node_load5 1.25\n"));
        assert!(output.contains("node_load15 2\n"));
    }

    #[test]
    fn short_or_garbled_input_is_an_error() {
        for text in ["", "0.1 0.2", "0.1 x 0.3"] {
            let mut output = String::new();
            assert!(
                write_loadavg(text, &mut TextWriter::new(&mut output)).is_err(),
                "{text:?}"
            );
        }
    }
}
