//! Sealed version 2: a chunk split into a timestamp column and a value
//! column, so that a block can store the timestamps of every series
//! scraped together (one target) once and let each series' chunk refer to
//! them. See `docs/format/chunks.md` ("Sealed columns").
//!
//! - [`encode_timestamp_column`] / [`decode_timestamp_column`]: grid
//!   residuals of the timestamps, as in version 1.
//! - [`encode_value_column`] / [`decode_value_column`]: the values, as in
//!   version 1 plus a third predictor and residuals coded as zero flag,
//!   sign and magnitude under small contexts.
//! - [`encode_sealed_columns`]: both columns in one self-contained chunk
//!   ([`super::Encoding::SealedColumns`]).

use super::ChunkError;
use super::decimal::{MAX_DECIMAL_EXPONENT, POWERS_OF_TEN};
use super::rangecoder::{IntegerModel, Probability, RangeDecoder, RangeEncoder};
use super::sealed::{
    Predictor, SEALED_MAX_SAMPLES, TimestampGrid, ValueCoder, ValueMode, ValuePlan, ValueRebuilder,
    ValueScale, plan_timestamps, read_exceptions, value_plan_candidates,
};
use super::steps::{MAX_STEP_EXPONENT, StepsRebuilder, decimal_steps_candidates};
use super::varint::{ByteCursor, put_uvarint, put_varint, zigzag_decode};

/// The first byte of a [`super::Encoding::SealedColumns`] chunk.
pub const SEALED_COLUMNS_VERSION: u8 = 2;

/// Timestamp column flag: every residual is zero, no payload.
const TIME_FLAG_REGULAR: u8 = 1;
/// Value header bit: every residual is zero, no payload.
const VALUE_FLAG_CONSTANT: u8 = 1 << 4;
/// Adaptation of the range coder's probabilities (window `2^shift`) used
/// by both columns; stored in the top three bits of their flag byte as
/// `shift - MIN_SHIFT`.
const MIN_SHIFT: u32 = 3;
const TIME_SHIFT: u32 = 6;
/// The value encoder tries these and keeps the smallest.
const VALUE_SHIFTS: [u32; 3] = [5, 6, 7];
/// Decimal steps are tried when the best other plan is estimated at more
/// bits a value than this.
const STEPS_WORTH_TRYING_BITS: f64 = 12.0;
/// How many of the best-estimated value plans are encoded to compare.
const EXACTLY_TRIED_PLANS: usize = 3;

/// Most samples a column announces.
fn check_count(count: u64) -> Result<usize, ChunkError> {
    if count > SEALED_MAX_SAMPLES as u64 {
        return Err(ChunkError::Corrupt("sealed sample count too large"));
    }
    Ok(count as usize)
}

/// Every coded decision costs at least 0.011 bits: a count far beyond what
/// the payload can hold is corruption, not a reason to allocate.
fn check_payload(count: usize, payload: &[u8]) -> Result<(), ChunkError> {
    if count > payload.len().saturating_mul(720).saturating_add(6000) {
        return Err(ChunkError::Corrupt("sealed sample count exceeds payload"));
    }
    Ok(())
}

/// Encodes strictly increasing timestamps (at most [`SEALED_MAX_SAMPLES`]).
pub fn encode_timestamp_column(times: &[i64]) -> Vec<u8> {
    let mut output = Vec::with_capacity(16 + times.len() / 4);
    put_uvarint(&mut output, times.len() as u64);
    let Some(&first_time) = times.first() else {
        return output;
    };
    let (interval, codes) = plan_timestamps(times);
    let regular = codes.iter().all(|&code| code == 0);
    put_varint(&mut output, first_time);
    put_uvarint(&mut output, interval);
    let shift_bits = ((TIME_SHIFT - MIN_SHIFT) as u8) << 5;
    output.push(if regular { TIME_FLAG_REGULAR } else { 0 } | shift_bits);
    if regular {
        return output;
    }
    let mut encoder = RangeEncoder::precise(output, TIME_SHIFT);
    let mut model = IntegerModel::default();
    for code in codes {
        model.encode(&mut encoder, code);
    }
    encoder.finish()
}

/// The number of timestamps a column announces, without decoding it.
pub fn timestamp_column_count(bytes: &[u8]) -> Result<usize, ChunkError> {
    check_count(ByteCursor::new(bytes).uvarint()?)
}

/// Decodes a timestamp column.
pub fn decode_timestamp_column(bytes: &[u8]) -> Result<Vec<i64>, ChunkError> {
    let mut cursor = ByteCursor::new(bytes);
    let count = check_count(cursor.uvarint()?)?;
    if count == 0 {
        return Ok(Vec::new());
    }
    let first_time = cursor.varint()?;
    let interval = cursor.uvarint()?;
    let flags = cursor.byte()?;
    if flags & 0b0001_1110 != 0 {
        return Err(ChunkError::Corrupt("unknown timestamp column flags"));
    }
    let mut grid = TimestampGrid::new(first_time, interval);
    let mut times = Vec::with_capacity(count);
    times.push(first_time);
    if flags & TIME_FLAG_REGULAR != 0 {
        times.extend((1..count).map(|_| grid.restore(0)));
        return Ok(times);
    }
    let payload = cursor.rest();
    check_payload(count, payload)?;
    let shift = u32::from(flags >> 5) + MIN_SHIFT;
    let mut decoder = RangeDecoder::precise(payload, shift);
    let mut model = IntegerModel::default();
    for _ in 1..count {
        times.push(grid.restore(zigzag_decode(model.decode(&mut decoder))));
    }
    if decoder.overran() {
        return Err(ChunkError::Truncated);
    }
    Ok(times)
}

/// Encodes values (their count is the timestamp column's).
pub fn encode_value_column(values: &[f64]) -> Vec<u8> {
    if values.is_empty() {
        return Vec::new();
    }
    let predictors = [
        Predictor::Delta,
        Predictor::DeltaOfDelta,
        Predictor::Level,
        Predictor::DeltaStep,
    ];
    let mut candidates = value_plan_candidates(values, &predictors);
    candidates.sort_by(|a, b| a.estimated_bits().total_cmp(&b.estimated_bits()));
    // Decimal steps only pay where the other plans are expensive (floats
    // with 16 or 17 digits), so they are tried only there; decimals at an
    // exponent steps could use are coded as well without corrections.
    let decimal_within_steps = candidates
        .iter()
        .any(|plan| plan.mode == ValueMode::Decimal && plan.exponent <= MAX_STEP_EXPONENT);
    let expensive = candidates
        .first()
        .is_some_and(|plan| plan.estimated_bits() > STEPS_WORTH_TRYING_BITS * values.len() as f64);
    if expensive && !decimal_within_steps {
        candidates.extend(decimal_steps_candidates(values, &predictors));
        candidates.sort_by(|a, b| a.estimated_bits().total_cmp(&b.estimated_bits()));
    }
    if let Some(plan) = candidates.first()
        && plan.codes.iter().all(|&code| code == 0)
        && plan.corrections.iter().all(|&code| code == 0)
    {
        return value_column_with_shift(plan, true, MIN_SHIFT);
    }
    // The estimate is rough: the best few plans are encoded and the
    // smallest kept, then tried at the other adaptation rates.
    let Some((plan, best)) = candidates
        .iter()
        .take(EXACTLY_TRIED_PLANS)
        .map(|plan| (plan, value_column_with_shift(plan, false, VALUE_SHIFTS[1])))
        .min_by_key(|(_, bytes)| bytes.len())
    else {
        return Vec::new();
    };
    [VALUE_SHIFTS[0], VALUE_SHIFTS[2]]
        .iter()
        .map(|&shift| value_column_with_shift(plan, false, shift))
        .fold(best, |best, other| {
            if other.len() < best.len() {
                other
            } else {
                best
            }
        })
}

fn value_column_with_shift(plan: &ValuePlan, constant: bool, shift: u32) -> Vec<u8> {
    let mut output = Vec::with_capacity(32 + plan.codes.len() / 2);
    let mut header = plan.mode as u8 | (plan.predictor as u8) << 2;
    if constant {
        header |= VALUE_FLAG_CONSTANT;
    }
    header |= ((shift - MIN_SHIFT) as u8) << 5;
    output.push(header);
    match plan.mode {
        ValueMode::Decimal | ValueMode::FloatBits => {
            if plan.mode == ValueMode::Decimal {
                output.push(plan.exponent);
            }
            put_uvarint(&mut output, plan.divisor);
            put_varint(&mut output, plan.first as i64);
            if plan.predictor.stores_level() {
                put_varint(&mut output, plan.level);
            }
        }
        ValueMode::DecimalSteps => {
            output.push(plan.exponent);
            put_uvarint(&mut output, plan.divisor);
            output.extend_from_slice(&plan.first.to_le_bytes());
            if plan.predictor.stores_level() {
                put_varint(&mut output, plan.level);
            }
        }
        ValueMode::Xor => output.extend_from_slice(&plan.first.to_le_bytes()),
    }
    put_uvarint(&mut output, plan.exceptions.len() as u64);
    let mut previous_index = 0;
    for &(index, bits) in &plan.exceptions {
        put_uvarint(&mut output, (index - previous_index) as u64);
        output.extend_from_slice(&bits.to_le_bytes());
        previous_index = index;
    }
    if constant {
        return output;
    }
    let mut encoder = RangeEncoder::precise(output, shift);
    let mut coder = ColumnValueCoder::new(plan.mode);
    // Decimal steps: each sample's step code is followed by its correction
    // code unless the sample is an exception.
    let mut correction_coder = ColumnValueCoder::new(plan.mode);
    let mut corrections = plan.corrections.iter();
    let mut exceptions = plan.exceptions.iter().map(|&(index, _)| index).peekable();
    for (offset, &code) in plan.codes.iter().enumerate() {
        coder.encode(&mut encoder, code);
        if plan.mode != ValueMode::DecimalSteps {
            continue;
        }
        if exceptions.next_if_eq(&(offset + 1)).is_some() {
            continue;
        }
        if let Some(&correction) = corrections.next() {
            correction_coder.encode(&mut encoder, correction);
        }
    }
    encoder.finish()
}

/// Decodes a value column of `count` values.
pub fn decode_value_column(bytes: &[u8], count: usize) -> Result<Vec<f64>, ChunkError> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let mut cursor = ByteCursor::new(bytes);
    let header = cursor.byte()?;
    let mode = match header & 0b11 {
        0 => ValueMode::Decimal,
        1 => ValueMode::FloatBits,
        2 => ValueMode::Xor,
        _ => ValueMode::DecimalSteps,
    };
    let predictor = match (header >> 2) & 0b11 {
        0 => Predictor::Delta,
        1 => Predictor::DeltaOfDelta,
        2 => Predictor::Level,
        _ => Predictor::DeltaStep,
    };
    let constant = header & VALUE_FLAG_CONSTANT != 0;
    let shift = u32::from(header >> 5) + MIN_SHIFT;
    if mode == ValueMode::DecimalSteps {
        return decode_decimal_steps(cursor, predictor, constant, shift, count);
    }
    let (exponent, divisor, first, level) = match mode {
        ValueMode::Decimal | ValueMode::FloatBits => {
            let exponent = if mode == ValueMode::Decimal {
                cursor.byte()?
            } else {
                0
            };
            if usize::from(exponent) >= POWERS_OF_TEN.len() || exponent > MAX_DECIMAL_EXPONENT {
                return Err(ChunkError::Corrupt("sealed decimal exponent out of range"));
            }
            let divisor = cursor.uvarint()?;
            let first = cursor.varint()? as u64;
            let level = if predictor.stores_level() {
                cursor.varint()?
            } else {
                0
            };
            (exponent, divisor, first, level)
        }
        ValueMode::Xor | ValueMode::DecimalSteps => (0, 1, cursor.u64_le()?, 0),
    };
    let exceptions = read_exceptions(&mut cursor, count)?;
    let payload = cursor.rest();
    if !constant {
        check_payload(count, payload)?;
    }
    let mut decoder = RangeDecoder::precise(payload, shift);
    let mut coder = ColumnValueCoder::new(mode);
    let mut values = Vec::with_capacity(count);
    let mut rebuilder = ValueRebuilder::new(
        mode,
        predictor,
        first,
        level,
        ValueScale { exponent, divisor },
        exceptions,
    );
    for index in 0..count {
        let code = if index == 0 || constant {
            0
        } else {
            coder.decode(&mut decoder)?
        };
        let value_bits = rebuilder.value_bits(index, code);
        values.push(f64::from_bits(value_bits));
    }
    if !constant && decoder.overran() {
        return Err(ChunkError::Truncated);
    }
    Ok(values)
}

/// Decodes the rest of a decimal-steps value column (after its header
/// byte): exponent, divisor, first value, level, exceptions, then per
/// sample a step code and, unless an exception, a correction code.
fn decode_decimal_steps(
    mut cursor: ByteCursor<'_>,
    predictor: Predictor,
    constant: bool,
    shift: u32,
    count: usize,
) -> Result<Vec<f64>, ChunkError> {
    let exponent = cursor.byte()?;
    let divisor = cursor.uvarint()?;
    let first = cursor.u64_le()?;
    let level = if predictor.stores_level() {
        cursor.varint()?
    } else {
        0
    };
    let exceptions = read_exceptions(&mut cursor, count)?;
    let payload = cursor.rest();
    if !constant {
        check_payload(count, payload)?;
    }
    let mut rebuilder =
        StepsRebuilder::new(predictor, exponent, divisor, level, first, exceptions)?;
    let mut decoder = RangeDecoder::precise(payload, shift);
    let mut coder = ColumnValueCoder::new(ValueMode::DecimalSteps);
    let mut correction_coder = ColumnValueCoder::new(ValueMode::DecimalSteps);
    let mut values = Vec::with_capacity(count);
    values.push(f64::from_bits(rebuilder.first_bits()));
    for index in 1..count {
        let (code, correction) = if constant {
            (0, 0)
        } else {
            let code = coder.decode(&mut decoder)?;
            let correction = if rebuilder.is_exception(index) {
                0
            } else {
                correction_coder.decode(&mut decoder)?
            };
            (code, correction)
        };
        values.push(f64::from_bits(
            rebuilder.value_bits(index, code, correction),
        ));
    }
    if !constant && decoder.overran() {
        return Err(ChunkError::Truncated);
    }
    Ok(values)
}

/// Codes version 2 value codes: integer residuals (zigzag codes) as a zero
/// flag, a sign and a magnitude, each under the context of the previous
/// residual's class; XORs as in version 1.
enum ColumnValueCoder {
    Signed(Box<SignedResidualModel>),
    Xor(ValueCoder),
}

#[derive(Default)]
struct SignedResidualModel {
    /// The previous residual's class: 0 zero, 1 positive, 2 negative.
    previous_class: usize,
    is_zero: [Probability; 3],
    is_negative: [Probability; 3],
    magnitude: IntegerModel,
}

impl ColumnValueCoder {
    fn new(mode: ValueMode) -> Self {
        match mode {
            ValueMode::Xor => ColumnValueCoder::Xor(ValueCoder::new(ValueMode::Xor)),
            ValueMode::Decimal | ValueMode::FloatBits | ValueMode::DecimalSteps => {
                ColumnValueCoder::Signed(Box::default())
            }
        }
    }

    fn encode(&mut self, encoder: &mut RangeEncoder, code: u64) {
        match self {
            ColumnValueCoder::Xor(coder) => coder.encode(encoder, code),
            ColumnValueCoder::Signed(model) => {
                let context = model.previous_class;
                encoder.encode_bit(&mut model.is_zero[context], code != 0);
                if code == 0 {
                    model.previous_class = 0;
                    return;
                }
                // zigzag: odd codes are negative; magnitude = (code + 1) / 2.
                let negative = code & 1 == 1;
                encoder.encode_bit(&mut model.is_negative[context], negative);
                let magnitude = (code >> 1) + u64::from(negative);
                model.magnitude.encode(encoder, magnitude - 1);
                model.previous_class = 1 + usize::from(negative);
            }
        }
    }

    fn decode(&mut self, decoder: &mut RangeDecoder<'_>) -> Result<u64, ChunkError> {
        match self {
            ColumnValueCoder::Xor(coder) => coder.decode(decoder),
            ColumnValueCoder::Signed(model) => {
                let context = model.previous_class;
                if !decoder.decode_bit(&mut model.is_zero[context]) {
                    model.previous_class = 0;
                    return Ok(0);
                }
                let negative = decoder.decode_bit(&mut model.is_negative[context]);
                let magnitude = model.magnitude.decode(decoder).wrapping_add(1);
                model.previous_class = 1 + usize::from(negative);
                // Back to zigzag: positive m -> 2m, negative m -> 2m - 1.
                Ok(magnitude.wrapping_shl(1).wrapping_sub(u64::from(negative)))
            }
        }
    }
}

/// Encodes samples into one self-contained [`super::Encoding::SealedColumns`]
/// chunk: version, the timestamp column's length and bytes, the value
/// column.
///
/// # Panics
///
/// If `samples` holds more than [`SEALED_MAX_SAMPLES`] samples.
pub fn encode_sealed_columns(samples: &[(i64, f64)]) -> (super::Encoding, Vec<u8>) {
    assert!(
        samples.len() <= SEALED_MAX_SAMPLES,
        "too many samples for one sealed chunk"
    );
    let times: Vec<i64> = samples.iter().map(|s| s.0).collect();
    let values: Vec<f64> = samples.iter().map(|s| s.1).collect();
    let time_column = encode_timestamp_column(&times);
    let value_column = encode_value_column(&values);
    (
        super::Encoding::SealedColumns,
        join_columns(&time_column, &value_column),
    )
}

/// A [`super::Encoding::SealedColumns`] chunk from its two columns.
pub fn join_columns(time_column: &[u8], value_column: &[u8]) -> Vec<u8> {
    let mut output = Vec::with_capacity(6 + time_column.len() + value_column.len());
    output.push(SEALED_COLUMNS_VERSION);
    put_uvarint(&mut output, time_column.len() as u64);
    output.extend_from_slice(time_column);
    output.extend_from_slice(value_column);
    output
}

/// The timestamp and value columns of a joined chunk.
fn split_columns(bytes: &[u8]) -> Result<(&[u8], &[u8]), ChunkError> {
    let mut cursor = ByteCursor::new(bytes);
    if cursor.byte()? != SEALED_COLUMNS_VERSION {
        return Err(ChunkError::Corrupt("unknown sealed columns version"));
    }
    let length = cursor.uvarint()?;
    let rest = cursor.rest();
    if length > rest.len() as u64 {
        return Err(ChunkError::Truncated);
    }
    Ok(rest.split_at(length as usize))
}

/// The sample count a joined chunk announces.
pub(crate) fn sealed_columns_sample_count(bytes: &[u8]) -> Result<usize, ChunkError> {
    let (time_column, _) = split_columns(bytes)?;
    timestamp_column_count(time_column)
}

/// Decodes a whole joined chunk.
pub(crate) fn decode_sealed_columns(bytes: &[u8]) -> Result<Vec<(i64, f64)>, ChunkError> {
    let (time_column, value_column) = split_columns(bytes)?;
    let times = decode_timestamp_column(time_column)?;
    let values = decode_value_column(value_column, times.len())?;
    Ok(times.into_iter().zip(values).collect())
}

#[cfg(test)]
mod tests;
