use super::*;
use crate::model::sample::STALE_NAN_BITS;
use crate::tsdb::chunkenc::test_support::*;
use crate::tsdb::chunkenc::{Encoding, encode_sealed};
use proptest::prelude::*;

fn columns_round_trip(samples: &[(i64, f64)]) -> Vec<u8> {
    let (encoding, bytes) = encode_sealed_columns(samples);
    assert_eq!(encoding, Encoding::SealedColumns);
    assert_eq!(decode_bits(encoding, &bytes), (bits_of(samples), None));
    bytes
}

/// A scrape-like series: 15 s with a few ms of jitter.
fn scraped(count: usize, mut value_of: impl FnMut(usize) -> f64) -> Vec<(i64, f64)> {
    (0..count)
        .map(|i| {
            let jitter = (i * 7919 % 5) as i64;
            (1_700_000_000_000 + i as i64 * 15_000 + jitter, value_of(i))
        })
        .collect()
}

#[test]
fn small_empty_and_special_chunks_round_trip() {
    let mut specials = Vec::new();
    let mut t = -1_000;
    for &first in SPECIAL_VALUES {
        for &second in SPECIAL_VALUES {
            specials.push((t, f64::from_bits(first)));
            specials.push((t + 15_000, f64::from_bits(second)));
            t += 30_001;
        }
    }
    let cases: Vec<Vec<(i64, f64)>> = vec![
        vec![],
        vec![(0, 0.0)],
        vec![(-5, -0.0)],
        vec![(i64::MIN, f64::NAN), (i64::MAX, f64::INFINITY)],
        vec![(1, 1.5), (2, 1.5), (3, 1.5)],
        vec![(10, f64::from_bits(STALE_NAN_BITS))],
        vec![(0, i64::MAX as f64), (1, i64::MIN as f64), (2, 0.0)],
        specials,
    ];
    for samples in cases {
        columns_round_trip(&samples);
    }
}

#[test]
fn extreme_integer_residuals_round_trip() {
    // Float-bits residuals that wrap: the sign / magnitude coder must give
    // back the zigzag codes 1, u64::MAX - 1 and u64::MAX exactly.
    let bits = [0u64, u64::MAX, 0, 1 << 63, (1 << 63) - 1, 1, u64::MAX - 1];
    let samples: Vec<(i64, f64)> = bits
        .iter()
        .enumerate()
        .map(|(i, &b)| (i as i64 * 1000, f64::from_bits(b)))
        .collect();
    columns_round_trip(&samples);
}

#[test]
fn a_regular_constant_series_costs_a_few_bytes() {
    let samples: Vec<(i64, f64)> = (0..480).map(|i| (i * 15_000, 8_254_287_872.0)).collect();
    let bytes = columns_round_trip(&samples);
    assert!(bytes.len() < 20, "{} bytes", bytes.len());
}

#[test]
fn noisy_counters_are_smaller_than_in_version_one() {
    // A counter of 512-byte sectors growing by a noisy amount: version 2
    // codes the (always positive) residual's sign under a context instead
    // of spending a direct bit on it.
    let mut level = 1u64 << 30;
    let samples = scraped(480, |i| {
        level += 512 * (2000 + (i * 7919 % 1500) as u64);
        level as f64
    });
    let version_two = columns_round_trip(&samples);
    let (_, version_one) = encode_sealed(&samples);
    assert!(
        version_two.len() < version_one.len(),
        "v2 {} bytes, v1 {} bytes",
        version_two.len(),
        version_one.len()
    );
}

#[test]
fn noise_around_a_level_is_predicted_from_its_median() {
    // Durations: nanoseconds / 1e9, independent draws around a mean.
    let mut random = crate::tsdb::chunkenc::dataset::SplitMix64::new(7);
    let samples = scraped(480, |_| (200_000 + random.next_u64() % 90_000) as f64 / 1e9);
    let bytes = columns_round_trip(&samples);
    let (_, value_column) = split_columns(&bytes).expect("a valid chunk");
    assert_eq!((value_column[0] >> 2) & 0b11, Predictor::Level as u8);
}

#[test]
fn columns_decode_apart_and_join() {
    let samples = scraped(300, |i| (i * 3) as f64 / 100.0);
    let times: Vec<i64> = samples.iter().map(|s| s.0).collect();
    let values: Vec<f64> = samples.iter().map(|s| s.1).collect();
    let time_column = encode_timestamp_column(&times);
    let value_column = encode_value_column(&values);
    assert_eq!(timestamp_column_count(&time_column), Ok(300));
    assert_eq!(decode_timestamp_column(&time_column), Ok(times));
    assert_eq!(decode_value_column(&value_column, 300), Ok(values));
    let joined = join_columns(&time_column, &value_column);
    assert_eq!(
        decode_bits(Encoding::SealedColumns, &joined),
        (bits_of(&samples), None)
    );
}

#[test]
fn truncated_joined_chunks_report_an_error() {
    let samples = scraped(480, |i| (i * i) as f64 / 8.0);
    let (encoding, bytes) = encode_sealed_columns(&samples);
    for cut in 0..bytes.len() {
        let (decoded, error) = decode_bits(encoding, &bytes[..cut]);
        assert!(error.is_some(), "cut at {cut} of {}", bytes.len());
        assert!(decoded.is_empty());
    }
}

proptest! {
    #[test]
    fn columns_round_trip_any_samples(samples in increasing_samples(700)) {
        let (encoding, bytes) = encode_sealed_columns(&samples);
        prop_assert_eq!(decode_bits(encoding, &bytes), (bits_of(&samples), None));
    }

    #[test]
    fn columns_round_trip_scraped_samples(samples in scraped_samples()) {
        let (encoding, bytes) = encode_sealed_columns(&samples);
        prop_assert_eq!(decode_bits(encoding, &bytes), (bits_of(&samples), None));
    }

    #[test]
    fn columns_round_trip_float_steps(samples in float_step_samples()) {
        let (encoding, bytes) = encode_sealed_columns(&samples);
        prop_assert_eq!(decode_bits(encoding, &bytes), (bits_of(&samples), None));
    }

    #[test]
    fn mutated_float_step_bytes_never_panic(
        samples in float_step_samples(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let (encoding, bytes) = encode_sealed_columns(&samples);
        let count = samples_read_after_damage(encoding, bytes, &flips, None);
        prop_assert!(count <= SEALED_MAX_SAMPLES);
    }

    #[test]
    fn mutated_joined_bytes_never_panic(
        samples in scraped_samples(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let (encoding, bytes) = encode_sealed_columns(&samples);
        let count = samples_read_after_damage(encoding, bytes, &flips, Some(cut));
        prop_assert!(count <= SEALED_MAX_SAMPLES);
    }
}

#[test]
fn noisy_counters_are_coded_near_their_entropy() {
    // Increments N(5σ, σ), whose entropy is log2(σ) + log2(sqrt(2πe))
    // bits: 2048 samples (a compacted chunk) come within half a bit of it
    // (the step predictor centres the residual so that the magnitude
    // model's fine bins fall where the density is).
    let mut random = crate::tsdb::chunkenc::dataset::SplitMix64::new(3);
    for deviation in [1e2, 1e4, 1e6] {
        let mut level = 1e9f64;
        let samples = scraped(2048, |_| {
            level += (5.0 * deviation + deviation * random.normal()).round();
            level
        });
        let bytes = columns_round_trip(&samples);
        let (_, value_column) = split_columns(&bytes).expect("a valid chunk");
        let bits = value_column.len() as f64 * 8.0 / samples.len() as f64;
        let entropy = deviation.log2() + 2.047;
        assert!(
            bits < entropy + 0.5,
            "σ {deviation}: {bits:.2} bits against {entropy:.2}"
        );
    }
}
