use std::path::Path;

use super::*;

#[test]
fn promtool_rules_fixture_passes() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/promtool/rules.yml");
    let rule_file = load_rule_file(&path).unwrap_or_else(|error| panic!("{error}"));
    let alerts = &rule_file.groups[0];
    assert_eq!(alerts.name, "alerts");
    let instance_down = &alerts.rules[0];
    assert_eq!(instance_down.alert, "InstanceDown");
    assert_eq!(instance_down.expr, "up == 0");
    assert_eq!(instance_down.for_duration, PromDuration::from_secs(300));
    assert_eq!(
        instance_down.labels.get("severity").map(String::as_str),
        Some("page")
    );
    assert_eq!(alerts.rules[1].expr, "1", "a numeric expr is read as text");
    assert!(rule_file.rule_count() >= 4);
}

#[test]
fn group_fields_are_read() {
    let text = "\
groups:
  - name: g
    interval: 30s
    query_offset: 1m
    limit: 10
    labels:
      team: infra
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: Down
        expr: up == 0
        for: 5m
        keep_firing_for: 10m
        annotations:
          summary: '{{ $labels.instance }} is down ({{ $value | humanize }})'
";
    let rule_file = parse_rule_file(text, "g.yml").unwrap_or_else(|error| panic!("{error}"));
    let group = &rule_file.groups[0];
    assert_eq!(group.interval, PromDuration::from_secs(30));
    assert_eq!(group.query_offset, Some(PromDuration::from_secs(60)));
    assert_eq!(group.limit, 10);
    assert_eq!(group.labels.get("team").map(String::as_str), Some("infra"));
    assert_eq!(group.rules[1].keep_firing_for, PromDuration::from_secs(600));
    assert!(group.rules[1].is_alert());
}

/// Each bad rule file is refused with the file, line, group and rule.
#[test]
fn bad_rule_files_name_file_line_group_and_rule() {
    let cases: &[(&str, &str, &str)] = &[
        // (name, yaml, expected substring of the first problem line)
        (
            "bad expression",
            "groups:\n  - name: g\n    rules:\n      - record: a\n        expr: sum(\n",
            "r.yml:5: group \"g\", rule 1, \"a\": could not parse expression",
        ),
        (
            "record and alert",
            "groups:\n  - name: g\n    rules:\n      - record: a\n        alert: b\n        expr: up\n",
            "r.yml:4: group \"g\", rule 1, \"b\": only one of 'record' and 'alert'",
        ),
        (
            "neither record nor alert",
            "groups:\n  - name: g\n    rules:\n      - expr: up\n",
            "group \"g\", rule 1, \"\": one of 'record' or 'alert' must be set",
        ),
        (
            "missing expr",
            "groups:\n  - name: g\n    rules:\n      - alert: A\n",
            "group \"g\", rule 1, \"A\": field 'expr' must be set",
        ),
        (
            "bad record name",
            "groups:\n  - name: g\n    rules:\n      - record: 'bad name'\n        expr: up\n",
            "r.yml:4: group \"g\", rule 1, \"bad name\": invalid recording rule name",
        ),
        (
            "for on recording rule",
            "groups:\n  - name: g\n    rules:\n      - record: a\n        expr: up\n        for: 1m\n",
            "r.yml:6: group \"g\", rule 1, \"a\": invalid field 'for'",
        ),
        (
            "annotations on recording rule",
            "groups:\n  - name: g\n    rules:\n      - record: a\n        expr: up\n        annotations:\n          x: y\n",
            "invalid field 'annotations' in recording rule",
        ),
        (
            "__name__ label",
            "groups:\n  - name: g\n    rules:\n      - record: a\n        expr: up\n        labels:\n          __name__: b\n",
            "r.yml:7: group \"g\", rule 1, \"a\": invalid label name: __name__",
        ),
        (
            "unclosed template",
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        annotations:\n          summary: '{{ $labels.instance'\n",
            "r.yml:7: group \"g\", rule 1, \"A\": error parsing template for annotation summary: unclosed action",
        ),
        (
            "undefined template variable",
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        annotations:\n          summary: '{{ $lables.instance }}'\n",
            "undefined variable \"$lables\"",
        ),
        (
            "unknown template function",
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        annotations:\n          summary: '{{ $value | humanise }}'\n",
            "r.yml:7: group \"g\", rule 1, \"A\": error parsing template for annotation summary: function \"humanise\" not defined",
        ),
        (
            "duplicate group",
            "groups:\n  - name: g\n    rules: []\n  - name: g\n    rules: []\n",
            "r.yml:4: group \"g\": groupname: \"g\" is repeated in the same file",
        ),
        (
            "empty group name",
            "groups:\n  - rules: []\n",
            "Groupname must not be empty",
        ),
        (
            "unknown rule field",
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        summary: x\n",
            "r.yml:6: group \"g\", rule 1, \"A\": unknown field `summary`",
        ),
        (
            "bad duration",
            "groups:\n  - name: g\n    interval: 1x\n    rules: []\n",
            "r.yml:3: group \"g\": field interval: not a valid duration",
        ),
    ];
    let mut failures = Vec::new();
    for (name, yaml, expected) in cases {
        match parse_rule_file(yaml, "r.yml") {
            Ok(_) => failures.push(format!("{name}: accepted")),
            Err(error) => {
                let first_line = error.lines().first().cloned().unwrap_or_default();
                if !first_line.contains(expected) {
                    failures.push(format!("{name}: got {first_line:?}, want {expected:?}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn templates_prometheus_accepts_pass() {
    let good = [
        "plain text",
        "{{ $labels.instance }} of {{ $labels.job }}",
        "{{ $value | humanizePercentage }}",
        "{{ with query \"up\" }}{{ . | first | value }}{{ end }}",
        "{{ $x := 1 }}{{ $x }}",
        "{{- $labels.job -}}",
        "{{ if gt $value 1.0 }}high{{ else }}low{{ end }}",
        "{{ printf \"%.2f\" $value }} }} stray braces are text",
        "{{/* a comment */}}",
    ];
    for template in good {
        assert_eq!(check_template(template), Ok(()), "{template}");
    }
    let bad = [
        "{{ $labels.instance",
        "{{}}",
        "{{ printf \"%s }}",
        "{{ (len $labels }}",
        "{{ $nope }}",
    ];
    for template in bad {
        assert!(check_template(template).is_err(), "{template} should fail");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// Arbitrary rule-file text, including broken templates and
    /// expressions, is an error or a file, never a panic.
    #[test]
    fn arbitrary_rule_text_never_panics(text in "\\PC{0,200}", template in "[{}$a-z .|\"()]{0,30}") {
        let _ = parse_rule_file(&text, "fuzz.yml");
        let _ = check_template(&template);
        let wrapped = format!("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        annotations:\n          x: '{}'\n", template.replace('\'', "''"));
        let _ = parse_rule_file(&wrapped, "fuzz.yml");
    }
}
