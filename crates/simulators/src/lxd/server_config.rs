//! Server configuration: `GET`/`PUT`/`PATCH /1.0`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::clock::parse_lxd_expiry;
use crate::http::{ApiError, Config, Reply, Request};

use super::{LOCAL_KEYS, LxdProfile, LxdService, driver_version, go_bind_error};

impl LxdService {
    pub(super) fn all_config(&self) -> Config {
        let mut c = self.with_db(|db| db.config.clone()).unwrap_or_default();
        c.extend(self.local_config());
        c
    }

    pub(super) fn etag(config: &Config) -> String {
        crate::tls::fingerprint(serde_json::to_string(config).unwrap_or_default().as_bytes())
    }

    pub(super) fn listen_addresses(&self) -> Vec<String> {
        self.listeners
            .https_addr()
            .map(|a| vec![a.to_string()])
            .unwrap_or_default()
    }

    pub(super) fn server_get(&self) -> Reply {
        let config = self.all_config();
        let identity = self.network_identity();
        let clustered = self.clustered();
        let server_name = if clustered {
            self.member_name()
        } else {
            self.hostname()
        };
        let drivers: Vec<Value> = self
            .storage_drivers
            .iter()
            .map(|d| {
                let remote = d == "ceph" || d == "cephfs";
                json!({"Name": d, "Version": driver_version(d), "Remote": remote})
            })
            .collect();
        let mut env = json!({
            "addresses": self.listen_addresses(),
            "architectures": [self.inventory.get().architecture.clone()],
            "certificate": identity.cert_pem(),
            "certificate_fingerprint": identity.fingerprint(),
            "driver": "lxc",
            "driver_version": if self.b.profile == LxdProfile::Legacy { "5.0.2" } else { "6.0.4" },
            "firewall": "nftables",
            "kernel": "Linux",
            "kernel_architecture": self.inventory.get().architecture.clone(),
            "kernel_features": {"idmapped_mounts": "true", "netnsid_getifaddrs": "true", "seccomp_listener": "true", "seccomp_listener_continue": "true", "uevent_injection": "true", "unpriv_fscaps": "true"},
            "kernel_version": "6.8.0-sim",
            "lxc_features": {"cgroup2": "true", "devpts_fd": "true", "pidfd": "true"},
            "os_name": "Ubuntu",
            "os_version": "24.04",
            "project": "default",
            "server": "lxd",
            "server_clustered": clustered,
            "server_event_mode": "full-mesh",
            "server_name": server_name,
            "server_pid": std::process::id(),
            "server_version": self.b.version,
            "storage": self.storage_drivers.join(" | "),
            "storage_version": "",
            "storage_supported_drivers": drivers,
        });
        if self.b.has("server_version_lts")
            && let Some(o) = env.as_object_mut()
        {
            o.insert("server_lts".into(), false.into());
            o.insert(
                "instance_types".into(),
                json!(["container", "virtual-machine"]),
            );
        }
        let mut v = json!({
            "config": config,
            "api_extensions": self.b.extensions,
            "api_status": "stable",
            "api_version": "1.0",
            "auth": "trusted",
            "public": false,
            "auth_methods": ["tls"],
            "environment": env,
        });
        if self.b.has("auth_user")
            && let Some(o) = v.as_object_mut()
        {
            o.insert("auth_user_name".into(), "root".into());
            o.insert("auth_user_method".into(), "unix".into());
        }
        if self.b.has("client_cert_presence")
            && let Some(o) = v.as_object_mut()
        {
            o.insert("client_certificate".into(), false.into());
        }
        Reply::sync(v).with_etag(Self::etag(&config))
    }

    pub(super) fn server_get_untrusted(&self) -> Reply {
        Reply::sync(json!({
            "config": {},
            "api_extensions": self.b.extensions,
            "api_status": "stable",
            "api_version": "1.0",
            "auth": "untrusted",
            "public": false,
            "auth_methods": ["tls"],
        }))
    }

    pub(super) fn known_server_key(&self, key: &str) -> bool {
        if key.starts_with("user.") {
            return true;
        }
        let mut keys = vec![
            "core.https_address",
            "cluster.https_address",
            "core.trust_password",
            "core.proxy_http",
            "core.proxy_https",
            "core.proxy_ignore_hosts",
            "core.https_allowed_origin",
            "core.bgp_address",
            "core.bgp_asn",
            "core.bgp_routerid",
            "core.debug_address",
            "core.dns_address",
            "core.metrics_address",
            "cluster.max_voters",
            "cluster.max_standby",
            "cluster.offline_threshold",
            "cluster.images_minimal_replica",
            "cluster.join_token_expiry",
            "core.remote_token_expiry",
            "images.auto_update_cached",
            "images.auto_update_interval",
            "images.compression_algorithm",
            "images.remote_cache_expiry",
            "network.ovn.northbound_connection",
            "storage.backups_volume",
            "storage.images_volume",
        ];
        if self.b.has("ovn_ssl_config") {
            keys.extend([
                "network.ovn.ca_cert",
                "network.ovn.client_cert",
                "network.ovn.client_key",
            ]);
        }
        if self.b.has("instances_migration_stateful") {
            keys.push("instances.migration.stateful");
        }
        if self.b.profile == LxdProfile::Current {
            keys.push("network.ovn.integration_bridge");
        }
        keys.contains(&key)
    }

    pub(super) fn server_put(self: &Arc<Self>, req: &Request, patch: bool) -> Reply {
        #[derive(Deserialize)]
        struct ServerPut {
            #[serde(default)]
            config: Option<BTreeMap<String, Value>>,
        }
        let current = self.all_config();
        if let Some(want) = req.header("if-match") {
            let have = Self::etag(&current);
            if want.trim_matches('"') != have {
                return Reply::error(
                    412,
                    format!("ETag doesn't match: {} vs {}", want.trim_matches('"'), have),
                );
            }
        }
        let body: ServerPut = match req.json("api.ServerPut") {
            Ok(b) => b,
            Err(e) => return e.into(),
        };
        let mut requested = Config::new();
        for (k, v) in body.config.unwrap_or_default() {
            let v = match v {
                Value::String(s) => s,
                Value::Null => String::new(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                other => other.to_string(),
            };
            if !self.known_server_key(&k) {
                return Reply::error(400, format!("cannot set '{k}' to '{v}': unknown key"));
            }
            requested.insert(k, v);
        }
        let mut new_config = if patch {
            current.clone()
        } else {
            Config::new()
        };
        for (k, v) in requested {
            if v.is_empty() {
                new_config.remove(&k);
            } else {
                new_config.insert(k, v);
            }
        }
        // Validate member-local volume keys.
        for key in ["storage.images_volume", "storage.backups_volume"] {
            if let Some(v) = new_config.get(key)
                && current.get(key) != Some(v)
                && let Err(e) = self.check_daemon_volume(key, v)
            {
                return e.into();
            }
        }
        if let Some(v) = new_config.get("cluster.join_token_expiry")
            && let Err(e) = parse_lxd_expiry(v)
        {
            return Reply::error(
                400,
                format!("Failed validation of \"cluster.join_token_expiry\": {e}"),
            );
        }
        let (local, global): (Config, Config) = new_config
            .into_iter()
            .partition(|(k, _)| LOCAL_KEYS.contains(&k.as_str()));
        if let Err(e) = self.apply_https(&local) {
            return e.into();
        }
        if let Ok(mut l) = self.local.lock() {
            l.config = local;
        }
        let _ = self.with_db(|db| db.config = global);
        Reply::empty()
    }

    pub(super) fn check_daemon_volume(&self, key: &str, value: &str) -> Result<(), ApiError> {
        let Some((pool, vol)) = value.split_once('/') else {
            return Err(ApiError::bad_request(format!(
                "Failed validation of \"{key}\": Invalid syntax for volume, must be <pool>/<volume>"
            )));
        };
        let me = self.member_name();
        let found = self.with_db(|db| {
            db.volumes
                .iter()
                .any(|v| v.pool == pool && v.name == vol && (v.member == me || v.member.is_empty()))
        })?;
        if found {
            Ok(())
        } else {
            Err(ApiError::bad_request(format!(
                "Failed validation of \"{key}\": Storage volume \"{vol}\" in pool \"{pool}\" not found"
            )))
        }
    }

    /// Resolves `host:port`, mapping wildcard hosts to the node's address.
    pub(super) fn resolve_listen(&self, value: &str) -> Result<SocketAddr, ApiError> {
        let value = value.trim();
        let (host, port) = match value.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() || value.starts_with(':') => (h, p),
            _ => (value, "8443"),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port: u16 = port
            .parse()
            .map_err(|_| ApiError::bad_request(format!("Invalid address {value:?}")))?;
        let ip = match host {
            "" | "::" | "0.0.0.0" => self.ctl.ip,
            h => h
                .parse()
                .map_err(|_| ApiError::bad_request(format!("Invalid address {value:?}")))?,
        };
        Ok(SocketAddr::new(ip, port))
    }

    pub(super) fn apply_https(self: &Arc<Self>, local: &Config) -> Result<(), ApiError> {
        let wanted = local
            .get("core.https_address")
            .or_else(|| local.get("cluster.https_address"));
        match wanted {
            None => {
                self.listeners.unbind_https();
                Ok(())
            }
            Some(v) => {
                let addr = self.resolve_listen(v)?;
                self.listeners.bind_https(self.clone(), addr).map_err(|e| {
                    ApiError::internal(format!(
                        "Cannot listen on network HTTPS socket \"{addr}\": listen tcp {addr}: bind: {}",
                        go_bind_error(&e)
                    ))
                })
            }
        }
    }
}
