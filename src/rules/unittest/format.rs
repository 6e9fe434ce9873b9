//! The `promtool test rules` file format.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config::PromDuration;

/// A unit-test file.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct UnitTestFile {
    /// Rule files under test, relative to the test file.
    #[serde(default)]
    pub rule_files: Vec<String>,
    /// How often rules are evaluated (default 1m).
    #[serde(default)]
    pub evaluation_interval: Option<PromDuration>,
    /// The order groups are evaluated in.
    #[serde(default)]
    pub group_eval_order: Vec<String>,
    /// Compare floats with a small tolerance.
    #[serde(default)]
    pub fuzzy_compare: bool,
    /// The test groups.
    #[serde(default)]
    pub tests: Vec<TestGroup>,
}

/// One test group: input series and what to expect.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TestGroup {
    /// Step between input samples (default: the evaluation interval).
    #[serde(default)]
    pub interval: Option<PromDuration>,
    /// Input series in expanding notation.
    #[serde(default)]
    pub input_series: Vec<InputSeries>,
    /// Expected firing alerts at given times.
    #[serde(default)]
    pub alert_rule_test: Vec<AlertTestCase>,
    /// Expected results of expressions at given times.
    #[serde(default)]
    pub promql_expr_test: Vec<PromqlTestCase>,
    /// `$externalLabels` of the templates.
    #[serde(default)]
    pub external_labels: BTreeMap<String, String>,
    /// `$externalURL` of the templates.
    #[serde(default)]
    pub external_url: String,
    /// A name shown in failures.
    #[serde(default, rename = "name")]
    pub test_group_name: String,
}

/// `series` and `values`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct InputSeries {
    /// `metric{label="value"}`.
    pub series: String,
    /// Expanding notation: `1+1x10 _ stale`.
    #[serde(deserialize_with = "scalar_as_string", default)]
    pub values: String,
}

/// Expected alerts of one alert at one time.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AlertTestCase {
    /// When to look, from time 0.
    pub eval_time: PromDuration,
    /// The alert.
    pub alertname: String,
    /// The firing alerts expected.
    #[serde(default)]
    pub exp_alerts: Vec<ExpectedAlert>,
}

/// One expected alert.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ExpectedAlert {
    /// Labels besides `alertname`.
    #[serde(default)]
    pub exp_labels: BTreeMap<String, String>,
    /// Expanded annotations.
    #[serde(default)]
    pub exp_annotations: BTreeMap<String, String>,
}

/// An expression and its expected samples.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PromqlTestCase {
    /// The expression.
    #[serde(deserialize_with = "scalar_as_string")]
    pub expr: String,
    /// When to evaluate, from time 0.
    pub eval_time: PromDuration,
    /// The expected samples.
    #[serde(default)]
    pub exp_samples: Vec<ExpectedSample>,
}

/// One expected sample.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ExpectedSample {
    /// `metric{label="value"}`.
    #[serde(default)]
    pub labels: String,
    /// The value.
    #[serde(default)]
    pub value: f64,
    /// A native histogram in series notation (not supported: skipped).
    #[serde(default)]
    pub histogram: String,
}

fn scalar_as_string<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    crate::config::duration::scalar_text(deserializer, "a string or a number")
}
