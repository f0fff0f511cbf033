//! A joiner of a multi-machine run: finds the initiator, proves the
//! passphrase, then lends this machine's services through the agent until
//! the initiator says how the run ended.

use anyhow::{Context, Result};
use planner::inventory::SystemInventory;
use session::agent::{Agent, AgentSettings, Finish, ServiceSockets};
use session::discovery::Channel;
use session::net::{
    Announcer, AnnouncerState, JoinSettings, SeekError, SeekSettings, join_session, seek_and_join,
};
use session::protocol::{Intent, Trusted};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::sync::watch;

use super::{identity, service_versions, session_passphrase};
use crate::exit::Exit;
use crate::liveness::AGENT_IDLE;
use crate::machine::Sockets;
use crate::output::{Format, say};
use crate::role::Contact;
use crate::run::Run;

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
pub async fn join(
    run: &Run,
    name: &str,
    address: IpAddr,
    contact: Contact,
    system: &SystemInventory,
    sockets: &Sockets,
) -> Result<Exit> {
    let identity = identity(name, address)?;
    let agent = Agent::bind(SocketAddr::new(address, session::net::DEFAULT_PORT))
        .await
        .context("cannot open this machine's agent for the initiator")?;
    let mut ctrl_c = Box::pin(tokio::signal::ctrl_c());
    let intent = Intent {
        address: agent.local_addr().to_string(),
        services: service_versions(system),
    };
    let mut settings = JoinSettings::new(
        SocketAddr::new(address, session::net::DEFAULT_PORT),
        identity.clone(),
        name.to_owned(),
        session_passphrase(run)?,
        intent,
    );
    settings.session_timeout = run.preseed.session_timeout;
    let trusted = match find_initiator(run, name, address, contact, settings, &mut ctrl_c).await {
        Ok(trusted) => trusted,
        Err(exit) => return Ok(exit),
    };
    say(
        run.settings.format,
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
            return Ok(Exit::Interrupted);
        }
    };
    Ok(finished(run.settings.format, outcome))
}

/// Finds the initiator (at its address, or by multicast) and joins its
/// session, saying what it waits for; the exit status when it cannot.
async fn find_initiator<C: Future + Unpin>(
    run: &Run,
    name: &str,
    address: IpAddr,
    contact: Contact,
    mut settings: JoinSettings,
    ctrl_c: &mut C,
) -> Result<Trusted, Exit> {
    let format = run.settings.format;
    let port = session::net::DEFAULT_PORT;
    let timeout = settings.session_timeout;
    let (announcers_tx, announcers) = watch::channel(Vec::<Announcer>::new());
    let (waiting_for, joining): (String, JoinFuture<'_>) = match contact {
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
                return Err(Exit::Invalid);
            };
            say(
                format,
                &format!("Looking for the initiator {wanted} from {from} (multicast)..."),
            );
            let seek = SeekSettings {
                channel: Channel::microcloud(v4),
                expected: wanted.clone(),
                cluster: super::cluster_tag(&run.preseed),
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
    let waiting = Waiting {
        format,
        name,
        what: &waiting_for,
        timeout,
    };
    let Some(joined) = waiting.watch(joining, announcers, ctrl_c).await else {
        return Err(Exit::Interrupted);
    };
    joined.map_err(|e| {
        cannot_join(&waiting_for, e);
        Exit::Trust
    })
}

/// What a joiner waits for, to say so.
struct Waiting<'a> {
    format: Format,
    name: &'a str,
    what: &'a str,
    timeout: Duration,
}

impl Waiting<'_> {
    /// Waits for `joining`, saying every so often what for and each
    /// announcer tried or skipped; `None` on Ctrl-C.
    async fn watch<C: Future + Unpin>(
        &self,
        mut joining: JoinFuture<'_>,
        mut announcers: watch::Receiver<Vec<Announcer>>,
        ctrl_c: &mut C,
    ) -> Option<Result<Trusted, SeekError>> {
        let (format, name) = (self.format, self.name);
        let started = tokio::time::Instant::now();
        let every = progress_every(self.timeout);
        let mut ticker = tokio::time::interval_at(started + every, every);
        let mut shown: BTreeMap<IpAddr, AnnouncerState> = BTreeMap::new();
        loop {
            tokio::select! {
                joined = &mut joining => return Some(joined),
                _ = ticker.tick() => {
                    let so_far = started.elapsed().as_secs();
                    say(format, &format!(
                        "Still waiting for {} as {name}: {so_far} s so far, at most {} s left{}",
                        self.what,
                        self.timeout.as_secs().saturating_sub(so_far),
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
                _ = &mut *ctrl_c => return None,
            }
        }
    }
}

/// Says why the session could not be joined: the whole chain (a differing
/// passphrase, a refusal and its reason, every announcer and why it was
/// skipped is in the sources), and what to do about a passphrase.
fn cannot_join(waiting_for: &str, e: SeekError) {
    let wrong_passphrase = match &e {
        SeekError::Join(e) => e.is_authentication_failure(),
        SeekError::NoneProven { announcers, .. } => announcers
            .iter()
            .any(|a| matches!(a.state, AnnouncerState::Skipped { .. })),
        SeekError::TooManyUnproven { .. } => true,
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
}

/// Says how the initiator ended the run (or how the agent failed) and
/// returns the exit status.
fn finished(format: Format, outcome: Result<Finish, session::net::NetError>) -> Exit {
    match outcome {
        Ok(finish) => {
            let code = finish.exit_code();
            if code == 0 {
                say(format, &format!("Done: {}", finish.message));
            } else {
                eprintln!("error: the initiator reports: {}", finish.message);
            }
            // The initiator sends one of this program's statuses; any other
            // (a different version's) counts as a failure.
            Exit::from_code(code).unwrap_or(Exit::Failed)
        }
        Err(e) => {
            eprintln!("error: {:#}", anyhow::Error::new(e));
            Exit::Peer
        }
    }
}
