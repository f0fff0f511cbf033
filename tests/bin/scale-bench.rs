//! `scale-bench`: forming clusters of N machines the way operators do,
//! one `microcloud preseed` process per machine, each in its own network
//! namespace of the end-to-end lab, against one simulator process that
//! serves every machine's LXD, MicroCeph and MicroOVN under the versioned
//! latency model, scaled in time.
//!
//! Unlike `bootstrap-bench` (one process calling the simulators directly,
//! only the apply timed), everything a real run does is in the figures:
//! process start, the trust session (every joiner admitted over TLS and
//! SPAKE2), collection through the joiners' agents, planning, and every
//! call to another machine's services proxied by that machine's agent over
//! pinned mutual TLS.
//!
//! Per size, in our order and (unless `--skip-serial`) in MicroCloud's
//! (`--serial-peers`), on a fresh lab each time:
//! * wall time: from starting every process until the initiator exits;
//! * admission: from the start until the initiator says every machine has
//!   joined (taken from its output, polled every 10 ms; real time, not
//!   scaled: nothing in the session is modelled);
//! * apply: the plan's run time (the `t` of the initiator's last event);
//! * the initiator's CPU time (user + system) and peak resident memory
//!   (`/proc/<pid>/stat` and `VmHWM`, read every 10 ms until it exits);
//! * the lower bound of the same plan under the same model (part 1's
//!   `bench::bound`, on the plan computed for the same machines in this
//!   process).
//!
//! Times that the model sleeps are scaled; the figures are divided by the
//! scale so that they read at scale 1 (so is what the model does not cover,
//! which makes ours pessimistic). CPU and memory are not scaled.
//!
//! ```text
//! cargo build --release -p microcloud -p simulators -p microcloud-tests
//! target/release/scale-bench --sizes 3,10,25,50,100 --scale 0.2
//! ```
//! Needs root (network namespaces).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use clap::Parser;
use microcloud_tests::testbed::{Contact, Finished, Process, Seed, SimOptions, Testbed, node};
use serde_json::Value;
use simulators::LatencyModel;

/// Cluster formation at scale through the real session and agents.
#[derive(Debug, Parser)]
#[command(name = "scale-bench")]
struct Args {
    /// Cluster sizes, comma separated (at most 250: the lab is a /24).
    #[arg(long, default_value = "3,10,25,50", value_parser = bench::parse_list)]
    sizes: std::vec::Vec<usize>,
    /// Time scale of the simulation (figures are reported at scale 1).
    #[arg(long, default_value_t = 0.2)]
    scale: f64,
    /// Runs per size and order (the median is reported).
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Only our order (MicroCloud's is slow).
    #[arg(long)]
    skip_serial: bool,
    /// How the machines find the initiator.
    #[arg(long, value_enum, default_value = "unicast")]
    contact: ContactArg,
    /// Also print one JSON object per size.
    #[arg(long)]
    json: bool,
    /// How long one formation may take, in seconds (at the real clock).
    #[arg(long, default_value_t = 1800)]
    timeout: u64,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ContactArg {
    /// `initiator_address` and every system's `address`.
    Unicast,
    /// `initiator` and `lookup_subnet` (multicast discovery).
    Multicast,
}

/// What one formation measured (times at scale 1).
#[derive(Debug, Clone, Default)]
struct Run {
    wall: Duration,
    admission: Duration,
    apply: Duration,
    initiator_cpu: Duration,
    initiator_peak_kib: u64,
    /// Failed or refused attempts the initiator reported (each joiner
    /// should get in at its first attempt).
    incidents: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !(args.scale > 0.0 && args.scale <= 1.0) {
        bail!("--scale must be in (0, 1] (got {})", args.scale);
    }
    if let Some(n) = args.sizes.iter().find(|n| **n < 2 || **n > 250) {
        bail!("--sizes: {n} is out of range (2..=250 machines)");
    }
    let model = LatencyModel::v1()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let fixture = bench::cluster::fixture()?;
    let contact = match args.contact {
        ContactArg::Unicast => Contact::Unicast,
        ContactArg::Multicast => Contact::Multicast,
    };
    println!(
        "latency model v{}, time scale {} (times at scale 1 = measured / {}), {} run(s) each, median; {:?} contact; load average {}",
        model.version,
        args.scale,
        args.scale,
        args.runs.max(1),
        args.contact,
        load_average()
    );
    let mut agent = Vec::new();
    for concurrency in [1, 32] {
        let l = runtime.block_on(bench::agent::proxy_latency(640, concurrency))?;
        println!(
            "agent: GET /1.0 {} at a time: {:.3} ms over the unix socket, {:.3} ms through the agent (+{:.3} ms per request; medians of {} requests)",
            l.concurrency,
            ms(l.direct),
            ms(l.proxied),
            ms(l.added()),
            l.requests
        );
        agent.push(l);
    }
    println!("(* admission in real seconds, not scaled; every other time at scale 1)");
    println!(
        "{:>5} {:>6} {:>9} {:>8} {:>9} {:>9} {:>8} {:>9} {:>10} {:>9} {:>11} {:>9}",
        "nodes",
        "steps",
        "wall s",
        "admit s*",
        "apply s",
        "bound s",
        "wall/bd",
        "init cpu",
        "init peak",
        "serial s",
        "serial/ours",
        "incidents"
    );
    for &n in &args.sizes {
        let plan = runtime.block_on(async {
            let sim = bench::cluster::start(n, &model, 0.0).await?;
            bench::cluster::plan(&sim).await
        })?;
        let bound = bench::bound::lower_bound(&plan, &model);
        let mut ours = Vec::new();
        let mut serial = Vec::new();
        for _ in 0..args.runs.max(1) {
            ours.push(form(n, &args, contact, &fixture, false)?);
            if !args.skip_serial {
                serial.push(form(n, &args, contact, &fixture, true)?);
            }
        }
        let pick = |runs: &[Run], f: fn(&Run) -> Duration| {
            bench::median(&runs.iter().map(f).collect::<Vec<_>>())
        };
        let wall = pick(&ours, |r| r.wall);
        let admission = pick(&ours, |r| r.admission);
        let apply = pick(&ours, |r| r.apply);
        let cpu = pick(&ours, |r| r.initiator_cpu);
        let peak = ours.iter().map(|r| r.initiator_peak_kib).max().unwrap_or(0);
        let serial_wall = (!serial.is_empty()).then(|| pick(&serial, |r| r.wall));
        let secs = Duration::as_secs_f64;
        println!(
            "{n:>5} {:>6} {:>9.1} {:>8.2} {:>9.1} {:>9.1} {:>7.2}x {:>8.2}s {:>7.1}MiB {:>9} {:>11} {:>9}",
            plan.steps.len(),
            secs(&wall),
            secs(&admission),
            secs(&apply),
            secs(&bound.value()),
            secs(&wall) / secs(&bound.value()),
            secs(&cpu),
            peak as f64 / 1024.0,
            serial_wall.map_or("-".to_owned(), |s| format!("{:.1}", secs(&s))),
            serial_wall.map_or("-".to_owned(), |s| format!(
                "{:.2}x",
                secs(&s) / secs(&wall)
            )),
            ours.iter()
                .chain(&serial)
                .map(|r| r.incidents)
                .sum::<usize>(),
        );
        if args.json {
            let all = |runs: &[Run], f: fn(&Run) -> Duration| {
                runs.iter().map(|r| secs(&f(r))).collect::<Vec<_>>()
            };
            println!(
                "{}",
                serde_json::json!({
                    "nodes": n,
                    "steps": plan.steps.len(),
                    "scale": args.scale,
                    "contact": format!("{:?}", args.contact).to_lowercase(),
                    "wall_s": all(&ours, |r| r.wall),
                    "admission_s": all(&ours, |r| r.admission),
                    "apply_s": all(&ours, |r| r.apply),
                    "initiator_cpu_s": all(&ours, |r| r.initiator_cpu),
                    "initiator_peak_kib": ours.iter().map(|r| r.initiator_peak_kib).collect::<Vec<_>>(),
                    "session_incidents": ours.iter().chain(&serial).map(|r| r.incidents).collect::<Vec<_>>(),
                    "serial_wall_s": all(&serial, |r| r.wall),
                    "bound_s": secs(&bound.value()),
                    "bound_decided_by": bound.decided_by(),
                    "load_average": load_average(),
                    "agent_added_ms": agent.iter().map(|l| (l.concurrency, ms(l.added()))).collect::<Vec<_>>(),
                })
            );
        }
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Forms one cluster of `n` lab machines and measures it.
fn form(
    n: usize,
    args: &Args,
    contact: Contact,
    fixture: &str,
    serial_peers: bool,
) -> anyhow::Result<Run> {
    let options = SimOptions {
        time_scale: args.scale,
        latency_model: Some("v1".to_owned()),
        inventory: Some(fixture.to_owned()),
        ..SimOptions::default()
    };
    let testbed = Testbed::start(n, &options).map_err(|e| anyhow!("{e}"))?;
    let seed = Seed {
        session_timeout: 3600,
        ..Seed::bootstrap(contact, n)
    };
    let file = testbed.write("cluster.yaml", &seed.render(&testbed.lab));
    let mut extra = vec!["--output", "json"];
    if serial_peers {
        extra.push("--serial-peers");
    }
    let started = Instant::now();
    let mut initiator = testbed.preseed(&node(1), &file, &extra);
    let mut joiners: Vec<Process> = (2..=n)
        .map(|i| testbed.preseed(&node(i), &file, &["--output", "json"]))
        .collect();
    let pid = initiator.pid();
    let deadline = started + Duration::from_secs(args.timeout);
    let mut admitted = None;
    let mut usage = Usage::default();
    let ticks = clock_ticks_per_second();
    while initiator.try_status().is_none() {
        if Instant::now() > deadline {
            bail!(
                "{n} machines: the initiator did not finish within {} s:\n{}",
                args.timeout,
                lab_transcript(initiator, joiners)
            );
        }
        if let Some(u) = Usage::read(pid, ticks) {
            usage = u;
        }
        if admitted.is_none() && initiator.stdout().contains("Every machine has joined") {
            admitted = Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let wall = started.elapsed();
    for j in &mut joiners {
        j.wait_exit(Duration::from_secs(60));
    }
    let initiator = initiator.finish();
    let joiners: Vec<Finished> = joiners.into_iter().map(Process::finish).collect();
    if initiator.code != Some(0) || joiners.iter().any(|j| j.code != Some(0)) {
        let mut all = vec![initiator];
        all.extend(joiners);
        bail!(
            "{n} machines: a run failed:\n{}",
            microcloud_tests::testbed::transcript(&all)
        );
    }
    let apply = last_event_time(&initiator.stdout)
        .ok_or_else(|| anyhow!("the initiator printed no timed event"))?;
    let scale_up = |d: Duration| d.div_f64(args.scale);
    Ok(Run {
        wall: scale_up(wall),
        // The session is not modelled: its time is real, never scaled.
        admission: admitted.unwrap_or(wall),
        apply: scale_up(apply),
        initiator_cpu: usage.cpu,
        initiator_peak_kib: usage.peak_kib,
        incidents: incidents(&initiator.stdout),
    })
}

fn lab_transcript(initiator: Process, joiners: Vec<Process>) -> String {
    let mut all = vec![initiator.finish()];
    all.extend(joiners.into_iter().take(3).map(Process::finish));
    microcloud_tests::testbed::transcript(&all)
}

/// The session's incident lines (`  attempt by ...`) in the initiator's
/// messages, and those it only counted.
fn incidents(stdout: &str) -> usize {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|e| e.get("message").and_then(Value::as_str).map(str::to_owned))
        .map(|m| {
            if m.trim_start().starts_with("attempt by ") {
                1
            } else if let Some(rest) = m.trim_start().strip_prefix('(') {
                rest.split_whitespace()
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|_| m.contains("incident line(s) not shown"))
                    .unwrap_or(0)
            } else {
                0
            }
        })
        .sum()
}

/// The largest `t` of the JSON events on standard output.
fn last_event_time(stdout: &str) -> Option<Duration> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|e| e.get("t").and_then(Value::as_f64))
        .reduce(f64::max)
        .map(Duration::from_secs_f64)
}

/// A process's CPU time and peak memory so far, from `/proc`.
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    cpu: Duration,
    peak_kib: u64,
}

impl Usage {
    fn read(pid: u32, ticks_per_second: f64) -> Option<Usage> {
        let proc = Path::new("/proc").join(pid.to_string());
        let stat = std::fs::read_to_string(proc.join("stat")).ok()?;
        // Fields after the command name (which may hold spaces) in `)`.
        let rest = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of stat(5), 12 and 13 here.
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        let status = std::fs::read_to_string(proc.join("status")).ok()?;
        let peak_kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())?;
        Some(Usage {
            cpu: Duration::from_secs_f64(ticks as f64 / ticks_per_second),
            peak_kib,
        })
    }
}

/// `sysconf(_SC_CLK_TCK)`: 100 on every Linux architecture this runs on
/// (the kernel's USER_HZ), read from `getconf` when available.
fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
