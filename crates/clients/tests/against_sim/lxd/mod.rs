//! `LxdClient` over the simulated LXD's unix socket (and TLS where LXD
//! uses it), for LXD 5.0.2 (`Legacy`) and current LXD (`Current`).

use clients::envelope::status_code;
use clients::lxd::{LxdClient, NetworksPost, StoragePoolsPost};
use clients::rest::{CallOptions, Completion, SyncReply};
use simulators::LxdProfile;

use crate::support::*;

mod cluster;
mod operations;
mod resources;
mod server;
mod storage;

fn local_disk(i: usize) -> String {
    format!("/dev/disk/by-id/nvme-QEMU_NVMe_Ctrl_local{i}")
}

fn pool(name: &str, driver: &str, config: &[(&str, &str)]) -> StoragePoolsPost {
    StoragePoolsPost {
        name: name.to_owned(),
        driver: driver.to_owned(),
        config: map(config),
        description: String::new(),
    }
}

fn network(name: &str, kind: &str, config: &[(&str, &str)]) -> NetworksPost {
    NetworksPost {
        name: name.to_owned(),
        kind: kind.to_owned(),
        config: map(config),
        description: String::new(),
    }
}

/// A creation through the request layer, to see how the service answered
/// (the typed methods only report success).
async fn observed_post<B: serde::Serialize + Sync>(
    c: &LxdClient,
    path: &str,
    body: &B,
) -> Completion {
    c.rest()
        .run(http::Method::POST, path, Some(body), CallOptions::default())
        .await
        .unwrap()
}

/// Legacy: 201 sync with `Location`; current: a 202 operation the client
/// waited for, which ended `Success`.
fn assert_created(profile: LxdProfile, completion: &Completion, location: &str) {
    match (profile, completion) {
        (
            LxdProfile::Legacy,
            Completion::Sync(SyncReply {
                status: 201,
                location: Some(l),
                ..
            }),
        ) => assert_eq!(l, location),
        (LxdProfile::Current, Completion::Operation(op)) => {
            assert_eq!(
                (op.status.as_str(), op.status_code, op.class.as_str()),
                ("Success", status_code::SUCCESS, "task"),
                "{op:?}"
            );
        }
        other => panic!("unexpected completion for {location}: {other:?}"),
    }
}
