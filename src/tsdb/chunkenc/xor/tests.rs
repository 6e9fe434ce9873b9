use super::*;
use crate::tsdb::chunkenc::test_support::*;
use crate::tsdb::chunkenc::{ChunkIterator, Encoding};
use proptest::prelude::*;

fn encode(samples: &[(i64, f64)]) -> XorChunk {
    let mut chunk = XorChunk::new();
    for &(t, v) in samples {
        chunk.append(t, v);
    }
    chunk
}

#[test]
fn special_values_round_trip_bit_exactly() {
    // Every ordered pair, so every value follows every other one.
    let mut samples = Vec::new();
    let mut t = -5_000;
    for &first in SPECIAL_VALUES {
        for &second in SPECIAL_VALUES {
            samples.push((t, f64::from_bits(first)));
            samples.push((t + 15_000, f64::from_bits(second)));
            t += 30_000;
        }
    }
    let chunk = encode(&samples);
    assert_eq!(chunk.num_samples(), samples.len());
    assert_eq!(
        decode_bits(Encoding::Xor, chunk.bytes()),
        (bits_of(&samples), None)
    );
}

#[test]
fn timestamp_buckets_round_trip_at_their_edges() {
    // Deltas-of-delta at the limits of the 14, 17, 20 and 64-bit buckets.
    let mut dods = vec![0i64, 1, -1];
    for bits in [14u32, 17, 20] {
        let limit = 1i64 << (bits - 1);
        dods.extend([limit, limit + 1, -(limit - 1), -limit]);
    }
    dods.extend([1 << 40, -(1 << 40), 1 << 50]);
    let mut samples = vec![(0i64, 0.0), (1_000_000_000_000, 1.0)];
    let mut delta = 1_000_000_000_000i64;
    for (index, dod) in dods.iter().enumerate() {
        delta += dod;
        let last = samples[samples.len() - 1].0;
        samples.push((last + delta, index as f64));
    }
    let chunk = encode(&samples);
    assert_eq!(
        decode_bits(Encoding::Xor, chunk.bytes()),
        (bits_of(&samples), None)
    );
}

#[test]
fn extreme_timestamps_round_trip() {
    let samples = [
        (i64::MIN, 1.0),
        (-1, 2.0),
        (0, 3.0),
        (i64::MAX - 1, 4.0),
        (i64::MAX, 5.0),
    ];
    let chunk = encode(&samples);
    assert_eq!(chunk.first_time(), Some(i64::MIN));
    assert_eq!(chunk.last_time(), Some(i64::MAX));
    assert_eq!(
        decode_bits(Encoding::Xor, chunk.bytes()),
        (bits_of(&samples), None)
    );
}

#[test]
fn empty_chunk_has_no_samples_and_no_error() {
    let chunk = XorChunk::new();
    assert_eq!(chunk.num_samples(), 0);
    assert_eq!(chunk.first_time(), None);
    assert_eq!(chunk.bytes(), &[0, 0]);
    assert_eq!(decode_bits(Encoding::Xor, chunk.bytes()), (vec![], None));
}

#[test]
fn layout_matches_prometheus_xor() {
    // Hand-assembled from Prometheus's XOR layout: count, varint(t0),
    // v0 as 64 bits, uvarint(delta), then one bit per repeated value and
    // one bit per unchanged delta.
    let chunk = encode(&[(1000, 1.0), (1015, 1.0), (1030, 1.0)]);
    let mut expected = vec![0, 3, 0xd0, 0x0f]; // count 3, zigzag varint 1000
    expected.extend(1.0f64.to_bits().to_be_bytes());
    expected.push(15); // uvarint delta
    expected.push(0b0000_0000); // value unchanged, dod 0, value unchanged
    assert_eq!(chunk.bytes(), expected.as_slice());
}

#[test]
fn seek_returns_first_sample_at_or_after_and_keeps_current() {
    let samples: Vec<(i64, f64)> = (0..120).map(|i| (i * 15_000, i as f64)).collect();
    let chunk = encode(&samples);
    let mut iterator = chunk.iter();
    assert_eq!(iterator.at(), None);
    assert_eq!(iterator.seek(20_000), Some((30_000, 2.0)));
    assert_eq!(
        iterator.seek(30_000),
        Some((30_000, 2.0)),
        "current qualifies"
    );
    assert_eq!(iterator.seek(0), Some((30_000, 2.0)), "never goes back");
    assert_eq!(iterator.next(), Some((45_000, 3.0)));
    assert_eq!(iterator.seek(119 * 15_000), Some((119 * 15_000, 119.0)));
    assert_eq!(iterator.seek(119 * 15_000 + 1), None);
    assert_eq!(iterator.err(), None);
}

#[test]
fn truncated_chunks_report_an_error_instead_of_panicking() {
    let samples: Vec<(i64, f64)> = (0..120)
        .map(|i| (i * 15_001, (i * i) as f64 * 0.1))
        .collect();
    let chunk = encode(&samples);
    let bytes = chunk.bytes();
    for cut in 0..bytes.len() - 1 {
        let (decoded, error) = decode_bits(Encoding::Xor, &bytes[..cut]);
        assert!(decoded.len() < samples.len(), "cut at {cut}");
        assert_eq!(error, Some(ChunkError::Truncated), "cut at {cut}");
        assert_eq!(
            decoded,
            bits_of(&samples[..decoded.len()]),
            "prefix intact at {cut}"
        );
    }
}

#[test]
fn reopened_chunk_continues_appending() {
    let samples: Vec<(i64, f64)> = (0..60)
        .map(|i| (i * 15_003 - 7, (i % 7) as f64 * 1.5))
        .collect();
    for split in [0, 1, 2, 3, 30, 60] {
        let head = encode(&samples[..split]);
        let mut reopened = XorChunk::from_bytes(head.bytes()).expect("valid chunk");
        for &(t, v) in &samples[split..] {
            reopened.append(t, v);
        }
        assert_eq!(
            reopened.bytes(),
            encode(&samples).bytes(),
            "split at {split}"
        );
        assert_eq!(reopened.first_time(), samples.first().map(|s| s.0));
    }
}

proptest! {
    #[test]
    fn xor_round_trips_any_samples(samples in increasing_samples(300)) {
        let chunk = encode(&samples);
        prop_assert_eq!(chunk.first_time(), samples.first().map(|s| s.0));
        prop_assert_eq!(chunk.last_time(), samples.last().map(|s| s.0));
        prop_assert_eq!(decode_bits(Encoding::Xor, chunk.bytes()), (bits_of(&samples), None));
    }

    #[test]
    fn xor_seek_agrees_with_a_linear_scan(samples in increasing_samples(150), probe in any::<i64>()) {
        let chunk = encode(&samples);
        let expected = samples.iter().find(|s| s.0 >= probe).map(|&(t, v)| (t, v.to_bits()));
        let found = chunk.iter().seek(probe).map(|(t, v)| (t, v.to_bits()));
        prop_assert_eq!(found, expected);
    }

    #[test]
    fn mutated_xor_bytes_never_panic(
        samples in increasing_samples(130),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = encode(&samples).bytes().to_vec();
        for (index, mask) in flips {
            let position = index.index(bytes.len());
            bytes[position] ^= mask;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        let mut iterator = ChunkIterator::new(Encoding::Xor, &bytes);
        let mut count = 0usize;
        while iterator.next().is_some() {
            count += 1;
        }
        prop_assert!(count <= usize::from(u16::MAX));
        let _ = XorChunk::from_bytes(&bytes);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut iterator = ChunkIterator::new(Encoding::Xor, &bytes);
        while iterator.next().is_some() {}
        let mut iterator = ChunkIterator::new(Encoding::Xor, &bytes);
        let _ = iterator.seek(0);
    }
}
