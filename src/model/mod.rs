//! The data model shared by every stage: labels, samples, matchers, metadata,
//! the exposition parsers and relabeling.

pub mod labels;
pub mod matcher;
pub mod metadata;
pub mod relabel;
pub mod sample;
pub mod textparse;

pub use labels::{Label, Labels, LabelsBuilder, METRIC_NAME, ScratchBuilder};
pub use matcher::{MatchType, Matcher};
pub use metadata::{Metadata, MetricType};
pub use sample::{STALE_NAN_BITS, Sample, is_stale_nan, stale_nan};
