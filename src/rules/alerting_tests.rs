use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::model::Labels;
use crate::promql::InstantSample;

const MINUTE: i64 = 60_000;

fn rule(hold: Duration, keep_firing_for: Duration) -> AlertingRule {
    let rule = AlertingRule::new(
        "HighLoad".to_string(),
        "load > 1".to_string(),
        hold,
        keep_firing_for,
        BTreeMap::from([("severity".to_string(), "page".to_string())]),
        BTreeMap::from([(
            "summary".to_string(),
            "{{ $labels.instance }} at {{ $value }}".to_string(),
        )]),
    );
    rule.state.lock().restored = true;
    rule
}

fn sample(instance: &str, value: f64) -> InstantSample {
    InstantSample {
        labels: Labels::from_pairs(&[("__name__", "load"), ("instance", instance)]),
        t: 0,
        v: value,
    }
}

fn environment() -> (BTreeMap<String, String>, String) {
    (BTreeMap::new(), "http://example:9090".to_string())
}

fn evaluate(rule: &AlertingRule, samples: &[InstantSample], ts: i64) -> Vec<(Labels, f64)> {
    let (external, url) = environment();
    let environment = TemplateEnvironment {
        external_labels: &external,
        external_url: &url,
        query: None,
    };
    rule.apply_result(samples, ts, 0, &environment)
        .expect("evaluation succeeds")
}

fn states(rule: &AlertingRule) -> Vec<AlertState> {
    rule.alerts().iter().map(|alert| alert.state).collect()
}

#[test]
fn an_alert_is_pending_until_its_for_duration_then_fires() {
    let rule = rule(Duration::from_secs(120), Duration::ZERO);
    let output = evaluate(&rule, &[sample("a", 2.0)], 0);
    assert_eq!(states(&rule), vec![AlertState::Pending]);
    let alert = &rule.alerts()[0];
    assert_eq!(
        alert.labels.to_string(),
        r#"{alertname="HighLoad", instance="a", severity="page"}"#
    );
    assert_eq!(alert.annotations["summary"], "a at 2");
    let names: Vec<String> = output
        .iter()
        .map(|(labels, _)| labels.to_string())
        .collect();
    assert_eq!(
        names,
        vec![
            r#"{__name__="ALERTS", alertname="HighLoad", alertstate="pending", instance="a", severity="page"}"#,
            r#"{__name__="ALERTS_FOR_STATE", alertname="HighLoad", instance="a", severity="page"}"#,
        ]
    );
    assert_eq!(
        output[1].1, 0.0,
        "ALERTS_FOR_STATE holds activeAt in seconds"
    );

    evaluate(&rule, &[sample("a", 3.0)], MINUTE);
    assert_eq!(states(&rule), vec![AlertState::Pending]);
    assert_eq!(
        rule.alerts()[0].annotations["summary"],
        "a at 3",
        "annotations follow the value"
    );
    let output = evaluate(&rule, &[sample("a", 3.0)], 2 * MINUTE);
    assert_eq!(states(&rule), vec![AlertState::Firing]);
    assert_eq!(rule.alerts()[0].fired_at_ms, Some(2 * MINUTE));
    assert!(output[0].0.to_string().contains(r#"alertstate="firing""#));
    assert_eq!(output[1].1, 0.0, "activeAt is unchanged while firing");
}

#[test]
fn a_pending_alert_that_clears_is_dropped_and_a_firing_one_is_resolved_then_forgotten() {
    let rule = rule(Duration::from_secs(60), Duration::ZERO);
    evaluate(&rule, &[sample("a", 2.0), sample("b", 2.0)], 0);
    evaluate(&rule, &[sample("a", 2.0), sample("b", 2.0)], MINUTE);
    assert_eq!(states(&rule), vec![AlertState::Firing, AlertState::Firing]);
    // b clears while firing: resolved and kept; a stays.
    let output = evaluate(&rule, &[sample("a", 2.0)], 2 * MINUTE);
    let alerts = rule.alerts();
    assert_eq!(alerts[1].state, AlertState::Inactive);
    assert_eq!(alerts[1].resolved_at_ms, Some(2 * MINUTE));
    assert_eq!(output.len(), 2, "only a's series are written; b's go stale");
    // Kept for 15 minutes after resolving, then forgotten.
    evaluate(&rule, &[sample("a", 2.0)], 17 * MINUTE);
    assert_eq!(rule.alerts().len(), 2);
    evaluate(&rule, &[sample("a", 2.0)], 17 * MINUTE + 1);
    assert_eq!(rule.alerts().len(), 1);

    let pending = super::tests::rule(Duration::from_secs(600), Duration::ZERO);
    evaluate(&pending, &[sample("c", 2.0)], 0);
    evaluate(&pending, &[], MINUTE);
    assert!(
        pending.alerts().is_empty(),
        "a pending alert that clears is dropped at once"
    );
}

#[test]
fn keep_firing_for_holds_a_cleared_alert_firing() {
    let rule = rule(Duration::ZERO, Duration::from_secs(120));
    evaluate(&rule, &[sample("a", 2.0)], 0);
    assert_eq!(states(&rule), vec![AlertState::Firing]);
    evaluate(&rule, &[], MINUTE);
    assert_eq!(states(&rule), vec![AlertState::Firing]);
    assert_eq!(rule.alerts()[0].keep_firing_since_ms, Some(MINUTE));
    evaluate(&rule, &[], 2 * MINUTE + 59_000);
    assert_eq!(states(&rule), vec![AlertState::Firing]);
    evaluate(&rule, &[], 3 * MINUTE);
    assert_eq!(states(&rule), vec![AlertState::Inactive]);
}

#[test]
fn alerts_are_sent_when_firing_every_resend_delay_and_once_resolved() {
    let rule = rule(Duration::from_secs(60), Duration::ZERO);
    let external = Labels::from_pairs(&[("cluster", "eu"), ("severity", "external-loses")]);
    let resend = Duration::from_secs(60);
    let interval = Duration::from_secs(15);
    let send = |ts: i64| rule.alerts_to_send(ts, resend, interval, &external, "http://x/graph");

    evaluate(&rule, &[sample("a", 2.0)], 0);
    assert!(send(0).is_empty(), "pending alerts are not sent");
    evaluate(&rule, &[sample("a", 2.0)], MINUTE);
    let sent = send(MINUTE);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].labels["cluster"], "eu");
    assert_eq!(
        sent[0].labels["severity"], "page",
        "the alert's own label wins"
    );
    assert_eq!(sent[0].starts_at, ms_to_time(MINUTE));
    assert_eq!(
        sent[0].ends_at,
        ms_to_time(MINUTE + 4 * 60_000),
        "endsAt = now + 4 x resend delay"
    );
    assert_eq!(sent[0].generator_url, "http://x/graph");
    assert!(
        send(MINUTE + 30_000).is_empty(),
        "not again within the resend delay"
    );
    assert_eq!(send(2 * MINUTE + 1).len(), 1, "again after it");

    evaluate(&rule, &[], 3 * MINUTE);
    let resolved = send(3 * MINUTE);
    assert_eq!(resolved.len(), 1, "a resolve is sent at once");
    assert_eq!(resolved[0].ends_at, ms_to_time(3 * MINUTE));
    assert!(send(3 * MINUTE + 1000).is_empty());
}

#[test]
fn nothing_is_written_before_restore_and_limits_and_duplicates_fail() {
    let rule = rule(Duration::ZERO, Duration::ZERO);
    rule.state.lock().restored = false;
    assert!(evaluate(&rule, &[sample("a", 2.0)], 0).is_empty());

    let (external, url) = environment();
    let environment = TemplateEnvironment {
        external_labels: &external,
        external_url: &url,
        query: None,
    };
    let limited = super::tests::rule(Duration::ZERO, Duration::ZERO);
    let outcome = limited.apply_result(&[sample("a", 2.0), sample("b", 2.0)], 0, 1, &environment);
    assert_eq!(
        outcome,
        Err(AlertingError::LimitExceeded { limit: 1, count: 2 })
    );
    assert!(
        limited.alerts().is_empty(),
        "exceeding the limit drops every alert"
    );

    let duplicate = InstantSample {
        labels: Labels::from_pairs(&[("__name__", "other"), ("instance", "a")]),
        t: 0,
        v: 1.0,
    };
    let outcome = limited.apply_result(&[sample("a", 2.0), duplicate], 0, 0, &environment);
    assert_eq!(outcome, Err(AlertingError::DuplicateLabelSet));
}
