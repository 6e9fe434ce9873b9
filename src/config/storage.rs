//! `storage`: Prometheus's runtime-reloadable TSDB settings
//! (`tsdb.out_of_order_time_window`) and the exemplar storage size
//! (`exemplars.max_exemplars`, accepted; promshard stores no exemplars).

use serde::{Deserialize, Serialize};

use super::duration::PromDuration;

/// The `storage` section.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// TSDB settings applied on start and on every reload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tsdb: Option<TsdbConfig>,
    /// Exemplar storage settings (accepted, not used: a config warning
    /// names them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exemplars: Option<ExemplarsConfig>,
}

/// `storage.tsdb`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TsdbConfig {
    /// How far behind the newest sample of the head an out-of-order sample
    /// may be and still be stored; zero (the default) refuses every
    /// out-of-order sample. A duration cannot be negative in Prometheus's
    /// syntax, so `-10m` is refused by the parser.
    pub out_of_order_time_window: PromDuration,
}

/// `storage.exemplars`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExemplarsConfig {
    /// The size of Prometheus's exemplar ring buffer.
    pub max_exemplars: i64,
}

impl StorageConfig {
    /// The out-of-order window in milliseconds (0 when unset).
    pub fn out_of_order_time_window_ms(&self) -> i64 {
        self.tsdb.as_ref().map_or(0, |tsdb| {
            i64::try_from(tsdb.out_of_order_time_window.as_millis()).unwrap_or(i64::MAX)
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{ConfigError, load_str};

    #[test]
    fn a_prometheus_storage_section_loads_and_is_shown() {
        let yaml = "storage:\n  tsdb:\n    out_of_order_time_window: 30m\n  exemplars:\n    max_exemplars: 100000\n";
        let config = load_str(yaml, "prometheus.yml").unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(config.storage.out_of_order_time_window_ms(), 30 * 60 * 1000);
        assert!(
            config
                .warnings()
                .iter()
                .any(|warning| warning.path == "storage.exemplars.max_exemplars")
        );
        let shown = config.to_redacted_yaml();
        assert!(
            shown.contains("out_of_order_time_window: 30m"),
            "status/config shows the window: {shown}"
        );
        assert!(shown.contains("max_exemplars: 100000"), "{shown}");
    }

    #[test]
    fn absent_or_empty_storage_means_no_window_and_no_warning() {
        for yaml in [
            "global:\n  scrape_interval: 1m\n",
            "storage:\n",
            "storage:\n  tsdb:\n",
        ] {
            let config = load_str(yaml, "prometheus.yml").unwrap_or_else(|error| panic!("{error}"));
            assert_eq!(config.storage.out_of_order_time_window_ms(), 0, "{yaml}");
            assert!(config.warnings().is_empty(), "{yaml}");
        }
    }

    #[test]
    fn bad_storage_sections_name_file_line_and_field() {
        let cases: &[(&str, &str, usize, &str, &str)] = &[
            // (name, yaml, line, field, part of the message)
            (
                "negative window",
                "global:\n  scrape_interval: 1m\nstorage:\n  tsdb:\n    out_of_order_time_window: -10m\n",
                5,
                "out_of_order_time_window",
                "not a valid duration",
            ),
            (
                "unknown tsdb field",
                "storage:\n  tsdb:\n    out_of_order_window: 10m\n",
                3,
                "out_of_order_window",
                "unknown field",
            ),
            (
                "unknown storage field",
                "storage:\n  wal:\n    size: 1\n",
                2,
                "wal",
                "unknown field",
            ),
            (
                "non-numeric max_exemplars",
                "storage:\n  exemplars:\n    max_exemplars: lots\n",
                3,
                "max_exemplars",
                "",
            ),
        ];
        for (name, yaml, line, field, message) in cases {
            let error = match load_str(yaml, "conf.yml") {
                Ok(_) => panic!("{name}: accepted"),
                Err(error) => error,
            };
            assert!(
                matches!(
                    error,
                    ConfigError::Parse { .. } | ConfigError::Invalid { .. }
                ),
                "{name}: {error}"
            );
            assert_eq!(error.line(), *line, "{name}: {error}");
            assert_eq!(error.field(), *field, "{name}: {error}");
            let text = error.to_string();
            assert!(text.starts_with("conf.yml:"), "{name}: {text}");
            assert!(text.contains(message), "{name}: {text}");
        }
    }
}
