//! The bootstrap phase: the initiator bootstraps MicroCeph and MicroOVN,
//! then LXD (its settings first).

use std::collections::BTreeMap;

use super::{Ctx, config, id_at, new_step, sock};
use crate::plan::build::Notes;
use crate::plan::{Action, Phase, Service, Step};

impl Ctx<'_> {
    /// The bootstrap steps (bootstrap mode only).
    pub(super) fn bootstrap_steps(&self, steps: &mut Vec<Step>, n: &mut Notes) {
        let init = self.init_name().to_owned();
        for svc in [Service::MicroCeph, Service::MicroOvn] {
            if !self.uses(svc) {
                continue;
            }
            let mut cfg = BTreeMap::new();
            if svc == Service::MicroCeph
                && let Some((public, internal)) = self.ceph_networks
            {
                cfg.insert("ClusterNet".to_owned(), internal.to_string());
                cfg.insert("PublicNet".to_owned(), public.to_string());
            }
            if svc == Service::MicroOvn
                && let Some(ip) = self.underlay(&init)
            {
                cfg.insert("ovn-encap-ip".to_owned(), ip.to_string());
            }
            steps.push(
                new_step(
                    id_at(&[svc.id_prefix(), ".bootstrap"], &init),
                    Phase::Bootstrap,
                    Action::BootstrapMicrocluster {
                        name: init.clone(),
                        address: sock(self.init.address, svc),
                        config: cfg,
                    },
                )
                .on(svc, &init)
                .done_if(self.joined_why(svc, &init))
                .build(),
            );
        }
        let cluster_address = sock(self.init.address, Service::Lxd).to_string();
        let mut cfg = config([
            ("core.https_address", "[::]:8443"),
            ("cluster.https_address", cluster_address.as_str()),
            ("user.microcloud", env!("CARGO_PKG_VERSION")),
        ]);
        if self.lxd_ext("instances_migration_stateful") {
            cfg.insert("instances.migration.stateful".into(), "true".into());
        } else {
            n.decide(
                "LXD instances.migration.stateful",
                "not set",
                format!("LXD on {init} lacks the API extension instances_migration_stateful"),
            );
        }
        let done = self.config_done(&init, &cfg);
        steps.push(
            new_step(
                id_at(&["lxd.config.bootstrap"], &init),
                Phase::Bootstrap,
                Action::SetServerConfig { config: cfg },
            )
            .on(Service::Lxd, &init)
            .done_if(done)
            .build(),
        );
        steps.push(
            new_step(
                id_at(&["lxd.bootstrap"], &init),
                Phase::Bootstrap,
                Action::BootstrapLxd {
                    server_name: init.clone(),
                },
            )
            .on(Service::Lxd, &init)
            .after(vec![id_at(&["lxd.config.bootstrap"], &init)])
            .done_if(self.joined_why(Service::Lxd, &init))
            .build(),
        );
    }
}
