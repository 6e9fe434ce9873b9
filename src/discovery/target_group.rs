//! `TargetGroup`, as Prometheus's `targetgroup.Group`, and its JSON/YAML
//! file format: `[{"targets": ["host:port", ...], "labels": {...}}, ...]`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::DiscoveryError;
use crate::model::labels::{ADDRESS_LABEL, Labels};

/// A set of targets sharing labels, from one source.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TargetGroup {
    /// Identifies the group within its provider (`file.json:0`,
    /// `<job>/static/0`, `http://sd/targets:2`); a later group with the
    /// same source replaces it.
    pub source: String,
    /// One label set per target, each with at least `__address__`.
    pub targets: Vec<Labels>,
    /// Labels shared by all targets (including `__meta_*`).
    pub labels: Labels,
}

impl TargetGroup {
    /// A group of `addresses` with `labels`.
    pub fn from_addresses<'a>(
        source: impl Into<String>,
        addresses: impl IntoIterator<Item = &'a str>,
        labels: Labels,
    ) -> Self {
        TargetGroup {
            source: source.into(),
            targets: addresses
                .into_iter()
                .map(|address| Labels::from_pairs(&[(ADDRESS_LABEL, address)]))
                .collect(),
            labels,
        }
    }
}

/// The on-disk/on-wire shape of a group.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupDocument {
    #[serde(default)]
    targets: Option<Vec<String>>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

/// The format of a target-group document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupFormat {
    /// JSON.
    Json,
    /// YAML.
    Yaml,
}

impl GroupFormat {
    /// The format a file name's extension implies (`.json`, `.yml`, `.yaml`).
    pub fn from_path(path: &str) -> Result<Self, DiscoveryError> {
        let extension = std::path::Path::new(path)
            .extension()
            .map(|extension| extension.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        match extension.as_str() {
            "json" => Ok(GroupFormat::Json),
            "yml" | "yaml" => Ok(GroupFormat::Yaml),
            _ => Err(DiscoveryError::Extension {
                path: path.to_string(),
                extension,
            }),
        }
    }
}

/// Parses a list of target groups. Each group's source is
/// `<source_name>:<index>` and `extra_labels` (such as `__meta_filepath`)
/// are added to its labels. Label names must be non-empty.
pub fn parse_target_groups(
    content: &str,
    format: GroupFormat,
    source_name: &str,
    extra_labels: &[(&str, &str)],
) -> Result<Vec<TargetGroup>, DiscoveryError> {
    let decode_error = |message: String| DiscoveryError::Decode {
        source_name: source_name.to_string(),
        message,
    };
    let documents: Vec<Option<GroupDocument>> = match format {
        GroupFormat::Json => {
            serde_json::from_str(content).map_err(|error| decode_error(error.to_string()))?
        }
        GroupFormat::Yaml => {
            if content.trim().is_empty() {
                Vec::new()
            } else {
                serde_saphyr::from_str::<Option<Vec<Option<GroupDocument>>>>(content)
                    .map_err(|error| decode_error(error.without_snippet().to_string()))?
                    .unwrap_or_default()
            }
        }
    };
    let mut groups = Vec::with_capacity(documents.len());
    for (index, document) in documents.into_iter().enumerate() {
        let document = document
            .ok_or_else(|| decode_error(format!("nil target group item found (index {index})")))?;
        let mut label_pairs: Vec<(String, String)> =
            document.labels.unwrap_or_default().into_iter().collect();
        for (name, _) in &label_pairs {
            if name.is_empty() {
                return Err(decode_error(format!("group {index}: label name is empty")));
            }
        }
        label_pairs.extend(
            extra_labels
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string())),
        );
        let targets = document.targets.unwrap_or_default();
        for target in &targets {
            if target.is_empty() {
                return Err(decode_error(format!(
                    "group {index}: target address is empty"
                )));
            }
        }
        groups.push(TargetGroup::from_addresses(
            format!("{source_name}:{index}"),
            targets.iter().map(String::as_str),
            label_pairs.into_iter().collect(),
        ));
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_json_and_yaml_in_prometheus_format() {
        let json =
            r#"[{"targets": ["a:1", "b:2"], "labels": {"env": "prod"}}, {"targets": ["c:3"]}]"#;
        let yaml = "- targets: [a:1, b:2]\n  labels:\n    env: prod\n- targets: [c:3]\n";
        for (content, format) in [(json, GroupFormat::Json), (yaml, GroupFormat::Yaml)] {
            let groups = parse_target_groups(content, format, "f", &[("__meta_filepath", "/x/f")])
                .unwrap_or_else(|error| panic!("{error}"));
            assert_eq!(groups.len(), 2);
            assert_eq!(groups[0].source, "f:0");
            assert_eq!(groups[0].targets[1].get(ADDRESS_LABEL), Some("b:2"));
            assert_eq!(groups[0].labels.get("env"), Some("prod"));
            assert_eq!(groups[1].labels.get("__meta_filepath"), Some("/x/f"));
        }
    }

    #[test]
    fn rejects_malformed_documents() {
        let cases = [
            ("{\"targets\": []}", GroupFormat::Json),
            ("[{\"targets\": [1]}]", GroupFormat::Json),
            (
                "[{\"targets\": [\"a:1\"], \"labelz\": {}}]",
                GroupFormat::Json,
            ),
            ("[null]", GroupFormat::Json),
            ("- targets: [a:1]\n  labels: [x]\n", GroupFormat::Yaml),
            ("[{\"labels\": {\"\": \"v\"}}]", GroupFormat::Json),
        ];
        for (content, format) in cases {
            assert!(
                parse_target_groups(content, format, "f", &[]).is_err(),
                "{content}"
            );
        }
    }

    proptest::proptest! {
        /// Arbitrary file content is an error or groups, never a panic.
        #[test]
        fn arbitrary_content_never_panics(text in "\\PC{0,200}") {
            let _ = parse_target_groups(&text, GroupFormat::Json, "f", &[]);
            let _ = parse_target_groups(&text, GroupFormat::Yaml, "f", &[]);
        }
    }

    #[test]
    fn empty_yaml_file_has_no_groups() {
        let groups = parse_target_groups("", GroupFormat::Yaml, "f", &[])
            .unwrap_or_else(|error| panic!("{error}"));
        assert!(groups.is_empty());
    }
}
