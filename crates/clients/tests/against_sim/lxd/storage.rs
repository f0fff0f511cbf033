//! Pools, networks, profiles and volumes on a formed cluster.

use clients::lxd::{
    ClusterMemberConfigKey, LxdApi, NetworksPost, ObjectStatus, ProfilePut, ServerPut,
    StoragePoolsPost, StorageVolumesPost,
};
use clients::microcluster::MicroclusterApi;
use clients::microovn::{MicroOvnApi, northbound_connection};
use clients::{Error, Service};
use simulators::LxdProfile;

use super::*;

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
    assert_eq!(pending.status, ObjectStatus::Pending);
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
    assert_eq!(created.status, ObjectStatus::Created);
    assert_eq!(created.locations, members);
    assert_eq!(created.description, "Local storage on ZFS");
    let on_node2 = n1.storage_pool("local", Some("node2")).await.unwrap();
    // As the zfs driver keeps it (lxd/storage/drivers/driver_zfs.go): the
    // device in `volatile.initial_source`, `source` = the zpool's name.
    assert_eq!(
        on_node2
            .config
            .get("volatile.initial_source")
            .map(String::as_str),
        Some(local_disk(2).as_str())
    );
    assert_eq!(
        on_node2.config.get("source").map(String::as_str),
        Some("local")
    );
    assert_eq!(
        on_node2.config.get("zfs.pool_name").map(String::as_str),
        Some("local")
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
    assert_eq!(
        n1.network("UPLINK", None).await.unwrap().status,
        ObjectStatus::Pending
    );
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
        .map(|n| (n.name, n.kind, n.status.into()))
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
    let field = n4.server(None).await.unwrap().value.token_field();
    n4.join_cluster(&join, field).await.unwrap();
    // A joiner's driver keeps the same keys as the first members'.
    let on_node4 = n1.storage_pool("local", Some("node4")).await.unwrap();
    assert_eq!(
        on_node4
            .config
            .get("volatile.initial_source")
            .map(String::as_str),
        Some(local_disk(4).as_str())
    );
    assert_eq!(
        on_node4.config.get("source").map(String::as_str),
        Some("local")
    );
    assert_eq!(on_node4.config.get("source.wipe"), None);
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
