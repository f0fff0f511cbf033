//! Direct Ceph disks that already are OSDs according to the cluster's
//! MicroCeph state (`cluster.json` `osds`), not to the disk inventory: the
//! OSD must be on the same member, and may name the disk by the path given
//! or by another of its names. Existing OSDs that the plan does not cover
//! count towards the replication size.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use config_loader::FakeEnvironment;
use planner::inventory::{
    ClusterState, Interface, InterfaceKind, InventoryDisk, LinkState, LxdService,
    MicroCephClusterState, MicroclusterService, Osd, Services,
};
use planner::{Action, Inventory, Plan, Status, SystemInventory};

fn system(i: u8) -> SystemInventory {
    let disk = |id: &str, kind: &str| InventoryDisk {
        id: id.into(),
        kind: kind.into(),
        size: 1 << 40,
        device_id: format!("{kind}-{id}"),
        ..InventoryDisk::default()
    };
    SystemInventory {
        name: format!("micro0{i}"),
        address: format!("10.0.0.{i}").parse().unwrap(),
        services: Services {
            lxd: Some(LxdService {
                version: "6.9".into(),
                api_extensions: vec!["explicit_trust_token".into()],
                ..LxdService::default()
            }),
            microceph: Some(MicroclusterService {
                version: "19.2.1".into(),
                cluster_members: Vec::new(),
            }),
            microovn: None,
        },
        disks: vec![disk("nvme0n1", "nvme"), disk("sda", "ssd")],
        interfaces: vec![Interface {
            name: "enp5s0".into(),
            kind: InterfaceKind::Physical,
            state: LinkState::Up,
            addresses: vec![format!("10.0.0.{i}/24").parse().unwrap()],
            bridge: None,
            managed: false,
        }],
        default_route_interface: Some("enp5s0".into()),
    }
}

fn osd(osd: u64, path: &str, location: &str) -> Osd {
    Osd {
        osd,
        path: path.into(),
        location: location.into(),
    }
}

fn plan(osds: Vec<Osd>) -> Plan {
    let yaml = "initiator: micro01\nlookup_subnet: 10.0.0.0/24\nsession_passphrase: x\nsystems:\n\
                \x20 - name: micro01\n    storage:\n      ceph:\n        - path: /dev/disk/by-id/ssd-sda\n\
                \x20 - name: micro02\n    storage:\n      ceph:\n        - path: /dev/sda\n\
                \x20 - name: micro03\n    storage:\n      ceph:\n        - path: /dev/disk/by-id/ssd-sda\n";
    let report = config_loader::load(yaml, &FakeEnvironment::default());
    let preseed = report
        .preseed()
        .unwrap_or_else(|| panic!("{}", report.render("test.yaml")));
    let cluster = ClusterState {
        microceph: Some(MicroCephClusterState {
            osds,
            ..MicroCephClusterState::default()
        }),
        ..ClusterState::default()
    };
    let inventory = Inventory::new([system(1), system(2), system(3)], Some(cluster)).unwrap();
    planner::plan(preseed, &inventory).unwrap()
}

fn status(plan: &Plan, id: &str) -> Status {
    plan.steps
        .iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("no step {id}"))
        .status
        .clone()
}

fn done(why: &str) -> Status {
    Status::AlreadyDone { why: why.into() }
}

#[test]
fn an_osd_of_the_same_member_marks_its_direct_disk_already_done() {
    let plan = plan(vec![
        // micro01: the path as given.
        osd(7, "/dev/disk/by-id/ssd-sda", "micro01"),
        // micro02: another name of the disk given as /dev/sda.
        osd(8, "/dev/disk/by-id/ssd-sda", "micro02"),
        // Another OSD of micro01, on a disk the plan does not use.
        osd(10, "/dev/disk/by-id/nvme-nvme0n1", "micro01"),
    ]);
    assert_eq!(
        status(&plan, "microceph.disk[/dev/disk/by-id/ssd-sda]@micro01"),
        done("/dev/disk/by-id/ssd-sda already is osd.7 on micro01")
    );
    assert_eq!(
        status(&plan, "microceph.disk[/dev/sda]@micro02"),
        done("/dev/sda already is osd.8 on micro02")
    );
    // The same path is an OSD elsewhere (micro01, micro02), not on micro03.
    assert_eq!(
        status(&plan, "microceph.disk[/dev/disk/by-id/ssd-sda]@micro03"),
        Status::ToDo
    );
    let already: Vec<Option<&str>> = plan
        .disks
        .systems
        .iter()
        .map(|s| s.ceph[0].already.as_deref())
        .collect();
    assert_eq!(already, [Some("osd.7"), Some("osd.8"), None]);

    // Three planned OSDs and osd.10: replication 3 over 4 OSDs.
    let decision = plan
        .decisions
        .iter()
        .find(|d| d.subject == "Ceph replication size")
        .unwrap();
    assert_eq!(decision.choice, "3");
    assert_eq!(
        decision.reason,
        "min(number of OSDs, 3) with 4 OSD(s), as MicroCloud (it counts OSDs, not hosts)"
    );
    let replication = plan
        .steps
        .iter()
        .find(|s| s.id == "microceph.replication")
        .unwrap();
    assert!(matches!(
        replication.action,
        Action::SetReplication { size: 3, .. }
    ));
}

#[test]
fn osds_of_other_members_count_but_mark_nothing() {
    let plan = plan(vec![
        osd(4, "/dev/disk/by-id/ssd-sda", "micro09"),
        osd(5, "/dev/sda", "micro09"),
    ]);
    assert!(
        plan.disks
            .systems
            .iter()
            .all(|s| s.ceph[0].already.is_none())
    );
    let decision = plan
        .decisions
        .iter()
        .find(|d| d.subject == "Ceph replication size")
        .unwrap();
    assert_eq!(
        decision.reason,
        "min(number of OSDs, 3) with 5 OSD(s), as MicroCloud (it counts OSDs, not hosts)"
    );
}
