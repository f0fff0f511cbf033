//! The plan: an ordered list of typed, idempotent steps forming a DAG.
//!
//! [`plan`] is a pure function of a validated [`Preseed`] and an
//! [`Inventory`]. It makes every choice (which disks, which uplink, which
//! networks, which API field names for the LXD version at hand) and records
//! each choice with its reason, so that an executor only carries out what the
//! plan says ("no meaningful choices at execution time").
//!
//! # Failure behaviour
//!
//! Planning either returns a [`Plan`] or [`PlanErrors`] holding *every*
//! problem found, each naming the system and the preseed key path it comes
//! from. All checks run before any step is built, so a plan is only produced
//! from consistent facts.
//!
//! # Steps
//!
//! Each [`Step`] has a stable id derived from its content (for example
//! `lxd.pool.local.pending@micro02`), the node whose API is called, an
//! optional `?target=` member, the service, a typed [`Action`], the ids it
//! depends on, an optional serialisation group (steps of one group must not
//! run concurrently, e.g. LXD cluster joins) and a [`Status`]. Steps are
//! listed in a topological order: every dependency comes earlier.
//!
//! Every action has *ensure* semantics, documented on its variant: the
//! executor reads the current state and only changes what differs, so that a
//! step whose desired state already holds is a no-op. The planner already
//! marks such steps [`Status::AlreadyDone`] when the inventory shows it
//! (re-runs, add mode); they are kept, not dropped, so that the plan shows
//! the whole desired state.
//!
//! # Determinism
//!
//! Systems are processed by name, maps are `BTreeMap`s, and nothing reads a
//! clock or a random source: the same input gives byte-identical JSON,
//! whatever the order of `systems` in the preseed or of the inventory.
//!
//! # Cost
//!
//! Planning is O(n log n) in the number of systems (and linear in their
//! disks): members and the disk selection are kept sorted by name and looked
//! up by binary search, cluster state (members, OSDs, volumes) is indexed
//! once, and nothing scans the systems or the steps per system. The plan's
//! size is linear too: a fixed number of steps depend on one step per
//! system or disk (the member check, replication, the cluster-wide pools
//! and networks, the OVN northbound connection) and every other step on a
//! bounded number, so the per-member definitions, which wait for every
//! join, depend on the member check [`Action::AwaitLxdMembers`] alone. The
//! step list is allocated once from an upper bound of its length. The
//! benchmark (`cargo bench -p planner --bench plan`) plans 1,000 systems
//! with 24 disks each; BENCHMARKS.md records its times and peak memory.

mod build;
mod checks;
mod disks;
mod graph;
mod phases;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use config_loader::model::StepClass;
use config_loader::{Diagnostic, KeyPath, Preseed};

use crate::inventory::Inventory;

pub use disks::{
    DiskSelection, DiskSource, ExcludedDisk, FilterOutcome, SelectedDisk, SystemDisks,
};

/// Version of the JSON form of a plan ([`Plan::to_json`]).
pub const FORMAT_VERSION: u32 = 1;

/// Plans the formation (or growth) of a cluster.
///
/// # Errors
///
/// Every planning problem at once (see [`PlanError`]).
pub fn plan(preseed: &Preseed, inventory: &Inventory) -> Result<Plan, PlanErrors> {
    build::plan(preseed, inventory)
}

/// A complete plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Always [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Bootstrap (form a cluster) or add (grow one).
    pub mode: PlanMode,
    /// The node that bootstraps the services and issues join tokens.
    pub initiator: String,
    /// The systems taking part, by name.
    pub systems: Vec<PlannedSystem>,
    /// Services set up by this plan.
    pub services: Vec<Service>,
    /// Choices made on the user's behalf, with reasons.
    pub decisions: Vec<Decision>,
    /// Things that deserve attention but do not stop the plan.
    pub warnings: Vec<String>,
    /// How disks were selected.
    pub disks: DiskSelection,
    /// The steps, in a topological order.
    pub steps: Vec<Step>,
}

/// Bootstrap or add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanMode {
    /// Form a new cluster (the initiator is listed in `systems`).
    Bootstrap,
    /// Add the listed systems to the initiator's cluster.
    Add,
}

/// One machine in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedSystem {
    /// Host name.
    pub name: String,
    /// Cluster address.
    pub address: IpAddr,
    /// Its role.
    pub role: Role,
}

/// What a machine does in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Bootstraps the services (bootstrap mode) or is the existing member
    /// that issues tokens (add mode).
    Initiator,
    /// Joins the cluster.
    Joiner,
}

/// A choice the planner made, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// What was decided about, e.g. `uplink of micro02`.
    pub subject: String,
    /// The choice, e.g. `enp6s0`.
    pub choice: String,
    /// Why.
    pub reason: String,
}

/// A service the plan drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Service {
    /// LXD.
    #[serde(rename = "LXD")]
    Lxd,
    /// MicroCeph.
    #[serde(rename = "MicroCeph")]
    MicroCeph,
    /// MicroOVN.
    #[serde(rename = "MicroOVN")]
    MicroOvn,
}

impl Service {
    /// Display name, e.g. `MicroCeph`.
    pub fn name(self) -> &'static str {
        match self {
            Service::Lxd => "LXD",
            Service::MicroCeph => "MicroCeph",
            Service::MicroOvn => "MicroOVN",
        }
    }

    /// Prefix of step ids, e.g. `microceph`.
    pub fn id_prefix(self) -> &'static str {
        match self {
            Service::Lxd => "lxd",
            Service::MicroCeph => "microceph",
            Service::MicroOvn => "microovn",
        }
    }

    /// The port MicroCloud uses for the service's cluster address.
    pub fn port(self) -> u16 {
        match self {
            Service::Lxd => 8443,
            Service::MicroCeph => 7443,
            Service::MicroOvn => 6443,
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Phases, in execution order; used for grouping, not for ordering (the
/// dependencies do that).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Bootstrap the services on the initiator.
    Bootstrap,
    /// Issue tokens and join the other systems.
    Join,
    /// Ceph OSDs and replication.
    Ceph,
    /// LXD storage pools and networks.
    Resources,
    /// The default profile.
    Profile,
    /// Per-member volumes and server settings.
    Members,
}

impl Phase {
    /// Heading used in the text rendering.
    pub fn title(self) -> &'static str {
        match self {
            Phase::Bootstrap => "bootstrap",
            Phase::Join => "join",
            Phase::Ceph => "ceph",
            Phase::Resources => "storage pools and networks",
            Phase::Profile => "profile",
            Phase::Members => "per-member volumes and settings",
        }
    }
}

/// A step id, unique within a plan and derived from the step's content.
///
/// The planner builds a plan's ids; the executor schedules, reports and
/// journals steps under the same type. A map keyed by step ids can be
/// read with a `&str` (`Borrow<str>`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StepId(String);

impl StepId {
    /// The id `id`, for a graph or a lookup built outside a plan (a plan's
    /// own ids come from [`plan()`] or its JSON).
    pub fn new(id: impl Into<String>) -> StepId {
        StepId(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for StepId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for StepId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for StepId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Stable id.
    pub id: StepId,
    /// Phase (for grouping).
    pub phase: Phase,
    /// The system whose service API is called (over its local socket).
    pub node: String,
    /// The cluster member the call is forwarded to (`?target=`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The service called.
    pub service: Service,
    /// What to do.
    pub action: Action,
    /// Steps that must have completed first.
    pub depends_on: Vec<StepId>,
    /// Steps sharing a group must run one at a time (in plan order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_group: Option<String>,
    /// The disks this step may wipe, as they were when planning: before
    /// the step acts, the executor reads each member's disks again and
    /// goes no further unless every one is still the same disk, unmounted
    /// and unused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wipes: Vec<WipedDisk>,
    /// Whether anything is left to do.
    pub status: Status,
}

/// A disk a step wipes, as the member's LXD described it at planning time
/// (`/1.0/resources`). Empty text fields were not reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WipedDisk {
    /// The machine the disk is in.
    pub member: String,
    /// The path the step hands to the service.
    pub path: String,
    /// Kernel name when planning (`sdb`; may change across reboots, so
    /// only shown, never compared).
    pub id: String,
    /// Name under `/dev/disk/by-id`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub device_id: String,
    /// World Wide Name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub wwn: String,
    /// Serial number.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub serial: String,
    /// Model.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub model: String,
    /// Size in bytes.
    pub size: u64,
}

impl WipedDisk {
    /// What identifies `disk` of `member`, to be wiped through `path`.
    pub fn of(member: &str, path: &str, disk: &crate::inventory::InventoryDisk) -> WipedDisk {
        WipedDisk {
            member: member.to_owned(),
            path: path.to_owned(),
            id: disk.id.clone(),
            device_id: disk.device_id.clone(),
            wwn: disk.wwn.clone(),
            serial: disk.serial.clone(),
            model: disk.model.clone(),
            size: disk.size,
        }
    }
}

impl Step {
    /// The member the step is about: the target, else the node.
    pub fn member(&self) -> &str {
        self.target.as_deref().unwrap_or(&self.node)
    }
}

/// Whether a step still has work to do, as far as the inventory shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Status {
    /// The desired state does not hold yet.
    ToDo,
    /// The desired state already holds.
    AlreadyDone {
        /// What in the inventory shows it.
        why: String,
    },
}

impl Status {
    /// Whether the step is already done.
    pub fn is_done(&self) -> bool {
        matches!(self, Status::AlreadyDone { .. })
    }
}

/// Name of the field carrying an LXD join token in `PUT /1.0/cluster`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenField {
    /// `cluster_token` (LXD with the `explicit_trust_token` extension).
    ClusterToken,
    /// `cluster_password` (older LXD, e.g. 5.0.2).
    ClusterPassword,
}

/// One `member_config` entry of an LXD join (`ClusterMemberConfigKey`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MemberConfigKey {
    /// `storage-pool` or `network`.
    pub entity: String,
    /// Pool or network name.
    pub name: String,
    /// Config key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// What a step does. Every variant is idempotent ("ensure") as described.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// microcluster bootstrap (`POST /core/control` with `bootstrap: true`)
    /// of the step's service (MicroCeph, MicroOVN) on the node. Ensure: done
    /// when the node is already a member of a cluster of that service.
    BootstrapMicrocluster {
        /// Member name.
        name: String,
        /// Cluster address `ip:port`.
        address: SocketAddr,
        /// Init config (`ClusterNet`/`PublicNet`, `ovn-encap-ip`).
        config: BTreeMap<String, String>,
    },
    /// Enable LXD clustering (`PUT /1.0/cluster` `{server_name, enabled:
    /// true}`). Ensure: done when LXD is already clustered with this member.
    BootstrapLxd {
        /// Member name.
        server_name: String,
    },
    /// Set LXD server configuration keys (`PATCH /1.0`, on the target member
    /// if any), leaving other keys alone. Ensure: done when every key
    /// already has the value.
    SetServerConfig {
        /// Keys and values.
        config: BTreeMap<String, String>,
    },
    /// Issue a join token for `joiner` on the node. LXD: `POST
    /// /1.0/cluster/members`, token built from the operation's metadata;
    /// microcluster: `POST /core/control/tokens`. Ensure: a token is only
    /// needed when the joiner is not a member yet; an unused older token for
    /// the same name is replaced. The token is this step's output, consumed
    /// by the join step that names it.
    IssueToken {
        /// Name the token is for.
        joiner: String,
        /// Lifetime in seconds (`None` = the service's default).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expire_after_secs: Option<u64>,
    },
    /// microcluster join (`POST /core/control` with `join_token`) of the
    /// step's service. Ensure: done when the node is already a member.
    JoinMicrocluster {
        /// Member name (must equal the token's name).
        name: String,
        /// Cluster address `ip:port`.
        address: SocketAddr,
        /// The step whose output is the token.
        token_from: StepId,
        /// Join config (`ovn-encap-ip` for MicroOVN).
        config: BTreeMap<String, String>,
    },
    /// LXD cluster join (`PUT /1.0/cluster` on the joiner, after checking
    /// the cluster certificate against the token's fingerprint). Ensure:
    /// done when the node is already a member.
    JoinLxd {
        /// Member name.
        server_name: String,
        /// This member's cluster address.
        server_address: SocketAddr,
        /// An existing member's cluster address.
        cluster_address: SocketAddr,
        /// The step whose output is the token.
        token_from: StepId,
        /// Which body field carries the token on this LXD.
        token_field: TokenField,
        /// Member-specific configuration for existing pools and networks.
        member_config: Vec<MemberConfigKey>,
    },
    /// Check that the LXD cluster lists every one of `members` (`GET
    /// /1.0/cluster/members` on the node). A barrier: it depends on every
    /// member's LXD bootstrap or join (through the settings change that
    /// follows a join), and the steps that define pools and networks member
    /// by member depend on it alone, so that they wait for every join (a
    /// member that joins while a pool is pending gets a definition without
    /// its member-specific keys) with one dependency each. Ensure: it
    /// changes nothing; done when every member is listed, an error naming
    /// the missing members otherwise.
    AwaitLxdMembers {
        /// Every member of the cluster being formed, by name.
        members: Vec<String>,
    },
    /// Add one disk as an OSD (MicroCeph `POST /1.0/disks` with one path).
    /// Ensure: done when the disk already is an OSD of this member.
    AddCephDisk {
        /// Device path.
        path: String,
        /// Wipe first.
        wipe: bool,
        /// Encrypt.
        encrypt: bool,
    },
    /// Replication (MicroCeph `PUT /1.0/pools-op`): set
    /// `osd_pool_default_size` to `size` and raise every listed pool that
    /// exists with a smaller size. Ensure: done when no listed pool is
    /// smaller and the default is known to be `size`: MicroCeph does not
    /// report the default, so `lxd_remote` (created by LXD after this step,
    /// inheriting the default) having size `size` is taken as the evidence.
    SetReplication {
        /// Replication size.
        size: u32,
        /// Pools to raise if they exist and are smaller.
        pools: Vec<String>,
    },
    /// Point LXD at OVN (`network.ovn.northbound_connection`) for LXD without
    /// `ovn_dynamic_northbound_connection`: the value is
    /// `ssl:<address>:<port>` of every MicroOVN member running `central`
    /// (read from MicroOVN `GET /1.0/services`), in member-name order,
    /// joined by `,`. Ensure: only written when it differs.
    ConfigureOvnNorthbound {
        /// OVN northbound port.
        port: u16,
    },
    /// Define a storage pool on the target member only (`POST
    /// /1.0/storage-pools?target=`): member-specific keys only. Ensure: done
    /// when the pool is already defined on that member.
    CreatePendingPool {
        /// Pool name.
        name: String,
        /// Driver.
        driver: String,
        /// Member-specific config.
        config: BTreeMap<String, String>,
    },
    /// Create a storage pool cluster-wide (`POST /1.0/storage-pools`) once
    /// it is pending on every member: global keys only. Ensure: done when
    /// the pool exists with status `Created`.
    CreatePool {
        /// Pool name.
        name: String,
        /// Driver.
        driver: String,
        /// Description.
        description: String,
        /// Global config.
        config: BTreeMap<String, String>,
    },
    /// Define a network on the target member only (`POST
    /// /1.0/networks?target=`). Ensure: done when already defined there.
    CreatePendingNetwork {
        /// Network name.
        name: String,
        /// Network type.
        network_type: String,
        /// Member-specific config.
        config: BTreeMap<String, String>,
    },
    /// Create a network cluster-wide (`POST /1.0/networks`). Ensure: done
    /// when the network exists with status `Created`.
    CreateNetwork {
        /// Network name.
        name: String,
        /// Network type.
        network_type: String,
        /// Description.
        description: String,
        /// Global config.
        config: BTreeMap<String, String>,
    },
    /// Make the profile have these devices (create the profile if missing,
    /// else replace just these devices, keeping its other devices and
    /// config). Ensure: done when the devices are already equal.
    EnsureProfile {
        /// Profile name.
        name: String,
        /// Devices to set.
        devices: BTreeMap<String, BTreeMap<String, String>>,
    },
    /// Create a custom volume on the target member (`POST
    /// /1.0/storage-pools/<pool>/volumes/custom?target=`). Ensure: done when
    /// it exists.
    CreateVolume {
        /// Pool.
        pool: String,
        /// Volume name.
        name: String,
    },
}

impl Action {
    /// The variant name in snake case (as in the JSON `kind`).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Action::BootstrapMicrocluster { .. } => "bootstrap_microcluster",
            Action::BootstrapLxd { .. } => "bootstrap_lxd",
            Action::SetServerConfig { .. } => "set_server_config",
            Action::IssueToken { .. } => "issue_token",
            Action::JoinMicrocluster { .. } => "join_microcluster",
            Action::JoinLxd { .. } => "join_lxd",
            Action::AwaitLxdMembers { .. } => "await_lxd_members",
            Action::AddCephDisk { .. } => "add_ceph_disk",
            Action::SetReplication { .. } => "set_replication",
            Action::ConfigureOvnNorthbound { .. } => "configure_ovn_northbound",
            Action::CreatePendingPool { .. } => "create_pending_pool",
            Action::CreatePool { .. } => "create_pool",
            Action::CreatePendingNetwork { .. } => "create_pending_network",
            Action::CreateNetwork { .. } => "create_network",
            Action::EnsureProfile { .. } => "ensure_profile",
            Action::CreateVolume { .. } => "create_volume",
        }
    }

    /// The class whose deadline applies to the step (see the preseed's
    /// `timeouts:`).
    pub fn step_class(&self) -> StepClass {
        match self {
            Action::BootstrapMicrocluster { .. } | Action::BootstrapLxd { .. } => {
                StepClass::Bootstrap
            }
            Action::IssueToken { .. } => StepClass::Token,
            Action::JoinMicrocluster { .. }
            | Action::JoinLxd { .. }
            | Action::AwaitLxdMembers { .. } => StepClass::Join,
            Action::AddCephDisk { .. } | Action::SetReplication { .. } => StepClass::Ceph,
            Action::CreatePendingPool { .. }
            | Action::CreatePool { .. }
            | Action::CreateVolume { .. } => StepClass::Storage,
            Action::CreatePendingNetwork { .. } | Action::CreateNetwork { .. } => {
                StepClass::Network
            }
            Action::SetServerConfig { .. }
            | Action::ConfigureOvnNorthbound { .. }
            | Action::EnsureProfile { .. } => StepClass::Settings,
        }
    }
}

/// One planning problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError {
    /// The system it concerns, if one.
    pub system: Option<String>,
    /// The preseed key path it comes from.
    pub path: KeyPath,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
}

impl PlanError {
    /// As a loader diagnostic, so that it renders like `validate` output.
    pub fn to_diagnostic(&self) -> Diagnostic {
        let d = Diagnostic::error(self.path.clone(), self.message.clone());
        match &self.help {
            Some(h) => d.with_help(h.clone()),
            None => d,
        }
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if !self.path.is_root() {
            write!(f, " (at `{}`)", self.path)?;
        }
        Ok(())
    }
}

/// Every problem that stopped planning.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("planning failed with {} error(s)", .0.len())]
pub struct PlanErrors(pub Vec<PlanError>);

impl PlanErrors {
    /// The errors, in the order found.
    pub fn iter(&self) -> impl Iterator<Item = &PlanError> {
        self.0.iter()
    }
}

impl Plan {
    /// The plan as stable, versioned JSON (pretty-printed, trailing newline).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// The step with id `id`.
    pub fn step(&self, id: &StepId) -> Option<&Step> {
        self.steps.iter().find(|s| &s.id == id)
    }
}
