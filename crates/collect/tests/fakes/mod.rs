//! In-memory fakes of the client traits for the collection tests.
//!
//! Each fake holds the answers of the read calls, records every call as
//! `"GET <path>"` with the path the HTTP client would build, and answers
//! a path listed in `fail` with that HTTP status. A missing object answers
//! 404. Every mutating call is recorded as `"MUTATE <what>"` and fails, so
//! that tests can check that collection never changes anything.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use clients::envelope::Operation;
use clients::lxd::{
    ApiExtensions, CertificatesPost, Cluster, ClusterJoin, IssuedCertificateToken, IssuedJoinToken,
    LxdApi, Network, NetworkState, NetworksPost, Profile, ProfilePut, Resources, Server, ServerPut,
    StoragePool, StoragePoolsPost, StorageVolume, StorageVolumesPost, Tagged, TokenField,
};
use clients::microceph::{ConfigEntry, DiskAddResponse, DisksPost, MicroCephApi, Pool, PoolPut};
use clients::microcluster::{MicroclusterApi, ServerInfo, TokenRecord};
use clients::microovn::MicroOvnApi;
use clients::{Error, RequestContext, Service};

/// An `Error::Status` as the HTTP client builds it.
pub fn status_error(service: Service, node: &str, path: &str, status: u16, message: &str) -> Error {
    Error::Status {
        ctx: Box::new(RequestContext {
            service,
            node: node.to_owned(),
            method: http::Method::GET,
            path: path.to_owned(),
        }),
        status,
        message: message.to_owned(),
    }
}

fn refuse<T>(calls: &Mutex<Vec<String>>, what: &str) -> Result<T, Error> {
    calls.lock().unwrap().push(format!("MUTATE {what}"));
    Err(Error::InvalidInput {
        what: "fake".to_owned(),
        reason: format!("{what} must not be called while collecting"),
    })
}

/// A fake LXD.
#[derive(Debug, Default)]
pub struct FakeLxd {
    pub node: String,
    pub server: Server,
    pub cluster: Cluster,
    pub members: Vec<clients::lxd::ClusterMember>,
    pub resources: Resources,
    /// `GET /1.0/storage-pools?recursion=1`.
    pub pools: Vec<StoragePool>,
    /// `GET /1.0/storage-pools/<pool>?target=<member>`, by (pool, member).
    pub pool_views: BTreeMap<(String, String), StoragePool>,
    /// `GET /1.0/networks?recursion=1`.
    pub networks: Vec<Network>,
    /// `GET /1.0/networks/<name>?target=<member>`, by (name, member).
    pub network_views: BTreeMap<(String, String), Network>,
    /// `GET /1.0/networks/<name>/state`.
    pub states: BTreeMap<String, NetworkState>,
    pub profiles: Vec<Profile>,
    /// Custom volumes by (pool, target).
    pub volumes: BTreeMap<(String, Option<String>), Vec<StorageVolume>>,
    /// Paths answered with this status.
    pub fail: BTreeMap<String, u16>,
    pub calls: Mutex<Vec<String>>,
}

impl FakeLxd {
    pub fn new(node: &str) -> Self {
        FakeLxd {
            node: node.to_owned(),
            ..FakeLxd::default()
        }
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    fn get<T: Clone>(&self, path: String, value: Option<&T>) -> Result<T, Error> {
        self.calls.lock().unwrap().push(format!("GET {path}"));
        if let Some(status) = self.fail.get(&path) {
            return Err(status_error(
                Service::Lxd,
                &self.node,
                &path,
                *status,
                "injected failure",
            ));
        }
        value
            .cloned()
            .ok_or_else(|| status_error(Service::Lxd, &self.node, &path, 404, "not found"))
    }
}

fn target(path: &str, target: Option<&str>) -> String {
    match target {
        Some(t) if path.contains('?') => format!("{path}&target={t}"),
        Some(t) => format!("{path}?target={t}"),
        None => path.to_owned(),
    }
}

impl LxdApi for FakeLxd {
    async fn ready(&self) -> Result<(), Error> {
        self.get("/internal/ready".to_owned(), Some(&()))
    }

    async fn server(&self, t: Option<&str>) -> Result<Tagged<Server>, Error> {
        let value = self.get(target("/1.0", t), Some(&self.server))?;
        Ok(Tagged { value, etag: None })
    }

    async fn api_extensions(&self) -> Result<ApiExtensions, Error> {
        Ok(self.server(None).await?.value.extensions())
    }

    async fn put_server(
        &self,
        _: &ServerPut,
        _: Option<&str>,
        _: Option<&str>,
    ) -> Result<(), Error> {
        refuse(&self.calls, "put_server")
    }

    async fn patch_server(
        &self,
        _: &ServerPut,
        _: Option<&str>,
        _: Option<&str>,
    ) -> Result<(), Error> {
        refuse(&self.calls, "patch_server")
    }

    async fn cluster(&self) -> Result<Tagged<Cluster>, Error> {
        let value = self.get("/1.0/cluster".to_owned(), Some(&self.cluster))?;
        Ok(Tagged { value, etag: None })
    }

    async fn enable_clustering(&self, _: &str) -> Result<(), Error> {
        refuse(&self.calls, "enable_clustering")
    }

    async fn join_cluster(&self, _: &ClusterJoin, _: TokenField) -> Result<(), Error> {
        refuse(&self.calls, "join_cluster")
    }

    async fn issue_join_token(&self, _: &str) -> Result<IssuedJoinToken, Error> {
        refuse(&self.calls, "issue_join_token")
    }

    async fn remove_member(&self, _: &str) -> Result<(), Error> {
        refuse(&self.calls, "remove_member")
    }

    async fn cluster_members(&self) -> Result<Vec<clients::lxd::ClusterMember>, Error> {
        self.get(
            "/1.0/cluster/members?recursion=1".to_owned(),
            Some(&self.members),
        )
    }

    async fn add_certificate(&self, _: &CertificatesPost) -> Result<(), Error> {
        refuse(&self.calls, "add_certificate")
    }

    async fn issue_certificate_token(&self, _: &str) -> Result<IssuedCertificateToken, Error> {
        refuse(&self.calls, "issue_certificate_token")
    }

    async fn trust_with_token(&self, _: &str, _: TokenField) -> Result<(), Error> {
        refuse(&self.calls, "trust_with_token")
    }

    async fn resources(&self, t: Option<&str>) -> Result<Resources, Error> {
        self.get(target("/1.0/resources", t), Some(&self.resources))
    }

    async fn storage_pools(&self, t: Option<&str>) -> Result<Vec<StoragePool>, Error> {
        self.get(
            target("/1.0/storage-pools?recursion=1", t),
            Some(&self.pools),
        )
    }

    async fn storage_pool(&self, name: &str, t: Option<&str>) -> Result<StoragePool, Error> {
        let path = target(&format!("/1.0/storage-pools/{name}"), t);
        match t {
            Some(member) => self.get(
                path,
                self.pool_views.get(&(name.to_owned(), member.to_owned())),
            ),
            None => self.get(path, self.pools.iter().find(|p| p.name == name)),
        }
    }

    async fn create_storage_pool(
        &self,
        _: &StoragePoolsPost,
        _: Option<&str>,
    ) -> Result<(), Error> {
        refuse(&self.calls, "create_storage_pool")
    }

    async fn custom_volumes(
        &self,
        pool: &str,
        t: Option<&str>,
    ) -> Result<Vec<StorageVolume>, Error> {
        let path = target(
            &format!("/1.0/storage-pools/{pool}/volumes/custom?recursion=1"),
            t,
        );
        let key = (pool.to_owned(), t.map(str::to_owned));
        let empty = Vec::new();
        self.get(path, Some(self.volumes.get(&key).unwrap_or(&empty)))
    }

    async fn create_custom_volume(
        &self,
        _: &str,
        _: &StorageVolumesPost,
        _: Option<&str>,
    ) -> Result<(), Error> {
        refuse(&self.calls, "create_custom_volume")
    }

    async fn networks(&self, t: Option<&str>) -> Result<Vec<Network>, Error> {
        self.get(target("/1.0/networks?recursion=1", t), Some(&self.networks))
    }

    async fn network(&self, name: &str, t: Option<&str>) -> Result<Network, Error> {
        let path = target(&format!("/1.0/networks/{name}"), t);
        match t {
            Some(member) => self.get(
                path,
                self.network_views
                    .get(&(name.to_owned(), member.to_owned())),
            ),
            None => self.get(path, self.networks.iter().find(|n| n.name == name)),
        }
    }

    async fn network_state(&self, name: &str, t: Option<&str>) -> Result<NetworkState, Error> {
        self.get(
            target(&format!("/1.0/networks/{name}/state"), t),
            self.states.get(name),
        )
    }

    async fn create_network(&self, _: &NetworksPost, _: Option<&str>) -> Result<(), Error> {
        refuse(&self.calls, "create_network")
    }

    async fn profiles(&self) -> Result<Vec<Profile>, Error> {
        self.get("/1.0/profiles?recursion=1".to_owned(), Some(&self.profiles))
    }

    async fn profile(&self, name: &str) -> Result<Tagged<Profile>, Error> {
        let value = self.get(
            format!("/1.0/profiles/{name}"),
            self.profiles.iter().find(|p| p.name == name),
        )?;
        Ok(Tagged { value, etag: None })
    }

    async fn put_profile(&self, _: &str, _: &ProfilePut, _: Option<&str>) -> Result<(), Error> {
        refuse(&self.calls, "put_profile")
    }

    async fn patch_profile(&self, _: &str, _: &ProfilePut, _: Option<&str>) -> Result<(), Error> {
        refuse(&self.calls, "patch_profile")
    }

    async fn operations(&self) -> Result<Vec<Operation>, Error> {
        self.get("/1.0/operations?recursion=1".to_owned(), Some(&Vec::new()))
    }

    async fn cancel_operation(&self, _: &str) -> Result<(), Error> {
        refuse(&self.calls, "cancel_operation")
    }
}

/// A fake microcluster daemon: MicroCeph or MicroOVN.
#[derive(Debug)]
pub struct FakeMicro {
    pub service: Service,
    pub node: String,
    pub info: ServerInfo,
    pub members: Vec<clients::microcluster::ClusterMember>,
    /// MicroCeph `GET /1.0/disks`.
    pub disks: Vec<clients::microceph::Disk>,
    /// MicroCeph `GET /1.0/configs`.
    pub configs: Vec<ConfigEntry>,
    /// MicroCeph `GET /1.0/pools`.
    pub pools: Vec<Pool>,
    pub fail: BTreeMap<String, u16>,
    pub calls: Mutex<Vec<String>>,
}

impl FakeMicro {
    pub fn new(service: Service, node: &str) -> Self {
        FakeMicro {
            service,
            node: node.to_owned(),
            info: ServerInfo::default(),
            members: Vec::new(),
            disks: Vec::new(),
            configs: Vec::new(),
            pools: Vec::new(),
            fail: BTreeMap::new(),
            calls: Mutex::new(Vec::new()),
        }
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    fn get<T: Clone>(&self, path: &str, value: &T) -> Result<T, Error> {
        self.calls.lock().unwrap().push(format!("GET {path}"));
        if let Some(status) = self.fail.get(path) {
            return Err(status_error(
                self.service,
                &self.node,
                path,
                *status,
                "injected failure",
            ));
        }
        Ok(value.clone())
    }
}

impl MicroclusterApi for FakeMicro {
    async fn ready(&self) -> Result<(), Error> {
        self.get("/core/1.0/ready", &())
    }

    async fn server_info(&self) -> Result<ServerInfo, Error> {
        self.get("/core/1.0", &self.info)
    }

    async fn bootstrap(
        &self,
        _: &str,
        _: SocketAddr,
        _: &BTreeMap<String, String>,
    ) -> Result<(), Error> {
        refuse(&self.calls, "bootstrap")
    }

    async fn join(
        &self,
        _: &str,
        _: SocketAddr,
        _: &str,
        _: &BTreeMap<String, String>,
    ) -> Result<(), Error> {
        refuse(&self.calls, "join")
    }

    async fn issue_token(&self, _: &str, _: Duration) -> Result<String, Error> {
        refuse(&self.calls, "issue_token")
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, Error> {
        self.get("/core/control/tokens", &Vec::new())
    }

    async fn delete_token(&self, _: &str) -> Result<(), Error> {
        refuse(&self.calls, "delete_token")
    }

    async fn remove_member(&self, _: &str) -> Result<(), Error> {
        refuse(&self.calls, "remove_member")
    }

    async fn cluster_members(&self) -> Result<Vec<clients::microcluster::ClusterMember>, Error> {
        if !self.info.ready {
            self.calls
                .lock()
                .unwrap()
                .push("GET /core/1.0/cluster".to_owned());
            return Err(status_error(
                self.service,
                &self.node,
                "/core/1.0/cluster",
                503,
                "Daemon not yet initialized",
            ));
        }
        self.get("/core/1.0/cluster", &self.members)
    }
}

impl MicroCephApi for FakeMicro {
    async fn add_disks(&self, _: &DisksPost, _: Option<&str>) -> Result<DiskAddResponse, Error> {
        refuse(&self.calls, "add_disks")
    }

    async fn disks(&self) -> Result<Vec<clients::microceph::Disk>, Error> {
        self.get("/1.0/disks", &self.disks)
    }

    async fn configs(&self, key: Option<&str>) -> Result<Vec<ConfigEntry>, Error> {
        assert_eq!(key, None, "collection reads every key at once");
        self.get("/1.0/configs", &self.configs)
    }

    async fn set_config(&self, _: &ConfigEntry) -> Result<(), Error> {
        refuse(&self.calls, "set_config")
    }

    async fn pools(&self, t: Option<&str>) -> Result<Vec<Pool>, Error> {
        self.get(&target("/1.0/pools", t), &self.pools)
    }

    async fn set_pool_replication(&self, _: &PoolPut, _: Option<&str>) -> Result<(), Error> {
        refuse(&self.calls, "set_pool_replication")
    }

    async fn services(&self) -> Result<Vec<clients::microceph::ServiceEntry>, Error> {
        self.get("/1.0/services", &Vec::new())
    }
}

impl MicroOvnApi for FakeMicro {
    async fn services(&self) -> Result<Vec<clients::microceph::ServiceEntry>, Error> {
        self.get("/1.0/services", &Vec::new())
    }
}
