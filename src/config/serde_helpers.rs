//! Small deserialization helpers shared by the config types.

use serde::{Deserialize, Deserializer};

/// Reads an explicit YAML `null` (a key with only comments under it) as the
/// type's default, as Prometheus's YAML decoder does for lists and maps.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
