//! Collecting: every machine's inventory, each one's part and address
//! (decided as every machine decides about itself, [`crate::role`]), and an
//! existing cluster read through the initiator.

use anyhow::{Context, Result};
use config_loader::model::Preseed;
use ipnet::IpNet;
use planner::inventory::Inventory;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use crate::machine::{Clients, Machine};
use crate::role::{self, LocalIdentity, Role, RoleError};

/// Addresses given on the command line instead of the reported ones, by machine.
pub type AddressOverrides = BTreeMap<String, Vec<IpNet>>;

/// What a machine knows about itself for `role::decide`: its name and its
/// addresses, as given on the command line or as it reports them
/// (interface order).
pub fn identity(
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
/// (`crate::role`), and reads an existing cluster through the initiator.
pub async fn collect(
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
        Ok(collect(
            preseed,
            crate::machine::sim_machines(dir)?,
            &AddressOverrides::new(),
        )
        .await?
        .0)
    })
}
