//! Unescaping of label values, quoted names and HELP text.
//!
//! Prometheus replaces only a few sequences and keeps every other backslash
//! as written: label values and quoted names (both formats) and OpenMetrics
//! HELP text turn `\"`, `\\` and `\n` into `"`, `\` and a newline; text-format
//! HELP turns only `\\` and `\n`.

use std::borrow::Cow;

/// Which escape sequences a piece of text understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EscapeRules {
    /// `\"`, `\\`, `\n`: label values, quoted names, OpenMetrics HELP.
    LabelValue,
    /// `\\`, `\n`: Prometheus text-format HELP.
    TextHelp,
}

/// `text` with its escape sequences replaced; borrowed when it has none.
pub(super) fn unescape(text: &str, rules: EscapeRules) -> Cow<'_, str> {
    if !text.as_bytes().contains(&b'\\') {
        return Cow::Borrowed(text);
    }
    let mut unescaped = String::with_capacity(text.len());
    unescape_into(text, rules, &mut unescaped);
    Cow::Owned(unescaped)
}

/// Appends `text` with its escape sequences replaced to `out`.
pub(super) fn unescape_into(text: &str, rules: EscapeRules, out: &mut String) {
    let mut rest = text;
    while let Some(backslash) = rest.find('\\') {
        out.push_str(&rest[..backslash]);
        let after = &rest[backslash + 1..];
        let replacement = match after.as_bytes().first() {
            Some(b'\\') => Some('\\'),
            Some(b'n') => Some('\n'),
            Some(b'"') if rules == EscapeRules::LabelValue => Some('"'),
            _ => None,
        };
        match replacement {
            Some(character) => {
                out.push(character);
                rest = &after[1..];
            }
            None => {
                out.push('\\');
                rest = after;
            }
        }
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_the_known_sequences() {
        let cases = [
            (r#"plain"#, EscapeRules::LabelValue, "plain"),
            (r#"a\"b"#, EscapeRules::LabelValue, "a\"b"),
            (r#"a\\b"#, EscapeRules::LabelValue, "a\\b"),
            (r#"a\nb"#, EscapeRules::LabelValue, "a\nb"),
            (r#"a\tb"#, EscapeRules::LabelValue, "a\\tb"),
            (r#"\\n"#, EscapeRules::LabelValue, "\\n"),
            (r#"end\"#, EscapeRules::LabelValue, "end\\"),
            (r#"a\"b"#, EscapeRules::TextHelp, "a\\\"b"),
            (r#"a\\b\nc"#, EscapeRules::TextHelp, "a\\b\nc"),
            (r#"ü\nü"#, EscapeRules::TextHelp, "ü\nü"),
        ];
        for (input, rules, expected) in cases {
            assert_eq!(unescape(input, rules), expected, "input {input:?}");
        }
    }

    #[test]
    fn borrows_when_nothing_to_replace() {
        assert!(matches!(
            unescape("no escapes", EscapeRules::LabelValue),
            Cow::Borrowed(_)
        ));
    }
}
