//! The MicroCeph and MicroOVN cluster steps of [`super::PlanRunner`]:
//! bootstrapping, issuing join tokens (repairing a member whose join was
//! cut half-way) and joining. Both daemons are microcluster daemons with
//! the same API ([`MicroclusterApi`]); the step's service picks which.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use clients::lxd::LxdApi;
use clients::microceph::MicroCephApi;
use clients::microcluster::MicroclusterApi;
use clients::microovn::MicroOvnApi;
use planner::plan::{Service, Step, StepId};

use super::{ApplyError, NodeClients, PlanRunner, Token, conflict, service_error};
use crate::run::Outcome;

/// How long a token lives when the plan gives no expiry.
const DEFAULT_TOKEN_EXPIRY: Duration = Duration::from_secs(3 * 3600);

/// A microcluster join as the plan gives it (`Action::JoinMicrocluster`).
pub(super) struct Join<'a> {
    /// The joiner's member name.
    pub(super) name: &'a str,
    /// The address it serves its cluster API on.
    pub(super) address: SocketAddr,
    /// The step that issued its token.
    pub(super) token_from: &'a StepId,
    /// Its initial configuration.
    pub(super) config: &'a BTreeMap<String, String>,
}

impl<L, C, O> PlanRunner<L, C, O>
where
    L: LxdApi + 'static,
    C: MicroCephApi + 'static,
    O: MicroOvnApi + 'static,
{
    /// `Action::BootstrapMicrocluster`.
    pub(super) async fn bootstrap_microcluster(
        &self,
        step: &Step,
        node: &NodeClients<L, C, O>,
        name: &str,
        address: SocketAddr,
        config: &BTreeMap<String, String>,
    ) -> Result<Outcome, ApplyError> {
        match step.service {
            Service::MicroCeph => {
                let c = node.microceph.as_ref().ok_or_else(|| self.missing(step))?;
                bootstrap(c, step, name, address, config).await
            }
            Service::MicroOvn => {
                let o = node.microovn.as_ref().ok_or_else(|| self.missing(step))?;
                bootstrap(o, step, name, address, config).await
            }
            Service::Lxd => Err(conflict(step, "a microcluster bootstrap cannot target LXD")),
        }
    }

    /// `Action::IssueToken` for MicroCeph or MicroOVN.
    pub(super) async fn issue_microcluster_token(
        &self,
        step: &Step,
        node: &NodeClients<L, C, O>,
        joiner: &str,
        expire_after_secs: Option<u64>,
    ) -> Result<Outcome, ApplyError> {
        let expire = expire_after_secs.map_or(DEFAULT_TOKEN_EXPIRY, Duration::from_secs);
        let joiner_node = self.nodes.get(joiner);
        match step.service {
            Service::MicroCeph => {
                let c = node.microceph.as_ref().ok_or_else(|| self.missing(step))?;
                let j = joiner_node.and_then(|n| n.microceph.as_ref());
                self.issue_token(step, c, joiner, j, expire).await
            }
            Service::MicroOvn => {
                let o = node.microovn.as_ref().ok_or_else(|| self.missing(step))?;
                let j = joiner_node.and_then(|n| n.microovn.as_ref());
                self.issue_token(step, o, joiner, j, expire).await
            }
            Service::Lxd => Err(conflict(step, "an LXD token is not a microcluster token")),
        }
    }

    /// `Action::JoinMicrocluster`.
    pub(super) async fn join_microcluster(
        &self,
        step: &Step,
        node: &NodeClients<L, C, O>,
        join: &Join<'_>,
    ) -> Result<Outcome, ApplyError> {
        match step.service {
            Service::MicroCeph => {
                let c = node.microceph.as_ref().ok_or_else(|| self.missing(step))?;
                self.join(step, c, join).await
            }
            Service::MicroOvn => {
                let o = node.microovn.as_ref().ok_or_else(|| self.missing(step))?;
                self.join(step, o, join).await
            }
            Service::Lxd => Err(conflict(step, "a microcluster join cannot target LXD")),
        }
    }

    /// Joins this member's microcluster daemon with the token `token_from`
    /// issued, unless it is already part of a cluster.
    async fn join<M: MicroclusterApi>(
        &self,
        step: &Step,
        client: &M,
        join: &Join<'_>,
    ) -> Result<Outcome, ApplyError> {
        let info = client
            .server_info()
            .await
            .map_err(service_error(step, "reading the daemon status"))?;
        if info.ready {
            return Ok(Outcome::AlreadyDone);
        }
        let Token::Microcluster(token) = self.take_token(step, join.token_from)? else {
            return Err(conflict(
                step,
                "the token step issued an LXD token for a microcluster join",
            ));
        };
        client
            .join(join.name, join.address, &token, join.config)
            .await
            .map_err(service_error(
                step,
                format!("joining {}", step.service.name()),
            ))?;
        Ok(Outcome::Changed)
    }

    /// `joiner_client` is the joiner's own daemon of the same service,
    /// when this run has it.
    async fn issue_token<M: MicroclusterApi>(
        &self,
        step: &Step,
        client: &M,
        joiner: &str,
        joiner_client: Option<&M>,
        expire: Duration,
    ) -> Result<Outcome, ApplyError> {
        let members = client
            .cluster_members()
            .await
            .map_err(service_error(step, "listing members"))?;
        if members.iter().any(|m| m.name == joiner) {
            let Some(j) = joiner_client else {
                return Ok(Outcome::AlreadyDone);
            };
            let info = j.server_info().await.map_err(service_error(
                step,
                format!("reading the daemon status of {joiner}"),
            ))?;
            if info.ready {
                return Ok(Outcome::AlreadyDone);
            }
            if !info.address.is_empty() {
                // Configured but its database is not open: it may be a
                // member still starting. Never remove one.
                return Err(half_joined(step, joiner, &info.address));
            }
            // Half-joined: the cluster recorded the member, its own daemon
            // was never initialised (a join cut off by a crash). The record
            // goes, and the join starts again with a new token.
            client.remove_member(joiner).await.map_err(service_error(
                step,
                format!("removing {joiner}, whose earlier join was cut off half-way"),
            ))?;
        }
        let tokens = client
            .tokens()
            .await
            .map_err(service_error(step, "listing tokens"))?;
        if tokens.iter().any(|t| t.name == joiner) {
            client.delete_token(joiner).await.map_err(service_error(
                step,
                format!("deleting the unused token for {joiner}"),
            ))?;
        }
        let token = client
            .issue_token(joiner, expire)
            .await
            .map_err(service_error(step, format!("issuing a token for {joiner}")))?;
        self.put_token(step, Token::Microcluster(token));
        Ok(Outcome::Changed)
    }
}

/// Bootstrap of MicroCeph or MicroOVN: done when the daemon is initialised
/// and lists `name` as a member.
async fn bootstrap<M: MicroclusterApi>(
    client: &M,
    step: &Step,
    name: &str,
    address: SocketAddr,
    config: &BTreeMap<String, String>,
) -> Result<Outcome, ApplyError> {
    let info = client
        .server_info()
        .await
        .map_err(service_error(step, "reading the daemon status"))?;
    if info.ready {
        let members = client
            .cluster_members()
            .await
            .map_err(service_error(step, "listing members"))?;
        if members.iter().any(|m| m.name == name) {
            return Ok(Outcome::AlreadyDone);
        }
        return Err(conflict(
            step,
            format!(
                "{} is already initialised, but not as {name}; it belongs to another cluster",
                step.service.name()
            ),
        ));
    }
    client
        .bootstrap(name, address, config)
        .await
        .map_err(service_error(step, "bootstrapping"))?;
    Ok(Outcome::Changed)
}

/// The cluster lists `joiner` as a member and its own daemon has an
/// address but no open database: a member still starting, or a join cut
/// off after the daemon configured itself. Removing it could remove a live
/// member, so the run stops and says what to check.
fn half_joined(step: &Step, joiner: &str, address: &str) -> ApplyError {
    let service = step.service.name();
    conflict(
        step,
        format!(
            "the {service} cluster lists {joiner} as a member, and {service} on {joiner} has the address {address} but is not ready: wait for it to start and run again; if it stays so, its join was interrupted: remove the member on {} and run again",
            step.node
        ),
    )
}
