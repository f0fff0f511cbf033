//! Serde helpers shared by the wire types.

use serde::{Deserialize, Deserializer};

/// Go renders nil slices and maps as `null`; read that as empty.
pub(crate) fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// For `skip_serializing_if` on booleans that Go tags `omitempty`.
pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// For `skip_serializing_if` on integers that Go tags `omitempty`.
pub(crate) fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Go's zero `time.Time`, as `encoding/json` writes it.
pub const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";
