//! Frozen chunk fixtures: an accidental change of a chunk format fails here.
//!
//! Each fixture is `NAME.bin` (the chunk bytes) and `NAME.txt` (its samples,
//! one `timestamp_ms value_bits_hex` a line) in `tests/fixtures/chunks/`.
//! `prometheus_xor.bin` was written by promtool, so it also pins byte
//! compatibility with Prometheus's XOR chunks. The others were written by
//! promshard; regenerate them only for an intended format change (with a
//! new version byte): `cargo test --test chunks_fixtures -- --ignored`.

use std::path::PathBuf;

use promshard::model::sample::STALE_NAN_BITS;
use promshard::tsdb::chunkenc::{
    ChunkIterator, Encoding, XorChunk, encode_sealed, encode_sealed_columns,
};

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/chunks")
        .join(name)
}

fn read_samples(name: &str) -> Vec<(i64, u64)> {
    let text = std::fs::read_to_string(fixture_path(&format!("{name}.txt"))).expect("fixture text");
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (t, bits) = line.split_once(' ').expect("two fields");
            (
                t.parse().expect("timestamp"),
                u64::from_str_radix(bits, 16).expect("hex bits"),
            )
        })
        .collect()
}

fn decode(encoding: Encoding, bytes: &[u8]) -> Vec<(i64, u64)> {
    let mut iterator = ChunkIterator::new(encoding, bytes);
    let mut samples = Vec::new();
    while let Some((t, v)) = iterator.next() {
        samples.push((t, v.to_bits()));
    }
    assert_eq!(iterator.err(), None);
    samples
}

fn as_floats(samples: &[(i64, u64)]) -> Vec<(i64, f64)> {
    samples
        .iter()
        .map(|&(t, bits)| (t, f64::from_bits(bits)))
        .collect()
}

fn xor_encode(samples: &[(i64, f64)]) -> Vec<u8> {
    let mut chunk = XorChunk::new();
    for &(t, v) in samples {
        chunk.append(t, v);
    }
    chunk.bytes().to_vec()
}

#[test]
fn prometheus_written_xor_chunk_decodes_and_re_encodes_identically() {
    let bytes = std::fs::read(fixture_path("prometheus_xor.bin")).expect("fixture");
    let expected = read_samples("prometheus_xor");
    assert_eq!(decode(Encoding::Xor, &bytes), expected);
    assert_eq!(
        xor_encode(&as_floats(&expected)),
        bytes,
        "same bytes as Prometheus"
    );
}

/// A fixture's name, encoding and samples.
type Fixture = (&'static str, Encoding, Vec<(i64, f64)>);

/// The samples of promshard's own fixtures, by name and encoding.
fn own_fixtures() -> Vec<Fixture> {
    let jitter = |i: i64| (i * 7919) % 5;
    let scrape_time = |i: i64| 1_700_000_000_000 + i * 15_000 + jitter(i);
    let mut special = [
        f64::from_bits(STALE_NAN_BITS),
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::from_bits(0x7ff8_0000_dead_beef),
        f64::from_bits(1),
        0.1,
        1e300,
    ];
    let xor_samples: Vec<(i64, f64)> = (0..40)
        .map(|i| {
            (
                scrape_time(i),
                special
                    .get(i as usize % 12)
                    .copied()
                    .unwrap_or(i as f64 * 0.5),
            )
        })
        .collect();
    let mut cpu_counter: Vec<(i64, f64)> = (0..480)
        .map(|i| {
            (
                scrape_time(i),
                (1_234_567 + i * 1493 + (i * i) % 29) as f64 / 100.0,
            )
        })
        .collect();
    cpu_counter.push((scrape_time(480), f64::from_bits(STALE_NAN_BITS)));
    let memory_gauge: Vec<(i64, f64)> = (0..480)
        .map(|i| {
            (
                scrape_time(i),
                (4_000_000 + (i * 37) % 101 * 3 - i) as f64 * 1024.0,
            )
        })
        .collect();
    let wall_clock: Vec<(i64, f64)> = (0..120)
        .map(|i| {
            (
                scrape_time(i),
                (scrape_time(i) * 1_000_000 + i * 12_345) as f64 / 1e9,
            )
        })
        .collect();
    // A histogram's `_sum` of float durations: not decimals, so the
    // decimal-steps value mode; a stale marker in the middle.
    let mut duration_sum = 0.0f64;
    let mut float_steps: Vec<(i64, f64)> = (0..240)
        .map(|i| {
            duration_sum += ((i * 7_919) % 3_000_000 + 150_000) as f64 / 1e9;
            (scrape_time(i), duration_sum)
        })
        .collect();
    float_steps[100].1 = f64::from_bits(STALE_NAN_BITS);
    let constant: Vec<(i64, f64)> = (0..480).map(|i| (i * 15_000, 1.0)).collect();
    special.reverse();
    let specials: Vec<(i64, f64)> = special
        .iter()
        .enumerate()
        .map(|(i, &v)| (-1_000 + i as i64 * 60_000, v))
        .collect();
    vec![
        ("xor_mixed", Encoding::Xor, xor_samples),
        ("sealed_cpu_counter", Encoding::Sealed, cpu_counter.clone()),
        (
            "sealed_memory_gauge",
            Encoding::Sealed,
            memory_gauge.clone(),
        ),
        ("sealed_wall_clock", Encoding::Sealed, wall_clock.clone()),
        ("sealed_constant", Encoding::Sealed, constant.clone()),
        ("sealed_specials", Encoding::Sealed, specials.clone()),
        ("columns_cpu_counter", Encoding::SealedColumns, cpu_counter),
        (
            "columns_memory_gauge",
            Encoding::SealedColumns,
            memory_gauge,
        ),
        ("columns_wall_clock", Encoding::SealedColumns, wall_clock),
        ("columns_constant", Encoding::SealedColumns, constant),
        ("columns_float_steps", Encoding::SealedColumns, float_steps),
        ("columns_specials", Encoding::SealedColumns, specials),
    ]
}

fn encode(encoding: Encoding, samples: &[(i64, f64)]) -> Vec<u8> {
    match encoding {
        Encoding::Xor => xor_encode(samples),
        Encoding::Sealed => {
            let (sealed_encoding, bytes) = encode_sealed(samples);
            assert_eq!(sealed_encoding, Encoding::Sealed);
            bytes
        }
        Encoding::SealedColumns => {
            let (columns_encoding, bytes) = encode_sealed_columns(samples);
            assert_eq!(columns_encoding, Encoding::SealedColumns);
            bytes
        }
    }
}

#[test]
fn own_fixtures_decode_to_their_samples_and_encoders_still_write_them() {
    for (name, encoding, samples) in own_fixtures() {
        let bytes = std::fs::read(fixture_path(&format!("{name}.bin"))).expect("fixture");
        let expected = read_samples(name);
        let generated: Vec<(i64, u64)> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
        assert_eq!(expected, generated, "{name}: fixture samples");
        assert_eq!(
            decode(encoding, &bytes),
            expected,
            "{name}: decoding changed"
        );
        assert_eq!(
            encode(encoding, &samples),
            bytes,
            "{name}: encoding changed"
        );
    }
}

#[test]
#[ignore = "rewrites the fixtures; run only for an intended format change"]
fn regenerate_own_fixtures() {
    for (name, encoding, samples) in own_fixtures() {
        let bytes = encode(encoding, &samples);
        std::fs::write(fixture_path(&format!("{name}.bin")), &bytes).expect("write bin");
        let mut text = format!("# timestamp_ms value_bits_hex: the samples of {name}.bin\n");
        for (t, v) in samples {
            text.push_str(&format!("{t} {:016x}\n", v.to_bits()));
        }
        std::fs::write(fixture_path(&format!("{name}.txt")), text).expect("write txt");
    }
}
