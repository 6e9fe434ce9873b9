//! The storage contract: how every stage writes and reads series.
//!
//! Writers (scrape, recording rules, the remote-write receiver) see only
//! [`Appendable`]; readers (the PromQL engine, the HTTP API, remote read)
//! see only [`Queryable`]. The local TSDB implements both; the cluster's
//! fan-out querier is one more [`Queryable`]. No stage reaches past these
//! traits into an implementation.

pub mod admin;
pub mod fanout;
pub mod memory;
pub mod merge;

use crate::model::{Labels, Matcher};

/// An opaque handle to a series inside one [`Appendable`], returned by
/// [`Appender::append_ref`] so that hot writers (the scrape loop) can skip
/// the label lookup on the next append of the same series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SeriesRef(pub u64);

impl SeriesRef {
    /// "No reference known": the implementation looks the series up by labels.
    pub const UNKNOWN: SeriesRef = SeriesRef(0);

    /// Whether this is [`SeriesRef::UNKNOWN`].
    pub fn is_unknown(self) -> bool {
        self.0 == 0
    }
}

/// Why one sample was refused. Each outcome is its own variant so that
/// callers can count them separately (as Prometheus's scrape loop does).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AppendError {
    /// Older than the newest sample of its series, and out-of-order
    /// ingestion is off or the sample is older than its window.
    #[error("out of order sample")]
    OutOfOrder,
    /// Outside the time window the store accepts (too old for the head).
    #[error("out of bounds")]
    OutOfBounds,
    /// With out-of-order ingestion on, older than the window allows (what
    /// [`AppendError::OutOfOrder`] and [`AppendError::OutOfBounds`] become
    /// then, as in Prometheus).
    #[error("too old sample")]
    TooOldSample,
    /// Same timestamp as the newest sample of its series, different value.
    /// (The same timestamp with the same value is accepted silently.)
    #[error("duplicate sample for timestamp")]
    DuplicateSampleForTimestamp,
    /// The label set cannot name a series (empty, or a duplicate name).
    #[error("invalid labels: {0}")]
    InvalidLabels(String),
    /// The store could not take the sample at all.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A failure of the store itself, not of one sample.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StorageError {
    /// Reading or writing the disk failed.
    #[error("i/o error: {0}")]
    Io(String),
    /// On-disk data did not decode.
    #[error("corruption: {0}")]
    Corruption(String),
    /// The store is closed or shutting down.
    #[error("storage is closed")]
    Closed,
    /// A remote store (peer or remote-read endpoint) failed.
    #[error("remote storage: {0}")]
    Remote(String),
    /// The query was cancelled or ran out of time.
    #[error("query canceled: {0}")]
    Canceled(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl From<std::io::Error> for StorageError {
    fn from(e: std::io::Error) -> Self {
        StorageError::Io(e.to_string())
    }
}

/// Something that hands out [`Appender`]s. Implementations are shared
/// between threads; each appender is used by one task at a time.
pub trait Appendable: Send + Sync {
    /// A new transaction. Nothing appended to it is visible to readers until
    /// [`Appender::commit`].
    fn appender(&self) -> Box<dyn Appender>;
}

/// One write transaction (one scrape, one rule evaluation, one remote-write
/// request).
///
/// Contract:
/// - Every appender must end with exactly one call to [`Appender::commit`]
///   or [`Appender::rollback`]; dropping it without either is a rollback.
/// - Samples of one series must be appended in timestamp order; an
///   out-of-order sample fails with [`AppendError::OutOfOrder`] and does not
///   poison the transaction: the caller counts it and goes on. A store with
///   an out-of-order window (the TSDB's `storage.tsdb.
///   out_of_order_time_window`) accepts late samples inside it instead.
/// - After `commit` returns `Ok`, the samples are visible to every new
///   querier and are durable as far as the store promises (the TSDB: in its
///   WAL).
pub trait Appender: Send {
    /// Appends one sample. `cached` is a reference returned earlier by this
    /// same [`Appendable`] for these labels, or [`SeriesRef::UNKNOWN`]. The
    /// implementation may trust a known reference instead of the labels, but
    /// must fall back to the labels if the reference is no longer valid. The
    /// returned reference may be cached by the caller for the next append.
    fn append_ref(
        &mut self,
        cached: SeriesRef,
        labels: &Labels,
        t: i64,
        v: f64,
    ) -> Result<SeriesRef, AppendError>;

    /// Appends one sample, looking the series up by its labels.
    fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef, AppendError> {
        self.append_ref(SeriesRef::UNKNOWN, labels, t, v)
    }

    /// Makes every sample appended so far visible and durable.
    fn commit(self: Box<Self>) -> Result<(), StorageError>;

    /// Discards every sample appended so far.
    fn rollback(self: Box<Self>) -> Result<(), StorageError>;
}

/// What a query intends to do with a selection; implementations may use it
/// to skip work (a remote peer, a downsampled resolution). Never required
/// for correctness.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SelectHints {
    /// Start of the needed data, milliseconds.
    pub start: i64,
    /// End of the needed data, milliseconds.
    pub end: i64,
    /// Query step in milliseconds (0 for instant queries).
    pub step: i64,
    /// Range of a range selector in milliseconds (0 for instant vectors).
    pub range: i64,
    /// The function applied to the selection, if any (e.g. `rate`).
    pub func: Option<String>,
    /// Grouping labels of the enclosing aggregation.
    pub grouping: Vec<String>,
    /// Whether `grouping` is `by` (true) or `without` (false).
    pub by: bool,
}

/// Something that hands out [`Querier`]s over a time window.
pub trait Queryable: Send + Sync {
    /// A querier over samples with `mint <= t <= maxt` (milliseconds).
    /// The querier sees a consistent snapshot as far as the store can give
    /// one; it must not block writers for its lifetime.
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier>, StorageError>;
}

/// Reads series, label names and label values in one time window.
pub trait Querier: Send + Sync {
    /// The series matching every matcher (at least one matcher should not
    /// match the empty string; callers enforce that for user queries). With
    /// `sorted`, series come in label order ([`Labels`]'s `Ord`); the series
    /// set is lazy: samples are decoded only when iterated.
    fn select(
        &self,
        sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Box<dyn SeriesSet>;

    /// Sorted, unique values of label `name` over series matching
    /// `matchers` (all series when empty).
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, StorageError>;

    /// Sorted, unique label names over series matching `matchers` (all
    /// series when empty).
    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, StorageError>;

    /// Warnings of the `label_values`/`label_names` calls made so far (a
    /// fan-out's source that failed, leaving the answer partial).
    fn label_warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A lazily produced sequence of series.
pub trait SeriesSet: Send {
    /// The next series, or `None` at the end or on error (see
    /// [`SeriesSet::err`]).
    fn next(&mut self) -> Option<Box<dyn Series>>;

    /// The error that ended iteration early, if any.
    fn err(&self) -> Option<StorageError> {
        None
    }

    /// Non-fatal problems, such as a peer that did not answer (a partial
    /// result). Complete only after iteration ended.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

/// One series: its labels and a way to iterate its samples.
pub trait Series: Send + Sync {
    /// The series' labels.
    fn labels(&self) -> &Labels;

    /// A fresh iterator over the samples inside the querier's window, in
    /// timestamp order.
    fn iter(&self) -> Box<dyn SampleIterator>;
}

/// Iterates over the samples of one series in timestamp order.
pub trait SampleIterator: Send {
    /// Advances and returns the next sample.
    fn next(&mut self) -> Option<(i64, f64)>;

    /// Advances to the first sample with timestamp `>= t` and returns it. If
    /// the current sample already qualifies, returns it without advancing.
    /// The default walks with [`SampleIterator::next`]; chunked stores
    /// override it to skip whole chunks.
    fn seek(&mut self, t: i64) -> Option<(i64, f64)> {
        if let Some(current) = self.at()
            && current.0 >= t
        {
            return Some(current);
        }
        while let Some(sample) = self.next() {
            if sample.0 >= t {
                return Some(sample);
            }
        }
        None
    }

    /// The sample last returned by `next` or `seek`, if any.
    fn at(&self) -> Option<(i64, f64)>;

    /// The error that ended iteration early, if any.
    fn err(&self) -> Option<StorageError> {
        None
    }
}

/// A [`SeriesSet`] over series that are already in memory.
pub struct VecSeriesSet {
    series: std::vec::IntoIter<Box<dyn Series>>,
    error: Option<StorageError>,
    warnings: Vec<String>,
}

impl VecSeriesSet {
    /// A set yielding `series` in the given order.
    pub fn new(series: Vec<Box<dyn Series>>) -> Self {
        VecSeriesSet {
            series: series.into_iter(),
            error: None,
            warnings: Vec::new(),
        }
    }

    /// An empty set that reports `error`.
    pub fn failed(error: StorageError) -> Self {
        VecSeriesSet {
            series: Vec::new().into_iter(),
            error: Some(error),
            warnings: Vec::new(),
        }
    }

    /// Adds warnings to report.
    pub fn with_warnings(mut self, warnings: Vec<String>) -> Self {
        self.warnings = warnings;
        self
    }
}

impl SeriesSet for VecSeriesSet {
    fn next(&mut self) -> Option<Box<dyn Series>> {
        self.series.next()
    }

    fn err(&self) -> Option<StorageError> {
        self.error.clone()
    }

    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }
}

/// A series whose samples are held in a shared vector.
#[derive(Clone)]
pub struct VecSeries {
    labels: Labels,
    samples: std::sync::Arc<[(i64, f64)]>,
}

impl VecSeries {
    /// A series over `samples`, which must be in timestamp order.
    pub fn new(labels: Labels, samples: impl Into<std::sync::Arc<[(i64, f64)]>>) -> Self {
        VecSeries {
            labels,
            samples: samples.into(),
        }
    }
}

impl Series for VecSeries {
    fn labels(&self) -> &Labels {
        &self.labels
    }

    fn iter(&self) -> Box<dyn SampleIterator> {
        Box::new(VecSampleIterator {
            samples: self.samples.clone(),
            next_index: 0,
        })
    }
}

/// Iterates over a shared, time-ordered vector of samples.
pub struct VecSampleIterator {
    samples: std::sync::Arc<[(i64, f64)]>,
    next_index: usize,
}

impl SampleIterator for VecSampleIterator {
    fn next(&mut self) -> Option<(i64, f64)> {
        let sample = self.samples.get(self.next_index).copied();
        if sample.is_some() {
            self.next_index += 1;
        }
        sample
    }

    fn seek(&mut self, t: i64) -> Option<(i64, f64)> {
        if let Some(current) = self.at()
            && current.0 >= t
        {
            return Some(current);
        }
        let rest = &self.samples[self.next_index..];
        let skip = rest.partition_point(|s| s.0 < t);
        self.next_index += skip;
        self.next()
    }

    fn at(&self) -> Option<(i64, f64)> {
        self.next_index
            .checked_sub(1)
            .and_then(|i| self.samples.get(i).copied())
    }
}
