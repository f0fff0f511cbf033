//! MicroOVN's extension API, the [`MicroOvnApi`] trait and
//! [`MicroOvnClient`].
//!
//! The bootstrapper needs little from MicroOVN beyond the core microcluster
//! calls: the encapsulation (Geneve underlay) IP given at bootstrap and
//! join ([`init_config`]), and, for LXD without
//! `ovn_dynamic_northbound_connection`, the northbound connection string
//! built from where the `central` services run
//! ([`northbound_connection`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};

use crate::microceph::ServiceEntry;
use crate::microcluster::{
    ClusterMember, MicroclusterApi, MicroclusterClient, delegate_microcluster_api,
};
use crate::rest::RestClient;
use crate::{Error, Service, Transport};

/// The init configuration key for the encapsulation IP.
pub const ENCAP_IP_KEY: &str = "ovn-encap-ip";

/// The OVN northbound database port.
pub const NORTHBOUND_PORT: u16 = 6641;

/// The bootstrap/join `config` setting the encapsulation IP.
pub fn init_config(encap_ip: IpAddr) -> BTreeMap<String, String> {
    BTreeMap::from([(ENCAP_IP_KEY.to_owned(), encap_ip.to_string())])
}

/// `ssl:<ip>:6641,…` for every member running `central`, in the order
/// MicroOVN lists the services, without duplicates. Members are matched by
/// name to their microcluster address.
pub fn northbound_connection(
    services: &[ServiceEntry],
    members: &[ClusterMember],
) -> Result<String, Error> {
    let invalid = |reason: String| Error::InvalidInput {
        what: "MicroOVN northbound connection".to_owned(),
        reason,
    };
    let mut parts: Vec<String> = Vec::new();
    for service in services.iter().filter(|s| s.service == "central") {
        let member = members
            .iter()
            .find(|m| m.name == service.location)
            .ok_or_else(|| {
                invalid(format!(
                    "`central` runs on {:?}, which is not a MicroOVN cluster member",
                    service.location
                ))
            })?;
        let address: SocketAddr = member.address.parse().map_err(|_| {
            invalid(format!(
                "member {:?} has address {:?}, not ip:port",
                member.name, member.address
            ))
        })?;
        let part = format!("ssl:{}", SocketAddr::new(address.ip(), NORTHBOUND_PORT));
        if !parts.contains(&part) {
            parts.push(part);
        }
    }
    if parts.is_empty() {
        return Err(invalid("no member runs the `central` service".to_owned()));
    }
    Ok(parts.join(","))
}

/// The MicroOVN calls the bootstrapper makes, on top of the core ones.
pub trait MicroOvnApi: MicroclusterApi {
    /// `GET /1.0/services`: `[{service, location}]`.
    fn services(&self) -> impl Future<Output = Result<Vec<ServiceEntry>, Error>> + Send;
}

/// [`MicroOvnApi`] and [`MicroclusterApi`] over a [`Transport`].
#[derive(Debug, Clone)]
pub struct MicroOvnClient {
    core: MicroclusterClient,
}

impl MicroOvnClient {
    /// A client for the MicroOVN at `transport`, on the node `node`.
    pub fn new(transport: Transport, node: &str) -> Self {
        MicroOvnClient {
            core: MicroclusterClient::new(transport, Service::MicroOvn, node),
        }
    }

    /// A client from a configured [`RestClient`].
    pub fn from_rest(rest: RestClient) -> Self {
        MicroOvnClient {
            core: MicroclusterClient::from_rest(rest),
        }
    }

    /// The request layer.
    pub fn rest(&self) -> &RestClient {
        self.core.rest()
    }
}

delegate_microcluster_api!(MicroOvnClient);

impl MicroOvnApi for MicroOvnClient {
    async fn services(&self) -> Result<Vec<ServiceEntry>, Error> {
        self.rest()
            .get::<Option<Vec<ServiceEntry>>>("/1.0/services")
            .await
            .map(Option::unwrap_or_default)
    }
}
