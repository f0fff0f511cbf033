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
//!
//! [`PlanRunner`]'s dispatcher only routes an action to the module of its
//! object: `microcluster` (MicroCeph and MicroOVN bootstrap, tokens,
//! joins), `lxd` (clustering, settings, tokens, joins), `ceph` (OSDs,
//! replication), `member_defined` (storage pools and networks, which a
//! cluster defines member by member, then creates: one helper for both),
//! `storage` (volumes), `network` (the OVN connection) and
//! `profile`.
//! `graph` turns a plan into the scheduler's graph and deadlines.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use clients::lxd::LxdApi;
use clients::microceph::MicroCephApi;
use clients::microovn::MicroOvnApi;
use planner::plan::{Action, Plan, Service, Step};

use planner::StepId;

use crate::dag::DagError;
use crate::run::{Outcome, Runner, StepError};
use crate::wipe;

mod ceph;
mod graph;
mod lxd;
mod member_defined;
mod microcluster;
mod network;
mod profile;
mod storage;

pub use graph::{dag_of, dag_of_serial_peers, deadlines};

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
    index: BTreeMap<StepId, usize>,
    nodes: BTreeMap<String, NodeClients<L, C, O>>,
    tokens: Mutex<BTreeMap<StepId, Token>>,
}

impl<L, C, O> PlanRunner<L, C, O> {
    /// A runner for `plan` with the clients of every machine in it.
    pub fn new(plan: Plan, nodes: BTreeMap<String, NodeClients<L, C, O>>) -> Self {
        let index = plan
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i))
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

fn service_error(
    step: &Step,
    what: impl Into<String>,
) -> impl FnOnce(clients::Error) -> ApplyError {
    let (step_id, node, what) = (step.id.to_string(), step.node.clone(), what.into());
    move |source| ApplyError::Service {
        step: step_id,
        node,
        what,
        source: Box::new(source),
    }
}

fn conflict(step: &Step, what: impl Into<String>) -> ApplyError {
    ApplyError::Conflict {
        step: step.id.to_string(),
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
                step: step.id.to_string(),
                node: step.node.clone(),
                service: step.service.name().to_owned(),
            })
    }

    fn missing(&self, step: &Step) -> ApplyError {
        ApplyError::NoClient {
            step: step.id.to_string(),
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
                    step: step.id.to_string(),
                    node: w.member.clone(),
                    service: "LXD".to_owned(),
                })?;
            let resources = member.lxd.resources(None).await.map_err(service_error(
                step,
                format!("reading the disks of {} before wiping {}", w.member, w.path),
            ))?;
            if let Some(reason) = wipe::refusal(w, &resources.storage.disks, scope) {
                return Err(ApplyError::WipeRefused {
                    step: step.id.to_string(),
                    node: w.member.clone(),
                    path: w.path.clone(),
                    reason,
                });
            }
        }
        Ok(())
    }

    fn take_token(&self, step: &Step, from: &StepId) -> Result<Token, ApplyError> {
        let tokens = self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tokens
            .get(from)
            .cloned()
            .ok_or_else(|| ApplyError::MissingToken {
                step: step.id.to_string(),
                token_from: from.to_string(),
            })
    }

    fn put_token(&self, step: &Step, token: Token) {
        let mut tokens = self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tokens.insert(step.id.clone(), token);
    }

    /// Routes `step`'s action to the module of its object.
    async fn run_step(&self, step: &Step) -> Result<Outcome, ApplyError> {
        let node = self.node(step)?;
        match &step.action {
            Action::BootstrapMicrocluster {
                name,
                address,
                config,
            } => {
                self.bootstrap_microcluster(step, node, name, *address, config)
                    .await
            }
            Action::BootstrapLxd { server_name } => {
                lxd::bootstrap(step, &node.lxd, server_name).await
            }
            Action::SetServerConfig { config } => {
                lxd::set_server_config(step, &node.lxd, config).await
            }
            Action::IssueToken { joiner, .. } if step.service == Service::Lxd => {
                self.issue_lxd_token(step, &node.lxd, joiner).await
            }
            Action::IssueToken {
                joiner,
                expire_after_secs,
            } => {
                self.issue_microcluster_token(step, node, joiner, *expire_after_secs)
                    .await
            }
            Action::JoinMicrocluster {
                name,
                address,
                token_from,
                config,
            } => {
                let join = microcluster::Join {
                    name,
                    address: *address,
                    token_from,
                    config,
                };
                self.join_microcluster(step, node, &join).await
            }
            Action::JoinLxd {
                server_name,
                server_address,
                cluster_address,
                token_from,
                token_field,
                member_config,
            } => {
                let join = lxd::Join {
                    server_name,
                    server_address: *server_address,
                    cluster_address: *cluster_address,
                    token_from,
                    token_field: *token_field,
                    member_config,
                };
                self.join_lxd(step, &node.lxd, &join).await
            }
            Action::AwaitLxdMembers { members } => {
                lxd::await_members(step, &node.lxd, members).await
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
                self.configure_ovn_northbound(step, node).await
            }
            Action::CreatePendingPool { .. }
            | Action::CreatePool { .. }
            | Action::CreatePendingNetwork { .. }
            | Action::CreateNetwork { .. } => self.ensure_member_defined(step, &node.lxd).await,
            Action::EnsureProfile { name, devices } => {
                profile::ensure_profile(step, &node.lxd, name, devices).await
            }
            Action::CreateVolume { pool, name } => {
                storage::create_volume(step, &node.lxd, pool, name).await
            }
        }
    }
}

impl<L, C, O> Runner for PlanRunner<L, C, O>
where
    L: LxdApi + 'static,
    C: MicroCephApi + 'static,
    O: MicroOvnApi + 'static,
{
    type Error = ApplyError;

    async fn run(&self, step: &StepId, _attempt: u32) -> Result<Outcome, ApplyError> {
        let Some(s) = self.index.get(step).and_then(|i| self.plan.steps.get(*i)) else {
            return Err(ApplyError::Conflict {
                step: step.to_string(),
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
