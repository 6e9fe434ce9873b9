//! One module per node_exporter collector, each reading its `/proc` file (or
//! system call) and writing node_exporter's families.
//!
//! Parsing is separate from reading: each collector's `write_*` function takes
//! the file's text, so unit tests feed it fixtures. Per-scrape scratch space
//! (vectors, name buffers) lives in the collector structs and is reused.

pub mod diskstats;
pub mod filesystem;
pub mod loadavg;
pub mod meminfo;
pub mod netdev;
pub mod process;
pub mod stat;
pub mod statfs_worker;
pub mod uname;

use std::io::Read as _;
use std::path::{Path, PathBuf};

/// Why a collector produced nothing in this scrape.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The source file could not be opened or read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file that failed.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The source file's content was not in the expected shape.
    #[error("malformed {file} at line {line}: {reason}")]
    Malformed {
        /// The file's name (e.g. `stat`, `net/dev`).
        file: &'static str,
        /// The 1-based line number.
        line: usize,
        /// What was wrong.
        reason: &'static str,
    },
}

/// Replaces `buffer`'s content with the file at `path`, keeping its allocation.
pub fn read_file_into(path: &Path, buffer: &mut String) -> Result<(), CollectError> {
    buffer.clear();
    std::fs::File::open(path)
        .and_then(|mut file| file.read_to_string(buffer))
        .map(|_| ())
        .map_err(|source| CollectError::Read {
            path: path.to_path_buf(),
            source,
        })
}

/// Parses an unsigned decimal field, naming the file and line when it is not one.
pub(crate) fn parse_u64_field(
    field: Option<&str>,
    file: &'static str,
    line: usize,
) -> Result<u64, CollectError> {
    let Some(field) = field else {
        return Err(CollectError::Malformed {
            file,
            line,
            reason: "missing field",
        });
    };
    field.parse::<u64>().map_err(|_| CollectError::Malformed {
        file,
        line,
        reason: "field is not an unsigned integer",
    })
}
