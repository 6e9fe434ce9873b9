//! `promshard-exporter`: serves the host's metrics with node_exporter's names.
//! Flags carry node_exporter's names and defaults.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use promshard_exporter::host_collector::{
    CollectorConfig, DEFAULT_DISKSTATS_DEVICE_EXCLUDE, DEFAULT_FILESYSTEM_FS_TYPES_EXCLUDE,
    DEFAULT_FILESYSTEM_MOUNT_POINTS_EXCLUDE, DEFAULT_NETDEV_DEVICE_EXCLUDE, HostCollector,
};
use promshard_exporter::server;

/// A cheap host exporter with node_exporter-compatible metrics.
#[derive(Debug, Parser)]
#[command(name = "promshard-exporter", version)]
struct Flags {
    /// Address on which to expose metrics and web interface.
    #[arg(long = "web.listen-address", default_value = ":9100")]
    web_listen_address: String,
    /// Path under which to expose metrics.
    #[arg(long = "web.telemetry-path", default_value = "/metrics")]
    web_telemetry_path: String,
    /// Only log messages with the given severity or above.
    #[arg(long = "log.level", default_value = "info", value_parser = ["debug", "info", "warn", "error"])]
    log_level: String,
    /// Output format of log messages.
    #[arg(long = "log.format", default_value = "logfmt", value_parser = ["logfmt", "json"])]
    log_format: String,
    /// procfs mountpoint.
    #[arg(long = "path.procfs", default_value = "/proc")]
    path_procfs: PathBuf,
    /// Regexp of mount points to exclude for filesystem collector.
    #[arg(long = "collector.filesystem.mount-points-exclude", default_value = DEFAULT_FILESYSTEM_MOUNT_POINTS_EXCLUDE)]
    filesystem_mount_points_exclude: String,
    /// Regexp of filesystem types to exclude for filesystem collector.
    #[arg(long = "collector.filesystem.fs-types-exclude", default_value = DEFAULT_FILESYSTEM_FS_TYPES_EXCLUDE)]
    filesystem_fs_types_exclude: String,
    /// How long to wait for a mount to respond before marking it as stale.
    #[arg(long = "collector.filesystem.mount-timeout", default_value = "5s", value_parser = parse_go_duration)]
    filesystem_mount_timeout: Duration,
    /// Regexp of diskstats devices to exclude.
    #[arg(long = "collector.diskstats.device-exclude", default_value = DEFAULT_DISKSTATS_DEVICE_EXCLUDE)]
    diskstats_device_exclude: String,
    /// Regexp of net devices to exclude.
    #[arg(long = "collector.netdev.device-exclude", default_value = DEFAULT_NETDEV_DEVICE_EXCLUDE)]
    netdev_device_exclude: String,
}

fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    init_logging(&flags);
    if !flags.web_telemetry_path.starts_with('/') || flags.web_telemetry_path == "/" {
        anyhow::bail!(
            "--web.telemetry-path must start with / and not be / itself, got {:?}",
            flags.web_telemetry_path
        );
    }
    let mut config = CollectorConfig::from_patterns(
        flags.path_procfs.clone(),
        &flags.filesystem_mount_points_exclude,
        &flags.filesystem_fs_types_exclude,
        &flags.diskstats_device_exclude,
        &flags.netdev_device_exclude,
    )?;
    config.filesystem_mount_timeout = flags.filesystem_mount_timeout;
    // One thread is plenty: a scrape takes well under a millisecond.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(flags, config))
}

async fn serve(flags: Flags, config: CollectorConfig) -> anyhow::Result<()> {
    let listener = server::bind(&flags.web_listen_address).await?;
    let local_address = listener.local_addr().context("reading the bound address")?;
    tracing::info!(address = %local_address, telemetry_path = %flags.web_telemetry_path, "listening");
    let router = server::router(HostCollector::new(config), &flags.web_telemetry_path);
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving HTTP")
}

async fn shutdown_signal() {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(stream) => Some(stream),
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                None
            }
        };
    let terminated = async {
        match terminate.as_mut() {
            Some(stream) => {
                stream.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminated => {}
    }
    tracing::info!("shutting down");
}

/// Parses a Go-style duration as node_exporter's flags take it: one or more
/// `<number><unit>` parts, units `ms`, `s`, `m`, `h` (e.g. `5s`, `1m30s`, `500ms`).
fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("invalid duration {text:?}: expected e.g. 5s, 500ms, 1m30s");
    let mut rest = text;
    let mut total = Duration::ZERO;
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let digits_length = rest
            .find(|character: char| !(character.is_ascii_digit() || character == '.'))
            .ok_or_else(invalid)?;
        let number: f64 = rest[..digits_length].parse().map_err(|_| invalid())?;
        rest = &rest[digits_length..];
        let unit_length = rest
            .find(|character: char| character.is_ascii_digit())
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_length] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(invalid()),
        };
        rest = &rest[unit_length..];
        total += Duration::try_from_secs_f64(number * seconds_per_unit).map_err(|_| invalid())?;
    }
    Ok(total)
}

fn init_logging(flags: &Flags) {
    let filter = tracing_subscriber::EnvFilter::new(&flags.log_level);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if flags.log_format == "json" {
        builder.json().init();
    } else {
        builder
            .with_ansi(false)
            .event_format(promshard_exporter::logfmt::LogfmtFormat)
            .init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_as_node_exporter_flags_take_them() {
        let cases: &[(&str, Option<Duration>)] = &[
            ("5s", Some(Duration::from_secs(5))),
            ("500ms", Some(Duration::from_millis(500))),
            ("1m30s", Some(Duration::from_secs(90))),
            ("1.5s", Some(Duration::from_millis(1500))),
            ("", None),
            ("5", None),
            ("s", None),
            ("5x", None),
            ("-1s", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_go_duration(text).ok(), *expected, "{text:?}");
        }
    }

    #[test]
    fn flags_default_to_node_exporter_defaults() {
        let flags = Flags::parse_from(["promshard-exporter"]);
        assert_eq!(flags.web_listen_address, ":9100");
        assert_eq!(flags.web_telemetry_path, "/metrics");
        assert_eq!(flags.filesystem_mount_timeout, Duration::from_secs(5));
        assert_eq!(flags.netdev_device_exclude, "^lo$");
    }
}
