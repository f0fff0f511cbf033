//! What a joiner's agent adds to each request the initiator makes to that
//! machine's services: the same `GET /1.0` to one simulated LXD, once
//! straight over its unix socket (as on the initiator's own machine) and
//! once through [`session::agent::Agent`] over pinned mutual TLS on
//! loopback (as for every other machine), one at a time and many at once.
//! The simulated node answers at once (no latency model), so the
//! difference is the agent's: TLS, HTTP on both hops, the forwarding.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use clients::Identity;
use clients::lxd::{LxdApi, LxdClient};
use clients::transport::Transport;
use session::agent::{Agent, AgentClient, AgentSettings, ProxiedService, ServiceSockets};
use simulators::SimBuilder;

/// Per-request latency, straight and through the agent.
#[derive(Debug, Clone, Copy)]
pub struct ProxyLatency {
    /// Requests timed per way.
    pub requests: usize,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Median per request over the unix socket.
    pub direct: Duration,
    /// Median per request through the agent.
    pub proxied: Duration,
}

impl ProxyLatency {
    /// What the agent adds to one request.
    pub fn added(&self) -> Duration {
        self.proxied.saturating_sub(self.direct)
    }
}

/// Times `requests` calls each way, `concurrency` at a time (per-request
/// figure: for one at a time, the median call; for many, the wall time of
/// a batch divided by its size, median over batches).
///
/// # Errors
///
/// The simulator, the agent or a request failing.
pub async fn proxy_latency(requests: usize, concurrency: usize) -> anyhow::Result<ProxyLatency> {
    let sim = SimBuilder::new()
        .nodes(1)
        .time_scale(0.0)
        .start()
        .await
        .context("starting the simulator")?;
    let node = sim
        .nodes()
        .first()
        .ok_or_else(|| anyhow!("the simulator has no node"))?;
    let joiner = Identity::generate("node1", &[]).context("agent certificate")?;
    let initiator = Identity::generate("initiator", &[]).context("initiator certificate")?;
    let agent = Agent::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .context("binding the agent")?;
    let address = agent.local_addr();
    let mut settings = AgentSettings::new("node1".into(), joiner.clone(), initiator.fingerprint());
    settings.sockets = ServiceSockets {
        lxd: node.lxd_socket(),
        microceph: node.microceph_socket(),
        microovn: node.microovn_socket(),
    };
    let running = tokio::spawn(agent.run(settings));
    let through = AgentClient::new(address, "node1", &initiator, joiner.fingerprint())
        .context("agent client")?;
    let direct = Arc::new(LxdClient::new(Transport::unix(node.lxd_socket()), "node1"));
    let proxied = Arc::new(LxdClient::new(
        through.service_transport(ProxiedService::Lxd),
        "node1",
    ));
    let concurrency = concurrency.max(1);
    let requests = requests.max(concurrency);
    let d = time(direct, requests, concurrency).await?;
    let p = time(proxied, requests, concurrency).await?;
    running.abort();
    Ok(ProxyLatency {
        requests,
        concurrency,
        direct: d,
        proxied: p,
    })
}

async fn time(
    client: Arc<LxdClient>,
    requests: usize,
    concurrency: usize,
) -> anyhow::Result<Duration> {
    // Warm up: connections (and TLS sessions) are made once, as in a run.
    for _ in 0..concurrency.max(4) {
        client.server(None).await.context("GET /1.0")?;
    }
    let mut samples = Vec::new();
    for _ in 0..requests / concurrency {
        let started = Instant::now();
        let batch: Vec<_> = (0..concurrency)
            .map(|_| {
                let c = client.clone();
                tokio::spawn(async move { c.server(None).await.map(|_| ()) })
            })
            .collect();
        for task in batch {
            task.await.context("request task")?.context("GET /1.0")?;
        }
        samples.push(started.elapsed().div_f64(concurrency as f64));
    }
    Ok(crate::median(&samples))
}
