//! Every service response decoder, through the real clients: a call chosen
//! by the first byte is sent over a unix socket to a scripted server that
//! answers its successive requests (the call, then `/wait` polls) with
//! the input's responses, and closes the connection once they run out.
//! Envelopes, operations, error texts and every typed payload (server,
//! cluster, tokens, resources, pools, networks, profiles, MicroCeph disks,
//! pools, configs, services) pass through the same code as in a run.
//! Nothing may panic, every error must render.
#![no_main]

use std::collections::{BTreeMap, VecDeque};
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use clients::lxd::{
    ClusterJoin, LxdApi, LxdClient, NetworksPost, ProfilePut, ServerPut, StoragePoolsPost,
    StorageVolumesPost, TokenField,
};
use clients::microceph::{DisksPost, MicroCephApi, MicroCephClient, PoolPut};
use clients::microcluster::MicroclusterApi;
use clients::microovn::{MicroOvnApi, MicroOvnClient};
use clients::{RestClient, Service, Timeouts, Transport};
use libfuzzer_sys::fuzz_target;
use microcloud_fuzz::Scripted;

static SCRIPT: Mutex<VecDeque<Scripted>> = Mutex::new(VecDeque::new());

struct World {
    runtime: tokio::runtime::Runtime,
    socket: PathBuf,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("microcloud-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temporary directory");
        let socket = dir.join("service.socket");
        let listener = UnixListener::bind(&socket).expect("bind the scripted server");
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                serve(stream);
            }
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        World { runtime, socket }
    })
}

/// Reads one request (head and `Content-Length` body), answers it with the
/// next scripted response, or closes the connection when there is none.
fn serve(mut stream: UnixStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let next = SCRIPT.lock().map(|mut s| s.pop_front()).unwrap_or(None);
    let Some(response) = next else {
        return;
    };
    let mut out = format!(
        "HTTP/1.1 {} Scripted\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        response.status,
        response.body.len()
    )
    .into_bytes();
    out.extend_from_slice(&response.body);
    let _ = stream.write_all(&out);
}

fn rest(service: Service) -> RestClient {
    let timeouts = Timeouts {
        request: Duration::from_secs(5),
        long_request: Duration::from_secs(5),
        operation: Duration::from_secs(5),
        wait_chunk: Duration::from_secs(1),
        poll_backoff: Duration::ZERO,
    };
    RestClient::new(Transport::unix(&world().socket), service, "fuzz").with_timeouts(timeouts)
}

/// Calls number `call` (modulo the number of calls) and renders the outcome.
async fn call(call: u8) -> String {
    let lxd = LxdClient::from_rest(rest(Service::Lxd));
    let ceph = MicroCephClient::from_rest(rest(Service::MicroCeph));
    let ovn = MicroOvnClient::from_rest(rest(Service::MicroOvn));
    let address = "127.0.0.1:7443".parse().expect("address");
    let config = BTreeMap::from([("k".to_owned(), "v".to_owned())]);
    let join = ClusterJoin {
        server_name: "n2".into(),
        cluster_address: "127.0.0.1:8443".into(),
        cluster_certificate: String::new(),
        server_address: "127.0.0.2:8443".into(),
        token: "t".into(),
        member_config: Vec::new(),
    };
    macro_rules! show {
        ($e:expr) => {
            match $e.await {
                Ok(v) => format!("{v:?}"),
                Err(e) => {
                    let _ = e.is_transient();
                    e.to_string()
                }
            }
        };
    }
    match call % 41 {
        0 => show!(lxd.server(None)),
        1 => show!(lxd.api_extensions()),
        2 => show!(lxd.cluster()),
        3 => show!(lxd.enable_clustering("n1")),
        4 => show!(lxd.join_cluster(&join, TokenField::Explicit)),
        5 => match lxd.issue_join_token("n2").await {
            Ok(t) => t.encoded(),
            Err(e) => e.to_string(),
        },
        6 => show!(lxd.cluster_members()),
        7 => show!(lxd.issue_certificate_token("n2")),
        8 => show!(lxd.resources(None)),
        9 => show!(lxd.storage_pools(None)),
        10 => show!(lxd.storage_pool("local", Some("n1"))),
        11 => show!(lxd.create_storage_pool(&StoragePoolsPost::default(), Some("n1"))),
        12 => show!(lxd.custom_volumes("local", None)),
        13 => show!(lxd.create_custom_volume("local", &StorageVolumesPost::default(), None)),
        14 => show!(lxd.networks(None)),
        15 => show!(lxd.network("UPLINK", None)),
        16 => show!(lxd.network_state("eth0", None)),
        17 => show!(lxd.create_network(&NetworksPost::default(), None)),
        18 => show!(lxd.profiles()),
        19 => show!(lxd.profile("default")),
        20 => show!(lxd.put_profile("default", &ProfilePut::default(), Some("etag"))),
        21 => show!(lxd.operations()),
        22 => show!(lxd.cancel_operation("0c9b")),
        23 => show!(lxd.patch_server(&ServerPut::default(), Some("n1"), None)),
        24 => show!(ceph.server_info()),
        25 => show!(ceph.bootstrap("n1", address, &config)),
        26 => show!(ceph.join("n2", address, "token", &config)),
        27 => show!(ceph.issue_token("n2", Duration::from_secs(60))),
        28 => show!(ceph.tokens()),
        29 => show!(ceph.cluster_members()),
        30 => show!(ceph.add_disks(&DisksPost::new(vec!["/dev/sdb".into()], true, false), None)),
        31 => show!(ceph.disks()),
        32 => show!(ceph.configs(None)),
        33 => show!(ceph.pools(None)),
        34 => show!(ceph.set_pool_replication(&PoolPut { pools: vec![String::new()], size: 3 }, None)),
        35 => show!(MicroCephApi::services(&ceph)),
        36 => show!(MicroOvnApi::services(&ovn)),
        37 => show!(lxd.ready()),
        38 => show!(ovn.ready()),
        39 => show!(lxd.trust_with_token("token", TokenField::Password)),
        _ => show!(ovn.delete_token("n2")),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((selector, responses)) = microcloud_fuzz::split_responses(data) else {
        return;
    };
    // A call never sends more than a handful of requests; longer scripts
    // only slow the fuzzer down.
    if responses.len() > 8 {
        return;
    }
    let world = world();
    if let Ok(mut script) = SCRIPT.lock() {
        script.clear();
        script.extend(responses);
    }
    let _ = world.runtime.block_on(call(selector));
});
