//! The real-services tier: `microcloud preseed` against Debian's LXD
//! 5.0.2, OVN 23.03 and Ceph 16 running in network namespaces, with
//! simulated MicroCeph and MicroOVN (see `real_lab.rs` for what is real and
//! what is simulated).
//!
//! These tests are `#[ignore]`d in the ordinary test run: they need root,
//! the Debian packages and a couple of minutes. `bash tests/real/run.sh`
//! (which `.ci/run` runs as its second stage) installs the packages and
//! runs them with `--ignored`; without root or packages they fail saying
//! what is missing, never skip.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clients::Service;
use clients::rest::RestClient;
use clients::transport::Transport;
use microcloud_tests::real_lab::{Machine, RealLab};
use microcloud_tests::testbed::{Finished, Process, wait_all};
use serde_json::Value;

/// The OVN uplink network (TEST-NET-1: never routed anywhere).
const GATEWAY: &str = "192.0.2.1/24";
const RANGE: &str = "192.0.2.100-192.0.2.150";
const DNS: &str = "192.0.2.1";

fn start(machines: usize) -> RealLab {
    let t = Instant::now();
    let lab = RealLab::start(machines, 3).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "real-services lab with {machines} machine(s) ready in {:.1} s:\n{}",
        t.elapsed().as_secs_f64(),
        lab.timings
    );
    lab
}

/// The preseed every machine runs, with `initiator` holding
/// `initiator_address` and `machines` listed: `local` on btrfs (each
/// machine's loop device), OVN uplink `uplink0`, one (simulated) Ceph disk
/// per machine. Without `initiator` among `machines`, it adds them to its
/// cluster.
fn preseed(lab: &RealLab, name: &str, initiator: &Machine, machines: &[&Machine]) -> PathBuf {
    let mut text = format!(
        "initiator_address: {}\nsession_passphrase: real services\nsession_timeout: 120\n\nsystems:\n",
        initiator.host.address
    );
    for m in machines {
        text.push_str(&format!(
            "  - name: {}\n    address: {}\n    ovn_uplink_interface: {}\n    storage:\n      local:\n        path: {}\n      ceph:\n        - path: {}\n",
            m.name, m.host.address, m.uplink, m.local_disk, m.ceph_disk
        ));
    }
    text.push_str(&format!(
        "\novn:\n  ipv4_gateway: {GATEWAY}\n  ipv4_range: {RANGE}\n  dns_servers: {DNS}\n\n\
         ceph:\n  public_network: {}\n\nlxd:\n  local_pool_driver: btrfs\n",
        lab.subnet()
    ));
    let path = lab.work.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// How long one `microcloud preseed` run on every machine may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs `microcloud preseed FILE` on every machine of `on` at once; waits
/// for all (they print what they did on failure).
fn run_all(lab: &RealLab, file: &Path, on: &[&str]) -> Vec<Finished> {
    let t = Instant::now();
    let runs = on
        .iter()
        .map(|m| Process::spawn(m, lab.microcloud(m, file)))
        .collect();
    let runs = wait_all(runs, RUN_TIMEOUT);
    eprintln!(
        "microcloud preseed on {}: {:.1} s",
        on.join(", "),
        t.elapsed().as_secs_f64()
    );
    for r in &runs {
        assert_eq!(
            r.code,
            Some(0),
            "{} failed (what every machine printed is above)",
            r.label
        );
    }
    runs
}

/// GETs from a machine's real LXD, over its unix socket (metadata only).
struct Lxd {
    rest: RestClient,
    runtime: tokio::runtime::Runtime,
}

impl Lxd {
    fn of(machine: &Machine) -> Lxd {
        Lxd {
            rest: RestClient::new(
                Transport::unix(machine.lxd_socket()),
                Service::Lxd,
                &machine.name,
            ),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        }
    }

    fn get(&self, path: &str) -> Value {
        self.runtime
            .block_on(self.rest.get::<Value>(path))
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// Everything the preseed asks for, read back from LXD's own API.
fn check_cluster(lab: &RealLab, members: &[&Machine]) {
    let lxd = Lxd::of(members[0]);
    let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();

    let listed = lxd.get("/1.0/cluster/members?recursion=1");
    let mut online: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["status"] == "Online")
        .map(|m| s(&m["server_name"]))
        .collect();
    online.sort_unstable();
    assert_eq!(online, names, "online members: {listed:#}");

    let server = lxd.get("/1.0");
    assert_eq!(server["environment"]["server_version"], "5.0.2");
    let config = &server["config"];
    assert_eq!(
        config["cluster.https_address"],
        format!("{}:8443", members[0].host.address)
    );
    assert_eq!(config["core.https_address"], "[::]:8443");
    assert_eq!(config["user.microcloud"], env!("CARGO_PKG_VERSION"));
    assert_eq!(config["storage.images_volume"], "local/images");
    assert_eq!(config["storage.backups_volume"], "local/backups");
    // LXD 5.0.2 needs the northbound connection: the central members.
    let nb: Vec<String> = members
        .iter()
        .take(3)
        .map(|m| format!("ssl:{}:6641", m.host.address))
        .collect();
    assert_eq!(config["network.ovn.northbound_connection"], nb.join(","));

    let pools = lxd.get("/1.0/storage-pools?recursion=1");
    let pool = |name: &str| {
        pools
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no storage pool {name}: {pools:#}"))
            .clone()
    };
    let local = pool("local");
    assert_eq!(local["driver"], "btrfs");
    assert_eq!(local["status"], "Created");
    let remote = pool("remote");
    assert_eq!(remote["driver"], "ceph");
    assert_eq!(remote["status"], "Created");
    assert_eq!(remote["config"]["ceph.osd.pool_name"], "lxd_remote");
    for m in members {
        let member = lxd.get(&format!("/1.0/storage-pools/local?target={}", m.name));
        assert_eq!(
            member["config"]["source"], m.local_disk,
            "local pool source on {}",
            m.name
        );
        let this = Lxd::of(m);
        assert_eq!(
            this.get("/1.0")["config"]["storage.images_volume"],
            "local/images",
            "{}",
            m.name
        );
    }
    // The real Ceph cluster has the pool LXD made.
    let ceph_pools = lab.ceph(&["osd", "pool", "ls"]).unwrap();
    assert!(ceph_pools.contains("\"lxd_remote\""), "{ceph_pools}");

    let networks = lxd.get("/1.0/networks?recursion=1");
    let network = |name: &str| {
        networks
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == name)
            .unwrap_or_else(|| panic!("no network {name}: {networks:#}"))
            .clone()
    };
    let uplink = network("UPLINK");
    assert_eq!(uplink["type"], "physical");
    assert_eq!(uplink["status"], "Created");
    assert_eq!(uplink["config"]["ipv4.gateway"], GATEWAY);
    assert_eq!(uplink["config"]["ipv4.ovn.ranges"], RANGE);
    assert_eq!(uplink["config"]["dns.nameservers"], DNS);
    for m in members {
        let member = lxd.get(&format!("/1.0/networks/UPLINK?target={}", m.name));
        assert_eq!(member["config"]["parent"], m.uplink.as_str(), "{}", m.name);
    }
    let default = network("default");
    assert_eq!(default["type"], "ovn");
    assert_eq!(default["status"], "Created");
    assert_eq!(default["config"]["network"], "UPLINK");
    // LXD gave the OVN router an address from the uplink range.
    assert!(
        s(&default["config"]["volatile.network.ipv4.address"]).starts_with("192.0.2.1"),
        "{default:#}"
    );

    // The real OVN northbound database has the network's router and
    // switches (LXD names them after the network's id).
    let routers = lab
        .ovn_nbctl(&["--format=csv", "--columns=name", "list", "Logical_Router"])
        .unwrap();
    assert!(
        routers
            .lines()
            .any(|l| l.starts_with("lxd-net") && l.ends_with("-lr")),
        "{routers}"
    );

    let profile = lxd.get("/1.0/profiles/default");
    assert_eq!(
        profile["devices"],
        serde_json::json!({
            "root": {"path": "/", "pool": "remote", "type": "disk"},
            "eth0": {"name": "eth0", "network": "default", "type": "nic"},
        })
    );
}

/// `microcloud preseed --dry-run` on node1 with `text` as the preseed.
fn dry_run(lab: &RealLab, name: &str, text: &str) -> (Option<i32>, String) {
    let path = lab.work.join(name);
    std::fs::write(&path, text).unwrap();
    let out = lab
        .microcloud("node1", &path)
        .arg("--dry-run")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// What MicroCloud would ask of LXD but 5.0.2 cannot do is refused by the
/// planner, from the real LXD's API extensions (dry runs: nothing is
/// sent); and disks chosen by filters get a warning, as 5.0.2 does not
/// report mounts (its root disk looks free).
fn refusals_on_lxd_5_0_2(lab: &RealLab, file: &Path) {
    let text = std::fs::read_to_string(file).unwrap();
    let local = format!(
        "      local:\n        path: {}\n",
        lab.machine("node1").local_disk
    );
    assert!(text.contains(&local), "{text}");

    let wipe = text.replace(&local, &format!("{local}        wipe: true\n"));
    let (code, out) = dry_run(lab, "wipe.yaml", &wipe);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains(
            "error: wiping the local disk of `node1` needs the LXD API extension \
             storage_pool_source_wipe, which its LXD 5.0.2 lacks"
        ),
        "{out}"
    );

    let cephfs = text.replace(
        "ceph:\n  public_network",
        "ceph:\n  cephfs: true\n  public_network",
    );
    let (code, out) = dry_run(lab, "cephfs.yaml", &cephfs);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains(
            "error: CephFS needs the LXD API extension storage_cephfs_create_missing, \
             which LXD 5.0.2 on `node1` lacks"
        ),
        "{out}"
    );

    let filter = text.replace(&local, "").replace(
        "lxd:\n",
        "storage:\n  local:\n    - find: size > 1GiB\n\nlxd:\n",
    );
    let (code, out) = dry_run(lab, "filter.yaml", &filter);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(
            "LXD 5.0.2 on node1 does not report whether a disk is mounted (it lacks the API \
             extension resources_disk_mounted), so the filters may have chosen a disk in use"
        ),
        "{out}"
    );
}

/// The initiator's final line says nothing changed.
fn assert_nothing_changed(runs: &[Finished]) {
    assert!(
        runs[0]
            .stdout
            .contains("MicroCloud is ready: 0 step(s) changed something"),
        "a re-run must change nothing (what every machine printed is above)"
    );
}

#[test]
#[ignore = "needs root, Debian's lxd, ovn and ceph packages and about 2 minutes: run by tests/real/run.sh"]
fn three_machines_form_a_cluster_on_real_services_then_a_fourth_joins() {
    let lab = start(4);
    let [n1, n2, n3, n4] = ["node1", "node2", "node3", "node4"].map(|n| lab.machine(n));

    // What 5.0.2 cannot do is refused before anything is sent.
    let t = Instant::now();
    let one = preseed(&lab, "one.yaml", n1, &[n1]);
    refusals_on_lxd_5_0_2(&lab, &one);
    eprintln!("dry runs: {:.1} s", t.elapsed().as_secs_f64());

    // Every machine runs the same file; node1 initiates.
    let three = preseed(&lab, "three.yaml", n1, &[n1, n2, n3]);
    let runs = run_all(&lab, &three, &["node1", "node2", "node3"]);
    assert!(runs[0].stdout.contains("MicroCloud is ready"));
    check_cluster(&lab, &[n1, n2, n3]);

    let runs = run_all(&lab, &three, &["node1", "node2", "node3"]);
    assert_nothing_changed(&runs);
    check_cluster(&lab, &[n1, n2, n3]);

    // Add mode: node1 (a member, not listed) brings node4 in.
    let add = preseed(&lab, "add.yaml", n1, &[n4]);
    run_all(&lab, &add, &["node1", "node4"]);
    check_cluster(&lab, &[n1, n2, n3, n4]);

    let runs = run_all(&lab, &add, &["node1", "node4"]);
    assert_nothing_changed(&runs);
}
