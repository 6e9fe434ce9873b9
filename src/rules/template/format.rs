//! Go's number formatting (`fmt` and `strconv`), as templates print values:
//! `%v` of a float is `%g` with the shortest digits, `%.4g` trims trailing
//! zeros, exponents have at least two digits.

/// Decimal digits of a finite, non-negative float: `digits` (no trailing
/// zeros) and `point`, the position of the decimal point (Go's `dp`).
struct Decimal {
    digits: Vec<u8>,
    point: i32,
}

/// The shortest digits that read back as `value`, or `significant` digits.
fn decimal(value: f64, significant: Option<usize>) -> Decimal {
    if value == 0.0 {
        return Decimal {
            digits: Vec::new(),
            point: 0,
        };
    }
    let text = match significant {
        None => format!("{value:e}"),
        Some(count) => format!("{:.*e}", count.max(1) - 1, value),
    };
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    Decimal {
        digits,
        point: exponent + 1,
    }
}

fn format_exponential(decimal: &Decimal, precision: usize, out: &mut String) {
    out.push(decimal.digits.first().map_or('0', |d| *d as char));
    if precision > 0 {
        out.push('.');
        for index in 1..=precision {
            out.push(decimal.digits.get(index).map_or('0', |d| *d as char));
        }
    }
    let exponent = if decimal.digits.is_empty() {
        0
    } else {
        decimal.point - 1
    };
    out.push('e');
    out.push(if exponent < 0 { '-' } else { '+' });
    let magnitude = exponent.unsigned_abs();
    if magnitude < 10 {
        out.push('0');
    }
    out.push_str(&magnitude.to_string());
}

fn format_fixed(decimal: &Decimal, precision: usize, out: &mut String) {
    if decimal.point > 0 {
        for index in 0..decimal.point as usize {
            out.push(decimal.digits.get(index).map_or('0', |d| *d as char));
        }
    } else {
        out.push('0');
    }
    if precision > 0 {
        out.push('.');
        for index in 1..=precision as i32 {
            let position = decimal.point + index - 1;
            let digit = if position >= 0 {
                decimal.digits.get(position as usize).copied()
            } else {
                None
            };
            out.push(digit.map_or('0', |d| d as char));
        }
    }
}

/// Formats `value` as Go's `strconv.FormatFloat(value, verb, precision, 64)`
/// for verbs `e`, `f` and `g` (`None` precision = shortest).
pub fn go_format_float(value: f64, verb: char, precision: Option<usize>) -> String {
    if value.is_nan() {
        return "NaN".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let mut out = String::new();
    if value.is_sign_negative() {
        out.push('-');
    }
    let magnitude = value.abs();
    match verb {
        'e' => {
            let decimal = match precision {
                None => decimal(magnitude, None),
                Some(digits) => decimal(magnitude, Some(digits + 1)),
            };
            let precision = precision.unwrap_or(decimal.digits.len().saturating_sub(1));
            format_exponential(&decimal, precision, &mut out);
        }
        'f' => match precision {
            Some(digits) => out.push_str(&format!("{magnitude:.digits$}")),
            None => {
                let decimal = decimal(magnitude, None);
                let digits = (decimal.digits.len() as i32 - decimal.point).max(0) as usize;
                format_fixed(&decimal, digits, &mut out);
            }
        },
        _ => {
            let shortest = precision.is_none();
            let mut wanted = precision.unwrap_or(0).max(if shortest { 0 } else { 1 });
            let decimal = decimal(magnitude, if shortest { None } else { Some(wanted) });
            let count = decimal.digits.len();
            if shortest {
                wanted = count;
            }
            let mut exponent_precision = wanted;
            if exponent_precision > count && count as i32 >= decimal.point {
                exponent_precision = count;
            }
            if shortest {
                exponent_precision = 6;
            }
            let exponent = decimal.point - 1;
            if exponent < -4 || exponent >= exponent_precision as i32 {
                let shown = wanted.min(count).max(1);
                format_exponential(&decimal, shown - 1, &mut out);
            } else {
                let shown = if wanted as i32 > decimal.point {
                    count
                } else {
                    wanted
                };
                format_fixed(
                    &decimal,
                    (shown as i32 - decimal.point).max(0) as usize,
                    &mut out,
                );
            }
        }
    }
    out
}

/// Go's `%v` of a float64.
pub fn go_float(value: f64) -> String {
    go_format_float(value, 'g', None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_go_prints_them() {
        let cases: &[(f64, char, Option<usize>, &str)] = &[
            (0.0, 'g', None, "0"),
            (1.0, 'g', None, "1"),
            (1.5, 'g', None, "1.5"),
            (100000.0, 'g', None, "100000"),
            (1000000.0, 'g', None, "1e+06"),
            (1234567.5, 'g', None, "1.2345675e+06"),
            (0.0001, 'g', None, "0.0001"),
            (0.00001, 'g', None, "1e-05"),
            (-2.5, 'g', None, "-2.5"),
            (f64::INFINITY, 'g', None, "+Inf"),
            (f64::NAN, 'g', None, "NaN"),
            (1.5, 'g', Some(4), "1.5"),
            (1234.0, 'g', Some(4), "1234"),
            (12345.0, 'g', Some(4), "1.234e+04"),
            (100000.0, 'g', Some(4), "1e+05"),
            (0.123456, 'g', Some(4), "0.1235"),
            (3.0, 'f', Some(2), "3.00"),
            (2.0 / 3.0, 'f', Some(3), "0.667"),
            (1234.5678, 'e', Some(2), "1.23e+03"),
            (0.5, 'f', None, "0.5"),
        ];
        for (value, verb, precision, expected) in cases {
            assert_eq!(
                go_format_float(*value, *verb, *precision),
                *expected,
                "{value} {verb} {precision:?}"
            );
        }
    }
}
