//! Finds the line of a field in the YAML source, so that validation errors
//! (found after deserialization, on plain values) can name it.
//!
//! The source is parsed a second time into a tree of `Spanned` nodes and
//! flattened into `path -> line`, where a path is the keys and sequence
//! indexes joined by dots: `scrape_configs.1.scrape_timeout`.

use std::collections::HashMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// Lines of every key and sequence item in a YAML document.
#[derive(Debug, Default)]
pub struct LineIndex {
    lines_by_path: HashMap<String, usize>,
}

impl LineIndex {
    /// Indexes `text`; an unparsable document gives an empty index.
    pub fn new(text: &str) -> Self {
        let mut index = LineIndex::default();
        if let Ok(root) = serde_saphyr::from_str::<Spanned<Node>>(text) {
            index.add_node("", &root.value);
        }
        index
    }

    fn add_node(&mut self, prefix: &str, node: &Node) {
        match node {
            Node::Scalar => {}
            Node::Sequence(items) => {
                for (position, item) in items.iter().enumerate() {
                    let path = join_path(prefix, &position.to_string());
                    self.lines_by_path
                        .insert(path.clone(), item.referenced.line() as usize);
                    self.add_node(&path, &item.value);
                }
            }
            Node::Mapping(entries) => {
                for (key, value) in entries {
                    let path = join_path(prefix, key.value.as_str());
                    self.lines_by_path
                        .insert(path.clone(), key.referenced.line() as usize);
                    self.add_node(&path, &value.value);
                }
            }
        }
    }

    /// The line `path` itself is written on, if it is in the source.
    pub fn exact_line(&self, path: &str) -> Option<usize> {
        self.lines_by_path.get(path).copied()
    }

    /// The line of `path`, or of its nearest ancestor present in the source
    /// (a missing field is reported where its parent is); 0 when unknown.
    pub fn line_of(&self, path: &str) -> usize {
        let mut current = path;
        loop {
            if let Some(line) = self.lines_by_path.get(current) {
                return *line;
            }
            match current.rfind('.') {
                Some(dot) => current = &current[..dot],
                None => return 0,
            }
        }
    }
}

/// Joins a path and a key with a dot.
pub fn join_path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// The last key of a path that is not a sequence index.
pub fn field_name(path: &str) -> &str {
    path.rsplit('.')
        .find(|segment| !segment.chars().all(|character| character.is_ascii_digit()))
        .unwrap_or(path)
}

/// The key written on `line` (1-based) of `text`, or of the nearest
/// enclosing mapping key above it: the field a parse error is about.
pub fn key_at_line(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut position = line.checked_sub(1)?;
    let mut max_indent = usize::MAX;
    loop {
        let raw = lines.get(position)?;
        let indent = raw.len() - raw.trim_start().len();
        let content = raw.trim_start().trim_start_matches("- ").trim_start();
        if indent < max_indent || max_indent == usize::MAX {
            if let Some(key) = leading_key(content) {
                return Some(key);
            }
            if !content.is_empty() && !content.starts_with('#') {
                max_indent = max_indent.min(indent);
            }
        }
        position = position.checked_sub(1)?;
    }
}

fn leading_key(content: &str) -> Option<String> {
    if content.starts_with('#') || content.starts_with('{') || content.starts_with('[') {
        return None;
    }
    let colon = content
        .find(": ")
        .or_else(|| content.strip_suffix(':').map(|key| key.len()))?;
    let key = content[..colon]
        .trim()
        .trim_matches(|character| character == '"' || character == '\'');
    if key.is_empty() || key.contains(' ') {
        return None;
    }
    Some(key.to_string())
}

/// A YAML node reduced to its structure; keys and items keep positions.
enum Node {
    Scalar,
    Sequence(Vec<Spanned<Node>>),
    Mapping(Vec<(Spanned<KeyText>, Spanned<Node>)>),
}

/// A mapping key as text, whatever its YAML type.
struct KeyText(String);

impl KeyText {
    fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = KeyText;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a scalar mapping key")
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<KeyText, E> {
                Ok(KeyText(value.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<KeyText, E> {
                Ok(KeyText(value.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<KeyText, E> {
                Ok(KeyText(value.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<KeyText, E> {
                Ok(KeyText(value.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<KeyText, E> {
                Ok(KeyText(value.to_string()))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<KeyText, E> {
                Ok(KeyText(String::new()))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NodeVisitor;
        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = Node;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("any YAML node")
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
                Node::deserialize(deserializer)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = sequence.next_element::<Spanned<Node>>()? {
                    items.push(item);
                }
                Ok(Node::Sequence(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Spanned<KeyText>>()? {
                    let value = map.next_value::<Spanned<Node>>()?;
                    entries.push((key, value));
                }
                Ok(Node::Mapping(entries))
            }
        }
        deserializer.deserialize_any(NodeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "\
global:
  scrape_interval: 15s
scrape_configs:
  - job_name: a
    static_configs:
      - targets: [x:1]
  - job_name: b
    scrape_timeout: 1m
";

    #[test]
    fn finds_lines_of_nested_keys_and_items() {
        let index = LineIndex::new(SOURCE);
        assert_eq!(index.line_of("global.scrape_interval"), 2);
        assert_eq!(
            index.line_of("scrape_configs.0.static_configs.0.targets"),
            6
        );
        assert_eq!(index.line_of("scrape_configs.1.scrape_timeout"), 8);
        // A missing field is reported at its nearest present ancestor.
        assert_eq!(index.line_of("scrape_configs.1.scrape_interval"), 7);
        assert_eq!(index.line_of("cluster.mode"), 0);
    }

    #[test]
    fn field_name_skips_indexes() {
        assert_eq!(
            field_name("scrape_configs.1.scrape_timeout"),
            "scrape_timeout"
        );
        assert_eq!(field_name("scrape_configs.1"), "scrape_configs");
        assert_eq!(field_name("global"), "global");
    }

    #[test]
    fn key_at_line_finds_the_enclosing_key() {
        assert_eq!(key_at_line(SOURCE, 8).as_deref(), Some("scrape_timeout"));
        assert_eq!(key_at_line(SOURCE, 7).as_deref(), Some("job_name"));
        assert_eq!(key_at_line(SOURCE, 6).as_deref(), Some("targets"));
    }
}
