//! Which fields carry LXD join and trust tokens, per release, as the
//! simulator's three token regimes model them (`TokenFields`):
//!
//! * 5.0.2 (`Password`): `cluster_password` / `password` only
//!   (`shared/api/cluster.go`, `lxd/certificates.go` at lxd-5.0.2 and
//!   lxd-5.21.1);
//! * current (`Token`): `cluster_token` / `trust_token` only (lxd-6.1
//!   ignores `cluster_password`; lxd-6.2 .. main answer `password` 501);
//! * the new fields without the `explicit_trust_token` extension (as
//!   Incus does);
//! * 5.21.2 .. 5.21.x (`Both`): either.
//!
//! A join whose token sits in a field the release does not decode skips
//! `SetupTrust` and fails in `UpdateTrust` (lxd/cluster/connect.go): the
//! joiner, still untrusted, cannot read its own certificate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;
use simulators::{LxdProfile, NodeSpec, Sim, SimBuilder, TokenFields};

const WRONG_FIELD: &str =
    "Failed to update cluster trust: Failed getting existing certificate: not authorized";

async fn sim_with(spec: impl Fn(&str) -> NodeSpec) -> Sim {
    SimBuilder::new()
        .node(spec("node1"))
        .node(spec("node2"))
        .time_scale(0.0)
        .start()
        .await
        .unwrap()
}

/// Joins node2 with the token in `field`; the operation's error, or "".
async fn join_with_field(sim: &Sim, field: &str) -> String {
    lxd_bootstrap(sim, "node1").await;
    let (token, _) = lxd_token(sim, "node1", "node2").await;
    let mut body = lxd_join_body(sim, "node2", &token, json!([])).await;
    let o = body.as_object_mut().unwrap();
    o.remove("cluster_password");
    o.remove("cluster_token");
    o.insert(field.into(), json!(token));
    let c = lxd(sim, "node2");
    let r = c.put("/1.0/cluster", body).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let w = c.settle(r).await;
    // 5.0.2 answers a failed operation's `/wait` with the operation
    // (`err` set); current LXD with an error envelope.
    let op_err = w.meta()["err"].as_str().map(String::from);
    op_err.unwrap_or_else(|| w.error().to_string())
}

async fn advertises(sim: &Sim) -> bool {
    let r = lxd(sim, "node1").get("/1.0").await;
    let ext = r.meta()["api_extensions"].as_array().unwrap().clone();
    ext.iter().any(|e| e == "explicit_trust_token")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lxd_5_0_2_decodes_only_cluster_password() {
    let legacy = |n: &str| NodeSpec::new(n).profile(LxdProfile::Legacy);
    let sim = sim_with(legacy).await;
    assert!(!advertises(&sim).await);
    assert_eq!(join_with_field(&sim, "cluster_token").await, WRONG_FIELD);
    let sim = sim_with(legacy).await;
    assert_eq!(join_with_field(&sim, "cluster_password").await, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn current_lxd_decodes_only_cluster_token() {
    let current = |n: &str| NodeSpec::new(n);
    let sim = sim_with(current).await;
    assert!(advertises(&sim).await);
    assert_eq!(join_with_field(&sim, "cluster_password").await, WRONG_FIELD);
    let sim = sim_with(current).await;
    assert_eq!(join_with_field(&sim, "cluster_token").await, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_fields_without_the_extension_decode_only_cluster_token() {
    let sim = sim_with(NodeSpec::new_token_fields_unadvertised).await;
    assert!(!advertises(&sim).await);
    assert_eq!(join_with_field(&sim, "cluster_password").await, WRONG_FIELD);
    let sim = sim_with(NodeSpec::new_token_fields_unadvertised).await;
    assert_eq!(join_with_field(&sim, "cluster_token").await, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lxd_5_21_2_decodes_both_fields() {
    let both = |n: &str| NodeSpec::new(n).token_fields(TokenFields::Both);
    for field in ["cluster_password", "cluster_token"] {
        let sim = sim_with(both).await;
        assert_eq!(join_with_field(&sim, field).await, "", "{field}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_token_alone_is_403_on_5_0_2_and_password_501_on_current() {
    for (spec, body, want) in [
        (
            NodeSpec::new("node1").profile(LxdProfile::Legacy),
            json!({"type": "client", "trust_token": "x"}),
            (403, "not authorized"),
        ),
        (
            NodeSpec::new("node1"),
            json!({"type": "client", "password": "x"}),
            (
                501,
                "Password authentication is no longer supported, please update your client",
            ),
        ),
        (
            NodeSpec::new_token_fields_unadvertised("node1"),
            json!({"type": "client", "password": "x"}),
            (
                501,
                "Password authentication is no longer supported, please update your client",
            ),
        ),
    ] {
        let sim = SimBuilder::new()
            .node(spec)
            .time_scale(0.0)
            .start()
            .await
            .unwrap();
        lxd_bootstrap(&sim, "node1").await;
        let node = sim.node("node1").unwrap();
        let fp = node.lxd_cluster_fingerprint().unwrap();
        let id = client_identity("outsider");
        let c = Client::https(node.lxd_https().unwrap(), Some(&id), &fp);
        let r = c.post("/1.0/certificates", body).await;
        assert_eq!((r.status, r.error()), want);
    }
}
