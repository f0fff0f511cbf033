//! A tiny HTTP client for the tests: hyper over a unix socket or over
//! TLS 1.3 (client certificate + pinned server fingerprint), one
//! connection per request, plus helpers for the LXD and microcluster
//! flows the tests repeat.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use simulators::tls::{Identity, Pin, client_config, fetch_certificate, fingerprint};
use simulators::{LxdProfile, Sim, SimBuilder};

/// A response: status, headers, body text and parsed JSON.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Resp {
    pub fn meta(&self) -> &Value {
        &self.json["metadata"]
    }
    pub fn kind(&self) -> &str {
        self.json["type"].as_str().unwrap_or("")
    }
    pub fn error(&self) -> &str {
        self.json["error"].as_str().unwrap_or("")
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Clone)]
enum Target {
    Unix(PathBuf),
    Tls {
        addr: SocketAddr,
        identity: Option<Identity>,
        pin: Pin,
    },
}

/// Test client.
#[derive(Clone)]
pub struct Client {
    target: Target,
    pub timeout: Duration,
}

impl Client {
    pub fn unix(path: &Path) -> Self {
        Self {
            target: Target::Unix(path.to_path_buf()),
            timeout: Duration::from_secs(30),
        }
    }

    pub fn https(addr: SocketAddr, identity: Option<&Identity>, pin: &str) -> Self {
        Self {
            target: Target::Tls {
                addr,
                identity: identity.cloned(),
                pin: Pin::Fingerprint(pin.to_string()),
            },
            timeout: Duration::from_secs(30),
        }
    }

    pub fn with_timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Sends one request; `Err` for transport failures (refused, reset,
    /// EOF, timeout), with a short description.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Resp, String> {
        self.send_raw(method, path, body.map(|b| b.to_string().into_bytes()))
            .await
    }

    pub async fn send_with_headers(
        &self,
        method: &str,
        path: &str,
        body: Value,
        headers: http::HeaderMap,
    ) -> Resp {
        self.send_full(method, path, Some(body.to_string().into_bytes()), headers)
            .await
            .unwrap()
    }

    pub async fn send_raw(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Resp, String> {
        self.send_full(method, path, body, http::HeaderMap::new())
            .await
    }

    pub async fn send_full(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        headers: http::HeaderMap,
    ) -> Result<Resp, String> {
        let fut = async {
            let mut builder = http::Request::builder()
                .method(method)
                .uri(path)
                .header("Host", "sim");
            for (k, v) in &headers {
                builder = builder.header(k, v);
            }
            let req = builder
                .body(Full::new(Bytes::from(body.unwrap_or_default())))
                .map_err(|e| e.to_string())?;
            let resp = match &self.target {
                Target::Unix(p) => {
                    let s = tokio::net::UnixStream::connect(p)
                        .await
                        .map_err(|e| format!("connect: {e}"))?;
                    let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s))
                        .await
                        .map_err(|e| e.to_string())?;
                    tokio::spawn(conn);
                    tx.send_request(req)
                        .await
                        .map_err(|e| format!("request: {e}"))?
                }
                Target::Tls {
                    addr,
                    identity,
                    pin,
                } => {
                    let tcp = tokio::net::TcpStream::connect(addr)
                        .await
                        .map_err(|e| format!("connect: {e}"))?;
                    let cfg =
                        client_config(identity.as_ref(), pin.clone()).map_err(|e| e.to_string())?;
                    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
                    let tls = tokio_rustls::TlsConnector::from(cfg)
                        .connect(name, tcp)
                        .await
                        .map_err(|e| format!("tls: {e}"))?;
                    let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                        .await
                        .map_err(|e| e.to_string())?;
                    tokio::spawn(conn);
                    tx.send_request(req)
                        .await
                        .map_err(|e| format!("request: {e}"))?
                }
            };
            let (parts, body) = resp.into_parts();
            let bytes = body
                .collect()
                .await
                .map_err(|e| format!("body: {e}"))?
                .to_bytes();
            let text = String::from_utf8_lossy(&bytes).to_string();
            Ok(Resp {
                status: parts.status.as_u16(),
                headers: parts.headers,
                json: serde_json::from_str(&text).unwrap_or(Value::Null),
                text,
            })
        };
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err("timeout".to_string()),
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send("GET", path, None).await.unwrap()
    }
    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send("POST", path, Some(body)).await.unwrap()
    }
    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.send("PUT", path, Some(body)).await.unwrap()
    }
    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.send("PATCH", path, Some(body)).await.unwrap()
    }
    pub async fn delete(&self, path: &str) -> Resp {
        self.send("DELETE", path, None).await.unwrap()
    }

    /// For a 202, waits for the operation and returns its final state
    /// (the `/wait` response). For anything else returns the response.
    pub async fn settle(&self, r: Resp) -> Resp {
        if r.status != 202 {
            return r;
        }
        let url = r.header("location").unwrap().to_string();
        self.get(&format!("{url}/wait?timeout=30")).await
    }

    /// Sends and asserts success: 200/201 sync, or 202 whose operation
    /// ends `Success`.
    pub async fn ok(&self, method: &str, path: &str, body: Value) -> Resp {
        let r = self.send(method, path, Some(body.clone())).await.unwrap();
        assert!(
            [200, 201, 202].contains(&r.status),
            "{method} {path} {body}: {} {}",
            r.status,
            r.text
        );
        let done = self.settle(r).await;
        assert_eq!(done.kind(), "sync", "{method} {path}: {}", done.text);
        if done.meta()["status"].is_string() && done.meta()["class"].is_string() {
            assert_eq!(
                done.meta()["status"],
                "Success",
                "{method} {path}: {}",
                done.text
            );
        }
        done
    }
}

pub async fn sim(n: usize, profile: LxdProfile) -> Sim {
    SimBuilder::new()
        .nodes(n)
        .profile(profile)
        .time_scale(0.0)
        .start()
        .await
        .unwrap()
}

pub fn lxd(sim: &Sim, node: &str) -> Client {
    Client::unix(&sim.node(node).unwrap().lxd_socket())
}
pub fn ceph(sim: &Sim, node: &str) -> Client {
    Client::unix(&sim.node(node).unwrap().microceph_socket())
}
pub fn ovn(sim: &Sim, node: &str) -> Client {
    Client::unix(&sim.node(node).unwrap().microovn_socket())
}

pub fn b64(v: &Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(v.to_string())
}

/// Enables clustering on `node` like MicroCloud does.
pub async fn lxd_bootstrap(sim: &Sim, node: &str) {
    let ip = sim.node(node).unwrap().ip();
    let c = lxd(sim, node);
    c.ok(
        "PATCH",
        "/1.0",
        json!({"config": {"core.https_address": "[::]:8443", "cluster.https_address": format!("{ip}:8443")}}),
    )
    .await;
    c.ok(
        "PUT",
        "/1.0/cluster",
        json!({"server_name": node, "enabled": true}),
    )
    .await;
}

/// Issues an LXD join token on `issuer` and returns (token, op metadata).
pub async fn lxd_token(sim: &Sim, issuer: &str, name: &str) -> (String, Value) {
    let r = lxd(sim, issuer)
        .post("/1.0/cluster/members", json!({"server_name": name}))
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let m = r.meta()["metadata"].clone();
    let token = json!({
        "server_name": m["serverName"],
        "fingerprint": m["fingerprint"],
        "addresses": m["addresses"],
        "secret": m["secret"],
        "expires_at": m["expiresAt"],
    });
    (b64(&token), m)
}

/// The joiner's `PUT /1.0/cluster` body, after fetching and checking the
/// cluster certificate like MicroCloud does.
pub async fn lxd_join_body(sim: &Sim, joiner: &str, token: &str, member_config: Value) -> Value {
    let decoded: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(token)
            .unwrap(),
    )
    .unwrap();
    let addr: SocketAddr = decoded["addresses"][0].as_str().unwrap().parse().unwrap();
    let der = fetch_certificate(addr).await.unwrap();
    assert_eq!(fingerprint(&der), decoded["fingerprint"].as_str().unwrap());
    let pem = simulators::tls::der_to_pem(&der);
    let ip = sim.node(joiner).unwrap().ip();
    let field = if sim.node(joiner).unwrap().lxd_profile() == LxdProfile::Legacy {
        "cluster_password"
    } else {
        "cluster_token"
    };
    let mut body = json!({
        "server_name": joiner,
        "enabled": true,
        "cluster_address": addr.to_string(),
        "cluster_certificate": pem,
        "server_address": format!("{ip}:8443"),
        "member_config": member_config,
    });
    body[field] = json!(token);
    body
}

/// Joins `joiner` through `issuer`; returns the final `/wait` response.
pub async fn lxd_join(sim: &Sim, issuer: &str, joiner: &str) -> Resp {
    let (token, _) = lxd_token(sim, issuer, joiner).await;
    let body = lxd_join_body(sim, joiner, &token, json!([])).await;
    let c = lxd(sim, joiner);
    let r = c.put("/1.0/cluster", body).await;
    assert_eq!(r.status, 202, "{}", r.text);
    c.settle(r).await
}

/// Bootstraps a microcluster service on `node`.
pub async fn mc_bootstrap(
    client: &Client,
    node: &str,
    ip: std::net::IpAddr,
    port: u16,
    config: Value,
) -> Resp {
    client
        .post(
            "/core/control",
            json!({"bootstrap": true, "name": node, "address": format!("{ip}:{port}"), "config": config}),
        )
        .await
}

/// Issues a microcluster token.
pub async fn mc_token(client: &Client, name: &str) -> String {
    let r = client
        .post(
            "/core/control/tokens",
            json!({"name": name, "expire_after": 3_600_000_000_000i64}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.meta().as_str().unwrap().to_string()
}

pub async fn mc_join(
    client: &Client,
    node: &str,
    ip: std::net::IpAddr,
    port: u16,
    token: &str,
    config: Value,
) -> Resp {
    client
        .post(
            "/core/control",
            json!({"join_token": token, "name": node, "address": format!("{ip}:{port}"), "config": config}),
        )
        .await
}

/// A client identity for HTTPS tests.
pub fn client_identity(name: &str) -> Identity {
    Identity::generate(name, &[name.to_string()]).unwrap()
}
