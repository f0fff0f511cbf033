//! MicroCeph's extension API (`/1.0/...` on its control socket), the
//! [`MicroCephApi`] trait and [`MicroCephClient`].
//!
//! Failure reporting that must not be ignored:
//! * `POST /1.0/disks` answers HTTP 200 even when disks fail; failures are
//!   only in `validation_error` (the request as a whole) and in
//!   `report[].report` / `report[].error` (per disk). The client turns the
//!   first into [`Error::DiskValidation`] and any failed disk into
//!   [`Error::DiskFailures`] listing every failed disk. A request for disks
//!   that comes back without any report is a protocol error: whether the
//!   disks were added cannot be known.
//! * `GET /1.0/configs` requires a JSON body even though it is a `GET`
//!   (`cmdConfigsGet` decodes it; no body is a 500 `EOF`). With a key it
//!   answers `ceph config get` output, newline included, so values are
//!   trimmed here; a key outside MicroCeph's table is a 500 "requested key
//!   … is not a MicroCeph supported cluster config" (squid and later;
//!   permanent, see [`crate::error::PERMANENT_500_MESSAGES`]). Without a key
//!   it lists only the table's keys that Ceph has set: never
//!   `osd_pool_default_size`, which MicroCeph does not report at all.
//!
//! Every call is documented, with its upstream source per MicroCeph
//! version, in `docs/contracts/microceph.md`.
//!
//! The core microcluster calls (bootstrap, join, tokens) are available on
//! the same client through [`MicroclusterApi`]. Bootstrap configuration
//! keys are built by [`bootstrap_config`].

use std::collections::BTreeMap;
use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::error::DiskFailure;
use crate::microcluster::{MicroclusterApi, MicroclusterClient, delegate_microcluster_api};
use crate::rest::{CallOptions, RestClient};
use crate::wire::{is_false, nullable};
use crate::{Error, Service, Transport, with_target};

/// `POST /1.0/disks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisksPost {
    /// Device paths.
    pub path: Vec<String>,
    /// Wipe before use.
    pub wipe: bool,
    /// Encrypt with LUKS.
    pub encrypt: bool,
    /// WAL device.
    pub waldev: Option<String>,
    /// Wipe the WAL device.
    pub walwipe: bool,
    /// Encrypt the WAL device.
    pub walencrypt: bool,
    /// DB device.
    pub dbdev: Option<String>,
    /// Wipe the DB device.
    pub dbwipe: bool,
    /// Encrypt the DB device.
    pub dbencrypt: bool,
    /// Report without adding (DSL requests only; v20.2.1 and later, `omitempty`;
    /// earlier versions ignore it, so it is never sent true to them).
    #[serde(default, skip_serializing_if = "is_false")]
    pub dry_run: bool,
}

impl DisksPost {
    /// Adds `paths` as OSDs with no separate WAL/DB devices.
    pub fn new(paths: Vec<String>, wipe: bool, encrypt: bool) -> Self {
        DisksPost {
            path: paths,
            wipe,
            encrypt,
            ..DisksPost::default()
        }
    }
}

/// `POST /1.0/disks` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskAddResponse {
    /// Non-empty when the request as a whole was rejected.
    #[serde(default)]
    pub validation_error: String,
    /// One entry per disk.
    #[serde(default, deserialize_with = "nullable")]
    pub report: Vec<DiskAddReport>,
    /// Warnings.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub warnings: Vec<String>,
}

/// One disk's outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskAddReport {
    /// Device path.
    #[serde(default)]
    pub path: String,
    /// `Success` or `Failure`.
    #[serde(default)]
    pub report: String,
    /// The error of a failed disk.
    #[serde(default)]
    pub error: String,
}

/// `GET /1.0/disks` entries (every OSD in the cluster).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disk {
    /// OSD number.
    #[serde(default)]
    pub osd: i64,
    /// Device path.
    #[serde(default)]
    pub path: String,
    /// Member name.
    #[serde(default)]
    pub location: String,
}

/// A cluster configuration entry (`/1.0/configs`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigEntry {
    /// Key (`cluster_network`, `public_network`…; empty = all in a `GET`).
    #[serde(default)]
    pub key: String,
    /// Value.
    #[serde(default)]
    pub value: String,
    /// Wait for daemons to restart.
    #[serde(default)]
    pub wait: bool,
    /// Do not restart daemons.
    #[serde(default)]
    pub skip_restart: bool,
}

/// `GET /1.0/pools` entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    /// Pool name.
    #[serde(default)]
    pub pool: String,
    /// Pool id.
    #[serde(default)]
    pub pool_id: i64,
    /// Replication size.
    #[serde(default)]
    pub size: i64,
    /// Minimum size.
    #[serde(default)]
    pub min_size: i64,
    /// CRUSH rule.
    #[serde(default)]
    pub crush_rule: String,
}

/// `PUT /1.0/pools-op`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolPut {
    /// Pools (`["*"]` = all, `[""]` = only the defaults).
    pub pools: Vec<String>,
    /// Replication size.
    pub size: i64,
}

/// `GET /1.0/services` entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceEntry {
    /// `mon`, `mgr`, `mds`, `osd`, `rgw`…
    #[serde(default)]
    pub service: String,
    /// Member name.
    #[serde(default)]
    pub location: String,
}

/// MicroCeph bootstrap `config` (`PublicNet`, `ClusterNet` CIDRs), as
/// MicroCloud sends it. Joins send no configuration.
pub fn bootstrap_config(
    public_network: Option<&str>,
    cluster_network: Option<&str>,
) -> BTreeMap<String, String> {
    let mut config = BTreeMap::new();
    if let Some(net) = public_network {
        config.insert("PublicNet".to_owned(), net.to_owned());
    }
    if let Some(net) = cluster_network {
        config.insert("ClusterNet".to_owned(), net.to_owned());
    }
    config
}

/// The MicroCeph calls the bootstrapper makes, on top of the core ones.
pub trait MicroCephApi: MicroclusterApi {
    /// `POST /1.0/disks[?target=]`. Fails with [`Error::DiskValidation`] or
    /// [`Error::DiskFailures`] when MicroCeph reports a failure.
    fn add_disks(
        &self,
        body: &DisksPost,
        target: Option<&str>,
    ) -> impl Future<Output = Result<DiskAddResponse, Error>> + Send;

    /// `GET /1.0/disks`.
    fn disks(&self) -> impl Future<Output = Result<Vec<Disk>, Error>> + Send;

    /// `GET /1.0/configs` (with a body; `None` = all keys).
    fn configs(
        &self,
        key: Option<&str>,
    ) -> impl Future<Output = Result<Vec<ConfigEntry>, Error>> + Send;

    /// `PUT /1.0/configs`.
    fn set_config(&self, entry: &ConfigEntry) -> impl Future<Output = Result<(), Error>> + Send;

    /// `GET /1.0/pools[?target=]`.
    fn pools(&self, target: Option<&str>) -> impl Future<Output = Result<Vec<Pool>, Error>> + Send;

    /// `PUT /1.0/pools-op[?target=]`: sets the replication size.
    fn set_pool_replication(
        &self,
        body: &PoolPut,
        target: Option<&str>,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `GET /1.0/services`.
    fn services(&self) -> impl Future<Output = Result<Vec<ServiceEntry>, Error>> + Send;
}

/// [`MicroCephApi`] and [`MicroclusterApi`] over a [`Transport`].
#[derive(Debug, Clone)]
pub struct MicroCephClient {
    core: MicroclusterClient,
}

impl MicroCephClient {
    /// A client for the MicroCeph at `transport`, on the node `node`.
    pub fn new(transport: Transport, node: &str) -> Self {
        MicroCephClient {
            core: MicroclusterClient::new(transport, Service::MicroCeph, node),
        }
    }

    /// A client from a configured [`RestClient`].
    pub fn from_rest(rest: RestClient) -> Self {
        MicroCephClient {
            core: MicroclusterClient::from_rest(rest),
        }
    }

    /// The request layer.
    pub fn rest(&self) -> &RestClient {
        self.core.rest()
    }
}

delegate_microcluster_api!(MicroCephClient);

/// Checks a disk report; see the module documentation.
pub fn check_disk_report(
    ctx: &crate::RequestContext,
    request: &DisksPost,
    response: &DiskAddResponse,
) -> Result<(), Error> {
    if !response.validation_error.is_empty() {
        return Err(Error::DiskValidation {
            ctx: Box::new(ctx.clone()),
            message: response.validation_error.clone(),
        });
    }
    let failures: Vec<DiskFailure> = response
        .report
        .iter()
        .filter(|r| r.report != "Success" || !r.error.is_empty())
        .map(|r| DiskFailure {
            path: r.path.clone(),
            report: r.report.clone(),
            error: r.error.clone(),
        })
        .collect();
    if !failures.is_empty() {
        return Err(Error::DiskFailures {
            ctx: Box::new(ctx.clone()),
            failures,
        });
    }
    if !request.path.is_empty() && response.report.is_empty() && !request.dry_run {
        return Err(Error::Protocol {
            ctx: Box::new(ctx.clone()),
            detail: format!(
                "MicroCeph answered the request for {} without a per-disk report; whether the disks were added is unknown, check `GET /1.0/disks`",
                request.path.join(", ")
            ),
        });
    }
    Ok(())
}

impl MicroCephApi for MicroCephClient {
    async fn add_disks(
        &self,
        body: &DisksPost,
        target: Option<&str>,
    ) -> Result<DiskAddResponse, Error> {
        let path = with_target("/1.0/disks", target);
        let rest = self.rest();
        let response: DiskAddResponse = rest
            .sync(http::Method::POST, &path, Some(body), CallOptions::long())
            .await?;
        check_disk_report(&rest.context(&http::Method::POST, &path), body, &response)?;
        Ok(response)
    }

    async fn disks(&self) -> Result<Vec<Disk>, Error> {
        self.rest()
            .get::<Option<Vec<Disk>>>("/1.0/disks")
            .await
            .map(Option::unwrap_or_default)
    }

    async fn configs(&self, key: Option<&str>) -> Result<Vec<ConfigEntry>, Error> {
        let body = ConfigEntry {
            key: key.unwrap_or_default().to_owned(),
            ..ConfigEntry::default()
        };
        self.rest()
            .sync::<Option<Vec<ConfigEntry>>, _>(
                http::Method::GET,
                "/1.0/configs",
                Some(&body),
                CallOptions::default(),
            )
            .await
            .map(|entries| {
                let mut entries = entries.unwrap_or_default();
                // `ceph config get` output ends with a newline, which
                // `GetConfigItem` passes on (microceph/ceph/config.go).
                for e in &mut entries {
                    let trimmed = e.value.trim_end().len();
                    e.value.truncate(trimmed);
                }
                entries
            })
    }

    async fn set_config(&self, entry: &ConfigEntry) -> Result<(), Error> {
        self.rest()
            .sync_reply(
                http::Method::PUT,
                "/1.0/configs",
                Some(entry),
                CallOptions::long(),
            )
            .await
            .map(drop)
    }

    async fn pools(&self, target: Option<&str>) -> Result<Vec<Pool>, Error> {
        self.rest()
            .get::<Option<Vec<Pool>>>(&with_target("/1.0/pools", target))
            .await
            .map(Option::unwrap_or_default)
    }

    async fn set_pool_replication(
        &self,
        body: &PoolPut,
        target: Option<&str>,
    ) -> Result<(), Error> {
        self.rest()
            .sync_reply(
                http::Method::PUT,
                &with_target("/1.0/pools-op", target),
                Some(body),
                CallOptions::long(),
            )
            .await
            .map(drop)
    }

    async fn services(&self) -> Result<Vec<ServiceEntry>, Error> {
        self.rest()
            .get::<Option<Vec<ServiceEntry>>>("/1.0/services")
            .await
            .map(Option::unwrap_or_default)
    }
}
