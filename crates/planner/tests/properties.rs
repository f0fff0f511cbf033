//! Properties of planning over generated clusters: dependencies come first,
//! the order of `systems` (in the preseed and in the inventory) does not
//! matter, and planning is deterministic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::fmt::Write as _;

use config_loader::FakeEnvironment;
use planner::inventory::{
    Interface, InterfaceKind, InventoryDisk, LinkState, LxdService, MicroclusterService, Services,
};
use planner::{Inventory, PlanErrors, SystemInventory};
use proptest::prelude::*;

const GIB: u64 = 1 << 30;

#[derive(Debug, Clone)]
struct Machine {
    disks: Vec<(usize, u64, u32)>,
    free_uplink: bool,
    extra_iface: Option<(usize, bool)>,
}

#[derive(Debug, Clone)]
struct Cluster {
    machines: Vec<Machine>,
    ovn: bool,
    local_filter: bool,
    ceph_filters: Vec<usize>,
    cephfs: bool,
}

const KINDS: [&str; 4] = ["nvme", "ssd", "hdd", "cdrom"];
const CEPH_FILTERS: [&str; 3] = ["type == ssd", "type == hdd || size >= 1TiB", "id == sd*"];
const EXTRA: [&str; 3] = ["eno1", "enp1s0", "enp9s0"];

fn machine() -> impl Strategy<Value = Machine> {
    (
        prop::collection::vec(
            (
                0..4usize,
                prop::sample::select(vec![256u64, 1024, 4096]),
                prop::sample::select(vec![0u32, 0, 0, 2]),
            ),
            0..6,
        ),
        prop::bool::weighted(0.95),
        prop::option::of((0..3usize, any::<bool>())),
    )
        .prop_map(|(disks, free_uplink, extra_iface)| Machine {
            disks,
            free_uplink,
            extra_iface,
        })
}

fn cluster() -> impl Strategy<Value = Cluster> {
    (
        prop::collection::vec(machine(), 1..5),
        any::<bool>(),
        prop::bool::weighted(0.25),
        prop::collection::vec(0..3usize, 0..3),
        any::<bool>(),
    )
        .prop_map(|(machines, ovn, local_filter, mut ceph_filters, cephfs)| {
            ceph_filters.dedup();
            Cluster {
                machines,
                ovn,
                local_filter,
                ceph_filters,
                cephfs,
            }
        })
}

fn name(i: usize) -> String {
    format!("micro{i:02}")
}

fn inventory(c: &Cluster) -> Vec<SystemInventory> {
    c.machines
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut interfaces = vec![Interface {
                name: "enp5s0".into(),
                kind: InterfaceKind::Physical,
                state: LinkState::Up,
                addresses: vec![format!("10.0.0.{}/24", i + 1).parse().unwrap()],
                bridge: None,
                managed: false,
            }];
            if m.free_uplink {
                interfaces.push(Interface {
                    name: "enp6s0".into(),
                    kind: InterfaceKind::Physical,
                    state: LinkState::Up,
                    addresses: Vec::new(),
                    bridge: None,
                    managed: false,
                });
            }
            if let Some((k, up)) = m.extra_iface {
                interfaces.push(Interface {
                    name: EXTRA[k].into(),
                    kind: InterfaceKind::Physical,
                    state: if up { LinkState::Up } else { LinkState::Down },
                    addresses: Vec::new(),
                    bridge: None,
                    managed: false,
                });
            }
            SystemInventory {
                name: name(i),
                address: format!("10.0.0.{}", i + 1).parse().unwrap(),
                services: Services {
                    lxd: Some(LxdService {
                        version: "6.9".into(),
                        api_extensions: vec![
                            "explicit_trust_token".into(),
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
                disks: m
                    .disks
                    .iter()
                    .enumerate()
                    .map(|(d, &(kind, size, partitions))| InventoryDisk {
                        id: format!("sd{}", char::from(b'a' + u8::try_from(d).unwrap())),
                        kind: KINDS[kind].into(),
                        size: size * GIB,
                        partitions,
                        device_id: format!("{}-{}-{d}", KINDS[kind], name(i)),
                        ..InventoryDisk::default()
                    })
                    .collect(),
                interfaces,
                default_route_interface: Some("enp5s0".into()),
            }
        })
        .collect()
}

fn preseed(c: &Cluster, order: &[usize]) -> String {
    let mut y = String::from(
        "initiator: micro00\nlookup_subnet: 10.0.0.0/24\nsession_passphrase: x\nsystems:\n",
    );
    for &i in order {
        let _ = writeln!(y, "  - name: {}", name(i));
    }
    if c.ovn {
        y.push_str("ovn:\n  ipv4_gateway: 192.0.2.1/24\n  ipv4_range: 192.0.2.100-192.0.2.200\n");
    }
    if c.cephfs && !c.ceph_filters.is_empty() {
        y.push_str("ceph:\n  cephfs: true\n");
    }
    if c.local_filter || !c.ceph_filters.is_empty() {
        y.push_str("storage:\n");
    }
    if c.local_filter {
        y.push_str("  local:\n    - find: type == nvme\n");
    }
    if !c.ceph_filters.is_empty() {
        y.push_str("  ceph:\n");
        for &f in &c.ceph_filters {
            let _ = writeln!(y, "    - find: {}", CEPH_FILTERS[f]);
        }
    }
    y
}

/// JSON of the plan, or the sorted error messages.
fn outcome(yaml: &str, systems: Vec<SystemInventory>) -> Result<String, Vec<String>> {
    let report = config_loader::load(yaml, &FakeEnvironment::default());
    let preseed = report
        .preseed()
        .unwrap_or_else(|| panic!("{}", report.render("p.yaml")));
    let inventory = Inventory::new(systems, None).unwrap();
    planner::plan(preseed, &inventory)
        .map(|p| p.to_json())
        .map_err(|PlanErrors(errors)| {
            let mut m: Vec<String> = errors.into_iter().map(|e| e.message).collect();
            m.sort();
            m
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn dependencies_precede_their_steps(c in cluster()) {
        let order: Vec<usize> = (0..c.machines.len()).collect();
        let report = config_loader::load(&preseed(&c, &order), &FakeEnvironment::default());
        let inventory = Inventory::new(inventory(&c), None).unwrap();
        if let Ok(plan) = planner::plan(report.preseed().unwrap(), &inventory) {
            let mut seen = BTreeSet::new();
            for step in &plan.steps {
                for dep in &step.depends_on {
                    prop_assert!(seen.contains(dep), "{} depends on {} which does not come first", step.id, dep);
                }
                prop_assert!(seen.insert(step.id.clone()), "duplicate id {}", step.id);
            }
            let topo: Vec<_> = plan.topological_order().into_iter().cloned().collect();
            let listed: Vec<_> = plan.steps.iter().map(|s| s.id.clone()).collect();
            prop_assert_eq!(topo, listed);
            let path = plan.critical_path();
            for pair in path.windows(2) {
                let later = plan.step(&pair[1]).unwrap();
                prop_assert!(later.depends_on.contains(&pair[0]));
            }
        }
    }

    #[test]
    fn order_of_systems_does_not_matter(
        (c, preseed_order, inventory_order) in cluster().prop_flat_map(|c| {
            let n = c.machines.len();
            let ids: Vec<usize> = (0..n).collect();
            (Just(c), Just(ids.clone()).prop_shuffle(), Just(ids).prop_shuffle())
        })
    ) {
        let straight: Vec<usize> = (0..c.machines.len()).collect();
        let base = outcome(&preseed(&c, &straight), inventory(&c));
        let systems = inventory(&c);
        let shuffled_inventory: Vec<SystemInventory> =
            inventory_order.iter().map(|&i| systems[i].clone()).collect();
        let shuffled = outcome(&preseed(&c, &preseed_order), shuffled_inventory);
        prop_assert_eq!(base, shuffled);
    }

    #[test]
    fn planning_is_deterministic(c in cluster()) {
        let order: Vec<usize> = (0..c.machines.len()).collect();
        let yaml = preseed(&c, &order);
        prop_assert_eq!(outcome(&yaml, inventory(&c)), outcome(&yaml, inventory(&c)));
    }
}

/// Guards the properties above against being vacuous: most generated
/// clusters must plan.
#[test]
fn most_generated_clusters_plan() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut ok = 0;
    for _ in 0..200 {
        let c = cluster().new_tree(&mut runner).unwrap().current();
        let order: Vec<usize> = (0..c.machines.len()).collect();
        ok += usize::from(outcome(&preseed(&c, &order), inventory(&c)).is_ok());
    }
    assert!(ok >= 100, "only {ok} of 200 generated clusters plan");
}
