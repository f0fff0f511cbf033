//! Benchmark commands for microcloud (never shipped; figures in
//! BENCHMARKS.md).
//!
//! * `bootstrap-bench` ([`cluster`], [`bound`]): forms simulated clusters of
//!   N machines (three Ceph disks and one local disk each) under the
//!   versioned latency model (`crates/simulators/latency/model-v1.yaml`)
//!   at a time scale, once with our schedule and once in MicroCloud's
//!   order (`Options::serial_peers`), and sets both against the plan's
//!   lower bound computed from the same model.
//! * `trust-bench` ([`trust`]): the trust session's cost to the initiator
//!   (CPU and wall time to admit N joiners over loopback TLS), and what one
//!   online passphrase guess costs an attacker and the initiator.
//!
//! * [`agent`]: what a joiner's agent adds to each proxied request (used
//!   by the lab's `scale-bench`, `tests/bin/scale-bench.rs`).
//!
//! [`cpu`] reads a thread's CPU time; [`median`] is the statistic every
//! figure uses.

pub mod agent;
pub mod bound;
pub mod cluster;
pub mod cpu;
pub mod trust;

use std::time::Duration;

/// The median (the upper one of an even count); zero for no samples.
pub fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

/// Parses a comma-separated list of numbers (`3,10,25,50`).
///
/// # Errors
///
/// A message naming the item that is not a positive number.
pub fn parse_list(text: &str) -> Result<Vec<usize>, String> {
    text.split(',')
        .map(|s| match s.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{s:?} is not a positive number")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_lists() {
        let ms = Duration::from_millis;
        assert_eq!(median(&[ms(3), ms(1), ms(2)]), ms(2));
        assert_eq!(median(&[]), Duration::ZERO);
        assert_eq!(parse_list("3, 10,25"), Ok(vec![3, 10, 25]));
        assert_eq!(
            parse_list("3,x"),
            Err("\"x\" is not a positive number".to_owned())
        );
    }
}
