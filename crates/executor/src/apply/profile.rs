//! The profile step of [`super::PlanRunner`]: the devices of a profile.

use std::collections::BTreeMap;

use clients::lxd::{LxdApi, ProfilePut};
use planner::plan::Step;

use super::{ApplyError, service_error};
use crate::run::Outcome;

/// `Action::EnsureProfile`: every device of `devices` in profile `name`,
/// as given; the profile's other devices, config and description stay.
pub(super) async fn ensure_profile<L: LxdApi>(
    step: &Step,
    lxd: &L,
    name: &str,
    devices: &BTreeMap<String, BTreeMap<String, String>>,
) -> Result<Outcome, ApplyError> {
    let profile = lxd
        .profile(name)
        .await
        .map_err(service_error(step, format!("reading profile {name}")))?;
    let mut merged = profile.value.devices.clone();
    let mut changed = false;
    for (device, wanted) in devices {
        if merged.get(device) != Some(wanted) {
            merged.insert(device.clone(), wanted.clone());
            changed = true;
        }
    }
    if !changed {
        return Ok(Outcome::AlreadyDone);
    }
    let body = ProfilePut {
        config: profile.value.config.clone(),
        description: profile.value.description.clone(),
        devices: merged,
    };
    lxd.put_profile(name, &body, profile.etag.as_deref())
        .await
        .map_err(service_error(step, format!("updating profile {name}")))?;
    Ok(Outcome::Changed)
}
