//! The real-services lab: Debian's LXD 5.0.2, OVN 23.03 and Ceph 16 in
//! network namespaces, next to the simulated MicroCeph and MicroOVN.
//!
//! What runs, and where:
//!
//! * **Machines** `node1`…`nodeN` are hosts of a [`Lab`] (a network
//!   namespace each, on one bridge, no default route). Each runs a real
//!   `lxd` daemon (its own `LXD_DIR`), has a loop device for its `local`
//!   pool and an unaddressed bridge `uplink0` as its OVN uplink.
//! * **Ceph**: a real single-host Ceph cluster (1 mon, 1 mgr, 3 OSDs on
//!   sparse files) in the lab host `ceph`. Its `ceph.conf` and admin keyring
//!   reach each machine at `/etc/ceph`, where LXD looks, through
//!   `/etc/netns/<namespace>/ceph` (which `ip netns exec` bind-mounts).
//! * **OVN**: the northbound database is a real clustered `ovsdb-server`
//!   listening with TLS on `<address>:6641` of the first three machines, as
//!   MicroOVN runs it on its `central` members; the southbound database,
//!   `ovn-northd` and one Open vSwitch (`ovsdb-server` + `ovs-vswitchd`,
//!   userspace datapath) run in a namespace of their own. The OVN client
//!   certificate reaches each machine at `/etc/ovn`, where LXD 5.0.2 looks
//!   when `network.ovn.ca_cert` and friends are unset. Every LXD reaches
//!   the Open vSwitch through `OVS_RUNDIR`.
//! * **Simulated MicroCeph and MicroOVN**: one `microcloud-sim --services
//!   microceph,microovn` process in an isolated "services" namespace whose
//!   `lo` carries every machine address, so the simulated members' own
//!   traffic stays there. Its unix sockets are files in the work directory,
//!   which every namespace sees. Its OSD disks are simulated; its pool
//!   listing and replication calls go to the real Ceph (`--ceph-cli`), as
//!   MicroCeph's do.
//!
//! Nothing here uses a system-wide path that another run could share:
//! daemons keep their state, sockets, logs and pid files in the work
//! directory, and `/etc/ceph`, `/etc/ovn` are per namespace. No namespace
//! has a default route, so nothing leaves the machine (LXD's start-up
//! fetch of its instance types fails locally).
//!
//! Dropping a [`RealLab`] stops every daemon it started by PID (LXD by
//! `lxd shutdown` first), detaches its loop devices and removes the
//! namespaces, the `/etc/netns` entries and the work directory, also when
//! the test failed. When the test failed, it first prints the tail of
//! every daemon log. Each resource is also written to `<work>/manifest`
//! as it is made, so that `tests/real/cleanup.sh` can remove what a killed
//! test process left behind (`tests/real/run.sh` runs it on exit).
//!
//! The work directory is `$MICROCLOUD_REAL_DIR/<tag>` (default: the
//! system's temporary directory).

use std::fmt;
use std::fs::File;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::lab::{Host, Lab, LabError};
use crate::testbed::binary;

/// The packages the tier needs (installed by `tests/real/setup.sh`).
pub const PACKAGES: &str = "lxd btrfs-progs nftables ovn-central ovn-host openvswitch-switch \
                            openssl ceph-mon ceph-mgr ceph-osd ceph-common";

/// Programs the harness runs, with the package that brings each.
const PROGRAMS: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("losetup", "mount"),
    ("openssl", "openssl"),
    ("lxd", "lxd"),
    ("mkfs.btrfs", "btrfs-progs"),
    ("nft", "nftables"),
    ("ovsdb-server", "openvswitch-switch"),
    ("ovs-vswitchd", "openvswitch-switch"),
    ("ovs-vsctl", "openvswitch-switch"),
    ("ovsdb-tool", "openvswitch-switch"),
    ("ovn-northd", "ovn-central"),
    ("ovn-nbctl", "ovn-central"),
    ("ceph-mon", "ceph-mon"),
    ("ceph-mgr", "ceph-mgr"),
    ("ceph-osd", "ceph-osd"),
    ("ceph", "ceph-common"),
    ("ceph-authtool", "ceph-common"),
    ("monmaptool", "ceph-common"),
];

/// Real OSDs: enough for replication 3, which MicroCeph sets for three
/// or more (simulated) OSDs.
const REAL_OSDS: usize = 3;

/// How the lab could not be built or run.
#[derive(Debug)]
pub struct HarnessError {
    /// What the harness was doing.
    pub step: String,
    /// What went wrong.
    pub detail: String,
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "real-services lab: {}: {}", self.step, self.detail)
    }
}

impl std::error::Error for HarnessError {}

impl From<LabError> for HarnessError {
    fn from(e: LabError) -> Self {
        HarnessError {
            step: "building the network namespaces".to_owned(),
            detail: e.to_string(),
        }
    }
}

fn err(step: impl Into<String>, detail: impl fmt::Display) -> HarnessError {
    HarnessError {
        step: step.into(),
        detail: detail.to_string(),
    }
}

/// Runs a command to completion; its output, or an error with its stderr.
fn run(step: &str, command: &mut Command) -> Result<Output, HarnessError> {
    let shown = format!("{command:?}");
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| err(step, format!("cannot run {shown}: {e}")))?;
    if !out.status.success() {
        return Err(err(
            step,
            format!(
                "{shown} failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim(),
                String::from_utf8_lossy(&out.stdout).trim()
            ),
        ));
    }
    Ok(out)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn write(step: &str, path: &Path, text: &str) -> Result<(), HarnessError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| err(step, format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(path, text)
        .map_err(|e| err(step, format!("cannot write {}: {e}", path.display())))
}

fn mkdir(step: &str, path: &Path) -> Result<(), HarnessError> {
    std::fs::create_dir_all(path)
        .map_err(|e| err(step, format!("cannot create {}: {e}", path.display())))
}

fn copy(step: &str, from: &Path, to: &Path) -> Result<(), HarnessError> {
    std::fs::copy(from, to).map(|_| ()).map_err(|e| {
        err(
            step,
            format!("cannot copy {} to {}: {e}", from.display(), to.display()),
        )
    })
}

fn on_path(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .any(|dir| dir.join(program).is_file())
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2))
            == Some("0")
    })
}

/// Checks that this machine can run the tier: root, and every program.
/// The error names the missing packages and how to install them.
pub fn preflight() -> Result<(), HarnessError> {
    let step = "checking this machine";
    if !is_root() {
        return Err(err(
            step,
            "the real-services tier needs root (network namespaces, loop devices, daemons)",
        ));
    }
    let mut missing: Vec<&str> = PROGRAMS
        .iter()
        .filter(|(program, _)| !on_path(program))
        .map(|(_, package)| *package)
        .collect();
    missing.dedup();
    if !missing.is_empty() {
        return Err(err(
            step,
            format!(
                "missing packages: {}; install them with `bash tests/real/setup.sh` \
                 (apt-get install {PACKAGES})",
                missing.join(", ")
            ),
        ));
    }
    Ok(())
}

/// Space the lab writes (Ceph's monitor and OSD databases, LXD, btrfs
/// metadata; the disk images themselves are sparse): at most 164 MiB
/// measured, with a wide margin.
const FREE_SPACE_NEEDED: u64 = 1 << 30;

/// Fails when `dir`'s file system has less than [`FREE_SPACE_NEEDED`]
/// free: a full disk makes the Ceph monitor stall, and its clients then
/// only say that authentication timed out.
fn check_free_space(dir: &Path) -> Result<(), HarnessError> {
    let step = "checking free disk space";
    let out = run(
        step,
        Command::new("df")
            .args(["--output=avail", "--block-size=1"])
            .arg(dir),
    )?;
    let text = stdout(&out);
    let free: u64 = text
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| err(step, format!("cannot read `df` output: {text}")))?;
    if free < FREE_SPACE_NEEDED {
        return Err(err(
            step,
            format!(
                "{} has {} MiB free; the lab needs at least {} MiB",
                dir.display(),
                free >> 20,
                FREE_SPACE_NEEDED >> 20
            ),
        ));
    }
    Ok(())
}

/// How a daemon is stopped.
#[derive(Debug)]
enum Stop {
    /// SIGTERM, then SIGKILL after the grace period.
    Term(Duration),
    /// `lxd shutdown` with this `LXD_DIR`, then as `Term`.
    Lxd(PathBuf),
}

/// A daemon the lab started (its own PID: `ip netns exec` execs it).
#[derive(Debug)]
struct Daemon {
    name: String,
    child: Child,
    log: PathBuf,
    stop: Stop,
}

fn spawn_daemon(
    name: &str,
    netns: &str,
    program: &str,
    args: &[&str],
    env: &[(&str, &Path)],
    log: PathBuf,
    stop: Stop,
) -> Result<Daemon, HarnessError> {
    let step = format!("starting {name}");
    let out = File::create(&log)
        .map_err(|e| err(&step, format!("cannot create {}: {e}", log.display())))?;
    let out2 = out
        .try_clone()
        .map_err(|e| err(&step, format!("cannot open {}: {e}", log.display())))?;
    let mut command = Command::new("ip");
    command
        .args(["netns", "exec", netns, program])
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(out2);
    for (k, v) in env {
        command.env(k, v);
    }
    let child = command
        .spawn()
        .map_err(|e| err(&step, format!("cannot run {program}: {e}")))?;
    Ok(Daemon {
        name: name.to_owned(),
        child,
        log,
        stop,
    })
}

impl Daemon {
    /// Fails when the daemon already exited (with the end of its log).
    fn check_alive(&mut self) -> Result<(), HarnessError> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Err(err(
                format!("running {}", self.name),
                format!(
                    "it exited ({status}); end of {}:\n{}",
                    self.log.display(),
                    tail(&self.log, 20)
                ),
            ));
        }
        Ok(())
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, by pid, if it still runs.
    fn signal_term(&mut self) {
        if self.running() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .output();
        }
    }

    /// SIGKILL if it still runs, and reap it.
    fn kill(&mut self) {
        if self.running() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Polls `check` every 100 ms until it holds or `timeout` passes.
fn wait_until(
    step: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<bool, HarnessError>,
) -> Result<(), HarnessError> {
    let end = Instant::now() + timeout;
    loop {
        if check()? {
            return Ok(());
        }
        if Instant::now() >= end {
            return Err(err(
                step,
                format!("not ready after {} s", timeout.as_secs()),
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One machine of the lab.
#[derive(Debug, Clone)]
pub struct Machine {
    /// Its name: the LXD server name and the simulated members' name.
    pub name: String,
    /// Its lab host (namespace and address).
    pub host: Host,
    /// LXD's `LXD_DIR`.
    pub lxd_dir: PathBuf,
    /// The loop device for its `local` pool.
    pub local_disk: String,
    /// The simulated MicroCeph OSD disk of this machine.
    pub ceph_disk: String,
    /// Its OVN uplink interface (an unaddressed bridge).
    pub uplink: String,
}

impl Machine {
    /// LXD's unix socket.
    pub fn lxd_socket(&self) -> PathBuf {
        self.lxd_dir.join("unix.socket")
    }
}

/// Measured durations of the lab's phases.
#[derive(Debug, Default, Clone)]
pub struct Timings {
    /// (phase, duration), in order.
    pub phases: Vec<(String, Duration)>,
}

impl fmt::Display for Timings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (phase, d) in &self.phases {
            writeln!(f, "  {:>7.2} s  {phase}", d.as_secs_f64())?;
        }
        Ok(())
    }
}

/// The running lab. See the module documentation.
#[derive(Debug)]
pub struct RealLab {
    /// Daemons in start order (stopped in reverse).
    daemons: Vec<Daemon>,
    /// Loop devices attached for the machines.
    loops: Vec<String>,
    /// `/etc/netns/<namespace>` directories made for the machines.
    etc_netns: Vec<PathBuf>,
    /// Namespaces outside the lab (Open vSwitch).
    side_netns: Vec<String>,
    /// The machines, `node1`…`nodeN`.
    pub machines: Vec<Machine>,
    /// The work directory (state, sockets, logs).
    pub work: PathBuf,
    /// The lab's services namespace (simulated MicroCeph and MicroOVN).
    services_netns: String,
    /// How long each phase of the start took.
    pub timings: Timings,
    /// The `microcloud` binary.
    microcloud: PathBuf,
    /// The `microcloud-sim` binary.
    microcloud_sim: PathBuf,
    /// The Ceph host's address (the monitor).
    ceph_address: Ipv4Addr,
    /// The Ceph host's namespace.
    ceph_netns: String,
    /// The OVN northbound database's unix sockets (`--db` form).
    ovn_nb: String,
    /// The lab's namespaces; dropped after everything above.
    lab: Lab,
}

impl RealLab {
    /// Builds the lab with `machines` machines (`node1`…) and starts every
    /// daemon. `central` machines (the first ones) carry the OVN
    /// northbound database, as MicroOVN's `central` members would.
    pub fn start(machines: usize, central: usize) -> Result<RealLab, HarnessError> {
        preflight()?;
        let microcloud = binary("microcloud");
        let microcloud_sim = binary("microcloud-sim");
        let t = Instant::now();
        let names: Vec<String> = (1..=machines).map(|i| format!("node{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut lab = Lab::create(&refs)?;
        let ceph = lab.add_host("ceph")?;
        let tag = ceph.netns.trim_end_matches("-ceph").to_owned();
        let base =
            std::env::var_os("MICROCLOUD_REAL_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
        let work = base.join(format!("microcloud-real-{tag}"));
        let mut me = RealLab {
            daemons: Vec::new(),
            loops: Vec::new(),
            etc_netns: Vec::new(),
            side_netns: Vec::new(),
            machines: Vec::new(),
            work: work.clone(),
            services_netns: String::new(),
            timings: Timings::default(),
            microcloud,
            microcloud_sim,
            ceph_address: ceph.address,
            ceph_netns: ceph.netns.clone(),
            ovn_nb: String::new(),
            lab,
        };
        // From here on, `me` cleans up whatever was made, on any error.
        let _ = std::fs::remove_dir_all(&work);
        mkdir("preparing the work directory", &work)?;
        check_free_space(&work)?;
        me.record("work", &work.display().to_string());
        me.record("netns", &format!("{tag}-sw"));
        for h in me.lab.hosts.clone() {
            me.record("netns", &h.netns);
        }
        for (name, host) in names.iter().zip(me.lab.hosts.clone()) {
            me.machines.push(Machine {
                name: name.clone(),
                lxd_dir: work.join("lxd").join(name),
                local_disk: String::new(),
                ceph_disk: format!("/dev/disk/by-id/scsi-microcloud-sim-osd-{name}"),
                uplink: "uplink0".to_owned(),
                host,
            });
        }
        match me.bring_up(&tag, machines, central, t) {
            Ok(()) => Ok(me),
            Err(e) => {
                me.print_logs();
                Err(e)
            }
        }
    }

    /// Starts everything, in order (see [`RealLab::start`]).
    fn bring_up(
        &mut self,
        tag: &str,
        machines: usize,
        central: usize,
        t: Instant,
    ) -> Result<(), HarnessError> {
        let me = self;
        me.services_netns = me.lab.services_namespace(machines)?;
        me.record("netns", &me.services_netns.clone());
        me.side_netns(&format!("{tag}-ovs"))?;
        me.phase("namespaces", t);

        let t = Instant::now();
        me.pki()?;
        me.machine_files()?;
        me.phase("certificates, loop devices, uplinks", t);

        let t = Instant::now();
        me.start_ovs(&format!("{tag}-ovs"))?;
        me.start_ovn(&format!("{tag}-ovs"), central.min(machines))?;
        me.phase("Open vSwitch and OVN", t);

        let t = Instant::now();
        me.start_ceph()?;
        me.phase("Ceph (mon, mgr, 3 OSDs)", t);

        let t = Instant::now();
        me.start_lxd()?;
        me.phase("LXD daemons ready", t);

        let t = Instant::now();
        me.start_sim()?;
        me.phase("simulated MicroCeph and MicroOVN", t);
        Ok(())
    }

    fn phase(&mut self, name: &str, since: Instant) {
        self.timings.phases.push((name.to_owned(), since.elapsed()));
    }

    /// Appends `kind value` to the manifest (see the module documentation).
    fn record(&self, kind: &str, value: &str) {
        use std::io::Write as _;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.work.join("manifest"))
        {
            let _ = writeln!(f, "{kind} {value}");
        }
    }

    fn add_daemon(&mut self, d: Daemon) {
        match &d.stop {
            Stop::Lxd(dir) => self.record("lxd", &format!("{} {}", d.child.id(), dir.display())),
            Stop::Term(_) => self.record("pid", &d.child.id().to_string()),
        }
        self.daemons.push(d);
    }

    fn side_netns(&mut self, name: &str) -> Result<(), HarnessError> {
        let step = "building the side namespaces";
        run(step, Command::new("ip").args(["netns", "add", name]))?;
        self.side_netns.push(name.to_owned());
        self.record("netns", name);
        run(
            step,
            Command::new("ip").args(["-n", name, "link", "set", "lo", "up"]),
        )?;
        Ok(())
    }

    /// A CA and one certificate for every OVN database endpoint and client
    /// (OVN does not check host names, only the CA).
    fn pki(&mut self) -> Result<(), HarnessError> {
        let step = "making the OVN certificates";
        let pki = self.work.join("pki");
        mkdir(step, &pki)?;
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
        run(
            step,
            Command::new("openssl")
                .current_dir(&pki)
                .args(["req", "-x509", "-nodes", "-days", "2"])
                .args(ec)
                .args(["-keyout", "ca.key", "-out", "ca.crt"])
                .args(["-subj", "/CN=microcloud real-services OVN CA"]),
        )?;
        run(
            step,
            Command::new("openssl")
                .current_dir(&pki)
                .args(["req", "-nodes"])
                .args(ec)
                .args([
                    "-keyout", "host.key", "-out", "host.csr", "-subj", "/CN=host",
                ]),
        )?;
        run(
            step,
            Command::new("openssl").current_dir(&pki).args([
                "x509",
                "-req",
                "-in",
                "host.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                "host.crt",
            ]),
        )?;
        Ok(())
    }

    /// Per machine: `/etc/netns/<ns>/ovn` (the OVN client certificate),
    /// the loop device of its `local` pool, its uplink bridge.
    fn machine_files(&mut self) -> Result<(), HarnessError> {
        let step = "preparing the machines";
        let pki = self.work.join("pki");
        let disks = self.work.join("disks");
        mkdir(step, &disks)?;
        for i in 0..self.machines.len() {
            let m = self.machines[i].clone();
            let etc = PathBuf::from("/etc/netns").join(&m.host.netns);
            self.etc_netns.push(etc.clone());
            self.record("etc", &etc.display().to_string());
            let ovn = etc.join("ovn");
            mkdir(step, &ovn)?;
            mkdir(step, &etc.join("ceph"))?;
            copy(step, &pki.join("ca.crt"), &ovn.join("ovn-central.crt"))?;
            copy(step, &pki.join("host.crt"), &ovn.join("cert_host"))?;
            copy(step, &pki.join("host.key"), &ovn.join("key_host"))?;

            let image = disks.join(format!("{}.img", m.name));
            let f = File::create(&image)
                .map_err(|e| err(step, format!("cannot create {}: {e}", image.display())))?;
            f.set_len(2 << 30)
                .map_err(|e| err(step, format!("cannot size {}: {e}", image.display())))?;
            let out = run(
                step,
                Command::new("losetup")
                    .args(["--find", "--show"])
                    .arg(&image),
            )?;
            let device = stdout(&out);
            self.loops.push(device.clone());
            self.record("loop", &device);
            self.machines[i].local_disk = device;

            let ns = &m.host.netns;
            run(
                step,
                Command::new("ip").args(["-n", ns, "link", "add", &m.uplink, "type", "bridge"]),
            )?;
            run(
                step,
                Command::new("ip").args(["-n", ns, "link", "set", &m.uplink, "up"]),
            )?;
        }
        Ok(())
    }

    fn ovs_rundir(&self) -> PathBuf {
        self.work.join("ovs")
    }

    /// One Open vSwitch for every LXD (reached through `OVS_RUNDIR`),
    /// userspace datapath: the kernel has no openvswitch module.
    fn start_ovs(&mut self, netns: &str) -> Result<(), HarnessError> {
        let step = "starting Open vSwitch";
        let dir = self.ovs_rundir();
        mkdir(step, &dir)?;
        let db = dir.join("conf.db");
        run(
            step,
            Command::new("ovsdb-tool")
                .arg("create")
                .arg(&db)
                .arg("/usr/share/openvswitch/vswitch.ovsschema"),
        )?;
        let p = |f: &str| dir.join(f).display().to_string();
        let remote = format!("--remote=punix:{}", p("db.sock"));
        let unixctl = format!("--unixctl={}", p("ovsdb-server.ctl"));
        let pidfile = format!("--pidfile={}", p("ovsdb-server.pid"));
        let args = [
            db.to_str().unwrap_or_default(),
            &remote,
            &unixctl,
            &pidfile,
            "--no-chdir",
        ];
        let d = spawn_daemon(
            "the Open vSwitch database",
            netns,
            "ovsdb-server",
            &args,
            &[],
            dir.join("ovsdb-server.log"),
            Stop::Term(Duration::from_secs(5)),
        )?;
        self.add_daemon(d);
        let sock = dir.join("db.sock");
        wait_until(step, Duration::from_secs(10), || Ok(sock.exists()))?;
        let vsctl = |args: &[&str]| {
            let mut c = Command::new("ovs-vsctl");
            c.env("OVS_RUNDIR", &dir).args(args);
            c
        };
        run(step, &mut vsctl(&["--no-wait", "init"]))?;
        let db_arg = format!("unix:{}", p("db.sock"));
        let unixctl = format!("--unixctl={}", p("ovs-vswitchd.ctl"));
        let pidfile = format!("--pidfile={}", p("ovs-vswitchd.pid"));
        let d = spawn_daemon(
            "Open vSwitch",
            netns,
            "ovs-vswitchd",
            &[&db_arg, &unixctl, &pidfile, "--no-chdir"],
            &[("OVS_RUNDIR", &dir)],
            dir.join("ovs-vswitchd.log"),
            Stop::Term(Duration::from_secs(5)),
        )?;
        self.add_daemon(d);
        let sb = format!(
            "external_ids:ovn-remote=unix:{}",
            self.work.join("ovn/sb.sock").display()
        );
        run(
            step,
            &mut vsctl(&[
                "--timeout=20",
                "set",
                "open_vswitch",
                ".",
                "external_ids:system-id=microcloud-real-chassis",
                &sb,
                "external_ids:ovn-encap-type=geneve",
                "external_ids:ovn-encap-ip=127.0.0.1",
                "external_ids:ovn-bridge-datapath-type=netdev",
            ]),
        )?;
        Ok(())
    }

    /// The northbound database as a RAFT cluster on the first `central`
    /// machines (TLS on `<address>:6641`, cluster traffic on 6643), the
    /// southbound database and `ovn-northd` in `netns`.
    fn start_ovn(&mut self, netns: &str, central: usize) -> Result<(), HarnessError> {
        let step = "starting OVN";
        let dir = self.work.join("ovn");
        mkdir(step, &dir)?;
        let pki = self.work.join("pki");
        let ssl = [
            format!("--private-key={}", pki.join("host.key").display()),
            format!("--certificate={}", pki.join("host.crt").display()),
            format!("--ca-cert={}", pki.join("ca.crt").display()),
        ];
        let first = self.machines[0].host.address;
        let mut nb_sockets = Vec::new();
        for i in 0..central {
            let m = self.machines[i].clone();
            let db = dir.join(format!("nb-{}.db", m.name));
            let local = format!("tcp:{}:6643", m.host.address);
            let mut tool = Command::new("ovsdb-tool");
            if i == 0 {
                tool.arg("create-cluster")
                    .arg(&db)
                    .arg("/usr/share/ovn/ovn-nb.ovsschema")
                    .arg(&local);
            } else {
                tool.arg("join-cluster")
                    .arg(&db)
                    .arg("OVN_Northbound")
                    .arg(&local)
                    .arg(format!("tcp:{first}:6643"));
            }
            run(step, &mut tool)?;
            let sock = dir.join(format!("nb-{}.sock", m.name));
            let args = [
                db.display().to_string(),
                format!("--remote=punix:{}", sock.display()),
                format!("--remote=pssl:6641:{}", m.host.address),
                ssl[0].clone(),
                ssl[1].clone(),
                ssl[2].clone(),
                format!(
                    "--unixctl={}",
                    dir.join(format!("nb-{}.ctl", m.name)).display()
                ),
                format!(
                    "--pidfile={}",
                    dir.join(format!("nb-{}.pid", m.name)).display()
                ),
                "--no-chdir".to_owned(),
            ];
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let d = spawn_daemon(
                &format!("the OVN northbound database on {}", m.name),
                &m.host.netns,
                "ovsdb-server",
                &args,
                &[],
                dir.join(format!("nb-{}.log", m.name)),
                Stop::Term(Duration::from_secs(5)),
            )?;
            self.add_daemon(d);
            nb_sockets.push(format!("unix:{}", sock.display()));
        }
        self.ovn_nb = nb_sockets.join(",");
        let sb = dir.join("sb.db");
        run(
            step,
            Command::new("ovsdb-tool")
                .arg("create")
                .arg(&sb)
                .arg("/usr/share/ovn/ovn-sb.ovsschema"),
        )?;
        let args = [
            sb.display().to_string(),
            format!("--remote=punix:{}", dir.join("sb.sock").display()),
            format!("--unixctl={}", dir.join("sb.ctl").display()),
            format!("--pidfile={}", dir.join("sb.pid").display()),
            "--no-chdir".to_owned(),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let d = spawn_daemon(
            "the OVN southbound database",
            netns,
            "ovsdb-server",
            &args,
            &[],
            dir.join("sb.log"),
            Stop::Term(Duration::from_secs(5)),
        )?;
        self.add_daemon(d);
        let args = [
            format!("--ovnnb-db={}", nb_sockets.join(",")),
            format!("--ovnsb-db=unix:{}", dir.join("sb.sock").display()),
            format!("--unixctl={}", dir.join("northd.ctl").display()),
            format!("--pidfile={}", dir.join("northd.pid").display()),
            "--no-chdir".to_owned(),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let d = spawn_daemon(
            "ovn-northd",
            netns,
            "ovn-northd",
            &args,
            &[],
            dir.join("northd.log"),
            Stop::Term(Duration::from_secs(5)),
        )?;
        self.add_daemon(d);
        // The northbound cluster answers once it has a leader.
        let client = [
            format!("--db={}", nb_sockets.join(",")),
            "--timeout=5".to_owned(),
            "show".to_owned(),
        ];
        wait_until(step, Duration::from_secs(20), || {
            for d in &mut self.daemons {
                d.check_alive()?;
            }
            Ok(Command::new("ovn-nbctl")
                .args(&client)
                .output()
                .is_ok_and(|o| o.status.success()))
        })?;
        Ok(())
    }

    fn ceph_conf(&self) -> PathBuf {
        self.work.join("ceph/ceph.conf")
    }

    /// A real Ceph cluster in the lab host `ceph`: one monitor, one
    /// manager and [`REAL_OSDS`] bluestore OSDs on sparse files, replicas
    /// placed per OSD. Every path is in the work directory; the client
    /// configuration and admin keyring go to each machine's `/etc/ceph`.
    /// Pool sizes are left to MicroCeph's replication calls: settings in
    /// `ceph.conf` would override what they store in the monitors.
    fn start_ceph(&mut self) -> Result<(), HarnessError> {
        let step = "starting Ceph";
        let netns = self.ceph_netns.clone();
        let netns = netns.as_str();
        let dir = self.work.join("ceph");
        for sub in ["mon", "mgr", "osd", "run", "log"] {
            mkdir(step, &dir.join(sub))?;
        }
        let fsid = std::fs::read_to_string("/proc/sys/kernel/random/uuid")
            .map_err(|e| err(step, e))?
            .trim()
            .to_owned();
        let d = dir.display();
        let mon = self.ceph_address;
        let conf = format!(
            "[global]
fsid = {fsid}
mon_initial_members = m1
mon_host = {mon}
public_network = {subnet}
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
osd_pool_default_pg_num = 8
osd_crush_chooseleaf_type = 0
mon_warn_on_pool_no_redundancy = false
mon_allow_pool_delete = true
mon_data_avail_warn = 1
mon_data_avail_crit = 0
osd_memory_target = 939524096
run_dir = {d}/run
log_file = {d}/log/$name.log
mon_data = {d}/mon/$name
mgr_data = {d}/mgr/$name
osd_data = {d}/osd/$name
keyring = {d}/$name.keyring
[client.admin]
keyring = {d}/ceph.client.admin.keyring
[osd]
osd_objectstore = bluestore
bluestore_block_create = true
bluestore_block_size = 4294967296
",
            subnet = self.lab.subnet(),
        );
        let conf_path = self.ceph_conf();
        write(step, &conf_path, &conf)?;
        let c = |program: &str| {
            let mut cmd = Command::new("ip");
            cmd.args(["netns", "exec", netns, program, "--conf"])
                .arg(&conf_path);
            if program == "ceph" {
                cmd.args(["--connect-timeout", "30"]);
            }
            cmd
        };
        // Every key is made here and given to the monitor at mkfs time, so
        // that only the OSD registrations need the running monitor.
        let admin = dir.join("ceph.client.admin.keyring");
        let mon_keyring = dir.join("mon.keyring");
        let osd_ids: Vec<String> = (0..REAL_OSDS).map(|i| i.to_string()).collect();
        let mut keys: Vec<(String, PathBuf, Vec<&str>)> = vec![
            (
                "client.admin".to_owned(),
                admin.clone(),
                vec![
                    "mon", "allow *", "osd", "allow *", "mds", "allow *", "mgr", "allow *",
                ],
            ),
            (
                "mgr.x".to_owned(),
                dir.join("mgr.x.keyring"),
                vec![
                    "mon",
                    "allow profile mgr",
                    "osd",
                    "allow *",
                    "mds",
                    "allow *",
                ],
            ),
        ];
        for id in &osd_ids {
            keys.push((
                format!("osd.{id}"),
                dir.join(format!("osd.{id}.keyring")),
                vec![
                    "osd",
                    "allow *",
                    "mon",
                    "allow profile osd",
                    "mgr",
                    "allow profile osd",
                ],
            ));
        }
        run(
            step,
            Command::new("ceph-authtool")
                .arg("--create-keyring")
                .arg(&mon_keyring)
                .args(["--gen-key", "-n", "mon.", "--cap", "mon", "allow *"]),
        )?;
        for (name, path, caps) in &keys {
            let mut tool = Command::new("ceph-authtool");
            tool.arg("--create-keyring")
                .arg(path)
                .args(["--gen-key", "-n", name]);
            for cap in caps.chunks(2) {
                tool.arg("--cap").args(cap);
            }
            run(step, &mut tool)?;
            run(
                step,
                Command::new("ceph-authtool")
                    .arg(&mon_keyring)
                    .arg("--import-keyring")
                    .arg(path),
            )?;
        }
        let monmap = dir.join("monmap");
        run(
            step,
            Command::new("monmaptool")
                .args(["--create", "--add", "m1", &mon.to_string(), "--fsid", &fsid])
                .arg(&monmap),
        )?;
        // The monitor must be made where its address is (public_network).
        run(
            step,
            c("ceph-mon")
                .args(["--mkfs", "-i", "m1", "--monmap"])
                .arg(&monmap)
                .arg("--keyring")
                .arg(&mon_keyring),
        )?;
        let conf_arg = conf_path.display().to_string();
        let d = spawn_daemon(
            "the Ceph monitor",
            netns,
            "ceph-mon",
            &["--conf", &conf_arg, "-i", "m1", "-f"],
            &[],
            dir.join("log/mon.out"),
            Stop::Term(Duration::from_secs(10)),
        )?;
        self.add_daemon(d);
        mkdir(step, &dir.join("mgr/mgr.x"))?;
        let d = spawn_daemon(
            "the Ceph manager",
            netns,
            "ceph-mgr",
            &["--conf", &conf_arg, "-i", "x", "-f"],
            &[],
            dir.join("log/mgr.out"),
            Stop::Term(Duration::from_secs(10)),
        )?;
        self.add_daemon(d);
        // OSDs: registered and formatted in parallel (bluestore on a file).
        let made: Vec<Result<(), HarnessError>> = std::thread::scope(|s| {
            let handles: Vec<_> = osd_ids
                .iter()
                .map(|id| {
                    let (mut register, mut mkfs) = (c("ceph"), c("ceph-osd"));
                    let data = dir.join(format!("osd/osd.{id}"));
                    s.spawn(move || {
                        let uuid = std::fs::read_to_string("/proc/sys/kernel/random/uuid")
                            .map_err(|e| err(step, e))?;
                        let uuid = uuid.trim();
                        run(step, register.args(["osd", "new", uuid, id]))?;
                        mkdir(step, &data)?;
                        run(
                            "formatting a Ceph OSD",
                            mkfs.args(["-i", id, "--mkfs", "--osd-uuid", uuid]),
                        )?;
                        Ok(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(err(step, "an OSD thread panicked")))
                })
                .collect()
        });
        for r in made {
            r?;
        }
        for id in &osd_ids {
            let d = spawn_daemon(
                &format!("Ceph OSD {id}"),
                netns,
                "ceph-osd",
                &["--conf", &conf_arg, "-i", id, "-f"],
                &[],
                dir.join(format!("log/osd.{id}.out")),
                // An OSD can take long to exit on SIGTERM; it holds no state
                // worth a clean stop here.
                Stop::Term(Duration::from_secs(3)),
            )?;
            self.add_daemon(d);
        }
        let want = format!("\"num_up_osds\":{REAL_OSDS}");
        wait_until(step, Duration::from_secs(60), || {
            for d in &mut self.daemons {
                d.check_alive()?;
            }
            let out = c("ceph").args(["osd", "stat", "--format", "json"]).output();
            Ok(out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&want)))
        })?;
        // What LXD reads on each machine: /etc/ceph/ceph.conf and the admin keyring.
        let client_conf = format!("[global]\nfsid = {fsid}\nmon_host = {mon}\n");
        for m in &self.machines {
            let etc = PathBuf::from("/etc/netns").join(&m.host.netns).join("ceph");
            write(step, &etc.join("ceph.conf"), &client_conf)?;
            copy(step, &admin, &etc.join("ceph.client.admin.keyring"))?;
        }
        Ok(())
    }

    /// One real LXD per machine, inside its namespace.
    fn start_lxd(&mut self) -> Result<(), HarnessError> {
        let step = "starting LXD";
        let logs = self.work.join("logs");
        mkdir(step, &logs)?;
        let ovs = self.ovs_rundir();
        for m in self.machines.clone() {
            mkdir(step, &m.lxd_dir)?;
            let logfile = format!(
                "--logfile={}",
                logs.join(format!("lxd-{}.log", m.name)).display()
            );
            let d = spawn_daemon(
                &format!("LXD on {}", m.name),
                &m.host.netns,
                "lxd",
                &["--group", "lxd", &logfile],
                &[("LXD_DIR", &m.lxd_dir), ("OVS_RUNDIR", &ovs)],
                logs.join(format!("lxd-{}.out", m.name)),
                Stop::Lxd(m.lxd_dir.clone()),
            )?;
            self.add_daemon(d);
        }
        for m in self.machines.clone() {
            let r = run(
                step,
                Command::new("lxd")
                    .args(["waitready", "--timeout=60"])
                    .env("LXD_DIR", &m.lxd_dir),
            );
            if let Err(e) = r {
                for d in &mut self.daemons {
                    d.check_alive()?;
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// The simulated MicroCeph and MicroOVN members, one per machine, in the
    /// services namespace (whose `lo` carries every machine address).
    fn start_sim(&mut self) -> Result<(), HarnessError> {
        let ceph_netns = self.ceph_netns.clone();
        let step = "starting the simulated MicroCeph and MicroOVN";
        let ns = self.services_netns.clone();
        // One OSD disk per machine; the preseed names it by path.
        let inventory = self.work.join("sim-inventory.json");
        write(
            step,
            &inventory,
            r#"{"disks": [{"id": "sdb", "device": "8:16", "model": "Simulated OSD disk", "type": "scsi",
  "size": 107374182400, "device_id": "scsi-microcloud-sim-osd-{name}", "partitions": []}],
 "interfaces": []}"#,
        )?;
        let state = self.work.join("sim");
        let sim = self.microcloud_sim.clone();
        let ceph_cli = format!(
            "ip netns exec {ceph_netns} ceph --conf {}",
            self.ceph_conf().display()
        );
        let args = [
            "--nodes".to_owned(),
            self.machines.len().to_string(),
            "--base-ip".to_owned(),
            self.machines[0].host.address.to_string(),
            "--services".to_owned(),
            "microceph,microovn".to_owned(),
            "--state-dir".to_owned(),
            state.display().to_string(),
            "--inventory".to_owned(),
            inventory.display().to_string(),
            "--ceph-cli".to_owned(),
            ceph_cli,
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let d = spawn_daemon(
            "microcloud-sim",
            &ns,
            sim.to_str().unwrap_or_default(),
            &args,
            &[],
            self.work.join("logs/sim.log"),
            Stop::Term(Duration::from_secs(5)),
        )?;
        self.add_daemon(d);
        let sockets: Vec<PathBuf> = self
            .machines
            .iter()
            .flat_map(|m| ["microceph", "microovn"].map(|s| self.sim_socket(&m.name, s)))
            .collect();
        wait_until(step, Duration::from_secs(20), || {
            for d in &mut self.daemons {
                d.check_alive()?;
            }
            Ok(sockets.iter().all(|s| s.exists()))
        })
    }

    /// The simulated `service`'s control socket of `machine`.
    fn sim_socket(&self, machine: &str, service: &str) -> PathBuf {
        self.work
            .join("sim")
            .join(machine)
            .join(service)
            .join("control.socket")
    }

    /// The machine called `name`.
    ///
    /// # Panics
    /// When there is none (test helper).
    pub fn machine(&self, name: &str) -> &Machine {
        self.machines
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("no machine {name} in the lab"))
    }

    /// The lab subnet (CIDR).
    pub fn subnet(&self) -> String {
        self.lab.subnet()
    }

    /// A `microcloud preseed FILE` command for `machine`, run inside its
    /// namespace against its real LXD and its simulated MicroCeph and
    /// MicroOVN, with its journal in the work directory.
    pub fn microcloud(&self, machine: &str, file: &Path) -> Command {
        let m = self.machine(machine);
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &m.host.netns])
            .arg(&self.microcloud)
            .arg("preseed")
            .arg(file)
            .args(["--name", &m.name, "--lxd-socket"])
            .arg(m.lxd_socket())
            .arg("--microceph-socket")
            .arg(self.sim_socket(&m.name, "microceph"))
            .arg("--microovn-socket")
            .arg(self.sim_socket(&m.name, "microovn"))
            .arg("--journal")
            .arg(self.work.join(format!("journal-{}.json", m.name)))
            // The machines share this host's file system: a run lock each.
            .env(
                "MICROCLOUD_LOCK_FILE",
                self.work.join(format!("run-{}.lock", m.name)),
            )
            .env("RUST_BACKTRACE", "0");
        c
    }

    /// Runs `ovn-nbctl ARGS` against the real OVN northbound database.
    pub fn ovn_nbctl(&self, args: &[&str]) -> Result<String, HarnessError> {
        let out = run(
            "asking the OVN northbound database",
            Command::new("ovn-nbctl")
                .arg(format!("--db={}", self.ovn_nb))
                .arg("--timeout=10")
                .args(args),
        )?;
        Ok(stdout(&out))
    }

    /// Runs `ceph ARGS` against the real Ceph cluster (JSON output).
    pub fn ceph(&self, args: &[&str]) -> Result<String, HarnessError> {
        let ns = &self.ceph_netns;
        let out = run(
            "asking Ceph",
            Command::new("ip")
                .args(["netns", "exec", ns, "ceph", "--conf"])
                .arg(self.ceph_conf())
                .args(args)
                .args(["--format", "json"]),
        )?;
        Ok(stdout(&out))
    }

    fn print_logs(&self) {
        eprintln!("---- real-services lab: end of the daemon logs ----");
        for d in &self.daemons {
            eprintln!("== {} ({})", d.name, d.log.display());
            eprintln!("{}", tail(&d.log, 15));
        }
        for m in &self.machines {
            let log = self.work.join("logs").join(format!("lxd-{}.log", m.name));
            eprintln!("== LXD log of {} ({})", m.name, log.display());
            eprintln!("{}", tail(&log, 25));
        }
        let ceph_logs = self.work.join("ceph/log");
        let mut logs: Vec<PathBuf> = std::fs::read_dir(&ceph_logs)
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        logs.retain(|p| p.extension().is_some_and(|x| x == "log"));
        logs.sort();
        for log in logs {
            eprintln!("== {}", log.display());
            eprintln!("{}", tail(&log, 15));
        }
    }

    /// Stops LXD first (`lxd shutdown`, all members at once: each unmounts
    /// its pools), then every other daemon: SIGTERM to all, SIGKILL to
    /// those still running after the longest grace period.
    fn stop_daemons(&mut self) {
        let shutdowns: Vec<Child> = self
            .daemons
            .iter_mut()
            .filter_map(|d| match &d.stop {
                Stop::Lxd(dir) if matches!(d.child.try_wait(), Ok(None)) => Command::new("lxd")
                    .args(["shutdown", "--timeout=60"])
                    .env("LXD_DIR", dir)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .ok(),
                _ => None,
            })
            .collect();
        for mut s in shutdowns {
            let _ = s.wait();
        }
        let grace = self
            .daemons
            .iter()
            .map(|d| match d.stop {
                Stop::Term(g) => g,
                Stop::Lxd(_) => Duration::from_secs(10),
            })
            .max()
            .unwrap_or_default();
        for d in &mut self.daemons {
            d.signal_term();
        }
        let end = Instant::now() + grace;
        while Instant::now() < end && self.daemons.iter_mut().any(Daemon::running) {
            std::thread::sleep(Duration::from_millis(50));
        }
        for mut d in self.daemons.drain(..) {
            d.kill();
        }
    }
}

impl Drop for RealLab {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.print_logs();
        }
        let t = Instant::now();
        self.stop_daemons();
        eprintln!(
            "real-services lab: daemons stopped in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        for device in self.loops.drain(..) {
            let _ = Command::new("losetup").args(["-d", &device]).output();
        }
        for dir in self.etc_netns.drain(..) {
            let _ = std::fs::remove_dir_all(dir);
        }
        for ns in self.side_netns.drain(..) {
            let _ = Command::new("ip").args(["netns", "del", &ns]).output();
        }
        if std::env::var_os("MICROCLOUD_REAL_KEEP").is_some() {
            eprintln!("real-services lab: kept {}", self.work.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.work);
        }
        // `self.lab` deletes the lab's namespaces when it is dropped next.
    }
}
