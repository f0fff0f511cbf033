//! `LxdClient` over the simulated LXD's unix socket (and TLS where LXD
//! uses it), for LXD 5.0.2 (`Legacy`) and current LXD (`Current`).

use clients::envelope::{Operation, status_code};
use clients::lxd::{
    ApiExtensions, ClusterMemberConfigKey, GO_ZERO_TIME, LxdApi, LxdClient, NetworksPost,
    ProfilePut, ServerPut, StoragePoolsPost, StorageVolumesPost, TokenField,
};
use clients::microcluster::MicroclusterApi;
use clients::microovn::{MicroOvnApi, northbound_connection};
use clients::rest::{CallOptions, Completion, Reply, SyncReply};
use clients::{Error, Service};
use simulators::{LxdProfile, Sim};

use crate::support::*;

fn local_disk(i: usize) -> String {
    format!("/dev/disk/by-id/nvme-QEMU_NVMe_Ctrl_local{i}")
}

fn pool(name: &str, driver: &str, config: &[(&str, &str)]) -> StoragePoolsPost {
    StoragePoolsPost {
        name: name.to_owned(),
        driver: driver.to_owned(),
        config: map(config),
        description: String::new(),
    }
}

fn network(name: &str, kind: &str, config: &[(&str, &str)]) -> NetworksPost {
    NetworksPost {
        name: name.to_owned(),
        kind: kind.to_owned(),
        config: map(config),
        description: String::new(),
    }
}

/// A creation through the request layer, to see how the service answered
/// (the typed methods only report success).
async fn observed_post<B: serde::Serialize + Sync>(
    c: &LxdClient,
    path: &str,
    body: &B,
) -> Completion {
    c.rest()
        .run(http::Method::POST, path, Some(body), CallOptions::default())
        .await
        .unwrap()
}

/// Legacy: 201 sync with `Location`; current: a 202 operation the client
/// waited for, which ended `Success`.
fn assert_created(profile: LxdProfile, completion: &Completion, location: &str) {
    match (profile, completion) {
        (
            LxdProfile::Legacy,
            Completion::Sync(SyncReply {
                status: 201,
                location: Some(l),
                ..
            }),
        ) => assert_eq!(l, location),
        (LxdProfile::Current, Completion::Operation(op)) => {
            assert_eq!(
                (op.status.as_str(), op.status_code, op.class.as_str()),
                ("Success", status_code::SUCCESS, "task"),
                "{op:?}"
            );
        }
        other => panic!("unexpected completion for {location}: {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Server configuration

async fn server_config(profile: LxdProfile) {
    let sim = sim(1, profile).await;
    let c = lxd(&sim, "node1");
    c.ready().await.unwrap();
    let server = c.server(None).await.unwrap();
    let etag = server.etag.clone().expect("GET /1.0 carries an ETag");
    assert_eq!(server.value.api_extensions, profile.extensions());
    assert_eq!(server.value.api_version, "1.0");
    assert_eq!(server.value.auth, "trusted");
    assert_eq!(
        server.value.environment.server_version,
        profile.server_version()
    );
    assert!(!server.value.environment.server_clustered);

    // The token field comes from the advertised extensions only.
    let extensions: ApiExtensions = c.api_extensions().await.unwrap();
    let (field, async_creates) = match profile {
        LxdProfile::Legacy => (TokenField::Password, false),
        LxdProfile::Current => (TokenField::Explicit, true),
    };
    assert_eq!(extensions.token_field(), field);
    assert_eq!(
        extensions.has("storage_and_network_operations"),
        async_creates
    );

    // PATCH with the ETag merges.
    c.patch_server(
        &ServerPut {
            config: map(&[("user.microcloud", "test")]),
        },
        None,
        Some(&etag),
    )
    .await
    .unwrap();
    let patched = c.server(None).await.unwrap();
    assert_eq!(patched.value.config_str("user.microcloud"), Some("test"));
    let new_etag = patched.etag.clone().unwrap();
    assert_ne!(new_etag, etag);

    // The first ETag is stale now: 412, which retrying cannot fix.
    let e = c
        .patch_server(
            &ServerPut {
                config: map(&[("user.other", "1")]),
            },
            None,
            Some(&etag),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(412));
    assert!(!e.is_transient());
    assert_eq!(
        context_of(&e),
        ctx(Service::Lxd, "node1", http::Method::PATCH, "/1.0")
    );
    // LXD quotes the ETag header and compares unquoted values.
    assert_eq!(
        e.to_string(),
        format!(
            "LXD on node node1, PATCH /1.0: the service answered 412: ETag doesn't match: {} vs {}",
            etag.trim_matches('"'),
            new_etag.trim_matches('"')
        )
    );

    // PUT replaces the whole configuration.
    c.put_server(
        &ServerPut {
            config: map(&[("user.replaced", "yes")]),
        },
        None,
        Some(&new_etag),
    )
    .await
    .unwrap();
    let replaced = c.server(None).await.unwrap().value;
    assert_eq!(
        replaced.config.keys().collect::<Vec<_>>(),
        ["user.replaced"]
    );

    // An unknown key is a 400.
    let e = c
        .patch_server(
            &ServerPut {
                config: map(&[("bogus.key", "1")]),
            },
            None,
            None,
        )
        .await
        .unwrap_err();
    assert_eq!((e.status(), e.is_transient()), (Some(400), false), "{e}");
    assert_eq!(
        e.to_string(),
        "LXD on node node1, PATCH /1.0: the service answered 400: cannot set 'bogus.key' to '1': unknown key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_get_patch_put_etag_and_token_field_legacy() {
    server_config(LxdProfile::Legacy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_get_patch_put_etag_and_token_field_current() {
    server_config(LxdProfile::Current).await;
}

// ---------------------------------------------------------------------------
// Clustering

async fn clustering(profile: LxdProfile) {
    let sim = sim(3, profile).await;
    let n1 = lxd(&sim, "node1");

    // Not clustered yet.
    let e = n1.cluster_members().await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "LXD on node node1, GET /1.0/cluster/members?recursion=1: the service answered 500: Server is not clustered"
    );
    let e = n1.issue_join_token("node2").await.unwrap_err();
    assert_eq!((e.status(), e.is_transient()), (Some(400), false), "{e}");
    assert_eq!(
        e.to_string(),
        "LXD on node node1, POST /1.0/cluster/members: the service answered 400: This server is not clustered"
    );

    // Enabling clustering needs a non-wildcard address.
    n1.patch_server(
        &ServerPut {
            config: map(&[("core.https_address", "[::]:8443")]),
        },
        None,
        None,
    )
    .await
    .unwrap();
    let e = n1.enable_clustering("node1").await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "LXD on node node1, PUT /1.0/cluster: the service answered 500: Cannot use wildcard core.https_address \"\" for cluster.https_address. Please specify a new cluster.https_address or core.https_address"
    );
    lxd_bootstrap(&sim, "node1").await;
    let cluster = n1.cluster().await.unwrap();
    assert!(cluster.value.enabled);
    assert_eq!(cluster.value.server_name, "node1");
    assert!(cluster.etag.is_some());

    // A join token: a `token` operation that stays Running, re-encoded.
    let issued = n1.issue_join_token("node2").await.unwrap();
    let cluster_fp = node(&sim, "node1").lxd_cluster_fingerprint().unwrap();
    assert_eq!(issued.token.server_name, "node2");
    assert_eq!(issued.token.fingerprint, cluster_fp);
    assert_eq!(issued.token.addresses, [lxd_addr(&sim, "node1")]);
    assert_eq!(issued.token.secret.len(), 64);
    assert_ne!(issued.token.expires_at, GO_ZERO_TIME, "3H default expiry");
    let decoded = clients::lxd::ClusterMemberJoinToken::decode(&issued.encoded()).unwrap();
    assert_eq!(decoded, issued.token);
    let op = token_operation(&n1, &issued.operation).await;
    assert_eq!(
        (op.class.as_str(), op.status.as_str(), op.status_code),
        ("token", "Running", status_code::RUNNING)
    );
    assert_eq!(op.metadata_str("serverName"), Some("node2"));

    // The wrong token field is ignored by the server's JSON decoder, so the
    // join fails later, without trust.
    let wrong = match profile {
        LxdProfile::Legacy => TokenField::Explicit,
        LxdProfile::Current => TokenField::Password,
    };
    let join = lxd_join_request(&sim, "node2", &issued.encoded(), Vec::new()).await;
    let n2 = lxd(&sim, "node2");
    let e = n2.join_cluster(&join, wrong).await.unwrap_err();
    assert!(matches!(&e, Error::OperationFailed { .. }), "{e:?}");
    assert!(!e.is_transient());
    assert_eq!(
        context_of(&e),
        ctx(Service::Lxd, "node2", http::Method::PUT, "/1.0/cluster")
    );
    let Error::OperationFailed {
        status, code, err, ..
    } = &e
    else {
        unreachable!()
    };
    // Current LXD reports the failed operation's `err_code`; 5.0.2 has none.
    let want_code = match profile {
        LxdProfile::Legacy => None,
        LxdProfile::Current => Some(500),
    };
    assert_eq!((status.as_str(), *code), ("Failure", want_code));
    assert_eq!(
        err,
        "Failed to setup cluster trust: Failed to add server cert to cluster: not authorized"
    );

    // The right field: joins (the token was not consumed by the failure).
    let field = n2.api_extensions().await.unwrap().token_field();
    n2.join_cluster(&join, field).await.unwrap();
    lxd_join(&sim, "node1", "node3").await;

    for name in ["node1", "node2", "node3"] {
        let members = lxd(&sim, name).cluster_members().await.unwrap();
        let seen: Vec<(&str, &str, String)> = members
            .iter()
            .map(|m| (m.server_name.as_str(), m.status.as_str(), m.url.clone()))
            .collect();
        let want: Vec<(&str, &str, String)> = ["node1", "node2", "node3"]
            .iter()
            .map(|n| (*n, "Online", format!("https://{}", lxd_addr(&sim, n))))
            .collect();
        assert_eq!(seen, want, "members as seen from {name}");
        let server = lxd(&sim, name).server(None).await.unwrap().value;
        assert!(server.environment.server_clustered);
        assert_eq!(server.environment.server_name, name);
    }

    // Unused tokens are revoked by cancelling their operation.
    let spare = n1.issue_join_token("node4").await.unwrap();
    n1.cancel_operation(&spare.operation).await.unwrap();
    let op = token_operation(&n1, &spare.operation).await;
    assert_eq!(
        (op.status.as_str(), op.status_code),
        ("Cancelled", status_code::CANCELLED)
    );
}

/// The operation with this URL, from `GET /1.0/operations?recursion=1`.
async fn token_operation(c: &LxdClient, url: &str) -> Operation {
    c.operations()
        .await
        .unwrap()
        .into_iter()
        .find(|op| url.ends_with(&op.id))
        .unwrap_or_else(|| panic!("operation {url} is not listed"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_tokens_and_joins_over_tls_legacy() {
    clustering(LxdProfile::Legacy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_tokens_and_joins_over_tls_current() {
    clustering(LxdProfile::Current).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_member_with_another_certificate_than_pinned_is_refused() {
    let sim = lxd_cluster(1, LxdProfile::Current).await;
    let wrong = "00".repeat(32);
    let transport = clients::Transport::https(
        &lxd_addr(&sim, "node1"),
        &identity("node2"),
        fingerprint(&wrong),
    )
    .unwrap();
    let e = LxdClient::new(transport, "node2")
        .server(None)
        .await
        .unwrap_err();
    let actual = node(&sim, "node1").lxd_cluster_fingerprint().unwrap();
    assert!(!e.is_transient());
    assert_eq!(
        e.to_string(),
        format!(
            "LXD on node node2, GET /1.0: the server at https://{} presented a certificate with fingerprint {actual}, not the expected {wrong}; refusing to talk to it (wrong address, or the certificate was replaced: re-check the fingerprint)",
            lxd_addr(&sim, "node1")
        )
    );
}

// ---------------------------------------------------------------------------
// Pools, networks, profiles, volumes on a formed cluster

async fn storage_and_networks(profile: LxdProfile) {
    // node4 joins at the end, into a cluster that has pools and networks.
    let sim = sim(4, profile).await;
    lxd_bootstrap(&sim, "node1").await;
    lxd_join(&sim, "node1", "node2").await;
    lxd_join(&sim, "node1", "node3").await;
    let n1 = lxd(&sim, "node1");
    let legacy = profile == LxdProfile::Legacy;
    let members = ["node1", "node2", "node3"];

    // Local pool, pending on node1 and node2 only: the global create is
    // refused. Legacy refuses synchronously (500); current fails inside
    // the operation, which `/wait` reports as HTTP 200 + error envelope.
    for (i, m) in members.iter().enumerate().take(2) {
        let mut config = vec![("source", local_disk(i + 1))];
        if !legacy {
            config.push(("source.wipe", "true".to_owned()));
        }
        let config: Vec<(&str, &str)> = config.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let body = pool("local", "zfs", &config);
        let path = format!("/1.0/storage-pools?target={m}");
        if i == 0 {
            let done = observed_post(&n1, &path, &body).await;
            assert_created(profile, &done, "/1.0/storage-pools/local");
        } else {
            n1.create_storage_pool(&body, Some(m)).await.unwrap();
        }
    }
    let pending = n1.storage_pool("local", None).await.unwrap();
    assert_eq!(pending.status, "Pending");
    assert_eq!(pending.locations, ["node1", "node2"]);
    let global = StoragePoolsPost {
        description: "Local storage on ZFS".to_owned(),
        ..pool("local", "zfs", &[])
    };
    let e = n1.create_storage_pool(&global, None).await.unwrap_err();
    if legacy {
        assert_eq!(e.status(), Some(500));
        assert_eq!(
            e.to_string(),
            "LXD on node node1, POST /1.0/storage-pools: the service answered 500: Pool not defined on nodes: node3"
        );
    } else {
        let Error::OperationFailed {
            operation,
            status,
            code,
            err,
            ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert!(operation.starts_with("/1.0/operations/"), "{operation}");
        assert_eq!((status.as_str(), *code), ("Failure", Some(500)));
        assert_eq!(err, "Pool not defined on cluster members: node3");
        assert!(!e.is_transient());
        assert_eq!(
            context_of(&e),
            ctx(
                Service::Lxd,
                "node1",
                http::Method::POST,
                "/1.0/storage-pools"
            )
        );
    }

    // Member-specific keys only with a target, global keys only without.
    let e = n1
        .create_storage_pool(
            &pool("local", "zfs", &[("zfs.clone_copy", "false")]),
            Some("node3"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        failure_text(&e),
        "Config key \"zfs.clone_copy\" may not be used as member-specific key"
    );
    let mut source = vec![("source", local_disk(3))];
    if !legacy {
        source.push(("source.wipe", "true".to_owned()));
    }
    let source: Vec<(&str, &str)> = source.iter().map(|(k, v)| (*k, v.as_str())).collect();
    n1.create_storage_pool(&pool("local", "zfs", &source), Some("node3"))
        .await
        .unwrap();
    let e = n1
        .create_storage_pool(&pool("local", "zfs", &[("source", "x")]), None)
        .await
        .unwrap_err();
    assert_eq!(
        failure_text(&e),
        "Config key \"source\" is cluster member specific"
    );
    let done = observed_post(&n1, "/1.0/storage-pools", &global).await;
    assert_created(profile, &done, "/1.0/storage-pools/local");
    let created = n1.storage_pool("local", None).await.unwrap();
    assert_eq!(created.status, "Created");
    assert_eq!(created.locations, members);
    assert_eq!(created.description, "Local storage on ZFS");
    let on_node2 = n1.storage_pool("local", Some("node2")).await.unwrap();
    assert_eq!(
        on_node2.config.get("source").map(String::as_str),
        Some(local_disk(2).as_str())
    );
    let pools: Vec<String> = lxd(&sim, "node3")
        .storage_pools(None)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(pools, ["local"]);

    // MicroOVN on node1, for the OVN network's northbound database; LXD
    // without `ovn_dynamic_northbound_connection` is told where it is.
    ovn_cluster(&sim, 1).await;
    if !n1
        .api_extensions()
        .await
        .unwrap()
        .has("ovn_dynamic_northbound_connection")
    {
        let o1 = ovn(&sim, "node1");
        let nb = northbound_connection(
            &o1.services().await.unwrap(),
            &o1.cluster_members().await.unwrap(),
        )
        .unwrap();
        assert_eq!(nb, format!("ssl:{}:6641", node(&sim, "node1").ip()));
        n1.patch_server(
            &ServerPut {
                config: map(&[("network.ovn.northbound_connection", &nb)]),
            },
            None,
            None,
        )
        .await
        .unwrap();
    }

    // UPLINK: pending per member, then global; then the OVN network, which
    // takes no target.
    for (i, m) in members.iter().enumerate() {
        let body = network("UPLINK", "physical", &[("parent", "enp6s0")]);
        let path = format!("/1.0/networks?target={m}");
        if i == 0 {
            let done = observed_post(&n1, &path, &body).await;
            assert_created(profile, &done, "/1.0/networks/UPLINK");
        } else {
            n1.create_network(&body, Some(m)).await.unwrap();
        }
    }
    assert_eq!(n1.network("UPLINK", None).await.unwrap().status, "Pending");
    let uplink = NetworksPost {
        description: "Uplink for OVN networks".to_owned(),
        ..network(
            "UPLINK",
            "physical",
            &[
                ("ipv4.gateway", "192.0.2.1/24"),
                ("ipv4.ovn.ranges", "192.0.2.100-192.0.2.254"),
            ],
        )
    };
    let done = observed_post(&n1, "/1.0/networks", &uplink).await;
    assert_created(profile, &done, "/1.0/networks/UPLINK");
    let ovn_net = NetworksPost {
        description: "Default OVN network".to_owned(),
        ..network("default", "ovn", &[("network", "UPLINK")])
    };
    let e = n1
        .create_network(&ovn_net, Some("node1"))
        .await
        .unwrap_err();
    assert_eq!((e.status(), e.is_transient()), (Some(400), false));
    assert_eq!(
        e.to_string(),
        "LXD on node node1, POST /1.0/networks?target=node1: the service answered 400: Network type \"ovn\" does not support member specific config"
    );
    n1.create_network(&ovn_net, None).await.unwrap();
    let managed: Vec<(String, String, String)> = n1
        .networks(None)
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.managed)
        .map(|n| (n.name, n.kind, n.status))
        .collect();
    assert_eq!(
        managed,
        [
            (
                "UPLINK".to_owned(),
                "physical".to_owned(),
                "Created".to_owned()
            ),
            ("default".to_owned(), "ovn".to_owned(), "Created".to_owned())
        ]
    );
    let uplink_on_3 = n1.network("UPLINK", Some("node3")).await.unwrap();
    assert_eq!(
        uplink_on_3.config.get("parent").map(String::as_str),
        Some("enp6s0")
    );

    // A joiner would now have to supply the member-specific keys.
    let keys: Vec<(String, String, String)> = n1
        .cluster()
        .await
        .unwrap()
        .value
        .member_config
        .into_iter()
        .map(
            |ClusterMemberConfigKey {
                 entity, name, key, ..
             }| (entity, name, key),
        )
        .collect();
    let key = |e: &str, n: &str, k: &str| (e.to_owned(), n.to_owned(), k.to_owned());
    assert_eq!(
        keys,
        [
            key("storage-pool", "local", "size"),
            key("storage-pool", "local", "source"),
            key("storage-pool", "local", "zfs.pool_name"),
            key("network", "UPLINK", "parent"),
        ]
    );

    // Default profile, with the ETag; the same update is 200 sync on
    // legacy and a 202 operation on current, both succeed.
    let profile_now = n1.profile("default").await.unwrap();
    let etag = profile_now.etag.clone().expect("profiles carry an ETag");
    let mut put: ProfilePut = profile_now.value.writable();
    put.devices = [
        (
            "root".to_owned(),
            map(&[("path", "/"), ("pool", "local"), ("type", "disk")]),
        ),
        (
            "eth0".to_owned(),
            map(&[("name", "eth0"), ("network", "default"), ("type", "nic")]),
        ),
    ]
    .into();
    n1.put_profile("default", &put, Some(&etag)).await.unwrap();
    let e = n1
        .patch_profile("default", &put, Some(&etag))
        .await
        .unwrap_err();
    assert_eq!((e.status(), e.is_transient()), (Some(412), false), "{e}");
    let seen = lxd(&sim, "node3").profile("default").await.unwrap().value;
    assert_eq!(seen.devices, put.devices);
    let names: Vec<String> = n1
        .profiles()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["default"]);

    // Custom volumes per member, then the member-local daemon keys.
    for m in members {
        n1.create_custom_volume("local", &StorageVolumesPost::custom("images"), Some(m))
            .await
            .unwrap();
        n1.patch_server(
            &ServerPut {
                config: map(&[("storage.images_volume", "local/images")]),
            },
            Some(m),
            None,
        )
        .await
        .unwrap();
    }
    // Current LXD lists only the target member's volumes; 5.0.2 ignores
    // the target and lists every member's.
    let volumes: Vec<(String, String, String)> = n1
        .custom_volumes("local", Some("node2"))
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.name, v.kind, v.location))
        .collect();
    let listed_on: &[&str] = if legacy { &members } else { &["node2"] };
    let want: Vec<(String, String, String)> = listed_on
        .iter()
        .map(|m| ("images".to_owned(), "custom".to_owned(), (*m).to_owned()))
        .collect();
    assert_eq!(volumes, want);
    for m in members {
        let server = lxd(&sim, m).server(None).await.unwrap().value;
        assert_eq!(
            server.config_str("storage.images_volume"),
            Some("local/images"),
            "on {m}"
        );
        // The same member view through node1 with `?target=`.
        let forwarded = n1.server(Some(m)).await.unwrap().value;
        assert_eq!(forwarded.environment.server_name, m);
        assert_eq!(
            forwarded.config_str("cluster.https_address"),
            Some(lxd_addr(&sim, m).as_str())
        );
    }
    // The pool list ignores `?target=` and, clustered, never shows the
    // member-specific keys: only `storage_pool(name, Some(member))` does.
    let listed: Vec<(String, Option<String>)> = n1
        .storage_pools(Some("node2"))
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.name, p.config.get("source").cloned()))
        .collect();
    assert_eq!(listed, [("local".to_owned(), None)]);
    let uplink_parent: Vec<Option<String>> = n1
        .networks(Some("node2"))
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.name == "UPLINK")
        .map(|n| n.config.get("parent").cloned())
        .collect();
    assert_eq!(uplink_parent, [Some("enp6s0".to_owned())]);
    let e = n1
        .create_custom_volume(
            "local",
            &StorageVolumesPost::custom("images"),
            Some("node2"),
        )
        .await
        .unwrap_err();
    assert!(!e.is_transient(), "{e}");

    // A later joiner supplies the member-specific keys in `member_config`.
    let issued = n1.issue_join_token("node4").await.unwrap();
    let member_key = |entity: &str, name: &str, key: &str, value: &str| ClusterMemberConfigKey {
        entity: entity.to_owned(),
        name: name.to_owned(),
        key: key.to_owned(),
        value: value.to_owned(),
        description: String::new(),
    };
    let mut member_config = vec![
        member_key("storage-pool", "local", "source", &local_disk(4)),
        member_key("network", "UPLINK", "parent", "enp6s0"),
    ];
    if !legacy {
        member_config.push(member_key("storage-pool", "local", "source.wipe", "true"));
    }
    let join = lxd_join_request(&sim, "node4", &issued.encoded(), member_config).await;
    let n4 = lxd(&sim, "node4");
    let field = n4.api_extensions().await.unwrap().token_field();
    n4.join_cluster(&join, field).await.unwrap();
    let on_node4 = n1.storage_pool("local", Some("node4")).await.unwrap();
    assert_eq!(
        on_node4.config.get("source").map(String::as_str),
        Some(local_disk(4).as_str())
    );
    assert_eq!(
        node(&sim, "node4").disk_holder("nvme1n1").as_deref(),
        Some("LXD storage pool \"local\"")
    );
    let uplink_on_4 = n4.network("UPLINK", Some("node4")).await.unwrap();
    assert_eq!(
        uplink_on_4.config.get("parent").map(String::as_str),
        Some("enp6s0")
    );
    let online: Vec<(String, String)> = n4
        .cluster_members()
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.server_name, m.status))
        .collect();
    assert_eq!(online.len(), 4);
    assert!(online.iter().all(|(_, s)| s == "Online"), "{online:?}");
}

/// The error text of a failed creation, whichever way the profile reports
/// it (a sync error status, or a failed operation).
fn failure_text(e: &Error) -> String {
    match e {
        Error::Status { message, .. } => message.clone(),
        Error::OperationFailed { err, .. } => err.clone(),
        other => panic!("not a service failure: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_then_global_pools_networks_profile_volumes_legacy() {
    storage_and_networks(LxdProfile::Legacy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_then_global_pools_networks_profile_volumes_current() {
    storage_and_networks(LxdProfile::Current).await;
}

// ---------------------------------------------------------------------------
// Resources and network discovery

async fn resources(profile: LxdProfile) {
    let sim: Sim = lxd_cluster(2, profile).await;
    let n2 = lxd(&sim, "node2");
    let r = n2.resources(None).await.unwrap();
    let disks: Vec<(&str, &str, &str)> = r
        .storage
        .disks
        .iter()
        .map(|d| (d.id.as_str(), d.kind.as_str(), d.device_id.as_str()))
        .collect();
    assert_eq!(
        disks,
        [
            ("nvme0n1", "nvme", "nvme-QEMU_NVMe_Ctrl_root2"),
            ("nvme1n1", "nvme", "nvme-QEMU_NVMe_Ctrl_local2"),
            ("sda", "scsi", "scsi-0QEMU_QEMU_HARDDISK_ceph-a-2"),
            ("sdb", "scsi", "scsi-0QEMU_QEMU_HARDDISK_ceph-b-2"),
            ("sr0", "cdrom", "ata-QEMU_DVD-ROM_QM00003"),
        ]
    );
    assert_eq!(r.storage.total, 5);
    let root = &r.storage.disks[0];
    assert_eq!(root.partitions.len(), 2);
    assert_eq!(root.device_path, "pci-0000:04:00.0-nvme-1");
    assert_eq!(root.size, 68_719_476_736);
    assert_eq!(r.storage.disks[2].wwn, "0x5000c500000a0002");
    assert_eq!(r.storage.disks[4].size, 0);
    assert!(r.storage.disks[4].removable);
    // `mounted` exists from LXD 5.21 on: None on 5.0.2.
    let mounted = match profile {
        LxdProfile::Legacy => None,
        LxdProfile::Current => Some(true),
    };
    assert_eq!(root.mounted, mounted);
    let cards: Vec<(&str, &str, &str)> = r
        .network
        .cards
        .iter()
        .map(|c| {
            (
                c.ports[0].id.as_str(),
                c.ports[0].address.as_str(),
                c.pci_address.as_str(),
            )
        })
        .collect();
    assert_eq!(
        cards,
        [
            ("enp5s0", "00:16:3e:00:00:12", "0000:01:00.0"),
            ("enp6s0", "00:16:3e:00:00:22", "0000:02:00.0"),
            ("enp7s0", "00:16:3e:00:00:32", "0000:03:00.0"),
        ]
    );
    assert_eq!(r.network.total, 3);
    assert!(r.network.cards.iter().all(|c| c.ports[0].link_detected));

    // The same through the cluster: node1 forwards `?target=node2`.
    let forwarded = lxd(&sim, "node1").resources(Some("node2")).await.unwrap();
    assert_eq!(forwarded, r);

    // Network discovery as MicroCloud does it.
    let names: Vec<(String, String, bool)> = n2
        .networks(None)
        .await
        .unwrap()
        .into_iter()
        .map(|n| (n.name, n.kind, n.managed))
        .collect();
    let unmanaged = |n: &str, k: &str| (n.to_owned(), k.to_owned(), false);
    assert_eq!(
        names,
        [
            unmanaged("lo", "loopback"),
            unmanaged("enp5s0", "physical"),
            unmanaged("enp6s0", "physical"),
            unmanaged("enp7s0", "physical"),
        ]
    );
    let state = n2.network_state("enp5s0", None).await.unwrap();
    assert_eq!(
        (state.state.as_str(), state.kind.as_str()),
        ("up", "broadcast")
    );
    let addresses: Vec<(&str, &str, &str, &str)> = state
        .addresses
        .iter()
        .map(|a| {
            (
                a.family.as_str(),
                a.address.as_str(),
                a.netmask.as_str(),
                a.scope.as_str(),
            )
        })
        .collect();
    let ip2 = node(&sim, "node2").ip().to_string();
    assert_eq!(
        addresses,
        [
            ("inet", ip2.as_str(), "24", "global"),
            ("inet6", "fe80::216:3eff:fe00:12", "64", "link"),
        ]
    );
    let e = n2.network_state("nope", None).await.unwrap_err();
    assert_eq!((e.status(), e.is_transient()), (Some(404), false));
    assert_eq!(
        e.to_string(),
        "LXD on node node2, GET /1.0/networks/nope/state: the service answered 404: Network not found"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_disks_cards_and_network_state_legacy() {
    resources(LxdProfile::Legacy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_disks_cards_and_network_state_current() {
    resources(LxdProfile::Current).await;
}

// ---------------------------------------------------------------------------
// Envelope shapes, seen through the client's request layer

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_answers_are_202_with_location_and_a_running_operation() {
    let sim = lxd_cluster(1, LxdProfile::Current).await;
    let n1 = lxd(&sim, "node1");
    let path = "/1.0/cluster/members";
    let body = serde_json::json!({"server_name": "node9"});
    let ctx = n1.rest().context(&http::Method::POST, path);
    let raw = n1
        .rest()
        .transport()
        .send(
            &ctx,
            clients::transport::Request {
                method: http::Method::POST,
                path: path.to_owned(),
                body: Some(serde_json::to_vec(&body).unwrap()),
                if_match: None,
                timeout: std::time::Duration::from_secs(10),
            },
        )
        .await
        .unwrap();
    let envelope: clients::envelope::Envelope = serde_json::from_slice(&raw.body).unwrap();
    assert_eq!(raw.status, 202);
    assert_eq!(envelope.kind, clients::envelope::ResponseType::Async);
    assert_eq!(
        (envelope.status.as_str(), envelope.status_code),
        ("Operation created", status_code::OPERATION_CREATED)
    );
    let location = raw.location.clone().expect("202 carries a Location");
    assert_eq!(envelope.operation, location);

    // The same through `call`: the operation is Running (103).
    match n1
        .rest()
        .call(
            http::Method::POST,
            path,
            Some(&body),
            CallOptions::default(),
        )
        .await
    {
        Ok(Reply::Async(reply)) => {
            assert_eq!(reply.url, format!("/1.0/operations/{}", reply.operation.id));
            assert_eq!(
                (reply.operation.status.as_str(), reply.operation.status_code),
                ("Running", status_code::RUNNING)
            );
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Waiting on an operation that outlives one `/wait` call

/// Enabling clustering takes 3 s here (real time), longer than one
/// `/wait?timeout=1` plus the 1.5 s request timeout: success proves the
/// client waited again after a wait that came back while the operation
/// was still running (5.0.2: a sync envelope with the running operation;
/// current: HTTP 200 with a "context deadline exceeded" error envelope,
/// after which the client reads the operation itself). A client whose
/// whole deadline is 1 s gives up with a transient `OperationTimeout`.
async fn wait_is_repeated(profile: LxdProfile) {
    let timings = simulators::Timings {
        cluster_bootstrap: std::time::Duration::from_secs(3),
        ..simulators::Timings::default()
    };
    let sim = simulators::SimBuilder::new()
        .nodes(2)
        .profile(profile)
        .timings(timings)
        .time_scale(1.0)
        .start()
        .await
        .unwrap();
    let client = |name: &str, operation_secs: u64| {
        LxdClient::from_rest(
            short_rest(
                clients::Transport::unix(node(&sim, name).lxd_socket()),
                Service::Lxd,
                name,
            )
            .with_timeouts(clients::rest::Timeouts {
                operation: std::time::Duration::from_secs(operation_secs),
                wait_chunk: std::time::Duration::from_secs(1),
                ..short_timeouts()
            }),
        )
    };
    for name in ["node1", "node2"] {
        lxd(&sim, name)
            .patch_server(
                &ServerPut {
                    config: map(&[("cluster.https_address", &lxd_addr(&sim, name))]),
                },
                None,
                None,
            )
            .await
            .unwrap();
    }
    let impatient = client("node1", 1);
    let patient = client("node2", 10);
    let (gave_up, done) = tokio::join!(
        impatient.enable_clustering("node1"),
        patient.enable_clustering("node2")
    );
    done.unwrap();
    assert!(lxd(&sim, "node2").cluster().await.unwrap().value.enabled);
    let e = gave_up.unwrap_err();
    let Error::OperationTimeout { operation, .. } = &e else {
        panic!("{e:?}")
    };
    assert!(e.is_transient());
    assert_eq!(
        context_of(&e),
        ctx(Service::Lxd, "node1", http::Method::PUT, "/1.0/cluster")
    );
    let message = e.to_string();
    let prefix = format!(
        "LXD on node node1, PUT /1.0/cluster: background operation {operation} was still running after "
    );
    assert!(message.starts_with(&prefix), "{message}");
    assert!(
        message.ends_with("s; it may still finish on the server, check it before retrying"),
        "{message}"
    );
    // It did finish on the server.
    let waited = lxd(&sim, "node1")
        .rest()
        .wait_operation(
            &ctx(Service::Lxd, "node1", http::Method::PUT, "/1.0/cluster"),
            operation,
        )
        .await
        .unwrap();
    assert_eq!(waited.status, "Success");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_that_returns_early_is_repeated_legacy() {
    wait_is_repeated(LxdProfile::Legacy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_that_returns_early_is_repeated_current() {
    wait_is_repeated(LxdProfile::Current).await;
}
