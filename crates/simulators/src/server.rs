//! Listeners (unix socket and HTTPS), request dispatch with fault
//! injection, node crash handling, and the HTTPS client simulated daemons
//! use to talk to each other.
//!
//! Every connection task watches its node's crash generation: a crash
//! closes all listeners of the node and drops every open connection, so
//! clients see connection resets or EOF exactly as with a dead machine.
//! Unix socket files are left in place (connecting then fails with
//! "connection refused", as with a crashed daemon).

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin as StdPin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::sync::watch;

use crate::clock::SimClock;
use crate::faults::{Decision, FaultSet, Service};
use crate::http::{ApiError, Body, Peer, Reply, Request, collect_body, parse_query, render};
use crate::tls::{DynamicCert, Identity, Pin};

/// A boxed future, for handler trait objects.
pub(crate) type BoxFuture<T> = StdPin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Control block shared by all services of one node.
#[derive(Debug)]
pub(crate) struct NodeCtl {
    pub name: String,
    pub ip: std::net::IpAddr,
    pub state_dir: PathBuf,
    alive: AtomicBool,
    crash_gen: watch::Sender<u64>,
    /// How many of the node's accept loops still run.
    accepting: watch::Sender<usize>,
    pub faults: Mutex<FaultSet>,
    pub time_scale: f64,
    pub clock: Arc<SimClock>,
}

impl NodeCtl {
    pub(crate) fn new(
        name: String,
        ip: std::net::IpAddr,
        state_dir: PathBuf,
        time_scale: f64,
        clock: Arc<SimClock>,
    ) -> Arc<Self> {
        let (crash_gen, _) = watch::channel(0);
        Arc::new(Self {
            name,
            ip,
            state_dir,
            alive: AtomicBool::new(true),
            crash_gen,
            accepting: watch::channel(0).0,
            faults: Mutex::new(FaultSet::default()),
            time_scale,
            clock,
        })
    }
    pub(crate) fn is_alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }
    /// Kills every listener and connection of the node.
    pub(crate) fn crash(&self) {
        self.alive.store(false, Ordering::SeqCst);
        self.crash_gen.send_modify(|g| *g += 1);
    }
    pub(crate) fn revive(&self) {
        self.alive.store(true, Ordering::SeqCst);
    }
    fn generation(&self) -> watch::Receiver<u64> {
        self.crash_gen.subscribe()
    }
    /// Resolves when the node crashes after this call (background work of
    /// a daemon ends with it), and at once when it is already down: a
    /// request whose handler starts while the node is crashing (between
    /// `dispatch`'s liveness check and this call) must end with the node,
    /// not run on into the restarted daemon (a dead node's join that
    /// finished after its restart left LXD members that disagreed).
    /// `crash` clears `alive` before it moves the generation on, so one of
    /// the two is always seen.
    pub(crate) fn until_crash(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.generation();
        let start = *rx.borrow_and_update();
        let down = !self.is_alive();
        async move {
            if down {
                return;
            }
            while *rx.borrow_and_update() == start {
                if rx.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
    }
    /// Counts one running accept loop until the guard drops.
    fn accepting(self: &Arc<Self>) -> AcceptGuard {
        self.accepting.send_modify(|n| *n += 1);
        AcceptGuard(self.clone())
    }
    /// Resolves once no accept loop of the node runs (bounded: a loop
    /// that never ends must not hang a crash).
    async fn listeners_closed(&self) {
        let mut rx = self.accepting.subscribe();
        let _ = tokio::time::timeout(Duration::from_secs(2), rx.wait_for(|n| *n == 0)).await;
    }
    /// Sleeps for a simulated duration scaled by the time scale.
    pub(crate) async fn work(&self, d: Duration) {
        let d = d.mul_f64(self.time_scale.max(0.0));
        if !d.is_zero() {
            tokio::time::sleep(d).await;
        }
    }
}

/// Marks an accept loop as running while it lives.
struct AcceptGuard(Arc<NodeCtl>);

impl Drop for AcceptGuard {
    fn drop(&mut self) {
        self.0.accepting.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// The node's crash generation when a listener or connection started.
#[derive(Clone)]
struct Generation {
    rx: watch::Receiver<u64>,
    start: u64,
}

impl Generation {
    fn now(node: &NodeCtl) -> Self {
        let rx = node.generation();
        let start = *rx.borrow();
        Self { rx, start }
    }
    /// Resolves when the node has crashed since `start`, even if that
    /// happened before the first poll.
    async fn crashed(mut self) {
        while *self.rx.borrow_and_update() == self.start {
            if self.rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// A simulated daemon's request handler.
pub(crate) trait Handler: Send + Sync + 'static {
    /// Handles one request.
    fn handle(self: Arc<Self>, req: Request) -> BoxFuture<Reply>;
    /// Error text the daemon uses for a bare status (fault injection).
    fn status_text(&self, status: u16) -> String;
}

/// Go's `http.StatusText` for the statuses that matter here.
pub(crate) fn go_status_text(status: u16) -> &'static str {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown Status")
}

#[derive(Debug)]
struct DropConnection;
impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}
impl std::error::Error for DropConnection {}

struct HttpsListener {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
}

/// The listeners of one service on one node.
pub(crate) struct Listeners {
    node: Arc<NodeCtl>,
    service: Service,
    unix: Mutex<Option<(PathBuf, watch::Sender<bool>)>>,
    https: Mutex<Option<HttpsListener>>,
    pub cert: Arc<DynamicCert>,
    tls: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for Listeners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listeners")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl Listeners {
    pub(crate) fn new(
        node: Arc<NodeCtl>,
        service: Service,
        cert: Identity,
    ) -> Result<Self, crate::SimError> {
        let cert = DynamicCert::new(cert);
        let tls = crate::tls::server_config(cert.clone())?;
        Ok(Self {
            node,
            service,
            unix: Mutex::new(None),
            https: Mutex::new(None),
            cert,
            tls,
        })
    }

    pub(crate) fn https_addr(&self) -> Option<SocketAddr> {
        self.https
            .lock()
            .ok()
            .and_then(|h| h.as_ref().map(|l| l.addr))
    }

    pub(crate) fn unix_path(&self) -> Option<PathBuf> {
        self.unix
            .lock()
            .ok()
            .and_then(|u| u.as_ref().map(|(p, _)| p.clone()))
    }

    /// Binds the unix socket (replacing a stale socket file).
    pub(crate) fn bind_unix(&self, handler: Arc<dyn Handler>, path: &Path) -> std::io::Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let _ = std::fs::remove_file(path);
        let std_listener = std::os::unix::net::UnixListener::bind(path)?;
        std_listener.set_nonblocking(true)?;
        let listener = tokio::net::UnixListener::from_std(std_listener)?;
        let (stop_tx, stop_rx) = watch::channel(false);
        if let Ok(mut u) = self.unix.lock() {
            if let Some((_, old)) = u.take() {
                let _ = old.send(true);
            }
            *u = Some((path.to_path_buf(), stop_tx));
        }
        let node = self.node.clone();
        let service = self.service;
        let guard = node.accepting();
        let generation = Generation::now(&node);
        tokio::spawn(accept_unix(
            listener, guard, generation, service, handler, stop_rx,
        ));
        Ok(())
    }

    /// Binds HTTPS on `addr` unless already listening there.
    pub(crate) fn bind_https(
        &self,
        handler: Arc<dyn Handler>,
        addr: SocketAddr,
    ) -> std::io::Result<()> {
        let Ok(mut guard) = self.https.lock() else {
            return Err(std::io::Error::other("listener state poisoned"));
        };
        if guard.as_ref().is_some_and(|l| l.addr == addr) {
            return Ok(());
        }
        if let Some(old) = guard.take() {
            let _ = old.stop.send(true);
        }
        let std_listener = bind_when_free(addr)?;
        std_listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(std_listener)?;
        let (stop_tx, stop_rx) = watch::channel(false);
        *guard = Some(HttpsListener {
            addr,
            stop: stop_tx,
        });
        let node = self.node.clone();
        let service = self.service;
        let acceptor = tokio_rustls::TlsAcceptor::from(self.tls.clone());
        let guard = node.accepting();
        let generation = Generation::now(&node);
        tokio::spawn(accept_tls(
            listener, acceptor, guard, generation, service, handler, stop_rx,
        ));
        Ok(())
    }

    /// Stops listening on HTTPS.
    pub(crate) fn unbind_https(&self) {
        if let Ok(mut guard) = self.https.lock()
            && let Some(old) = guard.take()
        {
            let _ = old.stop.send(true);
        }
    }

    /// Re-binds everything that was bound before a crash.
    pub(crate) fn rebind(&self, handler: Arc<dyn Handler>) -> std::io::Result<()> {
        if let Some(path) = self.unix_path() {
            self.bind_unix(handler.clone(), &path)?;
        }
        let https = self
            .https
            .lock()
            .ok()
            .and_then(|mut g| g.take().map(|l| l.addr));
        if let Some(addr) = https {
            self.bind_https(handler, addr)?;
        }
        Ok(())
    }
}

async fn accept_unix(
    listener: tokio::net::UnixListener,
    guard: AcceptGuard,
    generation: Generation,
    service: Service,
    handler: Arc<dyn Handler>,
    mut stop: watch::Receiver<bool>,
) {
    let node = guard.0.clone();
    let crashed_fut = generation.clone().crashed();
    tokio::pin!(crashed_fut);
    loop {
        tokio::select! {
            _ = &mut crashed_fut => break,
            _ = stop.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let ctx = ConnCtx { node: node.clone(), service, handler: handler.clone() };
                tokio::spawn(serve_conn(stream, Peer::Unix, ctx, generation.clone()));
            }
        }
    }
    // The socket closes before the loop counts as ended.
    drop(listener);
    drop(guard);
}

async fn accept_tls(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    guard: AcceptGuard,
    generation: Generation,
    service: Service,
    handler: Arc<dyn Handler>,
    mut stop: watch::Receiver<bool>,
) {
    let node = guard.0.clone();
    let crashed_fut = generation.clone().crashed();
    tokio::pin!(crashed_fut);
    loop {
        tokio::select! {
            _ = &mut crashed_fut => break,
            _ = stop.changed() => break,
            accepted = listener.accept() => {
                let Ok((tcp, _)) = accepted else { continue };
                let acceptor = acceptor.clone();
                let ctx = ConnCtx { node: node.clone(), service, handler: handler.clone() };
                let generation = generation.clone();
                tokio::spawn(async move {
                    let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp));
                    let Ok(Ok(tls)) = handshake.await else { return };
                    let cert = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).map(|c| c.to_vec());
                    let peer = Peer::Tls {
                        fingerprint: cert.as_deref().map(crate::tls::fingerprint),
                        cert,
                    };
                    serve_conn(tls, peer, ctx, generation).await;
                });
            }
        }
    }
    // The socket closes before the loop counts as ended.
    drop(listener);
    drop(guard);
}

#[derive(Clone)]
struct ConnCtx {
    node: Arc<NodeCtl>,
    service: Service,
    handler: Arc<dyn Handler>,
}

async fn serve_conn<IO>(io: IO, peer: Peer, ctx: ConnCtx, generation: Generation)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let ctx_node = ctx.node.clone();
    let svc = hyper::service::service_fn(move |req: http::Request<Incoming>| {
        let ctx = ctx.clone();
        let peer = peer.clone();
        async move { dispatch(ctx, peer, req).await }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), svc);
    // A crash cuts the connection only once the node's listeners are
    // closed: a client that saw its request cut and connects again must be
    // refused, as by a dead process, not accepted by a listener that has
    // not noticed the crash yet and then reset.
    let node = ctx_node;
    tokio::select! {
        _ = conn => {}
        () = async {
            generation.crashed().await;
            node.listeners_closed().await;
        } => {}
    }
}

async fn dispatch(
    ctx: ConnCtx,
    peer: Peer,
    req: http::Request<Incoming>,
) -> Result<http::Response<Body>, DropConnection> {
    let (parts, body) = req.into_parts();
    let body = collect_body(body).await.map_err(|_| DropConnection)?;
    let path = parts.uri.path().to_string();
    let method = parts.method.as_str().to_string();
    let decisions = match ctx.node.faults.lock() {
        Ok(mut f) => f.decide(
            ctx.service,
            &method,
            &path,
            peer.is_unix(),
            ctx.node.time_scale,
        ),
        Err(_) => Vec::new(),
    };
    for d in decisions {
        match d {
            Decision::Delay(d) => tokio::time::sleep(d).await,
            Decision::Error(status, message) => {
                let message = message.unwrap_or_else(|| ctx.handler.status_text(status));
                return Ok(render(Reply::Error(ApiError::new(status, message))));
            }
            Decision::Drop => return Err(DropConnection),
            Decision::Hang => std::future::pending::<()>().await,
            Decision::Crash => {
                ctx.node.crash();
                ctx.node.listeners_closed().await;
                return Err(DropConnection);
            }
        }
    }
    if !ctx.node.is_alive() {
        return Err(DropConnection);
    }
    let request = Request {
        method: parts.method,
        path,
        query: parse_query(parts.uri.query()),
        headers: parts.headers,
        body,
        peer,
    };
    // A daemon finishes a request even when its client goes away (Go's
    // net/http runs the handler to its end; LXD runs long work as
    // background operations): only a crash of the node ends it. Without
    // this, a client that dies mid-request (the tool being killed) would
    // cut a handler at an arbitrary point, leaving half-updated state that
    // no real daemon leaves.
    let handler = ctx.handler.clone();
    let crash = ctx.node.until_crash();
    let task = tokio::spawn(async move {
        // Crash first: a handler must not take a step on a node that is down.
        tokio::select! {
            biased;
            () = crash => None,
            reply = handler.handle(request) => Some(reply),
        }
    });
    match task.await {
        Ok(Some(reply)) => Ok(render(reply)),
        _ => Err(DropConnection),
    }
}

/// Result of a member-to-member HTTPS call.
#[derive(Debug)]
pub(crate) struct PeerResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl PeerResponse {
    /// Interprets the body as an envelope: the metadata of a sync or async
    /// response, or the envelope's error.
    pub(crate) fn envelope(&self) -> Result<Value, ApiError> {
        let v: Value = serde_json::from_slice(&self.body)
            .map_err(|e| ApiError::internal(format!("Failed to parse response: {e}")))?;
        if v.get("type").and_then(Value::as_str) == Some("error") {
            let code = v
                .get("error_code")
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(self.status.as_u16());
            let msg = v
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            return Err(ApiError::new(code, msg));
        }
        Ok(v.get("metadata").cloned().unwrap_or(Value::Null))
    }
}

/// Timeout for member-to-member calls.
pub(crate) const PEER_TIMEOUT: Duration = Duration::from_secs(30);

/// Sends one HTTPS request to another simulated daemon, presenting
/// `client` and pinning the server certificate. Error texts follow Go's
/// `net/http` client (`Post "https://10.0.0.1:8443/x": dial tcp
/// 10.0.0.1:8443: connect: connection refused`).
pub(crate) async fn peer_request(
    addr: SocketAddr,
    client: &Identity,
    pin: Pin,
    method: Method,
    path_and_query: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> Result<PeerResponse, String> {
    let url = format!("https://{addr}{path_and_query}");
    let go_method = {
        let m = method.as_str();
        let mut s = m.to_ascii_lowercase();
        if let Some(f) = s.get_mut(0..1) {
            f.make_ascii_uppercase();
        }
        s
    };
    let wrap = |e: String| format!("{go_method} \"{url}\": {e}");
    let fut = async {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("dial tcp {addr}: connect: {}", go_io_error(&e)))?;
        let config = crate::tls::client_config(Some(client), pin).map_err(|e| e.to_string())?;
        let connector = tokio_rustls::TlsConnector::from(config);
        let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
        let tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("tls: {e}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let payload = body
            .map(|b| serde_json::to_vec(b).unwrap_or_default())
            .unwrap_or_default();
        let mut builder = http::Request::builder()
            .method(method.clone())
            .uri(path_and_query)
            .header("Host", addr.to_string())
            .header("Content-Type", "application/json");
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let req = builder
            .body(crate::http::full(payload))
            .map_err(|e| e.to_string())?;
        // Go's client reports a peer that closed without answering as EOF.
        let resp = sender.send_request(req).await.map_err(|e| {
            if e.is_timeout() {
                e.to_string()
            } else {
                "EOF".to_string()
            }
        })?;
        let (parts, body) = resp.into_parts();
        let body = collect_body(body)
            .await
            .map_err(|_| "unexpected EOF".to_string())?;
        Ok(PeerResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    };
    match tokio::time::timeout(PEER_TIMEOUT, fut).await {
        Ok(r) => r.map_err(wrap),
        Err(_) => Err(wrap(
            "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
                .to_string(),
        )),
    }
}

fn go_io_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        std::io::ErrorKind::ConnectionReset => "connection reset by peer".to_string(),
        std::io::ErrorKind::TimedOut => "i/o timeout".to_string(),
        _ => e.to_string(),
    }
}

/// Binds `addr`, waiting up to two seconds while it is still in use: a
/// listener being replaced (or a crashed node's, on restart) is closed by its
/// accept task, which may not have run yet.
fn bind_when_free(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match std::net::TcpListener::bind(addr) {
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> Arc<NodeCtl> {
        NodeCtl::new(
            "node1".into(),
            std::net::IpAddr::from([127, 0, 0, 1]),
            PathBuf::from("/nonexistent"),
            1.0,
            Arc::new(SimClock::default()),
        )
    }

    #[tokio::test]
    async fn work_started_on_a_node_that_is_down_ends_at_once() {
        let n = node();
        n.crash();
        let ended = tokio::time::timeout(Duration::from_secs(5), n.until_crash()).await;
        assert!(ended.is_ok(), "a crashed node's new work must end with it");
    }

    #[tokio::test]
    async fn work_on_a_live_node_ends_at_its_next_crash_only() {
        let n = node();
        let mut work = Box::pin(n.until_crash());
        let early = tokio::time::timeout(Duration::from_millis(50), &mut work).await;
        assert!(early.is_err(), "a live node's work goes on");
        n.crash();
        let ended = tokio::time::timeout(Duration::from_secs(5), work).await;
        assert!(ended.is_ok(), "the crash ends it");
        n.revive();
        let after = tokio::time::timeout(Duration::from_millis(50), n.until_crash()).await;
        assert!(after.is_err(), "a restarted node's new work goes on");
    }
}
