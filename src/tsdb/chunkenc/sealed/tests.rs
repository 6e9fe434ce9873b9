use super::*;
use crate::model::sample::STALE_NAN_BITS;
use crate::tsdb::chunkenc::test_support::*;
use crate::tsdb::chunkenc::{ChunkIterator, Encoding};
use proptest::prelude::*;

fn sealed_round_trip(samples: &[(i64, f64)]) -> Vec<u8> {
    let (encoding, bytes) = encode_sealed(samples);
    assert_eq!(encoding, Encoding::Sealed);
    assert_eq!(decode_bits(encoding, &bytes), (bits_of(samples), None));
    bytes
}

/// A scrape-like series: 15 s with a few ms of jitter, values `m / 100`.
fn scraped(count: usize, value_of: impl Fn(usize) -> f64) -> Vec<(i64, f64)> {
    (0..count)
        .map(|i| {
            let jitter = (i * 7919 % 5) as i64;
            (1_700_000_000_000 + i as i64 * 15_000 + jitter, value_of(i))
        })
        .collect()
}

#[test]
fn small_and_empty_chunks_round_trip() {
    let cases: Vec<Vec<(i64, f64)>> = vec![
        vec![],
        vec![(0, 0.0)],
        vec![(-5, -0.0)],
        vec![(i64::MIN, f64::NAN), (i64::MAX, f64::INFINITY)],
        vec![(1, 1.5), (2, 1.5), (3, 1.5)],
        vec![(10, f64::from_bits(STALE_NAN_BITS))],
    ];
    for samples in cases {
        sealed_round_trip(&samples);
    }
}

#[test]
fn a_constant_series_costs_a_few_bytes() {
    let samples: Vec<(i64, f64)> = (0..480).map(|i| (i * 15_000, 8_254_287_872.0)).collect();
    let bytes = sealed_round_trip(&samples);
    assert!(bytes.len() < 24, "{} bytes", bytes.len());
}

#[test]
fn decimal_counters_with_jitter_beat_xor_by_far() {
    // A CPU-seconds counter: two decimals, growing ~15 s per 15 s.
    let samples = scraped(480, |i| {
        (123_456_789 + i * 1497 + (i * i) % 13) as f64 / 100.0
    });
    let sealed = sealed_round_trip(&samples);
    let mut xor = crate::tsdb::chunkenc::XorChunk::new();
    for &(t, v) in &samples {
        xor.append(t, v);
    }
    assert!(
        sealed.len() * 3 < xor.bytes().len(),
        "sealed {} bytes, xor {} bytes",
        sealed.len(),
        xor.bytes().len()
    );
}

#[test]
fn special_values_inside_a_decimal_series_stay_exceptions() {
    // A stale marker, a NaN with a payload and -0.0 inside a gauge must not
    // push the chunk off the decimal path, and must come back bit-exactly.
    let mut samples = scraped(480, |i| (i % 17) as f64 * 0.25);
    samples[100].1 = f64::from_bits(STALE_NAN_BITS);
    samples[200].1 = -0.0;
    samples[479].1 = f64::from_bits(0x7ff8_0000_dead_beef);
    let bytes = sealed_round_trip(&samples);
    assert!(bytes.len() < 480, "{} bytes", bytes.len());
}

#[test]
fn every_special_value_pair_round_trips() {
    let mut samples = Vec::new();
    let mut t = -1_000;
    for &first in SPECIAL_VALUES {
        for &second in SPECIAL_VALUES {
            samples.push((t, f64::from_bits(first)));
            samples.push((t + 15_000, f64::from_bits(second)));
            t += 30_001;
        }
    }
    sealed_round_trip(&samples);
}

#[test]
fn missed_scrapes_and_restarts_round_trip() {
    let mut samples = scraped(300, |i| i as f64);
    samples.drain(50..60); // ten missed scrapes
    for sample in &mut samples[200..] {
        sample.0 += 7_777; // the target restarted with a new phase
    }
    sealed_round_trip(&samples);
}

#[test]
fn seek_uses_the_decoded_samples() {
    let samples = scraped(480, |i| i as f64);
    let (encoding, bytes) = encode_sealed(&samples);
    let mut iterator = ChunkIterator::new(encoding, &bytes);
    assert_eq!(iterator.num_samples(), Some(480));
    assert_eq!(iterator.seek(samples[10].0 - 1), Some(samples[10]));
    assert_eq!(iterator.seek(0), Some(samples[10]), "never goes back");
    assert_eq!(iterator.next(), Some(samples[11]));
    assert_eq!(iterator.seek(samples[479].0), Some(samples[479]));
    assert_eq!(iterator.seek(i64::MAX), None);
    assert_eq!(iterator.err(), None);
}

#[test]
fn truncated_sealed_chunks_report_an_error() {
    let samples = scraped(480, |i| (i * i) as f64 / 8.0);
    let (encoding, bytes) = encode_sealed(&samples);
    for cut in 0..bytes.len() {
        let (decoded, error) = decode_bits(encoding, &bytes[..cut]);
        assert!(error.is_some(), "cut at {cut} of {}", bytes.len());
        assert!(decoded.is_empty());
    }
}

proptest! {
    #[test]
    fn sealed_round_trips_any_samples(samples in increasing_samples(700)) {
        let (encoding, bytes) = encode_sealed(&samples);
        prop_assert_eq!(decode_bits(encoding, &bytes), (bits_of(&samples), None));
    }

    #[test]
    fn sealed_round_trips_scraped_samples(samples in scraped_samples()) {
        let (encoding, bytes) = encode_sealed(&samples);
        prop_assert_eq!(decode_bits(encoding, &bytes), (bits_of(&samples), None));
    }

    #[test]
    fn sealed_seek_agrees_with_a_linear_scan(samples in scraped_samples(), probe in any::<i64>()) {
        let (encoding, bytes) = encode_sealed(&samples);
        let expected = samples.iter().find(|s| s.0 >= probe).map(|&(t, v)| (t, v.to_bits()));
        let found = ChunkIterator::new(encoding, &bytes).seek(probe).map(|(t, v)| (t, v.to_bits()));
        prop_assert_eq!(found, expected);
    }

    #[test]
    fn mutated_sealed_bytes_never_panic(
        samples in scraped_samples(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let (encoding, bytes) = encode_sealed(&samples);
        let count = samples_read_after_damage(encoding, bytes, &flips, Some(cut));
        prop_assert!(count <= SEALED_MAX_SAMPLES);
    }

    #[test]
    fn random_bytes_never_panic_the_sealed_decoder(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut iterator = ChunkIterator::new(Encoding::Sealed, &bytes);
        while iterator.next().is_some() {}
        let mut with_version = vec![SEALED_FORMAT_VERSION];
        with_version.extend_from_slice(&bytes);
        let mut iterator = ChunkIterator::new(Encoding::Sealed, &with_version);
        let _ = iterator.seek(0);
    }
}
