//! Reads the cluster's state for the final report, through one member's
//! clients (the initiator's). Read-only.
//!
//! LXD: `GET /1.0/cluster` (clustered or not), `GET /1.0/cluster/members`,
//! then everything `collect::collect_cluster` reads (pools and networks
//! with each member's view, profiles, custom volumes; MicroCeph's OSDs,
//! pools and networks). MicroCeph and MicroOVN, when installed and
//! initialised: `GET /core/1.0` and `GET /core/1.0/cluster`.

use anyhow::{Context, Result};
use clients::lxd::LxdApi;
use clients::microceph::MicroCephApi;
use clients::microcluster::MicroclusterApi;
use clients::microovn::MicroOvnApi;
use executor::apply::PlanRunner;

use super::{ClusterState, Member, ServiceMember};

/// Reads the cluster's state through `lxd`, and `microceph` and `microovn`
/// when installed.
///
/// # Errors
/// The first call that fails, naming the service and the call.
pub async fn gather<L, C, O>(
    lxd: &L,
    microceph: Option<&C>,
    microovn: Option<&O>,
) -> Result<ClusterState>
where
    L: LxdApi,
    C: MicroCephApi,
    O: MicroOvnApi,
{
    let cluster = lxd
        .cluster()
        .await
        .context("cannot read whether LXD is clustered")?
        .value;
    let members: Vec<Member> = if cluster.enabled {
        lxd.cluster_members()
            .await
            .context("cannot read the LXD cluster members")?
            .into_iter()
            .map(|m| Member {
                name: m.server_name,
                url: m.url,
                roles: m.roles,
                status: m.status,
                message: m.message,
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut members = members;
    members.sort_by(|a, b| a.name.cmp(&b.name));
    let names: Vec<String> = members.iter().map(|m| m.name.clone()).collect();
    let microceph = match microceph {
        Some(c) => initialised(c, "MicroCeph").await?.then_some(c),
        None => None,
    };
    let microovn = match microovn {
        Some(c) => initialised(c, "MicroOVN").await?.then_some(c),
        None => None,
    };
    let state = collect::collect_cluster(lxd, microceph, &names)
        .await
        .context("cannot read the cluster's pools, networks, profiles and OSDs")?;
    Ok(ClusterState {
        members,
        microceph: match microceph {
            Some(c) => Some(service_members(c, "MicroCeph").await?),
            None => None,
        },
        microovn: match microovn {
            Some(c) => Some(service_members(c, "MicroOVN").await?),
            None => None,
        },
        lxd: state.lxd,
        ceph: state.microceph,
    })
}

/// Reads the cluster's state through the clients of the plan's
/// initiator; the error is the whole cause chain, for the report.
pub async fn gather_through<L, C, O>(runner: &PlanRunner<L, C, O>) -> Result<ClusterState, String>
where
    L: LxdApi + 'static,
    C: MicroCephApi + 'static,
    O: MicroOvnApi + 'static,
{
    let initiator = &runner.plan().initiator;
    let Some(clients) = runner.clients(initiator) else {
        return Err(format!("no clients for the initiator {initiator}"));
    };
    gather(
        &clients.lxd,
        clients.microceph.as_ref(),
        clients.microovn.as_ref(),
    )
    .await
    .map_err(|e| format!("{e:#}"))
}

async fn initialised<M: MicroclusterApi>(client: &M, service: &str) -> Result<bool> {
    Ok(client
        .server_info()
        .await
        .with_context(|| format!("cannot read whether {service} is initialised"))?
        .ready)
}

async fn service_members<M: MicroclusterApi>(
    client: &M,
    service: &str,
) -> Result<Vec<ServiceMember>> {
    let mut members: Vec<ServiceMember> = client
        .cluster_members()
        .await
        .with_context(|| format!("cannot read the {service} cluster members"))?
        .into_iter()
        .map(|m| ServiceMember {
            name: m.name,
            address: m.address,
            role: m.role,
            status: m.status,
        })
        .collect();
    members.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(members)
}
