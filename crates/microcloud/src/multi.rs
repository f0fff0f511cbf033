//! Runs that span machines: the initiator's side (trust session, agents of
//! the joiners, the run through them, the outcome sent back) and the
//! joiner's side (find the initiator, prove the passphrase, lend the local
//! services through the agent until the initiator says how the run ended).
//!
//! Liveness, both ways: the initiator asks every admitted joiner's agent
//! for its facts every [`PING_EVERY`] from the moment it is admitted; a
//! joiner whose agent has not answered for [`LOST_AFTER`] is lost, which
//! stops the run everywhere (exit [`EXIT_PEER`]). A joiner's agent that
//! hears nothing from the initiator for [`AGENT_IDLE`] stops its machine's
//! part (exit [`EXIT_PEER`]), so a killed initiator leaves nobody waiting
//! for long.

use anyhow::{Context, Result};
use clients::cert::Identity;
use clients::lxd::LxdClient;
use clients::microceph::MicroCephClient;
use clients::microovn::MicroOvnClient;
use config_loader::model::Initiator as InitiatorSpec;
use executor::apply::NodeClients;
use planner::inventory::SystemInventory;
use session::agent::{
    Agent, AgentClient, AgentSettings, Finish, ProxiedService, ServiceSockets, SystemFacts,
};
use session::discovery::{self, Announcement, Channel};
use session::net::{
    AdmittedJoiner, Announcer, AnnouncerState, JoinSettings, SeekError, SeekSettings,
    SessionSettings, join_session, seek_and_join, serve_session,
};
use session::protocol::{Intent, Trusted};
use session::role::Contact;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::Format;
use crate::preseed::{AddressOverrides, EXIT_INTERRUPTED, Ending, Machine, Run, Sockets, drive};

/// Exit status when the trust session failed.
pub(crate) const EXIT_TRUST: u8 = 4;
/// Exit status when another machine was lost or stopped the run.
pub(crate) const EXIT_PEER: u8 = 5;

/// How often the initiator checks on every joiner's agent.
pub(crate) const PING_EVERY: Duration = Duration::from_secs(2);
/// How long one check may take.
const PING_TIMEOUT: Duration = Duration::from_secs(4);
/// Silence after which a joiner counts as lost.
pub(crate) const LOST_AFTER: Duration = Duration::from_secs(6);
/// Silence after which a joiner's agent gives up on the initiator (five
/// missed checks).
pub(crate) const AGENT_IDLE: Duration = Duration::from_secs(10);
/// Largest accepted difference between two machines' clocks.
const MAX_CLOCK_SKEW: Duration = Duration::from_secs(30);
/// How long telling a joiner the outcome may take.
const FINISH_TIMEOUT: Duration = Duration::from_secs(10);

/// Prints a line for people, or a JSON message for programs.
pub(crate) fn say(format: Format, text: &str) {
    match format {
        Format::Human => println!("{text}"),
        Format::Json => crate::events::print(
            &crate::events::Event::Message {
                message: text.to_owned(),
            },
            None,
        ),
    }
}

/// A joiner that stopped answering.
#[derive(Debug, Clone)]
pub(crate) struct Lost {
    name: String,
    reason: String,
}

impl fmt::Display for Lost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "machine {} stopped answering for {} s ({}); check that `microcloud preseed` still runs there",
            self.name,
            LOST_AFTER.as_secs(),
            self.reason
        )
    }
}

/// Waits for the next lost joiner; never, without peers.
pub(crate) async fn next_lost(peers: &mut Option<&mut Peers>) -> Lost {
    match peers {
        Some(p) => match p.lost_rx.recv().await {
            Some(lost) => lost,
            None => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}

/// The admitted joiners' agents, watched from admission on.
pub(crate) struct Peers {
    identity: Identity,
    agents: Arc<Mutex<BTreeMap<String, AgentClient>>>,
    lost_tx: mpsc::UnboundedSender<Lost>,
    lost_rx: mpsc::UnboundedReceiver<Lost>,
    watchers: JoinSet<()>,
    overrides: AddressOverrides,
}

impl Peers {
    fn new(identity: Identity, overrides: AddressOverrides) -> Peers {
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
    fn adopt(&mut self, joiner: &AdmittedJoiner) -> Result<()> {
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
    async fn machines(&self) -> Result<Vec<Machine>, String> {
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
    async fn finish(&mut self, ending: &Ending) -> Vec<String> {
        self.watchers.abort_all();
        let finish = Finish {
            succeeded: ending.code == 0,
            message: ending.message.clone(),
            exit_code: Some(ending.code),
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
pub(crate) fn gone_message(gone: &[(String, String)]) -> String {
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
fn service_versions(system: &SystemInventory) -> BTreeMap<String, String> {
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

fn session_passphrase(run: &Run) -> Result<session::Passphrase> {
    let passphrase = run.preseed.passphrase.as_ref().context(
        "the file names other machines but no session passphrase; set `session_passphrase` or `session_passphrase_file`",
    )?;
    Ok(session::Passphrase::new(passphrase.expose().as_bytes()))
}

fn identity(name: &str, address: IpAddr) -> Result<Identity> {
    Identity::generate(name, &[address.to_string()])
        .context("cannot create this machine's TLS certificate for the run")
}

/// The initiator: opens the session, waits for every joiner, then runs the
/// whole formation through their agents and tells them how it ended.
pub(crate) async fn initiate(
    run: &Run,
    local: Machine,
    address: IpAddr,
    joiners: BTreeSet<String>,
    system: &SystemInventory,
    overrides: AddressOverrides,
) -> Result<u8> {
    let format = run.args.format;
    let identity = identity(&local.name, address)?;
    let mut settings = SessionSettings::new(
        SocketAddr::new(address, session::net::DEFAULT_PORT),
        identity.clone(),
        local.name.clone(),
        session_passphrase(run)?,
        joiners.clone(),
    );
    settings.protocol.required_services = service_versions(system);
    settings.session_timeout = run.preseed.session_timeout;
    let handle = serve_session(settings)
        .await
        .context("cannot open the trust session")?;
    let announcer = match (&run.preseed.initiator, address) {
        (InitiatorSpec::Name { .. }, IpAddr::V4(v4)) => {
            let announcement = Announcement {
                version: discovery::VERSION.to_owned(),
                name: local.name.clone(),
                address,
            };
            Some(tokio::spawn(discovery::respond(
                Channel::microcloud(v4),
                announcement,
            )))
        }
        _ => None,
    };
    say(
        format,
        &format!(
            "Initiator {} at {}: waiting for {} machine(s) to join: {}",
            local.name,
            handle.local_addr(),
            joiners.len(),
            joiners.iter().cloned().collect::<Vec<_>>().join(", ")
        ),
    );
    let mut peers = Peers::new(identity, overrides);
    let stopper = handle.stopper();
    let mut progress = handle.progress();
    let mut seen_notice = 0u64;
    let mut wait = Box::pin(handle.wait());
    let mut ctrl_c = Box::pin(tokio::signal::ctrl_c());
    let mut interrupted = false;
    let admitted = loop {
        tokio::select! {
            result = &mut wait => break result,
            changed = progress.changed() => {
                if changed.is_err() {
                    continue;
                }
                let snapshot = progress.borrow_and_update().clone();
                for joiner in &snapshot.joiners {
                    let fresh = !peers.agents.lock().unwrap_or_else(PoisonError::into_inner).contains_key(&joiner.name);
                    if fresh {
                        say(format, &format!("  {} joined (from {})", joiner.name, joiner.connected_from));
                        if let Err(e) = peers.adopt(joiner) {
                            stopper.stop(&format!("{e:#}"));
                        }
                    }
                }
                let fresh: Vec<_> = snapshot.notices.iter().filter(|n| n.seq > seen_notice).collect();
                if let Some(first) = fresh.first()
                    && first.seq > seen_notice + 1
                {
                    say(format, &format!(
                        "  ({} incident line(s) not shown; the summary at the end counts every incident)",
                        first.seq - seen_notice - 1
                    ));
                }
                for notice in fresh {
                    say(format, &format!("  attempt by {}", notice.text));
                    seen_notice = notice.seq;
                }
            }
            _ = &mut ctrl_c, if !interrupted => {
                interrupted = true;
                stopper.stop("the initiator was interrupted (Ctrl-C)");
            }
        }
    };
    if let Some(task) = announcer {
        task.abort();
    }
    let admitted = match admitted {
        Ok(admitted) => admitted,
        Err(e) => {
            let code = if interrupted {
                EXIT_INTERRUPTED
            } else {
                EXIT_TRUST
            };
            let message = format!("the trust session failed: {e}");
            eprintln!("error: {message}");
            tell(&mut peers, &Ending::new(code, message), format).await;
            return Ok(code);
        }
    };
    for joiner in &admitted {
        peers.adopt(joiner)?;
    }
    say(
        format,
        "Every machine has joined; checking them before any change.",
    );
    let machines = match peers.machines().await {
        Ok(machines) => machines,
        Err(problems) => {
            let gone = peers.unreachable().await;
            let ending = if gone.is_empty() {
                Ending::new(
                    crate::EXIT_INVALID,
                    format!("pre-flight check failed: {problems}"),
                )
            } else {
                Ending::new(EXIT_PEER, gone_message(&gone))
            };
            eprintln!("error: {}", ending.message);
            tell(&mut peers, &ending, format).await;
            return Ok(ending.code);
        }
    };
    let mut all = vec![local];
    all.extend(machines);
    let ending = match drive(run, all, Some(&mut peers)).await {
        Ok(ending) => ending,
        Err(e) => Ending::new(1, format!("{e:#}")),
    };
    tell(&mut peers, &ending, format).await;
    if ending.code == 1 && ending.message.starts_with("the run failed") {
        // `drive` printed the report already.
    } else if ending.code != 0 && ending.code != EXIT_INTERRUPTED {
        eprintln!("error: {}", ending.message);
    }
    Ok(ending.code)
}

/// Tells every joiner the outcome and reports the ones that could not be told.
async fn tell(peers: &mut Peers, ending: &Ending, format: Format) {
    let untold = peers.finish(ending).await;
    if !untold.is_empty() {
        say(
            format,
            &format!(
                "Could not tell {} how the run ended; a machine not told stops on its own within {} s.",
                untold.join(", "),
                AGENT_IDLE.as_secs()
            ),
        );
    }
}

/// How a joiner reaches its initiator: one address, or multicast.
type JoinFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Trusted, SeekError>> + 'a>>;

/// How often a waiting joiner says so: every 10 s, or four times over a
/// shorter session timeout (at least every second).
fn progress_every(timeout: Duration) -> Duration {
    (timeout / 4).clamp(Duration::from_secs(1), Duration::from_secs(10))
}

/// The announcers heard so far, for a progress line.
fn announcer_list(announcers: &[Announcer]) -> String {
    if announcers.is_empty() {
        return String::new();
    }
    let all: Vec<String> = announcers.iter().map(ToString::to_string).collect();
    format!("; announcers: {}", all.join(", "))
}

/// A joiner: finds the initiator, proves the passphrase, then serves the
/// initiator through the agent until it says how the run ended.
pub(crate) async fn join(
    run: &Run,
    name: &str,
    address: IpAddr,
    contact: Contact,
    system: &SystemInventory,
    sockets: &Sockets,
) -> Result<u8> {
    let format = run.args.format;
    let identity = identity(name, address)?;
    let agent = Agent::bind(SocketAddr::new(address, session::net::DEFAULT_PORT))
        .await
        .context("cannot open this machine's agent for the initiator")?;
    let mut ctrl_c = Box::pin(tokio::signal::ctrl_c());
    let intent = Intent {
        address: agent.local_addr().to_string(),
        services: service_versions(system),
    };
    let port = session::net::DEFAULT_PORT;
    let mut settings = JoinSettings::new(
        SocketAddr::new(address, port),
        identity.clone(),
        name.to_owned(),
        session_passphrase(run)?,
        intent,
    );
    settings.session_timeout = run.preseed.session_timeout;
    let timeout = settings.session_timeout;
    let (announcers_tx, mut announcers) = watch::channel(Vec::<Announcer>::new());
    let (waiting_for, mut joining): (String, JoinFuture<'_>) = match contact {
        Contact::Address(ip) => {
            settings.initiator = SocketAddr::new(ip, port);
            say(
                format,
                &format!("Joining the initiator at {ip} as {name}..."),
            );
            (
                format!("the initiator at {}", settings.initiator),
                Box::pin(async move { join_session(settings).await.map_err(SeekError::Join) }),
            )
        }
        Contact::Multicast { name: wanted, from } => {
            let IpAddr::V4(v4) = from else {
                eprintln!(
                    "error: multicast discovery needs an IPv4 address; this machine's is {from}"
                );
                return Ok(crate::EXIT_INVALID);
            };
            say(
                format,
                &format!("Looking for the initiator {wanted} from {from} (multicast)..."),
            );
            let seek = SeekSettings {
                channel: Channel::microcloud(v4),
                expected: wanted.clone(),
                exclude: BTreeSet::from([address]),
                lookup_timeout: run.preseed.lookup_timeout,
                query_every: Duration::from_secs(1),
                port,
                join: settings,
            };
            let announcers_tx = &announcers_tx;
            (
                format!("the initiator {wanted} (multicast from {from})"),
                Box::pin(async move { seek_and_join(seek, announcers_tx).await }),
            )
        }
    };
    let started = tokio::time::Instant::now();
    let every = progress_every(timeout);
    let mut ticker = tokio::time::interval_at(started + every, every);
    let mut shown: BTreeMap<IpAddr, AnnouncerState> = BTreeMap::new();
    let joined = loop {
        tokio::select! {
            joined = &mut joining => break joined,
            _ = ticker.tick() => {
                let so_far = started.elapsed().as_secs();
                say(format, &format!(
                    "Still waiting for {waiting_for} as {name}: {so_far} s so far, at most {} s left{}",
                    timeout.as_secs().saturating_sub(so_far),
                    announcer_list(&announcers.borrow())
                ));
            }
            changed = announcers.changed() => {
                if changed.is_err() {
                    continue;
                }
                let now: Vec<Announcer> = announcers.borrow_and_update().clone();
                for announcer in now {
                    if shown.get(&announcer.address) == Some(&announcer.state) {
                        continue;
                    }
                    match &announcer.state {
                        AnnouncerState::Trying if !shown.contains_key(&announcer.address) => say(
                            format,
                            &format!("Joining the initiator at {} as {name}...", announcer.address),
                        ),
                        AnnouncerState::Skipped { .. } => {
                            say(format, &format!("  skipped the announcer {announcer}"));
                        }
                        _ => {}
                    }
                    shown.insert(announcer.address, announcer.state);
                }
            }
            _ = &mut ctrl_c => return Ok(EXIT_INTERRUPTED),
        }
    };
    drop(joining);
    let trusted = match joined {
        Ok(trusted) => trusted,
        Err(e) => {
            // The whole chain: the cause (a differing passphrase, a
            // refusal and its reason, every announcer and why it was
            // skipped) is in the sources.
            let wrong_passphrase = match &e {
                SeekError::Join(e) => e.is_authentication_failure(),
                SeekError::NoneProven { announcers, .. } => announcers
                    .iter()
                    .any(|a| matches!(a.state, AnnouncerState::Skipped { .. })),
                SeekError::Discovery(_) => false,
            };
            eprintln!(
                "error: cannot join {waiting_for}: {:#}",
                anyhow::Error::new(e)
            );
            if wrong_passphrase {
                eprintln!(
                    "  = help: give every machine the same passphrase (the file's `session_passphrase` \
                     or `session_passphrase_file`, or MICROCLOUD_SESSION_PASSPHRASE, which overrides \
                     both), then run `microcloud preseed` again on every machine"
                );
            }
            return Ok(EXIT_TRUST);
        }
    };
    say(
        format,
        &format!(
            "Trusted by the initiator {}; serving it until the cluster is formed.",
            trusted.initiator_name
        ),
    );
    let mut agent_settings =
        AgentSettings::new(name.to_owned(), identity, trusted.initiator_certificate);
    agent_settings.sockets = ServiceSockets {
        lxd: sockets.lxd.clone(),
        microceph: sockets.microceph.clone(),
        microovn: sockets.microovn.clone(),
    };
    agent_settings.idle_timeout = AGENT_IDLE;
    let outcome = tokio::select! {
        outcome = agent.run(agent_settings) => outcome,
        _ = &mut ctrl_c => {
            eprintln!("Interrupted: this machine stops serving the initiator, which will stop the run.");
            return Ok(EXIT_INTERRUPTED);
        }
    };
    match outcome {
        Ok(finish) => {
            let code = finish.exit_code();
            if code == 0 {
                say(format, &format!("Done: {}", finish.message));
            } else {
                eprintln!("error: the initiator reports: {}", finish.message);
            }
            Ok(code)
        }
        Err(e) => {
            eprintln!("error: {:#}", anyhow::Error::new(e));
            Ok(EXIT_PEER)
        }
    }
}
