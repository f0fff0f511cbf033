//! The storage step of [`super::PlanRunner`] that is not a pool's:
//! creating custom volumes (pools are defined and created by
//! [`super::member_defined`]).

use clients::lxd::{LxdApi, StorageVolumesPost};
use planner::plan::Step;

use super::{ApplyError, service_error};
use crate::run::Outcome;

/// `Action::CreateVolume`: a custom volume of `pool` on the step's member.
pub(super) async fn create_volume<L: LxdApi>(
    step: &Step,
    lxd: &L,
    pool: &str,
    name: &str,
) -> Result<Outcome, ApplyError> {
    let target = step.target.as_deref();
    let volumes = lxd
        .custom_volumes(pool, target)
        .await
        .map_err(service_error(
            step,
            format!("listing volumes of pool {pool}"),
        ))?;
    // A clustered LXD lists every member's volumes: only one on this
    // member counts (an unclustered one has no location).
    let member = step.member();
    if volumes
        .iter()
        .any(|v| v.name == name && (v.location.is_empty() || v.location == member))
    {
        return Ok(Outcome::AlreadyDone);
    }
    let body = StorageVolumesPost {
        name: name.to_owned(),
        kind: "custom".into(),
        ..StorageVolumesPost::default()
    };
    lxd.create_custom_volume(pool, &body, target)
        .await
        .map_err(service_error(
            step,
            format!("creating volume {pool}/{name}"),
        ))?;
    Ok(Outcome::Changed)
}
