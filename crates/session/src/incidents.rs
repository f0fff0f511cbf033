//! Incidents of a trust session (failed, refused, rejected or evicted
//! attempts) and their aggregation by source. Pure: no I/O, no clock (the
//! caller passes the time since the session started), bounded memory.
//!
//! A source is the TCP peer's IP address (not the port, which changes with
//! every connection). Per source the log keeps the number of incidents,
//! when the first and the last happened, the first few certificate
//! fingerprints and joiner names it used and a count per reason. At most
//! [`MAX_SOURCES`] sources are kept; incidents from further sources are only
//! counted (the summary ends with "and N more sources").
//!
//! Live output is rate-limited per source, never globally: the first
//! incident of a source, and the first of each new reason from it, are
//! shown at once; after that at most one line per source every
//! [`LIVE_EVERY`], saying how many were not shown. So a flood from one host
//! cannot hide an attempt from another.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clients::cert::Fingerprint;

use crate::protocol::{Refusal, Rejection};

/// Distinct sources kept in the summary.
pub const MAX_SOURCES: usize = 64;
/// Certificates and names kept per source.
const MAX_PER_SOURCE: usize = 4;
/// Distinct reasons kept per source.
const MAX_REASONS: usize = 8;
/// Addresses of sources beyond [`MAX_SOURCES`] remembered for counting.
const MAX_UNKEPT: usize = 1024;
/// Shortest interval between two live lines for one source (after its
/// first line, and the first line of each of its reasons).
pub const LIVE_EVERY: Duration = Duration::from_secs(10);

/// Something that went wrong with one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// The name the joiner gave (not authenticated unless the kind is
    /// [`IncidentKind::Refused`]).
    pub joiner: String,
    /// The TCP source address.
    pub from: SocketAddr,
    /// The client certificate's fingerprint.
    pub certificate: Fingerprint,
    /// What happened.
    pub kind: IncidentKind,
}

/// What went wrong with an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncidentKind {
    /// The joiner could not verify the initiator's confirmation and
    /// abandoned the attempt (counted as a failed attempt).
    ConfirmationNotVerified,
    /// The joiner's proof did not verify (counted as a failed attempt).
    ProofFailed,
    /// The attempt was opened (a hello) but never completed, and was
    /// evicted to make room for newer ones (counted as a failed attempt).
    Evicted,
    /// The joiner proved the passphrase but was refused.
    Refused(Refusal),
    /// A message was rejected before any key was shared.
    Rejected(Rejection),
}

impl fmt::Display for IncidentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IncidentKind::ConfirmationNotVerified => f.write_str(
                "could not verify this initiator's passphrase confirmation: its passphrase differs, or the connection is intercepted",
            ),
            IncidentKind::ProofFailed => f.write_str(
                "sent a passphrase proof that does not verify: its passphrase differs, or the connection is intercepted",
            ),
            IncidentKind::Evicted => f.write_str(
                "opened an attempt and never completed it (evicted when too many were open: a flood of hellos, or a joiner that stopped half-way)",
            ),
            IncidentKind::Refused(refusal) => write!(f, "was refused: {refusal}"),
            IncidentKind::Rejected(rejection) => write!(f, "was rejected: {rejection}"),
        }
    }
}

impl fmt::Display for Incident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} from {} (certificate {}) {}",
            self.joiner, self.from, self.certificate, self.kind
        )
    }
}

/// What one source did, for the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSummary {
    /// The source's IP address.
    pub address: IpAddr,
    /// Incidents from it.
    pub incidents: u64,
    /// When the first happened (time since the session opened).
    pub first_seen: Duration,
    /// When the last happened.
    pub last_seen: Duration,
    /// The first distinct certificate fingerprints it presented.
    pub certificates: Vec<Fingerprint>,
    /// Incidents under a certificate not in `certificates`.
    pub other_certificates: u64,
    /// The first distinct joiner names it gave.
    pub names: Vec<String>,
    /// Incidents under a name not in `names`.
    pub other_names: u64,
    /// Reasons with their counts, in order of first appearance.
    pub reasons: Vec<(String, u64)>,
    /// Incidents with a reason not in `reasons`.
    pub other_reasons: u64,
}

impl fmt::Display for SourceSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} incident{} between {} and {} into the session, certificate{} {}",
            self.address,
            self.incidents,
            plural(self.incidents),
            clock(self.first_seen),
            clock(self.last_seen),
            plural(self.certificates.len() as u64 + self.other_certificates),
            list(&self.certificates, self.other_certificates, "others"),
        )?;
        let names: Vec<String> = self.names.iter().map(|n| format!("{n:?}")).collect();
        write!(f, ", as {}", list(&names, self.other_names, "others"))?;
        for (i, (reason, count)) in self.reasons.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            write!(f, "{count}× {reason}")?;
        }
        if self.other_reasons > 0 {
            write!(f, "; {}× for other reasons", self.other_reasons)?;
        }
        Ok(())
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn list(items: &[impl fmt::Display], more: u64, what: &str) -> String {
    let mut out: Vec<String> = items.iter().map(ToString::to_string).collect();
    if more > 0 {
        out.push(format!("{more} incident{} with {what}", plural(more)));
    }
    out.join(", ")
}

/// Seconds with one decimal (`12.3 s`).
fn clock(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// The incidents of a session, by source.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IncidentSummary {
    /// Sources kept, in order of their first incident.
    pub sources: Vec<SourceSummary>,
    /// Further sources not kept (exact up to an internal bound).
    pub more_sources: u64,
    /// Whether `more_sources` reached that bound (then it is a minimum).
    pub more_sources_at_least: bool,
    /// Incidents from the sources not kept.
    pub more_incidents: u64,
    /// Every incident.
    pub total: u64,
}

impl IncidentSummary {
    /// Whether there was no incident.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

impl fmt::Display for IncidentSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} incident{} from {} source{}",
            self.total,
            plural(self.total),
            self.sources.len() as u64 + self.more_sources,
            plural(self.sources.len() as u64 + self.more_sources),
        )?;
        for source in &self.sources {
            write!(f, "; {source}")?;
        }
        if self.more_sources > 0 {
            write!(
                f,
                "; and {}{} more source{} ({} incident{})",
                if self.more_sources_at_least {
                    "at least "
                } else {
                    ""
                },
                self.more_sources,
                plural(self.more_sources),
                self.more_incidents,
                plural(self.more_incidents)
            )?;
        }
        Ok(())
    }
}

struct Source {
    summary: SourceSummary,
    last_shown: Duration,
    unshown: u64,
}

/// The aggregation; see the [module docs](self).
#[derive(Default)]
pub struct IncidentLog {
    sources: BTreeMap<IpAddr, Source>,
    unkept: BTreeSet<IpAddr>,
    unkept_saturated: bool,
    unkept_count: u64,
    unkept_incidents: u64,
    unkept_last_shown: Option<Duration>,
    unkept_unshown: u64,
    total: u64,
}

impl fmt::Debug for IncidentLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IncidentLog")
            .field("sources", &self.sources.len())
            .field("total", &self.total)
            .finish()
    }
}

impl IncidentLog {
    /// An empty log.
    pub fn new() -> IncidentLog {
        IncidentLog::default()
    }

    /// Records `incident`, which happened `at` after the session opened.
    /// Returns the line to show now, if any (see the [module docs](self)).
    pub fn record(&mut self, incident: &Incident, at: Duration) -> Option<String> {
        self.total += 1;
        let address = incident.from.ip();
        let reason = incident.kind.to_string();
        if !self.sources.contains_key(&address) && self.sources.len() >= MAX_SOURCES {
            return self.record_unkept(incident, address, at);
        }
        let Some(source) = self.sources.get_mut(&address) else {
            self.sources.insert(
                address,
                Source {
                    summary: SourceSummary {
                        address,
                        incidents: 1,
                        first_seen: at,
                        last_seen: at,
                        certificates: vec![incident.certificate],
                        other_certificates: 0,
                        names: vec![incident.joiner.clone()],
                        other_names: 0,
                        reasons: vec![(reason, 1)],
                        other_reasons: 0,
                    },
                    last_shown: at,
                    unshown: 0,
                },
            );
            return Some(incident.to_string());
        };
        let s = &mut source.summary;
        s.incidents += 1;
        s.last_seen = s.last_seen.max(at);
        if !s.certificates.contains(&incident.certificate) {
            if s.certificates.len() < MAX_PER_SOURCE {
                s.certificates.push(incident.certificate);
            } else {
                s.other_certificates += 1;
            }
        }
        if !s.names.contains(&incident.joiner) {
            if s.names.len() < MAX_PER_SOURCE {
                s.names.push(incident.joiner.clone());
            } else {
                s.other_names += 1;
            }
        }
        let kept = s.reasons.len();
        let new_reason = match s.reasons.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, count)) => {
                *count += 1;
                false
            }
            None if kept < MAX_REASONS => {
                s.reasons.push((reason, 1));
                true
            }
            None => {
                s.other_reasons += 1;
                false
            }
        };
        if new_reason || at >= source.last_shown + LIVE_EVERY {
            let line = with_unshown(incident.to_string(), source.unshown, "this source");
            source.last_shown = at;
            source.unshown = 0;
            Some(line)
        } else {
            source.unshown += 1;
            None
        }
    }

    fn record_unkept(
        &mut self,
        incident: &Incident,
        address: IpAddr,
        at: Duration,
    ) -> Option<String> {
        self.unkept_incidents += 1;
        if !self.unkept.contains(&address) {
            if self.unkept.len() < MAX_UNKEPT {
                self.unkept.insert(address);
                self.unkept_count += 1;
            } else {
                self.unkept_saturated = true;
            }
        }
        match self.unkept_last_shown {
            Some(last) if at < last + LIVE_EVERY => {
                self.unkept_unshown += 1;
                None
            }
            _ => {
                let line = with_unshown(
                    incident.to_string(),
                    self.unkept_unshown,
                    &format!("sources beyond the first {MAX_SOURCES}"),
                );
                self.unkept_last_shown = Some(at);
                self.unkept_unshown = 0;
                Some(line)
            }
        }
    }

    /// The summary by source, in order of first incident.
    pub fn summary(&self) -> IncidentSummary {
        let mut sources: Vec<SourceSummary> =
            self.sources.values().map(|s| s.summary.clone()).collect();
        sources.sort_by_key(|s| (s.first_seen, s.address));
        IncidentSummary {
            sources,
            more_sources: self.unkept_count,
            more_sources_at_least: self.unkept_saturated,
            more_incidents: self.unkept_incidents,
            total: self.total,
        }
    }
}

fn with_unshown(line: String, unshown: u64, whom: &str) -> String {
    if unshown == 0 {
        line
    } else {
        format!(
            "{line} (and {unshown} earlier incident{} from {whom} not shown)",
            plural(unshown)
        )
    }
}
