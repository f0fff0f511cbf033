//! Resources and network discovery.

use clients::lxd::LxdApi;
use simulators::{LxdProfile, Sim};

use crate::support::*;

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
