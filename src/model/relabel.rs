//! Relabeling: one engine for target, metric, remote-write and alert
//! relabeling, with Prometheus's actions, defaults and anchored regexes.
//!
//! The configuration types live here (not in `config`) because every stage
//! that relabels shares them.

use serde::{Deserialize, Serialize};

use super::labels::{Labels, LabelsBuilder};
use super::matcher::anchored_regex;

/// A relabeling action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Set `target_label` to `replacement` expanded with the regex's groups.
    #[default]
    Replace,
    /// Keep the target only when the regex matches.
    Keep,
    /// Drop the target when the regex matches.
    Drop,
    /// Keep when the concatenated sources equal `target_label`'s value.
    KeepEqual,
    /// Drop when the concatenated sources equal `target_label`'s value.
    DropEqual,
    /// Set `target_label` to a hash of the sources modulo `modulus`.
    HashMod,
    /// Copy labels whose names match to names given by `replacement`.
    LabelMap,
    /// Drop labels whose names match.
    LabelDrop,
    /// Keep only labels whose names match.
    LabelKeep,
    /// Set `target_label` to the lowercased sources.
    Lowercase,
    /// Set `target_label` to the uppercased sources.
    Uppercase,
}

/// A regex compiled fully anchored, keeping its source for display.
#[derive(Debug, Clone)]
pub struct RelabelRegex {
    source: String,
    compiled: regex::Regex,
}

impl RelabelRegex {
    /// Compiles `source` fully anchored.
    pub fn new(source: &str) -> Result<Self, super::matcher::MatcherError> {
        Ok(RelabelRegex {
            source: source.to_string(),
            compiled: anchored_regex(source)?,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The anchored compiled regex.
    pub fn regex(&self) -> &regex::Regex {
        &self.compiled
    }
}

impl Default for RelabelRegex {
    /// Prometheus's default, `(.*)`.
    fn default() -> Self {
        RelabelRegex {
            source: "(.*)".to_string(),
            compiled: anchored_regex("(.*)").unwrap_or_else(|_| unreachable_regex()),
        }
    }
}

fn unreachable_regex() -> regex::Regex {
    // `(.*)` always compiles; this keeps `Default` free of `unwrap` on input.
    regex::Regex::new("").unwrap_or_else(|_| unreachable!("the empty regex compiles"))
}

impl PartialEq for RelabelRegex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Serialize for RelabelRegex {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for RelabelRegex {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let source = String::deserialize(deserializer)?;
        RelabelRegex::new(&source).map_err(serde::de::Error::custom)
    }
}

fn default_separator() -> String {
    ";".to_string()
}

fn default_replacement() -> String {
    "$1".to_string()
}

/// One relabeling step, with Prometheus's field names and defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelabelConfig {
    /// Labels whose values are joined with `separator` as the input.
    #[serde(default)]
    pub source_labels: Vec<String>,
    /// Joins the source values; default `;`.
    #[serde(default = "default_separator")]
    pub separator: String,
    /// Matched against the joined sources; default `(.*)`.
    #[serde(default)]
    pub regex: RelabelRegex,
    /// For `hashmod`.
    #[serde(default)]
    pub modulus: u64,
    /// The label written by replace-like actions.
    #[serde(default)]
    pub target_label: String,
    /// The value written, with `$1`/`${name}` references; default `$1`.
    #[serde(default = "default_replacement")]
    pub replacement: String,
    /// The action; default `replace`.
    #[serde(default)]
    pub action: Action,
}

impl Default for RelabelConfig {
    fn default() -> Self {
        RelabelConfig {
            source_labels: Vec::new(),
            separator: default_separator(),
            regex: RelabelRegex::default(),
            modulus: 0,
            target_label: String::new(),
            replacement: default_replacement(),
            action: Action::Replace,
        }
    }
}

/// An invalid relabel configuration, with Prometheus's messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelabelError {
    /// `hashmod` with `modulus: 0`.
    #[error("relabel configuration for hashmod requires non-zero modulus")]
    ZeroModulus,
    /// An action that writes a label has no `target_label`.
    #[error("relabel configuration for {action} action requires 'target_label' value")]
    MissingTargetLabel {
        /// The action's name.
        action: &'static str,
    },
    /// `target_label` is not a valid label name for the action.
    #[error("{target_label:?} is invalid 'target_label' for {action} action")]
    InvalidTargetLabel {
        /// The offending value.
        target_label: String,
        /// The action's name.
        action: &'static str,
    },
    /// `labelmap`'s replacement is not a valid label name template.
    #[error("{replacement:?} is invalid 'replacement' for {action} action")]
    InvalidReplacement {
        /// The offending value.
        replacement: String,
        /// The action's name.
        action: &'static str,
    },
    /// `replacement` set on an action that ignores it.
    #[error("'replacement' can not be set for {action} action")]
    ReplacementNotAllowed {
        /// The action's name.
        action: &'static str,
    },
    /// `keepequal`/`dropequal` with fields other than sources and target.
    #[error(
        "{action} action requires only 'source_labels' and `target_label`, and no other fields"
    )]
    OnlySourceAndTarget {
        /// The action's name.
        action: &'static str,
    },
    /// `labeldrop`/`labelkeep` with fields other than `regex`.
    #[error("{action} action requires only 'regex', and no other fields")]
    OnlyRegex {
        /// The action's name.
        action: &'static str,
    },
}

impl Action {
    /// The action's name as written in configuration files.
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }
}

/// A label name is valid under Prometheus 3's default UTF-8 scheme when it
/// is non-empty (Rust strings are always valid UTF-8).
fn is_valid_label_name(name: &str) -> bool {
    !name.is_empty()
}

impl RelabelConfig {
    /// Checks the rule as Prometheus 3 does when it loads a config (with its
    /// default UTF-8 name validation), returning Prometheus's message.
    pub fn validate(&self) -> Result<(), RelabelError> {
        let action = self.action.as_str();
        let defaults = RelabelConfig::default();
        if self.action == Action::HashMod && self.modulus == 0 {
            return Err(RelabelError::ZeroModulus);
        }
        let writes_target = matches!(
            self.action,
            Action::Replace
                | Action::HashMod
                | Action::Lowercase
                | Action::Uppercase
                | Action::KeepEqual
                | Action::DropEqual
        );
        if writes_target && self.target_label.is_empty() {
            return Err(RelabelError::MissingTargetLabel { action });
        }
        if writes_target && !is_valid_label_name(&self.target_label) {
            return Err(RelabelError::InvalidTargetLabel {
                target_label: self.target_label.clone(),
                action,
            });
        }
        let ignores_replacement = matches!(
            self.action,
            Action::Lowercase | Action::Uppercase | Action::KeepEqual | Action::DropEqual
        );
        if ignores_replacement && self.replacement != defaults.replacement {
            return Err(RelabelError::ReplacementNotAllowed { action });
        }
        if self.action == Action::LabelMap && !is_valid_label_name(&self.replacement) {
            return Err(RelabelError::InvalidReplacement {
                replacement: self.replacement.clone(),
                action,
            });
        }
        if matches!(self.action, Action::KeepEqual | Action::DropEqual)
            && (self.regex != defaults.regex
                || self.modulus != defaults.modulus
                || self.separator != defaults.separator
                || self.replacement != defaults.replacement)
        {
            return Err(RelabelError::OnlySourceAndTarget { action });
        }
        if matches!(self.action, Action::LabelDrop | Action::LabelKeep)
            && (!self.source_labels.is_empty()
                || self.target_label != defaults.target_label
                || self.modulus != defaults.modulus
                || self.separator != defaults.separator
                || self.replacement != defaults.replacement)
        {
            return Err(RelabelError::OnlyRegex { action });
        }
        Ok(())
    }
}

/// Applies `configs` in order to `labels`; `None` when a rule dropped them.
/// An empty result is returned as an empty label set (callers decide what
/// an empty set means; Prometheus drops targets without labels).
pub fn process(labels: &Labels, configs: &[RelabelConfig]) -> Option<Labels> {
    if configs.is_empty() {
        return Some(labels.clone());
    }
    let mut builder = labels.builder();
    if !process_builder(&mut builder, configs) {
        return None;
    }
    Some(builder.build())
}

/// Applies `configs` in order to the labels in `builder`; `false` when a rule
/// dropped them (the builder is then left in an unspecified state).
pub fn process_builder(builder: &mut LabelsBuilder, configs: &[RelabelConfig]) -> bool {
    configs.iter().all(|config| relabel_one(config, builder))
}

/// The source label values joined with the separator.
fn joined_sources(config: &RelabelConfig, builder: &LabelsBuilder) -> String {
    let mut joined = String::new();
    for (index, name) in config.source_labels.iter().enumerate() {
        if index > 0 {
            joined.push_str(&config.separator);
        }
        joined.push_str(builder.get(name));
    }
    joined
}

/// Applies one rule; `false` when it drops the labels.
fn relabel_one(config: &RelabelConfig, builder: &mut LabelsBuilder) -> bool {
    let regex = config.regex.regex();
    match config.action {
        Action::Drop => !regex.is_match(&joined_sources(config, builder)),
        Action::Keep => regex.is_match(&joined_sources(config, builder)),
        Action::DropEqual => builder.get(&config.target_label) != joined_sources(config, builder),
        Action::KeepEqual => builder.get(&config.target_label) == joined_sources(config, builder),
        Action::Replace => {
            let source = joined_sources(config, builder);
            let Some(captures) = regex.captures(&source) else {
                return true;
            };
            let mut target = String::new();
            expand_template(regex, &captures, &config.target_label, &mut target);
            if !is_valid_label_name(&target) {
                return true;
            }
            let mut replacement = String::new();
            expand_template(regex, &captures, &config.replacement, &mut replacement);
            // An empty value deletes the label.
            builder.set(&target, &replacement);
            true
        }
        Action::Lowercase => {
            let source = joined_sources(config, builder);
            let lowered: String = source.chars().flat_map(char::to_lowercase).collect();
            builder.set(&config.target_label, &lowered);
            true
        }
        Action::Uppercase => {
            let source = joined_sources(config, builder);
            let uppered: String = source.chars().flat_map(char::to_uppercase).collect();
            builder.set(&config.target_label, &uppered);
            true
        }
        Action::HashMod => {
            let source = joined_sources(config, builder);
            let bucket = hashmod(&source, config.modulus);
            builder.set(&config.target_label, &bucket.to_string());
            true
        }
        Action::LabelMap => {
            let current: Vec<(String, String)> = builder
                .iter()
                .map(|label| (label.name.to_string(), label.value.to_string()))
                .collect();
            for (name, value) in current {
                let Some(captures) = regex.captures(&name) else {
                    continue;
                };
                let mut mapped = String::new();
                expand_template(regex, &captures, &config.replacement, &mut mapped);
                if !mapped.is_empty() {
                    builder.set(&mapped, &value);
                }
            }
            true
        }
        Action::LabelDrop => {
            builder.retain(|name, _| !regex.is_match(name));
            true
        }
        Action::LabelKeep => {
            builder.retain(|name, _| regex.is_match(name));
            true
        }
    }
}

/// Prometheus's `hashmod`: the big-endian u64 of bytes 8..16 of the MD5
/// digest of `source`, modulo `modulus` (0 when `modulus` is 0, which
/// validation rejects).
pub fn hashmod(source: &str, modulus: u64) -> u64 {
    let digest = md5::compute(source.as_bytes());
    let mut tail = [0u8; 8];
    tail.copy_from_slice(&digest.0[8..16]);
    u64::from_be_bytes(tail).checked_rem(modulus).unwrap_or(0)
}

/// Expands `$1`, `${1}`, `$name`, `${name}` and `$$` in `template` like Go's
/// `regexp.Expand`: a name is the longest run of letters, digits and `_`;
/// unknown groups and groups that did not take part expand to nothing; a
/// malformed reference keeps its `$` as text.
pub fn expand_template(
    regex: &regex::Regex,
    captures: &regex::Captures<'_>,
    template: &str,
    out: &mut String,
) {
    let mut rest = template;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        rest = &rest[dollar + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let Some((name, after)) = extract_group_reference(rest) else {
            out.push('$');
            continue;
        };
        rest = after;
        let group = match group_number(name) {
            Some(number) => captures.get(number),
            None => regex
                .capture_names()
                .position(|group_name| group_name == Some(name))
                .and_then(|index| captures.get(index)),
        };
        if let Some(matched) = group {
            out.push_str(matched.as_str());
        }
    }
    out.push_str(rest);
}

/// Splits `name` or `{name}` off the front of `text` (after a `$`).
fn extract_group_reference(text: &str) -> Option<(&str, &str)> {
    let (braced, body) = match text.strip_prefix('{') {
        Some(body) => (true, body),
        None => (false, text),
    };
    let name_len: usize = body
        .char_indices()
        .find(|(_, c)| !(c.is_alphabetic() || c.is_numeric() || *c == '_'))
        .map_or(body.len(), |(index, _)| index);
    if name_len == 0 {
        return None;
    }
    let name = &body[..name_len];
    let after = &body[name_len..];
    if braced {
        let after = after.strip_prefix('}')?;
        return Some((name, after));
    }
    Some((name, after))
}

/// The group number a reference names, as Go reads it: ASCII digits, no
/// leading zero, below 10^8; anything else is a group name.
fn group_number(name: &str) -> Option<usize> {
    if name.len() > 1 && name.starts_with('0') {
        return None;
    }
    if name.len() > 8 || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rules written as users write them, so the serde defaults are tested too.
    fn rules(yaml: &str) -> Vec<RelabelConfig> {
        match serde_saphyr::from_str(yaml) {
            Ok(rules) => rules,
            Err(error) => panic!("bad test yaml {yaml}: {error}"),
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs)
    }

    #[test]
    fn every_action_behaves_like_prometheus() {
        let input = labels(&[("a", "foo"), ("b", "bar"), ("c", "baz")]);
        // (case, rules, expected output; None = dropped)
        let cases: Vec<(&str, &str, Option<Labels>)> = vec![
            (
                "replace with default regex and replacement copies the joined sources",
                "- {source_labels: [a, b], target_label: d}",
                Some(labels(&[
                    ("a", "foo"),
                    ("b", "bar"),
                    ("c", "baz"),
                    ("d", "foo;bar"),
                ])),
            ),
            (
                "replace with groups, custom separator and ${1}/$name references",
                r#"- {source_labels: [a, b], separator: "-", regex: "f(?P<rest>o+)-(b)ar", target_label: "t_${2}", replacement: "$rest|${1}|$$"}"#,
                Some(labels(&[
                    ("a", "foo"),
                    ("b", "bar"),
                    ("c", "baz"),
                    ("t_b", "oo|oo|$"),
                ])),
            ),
            (
                "replace is fully anchored: a partial match changes nothing",
                "- {source_labels: [a], regex: o, target_label: d, replacement: x}",
                Some(input.clone()),
            ),
            (
                "replace with an empty result deletes the target",
                "- {source_labels: [a], regex: 'f(x?)oo', target_label: b}",
                Some(labels(&[("a", "foo"), ("c", "baz")])),
            ),
            (
                "missing source labels join as empty strings",
                "- {source_labels: [missing, a, missing2], target_label: d}",
                Some(labels(&[
                    ("a", "foo"),
                    ("b", "bar"),
                    ("c", "baz"),
                    ("d", ";foo;"),
                ])),
            ),
            (
                "replace with no sources sets a constant",
                "- {target_label: env, replacement: prod}",
                Some(labels(&[
                    ("a", "foo"),
                    ("b", "bar"),
                    ("c", "baz"),
                    ("env", "prod"),
                ])),
            ),
            (
                "a target label that expands to nothing is skipped",
                "- {source_labels: [a], regex: '(f).*', target_label: '$2', replacement: x}",
                Some(input.clone()),
            ),
            (
                "$1x refers to a group named 1x, which does not exist",
                "- {source_labels: [a], regex: '(f)oo', target_label: d, replacement: '$1x'}",
                Some(input.clone()),
            ),
            (
                "a malformed reference keeps its dollar",
                "- {source_labels: [a], regex: '(f)oo', target_label: d, replacement: '${1-$}'}",
                Some(labels(&[
                    ("a", "foo"),
                    ("b", "bar"),
                    ("c", "baz"),
                    ("d", "${1-$}"),
                ])),
            ),
            (
                "keep keeps on a full match",
                "- {source_labels: [a], regex: 'f.*', action: keep}",
                Some(input.clone()),
            ),
            (
                "keep drops on a partial match",
                "- {source_labels: [a], regex: f, action: keep}",
                None,
            ),
            (
                "drop drops on a full match",
                "- {source_labels: [a, b], regex: 'foo;bar', action: drop}",
                None,
            ),
            (
                "drop keeps otherwise",
                "- {source_labels: [a], regex: bar, action: drop}",
                Some(input.clone()),
            ),
            (
                "keepequal keeps when the target equals the sources",
                "- {source_labels: [a], target_label: a, action: keepequal}",
                Some(input.clone()),
            ),
            (
                "keepequal drops when they differ",
                "- {source_labels: [a], target_label: b, action: keepequal}",
                None,
            ),
            (
                "dropequal drops when equal",
                "- {source_labels: [c], target_label: c, action: dropequal}",
                None,
            ),
            (
                "dropequal keeps when they differ",
                "- {source_labels: [a], target_label: b, action: dropequal}",
                Some(input.clone()),
            ),
            (
                "hashmod matches Prometheus's MD5-based value",
                "- {source_labels: [c], target_label: d, modulus: 1000, action: hashmod}",
                Some(labels(&[
                    ("a", "foo"),
                    ("b", "bar"),
                    ("c", "baz"),
                    ("d", "976"),
                ])),
            ),
            (
                "labelmap copies matching names through the replacement",
                "- {regex: '(b|c)', replacement: 'x_${1}', action: labelmap}",
                Some(labels(&[
                    ("a", "foo"),
                    ("b", "bar"),
                    ("c", "baz"),
                    ("x_b", "bar"),
                    ("x_c", "baz"),
                ])),
            ),
            (
                "labeldrop removes fully matching names",
                "- {regex: '[ab]', action: labeldrop}",
                Some(labels(&[("c", "baz")])),
            ),
            (
                "labelkeep keeps only fully matching names",
                "- {regex: 'a|c', action: labelkeep}",
                Some(labels(&[("a", "foo"), ("c", "baz")])),
            ),
            (
                "lowercase of a missing source writes an empty value, which is no label",
                "- {source_labels: [up], target_label: low, action: lowercase}",
                Some(labels(&[("a", "foo"), ("b", "bar"), ("c", "baz")])),
            ),
            (
                "rules apply in order and see earlier results",
                "- {target_label: tmp, replacement: keepme}\n- {source_labels: [tmp], regex: keepme, action: keep}\n- {regex: tmp, action: labeldrop}",
                Some(input.clone()),
            ),
        ];
        for (case, yaml, expected) in cases {
            assert_eq!(process(&input, &rules(yaml)), expected, "{case}");
        }
    }

    #[test]
    fn case_actions_change_case() {
        let input = labels(&[("name", "MiXeD-Ünï"), ("job", "Api")]);
        let lowered = process(
            &input,
            &rules("- {source_labels: [name, job], target_label: out, action: lowercase}"),
        );
        assert_eq!(
            lowered.and_then(|l| l.get("out").map(str::to_string)),
            Some("mixed-ünï;api".into())
        );
        let uppered = process(
            &input,
            &rules("- {source_labels: [name], target_label: out, action: uppercase}"),
        );
        assert_eq!(
            uppered.and_then(|l| l.get("out").map(str::to_string)),
            Some("MIXED-ÜNÏ".into())
        );
    }

    #[test]
    fn regexes_match_across_line_breaks() {
        let input = labels(&[("a", "foo\nbar")]);
        let copied = process(
            &input,
            &rules("- {source_labels: [a], regex: 'foo.bar', target_label: d, replacement: ok}"),
        );
        assert_eq!(
            copied.and_then(|l| l.get("d").map(str::to_string)),
            Some("ok".into())
        );
    }

    #[test]
    fn hashmod_matches_prometheus_golden_values() {
        // Values from Prometheus's relabel tests; users shard with these.
        assert_eq!(hashmod("baz", 1000), 976);
        assert_eq!(hashmod("foo\nbar", 1000), 734);
        assert_eq!(hashmod("anything", 1), 0);
    }

    #[test]
    fn process_builder_reports_drops() {
        let mut builder = labels(&[("job", "x")]).builder();
        assert!(process_builder(
            &mut builder,
            &rules("- {target_label: a, replacement: b}")
        ));
        assert_eq!(builder.build(), labels(&[("a", "b"), ("job", "x")]));
        assert!(!process_builder(
            &mut builder,
            &rules("- {source_labels: [job], regex: x, action: drop}")
        ));
    }

    #[test]
    fn validation_matches_prometheus_rules_and_messages() {
        let cases: &[(&str, Option<&str>)] = &[
            ("{target_label: a}", None),
            ("{source_labels: [a], regex: x, action: keep}", None),
            (
                "{source_labels: [a], target_label: b, action: keepequal}",
                None,
            ),
            ("{regex: 'a.*', action: labeldrop}", None),
            (
                "{regex: '(.*)', replacement: 'x_$1', action: labelmap}",
                None,
            ),
            (
                "{source_labels: [a], target_label: b, action: hashmod}",
                Some("relabel configuration for hashmod requires non-zero modulus"),
            ),
            (
                "{source_labels: [a]}",
                Some("relabel configuration for replace action requires 'target_label' value"),
            ),
            (
                "{source_labels: [a], action: lowercase}",
                Some("relabel configuration for lowercase action requires 'target_label' value"),
            ),
            (
                "{source_labels: [a], target_label: b, replacement: x, action: uppercase}",
                Some("'replacement' can not be set for uppercase action"),
            ),
            (
                "{source_labels: [a], target_label: b, regex: x, action: dropequal}",
                Some(
                    "dropequal action requires only 'source_labels' and `target_label`, and no other fields",
                ),
            ),
            (
                "{source_labels: [a], regex: x, action: labelkeep}",
                Some("labelkeep action requires only 'regex', and no other fields"),
            ),
            (
                "{regex: x, target_label: y, action: labeldrop}",
                Some("labeldrop action requires only 'regex', and no other fields"),
            ),
            (
                "{regex: x, replacement: '', action: labelmap}",
                Some("\"\" is invalid 'replacement' for labelmap action"),
            ),
        ];
        for (yaml, expected) in cases {
            let rule = rules(&format!("- {yaml}"));
            let result = rule[0].validate().map_err(|e| e.to_string());
            assert_eq!(result.err().as_deref(), *expected, "{yaml}");
        }
    }

    #[test]
    fn defaults_are_prometheus_defaults() {
        let rule = &rules("- {}")[0];
        assert_eq!(rule.action, Action::Replace);
        assert_eq!(rule.separator, ";");
        assert_eq!(rule.regex.as_str(), "(.*)");
        assert_eq!(rule.replacement, "$1");
        assert_eq!(rule.modulus, 0);
        assert!(serde_saphyr::from_str::<Vec<RelabelConfig>>("- {action: explode}").is_err());
        assert!(serde_saphyr::from_str::<Vec<RelabelConfig>>("- {regex: '(unclosed'}").is_err());
    }
}
