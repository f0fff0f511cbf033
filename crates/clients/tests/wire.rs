//! Wire shapes without a server: every request body the clients build is
//! compared with its fixture file, response fixtures decode and re-encode
//! to the same JSON, and the token, fingerprint and identity helpers.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::time::Duration;

use clients::cert::{Fingerprint, Identity, certificate_pem_from_der};
use clients::envelope::{Envelope, Operation, OperationState};
use clients::lxd::{
    CertificateAddToken, CertificatesPost, ClusterJoin, ClusterMemberJoinToken, ClusterMembersPost,
    ClusterPut, NetworksPost, ProfilePut, ResourcesNetworkCard, ResourcesStorageDisk, Server,
    ServerPut, StoragePoolsPost, StorageVolumesPost, TokenField,
};
use clients::microceph::{ConfigEntry, DisksPost, PoolPut, ServiceEntry};
use clients::microcluster::{
    ClusterMember, Control, Extensions, Family, JoinToken, ServerInfo, TokenRecord, TokenRequest,
};
use clients::{Error, microceph, microovn, paths};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

/// Decodes the fixture and checks that encoding gives it back exactly.
fn round_trip<T: Serialize + DeserializeOwned>(value: Value) -> T {
    let typed: T = serde_json::from_value(value.clone()).unwrap();
    assert_eq!(to_json(&typed), value);
    typed
}

fn metadata(name: &str) -> Value {
    fixture(name)["metadata"].clone()
}

// --------------------------------------------------------------------------
// Envelope and operations

#[test]
fn envelope_constructors_produce_the_service_shapes() {
    assert_eq!(
        to_json(&Envelope::sync(json!({}))),
        fixture("envelope/sync-empty.json")
    );
    assert_eq!(
        to_json(&Envelope::error(404, "not found")),
        fixture("envelope/error-404-5.0.2.json")
    );
    let created = fixture("envelope/async-created.json");
    let op: Operation = serde_json::from_value(created["metadata"].clone()).unwrap();
    assert_eq!(
        to_json(&Envelope::async_operation(created["operation"].as_str().unwrap(), &op).unwrap()),
        created
    );
}

#[test]
fn unknown_envelope_types_do_not_decode() {
    let err = serde_json::from_value::<Envelope>(json!({"type":"weird"})).unwrap_err();
    assert!(
        err.to_string().starts_with("unknown variant `weird`"),
        "{err}"
    );
}

#[test]
fn operations_of_both_generations() {
    let old: Operation = round_trip(fixture("envelope/operation-failure-5.0.2.json"));
    assert_eq!(old.state(), OperationState::Failure);
    assert_eq!(old.err_code, None);
    assert_eq!(
        old.err,
        "Failed to join cluster: Certificate fingerprint mismatch"
    );

    let current: Operation = round_trip(fixture("envelope/operation-failure-current.json"));
    assert_eq!(current.err_code, Some(400));
    assert_eq!(current.requestor.as_ref().unwrap()["protocol"], "unix");
    assert_eq!(
        current.metadata_str("entity_url"),
        Some("/1.0/storage-pools/local")
    );

    let running: Operation = round_trip(metadata("lxd/operation-running.response.json"));
    assert_eq!(running.state(), OperationState::InProgress);
    let success: Operation = round_trip(metadata("lxd/operation-success.response.json"));
    assert_eq!(success.state(), OperationState::Success);
    let cancelled: Operation =
        serde_json::from_value(json!({"status":"Cancelled","status_code":401})).unwrap();
    assert_eq!(cancelled.state(), OperationState::Cancelled);
    let by_text: Operation = serde_json::from_value(json!({"status":"Failure"})).unwrap();
    assert_eq!(by_text.state(), OperationState::Failure);
}

// --------------------------------------------------------------------------
// LXD requests

#[test]
fn lxd_cluster_request_bodies() {
    assert_eq!(
        to_json(&ClusterPut::enable("node1")),
        fixture("lxd/cluster-enable.request.json")
    );
    let current = fixture("lxd/cluster-join-current.request.json");
    let join = ClusterJoin {
        server_name: "node2".into(),
        cluster_address: "10.0.0.1:8443".into(),
        cluster_certificate: current["cluster_certificate"].as_str().unwrap().into(),
        server_address: "10.0.0.2:8443".into(),
        token: "<token>".into(),
        member_config: serde_json::from_value(current["member_config"].clone()).unwrap(),
    };
    assert_eq!(to_json(&join.to_put(TokenField::Explicit)), current);
    assert_eq!(
        to_json(&join.to_put(TokenField::Password)),
        fixture("lxd/cluster-join-5.0.2.request.json")
    );
    assert_eq!(
        to_json(&ClusterMembersPost {
            server_name: "node2".into()
        }),
        fixture("lxd/cluster-members-post.request.json")
    );
}

#[test]
fn token_field_is_chosen_by_capability() {
    let old: Server = serde_json::from_value(metadata("lxd/server-5.0.2.response.json")).unwrap();
    let current: Server =
        serde_json::from_value(metadata("lxd/server-current.response.json")).unwrap();
    assert_eq!(old.environment.server_version, "5.0.2");
    assert_eq!(old.token_field(), TokenField::Password);
    assert_eq!(current.token_field(), TokenField::Explicit);
    // Without the extension, a server not known to be older than 5.21.2
    // (which added `cluster_token`) still gets the new field: LXD 6.1+
    // ignores `cluster_password`, and Incus decodes `cluster_token`
    // without advertising `explicit_trust_token`.
    let mut new_version_without_extension = old.clone();
    new_version_without_extension.environment.server_version = "6.9".into();
    assert_eq!(
        new_version_without_extension.token_field(),
        TokenField::Explicit
    );
}

#[test]
fn lxd_certificate_request_bodies() {
    assert_eq!(
        to_json(&CertificatesPost::add_client("microcloud", "<base64 der>")),
        fixture("lxd/certificates-add.request.json")
    );
    assert_eq!(
        to_json(&CertificatesPost::token_request("microcloud")),
        fixture("lxd/certificates-token.request.json")
    );
    assert_eq!(
        to_json(&CertificatesPost::with_token(
            "<token>",
            TokenField::Explicit
        )),
        fixture("lxd/certificates-trust-current.request.json")
    );
    assert_eq!(
        to_json(&CertificatesPost::with_token(
            "<token>",
            TokenField::Password
        )),
        fixture("lxd/certificates-trust-5.0.2.request.json")
    );
}

#[test]
fn lxd_storage_network_profile_server_request_bodies() {
    let zfs: StoragePoolsPost = round_trip(fixture("lxd/storage-pool-pending-zfs.request.json"));
    assert_eq!(zfs.config["source.wipe"], "true");
    round_trip::<StoragePoolsPost>(fixture("lxd/storage-pool-final-ceph.request.json"));
    assert_eq!(
        to_json(&StoragePoolsPost {
            name: "remote".into(),
            driver: "ceph".into(),
            ..StoragePoolsPost::default()
        }),
        json!({"name":"remote","driver":"ceph"})
    );
    assert_eq!(
        to_json(&StorageVolumesPost::custom("images")),
        fixture("lxd/volume-create.request.json")
    );
    round_trip::<NetworksPost>(fixture("lxd/network-pending-uplink.request.json"));
    round_trip::<NetworksPost>(fixture("lxd/network-final-ovn.request.json"));
    round_trip::<ProfilePut>(fixture("lxd/profile-default.request.json"));
    assert_eq!(
        to_json(&ProfilePut::default()),
        json!({"config":{},"description":"","devices":{}})
    );
    round_trip::<ServerPut>(fixture("lxd/server-patch.request.json"));
}

// --------------------------------------------------------------------------
// LXD responses

#[test]
fn lxd_disks_keep_their_exact_shape_in_both_generations() {
    let current = metadata("lxd/resources-current.response.json");
    let disk: ResourcesStorageDisk = round_trip(current["storage"]["disks"][0].clone());
    assert_eq!(disk.used_by.as_deref(), Some("bcache"));
    let card: ResourcesNetworkCard = round_trip(current["network"]["cards"][0].clone());
    assert_eq!(card.ports[0].protocol, "ethernet");

    let old = metadata("lxd/resources-5.0.2.response.json");
    let disk: ResourcesStorageDisk = round_trip(old["storage"]["disks"][0].clone());
    assert_eq!(disk.mounted, None);
}

#[test]
fn lxd_null_lists_read_as_empty() {
    let pool: clients::lxd::StoragePool =
        serde_json::from_value(json!({"name":"p","used_by":null,"locations":null,"config":null}))
            .unwrap();
    assert!(pool.used_by.is_empty() && pool.locations.is_empty() && pool.config.is_empty());
}

#[test]
fn lxd_join_token_encoding() {
    let token = ClusterMemberJoinToken {
        server_name: "node2".into(),
        fingerprint: "ab".into(),
        addresses: vec!["10.0.0.1:8443".into()],
        secret: "s".into(),
        expires_at: clients::lxd::GO_ZERO_TIME.into(),
    };
    let encoded = token.encode();
    assert_eq!(
        encoded,
        "eyJzZXJ2ZXJfbmFtZSI6Im5vZGUyIiwiZmluZ2VycHJpbnQiOiJhYiIsImFkZHJlc3NlcyI6WyIxMC4wLjAuMTo4NDQzIl0sInNlY3JldCI6InMiLCJleHBpcmVzX2F0IjoiMDAwMS0wMS0wMVQwMDowMDowMFoifQ=="
    );
    assert_eq!(ClusterMemberJoinToken::decode(&encoded).unwrap(), token);

    let err = ClusterMemberJoinToken::decode("%%%").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid LXD join token: not base64: "),
        "{err}"
    );
    let empty_addresses = ClusterMemberJoinToken {
        addresses: vec![],
        ..token
    };
    assert_eq!(
        ClusterMemberJoinToken::decode(&empty_addresses.encode())
            .unwrap_err()
            .to_string(),
        "invalid LXD join token: `addresses` is empty"
    );

    let cert = CertificateAddToken {
        client_name: "c".into(),
        fingerprint: "f".into(),
        addresses: vec!["a:1".into()],
        secret: "s".into(),
        expires_at: clients::lxd::GO_ZERO_TIME.into(),
    };
    assert_eq!(CertificateAddToken::decode(&cert.encode()).unwrap(), cert);
}

// --------------------------------------------------------------------------
// microcluster

#[test]
fn extensions_are_string_or_array() {
    assert_eq!(
        to_json(&Extensions(vec!["a".into()])),
        json!("a"),
        "one extension is a bare string"
    );
    assert_eq!(
        to_json(&Extensions(vec!["a".into(), "b".into()])),
        json!(["a", "b"])
    );
    assert_eq!(to_json(&Extensions(vec![])), json!([]));
    let one: Extensions = serde_json::from_value(json!("a")).unwrap();
    assert_eq!(one.0, vec!["a"]);
    let none: Extensions = serde_json::from_value(Value::Null).unwrap();
    assert!(none.0.is_empty());
    assert!(serde_json::from_value::<Extensions>(json!(3)).is_err());
    let members: Vec<ClusterMember> =
        serde_json::from_value(metadata("microcluster/cluster.response.json")).unwrap();
    assert_eq!(members[2].extensions.0.len(), 1);
}

/// Both endpoint families: the paths each call goes to, and the server
/// info and token list each family's daemon gives (the old one has no
/// `version` and no `expires_at`; v2+ always lists two internal
/// extensions). docs/contracts/microcluster.md has the sources.
#[test]
fn microcluster_families_paths_and_shapes() {
    for (family, public, control, tokens, token) in [
        (
            Family::Core,
            "/core/1.0",
            "/core/control",
            "/core/control/tokens",
            "/core/1.0/tokens/a%20b",
        ),
        (
            Family::Cluster,
            "/cluster/1.0",
            "/cluster/control",
            "/cluster/1.0/tokens",
            "/cluster/1.0/tokens/a%20b",
        ),
    ] {
        assert_eq!(
            (
                family.public(),
                family.control(),
                family.tokens(),
                family.token("a b").as_str()
            ),
            (public, control, tokens, token)
        );
    }
    let reef: ServerInfo =
        serde_json::from_value(metadata("microcluster/server-info-reef.response.json")).unwrap();
    assert_eq!(
        (reef.version.as_str(), reef.extensions.0.clone()),
        ("", vec!["internal:runtime_extension_v1".to_owned()])
    );
    let squid: ServerInfo =
        serde_json::from_value(metadata("microcluster/server-info-squid.response.json")).unwrap();
    assert_eq!(
        (squid.version.as_str(), squid.extensions.0.clone()),
        (
            "19.2.0",
            vec![
                "internal:runtime_extension_v1".to_owned(),
                "internal:rename_core_endpoints".to_owned()
            ]
        )
    );
    let records: Vec<TokenRecord> =
        serde_json::from_value(metadata("microcluster/tokens-cluster.response.json")).unwrap();
    assert_eq!(
        (records[0].name.as_str(), records[0].expires_at.as_str()),
        ("node2", "")
    );
    let records: Vec<TokenRecord> =
        serde_json::from_value(metadata("microcluster/tokens.response.json")).unwrap();
    assert_eq!(records[0].expires_at, "2026-11-21T06:00:00Z");
}

#[test]
fn microcluster_request_bodies() {
    assert_eq!(
        to_json(&Control::bootstrap(
            "node1",
            "10.0.0.1:7443".parse().unwrap(),
            microceph::bootstrap_config(Some("10.0.0.0/24"), Some("10.1.0.0/24"))
        )),
        fixture("microcluster/bootstrap-microceph.request.json")
    );
    assert_eq!(
        to_json(&Control::bootstrap(
            "node1",
            "10.0.0.1:6443".parse().unwrap(),
            microovn::init_config("10.2.0.1".parse().unwrap())
        )),
        fixture("microcluster/bootstrap-microovn.request.json")
    );
    assert_eq!(
        to_json(&Control::join(
            "node2",
            "10.0.0.2:6443".parse().unwrap(),
            "<token>",
            microovn::init_config("10.2.0.2".parse().unwrap())
        )),
        fixture("microcluster/join-microovn.request.json")
    );
    assert_eq!(
        to_json(&Control::join(
            "node2",
            "10.0.0.2:7443".parse().unwrap(),
            "<token>",
            BTreeMap::new()
        )),
        fixture("microcluster/join-microceph.request.json")
    );
    assert_eq!(
        to_json(&Control::bootstrap(
            "node1",
            "[2001:db8::1]:7443".parse().unwrap(),
            BTreeMap::new()
        ))["address"],
        "[2001:db8::1]:7443"
    );
    assert_eq!(
        to_json(&TokenRequest::new("node2", Duration::from_secs(3600))),
        fixture("microcluster/token-issue.request.json")
    );
    assert_eq!(TokenRequest::new("x", Duration::MAX).expire_after, i64::MAX);
}

#[test]
fn microcluster_token_round_trip() {
    let issued = metadata("microcluster/token-issue.response.json");
    let token = JoinToken::decode(issued.as_str().unwrap()).unwrap();
    assert_eq!(to_json(&token), fixture("microcluster/token-decoded.json"));
    assert_eq!(token.encode(), issued.as_str().unwrap());
    assert_eq!(
        JoinToken::decode("e30=").unwrap_err().to_string(),
        "invalid microcluster token: not the expected JSON: missing field `secret` at line 1 column 2"
    );
}

// --------------------------------------------------------------------------
// MicroCeph and MicroOVN

#[test]
fn microceph_request_bodies() {
    assert_eq!(
        to_json(&DisksPost::new(
            vec![
                "/dev/disk/by-id/nvme-eui.0001".into(),
                "/dev/disk/by-id/nvme-eui.0002".into()
            ],
            true,
            false
        )),
        fixture("microceph/disks-add.request.json")
    );
    assert_eq!(
        to_json(&ConfigEntry {
            key: "cluster_network".into(),
            ..ConfigEntry::default()
        }),
        fixture("microceph/configs-get.request.json")
    );
    round_trip::<PoolPut>(fixture("microceph/pools-op.request.json"));
    round_trip::<PoolPut>(fixture("microceph/pools-op-defaults.request.json"));
    assert_eq!(microceph::bootstrap_config(None, None), BTreeMap::new());
}

#[test]
fn northbound_connection_rules() {
    let services: Vec<ServiceEntry> =
        serde_json::from_value(metadata("microovn/services.response.json")).unwrap();
    let members: Vec<ClusterMember> =
        serde_json::from_value(metadata("microcluster/cluster.response.json")).unwrap();
    assert_eq!(
        microovn::northbound_connection(&services, &members).unwrap(),
        "ssl:10.0.0.1:6641,ssl:[2001:db8::3]:6641"
    );
    let no_central = vec![ServiceEntry {
        service: "chassis".into(),
        location: "node1".into(),
    }];
    assert_eq!(
        microovn::northbound_connection(&no_central, &members)
            .unwrap_err()
            .to_string(),
        "MicroOVN northbound connection: no member runs the `central` service"
    );
    let stranger = vec![ServiceEntry {
        service: "central".into(),
        location: "node9".into(),
    }];
    assert_eq!(
        microovn::northbound_connection(&stranger, &members)
            .unwrap_err()
            .to_string(),
        "MicroOVN northbound connection: `central` runs on \"node9\", which is not a MicroOVN cluster member"
    );
}

// --------------------------------------------------------------------------
// Certificates and fingerprints

#[test]
fn fingerprints_parse_and_print_lowercase() {
    let upper = "57BB0FF4340B5BB28517E062023101ADF788C37846DC8B619EB2C3CB4EF29436";
    let fp: Fingerprint = upper.parse().unwrap();
    assert_eq!(fp.to_string(), upper.to_lowercase());
    assert_eq!(to_json(&fp), json!(upper.to_lowercase()));
    assert_eq!(
        serde_json::from_value::<Fingerprint>(json!(upper)).unwrap(),
        fp
    );
    for bad in ["", "abc", &"g".repeat(64), &"a".repeat(65), &"é".repeat(32)] {
        let err = bad.parse::<Fingerprint>().unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "invalid certificate fingerprint {bad:?}: expected 64 hexadecimal digits (the SHA-256 of the certificate's DER)"
            )
        );
    }
    assert_eq!(
        Fingerprint::of_der(b"").to_string(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn generated_identities_are_ecdsa_p256_and_reload_from_pem() {
    let id = Identity::generate("node1", &["node1".into(), "10.0.0.1".into()]).unwrap();
    assert!(id.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(id.key_pem().starts_with("-----BEGIN PRIVATE KEY-----"));
    assert_eq!(
        clients::cert::fingerprint_of_pem(id.cert_pem()).unwrap(),
        id.fingerprint()
    );
    assert_eq!(Fingerprint::of_der(id.cert_der()), id.fingerprint());
    // P-256 public keys are 65-byte uncompressed points: OID prime256v1.
    let prime256v1 = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    assert!(
        id.cert_der()
            .windows(prime256v1.len())
            .any(|w| w == prime256v1)
    );

    let reloaded = Identity::from_pem(id.cert_pem(), id.key_pem()).unwrap();
    assert_eq!(reloaded.fingerprint(), id.fingerprint());
    assert_eq!(
        certificate_pem_from_der(id.cert_der()).replace("\r\n", "\n"),
        id.cert_pem().replace("\r\n", "\n")
    );
    use base64::Engine as _;
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(id.cert_base64_der())
            .unwrap(),
        id.cert_der()
    );
    let debug = format!("{id:?}");
    assert!(
        debug.contains("<redacted>") && !debug.contains("PRIVATE"),
        "{debug}"
    );
    let other = Identity::generate("node1", &[]).unwrap();
    assert_ne!(other.fingerprint(), id.fingerprint());
}

#[test]
fn bad_pem_is_reported() {
    let err = Identity::from_pem("nope", "nope").unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidPem {
                what: "certificate",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with("invalid certificate PEM: "),
        "{err}"
    );
    let id = Identity::generate("x", &[]).unwrap();
    let err = Identity::from_pem(id.cert_pem(), "nope").unwrap_err();
    assert!(
        err.to_string().starts_with("invalid private key PEM: "),
        "{err}"
    );
}

// --------------------------------------------------------------------------
// Paths and defaults

#[test]
fn lxd_socket_resolution_follows_lxd() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    };
    assert_eq!(
        paths::lxd_socket(env(&[("LXD_SOCKET", "/s"), ("LXD_DIR", "/d")])),
        std::path::PathBuf::from("/s")
    );
    assert_eq!(
        paths::lxd_socket(env(&[("LXD_DIR", "/var/lib/lxd1")])),
        std::path::PathBuf::from("/var/lib/lxd1/unix.socket")
    );
    assert_eq!(
        paths::lxd_socket(env(&[])),
        std::path::PathBuf::from("/var/lib/lxd/unix.socket")
    );
    assert_eq!(
        paths::control_socket("/var/snap/microceph/common/state"),
        std::path::PathBuf::from(paths::MICROCEPH_SOCKET)
    );
}

#[test]
fn default_timeouts() {
    let t = clients::Timeouts::default();
    assert_eq!(t.request, Duration::from_secs(30));
    assert_eq!(t.long_request, Duration::from_secs(600));
    assert_eq!(t.operation, Duration::from_secs(600));
    assert_eq!(t.wait_chunk, Duration::from_secs(30));
    assert_eq!(t.poll_backoff, Duration::from_millis(250));
}

#[test]
fn operation_resource_lists_may_be_null_as_go_encodes_nil_slices() {
    let op: clients::envelope::Operation = serde_json::from_value(serde_json::json!({
        "id": "1", "class": "task", "status": "Running", "status_code": 103,
        "resources": {"cluster": null, "instances": ["/1.0/instances/c1"]}
    }))
    .unwrap();
    let resources = op.resources.unwrap();
    assert_eq!(resources["cluster"], Vec::<String>::new());
    assert_eq!(resources["instances"], vec!["/1.0/instances/c1".to_owned()]);
}
