//! Objects a cluster defines member by member: storage pools and networks.
//!
//! LXD creates both in two stages: each member's own configuration is
//! posted with `?target=<member>` (the object is then `Pending` and lists
//! that member in its `locations`), then one global post creates it
//! everywhere (`Created`). A defining step is done once the object is
//! created or lists its member; a creating step once it is created.
//!
//! A global creation that failed or was cut off half-way is posted again
//! without its global configuration, which LXD already holds and refuses
//! to be given twice.

use std::collections::BTreeMap;

use clients::lxd::{LxdApi, NetworksPost, ObjectStatus, StoragePoolsPost};
use clients::microceph::MicroCephApi;
use clients::microovn::MicroOvnApi;
use planner::plan::{Action, Step};

use super::{ApplyError, PlanRunner, conflict, service_error};
use crate::run::Outcome;
use crate::wipe;

/// Which kind of object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A storage pool (`/1.0/storage-pools`).
    Pool,
    /// A network (`/1.0/networks`).
    Network,
}

impl Kind {
    /// The object's name in messages.
    fn noun(self) -> &'static str {
        match self {
            Kind::Pool => "pool",
            Kind::Network => "network",
        }
    }

    /// What listing the objects is called in messages.
    fn listing(self) -> &'static str {
        match self {
            Kind::Pool => "listing storage pools",
            Kind::Network => "listing networks",
        }
    }
}

/// The two stages of an object's creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Defined on one member (`?target=`): `CreatePendingPool`,
    /// `CreatePendingNetwork`.
    Define,
    /// Created cluster-wide: `CreatePool`, `CreateNetwork`.
    Create,
}

/// An object as the plan defines it.
#[derive(Debug, PartialEq, Eq)]
struct Object<'a> {
    /// Pool or network.
    kind: Kind,
    /// Its name.
    name: &'a str,
    /// The pool's driver, or the network's type.
    driver: &'a str,
    /// The configuration to post (a member's own keys when defining, the
    /// global keys when creating).
    config: &'a BTreeMap<String, String>,
    /// The description (sent with the global creation only).
    description: &'a str,
}

impl<'a> Object<'a> {
    /// The object `action` defines or creates, and at which stage; `None`
    /// for an action on anything else.
    fn of(action: &'a Action) -> Option<(Stage, Object<'a>)> {
        let none = "";
        let (stage, kind, name, driver, config, description) = match action {
            Action::CreatePendingPool {
                name,
                driver,
                config,
            } => (Stage::Define, Kind::Pool, name, driver, config, none),
            Action::CreatePool {
                name,
                driver,
                description,
                config,
            } => (
                Stage::Create,
                Kind::Pool,
                name,
                driver,
                config,
                &**description,
            ),
            Action::CreatePendingNetwork {
                name,
                network_type,
                config,
            } => (
                Stage::Define,
                Kind::Network,
                name,
                network_type,
                config,
                none,
            ),
            Action::CreateNetwork {
                name,
                network_type,
                description,
                config,
            } => (
                Stage::Create,
                Kind::Network,
                name,
                network_type,
                config,
                &**description,
            ),
            _ => return None,
        };
        let object = Object {
            kind,
            name,
            driver,
            config,
            description,
        };
        Some((stage, object))
    }
}

/// What the cluster-wide listing shows of an object.
struct Listed {
    status: ObjectStatus,
    locations: Vec<String>,
    /// The global keys (the cluster-wide view lists no member's own).
    config: BTreeMap<String, String>,
}

impl Listed {
    /// Whether a cluster-wide creation already ran and did not complete (a
    /// member failed, or the run stopped mid-way): LXD then holds its
    /// global configuration (status `Errored`, or global keys on a
    /// not-yet-created object) and refuses to be given it again ("already
    /// partially created. Please do not specify any global config when
    /// re-running create"). Such a creation is completed by posting it
    /// again without config or description.
    fn partially_created(&self) -> bool {
        self.status == ObjectStatus::Errored
            || (self.status != ObjectStatus::Created && !self.config.is_empty())
    }
}

/// The object named `object.name`, as the cluster lists it, if it exists.
async fn find<L: LxdApi>(lxd: &L, object: &Object<'_>) -> Result<Option<Listed>, clients::Error> {
    Ok(match object.kind {
        Kind::Pool => lxd
            .storage_pools(None)
            .await?
            .into_iter()
            .find(|p| p.name == object.name)
            .map(|p| Listed {
                status: p.status,
                locations: p.locations,
                config: p.config,
            }),
        Kind::Network => lxd
            .networks(None)
            .await?
            .into_iter()
            .find(|n| n.name == object.name)
            .map(|n| Listed {
                status: n.status,
                locations: n.locations.unwrap_or_default(),
                config: n.config,
            }),
    })
}

/// Posts the object with `config` and `description`, on `target` only or
/// (with `None`) cluster-wide.
async fn post<L: LxdApi>(
    lxd: &L,
    object: &Object<'_>,
    config: BTreeMap<String, String>,
    description: String,
    target: Option<&str>,
) -> Result<(), clients::Error> {
    let name = object.name.to_owned();
    match object.kind {
        Kind::Pool => {
            let body = StoragePoolsPost {
                name,
                driver: object.driver.to_owned(),
                config,
                description,
            };
            lxd.create_storage_pool(&body, target).await
        }
        Kind::Network => {
            let body = NetworksPost {
                name,
                kind: object.driver.to_owned(),
                config,
                description,
            };
            lxd.create_network(&body, target).await
        }
    }
}

impl<L, C, O> PlanRunner<L, C, O>
where
    L: LxdApi + 'static,
    C: MicroCephApi + 'static,
    O: MicroOvnApi + 'static,
{
    /// A pool or network step: defines its object on the step's member,
    /// or creates it cluster-wide.
    pub(super) async fn ensure_member_defined(
        &self,
        step: &Step,
        lxd: &L,
    ) -> Result<Outcome, ApplyError> {
        match Object::of(&step.action) {
            Some((Stage::Define, object)) => self.define_on_member(step, lxd, &object).await,
            Some((Stage::Create, object)) => self.create_everywhere(step, lxd, &object).await,
            None => Err(conflict(step, "the step creates no pool or network")),
        }
    }

    /// Defines `object` on the step's member (`CreatePendingPool`,
    /// `CreatePendingNetwork`): done when it is created, or lists the
    /// member.
    async fn define_on_member(
        &self,
        step: &Step,
        lxd: &L,
        object: &Object<'_>,
    ) -> Result<Outcome, ApplyError> {
        let member = step.member();
        let existing = find(lxd, object)
            .await
            .map_err(service_error(step, object.kind.listing()))?;
        if existing.is_some_and(|o| {
            o.status == ObjectStatus::Created || o.locations.iter().any(|l| l == member)
        }) {
            return Ok(Outcome::AlreadyDone);
        }
        post(
            lxd,
            object,
            object.config.clone(),
            String::new(),
            Some(member),
        )
        .await
        .map_err(service_error(
            step,
            format!(
                "defining {} {} on {member}",
                object.kind.noun(),
                object.name
            ),
        ))?;
        Ok(Outcome::Changed)
    }

    /// Creates `object` cluster-wide (`CreatePool`, `CreateNetwork`):
    /// done when it is created. The disks the step wipes are checked
    /// first (a step that wipes none, as every network step, reads
    /// nothing); after a half-done creation only their identity is, since
    /// LXD may already have put them to use.
    async fn create_everywhere(
        &self,
        step: &Step,
        lxd: &L,
        object: &Object<'_>,
    ) -> Result<Outcome, ApplyError> {
        let existing = find(lxd, object)
            .await
            .map_err(service_error(step, object.kind.listing()))?;
        if existing
            .as_ref()
            .is_some_and(|o| o.status == ObjectStatus::Created)
        {
            return Ok(Outcome::AlreadyDone);
        }
        let partial = existing.is_some_and(|o| o.partially_created());
        let scope = if partial {
            wipe::Scope::IdentityOnly
        } else {
            wipe::Scope::Unused
        };
        self.check_wipes(step, scope).await?;
        let (config, description) = if partial {
            (BTreeMap::new(), String::new())
        } else {
            (object.config.clone(), object.description.to_owned())
        };
        post(lxd, object, config, description, None)
            .await
            .map_err(service_error(
                step,
                format!("creating {} {}", object.kind.noun(), object.name),
            ))?;
        Ok(Outcome::Changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(status: &str, config: &[(&str, &str)]) -> Listed {
        Listed {
            status: ObjectStatus::from(status),
            locations: Vec::new(),
            config: config
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn the_four_pool_and_network_actions_name_their_object_and_stage() {
        let config = BTreeMap::from([("size".to_owned(), "5GiB".to_owned())]);
        let pending = Action::CreatePendingPool {
            name: "local".into(),
            driver: "zfs".into(),
            config: config.clone(),
        };
        let (stage, object) = Object::of(&pending).unwrap();
        assert_eq!(stage, Stage::Define);
        assert_eq!(
            object,
            Object {
                kind: Kind::Pool,
                name: "local",
                driver: "zfs",
                config: &config,
                description: "",
            }
        );
        let network = Action::CreateNetwork {
            name: "default".into(),
            network_type: "ovn".into(),
            description: "Default OVN network".into(),
            config: config.clone(),
        };
        let (stage, object) = Object::of(&network).unwrap();
        assert_eq!(stage, Stage::Create);
        assert_eq!(
            (object.kind, object.driver, object.description),
            (Kind::Network, "ovn", "Default OVN network")
        );
        let profile = Action::EnsureProfile {
            name: "default".into(),
            devices: BTreeMap::new(),
        };
        assert_eq!(Object::of(&profile), None);
    }

    #[test]
    fn a_creation_is_partial_when_errored_or_holding_global_keys() {
        assert!(listed("Errored", &[]).partially_created());
        assert!(listed("Pending", &[("size", "5GiB")]).partially_created());
        assert!(!listed("Pending", &[]).partially_created());
        assert!(!listed("Created", &[("size", "5GiB")]).partially_created());
    }
}
