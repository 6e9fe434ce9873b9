//! Mounted filesystems: node_exporter's `filesystem` collector,
//! `node_filesystem_*{device,fstype,mountpoint}` from the mount table
//! (`/proc/1/mounts`, else `/proc/self/mounts`) and `statvfs(2)`.

use std::ops::Range;

use regex::Regex;

use super::CollectError;
use crate::exposition::{MetricKind, TextWriter};

const FILE: &str = "mounts";

/// What `statvfs(2)` says about one mounted filesystem, already in node_exporter's units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FilesystemStats {
    /// Total size in bytes.
    pub size_bytes: f64,
    /// Free bytes, including those reserved for root.
    pub free_bytes: f64,
    /// Bytes available to unprivileged users.
    pub avail_bytes: f64,
    /// Total inodes.
    pub files: f64,
    /// Free inodes.
    pub files_free: f64,
}

/// Calls `statvfs(2)` on `mountpoint`.
pub fn statvfs_stats(mountpoint: &str) -> std::io::Result<FilesystemStats> {
    let stats = rustix::fs::statvfs(mountpoint)?;
    let block_bytes = if stats.f_frsize > 0 {
        stats.f_frsize
    } else {
        stats.f_bsize
    } as f64;
    Ok(FilesystemStats {
        size_bytes: stats.f_blocks as f64 * block_bytes,
        free_bytes: stats.f_bfree as f64 * block_bytes,
        avail_bytes: stats.f_bavail as f64 * block_bytes,
        files: stats.f_files as f64,
        files_free: stats.f_ffree as f64,
    })
}

struct MountEntry {
    device: Range<usize>,
    mountpoint: Range<usize>,
    fstype: Range<usize>,
    read_only: bool,
    stats: Option<FilesystemStats>,
}

/// The exclusion rules and scratch space of the `filesystem` collector.
pub struct FilesystemCollector {
    mount_points_exclude: Regex,
    fs_types_exclude: Regex,
    /// Unescaped device, mount point and type strings, referenced by range.
    label_text: String,
    mounts: Vec<MountEntry>,
}

type StatFunction<'a> = &'a mut dyn FnMut(&str) -> std::io::Result<FilesystemStats>;

impl FilesystemCollector {
    /// A collector skipping mount points matching `mount_points_exclude` and
    /// types matching `fs_types_exclude` (node_exporter's
    /// `--collector.filesystem.mount-points-exclude` / `fs-types-exclude`).
    pub fn new(mount_points_exclude: Regex, fs_types_exclude: Regex) -> Self {
        Self {
            mount_points_exclude,
            fs_types_exclude,
            label_text: String::new(),
            mounts: Vec::new(),
        }
    }

    /// Parses the mount table text, calls `stat_filesystem` for each kept
    /// mount point, and writes the families. A mount point whose stat fails gets
    /// `node_filesystem_device_error 1` and no size metrics.
    pub fn write(
        &mut self,
        mounts_text: &str,
        stat_filesystem: StatFunction<'_>,
        writer: &mut TextWriter<'_>,
    ) -> Result<(), CollectError> {
        self.parse_mounts(mounts_text)?;
        for mount in &mut self.mounts {
            let mountpoint = &self.label_text[mount.mountpoint.clone()];
            mount.stats = match stat_filesystem(mountpoint) {
                Ok(stats) => Some(stats),
                Err(error) => {
                    tracing::debug!(mountpoint, %error, "statvfs failed");
                    None
                }
            };
        }
        self.write_families(writer);
        Ok(())
    }

    fn parse_mounts(&mut self, mounts_text: &str) -> Result<(), CollectError> {
        self.label_text.clear();
        self.mounts.clear();
        for (line_index, line) in mounts_text.lines().enumerate() {
            let mut fields = line.split_ascii_whitespace();
            let (Some(device), Some(mountpoint), Some(fstype), Some(options)) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                if line.trim().is_empty() {
                    continue;
                }
                return Err(CollectError::Malformed {
                    file: FILE,
                    line: line_index + 1,
                    reason: "fewer than four fields",
                });
            };
            let device = push_unescaped(&mut self.label_text, device);
            let mountpoint = push_unescaped(&mut self.label_text, mountpoint);
            let fstype = push_unescaped(&mut self.label_text, fstype);
            let excluded = self
                .mount_points_exclude
                .is_match(&self.label_text[mountpoint.clone()])
                || self
                    .fs_types_exclude
                    .is_match(&self.label_text[fstype.clone()]);
            if excluded {
                continue;
            }
            // A later mount on the same point hides the earlier one: statvfs sees only the last.
            let new_mountpoint = &self.label_text[mountpoint.clone()];
            let label_text = &self.label_text;
            self.mounts
                .retain(|mount| &label_text[mount.mountpoint.clone()] != new_mountpoint);
            self.mounts.push(MountEntry {
                device,
                mountpoint,
                fstype,
                read_only: options.split(',').any(|option| option == "ro"),
                stats: None,
            });
        }
        Ok(())
    }

    fn write_families(&self, writer: &mut TextWriter<'_>) {
        type Field = fn(&FilesystemStats) -> f64;
        let stat_families: [(&str, &str, Field); 5] = [
            (
                "node_filesystem_avail_bytes",
                "Filesystem space available to non-root users in bytes.",
                |stats| stats.avail_bytes,
            ),
            (
                "node_filesystem_files",
                "Filesystem total file nodes.",
                |stats| stats.files,
            ),
            (
                "node_filesystem_files_free",
                "Filesystem total free file nodes.",
                |stats| stats.files_free,
            ),
            (
                "node_filesystem_free_bytes",
                "Filesystem free space in bytes.",
                |stats| stats.free_bytes,
            ),
            (
                "node_filesystem_size_bytes",
                "Filesystem size in bytes.",
                |stats| stats.size_bytes,
            ),
        ];
        writer.family(
            "node_filesystem_device_error",
            "Whether an error occurred while getting statistics for the given device.",
            MetricKind::Gauge,
        );
        for mount in &self.mounts {
            let value = if mount.stats.is_some() { 0.0 } else { 1.0 };
            writer.sample("node_filesystem_device_error", &self.labels(mount), value);
        }
        writer.family(
            "node_filesystem_readonly",
            "Filesystem read-only status.",
            MetricKind::Gauge,
        );
        for mount in self.mounts.iter().filter(|mount| mount.stats.is_some()) {
            let value = if mount.read_only { 1.0 } else { 0.0 };
            writer.sample("node_filesystem_readonly", &self.labels(mount), value);
        }
        for (name, help, field) in stat_families {
            writer.family(name, help, MetricKind::Gauge);
            for mount in &self.mounts {
                if let Some(stats) = &mount.stats {
                    writer.sample(name, &self.labels(mount), field(stats));
                }
            }
        }
    }

    fn labels<'entry>(&'entry self, mount: &MountEntry) -> [(&'static str, &'entry str); 3] {
        [
            ("device", &self.label_text[mount.device.clone()]),
            ("fstype", &self.label_text[mount.fstype.clone()]),
            ("mountpoint", &self.label_text[mount.mountpoint.clone()]),
        ]
    }
}

/// Appends `field` to `buffer`, decoding the mount table's octal escapes
/// (`\040` is a space), and returns where it landed.
fn push_unescaped(buffer: &mut String, field: &str) -> Range<usize> {
    let start = buffer.len();
    if !field.contains('\\') {
        buffer.push_str(field);
        return start..buffer.len();
    }
    let bytes = field.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let octal = bytes.get(index + 1..index + 4).filter(|digits| {
            bytes[index] == b'\\' && digits.iter().all(|digit| (b'0'..=b'7').contains(digit))
        });
        match octal {
            Some(digits) => {
                let value = digits
                    .iter()
                    .fold(0u32, |value, digit| value * 8 + u32::from(digit - b'0'));
                decoded.push(value.min(255) as u8);
                index += 4;
            }
            None => {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
    }
    buffer.push_str(&String::from_utf8_lossy(&decoded));
    start..buffer.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host_collector::{
        DEFAULT_FILESYSTEM_FS_TYPES_EXCLUDE, DEFAULT_FILESYSTEM_MOUNT_POINTS_EXCLUDE,
    };

    const FIXTURE: &str = "\
proc /proc proc rw,relatime 0 0
sysfs /sys sysfs rw,relatime 0 0
/dev/vda / ext4 rw,relatime 0 0
tmpfs /dev/shm tmpfs rw,relatime 0 0
/dev/vdb /data\\040store xfs ro,noatime 0 0
cgroup2 /sys/fs/cgroup cgroup2 rw 0 0
overlay /var/lib/docker/overlay2/abc/merged overlay rw 0 0
/dev/vdc /srv ext4 rw 0 0
/dev/vdd /srv ext4 rw 0 0
broken /broken nfs rw 0 0
";

    fn collect(text: &str) -> Result<String, CollectError> {
        let mut collector = FilesystemCollector::new(
            Regex::new(DEFAULT_FILESYSTEM_MOUNT_POINTS_EXCLUDE).unwrap(),
            Regex::new(DEFAULT_FILESYSTEM_FS_TYPES_EXCLUDE).unwrap(),
        );
        let mut fake_stat = |mountpoint: &str| {
            if mountpoint == "/broken" {
                return Err(std::io::Error::other("stale file handle"));
            }
            Ok(FilesystemStats {
                size_bytes: 1000.0,
                free_bytes: 400.0,
                avail_bytes: 300.0,
                files: 50.0,
                files_free: 20.0,
            })
        };
        let mut output = String::new();
        collector.write(text, &mut fake_stat, &mut TextWriter::new(&mut output))?;
        Ok(output)
    }

    #[test]
    fn kept_mounts_get_every_family_with_device_fstype_and_mountpoint() {
        let output = collect(FIXTURE).unwrap();
        for expected in [
            "node_filesystem_size_bytes{device=\"/dev/vda\",fstype=\"ext4\",mountpoint=\"/\"} 1000\n",
            "node_filesystem_free_bytes{device=\"/dev/vda\",fstype=\"ext4\",mountpoint=\"/\"} 400\n",
            "node_filesystem_avail_bytes{device=\"/dev/vda\",fstype=\"ext4\",mountpoint=\"/\"} 300\n",
            "node_filesystem_files{device=\"/dev/vda\",fstype=\"ext4\",mountpoint=\"/\"} 50\n",
            "node_filesystem_files_free{device=\"/dev/vda\",fstype=\"ext4\",mountpoint=\"/\"} 20\n",
            "node_filesystem_readonly{device=\"/dev/vda\",fstype=\"ext4\",mountpoint=\"/\"} 0\n",
            "node_filesystem_readonly{device=\"/dev/vdb\",fstype=\"xfs\",mountpoint=\"/data store\"} 1\n",
        ] {
            assert!(
                output.contains(expected),
                "missing {expected:?} in\n{output}"
            );
        }
    }

    #[test]
    fn default_exclusions_match_node_exporter() {
        let output = collect(FIXTURE).unwrap();
        for excluded in [
            "/proc\"",
            "/sys\"",
            "/dev/shm",
            "/sys/fs/cgroup",
            "/var/lib/docker",
        ] {
            assert!(!output.contains(excluded), "{excluded} reported:\n{output}");
        }
    }

    #[test]
    fn a_mount_point_mounted_twice_is_reported_once_with_the_visible_device() {
        let output = collect(FIXTURE).unwrap();
        assert!(!output.contains("/dev/vdc"));
        assert_eq!(
            output
                .matches("node_filesystem_size_bytes{device=\"/dev/vdd\"")
                .count(),
            1
        );
    }

    #[test]
    fn a_failing_stat_sets_device_error_and_omits_sizes() {
        let output = collect(FIXTURE).unwrap();
        assert!(output.contains(
            "node_filesystem_device_error{device=\"broken\",fstype=\"nfs\",mountpoint=\"/broken\"} 1\n"
        ));
        assert!(output.contains(
            "node_filesystem_device_error{device=\"/dev/vda\",fstype=\"ext4\",mountpoint=\"/\"} 0\n"
        ));
        assert!(!output.contains("node_filesystem_size_bytes{device=\"broken\""));
    }

    #[test]
    fn octal_escapes_decode_and_bad_escapes_stay_literal() {
        let cases = [
            ("/a\\040b", "/a b"),
            ("/tab\\011x", "/tab\tx"),
            ("/back\\134slash", "/back\\slash"),
            ("/short\\04", "/short\\04"),
            ("/not\\999", "/not\\999"),
        ];
        for (escaped, expected) in cases {
            let mut buffer = String::new();
            let range = push_unescaped(&mut buffer, escaped);
            assert_eq!(&buffer[range], expected);
        }
    }

    #[test]
    fn a_line_with_too_few_fields_is_an_error() {
        let error = collect("/dev/vda / ext4 rw 0 0\n/dev/vdb /x\n").unwrap_err();
        assert!(
            matches!(error, CollectError::Malformed { line: 2, .. }),
            "{error}"
        );
    }
}
