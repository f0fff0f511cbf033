//! Benchmark (BENCHMARKS.md, "Real LXD"): `microcloud preseed` forming the
//! real-services tier's 3-member cluster, against `tests/real/plain-lxd.sh`,
//! a plain script making the same LXD calls straight to each LXD.
//!
//! Each run starts a fresh lab (real LXD 5.0.2, OVN and Ceph, see
//! `real_lab.rs`) per variant, times the formation only (from starting the
//! processes to the last one ending), checks the result through LXD's API
//! with the real-services tier's own checks, and tears the lab down. The
//! two variants alternate which goes first. `MICROCLOUD_BENCH_RUNS` runs
//! (default 3); prints every time, the medians and their ratio.
//!
//! Ignored in the ordinary test run: `bash tests/real/bench.sh` runs it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use microcloud_tests::real_cluster::{DNS, GATEWAY, RANGE, check_cluster, preseed, run_all, start};
use microcloud_tests::real_lab::RealLab;
use microcloud_tests::workspace_root;

const MACHINES: [&str; 3] = ["node1", "node2", "node3"];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Variant {
    Tool,
    Script,
}

/// Forms the cluster with `variant` on a fresh lab; returns the wall time.
fn form(variant: Variant) -> Duration {
    let lab = start(MACHINES.len());
    let members = MACHINES.map(|n| lab.machine(n));
    let elapsed = match variant {
        Variant::Tool => {
            let file = preseed(&lab, "three.yaml", members[0], &members);
            let t = Instant::now();
            run_all(&lab, &file, &MACHINES);
            t.elapsed()
        }
        Variant::Script => script(&lab),
    };
    check_cluster(&lab, &members);
    eprintln!("{variant:?}: formed in {:.2} s", elapsed.as_secs_f64());
    elapsed
}

/// Runs the plain script against the lab's machines; returns its wall time.
fn script(lab: &RealLab) -> Duration {
    let machines: Vec<String> = MACHINES
        .iter()
        .map(|n| {
            let m = lab.machine(n);
            format!(
                "{},{},{},{},{}",
                m.name,
                m.lxd_socket().display(),
                m.host.address,
                m.local_disk,
                m.uplink
            )
        })
        .collect();
    let northbound: Vec<String> = MACHINES
        .iter()
        .map(|n| format!("ssl:{}:6641", lab.machine(n).host.address))
        .collect();
    let t = Instant::now();
    let out = Command::new("bash")
        .arg(workspace_root().join("tests/real/plain-lxd.sh"))
        .args(&machines)
        .env("GATEWAY", GATEWAY)
        .env("RANGE", RANGE)
        .env("DNS", DNS)
        .env("NORTHBOUND", northbound.join(","))
        .env("VERSION", env!("CARGO_PKG_VERSION"))
        .output()
        .unwrap();
    let elapsed = t.elapsed();
    assert!(
        out.status.success(),
        "plain-lxd.sh failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

#[test]
#[ignore = "a benchmark of minutes on real services: run by tests/real/bench.sh"]
fn microcloud_preseed_against_a_plain_script_on_real_lxd() {
    let runs: usize = std::env::var("MICROCLOUD_BENCH_RUNS")
        .ok()
        .map_or(3, |v| v.parse().expect("MICROCLOUD_BENCH_RUNS: a number"));
    let (mut tool, mut plain) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let order = if run % 2 == 0 {
            [Variant::Tool, Variant::Script]
        } else {
            [Variant::Script, Variant::Tool]
        };
        for v in order {
            let secs = form(v).as_secs_f64();
            match v {
                Variant::Tool => tool.push(secs),
                Variant::Script => plain.push(secs),
            }
        }
    }
    let show = |xs: &[f64]| {
        xs.iter()
            .map(|x| format!("{x:.2}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (t, p) = (median(tool.clone()), median(plain.clone()));
    println!("real LXD 5.0.2, 3 members, {runs} run(s) each (seconds):");
    println!("  microcloud preseed  {}  median {t:.2}", show(&tool));
    println!("  plain-lxd.sh        {}  median {p:.2}", show(&plain));
    println!("  ratio (median/median) {:.2}x", t / p);
}
