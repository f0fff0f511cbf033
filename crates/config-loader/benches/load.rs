//! Loader benchmark: `cargo bench -p config-loader --bench load`.
//!
//! Each scenario runs in a child process of this binary so that its peak
//! resident memory (VmHWM) is its own. Times are the median of the runs.
//! Figures are recorded in BENCHMARKS.md.

#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "a benchmark measures time and memory: it reads the clock and /proc and runs itself as a child process; the library stays pure"
)]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use config_loader::{FakeEnvironment, load};
use std::process::Command;
use std::time::{Duration, Instant};

fn alias_bomb() -> String {
    let mut doc = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for pair in names.windows(2) {
        let refs = vec![format!("*{}", pair[0]); 9].join(",");
        doc.push_str(&format!("{}: &{} [{refs}]\n", pair[1], pair[1]));
    }
    doc
}

/// A valid preseed with `n` systems, each with a local disk and 24 Ceph disks.
fn large(n: usize) -> String {
    let mut doc = String::from(
        "initiator_address: 10.0.0.1\nsession_passphrase: bench\novn:\n  ipv4_gateway: 172.16.0.1/16\n  ipv4_range: 172.16.100.1-172.16.200.254\n  dns_servers: 1.1.1.1\nsystems:\n",
    );
    for i in 0..n {
        let (a, b) = (i / 250, i % 250 + 1);
        doc.push_str(&format!(
            "  - name: node{i:04}\n    address: 10.{a}.0.{b}\n    ovn_uplink_interface: enp6s0\n    ovn_underlay_ip: 10.{a}.1.{b}\n    storage:\n      local:\n        path: /dev/disk/by-id/local-{i}\n      ceph:\n"
        ));
        for d in 0..24 {
            doc.push_str(&format!(
                "        - path: /dev/disk/by-id/ceph-{i}-{d}\n          wipe: true\n"
            ));
        }
    }
    doc
}

fn scenario(name: &str) -> (String, usize) {
    match name {
        "alias-bomb" => (alias_bomb(), 20),
        "oversized-50MB" => ("#".repeat(50 * 1024 * 1024), 5),
        "example-unicast" => (
            include_str!("../../../examples/unicast-3-nodes-ovn-ceph.yaml").replace(
                "session_passphrase_file: passphrase.txt",
                "session_passphrase: x",
            ),
            200,
        ),
        "systems-100" => (large(100), 20),
        "systems-1000" => (large(1000), 5),
        other => panic!("unknown scenario {other}"),
    }
}

const SCENARIOS: [&str; 5] = [
    "example-unicast",
    "alias-bomb",
    "oversized-50MB",
    "systems-100",
    "systems-1000",
];

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn run(name: &str) {
    let (doc, runs) = scenario(name);
    let env = FakeEnvironment::default();
    let mut times: Vec<Duration> = Vec::new();
    let mut outcome = String::new();
    for _ in 0..runs {
        let start = Instant::now();
        let report = load(&doc, &env);
        times.push(start.elapsed());
        outcome = if report.is_valid() {
            format!("valid ({} diagnostics)", report.diagnostics().len())
        } else {
            let first = report
                .diagnostics()
                .iter()
                .next()
                .map(|d| d.message.clone())
                .unwrap_or_default();
            format!("rejected: {}", first.chars().take(60).collect::<String>())
        };
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "{name:<16} input {:>10} B  median {:>10.3} ms  peak RSS {:>7} KiB  {outcome}",
        doc.len(),
        median.as_secs_f64() * 1e3,
        peak_rss_kib()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--scenario") {
        run(&args[i + 1]);
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let filter = args.iter().skip(1).find(|a| !a.starts_with("--"));
    for name in SCENARIOS
        .iter()
        .filter(|n| filter.is_none_or(|f| n.contains(f.as_str())))
    {
        let out = Command::new(&exe)
            .args(["--scenario", name])
            .output()
            .unwrap();
        print!("{}", String::from_utf8_lossy(&out.stdout));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
    }
}
