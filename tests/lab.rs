//! A lab of test hosts made of Linux network namespaces.
//!
//! Each host is a namespace with `lo` up and one veth interface (`eth0`)
//! whose other end is a port of a bridge that lives in a namespace of its own
//! (the "switch"), so the machine's own network is never touched. No
//! namespace has a default route: nothing a test starts can reach outside.
//! Multicast works across the bridge. Everything is removed on drop.
//!
//! Needs root (CI has it). Tests that need a lab call [`Lab::create`] and
//! fail with a clear message when namespaces cannot be made, unless
//! `MICROCLOUD_SKIP_NETNS=1` is set, in which case they print that they were
//! skipped: a lab test never passes silently without running.

use std::fmt;
use std::net::Ipv4Addr;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// Why a lab could not be made.
#[derive(Debug)]
pub struct LabError {
    /// The command that failed.
    pub command: String,
    /// What it printed.
    pub stderr: String,
}

impl fmt::Display for LabError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot build the network-namespace lab: `{}` failed: {} (this needs root and `ip` from iproute2; \
             set MICROCLOUD_SKIP_NETNS=1 to skip lab tests on machines without them)",
            self.command,
            self.stderr.trim()
        )
    }
}

impl std::error::Error for LabError {}

/// One test host.
#[derive(Debug, Clone)]
pub struct Host {
    /// Host name (also used in the namespace name).
    pub name: String,
    /// The namespace.
    pub netns: String,
    /// Its address on the lab network.
    pub address: Ipv4Addr,
}

impl Host {
    /// A command that runs `program` inside this host's namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.netns, program]);
        c
    }
}

/// A set of hosts on one bridge.
#[derive(Debug)]
pub struct Lab {
    tag: String,
    switch: String,
    /// The hosts, in creation order.
    pub hosts: Vec<Host>,
    /// The lab subnet is `10.<subnet>.0.0/24`.
    subnet: u8,
    /// The services namespace, once made.
    services: Option<String>,
}

static LABS: AtomicU32 = AtomicU32::new(0);

fn run(args: &[&str]) -> Result<Output, LabError> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| LabError {
            command: args.join(" "),
            stderr: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(LabError {
            command: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(out)
}

/// Whether lab tests should be skipped on this machine (by explicit request).
pub fn skip_requested() -> bool {
    std::env::var_os("MICROCLOUD_SKIP_NETNS").is_some_and(|v| v == "1")
}

/// Says that a lab test was skipped. Written straight to standard error,
/// past the test harness's output capture, so that it shows in the output
/// of every test run, not only of failed tests.
pub fn report_skip() {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: MICROCLOUD_SKIP_NETNS=1 is set, so this network-namespace test did not run"
    );
}

impl Lab {
    /// Builds a lab with `names.len()` hosts named as given, with addresses
    /// `10.<subnet>.0.1`, `.2`, ... on a /24.
    pub fn create(names: &[&str]) -> Result<Lab, LabError> {
        let serial = LABS.fetch_add(1, Ordering::Relaxed);
        let tag = format!("mc{}x{serial}", std::process::id() % 100_000);
        // Distinct subnets per lab in one process; namespaces isolate anyway.
        let subnet = u8::try_from(100 + serial % 100).unwrap_or(100);
        let switch = format!("{tag}-sw");
        let mut lab = Lab {
            tag,
            switch: switch.clone(),
            hosts: Vec::new(),
            subnet,
            services: None,
        };
        run(&["ip", "netns", "add", &switch])?;
        run(&["ip", "-n", &switch, "link", "add", "br0", "type", "bridge"])?;
        run(&[
            "ip",
            "-n",
            &switch,
            "link",
            "set",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ])?;
        run(&["ip", "-n", &switch, "link", "set", "br0", "up"])?;
        for name in names {
            lab.add_host(name)?;
        }
        Ok(lab)
    }

    /// Adds a host (for growing a cluster).
    pub fn add_host(&mut self, name: &str) -> Result<Host, LabError> {
        let index = self.hosts.len() + 1;
        let netns = format!("{}-{name}", self.tag);
        let address = self.address(index);
        let (outer, inner) = (
            format!("{}p{index}", self.tag),
            format!("{}h{index}", self.tag),
        );
        run(&["ip", "netns", "add", &netns])?;
        run(&["ip", "-n", &netns, "link", "set", "lo", "up"])?;
        run(&[
            "ip",
            "link",
            "add",
            &outer,
            "netns",
            &self.switch,
            "type",
            "veth",
            "peer",
            "name",
            &inner,
            "netns",
            &netns,
        ])?;
        run(&[
            "ip",
            "-n",
            &self.switch,
            "link",
            "set",
            &outer,
            "master",
            "br0",
            "up",
        ])?;
        run(&["ip", "-n", &netns, "link", "set", &inner, "name", "eth0"])?;
        run(&[
            "ip",
            "-n",
            &netns,
            "addr",
            "add",
            &format!("{address}/24"),
            "dev",
            "eth0",
        ])?;
        run(&["ip", "-n", &netns, "link", "set", "eth0", "up"])?;
        let host = Host {
            name: name.to_owned(),
            netns,
            address,
        };
        self.hosts.push(host.clone());
        Ok(host)
    }

    /// The host called `name`.
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// The lab subnet in CIDR form.
    pub fn subnet(&self) -> String {
        format!("10.{}.0.0/24", self.subnet)
    }

    /// The address the `index`-th host (from 1) has or would have.
    pub fn address(&self, index: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, self.subnet, 0, u8::try_from(index).unwrap_or(250))
    }

    /// Makes the "services" namespace: isolated (on no bridge), `lo` up and
    /// carrying the addresses of hosts 1..=`count` as /32s, so that one
    /// process there can listen on every host's address while its own
    /// traffic never reaches the bridge. Returns its name; removed on drop.
    pub fn services_namespace(&mut self, count: usize) -> Result<String, LabError> {
        let netns = format!("{}-svc", self.tag);
        if self.services.is_none() {
            run(&["ip", "netns", "add", &netns])?;
            self.services = Some(netns.clone());
            run(&["ip", "-n", &netns, "link", "set", "lo", "up"])?;
        }
        for index in 1..=count {
            let address = format!("{}/32", self.address(index));
            run(&["ip", "-n", &netns, "addr", "replace", &address, "dev", "lo"])?;
        }
        Ok(netns)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for host in &self.hosts {
            let _ = Command::new("ip")
                .args(["netns", "del", &host.netns])
                .output();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.switch])
            .output();
        if let Some(services) = &self.services {
            let _ = Command::new("ip").args(["netns", "del", services]).output();
        }
    }
}
