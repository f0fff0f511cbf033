//! The envelope-aware request layer shared by every typed client.
//!
//! [`RestClient`] sends a request through a [`Transport`], reads the
//! [envelope](crate::envelope) and returns either the `sync` payload or the
//! background [`Operation`]. [`RestClient::run`] accepts both shapes for
//! mutating calls (LXD answers `201` sync on 5.0.2 and `202` async on 6.8+
//! for the same request) and waits for operations to finish.
//!
//! # Waiting for operations
//!
//! `GET <operation>/wait?timeout=N` is called repeatedly (N =
//! [`Timeouts::wait_chunk`]) until the operation is no longer in progress
//! or [`Timeouts::operation`] has passed ([`Error::OperationTimeout`]). A
//! `wait` that comes back while the operation is still `Running` (LXD 5.0.2
//! on a wait timeout, and sometimes early) is followed by a short pause
//! ([`Timeouts::poll_backoff`]) and another `wait`.
//!
//! Failures arrive in two shapes and both become
//! [`Error::OperationFailed`]:
//!
//! * a `sync` envelope whose operation has `status: Failure` (or
//!   `Cancelled`) and an `err` (LXD 5.0.2, microcluster);
//! * HTTP 200 with an `error` envelope (current LXD). Because current LXD
//!   also answers a *wait timeout* this way, the operation itself is then
//!   read with `GET <operation>`: still running means keep waiting, failed
//!   means report its `err`; if it is gone (404), the envelope's error is
//!   reported.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::envelope::{Envelope, Operation, OperationState, ResponseType};
use crate::error::RequestContext;
use crate::transport::{RawResponse, Request, Transport};
use crate::{Error, Service};

/// Use as the `body` argument of calls that send none.
pub const NO_BODY: Option<&'static ()> = None;

/// Time limits of a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// An ordinary request (default 30 s).
    pub request: Duration,
    /// A request that blocks while the service works: microcluster
    /// bootstrap/join, MicroCeph disk additions (default 10 min).
    pub long_request: Duration,
    /// How long to wait for a background operation in total (default
    /// 10 min).
    pub operation: Duration,
    /// The `timeout` of each `/wait` call (default 30 s).
    pub wait_chunk: Duration,
    /// The pause before waiting again on a still-running operation
    /// (default 250 ms).
    pub poll_backoff: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            request: Duration::from_secs(30),
            long_request: Duration::from_secs(600),
            operation: Duration::from_secs(600),
            wait_chunk: Duration::from_secs(30),
            poll_backoff: Duration::from_millis(250),
        }
    }
}

/// Per-call options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallOptions {
    /// Send `If-Match` with this ETag.
    pub if_match: Option<String>,
    /// Use [`Timeouts::long_request`] instead of [`Timeouts::request`].
    pub long: bool,
}

impl CallOptions {
    /// Options for a long-blocking call.
    pub fn long() -> Self {
        CallOptions {
            if_match: None,
            long: true,
        }
    }

    /// Options with an `If-Match` ETag (none when `etag` is `None`).
    pub fn if_match(etag: Option<&str>) -> Self {
        CallOptions {
            if_match: etag.map(str::to_owned),
            long: false,
        }
    }
}

/// A successful `sync` response.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncReply {
    /// 200 or 201 (or another 2xx).
    pub status: u16,
    /// The `Location` header (set on 201 creations).
    pub location: Option<String>,
    /// The `ETag` header.
    pub etag: Option<String>,
    /// The payload.
    pub metadata: Value,
}

/// An `async` response.
#[derive(Debug, Clone, PartialEq)]
pub struct AsyncReply {
    /// The operation URL (from `operation`, else `Location`, else the id).
    pub url: String,
    /// The operation as created.
    pub operation: Operation,
}

/// What a request returned.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A `sync` envelope.
    Sync(SyncReply),
    /// An `async` envelope.
    Async(Box<AsyncReply>),
}

/// How a mutating call finished.
#[derive(Debug, Clone, PartialEq)]
pub enum Completion {
    /// The service answered synchronously.
    Sync(SyncReply),
    /// The service started an operation, which succeeded.
    Operation(Box<Operation>),
}

/// Sends envelope requests to one service on one node. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RestClient {
    transport: Transport,
    service: Service,
    node: String,
    timeouts: Timeouts,
}

impl RestClient {
    /// A client for `service` on the node the caller calls `node` (used in
    /// error messages), with default [`Timeouts`].
    pub fn new(transport: Transport, service: Service, node: &str) -> Self {
        RestClient {
            transport,
            service,
            node: node.to_owned(),
            timeouts: Timeouts::default(),
        }
    }

    /// The same client with other time limits.
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// The time limits.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// The transport.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// The service.
    pub fn service(&self) -> Service {
        self.service
    }

    /// The node name used in messages.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The context of a request, for errors.
    pub fn context(&self, method: &http::Method, path: &str) -> RequestContext {
        RequestContext {
            service: self.service,
            node: self.node.clone(),
            method: method.clone(),
            path: path.to_owned(),
        }
    }

    /// Sends a request and interprets the envelope. Error envelopes and
    /// non-2xx statuses become [`Error::Status`].
    pub async fn call<B>(
        &self,
        method: http::Method,
        path: &str,
        body: Option<&B>,
        options: CallOptions,
    ) -> Result<Reply, Error>
    where
        B: Serialize + Sync + ?Sized,
    {
        let ctx = self.context(&method, path);
        let body = match body {
            Some(b) => Some(serde_json::to_vec(b).map_err(|source| Error::Encode {
                ctx: Box::new(ctx.clone()),
                source,
            })?),
            None => None,
        };
        let timeout = if options.long {
            self.timeouts.long_request
        } else {
            self.timeouts.request
        };
        let raw = self
            .transport
            .send(
                &ctx,
                Request {
                    method,
                    path: path.to_owned(),
                    body,
                    if_match: options.if_match,
                    timeout,
                },
            )
            .await?;
        interpret(&ctx, raw)
    }

    /// A call that must answer `sync`; returns the whole reply.
    pub async fn sync_reply<B>(
        &self,
        method: http::Method,
        path: &str,
        body: Option<&B>,
        options: CallOptions,
    ) -> Result<SyncReply, Error>
    where
        B: Serialize + Sync + ?Sized,
    {
        match self.call(method.clone(), path, body, options).await? {
            Reply::Sync(reply) => Ok(reply),
            Reply::Async(reply) => Err(Error::Protocol {
                ctx: Box::new(self.context(&method, path)),
                detail: format!(
                    "expected a synchronous answer, got background operation {}",
                    reply.url
                ),
            }),
        }
    }

    /// A call that must answer `sync`; decodes the payload.
    pub async fn sync<T, B>(
        &self,
        method: http::Method,
        path: &str,
        body: Option<&B>,
        options: CallOptions,
    ) -> Result<T, Error>
    where
        T: DeserializeOwned,
        B: Serialize + Sync + ?Sized,
    {
        let reply = self.sync_reply(method.clone(), path, body, options).await?;
        decode_metadata(&self.context(&method, path), reply.metadata)
    }

    /// `GET path`, decoding the `sync` payload.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        self.sync(http::Method::GET, path, NO_BODY, CallOptions::default())
            .await
    }

    /// A mutating call that may answer `sync` (200/201) or start an
    /// operation (202); an operation is waited for.
    pub async fn run<B>(
        &self,
        method: http::Method,
        path: &str,
        body: Option<&B>,
        options: CallOptions,
    ) -> Result<Completion, Error>
    where
        B: Serialize + Sync + ?Sized,
    {
        let ctx = self.context(&method, path);
        match self.call(method, path, body, options).await? {
            Reply::Sync(reply) => Ok(Completion::Sync(reply)),
            Reply::Async(reply) => Ok(Completion::Operation(Box::new(
                self.wait_operation(&ctx, &reply.url).await?,
            ))),
        }
    }

    /// Waits until the operation at `url` is no longer in progress; see the
    /// module documentation. `origin` is the request that started it (used
    /// in failure messages).
    pub async fn wait_operation(
        &self,
        origin: &RequestContext,
        url: &str,
    ) -> Result<Operation, Error> {
        let op_path = self.local_path(url);
        let (path_only, query) = match op_path.split_once('?') {
            Some((p, q)) => (p.to_owned(), format!("{q}&")),
            None => (op_path.clone(), String::new()),
        };
        let started = tokio::time::Instant::now();
        loop {
            let waited = started.elapsed();
            let Some(remaining) = self
                .timeouts
                .operation
                .checked_sub(waited)
                .filter(|r| !r.is_zero())
            else {
                return Err(Error::OperationTimeout {
                    ctx: Box::new(origin.clone()),
                    operation: url.to_owned(),
                    waited,
                });
            };
            let chunk = self.timeouts.wait_chunk.min(remaining);
            // Whole seconds, rounded up (LXD takes an integer timeout).
            let secs = (chunk.as_secs() + u64::from(chunk.subsec_nanos() > 0)).max(1);
            let wait_path = format!("{path_only}/wait?{query}timeout={secs}");
            let ctx = self.context(&http::Method::GET, &wait_path);
            let raw = self
                .transport
                .send(
                    &ctx,
                    Request {
                        method: http::Method::GET,
                        path: wait_path.clone(),
                        body: None,
                        if_match: None,
                        timeout: Duration::from_secs(secs) + self.timeouts.request,
                    },
                )
                .await?;

            let operation = match error_envelope_with_200(&raw) {
                Some(envelope) => {
                    // Current LXD: the operation failed, or the wait timed
                    // out. Ask the operation itself.
                    match self.get::<Operation>(&op_path).await {
                        Ok(operation) => operation,
                        Err(Error::Status { status: 404, .. }) => {
                            return Err(Error::OperationFailed {
                                ctx: Box::new(origin.clone()),
                                operation: url.to_owned(),
                                status: "error".to_owned(),
                                code: Some(envelope.error_code).filter(|c| *c != 0),
                                err: envelope.error,
                            });
                        }
                        Err(e) => return Err(e),
                    }
                }
                None => match interpret(&ctx, raw)? {
                    Reply::Sync(reply) => decode_operation(&ctx, reply.metadata)?,
                    Reply::Async(reply) => {
                        return Err(Error::Protocol {
                            ctx: Box::new(ctx),
                            detail: format!(
                                "waiting returned another background operation {}",
                                reply.url
                            ),
                        });
                    }
                },
            };

            match operation.state() {
                OperationState::Success => return Ok(operation),
                OperationState::Failure | OperationState::Cancelled => {
                    return Err(Error::OperationFailed {
                        ctx: Box::new(origin.clone()),
                        operation: url.to_owned(),
                        status: if operation.status.is_empty() {
                            format!("status code {}", operation.status_code)
                        } else {
                            operation.status.clone()
                        },
                        code: operation.err_code,
                        err: if operation.err.is_empty() {
                            "(no error text)".to_owned()
                        } else {
                            operation.err.clone()
                        },
                    });
                }
                OperationState::InProgress => {
                    tokio::time::sleep(self.timeouts.poll_backoff).await;
                }
            }
        }
    }

    /// An operation URL as the service returned it, without the proxy
    /// prefix if the proxy added it.
    fn local_path(&self, url: &str) -> String {
        let prefix = self.transport.prefix();
        if !prefix.is_empty()
            && let Some(rest) = url.strip_prefix(prefix)
            && rest.starts_with('/')
        {
            return rest.to_owned();
        }
        url.to_owned()
    }
}

fn error_envelope_with_200(raw: &RawResponse) -> Option<Envelope> {
    if raw.status != 200 {
        return None;
    }
    let envelope: Envelope = serde_json::from_slice(&raw.body).ok()?;
    (envelope.kind == ResponseType::Error).then_some(envelope)
}

fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// Interprets a raw response as an envelope.
pub(crate) fn interpret(ctx: &RequestContext, raw: RawResponse) -> Result<Reply, Error> {
    let envelope: Envelope = match serde_json::from_slice(&raw.body) {
        Ok(envelope) => envelope,
        Err(source) => {
            if is_success(raw.status) {
                return Err(Error::Decode {
                    ctx: Box::new(ctx.clone()),
                    what: "envelope",
                    source,
                });
            }
            return Err(Error::Status {
                ctx: Box::new(ctx.clone()),
                status: raw.status,
                message: body_excerpt(&raw.body),
            });
        }
    };
    match envelope.kind {
        ResponseType::Error => Err(Error::Status {
            ctx: Box::new(ctx.clone()),
            status: if envelope.error_code != 0 {
                envelope.error_code
            } else {
                raw.status
            },
            message: if envelope.error.is_empty() {
                "(no error message)".to_owned()
            } else {
                envelope.error
            },
        }),
        kind if !is_success(raw.status) => Err(Error::Status {
            ctx: Box::new(ctx.clone()),
            status: raw.status,
            message: if envelope.error.is_empty() {
                format!("(HTTP {} with a {kind:?} envelope)", raw.status)
            } else {
                envelope.error
            },
        }),
        ResponseType::Sync => Ok(Reply::Sync(SyncReply {
            status: raw.status,
            location: raw.location,
            etag: raw.etag,
            metadata: envelope.metadata,
        })),
        ResponseType::Async => {
            let operation = decode_operation(ctx, envelope.metadata)?;
            let url = if !envelope.operation.is_empty() {
                envelope.operation
            } else if let Some(location) = raw.location {
                location
            } else if !operation.id.is_empty() {
                format!("/1.0/operations/{}", operation.id)
            } else {
                return Err(Error::Protocol {
                    ctx: Box::new(ctx.clone()),
                    detail: "a background operation without an operation URL, Location or id"
                        .to_owned(),
                });
            };
            Ok(Reply::Async(Box::new(AsyncReply { url, operation })))
        }
    }
}

fn decode_operation(ctx: &RequestContext, metadata: Value) -> Result<Operation, Error> {
    serde_json::from_value(metadata).map_err(|source| Error::Decode {
        ctx: Box::new(ctx.clone()),
        what: "operation",
        source,
    })
}

/// Decodes a `sync` payload.
pub(crate) fn decode_metadata<T: DeserializeOwned>(
    ctx: &RequestContext,
    metadata: Value,
) -> Result<T, Error> {
    serde_json::from_value(metadata).map_err(|source| Error::Decode {
        ctx: Box::new(ctx.clone()),
        what: "metadata",
        source,
    })
}

/// The start of a non-JSON body, for messages (at most 200 characters).
fn body_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".to_owned();
    }
    let mut excerpt: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        excerpt.push('…');
    }
    excerpt
}
