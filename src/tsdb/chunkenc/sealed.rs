//! The sealed encoding: how the block writer stores a series' samples once
//! they are immutable. Timestamps are coded as residuals against a grid
//! that advances by the series' nominal interval; values become decimal
//! integers when that is exact (else their raw bits, or an XOR), are
//! predicted by delta or delta-of-delta, divided by the residuals' common
//! divisor, and every residual goes through an adaptive binary range coder.
//! See `docs/format/chunks.md` for the byte layout.

use super::ChunkError;
use super::decimal::{
    MAX_DECIMAL_EXPONENT, POWERS_OF_TEN, decimal_to_float, float_to_decimal,
    smallest_decimal_exponent,
};
use super::rangecoder::{BitTree, IntegerModel, Probability, RangeDecoder, RangeEncoder};
use super::varint::{ByteCursor, put_uvarint, put_varint, zigzag_decode, zigzag_encode};

/// The first byte of every sealed chunk.
pub const SEALED_FORMAT_VERSION: u8 = 1;

/// The most samples one sealed chunk may hold (about two years at 15 s).
pub const SEALED_MAX_SAMPLES: usize = 1 << 22;

/// Every timestamp residual is zero: the timestamp stream is omitted.
const FLAG_REGULAR_TIMESTAMPS: u8 = 1;
/// Every value residual is zero: the value stream is omitted.
const FLAG_CONSTANT_RESIDUALS: u8 = 2;

/// How values are turned into integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum ValueMode {
    /// `m / 10^exponent`, exceptions stored raw.
    Decimal = 0,
    /// The float's raw bits as an integer (wrapping arithmetic).
    FloatBits = 1,
    /// Gorilla-style XOR of consecutive values' bits.
    Xor = 2,
    /// Decimal steps between floats plus a correction in units in the
    /// last place (`super::steps`). Sealed version 2 only.
    DecimalSteps = 3,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Predictor {
    Delta = 0,
    DeltaOfDelta = 1,
    /// Every integer is predicted to be a level stored in the header, the
    /// chunk's median (noise around a level: durations, offsets). Sealed
    /// version 2 only.
    Level = 2,
    /// The previous integer plus a step stored in the header, the chunk's
    /// median difference (counters: the residual is the increment's
    /// deviation, centred on zero). Sealed version 2 only.
    DeltaStep = 3,
}

impl Predictor {
    /// Whether a value column header stores this predictor's level (or
    /// step) after the first value.
    pub(super) fn stores_level(self) -> bool {
        matches!(self, Predictor::Level | Predictor::DeltaStep)
    }
}

/// How one chunk's values will be written.
pub(super) struct ValuePlan {
    pub(super) mode: ValueMode,
    pub(super) predictor: Predictor,
    pub(super) exponent: u8,
    pub(super) divisor: u64,
    /// The first integer (or the first value's bits in XOR mode).
    pub(super) first: u64,
    /// The level [`Predictor::Level`] predicts, or the step of
    /// [`Predictor::DeltaStep`] (0 for other predictors).
    pub(super) level: i64,
    /// Sample index and raw bits of values the integer path cannot hold.
    pub(super) exceptions: Vec<(usize, u64)>,
    /// One code per sample after the first: zigzag residuals divided by
    /// `divisor`, or the XOR with the previous value's bits.
    pub(super) codes: Vec<u64>,
    /// [`ValueMode::DecimalSteps`] only: one zigzag correction per sample
    /// after the first that is not an exception.
    pub(super) corrections: Vec<u64>,
    estimated_bits: f64,
}

/// Encodes samples (timestamps strictly increasing) into the sealed
/// encoding. Any number of samples up to [`SEALED_MAX_SAMPLES`] fits one
/// chunk; the block writer is expected to write one per series per block
/// (about 480 samples for 2 h at 15 s).
///
/// # Panics
///
/// If `samples` holds more than [`SEALED_MAX_SAMPLES`] samples.
pub fn encode_sealed(samples: &[(i64, f64)]) -> (super::Encoding, Vec<u8>) {
    assert!(
        samples.len() <= SEALED_MAX_SAMPLES,
        "too many samples for one sealed chunk"
    );
    let mut output = Vec::with_capacity(32 + samples.len() / 2);
    output.push(SEALED_FORMAT_VERSION);
    put_uvarint(&mut output, samples.len() as u64);
    let Some(&(first_time, _)) = samples.first() else {
        return (super::Encoding::Sealed, output);
    };
    let times: Vec<i64> = samples.iter().map(|s| s.0).collect();
    let values: Vec<f64> = samples.iter().map(|s| s.1).collect();
    let (interval, time_codes) = plan_timestamps(&times);
    let values = plan_values(&values, &[Predictor::Delta, Predictor::DeltaOfDelta]);
    let regular_timestamps = time_codes.iter().all(|&code| code == 0);
    let constant_residuals = values.codes.iter().all(|&code| code == 0);

    put_varint(&mut output, first_time);
    put_uvarint(&mut output, interval);
    let mut flags = 0;
    if regular_timestamps {
        flags |= FLAG_REGULAR_TIMESTAMPS;
    }
    if constant_residuals {
        flags |= FLAG_CONSTANT_RESIDUALS;
    }
    output.push(flags);
    output.push(values.mode as u8);
    // Version 1 plans never use decimal steps; if one did, its mode byte
    // (3) would make the decoder refuse the chunk.
    match values.mode {
        ValueMode::Decimal | ValueMode::FloatBits | ValueMode::DecimalSteps => {
            output.push(values.predictor as u8);
            if values.mode == ValueMode::Decimal {
                output.push(values.exponent);
            }
            put_uvarint(&mut output, values.divisor);
            put_varint(&mut output, values.first as i64);
        }
        ValueMode::Xor => output.extend_from_slice(&values.first.to_le_bytes()),
    }
    put_uvarint(&mut output, values.exceptions.len() as u64);
    let mut previous_index = 0;
    for &(index, bits) in &values.exceptions {
        put_uvarint(&mut output, (index - previous_index) as u64);
        output.extend_from_slice(&bits.to_le_bytes());
        previous_index = index;
    }
    if regular_timestamps && constant_residuals {
        return (super::Encoding::Sealed, output);
    }

    let mut encoder = RangeEncoder::new(output);
    let mut time_model = IntegerModel::default();
    let mut value_coder = ValueCoder::new(values.mode);
    for (&time_code, &value_code) in time_codes.iter().zip(&values.codes) {
        if !regular_timestamps {
            time_model.encode(&mut encoder, time_code);
        }
        if !constant_residuals {
            value_coder.encode(&mut encoder, value_code);
        }
    }
    (super::Encoding::Sealed, encoder.finish())
}

/// The interval of the grid, and per sample after the first the zigzag
/// residual against it. The interval is the candidate near the median delta
/// (or the mean) whose residuals cost least: an interval off by one
/// millisecond would make residuals drift by a millisecond per sample.
pub(super) fn plan_timestamps(times: &[i64]) -> (u64, Vec<u64>) {
    let mut deltas: Vec<u64> = times
        .windows(2)
        .map(|pair| (pair[1] as u64).wrapping_sub(pair[0] as u64))
        .collect();
    if deltas.is_empty() {
        return (0, Vec::new());
    }
    let middle = deltas.len() / 2;
    let median = *deltas.select_nth_unstable(middle).1;
    let span = (times[times.len() - 1] as u64).wrapping_sub(times[0] as u64);
    let mean = span / deltas.len() as u64;
    let mut candidates = vec![median, mean];
    for offset in 1..=2 {
        candidates.push(median.saturating_add(offset));
        candidates.push(median.saturating_sub(offset));
    }
    candidates.sort_unstable();
    candidates.dedup();
    let mut best: Option<(f64, u64, Vec<u64>)> = None;
    for interval in candidates {
        let codes = timestamp_codes(times, interval);
        let cost: f64 = codes.iter().map(|&code| estimated_code_bits(code)).sum();
        if best
            .as_ref()
            .is_none_or(|(best_cost, ..)| cost < *best_cost)
        {
            best = Some((cost, interval, codes));
        }
    }
    best.map(|(_, interval, codes)| (interval, codes))
        .unwrap_or((0, Vec::new()))
}

fn timestamp_codes(times: &[i64], interval: u64) -> Vec<u64> {
    let mut grid = TimestampGrid::new(times[0], interval);
    times[1..]
        .iter()
        .map(|&t| zigzag_encode(grid.advance(t)))
        .collect()
}

/// The grid timestamps are predicted from: each sample is expected one
/// interval after the previous grid point; a residual of more than half an
/// interval (a missed scrape, a restart) moves the grid to the sample.
pub(super) struct TimestampGrid {
    grid: i64,
    interval: u64,
}

impl TimestampGrid {
    pub(super) fn new(first_time: i64, interval: u64) -> Self {
        TimestampGrid {
            grid: first_time,
            interval,
        }
    }

    fn expected(&self) -> i64 {
        (self.grid as u64).wrapping_add(self.interval) as i64
    }

    /// Records timestamp `t` and returns its residual.
    fn advance(&mut self, t: i64) -> i64 {
        let expected = self.expected();
        let residual = t.wrapping_sub(expected);
        self.settle(t, expected, residual);
        residual
    }

    /// Reconstructs a timestamp from its residual.
    pub(super) fn restore(&mut self, residual: i64) -> i64 {
        let expected = self.expected();
        let t = expected.wrapping_add(residual);
        self.settle(t, expected, residual);
        t
    }

    fn settle(&mut self, t: i64, expected: i64, residual: i64) {
        self.grid = if residual.unsigned_abs() <= self.interval / 2 {
            expected
        } else {
            t
        };
    }
}

/// The smallest plan among XOR and the integer paths with each of
/// `predictors`.
pub(super) fn plan_values(values: &[f64], predictors: &[Predictor]) -> ValuePlan {
    let mut candidates = value_plan_candidates(values, predictors);
    // Stable: among equal estimates the first candidate wins, as before.
    let best = candidates
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.estimated_bits.total_cmp(&b.1.estimated_bits))
        .map_or(0, |(index, _)| index);
    candidates.swap_remove(best)
}

/// Every plan: XOR, then float bits and (if the values are decimals)
/// decimal integers with each of `predictors`, in that order.
pub(super) fn value_plan_candidates(values: &[f64], predictors: &[Predictor]) -> Vec<ValuePlan> {
    let bits: Vec<u64> = values.iter().map(|v| v.to_bits()).collect();
    let mut candidates = vec![plan_xor(&bits)];
    let raw_integers: Vec<Option<i64>> = bits.iter().map(|&b| Some(b as i64)).collect();
    for &predictor in predictors {
        candidates.push(plan_integers(
            ValueMode::FloatBits,
            0,
            &raw_integers,
            &bits,
            predictor,
        ));
    }
    if let Some(exponent) = choose_decimal_exponent(values) {
        let integers: Vec<Option<i64>> = values
            .iter()
            .map(|&v| float_to_decimal(v, exponent))
            .collect();
        for &predictor in predictors {
            candidates.push(plan_integers(
                ValueMode::Decimal,
                exponent,
                &integers,
                &bits,
                predictor,
            ));
        }
    }
    candidates
}

impl ValuePlan {
    /// The encoder's rough estimate of this plan's size, in bits.
    pub(super) fn estimated_bits(&self) -> f64 {
        self.estimated_bits
    }

    /// Adds `bits` to the estimate (for parts a mode codes beside the
    /// integer residuals).
    pub(super) fn add_estimated_bits(&mut self, bits: f64) {
        self.estimated_bits += bits;
    }

    /// The plan of an integer path (`integers[i]` is `None` where a value
    /// is an exception; `bits` are the values' bits) with `predictor`.
    pub(super) fn from_integers(
        mode: ValueMode,
        exponent: u8,
        integers: &[Option<i64>],
        bits: &[u64],
        predictor: Predictor,
    ) -> ValuePlan {
        plan_integers(mode, exponent, integers, bits, predictor)
    }
}

/// The smallest exponent that leaves at most 1/64 of the values (at least
/// one) as exceptions, if any.
fn choose_decimal_exponent(values: &[f64]) -> Option<u8> {
    let allowed_exceptions = (values.len() / 64).max(1);
    let mut exponents: Vec<u8> = Vec::with_capacity(values.len());
    let mut not_decimal = 0;
    for &value in values {
        match smallest_decimal_exponent(value) {
            Some(exponent) => exponents.push(exponent),
            None => not_decimal += 1,
        }
    }
    if exponents.is_empty() || not_decimal > allowed_exceptions {
        return None;
    }
    exponents.sort_unstable();
    let spare = allowed_exceptions - not_decimal;
    let index = exponents.len().saturating_sub(1 + spare);
    exponents.get(index).copied()
}

/// A rough cost in bits of coding `code`, to choose between plans.
fn estimated_code_bits(code: u64) -> f64 {
    if code == 0 {
        0.3
    } else {
        f64::from(64 - code.leading_zeros()) + 2.0
    }
}

/// What the plan estimates count for one exception.
pub(super) const EXCEPTION_BITS: f64 = 80.0;

fn plan_integers(
    mode: ValueMode,
    exponent: u8,
    integers: &[Option<i64>],
    bits: &[u64],
    predictor: Predictor,
) -> ValuePlan {
    let level = match predictor {
        Predictor::Level => median(integers.iter().flatten().copied().collect()),
        Predictor::DeltaStep => median(
            integers
                .windows(2)
                .filter_map(|pair| Some(pair[1]?.wrapping_sub(pair[0]?)))
                .collect(),
        ),
        Predictor::Delta | Predictor::DeltaOfDelta => 0,
    };
    let mut exceptions = Vec::new();
    let mut filled = Vec::with_capacity(integers.len());
    let mut residuals = Vec::with_capacity(integers.len());
    for (index, integer) in integers.iter().enumerate() {
        let prediction = predict(&filled, predictor, level);
        let value = match integer {
            Some(value) => *value,
            None => {
                exceptions.push((index, bits[index]));
                prediction
            }
        };
        if index > 0 {
            residuals.push(value.wrapping_sub(prediction));
        }
        filled.push(value);
    }
    let divisor = if matches!(mode, ValueMode::Decimal | ValueMode::DecimalSteps) {
        residuals
            .iter()
            .fold(0u64, |divisor, &r| {
                greatest_common_divisor(divisor, r.unsigned_abs())
            })
            .max(1)
    } else {
        1
    };
    let codes: Vec<u64> = residuals
        .iter()
        .map(|&r| zigzag_encode(r / divisor as i64))
        .collect();
    let estimated_bits = codes.iter().map(|&c| estimated_code_bits(c)).sum::<f64>()
        + EXCEPTION_BITS * exceptions.len() as f64;
    ValuePlan {
        mode,
        predictor,
        exponent,
        divisor,
        first: filled.first().copied().unwrap_or(0) as u64,
        level,
        exceptions,
        codes,
        corrections: Vec::new(),
        estimated_bits,
    }
}

/// The median of `values` (the upper one of an even count; 0 if empty).
fn median(mut values: Vec<i64>) -> i64 {
    let middle = values.len() / 2;
    if middle < values.len() {
        values.select_nth_unstable(middle);
    }
    values.get(middle).copied().unwrap_or(0)
}

/// The next integer a predictor expects after `previous`.
#[inline]
fn predict(previous: &[i64], predictor: Predictor, level: i64) -> i64 {
    match (predictor, previous) {
        (_, []) => 0,
        (Predictor::Delta, [.., last]) | (Predictor::DeltaOfDelta, [last]) => *last,
        (Predictor::DeltaOfDelta, [.., before, last]) => {
            last.wrapping_add(last.wrapping_sub(*before))
        }
        (Predictor::Level, _) => level,
        (Predictor::DeltaStep, [.., last]) => last.wrapping_add(level),
    }
}

fn greatest_common_divisor(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn plan_xor(bits: &[u64]) -> ValuePlan {
    let codes: Vec<u64> = bits.windows(2).map(|pair| pair[0] ^ pair[1]).collect();
    let estimated_bits = codes
        .iter()
        .map(|&xor| {
            if xor == 0 {
                0.3
            } else {
                f64::from(64 - xor.leading_zeros() - xor.trailing_zeros()) + 8.0
            }
        })
        .sum();
    ValuePlan {
        mode: ValueMode::Xor,
        predictor: Predictor::Delta,
        exponent: 0,
        divisor: 1,
        first: bits.first().copied().unwrap_or(0),
        level: 0,
        exceptions: Vec::new(),
        codes,
        corrections: Vec::new(),
        estimated_bits,
    }
}

/// Codes value codes: integers through [`IntegerModel`], XORs through
/// leading-zero and width trees plus direct bits.
pub(super) enum ValueCoder {
    Integer(Box<IntegerModel>),
    Xor(Box<XorModel>),
}

#[derive(Default)]
pub(super) struct XorModel {
    is_same: [Probability; 2],
    previous_was_same: bool,
    leading_zeros: BitTree<64>,
    significant_bits: BitTree<64>,
}

impl ValueCoder {
    pub(super) fn new(mode: ValueMode) -> Self {
        match mode {
            ValueMode::Xor => ValueCoder::Xor(Box::default()),
            ValueMode::Decimal | ValueMode::FloatBits | ValueMode::DecimalSteps => {
                ValueCoder::Integer(Box::default())
            }
        }
    }

    pub(super) fn encode(&mut self, encoder: &mut RangeEncoder, code: u64) {
        match self {
            ValueCoder::Integer(model) => model.encode(encoder, code),
            ValueCoder::Xor(model) => {
                let context = usize::from(model.previous_was_same);
                model.previous_was_same = code == 0;
                encoder.encode_bit(&mut model.is_same[context], code != 0);
                if code == 0 {
                    return;
                }
                let leading = code.leading_zeros();
                let trailing = code.trailing_zeros();
                let significant = 64 - leading - trailing;
                model.leading_zeros.encode(encoder, leading);
                model.significant_bits.encode(encoder, significant - 1);
                if significant > 2 {
                    let middle = (code >> (trailing + 1)) & ((1u64 << (significant - 2)) - 1);
                    encoder.encode_direct_bits(middle, significant - 2);
                }
            }
        }
    }

    pub(super) fn decode(&mut self, decoder: &mut RangeDecoder<'_>) -> Result<u64, ChunkError> {
        match self {
            ValueCoder::Integer(model) => Ok(model.decode(decoder)),
            ValueCoder::Xor(model) => {
                let context = usize::from(model.previous_was_same);
                let differs = decoder.decode_bit(&mut model.is_same[context]);
                model.previous_was_same = !differs;
                if !differs {
                    return Ok(0);
                }
                let leading = model.leading_zeros.decode(decoder);
                let significant = model.significant_bits.decode(decoder) + 1;
                let Some(trailing) = 64u32.checked_sub(leading + significant) else {
                    return Err(ChunkError::Corrupt("sealed xor wider than 64 bits"));
                };
                let mut code = (1u64 << trailing) | (1u64 << (63 - leading));
                if significant > 2 {
                    code |= decoder.decode_direct_bits(significant - 2) << (trailing + 1);
                }
                Ok(code)
            }
        }
    }
}

/// The sample count a sealed chunk's header announces.
pub(crate) fn sealed_sample_count(bytes: &[u8]) -> Result<usize, ChunkError> {
    let mut cursor = ByteCursor::new(bytes);
    let version = cursor.byte()?;
    if version != SEALED_FORMAT_VERSION {
        return Err(ChunkError::Corrupt("unknown sealed format version"));
    }
    let count = cursor.uvarint()?;
    if count > SEALED_MAX_SAMPLES as u64 {
        return Err(ChunkError::Corrupt("sealed sample count too large"));
    }
    Ok(count as usize)
}

/// Decodes a whole sealed chunk.
pub(crate) fn decode_sealed(bytes: &[u8]) -> Result<Vec<(i64, f64)>, ChunkError> {
    let count = sealed_sample_count(bytes)?;
    let mut cursor = ByteCursor::new(bytes);
    cursor.byte()?;
    cursor.uvarint()?;
    if count == 0 {
        return Ok(Vec::new());
    }
    let first_time = cursor.varint()?;
    let interval = cursor.uvarint()?;
    let flags = cursor.byte()?;
    if flags & !(FLAG_REGULAR_TIMESTAMPS | FLAG_CONSTANT_RESIDUALS) != 0 {
        return Err(ChunkError::Corrupt("unknown sealed flags"));
    }
    let regular_timestamps = flags & FLAG_REGULAR_TIMESTAMPS != 0;
    let constant_residuals = flags & FLAG_CONSTANT_RESIDUALS != 0;
    let mode = match cursor.byte()? {
        0 => ValueMode::Decimal,
        1 => ValueMode::FloatBits,
        2 => ValueMode::Xor,
        _ => return Err(ChunkError::Corrupt("unknown sealed value mode")),
    };
    let (predictor, exponent, divisor, first) = match mode {
        ValueMode::Decimal | ValueMode::FloatBits | ValueMode::DecimalSteps => {
            let predictor = match cursor.byte()? {
                0 => Predictor::Delta,
                1 => Predictor::DeltaOfDelta,
                _ => return Err(ChunkError::Corrupt("unknown sealed predictor")),
            };
            let exponent = if mode == ValueMode::Decimal {
                cursor.byte()?
            } else {
                0
            };
            if usize::from(exponent) >= POWERS_OF_TEN.len() || exponent > MAX_DECIMAL_EXPONENT {
                return Err(ChunkError::Corrupt("sealed decimal exponent out of range"));
            }
            let divisor = cursor.uvarint()?;
            (predictor, exponent, divisor, cursor.varint()? as u64)
        }
        ValueMode::Xor => (Predictor::Delta, 0, 1, cursor.u64_le()?),
    };
    let exceptions = read_exceptions(&mut cursor, count)?;
    let payload = cursor.rest();
    let coded_streams = usize::from(!regular_timestamps) + usize::from(!constant_residuals);
    // Every coded decision costs at least 0.011 bits: a count far beyond
    // what the payload can hold is corruption, not a reason to allocate.
    if coded_streams > 0 && count > payload.len().saturating_mul(720).saturating_add(6000) {
        return Err(ChunkError::Corrupt("sealed sample count exceeds payload"));
    }

    let mut decoder = RangeDecoder::new(payload);
    let mut time_model = IntegerModel::default();
    let mut value_coder = ValueCoder::new(mode);
    let mut grid = TimestampGrid::new(first_time, interval);
    let mut samples = Vec::with_capacity(count);
    let mut values = ValueRebuilder::new(
        mode,
        predictor,
        first,
        0,
        ValueScale { exponent, divisor },
        exceptions,
    );
    for index in 0..count {
        let t = if index == 0 {
            first_time
        } else if regular_timestamps {
            grid.restore(0)
        } else {
            grid.restore(zigzag_decode(time_model.decode(&mut decoder)))
        };
        let code = if index == 0 || constant_residuals {
            0
        } else {
            value_coder.decode(&mut decoder)?
        };
        let value_bits = values.value_bits(index, code);
        samples.push((t, f64::from_bits(value_bits)));
    }
    if coded_streams > 0 && decoder.overran() {
        return Err(ChunkError::Truncated);
    }
    Ok(samples)
}

/// Reads a chunk's exception list: ascending sample indexes below `count`,
/// each with the value's raw bits.
pub(super) fn read_exceptions(
    cursor: &mut ByteCursor<'_>,
    count: usize,
) -> Result<Vec<(usize, u64)>, ChunkError> {
    let exception_count = cursor.uvarint()?;
    if exception_count > count as u64 {
        return Err(ChunkError::Corrupt("more sealed exceptions than samples"));
    }
    let mut exceptions = Vec::with_capacity(exception_count as usize);
    let mut index = 0u64;
    for position in 0..exception_count {
        let gap = cursor.uvarint()?;
        if position > 0 && gap == 0 {
            return Err(ChunkError::Corrupt("sealed exceptions out of order"));
        }
        index = index.saturating_add(gap);
        if index >= count as u64 {
            return Err(ChunkError::Corrupt("sealed exception index out of range"));
        }
        exceptions.push((index as usize, cursor.u64_le()?));
    }
    Ok(exceptions)
}

/// How decimal integers scale: `value = integer / 10^exponent`, residuals
/// stored divided by `divisor`.
pub(super) struct ValueScale {
    pub(super) exponent: u8,
    pub(super) divisor: u64,
}

/// Turns decoded value codes back into float bits, in sample order: the
/// part of decoding that versions 1 and 2 share.
pub(super) struct ValueRebuilder {
    mode: ValueMode,
    predictor: Predictor,
    first: u64,
    scale: ValueScale,
    integers: IntegerHistory,
    xor_bits: u64,
    exceptions: Vec<(usize, u64)>,
    next_exception: usize,
}

impl ValueRebuilder {
    pub(super) fn new(
        mode: ValueMode,
        predictor: Predictor,
        first: u64,
        level: i64,
        scale: ValueScale,
        exceptions: Vec<(usize, u64)>,
    ) -> Self {
        ValueRebuilder {
            mode,
            predictor,
            first,
            scale,
            integers: IntegerHistory::new(first as i64, level),
            xor_bits: first,
            exceptions,
            next_exception: 0,
        }
    }

    /// The bits of sample `index` (called for 0, 1, 2, … in turn), whose
    /// value code is `code` (ignored for the first sample).
    #[inline]
    pub(super) fn value_bits(&mut self, index: usize, code: u64) -> u64 {
        let value_bits = match self.mode {
            ValueMode::Xor => {
                self.xor_bits ^= code;
                self.xor_bits
            }
            // Decimal steps are rebuilt by `super::steps::StepsRebuilder`;
            // here they would read as raw integers.
            ValueMode::Decimal | ValueMode::FloatBits | ValueMode::DecimalSteps => {
                let integer = if index == 0 {
                    self.first as i64
                } else {
                    let residual = zigzag_decode(code).wrapping_mul(self.scale.divisor as i64);
                    self.integers.push(residual, self.predictor)
                };
                if self.mode == ValueMode::Decimal {
                    decimal_to_float(integer, self.scale.exponent).to_bits()
                } else {
                    integer as u64
                }
            }
        };
        match self.exceptions.get(self.next_exception) {
            Some(&(exception_index, bits)) if exception_index == index => {
                self.next_exception += 1;
                bits
            }
            _ => value_bits,
        }
    }
}

/// The last two integers, for the decoder's predictions.
pub(super) struct IntegerHistory {
    level: i64,
    before: i64,
    last: i64,
    length: usize,
}

impl IntegerHistory {
    pub(super) fn new(first: i64, level: i64) -> Self {
        IntegerHistory {
            level,
            before: 0,
            last: first,
            length: 1,
        }
    }

    /// Adds the integer predicted by `predictor` plus `residual`.
    #[inline]
    pub(super) fn push(&mut self, residual: i64, predictor: Predictor) -> i64 {
        let prediction = match predictor {
            Predictor::DeltaOfDelta if self.length >= 2 => {
                self.last.wrapping_add(self.last.wrapping_sub(self.before))
            }
            Predictor::Level => self.level,
            Predictor::DeltaStep => self.last.wrapping_add(self.level),
            _ => self.last,
        };
        let integer = prediction.wrapping_add(residual);
        self.before = self.last;
        self.last = integer;
        self.length += 1;
        integer
    }
}

#[cfg(test)]
mod tests;
