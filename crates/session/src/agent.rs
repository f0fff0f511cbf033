//! The per-machine agent: what a joiner runs after the trust session
//! admitted it, so that the initiator can drive this machine's services
//! and tell it how the run ended.
//!
//! # Trust
//!
//! HTTPS (TLS 1.3) on the joiner's address, port 9443 by default
//! ([`crate::net::DEFAULT_PORT`]), presenting the same [`Identity`] the
//! joiner used in the trust session, so the initiator reaches it with that
//! certificate pinned (`clients::Transport::https`). Only the initiator's
//! certificate, pinned from the session's verdict, is accepted: any other
//! client certificate fails the TLS handshake with an `access_denied`
//! alert (`clients::tls::ClientCertByFingerprint` with `ClientCerts::Pinned`),
//! and the handler checks the fingerprint again (403).
//!
//! # Endpoints
//!
//! | endpoint                                              | what                                                                        |
//! |-------------------------------------------------------|-----------------------------------------------------------------------------|
//! | `ANY /1.0/services/{lxd,microceph,microovn}/<rest>`   | forwarded verbatim (method, `/<rest>` and query, headers, body) to the service's local unix socket; the answer comes back verbatim |
//! | `GET /1.0/agent/system`                               | [`SystemFacts`]: facts only this machine knows (default route interface)    |
//! | `POST /1.0/agent/finish`                              | [`Finish`] `{"succeeded": bool, "message": "..."}`: the run is over          |
//!
//! The agent's own endpoints answer with the services' envelope (`sync` /
//! `error`), so [`AgentClient`] is an ordinary `clients::RestClient`;
//! proxied requests are used through
//! `Transport::https(..).with_prefix("/1.0/services/lxd")`
//! ([`AgentClient::service_transport`]), with the typed clients unchanged.
//! Hop-by-hop headers are not forwarded and `Host` becomes `unix.socket`
//! (as for a local client); WebSocket upgrades are not proxied (nothing
//! here uses them). Proxied bodies stream in both directions and are not
//! capped by the agent (the clients cap what they read). When a service's socket cannot be
//! reached the agent answers 502 with an error envelope naming the service
//! and the socket (transient for the clients' retry rules).
//!
//! # Lifetime and failure behaviour
//!
//! [`Agent::bind`] opens the listener before the joiner joins (so the
//! initiator's first request waits in the backlog rather than being
//! refused); [`Agent::run`] serves until
//!
//! * the initiator posts `finish`: `run` returns that [`Finish`] after the
//!   answer was delivered (the binary exits 0 or non-zero with the
//!   initiator's message);
//! * the initiator has not sent a request for `idle_timeout` (default
//!   10 minutes) while none was in progress: `run` fails with
//!   [`NetError::InitiatorSilent`] instead of hanging until the session
//!   timeout. The initiator keeps an agent alive during long phases with
//!   [`AgentClient::keep_alive`].
//!
//! Dropping the `run` future closes the listener and every connection.

mod route;

pub use route::default_route_interface_from_proc;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use clients::cert::{Fingerprint, Identity};
use clients::envelope::Envelope;
use clients::rest::{CallOptions, RestClient};
use clients::{Service, Transport};
use http::header::{self, HeaderMap, HeaderValue};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, UnixStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use crate::net::{Limits, MAX_MESSAGE_BYTES, NetError, Peer, accept_loop, read_body, tls};

/// `GET` path of the machine's [`SystemFacts`].
pub const SYSTEM_PATH: &str = "/1.0/agent/system";
/// `POST` path of a [`Finish`].
pub const FINISH_PATH: &str = "/1.0/agent/finish";
/// Prefix of the proxied services (`/1.0/services/<service>/<rest>`).
pub const SERVICES_PREFIX: &str = "/1.0/services/";
/// Default idle timeout (10 minutes).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// Where the kernel lists IPv4 routes.
pub const ROUTE_TABLE: &str = "/proc/net/route";

/// A service the agent proxies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProxiedService {
    /// LXD (`/1.0/services/lxd`).
    Lxd,
    /// MicroCeph (`/1.0/services/microceph`).
    MicroCeph,
    /// MicroOVN (`/1.0/services/microovn`).
    MicroOvn,
}

impl ProxiedService {
    /// Every proxied service.
    pub const ALL: [ProxiedService; 3] = [
        ProxiedService::Lxd,
        ProxiedService::MicroCeph,
        ProxiedService::MicroOvn,
    ];

    /// The path segment: `lxd`, `microceph` or `microovn`.
    pub fn segment(self) -> &'static str {
        match self {
            ProxiedService::Lxd => "lxd",
            ProxiedService::MicroCeph => "microceph",
            ProxiedService::MicroOvn => "microovn",
        }
    }

    /// The path prefix on the agent, e.g. `/1.0/services/lxd`.
    pub fn prefix(self) -> String {
        format!("{SERVICES_PREFIX}{}", self.segment())
    }

    /// The service, for messages and client contexts.
    pub fn service(self) -> Service {
        match self {
            ProxiedService::Lxd => Service::Lxd,
            ProxiedService::MicroCeph => Service::MicroCeph,
            ProxiedService::MicroOvn => Service::MicroOvn,
        }
    }

    fn from_segment(segment: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.segment() == segment)
    }
}

/// The local unix sockets the agent forwards to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSockets {
    /// LXD's `unix.socket`.
    pub lxd: PathBuf,
    /// MicroCeph's `control.socket`.
    pub microceph: PathBuf,
    /// MicroOVN's `control.socket`.
    pub microovn: PathBuf,
}

impl ServiceSockets {
    /// The snap locations (`clients::paths`).
    pub fn snap() -> Self {
        ServiceSockets {
            lxd: PathBuf::from(clients::paths::LXD_SNAP_SOCKET),
            microceph: PathBuf::from(clients::paths::MICROCEPH_SOCKET),
            microovn: PathBuf::from(clients::paths::MICROOVN_SOCKET),
        }
    }

    /// The socket of `service`.
    pub fn get(&self, service: ProxiedService) -> &Path {
        match service {
            ProxiedService::Lxd => &self.lxd,
            ProxiedService::MicroCeph => &self.microceph,
            ProxiedService::MicroOvn => &self.microovn,
        }
    }
}

impl Default for ServiceSockets {
    fn default() -> Self {
        Self::snap()
    }
}

/// Settings of the agent.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    /// This machine's name (for messages and [`SystemFacts`]).
    pub name: String,
    /// The certificate the agent presents: the one the joiner used in the
    /// trust session, which the initiator pinned.
    pub identity: Identity,
    /// The initiator's certificate, pinned from the session's verdict; the
    /// only client accepted.
    pub initiator: Fingerprint,
    /// The sockets requests are forwarded to (default: snap paths).
    pub sockets: ServiceSockets,
    /// The routing table file (default `/proc/net/route`).
    pub route_table: PathBuf,
    /// How long the agent waits for a request from the initiator before
    /// giving up (default 10 minutes).
    pub idle_timeout: Duration,
}

impl AgentSettings {
    /// Settings with the defaults.
    pub fn new(name: String, identity: Identity, initiator: Fingerprint) -> Self {
        AgentSettings {
            name,
            identity,
            initiator,
            sockets: ServiceSockets::snap(),
            route_table: PathBuf::from(ROUTE_TABLE),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// How the initiator says the run ended (`POST /1.0/agent/finish`), and
/// what [`Agent::run`] returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finish {
    /// Whether the whole run succeeded.
    pub succeeded: bool,
    /// The initiator's summary, shown on the joiner.
    pub message: String,
    /// The exit status the joiner's `microcloud preseed` ends with (the
    /// initiator's, so that every machine reports the same outcome); `0`
    /// when absent and `succeeded`, `1` when absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<u8>,
}

impl Finish {
    /// An outcome with the default exit status.
    pub fn new(succeeded: bool, message: impl Into<String>) -> Finish {
        Finish {
            succeeded,
            message: message.into(),
            exit_code: None,
        }
    }

    /// The exit status this outcome stands for.
    pub fn exit_code(&self) -> u8 {
        self.exit_code.unwrap_or(if self.succeeded { 0 } else { 1 })
    }
}

/// Facts about a machine that only the machine itself knows
/// (`GET /1.0/agent/system`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemFacts {
    /// The machine's name.
    pub name: String,
    /// The agent's version.
    pub agent_version: String,
    /// The interface of the first IPv4 default route in the routing table
    /// (as LXD picks it), if any.
    pub default_route_interface: Option<String>,
    /// Each proxied service's socket and whether it exists, by segment
    /// (`lxd`, `microceph`, `microovn`).
    pub services: BTreeMap<String, ServiceSocket>,
    /// The machine's clock when it answered, in milliseconds since the
    /// Unix epoch (0 when unknown), for the initiator's clock check.
    #[serde(default)]
    pub clock_unix_ms: u64,
}

/// This machine's clock in milliseconds since the Unix epoch (0 when it
/// is before the epoch), as [`SystemFacts::clock_unix_ms`] reports it.
pub fn clock_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A proxied service's local socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSocket {
    /// Its path.
    pub path: String,
    /// Whether it exists.
    pub present: bool,
}

/// A bound agent listener, not serving yet.
#[derive(Debug)]
pub struct Agent {
    listener: TcpListener,
    local_addr: SocketAddr,
}

type AgentBody = BoxBody<Bytes, hyper::Error>;

struct Activity {
    last: Instant,
    in_flight: usize,
}

struct Shared {
    settings: AgentSettings,
    activity: Mutex<Activity>,
    finish: watch::Sender<Option<Finish>>,
}

impl Shared {
    fn activity(&self) -> std::sync::MutexGuard<'_, Activity> {
        self.activity.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Marks a request from the initiator in progress; on drop, records the
/// time it ended.
struct InFlight(Arc<Shared>);

impl InFlight {
    fn begin(shared: &Arc<Shared>) -> InFlight {
        let mut activity = shared.activity();
        activity.in_flight += 1;
        activity.last = Instant::now();
        InFlight(Arc::clone(shared))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut activity = self.0.activity();
        activity.in_flight = activity.in_flight.saturating_sub(1);
        activity.last = Instant::now();
    }
}

/// Aborts the serving task when `run` ends or is dropped.
struct ServerTask(JoinHandle<()>);

impl Drop for ServerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Agent {
    /// Opens the listener on `address` (the joiner's address and port; port
    /// 0 picks one).
    pub async fn bind(address: SocketAddr) -> Result<Agent, NetError> {
        let bind_error = |source| NetError::Bind {
            what: "agent",
            address,
            source,
        };
        let listener = TcpListener::bind(address).await.map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        Ok(Agent {
            listener,
            local_addr,
        })
    }

    /// The bound address (with the actual port).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves the initiator until it posts `finish` (returned) or stays
    /// silent for the idle timeout ([`NetError::InitiatorSilent`]); see
    /// the [module docs](self).
    pub async fn run(self, settings: AgentSettings) -> Result<Finish, NetError> {
        let config = tls::agent_server_config(&settings.identity, settings.initiator)?;
        let idle = settings.idle_timeout;
        let shared = Arc::new(Shared {
            settings,
            activity: Mutex::new(Activity {
                last: Instant::now(),
                in_flight: 0,
            }),
            finish: watch::Sender::new(None),
        });
        let mut finished = shared.finish.subscribe();
        let (stop, stop_rx) = watch::channel(false);
        let limits = Limits {
            connections: 64,
            handshake: Duration::from_secs(10),
            lifetime: None,
            grace: Duration::from_secs(5),
        };
        let serving = Arc::clone(&shared);
        let mut server = ServerTask(tokio::spawn(accept_loop(
            self.listener,
            TlsAcceptor::from(config),
            limits,
            stop_rx,
            move |peer| {
                let shared = Arc::clone(&serving);
                service_fn(move |request| handle(Arc::clone(&shared), peer, request))
            },
        )));

        let result = loop {
            let wake = {
                let activity = shared.activity();
                if activity.in_flight > 0 {
                    Instant::now() + idle
                } else {
                    activity.last + idle
                }
            };
            tokio::select! {
                outcome = finished.wait_for(Option::is_some) => {
                    match outcome.ok().and_then(|finish| finish.clone()) {
                        Some(finish) => break Ok(finish),
                        // The sender lives in `shared`; it cannot be gone.
                        None => continue,
                    }
                }
                _ = tokio::time::sleep_until(wake) => {
                    let activity = shared.activity();
                    if activity.in_flight == 0 && activity.last + idle <= Instant::now() {
                        break Err(NetError::InitiatorSilent {
                            name: shared.settings.name.clone(),
                            initiator: shared.settings.initiator,
                            idle,
                        });
                    }
                }
            }
        };
        // Stop accepting; let the `finish` answer (and anything else in
        // progress) be delivered within the grace period.
        stop.send_replace(true);
        let _ = (&mut server.0).await;
        result
    }
}

fn envelope_response(status: StatusCode, envelope: &Envelope) -> Response<AgentBody> {
    let body = serde_json::to_vec(envelope).unwrap_or_else(|_| {
        br#"{"type":"error","error_code":500,"error":"cannot encode the response"}"#.to_vec()
    });
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn full(body: Vec<u8>) -> AgentBody {
    Full::new(Bytes::from(body))
        .map_err(|never| match never {})
        .boxed()
}

fn error_response(status: StatusCode, message: String) -> Response<AgentBody> {
    envelope_response(status, &Envelope::error(status.as_u16(), &message))
}

fn sync_response(metadata: serde_json::Value) -> Response<AgentBody> {
    envelope_response(StatusCode::OK, &Envelope::sync(metadata))
}

async fn handle(
    shared: Arc<Shared>,
    peer: Peer,
    request: Request<Incoming>,
) -> Result<Response<AgentBody>, Infallible> {
    if peer.certificate != shared.settings.initiator {
        // The TLS verifier already refuses other certificates.
        return Ok(error_response(
            StatusCode::FORBIDDEN,
            format!(
                "the agent on {} accepts only the initiator's certificate {}, not {}",
                shared.settings.name, shared.settings.initiator, peer.certificate
            ),
        ));
    }
    let _in_flight = InFlight::begin(&shared);
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    if let Some(rest) = path.strip_prefix(SERVICES_PREFIX) {
        let (segment, rest) = match rest.split_once('/') {
            Some((segment, rest)) => (segment, format!("/{rest}")),
            None => (rest, "/".to_owned()),
        };
        return Ok(match ProxiedService::from_segment(segment) {
            Some(service) => proxy(&shared.settings, service, &rest, request).await,
            None => error_response(
                StatusCode::NOT_FOUND,
                format!(
                    "the agent on {} proxies lxd, microceph and microovn, not {segment:?}",
                    shared.settings.name
                ),
            ),
        });
    }
    let response = match (path.as_str(), method) {
        (SYSTEM_PATH, Method::GET) => system(&shared.settings).await,
        (FINISH_PATH, Method::POST) => finish(&shared, request.into_body()).await,
        (SYSTEM_PATH, other) | (FINISH_PATH, other) => error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{path} does not accept {other}"),
        ),
        (_, other) => error_response(
            StatusCode::NOT_FOUND,
            format!(
                "the agent on {} has no endpoint {other} {path}",
                shared.settings.name
            ),
        ),
    };
    Ok(response)
}

async fn system(settings: &AgentSettings) -> Response<AgentBody> {
    let route = match tokio::fs::read_to_string(&settings.route_table).await {
        Ok(text) => text,
        Err(e) => {
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "the agent on {} cannot read {}: {e}",
                    settings.name,
                    settings.route_table.display()
                ),
            );
        }
    };
    let mut services = BTreeMap::new();
    for service in ProxiedService::ALL {
        let path = settings.sockets.get(service);
        services.insert(
            service.segment().to_owned(),
            ServiceSocket {
                path: path.display().to_string(),
                present: tokio::fs::symlink_metadata(path).await.is_ok(),
            },
        );
    }
    let facts = SystemFacts {
        name: settings.name.clone(),
        agent_version: env!("CARGO_PKG_VERSION").to_owned(),
        default_route_interface: default_route_interface_from_proc(&route),
        services,
        clock_unix_ms: clock_unix_ms(),
    };
    match serde_json::to_value(&facts) {
        Ok(value) => sync_response(value),
        Err(e) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode the system facts: {e}"),
        ),
    }
}

async fn finish(shared: &Shared, body: Incoming) -> Response<AgentBody> {
    let body = match read_body(body, MAX_MESSAGE_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                format!(
                    "the body of POST {FINISH_PATH} is cut off or larger than {MAX_MESSAGE_BYTES} bytes"
                ),
            );
        }
    };
    let outcome: Finish = match serde_json::from_slice(&body) {
        Ok(outcome) => outcome,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                format!(
                    "the body of POST {FINISH_PATH} must be {{\"succeeded\": bool, \"message\": string}}: {e}"
                ),
            );
        }
    };
    // The first `finish` wins; a repeated one (a retry) changes nothing.
    shared.finish.send_if_modified(|current| {
        if current.is_none() {
            *current = Some(outcome);
            true
        } else {
            false
        }
    });
    sync_response(serde_json::json!({}))
}

/// Headers that belong to one connection and are never forwarded.
const HOP_BY_HOP: [header::HeaderName; 6] = [
    header::CONNECTION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
];

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
}

async fn proxy(
    settings: &AgentSettings,
    service: ProxiedService,
    rest: &str,
    request: Request<Incoming>,
) -> Response<AgentBody> {
    let socket = settings.sockets.get(service);
    let unreachable = |what: &str, e: &dyn fmt::Display| {
        error_response(
            StatusCode::BAD_GATEWAY,
            format!(
                "the agent on {} {what} {} at {}: {e}; check that {} is installed and running on {}",
                settings.name,
                service.service(),
                socket.display(),
                service.service(),
                settings.name
            ),
        )
    };
    let (mut parts, body) = request.into_parts();
    let target = match parts.uri.query() {
        Some(query) => format!("{rest}?{query}"),
        None => rest.to_owned(),
    };
    parts.uri = match target.parse() {
        Ok(uri) => uri,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                format!("cannot forward the path {target:?}: {e}"),
            );
        }
    };
    strip_hop_by_hop(&mut parts.headers);
    parts
        .headers
        .insert(header::HOST, HeaderValue::from_static("unix.socket"));
    let forwarded = Request::from_parts(parts, body);

    let stream = match UnixStream::connect(socket).await {
        Ok(stream) => stream,
        Err(e) => return unreachable("cannot reach", &e),
    };
    let (mut sender, connection) =
        match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await {
            Ok(handshake) => handshake,
            Err(e) => return unreachable("cannot talk to", &e),
        };
    // Ends when the response has been read (or dropped) and the sender is
    // gone; the connection is the unix socket, never the network.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    match sender.send_request(forwarded).await {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            Response::from_parts(parts, body.boxed())
        }
        Err(e) => unreachable("lost the connection to", &e),
    }
}

/// The initiator's client for one joiner's agent: the agent's own
/// endpoints, and transports for the proxied services. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AgentClient {
    rest: RestClient,
}

impl AgentClient {
    /// A client for the agent of `node` at `address`, presenting the
    /// initiator's `identity` and accepting only the joiner's certificate
    /// `joiner` (pinned from the session).
    pub fn new(
        address: SocketAddr,
        node: &str,
        identity: &Identity,
        joiner: Fingerprint,
    ) -> Result<Self, clients::Error> {
        let transport = Transport::https(&address.to_string(), identity, joiner)?;
        Ok(AgentClient {
            rest: RestClient::new(transport, Service::MicroCloud, node),
        })
    }

    /// The same client with other time limits.
    pub fn with_timeouts(mut self, timeouts: clients::Timeouts) -> Self {
        self.rest = self.rest.with_timeouts(timeouts);
        self
    }

    /// The transport to `service` through the agent's proxy, for the typed
    /// clients (`LxdClient::new(agent.service_transport(Lxd), node)`).
    pub fn service_transport(&self, service: ProxiedService) -> Transport {
        self.rest.transport().clone().with_prefix(&service.prefix())
    }

    /// `GET /1.0/agent/system`.
    pub async fn system(&self) -> Result<SystemFacts, clients::Error> {
        self.rest.get(SYSTEM_PATH).await
    }

    /// `POST /1.0/agent/finish`: ends the agent with this outcome.
    pub async fn finish(&self, finish: &Finish) -> Result<(), clients::Error> {
        self.rest
            .sync_reply(
                Method::POST,
                FINISH_PATH,
                Some(finish),
                CallOptions::default(),
            )
            .await
            .map(|_| ())
    }

    /// Calls [`AgentClient::system`] every `every` so that the agent does
    /// not time out while the initiator works elsewhere; transient failures
    /// are retried at the next tick. Returns the first permanent failure;
    /// run it beside the real work and drop it when done.
    pub async fn keep_alive(&self, every: Duration) -> clients::Error {
        loop {
            tokio::time::sleep(every).await;
            if let Err(e) = self.system().await
                && !e.is_transient()
            {
                return e;
            }
        }
    }
}
