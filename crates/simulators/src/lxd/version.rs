//! LXD behaviour profiles and API extensions.
//!
//! Behaviour is driven by the advertised `api_extensions`, exactly as
//! clients are expected to decide: a node whose list contains
//! `storage_and_network_operations` answers pool and network creation with
//! 202 operations, one without it answers 201 sync, and so on. The two
//! built-in profiles are:
//!
//! * [`LxdProfile::Legacy`]: LXD 5.0.2 as shipped by Debian bookworm; its
//!   318 extensions were read from a real 5.0.2 daemon on this machine.
//! * [`LxdProfile::Current`]: LXD 6.8+ (the `canonical/lxd` list up to
//!   `storage_source_recover`, plus the four 6.8 extensions named in the
//!   reference: `storage_and_network_operations`,
//!   `storage_remote_drop_source`, `storage_ceph_use_rbd_defaults`,
//!   `ovn_dynamic_northbound_connection`).
//!
//! Extensions can be removed or added per node to model versions in
//! between (for example LXD 5.21: `Current` without the 6.x ones).

use std::collections::BTreeSet;

/// Which LXD to imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LxdProfile {
    /// LXD 5.0.2 (Debian bookworm).
    Legacy,
    /// LXD 6.8+ behaviour.
    #[default]
    Current,
}

const LEGACY_EXTENSIONS: &str = include_str!("extensions-5.0.2.txt");
const CURRENT_EXTENSIONS: &str = include_str!("extensions-current.txt");

impl LxdProfile {
    /// The extension list this profile advertises.
    pub fn extensions(self) -> Vec<String> {
        let text = match self {
            LxdProfile::Legacy => LEGACY_EXTENSIONS,
            LxdProfile::Current => CURRENT_EXTENSIONS,
        };
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    }

    /// `environment.server_version`.
    pub fn server_version(self) -> &'static str {
        match self {
            LxdProfile::Legacy => "5.0.2",
            LxdProfile::Current => "6.9",
        }
    }
}

/// Which fields carry a join token (`PUT /1.0/cluster`) and a trust token
/// (`POST /1.0/certificates`), as each LXD release decodes them:
///
/// * `Password`: `cluster_password` / `password` only (LXD 5.0.x up to
///   5.21.1; `shared/api/cluster.go`, `lxd/certificates.go` at
///   `lxd-5.0.2`, `lxd-5.21.1`). A `cluster_token` is an unknown JSON key,
///   ignored by Go's decoder, so the join skips `SetupTrust` and fails in
///   `UpdateTrust`; a `trust_token` alone is 403.
/// * `Both`: either (`lxd-5.21.2` added `explicit_trust_token` and kept the
///   deprecated fields; `certificatesPost` prefers `password` when both
///   are set).
/// * `Token`: `cluster_token` / `trust_token` only (`lxd-6.1` ignores
///   `cluster_password`; from `lxd-6.2` `password` is 501 "Password
///   authentication is no longer supported, please update your client").
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenFields {
    /// Only `cluster_password` / `password`.
    Password,
    /// Both field pairs.
    Both,
    /// Only `cluster_token` / `trust_token`.
    Token,
}

/// The behaviour switches derived from an extension list.
#[derive(Debug, Clone)]
pub(crate) struct Behaviour {
    pub profile: LxdProfile,
    pub version: String,
    pub extensions: Vec<String>,
    set: BTreeSet<String>,
    token_fields: TokenFields,
}

impl Behaviour {
    /// `token_fields`: which token fields the daemon decodes; `None`
    /// derives it from `explicit_trust_token` (advertised: `Token`, as LXD
    /// 6.2+; not: `Password`). A daemon that accepts the new fields without
    /// advertising the extension (as Incus does) sets it explicitly.
    pub(crate) fn new(
        profile: LxdProfile,
        remove: &[String],
        add: &[String],
        token_fields: Option<TokenFields>,
    ) -> Self {
        let mut extensions: Vec<String> = profile
            .extensions()
            .into_iter()
            .filter(|e| !remove.contains(e))
            .collect();
        for a in add {
            if !extensions.contains(a) {
                extensions.push(a.clone());
            }
        }
        let set: BTreeSet<String> = extensions.iter().cloned().collect();
        let token_fields = token_fields.unwrap_or(if set.contains("explicit_trust_token") {
            TokenFields::Token
        } else {
            TokenFields::Password
        });
        Self {
            profile,
            version: profile.server_version().to_string(),
            extensions,
            set,
            token_fields,
        }
    }
    pub(crate) fn has(&self, ext: &str) -> bool {
        self.set.contains(ext)
    }
    /// 202 operations for pool/network create, update and delete.
    pub(crate) fn async_storage_network(&self) -> bool {
        self.has("storage_and_network_operations")
    }
    /// 202 operations for profile PUT/PATCH.
    pub(crate) fn async_profiles(&self) -> bool {
        self.has("storage_and_profile_operations")
    }
    /// Which token fields this daemon decodes.
    pub(crate) fn token_fields(&self) -> TokenFields {
        self.token_fields
    }
    /// `/wait` answers a failed operation with an error envelope in a 200.
    pub(crate) fn wait_error_envelope(&self) -> bool {
        self.has("operation_wait")
    }
    /// Newer resource fields (`mounted`, `device_fs_uuid`, `used_by`).
    pub(crate) fn modern_resources(&self) -> bool {
        self.has("resources_disk_mounted")
    }
    /// Go's `http.StatusText` capitalisation for default error texts
    /// (5.0.2 uses lowercase texts such as "not found").
    pub(crate) fn capitalised_texts(&self) -> bool {
        self.has("operation_wait")
    }
    /// Storage pool keys that are member specific.
    pub(crate) fn member_specific_pool_keys(&self) -> Vec<&'static str> {
        let mut keys = vec!["size", "source"];
        if self.has("storage_pool_source_wipe") {
            keys.push("source.wipe");
        }
        if self.has("storage_source_recover") {
            keys.push("source.recover");
        }
        keys.extend([
            "volatile.initial_source",
            "zfs.pool_name",
            "lvm.thinpool_name",
            "lvm.vg_name",
        ]);
        keys
    }
    /// Network keys that are member specific.
    pub(crate) fn member_specific_network_keys(&self) -> Vec<&'static str> {
        let mut keys = vec![
            "bgp.ipv4.nexthop",
            "bgp.ipv6.nexthop",
            "bridge.external_interfaces",
            "parent",
        ];
        if self.has("ovn_nic_acceleration_parent") {
            keys.push("acceleration.parent");
        }
        keys
    }
    /// Error text for a bare status, as the daemon renders it.
    pub(crate) fn status_text(&self, status: u16) -> String {
        if status == 403 {
            return "not authorized".to_string();
        }
        let t = crate::server::go_status_text(status);
        if self.capitalised_texts() {
            t.to_string()
        } else {
            t.to_ascii_lowercase()
        }
    }
    /// Wording that changed between 5.0.2 and current LXD.
    pub(crate) fn pool_not_defined(&self, missing: &[String]) -> String {
        if self.profile == LxdProfile::Legacy {
            format!("Pool not defined on nodes: {}", missing.join(", "))
        } else {
            format!(
                "Pool not defined on cluster members: {}",
                missing.join(", ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_list_is_the_real_5_0_2_list() {
        let ext = LxdProfile::Legacy.extensions();
        assert_eq!(ext.len(), 318);
        assert_eq!(
            ext.first().map(String::as_str),
            Some("storage_zfs_remove_snapshots")
        );
        assert_eq!(ext.last().map(String::as_str), Some("cpu_hotplug"));
        assert!(!ext.iter().any(|e| e == "storage_pool_source_wipe"));
        assert!(!ext.iter().any(|e| e == "explicit_trust_token"));
    }

    #[test]
    fn current_list_drives_async_and_tokens() {
        let b = Behaviour::new(LxdProfile::Current, &[], &[], None);
        assert!(b.async_storage_network());
        assert_eq!(b.token_fields(), TokenFields::Token);
        let legacy = Behaviour::new(LxdProfile::Legacy, &[], &[], None);
        assert_eq!(legacy.token_fields(), TokenFields::Password);
        let unadvertised = Behaviour::new(
            LxdProfile::Current,
            &["explicit_trust_token".to_string()],
            &[],
            Some(TokenFields::Token),
        );
        assert!(!unadvertised.has("explicit_trust_token"));
        assert_eq!(unadvertised.token_fields(), TokenFields::Token);
        assert!(b.member_specific_pool_keys().contains(&"source.wipe"));
        let b = Behaviour::new(
            LxdProfile::Current,
            &["storage_and_network_operations".to_string()],
            &[],
            None,
        );
        assert!(!b.async_storage_network());
    }
}
