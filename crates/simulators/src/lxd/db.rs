//! LXD's global database, simulated.
//!
//! Real LXD keeps cluster-wide state in a replicated dqlite database; the
//! simulator keeps one [`LxdDb`] per cluster in memory, shared by every
//! member (each member holds an `Arc` to it after joining). Before
//! clustering each daemon has its own database and its member name is
//! `none`, as in LXD. Per-member rows (pool and network definitions) carry
//! their own state so the pending → created rules can be enforced.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::http::Config;
use crate::tls::Identity;

/// LXD's member name before clustering.
pub(crate) const UNCLUSTERED: &str = "none";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Pending,
    Created,
    Errored,
}

impl State {
    pub(crate) fn text(self) -> &'static str {
        match self {
            State::Pending => "Pending",
            State::Created => "Created",
            State::Errored => "Errored",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub name: String,
    /// `ip:port` of `cluster.https_address`.
    pub address: String,
    /// The simulation node hosting the member.
    pub sim_node: String,
    pub roles: Vec<String>,
    pub architecture: String,
}

#[derive(Debug, Clone)]
pub(crate) struct MemberRow {
    pub config: Config,
    pub state: State,
}

#[derive(Debug, Clone)]
pub(crate) struct Pool {
    pub name: String,
    pub driver: String,
    pub description: String,
    /// Global (non member-specific) keys.
    pub config: Config,
    pub state: State,
    pub members: BTreeMap<String, MemberRow>,
}

#[derive(Debug, Clone)]
pub(crate) struct Net {
    pub name: String,
    pub kind: String,
    pub description: String,
    pub config: Config,
    pub state: State,
    pub members: BTreeMap<String, MemberRow>,
}

#[derive(Debug, Clone)]
pub(crate) struct Profile {
    pub name: String,
    pub description: String,
    pub config: Config,
    pub devices: BTreeMap<String, Config>,
}

#[derive(Debug, Clone)]
pub(crate) struct Volume {
    pub pool: String,
    /// Member the volume lives on (empty for remote pools).
    pub member: String,
    pub name: String,
    pub content_type: String,
    pub description: String,
    pub config: Config,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub(crate) struct TrustedCert {
    pub fingerprint: String,
    pub kind: String,
    pub name: String,
    pub pem: String,
}

#[derive(Debug)]
pub(crate) struct LxdDb {
    pub cluster_cert: Option<Identity>,
    pub members: Vec<Member>,
    pub config: Config,
    pub pools: BTreeMap<String, Pool>,
    pub networks: BTreeMap<String, Net>,
    pub profiles: BTreeMap<String, Profile>,
    pub volumes: Vec<Volume>,
    pub certs: Vec<TrustedCert>,
}

impl LxdDb {
    pub(crate) fn new() -> Self {
        let mut profiles = BTreeMap::new();
        profiles.insert(
            "default".to_string(),
            Profile {
                name: "default".into(),
                description: "Default LXD profile".into(),
                config: Config::new(),
                devices: BTreeMap::new(),
            },
        );
        Self {
            cluster_cert: None,
            members: Vec::new(),
            config: Config::new(),
            pools: BTreeMap::new(),
            networks: BTreeMap::new(),
            profiles,
            volumes: Vec::new(),
            certs: Vec::new(),
        }
    }

    pub(crate) fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }

    /// Member names, or `["none"]` when not clustered.
    pub(crate) fn member_names(&self) -> Vec<String> {
        if self.members.is_empty() {
            vec![UNCLUSTERED.to_string()]
        } else {
            self.members.iter().map(|m| m.name.clone()).collect()
        }
    }

    pub(crate) fn is_trusted(&self, fingerprint: &str) -> bool {
        self.certs.iter().any(|c| c.fingerprint == fingerprint)
            || self
                .cluster_cert
                .as_ref()
                .is_some_and(|c| c.fingerprint() == fingerprint)
    }

    /// Renames the unclustered member `none` to `name` in every per-member
    /// row (what LXD does when clustering is enabled).
    pub(crate) fn rename_unclustered(&mut self, name: &str) {
        for p in self.pools.values_mut() {
            if let Some(row) = p.members.remove(UNCLUSTERED) {
                p.members.insert(name.to_string(), row);
            }
        }
        for n in self.networks.values_mut() {
            if let Some(row) = n.members.remove(UNCLUSTERED) {
                n.members.insert(name.to_string(), row);
            }
        }
        for v in &mut self.volumes {
            if v.member == UNCLUSTERED {
                v.member = name.to_string();
            }
        }
    }
}

impl Pool {
    /// The `StoragePool` JSON. `member`: show that member's keys and
    /// status; `None`: cluster-wide view (member keys stripped when
    /// clustered).
    pub(crate) fn to_json(
        &self,
        member: Option<&str>,
        member_keys: &[&str],
        clustered: bool,
    ) -> Value {
        let mut config = self.config.clone();
        let status = match member {
            Some(m) => {
                if let Some(row) = self.members.get(m) {
                    config.extend(row.config.clone());
                }
                if clustered {
                    self.members.get(m).map(|r| r.state).unwrap_or(self.state)
                } else {
                    self.state
                }
            }
            None => self.state,
        };
        if member.is_none() {
            config.retain(|k, _| !member_keys.contains(&k.as_str()));
        }
        json!({
            "config": config,
            "description": self.description,
            "name": self.name,
            "driver": self.driver,
            "used_by": Value::Null,
            "status": status.text(),
            "locations": self.members.keys().collect::<Vec<_>>(),
        })
    }
}

impl Net {
    pub(crate) fn to_json(
        &self,
        member: Option<&str>,
        member_keys: &[&str],
        with_project: bool,
    ) -> Value {
        let mut config = self.config.clone();
        let mut status = self.state;
        match member {
            Some(m) => {
                if let Some(row) = self.members.get(m) {
                    config.extend(row.config.clone());
                    status = row.state;
                }
            }
            None => config.retain(|k, _| !member_keys.contains(&k.as_str())),
        }
        let mut v = json!({
            "config": config,
            "description": self.description,
            "name": self.name,
            "type": self.kind,
            "used_by": [],
            "managed": true,
            "status": status.text(),
            "locations": self.members.keys().collect::<Vec<_>>(),
        });
        if with_project && let Some(o) = v.as_object_mut() {
            o.insert("project".into(), "default".into());
        }
        v
    }
}

impl Profile {
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "config": self.config,
            "description": self.description,
            "devices": self.devices,
            "name": self.name,
            "used_by": [],
        })
    }
}
