//! `meta.json`: what a block holds, with Prometheus's field names.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::tsdb::TsdbError;

/// Counts of a block's content.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BlockStats {
    /// Number of samples.
    pub num_samples: u64,
    /// Number of series.
    pub num_series: u64,
    /// Number of chunks.
    pub num_chunks: u64,
    /// Number of deleted intervals in the block's `tombstones` file
    /// (written only when not zero).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub num_tombstones: u64,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// How a block was made.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct BlockCompaction {
    /// 1 for a block cut from the head, one more for each compaction.
    pub level: u32,
    /// The level-1 blocks this block was compacted from.
    #[serde(default)]
    pub sources: Vec<String>,
}

/// The content of `meta.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BlockMeta {
    /// The block's id (a ULID), also its directory name.
    pub ulid: String,
    /// Oldest sample time, inclusive (milliseconds).
    pub min_time: i64,
    /// End of the block's range, exclusive (milliseconds).
    pub max_time: i64,
    /// Content counts.
    pub stats: BlockStats,
    /// Compaction history.
    pub compaction: BlockCompaction,
    /// Format version of the block (1).
    pub version: u32,
}

impl BlockMeta {
    /// Reads `dir/meta.json`.
    pub fn read(dir: &Path) -> Result<BlockMeta, TsdbError> {
        let path = dir.join("meta.json");
        let bytes = std::fs::read(&path).map_err(|e| TsdbError::io(&path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| TsdbError::corruption(&path, e.to_string()))
    }

    /// Writes `dir/meta.json` (fsynced).
    pub fn write(&self, dir: &Path) -> Result<(), TsdbError> {
        let path = dir.join("meta.json");
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| TsdbError::InvalidArgument(format!("encoding meta.json: {e}")))?;
        write_synced(&path, &bytes)
    }

    /// Replaces `dir/meta.json` of an existing block through a temporary
    /// file and a rename: a crash leaves the old or the new file, and a
    /// hard-linked copy (a snapshot) keeps the old one.
    pub fn replace(&self, dir: &Path) -> Result<(), TsdbError> {
        let path = dir.join("meta.json");
        let temporary = dir.join("meta.json.tmp");
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| TsdbError::InvalidArgument(format!("encoding meta.json: {e}")))?;
        write_synced(&temporary, &bytes)?;
        std::fs::rename(&temporary, &path).map_err(|e| TsdbError::io(&path, e))
    }
}

/// Writes a file and fsyncs it.
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), TsdbError> {
    use std::io::Write;
    let mut file = std::fs::File::create(path).map_err(|e| TsdbError::io(path, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| TsdbError::io(path, e))
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new ULID: 48 bits of milliseconds, then 80 random bits, in Crockford
/// base32, so that block directories sort by creation time.
pub fn new_ulid(now_millis: i64) -> String {
    let random: u128 = rand::random::<u128>() & ((1u128 << 80) - 1);
    let value = ((now_millis.max(0) as u128 & ((1u128 << 48) - 1)) << 80) | random;
    (0..26)
        .rev()
        .map(|position| CROCKFORD[((value >> (position * 5)) & 31) as usize] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulids_sort_by_time_and_have_26_characters() {
        let earlier = new_ulid(1_700_000_000_000);
        let later = new_ulid(1_700_000_000_001);
        assert_eq!(earlier.len(), 26);
        assert!(earlier < later);
    }
}
