//! Settings Prometheus 3.5 accepts whose feature promshard has not built:
//! they are loaded (a Prometheus config keeps working), and each one
//! written in the file is reported by name, file and line, at start-up, at
//! every reload and by `promshard check config`. Nothing is silently
//! ignored.

use std::fmt;

use super::Config;
use super::global::ScrapeProtocol;
use super::locate::{LineIndex, field_name};

/// One accepted setting that has no effect yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The file.
    pub file: String,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// The field's path (`scrape_configs.0.extra_scrape_metrics`).
    pub path: String,
    /// What happens instead.
    pub message: String,
}

impl ConfigWarning {
    /// The field's name (the path's last key).
    pub fn field(&self) -> &str {
        field_name(&self.path)
    }
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{}:{}: field {}: {}",
            self.file,
            self.line,
            self.field(),
            self.message
        )
    }
}

const NOT_BUILT_NATIVE: &str =
    "native histograms are not built yet: classic histograms are scraped and stored";
const LEGACY_NAMES: &str =
    "legacy names are enforced in relabel configs only; scraped series with UTF-8 names are kept";
const NO_EXEMPLARS: &str = "exemplars are not stored, so none are sent";

impl Config {
    /// The settings written in this config that are accepted but have no
    /// effect yet, with where they are written.
    pub fn warnings(&self) -> Vec<ConfigWarning> {
        let index = LineIndex::new(&self.original_yaml);
        let mut found = Vec::new();
        let mut check = |path: String, is_set: bool, message: &str| {
            if !is_set {
                return;
            }
            if let Some(line) = index.exact_line(&path) {
                found.push(ConfigWarning {
                    file: self.file_name.clone(),
                    line,
                    path,
                    message: message.to_string(),
                });
            }
        };
        let global = &self.global;
        check(
            "global.metric_name_validation_scheme".into(),
            global.metric_name_validation_scheme == "legacy",
            LEGACY_NAMES,
        );
        check(
            "global.query_log_file".into(),
            !global.query_log_file.is_empty(),
            "the query log is not written yet",
        );
        check(
            "global.scrape_failure_log_file".into(),
            !global.scrape_failure_log_file.is_empty(),
            "the scrape failure log is not written yet; failures are in /api/v1/targets and the process log",
        );
        check(
            "global.metric_name_escaping_scheme".into(),
            !global.metric_name_escaping_scheme.is_empty(),
            "no escaping scheme is requested from targets; names are stored as exposed",
        );
        check(
            "global.scrape_native_histograms".into(),
            global.scrape_native_histograms == Some(true),
            NOT_BUILT_NATIVE,
        );
        check(
            "global.convert_classic_histograms_to_nhcb".into(),
            global.convert_classic_histograms_to_nhcb,
            NOT_BUILT_NATIVE,
        );
        check(
            "global.extra_scrape_metrics".into(),
            global.extra_scrape_metrics,
            "scrape_timeout_seconds, scrape_sample_limit and scrape_body_size_bytes are not written yet",
        );
        check(
            "global.scrape_protocols".into(),
            global
                .scrape_protocols
                .contains(&ScrapeProtocol::PrometheusProto),
            "PrometheusProto is not offered to targets (no protobuf parser yet); the text formats are negotiated",
        );
        for (position, job) in self.scrape_configs.iter().enumerate() {
            let at = |field: &str| format!("scrape_configs.{position}.{field}");
            check(
                at("metric_name_validation_scheme"),
                job.metric_name_validation_scheme == "legacy",
                LEGACY_NAMES,
            );
            check(
                at("scrape_failure_log_file"),
                !job.scrape_failure_log_file.is_empty(),
                "the scrape failure log is not written yet; failures are in /api/v1/targets and the process log",
            );
            check(
                at("metric_name_escaping_scheme"),
                !job.metric_name_escaping_scheme.is_empty(),
                "no escaping scheme is requested from targets; names are stored as exposed",
            );
            check(
                at("scrape_native_histograms"),
                job.scrape_native_histograms == Some(true),
                NOT_BUILT_NATIVE,
            );
            check(
                at("convert_classic_histograms_to_nhcb"),
                job.convert_classic_histograms_to_nhcb == Some(true),
                NOT_BUILT_NATIVE,
            );
            check(
                at("native_histogram_bucket_limit"),
                job.native_histogram_bucket_limit > 0,
                NOT_BUILT_NATIVE,
            );
            check(
                at("native_histogram_min_bucket_factor"),
                job.native_histogram_min_bucket_factor > 0.0,
                NOT_BUILT_NATIVE,
            );
            check(
                at("extra_scrape_metrics"),
                job.extra_scrape_metrics == Some(true),
                "scrape_timeout_seconds, scrape_sample_limit and scrape_body_size_bytes are not written yet",
            );
            check(
                at("scrape_protocols"),
                job.scrape_protocols
                    .contains(&ScrapeProtocol::PrometheusProto),
                "PrometheusProto is not offered to targets (no protobuf parser yet); the text formats are negotiated",
            );
        }
        check(
            "storage.exemplars.max_exemplars".into(),
            self.storage.exemplars.is_some(),
            "exemplars are not stored; scraped and received ones are dropped",
        );
        for position in 0..self.remote_read.len() {
            check(
                format!("remote_read.{position}.chunked_read_limit"),
                true,
                "remote read asks for samples, not streamed chunks, so this frame limit does not apply",
            );
        }
        for (position, remote) in self.remote_write.iter().enumerate() {
            let at = |field: &str| format!("remote_write.{position}.{field}");
            check(
                at("queue_config.sample_age_limit"),
                !remote.queue_config.sample_age_limit.is_zero(),
                "old samples are not dropped on retry yet: every sample is retried until sent",
            );
            check(at("send_exemplars"), remote.send_exemplars, NO_EXEMPLARS);
            check(
                at("send_native_histograms"),
                remote.send_native_histograms,
                NOT_BUILT_NATIVE,
            );
            check(
                at("round_robin_dns"),
                remote.round_robin_dns,
                "requests go to the address the system resolver returns first",
            );
            check(
                at("protobuf_message"),
                remote.protobuf_message == "io.prometheus.write.v2.Request",
                "remote write 2.0 is not sent yet: requests are remote write 1.0 (prometheus.WriteRequest), which 2.0 receivers also accept",
            );
        }
        found.sort_by_key(|warning| warning.line);
        found
    }
}

#[cfg(test)]
mod tests {
    use crate::config::load_str;

    #[test]
    fn unbuilt_settings_are_named_with_their_line() {
        let yaml = "\
global:
  scrape_interval: 15s
  extra_scrape_metrics: true
scrape_configs:
  - job_name: node
    scrape_protocols: [PrometheusProto, OpenMetricsText1.0.0]
    native_histogram_bucket_limit: 160
    static_configs: [{targets: ['localhost:9100']}]
remote_write:
  - url: http://mimir:9009/api/v1/push
    protobuf_message: io.prometheus.write.v2.Request
    send_exemplars: true
";
        let config = load_str(yaml, "prometheus.yml").expect("loads");
        let shown: Vec<String> = config
            .warnings()
            .iter()
            .map(|w| format!("{}:{} {}", w.file, w.line, w.field()))
            .collect();
        assert_eq!(
            shown,
            [
                "prometheus.yml:3 extra_scrape_metrics",
                "prometheus.yml:6 scrape_protocols",
                "prometheus.yml:7 native_histogram_bucket_limit",
                "prometheus.yml:11 protobuf_message",
                "prometheus.yml:12 send_exemplars",
            ]
        );
    }

    #[test]
    fn a_plain_config_has_no_warnings_and_inherited_values_warn_once() {
        let plain = "scrape_configs:\n  - job_name: a\n    static_configs: [{targets: ['x:1']}]\n";
        assert!(
            load_str(plain, "p.yml")
                .expect("loads")
                .warnings()
                .is_empty()
        );
        let inherited = "global:\n  scrape_protocols: [PrometheusProto, PrometheusText0.0.4]\nscrape_configs:\n  - job_name: a\n  - job_name: b\n";
        let warnings = load_str(inherited, "p.yml").expect("loads").warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].path, "global.scrape_protocols");
    }
}
