//! The LXD cluster steps of [`super::PlanRunner`]: enabling clustering,
//! server settings, issuing join tokens (repairing a member whose join was
//! cut half-way), joining with the cluster certificate a joiner pins, and
//! waiting for every member.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use clients::cert::Fingerprint;
use clients::envelope::OperationState;
use clients::lxd::{
    ClusterJoin, ClusterMemberConfigKey, LxdApi, ServerPut, TokenField as ClientTokenField,
};
use clients::microceph::MicroCephApi;
use clients::microovn::MicroOvnApi;
use planner::plan::{MemberConfigKey, Step, StepId, TokenField};

use super::{ApplyError, PlanRunner, Token, conflict, service_error};
use crate::run::Outcome;
use crate::wipe;

/// An LXD join as the plan gives it (`Action::JoinLxd`).
pub(super) struct Join<'a> {
    /// The joiner's member name.
    pub(super) server_name: &'a str,
    /// The address the joiner serves the cluster API on.
    pub(super) server_address: SocketAddr,
    /// The address of the member it joins through.
    pub(super) cluster_address: SocketAddr,
    /// The step that issued its token.
    pub(super) token_from: &'a StepId,
    /// Which field carries the token (by LXD version).
    pub(super) token_field: TokenField,
    /// The joiner's own configuration of pools and networks.
    pub(super) member_config: &'a [MemberConfigKey],
}

/// `Action::BootstrapLxd`: clustering enabled under `server_name`.
pub(super) async fn bootstrap<L: LxdApi>(
    step: &Step,
    lxd: &L,
    server_name: &str,
) -> Result<Outcome, ApplyError> {
    let cluster = lxd
        .cluster()
        .await
        .map_err(service_error(step, "reading the cluster"))?;
    if cluster.value.enabled {
        return Ok(Outcome::AlreadyDone);
    }
    lxd.enable_clustering(server_name)
        .await
        .map_err(service_error(step, "enabling clustering"))?;
    Ok(Outcome::Changed)
}

/// `Action::SetServerConfig`: every key of `config` with its value; only
/// the keys that differ are sent.
pub(super) async fn set_server_config<L: LxdApi>(
    step: &Step,
    lxd: &L,
    config: &BTreeMap<String, String>,
) -> Result<Outcome, ApplyError> {
    let target = step.target.as_deref();
    let server = lxd
        .server(target)
        .await
        .map_err(service_error(step, "reading the server config"))?;
    let missing: BTreeMap<String, String> = config
        .iter()
        .filter(|(k, v)| server.value.config.get(*k).and_then(|x| x.as_str()) != Some(v.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if missing.is_empty() {
        return Ok(Outcome::AlreadyDone);
    }
    lxd.patch_server(&ServerPut { config: missing }, target, None)
        .await
        .map_err(service_error(step, "setting the server config"))?;
    Ok(Outcome::Changed)
}

/// `Action::AwaitLxdMembers`: every one of `members` listed by the
/// cluster. Their joins are done by then, so a missing one is not waited
/// for: the step fails, saying which.
pub(super) async fn await_members<L: LxdApi>(
    step: &Step,
    lxd: &L,
    members: &[String],
) -> Result<Outcome, ApplyError> {
    let listed = lxd
        .cluster_members()
        .await
        .map_err(service_error(step, "listing LXD members"))?;
    let listed: BTreeSet<&str> = listed.iter().map(|m| m.server_name.as_str()).collect();
    let missing: Vec<&str> = members
        .iter()
        .map(String::as_str)
        .filter(|m| !listed.contains(m))
        .collect();
    if missing.is_empty() {
        return Ok(Outcome::AlreadyDone);
    }
    Err(conflict(
        step,
        format!(
            "{} of {} members missing from the LXD cluster: {}; their joins are done, so a member may have been removed during the run: check `lxc cluster list` on {}, then run again to join the missing members",
            missing.len(),
            members.len(),
            name_list(&missing),
            step.node,
        ),
    ))
}

/// Names for a message: all of them up to ten, else the first ten and how
/// many more (a cluster may have a thousand members).
fn name_list(names: &[&str]) -> String {
    const SHOWN: usize = 10;
    if names.len() <= SHOWN {
        return names.join(", ");
    }
    format!(
        "{} and {} more",
        names[..SHOWN].join(", "),
        names.len() - SHOWN
    )
}

impl<L, C, O> PlanRunner<L, C, O>
where
    L: LxdApi + 'static,
    C: MicroCephApi + 'static,
    O: MicroOvnApi + 'static,
{
    /// `Action::IssueToken` for LXD: a join token for `joiner`, after
    /// cancelling an unused one and removing a member whose join was cut
    /// off half-way.
    pub(super) async fn issue_lxd_token(
        &self,
        step: &Step,
        lxd: &L,
        joiner: &str,
    ) -> Result<Outcome, ApplyError> {
        // The joiner's own LXD, when this run has it.
        let joiner_lxd = self.nodes.get(joiner).map(|n| &n.lxd);
        let members = lxd
            .cluster_members()
            .await
            .map_err(service_error(step, "listing LXD members"))?;
        if members.iter().any(|m| m.server_name == joiner) {
            let Some(j) = joiner_lxd else {
                return Ok(Outcome::AlreadyDone);
            };
            let cluster = j.cluster().await.map_err(service_error(
                step,
                format!("reading the cluster of {joiner}"),
            ))?;
            if cluster.value.enabled {
                return Ok(Outcome::AlreadyDone);
            }
            // Half-joined: the cluster recorded the member, its own LXD is
            // standalone (a join cut off by a crash). The record goes, and
            // the join starts again with a new token.
            lxd.remove_member(joiner).await.map_err(service_error(
                step,
                format!("removing {joiner}, whose earlier join was cut off half-way"),
            ))?;
        }
        // An unused token from an interrupted run would make LXD refuse a
        // second one for the same name: cancel it first. A token that is
        // no longer running (used by a failed join, or cancelled by this
        // step before a failed attempt) is listed for a while, and LXD
        // refuses to cancel it: leave it.
        let operations = lxd
            .operations()
            .await
            .map_err(service_error(step, "listing LXD operations"))?;
        for op in operations.iter().filter(|op| {
            op.metadata_str("serverName") == Some(joiner)
                && op.state() == OperationState::InProgress
        }) {
            lxd.cancel_operation(&op.id).await.map_err(service_error(
                step,
                format!("cancelling the unused join token for {joiner}"),
            ))?;
        }
        let issued = lxd.issue_join_token(joiner).await.map_err(service_error(
            step,
            format!("issuing a join token for {joiner}"),
        ))?;
        self.put_token(
            step,
            Token::Lxd {
                encoded: issued.encoded(),
                fingerprint: issued.token.fingerprint.clone(),
            },
        );
        Ok(Outcome::Changed)
    }

    /// `Action::JoinLxd`: this member's LXD joins the cluster with the
    /// token `token_from` issued, unless it is clustered already.
    pub(super) async fn join_lxd(
        &self,
        step: &Step,
        lxd: &L,
        join: &Join<'_>,
    ) -> Result<Outcome, ApplyError> {
        let cluster = lxd
            .cluster()
            .await
            .map_err(service_error(step, "reading the cluster"))?;
        if cluster.value.enabled {
            return Ok(Outcome::AlreadyDone);
        }
        let Token::Lxd {
            encoded,
            fingerprint,
        } = self.take_token(step, join.token_from)?
        else {
            return Err(conflict(
                step,
                "the token step issued a microcluster token for an LXD join",
            ));
        };
        let certificate = self
            .cluster_certificate(step, join.token_from, &fingerprint)
            .await?;
        let body = ClusterJoin {
            server_name: join.server_name.to_owned(),
            cluster_address: join.cluster_address.to_string(),
            cluster_certificate: certificate,
            server_address: join.server_address.to_string(),
            token: encoded,
            member_config: join
                .member_config
                .iter()
                .map(|k| ClusterMemberConfigKey {
                    entity: k.entity.clone(),
                    name: k.name.clone(),
                    key: k.key.clone(),
                    value: k.value.clone(),
                    description: String::new(),
                })
                .collect(),
        };
        let field = match join.token_field {
            TokenField::ClusterToken => ClientTokenField::Explicit,
            TokenField::ClusterPassword => ClientTokenField::Password,
        };
        self.check_wipes(step, wipe::Scope::Unused).await?;
        lxd.join_cluster(&body, field)
            .await
            .map_err(service_error(step, "joining the LXD cluster"))?;
        Ok(Outcome::Changed)
    }

    /// The cluster certificate a join sends: read from the daemon of the
    /// member that issued the token (through this run's own connection to
    /// it, so no new connection to the cluster address is needed) and
    /// checked against the fingerprint the token carries.
    pub(super) async fn cluster_certificate(
        &self,
        step: &Step,
        token_step: &StepId,
        fingerprint: &str,
    ) -> Result<String, ApplyError> {
        let pinned: Fingerprint = fingerprint.parse().map_err(|_| {
            conflict(
                step,
                format!("the join token carries an invalid fingerprint {fingerprint:?}"),
            )
        })?;
        let issuer = self
            .plan
            .step(token_step)
            .map(|s| s.node.clone())
            .ok_or_else(|| conflict(step, format!("the plan has no step {token_step}")))?;
        let clients = self
            .nodes
            .get(&issuer)
            .ok_or_else(|| ApplyError::NoClient {
                step: step.id.to_string(),
                node: issuer.clone(),
                service: step.service.name().to_owned(),
            })?;
        let server = clients.lxd.server(None).await.map_err(service_error(
            step,
            format!("reading the cluster certificate from {issuer}"),
        ))?;
        let pem = server.value.environment.certificate;
        let actual = clients::cert::fingerprint_of_pem(&pem).map_err(|e| {
            conflict(
                step,
                format!("LXD on {issuer} reports a cluster certificate that cannot be read ({e})"),
            )
        })?;
        if actual != pinned {
            return Err(conflict(
                step,
                format!(
                    "LXD on {issuer} reports the cluster certificate {actual}, but its join token names {pinned}; the cluster changed during the run: run again"
                ),
            ));
        }
        Ok(pem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_name_lists_are_cut_after_ten() {
        assert_eq!(name_list(&["a", "b"]), "a, b");
        let names: Vec<String> = (1..=12).map(|i| format!("m{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        assert_eq!(
            name_list(&names[..10]),
            "m1, m2, m3, m4, m5, m6, m7, m8, m9, m10"
        );
        assert_eq!(
            name_list(&names),
            "m1, m2, m3, m4, m5, m6, m7, m8, m9, m10 and 2 more"
        );
    }
}
