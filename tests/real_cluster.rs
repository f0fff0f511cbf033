//! What the real-services tests and the real-LXD benchmark share: the
//! preseed every machine runs, running `microcloud preseed` on several
//! machines at once, and checking the formed cluster through LXD's own API.
//!
//! These are test helpers: they panic with what went wrong.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clients::Service;
use clients::rest::RestClient;
use clients::transport::Transport;
use serde_json::Value;

use crate::real_lab::{Machine, RealLab};
use crate::testbed::{Finished, Process, wait_all};

/// The OVN uplink network's gateway (TEST-NET-1: never routed anywhere).
pub const GATEWAY: &str = "192.0.2.1/24";
/// The uplink addresses OVN routers take.
pub const RANGE: &str = "192.0.2.100-192.0.2.150";
/// The uplink's DNS server.
pub const DNS: &str = "192.0.2.1";

/// Starts a real-services lab of `machines` machines (three of them OVN
/// central), printing how long each part of the start took.
pub fn start(machines: usize) -> RealLab {
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
pub fn preseed(lab: &RealLab, name: &str, initiator: &Machine, machines: &[&Machine]) -> PathBuf {
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
pub const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs `microcloud preseed FILE` on every machine of `on` at once; waits
/// for all (they print what they did on failure).
pub fn run_all(lab: &RealLab, file: &Path, on: &[&str]) -> Vec<Finished> {
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
pub struct Lxd {
    rest: RestClient,
    runtime: tokio::runtime::Runtime,
}

impl Lxd {
    /// A client of `machine`'s LXD, over its unix socket.
    pub fn of(machine: &Machine) -> Lxd {
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

    /// `GET path`, panicking with the path on failure.
    pub fn get(&self, path: &str) -> Value {
        self.runtime
            .block_on(self.rest.get::<Value>(path))
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// The entry named `name` of `list` (a recursive listing such as
/// `/1.0/networks?recursion=1`), panicking with the listing when there is
/// none; `what` names the kind of entry in that message.
fn named<'a>(list: &'a Value, what: &str, name: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no {what} {name}: {list:#}"))
}

/// Everything the preseed asks for, read back from LXD's own API.
pub fn check_cluster(lab: &RealLab, members: &[&Machine]) {
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
    let local = named(&pools, "storage pool", "local");
    assert_eq!(local["driver"], "btrfs");
    assert_eq!(local["status"], "Created");
    let remote = named(&pools, "storage pool", "remote");
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
    let uplink = named(&networks, "network", "UPLINK");
    assert_eq!(uplink["type"], "physical");
    assert_eq!(uplink["status"], "Created");
    assert_eq!(uplink["config"]["ipv4.gateway"], GATEWAY);
    assert_eq!(uplink["config"]["ipv4.ovn.ranges"], RANGE);
    assert_eq!(uplink["config"]["dns.nameservers"], DNS);
    for m in members {
        let member = lxd.get(&format!("/1.0/networks/UPLINK?target={}", m.name));
        assert_eq!(member["config"]["parent"], m.uplink.as_str(), "{}", m.name);
    }
    let default = named(&networks, "network", "default");
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
