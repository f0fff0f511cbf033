//! Runs that span machines, on top of [`crate::run`]: the initiator's
//! side ([`initiator`]: trust session, agents of the joiners, the run
//! through them, the outcome sent back) and the joiner's side ([`joiner`]:
//! find the initiator, prove the passphrase, lend the local services
//! through the agent until the initiator says how the run ended). The
//! timings both sides watch each other with are in [`crate::liveness`].
//!
//! [`drive`] runs the plan and shows what an outcome that applied nothing
//! has to show; a run of one machine uses it too.

pub mod initiator;
pub mod joiner;

use anyhow::{Context, Result};
use clients::cert::Identity;
use clients::lxd::LxdClient;
use clients::microceph::MicroCephClient;
use clients::microovn::MicroOvnClient;
use executor::apply::NodeClients;
use planner::inventory::SystemInventory;
use session::agent::{AgentClient, Finish, ProxiedService, SystemFacts};
use session::net::AdmittedJoiner;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::exit::Exit;
use crate::liveness::{LOST_AFTER, Lost, PING_EVERY};
use crate::machine::Machine;
use crate::output::{print_diagnostics, print_plan};
use crate::run::{self, AddressOverrides, Ending, Outcome, Run};

/// How long one check may take.
const PING_TIMEOUT: Duration = Duration::from_secs(4);
/// Largest accepted difference between two machines' clocks.
const MAX_CLOCK_SKEW: Duration = Duration::from_secs(30);
/// How long telling a joiner the outcome may take.
const FINISH_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the plan against `machines` (this one first when it is the
/// initiator), with `peers` watched while it runs, and shows what the
/// outcome has to show when nothing was applied: why the machines could not
/// be collected, the diagnostics, a dry run's plan.
///
/// # Errors
/// When collecting fails on a run of this machine alone, or applying fails
/// in a way no exit status covers.
pub async fn drive(
    run: &Run,
    machines: Vec<Machine>,
    mut peers: Option<&mut Peers>,
) -> Result<Ending> {
    let overrides = peers
        .as_ref()
        .map(|p| p.overrides().clone())
        .unwrap_or_default();
    let lost = peers.as_mut().map(|p| &mut p.lost_rx);
    match run::drive(run, machines, &overrides, lost).await? {
        Outcome::NotCollected(e) => {
            let Some(peers) = peers else {
                return Err(e);
            };
            // A joiner that went away (killed, powered off) makes its
            // services' calls fail: say that, not what the calls suggest.
            let gone = peers.unreachable().await;
            let ending = if gone.is_empty() {
                Ending::new(Exit::Invalid, format!("pre-flight check failed: {e:#}"))
            } else {
                Ending::new(Exit::Peer, gone_message(&gone))
            };
            eprintln!("error: {}", ending.message);
            Ok(ending)
        }
        Outcome::Unplannable { errors, ending } => {
            let all = run
                .report
                .with_extra(errors.iter().map(planner::PlanError::to_diagnostic));
            print_diagnostics(&run.report, &all, &run.name, run.settings.format)?;
            Ok(ending)
        }
        Outcome::DryRun(plan) => {
            print_plan(&plan, run.settings.format)?;
            Ok(Ending::new(Exit::Success, "dry run: nothing was changed"))
        }
        Outcome::Applied(ending) => Ok(ending),
    }
}

/// The admitted joiners' agents, watched from admission on.
pub struct Peers {
    identity: Identity,
    pub(crate) agents: Arc<Mutex<BTreeMap<String, AgentClient>>>,
    lost_tx: mpsc::UnboundedSender<Lost>,
    pub(crate) lost_rx: mpsc::UnboundedReceiver<Lost>,
    watchers: JoinSet<()>,
    overrides: AddressOverrides,
}

impl Peers {
    pub(crate) fn new(identity: Identity, overrides: AddressOverrides) -> Peers {
        let (lost_tx, lost_rx) = mpsc::unbounded_channel();
        Peers {
            identity,
            agents: Arc::default(),
            lost_tx,
            lost_rx,
            watchers: JoinSet::new(),
            overrides,
        }
    }

    pub(crate) fn overrides(&self) -> &AddressOverrides {
        &self.overrides
    }

    fn agents(&self) -> Vec<(String, AgentClient)> {
        self.agents
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(n, a)| (n.clone(), a.clone()))
            .collect()
    }

    /// Starts watching a newly admitted joiner (once per name).
    pub(crate) fn adopt(&mut self, joiner: &AdmittedJoiner) -> Result<()> {
        let mut agents = self.agents.lock().unwrap_or_else(PoisonError::into_inner);
        if agents.contains_key(&joiner.name) {
            return Ok(());
        }
        let address: SocketAddr = joiner.intent.address.parse().with_context(|| {
            format!(
                "machine {} gave {:?} as its agent's address, which is not an address and port",
                joiner.name, joiner.intent.address
            )
        })?;
        let client = AgentClient::new(address, &joiner.name, &self.identity, joiner.certificate)
            .with_context(|| format!("cannot set up the connection to {}'s agent", joiner.name))?;
        agents.insert(joiner.name.clone(), client.clone());
        let (name, lost) = (joiner.name.clone(), self.lost_tx.clone());
        self.watchers.spawn(async move {
            let mut last_answer = tokio::time::Instant::now();
            loop {
                tokio::time::sleep(PING_EVERY).await;
                let reason = match tokio::time::timeout(PING_TIMEOUT, client.system()).await {
                    Ok(Ok(_)) => {
                        last_answer = tokio::time::Instant::now();
                        continue;
                    }
                    Ok(Err(e)) => format!("{:#}", anyhow::Error::new(e)),
                    Err(_) => format!("no answer within {} s", PING_TIMEOUT.as_secs()),
                };
                if last_answer.elapsed() >= LOST_AFTER {
                    let _ = lost.send(Lost { name, reason });
                    return;
                }
            }
        });
        Ok(())
    }

    /// The joiners as machines reached through their agents, after the
    /// pre-flight checks only they can answer (facts, clock).
    pub(crate) async fn machines(&self) -> Result<Vec<Machine>, String> {
        let mut tasks = JoinSet::new();
        for (name, agent) in self.agents() {
            tasks.spawn(async move {
                let facts = agent.system().await;
                (name, agent, facts)
            });
        }
        let mut machines = Vec::new();
        let mut problems = Vec::new();
        let mut answers = tasks.join_all().await;
        answers.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, agent, facts) in answers {
            match facts {
                Ok(facts) => match clock_problem(&name, &facts) {
                    Some(problem) => problems.push(problem),
                    None => machines.push(machine(&name, &agent, &facts)),
                },
                Err(e) => problems.push(format!(
                    "cannot reach the agent of {name}: {:#}",
                    anyhow::Error::new(e)
                )),
            }
        }
        if problems.is_empty() {
            Ok(machines)
        } else {
            Err(problems.join("; "))
        }
    }

    /// The joiners whose agent does not answer now (within
    /// [`PING_TIMEOUT`]), each with why: machines that went away.
    pub(crate) async fn unreachable(&self) -> Vec<(String, String)> {
        let mut tasks = JoinSet::new();
        for (name, agent) in self.agents() {
            tasks.spawn(async move {
                let reason = match tokio::time::timeout(PING_TIMEOUT, agent.system()).await {
                    Ok(Ok(_)) => None,
                    Ok(Err(e)) => Some(format!("{:#}", anyhow::Error::new(e))),
                    Err(_) => Some(format!("no answer within {} s", PING_TIMEOUT.as_secs())),
                };
                (name, reason)
            });
        }
        let mut gone: Vec<(String, String)> = tasks
            .join_all()
            .await
            .into_iter()
            .filter_map(|(name, reason)| reason.map(|r| (name, r)))
            .collect();
        gone.sort();
        gone
    }

    /// Tells every joiner how the run ended (at once, each within
    /// [`FINISH_TIMEOUT`]); returns the joiners that could not be told.
    pub(crate) async fn finish(&mut self, ending: &Ending) -> Vec<String> {
        self.watchers.abort_all();
        let finish = Finish {
            succeeded: ending.exit == Exit::Success,
            message: ending.message.clone(),
            exit_code: Some(ending.exit.code()),
        };
        let mut tasks = JoinSet::new();
        for (name, agent) in self.agents() {
            let finish = finish.clone();
            tasks.spawn(async move {
                let told = tokio::time::timeout(FINISH_TIMEOUT, agent.finish(&finish)).await;
                (name, matches!(told, Ok(Ok(()))))
            });
        }
        let mut untold: Vec<String> = tasks
            .join_all()
            .await
            .into_iter()
            .filter(|(_, told)| !told)
            .map(|(name, _)| name)
            .collect();
        untold.sort();
        untold
    }
}

/// What the initiator says when joiners went away before the run started.
pub fn gone_message(gone: &[(String, String)]) -> String {
    let each: Vec<String> = gone
        .iter()
        .map(|(name, reason)| format!("machine {name} went away during the pre-flight checks (its agent no longer answers: {reason})"))
        .collect();
    format!(
        "{}; nothing was changed. Check that `microcloud preseed` still runs there, then run it again on every machine",
        each.join("; ")
    )
}

fn machine(name: &str, agent: &AgentClient, facts: &SystemFacts) -> Machine {
    let present = |segment: &str| facts.services.get(segment).is_some_and(|s| s.present);
    Machine {
        name: name.to_owned(),
        clients: NodeClients {
            lxd: LxdClient::new(agent.service_transport(ProxiedService::Lxd), name),
            microceph: present(ProxiedService::MicroCeph.segment()).then(|| {
                MicroCephClient::new(agent.service_transport(ProxiedService::MicroCeph), name)
            }),
            microovn: present(ProxiedService::MicroOvn.segment()).then(|| {
                MicroOvnClient::new(agent.service_transport(ProxiedService::MicroOvn), name)
            }),
        },
        default_route: facts.default_route_interface.clone(),
    }
}

/// A joiner whose clock is too far from this machine's (join tokens and
/// certificates carry times).
fn clock_problem(name: &str, facts: &SystemFacts) -> Option<String> {
    if facts.clock_unix_ms == 0 {
        return Some(format!("machine {name} did not report its clock"));
    }
    let here = session::agent::clock_unix_ms();
    let skew = here.abs_diff(facts.clock_unix_ms);
    (u128::from(skew) > MAX_CLOCK_SKEW.as_millis()).then(|| {
        let side = if facts.clock_unix_ms > here {
            "ahead of"
        } else {
            "behind"
        };
        format!(
            "the clock of {name} is {} s {side} this machine's (at most {} s allowed); synchronise the clocks (NTP) and run again",
            skew / 1000,
            MAX_CLOCK_SKEW.as_secs()
        )
    })
}

/// The services a machine has and their versions: what the initiator
/// requires of every joiner, and what a joiner declares.
pub(crate) fn service_versions(system: &SystemInventory) -> BTreeMap<String, String> {
    let s = &system.services;
    [
        ("lxd", s.lxd.as_ref().map(|l| l.version.clone())),
        ("microceph", s.microceph.as_ref().map(|c| c.version.clone())),
        ("microovn", s.microovn.as_ref().map(|o| o.version.clone())),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
    .collect()
}

/// The [`session::discovery::cluster_tag`] of the file: what the
/// initiator announces and what its joiners look for, in multicast mode.
pub(crate) fn cluster_tag(preseed: &config_loader::Preseed) -> Option<String> {
    match &preseed.initiator {
        config_loader::model::Initiator::Name { name, .. } => {
            Some(session::discovery::cluster_tag(
                name.as_str(),
                preseed.systems.iter().map(|s| s.name.as_str()),
            ))
        }
        config_loader::model::Initiator::Address(_) => None,
    }
}

pub(crate) fn session_passphrase(run: &Run) -> Result<session::Passphrase> {
    let passphrase = run.preseed.passphrase.as_ref().context(
        "the file names other machines but no session passphrase; set `session_passphrase` or `session_passphrase_file`",
    )?;
    Ok(session::Passphrase::new(passphrase.expose().as_bytes()))
}

pub(crate) fn identity(name: &str, address: IpAddr) -> Result<Identity> {
    Identity::generate(name, &[address.to_string()])
        .context("cannot create this machine's TLS certificate for the run")
}
