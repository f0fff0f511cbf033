//! The HTTPS serving machinery shared by the session listener and the
//! agent: a bounded accept loop, TLS handshakes with a deadline, HTTP/1.1
//! connections that finish their current exchange on shutdown, capped
//! request bodies and JSON responses.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clients::cert::Fingerprint;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Body, Incoming};
use hyper::service::Service;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Serialize;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::net::tls::peer_fingerprint;

/// Largest request or response body of the trust protocol and of the
/// agent's own endpoints (64 KiB). Proxied service traffic is not capped
/// here (the clients cap what they read).
pub const MAX_MESSAGE_BYTES: usize = 64 << 10;

/// Limits of one listener.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Connections served at once; further ones wait in the backlog.
    pub connections: usize,
    /// Time for the TLS handshake and for reading a request's headers.
    pub handshake: Duration,
    /// Longest life of one connection (`None`: unlimited).
    pub lifetime: Option<Duration>,
    /// On shutdown, how long running exchanges may take to finish.
    pub grace: Duration,
}

/// What a connection task knows about its peer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer {
    /// The TCP source address.
    pub remote: SocketAddr,
    /// The verified client certificate's fingerprint.
    pub certificate: Fingerprint,
}

/// Accepts TLS connections on `listener` until `stop` turns true, serving
/// each with the service `make_service` builds for its peer; then stops
/// accepting, lets running exchanges finish within `limits.grace` and
/// drops the rest. Dropping the returned future drops every connection.
pub(crate) async fn accept_loop<M, S, B>(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
    make_service: M,
) where
    M: Fn(Peer) -> S + Send + Sync + 'static,
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let make_service = Arc::new(make_service);
    let slots = Arc::new(Semaphore::new(limits.connections.max(1)));
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            _ = stopped(&mut stop) => break,
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break,
            },
        };
        let accepted = tokio::select! {
            _ = stopped(&mut stop) => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(_) => {
                // Out of file descriptors, or a connection reset before it
                // was accepted: nothing to answer; try again shortly.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Small request/answer exchanges: no Nagle delay (see
        // `clients::transport`); failing to set it only costs time.
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let stop = stop.clone();
        let make_service = Arc::clone(&make_service);
        connections.spawn(async move {
            let _permit = permit;
            let Ok(Ok(tls)) = tokio::time::timeout(limits.handshake, acceptor.accept(tcp)).await
            else {
                return;
            };
            // Every verifier used here requires a client certificate, so a
            // completed handshake always has one.
            let Some(certificate) = peer_fingerprint(tls.get_ref().1) else {
                return;
            };
            let service = make_service(Peer {
                remote,
                certificate,
            });
            let served = serve_connection(tls, service, stop, limits);
            match limits.lifetime {
                Some(lifetime) => {
                    let _ = tokio::time::timeout(lifetime, served).await;
                }
                None => served.await,
            }
        });
    }
    drop(listener);
    let drain = async { while connections.join_next().await.is_some() {} };
    let _ = tokio::time::timeout(limits.grace, drain).await;
}

/// Resolves once `stop` is true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Serves HTTP/1.1 on one TLS connection; when `stop` turns true, finishes
/// the current exchange (within `limits.grace`) and closes.
async fn serve_connection<S, B>(
    tls: TlsStream<TcpStream>,
    service: S,
    mut stop: watch::Receiver<bool>,
    limits: Limits,
) where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.handshake)
        .serve_connection(TokioIo::new(tls), service);
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        _ = stopped(&mut stop) => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(limits.grace, connection).await;
        }
    }
}

/// Why a request body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Larger than the cap.
    TooLarge,
    /// The connection broke.
    Broken,
}

/// Reads a whole request body of at most `cap` bytes.
pub(crate) async fn read_body(body: Incoming, cap: usize) -> Result<Bytes, BodyError> {
    match Limited::new(body, cap).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<hyper::Error>().is_some() => Err(BodyError::Broken),
        Err(_) => Err(BodyError::TooLarge),
    }
}

/// A JSON response. Serialising the crate's own types cannot fail; if it
/// ever did, the client gets a 500 saying so instead of a panic.
pub(crate) fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Full<Bytes>> {
    match serde_json::to_vec(value) {
        Ok(body) => with_body(status, body),
        Err(_) => with_body(
            StatusCode::INTERNAL_SERVER_ERROR,
            br#"{"error":"cannot encode the response"}"#.to_vec(),
        ),
    }
}

fn with_body(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}
