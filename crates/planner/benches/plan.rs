//! Benchmark: validate + plan a generated preseed of N systems, each with 24
//! disks and four disk filters (one local, three Ceph), for N = 3, 100 and
//! 1000. Plain `std::time::Instant`, no harness: `cargo bench -p planner
//! --bench plan` (add `-- --quick` for one run each, or a size such as
//! `-- 1000` to run one size only).
//!
//! Each size runs in a child process of this binary (`--scenario N`) so that
//! its peak resident memory (`VmHWM` of `/proc/self/status`, read at the end
//! of the child) is its own. Printed per size: the median times of
//! validation and of validation + planning, the resident memory once the
//! inputs are built (`inputs RSS`), and the peak (`peak RSS`), which covers
//! the inputs, the validated preseed and the plan. Figures are recorded in
//! BENCHMARKS.md.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::fmt::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

use config_loader::FakeEnvironment;
use planner::inventory::{
    Interface, InterfaceKind, InventoryDisk, LinkState, LxdService, MicroclusterService, Services,
};
use planner::{Inventory, SystemInventory};

const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;

fn address(i: usize) -> String {
    format!("10.{}.{}.{}", 1 + i / 62500, (i / 250) % 250, 1 + i % 250)
}

fn preseed(n: usize) -> String {
    let mut y = String::new();
    let _ = writeln!(y, "initiator_address: {}", address(0));
    y.push_str("session_passphrase: correct horse battery staple\nsystems:\n");
    for i in 0..n {
        let _ = writeln!(
            y,
            "  - name: node{i:04}\n    address: {}\n    ovn_uplink_interface: enp6s0",
            address(i)
        );
    }
    y.push_str(
        "ovn:\n  ipv4_gateway: 192.0.2.1/24\n  ipv4_range: 192.0.2.100-192.0.2.254\n\
         storage:\n  local:\n    - find: type == nvme && size < 1TiB\n      wipe: true\n  ceph:\n\
         \x20   - find: type == nvme && size >= 1TiB\n      wipe: true\n\
         \x20   - find: type == ssd\n\
         \x20   - find: type == hdd && rpm >= 7200\n      encrypt: true\n",
    );
    y
}

fn inventory(n: usize) -> Inventory {
    let exts = [
        "explicit_trust_token",
        "storage_pool_source_wipe",
        "instances_migration_stateful",
        "storage_remote_drop_source",
        "storage_ceph_use_rbd_defaults",
        "ovn_dynamic_northbound_connection",
        "resources_disk_mounted",
    ];
    let systems = (0..n).map(|i| {
        let name = format!("node{i:04}");
        let disks = (0..24)
            .map(|d| {
                let (kind, size, rpm) = match d {
                    0..2 => ("nvme", 512 * GIB, 0),
                    2..10 => ("nvme", 2 * TIB, 0),
                    10..18 => ("ssd", 2 * TIB, 0),
                    _ => ("hdd", 8 * TIB, 7200),
                };
                InventoryDisk {
                    id: format!("disk{d}"),
                    kind: kind.into(),
                    size,
                    rpm,
                    device_id: format!("{kind}-{name}-{d}"),
                    ..InventoryDisk::default()
                }
            })
            .collect();
        let addr = address(i);
        SystemInventory {
            name: name.clone(),
            address: addr.parse().unwrap(),
            services: Services {
                lxd: Some(LxdService {
                    version: "6.9".into(),
                    api_extensions: exts.iter().map(|e| (*e).to_owned()).collect(),
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
            disks,
            interfaces: vec![
                Interface {
                    name: "enp5s0".into(),
                    kind: InterfaceKind::Physical,
                    state: LinkState::Up,
                    addresses: vec![format!("{addr}/8").parse().unwrap()],
                    bridge: None,
                    managed: false,
                },
                Interface {
                    name: "enp6s0".into(),
                    kind: InterfaceKind::Physical,
                    state: LinkState::Up,
                    addresses: Vec::new(),
                    bridge: None,
                    managed: false,
                },
            ],
            default_route_interface: Some("enp5s0".into()),
        }
    });
    Inventory::new(systems, None).unwrap()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// A `kB` field of `/proc/self/status` (`VmHWM`, `VmRSS`), in KiB; 0 when
/// unavailable.
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

const SIZES: [usize; 3] = [3, 100, 1000];

/// Runs one size (in the child process) and prints its line.
fn run(n: usize, quick: bool) {
    let env = FakeEnvironment::default();
    let yaml = preseed(n);
    let inv = inventory(n);
    let inputs_rss = status_kib("VmRSS:");
    let runs = match (quick, n) {
        (true, _) => 1,
        (false, 1000) => 11,
        (false, _) => 21,
    };
    let mut validate = Vec::new();
    let mut total = Vec::new();
    let mut steps = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let report = config_loader::load(&yaml, &env);
        let preseed = report.preseed().expect("generated preseed is valid");
        let validated = start.elapsed();
        let plan = planner::plan(preseed, &inv).expect("generated preseed plans");
        total.push(start.elapsed());
        validate.push(validated);
        steps = plan.steps.len();
    }
    println!(
        "systems={n:5} disks/system=24 filters=4 steps={steps:6} runs={runs:2}  validate median {:>8.3} ms  validate+plan median {:>8.3} ms  inputs RSS {:>7} KiB  peak RSS {:>7} KiB",
        median(validate).as_secs_f64() * 1e3,
        median(total).as_secs_f64() * 1e3,
        inputs_rss,
        status_kib("VmHWM:"),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    if let Some(i) = args.iter().position(|a| a == "--scenario") {
        let n = args[i + 1].parse().expect("--scenario takes a size");
        run(n, quick);
        return;
    }
    let exe = std::env::current_exe().unwrap();
    // `cargo bench` passes `--bench`; a bare number selects one size.
    let only: Option<usize> = args.iter().skip(1).find_map(|a| a.parse().ok());
    for n in SIZES.iter().filter(|n| only.is_none_or(|o| o == **n)) {
        let mut cmd = Command::new(&exe);
        cmd.args(["--scenario", &n.to_string()]);
        if quick {
            cmd.arg("--quick");
        }
        let out = cmd.output().unwrap();
        print!("{}", String::from_utf8_lossy(&out.stdout));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "scenario {n} failed: {}", out.status);
    }
}
