//! The TSDB's error type.

use std::path::PathBuf;

use crate::storage::StorageError;

/// Everything that can go wrong opening, writing or maintaining the TSDB.
#[derive(Debug, thiserror::Error)]
pub enum TsdbError {
    /// A file operation failed.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Another process (or another `Db` in this one) holds the directory.
    #[error(
        "storage directory {path} is locked by another process (lock file {lock_file}); stop it or use --storage.tsdb.no-lockfile"
    )]
    Locked {
        /// The data directory.
        path: PathBuf,
        /// The lock file.
        lock_file: PathBuf,
    },
    /// On-disk data did not decode.
    #[error("corruption in {path}: {message}")]
    Corruption {
        /// The file or directory involved.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// The write-ahead log failed.
    #[error(transparent)]
    Wal(#[from] crate::tsdb::wal::WalError),
    /// A tombstones file could not be read or written.
    #[error(transparent)]
    Tombstones(#[from] crate::tsdb::tombstones::TombstoneError),
    /// The database was closed.
    #[error("tsdb is closed")]
    Closed,
    /// Invalid options or arguments.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl TsdbError {
    /// An [`TsdbError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TsdbError::Io {
            path: path.into(),
            source,
        }
    }

    /// A [`TsdbError::Corruption`] for `path`.
    pub fn corruption(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        TsdbError::Corruption {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl From<TsdbError> for StorageError {
    fn from(error: TsdbError) -> Self {
        match error {
            TsdbError::Io { .. } => StorageError::Io(error.to_string()),
            TsdbError::Corruption { .. } => StorageError::Corruption(error.to_string()),
            TsdbError::Closed => StorageError::Closed,
            other => StorageError::Other(other.to_string()),
        }
    }
}
