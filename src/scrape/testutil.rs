//! A recording, error-injecting [`Appendable`] for the scrape tests.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::model::Labels;
use crate::storage::{AppendError, Appendable, Appender, SeriesRef, StorageError};

/// One committed sample.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedSample {
    pub labels: Labels,
    pub t: i64,
    pub v: f64,
}

#[derive(Default)]
struct Shared {
    committed: Vec<Vec<RecordedSample>>,
    rollbacks: usize,
    /// Series (by metric name) whose appends fail with the given error.
    failures: HashMap<String, AppendError>,
    fail_commit: bool,
}

/// Records committed transactions; can be told to refuse samples of a
/// metric with a given [`AppendError`], or to fail commits.
#[derive(Clone, Default)]
pub struct RecordingAppendable {
    shared: Arc<Mutex<Shared>>,
}

impl RecordingAppendable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends of series named `metric` fail with `error` from now on.
    pub fn fail_metric(&self, metric: &str, error: AppendError) {
        self.shared
            .lock()
            .failures
            .insert(metric.to_string(), error);
    }

    pub fn fail_commits(&self, fail: bool) {
        self.shared.lock().fail_commit = fail;
    }

    /// Committed transactions, oldest first.
    pub fn transactions(&self) -> Vec<Vec<RecordedSample>> {
        self.shared.lock().committed.clone()
    }

    pub fn rollbacks(&self) -> usize {
        self.shared.lock().rollbacks
    }

    /// The last committed transaction.
    pub fn last(&self) -> Vec<RecordedSample> {
        self.shared
            .lock()
            .committed
            .last()
            .cloned()
            .unwrap_or_default()
    }
}

/// The value of the series named `name` in `samples` (first match).
pub fn value_of(samples: &[RecordedSample], name: &str) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.labels.metric_name() == Some(name))
        .map(|s| s.v)
}

struct RecordingAppender {
    shared: Arc<Mutex<Shared>>,
    pending: Vec<RecordedSample>,
}

impl Appendable for RecordingAppendable {
    fn appender(&self) -> Box<dyn Appender> {
        Box::new(RecordingAppender {
            shared: self.shared.clone(),
            pending: Vec::new(),
        })
    }
}

impl Appender for RecordingAppender {
    fn append_ref(
        &mut self,
        _cached: SeriesRef,
        labels: &Labels,
        t: i64,
        v: f64,
    ) -> Result<SeriesRef, AppendError> {
        if let Some(error) = labels
            .metric_name()
            .and_then(|name| self.shared.lock().failures.get(name).cloned())
        {
            return Err(error);
        }
        self.pending.push(RecordedSample {
            labels: labels.clone(),
            t,
            v,
        });
        Ok(SeriesRef(labels.stable_hash() | 1))
    }

    fn commit(self: Box<Self>) -> Result<(), StorageError> {
        let mut shared = self.shared.lock();
        if shared.fail_commit {
            return Err(StorageError::Io("injected commit failure".into()));
        }
        shared.committed.push(self.pending);
        Ok(())
    }

    fn rollback(self: Box<Self>) -> Result<(), StorageError> {
        self.shared.lock().rollbacks += 1;
        Ok(())
    }
}
