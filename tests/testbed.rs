//! End-to-end testbed: real `microcloud preseed` processes on lab hosts
//! (network namespaces on one bridge, see [`crate::lab`]) in front of
//! simulated services.
//!
//! A simulated cluster lives in one process, so one `microcloud-sim` runs
//! for all hosts, in the lab's isolated services namespace, whose `lo`
//! carries every host's address: the simulators' member-to-member HTTPS
//! (joins, `?target=` forwarding) stays inside that namespace. Host `nodeI`
//! reaches its own simulated node through the unix sockets under
//! `<dir>/sim/nodeI/` (unix sockets are files, reachable from any network
//! namespace), and the simulated inventory reports node I's `enp5s0` with
//! the host's real `eth0` address, so role decision and multicast
//! discovery line up with the real interfaces. The trust session and the
//! agents run between the host namespaces, over the bridge.
//!
//! Unlike a real machine, a lab host does not serve LXD, MicroCeph or
//! MicroOVN on its own address (they listen in the services namespace):
//! anything in `microcloud` that dialled a service's HTTPS address from a
//! host would fail here. The lab is stricter than reality there, never
//! laxer; `microcloud` reaches services only through sockets and agents.
//!
//! Every process is started by pid and killed by pid when its handle is
//! dropped; every wait has a deadline, after which the test fails with what
//! each process printed instead of hanging.

use crate::lab::{Lab, LabError};
use clients::lxd::{LxdApi, LxdClient};
use clients::microceph::MicroCephClient;
use clients::microcluster::MicroclusterApi;
use clients::microovn::MicroOvnClient;
use clients::transport::Transport;
use serde_json::Value;
use std::fmt;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the simulator may take to come up.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A built binary of the workspace, found next to the running test's
/// `target/<profile>/deps/` directory.
///
/// # Panics
/// When it is missing, saying how to build it (`cargo test --workspace`
/// builds every binary; `cargo test -p microcloud-tests` alone does not).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    let candidates: Vec<PathBuf> = exe
        .ancestors()
        .skip(1)
        .take(3)
        .map(|d| d.join(name))
        .collect();
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "the binary `{name}` is not built (looked for {}); build it first with \
                 `cargo build -p microcloud -p simulators` (`cargo test --workspace` builds it too)",
                candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

/// A child process with its output captured as it comes.
pub struct Process {
    /// What it is, for messages (`node2`, `microcloud-sim`, …).
    pub label: String,
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
    started: Instant,
    status: Option<ExitStatus>,
}

fn capture(source: Option<impl Read + Send + 'static>, into: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let Some(mut source) = source else { return };
        let mut buffer = [0u8; 4096];
        while let Ok(n) = source.read(&mut buffer) {
            if n == 0 {
                break;
            }
            if let Ok(mut text) = into.lock() {
                text.push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        }
    })
}

impl Process {
    /// Starts `command` with piped output.
    ///
    /// # Panics
    /// When it cannot be started.
    pub fn spawn(label: &str, mut command: Command) -> Process {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {label} ({command:?}): {e}"));
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            capture(child.stdout.take(), stdout.clone()),
            capture(child.stderr.take(), stderr.clone()),
        ];
        Process {
            label: label.to_owned(),
            child,
            stdout,
            stderr,
            readers,
            started: Instant::now(),
            status: None,
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it printed on standard output so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// What it printed on standard error so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Its exit status, if it has ended.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits until its standard output or error contains `needle`, it
    /// ends, or `timeout` passes; true when the text appeared.
    pub fn wait_for_output(&mut self, needle: &str, timeout: Duration) -> bool {
        self.wait_until(|text| text.contains(needle), timeout)
    }

    /// Waits until what it printed so far (standard output, then error)
    /// satisfies `wanted`, it ends, or `timeout` passes; true when it did.
    pub fn wait_until(&mut self, wanted: impl Fn(&str) -> bool, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let seen = |p: &Process| wanted(&format!("{}{}", p.stdout(), p.stderr()));
        loop {
            if seen(self) {
                return true;
            }
            if self.try_status().is_some() || Instant::now() >= deadline {
                // One last look: the readers may have been behind.
                std::thread::sleep(Duration::from_millis(50));
                return seen(self);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until it ends or `timeout` passes; its status if it ended.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while self.try_status().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.try_status()
    }

    /// Kills it (SIGKILL, by pid) and reaps it.
    pub fn kill(&mut self) {
        if self.try_status().is_none() {
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
    }

    /// What it did, once it has ended (kills it first if it has not).
    pub fn finish(mut self) -> Finished {
        self.kill();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        let status = self.status;
        Finished {
            label: self.label.clone(),
            code: status.and_then(|s| s.code()),
            status: status.map(|s| s.to_string()).unwrap_or_default(),
            elapsed: self.started.elapsed(),
            stdout: self.stdout(),
            stderr: self.stderr(),
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A process that has ended.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Its label.
    pub label: String,
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// The exit status as text.
    pub status: String,
    /// Time from start to end.
    pub elapsed: Duration,
    /// Everything it printed on standard output.
    pub stdout: String,
    /// Everything it printed on standard error.
    pub stderr: String,
}

impl Finished {
    /// Standard output and error together.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl fmt::Display for Finished {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "===== {} ({}, after {:.1}s)",
            self.label,
            self.status,
            self.elapsed.as_secs_f64()
        )?;
        writeln!(f, "----- stdout\n{}", self.stdout.trim_end())?;
        write!(f, "----- stderr\n{}", self.stderr.trim_end())
    }
}

/// Everything a set of processes printed, for failure messages.
pub fn transcript(runs: &[Finished]) -> String {
    runs.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Waits for every process to end, for at most `timeout` in all, and prints
/// what each printed (on standard error, which the test harness shows when
/// the test fails). When the time is up, kills them all and panics with
/// everything they printed.
pub fn wait_all(runs: Vec<Process>, timeout: Duration) -> Vec<Finished> {
    let deadline = Instant::now() + timeout;
    let mut runs = runs;
    loop {
        if runs.iter_mut().all(|r| r.try_status().is_some()) {
            let finished: Vec<Finished> = runs.into_iter().map(Process::finish).collect();
            // Shown by the test harness when the test fails.
            eprintln!("{}", transcript(&finished));
            return finished;
        }
        if Instant::now() >= deadline {
            let hung: Vec<String> = runs
                .iter_mut()
                .filter_map(|r| r.try_status().is_none().then(|| r.label.clone()))
                .collect();
            let finished: Vec<Finished> = runs.into_iter().map(Process::finish).collect();
            panic!(
                "{} still running after {:.0}s (killed):\n{}",
                hung.join(", "),
                timeout.as_secs_f64(),
                transcript(&finished)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How the simulated services are started.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Multiplier for simulated durations and injected latencies.
    pub time_scale: f64,
    /// A fault script (YAML) for `microcloud-sim --faults`.
    pub faults: Option<String>,
    /// MicroCeph reef (`microcloud-sim --microceph reef`: the older
    /// `/cluster` microcluster endpoints) instead of squid.
    pub microceph_reef: bool,
    /// A latency model for `microcloud-sim --latency-model` (`v1` or a
    /// file path).
    pub latency_model: Option<String>,
    /// An inventory fixture (JSON) for every node, instead of the
    /// simulators' default machine.
    pub inventory: Option<String>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            time_scale: 0.02,
            faults: None,
            microceph_reef: false,
            latency_model: None,
            inventory: None,
        }
    }
}

/// A lab of hosts `node1..nodeN` and the simulated services behind them.
/// Dropping it stops every process and removes the namespaces.
pub struct Testbed {
    // Field order is drop order: the simulator before the lab's namespaces.
    sim: Process,
    /// The hosts.
    pub lab: Lab,
    dir: tempfile::TempDir,
    nodes: usize,
}

/// Name of the `index`-th host (from 1), as the simulator names its nodes.
pub fn node(index: usize) -> String {
    format!("node{index}")
}

fn index_of(name: &str) -> usize {
    name.strip_prefix("node")
        .and_then(|i| i.parse().ok())
        .unwrap_or_else(|| panic!("lab hosts are called node<N>, not {name:?}"))
}

impl Testbed {
    /// Builds `nodes` hosts and starts the simulated services;
    /// a lab error when namespaces cannot be made.
    ///
    /// # Panics
    /// When the simulator does not come up (with its output).
    pub fn start(nodes: usize, options: &SimOptions) -> Result<Testbed, LabError> {
        let names: Vec<String> = (1..=nodes).map(node).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut lab = Lab::create(&refs)?;
        let services = lab.services_namespace(nodes)?;
        let dir = tempfile::Builder::new()
            .prefix("mc-e2e-")
            .tempdir()
            .unwrap_or_else(|e| panic!("temporary directory: {e}"));
        let state = dir.path().join("sim");
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &services])
            .arg(binary("microcloud-sim"))
            .args(["--nodes", &nodes.to_string()])
            .args(["--base-ip", &lab.address(1).to_string()])
            .arg("--state-dir")
            .arg(&state)
            .args(["--time-scale", &options.time_scale.to_string()]);
        if options.microceph_reef {
            command.args(["--microceph", "reef"]);
        }
        if let Some(model) = &options.latency_model {
            command.args(["--latency-model", model]);
        }
        if let Some(inventory) = &options.inventory {
            let path = dir.path().join("inventory.json");
            std::fs::write(&path, inventory).unwrap_or_else(|e| panic!("write inventory: {e}"));
            command.arg("--inventory").arg(path);
        }
        if let Some(faults) = &options.faults {
            let path = dir.path().join("faults.yaml");
            std::fs::write(&path, faults).unwrap_or_else(|e| panic!("write faults: {e}"));
            command.arg("--faults").arg(path);
        }
        let mut sim = Process::spawn("microcloud-sim", command);
        let sockets: Vec<PathBuf> = names
            .iter()
            .flat_map(|n| {
                let d = state.join(n);
                [
                    d.join("lxd/unix.socket"),
                    d.join("microceph/control.socket"),
                    d.join("microovn/control.socket"),
                ]
            })
            .collect();
        wait_for_sockets(&mut sim, &sockets);
        Ok(Testbed {
            sim,
            lab,
            dir,
            nodes,
        })
    }

    /// The temporary directory of this testbed (sockets, files, journals).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Where host `name`'s simulated services have their sockets.
    pub fn sockets(&self, name: &str) -> PathBuf {
        self.dir.path().join("sim").join(name)
    }

    /// Host `name`'s run lock: the hosts share this machine's file system,
    /// so each gets its own instead of `/run/microcloud/preseed.lock`.
    pub fn lock_file(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}-run.lock"))
    }

    /// Host `name`'s journal.
    pub fn journal(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}-journal.json"))
    }

    /// Writes `text` to `file_name` in the testbed's directory.
    pub fn write(&self, file_name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(file_name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// Starts `microcloud preseed FILE` on host `name` (in its namespace,
    /// against its own simulated node's sockets and with its own journal),
    /// with `extra` arguments.
    pub fn preseed(&self, name: &str, file: &Path, extra: &[&str]) -> Process {
        self.preseed_with_journal(name, file, &self.journal(name), extra)
    }

    /// [`Testbed::preseed`] with another journal path.
    pub fn preseed_with_journal(
        &self,
        name: &str,
        file: &Path,
        journal: &Path,
        extra: &[&str],
    ) -> Process {
        let host = self
            .lab
            .host(name)
            .unwrap_or_else(|| panic!("no lab host {name}"));
        let sockets = self.sockets(name);
        let mut command = host.command(&binary("microcloud").display().to_string());
        command
            .arg("preseed")
            .arg(file)
            .args(["--name", name])
            .arg("--sockets")
            .arg(sockets)
            .arg("--journal")
            .arg(journal)
            .env("MICROCLOUD_LOCK_FILE", self.lock_file(name))
            .args(extra);
        Process::spawn(name, command)
    }

    /// Panics, with what it printed, if the simulator has ended: a
    /// test's results mean nothing without it.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.sim.try_status() {
            panic!(
                "microcloud-sim ended ({status}) during the test:\n{}{}",
                self.sim.stdout(),
                self.sim.stderr()
            );
        }
    }

    /// The whole observable state of every node, read through its unix
    /// sockets, normalised so that two labs compare (see [`normalise`]).
    pub fn state(&self) -> Value {
        let all: Vec<String> = (1..=self.nodes).map(node).collect();
        self.state_of(&all)
    }

    /// [`Testbed::state`] of the given nodes only (the cluster-wide part
    /// is read through the first of them).
    ///
    /// # Panics
    /// When a node cannot be read.
    pub fn state_of(&self, nodes: &[String]) -> Value {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("tokio runtime: {e}"));
        let mut state = runtime.block_on(self.read_state(nodes));
        let prefix = self.lab.address(1).to_string();
        let net = prefix.trim_end_matches('1');
        normalise(&mut state, net);
        state
    }

    async fn read_state(&self, nodes: &[String]) -> Value {
        let mut systems = Vec::new();
        let mut members = serde_json::Map::new();
        let mut first_clients = None;
        for (position, name) in nodes.iter().enumerate() {
            let name = name.clone();
            let index = index_of(&name);
            let d = self.sockets(&name);
            let lxd = LxdClient::new(Transport::unix(d.join("lxd/unix.socket")), &name);
            let ceph =
                MicroCephClient::new(Transport::unix(d.join("microceph/control.socket")), &name);
            let ovn =
                MicroOvnClient::new(Transport::unix(d.join("microovn/control.socket")), &name);
            let address = IpAddr::V4(self.lab.address(index));
            let system =
                collect::collect_system(&name, address, &lxd, Some(&ceph), Some(&ovn), None)
                    .await
                    .unwrap_or_else(|e| panic!("reading the state of {name}: {e}"));
            let mut views = serde_json::Map::new();
            if system
                .services
                .lxd
                .as_ref()
                .is_some_and(|l| !l.cluster_members.is_empty())
            {
                let lxd_members = lxd
                    .cluster_members()
                    .await
                    .unwrap_or_else(|e| panic!("LXD cluster members seen by {name}: {e}"));
                views.insert(
                    "lxd".into(),
                    lxd_members
                        .iter()
                        .map(|m| format!("{} {} {}", m.server_name, m.url, m.status))
                        .collect(),
                );
            }
            for (service, list) in [
                ("microceph", microcluster_members(&ceph).await),
                ("microovn", microcluster_members(&ovn).await),
            ] {
                if let Some(list) = list {
                    views.insert(service.into(), list.into());
                }
            }
            members.insert(name.clone(), Value::Object(views));
            if position == 0 {
                first_clients = Some((lxd, ceph));
            }
            systems.push(system);
        }
        let cluster_members: Vec<String> = systems
            .first()
            .and_then(|s| s.services.lxd.as_ref())
            .map(|l| l.cluster_members.clone())
            .unwrap_or_default();
        let cluster = match (&first_clients, cluster_members.is_empty()) {
            (Some((lxd, ceph)), false) => Some(
                collect::collect_cluster(lxd, Some(ceph), &cluster_members)
                    .await
                    .unwrap_or_else(|e| panic!("reading the cluster through {}: {e}", nodes[0])),
            ),
            _ => None,
        };
        serde_json::json!({
            "members": members,
            "systems": systems,
            "cluster": cluster,
        })
    }
}

/// Every member a microcluster daemon lists (`name address status`), or
/// `None` when it is not clustered.
async fn microcluster_members<C: MicroclusterApi>(client: &C) -> Option<Vec<String>> {
    let info = client.server_info().await.ok()?;
    if !info.ready {
        return None;
    }
    let members = client.cluster_members().await.ok()?;
    Some(
        members
            .iter()
            .map(|m| format!("{} {} {}", m.name, m.address, m.status))
            .collect(),
    )
}

fn wait_for_sockets(sim: &mut Process, sockets: &[PathBuf]) {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let missing: Vec<&PathBuf> = sockets
            .iter()
            .filter(|s| std::os::unix::net::UnixStream::connect(s).is_err())
            .collect();
        if missing.is_empty() {
            return;
        }
        if sim.try_status().is_some() || Instant::now() >= deadline {
            let out = format!("{}{}", sim.stdout(), sim.stderr());
            panic!(
                "microcloud-sim did not come up ({} of {} sockets not answering, e.g. {}):\n{out}",
                missing.len(),
                sockets.len(),
                missing[0].display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Normalises a state so that two labs (and two runs) compare: the lab's
/// address prefix `net` (e.g. `10.123.0.`) becomes `<net>.`; OSD numbers,
/// LXD API extensions and certificates are dropped (they depend on join
/// order, the profile or random keys); lists of members and OSDs are
/// sorted; disks and interfaces become one line each with what a run can
/// change (the simulators' fixed hardware details are left out). Everything
/// else is kept as the services report it.
pub fn normalise(v: &mut Value, net: &str) {
    match v {
        Value::String(s) => *s = s.replace(net, "<net>."),
        Value::Object(map) => {
            for key in ["api_extensions", "certificate"] {
                map.remove(key);
            }
            // The workspace version, written by the planner.
            if let Some(v) = map.get_mut("user.microcloud") {
                *v = Value::String("@VERSION@".into());
            }
            if let Some(Value::Array(osds)) = map.get_mut("osds") {
                for o in osds.iter_mut() {
                    if let Value::Object(o) = o {
                        o.remove("osd");
                    }
                }
            }
            if let Some(Value::Array(disks)) = map.get_mut("disks") {
                for d in disks.iter_mut() {
                    *d = Value::String(disk_line(d));
                }
            }
            if let Some(Value::Array(interfaces)) = map.get_mut("interfaces") {
                for i in interfaces.iter_mut() {
                    *i = Value::String(interface_line(i));
                }
            }
            for x in map.values_mut() {
                normalise(x, net);
            }
            for key in ["cluster_members", "osds", "lxd", "microceph", "microovn"] {
                if let Some(Value::Array(items)) = map.get_mut(key) {
                    items.sort_by_key(ToString::to_string);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|x| normalise(x, net)),
        _ => {}
    }
}

/// `sda (scsi): ceph OSD`, `nvme1n1 (nvme): lxd pool local`, …
fn disk_line(d: &Value) -> String {
    let text = |k: &str| d[k].as_str().unwrap_or_default().to_owned();
    let mut uses = Vec::new();
    if d["mounted"] == true {
        uses.push("mounted".to_owned());
    }
    if let Some(n) = d["partitions"].as_u64().filter(|n| *n > 0) {
        uses.push(format!("{n} partitions"));
    }
    if !d["ceph_osd"].is_null() {
        uses.push("ceph OSD".to_owned());
    }
    if let Some(pool) = d["lxd_pool"].as_str() {
        uses.push(format!("lxd pool {pool}"));
    }
    if !text("used_by").is_empty() {
        uses.push(format!("used by {}", text("used_by")));
    }
    let uses = if uses.is_empty() {
        "free".to_owned()
    } else {
        uses.join(", ")
    };
    format!("{} ({}): {uses}", text("id"), text("type"))
}

/// `enp5s0 (physical, up): 10.1.0.1/24`, with `managed` when LXD manages it.
fn interface_line(i: &Value) -> String {
    let text = |k: &str| i[k].as_str().unwrap_or_default().to_owned();
    let addresses: Vec<&str> = i["addresses"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let managed = if i["managed"] == true {
        ", managed"
    } else {
        ""
    };
    format!(
        "{} ({}, {}{managed}): {}",
        text("name"),
        text("type"),
        text("state"),
        addresses.join(" ")
    )
}

/// How the hosts find the initiator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact {
    /// `initiator_address` and `systems[].address`.
    Unicast,
    /// `initiator` and `lookup_subnet`.
    Multicast,
}

/// A preseed for lab hosts: MicroCeph on the SCSI disks, a local btrfs pool
/// on the spare NVMe disk, and OVN with an uplink on `enp6s0` and an
/// underlay on `enp7s0` (the simulators' default machine).
#[derive(Debug, Clone)]
pub struct Seed {
    /// Unicast or multicast.
    pub contact: Contact,
    /// The initiator (`node1` usually). Not in `systems` for add mode.
    pub initiator: String,
    /// The systems listed in the file.
    pub systems: Vec<String>,
    /// The session passphrase.
    pub passphrase: String,
    /// `session_timeout` in seconds (bounds every wait for peers).
    pub session_timeout: u64,
}

impl Seed {
    /// `node1` forms a cluster of `node1..nodeN`.
    pub fn bootstrap(contact: Contact, nodes: usize) -> Seed {
        Seed {
            contact,
            initiator: node(1),
            systems: (1..=nodes).map(node).collect(),
            passphrase: "lab cluster passphrase".into(),
            session_timeout: 30,
        }
    }

    /// `node1` (a member already) adds `systems`.
    pub fn add(contact: Contact, systems: &[&str]) -> Seed {
        Seed {
            systems: systems.iter().map(|s| (*s).to_owned()).collect(),
            ..Seed::bootstrap(contact, 0)
        }
    }

    /// The same file with another passphrase.
    pub fn with_passphrase(&self, passphrase: &str) -> Seed {
        Seed {
            passphrase: passphrase.into(),
            ..self.clone()
        }
    }

    /// The YAML text for `lab`.
    pub fn render(&self, lab: &Lab) -> String {
        let mut y = String::new();
        match self.contact {
            Contact::Unicast => {
                let address = lab.address(index_of(&self.initiator));
                y.push_str(&format!("initiator_address: {address}\n"));
            }
            Contact::Multicast => {
                y.push_str(&format!(
                    "initiator: {}\nlookup_subnet: {}\n",
                    self.initiator,
                    lab.subnet()
                ));
            }
        }
        y.push_str(&format!(
            "lookup_timeout: {}\nsession_passphrase: {}\nsession_timeout: {}\n\nsystems:\n",
            self.session_timeout.min(20),
            self.passphrase,
            self.session_timeout
        ));
        for name in &self.systems {
            let i = index_of(name);
            y.push_str(&format!("  - name: {name}\n"));
            if self.contact == Contact::Unicast {
                y.push_str(&format!("    address: {}\n", lab.address(i)));
            }
            y.push_str(&format!(
                "    ovn_uplink_interface: enp6s0\n    ovn_underlay_ip: 10.20.0.{i}\n"
            ));
        }
        y.push_str(
            "\novn:\n  ipv4_gateway: 192.0.2.1/24\n  ipv4_range: 192.0.2.100-192.0.2.254\n  dns_servers: 192.0.2.1\n\
             \nlxd:\n  local_pool_driver: btrfs\n\
             \nstorage:\n  local:\n    - find: type == nvme\n      wipe: true\n  ceph:\n    - find: type == scsi\n      wipe: true\n",
        );
        y
    }
}
