//! An inventory as the files of an inventory directory, the form
//! [`planner::inventory::Inventory::from_files`] reads back: `<name>.json`
//! per system and `cluster.json` for the cluster state.
//!
//! What is written parses back to the same values (tested); names that
//! would not (`cluster`, which is the cluster file, or names that are not
//! plain file names) are refused rather than written.

use planner::inventory::{ClusterState, SystemInventory};
use serde::Serialize;

use crate::error::CollectError;

/// `(file name, pretty JSON)` for every system, then `cluster.json` when a
/// cluster state is given.
pub fn inventory_files(
    systems: &[SystemInventory],
    cluster: Option<&ClusterState>,
) -> Result<Vec<(String, String)>, CollectError> {
    let mut files = Vec::with_capacity(systems.len() + 1);
    for system in systems {
        check_name(&system.name)?;
        let file = format!("{}.json", system.name);
        files.push((file.clone(), encode(&file, system)?));
    }
    if let Some(cluster) = cluster {
        let file = "cluster.json".to_owned();
        files.push((file.clone(), encode(&file, cluster)?));
    }
    Ok(files)
}

fn check_name(name: &str) -> Result<(), CollectError> {
    let reason = if name == "cluster" {
        "cluster.json is the cluster state's file"
    } else if name.is_empty() || name == "." || name == ".." {
        "it is not a file name"
    } else if name.contains(['/', '\\', '\0']) {
        "it contains a path separator or NUL"
    } else {
        return Ok(());
    };
    Err(CollectError::UnsavableName {
        name: name.to_owned(),
        reason,
    })
}

fn encode<T: Serialize>(file: &str, value: &T) -> Result<String, CollectError> {
    let mut text = serde_json::to_string_pretty(value).map_err(|source| CollectError::Encode {
        file: file.to_owned(),
        source,
    })?;
    text.push('\n');
    Ok(text)
}
