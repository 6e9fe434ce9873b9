//! The functions of Prometheus's template language and Go's built-ins.

use std::collections::BTreeMap;

use super::TemplateError;
use super::exec::TemplateValue;
use super::humanize::{
    four_digits, humanize, humanize_1024, humanize_duration, humanize_timestamp,
};

/// One sample of a template query: labels and value.
pub type TemplateSample = (BTreeMap<String, String>, f64);

/// A query run from a template: expression in, samples out.
pub type TemplateQuery<'a> = &'a dyn Fn(&str) -> Result<Vec<TemplateSample>, String>;

/// What functions may use besides their arguments.
pub struct FunctionContext<'a> {
    /// `externalURL` and the links.
    pub external_url: &'a str,
    /// `query`; `None` where queries are not allowed.
    pub query: Option<TemplateQuery<'a>>,
}

fn fail<T>(message: String) -> Result<T, TemplateError> {
    Err(TemplateError::Execute(message))
}

fn arity(name: &str, arguments: &[TemplateValue], count: usize) -> Result<(), TemplateError> {
    if arguments.len() != count {
        return fail(format!(
            "wrong number of args for {name}: want {count} got {}",
            arguments.len()
        ));
    }
    Ok(())
}

/// Converts a number-like value to f64 as Prometheus's `convertToFloat`.
fn to_float(name: &str, value: &TemplateValue) -> Result<f64, TemplateError> {
    match value {
        TemplateValue::Float(value) => Ok(*value),
        TemplateValue::Integer(value) => Ok(*value as f64),
        TemplateValue::Text(text) => text
            .trim()
            .parse::<f64>()
            .or_else(|_| match text.trim() {
                "+Inf" | "Inf" | "inf" => Ok(f64::INFINITY),
                "-Inf" | "-inf" => Ok(f64::NEG_INFINITY),
                "NaN" => Ok(f64::NAN),
                _ => Err(()),
            })
            .or_else(|_| {
                fail(format!(
                    "error executing {name}: strconv.ParseFloat: parsing {text:?}: invalid syntax"
                ))
            }),
        other => fail(format!(
            "error executing {name}: can't convert {} to float",
            other.type_name()
        )),
    }
}

fn to_text(value: &TemplateValue) -> String {
    value.render()
}

fn title(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut previous_is_letter = false;
    for character in text.chars() {
        if !previous_is_letter && character.is_alphabetic() {
            out.extend(character.to_uppercase());
        } else {
            out.push(character);
        }
        previous_is_letter = character.is_alphanumeric() || character == '_' || character == '\'';
    }
    out
}

/// Go's `net.SplitHostPort`, falling back to the input.
fn strip_port(address: &str) -> String {
    if let Some(rest) = address.strip_prefix('[')
        && let Some((host, port)) = rest.split_once("]:")
        && !port.contains(':')
    {
        return host.to_string();
    }
    match address.rsplit_once(':') {
        Some((host, _)) if !host.contains(':') => host.to_string(),
        _ => address.to_string(),
    }
}

fn strip_domain(address: &str) -> String {
    let (host, port) = match address.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, Some(port)),
        _ => (address, None),
    };
    if host.parse::<std::net::IpAddr>().is_ok() {
        return address.to_string();
    }
    let short = host.split('.').next().unwrap_or(host);
    match port {
        Some(port) => format!("{short}:{port}"),
        None => short.to_string(),
    }
}

fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// The link to the expression browser's table or graph tab.
pub fn expression_link(expression: &str, tab: u8) -> String {
    format!("/graph?g0.expr={}&g0.tab={tab}", query_escape(expression))
}

fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

fn compare(
    name: &str,
    left: &TemplateValue,
    right: &TemplateValue,
) -> Result<std::cmp::Ordering, TemplateError> {
    use TemplateValue::*;
    let ordering = match (left, right) {
        (Integer(a), Integer(b)) => a.cmp(b),
        (Integer(_) | Float(_), Integer(_) | Float(_)) => {
            let a = to_float(name, left)?;
            let b = to_float(name, right)?;
            a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Less)
        }
        (Text(a), Text(b)) => a.cmp(b),
        (Boolean(a), Boolean(b)) if name == "eq" || name == "ne" => a.cmp(b),
        (Nil, Nil) if name == "eq" || name == "ne" => std::cmp::Ordering::Equal,
        _ => {
            return fail(format!(
                "error calling {name}: incompatible types for comparison: {} and {}",
                left.type_name(),
                right.type_name()
            ));
        }
    };
    Ok(ordering)
}

fn sample_labels(sample: &TemplateValue) -> Option<&BTreeMap<String, TemplateValue>> {
    match sample {
        TemplateValue::Map(map) => match map.get("Labels") {
            Some(TemplateValue::Map(labels)) => Some(labels),
            _ => None,
        },
        _ => None,
    }
}

/// Every function a template may call.
pub const FUNCTION_NAMES: &[&str] = &[
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    "toUpper",
    "toLower",
    "title",
    "safeHtml",
    "stripPort",
    "stripDomain",
    "html",
    "urlquery",
    "reReplaceAll",
    "match",
    "query",
    "first",
    "label",
    "value",
    "strvalue",
    "sortByLabel",
    "args",
    "externalURL",
    "pathPrefix",
    "graphLink",
    "tableLink",
    "parseDuration",
    "toTime",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "not",
    "and",
    "or",
    "len",
    "index",
    "print",
    "println",
    "printf",
];

/// Calls function `name` with `arguments` (the piped value last).
pub fn call_function(
    context: &FunctionContext<'_>,
    name: &str,
    arguments: Vec<TemplateValue>,
) -> Result<TemplateValue, TemplateError> {
    use TemplateValue::*;
    let text_of = |index: usize| arguments.get(index).map(to_text).unwrap_or_default();
    match name {
        "humanize" | "humanize1024" | "humanizeDuration" | "humanizePercentage"
        | "humanizeTimestamp" => {
            arity(name, &arguments, 1)?;
            let value = to_float(name, &arguments[0])?;
            Ok(Text(match name {
                "humanize" => humanize(value),
                "humanize1024" => humanize_1024(value),
                "humanizeDuration" => humanize_duration(value),
                "humanizePercentage" => format!("{}%", four_digits(value * 100.0)),
                _ => humanize_timestamp(value),
            }))
        }
        "toUpper" | "toLower" | "title" | "safeHtml" | "stripPort" | "stripDomain" | "html"
        | "urlquery" => {
            arity(name, &arguments, 1)?;
            let text = text_of(0);
            Ok(Text(match name {
                "toUpper" => text.to_uppercase(),
                "toLower" => text.to_lowercase(),
                "title" => title(&text),
                "stripPort" => strip_port(&text),
                "stripDomain" => strip_domain(&text),
                "html" => html_escape(&text),
                "urlquery" => query_escape(&text),
                _ => text,
            }))
        }
        "reReplaceAll" => {
            arity(name, &arguments, 3)?;
            // Go's ReplaceAllString is unanchored: the pattern as written.
            let pattern = regex::Regex::new(&text_of(0)).map_err(|error| {
                TemplateError::Execute(format!("error calling reReplaceAll: {error}"))
            })?;
            Ok(Text(
                pattern
                    .replace_all(&text_of(2), text_of(1).as_str())
                    .into_owned(),
            ))
        }
        "match" => {
            arity(name, &arguments, 2)?;
            let pattern = regex::Regex::new(&text_of(0))
                .map_err(|error| TemplateError::Execute(format!("error calling match: {error}")))?;
            Ok(Boolean(pattern.is_match(&text_of(1))))
        }
        "query" => {
            arity(name, &arguments, 1)?;
            let Some(query) = context.query else {
                return fail("error calling query: queries are not available here".to_string());
            };
            let samples = query(&text_of(0))
                .map_err(|error| TemplateError::Execute(format!("error calling query: {error}")))?;
            Ok(List(
                samples
                    .into_iter()
                    .map(|(labels, value)| {
                        Map(BTreeMap::from([
                            (
                                "Labels".to_string(),
                                TemplateValue::from_string_map(&labels),
                            ),
                            ("Value".to_string(), Float(value)),
                        ]))
                    })
                    .collect(),
            ))
        }
        "first" => {
            arity(name, &arguments, 1)?;
            match &arguments[0] {
                List(list) => list.first().cloned().ok_or_else(|| {
                    TemplateError::Execute(
                        "error calling first: first() called on vector with no elements"
                            .to_string(),
                    )
                }),
                other => fail(format!(
                    "error calling first: not a query result: {}",
                    other.type_name()
                )),
            }
        }
        "label" => {
            arity(name, &arguments, 2)?;
            let label = text_of(0);
            Ok(sample_labels(&arguments[1])
                .and_then(|labels| labels.get(&label).cloned())
                .unwrap_or(Text(String::new())))
        }
        "value" => {
            arity(name, &arguments, 1)?;
            match &arguments[0] {
                Map(map) => Ok(map.get("Value").cloned().unwrap_or(Nil)),
                other => fail(format!(
                    "error calling value: not a sample: {}",
                    other.type_name()
                )),
            }
        }
        "strvalue" => {
            arity(name, &arguments, 1)?;
            Ok(sample_labels(&arguments[0])
                .and_then(|labels| labels.get("__value__").cloned())
                .unwrap_or(Text(String::new())))
        }
        "sortByLabel" => {
            arity(name, &arguments, 2)?;
            let label = text_of(0);
            match &arguments[1] {
                List(list) => {
                    let mut sorted = list.clone();
                    sorted.sort_by_key(|sample| {
                        sample_labels(sample)
                            .and_then(|labels| labels.get(&label))
                            .map(to_text)
                            .unwrap_or_default()
                    });
                    Ok(List(sorted))
                }
                other => fail(format!(
                    "error calling sortByLabel: not a query result: {}",
                    other.type_name()
                )),
            }
        }
        "args" => Ok(Map(arguments
            .into_iter()
            .enumerate()
            .map(|(index, value)| (format!("arg{index}"), value))
            .collect())),
        "externalURL" => Ok(Text(context.external_url.to_string())),
        "pathPrefix" => Ok(Text(String::new())),
        "graphLink" | "tableLink" => {
            arity(name, &arguments, 1)?;
            Ok(Text(expression_link(
                &text_of(0),
                if name == "graphLink" { 0 } else { 1 },
            )))
        }
        "parseDuration" => {
            arity(name, &arguments, 1)?;
            crate::config::PromDuration::parse(&text_of(0))
                .map(|duration| Float(duration.as_duration().as_secs_f64()))
                .map_err(|error| {
                    TemplateError::Execute(format!("error calling parseDuration: {error}"))
                })
        }
        "toTime" => {
            arity(name, &arguments, 1)?;
            Ok(Text(humanize_timestamp(to_float(name, &arguments[0])?)))
        }
        "eq" => {
            if arguments.len() < 2 {
                return fail("wrong number of args for eq: want at least 2".to_string());
            }
            for other in &arguments[1..] {
                if compare(name, &arguments[0], other)? == std::cmp::Ordering::Equal {
                    return Ok(Boolean(true));
                }
            }
            Ok(Boolean(false))
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            arity(name, &arguments, 2)?;
            let ordering = compare(name, &arguments[0], &arguments[1])?;
            use std::cmp::Ordering::*;
            Ok(Boolean(match name {
                "ne" => ordering != Equal,
                "lt" => ordering == Less,
                "le" => ordering != Greater,
                "gt" => ordering == Greater,
                _ => ordering != Less,
            }))
        }
        "not" => {
            arity(name, &arguments, 1)?;
            Ok(Boolean(!arguments[0].is_true()))
        }
        "and" | "or" => {
            let is_and = name == "and";
            let mut last = Nil;
            for argument in arguments {
                let truth = argument.is_true();
                last = argument;
                if truth != is_and {
                    break;
                }
            }
            Ok(last)
        }
        "len" => {
            arity(name, &arguments, 1)?;
            match &arguments[0] {
                Text(text) => Ok(Integer(text.len() as i64)),
                Map(map) => Ok(Integer(map.len() as i64)),
                List(list) => Ok(Integer(list.len() as i64)),
                other => fail(format!(
                    "error calling len: len of type {}",
                    other.type_name()
                )),
            }
        }
        "index" => {
            let Some((first, keys)) = arguments.split_first() else {
                return fail("wrong number of args for index".to_string());
            };
            let mut current = first.clone();
            for key in keys {
                current = match (current, key) {
                    (Map(mut map), key) => map.remove(&to_text(key)).unwrap_or(Text(String::new())),
                    (List(list), Integer(position)) => usize::try_from(*position)
                        .ok()
                        .and_then(|position| list.get(position).cloned())
                        .ok_or_else(|| {
                            TemplateError::Execute(format!(
                                "error calling index: index out of range: {position}"
                            ))
                        })?,
                    (Text(text), Integer(position)) => usize::try_from(*position)
                        .ok()
                        .and_then(|position| text.as_bytes().get(position).copied())
                        .map(|byte| Integer(byte as i64))
                        .ok_or_else(|| {
                            TemplateError::Execute(format!(
                                "error calling index: index out of range: {position}"
                            ))
                        })?,
                    (Nil, _) => {
                        return fail("error calling index: index of untyped nil".to_string());
                    }
                    (other, _) => {
                        return fail(format!(
                            "error calling index: can't index item of type {}",
                            other.type_name()
                        ));
                    }
                };
            }
            Ok(current)
        }
        "print" => {
            let mut out = String::new();
            for (position, argument) in arguments.iter().enumerate() {
                let is_text = matches!(argument, Text(_));
                let previous_is_text = position > 0 && matches!(arguments[position - 1], Text(_));
                if position > 0 && !is_text && !previous_is_text {
                    out.push(' ');
                }
                out.push_str(&to_text(argument));
            }
            Ok(Text(out))
        }
        "println" => Ok(Text(
            arguments.iter().map(to_text).collect::<Vec<_>>().join(" ") + "\n",
        )),
        "printf" => {
            let Some((format, rest)) = arguments.split_first() else {
                return fail("wrong number of args for printf".to_string());
            };
            Ok(Text(super::printf::sprintf(&to_text(format), rest)))
        }
        other => fail(format!("function {other:?} not defined")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_lose_ports_and_domains() {
        assert_eq!(strip_port("host:9090"), "host");
        assert_eq!(strip_port("[::1]:9090"), "::1");
        assert_eq!(strip_port("host"), "host");
        assert_eq!(strip_domain("node.example.com:9100"), "node:9100");
        assert_eq!(strip_domain("10.0.0.1:9100"), "10.0.0.1:9100");
    }
}
