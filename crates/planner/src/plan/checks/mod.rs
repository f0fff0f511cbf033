//! The checks the planner runs before building any step, one module per
//! object family. Each records its errors (and decisions) in
//! [`Notes`](super::build::Notes); none builds a step.

mod addresses;
mod ceph;
mod disks;
mod networking;
mod services;

pub(super) use addresses::check_addresses;
pub(super) use ceph::ceph_networks;
pub(super) use disks::{check_direct_wipes, check_disk_features};
pub(super) use networking::networking;
pub(super) use services::{check_membership, check_versions, choose_services, service_members};
