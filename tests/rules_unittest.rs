//! `promshard test rules` with the real binary: promtool's own fixtures
//! pass (native-histogram cases reported as skipped), the shipped example
//! tests pass, and a failing test file exits 1 with a useful diff.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repository_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn test_rules(files: &[&Path]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_promshard"))
        .arg("test")
        .arg("rules")
        .args(files)
        .output()
        .expect("run promshard test rules");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn promtools_unit_test_fixture_passes() {
    let fixture = repository_path("../shared/testdata/promtool/unittest.yml");
    let (code, out, err) = test_rules(&[&fixture]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains(&format!("Unit Testing:  {}", fixture.display())),
        "{out}"
    );
    assert!(out.contains("  SUCCESS"), "{out}");
    assert!(
        out.contains("SKIPPED: 6 case(s) over native histograms"),
        "{out}"
    );
}

#[test]
fn the_shipped_example_rules_pass_their_tests() {
    let tests = repository_path("rules/tests/node.test.yml");
    let (code, out, err) = test_rules(&[&tests]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("  SUCCESS"), "{out}");
}

#[test]
fn a_failing_test_file_exits_one_with_a_diff() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n  - name: g\n    rules:\n      - record: doubled\n        expr: x * 2\n      - alert: High\n        expr: x > 5\n        for: 1m\n        annotations:\n          summary: 'x is {{ $value }}'\n",
    )
    .expect("write rules");
    let tests = dir.path().join("failing.test.yml");
    std::fs::write(
        &tests,
        r#"rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - name: wrong expectations
    interval: 1m
    input_series:
      - series: 'x{job="a"}'
        values: "1+5x5"
    promql_expr_test:
      - expr: doubled
        eval_time: 2m
        exp_samples:
          - labels: 'doubled{job="a"}'
            value: 20
    alert_rule_test:
      - eval_time: 3m
        alertname: High
        exp_alerts: []
"#,
    )
    .expect("write tests");
    let good = repository_path("rules/tests/node.test.yml");
    let (code, out, err) = test_rules(&[&tests, &good]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("  FAILED:"), "{err}");
    assert!(err.contains("    name: wrong expectations,"), "{err}");
    assert!(
        err.contains("    expr: \"doubled\", time: 2m,\n        exp: {__name__=\"doubled\", job=\"a\"} 2E+01\n        got: {__name__=\"doubled\", job=\"a\"} 2.2E+01"),
        "{err}"
    );
    assert!(err.contains("    alertname: High, time: 3m, \n        exp:[], \n        got:[\n            0:\n              Labels:{alertname=\"High\", job=\"a\"}\n              Annotations:{summary=\"x is 16\"}"), "{err}");
    // The other file still runs and passes.
    assert!(out.contains("  SUCCESS"), "{out}");

    let broken = dir.path().join("broken.test.yml");
    std::fs::write(&broken, "rule_files: [missing.yml]\ntests: []\n").expect("write");
    let (code, _, err) = test_rules(&[&broken]);
    assert_eq!(code, 1);
    assert!(err.contains("missing.yml"), "{err}");
}
