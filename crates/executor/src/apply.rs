//! Applying a [`Plan`]: every planner [`Action`] as client calls with
//! "ensure" semantics.
//!
//! Each step first reads the current state and acts only if its desired
//! state does not hold yet; then it reports [`Outcome::AlreadyDone`] or
//! [`Outcome::Changed`]. So a retried step, a re-run of a whole plan, or a
//! run after a crash never repeats work that is done. The runner decides
//! nothing: every name, key and value comes from the plan.
//!
//! Join tokens are the only values passed between steps: an `IssueToken`
//! step stores the token under its step id, and the join step that names it
//! (`token_from`) takes it. A token is issued afresh (after deleting or
//! cancelling an unused one for the same joiner) whenever its step runs, so
//! that a re-run after a crash between issuing and joining works. A token
//! step whose joiner the cluster already lists checks the joiner's own
//! daemon: if it is not clustered, a join was cut off half-way (the
//! cluster recorded the member, the joiner crashed), which only removing
//! the member by hand can repair, and the step fails saying so.
//!
//! A cluster-wide pool or network creation that failed or was cut off
//! half-way is posted again without its global configuration, which LXD
//! already holds and refuses to be given twice.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clients::lxd::{
    ClusterJoin, ClusterMemberConfigKey, LxdApi, NetworksPost, ProfilePut, ServerPut,
    StoragePoolsPost, StorageVolumesPost, TokenField as ClientTokenField,
};
use clients::microceph::MicroCephApi;
use clients::microcluster::MicroclusterApi;
use clients::microovn::MicroOvnApi;
use config_loader::model::{StepClass, Timeouts};
use planner::plan::{Action, Plan, Service, Step, TokenField};

use crate::dag::{Dag, DagError, Node, StepId};
use crate::retry::Deadlines;
use crate::run::{Outcome, Runner, StepError};
use crate::wipe;

mod ceph;
mod join;

/// The clients of one machine.
pub struct NodeClients<L, C, O> {
    /// Its LXD.
    pub lxd: L,
    /// Its MicroCeph, if installed.
    pub microceph: Option<C>,
    /// Its MicroOVN, if installed.
    pub microovn: Option<O>,
}

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A service call failed.
    #[error("step {step} on {node}: {what}")]
    Service {
        /// The step.
        step: String,
        /// The machine.
        node: String,
        /// What the step was doing.
        what: String,
        /// The client's error (service, node, method, path and the service's own message).
        #[source]
        source: Box<clients::Error>,
    },
    /// The plan names a machine or service this run has no client for.
    #[error(
        "step {step}: no {service} client for {node}; the plan and the machines given to the executor disagree"
    )]
    NoClient {
        /// The step.
        step: String,
        /// The machine.
        node: String,
        /// The service.
        service: String,
    },
    /// A join step found no token from its token step.
    #[error(
        "step {step}: no join token from step {token_from} in this run; run the whole plan again"
    )]
    MissingToken {
        /// The join step.
        step: String,
        /// The token step.
        token_from: String,
    },
    /// A disk the step would wipe is gone, is another disk than the one
    /// planned, or is in use (see [`crate::wipe`]).
    #[error(
        "step {step}: refusing to wipe {path} on {node}: {reason}; nothing was wiped. Check the disks of {node} (`lxc info --resources`); run again once the disk is the one to wipe: the next run plans from the disks as they are then"
    )]
    WipeRefused {
        /// The step.
        step: String,
        /// The machine the disk is in.
        node: String,
        /// The path the step would hand to the service.
        path: String,
        /// What differs from the plan, or what uses the disk.
        reason: String,
    },
    /// The live state contradicts the plan in a way the step cannot fix.
    #[error("step {step} on {node}: {what}")]
    Conflict {
        /// The step.
        step: String,
        /// The machine.
        node: String,
        /// What is wrong and what to do.
        what: String,
    },
}

impl StepError for ApplyError {
    fn is_transient(&self) -> bool {
        match self {
            ApplyError::Service { source, .. } => source.is_transient(),
            _ => false,
        }
    }
}

/// A join token as passed from its step to the join.
#[derive(Clone)]
enum Token {
    /// microcluster: the encoded token string.
    Microcluster(String),
    /// LXD: the encoded token, and what the joiner needs to fetch the cluster certificate.
    Lxd {
        encoded: String,
        fingerprint: String,
    },
}

/// Runs the steps of one plan.
pub struct PlanRunner<L, C, O> {
    plan: Plan,
    index: BTreeMap<String, usize>,
    nodes: BTreeMap<String, NodeClients<L, C, O>>,
    tokens: Mutex<BTreeMap<String, Token>>,
}

impl<L, C, O> PlanRunner<L, C, O> {
    /// A runner for `plan` with the clients of every machine in it.
    pub fn new(plan: Plan, nodes: BTreeMap<String, NodeClients<L, C, O>>) -> Self {
        let index = plan
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.0.clone(), i))
            .collect();
        PlanRunner {
            plan,
            index,
            nodes,
            tokens: Mutex::new(BTreeMap::new()),
        }
    }

    /// The plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The clients of machine `node`, if the runner has them (for reading
    /// the cluster's state once the plan has run).
    pub fn clients(&self, node: &str) -> Option<&NodeClients<L, C, O>> {
        self.nodes.get(node)
    }
}

/// The scheduler's deadlines for a plan's steps: every [`StepClass`] with
/// its deadline from `timeouts` (set, or the class's default).
pub fn deadlines(timeouts: &Timeouts) -> Deadlines {
    Deadlines {
        per_class: StepClass::ALL
            .into_iter()
            .map(|c| (c.name().to_owned(), timeouts.get(c)))
            .collect(),
        ..Deadlines::default()
    }
}

/// The scheduler's view of a plan: every step, with its dependencies,
/// serialisation group and deadline class ([`Action::step_class`]).
pub fn dag_of(plan: &Plan) -> Result<Dag, DagError> {
    Dag::new(nodes_of(plan))
}

/// [`dag_of`]'s nodes, in plan order.
fn nodes_of(plan: &Plan) -> Vec<Node> {
    plan.steps
        .iter()
        .map(|s| Node {
            id: StepId(s.id.0.clone()),
            deps: s.depends_on.iter().map(|d| StepId(d.0.clone())).collect(),
            group: s.serial_group.clone(),
            class: s.action.step_class().name().to_owned(),
        })
        .collect()
}

/// The graph of a plan run in MicroCloud's order (`--serial-peers`): the
/// same steps and dependencies as [`dag_of`], plus edges so that
///
/// * the joining machines take part one at a time, in plan order: every
///   step of a machine's *unit* (its join-phase steps, such as its service
///   joins and its LXD settings, and its Ceph disks) waits for every step
///   of the previous machine's unit; the initiator's own disks form the
///   last unit, after every join, as MicroCloud adds them;
/// * within a unit, the disks are added one after the other, and the LXD
///   steps wait for the disks (a MicroCloud joiner joins MicroCeph and
///   adds its disks, then joins LXD).
///
/// Token steps and everything after the joins keep their dependencies, as
/// MicroCloud issues the tokens up front and creates pools and networks
/// after the joins. Used to measure what the ordering costs (BENCHMARKS.md).
///
/// # Errors
///
/// As [`dag_of`]; the added edges cannot form a cycle, since no step of a
/// unit depends on a later machine's steps.
pub fn dag_of_serial_peers(plan: &Plan) -> Result<Dag, DagError> {
    let joiners: Vec<&str> = plan
        .systems
        .iter()
        .filter(|s| s.role == planner::plan::Role::Joiner)
        .map(|s| s.name.as_str())
        .collect();
    let is_disk = |s: &Step| matches!(s.action, Action::AddCephDisk { .. });
    let unit_of = |s: &Step| -> Option<usize> {
        if is_disk(s) && s.node == plan.initiator {
            return Some(joiners.len());
        }
        if s.phase == planner::plan::Phase::Join || is_disk(s) {
            return joiners.iter().position(|j| *j == s.node);
        }
        None
    };
    let mut units: Vec<Vec<usize>> = vec![Vec::new(); joiners.len() + 1];
    for (i, s) in plan.steps.iter().enumerate() {
        if let Some(u) = unit_of(s) {
            units[u].push(i);
        }
    }
    let mut nodes = nodes_of(plan);
    let id = |i: usize| StepId(plan.steps[i].id.0.clone());
    let units: Vec<Vec<usize>> = units.into_iter().filter(|u| !u.is_empty()).collect();
    for (k, unit) in units.iter().enumerate() {
        let disks: Vec<usize> = unit
            .iter()
            .copied()
            .filter(|&i| is_disk(&plan.steps[i]))
            .collect();
        for pair in disks.windows(2) {
            nodes[pair[1]].deps.push(id(pair[0]));
        }
        for &i in unit {
            if plan.steps[i].service == Service::Lxd {
                nodes[i].deps.extend(disks.iter().map(|&d| id(d)));
            }
            if let Some(previous) = k.checked_sub(1).map(|p| &units[p]) {
                nodes[i].deps.extend(previous.iter().map(|&p| id(p)));
            }
        }
    }
    Dag::new(nodes)
}

fn service_error(
    step: &Step,
    what: impl Into<String>,
) -> impl FnOnce(clients::Error) -> ApplyError {
    let (step_id, node, what) = (step.id.0.clone(), step.node.clone(), what.into());
    move |source| ApplyError::Service {
        step: step_id,
        node,
        what,
        source: Box::new(source),
    }
}

fn conflict(step: &Step, what: impl Into<String>) -> ApplyError {
    ApplyError::Conflict {
        step: step.id.0.clone(),
        node: step.node.clone(),
        what: what.into(),
    }
}

impl<L, C, O> PlanRunner<L, C, O>
where
    L: LxdApi + 'static,
    C: MicroCephApi + 'static,
    O: MicroOvnApi + 'static,
{
    fn node(&self, step: &Step) -> Result<&NodeClients<L, C, O>, ApplyError> {
        self.nodes
            .get(&step.node)
            .ok_or_else(|| ApplyError::NoClient {
                step: step.id.0.clone(),
                node: step.node.clone(),
                service: step.service.name().to_owned(),
            })
    }

    fn missing(&self, step: &Step) -> ApplyError {
        ApplyError::NoClient {
            step: step.id.0.clone(),
            node: step.node.clone(),
            service: step.service.name().to_owned(),
        }
    }

    /// Reads the disks of every member whose disk `step` wipes and fails
    /// unless each is still what the plan recorded (see [`crate::wipe`]).
    async fn check_wipes(&self, step: &Step, scope: wipe::Scope) -> Result<(), ApplyError> {
        for w in &step.wipes {
            let member = self
                .nodes
                .get(&w.member)
                .ok_or_else(|| ApplyError::NoClient {
                    step: step.id.0.clone(),
                    node: w.member.clone(),
                    service: "LXD".to_owned(),
                })?;
            let resources = member.lxd.resources(None).await.map_err(service_error(
                step,
                format!("reading the disks of {} before wiping {}", w.member, w.path),
            ))?;
            if let Some(reason) = wipe::refusal(w, &resources.storage.disks, scope) {
                return Err(ApplyError::WipeRefused {
                    step: step.id.0.clone(),
                    node: w.member.clone(),
                    path: w.path.clone(),
                    reason,
                });
            }
        }
        Ok(())
    }

    fn take_token(&self, step: &Step, from: &str) -> Result<Token, ApplyError> {
        let tokens = self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tokens
            .get(from)
            .cloned()
            .ok_or_else(|| ApplyError::MissingToken {
                step: step.id.0.clone(),
                token_from: from.to_owned(),
            })
    }

    fn put_token(&self, step: &Step, token: Token) {
        let mut tokens = self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tokens.insert(step.id.0.clone(), token);
    }

    async fn run_step(&self, step: &Step) -> Result<Outcome, ApplyError> {
        let node = self.node(step)?;
        let target = step.target.as_deref();
        match &step.action {
            Action::BootstrapMicrocluster {
                name,
                address,
                config,
            } => match step.service {
                Service::MicroCeph => {
                    let c = node.microceph.as_ref().ok_or_else(|| self.missing(step))?;
                    bootstrap_microcluster(c, step, name, *address, config).await
                }
                Service::MicroOvn => {
                    let o = node.microovn.as_ref().ok_or_else(|| self.missing(step))?;
                    bootstrap_microcluster(o, step, name, *address, config).await
                }
                Service::Lxd => Err(conflict(step, "a microcluster bootstrap cannot target LXD")),
            },
            Action::BootstrapLxd { server_name } => {
                let cluster = node
                    .lxd
                    .cluster()
                    .await
                    .map_err(service_error(step, "reading the cluster"))?;
                if cluster.value.enabled {
                    return Ok(Outcome::AlreadyDone);
                }
                node.lxd
                    .enable_clustering(server_name)
                    .await
                    .map_err(service_error(step, "enabling clustering"))?;
                Ok(Outcome::Changed)
            }
            Action::SetServerConfig { config } => {
                let server = node
                    .lxd
                    .server(target)
                    .await
                    .map_err(service_error(step, "reading the server config"))?;
                let missing: BTreeMap<String, String> = config
                    .iter()
                    .filter(|(k, v)| {
                        server.value.config.get(*k).and_then(|x| x.as_str()) != Some(v.as_str())
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if missing.is_empty() {
                    return Ok(Outcome::AlreadyDone);
                }
                node.lxd
                    .patch_server(&ServerPut { config: missing }, target, None)
                    .await
                    .map_err(service_error(step, "setting the server config"))?;
                Ok(Outcome::Changed)
            }
            Action::IssueToken {
                joiner,
                expire_after_secs,
            } => {
                let expire = Duration::from_secs(expire_after_secs.unwrap_or(3 * 3600));
                let joiner_node = self.nodes.get(joiner);
                match step.service {
                    Service::Lxd => {
                        self.issue_lxd_token(step, &node.lxd, joiner, joiner_node.map(|n| &n.lxd))
                            .await
                    }
                    Service::MicroCeph => {
                        let c = node.microceph.as_ref().ok_or_else(|| self.missing(step))?;
                        let j = joiner_node.and_then(|n| n.microceph.as_ref());
                        self.issue_microcluster_token(step, c, joiner, j, expire)
                            .await
                    }
                    Service::MicroOvn => {
                        let o = node.microovn.as_ref().ok_or_else(|| self.missing(step))?;
                        let j = joiner_node.and_then(|n| n.microovn.as_ref());
                        self.issue_microcluster_token(step, o, joiner, j, expire)
                            .await
                    }
                }
            }
            Action::JoinMicrocluster {
                name,
                address,
                token_from,
                config,
            } => match step.service {
                Service::MicroCeph => {
                    let c = node.microceph.as_ref().ok_or_else(|| self.missing(step))?;
                    self.join_microcluster(step, c, name, *address, token_from, config)
                        .await
                }
                Service::MicroOvn => {
                    let o = node.microovn.as_ref().ok_or_else(|| self.missing(step))?;
                    self.join_microcluster(step, o, name, *address, token_from, config)
                        .await
                }
                Service::Lxd => Err(conflict(step, "a microcluster join cannot target LXD")),
            },
            Action::JoinLxd {
                server_name,
                server_address,
                cluster_address,
                token_from,
                token_field,
                member_config,
            } => {
                let cluster = node
                    .lxd
                    .cluster()
                    .await
                    .map_err(service_error(step, "reading the cluster"))?;
                if cluster.value.enabled {
                    return Ok(Outcome::AlreadyDone);
                }
                let Token::Lxd {
                    encoded,
                    fingerprint,
                } = self.take_token(step, &token_from.0)?
                else {
                    return Err(conflict(
                        step,
                        "the token step issued a microcluster token for an LXD join",
                    ));
                };
                let certificate = self
                    .cluster_certificate(step, token_from, &fingerprint)
                    .await?;
                let join = ClusterJoin {
                    server_name: server_name.clone(),
                    cluster_address: cluster_address.to_string(),
                    cluster_certificate: certificate,
                    server_address: server_address.to_string(),
                    token: encoded,
                    member_config: member_config
                        .iter()
                        .map(|k| ClusterMemberConfigKey {
                            entity: k.entity.clone(),
                            name: k.name.clone(),
                            key: k.key.clone(),
                            value: k.value.clone(),
                            description: String::new(),
                        })
                        .collect(),
                };
                let field = match token_field {
                    TokenField::ClusterToken => ClientTokenField::Explicit,
                    TokenField::ClusterPassword => ClientTokenField::Password,
                };
                self.check_wipes(step, wipe::Scope::Unused).await?;
                node.lxd
                    .join_cluster(&join, field)
                    .await
                    .map_err(service_error(step, "joining the LXD cluster"))?;
                Ok(Outcome::Changed)
            }
            Action::AwaitLxdMembers { members } => {
                let listed = node
                    .lxd
                    .cluster_members()
                    .await
                    .map_err(service_error(step, "listing LXD members"))?;
                let listed: BTreeSet<&str> =
                    listed.iter().map(|m| m.server_name.as_str()).collect();
                let missing: Vec<&str> = members
                    .iter()
                    .map(String::as_str)
                    .filter(|m| !listed.contains(m))
                    .collect();
                if missing.is_empty() {
                    return Ok(Outcome::AlreadyDone);
                }
                Err(conflict(
                    step,
                    format!(
                        "{} of {} members missing from the LXD cluster: {}; their joins are done, so a member may have been removed during the run: check `lxc cluster list` on {}, then run again to join the missing members",
                        missing.len(),
                        members.len(),
                        name_list(&missing),
                        step.node,
                    ),
                ))
            }
            Action::AddCephDisk {
                path,
                wipe,
                encrypt,
            } => self.add_ceph_disk(step, node, path, *wipe, *encrypt).await,
            Action::SetReplication { size, pools } => {
                self.set_replication(step, node, *size, pools).await
            }
            Action::ConfigureOvnNorthbound { port: _ } => {
                let o = node.microovn.as_ref().ok_or_else(|| self.missing(step))?;
                let mut services = o
                    .services()
                    .await
                    .map_err(service_error(step, "listing MicroOVN services"))?;
                // In member-name order, as the plan says: MicroOVN lists
                // services in join order, which differs from run to run.
                services.sort_by(|a, b| a.location.cmp(&b.location));
                let members = o
                    .cluster_members()
                    .await
                    .map_err(service_error(step, "listing MicroOVN members"))?;
                let connection =
                    clients::microovn::northbound_connection(&services, &members).map_err(
                        service_error(step, "computing the OVN northbound connection"),
                    )?;
                let key = "network.ovn.northbound_connection";
                let server = node
                    .lxd
                    .server(None)
                    .await
                    .map_err(service_error(step, "reading the server config"))?;
                if server.value.config.get(key).and_then(|v| v.as_str())
                    == Some(connection.as_str())
                {
                    return Ok(Outcome::AlreadyDone);
                }
                let config = BTreeMap::from([(key.to_owned(), connection)]);
                node.lxd
                    .patch_server(&ServerPut { config }, None, None)
                    .await
                    .map_err(service_error(step, "pointing LXD at OVN"))?;
                Ok(Outcome::Changed)
            }
            Action::CreatePendingPool {
                name,
                driver,
                config,
            } => {
                let member = step.member();
                let pools = node
                    .lxd
                    .storage_pools(None)
                    .await
                    .map_err(service_error(step, "listing storage pools"))?;
                if let Some(p) = pools.iter().find(|p| p.name == *name)
                    && (p.status == "Created" || p.locations.iter().any(|l| l == member))
                {
                    return Ok(Outcome::AlreadyDone);
                }
                let body = StoragePoolsPost {
                    name: name.clone(),
                    driver: driver.clone(),
                    config: config.clone(),
                    description: String::new(),
                };
                node.lxd
                    .create_storage_pool(&body, Some(member))
                    .await
                    .map_err(service_error(
                        step,
                        format!("defining pool {name} on {member}"),
                    ))?;
                Ok(Outcome::Changed)
            }
            Action::CreatePool {
                name,
                driver,
                description,
                config,
            } => {
                let pools = node
                    .lxd
                    .storage_pools(None)
                    .await
                    .map_err(service_error(step, "listing storage pools"))?;
                let existing = pools.iter().find(|p| p.name == *name);
                if existing.is_some_and(|p| p.status == "Created") {
                    return Ok(Outcome::AlreadyDone);
                }
                let partial = existing.is_some_and(|p| partially_created(&p.status, &p.config));
                let scope = if partial {
                    wipe::Scope::IdentityOnly
                } else {
                    wipe::Scope::Unused
                };
                self.check_wipes(step, scope).await?;
                let (config, description) = global_fields(partial, config, description);
                let body = StoragePoolsPost {
                    name: name.clone(),
                    driver: driver.clone(),
                    config,
                    description,
                };
                node.lxd
                    .create_storage_pool(&body, None)
                    .await
                    .map_err(service_error(step, format!("creating pool {name}")))?;
                Ok(Outcome::Changed)
            }
            Action::CreatePendingNetwork {
                name,
                network_type,
                config,
            } => {
                let member = step.member();
                let networks = node
                    .lxd
                    .networks(None)
                    .await
                    .map_err(service_error(step, "listing networks"))?;
                if let Some(n) = networks.iter().find(|n| n.name == *name)
                    && (n.status == "Created" || n.locations.iter().flatten().any(|l| l == member))
                {
                    return Ok(Outcome::AlreadyDone);
                }
                let body = NetworksPost {
                    name: name.clone(),
                    kind: network_type.clone(),
                    config: config.clone(),
                    description: String::new(),
                };
                node.lxd
                    .create_network(&body, Some(member))
                    .await
                    .map_err(service_error(
                        step,
                        format!("defining network {name} on {member}"),
                    ))?;
                Ok(Outcome::Changed)
            }
            Action::CreateNetwork {
                name,
                network_type,
                description,
                config,
            } => {
                let networks = node
                    .lxd
                    .networks(None)
                    .await
                    .map_err(service_error(step, "listing networks"))?;
                let existing = networks.iter().find(|n| n.name == *name);
                if existing.is_some_and(|n| n.status == "Created") {
                    return Ok(Outcome::AlreadyDone);
                }
                let partial = existing.is_some_and(|n| partially_created(&n.status, &n.config));
                let (config, description) = global_fields(partial, config, description);
                let body = NetworksPost {
                    name: name.clone(),
                    kind: network_type.clone(),
                    config,
                    description,
                };
                node.lxd
                    .create_network(&body, None)
                    .await
                    .map_err(service_error(step, format!("creating network {name}")))?;
                Ok(Outcome::Changed)
            }
            Action::EnsureProfile { name, devices } => {
                let profile = node
                    .lxd
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
                node.lxd
                    .put_profile(name, &body, profile.etag.as_deref())
                    .await
                    .map_err(service_error(step, format!("updating profile {name}")))?;
                Ok(Outcome::Changed)
            }
            Action::CreateVolume { pool, name } => {
                let volumes =
                    node.lxd
                        .custom_volumes(pool, target)
                        .await
                        .map_err(service_error(
                            step,
                            format!("listing volumes of pool {pool}"),
                        ))?;
                // A clustered LXD lists every member's volumes: only one on
                // this member counts (an unclustered one has no location).
                let member = step.member();
                if volumes
                    .iter()
                    .any(|v| v.name == *name && (v.location.is_empty() || v.location == member))
                {
                    return Ok(Outcome::AlreadyDone);
                }
                let body = StorageVolumesPost {
                    name: name.clone(),
                    kind: "custom".into(),
                    ..StorageVolumesPost::default()
                };
                node.lxd
                    .create_custom_volume(pool, &body, target)
                    .await
                    .map_err(service_error(
                        step,
                        format!("creating volume {pool}/{name}"),
                    ))?;
                Ok(Outcome::Changed)
            }
        }
    }
}

/// Names for a message: all of them up to ten, else the first ten and how
/// many more (a cluster may have a thousand members).
fn name_list(names: &[&str]) -> String {
    const SHOWN: usize = 10;
    if names.len() <= SHOWN {
        return names.join(", ");
    }
    format!(
        "{} and {} more",
        names[..SHOWN].join(", "),
        names.len() - SHOWN
    )
}

/// Whether a cluster-wide pool or network creation already ran and did not
/// complete (a member failed, or the run stopped mid-way): LXD then holds
/// its global configuration (status `Errored`, or global keys on a
/// not-yet-created object; the cluster-wide view lists global keys only)
/// and refuses to be given it again ("already partially created. Please do
/// not specify any global config when re-running create"). Such a creation
/// is completed by posting it again without config or description.
/// What a cluster-wide create sends: the global config and description, or,
/// after an attempt that got half-way (LXD refuses global config a second
/// time), neither.
fn global_fields(
    partial: bool,
    config: &BTreeMap<String, String>,
    description: &str,
) -> (BTreeMap<String, String>, String) {
    if partial {
        (BTreeMap::new(), String::new())
    } else {
        (config.clone(), description.to_owned())
    }
}

fn partially_created(status: &str, global_config: &BTreeMap<String, String>) -> bool {
    status == "Errored" || (status != "Created" && !global_config.is_empty())
}

/// Bootstrap of MicroCeph or MicroOVN: done when the daemon is initialised
/// and lists `name` as a member.
async fn bootstrap_microcluster<M: MicroclusterApi>(
    client: &M,
    step: &Step,
    name: &str,
    address: SocketAddr,
    config: &BTreeMap<String, String>,
) -> Result<Outcome, ApplyError> {
    let info = client
        .server_info()
        .await
        .map_err(service_error(step, "reading the daemon status"))?;
    if info.ready {
        let members = client
            .cluster_members()
            .await
            .map_err(service_error(step, "listing members"))?;
        if members.iter().any(|m| m.name == name) {
            return Ok(Outcome::AlreadyDone);
        }
        return Err(conflict(
            step,
            format!(
                "{} is already initialised, but not as {name}; it belongs to another cluster",
                step.service.name()
            ),
        ));
    }
    client
        .bootstrap(name, address, config)
        .await
        .map_err(service_error(step, "bootstrapping"))?;
    Ok(Outcome::Changed)
}

impl<L, C, O> Runner for PlanRunner<L, C, O>
where
    L: LxdApi + 'static,
    C: MicroCephApi + 'static,
    O: MicroOvnApi + 'static,
{
    type Error = ApplyError;

    async fn run(&self, step: &StepId, _attempt: u32) -> Result<Outcome, ApplyError> {
        let Some(s) = self
            .index
            .get(&step.0)
            .and_then(|i| self.plan.steps.get(*i))
        else {
            return Err(ApplyError::Conflict {
                step: step.0.clone(),
                node: String::new(),
                what: "the step is not in the plan".into(),
            });
        };
        self.run_step(s).await
    }
}

/// Applies `plan` with `runner`'s clients: builds the graph and runs it.
pub async fn apply<L, C, O>(
    runner: Arc<PlanRunner<L, C, O>>,
    options: &crate::run::Options,
    events: Option<tokio::sync::mpsc::UnboundedSender<crate::run::Event>>,
    cancel: tokio::sync::watch::Receiver<bool>,
) -> Result<crate::run::Report<ApplyError>, DagError>
where
    L: LxdApi + 'static,
    C: MicroCephApi + 'static,
    O: MicroOvnApi + 'static,
{
    let dag = if options.serial_peers {
        dag_of_serial_peers(runner.plan())?
    } else {
        dag_of(runner.plan())?
    };
    Ok(crate::run::execute(&dag, runner, options, events, cancel).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_class_gets_its_deadline() {
        let mut timeouts = Timeouts::default();
        timeouts.set(StepClass::Join, Duration::from_secs(7));
        let d = deadlines(&timeouts);
        assert_eq!(d.per_class.len(), StepClass::ALL.len());
        assert_eq!(d.of("join"), Duration::from_secs(7));
        assert_eq!(d.of("token"), StepClass::Token.default_timeout());
        assert_eq!(d.of("settings"), Duration::from_secs(120));
    }

    #[test]
    fn long_name_lists_are_cut_after_ten() {
        assert_eq!(name_list(&["a", "b"]), "a, b");
        let names: Vec<String> = (1..=12).map(|i| format!("m{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        assert_eq!(
            name_list(&names[..10]),
            "m1, m2, m3, m4, m5, m6, m7, m8, m9, m10"
        );
        assert_eq!(
            name_list(&names),
            "m1, m2, m3, m4, m5, m6, m7, m8, m9, m10 and 2 more"
        );
    }
}
