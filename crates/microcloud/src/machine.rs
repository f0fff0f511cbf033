//! A machine this run can reach: its service sockets and the clients
//! over them (this machine's own, or every machine of a simulated cluster,
//! `--sim-dir`, laid out as `microcloud-sim` writes it:
//! `<dir>/<name>/{lxd/unix.socket,microceph/control.socket,microovn/control.socket}`).
//! The other machines of a multi-machine run are reached through their
//! agents instead (`multi`).

use anyhow::{Context, Result};
use clients::lxd::LxdClient;
use clients::microceph::MicroCephClient;
use clients::microovn::MicroOvnClient;
use clients::transport::Transport;
use executor::apply::NodeClients;
use schemars::JsonSchema;
use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// A service on this machine.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    /// LXD.
    Lxd,
    /// MicroCeph.
    Microceph,
    /// MicroOVN.
    Microovn,
}

impl fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServiceKind::Lxd => "LXD",
            ServiceKind::Microceph => "MicroCeph",
            ServiceKind::Microovn => "MicroOVN",
        })
    }
}

/// The clients of one machine's services.
pub type Clients = NodeClients<LxdClient, MicroCephClient, MicroOvnClient>;

/// A machine this run can reach.
pub struct Machine {
    /// Its name in the preseed.
    pub name: String,
    /// Its services' clients (LXD always; MicroCeph, MicroOVN when present).
    pub clients: Clients,
    /// The interface of its IPv4 default route, when known.
    pub default_route: Option<String>,
}

/// This machine's service sockets.
#[derive(Debug, Clone)]
pub struct Sockets {
    /// LXD's unix socket.
    pub lxd: PathBuf,
    /// MicroCeph's control socket.
    pub microceph: PathBuf,
    /// MicroOVN's control socket.
    pub microovn: PathBuf,
}

impl Sockets {
    /// The sockets of one machine directory, laid out as `microcloud-sim
    /// --state-dir` lays out each node (`--sockets DIR`).
    pub fn in_dir(dir: &Path) -> Sockets {
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
    pub fn default_route_in_dir(dir: &Path) -> Option<String> {
        std::fs::read_to_string(dir.join("proc/net/route"))
            .ok()
            .and_then(|t| session::agent::default_route_interface_from_proc(&t))
    }

    /// The machine `name` reached through these sockets.
    #[must_use]
    pub fn machine(&self, name: &str, default_route: Option<String>) -> Machine {
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
pub fn sim_machines(dir: &Path) -> Result<Vec<Machine>> {
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

/// This machine's host name.
///
/// # Errors
/// When `/proc/sys/kernel/hostname` cannot be read.
pub fn host_name() -> Result<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .context("cannot read the host name")?;
    Ok(name.trim().to_owned())
}

/// The interface of this machine's IPv4 default route (`/proc/net/route`).
#[must_use]
pub fn default_route() -> Option<String> {
    std::fs::read_to_string("/proc/net/route")
        .ok()
        .and_then(|t| session::agent::default_route_interface_from_proc(&t))
}
