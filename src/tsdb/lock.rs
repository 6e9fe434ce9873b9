//! The `lock` file that stops two processes from sharing a data directory.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use super::TsdbError;

/// An exclusive advisory lock on `<dir>/lock`, released when dropped (or
/// when the process dies, so a crash never leaves a stale lock behind).
#[derive(Debug)]
pub(crate) struct DirectoryLock {
    _file: File,
    path: PathBuf,
}

impl DirectoryLock {
    /// Takes the lock or fails with [`TsdbError::Locked`].
    pub fn acquire(dir: &Path) -> Result<Self, TsdbError> {
        let path = dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| TsdbError::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {
                tracing::debug!(lock_file = %path.display(), "tsdb directory locked");
                Ok(DirectoryLock { _file: file, path })
            }
            Err(std::fs::TryLockError::WouldBlock) => Err(TsdbError::Locked {
                path: dir.to_path_buf(),
                lock_file: path,
            }),
            Err(std::fs::TryLockError::Error(error)) => Err(TsdbError::io(&path, error)),
        }
    }
}

impl Drop for DirectoryLock {
    fn drop(&mut self) {
        tracing::debug!(lock_file = %self.path.display(), "tsdb directory lock released");
    }
}
