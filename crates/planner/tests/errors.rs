//! One test per planning error: each asserts the exact message, the key
//! path and the system named.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use config_loader::FakeEnvironment;
use planner::inventory::{
    Interface, InterfaceKind, InventoryDisk, LinkState, LxdService, MicroclusterService, Services,
};
use planner::{Inventory, Plan, PlanErrors, SystemInventory};

const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;

fn iface(name: &str, addrs: &[&str]) -> Interface {
    Interface {
        name: name.into(),
        kind: InterfaceKind::Physical,
        state: LinkState::Up,
        addresses: addrs.iter().map(|a| a.parse().unwrap()).collect(),
        bridge: None,
        managed: false,
    }
}

fn disk(id: &str, kind: &str, size: u64) -> InventoryDisk {
    InventoryDisk {
        id: id.into(),
        kind: kind.into(),
        size,
        device_id: format!("{kind}-{id}"),
        ..InventoryDisk::default()
    }
}

/// micro0<i> at 10.0.0.<i>: enp5s0 (address), enp6s0 (free), enp7s0
/// (10.10.0.<i>/24); disks nvme0n1 (512 GiB), nvme1n1 (2 TiB), sda (ssd, 1 TiB).
fn system(i: u8) -> SystemInventory {
    SystemInventory {
        name: format!("micro0{i}"),
        address: format!("10.0.0.{i}").parse().unwrap(),
        services: Services {
            lxd: Some(LxdService {
                version: "6.9".into(),
                api_extensions: vec![
                    "explicit_trust_token".into(),
                    "storage_pool_source_wipe".into(),
                    "storage_cephfs_create_missing".into(),
                ],
                ..LxdService::default()
            }),
            microceph: Some(MicroclusterService {
                version: "19.2.1".into(),
                cluster_members: Vec::new(),
            }),
            microovn: Some(MicroclusterService {
                version: "24.03.2".into(),
                cluster_members: Vec::new(),
            }),
        },
        disks: vec![
            disk("nvme0n1", "nvme", 512 * GIB),
            disk("nvme1n1", "nvme", 2 * TIB),
            disk("sda", "ssd", TIB),
        ],
        interfaces: vec![
            iface("enp5s0", &[&format!("10.0.0.{i}/24")]),
            iface("enp6s0", &[]),
            iface("enp7s0", &[&format!("10.10.0.{i}/24")]),
        ],
        default_route_interface: Some("enp5s0".into()),
    }
}

fn three() -> Vec<SystemInventory> {
    vec![system(1), system(2), system(3)]
}

const HEAD: &str = "initiator: micro01\nlookup_subnet: 10.0.0.0/24\nsession_passphrase: x\n";
const SYSTEMS: &str = "systems:\n  - name: micro01\n  - name: micro02\n  - name: micro03\n";

fn run(yaml: &str, systems: Vec<SystemInventory>) -> Result<Plan, PlanErrors> {
    let report = config_loader::load(yaml, &FakeEnvironment::default());
    let preseed = report
        .preseed()
        .unwrap_or_else(|| panic!("{}", report.render("test.yaml")));
    planner::plan(preseed, &Inventory::new(systems, None).unwrap())
}

/// Asserts that planning fails with an error at `path` with `message`
/// naming `system`.
#[track_caller]
fn expect(result: Result<Plan, PlanErrors>, system: Option<&str>, path: &str, message: &str) {
    let errors = match result {
        Ok(_) => panic!("expected an error at `{path}`: {message}"),
        Err(e) => e,
    };
    let found = errors.iter().any(|e| {
        e.path.to_string() == path && e.message == message && e.system.as_deref() == system
    });
    assert!(
        found,
        "expected at `{path}`: {message}\ngot: {:#?}",
        errors.0
    );
}

#[test]
fn the_base_inventory_plans() {
    let yaml = format!(
        "{HEAD}{SYSTEMS}ovn:\n  ipv4_gateway: 192.0.2.1/24\n  ipv4_range: 192.0.2.10-192.0.2.20\nstorage:\n  ceph:\n    - find: type == ssd\n"
    );
    let plan = run(&yaml, three()).unwrap();
    assert_eq!(plan.initiator, "micro01");
}

#[test]
fn not_enough_ceph_disks() {
    let yaml = format!(
        "{HEAD}{SYSTEMS}storage:\n  ceph:\n    - find: type == ssd && size > 1TiB\n      find_min: 2\n"
    );
    let mut systems = three();
    systems[1].disks.push(disk("sdb", "ssd", 2 * TIB));
    expect(
        run(&yaml, systems),
        None,
        "storage.ceph[0].find_min",
        "not enough disks for filter \"type == ssd && size > 1TiB\": 1 matched, find_min is 2 (micro01: none; micro02: sdb; micro03: none)",
    );
}

#[test]
fn too_many_ceph_disks() {
    let yaml =
        format!("{HEAD}{SYSTEMS}storage:\n  ceph:\n    - find: type == nvme\n      find_max: 5\n");
    expect(
        run(&yaml, three()),
        None,
        "storage.ceph[0].find_max",
        "too many disks for filter \"type == nvme\": 6 matched, find_max is 5 (micro01: nvme0n1, nvme1n1; micro02: nvme0n1, nvme1n1; micro03: nvme0n1, nvme1n1)",
    );
}

#[test]
fn local_filters_count_systems() {
    // Only micro02 has a 4 TiB disk: the filter gives a local disk to one
    // system while three are required.
    let yaml =
        format!("{HEAD}{SYSTEMS}storage:\n  local:\n    - find: size >= 4TiB\n      find_min: 3\n");
    let mut systems = three();
    systems[1].disks.push(disk("sdb", "hdd", 4 * TIB));
    expect(
        run(&yaml, systems.clone()),
        None,
        "storage.local[0].find_min",
        "not enough disks for filter \"size >= 4TiB\": it gave a local disk to 1 system(s), find_min is 3 systems (micro01: none; micro02: sdb; micro03: none)",
    );
    let yaml =
        format!("{HEAD}{SYSTEMS}storage:\n  local:\n    - find: type == nvme\n      find_max: 2\n");
    expect(
        run(&yaml, three()),
        None,
        "storage.local[0].find_max",
        "too many disks for filter \"type == nvme\": it gave a local disk to 3 system(s), find_max is 2 systems (micro01: nvme0n1; micro02: nvme0n1; micro03: nvme0n1)",
    );
}

#[test]
fn local_pool_on_every_member_or_none() {
    let yaml = format!("{HEAD}{SYSTEMS}storage:\n  local:\n    - find: size >= 4TiB\n");
    let mut systems = three();
    systems[1].disks.push(disk("sdb", "hdd", 4 * TIB));
    expect(
        run(&yaml, systems),
        Some("micro01"),
        "storage.local",
        "no local disk for micro01, micro03: the `local` pool must exist on every member or on none",
    );
}

#[test]
fn excluded_disks_are_never_candidates_and_say_why() {
    let yaml = format!("{HEAD}{SYSTEMS}storage:\n  ceph:\n    - find: id == sd*\n");
    let mut systems = three();
    for s in &mut systems {
        s.disks.retain(|d| d.id != "sda");
        s.disks.extend([
            InventoryDisk {
                partitions: 2,
                ..disk("sda", "ssd", TIB)
            },
            disk("sr0", "cdrom", GIB),
            InventoryDisk {
                read_only: true,
                ..disk("sdb", "ssd", TIB)
            },
            InventoryDisk {
                mounted: true,
                ..disk("sdc", "ssd", TIB)
            },
            InventoryDisk {
                used_by: "bcache".into(),
                ..disk("sdd", "ssd", TIB)
            },
            disk("sde", "ssd", TIB),
        ]);
    }
    let plan = run(&yaml, systems).unwrap();
    let micro01 = &plan.disks.systems[0];
    let ceph: Vec<&str> = micro01
        .ceph
        .iter()
        .map(|d| d.disk.as_deref().unwrap())
        .collect();
    assert_eq!(ceph, ["sde"]);
    let excluded: Vec<(&str, &str)> = micro01
        .excluded
        .iter()
        .map(|e| (e.disk.as_str(), e.reason.as_str()))
        .collect();
    assert_eq!(
        excluded,
        [
            ("sda", "has 2 partitions"),
            ("sr0", "is a CD-ROM"),
            ("sdb", "is read-only"),
            ("sdc", "is mounted"),
            ("sdd", "is used by bcache"),
        ]
    );
}

#[test]
fn a_disk_selected_for_local_is_not_offered_to_ceph() {
    // Both filters match nvme0n1; MicroCloud would give it to both.
    let yaml = format!(
        "{HEAD}{SYSTEMS}storage:\n  local:\n    - find: type == nvme\n  ceph:\n    - find: type == nvme\n"
    );
    let plan = run(&yaml, three()).unwrap();
    for s in &plan.disks.systems {
        assert_eq!(s.local.as_ref().unwrap().disk.as_deref(), Some("nvme0n1"));
        let ceph: Vec<&str> = s.ceph.iter().map(|d| d.disk.as_deref().unwrap()).collect();
        assert_eq!(ceph, ["nvme1n1"], "{}", s.system);
        assert!(s.excluded.iter().any(|e| e.kind == "ceph"
            && e.disk == "nvme0n1"
            && e.reason == "is selected for the local pool"));
    }
    // The first matching filter wins: micro03 has no NVMe disk and gets its
    // SSD from the second filter, the others keep their NVMe disk.
    let yaml = format!(
        "{HEAD}{SYSTEMS}storage:\n  local:\n    - find: type == nvme\n    - find: type == ssd\n"
    );
    let mut systems = three();
    systems[2].disks.retain(|d| d.kind != "nvme");
    let plan = run(&yaml, systems).unwrap();
    let second = &plan.disks.filters[1];
    assert_eq!(second.count, 1);
    assert_eq!(second.matched[2].disks, ["sda"]);
    assert_eq!(
        second.matched[0].skipped,
        ["sda (micro01 already has its local disk from storage.local[0])"]
    );
}

#[test]
fn underlay_ip_on_no_interface() {
    let yaml = format!(
        "{HEAD}systems:\n  - name: micro01\n    ovn_underlay_ip: 10.10.0.1\n  - name: micro02\n    ovn_underlay_ip: 10.10.0.9\n  - name: micro03\n    ovn_underlay_ip: 10.99.0.3\novn:\n  ipv6_gateway: 2001:db8::1/64\n"
    );
    let result = run(&yaml, three());
    expect(
        result.clone(),
        Some("micro02"),
        "systems[1].ovn_underlay_ip",
        "underlay IP 10.10.0.9 is on no interface of `micro02` (it lies in the subnet of enp7s0, but is not configured)",
    );
    expect(
        result,
        Some("micro03"),
        "systems[2].ovn_underlay_ip",
        "underlay IP 10.99.0.3 is on no interface of `micro03`",
    );
}

#[test]
fn uplink_interface_must_exist_and_be_capable() {
    let yaml = format!(
        "{HEAD}systems:\n  - name: micro01\n    ovn_uplink_interface: enp6s0\n  - name: micro02\n    ovn_uplink_interface: enp9s0\n  - name: micro03\n    ovn_uplink_interface: enp5s0\novn:\n  ipv6_gateway: 2001:db8::1/64\n"
    );
    let result = run(&yaml, three());
    expect(
        result.clone(),
        Some("micro02"),
        "systems[1].ovn_uplink_interface",
        "interface `enp9s0` does not exist on `micro02`",
    );
    expect(
        result.clone(),
        Some("micro03"),
        "systems[2].ovn_uplink_interface",
        "interface `enp5s0` on `micro03` cannot be the OVN uplink: it carries 10.0.0.3/24",
    );
    let errors = result.unwrap_err();
    let e = errors
        .iter()
        .find(|e| e.system.as_deref() == Some("micro02"))
        .unwrap();
    assert_eq!(
        e.help.as_deref(),
        Some("uplink-capable interfaces on micro02: enp6s0")
    );
}

#[test]
fn uplink_is_picked_alphabetically_with_a_reason() {
    let yaml = format!("{HEAD}{SYSTEMS}ovn:\n  ipv6_gateway: 2001:db8::1/64\n");
    let mut systems = three();
    // micro02 gets a second free interface that sorts first, and a port of
    // a bridge that sorts even earlier.
    systems[1].interfaces.push(iface("enp1s0", &[]));
    systems[1].interfaces.push(Interface {
        bridge: Some("br0".into()),
        ..iface("eno1", &[])
    });
    let plan = run(&yaml, systems).unwrap();
    let d = plan
        .decisions
        .iter()
        .find(|d| d.subject == "OVN uplink of micro02")
        .unwrap();
    assert_eq!(d.choice, "enp1s0");
    assert!(d.reason.ends_with("also capable: enp6s0"), "{}", d.reason);
    let pending = plan
        .steps
        .iter()
        .find(|s| s.id == "lxd.network.UPLINK.pending@micro02")
        .unwrap();
    assert_eq!(pending.target.as_deref(), Some("micro02"));
}

#[test]
fn no_uplink_candidate() {
    let yaml = format!("{HEAD}{SYSTEMS}ovn:\n  ipv6_gateway: 2001:db8::1/64\n");
    let mut systems = three();
    systems[2].interfaces.retain(|i| i.name != "enp6s0");
    expect(
        run(&yaml, systems),
        Some("micro03"),
        "systems[2].ovn_uplink_interface",
        "`micro03` has no interface that can be the OVN uplink",
    );
}

#[test]
fn ceph_network_without_an_address_on_some_member() {
    let yaml = format!(
        "{HEAD}{SYSTEMS}ceph:\n  internal_network: 10.10.0.0/24\nstorage:\n  ceph:\n    - find: type == ssd\n"
    );
    let mut systems = three();
    systems[1].interfaces.retain(|i| i.name != "enp7s0");
    expect(
        run(&yaml, systems),
        Some("micro02"),
        "ceph.internal_network",
        "`micro02` has no address in the Ceph internal network 10.10.0.0/24",
    );
}

#[test]
fn default_ceph_network_is_checked_too() {
    let yaml = format!("{HEAD}{SYSTEMS}storage:\n  ceph:\n    - find: type == ssd\n");
    let mut systems = three();
    systems[2].address = "10.0.1.3".parse().unwrap();
    systems[2].interfaces[0] = iface("enp5s0", &["10.0.1.3/24"]);
    let result = run(&yaml.replace("10.0.0.0/24", "10.0.0.0/16"), systems);
    expect(
        result,
        Some("micro03"),
        "ceph.public_network",
        "`micro03` has no address in the Ceph public network 10.0.0.0/24",
    );
}

#[test]
fn ovn_needs_microovn_everywhere() {
    let yaml = format!("{HEAD}{SYSTEMS}ovn:\n  ipv6_gateway: 2001:db8::1/64\n");
    let mut systems = three();
    systems[2].services.microovn = None;
    expect(
        run(&yaml, systems),
        Some("micro03"),
        "systems[2]",
        "OVN networking is requested, but MicroOVN is not installed on `micro03`",
    );
}

#[test]
fn ceph_disks_need_microceph_everywhere() {
    let yaml = format!(
        "{HEAD}systems:\n  - name: micro01\n    storage:\n      ceph:\n        - path: /dev/sda\n  - name: micro02\n  - name: micro03\n"
    );
    let mut systems = three();
    systems[1].services.microceph = None;
    expect(
        run(&yaml, systems),
        Some("micro02"),
        "systems[1]",
        "Ceph disks are requested, but MicroCeph is not installed on `micro02`",
    );
}

#[test]
fn a_system_missing_from_the_inventory() {
    let yaml = format!("{HEAD}{SYSTEMS}");
    expect(
        run(&yaml, vec![system(1), system(3)]),
        Some("micro02"),
        "systems[1]",
        "system `micro02` is not in the inventory",
    );
}

#[test]
fn an_already_clustered_service_is_reported() {
    let yaml = format!("{HEAD}{SYSTEMS}storage:\n  ceph:\n    - find: type == ssd\n");
    // micro03's MicroCeph belongs to some other cluster.
    let mut systems = three();
    if let Some(ceph) = &mut systems[2].services.microceph {
        ceph.cluster_members = vec!["micro03".into(), "elsewhere".into()];
    }
    expect(
        run(&yaml, systems),
        Some("micro03"),
        "systems[2]",
        "MicroCeph on `micro03` is already part of another cluster (members elsewhere, micro03)",
    );
    // The initiator's LXD is clustered with a machine not in the preseed.
    let mut systems = three();
    if let Some(lxd) = &mut systems[0].services.lxd {
        lxd.cluster_members = vec!["micro01".into(), "old".into()];
    }
    expect(
        run(&yaml, systems),
        Some("micro01"),
        "systems[0]",
        "LXD on `micro01` is already part of a cluster with members micro01, old, which this preseed does not form",
    );
}

#[test]
fn every_error_is_reported_at_once() {
    let yaml = format!(
        "{HEAD}systems:\n  - name: micro01\n    ovn_uplink_interface: nope\n  - name: micro02\n    ovn_uplink_interface: enp6s0\n  - name: micro09\n    ovn_uplink_interface: enp6s0\novn:\n  ipv6_gateway: 2001:db8::1/64\nstorage:\n  ceph:\n    - find: type == hdd\n"
    );
    let mut systems = three();
    systems[1].services.microceph = None;
    let errors = run(&yaml, systems).unwrap_err();
    let mut got: Vec<String> = errors
        .iter()
        .map(|e| format!("{}: {}", e.path, e.message))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            "storage.ceph[0].find_min: not enough disks for filter \"type == hdd\": 0 matched, find_min is 1 (micro01: none; micro02: none)",
            "systems[0].ovn_uplink_interface: interface `nope` does not exist on `micro01`",
            "systems[1]: Ceph disks are requested, but MicroCeph is not installed on `micro02`",
            "systems[2]: system `micro09` is not in the inventory",
        ]
    );
}

#[test]
fn old_lxd_cannot_wipe_the_local_disk() {
    let yaml = format!(
        "{HEAD}{SYSTEMS}storage:\n  local:\n    - find: type == nvme && size < 1TiB\n      wipe: true\n"
    );
    let mut systems = three();
    if let Some(lxd) = &mut systems[1].services.lxd {
        lxd.api_extensions.clear();
    }
    expect(
        run(&yaml, systems),
        Some("micro02"),
        "storage.local[0].wipe",
        "wiping the local disk of `micro02` needs the LXD API extension storage_pool_source_wipe, which its LXD 6.9 lacks",
    );
}

#[test]
fn versions_must_match() {
    let yaml = format!("{HEAD}{SYSTEMS}");
    let mut systems = three();
    if let Some(lxd) = &mut systems[2].services.lxd {
        lxd.version = "5.0.2".into();
    }
    expect(
        run(&yaml, systems),
        None,
        "systems",
        "LXD versions differ: 5.0.2 on micro03; 6.9 on micro01, micro02",
    );
}

#[test]
fn local_pool_driver_follows_the_preseed() {
    let yaml = format!(
        "{HEAD}{SYSTEMS}storage:\n  local:\n    - find: type == nvme && size < 1TiB\nlxd:\n  local_pool_driver: btrfs\n"
    );
    let plan = run(&yaml, three()).unwrap();
    let pool = plan
        .steps
        .iter()
        .find(|s| s.id == "lxd.pool.local")
        .unwrap();
    assert_eq!(
        pool.action,
        planner::Action::CreatePool {
            name: "local".into(),
            driver: "btrfs".into(),
            description: "Local storage on btrfs".into(),
            config: Default::default(),
        }
    );
    // `dir` needs no disk: every member gets a `local` pool without source.
    let yaml = format!("{HEAD}{SYSTEMS}lxd:\n  local_pool_driver: dir\n");
    let plan = run(&yaml, three()).unwrap();
    let pending: Vec<&planner::Step> = plan
        .steps
        .iter()
        .filter(|s| s.id.as_str().starts_with("lxd.pool.local.pending@"))
        .collect();
    assert_eq!(pending.len(), 3);
    assert!(pending.iter().all(|s| matches!(
        &s.action,
        planner::Action::CreatePendingPool { driver, config, .. } if driver == "dir" && config.is_empty()
    )));
}

#[test]
fn filters_on_lxd_that_cannot_report_mounts_warn_for_every_chosen_disk() {
    // LXD 5.0.2 lacks resources_disk_mounted: on a real one, a size filter
    // chose the disk holding the root file system, reported as unmounted.
    let yaml = format!(
        "{HEAD}{SYSTEMS}storage:\n  local:\n    - find: type == nvme && size < 1TiB\n  ceph:\n    - find: type == ssd\n"
    );
    let mut systems = three();
    for (i, s) in systems.iter_mut().enumerate() {
        if let Some(lxd) = &mut s.services.lxd {
            lxd.version = "5.0.2".into();
            if i < 2 {
                lxd.api_extensions.push("resources_disk_mounted".into());
            }
        }
    }
    let plan = run(&yaml, systems).unwrap();
    assert_eq!(
        plan.warnings,
        [
            "LXD 5.0.2 on micro03 does not report whether a disk is mounted (it lacks the API extension \
             resources_disk_mounted), so the filters may have chosen a disk in use: \
             nvme0n1 (storage.local[0]), sda (storage.ceph[0]); check these disks, or name the disks by path"
        ]
    );
    // Disks named by path get no such warning.
    let yaml = format!(
        "{HEAD}systems:\n  - name: micro01\n    storage:\n      local:\n        path: /dev/nvme0n1\n  \
         - name: micro02\n    storage:\n      local:\n        path: /dev/nvme0n1\n  \
         - name: micro03\n    storage:\n      local:\n        path: /dev/nvme0n1\n"
    );
    let plan = run(&yaml, three()).unwrap();
    assert_eq!(plan.warnings, Vec::<String>::new());
}

/// micro02 and micro03 with a local disk each (all or none have one).
const OTHERS: &str = "  - name: micro02\n    storage:\n      local:\n        path: /dev/nvme0n1\n  - name: micro03\n    storage:\n      local:\n        path: /dev/nvme0n1\n";

#[test]
fn a_wipe_of_a_disk_its_lxd_does_not_report_is_refused() {
    let yaml = format!(
        "{HEAD}systems:\n  - name: micro01\n    storage:\n      local:\n        path: /dev/sdz\n        wipe: true\n      ceph:\n        - path: /dev/sdy\n          wipe: true\n        - path: /dev/sdx\n{OTHERS}"
    );
    let result = run(&yaml, three());
    expect(
        result.clone(),
        Some("micro01"),
        "systems[0].storage.local.path",
        "refusing to plan a wipe of /dev/sdz on `micro01`: its LXD does not report that disk, so it could not be checked just before it is wiped",
    );
    expect(
        result.clone(),
        Some("micro01"),
        "systems[0].storage.ceph[0].path",
        "refusing to plan a wipe of /dev/sdy on `micro01`: its LXD does not report that disk, so it could not be checked just before it is wiped",
    );
    // Without `wipe`, an unreported disk is only a warning.
    let errors = result.unwrap_err();
    assert!(
        !errors.iter().any(|e| e.message.contains("/dev/sdx")),
        "{:#?}",
        errors.0
    );
}

#[test]
fn a_wipe_of_a_mounted_or_used_disk_is_refused() {
    let mut one = system(1);
    one.disks[2].mounted = true;
    one.disks[2].used_by = "bcache".into();
    one.disks[1].lxd_pool = Some("default".into());
    let yaml = format!(
        "{HEAD}systems:\n  - name: micro01\n    storage:\n      local:\n        path: /dev/nvme1n1\n        wipe: true\n      ceph:\n        - path: /dev/disk/by-id/ssd-sda\n          wipe: true\n{OTHERS}"
    );
    let result = run(&yaml, vec![one, system(2), system(3)]);
    expect(
        result.clone(),
        Some("micro01"),
        "systems[0].storage.local.wipe",
        "refusing to plan a wipe of /dev/nvme1n1 (nvme1n1) on `micro01`: it is the source of LXD storage pool default",
    );
    expect(
        result,
        Some("micro01"),
        "systems[0].storage.ceph[0].wipe",
        "refusing to plan a wipe of /dev/disk/by-id/ssd-sda (sda) on `micro01`: it is mounted, it is used by bcache",
    );
}

#[test]
fn a_public_network_on_a_second_subnet_needs_an_address_on_every_machine() {
    // MicroCeph takes each monitor's address inside the public network
    // (FindIpOnSubnet, microceph/ceph/bootstrap.go and join.go, squid).
    let yaml = format!(
        "{HEAD}{SYSTEMS}ceph:\n  public_network: 10.10.0.0/24\nstorage:\n  ceph:\n    - find: type == ssd\n"
    );
    let plan = run(&yaml, three()).unwrap();
    let bootstrap = plan
        .steps
        .iter()
        .find(|s| s.id == "microceph.bootstrap@micro01")
        .unwrap();
    let planner::plan::Action::BootstrapMicrocluster { config, .. } = &bootstrap.action else {
        panic!("{:?}", bootstrap.action)
    };
    assert_eq!(
        config.get("PublicNet").map(String::as_str),
        Some("10.10.0.0/24")
    );

    let mut systems = three();
    systems[1].interfaces.retain(|i| i.name != "enp7s0");
    let errors = run(&yaml, systems).unwrap_err();
    let e = errors
        .iter()
        .find(|e| e.path.to_string() == "ceph.public_network")
        .unwrap();
    assert_eq!(e.system.as_deref(), Some("micro02"));
    assert_eq!(
        e.message,
        "`micro02` has no address in the Ceph public network 10.10.0.0/24"
    );
    assert_eq!(
        e.help.as_deref(),
        Some(
            "MicroCeph gives each machine's monitor and daemons an address of its own inside 10.10.0.0/24: configure an address in 10.10.0.0/24 on `micro02` (up, on any interface), or choose a public_network every machine has an address in"
        )
    );
}
