//! The microcluster core calls, as MicroCeph, MicroOVN and the MicroCloud
//! agent serve them on their control sockets.

use std::collections::BTreeMap;
use std::time::Duration;

use clients::microcluster::{Family, JoinToken, MicroclusterApi, MicroclusterClient};
use clients::microovn::{MicroOvnApi, MicroOvnClient};
use clients::{Service, Transport, microceph, microovn};

use crate::support::{Expect, Reply, Server, fixture};

fn client(path: &std::path::Path, service: Service) -> MicroclusterClient {
    MicroclusterClient::new(Transport::unix(path), service, "node1")
}

/// The one family probe a client makes before its first call other than
/// `server_info`: a v2+ daemon answers `GET /core/1.0`.
fn core_probe() -> Expect {
    Expect::new(
        "GET",
        "/core/1.0",
        Reply::fixture(200, "microcluster/server-info-squid.response.json"),
    )
}

/// The probe of an old-family daemon (MicroCeph reef): `GET /core/1.0` is
/// its catch-all 404, `GET /cluster/1.0` answers.
fn cluster_probe() -> [Expect; 2] {
    [
        Expect::new(
            "GET",
            "/core/1.0",
            Reply::fixture(404, "microcluster/not-found.response.json"),
        ),
        Expect::new(
            "GET",
            "/cluster/1.0",
            Reply::fixture(200, "microcluster/server-info-reef.response.json"),
        ),
    ]
}

#[tokio::test]
async fn ready_and_not_ready() {
    let (server, path) = Server::unix(vec![
        core_probe(),
        Expect::new(
            "GET",
            "/core/1.0/ready",
            Reply::fixture(503, "microcluster/not-ready.response.json"),
        ),
        Expect::new(
            "GET",
            "/core/1.0/ready",
            Reply::fixture(200, "envelope/sync-empty.json"),
        ),
    ])
    .await;
    let c = client(&path, Service::MicroCloud);
    let err = c.ready().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "MicroCloud on node node1, GET /core/1.0/ready: the service answered 503: Daemon is not ready yet"
    );
    assert!(err.is_transient());
    c.ready().await.unwrap();
    server.finish();
}

#[tokio::test]
async fn server_info_reads_extensions_as_string_or_array() {
    let (server, path) = Server::unix(vec![
        Expect::new(
            "GET",
            "/core/1.0",
            Reply::fixture(200, "microcluster/server-info-reef.response.json"),
        ),
        Expect::new(
            "GET",
            "/core/1.0",
            Reply::fixture(200, "microcluster/server-info-squid.response.json"),
        ),
        Expect::new(
            "GET",
            "/core/1.0",
            Reply::fixture(200, "microcluster/server-info-pre-init.response.json"),
        ),
    ])
    .await;
    let c = client(&path, Service::MicroCeph);
    let one = c.server_info().await.unwrap();
    assert_eq!(one.extensions.0, vec!["internal:runtime_extension_v1"]);
    assert!(one.ready);
    assert_eq!(one.address, "10.0.0.1:7443");
    assert_eq!(one.version, "", "the old family has no version");
    let two = c.server_info().await.unwrap();
    assert_eq!(
        two.extensions.0,
        vec![
            "internal:runtime_extension_v1",
            "internal:rename_core_endpoints"
        ]
    );
    assert_eq!(two.version, "19.2.0");
    let pre = c.server_info().await.unwrap();
    assert!(!pre.ready);
    assert_eq!(pre.address, "");
    assert!(pre.extensions.has("custom_encapsulation_ip"));
    assert_eq!(pre.extensions.0.len(), 3);
    server.finish();
}

#[tokio::test]
async fn bootstrap_and_join_bodies_for_microceph_and_microovn() {
    let (server, path) = Server::unix(vec![
        core_probe(),
        Expect::new(
            "POST",
            "/core/control",
            Reply::fixture(200, "envelope/sync-empty.json"),
        )
        .body_fixture("microcluster/bootstrap-microceph.request.json"),
        Expect::new(
            "POST",
            "/core/control",
            Reply::fixture(200, "envelope/sync-empty.json"),
        )
        .body_fixture("microcluster/join-microceph.request.json"),
        core_probe(),
        Expect::new(
            "POST",
            "/core/control",
            Reply::fixture(200, "envelope/sync-empty.json"),
        )
        .body_fixture("microcluster/bootstrap-microovn.request.json"),
        Expect::new(
            "POST",
            "/core/control",
            Reply::fixture(200, "envelope/sync-empty.json"),
        )
        .body_fixture("microcluster/join-microovn.request.json"),
        Expect::new(
            "POST",
            "/core/control",
            Reply::fixture(500, "microcluster/already-initialized.response.json"),
        ),
        Expect::new(
            "POST",
            "/core/control",
            Reply::fixture(503, "microcluster/not-ready.response.json"),
        ),
    ])
    .await;
    let ceph = microceph::MicroCephClient::new(Transport::unix(&path), "node1");
    ceph.bootstrap(
        "node1",
        "10.0.0.1:7443".parse().unwrap(),
        &microceph::bootstrap_config(Some("10.0.0.0/24"), Some("10.1.0.0/24")),
    )
    .await
    .unwrap();
    ceph.join(
        "node2",
        "10.0.0.2:7443".parse().unwrap(),
        "<token>",
        &BTreeMap::new(),
    )
    .await
    .unwrap();
    let ovn = MicroOvnClient::new(Transport::unix(&path), "node1");
    ovn.bootstrap(
        "node1",
        "10.0.0.1:6443".parse().unwrap(),
        &microovn::init_config("10.2.0.1".parse().unwrap()),
    )
    .await
    .unwrap();
    ovn.join(
        "node2",
        "10.0.0.2:6443".parse().unwrap(),
        "<token>",
        &microovn::init_config("10.2.0.2".parse().unwrap()),
    )
    .await
    .unwrap();
    let err = ovn
        .bootstrap("node1", "10.0.0.1:6443".parse().unwrap(), &BTreeMap::new())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "MicroOVN on node node1, POST /core/control: the daemon refused to initialise (500): Unable to initialize cluster: Database is online; it may already be (partly) initialised: check `GET /core/1.0` and `GET /core/1.0/cluster` before retrying"
    );
    assert!(!err.is_transient(), "a 500 from bootstrap is not retried");
    let err = ovn
        .bootstrap("node1", "10.0.0.1:6443".parse().unwrap(), &BTreeMap::new())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert!(err.is_transient(), "not ready yet: retry");
    server.finish();
}

#[tokio::test]
async fn tokens_issue_list_delete() {
    let (server, path) = Server::unix(vec![
        core_probe(),
        Expect::new(
            "POST",
            "/core/control/tokens",
            Reply::fixture(200, "microcluster/token-issue.response.json"),
        )
        .body_fixture("microcluster/token-issue.request.json"),
        Expect::new(
            "GET",
            "/core/control/tokens",
            Reply::fixture(200, "microcluster/tokens.response.json"),
        ),
        Expect::new(
            "DELETE",
            "/core/1.0/tokens/node2",
            Reply::fixture(200, "envelope/sync-empty.json"),
        ),
        Expect::new(
            "POST",
            "/core/control/tokens",
            Reply::sync(serde_json::json!("e30=")),
        ),
    ])
    .await;
    let c = client(&path, Service::MicroOvn);
    let token = c
        .issue_token("node2", Duration::from_secs(3600))
        .await
        .unwrap();
    let decoded = JoinToken::decode(&token).unwrap();
    let expected: JoinToken =
        serde_json::from_value(fixture("microcluster/token-decoded.json")).unwrap();
    assert_eq!(decoded, expected);
    let tokens = c.tokens().await.unwrap();
    assert_eq!(tokens[0].name, "node2");
    assert_eq!(tokens[0].token, token);
    c.delete_token("node2").await.unwrap();
    let err = c
        .issue_token("node2", Duration::from_secs(3600))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "MicroOVN on node node1, POST /core/control/tokens: unexpected response: the issued token is unusable: invalid microcluster token: not the expected JSON: missing field `secret` at line 1 column 2"
    );
    server.finish();
}

#[tokio::test]
async fn cluster_members_before_and_after_init() {
    let (server, path) = Server::unix(vec![
        core_probe(),
        Expect::new(
            "GET",
            "/core/1.0/cluster",
            Reply::fixture(503, "microcluster/database-not-ready.response.json"),
        ),
        Expect::new(
            "GET",
            "/core/1.0/cluster",
            Reply::fixture(200, "microcluster/cluster.response.json"),
        ),
    ])
    .await;
    let c = client(&path, Service::MicroOvn);
    let err = c.cluster_members().await.unwrap_err();
    assert!(err.is_transient());
    assert_eq!(err.status(), Some(503));
    let members = c.cluster_members().await.unwrap();
    assert_eq!(members.len(), 3);
    assert_eq!(members[0].status, "ONLINE");
    assert_eq!(members[0].role, "voter");
    assert_eq!(members[0].schema_internal_version, 7);
    assert_eq!(members[1].role, "PENDING");
    assert!(members[1].extensions.0.is_empty(), "null extensions");
    assert_eq!(
        members[2].extensions.0,
        vec!["internal:runtime_extension_v1"]
    );
    assert_eq!(members[2].address, "[2001:db8::3]:6443");
    server.finish();
}

#[tokio::test]
async fn microovn_services_give_the_northbound_connection() {
    let (server, path) = Server::unix(vec![
        Expect::new(
            "GET",
            "/1.0/services",
            Reply::fixture(200, "microovn/services.response.json"),
        ),
        core_probe(),
        Expect::new(
            "GET",
            "/core/1.0/cluster",
            Reply::fixture(200, "microcluster/cluster.response.json"),
        ),
    ])
    .await;
    let ovn = MicroOvnClient::new(Transport::unix(&path), "node1");
    let services = ovn.services().await.unwrap();
    assert_eq!(services.len(), 5);
    let members = ovn.cluster_members().await.unwrap();
    assert_eq!(
        microovn::northbound_connection(&services, &members).unwrap(),
        "ssl:10.0.0.1:6641,ssl:[2001:db8::3]:6641"
    );
    server.finish();
}

/// A daemon on a microcluster from before the `/cluster` → `/core` rename
/// (MicroCeph reef): found once, then every call goes to its paths, with
/// its token body (no expiry) and its token list (no `expires_at`).
#[tokio::test]
async fn the_old_cluster_family_is_found_once_and_used() {
    let mut script = cluster_probe().to_vec();
    script.extend([
        Expect::new(
            "GET",
            "/cluster/1.0/ready",
            Reply::fixture(200, "envelope/sync-empty.json"),
        ),
        Expect::new(
            "POST",
            "/cluster/control",
            Reply::fixture(200, "envelope/sync-empty.json"),
        )
        .body_fixture("microcluster/bootstrap-microceph.request.json"),
        Expect::new(
            "POST",
            "/cluster/1.0/tokens",
            Reply::fixture(200, "microcluster/token-issue.response.json"),
        )
        .body_fixture("microcluster/token-issue-cluster.request.json"),
        Expect::new(
            "GET",
            "/cluster/1.0/tokens",
            Reply::fixture(200, "microcluster/tokens-cluster.response.json"),
        ),
        Expect::new(
            "DELETE",
            "/cluster/1.0/tokens/node2",
            Reply::fixture(200, "envelope/sync-empty.json"),
        ),
        Expect::new(
            "GET",
            "/cluster/1.0/cluster",
            Reply::fixture(200, "microcluster/cluster.response.json"),
        ),
        Expect::new(
            "DELETE",
            "/cluster/1.0/cluster/nope?force=1",
            Reply::fixture(500, "microcluster/no-remote.response.json"),
        ),
        Expect::new(
            "GET",
            "/cluster/1.0",
            Reply::fixture(200, "microcluster/server-info-reef.response.json"),
        ),
        Expect::new(
            "POST",
            "/cluster/control",
            Reply::fixture(500, "microcluster/already-initialized.response.json"),
        ),
    ]);
    let (server, path) = Server::unix(script).await;
    let ceph = microceph::MicroCephClient::new(Transport::unix(&path), "node1");
    ceph.ready().await.unwrap();
    ceph.bootstrap(
        "node1",
        "10.0.0.1:7443".parse().unwrap(),
        &microceph::bootstrap_config(Some("10.0.0.0/24"), Some("10.1.0.0/24")),
    )
    .await
    .unwrap();
    let token = ceph
        .issue_token("node2", Duration::from_secs(3600))
        .await
        .unwrap();
    let tokens = ceph.tokens().await.unwrap();
    assert_eq!(
        (tokens[0].name.as_str(), tokens[0].token.as_str()),
        ("node2", token.as_str())
    );
    assert_eq!(tokens[0].expires_at, "");
    ceph.delete_token("node2").await.unwrap();
    assert_eq!(ceph.cluster_members().await.unwrap().len(), 3);
    let err = ceph.remove_member("nope").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "MicroCeph on node node1, DELETE /cluster/1.0/cluster/nope?force=1: the service answered 500: No remote exists with the given name \"nope\""
    );
    assert!(!err.is_transient());
    assert!(ceph.server_info().await.unwrap().ready);
    let err = ceph
        .bootstrap("node1", "10.0.0.1:7443".parse().unwrap(), &BTreeMap::new())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "MicroCeph on node node1, POST /cluster/control: the daemon refused to initialise (500): Unable to initialize cluster: Database is online; it may already be (partly) initialised: check `GET /cluster/1.0` and `GET /cluster/1.0/cluster` before retrying"
    );
    server.finish();
}

/// A probe that fails for another reason than "not found" is returned and
/// not kept: the next call asks again.
#[tokio::test]
async fn a_failed_probe_is_not_kept() {
    let (server, path) = Server::unix(vec![
        Expect::new(
            "GET",
            "/core/1.0",
            Reply::fixture(503, "microcluster/not-ready.response.json"),
        ),
        core_probe(),
        Expect::new(
            "GET",
            "/core/1.0/cluster",
            Reply::fixture(200, "microcluster/cluster.response.json"),
        ),
    ])
    .await;
    let c = client(&path, Service::MicroCeph);
    let err = c.cluster_members().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "MicroCeph on node node1, GET /core/1.0: the service answered 503: Daemon is not ready yet"
    );
    assert!(err.is_transient());
    assert_eq!(c.cluster_members().await.unwrap().len(), 3);
    assert_eq!(c.family().await.unwrap(), Family::Core);
    server.finish();
}

/// Neither family: not a microcluster daemon.
#[tokio::test]
async fn neither_family_is_a_clear_error() {
    let (server, path) = Server::unix(vec![
        Expect::new(
            "GET",
            "/core/1.0",
            Reply::fixture(404, "microcluster/not-found.response.json"),
        ),
        Expect::new(
            "GET",
            "/cluster/1.0",
            Reply::fixture(404, "microcluster/not-found.response.json"),
        ),
    ])
    .await;
    let err = client(&path, Service::MicroOvn).ready().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "MicroOVN on node node1, GET /cluster/1.0: unexpected response: neither GET /core/1.0 nor GET /cluster/1.0 exists (not found): this is not a microcluster daemon; check the socket path"
    );
    assert!(!err.is_transient());
    server.finish();
}

/// Clones share what was found: one probe for all of them.
#[tokio::test]
async fn clones_share_the_family() {
    let mut script = cluster_probe().to_vec();
    script.extend([
        Expect::new(
            "GET",
            "/cluster/1.0/ready",
            Reply::fixture(200, "envelope/sync-empty.json"),
        ),
        Expect::new(
            "GET",
            "/cluster/1.0/ready",
            Reply::fixture(200, "envelope/sync-empty.json"),
        ),
    ]);
    let (server, path) = Server::unix(script).await;
    let c = client(&path, Service::MicroCeph);
    let clone = c.clone();
    c.ready().await.unwrap();
    clone.ready().await.unwrap();
    assert_eq!(clone.family().await.unwrap(), Family::Cluster);
    server.finish();
}
