//! A scripted HTTP server for the client tests: a real hyper server on a
//! temporary unix socket or on 127.0.0.1:0 with rustls (client certificate
//! required), answering a fixed script of expected requests in order and
//! recording what it received.
//!
//! An unexpected request (wrong method, path or JSON body) is answered with
//! status 599 and recorded as a failure; [`Server::finish`] fails the test
//! on any failure or unconsumed expectation.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use clients::cert::{Fingerprint, Identity};
use clients::tls::{ClientCertByFingerprint, ClientCerts};
use http_body_util::{BodyExt as _, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::{TcpListener, UnixListener};

/// Reads a fixture file as JSON.
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Reads a fixture file as text.
pub fn fixture_text(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// What the server answers.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A response.
    Respond {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
    /// Never answer (for timeouts).
    Hang,
    /// Close the connection without answering.
    Abort,
}

impl Reply {
    /// `status` with the fixture file as body.
    pub fn fixture(status: u16, name: &str) -> Self {
        Reply::Respond {
            status,
            headers: Vec::new(),
            body: fixture_text(name),
        }
    }

    /// `status` with a literal body.
    pub fn raw(status: u16, body: &str) -> Self {
        Reply::Respond {
            status,
            headers: Vec::new(),
            body: body.to_owned(),
        }
    }

    /// 200 with `{"type":"sync",...,"metadata":<metadata>}`.
    pub fn sync(metadata: Value) -> Self {
        let body = serde_json::to_string(&clients::envelope::Envelope::sync(metadata)).unwrap();
        Reply::raw(200, &body)
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        if let Reply::Respond { headers, .. } = &mut self {
            headers.push((name, value.to_owned()));
        }
        self
    }
}

/// One expected request.
#[derive(Clone, Debug)]
pub struct Expect {
    pub method: &'static str,
    pub path: String,
    pub body: Option<Value>,
    pub reply: Reply,
    /// Stays in the script after matching (answers any number of times).
    pub repeat: bool,
}

impl Expect {
    /// Expects `method path` with no body check.
    pub fn new(method: &'static str, path: &str, reply: Reply) -> Self {
        Expect {
            method,
            path: path.to_owned(),
            body: None,
            reply,
            repeat: false,
        }
    }

    /// Also expects exactly this JSON body.
    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Expects the JSON body of a fixture file.
    pub fn body_fixture(self, name: &str) -> Self {
        self.body(fixture(name))
    }

    /// Answers repeatedly.
    pub fn repeat(mut self) -> Self {
        self.repeat = true;
        self
    }
}

/// A request the server received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
    /// The fingerprint of the TLS client certificate, if any.
    pub client_certificate: Option<Fingerprint>,
}

impl Recorded {
    /// A header value.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<Expect>,
    recorded: Vec<Recorded>,
    failures: Vec<String>,
}

/// A running scripted server.
pub struct Server {
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
    socket: Option<PathBuf>,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh path for a unix socket.
pub fn temp_socket_path() -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let path = std::env::temp_dir().join(format!("clients-test-{}-{n}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

impl Server {
    /// Serves the script on a new unix socket.
    pub async fn unix(script: Vec<Expect>) -> (Server, PathBuf) {
        let path = temp_socket_path();
        let listener = UnixListener::bind(&path).unwrap();
        let state = Arc::new(Mutex::new(State {
            script: script.into(),
            ..State::default()
        }));
        let st = Arc::clone(&state);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let st = Arc::clone(&st);
                tokio::spawn(serve(TokioIo::new(stream), st, None));
            }
        });
        (
            Server {
                state,
                task,
                socket: Some(path.clone()),
            },
            path,
        )
    }

    /// Serves the script over TLS 1.3 on 127.0.0.1, presenting `identity`
    /// and requiring a client certificate (any is accepted and recorded).
    pub async fn tls(script: Vec<Expect>, identity: &Identity) -> (Server, String) {
        Self::tls_trusting(script, identity, None).await
    }

    /// Like [`Server::tls`], but only the client certificate with the
    /// fingerprint `trusted` (when given) is accepted.
    pub async fn tls_trusting(
        script: Vec<Expect>,
        identity: &Identity,
        trusted: Option<Fingerprint>,
    ) -> (Server, String) {
        let (chain, key) = identity.rustls_parts().unwrap();
        let config = rustls::ServerConfig::builder_with_provider(clients::tls::crypto_provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_client_cert_verifier(Arc::new(ClientCertByFingerprint::new(
                trusted.map_or(ClientCerts::Any, ClientCerts::Pinned),
            )))
            .with_single_cert(chain, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let state = Arc::new(Mutex::new(State {
            script: script.into(),
            ..State::default()
        }));
        let st = Arc::clone(&state);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let st = Arc::clone(&st);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A client refusing our certificate aborts here.
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let client = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .map(|c| Fingerprint::of_der(c.as_ref()));
                    serve(TokioIo::new(tls), st, client).await;
                });
            }
        });
        (
            Server {
                state,
                task,
                socket: None,
            },
            address,
        )
    }

    /// Stops the server; panics on unexpected requests or unconsumed
    /// (non-repeating) expectations. Returns the recorded requests.
    pub fn finish(self) -> Vec<Recorded> {
        self.task.abort();
        if let Some(path) = &self.socket {
            let _ = std::fs::remove_file(path);
        }
        let state = self.state.lock().unwrap();
        assert!(
            state.failures.is_empty(),
            "unexpected requests:\n{}",
            state.failures.join("\n")
        );
        let left: Vec<String> = state
            .script
            .iter()
            .filter(|e| !e.repeat)
            .map(|e| format!("{} {}", e.method, e.path))
            .collect();
        assert!(left.is_empty(), "expected requests never came: {left:?}");
        state.recorded.clone()
    }
}

async fn serve<I>(io: TokioIo<I>, state: Arc<Mutex<State>>, client: Option<Fingerprint>)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
        let state = Arc::clone(&state);
        async move {
            let method = request.method().to_string();
            let path = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default();
            let headers = request.headers().clone();
            let body = request
                .into_body()
                .collect()
                .await
                .map_err(std::io::Error::other)?
                .to_bytes()
                .to_vec();
            let reply = {
                let mut st = state.lock().unwrap();
                st.recorded.push(Recorded {
                    method: method.clone(),
                    path: path.clone(),
                    headers,
                    body: body.clone(),
                    client_certificate: client,
                });
                match st.script.front().cloned() {
                    None => {
                        st.failures
                            .push(format!("{method} {path}: script exhausted"));
                        Reply::raw(599, "script exhausted")
                    }
                    Some(expect) => {
                        let mut problem = None;
                        if expect.method != method || expect.path != path {
                            problem = Some(format!(
                                "{method} {path}: expected {} {}",
                                expect.method, expect.path
                            ));
                        } else if let Some(want) = &expect.body {
                            match serde_json::from_slice::<Value>(&body) {
                                Ok(got) if &got == want => {}
                                Ok(got) => {
                                    problem = Some(format!(
                                        "{method} {path}: body\n{}\nexpected\n{}",
                                        serde_json::to_string_pretty(&got).unwrap(),
                                        serde_json::to_string_pretty(want).unwrap()
                                    ))
                                }
                                Err(e) => {
                                    problem = Some(format!(
                                        "{method} {path}: body is not JSON ({e}): {:?}",
                                        String::from_utf8_lossy(&body)
                                    ))
                                }
                            }
                        }
                        match problem {
                            Some(p) => {
                                st.failures.push(p.clone());
                                Reply::raw(599, &p)
                            }
                            None => {
                                if !expect.repeat {
                                    st.script.pop_front();
                                }
                                expect.reply
                            }
                        }
                    }
                }
            };
            match reply {
                Reply::Hang => {
                    std::future::pending::<()>().await;
                    unreachable!()
                }
                Reply::Abort => Err(std::io::Error::other("abort")),
                Reply::Respond {
                    status,
                    headers,
                    body,
                } => {
                    let mut response = hyper::Response::builder()
                        .status(status)
                        .header("content-type", "application/json");
                    for (k, v) in headers {
                        response = response.header(k, v);
                    }
                    Ok(response.body(Full::new(Bytes::from(body))).unwrap())
                }
            }
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await;
}

/// Test timeouts: short polling so that operation tests run quickly.
pub fn fast_timeouts() -> clients::Timeouts {
    clients::Timeouts {
        request: std::time::Duration::from_secs(10),
        long_request: std::time::Duration::from_secs(10),
        operation: std::time::Duration::from_secs(30),
        wait_chunk: std::time::Duration::from_secs(30),
        poll_backoff: std::time::Duration::from_millis(10),
    }
}
