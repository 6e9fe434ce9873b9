//! The whole scrape: runs every collector in turn into one reused text buffer,
//! then reports each collector's duration and success as node_exporter does.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use regex::Regex;

use crate::collectors::diskstats::DiskstatsCollector;
use crate::collectors::filesystem::{FilesystemCollector, statvfs_stats};
use crate::collectors::loadavg::write_loadavg;
use crate::collectors::meminfo::MeminfoCollector;
use crate::collectors::netdev::NetdevCollector;
use crate::collectors::process::write_process;
use crate::collectors::stat::{CpuCollector, write_stat};
use crate::collectors::statfs_worker::StatfsWorker;
use crate::collectors::uname::write_uname;
use crate::collectors::{CollectError, read_file_into};
use crate::exposition::{MetricKind, TextWriter};

/// node_exporter's default `--collector.filesystem.mount-points-exclude`.
pub const DEFAULT_FILESYSTEM_MOUNT_POINTS_EXCLUDE: &str =
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
/// node_exporter's default `--collector.filesystem.fs-types-exclude`.
pub const DEFAULT_FILESYSTEM_FS_TYPES_EXCLUDE: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|tracefs)$";
/// node_exporter's default `--collector.diskstats.device-exclude` (partitions, loops, RAM disks).
pub const DEFAULT_DISKSTATS_DEVICE_EXCLUDE: &str =
    r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";
/// node_exporter's default `--collector.netdev.device-exclude`.
pub const DEFAULT_NETDEV_DEVICE_EXCLUDE: &str = "^lo$";
/// node_exporter's default `--collector.filesystem.mount-timeout`.
pub const DEFAULT_FILESYSTEM_MOUNT_TIMEOUT: Duration = Duration::from_secs(5);

/// The exporter's collection settings, with node_exporter's flag names in the docs.
#[derive(Debug, Clone)]
pub struct CollectorConfig {
    /// `--path.procfs`: where procfs is mounted.
    pub procfs_root: PathBuf,
    /// `--collector.filesystem.mount-points-exclude`.
    pub filesystem_mount_points_exclude: Regex,
    /// `--collector.filesystem.fs-types-exclude`.
    pub filesystem_fs_types_exclude: Regex,
    /// `--collector.diskstats.device-exclude`.
    pub diskstats_device_exclude: Regex,
    /// `--collector.netdev.device-exclude`.
    pub netdev_device_exclude: Regex,
    /// `--collector.filesystem.mount-timeout`: how long a `statvfs` may hang
    /// before its mount point is reported as a device error and skipped.
    pub filesystem_mount_timeout: Duration,
}

/// An exclusion pattern given on the command line did not compile.
#[derive(Debug, thiserror::Error)]
#[error("invalid regular expression for {flag}: {source}")]
pub struct InvalidPatternError {
    /// The flag that carried the pattern.
    pub flag: &'static str,
    /// The regex compiler's complaint.
    pub source: regex::Error,
}

impl CollectorConfig {
    /// Builds a config from flag values; patterns are compiled as given
    /// (node_exporter's are already anchored).
    pub fn from_patterns(
        procfs_root: PathBuf,
        mount_points_exclude: &str,
        fs_types_exclude: &str,
        diskstats_device_exclude: &str,
        netdev_device_exclude: &str,
    ) -> Result<Self, InvalidPatternError> {
        let compile = |flag: &'static str, pattern: &str| {
            Regex::new(pattern).map_err(|source| InvalidPatternError { flag, source })
        };
        Ok(Self {
            procfs_root,
            filesystem_mount_points_exclude: compile(
                "--collector.filesystem.mount-points-exclude",
                mount_points_exclude,
            )?,
            filesystem_fs_types_exclude: compile(
                "--collector.filesystem.fs-types-exclude",
                fs_types_exclude,
            )?,
            diskstats_device_exclude: compile(
                "--collector.diskstats.device-exclude",
                diskstats_device_exclude,
            )?,
            netdev_device_exclude: compile(
                "--collector.netdev.device-exclude",
                netdev_device_exclude,
            )?,
            filesystem_mount_timeout: DEFAULT_FILESYSTEM_MOUNT_TIMEOUT,
        })
    }
}

impl Default for CollectorConfig {
    fn default() -> Self {
        // The default patterns are constants that compile; a failure here is a bug in this file.
        Self::from_patterns(
            PathBuf::from("/proc"),
            DEFAULT_FILESYSTEM_MOUNT_POINTS_EXCLUDE,
            DEFAULT_FILESYSTEM_FS_TYPES_EXCLUDE,
            DEFAULT_DISKSTATS_DEVICE_EXCLUDE,
            DEFAULT_NETDEV_DEVICE_EXCLUDE,
        )
        .expect("default exclusion patterns compile")
    }
}

/// Names of the collectors, as in `node_scrape_collector_success{collector}`.
const COLLECTOR_NAMES: [&str; 10] = [
    "cpu",
    "diskstats",
    "filesystem",
    "loadavg",
    "meminfo",
    "netdev",
    "stat",
    "time",
    "uname",
    "process",
];

/// The procfs files read on every scrape, joined once.
struct ProcfsPaths {
    root: PathBuf,
    stat: PathBuf,
    diskstats: PathBuf,
    init_mounts: PathBuf,
    own_mounts: PathBuf,
    loadavg: PathBuf,
    meminfo: PathBuf,
    net_dev: PathBuf,
    own_stat: PathBuf,
}

impl ProcfsPaths {
    fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            stat: root.join("stat"),
            diskstats: root.join("diskstats"),
            init_mounts: root.join("1/mounts"),
            own_mounts: root.join("self/mounts"),
            loadavg: root.join("loadavg"),
            meminfo: root.join("meminfo"),
            net_dev: root.join("net/dev"),
            own_stat: root.join("self/stat"),
        }
    }
}

/// Collects the host's metrics. Not thread-safe by design: one scrape at a
/// time owns it (the server wraps it in a mutex); every buffer is reused.
pub struct HostCollector {
    paths: ProcfsPaths,
    statfs_worker: StatfsWorker,
    ticks_per_second: f64,
    file_text: String,
    stat_text: String,
    cpu: CpuCollector,
    meminfo: MeminfoCollector,
    filesystem: FilesystemCollector,
    diskstats: DiskstatsCollector,
    netdev: NetdevCollector,
    outcomes: [(f64, bool); COLLECTOR_NAMES.len()],
    last_output_length: usize,
}

impl HostCollector {
    /// A collector with the given settings; nothing is read until `collect`.
    pub fn new(config: CollectorConfig) -> Self {
        Self {
            ticks_per_second: rustix::param::clock_ticks_per_second() as f64,
            file_text: String::with_capacity(16 * 1024),
            stat_text: String::with_capacity(8 * 1024),
            cpu: CpuCollector::default(),
            meminfo: MeminfoCollector::default(),
            filesystem: FilesystemCollector::new(
                config.filesystem_mount_points_exclude.clone(),
                config.filesystem_fs_types_exclude.clone(),
            ),
            diskstats: DiskstatsCollector::new(config.diskstats_device_exclude.clone()),
            netdev: NetdevCollector::new(config.netdev_device_exclude.clone()),
            outcomes: [(0.0, false); COLLECTOR_NAMES.len()],
            last_output_length: 0,
            paths: ProcfsPaths::new(&config.procfs_root),
            statfs_worker: StatfsWorker::new(statvfs_stats, config.filesystem_mount_timeout),
        }
    }

    /// Runs one scrape and returns the exposition text. A collector that fails
    /// contributes nothing but `node_scrape_collector_success{collector} 0`
    /// and a warning in the log; the scrape itself always succeeds.
    pub fn collect(&mut self) -> String {
        let mut output = String::with_capacity(self.last_output_length + 1024);
        self.collect_into(&mut output);
        self.last_output_length = output.len();
        output
    }

    /// Appends one scrape's exposition text to `output`.
    pub fn collect_into(&mut self, output: &mut String) {
        let mut writer = TextWriter::new(output);
        let boot_time = self.run(6, &mut writer, |collector, writer| {
            read_file_into(&collector.paths.stat, &mut collector.stat_text)?;
            write_stat(&collector.stat_text, writer)
        });
        self.run(0, &mut writer, |collector, writer| {
            let ticks = collector.ticks_per_second;
            collector.cpu.write(&collector.stat_text, ticks, writer)
        });
        self.run(1, &mut writer, |collector, writer| {
            read_file_into(&collector.paths.diskstats, &mut collector.file_text)?;
            collector.diskstats.write(&collector.file_text, writer)
        });
        self.run(2, &mut writer, |collector, writer| {
            if read_file_into(&collector.paths.init_mounts, &mut collector.file_text).is_err() {
                read_file_into(&collector.paths.own_mounts, &mut collector.file_text)?;
            }
            let statfs_worker = &mut collector.statfs_worker;
            collector.filesystem.write(
                &collector.file_text,
                &mut |mountpoint| statfs_worker.stat(mountpoint),
                writer,
            )
        });
        self.run(3, &mut writer, |collector, writer| {
            read_file_into(&collector.paths.loadavg, &mut collector.file_text)?;
            write_loadavg(&collector.file_text, writer)
        });
        self.run(4, &mut writer, |collector, writer| {
            read_file_into(&collector.paths.meminfo, &mut collector.file_text)?;
            collector.meminfo.write(&collector.file_text, writer)
        });
        self.run(5, &mut writer, |collector, writer| {
            read_file_into(&collector.paths.net_dev, &mut collector.file_text)?;
            collector.netdev.write(&collector.file_text, writer)
        });
        self.run(7, &mut writer, |_, writer| {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|since_epoch| since_epoch.as_secs_f64())
                .unwrap_or(0.0);
            writer.single(
                "node_time_seconds",
                "System time in seconds since epoch (1970).",
                MetricKind::Gauge,
                now,
            );
            Ok(())
        });
        self.run(8, &mut writer, |_, writer| {
            write_uname(writer);
            Ok(())
        });
        self.run(9, &mut writer, |collector, writer| {
            read_file_into(&collector.paths.own_stat, &mut collector.file_text)?;
            let boot_time = boot_time.unwrap_or(0.0);
            let ticks = collector.ticks_per_second;
            let root = &collector.paths.root;
            write_process(root, &collector.file_text, boot_time, ticks, writer)
        });
        self.write_outcomes(&mut writer);
    }

    /// Runs collector number `index`, timing it and undoing its partial output on failure.
    fn run<T>(
        &mut self,
        index: usize,
        writer: &mut TextWriter<'_>,
        collect: impl FnOnce(&mut Self, &mut TextWriter<'_>) -> Result<T, CollectError>,
    ) -> Option<T> {
        let started = Instant::now();
        let output_mark = writer.len();
        let result = collect(self, writer);
        let succeeded = result.is_ok();
        if let Err(error) = &result {
            writer.truncate(output_mark);
            tracing::warn!(collector = COLLECTOR_NAMES[index], %error, "collector failed");
        }
        self.outcomes[index] = (started.elapsed().as_secs_f64(), succeeded);
        result.ok()
    }

    fn write_outcomes(&self, writer: &mut TextWriter<'_>) {
        writer.family(
            "node_scrape_collector_duration_seconds",
            "node_exporter: Duration of a collector scrape.",
            MetricKind::Gauge,
        );
        for (name, (duration, _)) in COLLECTOR_NAMES.iter().zip(self.outcomes) {
            writer.sample(
                "node_scrape_collector_duration_seconds",
                &[("collector", name)],
                duration,
            );
        }
        writer.family(
            "node_scrape_collector_success",
            "node_exporter: Whether a collector succeeded.",
            MetricKind::Gauge,
        );
        for (name, (_, succeeded)) in COLLECTOR_NAMES.iter().zip(self.outcomes) {
            let value = if succeeded { 1.0 } else { 0.0 };
            writer.sample(
                "node_scrape_collector_success",
                &[("collector", name)],
                value,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_scrape_has_every_collector_succeeding_on_linux() {
        let output = HostCollector::new(CollectorConfig::default()).collect();
        for name in COLLECTOR_NAMES {
            let line = format!("node_scrape_collector_success{{collector=\"{name}\"}} 1\n");
            assert!(output.contains(&line), "collector {name} failed:\n{output}");
        }
    }

    #[test]
    fn a_missing_procfs_fails_collectors_without_failing_the_scrape() {
        let config = CollectorConfig {
            procfs_root: PathBuf::from("/nonexistent-procfs"),
            ..CollectorConfig::default()
        };
        let output = HostCollector::new(config).collect();
        assert!(output.contains("node_scrape_collector_success{collector=\"meminfo\"} 0\n"));
        assert!(output.contains("node_scrape_collector_success{collector=\"uname\"} 1\n"));
        assert!(!output.contains("node_memory_"), "{output}");
        assert!(output.contains("node_uname_info{"));
    }

    #[test]
    fn an_invalid_exclusion_pattern_names_its_flag() {
        let error = CollectorConfig::from_patterns("/proc".into(), "(", "", "", "").unwrap_err();
        assert!(
            error.to_string().contains("mount-points-exclude"),
            "{error}"
        );
    }
}
