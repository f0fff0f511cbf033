//! The latency model: how long each service call and each slow operation
//! takes at time scale 1, every value with its source.
//!
//! The model lives in a versioned file (`latency/model-v1.yaml`, embedded
//! as [`LatencyModel::V1`]). It gives
//!
//! * [`LatencyModel::timings`]: the operation durations the simulated
//!   services already use ([`Timings`]);
//! * [`LatencyModel::call_rules`]: one latency [`FaultRule`] per service,
//!   added to every request that service receives.
//!
//! [`SimBuilder::latency_model`](crate::SimBuilder::latency_model) installs
//! both, and both are multiplied by the simulation's time scale like every
//! other simulated duration. The bootstrap benchmark derives the plan's
//! lower bound from the same values, so the bound and the run agree.
//!
//! Unknown keys, a missing value, an empty `source` or another `version`
//! are errors: a value without its source is not part of the model.

use std::time::Duration;

use serde::Deserialize;

use crate::error::SimError;
use crate::faults::{FaultRule, Service};
use crate::sim::Timings;

/// One value of the model: milliseconds at time scale 1, and where the
/// number comes from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Figure {
    /// Milliseconds at time scale 1.
    pub ms: u64,
    /// "measured: …" or "assumption: …", with the reference.
    pub source: String,
}

impl Figure {
    /// The value as a duration.
    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.ms)
    }
}

/// The cost of one request, per service.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calls {
    /// Any LXD request.
    pub lxd: Figure,
    /// Any MicroCeph request.
    pub microceph: Figure,
    /// Any MicroOVN request.
    pub microovn: Figure,
}

/// The slow part of each operation, on top of its call.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operations {
    /// LXD: enabling clustering on the first member.
    pub lxd_cluster_bootstrap: Figure,
    /// LXD: a member joining.
    pub lxd_cluster_join: Figure,
    /// LXD: a local storage pool on one member (pending definitions take a
    /// quarter of it).
    pub lxd_pool_create: Figure,
    /// LXD: a Ceph-backed pool, on the member that creates it.
    pub lxd_ceph_pool_create: Figure,
    /// LXD: a network (pending definitions take a quarter of it).
    pub lxd_network_create: Figure,
    /// LXD: a profile update.
    pub lxd_profile_update: Figure,
    /// microcluster bootstrap (MicroCeph, MicroOVN).
    pub microcluster_bootstrap: Figure,
    /// microcluster join (MicroCeph, MicroOVN).
    pub microcluster_join: Figure,
    /// MicroCeph: one OSD.
    pub microceph_disk_add: Figure,
}

/// A versioned latency model.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyModel {
    /// Format and meaning version (1).
    pub version: u32,
    /// Cost of every request.
    pub calls: Calls,
    /// Slow operations.
    pub operations: Operations,
}

impl LatencyModel {
    /// The text of `latency/model-v1.yaml`.
    pub const V1: &'static str = include_str!("../latency/model-v1.yaml");

    /// The embedded version-1 model.
    ///
    /// # Errors
    ///
    /// Only if the embedded file is broken (a unit test guards it).
    pub fn v1() -> Result<Self, SimError> {
        Self::parse(Self::V1, "latency/model-v1.yaml")
    }

    /// Parses and checks a model file (YAML or JSON).
    ///
    /// # Errors
    ///
    /// [`SimError::LatencyModel`] naming `origin` and the problem: a syntax
    /// error, an unknown or missing key, another version, or a value
    /// without its source.
    pub fn parse(text: &str, origin: &str) -> Result<Self, SimError> {
        let err = |detail: String| SimError::LatencyModel {
            origin: origin.to_owned(),
            detail,
        };
        let model: LatencyModel = serde_saphyr::from_str(text).map_err(|e| err(e.to_string()))?;
        if model.version != 1 {
            return Err(err(format!(
                "version {} is not known (this build reads version 1)",
                model.version
            )));
        }
        if let Some((key, _)) = model
            .figures()
            .into_iter()
            .find(|(_, f)| f.source.trim().is_empty())
        {
            return Err(err(format!(
                "{key}: `source` is empty; say where the value comes from (\"measured: …\" or \"assumption: …\")"
            )));
        }
        Ok(model)
    }

    /// Every value with its key path, in file order.
    pub fn figures(&self) -> Vec<(&'static str, &Figure)> {
        let (c, o) = (&self.calls, &self.operations);
        vec![
            ("calls.lxd", &c.lxd),
            ("calls.microceph", &c.microceph),
            ("calls.microovn", &c.microovn),
            ("operations.lxd_cluster_bootstrap", &o.lxd_cluster_bootstrap),
            ("operations.lxd_cluster_join", &o.lxd_cluster_join),
            ("operations.lxd_pool_create", &o.lxd_pool_create),
            ("operations.lxd_ceph_pool_create", &o.lxd_ceph_pool_create),
            ("operations.lxd_network_create", &o.lxd_network_create),
            ("operations.lxd_profile_update", &o.lxd_profile_update),
            (
                "operations.microcluster_bootstrap",
                &o.microcluster_bootstrap,
            ),
            ("operations.microcluster_join", &o.microcluster_join),
            ("operations.microceph_disk_add", &o.microceph_disk_add),
        ]
    }

    /// The operation durations, as the simulated services use them.
    pub fn timings(&self) -> Timings {
        let o = &self.operations;
        Timings {
            cluster_bootstrap: o.lxd_cluster_bootstrap.duration(),
            cluster_join: o.lxd_cluster_join.duration(),
            pool_create: o.lxd_pool_create.duration(),
            ceph_pool_create: o.lxd_ceph_pool_create.duration(),
            network_create: o.lxd_network_create.duration(),
            profile_update: o.lxd_profile_update.duration(),
            microcluster_bootstrap: o.microcluster_bootstrap.duration(),
            microcluster_join: o.microcluster_join.duration(),
            ceph_disk_add: o.microceph_disk_add.duration(),
            ..Timings::default()
        }
    }

    /// The cost of one request to `service`.
    pub fn call(&self, service: Service) -> Duration {
        match service {
            Service::Lxd => self.calls.lxd.duration(),
            Service::Microceph => self.calls.microceph.duration(),
            Service::Microovn => self.calls.microovn.duration(),
        }
    }

    /// One latency rule per service with a non-zero call cost, matching
    /// every request (scaled by the simulation's time scale when applied).
    pub fn call_rules(&self) -> Vec<FaultRule> {
        [Service::Lxd, Service::Microceph, Service::Microovn]
            .into_iter()
            .filter(|s| !self.call(*s).is_zero())
            .map(|s| {
                FaultRule {
                    service: Some(s),
                    ..FaultRule::any()
                }
                .latency(self.call(s))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_parses_and_every_value_has_a_source() {
        let m = LatencyModel::v1().unwrap();
        assert_eq!(m.version, 1);
        assert_eq!(m.figures().len(), 12);
        for (key, f) in m.figures() {
            assert!(
                f.source.starts_with("measured: ") || f.source.starts_with("assumption: "),
                "{key}: {}",
                f.source
            );
        }
        assert_eq!(m.timings().cluster_bootstrap, Duration::from_millis(980));
        assert_eq!(m.call(Service::Lxd), Duration::from_millis(20));
        let rules = m.call_rules();
        assert_eq!(rules.len(), 3);
        assert!(rules.iter().all(|r| r.method.is_none() && r.path == "**"));
    }

    #[test]
    fn missing_source_unknown_key_and_version_are_refused() {
        let broken = LatencyModel::V1.replacen(
            "source: >-\n      measured: LXD 5.0.2",
            "source: \"\"\n    x: >-\n      measured: LXD 5.0.2",
            1,
        );
        let e = LatencyModel::parse(&broken, "m.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("latency model m.yaml: "), "{e}");
        assert!(e.contains("unknown field `x`"), "{e}");

        let empty = LatencyModel::V1.replacen(
            "source: >-\n      measured: LXD 5.0.2 over its unix socket, PATCH /1.0 18 ms, POST\n      /1.0/certificates 17 ms, POST /1.0/cluster/members (token operation)\n      20 ms (real-services-on-this-machine.md, sections 1b and 1f)",
            "source: \" \"",
            1,
        );
        assert_ne!(empty, LatencyModel::V1);
        assert_eq!(
            LatencyModel::parse(&empty, "m.yaml")
                .unwrap_err()
                .to_string(),
            "latency model m.yaml: calls.lxd: `source` is empty; say where the value comes from (\"measured: …\" or \"assumption: …\")"
        );

        let v2 = LatencyModel::V1.replacen("version: 1", "version: 2", 1);
        assert_eq!(
            LatencyModel::parse(&v2, "m.yaml").unwrap_err().to_string(),
            "latency model m.yaml: version 2 is not known (this build reads version 1)"
        );
    }
}
