//! The MicroCeph steps of [`super::PlanRunner`]: OSDs and replication.

use clients::lxd::LxdApi;
use clients::microceph::{DisksPost, MicroCephApi, PoolPut};
use clients::microovn::MicroOvnApi;
use planner::plan::Step;

use super::{ApplyError, NodeClients, PlanRunner, service_error};
use crate::run::Outcome;
use crate::wipe;

impl<L, C, O> PlanRunner<L, C, O>
where
    L: LxdApi + 'static,
    C: MicroCephApi + 'static,
    O: MicroOvnApi + 'static,
{
    /// `Action::AddCephDisk`.
    pub(super) async fn add_ceph_disk(
        &self,
        step: &Step,
        node: &NodeClients<L, C, O>,
        path: &str,
        wipe: bool,
        encrypt: bool,
    ) -> Result<Outcome, ApplyError> {
        let target = step.target.as_deref();
        let c = node.microceph.as_ref().ok_or_else(|| self.missing(step))?;
        let disks = c
            .disks()
            .await
            .map_err(service_error(step, "listing OSDs"))?;
        let member = step.member();
        if disks
            .iter()
            .any(|d| d.path == path && (d.location.is_empty() || d.location == member))
        {
            return Ok(Outcome::AlreadyDone);
        }
        self.check_wipes(step, wipe::Scope::Unused).await?;
        let body = DisksPost {
            path: vec![path.to_owned()],
            wipe,
            encrypt,
            ..DisksPost::default()
        };
        c.add_disks(&body, target)
            .await
            .map_err(service_error(step, format!("adding disk {path}")))?;
        Ok(Outcome::Changed)
    }

    /// `Action::SetReplication`.
    pub(super) async fn set_replication(
        &self,
        step: &Step,
        node: &NodeClients<L, C, O>,
        size: u32,
        pools: &[String],
    ) -> Result<Outcome, ApplyError> {
        let c = node.microceph.as_ref().ok_or_else(|| self.missing(step))?;
        let wanted = i64::from(size);
        // The state is read from the pools alone: MicroCeph never reports
        // `osd_pool_default_size` (it is not in its config table,
        // `GetConstConfigTable` in microceph/ceph/config.go, every version;
        // asking for it is a 500 "requested key osd_pool_default_size is
        // not a MicroCeph supported cluster config" on squid and later).
        // `GET /1.0/pools` exists from v19.2.0+squid on
        // (microceph/api/pool.go); reef (v18.2.4) serves only `PUT
        // /1.0/pools-op` and answers 404, so there the default is set
        // without reading anything first (setting it again is harmless).
        let existing = match c.pools(None).await {
            Ok(existing) => existing,
            Err(e) if e.status() == Some(404) => Vec::new(),
            Err(e) => return Err(service_error(step, "listing Ceph pools")(e)),
        };
        let smaller: Vec<String> = existing
            .iter()
            .filter(|p| pools.contains(&p.pool) && p.size < wanted)
            .map(|p| p.pool.clone())
            .collect();
        // The default is not reported; `lxd_remote`, created by LXD after
        // this step, inherits it and shows it.
        let default_ok = existing
            .iter()
            .any(|p| p.pool == "lxd_remote" && p.size == wanted);
        if smaller.is_empty() && default_ok {
            return Ok(Outcome::AlreadyDone);
        }
        // An empty pool name sets the default for new pools.
        let mut names = vec![String::new()];
        names.extend(smaller);
        c.set_pool_replication(
            &PoolPut {
                pools: names,
                size: wanted,
            },
            None,
        )
        .await
        .map_err(service_error(
            step,
            format!("setting replication to {size}"),
        ))?;
        Ok(Outcome::Changed)
    }
}
