//! The push path: a decoded remote-write request appended through the
//! [`Appendable`] seam in one transaction, with Prometheus's outcomes.
//!
//! As in Prometheus: a series with invalid labels is skipped (and counted)
//! while the rest is kept; an out-of-order, out-of-bounds or duplicate
//! sample rejects the whole request with a 400 naming the series, so the
//! sender does not retry it; a storage failure is a 500, which it retries.

use crate::model::{Labels, METRIC_NAME, ScratchBuilder};
use crate::storage::{AppendError, Appendable, SeriesRef, StorageError};

use super::codec::CodecError;
use super::proto::{TimeSeries, WriteRequest};

/// Why a push was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReceiveError {
    /// The body did not decode.
    #[error("{0}")]
    Decode(#[from] CodecError),
    /// A sample was refused by the store.
    #[error("{kind} for series {series} at timestamp {timestamp}")]
    Rejected {
        /// Which refusal (out of order, out of bounds, duplicate).
        kind: AppendError,
        /// The series.
        series: String,
        /// The sample's timestamp.
        timestamp: i64,
    },
    /// The store failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
}

impl ReceiveError {
    /// The HTTP status Prometheus answers with: 400 for anything the sender
    /// must not retry, 500 for a store failure (retried).
    pub fn http_status(&self) -> u16 {
        match self {
            ReceiveError::Decode(_) | ReceiveError::Rejected { .. } => 400,
            ReceiveError::Storage(_) => 500,
        }
    }
}

/// What a successful push did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiveOutcome {
    /// Samples appended.
    pub samples: usize,
    /// Series skipped for invalid labels (no name, empty or duplicate names).
    pub invalid_series: usize,
    /// Samples in those skipped series.
    pub invalid_samples: usize,
    /// Native histogram samples, which are not stored yet.
    pub unsupported_histograms: usize,
}

/// Builds the label set of a pushed series, or says why it is invalid.
fn series_labels(series: &TimeSeries, builder: &mut ScratchBuilder) -> Result<Labels, String> {
    builder.reset();
    let mut has_name = false;
    for (i, label) in series.labels.iter().enumerate() {
        if label.name.is_empty() {
            return Err("empty label name".into());
        }
        if series.labels[..i].iter().any(|l| l.name == label.name) {
            return Err(format!("duplicate label name {:?}", label.name));
        }
        if label.name == METRIC_NAME && !label.value.is_empty() {
            has_name = true;
        }
        builder.add(&label.name, &label.value);
    }
    if !has_name {
        return Err("series has no metric name".into());
    }
    Ok(builder.labels())
}

/// Appends every sample of `request` in one transaction. On a refused sample
/// the transaction is rolled back and nothing of the request is kept.
pub fn receive(
    appendable: &dyn Appendable,
    request: &WriteRequest,
) -> Result<ReceiveOutcome, ReceiveError> {
    let mut appender = appendable.appender();
    let mut outcome = ReceiveOutcome::default();
    let mut builder = ScratchBuilder::default();
    for series in &request.timeseries {
        outcome.unsupported_histograms += series.histograms.len();
        let labels = match series_labels(series, &mut builder) {
            Ok(labels) => labels,
            Err(reason) => {
                tracing::warn!(reason = %reason, samples = series.samples.len(), "remote write: skipping series with invalid labels");
                outcome.invalid_series += 1;
                outcome.invalid_samples += series.samples.len();
                continue;
            }
        };
        let mut reference = SeriesRef::UNKNOWN;
        for sample in &series.samples {
            match appender.append_ref(reference, &labels, sample.timestamp, sample.value) {
                Ok(next) => {
                    reference = next;
                    outcome.samples += 1;
                }
                Err(AppendError::Storage(error)) => {
                    let _ = appender.rollback();
                    return Err(ReceiveError::Storage(error));
                }
                Err(kind) => {
                    tracing::error!(err = %kind, series = %labels, timestamp = sample.timestamp, "remote write: refused sample");
                    let _ = appender.rollback();
                    return Err(ReceiveError::Rejected {
                        kind,
                        series: labels.to_string(),
                        timestamp: sample.timestamp,
                    });
                }
            }
        }
    }
    appender.commit()?;
    if outcome.unsupported_histograms > 0 {
        tracing::warn!(
            count = outcome.unsupported_histograms,
            "remote write: native histogram samples are not supported and were not stored"
        );
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::proto::{Label, Sample};
    use crate::storage::memory::MemStorage;

    fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels: labels
                .iter()
                .map(|(n, v)| Label {
                    name: n.to_string(),
                    value: v.to_string(),
                })
                .collect(),
            samples: samples
                .iter()
                .map(|&(timestamp, value)| Sample { value, timestamp })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn appends_valid_series_and_skips_invalid_ones() {
        let store = MemStorage::new();
        let request = WriteRequest {
            timeseries: vec![
                series(&[("__name__", "a"), ("job", "x")], &[(1, 1.0), (2, 2.0)]),
                series(&[("job", "no-name")], &[(1, 1.0)]),
                series(&[("__name__", "b"), ("l", "1"), ("l", "2")], &[(1, 1.0)]),
            ],
            metadata: vec![],
        };
        let outcome = receive(&store, &request).unwrap();
        assert_eq!(outcome.samples, 2);
        assert_eq!(outcome.invalid_series, 2);
        let labels = Labels::from_pairs(&[("__name__", "a"), ("job", "x")]);
        assert_eq!(store.samples(&labels), Some(vec![(1, 1.0), (2, 2.0)]));
    }

    #[test]
    fn out_of_order_rejects_the_request_naming_the_series() {
        let store = MemStorage::new();
        let request = WriteRequest {
            timeseries: vec![
                series(&[("__name__", "ok")], &[(1, 1.0)]),
                series(
                    &[("__name__", "late"), ("job", "j")],
                    &[(10, 1.0), (5, 1.0)],
                ),
            ],
            metadata: vec![],
        };
        let error = receive(&store, &request).unwrap_err();
        assert_eq!(error.http_status(), 400);
        let message = error.to_string();
        assert!(
            message.contains("out of order sample")
                && message.contains("late")
                && message.contains('5'),
            "{message}"
        );
        assert!(store.dump().is_empty(), "the request was rolled back");
    }

    #[test]
    fn duplicate_timestamp_with_other_value_is_named() {
        let store = MemStorage::new();
        let request = WriteRequest {
            timeseries: vec![series(&[("__name__", "d")], &[(10, 1.0), (10, 2.0)])],
            metadata: vec![],
        };
        let error = receive(&store, &request).unwrap_err();
        assert!(
            error.to_string().contains("duplicate sample for timestamp"),
            "{error}"
        );
    }
}
