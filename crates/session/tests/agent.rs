//! The agent over real TLS on loopback: the proxy to simulated services
//! and to an echo service, pinning, the system facts, `finish` and the
//! idle timeout.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use clients::lxd::{LxdApi as _, LxdClient};
use clients::microceph::MicroCephClient;
use clients::microcluster::MicroclusterApi as _;
use clients::rest::{CallOptions, RestClient};
use clients::{Fingerprint, Identity, Service, Transport};
use http_body_util::{BodyExt as _, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::json;
use session::agent::{
    Agent, AgentClient, AgentSettings, Finish, ProxiedService, ServiceSocket, ServiceSockets,
    SystemFacts,
};
use session::net::NetError;
use tokio::net::UnixListener;

const ROUTES: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
enp6s0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
enp5s0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n";

fn addr(last: u8) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)), 0)
}

fn identity(name: &str) -> Identity {
    Identity::generate(name, &[]).unwrap()
}

fn chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

struct Setup {
    initiator: Identity,
    joiner: Identity,
    address: SocketAddr,
    run: tokio::task::JoinHandle<Result<Finish, NetError>>,
    _dir: tempfile::TempDir,
}

impl Setup {
    fn client(&self) -> AgentClient {
        AgentClient::new(
            self.address,
            "micro02",
            &self.initiator,
            self.joiner.fingerprint(),
        )
        .unwrap()
    }
}

/// Starts an agent for "micro02" on 127.0.0.`last` with the given
/// sockets; the routing table is [`ROUTES`].
async fn start(last: u8, sockets: ServiceSockets, idle: Duration) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("route");
    std::fs::write(&routes, ROUTES).unwrap();
    let initiator = identity("micro01");
    let joiner = identity("micro02");
    let agent = Agent::bind(addr(last)).await.unwrap();
    let address = agent.local_addr();
    let mut settings = AgentSettings::new(
        "micro02".to_owned(),
        joiner.clone(),
        initiator.fingerprint(),
    );
    settings.sockets = sockets;
    settings.route_table = routes;
    settings.idle_timeout = idle;
    let run = tokio::spawn(agent.run(settings));
    Setup {
        initiator,
        joiner,
        address,
        run,
        _dir: dir,
    }
}

fn missing_sockets(dir: &Path) -> ServiceSockets {
    ServiceSockets {
        lxd: dir.join("lxd.socket"),
        microceph: dir.join("microceph.socket"),
        microovn: dir.join("microovn.socket"),
    }
}

/// A service on a unix socket that answers every request with a `sync`
/// envelope describing it.
fn echo_service(path: PathBuf) {
    let listener = UnixListener::bind(path).unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let service = service_fn(|request: Request<hyper::body::Incoming>| async move {
                    let method = request.method().to_string();
                    let uri = request.uri().to_string();
                    let header = |name: &str| {
                        request
                            .headers()
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned)
                    };
                    let host = header("host");
                    let if_match = header("if-match");
                    let body = request.into_body().collect().await.unwrap().to_bytes();
                    let envelope = json!({
                        "type": "sync", "status": "Success", "status_code": 200,
                        "metadata": {
                            "method": method, "uri": uri, "host": host,
                            "if_match": if_match,
                            "body": String::from_utf8_lossy(&body),
                        }
                    });
                    Ok::<_, Infallible>(
                        Response::builder()
                            .status(200)
                            .header("etag", "\"v7\"")
                            .body(Full::new(Bytes::from(envelope.to_string())))
                            .unwrap(),
                    )
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

#[tokio::test]
async fn the_proxy_reaches_simulated_lxd_and_microceph_through_the_typed_clients() {
    let sim = simulators::SimBuilder::new()
        .nodes(1)
        .time_scale(0.0)
        .start()
        .await
        .unwrap();
    let node = sim.node("node1").unwrap();
    let sockets = ServiceSockets {
        lxd: node.lxd_socket(),
        microceph: node.microceph_socket(),
        microovn: node.microovn_socket(),
    };
    let setup = start(31, sockets, Duration::from_secs(30)).await;
    let agent = setup.client();

    let lxd = LxdClient::new(agent.service_transport(ProxiedService::Lxd), "micro02");
    let server = lxd.server(None).await.unwrap().value;
    assert_eq!(server.api_version, "1.0");
    assert_eq!(server.auth, "trusted");
    let direct = LxdClient::new(Transport::unix(node.lxd_socket()), "node1")
        .server(None)
        .await
        .unwrap()
        .value;
    assert_eq!(server, direct);

    let ceph = MicroCephClient::new(
        agent.service_transport(ProxiedService::MicroCeph),
        "micro02",
    );
    let info = ceph.server_info().await.unwrap();
    assert_eq!(info.name, "node1");
    assert!(!info.ready);

    agent.finish(&Finish::new(true, "done")).await.unwrap();
    setup.run.await.unwrap().unwrap();
}

/// The agent forwards every path under a service's prefix, so both
/// microcluster endpoint families pass: a MicroCeph reef (`/cluster/...`)
/// and a MicroOVN (`/core/...`) behind one agent, each found and used
/// through the typed clients, control socket calls included.
#[tokio::test]
async fn the_proxy_passes_both_microcluster_families() {
    use clients::microcluster::Family;
    use clients::microovn::MicroOvnClient;
    let sim = simulators::SimBuilder::new()
        .nodes(1)
        .microceph_family(simulators::McFamily::Cluster)
        .time_scale(0.0)
        .start()
        .await
        .unwrap();
    let node = sim.node("node1").unwrap();
    let sockets = ServiceSockets {
        lxd: node.lxd_socket(),
        microceph: node.microceph_socket(),
        microovn: node.microovn_socket(),
    };
    let setup = start(41, sockets, Duration::from_secs(30)).await;
    let agent = setup.client();
    let ceph = MicroCephClient::new(
        agent.service_transport(ProxiedService::MicroCeph),
        "micro02",
    );
    let ovn = MicroOvnClient::new(agent.service_transport(ProxiedService::MicroOvn), "micro02");
    ceph.ready().await.unwrap();
    ovn.ready().await.unwrap();
    let address = |port: u16| SocketAddr::new(node.ip(), port);
    ceph.bootstrap("node1", address(7443), &Default::default())
        .await
        .unwrap();
    ovn.bootstrap("node1", address(6443), &Default::default())
        .await
        .unwrap();
    assert!(
        !ceph
            .issue_token("node2", Duration::from_secs(60))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !ovn.issue_token("node2", Duration::from_secs(60))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(ceph.family().await.unwrap(), Family::Cluster);
    assert_eq!(ovn.family().await.unwrap(), Family::Core);
    assert_eq!(ceph.cluster_members().await.unwrap().len(), 1);
    assert_eq!(ovn.tokens().await.unwrap().len(), 1);
    assert_eq!(ceph.tokens().await.unwrap().len(), 1);

    agent.finish(&Finish::new(true, "done")).await.unwrap();
    setup.run.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_proxy_forwards_method_path_query_headers_and_body_verbatim() {
    let dir = tempfile::tempdir().unwrap();
    let mut sockets = missing_sockets(dir.path());
    sockets.microovn = dir.path().join("echo.socket");
    echo_service(sockets.microovn.clone());
    let setup = start(32, sockets, Duration::from_secs(30)).await;
    let agent = setup.client();

    let rest = RestClient::new(
        agent.service_transport(ProxiedService::MicroOvn),
        Service::MicroOvn,
        "micro02",
    );
    let body = json!({"name": "chassis", "value": [1, 2]});
    let reply = rest
        .sync_reply(
            http::Method::PUT,
            "/1.0/config/x?target=micro03&force=1",
            Some(&body),
            CallOptions::if_match(Some("\"v6\"")),
        )
        .await
        .unwrap();
    assert_eq!(reply.etag.as_deref(), Some("\"v7\""));
    assert_eq!(
        reply.metadata,
        json!({
            "method": "PUT",
            "uri": "/1.0/config/x?target=micro03&force=1",
            "host": "unix.socket",
            "if_match": "\"v6\"",
            "body": body.to_string(),
        })
    );
    // The bare prefix reaches the service's root.
    let root: serde_json::Value = rest.get("").await.unwrap();
    assert_eq!(root["uri"], "/");
}

#[tokio::test]
async fn a_missing_socket_or_unknown_service_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let sockets = missing_sockets(dir.path());
    let lxd_socket = sockets.lxd.clone();
    let setup = start(33, sockets, Duration::from_secs(30)).await;
    let agent = setup.client();

    let lxd = LxdClient::new(agent.service_transport(ProxiedService::Lxd), "micro02");
    let error = lxd.server(None).await.unwrap_err();
    assert_eq!(error.status(), Some(502));
    assert!(error.is_transient());
    assert_eq!(
        error.to_string(),
        format!(
            "LXD on node micro02, GET /1.0: the service answered 502: the agent on micro02 cannot reach LXD at {}: No such file or directory (os error 2); check that LXD is installed and running on micro02",
            lxd_socket.display()
        )
    );

    let raw = RestClient::new(
        Transport::https(
            &setup.address.to_string(),
            &setup.initiator,
            setup.joiner.fingerprint(),
        )
        .unwrap(),
        Service::MicroCloud,
        "micro02",
    );
    let error = raw
        .get::<serde_json::Value>("/1.0/services/ovs/x")
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "MicroCloud on node micro02, GET /1.0/services/ovs/x: the service answered 404: the agent on micro02 proxies lxd, microceph and microovn, not \"ovs\""
    );
    let error = raw
        .get::<serde_json::Value>("/1.0/agent/nothing")
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "MicroCloud on node micro02, GET /1.0/agent/nothing: the service answered 404: the agent on micro02 has no endpoint GET /1.0/agent/nothing"
    );
    let error = raw
        .sync_reply(
            http::Method::POST,
            "/1.0/agent/finish",
            Some(&json!({"succeeded": true})),
            CallOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "MicroCloud on node micro02, POST /1.0/agent/finish: the service answered 400: the body of POST /1.0/agent/finish must be {\"succeeded\": bool, \"message\": string}: missing field `message` at line 1 column 18"
    );
}

#[tokio::test]
async fn a_client_with_another_certificate_is_refused_during_the_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let setup = start(34, missing_sockets(dir.path()), Duration::from_secs(30)).await;
    let stranger = identity("mallory");
    let client = AgentClient::new(
        setup.address,
        "micro02",
        &stranger,
        setup.joiner.fingerprint(),
    )
    .unwrap();
    let error = client.system().await.unwrap_err();
    assert!(
        matches!(error, clients::Error::TlsRejected { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "MicroCloud on node micro02, GET /1.0/agent/system: https://{} ended the TLS session (received fatal alert: AccessDenied); check that this client's certificate is trusted by the service",
            setup.address
        )
    );
    // Nor can a stranger end the agent.
    assert!(client.finish(&Finish::new(true, "bye")).await.is_err());

    // The initiator still can.
    let facts = setup.client().system().await.unwrap();
    assert_eq!(facts.name, "micro02");
    setup
        .client()
        .finish(&Finish::new(true, "ok"))
        .await
        .unwrap();
    assert_eq!(setup.run.await.unwrap().unwrap(), Finish::new(true, "ok"));
}

#[tokio::test]
async fn the_initiators_client_refuses_an_agent_with_another_certificate() {
    // The initiator pins the joiner's certificate: an agent presenting
    // another one is refused by the client.
    let dir = tempfile::tempdir().unwrap();
    let setup = start(35, missing_sockets(dir.path()), Duration::from_secs(30)).await;
    let wrong_pin = Fingerprint::from_bytes([7; 32]);
    let client = AgentClient::new(setup.address, "micro02", &setup.initiator, wrong_pin).unwrap();
    let error = client.system().await.unwrap_err();
    assert!(
        matches!(error, clients::Error::FingerprintMismatch { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn system_facts_report_the_default_route_and_the_sockets() {
    let dir = tempfile::tempdir().unwrap();
    let mut sockets = missing_sockets(dir.path());
    sockets.microceph = dir.path().join("ceph.socket");
    let _ceph = UnixListener::bind(&sockets.microceph).unwrap();
    let expected_sockets = sockets.clone();
    let setup = start(36, sockets, Duration::from_secs(30)).await;

    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let facts = setup.client().system().await.unwrap();
    assert!(
        facts.clock_unix_ms >= before && facts.clock_unix_ms < before + 60_000,
        "the agent's clock reading {} is not now ({before})",
        facts.clock_unix_ms
    );
    let socket = |path: &Path, present| ServiceSocket {
        path: path.display().to_string(),
        present,
    };
    assert_eq!(
        facts,
        SystemFacts {
            name: "micro02".to_owned(),
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            default_route_interface: Some("enp5s0".to_owned()),
            services: [
                ("lxd".to_owned(), socket(&expected_sockets.lxd, false)),
                (
                    "microceph".to_owned(),
                    socket(&expected_sockets.microceph, true)
                ),
                (
                    "microovn".to_owned(),
                    socket(&expected_sockets.microovn, false)
                ),
            ]
            .into_iter()
            .collect(),
            clock_unix_ms: facts.clock_unix_ms,
        }
    );
}

#[tokio::test]
async fn finish_ends_the_agent_with_the_initiators_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let setup = start(37, missing_sockets(dir.path()), Duration::from_secs(30)).await;
    let agent = setup.client();
    agent
        .finish(&Finish::new(
            false,
            "micro03: MicroCeph could not add /dev/sdb",
        ))
        .await
        .unwrap();
    let outcome = setup.run.await.unwrap().unwrap();
    assert_eq!(
        outcome,
        Finish::new(false, "micro03: MicroCeph could not add /dev/sdb")
    );
    // The listener is gone.
    let error = agent.system().await.unwrap_err();
    assert!(matches!(error, clients::Error::Connect { .. }), "{error:?}");
}

#[tokio::test]
async fn a_silent_initiator_ends_the_agent_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let setup = start(38, missing_sockets(dir.path()), Duration::from_millis(300)).await;
    let error = setup.run.await.unwrap().unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "the initiator went silent: the agent on micro02 received no request from it (certificate {}) for 0.3 s; it may have stopped or lost the network; check the initiator's output, then run `microcloud preseed` again",
            setup.initiator.fingerprint()
        )
    );
}

#[tokio::test]
async fn keep_alive_holds_the_agent_until_finish() {
    let dir = tempfile::tempdir().unwrap();
    let setup = start(39, missing_sockets(dir.path()), Duration::from_millis(800)).await;
    let agent = setup.client();
    let work = async {
        // Longer than the idle timeout, with no other request.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        agent.finish(&Finish::new(true, "formed")).await.unwrap();
    };
    tokio::select! {
        error = agent.keep_alive(Duration::from_millis(100)) => panic!("keep-alive failed: {}", chain(&error)),
        () = work => {}
    }
    assert_eq!(
        setup.run.await.unwrap().unwrap(),
        Finish::new(true, "formed")
    );
}

#[test]
fn the_agent_futures_can_run_on_any_worker_thread() {
    fn send<T: Send>(_: &T) {}
    send(&Agent::bind(addr(40)));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let agent = rt.block_on(Agent::bind(addr(40))).unwrap();
    let settings = AgentSettings::new(
        "x".to_owned(),
        identity("x"),
        Fingerprint::from_bytes([1; 32]),
    );
    send(&agent.run(settings));
}

#[tokio::test]
async fn a_client_without_a_certificate_gets_no_answer() {
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let dir = tempfile::tempdir().unwrap();
    let setup = start(40, missing_sockets(dir.path()), Duration::from_secs(30)).await;
    let config = rustls::ClientConfig::builder_with_provider(clients::tls::crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(clients::tls::AnyServerCertificate::new()))
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(setup.address).await.unwrap();
    let name = rustls::pki_types::ServerName::IpAddress(setup.address.ip().into());
    // TLS 1.3 lets the client finish its side before the server has
    // checked it: the refusal arrives as an alert on the first read.
    let outcome = match tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
    {
        Err(e) => Err(e),
        Ok(mut tls) => {
            let request = b"GET /1.0/agent/system HTTP/1.1\r\nhost: agent\r\n\r\n";
            let _ = tls.write_all(request).await;
            let mut answer = Vec::new();
            tls.read_to_end(&mut answer).await.map(|_| answer)
        }
    };
    let error = outcome.expect_err("an answer without a client certificate");
    assert_eq!(
        error.to_string(),
        "received fatal alert: CertificateRequired"
    );
    // The initiator still reaches it.
    assert_eq!(setup.client().system().await.unwrap().name, "micro02");
}
