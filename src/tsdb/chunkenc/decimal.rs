//! Finding decimal values: a float `v` is "decimal with exponent k" when an
//! integer `m` with `|m| <= 2^53` gives back exactly `v`'s bits as
//! `m as f64 / 10^k`. Both operands are exact and IEEE division rounds
//! correctly, so decoding is one division and bit-exact by construction.

/// Powers of ten that are exact in an `f64` (up to 10^22).
pub(crate) const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The largest decimal exponent tried.
pub(crate) const MAX_DECIMAL_EXPONENT: u8 = 18;

/// Integers up to this magnitude convert to `f64` exactly.
const EXACT_INTEGER_LIMIT: f64 = (1u64 << 53) as f64;

/// The value a decimal integer stands for.
#[inline]
pub(crate) fn decimal_to_float(mantissa: i64, exponent: u8) -> f64 {
    let power = POWERS_OF_TEN
        .get(usize::from(exponent))
        .copied()
        .unwrap_or(1.0);
    mantissa as f64 / power
}

/// `v` as an integer at `exponent`, if that reproduces `v` bit-exactly.
#[inline]
pub(crate) fn float_to_decimal(value: f64, exponent: u8) -> Option<i64> {
    let power = *POWERS_OF_TEN.get(usize::from(exponent))?;
    let scaled = (value * power).round();
    // NaN and the infinities fail this test too.
    if scaled.is_nan() || scaled.abs() > EXACT_INTEGER_LIMIT {
        return None;
    }
    let mantissa = scaled as i64;
    (decimal_to_float(mantissa, exponent).to_bits() == value.to_bits()).then_some(mantissa)
}

/// The smallest exponent at which `v` is decimal, if any.
pub(crate) fn smallest_decimal_exponent(value: f64) -> Option<u8> {
    (0..=MAX_DECIMAL_EXPONENT).find(|&exponent| float_to_decimal(value, exponent).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_exponents_are_the_smallest_exact_ones() {
        let cases: &[(f64, Option<u8>)] = &[
            (0.0, Some(0)),
            (-0.0, None), // the sign of zero is not kept by an integer
            (42.0, Some(0)),
            (0.1, Some(1)),
            (0.29, Some(2)),
            (12345.67, Some(2)),
            (-3.125, Some(3)),
            (1.7e9 + 0.000_123_456_7, None), // too many digits for 2^53
            (18014398509481988.0, None),     // above 2^53
            (f64::NAN, None),
            (f64::INFINITY, None),
            (1e-5, Some(5)),
            (f64::MIN_POSITIVE, None),
        ];
        for &(value, expected) in cases {
            assert_eq!(smallest_decimal_exponent(value), expected, "{value:e}");
            if let Some(exponent) = expected {
                let mantissa = float_to_decimal(value, exponent).expect("decimal");
                assert_eq!(
                    decimal_to_float(mantissa, exponent).to_bits(),
                    value.to_bits()
                );
            }
        }
    }
}
