//! Builds the planner's [`Inventory`](planner::inventory::Inventory) from
//! live services, through the consumer-owned client traits
//! ([`LxdApi`](clients::lxd::LxdApi), [`MicroCephApi`](clients::microceph::MicroCephApi),
//! [`MicroOvnApi`](clients::microovn::MicroOvnApi)), so that the same code
//! reads real machines, the simulators and in-memory fakes.
//!
//! * [`collect_system`] reads one machine's
//!   [`SystemInventory`](planner::inventory::SystemInventory) from its own
//!   services (LXD server, cluster membership, disks, pools using them,
//!   interfaces and their state; MicroCeph and MicroOVN versions,
//!   membership and OSDs). Module [`system`] lists the calls.
//! * [`collect_cluster`] reads the
//!   [`ClusterState`](planner::inventory::ClusterState) of an existing
//!   cluster (pools and networks with per-member configuration, profiles,
//!   custom volumes, MicroCeph networks, OSDs and pools). Module
//!   [`cluster`] lists the calls.
//! * [`inventory_files`] renders the inventory directory's files (names
//!   and JSON text), which
//!   [`Inventory::from_files`](planner::inventory::Inventory::from_files)
//!   reads back identically.
//!
//! Design: collection only reads (no call here changes any service); it
//! is sequential per machine, so that a caller collects machines
//! concurrently if it wants to; it records what the services report and
//! leaves every judgement (candidate disks, uplink fitness, Ceph networks)
//! to the planner. No file or environment access: the caller reads
//! `/proc/net/route` (with `session::agent::default_route_interface_from_proc`)
//! and writes the files.
//!
//! Failure behaviour: the first failed or unusable answer stops the
//! collection of that machine (or of the cluster) with a [`CollectError`]
//! that names the system, the service and the call and says what to do;
//! [`CollectError::is_transient`] tells a caller whether retrying may help.
//! Nothing is defaulted from a failed call, so an inventory is never
//! silently partial.

pub mod cluster;
pub mod error;
pub mod files;
pub mod system;

pub use cluster::collect_cluster;
pub use error::{CollectError, Scope};
pub use files::inventory_files;
pub use system::{collect_system, disk_from_resources};
