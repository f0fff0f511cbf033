//! Every LXD call: the request it sends (method, path, JSON body pinned by a
//! fixture, headers) and how it reads the answer.

use clients::lxd::{
    CertificatesPost, ClusterJoin, ClusterMemberJoinToken, GO_ZERO_TIME, LxdApi, LxdClient,
    NetworksPost, ObjectStatus, ProfilePut, ServerPut, StoragePoolsPost, StorageVolumesPost,
    TokenField,
};
use clients::rest::RestClient;
use clients::{Error, Service, Transport};
use serde_json::json;

use crate::support::{Expect, Reply, Server, fast_timeouts, fixture};

const OP: &str = "/1.0/operations/9b7e1a6e-4c0f-4b5e-9f3a-0d6c2f1e8a11";
const FP: &str = "57bb0ff4340b5bb28517e062023101adf788c37846dc8b619eb2c3cb4ef29436";
const SECRET: &str = "2b2284d44db32675923fe0d2020477e0e9be11801ff70c435e032b97028c35cd";

fn wait() -> String {
    format!("{OP}/wait?timeout=30")
}

fn lxd(path: &std::path::Path) -> LxdClient {
    LxdClient::from_rest(
        RestClient::new(Transport::unix(path), Service::Lxd, "node1")
            .with_timeouts(fast_timeouts()),
    )
}

fn from_fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
    serde_json::from_value(fixture(name)).unwrap()
}

fn join() -> ClusterJoin {
    let put = fixture("lxd/cluster-join-current.request.json");
    ClusterJoin {
        server_name: "node2".into(),
        cluster_address: "10.0.0.1:8443".into(),
        cluster_certificate: put["cluster_certificate"].as_str().unwrap().into(),
        server_address: "10.0.0.2:8443".into(),
        token: "<token>".into(),
        member_config: serde_json::from_value(put["member_config"].clone()).unwrap(),
    }
}

#[tokio::test]
async fn ready() {
    let (server, path) = Server::unix(vec![Expect::new(
        "GET",
        "/internal/ready",
        Reply::fixture(200, "envelope/sync-empty.json"),
    )])
    .await;
    lxd(&path).ready().await.unwrap();
    server.finish();
}

#[tokio::test]
async fn server_and_extensions_on_5_0_2_and_current() {
    let (server, path) = Server::unix(vec![
        Expect::new(
            "GET",
            "/1.0",
            Reply::fixture(200, "lxd/server-5.0.2.response.json"),
        ),
        Expect::new(
            "GET",
            "/1.0?target=node2",
            Reply::fixture(200, "lxd/server-current.response.json"),
        ),
        Expect::new(
            "GET",
            "/1.0",
            Reply::fixture(200, "lxd/server-current.response.json"),
        ),
    ])
    .await;
    let client = lxd(&path);
    let old = client.server(None).await.unwrap().value;
    assert_eq!(old.environment.server_version, "5.0.2");
    assert_eq!(old.config_str("core.https_address"), Some("127.0.0.1:8443"));
    assert_eq!(old.config.get("core.trust_password"), Some(&json!(true)));
    assert_eq!(old.config_str("core.trust_password"), None);
    assert_eq!(old.environment.storage_supported_drivers[1].name, "btrfs");
    assert_eq!(old.environment.storage_supported_drivers[1].version, "6.2");
    assert!(!old.environment.server_clustered);
    assert_eq!(old.token_field(), TokenField::Password);

    let current = client.server(Some("node2")).await.unwrap().value;
    assert!(current.environment.server_clustered);
    assert!(current.environment.storage_supported_drivers[1].remote);
    assert_eq!(current.token_field(), TokenField::Explicit);
    assert!(
        current
            .extensions()
            .has("ovn_dynamic_northbound_connection")
    );

    assert_eq!(
        client.server(None).await.unwrap().value.token_field(),
        TokenField::Explicit
    );
    // A daemon that decodes the new fields without advertising
    // `explicit_trust_token` (Incus): not known to be older than 5.21.2,
    // so it gets them too; a 5.21.1 without the extension gets the old.
    let mut unadvertised = current.clone();
    unadvertised
        .api_extensions
        .retain(|e| e != clients::lxd::EXPLICIT_TRUST_TOKEN);
    unadvertised.environment.server_version = "6.0.1".to_owned();
    assert_eq!(unadvertised.token_field(), TokenField::Explicit);
    unadvertised.environment.server_version = "5.21.1".to_owned();
    assert_eq!(unadvertised.token_field(), TokenField::Password);
    server.finish();
}

#[tokio::test]
async fn patch_and_put_server_send_if_match_and_target() {
    let (server, path) = Server::unix(vec![
        Expect::new(
            "PATCH",
            "/1.0",
            Reply::fixture(200, "envelope/sync-empty.json"),
        )
        .body_fixture("lxd/server-patch.request.json"),
        Expect::new(
            "PUT",
            "/1.0?target=node2",
            Reply::fixture(200, "envelope/sync-empty.json"),
        )
        .body_fixture("lxd/server-put-target.request.json"),
        Expect::new(
            "PATCH",
            "/1.0",
            Reply::fixture(412, "lxd/error-412.response.json"),
        ),
    ])
    .await;
    let client = lxd(&path);
    let patch: ServerPut = from_fixture("lxd/server-patch.request.json");
    client
        .patch_server(&patch, None, Some("\"abc123\""))
        .await
        .unwrap();
    let put: ServerPut = from_fixture("lxd/server-put-target.request.json");
    client.put_server(&put, Some("node2"), None).await.unwrap();
    let err = client
        .patch_server(&patch, None, Some("\"stale\""))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "LXD on node node1, PATCH /1.0: the service answered 412: Precondition Failed"
    );
    assert!(!err.is_transient());
    let recorded = server.finish();
    assert_eq!(
        recorded[0].header("if-match").as_deref(),
        Some("\"abc123\"")
    );
    assert_eq!(
        recorded[0].header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(recorded[1].header("if-match"), None);
    assert_eq!(recorded[2].header("if-match").as_deref(), Some("\"stale\""));
}

#[tokio::test]
async fn cluster_get_with_member_config() {
    let (server, path) = Server::unix(vec![Expect::new(
        "GET",
        "/1.0/cluster",
        Reply::fixture(200, "lxd/cluster-5.0.2.response.json").header("etag", "\"e1\""),
    )])
    .await;
    let cluster = lxd(&path).cluster().await.unwrap();
    assert_eq!(cluster.etag.as_deref(), Some("\"e1\""));
    assert!(!cluster.value.enabled);
    assert_eq!(cluster.value.member_config.len(), 2);
    assert_eq!(cluster.value.member_config[0].key, "source");
    server.finish();
}

#[tokio::test]
async fn enable_clustering_sends_name_and_enabled() {
    let (server, path) = Server::unix(vec![
        Expect::new(
            "PUT",
            "/1.0/cluster",
            Reply::fixture(202, "lxd/cluster-enable.response.json"),
        )
        .body_fixture("lxd/cluster-enable.request.json"),
        Expect::new(
            "GET",
            &wait(),
            Reply::fixture(200, "lxd/operation-success.response.json"),
        ),
    ])
    .await;
    lxd(&path).enable_clustering("node1").await.unwrap();
    server.finish();
}

#[tokio::test]
async fn join_uses_the_token_field_the_extensions_select() {
    let old: clients::lxd::Server =
        serde_json::from_value(fixture("lxd/server-5.0.2.response.json")["metadata"].clone())
            .unwrap();
    let current: clients::lxd::Server =
        serde_json::from_value(fixture("lxd/server-current.response.json")["metadata"].clone())
            .unwrap();
    let (server, path) = Server::unix(vec![
        Expect::new(
            "PUT",
            "/1.0/cluster",
            Reply::fixture(202, "lxd/cluster-enable.response.json"),
        )
        .body_fixture("lxd/cluster-join-5.0.2.request.json"),
        Expect::new(
            "GET",
            &wait(),
            Reply::fixture(200, "lxd/operation-success.response.json"),
        ),
        Expect::new(
            "PUT",
            "/1.0/cluster",
            Reply::fixture(202, "lxd/cluster-enable.response.json"),
        )
        .body_fixture("lxd/cluster-join-current.request.json"),
        Expect::new(
            "GET",
            &wait(),
            Reply::fixture(200, "lxd/operation-success.response.json"),
        ),
    ])
    .await;
    let client = lxd(&path);
    client
        .join_cluster(&join(), old.token_field())
        .await
        .unwrap();
    client
        .join_cluster(&join(), current.token_field())
        .await
        .unwrap();
    server.finish();
}

#[tokio::test]
async fn join_token_is_built_from_the_camel_case_operation_metadata() {
    let (server, path) = Server::unix(vec![
        Expect::new(
            "POST",
            "/1.0/cluster/members",
            Reply::fixture(202, "lxd/cluster-members-post-current.response.json")
                .header("location", OP),
        )
        .body_fixture("lxd/cluster-members-post.request.json"),
        Expect::new(
            "POST",
            "/1.0/cluster/members",
            Reply::fixture(202, "lxd/cluster-members-post-5.0.2.response.json"),
        )
        .body_fixture("lxd/cluster-members-post.request.json"),
    ])
    .await;
    let client = lxd(&path);

    let issued = client.issue_join_token("node2").await.unwrap();
    assert_eq!(issued.operation, OP);
    let decoded = base64_decode(&issued.encoded());
    assert_eq!(
        decoded,
        format!(
            r#"{{"server_name":"node2","fingerprint":"{FP}","addresses":["10.0.0.1:8443","10.0.0.3:8443"],"secret":"{SECRET}","expires_at":"2026-11-21T08:00:00.123456789Z"}}"#
        )
    );
    assert_eq!(
        ClusterMemberJoinToken::decode(&issued.encoded()).unwrap(),
        issued.token
    );

    // LXD 5.0.2 sets no expiry: Go's zero time keeps the token decodable.
    let issued = client.issue_join_token("node2").await.unwrap();
    assert_eq!(issued.token.expires_at, GO_ZERO_TIME);
    assert_eq!(
        base64_decode(&issued.encoded()),
        format!(
            r#"{{"server_name":"node2","fingerprint":"{FP}","addresses":["10.200.0.1:8443"],"secret":"{SECRET}","expires_at":"0001-01-01T00:00:00Z"}}"#
        )
    );
    server.finish();
}

#[tokio::test]
async fn a_join_token_for_another_name_or_without_secret_is_refused() {
    let mut wrong_name = fixture("lxd/cluster-members-post-current.response.json");
    wrong_name["metadata"]["metadata"]["serverName"] = json!("node9");
    let mut no_secret = fixture("lxd/cluster-members-post-current.response.json");
    no_secret["metadata"]["metadata"]["secret"] = json!("");
    let (server, path) = Server::unix(vec![
        Expect::new(
            "POST",
            "/1.0/cluster/members",
            Reply::raw(202, &wrong_name.to_string()),
        ),
        Expect::new(
            "POST",
            "/1.0/cluster/members",
            Reply::raw(202, &no_secret.to_string()),
        ),
        Expect::new(
            "POST",
            "/1.0/cluster/members",
            Reply::fixture(200, "envelope/sync-empty.json"),
        ),
    ])
    .await;
    let client = lxd(&path);
    let err = client.issue_join_token("node2").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "LXD on node node1, POST /1.0/cluster/members: unexpected response: the token operation {OP} is for \"node9\", not \"node2\""
        )
    );
    let err = client.issue_join_token("node2").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "LXD on node node1, POST /1.0/cluster/members: unexpected response: the token operation {OP} cannot make a usable join token: invalid LXD join token: `secret` is empty"
        )
    );
    let err = client.issue_join_token("node2").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "LXD on node node1, POST /1.0/cluster/members: unexpected response: expected a token operation (202), got a synchronous answer"
    );
    server.finish();
}

#[tokio::test]
async fn cluster_members() {
    let (server, path) = Server::unix(vec![
        Expect::new(
            "GET",
            "/1.0/cluster/members?recursion=1",
            Reply::fixture(200, "lxd/cluster-members.response.json"),
        ),
        Expect::new(
            "GET",
            "/1.0/cluster/members?recursion=1",
            Reply::fixture(500, "lxd/cluster-members-not-clustered.response.json"),
        ),
    ])
    .await;
    let client = lxd(&path);
    let members = client.cluster_members().await.unwrap();
    assert_eq!(members.len(), 2);
    assert_eq!(members[0].server_name, "node1");
    assert_eq!(members[0].status, "Online");
    assert_eq!(members[0].roles, vec!["database-leader", "database"]);
    assert_eq!(members[1].url, "https://10.0.0.2:8443");
    let err = client.cluster_members().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "LXD on node node1, GET /1.0/cluster/members?recursion=1: the service answered 500: Server is not clustered"
    );
    server.finish();
}

#[tokio::test]
async fn certificates_add_token_and_trust() {
    let (server, path) = Server::unix(vec![
        Expect::new(
            "POST",
            "/1.0/certificates",
            Reply::fixture(201, "envelope/sync-empty.json")
                .header("location", &format!("/1.0/certificates/{FP}")),
        )
        .body_fixture("lxd/certificates-add.request.json"),
        Expect::new(
            "POST",
            "/1.0/certificates",
            Reply::fixture(202, "lxd/certificates-token-5.0.2.response.json"),
        )
        .body_fixture("lxd/certificates-token.request.json"),
        Expect::new(
            "POST",
            "/1.0/certificates",
            Reply::fixture(201, "envelope/sync-empty.json"),
        )
        .body_fixture("lxd/certificates-trust-current.request.json"),
        Expect::new(
            "POST",
            "/1.0/certificates",
            Reply::fixture(201, "envelope/sync-empty.json"),
        )
        .body_fixture("lxd/certificates-trust-5.0.2.request.json"),
        Expect::new(
            "POST",
            "/1.0/certificates",
            Reply::fixture(501, "lxd/certificates-password-current.response.json"),
        )
        .body_fixture("lxd/certificates-trust-5.0.2.request.json"),
    ])
    .await;
    let client = lxd(&path);
    client
        .add_certificate(&CertificatesPost::add_client("microcloud", "<base64 der>"))
        .await
        .unwrap();

    let issued = client.issue_certificate_token("microcloud").await.unwrap();
    assert_eq!(issued.operation, OP);
    assert_eq!(
        base64_decode(&issued.encoded()),
        format!(
            r#"{{"client_name":"microcloud","fingerprint":"{FP}","addresses":["127.0.0.1:8443"],"secret":"{SECRET}","expires_at":"0001-01-01T00:00:00Z"}}"#
        )
    );

    client
        .trust_with_token("<token>", TokenField::Explicit)
        .await
        .unwrap();
    client
        .trust_with_token("<token>", TokenField::Password)
        .await
        .unwrap();
    let err = client
        .trust_with_token("<token>", TokenField::Password)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "LXD on node node1, POST /1.0/certificates: the service answered 501: Password authentication is no longer supported"
    );
    assert!(!err.is_transient());
    server.finish();
}

#[tokio::test]
async fn resources_with_every_disk_field_and_network_cards() {
    let (server, path) = Server::unix(vec![
        Expect::new(
            "GET",
            "/1.0/resources?target=node2",
            Reply::fixture(200, "lxd/resources-current.response.json"),
        ),
        Expect::new(
            "GET",
            "/1.0/resources",
            Reply::fixture(200, "lxd/resources-5.0.2.response.json"),
        ),
    ])
    .await;
    let client = lxd(&path);
    let current = client.resources(Some("node2")).await.unwrap();
    let disk = &current.storage.disks[0];
    assert_eq!(disk.id, "nvme0n1");
    assert_eq!(disk.device, "259:0");
    assert_eq!(disk.model, "Samsung SSD 980 PRO 1TB");
    assert_eq!(disk.kind, "nvme");
    assert!(!disk.read_only);
    assert_eq!(disk.mounted, Some(false));
    assert_eq!(disk.size, 1_000_204_886_016);
    assert!(!disk.removable);
    assert_eq!(disk.wwn, "eui.002538b111b2c3d4");
    assert_eq!(disk.numa_node, 0);
    assert_eq!(disk.device_path, "pci-0000:05:00.0-nvme-1");
    assert_eq!(disk.block_size, 512);
    assert_eq!(disk.firmware_version, "5B2QGXA7");
    assert_eq!(disk.rpm, 0);
    assert_eq!(disk.serial, "S5GXNF0R123456");
    assert_eq!(disk.device_id, "nvme-eui.002538b111b2c3d4");
    assert_eq!(disk.partitions[0].partition, 1);
    assert_eq!(disk.partitions[0].mounted, Some(true));
    assert_eq!(disk.pci_address, "0000:05:00.0");
    assert_eq!(disk.usb_address, "1:2");
    assert_eq!(
        disk.device_fs_uuid.as_deref(),
        Some("9f8e7d6c-0000-4000-8000-000000000002")
    );
    assert_eq!(disk.used_by.as_deref(), Some("bcache"));
    let card = &current.network.cards[0];
    assert_eq!(card.driver, "virtio_net");
    assert_eq!(card.ports[0].id, "enp5s0");
    assert_eq!(card.ports[0].link_speed, 10000);
    assert!(card.ports[0].link_detected);

    let old = client.resources(None).await.unwrap();
    let disk = &old.storage.disks[0];
    assert_eq!(disk.mounted, None, "5.0.2 does not report `mounted`");
    assert_eq!(disk.device_fs_uuid, None);
    assert_eq!(disk.used_by, None);
    assert_eq!(disk.rpm, 1);
    assert_eq!(disk.device_id, "");
    server.finish();
}

#[tokio::test]
async fn storage_pools_pending_then_global_and_list() {
    let ceph: StoragePoolsPost = from_fixture("lxd/storage-pool-final-ceph.request.json");
    let (server, path) = Server::unix(vec![
        Expect::new(
            "POST",
            "/1.0/storage-pools",
            Reply::fixture(202, "lxd/storage-pool-create-current.response.json"),
        )
        .body_fixture("lxd/storage-pool-final-ceph.request.json"),
        Expect::new(
            "GET",
            &wait(),
            Reply::fixture(200, "lxd/storage-pool-create-success.response.json"),
        ),
        Expect::new(
            "POST",
            "/1.0/storage-pools",
            Reply::fixture(400, "lxd/storage-pool-error-member-key.response.json"),
        ),
        Expect::new(
            "GET",
            "/1.0/storage-pools?recursion=1",
            Reply::fixture(200, "lxd/storage-pools-5.0.2.response.json"),
        ),
    ])
    .await;
    let client = lxd(&path);
    client.create_storage_pool(&ceph, None).await.unwrap();
    let err = client.create_storage_pool(&ceph, None).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "LXD on node node1, POST /1.0/storage-pools: the service answered 400: Config key \"source\" is cluster member specific"
    );
    let pools = client.storage_pools(None).await.unwrap();
    assert_eq!(pools[0].name, "local-btrfs");
    assert_eq!(pools[0].status, ObjectStatus::Created);
    assert_eq!(pools[0].locations, vec!["none"]);
    assert_eq!(pools[0].config["size"], "2GiB");
    server.finish();
}

#[tokio::test]
async fn custom_volumes_with_target() {
    let (server, path) = Server::unix(vec![
        Expect::new(
            "POST",
            "/1.0/storage-pools/local/volumes/custom?target=node2",
            Reply::fixture(202, "lxd/storage-pool-create-current.response.json"),
        )
        .body_fixture("lxd/volume-create.request.json"),
        Expect::new(
            "GET",
            &wait(),
            Reply::fixture(200, "lxd/operation-success.response.json"),
        ),
        Expect::new(
            "GET",
            "/1.0/storage-pools/local/volumes/custom?recursion=1&target=node2",
            Reply::fixture(200, "lxd/volumes.response.json"),
        ),
    ])
    .await;
    let client = lxd(&path);
    client
        .create_custom_volume(
            "local",
            &StorageVolumesPost::custom("images"),
            Some("node2"),
        )
        .await
        .unwrap();
    let volumes = client.custom_volumes("local", Some("node2")).await.unwrap();
    assert_eq!(volumes[0].name, "images");
    assert_eq!(volumes[0].location, "node2");
    server.finish();
}

#[tokio::test]
async fn networks_pending_global_list_and_state() {
    let uplink: NetworksPost = from_fixture("lxd/network-pending-uplink.request.json");
    let ovn: NetworksPost = from_fixture("lxd/network-final-ovn.request.json");
    let (server, path) = Server::unix(vec![
        Expect::new(
            "POST",
            "/1.0/networks?target=node1",
            Reply::fixture(201, "envelope/sync-empty.json")
                .header("location", "/1.0/networks/UPLINK"),
        )
        .body_fixture("lxd/network-pending-uplink.request.json"),
        Expect::new(
            "POST",
            "/1.0/networks",
            Reply::fixture(202, "lxd/storage-pool-create-current.response.json"),
        )
        .body_fixture("lxd/network-final-ovn.request.json"),
        Expect::new(
            "GET",
            &wait(),
            Reply::fixture(200, "lxd/operation-success.response.json"),
        ),
        Expect::new(
            "POST",
            "/1.0/networks?target=node1",
            Reply::fixture(400, "lxd/network-ovn-target.response.json"),
        ),
        Expect::new(
            "GET",
            "/1.0/networks?recursion=1&target=node1",
            Reply::fixture(200, "lxd/networks-5.0.2.response.json"),
        ),
        Expect::new(
            "GET",
            "/1.0/networks/eth0/state?target=node1",
            Reply::fixture(200, "lxd/network-state-5.0.2.response.json"),
        ),
    ])
    .await;
    let client = lxd(&path);
    client.create_network(&uplink, Some("node1")).await.unwrap();
    client.create_network(&ovn, None).await.unwrap();
    let err = client
        .create_network(&ovn, Some("node1"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));

    let networks = client.networks(Some("node1")).await.unwrap();
    assert_eq!(networks[0].name, "eth0");
    assert!(!networks[0].managed);
    assert_eq!(networks[0].used_by, None);
    assert_eq!(networks[0].kind, "physical");
    assert_eq!(networks[1].status, ObjectStatus::Created);

    let state = client.network_state("eth0", Some("node1")).await.unwrap();
    assert_eq!(state.state, "up");
    assert_eq!(state.kind, "broadcast");
    assert_eq!(state.mtu, 1400);
    assert_eq!(state.addresses[0].address, "192.0.2.2");
    assert_eq!(state.addresses[0].netmask, "24");
    assert_eq!(state.addresses[1].scope, "link");
    server.finish();
}

#[tokio::test]
async fn profiles_get_and_update_sync_or_async() {
    let body: ProfilePut = from_fixture("lxd/profile-default.request.json");
    let (server, path) = Server::unix(vec![
        Expect::new(
            "GET",
            "/1.0/profiles/default",
            Reply::fixture(200, "lxd/profile-default-5.0.2.response.json").header("etag", "\"p1\""),
        ),
        Expect::new(
            "PUT",
            "/1.0/profiles/default",
            Reply::fixture(200, "envelope/sync-empty.json"),
        )
        .body_fixture("lxd/profile-default.request.json"),
        Expect::new(
            "PATCH",
            "/1.0/profiles/default",
            Reply::fixture(202, "lxd/profile-update-current.response.json"),
        )
        .body_fixture("lxd/profile-default.request.json"),
        Expect::new(
            "GET",
            &wait(),
            Reply::fixture(200, "lxd/operation-success.response.json"),
        ),
    ])
    .await;
    let client = lxd(&path);
    let profile = client.profile("default").await.unwrap();
    assert_eq!(profile.etag.as_deref(), Some("\"p1\""));
    assert_eq!(profile.value.devices["root"]["pool"], "local-btrfs");
    assert_eq!(profile.value.writable().description, "Default LXD profile");
    client
        .put_profile("default", &body, profile.etag.as_deref())
        .await
        .unwrap();
    client.patch_profile("default", &body, None).await.unwrap();
    let recorded = server.finish();
    assert_eq!(recorded[1].header("if-match").as_deref(), Some("\"p1\""));
}

#[tokio::test]
async fn one_pool_and_network_per_member_and_all_profiles() {
    let (server, path) = Server::unix(vec![
        Expect::new(
            "GET",
            "/1.0/storage-pools/local?target=node2",
            Reply::fixture(200, "lxd/storage-pool-target.response.json"),
        ),
        Expect::new(
            "GET",
            "/1.0/storage-pools/local",
            Reply::fixture(404, "envelope/error-404-5.0.2.json"),
        ),
        Expect::new(
            "GET",
            "/1.0/networks/UPLINK?target=node2",
            Reply::fixture(200, "lxd/network-target.response.json"),
        ),
        Expect::new(
            "GET",
            "/1.0/networks/my%20net",
            Reply::fixture(404, "envelope/error-404-5.0.2.json"),
        ),
        Expect::new(
            "GET",
            "/1.0/profiles?recursion=1",
            Reply::fixture(200, "lxd/profiles.response.json"),
        ),
    ])
    .await;
    let client = lxd(&path);
    let pool = client.storage_pool("local", Some("node2")).await.unwrap();
    assert_eq!(pool.driver, "zfs");
    assert_eq!(pool.status, ObjectStatus::Created);
    assert_eq!(
        pool.config["volatile.initial_source"],
        "/dev/disk/by-id/nvme-eui.002538b111b2c3d4"
    );
    assert_eq!(pool.locations, vec!["node1", "node2", "node3"]);
    let err = client.storage_pool("local", None).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "LXD on node node1, GET /1.0/storage-pools/local: the service answered 404: not found"
    );

    let network = client.network("UPLINK", Some("node2")).await.unwrap();
    assert_eq!(network.kind, "physical");
    assert!(network.managed);
    assert_eq!(network.config["parent"], "enp6s0");
    assert_eq!(
        network.locations,
        Some(vec!["node1".into(), "node2".into(), "node3".into()])
    );
    let err = client.network("my net", None).await.unwrap_err();
    assert_eq!(err.status(), Some(404));

    let profiles = client.profiles().await.unwrap();
    assert_eq!(profiles.len(), 2);
    assert_eq!(profiles[0].name, "default");
    assert_eq!(profiles[0].devices["root"]["pool"], "remote");
    assert_eq!(profiles[1].name, "small");
    assert!(
        profiles[1].devices.is_empty(),
        "`null` devices read as none"
    );
    server.finish();
}

#[tokio::test]
async fn operations_list_and_cancel() {
    let (server, path) = Server::unix(vec![
        Expect::new(
            "GET",
            "/1.0/operations?recursion=1",
            Reply::fixture(200, "lxd/operations.response.json"),
        ),
        Expect::new(
            "DELETE",
            OP,
            Reply::fixture(200, "envelope/sync-empty.json"),
        ),
        Expect::new(
            "DELETE",
            "/1.0/operations/abc",
            Reply::fixture(200, "envelope/sync-empty.json"),
        ),
    ])
    .await;
    let client = lxd(&path);
    let ops = client.operations().await.unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].class, "token");
    assert_eq!(ops[0].metadata_str("serverName"), Some("node2"));
    client.cancel_operation(OP).await.unwrap();
    client.cancel_operation("abc").await.unwrap();
    server.finish();
}

#[tokio::test]
async fn names_in_paths_are_percent_encoded() {
    let (server, path) = Server::unix(vec![Expect::new(
        "GET",
        "/1.0/profiles/my%20profile%2Fx",
        Reply::fixture(404, "envelope/error-404-5.0.2.json"),
    )])
    .await;
    let err = lxd(&path).profile("my profile/x").await.unwrap_err();
    assert!(matches!(err, Error::Status { status: 404, .. }));
    server.finish();
}

fn base64_decode(s: &str) -> String {
    use base64::Engine as _;
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(s).unwrap()).unwrap()
}
