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
mod ast_json;
mod binary;
mod engine;
mod error;
mod eval;
mod functions;
mod histogram;
pub mod metrics;
mod range_functions;
mod value;

pub use engine::{Engine, EngineOptions, QueryResult};
pub use error::QueryError;
pub use value::{InstantSample, RangeSeries, Value, format_float, format_float_text};

use crate::model::Matcher;

/// Parses a series selector (a `match[]` parameter) into matchers.
pub fn parse_series_selector(text: &str) -> Result<Vec<Matcher>, QueryError> {
    let expr = engine::parse(text)?;
    match expr {
        promql_parser::parser::Expr::VectorSelector(selector) => eval::convert_matchers(&selector),
        _ => Err(QueryError::BadData(format!(
            "expected a series selector, got {text:?}"
        ))),
    }
}

/// The query pretty-printed as Prometheus's `/api/v1/format_query` does.
pub fn format_query(text: &str) -> Result<String, QueryError> {
    Ok(engine::parse(text)?.prettify())
}

/// The query's syntax tree as JSON (`/api/v1/parse_query`).
pub fn parse_query_json(text: &str) -> Result<serde_json::Value, QueryError> {
    Ok(ast_json::translate(&engine::parse(text)?))
}

#[cfg(test)]
mod tests;
