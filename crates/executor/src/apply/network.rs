//! The network step of [`super::PlanRunner`] that is not a network's own:
//! pointing LXD at OVN (networks are defined and created by
//! [`super::member_defined`]).

use std::collections::BTreeMap;

use clients::lxd::{LxdApi, ServerPut};
use clients::microceph::MicroCephApi;
use clients::microovn::MicroOvnApi;
use planner::plan::Step;

use super::{ApplyError, NodeClients, PlanRunner, service_error};
use crate::run::Outcome;

impl<L, C, O> PlanRunner<L, C, O>
where
    L: LxdApi + 'static,
    C: MicroCephApi + 'static,
    O: MicroOvnApi + 'static,
{
    /// `Action::ConfigureOvnNorthbound`: LXD's
    /// `network.ovn.northbound_connection`, computed from MicroOVN's
    /// services and members.
    pub(super) async fn configure_ovn_northbound(
        &self,
        step: &Step,
        node: &NodeClients<L, C, O>,
    ) -> Result<Outcome, ApplyError> {
        let o = node.microovn.as_ref().ok_or_else(|| self.missing(step))?;
        let mut services = o
            .services()
            .await
            .map_err(service_error(step, "listing MicroOVN services"))?;
        // In member-name order, as the plan says: MicroOVN lists services
        // in join order, which differs from run to run.
        services.sort_by(|a, b| a.location.cmp(&b.location));
        let members = o
            .cluster_members()
            .await
            .map_err(service_error(step, "listing MicroOVN members"))?;
        let connection = clients::microovn::northbound_connection(&services, &members).map_err(
            service_error(step, "computing the OVN northbound connection"),
        )?;
        let key = "network.ovn.northbound_connection";
        let server = node
            .lxd
            .server(None)
            .await
            .map_err(service_error(step, "reading the server config"))?;
        if server.value.config.get(key).and_then(|v| v.as_str()) == Some(connection.as_str()) {
            return Ok(Outcome::AlreadyDone);
        }
        let config = BTreeMap::from([(key.to_owned(), connection)]);
        node.lxd
            .patch_server(&ServerPut { config }, None, None)
            .await
            .map_err(service_error(step, "pointing LXD at OVN"))?;
        Ok(Outcome::Changed)
    }
}
