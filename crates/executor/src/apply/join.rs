//! The join steps of [`super::PlanRunner`]: issuing LXD and microcluster
//! join tokens (repairing a member whose join was cut half-way), joining a
//! microcluster, and reading the cluster certificate a joiner pins.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use clients::cert::Fingerprint;
use clients::envelope::OperationState;
use clients::lxd::LxdApi;
use clients::microceph::MicroCephApi;
use clients::microcluster::MicroclusterApi;
use clients::microovn::MicroOvnApi;
use planner::plan::Step;

use super::{ApplyError, PlanRunner, Token, conflict, service_error};
use crate::run::Outcome;

impl<L, C, O> PlanRunner<L, C, O>
where
    L: LxdApi + 'static,
    C: MicroCephApi + 'static,
    O: MicroOvnApi + 'static,
{
    /// `joiner_lxd` is the joiner's own LXD, when this run has it.
    pub(super) async fn issue_lxd_token(
        &self,
        step: &Step,
        lxd: &L,
        joiner: &str,
        joiner_lxd: Option<&L>,
    ) -> Result<Outcome, ApplyError> {
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

    /// Joins this member's microcluster daemon with the token `token_from`
    /// issued, unless it is already part of a cluster.
    pub(super) async fn join_microcluster<M: MicroclusterApi>(
        &self,
        step: &Step,
        client: &M,
        name: &str,
        address: SocketAddr,
        token_from: &planner::StepId,
        config: &BTreeMap<String, String>,
    ) -> Result<Outcome, ApplyError> {
        let info = client
            .server_info()
            .await
            .map_err(service_error(step, "reading the daemon status"))?;
        if info.ready {
            return Ok(Outcome::AlreadyDone);
        }
        let Token::Microcluster(token) = self.take_token(step, &token_from.0)? else {
            return Err(conflict(
                step,
                "the token step issued an LXD token for a microcluster join",
            ));
        };
        client
            .join(name, address, &token, config)
            .await
            .map_err(service_error(
                step,
                format!("joining {}", step.service.name()),
            ))?;
        Ok(Outcome::Changed)
    }

    /// `joiner_client` is the joiner's own daemon of the same service,
    /// when this run has it.
    pub(super) async fn issue_microcluster_token<M: MicroclusterApi>(
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

    /// The cluster certificate a join sends: read from the daemon of the
    /// member that issued the token (through this run's own connection to
    /// it, so no new connection to the cluster address is needed) and
    /// checked against the fingerprint the token carries.
    pub(super) async fn cluster_certificate(
        &self,
        step: &Step,
        token_step: &planner::StepId,
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
                step: step.id.0.clone(),
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
