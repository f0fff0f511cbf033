//! `microcloud preseed`: read and load the file, take this machine's run
//! lock, wait for its services, decide its part ([`crate::role`]) and run
//! it: alone, as the initiator or as a joiner ([`crate::multi`]), or every
//! machine of a simulated cluster at once (`--sim-dir`).

use anyhow::{Context, Result};
use ipnet::IpNet;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::exit::Exit;
use crate::input::{HostEnvironment, read_input};
use crate::liveness::AGENT_IDLE;
use crate::machine::{self, Machine, Sockets};
use crate::multi;
use crate::output::{Format, print_diagnostics};
use crate::ready;
use crate::role::{self, Role};
use crate::run::collect::identity;
use crate::run::{AddressOverrides, Run, Settings};
use crate::run_lock;

/// Options of `microcloud preseed`.
pub struct Args {
    /// The preseed file; stdin when `None` or `-`.
    pub file: Option<PathBuf>,
    /// Every machine of the simulated cluster under this directory.
    pub sim_dir: Option<PathBuf>,
    /// This machine's name (default: its host name).
    pub name: Option<String>,
    /// This machine's address instead of the ones its LXD reports.
    pub address: Option<IpAddr>,
    /// LXD's socket (default: the environment's, then the snap's).
    pub lxd_socket: Option<PathBuf>,
    /// MicroCeph's control socket.
    pub microceph_socket: PathBuf,
    /// MicroOVN's control socket.
    pub microovn_socket: PathBuf,
    /// Collect and plan, change nothing.
    pub dry_run: bool,
    /// Output format.
    pub format: Format,
    /// Steps running at once.
    pub max_parallel: usize,
    /// Join machines and add disks one at a time.
    pub serial_peers: bool,
    /// The journal's path (default: by `sim_dir`).
    pub journal: Option<PathBuf>,
    /// Deadlines, the report file, the wait for the services.
    pub run_options: crate::options::RunOptions,
}

/// Where this machine is: every machine of a simulated cluster, or this
/// one with its sockets.
enum Place {
    Sim(PathBuf),
    Here {
        name: Option<String>,
        address: Option<IpAddr>,
        sockets: Sockets,
    },
}

/// Runs `microcloud preseed`.
///
/// # Errors
/// When the file cannot be read, or the run fails in a way no exit status
/// covers (printed by `main` with exit 1).
pub fn run(args: Args) -> Result<ExitCode> {
    let (name, bytes, base) = read_input(args.file.as_deref())?;
    let report = config_loader::load_bytes(&bytes, &HostEnvironment { base });
    let Some(preseed) = report.preseed().cloned() else {
        print_diagnostics(&report, report.diagnostics(), &name, args.format)?;
        return Ok(Exit::Invalid.into());
    };
    if !report.diagnostics().is_empty() && args.format == Format::Human {
        eprint!("{}", report.render(&name));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let place = match args.sim_dir.clone() {
        Some(dir) => Place::Sim(dir),
        None => Place::Here {
            name: args.name.clone(),
            address: args.address,
            sockets: Sockets {
                lxd: args
                    .lxd_socket
                    .clone()
                    .unwrap_or_else(|| clients::paths::lxd_socket(|k| std::env::var(k).ok())),
                microceph: args.microceph_socket.clone(),
                microovn: args.microovn_socket.clone(),
            },
        },
    };
    let lock = run_lock::path(args.sim_dir.as_deref());
    let run = Run {
        settings: Settings {
            format: args.format,
            dry_run: args.dry_run,
            max_parallel: args.max_parallel,
            serial_peers: args.serial_peers,
            journal: args
                .journal
                .unwrap_or_else(|| default_journal(args.sim_dir.as_deref())),
            run_options: args.run_options,
        },
        preseed,
        report,
        name,
        bytes,
    };
    runtime
        .block_on(locked(&run, &lock, place))
        .map(ExitCode::from)
}

/// One run per machine, whatever the journal: refused before anything is
/// read or changed.
async fn locked(run: &Run, lock: &Path, place: Place) -> Result<Exit> {
    let waited = run_lock::take_within(lock, run_lock::GRACE, |held| {
        eprintln!(
            "{}; waiting up to {} s for it to end (a machine's part of a run whose initiator is gone ends within {} s)",
            held.holder_text(),
            run_lock::GRACE.as_secs(),
            AGENT_IDLE.as_secs()
        );
    });
    let _lock = match waited.await {
        Ok(lock) => lock,
        Err(e @ run_lock::LockError::Held { .. }) => {
            eprintln!("error: {e}");
            return Ok(Exit::Locked);
        }
        Err(e) => return Err(e.into()),
    };
    match place {
        Place::Sim(dir) => {
            let machines = machine::sim_machines(&dir)?;
            Ok(multi::drive(run, machines, None).await?.exit)
        }
        Place::Here {
            name,
            address,
            sockets,
        } => here(run, name, address, &sockets).await,
    }
}

/// This machine's part: waits for its services, reads what it has, and
/// decides and plays its role.
async fn here(
    run: &Run,
    name: Option<String>,
    address: Option<IpAddr>,
    sockets: &Sockets,
) -> Result<Exit> {
    let me = match name {
        Some(n) => n,
        None => machine::host_name()?,
    };
    let wait = run.settings.run_options.wait_ready;
    if !wait.is_zero() {
        let targets = ready::needed(
            &run.preseed,
            sockets.lxd.clone(),
            sockets.microceph.clone(),
            sockets.microovn.clone(),
        );
        if ready::wait(&targets, wait, run.settings.format, ready::Lines::Stdout)
            .await
            .is_err()
        {
            return Ok(Exit::NotReady);
        }
    }
    let local = sockets.machine(&me, machine::default_route());
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
    if let Some(a) = address {
        overrides.insert(me.clone(), vec![IpNet::from(a)]);
    }
    let role = match role::decide(&run.preseed, &identity(&system, &overrides)) {
        Ok(role) => role,
        Err(e) => {
            // An error, like every other: on standard error.
            eprintln!("error: {e}");
            return Ok(Exit::Invalid);
        }
    };
    match role {
        Role::Initiator { address, .. } => {
            let joiners = joiners(run, &me);
            if joiners.is_empty() {
                Ok(alone(run, local).await?.exit)
            } else {
                multi::initiator::initiate(run, local, address, joiners, &system, overrides).await
            }
        }
        Role::Joiner {
            address, initiator, ..
        } => multi::joiner::join(run, &me, address, initiator, &system, sockets).await,
    }
}

/// The machines of the file other than `me`.
fn joiners(run: &Run, me: &str) -> BTreeSet<String> {
    run.preseed
        .systems
        .iter()
        .map(|s| s.name.as_str().to_owned())
        .filter(|n| n != me)
        .collect()
}

/// A run of this machine alone.
async fn alone(run: &Run, local: Machine) -> Result<crate::run::Ending> {
    multi::drive(run, vec![local], None).await
}

fn default_journal(sim_dir: Option<&Path>) -> PathBuf {
    match sim_dir {
        Some(d) => d.join("microcloud-journal.json"),
        None => PathBuf::from("/var/lib/microcloud/journal.json"),
    }
}
