//! The profile phase: the default profile's `eth0` and `root` devices.

use std::collections::BTreeMap;

use super::resources::Resources;
use super::{Ctx, config, id, new_step};
use crate::plan::build::Notes;
use crate::plan::{Action, Phase, Service, Step};

impl Ctx<'_> {
    /// The default profile (bootstrap mode only).
    pub(super) fn profile_steps(
        &self,
        steps: &mut Vec<Step>,
        n: &mut Notes,
        resources: &Resources,
    ) {
        let init = self.init_name().to_owned();
        let (eth0, root_pool) = (&resources.eth0, &resources.root_pool);
        let mut devices = BTreeMap::new();
        let mut deps = Vec::new();
        if let Some((net, sid)) = &eth0 {
            devices.insert(
                "eth0".to_owned(),
                config([("name", "eth0"), ("network", net), ("type", "nic")]),
            );
            deps.push(sid.clone());
        }
        if let Some((pool, sid)) = &root_pool {
            devices.insert(
                "root".to_owned(),
                config([("path", "/"), ("pool", pool), ("type", "disk")]),
            );
            deps.push(sid.clone());
        }
        if !devices.is_empty() {
            let existing = self.cluster.lxd.profile("default");
            let done = existing
                .filter(|p| devices.iter().all(|(k, v)| p.devices.get(k) == Some(v)))
                .map(|_| "the default profile already has these devices".to_owned());
            if let Some(p) = existing
                && done.is_none()
            {
                for k in devices.keys() {
                    if let Some(old) = p.devices.get(k) {
                        n.decide(
                            format!("default profile device {k}"),
                            "replaced",
                            format!(
                                "the existing {k} device ({}) differs from the planned one",
                                render_map(old)
                            ),
                        );
                    }
                }
            }
            steps.push(
                new_step(
                    id("lxd.profile.default"),
                    Phase::Profile,
                    Action::EnsureProfile {
                        name: "default".into(),
                        devices,
                    },
                )
                .on(Service::Lxd, &init)
                .after(deps)
                .done_if(done)
                .build(),
            );
        }
    }
}

fn render_map(map: &BTreeMap<String, String>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}
