//! Restoring the `for` state of alerts after a restart from the
//! `ALERTS_FOR_STATE` series, as Prometheus does.

use std::time::Duration;

use super::alerting::{ALERTS_FOR_STATE_METRIC, AlertState};
use super::group::Group;
use crate::model::{Matcher, is_stale_nan};
use crate::storage::Queryable;

/// How restore treats the outage.
#[derive(Debug, Clone, Copy)]
pub struct RestoreSettings {
    /// `--rules.alert.for-outage-tolerance`: how far back to look.
    pub outage_tolerance: Duration,
    /// `--rules.alert.for-grace-period`: least time left before firing.
    pub grace_period: Duration,
}

/// Restores, at `ts_ms`, the `activeAt` of the group's pending alerts from
/// the last `ALERTS_FOR_STATE` sample before the restart, then marks every
/// alerting rule restored.
pub fn restore_for_state(
    group: &Group,
    ts_ms: i64,
    queryable: &dyn Queryable,
    settings: RestoreSettings,
) {
    let mint = ts_ms - settings.outage_tolerance.as_millis() as i64;
    let querier = match queryable.querier(mint, ts_ms) {
        Ok(querier) => querier,
        Err(error) => {
            tracing::error!(group = %group.name, err = %error, "failed to get querier to restore 'for' state");
            group.mark_restored();
            return;
        }
    };
    let grace_ms = settings.grace_period.as_millis() as i64;
    for rule in group.alerting_rules() {
        let hold_ms = rule.hold_duration.as_millis() as i64;
        let matchers = [
            Matcher::equal("__name__", ALERTS_FOR_STATE_METRIC),
            Matcher::equal("alertname", rule.name.clone()),
        ];
        let mut last_by_labels = std::collections::HashMap::new();
        let mut series_set = querier.select(false, None, &matchers);
        while let Some(series) = series_set.next() {
            let mut iterator = series.iter();
            let mut last = None;
            while let Some(sample) = iterator.next() {
                last = Some(sample);
            }
            if let Some(last) = last {
                last_by_labels.insert(series.labels().without_metric_name(), last);
            }
        }
        if let Some(error) = series_set.err() {
            tracing::error!(alert = %rule.name, err = %error, "failed to restore 'for' state");
        }
        let mut state = rule.state.lock();
        for alert in state.active.values_mut() {
            let Some(&(t, v)) = last_by_labels.get(&alert.labels) else {
                continue;
            };
            if is_stale_nan(v) || alert.state == AlertState::Inactive {
                continue;
            }
            let down_at_ms = t.div_euclid(1000) * 1000;
            let restored_active_at_ms = (v as i64) * 1000;
            let remaining_ms = hold_ms - (down_at_ms - restored_active_at_ms);
            let active_at_ms = if remaining_ms <= 0 {
                // Firing before the outage: keep its start so the next
                // evaluation fires it again.
                restored_active_at_ms
            } else if hold_ms < grace_ms {
                // A short `for` restarts rather than waiting for the grace period.
                continue;
            } else if remaining_ms < grace_ms {
                ts_ms + grace_ms - hold_ms
            } else {
                restored_active_at_ms + (ts_ms - down_at_ms)
            };
            tracing::debug!(alert = %rule.name, labels = %alert.labels, active_at_ms, "'for' state restored");
            alert.active_at_ms = active_at_ms;
        }
        state.restored = true;
    }
}
