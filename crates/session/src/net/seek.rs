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
//! [`MAX_ANNOUNCERS`] announcers are in play at once; a newcomer takes the
//! place of the one that failed to answer most often, so a flood of
//! announcements pointing at dead addresses delays the real initiator by
//! at most one attempt's timeout instead of keeping it out. After
//! [`MAX_UNPROVEN`] announcers failed to prove the passphrase the joiner
//! stops: each of them had one online guess at it.
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

/// Announcers in play (being tried, or to be tried again) at once. When
/// the table is full, a new announcer takes the place of the one in play
/// that has failed to answer most often, so that a flood of announcements
/// pointing at dead addresses cannot keep the real initiator out; only
/// when every place holds an announcer being tried for the first time is a
/// newcomer counted and not tried.
pub const MAX_ANNOUNCERS: usize = 32;
/// Ruled-out announcers kept for the final error (further ones are
/// counted).
const MAX_RULED_OUT: usize = 4 * MAX_ANNOUNCERS;
/// Announcers that failed to prove the passphrase before the joiner stops
/// looking: each such attempt gave someone who does not know the
/// passphrase one online guess at it, so a joiner gives away at most this
/// many (two teams whose initiators share a name cost one).
pub const MAX_UNPROVEN: usize = 3;
/// First pause before trying again an announcer that did not answer.
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// Settings of a joiner that looks for its initiator by multicast.
#[derive(Debug, Clone)]
pub struct SeekSettings {
    /// Group, port and local interface of discovery.
    pub channel: Channel,
    /// The initiator's name.
    pub expected: String,
    /// The cluster file's [`cluster_tag`](crate::discovery::cluster_tag):
    /// announcements with another tag are passed over.
    pub cluster: Option<String>,
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
    /// Too many announcers failed to prove the passphrase: trying more
    /// would give more guesses at it to whoever runs them.
    #[error(
        "{} announcers of the initiator {expected:?} failed to prove the session passphrase, so this machine stopped trying others (each attempt gives an announcer that does not know the passphrase one guess at it); announcers heard: {}; check that only your initiator runs under that name on this network (or give it another name, or use `initiator_address`), then run `microcloud preseed` again",
        MAX_UNPROVEN,
        list(announcers, 0)
    )]
    TooManyUnproven {
        /// The initiator's name.
        expected: String,
        /// Every announcer tracked, in the order they were first heard.
        announcers: Vec<Announcer>,
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

#[derive(Debug)]
struct Tracked {
    order: usize,
    state: AnnouncerState,
    /// The last failure to answer, if any.
    last: Option<String>,
    attempts: u32,
    retry_at: tokio::time::Instant,
    backoff: Duration,
    /// Ruled out for failing to prove the passphrase (a guess given away).
    unproven: bool,
}

impl Tracked {
    fn in_play(&self) -> bool {
        !matches!(self.state, AnnouncerState::Skipped { .. })
    }
}

/// The announcers heard, with the bounds of the [module docs](self).
#[derive(Debug, Default)]
struct Table {
    tracked: BTreeMap<IpAddr, Tracked>,
    next_order: usize,
    /// Distinct announcers neither tracked nor tried (counted up to eight
    /// times [`MAX_ANNOUNCERS`]).
    untracked: BTreeSet<IpAddr>,
    /// Ruled-out announcers dropped from `tracked` to bound it.
    dropped: u64,
}

impl Table {
    /// The entry of `address`, made (possibly in place of a worse one)
    /// when there is room; `None` when the announcer is not tracked.
    fn admit(&mut self, address: IpAddr, now: tokio::time::Instant) -> Option<&mut Tracked> {
        if !self.tracked.contains_key(&address) {
            let in_play = self.tracked.values().filter(|t| t.in_play()).count();
            if in_play >= MAX_ANNOUNCERS && !self.evict_one() {
                if self.untracked.len() < 8 * MAX_ANNOUNCERS {
                    self.untracked.insert(address);
                }
                return None;
            }
            self.untracked.remove(&address);
            self.bound_ruled_out();
            self.tracked.insert(
                address,
                Tracked {
                    order: self.next_order,
                    state: AnnouncerState::NoAnswer {
                        last: String::new(),
                        attempts: 0,
                    },
                    last: None,
                    attempts: 0,
                    retry_at: now,
                    backoff: FIRST_RETRY,
                    unproven: false,
                },
            );
            self.next_order += 1;
        }
        self.tracked.get_mut(&address)
    }

    /// Frees a place in play: the announcer not being tried that has failed
    /// to answer most often (the earliest heard among equals). False when
    /// every announcer in play is being tried or has not been tried yet.
    fn evict_one(&mut self) -> bool {
        let worst = self
            .tracked
            .iter()
            .filter(|(_, t)| matches!(t.state, AnnouncerState::NoAnswer { .. }) && t.attempts > 0)
            .max_by_key(|(_, t)| (t.attempts, std::cmp::Reverse(t.order)))
            .map(|(address, _)| *address);
        match worst {
            Some(address) => {
                self.tracked.remove(&address);
                if self.untracked.len() < 8 * MAX_ANNOUNCERS {
                    self.untracked.insert(address);
                }
                true
            }
            None => false,
        }
    }

    /// Keeps at most [`MAX_RULED_OUT`] ruled-out announcers (the earliest).
    fn bound_ruled_out(&mut self) {
        let ruled_out: Vec<(usize, IpAddr)> = self
            .tracked
            .iter()
            .filter(|(_, t)| !t.in_play())
            .map(|(address, t)| (t.order, *address))
            .collect();
        if ruled_out.len() < MAX_RULED_OUT {
            return;
        }
        if let Some((_, newest)) = ruled_out.iter().max() {
            self.tracked.remove(newest);
            self.dropped += 1;
        }
    }

    fn in_play(&self) -> bool {
        self.tracked.values().any(Tracked::in_play)
    }

    fn unproven(&self) -> usize {
        self.tracked.values().filter(|t| t.unproven).count()
    }

    /// Every announcer tracked, in the order first heard.
    fn announcers(&self) -> Vec<Announcer> {
        let mut all: Vec<(usize, Announcer)> = self
            .tracked
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
        all.into_iter().map(|(_, a)| a).collect()
    }

    /// Announcers not listed: not tracked, or ruled out and dropped.
    fn more(&self) -> u64 {
        self.untracked.len() as u64 + self.dropped
    }
}

/// How [`skip_reason`] describes an announcer that did not prove the
/// passphrase.
const UNPROVEN: &str = "did not prove the session passphrase";

/// Why an attempt rules the announcer out, or `None` when the failure is
/// final for the joiner (an authenticated refusal).
fn skip_reason(error: &NetError) -> Option<String> {
    match error {
        NetError::Trust { source, .. } => match &**source {
            JoinError::Refused(_) => None,
            JoinError::InitiatorNotAuthenticated => Some(format!(
                "{UNPROVEN}: another passphrase (another team's initiator?) or someone intercepting"
            )),
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
    let mut listener = Listener::open(settings.channel)?.for_cluster(settings.cluster.clone());
    let started = tokio::time::Instant::now();
    let deadline = started + settings.join.session_timeout;
    let lookup_deadline = started + settings.lookup_timeout.min(settings.join.session_timeout);
    let mut table = Table::default();
    let mut heard = BTreeSet::new();
    let mut tasks: JoinSet<(IpAddr, Result<Trusted, Stop>)> = JoinSet::new();
    let mut next_query = started;
    loop {
        let now = tokio::time::Instant::now();
        let in_play = table.in_play();
        if now >= deadline || (now >= lookup_deadline && !in_play) {
            if table.tracked.is_empty() {
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
            for t in table.tracked.values_mut() {
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
                announcers: table.announcers(),
                more_announcers: table.more(),
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
                let Some(entry) = table.admit(address, now) else { continue };
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
                progress.send_replace(table.announcers());
            }
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                let Ok((address, outcome)) = done else { continue };
                let Some(entry) = table.tracked.get_mut(&address) else { continue };
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
                        Some(reason) => {
                            entry.unproven = matches!(
                                &error,
                                NetError::Trust { source, .. }
                                    if matches!(**source, JoinError::InitiatorNotAuthenticated)
                            );
                            entry.state = AnnouncerState::Skipped { reason };
                        }
                        None => {
                            tasks.abort_all();
                            return Err(SeekError::Join(error));
                        }
                    },
                }
                progress.send_replace(table.announcers());
                if table.unproven() >= MAX_UNPROVEN {
                    tasks.abort_all();
                    return Err(SeekError::TooManyUnproven {
                        expected: settings.expected.clone(),
                        announcers: table.announcers(),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ip(i: usize) -> IpAddr {
        IpAddr::from([10, 9, (i / 256) as u8, (i % 256) as u8])
    }

    fn failed(table: &mut Table, address: IpAddr, attempts: u32) {
        let t = table.tracked.get_mut(&address).unwrap();
        t.attempts = attempts;
        t.state = AnnouncerState::NoAnswer {
            last: "connection refused".into(),
            attempts,
        };
    }

    #[test]
    fn a_table_full_of_dead_announcers_still_takes_a_new_one_in_place_of_the_worst() {
        let now = tokio::time::Instant::now();
        let mut table = Table::default();
        for i in 0..MAX_ANNOUNCERS {
            table.admit(ip(i), now).unwrap();
            failed(&mut table, ip(i), 1);
        }
        failed(&mut table, ip(5), 3);
        let real = IpAddr::from([10, 0, 0, 1]);
        assert!(
            table.admit(real, now).is_some(),
            "the real initiator gets a place"
        );
        assert!(
            !table.tracked.contains_key(&ip(5)),
            "the announcer that failed most went"
        );
        assert_eq!(table.tracked.len(), MAX_ANNOUNCERS);
        assert_eq!(table.more(), 1);
        assert_eq!(table.announcers().last().unwrap().address, real);
    }

    #[test]
    fn announcers_not_tried_yet_or_being_tried_are_never_pushed_out() {
        let now = tokio::time::Instant::now();
        let mut table = Table::default();
        for i in 0..MAX_ANNOUNCERS {
            table.admit(ip(i), now).unwrap().state = AnnouncerState::Trying;
        }
        assert!(table.admit(ip(100), now).is_none());
        assert!(table.admit(ip(101), now).is_none());
        assert_eq!(table.more(), 2);
        assert_eq!(table.tracked.len(), MAX_ANNOUNCERS);
    }

    #[test]
    fn ruled_out_announcers_leave_their_place_in_play_and_are_bounded() {
        let now = tokio::time::Instant::now();
        let mut table = Table::default();
        for i in 0..MAX_RULED_OUT + 10 {
            table.admit(ip(i), now).unwrap().state = AnnouncerState::Skipped {
                reason: "is not a microcloud trust session".into(),
            };
        }
        assert!(!table.in_play());
        assert!(table.admit(ip(9_999), now).is_some());
        assert!(
            table.tracked.len() <= MAX_RULED_OUT + 1,
            "{}",
            table.tracked.len()
        );
        assert_eq!(table.more(), 11);
        // The earliest ones are kept for the error.
        assert_eq!(table.announcers()[0].address, ip(0));
    }

    #[test]
    fn only_announcers_that_failed_to_prove_the_passphrase_are_counted() {
        let now = tokio::time::Instant::now();
        let mut table = Table::default();
        for i in 0..MAX_UNPROVEN {
            let t = table.admit(ip(i), now).unwrap();
            t.state = AnnouncerState::Skipped {
                reason: format!("{UNPROVEN}: another passphrase"),
            };
            t.unproven = true;
        }
        table.admit(ip(50), now).unwrap().state = AnnouncerState::Skipped {
            reason: "failed: connection reset".into(),
        };
        assert_eq!(table.unproven(), MAX_UNPROVEN);
        let e = SeekError::TooManyUnproven {
            expected: "node1".into(),
            announcers: table.announcers()[..1].to_vec(),
        };
        assert_eq!(
            e.to_string(),
            "3 announcers of the initiator \"node1\" failed to prove the session passphrase, so this \
             machine stopped trying others (each attempt gives an announcer that does not know the \
             passphrase one guess at it); announcers heard: 10.9.0.0 (did not prove the session \
             passphrase: another passphrase); check that only your initiator runs under that name on \
             this network (or give it another name, or use `initiator_address`), then run `microcloud \
             preseed` again"
        );
    }
}
