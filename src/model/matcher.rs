//! Label matchers: `=`, `!=`, `=~`, `!~`, with Prometheus's fully anchored
//! regular expressions.

use regex::Regex;
use std::fmt;

/// The kind of comparison a [`Matcher`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchType {
    /// `=`: the value equals.
    Equal,
    /// `!=`: the value differs.
    NotEqual,
    /// `=~`: the whole value matches the regex.
    Regex,
    /// `!~`: the whole value does not match the regex.
    NotRegex,
}

impl fmt::Display for MatchType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MatchType::Equal => "=",
            MatchType::NotEqual => "!=",
            MatchType::Regex => "=~",
            MatchType::NotRegex => "!~",
        })
    }
}

/// A matcher on one label. A missing label matches as the empty string, as
/// in Prometheus: `{foo=""}` selects series without `foo`.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// The label name.
    pub name: String,
    /// The comparison.
    pub match_type: MatchType,
    /// The literal value or the regex source (unanchored, as written).
    pub value: String,
    regex: Option<Regex>,
}

/// An invalid regular expression in a matcher.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid regular expression {pattern:?}: {message}")]
pub struct MatcherError {
    /// The pattern as written.
    pub pattern: String,
    /// What the regex engine said.
    pub message: String,
}

/// Compiles `pattern` fully anchored, as Prometheus does (`^(?s:pattern)$`).
pub fn anchored_regex(pattern: &str) -> Result<Regex, MatcherError> {
    Regex::new(&format!("^(?s:{pattern})$")).map_err(|e| MatcherError {
        pattern: pattern.to_string(),
        message: e.to_string(),
    })
}

impl Matcher {
    /// A new matcher; regex kinds compile `value` fully anchored.
    pub fn new(
        match_type: MatchType,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, MatcherError> {
        let value = value.into();
        let regex = match match_type {
            MatchType::Regex | MatchType::NotRegex => Some(anchored_regex(&value)?),
            MatchType::Equal | MatchType::NotEqual => None,
        };
        Ok(Matcher {
            name: name.into(),
            match_type,
            value,
            regex,
        })
    }

    /// An equality matcher (never fails).
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Matcher {
            name: name.into(),
            match_type: MatchType::Equal,
            value: value.into(),
            regex: None,
        }
    }

    /// Whether `value` (`""` for a missing label) satisfies the matcher.
    #[inline]
    pub fn matches(&self, value: &str) -> bool {
        match self.match_type {
            MatchType::Equal => value == self.value,
            MatchType::NotEqual => value != self.value,
            MatchType::Regex => self.regex.as_ref().is_some_and(|r| r.is_match(value)),
            MatchType::NotRegex => !self.regex.as_ref().is_some_and(|r| r.is_match(value)),
        }
    }

    /// Whether a series without this label is selected by the matcher.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// For `=~` (and `!~`) over a plain alternation of literals such as
    /// `a|b|c`, the literals; lets an index answer with postings lookups
    /// instead of scanning every value.
    pub fn set_matches(&self) -> Option<Vec<String>> {
        if !matches!(self.match_type, MatchType::Regex | MatchType::NotRegex) {
            return None;
        }
        let special = |c: char| "\\.+*?()[]{}^$|".contains(c);
        let mut out = Vec::new();
        for part in self.value.split('|') {
            if part.chars().any(special) {
                return None;
            }
            out.push(part.to_string());
        }
        Some(out)
    }

    /// If the regex is a literal prefix followed by `.*` (e.g. `foo.*`), the
    /// prefix; lets an index skip values that cannot match.
    pub fn literal_prefix(&self) -> Option<&str> {
        let prefix = self.value.strip_suffix(".*")?;
        if prefix.chars().any(|c| "\\.+*?()[]{}^$|".contains(c)) {
            return None;
        }
        Some(prefix)
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.match_type == other.match_type && self.value == other.value
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.match_type, self.value)
    }
}

/// Whether a label set satisfies every matcher.
pub fn matches_all(labels: &super::Labels, matchers: &[Matcher]) -> bool {
    matchers
        .iter()
        .all(|m| m.matches(labels.get_or_empty(&m.name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_is_fully_anchored() {
        let m = Matcher::new(MatchType::Regex, "job", "no.e").unwrap();
        assert!(m.matches("node"));
        assert!(!m.matches("node2"));
        assert!(!m.matches("xnode"));
        let dotall = Matcher::new(MatchType::Regex, "x", "a.b").unwrap();
        assert!(dotall.matches("a\nb"));
    }

    #[test]
    fn table() {
        let cases = [
            (MatchType::Equal, "a", "a", true),
            (MatchType::Equal, "a", "", false),
            (MatchType::Equal, "", "", true),
            (MatchType::NotEqual, "a", "b", true),
            (MatchType::NotEqual, "a", "a", false),
            (MatchType::Regex, "a|b", "b", true),
            (MatchType::Regex, ".*", "", true),
            (MatchType::Regex, ".+", "", false),
            (MatchType::NotRegex, "a|b", "c", true),
            (MatchType::NotRegex, "", "", false),
            (MatchType::NotRegex, "", "x", true),
        ];
        for (kind, pattern, value, want) in cases {
            let m = Matcher::new(kind, "l", pattern).unwrap();
            assert_eq!(m.matches(value), want, "{m} on {value:?}");
        }
    }

    #[test]
    fn set_and_prefix_detection() {
        let m = Matcher::new(MatchType::Regex, "l", "a|bb|c").unwrap();
        assert_eq!(
            m.set_matches(),
            Some(vec!["a".into(), "bb".into(), "c".into()])
        );
        assert_eq!(
            Matcher::new(MatchType::Regex, "l", "a.|b")
                .unwrap()
                .set_matches(),
            None
        );
        assert_eq!(
            Matcher::new(MatchType::Regex, "l", "foo.*")
                .unwrap()
                .literal_prefix(),
            Some("foo")
        );
    }

    #[test]
    fn bad_regex_is_an_error() {
        assert!(Matcher::new(MatchType::Regex, "l", "(").is_err());
    }
}
