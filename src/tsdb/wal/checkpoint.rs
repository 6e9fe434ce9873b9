//! Checkpoints: when the head is truncated, the segments it no longer needs
//! are summarised into `checkpoint.NNNNNNNN/` (the series still in the head
//! and their samples newer than the truncation time), then deleted.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::records::{self, Record};
use super::{WalError, frame_record, list_segments, read_segment_records, segment_path, sync_dir};

const PREFIX: &str = "checkpoint.";

/// A checkpoint directory and the last segment it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The checkpoint directory (its records are in segment files inside).
    pub dir: PathBuf,
    /// Segments up to and including this one are summarised.
    pub index: u32,
}

/// The newest complete checkpoint in `wal_dir`, if any.
pub fn last_checkpoint(wal_dir: &Path) -> Result<Option<Checkpoint>, WalError> {
    Ok(list_checkpoints(wal_dir)?.pop())
}

fn list_checkpoints(wal_dir: &Path) -> Result<Vec<Checkpoint>, WalError> {
    let entries = match fs::read_dir(wal_dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(WalError::io(wal_dir, error)),
    };
    let mut checkpoints = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(number) = name.strip_prefix(PREFIX) else {
            continue;
        };
        if number.len() != 8 || !number.bytes().all(|b| b.is_ascii_digit()) {
            // Includes unfinished `checkpoint.N.tmp` directories.
            continue;
        }
        if let Ok(index) = number.parse::<u32>() {
            checkpoints.push(Checkpoint {
                dir: entry.path(),
                index,
            });
        }
    }
    checkpoints.sort_by_key(|c| c.index);
    Ok(checkpoints)
}

/// Reads every record of a checkpoint (a corrupt tail ends it early).
pub fn read_checkpoint(
    checkpoint: &Checkpoint,
    each: &mut dyn FnMut(&[u8]),
) -> Result<(), WalError> {
    for segment in list_segments(&checkpoint.dir)? {
        read_segment_records(&segment_path(&checkpoint.dir, segment), &mut *each)?;
    }
    Ok(())
}

/// Writes `checkpoint.<through>` from the previous checkpoint and segments
/// up to `through`, keeping series for which `keep_series` holds and their
/// samples at or after `min_time`. Older checkpoints are removed; deleting
/// the covered segments is the caller's job.
pub fn create_checkpoint(
    wal_dir: &Path,
    through: u32,
    keep_series: &dyn Fn(u64) -> bool,
    min_time: i64,
) -> Result<Checkpoint, WalError> {
    let previous = list_checkpoints(wal_dir)?;
    let first_segment = previous.last().map_or(0, |c| c.index + 1);
    let final_dir = wal_dir.join(format!("{PREFIX}{through:08}"));
    let temporary_dir = wal_dir.join(format!("{PREFIX}{through:08}.tmp"));
    if temporary_dir.exists() {
        fs::remove_dir_all(&temporary_dir).map_err(|e| WalError::io(&temporary_dir, e))?;
    }
    fs::create_dir_all(&temporary_dir).map_err(|e| WalError::io(&temporary_dir, e))?;
    let output_path = segment_path(&temporary_dir, 0);
    let mut output = File::create(&output_path).map_err(|e| WalError::io(&output_path, e))?;
    let mut encoder = snap::raw::Encoder::new();
    let mut frames = Vec::new();
    let mut write_error: Option<WalError> = None;
    let mut filter_record = |record: &[u8]| {
        let filtered = match records::decode(record) {
            Ok(Record::Series(series)) => {
                let kept: Vec<_> = series
                    .into_iter()
                    .filter(|(r, _)| keep_series(*r))
                    .collect();
                (!kept.is_empty())
                    .then(|| records::encode_series(kept.iter().map(|(r, l)| (*r, l))))
            }
            Ok(Record::Samples(samples)) => {
                let kept: Vec<_> = samples
                    .into_iter()
                    .filter(|(r, t, _)| *t >= min_time && keep_series(*r))
                    .collect();
                (!kept.is_empty()).then(|| records::encode_samples(kept.into_iter()))
            }
            Ok(Record::Tombstones(tombstones)) => {
                let kept: Vec<_> = tombstones
                    .into_iter()
                    .filter(|(r, _, _)| keep_series(*r))
                    .collect();
                (!kept.is_empty()).then(|| records::encode_tombstones(&kept))
            }
            Err(_) => None,
        };
        if let Some(filtered) = filtered {
            frame_record(&filtered, &mut frames, &mut encoder);
            if frames.len() > 1 << 20 && write_error.is_none() {
                if let Err(error) = output.write_all(&frames) {
                    write_error = Some(WalError::io(&output_path, error));
                }
                frames.clear();
            }
        }
    };
    if let Some(checkpoint) = previous.last() {
        read_checkpoint(checkpoint, &mut filter_record)?;
    }
    for segment in list_segments(wal_dir)? {
        if segment < first_segment || segment > through {
            continue;
        }
        read_segment_records(&segment_path(wal_dir, segment), &mut filter_record)?;
    }
    if let Some(error) = write_error {
        return Err(error);
    }
    output
        .write_all(&frames)
        .and_then(|()| output.sync_all())
        .map_err(|e| WalError::io(&output_path, e))?;
    drop(output);
    sync_dir(&temporary_dir);
    if final_dir.exists() {
        fs::remove_dir_all(&final_dir).map_err(|e| WalError::io(&final_dir, e))?;
    }
    fs::rename(&temporary_dir, &final_dir).map_err(|e| WalError::io(&final_dir, e))?;
    sync_dir(wal_dir);
    for old in previous {
        if old.index < through {
            let _ = fs::remove_dir_all(&old.dir);
        }
    }
    Ok(Checkpoint {
        dir: final_dir,
        index: through,
    })
}
