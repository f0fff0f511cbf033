//! The initiator of a multi-machine run: opens the trust session, waits
//! for every joiner, then runs the whole formation through their agents
//! and tells them how it ended.

use anyhow::{Context, Result};
use config_loader::model::Initiator as InitiatorSpec;
use planner::inventory::SystemInventory;
use session::discovery::{self, Announcement, Channel};
use session::net::{AdmittedJoiner, NetError, SessionHandle, SessionSettings, serve_session};
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::PoisonError;
use tokio::task::JoinHandle;

use super::{Peers, drive, gone_message, identity, service_versions, session_passphrase};
use crate::exit::Exit;
use crate::liveness::AGENT_IDLE;
use crate::machine::Machine;
use crate::output::{Format, say};
use crate::run::{AddressOverrides, Ending, Run};

/// The initiator: opens the session, waits for every joiner, then runs the
/// whole formation through their agents and tells them how it ended.
pub async fn initiate(
    run: &Run,
    local: Machine,
    address: IpAddr,
    joiners: BTreeSet<String>,
    system: &SystemInventory,
    overrides: AddressOverrides,
) -> Result<Exit> {
    let format = run.settings.format;
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
    let announcer = announce(run, &local.name, address);
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
    let (admitted, interrupted) = admit(format, handle, &mut peers).await;
    if let Some(task) = announcer {
        task.abort();
    }
    let admitted = match admitted {
        Ok(admitted) => admitted,
        Err(e) => {
            let code = if interrupted {
                Exit::Interrupted
            } else {
                Exit::Trust
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
    let machines = match preflight(&mut peers, format).await {
        Ok(machines) => machines,
        Err(exit) => return Ok(exit),
    };
    let mut all = vec![local];
    all.extend(machines);
    let ending = match drive(run, all, Some(&mut peers)).await {
        Ok(ending) => ending,
        Err(e) => Ending::new(Exit::Failed, format!("{e:#}")),
    };
    tell(&mut peers, &ending, format).await;
    if ending.exit == Exit::Failed && ending.message.starts_with("the run failed") {
        // `drive` printed the report already.
    } else if ending.exit != Exit::Success && ending.exit != Exit::Interrupted {
        eprintln!("error: {}", ending.message);
    }
    Ok(ending.exit)
}

/// Announces the session by multicast while it is open, when the file
/// names the initiator (and its address is IPv4).
fn announce(
    run: &Run,
    name: &str,
    address: IpAddr,
) -> Option<JoinHandle<Result<(), session::discovery::DiscoveryError>>> {
    let (InitiatorSpec::Name { .. }, IpAddr::V4(v4)) = (&run.preseed.initiator, address) else {
        return None;
    };
    let announcement = Announcement {
        version: discovery::VERSION.to_owned(),
        name: name.to_owned(),
        address,
        cluster: super::cluster_tag(&run.preseed),
    };
    Some(tokio::spawn(discovery::respond(
        Channel::microcloud(v4),
        announcement,
    )))
}

/// Waits until the session ends, adopting every joiner as it is admitted
/// and printing the session's incidents; whether Ctrl-C stopped it.
async fn admit(
    format: Format,
    handle: SessionHandle,
    peers: &mut Peers,
) -> (Result<Vec<AdmittedJoiner>, NetError>, bool) {
    let stopper = handle.stopper();
    let mut progress = handle.progress();
    let mut seen_notice = 0u64;
    let mut wait = Box::pin(handle.wait());
    let mut ctrl_c = Box::pin(tokio::signal::ctrl_c());
    let mut interrupted = false;
    loop {
        tokio::select! {
            result = &mut wait => return (result, interrupted),
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
                seen_notice = notices(format, &snapshot, seen_notice);
            }
            _ = &mut ctrl_c, if !interrupted => {
                interrupted = true;
                stopper.stop("the initiator was interrupted (Ctrl-C)");
            }
        }
    }
}

/// Prints the session's incidents numbered after `seen` (saying how many
/// were missed); the last one printed.
fn notices(format: Format, snapshot: &session::net::Progress, seen: u64) -> u64 {
    let mut seen_notice = seen;
    let fresh: Vec<_> = snapshot
        .notices
        .iter()
        .filter(|n| n.seq > seen_notice)
        .collect();
    if let Some(first) = fresh.first()
        && first.seq > seen_notice + 1
    {
        say(
            format,
            &format!(
                "  ({} incident line(s) not shown; the summary at the end counts every incident)",
                first.seq - seen_notice - 1
            ),
        );
    }
    for notice in fresh {
        say(format, &format!("  attempt by {}", notice.text));
        seen_notice = notice.seq;
    }
    seen_notice
}

/// The joiners as machines, after the checks only they can answer; when
/// one fails, every joiner is told and this is the exit status.
async fn preflight(peers: &mut Peers, format: Format) -> Result<Vec<Machine>, Exit> {
    match peers.machines().await {
        Ok(machines) => Ok(machines),
        Err(problems) => {
            let gone = peers.unreachable().await;
            let ending = if gone.is_empty() {
                Ending::new(
                    Exit::Invalid,
                    format!("pre-flight check failed: {problems}"),
                )
            } else {
                Ending::new(Exit::Peer, gone_message(&gone))
            };
            eprintln!("error: {}", ending.message);
            tell(peers, &ending, format).await;
            Err(ending.exit)
        }
    }
}

/// Tells every joiner the outcome and reports the ones that could not be told.
pub(crate) async fn tell(peers: &mut Peers, ending: &Ending, format: Format) {
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
