//! The JSON form of the final report: typed, with its JSON Schema
//! generated from the same types (`schemas/report.schema.json`).
//!
//! [`Final::document`](super::Final::document) builds a [`Document`];
//! serialising goes through [`serde_json::Value`], whose objects keep their
//! keys sorted, so the bytes do not depend on the order of the fields here.

use std::path::PathBuf;

use planner::plan::Phase;
use schemars::JsonSchema;
use serde::Serialize;

use super::{Change, Counts, NetworkView, OsdView, PoolView, ProfileView, RunOutcome, VolumeView};

/// The final report of `microcloud preseed` (`--report FILE`, and the
/// `report` event of `--output json`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Document {
    /// Version of this document's format (fields may be added, never
    /// removed or changed, without a new version).
    #[schemars(range(min = 1, max = 1))]
    pub format_version: u32,
    /// How the run ended.
    pub outcome: RunOutcome,
    /// Whether every step succeeded (`outcome` is `succeeded`).
    pub succeeded: bool,
    /// Whether the run formed a new cluster or added machines to one.
    pub mode: ModeName,
    /// The machine that drove the run.
    pub initiator: String,
    /// Wall time of the run, in seconds.
    pub elapsed_s: f64,
    /// Step counts over the whole plan.
    pub steps: StepCounts,
    /// Step counts and time per phase, in phase order.
    pub phases: Vec<PhaseDocument>,
    /// The steps that failed.
    pub failures: Vec<FailureDocument>,
    /// Ids of the steps that did not start.
    pub not_started: Vec<String>,
    /// Loader warnings (`file:line: key: message`) and planner notes.
    pub warnings: Vec<String>,
    /// Where the run journal is.
    #[schemars(required)]
    pub journal: Option<PathBuf>,
    /// The cluster as read back after the run; `null` when it could not
    /// be read (`cluster_error` says why).
    #[schemars(required)]
    pub cluster: Option<ClusterDocument>,
    /// Why the cluster could not be read; only when `cluster` is `null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_error: Option<String>,
}

/// Bootstrap (a new cluster) or add (machines joining an existing one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModeName {
    /// A new cluster.
    Bootstrap,
    /// Machines added to an existing cluster.
    Add,
}

/// A phase of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PhaseName {
    /// Bootstrapping the services on the initiator.
    Bootstrap,
    /// Joining the other machines.
    Join,
    /// Ceph disks and replication.
    Ceph,
    /// Storage pools, networks and volumes.
    Resources,
    /// The default profile.
    Profile,
    /// Checks over the members.
    Members,
}

impl From<Phase> for PhaseName {
    fn from(phase: Phase) -> PhaseName {
        match phase {
            Phase::Bootstrap => PhaseName::Bootstrap,
            Phase::Join => PhaseName::Join,
            Phase::Ceph => PhaseName::Ceph,
            Phase::Resources => PhaseName::Resources,
            Phase::Profile => PhaseName::Profile,
            Phase::Members => PhaseName::Members,
        }
    }
}

/// Step counts.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct StepCounts {
    /// Steps.
    pub total: usize,
    /// Steps that changed something.
    pub changed: usize,
    /// Steps whose desired state already held.
    pub already_done: usize,
    /// Steps that failed.
    pub failed: usize,
    /// Steps that did not start.
    pub not_started: usize,
}

impl From<Counts> for StepCounts {
    fn from(c: Counts) -> StepCounts {
        StepCounts {
            total: c.total,
            changed: c.changed,
            already_done: c.already_done,
            failed: c.failed,
            not_started: c.not_started,
        }
    }
}

/// One phase: its step counts and how long it took.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PhaseDocument {
    /// The phase.
    pub phase: PhaseName,
    /// From the first start of one of its steps to the last end, in
    /// seconds; `null` when none ran.
    pub elapsed_s: Option<f64>,
    /// Its steps.
    pub total: usize,
    /// Its steps that changed something.
    pub changed: usize,
    /// Its steps whose desired state already held.
    pub already_done: usize,
    /// Its steps that failed.
    pub failed: usize,
    /// Its steps that did not start.
    pub not_started: usize,
}

/// A step that failed.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct FailureDocument {
    /// Step id (`lxd.join@micro02`).
    pub step: String,
    /// The machine whose service was called.
    pub node: String,
    /// The step's deadline class (`join`, `ceph`, ...).
    pub class: String,
    /// The error with its whole cause chain, down to the service's message.
    pub error: String,
    /// What to do, when known.
    pub hint: Option<String>,
}

/// The cluster after the run, each object marked with what the run did.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ClusterDocument {
    /// LXD cluster members.
    pub members: Vec<MemberDocument>,
    /// MicroCeph members; `null` when MicroCeph is not installed or not
    /// initialised.
    pub microceph_members: Option<Vec<ServiceMemberDocument>>,
    /// MicroOVN members; `null` when MicroOVN is not installed or not
    /// initialised.
    pub microovn_members: Option<Vec<ServiceMemberDocument>>,
    /// LXD storage pools.
    pub storage_pools: Vec<PoolView>,
    /// LXD managed networks.
    pub networks: Vec<NetworkView>,
    /// The profile the plan sets up, when it exists.
    pub profile: Option<ProfileView>,
    /// Ceph OSDs, by member and path.
    pub osds: Vec<OsdView>,
    /// Custom storage volumes.
    pub volumes: Vec<VolumeView>,
}

/// An LXD cluster member.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct MemberDocument {
    /// Name.
    pub name: String,
    /// Its URL, `https://ip:8443`.
    pub url: String,
    /// Roles (`database`, `database-leader`, ...).
    pub roles: Vec<String>,
    /// `Online`, `Offline`, ...
    pub status: String,
    /// LXD's status message.
    pub message: String,
    /// What this run did (`created`: bootstrapped or joined).
    pub change: Change,
}

/// A MicroCeph or MicroOVN member.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ServiceMemberDocument {
    /// Name.
    pub name: String,
    /// `ip:port`.
    pub address: String,
    /// dqlite role (`voter`, `stand-by`, `spare`).
    pub role: String,
    /// `ONLINE`, `UNREACHABLE`, ...
    pub status: String,
    /// What this run did.
    pub change: Change,
}
