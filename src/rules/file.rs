//! The Prometheus rule-file model: groups and rules, with validation as
//! `promtool check rules` does it. Every problem names the file, the line,
//! the group and the rule.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::duration::PromDuration;
use crate::config::locate::{LineIndex, key_at_line};

/// A parsed, validated rule file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleFile {
    /// The groups, in file order.
    #[serde(deserialize_with = "null_as_default")]
    pub groups: Vec<RuleGroup>,
    /// The file the groups were read from.
    #[serde(skip)]
    pub path: PathBuf,
}

/// A group of rules evaluated together, in order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleGroup {
    /// The group's name, unique in its file.
    pub name: String,
    /// Evaluation interval; zero means `global.evaluation_interval`.
    pub interval: PromDuration,
    /// How far in the past to evaluate; `None` means `global.rule_query_offset`.
    pub query_offset: Option<PromDuration>,
    /// Most series a rule may produce (alerts for alerting rules); 0 = none.
    pub limit: u64,
    /// Labels added to every rule of the group (rule labels win).
    #[serde(deserialize_with = "null_as_default")]
    pub labels: BTreeMap<String, String>,
    /// The rules, in evaluation order.
    #[serde(deserialize_with = "null_as_default")]
    pub rules: Vec<Rule>,
}

/// A recording rule (`record`) or an alerting rule (`alert`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rule {
    /// The metric name a recording rule writes; empty for alerts.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub record: String,
    /// The alert's name; empty for recording rules.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub alert: String,
    /// The PromQL expression (a YAML number such as `1` is accepted).
    #[serde(deserialize_with = "scalar_as_string")]
    pub expr: String,
    /// How long an alert stays pending before firing.
    #[serde(rename = "for")]
    pub for_duration: PromDuration,
    /// How long an alert keeps firing after its condition clears.
    pub keep_firing_for: PromDuration,
    /// Labels added to the output (templates allowed for alerts).
    #[serde(deserialize_with = "null_as_default")]
    pub labels: BTreeMap<String, String>,
    /// Alert annotations (templates allowed).
    #[serde(deserialize_with = "null_as_default")]
    pub annotations: BTreeMap<String, String>,
}

impl Rule {
    /// The record or alert name.
    pub fn name(&self) -> &str {
        if self.alert.is_empty() {
            &self.record
        } else {
            &self.alert
        }
    }

    /// True for an alerting rule.
    pub fn is_alert(&self) -> bool {
        !self.alert.is_empty()
    }
}

impl RuleFile {
    /// How many rules the file holds.
    pub fn rule_count(&self) -> usize {
        self.groups.iter().map(|group| group.rules.len()).sum()
    }
}

/// One problem in a rule file, located and attributed to group and rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleProblem {
    /// 1-based line; 0 when unknown.
    pub line: usize,
    /// The group's name (empty for file-level problems).
    pub group: String,
    /// The rule's 1-based position in its group, as promtool counts.
    pub rule_position: Option<usize>,
    /// The rule's record or alert name.
    pub rule_name: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RuleProblem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(formatter, "{}: ", self.line)?;
        }
        match self.rule_position {
            Some(position) => write!(
                formatter,
                "group {:?}, rule {position}, {:?}: {}",
                self.group, self.rule_name, self.message
            ),
            None if !self.group.is_empty() => {
                write!(formatter, "group {:?}: {}", self.group, self.message)
            }
            None => formatter.write_str(&self.message),
        }
    }
}

/// Why a rule file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RuleFileError {
    /// The file could not be read.
    #[error("{file}: cannot read rule file: {source}")]
    Read {
        /// The file.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The YAML is malformed or has unknown fields.
    #[error("{file}:{line}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// 1-based line; 0 when unknown.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Groups or rules break the rules; every problem is listed.
    #[error("{}", render_problems(file, problems))]
    Invalid {
        /// The file.
        file: String,
        /// The problems, in file order.
        problems: Vec<RuleProblem>,
    },
}

impl RuleFileError {
    /// The error as promtool prints it: one line per problem.
    pub fn lines(&self) -> Vec<String> {
        match self {
            RuleFileError::Invalid { file, problems } => problems
                .iter()
                .map(|problem| format!("{file}:{problem}"))
                .collect(),
            other => vec![other.to_string()],
        }
    }
}

fn render_problems(file: &str, problems: &[RuleProblem]) -> String {
    problems
        .iter()
        .map(|problem| format!("{file}:{problem}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads and validates the rule file at `path`.
pub fn load_rule_file(path: impl AsRef<Path>) -> Result<RuleFile, RuleFileError> {
    let path = path.as_ref();
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| RuleFileError::Read {
        file: file.clone(),
        source,
    })?;
    let mut rule_file = parse_rule_file(&text, &file)?;
    rule_file.path = path.to_path_buf();
    Ok(rule_file)
}

/// Parses and validates rule-file `text`; `file` names it in errors.
pub fn parse_rule_file(text: &str, file: &str) -> Result<RuleFile, RuleFileError> {
    let is_empty = text.lines().all(|line| {
        let trimmed = line.trim();
        trimmed.is_empty() || trimmed.starts_with('#') || trimmed == "---"
    });
    if is_empty {
        return Ok(RuleFile::default());
    }
    let rule_file: RuleFile = serde_saphyr::from_str(text).map_err(|error| {
        let line = error
            .location()
            .map(|location| location.line() as usize)
            .unwrap_or(0);
        let rendered = error.without_snippet().to_string();
        let message = match rendered.rfind(" at line ") {
            Some(suffix) => rendered[..suffix].to_string(),
            None => rendered,
        };
        let message = match key_at_line(text, line) {
            Some(key) if !message.contains(&format!("`{key}`")) => {
                format!("field {key}: {message}")
            }
            _ => message,
        };
        let message = match enclosing_group_and_rule(text, line) {
            Some((group, Some((position, rule_name)))) => {
                format!("group {group:?}, rule {position}, {rule_name:?}: {message}")
            }
            Some((group, None)) => format!("group {group:?}: {message}"),
            None => message,
        };
        RuleFileError::Parse {
            file: file.to_string(),
            line,
            message,
        }
    })?;
    let problems = validate_rule_file(&rule_file, &LineIndex::new(text));
    if problems.is_empty() {
        Ok(rule_file)
    } else {
        Err(RuleFileError::Invalid {
            file: file.to_string(),
            problems,
        })
    }
}

/// The group (and rule, 1-based, with its name) that `line` falls in,
/// read leniently so that a document with an unknown field or a value of
/// the wrong type can still be attributed; `None` for broken YAML.
fn enclosing_group_and_rule(text: &str, line: usize) -> Option<(String, Option<(usize, String)>)> {
    #[derive(Deserialize)]
    struct LenientFile {
        #[serde(default)]
        groups: Vec<LenientGroup>,
    }
    #[derive(Deserialize)]
    struct LenientGroup {
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        rules: Option<Vec<LenientRule>>,
    }
    #[derive(Deserialize)]
    struct LenientRule {
        #[serde(default)]
        record: Option<String>,
        #[serde(default)]
        alert: Option<String>,
    }
    let lenient: LenientFile = serde_saphyr::from_str(text).ok()?;
    let index = LineIndex::new(text);
    let before = |path: &str| {
        let found = index.line_of(path);
        (found > 0 && found <= line).then_some(found)
    };
    let (group_position, group) = lenient
        .groups
        .iter()
        .enumerate()
        .rfind(|(position, _)| before(&format!("groups.{position}")).is_some())?;
    let rules: &[LenientRule] = group.rules.as_deref().unwrap_or_default();
    let rule = rules.iter().enumerate().rfind(|(position, _)| {
        before(&format!("groups.{group_position}.rules.{position}")).is_some()
    });
    let rule = rule.map(|(position, rule)| {
        let name = rule
            .alert
            .clone()
            .or_else(|| rule.record.clone())
            .unwrap_or_default();
        (position + 1, name)
    });
    Some((group.name.clone().unwrap_or_default(), rule))
}

fn validate_rule_file(rule_file: &RuleFile, index: &LineIndex) -> Vec<RuleProblem> {
    let mut problems = Vec::new();
    let mut group_names = HashSet::new();
    for (group_index, group) in rule_file.groups.iter().enumerate() {
        let group_path = format!("groups.{group_index}");
        let group_problem = |field: &str, message: String| RuleProblem {
            line: index.line_of(&format!("{group_path}.{field}")),
            group: group.name.clone(),
            rule_position: None,
            rule_name: String::new(),
            message,
        };
        if group.name.is_empty() {
            problems.push(group_problem(
                "name",
                "Groupname must not be empty".to_string(),
            ));
        } else if !group_names.insert(group.name.as_str()) {
            problems.push(group_problem(
                "name",
                format!("groupname: {:?} is repeated in the same file", group.name),
            ));
        }
        for name in group.labels.keys() {
            if let Err(message) = check_rule_label_name(name) {
                problems.push(group_problem(&format!("labels.{name}"), message));
            }
        }
        for (rule_index, rule) in group.rules.iter().enumerate() {
            let rule_path = format!("{group_path}.rules.{rule_index}");
            for (field, message) in validate_rule(rule) {
                problems.push(RuleProblem {
                    line: index.line_of(&format!("{rule_path}.{field}")),
                    group: group.name.clone(),
                    rule_position: Some(rule_index + 1),
                    rule_name: rule.name().to_string(),
                    message,
                });
            }
        }
    }
    problems
}

/// The checks of Prometheus's `rulefmt.Rule.Validate` plus template
/// parsing; each problem is `(field, message)`.
pub fn validate_rule(rule: &Rule) -> Vec<(String, String)> {
    let mut problems: Vec<(String, String)> = Vec::new();
    let mut add = |field: &str, message: String| problems.push((field.to_string(), message));
    match (rule.record.is_empty(), rule.alert.is_empty()) {
        (false, false) => add(
            "record",
            "only one of 'record' and 'alert' must be set".to_string(),
        ),
        (true, true) => add("expr", "one of 'record' or 'alert' must be set".to_string()),
        _ => {}
    }
    if rule.expr.trim().is_empty() {
        add("expr", "field 'expr' must be set in rule".to_string());
    } else if let Err(error) = promql_parser::parser::parse(&rule.expr) {
        add(
            "expr",
            format!("could not parse expression: {}", error.trim()),
        );
    }
    if !rule.record.is_empty() {
        if !rule.annotations.is_empty() {
            add(
                "annotations",
                "invalid field 'annotations' in recording rule".to_string(),
            );
        }
        if !rule.for_duration.is_zero() {
            add("for", "invalid field 'for' in recording rule".to_string());
        }
        if !rule.keep_firing_for.is_zero() {
            add(
                "keep_firing_for",
                "invalid field 'keep_firing_for' in recording rule".to_string(),
            );
        }
        if !is_legacy_metric_name(&rule.record) {
            add(
                "record",
                format!("invalid recording rule name: {}", rule.record),
            );
        }
    }
    for (name, value) in &rule.labels {
        if let Err(message) = check_rule_label_name(name) {
            add(&format!("labels.{name}"), message);
        }
        if rule.is_alert()
            && let Err(message) = check_template(value)
        {
            add(
                &format!("labels.{name}"),
                format!("error parsing template for label {name}: {message}"),
            );
        }
    }
    for (name, value) in &rule.annotations {
        if name.is_empty() {
            add("annotations", "invalid annotation name: ".to_string());
        }
        if let Err(message) = check_template(value) {
            add(
                &format!("annotations.{name}"),
                format!("error parsing template for annotation {name}: {message}"),
            );
        }
    }
    problems
}

fn check_rule_label_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name == "__name__" {
        return Err(format!("invalid label name: {name}"));
    }
    Ok(())
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_legacy_metric_name(name: &str) -> bool {
    let mut characters = name.chars();
    characters
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_' || first == ':')
        && characters.all(|character| {
            character.is_ascii_alphanumeric() || character == '_' || character == ':'
        })
}

/// Variables Prometheus defines for alert templates.
const TEMPLATE_VARIABLES: [&str; 5] = ["$", "$labels", "$externalLabels", "$externalURL", "$value"];

/// A structural check of a Go template as Prometheus uses them: every
/// `{{` is closed, actions are not empty, quotes and parentheses inside
/// actions balance, and every `$variable` is defined.
pub fn check_template(template: &str) -> Result<(), String> {
    let mut declared: HashSet<String> = TEMPLATE_VARIABLES
        .iter()
        .map(|name| name.to_string())
        .collect();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        let after_open = &rest[open + 2..];
        let close = find_action_end(after_open).ok_or_else(|| "unclosed action".to_string())?;
        let action = after_open[..close].trim_matches('-').trim();
        check_action(action, &mut declared)?;
        rest = &after_open[close + 2..];
    }
    Ok(())
}

/// The position of the `}}` closing an action, skipping quoted strings.
fn find_action_end(action: &str) -> Option<usize> {
    let bytes = action.as_bytes();
    let mut position = 0;
    let mut quote: Option<u8> = None;
    while position < bytes.len() {
        let byte = bytes[position];
        match quote {
            Some(open_quote) => {
                if byte == b'\\' && open_quote == b'"' {
                    position += 1;
                } else if byte == open_quote {
                    quote = None;
                }
            }
            None => {
                if byte == b'"' || byte == b'`' || byte == b'\'' {
                    quote = Some(byte);
                } else if byte == b'}' && bytes.get(position + 1) == Some(&b'}') {
                    return Some(position);
                }
            }
        }
        position += 1;
    }
    None
}

fn check_action(action: &str, declared: &mut HashSet<String>) -> Result<(), String> {
    if action.is_empty() {
        return Err("missing value for command".to_string());
    }
    if action.starts_with("/*") {
        return Ok(());
    }
    let mut depth: i32 = 0;
    let mut characters = action.char_indices().peekable();
    while let Some((position, character)) = characters.next() {
        match character {
            '"' | '`' | '\'' => {
                let mut escaped = false;
                let mut closed = false;
                for (_, inner) in characters.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if inner == '\\' && character == '"' {
                        escaped = true;
                    } else if inner == character {
                        closed = true;
                        break;
                    }
                }
                if !closed {
                    return Err(format!("unterminated quoted string in {action:?}"));
                }
            }
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err(format!("unexpected right parenthesis in {action:?}"));
                }
            }
            '$' => {
                let name_end = action[position + 1..]
                    .find(|inner: char| !(inner.is_alphanumeric() || inner == '_'))
                    .map_or(action.len(), |end| position + 1 + end);
                let variable = &action[position..name_end];
                let remainder = action[name_end..].trim_start();
                if remainder.starts_with(":=")
                    || (remainder.starts_with('=') && !remainder.starts_with("=="))
                {
                    declared.insert(variable.to_string());
                } else if !declared.contains(variable) {
                    return Err(format!("undefined variable {variable:?}"));
                }
                while characters.peek().is_some_and(|(next, _)| *next < name_end) {
                    characters.next();
                }
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("unclosed left parenthesis in {action:?}"));
    }
    Ok(())
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Accepts `expr: 1` as well as `expr: "up == 0"`.
fn scalar_as_string<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Integer(i64),
        Float(f64),
        Boolean(bool),
    }
    Ok(match Option::<Scalar>::deserialize(deserializer)? {
        None => String::new(),
        Some(Scalar::Text(text)) => text,
        Some(Scalar::Integer(number)) => number.to_string(),
        Some(Scalar::Float(number)) => number.to_string(),
        Some(Scalar::Boolean(value)) => value.to_string(),
    })
}

#[cfg(test)]
mod tests;
