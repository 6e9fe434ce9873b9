//! Frozen on-disk formats: a WAL segment and a block in
//! `tests/fixtures/tsdb/` must keep decoding to the same content, and the
//! current encoders must keep producing the same bytes. A deliberate format
//! change regenerates them:
//! `PROMSHARD_REGENERATE_TSDB_FIXTURES=1 cargo test --test tsdb_format`
//! (and updates `docs/format/`).

use std::path::{Path, PathBuf};

use promshard::model::{Labels, STALE_NAN_BITS};
use promshard::tsdb::block::{Block, BlockWriter, decode_index, encode_index};
use promshard::tsdb::wal::records::{self, Record};
use promshard::tsdb::wal::{frame_record, read_segment_records};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tsdb")
}

fn regenerate() -> bool {
    std::env::var_os("PROMSHARD_REGENERATE_TSDB_FIXTURES").is_some()
}

fn series_a() -> Labels {
    Labels::from_pairs(&[
        ("__name__", "http_requests_total"),
        ("code", "200"),
        ("job", "api"),
    ])
}

fn series_b() -> Labels {
    Labels::from_pairs(&[
        ("__name__", "up"),
        ("instance", "localhost:9090"),
        ("job", "prometheus"),
    ])
}

fn expected_records() -> Vec<Record> {
    vec![
        Record::Series(vec![(1, series_a()), (2, series_b())]),
        Record::Samples(vec![
            (1, 1_700_000_000_000, 10.0),
            (2, 1_700_000_000_000, 1.0),
            (1, 1_700_000_015_000, 12.5),
            (2, 1_700_000_015_000, f64::from_bits(STALE_NAN_BITS)),
        ]),
        Record::Tombstones(vec![(1, 1_700_000_000_000, 1_700_000_005_000)]),
    ]
}

fn encode(record: &Record) -> Vec<u8> {
    match record {
        Record::Series(series) => records::encode_series(series.iter().map(|(r, l)| (*r, l))),
        Record::Samples(samples) => records::encode_samples(samples.iter().copied()),
        Record::Tombstones(tombstones) => records::encode_tombstones(tombstones),
    }
}

fn bits(records: &[Record]) -> String {
    // Debug output with NaN payloads made visible.
    records
        .iter()
        .map(|record| match record {
            Record::Samples(samples) => format!(
                "{:?}",
                samples
                    .iter()
                    .map(|(r, t, v)| (*r, *t, v.to_bits()))
                    .collect::<Vec<_>>()
            ),
            other => format!("{other:?}"),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn wal_segment_fixture_is_stable() {
    let path = fixtures().join("wal/00000000");
    let mut encoder = snap::raw::Encoder::new();
    let mut encoded = Vec::new();
    for record in expected_records() {
        frame_record(&encode(&record), &mut encoded, &mut encoder);
    }
    if regenerate() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &encoded).unwrap();
    }
    let frozen = std::fs::read(&path).expect("fixture exists (see the file header to regenerate)");
    let mut decoded = Vec::new();
    let end = read_segment_records(&path, |record| {
        decoded.push(records::decode(record).unwrap())
    })
    .unwrap();
    assert_eq!(end, promshard::tsdb::wal::SegmentEnd::Clean);
    assert_eq!(bits(&decoded), bits(&expected_records()));
    assert_eq!(
        encoded, frozen,
        "the WAL encoding changed: update docs/format/wal.md and regenerate"
    );
}

fn block_samples() -> Vec<(Labels, Vec<(i64, f64)>)> {
    let base = 1_700_000_000_000i64;
    vec![
        (
            series_a(),
            (0..20)
                .map(|i| (base + i * 15_000, 10.0 + i as f64 * 0.5))
                .collect(),
        ),
        (
            series_b(),
            (0..20)
                .map(|i| {
                    (
                        base + i * 15_000,
                        if i == 19 {
                            f64::from_bits(STALE_NAN_BITS)
                        } else {
                            1.0
                        },
                    )
                })
                .collect(),
        ),
    ]
}

#[test]
fn block_fixture_is_stable() {
    let dir = fixtures().join("block");
    if regenerate() {
        let scratch = tempfile::tempdir().unwrap();
        let mut writer = BlockWriter::new(
            scratch.path(),
            1_699_999_200_000,
            1_700_006_400_000,
            1,
            Vec::new(),
        )
        .unwrap();
        for (labels, samples) in block_samples() {
            writer.add_series(labels, &samples).unwrap();
        }
        let meta = writer.finish().unwrap().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("chunks")).unwrap();
        let written = scratch.path().join(&meta.ulid);
        for file in ["meta.json", "index", "chunks/000001"] {
            std::fs::copy(written.join(file), dir.join(file)).unwrap();
        }
    }
    let block = Block::open(&dir).expect("fixture block opens");
    assert_eq!(block.meta().stats.num_samples, 40);
    assert_eq!(block.meta().stats.num_series, 2);
    let mut set = block.select(i64::MIN, i64::MAX, &[]);
    let mut decoded = Vec::new();
    while let Some(series) = set.next() {
        let mut iterator = series.iter();
        let mut samples = Vec::new();
        while let Some((t, v)) = iterator.next() {
            samples.push((t, v.to_bits()));
        }
        assert!(iterator.err().is_none());
        decoded.push((series.labels().clone(), samples));
    }
    let expected: Vec<_> = block_samples()
        .into_iter()
        .map(|(l, s)| {
            (
                l,
                s.into_iter()
                    .map(|(t, v)| (t, v.to_bits()))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    assert_eq!(decoded, expected);

    // The index encoder reproduces the frozen bytes.
    let index = std::fs::read(dir.join("index")).unwrap();
    assert_eq!(encode_index(&decode_index(&index).unwrap()), index);
    // The chunk encoder reproduces the frozen chunk file.
    let scratch = tempfile::tempdir().unwrap();
    let mut writer = BlockWriter::new(
        scratch.path(),
        1_699_999_200_000,
        1_700_006_400_000,
        1,
        Vec::new(),
    )
    .unwrap();
    for (labels, samples) in block_samples() {
        writer.add_series(labels, &samples).unwrap();
    }
    let meta = writer.finish().unwrap().unwrap();
    let fresh = std::fs::read(scratch.path().join(&meta.ulid).join("chunks/000001")).unwrap();
    let frozen = std::fs::read(dir.join("chunks/000001")).unwrap();
    assert_eq!(
        fresh, frozen,
        "the block chunk encoding changed: update docs/format and regenerate"
    );
}

/// Every series of the block in `dir`, decoded: labels and sample bits.
fn read_block(dir: &Path) -> Vec<(Labels, Vec<(i64, u64)>)> {
    let block = Block::open(dir).expect("fixture block opens");
    let mut set = block.select(i64::MIN, i64::MAX, &[]);
    let mut decoded = Vec::new();
    while let Some(series) = set.next() {
        let mut iterator = series.iter();
        let mut samples = Vec::new();
        while let Some((t, v)) = iterator.next() {
            samples.push((t, v.to_bits()));
        }
        assert!(iterator.err().is_none(), "{:?}", iterator.err());
        decoded.push((series.labels().clone(), samples));
    }
    decoded
}

#[test]
fn a_version_one_block_still_reads() {
    // Written before shared timestamp columns (one sealed version 1 chunk
    // per series): blocks on disk from then stay readable.
    let expected: Vec<_> = block_samples()
        .into_iter()
        .map(|(l, s)| {
            (
                l,
                s.into_iter()
                    .map(|(t, v)| (t, v.to_bits()))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    assert_eq!(read_block(&fixtures().join("block_v1")), expected);
}

#[test]
fn series_scraped_together_share_one_timestamp_column() {
    let dir = fixtures().join("block");
    let chunks = std::fs::read(dir.join("chunks/000001")).unwrap();
    let index = decode_index(&std::fs::read(dir.join("index")).unwrap()).unwrap();
    // Both series' chunks refer to one column (entry byte 19) written once.
    let column_entries = index
        .iter()
        .map(|series| {
            let chunk = &series.chunks[0];
            assert_eq!(chunk.encoding, 18, "a value column with shared timestamps");
            let data = &chunks[chunk.offset as usize + 1..];
            let mut position = 0;
            let distance = records::get_uvarint(data, &mut position).unwrap();
            chunk.offset - distance
        })
        .collect::<Vec<_>>();
    assert_eq!(column_entries[0], column_entries[1]);
    assert_eq!(chunks[column_entries[0] as usize], 19);
}

#[test]
fn a_data_directory_fixture_opens_with_wal_and_block() {
    let scratch = tempfile::tempdir().unwrap();
    let data = scratch.path();
    std::fs::create_dir_all(data.join("wal")).unwrap();
    std::fs::copy(fixtures().join("wal/00000000"), data.join("wal/00000000")).unwrap();
    let block_dir = data.join("01HF0000000000000000000000");
    std::fs::create_dir_all(block_dir.join("chunks")).unwrap();
    for file in ["meta.json", "index", "chunks/000001"] {
        std::fs::copy(fixtures().join("block").join(file), block_dir.join(file)).unwrap();
    }
    let db =
        promshard::tsdb::Db::open(data, Default::default(), &prometheus::Registry::new()).unwrap();
    assert_eq!(db.blocks().len(), 1);
    // The WAL samples fall inside the block's range and are already there:
    // replay skips them rather than duplicating.
    let querier = promshard::storage::Queryable::querier(&*db, i64::MIN, i64::MAX).unwrap();
    let mut set = querier.select(
        true,
        None,
        &[promshard::model::Matcher::equal("job", "api")],
    );
    let series = set.next().unwrap();
    let mut iterator = series.iter();
    let mut count = 0;
    while iterator.next().is_some() {
        count += 1;
    }
    assert_eq!(count, 20);
}

#[test]
fn tombstones_fixture_is_stable() {
    use promshard::tsdb::tombstones::{Interval, Tombstones};
    let path = fixtures().join("tombstones/tombstones");
    let mut expected = Tombstones::default();
    expected.add(
        0,
        Interval {
            min_time: 1_700_000_000_000,
            max_time: 1_700_000_005_000,
        },
    );
    expected.add(
        0,
        Interval {
            min_time: 1_700_000_100_000,
            max_time: 1_700_000_200_000,
        },
    );
    expected.add(
        1,
        Interval {
            min_time: -5,
            max_time: i64::MAX,
        },
    );
    if regenerate() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        expected.write_file(path.parent().unwrap()).unwrap();
    }
    let frozen = std::fs::read(&path).expect("fixture exists (see the file header to regenerate)");
    assert_eq!(
        Tombstones::read_file(path.parent().unwrap()).unwrap(),
        expected
    );
    assert_eq!(
        expected.encode(),
        frozen,
        "the tombstones encoding changed: update docs/format/tombstones.md and regenerate"
    );
}
