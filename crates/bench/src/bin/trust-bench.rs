//! `trust-bench`: what the trust session costs the initiator to admit N
//! joiners (CPU and wall time, over loopback TLS in one process), and what
//! one online passphrase guess costs an attacker and the initiator.
//!
//! ```text
//! cargo run --release -p bench --bin trust-bench -- --joiners 10,50 --runs 5
//! ```

use std::time::Duration;

use bench::{median, parse_list, trust};
use clap::Parser;

/// Trust session cost (loopback TLS, one process, one thread per side).
#[derive(Debug, Parser)]
#[command(name = "trust-bench")]
struct Args {
    /// Numbers of joiners, comma separated.
    #[arg(long, default_value = "10,50", value_parser = parse_list)]
    joiners: std::vec::Vec<usize>,
    /// Runs per size (the median is reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Wrong guesses timed in a row (below the initiator's limit).
    #[arg(long, default_value_t = 9)]
    guesses: u32,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runs = args.runs.max(1);
    println!("{runs} run(s) each, median; initiator and joiners each on one thread");
    println!(
        "{:>7} {:>9} {:>17} {:>21} {:>18}",
        "joiners", "wall ms", "initiator CPU ms", "initiator CPU/joiner", "joiners CPU/joiner"
    );
    for &n in &args.joiners {
        let mut wall = Vec::new();
        let mut cpu = Vec::new();
        let mut theirs = Vec::new();
        for _ in 0..runs {
            let a = trust::admit(n)?;
            wall.push(a.wall);
            cpu.push(a.initiator_cpu);
            theirs.push(a.joiners_cpu);
        }
        let per = |d: Duration| ms(d) / n as f64;
        println!(
            "{n:>7} {:>9.1} {:>17.1} {:>18.2} ms {:>15.2} ms",
            ms(median(&wall)),
            ms(median(&cpu)),
            per(median(&cpu)),
            per(median(&theirs)),
        );
    }
    let mut results = Vec::new();
    for _ in 0..runs {
        results.push(trust::guess(args.guesses)?);
    }
    let pick =
        |f: fn(&trust::Guessing) -> Duration| median(&results.iter().map(f).collect::<Vec<_>>());
    let closed_after = results.iter().map(|g| g.closed_after).max().unwrap_or(0);
    println!(
        "online guessing ({} wrong guesses in a row, {runs} run(s), median per guess): attacker wall {:.2} ms, attacker CPU {:.2} ms, initiator CPU {:.2} ms; the session closed for everyone after {closed_after} failed attempts",
        args.guesses,
        ms(pick(|g| g.wall_per_attempt)),
        ms(pick(|g| g.attacker_cpu_per_attempt)),
        ms(pick(|g| g.initiator_cpu_per_attempt)),
    );
    Ok(())
}
