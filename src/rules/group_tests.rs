use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::model::{Labels, is_stale_nan};
use crate::notify::{NoSink, PostableAlert};
use crate::promql::{Engine, EngineOptions};
use crate::rules::engine_query_fn;
use crate::rules::file::parse_rule_file;
use crate::rules::restore::{RestoreSettings, restore_for_state};
use crate::storage::memory::MemStorage;

const MINUTE: i64 = 60_000;

#[derive(Default)]
struct RecordingSink(parking_lot::Mutex<Vec<PostableAlert>>);

impl AlertSink for RecordingSink {
    fn send(&self, alerts: Vec<PostableAlert>) {
        self.0.lock().extend(alerts);
    }
}

fn groups(yaml: &str) -> Vec<Group> {
    let file = parse_rule_file(yaml, "rules.yml").expect("valid rules");
    file.groups
        .iter()
        .map(|definition| {
            Group::new(
                "rules.yml",
                definition,
                Duration::from_secs(60),
                Duration::ZERO,
            )
        })
        .collect()
}

fn context(storage: &MemStorage, sink: Arc<dyn AlertSink>) -> EvaluationContext {
    EvaluationContext {
        query: engine_query_fn(
            Arc::new(Engine::new(EngineOptions::default())),
            Arc::new(storage.clone()),
        ),
        appendable: Arc::new(storage.clone()),
        sink,
        external_labels: Labels::from_pairs(&[("cluster", "eu")]),
        external_url: "http://promshard:9090".to_string(),
        resend_delay: Duration::from_secs(60),
    }
}

fn write(storage: &MemStorage, series: &str, samples: &[(i64, f64)]) {
    let labels = crate::rules::unittest::parse_series_labels(series).expect("series");
    let mut appender = storage.appender();
    for (t, v) in samples {
        appender.append(&labels, *t, *v).expect("append");
    }
    appender.commit().expect("commit");
}

fn samples_of(storage: &MemStorage, series: &str) -> Vec<(i64, f64)> {
    let labels = crate::rules::unittest::parse_series_labels(series).expect("series");
    storage.samples(&labels).unwrap_or_default()
}

#[test]
fn a_recording_rule_feeds_later_rules_in_the_same_evaluation() {
    let storage = MemStorage::new();
    write(&storage, r#"requests{job="a"}"#, &[(0, 10.0)]);
    let group = &groups(
        "groups:\n  - name: g\n    labels:\n      team: x\n    rules:\n      - record: job:requests:sum\n        expr: sum by (job) (requests)\n      - record: job:requests:double\n        expr: job:requests:sum * 2\n",
    )[0];
    let context = context(&storage, Arc::new(NoSink));
    assert_eq!(group.evaluate(MINUTE, &context, None), 2);
    assert_eq!(
        samples_of(&storage, r#"job:requests:sum{job="a", team="x"}"#),
        vec![(MINUTE, 10.0)]
    );
    assert_eq!(
        samples_of(&storage, r#"job:requests:double{job="a", team="x"}"#),
        vec![(MINUTE, 20.0)],
        "the second rule saw the first rule's output of this evaluation"
    );
    assert_eq!(group.rules[0].status.lock().health, RuleHealth::Good);
}

#[test]
fn series_a_rule_stops_producing_and_removed_groups_go_stale() {
    let storage = MemStorage::new();
    write(&storage, r#"up{instance="a"}"#, &[(0, 1.0)]);
    write(&storage, r#"up{instance="b"}"#, &[(0, 1.0), (MINUTE, 1.0)]);
    let group =
        &groups("groups:\n  - name: g\n    rules:\n      - record: copy\n        expr: up\n")[0];
    let context = context(&storage, Arc::new(NoSink));
    group.evaluate(0, &context, None);
    // `a` has no sample after 0 but the lookback keeps it; drop it for real.
    write(
        &storage,
        r#"up{instance="a"}"#,
        &[(MINUTE - 1, crate::model::stale_nan())],
    );
    group.evaluate(MINUTE, &context, None);
    let a = samples_of(&storage, r#"copy{instance="a"}"#);
    assert_eq!(a.len(), 2);
    assert!(is_stale_nan(a[1].1), "a's output is marked stale: {a:?}");
    assert_eq!(
        samples_of(&storage, r#"copy{instance="b"}"#),
        vec![(0, 1.0), (MINUTE, 1.0)]
    );

    group.mark_all_stale(2 * MINUTE, &storage, false);
    let b = samples_of(&storage, r#"copy{instance="b"}"#);
    assert!(is_stale_nan(b[2].1), "a removed group's series go stale");
}

#[test]
fn a_failing_rule_is_reported_and_the_next_rules_still_run() {
    let storage = MemStorage::new();
    write(&storage, r#"up{instance="a"}"#, &[(0, 1.0)]);
    write(&storage, r#"other{instance="a"}"#, &[(0, 1.0)]);
    // Two series that differ only by name collide once renamed.
    let group = &groups(
        "groups:\n  - name: g\n    rules:\n      - record: dup\n        expr: '{__name__=~\"up|other\"}'\n      - record: fine\n        expr: up\n",
    )[0];
    let context = context(&storage, Arc::new(NoSink));
    group.evaluate(0, &context, None);
    let status = group.rules[0].status.lock().clone();
    assert_eq!(status.health, RuleHealth::Bad);
    assert!(
        status.last_error.contains("same labelset"),
        "{}",
        status.last_error
    );
    assert_eq!(group.rules[1].status.lock().health, RuleHealth::Good);
    assert_eq!(
        samples_of(&storage, r#"fine{instance="a"}"#),
        vec![(0, 1.0)]
    );
}

#[test]
fn firing_alerts_reach_the_sink_with_external_labels_and_a_generator_url() {
    let storage = MemStorage::new();
    write(
        &storage,
        r#"up{instance="a"}"#,
        &(0..5).map(|i| (i * MINUTE, 0.0)).collect::<Vec<_>>(),
    );
    let group = &groups(
        "groups:\n  - name: g\n    rules:\n      - alert: Down\n        expr: up == 0\n        for: 1m\n        annotations:\n          summary: '{{ $labels.instance }} in {{ $externalLabels.cluster }}'\n",
    )[0];
    group.mark_restored();
    let sink = Arc::new(RecordingSink::default());
    let context = context(&storage, sink.clone());
    group.evaluate(0, &context, None);
    assert!(sink.0.lock().is_empty(), "pending alerts are not sent");
    group.evaluate(MINUTE, &context, None);
    let sent = sink.0.lock().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].labels["alertname"], "Down");
    assert_eq!(sent[0].labels["cluster"], "eu");
    assert_eq!(sent[0].annotations["summary"], "a in eu");
    assert_eq!(
        sent[0].generator_url,
        "http://promshard:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1"
    );
    let alerts = samples_of(
        &storage,
        r#"ALERTS{alertname="Down", alertstate="firing", instance="a"}"#,
    );
    assert_eq!(alerts, vec![(MINUTE, 1.0)]);
}

#[test]
fn a_reload_keeps_the_alert_state_of_unchanged_rules() {
    let storage = MemStorage::new();
    write(
        &storage,
        r#"up{instance="a"}"#,
        &(0..5).map(|i| (i * MINUTE, 0.0)).collect::<Vec<_>>(),
    );
    let yaml = "groups:\n  - name: g\n    rules:\n      - alert: Down\n        expr: up == 0\n        for: 2m\n";
    let old = &groups(yaml)[0];
    old.mark_restored();
    let context = context(&storage, Arc::new(NoSink));
    old.evaluate(0, &context, None);
    // The group changes (a rule is added); the alert keeps its activeAt.
    let new = &groups(&format!("{yaml}      - record: extra\n        expr: up\n"))[0];
    assert!(!new.same_as(old));
    old.retire();
    new.copy_state_from(old);
    assert_eq!(
        old.evaluate(MINUTE, &context, None),
        0,
        "a retired group no longer evaluates"
    );
    new.evaluate(2 * MINUTE, &context, None);
    let RuleKind::Alerting(rule) = &new.rules[0].kind else {
        panic!("first rule is the alert");
    };
    assert_eq!(rule.alerts()[0].active_at_ms, 0);
    assert_eq!(
        rule.rule_state(),
        crate::rules::alerting::AlertState::Firing
    );
}

#[test]
fn restore_shifts_active_at_by_the_outage_or_to_the_grace_period() {
    let storage = MemStorage::new();
    let yaml = "groups:\n  - name: g\n    rules:\n      - alert: Down\n        expr: up == 0\n        for: 30m\n";
    // Before the restart: pending since 0, last written at 10m.
    let for_state = r#"ALERTS_FOR_STATE{alertname="Down", instance="a"}"#;
    write(&storage, for_state, &[(0, 0.0), (10 * MINUTE, 0.0)]);
    write(
        &storage,
        r#"up{instance="a"}"#,
        &[(20 * MINUTE, 0.0), (21 * MINUTE, 0.0)],
    );
    let settings = RestoreSettings {
        outage_tolerance: Duration::from_secs(3600),
        grace_period: Duration::from_secs(600),
    };
    let group = &groups(yaml)[0];
    let context = context(&storage, Arc::new(NoSink));
    group.evaluate(20 * MINUTE, &context, None);
    group.evaluate(21 * MINUTE, &context, None);
    assert!(!group.is_restored());
    restore_for_state(group, 21 * MINUTE, &storage, settings);
    assert!(group.is_restored());
    let RuleKind::Alerting(rule) = &group.rules[0].kind else {
        panic!("alert");
    };
    // 10m spent pending, 20m remaining (more than the grace period): the
    // 11m outage is added to activeAt.
    assert_eq!(rule.alerts()[0].active_at_ms, 11 * MINUTE);

    // Almost due before the outage: fires no sooner than the grace period.
    let storage = MemStorage::new();
    write(&storage, for_state, &[(0, 0.0), (25 * MINUTE, 0.0)]);
    write(&storage, r#"up{instance="a"}"#, &[(40 * MINUTE, 0.0)]);
    let group = &groups(yaml)[0];
    let context = self::context(&storage, Arc::new(NoSink));
    group.evaluate(40 * MINUTE, &context, None);
    restore_for_state(group, 40 * MINUTE, &storage, settings);
    let RuleKind::Alerting(rule) = &group.rules[0].kind else {
        panic!("alert");
    };
    assert_eq!(
        rule.alerts()[0].active_at_ms,
        40 * MINUTE + 10 * MINUTE - 30 * MINUTE
    );
}

#[test]
fn evaluation_slots_have_a_stable_offset_inside_the_interval() {
    let group = &groups(
        "groups:\n  - name: g\n    interval: 10s\n    rules:\n      - record: a\n        expr: up\n",
    )[0];
    let offset = group.offset_ms();
    assert!((0..10_000).contains(&offset));
    assert_eq!(
        group.offset_ms(),
        offset,
        "the offset is a function of file and name"
    );
    for now in [0, 1, 9_999, 123_456_789] {
        let slot = group.evaluation_timestamp(now);
        assert!(slot <= now && now - slot < 10_000, "{now} -> {slot}");
        assert_eq!((slot - offset).rem_euclid(10_000), 0);
    }
}

#[test]
fn a_group_that_moves_to_another_node_leaves_its_for_state_for_the_new_owner() {
    let storage = MemStorage::new();
    write(
        &storage,
        r#"up{instance="a"}"#,
        &(0..10).map(|i| (i * MINUTE, 0.0)).collect::<Vec<_>>(),
    );
    let yaml = "groups:\n  - name: g\n    rules:\n      - alert: Down\n        expr: up == 0\n        for: 30m\n";
    let old_owner = &groups(yaml)[0];
    old_owner.mark_restored();
    let context = context(&storage, Arc::new(NoSink));
    old_owner.evaluate(0, &context, None);
    old_owner.evaluate(MINUTE, &context, None);
    old_owner.retire();
    old_owner.mark_all_stale(MINUTE + 1, &storage, true);
    let alerts = samples_of(
        &storage,
        r#"ALERTS{alertname="Down", alertstate="pending", instance="a"}"#,
    );
    assert!(
        is_stale_nan(alerts[alerts.len() - 1].1),
        "ALERTS ends on the old owner"
    );
    let for_state = samples_of(
        &storage,
        r#"ALERTS_FOR_STATE{alertname="Down", instance="a"}"#,
    );
    assert!(
        !is_stale_nan(for_state[for_state.len() - 1].1),
        "ALERTS_FOR_STATE stays for the new owner"
    );

    let new_owner = &groups(yaml)[0];
    new_owner.evaluate(2 * MINUTE, &context, None);
    let settings = RestoreSettings {
        outage_tolerance: Duration::from_secs(3600),
        grace_period: Duration::from_secs(60),
    };
    restore_for_state(new_owner, 2 * MINUTE, &storage, settings);
    let RuleKind::Alerting(rule) = &new_owner.rules[0].kind else {
        panic!("alert");
    };
    // Pending for 1m on the old owner, 1m of hand-over: activeAt moves by the gap only.
    assert_eq!(rule.alerts()[0].active_at_ms, MINUTE);
}

#[test]
fn query_offset_evaluates_and_writes_in_the_past() {
    let storage = MemStorage::new();
    write(&storage, r#"up{instance="a"}"#, &[(0, 1.0), (MINUTE, 5.0)]);
    let group = &groups(
        "groups:\n  - name: g\n    query_offset: 1m\n    rules:\n      - record: copy\n        expr: up\n",
    )[0];
    assert_eq!(group.query_offset, Duration::from_secs(60));
    let context = context(&storage, Arc::new(NoSink));
    group.evaluate(MINUTE + 30_000, &context, None);
    assert_eq!(
        samples_of(&storage, r#"copy{instance="a"}"#),
        vec![(30_000, 1.0)]
    );
}
