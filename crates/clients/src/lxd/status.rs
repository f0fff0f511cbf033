//! The status LXD reports for a storage pool or a network.

use std::fmt;

use serde::{Deserialize, Serialize};

/// `status` of a storage pool or a network: LXD gives both the same five
/// values (`StoragePoolStatus*` in `shared/api/storage_pool.go`,
/// `NetworkStatus*` in `shared/api/network.go`, canonical/lxd lxd-5.0.2
/// and v5.21.0). The status of a cluster-wide object is `Created` once
/// every member created it; `Pending` while it is only defined on some
/// members; `Errored` after a global creation that failed on a member
/// (`lxd/db/storage_pools.go`, `lxd/db/networks.go`, `StatusToString`).
///
/// Read at the edge from LXD's string; any other string (an unmanaged
/// network's empty status, a value a later LXD adds) is kept as
/// [`ObjectStatus::Other`], so writing it back gives the same string.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum ObjectStatus {
    /// `Pending`: defined on some members, not yet created.
    Pending,
    /// `Created`: created on every member.
    Created,
    /// `Errored`: a creation failed on some member.
    Errored,
    /// `Unknown`.
    Unknown,
    /// `Unavailable`: failed to initialise.
    Unavailable,
    /// Anything else, as LXD wrote it (empty for an unmanaged network,
    /// and when LXD sends no status).
    Other(String),
}

impl Default for ObjectStatus {
    fn default() -> Self {
        ObjectStatus::Other(String::new())
    }
}

impl ObjectStatus {
    /// The string LXD uses.
    pub fn as_str(&self) -> &str {
        match self {
            ObjectStatus::Pending => "Pending",
            ObjectStatus::Created => "Created",
            ObjectStatus::Errored => "Errored",
            ObjectStatus::Unknown => "Unknown",
            ObjectStatus::Unavailable => "Unavailable",
            ObjectStatus::Other(s) => s,
        }
    }
}

impl From<String> for ObjectStatus {
    fn from(s: String) -> Self {
        match s.as_str() {
            "Pending" => ObjectStatus::Pending,
            "Created" => ObjectStatus::Created,
            "Errored" => ObjectStatus::Errored,
            "Unknown" => ObjectStatus::Unknown,
            "Unavailable" => ObjectStatus::Unavailable,
            _ => ObjectStatus::Other(s),
        }
    }
}

impl From<&str> for ObjectStatus {
    fn from(s: &str) -> Self {
        ObjectStatus::from(s.to_owned())
    }
}

impl From<ObjectStatus> for String {
    fn from(s: ObjectStatus) -> Self {
        match s {
            ObjectStatus::Other(s) => s,
            known => known.as_str().to_owned(),
        }
    }
}

impl fmt::Display for ObjectStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_string_reads_and_writes_back_unchanged() {
        for (text, status) in [
            ("Pending", ObjectStatus::Pending),
            ("Created", ObjectStatus::Created),
            ("Errored", ObjectStatus::Errored),
            ("Unknown", ObjectStatus::Unknown),
            ("Unavailable", ObjectStatus::Unavailable),
            ("", ObjectStatus::Other(String::new())),
            ("created", ObjectStatus::Other("created".into())),
            ("Degraded", ObjectStatus::Other("Degraded".into())),
        ] {
            let read: ObjectStatus = serde_json::from_value(serde_json::json!(text)).unwrap();
            assert_eq!(read, status, "{text:?}");
            assert_eq!(
                serde_json::to_value(&read).unwrap(),
                serde_json::json!(text)
            );
            assert_eq!(read.to_string(), text);
        }
    }

    #[test]
    fn a_missing_status_is_empty() {
        assert_eq!(ObjectStatus::default().as_str(), "");
    }
}
