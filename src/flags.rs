//! Command-line flags, with Prometheus's names and defaults so that a
//! Prometheus systemd unit works with the binary swapped, and the
//! promtool-like subcommands.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// promshard: a Prometheus-compatible monitoring node that scales out.
#[derive(Parser, Debug)]
#[command(
    name = "promshard",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// A promtool-like subcommand; without one, promshard runs the server.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The server's flags.
    #[command(flatten)]
    pub server: ServerFlags,
}

/// The server's flags (Prometheus's names and defaults).
#[derive(Args, Debug, Clone)]
pub struct ServerFlags {
    /// Prometheus configuration file path.
    #[arg(long = "config.file", default_value = "prometheus.yml")]
    pub config_file: PathBuf,
    /// Address to listen on for UI, API, and telemetry.
    #[arg(long = "web.listen-address", default_value = "0.0.0.0:9090")]
    pub web_listen_address: String,
    /// Path to a configuration file that can enable TLS or authentication.
    #[arg(long = "web.config.file", default_value = "")]
    pub web_config_file: String,
    /// Enable shutdown and reload via HTTP request.
    #[arg(long = "web.enable-lifecycle")]
    pub web_enable_lifecycle: bool,
    /// Enable the API endpoint accepting remote write requests.
    #[arg(long = "web.enable-remote-write-receiver")]
    pub web_enable_remote_write_receiver: bool,
    /// Enable API endpoints for admin control actions.
    #[arg(long = "web.enable-admin-api")]
    pub web_enable_admin_api: bool,
    /// The URL under which promshard is externally reachable.
    #[arg(long = "web.external-url", default_value = "")]
    pub web_external_url: String,
    /// Prefix for the internal routes of web endpoints.
    #[arg(long = "web.route-prefix", default_value = "")]
    pub web_route_prefix: String,
    /// Path to the console template directory (accepted for compatibility).
    #[arg(long = "web.console.templates", default_value = "")]
    pub web_console_templates: String,
    /// Path to the console library directory (accepted for compatibility).
    #[arg(long = "web.console.libraries", default_value = "")]
    pub web_console_libraries: String,
    /// Base path for metrics storage.
    #[arg(long = "storage.tsdb.path", default_value = "data/")]
    pub storage_tsdb_path: PathBuf,
    /// How long to retain samples in storage.
    #[arg(long = "storage.tsdb.retention.time", default_value = "15d")]
    pub storage_tsdb_retention_time: String,
    /// Maximum number of bytes that can be stored for blocks (e.g. 512MB); 0 is off.
    #[arg(long = "storage.tsdb.retention.size", default_value = "0B")]
    pub storage_tsdb_retention_size: String,
    /// Minimum duration of a data block before being persisted (for tests).
    #[arg(
        long = "storage.tsdb.min-block-duration",
        default_value = "2h",
        hide = true
    )]
    pub storage_tsdb_min_block_duration: String,
    /// How often the block directory is reloaded and compaction runs
    /// (Prometheus's `BlockReloadInterval`, 1m; shortened by tests).
    #[arg(
        long = "storage.tsdb.block-reload-interval",
        default_value = "1m",
        hide = true
    )]
    pub storage_tsdb_block_reload_interval: String,
    /// Do not create a lockfile in the data directory.
    #[arg(long = "storage.tsdb.no-lockfile")]
    pub storage_tsdb_no_lockfile: bool,
    /// The delta difference allowed for retrieving metrics during expression evaluations.
    #[arg(long = "query.lookback-delta", default_value = "5m")]
    pub query_lookback_delta: String,
    /// Maximum time a query may take before being aborted.
    #[arg(long = "query.timeout", default_value = "2m")]
    pub query_timeout: String,
    /// Maximum number of samples a single query can load into memory.
    #[arg(long = "query.max-samples", default_value_t = 50_000_000)]
    pub query_max_samples: usize,
    /// Maximum number of queries executed concurrently.
    #[arg(long = "query.max-concurrency", default_value_t = 20)]
    pub query_max_concurrency: usize,
    /// Max time to tolerate promshard outage for restoring "for" state of alerts.
    #[arg(long = "rules.alert.for-outage-tolerance", default_value = "1h")]
    pub rules_alert_for_outage_tolerance: String,
    /// Minimum duration between alert and restored "for" state.
    #[arg(long = "rules.alert.for-grace-period", default_value = "10m")]
    pub rules_alert_for_grace_period: String,
    /// Minimum amount of time to wait before resending an alert to Alertmanager.
    #[arg(long = "rules.alert.resend-delay", default_value = "1m")]
    pub rules_alert_resend_delay: String,
    /// Comma separated feature names to enable (accepted; none are needed).
    #[arg(long = "enable-feature", value_delimiter = ',')]
    pub enable_feature: Vec<String>,
    /// Only log messages with the given severity or above: debug, info, warn, error.
    #[arg(long = "log.level", default_value = "info")]
    pub log_level: String,
    /// Output format of log messages: logfmt or json.
    #[arg(long = "log.format", default_value = "logfmt")]
    pub log_format: String,
    /// The capacity of the queue for pending Alertmanager notifications.
    #[arg(
        long = "alertmanager.notification-queue-capacity",
        default_value_t = 10_000
    )]
    pub alertmanager_notification_queue_capacity: usize,
    /// Cluster flags, overriding the config's `cluster` section.
    #[command(flatten)]
    pub cluster: ClusterFlags,
}

/// `--cluster.*`: override the config's `cluster` section.
#[derive(Args, Debug, Clone, Default)]
pub struct ClusterFlags {
    /// Membership mode: none, static or etcd (default: the config's; etcd
    /// when only --cluster.etcd.endpoints is given, static when only
    /// --cluster.peer is).
    #[arg(long = "cluster.mode", value_parser = ["none", "static", "etcd"])]
    pub mode: Option<String>,
    /// This node's id, unique in the cluster (default: the config's, else
    /// the advertised address).
    #[arg(long = "cluster.node-id")]
    pub node_id: Option<String>,
    /// The host:port peers reach this node's web server at.
    #[arg(long = "cluster.advertise-address")]
    pub advertise_address: Option<String>,
    /// A static peer's host:port (repeatable).
    #[arg(long = "cluster.peer")]
    pub peers: Vec<String>,
    /// Comma separated etcd client URLs.
    #[arg(long = "cluster.etcd.endpoints", value_delimiter = ',')]
    pub etcd_endpoints: Vec<String>,
    /// Key prefix in etcd.
    #[arg(long = "cluster.etcd.prefix")]
    pub etcd_prefix: Option<String>,
    /// Lease time-to-live in etcd (a Prometheus duration such as 10s).
    #[arg(long = "cluster.etcd.lease-ttl")]
    pub etcd_lease_ttl: Option<String>,
    /// How long a global query waits for one peer before answering without
    /// it, with a warning.
    #[arg(long = "cluster.peer-timeout")]
    pub peer_timeout: Option<String>,
}

impl ClusterFlags {
    /// The flags given, as `/api/v1/status/flags` shows them.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let given = [
            ("cluster.mode", self.mode.clone()),
            ("cluster.node-id", self.node_id.clone()),
            ("cluster.advertise-address", self.advertise_address.clone()),
            (
                "cluster.peer",
                (!self.peers.is_empty()).then(|| self.peers.join(",")),
            ),
            (
                "cluster.etcd.endpoints",
                (!self.etcd_endpoints.is_empty()).then(|| self.etcd_endpoints.join(",")),
            ),
            ("cluster.etcd.prefix", self.etcd_prefix.clone()),
            ("cluster.etcd.lease-ttl", self.etcd_lease_ttl.clone()),
            ("cluster.peer-timeout", self.peer_timeout.clone()),
        ];
        given
            .into_iter()
            .filter_map(|(name, value)| Some((name.to_string(), value?)))
            .collect()
    }
}

impl ServerFlags {
    /// Every flag and its value, as `/api/v1/status/flags` shows them.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let entries: [(&str, String); 25] = [
            ("config.file", self.config_file.display().to_string()),
            ("web.listen-address", self.web_listen_address.clone()),
            ("web.config.file", self.web_config_file.clone()),
            (
                "web.enable-lifecycle",
                self.web_enable_lifecycle.to_string(),
            ),
            (
                "web.enable-remote-write-receiver",
                self.web_enable_remote_write_receiver.to_string(),
            ),
            (
                "web.enable-admin-api",
                self.web_enable_admin_api.to_string(),
            ),
            ("web.external-url", self.web_external_url.clone()),
            ("web.route-prefix", self.web_route_prefix.clone()),
            ("web.console.templates", self.web_console_templates.clone()),
            ("web.console.libraries", self.web_console_libraries.clone()),
            (
                "storage.tsdb.path",
                self.storage_tsdb_path.display().to_string(),
            ),
            (
                "storage.tsdb.retention.time",
                self.storage_tsdb_retention_time.clone(),
            ),
            (
                "storage.tsdb.retention.size",
                self.storage_tsdb_retention_size.clone(),
            ),
            (
                "storage.tsdb.min-block-duration",
                self.storage_tsdb_min_block_duration.clone(),
            ),
            (
                "storage.tsdb.no-lockfile",
                self.storage_tsdb_no_lockfile.to_string(),
            ),
            ("query.lookback-delta", self.query_lookback_delta.clone()),
            ("query.timeout", self.query_timeout.clone()),
            ("query.max-samples", self.query_max_samples.to_string()),
            (
                "query.max-concurrency",
                self.query_max_concurrency.to_string(),
            ),
            (
                "rules.alert.for-outage-tolerance",
                self.rules_alert_for_outage_tolerance.clone(),
            ),
            (
                "rules.alert.for-grace-period",
                self.rules_alert_for_grace_period.clone(),
            ),
            (
                "rules.alert.resend-delay",
                self.rules_alert_resend_delay.clone(),
            ),
            ("enable-feature", self.enable_feature.join(",")),
            ("log.level", self.log_level.clone()),
            ("log.format", self.log_format.clone()),
        ];
        let mut map: BTreeMap<String, String> = entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        map.extend(self.cluster.to_map());
        map.insert(
            "storage.tsdb.block-reload-interval".to_string(),
            self.storage_tsdb_block_reload_interval.clone(),
        );
        map.insert(
            "alertmanager.notification-queue-capacity".to_string(),
            self.alertmanager_notification_queue_capacity.to_string(),
        );
        map
    }

    /// Flags that are accepted but whose feature has not been built yet:
    /// (flag, why). Each one given is logged loudly at start-up, never
    /// silently ignored.
    pub fn unavailable(&self) -> Vec<(&'static str, &'static str)> {
        let mut out = Vec::new();
        if !self.web_config_file.is_empty() {
            out.push((
                "--web.config.file",
                "only basic_auth_users is supported, and it guards creating and expiring silences; the rest of the API stays open",
            ));
        }
        if !self.web_external_url.is_empty() || !self.web_route_prefix.is_empty() {
            out.push((
                "--web.external-url/--web.route-prefix",
                "serving under a path prefix is not available; routes stay at /",
            ));
        }
        if !self.web_console_templates.is_empty() || !self.web_console_libraries.is_empty() {
            out.push((
                "--web.console.*",
                "console templates are not available (removed in Prometheus 3 too)",
            ));
        }
        out
    }
}

/// The promtool-like subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check configuration and rule files (like `promtool check`).
    #[command(subcommand)]
    Check(CheckCommand),
    /// Work with TSDB data directories (like `promtool tsdb`).
    #[command(subcommand)]
    Tsdb(TsdbCommand),
    /// Unit-test rule files (like `promtool test`).
    #[command(subcommand)]
    Test(TestCommand),
    /// Inspect the cluster.
    #[command(subcommand)]
    Cluster(ClusterCommand),
}

/// `promshard check ...`
#[derive(Subcommand, Debug)]
pub enum CheckCommand {
    /// Check that configuration files are valid, with the rule and SD files they name.
    Config {
        /// The configuration files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Check that rule files are valid.
    Rules {
        /// The rule files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// `promshard tsdb ...`
#[derive(Subcommand, Debug)]
pub enum TsdbCommand {
    /// Import samples into TSDB blocks.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Dump samples from a TSDB directory.
    Dump {
        /// The TSDB directory.
        #[arg(default_value = "data/")]
        dir: PathBuf,
        /// Minimum timestamp to dump (milliseconds).
        #[arg(long = "min-time", default_value_t = i64::MIN)]
        min_time: i64,
        /// Maximum timestamp to dump (milliseconds).
        #[arg(long = "max-time", default_value_t = i64::MAX)]
        max_time: i64,
        /// Series selector (may be repeated).
        #[arg(long = "match", default_value = "{__name__=~'(?s:.*)'}")]
        matchers: Vec<String>,
    },
    /// List the blocks of a TSDB directory.
    List {
        /// The TSDB directory.
        #[arg(default_value = "data/")]
        dir: PathBuf,
        /// Accepted for promtool compatibility; sizes are always printed in bytes.
        #[arg(short = 'r', long = "human-readable")]
        human_readable: bool,
    },
}

/// `promshard tsdb import ...`
#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Import samples from an OpenMetrics file into TSDB blocks.
    Openmetrics {
        /// The OpenMetrics input file.
        file: PathBuf,
        /// The output directory for the blocks.
        #[arg(default_value = "data/")]
        dir: PathBuf,
        /// Maximum duration of the created blocks.
        #[arg(long = "max-block-duration", default_value = "2h")]
        max_block_duration: String,
    },
}

/// `promshard test ...`
#[derive(Subcommand, Debug)]
pub enum TestCommand {
    /// Unit tests for rules, in promtool's test file format.
    Rules {
        /// The test files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// `promshard cluster ...`
#[derive(Subcommand, Debug)]
pub enum ClusterCommand {
    /// Print which member owns which target.
    Ring {
        /// The configuration file.
        #[arg(long = "config", default_value = "prometheus.yml")]
        config: PathBuf,
        /// The same `--cluster.*` flags as the server; in etcd mode the
        /// members are read live from etcd.
        #[command(flatten)]
        cluster: ClusterFlags,
    },
}

/// Sets up `tracing` output as `--log.level` and `--log.format` say.
pub fn init_logging(level: &str, format: &str) -> Result<(), String> {
    let level = match level {
        "debug" | "info" | "warn" | "error" => level,
        other => {
            return Err(format!(
                "invalid --log.level {other:?}: want debug, info, warn or error"
            ));
        }
    };
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("PROMSHARD_LOG").unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(format!("{level},h2=warn,hyper=warn,reqwest=warn"))
        });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        "logfmt" => builder.with_ansi(false).init(),
        "json" => builder.json().init(),
        other => {
            return Err(format!(
                "invalid --log.format {other:?}: want logfmt or json"
            ));
        }
    }
    Ok(())
}
