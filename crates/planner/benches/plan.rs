//! Time benchmark (divan): validating, and validating + planning, the
//! generated preseed (`common`: N systems, 24 disks each, four filters) for
//! N = 3, 100 and 1000: `cargo bench -p planner --bench plan` (divan's
//! options after `--`, e.g. `-- --sample-count 20` or a name filter such as
//! `-- validate_and_plan`). Outputs are dropped outside the timed part.
//! Peak memory: the `plan_memory` benchmark. Figures in BENCHMARKS.md.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{SIZES, inventory, preseed};
use config_loader::FakeEnvironment;
use divan::Bencher;

fn main() {
    divan::main();
}

/// The loader alone: YAML to a validated preseed.
#[divan::bench(args = SIZES)]
fn validate(bencher: Bencher, n: usize) {
    let env = FakeEnvironment::default();
    let yaml = preseed(n);
    bencher.bench_local(|| {
        let report = config_loader::load(divan::black_box(&yaml), &env);
        assert!(report.is_valid());
        report
    });
}

/// What `microcloud plan` costs: the loader, then the planner.
#[divan::bench(args = SIZES)]
fn validate_and_plan(bencher: Bencher, n: usize) {
    let env = FakeEnvironment::default();
    let yaml = preseed(n);
    let inv = inventory(n);
    bencher.bench_local(|| {
        let report = config_loader::load(divan::black_box(&yaml), &env);
        let preseed = report.preseed().expect("the generated preseed is valid");
        planner::plan(preseed, &inv).expect("the generated preseed plans")
    });
}
