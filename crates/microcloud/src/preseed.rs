//! `microcloud preseed`: collect what the machines have, plan, and apply.
//!
//! Machines are reached through their services' unix sockets: this
//! machine's own, every machine of a simulated cluster (`--sim-dir`, the
//! layout `microcloud-sim` writes:
//! `<dir>/<name>/{lxd/unix.socket,microceph/control.socket,microovn/control.socket}`),
//! or, for the other machines of a multi-machine run, through the agents
//! the trust session admitted (see [`crate::multi`]).

use anyhow::{Context, Result};
use clients::lxd::LxdClient;
use clients::microceph::MicroCephClient;
use clients::microovn::MicroOvnClient;
use clients::transport::Transport;
use config_loader::model::Preseed;
use executor::apply::{NodeClients, PlanRunner};
use executor::journal::{Journal, JournalFile, RunEnd, StepRecord, timestamp};
use executor::{Event, Options, StepResult};
use ipnet::IpNet;
use planner::inventory::Inventory;
use session::role::{self, LocalIdentity, Role, RoleError};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::sync::{mpsc, watch};

use crate::multi::{self, Peers};
use crate::progress::Progress;
use crate::ready;
use crate::report::Final;
use crate::run_lock;
use crate::{EXIT_INVALID, Format, HostEnvironment, print_diagnostics, read_input};

/// Exit status when the run was interrupted (Ctrl-C).
pub(crate) const EXIT_INTERRUPTED: u8 = 3;

/// Options of `microcloud preseed`.
pub struct Args {
    pub file: Option<PathBuf>,
    pub sim_dir: Option<PathBuf>,
    pub name: Option<String>,
    pub address: Option<IpAddr>,
    pub lxd_socket: Option<PathBuf>,
    pub microceph_socket: PathBuf,
    pub microovn_socket: PathBuf,
    pub dry_run: bool,
    pub format: Format,
    pub max_parallel: usize,
    pub serial_peers: bool,
    pub journal: Option<PathBuf>,
    pub run_options: crate::options::RunOptions,
}

pub(crate) type Clients = NodeClients<LxdClient, MicroCephClient, MicroOvnClient>;

/// A machine this run can reach.
pub(crate) struct Machine {
    pub name: String,
    pub clients: Clients,
    /// The interface of its IPv4 default route, when known.
    pub default_route: Option<String>,
}

/// This machine's service sockets.
#[derive(Debug, Clone)]
pub(crate) struct Sockets {
    pub lxd: PathBuf,
    pub microceph: PathBuf,
    pub microovn: PathBuf,
}

impl Sockets {
    /// The sockets of one machine directory, laid out as `microcloud-sim
    /// --state-dir` lays out each node (`--sockets DIR`).
    pub(crate) fn in_dir(dir: &Path) -> Sockets {
        Sockets {
            lxd: dir.join("lxd/unix.socket"),
            microceph: dir.join("microceph/control.socket"),
            microovn: dir.join("microovn/control.socket"),
        }
    }

    /// The IPv4 default route of a simulated machine: its directory's
    /// `proc/net/route` (written by `microcloud-sim` when the machine's
    /// inventory has a `default_route`), read as `/proc/net/route` is on a
    /// real machine. `None` when there is no such file or no default route.
    pub(crate) fn default_route_in_dir(dir: &Path) -> Option<String> {
        std::fs::read_to_string(dir.join("proc/net/route"))
            .ok()
            .and_then(|t| collect::default_route_interface_from_proc(&t))
    }

    fn machine(&self, name: &str, default_route: Option<String>) -> Machine {
        // A service whose socket is absent is not installed there.
        let present = |p: &Path| p.exists();
        Machine {
            name: name.to_owned(),
            clients: NodeClients {
                lxd: LxdClient::new(Transport::unix(&self.lxd), name),
                microceph: present(&self.microceph)
                    .then(|| MicroCephClient::new(Transport::unix(&self.microceph), name)),
                microovn: present(&self.microovn)
                    .then(|| MicroOvnClient::new(Transport::unix(&self.microovn), name)),
            },
            default_route,
        }
    }
}

/// The machines of a simulated cluster: every `<dir>/<name>/lxd/unix.socket`.
fn sim_machines(dir: &Path) -> Result<Vec<Machine>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| {
            format!(
                "cannot read the simulated cluster's directory {}",
                dir.display()
            )
        })?
        .filter_map(Result::ok)
        .filter(|e| Sockets::in_dir(&e.path()).lxd.exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    if names.is_empty() {
        anyhow::bail!(
            "{} holds no simulated machine (no <name>/lxd/unix.socket); start microcloud-sim with --state-dir {}",
            dir.display(),
            dir.display()
        );
    }
    Ok(names
        .iter()
        .map(|n| {
            let machine = dir.join(n);
            Sockets::in_dir(&machine).machine(n, Sockets::default_route_in_dir(&machine))
        })
        .collect())
}

fn host_name() -> Result<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .context("cannot read the host name")?;
    Ok(name.trim().to_owned())
}

/// Addresses given on the command line instead of the reported ones, by machine.
pub(crate) type AddressOverrides = BTreeMap<String, Vec<IpNet>>;

/// What a machine knows about itself for `role::decide`: its name and its
/// addresses, as given on the command line or as it reports them
/// (interface order).
fn identity(
    system: &planner::inventory::SystemInventory,
    overrides: &AddressOverrides,
) -> LocalIdentity {
    LocalIdentity {
        name: system.name.clone(),
        addresses: overrides.get(&system.name).cloned().unwrap_or_else(|| {
            system
                .interfaces
                .iter()
                .flat_map(|i| i.addresses.iter().copied())
                .collect()
        }),
    }
}

/// Collects every machine's inventory (at once), decides each one's part
/// and address the way every machine decides about itself
/// (`session::role`), and reads an existing cluster through the initiator.
async fn collect(
    preseed: &Preseed,
    machines: Vec<Machine>,
    overrides: &AddressOverrides,
) -> Result<(Inventory, BTreeMap<String, Clients>)> {
    let unknown: IpAddr = IpAddr::from([0, 0, 0, 0]);
    // Every machine at once: each collection mostly waits on its machine.
    let mut tasks = tokio::task::JoinSet::new();
    for (i, m) in machines.iter().enumerate() {
        let (name, route) = (m.name.clone(), m.default_route.clone());
        let (lxd, ceph, ovn) = (
            m.clients.lxd.clone(),
            m.clients.microceph.clone(),
            m.clients.microovn.clone(),
        );
        tasks.spawn(async move {
            let system =
                collect::collect_system(&name, unknown, &lxd, ceph.as_ref(), ovn.as_ref(), route)
                    .await;
            (i, system)
        });
    }
    let mut collected: Vec<_> = tasks.join_all().await.into_iter().collect();
    collected.sort_by_key(|(i, _)| *i);
    let collected = collected.into_iter().map(|(_, s)| s);
    let mut systems = Vec::new();
    let mut clients = BTreeMap::new();
    let mut initiator = None;
    for (m, system) in machines.into_iter().zip(collected) {
        let mut system =
            system.with_context(|| format!("cannot collect what machine {} has", m.name))?;
        let role = match role::decide(preseed, &identity(&system, overrides)) {
            Ok(role) => role,
            Err(RoleError::NotInvolved { .. }) => continue,
            Err(e) => return Err(anyhow::Error::new(e).context(format!("machine {}", m.name))),
        };
        system.address = match role {
            Role::Initiator { address, .. } => {
                initiator = Some(m.name.clone());
                address
            }
            Role::Joiner { address, .. } => address,
        };
        systems.push(system);
        clients.insert(m.name, m.clients);
    }
    // An existing cluster (add mode, or a re-run) is read through the initiator.
    let initiator = initiator.and_then(|name| systems.iter().find(|s| s.name == name));
    let cluster = match initiator {
        Some(init) => {
            let members = init
                .services
                .lxd
                .as_ref()
                .map(|l| l.cluster_members.clone())
                .unwrap_or_default();
            if members.is_empty() {
                None
            } else {
                let c = &clients[&init.name];
                Some(
                    collect::collect_cluster(&c.lxd, c.microceph.as_ref(), &members)
                        .await
                        .context("cannot read the existing cluster")?,
                )
            }
        }
        None => None,
    };
    let inventory =
        Inventory::new(systems, cluster).context("the collected inventory is inconsistent")?;
    Ok((inventory, clients))
}

/// Collects the inventory of the simulated cluster under `dir` for
/// `preseed` (for `microcloud plan --sim-dir`).
pub fn sim_inventory(preseed: &Preseed, dir: &Path) -> Result<Inventory> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        Ok(
            collect(preseed, sim_machines(dir)?, &AddressOverrides::new())
                .await?
                .0,
        )
    })
}

/// Everything a run knows before it reaches any machine.
pub(crate) struct Run {
    pub args: Args,
    pub preseed: Preseed,
    pub report: config_loader::Report,
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Runs `microcloud preseed`.
pub fn run(args: Args) -> Result<ExitCode> {
    let (name, bytes, base) = read_input(args.file.as_deref())?;
    let report = config_loader::load_bytes(&bytes, &HostEnvironment { base });
    let Some(preseed) = report.preseed().cloned() else {
        print_diagnostics(&report, report.diagnostics(), &name, args.format)?;
        return Ok(ExitCode::from(EXIT_INVALID));
    };
    if !report.diagnostics().is_empty() && args.format == Format::Human {
        eprint!("{}", report.render(&name));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let run = Run {
        args,
        preseed,
        report,
        name,
        bytes,
    };
    runtime.block_on(run_async(run)).map(ExitCode::from)
}

fn journal_path(args: &Args) -> PathBuf {
    args.journal
        .clone()
        .unwrap_or_else(|| default_journal(args.sim_dir.as_deref()))
}

async fn run_async(run: Run) -> Result<u8> {
    // One run per machine, whatever the journal: refused before anything
    // is read or changed.
    let lock_path = run_lock::path(run.args.sim_dir.as_deref());
    let waited = run_lock::take_within(&lock_path, run_lock::GRACE, |held| {
        eprintln!(
            "{}; waiting up to {} s for it to end (a machine's part of a run whose initiator is gone ends within {} s)",
            held.holder_text(),
            run_lock::GRACE.as_secs(),
            multi::AGENT_IDLE.as_secs()
        );
    });
    let _lock = match waited.await {
        Ok(lock) => lock,
        Err(e @ run_lock::LockError::Held { .. }) => {
            eprintln!("error: {e}");
            return Ok(run_lock::EXIT_LOCKED);
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(dir) = &run.args.sim_dir {
        let machines = sim_machines(dir)?;
        return Ok(drive(&run, machines, None).await?.code);
    }
    let me = match &run.args.name {
        Some(n) => n.clone(),
        None => host_name()?,
    };
    let sockets = Sockets {
        lxd: run
            .args
            .lxd_socket
            .clone()
            .unwrap_or_else(|| clients::paths::lxd_socket(|k| std::env::var(k).ok())),
        microceph: run.args.microceph_socket.clone(),
        microovn: run.args.microovn_socket.clone(),
    };
    let wait = run.args.run_options.wait_ready;
    if !wait.is_zero() {
        let targets = ready::needed(
            &run.preseed,
            sockets.lxd.clone(),
            sockets.microceph.clone(),
            sockets.microovn.clone(),
        );
        if ready::wait(&targets, wait, run.args.format, ready::Lines::Stdout)
            .await
            .is_err()
        {
            return Ok(ready::EXIT_NOT_READY);
        }
    }
    let route = std::fs::read_to_string("/proc/net/route")
        .ok()
        .and_then(|t| collect::default_route_interface_from_proc(&t));
    let local = sockets.machine(&me, route);
    // What this machine is, as its own services report it.
    let system = collect::collect_system(
        &me,
        IpAddr::from([0, 0, 0, 0]),
        &local.clients.lxd,
        local.clients.microceph.as_ref(),
        local.clients.microovn.as_ref(),
        local.default_route.clone(),
    )
    .await
    .with_context(|| format!("cannot read what this machine ({me}) has through its LXD"))?;
    let mut overrides = AddressOverrides::new();
    if let Some(a) = run.args.address {
        overrides.insert(me.clone(), vec![IpNet::from(a)]);
    }
    let role = match role::decide(&run.preseed, &identity(&system, &overrides)) {
        Ok(role) => role,
        Err(e) => {
            // An error, like every other: on standard error.
            eprintln!("error: {e}");
            return Ok(EXIT_INVALID);
        }
    };
    match role {
        Role::Initiator { address, .. } => {
            let joiners: std::collections::BTreeSet<String> = run
                .preseed
                .systems
                .iter()
                .map(|s| s.name.as_str().to_owned())
                .filter(|n| *n != me)
                .collect();
            if joiners.is_empty() {
                Ok(drive(&run, vec![local], None).await?.code)
            } else {
                multi::initiate(&run, local, address, joiners, &system, overrides).await
            }
        }
        Role::Joiner {
            address, initiator, ..
        } => multi::join(&run, &me, address, initiator, &system, &sockets).await,
    }
}

/// How a run ended: the exit status and a one-line summary (what joiners
/// are told).
pub(crate) struct Ending {
    pub code: u8,
    pub message: String,
}

impl Ending {
    pub(crate) fn new(code: u8, message: impl Into<String>) -> Ending {
        Ending {
            code,
            message: message.into(),
        }
    }
}

/// Collects, plans and applies against `machines` (this one first when it
/// is the initiator); `peers` are the agents of the other machines, watched
/// while the plan runs: losing one stops the run.
pub(crate) async fn drive(
    run: &Run,
    machines: Vec<Machine>,
    mut peers: Option<&mut Peers>,
) -> Result<Ending> {
    let args = &run.args;
    let preseed = &run.preseed;
    let overrides = peers
        .as_ref()
        .map(|p| p.overrides().clone())
        .unwrap_or_default();
    let (inventory, clients) = match collect(preseed, machines, &overrides).await {
        Ok(collected) => collected,
        Err(e) if peers.is_some() => {
            // A joiner that went away (killed, powered off) makes its
            // services' calls fail: say that, not what the calls suggest.
            let gone = match peers.as_ref() {
                Some(p) => p.unreachable().await,
                None => Vec::new(),
            };
            let ending = if gone.is_empty() {
                Ending::new(EXIT_INVALID, format!("pre-flight check failed: {e:#}"))
            } else {
                Ending::new(multi::EXIT_PEER, multi::gone_message(&gone))
            };
            eprintln!("error: {}", ending.message);
            return Ok(ending);
        }
        Err(e) => return Err(e),
    };
    let plan = match planner::plan(preseed, &inventory) {
        Ok(plan) => plan,
        Err(errors) => {
            let all = run
                .report
                .with_extra(errors.iter().map(planner::PlanError::to_diagnostic));
            print_diagnostics(&run.report, &all, &run.name, args.format)?;
            let first = errors
                .iter()
                .next()
                .map(ToString::to_string)
                .unwrap_or_default();
            return Ok(Ending::new(
                EXIT_INVALID,
                format!(
                    "the preseed cannot be applied to these machines ({} problem(s), first: {first}); see the initiator's output",
                    errors.iter().count()
                ),
            ));
        }
    };
    if args.dry_run {
        let mut out = std::io::stdout().lock();
        match args.format {
            Format::Human => out.write_all(plan.render_text().as_bytes())?,
            Format::Json => out.write_all(plan.to_json().as_bytes())?,
        }
        return Ok(Ending::new(0, "dry run: nothing was changed"));
    }
    let warnings = crate::report::warnings(&run.report, &run.name, &plan);
    let total = plan.steps.len();
    let todo = plan.steps.iter().filter(|s| !s.status.is_done()).count();
    let mut progress = Progress::new(args.format, &plan);
    progress.line(&format!(
        "Plan: {total} steps, {todo} to do ({} already done)",
        total - todo
    ));

    let journal_file = JournalFile::new(journal_path(args));
    if let Ok(Some(previous)) = journal_file.load() {
        let interrupted = previous.interrupted_steps();
        if !interrupted.is_empty() {
            progress.line(&format!(
                "The previous run stopped during {}; planning from the live state again.",
                interrupted.join(", ")
            ));
        }
    }
    let digest = hex_digest(&run.bytes);
    let mut journal = Journal::new(
        digest,
        serde_json::from_str(&plan.to_json()).unwrap_or(serde_json::Value::Null),
    );
    journal_file
        .save(&mut journal)
        .with_context(|| format!("cannot write the journal {}", journal_file.path().display()))?;

    let runner = Arc::new(PlanRunner::new(plan, clients));
    let options = Options {
        max_parallel: args.max_parallel.max(1),
        serial_peers: args.serial_peers,
        deadlines: executor::apply::deadlines(&args.run_options.timeouts(&preseed.timeouts)),
        ..Options::default()
    };
    let (event_tx, mut event_rx) = mpsc::unbounded_channel();
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let apply = tokio::spawn({
        let runner = runner.clone();
        async move { executor::apply::apply(runner, &options, Some(event_tx), cancel_rx).await }
    });
    let mut interrupted = false;
    let mut lost: Option<multi::Lost> = None;
    let mut ctrl_c = Box::pin(tokio::signal::ctrl_c());
    loop {
        tokio::select! {
            event = event_rx.recv() => match event {
                Some(e) => {
                    journal.record(&e, SystemTime::now());
                    if matches!(e, Event::Finished { .. } | Event::Failed { .. }) {
                        let _ = journal_file.save(&mut journal);
                    }
                    progress.event(&e);
                }
                None => break,
            },
            _ = &mut ctrl_c, if !interrupted => {
                interrupted = true;
                progress.line("Interrupted: letting running steps finish, starting nothing new.");
                let _ = cancel_tx.send(true);
            }
            gone = multi::next_lost(&mut peers), if lost.is_none() => {
                progress.line(&format!("{gone}: stopping, letting running steps finish, starting nothing new."));
                lost = Some(gone);
                let _ = cancel_tx.send(true);
            }
        }
    }
    let report = apply
        .await
        .context("the executor stopped abnormally")?
        .context("the plan is not a valid graph")?;
    journal.finished = Some(RunEnd {
        at: timestamp(SystemTime::now()),
        succeeded: report.succeeded(),
    });
    for (id, r) in &report.results {
        if let StepResult::NotStarted(why) = r {
            journal.steps.insert(
                id.to_string(),
                StepRecord::NotStarted {
                    reason: format!("{why:?}"),
                },
            );
        }
    }
    journal_file
        .save(&mut journal)
        .with_context(|| format!("cannot write the journal {}", journal_file.path().display()))?;
    let state = crate::report::gather_through(&runner).await;
    let summary = Final::new(
        runner.plan(),
        &report,
        state,
        warnings,
        interrupted || lost.is_some(),
    )
    .with_journal(journal_file.path());
    progress.report(&summary);
    if let Some(path) = &args.run_options.report {
        summary.write(path)?;
    }
    Ok(if report.succeeded() {
        Ending::new(
            0,
            format!(
                "the cluster is formed: {} step(s) changed something, {} were already done",
                report.count(executor::Outcome::Changed),
                report.count(executor::Outcome::AlreadyDone)
            ),
        )
    } else if let Some(gone) = lost {
        Ending::new(multi::EXIT_PEER, format!("the run stopped: {gone}"))
    } else if interrupted {
        Ending::new(EXIT_INTERRUPTED, "the run was interrupted on the initiator")
    } else {
        let first = report.results.iter().find_map(|(id, r)| match r {
            StepResult::Failed { failure, .. } => {
                let node = runner
                    .plan()
                    .step(id)
                    .map(|s| s.node.clone())
                    .unwrap_or_default();
                Some(format!(
                    "step {} on {node} failed: {}",
                    id,
                    failure.full_message()
                ))
            }
            _ => None,
        });
        Ending::new(
            1,
            format!(
                "the run failed: {}",
                first.unwrap_or_else(|| "see the initiator's output".to_owned())
            ),
        )
    })
}

fn default_journal(sim_dir: Option<&Path>) -> PathBuf {
    match sim_dir {
        Some(d) => d.join("microcloud-journal.json"),
        None => PathBuf::from("/var/lib/microcloud/journal.json"),
    }
}

fn hex_digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
