//! Human rendering of a plan: decisions, disk selection (what each filter
//! matched and why other disks were excluded), the steps grouped by phase
//! and node, and the critical path.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::plan::{Action, DiskSource, Plan, Role, SelectedDisk, Status, Step, TokenField};

impl Plan {
    /// A readable, deterministic description of the plan.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let mode = match self.mode {
            crate::PlanMode::Bootstrap => "form a new cluster",
            crate::PlanMode::Add => "add systems to an existing cluster",
        };
        let _ = writeln!(out, "Plan: {mode} (initiator {})", self.initiator);
        let systems: Vec<String> = self
            .systems
            .iter()
            .map(|s| {
                let role = match s.role {
                    Role::Initiator => "initiator",
                    Role::Joiner => "joins",
                };
                format!("{} ({}, {role})", s.name, s.address)
            })
            .collect();
        let _ = writeln!(out, "Systems: {}", systems.join(", "));
        let services: Vec<&str> = self.services.iter().map(|s| s.name()).collect();
        let _ = writeln!(out, "Services: {}", services.join(", "));

        if !self.decisions.is_empty() {
            let _ = writeln!(out, "\nDecisions:");
            for d in &self.decisions {
                let _ = writeln!(out, "  - {}: {} ({})", d.subject, d.choice, d.reason);
            }
        }
        if !self.warnings.is_empty() {
            let _ = writeln!(out, "\nWarnings:");
            for w in &self.warnings {
                let _ = writeln!(out, "  - {w}");
            }
        }
        self.render_disks(&mut out);
        self.render_steps(&mut out);
        out
    }

    fn render_disks(&self, out: &mut String) {
        let any = self
            .disks
            .systems
            .iter()
            .any(|s| s.local.is_some() || !s.ceph.is_empty() || !s.excluded.is_empty())
            || !self.disks.filters.is_empty();
        if !any {
            return;
        }
        let _ = writeln!(out, "\nDisks:");
        for s in &self.disks.systems {
            if s.local.is_none() && s.ceph.is_empty() && s.excluded.is_empty() {
                continue;
            }
            let _ = writeln!(out, "  {}:", s.system);
            if let Some(d) = &s.local {
                let _ = writeln!(out, "    local: {}", disk_line(d));
            }
            for d in &s.ceph {
                let _ = writeln!(out, "    ceph:  {}", disk_line(d));
            }
            // One line per (disk, reason), naming the filter kinds.
            let mut lines: Vec<(&str, &str, Vec<&str>)> = Vec::new();
            for e in &s.excluded {
                match lines
                    .iter_mut()
                    .find(|(d, r, _)| *d == e.disk && *r == e.reason)
                {
                    Some((_, _, kinds)) => kinds.push(&e.kind),
                    None => lines.push((&e.disk, &e.reason, vec![&e.kind])),
                }
            }
            for (disk, reason, kinds) in lines {
                let _ = writeln!(
                    out,
                    "    not offered to {} filters: {disk} {reason}",
                    kinds.join(" or ")
                );
            }
        }
        for f in &self.disks.filters {
            let max = f
                .find_max
                .map_or_else(String::new, |m| format!(", find_max {m}"));
            let _ = writeln!(
                out,
                "  filter {} \"{}\": {} {} (find_min {}{max})",
                f.filter, f.find, f.count, f.counts, f.find_min
            );
            for m in &f.matched {
                let took = if m.disks.is_empty() {
                    "nothing".to_owned()
                } else {
                    m.disks.join(", ")
                };
                let _ = writeln!(out, "    {}: {took}", m.system);
                for s in &m.skipped {
                    let _ = writeln!(out, "      also matched {s}");
                }
            }
        }
    }

    fn render_steps(&self, out: &mut String) {
        let done = self.steps.iter().filter(|s| s.status.is_done()).count();
        let _ = writeln!(
            out,
            "\nSteps ({} in all, {done} already done):",
            self.steps.len()
        );
        let number: BTreeMap<&str, usize> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), i + 1))
            .collect();
        let mut phase = None;
        let mut node: Option<&str> = None;
        for (i, step) in self.steps.iter().enumerate() {
            if phase != Some(step.phase) {
                phase = Some(step.phase);
                node = None;
                let _ = writeln!(out, "  [{}]", step.phase.title());
            }
            if node != Some(step.node.as_str()) {
                node = Some(step.node.as_str());
                let _ = writeln!(out, "    on {}:", step.node);
            }
            let mark = match &step.status {
                Status::ToDo => "   ",
                Status::AlreadyDone { .. } => "(=)",
            };
            let _ = writeln!(out, "      {:>3}. {mark} {}", i + 1, step.id);
            let _ = writeln!(out, "            {}", summary(step));
            if !step.depends_on.is_empty() {
                let deps: Vec<String> = step
                    .depends_on
                    .iter()
                    .map(|d| {
                        number
                            .get(d.as_str())
                            .map_or(d.to_string(), |n| n.to_string())
                    })
                    .collect();
                let _ = writeln!(out, "            after: {}", deps.join(", "));
            }
            if let Some(g) = &step.serial_group {
                let _ = writeln!(out, "            one at a time: {g}");
            }
            if let Status::AlreadyDone { why } = &step.status {
                let _ = writeln!(out, "            already done: {why}");
            }
        }
        let path = self.critical_path();
        let _ = writeln!(out, "\nCritical path ({} steps):", path.len());
        for id in &path {
            let _ = writeln!(out, "  {id}");
        }
    }
}

fn disk_line(d: &SelectedDisk) -> String {
    let mut parts = Vec::new();
    match &d.source {
        DiskSource::Direct => parts.push("given by path".to_owned()),
        DiskSource::Filter { filter } => parts.push(format!("from {filter}")),
    }
    if let Some(id) = &d.disk {
        parts.push(format!("disk {id}"));
    }
    if d.wipe {
        parts.push("wipe".into());
    }
    if d.encrypt {
        parts.push("encrypt".into());
    }
    if let Some(a) = &d.already {
        parts.push(format!("already {a}"));
    }
    format!("{} ({})", d.path, parts.join(", "))
}

fn kv(map: &BTreeMap<String, String>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn with(map: &BTreeMap<String, String>) -> String {
    if map.is_empty() {
        String::new()
    } else {
        format!(": {}", kv(map))
    }
}

/// One line saying what `step` does, as in the rendered plan.
pub fn summary(step: &Step) -> String {
    let on = step
        .target
        .as_deref()
        .map_or_else(String::new, |t| format!(" on {t}"));
    match &step.action {
        Action::BootstrapMicrocluster {
            address, config, ..
        } => {
            format!("bootstrap {} at {address}{}", step.service, with(config))
        }
        Action::BootstrapLxd { server_name } => {
            format!("enable LXD clustering as {server_name}")
        }
        Action::SetServerConfig { config } => format!("set LXD server config{on}{}", with(config)),
        Action::IssueToken { joiner, .. } => {
            let article = if step.service == crate::Service::Lxd {
                "an"
            } else {
                "a"
            };
            format!("issue {article} {} join token for {joiner}", step.service)
        }
        Action::JoinMicrocluster {
            address,
            token_from,
            config,
            ..
        } => format!(
            "join {} at {address} with the token of {token_from}{}",
            step.service,
            with(config)
        ),
        Action::JoinLxd {
            server_address,
            cluster_address,
            token_from,
            token_field,
            member_config,
            ..
        } => {
            let field = match token_field {
                TokenField::ClusterToken => "cluster_token",
                TokenField::ClusterPassword => "cluster_password",
            };
            let mut s = format!(
                "join LXD at {server_address} via {cluster_address} with the token of {token_from} (as {field})"
            );
            if !member_config.is_empty() {
                let list: Vec<String> = member_config
                    .iter()
                    .map(|k| format!("{} {} {}={}", k.entity, k.name, k.key, k.value))
                    .collect();
                let _ = write!(s, "; member config: {}", list.join(", "));
            }
            s
        }
        Action::AwaitLxdMembers { members } => {
            format!("check that LXD lists all {} members", members.len())
        }
        Action::AddCephDisk {
            path,
            wipe,
            encrypt,
        } => {
            let mut flags = Vec::new();
            if *wipe {
                flags.push("wipe");
            }
            if *encrypt {
                flags.push("encrypt");
            }
            let flags = if flags.is_empty() {
                String::new()
            } else {
                format!(" ({})", flags.join(", "))
            };
            format!("add OSD {path}{flags}")
        }
        Action::SetReplication { size, pools } => format!(
            "set Ceph replication size {size} (default, and pools {} if smaller)",
            pools.join(", ")
        ),
        Action::ConfigureOvnNorthbound { port } => format!(
            "set network.ovn.northbound_connection to ssl:<address>:{port} of each MicroOVN central member"
        ),
        Action::CreatePendingPool {
            name,
            driver,
            config,
        } => format!("define storage pool {name} ({driver}){on}{}", with(config)),
        Action::CreatePool {
            name,
            driver,
            description,
            config,
        } => format!(
            "create storage pool {name} ({driver}, \"{description}\"){}",
            with(config)
        ),
        Action::CreatePendingNetwork {
            name,
            network_type,
            config,
        } => format!("define network {name} ({network_type}){on}{}", with(config)),
        Action::CreateNetwork {
            name,
            network_type,
            description,
            config,
        } => format!(
            "create network {name} ({network_type}, \"{description}\"){}",
            with(config)
        ),
        Action::EnsureProfile { name, devices } => {
            let list: Vec<String> = devices
                .iter()
                .map(|(d, c)| format!("{d} {{{}}}", kv(c)))
                .collect();
            format!("profile {name} gets devices {}", list.join(", "))
        }
        Action::CreateVolume { pool, name } => {
            format!("create custom volume {pool}/{name}{on}")
        }
    }
}
