//! Memory benchmark: the peak resident memory of validate + plan of the
//! generated preseed (`common`) for N = 3, 100 and 1000 systems:
//! `cargo bench -p planner --bench plan_memory` (add `-- 1000` for one
//! size, `-- --quick` for one run each). The times are in the `plan`
//! benchmark (divan); this one is a plain harness because it needs a
//! process per size: each size runs in a child process of this binary
//! (`--scenario N`) so that its peak resident memory (`VmHWM` of
//! `/proc/self/status`, read at the end of the child) is its own. Printed
//! per size: the resident memory once the inputs are built (`inputs RSS`)
//! and the peak (`peak RSS`), which covers the inputs, the validated
//! preseed and the plan, with the median times of its runs as a
//! cross-check. Figures are recorded in BENCHMARKS.md.

#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "a benchmark measures time and memory: it reads the clock and /proc and runs itself as a child process; the library stays pure"
)]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{SIZES, inventory, preseed};
use config_loader::FakeEnvironment;

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
