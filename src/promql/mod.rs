//! The PromQL evaluation engine.
//!
//! Queries are parsed by the `promql-parser` crate; evaluation is ours and
//! follows Prometheus 3: a 5m lookback delta, left-open range selectors,
//! staleness markers, `@` and `offset`, subqueries, delayed `__name__`
//! removal, and Prometheus's warnings and infos. Data is read only through
//! [`crate::storage::Queryable`].
//!
//! Every expression is evaluated over a grid of steps at once (an instant
//! query is a one-step grid), so a range query is one pass over the data.

mod aggregate;
mod binary;
mod engine;
mod error;
mod eval;
mod functions;
mod histogram;
mod range_functions;
mod value;

pub use engine::{Engine, EngineOptions, QueryResult};
pub use error::QueryError;
pub use value::{InstantSample, RangeSeries, Value, format_float};
