//! MicroOVN's `/1.0` API: the service list (`central` on the first three
//! members, `chassis` and `switch` everywhere) and the encapsulation IP
//! given with `ovn-encap-ip` at bootstrap or join (default: the host part
//! of the member address). The OVN northbound connection string LXD needs
//! is `ssl:<ip>:6641,…` over the members running `central`.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde_json::json;

use super::McService;
use crate::http::{Config, Reply, Request};

/// Cluster-wide MicroOVN state.
#[derive(Debug, Default)]
pub(crate) struct OvnState {
    /// Members in join order.
    pub members: Vec<String>,
    /// Member → encapsulation IP.
    pub encap_ips: BTreeMap<String, String>,
    /// Member → address host part.
    pub hosts: BTreeMap<String, std::net::IpAddr>,
}

impl OvnState {
    pub(crate) fn add_member(&mut self, name: &str, config: &Config, addr: SocketAddr) {
        if !self.members.iter().any(|m| m == name) {
            self.members.push(name.to_string());
        }
        let encap = config
            .get("ovn-encap-ip")
            .filter(|v| !v.is_empty())
            .cloned()
            .unwrap_or_else(|| addr.ip().to_string());
        self.encap_ips.insert(name.to_string(), encap);
        self.hosts.insert(name.to_string(), addr.ip());
    }

    /// Members running `central`.
    pub(crate) fn centrals(&self) -> Vec<String> {
        self.members.iter().take(3).cloned().collect()
    }
}

impl McService {
    pub(super) fn ovn_route(&self, req: &Request, segs: &[&str]) -> Option<Reply> {
        use http::Method;
        Some(match (&req.method, segs) {
            (&Method::GET, ["1.0", "services"]) => match self.with_db(|db| {
                let mut out = Vec::new();
                let centrals = db.ovn.centrals();
                for m in &db.ovn.members {
                    if centrals.contains(m) {
                        out.push(json!({"service": "central", "location": m}));
                    }
                    out.push(json!({"service": "chassis", "location": m}));
                    out.push(json!({"service": "switch", "location": m}));
                }
                out
            }) {
                Ok(v) => Reply::sync(v),
                Err(e) => e.into(),
            },
            (_, ["1.0", "services"]) => Reply::error(501, "not implemented"),
            _ => return None,
        })
    }

    /// `true` when this node's MicroOVN runs `central`.
    pub(crate) fn runs_central(&self) -> bool {
        let Some(me) = self.member_name() else {
            return false;
        };
        self.with_db(|db| db.ovn.centrals().contains(&me))
            .unwrap_or(false)
    }

    /// This member's encapsulation IP.
    pub(crate) fn encap_ip(&self) -> Option<String> {
        let me = self.member_name()?;
        self.with_db(|db| db.ovn.encap_ips.get(&me).cloned())
            .ok()
            .flatten()
    }
}
