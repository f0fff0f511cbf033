//! The join phase: per joiner, a token and a join for each microcluster,
//! then LXD's token, join and settings; last, the barrier before the
//! per-member definitions.

use std::collections::BTreeMap;

use super::{AWAIT_MEMBERS, Ctx, config, id, id_at, new_step, one_or_none, sock};
use crate::plan::build::{Member, Networking, Notes, lxd_of};
use crate::plan::{Action, MemberConfigKey, Phase, Service, Step, StepId, TokenField};

/// microcluster join token lifetime MicroCloud uses (1 h).
const TOKEN_LIFETIME_SECS: u64 = 3600;

/// The first LXD release that decodes `cluster_token` (tag `lxd-5.21.2`,
/// which added the `explicit_trust_token` API extension).
const FIRST_CLUSTER_TOKEN_RELEASE: (u32, u32, u32) = (5, 21, 2);

impl Ctx<'_> {
    /// The join steps of every joiner.
    pub(super) fn join_steps(&self, steps: &mut Vec<Step>, n: &mut Notes) {
        let init = self.init_name().to_owned();
        // A joiner's LXD joins after its MicroCeph and MicroOVN (as in
        // MicroCloud) when the cluster already has pools and networks: the
        // join creates them on the member, which needs Ceph's and OVN's
        // configuration there. When forming a new cluster, nothing exists in
        // LXD yet, so the LXD joins run beside the microcluster joins and the
        // barrier before the definitions waits for both.
        let barrier = self.members.len() > 1 && self.defines_pending();
        let mut barrier_deps: Vec<StepId> = Vec::new();
        for j in self.joiners {
            let name = j.name();
            let mut lxd_deps = vec![id_at(&["lxd.token"], name)];
            for svc in [Service::MicroCeph, Service::MicroOvn] {
                if !self.uses(svc) {
                    continue;
                }
                let p = svc.id_prefix();
                let token = id_at(&[p, ".token"], name);
                let deps = if self.bootstrap {
                    vec![id_at(&[p, ".bootstrap"], &init)]
                } else {
                    Vec::new()
                };
                steps.push(
                    new_step(
                        token.clone(),
                        Phase::Join,
                        Action::IssueToken {
                            joiner: name.to_owned(),
                            expire_after_secs: Some(TOKEN_LIFETIME_SECS),
                        },
                    )
                    .on(svc, &init)
                    .after(deps)
                    .done_if(self.joined(svc, name).then(|| {
                        format!(
                            "{name} is already a member of the {svc} cluster; no token is needed"
                        )
                    }))
                    .build(),
                );
                let mut cfg = BTreeMap::new();
                if svc == Service::MicroOvn
                    && let Some(ip) = j.sys.ovn_underlay_ip
                {
                    cfg.insert("ovn-encap-ip".to_owned(), ip.to_string());
                }
                let join = id_at(&[p, ".join"], name);
                steps.push(
                    new_step(
                        join.clone(),
                        Phase::Join,
                        Action::JoinMicrocluster {
                            name: name.to_owned(),
                            address: sock(j.inv.address, svc),
                            token_from: token,
                            config: cfg,
                        },
                    )
                    .on(svc, name)
                    .after(vec![id_at(&[p, ".token"], name)])
                    .done_if(self.joined_why(svc, name))
                    .serial([p, ".join"].concat())
                    .build(),
                );
                if barrier {
                    barrier_deps.push(join);
                } else {
                    lxd_deps.push(join);
                }
            }
            let token = id_at(&["lxd.token"], name);
            steps.push(
                new_step(
                    token.clone(),
                    Phase::Join,
                    Action::IssueToken {
                        joiner: name.to_owned(),
                        expire_after_secs: None,
                    },
                )
                .on(Service::Lxd, &init)
                .after(if self.bootstrap {
                    vec![id_at(&["lxd.bootstrap"], &init)]
                } else {
                    Vec::new()
                })
                .done_if(self.joined(Service::Lxd, name).then(|| {
                    format!("{name} is already a member of the LXD cluster; no token is needed")
                }))
                .build(),
            );
            // By capability, not by extension name alone (the same rule as
            // `clients::lxd::TokenField::for_server`): `cluster_token` when
            // `explicit_trust_token` is advertised or the LXD is not known
            // to be older than 5.21.2, the release that added it (6.1+
            // ignores `cluster_password`; Incus decodes `cluster_token`
            // without advertising the extension). `cluster_password` only
            // for a version that parses as earlier.
            let lxd = lxd_of(j.inv);
            let version = lxd.map_or("", |l| l.version.as_str());
            let token_field = if lxd.is_some_and(|l| l.has_extension("explicit_trust_token")) {
                TokenField::ClusterToken
            } else if lxd.and_then(|l| l.version_before(FIRST_CLUSTER_TOKEN_RELEASE)) == Some(true)
            {
                n.decide(
                    format!("LXD join token field of {name}"),
                    "cluster_password",
                    format!("LXD {version} on {name} lacks the API extension explicit_trust_token"),
                );
                TokenField::ClusterPassword
            } else {
                n.decide(
                    format!("LXD join token field of {name}"),
                    "cluster_token",
                    format!(
                        "LXD {version} on {name} does not advertise explicit_trust_token but is not \
                         known to be older than 5.21.2, which added cluster_token (6.1 and later \
                         ignore cluster_password)"
                    ),
                );
                TokenField::ClusterToken
            };
            let member_config = self.member_config(j);
            // A join that brings the `local` pool to the member creates it
            // there, wiping its disk when asked.
            let wipes_local = member_config
                .iter()
                .any(|k| k.entity == "storage-pool" && k.name == "local" && k.key == "source.wipe");
            let wipes = if wipes_local {
                one_or_none(
                    self.disks_of(name)
                        .and_then(|d| d.local.as_ref())
                        .and_then(|d| self.wiped(name, d)),
                )
            } else {
                Vec::new()
            };
            let step = new_step(
                id_at(&["lxd.join"], name),
                Phase::Join,
                Action::JoinLxd {
                    server_name: name.to_owned(),
                    server_address: sock(j.inv.address, Service::Lxd),
                    cluster_address: sock(self.init.address, Service::Lxd),
                    token_from: token,
                    token_field,
                    member_config,
                },
            )
            .on(Service::Lxd, name)
            .after(lxd_deps)
            .done_if(self.joined_why(Service::Lxd, name))
            .serial("lxd.join".to_owned())
            .wipes(wipes)
            .build();
            steps.push(step);
            let cfg = config([("core.https_address", "[::]:8443")]);
            let done = self.config_done(name, &cfg);
            steps.push(
                new_step(
                    id_at(&["lxd.config.join"], name),
                    Phase::Join,
                    Action::SetServerConfig { config: cfg },
                )
                .on(Service::Lxd, name)
                .after(vec![id_at(&["lxd.join"], name)])
                .done_if(done)
                .build(),
            );
        }

        // What the per-member definitions wait for, last of the join phase
        // (see `definitions_wait_for`).
        if barrier {
            steps.push(self.await_lxd_members(barrier_deps));
        }
    }

    /// The barrier between the joins and the per-member definitions: one
    /// step that checks that LXD lists every member, after each member's
    /// LXD is settled ([`Ctx::lxd_ready`]: the initiator's bootstrap, each
    /// joiner's settings change after its join) and after `joins`, the
    /// microcluster joins the LXD joins did not wait for. Each definition
    /// then depends on this one step rather than on every join, which would
    /// make the plan quadratic in the number of members.
    fn await_lxd_members(&self, joins: Vec<StepId>) -> Step {
        let init = self.init_name();
        let mut deps: Vec<StepId> = self
            .members
            .iter()
            .map(|m| self.lxd_ready(m.name()))
            .chain(joins)
            .collect();
        deps.sort_unstable();
        deps.dedup();
        let all = self
            .members
            .iter()
            .all(|m| self.joined(Service::Lxd, m.name()));
        new_step(
            id(AWAIT_MEMBERS),
            Phase::Join,
            Action::AwaitLxdMembers {
                members: self.members.iter().map(|m| m.name().to_owned()).collect(),
            },
        )
        .on(Service::Lxd, init)
        .after(deps)
        .done_if(all.then(|| format!("LXD already lists all {} members", self.members.len())))
        .build()
    }

    /// LXD `member_config` for a joiner in add mode (empty in bootstrap mode,
    /// where pools and networks are created after the joins).
    fn member_config(&self, j: &Member<'_>) -> Vec<MemberConfigKey> {
        let mut out = Vec::new();
        if self.bootstrap {
            return out;
        }
        let key = |entity: &str, name: &str, key: &str, value: &str| MemberConfigKey {
            entity: entity.into(),
            name: name.into(),
            key: key.into(),
            value: value.into(),
        };
        if let Networking::Ovn { uplinks } = self.networking
            && let Some(parent) = uplinks.get(j.name())
        {
            out.push(key("network", "UPLINK", "parent", parent));
        }
        if let Some(local) = self.disks_of(j.name()).and_then(|d| d.local.as_ref())
            && self
                .cluster
                .lxd
                .pool("local")
                .is_some_and(|p| p.driver != "dir")
        {
            out.push(key("storage-pool", "local", "source", &local.path));
            if local.wipe {
                out.push(key("storage-pool", "local", "source.wipe", "true"));
            }
        }
        if self.cluster.lxd.pool("remote-fs").is_some()
            && lxd_of(j.inv).is_some_and(|l| !l.has_extension("storage_remote_drop_source"))
        {
            out.push(key("storage-pool", "remote-fs", "source", "lxd_cephfs"));
        }
        out
    }
}
