//! Waiting until this machine's services answer: `microcloud preseed
//! --wait-ready DURATION` (before it reads anything) and `microcloud
//! wait-ready` (for scripts).
//!
//! What "ready" means, per service (service-apis.md §2, §3.1, §8):
//!
//! - **LXD**: its unix socket exists, `GET /internal/ready` answers 200 (an
//!   LXD without that endpoint, 404, skips it) and `GET /1.0` answers.
//!   On LXD 5.0.2 the second is what counts: `/internal/ready` is there but
//!   `/1.0` is what the run uses first.
//! - **MicroCeph, MicroOVN** (microcluster daemons): the control socket
//!   exists and `GET /core/1.0/ready` answers 200 (503 `Daemon is not ready
//!   yet` while the daemon starts). An uninitialised daemon is ready: the
//!   run bootstraps or joins it.
//!
//! Which services `preseed` waits for ([`needed`]): LXD always; MicroCeph
//! when the preseed asks for Ceph disks (`storage.ceph`, `ceph_disks`) or
//! its socket is already there; MicroOVN when the preseed asks for OVN
//! networking (`ovn:` gateways or an uplink interface) or its socket is
//! already there. A service neither asked for nor installed (no socket)
//! counts as absent, as it does when collecting, and is not waited for.
//!
//! The wait is bounded; every probe is cut off after a few seconds, so a
//! hanging daemon cannot stretch it. Progress: a line per service whose
//! state changed, else at most every [`REPEAT`], and a line when a service
//! that was waited for becomes ready. A service ready at the first probe
//! prints nothing, so a run on a machine that is already up looks the same
//! as without waiting.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clients::lxd::{LxdApi, LxdClient};
use clients::microcluster::{MicroclusterApi, MicroclusterClient};
use clients::transport::Transport;
use config_loader::model::Preseed;

pub use crate::machine::ServiceKind;
use crate::output::Format;
use crate::output::events::{self, Event, PendingService};

/// How often a still-waiting service is reported when nothing changes.
pub const REPEAT: Duration = Duration::from_secs(5);

/// Pause between probes (MicroCloud polls LXD every 500 ms).
const POLL: Duration = Duration::from_millis(500);

/// The longest a single probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// A service to wait for, at its socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Which service.
    pub service: ServiceKind,
    /// Its unix socket.
    pub socket: PathBuf,
}

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// The socket does not exist (not installed, or not started yet).
    SocketMissing,
    /// The socket exists but nothing answers (refused, hung, broken).
    NotAnswering(String),
    /// The daemon answers that it is not ready, or fails the check.
    NotReady(String),
    /// Ready.
    Ready,
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probe::SocketMissing => f.write_str("socket missing"),
            Probe::NotAnswering(why) => write!(f, "not answering: {why}"),
            Probe::NotReady(why) => write!(f, "not ready: {why}"),
            Probe::Ready => f.write_str("ready"),
        }
    }
}

/// The services `preseed` waits for (see the module docs): LXD, and
/// MicroCeph and MicroOVN when the preseed needs them or their sockets
/// exist.
pub fn needed(
    preseed: &Preseed,
    lxd: PathBuf,
    microceph: PathBuf,
    microovn: PathBuf,
) -> Vec<Target> {
    let mut targets = vec![Target {
        service: ServiceKind::Lxd,
        socket: lxd,
    }];
    if preseed.uses_ceph() || microceph.exists() {
        targets.push(Target {
            service: ServiceKind::Microceph,
            socket: microceph,
        });
    }
    if preseed.uses_ovn() || microovn.exists() {
        targets.push(Target {
            service: ServiceKind::Microovn,
            socket: microovn,
        });
    }
    targets
}

/// The services still not ready when the wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReady {
    /// How long the wait could last.
    pub timeout: Duration,
    /// How long the wait lasted.
    pub waited: Duration,
    /// Each service that is not ready, with what its last probe found.
    pub pending: Vec<(Target, Probe)>,
}

impl fmt::Display for NotReady {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = self
            .pending
            .iter()
            .map(|(t, p)| format!("{} at {} ({p})", t.service, t.socket.display()))
            .collect::<Vec<_>>()
            .join(", ");
        write!(
            f,
            "not ready after {}: {list}; check that {} installed and started (e.g. `snap services {}`) and that the socket path is right, then run again (a longer wait: --wait-ready, or wait-ready --timeout)",
            config_loader::model::format_duration(self.timeout),
            if self.pending.len() == 1 {
                "it is"
            } else {
                "they are"
            },
            self.pending
                .iter()
                .map(|(t, _)| snap_name(t.service))
                .collect::<Vec<_>>()
                .join(" "),
        )
    }
}

fn snap_name(service: ServiceKind) -> &'static str {
    match service {
        ServiceKind::Lxd => "lxd",
        ServiceKind::Microceph => "microceph",
        ServiceKind::Microovn => "microovn",
    }
}

/// Probes one service once.
pub async fn probe(target: &Target) -> Probe {
    if !target.socket.exists() {
        return Probe::SocketMissing;
    }
    let transport = Transport::unix(&target.socket);
    let check = async {
        match target.service {
            ServiceKind::Lxd => {
                let lxd = LxdClient::new(transport, "local");
                match lxd.ready().await {
                    Ok(()) => {}
                    Err(clients::Error::Status { status: 404, .. }) => {}
                    Err(e) => return classify(&e),
                }
                match lxd.server(None).await {
                    Ok(_) => Probe::Ready,
                    Err(e) => classify(&e),
                }
            }
            ServiceKind::Microceph | ServiceKind::Microovn => {
                let service = if target.service == ServiceKind::Microceph {
                    clients::Service::MicroCeph
                } else {
                    clients::Service::MicroOvn
                };
                match MicroclusterClient::new(transport, service, "local")
                    .ready()
                    .await
                {
                    Ok(()) => Probe::Ready,
                    Err(e) => classify(&e),
                }
            }
        }
    };
    match tokio::time::timeout(PROBE_TIMEOUT, check).await {
        Ok(probe) => probe,
        Err(_) => Probe::NotAnswering(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
    }
}

/// A client error as what it says about readiness.
fn classify(e: &clients::Error) -> Probe {
    match e {
        clients::Error::Connect { source, .. } => {
            // A socket that vanished between the check and the connection
            // is as good as missing.
            if source.kind() == std::io::ErrorKind::NotFound {
                Probe::SocketMissing
            } else {
                Probe::NotAnswering(source.to_string())
            }
        }
        clients::Error::Timeout { .. } | clients::Error::Http { .. } => {
            Probe::NotAnswering(root_cause(e))
        }
        clients::Error::Status {
            status, message, ..
        } => Probe::NotReady(format!("{status} {message}")),
        other => Probe::NotReady(root_cause(other)),
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Where progress goes: `preseed` prints its lines on standard output like
/// its other progress; `wait-ready` on standard error, keeping standard
/// output for JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// Human lines on standard output.
    Stdout,
    /// Human lines on standard error.
    Stderr,
}

/// Waits until every target is ready, or `timeout` passed (probing each at
/// least once); reports progress in `format`.
pub async fn wait(
    targets: &[Target],
    timeout: Duration,
    format: Format,
    lines: Lines,
) -> Result<(), NotReady> {
    let start = Instant::now();
    let mut reporter = Reporter {
        format,
        lines,
        start,
        timeout,
        last: BTreeMap::new(),
    };
    let mut pending: Vec<Target> = targets.to_vec();
    loop {
        let probes = futures_join(&pending).await;
        let mut still = Vec::new();
        for (target, probe) in pending.into_iter().zip(probes) {
            if probe == Probe::Ready {
                reporter.ready(&target);
            } else {
                still.push((target, probe));
            }
        }
        if still.is_empty() {
            return Ok(());
        }
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            let not_ready = NotReady {
                timeout,
                waited: elapsed,
                pending: still,
            };
            reporter.give_up(&not_ready);
            return Err(not_ready);
        }
        for (target, probe) in &still {
            reporter.waiting(target, probe);
        }
        pending = still.into_iter().map(|(t, _)| t).collect();
        tokio::time::sleep(POLL.min(timeout - elapsed)).await;
    }
}

/// Probes every target at once.
async fn futures_join(targets: &[Target]) -> Vec<Probe> {
    let mut set = tokio::task::JoinSet::new();
    for (i, t) in targets.iter().enumerate() {
        let t = t.clone();
        set.spawn(async move { (i, probe(&t).await) });
    }
    let mut out: Vec<(usize, Probe)> = set.join_all().await.into_iter().collect();
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, p)| p).collect()
}

/// Says what the wait is doing, without repeating itself.
struct Reporter {
    format: Format,
    lines: Lines,
    start: Instant,
    timeout: Duration,
    /// Per socket: the last state reported and when.
    last: BTreeMap<PathBuf, (String, Instant)>,
}

impl Reporter {
    fn human(&self, text: &str) {
        match self.lines {
            Lines::Stdout => println!("{text}"),
            Lines::Stderr => eprintln!("{text}"),
        }
    }

    fn waiting(&mut self, target: &Target, probe: &Probe) {
        let state = probe.to_string();
        let now = Instant::now();
        let due = match self.last.get(&target.socket) {
            Some((last, at)) => *last != state || now.duration_since(*at) >= REPEAT,
            None => true,
        };
        if !due {
            return;
        }
        self.last
            .insert(target.socket.clone(), (state.clone(), now));
        let elapsed = self.start.elapsed();
        match self.format {
            Format::Human => self.human(&format!(
                "waiting for {} at {} ({state}) ... {}s of {}",
                target.service,
                target.socket.display(),
                elapsed.as_secs(),
                config_loader::model::format_duration(self.timeout),
            )),
            Format::Json => events::print(
                &Event::Waiting {
                    service: target.service,
                    socket: target.socket.clone(),
                    state,
                    elapsed_s: events::seconds(elapsed),
                    timeout_s: events::seconds(self.timeout),
                },
                None,
            ),
        }
    }

    /// Only a service that was reported waiting is reported ready.
    fn ready(&mut self, target: &Target) {
        if self.last.remove(&target.socket).is_none() {
            return;
        }
        let elapsed = self.start.elapsed();
        match self.format {
            Format::Human => self.human(&format!(
                "{} at {} is ready (after {:.1}s)",
                target.service,
                target.socket.display(),
                elapsed.as_secs_f64()
            )),
            Format::Json => events::print(
                &Event::Ready {
                    service: target.service,
                    socket: target.socket.clone(),
                    elapsed_s: events::seconds(elapsed),
                },
                None,
            ),
        }
    }

    fn give_up(&self, not_ready: &NotReady) {
        match self.format {
            Format::Human => self.human(&format!("error: {not_ready}")),
            Format::Json => events::print(
                &Event::NotReady {
                    message: format!("error: {not_ready}"),
                    waited_s: events::seconds(not_ready.waited),
                    services: not_ready
                        .pending
                        .iter()
                        .map(|(t, p)| PendingService {
                            service: t.service,
                            socket: t.socket.clone(),
                            state: p.to_string(),
                        })
                        .collect(),
                },
                None,
            ),
        }
    }
}

/// `microcloud wait-ready`.
#[derive(Clone, clap::Args)]
pub struct WaitReadyArgs {
    #[command(flatten)]
    sockets: crate::options::SocketOptions,
    /// The services to wait for, comma-separated (default: LXD, and
    /// MicroCeph and MicroOVN when their sockets exist).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "SERVICES")]
    services: Vec<ServiceKind>,
    /// How long to wait at most: seconds or a number with a unit (90, 45s,
    /// 5m, 1h30m); `0` probes once.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = crate::options::parse_wait)]
    timeout: Duration,
    /// Output: lines for people on standard error, or JSON events on
    /// standard output.
    #[arg(long = "output", value_enum, default_value_t = Format::Human)]
    format: Format,
}

/// Runs `microcloud wait-ready`: exit 0 when ready, [`crate::exit::Exit::NotReady`]
/// otherwise.
pub fn run(args: &WaitReadyArgs) -> anyhow::Result<std::process::ExitCode> {
    use anyhow::Context;
    let socket = |s: ServiceKind| match s {
        ServiceKind::Lxd => args.sockets.lxd_or_default(),
        ServiceKind::Microceph => args.sockets.microceph(),
        ServiceKind::Microovn => args.sockets.microovn(),
    };
    let mut services = args.services.clone();
    if services.is_empty() {
        services.push(ServiceKind::Lxd);
        services.extend(
            [ServiceKind::Microceph, ServiceKind::Microovn]
                .into_iter()
                .filter(|s| socket(*s).exists()),
        );
    }
    services.sort();
    services.dedup();
    let targets: Vec<Target> = services
        .into_iter()
        .map(|service| Target {
            service,
            socket: socket(service),
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(wait(&targets, args.timeout, args.format, Lines::Stderr));
    Ok(match result {
        Ok(()) => {
            if args.format == Format::Human {
                let names: Vec<String> = targets.iter().map(|t| t.service.to_string()).collect();
                eprintln!("ready: {}", names.join(", "));
            }
            std::process::ExitCode::SUCCESS
        }
        Err(_) => crate::exit::Exit::NotReady.into(),
    })
}
