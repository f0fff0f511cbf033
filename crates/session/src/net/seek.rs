//! A joiner that finds its initiator by multicast: keeps listening for
//! announcements of the initiator's name, tries every distinct announcer,
//! skips those that fail to prove the passphrase or do not answer, and
//! joins the one that proves it.
//!
//! MicroCloud itself (`api/session.go`, `handleJoiningSession`, and
//! `multicast/discovery.go`, `Discovery.Lookup`, canonical/microcloud main)
//! queries once a second and joins the first announcement it gets, of any
//! name. Discovery is a hint, not a proof: anyone on the segment can announce any
//! name and address (a liar pointing at a dead address, or a second team
//! whose initiator has the same name). So the first announcement is not
//! taken blindly. Each announcer gets the normal protocol attempt, which
//! reveals nothing usable to one that does not know the passphrase (the
//! joiner checks the initiator's key confirmation before it proves
//! anything; then it only sends `Abandon`).
//!
//! Not hammering: at most one attempt per announcer at a time; an announcer
//! that failed to prove the passphrase, rejected the attempt or does not
//! speak the protocol is never tried again; one that did not answer is
//! tried again only when it announces itself again, and no sooner than its
//! own backoff (1 s, doubling up to the joiner's `max_backoff`). At most
//! [`MAX_ANNOUNCERS`] distinct announcers are tracked.
//!
//! Time limits: if no announcement of the name arrives within the lookup
//! timeout, the discovery error says what was heard instead. Otherwise the
//! joiner keeps listening and trying until the session timeout, or until the
//! lookup timeout has passed and every announcer heard has been ruled out;
//! the error lists every announcer and why it was skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsConnector;

use super::joiner::{JoinSettings, Stop, attempt_within};
use super::{NetError, tls};
use crate::discovery::{Channel, DiscoveryError, Heard, Listener, MAX_HEARD};
use crate::protocol::{JoinError, Trusted};

/// Distinct announcers tracked (further ones are counted, not tried).
pub const MAX_ANNOUNCERS: usize = 32;
/// First pause before trying again an announcer that did not answer.
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// Settings of a joiner that looks for its initiator by multicast.
#[derive(Debug, Clone)]
pub struct SeekSettings {
    /// Group, port and local interface of discovery.
    pub channel: Channel,
    /// The initiator's name.
    pub expected: String,
    /// Addresses never to try (this machine's own).
    pub exclude: BTreeSet<IpAddr>,
    /// How long to wait for a first announcement of the name.
    pub lookup_timeout: Duration,
    /// How often to query the group.
    pub query_every: Duration,
    /// The port of the initiator's session.
    pub port: u16,
    /// The joiner's settings; `initiator` is replaced by each announcer's
    /// address, `session_timeout` bounds the whole search.
    pub join: JoinSettings,
}

/// Where an announcer stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnnouncerState {
    /// An attempt is in flight.
    Trying,
    /// It did not answer; tried again when it announces itself again.
    NoAnswer {
        /// The last attempt's failure.
        last: String,
        /// Attempts made.
        attempts: u32,
    },
    /// Ruled out for this run.
    Skipped {
        /// Why.
        reason: String,
    },
}

/// One announcer of the initiator's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcer {
    /// The address it announced.
    pub address: IpAddr,
    /// Where it stands.
    pub state: AnnouncerState,
}

impl fmt::Display for Announcer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.state {
            AnnouncerState::Trying => write!(f, "{} (being tried)", self.address),
            AnnouncerState::NoAnswer { last, attempts } => write!(
                f,
                "{} (did not answer, {attempts} attempt{}: {last})",
                self.address,
                if *attempts == 1 { "" } else { "s" }
            ),
            AnnouncerState::Skipped { reason } => write!(f, "{} ({reason})", self.address),
        }
    }
}

/// Why a multicast join failed.
#[derive(Debug, thiserror::Error)]
pub enum SeekError {
    /// Discovery itself failed: nothing announced the name within the
    /// lookup timeout, or the socket failed.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// Announcers were heard, but none proved the passphrase in time.
    #[error(
        "no announcer of the initiator {expected:?} proved the session passphrase within {:.1} s; announcers heard: {}{}; check that `microcloud preseed` runs on the initiator with the same file and passphrase; an announcer you do not know is another machine answering for that name on this network (another team's initiator, or someone spoofing it)",
        waited.as_secs_f64(),
        list(announcers, *more_announcers),
        others(heard)
    )]
    NoneProven {
        /// The initiator's name.
        expected: String,
        /// How long the joiner looked.
        waited: Duration,
        /// Every announcer tracked, in the order they were first heard.
        announcers: Vec<Announcer>,
        /// Distinct announcers beyond [`MAX_ANNOUNCERS`] (counted up to
        /// eight times that).
        more_announcers: u64,
        /// Other announcements (other names, versions) heard meanwhile.
        heard: Vec<String>,
    },
    /// An announcer that proved the passphrase refused this machine, or
    /// setting up failed: final.
    #[error(transparent)]
    Join(#[from] NetError),
}

fn list(announcers: &[Announcer], more: u64) -> String {
    let mut out: Vec<String> = announcers.iter().map(ToString::to_string).collect();
    if more > 0 {
        out.push(format!("and {more} more not tried"));
    }
    out.join(", ")
}

fn others(heard: &[String]) -> String {
    if heard.is_empty() {
        String::new()
    } else {
        format!(" (also heard: {})", heard.join(", "))
    }
}

struct Tracked {
    order: usize,
    state: AnnouncerState,
    /// The last failure to answer, if any.
    last: Option<String>,
    attempts: u32,
    retry_at: tokio::time::Instant,
    backoff: Duration,
}

/// Why an attempt rules the announcer out, or `None` when the failure is
/// final for the joiner (an authenticated refusal).
fn skip_reason(error: &NetError) -> Option<String> {
    match error {
        NetError::Trust { source, .. } => match &**source {
            JoinError::Refused(_) => None,
            JoinError::InitiatorNotAuthenticated => Some(
                "did not prove the session passphrase: another passphrase (another team's initiator?) or someone intercepting".to_owned(),
            ),
            other => Some(format!("failed the trust exchange: {other}")),
        },
        NetError::NotATrustSession { .. } => Some(format!("{error}")),
        other => Some(format!("failed: {other}")),
    }
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        out.push_str(": ");
        out.push_str(&e.to_string());
        source = e.source();
    }
    out
}

/// Finds the initiator by multicast and joins it; see the
/// [module docs](self). `progress` receives the announcers after every
/// change (for the caller's progress lines).
pub async fn seek_and_join(
    settings: SeekSettings,
    progress: &watch::Sender<Vec<Announcer>>,
) -> Result<Trusted, SeekError> {
    let connector = TlsConnector::from(tls::joiner_client_config(&settings.join.identity)?);
    let mut listener = Listener::open(settings.channel)?;
    let started = tokio::time::Instant::now();
    let deadline = started + settings.join.session_timeout;
    let lookup_deadline = started + settings.lookup_timeout.min(settings.join.session_timeout);
    let mut tracked: BTreeMap<IpAddr, Tracked> = BTreeMap::new();
    let mut untracked: BTreeSet<IpAddr> = BTreeSet::new();
    let mut heard = BTreeSet::new();
    let mut tasks: JoinSet<(IpAddr, Result<Trusted, Stop>)> = JoinSet::new();
    let mut next_query = started;
    let publish = |tracked: &BTreeMap<IpAddr, Tracked>| {
        let mut all: Vec<(usize, Announcer)> = tracked
            .iter()
            .map(|(address, t)| {
                (
                    t.order,
                    Announcer {
                        address: *address,
                        state: t.state.clone(),
                    },
                )
            })
            .collect();
        all.sort_by_key(|(order, _)| *order);
        all.into_iter().map(|(_, a)| a).collect::<Vec<_>>()
    };
    loop {
        let now = tokio::time::Instant::now();
        let in_play = tracked
            .values()
            .any(|t| !matches!(t.state, AnnouncerState::Skipped { .. }));
        if now >= deadline || (now >= lookup_deadline && !in_play) {
            if tracked.is_empty() {
                let channel = listener.channel();
                return Err(SeekError::Discovery(DiscoveryError::Timeout {
                    expected: settings.expected.clone(),
                    group: channel.group,
                    port: channel.port,
                    timeout: settings.lookup_timeout.min(settings.join.session_timeout),
                    heard: heard.into_iter().collect(),
                }));
            }
            // An attempt cut by the deadline did not answer in time.
            for t in tracked.values_mut() {
                if t.state == AnnouncerState::Trying {
                    t.state = AnnouncerState::NoAnswer {
                        last: t
                            .last
                            .clone()
                            .unwrap_or_else(|| "no answer before the session timeout".to_owned()),
                        attempts: t.attempts,
                    };
                }
            }
            return Err(SeekError::NoneProven {
                expected: settings.expected.clone(),
                waited: now.saturating_duration_since(started),
                announcers: publish(&tracked),
                more_announcers: untracked.len() as u64,
                heard: heard.into_iter().collect(),
            });
        }
        let wake = next_query
            .min(deadline)
            .min(if in_play { deadline } else { lookup_deadline });
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {
                if tokio::time::Instant::now() >= next_query {
                    listener.query().await?;
                    next_query = tokio::time::Instant::now() + settings.query_every;
                }
            }
            received = listener.receive(&settings.expected, &settings.exclude) => {
                let announcement = match received? {
                    Heard::Match(a) => a,
                    Heard::Other(what) => {
                        if heard.len() < MAX_HEARD {
                            heard.insert(what);
                        }
                        continue;
                    }
                };
                let address = announcement.address;
                let order = tracked.len();
                if order >= MAX_ANNOUNCERS && !tracked.contains_key(&address) {
                    if untracked.len() < 8 * MAX_ANNOUNCERS {
                        untracked.insert(address);
                    }
                    continue;
                }
                let entry = tracked.entry(address).or_insert_with(|| Tracked {
                    order,
                    state: AnnouncerState::NoAnswer { last: String::new(), attempts: 0 },
                    last: None,
                    attempts: 0,
                    retry_at: now,
                    backoff: FIRST_RETRY,
                });
                let due = matches!(entry.state, AnnouncerState::NoAnswer { .. })
                    && tokio::time::Instant::now() >= entry.retry_at;
                if !due {
                    continue;
                }
                entry.state = AnnouncerState::Trying;
                entry.attempts += 1;
                let mut join = settings.join.clone();
                join.initiator = SocketAddr::new(address, settings.port);
                let connector = connector.clone();
                let limit = join
                    .attempt_timeout
                    .min(deadline.saturating_duration_since(tokio::time::Instant::now()));
                tasks.spawn(async move {
                    (address, attempt_within(&join, &connector, limit).await)
                });
                progress.send_replace(publish(&tracked));
            }
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                let Ok((address, outcome)) = done else { continue };
                let Some(entry) = tracked.get_mut(&address) else { continue };
                match outcome {
                    Ok(trusted) => {
                        tasks.abort_all();
                        return Ok(trusted);
                    }
                    Err(Stop::Retry(error)) => {
                        let last = error_chain(&error);
                        entry.last = Some(last.clone());
                        entry.state = AnnouncerState::NoAnswer {
                            last,
                            attempts: entry.attempts,
                        };
                        entry.retry_at = tokio::time::Instant::now() + entry.backoff;
                        entry.backoff = (entry.backoff * 2).min(settings.join.max_backoff.max(FIRST_RETRY));
                    }
                    Err(Stop::Fail(error)) => match skip_reason(&error) {
                        Some(reason) => entry.state = AnnouncerState::Skipped { reason },
                        None => {
                            tasks.abort_all();
                            return Err(SeekError::Join(error));
                        }
                    },
                }
                progress.send_replace(publish(&tracked));
            }
        }
    }
}
