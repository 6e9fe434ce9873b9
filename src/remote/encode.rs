//! A fast, allocation-light encoder of remote-write requests: protobuf
//! written straight from [`Labels`] (no intermediate message structs),
//! samples grouped by series in arrival order, then snappy block
//! compression. The output decodes as [`super::proto::WriteRequest`].

use std::collections::HashMap;

use crate::model::Labels;

fn varint_len(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_bytes_field(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn label_len(name: &str, value: &str) -> usize {
    1 + varint_len(name.len() as u64)
        + name.len()
        + 1
        + varint_len(value.len() as u64)
        + value.len()
}

fn sample_len(t: i64) -> usize {
    1 + 8 + 1 + varint_len(t as u64)
}

/// Encodes the raw protobuf of a `WriteRequest` holding `samples`, grouped
/// by series (samples of a series keep their order).
pub fn encode_write_request_raw<'a>(
    samples: impl Iterator<Item = (&'a Labels, i64, f64)>,
) -> Vec<u8> {
    let mut order: Vec<(&Labels, Vec<(i64, f64)>)> = Vec::new();
    let mut index: HashMap<&Labels, usize> = HashMap::new();
    for (labels, t, v) in samples {
        let slot = *index.entry(labels).or_insert_with(|| {
            order.push((labels, Vec::new()));
            order.len() - 1
        });
        order[slot].1.push((t, v));
    }
    let mut out = Vec::with_capacity(order.len() * 128);
    for (labels, points) in &order {
        let mut series_len = 0usize;
        for label in labels.iter() {
            let len = label_len(label.name, label.value);
            series_len += 1 + varint_len(len as u64) + len;
        }
        for &(t, _) in points {
            let len = sample_len(t);
            series_len += 1 + varint_len(len as u64) + len;
        }
        out.push(0x0a); // WriteRequest.timeseries = 1
        put_varint(&mut out, series_len as u64);
        for label in labels.iter() {
            out.push(0x0a); // TimeSeries.labels = 1
            put_varint(&mut out, label_len(label.name, label.value) as u64);
            put_bytes_field(&mut out, 0x0a, label.name.as_bytes()); // Label.name = 1
            put_bytes_field(&mut out, 0x12, label.value.as_bytes()); // Label.value = 2
        }
        for &(t, v) in points {
            out.push(0x12); // TimeSeries.samples = 2
            put_varint(&mut out, sample_len(t) as u64);
            out.push(0x09); // Sample.value = 1, fixed64
            out.extend_from_slice(&v.to_bits().to_le_bytes());
            out.push(0x10); // Sample.timestamp = 2, varint
            put_varint(&mut out, t as u64);
        }
    }
    out
}

/// [`encode_write_request_raw`], snappy block-compressed: a request body.
pub fn encode_write_request<'a>(samples: impl Iterator<Item = (&'a Labels, i64, f64)>) -> Vec<u8> {
    let raw = encode_write_request_raw(samples);
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::codec;
    use crate::remote::proto::WriteRequest;

    #[test]
    fn decodes_as_prost_and_groups_by_series() {
        let a = Labels::from_pairs(&[("__name__", "a"), ("job", "x".repeat(200).as_str())]);
        let b = Labels::from_pairs(&[("__name__", "b")]);
        let stale = f64::from_bits(crate::model::STALE_NAN_BITS);
        let samples = [
            (&a, 1, 1.0),
            (&b, -5, 0.0),
            (&a, 2, stale),
            (&b, i64::MAX, -0.0),
        ];
        let body = encode_write_request(samples.iter().copied());
        let request: WriteRequest = codec::decode(&body).unwrap();
        assert_eq!(request.timeseries.len(), 2);
        let first = &request.timeseries[0];
        assert_eq!(first.labels.len(), 2);
        assert_eq!(first.labels[1].value.len(), 200);
        assert_eq!(first.samples.len(), 2);
        assert_eq!(
            first.samples[1].value.to_bits(),
            crate::model::STALE_NAN_BITS
        );
        let second = &request.timeseries[1];
        assert_eq!(second.samples[0].timestamp, -5);
        assert_eq!(second.samples[1].timestamp, i64::MAX);
        assert_eq!(second.samples[1].value.to_bits(), (-0.0f64).to_bits());
    }
}
