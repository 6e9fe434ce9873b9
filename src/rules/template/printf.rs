//! Go's `fmt.Sprintf` for the verbs templates use: `%v %s %d %f %e %g %q
//! %x %X %t %%`, with flags, width and precision.

use super::exec::TemplateValue;
use super::format::go_format_float;

struct Spec {
    minus: bool,
    plus: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

/// The largest width or precision honoured.
const MAX_WIDTH: usize = 10_000;

/// Formats `arguments` by `format` as Go's `fmt.Sprintf`.
pub fn sprintf(format: &str, arguments: &[TemplateValue]) -> String {
    let mut out = String::new();
    let characters: Vec<char> = format.chars().collect();
    let mut index = 0;
    let mut next_argument = 0;
    while index < characters.len() {
        let character = characters[index];
        index += 1;
        if character != '%' {
            out.push(character);
            continue;
        }
        let mut spec = Spec {
            minus: false,
            plus: false,
            zero: false,
            space: false,
            width: None,
            precision: None,
        };
        while let Some(flag) = characters.get(index) {
            match flag {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                '#' => {}
                _ => break,
            }
            index += 1;
        }
        // Go caps both at 1e6; a smaller cap keeps a hostile template cheap.
        spec.width = take_number(&characters, &mut index).map(|width| width.min(MAX_WIDTH));
        if characters.get(index) == Some(&'.') {
            index += 1;
            spec.precision = Some(
                take_number(&characters, &mut index)
                    .unwrap_or(0)
                    .min(MAX_WIDTH),
            );
        }
        let Some(&verb) = characters.get(index) else {
            out.push_str("%!(NOVERB)");
            break;
        };
        index += 1;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(argument) = arguments.get(next_argument) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next_argument += 1;
        let body = format_one(verb, &spec, argument);
        pad(
            &mut out,
            body,
            &spec,
            matches!(
                argument,
                TemplateValue::Integer(_) | TemplateValue::Float(_)
            ),
        );
    }
    if next_argument < arguments.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = arguments[next_argument..]
            .iter()
            .map(|argument| format!("{}={}", argument.type_name(), argument.render()))
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

fn take_number(characters: &[char], index: &mut usize) -> Option<usize> {
    let begin = *index;
    while characters.get(*index).is_some_and(char::is_ascii_digit) {
        *index += 1;
    }
    (begin < *index).then(|| {
        characters[begin..*index]
            .iter()
            .collect::<String>()
            .parse()
            .unwrap_or(usize::MAX)
    })
}

fn signed(text: String, spec: &Spec) -> String {
    if text.starts_with('-') {
        text
    } else if spec.plus {
        format!("+{text}")
    } else if spec.space {
        format!(" {text}")
    } else {
        text
    }
}

fn format_one(verb: char, spec: &Spec, argument: &TemplateValue) -> String {
    use TemplateValue::*;
    match (verb, argument) {
        ('v', Float(value)) | ('g', Float(value)) => {
            signed(go_format_float(*value, 'g', spec.precision), spec)
        }
        ('f' | 'F', Float(value)) => signed(
            go_format_float(*value, 'f', Some(spec.precision.unwrap_or(6))),
            spec,
        ),
        ('e', Float(value)) => signed(
            go_format_float(*value, 'e', Some(spec.precision.unwrap_or(6))),
            spec,
        ),
        ('f' | 'F' | 'e' | 'g', Integer(value)) => format!("%!{verb}(int={value})"),
        ('d' | 'v', Integer(value)) => signed(value.to_string(), spec),
        ('x', Integer(value)) => format!("{value:x}"),
        ('X', Integer(value)) => format!("{value:X}"),
        ('x', Text(text)) => text.bytes().map(|byte| format!("{byte:02x}")).collect(),
        ('X', Text(text)) => text.bytes().map(|byte| format!("{byte:02X}")).collect(),
        ('s' | 'v', Text(text)) => match spec.precision {
            Some(limit) => text.chars().take(limit).collect(),
            None => text.clone(),
        },
        ('q', Text(text)) => format!("{text:?}"),
        ('t' | 'v', Boolean(value)) => value.to_string(),
        ('s' | 'v', other) => other.render(),
        (verb, other) => format!("%!{verb}({}={})", other.type_name(), other.render()),
    }
}

fn pad(out: &mut String, body: String, spec: &Spec, numeric: bool) {
    let length = body.chars().count();
    let Some(width) = spec.width.filter(|width| *width > length) else {
        out.push_str(&body);
        return;
    };
    let fill = width - length;
    if spec.minus {
        out.push_str(&body);
        out.extend(std::iter::repeat_n(' ', fill));
    } else if spec.zero && numeric {
        let (sign, digits) = match body.chars().next() {
            Some(sign @ ('-' | '+' | ' ')) => (Some(sign), &body[1..]),
            _ => (None, body.as_str()),
        };
        if let Some(sign) = sign {
            out.push(sign);
        }
        out.extend(std::iter::repeat_n('0', fill));
        out.push_str(digits);
    } else {
        out.extend(std::iter::repeat_n(' ', fill));
        out.push_str(&body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TemplateValue::*;

    #[test]
    fn verbs_format_as_go() {
        let cases: Vec<(&str, Vec<TemplateValue>, &str)> = vec![
            ("%.2f", vec![Float(1.23456)], "1.23"),
            ("%d%%", vec![Integer(42)], "42%"),
            ("%s is %v", vec![Text("x".into()), Float(1e6)], "x is 1e+06"),
            ("%5.1f|", vec![Float(2.25)], "  2.2|"),
            ("%-4d|", vec![Integer(7)], "7   |"),
            ("%05d", vec![Integer(-42)], "-0042"),
            ("%q", vec![Text("a\"b".into())], "\"a\\\"b\""),
            ("%d", vec![Float(1.5)], "%!d(float64=1.5)"),
            ("%s", vec![], "%!s(MISSING)"),
            ("%g", vec![Float(0.000012)], "1.2e-05"),
            ("%.3g", vec![Float(1234.0)], "1.23e+03"),
        ];
        for (format, arguments, expected) in cases {
            assert_eq!(sprintf(format, &arguments), expected, "{format}");
        }
    }

    #[test]
    fn huge_widths_are_capped() {
        let padded = sprintf("%999999999999999999999d", &[Integer(1)]);
        assert_eq!(padded.len(), MAX_WIDTH);
        assert!(padded.ends_with(" 1"));
        assert_eq!(sprintf("%.99999999f", &[Float(1.0)]).len(), MAX_WIDTH + 2);
    }
}
