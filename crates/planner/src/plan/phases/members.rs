//! The members phase: each member's `local/images` and `local/backups`
//! volumes and the storage settings that use them.

use std::collections::BTreeSet;

use super::{Ctx, config, id, id_at, new_step};
use crate::plan::{Action, Phase, Service, Step};

impl Ctx<'_> {
    /// The volumes and storage settings of `local_members`.
    pub(super) fn member_steps(&self, steps: &mut Vec<Step>, local_members: &[String]) {
        let init = self.init_name().to_owned();
        // Existing volumes of the `local` pool, as (volume, member), looked
        // up once per member and volume.
        let local_volumes: BTreeSet<(&str, &str)> = self
            .cluster
            .lxd
            .volumes
            .iter()
            .filter(|v| v.pool == "local")
            .map(|v| (v.name.as_str(), v.member.as_str()))
            .collect();
        for m in local_members {
            let mut vol_ids = Vec::new();
            for vol in ["images", "backups"] {
                let sid = id_at(&["lxd.volume.local/", vol], m);
                let dep = if self.bootstrap {
                    id("lxd.pool.local")
                } else {
                    self.lxd_ready(m)
                };
                let done = local_volumes
                    .contains(&(vol, m.as_str()))
                    .then(|| format!("volume local/{vol} already exists on {m}"));
                steps.push(
                    new_step(
                        sid.clone(),
                        Phase::Members,
                        Action::CreateVolume {
                            pool: "local".into(),
                            name: vol.into(),
                        },
                    )
                    .on(Service::Lxd, &init)
                    .target(m)
                    .after(vec![dep])
                    .done_if(done)
                    .build(),
                );
                vol_ids.push(sid);
            }
            let cfg = config([
                ("storage.backups_volume", "local/backups"),
                ("storage.images_volume", "local/images"),
            ]);
            let done = self.config_done(m, &cfg);
            steps.push(
                new_step(
                    id_at(&["lxd.config.storage"], m),
                    Phase::Members,
                    Action::SetServerConfig { config: cfg },
                )
                .on(Service::Lxd, &init)
                .target(m)
                .after(vol_ids)
                .done_if(done)
                .build(),
            );
        }
    }
}
