//! `microcloud preseed`: collect what the machines have, plan, and apply.
//!
//! Machines are reached directly through their services' unix sockets:
//! this machine's own (single-machine runs), or every machine of a
//! simulated cluster (`--sim-dir`, the layout `microcloud-sim` writes:
//! `<dir>/<name>/{lxd/unix.socket,microceph/control.socket,microovn/control.socket}`).
//! Runs that span real machines need the trust session and its agents.

use anyhow::{Context, Result, bail};
use clients::cert::Identity;
use clients::lxd::LxdClient;
use clients::microceph::MicroCephClient;
use clients::microovn::MicroOvnClient;
use clients::transport::Transport;
use config_loader::model::Preseed;
use executor::apply::{NodeClients, PlanRunner};
use executor::journal::{Journal, JournalFile, RunEnd, StepRecord, timestamp};
use executor::{Event, Options, StepResult};
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

use crate::progress::Progress;
use crate::report::Final;
use crate::{EXIT_INVALID, Format, HostEnvironment, print_diagnostics, read_input};

/// Exit status when the run was interrupted (Ctrl-C).
const EXIT_INTERRUPTED: u8 = 3;

/// Options of `microcloud preseed`.
pub struct Args {
    pub file: Option<PathBuf>,
    pub sim_dir: Option<PathBuf>,
    pub name: Option<String>,
    pub lxd_socket: Option<PathBuf>,
    pub microceph_socket: PathBuf,
    pub microovn_socket: PathBuf,
    pub dry_run: bool,
    pub format: Format,
    pub max_parallel: usize,
    pub journal: Option<PathBuf>,
    pub run_options: crate::options::RunOptions,
}

type Clients = NodeClients<LxdClient, MicroCephClient, MicroOvnClient>;

/// A machine this run can reach.
struct Machine {
    name: String,
    clients: Clients,
}

fn machine(name: &str, lxd: &Path, microceph: &Path, microovn: &Path) -> Machine {
    // A service whose socket is absent is not installed there.
    let present = |p: &Path| p.exists();
    Machine {
        name: name.to_owned(),
        clients: NodeClients {
            lxd: LxdClient::new(Transport::unix(lxd), name),
            microceph: present(microceph)
                .then(|| MicroCephClient::new(Transport::unix(microceph), name)),
            microovn: present(microovn)
                .then(|| MicroOvnClient::new(Transport::unix(microovn), name)),
        },
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
        .filter(|e| e.path().join("lxd/unix.socket").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    if names.is_empty() {
        bail!(
            "{} holds no simulated machine (no <name>/lxd/unix.socket); start microcloud-sim with --state-dir {}",
            dir.display(),
            dir.display()
        );
    }
    Ok(names
        .iter()
        .map(|n| {
            let d = dir.join(n);
            machine(
                n,
                &d.join("lxd/unix.socket"),
                &d.join("microceph/control.socket"),
                &d.join("microovn/control.socket"),
            )
        })
        .collect())
}

fn host_name() -> Result<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .context("cannot read the host name")?;
    Ok(name.trim().to_owned())
}

async fn collect(
    preseed: &Preseed,
    machines: Vec<Machine>,
    default_route: Option<String>,
) -> Result<(Inventory, BTreeMap<String, Clients>)> {
    let unknown: IpAddr = IpAddr::from([0, 0, 0, 0]);
    let mut systems = Vec::new();
    let mut clients = BTreeMap::new();
    let mut initiator = None;
    for m in machines {
        let c = &m.clients;
        let mut system = collect::collect_system(
            &m.name,
            unknown,
            &c.lxd,
            c.microceph.as_ref(),
            c.microovn.as_ref(),
            default_route.clone(),
        )
        .await
        .with_context(|| format!("cannot collect what machine {} has", m.name))?;
        // The same decision every machine makes about itself (see
        // `session::role`): whether it takes part, and with which address.
        let identity = LocalIdentity {
            name: m.name.clone(),
            addresses: system
                .interfaces
                .iter()
                .flat_map(|i| i.addresses.iter().copied())
                .collect(),
        };
        let role = match role::decide(preseed, &identity) {
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
    runtime.block_on(async { Ok(collect(preseed, sim_machines(dir)?, None).await?.0) })
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
    runtime.block_on(run_async(args, preseed, report, name, bytes))
}

async fn run_async(
    args: Args,
    preseed: Preseed,
    report: config_loader::Report,
    name: String,
    bytes: Vec<u8>,
) -> Result<ExitCode> {
    let (machines, default_route) = match &args.sim_dir {
        Some(dir) => (sim_machines(dir)?, None),
        None => {
            let me = match &args.name {
                Some(n) => n.clone(),
                None => host_name()?,
            };
            let others: Vec<&str> = preseed
                .systems
                .iter()
                .map(|s| s.name.as_str())
                .filter(|n| *n != me)
                .collect();
            if !others.is_empty() {
                bail!(
                    "this run involves other machines ({}), which needs the trust session between machines; \
                     it is not available in this build yet: run a single-machine preseed here, or use --sim-dir for a simulated cluster",
                    others.join(", ")
                );
            }
            let lxd = args
                .lxd_socket
                .clone()
                .unwrap_or_else(|| clients::paths::lxd_socket(|k| std::env::var(k).ok()));
            let route = std::fs::read_to_string("/proc/net/route")
                .ok()
                .and_then(|t| collect::default_route_interface_from_proc(&t));
            (
                vec![machine(
                    &me,
                    &lxd,
                    &args.microceph_socket,
                    &args.microovn_socket,
                )],
                route,
            )
        }
    };
    let (inventory, clients) = collect(&preseed, machines, default_route).await?;
    let plan = match planner::plan(&preseed, &inventory) {
        Ok(plan) => plan,
        Err(errors) => {
            let all = report.with_extra(errors.iter().map(planner::PlanError::to_diagnostic));
            print_diagnostics(&report, &all, &name, args.format)?;
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    };
    if args.dry_run {
        let mut out = std::io::stdout().lock();
        match args.format {
            Format::Human => out.write_all(plan.render_text().as_bytes())?,
            Format::Json => out.write_all(plan.to_json().as_bytes())?,
        }
        return Ok(ExitCode::SUCCESS);
    }
    let warnings = crate::report::warnings(&report, &name, &plan);
    let total = plan.steps.len();
    let todo = plan.steps.iter().filter(|s| !s.status.is_done()).count();
    let mut progress = Progress::new(args.format, &plan);
    progress.line(&format!(
        "Plan: {total} steps, {todo} to do ({} already done)",
        total - todo
    ));

    let journal_file = JournalFile::new(
        args.journal
            .clone()
            .unwrap_or_else(|| default_journal(args.sim_dir.as_deref())),
    );
    if let Ok(Some(previous)) = journal_file.load() {
        let interrupted = previous.interrupted_steps();
        if !interrupted.is_empty() {
            progress.line(&format!(
                "The previous run stopped during {}; planning from the live state again.",
                interrupted.join(", ")
            ));
        }
    }
    let digest = hex_digest(&bytes);
    let mut journal = Journal::new(
        digest,
        serde_json::from_str(&plan.to_json()).unwrap_or(serde_json::Value::Null),
    );
    journal_file
        .save(&mut journal)
        .with_context(|| format!("cannot write the journal {}", journal_file.path().display()))?;

    let identity = Identity::generate("microcloud", &[]).context("cannot create a TLS identity")?;
    let runner = Arc::new(PlanRunner::new(plan, clients, identity));
    let options = Options {
        max_parallel: args.max_parallel.max(1),
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
                id.0.clone(),
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
    let phase_times = progress.phase_times(runner.plan());
    let summary = Final::new(
        runner.plan(),
        &report,
        state,
        warnings,
        &phase_times,
        interrupted,
    )
    .with_journal(journal_file.path());
    progress.report(&summary);
    if let Some(path) = &args.run_options.report {
        summary.write(path)?;
    }
    Ok(if report.succeeded() {
        ExitCode::SUCCESS
    } else if interrupted {
        ExitCode::from(EXIT_INTERRUPTED)
    } else {
        ExitCode::FAILURE
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
