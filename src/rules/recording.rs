//! Recording rules: the expression's result under a new metric name, with
//! the rule's labels.

use std::collections::{BTreeMap, HashSet};

use crate::model::{Labels, LabelsBuilder};
use crate::promql::InstantSample;

/// Why a recording rule's evaluation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RecordingError {
    /// Two samples produced the same output series.
    #[error("vector contains metrics with the same labelset after applying rule labels")]
    DuplicateLabelSet,
    /// More series than the group's `limit`.
    #[error("exceeded limit of {limit} with {count} series")]
    LimitExceeded {
        /// The limit.
        limit: usize,
        /// How many series there were.
        count: usize,
    },
}

/// A recording rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingRule {
    /// The metric name written.
    pub name: String,
    /// The expression.
    pub expr: String,
    /// Labels set on every output series (group labels under the rule's).
    pub labels: BTreeMap<String, String>,
}

impl RecordingRule {
    /// The series to write for one evaluation's `samples`.
    pub fn output(
        &self,
        samples: &[InstantSample],
        limit: usize,
    ) -> Result<Vec<(Labels, f64)>, RecordingError> {
        let mut seen = HashSet::with_capacity(samples.len());
        let mut out = Vec::with_capacity(samples.len());
        for sample in samples {
            let mut builder = LabelsBuilder::new(&sample.labels);
            builder.set("__name__", &self.name);
            for (name, value) in &self.labels {
                builder.set(name, value);
            }
            let labels = builder.build();
            if !seen.insert(labels.clone()) {
                return Err(RecordingError::DuplicateLabelSet);
            }
            out.push((labels, sample.v));
        }
        if limit > 0 && out.len() > limit {
            return Err(RecordingError::LimitExceeded {
                limit,
                count: out.len(),
            });
        }
        Ok(out)
    }
}
