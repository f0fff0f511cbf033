//! The final report of `microcloud preseed`: what the cluster looks like
//! after the run, what this run changed, what failed, warnings, and the
//! time spent in total and per phase.
//!
//! - [`gather`] reads the cluster's state through the initiator's clients
//!   (network; the only async part).
//! - [`Final::new`] combines that state with the plan and the executor's
//!   report (outcomes and times) (pure): each member, pool, network, OSD,
//!   volume and the profile is marked with what this run did to it
//!   ([`Change`], from the outcomes of the steps about it).
//! - [`Final::document`] is the versioned JSON document (`format_version`
//!   [`REPORT_VERSION`], typed in [`document`], its schema committed as
//!   `schemas/report.schema.json`) written by `--report FILE` and carried
//!   by the `report` event of `--output json`; [`render::human`] the
//!   tables for people.

pub mod document;
mod gather;
pub mod render;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use executor::apply::ApplyError;
use executor::{Failure, Outcome, Report, StepResult};
use planner::inventory::{ExistingNetwork, ExistingPool, LxdClusterState, MicroCephClusterState};
use planner::plan::{Action, Phase, Plan, PlanMode, Service, Step};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use document::{
    ClusterDocument, Document, FailureDocument, MemberDocument, ModeName, PhaseDocument,
    ServiceMemberDocument,
};
pub use gather::gather_through;

/// Version of the JSON report ([`Final::to_json`]).
pub const REPORT_VERSION: u32 = 1;

/// The cluster as its services describe it, read through one member.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterState {
    /// LXD cluster members (empty when LXD is not clustered).
    pub members: Vec<Member>,
    /// MicroCeph members, when MicroCeph is installed and initialised.
    pub microceph: Option<Vec<ServiceMember>>,
    /// MicroOVN members, when MicroOVN is installed and initialised.
    pub microovn: Option<Vec<ServiceMember>>,
    /// LXD pools (with per-member configuration), networks, profiles and
    /// custom volumes.
    pub lxd: LxdClusterState,
    /// MicroCeph OSDs, pools and networks.
    pub ceph: Option<MicroCephClusterState>,
}

/// An LXD cluster member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Member {
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
}

/// A MicroCeph or MicroOVN member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceMember {
    /// Name.
    pub name: String,
    /// `ip:port`.
    pub address: String,
    /// dqlite role (`voter`, `stand-by`, `spare`).
    pub role: String,
    /// `ONLINE`, `UNREACHABLE`, ...
    pub status: String,
}

/// What this run did to one object, from the outcomes of its steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Created (members: joined or bootstrapped) by this run.
    Created,
    /// Existed, and this run changed it (a member added to a pool, the
    /// profile's devices).
    Updated,
    /// Every step about it found it already as planned.
    AlreadyPresent,
    /// A step about it failed.
    Failed,
    /// A step about it did not start.
    NotStarted,
    /// No step of this plan is about it.
    NotInPlan,
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Every step succeeded.
    Succeeded,
    /// A step failed.
    Failed,
    /// Interrupted (Ctrl-C).
    Interrupted,
}

/// Step counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
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

impl Counts {
    fn add(&mut self, state: StepState) {
        self.total += 1;
        match state {
            StepState::Changed => self.changed += 1,
            StepState::AlreadyDone => self.already_done += 1,
            StepState::Failed => self.failed += 1,
            StepState::NotStarted => self.not_started += 1,
        }
    }
}

/// One phase of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseSummary {
    /// The phase.
    pub phase: Phase,
    /// Its steps.
    pub counts: Counts,
    /// From the first start of one of its steps to the last end (phases
    /// overlap: joins and OSDs run side by side); `None` when none ran.
    pub elapsed: Option<Duration>,
}

/// A step that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedStep {
    /// Step id.
    pub step: String,
    /// The machine whose service was called.
    pub node: String,
    /// Its deadline class.
    pub class: String,
    /// The error with its whole cause chain.
    pub error: String,
    /// What to do, when known.
    pub hint: Option<String>,
}

// The objects below are both what the human report shows and, as they
// are, the objects of the JSON report (`document::ClusterDocument`); their
// schema names and descriptions are the report schema's.

/// An LXD storage pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "PoolDocument")]
pub struct PoolView {
    /// Name.
    pub name: String,
    /// Driver (`zfs`, `btrfs`, `ceph`, `cephfs`, ...).
    pub driver: String,
    /// `Created`, `Pending`, ...
    pub status: String,
    /// The cluster-wide source (`source`, `ceph.osd.pool_name`,
    /// `cephfs.path`), when there is one.
    pub source: Option<String>,
    /// The member-specific `source`, by member.
    pub sources: BTreeMap<String, String>,
    /// What this run did.
    pub change: Change,
}

/// An LXD managed network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "NetworkDocument")]
pub struct NetworkView {
    /// Name.
    pub name: String,
    /// `physical`, `ovn`, `bridge`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// `Created`, `Pending`, ...
    pub status: String,
    /// The parent interface on each member, by member.
    pub parents: BTreeMap<String, String>,
    /// The global configuration keys worth showing (uplink, gateways,
    /// ranges, DNS servers).
    #[serde(rename = "config")]
    pub settings: BTreeMap<String, String>,
    /// What this run did.
    pub change: Change,
}

/// An LXD profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "ProfileDocument")]
pub struct ProfileView {
    /// Name.
    pub name: String,
    /// Devices by name, each its configuration.
    pub devices: BTreeMap<String, BTreeMap<String, String>>,
    /// What this run did.
    pub change: Change,
}

/// A Ceph OSD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "OsdDocument")]
pub struct OsdView {
    /// The member it is on.
    pub member: String,
    /// OSD number.
    pub osd: u64,
    /// Disk path.
    pub path: String,
    /// What this run did (`created`: added).
    pub change: Change,
}

/// A custom storage volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "VolumeDocument")]
pub struct VolumeView {
    /// Pool.
    pub pool: String,
    /// Name.
    pub name: String,
    /// The member it is on.
    pub member: String,
    /// What this run did.
    pub change: Change,
}

/// The cluster after the run, each object marked with what the run did.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterView {
    /// LXD members.
    pub members: Vec<(Member, Change)>,
    /// The member whose services this plan bootstraps (the initiator when
    /// forming a new cluster): its `created` reads "bootstrapped", the
    /// others' "joined".
    pub bootstrapped: Option<String>,
    /// MicroCeph members.
    pub microceph: Option<Vec<(ServiceMember, Change)>>,
    /// MicroOVN members.
    pub microovn: Option<Vec<(ServiceMember, Change)>>,
    /// Storage pools.
    pub pools: Vec<PoolView>,
    /// Managed networks.
    pub networks: Vec<NetworkView>,
    /// The profile the plan sets up (`default`), when it exists.
    pub profile: Option<ProfileView>,
    /// OSDs, by member and path.
    pub osds: Vec<OsdView>,
    /// Custom volumes.
    pub volumes: Vec<VolumeView>,
}

/// The final report.
#[derive(Debug, Clone, PartialEq)]
pub struct Final {
    /// How the run ended.
    pub outcome: RunOutcome,
    /// Bootstrap or add.
    pub mode: PlanMode,
    /// The initiator.
    pub initiator: String,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// All steps.
    pub totals: Counts,
    /// Per phase, in phase order.
    pub phases: Vec<PhaseSummary>,
    /// Failed steps.
    pub failures: Vec<FailedStep>,
    /// Steps that did not start.
    pub not_started: Vec<String>,
    /// The cluster, or why it could not be read.
    pub cluster: Result<ClusterView, String>,
    /// Loader warnings and planner notes.
    pub warnings: Vec<String>,
    /// Where the journal is.
    pub journal: Option<PathBuf>,
}

/// A step's end, as far as the report cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepState {
    Changed,
    AlreadyDone,
    Failed,
    NotStarted,
}

/// Per phase, from the first start of one of its steps to the last end,
/// as the executor measured them.
pub fn phase_times(plan: &Plan, report: &Report<ApplyError>) -> BTreeMap<Phase, Duration> {
    let mut spans: BTreeMap<Phase, (Duration, Duration)> = BTreeMap::new();
    for step in &plan.steps {
        let (started, elapsed) = match report.results.get(&step.id) {
            Some(
                StepResult::Done {
                    started, elapsed, ..
                }
                | StepResult::Failed {
                    started, elapsed, ..
                },
            ) => (*started, *elapsed),
            _ => continue,
        };
        let end = started + elapsed;
        let span = spans.entry(step.phase).or_insert((started, end));
        span.0 = span.0.min(started);
        span.1 = span.1.max(end);
    }
    spans
        .into_iter()
        .map(|(phase, (start, end))| (phase, end.saturating_sub(start)))
        .collect()
}

/// Loader warnings (`file:line: key: message`) and the planner's notes.
pub fn warnings(loader: &config_loader::Report, file: &str, plan: &Plan) -> Vec<String> {
    let mut out: Vec<String> = loader
        .diagnostics()
        .iter()
        .filter(|d| !d.is_error())
        .map(|d| {
            let at = d.line().map_or_else(String::new, |l| format!(":{l}"));
            let key = if d.path.is_root() {
                String::new()
            } else {
                format!(" {}:", d.path)
            };
            format!("{file}{at}:{key} {}", d.message)
        })
        .collect();
    out.extend(plan.warnings.iter().cloned());
    out
}

impl Final {
    /// Builds the report from the plan, the executor's report (outcomes
    /// and times), the cluster's state (or why it could not be read) and
    /// the warnings; `interrupted` when the run was cancelled.
    pub fn new(
        plan: &Plan,
        report: &Report<ApplyError>,
        state: Result<ClusterState, String>,
        warnings: Vec<String>,
        interrupted: bool,
    ) -> Final {
        let phase_times = phase_times(plan, report);
        let states: BTreeMap<&str, StepState> = plan
            .steps
            .iter()
            .map(|s| {
                let state = match report.results.get(&s.id) {
                    Some(StepResult::Done {
                        outcome: Outcome::Changed,
                        ..
                    }) => StepState::Changed,
                    Some(StepResult::Done { .. }) => StepState::AlreadyDone,
                    Some(StepResult::Failed { .. }) => StepState::Failed,
                    Some(StepResult::NotStarted(_)) | None => StepState::NotStarted,
                };
                (s.id.as_str(), state)
            })
            .collect();
        let mut totals = Counts::default();
        let mut per_phase: BTreeMap<Phase, Counts> = BTreeMap::new();
        for s in &plan.steps {
            let state = states[s.id.as_str()];
            totals.add(state);
            per_phase.entry(s.phase).or_default().add(state);
        }
        let phases = per_phase
            .into_iter()
            .map(|(phase, counts)| PhaseSummary {
                phase,
                counts,
                elapsed: phase_times.get(&phase).copied(),
            })
            .collect();
        let failures = report
            .failures()
            .map(|(id, failure)| {
                let step = plan.steps.iter().find(|s| &s.id == id);
                let class =
                    step.map_or_else(String::new, |s| s.action.step_class().name().to_owned());
                FailedStep {
                    step: id.to_string(),
                    node: step.map(|s| s.node.clone()).unwrap_or_default(),
                    hint: hint(failure, &class),
                    class,
                    error: failure.full_message(),
                }
            })
            .collect();
        let not_started = report
            .results
            .iter()
            .filter(|(_, r)| matches!(r, StepResult::NotStarted(_)))
            .map(|(id, _)| id.to_string())
            .collect();
        let outcome = if report.succeeded() {
            RunOutcome::Succeeded
        } else if interrupted {
            RunOutcome::Interrupted
        } else {
            RunOutcome::Failed
        };
        let index = StepIndex { plan, states };
        Final {
            outcome,
            mode: plan.mode,
            initiator: plan.initiator.clone(),
            elapsed: report.elapsed,
            totals,
            phases,
            failures,
            not_started,
            cluster: state.map(|s| index.view(s)),
            warnings,
            journal: None,
        }
    }

    /// The same report, naming the journal.
    pub fn with_journal(mut self, journal: &Path) -> Final {
        self.journal = Some(journal.to_owned());
        self
    }

    /// Whether every step succeeded.
    pub fn succeeded(&self) -> bool {
        self.outcome == RunOutcome::Succeeded
    }

    /// The typed JSON document (`schemas/report.schema.json`).
    pub fn document(&self) -> Document {
        let secs = |d: Duration| (d.as_secs_f64() * 1000.0).round() / 1000.0;
        let (cluster, cluster_error) = match &self.cluster {
            Ok(view) => (Some(view.document()), None),
            Err(e) => (None, Some(e.clone())),
        };
        Document {
            format_version: REPORT_VERSION,
            outcome: self.outcome,
            succeeded: self.succeeded(),
            mode: match self.mode {
                PlanMode::Bootstrap => ModeName::Bootstrap,
                PlanMode::Add => ModeName::Add,
            },
            initiator: self.initiator.clone(),
            elapsed_s: secs(self.elapsed),
            steps: self.totals.into(),
            phases: self
                .phases
                .iter()
                .map(|p| PhaseDocument {
                    phase: p.phase.into(),
                    elapsed_s: p.elapsed.map(secs),
                    total: p.counts.total,
                    changed: p.counts.changed,
                    already_done: p.counts.already_done,
                    failed: p.counts.failed,
                    not_started: p.counts.not_started,
                })
                .collect(),
            failures: self
                .failures
                .iter()
                .map(|f| FailureDocument {
                    step: f.step.clone(),
                    node: f.node.clone(),
                    class: f.class.clone(),
                    error: f.error.clone(),
                    hint: f.hint.clone(),
                })
                .collect(),
            not_started: self.not_started.clone(),
            warnings: self.warnings.clone(),
            journal: self.journal.clone(),
            cluster,
            cluster_error,
        }
    }

    /// The versioned JSON document as a value (objects with sorted keys).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.document()).unwrap_or(Value::Null)
    }

    /// Writes [`Final::to_json`] to `path`, atomically (a temporary file in
    /// the same directory, renamed over it).
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.to_json())? + "\n";
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "report".to_owned());
        let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let result = std::fs::write(&temporary, text)
            .and_then(|()| std::fs::rename(&temporary, path))
            .with_context(|| format!("cannot write the report {}", path.display()));
        if result.is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
        result
    }
}

/// What to do about a failure, when the report knows.
fn hint(failure: &Failure<ApplyError>, class: &str) -> Option<String> {
    match failure {
        Failure::DeadlineExceeded { deadline, .. } => {
            let more = config_loader::model::format_duration(
                (*deadline * 2).min(config_loader::model::MAX_STEP_TIMEOUT),
            );
            Some(format!(
                "if the service is only slow, give `{class}` steps more time: \
                 --timeout {class}={more}, or `timeouts: {{{class}: {more}}}` in the preseed"
            ))
        }
        _ => None,
    }
}

/// The plan's steps with how each ended, to mark objects.
struct StepIndex<'a> {
    plan: &'a Plan,
    states: BTreeMap<&'a str, StepState>,
}

impl StepIndex<'_> {
    /// What the steps matching `about` did; `primary` tells which of them
    /// create the object (the others add to it).
    fn change(&self, about: impl Fn(&Step) -> bool, primary: impl Fn(&Step) -> bool) -> Change {
        let steps: Vec<(&Step, StepState)> = self
            .plan
            .steps
            .iter()
            .filter(|s| about(s))
            .map(|s| (s, self.states[s.id.as_str()]))
            .collect();
        let any = |state: StepState| steps.iter().any(|(_, s)| *s == state);
        if steps.is_empty() {
            Change::NotInPlan
        } else if any(StepState::Failed) {
            Change::Failed
        } else if any(StepState::NotStarted) {
            Change::NotStarted
        } else if steps
            .iter()
            .any(|(step, s)| *s == StepState::Changed && primary(step))
        {
            Change::Created
        } else if any(StepState::Changed) {
            Change::Updated
        } else {
            Change::AlreadyPresent
        }
    }

    fn view(&self, state: ClusterState) -> ClusterView {
        let lxd_member = |name: &str| {
            self.change(
                |s| match &s.action {
                    Action::BootstrapLxd { server_name } | Action::JoinLxd { server_name, .. } => {
                        server_name == name
                    }
                    _ => false,
                },
                |_| true,
            )
        };
        let service_member = |service: Service, name: &str| {
            self.change(
                |s| {
                    s.service == service
                        && match &s.action {
                            Action::BootstrapMicrocluster { name: n, .. }
                            | Action::JoinMicrocluster { name: n, .. } => n == name,
                            _ => false,
                        }
                },
                |_| true,
            )
        };
        let service_members = |service: Service, members: Option<Vec<ServiceMember>>| {
            members.map(|list| {
                list.into_iter()
                    .map(|m| {
                        let change = service_member(service, &m.name);
                        (m, change)
                    })
                    .collect()
            })
        };
        let members = state
            .members
            .into_iter()
            .map(|m| {
                let change = lxd_member(&m.name);
                (m, change)
            })
            .collect();
        let pools = state
            .lxd
            .storage_pools
            .iter()
            .map(|p| self.pool_view(p))
            .collect();
        let networks = state
            .lxd
            .networks
            .iter()
            .map(|n| self.network_view(n))
            .collect();
        let profile_name = self
            .plan
            .steps
            .iter()
            .find_map(|s| match &s.action {
                Action::EnsureProfile { name, .. } => Some(name.clone()),
                _ => None,
            })
            .unwrap_or_else(|| "default".to_owned());
        let profile = state.lxd.profile(&profile_name).map(|p| ProfileView {
            name: p.name.clone(),
            devices: p.devices.clone(),
            change: self.change(
                |s| matches!(&s.action, Action::EnsureProfile { name, .. } if *name == p.name),
                |_| false,
            ),
        });
        let osds = self.osd_views(state.ceph.as_ref());
        let volumes = self.volume_views(&state.lxd);
        ClusterView {
            members,
            bootstrapped: (self.plan.mode == PlanMode::Bootstrap)
                .then(|| self.plan.initiator.clone()),
            microceph: service_members(Service::MicroCeph, state.microceph),
            microovn: service_members(Service::MicroOvn, state.microovn),
            pools,
            networks,
            profile,
            osds,
            volumes,
        }
    }

    /// The OSDs as the run left them, by member and disk.
    fn osd_views(&self, ceph: Option<&MicroCephClusterState>) -> Vec<OsdView> {
        let mut osds: Vec<OsdView> = ceph
            .map(|c| c.osds.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|o| OsdView {
                member: o.location.clone(),
                osd: o.osd,
                path: o.path.clone(),
                change: self.change(
                    |s| {
                        matches!(&s.action, Action::AddCephDisk { path, .. } if *path == o.path)
                            && s.member() == o.location
                    },
                    |_| true,
                ),
            })
            .collect();
        osds.sort_by(|a, b| (&a.member, &a.path).cmp(&(&b.member, &b.path)));
        osds
    }

    /// The custom volumes as the run left them.
    fn volume_views(&self, lxd: &LxdClusterState) -> Vec<VolumeView> {
        lxd.volumes
            .iter()
            .map(|v| VolumeView {
                pool: v.pool.clone(),
                name: v.name.clone(),
                member: v.member.clone(),
                change: self.change(
                    |s| {
                        matches!(&s.action, Action::CreateVolume { pool, name } if *pool == v.pool && *name == v.name)
                            && s.member() == v.member
                    },
                    |_| true,
                ),
            })
            .collect()
    }

    /// A pool as the run left it.
    fn pool_view(&self, p: &ExistingPool) -> PoolView {
        let change = self.change(
            |s| match &s.action {
                Action::CreatePendingPool { name, .. } | Action::CreatePool { name, .. } => {
                    *name == p.name
                }
                _ => false,
            },
            |s| matches!(s.action, Action::CreatePool { .. }),
        );
        // LXD keeps the path it was given in `volatile.initial_source`
        // and may rewrite `source` (btrfs: the file system UUID, zfs:
        // the zpool name; lxd/storage/drivers/driver_{btrfs,zfs}.go).
        let sources = p
            .members
            .iter()
            .filter_map(|(m, config)| {
                let source = ["volatile.initial_source", "source"]
                    .iter()
                    .find_map(|k| config.get(*k).filter(|v| !v.is_empty()))?;
                Some((m.clone(), source.clone()))
            })
            .collect();
        let source = ["source", "ceph.osd.pool_name", "cephfs.path"]
            .iter()
            .find_map(|k| p.config.get(*k).cloned());
        PoolView {
            name: p.name.clone(),
            driver: p.driver.clone(),
            status: p.status.to_string(),
            sources,
            source,
            change,
        }
    }

    /// A network as the run left it.
    fn network_view(&self, n: &ExistingNetwork) -> NetworkView {
        let change = self.change(
            |s| match &s.action {
                Action::CreatePendingNetwork { name, .. } | Action::CreateNetwork { name, .. } => {
                    *name == n.name
                }
                _ => false,
            },
            |s| matches!(s.action, Action::CreateNetwork { .. }),
        );
        let parents = n
            .members
            .iter()
            .filter_map(|(m, config)| Some((m.clone(), config.get("parent")?.clone())))
            .collect();
        let shown = [
            "network",
            "ipv4.address",
            "ipv4.gateway",
            "ipv4.ovn.ranges",
            "ipv6.address",
            "ipv6.gateway",
            "dns.nameservers",
            "parent",
            "bridge.mode",
            "fan.underlay_subnet",
        ];
        let settings = n
            .config
            .iter()
            .filter(|(k, _)| shown.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        NetworkView {
            name: n.name.clone(),
            kind: n.kind.clone(),
            status: n.status.to_string(),
            parents,
            settings,
            change,
        }
    }
}

impl ClusterView {
    fn document(&self) -> ClusterDocument {
        let service = |list: &Option<Vec<(ServiceMember, Change)>>| {
            list.as_ref().map(|l| {
                l.iter()
                    .map(|(m, c)| ServiceMemberDocument {
                        name: m.name.clone(),
                        address: m.address.clone(),
                        role: m.role.clone(),
                        status: m.status.clone(),
                        change: *c,
                    })
                    .collect()
            })
        };
        ClusterDocument {
            members: self
                .members
                .iter()
                .map(|(m, c)| MemberDocument {
                    name: m.name.clone(),
                    url: m.url.clone(),
                    roles: m.roles.clone(),
                    status: m.status.clone(),
                    message: m.message.clone(),
                    change: *c,
                })
                .collect(),
            microceph_members: service(&self.microceph),
            microovn_members: service(&self.microovn),
            storage_pools: self.pools.clone(),
            networks: self.networks.clone(),
            profile: self.profile.clone(),
            osds: self.osds.clone(),
            volumes: self.volumes.clone(),
        }
    }
}

#[cfg(test)]
mod tests;
