//! Small JSON state files (silences, the notification log), replaced
//! atomically: written to a temporary file, synced, then renamed over the
//! old one, so a crash leaves either the old or the new content.

use std::io::Write;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::NotifyError;

/// Writes `value` as JSON to `path` atomically, creating the directory.
pub fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<(), NotifyError> {
    let io_error = |source: std::io::Error| NotifyError::Persist {
        path: path.display().to_string(),
        message: source.to_string(),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_error)?;
    }
    let bytes = serde_json::to_vec(value).map_err(|e| NotifyError::Persist {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let temporary = path.with_extension("tmp");
    let mut file = std::fs::File::create(&temporary).map_err(io_error)?;
    file.write_all(&bytes).map_err(io_error)?;
    file.sync_all().map_err(io_error)?;
    std::fs::rename(&temporary, path).map_err(io_error)
}

/// Reads JSON from `path`; `None` when the file does not exist.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, NotifyError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(NotifyError::Persist {
                path: path.display().to_string(),
                message: error.to_string(),
            });
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| NotifyError::Persist {
            path: path.display().to_string(),
            message: format!("corrupt state file: {e}"),
        })
}
