//! Starting simulated nodes and pointing the typed clients at them, plus
//! the flows several tests repeat (LXD bootstrap and join, microcluster
//! bootstrap and join), written only with the typed clients.

use std::net::SocketAddr;
use std::time::Duration;

use clients::cert::{Fingerprint, Identity};
use clients::error::RequestContext;
use clients::lxd::{ClusterJoin, ClusterMemberConfigKey, LxdApi, LxdClient, ServerPut};
use clients::microceph::MicroCephClient;
use clients::microcluster::MicroclusterApi;
use clients::microovn::{MicroOvnClient, init_config};
use clients::rest::{RestClient, Timeouts};
use clients::transport::Transport;
use clients::{Error, Service};
use simulators::{LxdProfile, Sim, SimBuilder, SimNode};

/// Every simulated duration (operations, joins, OSD creation) is scaled by
/// this: small enough for a fast suite, non-zero so that operations are
/// really `Running` when the client starts waiting on them.
pub const TIME_SCALE: f64 = 0.01;

/// The ports MicroCloud gives MicroCeph and MicroOVN.
pub const CEPH_PORT: u16 = 7443;
pub const OVN_PORT: u16 = 6443;

/// One hour, as MicroCloud asks for microcluster tokens.
pub const HOUR: Duration = Duration::from_secs(3600);

/// `n` nodes named `node1`…, all with the given LXD profile.
pub async fn sim(n: usize, profile: LxdProfile) -> Sim {
    SimBuilder::new()
        .nodes(n)
        .profile(profile)
        .time_scale(TIME_SCALE)
        .start()
        .await
        .unwrap()
}

pub fn node<'a>(sim: &'a Sim, name: &str) -> &'a SimNode {
    sim.node(name).unwrap()
}

/// The typed LXD client on a node's unix socket.
pub fn lxd(sim: &Sim, name: &str) -> LxdClient {
    LxdClient::new(Transport::unix(node(sim, name).lxd_socket()), name)
}

/// The typed MicroCeph client on a node's control socket.
pub fn ceph(sim: &Sim, name: &str) -> MicroCephClient {
    MicroCephClient::new(Transport::unix(node(sim, name).microceph_socket()), name)
}

/// The typed MicroOVN client on a node's control socket.
pub fn ovn(sim: &Sim, name: &str) -> MicroOvnClient {
    MicroOvnClient::new(Transport::unix(node(sim, name).microovn_socket()), name)
}

/// Time limits short enough for the hang tests, long enough for any
/// simulated operation at [`TIME_SCALE`] on a loaded machine.
pub fn short_timeouts() -> Timeouts {
    Timeouts {
        request: Duration::from_millis(1500),
        long_request: Duration::from_millis(1500),
        operation: Duration::from_secs(5),
        wait_chunk: Duration::from_secs(5),
        poll_backoff: Duration::from_millis(20),
    }
}

/// A rest client for `service` on `name`'s socket with [`short_timeouts`].
pub fn short_rest(transport: Transport, service: Service, name: &str) -> RestClient {
    RestClient::new(transport, service, name).with_timeouts(short_timeouts())
}

/// A fresh client identity.
pub fn identity(name: &str) -> Identity {
    Identity::generate(name, &[name.to_owned()]).unwrap()
}

pub fn fingerprint(s: &str) -> Fingerprint {
    s.parse().unwrap()
}

/// The node's service address for a microcluster daemon.
pub fn mc_addr(sim: &Sim, name: &str, port: u16) -> SocketAddr {
    SocketAddr::new(node(sim, name).ip(), port)
}

/// The node's LXD cluster address (`ip:8443`).
pub fn lxd_addr(sim: &Sim, name: &str) -> String {
    format!("{}:8443", node(sim, name).ip())
}

/// The context a client builds for a request, for comparing with an
/// error's context.
pub fn ctx(service: Service, name: &str, method: http::Method, path: &str) -> RequestContext {
    RequestContext {
        service,
        node: name.to_owned(),
        method,
        path: path.to_owned(),
    }
}

/// The error's context, which every request error must have.
pub fn context_of(e: &Error) -> RequestContext {
    e.context()
        .unwrap_or_else(|| panic!("no request context in {e:?}"))
        .clone()
}

/// A string map from pairs.
pub fn map(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Sets the HTTPS addresses MicroCloud sets (reading the ETag first and
/// sending it back), then enables clustering, as steps 8 and 9 of the
/// reference's call list.
pub async fn lxd_bootstrap(sim: &Sim, name: &str) {
    let c = lxd(sim, name);
    let server = c.server(None).await.unwrap();
    let addr = lxd_addr(sim, name);
    c.patch_server(
        &ServerPut {
            config: map(&[
                ("core.https_address", "[::]:8443"),
                ("cluster.https_address", &addr),
            ]),
        },
        None,
        server.etag.as_deref(),
    )
    .await
    .unwrap();
    c.enable_clustering(name).await.unwrap();
}

/// The cluster certificate as the member at the token's first address
/// reports it through its own API (what the executor sends in a join).
pub async fn cluster_certificate(sim: &Sim, address: &str) -> String {
    let member = sim
        .nodes()
        .iter()
        .find(|n| n.lxd_https().is_some_and(|a| a.to_string() == address))
        .unwrap_or_else(|| panic!("no simulated member at {address}"));
    lxd(sim, member.name())
        .server(None)
        .await
        .unwrap()
        .value
        .environment
        .certificate
}

/// The join request for `joiner` with an issued token, with the cluster
/// certificate its issuer reports.
pub async fn lxd_join_request(
    sim: &Sim,
    joiner: &str,
    encoded_token: &str,
    member_config: Vec<ClusterMemberConfigKey>,
) -> ClusterJoin {
    let token = clients::lxd::ClusterMemberJoinToken::decode(encoded_token).unwrap();
    let address = token.addresses[0].clone();
    let pem = cluster_certificate(sim, &address).await;
    assert_eq!(
        clients::cert::fingerprint_of_pem(&pem).unwrap().to_string(),
        token.fingerprint,
        "the reported certificate is the one the token names"
    );
    ClusterJoin {
        server_name: joiner.to_owned(),
        cluster_address: address,
        cluster_certificate: pem,
        server_address: lxd_addr(sim, joiner),
        token: encoded_token.to_owned(),
        member_config,
    }
}

/// Issues a token on `issuer` and joins `joiner` with the token field its
/// own advertised extensions select.
pub async fn lxd_join(sim: &Sim, issuer: &str, joiner: &str) {
    let issued = lxd(sim, issuer).issue_join_token(joiner).await.unwrap();
    let join = lxd_join_request(sim, joiner, &issued.encoded(), Vec::new()).await;
    let j = lxd(sim, joiner);
    let field = j.server(None).await.unwrap().value.token_field();
    j.join_cluster(&join, field).await.unwrap();
}

/// An LXD cluster of every node of `sim`, bootstrapped on `node1`.
pub async fn lxd_cluster(n: usize, profile: LxdProfile) -> Sim {
    let sim = sim(n, profile).await;
    lxd_bootstrap(&sim, "node1").await;
    for i in 2..=n {
        lxd_join(&sim, "node1", &format!("node{i}")).await;
    }
    sim
}

/// MicroCeph bootstrapped on `node1` (public and cluster network = the
/// node's /24) and joined on `node2`…`node<joined>`.
pub async fn ceph_cluster(sim: &Sim, joined: usize) {
    let c1 = ceph(sim, "node1");
    let net = format!("{}/24", node(sim, "node1").ip());
    c1.bootstrap(
        "node1",
        mc_addr(sim, "node1", CEPH_PORT),
        &clients::microceph::bootstrap_config(Some(&net), Some(&net)),
    )
    .await
    .unwrap();
    for i in 2..=joined {
        let name = format!("node{i}");
        let token = c1.issue_token(&name, HOUR).await.unwrap();
        ceph(sim, &name)
            .join(
                &name,
                mc_addr(sim, &name, CEPH_PORT),
                &token,
                &Default::default(),
            )
            .await
            .unwrap();
    }
}

/// The encapsulation IP node `i` uses (`10.20.0.i`, its `enp7s0`).
pub fn encap_ip(i: usize) -> std::net::IpAddr {
    format!("10.20.0.{i}").parse().unwrap()
}

/// MicroOVN bootstrapped on `node1` and joined on `node2`…`node<joined>`,
/// each with its encapsulation IP.
pub async fn ovn_cluster(sim: &Sim, joined: usize) {
    let o1 = ovn(sim, "node1");
    o1.bootstrap(
        "node1",
        mc_addr(sim, "node1", OVN_PORT),
        &init_config(encap_ip(1)),
    )
    .await
    .unwrap();
    for i in 2..=joined {
        let name = format!("node{i}");
        let token = o1.issue_token(&name, HOUR).await.unwrap();
        ovn(sim, &name)
            .join(
                &name,
                mc_addr(sim, &name, OVN_PORT),
                &token,
                &init_config(encap_ip(i)),
            )
            .await
            .unwrap();
    }
}

/// Both LXD profiles, for tests that run the same scenario on each.
pub const PROFILES: [LxdProfile; 2] = [LxdProfile::Legacy, LxdProfile::Current];
