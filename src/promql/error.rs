//! Why a query failed, with Prometheus's error types.

use crate::storage::StorageError;

/// A failed query. [`QueryError::error_type`] gives the `errorType` of the
/// HTTP API and [`QueryError::http_status`] its status code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// The query or a parameter is malformed (a parse error, a bad argument).
    #[error("{0}")]
    BadData(String),
    /// The query is well formed but failed while it ran (e.g. many-to-many
    /// matching, a duplicate label set).
    #[error("{0}")]
    Execution(String),
    /// The query would hold more samples in memory than `max_samples`.
    #[error("query processing would load too many samples into memory in {0}")]
    TooManySamples(&'static str),
    /// The query ran past its timeout.
    #[error("query timed out in {0}")]
    Timeout(&'static str),
    /// The query was cancelled by its caller.
    #[error("query was canceled in {0}")]
    Canceled(&'static str),
    /// Reading the data failed.
    #[error("{0}")]
    Storage(StorageError),
    /// A bug in the engine (caught at the API boundary).
    #[error("{0}")]
    Internal(String),
}

impl QueryError {
    /// The Prometheus `errorType`: `bad_data`, `execution`, `timeout`,
    /// `canceled` or `internal`.
    pub fn error_type(&self) -> &'static str {
        match self {
            QueryError::BadData(_) => "bad_data",
            QueryError::Execution(_) | QueryError::TooManySamples(_) => "execution",
            QueryError::Timeout(_) => "timeout",
            QueryError::Canceled(_) => "canceled",
            QueryError::Storage(StorageError::Canceled(_)) => "canceled",
            QueryError::Storage(_) => "execution",
            QueryError::Internal(_) => "internal",
        }
    }

    /// The HTTP status Prometheus answers with for this error type.
    pub fn http_status(&self) -> u16 {
        match self.error_type() {
            "bad_data" => 400,
            "execution" => 422,
            "timeout" | "canceled" => 503,
            _ => 500,
        }
    }
}

impl From<StorageError> for QueryError {
    fn from(error: StorageError) -> Self {
        QueryError::Storage(error)
    }
}
