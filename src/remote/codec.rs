//! Encoding and decoding of remote-write/read bodies: protobuf inside the
//! snappy *block* format (never the framed one), as the spec requires.

use prost::Message;

/// The largest decoded body accepted (Prometheus's default is 32 MiB for
/// remote write; remote read uses the same bound here).
pub const MAX_DECODED_BODY: usize = 32 << 20;

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CodecError {
    /// Not valid snappy block data.
    #[error("snappy decode: {0}")]
    Snappy(String),
    /// Decoded length over [`MAX_DECODED_BODY`].
    #[error("decoded body of {0} bytes is over the limit of {MAX_DECODED_BODY} bytes")]
    TooLarge(usize),
    /// Not a valid protobuf message of the expected type.
    #[error("protobuf decode: {0}")]
    Protobuf(String),
}

/// Snappy-compresses an encoded message (block format).
pub fn encode<M: Message>(message: &M) -> Vec<u8> {
    let raw = message.encode_to_vec();
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .unwrap_or_else(|_| Vec::new())
}

/// Decompresses and decodes a message, bounding the decoded size before
/// allocating it.
pub fn decode<M: Message + Default>(body: &[u8]) -> Result<M, CodecError> {
    let length = snap::raw::decompress_len(body).map_err(|e| CodecError::Snappy(e.to_string()))?;
    if length > MAX_DECODED_BODY {
        return Err(CodecError::TooLarge(length));
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| CodecError::Snappy(e.to_string()))?;
    M::decode(raw.as_slice()).map_err(|e| CodecError::Protobuf(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::proto::{Label, Sample, TimeSeries, WriteRequest};

    #[test]
    fn round_trip() {
        let request = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label {
                    name: "__name__".into(),
                    value: "up".into(),
                }],
                samples: vec![Sample {
                    value: f64::from_bits(crate::model::STALE_NAN_BITS),
                    timestamp: 5,
                }],
                ..Default::default()
            }],
            metadata: vec![],
        };
        let body = encode(&request);
        let decoded: WriteRequest = decode(&body).unwrap();
        assert_eq!(
            decoded.timeseries[0].samples[0].value.to_bits(),
            crate::model::STALE_NAN_BITS
        );
        assert_eq!(decoded.timeseries[0].labels, request.timeseries[0].labels);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for body in [
            &b""[..],
            b"\xff\xff\xff\xff\xff",
            b"not snappy at all",
            &[0u8; 64],
        ] {
            let _ = decode::<WriteRequest>(body);
        }
        assert!(matches!(
            decode::<WriteRequest>(b"\xff\xff\xff\xff\x7f"),
            Err(CodecError::TooLarge(_)) | Err(CodecError::Snappy(_))
        ));
        // Valid snappy around invalid protobuf.
        let body = snap::raw::Encoder::new()
            .compress_vec(b"\x0a\xff\xff\xff")
            .unwrap();
        assert!(matches!(
            decode::<WriteRequest>(&body),
            Err(CodecError::Protobuf(_))
        ));
    }
}
