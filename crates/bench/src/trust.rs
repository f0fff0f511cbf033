//! The trust session's cost, over real TLS on loopback, in one process.
//!
//! The initiator runs on a thread of its own with a current-thread tokio
//! runtime, so every task it spawns (the listener, one per connection,
//! the protocol) runs there and that thread's CPU time
//! ([`crate::cpu::thread_cpu_time`]) is the initiator's alone. The
//! joiners (honest or not) run on another thread the same way.
//!
//! * [`admit`]: N honest joiners started at once; wall time from their
//!   start until the initiator has admitted all of them, and the CPU time
//!   each side spent (TLS 1.3 handshakes with ECDSA P-256 certificates,
//!   SPAKE2, key schedule, MACs, JSON).
//! * [`guess`]: an online attacker (a joiner with a wrong passphrase, one
//!   certificate for all its attempts) making attempts one after another:
//!   per attempt, the attacker's wall and CPU time and the initiator's CPU
//!   time; and after how many failures the initiator closes the session.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use clients::Identity;
use session::net::{JoinSettings, SessionSettings, join_session, serve_session};
use session::{Intent, Passphrase};

use crate::cpu::thread_cpu_time;

const PASSPHRASE: &str = "correct horse battery staple";

/// The cost of admitting N joiners.
#[derive(Debug, Clone, Copy)]
pub struct Admission {
    /// Joiners admitted.
    pub joiners: usize,
    /// From the joiners' start until the initiator admitted the last one.
    pub wall: Duration,
    /// The initiator's CPU time over that span.
    pub initiator_cpu: Duration,
    /// All joiners' CPU time together (their own side of the same work).
    pub joiners_cpu: Duration,
}

/// The cost of online guessing.
#[derive(Debug, Clone, Copy)]
pub struct Guessing {
    /// Wrong attempts measured (before the limit).
    pub attempts: u32,
    /// Attacker's wall time per attempt.
    pub wall_per_attempt: Duration,
    /// Attacker's CPU time per attempt.
    pub attacker_cpu_per_attempt: Duration,
    /// Initiator's CPU time per attempt.
    pub initiator_cpu_per_attempt: Duration,
    /// Failed attempts after which the session closed for everyone.
    pub closed_after: u32,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")
}

fn services() -> BTreeMap<String, String> {
    BTreeMap::from([("LXD".to_owned(), "5.21".to_owned())])
}

fn joiner_name(i: usize) -> String {
    format!("micro{:03}", i + 2)
}

/// What the initiator's thread reports.
struct InitiatorReport {
    /// CPU time from readiness until `done` held.
    cpu: Duration,
    /// When `done` held.
    at: Instant,
    /// Failed attempts counted, and whether the session closed.
    failures: u32,
    closed: bool,
}

/// Runs an initiator expecting `joiners` on its own thread; sends its
/// address once listening, then reports once `done(progress)` holds.
fn initiator(
    joiners: BTreeSet<String>,
    done: impl Fn(&session::net::Progress) -> bool + Send + 'static,
) -> anyhow::Result<(
    SocketAddr,
    std::thread::JoinHandle<anyhow::Result<InitiatorReport>>,
)> {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || -> anyhow::Result<InitiatorReport> {
        let rt = runtime()?;
        rt.block_on(async move {
            let me = Identity::generate("micro001", &[]).context("identity")?;
            let mut settings = SessionSettings::new(
                SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
                me,
                "micro001".to_owned(),
                Passphrase::new(PASSPHRASE),
                joiners,
            );
            settings.session_timeout = Duration::from_secs(120);
            let handle = serve_session(settings).await.context("serve_session")?;
            let mut progress = handle.progress();
            let before = thread_cpu_time().unwrap_or_default();
            let _ = tx.send(handle.local_addr());
            let seen = progress
                .wait_for(|p| done(p) || p.closed.is_some())
                .await
                .map_err(|_| anyhow!("the session went away"))?
                .clone();
            let report = InitiatorReport {
                cpu: thread_cpu_time().unwrap_or_default().saturating_sub(before),
                at: Instant::now(),
                failures: seen.failures,
                closed: seen.closed.is_some(),
            };
            handle.stopper().stop("benchmark over");
            let _ = handle.wait().await;
            Ok(report)
        })
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .map_err(|_| anyhow!("the initiator did not start listening"))?;
    Ok((addr, thread))
}

fn join_settings(addr: SocketAddr, me: &Identity, name: &str, passphrase: &str) -> JoinSettings {
    let mut s = JoinSettings::new(
        addr,
        me.clone(),
        name.to_owned(),
        Passphrase::new(passphrase),
        Intent {
            address: "10.0.0.1".to_owned(),
            services: services(),
        },
    );
    s.session_timeout = Duration::from_secs(10);
    s.initial_backoff = Duration::from_millis(10);
    s.max_backoff = Duration::from_millis(100);
    s
}

/// Admits `n` honest joiners started at once.
///
/// # Errors
///
/// A joiner that was not admitted, or a thread that failed.
pub fn admit(n: usize) -> anyhow::Result<Admission> {
    let names: Vec<String> = (0..n).map(joiner_name).collect();
    let (addr, initiator) = initiator(names.iter().cloned().collect(), move |p| {
        p.admitted.len() == n
    })?;
    let rt = runtime()?;
    let identities = names
        .iter()
        .map(|name| Identity::generate(name, &[]).context("identity"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let before = thread_cpu_time().unwrap_or_default();
    let start = Instant::now();
    let results = rt.block_on(async {
        let tasks: Vec<_> = names
            .iter()
            .zip(&identities)
            .map(|(name, id)| tokio::spawn(join_session(join_settings(addr, id, name, PASSPHRASE))))
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await);
        }
        out
    });
    let joiners_cpu = thread_cpu_time().unwrap_or_default().saturating_sub(before);
    for (name, r) in names.iter().zip(results) {
        r.map_err(|e| anyhow!("{name}: {e}"))?
            .map_err(|e| anyhow!("{name} was not admitted: {e}"))?;
    }
    let report = initiator
        .join()
        .map_err(|_| anyhow!("the initiator's thread panicked"))??;
    Ok(Admission {
        joiners: n,
        wall: report.at.saturating_duration_since(start),
        initiator_cpu: report.cpu,
        joiners_cpu,
    })
}

/// Makes `attempts` wrong guesses one after another (fewer than the
/// initiator's limit), then keeps guessing until the session closes.
///
/// # Errors
///
/// A guess that did not fail as a wrong passphrase, or a session that did
/// not close.
pub fn guess(attempts: u32) -> anyhow::Result<Guessing> {
    let limit = session::protocol::InitiatorConfig::new(
        String::new(),
        Identity::generate("x", &[])?.fingerprint(),
        Passphrase::new(PASSPHRASE),
        BTreeSet::new(),
    )
    .max_failed_attempts;
    if attempts == 0 || attempts >= limit {
        bail!(
            "measure between 1 and {} attempts (the limit is {limit})",
            limit - 1
        );
    }
    let name = joiner_name(0);
    let (addr, initiator_thread) = initiator(BTreeSet::from([name.clone()]), move |p| {
        p.failures >= attempts
    })?;
    let rt = runtime()?;
    let me = Identity::generate(&name, &[]).context("identity")?;
    let wrong = |i: u32| format!("guess number {i}");
    let attempt_at = |addr: SocketAddr, i: u32| -> anyhow::Result<()> {
        let r = rt.block_on(join_session(join_settings(addr, &me, &name, &wrong(i))));
        match r {
            Err(e) if e.is_authentication_failure() => Ok(()),
            Err(e) => bail!("attempt {i}: not an authentication failure: {e}"),
            Ok(_) => bail!("attempt {i}: a wrong passphrase was admitted"),
        }
    };
    let before = thread_cpu_time().unwrap_or_default();
    let start = Instant::now();
    for i in 0..attempts {
        attempt_at(addr, i)?;
    }
    let wall = start.elapsed();
    let attacker_cpu = thread_cpu_time().unwrap_or_default().saturating_sub(before);
    let report = initiator_thread
        .join()
        .map_err(|_| anyhow!("the initiator's thread panicked"))??;
    if report.failures != attempts || report.closed {
        bail!(
            "the initiator counted {} failures (closed: {}) after {attempts} wrong guesses",
            report.failures,
            report.closed
        );
    }

    // A fresh session, guessed up to its limit: it must then be closed.
    let (addr, closing) = initiator(BTreeSet::from([name.clone()]), |_| false)?;
    for i in 0..limit {
        attempt_at(addr, i).map_err(|e| anyhow!("{e} (session guessed to its limit)"))?;
    }
    let closing = closing
        .join()
        .map_err(|_| anyhow!("the initiator's thread panicked"))??;
    if !closing.closed || closing.failures != limit {
        bail!(
            "after {limit} wrong guesses the session counted {} failures and is {}",
            closing.failures,
            if closing.closed {
                "closed"
            } else {
                "still open"
            }
        );
    }
    let closed_after = closing.failures;
    Ok(Guessing {
        attempts,
        wall_per_attempt: wall / attempts,
        attacker_cpu_per_attempt: attacker_cpu / attempts,
        initiator_cpu_per_attempt: report.cpu / attempts,
        closed_after,
    })
}
