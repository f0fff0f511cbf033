//! LXD wire format and rules (service-apis.md §10), token misuse, and the
//! errors real LXD gives for unknown or malformed requests. Messages
//! marked "observed" were captured from a real LXD 5.0.2 on this machine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use simulators::LxdProfile;

// ----- envelope, sync/async ------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelope_sync_error_and_async_shapes() {
    let sim = sim(1, LxdProfile::Current).await;
    let c = lxd(&sim, "node1");
    let r = c.get("/").await;
    assert_eq!(
        r.text.trim(),
        r#"{"type":"sync","status":"Success","status_code":200,"operation":"","error_code":0,"error":"","metadata":["/1.0"]}"#
    );
    let r = c.get("/1.0/nonexistent").await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.text.trim(),
        r#"{"type":"error","status":"","status_code":0,"operation":"","error_code":404,"error":"Not Found","metadata":null}"#
    );
    // An async response: 202, Location, status_code 100, operation Running (103).
    lxd_bootstrap(&sim, "node1").await;
    let r = c
        .post("/1.0/cluster/members", json!({"server_name": "node9"}))
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(r.kind(), "async");
    assert_eq!(r.json["status"], "Operation created");
    assert_eq!(r.json["status_code"], 100);
    let url = r.header("location").unwrap().to_string();
    assert_eq!(r.json["operation"], url.as_str());
    assert_eq!(r.meta()["status"], "Running");
    assert_eq!(r.meta()["status_code"], 103);
    assert_eq!(
        url,
        format!("/1.0/operations/{}", r.meta()["id"].as_str().unwrap())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_error_texts_are_lowercase_like_5_0_2() {
    let sim = sim(1, LxdProfile::Legacy).await;
    let c = lxd(&sim, "node1");
    // observed 5.0.2
    let r = c.get("/1.0/nonexistent").await;
    assert_eq!(
        r.text.trim(),
        r#"{"type":"error","status":"","status_code":0,"operation":"","error_code":404,"error":"not found","metadata":null}"#
    );
    let r = c.delete("/1.0").await;
    assert_eq!((r.status, r.error()), (501, "not implemented"));
    let r = c.send("POST", "/1.0", None).await.unwrap();
    assert_eq!((r.status, r.error()), (501, "not implemented"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_gets_go_decoder_errors() {
    let sim = sim(1, LxdProfile::Legacy).await;
    let c = lxd(&sim, "node1");
    // observed 5.0.2
    let r = c
        .send_raw("PUT", "/1.0", Some(b"{bad".to_vec()))
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.error()),
        (
            400,
            "invalid character 'b' looking for beginning of object key string"
        )
    );
    let r = c.send_raw("PUT", "/1.0", Some(Vec::new())).await.unwrap();
    assert_eq!((r.status, r.error()), (400, "EOF"));
    let r = c.put("/1.0", json!({"config": {"bogus.key": "1"}})).await;
    assert_eq!(
        (r.status, r.error()),
        (400, "cannot set 'bogus.key' to '1': unknown key")
    );
    // Unknown fields are ignored by LXD (observed 200).
    let r = c.patch("/1.0", json!({"unknown_field": 1})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = c.put("/1.0", json!({"config": 5})).await;
    assert_eq!(
        (r.status, r.error()),
        (
            400,
            "json: cannot unmarshal number into Go value of type api.ServerPut"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_config_etag_and_local_keys() {
    let sim = sim(1, LxdProfile::Current).await;
    let c = lxd(&sim, "node1");
    let r = c.get("/1.0").await;
    let etag = r.header("etag").unwrap().to_string();
    assert_eq!(
        r.meta()["api_extensions"].as_array().unwrap().len(),
        LxdProfile::Current.extensions().len()
    );
    let r = c
        .send_raw(
            "PATCH",
            "/1.0",
            Some(br#"{"config":{"user.x":"1"}}"#.to_vec()),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    // Stale ETag → 412.
    let req = c.clone();
    let resp = {
        let mut h = http::HeaderMap::new();
        h.insert("If-Match", etag.parse().unwrap());
        req.send_with_headers("PUT", "/1.0", json!({"config": {}}), h)
            .await
    };
    assert_eq!(resp.status, 412, "{}", resp.text);
    // PUT replaces the whole config.
    c.put("/1.0", json!({"config": {"user.y": "2"}})).await;
    assert_eq!(c.get("/1.0").await.meta()["config"], json!({"user.y": "2"}));
    // core.https_address starts the HTTPS listener on the node's address.
    let ip = sim.node("node1").unwrap().ip();
    c.patch(
        "/1.0",
        json!({"config": {"core.https_address": "[::]:8443"}}),
    )
    .await;
    assert_eq!(
        sim.node("node1").unwrap().lxd_https().unwrap().to_string(),
        format!("{ip}:8443")
    );
}

// ----- profiles: legacy vs current ----------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_creates_are_201_sync_current_are_202_async() {
    for (profile, pool_status, profile_status) in [
        (LxdProfile::Legacy, 201, 200),
        (LxdProfile::Current, 202, 202),
    ] {
        let sim = sim(1, profile).await;
        let c = lxd(&sim, "node1");
        let r = c
            .post("/1.0/storage-pools", json!({"name": "p1", "driver": "dir"}))
            .await;
        assert_eq!(r.status, pool_status, "{profile:?} {}", r.text);
        if pool_status == 201 {
            assert_eq!(r.header("location"), Some("/1.0/storage-pools/p1"));
            assert_eq!(r.json["metadata"], serde_json::Value::Null);
        }
        c.settle(r).await;
        let r = c
            .post(
                "/1.0/networks",
                json!({"name": "br0", "type": "bridge", "config": {"ipv4.address": "10.1.0.1/24"}}),
            )
            .await;
        assert_eq!(r.status, pool_status, "{profile:?} {}", r.text);
        c.settle(r).await;
        let r = c
            .put(
                "/1.0/profiles/default",
                json!({"devices": {"root": {"path": "/", "pool": "p1", "type": "disk"}}}),
            )
            .await;
        assert_eq!(r.status, profile_status, "{profile:?} {}", r.text);
        // POST /1.0/profiles is 201 in both.
        let r = c.post("/1.0/profiles", json!({"name": "extra"})).await;
        assert_eq!(
            (r.status, r.header("location")),
            (201, Some("/1.0/profiles/extra"))
        );
        // A custom volume: 200 `EmptySyncResponse` up to lxd-6.5, an
        // operation from lxd-6.6 (`doVolumeCreateOrCopy`,
        // lxd/storage_volumes.go).
        let r = c
            .post(
                "/1.0/storage-pools/p1/volumes/custom",
                json!({"name": "v1", "content_type": "filesystem"}),
            )
            .await;
        let volume_status = if profile == LxdProfile::Legacy {
            200
        } else {
            202
        };
        assert_eq!(r.status, volume_status, "{profile:?} {}", r.text);
        c.settle(r).await;
        let r = c.get("/1.0/storage-pools/p1/volumes/custom/v1").await;
        assert_eq!(r.status, 200, "{profile:?} {}", r.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_rejects_source_wipe_and_current_rejects_ceph_source() {
    let legacy = sim(1, LxdProfile::Legacy).await;
    let r = lxd(&legacy, "node1")
        .post(
            "/1.0/storage-pools",
            json!({"name": "p", "driver": "zfs", "config": {"source.wipe": "true"}}),
        )
        .await;
    // observed 5.0.2 wording for an unknown key
    assert_eq!(
        (r.status, r.error()),
        (500, "Invalid option \"source.wipe\"")
    );
    let current = sim(1, LxdProfile::Current).await;
    let c = lxd(&current, "node1");
    lxd_bootstrap(&current, "node1").await;
    let r = c
        .post(
            "/1.0/storage-pools?target=node1",
            json!({"name": "remote", "driver": "ceph", "config": {"source": "lxd_remote"}}),
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "Invalid option \"source\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_refuses_source_wipe_as_a_member_key_in_a_cluster() {
    let legacy = sim(1, LxdProfile::Legacy).await;
    lxd_bootstrap(&legacy, "node1").await;
    let r = lxd(&legacy, "node1")
        .post(
            "/1.0/storage-pools?target=node1",
            json!({"name": "local", "driver": "btrfs",
                   "config": {"source": "/dev/loop0", "source.wipe": "true"}}),
        )
        .await;
    // observed on a clustered 5.0.2 (the real-services tier's lab)
    assert_eq!(
        (r.status, r.error()),
        (
            500,
            "Config key \"source.wipe\" may not be used as member-specific key"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_on_failed_operation_current_is_200_error_envelope() {
    let sim = sim(2, LxdProfile::Current).await;
    lxd_bootstrap(&sim, "node1").await;
    let c = lxd(&sim, "node1");
    c.ok(
        "POST",
        "/1.0/storage-pools?target=node1",
        json!({"name": "p", "driver": "dir"}),
    )
    .await;
    // Global create inside an operation fails: the pool is not pending on node2?
    // node2 is not a member; use a duplicate pending definition instead.
    let r = c
        .post(
            "/1.0/storage-pools?target=node1",
            json!({"name": "p", "driver": "dir"}),
        )
        .await;
    assert_eq!(r.status, 202);
    let url = r.header("location").unwrap().to_string();
    let w = c.get(&format!("{url}/wait?timeout=10")).await;
    assert_eq!(w.status, 200);
    assert_eq!(w.header("connection"), Some("keep-alive"));
    assert_eq!(
        w.text.trim(),
        r#"{"type":"error","status":"","status_code":0,"operation":"","error_code":400,"error":"Storage pool \"p\" already defined on member \"node1\"","metadata":null}"#
    );
    let op = c.get(&url).await;
    assert_eq!(
        (
            op.meta()["status"].as_str(),
            op.meta()["status_code"].as_u64()
        ),
        (Some("Failure"), Some(400))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_on_failed_operation_legacy_is_sync_with_failure_status() {
    // observed 5.0.2: a failed join operation waited on.
    let sim = sim(2, LxdProfile::Legacy).await;
    lxd_bootstrap(&sim, "node1").await;
    let (token, _) = lxd_token(&sim, "node1", "node2").await;
    let mut decoded: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &token).unwrap(),
    )
    .unwrap();
    decoded["secret"] = json!("00".repeat(32));
    let body = lxd_join_body(&sim, "node2", &b64(&decoded), json!([])).await;
    let c = lxd(&sim, "node2");
    let r = c.put("/1.0/cluster", body).await;
    let w = c.settle(r).await;
    assert_eq!(w.status, 200);
    assert_eq!(w.kind(), "sync");
    assert_eq!(w.meta()["status"], "Failure");
    assert_eq!(w.meta()["status_code"], 400);
    assert_eq!(
        w.meta()["err"],
        "Failed to setup cluster trust: Failed to add server cert to cluster: No matching cluster join operation found"
    );
}

// ----- clustering ---------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_needs_a_non_wildcard_cluster_address() {
    let sim = sim(1, LxdProfile::Legacy).await;
    let c = lxd(&sim, "node1");
    // observed 5.0.2
    let r = c.put("/1.0/cluster", json!({"enabled": true})).await;
    assert_eq!(
        (r.status, r.error()),
        (400, "ServerName is required when enabling clustering")
    );
    let msg = "Cannot use wildcard core.https_address \"\" for cluster.https_address. Please specify a new cluster.https_address or core.https_address";
    let r = c
        .put(
            "/1.0/cluster",
            json!({"server_name": "node1", "enabled": true}),
        )
        .await;
    assert_eq!((r.status, r.error()), (500, msg));
    c.patch(
        "/1.0",
        json!({"config": {"core.https_address": "[::]:8443"}}),
    )
    .await;
    let r = c
        .put(
            "/1.0/cluster",
            json!({"server_name": "node1", "enabled": true}),
        )
        .await;
    assert_eq!((r.status, r.error()), (500, msg));
    let r = c.get("/1.0/cluster/members").await;
    assert_eq!((r.status, r.error()), (500, "Server is not clustered"));
    let r = c
        .post("/1.0/cluster/members", json!({"server_name": "n2"}))
        .await;
    assert_eq!((r.status, r.error()), (400, "This server is not clustered"));
    let ip = sim.node("node1").unwrap().ip();
    c.patch(
        "/1.0",
        json!({"config": {"cluster.https_address": format!("{ip}:8443")}}),
    )
    .await;
    let r = c
        .put(
            "/1.0/cluster",
            json!({"server_name": "node1", "enabled": true}),
        )
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(r.meta()["description"], "Creating bootstrap node");
    let w = c.settle(r).await;
    assert_eq!(w.meta()["status"], "Success");
    let m = c.get("/1.0/cluster/members?recursion=1").await;
    assert_eq!(m.meta()[0]["url"], format!("https://{ip}:8443"));
    assert_eq!(m.meta()[0]["roles"], json!(["database-leader", "database"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_tokens_are_token_operations_that_stay_running() {
    let sim = sim(1, LxdProfile::Current).await;
    lxd_bootstrap(&sim, "node1").await;
    let c = lxd(&sim, "node1");
    let (_, meta) = lxd_token(&sim, "node1", "node2").await;
    assert_eq!(meta["serverName"], "node2");
    assert_eq!(meta["secret"].as_str().unwrap().len(), 64);
    assert_eq!(
        meta["fingerprint"],
        sim.node("node1")
            .unwrap()
            .lxd_cluster_fingerprint()
            .unwrap()
            .as_str()
    );
    assert!(meta["expiresAt"].is_string());
    let ops = c.get("/1.0/operations?recursion=1").await;
    let running = ops.meta()["running"].as_array().unwrap();
    assert_eq!(running.len(), 1);
    assert_eq!(running[0]["class"], "token");
    assert_eq!(running[0]["status_code"], 103);
    assert_eq!(running[0]["may_cancel"], true);
    // Re-issuing for the same name cancels the first token.
    lxd_token(&sim, "node1", "node2").await;
    let ops = c.get("/1.0/operations").await;
    assert_eq!(ops.meta()["running"].as_array().unwrap().len(), 1);
    assert_eq!(ops.meta()["cancelled"].as_array().unwrap().len(), 1);
    // Revoking = DELETE the operation.
    let id = ops.meta()["running"][0].as_str().unwrap().to_string();
    assert_eq!(c.delete(&id).await.status, 200);
    assert!(
        c.get("/1.0/operations")
            .await
            .meta()
            .get("running")
            .is_none()
    );
}

async fn join_error(
    profile: LxdProfile,
    mutate: impl Fn(&mut serde_json::Value),
    joiner_name: &str,
) -> String {
    let sim = sim(2, profile).await;
    lxd_bootstrap(&sim, "node1").await;
    let (token, _) = lxd_token(&sim, "node1", "node2").await;
    let mut decoded: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &token).unwrap(),
    )
    .unwrap();
    mutate(&mut decoded);
    let mut body = lxd_join_body(&sim, "node2", &b64(&decoded), json!([])).await;
    body["server_name"] = json!(joiner_name);
    let c = lxd(&sim, "node2");
    let r = c.put("/1.0/cluster", body).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let w = c.settle(r).await;
    let op_err = w.meta()["err"].as_str().map(String::from);
    op_err.unwrap_or_else(|| w.error().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_wrong_secret_is_refused() {
    for p in [LxdProfile::Legacy, LxdProfile::Current] {
        let e = join_error(p, |t| t["secret"] = json!("11".repeat(32)), "node2").await;
        assert_eq!(
            e,
            "Failed to setup cluster trust: Failed to add server cert to cluster: No matching cluster join operation found"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_issued_for_another_name_is_accepted_by_every_release() {
    // observed 5.0.2: a token issued for n2 let a daemon join as n3. No
    // release checks it server-side: `clusterPutJoin` and
    // `clusterMemberJoinTokenValid` (lxd/api_cluster.go,
    // lxd/certificates.go at lxd-6.8) match the token operation by the
    // token's own name and secret; only `lxd init` copies the name.
    for p in [LxdProfile::Legacy, LxdProfile::Current] {
        let e = join_error(p, |_| {}, "node7").await;
        assert_eq!(e, "", "{p:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_reuse_is_refused() {
    let sim = sim(3, LxdProfile::Current).await;
    lxd_bootstrap(&sim, "node1").await;
    let (token, _) = lxd_token(&sim, "node1", "node2").await;
    let body = lxd_join_body(&sim, "node2", &token, json!([])).await;
    let c2 = lxd(&sim, "node2");
    let r = c2.put("/1.0/cluster", body).await;
    assert_eq!(c2.settle(r).await.meta()["status"], "Success");
    // node3 presents the same (now used) token under the same name.
    let mut body = lxd_join_body(&sim, "node3", &token, json!([])).await;
    body["server_name"] = json!("node2");
    let c3 = lxd(&sim, "node3");
    let r = c3.put("/1.0/cluster", body).await;
    let w = c3.settle(r).await;
    assert_eq!(
        w.error(),
        "Failed to setup cluster trust: Failed to add server cert to cluster: No matching cluster join operation found"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_expired_is_refused() {
    // observed 5.0.2 message for an expired join token.
    let sim = sim(2, LxdProfile::Legacy).await;
    lxd_bootstrap(&sim, "node1").await;
    lxd(&sim, "node1")
        .ok(
            "PATCH",
            "/1.0",
            json!({"config": {"cluster.join_token_expiry": "1M"}}),
        )
        .await;
    let (token, _) = lxd_token(&sim, "node1", "node2").await;
    sim.advance_clock(Duration::from_secs(61));
    let body = lxd_join_body(&sim, "node2", &token, json!([])).await;
    let c = lxd(&sim, "node2");
    let r = c.put("/1.0/cluster", body).await;
    let w = c.settle(r).await;
    assert_eq!(
        w.meta()["err"],
        "Failed to setup cluster trust: Failed to add server cert to cluster: Failed during search for join token operation: Token has expired"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn current_refuses_password_field_with_501() {
    let sim = sim(1, LxdProfile::Current).await;
    lxd_bootstrap(&sim, "node1").await;
    let addr = sim.node("node1").unwrap().lxd_https().unwrap();
    let fp = sim
        .node("node1")
        .unwrap()
        .lxd_cluster_fingerprint()
        .unwrap();
    let id = client_identity("outsider");
    let c = Client::https(addr, Some(&id), &fp);
    let r = c
        .post(
            "/1.0/certificates",
            json!({"type": "client", "password": "x"}),
        )
        .await;
    assert_eq!(
        (r.status, r.error()),
        (
            501,
            "Password authentication is no longer supported, please update your client"
        )
    );
    let r = c.get("/1.0/storage-pools").await;
    assert_eq!((r.status, r.error()), (403, "not authorized"));
    let r = c.get("/1.0").await;
    assert_eq!(r.meta()["auth"], "untrusted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_token_flow_trusts_the_client() {
    for profile in [LxdProfile::Legacy, LxdProfile::Current] {
        let sim = sim(1, profile).await;
        let c = lxd(&sim, "node1");
        let ip = sim.node("node1").unwrap().ip();
        c.patch(
            "/1.0",
            json!({"config": {"core.https_address": format!("{ip}:8443")}}),
        )
        .await;
        let r = c
            .post(
                "/1.0/certificates",
                json!({"type": "client", "name": "ci", "token": true}),
            )
            .await;
        assert_eq!(r.status, 202);
        assert_eq!(r.meta()["class"], "token");
        let m = r.meta()["metadata"].clone();
        assert_eq!(m["request"]["name"], "ci");
        assert_eq!(
            m.get("expiresAt").is_some(),
            profile == LxdProfile::Current,
            "5.0.2 has no default expiry"
        );
        let token = b64(
            &json!({"client_name": "ci", "fingerprint": m["fingerprint"], "addresses": m["addresses"], "secret": m["secret"], "expires_at": m.get("expiresAt")}),
        );
        let id = client_identity("ci");
        let https = Client::https(
            sim.node("node1").unwrap().lxd_https().unwrap(),
            Some(&id),
            m["fingerprint"].as_str().unwrap(),
        );
        let field = if profile == LxdProfile::Legacy {
            "password"
        } else {
            "trust_token"
        };
        let r = https
            .post("/1.0/certificates", json!({"type": "client", field: token}))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let r = https.get("/1.0").await;
        assert_eq!(r.meta()["auth"], "trusted");
        // Used up.
        let id2 = client_identity("ci2");
        let https2 = Client::https(
            sim.node("node1").unwrap().lxd_https().unwrap(),
            Some(&id2),
            m["fingerprint"].as_str().unwrap(),
        );
        let r = https2
            .post("/1.0/certificates", json!({"type": "client", field: token}))
            .await;
        assert_eq!(
            (r.status, r.error()),
            (403, "No matching certificate add operation found")
        );
    }
}

// ----- pending/created rules ---------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_pool_rules_legacy_messages() {
    let sim = sim(2, LxdProfile::Legacy).await;
    lxd_bootstrap(&sim, "node1").await;
    assert_eq!(
        lxd_join(&sim, "node1", "node2").await.meta()["status"],
        "Success"
    );
    let c = lxd(&sim, "node1");
    let post = |path: &str, body: serde_json::Value| {
        let c = c.clone();
        let path = path.to_string();
        async move { c.post(&path, body).await }
    };
    // All observed on 5.0.2.
    let r = post(
        "/1.0/storage-pools?target=node2",
        json!({"name": "pp", "driver": "dir", "config": {"rsync.bwlimit": "1"}}),
    )
    .await;
    assert_eq!(
        (r.status, r.error()),
        (
            500,
            "Config key \"rsync.bwlimit\" may not be used as member-specific key"
        )
    );
    let r = post(
        "/1.0/storage-pools?target=nodeX",
        json!({"name": "pp", "driver": "dir"}),
    )
    .await;
    assert_eq!((r.status, r.error()), (404, "Cluster member not found"));
    let r = post("/1.0/storage-pools", json!({"name": "pq", "driver": "dir"})).await;
    assert_eq!(
        (r.status, r.error()),
        (
            500,
            "Pool not pending on any node (use --target <node> first)"
        )
    );
    assert_eq!(
        post(
            "/1.0/storage-pools?target=node1",
            json!({"name": "pp", "driver": "dir"})
        )
        .await
        .status,
        201
    );
    let r = post(
        "/1.0/storage-pools?target=node1",
        json!({"name": "pp", "driver": "dir"}),
    )
    .await;
    assert_eq!(
        (r.status, r.error()),
        (400, "The storage pool already defined on member \"node1\"")
    );
    assert_eq!(
        c.get("/1.0/storage-pools/pp").await.meta()["status"],
        "Pending"
    );
    let r = post("/1.0/storage-pools", json!({"name": "pp", "driver": "dir"})).await;
    assert_eq!(
        (r.status, r.error()),
        (500, "Pool not defined on nodes: node2")
    );
    assert_eq!(
        post(
            "/1.0/storage-pools?target=node2",
            json!({"name": "pp", "driver": "dir"})
        )
        .await
        .status,
        201
    );
    let r = post(
        "/1.0/storage-pools",
        json!({"name": "pp", "driver": "dir", "config": {"source": "x"}}),
    )
    .await;
    assert_eq!(
        (r.status, r.error()),
        (500, "Config key \"source\" is cluster member specific")
    );
    let r = post(
        "/1.0/storage-pools",
        json!({"name": "pp", "driver": "btrfs"}),
    )
    .await;
    assert_eq!(
        (r.status, r.error()),
        (
            500,
            "Requested storage pool driver \"btrfs\" doesn't match driver in existing database record \"dir\""
        )
    );
    assert_eq!(
        post("/1.0/storage-pools", json!({"name": "pp", "driver": "dir"}))
            .await
            .status,
        201
    );
    assert_eq!(
        c.get("/1.0/storage-pools/pp").await.meta()["status"],
        "Created"
    );
    let r = post(
        "/1.0/storage-pools?target=node2",
        json!({"name": "pp", "driver": "dir"}),
    )
    .await;
    assert_eq!(
        (r.status, r.error()),
        (500, "Storage pool is not in pending state")
    );
    let r = post("/1.0/storage-pools", json!({"name": "pp", "driver": "dir"})).await;
    assert_eq!(
        (r.status, r.error()),
        (500, "The storage pool is already created")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_pool_rules_current_fail_inside_the_operation() {
    let sim = sim(2, LxdProfile::Current).await;
    lxd_bootstrap(&sim, "node1").await;
    assert_eq!(
        lxd_join(&sim, "node1", "node2").await.meta()["status"],
        "Success"
    );
    let c = lxd(&sim, "node1");
    c.ok(
        "POST",
        "/1.0/storage-pools?target=node1",
        json!({"name": "pp", "driver": "zfs", "config": {"source.wipe": "true"}}),
    )
    .await;
    let r = c
        .post("/1.0/storage-pools", json!({"name": "pp", "driver": "zfs"}))
        .await;
    assert_eq!(r.status, 202);
    let w = c.settle(r).await;
    assert_eq!(
        (w.status, w.kind(), w.error()),
        (200, "error", "Pool not defined on cluster members: node2")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ovn_networks_reject_target_and_need_an_uplink() {
    let sim = sim(1, LxdProfile::Current).await;
    lxd_bootstrap(&sim, "node1").await;
    let c = lxd(&sim, "node1");
    let r = c
        .post(
            "/1.0/networks?target=node1",
            json!({"name": "default", "type": "ovn", "config": {"network": "UPLINK"}}),
        )
        .await;
    assert_eq!(
        (r.status, r.error()),
        (
            400,
            "Network type \"ovn\" does not support member specific config"
        )
    );
    let r = c
        .post(
            "/1.0/networks",
            json!({"name": "default", "type": "ovn", "config": {"network": "UPLINK"}}),
        )
        .await;
    let w = c.settle(r).await;
    // observed 5.0.2 wording
    assert_eq!(
        w.error(),
        "Option \"network\" value \"UPLINK\" is not one of the allowed uplink networks in project"
    );
    // A physical network's parent must exist on the member (observed wording).
    c.ok(
        "POST",
        "/1.0/networks?target=node1",
        json!({"name": "UPLINK", "type": "physical", "config": {"parent": "eth9"}}),
    )
    .await;
    let r = c
        .post(
            "/1.0/networks",
            json!({"name": "UPLINK", "type": "physical"}),
        )
        .await;
    assert_eq!(
        c.settle(r).await.error(),
        "Parent interface \"eth9\" not found"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_and_network_discovery_follow_the_inventory() {
    for profile in [LxdProfile::Legacy, LxdProfile::Current] {
        let sim = sim(2, profile).await;
        let c = lxd(&sim, "node2");
        let r = c.get("/1.0/resources").await;
        let disks = r.meta()["storage"]["disks"].as_array().unwrap();
        assert_eq!(disks.len(), 5);
        assert_eq!(disks[1]["device_id"], "nvme-QEMU_NVMe_Ctrl_local2");
        assert_eq!(disks[0]["partitions"].as_array().unwrap().len(), 2);
        assert_eq!(disks[4]["type"], "cdrom");
        assert_eq!(
            disks[1].get("mounted").is_some(),
            profile == LxdProfile::Current,
            "5.0.2 has no `mounted`"
        );
        let nets = c.get("/1.0/networks?recursion=1").await;
        let names: Vec<&str> = nets
            .meta()
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["lo", "enp5s0", "enp6s0", "enp7s0"]);
        let st = c.get("/1.0/networks/enp5s0/state").await;
        assert_eq!(
            st.meta()["addresses"][0]["address"],
            sim.node("node2").unwrap().ip().to_string()
        );
        assert_eq!(st.meta()["type"], "broadcast");
        assert_eq!(
            c.get("/1.0/networks/nope").await.error(),
            "Network not found"
        );
    }
}
