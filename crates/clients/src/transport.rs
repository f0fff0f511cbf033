//! Sending one HTTP/1.1 request over a unix socket or pinned mutual TLS.
//!
//! A [`Transport`] is where requests go:
//!
//! * [`Transport::unix`]: a service's local control socket (LXD's
//!   `unix.socket`, microcluster's `control.socket`); the socket file's
//!   permissions are the authentication;
//! * [`Transport::https`]: `host:port` over TLS 1.3, presenting a client
//!   [`Identity`] and accepting only the server certificate with the pinned
//!   [`Fingerprint`] (see [`crate::tls`]);
//! * [`Transport::with_prefix`]: the same, with every path prefixed, for
//!   sending the typed calls to a remote node's agent that proxies
//!   `/1.0/services/lxd/...` to its local LXD socket (and likewise for the
//!   microcluster services).
//!
//! Each request opens its own connection, sends one request and reads the
//! whole response (bounded by [`MAX_BODY_BYTES`]), all under the request's
//! timeout. When the timeout fires, the connection is dropped. There is no
//! pooling: a bootstrap makes a few hundred requests at most, and a fresh
//! connection per request means a restarted daemon never leaves a dead
//! pooled connection behind.
//!
//! Failures are returned as [`Error`] with the request's context; see
//! [`Error::is_transient`] for how they are classified.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, ETAG, HOST, IF_MATCH, LOCATION, USER_AGENT};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::TlsConnector;

use crate::cert::{Fingerprint, Identity};
use crate::error::RequestContext;
use crate::{Error, tls};

/// Responses larger than this are refused (64 MiB).
pub const MAX_BODY_BYTES: usize = 64 << 20;

const USER_AGENT_VALUE: &str = concat!("microcloud-clients/", env!("CARGO_PKG_VERSION"));

/// Where requests go. Cheap to clone.
#[derive(Clone)]
pub struct Transport {
    endpoint: Arc<Endpoint>,
    prefix: String,
}

enum Endpoint {
    Unix {
        path: PathBuf,
    },
    Https {
        address: String,
        server_name: ServerName<'static>,
        connector: TlsConnector,
    },
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("endpoint", &self.endpoint_description())
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// One request, as the typed layer builds it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The method.
    pub method: http::Method,
    /// Path and query, starting with `/` (the transport adds its prefix).
    pub path: String,
    /// A JSON body.
    pub body: Option<Vec<u8>>,
    /// An `If-Match` ETag.
    pub if_match: Option<String>,
    /// How long the whole exchange may take.
    pub timeout: Duration,
}

/// The parts of a response the typed layer uses.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The HTTP status.
    pub status: u16,
    /// The `Location` header.
    pub location: Option<String>,
    /// The `ETag` header.
    pub etag: Option<String>,
    /// The whole body.
    pub body: Bytes,
}

impl Transport {
    /// Requests over the unix socket at `path`.
    pub fn unix(path: impl Into<PathBuf>) -> Self {
        Transport {
            endpoint: Arc::new(Endpoint::Unix { path: path.into() }),
            prefix: String::new(),
        }
    }

    /// Requests over HTTPS to `address` (`host:port`, IPv6 as
    /// `[addr]:port`), presenting `identity` and accepting only a server
    /// certificate with fingerprint `pinned`.
    pub fn https(address: &str, identity: &Identity, pinned: Fingerprint) -> Result<Self, Error> {
        let server_name = server_name(address)?;
        let config = tls::client_config(identity, pinned)?;
        Ok(Transport {
            endpoint: Arc::new(Endpoint::Https {
                address: address.to_owned(),
                server_name,
                connector: TlsConnector::from(config),
            }),
            prefix: String::new(),
        })
    }

    /// The same endpoint with every request path prefixed by `prefix`
    /// (for example `/1.0/services/lxd`). Operation URLs returned by the
    /// service behind the proxy are prefixed the same way when polled.
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.trim_end_matches('/').to_owned();
        self
    }

    /// The path prefix (empty when not proxying).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The socket path or the HTTPS address, for messages.
    pub fn endpoint_description(&self) -> String {
        match &*self.endpoint {
            Endpoint::Unix { path } => format!("unix socket {}", path.display()),
            Endpoint::Https { address, .. } => format!("https://{address}{}", self.prefix),
        }
    }

    /// The unix socket path, when this is a unix transport.
    pub fn unix_path(&self) -> Option<&Path> {
        match &*self.endpoint {
            Endpoint::Unix { path } => Some(path),
            Endpoint::Https { .. } => None,
        }
    }

    /// Sends one request and reads the whole response.
    ///
    /// Each request is logged at debug level with its service, node,
    /// method, path and status (or error), never with a body: bodies carry
    /// join tokens and certificates.
    pub async fn send(&self, ctx: &RequestContext, request: Request) -> Result<RawResponse, Error> {
        let timeout = request.timeout;
        let started = tokio::time::Instant::now();
        let in_flight = crate::inflight::start(ctx);
        let result = match tokio::time::timeout(timeout, self.exchange(ctx, request)).await {
            Ok(result) => result,
            Err(_elapsed) => Err(Error::Timeout {
                ctx: Box::new(ctx.clone()),
                endpoint: self.endpoint_description(),
                after: timeout,
            }),
        };
        in_flight.done();
        let ms = started.elapsed().as_millis();
        match &result {
            Ok(response) => tracing::debug!(
                service = %ctx.service, node = %ctx.node, status = response.status, ms,
                "{} {}", ctx.method, ctx.path
            ),
            Err(e) => tracing::debug!(
                service = %ctx.service, node = %ctx.node, ms, error = %e,
                "{} {} failed", ctx.method, ctx.path
            ),
        }
        result
    }

    async fn exchange(&self, ctx: &RequestContext, request: Request) -> Result<RawResponse, Error> {
        let full_path = format!("{}{}", self.prefix, request.path);
        match &*self.endpoint {
            Endpoint::Unix { path } => {
                let stream = UnixStream::connect(path)
                    .await
                    .map_err(|source| Error::Connect {
                        ctx: Box::new(ctx.clone()),
                        endpoint: self.endpoint_description(),
                        source,
                    })?;
                self.http1(ctx, stream, "unix.socket", &full_path, request)
                    .await
            }
            Endpoint::Https {
                address,
                server_name,
                connector,
                ..
            } => {
                let tcp = self.connect_tcp(ctx, address).await?;
                let stream = connector
                    .connect(server_name.clone(), tcp)
                    .await
                    .map_err(|e| tls_error(ctx, self.endpoint_description(), e))?;
                self.http1(ctx, stream, address, &full_path, request).await
            }
        }
    }

    async fn connect_tcp(&self, ctx: &RequestContext, address: &str) -> Result<TcpStream, Error> {
        let tcp = TcpStream::connect(address)
            .await
            .map_err(|source| Error::Connect {
                ctx: Box::new(ctx.clone()),
                endpoint: self.endpoint_description(),
                source,
            })?;
        // Requests are small writes answered at once: with Nagle's
        // algorithm on, a request's last segment waits for the peer's
        // delayed ACK (about 40 ms per request through an agent, measured
        // by `scale-bench`). Failing to set it only costs time.
        let _ = tcp.set_nodelay(true);
        Ok(tcp)
    }

    async fn http1<S>(
        &self,
        ctx: &RequestContext,
        stream: S,
        host: &str,
        full_path: &str,
        request: Request,
    ) -> Result<RawResponse, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let http_error = |source| http_failure(ctx, self.endpoint_description(), source);
        let protocol = |detail: String| Error::Protocol {
            ctx: Box::new(ctx.clone()),
            detail,
        };

        let mut builder = http::Request::builder()
            .method(request.method.clone())
            .uri(full_path)
            .header(HOST, host)
            .header(USER_AGENT, USER_AGENT_VALUE);
        if let Some(etag) = &request.if_match {
            builder = builder.header(IF_MATCH, etag);
        }
        let body = match request.body {
            Some(body) => {
                builder = builder.header(CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(body))
            }
            None => Full::new(Bytes::new()),
        };
        let http_request = builder
            .body(body)
            .map_err(|e| protocol(format!("cannot build the request for {full_path:?}: {e}")))?;

        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(http_error)?;
        let mut connection = std::pin::pin!(connection);
        let exchange = async {
            let response = sender
                .send_request(http_request)
                .await
                .map_err(http_error)?;
            let status = response.status().as_u16();
            let header = |name| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v: &http::HeaderValue| v.to_str().ok())
                    .map(str::to_owned)
            };
            let location = header(LOCATION);
            let etag = header(ETAG);
            let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(|e| match e.downcast::<hyper::Error>() {
                    Ok(hyper_error) => http_error(*hyper_error),
                    Err(_) => protocol(format!(
                        "the response body is larger than {MAX_BODY_BYTES} bytes"
                    )),
                })?
                .to_bytes();
            Ok(RawResponse {
                status,
                location,
                etag,
                body,
            })
        };
        let mut exchange = std::pin::pin!(exchange);
        let mut connection_done = false;
        loop {
            tokio::select! {
                biased;
                result = &mut exchange => return result,
                result = &mut connection, if !connection_done => {
                    connection_done = true;
                    // A clean close before the response is complete makes
                    // the exchange fail on its own; an error is reported now.
                    result.map_err(http_error)?;
                }
            }
        }
    }
}

/// A hyper error, or the TLS alert hidden inside it (a TLS 1.3 server
/// rejects a client certificate after the client's handshake completed, so
/// the rejection arrives while reading the response).
fn http_failure(ctx: &RequestContext, endpoint: String, source: hyper::Error) -> Error {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&source);
    while let Some(err) = cause {
        if let Some(tls) = err.downcast_ref::<rustls::Error>().or_else(|| {
            err.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        }) {
            return Error::TlsRejected {
                ctx: Box::new(ctx.clone()),
                endpoint,
                alert: tls.to_string(),
            };
        }
        cause = err.source();
    }
    Error::Http {
        ctx: Box::new(ctx.clone()),
        endpoint,
        source,
    }
}

fn tls_error(ctx: &RequestContext, endpoint: String, source: std::io::Error) -> Error {
    let alert = source
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .filter(|e| matches!(e, rustls::Error::AlertReceived(_)))
        .map(ToString::to_string);
    if let Some(alert) = alert {
        return Error::TlsRejected {
            ctx: Box::new(ctx.clone()),
            endpoint,
            alert,
        };
    }
    match tls::pin_mismatch(&source) {
        Some(mismatch) => Error::FingerprintMismatch {
            ctx: Box::new(ctx.clone()),
            endpoint,
            expected: mismatch.expected.to_string(),
            actual: mismatch.actual.to_string(),
        },
        None => Error::Tls {
            ctx: Box::new(ctx.clone()),
            endpoint,
            source,
        },
    }
}

/// The TLS server name for an address: its IP (rustls then sends no SNI)
/// or its DNS name. It is never verified against the certificate.
fn server_name(address: &str) -> Result<ServerName<'static>, Error> {
    let invalid = |reason: &str| Error::InvalidAddress {
        address: address.to_owned(),
        reason: reason.to_owned(),
    };
    if let Ok(socket) = address.parse::<std::net::SocketAddr>() {
        return Ok(ServerName::IpAddress(socket.ip().into()));
    }
    let (host, port) = address
        .rsplit_once(':')
        .ok_or_else(|| invalid("expected host:port"))?;
    if port.parse::<u16>().is_err() {
        return Err(invalid("the port is not a number from 0 to 65535"));
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned())
        .map_err(|_| invalid("the host is neither an IP address nor a DNS name"))
}
