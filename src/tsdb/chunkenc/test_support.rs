//! Sample generators and helpers shared by the encodings' tests.

use super::{ChunkError, ChunkIterator, Encoding};
use crate::model::sample::STALE_NAN_BITS;
use proptest::prelude::*;

pub(crate) fn decode_bits(
    encoding: Encoding,
    bytes: &[u8],
) -> (Vec<(i64, u64)>, Option<ChunkError>) {
    let mut iterator = ChunkIterator::new(encoding, bytes);
    let mut decoded = Vec::new();
    while let Some((t, v)) = iterator.next() {
        decoded.push((t, v.to_bits()));
    }
    (decoded, iterator.err())
}

pub(crate) fn bits_of(samples: &[(i64, f64)]) -> Vec<(i64, u64)> {
    samples.iter().map(|&(t, v)| (t, v.to_bits())).collect()
}

/// Values whose bit patterns are hard for an XOR encoder.
pub(crate) const SPECIAL_VALUES: &[u64] = &[
    STALE_NAN_BITS,
    0x7ff8_0000_0000_0000, // quiet NaN
    0xfff8_0000_0000_0001, // negative NaN with payload
    0x7ff4_dead_beef_0001, // signalling NaN with payload
    0x7ff0_0000_0000_0000, // +Inf
    0xfff0_0000_0000_0000, // -Inf
    0x8000_0000_0000_0000, // -0.0
    0x0000_0000_0000_0000, // +0.0
    0x0000_0000_0000_0001, // smallest subnormal
    0x000f_ffff_ffff_ffff, // largest subnormal
    0x7fef_ffff_ffff_ffff, // f64::MAX
    0x3ff0_0000_0000_0000, // 1.0
    0xffff_ffff_ffff_ffff, // all ones (a NaN)
];

pub(crate) fn any_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        prop::sample::select(SPECIAL_VALUES).prop_map(f64::from_bits),
        (-1_000_000i64..1_000_000, 0u32..4).prop_map(|(m, e)| m as f64 / 10f64.powi(e as i32)),
        (0u64..(1 << 53)).prop_map(|c| c as f64),
    ]
}

/// Increasing timestamps with regular steps, jitter and irregular gaps.
pub(crate) fn increasing_samples(max_len: usize) -> impl Strategy<Value = Vec<(i64, f64)>> {
    let start = prop_oneof![any::<i64>().prop_map(|t| t / 2), -1_000_000i64..1_000_000];
    let step = prop_oneof![
        4 => 14_990i64..15_010,
        2 => Just(15_000i64),
        1 => 1i64..(1 << 40),
    ];
    (
        start,
        prop::collection::vec((step, any_value()), 1..max_len),
    )
        .prop_map(|(start, steps)| {
            let mut t = start;
            let mut samples = Vec::with_capacity(steps.len());
            for (step, v) in steps {
                samples.push((t, v));
                t = t.saturating_add(step);
                if t == i64::MAX {
                    break;
                }
            }
            samples
        })
}

/// Scrape-like series: jittered timestamps, decimal counters and gauges,
/// sometimes a special value.
pub(crate) fn scraped_samples() -> impl Strategy<Value = Vec<(i64, f64)>> {
    let start = -1_000_000_000_000i64..2_000_000_000_000;
    let steps = prop::collection::vec(
        (
            prop_oneof![8 => 14_995i64..15_006, 1 => 1i64..120_000],
            prop_oneof![
                8 => (-50i64..50_000).prop_map(|d| d as f64),
                1 => prop::sample::select(SPECIAL_VALUES).prop_map(f64::from_bits),
            ],
        ),
        1..600,
    );
    (start, 0u32..6, any::<bool>(), steps).prop_map(|(start, decimals, counter, steps)| {
        let scale = 10f64.powi(decimals as i32);
        let mut t = start;
        let mut level = 0f64;
        steps
            .into_iter()
            .map(|(step, change)| {
                t += step;
                let value = if !change.is_finite() || change == 0.0 && change.is_sign_negative() {
                    change
                } else if counter {
                    level += change.abs();
                    level / scale
                } else {
                    change / scale
                };
                (t, value)
            })
            .collect()
    })
}

/// Floats that move in decimal steps without being decimals: running sums
/// of float durations, or integers times 0.001, sometimes a special value.
pub(crate) fn float_step_samples() -> impl Strategy<Value = Vec<(i64, f64)>> {
    let steps = prop::collection::vec(
        prop_oneof![
            8 => (0u64..5_000_000).prop_map(|units| units as f64),
            1 => prop::sample::select(SPECIAL_VALUES).prop_map(f64::from_bits),
        ],
        2..600,
    );
    (0u32..10, any::<bool>(), -1e6f64..1e6, steps).prop_map(|(exponent, scaled, start, steps)| {
        let power = 10f64.powi(exponent as i32);
        let mut sum = start;
        let mut units = 0.0f64;
        steps
            .into_iter()
            .enumerate()
            .map(|(index, step)| {
                let value = if !step.is_finite() || step.to_bits() == (-0.0f64).to_bits() {
                    step
                } else if scaled {
                    units += step;
                    units * 0.001
                } else {
                    sum += step / power;
                    sum
                };
                (1_700_000_000_000 + index as i64 * 15_000, value)
            })
            .collect()
    })
}

/// How many samples a chunk iterator yields from `bytes` after `flips`
/// (position, XOR mask) and, if given, a cut to a length: damage must give
/// an error or fewer samples, never a panic.
pub(crate) fn samples_read_after_damage(
    encoding: Encoding,
    mut bytes: Vec<u8>,
    flips: &[(prop::sample::Index, u8)],
    cut: Option<prop::sample::Index>,
) -> usize {
    for (index, mask) in flips {
        let position = index.index(bytes.len());
        bytes[position] ^= mask;
    }
    if let Some(cut) = cut {
        bytes.truncate(cut.index(bytes.len() + 1));
    }
    let mut iterator = ChunkIterator::new(encoding, &bytes);
    let mut count = 0usize;
    while iterator.next().is_some() {
        count += 1;
    }
    count
}
