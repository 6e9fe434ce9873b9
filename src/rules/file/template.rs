//! A structural check of the Go templates used in alert labels and
//! annotations: what promtool's template parsing rejects most often.

use std::collections::HashSet;

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
