//! The notification log: for each group key and integration, which alerts
//! (by fingerprint) were last notified as firing and as resolved, and
//! when. It decides whether a flush needs to notify (Alertmanager's dedup
//! stage) and is persisted, so that a restart neither pages again before
//! `repeat_interval` nor forgets to send a resolve.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::NotifyError;
use super::persist;

/// What was last sent for one group key to one integration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NflogEntry {
    /// The group key.
    pub group_key: String,
    /// `receiver/integration/index`.
    pub receiver: String,
    /// Fingerprints notified as firing.
    pub firing: BTreeSet<u64>,
    /// Fingerprints notified as resolved.
    pub resolved: BTreeSet<u64>,
    /// When the notification was sent.
    pub timestamp: DateTime<Utc>,
}

/// Whether a flush with `firing` and `resolved` alerts must notify, given
/// the last entry: as Alertmanager's dedup stage decides.
pub fn needs_update(
    entry: Option<&NflogEntry>,
    firing: &BTreeSet<u64>,
    resolved: &BTreeSet<u64>,
    send_resolved: bool,
    repeat_interval: std::time::Duration,
    now: DateTime<Utc>,
) -> bool {
    let Some(entry) = entry else {
        // Never notified: only firing alerts are news.
        return !firing.is_empty();
    };
    if !firing.is_subset(&entry.firing) {
        return true;
    }
    if firing.is_empty() {
        // All resolved: tell the receiver if it knew of firing alerts
        // (also without send_resolved, so the log forgets them).
        return !entry.firing.is_empty();
    }
    if send_resolved && !resolved.is_subset(&entry.resolved) {
        return true;
    }
    super::alert::add_saturating(entry.timestamp, repeat_interval) <= now
}

/// The log, persisted in `<dir>/nflog` and pruned after `retention`.
pub struct NotificationLog {
    path: Option<PathBuf>,
    retention: ChronoDuration,
    entries: Mutex<BTreeMap<(String, String), NflogEntry>>,
}

impl NotificationLog {
    /// Loads the log under `dir` (none: in memory only).
    pub fn open(dir: Option<PathBuf>, retention: std::time::Duration) -> Result<Self, NotifyError> {
        let path = dir.map(|d| d.join("nflog"));
        let loaded: Vec<NflogEntry> = match &path {
            Some(path) => persist::read_json(path)?.unwrap_or_default(),
            None => Vec::new(),
        };
        Ok(NotificationLog {
            path,
            retention: ChronoDuration::from_std(retention).unwrap_or(ChronoDuration::hours(120)),
            entries: Mutex::new(
                loaded
                    .into_iter()
                    .map(|e| ((e.group_key.clone(), e.receiver.clone()), e))
                    .collect(),
            ),
        })
    }

    /// The last entry for a group key and integration.
    pub fn query(&self, group_key: &str, receiver: &str) -> Option<NflogEntry> {
        self.entries
            .lock()
            .get(&(group_key.to_string(), receiver.to_string()))
            .cloned()
    }

    /// Records a notification (and writes the file).
    pub fn log(&self, entry: NflogEntry) -> Result<(), NotifyError> {
        let mut entries = self.entries.lock();
        entries.insert((entry.group_key.clone(), entry.receiver.clone()), entry);
        let cutoff = Utc::now() - self.retention;
        entries.retain(|_, e| e.timestamp > cutoff);
        let Some(path) = &self.path else {
            return Ok(());
        };
        let all: Vec<&NflogEntry> = entries.values().collect();
        persist::write_json(path, &all)
    }
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // table-driven cases
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap_or_default()
    }

    fn set(items: &[u64]) -> BTreeSet<u64> {
        items.iter().copied().collect()
    }

    fn entry(firing: &[u64], resolved: &[u64], at_seconds: i64) -> NflogEntry {
        NflogEntry {
            group_key: "g".into(),
            receiver: "r/webhook/0".into(),
            firing: set(firing),
            resolved: set(resolved),
            timestamp: at(at_seconds),
        }
    }

    #[test]
    fn dedup_decides_as_alertmanager() {
        let repeat = std::time::Duration::from_secs(100);
        // (previous entry, firing now, resolved now, send_resolved, now, notify?)
        let cases: Vec<(Option<NflogEntry>, &[u64], &[u64], bool, i64, bool)> = vec![
            (None, &[1], &[], true, 0, true),
            (None, &[], &[1], true, 0, false),
            (Some(entry(&[1], &[], 0)), &[1], &[], true, 50, false),
            (Some(entry(&[1], &[], 0)), &[1], &[], true, 100, true),
            (Some(entry(&[1], &[], 0)), &[1, 2], &[], true, 10, true),
            (Some(entry(&[1, 2], &[], 0)), &[1], &[2], true, 10, true),
            (Some(entry(&[1, 2], &[], 0)), &[1], &[2], false, 10, false),
            (Some(entry(&[1], &[], 0)), &[], &[1], false, 10, true),
            (Some(entry(&[], &[1], 0)), &[], &[1], true, 10, false),
        ];
        for (position, (previous, firing, resolved, send_resolved, now, expected)) in
            cases.into_iter().enumerate()
        {
            let got = needs_update(
                previous.as_ref(),
                &set(firing),
                &set(resolved),
                send_resolved,
                repeat,
                at(now),
            );
            assert_eq!(got, expected, "case {position}");
        }
    }

    #[test]
    fn the_log_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let retention = std::time::Duration::from_secs(3600);
        let log = NotificationLog::open(Some(dir.path().to_path_buf()), retention).unwrap();
        let mut recent = entry(&[7], &[], 0);
        recent.timestamp = Utc::now();
        log.log(recent.clone()).unwrap();
        drop(log);
        let reopened = NotificationLog::open(Some(dir.path().to_path_buf()), retention).unwrap();
        assert_eq!(reopened.query("g", "r/webhook/0"), Some(recent));
        assert_eq!(reopened.query("g", "other"), None);
    }
}
