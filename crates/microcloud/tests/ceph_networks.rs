//! `ceph.public_network` on a second subnet, end to end: the binary forms
//! the simulated cluster when every machine has an address there (MicroCeph
//! takes each monitor's address inside it: `FindIpOnSubnet`,
//! microceph/ceph/bootstrap.go and join.go, v19.2.0+squid), and refuses in
//! pre-flight, exit 2, changing nothing, when one machine has none.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{example_at, microcloud, spawn, start_sim, text};

const PUBLIC: &str = "ceph:\n  public_network: 10.20.0.0/24\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_network_on_a_second_subnet_forms_the_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(3, [127, 0, 151], dir.path()).await;
    let file = example_at(dir.path(), [127, 0, 151], |yaml| yaml + PUBLIC);
    let mut command = microcloud(["preseed", "--sim-dir", dir.path().to_str().unwrap()]);
    command.arg(&file);
    let out = spawn(command).await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for (i, n) in sim.nodes().iter().enumerate() {
        assert_eq!(
            n.ceph_mon_address(),
            Some(format!("10.20.0.{}", i + 1).parse().unwrap()),
            "{}",
            n.name()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_without_an_address_there_fails_in_pre_flight_and_nothing_changes() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(3, [127, 0, 152], dir.path()).await;
    // node2's second port is on another subnet (and its underlay with it).
    sim.node("node2").unwrap().edit_inventory(|inv| {
        for i in inv.interfaces.iter_mut().filter(|i| i.name == "enp7s0") {
            for a in &mut i.addresses {
                a.address = "10.21.0.2".to_owned();
            }
        }
    });
    let file = example_at(dir.path(), [127, 0, 152], |yaml| {
        yaml.replace("ovn_underlay_ip: 10.20.0.2", "ovn_underlay_ip: 10.21.0.2") + PUBLIC
    });
    let mut command = microcloud(["preseed", "--sim-dir", dir.path().to_str().unwrap()]);
    command.arg(&file);
    let out = spawn(command).await.unwrap();
    // The diagnostics, wherever the binary prints them.
    let stderr = text(&out.stderr) + &text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`node2` has no address in the Ceph public network 10.20.0.0/24"),
        "{stderr}"
    );
    assert!(
        stderr.contains("configure an address in 10.20.0.0/24 on `node2`"),
        "{stderr}"
    );
    // Nothing changed: no service was initialised anywhere.
    for n in sim.nodes() {
        assert_eq!(n.microceph_cluster_fingerprint(), None, "{}", n.name());
        assert_eq!(n.microovn_cluster_fingerprint(), None, "{}", n.name());
        assert_eq!(n.lxd_cluster_fingerprint(), None, "{}", n.name());
    }
    assert!(!dir.path().join("microcloud-journal.json").exists());
}
