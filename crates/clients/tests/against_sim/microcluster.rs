//! `MicroCephClient` and `MicroOvnClient` (core microcluster calls and
//! their extension APIs) over the simulated control sockets and HTTPS.

use clients::error::DiskFailure;
use clients::microceph::{ConfigEntry, DisksPost, MicroCephApi, PoolPut};
use clients::microcluster::{Family, JoinToken, MicroclusterApi, MicroclusterClient};
use clients::microovn::{MicroOvnApi, init_config, northbound_connection};
use clients::transport::Transport;
use clients::{Error, Service};
use simulators::{LxdProfile, McFamily, NodeSpec, SimBuilder};

use crate::support::*;

/// The same core scenario for both microcluster daemons and both endpoint
/// families (MicroCeph reef serves the old `/cluster` one).
async fn core_lifecycle(service: Service, family: McFamily) {
    let sim = SimBuilder::new()
        .nodes(3)
        .microceph_family(family)
        .time_scale(TIME_SCALE)
        .start()
        .await
        .unwrap();
    let (expected, public, control) = match family {
        McFamily::Core => (Family::Core, "/core/1.0", "/core/control"),
        McFamily::Cluster => (Family::Cluster, "/cluster/1.0", "/cluster/control"),
    };
    let (port, client): (u16, fn(&simulators::Sim, &str) -> MicroclusterClient) = match service {
        Service::MicroCeph => (CEPH_PORT, |s, n| {
            MicroclusterClient::new(
                Transport::unix(node(s, n).microceph_socket()),
                Service::MicroCeph,
                n,
            )
        }),
        _ => (OVN_PORT, |s, n| {
            MicroclusterClient::new(
                Transport::unix(node(s, n).microovn_socket()),
                Service::MicroOvn,
                n,
            )
        }),
    };
    let config = |i: usize| match service {
        Service::MicroOvn => init_config(encap_ip(i)),
        _ => Default::default(),
    };
    let c1 = client(&sim, "node1");

    // Before bootstrap: ready, not initialised, no cluster yet (503).
    c1.ready().await.unwrap();
    assert_eq!(c1.family().await.unwrap(), expected);
    let info = c1.server_info().await.unwrap();
    assert_eq!(
        (info.name.as_str(), info.address.as_str(), info.ready),
        ("node1", "", false)
    );
    let e = c1.cluster_members().await.unwrap_err();
    assert_eq!((e.status(), e.is_transient()), (Some(503), true));
    assert_eq!(
        e.to_string(),
        format!(
            "{service} on node node1, GET {public}/cluster: the service answered 503: Database is not yet initialized"
        )
    );

    // Bootstrap, then the daemon reports itself initialised.
    c1.bootstrap("node1", mc_addr(&sim, "node1", port), &config(1))
        .await
        .unwrap();
    let info = c1.server_info().await.unwrap();
    assert!(info.ready);
    assert_eq!(info.address, mc_addr(&sim, "node1", port).to_string());
    // microcluster v2+ lists two internal extensions, MicroOVN one more
    // (arrays); the old family one (a bare JSON string); all decode.
    let want: &[&str] = match (service, family) {
        (Service::MicroCeph, McFamily::Cluster) => &["internal:runtime_extension_v1"],
        (Service::MicroCeph, McFamily::Core) => &[
            "internal:runtime_extension_v1",
            "internal:rename_core_endpoints",
        ],
        _ => &[
            "internal:runtime_extension_v1",
            "internal:rename_core_endpoints",
            "custom_encapsulation_ip",
        ],
    };
    assert_eq!(info.extensions.0, want);
    let e = c1
        .bootstrap("node1", mc_addr(&sim, "node1", port), &config(1))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::ControlFailed { .. }), "{e:?}");
    assert!(!e.is_transient());
    assert_eq!(
        e.to_string(),
        format!(
            "{service} on node node1, POST {control}: the daemon refused to initialise (500): Unable to initialize cluster: Database is online; it may already be (partly) initialised: check `GET {public}` and `GET {public}/cluster` before retrying"
        )
    );

    // Tokens: issue, list, delete.
    let token = c1.issue_token("node2", HOUR).await.unwrap();
    let decoded = JoinToken::decode(&token).unwrap();
    let cluster_fp = match service {
        Service::MicroCeph => node(&sim, "node1").microceph_cluster_fingerprint(),
        _ => node(&sim, "node1").microovn_cluster_fingerprint(),
    };
    assert_eq!(Some(decoded.fingerprint), cluster_fp);
    assert_eq!(
        decoded.join_addresses,
        [mc_addr(&sim, "node1", port).to_string()]
    );
    assert_eq!(decoded.secret.len(), 64);
    let records = c1.tokens().await.unwrap();
    assert_eq!(
        records
            .iter()
            .map(|r| (r.name.as_str(), r.token.as_str()))
            .collect::<Vec<_>>(),
        [("node2", token.as_str())]
    );
    // v2+ lists the expiry (Go's zero time for none); the old family has
    // no expiry at all.
    let no_expiry = match family {
        McFamily::Core => "0001-01-01T00:00:00Z",
        McFamily::Cluster => "",
    };
    c1.delete_token("node2").await.unwrap();
    c1.issue_token("node2", std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(c1.tokens().await.unwrap()[0].expires_at, no_expiry);
    c1.delete_token("node2").await.unwrap();
    assert!(c1.tokens().await.unwrap().is_empty());
    let e = c1.delete_token("node2").await.unwrap_err();
    assert_eq!((e.status(), e.is_transient()), (Some(404), false));
    let record = match family {
        McFamily::Core => "CoreTokenRecord",
        McFamily::Cluster => "InternalTokenRecord",
    };
    assert_eq!(
        e.to_string(),
        format!(
            "{service} on node node1, DELETE {public}/tokens/node2: the service answered 404: {record} not found"
        )
    );

    // Removing a member that does not exist.
    let e = c1.remove_member("nope").await.unwrap_err();
    assert_eq!((e.status(), e.is_transient()), (Some(500), false));
    assert_eq!(
        e.to_string(),
        format!(
            "{service} on node node1, DELETE {public}/cluster/nope?force=1: the service answered 500: No remote exists with the given name \"nope\""
        )
    );

    // Control requests a real daemon refuses: bootstrap with a token (a
    // plain error, 500), an empty name (v2+: 400 from `ValidateFQDN`; old:
    // a plain error, 500).
    let c2 = client(&sim, "node2");
    let both = clients::microcluster::Control {
        join_token: "x".to_owned(),
        ..clients::microcluster::Control::bootstrap(
            "node2",
            mc_addr(&sim, "node2", port),
            Default::default(),
        )
    };
    let e = c2
        .rest()
        .sync_reply(
            http::Method::POST,
            control,
            Some(&both),
            clients::rest::CallOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{service} on node node2, POST {control}: the service answered 500: Invalid options - received join token and bootstrap flag"
        )
    );
    let e = c2
        .bootstrap("", mc_addr(&sim, "node2", port), &config(2))
        .await
        .unwrap_err();
    let (status, message) = match family {
        McFamily::Core => (
            400,
            "Cluster member name \"\" is not a valid FQDN: Name must be 1-255 characters long",
        ),
        McFamily::Cluster => (
            500,
            "Invalid cluster member name \"\": Name must be 1-255 characters long",
        ),
    };
    assert_eq!(
        e.to_string(),
        format!(
            "{service} on node node2, POST {control}: the daemon refused to initialise ({status}): {message}; it may already be (partly) initialised: check `GET {public}` and `GET {public}/cluster` before retrying"
        )
    );
    assert!(!c2.server_info().await.unwrap().ready);

    // The join name must be the token's name.
    let token = c1.issue_token("node2", HOUR).await.unwrap();
    let e = client(&sim, "node3")
        .join("node3", mc_addr(&sim, "node3", port), &token, &config(3))
        .await
        .unwrap_err();
    assert!(!e.is_transient());
    assert_eq!(
        e.to_string(),
        format!(
            "{service} on node node3, POST {control}: the daemon refused to initialise (500): 1 join attempts were unsuccessful. Last error: Joining server certificate SAN does not contain join token name; it may already be (partly) initialised: check `GET {public}` and `GET {public}/cluster` before retrying"
        )
    );

    // Joins.
    client(&sim, "node2")
        .join("node2", mc_addr(&sim, "node2", port), &token, &config(2))
        .await
        .unwrap();
    let token = c1.issue_token("node3", HOUR).await.unwrap();
    client(&sim, "node3")
        .join("node3", mc_addr(&sim, "node3", port), &token, &config(3))
        .await
        .unwrap();
    assert!(
        c1.tokens().await.unwrap().is_empty(),
        "used tokens are gone"
    );
    for name in ["node1", "node2", "node3"] {
        let members: Vec<(String, String, String)> = client(&sim, name)
            .cluster_members()
            .await
            .unwrap()
            .into_iter()
            .map(|m| (m.name, m.address, m.status))
            .collect();
        let want: Vec<(String, String, String)> = ["node1", "node2", "node3"]
            .iter()
            .map(|n| {
                (
                    (*n).to_owned(),
                    mc_addr(&sim, n, port).to_string(),
                    "ONLINE".to_owned(),
                )
            })
            .collect();
        assert_eq!(members, want, "seen from {name}");
    }

    // Over HTTPS with an unknown certificate only the server info answers.
    let https = MicroclusterClient::new(
        Transport::https(
            &mc_addr(&sim, "node2", port).to_string(),
            &identity("outsider"),
            fingerprint(&cluster_fp.unwrap()),
        )
        .unwrap(),
        service,
        "node2",
    );
    assert!(https.server_info().await.unwrap().ready);
    let e = https.cluster_members().await.unwrap_err();
    assert_eq!((e.status(), e.is_transient()), (Some(403), false));
    assert_eq!(
        e.to_string(),
        format!(
            "{service} on node node2, GET {public}/cluster: the service answered 403: not authorized"
        )
    );
    // Tokens: control socket only (v2+: 404 over HTTPS); old family:
    // public but trusted only (403).
    let e = https.issue_token("node4", HOUR).await.unwrap_err();
    let want = match family {
        McFamily::Core => 404,
        McFamily::Cluster => 403,
    };
    assert_eq!(e.status(), Some(want), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microceph_ready_bootstrap_tokens_join_members() {
    core_lifecycle(Service::MicroCeph, McFamily::Core).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microceph_reef_cluster_family_ready_bootstrap_tokens_join_members() {
    core_lifecycle(Service::MicroCeph, McFamily::Cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microovn_ready_bootstrap_tokens_join_members() {
    core_lifecycle(Service::MicroOvn, McFamily::Core).await;
}

/// `GET .../ready` answers 503 `Daemon is not ready yet` while the daemon
/// starts (transient), then 200; the family is found meanwhile (the
/// server info answers from the start).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_is_503_until_the_daemon_has_started() {
    for family in [McFamily::Core, McFamily::Cluster] {
        let sim = SimBuilder::new()
            .nodes(1)
            .microceph_family(family)
            .timings(simulators::Timings {
                microcluster_start: std::time::Duration::from_millis(1500),
                ..simulators::Timings::default()
            })
            .time_scale(1.0)
            .start()
            .await
            .unwrap();
        let c = MicroclusterClient::new(
            Transport::unix(node(&sim, "node1").microceph_socket()),
            Service::MicroCeph,
            "node1",
        );
        let e = c.ready().await.unwrap_err();
        assert_eq!((e.status(), e.is_transient()), (Some(503), true));
        let public = match family {
            McFamily::Core => "/core/1.0",
            McFamily::Cluster => "/cluster/1.0",
        };
        assert_eq!(
            e.to_string(),
            format!(
                "MicroCeph on node node1, GET {public}/ready: the service answered 503: Daemon is not ready yet"
            )
        );
        tokio::time::sleep(std::time::Duration::from_millis(1700)).await;
        c.ready().await.unwrap();
    }
}

fn disks(paths: &[&str]) -> DisksPost {
    DisksPost::new(
        paths.iter().map(|p| (*p).to_owned()).collect(),
        false,
        false,
    )
}

fn failure(path: &str, error: &str) -> DiskFailure {
    DiskFailure {
        path: path.to_owned(),
        report: "Failure".to_owned(),
        error: error.to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microceph_disks_good_bad_used_and_forwarded() {
    let sim = sim(2, LxdProfile::Current).await;
    let c1 = ceph(&sim, "node1");
    // Extension endpoints answer 503 until the daemon is initialised.
    let e = c1.disks().await.unwrap_err();
    assert_eq!((e.status(), e.is_transient()), (Some(503), true));
    assert_eq!(
        e.to_string(),
        "MicroCeph on node node1, GET /1.0/disks: the service answered 503: Database is not yet initialized"
    );
    ceph_cluster(&sim, 2).await;

    // Before any OSD, nothing is listed.
    assert!(c1.disks().await.unwrap().is_empty());

    // A good disk.
    let ok = c1
        .add_disks(
            &disks(&["/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_ceph-a-1"]),
            None,
        )
        .await
        .unwrap();
    assert_eq!(ok.report.len(), 1);
    assert_eq!(ok.report[0].report, "Success");

    // LXD takes node1's local disk, so MicroCeph must refuse it.
    use clients::lxd::{LxdApi, StoragePoolsPost};
    lxd(&sim, "node1")
        .create_storage_pool(
            &StoragePoolsPost {
                name: "local".to_owned(),
                driver: "zfs".to_owned(),
                config: map(&[("source", "/dev/disk/by-id/nvme-QEMU_NVMe_Ctrl_local1")]),
                description: String::new(),
            },
            None,
        )
        .await
        .unwrap();

    // One good disk among bad ones: the failures are an error listing every
    // failed disk; the good one was still added.
    let e = c1
        .add_disks(
            &disks(&[
                "/dev/sdb",
                "/dev/nvme0n1",
                "/dev/nope",
                "/dev/nvme1n1",
                "/dev/sr0",
                "/dev/sda",
            ]),
            None,
        )
        .await
        .unwrap_err();
    let Error::DiskFailures { failures, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(
        failures,
        &[
            failure(
                "/dev/nvme0n1",
                "Failed to add disk \"/dev/nvme0n1\": /dev/nvme0n1 is mounted"
            ),
            failure(
                "/dev/nope",
                "Failed to add disk \"/dev/nope\": stat /dev/nope: no such file or directory"
            ),
            failure(
                "/dev/nvme1n1",
                "Failed to add disk \"/dev/nvme1n1\": /dev/nvme1n1 is in use by LXD storage pool \"local\""
            ),
            failure(
                "/dev/sr0",
                "Failed to add disk \"/dev/sr0\": /dev/sr0 is not a writable block device"
            ),
            failure(
                "/dev/sda",
                "Failed to add disk \"/dev/sda\": /dev/sda is already used by an OSD"
            ),
        ]
    );
    assert!(!e.is_transient());
    assert_eq!(
        context_of(&e),
        ctx(
            Service::MicroCeph,
            "node1",
            http::Method::POST,
            "/1.0/disks"
        )
    );
    assert!(
        e.to_string().starts_with(
            "MicroCeph on node node1, POST /1.0/disks: MicroCeph could not add 5 disk(s): /dev/nvme0n1: Failed to add disk"
        ),
        "{e}"
    );

    // A request MicroCeph rejects as a whole.
    let mut with_wal = disks(&["/dev/sdb", "/dev/sda"]);
    with_wal.waldev = Some("/dev/x".to_owned());
    let e = c1.add_disks(&with_wal, None).await.unwrap_err();
    assert!(!e.is_transient());
    assert_eq!(
        e.to_string(),
        "MicroCeph on node node1, POST /1.0/disks: MicroCeph rejected the disk request: wal/db devices are not supported in batch disk addition"
    );

    // `?target=` forwards to the other member over HTTPS.
    c1.add_disks(&disks(&["/dev/sda"]), Some("node2"))
        .await
        .unwrap();
    let osds: Vec<(i64, String, String)> = ceph(&sim, "node2")
        .disks()
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.osd, d.path, d.location))
        .collect();
    let osd = |n: i64, p: &str, l: &str| (n, p.to_owned(), l.to_owned());
    assert_eq!(
        osds,
        [
            osd(
                0,
                "/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_ceph-a-1",
                "node1"
            ),
            // Stable paths, as `setStablePath` records them.
            osd(
                1,
                "/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_ceph-b-1",
                "node1"
            ),
            osd(
                2,
                "/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_ceph-a-2",
                "node2"
            ),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microceph_partitioned_disk_is_refused_until_wiped() {
    let fixture = r#"{"disks":[{"id":"vdb","device":"252:16","type":"virtio","size":10737418240,"partitions":[{"id":"vdb1","device":"252:17","size":1073741824,"partition":1}]}],"interfaces":[{"name":"enp5s0","type":"physical","addresses":[{"family":"inet","address":"{ip}","netmask":"24","scope":"global"}]}]}"#;
    let sim = SimBuilder::new()
        .node(NodeSpec::new("node1").inventory(fixture))
        .time_scale(TIME_SCALE)
        .start()
        .await
        .unwrap();
    ceph_cluster(&sim, 1).await;
    let c = ceph(&sim, "node1");
    let e = c.add_disks(&disks(&["/dev/vdb"]), None).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "MicroCeph on node node1, POST /1.0/disks: MicroCeph could not add 1 disk(s): /dev/vdb: Failed to add disk \"/dev/vdb\": /dev/vdb has existing partitions or data, use --wipe to wipe it"
    );
    let wiped = DisksPost::new(vec!["/dev/vdb".to_owned()], true, false);
    let r = c.add_disks(&wiped, None).await.unwrap();
    assert_eq!(r.report[0].report, "Success");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microceph_configs_pools_replication_and_services() {
    let sim = sim(3, LxdProfile::Current).await;
    ceph_cluster(&sim, 3).await;
    let c1 = ceph(&sim, "node1");
    let net = format!("{}/24", node(&sim, "node1").ip());

    // GET /1.0/configs with its body, all keys or one.
    let all: Vec<(String, String)> = c1
        .configs(None)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.key, c.value))
        .collect();
    assert_eq!(
        all,
        [
            ("cluster_network".to_owned(), net.clone()),
            ("public_network".to_owned(), net.clone())
        ]
    );
    let one = c1.configs(Some("public_network")).await.unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].value, net);
    c1.set_config(&ConfigEntry {
        key: "cluster_network".to_owned(),
        value: "10.20.0.0/24".to_owned(),
        ..ConfigEntry::default()
    })
    .await
    .unwrap();
    assert_eq!(
        ceph(&sim, "node3")
            .configs(Some("cluster_network"))
            .await
            .unwrap()[0]
            .value,
        "10.20.0.0/24"
    );
    let e = c1
        .set_config(&ConfigEntry {
            key: "public_network".to_owned(),
            value: "10.0.0.0/8".to_owned(),
            ..ConfigEntry::default()
        })
        .await
        .unwrap_err();
    // canSetConfig (microceph/ceph/config.go, v19.2.0+squid), a 500.
    assert_eq!((e.status(), e.is_transient()), (Some(500), false));
    assert_eq!(
        e.to_string(),
        "MicroCeph on node node1, PUT /1.0/configs: the service answered 500: config set(public_network) failed: requested key public_network does not support write operation"
    );

    // mon/mgr/mds on the first three members; OSDs are disks, never listed
    // as services (ListServices, microceph/ceph/services.go, squid).
    for name in ["node1", "node2", "node3"] {
        ceph(&sim, name)
            .add_disks(&disks(&["/dev/sda"]), None)
            .await
            .unwrap();
    }
    let services: Vec<(String, String)> = c1
        .services()
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.service, s.location))
        .collect();
    for name in ["node1", "node2", "node3"] {
        for s in ["mon", "mgr", "mds"] {
            assert!(
                services.contains(&(s.to_owned(), name.to_owned())),
                "{s} on {name}: {services:?}"
            );
        }
    }
    assert!(!services.iter().any(|(s, _)| s == "osd"), "{services:?}");

    // Pools and replication, through `?target=` like MicroCloud.
    let pools = c1.pools(Some("node1")).await.unwrap();
    assert_eq!(
        pools
            .iter()
            .map(|p| (p.pool.as_str(), p.size))
            .collect::<Vec<_>>(),
        [(".mgr", 1)]
    );
    c1.set_pool_replication(
        &PoolPut {
            pools: vec![".mgr".to_owned()],
            size: 3,
        },
        Some("node1"),
    )
    .await
    .unwrap();
    let seen = ceph(&sim, "node3").pools(None).await.unwrap();
    assert_eq!((seen[0].pool.as_str(), seen[0].size), (".mgr", 3));
    c1.set_pool_replication(
        &PoolPut {
            pools: vec![String::new()],
            size: 2,
        },
        None,
    )
    .await
    .unwrap();
    let e = c1
        .set_pool_replication(
            &PoolPut {
                pools: vec!["nope".to_owned()],
                size: 3,
            },
            Some("node2"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(500));
    assert_eq!(
        e.to_string(),
        "MicroCeph on node node1, PUT /1.0/pools-op?target=node2: the service answered 500: failed to set pool size for nope: Failed to run: ceph osd pool set nope size 3 --yes-i-really-mean-it: exit status 2 (Error ENOENT: unrecognized pool 'nope')"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microovn_services_encap_ip_and_northbound_connection() {
    let sim = sim(4, LxdProfile::Current).await;
    ovn_cluster(&sim, 4).await;
    let o4 = ovn(&sim, "node4");
    let services = o4.services().await.unwrap();
    let located = |kind: &str| -> Vec<String> {
        services
            .iter()
            .filter(|s| s.service == kind)
            .map(|s| s.location.clone())
            .collect()
    };
    assert_eq!(located("central"), ["node1", "node2", "node3"]);
    assert_eq!(located("chassis"), ["node1", "node2", "node3", "node4"]);
    for i in 1..=4 {
        assert_eq!(
            node(&sim, &format!("node{i}")).ovn_encap_ip(),
            Some(encap_ip(i).to_string())
        );
    }
    let nb = northbound_connection(&services, &o4.cluster_members().await.unwrap()).unwrap();
    let want: Vec<String> = ["node1", "node2", "node3"]
        .iter()
        .map(|n| format!("ssl:{}:6641", node(&sim, n).ip()))
        .collect();
    assert_eq!(nb, want.join(","));
    assert_eq!(Some(nb), sim.ovn_northbound_connection());

    // MicroOVN does not check the encapsulation IP: it goes to OVS as it
    // is (`microovn/ovn/bootstrap.go`, branch-24.03).
    let other = simulators::SimBuilder::new()
        .nodes(1)
        .time_scale(TIME_SCALE)
        .start()
        .await
        .unwrap();
    let mut config = init_config(encap_ip(1));
    config.insert("ovn-encap-ip".to_owned(), "nope".to_owned());
    ovn(&other, "node1")
        .bootstrap("node1", mc_addr(&other, "node1", OVN_PORT), &config)
        .await
        .unwrap();
    assert_eq!(
        node(&other, "node1").ovn_encap_ip().as_deref(),
        Some("nope")
    );
}
