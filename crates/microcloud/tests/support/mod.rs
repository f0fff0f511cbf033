//! What the integration tests of the `microcloud` binary share: running the
//! binary, reading what it printed, and starting simulated clusters with the
//! shipped simulated example moved onto them. Each test file includes this
//! with `mod support;` and keeps its own specific helpers.

// Every test file is its own binary and uses only some of these helpers;
// the others would warn as dead code in that binary.
#![allow(dead_code)]

use simulators::{Sim, SimBuilder};
use std::ffi::OsStr;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The workspace root (where `examples/` and `schemas/` are).
pub fn root() -> PathBuf {
    microcloud_tests::workspace_root()
}

/// Bytes a command printed, as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Owned copies of `args`.
pub fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

/// A run lock file of its own for one command: the tests run several
/// machines' `microcloud preseed` on this one host at once, and each is a
/// machine of its own (`MICROCLOUD_LOCK_FILE`).
fn own_lock_file() -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("run-locks")
        .join(format!("{}-{n}.lock", std::process::id()))
}

/// `microcloud ARGS`, run from the workspace root with no passphrase or
/// `RUST_LOG` from the environment, its own run lock, and nothing on
/// standard input. The
/// caller adds what its test needs (environment, standard input).
pub fn microcloud<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(env!("CARGO_BIN_EXE_microcloud"));
    command
        .args(args)
        .current_dir(root())
        .env_remove("MICROCLOUD_SESSION_PASSPHRASE")
        .env_remove("RUST_LOG")
        .env("MICROCLOUD_LOCK_FILE", own_lock_file())
        .stdin(Stdio::null());
    command
}

/// Runs `microcloud ARGS` (as [`microcloud`] sets it up) to the end.
pub fn run<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    microcloud(args).output().expect("run microcloud")
}

/// Starts `command` now, and returns its output (both streams captured)
/// when it ends, waited for off the async runtime.
pub fn spawn(mut command: Command) -> tokio::task::JoinHandle<Output> {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the command");
    tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait for the command"))
}

/// A simulation of `nodes` machines at `base`.1, `base`.2, ... with its
/// sockets under `dir`, time-scaled for tests; the caller may add to it
/// (e.g. `.services(..)`) before `start`.
pub fn sim_builder(nodes: usize, base: [u8; 3], dir: &Path) -> SimBuilder {
    SimBuilder::new()
        .nodes(nodes)
        .base_ip(Ipv4Addr::new(base[0], base[1], base[2], 1))
        .time_scale(0.05)
        .state_dir(dir)
}

/// Starts [`sim_builder`]'s simulation. Parallel tests need distinct
/// `base` blocks.
pub async fn start_sim(nodes: usize, base: [u8; 3], dir: &Path) -> Sim {
    sim_builder(nodes, base, dir).start().await.unwrap()
}

/// The shipped simulated example (`examples/simulated/three-nodes.yaml`)
/// moved to `base` (the block [`start_sim`] was given), with `edit` applied,
/// written to `dir/cluster.yaml`.
pub fn example_at(dir: &Path, base: [u8; 3], edit: impl FnOnce(String) -> String) -> PathBuf {
    let yaml = std::fs::read_to_string(root().join("examples/simulated/three-nodes.yaml"))
        .unwrap()
        .replace(
            "127.0.99.",
            &format!("{}.{}.{}.", base[0], base[1], base[2]),
        );
    let path = dir.join("cluster.yaml");
    std::fs::write(&path, edit(yaml)).unwrap();
    path
}

/// A preseed for one simulated machine, `node1`, with the lookup subnet
/// `base`.0/24, LXD's local pool on btrfs and OVN, followed by `rest`
/// (top-level keys, e.g. `storage:`).
pub fn one_machine_yaml(base: [u8; 3], rest: &str) -> String {
    format!(
        "initiator: node1\nlookup_subnet: {}.{}.{}.0/24\nlxd:\n  local_pool_driver: btrfs\n\
         systems:\n  - name: node1\n    ovn_uplink_interface: enp6s0\n\
         ovn:\n  ipv4_gateway: 192.0.2.1/24\n  ipv4_range: 192.0.2.10-192.0.2.20\n{rest}",
        base[0], base[1], base[2]
    )
}

/// Times (`1.2s`, `12.0s`, `[   2.3s]`) as `#.#s`, so that outputs can be
/// compared with snapshots.
pub fn normalise_times(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(|c: char| c.is_ascii_digit()) {
        let (before, from) = rest.split_at(i);
        out.push_str(before);
        let digits = from
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(from.len());
        let after = &from[digits..];
        let prev = out.chars().last();
        if after.len() >= 3
            && after.as_bytes()[0] == b'.'
            && after.as_bytes()[1].is_ascii_digit()
            && after.as_bytes()[2] == b's'
            && !prev.is_some_and(|c| c.is_ascii_alphanumeric() || c == '.')
        {
            out.push_str("#.#s");
            rest = &after[3..];
        } else {
            out.push_str(&from[..digits]);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}
