//! Targets: turning discovered label sets into scrape targets (Prometheus's
//! `PopulateLabels`), and a target's health as the API shows it.

use std::time::Duration;

use parking_lot::Mutex;

use super::settings::{ScrapeSettings, TargetGroup, format_duration, parse_duration};
use crate::model::labels::{ADDRESS_LABEL, INSTANCE_LABEL, JOB_LABEL};
use crate::model::relabel::process_builder;
use crate::model::{Labels, LabelsBuilder};

/// `__scheme__`.
pub const SCHEME_LABEL: &str = "__scheme__";
/// `__metrics_path__`.
pub const METRICS_PATH_LABEL: &str = "__metrics_path__";
/// `__scrape_interval__`.
pub const SCRAPE_INTERVAL_LABEL: &str = "__scrape_interval__";
/// `__scrape_timeout__`.
pub const SCRAPE_TIMEOUT_LABEL: &str = "__scrape_timeout__";
/// Prefix of labels holding URL parameters.
pub const PARAM_LABEL_PREFIX: &str = "__param_";
/// Prefix of discovery metadata labels, deleted after relabeling.
pub const META_LABEL_PREFIX: &str = "__meta_";

/// Why a discovered target could not become a target.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TargetError {
    /// No `__address__` after relabeling.
    #[error("no address")]
    NoAddress,
    /// `__address__` holds a path or URL, not `host:port`.
    #[error("{0:?} is not a valid hostname")]
    InvalidAddress(String),
    /// `__scrape_interval__` or `__scrape_timeout__` is not a duration.
    #[error("error parsing scrape {which}: {value:?}")]
    BadDuration {
        /// `interval` or `timeout`.
        which: &'static str,
        /// The label value.
        value: String,
    },
    /// A zero interval or timeout.
    #[error("scrape {0} cannot be 0")]
    ZeroDuration(&'static str),
    /// The timeout is longer than the interval.
    #[error("scrape timeout cannot be greater than scrape interval ({timeout:?} > {interval:?})")]
    TimeoutAboveInterval {
        /// The timeout label value.
        timeout: String,
        /// The interval label value.
        interval: String,
    },
}

/// The labels a discovered target starts with: its own, its group's, then
/// the pool's defaults for every `__`-label not already set.
pub fn discovered_labels(
    settings: &ScrapeSettings,
    target_labels: &Labels,
    group_labels: &Labels,
) -> Labels {
    let mut builder = LabelsBuilder::new(group_labels);
    for label in target_labels.iter() {
        builder.set(label.name, label.value);
    }
    let defaults = [
        (JOB_LABEL, settings.job_name.clone()),
        (
            SCRAPE_INTERVAL_LABEL,
            format_duration(settings.scrape_interval),
        ),
        (
            SCRAPE_TIMEOUT_LABEL,
            format_duration(settings.scrape_timeout),
        ),
        (METRICS_PATH_LABEL, settings.metrics_path.clone()),
        (SCHEME_LABEL, settings.scheme.clone()),
    ];
    for (name, value) in defaults {
        if builder.get(name).is_empty() {
            builder.set(name, &value);
        }
    }
    for (name, values) in &settings.params {
        let param_label = format!("{PARAM_LABEL_PREFIX}{name}");
        if let Some(first) = values.first()
            && builder.get(&param_label).is_empty()
        {
            builder.set(&param_label, first);
        }
    }
    builder.build()
}

/// The outcome of populating one discovered target.
#[derive(Debug, Clone, PartialEq)]
pub enum Populated {
    /// A target to scrape: all labels after relabeling (including the
    /// `__`-prefixed ones that configure the scrape; `__meta_*` removed).
    Active(Labels),
    /// Dropped by `relabel_configs`.
    Dropped,
}

/// Prometheus's `PopulateLabels`: relabels the discovered labels, checks
/// the address, interval and timeout, drops `__meta_*` and defaults
/// `instance` to the address.
pub fn populate_labels(
    settings: &ScrapeSettings,
    discovered: &Labels,
) -> Result<Populated, TargetError> {
    let mut builder = LabelsBuilder::new(discovered);
    if !process_builder(&mut builder, &settings.relabel_configs) {
        return Ok(Populated::Dropped);
    }
    let address = builder.get(ADDRESS_LABEL).to_string();
    if address.is_empty() {
        return Err(TargetError::NoAddress);
    }
    if address.contains('/') {
        return Err(TargetError::InvalidAddress(address));
    }
    let interval_text = builder.get(SCRAPE_INTERVAL_LABEL).to_string();
    let interval = parse_duration(&interval_text).ok_or_else(|| TargetError::BadDuration {
        which: "interval",
        value: interval_text.clone(),
    })?;
    if interval.is_zero() {
        return Err(TargetError::ZeroDuration("interval"));
    }
    let timeout_text = builder.get(SCRAPE_TIMEOUT_LABEL).to_string();
    let timeout = parse_duration(&timeout_text).ok_or_else(|| TargetError::BadDuration {
        which: "timeout",
        value: timeout_text.clone(),
    })?;
    if timeout.is_zero() {
        return Err(TargetError::ZeroDuration("timeout"));
    }
    if timeout > interval {
        return Err(TargetError::TimeoutAboveInterval {
            timeout: timeout_text,
            interval: interval_text,
        });
    }
    builder.retain(|name, _| !name.starts_with(META_LABEL_PREFIX));
    if builder.get(INSTANCE_LABEL).is_empty() {
        builder.set(INSTANCE_LABEL, &address);
    }
    Ok(Populated::Active(builder.build()))
}

/// The targets of one group: `(discovered labels, outcome)` per target.
pub fn targets_from_group(
    settings: &ScrapeSettings,
    group: &TargetGroup,
) -> Vec<(Labels, Result<Populated, TargetError>)> {
    group
        .targets
        .iter()
        .map(|target_labels| {
            let discovered = discovered_labels(settings, target_labels, &group.labels);
            let populated = populate_labels(settings, &discovered);
            (discovered, populated)
        })
        .collect()
}

/// Health of a target's last scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TargetHealth {
    /// Not scraped yet.
    #[default]
    Unknown,
    /// The last scrape succeeded.
    Up,
    /// The last scrape failed.
    Down,
}

impl TargetHealth {
    /// The API's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetHealth::Unknown => "unknown",
            TargetHealth::Up => "up",
            TargetHealth::Down => "down",
        }
    }
}

/// The outcome of the last scrape.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScrapeStatus {
    /// Up, down or not yet scraped.
    pub health: TargetHealth,
    /// The last error, empty after a success.
    pub last_error: String,
    /// Start of the last scrape, milliseconds since the epoch (0: never).
    pub last_scrape_ms: i64,
    /// How long the last scrape took.
    pub last_scrape_duration: Duration,
}

/// One active target: its labels and the outcome of its last scrape.
/// Shared between its scrape loop (writer) and the API (reader).
#[derive(Debug)]
pub struct Target {
    labels: Labels,
    discovered_labels: Labels,
    interval: Duration,
    timeout: Duration,
    url: String,
    status: Mutex<ScrapeStatus>,
}

impl Target {
    /// A target from its populated labels (as [`populate_labels`] returns
    /// them) and its discovered labels.
    pub fn new(all_labels: Labels, discovered_labels: Labels) -> Self {
        let interval = all_labels
            .get(SCRAPE_INTERVAL_LABEL)
            .and_then(parse_duration)
            .unwrap_or(Duration::from_secs(60));
        let timeout = all_labels
            .get(SCRAPE_TIMEOUT_LABEL)
            .and_then(parse_duration)
            .unwrap_or(Duration::from_secs(10));
        let url = target_url(&all_labels);
        Target {
            labels: all_labels,
            discovered_labels,
            interval,
            timeout,
            url,
            status: Mutex::new(ScrapeStatus::default()),
        }
    }

    /// All labels after relabeling, including `__`-prefixed ones.
    pub fn all_labels(&self) -> &Labels {
        &self.labels
    }

    /// The labels attached to scraped series: those not starting with `__`.
    pub fn public_labels(&self) -> Labels {
        self.labels.filter(|label| !label.name.starts_with("__"))
    }

    /// The labels before relabeling.
    pub fn discovered_labels(&self) -> &Labels {
        &self.discovered_labels
    }

    /// The scrape interval (from `__scrape_interval__`).
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The scrape timeout (from `__scrape_timeout__`).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The URL scraped: scheme, address, path and `__param_*` parameters.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A stable identity: labels and URL (Prometheus's `Target.hash`).
    pub fn hash(&self) -> u64 {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        hasher.update(self.labels.as_bytes());
        hasher.update(&[0xff]);
        hasher.update(self.url.as_bytes());
        hasher.digest()
    }

    /// Where in each interval this target is scraped, counted from the
    /// start of the interval: spread by the target's hash (mixed with the
    /// node's `offset_seed`) so that targets do not all fire at once, and
    /// stable across restarts.
    pub fn offset_in_interval(&self, offset_seed: u64) -> Duration {
        let interval_ns = self.interval.as_nanos().max(1) as u64;
        Duration::from_nanos((self.hash() ^ offset_seed) % interval_ns)
    }

    /// A copy of the last scrape's outcome.
    pub fn status(&self) -> ScrapeStatus {
        self.status.lock().clone()
    }

    /// Records a scrape's outcome.
    pub fn report(&self, start_ms: i64, duration: Duration, error: Option<&str>) {
        let mut status = self.status.lock();
        status.last_scrape_ms = start_ms;
        status.last_scrape_duration = duration;
        match error {
            None => {
                status.health = TargetHealth::Up;
                status.last_error.clear();
            }
            Some(message) => {
                status.health = TargetHealth::Down;
                message.clone_into(&mut status.last_error);
            }
        }
    }

    /// Takes over the scrape status of a previous incarnation (reload).
    pub fn inherit_status(&self, previous: &Target) {
        *self.status.lock() = previous.status();
    }
}

/// `scheme://address/path?params` from a target's labels.
pub fn target_url(labels: &Labels) -> String {
    let scheme = labels.get(SCHEME_LABEL).unwrap_or("http");
    let address = labels.get_or_empty(ADDRESS_LABEL);
    let path = labels.get(METRICS_PATH_LABEL).unwrap_or("/metrics");
    let mut url = format!("{scheme}://{address}");
    if !path.starts_with('/') {
        url.push('/');
    }
    url.push_str(path);
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    let mut has_params = false;
    for label in labels.iter() {
        if let Some(name) = label.name.strip_prefix(PARAM_LABEL_PREFIX) {
            query.append_pair(name, label.value);
            has_params = true;
        }
    }
    if has_params {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&query.finish());
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::relabel::{Action, RelabelConfig, RelabelRegex};

    fn settings() -> ScrapeSettings {
        let mut settings = ScrapeSettings::new("node");
        settings.scrape_interval = Duration::from_secs(15);
        settings.scrape_timeout = Duration::from_secs(5);
        settings
            .params
            .insert("module".to_string(), vec!["http_2xx".to_string()]);
        settings
    }

    #[test]
    fn discovered_labels_take_pool_defaults_under_target_and_group_labels() {
        let target = Labels::from_pairs(&[("__address__", "h:1"), ("zone", "a")]);
        let group = Labels::from_pairs(&[("zone", "group"), ("dc", "x"), ("job", "custom")]);
        let discovered = discovered_labels(&settings(), &target, &group);
        assert_eq!(
            discovered.get("zone"),
            Some("a"),
            "target label wins over group"
        );
        assert_eq!(discovered.get("dc"), Some("x"));
        assert_eq!(
            discovered.get("job"),
            Some("custom"),
            "defaults never override"
        );
        assert_eq!(discovered.get("__scrape_interval__"), Some("15s"));
        assert_eq!(discovered.get("__scrape_timeout__"), Some("5s"));
        assert_eq!(discovered.get("__metrics_path__"), Some("/metrics"));
        assert_eq!(discovered.get("__scheme__"), Some("http"));
        assert_eq!(discovered.get("__param_module"), Some("http_2xx"));
    }

    #[test]
    fn populate_defaults_instance_and_drops_meta_labels() {
        let discovered = discovered_labels(
            &settings(),
            &Labels::from_pairs(&[("__address__", "h:1"), ("__meta_x", "y")]),
            &Labels::empty(),
        );
        let Ok(Populated::Active(labels)) = populate_labels(&settings(), &discovered) else {
            panic!("target must be active");
        };
        assert_eq!(labels.get("instance"), Some("h:1"));
        assert_eq!(labels.get("__meta_x"), None);
        let target = Target::new(labels, discovered);
        assert_eq!(target.url(), "http://h:1/metrics?module=http_2xx");
        assert_eq!(
            target.public_labels(),
            Labels::from_pairs(&[("instance", "h:1"), ("job", "node")])
        );
        assert_eq!(target.interval(), Duration::from_secs(15));
    }

    #[test]
    fn populate_refuses_bad_targets() {
        let cases: [(&[(&str, &str)], TargetError); 5] = [
            (&[("zone", "a")], TargetError::NoAddress),
            (
                &[("__address__", "http://h:1/x")],
                TargetError::InvalidAddress("http://h:1/x".into()),
            ),
            (
                &[("__address__", "h:1"), ("__scrape_interval__", "fast")],
                TargetError::BadDuration {
                    which: "interval",
                    value: "fast".into(),
                },
            ),
            (
                &[("__address__", "h:1"), ("__scrape_timeout__", "0s")],
                TargetError::ZeroDuration("timeout"),
            ),
            (
                &[("__address__", "h:1"), ("__scrape_timeout__", "1m")],
                TargetError::TimeoutAboveInterval {
                    timeout: "1m".into(),
                    interval: "15s".into(),
                },
            ),
        ];
        for (pairs, expected) in cases {
            let discovered =
                discovered_labels(&settings(), &Labels::from_pairs(pairs), &Labels::empty());
            assert_eq!(populate_labels(&settings(), &discovered), Err(expected));
        }
    }

    #[test]
    fn relabeling_can_drop_and_override_interval() {
        let mut settings = settings();
        settings.relabel_configs = vec![
            RelabelConfig {
                source_labels: vec!["zone".into()],
                regex: RelabelRegex::new("skip").unwrap(),
                action: Action::Drop,
                ..Default::default()
            },
            RelabelConfig {
                target_label: "__scrape_interval__".into(),
                replacement: "30s".into(),
                ..Default::default()
            },
        ];
        let dropped = discovered_labels(
            &settings,
            &Labels::from_pairs(&[("__address__", "h:1"), ("zone", "skip")]),
            &Labels::empty(),
        );
        assert_eq!(populate_labels(&settings, &dropped), Ok(Populated::Dropped));
        let kept = discovered_labels(
            &settings,
            &Labels::from_pairs(&[("__address__", "h:1")]),
            &Labels::empty(),
        );
        let Ok(Populated::Active(labels)) = populate_labels(&settings, &kept) else {
            panic!("target must be active");
        };
        assert_eq!(
            Target::new(labels, kept).interval(),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn offset_is_stable_and_inside_the_interval() {
        let labels = Labels::from_pairs(&[
            ("__address__", "h:1"),
            ("__scrape_interval__", "15s"),
            ("job", "a"),
        ]);
        let first = Target::new(labels.clone(), Labels::empty());
        let second = Target::new(labels, Labels::empty());
        assert_eq!(first.offset_in_interval(7), second.offset_in_interval(7));
        assert!(first.offset_in_interval(7) < Duration::from_secs(15));
    }
}
