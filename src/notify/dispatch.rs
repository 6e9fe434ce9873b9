//! Aggregation groups and their timing: a group is born with the first
//! alert of its key, first flushed after `group_wait` (at once if the
//! alert is already older than that), then every `group_interval`. Each
//! flush runs the notification pipeline (mute, dedup, deliver with
//! retries, log); resolved alerts leave the group after a successful
//! flush, and an empty group ends.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::alert::{Alert, LabelSet, add_saturating};
use super::nflog::{NflogEntry, needs_update};
use super::receivers::Notification;
use super::route::RouteOptions;
use super::state::Shared;

/// When a group flushes next; pure, so tests drive it with their own clock.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupTimer {
    /// The next flush.
    pub next_flush: DateTime<Utc>,
    /// Whether the group has flushed once.
    pub has_flushed: bool,
}

impl GroupTimer {
    /// A new group's timer: first flush after `group_wait`.
    pub fn new(now: DateTime<Utc>, group_wait: Duration) -> Self {
        GroupTimer {
            next_flush: add_saturating(now, group_wait),
            has_flushed: false,
        }
    }

    /// An alert joined: before the first flush, an alert that started
    /// more than `group_wait` ago makes the group flush now (a restart or
    /// a late sender must not wait again). Returns whether it moved.
    pub fn on_insert(
        &mut self,
        alert_start: DateTime<Utc>,
        now: DateTime<Utc>,
        group_wait: Duration,
    ) -> bool {
        if !self.has_flushed
            && add_saturating(alert_start, group_wait) < now
            && self.next_flush > now
        {
            self.next_flush = now;
            return true;
        }
        false
    }

    /// A flush starts at `now`: the next one is `group_interval` later.
    pub fn on_flush(&mut self, now: DateTime<Utc>, group_interval: Duration) {
        self.has_flushed = true;
        self.next_flush = add_saturating(now, group_interval);
    }

    /// Whether a flush is due.
    pub fn due(&self, now: DateTime<Utc>) -> bool {
        self.next_flush <= now
    }
}

/// One aggregation group.
pub struct AggregationGroup {
    /// The group key.
    pub key: String,
    /// The route's settings.
    pub options: RouteOptions,
    /// The labels the group is keyed by.
    pub group_labels: LabelSet,
    /// The alerts by fingerprint.
    pub alerts: Mutex<BTreeMap<u64, Alert>>,
    timer: Mutex<GroupTimer>,
    wake: Notify,
}

impl AggregationGroup {
    /// A new group, first flushing after the route's `group_wait`.
    pub fn new(
        key: String,
        options: RouteOptions,
        group_labels: LabelSet,
        now: DateTime<Utc>,
    ) -> Self {
        let timer = GroupTimer::new(now, options.group_wait);
        AggregationGroup {
            key,
            options,
            group_labels,
            alerts: Mutex::new(BTreeMap::new()),
            timer: Mutex::new(timer),
            wake: Notify::new(),
        }
    }

    /// Adds or replaces an alert.
    pub fn insert(&self, alert: Alert, now: DateTime<Utc>) {
        let start = alert.starts_at;
        self.alerts.lock().insert(alert.fingerprint(), alert);
        if self
            .timer
            .lock()
            .on_insert(start, now, self.options.group_wait)
        {
            self.wake.notify_one();
        }
    }

    /// Runs the group until it is empty or `cancel` fires; `on_empty`
    /// removes it from the dispatcher (returning false if alerts arrived
    /// meanwhile, which keeps the group running).
    pub async fn run(
        self: Arc<Self>,
        shared: Arc<Shared>,
        cancel: CancellationToken,
        on_empty: impl Fn() -> bool,
    ) {
        loop {
            let wait = {
                let next = self.timer.lock().next_flush;
                (next - Utc::now()).to_std().unwrap_or(Duration::ZERO)
            };
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = self.wake.notified() => continue,
                _ = tokio::time::sleep(wait) => {}
            }
            let now = Utc::now();
            {
                let mut timer = self.timer.lock();
                if !timer.due(now) {
                    continue;
                }
                timer.on_flush(now, self.options.group_interval);
            }
            let snapshot: Vec<Alert> = self.alerts.lock().values().cloned().collect();
            let deadline = add_saturating(now, self.options.group_interval);
            let delivered = tokio::select! {
                _ = cancel.cancelled() => return,
                delivered = flush(&self, &shared, snapshot.clone(), now, deadline) => delivered,
            };
            if delivered {
                let mut alerts = self.alerts.lock();
                for sent in snapshot.iter().filter(|a| a.resolved_at(now)) {
                    if alerts.get(&sent.fingerprint()) == Some(sent) {
                        alerts.remove(&sent.fingerprint());
                    }
                }
            }
            if self.alerts.lock().is_empty() && on_empty() {
                return;
            }
        }
    }
}

/// The notification pipeline for one flush: drop muted alerts, then per
/// integration decide with the notification log, deliver with backoff
/// until `deadline`, and log. True when every integration is done.
async fn flush(
    group: &AggregationGroup,
    shared: &Shared,
    snapshot: Vec<Alert>,
    now: DateTime<Utc>,
    deadline: DateTime<Utc>,
) -> bool {
    let setup = shared.setup();
    let alerts: Vec<Alert> = snapshot
        .into_iter()
        .filter(|alert| !shared.is_muted(&setup, &alert.labels, now))
        .collect();
    if alerts.is_empty() {
        return true;
    }
    let Some(receiver) = setup.receivers.get(&group.options.receiver) else {
        warn!(receiver = %group.options.receiver, "receiver not configured");
        return true;
    };
    let firing: BTreeSet<u64> = alerts
        .iter()
        .filter(|a| !a.resolved_at(now))
        .map(Alert::fingerprint)
        .collect();
    let resolved: BTreeSet<u64> = alerts
        .iter()
        .filter(|a| a.resolved_at(now))
        .map(Alert::fingerprint)
        .collect();
    let mut deliveries = Vec::new();
    for (position, integration) in receiver.integrations.iter().enumerate() {
        let log_key = format!("{}/{}/{position}", receiver.name, integration.name());
        let entry = shared.nflog.query(&group.key, &log_key);
        if !needs_update(
            entry.as_ref(),
            &firing,
            &resolved,
            integration.send_resolved(),
            group.options.repeat_interval,
            now,
        ) {
            debug!(group = %group.key, integration = %log_key, "notification deduplicated");
            continue;
        }
        let mut to_send: Vec<Alert> = alerts
            .iter()
            .filter(|a| integration.send_resolved() || !a.resolved_at(now))
            .cloned()
            .collect();
        to_send.sort_by_key(|a| a.resolved_at(now));
        let notification = Notification {
            receiver: receiver.name.clone(),
            group_key: group.key.clone(),
            group_labels: group.group_labels.clone(),
            alerts: to_send,
            external_url: shared.external_url.clone(),
            now,
        };
        let integration = integration.clone();
        let firing = firing.clone();
        let resolved = resolved.clone();
        deliveries.push(async move {
            let delivered = notification.alerts.is_empty()
                || deliver_with_retries(shared, integration.as_ref(), &notification, deadline)
                    .await;
            if delivered {
                let logged = shared.nflog.log(NflogEntry {
                    group_key: notification.group_key.clone(),
                    receiver: log_key.clone(),
                    firing,
                    resolved,
                    timestamp: now,
                });
                if let Err(error) = logged {
                    warn!(err = %error, "cannot write the notification log");
                }
            }
            delivered
        });
    }
    futures::future::join_all(deliveries)
        .await
        .into_iter()
        .all(|delivered| delivered)
}

/// Delivers once, then again with exponential backoff (from 500ms, at
/// most 10s apart) while the error is retryable and before `deadline`.
async fn deliver_with_retries(
    shared: &Shared,
    integration: &dyn super::receivers::Integration,
    notification: &Notification,
    deadline: DateTime<Utc>,
) -> bool {
    let mut backoff = Duration::from_millis(500);
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let remaining = (deadline - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        let timeout = remaining.max(Duration::from_secs(1));
        shared
            .metrics
            .notifications
            .with_label_values(&[integration.name()])
            .inc();
        match integration.notify(notification, timeout).await {
            Ok(()) => {
                debug!(group = %notification.group_key, integration = integration.name(), attempt, "notified");
                return true;
            }
            Err(error) => {
                shared
                    .metrics
                    .notifications_failed
                    .with_label_values(&[integration.name()])
                    .inc();
                let retryable = error.is_retryable();
                warn!(group = %notification.group_key, integration = integration.name(), attempt, retryable, err = %error, "notify failed");
                if !retryable || add_saturating(Utc::now(), backoff) >= deadline {
                    return false;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap_or_default()
    }

    #[test]
    fn groups_wait_then_flush_every_interval() {
        let wait = Duration::from_secs(30);
        let interval = Duration::from_secs(300);
        let mut timer = GroupTimer::new(at(0), wait);
        assert!(!timer.due(at(29)));
        assert!(timer.due(at(30)));
        // A fresh alert joining during group_wait does not hurry the group.
        assert!(!timer.on_insert(at(10), at(10), wait));
        timer.on_flush(at(30), interval);
        assert!(!timer.due(at(329)));
        assert!(timer.due(at(330)));
        // After the first flush, even old alerts wait for the interval.
        assert!(!timer.on_insert(at(-1000), at(40), wait));
    }

    #[test]
    fn extreme_times_saturate_instead_of_panicking() {
        let far = DateTime::<Utc>::MAX_UTC;
        let mut timer = GroupTimer::new(far, Duration::from_secs(30));
        assert_eq!(timer.next_flush, far);
        assert!(!timer.on_insert(far, at(0), Duration::from_secs(30)));
        timer.on_flush(far, Duration::from_secs(u64::MAX / 4));
        assert!(!timer.due(at(0)));
        let alert = crate::notify::PostableAlert {
            labels: [("alertname".to_string(), "Far".to_string())].into(),
            starts_at: Some(far),
            ..Default::default()
        };
        let alert = Alert::from_postable(alert, far, Duration::from_secs(300)).unwrap();
        assert_eq!(alert.ends_at, far);
    }

    #[test]
    fn an_old_alert_flushes_a_new_group_at_once() {
        let wait = Duration::from_secs(30);
        let mut timer = GroupTimer::new(at(100), wait);
        assert!(timer.on_insert(at(0), at(100), wait));
        assert!(timer.due(at(100)));
    }
}
