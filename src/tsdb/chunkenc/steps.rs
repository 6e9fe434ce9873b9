//! Sealed version 2's "decimal steps" value mode, for floats that are not
//! exact decimals but move in decimal steps: the sum of a histogram whose
//! observations are float durations, or a millisecond counter that an
//! exporter multiplies by 0.001 (`node_disk_read_time_seconds_total`).
//! Such values print with 16 or 17 digits, so the decimal mode cannot hold
//! them and XOR spends 40–60 bits on each.
//!
//! Each value after the first is coded as a step `k` of `10^-exponent`
//! from the previous value `u`, plus a correction `r` in units in the last
//! place: `value = bits(u + k / 10^exponent) + r`, in IEEE arithmetic,
//! which is deterministic. The steps are summed into an integer sequence
//! `S` (`S_0 = 0`) that the usual predictors and residual coder handle;
//! `r` is almost always -2..=2 and gets its own residual model. A value the
//! path cannot hold (NaN, an infinity, a step beyond 2^53 units) is an
//! exception, as in the decimal mode: its bits are stored raw, `S` does not
//! move and `u` stays the last value that was held.

use super::ChunkError;
use super::decimal::{POWERS_OF_TEN, decimal_to_float};
use super::sealed::{EXCEPTION_BITS, IntegerHistory, Predictor, ValueMode, ValuePlan};
use super::varint::{zigzag_decode, zigzag_encode};

/// The largest step exponent tried (nanoseconds in seconds).
pub(super) const MAX_STEP_EXPONENT: u8 = 9;

/// Steps beyond this many units are not held (exact in an `f64`).
const EXACT_STEP_LIMIT: f64 = (1u64 << 53) as f64;

/// The float a step of `step` units of `10^-exponent` from `base` gives,
/// before the correction.
#[inline]
fn stepped(base: f64, step: i64, exponent: u8) -> f64 {
    base + decimal_to_float(step, exponent)
}

/// The step from `base` to `value` in units of `10^-exponent`, if the path
/// can hold `value`.
#[inline]
fn step_between(base: f64, value: f64, exponent: u8) -> Option<i64> {
    let power = POWERS_OF_TEN[usize::from(exponent)];
    let scaled = ((value - base) * power).round();
    (value.is_finite() && scaled.is_finite() && scaled.abs() <= EXACT_STEP_LIMIT)
        .then_some(scaled as i64)
}

/// The sequence `S`, the corrections and the exceptions of `values` at
/// `exponent` (the first value must be finite).
struct Walk {
    integers: Vec<Option<i64>>,
    corrections: Vec<u64>,
    exceptions: Vec<(usize, u64)>,
    /// A quick size estimate: steps coded as their change from the
    /// previous step, corrections, exceptions.
    estimated_bits: f64,
}

fn walk(values: &[f64], exponent: u8) -> Walk {
    let mut walk = Walk {
        integers: Vec::with_capacity(values.len()),
        corrections: Vec::with_capacity(values.len()),
        exceptions: Vec::new(),
        estimated_bits: 0.0,
    };
    let mut running = values[0];
    let mut sum = 0i64;
    let mut last_step = 0i64;
    walk.integers.push(Some(0));
    for (index, &value) in values.iter().enumerate().skip(1) {
        match step_between(running, value, exponent) {
            Some(step) => {
                let predicted = stepped(running, step, exponent);
                let correction = (value.to_bits() as i64).wrapping_sub(predicted.to_bits() as i64);
                walk.corrections.push(zigzag_encode(correction));
                walk.estimated_bits += code_bits(zigzag_encode(correction))
                    + code_bits(zigzag_encode(step.wrapping_sub(last_step)));
                last_step = step;
                sum = sum.wrapping_add(step);
                running = value;
            }
            None => {
                walk.exceptions.push((index, value.to_bits()));
                walk.estimated_bits += EXCEPTION_BITS;
            }
        }
        walk.integers.push(Some(sum));
    }
    walk
}

/// A rough cost in bits of one zigzag code.
#[inline]
fn code_bits(code: u64) -> f64 {
    if code == 0 {
        0.5
    } else {
        f64::from(64 - code.leading_zeros()) + 2.0
    }
}

/// Decimal-steps plans of `values` with each of `predictors`, at the
/// exponent that looks cheapest; none if the first value is not finite or
/// fewer than two values are given.
pub(super) fn decimal_steps_candidates(values: &[f64], predictors: &[Predictor]) -> Vec<ValuePlan> {
    let Some(&first) = values.first() else {
        return Vec::new();
    };
    if !first.is_finite() || values.len() < 2 {
        return Vec::new();
    }
    let bits: Vec<u64> = values.iter().map(|v| v.to_bits()).collect();
    let plan_at = |walk: &Walk, exponent: u8, predictor: Predictor| {
        let mut plan = ValuePlan::from_integers(
            ValueMode::DecimalSteps,
            exponent,
            &walk.integers,
            &bits,
            predictor,
        );
        plan.first = first.to_bits();
        plan.exceptions.clone_from(&walk.exceptions);
        plan.corrections.clone_from(&walk.corrections);
        let corrections: f64 = walk.corrections.iter().map(|&code| code_bits(code)).sum();
        plan.add_estimated_bits(corrections + EXCEPTION_BITS * walk.exceptions.len() as f64);
        plan
    };
    let Some((exponent, walk)) = (0..=MAX_STEP_EXPONENT)
        .map(|exponent| (exponent, walk(values, exponent)))
        .min_by(|a, b| a.1.estimated_bits.total_cmp(&b.1.estimated_bits))
    else {
        return Vec::new();
    };
    predictors
        .iter()
        .map(|&predictor| plan_at(&walk, exponent, predictor))
        .collect()
}

/// Rebuilds decimal-steps values from their decoded codes, in sample
/// order.
pub(super) struct StepsRebuilder {
    predictor: Predictor,
    exponent: u8,
    divisor: u64,
    history: IntegerHistory,
    last_sum: i64,
    running: f64,
    exceptions: Vec<(usize, u64)>,
    next_exception: usize,
}

impl StepsRebuilder {
    /// A rebuilder whose first value has bits `first`.
    pub(super) fn new(
        predictor: Predictor,
        exponent: u8,
        divisor: u64,
        level: i64,
        first: u64,
        exceptions: Vec<(usize, u64)>,
    ) -> Result<Self, ChunkError> {
        if exponent > MAX_STEP_EXPONENT {
            return Err(ChunkError::Corrupt("sealed step exponent out of range"));
        }
        Ok(StepsRebuilder {
            predictor,
            exponent,
            divisor,
            history: IntegerHistory::new(0, level),
            last_sum: 0,
            running: f64::from_bits(first),
            exceptions,
            next_exception: 0,
        })
    }

    /// Whether sample `index` (after the first) is an exception, which
    /// carries no correction code.
    pub(super) fn is_exception(&self, index: usize) -> bool {
        self.exceptions
            .get(self.next_exception)
            .is_some_and(|&(exception_index, _)| exception_index == index)
    }

    /// The bits of sample `index` (1, 2, … in turn) from its step code and,
    /// unless it is an exception, its correction code.
    pub(super) fn value_bits(&mut self, index: usize, code: u64, correction: u64) -> u64 {
        let residual = zigzag_decode(code).wrapping_mul(self.divisor as i64);
        let sum = self.history.push(residual, self.predictor);
        let step = sum.wrapping_sub(self.last_sum);
        self.last_sum = sum;
        if self.is_exception(index) {
            let bits = self.exceptions[self.next_exception].1;
            self.next_exception += 1;
            return bits;
        }
        let predicted = stepped(self.running, step, self.exponent);
        let bits = (predicted.to_bits() as i64).wrapping_add(zigzag_decode(correction)) as u64;
        self.running = f64::from_bits(bits);
        bits
    }

    /// The first value's bits.
    pub(super) fn first_bits(&self) -> u64 {
        self.running.to_bits()
    }
}

#[cfg(test)]
mod tests {
    use super::super::columns::{decode_value_column, encode_value_column};
    use super::*;

    /// How a histogram's `_sum` grows: float durations of whole
    /// nanoseconds added one observation at a time.
    fn duration_sum(samples: usize) -> Vec<f64> {
        let mut sum = 0.0f64;
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        (0..samples)
            .map(|_| {
                for _ in 0..3 {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                    let nanoseconds = (state >> 40) % 5_000_000;
                    sum += nanoseconds as f64 / 1e9;
                }
                sum
            })
            .collect()
    }

    /// How node_exporter turns a millisecond counter into seconds.
    fn milliseconds_times_0_001(samples: usize) -> Vec<f64> {
        (0..samples as u64)
            .map(|i| (18_446_123 + i * 37 + (i * i) % 11) as f64 * 0.001)
            .collect()
    }

    fn round_trip(values: &[f64]) -> usize {
        let bytes = encode_value_column(values);
        let decoded = decode_value_column(&bytes, values.len()).expect("decodes");
        let want: Vec<u64> = values.iter().map(|v| v.to_bits()).collect();
        let got: Vec<u64> = decoded.iter().map(|v| v.to_bits()).collect();
        assert_eq!(want, got);
        bytes.len()
    }

    #[test]
    fn non_decimal_floats_in_decimal_steps_round_trip_and_beat_xor() {
        for (name, values) in [
            ("duration sum", duration_sum(480)),
            ("ms * 0.001", milliseconds_times_0_001(480)),
        ] {
            assert!(
                values.iter().any(|v| v.to_string().len() >= 17),
                "{name}: not a non-decimal data set"
            );
            let bytes = round_trip(&values);
            let header = encode_value_column(&values)[0];
            assert_eq!(header & 0b11, ValueMode::DecimalSteps as u8, "{name}");
            // XOR spends 40+ bits a value on these; steps need about the
            // step's own entropy (22 bits for the sum, 4 for the counter).
            let bits_per_value = bytes as f64 * 8.0 / values.len() as f64;
            let limit = if name == "ms * 0.001" { 8.0 } else { 30.0 };
            assert!(bits_per_value < limit, "{name}: {bits_per_value} bits");
        }
    }

    #[test]
    fn stale_markers_infinities_and_huge_jumps_inside_steps_round_trip() {
        let mut values = duration_sum(200);
        values[10] = f64::from_bits(0x7ff0_0000_0000_0002);
        values[11] = f64::from_bits(0x7ff0_0000_0000_0002);
        values[50] = f64::INFINITY;
        values[51] = -0.0;
        values[90] = 1e300;
        values[91] = -1e300;
        values[120] = f64::NAN;
        round_trip(&values);
        let header = encode_value_column(&values)[0];
        assert_eq!(header & 0b11, ValueMode::DecimalSteps as u8);
    }

    #[test]
    fn a_non_finite_first_value_leaves_the_mode_out() {
        let mut values = duration_sum(50);
        values[0] = f64::NAN;
        assert!(decimal_steps_candidates(&values, &[Predictor::Delta]).is_empty());
        round_trip(&values);
    }

    #[test]
    fn corrupt_step_exponent_is_an_error_not_a_panic() {
        let values = duration_sum(50);
        let mut bytes = encode_value_column(&values);
        assert_eq!(bytes[0] & 0b11, ValueMode::DecimalSteps as u8);
        bytes[1] = 200;
        assert!(decode_value_column(&bytes, values.len()).is_err());
    }
}
