//! Silences: matchers that mute alerts between `startsAt` and `endsAt`,
//! created and expired through the API and kept in a file so that a
//! restart does not unmute anything.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::NotifyError;
use super::alert::LabelSet;
use super::persist;
use crate::model::matcher::{MatchType, Matcher};

/// A silence matcher in the API's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SilenceMatcher {
    /// Label name.
    pub name: String,
    /// Value or regex.
    pub value: String,
    /// Whether `value` is a regex.
    pub is_regex: bool,
    /// `false` negates the match (`!=`, `!~`); absent means `true`.
    #[serde(default = "default_true")]
    pub is_equal: bool,
}

fn default_true() -> bool {
    true
}

impl SilenceMatcher {
    /// The equivalent label matcher.
    pub fn to_matcher(&self) -> Result<Matcher, NotifyError> {
        let match_type = match (self.is_regex, self.is_equal) {
            (false, true) => MatchType::Equal,
            (false, false) => MatchType::NotEqual,
            (true, true) => MatchType::Regex,
            (true, false) => MatchType::NotRegex,
        };
        Matcher::new(match_type, self.name.clone(), self.value.clone())
            .map_err(|e| NotifyError::BadRequest(e.to_string()))
    }
}

/// A silence as stored and served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Silence {
    /// UUID-like identifier.
    pub id: String,
    /// All must match for an alert to be muted.
    pub matchers: Vec<SilenceMatcher>,
    /// Start of the muting.
    pub starts_at: DateTime<Utc>,
    /// End of the muting.
    pub ends_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Who made it.
    pub created_by: String,
    /// Why.
    pub comment: String,
}

/// `pending`, `active` or `expired`.
pub fn silence_state(silence: &Silence, now: DateTime<Utc>) -> &'static str {
    if silence.ends_at <= now {
        "expired"
    } else if silence.starts_at > now {
        "pending"
    } else {
        "active"
    }
}

impl Silence {
    /// Whether the silence's matchers all match `labels`.
    pub fn matches(&self, labels: &LabelSet) -> bool {
        self.matchers
            .iter()
            .all(|matcher| match matcher.to_matcher() {
                Ok(compiled) => {
                    compiled.matches(labels.get(&matcher.name).map_or("", String::as_str))
                }
                Err(_) => false,
            })
    }
}

/// The silences, persisted in `<dir>/silences` (JSON, replaced atomically
/// on every change). Expired silences are kept for `retention`, then
/// dropped.
pub struct Silences {
    path: Option<PathBuf>,
    retention: ChronoDuration,
    silences: Mutex<BTreeMap<String, Silence>>,
}

impl Silences {
    /// Loads the silences file under `dir` (none: in memory only).
    pub fn open(dir: Option<PathBuf>, retention: std::time::Duration) -> Result<Self, NotifyError> {
        let path = dir.map(|d| d.join("silences"));
        let loaded: Vec<Silence> = match &path {
            Some(path) => persist::read_json(path)?.unwrap_or_default(),
            None => Vec::new(),
        };
        Ok(Silences {
            path,
            retention: ChronoDuration::from_std(retention).unwrap_or(ChronoDuration::hours(120)),
            silences: Mutex::new(loaded.into_iter().map(|s| (s.id.clone(), s)).collect()),
        })
    }

    /// Creates or updates a silence and returns its id. As Alertmanager:
    /// at least one matcher, none may fail to compile, not all may match
    /// the empty string, the end must be after the start and not in the
    /// past; a start in the past becomes `now`. Updating an active
    /// silence whose matchers changed expires it and creates a new one.
    /// A `replica` (a silence another cluster node holds, with its id) is
    /// stored under its id as it is, unless the one here changed later
    /// (the newest change wins); only its matchers are checked.
    pub fn upsert(
        &self,
        mut silence: Silence,
        now: DateTime<Utc>,
        replica: bool,
    ) -> Result<String, NotifyError> {
        if silence.matchers.is_empty() {
            return Err(NotifyError::BadRequest(
                "at least one matcher required".into(),
            ));
        }
        let mut all_match_empty = true;
        for matcher in &silence.matchers {
            if matcher.name.is_empty() {
                return Err(NotifyError::BadRequest(
                    "invalid label matcher: empty name".into(),
                ));
            }
            if !matcher.to_matcher()?.matches("") {
                all_match_empty = false;
            }
        }
        if all_match_empty {
            return Err(NotifyError::BadRequest(
                "at least one matcher must not match the empty string".into(),
            ));
        }
        if replica && !silence.id.is_empty() {
            return self.merge_replica(silence);
        }
        if silence.ends_at <= silence.starts_at {
            return Err(NotifyError::BadRequest(
                "end time must not be before start time".into(),
            ));
        }
        if silence.ends_at < now {
            return Err(NotifyError::BadRequest(
                "end time can't be in the past".into(),
            ));
        }
        if silence.starts_at < now {
            silence.starts_at = now;
        }
        silence.updated_at = now;
        let mut silences = self.silences.lock();
        if !silence.id.is_empty() {
            let Some(existing) = silences.get_mut(&silence.id) else {
                return Err(NotifyError::NotFound(format!(
                    "silence {} not found",
                    silence.id
                )));
            };
            let state = silence_state(existing, now);
            if state == "expired" || (state == "active" && existing.matchers != silence.matchers) {
                if state == "active" {
                    existing.ends_at = now;
                    existing.updated_at = now;
                }
                silence.id = new_silence_id();
            }
        } else {
            silence.id = new_silence_id();
        }
        let id = silence.id.clone();
        silences.insert(id.clone(), silence);
        self.persist_locked(&silences)?;
        Ok(id)
    }

    /// Stores a silence another node holds, as it is there (times,
    /// expired or not, its `updated_at`), unless the one here changed
    /// later: the newest change wins, so replicas sent in any order and
    /// any number of times converge.
    fn merge_replica(&self, silence: Silence) -> Result<String, NotifyError> {
        let id = silence.id.clone();
        let mut silences = self.silences.lock();
        if silences
            .get(&id)
            .is_some_and(|kept| kept.updated_at >= silence.updated_at)
        {
            return Ok(id);
        }
        silences.insert(id.clone(), silence);
        self.persist_locked(&silences)?;
        Ok(id)
    }

    /// Expires a silence (`DELETE /api/v2/silence/{id}`).
    pub fn expire(&self, id: &str, now: DateTime<Utc>) -> Result<(), NotifyError> {
        let mut silences = self.silences.lock();
        let Some(silence) = silences.get_mut(id) else {
            return Err(NotifyError::NotFound(format!("silence {id} not found")));
        };
        match silence_state(silence, now) {
            "expired" => {
                return Err(NotifyError::BadRequest(format!(
                    "silence {id} already expired"
                )));
            }
            "pending" => {
                silence.starts_at = now;
                silence.ends_at = now;
            }
            _ => silence.ends_at = now,
        }
        silence.updated_at = now;
        self.persist_locked(&silences)
    }

    /// One silence by id.
    pub fn get(&self, id: &str) -> Option<Silence> {
        self.silences.lock().get(id).cloned()
    }

    /// Every silence not yet dropped by retention.
    pub fn list(&self) -> Vec<Silence> {
        self.silences.lock().values().cloned().collect()
    }

    /// Ids of the active silences muting `labels` at `now`.
    pub fn muting(&self, labels: &LabelSet, now: DateTime<Utc>) -> Vec<String> {
        self.silences
            .lock()
            .values()
            .filter(|s| silence_state(s, now) == "active" && s.matches(labels))
            .map(|s| s.id.clone())
            .collect()
    }

    /// Counts by state, for `alertmanager_silences{state}`.
    pub fn count_by_state(&self, now: DateTime<Utc>) -> [(&'static str, usize); 3] {
        let mut counts = [("active", 0), ("pending", 0), ("expired", 0)];
        for silence in self.silences.lock().values() {
            let state = silence_state(silence, now);
            if let Some(entry) = counts.iter_mut().find(|(name, _)| *name == state) {
                entry.1 += 1;
            }
        }
        counts
    }

    /// Drops silences expired for longer than the retention.
    pub fn garbage_collect(&self, now: DateTime<Utc>) -> Result<usize, NotifyError> {
        let mut silences = self.silences.lock();
        let before = silences.len();
        silences.retain(|_, s| {
            s.ends_at
                .checked_add_signed(self.retention)
                .is_none_or(|kept_until| kept_until > now)
        });
        let dropped = before - silences.len();
        if dropped > 0 {
            self.persist_locked(&silences)?;
        }
        Ok(dropped)
    }

    fn persist_locked(&self, silences: &BTreeMap<String, Silence>) -> Result<(), NotifyError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let all: Vec<&Silence> = silences.values().collect();
        persist::write_json(path, &all)
    }
}

/// A random version-4 UUID in its text form.
pub fn new_silence_id() -> String {
    let bytes: [u8; 16] = rand::random();
    let hex = hex::encode(bytes);
    let variant = ['8', '9', 'a', 'b'][usize::from(bytes[8] & 0x3)];
    format!(
        "{}-{}-4{}-{}{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        variant,
        &hex[17..20],
        &hex[20..32]
    )
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // table-driven cases
mod tests {
    use super::*;
    use crate::notify::alert::label_set as labels;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap_or_default()
    }

    fn matcher(name: &str, value: &str, is_regex: bool, is_equal: bool) -> SilenceMatcher {
        SilenceMatcher {
            name: name.into(),
            value: value.into(),
            is_regex,
            is_equal,
        }
    }

    fn silence(matchers: Vec<SilenceMatcher>, start: i64, end: i64) -> Silence {
        Silence {
            id: String::new(),
            matchers,
            starts_at: at(start),
            ends_at: at(end),
            updated_at: at(0),
            created_by: "test".into(),
            comment: "c".into(),
        }
    }

    #[test]
    fn silences_mute_matching_alerts_only_while_active() {
        let silences = Silences::open(None, std::time::Duration::from_secs(3600)).unwrap();
        let id = silences
            .upsert(
                silence(
                    vec![
                        matcher("alertname", "Disk.*", true, true),
                        matcher("env", "dev", false, false),
                    ],
                    10,
                    100,
                ),
                at(0),
                false,
            )
            .unwrap();
        let cases: [(&[(&str, &str)], i64, bool); 5] = [
            (&[("alertname", "DiskFull"), ("env", "prod")], 50, true),
            (&[("alertname", "DiskFull"), ("env", "dev")], 50, false),
            (&[("alertname", "CpuHigh"), ("env", "prod")], 50, false),
            (&[("alertname", "DiskFull")], 5, false),
            (&[("alertname", "DiskFull")], 100, false),
        ];
        for (alert, time, muted) in cases {
            assert_eq!(
                !silences.muting(&labels(alert), at(time)).is_empty(),
                muted,
                "{alert:?} at {time}"
            );
        }
        silences.expire(&id, at(50)).unwrap();
        assert!(
            silences
                .muting(&labels(&[("alertname", "DiskFull")]), at(51))
                .is_empty()
        );
        assert!(silences.expire(&id, at(60)).is_err());
    }

    #[test]
    fn replicas_converge_on_the_newest_change_in_any_order() {
        let silences = Silences::open(None, std::time::Duration::from_secs(3600)).unwrap();
        let created = Silence {
            id: "s1".into(),
            updated_at: at(10),
            ..silence(vec![matcher("a", "b", false, true)], 0, 100)
        };
        // Expired at 20 (start and end at 20): valid as a replica only.
        let expired = Silence {
            starts_at: at(20),
            ends_at: at(20),
            updated_at: at(20),
            ..created.clone()
        };
        silences.upsert(expired.clone(), at(30), true).unwrap();
        silences.upsert(created.clone(), at(31), true).unwrap();
        assert_eq!(
            silences.get("s1"),
            Some(expired.clone()),
            "the older change is ignored"
        );
        silences.upsert(expired.clone(), at(32), true).unwrap();
        assert_eq!(
            silences.list().len(),
            1,
            "a repeated delivery changes nothing"
        );
        let renewed = Silence {
            ends_at: at(500),
            updated_at: at(40),
            ..created
        };
        silences.upsert(renewed.clone(), at(41), true).unwrap();
        assert_eq!(silences.get("s1"), Some(renewed));
        assert!(
            silences
                .upsert(
                    Silence {
                        id: "s2".into(),
                        ..silence(vec![], 0, 10)
                    },
                    at(0),
                    true
                )
                .is_err(),
            "a replica's matchers are still checked"
        );
    }

    #[test]
    fn invalid_silences_are_rejected() {
        let silences = Silences::open(None, std::time::Duration::from_secs(3600)).unwrap();
        let cases = [
            silence(vec![], 0, 10),
            silence(vec![matcher("a", ".*", true, true)], 0, 10),
            silence(vec![matcher("a", "b", false, true)], 10, 5),
            silence(vec![matcher("a", "b", false, true)], -20, -10),
            silence(vec![matcher("a", "(", true, true)], 0, 10),
        ];
        for case in cases {
            assert!(
                silences.upsert(case.clone(), at(0), false).is_err(),
                "{case:?}"
            );
        }
    }

    #[test]
    fn silences_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let retention = std::time::Duration::from_secs(3600);
        let first = Silences::open(Some(dir.path().to_path_buf()), retention).unwrap();
        let id = first
            .upsert(
                silence(vec![matcher("a", "b", false, true)], 0, 100),
                at(0),
                false,
            )
            .unwrap();
        drop(first);
        let reopened = Silences::open(Some(dir.path().to_path_buf()), retention).unwrap();
        assert_eq!(reopened.get(&id).map(|s| s.comment), Some("c".to_string()));
        assert_eq!(reopened.muting(&labels(&[("a", "b")]), at(1)), vec![id]);
    }
}
