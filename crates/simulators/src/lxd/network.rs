//! Networks: unmanaged interfaces from the inventory plus managed
//! networks with the same pending/created rules as storage pools.
//!
//! `physical` and `bridge` (and `macvlan`) support `?target=` member
//! definitions; `ovn` does not (`Network type "ovn" does not support member
//! specific config`) and is created once, on every member. An `ovn`
//! network needs an uplink network that exists and is `Created`, and an
//! OVN northbound database: `network.ovn.northbound_connection` must list
//! an `ssl:`/`tcp:` endpoint on a node running the MicroOVN `central`
//! service, or (LXD with `ovn_dynamic_northbound_connection`, key unset)
//! MicroOVN must be initialised on the node. A `physical` network's
//! `parent` must be an interface in the member's inventory.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;

use super::db::{MemberRow, Net, State};
use super::{LxdProfile, LxdService};
use crate::http::{ApiError, Config, Reply, Request};
use crate::server::BoxFuture;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub(super) struct NetworksPost {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    config: Config,
    description: String,
}

fn network_keys(kind: &str) -> Option<Vec<&'static str>> {
    let common_ip = [
        "ipv4.address",
        "ipv4.nat",
        "ipv4.nat.address",
        "ipv4.nat.order",
        "ipv4.dhcp",
        "ipv4.dhcp.ranges",
        "ipv4.dhcp.gateway",
        "ipv4.dhcp.expiry",
        "ipv4.firewall",
        "ipv4.routing",
        "ipv4.routes",
        "ipv6.address",
        "ipv6.nat",
        "ipv6.nat.address",
        "ipv6.nat.order",
        "ipv6.dhcp",
        "ipv6.dhcp.ranges",
        "ipv6.dhcp.stateful",
        "ipv6.dhcp.expiry",
        "ipv6.firewall",
        "ipv6.routing",
        "ipv6.routes",
        "dns.domain",
        "dns.mode",
        "dns.search",
        "dns.zone.forward",
        "dns.zone.reverse.ipv4",
        "dns.zone.reverse.ipv6",
        "security.acls",
        "security.acls.default.ingress.action",
        "security.acls.default.egress.action",
    ];
    Some(match kind {
        "bridge" => {
            let mut k = common_ip.to_vec();
            k.extend([
                "bridge.driver",
                "bridge.external_interfaces",
                "bridge.hwaddr",
                "bridge.mode",
                "bridge.mtu",
                "fan.overlay_subnet",
                "fan.type",
                "fan.underlay_subnet",
                "raw.dnsmasq",
                "ipv4.ovn.ranges",
                "ipv6.ovn.ranges",
                "tunnel.*",
                "bgp.peers.*",
                "bgp.ipv4.nexthop",
                "bgp.ipv6.nexthop",
                "dns.nameservers",
            ]);
            k
        }
        "physical" => vec![
            "parent",
            "mtu",
            "vlan",
            "gvrp",
            "maas.subnet.ipv4",
            "maas.subnet.ipv6",
            "ipv4.gateway",
            "ipv6.gateway",
            "ipv4.ovn.ranges",
            "ipv6.ovn.ranges",
            "ipv4.routes",
            "ipv6.routes",
            "ipv4.routes.anycast",
            "ipv6.routes.anycast",
            "dns.nameservers",
            "dns.search",
            "ovn.ingress_mode",
            "bgp.peers.*",
            "bgp.ipv4.nexthop",
            "bgp.ipv6.nexthop",
            "ipv4.gateway.hwaddr",
            "ipv6.gateway.hwaddr",
        ],
        "ovn" => {
            let mut k = common_ip.to_vec();
            k.extend([
                "network",
                "bridge.hwaddr",
                "bridge.mtu",
                "ipv4.l3only",
                "ipv6.l3only",
                "dns.nameservers",
                "ipv4.dhcp.routes",
                "ipv6.dhcp.routes",
            ]);
            k
        }
        "macvlan" | "sriov" => vec![
            "parent",
            "mtu",
            "vlan",
            "gvrp",
            "maas.subnet.ipv4",
            "maas.subnet.ipv6",
        ],
        _ => return None,
    })
}

/// Member-specific keys `GET /1.0/cluster` asks a joiner for.
pub(super) fn member_config_keys(kind: &str) -> Vec<&'static str> {
    match kind {
        "physical" | "macvlan" | "sriov" => vec!["parent"],
        "bridge" => vec!["bridge.external_interfaces"],
        _ => vec![],
    }
}

fn check_keys(name: &str, kind: &str, config: &Config) -> Result<(), ApiError> {
    let keys = network_keys(kind).ok_or_else(|| ApiError::bad_request("Unknown driver"))?;
    for k in config.keys() {
        if k.starts_with("user.") || k.starts_with("volatile.") {
            continue;
        }
        let ok = keys.iter().any(|pat| match pat.strip_suffix('*') {
            Some(prefix) => k.starts_with(prefix),
            None => k == pat,
        });
        if !ok {
            return Err(ApiError::internal(format!(
                "Invalid option for network {name:?} option {k:?}"
            )));
        }
    }
    Ok(())
}

impl LxdService {
    fn net_member_keys(&self) -> Vec<&'static str> {
        self.b.member_specific_network_keys()
    }

    pub(super) fn networks_get(&self, req: &Request) -> Reply {
        let managed = self.with_db(|db| db.networks.clone()).unwrap_or_default();
        let clustered = self.clustered();
        let me = self.member_name();
        let keys = self.net_member_keys();
        let with_project = self.b.profile == LxdProfile::Current;
        let mut urls = Vec::new();
        let mut objs = Vec::new();
        for n in managed.values() {
            urls.push(format!("/1.0/networks/{}", n.name));
            let view = if clustered && req.target().is_none() {
                None
            } else {
                Some(me.as_str())
            };
            objs.push(n.to_json(view, &keys, with_project));
        }
        for i in &self.inventory.get().interfaces {
            if managed.contains_key(&i.name) {
                continue;
            }
            urls.push(format!("/1.0/networks/{}", i.name));
            objs.push(self.unmanaged_json(&i.name, &i.kind));
        }
        if req.recursion() == 0 {
            Reply::sync(urls)
        } else {
            Reply::sync(objs)
        }
    }

    fn unmanaged_json(&self, name: &str, kind: &str) -> serde_json::Value {
        let mut v = json!({
            "config": {},
            "description": "",
            "name": name,
            "type": kind,
            "used_by": serde_json::Value::Null,
            "managed": false,
            "status": "",
            "locations": serde_json::Value::Null,
        });
        if self.b.profile == LxdProfile::Current
            && let Some(o) = v.as_object_mut()
        {
            o.insert("project".into(), "default".into());
        }
        v
    }

    pub(super) fn network_get(&self, req: &Request, name: &str) -> Reply {
        let managed = self
            .with_db(|db| db.networks.get(name).cloned())
            .ok()
            .flatten();
        if let Some(n) = managed {
            let clustered = self.clustered();
            let me = self.member_name();
            let view = if clustered && req.target().is_none() {
                None
            } else {
                Some(me.as_str())
            };
            let v = n.to_json(
                view,
                &self.net_member_keys(),
                self.b.profile == LxdProfile::Current,
            );
            let etag = crate::tls::fingerprint(v.to_string().as_bytes());
            return Reply::sync(v).with_etag(etag);
        }
        match self.inventory.get().interface(name) {
            Some(i) => Reply::sync(self.unmanaged_json(&i.name, &i.kind)),
            None => Reply::error(404, "Network not found"),
        }
    }

    pub(super) fn network_state(&self, name: &str) -> Reply {
        let inventory = self.inventory.get();
        let Some(i) = inventory.interface(name) else {
            let managed = self
                .with_db(|db| db.networks.get(name).cloned())
                .ok()
                .flatten();
            return match managed {
                Some(n) => Reply::sync(json!({
                    "addresses": [], "counters": {"bytes_received": 0, "bytes_sent": 0, "packets_received": 0, "packets_sent": 0},
                    "hwaddr": "", "mtu": 1500, "state": "up", "type": "broadcast",
                    "bond": null, "bridge": null, "vlan": null,
                    "ovn": if n.kind == "ovn" { json!({"chassis": self.ctl.name}) } else { serde_json::Value::Null },
                })),
                None => Reply::error(404, "Network not found"),
            };
        };
        Reply::sync(json!({
            "addresses": i.addresses,
            "counters": {"bytes_received": 0, "bytes_sent": 0, "packets_received": 0, "packets_sent": 0},
            "hwaddr": i.hwaddr,
            "mtu": i.mtu,
            "state": i.state,
            "type": i.link_type,
            "bond": null,
            "bridge": null,
            "vlan": null,
            "ovn": null,
        }))
    }

    pub(super) async fn networks_post(self: &Arc<Self>, req: &Request) -> Reply {
        let body: NetworksPost = match req.json("api.NetworksPost") {
            Ok(b) => b,
            Err(e) => return e.into(),
        };
        if body.name.is_empty() {
            return Reply::error(400, "No name provided");
        }
        if body.name.contains('/') {
            return Reply::error(400, "Network names may not contain slashes");
        }
        let kind = if body.kind.is_empty() {
            "bridge".to_string()
        } else {
            body.kind.clone()
        };
        let body = NetworksPost {
            kind: kind.clone(),
            ..body
        };
        if self.is_notification(req) {
            return match self.network_create_local(&body.name) {
                Ok(()) => Reply::empty(),
                Err(e) => e.into(),
            };
        }
        if network_keys(&kind).is_none() {
            return Reply::error(400, "Unknown driver");
        }
        let location = Some(format!("/1.0/networks/{}", body.name));
        let resources = json!({"networks": [format!("/1.0/networks/{}", body.name)]});
        let work = self.timings.network_create;
        if let Some(target) = req.target() {
            if kind == "ovn" {
                return Reply::error(
                    400,
                    "Network type \"ovn\" does not support member specific config",
                );
            }
            let member_keys = self.net_member_keys();
            for k in body.config.keys() {
                if !member_keys.contains(&k.as_str()) {
                    return Reply::error(
                        400,
                        format!("Config key {k:?} may not be used as member-specific key"),
                    );
                }
            }
            let target = target.to_string();
            if !self
                .with_db(|db| db.member(&target).is_some())
                .unwrap_or(false)
            {
                return Reply::error(404, "Cluster member not found");
            }
            let this = self.clone();
            let action: BoxFuture<Result<(), ApiError>> =
                Box::pin(async move { this.network_define_pending(&body, &target) });
            return self
                .run(
                    self.b.async_storage_network(),
                    "Creating network",
                    resources,
                    work / 4,
                    location,
                    action,
                )
                .await;
        }
        let this = self.clone();
        let action: BoxFuture<Result<(), ApiError>> =
            Box::pin(async move { this.network_create(body).await });
        self.run(
            self.b.async_storage_network(),
            "Creating network",
            resources,
            work,
            location,
            action,
        )
        .await
    }

    fn network_define_pending(&self, body: &NetworksPost, target: &str) -> Result<(), ApiError> {
        self.with_db(|db| {
            match db.networks.get_mut(&body.name) {
                Some(n) => {
                    if n.state == State::Created {
                        return Err(ApiError::bad_request("The network already exists"));
                    }
                    if n.members.contains_key(target) {
                        return Err(ApiError::bad_request(format!(
                            "The network is already defined on member {target:?}"
                        )));
                    }
                    n.members.insert(
                        target.to_string(),
                        MemberRow {
                            config: body.config.clone(),
                            state: State::Pending,
                        },
                    );
                }
                None => {
                    let mut members = std::collections::BTreeMap::new();
                    members.insert(
                        target.to_string(),
                        MemberRow {
                            config: body.config.clone(),
                            state: State::Pending,
                        },
                    );
                    db.networks.insert(
                        body.name.clone(),
                        Net {
                            name: body.name.clone(),
                            kind: body.kind.clone(),
                            description: body.description.clone(),
                            config: Config::new(),
                            state: State::Pending,
                            members,
                        },
                    );
                }
            }
            Ok(())
        })?
    }

    async fn network_create(self: Arc<Self>, body: NetworksPost) -> Result<(), ApiError> {
        let member_keys = self.net_member_keys();
        let (existing, members) =
            self.with_db(|db| (db.networks.get(&body.name).cloned(), db.members.clone()))?;
        let clustered = !members.is_empty();
        check_keys(&body.name, &body.kind, &body.config)?;
        if body.kind == "ovn" {
            self.check_ovn(&body)?;
        }
        let me = self.member_name();
        if existing.is_none() && (!clustered || body.kind == "ovn") {
            if existing.is_some() {
                return Err(ApiError::new(409, "The network already exists"));
            }
            // Single-node create, or OVN (created on every member at once).
            let (member_cfg, global): (Config, Config) = body
                .config
                .clone()
                .into_iter()
                .partition(|(k, _)| member_keys.contains(&k.as_str()));
            let names = self.with_db(|db| db.member_names())?;
            self.with_db(|db| {
                let members = names
                    .iter()
                    .map(|m| {
                        (
                            m.clone(),
                            MemberRow {
                                config: member_cfg.clone(),
                                state: State::Created,
                            },
                        )
                    })
                    .collect();
                db.networks.insert(
                    body.name.clone(),
                    Net {
                        name: body.name.clone(),
                        kind: body.kind.clone(),
                        description: body.description.clone(),
                        config: global,
                        state: State::Pending,
                        members,
                    },
                );
            })?;
            let r = self.network_create_local(&body.name);
            self.with_db(|db| match &r {
                Ok(()) => {
                    if let Some(n) = db.networks.get_mut(&body.name) {
                        n.state = State::Created;
                    }
                }
                Err(_) => {
                    db.networks.remove(&body.name);
                }
            })?;
            return r;
        }
        for k in body.config.keys() {
            if member_keys.contains(&k.as_str()) {
                return Err(ApiError::internal(format!(
                    "Config key {k:?} is cluster member specific"
                )));
            }
        }
        let Some(net) = existing else {
            return Err(ApiError::internal(
                "Network not pending on any node (use --target <node> first)",
            ));
        };
        if net.state == State::Created {
            return Err(ApiError::new(409, "The network is already created"));
        }
        if net.kind != body.kind {
            return Err(ApiError::internal(format!(
                "Requested network type {:?} doesn't match type in existing database record {:?}",
                body.kind, net.kind
            )));
        }
        let partially = net.state == State::Errored || !net.config.is_empty();
        if partially {
            if !body.config.is_empty() {
                return Err(ApiError::internal(
                    "Network already partially created. Please do not specify any global config when re-running create",
                ));
            }
        } else {
            let names = self.with_db(|db| db.member_names())?;
            let missing: Vec<String> = names
                .into_iter()
                .filter(|m| !net.members.contains_key(m))
                .collect();
            if !missing.is_empty() {
                let legacy = self.b.profile == LxdProfile::Legacy;
                return Err(ApiError::internal(if legacy {
                    format!("Network not defined on nodes: {}", missing.join(", "))
                } else {
                    format!(
                        "Network not defined on cluster members: {}",
                        missing.join(", ")
                    )
                }));
            }
            self.with_db(|db| {
                if let Some(n) = db.networks.get_mut(&body.name) {
                    n.config = body.config.clone();
                    n.state = State::Errored;
                    if !body.description.is_empty() {
                        n.description = body.description.clone();
                    }
                }
            })?;
        }
        let rows = self.with_db(|db| {
            db.networks
                .get(&body.name)
                .map(|n| n.members.clone())
                .unwrap_or_default()
        })?;
        let global = self
            .with_db(|db| db.networks.get(&body.name).map(|n| n.config.clone()))?
            .unwrap_or_default();
        if rows.get(&me).is_none_or(|r| r.state != State::Created) {
            self.network_create_local(&body.name)?;
        }
        let mut notes = Vec::new();
        for m in members.iter().filter(|m| m.name != me) {
            if rows.get(&m.name).is_some_and(|r| r.state == State::Created) {
                continue;
            }
            let mut cfg = global.clone();
            if let Some(r) = rows.get(&m.name) {
                cfg.extend(r.config.clone());
            }
            let payload = json!({"name": body.name, "type": body.kind, "config": cfg, "description": body.description});
            notes.push((m.clone(), payload));
        }
        self.notify_all("/1.0/networks", notes).await?;
        self.with_db(|db| {
            if let Some(n) = db.networks.get_mut(&body.name) {
                n.state = State::Created;
            }
        })?;
        Ok(())
    }

    fn network_create_local(&self, name: &str) -> Result<(), ApiError> {
        let me = self.member_name();
        let (net, row) = self
            .with_db(|db| {
                db.networks
                    .get(name)
                    .map(|n| (n.clone(), n.members.get(&me).cloned()))
            })?
            .ok_or_else(|| ApiError::not_found("Network not found"))?;
        let mut config = net.config.clone();
        if let Some(r) = &row {
            config.extend(r.config.clone());
        }
        if matches!(net.kind.as_str(), "physical" | "macvlan" | "sriov") {
            let parent = config.get("parent").cloned().unwrap_or_default();
            if parent.is_empty() {
                return Err(ApiError::internal(format!(
                    "Invalid option for network {name:?} option \"parent\": Required value"
                )));
            }
            if self.inventory.get().interface(&parent).is_none() {
                return Err(ApiError::internal(format!(
                    "Parent interface {parent:?} not found"
                )));
            }
        }
        self.with_db(|db| {
            if let Some(n) = db.networks.get_mut(name) {
                n.members
                    .entry(me.clone())
                    .or_insert(MemberRow {
                        config: Config::new(),
                        state: State::Pending,
                    })
                    .state = State::Created;
            }
        })?;
        Ok(())
    }

    fn check_ovn(&self, body: &NetworksPost) -> Result<(), ApiError> {
        let uplink = body.config.get("network").cloned().unwrap_or_default();
        let ok = self.with_db(|db| {
            db.networks.get(&uplink).is_some_and(|n| {
                n.state == State::Created && matches!(n.kind.as_str(), "physical" | "bridge")
            })
        })?;
        if !ok {
            return Err(ApiError::internal(format!(
                "Option \"network\" value {uplink:?} is not one of the allowed uplink networks in project"
            )));
        }
        let nb = self
            .with_db(|db| db.config.get("network.ovn.northbound_connection").cloned())?
            .unwrap_or_default();
        let fabric = self
            .fabric()
            .ok_or_else(|| ApiError::internal("simulation stopped"))?;
        if nb.is_empty() {
            let dynamic = self.b.has("ovn_dynamic_northbound_connection")
                && fabric
                    .node(&self.ctl.name)
                    .is_some_and(|n| n.microovn.is_initialised());
            if dynamic {
                return Ok(());
            }
            return Err(ApiError::internal(
                "Failed to get OVN client: Failed to connect to OVN northbound database \"unix:/var/run/ovn/ovnnb_db.sock\": no such file or directory",
            ));
        }
        let centrals = fabric.ovn_central_ips();
        let reachable = nb.split(',').any(|ep| {
            let ep = ep.trim();
            let addr = ep
                .strip_prefix("ssl:")
                .or_else(|| ep.strip_prefix("tcp:"))
                .unwrap_or("");
            let host = addr.rsplit_once(':').map(|(h, _)| h).unwrap_or("");
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host.parse::<std::net::IpAddr>()
                .is_ok_and(|ip| centrals.contains(&ip))
        });
        if !reachable {
            return Err(ApiError::internal(format!(
                "Failed to get OVN client: Failed to connect to OVN northbound database {nb:?}: no MicroOVN central service at any of these addresses"
            )));
        }
        Ok(())
    }
}
