//! Command-line flags, with Prometheus's names and defaults so that a
//! Prometheus systemd unit works with the binary swapped, and the
//! promtool-like subcommands.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgAction, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use promshard::config::{ByteSize, PromDuration};

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

/// The server's flags: every flag of Prometheus 3.5 (`prometheus
/// --help-long`, and its hidden ones), with its name, default and `--no-`
/// form, plus promshard's `--cluster.*`. What each one does here is in
/// [`FLAG_EFFECTS`].
#[derive(Args, Debug, Clone)]
pub struct ServerFlags {
    /// Prometheus configuration file path.
    #[arg(long = "config.file", default_value = "prometheus.yml")]
    pub config_file: PathBuf,
    /// Interval for checking the configuration file (and the rule files it
    /// names) for changes and reloading it; in effect with
    /// `--enable-feature=auto-reload-config`.
    #[arg(long = "config.auto-reload-interval", default_value = "30s", value_parser = duration_arg)]
    pub config_auto_reload_interval: String,
    /// Address to listen on for UI, API, and telemetry. Can be repeated.
    #[arg(long = "web.listen-address", default_value = "0.0.0.0:9090")]
    pub web_listen_address: Vec<String>,
    /// Go runtime setting (GOMAXPROCS); promshard's worker threads already
    /// follow the CPUs the process may use.
    #[arg(long = "auto-gomaxprocs", default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set)]
    pub auto_gomaxprocs: bool,
    /// Go runtime setting (GOMEMLIMIT); no counterpart in promshard.
    #[arg(long = "auto-gomemlimit", default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set)]
    pub auto_gomemlimit: bool,
    /// Go runtime setting (GOMEMLIMIT ratio); no counterpart in promshard.
    #[arg(long = "auto-gomemlimit.ratio", default_value = "0.9", value_parser = ratio_arg)]
    pub auto_gomemlimit_ratio: String,
    /// Path to a configuration file that can enable TLS or authentication.
    #[arg(long = "web.config.file", default_value = "")]
    pub web_config_file: String,
    /// Maximum duration before timing out read of the request, and closing
    /// idle connections.
    #[arg(long = "web.read-timeout", default_value = "5m", value_parser = duration_arg)]
    pub web_read_timeout: String,
    /// Maximum number of simultaneous connections across all listeners
    /// (0: no limit).
    #[arg(long = "web.max-connections", default_value = "512", value_parser = int_arg)]
    pub web_max_connections: i64,
    /// Limit of subscribers to live notifications.
    #[arg(long = "web.max-notifications-subscribers", default_value = "16", value_parser = int_arg)]
    pub web_max_notifications_subscribers: i64,
    /// The URL under which promshard is externally reachable.
    #[arg(long = "web.external-url", default_value = "")]
    pub web_external_url: String,
    /// Prefix for the internal routes of web endpoints.
    #[arg(long = "web.route-prefix", default_value = "")]
    pub web_route_prefix: String,
    /// Path to static asset/templates directory.
    #[arg(long = "web.local-assets", default_value = "")]
    pub web_local_assets: String,
    /// Path to static asset directory, available at /user.
    #[arg(long = "web.user-assets", default_value = "")]
    pub web_user_assets: String,
    /// Enable shutdown and reload via HTTP request.
    #[arg(long = "web.enable-lifecycle", default_value_t = false, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set)]
    pub web_enable_lifecycle: bool,
    /// Enable API endpoints for admin control actions.
    #[arg(long = "web.enable-admin-api", default_value_t = false, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set)]
    pub web_enable_admin_api: bool,
    /// Enable the API endpoint accepting remote write requests.
    #[arg(long = "web.enable-remote-write-receiver", default_value_t = false, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set)]
    pub web_enable_remote_write_receiver: bool,
    /// The remote write protobuf messages to accept: prometheus.WriteRequest,
    /// io.prometheus.write.v2.Request.
    #[arg(
        long = "web.remote-write-receiver.accepted-protobuf-messages",
        default_value = "prometheus.WriteRequest,io.prometheus.write.v2.Request",
        value_delimiter = ',',
        value_parser = ["prometheus.WriteRequest", "io.prometheus.write.v2.Request"]
    )]
    pub web_remote_write_receiver_accepted_protobuf_messages: Vec<String>,
    /// Path to the console template directory (console templates are not
    /// built).
    #[arg(long = "web.console.templates", default_value = "consoles")]
    pub web_console_templates: String,
    /// Path to the console library directory (console templates are not
    /// built).
    #[arg(long = "web.console.libraries", default_value = "console_libraries")]
    pub web_console_libraries: String,
    /// Document title of the UI.
    #[arg(
        long = "web.page-title",
        default_value = "Prometheus Time Series Collection and Processing Server"
    )]
    pub web_page_title: String,
    /// Regex for CORS origin. It is fully anchored.
    #[arg(long = "web.cors.origin", default_value = ".*", value_parser = regex_arg)]
    pub web_cors_origin: String,
    /// Base path for metrics storage.
    #[arg(long = "storage.tsdb.path", default_value = "data/")]
    pub storage_tsdb_path: PathBuf,
    /// How long to retain samples in storage; 15d when neither this nor
    /// `--storage.tsdb.retention.size` is set.
    #[arg(long = "storage.tsdb.retention.time", value_parser = duration_arg)]
    pub storage_tsdb_retention_time: Option<String>,
    /// Maximum number of bytes that can be stored for blocks (e.g. 512MB); 0 is off.
    #[arg(long = "storage.tsdb.retention.size", default_value = "0B", value_parser = bytes_arg)]
    pub storage_tsdb_retention_size: String,
    /// Do not create a lockfile in the data directory.
    #[arg(long = "storage.tsdb.no-lockfile", default_value_t = false, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set)]
    pub storage_tsdb_no_lockfile: bool,
    /// Size of the queue through which head chunks are written to disk.
    #[arg(long = "storage.tsdb.head-chunks-write-queue-size", default_value = "0", value_parser = int_arg)]
    pub storage_tsdb_head_chunks_write_queue_size: i64,
    /// Minimum duration of a data block before being persisted.
    #[arg(long = "storage.tsdb.min-block-duration", default_value = "2h", value_parser = duration_arg, hide = true)]
    pub storage_tsdb_min_block_duration: String,
    /// Maximum duration compacted blocks may span (default: 10% of the
    /// retention time, at most 31d).
    #[arg(long = "storage.tsdb.max-block-duration", value_parser = duration_arg, hide = true)]
    pub storage_tsdb_max_block_duration: Option<String>,
    /// Maximum size of each chunk segment file.
    #[arg(long = "storage.tsdb.max-block-chunk-segment-size", default_value = "0B", value_parser = bytes_arg, hide = true)]
    pub storage_tsdb_max_block_chunk_segment_size: String,
    /// Size at which to split the WAL segment files (0B: 128MB).
    #[arg(long = "storage.tsdb.wal-segment-size", default_value = "0B", value_parser = bytes_arg, hide = true)]
    pub storage_tsdb_wal_segment_size: String,
    /// Allow compaction of overlapping blocks.
    #[arg(long = "storage.tsdb.allow-overlapping-compaction", default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set, hide = true)]
    pub storage_tsdb_allow_overlapping_compaction: bool,
    /// Compress the tsdb WAL.
    #[arg(long = "storage.tsdb.wal-compression", default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set, hide = true)]
    pub storage_tsdb_wal_compression: bool,
    /// Compression algorithm for the tsdb WAL: snappy or zstd.
    #[arg(long = "storage.tsdb.wal-compression-type", default_value = "snappy", value_parser = ["snappy", "zstd"], hide = true)]
    pub storage_tsdb_wal_compression_type: String,
    /// The target number of samples per chunk.
    #[arg(long = "storage.tsdb.samples-per-chunk", default_value = "120", value_parser = int_arg, hide = true)]
    pub storage_tsdb_samples_per_chunk: i64,
    /// Upper limit of the random compaction delay, in percent of the block
    /// duration (`delayed-compaction` feature).
    #[arg(long = "storage.tsdb.delayed-compaction.max-percent", default_value = "10", value_parser = int_arg, hide = true)]
    pub storage_tsdb_delayed_compaction_max_percent: i64,
    /// How often the block directory is reloaded and compaction runs
    /// (Prometheus's `BlockReloadInterval`, 1m; shortened by tests).
    #[arg(long = "storage.tsdb.block-reload-interval", default_value = "1m", value_parser = duration_arg, hide = true)]
    pub storage_tsdb_block_reload_interval: String,
    /// Base path for metrics storage in agent mode.
    #[arg(long = "storage.agent.path", default_value = "data-agent/")]
    pub storage_agent_path: PathBuf,
    /// Compress the agent WAL.
    #[arg(long = "storage.agent.wal-compression", default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set)]
    pub storage_agent_wal_compression: bool,
    /// Compression algorithm for the agent WAL: snappy or zstd.
    #[arg(long = "storage.agent.wal-compression-type", default_value = "snappy", value_parser = ["snappy", "zstd"], hide = true)]
    pub storage_agent_wal_compression_type: String,
    /// Size at which to split the agent WAL segment files.
    #[arg(long = "storage.agent.wal-segment-size", default_value = "0B", value_parser = bytes_arg, hide = true)]
    pub storage_agent_wal_segment_size: String,
    /// How often to truncate the agent WAL.
    #[arg(long = "storage.agent.wal-truncate-frequency", default_value = "0s", value_parser = duration_arg, hide = true)]
    pub storage_agent_wal_truncate_frequency: String,
    /// Minimum age samples may be before being deleted (agent mode).
    #[arg(long = "storage.agent.retention.min-time", default_value = "0s", value_parser = duration_arg)]
    pub storage_agent_retention_min_time: String,
    /// Maximum age samples may be before being forcibly deleted (agent mode).
    #[arg(long = "storage.agent.retention.max-time", default_value = "0s", value_parser = duration_arg)]
    pub storage_agent_retention_max_time: String,
    /// Do not create a lockfile in the agent data directory.
    #[arg(long = "storage.agent.no-lockfile", default_value_t = false, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set)]
    pub storage_agent_no_lockfile: bool,
    /// How long to wait flushing samples on shutdown or config reload.
    #[arg(long = "storage.remote.flush-deadline", default_value = "1m", value_parser = duration_arg)]
    pub storage_remote_flush_deadline: String,
    /// Maximum overall number of samples to return via the remote read
    /// interface, in a single query (0: no limit).
    #[arg(long = "storage.remote.read-sample-limit", default_value = "50000000", value_parser = int_arg)]
    pub storage_remote_read_sample_limit: i64,
    /// Maximum number of concurrent remote read calls (0: no limit).
    #[arg(long = "storage.remote.read-concurrent-limit", default_value = "10", value_parser = int_arg)]
    pub storage_remote_read_concurrent_limit: i64,
    /// Maximum number of bytes in a single frame for streaming remote read.
    #[arg(long = "storage.remote.read-max-bytes-in-frame", default_value = "1048576", value_parser = int_arg)]
    pub storage_remote_read_max_bytes_in_frame: i64,
    /// Max time to tolerate an outage for restoring "for" state of alerts.
    #[arg(long = "rules.alert.for-outage-tolerance", default_value = "1h", value_parser = duration_arg)]
    pub rules_alert_for_outage_tolerance: String,
    /// Minimum duration between alert and restored "for" state.
    #[arg(long = "rules.alert.for-grace-period", default_value = "10m", value_parser = duration_arg)]
    pub rules_alert_for_grace_period: String,
    /// Minimum amount of time to wait before resending an alert to Alertmanager.
    #[arg(long = "rules.alert.resend-delay", default_value = "1m", value_parser = duration_arg)]
    pub rules_alert_resend_delay: String,
    /// Global concurrency limit for independent rules that can run
    /// concurrently (`concurrent-rule-eval` feature).
    #[arg(long = "rules.max-concurrent-evals", default_value = "4", value_parser = int_arg)]
    pub rules_max_concurrent_evals: i64,
    /// The capacity of the queue for pending Alertmanager notifications.
    #[arg(long = "alertmanager.notification-queue-capacity", default_value = "10000", value_parser = int_arg)]
    pub alertmanager_notification_queue_capacity: i64,
    /// The maximum number of notifications per batch to send to the
    /// Alertmanager.
    #[arg(long = "alertmanager.notification-batch-size", default_value = "256", value_parser = int_arg)]
    pub alertmanager_notification_batch_size: i64,
    /// Send any outstanding Alertmanager notifications when shutting down.
    #[arg(long = "alertmanager.drain-notification-queue-on-shutdown", default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set)]
    pub alertmanager_drain_notification_queue_on_shutdown: bool,
    /// The maximum lookback duration for retrieving metrics during
    /// expression evaluations and federation.
    #[arg(long = "query.lookback-delta", default_value = "5m", value_parser = duration_arg)]
    pub query_lookback_delta: String,
    /// Maximum time a query may take before being aborted.
    #[arg(long = "query.timeout", default_value = "2m", value_parser = duration_arg)]
    pub query_timeout: String,
    /// Maximum number of queries executed concurrently.
    #[arg(long = "query.max-concurrency", default_value = "20", value_parser = int_arg)]
    pub query_max_concurrency: i64,
    /// Maximum number of samples a single query can load into memory.
    #[arg(long = "query.max-samples", default_value = "50000000", value_parser = int_arg)]
    pub query_max_samples: i64,
    /// Comma separated feature names to enable.
    #[arg(long = "enable-feature", value_delimiter = ',')]
    pub enable_feature: Vec<String>,
    /// Run in agent mode (not built: promshard starts as a server and
    /// says so).
    #[arg(long = "agent", default_value_t = false, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set)]
    pub agent: bool,
    /// Only log messages with the given severity or above: debug, info, warn, error.
    #[arg(long = "log.level", default_value = "info", value_parser = ["debug", "info", "warn", "error"])]
    pub log_level: String,
    /// Output format of log messages: logfmt or json.
    #[arg(long = "log.format", default_value = "logfmt", value_parser = ["logfmt", "json"])]
    pub log_format: String,
    /// Adjust scrape timestamps by up to `--scrape.timestamp-tolerance` to
    /// align them to the intended schedule.
    #[arg(long = "scrape.adjust-timestamps", default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set, hide = true)]
    pub scrape_adjust_timestamps: bool,
    /// Timestamp tolerance.
    #[arg(long = "scrape.timestamp-tolerance", default_value = "2ms", value_parser = duration_arg, hide = true)]
    pub scrape_timestamp_tolerance: String,
    /// Interval used by the scrape manager to throttle target group updates.
    #[arg(long = "scrape.discovery-reload-interval", default_value = "5s", value_parser = duration_arg, hide = true)]
    pub scrape_discovery_reload_interval: String,
    /// Cluster flags, overriding the config's `cluster` section.
    #[command(flatten)]
    pub cluster: ClusterFlags,
    /// Each flag's value as given or defaulted (`/api/v1/status/flags`),
    /// filled by [`Cli::parse_args`].
    #[arg(skip)]
    pub values: BTreeMap<String, String>,
    /// The flags given on the command line (not defaulted), filled by
    /// [`Cli::parse_args`].
    #[arg(skip)]
    pub given: BTreeSet<String>,
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

/// What a Prometheus flag does in promshard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Takes effect as in Prometheus.
    Honoured,
    /// Takes effect in part; given on the command line, it is named in a
    /// start-up warning saying which part.
    Partly(&'static str),
    /// Accepted, but what it controls is not built; given on the command
    /// line, it is named in a start-up warning.
    NotBuilt(&'static str),
    /// A Go runtime setting with no counterpart; given on the command line,
    /// it is named in a start-up warning.
    GoRuntime(&'static str),
    /// promshard's own flag (no Prometheus counterpart).
    Own,
}

/// Every server flag and what it does. A test checks this table against
/// the flags `clap` knows and against the flags the reference Prometheus
/// 3.5.3 reports, so no flag can be added without saying what it does.
pub const FLAG_EFFECTS: &[(&str, Effect)] = &[
    ("config.file", Effect::Honoured),
    ("config.auto-reload-interval", Effect::Honoured),
    ("web.listen-address", Effect::Honoured),
    (
        "auto-gomaxprocs",
        Effect::GoRuntime(
            "a Go runtime setting; promshard's worker threads already follow the CPUs the process may use",
        ),
    ),
    (
        "auto-gomemlimit",
        Effect::GoRuntime("a Go runtime setting; promshard has no garbage collector to limit"),
    ),
    (
        "auto-gomemlimit.ratio",
        Effect::GoRuntime("a Go runtime setting; promshard has no garbage collector to limit"),
    ),
    (
        "web.config.file",
        Effect::Partly(
            "only basic_auth_users is read, and it guards creating and expiring silences; TLS and the rest of the API are not covered",
        ),
    ),
    (
        "web.read-timeout",
        Effect::NotBuilt(
            "request read timeouts are not built; idle connections stay open until the client closes them",
        ),
    ),
    ("web.max-connections", Effect::Honoured),
    (
        "web.max-notifications-subscribers",
        Effect::NotBuilt("the live notifications endpoint is not built"),
    ),
    (
        "web.external-url",
        Effect::Partly(
            "used in alert links (generatorURL); serving under its path prefix is not built, routes stay at /",
        ),
    ),
    (
        "web.route-prefix",
        Effect::NotBuilt("serving under a route prefix is not built; routes stay at /"),
    ),
    (
        "web.local-assets",
        Effect::NotBuilt("the UI is built into the binary; local assets are not served"),
    ),
    (
        "web.user-assets",
        Effect::NotBuilt("serving user assets at /user is not built"),
    ),
    ("web.enable-lifecycle", Effect::Honoured),
    ("web.enable-admin-api", Effect::Honoured),
    ("web.enable-remote-write-receiver", Effect::Honoured),
    (
        "web.remote-write-receiver.accepted-protobuf-messages",
        Effect::Partly(
            "the receiver accepts prometheus.WriteRequest (remote write 1.0) only; io.prometheus.write.v2.Request is answered 415",
        ),
    ),
    (
        "web.console.templates",
        Effect::NotBuilt("console templates are not built"),
    ),
    (
        "web.console.libraries",
        Effect::NotBuilt("console templates are not built"),
    ),
    ("web.page-title", Effect::Honoured),
    ("web.cors.origin", Effect::Honoured),
    ("storage.tsdb.path", Effect::Honoured),
    ("storage.tsdb.retention.time", Effect::Honoured),
    ("storage.tsdb.retention.size", Effect::Honoured),
    ("storage.tsdb.no-lockfile", Effect::Honoured),
    (
        "storage.tsdb.head-chunks-write-queue-size",
        Effect::NotBuilt("head chunks are written in place; there is no write queue to size"),
    ),
    ("storage.tsdb.min-block-duration", Effect::Honoured),
    ("storage.tsdb.max-block-duration", Effect::Honoured),
    (
        "storage.tsdb.max-block-chunk-segment-size",
        Effect::NotBuilt("block chunk segment files are not split by size"),
    ),
    ("storage.tsdb.wal-segment-size", Effect::Honoured),
    (
        "storage.tsdb.allow-overlapping-compaction",
        Effect::NotBuilt("overlapping blocks are always compacted together"),
    ),
    (
        "storage.tsdb.wal-compression",
        Effect::NotBuilt("WAL records are always snappy-compressed"),
    ),
    (
        "storage.tsdb.wal-compression-type",
        Effect::Partly("WAL records are snappy-compressed; zstd is not built"),
    ),
    (
        "storage.tsdb.samples-per-chunk",
        Effect::NotBuilt("chunks are cut at 120 samples"),
    ),
    (
        "storage.tsdb.delayed-compaction.max-percent",
        Effect::NotBuilt("the delayed-compaction feature is not built"),
    ),
    ("storage.tsdb.block-reload-interval", Effect::Own),
    (
        "storage.agent.path",
        Effect::NotBuilt("agent mode is not built"),
    ),
    (
        "storage.agent.wal-compression",
        Effect::NotBuilt("agent mode is not built"),
    ),
    (
        "storage.agent.wal-compression-type",
        Effect::NotBuilt("agent mode is not built"),
    ),
    (
        "storage.agent.wal-segment-size",
        Effect::NotBuilt("agent mode is not built"),
    ),
    (
        "storage.agent.wal-truncate-frequency",
        Effect::NotBuilt("agent mode is not built"),
    ),
    (
        "storage.agent.retention.min-time",
        Effect::NotBuilt("agent mode is not built"),
    ),
    (
        "storage.agent.retention.max-time",
        Effect::NotBuilt("agent mode is not built"),
    ),
    (
        "storage.agent.no-lockfile",
        Effect::NotBuilt("agent mode is not built"),
    ),
    ("storage.remote.flush-deadline", Effect::Honoured),
    ("storage.remote.read-sample-limit", Effect::Honoured),
    ("storage.remote.read-concurrent-limit", Effect::Honoured),
    (
        "storage.remote.read-max-bytes-in-frame",
        Effect::NotBuilt("streamed remote read responses are not built; reads answer with samples"),
    ),
    ("rules.alert.for-outage-tolerance", Effect::Honoured),
    ("rules.alert.for-grace-period", Effect::Honoured),
    ("rules.alert.resend-delay", Effect::Honoured),
    (
        "rules.max-concurrent-evals",
        Effect::NotBuilt(
            "the concurrent-rule-eval feature is not built; the rules of a group are evaluated in order",
        ),
    ),
    ("alertmanager.notification-queue-capacity", Effect::Honoured),
    ("alertmanager.notification-batch-size", Effect::Honoured),
    (
        "alertmanager.drain-notification-queue-on-shutdown",
        Effect::Honoured,
    ),
    ("query.lookback-delta", Effect::Honoured),
    ("query.timeout", Effect::Honoured),
    ("query.max-concurrency", Effect::Honoured),
    ("query.max-samples", Effect::Honoured),
    (
        "enable-feature",
        Effect::Partly(
            "each feature named is checked against FEATURES; the ones not built are named in a warning",
        ),
    ),
    (
        "agent",
        Effect::NotBuilt(
            "agent mode is not built; promshard runs as a full server (scrape, store, query, rules)",
        ),
    ),
    ("log.level", Effect::Honoured),
    ("log.format", Effect::Honoured),
    (
        "scrape.adjust-timestamps",
        Effect::NotBuilt("scrape timestamps are not aligned to the schedule"),
    ),
    (
        "scrape.timestamp-tolerance",
        Effect::NotBuilt("scrape timestamps are not aligned to the schedule"),
    ),
    (
        "scrape.discovery-reload-interval",
        Effect::NotBuilt("discovered target updates are applied as they come, not throttled"),
    ),
    ("cluster.mode", Effect::Own),
    ("cluster.node-id", Effect::Own),
    ("cluster.advertise-address", Effect::Own),
    ("cluster.peer", Effect::Own),
    ("cluster.etcd.endpoints", Effect::Own),
    ("cluster.etcd.prefix", Effect::Own),
    ("cluster.etcd.lease-ttl", Effect::Own),
    ("cluster.peer-timeout", Effect::Own),
];

/// The `--enable-feature` names Prometheus 3.5 knows, and what each does
/// in promshard: `None` when it takes effect, else why it does not.
pub const FEATURES: &[(&str, Option<&str>)] = &[
    ("auto-reload-config", None),
    ("remote-write-receiver", None),
    ("agent", Some("agent mode is not built")),
    ("auto-gomemlimit", Some("a Go runtime setting")),
    ("auto-gomaxprocs", Some("a Go runtime setting")),
    ("exemplar-storage", Some("exemplar storage is not built")),
    (
        "expand-external-labels",
        Some("external labels are used as written"),
    ),
    (
        "memory-snapshot-on-shutdown",
        Some("head snapshots are not built; the WAL is replayed"),
    ),
    (
        "promql-per-step-stats",
        Some("per-step query statistics are not built"),
    ),
    (
        "promql-experimental-functions",
        Some("experimental PromQL functions are not built"),
    ),
    (
        "promql-delayed-name-removal",
        Some("delayed __name__ removal is not built"),
    ),
    (
        "extra-scrape-metrics",
        Some("the extra scrape metrics are not built"),
    ),
    (
        "new-service-discovery-manager",
        Some("there is one discovery manager; the flag changes nothing"),
    ),
    (
        "no-default-scrape-port",
        Some("addresses without a port get the scheme's default port"),
    ),
    ("native-histograms", Some("native histograms are not built")),
    (
        "created-timestamp-zero-ingestion",
        Some("created-timestamp zero ingestion is not built"),
    ),
    (
        "concurrent-rule-eval",
        Some("concurrent rule evaluation is not built"),
    ),
    (
        "delayed-compaction",
        Some("delayed compaction is not built"),
    ),
    ("old-ui", Some("there is one built-in UI")),
    (
        "otlp-deltatocumulative",
        Some("the OTLP receiver is not built"),
    ),
    (
        "type-and-unit-labels",
        Some("type and unit labels are not built"),
    ),
    (
        "metadata-wal-records",
        Some("metadata WAL records are not built"),
    ),
    ("use-uncached-io", Some("uncached I/O is not built")),
    (
        "promql-duration-expr",
        Some("PromQL duration expressions are not built"),
    ),
];

impl Cli {
    /// Parses the process's arguments as Prometheus's flag parser would:
    /// `--no-<flag>` turns a boolean flag off, and the parsed flags carry
    /// their values and which were given.
    pub fn parse_args() -> Cli {
        Cli::parse_from_args(std::env::args_os())
    }

    /// [`Cli::parse_args`] over `args` (the program name first); exits
    /// with clap's message on bad flags.
    pub fn parse_from_args<I: IntoIterator<Item = std::ffi::OsString>>(args: I) -> Cli {
        match Cli::try_parse_from_args(args) {
            Ok(cli) => cli,
            Err(error) => error.exit(),
        }
    }

    /// [`Cli::parse_from_args`], returning clap's error instead of exiting.
    pub fn try_parse_from_args<I: IntoIterator<Item = std::ffi::OsString>>(
        args: I,
    ) -> Result<Cli, clap::Error> {
        let command = Cli::command();
        let args = negate_booleans(&command, args);
        let matches = command.try_get_matches_from(args)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        for argument in Cli::command().get_arguments() {
            let Some(long) = argument.get_long() else {
                continue;
            };
            let id = argument.get_id().as_str();
            if let Ok(Some(number)) = matches.try_get_one::<i64>(id) {
                // Shown as Prometheus shows it: `5e7` is 50000000.
                cli.server
                    .values
                    .insert(long.to_string(), number.to_string());
            } else if let Ok(Some(values)) = matches.try_get_many::<String>(id) {
                let joined: Vec<&str> = values.map(String::as_str).collect();
                cli.server.values.insert(long.to_string(), joined.join(","));
            } else if let Some(values) = matches.get_raw(id) {
                let joined: Vec<String> =
                    values.map(|v| v.to_string_lossy().into_owned()).collect();
                cli.server.values.insert(long.to_string(), joined.join(","));
            }
            if matches.value_source(id) == Some(ValueSource::CommandLine) {
                cli.server.given.insert(long.to_string());
            }
        }
        cli.server.fill_derived_values();
        Ok(cli)
    }
}

/// Rewrites `--no-<flag>` of a boolean flag to `--<flag>=false`, and
/// `--no-help`/`--no-version` to `--help`/`--version` (as Prometheus's
/// parser does), up to a `--`.
fn negate_booleans<I: IntoIterator<Item = std::ffi::OsString>>(
    command: &clap::Command,
    args: I,
) -> Vec<std::ffi::OsString> {
    let booleans: BTreeSet<&str> = command
        .get_arguments()
        .filter(|argument| {
            argument
                .get_num_args()
                .is_some_and(|range| range.min_values() == 0)
        })
        .filter_map(|argument| argument.get_long())
        .collect();
    let mut out = Vec::new();
    let mut verbatim = false;
    for arg in args {
        if verbatim {
            out.push(arg);
            continue;
        }
        let rewritten = arg.to_str().and_then(|text| {
            if text == "--" {
                return None;
            }
            let name = text.strip_prefix("--no-")?;
            if name == "help" || name == "version" {
                return Some(format!("--{name}"));
            }
            booleans.contains(name).then(|| format!("--{name}=false"))
        });
        if arg == "--" {
            verbatim = true;
        }
        out.push(rewritten.map(Into::into).unwrap_or(arg));
    }
    out
}

impl ServerFlags {
    /// Values Prometheus reports after working them out from others:
    /// the retention time, the largest block duration and the route prefix.
    fn fill_derived_values(&mut self) {
        let retention = self.retention_time();
        self.values.insert(
            "storage.tsdb.retention.time".into(),
            PromDuration::from_millis(retention.as_millis() as u64).to_string(),
        );
        self.values.insert(
            "storage.tsdb.max-block-duration".into(),
            PromDuration::from_millis(self.max_block_duration().as_millis() as u64).to_string(),
        );
        self.values
            .insert("web.route-prefix".into(), self.route_prefix());
        self.values.entry("enable-feature".into()).or_default();
    }

    /// The raw retention time: as given, else 15d unless a size limit is
    /// set (then none, as Prometheus does).
    pub fn retention_time(&self) -> Duration {
        match &self.storage_tsdb_retention_time {
            Some(text) => duration_value(text),
            None if self.retention_size() > 0 => Duration::ZERO,
            None => Duration::from_secs(15 * 24 * 3600),
        }
    }

    /// `--storage.tsdb.retention.size` in bytes (0: off).
    pub fn retention_size(&self) -> u64 {
        ByteSize::parse(&self.storage_tsdb_retention_size)
            .map(|size| size.bytes())
            .unwrap_or(0)
    }

    /// The largest compacted block: as given, else 10% of the retention
    /// time, at most 31 days (Prometheus's rule).
    pub fn max_block_duration(&self) -> Duration {
        if let Some(text) = &self.storage_tsdb_max_block_duration {
            return duration_value(text);
        }
        let limit = Duration::from_secs(31 * 24 * 3600);
        match self.retention_time() {
            Duration::ZERO => limit,
            retention => (retention / 10).min(limit),
        }
    }

    /// The route prefix: as given, else the external URL's path, else `/`.
    pub fn route_prefix(&self) -> String {
        if !self.web_route_prefix.is_empty() {
            return self.web_route_prefix.clone();
        }
        let path = url::Url::parse(&self.web_external_url)
            .map(|url| url.path().trim_end_matches('/').to_string())
            .unwrap_or_default();
        if path.is_empty() { "/".into() } else { path }
    }

    /// A duration flag's value (flags were checked when parsed).
    pub fn duration(text: &str) -> Duration {
        duration_value(text)
    }

    /// The first `--web.listen-address`, the one peers are told about.
    pub fn first_listen_address(&self) -> &str {
        self.web_listen_address
            .first()
            .map(String::as_str)
            .unwrap_or("0.0.0.0:9090")
    }

    /// True when `--enable-feature` names `feature`.
    pub fn feature(&self, feature: &str) -> bool {
        self.enable_feature.iter().any(|f| f.trim() == feature)
    }

    /// Every flag and its value, as `/api/v1/status/flags` shows them.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.values.clone()
    }

    /// What to warn about at start-up: each flag given on the command
    /// line that does not take full effect, and each `--enable-feature`
    /// value that is unknown or not built, as (flag, why).
    pub fn notices(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (flag, effect) in FLAG_EFFECTS {
            if !self.given.contains(*flag) {
                continue;
            }
            let why = match effect {
                Effect::Partly(why) | Effect::NotBuilt(why) | Effect::GoRuntime(why) => why,
                Effect::Honoured | Effect::Own => continue,
            };
            if *flag == "enable-feature" {
                continue;
            }
            if *flag == "web.remote-write-receiver.accepted-protobuf-messages"
                && !self
                    .web_remote_write_receiver_accepted_protobuf_messages
                    .iter()
                    .any(|m| m == "io.prometheus.write.v2.Request")
            {
                continue;
            }
            if *flag == "storage.tsdb.wal-compression-type"
                && self.storage_tsdb_wal_compression_type == "snappy"
            {
                continue;
            }
            out.push((format!("--{flag}"), why.to_string()));
        }
        for feature in &self.enable_feature {
            let feature = feature.trim();
            if feature.is_empty() {
                continue;
            }
            match FEATURES.iter().find(|(name, _)| *name == feature) {
                Some((_, None)) => {}
                Some((_, Some(why))) => {
                    out.push((format!("--enable-feature={feature}"), why.to_string()))
                }
                None => out.push((
                    format!("--enable-feature={feature}"),
                    "Unknown option for --enable-feature".to_string(),
                )),
            }
        }
        out
    }
}

fn duration_value(text: &str) -> Duration {
    PromDuration::parse(text)
        .map(|d| d.as_duration())
        .unwrap_or_default()
}

/// A Prometheus duration (`5m`, `1d12h`).
fn duration_arg(text: &str) -> Result<String, String> {
    PromDuration::parse(text)
        .map(|duration| duration.to_string())
        .map_err(|error| format!("not a valid duration string: {text:?} ({error})"))
}

/// A byte size with a unit (`512MB`, `0B`).
fn bytes_arg(text: &str) -> Result<String, String> {
    ByteSize::parse(text)
        .map(|size| size.base2_text())
        .map_err(|error| format!("invalid size {text:?}: {error}"))
}

/// An integer, also written as a float (`5e7`), as Prometheus's parser
/// takes them.
fn int_arg(text: &str) -> Result<i64, String> {
    if let Ok(value) = text.parse::<i64>() {
        return Ok(value);
    }
    let value: f64 = text
        .parse()
        .map_err(|_| format!("invalid number {text:?}"))?;
    if value.fract() != 0.0 || !value.is_finite() || value.abs() > i64::MAX as f64 {
        return Err(format!("{text:?} is not a whole number"));
    }
    Ok(value as i64)
}

/// A ratio in (0, 1].
fn ratio_arg(text: &str) -> Result<String, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("invalid number {text:?}"))?;
    if value <= 0.0 || value > 1.0 {
        return Err(format!("{text:?} must be greater than 0 and at most 1"));
    }
    Ok(text.to_string())
}

/// A regular expression (anchored when used).
fn regex_arg(text: &str) -> Result<String, String> {
    regex::Regex::new(&format!("^(?:{text})$"))
        .map(|_| text.to_string())
        .map_err(|error| format!("invalid regular expression {text:?}: {error}"))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> ServerFlags {
        let argv = std::iter::once("promshard").chain(args.iter().copied());
        Cli::try_parse_from_args(argv.map(std::ffi::OsString::from))
            .unwrap()
            .server
    }

    #[test]
    fn every_server_flag_says_what_it_does() {
        let known: BTreeSet<String> = Cli::command()
            .get_arguments()
            .filter_map(|argument| argument.get_long())
            .filter(|long| *long != "help" && *long != "version")
            .map(str::to_string)
            .collect();
        let described: BTreeSet<String> = FLAG_EFFECTS
            .iter()
            .map(|(flag, _)| flag.to_string())
            .collect();
        assert_eq!(known, described);
    }

    #[test]
    fn booleans_take_the_no_form_and_an_explicit_value() {
        let flags = parse(&["--web.enable-lifecycle", "--no-auto-gomaxprocs"]);
        assert!(flags.web_enable_lifecycle);
        assert!(!flags.auto_gomaxprocs);
        assert_eq!(flags.to_map()["auto-gomaxprocs"], "false");
        let flags = parse(&[
            "--web.enable-lifecycle=false",
            "--storage.tsdb.no-lockfile=true",
        ]);
        assert!(!flags.web_enable_lifecycle);
        assert!(flags.storage_tsdb_no_lockfile);
        // `--no-` of a flag that is not a boolean is an error, as in Prometheus.
        let argv = ["promshard", "--no-query.timeout"].map(std::ffi::OsString::from);
        assert!(Cli::try_parse_from_args(argv).is_err());
    }

    #[test]
    fn the_derived_values_follow_prometheus() {
        let flags = parse(&[]);
        assert_eq!(flags.retention_time(), Duration::from_secs(15 * 24 * 3600));
        assert_eq!(flags.to_map()["storage.tsdb.retention.time"], "15d");
        assert_eq!(flags.to_map()["storage.tsdb.max-block-duration"], "1d12h");
        assert_eq!(flags.to_map()["web.route-prefix"], "/");
        // A size limit alone turns the time limit off; blocks reach 31d.
        let flags = parse(&["--storage.tsdb.retention.size=10GB"]);
        assert_eq!(flags.retention_time(), Duration::ZERO);
        assert_eq!(
            flags.max_block_duration(),
            Duration::from_secs(31 * 24 * 3600)
        );
        assert_eq!(flags.retention_size(), 10 << 30);
        let flags = parse(&["--web.external-url=http://example.com/prom/"]);
        assert_eq!(flags.route_prefix(), "/prom");
    }

    #[test]
    fn integers_may_be_written_as_floats_and_bad_values_are_refused() {
        assert_eq!(
            parse(&["--query.max-samples=5e7"]).query_max_samples,
            50_000_000
        );
        for bad in [
            "--query.timeout=5 minutes",
            "--storage.tsdb.retention.size=lots",
            "--query.max-samples=1.5",
            "--web.cors.origin=(",
        ] {
            let argv = ["promshard", bad].map(std::ffi::OsString::from);
            assert!(Cli::try_parse_from_args(argv).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn sizes_are_shown_in_binary_units() {
        assert_eq!(ByteSize(0).base2_text(), "0B");
        assert_eq!(ByteSize(1 << 30).base2_text(), "1GiB");
        assert_eq!(ByteSize(1536).base2_text(), "1KiB512B");
        let flags = parse(&["--storage.tsdb.retention.size=512MB"]);
        assert_eq!(flags.to_map()["storage.tsdb.retention.size"], "512MiB");
    }

    #[test]
    fn listen_addresses_repeat() {
        let flags = parse(&[
            "--web.listen-address=127.0.0.1:1",
            "--web.listen-address=127.0.0.1:2",
        ]);
        assert_eq!(flags.web_listen_address, ["127.0.0.1:1", "127.0.0.1:2"]);
        assert_eq!(flags.first_listen_address(), "127.0.0.1:1");
    }

    #[test]
    fn notices_name_flags_given_that_are_not_in_effect_and_unknown_features() {
        let flags = parse(&[
            "--web.enable-lifecycle",
            "--storage.tsdb.samples-per-chunk=200",
            "--enable-feature=exemplar-storage,auto-reload-config",
            "--enable-feature=no-such-thing",
        ]);
        let notices: BTreeMap<String, String> = flags.notices().into_iter().collect();
        assert!(notices.contains_key("--storage.tsdb.samples-per-chunk"));
        assert!(notices.contains_key("--enable-feature=exemplar-storage"));
        assert!(notices.contains_key("--enable-feature=no-such-thing"));
        assert!(!notices.contains_key("--web.enable-lifecycle"));
        assert!(!notices.contains_key("--enable-feature=auto-reload-config"));
        // A flag left at its default warns about nothing.
        assert!(parse(&[]).notices().is_empty());
    }
}
