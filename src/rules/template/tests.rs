use std::collections::BTreeMap;

use super::*;

fn data() -> AlertTemplateData {
    AlertTemplateData {
        labels: BTreeMap::from([
            (
                "instance".to_string(),
                "node-1.example.com:9100".to_string(),
            ),
            ("job".to_string(), "node".to_string()),
            ("severity".to_string(), "page".to_string()),
        ]),
        external_labels: BTreeMap::from([("cluster".to_string(), "eu-1".to_string())]),
        external_url: "http://promshard.example:9090".to_string(),
        value: 0.873,
    }
}

#[test]
fn templates_expand_as_prometheus_expands_them() {
    let cases: &[(&str, &str)] = &[
        ("plain text", "plain text"),
        (
            "{{ $labels.instance }} down",
            "node-1.example.com:9100 down",
        ),
        ("{{ .Labels.job }}/{{ $labels.missing }}|", "node/|"),
        ("{{ $value }}", "0.873"),
        (
            "{{ $externalLabels.cluster }} {{ $externalURL }}",
            "eu-1 http://promshard.example:9090",
        ),
        ("{{ $value | humanizePercentage }}", "87.3%"),
        ("{{ humanize 1234567 }}", "1.235M"),
        ("{{ 2048 | humanize1024 }}", "2ki"),
        ("{{ humanizeDuration 3725 }}", "1h 2m 5s"),
        ("{{ printf \"%.1f\" $value }}", "0.9"),
        ("{{ if gt $value 0.5 }}high{{ else }}low{{ end }}", "high"),
        (
            "{{ if lt $value 0.5 }}low{{ else if eq $labels.job \"node\" }}node{{ end }}",
            "node",
        ),
        ("{{ with $labels.job }}job={{ . }}{{ end }}", "job=node"),
        ("{{ with $labels.missing }}x{{ else }}none{{ end }}", "none"),
        (
            "{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}",
            "instance=node-1.example.com:9100;job=node;severity=page;",
        ),
        (
            "{{ range $labels }}{{ . }} {{ end }}",
            "node-1.example.com:9100 node page ",
        ),
        (
            "{{ $labels.job | toUpper }} {{ title \"hello world\" }} {{ toLower \"AB\" }}",
            "NODE Hello World ab",
        ),
        (
            "{{ reReplaceAll \"(.*):.*\" \"$1\" $labels.instance }}",
            "node-1.example.com",
        ),
        ("{{ $labels.instance | stripPort }}", "node-1.example.com"),
        ("{{ if match \"^node\" $labels.job }}yes{{ end }}", "yes"),
        ("{{ len $labels }} {{ index $labels \"job\" }}", "3 node"),
        (
            "{{ and true 0 }} {{ or 0 \"x\" }} {{ not false }}",
            "0 x true",
        ),
        (
            "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}",
            "2",
        ),
        ("a  {{- \" b \" -}}  c", "a b c"),
        ("{{/* a comment */}}x", "x"),
        ("{{ (args 1 \"two\").arg1 }}", "two"),
        ("{{ safeHtml \"<b>\" }}", "<b>"),
        ("{{ humanizeTimestamp 0 }}", "1970-01-01 00:00:00 +0000 UTC"),
        ("{{ ne 1 2 }} {{ le 2 2 }} {{ ge 1 2 }}", "true true false"),
        ("{{ range $i, $e := args \"a\" }}{{ $i }}{{ end }}", "arg0"),
    ];
    for (template, expected) in cases {
        let expanded = expand_template(template, &data(), None);
        assert_eq!(expanded.as_deref(), Ok(*expected), "template {template:?}");
    }
}

#[test]
fn query_results_feed_first_label_value_and_sort() {
    let query = |expression: &str| -> Result<Vec<TemplateSample>, String> {
        assert_eq!(expression, "up");
        Ok(vec![
            (
                BTreeMap::from([("instance".to_string(), "b".to_string())]),
                0.0,
            ),
            (
                BTreeMap::from([("instance".to_string(), "a".to_string())]),
                1.0,
            ),
        ])
    };
    let cases: &[(&str, &str)] = &[
        ("{{ query \"up\" | first | value }}", "0"),
        (
            "{{ with query \"up\" }}{{ . | first | label \"instance\" }}{{ end }}",
            "b",
        ),
        (
            "{{ range query \"up\" | sortByLabel \"instance\" }}{{ .Labels.instance }}={{ .Value }} {{ end }}",
            "a=1 b=0 ",
        ),
        ("{{ len (query \"up\") }}", "2"),
    ];
    for (template, expected) in cases {
        let expanded = expand_template(template, &data(), Some(&query));
        assert_eq!(expanded.as_deref(), Ok(*expected), "template {template:?}");
    }
}

#[test]
fn malformed_templates_are_rejected_at_parse_time() {
    let bad = [
        "{{ $labels.instance",
        "{{ }}",
        "{{ if true }}never ended",
        "{{ end }}",
        "{{ $undefined }}",
        "{{ \"unterminated }}",
        "{{ (1 }}",
        "{{ 1 | }}",
        "{{ else }}",
        "{{ nosuchfunc 1 }}",
    ];
    let deep_parentheses = format!("{{{{ {}1{} }}}}", "(".repeat(1000), ")".repeat(1000));
    let deep_blocks = format!(
        "{}x{}",
        "{{ if true }}".repeat(1000),
        "{{ end }}".repeat(1000)
    );
    for template in [deep_parentheses, deep_blocks] {
        assert!(
            Template::parse(&template).is_err(),
            "deep nesting is refused, not a stack overflow"
        );
    }
    for template in bad {
        assert!(
            Template::parse(template).is_err(),
            "{template:?} should not parse"
        );
    }
}

#[test]
fn execution_errors_are_reported_not_panicked() {
    let bad = [
        "{{ humanize \"abc\" }}",
        "{{ query \"up\" }}",
        "{{ first (args) }}",
        "{{ lt 1 \"a\" }}",
        "{{ index (args 1) \"arg0\" \"x\" }}",
        "{{ range 1.5 }}x{{ end }}",
        "{{ range 100000000000 }}x{{ end }}",
        "{{ $value.Field }}",
    ];
    for template in bad {
        assert!(
            expand_template(template, &data(), None).is_err(),
            "{template:?} should fail"
        );
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]

    /// Any text, parsed and run, is output or an error, never a panic.
    #[test]
    fn arbitrary_templates_never_panic(
        text in "[{}$a-zA-Z0-9 .|\"()=:,-]{0,60}",
        action in "(\\{\\{ ?(if|range|with|end|else|printf \"%[a-z0-9.-]{0,4}\"|humanize|index|len|\\$labels|\\$value|\\.|\\(|\\)|\\||[0-9.e+-]{1,5}| ){0,6} ?\\}\\}){0,4}",
    ) {
        let _ = expand_template(&text, &data(), None);
        let _ = expand_template(&action, &data(), None);
    }
}
