//! Recording and alerting rules: rule files ([`file`](mod@file)), groups evaluated
//! on their interval ([`group`], [`manager`]), the alert state machine
//! ([`alerting`]), restore after restart ([`restore`]), alert templates
//! ([`template`]) and `promshard test rules` ([`unittest`]).
//!
//! Evaluation reads only through a [`QueryFn`] (the node passes one over
//! its fan-out view, the global view in a cluster), writes through
//! [`crate::storage::Appendable`] and hands alerts to a
//! [`crate::notify::AlertSink`].

pub mod alerting;
pub mod file;
pub mod group;
pub mod manager;
pub mod metrics;
pub mod recording;
pub mod restore;
pub mod template;
pub mod unittest;

use std::sync::Arc;

use crate::model::Labels;
use crate::promql::{Engine, InstantSample, Value};
use crate::storage::Queryable;

pub use manager::{RuleManager, RuleManagerError, RuleManagerOptions};

/// Runs an instant query for a rule: expression and time (ms) in, an
/// instant vector out (a scalar becomes one sample without labels).
pub type QueryFn = Arc<dyn Fn(&str, i64) -> Result<Vec<InstantSample>, String> + Send + Sync>;

/// A [`QueryFn`] evaluating with `engine` over `queryable`.
pub fn engine_query_fn(engine: Arc<Engine>, queryable: Arc<dyn Queryable>) -> QueryFn {
    Arc::new(move |expression: &str, time_ms: i64| {
        let result = engine
            .instant_query(queryable.as_ref(), expression, time_ms)
            .map_err(|error| error.to_string())?;
        match result.value {
            Value::Vector(samples) => Ok(samples),
            Value::Scalar { t, v } => Ok(vec![InstantSample {
                labels: Labels::empty(),
                t,
                v,
            }]),
            other => Err(format!(
                "rule result is not a vector or scalar: {}",
                other.type_name()
            )),
        }
    })
}

/// The health of a rule's last evaluation, as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuleHealth {
    /// Not evaluated yet.
    #[default]
    Unknown,
    /// The last evaluation succeeded.
    Good,
    /// The last evaluation failed.
    Bad,
}

impl RuleHealth {
    /// `unknown`, `ok` or `err`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleHealth::Unknown => "unknown",
            RuleHealth::Good => "ok",
            RuleHealth::Bad => "err",
        }
    }
}
